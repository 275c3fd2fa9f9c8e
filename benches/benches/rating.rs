//! Full quotes per second, worksheet included, on the realistic general-liability table.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "benchmark setup")]

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use openinsure_core::ids::{OrgId, SubmissionId, UserId};
use openinsure_core::quote::Schedule;
use openinsure_core::submission::Submission;
use openinsure_rating::{RateTable, rate};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let table = RateTable::from_json(include_str!("../../examples/rate-tables/general-liability.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let json: serde_json::Value =
        serde_json::from_str(include_str!("../../examples/submissions/acme.json")).unwrap_or_default();
    let schedule: Schedule =
        serde_json::from_str(include_str!("../../examples/submissions/schedule.json")).unwrap_or_default();
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let sub = Submission::intake_json(
        SubmissionId::from_uuid(uuid::Uuid::from_u128(1)),
        OrgId::from_uuid(uuid::Uuid::from_u128(2)),
        UserId::from_uuid(uuid::Uuid::from_u128(3)),
        now,
        &json,
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let mut g = c.benchmark_group("rating");
    g.throughput(Throughput::Elements(1));
    g.bench_function("full_quote_gl", |b| {
        b.iter(|| rate(black_box(&sub), black_box(&table), black_box(&Schedule::none())))
    });
    g.bench_function("full_quote_gl_with_schedule", |b| {
        b.iter(|| rate(black_box(&sub), black_box(&table), black_box(&schedule)))
    });
    g.bench_function("intake_and_quote_gl", |b| {
        b.iter(|| {
            let s = Submission::intake_json(sub.id, sub.org_id, sub.created_by, now, black_box(&json))
                .unwrap_or_else(|e| panic!("{e}"));
            rate(&s, &table, &Schedule::none())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
