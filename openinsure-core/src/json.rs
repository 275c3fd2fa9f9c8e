//! The one strict way untrusted JSON is read, for API bodies and the files the CLI reads alike.
//!
//! `serde_json` keeps the last of two equal keys in an object and drops the first without a
//! word; for a rate table that lists a state twice or a payment sent with two `amountCents`, that
//! is a silent wrong answer. [`parse`] refuses every duplicate key, naming its path, and also
//! refuses nesting deeper than a limit before building anything.

use std::fmt;

use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JsonError {
    /// Not JSON, or JSON with a duplicate key (`message` says which, with its path).
    #[error("{message} at line {line} column {column}")]
    Syntax {
        /// What is wrong.
        message: String,
        /// Where (1-based).
        line: usize,
        /// Where (1-based).
        column: usize,
    },
    /// An object repeats a key.
    #[error("duplicate key `{path}` at line {line} column {column}")]
    DuplicateKey {
        /// The repeated key's path (`b.c[1].d`).
        path: String,
        /// Where (1-based).
        line: usize,
        /// Where (1-based).
        column: usize,
    },
    /// Arrays and objects nested deeper than the limit.
    #[error("arrays and objects are nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

/// Parses `bytes` as JSON, refusing duplicate keys (anywhere) and nesting deeper than
/// `max_depth` arrays and objects.
pub fn parse(bytes: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Strict { path: String::new(), depth: 0, max_depth }.deserialize(&mut de).map_err(|e| {
        let message = e.to_string();
        let message = match message.rfind(" at line ") {
            Some(i) => message[..i].to_owned(),
            None => message,
        };
        if message == TOO_DEEP {
            JsonError::TooDeep { limit: max_depth }
        } else if let Some(path) = message.strip_prefix(DUPLICATE) {
            JsonError::DuplicateKey { path: path.to_owned(), line: e.line(), column: e.column() }
        } else {
            JsonError::Syntax { message, line: e.line(), column: e.column() }
        }
    })?;
    de.end().map_err(|e| JsonError::Syntax {
        message: "trailing characters after the JSON value".into(),
        line: e.line(),
        column: e.column(),
    })?;
    Ok(value)
}

/// [`parse`] for text.
pub fn parse_str(text: &str, max_depth: usize) -> Result<Value, JsonError> {
    parse(text.as_bytes(), max_depth)
}

const TOO_DEEP: &str = "nested too deeply";
const DUPLICATE: &str = "\u{0}duplicate:";

struct Strict {
    path: String,
    depth: usize,
    max_depth: usize,
}

impl Strict {
    fn child(&self, segment: fmt::Arguments<'_>) -> Strict {
        let path = if self.path.is_empty() { format!("{segment}") } else { format!("{}{segment}", self.path) };
        Strict { path, depth: self.depth + 1, max_depth: self.max_depth }
    }
}

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= self.max_depth {
            return Err(A::Error::custom(TOO_DEEP));
        }
        let mut out = Vec::new();
        loop {
            let seed = self.child(format_args!("[{}]", out.len()));
            match seq.next_element_seed(seed)? {
                Some(v) => out.push(v),
                None => break,
            }
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= self.max_depth {
            return Err(A::Error::custom(TOO_DEEP));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let seed = if self.path.is_empty() {
                Strict { path: key.clone(), depth: self.depth + 1, max_depth: self.max_depth }
            } else {
                self.child(format_args!(".{key}"))
            };
            if out.contains_key(&key) {
                return Err(A::Error::custom(format!("{DUPLICATE}{}", seed.path)));
            }
            let value = map.next_value_seed(seed)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Deserializes `T` from JSON text through [`parse`]: duplicate keys and deep nesting refused,
/// then a field of the wrong shape is an error naming its path (`$` for the document itself).
pub fn from_str<T: serde::de::DeserializeOwned>(text: &str, max_depth: usize) -> Result<T, String> {
    let value = parse_str(text, max_depth).map_err(|e| e.to_string())?;
    from_value(value).map_err(|(path, reason)| format!("`{path}`: {reason}"))
}

/// Deserializes `T` from a parsed document; a field of the wrong shape is `(path, reason)`.
/// Structs are read from JSON objects only, at every depth: serde would otherwise read a struct
/// from an array of its fields (`[]` as a body of all-default fields, `"installmentFees": []`).
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(ObjectsOnly(value)).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "$".to_owned() } else { path };
        (path, e.inner().to_string())
    })
}

/// A deserializer that reads every struct from an object, never from an array.
struct ObjectsOnly<D>(D);

/// A visitor whose nested deserializers are [`ObjectsOnly`] too.
struct Wrap<V>(V);

macro_rules! forward_deserialize {
    ($($method:ident),*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method(Wrap(visitor))
            }
        )*
    };
}

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap(v))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(v))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap(v))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(v))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        // a map, never a sequence of the fields
        self.0.deserialize_map(Wrap(v))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap(v))
    }
}

macro_rules! forward_visit {
    ($($method:ident: $t:ty),*) => {
        $(
            fn $method<E: serde::de::Error>(self, v: $t) -> Result<V::Value, E> {
                self.0.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_f64: f64,
        visit_char: char,
        visit_str: &str,
        visit_string: String,
        visit_bytes: &[u8],
        visit_byte_buf: Vec<u8>
    );

    fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.0.visit_borrowed_str(v)
    }

    fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        self.0.visit_borrowed_bytes(v)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(ObjectsOnly(d))
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(ObjectsOnly(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Wrap(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Wrap(map))
    }

    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Wrap(data))
    }
}

/// A seed whose deserializer is [`ObjectsOnly`].
struct WrapSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WrapSeed<S> {
    type Value = S::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(d))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(WrapSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(WrapSeed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(WrapSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: serde::de::EnumAccess<'de>> serde::de::EnumAccess<'de> for Wrap<A> {
    type Error = A::Error;
    type Variant = Wrap<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0.variant_seed(WrapSeed(seed)).map(|(v, access)| (v, Wrap(access)))
    }
}

impl<'de, A: serde::de::VariantAccess<'de>> serde::de::VariantAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(WrapSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap(v))
    }

    fn struct_variant<V: Visitor<'de>>(self, fields: &'static [&'static str], v: V) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = parse(br#"{"a": 1, "b": {"c": [1, {"d": 1, "d": 2}]}}"#, 16).unwrap_err();
        assert!(matches!(&e, JsonError::DuplicateKey { path, .. } if path == "b.c[1].d"), "{e:?}");
        assert!(e.to_string().contains("duplicate key `b.c[1].d`"), "{e}");
        let e = parse(br#"{"rate": "1.85", "rate": "18.50"}"#, 16).unwrap_err();
        assert!(e.to_string().contains("duplicate key `rate`"), "{e}");
    }

    #[test]
    fn good_json_reads_as_serde_json_does() {
        let text = r#"{"a": [1, -2, 3.5, "x", null, true, {"b": {}}], "u": 18446744073709551615}"#;
        assert_eq!(parse_str(text, 16).unwrap(), serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn structs_come_from_objects_only_at_every_depth() {
        #[derive(serde::Deserialize, Debug, Default)]
        #[serde(default, deny_unknown_fields)]
        #[allow(dead_code)]
        struct Inner {
            a: u32,
        }
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Outer {
            #[serde(default)]
            inner: Inner,
            list: Vec<Inner>,
            opt: Option<Inner>,
        }
        let ok = serde_json::json!({ "inner": { "a": 1 }, "list": [{ "a": 2 }], "opt": { "a": 3 } });
        assert!(from_value::<Outer>(ok).is_ok());
        assert_eq!(from_value::<Inner>(serde_json::json!([])).unwrap_err().0, "$");
        for (bad, path) in [
            (serde_json::json!({ "inner": [], "list": [] }), "inner"),
            (serde_json::json!({ "list": [[1]] }), "list[0]"),
            (serde_json::json!({ "list": [], "opt": [4] }), "opt"),
        ] {
            let (p, reason) = from_value::<Outer>(bad).unwrap_err();
            assert_eq!(p, path, "{reason}");
            assert!(reason.contains("invalid type"), "{reason}");
        }
    }

    #[test]
    fn depth_and_trailing_garbage() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse_str(&deep, 32).unwrap_err(), JsonError::TooDeep { limit: 32 });
        assert!(parse_str(&deep, 128).is_ok());
        assert!(parse_str("{} {}", 8).is_err());
        assert!(parse_str("{\"a\":", 8).is_err());
    }
}
