//! Who may do what: one [`Action`] per thing a caller asks for, one table ([`allows`]) saying
//! which roles may, and the cross-org rule beside it ([`may_act_for_another_org`]).
//!
//! Every use case asks this table and nothing else; every API route names its action, so the
//! router and the use cases cannot disagree. The ReBAC [`Authorizer`](crate::relationships::Authorizer)
//! and the underwriting authority matrix answer other questions (may this user bind on this
//! program; how large a risk may this underwriter write) after the table has said yes.
//!
//! | action | roles |
//! |---|---|
//! | `submit_business` | producer, underwriter, admin, org_admin, superadmin, system, service |
//! | `request_quote` | producer, underwriter, admin, org_admin, superadmin, system, service |
//! | `read_business` (submissions, quotes, policies) | producer, underwriter, admin, org_admin, superadmin, platform_operator, auditor, carrier, system, service |
//! | `bind` | underwriter, admin, org_admin, superadmin, system |
//! | `change_policies` (issue, activate, endorse, cancel, reinstate, expire, non-renew, renew) | underwriter, admin, org_admin, superadmin, system |
//! | `manage_underwriting` (DA agreements, authority profiles, assignments, referral rules) | admin, org_admin, superadmin, system |
//! | `read_underwriting` (the same, and referrals) | underwriter, admin, org_admin, superadmin, auditor, compliance_officer, carrier, system |
//! | `decide_referrals` | underwriter, admin, org_admin, superadmin |
//! | `file_claims` | producer, adjuster, claims_supervisor, admin, org_admin, policyholder, system, service |
//! | `read_claims` (PHI by the HIPAA matrix) | producer, underwriter, adjuster, claims_supervisor, compliance_officer, admin, org_admin, superadmin, auditor, system |
//! | `handle_claims` (status, reserve, pay, recover; adjusters on their own claims) | adjuster, claims_supervisor, admin, org_admin, system |
//! | `assign_claims` | claims_supervisor, admin, org_admin, system |
//! | `read_ledger` | finance_analyst, admin, org_admin, superadmin, auditor, system |
//! | `move_money` (installment payments, loss funding) | finance_analyst, admin, org_admin, superadmin, system, service |
//! | `read_deal_rooms` | underwriter, org_admin, superadmin, admin, producer, auditor, system, service |
//! | `manage_deal_rooms` | underwriter, org_admin, superadmin, admin |
//! | `use_room_service` (a room's service routes) | system, service |
//!
//! **Another org.** `superadmin` and `platform_operator` may act for any org (naming it with
//! `X-Org-Id`); on deal rooms, as the seed has it, `superadmin`, `system` and `service` may. No
//! other role ever reaches another org's records.
//!
//! The whole matrix, every role by every action, is committed in `permission.matrix` beside this
//! file, and a test compares it with [`matrix`]: a change of who may do what is a visible diff.

use std::fmt;

use crate::tenancy::Role;

/// What a caller asks to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Action {
    /// Take in a submission.
    SubmitBusiness,
    /// Rate a submission into a quote.
    RequestQuote,
    /// Read submissions, quotes and policies.
    ReadBusiness,
    /// Bind a quote into a policy.
    Bind,
    /// Issue, activate, endorse, cancel, reinstate, expire, non-renew or renew a policy.
    ChangePolicies,
    /// Create and change DA agreements, authority profiles, assignments and referral rules.
    ManageUnderwriting,
    /// Read DA agreements, authority profiles, assignments, referral rules and referrals.
    ReadUnderwriting,
    /// Approve or decline a referral (within the decider's own authority).
    DecideReferrals,
    /// File a first notice of loss.
    FileClaims,
    /// Read claims (what of their PHI is the HIPAA matrix's decision).
    ReadClaims,
    /// Move a claim, set its reserve, pay or recover on it.
    HandleClaims,
    /// Assign a claim to an adjuster.
    AssignClaims,
    /// Read the ledger.
    ReadLedger,
    /// Record installment payments and fund the loss fund.
    MoveMoney,
    /// Read deal rooms, their messages and annotations.
    ReadDealRooms,
    /// Create and change deal rooms and their participants.
    ManageDealRooms,
    /// Use a live room's service routes (state, messages, annotations) as a service.
    UseRoomService,
    /// Create, change, delete and test the org's webhook endpoints, read their delivery log and
    /// replay deliveries.
    ManageWebhooks,
    /// Read one's own notifications, mark them read, set where they are emailed.
    UseNotifications,
}

impl Action {
    /// Every action, in table order.
    pub const ALL: [Action; 19] = [
        Action::SubmitBusiness,
        Action::RequestQuote,
        Action::ReadBusiness,
        Action::Bind,
        Action::ChangePolicies,
        Action::ManageUnderwriting,
        Action::ReadUnderwriting,
        Action::DecideReferrals,
        Action::FileClaims,
        Action::ReadClaims,
        Action::HandleClaims,
        Action::AssignClaims,
        Action::ReadLedger,
        Action::MoveMoney,
        Action::ReadDealRooms,
        Action::ManageDealRooms,
        Action::UseRoomService,
        Action::ManageWebhooks,
        Action::UseNotifications,
    ];

    /// Its snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::SubmitBusiness => "submit_business",
            Action::RequestQuote => "request_quote",
            Action::ReadBusiness => "read_business",
            Action::Bind => "bind",
            Action::ChangePolicies => "change_policies",
            Action::ManageUnderwriting => "manage_underwriting",
            Action::ReadUnderwriting => "read_underwriting",
            Action::DecideReferrals => "decide_referrals",
            Action::FileClaims => "file_claims",
            Action::ReadClaims => "read_claims",
            Action::HandleClaims => "handle_claims",
            Action::AssignClaims => "assign_claims",
            Action::ReadLedger => "read_ledger",
            Action::MoveMoney => "move_money",
            Action::ReadDealRooms => "read_deal_rooms",
            Action::ManageDealRooms => "manage_deal_rooms",
            Action::UseRoomService => "use_room_service",
            Action::ManageWebhooks => "manage_webhooks",
            Action::UseNotifications => "use_notifications",
        }
    }

    /// What it is, for a refusal (`role `producer` may not bind policies`).
    pub fn describe(self) -> &'static str {
        match self {
            Action::SubmitBusiness => "submit business",
            Action::RequestQuote => "request quotes",
            Action::ReadBusiness => "read submissions, quotes and policies",
            Action::Bind => "bind policies",
            Action::ChangePolicies => "change policies",
            Action::ManageUnderwriting => "manage DA agreements and the authority matrix",
            Action::ReadUnderwriting => "read DA agreements, the authority matrix and referrals",
            Action::DecideReferrals => "decide referrals",
            Action::FileClaims => "file claims",
            Action::ReadClaims => "read claims",
            Action::HandleClaims => "handle claims",
            Action::AssignClaims => "assign claims",
            Action::ReadLedger => "read the ledger",
            Action::MoveMoney => "record payments or fund the loss fund",
            Action::ReadDealRooms => "read deal rooms",
            Action::ManageDealRooms => "manage deal rooms",
            Action::UseRoomService => "use a room's service routes",
            Action::ManageWebhooks => "manage webhook endpoints",
            Action::UseNotifications => "use notifications",
        }
    }

    /// Whether it is a deal-room action (the seed's own cross-org roles apply).
    pub fn is_deal_room(self) -> bool {
        matches!(self, Action::ReadDealRooms | Action::ManageDealRooms | Action::UseRoomService)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `role` may do `action` (in its own org; see [`may_act_for_another_org`]).
pub fn allows(role: Role, action: Action) -> bool {
    use Role as R;
    match action {
        Action::SubmitBusiness | Action::RequestQuote => matches!(
            role,
            R::Producer | R::Underwriter | R::Admin | R::OrgAdmin | R::Superadmin | R::System | R::Service
        ),
        Action::ReadBusiness => matches!(
            role,
            R::Producer
                | R::Underwriter
                | R::Admin
                | R::OrgAdmin
                | R::Superadmin
                | R::PlatformOperator
                | R::Auditor
                | R::Carrier
                | R::System
                | R::Service
        ),
        Action::Bind | Action::ChangePolicies => {
            matches!(role, R::Underwriter | R::Admin | R::OrgAdmin | R::Superadmin | R::System)
        }
        Action::ManageUnderwriting => matches!(role, R::Admin | R::OrgAdmin | R::Superadmin | R::System),
        Action::ReadUnderwriting => matches!(
            role,
            R::Underwriter
                | R::Admin
                | R::OrgAdmin
                | R::Superadmin
                | R::Auditor
                | R::ComplianceOfficer
                | R::Carrier
                | R::System
        ),
        Action::DecideReferrals => matches!(role, R::Underwriter | R::Admin | R::OrgAdmin | R::Superadmin),
        Action::FileClaims => matches!(
            role,
            R::Producer
                | R::Adjuster
                | R::ClaimsSupervisor
                | R::Admin
                | R::OrgAdmin
                | R::Policyholder
                | R::System
                | R::Service
        ),
        Action::ReadClaims => matches!(
            role,
            R::Producer
                | R::Underwriter
                | R::Adjuster
                | R::ClaimsSupervisor
                | R::ComplianceOfficer
                | R::Admin
                | R::OrgAdmin
                | R::Superadmin
                | R::Auditor
                | R::System
        ),
        Action::HandleClaims => {
            matches!(role, R::Adjuster | R::ClaimsSupervisor | R::Admin | R::OrgAdmin | R::System)
        }
        Action::AssignClaims => matches!(role, R::ClaimsSupervisor | R::Admin | R::OrgAdmin | R::System),
        Action::ReadLedger => {
            matches!(role, R::FinanceAnalyst | R::Admin | R::OrgAdmin | R::Superadmin | R::Auditor | R::System)
        }
        Action::MoveMoney => {
            matches!(role, R::FinanceAnalyst | R::Admin | R::OrgAdmin | R::Superadmin | R::System | R::Service)
        }
        Action::ReadDealRooms => matches!(
            role,
            R::Underwriter | R::OrgAdmin | R::Superadmin | R::Admin | R::Producer | R::Auditor | R::System | R::Service
        ),
        Action::ManageDealRooms => matches!(role, R::Underwriter | R::OrgAdmin | R::Superadmin | R::Admin),
        Action::UseRoomService => matches!(role, R::System | R::Service),
        Action::ManageWebhooks => matches!(role, R::Admin | R::OrgAdmin | R::Superadmin),
        // a person's own queue: every role but the machines'
        Action::UseNotifications => !matches!(role, R::System | R::Service),
    }
}

/// Whether `role` may do `action` for an org other than its own: the cross-org roles on
/// everything, and on deal rooms the seed's `superadmin`, `system` and `service`.
pub fn may_act_for_another_org(role: Role, action: Action) -> bool {
    role.is_cross_org() || (action.is_deal_room() && matches!(role, Role::Superadmin | Role::System | Role::Service))
}

/// The whole table as text: one line per action, `x` where a role may, `o` where it may also
/// for another org, `.` where it may not; the roles in [`Role::ALL`] order as columns.
pub fn matrix() -> String {
    let mut out = String::from("# who may do what: x may, o may also for another org, . may not\n");
    out.push_str("# columns:");
    for role in Role::ALL {
        out.push(' ');
        out.push_str(role.as_str());
    }
    out.push('\n');
    let width = Action::ALL.iter().map(|a| a.as_str().len()).max().unwrap_or(0);
    for action in Action::ALL {
        out.push_str(&format!("{:<width$} ", action.as_str()));
        for role in Role::ALL {
            let cell = match (allows(role, action), may_act_for_another_org(role, action)) {
                (true, true) => 'o',
                (true, false) => 'x',
                (false, _) => '.',
            };
            out.push(cell);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed matrix is the table: a change of who may do what shows as a diff of
    /// `permission.matrix` (write it anew with `OPENINSURE_WRITE_MATRIX=1 cargo test`).
    #[test]
    fn the_committed_matrix_is_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/permission.matrix");
        if std::env::var_os("OPENINSURE_WRITE_MATRIX").is_some() {
            std::fs::write(path, matrix()).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap();
        assert_eq!(committed, matrix(), "src/permission.matrix differs from the table in permission.rs");
    }

    #[test]
    fn nobody_may_everything_and_only_named_roles_cross_orgs() {
        for role in Role::ALL {
            let n = Action::ALL.iter().filter(|a| allows(role, **a)).count();
            assert!(n < Action::ALL.len(), "{role} may do everything");
        }
        for role in [Role::Producer, Role::Underwriter, Role::Admin, Role::OrgAdmin, Role::FinanceAnalyst] {
            assert!(Action::ALL.iter().all(|a| !may_act_for_another_org(role, *a)), "{role}");
        }
        assert!(!allows(Role::Producer, Action::Bind), "producers never bind");
        assert!(!allows(Role::Adjuster, Action::MoveMoney));
    }
}
