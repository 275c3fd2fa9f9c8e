//! Text and dates from untrusted input: what every text field and every date must be.
//!
//! - [`Line<N>`]: one line of text, at most `N` characters, not blank, no control characters
//!   at all (no NUL, no ESC sequences, no newline).
//! - [`Text<N>`]: multi-line text, at most `N` characters, not blank; newline, carriage return
//!   and tab are allowed, every other control character is refused.
//!
//! Both deserialize from a JSON string, refusing what breaks the rule with a message that names
//! the rule, and state the same rule in their JSON Schema (`minLength`, `maxLength` and a
//! `pattern`), so the OpenAPI document says exactly what the server accepts. The checks are also
//! available as functions ([`check_line`], [`check_text`]) for readers that walk JSON by hand.
//!
//! Dates: [`check_date`] keeps a date inside a window (a birth date is not in year 0001, a policy
//! does not start in 9999), and [`strict_date`] reads only `YYYY-MM-DD` with a four-digit year
//! (`+12026-08-01`, which chrono accepts, is refused).

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The JSON Schema pattern of a single line: no C0 or C1 control character, no DEL.
pub const LINE_PATTERN: &str = r"^[^\u0000-\u001F\u007F-\u009F]*$";

/// The JSON Schema pattern of multi-line text: tab, newline and carriage return allowed.
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$";

/// Why a text is refused. Its `Display` is the reason a field error gives.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// Empty or only whitespace.
    #[error("must not be blank")]
    Blank,
    /// A control character in a single line (the code point).
    #[error("must be one line without control characters (found U+{0:04X})")]
    ControlInLine(u32),
    /// A control character other than newline and tab in multi-line text (the code point).
    #[error("must not contain the control character U+{0:04X} (only newline and tab)")]
    ControlInText(u32),
    /// More characters than allowed.
    #[error("must be at most {max} characters (found {found})")]
    TooLong {
        /// The most allowed.
        max: usize,
        /// How many there are.
        found: usize,
    },
}

impl From<TextError> for String {
    fn from(e: TextError) -> String {
        e.to_string()
    }
}

/// Why a date is refused. Its `Display` is the reason a field error gives.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DateError {
    /// Not written `YYYY-MM-DD` (what was written).
    #[error("`{0}` is not a date written YYYY-MM-DD")]
    NotYearMonthDay(String),
    /// Written `YYYY-MM-DD` but no such day (what was written).
    #[error("`{0}` is not a calendar date")]
    NotACalendarDate(String),
    /// Before the earliest allowed.
    #[error("`{date}` is before {earliest}")]
    TooEarly {
        /// The date.
        date: NaiveDate,
        /// The earliest allowed.
        earliest: NaiveDate,
    },
    /// After the latest allowed.
    #[error("`{date}` is after {latest}")]
    TooLate {
        /// The date.
        date: NaiveDate,
        /// The latest allowed.
        latest: NaiveDate,
    },
}

impl From<DateError> for String {
    fn from(e: DateError) -> String {
        e.to_string()
    }
}

fn check(value: &str, max_chars: usize, multiline: bool) -> Result<(), TextError> {
    if value.trim().is_empty() {
        return Err(TextError::Blank);
    }
    let mut count = 0usize;
    for c in value.chars() {
        count += 1;
        let allowed = multiline && matches!(c, '\n' | '\r' | '\t');
        if c.is_control() && !allowed {
            return Err(if multiline {
                TextError::ControlInText(u32::from(c))
            } else {
                TextError::ControlInLine(u32::from(c))
            });
        }
    }
    if count > max_chars {
        return Err(TextError::TooLong { max: max_chars, found: count });
    }
    Ok(())
}

/// Why `value` is not a valid single line of at most `max_chars` characters, if it is not.
pub fn check_line(value: &str, max_chars: usize) -> Result<(), TextError> {
    check(value, max_chars, false)
}

/// Why `value` is not valid multi-line text of at most `max_chars` characters, if it is not.
pub fn check_text(value: &str, max_chars: usize) -> Result<(), TextError> {
    check(value, max_chars, true)
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $multiline:expr, $pattern:expr, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name<const N: usize>(String);

        impl<const N: usize> $name<N> {
            /// Checks `value` against the rule.
            pub fn new(value: impl Into<String>) -> Result<Self, TextError> {
                let value = value.into();
                check(&value, N, $multiline)?;
                Ok($name(value))
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl<const N: usize> fmt::Display for $name<N> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<const N: usize> fmt::Debug for $name<N> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl<const N: usize> std::ops::Deref for $name<N> {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl<const N: usize> AsRef<str> for $name<N> {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<const N: usize> From<$name<N>> for String {
            fn from(t: $name<N>) -> String {
                t.0
            }
        }

        impl<const N: usize> Serialize for $name<N> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de, const N: usize> Deserialize<'de> for $name<N> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(s).map_err(serde::de::Error::custom)
            }
        }

        impl<const N: usize> JsonSchema for $name<N> {
            fn schema_name() -> Cow<'static, str> {
                Cow::Owned(format!("{}{}", stringify!($name), N))
            }
            fn inline_schema() -> bool {
                true
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": N,
                    "pattern": $pattern,
                    "description": format!($what, N)
                })
            }
        }
    };
}

text_type!(
    /// One line of text: at most `N` characters, not blank, no control characters.
    Line,
    false,
    LINE_PATTERN,
    "one line of at most {} characters, not blank, without control characters"
);

text_type!(
    /// Multi-line text: at most `N` characters, not blank; newline, carriage return and tab are
    /// the only control characters allowed.
    Text,
    true,
    TEXT_PATTERN,
    "text of at most {} characters, not blank; newline and tab are the only control characters allowed"
);

/// The earliest date any input may name.
pub const EARLIEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The latest date any input may name.
pub const LATEST_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2199, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

/// Why `date` is outside `earliest..=latest`, if it is.
pub fn check_date(date: NaiveDate, earliest: NaiveDate, latest: NaiveDate) -> Result<(), DateError> {
    if date < earliest {
        Err(DateError::TooEarly { date, earliest })
    } else if date > latest {
        Err(DateError::TooLate { date, latest })
    } else {
        Ok(())
    }
}

/// Reads a date written exactly `YYYY-MM-DD` inside [`EARLIEST_DATE`]..=[`LATEST_DATE`].
pub fn parse_date(s: &str) -> Result<NaiveDate, DateError> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return Err(DateError::NotYearMonthDay(s.to_owned()));
    }
    let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DateError::NotACalendarDate(s.to_owned()))?;
    check_date(date, EARLIEST_DATE, LATEST_DATE)?;
    Ok(date)
}

/// `#[serde(deserialize_with = "strict_date")]`: a date written exactly `YYYY-MM-DD`, inside
/// [`EARLIEST_DATE`]..=[`LATEST_DATE`].
pub fn strict_date<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let s = <Cow<'de, str>>::deserialize(d)?;
    parse_date(&s).map_err(serde::de::Error::custom)
}

/// `#[serde(deserialize_with = "strict_opt_date")]`: [`strict_date`] for an optional date.
pub fn strict_opt_date<'de, D: Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    match Option::<Cow<'de, str>>::deserialize(d)? {
        None => Ok(None),
        Some(s) => parse_date(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_refuse_control_characters_blank_and_length() {
        assert!(Line::<5>::new("abcde").is_ok());
        assert_eq!(Line::<5>::new("abcdef").unwrap_err(), TextError::TooLong { max: 5, found: 6 });
        assert!(Line::<5>::new("abcdef").unwrap_err().to_string().contains("at most 5"));
        assert_eq!(Line::<5>::new("   ").unwrap_err(), TextError::Blank);
        assert!(Line::<5>::new("a\0b").unwrap_err().to_string().contains("U+0000"));
        assert_eq!(Line::<50>::new("\u{1b}[31mred").unwrap_err(), TextError::ControlInLine(0x1b));
        assert!(Line::<50>::new("two\nlines").is_err());
        assert!(Line::<50>::new("next\u{85}line").is_err(), "C1 controls too");
        assert!(Line::<5>::new("ééééé").is_ok(), "characters, not bytes");
    }

    #[test]
    fn texts_allow_newlines_and_tabs_only() {
        assert!(Text::<50>::new("two\r\nlines\tand a tab").is_ok());
        assert!(Text::<50>::new("bell\u{7}").is_err());
        assert!(Text::<50>::new("nul\0").is_err());
        assert!(Text::<3>::new("four").is_err());
    }

    #[test]
    fn deserializing_checks_and_the_schema_says_so() {
        assert!(serde_json::from_str::<Line<10>>("\"ok\"").is_ok());
        let e = serde_json::from_str::<Line<10>>("\"a\\u0000\"").unwrap_err().to_string();
        assert!(e.contains("control"), "{e}");
        let schema = schemars::schema_for!(Line<10>);
        assert_eq!(schema.get("maxLength"), Some(&serde_json::json!(10)));
        assert_eq!(schema.get("pattern"), Some(&serde_json::json!(LINE_PATTERN)));
    }

    #[test]
    fn dates_are_strict_and_windowed() {
        assert_eq!(parse_date("2027-01-01").unwrap(), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap());
        for bad in ["+12026-08-01", "0001-01-01", "9999-12-31", "2027-1-01", "2027-02-30", "20270101", " 2027-01-01"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }
}
