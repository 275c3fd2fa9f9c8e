//! Shared set-up for the application tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use openinsure::App;
use openinsure_core::authz::RelationshipAuthorizer;
use openinsure_core::clock::{FixedClock, SequentialIds};
use openinsure_core::ids::{AuthorityProfileId, OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_memory::MemoryStore;
use openinsure_rating::{RateBook, RateTable};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct World {
    pub app: App,
    pub store: MemoryStore,
    pub clock: Arc<FixedClock>,
}

pub fn world() -> World {
    let mut book = RateBook::new();
    book.insert(RateTable::from_json(include_str!("../../../examples/rate-tables/general-liability.json")).unwrap())
        .unwrap();
    book.insert(RateTable::from_json(include_str!("../../../examples/rate-tables/cyber.json")).unwrap()).unwrap();
    let store = MemoryStore::default();
    let clock = Arc::new(FixedClock::new(Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()));
    let app = App::new(
        Arc::new(store.clone()),
        Arc::new(RelationshipAuthorizer::new()),
        Arc::new(book),
        clock.clone(),
        Arc::new(SequentialIds::new(42)),
    );
    World { app, store, clock }
}

pub fn caller(org: u128, user: u128, role: Role) -> Caller {
    Caller::new(UserId::from_uuid(Uuid::from_u128(org * 1000 + user)), OrgId::from_uuid(Uuid::from_u128(org)), role)
}

pub fn acme() -> Value {
    serde_json::from_str(include_str!("../../../examples/submissions/acme.json")).unwrap()
}

pub const GL_PROGRAM: &str = "0192f0c0-0000-7000-8000-000000000001";

pub fn agreement_json() -> Value {
    json!({
        "programId": GL_PROGRAM,
        "carrierId": "0192f0c0-0000-7000-8000-0000000000ca",
        "name": "Main Street GL 2026-27",
        "status": "active",
        "effectiveDate": "2026-07-01",
        "expirationDate": "2027-07-01",
        "maxOccurrenceLimitCents": 200_000_000,
        "maxAggregateLimitCents": 400_000_000,
        "maxPremiumCents": 25_000_000,
        "authorizedStates": "all",
        "excludedStates": ["FL"],
        "authorizedNaics": [],
        "excludedNaics": ["2123"],
        "annualPremiumLimitCents": 500_000_000,
        "maxPoliciesPerInsured": 1,
        "allowedTermsMonths": [12],
        "referralTriggers": {}
    })
}

pub struct Org {
    pub admin: Caller,
    pub producer: Caller,
    pub underwriter: Caller,
    pub senior: Caller,
    pub chief: Caller,
}

fn profile_json(level: u8, max_premium: i64, limit: i64, approve: bool) -> Value {
    json!({
        "name": format!("GL level {level}"),
        "level": level,
        "lineOfBusiness": "general_liability",
        "maxOccurrenceLimitCents": limit,
        "maxAggregateLimitCents": limit * 2,
        "maxPremiumCents": max_premium,
        "canApproveReferrals": approve
    })
}

/// An org with a DA agreement for the GL program, a three-level authority ladder (premium caps
/// $25,000 / $100,000 / $250,000; occurrence limits $1M / $2M / $2M) and one user per level.
pub async fn org(w: &World, n: u128) -> Org {
    let o = Org {
        admin: caller(n, 1, Role::Admin),
        producer: caller(n, 2, Role::Producer),
        underwriter: caller(n, 3, Role::Underwriter),
        senior: caller(n, 4, Role::Underwriter),
        chief: caller(n, 5, Role::Underwriter),
    };
    w.app.create_agreement(&o.admin, &agreement_json()).await.unwrap();
    let levels = [
        (1u8, 2_500_000i64, 100_000_000i64, false),
        (2, 10_000_000, 200_000_000, true),
        (3, 25_000_000, 200_000_000, true),
    ];
    for (user, (level, premium, limit, approve)) in [&o.underwriter, &o.senior, &o.chief].into_iter().zip(levels) {
        let p = w.app.create_profile(&o.admin, &profile_json(level, premium, limit, approve)).await.unwrap();
        let id: AuthorityProfileId = p.id;
        w.app.assign_profile(&o.admin, user.user_id, id).await.unwrap();
    }
    o
}

/// A writer that keeps everything a tracing subscriber prints (for the log-capture tests).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
