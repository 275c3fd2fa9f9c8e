//! `openinsure demo`: an example submission through intake and rating, on the in-memory stores.

use std::sync::Arc;

use openinsure::App;
use openinsure::system::{SystemClock, UuidV7};
use openinsure_core::quote::{Schedule, ScheduleAdjustment};
use openinsure_core::tenancy::{Caller, Role};
use openinsure_memory::MemoryStore;
use openinsure_rating::{RateBook, RateTable};

use crate::Failure;
use crate::render;

const GL_TABLE: &str = include_str!("../../../examples/rate-tables/general-liability.json");
const CYBER_TABLE: &str = include_str!("../../../examples/rate-tables/cyber.json");
const ACME: &str = include_str!("../../../examples/submissions/acme.json");

fn fail(stage: &str) -> impl Fn(openinsure::Error) -> Failure + '_ {
    move |e| Failure(format!("demo failed at {stage}: {e}"))
}

/// Runs the demo on a fresh in-memory platform.
pub fn run() -> Result<(), Failure> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Failure(e.to_string()))?;
    runtime.block_on(demo())
}

async fn demo() -> Result<(), Failure> {
    let mut book = RateBook::new();
    for (name, text) in [("general-liability.json", GL_TABLE), ("cyber.json", CYBER_TABLE)] {
        let table = RateTable::from_json(text).map_err(|e| Failure(format!("{name}: {e}")))?;
        book.insert(table).map_err(|e| Failure(format!("{name}: {e}")))?;
    }
    let store = MemoryStore::default();
    let app =
        App::new(Arc::new(store.clone()), Arc::new(store), Arc::new(book), Arc::new(SystemClock), Arc::new(UuidV7));

    let org = "0192f0c0-0000-7000-8000-0000000000a0".parse().map_err(|_| Failure("bad demo org".into()))?;
    let producer = Caller::new(
        "0192f0c0-0000-7000-8000-0000000000a1".parse().map_err(|_| Failure("bad id".into()))?,
        org,
        Role::Producer,
    );
    let underwriter = Caller::new(
        "0192f0c0-0000-7000-8000-0000000000a2".parse().map_err(|_| Failure("bad id".into()))?,
        org,
        Role::Underwriter,
    );

    println!("== 1. intake: a producer submits an ACORD 125 application");
    let mut bad: serde_json::Value = serde_json::from_str(ACME).map_err(|e| Failure(e.to_string()))?;
    bad["riskState"] = "Ohio".into();
    bad["annualRevenueCents"] = serde_json::json!(-100);
    bad["termMonths"] = serde_json::json!(60);
    match app.submit(&producer, &bad).await {
        Err(openinsure::Error::Invalid(errors)) => {
            println!("a malformed copy is refused with every field error at once:");
            for e in errors.iter() {
                println!("   {e}");
            }
        }
        other => return Err(Failure(format!("demo expected a refusal, got {other:?}"))),
    }
    let json = serde_json::from_str(ACME).map_err(|e| Failure(e.to_string()))?;
    let submission = app.submit(&producer, &json).await.map_err(fail("intake"))?;
    println!(
        "submission {} taken in: {} ({}, {}), status {:?}, manual review {}",
        submission.id,
        submission.insured_name,
        submission.line_of_business,
        submission.risk_state,
        submission.status,
        if submission.needs_manual_review { "required" } else { "not required" }
    );

    println!("\n== 2. rating: the producer asks for a quote");
    let quote = app.quote(&producer, submission.id, &Schedule::none()).await.map_err(fail("rating"))?;
    print!("{}", render::worksheet(&quote.rating));
    println!("quote {} expires {}", quote.id, quote.expires_at.format("%Y-%m-%d %H:%M UTC"));

    println!("\n== 3. underwriting: schedule credits for management and safety, a debit for equipment");
    let schedule = Schedule {
        adjustments: vec![
            ScheduleAdjustment { reason_code: "MGMT".into(), adjustment: rust_decimal(-5, 2) },
            ScheduleAdjustment { reason_code: "SAFETY".into(), adjustment: rust_decimal(-3, 2) },
            ScheduleAdjustment { reason_code: "EQUIPMENT".into(), adjustment: rust_decimal(2, 2) },
        ],
    };
    let revised = app.quote(&underwriter, submission.id, &schedule).await.map_err(fail("underwriting"))?;
    print!("{}", render::worksheet(&revised.rating));
    let check =
        revised.rating.worksheet.recompute().map_err(|e| Failure(format!("worksheet does not recompute: {e}")))?;
    println!("worksheet recomputes from its own lines: {}", if check == revised.rating.totals { "yes" } else { "NO" });
    let quotes = app.quotes_for(&underwriter, submission.id).await.map_err(fail("listing"))?;
    println!("\n{} quotes on submission {}", quotes.len(), submission.id);
    Ok(())
}

fn rust_decimal(num: i64, scale: u32) -> openinsure_core::Decimal {
    openinsure_core::Decimal::new(num, scale)
}
