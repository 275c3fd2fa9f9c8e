//! Data-driven rating tests: one file per case under `tests/fixtures/`, one `check` for all.
//!
//! A fixture holds a rate table, a submission (intake JSON), an optional schedule, and either the
//! expected worksheet (`expect`) or the expected error (`expectError`). Expected values are worked
//! out by hand (and cross-checked with an independent decimal calculation), never copied from
//! the engine's output.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use openinsure_core::ids::{OrgId, SubmissionId, UserId};
use openinsure_core::submission::Submission;
use openinsure_rating::{RateTable, RatingError, Schedule, rate};
use serde_json::{Value, json};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn actual_summary(rating: &openinsure_core::quote::Rating) -> Value {
    json!({
        "steps": rating.worksheet.steps.iter().map(|s| json!([s.step.as_str(), s.matched.to_string(), s.input.cents(), s.output.cents()])).collect::<Vec<_>>(),
        "charges": rating.worksheet.charges.iter().map(|c| json!([serde_json::to_value(c.kind).unwrap(), c.code, c.amount.cents()])).collect::<Vec<_>>(),
        "totals": serde_json::to_value(rating.totals).unwrap(),
    })
}

fn error_field(e: &RatingError) -> Vec<(String, String)> {
    match e {
        RatingError::Invalid { field, reason } => vec![(field.clone(), reason.clone())],
        RatingError::Table(errors) => {
            errors.iter().map(|f| (format!("rateTable.{}", f.path), f.reason.clone())).collect()
        }
        other => vec![("".into(), other.to_string())],
    }
}

/// Runs one fixture; returns a description of the mismatch, if any.
fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let fixture: Value = serde_json::from_str(&text).map_err(|e| format!("fixture is not JSON: {e}"))?;
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let outcome = (|| {
        let table = RateTable::from_json(&fixture["table"].to_string())?;
        let sub = Submission::intake_json(
            SubmissionId::from_uuid(uuid::Uuid::from_u128(1)),
            OrgId::from_uuid(uuid::Uuid::from_u128(2)),
            UserId::from_uuid(uuid::Uuid::from_u128(3)),
            now,
            &fixture["submission"],
        )
        .map_err(|e| RatingError::Invalid { field: "submission".into(), reason: e.to_string() })?;
        let schedule: Schedule = match fixture.get("schedule") {
            Some(s) => serde_json::from_value(s.clone())
                .map_err(|e| RatingError::Invalid { field: "schedule".into(), reason: e.to_string() })?,
            None => Schedule::none(),
        };
        rate(&sub, &table, &schedule)
    })();

    match (outcome, fixture.get("expect"), fixture.get("expectError")) {
        (Ok(rating), Some(expect), None) => {
            let totals = rating.worksheet.recompute().map_err(|e| format!("worksheet does not recompute: {e}"))?;
            if totals != rating.totals {
                return Err(format!("recomputed totals {totals:?} differ from the rating's {:?}", rating.totals));
            }
            let actual = actual_summary(&rating);
            if &actual != expect {
                return Err(format!(
                    "worksheet differs\nexpected: {}\nactual:   {}",
                    serde_json::to_string_pretty(expect).unwrap(),
                    serde_json::to_string_pretty(&actual).unwrap()
                ));
            }
            Ok(())
        }
        (Err(e), None, Some(expected)) => {
            let field = expected["field"].as_str().unwrap_or_default();
            let contains = expected["reasonContains"].as_str().unwrap_or_default();
            let got = error_field(&e);
            if got.iter().any(|(f, r)| f == field && r.contains(contains)) {
                Ok(())
            } else {
                Err(format!("expected error on `{field}` containing `{contains}`, got {got:?}"))
            }
        }
        (Ok(rating), None, Some(_)) => Err(format!(
            "expected an error, rating succeeded: {}",
            serde_json::to_string_pretty(&actual_summary(&rating)).unwrap()
        )),
        (Err(e), Some(_), None) => Err(format!("expected a worksheet, got error: {e}")),
        _ => Err("a fixture needs exactly one of `expect` and `expectError`".into()),
    }
}

#[test]
fn rating_fixtures() {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 20, "expected at least 20 fixtures, found {}", paths.len());
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|p| check(p).err().map(|e| format!("{}: {e}", p.file_name().unwrap().to_string_lossy())))
        .collect();
    assert!(failures.is_empty(), "{} of {} fixtures failed:\n\n{}", failures.len(), paths.len(), failures.join("\n\n"));
}
