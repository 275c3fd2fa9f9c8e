//! The edge stores: D1 (edge config: the rate tables' copy) and KV (verified sessions), both behind
//! `openinsure_hipaa::EdgeStore`, which takes only the bytes of `EdgeSafe` values: no PHI field
//! can reach either (the end-to-end test also scans their local state files for every PHI value
//! it wrote).

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use openinsure_core::clock::Clock;
use openinsure_hipaa::edge::{EdgeBytes, EdgeKey, EdgeStore};
use openinsure_hipaa::{Error, Result};
use wasm_bindgen::JsValue;
use worker::{D1Database, kv::KvStore};

use crate::host::JsClock;

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("{what}: {e}"))
}

/// Workers KV: a value per key, with KV's own expiry (`expirationTtl`, at least 60 s).
pub struct KvEdge(pub KvStore);

#[async_trait(?Send)]
impl EdgeStore for KvEdge {
    async fn get(&self, key: &EdgeKey) -> Result<Option<Vec<u8>>> {
        self.0.get(key.as_str()).bytes().await.map_err(|e| unavailable("kv get", e))
    }

    async fn put(&self, key: &EdgeKey, value: &EdgeBytes, ttl: Option<Duration>) -> Result<()> {
        let mut put = self.0.put_bytes(key.as_str(), value.as_slice()).map_err(|e| unavailable("kv put", e))?;
        if let Some(ttl) = ttl {
            // KV refuses a time to live under a minute
            put = put.expiration_ttl(u64::try_from(ttl.num_seconds()).unwrap_or(0).max(60));
        }
        put.execute().await.map_err(|e| unavailable("kv put", e))
    }

    async fn remove(&self, key: &EdgeKey) -> Result<()> {
        self.0.delete(key.as_str()).await.map_err(|e| unavailable("kv delete", e))
    }
}

/// D1: the `edge_config` table of `examples/workers/migrations` (key, JSON value, optional
/// expiry as RFC 3339 text, so that `expires_at < now` compares as text).
pub struct D1Edge(pub D1Database);

#[derive(serde::Deserialize)]
struct Row {
    value: String,
    expires_at: Option<String>,
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl D1Edge {
    /// Drops every expired row (the Cron trigger calls it); returns how many went.
    pub async fn sweep(&self) -> Result<usize> {
        let result = self
            .0
            .prepare("DELETE FROM edge_config WHERE expires_at IS NOT NULL AND expires_at <= ?1")
            .bind(&[JsValue::from_str(&stamp(JsClock.now()))])
            .map_err(|e| unavailable("d1 bind", e))?
            .run()
            .await
            .map_err(|e| unavailable("d1 sweep", e))?;
        let changed = result.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0);
        Ok(changed)
    }
}

#[async_trait(?Send)]
impl EdgeStore for D1Edge {
    async fn get(&self, key: &EdgeKey) -> Result<Option<Vec<u8>>> {
        let row: Option<Row> = self
            .0
            .prepare("SELECT value, expires_at FROM edge_config WHERE key = ?1")
            .bind(&[JsValue::from_str(key.as_str())])
            .map_err(|e| unavailable("d1 bind", e))?
            .first(None)
            .await
            .map_err(|e| unavailable("d1 get", e))?;
        let Some(row) = row else { return Ok(None) };
        if row.expires_at.is_some_and(|at| at <= stamp(JsClock.now())) {
            return Ok(None);
        }
        Ok(Some(row.value.into_bytes()))
    }

    async fn put(&self, key: &EdgeKey, value: &EdgeBytes, ttl: Option<Duration>) -> Result<()> {
        // an EdgeCache writes JSON, which is UTF-8
        let text = std::str::from_utf8(value.as_slice()).map_err(|e| Error::Backend(format!("edge value: {e}")))?;
        let expires = ttl.map_or(JsValue::NULL, |t| JsValue::from_str(&stamp(JsClock.now() + t)));
        self.0
            .prepare(
                "INSERT INTO edge_config (key, value, expires_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            )
            .bind(&[JsValue::from_str(key.as_str()), JsValue::from_str(text), expires])
            .map_err(|e| unavailable("d1 bind", e))?
            .run()
            .await
            .map_err(|e| unavailable("d1 put", e))?;
        Ok(())
    }

    async fn remove(&self, key: &EdgeKey) -> Result<()> {
        self.0
            .prepare("DELETE FROM edge_config WHERE key = ?1")
            .bind(&[JsValue::from_str(key.as_str())])
            .map_err(|e| unavailable("d1 bind", e))?
            .run()
            .await
            .map_err(|e| unavailable("d1 delete", e))?;
        Ok(())
    }
}
