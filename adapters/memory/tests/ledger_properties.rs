//! Property tests of the in-memory ledger engine over random operation sequences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use openinsure_core::ids::OrgId;
use openinsure_core::money::Money;
use openinsure_ledger::LedgerBackend;
use openinsure_ledger::chart::{AccountType, account_id, chart_of_accounts};
use openinsure_ledger::model::{CreateTransferError, Transfer};
use openinsure_ledger::ops::{self, ClaimTransaction, ClaimTransactionKind};
use openinsure_ledger::reports::trial_balance;
use openinsure_ledger::testkit::payment;
use openinsure_memory::MemoryLedger;
use proptest::prelude::*;
use uuid::Uuid;

#[derive(Clone, Debug)]
enum Op {
    Premium(u64, i64),
    Fund(u64, i64),
    ClaimPay(u64, i64, i64),
    Reserve(u64, i64),
    Recovery(u64, i64),
    Settle(u64, u8, i64),
    Retry(usize),
    BrokenChain(u64, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u64>(), 1i64..10_000_000).prop_map(|(k, a)| Op::Premium(k, a)),
        (any::<u64>(), 1i64..5_000_000).prop_map(|(k, a)| Op::Fund(k, a)),
        (any::<u64>(), 1i64..5_000_000, 0i64..5_000_000).prop_map(|(k, a, r)| Op::ClaimPay(k, a, r)),
        (any::<u64>(), -5_000_000i64..5_000_000).prop_map(|(k, a)| Op::Reserve(k, a)),
        (any::<u64>(), 1i64..1_000_000).prop_map(|(k, a)| Op::Recovery(k, a)),
        (any::<u64>(), 0u8..3, 1i64..5_000_000).prop_map(|(k, w, a)| Op::Settle(k, w, a)),
        (0usize..50).prop_map(Op::Retry),
        (any::<u64>(), 1i64..10_000_000).prop_map(|(k, a)| Op::BrokenChain(k, a)),
    ]
}

fn claim(org: OrgId, k: u64, kind: ClaimTransactionKind) -> Vec<Transfer> {
    ops::claim_transaction(&ClaimTransaction {
        org,
        transaction_id: Uuid::from_u64_pair(7, k),
        claim_id: Uuid::from_u64_pair(7, 1),
        kind,
    })
    .unwrap()
}

fn transfers_for(org: OrgId, op: &Op) -> Option<Vec<Transfer>> {
    let key = |k: u64| Uuid::from_u64_pair(7, k);
    match op {
        Op::Premium(k, a) => Some(ops::split_premium_payment(&payment(org, u128::from(*k), *a)).unwrap()),
        Op::Fund(k, a) => Some(ops::fund_losses(org, key(*k), Money::from_cents(*a)).unwrap()),
        Op::ClaimPay(k, a, r) => Some(claim(
            org,
            *k,
            ClaimTransactionKind::Payment { amount: Money::from_cents(*a), reserve_takedown: Money::from_cents(*r) },
        )),
        Op::Reserve(_, 0) => None,
        Op::Reserve(k, a) => {
            Some(claim(org, *k, ClaimTransactionKind::ReserveAdjustment { change: Money::from_cents(*a) }))
        }
        Op::Recovery(k, a) => Some(claim(org, *k, ClaimTransactionKind::Recovery { amount: Money::from_cents(*a) })),
        Op::Settle(k, which, a) => {
            let payable = [AccountType::CarrierPayable, AccountType::ProducerPayable, AccountType::TaxAuthorityPayable]
                [*which as usize];
            Some(ops::settle(org, key(*k), payable, Money::from_cents(*a)).unwrap())
        }
        Op::BrokenChain(k, a) => {
            let mut t = ops::split_premium_payment(&payment(org, u128::from(*k) | 1 << 100, *a)).unwrap();
            let last = t.len() - 1;
            t[last].credit_account_id = 42; // no such account: the whole chain must fail
            Some(t)
        }
        Op::Retry(_) => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Over any sequence of operations (retries and broken chains among them) the trial balance
    /// balances, a failed chain changes nothing, and the fiduciary and loss fund never overdraw.
    #[test]
    fn trial_balance_always_balances(ops in proptest::collection::vec(op(), 1..60)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let ledger = MemoryLedger::new();
            let org = OrgId::from_uuid(Uuid::from_u128(1));
            let chart = chart_of_accounts(org);
            ledger.create_accounts(&chart).await.unwrap();
            let ids: Vec<u128> = chart.iter().map(|a| a.id).collect();
            let mut posted: Vec<Vec<Transfer>> = Vec::new();
            for op in &ops {
                let batch = match op {
                    Op::Retry(i) if !posted.is_empty() => Some(posted[i % posted.len()].clone()),
                    other => transfers_for(org, other),
                };
                let Some(batch) = batch else { continue };
                let before = ledger.lookup_accounts(&ids).await.unwrap();
                let failures = ledger.create_transfers(&batch).await.unwrap();
                let after = ledger.lookup_accounts(&ids).await.unwrap();
                if failures.is_empty() {
                    posted.push(batch);
                } else {
                    prop_assert_eq!(failures.len(), batch.len());
                    prop_assert_eq!(&before, &after);
                    if matches!(op, Op::Retry(_)) {
                        prop_assert!(failures
                            .iter()
                            .all(|f| matches!(f.error, CreateTransferError::Exists | CreateTransferError::LinkedEventFailed)));
                    }
                }
                let tb = trial_balance(&after);
                prop_assert!(tb.is_balanced(), "unbalanced after {:?}", op);
                for a in &after {
                    if a.id == account_id(org, AccountType::MgaFiduciary) || a.id == account_id(org, AccountType::LossFund) {
                        prop_assert!(a.debits_posted + a.debits_pending <= a.credits_posted, "overdrawn");
                    }
                }
            }
            Ok(())
        })?;
    }
}
