//! The LedgerBackend conformance suite against a real TigerBeetle cluster.
//!
//! Needs a server: `scripts/tigerbeetle.sh start` prints the address; set `TIGERBEETLE_ADDRESS`
//! to it. Without it the suite says so and does not run, unless `OPENINSURE_REQUIRE_TIGERBEETLE`
//! is set (CI sets it), in which case that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openinsure_ledger::testkit;
use openinsure_tigerbeetle::TigerBeetle;

fn backend() -> Option<TigerBeetle> {
    match std::env::var("TIGERBEETLE_ADDRESS") {
        Ok(address) => Some(TigerBeetle::connect(0, &address, Duration::from_secs(30)).unwrap()),
        Err(_) if std::env::var_os("OPENINSURE_REQUIRE_TIGERBEETLE").is_some() => {
            panic!(
                "OPENINSURE_REQUIRE_TIGERBEETLE is set but TIGERBEETLE_ADDRESS is not: the TigerBeetle suite must run"
            )
        }
        Err(_) => {
            // Written to the terminal directly, past the test harness's output capture, so a
            // passing run still says plainly that the suite was skipped.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "NOTE: the TigerBeetle conformance suite did NOT run: TIGERBEETLE_ADDRESS is not set \
                 (start a server with `scripts/tigerbeetle.sh start`)"
            );
            None
        }
    }
}

/// A run id unique to this process, so repeated runs on one server never collide.
fn run() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[tokio::test]
async fn tigerbeetle_conformance() {
    let Some(b) = backend() else { return };
    let run = run();
    testkit::all(&b, run).await;
    testkit::all(&b, run + 1).await;
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_backend_error_not_a_hang() {
    let b = TigerBeetle::connect(0, "127.0.0.1:1", Duration::from_millis(300)).unwrap();
    let e = openinsure_ledger::LedgerBackend::lookup_accounts(&b, &[1]).await.unwrap_err();
    assert!(e.0.contains("did not answer"), "{e}");
    assert!(TigerBeetle::connect(0, "not an address", Duration::from_secs(1)).is_err());
}
