//! Reading untrusted JSON field by field, collecting every error.
//!
//! serde stops at the first bad field; intake must report them all. [`ObjectReader`] walks a
//! `serde_json` object, records a [`FieldError`](crate::error::FieldError) with the field's full path
//! for each missing, mistyped or out-of-range field, and reports fields it does not know.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::error::FieldErrors;
use crate::money::Money;
use crate::text::{EARLIEST_DATE, LATEST_DATE, check_date, check_line, check_text, parse_date};

/// Reads fields of one JSON object, recording errors under `prefix`.
pub struct ObjectReader<'a> {
    obj: Option<&'a Map<String, Value>>,
    prefix: String,
    known: Vec<&'static str>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> ObjectReader<'a> {
    /// A reader over `value`, which must be an object (an error under `prefix` otherwise, or
    /// `$` for the root).
    pub fn new(value: &'a Value, prefix: impl Into<String>, errors: &mut FieldErrors) -> Self {
        let prefix = prefix.into();
        let obj = match value {
            Value::Object(m) => Some(m),
            other => {
                let path = if prefix.is_empty() { "$".to_owned() } else { prefix.clone() };
                errors.push(path, format!("expected an object, found {}", type_name(other)));
                None
            }
        };
        ObjectReader { obj, prefix, known: Vec::new() }
    }

    /// The full path of `name`.
    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_owned() } else { format!("{}.{name}", self.prefix) }
    }

    fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.obj.and_then(|m| m.get(name)).filter(|v| !v.is_null())
    }

    fn required(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<&'a Value> {
        let v = self.get(name);
        if v.is_none() && self.obj.is_some() {
            errors.push(self.path(name), "is required");
        }
        v
    }

    /// Raw access to an optional field.
    pub fn value(&mut self, name: &'static str) -> Option<&'a Value> {
        self.get(name)
    }

    fn string_of(&self, name: &str, v: &'a Value, max_len: usize, errors: &mut FieldErrors) -> Option<&'a str> {
        self.text_of(name, v, max_len, false, errors)
    }

    fn text_of(
        &self,
        name: &str,
        v: &'a Value,
        max_len: usize,
        multiline: bool,
        errors: &mut FieldErrors,
    ) -> Option<&'a str> {
        match v {
            Value::String(s) => {
                let checked = if multiline { check_text(s, max_len) } else { check_line(s, max_len) };
                match checked {
                    Ok(()) => Some(s.trim()),
                    Err(reason) => {
                        errors.push(self.path(name), reason);
                        None
                    }
                }
            }
            other => {
                errors.push(self.path(name), format!("expected a string, found {}", type_name(other)));
                None
            }
        }
    }

    /// An optional multi-line text of at most `max_len` characters (newline and tab allowed,
    /// no other control character), trimmed.
    pub fn opt_text(&mut self, name: &'static str, max_len: usize, errors: &mut FieldErrors) -> Option<String> {
        let v = self.get(name)?;
        self.text_of(name, v, max_len, true, errors).map(str::to_owned)
    }

    /// A required non-empty string of at most `max_len` characters, trimmed.
    pub fn string(&mut self, name: &'static str, max_len: usize, errors: &mut FieldErrors) -> Option<String> {
        let v = self.required(name, errors)?;
        self.string_of(name, v, max_len, errors).map(str::to_owned)
    }

    /// An optional non-empty string of at most `max_len` characters, trimmed.
    pub fn opt_string(&mut self, name: &'static str, max_len: usize, errors: &mut FieldErrors) -> Option<String> {
        let v = self.get(name)?;
        self.string_of(name, v, max_len, errors).map(str::to_owned)
    }

    fn parse_of<T: FromStr>(&self, name: &str, v: &'a Value, errors: &mut FieldErrors) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let s = self.string_of(name, v, 200, errors)?;
        match s.parse() {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(self.path(name), format!("`{s}`: {e}"));
                None
            }
        }
    }

    /// A required string parsed with `FromStr`.
    pub fn parse<T: FromStr>(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.required(name, errors)?;
        self.parse_of(name, v, errors)
    }

    /// An optional string parsed with `FromStr`.
    pub fn opt_parse<T: FromStr>(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        let v = self.get(name)?;
        self.parse_of(name, v, errors)
    }

    fn int_of(&self, name: &str, v: &Value, min: i64, max: i64, errors: &mut FieldErrors) -> Option<i64> {
        match v.as_i64() {
            Some(n) if n < min => {
                errors.push(
                    self.path(name),
                    if min == 0 { "must not be negative".to_owned() } else { format!("must be at least {min}") },
                );
                None
            }
            Some(n) if n > max => {
                errors.push(self.path(name), format!("must be at most {max}"));
                None
            }
            Some(n) => Some(n),
            None if v.is_number() => {
                errors.push(self.path(name), "expected a whole number");
                None
            }
            None => {
                errors.push(self.path(name), format!("expected a whole number, found {}", type_name(v)));
                None
            }
        }
    }

    /// A required whole number within `min..=max`.
    pub fn int(&mut self, name: &'static str, min: i64, max: i64, errors: &mut FieldErrors) -> Option<i64> {
        let v = self.required(name, errors)?;
        self.int_of(name, v, min, max, errors)
    }

    /// An optional whole number within `min..=max`.
    pub fn opt_int(&mut self, name: &'static str, min: i64, max: i64, errors: &mut FieldErrors) -> Option<i64> {
        let v = self.get(name)?;
        self.int_of(name, v, min, max, errors)
    }

    /// A required, non-negative amount of integer cents.
    pub fn money(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<Money> {
        self.int(name, 0, i64::MAX, errors).map(Money::from_cents)
    }

    /// An optional, non-negative amount of integer cents.
    pub fn opt_money(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<Money> {
        self.opt_int(name, 0, i64::MAX, errors).map(Money::from_cents)
    }

    /// A required calendar date written `YYYY-MM-DD`, inside `earliest..=latest`.
    pub fn date_within(
        &mut self,
        name: &'static str,
        earliest: NaiveDate,
        latest: NaiveDate,
        errors: &mut FieldErrors,
    ) -> Option<NaiveDate> {
        let v = self.required(name, errors)?;
        let s = self.string_of(name, v, 10, errors)?;
        match parse_date(s).and_then(|d| check_date(d, earliest, latest).map(|()| d)) {
            Ok(d) => Some(d),
            Err(reason) => {
                errors.push(self.path(name), reason);
                None
            }
        }
    }

    /// A required calendar date written `YYYY-MM-DD`, between 1900 and 2199.
    pub fn date(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<NaiveDate> {
        self.date_within(name, EARLIEST_DATE, LATEST_DATE, errors)
    }

    /// An optional decimal number (a JSON number or a decimal string) within `min..=max`.
    pub fn opt_decimal(
        &mut self,
        name: &'static str,
        min: Decimal,
        max: Decimal,
        errors: &mut FieldErrors,
    ) -> Option<Decimal> {
        let v = self.get(name)?;
        let text = match v {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            other => {
                errors.push(self.path(name), format!("expected a number, found {}", type_name(other)));
                return None;
            }
        };
        match Decimal::from_str_exact(&text).or_else(|_| Decimal::from_scientific(&text)) {
            Ok(d) if d < min || d > max => {
                errors.push(self.path(name), format!("must be between {min} and {max}"));
                None
            }
            Ok(d) => Some(d),
            Err(_) => {
                errors.push(self.path(name), format!("`{text}` is not a decimal number"));
                None
            }
        }
    }

    /// A required nested object.
    pub fn object(&mut self, name: &'static str, errors: &mut FieldErrors) -> Option<ObjectReader<'a>> {
        let v = self.required(name, errors)?;
        Some(ObjectReader::new(v, self.path(name), errors))
    }

    /// An optional array; each element comes with its path (`name[i]`).
    pub fn opt_array(&mut self, name: &'static str, errors: &mut FieldErrors) -> Vec<(String, &'a Value)> {
        match self.get(name) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                items.iter().enumerate().map(|(i, v)| (format!("{}[{i}]", self.path(name)), v)).collect()
            }
            Some(other) => {
                errors.push(self.path(name), format!("expected an array, found {}", type_name(other)));
                Vec::new()
            }
        }
    }

    /// Records every field of the object that no accessor asked for.
    pub fn finish(self, errors: &mut FieldErrors) {
        if let Some(obj) = self.obj {
            for key in obj.keys() {
                if !self.known.contains(&key.as_str()) {
                    errors.push(self.path(key), "unknown field");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_every_error() {
        let v = json!({"a": 1.5, "b": "x", "c": -1, "extra": true, "d": {"e": []}});
        let mut errors = FieldErrors::default();
        let mut r = ObjectReader::new(&v, "", &mut errors);
        assert_eq!(r.int("a", 0, 10, &mut errors), None);
        assert_eq!(r.int("b", 0, 10, &mut errors), None);
        assert_eq!(r.money("c", &mut errors), None);
        assert_eq!(r.string("missing", 10, &mut errors), None);
        let mut d = r.object("d", &mut errors).unwrap();
        assert_eq!(d.string("e", 10, &mut errors), None);
        d.finish(&mut errors);
        r.finish(&mut errors);
        let got: Vec<_> = errors.iter().map(|e| (e.path.as_str(), e.reason.as_str())).collect();
        assert_eq!(
            got,
            vec![
                ("a", "expected a whole number"),
                ("b", "expected a whole number, found a string"),
                ("c", "must not be negative"),
                ("missing", "is required"),
                ("d.e", "expected a string, found an array"),
                ("extra", "unknown field"),
            ]
        );
    }

    #[test]
    fn root_must_be_an_object() {
        let mut errors = FieldErrors::default();
        let v = json!([1]);
        let mut r = ObjectReader::new(&v, "", &mut errors);
        assert_eq!(r.string("x", 5, &mut errors), None);
        r.finish(&mut errors);
        assert_eq!(errors.0, vec![crate::error::FieldError::new("$", "expected an object, found an array")]);
    }
}
