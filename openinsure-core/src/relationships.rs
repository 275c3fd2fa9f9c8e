//! Relationship-based authorization: the [`Authorizer`] port and the pure check [`decide`].
//!
//! The seed checks bind permission in SpiceDB. [`Authorizer`] is the port a SpiceDB client would
//! implement; `openinsure_memory::MemoryAuthorizer` keeps relation tuples in process and asks
//! [`decide`]. Tuples are in the Zanzibar style (`program:P#owner@org:O`, `authority_profile:O/A#holder@user:O/U`), with this
//! schema:
//!
//! ```text
//! permission bind on program P for line L by user U of org O with role R =
//!     R is an underwriting role
//!   & (program:P#owner@org:O | program:P#delegate@org:O)
//!   & (program:P#binder@user:U
//!      | exists A of O: authority_profile:O/A#holder@user:O/U & authority_profile:O/A#line@line:L)
//! ```
//!
//! Every [`Decision`] says which rule allowed or denied it and the tuples it relied on. Limits
//! (how much the user may bind) are the authority matrix's business, see [`crate::underwriting::authority`].

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::ids::{AuthorityProfileId, OrgId, ProgramId, UserId};
use crate::submission::LineOfBusiness;
use crate::tenancy::Role;

/// A permission the platform checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Bind policies on a program.
    Bind,
}

/// A permission check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthzRequest {
    /// Who asks.
    pub user: UserId,
    /// Their org.
    pub org: OrgId,
    /// Their role in that org.
    pub role: Role,
    /// What they want to do.
    pub permission: Permission,
    /// On which program.
    pub program: ProgramId,
    /// For which line of business.
    pub line_of_business: LineOfBusiness,
}

/// The answer, with the rule that gave it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Allowed or not.
    pub allowed: bool,
    /// The rule that decided, for people and the audit trail.
    pub rule: String,
    /// The tuples the decision relied on.
    pub tuples: Vec<String>,
}

/// Decides permissions: a SpiceDB client, or `openinsure_memory::MemoryAuthorizer` over [`decide`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Authorizer: crate::ports::MaybeSendSync {
    /// Checks a permission.
    async fn check(&self, request: &AuthzRequest) -> Result<Decision>;

    /// Writes and deletes relationships, as SpiceDB's `WriteRelationships` does (idempotent).
    async fn write_relationships(&self, writes: &[Tuple], deletes: &[Tuple]) -> Result<()>;
}

/// One relation tuple: `object_type:object_id#relation@subject_type:subject_id`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Tuple {
    /// The object's type (`program`, `authority_profile`).
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// The relation (`owner`, `binder`, `holder`, `line`).
    pub relation: String,
    /// The subject's type (`org`, `user`, `line`).
    pub subject_type: String,
    /// The subject's id.
    pub subject_id: String,
}

impl Tuple {
    /// A tuple.
    pub fn new(object: (&str, impl ToString), relation: &str, subject: (&str, impl ToString)) -> Self {
        Tuple {
            object_type: object.0.to_owned(),
            object_id: object.1.to_string(),
            relation: relation.to_owned(),
            subject_type: subject.0.to_owned(),
            subject_id: subject.1.to_string(),
        }
    }

    /// `program:P#owner@org:O`.
    pub fn program_owner(program: ProgramId, org: OrgId) -> Self {
        Tuple::new(("program", program), "owner", ("org", org))
    }

    /// `program:P#delegate@org:O`: another org may bind on the program.
    pub fn program_delegate(program: ProgramId, org: OrgId) -> Self {
        Tuple::new(("program", program), "delegate", ("org", org))
    }

    /// `program:P#binder@user:O/U`: a direct grant to user `U` of org `O`.
    pub fn program_binder(program: ProgramId, org: OrgId, user: UserId) -> Self {
        Tuple::new(("program", program), "binder", ("user", org_user(org, user)))
    }

    /// `authority_profile:O/A#holder@user:O/U`: an authority assignment of user `U` of org `O`
    /// to profile `A` of org `O`. Users and profiles are named with their org: an assignment made
    /// in one org can never change how another org authorizes a user of the same id.
    pub fn profile_holder(profile: AuthorityProfileId, org: OrgId, user: UserId) -> Self {
        Tuple::new(("authority_profile", org_profile(org, profile)), "holder", ("user", org_user(org, user)))
    }

    /// `authority_profile:O/A#line@line:L`: the line of business of profile `A` of org `O`.
    pub fn profile_line(profile: AuthorityProfileId, org: OrgId, line: LineOfBusiness) -> Self {
        Tuple::new(("authority_profile", org_profile(org, profile)), "line", ("line", line.as_str()))
    }

    /// The org the tuple belongs to: the org subject of a program's owner or delegate, the org
    /// that qualifies a user or a profile. Every tuple these constructors make has one, so an
    /// authorizer can keep each org's tuples apart (a database shards them by it).
    pub fn org(&self) -> Option<OrgId> {
        if self.subject_type == "org" {
            return self.subject_id.parse().ok();
        }
        [&self.object_id, &self.subject_id]
            .into_iter()
            .find_map(|id| id.split_once('/').and_then(|(org, _)| org.parse().ok()))
    }
}

/// A profile's object id: the profile qualified by its org (`O/A`).
fn org_profile(org: OrgId, profile: AuthorityProfileId) -> String {
    format!("{org}/{profile}")
}

/// A user's subject id: the user qualified by their org (`O/U`).
fn org_user(org: OrgId, user: UserId) -> String {
    format!("{org}/{user}")
}

impl fmt::Display for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}#{}@{}:{}", self.object_type, self.object_id, self.relation, self.subject_type, self.subject_id)
    }
}

impl fmt::Debug for Tuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The check itself, pure: whether the tuples in `set` let `r` through, with the rule and the
/// tuples that decided. An adapter loads the tuples it keeps (all of them in memory; those of the
/// request's program and user from a database) and calls this, so every backend decides alike.
pub fn decide(set: &BTreeSet<Tuple>, r: &AuthzRequest) -> Decision {
    let deny = |rule: String, tuples: Vec<String>| Decision { allowed: false, rule, tuples };
    if !r.role.is_underwriting() {
        return deny(format!("role `{}` is not an underwriting role", r.role), vec![]);
    }
    let owner = Tuple::program_owner(r.program, r.org);
    let delegate = Tuple::program_delegate(r.program, r.org);
    let org_link = if set.contains(&owner) {
        owner
    } else if set.contains(&delegate) {
        delegate
    } else {
        return deny(format!("program `{}` is neither owned by nor delegated to org `{}`", r.program, r.org), vec![]);
    };
    let direct = Tuple::program_binder(r.program, r.org, r.user);
    if set.contains(&direct) {
        return Decision {
            allowed: true,
            rule: "direct binder grant on the program".into(),
            tuples: vec![org_link.to_string(), direct.to_string()],
        };
    }
    let user = org_user(r.org, r.user);
    let line = r.line_of_business.as_str();
    let via_profile = set
        .iter()
        .filter(|t| {
            t.object_type == "authority_profile"
                && t.relation == "holder"
                && t.subject_type == "user"
                && t.subject_id == user
        })
        .find_map(|holder| {
            let line_tuple = Tuple::new(("authority_profile", &holder.object_id), "line", ("line", line));
            set.contains(&line_tuple).then(|| (holder.clone(), line_tuple))
        });
    match via_profile {
        Some((holder, line_tuple)) => Decision {
            allowed: true,
            rule: format!("holds an authority profile for `{line}` on a program of the org"),
            tuples: vec![org_link.to_string(), holder.to_string(), line_tuple.to_string()],
        },
        None => deny(
            format!("user `{}` holds no authority profile for `{line}` and no binder grant on the program", r.user),
            vec![org_link.to_string()],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ids() -> (OrgId, OrgId, ProgramId, UserId, AuthorityProfileId) {
        (
            OrgId::from_uuid(Uuid::from_u128(1)),
            OrgId::from_uuid(Uuid::from_u128(2)),
            ProgramId::from_uuid(Uuid::from_u128(3)),
            UserId::from_uuid(Uuid::from_u128(4)),
            AuthorityProfileId::from_uuid(Uuid::from_u128(5)),
        )
    }

    fn req(org: OrgId, program: ProgramId, user: UserId, role: Role) -> AuthzRequest {
        AuthzRequest {
            user,
            org,
            role,
            permission: Permission::Bind,
            program,
            line_of_business: LineOfBusiness::GeneralLiability,
        }
    }

    #[test]
    fn decisions_name_their_rule() {
        let (org, other, program, user, profile) = ids();
        let mut a = BTreeSet::new();
        let d = decide(&a, &req(org, program, user, Role::Underwriter));
        assert!(!d.allowed);
        assert!(d.rule.contains("neither owned"), "{}", d.rule);

        a.insert(Tuple::program_owner(program, org));
        let d = decide(&a, &req(org, program, user, Role::Underwriter));
        assert!(!d.allowed && d.rule.contains("no authority profile"), "{}", d.rule);

        a.insert(Tuple::profile_holder(profile, org, user));
        a.insert(Tuple::profile_line(profile, org, LineOfBusiness::Cyber));
        assert!(!decide(&a, &req(org, program, user, Role::Underwriter)).allowed, "a cyber profile does not bind GL");

        a.insert(Tuple::profile_line(profile, org, LineOfBusiness::GeneralLiability));
        let d = decide(&a, &req(org, program, user, Role::Underwriter));
        assert!(d.allowed, "{}", d.rule);
        assert_eq!(d.tuples.len(), 3);

        assert!(!decide(&a, &req(org, program, user, Role::Producer)).allowed, "producers never bind");
        assert!(!decide(&a, &req(other, program, user, Role::Underwriter)).allowed, "another org's program");

        a.insert(Tuple::program_delegate(program, other));
        a.insert(Tuple::program_binder(program, other, user));
        let d = decide(&a, &req(other, program, user, Role::Underwriter));
        assert!(d.allowed && d.rule.contains("direct binder"), "{}", d.rule);

        a.remove(&Tuple::program_delegate(program, other));
        assert!(!decide(&a, &req(other, program, user, Role::Underwriter)).allowed);
        assert_eq!(Tuple::program_owner(program, org).to_string(), format!("program:{program}#owner@org:{org}"));
        for t in [
            Tuple::program_owner(program, org),
            Tuple::program_delegate(program, org),
            Tuple::program_binder(program, org, user),
            Tuple::profile_holder(profile, org, user),
            Tuple::profile_line(profile, org, LineOfBusiness::Cyber),
        ] {
            assert_eq!(t.org(), Some(org), "{t}");
        }
    }

    #[test]
    fn an_assignment_in_one_org_does_not_reach_a_user_of_another() {
        let (org, other, program, user, profile) = ids();
        let mut a = BTreeSet::new();
        a.insert(Tuple::program_owner(program, other));
        // org `org` assigns its profile to a user id that belongs to `other`
        a.insert(Tuple::profile_holder(profile, org, user));
        a.insert(Tuple::profile_line(profile, org, LineOfBusiness::GeneralLiability));
        let d = decide(&a, &req(other, program, user, Role::Underwriter));
        assert!(!d.allowed, "another org's assignment must not authorize: {}", d.rule);
        // nor does holding another org's profile of the same id
        a.insert(Tuple::profile_holder(profile, other, user));
        assert!(!decide(&a, &req(other, program, user, Role::Underwriter)).allowed);
        a.insert(Tuple::profile_line(profile, other, LineOfBusiness::GeneralLiability));
        assert!(decide(&a, &req(other, program, user, Role::Underwriter)).allowed);
    }
}
