//! `openinsure serve --smtp`: a producer sets an address, a policy is bound, and the notification
//! reaches a real SMTP server (aiosmtpd, `scripts/smtp_sink.py`) by email, with no insured or
//! claimant detail; the queue shows it sent. Needs `OPENINSURE_AIOSMTPD` (`scripts/aiosmtpd.sh
//! path`); skipped without it unless `OPENINSURE_REQUIRE_AIOSMTPD=1` (as `scripts/test.sh` sets).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

const ORG: &str = "0192f0c0-0000-7000-8000-0000000000a0";
const UNDERWRITER: &str = "0192f0c0-0000-7000-8000-0000000000a2";
const PRODUCER: &str = "0192f0c0-0000-7000-8000-0000000000b7";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn aiosmtpd() -> Option<String> {
    match std::env::var("OPENINSURE_AIOSMTPD") {
        Ok(p) => Some(p),
        Err(_) if std::env::var("OPENINSURE_REQUIRE_AIOSMTPD").as_deref() == Ok("1") => {
            panic!("set OPENINSURE_AIOSMTPD (scripts/aiosmtpd.sh install; scripts/aiosmtpd.sh path)")
        }
        Err(_) => {
            eprintln!("skipped: no aiosmtpd (OPENINSURE_AIOSMTPD)");
            None
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let _ = self.0.wait();
    }
}

fn token(key: &Path, role: &str, user: &str) -> String {
    let args = ["token", "--org", ORG, "--role", role, "--user", user, "--signing-key-file", key.to_str().unwrap()];
    let out = Command::new(env!("CARGO_BIN_EXE_openinsure")).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_policy_is_emailed_to_its_producer() {
    let Some(pythonpath) = aiosmtpd() else { return };
    let dir = std::env::temp_dir().join(format!("openinsure-smtp-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mailbox = dir.join("mail.jsonl");
    let mut sink = Command::new("python3")
        .arg(root().join("scripts/smtp_sink.py"))
        .args(["0", mailbox.to_str().unwrap()])
        .env("PYTHONPATH", &pythonpath)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut port = String::new();
    BufReader::new(sink.stdout.take().unwrap()).read_line(&mut port).unwrap();
    let _sink = Killed(sink);
    let smtp = format!("smtp://127.0.0.1:{}?tls=none", port.trim());

    let key = dir.join("signing-key");
    let database = format!("sqlite://{}", dir.join("openinsure.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_openinsure"))
        .args(["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--database", &database])
        .args([
            "--signing-key-file",
            key.to_str().unwrap(),
            "--smtp",
            &smtp,
            "--smtp-from",
            "OpenInsure <notices@example.com>",
        ])
        .current_dir(root())
        .env("OPENINSURE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("serve printed its address").unwrap();
        if let Some(rest) = line.strip_prefix("listening on http://") {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let _server = Killed(child);

    let http = reqwest::Client::new();
    let producer = token(&key, "producer", PRODUCER);
    let put = http
        .put(format!("{base}/v1/notification-settings"))
        .bearer_auth(&producer)
        .json(&json!({ "email": "producer@example.com" }))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    let bad = http
        .put(format!("{base}/v1/notification-settings"))
        .bearer_auth(&producer)
        .json(&json!({ "email": "not an address" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let mut acme: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/submissions/acme.json")).unwrap()).unwrap();
    acme["effectiveDate"] = json!(chrono::Utc::now().date_naive().to_string());
    let post = |path: String, token: String, body: Value| {
        let http = http.clone();
        async move {
            let r = http.post(path).bearer_auth(token).json(&body).send().await.unwrap();
            let status = r.status();
            let v: Value = r.json().await.unwrap();
            assert!(status.is_success(), "{status} {v}");
            v["data"].clone()
        }
    };
    let sub = post(format!("{base}/v1/submissions"), producer.clone(), acme).await;
    let sid = sub["id"].as_str().unwrap();
    let underwriter = token(&key, "underwriter", UNDERWRITER);
    post(format!("{base}/v1/submissions/{sid}/quote"), underwriter.clone(), json!({})).await;
    let policy = post(format!("{base}/v1/submissions/{sid}/bind"), underwriter, json!({})).await;
    let number = policy["number"].as_str().unwrap().to_owned();

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mail = loop {
        if let Ok(text) = std::fs::read_to_string(&mailbox)
            && let Some(line) = text.lines().next()
        {
            break serde_json::from_str::<Value>(line).unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "no email arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(mail["rcpt_tos"], json!(["producer@example.com"]));
    let raw = mail["raw"].as_str().unwrap();
    assert!(raw.contains(&format!("Subject: Policy {number} was bound")), "{raw}");
    assert!(!raw.contains("Acme"), "no insured detail: {raw}");

    // the queue says it was sent
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list: Value = http
            .get(format!("{base}/v1/notifications"))
            .bearer_auth(&producer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let n = &list["data"][0];
        assert_eq!(n["kind"], "policy_bound");
        if n["email"]["status"] == "sent" {
            assert_eq!(n["email"]["attempts"], 1);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{n}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
