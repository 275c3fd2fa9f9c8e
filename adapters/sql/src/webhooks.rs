//! [`WebhookStore`] over SQL: endpoints, their deliveries and the delivery log in the database
//! that keeps the outbox, so disabling an endpoint and telling its org is one transaction.
//!
//! `webhook_endpoints` keeps each [`StoredEndpoint`] (secrets included) as its document beside
//! `enabled`, `created_at` and `revision`. `webhook_deliveries` keeps a delivery as it was made in
//! `body` (its payload never changes) and where it stands in columns (status, attempts, the next
//! and the last attempt, the last status code and error) with its lease (`lease_id`,
//! `leased_until`): an endpoint's pending deliveries are failed, or its failed ones replayed, by
//! one statement, however many there are. `webhook_attempts` is the log. Times are kept to the
//! microsecond (`DATETIME(6)`). A pending delivery always has the time of its next attempt: one
//! given none (the in-memory store's "due now") is stored due when it was made or attempted.
//!
//! Every statement names `org_id` in its `WHERE` (or its inserted values) and binds it once,
//! except the deliverer's first read in [`WebhookStore::lease_deliveries`], which serves every org
//! by design: the oldest due pending deliveries of enabled endpoints, of any org, found through
//! the one index of these tables not led by `org_id`, `webhook_deliveries_due (status,
//! next_attempt_at)`. Each delivery it found is then taken by its own conditional `UPDATE`, which
//! names its org: still pending, due, at the attempt count read, and held by no other lease. The
//! database decides each row once, so two deliverers never lease one delivery.
//!
//! Locks (MySQL): a write that changes an endpoint and its deliveries locks the endpoint's row
//! first, then its deliveries' (an attempt that changes only its delivery locks only that), so
//! writers of one endpoint queue on its row. What can still deadlock (a lease taking rows one by
//! one while an endpoint's deliveries are failed together) is retried, as every write is.

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::error::{Error, Result};
use openinsure_core::ids::{OrgId, WebhookDeliveryId, WebhookEndpointId};
use openinsure_core::store::Page;
use openinsure_webhooks::{
    AttemptRecord, DeliveryAttempt, DeliveryStatus, LeasedDelivery, Replay, StoredEndpoint, WebhookDelivery,
    WebhookStore,
};

use crate::SqlStore;
use crate::db::{Dialect, Param, Row, Tx, backend};
use crate::more::parse_time;
use crate::store::{
    Fail, append_events, check_events, count, doc, docs, insert, int, limit, locked_revision, p, same_org, time,
    write_tx,
};

/// Why the pending deliveries of a disabled endpoint failed.
const DISABLED: &str = "the endpoint was disabled";

/// The longest last error kept (the column's size).
const MAX_ERROR_CHARS: usize = 2000;

/// How many ids one statement names.
const CHUNK: usize = 200;

/// The columns [`delivery_of`] reads, in its order.
const DELIVERY_WIDTH: usize = 7;

/// The delivery columns [`delivery_of`] reads, of the table aliased `prefix` (`d.`, or none).
fn delivery_columns(dialect: Dialect, prefix: &str) -> String {
    format!(
        "{prefix}status, {prefix}attempts, {}, {}, {prefix}last_status_code, {prefix}last_error, {prefix}body",
        dialect.time_text(&format!("{prefix}next_attempt_at")),
        dialect.time_text(&format!("{prefix}last_attempt_at")),
    )
}

fn opt_time(row: &Row, i: usize) -> Result<Option<DateTime<Utc>>> {
    row.opt_text(i)?.map(|t| parse_time(&t)).transpose()
}

/// A delivery from the [`delivery_columns`] starting at `at`: the document as it was made, with
/// where it stands now.
fn delivery_of(row: &Row, at: usize) -> Result<WebhookDelivery> {
    let mut d: WebhookDelivery = row.doc(at + 6)?;
    let status = row.text(at)?;
    d.status = DeliveryStatus::parse(&status)
        .ok_or_else(|| Error::Backend(format!("a stored delivery status `{status}` does not read")))?;
    d.attempts = count(row, at + 1)?;
    d.next_attempt_at = opt_time(row, at + 2)?;
    d.last_attempt_at = opt_time(row, at + 3)?;
    d.last_status_code = row
        .opt_int(at + 4)?
        .map(|n| u16::try_from(n).map_err(|_| Error::Backend("a stored status code is out of range".into())))
        .transpose()?;
    d.last_error = row.opt_text(at + 5)?;
    Ok(d)
}

fn status(s: DeliveryStatus) -> Param {
    Param::Text(s.as_str().to_owned())
}

fn time_or_null(t: Option<DateTime<Utc>>) -> Param {
    t.map_or(Param::Null, time)
}

/// The `next_attempt_at` column: a pending delivery always has one, so the deliverer's lease
/// reads a range of its index (`status = 'pending' AND next_attempt_at <= now`); one given none
/// is due at `otherwise` (when it was made, or attempted), as a time in the past is.
fn next_attempt(status: DeliveryStatus, at: Option<DateTime<Utc>>, otherwise: DateTime<Utc>) -> Param {
    match (status, at) {
        (DeliveryStatus::Pending, None) => time(otherwise),
        (_, at) => time_or_null(at),
    }
}

fn error_or_null(e: Option<String>) -> Param {
    e.map_or(Param::Null, |e| Param::Text(e.chars().take(MAX_ERROR_CHARS).collect()))
}

fn enabled(e: &StoredEndpoint) -> Param {
    Param::Int(i64::from(e.endpoint.enabled))
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The endpoint, locked for the transaction (MySQL), or `None`.
async fn lock_endpoint(
    tx: &mut Tx,
    dialect: Dialect,
    org: OrgId,
    id: WebhookEndpointId,
) -> Result<Option<StoredEndpoint>, Fail> {
    let sql = format!("SELECT body FROM webhook_endpoints WHERE org_id = ? AND id = ?{}", dialect.for_update());
    match tx.fetch_optional(&sql, &[p(org), p(id)]).await? {
        Some(row) => Ok(Some(row.doc(0)?)),
        None => Ok(None),
    }
}

/// That the endpoint is the org's, its row locked for the transaction (MySQL); else `NotFound`.
async fn lock_endpoint_id(tx: &mut Tx, dialect: Dialect, org: OrgId, id: WebhookEndpointId) -> Result<(), Fail> {
    let sql = format!("SELECT id FROM webhook_endpoints WHERE org_id = ? AND id = ?{}", dialect.for_update());
    match tx.fetch_optional(&sql, &[p(org), p(id)]).await? {
        Some(_) => Ok(()),
        None => Err(Error::not_found(WebhookEndpointId::ENTITY, id).into()),
    }
}

async fn write_endpoint(tx: &mut Tx, org: OrgId, e: &StoredEndpoint) -> Result<(), Fail> {
    let params = [enabled(e), int(e.endpoint.revision)?, doc(e)?, p(org), p(e.endpoint.id)];
    tx.execute("UPDATE webhook_endpoints SET enabled = ?, revision = ?, body = ? WHERE org_id = ? AND id = ?", &params)
        .await?;
    Ok(())
}

/// Fails the endpoint's pending deliveries (and ends their leases).
async fn fail_pending(tx: &mut Tx, org: OrgId, endpoint: WebhookEndpointId) -> Result<(), Fail> {
    tx.execute(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = ?, lease_id = NULL, leased_until = NULL WHERE org_id = ? AND endpoint_id = ? AND status = 'pending'",
        &[Param::Text(DISABLED.into()), p(org), p(endpoint)],
    )
    .await?;
    Ok(())
}

impl SqlStore {
    /// Reads `sql` in one transaction, once `check` (a statement on the org and one id) found its
    /// row; `check`'s error otherwise.
    async fn read_checked<T>(
        &self,
        org: OrgId,
        check: (&str, uuid::Uuid, Error),
        sql: &str,
        params: &[Param],
        read: impl FnOnce(Vec<Row>) -> Result<T> + Send,
    ) -> Result<T> {
        let (check_sql, id, missing) = check;
        let mut tx = self.pool.begin().await.map_err(backend)?;
        if tx.fetch_optional(check_sql, &[p(org), p(id)]).await.map_err(backend)?.is_none() {
            return Err(missing);
        }
        let rows = tx.fetch_all(sql, params).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        read(rows)
    }
}

const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries (org_id, id, endpoint_id, created_at, status, attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

const ENDPOINT_EXISTS: &str = "SELECT id FROM webhook_endpoints WHERE org_id = ? AND id = ?";

const DELIVERY_EXISTS: &str = "SELECT id FROM webhook_deliveries WHERE org_id = ? AND id = ?";

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl WebhookStore for SqlStore {
    async fn insert_endpoint(&self, org: OrgId, endpoint: &StoredEndpoint) -> Result<()> {
        let e = &endpoint.endpoint;
        same_org(org, e.org_id, WebhookEndpointId::ENTITY)?;
        let params = [p(org), p(e.id), enabled(endpoint), time(e.created_at), int(e.revision)?, doc(endpoint)?];
        write_tx!(self, |tx| {
            insert(
                &mut tx,
                "INSERT INTO webhook_endpoints (org_id, id, enabled, created_at, revision, body) VALUES (?, ?, ?, ?, ?, ?)",
                &params,
                || format!("webhook endpoint `{}` already exists", e.id),
            )
            .await
        })
    }

    async fn get_endpoint(&self, org: OrgId, id: WebhookEndpointId) -> Result<StoredEndpoint> {
        self.one("SELECT body FROM webhook_endpoints WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await?
            .ok_or_else(|| Error::not_found(WebhookEndpointId::ENTITY, id))
    }

    async fn list_endpoints(&self, org: OrgId, page: Page) -> Result<Vec<StoredEndpoint>> {
        let [l, o] = limit(page);
        self.all(
            "SELECT body FROM webhook_endpoints WHERE org_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?",
            &[p(org), l, o],
        )
        .await
    }

    async fn endpoints_for(&self, org: OrgId, event_type: &str) -> Result<Vec<StoredEndpoint>> {
        let enabled: Vec<StoredEndpoint> = self
            .all(
                "SELECT body FROM webhook_endpoints WHERE org_id = ? AND enabled = 1 ORDER BY created_at, id",
                &[p(org)],
            )
            .await?;
        Ok(enabled.into_iter().filter(|e| e.endpoint.wants(event_type)).collect())
    }

    async fn update_endpoint(&self, org: OrgId, endpoint: &StoredEndpoint) -> Result<StoredEndpoint> {
        let id = endpoint.endpoint.id;
        let read_at = endpoint.endpoint.revision;
        let mut next = endpoint.clone();
        next.endpoint.revision = read_at
            .checked_add(1)
            .ok_or_else(|| Error::Backend(format!("webhook endpoint `{id}` has run out of revisions")))?;
        let dialect = self.pool.dialect();
        write_tx!(self, |tx| {
            let Some(stored) = locked_revision(&mut tx, dialect, "webhook_endpoints", org, id.as_uuid()).await? else {
                return Err(Error::not_found(WebhookEndpointId::ENTITY, id).into());
            };
            same_org(org, endpoint.endpoint.org_id, WebhookEndpointId::ENTITY)?;
            if stored != read_at {
                return Err(Error::Conflict(format!(
                    "webhook endpoint `{id}` changed since it was read (revision {read_at} is now {stored})"
                ))
                .into());
            }
            write_endpoint(&mut tx, org, &next).await?;
            if !next.endpoint.enabled {
                fail_pending(&mut tx, org, id).await?;
            }
            Ok(())
        })?;
        Ok(next)
    }

    async fn delete_endpoint(&self, org: OrgId, id: WebhookEndpointId) -> Result<()> {
        let keys = [p(org), p(id)];
        write_tx!(self, |tx| {
            if tx.execute("DELETE FROM webhook_endpoints WHERE org_id = ? AND id = ?", &keys).await? == 0 {
                return Err(Error::not_found(WebhookEndpointId::ENTITY, id).into());
            }
            tx.execute("DELETE FROM webhook_deliveries WHERE org_id = ? AND endpoint_id = ?", &keys).await?;
            tx.execute("DELETE FROM webhook_attempts WHERE org_id = ? AND endpoint_id = ?", &keys).await?;
            Ok(())
        })
    }

    async fn enqueue_deliveries(&self, org: OrgId, deliveries: &[WebhookDelivery]) -> Result<usize> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        for d in deliveries {
            same_org(org, d.org_id, WebhookDeliveryId::ENTITY)?;
        }
        // each endpoint once, in one order: concurrent fan-outs lock them alike
        let endpoints: BTreeSet<WebhookEndpointId> = deliveries.iter().map(|d| d.endpoint_id).collect();
        // a delivery named twice in the batch is added once, as it first appears
        let mut named = BTreeSet::new();
        let fresh: Vec<&WebhookDelivery> = deliveries.iter().filter(|d| named.insert(d.id)).collect();
        let rows = fresh
            .iter()
            .map(|d| {
                Ok([
                    p(org),
                    p(d.id),
                    p(d.endpoint_id),
                    time(d.created_at),
                    status(d.status),
                    Param::Int(i64::from(d.attempts)),
                    next_attempt(d.status, d.next_attempt_at, d.created_at),
                    time_or_null(d.last_attempt_at),
                    d.last_status_code.map_or(Param::Null, |c| Param::Int(i64::from(c))),
                    error_or_null(d.last_error.clone()),
                    doc(d)?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        let dialect = self.pool.dialect();
        write_tx!(self, |tx| {
            // the endpoints first, locked: every one must be the org's, and a delete of one waits
            for e in &endpoints {
                lock_endpoint_id(&mut tx, dialect, org, *e).await?;
            }
            // then which deliveries exist (read after the locks: enqueuers of these endpoints
            // that came first have committed)
            let mut existing = BTreeSet::new();
            for chunk in fresh.chunks(CHUNK) {
                let sql =
                    format!("SELECT id FROM webhook_deliveries WHERE org_id = ? AND id IN ({})", marks(chunk.len()));
                let mut params = vec![p(org)];
                params.extend(chunk.iter().map(|d| p(d.id)));
                for row in tx.fetch_all(&sql, &params).await? {
                    existing.insert(row.uuid(0)?);
                }
            }
            let mut new = 0usize;
            for (d, row) in fresh.iter().zip(&rows) {
                if existing.contains(&d.id.as_uuid()) {
                    continue;
                }
                insert(&mut tx, INSERT_DELIVERY, row, || format!("webhook delivery `{}` was made meanwhile", d.id))
                    .await?;
                new += 1;
            }
            Ok(new)
        })
    }

    /// Crosses orgs by design: the deliverer serves every org (see the module docs).
    async fn lease_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<LeasedDelivery>> {
        let dialect = self.pool.dialect();
        let due = format!(
            "SELECT d.org_id, {}, e.body FROM webhook_deliveries d JOIN webhook_endpoints e ON e.org_id = d.org_id AND e.id = d.endpoint_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
             AND (d.leased_until IS NULL OR d.leased_until <= ?) AND e.enabled = 1 \
             ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT ?",
            delivery_columns(dialect, "d.")
        );
        let rows =
            self.pool.fetch_all(&due, &[time(now), time(now), Param::Int(i64::from(limit))]).await.map_err(backend)?;
        let found = rows
            .iter()
            .map(|r| {
                let org = OrgId::from_uuid(r.uuid(0)?);
                let delivery = delivery_of(r, 1)?;
                let endpoint: StoredEndpoint = r.doc(1 + DELIVERY_WIDTH)?;
                Ok((org, LeasedDelivery { delivery, endpoint }))
            })
            .collect::<Result<Vec<_>>>()?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        // the same conditions again, row by row, each naming its org: a delivery another
        // deliverer leased, or an attempt recorded, since the read is not taken
        let take = "UPDATE webhook_deliveries SET lease_id = ?, leased_until = ? WHERE org_id = ? AND id = ? \
                    AND status = 'pending' AND attempts = ? AND next_attempt_at <= ? \
                    AND (leased_until IS NULL OR leased_until <= ?)";
        let won = write_tx!(self, |tx| {
            let mut won = Vec::with_capacity(found.len());
            for (org, l) in &found {
                let params = [
                    Param::from(lease),
                    time(until),
                    p(*org),
                    p(l.delivery.id),
                    Param::Int(i64::from(l.delivery.attempts)),
                    time(now),
                    time(now),
                ];
                won.push(tx.execute(take, &params).await? > 0);
            }
            Ok(won)
        })?;
        Ok(found.into_iter().zip(won).filter_map(|((_, l), taken)| taken.then_some(l)).collect())
    }

    async fn record_attempt(&self, org: OrgId, record: &AttemptRecord) -> Result<bool> {
        check_events(org, &record.events)?;
        let a = &record.attempt;
        let decision = &record.decision;
        let touches_endpoint = a.success || decision.disable_endpoint.is_some();
        let dialect = self.pool.dialect();
        let held = format!(
            "SELECT endpoint_id FROM webhook_deliveries WHERE org_id = ? AND id = ? AND lease_id = ? AND status = 'pending'{}",
            dialect.for_update()
        );
        let state = [
            status(decision.status),
            next_attempt(decision.status, decision.next_attempt_at, a.at),
            time(a.at),
            a.outcome.status_code().map_or(Param::Null, |c| Param::Int(i64::from(c))),
            error_or_null(a.outcome.error()),
            p(org),
            p(a.delivery_id),
        ];
        let log = [p(org), p(a.id), p(a.delivery_id), p(a.endpoint_id), time(a.at), doc(a)?];
        write_tx!(self, |tx| {
            // the endpoint's row before the delivery's, as every writer of both takes them
            let mut endpoint =
                if touches_endpoint { lock_endpoint(&mut tx, dialect, org, a.endpoint_id).await? } else { None };
            let Some(row) = tx.fetch_optional(&held, &[p(org), p(a.delivery_id), Param::from(record.lease)]).await?
            else {
                // the lease no longer holds it (or it is gone): nothing is written
                return Ok(false);
            };
            let endpoint_id = WebhookEndpointId::from_uuid(row.uuid(0)?);
            if touches_endpoint && endpoint_id != a.endpoint_id {
                endpoint = lock_endpoint(&mut tx, dialect, org, endpoint_id).await?;
            }
            tx.execute(
                "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_attempt_at = ?, last_status_code = ?, last_error = ?, lease_id = NULL, leased_until = NULL WHERE org_id = ? AND id = ?",
                &state,
            )
            .await?;
            insert(
                &mut tx,
                "INSERT INTO webhook_attempts (org_id, id, delivery_id, endpoint_id, at, body) VALUES (?, ?, ?, ?, ?, ?)",
                &log,
                || format!("webhook delivery attempt `{}` already exists", a.id),
            )
            .await?;
            if let Some(mut e) = endpoint {
                if a.success {
                    e.endpoint.last_success_at = Some(a.at);
                }
                if let Some(reason) = &decision.disable_endpoint {
                    e.endpoint.enabled = false;
                    e.endpoint.disabled_reason = Some(reason.clone());
                    e.endpoint.disabled_at = Some(a.at);
                    e.endpoint.updated_at = a.at;
                    e.endpoint.revision = e.endpoint.revision.saturating_add(1);
                }
                write_endpoint(&mut tx, org, &e).await?;
                if decision.disable_endpoint.is_some() {
                    fail_pending(&mut tx, org, endpoint_id).await?;
                    append_events(&mut tx, org, &record.events).await?;
                }
            }
            Ok(true)
        })
    }

    async fn deliveries(&self, org: OrgId, endpoint: WebhookEndpointId, page: Page) -> Result<Vec<WebhookDelivery>> {
        let dialect = self.pool.dialect();
        let sql = format!(
            "SELECT {} FROM {} WHERE org_id = ? AND endpoint_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            delivery_columns(dialect, ""),
            dialect.through("webhook_deliveries", "webhook_deliveries_by_endpoint")
        );
        let [l, o] = limit(page);
        let missing = Error::not_found(WebhookEndpointId::ENTITY, endpoint);
        self.read_checked(
            org,
            (ENDPOINT_EXISTS, endpoint.as_uuid(), missing),
            &sql,
            &[p(org), p(endpoint), l, o],
            |rows| rows.iter().map(|r| delivery_of(r, 0)).collect(),
        )
        .await
    }

    async fn get_delivery(&self, org: OrgId, id: WebhookDeliveryId) -> Result<WebhookDelivery> {
        let sql = format!(
            "SELECT {} FROM webhook_deliveries WHERE org_id = ? AND id = ?",
            delivery_columns(self.pool.dialect(), "")
        );
        match self.pool.fetch_optional(&sql, &[p(org), p(id)]).await.map_err(backend)? {
            Some(row) => delivery_of(&row, 0),
            None => Err(Error::not_found(WebhookDeliveryId::ENTITY, id)),
        }
    }

    async fn delivery_attempts(&self, org: OrgId, id: WebhookDeliveryId) -> Result<Vec<DeliveryAttempt>> {
        let missing = Error::not_found(WebhookDeliveryId::ENTITY, id);
        self.read_checked(
            org,
            (DELIVERY_EXISTS, id.as_uuid(), missing),
            "SELECT body FROM webhook_attempts WHERE org_id = ? AND delivery_id = ? ORDER BY at, id",
            &[p(org), p(id)],
            |rows| docs(&rows),
        )
        .await
    }

    async fn replay_deliveries(
        &self,
        org: OrgId,
        endpoint: WebhookEndpointId,
        replay: Replay,
        now: DateTime<Utc>,
    ) -> Result<Vec<WebhookDelivery>> {
        let dialect = self.pool.dialect();
        let columns = delivery_columns(dialect, "");
        let one = format!(
            "SELECT {columns} FROM webhook_deliveries WHERE org_id = ? AND id = ? AND endpoint_id = ?{}",
            dialect.for_update()
        );
        let failed = format!(
            "SELECT {columns} FROM webhook_deliveries WHERE org_id = ? AND endpoint_id = ? AND status = 'failed' AND created_at >= ? AND created_at < ? ORDER BY created_at, id{}",
            dialect.for_update()
        );
        write_tx!(self, |tx| {
            lock_endpoint_id(&mut tx, dialect, org, endpoint).await?;
            let mut chosen = match replay {
                Replay::One(id) => {
                    let Some(row) = tx.fetch_optional(&one, &[p(org), p(id), p(endpoint)]).await? else {
                        return Err(Error::not_found(WebhookDeliveryId::ENTITY, id).into());
                    };
                    let d = delivery_of(&row, 0)?;
                    if d.status == DeliveryStatus::Pending {
                        return Err(Error::Rule {
                            code: "delivery_pending",
                            message: format!("webhook delivery `{id}` is pending: it will be sent"),
                        }
                        .into());
                    }
                    vec![d]
                }
                Replay::Failed { from, to } => tx
                    .fetch_all(&failed, &[p(org), p(endpoint), time(from), time(to)])
                    .await?
                    .iter()
                    .map(|r| delivery_of(r, 0))
                    .collect::<Result<Vec<_>>>()?,
            };
            for chunk in chosen.chunks(CHUNK) {
                let sql = format!(
                    "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, lease_id = NULL, leased_until = NULL WHERE org_id = ? AND id IN ({})",
                    marks(chunk.len())
                );
                let mut params = vec![time(now), p(org)];
                params.extend(chunk.iter().map(|d| p(d.id)));
                tx.execute(&sql, &params).await?;
            }
            for d in &mut chosen {
                d.status = DeliveryStatus::Pending;
                d.attempts = 0;
                d.next_attempt_at = Some(now);
            }
            Ok(chosen)
        })
    }
}
