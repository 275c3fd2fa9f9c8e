//! Settlements: paying carriers their net premium and producers their commission out of the
//! payables, with a statement of the policies each payment settles.
//!
//! The ledger knows what is owed per policy: every premium split credits the carrier's and the
//! producer's payables with the policy in `user_data_128`, every refund debits them the same
//! way. A settlement pays a party (a carrier: the policies written under its DA agreements; a
//! producer: the policies of the submissions they made) everything outstanding on its policies,
//! one linked leg per policy (code 201, `SETTLEMENT`), so after it each settled policy owes the
//! party nothing. It is labelled with a period (`2027-03`) and keyed by party and period: the
//! same settlement asked twice pays once and answers the same statement. The ledger refuses a
//! payout beyond the payable's balance (money moved to the loss fund is no longer there to
//! remit); the refusal names the balance, and nothing is paid.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use openinsure_core::ids::{CarrierId, PolicyId, UserId};
use openinsure_core::money::Money;
use openinsure_core::permission::Action;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Caller;
use openinsure_ledger::chart::{AccountType, TransferCode, account_id};
use openinsure_ledger::model::{AccountFilter, QueryFilter, Transfer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::{App, require};
use crate::error::{Error, Result};

/// Who is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum Party {
    /// A carrier: its net premium (the carrier payable).
    Carrier {
        /// The carrier (of the DA agreements the policies were written under).
        carrier_id: CarrierId,
    },
    /// A producer: their commission (the producer payable).
    Producer {
        /// The producer (who made the submissions).
        user_id: UserId,
    },
}

impl Party {
    fn payable(self) -> AccountType {
        match self {
            Party::Carrier { .. } => AccountType::CarrierPayable,
            Party::Producer { .. } => AccountType::ProducerPayable,
        }
    }

    fn key(self) -> String {
        match self {
            Party::Carrier { carrier_id } => format!("carrier/{carrier_id}"),
            Party::Producer { user_id } => format!("producer/{user_id}"),
        }
    }
}

/// A settlement asked for.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettlementRequest {
    /// Who is paid.
    pub party: Party,
    /// The period it settles, `YYYY-MM`.
    #[schemars(regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    pub period: String,
}

/// One policy of a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatementLine {
    /// The policy.
    pub policy_id: PolicyId,
    /// Its number.
    pub policy_number: String,
    /// What is paid for it.
    #[serde(rename = "amountCents")]
    pub amount: Money,
}

/// A settlement and its statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settlement {
    /// Its id (the idempotency key of its transfers).
    pub id: Uuid,
    /// Who is paid.
    pub party: Party,
    /// The period.
    pub period: String,
    /// The payable it is paid from (`CARRIER_PAYABLE`, `PRODUCER_PAYABLE`).
    pub payable: String,
    /// The policies and amounts.
    pub lines: Vec<StatementLine>,
    /// The sum of the lines: what is paid.
    #[serde(rename = "totalCents")]
    pub total: Money,
    /// Whether it is paid (a statement of what is outstanding is not).
    pub paid: bool,
}

impl App {
    /// What `party` is owed now, per policy: a statement not yet paid.
    pub async fn settlement_statement(&self, caller: &Caller, party: Party) -> Result<Settlement> {
        require(caller, Action::ReadLedger)?;
        let lines = self.outstanding(caller, party).await?;
        statement(Uuid::nil(), party, String::new(), lines, false)
    }

    /// Pays `party` everything outstanding on its policies, labelled with the period (see the
    /// module docs). Asked again for the same party and period, it pays nothing more and answers
    /// the settlement made.
    pub async fn settle(&self, caller: &Caller, request: &SettlementRequest) -> Result<Settlement> {
        require(caller, Action::MoveMoney)?;
        crate::bordereaux::month_of(&request.period, "period")?;
        let org = caller.org_id;
        let party = request.party;
        let key = Uuid::new_v5(&org.as_uuid(), format!("settlement/{}/{}", party.key(), request.period).as_bytes());
        let tag = key.as_u128() as u64;
        if let Some(made) = self.settlement_made(caller, party, &request.period, key, tag).await? {
            return Ok(made);
        }
        let lines = self.outstanding(caller, party).await?;
        let total = Money::checked_sum(lines.iter().map(|l| l.amount)).map_err(openinsure_core::Error::from)?;
        if lines.is_empty() {
            return Err(Error::Rule {
                code: "nothing_to_settle",
                message: format!("nothing is outstanding for {} in this org", party.key()),
            });
        }
        let payable = party.payable();
        crate::ledger::open_books(self.ledger.as_ref(), org).await?;
        let account = self
            .ledger
            .lookup_accounts(&[account_id(org, payable)])
            .await
            .map_err(|e| Error::Backend(e.to_string()))?;
        let holds = account.first().map_or(0, openinsure_ledger::Account::debit_headroom);
        if u128::try_from(total.cents()).unwrap_or(u128::MAX) > holds {
            return Err(Error::Rule {
                code: "settlement_exceeds_balance",
                message: format!(
                    "{} holds {}, less than the {total} this statement settles (the rest was moved out, to the loss fund); nothing was paid",
                    payable.name(),
                    Money::from_cents(i64::try_from(holds).unwrap_or(i64::MAX))
                ),
            });
        }
        let legs: Vec<(Uuid, Money)> = lines.iter().map(|l| (l.policy_id.as_uuid(), l.amount)).collect();
        let transfers = openinsure_ledger::ops::settle_statement(org, key, tag, payable, &legs)?;
        crate::ledger::post_chain(self.ledger.as_ref(), &transfers).await.map_err(|e| match e {
            Error::Rule { message, .. } => Error::Rule {
                code: "settlement_exceeds_balance",
                message: format!("the ledger refused the settlement ({message}); nothing was paid"),
            },
            other => other,
        })?;
        tracing::info!(settlement_id = %key, party = %party.key(), total_cents = total.cents(), lines = lines.len(), "settled");
        statement(key, party, request.period.clone(), lines, true)
    }

    /// The settlement with this key, read back from the ledger, if it was made.
    async fn settlement_made(
        &self,
        caller: &Caller,
        party: Party,
        period: &str,
        key: Uuid,
        tag: u64,
    ) -> Result<Option<Settlement>> {
        let payable = account_id(caller.org_id, party.payable());
        let filter = QueryFilter {
            user_data_64: tag,
            code: TransferCode::Settlement.code(),
            limit: 8189,
            ..QueryFilter::default()
        };
        let found: Vec<Transfer> = self
            .ledger
            .query_transfers(filter)
            .await
            .map_err(|e| Error::Backend(e.to_string()))?
            .into_iter()
            .filter(|t| t.debit_account_id == payable)
            .collect();
        if found.is_empty() {
            return Ok(None);
        }
        let mut lines = Vec::new();
        for t in found {
            let policy = PolicyId::from_uuid(Uuid::from_u128(t.user_data_128));
            let number = self.store.get_policy(caller.org_id, policy).await.map(|p| p.number).unwrap_or_default();
            let amount = Money::from_cents(
                i64::try_from(t.amount).map_err(|_| Error::Backend("an amount out of range".into()))?,
            );
            lines.push(StatementLine { policy_id: policy, policy_number: number, amount });
        }
        statement(key, party, period.to_owned(), lines, true).map(Some)
    }

    /// What the party's policies have outstanding on its payable, per policy, positive only.
    async fn outstanding(&self, caller: &Caller, party: Party) -> Result<Vec<StatementLine>> {
        let org = caller.org_id;
        let account = account_id(org, party.payable());
        let mut owed: BTreeMap<u128, i128> = BTreeMap::new();
        let mut filter = AccountFilter::all(account, 8189);
        loop {
            let batch = self.ledger.get_account_transfers(filter).await.map_err(|e| Error::Backend(e.to_string()))?;
            for t in &batch {
                let signed = i128::try_from(t.amount).unwrap_or(i128::MAX);
                let entry = owed.entry(t.user_data_128).or_default();
                *entry += if t.credit_account_id == account { signed } else { -signed };
            }
            match batch.last() {
                Some(last) if batch.len() == 8189 => filter.timestamp_min = last.timestamp + 1,
                _ => break,
            }
        }
        let mut agreements: HashMap<openinsure_core::ids::DaAgreementId, CarrierId> = HashMap::new();
        let mut makers: HashMap<openinsure_core::ids::SubmissionId, UserId> = HashMap::new();
        let mut lines = Vec::new();
        let mut known = false;
        let mut page = Page::first();
        loop {
            let policies = self.store.list_policies(org, page).await?;
            let done = policies.len() < page.limit as usize;
            for p in policies {
                let amount = owed.get(&p.id.as_uuid().as_u128()).copied().unwrap_or(0);
                let of_party = match party {
                    Party::Carrier { carrier_id } => match p.da_agreement_id {
                        Some(a) => {
                            if let Entry::Vacant(e) = agreements.entry(a) {
                                e.insert(self.store.get_agreement(org, a).await?.carrier_id);
                            }
                            agreements.get(&a) == Some(&carrier_id)
                        }
                        None => false,
                    },
                    Party::Producer { user_id } => {
                        if let Entry::Vacant(e) = makers.entry(p.submission_id) {
                            e.insert(self.store.get_submission(org, p.submission_id).await?.created_by);
                        }
                        makers.get(&p.submission_id) == Some(&user_id)
                    }
                };
                known |= of_party;
                if of_party && amount > 0 {
                    let amount = Money::from_cents(
                        i64::try_from(amount).map_err(|_| Error::Backend("an amount out of range".into()))?,
                    );
                    lines.push(StatementLine { policy_id: p.id, policy_number: p.number, amount });
                }
            }
            if done {
                break;
            }
            page = Page::new(page.limit, page.offset.saturating_add(page.limit));
        }
        if !known {
            // a party none of the org's policies has is not the org's to see (404, as every
            // other record of another org)
            let (entity, id) = match party {
                Party::Carrier { carrier_id } => ("carrier", carrier_id.to_string()),
                Party::Producer { user_id } => ("producer", user_id.to_string()),
            };
            return Err(Error::NotFound { entity, id });
        }
        Ok(lines)
    }
}

fn statement(id: Uuid, party: Party, period: String, lines: Vec<StatementLine>, paid: bool) -> Result<Settlement> {
    let total = Money::checked_sum(lines.iter().map(|l| l.amount)).map_err(openinsure_core::Error::from)?;
    Ok(Settlement { id, party, period, payable: party.payable().name().to_owned(), lines, total, paid })
}
