//! `openinsure audit`: verify a PHI audit log chain read from a file, and write an example one.
//!
//! The file holds one org's [`AuditEntry`]s as a JSON array, in chain order, as serde serializes
//! them (what `openinsure audit example` prints). A chain that starts at sequence 1 is verified
//! from the genesis hash ([`verify`]); one that starts later (its older months purged after the
//! 7-year retention) is verified from its first entry ([`verify_links`]), and the summary says the
//! link to the purged part was not checked. Either way, entries removed from the very end are only
//! found against the org's head, so the summary prints the last hash to compare with it.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use openinsure_core::ids::{OrgId, UserId};
use openinsure_hipaa::audit::{seal, verify_links};
use openinsure_hipaa::{AuditAction, AuditDraft, AuditEntry, AuditHash, AuditMonth, TamperError, verify};
use uuid::Uuid;

/// Reads the JSON array of [`AuditEntry`]s at `path` and verifies it as one org's chain.
///
/// On success, a one-paragraph summary: how many entries, the org, the first and last sequence
/// numbers, the head hash and the months covered. On failure, a message naming the file, and for a
/// broken chain the sequence number where it breaks and how (edited; removed, inserted or
/// reordered; a broken link; another org's entry).
pub fn verify_file(path: &Path) -> Result<String, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    verify_text(&name, &text)
}

/// [`verify_file`] on the contents `text` of the file called `name`.
fn verify_text(name: &str, text: &str) -> Result<String, String> {
    let entries: Vec<AuditEntry> = openinsure_core::json::from_str(text, 16)
        .map_err(|e| format!("{name}: not a JSON array of PHI audit log entries: {e}"))?;
    verify_entries(name, &entries)
}

/// Reads org `org`'s chain from the system of record at `database` and verifies it there, as
/// [`verify_file`] does a file's.
pub fn verify_database(database: &crate::serve::Database, org: &str) -> Result<String, String> {
    use openinsure_hipaa::PhiAuditLog as _;
    use openinsure_hipaa::audit::MonthRange;
    let org: OrgId = org.parse().map_err(|_| format!("--org: `{org}` is not a valid id"))?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let store = database.open(false).await.map_err(|e| e.0)?;
        let mut entries = Vec::new();
        let all = MonthRange { first: AuditMonth::MIN, last: AuditMonth::MAX };
        loop {
            let offset = u32::try_from(entries.len()).map_err(|_| "the chain is too long".to_owned())?;
            let page = openinsure_core::store::Page::new(openinsure_core::store::MAX_PAGE_LIMIT, offset);
            let batch = store.entries(org, all, page).await.map_err(|e| format!("reading the audit log: {e}"))?;
            let done = batch.len() < openinsure_core::store::MAX_PAGE_LIMIT as usize;
            entries.extend(batch);
            if done {
                break;
            }
        }
        store.close().await;
        verify_entries(&format!("the audit log of org {org}"), &entries)
    })
}

/// `openinsure audit purge`: the retention run on the system of record.
pub fn purge(database: &crate::serve::Database, today: Option<chrono::NaiveDate>) -> Result<String, String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let store = database.open(false).await.map_err(|e| e.0)?;
        let now = Utc::now();
        let purged = store.purge_audit_months(today.unwrap_or(now.date_naive()), now).await.map_err(|e| e.to_string());
        store.close().await;
        let purged = purged?;
        if purged.is_empty() {
            return Ok("nothing past the seven-year retention".to_owned());
        }
        Ok(purged
            .iter()
            .map(|p| format!("removed {} of org {}: {} entries", p.month, p.org, p.entries))
            .collect::<Vec<_>>()
            .join("\n"))
    })
}

/// Verifies `entries` as one org's chain, naming it `name` in the summary or the error.
fn verify_entries(name: &str, entries: &[AuditEntry]) -> Result<String, String> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(format!("{name}: no entries, nothing to verify."));
    };
    let purged = first.sequence > 1;
    let checked = if !purged {
        verify(entries)
    } else if first.prev_hash == AuditHash::GENESIS {
        // Only entry 1 links to the genesis hash: an entry after it claiming to is forged.
        Err(TamperError::BrokenLink { sequence: first.sequence })
    } else {
        verify_links(entries)
    };
    checked.map_err(|e| broken(name, &e))?;

    let months: BTreeSet<AuditMonth> = entries.iter().map(|e| e.month).collect();
    let count = entries.len();
    let mut out = format!(
        "{name}: ok: {count} {} of org {} verified, sequence {} to {}, head hash {}; {}.",
        plural(count, "entry", "entries"),
        first.org_id,
        first.sequence,
        last.sequence,
        last.hash,
        month_span(&months),
    );
    if purged {
        let _ = write!(
            out,
            " The chain starts after entry {} (purged months): its link to that entry (prev hash {}) was not checked.",
            first.sequence.saturating_sub(1),
            first.prev_hash,
        );
    }
    out.push_str(" Compare the head hash with the org's stored head to find entries removed from the end.");
    Ok(out)
}

/// The error message of a chain that does not verify.
fn broken(name: &str, e: &TamperError) -> String {
    let kind = match e {
        TamperError::Edited { .. } => "edited entry",
        TamperError::Sequence { .. } => "entry removed, inserted or reordered",
        TamperError::BrokenLink { .. } => "broken link",
        TamperError::OtherOrg { .. } => "entry of another org",
        TamperError::Head { .. } => "entries missing at the end",
        _ => "tampered",
    };
    format!("{name}: the audit chain breaks at sequence {} ({kind}): {e}", e.sequence())
}

/// `1 entry`, `2 entries`.
fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// `1 month (2026-11)`, `3 months (2026-09, 2026-10, 2026-11)`, or for many
/// `84 months, 2019-11 to 2026-10`.
fn month_span(months: &BTreeSet<AuditMonth>) -> String {
    let n = months.len();
    let word = plural(n, "month", "months");
    match (months.first(), months.last()) {
        (Some(a), Some(b)) if n > 6 => format!("{n} {word}, {a} to {b}"),
        _ => {
            let list: Vec<String> = months.iter().map(ToString::to_string).collect();
            format!("{n} {word} ({})", list.join(", "))
        }
    }
}

/// A small valid PHI audit chain as pretty JSON, for trying `openinsure audit verify`: 5 entries
/// of one example org across three months (reads by the assigned adjuster and a claims supervisor,
/// a producer's redaction, an adjuster's write), made with [`seal`] from fixed times and ids, so
/// the output is the same on every run.
pub fn example_log() -> Result<String, String> {
    let entries = example_entries()?;
    serde_json::to_string_pretty(&entries).map_err(|e| e.to_string())
}

/// The chain [`example_log`] prints.
fn example_entries() -> Result<Vec<AuditEntry>, String> {
    let org = OrgId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0001));
    let adjuster = UserId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0020));
    let producer = UserId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0010));
    let supervisor = UserId::from_uuid(Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0013));
    let claim = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_c001);
    let other_claim = Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_c002);
    let ip = std::net::IpAddr::from([192, 0, 2, 7]);
    let agent = "openinsure-web/1.0";
    let read = ["claimant_name", "claimant_dob", "diagnosis_codes", "treatment_notes"];
    let drafts = [
        AuditDraft::new(adjuster, AuditAction::Read, "claims", claim, read, at(2026, 9, 28, 14, 5)?)
            .with_ip(ip)
            .with_user_agent(agent),
        AuditDraft::new(producer, AuditAction::Redact, "claims", claim, read, at(2026, 10, 2, 9, 41)?),
        AuditDraft::new(
            adjuster,
            AuditAction::Write,
            "claims",
            claim,
            ["diagnosis_codes", "treatment_notes"],
            at(2026, 10, 15, 16, 20)?,
        )
        .with_ip(ip)
        .with_user_agent(agent),
        AuditDraft::new(supervisor, AuditAction::Read, "claims", other_claim, read, at(2026, 11, 3, 8, 2)?),
        AuditDraft::new(
            adjuster,
            AuditAction::Read,
            "claims",
            other_claim,
            ["claimant_name", "claimant_phone"],
            at(2026, 11, 21, 11, 30)?,
        )
        .with_ip(ip)
        .with_user_agent(agent),
    ];
    let mut entries: Vec<AuditEntry> = Vec::with_capacity(drafts.len());
    for draft in &drafts {
        let head = entries.last().map(AuditEntry::head);
        entries.push(seal(org, head.as_ref(), draft).map_err(|e| e.to_string())?);
    }
    Ok(entries)
}

/// A fixed UTC time.
fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> Result<DateTime<Utc>, String> {
    Utc.with_ymd_and_hms(year, month, day, hour, minute, 0)
        .single()
        .ok_or_else(|| format!("{year}-{month:02}-{day:02} {hour:02}:{minute:02} is not a time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain() -> Vec<AuditEntry> {
        example_entries().unwrap()
    }

    fn check(entries: &[AuditEntry]) -> Result<String, String> {
        verify_text("audit.json", &serde_json::to_string(entries).unwrap())
    }

    /// The error names the file and the sequence number where the chain breaks.
    fn fails_at(entries: &[AuditEntry], sequence: u64, kind: &str) {
        let err = check(entries).unwrap_err();
        let want = format!("audit.json: the audit chain breaks at sequence {sequence} ({kind})");
        assert!(err.starts_with(&want), "{err}\nwanted {want}");
    }

    #[test]
    fn the_example_verifies() {
        let text = example_log().unwrap();
        assert_eq!(text, example_log().unwrap(), "the example is the same on every run");
        let c = chain();
        assert_eq!(c.len(), 5);
        let summary = verify_text("example.json", &text).unwrap();
        for needle in [
            "example.json: ok: 5 entries of org ",
            &c[0].org_id.to_string(),
            "sequence 1 to 5",
            &format!("head hash {}", c[4].hash),
            "3 months (2026-09, 2026-10, 2026-11)",
        ] {
            assert!(summary.contains(needle), "missing {needle} in {summary}");
        }
        assert!(!summary.contains('\n'));
        assert!(!summary.contains("purged"));
    }

    #[test]
    fn a_chain_after_purged_months_verifies() {
        let c = chain();
        let summary = check(&c[2..]).unwrap();
        assert!(summary.contains("3 entries"), "{summary}");
        assert!(summary.contains("sequence 3 to 5"), "{summary}");
        assert!(
            summary
                .contains(&format!("after entry 2 (purged months): its link to that entry (prev hash {})", c[1].hash))
        );
        let mut forged = c[2..].to_vec();
        forged[0].prev_hash = AuditHash::GENESIS;
        forged[0].hash = forged[0].compute_hash();
        fails_at(&forged, 3, "broken link");
    }

    #[test]
    fn one_entry_and_none() {
        let c = chain();
        assert!(check(&c[..1]).unwrap().contains("1 entry of org"));
        assert_eq!(check(&[]).unwrap(), "audit.json: no entries, nothing to verify.");
    }

    #[test]
    fn an_edited_entry_fails() {
        let mut c = chain();
        c[2].fields.push("members.ssn".into());
        fails_at(&c, 3, "edited entry");
        // edited and re-hashed: the next entry no longer links to it
        let mut c = chain();
        c[1].action = AuditAction::Read;
        c[1].hash = c[1].compute_hash();
        fails_at(&c, 3, "broken link");
    }

    #[test]
    fn a_removed_entry_fails() {
        let mut c = chain();
        c.remove(2);
        fails_at(&c, 3, "entry removed, inserted or reordered");
        let err = check(&c).unwrap_err();
        assert!(err.ends_with("expected entry 3, found entry 4: an entry was removed, inserted or reordered"), "{err}");
        let mut c = chain();
        c.remove(0);
        c.remove(0);
        // the first entries removed reads as purged months: said, not hidden
        assert!(check(&c).unwrap().contains("after entry 2 (purged months)"));
    }

    #[test]
    fn a_reordered_pair_fails() {
        let mut c = chain();
        c.swap(1, 2);
        fails_at(&c, 2, "entry removed, inserted or reordered");
        let mut c = chain();
        c.swap(3, 4);
        fails_at(&c, 4, "entry removed, inserted or reordered");
    }

    #[test]
    fn an_inserted_entry_fails() {
        let c = chain();
        // a forged entry 4, properly sealed after entry 3: the real entry 4 then is out of place
        let draft =
            AuditDraft::new(c[0].user_id, AuditAction::Read, "claims", c[0].record_id, ["claimant_ssn"], c[2].at);
        let forged = seal(c[0].org_id, Some(&c[2].head()), &draft).unwrap();
        let mut ins = c.clone();
        ins.insert(3, forged.clone());
        fails_at(&ins, 5, "entry removed, inserted or reordered");
        // a copy of entry 2 slipped in after it
        let mut dup = c.clone();
        dup.insert(2, c[1].clone());
        fails_at(&dup, 3, "entry removed, inserted or reordered");
        // an entry of another org
        let mut other = c.clone();
        other[3] = seal(OrgId::from_uuid(Uuid::from_u128(99)), Some(&c[2].head()), &draft).unwrap();
        fails_at(&other, 4, "entry of another org");
    }

    #[test]
    fn files() {
        let dir = std::env::temp_dir().join(format!("openinsure-cli-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, example_log().unwrap()).unwrap();
        let summary = verify_file(&good).unwrap();
        assert!(summary.starts_with(&format!("{}: ok: 5 entries", good.display())), "{summary}");

        let bad = dir.join("notes.txt");
        std::fs::write(&bad, "this is not json").unwrap();
        let err = verify_file(&bad).unwrap_err();
        assert!(err.starts_with(&format!("{}: not a JSON array of PHI audit log entries", bad.display())), "{err}");

        let wrong_shape = dir.join("object.json");
        std::fs::write(&wrong_shape, r#"{"entries": []}"#).unwrap();
        assert!(verify_file(&wrong_shape).unwrap_err().starts_with(&wrong_shape.display().to_string()));

        let missing = dir.join("missing.json");
        let err = verify_file(&missing).unwrap_err();
        assert!(err.starts_with(&format!("{}: cannot read", missing.display())), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn many_months_are_spanned() {
        let months: BTreeSet<AuditMonth> = (1..=12).map(|m| AuditMonth::new(2025, m).unwrap()).collect();
        assert_eq!(month_span(&months), "12 months, 2025-01 to 2025-12");
        let one: BTreeSet<AuditMonth> = [AuditMonth::new(2026, 11).unwrap()].into();
        assert_eq!(month_span(&one), "1 month (2026-11)");
    }
}
