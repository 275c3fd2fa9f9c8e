//! The application object: the ports every use case runs against.

use std::sync::Arc;

use openinsure_core::authz::Authorizer;
use openinsure_core::clock::{Clock, IdGen};
use openinsure_core::permission::{self, Action};
use openinsure_core::store::{
    AuthorityStore, BindStore, ClaimStore, DaStore, MoneyIdStore, Outbox, PolicyStore, QuoteStore, ReferralStore,
    SubmissionStore,
};
use openinsure_core::tenancy::Caller;
use openinsure_rating::RateBook;

use crate::error::{Error, Result};

/// A backend that implements every store port (the in-memory store, a database adapter).
pub trait Backend:
    SubmissionStore
    + QuoteStore
    + DaStore
    + AuthorityStore
    + ReferralStore
    + PolicyStore
    + BindStore
    + ClaimStore
    + MoneyIdStore
    + Outbox
    + 'static
{
}

impl<T> Backend for T where
    T: SubmissionStore
        + QuoteStore
        + DaStore
        + AuthorityStore
        + ReferralStore
        + PolicyStore
        + BindStore
        + ClaimStore
        + MoneyIdStore
        + Outbox
        + 'static
{
}

/// The application: ports and configuration, shared by every host. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) store: Arc<dyn Backend>,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) rates: Arc<RateBook>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGen>,
    pub(crate) ledger: Option<Arc<dyn openinsure_ledger::LedgerBackend>>,
    pub(crate) audit: Option<Arc<dyn openinsure_hipaa::PhiAuditLog>>,
    pub(crate) rooms: Option<Arc<dyn openinsure_dealroom::DealRoomStore>>,
    pub(crate) live_rooms: Option<Arc<dyn crate::dealrooms::RoomGateway>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("rate_tables", &self.rates.tables().len()).finish_non_exhaustive()
    }
}

impl App {
    /// An application over a backend, an authorizer, a rate book, a clock and an id generator.
    pub fn new(
        store: Arc<dyn Backend>,
        authorizer: Arc<dyn Authorizer>,
        rates: Arc<RateBook>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
    ) -> Self {
        App { store, authorizer, rates, clock, ids, ledger: None, audit: None, rooms: None, live_rooms: None }
    }

    /// The rate book.
    pub fn rates(&self) -> &RateBook {
        &self.rates
    }

    /// The backend (for hosts that need a port directly, such as the event dispatcher).
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The id generator.
    pub fn ids(&self) -> &Arc<dyn IdGen> {
        &self.ids
    }
}

/// Refuses a caller whose role may not do `action` ([`openinsure_core::permission::allows`]).
pub(crate) fn require(caller: &Caller, action: Action) -> Result<()> {
    if permission::allows(caller.role, action) {
        Ok(())
    } else {
        Err(Error::Forbidden(format!("role `{}` may not {}", caller.role, action.describe())))
    }
}
