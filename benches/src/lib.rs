//! Criterion benchmarks of OpenInsure for Rust; run with `cargo bench -p openinsure-benches`.
//!
//! | bench | measures |
//! |---|---|
//! | `rating` | full quotes per second (worksheet included) on the realistic GL table |
//! | `ledger` | premium splits per second: pure, through the in-memory engine, and through TigerBeetle |
//! | `redaction` | claim records per second through `decide` + `redact` (typed) and `redact_json`, per role |
