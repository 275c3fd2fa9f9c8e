//! The factor pipeline.
//!
//! Order, as the seed gives it: base rate (then increased limits and deductible, when the table
//! has them), state modifier, class modifier, revenue band, loss history, schedule rating; then the
//! minimum premium; then commission, fees and taxes computed from the gross premium. The running
//! premium is whole cents, rounded half-even after every step; each step is one worksheet line.

use std::sync::{Arc, LazyLock};

use chrono::Datelike;
use openinsure_core::geo::UsState;
use openinsure_core::money::{Factor, Money, Rounding};
use openinsure_core::quote::{
    Charge, ChargeKind, Matched, Operation, RateTableRef, Rating, Schedule, StepKind, Totals, Worksheet, WorksheetStep,
};
use openinsure_core::submission::Submission;
use rust_decimal::Decimal;

use crate::error::RatingError;
use crate::table::{ByState, ExposureBasis, RateTable};

static COMMISSION: LazyLock<Arc<str>> = LazyLock::new(|| Arc::from("commission"));

/// The rounding applied after every step.
pub const ROUNDING: Rounding = Rounding::HalfEven;
/// Decimal places a loss ratio is rounded to (half-even) before it is matched to a band.
pub const LOSS_RATIO_DP: u32 = 4;

struct Pipeline {
    steps: Vec<WorksheetStep>,
    running: Money,
}

impl Pipeline {
    fn push(&mut self, step: StepKind, operation: Operation, matched: Matched) -> Result<(), RatingError> {
        let output = operation.apply(self.running, ROUNDING)?;
        self.steps.push(WorksheetStep { step, operation, matched, rounding: ROUNDING, input: self.running, output });
        self.running = output;
        Ok(())
    }
}

fn state_lookup<T: Copy>(t: &ByState<T>, state: UsState, field: &str, what: &str) -> Result<(T, Matched), RatingError> {
    match t.get(state) {
        Some((v, true)) => Ok((*v, Matched::State { state })),
        Some((v, false)) => Ok((*v, Matched::Default)),
        None => Err(RatingError::invalid(field, format!("no {what} for state `{state}` and no default"))),
    }
}

fn non_negative(m: Money, field: &str) -> Result<Money, RatingError> {
    if m.is_negative() { Err(RatingError::invalid(field, "must not be negative")) } else { Ok(m) }
}

fn exposure_units(sub: &Submission, basis: ExposureBasis) -> Result<Decimal, RatingError> {
    let missing = |field: &str| {
        RatingError::invalid(field, format!("is required by the rate table's exposure basis `{}`", basis.as_str()))
    };
    Ok(match basis {
        ExposureBasis::RevenuePer1000 => {
            Decimal::from(non_negative(sub.annual_revenue, "annualRevenueCents")?.cents()) / Decimal::from(100_000)
        }
        ExposureBasis::PayrollPer100 => {
            let p = sub.annual_payroll.ok_or_else(|| missing("annualPayrollCents"))?;
            Decimal::from(non_negative(p, "annualPayrollCents")?.cents()) / Decimal::from(10_000)
        }
        ExposureBasis::InsuredValuePer100 => {
            let v = sub.total_insured_value.ok_or_else(|| missing("totalInsuredValueCents"))?;
            Decimal::from(non_negative(v, "totalInsuredValueCents")?.cents()) / Decimal::from(10_000)
        }
        ExposureBasis::PerEmployee => Decimal::from(sub.employee_count.ok_or_else(|| missing("employeeCount"))?),
    })
}

/// Rates `sub` on `table` with the underwriter's `schedule`. Pure and deterministic.
pub fn rate(sub: &Submission, table: &RateTable, schedule: &Schedule) -> Result<Rating, RatingError> {
    if sub.line_of_business != table.line_of_business {
        return Err(RatingError::invalid(
            "lineOfBusiness",
            format!("rate table `{}` rates `{}`, not `{}`", table.id, table.line_of_business, sub.line_of_business),
        ));
    }
    if sub.program_id != table.program_id {
        return Err(RatingError::invalid(
            "programId",
            format!("rate table `{}` belongs to program `{}`", table.id, table.program_id),
        ));
    }
    let state = sub.risk_state;
    let mut p = Pipeline { steps: Vec::with_capacity(9), running: Money::ZERO };

    // Base rate.
    let units = exposure_units(sub, table.exposure_basis)?;
    let (rate, matched) = state_lookup(&table.base_rates, state, "rateTable.baseRates", "base rate")?;
    p.push(StepKind::BaseRate, Operation::PerExposure { units, rate }, matched)?;

    // Increased limits: the requested limit, or the next higher one listed.
    if !table.increased_limit_factors.is_empty() {
        let limit = non_negative(sub.requested_occurrence_limit, "requestedOccurrenceLimitCents")?;
        let entry = table.increased_limit_factors.iter().find(|l| l.limit >= limit).ok_or_else(|| {
            RatingError::invalid(
                "requestedOccurrenceLimitCents",
                format!("`{}` is above the highest limit the rate table lists", limit.cents()),
            )
        })?;
        p.push(
            StepKind::IncreasedLimit,
            Operation::Multiply { factor: entry.factor },
            Matched::Amount { amount: entry.limit },
        )?;
    }

    // Deductible: the largest listed deductible not above the requested one.
    if !table.deductible_factors.is_empty() {
        let deductible = non_negative(sub.deductible, "deductibleCents")?;
        let entry = table.deductible_factors.iter().rev().find(|d| d.deductible <= deductible).ok_or_else(|| {
            RatingError::invalid(
                "deductibleCents",
                format!("`{}` is below the smallest deductible the rate table lists", deductible.cents()),
            )
        })?;
        p.push(
            StepKind::Deductible,
            Operation::Multiply { factor: entry.factor },
            Matched::Amount { amount: entry.deductible },
        )?;
    }

    if let Some(mods) = &table.state_modifiers {
        let (factor, matched) = state_lookup(mods, state, "rateTable.stateModifiers", "state modifier")?;
        p.push(StepKind::StateModifier, Operation::Multiply { factor }, matched)?;
    }

    if let Some(classes) = &table.class_modifiers {
        let (factor, matched) = match classes.lookup(sub.naics_code) {
            Some((prefix, f)) => (f, Matched::NaicsPrefix { prefix }),
            None => (
                classes.default.ok_or_else(|| {
                    RatingError::invalid(
                        "rateTable.classModifiers",
                        format!("no modifier covers NAICS `{}` and no default", sub.naics_code),
                    )
                })?,
                Matched::Default,
            ),
        };
        p.push(StepKind::ClassModifier, Operation::Multiply { factor }, matched)?;
    }

    if !table.revenue_bands.is_empty() {
        let revenue = non_negative(sub.annual_revenue, "annualRevenueCents")?;
        let (index, band) = table
            .revenue_bands
            .iter()
            .enumerate()
            .rev()
            .find(|(_, b)| b.min_revenue <= revenue)
            .ok_or_else(|| RatingError::invalid("rateTable.revenueBands", "no band covers the revenue"))?;
        p.push(
            StepKind::RevenueBand,
            Operation::Multiply { factor: band.factor },
            Matched::Band { index: index as u32, lower_bound: Decimal::from(band.min_revenue.cents()) },
        )?;
    }

    if let Some(lh) = &table.loss_history {
        let year = sub.effective_date.year();
        let first = year.saturating_sub(i32::try_from(lh.experience_period_years).unwrap_or(i32::MAX));
        let mut earned = Money::ZERO;
        let mut losses = Money::ZERO;
        let mut years = 0u32;
        for (i, l) in sub.loss_history.iter().enumerate() {
            if l.policy_year >= first && l.policy_year < year {
                for (amount, name) in
                    [(l.earned_premium, "earnedPremiumCents"), (l.paid, "paidCents"), (l.reserved, "reservedCents")]
                {
                    if amount.is_negative() {
                        return Err(RatingError::invalid(format!("lossHistory[{i}].{name}"), "must not be negative"));
                    }
                }
                earned = earned.checked_add(l.earned_premium)?;
                losses = losses.checked_add(l.paid)?.checked_add(l.reserved)?;
                years += 1;
            }
        }
        let (factor, matched) = if years == 0 || (earned.is_zero() && losses.is_zero()) {
            (lh.no_history_factor, Matched::NoHistory)
        } else if earned.is_zero() {
            return Err(RatingError::invalid(
                "lossHistory",
                "losses are reported with no earned premium in the experience period",
            ));
        } else {
            // losses / earned to LOSS_RATIO_DP places, exactly, in integers.
            let scaled =
                ROUNDING.div_round(i128::from(losses.cents()) * 10i128.pow(LOSS_RATIO_DP), i128::from(earned.cents()));
            let ratio = Decimal::try_from_i128_with_scale(scaled, LOSS_RATIO_DP)
                .map_err(|_| RatingError::invalid("lossHistory", "loss ratio is out of range"))?;
            let (index, band) =
                lh.bands.iter().enumerate().rev().find(|(_, b)| b.min_loss_ratio <= ratio).ok_or_else(|| {
                    RatingError::invalid("rateTable.lossHistory.bands", "no band covers the loss ratio")
                })?;
            (band.factor, Matched::LossRatio { loss_ratio: ratio, index: index as u32 })
        };
        p.push(StepKind::LossHistory, Operation::Multiply { factor }, matched)?;
    }

    // Schedule rating: always recorded, a factor of 1 when there are no adjustments.
    let bounds = &table.schedule_rating;
    let mut total = Decimal::ZERO;
    for (i, a) in schedule.adjustments.iter().enumerate() {
        if a.reason_code.trim().is_empty() {
            return Err(RatingError::invalid(format!("schedule.adjustments[{i}].reasonCode"), "must not be empty"));
        }
        if !bounds.reason_codes.is_empty() && !bounds.reason_codes.iter().any(|c| c == &a.reason_code) {
            return Err(RatingError::invalid(
                format!("schedule.adjustments[{i}].reasonCode"),
                format!("`{}` is not a reason code of the rate table", a.reason_code),
            ));
        }
        total = total
            .checked_add(a.adjustment)
            .ok_or_else(|| RatingError::invalid(format!("schedule.adjustments[{i}].adjustment"), "is out of range"))?;
    }
    if total < bounds.min_total || total > bounds.max_total {
        return Err(RatingError::invalid(
            "schedule.adjustments",
            format!(
                "total adjustment `{total}` is outside the rate table's bounds {} to {}",
                bounds.min_total, bounds.max_total
            ),
        ));
    }
    p.push(
        StepKind::ScheduleRating,
        Operation::Multiply { factor: Factor::new(Decimal::ONE + total) },
        Matched::Schedule { adjustments: schedule.adjustments.len() as u32 },
    )?;

    if let Some(minimums) = &table.minimum_premium {
        let (minimum, _) = state_lookup(minimums, state, "rateTable.minimumPremiumCents", "minimum premium")?;
        let matched = if p.running < minimum { Matched::MinimumApplied } else { Matched::AboveMinimum };
        p.push(StepKind::MinimumPremium, Operation::Floor { minimum }, matched)?;
    }

    let gross = p.running;
    let mut charges = Vec::with_capacity(1 + table.fees.len() + 2);
    let mut totals = Totals { gross_premium: gross, ..Totals::default() };

    let commission_op = Operation::Multiply { factor: table.commission_rate };
    totals.commission = commission_op.apply(gross, ROUNDING)?;
    charges.push(Charge {
        kind: ChargeKind::Commission,
        code: Arc::clone(&COMMISSION),
        operation: commission_op,
        rounding: ROUNDING,
        base: gross,
        amount: totals.commission,
    });
    for fee in &table.fees {
        let op = Operation::Flat { amount: fee.amount };
        let amount = op.apply(gross, ROUNDING)?;
        totals.fees = totals.fees.checked_add(amount)?;
        charges.push(Charge {
            kind: ChargeKind::Fee,
            code: fee.code.clone(),
            operation: op,
            rounding: ROUNDING,
            base: gross,
            amount,
        });
    }
    if let Some(taxes) = &table.taxes
        && let Some((list, _)) = taxes.get(state)
    {
        for tax in list {
            let op = Operation::Multiply { factor: tax.rate };
            let amount = op.apply(gross, ROUNDING)?;
            totals.taxes = totals.taxes.checked_add(amount)?;
            charges.push(Charge {
                kind: ChargeKind::Tax,
                code: tax.code.clone(),
                operation: op,
                rounding: ROUNDING,
                base: gross,
                amount,
            });
        }
    }
    totals.net_premium = gross.checked_sub(totals.commission)?;
    totals.total_due = gross.checked_add(totals.fees)?.checked_add(totals.taxes)?;

    Ok(Rating {
        totals,
        commission_rate: table.commission_rate,
        worksheet: Worksheet { steps: p.steps, charges },
        rate_table: RateTableRef { id: table.id.clone(), version: table.version },
        valid_days: table.quote_valid_days,
        schedule: schedule.adjustments.clone(),
    })
}
