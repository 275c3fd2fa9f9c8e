//! Request bodies and query strings: size, nesting and shape, each refusal naming the field.

use openinsure_core::json::JsonError;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::reply::ApiError;
use http::StatusCode;

/// The deepest nesting of arrays and objects in `body`, counted without parsing (strings and
/// their escapes are skipped). Stops counting once `limit` is passed.
pub(crate) fn nesting_exceeds(body: &[u8], limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Parses a JSON body the one strict way ([`openinsure_core::json::parse`]): nesting checked
/// before anything is built, a syntax error names the line and column, a repeated key is refused
/// with its path.
pub(crate) fn parse_value(body: &[u8], max_depth: usize) -> Result<Value, ApiError> {
    check_depth(body, max_depth)?;
    openinsure_core::json::parse(body, max_depth).map_err(refused)
}

fn check_depth(body: &[u8], max_depth: usize) -> Result<(), ApiError> {
    if nesting_exceeds(body, max_depth) {
        return Err(too_deep(max_depth));
    }
    Ok(())
}

fn too_deep(max_depth: usize) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "too_deeply_nested",
        format!("the body nests arrays and objects deeper than {max_depth} levels"),
    )
}

fn refused(e: JsonError) -> ApiError {
    match e {
        JsonError::DuplicateKey { path, line, column } => {
            let mut e = ApiError::new(
                StatusCode::BAD_REQUEST,
                "duplicate_key",
                format!("the body repeats the key `{path}` (line {line} column {column}); each key may appear once"),
            );
            e.extra.fields = vec![openinsure_core::FieldError::new(path, "appears more than once")];
            e
        }
        JsonError::TooDeep { limit } => too_deep(limit),
        other => {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", format!("the body is not valid JSON: {other}"))
        }
    }
}

/// Parses a typed body; an empty body is `{}`. A field of the wrong shape is a field error with
/// its JSON path.
pub(crate) fn parse_typed<T: DeserializeOwned>(body: &[u8], max_depth: usize) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    // syntax first, so a broken body is `malformed_json` rather than a field error
    let value = parse_value(body, max_depth)?;
    openinsure_core::json::from_value(value).map_err(|(path, reason)| ApiError::field(path, reason))
}

/// A parsed query string.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Query {
        Query { pairs: form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect() }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// An unsigned integer parameter within `min..=max`, or `default` when absent.
    pub fn uint(&self, name: &str, default: u32, min: u32, max: u32) -> Result<u32, ApiError> {
        let Some(raw) = self.get(name) else { return Ok(default) };
        let n: u32 = raw.parse().map_err(|_| ApiError::field(name, format!("`{raw}` is not a whole number")))?;
        if n < min {
            return Err(ApiError::field(name, format!("must be at least {min}")));
        }
        if n > max {
            return Err(ApiError::field(name, format!("must be at most {max}")));
        }
        Ok(n)
    }

    /// A parameter deserialized as a JSON string (for snake_case enums such as statuses).
    pub fn enumeration<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        let Some(raw) = self.get(name) else { return Ok(None) };
        serde_json::from_value(Value::String(raw.to_owned()))
            .map(Some)
            .map_err(|_| ApiError::field(name, format!("`{raw}` is not a valid value")))
    }
}

/// The largest page a list endpoint returns.
pub(crate) const MAX_LIMIT: u32 = openinsure_core::store::MAX_PAGE_LIMIT;

/// The page size when `limit` is absent.
pub(crate) const DEFAULT_LIMIT: u32 = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_outside_strings_only() {
        assert!(!nesting_exceeds(br#"{"a":[1,{"b":2}]}"#, 3));
        assert!(nesting_exceeds(br#"{"a":[1,{"b":[2]}]}"#, 3));
        assert!(!nesting_exceeds(br#"{"a":"[[[[[[[[\"[[[["}"#, 1));
        let deep = "[".repeat(10_000);
        assert!(nesting_exceeds(deep.as_bytes(), 64));
    }

    #[test]
    fn typed_bodies_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct B {
            n: u32,
        }
        let e = parse_typed::<B>(br#"{"n": "x"}"#, 8).unwrap_err();
        assert_eq!(e.extra.fields[0].path, "n");
        let e = parse_typed::<B>(br#"{"n": 1, "m": 2}"#, 8).unwrap_err();
        assert!(e.extra.fields[0].reason.contains("unknown field"), "{e:?}");
        let e = parse_typed::<B>(b"{", 8).unwrap_err();
        assert_eq!(e.code, "malformed_json");
        let e = parse_typed::<B>(br#"{"n": 1, "n": 2}"#, 8).unwrap_err();
        assert_eq!((e.code.as_ref(), e.extra.fields[0].path.as_str()), ("duplicate_key", "n"));
        let e = parse_typed::<B>(b"[1]", 8).unwrap_err();
        assert_eq!(e.extra.fields[0].path, "$", "the wrong type at the root names the root");
        assert_eq!(parse_typed::<B>(b"{\"n\": 3}", 8).unwrap().n, 3);
    }

    #[test]
    fn query_limits_are_enforced_with_the_field_named() {
        let q = Query::parse(Some("limit=201&offset=x&status=open%20now"));
        assert_eq!(q.uint("limit", 50, 1, 200).unwrap_err().extra.fields[0].path, "limit");
        assert_eq!(q.uint("offset", 0, 0, u32::MAX).unwrap_err().extra.fields[0].path, "offset");
        assert_eq!(q.get("status"), Some("open now"));
        assert_eq!(Query::parse(None).uint("limit", 50, 1, 200).unwrap(), 50);
    }
}
