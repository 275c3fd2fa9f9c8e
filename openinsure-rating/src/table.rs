//! Rate tables: the data a premium is computed from.
//!
//! A table is JSON (see `examples/rate-tables/` and the schema from [`RateTable::json_schema`]).
//! It is keyed by line of business and program and versioned by effective date. All rates and
//! factors are decimal strings (`"1.15"`), never JSON floats; all amounts are integer cents in
//! fields ending in `Cents`.
//!
//! Band tables (revenue bands, loss-ratio bands) list lower bounds, inclusive, in ascending order
//! starting at zero: a value falls in the last band whose lower bound it reaches, so bands can
//! have no gaps and no overlaps.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use openinsure_core::error::FieldErrors;
use openinsure_core::geo::{Naics, UsState};
use openinsure_core::ids::ProgramId;
use openinsure_core::money::{Factor, Money};
use openinsure_core::submission::LineOfBusiness;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::RatingError;

/// How exposure units are counted for the base rate.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe,
)]
#[serde(rename_all = "snake_case")]
pub enum ExposureBasis {
    /// Annual revenue per $1,000.
    #[serde(rename = "revenue_per_1000")]
    RevenuePer1000,
    /// Annual payroll per $100.
    #[serde(rename = "payroll_per_100")]
    PayrollPer100,
    /// Total insured value per $100.
    #[serde(rename = "insured_value_per_100")]
    InsuredValuePer100,
    /// Per employee.
    PerEmployee,
}

impl ExposureBasis {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExposureBasis::RevenuePer1000 => "revenue_per_1000",
            ExposureBasis::PayrollPer100 => "payroll_per_100",
            ExposureBasis::InsuredValuePer100 => "insured_value_per_100",
            ExposureBasis::PerEmployee => "per_employee",
        }
    }
}

/// Values by state, with an optional default for states not listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ByState<T> {
    /// Values for listed states.
    #[serde(default)]
    pub states: BTreeMap<UsState, T>,
    /// The value for every other state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<T>,
}

impl<T> ByState<T> {
    /// The value for `state`, or the default, with whether the state matched.
    pub fn get(&self, state: UsState) -> Option<(&T, bool)> {
        match self.states.get(&state) {
            Some(v) => Some((v, true)),
            None => self.default.as_ref().map(|v| (v, false)),
        }
    }
}

/// Class modifiers by NAICS prefix (longest prefix wins), with a default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClassModifiers {
    /// Factors by NAICS prefix of 2 to 6 digits.
    #[serde(default)]
    pub prefixes: BTreeMap<Naics, Factor>,
    /// The factor for codes no prefix covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Factor>,
}

impl ClassModifiers {
    /// The longest listed prefix covering `code`, and its factor.
    pub fn lookup(&self, code: Naics) -> Option<(Naics, Factor)> {
        (2..=code.len()).rev().filter_map(|len| code.prefix(len)).find_map(|p| self.prefixes.get(&p).map(|f| (p, *f)))
    }
}

/// An increased-limit factor for one occurrence limit.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitFactor {
    /// The occurrence limit.
    #[serde(rename = "limitCents")]
    pub limit: Money,
    /// The factor.
    pub factor: Factor,
}

/// A deductible credit (or debit) for one deductible amount.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeductibleFactor {
    /// The deductible.
    #[serde(rename = "deductibleCents")]
    pub deductible: Money,
    /// The factor.
    pub factor: Factor,
}

/// A revenue band: revenue at or above `minRevenueCents` (and below the next band's).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevenueBand {
    /// Lower bound, inclusive.
    #[serde(rename = "minRevenueCents")]
    pub min_revenue: Money,
    /// The factor.
    pub factor: Factor,
}

/// A loss-ratio band: a loss ratio at or above `minLossRatio` (and below the next band's).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe,
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LossRatioBand {
    /// Lower bound, inclusive (`"0.40"` is 40%).
    pub min_loss_ratio: Decimal,
    /// The factor.
    pub factor: Factor,
}

/// The experience (loss history) modifier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LossHistoryTable {
    /// How many policy years before the effective date's year count (3 means the three prior years).
    pub experience_period_years: u32,
    /// The factor when the period holds no history.
    pub no_history_factor: Factor,
    /// Bands of loss ratio ((paid + reserved) / earned premium over the period).
    pub bands: Vec<LossRatioBand>,
}

fn default_schedule_min() -> Decimal {
    Decimal::new(-25, 2)
}

fn default_schedule_max() -> Decimal {
    Decimal::new(25, 2)
}

/// Bounds on schedule rating.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleBounds {
    /// The lowest total adjustment (default `-0.25`).
    #[serde(default = "default_schedule_min")]
    pub min_total: Decimal,
    /// The highest total adjustment (default `0.25`).
    #[serde(default = "default_schedule_max")]
    pub max_total: Decimal,
    /// When not empty, the only reason codes accepted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reason_codes: Vec<String>,
}

impl Default for ScheduleBounds {
    fn default() -> Self {
        ScheduleBounds {
            min_total: default_schedule_min(),
            max_total: default_schedule_max(),
            reason_codes: Vec::new(),
        }
    }
}

/// A flat fee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fee {
    /// Its code (`policy_fee`, `inspection_fee`).
    pub code: Arc<str>,
    /// The amount.
    #[serde(rename = "amountCents")]
    pub amount: Money,
}

/// A tax or surcharge as a rate of gross premium.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tax {
    /// Its code (`premium_tax`, `stamping_fee`).
    pub code: Arc<str>,
    /// Rate of gross premium (`"0.0325"`).
    pub rate: Factor,
}

fn default_valid_days() -> u32 {
    30
}

/// A rate table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema, openinsure_hipaa::EdgeSafe)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RateTable {
    /// The table's id (stable across versions).
    pub id: Arc<str>,
    /// The version, from 1.
    pub version: u32,
    /// The line of business it rates.
    pub line_of_business: LineOfBusiness,
    /// The program it belongs to.
    pub program_id: ProgramId,
    /// The first effective date it applies to.
    pub effective_date: NaiveDate,
    /// How exposure is counted.
    pub exposure_basis: ExposureBasis,
    /// Dollars per exposure unit, by state.
    pub base_rates: ByState<Factor>,
    /// Increased-limit factors by occurrence limit (a limit between entries takes the next higher).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub increased_limit_factors: Vec<LimitFactor>,
    /// Deductible factors (the largest listed deductible not above the requested one applies).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deductible_factors: Vec<DeductibleFactor>,
    /// State modifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_modifiers: Option<ByState<Factor>>,
    /// Class modifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_modifiers: Option<ClassModifiers>,
    /// Revenue bands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revenue_bands: Vec<RevenueBand>,
    /// The experience modifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_history: Option<LossHistoryTable>,
    /// Bounds on schedule rating.
    #[serde(default)]
    pub schedule_rating: ScheduleBounds,
    /// Minimum premium by state.
    #[serde(rename = "minimumPremiumCents", default, skip_serializing_if = "Option::is_none")]
    pub minimum_premium: Option<ByState<Money>>,
    /// Flat fees.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fees: Vec<Fee>,
    /// Producer commission as a rate of gross premium.
    pub commission_rate: Factor,
    /// Taxes by state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxes: Option<ByState<Vec<Tax>>>,
    /// How long a quote stays valid, in days (default 30).
    #[serde(default = "default_valid_days")]
    pub quote_valid_days: u32,
}

impl RateTable {
    /// Parses and validates a table from JSON; an error names the field and the reason.
    pub fn from_json(json: &str) -> Result<RateTable, RatingError> {
        // the one strict reading of JSON: a key listed twice (a state's base rate, say) is
        // refused with its path instead of the last value silently winning
        let value = openinsure_core::json::parse_str(json, 64).map_err(|e| {
            let path = match &e {
                openinsure_core::json::JsonError::DuplicateKey { path, .. } => path.clone(),
                _ => "$".to_owned(),
            };
            RatingError::Table(FieldErrors(vec![openinsure_core::FieldError::new(path, e.to_string())]))
        })?;
        let table: RateTable = openinsure_core::json::from_value(value).map_err(|(path, reason)| {
            RatingError::Table(FieldErrors(vec![openinsure_core::FieldError::new(path, reason)]))
        })?;
        table.validate().map_err(RatingError::Table)?;
        Ok(table)
    }

    /// The JSON Schema of a rate table.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(RateTable)).unwrap_or_default()
    }

    /// Checks what the types cannot: ordering, ranges, non-negative rates. Every problem is listed.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::default();
        if self.id.trim().is_empty() {
            e.push("id", "must not be empty");
        }
        if self.version == 0 {
            e.push("version", "must be at least 1");
        }
        if self.quote_valid_days == 0 {
            e.push("quoteValidDays", "must be at least 1");
        }
        if self.base_rates.states.is_empty() && self.base_rates.default.is_none() {
            e.push("baseRates", "needs at least one state or a default");
        }
        check_by_state(&self.base_rates, "baseRates", |f| non_negative(f.0), &mut e);
        if let Some(m) = &self.state_modifiers {
            check_by_state(m, "stateModifiers", |f| positive(f.0), &mut e);
        }
        if let Some(c) = &self.class_modifiers {
            for (p, f) in &c.prefixes {
                if let Some(r) = positive(f.0) {
                    e.push(format!("classModifiers.prefixes.{p}"), r);
                }
            }
            if let Some(r) = c.default.and_then(|f| positive(f.0)) {
                e.push("classModifiers.default", r);
            }
        }
        for (i, w) in self.increased_limit_factors.windows(2).enumerate() {
            if w[1].limit <= w[0].limit {
                e.push(
                    format!("increasedLimitFactors[{}].limitCents", i + 1),
                    "limits must be in ascending order without repeats",
                );
            }
        }
        for (i, l) in self.increased_limit_factors.iter().enumerate() {
            if let Some(r) = positive(l.factor.0) {
                e.push(format!("increasedLimitFactors[{i}].factor"), r);
            }
            if l.limit.cents() <= 0 {
                e.push(format!("increasedLimitFactors[{i}].limitCents"), "must be positive");
            }
        }
        for (i, w) in self.deductible_factors.windows(2).enumerate() {
            if w[1].deductible <= w[0].deductible {
                e.push(
                    format!("deductibleFactors[{}].deductibleCents", i + 1),
                    "deductibles must be in ascending order without repeats",
                );
            }
        }
        for (i, d) in self.deductible_factors.iter().enumerate() {
            if let Some(r) = positive(d.factor.0) {
                e.push(format!("deductibleFactors[{i}].factor"), r);
            }
            if d.deductible.is_negative() {
                e.push(format!("deductibleFactors[{i}].deductibleCents"), "must not be negative");
            }
        }
        check_bands(
            self.revenue_bands.iter().map(|b| (Decimal::from(b.min_revenue.cents()), b.factor)),
            "revenueBands",
            "minRevenueCents",
            &mut e,
        );
        if let Some(l) = &self.loss_history {
            if l.experience_period_years == 0 {
                e.push("lossHistory.experiencePeriodYears", "must be at least 1");
            }
            if let Some(r) = positive(l.no_history_factor.0) {
                e.push("lossHistory.noHistoryFactor", r);
            }
            if l.bands.is_empty() {
                e.push("lossHistory.bands", "needs at least one band");
            }
            check_bands(
                l.bands.iter().map(|b| (b.min_loss_ratio, b.factor)),
                "lossHistory.bands",
                "minLossRatio",
                &mut e,
            );
        }
        let s = &self.schedule_rating;
        if s.min_total > Decimal::ZERO || s.max_total < Decimal::ZERO {
            e.push("scheduleRating", "bounds must include zero (minTotal <= 0 <= maxTotal)");
        }
        if s.min_total <= Decimal::NEGATIVE_ONE {
            e.push("scheduleRating.minTotal", "must be greater than -1");
        }
        if let Some(m) = &self.minimum_premium {
            check_by_state(m, "minimumPremiumCents", |m| m.is_negative().then_some("must not be negative"), &mut e);
        }
        for (i, f) in self.fees.iter().enumerate() {
            if f.code.trim().is_empty() {
                e.push(format!("fees[{i}].code"), "must not be empty");
            }
            if f.amount.is_negative() {
                e.push(format!("fees[{i}].amountCents"), "must not be negative");
            }
        }
        if self.commission_rate.0 < Decimal::ZERO || self.commission_rate.0 >= Decimal::ONE {
            e.push("commissionRate", "must be at least 0 and below 1");
        }
        if let Some(t) = &self.taxes {
            let check = |taxes: &Vec<Tax>, path: String, e: &mut FieldErrors| {
                for (i, t) in taxes.iter().enumerate() {
                    if t.code.trim().is_empty() {
                        e.push(format!("{path}[{i}].code"), "must not be empty");
                    }
                    if t.rate.0 < Decimal::ZERO || t.rate.0 >= Decimal::ONE {
                        e.push(format!("{path}[{i}].rate"), "must be at least 0 and below 1");
                    }
                }
            };
            for (state, taxes) in &t.states {
                check(taxes, format!("taxes.states.{state}"), &mut e);
            }
            if let Some(d) = &t.default {
                check(d, "taxes.default".to_owned(), &mut e);
            }
        }
        e.into_result(|| ())
    }
}

fn non_negative(d: Decimal) -> Option<&'static str> {
    (d < Decimal::ZERO).then_some("must not be negative")
}

fn positive(d: Decimal) -> Option<&'static str> {
    (d <= Decimal::ZERO).then_some("must be greater than zero")
}

fn check_by_state<T>(t: &ByState<T>, path: &str, check: impl Fn(&T) -> Option<&'static str>, e: &mut FieldErrors) {
    for (state, v) in &t.states {
        if let Some(r) = check(v) {
            e.push(format!("{path}.states.{state}"), r);
        }
    }
    if let Some(r) = t.default.as_ref().and_then(check) {
        e.push(format!("{path}.default"), r);
    }
}

fn check_bands(bands: impl Iterator<Item = (Decimal, Factor)>, path: &str, bound: &str, e: &mut FieldErrors) {
    let mut prev: Option<Decimal> = None;
    for (i, (min, factor)) in bands.enumerate() {
        match prev {
            None if !min.is_zero() => e.push(format!("{path}[0].{bound}"), "the first band must start at 0"),
            Some(p) if min <= p => {
                e.push(format!("{path}[{i}].{bound}"), "bands must be in ascending order without repeats")
            }
            _ => {}
        }
        if let Some(r) = positive(factor.0) {
            e.push(format!("{path}[{i}].factor"), r);
        }
        prev = Some(min);
    }
}

#[cfg(test)]
mod strict_reading {
    use super::*;

    #[test]
    fn a_key_listed_twice_is_refused_not_the_last_one_winning() {
        let text = include_str!("../../examples/rate-tables/general-liability.json");
        assert!(RateTable::from_json(text).is_ok());
        let twice = text.replacen("\"OH\": \"1.95\"", "\"OH\": \"1.85\", \"OH\": \"18.50\"", 1);
        assert_ne!(twice, text);
        let Err(RatingError::Table(errors)) = RateTable::from_json(&twice) else {
            panic!("a duplicate key must be refused")
        };
        assert!(errors.0[0].path.ends_with(".OH"), "{errors}");
        assert!(errors.0[0].reason.contains("duplicate key"), "{errors}");
    }
}
