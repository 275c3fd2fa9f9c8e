//! `openinsure demo`: an example submission through intake and rating, on the in-memory stores.

use std::sync::Arc;

use async_trait::async_trait;
use openinsure::bind::BindRequest;
use openinsure::dispatch::{Dispatcher, Subscriber};
use openinsure::ledger::LedgerSubscriber;
use openinsure::system::{SystemClock, UuidV7};
use openinsure::{App, Ports};
use openinsure_core::billing::BillingPlan;
use openinsure_core::events::EventEnvelope;
use openinsure_core::quote::{Schedule, ScheduleAdjustment};
use openinsure_core::store::Page;
use openinsure_core::tenancy::{Caller, Role};
use openinsure_core::underwriting::authority::ReferralStatus;
use openinsure_ledger::LedgerBackend;
use openinsure_memory::MemoryStore;
use openinsure_rating::{RateBook, RateTable};
use serde_json::json;

use crate::Failure;
use crate::render;

const GL_TABLE: &str = include_str!("../../../examples/rate-tables/general-liability.json");
const CYBER_TABLE: &str = include_str!("../../../examples/rate-tables/cyber.json");
const ACME: &str = include_str!("../../../examples/submissions/acme.json");

fn fail(stage: &str) -> impl Fn(openinsure::Error) -> Failure + '_ {
    move |e| Failure(format!("demo failed at {stage}: {e}"))
}

/// Runs the demo on a fresh in-memory platform, booking on `ledger`.
pub fn run(ledger: Arc<dyn LedgerBackend>) -> Result<(), Failure> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Failure(e.to_string()))?;
    runtime.block_on(demo(ledger))
}

/// The example rate tables (general liability and cyber).
pub fn rate_book() -> Result<RateBook, Failure> {
    let mut book = RateBook::new();
    for (name, text) in [("general-liability.json", GL_TABLE), ("cyber.json", CYBER_TABLE)] {
        let table = RateTable::from_json(text).map_err(|e| Failure(format!("{name}: {e}")))?;
        book.insert(table).map_err(|e| Failure(format!("{name}: {e}")))?;
    }
    Ok(book)
}

async fn demo(ledger: Arc<dyn LedgerBackend>) -> Result<(), Failure> {
    let book = rate_book()?;
    let store = MemoryStore::default();
    // the demo's clock starts now and jumps ahead to the policy period for the claim
    let clock = Arc::new(openinsure_core::clock::FixedClock::new(chrono::Utc::now()));
    let audit = openinsure_memory::MemoryAuditLog::default();
    let mut ports = Ports::in_memory(clock.clone(), Arc::new(UuidV7));
    ports.store = Arc::new(store.clone());
    ports.ledger = ledger.clone();
    ports.audit = Arc::new(audit.clone());
    let app = App::new(ports, Arc::new(book));

    let org = openinsure_core::ids::OrgId::from_uuid(uuid::Uuid::from_u128(0x0192_f0c0_0000_7000_8000_0000_0000_00a0));
    let producer = Caller::new(user(0xa1)?, org, Role::Producer);
    let underwriter = Caller::new(user(0xa2)?, org, Role::Underwriter);
    let senior = Caller::new(user(0xa3)?, org, Role::Underwriter);
    let admin = Caller::new(user(0xa4)?, org, Role::Admin);
    setup(&app, &admin, &[(&underwriter, 1), (&senior, 2)], true).await?;

    println!("\n== 1. intake: a producer submits an ACORD 125 application");
    let mut bad: serde_json::Value = serde_json::from_str(ACME).map_err(|e| Failure(e.to_string()))?;
    bad["riskState"] = "Ohio".into();
    bad["annualRevenueCents"] = serde_json::json!(-100);
    bad["termMonths"] = serde_json::json!(60);
    match openinsure_core::submission::SubmissionInput::read(&bad, app.clock().now()) {
        Err(errors) => {
            println!("a malformed copy is refused with every field error at once:");
            for e in errors.iter() {
                println!("   {e}");
            }
        }
        other => return Err(Failure(format!("demo expected a refusal, got {other:?}"))),
    }
    let submission = app.submit(&producer, &typed(serde_json::from_str(ACME))?).await.map_err(fail("intake"))?;
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
            ScheduleAdjustment { reason_code: "MGMT".into(), adjustment: openinsure_core::Decimal::new(-5, 2) },
            ScheduleAdjustment { reason_code: "SAFETY".into(), adjustment: openinsure_core::Decimal::new(-3, 2) },
            ScheduleAdjustment { reason_code: "EQUIPMENT".into(), adjustment: openinsure_core::Decimal::new(2, 2) },
        ],
    };
    let revised = app.quote(&underwriter, submission.id, &schedule).await.map_err(fail("underwriting"))?;
    print!("{}", render::worksheet(&revised.rating));
    let check =
        revised.rating.worksheet.recompute().map_err(|e| Failure(format!("worksheet does not recompute: {e}")))?;
    println!("worksheet recomputes from its own lines: {}", if check == revised.rating.totals { "yes" } else { "NO" });

    println!("\n== 4. bind: every pre-bind check again, then one atomic write");
    let request = BindRequest {
        billing_plan: BillingPlan::TenPay,
        down_payment_id: Some(uuid::Uuid::now_v7()),
        ..BindRequest::default()
    };
    let policy = app.bind(&underwriter, revised.id, &request).await.map_err(fail("bind"))?;
    println!(
        "policy {} bound: {} to {}, premium {}, DA agreement {}",
        policy.number,
        policy.effective_date,
        policy.expiration_date,
        policy.annual_premium,
        policy.da_agreement_id.map(|a| a.to_string()).unwrap_or_default()
    );
    println!("billing plan {:?}:", policy.billing.plan);
    for i in &policy.billing.installments {
        println!(
            "   {:>2}  due {}  premium {:>12}  fees+taxes {:>10}  installment fee {:>8}  total {:>12}",
            i.number,
            i.due_date,
            i.premium.to_string(),
            i.fees_and_taxes.to_string(),
            i.installment_fee.to_string(),
            i.total.to_string()
        );
    }
    let again = app.bind(&underwriter, revised.id, &request).await.map_err(fail("rebind"))?;
    println!("binding the same quote again returns {} and writes nothing", again.number);

    println!("\n== 5. referral: a larger risk is beyond the underwriter's authority");
    let mut big: serde_json::Value = serde_json::from_str(ACME).map_err(|e| Failure(e.to_string()))?;
    big["insuredName"] = json!("Buckeye Fasteners Inc.");
    big["fein"] = json!("31-7654321");
    big["annualRevenueCents"] = json!(4_500_000_000i64);
    let big_sub = app.submit(&producer, &typed(Ok(big))?).await.map_err(fail("intake"))?;
    let big_quote = app.quote(&underwriter, big_sub.id, &Schedule::none()).await.map_err(fail("rating"))?;
    println!("quote {} at {} comes back with flags:", big_quote.id, big_quote.rating.totals.gross_premium);
    for f in &big_quote.flags {
        println!("   [{:?}] {}: {}", f.severity, f.code, f.message);
    }
    match app.bind(&underwriter, big_quote.id, &BindRequest::default()).await {
        Err(openinsure::Error::Checks { flags }) => {
            println!("bind refused: {}", flags.iter().map(|f| f.code.as_str()).collect::<Vec<_>>().join(", "))
        }
        other => return Err(Failure(format!("demo expected a refused bind, got {other:?}"))),
    }
    let queue = app.referrals(&senior, Some(ReferralStatus::Pending), Page::first()).await.map_err(fail("queue"))?;
    let referral = queue.first().ok_or_else(|| Failure("demo expected a pending referral".into()))?;
    println!("referral {} routed to level {}", referral.id, referral.routed_to_level);
    let approved = app
        .approve_referral(&senior, referral.id, "adequate_pricing", "clean loss history; priced at the technical rate")
        .await
        .map_err(fail("approval"))?;
    println!("approved by the senior underwriter ({:?})", approved.status);
    let big_policy = app.bind(&underwriter, big_quote.id, &BindRequest::default()).await.map_err(fail("bind"))?;
    println!("policy {} bound on referral {}", big_policy.number, referral.id);

    println!("\n== 6. events: the outbox, delivered at least once");
    let policy = policy.clone();
    let dispatcher = Dispatcher::new(app.backend().clone())
        .subscribe(Arc::new(Printer))
        .subscribe(Arc::new(LedgerSubscriber::new(ledger.clone())));
    let report = dispatcher.run_once().await.map_err(fail("dispatch"))?;
    println!("{} events delivered, {} left for retry", report.delivered, report.failed);

    println!("\n== 7. ledger: the down payment, split, double entry");
    let finance = Caller::new(user(0xa5)?, org, Role::FinanceAnalyst);
    let entries = app.journal(&finance, 100).await.map_err(fail("journal"))?;
    print!("{}", render::journal(&entries));
    let tb = app.trial_balance(&finance).await.map_err(fail("trial balance"))?;
    print!("{}", render::trial_balance(&tb));

    claims(&app, &audit, &clock, &dispatcher, org, &producer, &finance, &policy).await
}

/// Stage 8: a claim filed, reserved and paid, and seen by three roles.
#[allow(clippy::too_many_arguments, reason = "the demo's cast")]
async fn claims(
    app: &App,
    audit: &openinsure_memory::MemoryAuditLog,
    clock: &openinsure_core::clock::FixedClock,
    dispatcher: &Dispatcher,
    org: openinsure_core::ids::OrgId,
    producer: &Caller,
    finance: &Caller,
    policy: &openinsure_core::policy::Policy,
) -> Result<(), Failure> {
    use openinsure::claims::RequestMeta;
    use openinsure_core::claims::ClaimStatus;
    use openinsure_core::clock::Clock;
    use openinsure_core::money::Money;
    use openinsure_hipaa::PhiAuditLogExt;

    println!("\n== 8. claims: first notice of loss, reserve, payment; PHI by role, every access audited");
    let loss_date = policy.effective_date + chrono::Days::new(44);
    clock.set((loss_date + chrono::Days::new(15)).and_hms_opt(10, 0, 0).unwrap_or_default().and_utc());
    println!("(the clock moves to {})", clock.now().format("%Y-%m-%d"));
    let meta = RequestMeta { ip: "198.51.100.23".parse().ok(), user_agent: Some("openinsure-demo".into()) };
    let supervisor = Caller::new(user(0xb1)?, org, Role::ClaimsSupervisor);
    let adjuster = Caller::new(user(0xb2)?, org, Role::Adjuster);
    let admin = Caller::new(user(0xb3)?, org, Role::Admin);
    let notice = json!({
        "policyId": policy.id,
        "dateOfLoss": loss_date.to_string(),
        "lossDescription": "employee injured unloading a pallet",
        "claimantName": "Jane Roe",
        "claimantDob": "1984-06-02",
        "claimantSsn": "123-45-6789",
        "claimantPhone": "+1 937 555 0142",
        "diagnosisCodes": ["S39.012A"],
        "procedureCodes": ["97110"],
        "treatmentNotes": "lumbar strain; physical therapy twice a week"
    });
    let claim = app.file_claim(producer, typed(Ok(notice))?, &meta).await.map_err(fail("first notice of loss"))?;
    println!("claim {} filed on {} by the producer", claim.id, claim.policy_number);
    app.assign_claim(&supervisor, claim.id, adjuster.user_id, &meta).await.map_err(fail("assignment"))?;
    app.transition_claim(&adjuster, claim.id, ClaimStatus::Open, &meta).await.map_err(fail("open"))?;
    app.set_claim_reserve(&adjuster, claim.id, Money::from_cents(1_200_000), "initial estimate", &meta)
        .await
        .map_err(fail("reserve"))?;
    app.transition_claim(&adjuster, claim.id, ClaimStatus::Reserved, &meta).await.map_err(fail("reserved"))?;
    // claims are paid from the loss fund, funded out of the premium owed to the carrier: the ledger
    // refuses to move more than the carrier is owed
    let owed = app
        .account_balance(finance, openinsure_ledger::chart::AccountType::CarrierPayable)
        .await
        .map_err(fail("carrier payable"))?;
    let owed = Money::from_cents(i64::try_from(owed.credits_posted - owed.debits_posted).unwrap_or(0));
    app.fund_loss_fund(finance, owed, uuid::Uuid::now_v7()).await.map_err(fail("loss fund"))?;
    println!("loss fund funded with {owed}, the premium owed to the carrier so far");
    let paid = app
        .pay_claim(&adjuster, claim.id, Money::from_cents(100_000), uuid::Uuid::now_v7(), &meta)
        .await
        .map_err(fail("payment"))?;
    println!("reserve {} -> paid {}, reserve now {}", Money::from_cents(1_200_000), paid.paid, paid.reserve);
    for r in &paid.reserve_history {
        println!("   reserve {} -> {} ({})", r.from, r.to, r.reason);
    }
    let report = dispatcher.run_once().await.map_err(fail("dispatch"))?;
    println!("{} claim events booked on the ledger", report.delivered);

    for (who, c) in [("producer", producer), ("adjuster (assigned)", &adjuster), ("admin without MFA", &admin)] {
        let seen = app.claim(c, claim.id, &meta).await.map_err(fail("claim read"))?;
        println!(
            "as {who:<20} claimant {:<12} ssn {:<13} diagnosis {:<12} paid {}",
            seen.claimant_name,
            seen.claimant_ssn.as_deref().unwrap_or("-"),
            if seen.diagnosis_codes.is_empty() { "-".to_owned() } else { seen.diagnosis_codes.join(",") },
            seen.paid
        );
    }
    let (_, entries) = audit.chain(org).await.map_err(|e| Failure(e.to_string()))?;
    audit.verify_chain(org).await.map_err(|e| Failure(format!("audit chain: {e}")))?;
    println!("PHI audit log: {} entries, hash chain verified", entries.len());
    for e in entries.iter().rev().take(3).rev() {
        println!("   #{} {} {} {} by {}", e.sequence, e.action.as_str(), e.table, e.fields.join(","), e.user_id);
    }
    let tb = app.trial_balance(finance).await.map_err(fail("trial balance"))?;
    println!("trial balance {}", if tb.is_balanced() { "balanced" } else { "NOT BALANCED" });
    Ok(())
}

/// A typed input from the demo's JSON.
fn typed<T: serde::de::DeserializeOwned>(json: serde_json::Result<serde_json::Value>) -> Result<T, Failure> {
    json.and_then(serde_json::from_value).map_err(|e| Failure(format!("demo input: {e}")))
}

fn user(n: u128) -> Result<openinsure_core::ids::UserId, Failure> {
    Ok(openinsure_core::ids::UserId::from_uuid(uuid::Uuid::from_u128(0x0192_f0c0_0000_7000_8000_0000_0000_0000 + n)))
}

struct Printer;

#[async_trait]
impl Subscriber for Printer {
    fn name(&self) -> &str {
        "printer"
    }

    async fn handle(&self, event: &EventEnvelope) -> openinsure::Result<()> {
        println!("   {}  {}", event.occurred_at.format("%H:%M:%S"), event.event.name());
        Ok(())
    }
}

/// A DA agreement for the example GL program and an authority ladder: level 1 up to $25,000
/// premium and $1M limits, level 2 (approves referrals) up to $100,000 and $2M.
pub async fn setup(app: &App, admin: &Caller, users: &[(&Caller, u8)], verbose: bool) -> Result<(), Failure> {
    app.create_agreement(
        admin,
        typed(Ok(json!({
            "programId": "0192f0c0-0000-7000-8000-000000000001",
            "carrierId": "0192f0c0-0000-7000-8000-0000000000ca",
            "name": "Main Street GL 2026-27 (Buckeye Mutual)",
            "status": "active",
            "effectiveDate": "2026-07-01",
            "expirationDate": "2027-07-01",
            "maxOccurrenceLimitCents": 200_000_000,
            "maxAggregateLimitCents": 400_000_000,
            "maxPremiumCents": 25_000_000,
            "authorizedStates": "all",
            "excludedStates": ["FL", "LA"],
            "excludedNaics": ["2123", "3251"],
            "annualPremiumLimitCents": 500_000_000,
            "quarterlyPremiumLimitCents": 175_000_000,
            "maxPoliciesPerInsured": 1,
            "allowedTermsMonths": [12],
            "minYearsInBusiness": 3,
            "mgaCommissionRate": "0.10"
        })))?,
    )
    .await
    .map_err(fail("DA agreement"))?;
    if verbose {
        println!("\n== 0. set-up: a DA agreement with the carrier, and the authority ladder");
    }
    for (who, level) in users {
        let (premium, limit) = if *level == 1 { (2_500_000i64, 100_000_000i64) } else { (10_000_000, 200_000_000) };
        let profile = app
            .create_profile(
                admin,
                typed(Ok(json!({
                    "name": format!("GL level {level}"),
                    "level": level,
                    "lineOfBusiness": "general_liability",
                    "maxOccurrenceLimitCents": limit,
                    "maxAggregateLimitCents": limit * 2,
                    "maxPremiumCents": premium,
                    "canApproveReferrals": *level >= 2
                })))?,
            )
            .await
            .map_err(fail("authority profile"))?;
        app.assign_profile(admin, who.user_id, profile.id).await.map_err(fail("assignment"))?;
        if verbose {
            println!("   user {} holds `{}` (premium up to {})", who.user_id, profile.name, profile.max_premium);
        }
    }
    Ok(())
}

/// The embedded default for `openinsure ledger`: the example policy bound with its down payment
/// booked on `ledger`. Returns the app and a finance caller of the example org.
pub async fn example_books(ledger: Arc<dyn LedgerBackend>) -> Result<(App, Caller), Failure> {
    let mut book = RateBook::new();
    book.insert(RateTable::from_json(GL_TABLE).map_err(|e| Failure(e.to_string()))?)
        .map_err(|e| Failure(e.to_string()))?;
    let mut ports = Ports::in_memory(Arc::new(SystemClock), Arc::new(UuidV7));
    ports.ledger = ledger.clone();
    let app = App::new(ports, Arc::new(book));
    let org = openinsure_core::ids::OrgId::from_uuid(uuid::Uuid::now_v7());
    let producer = Caller::new(user(0xa1)?, org, Role::Producer);
    let underwriter = Caller::new(user(0xa2)?, org, Role::Underwriter);
    let admin = Caller::new(user(0xa4)?, org, Role::Admin);
    setup(&app, &admin, &[(&underwriter, 1)], false).await?;
    let submission = app.submit(&producer, &typed(serde_json::from_str(ACME))?).await.map_err(fail("intake"))?;
    let quote = app.quote(&underwriter, submission.id, &Schedule::none()).await.map_err(fail("rating"))?;
    let request = BindRequest {
        billing_plan: BillingPlan::Quarterly,
        down_payment_id: Some(uuid::Uuid::now_v7()),
        ..BindRequest::default()
    };
    app.bind(&underwriter, quote.id, &request).await.map_err(fail("bind"))?;
    Dispatcher::new(app.backend().clone())
        .subscribe(Arc::new(LedgerSubscriber::new(ledger)))
        .run_once()
        .await
        .map_err(fail("dispatch"))?;
    Ok((app, Caller::new(user(0xa5)?, org, Role::FinanceAnalyst)))
}
