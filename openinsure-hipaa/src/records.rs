//! The platform's PHI-bearing records, tagged field by field. [`Registry::platform`] is built
//! from them.
//!
//! [`Registry::platform`]: crate::Registry::platform

use chrono::{DateTime, NaiveDate, Utc};
use openinsure_core::ids::{OrgId, UserId};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::PhiRecord;

/// The PHI-bearing columns of a health or workers' compensation claim (table `claims`), with the
/// claim's keys and the assigned adjuster the access matrix needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, PhiRecord)]
#[serde(rename_all = "camelCase")]
#[phi(table = "claims")]
pub struct ClaimPhi {
    /// The claim.
    pub claim_id: Uuid,
    /// The org the claim belongs to.
    pub org_id: OrgId,
    /// The adjuster the claim is assigned to, if any.
    pub assigned_adjuster_id: Option<UserId>,
    /// The claimant's full name.
    #[phi]
    pub claimant_name: String,
    /// The claimant's date of birth.
    #[phi]
    pub claimant_dob: Option<NaiveDate>,
    /// The claimant's social security number.
    #[phi]
    pub claimant_ssn: Option<String>,
    /// The claimant's phone number.
    #[phi]
    pub claimant_phone: Option<String>,
    /// The claimant's email address.
    #[phi]
    pub claimant_email: Option<String>,
    /// The claimant's postal address, as one line.
    #[phi]
    pub claimant_address: Option<String>,
    /// The medical record number at the treating provider.
    #[phi]
    pub medical_record_number: Option<String>,
    /// ICD-10 diagnosis codes.
    #[phi]
    pub diagnosis_codes: Vec<String>,
    /// CPT / HCPCS procedure codes.
    #[phi]
    pub procedure_codes: Vec<String>,
    /// Free-text treatment notes.
    #[phi]
    pub treatment_notes: String,
    /// When the diagnosis coding was last reviewed.
    #[phi(cleared = "a review timestamp; it says nothing about the diagnosis")]
    pub diagnosis_reviewed_at: Option<DateTime<Utc>>,
}

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
