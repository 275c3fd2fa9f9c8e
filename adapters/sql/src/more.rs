//! The other ports the system of record keeps: idempotency keys, the relation tuples of the
//! authorizer, the PHI audit log (its hash chain in the database) and deal rooms.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use openinsure_core::error::{Error, Result};
use openinsure_core::idempotency::{Begin, IdempotencyScope, IdempotencyStore, StoredResponse};
use openinsure_core::ids::{DealRoomId, OrgId, SubmissionId, UserId};
use openinsure_core::relationships::{Authorizer, AuthzRequest, Decision, Tuple, decide};
use openinsure_core::store::Page;
use openinsure_dealroom::DealRoomStore;
use openinsure_dealroom::protocol::{Annotation, ChatMessage};
use openinsure_dealroom::room::{DealRoom, Participant, RoomStatus};
use openinsure_hipaa::audit::{AuditDraft, AuditEntry, AuditHead, MonthRange, PhiAuditLog, seal};

use crate::SqlStore;
use crate::db::{Param, Tx, backend, is_duplicate};
use crate::store::{Fail, doc, docs, enum_text, limit, p, time};

/// How long a finished key's response is kept (24 hours, as in memory).
const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|e| Error::Backend(format!("a stored time does not read: {e}")))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl IdempotencyStore for SqlStore {
    async fn begin(
        &self,
        scope: &IdempotencyScope,
        fingerprint: [u8; 32],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Begin> {
        let keys = [p(scope.org.as_uuid()), p(scope.user.as_uuid()), Param::Text(scope.key.clone())];
        let fresh = [
            p(scope.org.as_uuid()),
            p(scope.user.as_uuid()),
            Param::Text(scope.key.clone()),
            Param::Bytes(fingerprint.to_vec()),
            time(now),
        ];
        let dialect = self.pool.dialect();
        let read = format!(
            "SELECT fingerprint, done, {}, status, response FROM idempotency_keys WHERE org_id = ? AND user_id = ? AND idem_key = ?{}",
            dialect.time_text("at"),
            dialect.for_update()
        );
        let retention = Duration::hours(IDEMPOTENCY_RETENTION_HOURS);
        crate::store::write_tx!(self, |tx| {
            let Some(row) = tx.fetch_optional(&read, &keys).await? else {
                match tx
                    .execute(
                        "INSERT INTO idempotency_keys (org_id, user_id, idem_key, fingerprint, done, at, status, response) VALUES (?, ?, ?, ?, 0, ?, 0, X'')",
                        &fresh,
                    )
                    .await
                {
                    Ok(_) => return Ok(Begin::Proceed),
                    // reserved meanwhile by another request with this key
                    Err(e) if is_duplicate(&e) => return Ok(Begin::InFlight),
                    Err(e) => return Err(e.into()),
                }
            };
            let done = row.int(1)? != 0;
            let at = parse_time(&row.text(2)?)?;
            let expired = if done { now - at >= retention } else { now - at >= lease };
            if expired {
                let mut params = vec![Param::Bytes(fingerprint.to_vec()), time(now)];
                params.extend(keys.iter().cloned());
                tx.execute(
                    "UPDATE idempotency_keys SET fingerprint = ?, done = 0, at = ?, status = 0, response = X'' WHERE org_id = ? AND user_id = ? AND idem_key = ?",
                    &params,
                )
                .await?;
                return Ok(Begin::Proceed);
            }
            if row.bytes(0)? != fingerprint {
                return Ok(Begin::Mismatch);
            }
            if !done {
                return Ok(Begin::InFlight);
            }
            let status =
                u16::try_from(row.int(3)?).map_err(|_| Error::Backend("a stored status is out of range".into()))?;
            Ok(Begin::Replay(StoredResponse { status, body: row.bytes(4)? }))
        })
    }

    async fn complete(&self, scope: &IdempotencyScope, response: StoredResponse, now: DateTime<Utc>) -> Result<()> {
        let params = [
            time(now),
            Param::Int(i64::from(response.status)),
            Param::Bytes(response.body),
            p(scope.org.as_uuid()),
            p(scope.user.as_uuid()),
            Param::Text(scope.key.clone()),
        ];
        crate::store::write_tx!(self, |tx| {
            tx.execute(
                "UPDATE idempotency_keys SET done = 1, at = ?, status = ?, response = ? WHERE org_id = ? AND user_id = ? AND idem_key = ?",
                &params,
            )
            .await?;
            Ok(())
        })
    }

    async fn release(&self, scope: &IdempotencyScope) -> Result<()> {
        let params = [p(scope.org.as_uuid()), p(scope.user.as_uuid()), Param::Text(scope.key.clone())];
        crate::store::write_tx!(self, |tx| {
            tx.execute(
                "DELETE FROM idempotency_keys WHERE org_id = ? AND user_id = ? AND idem_key = ? AND done = 0",
                &params,
            )
            .await?;
            Ok(())
        })
    }
}

fn tuple_params(org: OrgId, t: &Tuple) -> [Param; 6] {
    [
        p(org.as_uuid()),
        Param::Text(t.object_type.clone()),
        Param::Text(t.object_id.clone()),
        Param::Text(t.relation.clone()),
        Param::Text(t.subject_type.clone()),
        Param::Text(t.subject_id.clone()),
    ]
}

/// The org a tuple is kept under, or why it cannot be kept.
fn tuple_org(t: &Tuple) -> Result<OrgId> {
    t.org().ok_or_else(|| Error::Backend(format!("relation tuple `{t}` names no org")))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl Authorizer for SqlStore {
    /// Reads the tuples of the request's org (one shard) and decides with the core's check.
    async fn check(&self, request: &AuthzRequest) -> Result<Decision> {
        let rows = self
            .pool
            .fetch_all(
                "SELECT object_type, object_id, relation, subject_type, subject_id FROM relation_tuples WHERE org_id = ?",
                &[p(request.org.as_uuid())],
            )
            .await
            .map_err(backend)?;
        let mut set = std::collections::BTreeSet::new();
        for r in &rows {
            set.insert(Tuple {
                object_type: r.text(0)?,
                object_id: r.text(1)?,
                relation: r.text(2)?,
                subject_type: r.text(3)?,
                subject_id: r.text(4)?,
            });
        }
        Ok(decide(&set, request))
    }

    async fn write_relationships(&self, writes: &[Tuple], deletes: &[Tuple]) -> Result<()> {
        let deletes: Vec<(OrgId, &Tuple)> = deletes.iter().map(|t| Ok((tuple_org(t)?, t))).collect::<Result<_>>()?;
        let writes: Vec<(OrgId, &Tuple)> = writes.iter().map(|t| Ok((tuple_org(t)?, t))).collect::<Result<_>>()?;
        let insert = format!(
            "INSERT INTO relation_tuples (org_id, object_type, object_id, relation, subject_type, subject_id) VALUES (?, ?, ?, ?, ?, ?){}",
            self.pool.dialect().on_conflict_nothing("org_id")
        );
        crate::store::write_tx!(self, |tx| {
            for (org, t) in &deletes {
                tx.execute(
                    "DELETE FROM relation_tuples WHERE org_id = ? AND object_type = ? AND object_id = ? AND relation = ? AND subject_type = ? AND subject_id = ?",
                    &tuple_params(*org, t),
                )
                .await?;
            }
            for (org, t) in &writes {
                tx.execute(&insert, &tuple_params(*org, t)).await?;
            }
            Ok(())
        })
    }
}

fn hipaa(e: Error) -> openinsure_hipaa::Error {
    match e {
        Error::Conflict(m) => openinsure_hipaa::Error::Conflict(m),
        Error::Unavailable(m) => openinsure_hipaa::Error::Unavailable(m),
        other => openinsure_hipaa::Error::Backend(other.to_string()),
    }
}

const AUDIT_APPEND_ATTEMPTS: u32 = 8;

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl PhiAuditLog for SqlStore {
    /// Seals the entry on the org's chain head, read with a lock; two appenders that read the
    /// same head collide on the `(org_id, sequence)` key, and the loser seals again on the new
    /// head. The table is only ever inserted into.
    async fn append(&self, org: OrgId, draft: &AuditDraft) -> openinsure_hipaa::Result<AuditEntry> {
        let dialect = self.pool.dialect();
        // the org's head row serializes appenders: created if missing, then locked (no gap lock on
        // a missing row); the last entry is then read as committed
        let create_head = format!(
            "INSERT INTO audit_heads (org_id, sequence) VALUES (?, 0){}",
            dialect.on_conflict_nothing("org_id")
        );
        let lock_head = format!("SELECT sequence FROM audit_heads WHERE org_id = ?{}", dialect.for_update());
        let head_sql = "SELECT body FROM audit_log WHERE org_id = ? ORDER BY sequence DESC LIMIT 1";
        for _ in 0..AUDIT_APPEND_ATTEMPTS {
            let sealed: Result<std::result::Result<AuditEntry, openinsure_hipaa::Error>> =
                crate::store::write_tx!(self, |tx| {
                    tx.execute(&create_head, &[p(org.as_uuid())]).await?;
                    tx.fetch_optional(&lock_head, &[p(org.as_uuid())]).await?;
                    let head: Option<AuditEntry> = match tx.fetch_optional(head_sql, &[p(org.as_uuid())]).await? {
                        Some(row) => Some(row.doc(0)?),
                        None => None,
                    };
                    let entry = match seal(org, head.as_ref().map(AuditEntry::head).as_ref(), draft) {
                        Ok(e) => e,
                        Err(e) => return Ok(Err(e)),
                    };
                    let sequence =
                        i64::try_from(entry.sequence).map_err(|_| Error::Backend("the chain is too long".into()))?;
                    let params =
                        [p(org.as_uuid()), Param::Int(sequence), Param::Text(entry.month.to_string()), doc(&entry)?];
                    match tx
                        .execute("INSERT INTO audit_log (org_id, sequence, month, body) VALUES (?, ?, ?, ?)", &params)
                        .await
                    {
                        Ok(_) => {
                            tx.execute(
                                "UPDATE audit_heads SET sequence = ? WHERE org_id = ?",
                                &[Param::Int(sequence), p(org.as_uuid())],
                            )
                            .await?;
                            Ok(Ok(entry))
                        }
                        Err(e) if is_duplicate(&e) => Err(Error::Conflict("the chain moved".into()).into()),
                        Err(e) => Err(e.into()),
                    }
                });
            match sealed {
                Ok(result) => return result,
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(hipaa(e)),
            }
        }
        Err(openinsure_hipaa::Error::Conflict("the audit chain kept moving; try again".into()))
    }

    async fn entries(&self, org: OrgId, months: MonthRange, page: Page) -> openinsure_hipaa::Result<Vec<AuditEntry>> {
        let [l, o] = limit(page);
        let params =
            [p(org.as_uuid()), Param::Text(months.first.to_string()), Param::Text(months.last.to_string()), l, o];
        let rows = self
            .pool
            .fetch_all(
                "SELECT body FROM audit_log WHERE org_id = ? AND month >= ? AND month <= ? ORDER BY sequence LIMIT ? OFFSET ?",
                &params,
            )
            .await
            .map_err(|e| hipaa(backend(e)))?;
        docs(&rows).map_err(hipaa)
    }

    async fn head(&self, org: OrgId) -> openinsure_hipaa::Result<Option<AuditHead>> {
        let row = self
            .pool
            .fetch_optional(
                "SELECT body FROM audit_log WHERE org_id = ? ORDER BY sequence DESC LIMIT 1",
                &[p(org.as_uuid())],
            )
            .await
            .map_err(|e| hipaa(backend(e)))?;
        match row {
            Some(r) => Ok(Some(r.doc::<AuditEntry>(0).map_err(hipaa)?.head())),
            None => Ok(None),
        }
    }
}

/// The room, or not found: every deal-room call checks its room first.
async fn room_in(tx: &mut Tx, org: OrgId, id: DealRoomId) -> Result<DealRoom, Fail> {
    match tx
        .fetch_optional("SELECT body FROM deal_rooms WHERE org_id = ? AND id = ?", &[p(org.as_uuid()), p(id.as_uuid())])
        .await?
    {
        Some(row) => Ok(row.doc(0)?),
        None => Err(Error::not_found("deal room", id).into()),
    }
}

impl SqlStore {
    async fn read_room<T>(
        &self,
        org: OrgId,
        id: DealRoomId,
        sql: &str,
        extra: &[Param],
        read: impl FnOnce(Vec<crate::db::Row>) -> Result<T> + Send,
    ) -> Result<T> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        room_in(&mut tx, org, id).await.map_err(|f| match f {
            Fail::Sql(e) => backend(e),
            Fail::Domain(e) => e,
        })?;
        let mut params = vec![p(org.as_uuid()), p(id.as_uuid())];
        params.extend(extra.iter().cloned());
        let rows = tx.fetch_all(sql, &params).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        read(rows)
    }
}

async fn write_room(tx: &mut Tx, org: OrgId, room: &DealRoom) -> Result<(), Fail> {
    let params = [
        Param::Text(enum_text(room.status)?),
        time(room.last_activity_at),
        doc(room)?,
        p(org.as_uuid()),
        p(room.id.as_uuid()),
    ];
    tx.execute("UPDATE deal_rooms SET status = ?, last_activity_at = ?, body = ? WHERE org_id = ? AND id = ?", &params)
        .await?;
    Ok(())
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
impl DealRoomStore for SqlStore {
    async fn insert_room(&self, org: OrgId, room: &DealRoom, lead: &Participant) -> Result<()> {
        if room.org_id != org {
            return Err(Error::Forbidden("the room belongs to another org".into()));
        }
        let row = [
            p(org.as_uuid()),
            p(room.id.as_uuid()),
            p(room.submission_id.as_uuid()),
            Param::Text(enum_text(room.status)?),
            time(room.last_activity_at),
            doc(room)?,
        ];
        let lead_row = [p(org.as_uuid()), p(room.id.as_uuid()), p(lead.user_id.as_uuid()), doc(lead)?];
        crate::store::write_tx!(self, |tx| {
            let by_submission = [p(org.as_uuid()), p(room.submission_id.as_uuid())];
            if tx
                .fetch_optional("SELECT id FROM deal_rooms WHERE org_id = ? AND submission_id = ?", &by_submission)
                .await?
                .is_some()
            {
                return Err(
                    Error::Conflict(format!("submission `{}` already has a deal room", room.submission_id)).into()
                );
            }
            match tx
                .execute(
                    "INSERT INTO deal_rooms (org_id, id, submission_id, status, last_activity_at, body) VALUES (?, ?, ?, ?, ?, ?)",
                    &row,
                )
                .await
            {
                Ok(_) => {}
                Err(e) if is_duplicate(&e) => {
                    return Err(Error::Conflict(format!("deal room `{}` or its submission's room already exists", room.id)).into());
                }
                Err(e) => return Err(e.into()),
            }
            tx.execute(
                "INSERT INTO deal_room_participants (org_id, room_id, user_id, body) VALUES (?, ?, ?, ?)",
                &lead_row,
            )
            .await?;
            Ok(())
        })
    }

    async fn get_room(&self, org: OrgId, id: DealRoomId) -> Result<DealRoom> {
        let row = self
            .pool
            .fetch_optional(
                "SELECT body FROM deal_rooms WHERE org_id = ? AND id = ?",
                &[p(org.as_uuid()), p(id.as_uuid())],
            )
            .await
            .map_err(backend)?;
        row.ok_or_else(|| Error::not_found("deal room", id))?.doc(0)
    }

    async fn room_for_submission(&self, org: OrgId, submission: SubmissionId) -> Result<Option<DealRoom>> {
        let row = self
            .pool
            .fetch_optional(
                "SELECT body FROM deal_rooms WHERE org_id = ? AND submission_id = ?",
                &[p(org.as_uuid()), p(submission.as_uuid())],
            )
            .await
            .map_err(backend)?;
        row.map(|r| r.doc(0)).transpose()
    }

    async fn list_rooms(&self, org: OrgId, status: RoomStatus, page: Page) -> Result<Vec<DealRoom>> {
        let [l, o] = limit(page);
        let rows = self
            .pool
            .fetch_all(
                "SELECT body FROM deal_rooms WHERE org_id = ? AND status = ? ORDER BY last_activity_at DESC, id DESC LIMIT ? OFFSET ?",
                &[p(org.as_uuid()), Param::Text(enum_text(status)?), l, o],
            )
            .await
            .map_err(backend)?;
        docs(&rows)
    }

    async fn update_room(&self, org: OrgId, room: &DealRoom) -> Result<()> {
        crate::store::write_tx!(self, |tx| {
            room_in(&mut tx, org, room.id).await?;
            write_room(&mut tx, org, room).await
        })
    }

    async fn upsert_participant(&self, org: OrgId, participant: &Participant) -> Result<()> {
        let keys = [p(org.as_uuid()), p(participant.room_id.as_uuid()), p(participant.user_id.as_uuid())];
        let body = doc(participant)?;
        crate::store::write_tx!(self, |tx| {
            room_in(&mut tx, org, participant.room_id).await?;
            let mut params = vec![body.clone()];
            params.extend(keys.iter().cloned());
            if tx
                .execute(
                    "UPDATE deal_room_participants SET body = ? WHERE org_id = ? AND room_id = ? AND user_id = ?",
                    &params,
                )
                .await?
                == 0
            {
                let mut row = keys.to_vec();
                row.push(body.clone());
                tx.execute(
                    "INSERT INTO deal_room_participants (org_id, room_id, user_id, body) VALUES (?, ?, ?, ?)",
                    &row,
                )
                .await?;
            }
            Ok(())
        })
    }

    async fn participants(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Participant>> {
        self.read_room(
            org,
            room,
            "SELECT body FROM deal_room_participants WHERE org_id = ? AND room_id = ? ORDER BY user_id",
            &[],
            |rows| docs(&rows),
        )
        .await
    }

    async fn touch_participant(&self, org: OrgId, room: DealRoomId, user: UserId, at: DateTime<Utc>) -> Result<()> {
        let keys = [p(org.as_uuid()), p(room.as_uuid()), p(user.as_uuid())];
        let read = format!(
            "SELECT body FROM deal_room_participants WHERE org_id = ? AND room_id = ? AND user_id = ?{}",
            self.pool.dialect().for_update()
        );
        crate::store::write_tx!(self, |tx| {
            room_in(&mut tx, org, room).await?;
            if let Some(row) = tx.fetch_optional(&read, &keys).await? {
                let mut participant: Participant = row.doc(0)?;
                participant.last_seen_at = Some(at);
                let mut params = vec![doc(&participant)?];
                params.extend(keys.iter().cloned());
                tx.execute(
                    "UPDATE deal_room_participants SET body = ? WHERE org_id = ? AND room_id = ? AND user_id = ?",
                    &params,
                )
                .await?;
            }
            Ok(())
        })
    }

    async fn insert_message(&self, org: OrgId, message: &ChatMessage) -> Result<()> {
        let row = [
            p(org.as_uuid()),
            p(message.room_id.as_uuid()),
            p(message.id.as_uuid()),
            time(message.created_at),
            doc(message)?,
        ];
        let insert = format!(
            "INSERT INTO deal_room_messages (org_id, room_id, id, created_at, body) VALUES (?, ?, ?, ?, ?){}",
            self.pool.dialect().on_conflict_nothing("org_id")
        );
        crate::store::write_tx!(self, |tx| {
            let mut room = room_in(&mut tx, org, message.room_id).await?;
            // the same message again (at-least-once delivery) changes nothing
            if tx.execute(&insert, &row).await? == 0 {
                return Ok(());
            }
            if message.created_at > room.last_activity_at {
                room.last_activity_at = message.created_at;
                write_room(&mut tx, org, &room).await?;
            }
            Ok(())
        })
    }

    async fn messages(&self, org: OrgId, room: DealRoomId, page: Page) -> Result<Vec<ChatMessage>> {
        self.read_room(
            org,
            room,
            "SELECT body FROM deal_room_messages WHERE org_id = ? AND room_id = ? ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
            &limit(page),
            |rows| docs(&rows),
        )
        .await
    }

    async fn upsert_annotation(&self, org: OrgId, annotation: &Annotation) -> Result<()> {
        let keys = [p(org.as_uuid()), p(annotation.room_id.as_uuid()), p(annotation.id.as_uuid())];
        let body = doc(annotation)?;
        crate::store::write_tx!(self, |tx| {
            room_in(&mut tx, org, annotation.room_id).await?;
            let mut params = vec![body.clone()];
            params.extend(keys.iter().cloned());
            if tx
                .execute(
                    "UPDATE deal_room_annotations SET body = ? WHERE org_id = ? AND room_id = ? AND id = ?",
                    &params,
                )
                .await?
                == 0
            {
                let next = tx
                    .fetch_optional(
                        "SELECT COUNT(*) FROM deal_room_annotations WHERE org_id = ? AND room_id = ?",
                        &keys[..2],
                    )
                    .await?
                    .map_or(Ok(0), |r| r.int(0))?;
                let mut row = keys.to_vec();
                row.push(Param::Int(next));
                row.push(body.clone());
                tx.execute(
                    "INSERT INTO deal_room_annotations (org_id, room_id, id, seq, body) VALUES (?, ?, ?, ?, ?)",
                    &row,
                )
                .await?;
            }
            Ok(())
        })
    }

    async fn annotations(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Annotation>> {
        self.read_room(
            org,
            room,
            "SELECT body FROM deal_room_annotations WHERE org_id = ? AND room_id = ? ORDER BY seq",
            &[],
            |rows| docs(&rows),
        )
        .await
    }

    async fn save_document(&self, org: OrgId, room: DealRoomId, update: &[u8]) -> Result<()> {
        let keys = [p(org.as_uuid()), p(room.as_uuid())];
        let row = [p(org.as_uuid()), p(room.as_uuid()), Param::Bytes(update.to_vec())];
        crate::store::write_tx!(self, |tx| {
            room_in(&mut tx, org, room).await?;
            tx.execute("DELETE FROM deal_room_notepad WHERE org_id = ? AND room_id = ?", &keys).await?;
            tx.execute("INSERT INTO deal_room_notepad (org_id, room_id, seq, part) VALUES (?, ?, 0, ?)", &row).await?;
            Ok(())
        })
    }

    async fn append_document(&self, org: OrgId, room: DealRoomId, update: &[u8]) -> Result<()> {
        let keys = [p(org.as_uuid()), p(room.as_uuid())];
        crate::store::write_tx!(self, |tx| {
            room_in(&mut tx, org, room).await?;
            let next = tx
                .fetch_optional(
                    "SELECT COALESCE(MAX(seq) + 1, 0) FROM deal_room_notepad WHERE org_id = ? AND room_id = ?",
                    &keys,
                )
                .await?
                .map_or(Ok(0), |r| r.int(0))?;
            let row = [p(org.as_uuid()), p(room.as_uuid()), Param::Int(next), Param::Bytes(update.to_vec())];
            tx.execute("INSERT INTO deal_room_notepad (org_id, room_id, seq, part) VALUES (?, ?, ?, ?)", &row).await?;
            Ok(())
        })
    }

    async fn load_document(&self, org: OrgId, room: DealRoomId) -> Result<Vec<Vec<u8>>> {
        self.read_room(
            org,
            room,
            "SELECT part FROM deal_room_notepad WHERE org_id = ? AND room_id = ? ORDER BY seq",
            &[],
            |rows| rows.iter().map(|r| r.bytes(0)).collect(),
        )
        .await
    }
}

/// What a retention run removed: one org's whole month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurgedMonth {
    /// The org.
    pub org: OrgId,
    /// The month removed.
    pub month: openinsure_hipaa::AuditMonth,
    /// How many entries it held.
    pub entries: u64,
}

impl SqlStore {
    /// The PHI audit log's retention: removes every org's whole months older than the retention
    /// period on `today` (seven years, [`openinsure_hipaa::audit::may_purge`]), each in one
    /// transaction that also records the removal in `audit_purges` (org, month, entries, when).
    /// Never part of a month; never a month inside the period. Run it as a database user allowed
    /// to delete from `audit_log` (the application's user is not).
    ///
    /// Its first statement crosses orgs by design (which months exist, of every org); every
    /// delete names its org.
    pub async fn purge_audit_months(&self, today: chrono::NaiveDate, now: DateTime<Utc>) -> Result<Vec<PurgedMonth>> {
        let rows = self
            .pool
            .fetch_all(
                "SELECT DISTINCT org_id, month FROM audit_log WHERE month < ?",
                &[Param::Text(openinsure_hipaa::audit::retained_from(today).to_string())],
            )
            .await
            .map_err(backend)?;
        let mut purged = Vec::new();
        for r in &rows {
            let org = OrgId::from_uuid(r.uuid(0)?);
            let month: openinsure_hipaa::AuditMonth =
                r.text(1)?.parse().map_err(|_| Error::Backend("a stored audit month does not read".into()))?;
            if !openinsure_hipaa::audit::may_purge(month, today) {
                continue;
            }
            let keys = [p(org.as_uuid()), Param::Text(month.to_string())];
            let entries = crate::store::write_tx!(self, |tx| {
                let n = tx.execute("DELETE FROM audit_log WHERE org_id = ? AND month = ?", &keys).await?;
                let record = [
                    p(org.as_uuid()),
                    Param::Text(month.to_string()),
                    Param::Int(i64::try_from(n).unwrap_or(i64::MAX)),
                    time(now),
                ];
                tx.execute("INSERT INTO audit_purges (org_id, month, entries, purged_at) VALUES (?, ?, ?, ?)", &record)
                    .await?;
                Ok(n)
            })?;
            purged.push(PurgedMonth { org, month, entries });
        }
        Ok(purged)
    }
}
