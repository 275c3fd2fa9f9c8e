//! Where the use cases find rate tables: the host's [`RateBook`], read through an edge copy when
//! the host has one.
//!
//! Natively the book is in process and read directly. On Workers the host gives the app an edge
//! store ([`App::with_edge_config`], D1 there): every rating (quote, endorsement, renewal) reads the
//! program's versions from it, and a miss is filled from the book. The edge copy is keyed by the
//! book's content hash, so a deployment with other tables never reads an older one's copy, and by
//! org, so an org's copy is its own. A failing edge store is logged and the book answers: a cache
//! outage never refuses a quote. Rate tables carry no PHI ([`openinsure_hipaa::EdgeSafe`]).

use std::borrow::Cow;
use std::sync::Arc;

use chrono::NaiveDate;
use openinsure_core::ids::{OrgId, ProgramId};
use openinsure_core::submission::LineOfBusiness;
use openinsure_hipaa::edge::{EdgeCache, EdgeKey, EdgeStore};
use openinsure_rating::{RateBook, RateTable};
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::error::Result;

/// The edge copy of the rate book.
#[derive(Clone, Debug)]
pub(crate) struct EdgeRates {
    cache: EdgeCache<Vec<RateTable>>,
    /// The first 16 hex digits of the SHA-256 of the book's tables as JSON.
    book: String,
}

impl EdgeRates {
    pub(crate) fn new(store: Arc<dyn EdgeStore>, book: &RateBook) -> Self {
        let digest = Sha256::digest(serde_json::to_vec(book.tables()).unwrap_or_default());
        let book = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        EdgeRates { cache: EdgeCache::new(store), book }
    }

    fn key(&self, org: OrgId, line: LineOfBusiness, program: ProgramId) -> Option<EdgeKey> {
        EdgeKey::org(org, &format!("rates/{}/{line}/{program}", self.book)).ok()
    }
}

impl App {
    /// Reads rate tables through `store` (D1 on Workers; see the [module docs](crate::rates)).
    pub fn with_edge_config(mut self, store: Arc<dyn EdgeStore>) -> Self {
        self.edge_rates = Some(EdgeRates::new(store, &self.rates));
        self
    }

    /// The program's table versions: the edge copy, else the book's (and the copy filled).
    async fn table_versions(&self, org: OrgId, line: LineOfBusiness, program: ProgramId) -> Option<Vec<RateTable>> {
        let edge = self.edge_rates.as_ref()?;
        let key = edge.key(org, line, program)?;
        match edge.cache.get(&key).await {
            Ok(Some(tables)) => return Some(tables),
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, key = %key, "edge config unreadable; rating from the book"),
        }
        let tables = self.rates.versions(line, program);
        if let Err(error) = edge.cache.put(&key, &tables, None).await {
            tracing::warn!(%error, key = %key, "edge config not written; the next rating tries again");
        }
        Some(tables)
    }

    /// The table in force on `date` for the line and program.
    pub(crate) async fn table_in_force(
        &self,
        org: OrgId,
        line: LineOfBusiness,
        program: ProgramId,
        date: NaiveDate,
    ) -> Result<Cow<'_, RateTable>> {
        match self.table_versions(org, line, program).await {
            Some(tables) => Ok(Cow::Owned(RateBook::pick_in_force(&tables, line, program, date)?.clone())),
            None => Ok(Cow::Borrowed(self.rates.in_force(line, program, date)?)),
        }
    }

    /// The table with this id and version among the line and program's, if any.
    pub(crate) async fn table_version(
        &self,
        org: OrgId,
        line: LineOfBusiness,
        program: ProgramId,
        id: &str,
        version: u32,
    ) -> Option<Cow<'_, RateTable>> {
        match self.table_versions(org, line, program).await {
            Some(tables) => tables.into_iter().find(|t| t.id.as_ref() == id && t.version == version).map(Cow::Owned),
            None => self.rates.get(id, version).map(Cow::Borrowed),
        }
    }
}
