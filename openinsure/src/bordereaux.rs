//! Bordereaux through the application: a DA agreement's premium and claims bordereau for a month,
//! built by [`openinsure_ledger::bordereau`] from the org's events, policies and claims.

use std::collections::BTreeMap;

use openinsure_core::ids::{DaAgreementId, OrgId};
use openinsure_core::permission::Action;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Caller;
use openinsure_ledger::bordereau::{Bordereau, ClaimRef, bordereau};

use crate::app::{App, Backend, require};
use crate::error::{Error, Result};

/// Reads a month (`YYYY-MM`) or names the field it came in.
pub fn month_of(raw: &str, field: &str) -> Result<(i32, u32)> {
    let parsed = raw.split_once('-').and_then(|(y, m)| {
        let (y, m) = (y.parse::<i32>().ok()?, m.parse::<u32>().ok()?);
        (raw.len() == 7 && (1..=12).contains(&m) && (1900..=9999).contains(&y)).then_some((y, m))
    });
    parsed.ok_or_else(|| {
        let mut f = openinsure_core::FieldErrors::default();
        f.push(field, format!("`{raw}` is not a month of the form YYYY-MM"));
        Error::Invalid(f)
    })
}

/// The bordereaux of agreement `id` of `org` for `month`, read from `store` (the application and
/// `openinsure bordereau` both call this).
pub async fn agreement_bordereau(
    store: &dyn Backend,
    org: OrgId,
    id: DaAgreementId,
    month: (i32, u32),
) -> Result<Bordereau> {
    let agreement = store.get_agreement(org, id).await?;
    let mut events = Vec::new();
    let mut policies = BTreeMap::new();
    let mut claims = BTreeMap::new();
    let next = |p: Page| Page::new(p.limit, p.offset.saturating_add(p.limit));
    let mut page = Page::first();
    loop {
        let batch = store.org_events(org, page).await?;
        let done = batch.len() < page.limit as usize;
        events.extend(batch);
        if done {
            break;
        }
        page = next(page);
    }
    page = Page::first();
    loop {
        let batch = store.list_policies(org, page).await?;
        let done = batch.len() < page.limit as usize;
        policies.extend(batch.into_iter().map(|p| (p.id, p)));
        if done {
            break;
        }
        page = next(page);
    }
    page = Page::first();
    loop {
        let batch = store.list_claims(org, page).await?;
        let done = batch.len() < page.limit as usize;
        claims.extend(
            batch.into_iter().map(|c| (c.id, ClaimRef { policy_id: c.policy_id, date_of_loss: c.date_of_loss })),
        );
        if done {
            break;
        }
        page = next(page);
    }
    Ok(bordereau(&agreement, month, &events, &policies, &claims)?)
}

impl App {
    /// The premium and claims bordereau of a DA agreement of the caller's org for `month`
    /// (`YYYY-MM`).
    pub async fn bordereau(&self, caller: &Caller, agreement: DaAgreementId, month: &str) -> Result<Bordereau> {
        require(caller, Action::ReadLedger)?;
        let month = month_of(month, "month")?;
        agreement_bordereau(self.store.as_ref(), caller.org_id, agreement, month).await
    }
}
