//! `run_clock`: the host runs the clock's transitions on a schedule until shut down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use openinsure::{App, Ports};
use openinsure_core::clock::{FixedClock, SequentialIds};
use openinsure_core::ids::{OrgId, PolicyId};
use openinsure_core::policy::PolicyStatus;
use openinsure_core::policy::tick::TickRules;
use openinsure_core::samples::{sample_policy, sample_quote};
use uuid::Uuid;

#[tokio::test]
async fn the_host_ticks_until_it_is_stopped() {
    let clock = Arc::new(FixedClock::new(chrono::Utc.with_ymd_and_hms(2027, 1, 2, 9, 0, 0).unwrap()));
    let ports = Ports::in_memory(clock, Arc::new(SequentialIds::new(1)));
    let store = ports.store.clone();
    let app = App::new(ports, Arc::new(openinsure_rating::RateBook::new()));
    let org = OrgId::from_uuid(Uuid::from_u128(1));
    let quote = sample_quote(Uuid::from_u128(2).into(), org, Uuid::from_u128(3).into());
    let mut policy = sample_policy(PolicyId::from_uuid(Uuid::from_u128(4)), org, &quote, "GL-2027-000001");
    policy.status = PolicyStatus::Issued;
    store.insert_policy(org, &policy, None, &[]).await.unwrap();
    assert!(policy.effective_date <= chrono::NaiveDate::from_ymd_opt(2027, 1, 2).unwrap());

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running =
        tokio::spawn(openinsure_axum::run_clock(app, TickRules::default(), Duration::from_millis(10), async {
            let _ = stopped.await;
        }));
    let mut active = false;
    for _ in 0..200 {
        if store.get_policy(org, policy.id).await.unwrap().status == PolicyStatus::Active {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(active, "the scheduled tick activated the policy");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), running).await.expect("stops when told").unwrap();
}
