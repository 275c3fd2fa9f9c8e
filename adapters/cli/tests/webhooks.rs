//! `openinsure serve` sends webhooks: two processes on one SQLite database, an endpoint on a
//! local receiver (loopback allowed with `--webhooks-allow-private`), policies bound through
//! both: every `policy.bound` arrives signed, once per message id. Without the flag, a loopback
//! URL is refused when the endpoint is created.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

const ORG: &str = "0192f0c0-0000-7000-8000-0000000000a0";
const UNDERWRITER: &str = "0192f0c0-0000-7000-8000-0000000000a2";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(database: &str, key: &Path, allow_private: bool) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openinsure"));
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--rate-limit", "0", "--database", database])
            .args(["--signing-key-file", key.to_str().unwrap()])
            .current_dir(root())
            .env("OPENINSURE_LOG", "warn")
            .env_remove("OPENINSURE_WEBHOOKS_ALLOW_PRIVATE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if allow_private {
            command.arg("--webhooks-allow-private");
        }
        let mut child = command.spawn().unwrap();
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

async fn post(http: &reqwest::Client, s: &Server, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let response = http.post(format!("{}{path}", s.base)).bearer_auth(token).json(&body).send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.json().await.unwrap())
}

async fn bind(http: &reqwest::Client, s: &Server, key: &Path, n: u32) -> String {
    let mut acme: Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/submissions/acme.json")).unwrap()).unwrap();
    let tag = format!("{:07}", uuid::Uuid::new_v4().as_u128() % 10_000_000);
    acme["insuredName"] = json!(format!("Acme {n} {tag}"));
    acme["fein"] = json!(format!("{}-{tag}", &tag[..2]));
    acme["effectiveDate"] = json!(chrono::Utc::now().date_naive().to_string());
    let (_, sub) = post(http, s, "/v1/submissions", &token(key, "producer", None), acme).await;
    let id = sub["data"]["id"].as_str().unwrap().to_owned();
    let underwriter = token(key, "underwriter", Some(UNDERWRITER));
    post(http, s, &format!("/v1/submissions/{id}/quote"), &underwriter, json!({})).await;
    let (status, policy) = post(http, s, &format!("/v1/submissions/{id}/bind"), &underwriter, json!({})).await;
    assert!(status.is_success(), "{policy}");
    policy["data"]["id"].as_str().unwrap().to_owned()
}

type Received = Arc<Mutex<Vec<(String, Value, HeaderMap, bytes::Bytes)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: bytes::Bytes| {
            let g = g.clone();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                let value: Value = serde_json::from_slice(&body).unwrap();
                g.lock().unwrap().push((id, value, headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hooks"), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_deliver_each_webhook_once_signed() {
    let dir = std::env::temp_dir().join(format!("openinsure-webhooks-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database = format!("sqlite://{}", dir.join("openinsure.db").display());
    let key = dir.join("signing-key");
    let (url, got) = receiver().await;
    let http = reqwest::Client::new();

    // strict by default: a loopback URL is refused, naming the field
    let strict = Server::start(&database, &key, false);
    let admin = token(&key, "admin", None);
    let hook = json!({ "url": url, "eventTypes": ["policy.bound"] });
    let (status, refused) = post(&http, &strict, "/v1/webhooks", &admin, hook.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("url"), "{refused}");
    drop(strict);

    let a = Server::start(&database, &key, true);
    let b = Server::start(&database, &key, true);
    let (status, created) = post(&http, &a, "/v1/webhooks", &admin, hook).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = openinsure_webhooks::WebhookSecret::parse(created["data"]["secret"].as_str().unwrap()).unwrap();
    let endpoint = created["data"]["id"].as_str().unwrap().to_owned();

    let mut policies = Vec::new();
    for n in 0..6 {
        let s = if n % 2 == 0 { &a } else { &b };
        policies.push(bind(&http, s, &key, n).await);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while got.lock().unwrap().len() < policies.len() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await; // time for a duplicate to show
    let got = got.lock().unwrap().clone();
    let mut by_id: BTreeMap<String, usize> = BTreeMap::new();
    let now = chrono::Utc::now().timestamp();
    for (id, body, headers, raw) in &got {
        *by_id.entry(id.clone()).or_default() += 1;
        assert_eq!(body["type"], "policy.bound");
        let h = |n: &str| headers[n].to_str().unwrap().to_owned();
        openinsure_webhooks::verify(
            std::slice::from_ref(&secret),
            &h("webhook-id"),
            &h("webhook-timestamp"),
            &h("webhook-signature"),
            raw,
            now,
            300,
        )
        .unwrap();
    }
    assert!(by_id.values().all(|n| *n == 1), "a message delivered twice: {by_id:?}");
    let mut bound: Vec<String> =
        got.iter().map(|(_, b, _, _)| b["data"]["policyId"].as_str().unwrap().to_owned()).collect();
    bound.sort();
    policies.sort();
    assert_eq!(bound, policies, "every bound policy, once");

    // the delivery log says the same
    let log: Value = http
        .get(format!("{}/v1/webhooks/{endpoint}/deliveries?limit=100", b.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = log["data"].as_array().unwrap();
    assert_eq!(log.len(), policies.len());
    assert!(
        log.iter().all(|d| d["status"] == "delivered" && d["lastStatusCode"] == 204 && d["attempts"] == 1),
        "{log:?}"
    );
}
