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

/// `serve` on a free port with a fresh key, `token` for that key, one request end to end, then a
/// graceful stop on SIGTERM.
#[test]
fn serve_and_token_work_together() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = std::env::temp_dir().join(format!("openinsure-cli-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("key");
    let _ = std::fs::remove_file(&key);
    let mut server = Command::new(env!("CARGO_BIN_EXE_openinsure"))
        .args(["serve", "--addr", "127.0.0.1:0", "--signing-key-file", key.to_str().unwrap()])
        .args(["--data-dir", dir.join("data").to_str().unwrap()])
        .current_dir(root())
        .env("OPENINSURE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let org = "0192f0c0-0000-7000-8000-0000000000a0";
    let token = run(&["token", "--org", org, "--role", "producer", "--signing-key-file", key.to_str().unwrap()]);
    assert!(token.status.success(), "{}", stderr(&token));
    let token = stdout(&token).trim().to_owned();
    assert_eq!(token.split('.').count(), 3);
    let body = std::fs::read_to_string(root().join("examples/submissions/acme.json")).unwrap();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /v1/submissions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains(org), "the token's org scopes the submission");

    // a key that does not exist is named, not generated, by `token`
    let missing = run(&["token", "--org", org, "--role", "producer", "--signing-key-file", "/nonexistent/key"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/nonexistent/key"));
    // a key file that is not hexadecimal is named, with why
    let garbled = dir.join("garbled-key");
    std::fs::write(&garbled, "not hex at all").unwrap();
    let refused = run(&["token", "--org", org, "--role", "producer", "--signing-key-file", garbled.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("garbled-key") && stderr(&refused).contains("not hexadecimal"),
        "{}",
        stderr(&refused)
    );
    let bad_role = run(&["token", "--org", org, "--role", "wizard", "--signing-key-file", key.to_str().unwrap()]);
    assert!(stderr(&bad_role).contains("--role"), "{}", stderr(&bad_role));

    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful stop: {status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "stopped"), "{rest:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad database arguments are named, change nothing, and never print a password.
#[test]
fn database_arguments_are_checked() {
    let dir = std::env::temp_dir().join(format!("openinsure-cli-db-{}", std::process::id()));
    let data = dir.join("data");
    let o = run(&["migrate", "--database", "postgres://app:s3cret@db.example/openinsure"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("expected `sqlite:` or `mysql:`"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("s3cret"), "{}", stderr(&o));
    let o = run(&["audit", "verify", "--org", "not-an-org", "--data-dir", data.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--org"), "{}", stderr(&o));
    assert!(!data.exists(), "verifying creates no database");
    let o = run(&["audit", "verify"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--org"), "a file or an org is required: {}", stderr(&o));
    let o = run(&["migrate", "--data-dir", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("migrated"));
    let o = run(&[
        "audit",
        "verify",
        "--org",
        "0192f0c0-0000-7000-8000-0000000000a0",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("no entries"), "{}", stdout(&o));
    // the dead letters of an org, and a replay of an event it does not have
    let org = "0192f0c0-0000-7000-8000-0000000000a0";
    let o = run(&["events", "dead-letters", "--org", org, "--data-dir", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("no dead letters"), "{}", stdout(&o));
    let event = "0192f0c0-0000-7000-8000-0000000000ee";
    let o = run(&["events", "replay", event, "--org", org, "--data-dir", data.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    let o = run(&["events", "replay", "not-an-id", "--org", org, "--data-dir", data.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not an event id"), "{}", stderr(&o));
    // a bordereau names what is wrong with its arguments, and an agreement the org lacks
    let o = run(&[
        "bordereau",
        "--org",
        org,
        "--agreement",
        event,
        "--month",
        "2027-13",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--month"), "{}", stderr(&o));
    let o = run(&[
        "bordereau",
        "--org",
        org,
        "--agreement",
        event,
        "--month",
        "2027-03",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
