//! Store ports: how use cases persist submissions and quotes.
//!
//! Every method takes the caller's org first and must never read or write another org's rows:
//! a record of another org answers [`Error::NotFound`], exactly as a missing one does, so existence
//! is not leaked. A record whose `org_id` differs from the org passed is refused with
//! [`Error::Forbidden`] and nothing is written.
//!
//! Updates use optimistic concurrency: the record carries the `revision` it was read at; the store
//! refuses a stale one with [`Error::Conflict`] and otherwise stores it with `revision + 1`.
//!
//! Adapters prove they keep this contract by running the conformance suites in
//! `openinsure_core::testkit` (feature `testkit`).

use async_trait::async_trait;

use crate::error::Result;
use crate::ids::{OrgId, QuoteId, SubmissionId};
use crate::quote::Quote;
use crate::submission::Submission;

/// The largest page a list call returns.
pub const MAX_PAGE_LIMIT: u32 = 200;

/// A window of a list: `limit` records after skipping `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// At most this many (capped at [`MAX_PAGE_LIMIT`]).
    pub limit: u32,
    /// Skip this many first.
    pub offset: u32,
}

impl Page {
    /// A page, with `limit` capped at [`MAX_PAGE_LIMIT`].
    pub fn new(limit: u32, offset: u32) -> Self {
        Page { limit: limit.min(MAX_PAGE_LIMIT), offset }
    }

    /// The first page of the largest size.
    pub fn first() -> Self {
        Page::new(MAX_PAGE_LIMIT, 0)
    }
}

impl Default for Page {
    fn default() -> Self {
        Page::new(50, 0)
    }
}

/// Submissions, by org.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait SubmissionStore: Send + Sync {
    /// Stores a new submission. [`Error::Conflict`](crate::Error::Conflict) if the id exists.
    async fn insert_submission(&self, org: OrgId, submission: &Submission) -> Result<()>;

    /// The submission, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_submission(&self, org: OrgId, id: SubmissionId) -> Result<Submission>;

    /// Replaces a submission read at `submission.revision`; returns it at its new revision.
    async fn update_submission(&self, org: OrgId, submission: &Submission) -> Result<Submission>;

    /// The org's submissions, oldest first (by id, which is time-ordered).
    async fn list_submissions(&self, org: OrgId, page: Page) -> Result<Vec<Submission>>;
}

/// Quotes, by org.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait QuoteStore: Send + Sync {
    /// Stores a new quote. [`Error::Conflict`](crate::Error::Conflict) if the id exists.
    async fn insert_quote(&self, org: OrgId, quote: &Quote) -> Result<()>;

    /// The quote, or [`Error::NotFound`](crate::Error::NotFound).
    async fn get_quote(&self, org: OrgId, id: QuoteId) -> Result<Quote>;

    /// The quotes of one submission, oldest first.
    async fn list_quotes(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Quote>>;
}
