//! Our signatures checked by the Standard Webhooks reference library (Python, `standardwebhooks`
//! from PyPI), and its signatures checked by ours. Needs the library on `PYTHONPATH` at
//! `OPENINSURE_STANDARDWEBHOOKS` (`scripts/standardwebhooks.sh path`); skipped without it unless
//! `OPENINSURE_REQUIRE_STANDARDWEBHOOKS=1`, which `scripts/test.sh` sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::io::Write;
use std::process::{Command, Stdio};

use openinsure_webhooks::{TOLERANCE_SECS, WebhookSecret, sign, verify};

/// Runs `script` with the reference library, `input` on its standard input; its output.
fn python(script: &str, input: &str) -> Option<String> {
    let Ok(path) = std::env::var("OPENINSURE_STANDARDWEBHOOKS") else {
        assert!(
            std::env::var("OPENINSURE_REQUIRE_STANDARDWEBHOOKS").as_deref() != Ok("1"),
            "set OPENINSURE_STANDARDWEBHOOKS (scripts/standardwebhooks.sh path)"
        );
        return None;
    };
    let mut child = Command::new("python3")
        .args(["-c", script])
        .env("PYTHONPATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).unwrap())
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
for case in json.load(sys.stdin):
    wh = Webhook(case["secret"])
    try:
        wh.verify(case["body"].encode(), case["headers"], json_parse=False)
        print("ok")
    except Exception as e:
        print("refused " + type(e).__name__)
"#;

#[test]
fn the_reference_library_verifies_our_signatures_and_refuses_tampering() {
    let secret = WebhookSecret::from_bytes(b"openinsure webhook key, 32 bytes").unwrap();
    let bodies = [
        r#"{"id":"0192f0c0-0000-7000-8000-000000000001","type":"policy.bound","data":{"premiumCents":1250000}}"#,
        r#"{"note":"non-ASCII: café, 東京, 💸"}"#,
        "",
    ];
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let h = sign(&secret, &format!("msg_{i}"), now(), body.as_bytes());
        let headers: serde_json::Map<String, serde_json::Value> =
            h.pairs().iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String((*v).to_owned()))).collect();
        cases.push(serde_json::json!({ "secret": secret.expose(), "body": body, "headers": headers }));
        expected.push("ok".to_owned());
        // the same headers over another body, and with another secret: refused
        cases.push(serde_json::json!({ "secret": secret.expose(), "body": format!("{body} "), "headers": headers }));
        expected.push("refused WebhookVerificationError".to_owned());
        let other = WebhookSecret::from_bytes(&[9u8; 32]).unwrap();
        cases.push(serde_json::json!({ "secret": other.expose(), "body": body, "headers": headers }));
        expected.push("refused WebhookVerificationError".to_owned());
    }
    let Some(out) = python(VERIFY, &serde_json::to_string(&cases).unwrap()) else { return };
    assert_eq!(out.lines().collect::<Vec<_>>(), expected);
}

const SIGN: &str = r#"
import json, sys, datetime
from standardwebhooks.webhooks import Webhook
case = json.load(sys.stdin)
at = datetime.datetime.fromtimestamp(case["timestamp"], tz=datetime.timezone.utc)
print(Webhook(case["secret"]).sign(case["id"], at, case["body"]))
"#;

#[test]
fn we_verify_the_reference_librarys_signatures() {
    let secret = WebhookSecret::from_bytes(&[42u8; 48]).unwrap();
    let body = r#"{"type":"claim.filed","data":{"claimId":"x"}}"#;
    let at = now();
    let case = serde_json::json!({ "secret": secret.expose(), "id": "msg_ref", "timestamp": at, "body": body });
    let Some(signature) = python(SIGN, &case.to_string()) else { return };
    let signature = signature.trim();
    assert_eq!(signature, sign(&secret, "msg_ref", at, body.as_bytes()).signature, "the same bytes");
    verify(&[secret], "msg_ref", &at.to_string(), signature, body.as_bytes(), at, TOLERANCE_SECS).unwrap();
}
