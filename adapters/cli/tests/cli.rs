//! The `openinsure` binary, run as a user would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_openinsure")).args(args).current_dir(root()).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const GL: &str = "examples/rate-tables/general-liability.json";
const ACME: &str = "examples/submissions/acme.json";

#[test]
fn rate_prints_an_aligned_worksheet() {
    let o = run(&["rate", "--rate-table", GL, "--submission", ACME]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in ["base_rate", "state:OH", "prefix:332710", "loss_ratio:0.1561/band:0", "gross premium", "total due"] {
        assert!(out.contains(needle), "missing {needle} in\n{out}");
    }
}

#[test]
fn rate_json_has_cents_fields_and_schedule() {
    let o = run(&[
        "rate",
        "--rate-table",
        GL,
        "--submission",
        ACME,
        "--schedule",
        "examples/submissions/schedule.json",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let gross = v["grossPremiumCents"].as_i64().unwrap();
    let fees = v["feesCents"].as_i64().unwrap();
    let taxes = v["taxesCents"].as_i64().unwrap();
    assert_eq!(v["totalDueCents"].as_i64().unwrap(), gross + fees + taxes);
    assert_eq!(v["schedule"].as_array().unwrap().len(), 3);
    assert_eq!(v["worksheet"]["steps"][0]["outCents"].as_i64().unwrap(), 877_500);
}

#[test]
fn bad_submission_names_file_field_and_reason() {
    let dir = std::env::temp_dir().join(format!("oi-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root().join(ACME)).unwrap()).unwrap();
    v["naicsCode"] = "33x".into();
    v["yearsInBusiness"] = (-2).into();
    std::fs::write(&bad, v.to_string()).unwrap();
    let o = run(&["rate", "--rate-table", GL, "--submission", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.json: `naicsCode`: `33x`: not a NAICS code"), "{err}");
    assert!(err.contains("bad.json: `yearsInBusiness`: must not be negative"), "{err}");
}

#[test]
fn bad_table_names_the_path() {
    let dir = std::env::temp_dir().join(format!("oi-cli-t-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("table.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(root().join(GL)).unwrap()).unwrap();
    v["revenueBands"][1]["minRevenueCents"] = 0.into();
    v["commissionRate"] = "1.5".into();
    std::fs::write(&bad, v.to_string()).unwrap();
    let o = run(&["rate-table", "validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("`revenueBands[1].minRevenueCents`: bands must be in ascending order"), "{err}");
    assert!(err.contains("`commissionRate`: must be at least 0 and below 1"), "{err}");

    v["exposureBasis"] = "per_acre".into();
    std::fs::write(&bad, v.to_string()).unwrap();
    let o = run(&["rate", "--rate-table", bad.to_str().unwrap(), "--submission", ACME]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("`exposureBasis`: unknown variant `per_acre`"), "{}", stderr(&o));

    let o = run(&["rate", "--rate-table", "no/such/file.json", "--submission", ACME]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no/such/file.json: cannot read"));
}

#[test]
fn validate_and_schema() {
    let o = run(&["rate-table", "validate", "examples/rate-tables/cyber.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("ok (cyber-smb v1"));
    let o = run(&["rate-table", "schema"]);
    assert!(o.status.success());
    let schema: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(schema["title"], "RateTable");
    assert!(schema["properties"]["baseRates"].is_object());
}

#[test]
fn demo_runs() {
    let o = run(&["demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("worksheet recomputes from its own lines: yes"), "{out}");
    assert!(out.contains("`riskState`: `Ohio`"), "{out}");
    assert!(out.contains("balanced"), "{out}");
    assert!(out.contains("payment.received"), "{out}");
}

#[test]
fn ledger_reports_balance() {
    let o = run(&["ledger", "trial-balance", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tb: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(tb["totalDebitsCents"], tb["totalCreditsCents"]);
    assert!(tb["totalDebitsCents"].as_u64().unwrap() > 0);
    let o = run(&["ledger", "journal"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for needle in ["PREMIUM_RECEIVABLE", "MGA_FIDUCIARY", "CARRIER_PAYABLE", "COMMISSION_SPLIT", "TAX_SPLIT"] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
}

#[test]
fn audit_verify_finds_tampering() {
    let o = run(&["audit", "example"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = std::env::temp_dir().join(format!("oi-cli-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("log.json");
    std::fs::write(&good, stdout(&o)).unwrap();
    let o = run(&["audit", "verify", good.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("5 entries"), "{}", stdout(&o));

    let mut entries: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&good).unwrap()).unwrap();
    entries.remove(1);
    let bad = dir.join("removed.json");
    std::fs::write(&bad, serde_json::to_string(&entries).unwrap()).unwrap();
    let o = run(&["audit", "verify", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("removed.json"), "{}", stderr(&o));
    assert!(stderr(&o).contains("sequence"), "{}", stderr(&o));
}
