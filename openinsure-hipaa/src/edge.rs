//! Layer 2, storage isolation in the types: only [`EdgeSafe`] values reach an edge store.
//!
//! Edge stores (Cloudflare D1 and KV) sit outside the HIPAA boundary. [`EdgeCache`] accepts only
//! types that are [`EdgeSafe`], and `EdgeSafe` is sealed: this crate implements it for plain
//! values (numbers, strings, ids, dates, collections of edge-safe values), and
//! `#[derive(EdgeSafe)]` implements it for a struct or enum only when no field is tagged `#[phi]`,
//! no field's name looks like PHI ([`looks_like_phi`](crate::looks_like_phi)) unless it is
//! `#[phi(cleared = "...")]`, and every field's type is itself `EdgeSafe`. A PHI record is none
//! of these, so it cannot be put in an edge cache:
//!
//! ```compile_fail,E0277
//! use openinsure_core::ids::OrgId;
//! use openinsure_hipaa::EdgeCache;
//! use openinsure_core::claims::Claim;
//!
//! async fn cache_claim(cache: &dyn EdgeCache<Claim>, org: OrgId, claim: &Claim) {
//!     // error[E0277]: the trait bound `Claim: EdgeSafe` is not satisfied
//!     cache.put(org, "claim", claim).await.ok();
//! }
//! ```
//!
//! while a type without PHI can:
//!
//! ```
//! use openinsure_core::ids::OrgId;
//! use openinsure_hipaa::{EdgeCache, EdgeSafe};
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
//! async fn cache_rates(cache: &dyn EdgeCache<RateRow>, org: OrgId, row: &RateRow) {
//!     cache.put(org, "rates", row).await.ok();
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
use std::sync::Arc;

use async_trait::async_trait;
use openinsure_core::ids::{
    AuthorityProfileId, CarrierId, DaAgreementId, OrgId, PolicyId, ProgramId, QuoteId, ReferralId, ReferralRuleId,
    SubmissionId, UserId,
};
use openinsure_core::money::{Factor, Money};
use openinsure_core::tenancy::Role;

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

/// An edge cache (Cloudflare KV, D1 as a cache) of values of one [`EdgeSafe`] type, by org and
/// key. A PHI record cannot be named as `T`.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait EdgeCache<T: EdgeSafe + Send + Sync + 'static>: Send + Sync {
    /// The cached value of `org` under `key`, if any.
    async fn get(&self, org: OrgId, key: &str) -> Result<Option<T>>;

    /// Caches `value` for `org` under `key`, replacing what was there.
    async fn put(&self, org: OrgId, key: &str, value: &T) -> Result<()>;

    /// Drops `org`'s value under `key` (no error when absent).
    async fn remove(&self, org: OrgId, key: &str) -> Result<()>;
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
