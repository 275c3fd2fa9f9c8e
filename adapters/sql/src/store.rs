//! The core store ports over SQL: one document per record beside the columns it is found by.
//!
//! Every statement names `org_id` in its `WHERE` (or its inserted values) and binds it once,
//! except the outbox dispatcher's, which serve every org by design: `pending_events`,
//! `lease_events` and `mark_delivered` (see the crate docs), and the clock's list of orgs
//! (`orgs_with_policies`); the webhook deliverer's lease is in `webhooks`, the mailer's in
//! `notifications`. Writes are one transaction each, retried a bounded, jittered number of times
//! on a deadlock, a lock wait timeout or a busy database.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use openinsure_core::claims::Claim;
use openinsure_core::error::{Error, Result};
use openinsure_core::events::{DeadLetter, Delivery, DeliveryFailure, EventEnvelope, EventId};
use openinsure_core::ids::{
    AuthorityProfileId, ClaimId, DaAgreementId, OrgId, PolicyId, QuoteId, ReferralId, SubmissionId, UserId,
};
use openinsure_core::money::Money;
use openinsure_core::money_id::{MoneyUse, Registration};
use openinsure_core::policy::Policy;
use openinsure_core::quote::Quote;
use openinsure_core::store::{
    AuthorityStore, BindCommit, BindOutcome, BindStore, ClaimStore, DaStore, MAX_PAGE_LIMIT, MoneyIdStore, Outbox,
    Page, PolicyStore, QuoteCommit, QuoteStore, ReferralStore, SubmissionStore,
};
use openinsure_core::submission::Submission;
use openinsure_core::underwriting::authority::{
    AuthorityAssignment, AuthorityProfile, Referral, ReferralActivity, ReferralRule, ReferralStatus,
};
use openinsure_core::underwriting::da::{DaAgreement, DaUsage, UsageChange, insured_key};
use openinsure_core::underwriting::decision::{BindContext, UnderwritingContext};
use serde::Serialize;

use crate::SqlStore;
use crate::db::{Dialect, Param, Row, Tx, backend, is_duplicate};

/// How a step of a write transaction failed: the database (maybe worth a retry) or a rule.
pub(crate) enum Fail {
    Sql(crate::db::DbError),
    Domain(Error),
}

impl From<crate::db::DbError> for Fail {
    fn from(e: crate::db::DbError) -> Self {
        Fail::Sql(e)
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Domain(e)
    }
}

/// Attempts of one write transaction before its error is answered.
pub(crate) const WRITE_ATTEMPTS: u32 = 6;

/// Runs `$body` (which uses `$tx` and returns `Result<T, Fail>`) in a write transaction, committed
/// when it succeeds, retried on a transient failure.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // held for the transaction only, not through a retry's backoff
            let writer = match &$store.writer {
                Some(w) => Some(w.lock().await),
                None => None,
            };
            let outcome: std::result::Result<_, $crate::store::Fail> = async {
                let mut $tx = $store.pool.begin().await?;
                let inner: std::result::Result<_, $crate::store::Fail> = async { $body }.await;
                let value = inner?;
                $tx.commit().await?;
                Ok(value)
            }
            .await;
            drop(writer);
            match outcome {
                Ok(v) => break Ok(v),
                Err($crate::store::Fail::Domain(e)) => break Err(e),
                Err($crate::store::Fail::Sql(e)) if $crate::db::is_transient(&e) && attempt < $crate::store::WRITE_ATTEMPTS => {
                    tracing::debug!(attempt, error = %e, "retrying a write transaction");
                    $crate::store::backoff(attempt).await;
                }
                Err($crate::store::Fail::Sql(e)) => break Err($crate::db::backend(e)),
            }
        }
    }};
}

pub(crate) use write_tx;

/// Waits a little longer each attempt, with jitter so that two writers that collided do not
/// collide again.
pub(crate) async fn backoff(attempt: u32) {
    use std::hash::BuildHasher as _;
    static DRAWS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // a hash with the process's random keys of a counter: no clock (which panics on wasm32)
    let draw = DRAWS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let jitter = std::collections::hash_map::RandomState::new().hash_one(draw) % 1000;
    let base_ms = 2u64 << attempt.min(6);
    let ms = base_ms + jitter * base_ms / 1000;
    #[cfg(not(target_arch = "wasm32"))]
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    // Workers have no timer this crate can reach: the retry follows at once (Hyperdrive's
    // round trip is the wait)
    #[cfg(target_arch = "wasm32")]
    let _ = ms;
}

/// An id bound as its 16 bytes.
pub(crate) trait Id {
    fn uuid(&self) -> uuid::Uuid;
}

impl Id for uuid::Uuid {
    fn uuid(&self) -> uuid::Uuid {
        *self
    }
}

macro_rules! ids {
    ($($t:ty),*) => {$(
        impl Id for $t {
            fn uuid(&self) -> uuid::Uuid {
                self.as_uuid()
            }
        }
    )*};
}

ids!(
    OrgId,
    SubmissionId,
    QuoteId,
    DaAgreementId,
    AuthorityProfileId,
    UserId,
    ReferralId,
    PolicyId,
    ClaimId,
    openinsure_core::ids::ProgramId,
    openinsure_core::ids::ReferralRuleId,
    openinsure_core::ids::WebhookEndpointId,
    openinsure_core::ids::WebhookDeliveryId,
    openinsure_core::ids::NotificationId
);

pub(crate) fn p(id: impl Id) -> Param {
    Param::from(id.uuid())
}

pub(crate) fn doc<T: Serialize>(value: &T) -> Result<Param> {
    serde_json::to_string(value)
        .map(Param::Text)
        .map_err(|e| Error::Backend(format!("a record does not serialize: {e}")))
}

pub(crate) fn int(n: u64) -> Result<Param> {
    i64::try_from(n).map(Param::Int).map_err(|_| Error::Backend(format!("{n} does not fit a BIGINT")))
}

pub(crate) fn time(t: DateTime<Utc>) -> Param {
    Param::Text(t.format("%Y-%m-%d %H:%M:%S%.6f").to_string())
}

pub(crate) fn limit(page: Page) -> [Param; 2] {
    [Param::Int(i64::from(page.limit.min(MAX_PAGE_LIMIT))), Param::Int(i64::from(page.offset))]
}

pub(crate) fn same_org(org: OrgId, record_org: OrgId, entity: &str) -> Result<()> {
    if org == record_org { Ok(()) } else { Err(Error::Forbidden(format!("{entity} belongs to another org"))) }
}

pub(crate) fn check_events(org: OrgId, events: &[EventEnvelope]) -> Result<()> {
    events.iter().try_for_each(|e| same_org(org, e.org_id, "event"))
}

pub(crate) fn docs<T: serde::de::DeserializeOwned>(rows: &[Row]) -> Result<Vec<T>> {
    rows.iter().map(|r| r.doc(0)).collect()
}

fn revision_of(row: &Row) -> Result<u64> {
    u64::try_from(row.int(0)?).map_err(|_| Error::Backend("a stored revision is negative".into()))
}

/// Inserts a record; a duplicate key is [`Error::Conflict`] with `what`.
pub(crate) async fn insert(
    tx: &mut Tx,
    sql: &str,
    params: &[Param],
    what: impl FnOnce() -> String,
) -> Result<(), Fail> {
    match tx.execute(sql, params).await {
        Ok(_) => Ok(()),
        Err(e) if is_duplicate(&e) => Err(Fail::Domain(Error::Conflict(what()))),
        Err(e) => Err(Fail::Sql(e)),
    }
}

/// Appends `events` to the outbox in the transaction `tx` (a taken id is a conflict).
pub(crate) async fn append_events(tx: &mut Tx, org: OrgId, events: &[EventEnvelope]) -> Result<(), Fail> {
    for e in events {
        let params = [p(org), p(e.id), time(e.occurred_at), doc(e)?];
        insert(
            tx,
            "INSERT INTO outbox (org_id, id, occurred_at, delivered, body) VALUES (?, ?, ?, 0, ?)",
            &params,
            || format!("event `{}` already exists", e.id),
        )
        .await?;
    }
    Ok(())
}

async fn append_activity(tx: &mut Tx, org: OrgId, activity: &ReferralActivity) -> Result<(), Fail> {
    let next = tx
        .fetch_optional(
            "SELECT COUNT(*) FROM referral_activities WHERE org_id = ? AND referral_id = ?",
            &[p(org), p(activity.referral_id)],
        )
        .await?
        .map_or(Ok(0), |r| r.int(0))?;
    let params = [p(org), p(activity.referral_id), Param::Int(next), doc(activity)?];
    tx.execute("INSERT INTO referral_activities (org_id, referral_id, seq, body) VALUES (?, ?, ?, ?)", &params).await?;
    Ok(())
}

/// The stored revision of a row, locked for the rest of the transaction; `None` when it is not
/// there.
pub(crate) async fn locked_revision(
    tx: &mut Tx,
    dialect: Dialect,
    table: &str,
    org: OrgId,
    id: uuid::Uuid,
) -> Result<Option<u64>, Fail> {
    let sql = format!("SELECT revision FROM {table} WHERE org_id = ? AND id = ?{}", dialect.for_update());
    match tx.fetch_optional(&sql, &[p(org), p(id)]).await? {
        Some(row) => Ok(Some(revision_of(&row)?)),
        None => Ok(None),
    }
}

/// The optimistic update every revised record takes: not found, another org's, stale, or stored
/// with `revision + 1`.
async fn update_revised(
    tx: &mut Tx,
    dialect: Dialect,
    table: &str,
    (org, record_org, id, revision): (OrgId, OrgId, uuid::Uuid, u64),
    (entity, label): (&'static str, &str),
    body: Param,
) -> Result<u64, Fail> {
    let Some(stored) = locked_revision(tx, dialect, table, org, id).await? else {
        return Err(Error::not_found(entity, id).into());
    };
    same_org(org, record_org, entity)?;
    if stored != revision {
        return Err(Error::Conflict(format!(
            "{entity} `{label}` changed since it was read (revision {revision} is now {stored})"
        ))
        .into());
    }
    let next = revision + 1;
    let sql = format!("UPDATE {table} SET revision = ?, body = ? WHERE org_id = ? AND id = ?");
    tx.execute(&sql, &[int(next)?, body, p(org), p(id)]).await?;
    Ok(next)
}

impl SqlStore {
    pub(crate) async fn one<T: serde::de::DeserializeOwned>(&self, sql: &str, params: &[Param]) -> Result<Option<T>> {
        match self.pool.fetch_optional(sql, params).await.map_err(backend)? {
            Some(row) => Ok(Some(row.doc(0)?)),
            None => Ok(None),
        }
    }

    pub(crate) async fn all<T: serde::de::DeserializeOwned>(&self, sql: &str, params: &[Param]) -> Result<Vec<T>> {
        docs(&self.pool.fetch_all(sql, params).await.map_err(backend)?)
    }

    fn dialect_(&self) -> Dialect {
        self.pool.dialect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl SubmissionStore for SqlStore {
    async fn insert_submission(&self, org: OrgId, submission: &Submission) -> Result<()> {
        same_org(org, submission.org_id, "submission")?;
        let params = [p(org), p(submission.id), int(submission.revision)?, doc(submission)?];
        write_tx!(self, |tx| {
            insert(&mut tx, "INSERT INTO submissions (org_id, id, revision, body) VALUES (?, ?, ?, ?)", &params, || {
                format!("submission `{}` already exists", submission.id)
            })
            .await
        })
    }

    async fn get_submission(&self, org: OrgId, id: SubmissionId) -> Result<Submission> {
        self.one("SELECT body FROM submissions WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await?
            .ok_or_else(|| Error::not_found("submission", id))
    }

    async fn update_submission(&self, org: OrgId, submission: &Submission) -> Result<Submission> {
        let mut next = submission.clone();
        next.revision += 1;
        let body = doc(&next)?;
        let key = (org, submission.org_id, submission.id.as_uuid(), submission.revision);
        let label = submission.id.to_string();
        write_tx!(self, |tx| {
            update_revised(&mut tx, self.dialect_(), "submissions", key, ("submission", &label), body.clone()).await
        })?;
        Ok(next)
    }

    async fn list_submissions(&self, org: OrgId, page: Page) -> Result<Vec<Submission>> {
        let [l, o] = limit(page);
        self.all("SELECT body FROM submissions WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?", &[p(org), l, o]).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl QuoteStore for SqlStore {
    async fn insert_quote(&self, org: OrgId, quote: &Quote) -> Result<()> {
        same_org(org, quote.org_id, "quote")?;
        let params = [p(org), p(quote.id), p(quote.submission_id), doc(quote)?];
        write_tx!(self, |tx| {
            insert(&mut tx, "INSERT INTO quotes (org_id, id, submission_id, body) VALUES (?, ?, ?, ?)", &params, || {
                format!("quote `{}` already exists", quote.id)
            })
            .await
        })
    }

    async fn get_quote(&self, org: OrgId, id: QuoteId) -> Result<Quote> {
        self.one("SELECT body FROM quotes WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await?
            .ok_or_else(|| Error::not_found("quote", id))
    }

    async fn list_quotes(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Quote>> {
        let sql = format!(
            "SELECT body FROM {} WHERE org_id = ? AND submission_id = ?",
            self.dialect_().through("quotes", "quotes_by_submission")
        );
        let mut quotes: Vec<Quote> = self.all(&sql, &[p(org), p(submission)]).await?;
        quotes.sort_by_key(|q| q.id);
        Ok(quotes)
    }

    async fn commit_quote(&self, org: OrgId, c: &QuoteCommit) -> Result<()> {
        same_org(org, c.quote.org_id, "quote")?;
        if let Some(r) = &c.referral {
            same_org(org, r.referral.org_id, "referral")?;
            same_org(org, r.activity.org_id, "referral activity")?;
            same_org(org, r.event.org_id, "event")?;
        }
        if let Some(sub) = &c.submission {
            same_org(org, sub.org_id, "submission")?;
        }
        let quote = [p(org), p(c.quote.id), p(c.quote.submission_id), doc(&c.quote)?];
        let moved = match &c.submission {
            Some(sub) => {
                let mut next = sub.clone();
                next.revision += 1;
                Some((sub, doc(&next)?))
            }
            None => None,
        };
        write_tx!(self, |tx| {
            if let Some((sub, body)) = &moved {
                let key = (org, sub.org_id, sub.id.as_uuid(), sub.revision);
                update_revised(
                    &mut tx,
                    self.dialect_(),
                    "submissions",
                    key,
                    ("submission", &sub.id.to_string()),
                    body.clone(),
                )
                .await?;
            }
            insert(&mut tx, "INSERT INTO quotes (org_id, id, submission_id, body) VALUES (?, ?, ?, ?)", &quote, || {
                format!("quote `{}` already exists", c.quote.id)
            })
            .await?;
            if let Some(r) = &c.referral {
                insert_referral_row(&mut tx, org, &r.referral).await?;
                append_activity(&mut tx, org, &r.activity).await?;
                append_events(&mut tx, org, std::slice::from_ref(&r.event)).await?;
            }
            Ok(())
        })
    }
}

/// A unit enum (a status) as the text serde writes for it, for a lookup column.
pub(crate) fn enum_text<T: Serialize>(value: T) -> Result<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(Error::Backend("a status does not serialize to a string".into())),
    }
}

async fn insert_referral_row(tx: &mut Tx, org: OrgId, referral: &Referral) -> Result<(), Fail> {
    let params = [
        p(org),
        p(referral.id),
        p(referral.submission_id),
        Param::Text(enum_text(referral.status)?),
        int(referral.revision)?,
        doc(referral)?,
    ];
    insert(
        tx,
        "INSERT INTO referrals (org_id, id, submission_id, status, revision, body) VALUES (?, ?, ?, ?, ?, ?)",
        &params,
        || format!("referral `{}` already exists", referral.id),
    )
    .await
}

/// A year's usage row as [`DaUsage`], with the policy counts of the insureds `rows` hold.
fn usage_of(row: &Row, insured: impl IntoIterator<Item = (String, u32)>) -> Result<DaUsage> {
    let cents = |i: usize| row.int(i).map(Money::from_cents);
    let count = |i: usize| {
        row.int(i).and_then(|n| u32::try_from(n).map_err(|_| Error::Backend("a stored count is out of range".into())))
    };
    Ok(DaUsage {
        agreement_year: count(0)?,
        written_premium: cents(1)?,
        quarter_premium: [cents(2)?, cents(3)?, cents(4)?, cents(5)?],
        policy_count: count(6)?,
        policies_by_insured: insured.into_iter().collect(),
    })
}

const USAGE_COLUMNS: &str =
    "agreement_year, written_premium_cents, q1_cents, q2_cents, q3_cents, q4_cents, policy_count";

fn insured_rows(rows: &[Row]) -> Result<Vec<(u32, String, u32)>> {
    rows.iter()
        .map(|r| {
            let year = u32::try_from(r.int(0)?).map_err(|_| Error::Backend("a stored year is out of range".into()))?;
            let n = u32::try_from(r.int(2)?).map_err(|_| Error::Backend("a stored count is out of range".into()))?;
            Ok((year, r.text(1)?, n))
        })
        .collect()
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl DaStore for SqlStore {
    async fn insert_agreement(&self, org: OrgId, agreement: &DaAgreement) -> Result<()> {
        same_org(org, agreement.org_id, "agreement")?;
        let params = [p(org), p(agreement.id), p(agreement.program_id), int(agreement.revision)?, doc(agreement)?];
        write_tx!(self, |tx| {
            insert(
                &mut tx,
                "INSERT INTO agreements (org_id, id, program_id, revision, body) VALUES (?, ?, ?, ?, ?)",
                &params,
                || format!("agreement `{}` already exists", agreement.id),
            )
            .await
        })
    }

    async fn get_agreement(&self, org: OrgId, id: DaAgreementId) -> Result<DaAgreement> {
        self.one("SELECT body FROM agreements WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await?
            .ok_or_else(|| Error::not_found("da agreement", id))
    }

    async fn update_agreement(&self, org: OrgId, agreement: &DaAgreement) -> Result<DaAgreement> {
        let mut next = agreement.clone();
        next.revision += 1;
        let body = doc(&next)?;
        let key = (org, agreement.org_id, agreement.id.as_uuid(), agreement.revision);
        let label = agreement.id.to_string();
        write_tx!(self, |tx| {
            update_revised(&mut tx, self.dialect_(), "agreements", key, ("da agreement", &label), body.clone()).await
        })?;
        Ok(next)
    }

    async fn list_agreements(&self, org: OrgId, page: Page) -> Result<Vec<DaAgreement>> {
        let [l, o] = limit(page);
        self.all("SELECT body FROM agreements WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?", &[p(org), l, o]).await
    }

    async fn usage(&self, org: OrgId, id: DaAgreementId, agreement_year: u32) -> Result<DaUsage> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let keys = [p(org), p(id)];
        if tx
            .fetch_optional("SELECT id FROM agreements WHERE org_id = ? AND id = ?", &keys)
            .await
            .map_err(backend)?
            .is_none()
        {
            return Err(Error::not_found("da agreement", id));
        }
        let year = [p(org), p(id), Param::Int(i64::from(agreement_year))];
        let sql = format!(
            "SELECT {USAGE_COLUMNS} FROM da_usage WHERE org_id = ? AND agreement_id = ? AND agreement_year = ?"
        );
        let row = tx.fetch_optional(&sql, &year).await.map_err(backend)?;
        let insured = tx
            .fetch_all(
                "SELECT agreement_year, insured_key, policies FROM da_usage_insured WHERE org_id = ? AND agreement_id = ? AND agreement_year = ?",
                &year,
            )
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        match row {
            Some(row) => usage_of(&row, insured_rows(&insured)?.into_iter().map(|(_, k, n)| (k, n))),
            None => Ok(DaUsage { agreement_year, ..DaUsage::default() }),
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl AuthorityStore for SqlStore {
    async fn insert_profile(&self, org: OrgId, profile: &AuthorityProfile) -> Result<()> {
        same_org(org, profile.org_id, "authority profile")?;
        let params = [p(org), p(profile.id), doc(profile)?];
        write_tx!(self, |tx| {
            insert(&mut tx, "INSERT INTO profiles (org_id, id, body) VALUES (?, ?, ?)", &params, || {
                format!("authority profile `{}` already exists", profile.id)
            })
            .await
        })
    }

    async fn list_profiles(&self, org: OrgId) -> Result<Vec<AuthorityProfile>> {
        let mut v: Vec<AuthorityProfile> =
            self.all("SELECT body FROM profiles WHERE org_id = ? ORDER BY id", &[p(org)]).await?;
        v.sort_by_key(|p| (p.level, p.id));
        Ok(v)
    }

    async fn assign(&self, org: OrgId, assignment: &AuthorityAssignment) -> Result<()> {
        same_org(org, assignment.org_id, "assignment")?;
        let params = [p(org), p(assignment.user_id), p(assignment.profile_id), doc(assignment)?];
        let sql = format!(
            "INSERT INTO assignments (org_id, user_id, profile_id, body) VALUES (?, ?, ?, ?){}",
            self.dialect_().on_conflict_nothing("org_id")
        );
        write_tx!(self, |tx| {
            let profile = [p(org), p(assignment.profile_id)];
            if tx.fetch_optional("SELECT id FROM profiles WHERE org_id = ? AND id = ?", &profile).await?.is_none() {
                return Err(Error::not_found("authority profile", assignment.profile_id).into());
            }
            tx.execute(&sql, &params).await?;
            Ok(())
        })
    }

    async fn unassign(&self, org: OrgId, user: UserId, profile: AuthorityProfileId) -> Result<()> {
        let params = [p(org), p(user), p(profile)];
        write_tx!(self, |tx| {
            tx.execute("DELETE FROM assignments WHERE org_id = ? AND user_id = ? AND profile_id = ?", &params).await?;
            Ok(())
        })
    }

    async fn list_assignments(&self, org: OrgId) -> Result<Vec<AuthorityAssignment>> {
        self.all("SELECT body FROM assignments WHERE org_id = ? ORDER BY user_id, profile_id", &[p(org)]).await
    }

    async fn profiles_of(&self, org: OrgId, user: UserId) -> Result<Vec<AuthorityProfile>> {
        self.all(PROFILES_OF, &[p(org), p(user)]).await
    }

    async fn insert_rule(&self, org: OrgId, rule: &ReferralRule) -> Result<()> {
        same_org(org, rule.org_id, "referral rule")?;
        let params = [p(org), p(rule.id), doc(rule)?];
        write_tx!(self, |tx| {
            insert(&mut tx, "INSERT INTO rules (org_id, id, body) VALUES (?, ?, ?)", &params, || {
                format!("referral rule `{}` already exists", rule.id)
            })
            .await
        })
    }

    async fn list_rules(&self, org: OrgId) -> Result<Vec<ReferralRule>> {
        self.all("SELECT body FROM rules WHERE org_id = ? ORDER BY id", &[p(org)]).await
    }
}

/// A user's profiles: the join stays on one org (one shard), which it names once.
const PROFILES_OF: &str = "SELECT p.body FROM assignments a JOIN profiles p ON p.org_id = a.org_id AND p.id = a.profile_id \
     WHERE a.org_id = ? AND a.user_id = ? ORDER BY a.profile_id";

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ReferralStore for SqlStore {
    async fn insert_referral(
        &self,
        org: OrgId,
        referral: &Referral,
        activity: &ReferralActivity,
        events: &[EventEnvelope],
    ) -> Result<()> {
        same_org(org, referral.org_id, "referral")?;
        same_org(org, activity.org_id, "referral activity")?;
        check_events(org, events)?;
        write_tx!(self, |tx| {
            insert_referral_row(&mut tx, org, referral).await?;
            append_activity(&mut tx, org, activity).await?;
            append_events(&mut tx, org, events).await
        })
    }

    async fn get_referral(&self, org: OrgId, id: ReferralId) -> Result<Referral> {
        self.one("SELECT body FROM referrals WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await?
            .ok_or_else(|| Error::not_found("referral", id))
    }

    async fn update_referral(
        &self,
        org: OrgId,
        referral: &Referral,
        activity: &ReferralActivity,
        events: &[EventEnvelope],
    ) -> Result<Referral> {
        let mut next = referral.clone();
        next.revision += 1;
        let body = doc(&next)?;
        let status = enum_text(next.status)?;
        let label = referral.id.to_string();
        write_tx!(self, |tx| {
            let Some(stored) =
                locked_revision(&mut tx, self.dialect_(), "referrals", org, referral.id.as_uuid()).await?
            else {
                return Err(Error::not_found("referral", referral.id).into());
            };
            same_org(org, referral.org_id, "referral")?;
            same_org(org, activity.org_id, "referral activity")?;
            check_events(org, events)?;
            if stored != referral.revision {
                return Err(Error::Conflict(format!("referral `{label}` changed since it was read")).into());
            }
            let params = [int(next.revision)?, Param::Text(status.clone()), body.clone(), p(org), p(referral.id)];
            tx.execute("UPDATE referrals SET revision = ?, status = ?, body = ? WHERE org_id = ? AND id = ?", &params)
                .await?;
            append_activity(&mut tx, org, activity).await?;
            append_events(&mut tx, org, events).await
        })?;
        Ok(next)
    }

    async fn list_referrals(&self, org: OrgId, status: Option<ReferralStatus>, page: Page) -> Result<Vec<Referral>> {
        let [l, o] = limit(page);
        match status {
            Some(s) => {
                let sql = "SELECT body FROM referrals WHERE org_id = ? AND status = ? ORDER BY id LIMIT ? OFFSET ?";
                self.all(sql, &[p(org), Param::Text(enum_text(s)?), l, o]).await
            }
            None => {
                self.all("SELECT body FROM referrals WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?", &[p(org), l, o])
                    .await
            }
        }
    }

    async fn referrals_for_submission(&self, org: OrgId, submission: SubmissionId) -> Result<Vec<Referral>> {
        let sql = format!(
            "SELECT body FROM {} WHERE org_id = ? AND submission_id = ?",
            self.dialect_().through("referrals", "referrals_by_submission")
        );
        let mut referrals: Vec<Referral> = self.all(&sql, &[p(org), p(submission)]).await?;
        referrals.sort_by_key(|r| r.id);
        Ok(referrals)
    }

    async fn activities(&self, org: OrgId, referral: ReferralId) -> Result<Vec<ReferralActivity>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let keys = [p(org), p(referral)];
        if tx
            .fetch_optional("SELECT id FROM referrals WHERE org_id = ? AND id = ?", &keys)
            .await
            .map_err(backend)?
            .is_none()
        {
            return Err(Error::not_found("referral", referral));
        }
        let rows = tx
            .fetch_all("SELECT body FROM referral_activities WHERE org_id = ? AND referral_id = ? ORDER BY seq", &keys)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        docs(&rows)
    }
}

/// The policy bound from a quote, if any: one org, named once.
const POLICY_FOR_QUOTE: &str = "SELECT p.body FROM policy_quotes q JOIN policies p ON p.org_id = q.org_id AND p.id = q.policy_id \
     WHERE q.org_id = ? AND q.quote_id = ?";

impl SqlStore {
    /// The whole underwriting context in one read transaction.
    async fn read_underwriting(
        &self,
        tx: &mut Tx,
        org: OrgId,
        id: SubmissionId,
        user: UserId,
    ) -> Result<UnderwritingContext> {
        let submission: Submission = tx
            .fetch_optional("SELECT body FROM submissions WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await
            .map_err(backend)?
            .ok_or_else(|| Error::not_found("submission", id))?
            .doc(0)?;
        // lookups by a secondary key go through its index and are sorted here (an ORDER BY would
        // draw SQLite's planner back to the primary key)
        let dialect = self.dialect_();
        let by_program = format!(
            "SELECT body FROM {} WHERE org_id = ? AND program_id = ?",
            dialect.through("agreements", "agreements_by_program")
        );
        let mut agreements: Vec<DaAgreement> =
            docs(&tx.fetch_all(&by_program, &[p(org), p(submission.program_id)]).await.map_err(backend)?)?;
        agreements.sort_by_key(|a| a.id);
        let insured = insured_key(&submission);
        let mut usage = Vec::new();
        for a in &agreements {
            let sql = format!(
                "SELECT {USAGE_COLUMNS} FROM da_usage WHERE org_id = ? AND agreement_id = ? ORDER BY agreement_year"
            );
            let years = tx.fetch_all(&sql, &[p(org), p(a.id)]).await.map_err(backend)?;
            if years.is_empty() {
                continue;
            }
            let of_insured = format!(
                "SELECT agreement_year, insured_key, policies FROM {} WHERE org_id = ? AND agreement_id = ? AND insured_key = ?",
                dialect.through("da_usage_insured", "da_usage_insured_by_insured")
            );
            let counts = insured_rows(
                &tx.fetch_all(&of_insured, &[p(org), p(a.id), Param::Text(insured.clone())]).await.map_err(backend)?,
            )?;
            for row in &years {
                let year = u32::try_from(row.int(0)?).unwrap_or_default();
                let of_insured = counts.iter().filter(|(y, _, _)| *y == year).map(|(_, k, n)| (k.clone(), *n));
                usage.push((a.id, usage_of(row, of_insured)?));
            }
        }
        let caller_profiles = docs(&tx.fetch_all(PROFILES_OF, &[p(org), p(user)]).await.map_err(backend)?)?;
        let mut profiles: Vec<AuthorityProfile> = docs(
            &tx.fetch_all("SELECT body FROM profiles WHERE org_id = ? ORDER BY id", &[p(org)])
                .await
                .map_err(backend)?,
        )?;
        profiles.sort_by_key(|p| (p.level, p.id));
        let rules = docs(
            &tx.fetch_all("SELECT body FROM rules WHERE org_id = ? ORDER BY id", &[p(org)]).await.map_err(backend)?,
        )?;
        let by_submission = format!(
            "SELECT body FROM {} WHERE org_id = ? AND submission_id = ?",
            dialect.through("referrals", "referrals_by_submission")
        );
        let mut referrals: Vec<Referral> =
            docs(&tx.fetch_all(&by_submission, &[p(org), p(id)]).await.map_err(backend)?)?;
        referrals.sort_by_key(|r| r.id);
        Ok(UnderwritingContext { submission, agreements, usage, caller_profiles, profiles, rules, referrals })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl BindStore for SqlStore {
    async fn bind(&self, org: OrgId, c: &BindCommit) -> Result<BindOutcome> {
        same_org(org, c.policy.org_id, "policy")?;
        same_org(org, c.quote.org_id, "quote")?;
        same_org(org, c.submission.org_id, "submission")?;
        check_events(org, &c.events)?;
        let dialect = self.dialect_();
        let mut moved = c.submission.clone();
        moved.revision += 1;
        let submission_body = doc(&moved)?;
        let quote_body = doc(&c.quote)?;
        let policy =
            [p(org), p(c.policy.id), Param::Text(c.policy.number.clone()), int(c.policy.revision)?, doc(&c.policy)?];
        let outcome = write_tx!(self, |tx| {
            // the submission's row first: binders of one submission queue here
            let Some(stored) = locked_revision(&mut tx, dialect, "submissions", org, c.submission.id.as_uuid()).await?
            else {
                return Err(Error::not_found("submission", c.submission.id).into());
            };
            // a plain read, after the submission's lock: binders of this quote all hold that lock
            // to commit, so this read (whose snapshot starts now) sees any of them that did; a
            // locking read here would gap-lock the missing row and deadlock concurrent binders
            if let Some(row) = tx.fetch_optional(POLICY_FOR_QUOTE, &[p(org), p(c.quote.id)]).await? {
                return Ok(BindOutcome::AlreadyBound(row.doc(0)?));
            }
            if stored != c.submission.revision {
                return Err(
                    Error::Conflict(format!("submission `{}` changed since it was read", c.submission.id)).into()
                );
            }
            let sub = [int(moved.revision)?, submission_body.clone(), p(org), p(c.submission.id)];
            tx.execute("UPDATE submissions SET revision = ?, body = ? WHERE org_id = ? AND id = ?", &sub).await?;
            // the quote's row, matched or not there (MySQL counts matched rows, as SQLite does)
            let quote_row = [quote_body.clone(), p(org), p(c.quote.id)];
            if tx.execute("UPDATE quotes SET body = ? WHERE org_id = ? AND id = ?", &quote_row).await? == 0 {
                return Err(Error::not_found("quote", c.quote.id).into());
            }
            insert(
                &mut tx,
                "INSERT INTO policies (org_id, id, number, revision, body) VALUES (?, ?, ?, ?, ?)",
                &policy,
                || format!("policy `{}` already exists", c.policy.number),
            )
            .await?;
            let link = [p(org), p(c.quote.id), p(c.policy.id)];
            match tx.execute("INSERT INTO policy_quotes (org_id, quote_id, policy_id) VALUES (?, ?, ?)", &link).await {
                Ok(_) => {}
                // another binder of this quote committed first
                Err(e) if is_duplicate(&e) => {
                    return Err(Error::Conflict(format!("quote `{}` was bound meanwhile", c.quote.id)).into());
                }
                Err(e) => return Err(e.into()),
            }
            append_events(&mut tx, org, &c.events).await?;
            // last: the agreement year's row is the one every binder of the year waits on, so it
            // is held from here to the commit only
            if let Some(claim) = &c.capacity {
                take_capacity(&mut tx, dialect, org, claim).await?;
            }
            Ok(BindOutcome::Bound(c.policy.clone()))
        });
        match outcome {
            // a concurrent bind of the same quote won: answer with its policy
            Err(Error::Conflict(_)) => match self.policy_for_quote(org, c.quote.id).await? {
                Some(policy) => Ok(BindOutcome::AlreadyBound(policy)),
                None => outcome,
            },
            other => other,
        }
    }

    async fn next_sequence(&self, org: OrgId, key: &str) -> Result<u64> {
        let dialect = self.dialect_();
        let params = [p(org), Param::Text(key.to_owned())];
        let n = write_tx!(self, |tx| {
            let row = match dialect {
                // one round trip: SQLite returns the new value
                Dialect::Sqlite => {
                    tx.fetch_optional(
                        "INSERT INTO sequences (org_id, name, value) VALUES (?, ?, 1) ON CONFLICT (org_id, name) DO UPDATE SET value = value + 1 RETURNING value",
                        &params,
                    )
                    .await?
                }
                // MySQL 8 has no RETURNING
                Dialect::MySql => {
                    tx.execute(
                        "INSERT INTO sequences (org_id, name, value) VALUES (?, ?, 1) ON DUPLICATE KEY UPDATE value = value + 1",
                        &params,
                    )
                    .await?;
                    tx.fetch_optional("SELECT value FROM sequences WHERE org_id = ? AND name = ?", &params).await?
                }
            };
            Ok(row.map_or(Ok(0), |r| r.int(0))?)
        })?;
        u64::try_from(n).map_err(|_| Error::Backend("a stored sequence is negative".into()))
    }

    async fn underwriting_context(&self, org: OrgId, id: SubmissionId, user: UserId) -> Result<UnderwritingContext> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let ctx = self.read_underwriting(&mut tx, org, id, user).await?;
        tx.commit().await.map_err(backend)?;
        Ok(ctx)
    }

    async fn bind_context(&self, org: OrgId, id: SubmissionId, user: UserId) -> Result<BindContext> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let underwriting = self.read_underwriting(&mut tx, org, id, user).await?;
        let keys = [p(org), p(id)];
        let by_submission = format!(
            "SELECT body FROM {} WHERE org_id = ? AND submission_id = ?",
            self.dialect_().through("quotes", "quotes_by_submission")
        );
        let mut quotes: Vec<Quote> = docs(&tx.fetch_all(&by_submission, &keys).await.map_err(backend)?)?;
        quotes.sort_by_key(|q| q.id);
        let policies = docs(
            &tx.fetch_all(
                "SELECT p.body FROM quotes q JOIN policy_quotes l ON l.org_id = q.org_id AND l.quote_id = q.id \
                 JOIN policies p ON p.org_id = l.org_id AND p.id = l.policy_id WHERE q.org_id = ? AND q.submission_id = ? ORDER BY q.id",
                &keys,
            )
            .await
            .map_err(backend)?,
        )?;
        tx.commit().await.map_err(backend)?;
        Ok(BindContext { underwriting, quotes, policies })
    }
}

/// An agreement year's usage row, locked for the transaction: created first if missing on MySQL
/// (a locking read of a missing row gap-locks and deadlocks concurrent writers); SQLite has one
/// writer, so it is read, and then inserted or updated.
async fn lock_usage_year(
    tx: &mut Tx,
    dialect: Dialect,
    org: OrgId,
    agreement: DaAgreementId,
    year: u32,
) -> Result<Option<Row>, Fail> {
    let key = [p(org), p(agreement), Param::Int(i64::from(year))];
    if dialect == Dialect::MySql {
        let create = format!(
            "INSERT INTO da_usage (org_id, agreement_id, agreement_year, written_premium_cents, q1_cents, q2_cents, q3_cents, q4_cents, policy_count) \
             VALUES (?, ?, ?, 0, 0, 0, 0, 0, 0){}",
            dialect.on_conflict_nothing("org_id")
        );
        tx.execute(&create, &key).await?;
    }
    let lock = format!(
        "SELECT {USAGE_COLUMNS} FROM da_usage WHERE org_id = ? AND agreement_id = ? AND agreement_year = ?{}",
        dialect.for_update()
    );
    Ok(tx.fetch_optional(&lock, &key).await?)
}

/// Writes an agreement year's totals (not the per-insured counts).
async fn write_usage_year(
    tx: &mut Tx,
    org: OrgId,
    agreement: DaAgreementId,
    usage: &DaUsage,
    exists: bool,
) -> Result<(), Fail> {
    let q = |i: usize| Param::Int(usage.quarter_premium[i].cents());
    let update = [
        Param::Int(usage.written_premium.cents()),
        q(0),
        q(1),
        q(2),
        q(3),
        Param::Int(i64::from(usage.policy_count)),
        p(org),
        p(agreement),
        Param::Int(i64::from(usage.agreement_year)),
    ];
    let usage_sql = if exists {
        "UPDATE da_usage SET written_premium_cents = ?, q1_cents = ?, q2_cents = ?, q3_cents = ?, q4_cents = ?, policy_count = ? \
         WHERE org_id = ? AND agreement_id = ? AND agreement_year = ?"
    } else {
        "INSERT INTO da_usage (written_premium_cents, q1_cents, q2_cents, q3_cents, q4_cents, policy_count, org_id, agreement_id, agreement_year) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
    tx.execute(usage_sql, &update).await?;
    Ok(())
}

/// Applies a policy change's [`UsageChange`] to its agreement year, or refuses it.
async fn change_usage(tx: &mut Tx, dialect: Dialect, org: OrgId, change: &UsageChange) -> Result<(), Fail> {
    let agreement = [p(org), p(change.agreement_id)];
    if tx.fetch_optional("SELECT id FROM agreements WHERE org_id = ? AND id = ?", &agreement).await?.is_none() {
        return Err(Error::not_found("da agreement", change.agreement_id).into());
    }
    let row = lock_usage_year(tx, dialect, org, change.agreement_id, change.agreement_year).await?;
    let mut usage = match &row {
        Some(r) => usage_of(r, Vec::new())?,
        None => DaUsage { agreement_year: change.agreement_year, ..DaUsage::default() },
    };
    change.apply(&mut usage).map_err(Error::from)?;
    write_usage_year(tx, org, change.agreement_id, &usage, row.is_some()).await
}

/// Takes a bind's claim on an agreement year's capacity, or refuses it: the year's row is created
/// if missing and then locked (no gap lock on a missing row), the insured's count read, the
/// claim checked by the domain's own rule, and both rows written.
async fn take_capacity(
    tx: &mut Tx,
    dialect: Dialect,
    org: OrgId,
    claim: &openinsure_core::underwriting::da::CapacityClaim,
) -> Result<(), Fail> {
    let agreement = [p(org), p(claim.agreement_id)];
    if tx.fetch_optional("SELECT id FROM agreements WHERE org_id = ? AND id = ?", &agreement).await?.is_none() {
        return Err(Error::not_found("da agreement", claim.agreement_id).into());
    }
    let row = lock_usage_year(tx, dialect, org, claim.agreement_id, claim.agreement_year).await?;
    let precreate = dialect == Dialect::MySql;
    let insured = [
        p(org),
        p(claim.agreement_id),
        Param::Int(i64::from(claim.agreement_year)),
        Param::Text(claim.insured_key.clone()),
    ];
    // the insured's row too: created if missing, then locked (its count is read as committed)
    let create_insured = format!(
        "INSERT INTO da_usage_insured (org_id, agreement_id, agreement_year, insured_key, policies) VALUES (?, ?, ?, ?, 0){}",
        dialect.on_conflict_nothing("org_id")
    );
    if precreate {
        tx.execute(&create_insured, &insured).await?;
    }
    let counted = tx
        .fetch_optional(
            &format!(
                "SELECT agreement_year, insured_key, policies FROM da_usage_insured WHERE org_id = ? AND agreement_id = ? AND agreement_year = ? AND insured_key = ?{}",
                dialect.for_update()
            ),
            &insured,
        )
        .await?;
    let of_insured = match &counted {
        Some(r) => insured_rows(std::slice::from_ref(r))?.into_iter().map(|(_, k, n)| (k, n)).collect(),
        None => Vec::new(),
    };
    let mut usage = match &row {
        Some(r) => usage_of(r, of_insured)?,
        None => DaUsage {
            agreement_year: claim.agreement_year,
            policies_by_insured: of_insured.into_iter().collect(),
            ..DaUsage::default()
        },
    };
    claim.take(&mut usage).map_err(Error::from)?;
    write_usage_year(tx, org, claim.agreement_id, &usage, row.is_some()).await?;
    let n = usage.policies_by_insured.get(&claim.insured_key).copied().unwrap_or(1);
    let mut params = vec![Param::Int(i64::from(n))];
    params.extend(insured);
    let insured_sql = if counted.is_some() {
        "UPDATE da_usage_insured SET policies = ? WHERE org_id = ? AND agreement_id = ? AND agreement_year = ? AND insured_key = ?"
    } else {
        "INSERT INTO da_usage_insured (policies, org_id, agreement_id, agreement_year, insured_key) VALUES (?, ?, ?, ?, ?)"
    };
    tx.execute(insured_sql, &params).await?;
    Ok(())
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl PolicyStore for SqlStore {
    async fn get_policy(&self, org: OrgId, id: PolicyId) -> Result<Policy> {
        self.one("SELECT body FROM policies WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await?
            .ok_or_else(|| Error::not_found("policy", id))
    }

    async fn policy_for_quote(&self, org: OrgId, quote: QuoteId) -> Result<Option<Policy>> {
        self.one(POLICY_FOR_QUOTE, &[p(org), p(quote)]).await
    }

    async fn orgs_with_policies(&self) -> Result<Vec<OrgId>> {
        let rows =
            self.pool.fetch_all("SELECT DISTINCT org_id FROM policies ORDER BY org_id", &[]).await.map_err(backend)?;
        rows.iter().map(|r| Ok(OrgId::from_uuid(r.uuid(0)?))).collect()
    }

    async fn list_policies(&self, org: OrgId, page: Page) -> Result<Vec<Policy>> {
        let [l, o] = limit(page);
        self.all("SELECT body FROM policies WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?", &[p(org), l, o]).await
    }

    async fn insert_policy(
        &self,
        org: OrgId,
        policy: &Policy,
        capacity: Option<&openinsure_core::underwriting::da::CapacityClaim>,
        events: &[EventEnvelope],
    ) -> Result<()> {
        same_org(org, policy.org_id, "policy")?;
        check_events(org, events)?;
        let row = [p(org), p(policy.id), Param::Text(policy.number.clone()), int(policy.revision)?, doc(policy)?];
        let dialect = self.dialect_();
        let link = format!(
            "INSERT INTO policy_quotes (org_id, quote_id, policy_id) VALUES (?, ?, ?){}",
            self.dialect_().on_conflict_nothing("org_id")
        );
        write_tx!(self, |tx| {
            insert(
                &mut tx,
                "INSERT INTO policies (org_id, id, number, revision, body) VALUES (?, ?, ?, ?, ?)",
                &row,
                || format!("policy `{}` already exists", policy.number),
            )
            .await?;
            if let Some(prior) = policy.renewal_of {
                insert(
                    &mut tx,
                    "INSERT INTO renewals (org_id, prior_id, policy_id) VALUES (?, ?, ?)",
                    &[p(org), p(prior), p(policy.id)],
                    || format!("policy `{prior}` has already been renewed"),
                )
                .await?;
            }
            tx.execute(&link, &[p(org), p(policy.quote_id), p(policy.id)]).await?;
            if let Some(claim) = capacity {
                take_capacity(&mut tx, dialect, org, claim).await?;
            }
            append_events(&mut tx, org, events).await
        })
    }

    async fn update_policy(
        &self,
        org: OrgId,
        policy: &Policy,
        usage: Option<&UsageChange>,
        events: &[EventEnvelope],
    ) -> Result<Policy> {
        let mut next = policy.clone();
        next.revision += 1;
        let body = doc(&next)?;
        let dialect = self.dialect_();
        write_tx!(self, |tx| {
            let sql =
                format!("SELECT revision, number FROM policies WHERE org_id = ? AND id = ?{}", dialect.for_update());
            let Some(row) = tx.fetch_optional(&sql, &[p(org), p(policy.id)]).await? else {
                return Err(Error::not_found("policy", policy.id).into());
            };
            same_org(org, policy.org_id, "policy")?;
            check_events(org, events)?;
            if revision_of(&row)? != policy.revision {
                return Err(Error::Conflict(format!("policy `{}` changed since it was read", policy.number)).into());
            }
            if row.text(1)? != policy.number {
                return Err(Error::Conflict("a policy number never changes".into()).into());
            }
            let params = [int(next.revision)?, body.clone(), p(org), p(policy.id)];
            tx.execute("UPDATE policies SET revision = ?, body = ? WHERE org_id = ? AND id = ?", &params).await?;
            if let Some(change) = usage {
                change_usage(&mut tx, dialect, org, change).await?;
            }
            append_events(&mut tx, org, events).await
        })?;
        Ok(next)
    }
}

/// A non-negative count column.
pub(crate) fn count(row: &Row, i: usize) -> Result<u32> {
    u32::try_from(row.int(i)?).map_err(|_| Error::Backend("a stored count is out of range".into()))
}

/// A dead letter from `body, attempts, generation, last_error, failed_at`.
fn dead_letter_of(row: &Row) -> Result<DeadLetter> {
    let e: EventEnvelope = row.doc(0)?;
    Ok(DeadLetter {
        event_id: e.id,
        event_type: e.event.name().to_owned(),
        occurred_at: e.occurred_at,
        attempts: count(row, 1)?,
        generation: count(row, 2)?,
        reason: row.text(3)?,
        failed_at: crate::more::parse_time(&row.text(4)?)?,
    })
}

/// How many ids one `mark_delivered` statement names.
const DELIVERED_CHUNK: usize = 200;

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Outbox for SqlStore {
    /// Crosses orgs by design: the dispatcher serves every org.
    async fn pending_events(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<EventEnvelope>> {
        let rows = self
            .pool
            .fetch_all(
                "SELECT body, attempts, generation FROM outbox WHERE delivered = 0 AND (next_attempt_at IS NULL OR next_attempt_at <= ?) ORDER BY occurred_at, id LIMIT ?",
                &[time(now), Param::Int(i64::from(limit))],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let mut e: EventEnvelope = r.doc(0)?;
                e.delivery = Delivery { attempts: count(r, 1)?, generation: count(r, 2)? };
                Ok(e)
            })
            .collect()
    }

    async fn lease_events(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        lease: uuid::Uuid,
        until: DateTime<Utc>,
    ) -> Result<Vec<EventEnvelope>> {
        let envelope = |r: &Row, at: usize| -> Result<EventEnvelope> {
            let mut e: EventEnvelope = r.doc(at)?;
            e.delivery = Delivery { attempts: count(r, at + 1)?, generation: count(r, at + 2)? };
            Ok(e)
        };
        let candidates = self
            .pool
            .fetch_all(
                "SELECT id, body, attempts, generation FROM outbox WHERE delivered = 0 AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND (leased_until IS NULL OR leased_until <= ?) ORDER BY occurred_at, id LIMIT ?",
                &[time(now), time(now), Param::Int(i64::from(limit))],
            )
            .await
            .map_err(backend)?;
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let events: Vec<EventEnvelope> = candidates.iter().map(|r| envelope(r, 1)).collect::<Result<_>>()?;
        // the same conditions again: a row another dispatcher leased (or a failure deferred) since
        // the read is not taken; the database decides each row once
        let marks = vec!["?"; events.len()].join(", ");
        let sql = format!(
            "UPDATE outbox SET lease_id = ?, leased_until = ? WHERE delivered = 0 AND (next_attempt_at IS NULL OR next_attempt_at <= ?) AND (leased_until IS NULL OR leased_until <= ?) AND id IN ({marks})"
        );
        let mut params = vec![Param::from(lease), time(until), time(now), time(now)];
        params.extend(events.iter().map(|e| p(e.id)));
        let won = write_tx!(self, |tx| { Ok(tx.execute(&sql, &params).await?) })?;
        if usize::try_from(won).is_ok_and(|w| w == events.len()) {
            return Ok(events);
        }
        // some went to another dispatcher: read back what this lease holds
        let rows = self
            .pool
            .fetch_all(
                "SELECT body, attempts, generation FROM outbox WHERE lease_id = ? AND delivered = 0 ORDER BY occurred_at, id",
                &[Param::from(lease)],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(|r| envelope(r, 0)).collect()
    }

    async fn record_failure(&self, org: OrgId, id: EventId, failure: &DeliveryFailure) -> Result<()> {
        let reason: String = failure.reason.chars().take(2000).collect();
        let (state, next, failed) = match failure.retry_at {
            Some(at) => (0, time(at), Param::Null),
            None => (2, Param::Null, time(failure.at)),
        };
        let params = [Param::Int(state), next, failed, Param::Text(reason), p(org), p(id)];
        write_tx!(self, |tx| {
            tx.execute(
                "UPDATE outbox SET delivered = ?, attempts = attempts + 1, next_attempt_at = ?, failed_at = ?, last_error = ?, lease_id = NULL, leased_until = NULL WHERE org_id = ? AND id = ? AND delivered = 0",
                &params,
            )
            .await?;
            Ok(())
        })
    }

    async fn dead_letters(&self, org: OrgId, page: Page) -> Result<Vec<DeadLetter>> {
        let [l, o] = limit(page);
        let sql = format!(
            "SELECT body, attempts, generation, last_error, {} FROM outbox WHERE org_id = ? AND delivered = 2 ORDER BY occurred_at, id LIMIT ? OFFSET ?",
            self.dialect_().time_text("failed_at")
        );
        let rows = self.pool.fetch_all(&sql, &[p(org), l, o]).await.map_err(backend)?;
        rows.iter().map(dead_letter_of).collect()
    }

    async fn replay(&self, org: OrgId, id: EventId) -> Result<DeadLetter> {
        let dialect = self.dialect_();
        let read = format!(
            "SELECT body, attempts, generation, last_error, {}, delivered FROM outbox WHERE org_id = ? AND id = ?{}",
            dialect.time_text("failed_at"),
            dialect.for_update()
        );
        write_tx!(self, |tx| {
            let Some(row) = tx.fetch_optional(&read, &[p(org), p(id)]).await? else {
                return Err(Error::not_found("event", id).into());
            };
            if row.int(5)? != 2 {
                return Err(Error::Rule {
                    code: "event_not_dead",
                    message: format!("event `{id}` is not a dead letter"),
                }
                .into());
            }
            let letter = dead_letter_of(&row)?;
            tx.execute(
                "UPDATE outbox SET delivered = 0, attempts = 0, generation = generation + 1, next_attempt_at = NULL, failed_at = NULL, last_error = '' WHERE org_id = ? AND id = ?",
                &[p(org), p(id)],
            )
            .await?;
            Ok(letter)
        })
    }

    /// Crosses orgs by design: the dispatcher acknowledges what it delivered, of every org.
    async fn mark_delivered(&self, ids: &[EventId]) -> Result<()> {
        for chunk in ids.chunks(DELIVERED_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql =
                format!("UPDATE outbox SET delivered = 1, lease_id = NULL, leased_until = NULL WHERE id IN ({marks})");
            let params: Vec<Param> = chunk.iter().map(|id| p(*id)).collect();
            write_tx!(self, |tx| {
                tx.execute(&sql, &params).await?;
                Ok(())
            })?;
        }
        Ok(())
    }

    async fn org_events(&self, org: OrgId, page: Page) -> Result<Vec<EventEnvelope>> {
        let [l, o] = limit(page);
        self.all("SELECT body FROM outbox WHERE org_id = ? ORDER BY occurred_at, id LIMIT ? OFFSET ?", &[p(org), l, o])
            .await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl ClaimStore for SqlStore {
    async fn insert_claim(&self, org: OrgId, claim: &Claim, events: &[EventEnvelope]) -> Result<()> {
        same_org(org, claim.org_id, "claim")?;
        check_events(org, events)?;
        let params = [p(org), p(claim.id), int(claim.revision)?, doc(claim)?];
        write_tx!(self, |tx| {
            insert(&mut tx, "INSERT INTO claims (org_id, id, revision, body) VALUES (?, ?, ?, ?)", &params, || {
                format!("claim `{}` already exists", claim.id)
            })
            .await?;
            append_events(&mut tx, org, events).await
        })
    }

    async fn get_claim(&self, org: OrgId, id: ClaimId) -> Result<Claim> {
        self.one("SELECT body FROM claims WHERE org_id = ? AND id = ?", &[p(org), p(id)])
            .await?
            .ok_or_else(|| Error::not_found("claim", id))
    }

    async fn update_claim(&self, org: OrgId, claim: &Claim, events: &[EventEnvelope]) -> Result<Claim> {
        let mut next = claim.clone();
        next.revision += 1;
        let body = doc(&next)?;
        let key = (org, claim.org_id, claim.id.as_uuid(), claim.revision);
        let label = claim.id.to_string();
        write_tx!(self, |tx| {
            check_events(org, events)?;
            update_revised(&mut tx, self.dialect_(), "claims", key, ("claim", &label), body.clone()).await?;
            append_events(&mut tx, org, events).await
        })?;
        Ok(next)
    }

    async fn list_claims(&self, org: OrgId, page: Page) -> Result<Vec<Claim>> {
        let [l, o] = limit(page);
        self.all("SELECT body FROM claims WHERE org_id = ? ORDER BY id LIMIT ? OFFSET ?", &[p(org), l, o]).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl MoneyIdStore for SqlStore {
    async fn register_money_id(&self, org: OrgId, id: uuid::Uuid, money: &MoneyUse) -> Result<Registration> {
        let keys = [p(org), p(id)];
        let row = [p(org), p(id), doc(money)?];
        let read = format!("SELECT body FROM money_ids WHERE org_id = ? AND id = ?{}", self.dialect_().for_update());
        for _ in 0..2 {
            let first: Result<Option<MoneyUse>> = write_tx!(self, |tx| {
                if let Some(r) = tx.fetch_optional(&read, &keys).await? {
                    return Ok(Some(r.doc::<MoneyUse>(0)?));
                }
                match tx.execute("INSERT INTO money_ids (org_id, id, body) VALUES (?, ?, ?)", &row).await {
                    Ok(_) => Ok(None),
                    Err(e) if is_duplicate(&e) => {
                        Err(Error::Conflict(format!("money id `{id}` registered meanwhile")).into())
                    }
                    Err(e) => Err(e.into()),
                }
            });
            match first {
                Ok(None) => return Ok(Registration::New),
                Ok(Some(first)) if &first == money => return Ok(Registration::Replay),
                Ok(Some(first)) => return Err(Error::MoneyIdReused { id, first_use: first }),
                // another writer registered it between the read and the insert: read it again
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::Backend(format!("money id `{id}` could not be registered")))
    }
}
