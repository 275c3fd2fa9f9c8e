//! The application object: the ports every use case runs against.

use std::sync::Arc;

use openinsure_core::clock::{Clock, IdGen};
use openinsure_core::permission::{self, Action};
use openinsure_core::relationships::Authorizer;
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
    + openinsure_webhooks::WebhookStore
    + openinsure_core::notifications::NotificationStore
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
        + openinsure_webhooks::WebhookStore
        + openinsure_core::notifications::NotificationStore
        + 'static
{
}

/// Every port the use cases run against. Each is required: a route that is always served
/// never answers 500 because a port was left out. The in-memory implementations are in
/// `openinsure-memory`; [`Ports`] has no `Default` so a host names each choice.
#[derive(Clone)]
pub struct Ports {
    /// Submissions, quotes, agreements, authority, referrals, policies, claims, money ids, outbox,
    /// webhook endpoints and deliveries, notifications.
    pub store: Arc<dyn Backend>,
    /// Relationship checks (who may bind for which program).
    pub authorizer: Arc<dyn Authorizer>,
    /// The double-entry books.
    pub ledger: Arc<dyn openinsure_ledger::LedgerBackend>,
    /// The PHI audit log (claims are never read or written unaudited).
    pub audit: Arc<dyn openinsure_hipaa::PhiAuditLog>,
    /// Deal rooms, participants, messages and annotations.
    pub rooms: Arc<dyn openinsure_dealroom::DealRoomStore>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// New ids.
    pub ids: Arc<dyn IdGen>,
}

#[cfg(feature = "memory")]
impl Ports {
    /// Every port in process (`openinsure-memory`): a fresh store, authorizer, ledger, audit log
    /// and deal-room store, with `clock` and `ids`. Replace any field to share one with the caller.
    pub fn in_memory(clock: Arc<dyn Clock>, ids: Arc<dyn IdGen>) -> Self {
        use openinsure_memory as m;
        Ports {
            store: Arc::new(m::MemoryStore::default()),
            authorizer: Arc::new(m::MemoryAuthorizer::new()),
            ledger: Arc::new(m::MemoryLedger::new()),
            audit: Arc::new(m::MemoryAuditLog::default()),
            rooms: Arc::new(m::MemoryDealRooms::default()),
            clock,
            ids,
        }
    }
}

/// The application: ports and configuration, shared by every host. Cheap to clone.
#[derive(Clone)]
pub struct App {
    pub(crate) store: Arc<dyn Backend>,
    pub(crate) authorizer: Arc<dyn Authorizer>,
    pub(crate) rates: Arc<RateBook>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGen>,
    pub(crate) ledger: Arc<dyn openinsure_ledger::LedgerBackend>,
    pub(crate) audit: Arc<dyn openinsure_hipaa::PhiAuditLog>,
    pub(crate) rooms: Arc<dyn openinsure_dealroom::DealRoomStore>,
    /// Live rooms are a host capability, not a port: without a gateway the `/live/` routes and
    /// the WebSocket are not served (404, and absent from the OpenAPI document).
    pub(crate) live_rooms: Option<Arc<dyn crate::dealrooms::RoomGateway>>,
    /// The edge copy of the rate book ([`App::with_edge_config`]), read on every rating.
    pub(crate) edge_rates: Option<crate::rates::EdgeRates>,
    /// Which webhook URLs endpoints may have ([`App::with_webhook_rules`]).
    pub(crate) webhook_rules: openinsure_webhooks::TargetRules,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").field("rate_tables", &self.rates.tables().len()).finish_non_exhaustive()
    }
}

impl App {
    /// An application over its ports and a rate book.
    pub fn new(ports: Ports, rates: Arc<RateBook>) -> Self {
        let Ports { store, authorizer, ledger, audit, rooms, clock, ids } = ports;
        App {
            store,
            authorizer,
            rates,
            clock,
            ids,
            ledger,
            audit,
            rooms,
            live_rooms: None,
            edge_rates: None,
            webhook_rules: openinsure_webhooks::TargetRules::STRICT,
        }
    }

    /// Sets which webhook URLs an org's endpoints may have: `https` to public addresses by
    /// default ([`TargetRules::STRICT`](openinsure_webhooks::TargetRules::STRICT)); an operator
    /// may allow `http` and private addresses (tests, endpoints inside a private network). The
    /// host's sender applies the same rules to the addresses each name resolves to.
    pub fn with_webhook_rules(mut self, rules: openinsure_webhooks::TargetRules) -> Self {
        self.webhook_rules = rules;
        self
    }

    /// The webhook target rules.
    pub fn webhook_rules(&self) -> openinsure_webhooks::TargetRules {
        self.webhook_rules
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
