//! The rating worksheet: the audit trail of a premium.
//!
//! A [`Worksheet`] is the audit trail of a premium: every step of the factor pipeline with the
//! factor applied, the table entry that matched, the cents that went in and came out, and every
//! charge computed from the gross premium (commission, fees, taxes). Each line carries enough to
//! be recomputed, and [`Worksheet::recompute`] does exactly that: a worksheet whose lines do not add
//! up is refused. The rating engine computes every line through [`Operation::apply`], the same
//! function recomputation uses, so the two cannot drift.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::geo::{Naics, UsState};
use crate::money::{Factor, Money, MoneyError, Rounding};

/// The steps of the premium pipeline, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Exposure units times the base rate.
    BaseRate,
    /// Increased-limit factor.
    IncreasedLimit,
    /// Deductible factor.
    Deductible,
    /// State modifier.
    StateModifier,
    /// Class (NAICS) modifier.
    ClassModifier,
    /// Revenue band.
    RevenueBand,
    /// Experience (loss history) modifier.
    LossHistory,
    /// Underwriter schedule credits and debits.
    ScheduleRating,
    /// Minimum premium floor.
    MinimumPremium,
}

impl StepKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::BaseRate => "base_rate",
            StepKind::IncreasedLimit => "increased_limit",
            StepKind::Deductible => "deductible",
            StepKind::StateModifier => "state_modifier",
            StepKind::ClassModifier => "class_modifier",
            StepKind::RevenueBand => "revenue_band",
            StepKind::LossHistory => "loss_history",
            StepKind::ScheduleRating => "schedule_rating",
            StepKind::MinimumPremium => "minimum_premium",
        }
    }
}

/// What a step does to the running premium.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Operation {
    /// `units * rate` dollars, in cents: the base premium (the input is ignored, and is zero).
    PerExposure {
        /// Exposure units (revenue / 1,000, payroll / 100, ...).
        units: Decimal,
        /// Dollars per unit.
        rate: Factor,
    },
    /// `in * factor`.
    Multiply {
        /// The factor.
        factor: Factor,
    },
    /// `max(in, minimum)`.
    Floor {
        /// The minimum premium.
        #[serde(rename = "minimumCents")]
        minimum: Money,
    },
    /// A flat amount, whatever the input (fees).
    Flat {
        /// The amount.
        #[serde(rename = "amountCents")]
        amount: Money,
    },
}

impl Operation {
    /// Applies the operation to `input`, rounding with `rounding`.
    pub fn apply(&self, input: Money, rounding: Rounding) -> Result<Money, MoneyError> {
        match *self {
            Operation::PerExposure { units, rate } => {
                // Exact in 128-bit integers when it fits: units * rate * 100 / 10^(scales).
                if let Some(product) =
                    units.mantissa().checked_mul(rate.value().mantissa()).and_then(|p| p.checked_mul(100))
                    && let Some(divisor) = 10i128.checked_pow(units.scale() + rate.value().scale())
                {
                    let q = rounding.div_round(product, divisor);
                    return i64::try_from(q).map(Money::from_cents).map_err(|_| MoneyError::Overflow { op: "mul" });
                }
                let cents = units
                    .checked_mul(rate.value())
                    .and_then(|d| d.checked_mul(Decimal::ONE_HUNDRED))
                    .ok_or(MoneyError::Overflow { op: "mul" })?;
                Money::from_decimal_cents(cents, rounding)
            }
            Operation::Multiply { factor } => input.mul_factor(factor, rounding),
            Operation::Floor { minimum } => Ok(input.max(minimum)),
            Operation::Flat { amount } => Ok(amount),
        }
    }
}

/// Which table entry a step matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Matched {
    /// The entry for this state.
    State {
        /// The state.
        state: UsState,
    },
    /// The table's default, because nothing more specific matched.
    Default,
    /// The longest NAICS prefix in the table that covers the code.
    NaicsPrefix {
        /// The prefix.
        prefix: Naics,
    },
    /// A band of an ordered band table (lower bound inclusive).
    Band {
        /// Position of the band in the table.
        index: u32,
        /// Its lower bound, as written in the table (cents or a ratio).
        lower_bound: Decimal,
    },
    /// An increased-limit or deductible entry.
    Amount {
        /// The table entry's amount.
        #[serde(rename = "amountCents")]
        amount: Money,
    },
    /// A loss-ratio band.
    LossRatio {
        /// The loss ratio computed over the experience period.
        loss_ratio: Decimal,
        /// Position of the band.
        index: u32,
    },
    /// No loss history in the experience period.
    NoHistory,
    /// Schedule rating: the sum of the credits and debits.
    Schedule {
        /// Number of adjustments.
        adjustments: u32,
    },
    /// The minimum premium did not bind: the premium was already above it.
    AboveMinimum,
    /// The minimum premium was applied.
    MinimumApplied,
}

impl std::fmt::Display for Matched {
    /// A short summary: `state:OH`, `default`, `prefix:3327`, `band:1`, `amount:100000000`,
    /// `loss_ratio:0.25/band:0`, `no_history`, `schedule:2`, `above_minimum`, `minimum_applied`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matched::State { state } => write!(f, "state:{state}"),
            Matched::Default => f.write_str("default"),
            Matched::NaicsPrefix { prefix } => write!(f, "prefix:{prefix}"),
            Matched::Band { index, .. } => write!(f, "band:{index}"),
            Matched::Amount { amount } => write!(f, "amount:{}", amount.cents()),
            Matched::LossRatio { loss_ratio, index } => {
                write!(f, "loss_ratio:{}/band:{index}", loss_ratio.normalize())
            }
            Matched::NoHistory => f.write_str("no_history"),
            Matched::Schedule { adjustments } => write!(f, "schedule:{adjustments}"),
            Matched::AboveMinimum => f.write_str("above_minimum"),
            Matched::MinimumApplied => f.write_str("minimum_applied"),
        }
    }
}

/// One step of the premium pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorksheetStep {
    /// Which step.
    pub step: StepKind,
    /// What it did.
    pub operation: Operation,
    /// Which table entry matched.
    pub matched: Matched,
    /// The rounding used.
    pub rounding: Rounding,
    /// Premium before the step.
    #[serde(rename = "inCents")]
    pub input: Money,
    /// Premium after the step.
    #[serde(rename = "outCents")]
    pub output: Money,
}

/// Kinds of charge computed from the gross premium.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChargeKind {
    /// Producer commission (part of gross premium).
    Commission,
    /// A flat fee (added to the amount due).
    Fee,
    /// A premium tax or stamping fee (added to the amount due).
    Tax,
}

/// A charge computed from the gross premium.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    /// Which kind.
    pub kind: ChargeKind,
    /// The table's code for it (`commission`, `policy_fee`, `premium_tax`, ...).
    pub code: std::sync::Arc<str>,
    /// How it was computed.
    pub operation: Operation,
    /// The rounding used.
    pub rounding: Rounding,
    /// The gross premium it was computed from.
    #[serde(rename = "baseCents")]
    pub base: Money,
    /// The amount.
    #[serde(rename = "amountCents")]
    pub amount: Money,
}

/// The totals of a quote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// Gross premium: the pipeline's result.
    #[serde(rename = "grossPremiumCents")]
    pub gross_premium: Money,
    /// Producer commission.
    #[serde(rename = "commissionCents")]
    pub commission: Money,
    /// Net premium: gross minus commission.
    #[serde(rename = "netPremiumCents")]
    pub net_premium: Money,
    /// Sum of fees.
    #[serde(rename = "feesCents")]
    pub fees: Money,
    /// Sum of taxes.
    #[serde(rename = "taxesCents")]
    pub taxes: Money,
    /// What the insured pays: gross premium + fees + taxes.
    #[serde(rename = "totalDueCents")]
    pub total_due: Money,
}

/// Why a worksheet does not recompute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorksheetError {
    /// A step's input is not the previous step's output.
    #[error("step {index} (`{step}`) starts from {found} cents, the previous step ended at {expected}")]
    Broken {
        /// The step's position.
        index: usize,
        /// Its kind.
        step: &'static str,
        /// The previous output.
        expected: i64,
        /// This step's input.
        found: i64,
    },
    /// A line's output is not what its operation gives.
    #[error("line {index} (`{name}`) says {found} cents, its operation gives {expected}")]
    Mismatch {
        /// The line's position.
        index: usize,
        /// Its name or code.
        name: String,
        /// Recomputed.
        expected: i64,
        /// Recorded.
        found: i64,
    },
    /// A charge was computed from something other than the gross premium.
    #[error("charge `{code}` is based on {found} cents, not the gross premium")]
    WrongBase {
        /// The charge's code.
        code: String,
        /// Its recorded base.
        found: i64,
    },
    /// The worksheet has no steps.
    #[error("worksheet has no steps")]
    Empty,
    /// A sum overflowed.
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// One underwriter credit (negative) or debit (positive), with the reason for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleAdjustment {
    /// Why (`MGMT` for management experience, `SAFETY` for a safety program, ...): one of the
    /// rate table's schedule reason codes.
    #[schemars(length(min = 1, max = 32), pattern(crate::text::LINE_PATTERN))]
    pub reason_code: String,
    /// The adjustment as a fraction (`"-0.05"` is a 5% credit).
    pub adjustment: Decimal,
}

/// The schedule rating an underwriter applies to one quote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// Credits and debits.
    #[serde(default)]
    pub adjustments: Vec<ScheduleAdjustment>,
}

impl Schedule {
    /// No adjustments.
    pub fn none() -> Self {
        Schedule::default()
    }
}

/// The rating worksheet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Worksheet {
    /// The premium pipeline, in order.
    pub steps: Vec<WorksheetStep>,
    /// Commission, fees and taxes.
    pub charges: Vec<Charge>,
}

impl Worksheet {
    /// Recomputes every line from its own inputs and returns the totals they give.
    pub fn recompute(&self) -> Result<Totals, WorksheetError> {
        let mut running: Option<Money> = None;
        for (index, s) in self.steps.iter().enumerate() {
            let expected_in = running.unwrap_or(Money::ZERO);
            if s.input != expected_in {
                return Err(WorksheetError::Broken {
                    index,
                    step: s.step.as_str(),
                    expected: expected_in.cents(),
                    found: s.input.cents(),
                });
            }
            let out = s.operation.apply(s.input, s.rounding)?;
            if out != s.output {
                return Err(WorksheetError::Mismatch {
                    index,
                    name: s.step.as_str().to_owned(),
                    expected: out.cents(),
                    found: s.output.cents(),
                });
            }
            running = Some(out);
        }
        let gross = running.ok_or(WorksheetError::Empty)?;
        let mut totals = Totals { gross_premium: gross, ..Totals::default() };
        for (index, c) in self.charges.iter().enumerate() {
            if c.base != gross {
                return Err(WorksheetError::WrongBase { code: c.code.to_string(), found: c.base.cents() });
            }
            let amount = c.operation.apply(c.base, c.rounding)?;
            if amount != c.amount {
                return Err(WorksheetError::Mismatch {
                    index: self.steps.len() + index,
                    name: c.code.to_string(),
                    expected: amount.cents(),
                    found: c.amount.cents(),
                });
            }
            let bucket = match c.kind {
                ChargeKind::Commission => &mut totals.commission,
                ChargeKind::Fee => &mut totals.fees,
                ChargeKind::Tax => &mut totals.taxes,
            };
            *bucket = bucket.checked_add(amount)?;
        }
        totals.net_premium = gross.checked_sub(totals.commission)?;
        totals.total_due = gross.checked_add(totals.fees)?.checked_add(totals.taxes)?;
        Ok(totals)
    }
}

/// The rate table a quote was rated on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateTableRef {
    /// The table's id.
    pub id: std::sync::Arc<str>,
    /// Its version.
    pub version: u32,
}

/// The result of rating: totals, worksheet, and the table it came from. Pure data, no ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    /// The totals.
    #[serde(flatten)]
    pub totals: Totals,
    /// The commission rate applied.
    pub commission_rate: Factor,
    /// The worksheet.
    pub worksheet: Worksheet,
    /// The rate table.
    pub rate_table: RateTableRef,
    /// How many days a quote on this rating stays valid.
    pub valid_days: u32,
    /// The underwriter's schedule credits and debits, with their reason codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduleAdjustment>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Factor {
        Factor::new(s.parse().unwrap())
    }

    fn sheet() -> Worksheet {
        let base = Operation::PerExposure { units: "4500".parse().unwrap(), rate: f("2.10") };
        let b = base.apply(Money::ZERO, Rounding::HalfEven).unwrap();
        let m = Operation::Multiply { factor: f("1.15") };
        let o = m.apply(b, Rounding::HalfEven).unwrap();
        let fee = Operation::Flat { amount: Money::from_cents(25_000) };
        let tax = Operation::Multiply { factor: f("0.03") };
        Worksheet {
            steps: vec![
                WorksheetStep {
                    step: StepKind::BaseRate,
                    operation: base,
                    matched: Matched::Default,
                    rounding: Rounding::HalfEven,
                    input: Money::ZERO,
                    output: b,
                },
                WorksheetStep {
                    step: StepKind::ClassModifier,
                    operation: m,
                    matched: Matched::Default,
                    rounding: Rounding::HalfEven,
                    input: b,
                    output: o,
                },
            ],
            charges: vec![
                Charge {
                    kind: ChargeKind::Fee,
                    code: "policy_fee".into(),
                    operation: fee,
                    rounding: Rounding::HalfEven,
                    base: o,
                    amount: Money::from_cents(25_000),
                },
                Charge {
                    kind: ChargeKind::Tax,
                    code: "premium_tax".into(),
                    operation: tax,
                    rounding: Rounding::HalfEven,
                    base: o,
                    amount: tax.apply(o, Rounding::HalfEven).unwrap(),
                },
            ],
        }
    }

    #[test]
    fn recomputes() {
        let t = sheet().recompute().unwrap();
        assert_eq!(t.gross_premium.cents(), 1_086_750);
        assert_eq!(t.fees.cents(), 25_000);
        assert_eq!(t.taxes.cents(), 32_602); // 32602.5 -> even neighbour
        assert_eq!(t.total_due.cents(), 1_086_750 + 25_000 + 32_602);
        assert_eq!(t.net_premium, t.gross_premium);
    }

    #[test]
    fn detects_tampering() {
        let mut s = sheet();
        s.steps[1].output = Money::from_cents(1);
        assert!(matches!(s.recompute(), Err(WorksheetError::Mismatch { index: 1, .. })));
        let mut s = sheet();
        s.steps[1].input = Money::from_cents(1);
        assert!(matches!(s.recompute(), Err(WorksheetError::Broken { index: 1, .. })));
        let mut s = sheet();
        s.charges[1].amount = Money::from_cents(1);
        assert!(matches!(s.recompute(), Err(WorksheetError::Mismatch { index: 3, .. })));
        let mut s = sheet();
        s.charges[0].base = Money::from_cents(1);
        assert!(matches!(s.recompute(), Err(WorksheetError::WrongBase { .. })));
        assert_eq!(Worksheet::default().recompute(), Err(WorksheetError::Empty));
    }
}
