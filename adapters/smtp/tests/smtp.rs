//! Email sent to a real SMTP server: aiosmtpd (PyPI) run by `scripts/smtp_sink.py`, which records
//! what it accepts and refuses `refuse@…` with 550 and `busy@…` with 451. Needs aiosmtpd on
//! `PYTHONPATH` at `OPENINSURE_AIOSMTPD` (`scripts/aiosmtpd.sh path`); skipped without it unless
//! `OPENINSURE_REQUIRE_AIOSMTPD=1`, which `scripts/test.sh` sets. The messages accepted are read
//! back with Python's own `email` parser. A closed port and a server that never speaks are the
//! test's own sockets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use openinsure_core::notifications::{Email, EmailError, EmailSender};
use openinsure_smtp::{SmtpConfig, SmtpSender};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// The directory holding aiosmtpd, if given.
fn aiosmtpd() -> Option<String> {
    match std::env::var("OPENINSURE_AIOSMTPD") {
        Ok(path) => Some(path),
        Err(_) => {
            assert!(
                std::env::var("OPENINSURE_REQUIRE_AIOSMTPD").as_deref() != Ok("1"),
                "set OPENINSURE_AIOSMTPD (scripts/aiosmtpd.sh install; scripts/aiosmtpd.sh path)"
            );
            eprintln!("skipped: no aiosmtpd (OPENINSURE_AIOSMTPD; scripts/aiosmtpd.sh install, then path)");
            None
        }
    }
}

/// A running `scripts/smtp_sink.py`, stopped when dropped.
struct Sink {
    port: u16,
    file: PathBuf,
    _stdin: ChildStdin,
    _child: Child,
}

static SINKS: AtomicU32 = AtomicU32::new(0);

impl Sink {
    async fn start() -> Option<Sink> {
        let pythonpath = aiosmtpd()?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/smtp_sink.py");
        let file = std::env::temp_dir().join(format!(
            "openinsure-smtp-{}-{}.jsonl",
            std::process::id(),
            SINKS.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&file);
        let mut child = Command::new("python3")
            .arg(script)
            .arg("0")
            .arg(&file)
            .env("PYTHONPATH", pythonpath)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().unwrap();
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut first))
            .await
            .expect("the sink did not start within 30 s")
            .unwrap();
        let port = first.trim().parse().unwrap_or_else(|_| panic!("the sink printed {first:?}, not its port"));
        Some(Sink { port, file, _stdin: stdin, _child: child })
    }

    fn sender(&self, timeout: Duration) -> SmtpSender {
        SmtpSender::new(SmtpConfig {
            url: format!("smtp://127.0.0.1:{}?tls=none", self.port),
            from: "OpenInsure <notices@example.com>".into(),
            timeout,
        })
        .unwrap()
    }

    /// Every message accepted so far.
    fn messages(&self) -> Vec<Value> {
        match std::fs::read_to_string(&self.file) {
            Ok(text) => text.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("{e}"),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

const PARSE: &str = r#"
import email, email.policy, json, sys
m = email.message_from_string(sys.stdin.read(), policy=email.policy.default)
print(json.dumps({
    "from": str(m["From"]), "to": str(m["To"]), "subject": str(m["Subject"]),
    "message_id": str(m["Message-ID"]), "date": str(m["Date"]),
    "content_type": m.get_content_type(), "charset": m.get_content_charset(),
    "multipart": m.is_multipart(), "body": m.get_content(),
    "defects": [type(d).__name__ for d in m.defects],
}))
"#;

/// `raw` parsed by Python's `email` package (the standard library's, strict policy).
fn parse(raw: &str) -> Value {
    let mut child = std::process::Command::new("python3")
        .args(["-c", PARSE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn email(to: &str) -> Email {
    Email { to: to.into(), subject: "Policy GL-2027-000042 bound".into(), text: "Bound.\n".into() }
}

#[tokio::test]
async fn a_message_is_delivered_with_its_headers_and_body() {
    let Some(sink) = Sink::start().await else { return };
    let sender = sink.sender(Duration::from_secs(10));
    let text = "Policy GL-2027-000042 was bound for Zoë's Café (€1,250.00).\n\
                .\n\
                ..a line starting with dots\n\
                \n\
                /v1/policies/0192f0c0-0000-7000-8000-000000000001\n";
    let subject = "Policy GL-2027-000042 bound — Zoë's Café";
    let sent = Email { to: "producer@agency.example".into(), subject: subject.into(), text: text.into() };
    sender.send(&sent).await.unwrap();
    sender.send(&email("second@agency.example")).await.unwrap();

    let messages = sink.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert_eq!(messages[0]["mail_from"], "notices@example.com");
    assert_eq!(messages[0]["rcpt_tos"], serde_json::json!(["producer@agency.example"]));
    let raw = messages[0]["raw"].as_str().unwrap();
    assert!(raw.is_ascii(), "7-bit on the wire:\n{raw}");
    assert!(!raw.contains("\nBcc:"));

    let m = parse(raw);
    assert_eq!(m["defects"], serde_json::json!([]), "{raw}");
    assert_eq!(m["from"], "OpenInsure <notices@example.com>");
    assert_eq!(m["to"], "producer@agency.example");
    assert_eq!(m["subject"], subject);
    assert_eq!(
        (m["content_type"].as_str(), m["charset"].as_str(), &m["multipart"]),
        (Some("text/plain"), Some("utf-8"), &Value::Bool(false))
    );
    assert_eq!(m["body"].as_str().unwrap().replace("\r\n", "\n"), text);
    assert!(m["date"].as_str().is_some_and(|d| d.len() > 10), "{raw}");
    let id = m["message_id"].as_str().unwrap();
    assert!(id.starts_with('<') && id.ends_with("@example.com>") && id.len() > 20, "{id}");

    let second = parse(messages[1]["raw"].as_str().unwrap());
    assert_eq!(messages[1]["rcpt_tos"], serde_json::json!(["second@agency.example"]));
    assert_eq!(second["body"].as_str().unwrap().replace("\r\n", "\n"), "Bound.\n");
    assert_ne!(second["message_id"], m["message_id"], "a Message-ID per email");
}

#[tokio::test]
async fn a_mailbox_refused_for_good_is_permanent_and_one_refused_for_now_transient() {
    let Some(sink) = Sink::start().await else { return };
    let sender = sink.sender(Duration::from_secs(10));

    let e = sender.send(&email("refuse@agency.example")).await.unwrap_err();
    let EmailError::Permanent(reason) = &e else { panic!("{e:?}") };
    assert!(reason.contains("550") && reason.contains("mailbox refused"), "{reason}");

    let e = sender.send(&email("busy@agency.example")).await.unwrap_err();
    let EmailError::Transient(reason) = &e else { panic!("{e:?}") };
    assert!(reason.contains("451") && reason.contains("try again later"), "{reason}");

    assert!(sink.messages().is_empty(), "nothing delivered");
    // and the server still takes the next one
    sender.send(&email("ann@agency.example")).await.unwrap();
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn tls_asked_for_and_not_there_sends_nothing_and_is_transient() {
    let Some(sink) = Sink::start().await else { return };
    // the sink offers no STARTTLS, and speaks no TLS on connect
    for url in [format!("smtp://127.0.0.1:{}", sink.port), format!("smtps://127.0.0.1:{}", sink.port)] {
        let sender = SmtpSender::new(SmtpConfig {
            url: url.clone(),
            from: "notices@example.com".into(),
            timeout: Duration::from_secs(10),
        })
        .unwrap();
        let e = sender.send(&email("ann@agency.example")).await.unwrap_err();
        assert!(matches!(e, EmailError::Transient(_)), "{url}: {e:?}");
    }
    assert!(sink.messages().is_empty(), "nothing sent in clear");
}

#[tokio::test]
async fn a_server_not_listening_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sender = SmtpSender::new(SmtpConfig {
        url: format!("smtp://127.0.0.1:{port}?tls=none"),
        from: "notices@example.com".into(),
        timeout: Duration::from_secs(10),
    })
    .unwrap();
    let started = Instant::now();
    let e = sender.send(&email("ann@agency.example")).await.unwrap_err();
    let EmailError::Transient(reason) = &e else { panic!("{e:?}") };
    assert!(reason.contains(&format!("127.0.0.1:{port}")), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(5), "refused at once");
}

#[tokio::test]
async fn a_server_that_never_answers_is_transient_within_the_timeout() {
    // accepts connections and holds them open without a word
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            held.push(socket);
        }
    });
    let timeout = Duration::from_millis(1500);
    let sender = SmtpSender::new(SmtpConfig {
        url: format!("smtp://127.0.0.1:{port}?tls=none"),
        from: "notices@example.com".into(),
        timeout,
    })
    .unwrap();
    let started = Instant::now();
    let e = sender.send(&email("ann@agency.example")).await.unwrap_err();
    let elapsed = started.elapsed();
    let EmailError::Transient(reason) = &e else { panic!("{e:?}") };
    assert!(reason.contains("no answer") && reason.contains("1500 ms"), "{reason}");
    assert!(elapsed >= timeout && elapsed < timeout + Duration::from_secs(2), "{elapsed:?}");
    silent.abort();
}
