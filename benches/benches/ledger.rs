//! Premium splits per second through the ledger: the in-memory engine, and (when
//! `TIGERBEETLE_ADDRESS` is set) a real TigerBeetle cluster, batched, beside the raw client.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "benchmark setup")]

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use openinsure_core::ids::OrgId;
use openinsure_ledger::LedgerBackend;
use openinsure_ledger::chart::chart_of_accounts;
use openinsure_ledger::ops::split_premium_payment;
use openinsure_ledger::testkit::payment;
use openinsure_memory::MemoryLedger;

static KEY: AtomicU64 = AtomicU64::new(1);

fn splits(org: OrgId, n: usize) -> Vec<openinsure_ledger::Transfer> {
    (0..n)
        .flat_map(|_| {
            let k = KEY.fetch_add(1, Ordering::Relaxed);
            split_premium_payment(&payment(org, u128::from(k), 832_191)).unwrap()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let org = OrgId::from_uuid(uuid::Uuid::from_u128(1));

    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(1));
    g.bench_function("split_premium_payment_pure", |b| {
        let p = payment(org, 7, 832_191);
        b.iter(|| split_premium_payment(black_box(&p)))
    });

    let memory = MemoryLedger::new();
    rt.block_on(memory.create_accounts(&chart_of_accounts(org))).unwrap();
    // one split (a 6-leg linked chain) per create_transfers call
    g.bench_function("memory_split_unbatched", |b| {
        b.iter_batched(
            || splits(org, 1),
            |t| {
                let f = rt.block_on(memory.create_transfers(&t)).unwrap();
                assert!(f.is_empty());
            },
            BatchSize::SmallInput,
        )
    });
    // 1,000 splits (6,000 transfers) per call: throughput per split
    g.throughput(Throughput::Elements(1000));
    g.bench_function("memory_splits_batched_1000", |b| {
        b.iter_batched(
            || splits(org, 1000),
            |t| {
                let f = rt.block_on(memory.create_transfers(&t)).unwrap();
                assert!(f.is_empty());
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    #[cfg(feature = "tigerbeetle")]
    tigerbeetle(c, &rt);
}

/// Through a real cluster: our splits batched 1,000 a request (6,000 linked transfers), and in the
/// same run the raw client posting 8,189 plain transfers a request, so our overhead is a ratio.
#[cfg(feature = "tigerbeetle")]
fn tigerbeetle(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    use openinsure_tigerbeetle::TigerBeetle;
    use tigerbeetle_unofficial as tb;
    let Ok(address) = std::env::var("TIGERBEETLE_ADDRESS") else {
        eprintln!("NOTE: TIGERBEETLE_ADDRESS is not set: the TigerBeetle benches did not run");
        return;
    };
    let rt_enter = rt.enter();
    let ours = TigerBeetle::connect(0, &address, std::time::Duration::from_secs(30)).unwrap();
    let org = OrgId::from_uuid(uuid::Uuid::now_v7());
    rt.block_on(ours.create_accounts(&chart_of_accounts(org))).unwrap();

    let mut g = c.benchmark_group("ledger_tigerbeetle");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1000));
    g.bench_function("splits_batched_1000", |b| {
        b.iter_batched(
            || splits(org, 1000),
            |t| {
                let f = rt.block_on(ours.create_transfers(&t)).unwrap();
                assert!(f.is_empty(), "{:?}", f.first());
            },
            BatchSize::LargeInput,
        )
    });

    let raw = tb::Client::new(0, address.as_str()).unwrap();
    let (debit, credit) = (tb::id(), tb::id());
    let accounts = vec![tb::Account::new(debit, 840, 1), tb::Account::new(credit, 840, 1)];
    rt.block_on(raw.create_accounts(accounts)).unwrap();
    g.throughput(Throughput::Elements(8189));
    g.bench_function("raw_client_transfers_batched_8189", |b| {
        b.iter_batched(
            || {
                (0..8189)
                    .map(|_| {
                        tb::Transfer::new(tb::id())
                            .with_debit_account_id(debit)
                            .with_credit_account_id(credit)
                            .with_amount(100)
                            .with_ledger(840)
                            .with_code(1)
                    })
                    .collect::<Vec<_>>()
            },
            |t| rt.block_on(raw.create_transfers(t)).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
    drop(rt_enter);
}

criterion_group!(benches, bench);
criterion_main!(benches);
