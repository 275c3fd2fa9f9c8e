//! The system of record over real TCP: bind, file a claim, chat and write the notepad in a deal
//! room through `openinsure serve`, stop it (SIGTERM), start it again on the same data, and find
//! everything there: the policy, the claim, the chat, the notepad, and an audit chain that
//! verifies, and that names the entry edited with plain SQL. On SQLite (the embedded default),
//! and on MariaDB when `OPENINSURE_MYSQL_URL` is set (required when `OPENINSURE_REQUIRE_MYSQL` is).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

const ORG: &str = "0192f0c0-0000-7000-8000-0000000000a0";
const UNDERWRITER: &str = "0192f0c0-0000-7000-8000-0000000000a2";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_openinsure")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(database: &[&str], key: &Path) -> Server {
        let mut child = Command::new(bin())
            .args(["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--signing-key-file", key.to_str().unwrap()])
            .args(database)
            .current_dir(root())
            .env("OPENINSURE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(rest) = line.strip_prefix("listening on http://") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // keep reading stdout so the server never blocks on a full pipe
        std::thread::spawn(move || for _ in lines {});
        Server { child, base: format!("http://{addr}") }
    }

    fn stop(mut self) {
        Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful stop: {status:?}");
    }
}

fn token(key: &Path, role: &str, user: Option<&str>) -> String {
    let mut args = vec!["token", "--org", ORG, "--role", role, "--mfa", "--signing-key-file", key.to_str().unwrap()];
    if let Some(u) = user {
        args.extend(["--user", u]);
    }
    let out = Command::new(bin()).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn call(http: &reqwest::Client, s: &Server, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let mut r = http.request(method.parse().unwrap(), format!("{}{path}", s.base)).bearer_auth(token);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let response = r.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {body}");
    body["data"].clone()
}

fn audit_verify(database: &[&str]) -> std::process::Output {
    Command::new(bin()).args(["audit", "verify", "--org", ORG]).args(database).current_dir(root()).output().unwrap()
}

/// Everything the walk writes, to look for after the restart.
struct Written {
    policy: String,
    number: String,
    claim: String,
    room: String,
}

async fn first_life(s: &Server, key: &Path) -> Written {
    let http = reqwest::Client::new();
    let producer = token(key, "producer", None);
    let underwriter = token(key, "underwriter", Some(UNDERWRITER));
    let supervisor = token(key, "claims_supervisor", None);
    let today = chrono::Utc::now().date_naive();
    let mut acme: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/submissions/acme.json")).unwrap()).unwrap();
    acme["effectiveDate"] = json!((today - chrono::Days::new(10)).to_string());
    let sub = call(&http, s, "POST", "/v1/submissions", &producer, Some(acme)).await;
    let id = sub["id"].as_str().unwrap();
    call(&http, s, "POST", &format!("/v1/submissions/{id}/quote"), &underwriter, Some(json!({}))).await;
    let policy = call(&http, s, "POST", &format!("/v1/submissions/{id}/bind"), &underwriter, Some(json!({}))).await;
    let notice = json!({
        "policyId": policy["id"], "dateOfLoss": (today - chrono::Days::new(1)).to_string(),
        "lossDescription": "a forklift tipped over", "claimantName": "Jane Roe", "claimantSsn": "123-45-6789"
    });
    let claim = call(&http, s, "POST", "/v1/claims", &supervisor, Some(notice)).await;
    call(&http, s, "GET", &format!("/v1/claims/{}", claim["id"].as_str().unwrap()), &supervisor, None).await;

    let room =
        call(&http, s, "POST", "/v1/deal-rooms", &underwriter, Some(json!({ "submissionId": id, "title": "Acme" })))
            .await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    let ticket = call(&http, s, "GET", &format!("/v1/deal-rooms/{room_id}/ws"), &underwriter, None).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ticket["wsUrl"].as_str().unwrap()).await.unwrap();
    ws.send(Message::Text(json!({ "type": "chat", "content": "kept across a restart" }).to_string().into()))
        .await
        .unwrap();
    let doc = Doc::new();
    let text = doc.get_or_insert_text("notepad");
    let before = doc.transact().state_vector();
    text.insert(&mut doc.transact_mut(), 0, "Loss runs clean.");
    let update = doc.transact().encode_state_as_update_v1(&before);
    ws.send(Message::Binary(update.into())).await.unwrap();
    // the chat comes back once the room has taken it (and the update before it, in order)
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Text(t) if serde_json::from_str::<Value>(&t).unwrap()["type"] == "chat" => break,
            _ => continue,
        }
    }
    ws.close(None).await.unwrap();
    Written {
        policy: policy["id"].as_str().unwrap().to_owned(),
        number: policy["number"].as_str().unwrap().to_owned(),
        claim: claim["id"].as_str().unwrap().to_owned(),
        room: room_id,
    }
}

async fn second_life(s: &Server, key: &Path, w: &Written) {
    let http = reqwest::Client::new();
    let underwriter = token(key, "underwriter", Some(UNDERWRITER));
    let supervisor = token(key, "claims_supervisor", None);
    let policy = call(&http, s, "GET", &format!("/v1/policies/{}", w.policy), &underwriter, None).await;
    assert_eq!(policy["number"], w.number.as_str());
    let claim = call(&http, s, "GET", &format!("/v1/claims/{}", w.claim), &supervisor, None).await;
    assert_eq!(claim["claimantName"], "Jane Roe");
    let messages = call(&http, s, "GET", &format!("/v1/deal-rooms/{}/messages", w.room), &underwriter, None).await;
    assert!(messages.to_string().contains("kept across a restart"), "{messages}");
    let ticket = call(&http, s, "GET", &format!("/v1/deal-rooms/{}/ws", w.room), &underwriter, None).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(ticket["wsUrl"].as_str().unwrap()).await.unwrap();
    let state = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await.unwrap().unwrap().unwrap() {
            Message::Binary(b) => break b,
            _ => continue,
        }
    };
    let doc = Doc::new();
    doc.transact_mut().apply_update(Update::decode_v1(&state).unwrap()).unwrap();
    assert_eq!(doc.get_or_insert_text("notepad").get_string(&doc.transact()), "Loss runs clean.");
    ws.close(None).await.unwrap();
}

async fn walk(database: &[&str], dir: &Path) {
    let key = dir.join("key");
    let s = Server::start(database, &key);
    let written = first_life(&s, &key).await;
    s.stop();
    let s = Server::start(database, &key);
    second_life(&s, &key, &written).await;
    s.stop();
    let ok = audit_verify(database);
    let text = String::from_utf8_lossy(&ok.stdout).to_string();
    assert!(ok.status.success(), "{text} {}", String::from_utf8_lossy(&ok.stderr));
    assert!(text.contains("ok: "), "{text}");
}

/// Edits the first audit entry's body with plain SQL; `audit verify` names it.
fn assert_edit_is_found(database: &[&str]) {
    let out = audit_verify(database);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "an edited chain does not verify");
    assert!(err.contains("sequence 1"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_restart_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("openinsure-restart-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    walk(&database, &dir).await;
    let url = format!("sqlite://{}", data.join("openinsure.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET body = replace(body, '\"write\"', '\"read\"') WHERE sequence = 1")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert_edit_is_found(&database);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_survives_a_restart_on_mariadb() {
    use sqlx::Connection as _;
    let Ok(server) = std::env::var("OPENINSURE_MYSQL_URL") else {
        assert!(std::env::var("OPENINSURE_REQUIRE_MYSQL").is_err(), "OPENINSURE_MYSQL_URL is required");
        eprintln!("skipped: set OPENINSURE_MYSQL_URL");
        return;
    };
    let name = format!("openinsure_restart_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::MySqlConnection::connect(&server).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    let base = server.rsplit_once('/').unwrap().0;
    let url = format!("{base}/{name}");
    let dir = std::env::temp_dir().join(format!("openinsure-restart-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = ["--database", url.as_str()];
    walk(&database, &dir).await;
    let mut db = sqlx::MySqlConnection::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET body = replace(body, '\"write\"', '\"read\"') WHERE sequence = 1")
        .execute(&mut db)
        .await
        .unwrap();
    db.close().await.unwrap();
    assert_edit_is_found(&database);
    sqlx::query(&format!("DROP DATABASE {name}")).execute(&mut conn).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
