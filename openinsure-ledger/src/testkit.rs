//! The `LedgerBackend` conformance suite (feature `testkit`).
//!
//! Every backend runs every function here, so the in-memory engine and TigerBeetle cannot drift.
//! `run` keeps ids of separate runs apart on a backend that persists (pass a different value each
//! run: a timestamp); each function uses its own org.
#![allow(clippy::expect_used, clippy::panic, reason = "a conformance suite fails by panicking, as assert! does")]

use openinsure_core::ids::{OrgId, PolicyId};
use openinsure_core::money::{Factor, Money};
use uuid::Uuid;

use crate::backend::LedgerBackend;
use crate::chart::{AccountType, TransferCode, account_id, chart_of_accounts};
use crate::model::{
    Account, AccountFilter, AccountFlags, CreateAccountError, CreateTransferError, LEDGER_USD, QueryFilter, Transfer,
    TransferFlags,
};
use crate::ops::{PremiumAllocation, PremiumPayment, SplitTerms, split_premium_payment};
use crate::reports::trial_balance;

/// An org for suite `n` of run `run`.
pub fn org(run: u64, n: u64) -> OrgId {
    OrgId::from_uuid(Uuid::from_u64_pair(run, n))
}

/// A premium payment of `premium` cents with $25 fees and 3% tax, 15% / 10% commissions, on a
/// policy id of its own per org and key (so runs on one persistent backend never share one).
pub fn payment(org: OrgId, key: u128, premium: i64) -> PremiumPayment {
    PremiumPayment {
        org,
        payment_id: Uuid::from_u128(key),
        policy_id: PolicyId::from_uuid(Uuid::from_u128(key ^ 0xff ^ org.as_uuid().as_u128())),
        allocation: PremiumAllocation {
            premium: Money::from_cents(premium),
            policy_fees: Money::from_cents(2_500),
            taxes: Money::from_cents(premium * 3 / 100),
            installment_fee: Money::ZERO,
        },
        terms: SplitTerms {
            producer_commission_rate: Factor::new(rust_decimal::Decimal::new(15, 2)),
            mga_commission_rate: Factor::new(rust_decimal::Decimal::new(10, 2)),
        },
    }
}

async fn chart(b: &dyn LedgerBackend, org: OrgId) -> Vec<Account> {
    let accounts = chart_of_accounts(org);
    let failures = b.create_accounts(&accounts).await.expect("backend");
    assert!(failures.is_empty(), "creating the chart: {failures:?}");
    accounts
}

async fn accounts_of(b: &dyn LedgerBackend, org: OrgId) -> Vec<Account> {
    let ids: Vec<u128> = chart_of_accounts(org).iter().map(|a| a.id).collect();
    b.lookup_accounts(&ids).await.expect("backend")
}

async fn balance(b: &dyn LedgerBackend, org: OrgId, ty: AccountType) -> Account {
    b.lookup_accounts(&[account_id(org, ty)]).await.expect("backend").pop().expect("account exists")
}

/// Accounts: creation, idempotent re-creation, field conflicts, invalid ids.
pub async fn accounts(b: &dyn LedgerBackend, run: u64) {
    let o = org(run, 1);
    let created = chart(b, o).await;
    let again = b.create_accounts(&created).await.expect("backend");
    assert_eq!(again.len(), created.len());
    assert!(again.iter().all(|f| f.error == CreateAccountError::Exists), "{again:?}");
    let found = accounts_of(b, o).await;
    assert_eq!(found.len(), created.len());
    for (a, f) in created.iter().zip(&found) {
        assert_eq!(
            (a.id, a.code, a.ledger, a.flags, a.user_data_128),
            (f.id, f.code, f.ledger, f.flags, f.user_data_128)
        );
        assert_eq!((f.debits_posted, f.credits_posted, f.debits_pending, f.credits_pending), (0, 0, 0, 0));
        assert!(f.timestamp > 0);
    }
    let mut different = created[0];
    different.flags = AccountFlags::NONE;
    let r = b.create_accounts(&[different]).await.expect("backend");
    assert!(matches!(r[0].error, CreateAccountError::ExistsWithDifferent(_)), "{r:?}");
    let zero = Account { id: 0, ledger: LEDGER_USD, code: 1, ..Account::default() };
    assert_eq!(b.create_accounts(&[zero]).await.expect("backend")[0].error, CreateAccountError::IdMustNotBeZero);
    assert!(b.lookup_accounts(&[Uuid::from_u64_pair(run, 999_999).as_u128()]).await.expect("backend").is_empty());
}

/// A premium split posts; its retry posts nothing; the trial balance balances.
pub async fn premium_split_and_retry(b: &dyn LedgerBackend, run: u64) {
    let o = org(run, 2);
    chart(b, o).await;
    let p = payment(o, 0x5151, 832_191);
    let transfers = split_premium_payment(&p).expect("split");
    let failures = b.create_transfers(&transfers).await.expect("backend");
    assert!(failures.is_empty(), "{failures:?}");
    let total = p.allocation.total().expect("total").cents() as u128;
    let fiduciary = balance(b, o, AccountType::MgaFiduciary).await;
    assert_eq!((fiduciary.credits_posted, fiduciary.debits_posted), (total, total));
    let tb = trial_balance(&accounts_of(b, o).await);
    assert!(tb.is_balanced());
    assert_eq!(tb.total_debits_cents, total * 2);

    // the same payment again: nothing posts, every event answers exists or linked_event_failed
    let retry = b.create_transfers(&transfers).await.expect("backend");
    assert_eq!(retry.len(), transfers.len(), "every event of the retried chain fails: {retry:?}");
    assert!(retry.iter().any(|f| f.error == CreateTransferError::Exists), "{retry:?}");
    assert!(
        retry.iter().all(|f| matches!(f.error, CreateTransferError::Exists | CreateTransferError::LinkedEventFailed)),
        "{retry:?}"
    );
    assert_eq!(balance(b, o, AccountType::MgaFiduciary).await.credits_posted, total, "posted once");

    // one leg alone again: exists
    let single = b.create_transfers(&transfers[transfers.len() - 1..]).await.expect("backend");
    assert_eq!(single[0].error, CreateTransferError::Exists);
    // the same id with another amount: exists_with_different_amount
    let mut changed = transfers[transfers.len() - 1];
    changed.amount += 1;
    let r = b.create_transfers(&[changed]).await.expect("backend");
    assert_eq!(r[0].error, CreateTransferError::ExistsWithDifferent("amount".into()), "{r:?}");

    let found = b.lookup_transfers(&transfers.iter().map(|t| t.id).collect::<Vec<_>>()).await.expect("backend");
    assert_eq!(found.len(), transfers.len());
    for (a, f) in transfers.iter().zip(&found) {
        assert_eq!(
            (a.id, a.amount, a.debit_account_id, a.credit_account_id, a.code),
            (f.id, f.amount, f.debit_account_id, f.credit_account_id, f.code)
        );
        assert!(f.timestamp > 0);
    }
    assert!(found.windows(2).all(|w| w[0].timestamp < w[1].timestamp), "timestamps increase");
}

/// A linked chain with one bad leg posts nothing.
pub async fn linked_chain_is_atomic(b: &dyn LedgerBackend, run: u64) {
    let o = org(run, 3);
    chart(b, o).await;
    let mut transfers = split_premium_payment(&payment(o, 0x6161, 100_000)).expect("split");
    let last = transfers.len() - 1;
    transfers[last].credit_account_id = Uuid::from_u64_pair(run, 123_456).as_u128(); // no such account
    let failures = b.create_transfers(&transfers).await.expect("backend");
    assert_eq!(failures.len(), transfers.len(), "{failures:?}");
    for f in &failures {
        let expected = if f.index == last {
            CreateTransferError::CreditAccountNotFound
        } else {
            CreateTransferError::LinkedEventFailed
        };
        assert_eq!(f.error, expected, "{failures:?}");
    }
    assert!(b.lookup_transfers(&transfers.iter().map(|t| t.id).collect::<Vec<_>>()).await.expect("backend").is_empty());
    let tb = trial_balance(&accounts_of(b, o).await);
    assert_eq!((tb.total_debits_cents, tb.total_credits_cents), (0, 0), "nothing posted");

    // an unlinked neighbour after a failed chain still posts
    let fixed = split_premium_payment(&payment(o, 0x6262, 100_000)).expect("split");
    assert!(b.create_transfers(&fixed).await.expect("backend").is_empty());
}

/// `debits_must_not_exceed_credits` and its twin, and invalid transfers.
pub async fn balance_constraints(b: &dyn LedgerBackend, run: u64) {
    let o = org(run, 4);
    chart(b, o).await;
    let overdraft = Transfer {
        id: Uuid::from_u64_pair(run, 4001).as_u128(),
        debit_account_id: account_id(o, AccountType::MgaFiduciary),
        credit_account_id: account_id(o, AccountType::CarrierPayable),
        amount: 1,
        ledger: LEDGER_USD,
        code: TransferCode::PremiumPayment.code(),
        ..Transfer::default()
    };
    assert_eq!(b.create_transfers(&[overdraft]).await.expect("backend")[0].error, CreateTransferError::ExceedsCredits);
    // such a failure is remembered: the id can never succeed, even once the books allow it
    assert!(
        b.create_transfers(&split_premium_payment(&payment(o, 0x4444, 100_000)).expect("split"))
            .await
            .expect("backend")
            .is_empty()
    );
    assert_eq!(b.create_transfers(&[overdraft]).await.expect("backend")[0].error, CreateTransferError::IdAlreadyFailed);

    // an account that may never be credited beyond its debits
    let capped = Account {
        id: Uuid::from_u64_pair(run, 4100).as_u128(),
        ledger: LEDGER_USD,
        code: 99,
        flags: AccountFlags::CREDITS_MUST_NOT_EXCEED_DEBITS,
        user_data_128: o.as_uuid().as_u128(),
        ..Account::default()
    };
    assert!(b.create_accounts(&[capped]).await.expect("backend").is_empty());
    let over = Transfer {
        id: Uuid::from_u64_pair(run, 4002).as_u128(),
        debit_account_id: account_id(o, AccountType::PremiumReceivable),
        credit_account_id: capped.id,
        ..overdraft
    };
    assert_eq!(b.create_transfers(&[over]).await.expect("backend")[0].error, CreateTransferError::ExceedsDebits);

    let same = Transfer {
        id: Uuid::from_u64_pair(run, 4003).as_u128(),
        credit_account_id: overdraft.debit_account_id,
        ..overdraft
    };
    assert_eq!(
        b.create_transfers(&[same]).await.expect("backend")[0].error,
        CreateTransferError::AccountsMustBeDifferent
    );
    let zero_id = Transfer { id: 0, ..overdraft };
    assert_eq!(b.create_transfers(&[zero_id]).await.expect("backend")[0].error, CreateTransferError::IdMustNotBeZero);
    let missing = Transfer {
        id: Uuid::from_u64_pair(run, 4004).as_u128(),
        debit_account_id: Uuid::from_u64_pair(run, 4999).as_u128(),
        ..overdraft
    };
    assert_eq!(
        b.create_transfers(&[missing]).await.expect("backend")[0].error,
        CreateTransferError::DebitAccountNotFound
    );

    let euro = Account { id: Uuid::from_u64_pair(run, 4200).as_u128(), ledger: 978, code: 2, ..Account::default() };
    assert!(b.create_accounts(&[euro]).await.expect("backend").is_empty());
    let cross = Transfer {
        id: Uuid::from_u64_pair(run, 4005).as_u128(),
        debit_account_id: account_id(o, AccountType::PremiumReceivable),
        credit_account_id: euro.id,
        ..overdraft
    };
    assert_eq!(
        b.create_transfers(&[cross]).await.expect("backend")[0].error,
        CreateTransferError::AccountsMustHaveTheSameLedger
    );
}

/// Pending transfers reserve, post (partly) or void, once.
pub async fn two_phase(b: &dyn LedgerBackend, run: u64) {
    let o = org(run, 5);
    chart(b, o).await;
    assert!(
        b.create_transfers(&split_premium_payment(&payment(o, 0x7171, 1_000_000)).expect("split"))
            .await
            .expect("backend")
            .is_empty()
    );
    let carrier_before = balance(b, o, AccountType::CarrierPayable).await;
    let base = Transfer {
        debit_account_id: account_id(o, AccountType::CarrierPayable),
        credit_account_id: account_id(o, AccountType::Disbursements),
        ledger: LEDGER_USD,
        code: TransferCode::Settlement.code(),
        ..Transfer::default()
    };
    let pending = Transfer {
        id: Uuid::from_u64_pair(run, 5001).as_u128(),
        amount: 100_000,
        flags: TransferFlags::PENDING,
        ..base
    };
    assert!(b.create_transfers(&[pending]).await.expect("backend").is_empty());
    let carrier = balance(b, o, AccountType::CarrierPayable).await;
    assert_eq!((carrier.debits_pending, carrier.debits_posted), (100_000, carrier_before.debits_posted));

    let too_much = Transfer {
        id: Uuid::from_u64_pair(run, 5002).as_u128(),
        amount: 100_001,
        pending_id: pending.id,
        flags: TransferFlags::POST_PENDING_TRANSFER,
        ..base
    };
    assert_eq!(
        b.create_transfers(&[too_much]).await.expect("backend")[0].error,
        CreateTransferError::ExceedsPendingTransferAmount
    );
    let post = Transfer {
        id: Uuid::from_u64_pair(run, 5003).as_u128(),
        amount: 60_000,
        pending_id: pending.id,
        flags: TransferFlags::POST_PENDING_TRANSFER,
        ..base
    };
    assert!(b.create_transfers(&[post]).await.expect("backend").is_empty());
    let carrier = balance(b, o, AccountType::CarrierPayable).await;
    assert_eq!(
        (carrier.debits_pending, carrier.debits_posted),
        (0, carrier_before.debits_posted + 60_000),
        "the rest is released"
    );
    let again = Transfer { id: Uuid::from_u64_pair(run, 5004).as_u128(), ..post };
    assert_eq!(
        b.create_transfers(&[again]).await.expect("backend")[0].error,
        CreateTransferError::PendingTransferAlreadyPosted
    );

    let pending2 =
        Transfer { id: Uuid::from_u64_pair(run, 5005).as_u128(), amount: 5_000, flags: TransferFlags::PENDING, ..base };
    assert!(b.create_transfers(&[pending2]).await.expect("backend").is_empty());
    let void = Transfer {
        id: Uuid::from_u64_pair(run, 5006).as_u128(),
        amount: 5_000,
        pending_id: pending2.id,
        flags: TransferFlags::VOID_PENDING_TRANSFER,
        ..base
    };
    assert!(b.create_transfers(&[void]).await.expect("backend").is_empty());
    let carrier = balance(b, o, AccountType::CarrierPayable).await;
    assert_eq!((carrier.debits_pending, carrier.debits_posted), (0, carrier_before.debits_posted + 60_000));
    let void_again = Transfer { id: Uuid::from_u64_pair(run, 5007).as_u128(), ..void };
    assert_eq!(
        b.create_transfers(&[void_again]).await.expect("backend")[0].error,
        CreateTransferError::PendingTransferAlreadyVoided
    );
    let not_pending = Transfer { id: Uuid::from_u64_pair(run, 5008).as_u128(), pending_id: post.id, ..void };
    assert_eq!(
        b.create_transfers(&[not_pending]).await.expect("backend")[0].error,
        CreateTransferError::PendingTransferNotPending
    );
    let unknown = Transfer {
        id: Uuid::from_u64_pair(run, 5009).as_u128(),
        pending_id: Uuid::from_u64_pair(run, 5999).as_u128(),
        ..void
    };
    assert_eq!(
        b.create_transfers(&[unknown]).await.expect("backend")[0].error,
        CreateTransferError::PendingTransferNotFound
    );
    assert!(trial_balance(&accounts_of(b, o).await).is_balanced());
}

/// Reading transfers back: by account, by caller data, and balance history.
pub async fn queries(b: &dyn LedgerBackend, run: u64) {
    let o = org(run, 6);
    chart(b, o).await;
    let first = split_premium_payment(&payment(o, 0x8181, 200_000)).expect("split");
    let second = split_premium_payment(&payment(o, 0x8282, 300_000)).expect("split");
    assert!(b.create_transfers(&first).await.expect("backend").is_empty());
    assert!(b.create_transfers(&second).await.expect("backend").is_empty());
    let fiduciary = account_id(o, AccountType::MgaFiduciary);

    let all = b.get_account_transfers(AccountFilter::all(fiduciary, 100)).await.expect("backend");
    assert_eq!(all.len(), first.len() + second.len(), "every leg touches the fiduciary account");
    assert!(all.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    let credits_only = b
        .get_account_transfers(AccountFilter { debits: false, ..AccountFilter::all(fiduciary, 100) })
        .await
        .expect("backend");
    assert_eq!(credits_only.len(), 2, "the two receipts");
    let newest = b
        .get_account_transfers(AccountFilter { reversed: true, limit: 1, ..AccountFilter::all(fiduciary, 100) })
        .await
        .expect("backend");
    assert_eq!(newest[0].id, second[second.len() - 1].id);

    let by_policy = b
        .query_transfers(QueryFilter { user_data_128: first[0].user_data_128, limit: 100, ..QueryFilter::default() })
        .await
        .expect("backend");
    assert_eq!(by_policy.iter().map(|t| t.id).collect::<Vec<_>>(), first.iter().map(|t| t.id).collect::<Vec<_>>());
    let commissions = b
        .query_transfers(QueryFilter {
            user_data_128: first[0].user_data_128,
            code: TransferCode::CommissionSplit.code(),
            limit: 100,
            ..QueryFilter::default()
        })
        .await
        .expect("backend");
    assert_eq!(commissions.len(), 2);

    let history = b.get_account_balances(AccountFilter::all(fiduciary, 100)).await.expect("backend");
    assert_eq!(history.len(), all.len());
    let last = history.last().expect("history");
    let now = balance(b, o, AccountType::MgaFiduciary).await;
    assert_eq!((last.debits_posted, last.credits_posted), (now.debits_posted, now.credits_posted));
    assert_eq!(history[0].credits_posted, first[0].amount);
}

/// The chart's balance constraints, enforced by the engine: no real balance can go below zero,
/// whatever the order of operations (a loss-fund transfer beyond what the carrier is owed, a
/// settlement beyond a payable, a claim payment beyond the loss fund, a reserve takedown beyond
/// the reserve are refused, and a refused chain posts nothing).
pub async fn chart_constraints(b: &dyn LedgerBackend, run: u64) {
    use crate::ops::{ClaimTransaction, ClaimTransactionKind, claim_transaction, fund_losses, settle};

    let org = org(run, 8);
    chart(b, org).await;
    let key = |n: u64| Uuid::from_u64_pair(run, 8_000 + n);
    let refused = |failures: &[crate::model::Failure<CreateTransferError>], code: CreateTransferError| {
        failures.iter().any(|f| f.error == code)
    };

    // nothing is owed to the carrier yet: no loss funding
    let f = b.create_transfers(&fund_losses(org, key(1), Money::from_cents(1)).expect("op")).await.expect("backend");
    assert!(refused(&f, CreateTransferError::ExceedsCredits), "funding from an empty carrier payable: {f:?}");

    // a premium payment makes the carrier owed its net premium; funding up to it passes, beyond it not
    let p = payment(org, u128::from(run) << 64 | 0x8001, 100_000);
    assert!(b.create_transfers(&split_premium_payment(&p).expect("split")).await.expect("backend").is_empty());
    let carrier = balance(b, org, AccountType::CarrierPayable).await;
    let owed = i64::try_from(carrier.credits_posted - carrier.debits_posted).expect("fits");
    let f =
        b.create_transfers(&fund_losses(org, key(2), Money::from_cents(owed + 1)).expect("op")).await.expect("backend");
    assert!(refused(&f, CreateTransferError::ExceedsCredits), "funding beyond what is owed: {f:?}");
    let f = b.create_transfers(&fund_losses(org, key(3), Money::from_cents(owed - 1_000)).expect("op")).await;
    assert!(f.expect("backend").is_empty(), "funding within what is owed");

    // settling a payable beyond its balance
    let producer = balance(b, org, AccountType::ProducerPayable).await;
    let due = i64::try_from(producer.credits_posted - producer.debits_posted).expect("fits");
    let f = b
        .create_transfers(&settle(org, key(4), AccountType::ProducerPayable, Money::from_cents(due + 1)).expect("op"))
        .await
        .expect("backend");
    assert!(refused(&f, CreateTransferError::ExceedsCredits), "paying the producer more than owed: {f:?}");

    // a claim payment beyond the loss fund, and a reserve taken down beyond what was set up
    let claim = Uuid::from_u64_pair(run, 8_100);
    let reserve = |n: u64, change: i64| ClaimTransaction {
        org,
        transaction_id: key(n),
        claim_id: claim,
        kind: ClaimTransactionKind::ReserveAdjustment { change: Money::from_cents(change) },
    };
    let f = b.create_transfers(&claim_transaction(&reserve(5, -1)).expect("op")).await.expect("backend");
    assert!(!f.is_empty(), "a reserve cannot be taken down below zero: {f:?}");
    assert!(b.create_transfers(&claim_transaction(&reserve(6, 5_000)).expect("op")).await.expect("backend").is_empty());
    let pay = ClaimTransaction {
        org,
        transaction_id: key(7),
        claim_id: claim,
        kind: ClaimTransactionKind::Payment {
            amount: Money::from_cents(owed - 1_000 + 1),
            reserve_takedown: Money::from_cents(5_000),
        },
    };
    let before = accounts_of(b, org).await;
    let f = b.create_transfers(&claim_transaction(&pay).expect("op")).await.expect("backend");
    assert!(refused(&f, CreateTransferError::ExceedsCredits), "paying beyond the loss fund: {f:?}");
    assert_eq!(accounts_of(b, org).await, before, "a refused chain posts nothing");
    assert!(trial_balance(&accounts_of(b, org).await).is_balanced());

    // one operation moves at most Money::MAX_OPERATION
    assert!(fund_losses(org, key(8), Money::from_cents(Money::MAX_OPERATION.cents() + 1)).is_err());
    assert!(fund_losses(org, key(9), Money::from_cents(i64::MAX)).is_err());
}

/// Every suite of this crate, for a backend's tests (a new `run` each time on a backend that
/// persists).
pub async fn all(b: &dyn LedgerBackend, run: u64) {
    accounts(b, run).await;
    premium_split_and_retry(b, run).await;
    linked_chain_is_atomic(b, run).await;
    balance_constraints(b, run).await;
    two_phase(b, run).await;
    queries(b, run).await;
    chart_constraints(b, run).await;
}
