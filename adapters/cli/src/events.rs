//! `openinsure events`: the dead letters of an org in the system of record, and replaying one.

use openinsure_core::ids::OrgId;
use openinsure_core::store::{MAX_PAGE_LIMIT, Outbox as _, Page};

fn org_of(org: &str) -> Result<OrgId, String> {
    org.parse().map_err(|_| format!("--org: `{org}` is not a valid id"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

/// `openinsure events dead-letters --org ID`: one line per dead letter.
pub fn dead_letters(database: &crate::serve::Database, org: &str) -> Result<String, String> {
    let org = org_of(org)?;
    runtime()?.block_on(async {
        let store = database.open(false).await.map_err(|e| e.0)?;
        let mut lines = Vec::new();
        let mut offset = 0;
        let result = loop {
            match store.dead_letters(org, Page::new(MAX_PAGE_LIMIT, offset)).await {
                Ok(batch) => {
                    let done = batch.len() < MAX_PAGE_LIMIT as usize;
                    offset += MAX_PAGE_LIMIT;
                    lines.extend(batch.iter().map(|d| {
                        format!(
                            "{}  {}  {} attempts (generation {})  failed {}: {}",
                            d.event_id, d.event_type, d.attempts, d.generation, d.failed_at, d.reason
                        )
                    }));
                    if done {
                        break Ok(());
                    }
                }
                Err(e) => break Err(format!("reading the dead letters: {e}")),
            }
        };
        store.close().await;
        result?;
        if lines.is_empty() { Ok(format!("org {org} has no dead letters")) } else { Ok(lines.join("\n")) }
    })
}

/// `openinsure events replay ID --org ID`: the event goes back to the outbox as a new attempt;
/// `serve`'s dispatcher delivers it (the ledger books it once).
pub fn replay(database: &crate::serve::Database, org: &str, id: &str) -> Result<String, String> {
    let org = org_of(org)?;
    let id: uuid::Uuid = id.parse().map_err(|_| format!("`{id}` is not an event id"))?;
    runtime()?.block_on(async {
        let store = database.open(false).await.map_err(|e| e.0)?;
        let replayed = store.replay(org, id).await;
        store.close().await;
        let d = replayed.map_err(|e| e.to_string())?;
        Ok(format!(
            "event {} ({}) is pending again as generation {}; the dispatcher of `openinsure serve` delivers it",
            d.event_id,
            d.event_type,
            d.generation + 1
        ))
    })
}

/// `openinsure bordereau`: a DA agreement's premium (risk) or claims bordereau for a month, from
/// the system of record, as CSV (the default) or JSON (both bordereaux and their totals).
pub fn bordereau(
    database: &crate::serve::Database,
    org: &str,
    agreement: &str,
    month: &str,
    json: bool,
    claims: bool,
) -> Result<String, String> {
    let org = org_of(org)?;
    let agreement: openinsure_core::ids::DaAgreementId =
        agreement.parse().map_err(|_| format!("--agreement: `{agreement}` is not a valid id"))?;
    let month = openinsure::bordereaux::month_of(month, "--month").map_err(|e| e.to_string())?;
    runtime()?.block_on(async {
        let store = database.open(false).await.map_err(|e| e.0)?;
        let built = openinsure::bordereaux::agreement_bordereau(&store, org, agreement, month).await;
        store.close().await;
        let b = built.map_err(|e| e.to_string())?;
        if json {
            return serde_json::to_string_pretty(&b).map_err(|e| e.to_string());
        }
        Ok(if claims { b.claims_csv() } else { b.risk_csv() })
    })
}
