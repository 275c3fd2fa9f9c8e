//! The platform's PHI-bearing records of this crate, tagged field by field. The claim is
//! [`openinsure_core::claims::Claim`], which declares its own PHI; [`Registry::platform`] is built
//! from it and these.
//!
//! [`Registry::platform`]: crate::Registry::platform

use openinsure_core::ids::OrgId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::PhiRecord;

/// The PHI-bearing columns of a health plan member (table `members`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, PhiRecord)]
#[serde(rename_all = "camelCase")]
#[phi(table = "members")]
pub struct MemberPhi {
    /// The member.
    pub member_id: Uuid,
    /// The org the member belongs to.
    pub org_id: OrgId,
    /// The member's social security number.
    #[phi]
    pub ssn: Option<String>,
    /// Known health conditions.
    #[phi]
    pub health_conditions: Vec<String>,
    /// The plan the member is enrolled in.
    pub plan_code: String,
}
