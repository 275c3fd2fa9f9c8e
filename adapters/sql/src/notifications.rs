//! [`NotificationStore`] over SQL: the per-user notification queues, their read state, the
//! tracking of their emails and the users' settings.
//!
//! `notifications` keeps each [`Notification`] as it was made in `body`, and beside it the columns
//! it is found and changed by: its user and when it was made (the queue's index, `(org_id,
//! user_id, created_at, id)`), when it was read, where its email stands (`email_status`,
//! `email_attempts`, `email_next_attempt_at`, `email_sent_at`, `email_last_error`) and the mailer's
//! lease (`lease_id`, `leased_until`). A notification is read back as its document with the
//! columns laid over it: its read time when it was read (the document's own, to the nanosecond,
//! when the column holds it to the microsecond), and its email as the columns say once an attempt
//! was recorded (before that, the document's). Times are kept to the microsecond (`DATETIME(6)`).
//! A pending email always has the time of its next attempt: one given none is stored due when it
//! was made (or attempted). `notification_settings` keeps each setting as put in `body` beside its
//! `email` (NULL: none).
//!
//! Every statement names `org_id` in its `WHERE` (or its inserted values) and binds it once,
//! except the mailer's first read in [`NotificationStore::lease_emails`], which serves every org by
//! design: the oldest due pending emails of any org whose user has an address, found through the
//! one index of these tables not led by `org_id`, `notifications_email_due (email_status,
//! email_next_attempt_at)`, joined to the users' settings on `(org_id, user_id)`. In one
//! transaction, the addresses the users of each org found have now are then read (one statement
//! per org), and each notification whose user still has one is taken by its own conditional
//! `UPDATE`, which names its org: still pending, due, at the attempt count read, and held by no
//! other lease. The database decides each row once, so two mailers never lease one email.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound as _, Utc};
use openinsure_core::error::{Error, Result};
use openinsure_core::ids::{NotificationId, OrgId, UserId};
use openinsure_core::notifications::{
    EmailDelivery, EmailOutcome, EmailStatus, Notification, NotificationSettings, NotificationStore, PendingEmail,
};
use openinsure_core::store::Page;

use crate::SqlStore;
use crate::db::{Dialect, Param, Row, backend};
use crate::more::parse_time;
use crate::store::{WRITE_ATTEMPTS, backoff, count, doc, enum_text, insert, limit, p, same_org, time, write_tx};

/// The longest last error kept (the column's size).
const MAX_ERROR_CHARS: usize = 2000;

/// How many ids one statement names.
const CHUNK: usize = 200;

/// The columns [`notification_of`] reads, of the table aliased `prefix` (`n.`, or none).
fn notification_columns(dialect: Dialect, prefix: &str) -> String {
    format!(
        "{}, {prefix}email_status, {prefix}email_attempts, {}, {}, {prefix}email_last_error, {prefix}body",
        dialect.time_text(&format!("{prefix}read_at")),
        dialect.time_text(&format!("{prefix}email_next_attempt_at")),
        dialect.time_text(&format!("{prefix}email_sent_at")),
    )
}

fn opt_time(row: &Row, i: usize) -> Result<Option<DateTime<Utc>>> {
    row.opt_text(i)?.map(|t| parse_time(&t)).transpose()
}

/// The time a column holds: the document's own when the column holds it (to the microsecond).
fn overlay(made: Option<DateTime<Utc>>, column: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (made, column) {
        (Some(m), Some(c)) if m.trunc_subsecs(6) == c => Some(m),
        (_, c) => c,
    }
}

fn status_param(s: EmailStatus) -> Result<Param> {
    enum_text(s).map(Param::Text)
}

fn status_of(text: String) -> Result<EmailStatus> {
    let shown = text.clone();
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|_| Error::Backend(format!("a stored email status `{shown}` does not read")))
}

/// A notification from the [`notification_columns`] starting at `at`: the document as it was
/// made, with when it was read and where its email stands now.
fn notification_of(row: &Row, at: usize) -> Result<Notification> {
    let mut n: Notification = row.doc(at + 6)?;
    n.read_at = overlay(n.read_at, opt_time(row, at)?);
    let attempts = count(row, at + 2)?;
    // every recorded attempt counts one: none since it was made, the email is the document's
    if attempts != n.email.attempts {
        n.email = EmailDelivery {
            status: status_of(row.text(at + 1)?)?,
            attempts,
            next_attempt_at: opt_time(row, at + 3)?,
            sent_at: opt_time(row, at + 4)?,
            last_error: row.opt_text(at + 5)?,
        };
    }
    Ok(n)
}

fn time_or_null(t: Option<DateTime<Utc>>) -> Param {
    t.map_or(Param::Null, time)
}

/// The `email_next_attempt_at` column: a pending email always has one, so the mailer's lease
/// reads a range of its index (`email_status = 'pending' AND email_next_attempt_at <= now`); one
/// given none is due at `otherwise` (when it was made, or attempted), as a time in the past is.
fn next_attempt(status: EmailStatus, at: Option<DateTime<Utc>>, otherwise: DateTime<Utc>) -> Param {
    match (status, at) {
        (EmailStatus::Pending, None) => time(otherwise),
        (_, at) => time_or_null(at),
    }
}

fn error_or_null(e: Option<&str>) -> Param {
    e.map_or(Param::Null, |e| Param::Text(e.chars().take(MAX_ERROR_CHARS).collect()))
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

const INSERT_NOTIFICATION: &str = "INSERT INTO notifications (org_id, id, user_id, created_at, read_at, email_status, email_attempts, email_next_attempt_at, email_sent_at, email_last_error, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

fn notification_row(org: OrgId, n: &Notification) -> Result<[Param; 11]> {
    let e = &n.email;
    Ok([
        p(org),
        p(n.id),
        p(n.user_id),
        time(n.created_at),
        time_or_null(n.read_at),
        status_param(e.status)?,
        Param::Int(i64::from(e.attempts)),
        next_attempt(e.status, e.next_attempt_at, n.created_at),
        time_or_null(e.sent_at),
        error_or_null(e.last_error.as_deref()),
        doc(n)?,
    ])
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl NotificationStore for SqlStore {
    /// Which of the batch exist is read first, and the rest inserted, in one transaction. Two
    /// writers of one new notification at once: the second's insert fails on the key (MySQL
    /// holds it until the first commits), its transaction is rolled back and run again, and then
    /// finds it.
    async fn insert_notifications(&self, org: OrgId, notifications: &[Notification]) -> Result<usize> {
        for n in notifications {
            same_org(org, n.org_id, NotificationId::ENTITY)?;
        }
        // a notification named twice in the batch is added once, as it first appears
        let mut named = BTreeSet::new();
        let fresh: Vec<&Notification> = notifications.iter().filter(|n| named.insert(n.id)).collect();
        if fresh.is_empty() {
            return Ok(0);
        }
        let rows = fresh.iter().map(|n| notification_row(org, n)).collect::<Result<Vec<_>>>()?;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = write_tx!(self, |tx| {
                let mut existing = BTreeSet::new();
                for chunk in fresh.chunks(CHUNK) {
                    let sql =
                        format!("SELECT id FROM notifications WHERE org_id = ? AND id IN ({})", marks(chunk.len()));
                    let mut params = vec![p(org)];
                    params.extend(chunk.iter().map(|n| p(n.id)));
                    for row in tx.fetch_all(&sql, &params).await? {
                        existing.insert(row.uuid(0)?);
                    }
                }
                let mut new = 0usize;
                for (n, row) in fresh.iter().zip(&rows) {
                    if existing.contains(&n.id.as_uuid()) {
                        continue;
                    }
                    insert(&mut tx, INSERT_NOTIFICATION, row, || format!("notification `{}` was made meanwhile", n.id))
                        .await?;
                    new += 1;
                }
                Ok(new)
            });
            match outcome {
                // made meanwhile by another writer: nothing of this one was kept; again
                Err(Error::Conflict(_)) if attempt < WRITE_ATTEMPTS => backoff(attempt).await,
                other => break other,
            }
        }
    }

    async fn notifications(
        &self,
        org: OrgId,
        user: UserId,
        unread_only: bool,
        page: Page,
    ) -> Result<Vec<Notification>> {
        let dialect = self.pool.dialect();
        let sql = format!(
            "SELECT {} FROM {} WHERE org_id = ? AND user_id = ?{} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            notification_columns(dialect, ""),
            dialect.through("notifications", "notifications_by_user"),
            if unread_only { " AND read_at IS NULL" } else { "" },
        );
        let [l, o] = limit(page);
        let rows = self.pool.fetch_all(&sql, &[p(org), p(user), l, o]).await.map_err(backend)?;
        rows.iter().map(|r| notification_of(r, 0)).collect()
    }

    async fn mark_read(&self, org: OrgId, user: UserId, id: NotificationId, at: DateTime<Utc>) -> Result<Notification> {
        let read = format!(
            "SELECT {} FROM notifications WHERE org_id = ? AND id = ? AND user_id = ?",
            notification_columns(self.pool.dialect(), "")
        );
        let keys = [p(org), p(id), p(user)];
        let mark = [time(at), p(org), p(id), p(user)];
        write_tx!(self, |tx| {
            // kept at its first reading
            tx.execute(
                "UPDATE notifications SET read_at = ? WHERE org_id = ? AND id = ? AND user_id = ? AND read_at IS NULL",
                &mark,
            )
            .await?;
            match tx.fetch_optional(&read, &keys).await? {
                Some(row) => Ok(notification_of(&row, 0)?),
                None => Err(Error::not_found(NotificationId::ENTITY, id).into()),
            }
        })
    }

    async fn mark_all_read(&self, org: OrgId, user: UserId, at: DateTime<Utc>) -> Result<usize> {
        let sql = format!(
            "UPDATE {} SET read_at = ? WHERE org_id = ? AND user_id = ? AND read_at IS NULL",
            self.pool.dialect().through("notifications", "notifications_by_user")
        );
        let params = [time(at), p(org), p(user)];
        // each row matched is changed (it was unread): the count is the same either way
        let marked = write_tx!(self, |tx| { Ok(tx.execute(&sql, &params).await?) })?;
        usize::try_from(marked).map_err(|_| Error::Backend("too many notifications marked".into()))
    }

    async fn put_settings(&self, org: OrgId, settings: &NotificationSettings) -> Result<()> {
        let email = settings.email.clone().map_or(Param::Null, Param::Text);
        let updated_at = time(settings.updated_at);
        let body = doc(settings)?;
        let (sql, params) = match self.pool.dialect() {
            Dialect::Sqlite => (
                "INSERT INTO notification_settings (org_id, user_id, email, updated_at, body) VALUES (?, ?, ?, ?, ?) \
                 ON CONFLICT (org_id, user_id) DO UPDATE SET email = excluded.email, updated_at = excluded.updated_at, body = excluded.body",
                vec![p(org), p(settings.user_id), email, updated_at, body],
            ),
            // the new values bound again (not `VALUES()`, which MySQL 8 deprecates); the key once
            Dialect::MySql => (
                "INSERT INTO notification_settings (org_id, user_id, email, updated_at, body) VALUES (?, ?, ?, ?, ?) \
                 ON DUPLICATE KEY UPDATE email = ?, updated_at = ?, body = ?",
                vec![
                    p(org),
                    p(settings.user_id),
                    email.clone(),
                    updated_at.clone(),
                    body.clone(),
                    email,
                    updated_at,
                    body,
                ],
            ),
        };
        write_tx!(self, |tx| {
            tx.execute(sql, &params).await?;
            Ok(())
        })
    }

    async fn settings(&self, org: OrgId, user: UserId) -> Result<Option<NotificationSettings>> {
        self.one("SELECT body FROM notification_settings WHERE org_id = ? AND user_id = ?", &[p(org), p(user)]).await
    }

    /// Crosses orgs by design: the mailer serves every org (see the module docs).
    async fn lease_emails(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<PendingEmail>> {
        let dialect = self.pool.dialect();
        let due = format!(
            "SELECT n.org_id, {} FROM notifications n \
             JOIN notification_settings s ON s.org_id = n.org_id AND s.user_id = n.user_id \
             WHERE n.email_status = 'pending' AND n.email_next_attempt_at <= ? \
             AND (n.leased_until IS NULL OR n.leased_until <= ?) AND s.email IS NOT NULL \
             ORDER BY n.email_next_attempt_at, n.created_at, n.id LIMIT ?",
            notification_columns(dialect, "n.")
        );
        let rows =
            self.pool.fetch_all(&due, &[time(now), time(now), Param::Int(i64::from(limit))]).await.map_err(backend)?;
        let found = rows
            .iter()
            .map(|r| Ok((OrgId::from_uuid(r.uuid(0)?), notification_of(r, 1)?)))
            .collect::<Result<Vec<_>>>()?;
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let mut users: BTreeMap<OrgId, BTreeSet<UserId>> = BTreeMap::new();
        for (org, n) in &found {
            users.entry(*org).or_default().insert(n.user_id);
        }
        // the same conditions again, row by row, each naming its org: an email another mailer
        // leased, or an attempt recorded, since the read is not taken
        let take = "UPDATE notifications SET lease_id = ?, leased_until = ? WHERE org_id = ? AND id = ? \
                    AND email_status = 'pending' AND email_attempts = ? AND email_next_attempt_at <= ? \
                    AND (leased_until IS NULL OR leased_until <= ?)";
        write_tx!(self, |tx| {
            // the addresses the users have now, an org at a time: one removed since the read is
            // not leased
            let mut addresses: BTreeMap<(OrgId, UserId), String> = BTreeMap::new();
            for (org, users) in &users {
                let users: Vec<&UserId> = users.iter().collect();
                for chunk in users.chunks(CHUNK) {
                    let sql = format!(
                        "SELECT user_id, email FROM notification_settings WHERE org_id = ? AND user_id IN ({}) AND email IS NOT NULL",
                        marks(chunk.len())
                    );
                    let mut params = vec![p(*org)];
                    params.extend(chunk.iter().map(|u| p(**u)));
                    for row in tx.fetch_all(&sql, &params).await? {
                        if let Some(email) = row.opt_text(1)? {
                            addresses.insert((*org, UserId::from_uuid(row.uuid(0)?)), email);
                        }
                    }
                }
            }
            let mut won = Vec::with_capacity(found.len());
            for (org, n) in &found {
                let Some(to) = addresses.get(&(*org, n.user_id)) else { continue };
                let params = [
                    Param::from(lease),
                    time(until),
                    p(*org),
                    p(n.id),
                    Param::Int(i64::from(n.email.attempts)),
                    time(now),
                    time(now),
                ];
                if tx.execute(take, &params).await? > 0 {
                    won.push(PendingEmail { notification: n.clone(), to: to.clone() });
                }
            }
            Ok(won)
        })
    }

    /// One conditional `UPDATE`: it matches only while the lease holds the email and it is
    /// pending, and every row it matches it changes (one attempt more), so what it matched says
    /// whether anything was written.
    async fn record_email(
        &self,
        org: OrgId,
        id: NotificationId,
        lease: uuid::Uuid,
        outcome: &EmailOutcome,
    ) -> Result<bool> {
        let sent_at = if outcome.status == EmailStatus::Sent { time(outcome.at) } else { Param::Null };
        let params = [
            status_param(outcome.status)?,
            next_attempt(outcome.status, outcome.next_attempt_at, outcome.at),
            sent_at,
            error_or_null(outcome.error.as_deref()),
            p(org),
            p(id),
            Param::from(lease),
        ];
        write_tx!(self, |tx| {
            let matched = tx
                .execute(
                    "UPDATE notifications SET email_status = ?, email_attempts = email_attempts + 1, email_next_attempt_at = ?, \
                     email_sent_at = COALESCE(?, email_sent_at), email_last_error = ?, lease_id = NULL, leased_until = NULL \
                     WHERE org_id = ? AND id = ? AND lease_id = ? AND email_status = 'pending'",
                    &params,
                )
                .await?;
            Ok(matched > 0)
        })
    }
}
