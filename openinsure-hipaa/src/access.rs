//! Layer 3, the PHI access matrix, as one pure function: [`decide`].
//!
//! | role | PHI |
//! |---|---|
//! | `producer` | masked |
//! | `adjuster` | full on claims assigned to them, masked otherwise |
//! | `underwriter` | masked; aggregate statistics allowed |
//! | `claims_supervisor` | full on every claim of the org |
//! | `compliance_officer` | masked; may read the PHI audit log |
//! | `admin` | full with MFA (and the audit log), masked without |
//! | any other role | masked |
//!
//! A record of another org is [`PhiAccess::Denied`] for every role, cross-org roles included: PHI
//! never crosses a tenant boundary. "Claims" are records of [`CLAIMS_TABLE`]; an adjuster or a
//! claims supervisor sees the PHI of no other table.

use std::fmt;

use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use serde::{Deserialize, Serialize};

/// The claims table: adjusters and claims supervisors see PHI only there.
pub const CLAIMS_TABLE: &str = "claims";

/// What [`decide`] needs to know about the record read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessContext {
    /// The org that owns the record.
    pub org_id: OrgId,
    /// The record's table.
    pub table: String,
    /// For a claim, the adjuster it is assigned to.
    pub assigned_adjuster: Option<UserId>,
}

impl AccessContext {
    /// A claim of `org_id`, assigned to `assigned_adjuster`.
    pub fn claim(org_id: OrgId, assigned_adjuster: Option<UserId>) -> Self {
        AccessContext { org_id, table: CLAIMS_TABLE.to_owned(), assigned_adjuster }
    }

    /// A record of another table.
    pub fn record(org_id: OrgId, table: impl Into<String>) -> Self {
        AccessContext { org_id, table: table.into(), assigned_adjuster: None }
    }

    /// True for a claim.
    pub fn is_claim(&self) -> bool {
        self.table == CLAIMS_TABLE
    }
}

/// How much PHI the caller may see of one record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhiAccess {
    /// Every PHI value.
    Full,
    /// The record, with every PHI field masked.
    Masked,
    /// Not the record at all (another org's); if it is rendered anyway, PHI is masked.
    Denied,
}

/// Why [`decide`] decided as it did: a stable, machine-readable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonCode {
    /// The adjuster the claim is assigned to.
    AssignedAdjuster,
    /// A claims supervisor of the claim's org.
    ClaimsSupervisor,
    /// An admin whose session used MFA.
    AdminWithMfa,
    /// Producers never see PHI.
    ProducerNoPhi,
    /// The adjuster is not the one the claim is assigned to.
    AdjusterNotAssigned,
    /// Adjusters and claims supervisors see PHI on claims only.
    NotAClaim,
    /// Underwriters see aggregate statistics, never individual PHI.
    UnderwriterAggregatesOnly,
    /// Compliance officers read the audit log, never PHI values.
    ComplianceNoPhiValues,
    /// An admin without MFA.
    AdminMfaRequired,
    /// A role the matrix gives no PHI.
    RoleWithoutPhiAccess,
    /// The record belongs to another org.
    CrossOrg,
}

impl ReasonCode {
    /// The wire name (`assigned_adjuster`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::AssignedAdjuster => "assigned_adjuster",
            ReasonCode::ClaimsSupervisor => "claims_supervisor",
            ReasonCode::AdminWithMfa => "admin_with_mfa",
            ReasonCode::ProducerNoPhi => "producer_no_phi",
            ReasonCode::AdjusterNotAssigned => "adjuster_not_assigned",
            ReasonCode::NotAClaim => "not_a_claim",
            ReasonCode::UnderwriterAggregatesOnly => "underwriter_aggregates_only",
            ReasonCode::ComplianceNoPhiValues => "compliance_no_phi_values",
            ReasonCode::AdminMfaRequired => "admin_mfa_required",
            ReasonCode::RoleWithoutPhiAccess => "role_without_phi_access",
            ReasonCode::CrossOrg => "cross_org",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer of [`decide`]: how much PHI, and why. Only [`decide`] makes one, so a
/// [`redact`](crate::redact()) call cannot be handed a made-up permission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    access: PhiAccess,
    reason: ReasonCode,
    message: String,
    aggregates: bool,
    audit_log: bool,
}

impl Decision {
    fn new(access: PhiAccess, reason: ReasonCode, message: impl Into<String>) -> Self {
        Decision { access, reason, message: message.into(), aggregates: false, audit_log: false }
    }

    fn with_aggregates(mut self) -> Self {
        self.aggregates = true;
        self
    }

    fn with_audit_log(mut self) -> Self {
        self.audit_log = true;
        self
    }

    /// How much PHI.
    pub fn access(&self) -> PhiAccess {
        self.access
    }

    /// True when the caller may see the record's PHI values.
    pub fn phi_visible(&self) -> bool {
        self.access == PhiAccess::Full
    }

    /// True when the caller may not see the record at all.
    pub fn is_denied(&self) -> bool {
        self.access == PhiAccess::Denied
    }

    /// Why.
    pub fn reason(&self) -> ReasonCode {
        self.reason
    }

    /// Why, for people (lowercase).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// True when the caller may see aggregate (de-identified) statistics over such records.
    pub fn aggregates_allowed(&self) -> bool {
        self.aggregates
    }

    /// True when the caller may read the org's PHI audit log.
    pub fn audit_log_allowed(&self) -> bool {
        self.audit_log
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let access = match self.access {
            PhiAccess::Full => "phi visible",
            PhiAccess::Masked => "phi masked",
            PhiAccess::Denied => "denied",
        };
        write!(f, "{access} ({}): {}", self.reason, self.message)
    }
}

/// The PHI access matrix (see the [module docs](self)). Pure: same input, same answer.
pub fn decide(caller: &Caller, record: &AccessContext) -> Decision {
    use PhiAccess::{Denied, Full, Masked};
    if caller.org_id != record.org_id {
        return Decision::new(
            Denied,
            ReasonCode::CrossOrg,
            "the record belongs to another org: phi never crosses orgs",
        );
    }
    match caller.role {
        Role::Producer => {
            Decision::new(Masked, ReasonCode::ProducerNoPhi, "producers never see phi: claimant fields are masked")
        }
        Role::Adjuster if !record.is_claim() => {
            Decision::new(Masked, ReasonCode::NotAClaim, "adjusters see phi on claims only")
        }
        Role::Adjuster if record.assigned_adjuster == Some(caller.user_id) => {
            Decision::new(Full, ReasonCode::AssignedAdjuster, "the claim is assigned to this adjuster")
        }
        Role::Adjuster => {
            Decision::new(Masked, ReasonCode::AdjusterNotAssigned, "adjusters see phi only on claims assigned to them")
        }
        Role::Underwriter => Decision::new(
            Masked,
            ReasonCode::UnderwriterAggregatesOnly,
            "underwriters see aggregate statistics only, never individual phi",
        )
        .with_aggregates(),
        Role::ClaimsSupervisor if record.is_claim() => {
            Decision::new(Full, ReasonCode::ClaimsSupervisor, "claims supervisors see phi on every claim of their org")
                .with_aggregates()
        }
        Role::ClaimsSupervisor => {
            Decision::new(Masked, ReasonCode::NotAClaim, "claims supervisors see phi on claims only")
        }
        Role::ComplianceOfficer => Decision::new(
            Masked,
            ReasonCode::ComplianceNoPhiValues,
            "compliance officers read the phi audit log, never phi values",
        )
        .with_audit_log(),
        Role::Admin if caller.mfa => {
            Decision::new(Full, ReasonCode::AdminWithMfa, "admins see phi with multi-factor authentication")
                .with_aggregates()
                .with_audit_log()
        }
        Role::Admin => Decision::new(
            Masked,
            ReasonCode::AdminMfaRequired,
            "admins see phi only in a session with multi-factor authentication",
        ),
        other => {
            Decision::new(Masked, ReasonCode::RoleWithoutPhiAccess, format!("the `{other}` role has no phi access"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(n))
    }

    fn user(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    /// (role, mfa, assigned to the caller, expected access, reason)
    #[test]
    fn the_matrix_on_claims() {
        use PhiAccess::{Full, Masked};
        let me = user(10);
        let cases = [
            (Role::Producer, true, true, Masked, ReasonCode::ProducerNoPhi),
            (Role::Adjuster, false, true, Full, ReasonCode::AssignedAdjuster),
            (Role::Adjuster, false, false, Masked, ReasonCode::AdjusterNotAssigned),
            (Role::Underwriter, true, true, Masked, ReasonCode::UnderwriterAggregatesOnly),
            (Role::ClaimsSupervisor, false, false, Full, ReasonCode::ClaimsSupervisor),
            (Role::ComplianceOfficer, true, true, Masked, ReasonCode::ComplianceNoPhiValues),
            (Role::Admin, true, false, Full, ReasonCode::AdminWithMfa),
            (Role::Admin, false, true, Masked, ReasonCode::AdminMfaRequired),
            (Role::OrgAdmin, true, true, Masked, ReasonCode::RoleWithoutPhiAccess),
            (Role::Superadmin, true, true, Masked, ReasonCode::RoleWithoutPhiAccess),
            (Role::PlatformOperator, true, true, Masked, ReasonCode::RoleWithoutPhiAccess),
            (Role::Policyholder, true, true, Masked, ReasonCode::RoleWithoutPhiAccess),
        ];
        for (role, mfa, assigned, access, reason) in cases {
            let caller = Caller::new(me, org(1), role).with_mfa(mfa);
            let ctx = AccessContext::claim(org(1), Some(if assigned { me } else { user(11) }));
            let d = decide(&caller, &ctx);
            assert_eq!((d.access(), d.reason()), (access, reason), "{role} mfa={mfa} assigned={assigned}");
            assert_eq!(d.phi_visible(), access == Full);
            assert!(!d.message().is_empty() && d.message() == d.message().to_lowercase(), "{}", d.message());
        }
    }

    #[test]
    fn unassigned_claims_are_masked_for_adjusters() {
        let caller = Caller::new(user(10), org(1), Role::Adjuster);
        assert_eq!(decide(&caller, &AccessContext::claim(org(1), None)).reason(), ReasonCode::AdjusterNotAssigned);
    }

    #[test]
    fn other_tables() {
        let members = AccessContext::record(org(1), "members");
        for role in [Role::Adjuster, Role::ClaimsSupervisor] {
            let d = decide(&Caller::new(user(10), org(1), role), &members);
            assert_eq!((d.access(), d.reason()), (PhiAccess::Masked, ReasonCode::NotAClaim), "{role}");
        }
        let admin = Caller::new(user(10), org(1), Role::Admin).with_mfa(true);
        assert!(decide(&admin, &members).phi_visible());
    }

    #[test]
    fn every_role_is_denied_across_orgs() {
        for role in Role::ALL {
            for mfa in [false, true] {
                let me = user(10);
                let caller = Caller::new(me, org(1), role).with_mfa(mfa);
                let d = decide(&caller, &AccessContext::claim(org(2), Some(me)));
                assert!(d.is_denied() && !d.phi_visible(), "{role}");
                assert_eq!(d.reason(), ReasonCode::CrossOrg);
                assert!(!d.aggregates_allowed() && !d.audit_log_allowed());
            }
        }
    }

    #[test]
    fn side_permissions() {
        let c = |role| Caller::new(user(10), org(1), role);
        let claim = AccessContext::claim(org(1), None);
        assert!(decide(&c(Role::Underwriter), &claim).aggregates_allowed());
        assert!(decide(&c(Role::ComplianceOfficer), &claim).audit_log_allowed());
        assert!(!decide(&c(Role::Admin), &claim).audit_log_allowed());
        assert!(decide(&c(Role::Admin).with_mfa(true), &claim).audit_log_allowed());
        assert!(!decide(&c(Role::Producer), &claim).aggregates_allowed());
        let d = decide(&c(Role::Producer), &claim);
        assert_eq!(d.to_string(), "phi masked (producer_no_phi): producers never see phi: claimant fields are masked");
        assert_eq!(serde_json::to_value(&d).unwrap()["reason"], "producer_no_phi");
    }
}
