//! Response bodies: the `{"data": ...}` envelope and the error envelope.

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use openinsure_core::error::FieldError;
use openinsure_core::underwriting::checks::Flag;
use serde::Serialize;

use crate::error::Error;

/// A successful reply, already serialized.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// `application/json` but for a file.
    pub content_type: &'static str,
    /// A live subscription the host may keep serving (`/live` routes).
    pub live: Option<crate::live::LiveTicket>,
}

#[derive(Serialize)]
struct Data<'a, T: ?Sized> {
    data: &'a T,
}

const JSON: &str = "application/json";

/// Where a list page starts and how long it is.
#[derive(Clone, Copy, Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    /// The page size asked for.
    pub limit: u32,
    /// How many records were skipped.
    pub offset: u32,
    /// How many records this page holds.
    pub count: usize,
}

#[derive(Serialize)]
struct ListData<'a, T> {
    data: &'a [T],
    page: PageInfo,
}

impl Reply {
    /// `{"data": value}` with `status`.
    pub fn data<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Reply, ApiError> {
        let mut body = Vec::with_capacity(4096);
        serde_json::to_writer(&mut body, &Data { data: value }).map_err(ApiError::serialize)?;
        Ok(Reply { status, body: Bytes::from(body), content_type: JSON, live: None })
    }

    /// `{"data": [...], "page": {...}}`.
    pub fn list<T: Serialize>(items: &[T], limit: u32, offset: u32) -> Result<Reply, ApiError> {
        let page = PageInfo { limit, offset, count: items.len() };
        let mut body = Vec::with_capacity(4096);
        serde_json::to_writer(&mut body, &ListData { data: items, page }).map_err(ApiError::serialize)?;
        Ok(Reply { status: StatusCode::OK, body: Bytes::from(body), content_type: JSON, live: None })
    }

    /// `200 OK` with the data.
    pub fn ok<T: Serialize + ?Sized>(value: &T) -> Result<Reply, ApiError> {
        Reply::data(StatusCode::OK, value)
    }

    /// `200 OK` with a CSV file.
    pub fn csv(text: String) -> Result<Reply, ApiError> {
        Ok(Reply {
            status: StatusCode::OK,
            body: Bytes::from(text),
            content_type: "text/csv; charset=utf-8",
            live: None,
        })
    }

    /// `201 Created` with the data.
    pub fn created<T: Serialize + ?Sized>(value: &T) -> Result<Reply, ApiError> {
        Reply::data(StatusCode::CREATED, value)
    }

    /// `202 Accepted` with the data (work queued: a webhook message to send).
    pub fn accepted<T: Serialize + ?Sized>(value: &T) -> Result<Reply, ApiError> {
        Reply::data(StatusCode::ACCEPTED, value)
    }
}

/// An error answer: status, stable code, message, and the details that go with it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    pub extra: Box<Extra>,
}

/// The rarer parts of an error, boxed to keep `Result<_, ApiError>` small.
#[derive(Debug, Default, Clone)]
pub(crate) struct Extra {
    pub fields: Vec<FieldError>,
    pub flags: Vec<Flag>,
    pub retry_after_secs: Option<u64>,
    pub allow: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into(), extra: Box::default() }
    }

    /// 400 with one field error.
    pub fn field(path: impl Into<String>, reason: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_fields", "the request has invalid fields");
        e.extra.fields.push(FieldError::new(path, reason));
        e
    }

    /// 426: a WebSocket endpoint asked for without the upgrade (or on a host without rooms).
    pub fn upgrade_required() -> Self {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "this is a WebSocket endpoint: connect with `Upgrade: websocket` to a host that serves deal rooms",
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    fn serialize(e: serde_json::Error) -> Self {
        tracing::error!(error = %e, "response serialization failed");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the response could not be serialized")
    }

    /// The response, with the request id in the body.
    pub fn into_response(self, request_id: &str) -> Response<Bytes> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            code: &'a str,
            message: &'a str,
            request_id: &'a str,
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            fields: &'a [FieldError],
            #[serde(skip_serializing_if = "<[_]>::is_empty")]
            flags: &'a [Flag],
        }
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: Body<'a>,
        }
        let body = serde_json::to_vec(&Envelope {
            error: Body {
                code: &self.code,
                message: &self.message,
                request_id,
                fields: &self.extra.fields,
                flags: &self.extra.flags,
            },
        })
        .unwrap_or_else(|_| br#"{"error":{"code":"internal","message":"error serialization failed"}}"#.to_vec());
        let mut response = json_response(self.status, Bytes::from(body));
        if let Some(secs) = self.extra.retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(allow) = self.extra.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: Bytes) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

impl From<openinsure_core::Error> for ApiError {
    fn from(e: openinsure_core::Error) -> Self {
        ApiError::from(Error::from(e))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound { entity, id } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("{entity} `{id}` not found"))
            }
            Error::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            Error::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            e @ Error::MoneyIdReused { .. } => ApiError::new(StatusCode::CONFLICT, "money_id_reused", e.to_string()),
            Error::Invalid(fields) => {
                let mut e = ApiError::new(StatusCode::BAD_REQUEST, "invalid_fields", "the request has invalid fields");
                e.extra.fields = fields.0;
                e
            }
            Error::Rule { code, message } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message),
            Error::Checks { flags } => {
                let mut e = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "prebind_checks_failed",
                    format!("{} pre-bind check(s) failed", flags.len()),
                );
                e.extra.flags = flags;
                e
            }
            Error::Unavailable(detail) => {
                tracing::warn!(error = %detail, "backend unavailable");
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the system of record cannot be reached; nothing was written, try again shortly",
                );
                e.extra.retry_after_secs = Some(1);
                e
            }
            Error::Backend(detail) => {
                // the detail stays in the log: it may name internals the caller has no business seeing
                tracing::error!(error = %detail, "backend failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server could not complete the request",
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A system of record that cannot be reached is 503 with `Retry-After`, not a 500.
    #[test]
    fn an_unreachable_backend_is_503_with_retry_after() {
        let e = ApiError::from(Error::Unavailable("database: pool timed out".into()));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.extra.retry_after_secs, Some(1));
        assert!(!e.message.contains("pool"), "the detail stays in the log: {}", e.message);
        assert_eq!(ApiError::from(Error::Backend("x".into())).status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
