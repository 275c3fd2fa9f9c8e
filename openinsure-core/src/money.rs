//! Money and factors.
//!
//! [`Money`] is a whole number of cents in an `i64`. Arithmetic is checked: an overflow is a
//! [`MoneyError`], never a wrap. A [`Factor`] is an exact decimal (`rust_decimal::Decimal`) used for
//! rates and multipliers. The only way to multiply money is [`Money::mul_factor`], which takes the
//! [`Rounding`] to apply, so every rounding in the code base is explicit and named.
//!
//! ```
//! use openinsure_core::money::{Factor, Money, Rounding};
//!
//! let premium = Money::from_cents(100_001);
//! let modified = premium.mul_factor(Factor::new("1.15".parse().unwrap()), Rounding::HalfEven).unwrap();
//! // 100001 * 1.15 = 115001.15, rounded half-even to whole cents
//! assert_eq!(modified.cents(), 115_001);
//! assert_eq!(modified.to_string(), "$1,150.01");
//! ```

use std::fmt;
use std::iter::Sum;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// An amount of money in integer cents (USD).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Money(i64);

/// A money computation that cannot be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// The result does not fit in 64-bit cents.
    #[error("money overflow in {op}")]
    Overflow {
        /// The operation that overflowed (`add`, `sub`, `mul`, ...).
        op: &'static str,
    },
}

/// How a decimal amount becomes whole cents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Round to nearest, ties to the even neighbour (banker's rounding). The default everywhere.
    HalfEven,
    /// Round to nearest, ties away from zero.
    HalfUp,
    /// Toward zero (truncate).
    Down,
    /// Away from zero.
    Up,
}

impl Rounding {
    fn strategy(self) -> RoundingStrategy {
        match self {
            Rounding::HalfEven => RoundingStrategy::MidpointNearestEven,
            Rounding::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            Rounding::Down => RoundingStrategy::ToZero,
            Rounding::Up => RoundingStrategy::AwayFromZero,
        }
    }

    /// The name used in worksheets (`half_even`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::HalfEven => "half_even",
            Rounding::HalfUp => "half_up",
            Rounding::Down => "down",
            Rounding::Up => "up",
        }
    }

    /// Whether a truncated quotient moves one step away from zero, given how twice the remainder
    /// compares with the divisor and whether the truncated quotient is even.
    fn rounds_away(self, twice_remainder_vs_divisor: std::cmp::Ordering, quotient_even: bool) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match (self, twice_remainder_vs_divisor) {
            (Rounding::Down, _) => false,
            (Rounding::Up, _) => true,
            (Rounding::HalfUp, o) => o != Less,
            (Rounding::HalfEven, Less) => false,
            (Rounding::HalfEven, Greater) => true,
            (Rounding::HalfEven, Equal) => !quotient_even,
        }
    }

    /// `n / d` rounded to a whole number with this rule; `d` must be positive.
    pub fn div_round(self, n: i128, d: i128) -> i128 {
        // 64-bit division is several times faster; use it whenever both fit.
        if let (Ok(n64), Ok(d64)) = (i64::try_from(n), i64::try_from(d))
            && n64 != i64::MIN
        {
            let (q, r) = (n64 / d64, n64 % d64);
            if r == 0 || !self.rounds_away(r.unsigned_abs().saturating_mul(2).cmp(&d64.unsigned_abs()), q % 2 == 0) {
                return i128::from(q);
            }
            return i128::from(if n64 < 0 { q - 1 } else { q + 1 });
        }
        let (q, r) = (n / d, n % d);
        if r == 0 || !self.rounds_away(r.unsigned_abs().saturating_mul(2).cmp(&d.unsigned_abs()), q % 2 == 0) {
            return q;
        }
        if n < 0 { q - 1 } else { q + 1 }
    }

    /// Rounds a decimal to `dp` decimal places with this rule.
    pub fn round_dp(self, value: Decimal, dp: u32) -> Decimal {
        value.round_dp_with_strategy(dp, self.strategy())
    }
}

impl Money {
    /// Zero cents.
    pub const ZERO: Money = Money(0);

    /// The most one money operation may move (a payment, a recovery, a reserve, a loss-fund
    /// transfer): $10,000,000,000.00. Far above any real single movement, and far enough below
    /// `i64::MAX` that sums of many of them cannot overflow.
    pub const MAX_OPERATION: Money = Money(1_000_000_000_000);

    /// Why this cannot be the amount of one money operation, if it cannot: it must be positive
    /// and at most [`Money::MAX_OPERATION`].
    pub fn operation_refusal(self) -> Option<String> {
        if self.0 <= 0 {
            Some("must be positive".into())
        } else if self.0 > Money::MAX_OPERATION.0 {
            Some(format!("must be at most {} cents ({}) per operation", Money::MAX_OPERATION.0, Money::MAX_OPERATION))
        } else {
            None
        }
    }

    /// An amount of cents.
    pub const fn from_cents(cents: i64) -> Self {
        Money(cents)
    }

    /// Whole dollars, checked.
    pub fn from_dollars(dollars: i64) -> Result<Self, MoneyError> {
        dollars.checked_mul(100).map(Money).ok_or(MoneyError::Overflow { op: "mul" })
    }

    /// The amount in cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// True when below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// True when zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or an overflow error.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0.checked_add(other.0).map(Money).ok_or(MoneyError::Overflow { op: "add" })
    }

    /// `self - other`, or an overflow error.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.0.checked_sub(other.0).map(Money).ok_or(MoneyError::Overflow { op: "sub" })
    }

    /// `self * n` for a whole number, or an overflow error.
    pub fn checked_mul_int(self, n: i64) -> Result<Money, MoneyError> {
        self.0.checked_mul(n).map(Money).ok_or(MoneyError::Overflow { op: "mul" })
    }

    /// The amount as an exact decimal number of cents.
    pub fn to_decimal_cents(self) -> Decimal {
        Decimal::from(self.0)
    }

    /// Converts a decimal number of cents to whole cents with an explicit rounding.
    pub fn from_decimal_cents(cents: Decimal, rounding: Rounding) -> Result<Money, MoneyError> {
        rounding.round_dp(cents, 0).to_i64().map(Money).ok_or(MoneyError::Overflow { op: "round" })
    }

    /// `self * factor`, rounded to whole cents with `rounding`.
    ///
    /// Computed exactly in 128-bit integers (the factor's mantissa times the cents, divided by
    /// its power of ten with the rounding rule), falling back to `Decimal` arithmetic only when
    /// the product does not fit; both give the same result.
    pub fn mul_factor(self, factor: Factor, rounding: Rounding) -> Result<Money, MoneyError> {
        let scale = factor.0.scale();
        // Fast path in 64 bits (the common case: cents times a factor with a few decimals).
        if let Ok(mantissa) = i64::try_from(factor.0.mantissa())
            && let Some(product) = self.0.checked_mul(mantissa)
            && let Some(divisor) = 10i64.checked_pow(scale)
        {
            return i64::try_from(rounding.div_round(i128::from(product), i128::from(divisor)))
                .map(Money)
                .map_err(|_| MoneyError::Overflow { op: "mul" });
        }
        if let Some(product) = i128::from(self.0).checked_mul(factor.0.mantissa())
            && let Some(divisor) = 10i128.checked_pow(scale)
        {
            let q = rounding.div_round(product, divisor);
            return i64::try_from(q).map(Money).map_err(|_| MoneyError::Overflow { op: "mul" });
        }
        let exact = Decimal::from(self.0).checked_mul(factor.0).ok_or(MoneyError::Overflow { op: "mul" })?;
        Money::from_decimal_cents(exact, rounding)
    }

    /// Sums amounts, checked.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(items: I) -> Result<Money, MoneyError> {
        items.into_iter().try_fold(Money::ZERO, Money::checked_add)
    }

    /// Splits `self` into `parts` amounts that differ by at most one cent and sum exactly to
    /// `self`. The remainder cents go to the first parts, one each.
    ///
    /// ```
    /// use openinsure_core::money::Money;
    /// let parts = Money::from_cents(1000).split_even(3);
    /// assert_eq!(parts, vec![Money::from_cents(334), Money::from_cents(333), Money::from_cents(333)]);
    /// ```
    pub fn split_even(self, parts: u32) -> Vec<Money> {
        if parts == 0 {
            return Vec::new();
        }
        let n = i64::from(parts);
        let base = self.0.div_euclid(n);
        let remainder = self.0.rem_euclid(n);
        let parts: Vec<Money> = (0..n).map(|i| Money(base + i64::from(i < remainder))).collect();
        // postcondition (TIGER_STYLE): the parts sum to the whole
        debug_assert_eq!(parts.iter().map(|m| i128::from(m.0)).sum::<i128>(), i128::from(self.0));
        parts
    }
}

impl Money {
    /// Plain decimal dollars, for files: `1234.56`, `-0.05` (no symbol, no grouping).
    pub fn to_decimal_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Display for Money {
    /// `$1,234.56`, `-$0.05`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let dollars = (abs / 100).to_string();
        let cents = abs % 100;
        let mut grouped = String::with_capacity(dollars.len() + dollars.len() / 3);
        for (i, c) in dollars.chars().enumerate() {
            if i > 0 && (dollars.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        write!(f, "{sign}${grouped}.{cents:02}")
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}c", self.0)
    }
}

/// A rate or multiplier: an exact decimal, never a float. Serialized as a decimal string.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Factor(pub Decimal);

impl Factor {
    /// The neutral factor, 1.
    pub const ONE: Factor = Factor(Decimal::ONE);

    /// Wraps a decimal.
    pub const fn new(value: Decimal) -> Self {
        Factor(value)
    }

    /// The decimal inside.
    pub const fn value(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Sum<Factor> for Decimal {
    fn sum<I: Iterator<Item = Factor>>(iter: I) -> Decimal {
        iter.fold(Decimal::ZERO, |acc, f| acc + f.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn f(s: &str) -> Factor {
        Factor::new(s.parse().unwrap())
    }

    #[test]
    fn half_even_ties_go_to_even() {
        // 5 * 0.5 = 2.5 -> 2 ; 15 * 0.5 = 7.5 -> 8
        assert_eq!(Money::from_cents(5).mul_factor(f("0.5"), Rounding::HalfEven).unwrap().cents(), 2);
        assert_eq!(Money::from_cents(15).mul_factor(f("0.5"), Rounding::HalfEven).unwrap().cents(), 8);
        assert_eq!(Money::from_cents(-5).mul_factor(f("0.5"), Rounding::HalfEven).unwrap().cents(), -2);
    }

    #[test]
    fn other_roundings() {
        let m = Money::from_cents(5);
        assert_eq!(m.mul_factor(f("0.5"), Rounding::HalfUp).unwrap().cents(), 3);
        assert_eq!(m.mul_factor(f("0.5"), Rounding::Down).unwrap().cents(), 2);
        assert_eq!(m.mul_factor(f("0.3"), Rounding::Up).unwrap().cents(), 2);
        assert_eq!(Money::from_cents(-5).mul_factor(f("0.3"), Rounding::Up).unwrap().cents(), -2);
    }

    #[test]
    fn overflow_is_an_error() {
        let max = Money::from_cents(i64::MAX);
        assert_eq!(max.checked_add(Money::from_cents(1)), Err(MoneyError::Overflow { op: "add" }));
        assert_eq!(
            Money::from_cents(i64::MIN).checked_sub(Money::from_cents(1)),
            Err(MoneyError::Overflow { op: "sub" })
        );
        assert!(max.mul_factor(f("2"), Rounding::HalfEven).is_err());
        assert!(Money::from_dollars(i64::MAX / 10).is_err());
    }

    #[test]
    fn display() {
        assert_eq!(Money::from_cents(0).to_string(), "$0.00");
        assert_eq!(Money::from_cents(-5).to_string(), "-$0.05");
        assert_eq!(Money::from_cents(123_456_789).to_string(), "$1,234,567.89");
        assert_eq!(Money::from_cents(100_000).to_string(), "$1,000.00");
    }

    #[test]
    fn serializes_as_integer_cents() {
        assert_eq!(serde_json::to_string(&Money::from_cents(1234)).unwrap(), "1234");
        assert!(serde_json::from_str::<Money>("12.5").is_err());
        assert_eq!(serde_json::to_string(&f("1.250")).unwrap(), "\"1.250\"");
        assert!(serde_json::from_str::<Factor>("1.25").is_err(), "a float is never a factor");
    }

    proptest! {
        #[test]
        fn split_even_sums_exactly(cents in -1_000_000_000_000i64..1_000_000_000_000, parts in 1u32..64) {
            let split = Money::from_cents(cents).split_even(parts);
            prop_assert_eq!(split.len(), parts as usize);
            prop_assert_eq!(Money::checked_sum(split.iter().copied()).unwrap().cents(), cents);
            let max = split.iter().map(|m| m.cents()).max().unwrap();
            let min = split.iter().map(|m| m.cents()).min().unwrap();
            prop_assert!(max - min <= 1);
        }

        #[test]
        fn integer_path_matches_decimal_rounding(cents in any::<i64>(), mantissa in -10_000_000_000i64..10_000_000_000, scale in 0u32..12,
                                                 mode in proptest::sample::select(vec![Rounding::HalfEven, Rounding::HalfUp, Rounding::Down, Rounding::Up])) {
            let factor = Factor::new(Decimal::new(mantissa, scale));
            let fast = Money::from_cents(cents).mul_factor(factor, mode);
            let slow = Decimal::from(cents).checked_mul(factor.value()).ok_or(MoneyError::Overflow { op: "mul" })
                .and_then(|d| Money::from_decimal_cents(d, mode));
            prop_assert_eq!(fast.ok(), slow.ok());
        }

        #[test]
        fn mul_factor_is_within_half_a_cent(cents in -1_000_000_000i64..1_000_000_000, milli in 0i64..5000) {
            let factor = Factor::new(Decimal::new(milli, 3));
            let exact = Decimal::from(cents) * factor.value();
            let rounded = Money::from_cents(cents).mul_factor(factor, Rounding::HalfEven).unwrap();
            prop_assert!((Decimal::from(rounded.cents()) - exact).abs() <= Decimal::new(5, 1));
        }
    }
}
