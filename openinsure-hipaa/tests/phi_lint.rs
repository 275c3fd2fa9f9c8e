//! Every PHI-bearing record passes the PHI lint: a field whose name looks like PHI is tagged
//! `#[phi]` or explicitly cleared. This test fails the day someone adds `claimant_phone2: String`
//! to a record without tagging it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs, dead_code)]

use openinsure_core::claims::Claim;
use openinsure_hipaa::lint::{LintFinding, LintProblem};
use openinsure_hipaa::platform_records::MemberPhi;
use openinsure_hipaa::{PhiRecord, phi_lint};
use serde::Serialize;

#[test]
fn the_platform_records_pass() {
    // Add every new PhiRecord of this crate here.
    phi_lint::<Claim>().unwrap();
    phi_lint::<MemberPhi>().unwrap();
}

#[derive(PhiRecord)]
#[phi(table = "claims")]
struct Forgetful {
    claim_number: String,
    #[phi]
    claimant_name: String,
    claimant_phone: String,
    date_of_birth: Option<String>,
    #[phi(cleared = "a review timestamp")]
    diagnosis_reviewed_at: Option<u64>,
    diagnosis_reviewed_by: Option<u64>,
}

#[test]
fn an_untagged_phi_looking_field_fails() {
    let report = phi_lint::<Forgetful>().unwrap_err();
    let fields: Vec<_> = report.findings.iter().map(|f| f.field).collect();
    assert_eq!(fields, ["claimant_phone", "date_of_birth", "diagnosis_reviewed_by"]);
    assert!(report.findings.iter().all(|f| f.table == "claims" && f.record.ends_with("Forgetful")));
    let message = report.to_string();
    assert!(message.starts_with("3 field(s) fail the phi lint: "), "{message}");
    assert!(message.contains("`claims.claimant_phone` is a registered phi column"), "{message}");
    assert!(message.contains("`date_of_birth` looks like phi"), "{message}");
}

#[derive(Serialize, PhiRecord)]
#[phi(table = "claims")]
struct Renamed {
    #[serde(rename = "dob")]
    born_on: String,
}

#[test]
fn a_json_name_that_looks_like_phi_fails() {
    let report = phi_lint::<Renamed>().unwrap_err();
    assert_eq!(report.findings[0].problem, LintProblem::LooksLikePhi { name: "dob" });
}

#[derive(PhiRecord)]
#[phi(table = "claims")]
struct ClearedButRegistered {
    #[phi(cleared = "we think it is fine")]
    claimant_dob: String,
    treatment_notes: String,
}

#[derive(PhiRecord)]
#[phi(table = "claims")]
struct Twice {
    #[phi]
    claimant_name: String,
    #[phi(column = "claimant_name")]
    name_again: String,
}

#[test]
fn registered_columns_cannot_be_cleared_or_untagged_and_columns_are_unique() {
    let report = phi_lint::<ClearedButRegistered>().unwrap_err();
    let problems: Vec<&LintProblem> = report.findings.iter().map(|f: &LintFinding| &f.problem).collect();
    assert_eq!(
        problems,
        [
            &LintProblem::RegisteredButUntagged { qualified: "claims.claimant_dob".into() },
            &LintProblem::RegisteredButUntagged { qualified: "claims.treatment_notes".into() },
        ]
    );
    let report = phi_lint::<Twice>().unwrap_err();
    assert_eq!(report.findings[0].problem, LintProblem::DuplicateColumn { column: "claimant_name" });
}
