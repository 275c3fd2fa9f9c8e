#![doc = include_str!("../README.md")]
//!
//! Bearer tokens: HS256 JWTs with the seed's claims `{sub, org, role, iat, exp}`.
//!
//! [`TokenKeys`] holds one or more HMAC keys, each named by a key id (`kid`), so keys rotate
//! without a flag day: add the new key, start signing with it, drop the old one once its tokens
//! have expired. Tokens last 8 hours unless configured otherwise.
//!
//! Verification is strict and every refusal is its own [`AuthError`]: `alg: none`, any algorithm
//! other than HS256 (an RS256 header on an HMAC key included), an unknown `kid`, a bad signature, an
//! expired or not-yet-valid token, a missing claim, an unknown role, a malformed id. Time comes in
//! as an argument (this crate reads no clock); clock-skew leeway defaults to zero.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use openinsure_auth::TokenKeys;
//! use openinsure_core::ids::{OrgId, UserId};
//! use openinsure_core::tenancy::{Caller, Role};
//!
//! let keys = TokenKeys::new("2026-11", b"a development secret of 32+ bytes!!").unwrap();
//! let caller = Caller::new(UserId::from_uuid(uuid::Uuid::from_u128(7)), OrgId::from_uuid(uuid::Uuid::from_u128(1)), Role::Underwriter);
//! let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
//! let token = keys.issue(&caller, now).unwrap();
//! assert_eq!(keys.verify(&token, now).unwrap().caller(), caller);
//! // eight hours later it has expired
//! assert!(keys.verify(&token, now + chrono::Duration::hours(8)).is_err());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};

pub mod room;

/// The default token lifetime: 8 hours, as the seed's auth worker issues them.
pub const DEFAULT_LIFETIME: Duration = Duration::hours(8);
/// The shortest HMAC secret accepted, in bytes (RFC 7518 §3.2 asks for at least the hash size).
pub const MIN_SECRET_BYTES: usize = 32;

/// Why a token was refused, or a key rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Not three base64url segments with JSON header and claims.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header says `alg: none`.
    #[error("unsigned tokens (`alg: none`) are refused")]
    AlgNone,
    /// The header names an algorithm other than the configured one.
    #[error("algorithm `{0}` is not allowed; expected `HS256`")]
    AlgorithmNotAllowed(String),
    /// The header's `kid` names no configured key.
    #[error("unknown key id `{0}`")]
    UnknownKey(String),
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// `exp` has passed.
    #[error("token expired")]
    Expired,
    /// `nbf` or `iat` lies in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// A required claim is absent.
    #[error("missing claim `{0}`")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("claim `{0}` has the wrong type")]
    InvalidClaim(&'static str),
    /// The `role` claim is not a platform role.
    #[error("unknown role `{0}`")]
    UnknownRole(String),
    /// `sub` or `org` is not a UUID.
    #[error("claim `{0}` is not a valid id")]
    MalformedId(&'static str),
    /// A signing secret is too short.
    #[error("signing secret for key `{kid}` is {len} bytes; at least 32 are required")]
    WeakKey {
        /// The key id.
        kid: String,
        /// The secret's length.
        len: usize,
    },
    /// A signing secret given as text is not hexadecimal.
    #[error("signing secret for key `{0}` is not hexadecimal")]
    NotHex(String),
    /// Signing failed inside the JWT library.
    #[error("signing failed: {0}")]
    Signing(String),
}

/// The verified claims of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: UserId,
    /// The org id.
    pub org: OrgId,
    /// The role within the org.
    pub role: Role,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Not before, seconds since the epoch, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Whether the session used multi-factor authentication (absent means false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub mfa: bool,
}

impl Claims {
    /// The caller these claims describe.
    pub fn caller(&self) -> Caller {
        Caller { user_id: self.sub, org_id: self.org, role: self.role, mfa: self.mfa }
    }
}

#[derive(Clone)]
struct Key {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// SHA-256 of a domain tag and the secret: names the key in [`TokenKeys::fingerprint`].
    digest: [u8; 32],
}

/// The HMAC keys tokens are signed and verified with, by key id.
#[derive(Clone)]
pub struct TokenKeys {
    keys: BTreeMap<String, Key>,
    signing_kid: String,
    leeway_secs: i64,
    lifetime: Duration,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("signing_kid", &self.signing_kid)
            .field("leeway_secs", &self.leeway_secs)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

fn make_key(kid: &str, secret: &[u8]) -> Result<Key, AuthError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(AuthError::WeakKey { kid: kid.to_owned(), len: secret.len() });
    }
    use sha2::Digest as _;
    let digest = sha2::Sha256::new_with_prefix(b"openinsure token key\0").chain_update(secret).finalize().into();
    Ok(Key { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), digest })
}

impl TokenKeys {
    /// Keys with one secret written as hexadecimal text (as `openinsure serve` keeps it in its key
    /// file and a Worker in its `OPENINSURE_SIGNING_KEY` secret); surrounding whitespace is
    /// ignored.
    pub fn from_hex(kid: impl Into<String>, text: &str) -> Result<Self, AuthError> {
        let kid = kid.into();
        let secret = hex::decode(text.trim()).map_err(|_| AuthError::NotHex(kid.clone()))?;
        TokenKeys::new(kid, &secret)
    }

    /// Keys with one secret, used for signing and verification.
    pub fn new(kid: impl Into<String>, secret: &[u8]) -> Result<Self, AuthError> {
        let kid = kid.into();
        let key = make_key(&kid, secret)?;
        let mut keys = BTreeMap::new();
        keys.insert(kid.clone(), key);
        Ok(TokenKeys { keys, signing_kid: kid, leeway_secs: 0, lifetime: DEFAULT_LIFETIME })
    }

    /// Adds a key that verifies tokens (an older or a newer one during rotation).
    pub fn with_key(mut self, kid: impl Into<String>, secret: &[u8]) -> Result<Self, AuthError> {
        let kid = kid.into();
        let key = make_key(&kid, secret)?;
        self.keys.insert(kid, key);
        Ok(self)
    }

    /// Signs new tokens with `kid` from now on; `kid` must already be configured.
    pub fn sign_with(mut self, kid: &str) -> Result<Self, AuthError> {
        if !self.keys.contains_key(kid) {
            return Err(AuthError::UnknownKey(kid.to_owned()));
        }
        kid.clone_into(&mut self.signing_kid);
        Ok(self)
    }

    /// 32 hex digits that change whenever a key is added, removed or replaced: what a cache of
    /// verified tokens shared beyond this process (Workers KV) is keyed under, so a token verified
    /// with a key that is gone is never found again. A hash of hashes: it reveals nothing of a
    /// secret.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        for (kid, key) in &self.keys {
            h.update((kid.len() as u64).to_be_bytes());
            h.update(kid.as_bytes());
            h.update(key.digest);
        }
        h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// Stops accepting tokens signed with `kid` (it may not be the signing key).
    pub fn without_key(mut self, kid: &str) -> Self {
        if kid != self.signing_kid {
            self.keys.remove(kid);
        }
        self
    }

    /// Allowed clock skew for `exp`, `nbf` and `iat`, in seconds (default 0).
    pub fn with_leeway_secs(mut self, secs: u32) -> Self {
        self.leeway_secs = i64::from(secs);
        self
    }

    /// Lifetime of issued tokens (default 8 hours).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The key id new tokens are signed with.
    pub fn signing_kid(&self) -> &str {
        &self.signing_kid
    }

    /// Issues a token for `caller`, valid from `now` for the configured lifetime.
    pub fn issue(&self, caller: &Caller, now: DateTime<Utc>) -> Result<String, AuthError> {
        let claims = Claims {
            sub: caller.user_id,
            org: caller.org_id,
            role: caller.role,
            iat: now.timestamp(),
            exp: (now + self.lifetime).timestamp(),
            nbf: None,
            mfa: caller.mfa,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with the signing key (for tokens with extra claims).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, AuthError> {
        let key = self.keys.get(&self.signing_kid).ok_or_else(|| AuthError::UnknownKey(self.signing_kid.clone()))?;
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.signing_kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding).map_err(|e| AuthError::Signing(e.to_string()))
    }

    /// Verifies a token at time `now` and returns its claims.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, AuthError> {
        let raw = self.verify_raw(token, now)?;
        claims_from(&raw)
    }

    /// Re-checks the time claims of claims this key set verified earlier (for a host that caches
    /// verified tokens): expired or not yet valid at `now`, with the same leeway as [`Self::verify`].
    pub fn still_valid(&self, claims: &Claims, now: DateTime<Utc>) -> Result<(), AuthError> {
        let now = now.timestamp();
        if now >= claims.exp.saturating_add(self.leeway_secs) {
            return Err(AuthError::Expired);
        }
        if now < claims.nbf.unwrap_or(i64::MIN).saturating_sub(self.leeway_secs)
            || now < claims.iat.saturating_sub(self.leeway_secs)
        {
            return Err(AuthError::NotYetValid);
        }
        Ok(())
    }

    /// Verifies signature, algorithm, key and the time claims (`exp` required, `nbf` and `iat`
    /// when present), and returns the claims as JSON for callers with claims of their own.
    pub fn verify_raw(&self, token: &str, now: DateTime<Utc>) -> Result<serde_json::Map<String, Value>, AuthError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("expected three dot-separated segments"));
        };
        let header_bytes =
            URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| AuthError::Malformed("header is not base64url"))?;
        let header: Value =
            serde_json::from_slice(&header_bytes).map_err(|_| AuthError::Malformed("header is not JSON"))?;
        let alg = header.get("alg").and_then(Value::as_str).ok_or(AuthError::Malformed("header has no `alg`"))?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(AuthError::AlgNone);
        }
        if alg != "HS256" {
            return Err(AuthError::AlgorithmNotAllowed(alg.to_owned()));
        }
        let kid = match header.get("kid") {
            None | Some(Value::Null) => self.signing_kid.as_str(),
            Some(Value::String(kid)) => kid.as_str(),
            Some(_) => return Err(AuthError::Malformed("`kid` is not a string")),
        };
        let key = self.keys.get(kid).ok_or_else(|| AuthError::UnknownKey(kid.to_owned()))?;

        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, Value>>(token, &key.decoding, &validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthError::BadSignature,
                    _ => AuthError::Malformed("claims are not a JSON object"),
                }
            })?;
        let claims = data.claims;

        let now = now.timestamp();
        let exp = int_claim(&claims, "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(self.leeway_secs) {
            return Err(AuthError::Expired);
        }
        if let Some(nbf) = int_claim(&claims, "nbf")?
            && now < nbf.saturating_sub(self.leeway_secs)
        {
            return Err(AuthError::NotYetValid);
        }
        if let Some(iat) = int_claim(&claims, "iat")?
            && now < iat.saturating_sub(self.leeway_secs)
        {
            return Err(AuthError::NotYetValid);
        }
        Ok(claims)
    }
}

fn int_claim(claims: &serde_json::Map<String, Value>, name: &'static str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(AuthError::InvalidClaim(name)),
    }
}

fn str_claim<'a>(claims: &'a serde_json::Map<String, Value>, name: &'static str) -> Result<&'a str, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(AuthError::MissingClaim(name)),
        Some(v) => v.as_str().ok_or(AuthError::InvalidClaim(name)),
    }
}

/// Reads the seed's claims out of verified raw claims. A token with a `typ` claim is a token for
/// something else (a deal room WebSocket token, say) and is no API token.
pub fn claims_from(claims: &serde_json::Map<String, Value>) -> Result<Claims, AuthError> {
    if claims.contains_key("typ") {
        return Err(AuthError::InvalidClaim("typ"));
    }
    let sub = str_claim(claims, "sub")?;
    let org = str_claim(claims, "org")?;
    let role = str_claim(claims, "role")?;
    let iat = int_claim(claims, "iat")?.ok_or(AuthError::MissingClaim("iat"))?;
    let exp = int_claim(claims, "exp")?.ok_or(AuthError::MissingClaim("exp"))?;
    let nbf = int_claim(claims, "nbf")?;
    let mfa = match claims.get("mfa") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(AuthError::InvalidClaim("mfa")),
    };
    Ok(Claims {
        sub: sub.parse().map_err(|_| AuthError::MalformedId("sub"))?,
        org: org.parse().map_err(|_| AuthError::MalformedId("org"))?,
        role: role.parse().map_err(|_| AuthError::UnknownRole(role.to_owned()))?,
        iat,
        exp,
        nbf,
        mfa,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hex_secret_reads_and_anything_else_is_named() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert!(super::TokenKeys::from_hex("dev", &format!("  {hex}\n")).is_ok());
        assert!(matches!(super::TokenKeys::from_hex("dev", "zz"), Err(super::AuthError::NotHex(k)) if k == "dev"));
        assert!(matches!(super::TokenKeys::from_hex("dev", "abc"), Err(super::AuthError::NotHex(_))));
        assert!(matches!(super::TokenKeys::from_hex("dev", "0011"), Err(super::AuthError::WeakKey { len: 2, .. })));
    }

    use super::*;
    use chrono::TimeZone;
    use serde_json::json;
    use uuid::Uuid;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
    }

    fn caller() -> Caller {
        Caller::new(UserId::from_uuid(Uuid::from_u128(10)), OrgId::from_uuid(Uuid::from_u128(20)), Role::Producer)
    }

    fn keys() -> TokenKeys {
        TokenKeys::new("k1", SECRET).unwrap()
    }

    #[test]
    fn the_fingerprint_follows_every_key_and_reveals_no_secret() {
        let one = keys().fingerprint();
        assert_eq!(one.len(), 32);
        assert_eq!(one, keys().fingerprint(), "the same keys, the same fingerprint");
        assert_ne!(one, TokenKeys::new("k1", OTHER).unwrap().fingerprint(), "another secret");
        assert_ne!(one, TokenKeys::new("k2", SECRET).unwrap().fingerprint(), "another kid");
        let two = keys().with_key("k2", OTHER).unwrap();
        assert_ne!(one, two.fingerprint(), "a key added");
        assert_eq!(one, two.without_key("k2").fingerprint(), "and removed again");
        assert!(!one.contains(&hex::encode(SECRET)[..8]));
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    fn signed(claims: Value) -> String {
        keys().sign(&claims).unwrap()
    }

    fn base_claims() -> Value {
        json!({"sub": Uuid::from_u128(10).to_string(), "org": Uuid::from_u128(20).to_string(),
               "role": "producer", "iat": now().timestamp(), "exp": now().timestamp() + 3600})
    }

    #[test]
    fn round_trip_with_mfa() {
        let c = caller().with_mfa(true);
        let token = keys().issue(&c, now()).unwrap();
        let claims = keys().verify(&token, now()).unwrap();
        assert_eq!(claims.caller(), c);
        assert_eq!(claims.exp - claims.iat, 8 * 3600);
    }

    #[test]
    fn alg_none_is_refused() {
        let token = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&base_claims()));
        assert_eq!(keys().verify(&token, now()), Err(AuthError::AlgNone));
        let token = format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&base_claims()));
        assert_eq!(keys().verify(&token, now()), Err(AuthError::AlgNone));
    }

    #[test]
    fn other_algorithms_are_refused() {
        for alg in ["RS256", "HS512", "ES256", "HS384"] {
            let good = signed(base_claims());
            let sig = good.rsplit('.').next().unwrap();
            let token = format!("{}.{}.{}", b64(&json!({"alg": alg, "kid": "k1"})), b64(&base_claims()), sig);
            assert_eq!(keys().verify(&token, now()), Err(AuthError::AlgorithmNotAllowed(alg.into())));
        }
    }

    #[test]
    fn bad_signature_and_unknown_kid() {
        let foreign = TokenKeys::new("k1", OTHER).unwrap().issue(&caller(), now()).unwrap();
        assert_eq!(keys().verify(&foreign, now()), Err(AuthError::BadSignature));
        let other_kid = TokenKeys::new("k9", SECRET).unwrap().issue(&caller(), now()).unwrap();
        assert_eq!(keys().verify(&other_kid, now()), Err(AuthError::UnknownKey("k9".into())));
        let mut tampered = keys().issue(&caller(), now()).unwrap();
        let mid = tampered.find('.').unwrap() + 3;
        tampered.replace_range(mid..mid + 1, if &tampered[mid..mid + 1] == "A" { "B" } else { "A" });
        assert!(matches!(keys().verify(&tampered, now()), Err(AuthError::BadSignature | AuthError::Malformed(_))));
    }

    #[test]
    fn rotation_accepts_both_keys() {
        let old = keys().issue(&caller(), now()).unwrap();
        let rotated = keys().with_key("k2", OTHER).unwrap().sign_with("k2").unwrap();
        let new = rotated.issue(&caller(), now()).unwrap();
        assert!(rotated.verify(&old, now()).is_ok());
        assert!(rotated.verify(&new, now()).is_ok());
        let retired = rotated.without_key("k1");
        assert_eq!(retired.verify(&old, now()), Err(AuthError::UnknownKey("k1".into())));
        assert!(retired.verify(&new, now()).is_ok());
        assert!(keys().sign_with("nope").is_err());
    }

    #[test]
    fn expiry_and_leeway() {
        let token = keys().issue(&caller(), now()).unwrap();
        let at_exp = now() + DEFAULT_LIFETIME;
        assert_eq!(keys().verify(&token, at_exp), Err(AuthError::Expired));
        assert!(keys().verify(&token, at_exp - Duration::seconds(1)).is_ok());
        assert!(keys().with_leeway_secs(30).verify(&token, at_exp + Duration::seconds(29)).is_ok());
        assert_eq!(keys().with_leeway_secs(30).verify(&token, at_exp + Duration::seconds(30)), Err(AuthError::Expired));
    }

    #[test]
    fn not_yet_valid() {
        let mut c = base_claims();
        c["nbf"] = json!(now().timestamp() + 60);
        assert_eq!(keys().verify(&signed(c.clone()), now()), Err(AuthError::NotYetValid));
        assert!(keys().with_leeway_secs(60).verify(&signed(c), now()).is_ok());
        let future = keys().issue(&caller(), now() + Duration::minutes(5)).unwrap();
        assert_eq!(keys().verify(&future, now()), Err(AuthError::NotYetValid));
    }

    #[test]
    fn missing_claims_each_named() {
        for claim in ["sub", "org", "role", "iat", "exp"] {
            let mut c = base_claims();
            c.as_object_mut().unwrap().remove(claim);
            assert_eq!(keys().verify(&signed(c), now()), Err(AuthError::MissingClaim(claim)), "{claim}");
        }
    }

    #[test]
    fn unknown_role_and_malformed_ids() {
        let mut c = base_claims();
        c["role"] = json!("wizard");
        assert_eq!(keys().verify(&signed(c), now()), Err(AuthError::UnknownRole("wizard".into())));
        let mut c = base_claims();
        c["org"] = json!("org_123");
        assert_eq!(keys().verify(&signed(c), now()), Err(AuthError::MalformedId("org")));
        let mut c = base_claims();
        c["sub"] = json!("user@example.com");
        assert_eq!(keys().verify(&signed(c), now()), Err(AuthError::MalformedId("sub")));
        let mut c = base_claims();
        c["exp"] = json!("tomorrow");
        assert_eq!(keys().verify(&signed(c), now()), Err(AuthError::InvalidClaim("exp")));
    }

    #[test]
    fn garbage_is_malformed() {
        for t in ["", "abc", "a.b", "a.b.c.d", "!!!.e30.sig"] {
            assert!(matches!(keys().verify(t, now()), Err(AuthError::Malformed(_))), "{t}");
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(TokenKeys::new("k", b"short").unwrap_err(), AuthError::WeakKey { kid: "k".into(), len: 5 });
    }
}
