//! Claims: first notice of loss, handling, reserves, payments and recoveries; every read through
//! the PHI redaction matrix for the caller's role, every PHI read or write in the audit log.

use std::net::IpAddr;

use openinsure_core::claims::{Claim, ClaimError, ClaimMoneyKind, ClaimStatus, NoticeOfLoss};
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{ClaimId, UserId};
use openinsure_core::money::Money;
use openinsure_core::money_id::MoneyUse;
use openinsure_core::permission::Action;
use openinsure_core::store::Page;
use openinsure_core::tenancy::{Caller, Role};
use openinsure_hipaa::{AccessContext, AuditAction, AuditDraft, PhiAuditLog, PhiRecord, disclose};
use uuid::Uuid;

use crate::app::{App, require};
use crate::error::{Error, Result};

/// Who may change a claim, what the change is called, and the money id it moves, if any.
struct Act {
    action: Action,
    money: Option<(Uuid, MoneyUse)>,
}

/// Where a request came from, for the PHI audit log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestMeta {
    /// The client's IP address.
    pub ip: Option<IpAddr>,
    /// The client's user agent.
    pub user_agent: Option<String>,
}

impl From<openinsure_hipaa::Error> for Error {
    fn from(e: openinsure_hipaa::Error) -> Self {
        Error::from(openinsure_core::Error::from(e))
    }
}

impl From<ClaimError> for Error {
    fn from(e: ClaimError) -> Self {
        Error::from(openinsure_core::Error::from(e))
    }
}

impl App {
    /// Refuses a claim payment the loss fund cannot cover now (what is left of its credits after
    /// its posted and pending debits), before anything is recorded.
    async fn loss_fund_covers(
        &self,
        org: openinsure_core::ids::OrgId,
        amount: openinsure_core::money::Money,
    ) -> Result<()> {
        use openinsure_ledger::chart::{AccountType, account_id};
        let id = account_id(org, AccountType::LossFund);
        let found = self.ledger.lookup_accounts(&[id]).await.map_err(|e| Error::Backend(e.to_string()))?;
        let available = found.first().map_or(0, openinsure_ledger::Account::debit_headroom);
        let needed = u128::try_from(amount.cents()).unwrap_or(0);
        if needed > available {
            let left = openinsure_core::money::Money::from_cents(i64::try_from(available).unwrap_or(i64::MAX));
            return Err(Error::Rule {
                code: "loss_fund_insufficient",
                message: format!(
                    "the loss fund holds {left}, less than this payment of {amount}; nothing was recorded"
                ),
            });
        }
        Ok(())
    }

    fn audit_log(&self) -> &dyn PhiAuditLog {
        self.audit.as_ref()
    }

    async fn append_audit(&self, caller: &Caller, draft: AuditDraft, meta: &RequestMeta) -> Result<()> {
        let mut draft = draft;
        if let Some(ip) = meta.ip {
            draft = draft.with_ip(ip);
        }
        if let Some(ua) = &meta.user_agent {
            draft = draft.with_user_agent(ua.clone());
        }
        self.audit_log().append(caller.org_id, &draft).await?;
        Ok(())
    }

    /// The claim as `caller` may see it: redacted by the matrix, the disclosure audited.
    async fn disclose_claim(&self, caller: &Caller, mut claim: Claim, meta: &RequestMeta) -> Result<Claim> {
        let context = AccessContext::claim(claim.org_id, claim.assigned_adjuster_id);
        let d = disclose(caller, &context, claim.id.as_uuid(), &mut claim, self.clock.now());
        if d.decision.is_denied() {
            return Err(Error::NotFound { entity: "claim", id: claim.id.to_string() });
        }
        if let Some(draft) = d.audit {
            self.append_audit(caller, draft, meta).await?;
        }
        Ok(claim)
    }

    /// Files a claim (first notice of loss) against a policy of the org; every field error at once.
    pub async fn file_claim(&self, caller: &Caller, notice: NoticeOfLoss, meta: &RequestMeta) -> Result<Claim> {
        require(caller, Action::FileClaims)?;
        let policy_id = notice.policy_id.ok_or_else(|| {
            let mut f = openinsure_core::FieldErrors::default();
            f.push("policyId", "is required");
            Error::Invalid(f)
        })?;
        let policy = self.store.get_policy(caller.org_id, policy_id).await?;
        let now = self.clock.now();
        let claim = Claim::file(self.ids.next_id(), &policy, notice, now)?;
        let written = Claim::phi_fields().map(|f| f.column);
        self.append_audit(
            caller,
            AuditDraft::new(caller.user_id, AuditAction::Write, Claim::TABLE, claim.id.as_uuid(), written, now),
            meta,
        )
        .await?;
        let event = EventEnvelope::new(
            self.ids.next_uuid(),
            caller.org_id,
            now,
            DomainEvent::ClaimFiled { claim_id: claim.id, policy_id },
        );
        self.store.insert_claim(caller.org_id, &claim, &[event]).await?;
        tracing::info!(claim_id = %claim.id, policy_id = %policy_id, "claim filed");
        self.disclose_claim(caller, claim, meta).await
    }

    /// A claim of the org, as the caller may see it.
    pub async fn claim(&self, caller: &Caller, id: ClaimId, meta: &RequestMeta) -> Result<Claim> {
        require(caller, Action::ReadClaims)?;
        let claim = self.store.get_claim(caller.org_id, id).await?;
        self.disclose_claim(caller, claim, meta).await
    }

    /// The org's claims, each as the caller may see it.
    pub async fn claims(&self, caller: &Caller, page: Page, meta: &RequestMeta) -> Result<Vec<Claim>> {
        require(caller, Action::ReadClaims)?;
        let mut out = Vec::new();
        for c in self.store.list_claims(caller.org_id, page).await? {
            out.push(self.disclose_claim(caller, c, meta).await?);
        }
        Ok(out)
    }

    async fn handle(
        &self,
        caller: &Caller,
        id: ClaimId,
        meta: &RequestMeta,
        act: Act,
        change: impl FnOnce(&mut Claim) -> Result<Vec<DomainEvent>>,
    ) -> Result<Claim> {
        let Act { action, money } = act;
        require(caller, action)?;
        let mut claim = self.store.get_claim(caller.org_id, id).await?;
        if caller.role == Role::Adjuster && claim.assigned_adjuster_id != Some(caller.user_id) {
            return Err(Error::Forbidden(format!("claim `{id}` is not assigned to this adjuster")));
        }
        if let Some((money_id, money)) = money {
            self.store.register_money_id(caller.org_id, money_id, &money).await?;
        }
        let events = change(&mut claim)?;
        let now = self.clock.now();
        let envelopes: Vec<EventEnvelope> =
            events.into_iter().map(|e| EventEnvelope::new(self.ids.next_uuid(), caller.org_id, now, e)).collect();
        // the claim's money is on the ledger before the claim records it, in the order it happens
        // (a payment takes its reserve down, so the reserve must be there first): refused there (a
        // concurrent payment took the fund first), nothing is recorded; the outbox's later booking
        // of the same transfers finds them there
        for e in &envelopes {
            if let DomainEvent::ClaimTransaction { money, .. } = &e.event {
                let payment = money.kind == openinsure_core::claims::ClaimMoneyKind::Payment;
                if payment {
                    self.loss_fund_covers(caller.org_id, money.amount).await?;
                }
                crate::ledger::LedgerSubscriber::new(self.ledger.clone()).book(e).await.map_err(|err| match err {
                    Error::Rule { message, .. } if payment => Error::Rule {
                        code: "loss_fund_insufficient",
                        message: format!(
                            "the ledger refused this payment of {} ({message}); nothing was recorded (fund the loss fund, then pay with a new payment id)",
                            money.amount
                        ),
                    },
                    other => other,
                })?;
            }
        }
        let stored = self.store.update_claim(caller.org_id, &claim, &envelopes).await?;
        self.disclose_claim(caller, stored, meta).await
    }

    /// Assigns the claim to an adjuster.
    pub async fn assign_claim(
        &self,
        caller: &Caller,
        id: ClaimId,
        adjuster: UserId,
        meta: &RequestMeta,
    ) -> Result<Claim> {
        let now = self.clock.now();
        self.handle(caller, id, meta, Act { action: Action::AssignClaims, money: None }, |c| {
            c.assigned_adjuster_id = Some(adjuster);
            c.updated_at = now;
            Ok(vec![])
        })
        .await
    }

    /// Moves the claim to another status.
    pub async fn transition_claim(
        &self,
        caller: &Caller,
        id: ClaimId,
        to: ClaimStatus,
        meta: &RequestMeta,
    ) -> Result<Claim> {
        let now = self.clock.now();
        self.handle(caller, id, meta, Act { action: Action::HandleClaims, money: None }, |c| {
            let from = c.transition(to, now)?;
            Ok(vec![DomainEvent::ClaimStatusChanged { claim_id: id, from, to }])
        })
        .await
    }

    /// Sets the case reserve; the change is booked on the ledger through the outbox.
    pub async fn set_claim_reserve(
        &self,
        caller: &Caller,
        id: ClaimId,
        reserve: Money,
        reason: &str,
        meta: &RequestMeta,
    ) -> Result<Claim> {
        let (now, tx) = (self.clock.now(), self.ids.next_uuid());
        self.handle(caller, id, meta, Act { action: Action::HandleClaims, money: None }, |c| {
            let money = c.set_reserve(reserve, caller.user_id, reason, tx, now)?;
            Ok(vec![DomainEvent::ClaimTransaction { claim_id: id, money }])
        })
        .await
    }

    /// Pays on the claim (releasing reserve); booked on the ledger through the outbox.
    /// `payment_id` is a money id (see [`openinsure_core::money_id`]): a retry with the same id
    /// and amount pays nothing twice; the same id with another amount, claim or kind is refused.
    pub async fn pay_claim(
        &self,
        caller: &Caller,
        id: ClaimId,
        amount: Money,
        payment_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<Claim> {
        let now = self.clock.now();
        let money = MoneyUse::ClaimPayment { claim_id: id, amount };
        self.handle(caller, id, meta, Act { action: Action::HandleClaims, money: Some((payment_id, money)) }, |c| {
            if c.transactions.iter().any(|t| t.transaction_id == payment_id) {
                return Ok(vec![]);
            }
            let money = c.pay(amount, caller.user_id, payment_id, now)?;
            Ok(vec![DomainEvent::ClaimTransaction { claim_id: id, money }])
        })
        .await
    }

    /// Records a subrogation, salvage or reinsurance recovery. `recovery_id` is a money id (see
    /// [`openinsure_core::money_id`]), like a payment's.
    pub async fn recover_on_claim(
        &self,
        caller: &Caller,
        id: ClaimId,
        kind: ClaimMoneyKind,
        amount: Money,
        recovery_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<Claim> {
        let now = self.clock.now();
        let money = MoneyUse::ClaimRecovery { claim_id: id, recovery: kind, amount };
        self.handle(caller, id, meta, Act { action: Action::HandleClaims, money: Some((recovery_id, money)) }, |c| {
            if c.transactions.iter().any(|t| t.transaction_id == recovery_id) {
                return Ok(vec![]);
            }
            let money = c.recover(kind, amount, caller.user_id, recovery_id, now)?;
            Ok(vec![DomainEvent::ClaimTransaction { claim_id: id, money }])
        })
        .await
    }
}
