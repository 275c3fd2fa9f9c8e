//! Two `openinsure serve` processes on one database, both publishing to NATS JetStream
//! (`--nats`): policies bound through either, and every event of the org is in the stream once,
//! whichever process leased it. Needs the NATS server at `OPENINSURE_NATS_URL`
//! (`nats://127.0.0.1:4222` by default); skipped without it unless `OPENINSURE_REQUIRE_NATS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use openinsure_core::store::{Outbox, Page};
use serde_json::{Value, json};

const ORG: &str = "0192f0c0-0000-7000-8000-0000000000a0";
const UNDERWRITER: &str = "0192f0c0-0000-7000-8000-0000000000a2";
const STREAM: &str = "OPENINSURE_EVENTS";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn nats_url() -> Option<String> {
    let url = std::env::var("OPENINSURE_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
    let address = url.trim_start_matches("nats://").to_owned();
    match std::net::TcpStream::connect_timeout(&address.parse().unwrap(), Duration::from_secs(2)) {
        Ok(_) => Some(url),
        Err(e) if std::env::var("OPENINSURE_REQUIRE_NATS").is_ok_and(|v| v == "1") => {
            panic!("no NATS server at {url}: {e}")
        }
        Err(_) => None,
    }
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(database: &str, key: &Path, nats: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openinsure"))
            .args(["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--database", database, "--nats", nats])
            .args(["--signing-key-file", key.to_str().unwrap()])
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
        std::thread::spawn(move || for _ in lines {});
        Server { child, base: format!("http://{addr}") }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn token(key: &Path, role: &str, user: Option<&str>) -> String {
    let mut args = vec!["token", "--org", ORG, "--role", role, "--signing-key-file", key.to_str().unwrap()];
    if let Some(u) = user {
        args.extend(["--user", u]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_openinsure")).args(&args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn call(http: &reqwest::Client, s: &Server, path: &str, token: &str, body: Value) -> Value {
    let response = http.post(format!("{}{path}", s.base)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "POST {path}: {status} {body}");
    body["data"].clone()
}

/// Binds a policy for a new insured through `s`.
async fn bind(http: &reqwest::Client, s: &Server, key: &Path, n: u32) {
    let mut acme: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/submissions/acme.json")).unwrap()).unwrap();
    let tag = format!("{:07}", uuid::Uuid::new_v4().as_u128() % 10_000_000);
    acme["insuredName"] = json!(format!("Acme {n} {tag}"));
    acme["fein"] = json!(format!("{}-{tag}", &tag[..2]));
    acme["effectiveDate"] = json!(chrono::Utc::now().date_naive().to_string());
    let sub = call(http, s, "/v1/submissions", &token(key, "producer", None), acme).await;
    let id = sub["id"].as_str().unwrap();
    let underwriter = token(key, "underwriter", Some(UNDERWRITER));
    call(http, s, &format!("/v1/submissions/{id}/quote"), &underwriter, json!({})).await;
    call(http, s, &format!("/v1/submissions/{id}/bind"), &underwriter, json!({})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_database_publish_every_event_once() {
    let Some(url) = nats_url() else { return };
    let dir = std::env::temp_dir().join(format!("openinsure-nats-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}", dir.join("openinsure.db").display());
    let key = dir.join("signing-key");

    let client = async_nats::connect(&url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    // where the stream stands before this run (it is the machine's, shared across runs)
    let start = match js.get_stream(STREAM).await {
        Ok(mut s) => s.info().await.unwrap().state.last_sequence,
        Err(_) => 0,
    };

    let a = Server::start(&database, &key, &url);
    let b = Server::start(&database, &key, &url);
    let http = reqwest::Client::new();
    for n in 0..2 {
        bind(&http, &a, &key, n).await;
        bind(&http, &b, &key, 10 + n).await;
    }

    // every event of the org delivered (the two dispatchers lease them from the one outbox)
    let store = openinsure_sql::SqlStore::connect(&database).await.unwrap();
    let mut waited = 0;
    while !store.pending_events(chrono::DateTime::<chrono::Utc>::MAX_UTC, 1000).await.unwrap().is_empty() {
        waited += 1;
        assert!(waited < 200, "the outbox did not empty");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let org = openinsure_core::ids::OrgId::from_uuid(ORG.parse().unwrap());
    let mut expected: Vec<String> = store
        .org_events(org, Page { limit: 1000, offset: 0 })
        .await
        .unwrap()
        .iter()
        .map(|e| e.id.to_string())
        .collect();
    expected.sort();
    assert!(expected.len() >= 4, "each bind raises its event: {}", expected.len());

    let mut stream = js.get_stream(STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut published = Vec::new();
    for seq in start + 1..=last {
        let m = stream.get_raw_message(seq).await.unwrap();
        let payload: Value = serde_json::from_slice(&m.payload).unwrap();
        if payload["orgId"] == ORG && m.subject.starts_with(&format!("openinsure.events.{ORG}.")) {
            published.push(m.headers.get("Nats-Msg-Id").unwrap().to_string());
        }
    }
    published.sort();
    assert_eq!(published, expected, "each of the org's events in the stream once");
    drop((a, b));
    std::fs::remove_dir_all(&dir).ok();
}
