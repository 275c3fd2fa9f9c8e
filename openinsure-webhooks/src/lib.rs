#![doc = include_str!("../README.md")]

pub mod model;
pub mod store;
pub mod target;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use model::{
    AttemptDecision, AttemptRecord, DeliveryAttempt, DeliveryStatus, EndpointPatch, EndpointSecrets, LeasedDelivery,
    NewEndpoint, Replay, RetrySchedule, SendOutcome, StoredEndpoint, WebhookDelivery, WebhookEndpoint, decide,
};
pub use store::{OutboundRequest, SendResult, WebhookSender, WebhookStore};
pub use target::{Target, TargetRules, is_public};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far a message's timestamp may be from the receiver's clock, in seconds (the
/// specification's five minutes).
pub const TOLERANCE_SECS: i64 = 300;

/// Why a secret or a message was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The secret is not `whsec_` and base64, or its key is not 24 to 64 bytes.
    #[error("invalid webhook secret: {0}")]
    Secret(&'static str),
    /// A header is missing or malformed.
    #[error("invalid webhook header `{header}`: {reason}")]
    Header {
        /// The header (`webhook-timestamp`, ...).
        header: &'static str,
        /// Why, lowercase.
        reason: &'static str,
    },
    /// The timestamp is further from now than the tolerance (a replay, or a clock far off).
    #[error("webhook timestamp is outside the tolerance")]
    Stale,
    /// No signature matches any accepted secret.
    #[error("no webhook signature matches")]
    Mismatch,
}

/// A webhook endpoint's signing secret: `whsec_` and the base64 of its key.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

impl WebhookSecret {
    /// The fewest key bytes accepted (the specification asks for 24 to 64).
    pub const MIN_BYTES: usize = 24;
    /// The most key bytes accepted.
    pub const MAX_BYTES: usize = 64;

    /// A secret with this key (random bytes the caller drew).
    pub fn from_bytes(key: &[u8]) -> Result<Self, WebhookError> {
        if key.len() < Self::MIN_BYTES || key.len() > Self::MAX_BYTES {
            return Err(WebhookError::Secret("the key must be 24 to 64 bytes"));
        }
        Ok(WebhookSecret { key: key.to_vec() })
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, WebhookError> {
        let encoded = text.strip_prefix("whsec_").ok_or(WebhookError::Secret("expected `whsec_`"))?;
        let key = STANDARD.decode(encoded).map_err(|_| WebhookError::Secret("the key is not base64"))?;
        WebhookSecret::from_bytes(&key)
    }

    /// The secret as text (`whsec_<base64>`), to show its owner once.
    pub fn expose(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable_key());
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

#[allow(clippy::panic, reason = "HMAC accepts every key length; this is never reached")]
fn unreachable_key() -> Hmac<Sha256> {
    panic!("hmac refused a key")
}

/// The three headers of a signed message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`: the message id (the same on every retry, so receivers de-duplicate).
    pub id: String,
    /// `webhook-timestamp`: seconds since the epoch, as decimal text.
    pub timestamp: String,
    /// `webhook-signature`: `v1,<base64>`.
    pub signature: String,
}

impl SignedHeaders {
    /// The headers as (name, value) pairs.
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [("webhook-id", &self.id), ("webhook-timestamp", &self.timestamp), ("webhook-signature", &self.signature)]
    }
}

/// Signs `body` as message `id` sent at `timestamp` (seconds since the epoch).
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let timestamp = timestamp.to_string();
    let tag = secret.mac(id, &timestamp, body).finalize().into_bytes();
    SignedHeaders { id: id.to_owned(), timestamp, signature: format!("v1,{}", STANDARD.encode(tag)) }
}

/// The headers for a message signed with each of `secrets` (during a rotation, the new secret
/// and the old one: the `webhook-signature` header lists both, space-separated, and a receiver
/// holding either accepts it).
pub fn sign_all(secrets: &[WebhookSecret], id: &str, timestamp: i64, body: &[u8]) -> SignedHeaders {
    let ts = timestamp.to_string();
    let signature = secrets
        .iter()
        .map(|s| format!("v1,{}", STANDARD.encode(s.mac(id, &ts, body).finalize().into_bytes())))
        .collect::<Vec<_>>()
        .join(" ");
    SignedHeaders { id: id.to_owned(), timestamp: ts, signature }
}

/// Verifies a received message, as a receiver does: the timestamp within `tolerance_secs` of
/// `now`, and one of the space-separated `v1` signatures made with one of `secrets`, compared in
/// constant time. Other signature versions are skipped.
pub fn verify(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    if id.is_empty() {
        return Err(WebhookError::Header { header: "webhook-id", reason: "is empty" });
    }
    let at: i64 = timestamp
        .parse()
        .map_err(|_| WebhookError::Header { header: "webhook-timestamp", reason: "is not whole seconds" })?;
    if (now - at).abs() > tolerance_secs {
        return Err(WebhookError::Stale);
    }
    let candidates: Vec<Vec<u8>> = signature
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    if candidates.is_empty() {
        return Err(WebhookError::Header { header: "webhook-signature", reason: "holds no `v1` signature" });
    }
    for secret in secrets {
        for candidate in &candidates {
            if secret.mac(id, timestamp, body).verify_slice(candidate).is_ok() {
                return Ok(());
            }
        }
    }
    Err(WebhookError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret(n: u8) -> WebhookSecret {
        WebhookSecret::from_bytes(&[n; 32]).unwrap()
    }

    #[test]
    fn secrets_read_back_and_bad_ones_are_named() {
        let s = secret(1);
        assert_eq!(WebhookSecret::parse(&s.expose()).unwrap(), s);
        assert_eq!(format!("{s:?}"), "WebhookSecret(whsec_…)", "Debug never shows the key");
        assert_eq!(WebhookSecret::parse("abc"), Err(WebhookError::Secret("expected `whsec_`")));
        assert_eq!(WebhookSecret::parse("whsec_!!!"), Err(WebhookError::Secret("the key is not base64")));
        assert!(WebhookSecret::parse("whsec_AAAA").is_err(), "3 bytes is too short");
        assert!(WebhookSecret::from_bytes(&[0; 65]).is_err());
        assert!(WebhookSecret::from_bytes(&[0; 24]).is_ok());
    }

    #[test]
    fn a_known_vector() {
        // the Python reference library's output for this key, id, time and body
        let s = WebhookSecret::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
        let h = sign(&s, "msg_1", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(h.signature, "v1,rkwp5YuvdrMkcu0ZhuMsXoTg44mHAr1Q0+FFgFpXsjY=");
        assert_eq!(h.timestamp, "1700000000");
    }

    #[test]
    fn verification_refuses_what_it_should() {
        let s = secret(2);
        let h = sign(&s, "msg_9", 1_000, b"body");
        let ok = |secrets: &[WebhookSecret], id: &str, ts: &str, sig: &str, body: &[u8], now: i64| {
            verify(secrets, id, ts, sig, body, now, TOLERANCE_SECS)
        };
        assert_eq!(ok(std::slice::from_ref(&s), "msg_9", "1000", &h.signature, b"body", 1_000), Ok(()));
        assert_eq!(ok(&[secret(3), s.clone()], "msg_9", "1000", &h.signature, b"body", 1_300), Ok(()), "a rotation");
        assert_eq!(
            ok(std::slice::from_ref(&s), "msg_9", "1000", &h.signature, b"body", 1_301),
            Err(WebhookError::Stale)
        );
        assert_eq!(ok(std::slice::from_ref(&s), "msg_9", "1000", &h.signature, b"body", 699), Err(WebhookError::Stale));
        assert_eq!(
            ok(std::slice::from_ref(&s), "msg_9", "1000", &h.signature, b"bodY", 1_000),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(
            ok(std::slice::from_ref(&s), "msg_8", "1000", &h.signature, b"body", 1_000),
            Err(WebhookError::Mismatch)
        );
        assert_eq!(ok(&[secret(3)], "msg_9", "1000", &h.signature, b"body", 1_000), Err(WebhookError::Mismatch));
        assert_eq!(
            ok(std::slice::from_ref(&s), "msg_9", "1001", &h.signature, b"body", 1_000),
            Err(WebhookError::Mismatch)
        );
        let both = format!("v2,xyz {}", h.signature);
        assert_eq!(
            ok(std::slice::from_ref(&s), "msg_9", "1000", &both, b"body", 1_000),
            Ok(()),
            "other versions are skipped"
        );
        assert!(matches!(
            ok(std::slice::from_ref(&s), "msg_9", "soon", &h.signature, b"body", 1_000),
            Err(WebhookError::Header { header: "webhook-timestamp", .. })
        ));
        assert!(matches!(
            ok(std::slice::from_ref(&s), "msg_9", "1000", "v2,abc", b"body", 1_000),
            Err(WebhookError::Header { header: "webhook-signature", .. })
        ));
        assert!(matches!(
            ok(std::slice::from_ref(&s), "", "1000", &h.signature, b"body", 1_000),
            Err(WebhookError::Header { header: "webhook-id", .. })
        ));
    }

    proptest! {
        #[test]
        fn what_is_signed_verifies_and_any_change_does_not(
            key in proptest::collection::vec(any::<u8>(), 24..=64),
            id in "[a-zA-Z0-9_]{1,40}",
            ts in 0i64..4_000_000_000,
            body in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<usize>(),
        ) {
            let s = WebhookSecret::from_bytes(&key).unwrap();
            let h = sign(&s, &id, ts, &body);
            prop_assert_eq!(verify(std::slice::from_ref(&s), &h.id, &h.timestamp, &h.signature, &body, ts, TOLERANCE_SECS), Ok(()));
            if !body.is_empty() {
                let mut changed = body.clone();
                let i = flip % changed.len();
                changed[i] ^= 1;
                prop_assert_eq!(verify(&[s], &h.id, &h.timestamp, &h.signature, &changed, ts, TOLERANCE_SECS), Err(WebhookError::Mismatch));
            }
        }
    }
}
