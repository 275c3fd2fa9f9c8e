//! Layer 4, the PHI audit log: append-only, hash-chained per org, grouped by month.
//!
//! Every PHI read, write or redaction appends an [`AuditEntry`]. The store assigns the entry's
//! `sequence` (1, 2, 3, ... per org) and chains it to the org's previous entry with [`seal`],
//! atomically, so concurrent appends still form one unbroken chain. The port, [`PhiAuditLog`], has
//! no update and no delete method; [`verify`] and its siblings find an entry that was edited,
//! removed, inserted or reordered after the fact, and say at which sequence number.
//!
//! # The hash
//!
//! `hash = SHA-256(canonical_bytes)`, where [`AuditEntry::canonical_bytes`] is, in this order:
//!
//! | part | encoding |
//! |---|---|
//! | domain tag | string: [`HASH_DOMAIN`], `openinsure.phi_audit.v1` |
//! | `prev_hash` | 32 raw bytes ([`AuditHash::GENESIS`], all zero, for sequence 1) |
//! | `sequence` | u64, big-endian |
//! | `org_id`, `user_id` | 16 raw UUID bytes each |
//! | `action` | string (`read`, `write`, `redact`) |
//! | `table` | string |
//! | `record_id` | 16 raw UUID bytes |
//! | `fields` | u32 big-endian count, then each as a string, in the order given |
//! | `ip_address` | one byte: 0 none, 4 then 4 bytes (IPv4), 6 then 16 bytes (IPv6) |
//! | `user_agent` | one byte: 0 none, 1 then the string |
//! | `at` | i64 big-endian Unix seconds, then u32 big-endian nanoseconds (UTC) |
//! | `month` | string (`2026-11`) |
//!
//! A "string" is its UTF-8 length as a u32 big-endian, then its bytes. Every part has a fixed
//! width or is length-delimited, so no two different entries share an encoding. A new encoding
//! gets a new domain tag.
//!
//! # Time and months
//!
//! The draft carries its time (the domain does no IO). An entry is never earlier than the one
//! before it: [`seal`] records a draft stamped earlier than the org's head (clock skew between
//! hosts) at the head's time. So months are monotonic along the chain, each month is a contiguous
//! run of sequence numbers, and purging whole months past retention ([`purgeable_months`]) removes
//! a prefix of the chain: what remains verifies from its first entry with [`verify_after`] given
//! the last purged head, or with [`verify_links`].

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use openinsure_core::ids::{OrgId, UserId};
use openinsure_core::store::{MAX_PAGE_LIMIT, Page};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The domain tag at the start of every hashed encoding; a new encoding gets a new tag.
pub const HASH_DOMAIN: &str = "openinsure.phi_audit.v1";

/// How long the audit log is kept: 7 years, as the seed requires.
pub const RETENTION_YEARS: i32 = 7;

/// The most fields one entry may name.
pub const MAX_FIELDS: usize = 256;

/// The longest table name, field name or user agent (in bytes) an entry may carry.
pub const MAX_TEXT_BYTES: usize = 1024;

/// What was done to the PHI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// PHI values were shown to the user.
    Read,
    /// PHI values were written.
    Write,
    /// PHI fields were masked before the record was shown.
    Redact,
}

impl AuditAction {
    /// The wire name (`read`, `write`, `redact`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Read => "read",
            AuditAction::Write => "write",
            AuditAction::Redact => "redact",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "read" => Ok(AuditAction::Read),
            "write" => Ok(AuditAction::Write),
            "redact" => Ok(AuditAction::Redact),
            _ => Err(Error::invalid("action", format!("`{s}` is not read, write or redact"))),
        }
    }
}

/// A SHA-256 hash of an entry; shown and serialized as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct AuditHash([u8; 32]);

impl AuditHash {
    /// The `prev_hash` of an org's first entry: 32 zero bytes.
    pub const GENESIS: AuditHash = AuditHash([0; 32]);

    /// Wraps raw bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        AuditHash(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for AuditHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for AuditHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditHash({self})")
    }
}

impl FromStr for AuditHash {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("hash", format!("`{s}` is not 64 hex digits"));
        if s.len() != 64 || !s.is_ascii() {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = s.get(i * 2..i * 2 + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(AuditHash(out))
    }
}

impl Serialize for AuditHash {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuditHash {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A calendar month (UTC), the audit log's partition: shown as `2026-11`. Years 0 to 9999.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditMonth {
    year: u16,
    month: u8,
}

impl AuditMonth {
    /// The earliest month.
    pub const MIN: AuditMonth = AuditMonth { year: 0, month: 1 };
    /// The latest month.
    pub const MAX: AuditMonth = AuditMonth { year: 9999, month: 12 };

    /// A month, when `year` is 0..=9999 and `month` is 1..=12.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        let year = u16::try_from(year).ok().filter(|y| *y <= 9999)?;
        let month = u8::try_from(month).ok().filter(|m| (1..=12).contains(m))?;
        Some(AuditMonth { year, month })
    }

    /// The month `at` falls in (UTC), when its year is 0..=9999.
    pub fn containing(at: DateTime<Utc>) -> Option<Self> {
        AuditMonth::new(at.year(), at.month())
    }

    /// The month `date` falls in, when its year is 0..=9999.
    pub fn of_date(date: NaiveDate) -> Option<Self> {
        AuditMonth::new(date.year(), date.month())
    }

    /// The year.
    pub fn year(self) -> i32 {
        i32::from(self.year)
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        u32::from(self.month)
    }

    /// The next month (`None` after [`AuditMonth::MAX`]).
    pub fn next(self) -> Option<Self> {
        if self.month == 12 {
            AuditMonth::new(self.year() + 1, 1)
        } else {
            AuditMonth::new(self.year(), self.month() + 1)
        }
    }

    /// The month before (`None` before [`AuditMonth::MIN`]).
    pub fn prev(self) -> Option<Self> {
        if self.month == 1 {
            AuditMonth::new(self.year() - 1, 12)
        } else {
            AuditMonth::new(self.year(), self.month() - 1)
        }
    }
}

impl fmt::Display for AuditMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for AuditMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuditMonth({self})")
    }
}

impl FromStr for AuditMonth {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("month", format!("`{s}` is not a month like `2026-11`"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        AuditMonth::new(y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?).ok_or_else(bad)
    }
}

impl Serialize for AuditMonth {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AuditMonth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The months `first..=last` (empty when `first > last`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MonthRange {
    /// The first month, included.
    pub first: AuditMonth,
    /// The last month, included.
    pub last: AuditMonth,
}

impl MonthRange {
    /// The months `first..=last`.
    pub fn new(first: AuditMonth, last: AuditMonth) -> Self {
        MonthRange { first, last }
    }

    /// One month.
    pub fn month(month: AuditMonth) -> Self {
        MonthRange { first: month, last: month }
    }

    /// Every month.
    pub fn all() -> Self {
        MonthRange { first: AuditMonth::MIN, last: AuditMonth::MAX }
    }

    /// True when `month` is in the range.
    pub fn contains(&self, month: AuditMonth) -> bool {
        self.first <= month && month <= self.last
    }
}

/// What a caller asks the log to record; the store makes it an [`AuditEntry`] with [`seal`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditDraft {
    /// The user who read, wrote or was shown the redacted record.
    pub user_id: UserId,
    /// What was done.
    pub action: AuditAction,
    /// The record's table.
    pub table: String,
    /// The record.
    pub record_id: Uuid,
    /// The PHI columns involved (at least one).
    pub fields: Vec<String>,
    /// The client's IP address, when known.
    pub ip_address: Option<IpAddr>,
    /// The client's user agent, when known.
    pub user_agent: Option<String>,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl AuditDraft {
    /// A draft without IP address or user agent.
    pub fn new<F: Into<String>>(
        user_id: UserId,
        action: AuditAction,
        table: impl Into<String>,
        record_id: Uuid,
        fields: impl IntoIterator<Item = F>,
        at: DateTime<Utc>,
    ) -> Self {
        AuditDraft {
            user_id,
            action,
            table: table.into(),
            record_id,
            fields: fields.into_iter().map(Into::into).collect(),
            ip_address: None,
            user_agent: None,
            at,
        }
    }

    /// The same draft, with the client's IP address.
    pub fn with_ip(mut self, ip: IpAddr) -> Self {
        self.ip_address = Some(ip);
        self
    }

    /// The same draft, with the client's user agent.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Refuses a draft with no table, no fields, a blank or oversized name, or a time outside the
    /// years 0 to 9999.
    pub fn validate(&self) -> Result<()> {
        let name_ok = |s: &str| !s.trim().is_empty() && s.len() <= MAX_TEXT_BYTES;
        if !name_ok(&self.table) {
            return Err(Error::invalid("table", "must be a non-empty name"));
        }
        if self.fields.is_empty() {
            return Err(Error::invalid("fields", "must name at least one phi field"));
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(Error::invalid("fields", format!("names more than {MAX_FIELDS} fields")));
        }
        if let Some(f) = self.fields.iter().find(|f| !name_ok(f)) {
            return Err(Error::invalid("fields", format!("`{f}` is not a field name")));
        }
        if self.user_agent.as_ref().is_some_and(|ua| ua.len() > MAX_TEXT_BYTES) {
            return Err(Error::invalid("user_agent", format!("is longer than {MAX_TEXT_BYTES} bytes")));
        }
        if AuditMonth::containing(self.at).is_none() {
            return Err(Error::invalid("at", "must fall in the years 0 to 9999"));
        }
        Ok(())
    }
}

/// One entry of an org's PHI audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// The org whose chain this is.
    pub org_id: OrgId,
    /// The position in the org's chain: 1, 2, 3, ...
    pub sequence: u64,
    /// The month partition (`2026-11`), the month of `at`.
    pub month: AuditMonth,
    /// The user.
    pub user_id: UserId,
    /// What was done.
    pub action: AuditAction,
    /// The record's table.
    pub table: String,
    /// The record.
    pub record_id: Uuid,
    /// The PHI columns involved.
    pub fields: Vec<String>,
    /// The client's IP address, when known.
    pub ip_address: Option<IpAddr>,
    /// The client's user agent, when known.
    pub user_agent: Option<String>,
    /// When it happened (never earlier than the entry before).
    pub at: DateTime<Utc>,
    /// The hash of the entry before ([`AuditHash::GENESIS`] for sequence 1).
    pub prev_hash: AuditHash,
    /// SHA-256 over [`AuditEntry::canonical_bytes`].
    pub hash: AuditHash,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Drafts are validated to short strings; a longer one (from a tampered store) saturates the
    // length, which changes the hash, which verification then reports.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl AuditEntry {
    /// The canonical encoding the hash is computed over (see the [module docs](self)): every
    /// field except `hash` itself.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        put_str(&mut out, HASH_DOMAIN);
        out.extend_from_slice(self.prev_hash.as_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(self.org_id.as_uuid().as_bytes());
        out.extend_from_slice(self.user_id.as_uuid().as_bytes());
        put_str(&mut out, self.action.as_str());
        put_str(&mut out, &self.table);
        out.extend_from_slice(self.record_id.as_bytes());
        let count = u32::try_from(self.fields.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for f in &self.fields {
            put_str(&mut out, f);
        }
        match self.ip_address {
            None => out.push(0),
            Some(IpAddr::V4(ip)) => {
                out.push(4);
                out.extend_from_slice(&ip.octets());
            }
            Some(IpAddr::V6(ip)) => {
                out.push(6);
                out.extend_from_slice(&ip.octets());
            }
        }
        match &self.user_agent {
            None => out.push(0),
            Some(ua) => {
                out.push(1);
                put_str(&mut out, ua);
            }
        }
        out.extend_from_slice(&self.at.timestamp().to_be_bytes());
        out.extend_from_slice(&self.at.timestamp_subsec_nanos().to_be_bytes());
        put_str(&mut out, &self.month.to_string());
        out
    }

    /// The hash the entry should carry: SHA-256 over [`AuditEntry::canonical_bytes`].
    pub fn compute_hash(&self) -> AuditHash {
        AuditHash(Sha256::digest(self.canonical_bytes()).into())
    }

    /// The chain's head if this is its last entry.
    pub fn head(&self) -> AuditHead {
        AuditHead { sequence: self.sequence, hash: self.hash, at: self.at }
    }
}

/// The last entry of an org's chain, as far as chaining the next one needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditHead {
    /// Its sequence number.
    pub sequence: u64,
    /// Its hash.
    pub hash: AuditHash,
    /// Its time.
    pub at: DateTime<Utc>,
}

/// Makes the next entry of `org`'s chain from a draft: validates the draft, assigns the sequence
/// after `head` (1 when the chain is empty), records a time no earlier than the head's, sets the
/// month, links `prev_hash` and computes `hash`. A store calls it while holding whatever makes the
/// append atomic (a lock, a transaction on the org's head row) and stores the result.
pub fn seal(org: OrgId, head: Option<&AuditHead>, draft: &AuditDraft) -> Result<AuditEntry> {
    draft.validate()?;
    let (sequence, prev_hash, at) = match head {
        None => (1, AuditHash::GENESIS, draft.at),
        Some(h) => (
            h.sequence.checked_add(1).ok_or_else(|| Error::Backend("audit sequence exhausted".into()))?,
            h.hash,
            draft.at.max(h.at),
        ),
    };
    let month = AuditMonth::containing(at).ok_or_else(|| Error::invalid("at", "must fall in the years 0 to 9999"))?;
    let mut entry = AuditEntry {
        org_id: org,
        sequence,
        month,
        user_id: draft.user_id,
        action: draft.action,
        table: draft.table.clone(),
        record_id: draft.record_id,
        fields: draft.fields.clone(),
        ip_address: draft.ip_address,
        user_agent: draft.user_agent.clone(),
        at,
        prev_hash,
        hash: AuditHash::GENESIS,
    };
    entry.hash = entry.compute_hash();
    Ok(entry)
}

/// Where and how a chain fails to verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TamperError {
    /// The entry's contents do not match its hash, or its month is not its time's.
    #[error("entry {sequence} was edited: its contents do not match its hash")]
    Edited {
        /// The entry.
        sequence: u64,
    },
    /// The entry at this position does not carry the expected sequence number.
    #[error("expected entry {expected}, found entry {found}: an entry was removed, inserted or reordered")]
    Sequence {
        /// The sequence number due at this position.
        expected: u64,
        /// The one found there.
        found: u64,
    },
    /// The entry's `prev_hash` is not the hash of the entry before it.
    #[error("entry {sequence} does not link to the entry before it")]
    BrokenLink {
        /// The entry.
        sequence: u64,
    },
    /// The entry belongs to another org's chain.
    #[error("entry {sequence} belongs to another org")]
    OtherOrg {
        /// The entry.
        sequence: u64,
    },
    /// The chain does not end at the head it is checked against.
    #[error(
        "the chain ends at entry {found}, its head is entry {expected}: entries were removed or replaced at the end"
    )]
    Head {
        /// The head's sequence number.
        expected: u64,
        /// The last sequence number found (0 for none).
        found: u64,
    },
}

impl TamperError {
    /// The sequence number where the chain breaks.
    pub fn sequence(&self) -> u64 {
        match *self {
            TamperError::Edited { sequence }
            | TamperError::BrokenLink { sequence }
            | TamperError::OtherOrg { sequence } => sequence,
            TamperError::Sequence { expected, .. } => expected,
            TamperError::Head { expected, found } => {
                if found < expected {
                    found.saturating_add(1)
                } else {
                    expected
                }
            }
        }
    }
}

/// Checks `entries` link to each other (and to `anchor`, when given), each matches its hash and
/// month, and all belong to one org.
fn check(anchor: Option<(u64, AuditHash)>, entries: &[AuditEntry]) -> std::result::Result<(), TamperError> {
    let Some(first) = entries.first() else { return Ok(()) };
    let mut prev = anchor;
    for e in entries {
        let expected = match prev {
            Some((seq, _)) => seq.saturating_add(1),
            None => e.sequence,
        };
        if e.org_id != first.org_id {
            return Err(TamperError::OtherOrg { sequence: e.sequence });
        }
        if e.sequence != expected {
            return Err(TamperError::Sequence { expected, found: e.sequence });
        }
        if e.compute_hash() != e.hash || AuditMonth::containing(e.at) != Some(e.month) {
            return Err(TamperError::Edited { sequence: e.sequence });
        }
        if let Some((_, hash)) = prev
            && e.prev_hash != hash
        {
            return Err(TamperError::BrokenLink { sequence: e.sequence });
        }
        prev = Some((e.sequence, e.hash));
    }
    Ok(())
}

/// Verifies a whole chain, from its first entry: sequence 1 linked to [`AuditHash::GENESIS`],
/// each entry matching its hash, each linked to the one before, one org throughout. An empty
/// slice verifies. Entries removed from the very end are only found against a head kept apart
/// from the entries: see [`verify_to_head`].
pub fn verify(entries: &[AuditEntry]) -> std::result::Result<(), TamperError> {
    check(Some((0, AuditHash::GENESIS)), entries)
}

/// Verifies a chain that continues after `anchor` (an entry known good, for example the last one
/// of a month already verified or purged).
pub fn verify_after(anchor: &AuditHead, entries: &[AuditEntry]) -> std::result::Result<(), TamperError> {
    check(Some((anchor.sequence, anchor.hash)), entries)
}

/// Verifies a whole chain ([`verify`]) and that it ends exactly at `head`, so entries removed or
/// replaced at the end are found too.
pub fn verify_to_head(entries: &[AuditEntry], head: &AuditHead) -> std::result::Result<(), TamperError> {
    verify(entries)?;
    let last = entries.last().map(AuditEntry::head);
    match last {
        Some(l) if l.sequence == head.sequence && l.hash == head.hash => Ok(()),
        Some(l) if l.sequence == head.sequence => Err(TamperError::Edited { sequence: l.sequence }),
        l => Err(TamperError::Head { expected: head.sequence, found: l.map_or(0, |l| l.sequence) }),
    }
}

/// Verifies a run of entries cut from anywhere in a chain (a month, a page): each matches its
/// hash and links to the one before it. Says nothing about what comes before the first or after
/// the last; use [`verify`], [`verify_after`] or [`verify_to_head`] where possible.
pub fn verify_links(entries: &[AuditEntry]) -> std::result::Result<(), TamperError> {
    check(None, entries)
}

/// The first month that must be kept on `today` (UTC): months strictly before it are entirely
/// older than [`RETENTION_YEARS`] and may be purged. On 2026-12-01, months up to 2019-11 may go
/// (their last entry is 7 years old that day); on 2026-11-30, 2019-11 must stay.
pub fn retained_from(today: NaiveDate) -> AuditMonth {
    AuditMonth::new(today.year() - RETENTION_YEARS, today.month()).unwrap_or(AuditMonth::MIN)
}

/// True when the `month` partition may be purged on `today`.
pub fn may_purge(month: AuditMonth, today: NaiveDate) -> bool {
    month < retained_from(today)
}

/// The months of `months` that may be purged on `today`, sorted and deduplicated. This only
/// says which; deleting them is an operational task outside the [`PhiAuditLog`] port, which has
/// no delete.
pub fn purgeable_months(months: impl IntoIterator<Item = AuditMonth>, today: NaiveDate) -> Vec<AuditMonth> {
    let mut out: Vec<_> = months.into_iter().filter(|m| may_purge(*m, today)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The PHI audit log of every org: append-only, no update, no delete.
///
/// Contract (checked by `testkit::phi_audit_log`, and for backends whose handle is `Clone` by
/// `testkit::parallel_appends` from several threads; feature `testkit`): `append` makes the entry with
/// [`seal`] against the org's current head and stores it atomically, so concurrent appends form
/// one chain with no gap and no fork; an invalid draft is refused with [`Error::Invalid`] and
/// nothing is stored; every read is scoped to the org passed, another org's entries are never
/// returned.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait PhiAuditLog: openinsure_core::ports::MaybeSendSync {
    /// Appends an entry to `org`'s chain and returns it as stored.
    async fn append(&self, org: OrgId, draft: &AuditDraft) -> Result<AuditEntry>;

    /// `org`'s entries whose month is in `months`, by sequence, paged.
    async fn entries(&self, org: OrgId, months: MonthRange, page: Page) -> Result<Vec<AuditEntry>>;

    /// `org`'s last entry, `None` before the first append.
    async fn head(&self, org: OrgId) -> Result<Option<AuditHead>>;
}

/// Conveniences over any [`PhiAuditLog`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait PhiAuditLogExt: PhiAuditLog {
    /// Every entry of `org` up to its head as read first, page by page.
    async fn chain(&self, org: OrgId) -> Result<(Option<AuditHead>, Vec<AuditEntry>)> {
        let head = self.head(org).await?;
        let Some(h) = head else { return Ok((None, Vec::new())) };
        let want = usize::try_from(h.sequence).unwrap_or(usize::MAX);
        let mut all: Vec<AuditEntry> = Vec::new();
        let mut offset = 0u32;
        while all.len() < want {
            let page = self.entries(org, MonthRange::all(), Page::new(MAX_PAGE_LIMIT, offset)).await?;
            let n = u32::try_from(page.len()).unwrap_or(u32::MAX);
            all.extend(page);
            if n < MAX_PAGE_LIMIT {
                break;
            }
            offset = offset.saturating_add(n);
        }
        all.truncate(want);
        Ok((head, all))
    }

    /// Reads `org`'s whole chain and verifies it against its head ([`verify_to_head`]); returns
    /// the number of entries verified.
    async fn verify_chain(&self, org: OrgId) -> Result<u64> {
        let (head, entries) = self.chain(org).await?;
        match head {
            None => Ok(0),
            Some(h) => {
                verify_to_head(&entries, &h)?;
                Ok(h.sequence)
            }
        }
    }
}

impl<T: PhiAuditLog + ?Sized> PhiAuditLogExt for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(n))
    }

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    fn draft(n: u128, when: DateTime<Utc>) -> AuditDraft {
        AuditDraft::new(
            UserId::from_uuid(Uuid::from_u128(7)),
            AuditAction::Read,
            "claims",
            Uuid::from_u128(n),
            ["claimant_name", "claimant_dob"],
            when,
        )
    }

    fn chain(n: u128) -> Vec<AuditEntry> {
        let mut out: Vec<AuditEntry> = Vec::new();
        for i in 0..n {
            let when = at(2026, 10 + u32::try_from(i / 3).unwrap(), 1 + u32::try_from(i).unwrap());
            let e = seal(org(1), out.last().map(AuditEntry::head).as_ref(), &draft(i, when)).unwrap();
            out.push(e);
        }
        out
    }

    #[test]
    fn the_encoding_is_frozen() {
        let e = seal(
            org(1),
            None,
            &draft(2, at(2026, 11, 22)).with_ip("192.0.2.7".parse().unwrap()).with_user_agent("openinsure-test/1"),
        )
        .unwrap();
        assert_eq!((e.sequence, e.prev_hash, e.month.to_string()), (1, AuditHash::GENESIS, "2026-11".to_owned()));
        // A change here breaks every stored chain: bump HASH_DOMAIN instead.
        assert_eq!(e.hash.to_string(), FROZEN_HASH);
        let digest: [u8; 32] = Sha256::digest(e.canonical_bytes()).into();
        assert_eq!(e.hash, AuditHash::from_bytes(digest));
    }

    /// Computed independently from the documented encoding (Python's `hashlib`, `struct`).
    const FROZEN_HASH: &str = "8633a39ee53028518fc133beb73f45bf3c6cdb2b770e26b44a115ab5e050be02";

    #[test]
    fn seal_chains_and_clamps_time() {
        let c = chain(5);
        assert_eq!(c.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert!(c.windows(2).all(|w| w[1].prev_hash == w[0].hash));
        verify(&c).unwrap();
        verify_to_head(&c, &c[4].head()).unwrap();
        let early = seal(org(1), Some(&c[4].head()), &draft(9, at(2020, 1, 1))).unwrap();
        assert_eq!((early.at, early.month), (c[4].at, c[4].month));
    }

    #[test]
    fn refuses_bad_drafts() {
        let mut d = draft(1, at(2026, 1, 1));
        d.fields.clear();
        assert!(matches!(seal(org(1), None, &d), Err(Error::Invalid { field: "fields", .. })));
        let mut d = draft(1, at(2026, 1, 1));
        d.table = " ".into();
        assert!(matches!(seal(org(1), None, &d), Err(Error::Invalid { field: "table", .. })));
        let mut d = draft(1, at(2026, 1, 1));
        d.fields.push(String::new());
        assert!(matches!(seal(org(1), None, &d), Err(Error::Invalid { field: "fields", .. })));
        let d = draft(1, at(2026, 1, 1)).with_user_agent("x".repeat(MAX_TEXT_BYTES + 1));
        assert!(matches!(seal(org(1), None, &d), Err(Error::Invalid { field: "user_agent", .. })));
        let d = draft(1, Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap());
        assert!(matches!(seal(org(1), None, &d), Err(Error::Invalid { field: "at", .. })));
        let head = AuditHead { sequence: u64::MAX, hash: AuditHash::GENESIS, at: at(2026, 1, 1) };
        assert!(matches!(seal(org(1), Some(&head), &draft(1, at(2026, 1, 1))), Err(Error::Backend(_))));
    }

    #[test]
    fn finds_an_edit() {
        let mut c = chain(6);
        c[2].fields.push("members.ssn".into());
        assert_eq!(verify(&c), Err(TamperError::Edited { sequence: 3 }));
        let mut c = chain(6);
        c[3].month = AuditMonth::new(2020, 1).unwrap();
        assert_eq!(verify(&c).unwrap_err().sequence(), 4);
        // edited and re-hashed: the next entry no longer links
        let mut c = chain(6);
        c[1].user_agent = Some("forged".into());
        c[1].hash = c[1].compute_hash();
        assert_eq!(verify(&c), Err(TamperError::BrokenLink { sequence: 3 }));
        // the last one edited and re-hashed: only the head finds it
        let mut c = chain(6);
        let head = c[5].head();
        c[5].action = AuditAction::Redact;
        c[5].hash = c[5].compute_hash();
        verify(&c).unwrap();
        assert_eq!(verify_to_head(&c, &head), Err(TamperError::Edited { sequence: 6 }));
    }

    #[test]
    fn finds_a_removal() {
        let mut c = chain(6);
        c.remove(2);
        assert_eq!(verify(&c), Err(TamperError::Sequence { expected: 3, found: 4 }));
        let mut c = chain(6);
        c.remove(0);
        assert_eq!(verify(&c).unwrap_err().sequence(), 1);
        let mut c = chain(6);
        let head = c[5].head();
        c.pop();
        verify(&c).unwrap();
        assert_eq!(verify_to_head(&c, &head), Err(TamperError::Head { expected: 6, found: 5 }));
        assert_eq!(verify_to_head(&[], &head).unwrap_err().sequence(), 1);
        // removed and every later entry renumbered and re-hashed: the head still finds it
        let mut c = chain(6);
        c.remove(2);
        for i in 2..c.len() {
            c[i].sequence -= 1;
            c[i].prev_hash = c[i - 1].hash;
            c[i].hash = c[i].compute_hash();
        }
        verify(&c).unwrap();
        assert_eq!(verify_to_head(&c, &head), Err(TamperError::Head { expected: 6, found: 5 }));
    }

    #[test]
    fn finds_an_insertion_and_a_reordering() {
        let c = chain(6);
        let mut forged = seal(org(1), Some(&c[2].head()), &draft(99, at(2026, 11, 1))).unwrap();
        let mut ins = c.clone();
        ins.insert(3, forged.clone());
        assert_eq!(verify(&ins), Err(TamperError::Sequence { expected: 5, found: 4 }));
        forged.sequence = 99;
        let mut ins = c.clone();
        ins.insert(3, forged);
        assert_eq!(verify(&ins), Err(TamperError::Sequence { expected: 4, found: 99 }));
        let mut swapped = c.clone();
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped), Err(TamperError::Sequence { expected: 2, found: 3 }));
        let mut other = c.clone();
        other[4] = seal(org(2), Some(&c[3].head()), &draft(4, c[4].at)).unwrap();
        assert_eq!(verify(&other), Err(TamperError::OtherOrg { sequence: 5 }));
    }

    #[test]
    fn segments() {
        let c = chain(9);
        verify_links(&c[3..7]).unwrap();
        verify_after(&c[2].head(), &c[3..]).unwrap();
        assert_eq!(verify_after(&c[1].head(), &c[3..]), Err(TamperError::Sequence { expected: 3, found: 4 }));
        assert_eq!(verify(&c[3..]), Err(TamperError::Sequence { expected: 1, found: 4 }));
        let mut forged = c[2].head();
        forged.hash = AuditHash::from_bytes([1; 32]);
        assert_eq!(verify_after(&forged, &c[3..]), Err(TamperError::BrokenLink { sequence: 4 }));
        verify(&[]).unwrap();
    }

    #[test]
    fn months() {
        let m: AuditMonth = "2026-11".parse().unwrap();
        assert_eq!((m.year(), m.month()), (2026, 11));
        assert_eq!(m.next().unwrap().to_string(), "2026-12");
        assert_eq!(m.next().unwrap().next().unwrap().to_string(), "2027-01");
        assert_eq!("2027-01".parse::<AuditMonth>().unwrap().prev().unwrap(), "2026-12".parse().unwrap());
        assert_eq!(AuditMonth::MAX.next(), None);
        assert_eq!(AuditMonth::MIN.prev(), None);
        for bad in ["2026-13", "2026-00", "26-11", "2026-1", "2026/11", "+026-11", "", "2026-11-01"] {
            assert!(bad.parse::<AuditMonth>().is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_value(m).unwrap(), "2026-11");
        assert_eq!(serde_json::from_value::<AuditMonth>("0007-03".into()).unwrap().to_string(), "0007-03");
        assert!(MonthRange::new(m, m.next().unwrap()).contains(m));
        assert!(!MonthRange::month(m).contains(m.next().unwrap()));
        assert!(MonthRange::all().contains(AuditMonth::MIN));
        assert_eq!(AuditMonth::containing(at(2026, 12, 31)), AuditMonth::new(2026, 12));
    }

    #[test]
    fn retention() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let m = |s: &str| s.parse::<AuditMonth>().unwrap();
        assert!(may_purge(m("2019-11"), d(2026, 12, 1)));
        assert!(!may_purge(m("2019-11"), d(2026, 11, 30)));
        assert!(!may_purge(m("2019-12"), d(2026, 12, 31)));
        assert!(may_purge(m("2019-12"), d(2027, 1, 1)));
        assert!(!may_purge(m("0001-01"), d(0, 1, 1)));
        assert_eq!(
            purgeable_months([m("2020-01"), m("2018-05"), m("2019-12"), m("2018-05"), m("2026-11")], d(2027, 1, 15)),
            [m("2018-05"), m("2019-12")]
        );
        assert_eq!(retained_from(d(2026, 11, 22)), m("2019-11"));
    }

    #[test]
    fn hashes_and_actions_round_trip() {
        let h = chain(1)[0].hash;
        assert_eq!(h.to_string().parse::<AuditHash>().unwrap(), h);
        assert_eq!(serde_json::from_value::<AuditHash>(serde_json::to_value(h).unwrap()).unwrap(), h);
        assert!("zz".parse::<AuditHash>().is_err());
        assert!("é".repeat(32).parse::<AuditHash>().is_err());
        assert!("g".repeat(64).parse::<AuditHash>().is_err());
        for a in [AuditAction::Read, AuditAction::Write, AuditAction::Redact] {
            assert_eq!(a.as_str().parse::<AuditAction>().unwrap(), a);
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
        assert!("delete".parse::<AuditAction>().is_err());
        let e = chain(1).remove(0);
        let back: AuditEntry = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.compute_hash(), e.hash);
    }
}
