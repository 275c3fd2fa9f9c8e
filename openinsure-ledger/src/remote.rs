//! The [`LedgerBackend`] over HTTP, for hosts that cannot reach the ledger's own protocol: a
//! Cloudflare Worker reaches TigerBeetle through a proxy, as the seed's platform does.
//!
//! - [`serve`] answers one call (a JSON [`Call`]) on a backend, after checking the caller's
//!   service key ([`ServiceKey`]): hosts mount it at [`PATH`] (`openinsure ledger-proxy` does,
//!   in front of TigerBeetle).
//! - [`RemoteLedger`] is a [`LedgerBackend`] that sends each call through a [`Transport`]: the
//!   Worker's is `fetch`.
//!
//! The proxy is for service callers only: a service key (32 bytes or more, compared in constant
//! time), never a user's token. Every call is one backend call, so a batch stays one batch and
//! a linked chain stays atomic. A backend failure answers 503 and the client reports it as a
//! [`BackendError`]: nothing is known to have been applied, as with the backend itself.
//!
//! ```
//! use openinsure_ledger::remote::{Call, ServiceKey};
//! let key = ServiceKey::new("a service key of at least 32 bytes!!").unwrap();
//! assert!(key.admits(Some("Bearer a service key of at least 32 bytes!!")));
//! assert!(!key.admits(Some("Bearer a user's token")));
//! assert!(!key.admits(None));
//! assert!(ServiceKey::new("too short").is_err());
//! // one call, externally tagged, ids as JSON integers
//! let call = serde_json::to_string(&Call::LookupAccounts { ids: vec![7] }).unwrap();
//! assert_eq!(call, r#"{"lookup_accounts":{"ids":[7]}}"#);
//! ```

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::backend::{BackendError, LedgerBackend};
use crate::model::{
    Account, AccountBalance, AccountFilter, CreateAccountError, CreateTransferError, Failure, QueryFilter, Transfer,
};

/// Where hosts mount the proxy.
pub const PATH: &str = "/ledger/v1/call";

/// One backend call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Call {
    /// [`LedgerBackend::create_accounts`].
    CreateAccounts {
        /// The accounts.
        accounts: Vec<Account>,
    },
    /// [`LedgerBackend::create_transfers`].
    CreateTransfers {
        /// The transfers.
        transfers: Vec<Transfer>,
    },
    /// [`LedgerBackend::lookup_accounts`].
    LookupAccounts {
        /// The ids.
        ids: Vec<u128>,
    },
    /// [`LedgerBackend::lookup_transfers`].
    LookupTransfers {
        /// The ids.
        ids: Vec<u128>,
    },
    /// [`LedgerBackend::get_account_transfers`].
    GetAccountTransfers {
        /// The filter.
        filter: AccountFilter,
    },
    /// [`LedgerBackend::get_account_balances`].
    GetAccountBalances {
        /// The filter.
        filter: AccountFilter,
    },
    /// [`LedgerBackend::query_transfers`].
    QueryTransfers {
        /// The filter.
        filter: QueryFilter,
    },
}

/// The largest batch a call may carry (TigerBeetle's own limit is 8,189 events).
pub const MAX_BATCH: usize = 8_189;

/// The key service callers present (`Authorization: Bearer …`), kept as its digest.
#[derive(Clone)]
pub struct ServiceKey([u8; 32]);

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceKey(…)")
    }
}

/// Why a service key was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the ledger service key must be at least 32 bytes")]
pub struct ShortKey;

impl ServiceKey {
    /// A key of at least 32 bytes.
    pub fn new(key: &str) -> Result<ServiceKey, ShortKey> {
        if key.len() < 32 {
            return Err(ShortKey);
        }
        Ok(ServiceKey(Sha256::digest(key.as_bytes()).into()))
    }

    /// Whether an `Authorization` header value presents this key (compared in constant time).
    pub fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(presented) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        digest.iter().zip(self.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

#[derive(Serialize, Deserialize)]
struct Refusal {
    error: String,
}

fn refusal(status: u16, error: &str) -> (u16, Vec<u8>) {
    (status, serde_json::to_vec(&Refusal { error: error.to_owned() }).unwrap_or_default())
}

fn reply<T: Serialize>(result: Result<T, BackendError>) -> (u16, Vec<u8>) {
    match result.map(|v| serde_json::to_vec(&v)) {
        Ok(Ok(body)) => (200, body),
        Ok(Err(e)) => refusal(500, &format!("the reply does not encode: {e}")),
        Err(e) => refusal(503, &e.0),
    }
}

/// Answers one call: the HTTP status and the JSON body. 401 without the service key, 400 for a
/// body that is not a [`Call`] or a batch over [`MAX_BATCH`], 503 when the backend fails.
pub async fn serve(
    backend: &dyn LedgerBackend,
    key: &ServiceKey,
    authorization: Option<&str>,
    body: &[u8],
) -> (u16, Vec<u8>) {
    if !key.admits(authorization) {
        return refusal(401, "a ledger service key is required");
    }
    let call: Call = match serde_json::from_slice(body) {
        Ok(c) => c,
        Err(e) => return refusal(400, &format!("not a ledger call: {e}")),
    };
    let size = match &call {
        Call::CreateAccounts { accounts } => accounts.len(),
        Call::CreateTransfers { transfers } => transfers.len(),
        Call::LookupAccounts { ids } | Call::LookupTransfers { ids } => ids.len(),
        _ => 0,
    };
    if size > MAX_BATCH {
        return refusal(400, &format!("a batch holds at most {MAX_BATCH} events"));
    }
    match call {
        Call::CreateAccounts { accounts } => reply(backend.create_accounts(&accounts).await),
        Call::CreateTransfers { transfers } => reply(backend.create_transfers(&transfers).await),
        Call::LookupAccounts { ids } => reply(backend.lookup_accounts(&ids).await),
        Call::LookupTransfers { ids } => reply(backend.lookup_transfers(&ids).await),
        Call::GetAccountTransfers { filter } => reply(backend.get_account_transfers(filter).await),
        Call::GetAccountBalances { filter } => reply(backend.get_account_balances(filter).await),
        Call::QueryTransfers { filter } => reply(backend.query_transfers(filter).await),
    }
}

/// How a [`RemoteLedger`] reaches the proxy: one POST of a JSON body to [`PATH`] with the
/// service key, answering the status and the body.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait Transport: openinsure_core::ports::MaybeSendSync {
    /// Sends `body`; the status and the reply's body, or why nothing came back.
    async fn post(&self, body: Vec<u8>) -> Result<(u16, Vec<u8>), BackendError>;
}

/// A [`LedgerBackend`] on the other side of a [`Transport`].
#[derive(Debug)]
pub struct RemoteLedger<T> {
    transport: T,
}

impl<T: Transport> RemoteLedger<T> {
    /// The ledger `transport` reaches.
    pub fn new(transport: T) -> Self {
        RemoteLedger { transport }
    }

    /// The reply's body to `call`, when the proxy answered 200.
    async fn send(&self, call: &Call) -> Result<Vec<u8>, BackendError> {
        let body = serde_json::to_vec(call).map_err(|e| BackendError(format!("ledger call: {e}")))?;
        let (status, reply) = self.transport.post(body).await?;
        if status != 200 {
            let why =
                serde_json::from_slice::<Refusal>(&reply).map_or_else(|_| format!("status {status}"), |r| r.error);
            return Err(BackendError(format!("ledger proxy: {why}")));
        }
        Ok(reply)
    }
}

fn decode<R: serde::de::DeserializeOwned>(reply: &[u8]) -> Result<R, BackendError> {
    serde_json::from_slice(reply).map_err(|e| BackendError(format!("ledger proxy reply: {e}")))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl<T: Transport> LedgerBackend for RemoteLedger<T> {
    async fn create_accounts(&self, accounts: &[Account]) -> Result<Vec<Failure<CreateAccountError>>, BackendError> {
        let reply = self.send(&Call::CreateAccounts { accounts: accounts.to_vec() }).await?;
        decode(&reply)
    }

    async fn create_transfers(
        &self,
        transfers: &[Transfer],
    ) -> Result<Vec<Failure<CreateTransferError>>, BackendError> {
        let reply = self.send(&Call::CreateTransfers { transfers: transfers.to_vec() }).await?;
        decode(&reply)
    }

    async fn lookup_accounts(&self, ids: &[u128]) -> Result<Vec<Account>, BackendError> {
        let reply = self.send(&Call::LookupAccounts { ids: ids.to_vec() }).await?;
        decode(&reply)
    }

    async fn lookup_transfers(&self, ids: &[u128]) -> Result<Vec<Transfer>, BackendError> {
        let reply = self.send(&Call::LookupTransfers { ids: ids.to_vec() }).await?;
        decode(&reply)
    }

    async fn get_account_transfers(&self, filter: AccountFilter) -> Result<Vec<Transfer>, BackendError> {
        let reply = self.send(&Call::GetAccountTransfers { filter }).await?;
        decode(&reply)
    }

    async fn get_account_balances(&self, filter: AccountFilter) -> Result<Vec<AccountBalance>, BackendError> {
        let reply = self.send(&Call::GetAccountBalances { filter }).await?;
        decode(&reply)
    }

    async fn query_transfers(&self, filter: QueryFilter) -> Result<Vec<Transfer>, BackendError> {
        let reply = self.send(&Call::QueryTransfers { filter }).await?;
        decode(&reply)
    }
}
