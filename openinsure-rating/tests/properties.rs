//! Property tests of the rating engine.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

use openinsure_core::geo::US_STATE_CODES;
use openinsure_core::ids::{OrgId, SubmissionId};
use openinsure_core::money::Money;
use openinsure_core::quote::{Schedule, ScheduleAdjustment, StepKind};
use openinsure_core::submission::{LossYear, Submission};
use openinsure_core::testkit::sample_submission;
use openinsure_rating::table::ExposureBasis;
use openinsure_rating::{RateTable, rate};
use proptest::prelude::*;
use rust_decimal::Decimal;

const GL: &str = include_str!("../../examples/rate-tables/general-liability.json");
const CYBER: &str = include_str!("../../examples/rate-tables/cyber.json");

fn gl() -> RateTable {
    RateTable::from_json(GL).unwrap()
}

fn base() -> Submission {
    sample_submission(SubmissionId::from_uuid(uuid::Uuid::from_u128(1)), OrgId::from_uuid(uuid::Uuid::from_u128(2)))
}

fn money(max: i64) -> impl Strategy<Value = Money> {
    prop_oneof![Just(0i64), 0..max, Just(max)].prop_map(Money::from_cents)
}

fn naics() -> impl Strategy<Value = String> {
    "[0-9]{2,6}"
}

prop_compose! {
    fn loss_year()(policy_year in 2015i32..2027, earned in money(1_000_000_000_000), paid in money(1_000_000_000_000),
                   reserved in money(1_000_000_000_000), claim_count in 0u32..100) -> LossYear {
        LossYear { policy_year, earned_premium: earned, paid, reserved, claim_count }
    }
}

prop_compose! {
    fn submission()(
        revenue in money(i64::MAX / 4),
        payroll in proptest::option::of(money(i64::MAX / 4)),
        tiv in proptest::option::of(money(i64::MAX / 4)),
        employees in proptest::option::of(0u32..10_000_000),
        state in proptest::sample::select(US_STATE_CODES.to_vec()),
        naics in naics(),
        limit in money(1_000_000_000_000),
        deductible in money(100_000_000),
        history in proptest::collection::vec(loss_year(), 0..6),
    ) -> Submission {
        let mut s = base();
        s.annual_revenue = revenue;
        s.annual_payroll = payroll;
        s.total_insured_value = tiv;
        s.employee_count = employees;
        s.risk_state = state.parse().unwrap();
        s.naics_code = naics.parse().unwrap();
        s.requested_occurrence_limit = limit;
        s.deductible = deductible;
        s.loss_history = history;
        s
    }
}

fn schedule() -> impl Strategy<Value = Schedule> {
    proptest::collection::vec(
        (proptest::sample::select(vec!["MGMT", "SAFETY", "EQUIPMENT", "BOGUS", ""]), -300i64..300),
        0..4,
    )
    .prop_map(|v| Schedule {
        adjustments: v
            .into_iter()
            .map(|(c, n)| ScheduleAdjustment { reason_code: c.to_owned(), adjustment: Decimal::new(n, 3) })
            .collect(),
    })
}

fn basis() -> impl Strategy<Value = ExposureBasis> {
    proptest::sample::select(vec![
        ExposureBasis::RevenuePer1000,
        ExposureBasis::PayrollPer100,
        ExposureBasis::InsuredValuePer100,
        ExposureBasis::PerEmployee,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any submission, any schedule, any exposure basis: an answer, never a panic; and every
    /// answer's worksheet recomputes to its totals exactly.
    #[test]
    fn never_panics_and_worksheet_recomputes(sub in submission(), sched in schedule(), basis in basis(), cyber in any::<bool>()) {
        let mut table = if cyber { RateTable::from_json(CYBER).unwrap() } else { gl() };
        table.exposure_basis = basis;
        let mut sub = sub;
        sub.line_of_business = table.line_of_business;
        sub.program_id = table.program_id;
        if let Ok(rating) = rate(&sub, &table, &sched) {
            prop_assert_eq!(rating.worksheet.recompute().unwrap(), rating.totals);
            let t = rating.totals;
            prop_assert_eq!(t.net_premium.cents(), t.gross_premium.cents() - t.commission.cents());
            prop_assert_eq!(t.total_due.cents(), t.gross_premium.cents() + t.fees.cents() + t.taxes.cents());
            prop_assert!(t.gross_premium.cents() >= 0);
        }
    }

    /// Arbitrary text is never a panic for the table parser.
    #[test]
    fn table_parser_never_panics(text in ".{0,400}") {
        let _ = RateTable::from_json(&text);
    }

    /// Arbitrary edits of a valid table: parse or refuse, never panic; what parses rates without panic.
    #[test]
    fn mutated_tables_never_panic(pos in 0usize..4000, byte in any::<u8>(), sub in submission()) {
        let mut bytes = GL.as_bytes().to_vec();
        let i = pos % bytes.len();
        bytes[i] = byte;
        if let Ok(text) = String::from_utf8(bytes)
            && let Ok(table) = RateTable::from_json(&text)
        {
            let mut sub = sub;
            sub.line_of_business = table.line_of_business;
            sub.program_id = table.program_id;
            let _ = rate(&sub, &table, &Schedule::none());
        }
    }

    /// More exposure never lowers the premium before the minimum, when every factor is positive
    /// (a validated table's are). Exposure here is payroll, so no band depends on it.
    #[test]
    fn more_exposure_never_lowers_premium(sub in submission(), a in 0i64..10_000_000_000_000, b in 0i64..10_000_000_000_000) {
        let mut table = gl();
        table.exposure_basis = ExposureBasis::PayrollPer100;
        let (lo, hi) = (a.min(b), a.max(b));
        let mut s = sub;
        s.line_of_business = table.line_of_business;
        s.program_id = table.program_id;
        s.annual_payroll = Some(Money::from_cents(lo));
        let low = rate(&s, &table, &Schedule::none());
        s.annual_payroll = Some(Money::from_cents(hi));
        let high = rate(&s, &table, &Schedule::none());
        if let (Ok(low), Ok(high)) = (low, high) {
            let before_min = |r: &openinsure_core::quote::Rating| {
                r.worksheet.steps.iter().find(|s| s.step == StepKind::MinimumPremium).map(|s| s.input).unwrap()
            };
            prop_assert!(before_min(&high) >= before_min(&low));
            prop_assert!(high.totals.gross_premium >= low.totals.gross_premium);
        }
    }

    /// Rating is deterministic.
    #[test]
    fn same_input_same_rating(sub in submission(), sched in schedule()) {
        let table = gl();
        let mut s = sub;
        s.line_of_business = table.line_of_business;
        s.program_id = table.program_id;
        prop_assert_eq!(rate(&s, &table, &sched), rate(&s, &table, &sched));
    }
}

#[test]
fn worksheet_steps_run_in_the_seed_order() {
    let r = rate(&base(), &gl(), &Schedule::none()).unwrap();
    let order: Vec<StepKind> = r.worksheet.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        order,
        vec![
            StepKind::BaseRate,
            StepKind::IncreasedLimit,
            StepKind::Deductible,
            StepKind::StateModifier,
            StepKind::ClassModifier,
            StepKind::RevenueBand,
            StepKind::LossHistory,
            StepKind::ScheduleRating,
            StepKind::MinimumPremium,
        ]
    );
}

#[test]
fn mismatched_line_or_program_is_refused() {
    let mut s = base();
    s.line_of_business = openinsure_core::submission::LineOfBusiness::Cyber;
    assert!(
        matches!(rate(&s, &gl(), &Schedule::none()), Err(openinsure_rating::RatingError::Invalid { field, .. }) if field == "lineOfBusiness")
    );
    let mut s = base();
    s.program_id = uuid::Uuid::from_u128(5).into();
    assert!(
        matches!(rate(&s, &gl(), &Schedule::none()), Err(openinsure_rating::RatingError::Invalid { field, .. }) if field == "programId")
    );
}

#[test]
fn negative_amounts_are_named() {
    let mut s = base();
    s.annual_revenue = Money::from_cents(-1);
    assert!(
        matches!(rate(&s, &gl(), &Schedule::none()), Err(openinsure_rating::RatingError::Invalid { field, .. }) if field == "annualRevenueCents")
    );
}

#[test]
fn book_picks_the_version_in_force() {
    let mut book = openinsure_rating::RateBook::new();
    let v3 = gl();
    let mut v4 = gl();
    v4.version = 4;
    v4.effective_date = chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    book.insert(v3.clone()).unwrap();
    book.insert(v4).unwrap();
    assert!(book.insert(v3.clone()).is_err(), "same id and version twice");
    let pick = |y, m, d| {
        book.in_force(v3.line_of_business, v3.program_id, chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap())
            .map(|t| t.version)
    };
    assert_eq!(pick(2027, 2, 28).unwrap(), 3);
    assert_eq!(pick(2027, 3, 1).unwrap(), 4);
    assert!(pick(2026, 6, 30).is_err());
}
