//! `openinsure ledger-proxy` in front of a real TigerBeetle (`TIGERBEETLE_ADDRESS`; the
//! in-memory engine without it, unless `OPENINSURE_REQUIRE_TIGERBEETLE` is set), reached over
//! HTTP by `RemoteLedger` as a Worker reaches it: the whole ledger conformance suite, and a
//! caller without the service key refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use openinsure_ledger::BackendError;
use openinsure_ledger::remote::{PATH, RemoteLedger, Transport};

const KEY: &str = "the ledger proxy's test service key, 32+ bytes";

struct Proxy(Child, String);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> Proxy {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openinsure"));
    command.args(["ledger-proxy", "--addr", "127.0.0.1:0"]).env("OPENINSURE_LEDGER_SERVICE_KEY", KEY);
    match std::env::var("TIGERBEETLE_ADDRESS") {
        Ok(address) => {
            command.args(["--tigerbeetle", &address]);
        }
        Err(_) => assert!(
            std::env::var_os("OPENINSURE_REQUIRE_TIGERBEETLE").is_none(),
            "OPENINSURE_REQUIRE_TIGERBEETLE is set but TIGERBEETLE_ADDRESS is not"
        ),
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("ledger-proxy printed its address").unwrap();
        if let Some(url) = line.strip_prefix("ledger proxy on ") {
            break url.to_owned();
        }
    };
    Proxy(child, url)
}

struct Http {
    client: reqwest::Client,
    url: String,
    key: &'static str,
}

#[async_trait::async_trait]
impl Transport for Http {
    async fn post(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), BackendError> {
        let reply = self
            .client
            .post(&self.url)
            .bearer_auth(self.key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| BackendError(e.to_string()))?;
        let status = reply.status().as_u16();
        Ok((status, reply.bytes().await.map_err(|e| BackendError(e.to_string()))?.to_vec()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_passes_the_ledger_suite_and_refuses_strangers() {
    use openinsure_ledger::LedgerBackend as _;
    let proxy = start();
    assert!(proxy.1.ends_with(PATH), "{}", proxy.1);
    let client = reqwest::Client::new();
    let remote = RemoteLedger::new(Http { client: client.clone(), url: proxy.1.clone(), key: KEY });
    // a run of its own on a cluster that persists between test runs
    let run = u64::try_from(chrono::Utc::now().timestamp_micros()).unwrap();
    openinsure_ledger::testkit::all(&remote, run).await;

    let stranger = RemoteLedger::new(Http { client: client.clone(), url: proxy.1.clone(), key: "a user token" });
    let refused = stranger.lookup_accounts(&[1]).await.unwrap_err();
    assert!(refused.0.contains("service key"), "{refused}");
    let garbage = client.post(&proxy.1).bearer_auth(KEY).body("{\"drop_tables\": {}}").send().await.unwrap();
    assert_eq!(garbage.status(), 400);
}

/// Without a service key, or with one too short to be a secret, the proxy does not start.
#[test]
fn the_proxy_refuses_to_start_without_a_real_key() {
    let run = |key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openinsure"));
        command.args(["ledger-proxy", "--addr", "127.0.0.1:0"]).env_remove("OPENINSURE_LEDGER_SERVICE_KEY");
        if let Some(key) = key {
            command.env("OPENINSURE_LEDGER_SERVICE_KEY", key);
        }
        command.output().unwrap()
    };
    let missing = run(None);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("OPENINSURE_LEDGER_SERVICE_KEY"));
    let short = run(Some("short"));
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("at least 32 bytes"),
        "{}",
        String::from_utf8_lossy(&short.stderr)
    );
}
