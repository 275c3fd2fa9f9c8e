//! Tenancy: who is calling, for which organization, with which role.
//!
//! Every use case and every store call is scoped to the caller's org. [`Caller`] is built from a
//! verified token (see the `openinsure-auth` crate) and carries the org, the user, the [`Role`] and whether the
//! session used multi-factor authentication.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{OrgId, UserId};

/// A platform role, as the seed documents name them. Serialized in `snake_case`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Role {
    /// A producer (agent or broker) submitting business.
    Producer,
    /// An underwriter rating and binding risks within their authority.
    Underwriter,
    /// A claims adjuster, sees PHI for the claims assigned to them.
    Adjuster,
    /// Supervises adjusters, sees PHI for every claim of the org.
    ClaimsSupervisor,
    /// Reads the PHI audit log, never PHI values.
    ComplianceOfficer,
    /// An administrator of the org (PHI only with MFA).
    Admin,
    /// The org's owner-administrator.
    OrgAdmin,
    /// Platform-wide administrator, may act across orgs.
    Superadmin,
    /// The platform operator's staff (the seed's `mhcis_operator`), may act across orgs.
    PlatformOperator,
    /// A read-only auditor.
    Auditor,
    /// The finance team (ledger reads, bordereaux).
    FinanceAnalyst,
    /// Carrier staff reviewing business written under their paper.
    Carrier,
    /// A policyholder reading their own policies.
    Policyholder,
    /// Internal automation acting for an org (jobs, agents).
    System,
    /// Another service calling with service credentials.
    Service,
}

impl Role {
    /// Every role, in declaration order.
    pub const ALL: [Role; 15] = [
        Role::Producer,
        Role::Underwriter,
        Role::Adjuster,
        Role::ClaimsSupervisor,
        Role::ComplianceOfficer,
        Role::Admin,
        Role::OrgAdmin,
        Role::Superadmin,
        Role::PlatformOperator,
        Role::Auditor,
        Role::FinanceAnalyst,
        Role::Carrier,
        Role::Policyholder,
        Role::System,
        Role::Service,
    ];

    /// The wire name (`claims_supervisor`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Underwriter => "underwriter",
            Role::Adjuster => "adjuster",
            Role::ClaimsSupervisor => "claims_supervisor",
            Role::ComplianceOfficer => "compliance_officer",
            Role::Admin => "admin",
            Role::OrgAdmin => "org_admin",
            Role::Superadmin => "superadmin",
            Role::PlatformOperator => "platform_operator",
            Role::Auditor => "auditor",
            Role::FinanceAnalyst => "finance_analyst",
            Role::Carrier => "carrier",
            Role::Policyholder => "policyholder",
            Role::System => "system",
            Role::Service => "service",
        }
    }

    /// The roles that may act on another org's data: only these, and only where a use case says so.
    pub fn is_cross_org(self) -> bool {
        matches!(self, Role::Superadmin | Role::PlatformOperator)
    }

    /// Roles with underwriting duties (may apply schedule rating, bind within authority).
    pub fn is_underwriting(self) -> bool {
        matches!(self, Role::Underwriter | Role::Admin | Role::OrgAdmin | Role::Superadmin | Role::System)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .or(match s {
                // The seed's name for the platform operator role.
                "mhcis_operator" => Some(Role::PlatformOperator),
                _ => None,
            })
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// The authenticated caller of a use case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    /// The user acting.
    pub user_id: UserId,
    /// The org the user acts for; every store call is scoped to it.
    pub org_id: OrgId,
    /// The user's role in that org.
    pub role: Role,
    /// Whether this session was established with multi-factor authentication.
    pub mfa: bool,
}

impl Caller {
    /// A caller without MFA.
    pub fn new(user_id: UserId, org_id: OrgId, role: Role) -> Self {
        Caller { user_id, org_id, role, mfa: false }
    }

    /// The same caller, with the MFA flag set as given.
    pub fn with_mfa(mut self, mfa: bool) -> Self {
        self.mfa = mfa;
        self
    }

    /// The org a request for `target` runs against: the caller's own org, or `target` when the
    /// caller holds a cross-org role. `None` when the caller may not reach `target`.
    pub fn org_for(&self, target: OrgId) -> Option<OrgId> {
        (target == self.org_id || self.role.is_cross_org()).then_some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(serde_json::to_value(role).unwrap(), role.as_str());
        }
        assert_eq!("mhcis_operator".parse::<Role>().unwrap(), Role::PlatformOperator);
        assert_eq!("Producer".parse::<Role>(), Err(UnknownRole("Producer".into())));
    }

    #[test]
    fn only_cross_org_roles_reach_other_orgs() {
        let own = OrgId::from_uuid(Uuid::from_u128(1));
        let other = OrgId::from_uuid(Uuid::from_u128(2));
        let user = UserId::from_uuid(Uuid::from_u128(3));
        for role in Role::ALL {
            let caller = Caller::new(user, own, role);
            assert_eq!(caller.org_for(own), Some(own));
            assert_eq!(caller.org_for(other).is_some(), role.is_cross_org(), "{role}");
        }
    }
}
