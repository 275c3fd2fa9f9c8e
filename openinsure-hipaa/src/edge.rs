//! Layer 2, storage isolation in the types: only [`EdgeSafe`] values reach an edge store.
//!
//! Edge stores (Cloudflare D1 and KV) sit outside the HIPAA boundary. An [`EdgeStore`] takes
//! only [`EdgeBytes`], which only the typed [`EdgeCache`] makes, and `EdgeCache` accepts only
//! types that are [`EdgeSafe`], and `EdgeSafe` is sealed: this crate implements it for plain
//! values (numbers, strings, ids, dates, collections of edge-safe values), and
//! `#[derive(EdgeSafe)]` implements it for a struct or enum only when no field is tagged `#[phi]`,
//! no field's name looks like PHI ([`looks_like_phi`](crate::looks_like_phi)) unless it is
//! `#[phi(cleared = "...")]`, and every field's type is itself `EdgeSafe`. A PHI record is none
//! of these, so it cannot be put in an edge cache:
//!
//! ```compile_fail,E0277
//! use std::sync::Arc;
//! use openinsure_core::claims::Claim;
//! use openinsure_hipaa::edge::{EdgeCache, EdgeStore};
//!
//! fn cache_claims(store: Arc<dyn EdgeStore>) {
//!     // error[E0277]: the trait bound `Claim: EdgeSafe` is not satisfied
//!     let _claims = EdgeCache::<Claim>::new(store);
//! }
//! ```
//!
//! while a type without PHI can:
//!
//! ```
//! use std::sync::Arc;
//! use openinsure_core::ids::OrgId;
//! use openinsure_hipaa::EdgeSafe;
//! use openinsure_hipaa::edge::{EdgeCache, EdgeKey, EdgeStore};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, EdgeSafe)]
//! struct RateRow {
//!     class_code: String,
//!     rate_per_100_cents: i64,
//!     #[phi(cleared = "the program's name, not a person's")]
//!     program_name: String,
//! }
//!
//! async fn cache_rates(store: Arc<dyn EdgeStore>, org: OrgId, row: &RateRow) -> openinsure_hipaa::Result<()> {
//!     let rates = EdgeCache::<RateRow>::new(store);
//!     rates.put(&EdgeKey::org(org, "rates/12")?, row, None).await
//! }
//! ```
//!
//! The derive refuses a field that looks like PHI,
//!
//! ```compile_fail,E0080
//! use openinsure_hipaa::EdgeSafe;
//!
//! #[derive(EdgeSafe)]
//! struct ClaimSummary {
//!     claim_number: String,
//!     claimant_name: String, // looks like PHI: refused at compile time
//! }
//! ```
//!
//! a field tagged `#[phi]`,
//!
//! ```compile_fail
//! use openinsure_hipaa::EdgeSafe;
//!
//! #[derive(EdgeSafe)]
//! struct Notes {
//!     #[phi]
//!     text: String,
//! }
//! ```
//!
//! and a field whose type carries PHI, whatever its name:
//!
//! ```compile_fail,E0277
//! use openinsure_hipaa::EdgeSafe;
//! use openinsure_core::claims::Claim;
//!
//! #[derive(EdgeSafe)]
//! struct Wrapper {
//!     inner: Claim,
//! }
//! ```
//!
//! Names are a heuristic and strings are strings: a `String` field called `notes` can still be
//! filled with PHI. The types stop the mistakes the compiler can see; the registry, the lint and
//! review stop the rest.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use openinsure_core::ids::{
    AuthorityProfileId, CarrierId, DaAgreementId, OrgId, PolicyId, ProgramId, QuoteId, ReferralId, ReferralRuleId,
    SubmissionId, UserId,
};
use openinsure_core::money::{Factor, Money};
use openinsure_core::tenancy::Role;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::__private::Sealed;
use crate::error::Result;

/// A type that carries no PHI and may be stored at the edge (D1, KV). Sealed: implemented by this
/// crate and by `#[derive(EdgeSafe)]` only (see the [module docs](self)).
pub trait EdgeSafe: Sealed {}

macro_rules! edge_safe {
    ($($t:ty),* $(,)?) => {
        $(
            impl Sealed for $t {}
            impl EdgeSafe for $t {}
        )*
    };
}

edge_safe!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    str,
    String,
    uuid::Uuid,
    chrono::NaiveDate,
    chrono::NaiveDateTime,
    chrono::DateTime<chrono::Utc>,
    openinsure_core::Decimal,
    Money,
    Factor,
    Role,
    OrgId,
    UserId,
    SubmissionId,
    QuoteId,
    PolicyId,
    ProgramId,
    CarrierId,
    DaAgreementId,
    AuthorityProfileId,
    ReferralRuleId,
    ReferralId,
    openinsure_core::geo::UsState,
    openinsure_core::geo::Naics,
    openinsure_core::submission::LineOfBusiness,
);

macro_rules! edge_safe_generic {
    ($(<$($p:ident),*> $t:ty),* $(,)?) => {
        $(
            impl<$($p: EdgeSafe),*> Sealed for $t {}
            impl<$($p: EdgeSafe),*> EdgeSafe for $t {}
        )*
    };
}

edge_safe_generic!(
    <T> Option<T>,
    <T> Vec<T>,
    <T> BTreeSet<T>,
    <T> HashSet<T>,
    <K, V> BTreeMap<K, V>,
    <K, V> HashMap<K, V>,
    <A, B> (A, B),
    <A, B, C> (A, B, C),
    <A, B, C, D> (A, B, C, D),
);

impl<T: EdgeSafe + ?Sized> Sealed for &T {}
impl<T: EdgeSafe + ?Sized> EdgeSafe for &T {}
impl<T: EdgeSafe + ?Sized> Sealed for Box<T> {}
impl<T: EdgeSafe + ?Sized> EdgeSafe for Box<T> {}
impl<T: EdgeSafe + ?Sized> Sealed for Arc<T> {}
impl<T: EdgeSafe + ?Sized> EdgeSafe for Arc<T> {}
impl<T: EdgeSafe> Sealed for [T] {}
impl<T: EdgeSafe> EdgeSafe for [T] {}
impl<T: EdgeSafe, const N: usize> Sealed for [T; N] {}
impl<T: EdgeSafe, const N: usize> EdgeSafe for [T; N] {}

/// Where a value lives in an edge store: an org's key, or a key that belongs to no org (a
/// session, looked up before its org is known).
///
/// The name is 1 to 400 bytes of visible ASCII (Cloudflare KV keys are at most 512 bytes, and the
/// org prefix takes 37). [`EdgeKey::as_str`] is the flat form stores use: `<org>/<name>`, or
/// `-/<name>` for a key of no org, so two orgs' keys never meet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EdgeKey {
    org: Option<OrgId>,
    flat: String,
}

impl EdgeKey {
    /// The most bytes a name may have.
    pub const MAX_NAME: usize = 400;

    /// `org`'s key `name`.
    pub fn org(org: OrgId, name: &str) -> Result<Self> {
        Self::check(name)?;
        Ok(EdgeKey { org: Some(org), flat: format!("{org}/{name}") })
    }

    /// A key of no org.
    pub fn global(name: &str) -> Result<Self> {
        Self::check(name)?;
        Ok(EdgeKey { org: None, flat: format!("-/{name}") })
    }

    fn check(name: &str) -> Result<()> {
        if name.is_empty() || name.len() > Self::MAX_NAME || !name.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(crate::Error::invalid(
                "key",
                format!("an edge key name must be 1 to {} visible ASCII characters", Self::MAX_NAME),
            ));
        }
        Ok(())
    }

    /// The org the key belongs to, if any.
    pub fn org_id(&self) -> Option<OrgId> {
        self.org
    }

    /// The flat key (`<org>/<name>` or `-/<name>`).
    pub fn as_str(&self) -> &str {
        &self.flat
    }
}

impl std::fmt::Display for EdgeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.flat)
    }
}

/// The JSON bytes of an [`EdgeSafe`] value. Only [`EdgeCache::put`] makes one, so an
/// [`EdgeStore`] can be handed nothing else: the compile-time guard holds at the byte port too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdgeBytes(Vec<u8>);

impl EdgeBytes {
    /// The bytes to store.
    pub fn as_slice(&self) -> &[u8] {
        &self.0
    }
}

/// An edge store (Cloudflare KV, D1, or memory): bytes by key, each with an optional time to live.
/// One small required trait; the typed [`EdgeCache`] over it is what callers use.
///
/// A store is a cache outside the HIPAA boundary: it may lose what it holds, and a reader falls
/// back to the source. It never holds anything but [`EdgeBytes`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait EdgeStore: openinsure_core::ports::MaybeSendSync {
    /// What `key` holds, unless it is absent or its time to live has passed.
    async fn get(&self, key: &EdgeKey) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key`, replacing what was there; with `ttl`, it is gone after that long
    /// (a store may keep it up to a minute less or more: KV's shortest time to live is 60 s).
    async fn put(&self, key: &EdgeKey, value: &EdgeBytes, ttl: Option<chrono::Duration>) -> Result<()>;

    /// Drops `key` (no error when absent).
    async fn remove(&self, key: &EdgeKey) -> Result<()>;
}

/// Values of one [`EdgeSafe`] type in an [`EdgeStore`], as JSON. A PHI record cannot be named as
/// `T`, so it can never be written to the edge.
pub struct EdgeCache<T: EdgeSafe> {
    store: Arc<dyn EdgeStore>,
    _values: PhantomData<fn() -> T>,
}

impl<T: EdgeSafe> Clone for EdgeCache<T> {
    fn clone(&self) -> Self {
        EdgeCache { store: self.store.clone(), _values: PhantomData }
    }
}

impl<T: EdgeSafe> std::fmt::Debug for EdgeCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeCache").field("type", &std::any::type_name::<T>()).finish_non_exhaustive()
    }
}

impl<T: EdgeSafe + Serialize + DeserializeOwned> EdgeCache<T> {
    /// Values of `T` in `store`.
    pub fn new(store: Arc<dyn EdgeStore>) -> Self {
        EdgeCache { store, _values: PhantomData }
    }

    /// The cached value under `key`, if any. A value that no longer reads as `T` (written by an
    /// older version) is absent, so the caller goes to the source.
    pub async fn get(&self, key: &EdgeKey) -> Result<Option<T>> {
        Ok(self.store.get(key).await?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Caches `value` under `key`, replacing what was there, for `ttl` when given.
    pub async fn put(&self, key: &EdgeKey, value: &T, ttl: Option<chrono::Duration>) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| crate::Error::Backend(format!("edge value: {e}")))?;
        self.store.put(key, &EdgeBytes(bytes), ttl).await
    }

    /// Drops `key`.
    pub async fn remove(&self, key: &EdgeKey) -> Result<()> {
        self.store.remove(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EdgeSafe;

    fn assert_edge_safe<T: EdgeSafe + ?Sized>() {}

    #[derive(EdgeSafe)]
    #[allow(dead_code, reason = "only the derive is under test")]
    struct Cached<T> {
        org_id: OrgId,
        rates: Vec<(String, i64)>,
        extra: Option<T>,
        #[phi(cleared = "a business name, not a person's")]
        insured_name: String,
    }

    #[derive(EdgeSafe)]
    #[allow(dead_code, reason = "only the derive is under test")]
    enum Status {
        Open,
        Closed { reason_code: u8 },
        Tuple(String),
    }

    #[test]
    fn plain_types_are_edge_safe() {
        assert_edge_safe::<str>();
        assert_edge_safe::<Cached<u8>>();
        assert_edge_safe::<Cached<Status>>();
        assert_edge_safe::<Status>();
        assert_edge_safe::<[Box<Arc<&str>>; 3]>();
        assert_edge_safe::<HashMap<String, BTreeMap<u8, (bool, Money)>>>();
    }
}
