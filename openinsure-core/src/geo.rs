//! Small value types for where and what a risk is: [`UsState`] and [`Naics`] codes.
//!
//! Both are `Copy`, allocation-free and validated on construction, so rating can match on them
//! millions of times a second.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The USPS codes accepted as a risk or mailing state: the 50 states, DC and the territories.
pub const US_STATE_CODES: [&str; 56] = [
    "AK", "AL", "AR", "AS", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "GU", "HI", "IA", "ID", "IL", "IN", "KS",
    "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MP", "MS", "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY",
    "OH", "OK", "OR", "PA", "PR", "RI", "SC", "SD", "TN", "TX", "UM", "UT", "VA", "VI", "VT", "WA", "WI", "WV",
];

/// A US state or territory by its two-letter USPS code (`CA`, `NY`, `DC`, `PR`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UsState([u8; 2]);

/// A value that is not a code of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeError(pub &'static str);

impl UsState {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Construction only admits ASCII letters.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for UsState {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if US_STATE_CODES.binary_search(&s).is_ok() {
            let b = s.as_bytes();
            Ok(UsState([b[0], b[1]]))
        } else {
            Err(CodeError("not a two-letter US state or territory code"))
        }
    }
}

impl fmt::Display for UsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for UsState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A NAICS industry code or prefix: two to six digits (`33`, `3327`, `332710`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Naics {
    digits: [u8; 6],
    len: u8,
}

impl Naics {
    /// The code as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or("?")
    }

    /// The number of digits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Never true: a code has at least two digits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `len` digits, when the code has at least that many and `len >= 2`.
    pub fn prefix(&self, len: usize) -> Option<Naics> {
        if !(2..=self.len()).contains(&len) {
            return None;
        }
        let mut digits = [b'0'; 6];
        digits[..len].copy_from_slice(&self.digits[..len]);
        Some(Naics { digits, len: len as u8 })
    }

    /// True when `prefix` is a prefix of this code (`3327` of `332710`).
    pub fn starts_with(&self, prefix: &Naics) -> bool {
        self.as_str().starts_with(prefix.as_str())
    }
}

impl FromStr for Naics {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !(2..=6).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError("not a NAICS code of 2 to 6 digits"));
        }
        let mut digits = [b'0'; 6];
        digits[..s.len()].copy_from_slice(s.as_bytes());
        Ok(Naics { digits, len: s.len() as u8 })
    }
}

impl fmt::Display for Naics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Naics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! string_serde {
    ($t:ty, $name:literal, $pattern:literal, $desc:literal) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(|e: CodeError| serde::de::Error::custom(format!("`{s}`: {e}")))
            }
        }
        impl JsonSchema for $t {
            fn schema_name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "pattern": $pattern, "description": $desc })
            }
        }
    };
}

string_serde!(UsState, "UsState", "^[A-Z]{2}$", "Two-letter USPS state or territory code");
string_serde!(Naics, "Naics", "^[0-9]{2,6}$", "NAICS code or prefix, 2 to 6 digits");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_codes_are_sorted_for_binary_search() {
        let mut sorted = US_STATE_CODES;
        sorted.sort_unstable();
        assert_eq!(sorted, US_STATE_CODES);
    }

    #[test]
    fn states() {
        assert_eq!("CA".parse::<UsState>().unwrap().as_str(), "CA");
        for bad in ["ca", "XX", "C", "CAL", ""] {
            assert!(bad.parse::<UsState>().is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<UsState>("\"ZZ\"").is_err());
    }

    #[test]
    fn naics_prefixes() {
        let code: Naics = "332710".parse().unwrap();
        assert_eq!(code.prefix(4).unwrap().as_str(), "3327");
        assert!(code.starts_with(&"3327".parse().unwrap()));
        assert!(!code.starts_with(&"3328".parse().unwrap()));
        assert!(code.prefix(1).is_none());
        assert!(code.prefix(7).is_none());
        for bad in ["3", "1234567", "33a", ""] {
            assert!(bad.parse::<Naics>().is_err(), "{bad}");
        }
    }
}
