//! Each route's handler: parse, call the use case, answer. No rule lives here.

use std::str::FromStr;

use super::Api;
use super::body::{DEFAULT_LIMIT, MAX_LIMIT, Query, parse_typed, parse_value};
use super::reply::{ApiError, Reply};
use super::routes::{Op, Params, Route};
use crate::bind::BindRequest;
use crate::claims::RequestMeta;
use http::StatusCode;
use openinsure_core::claims::{ClaimMoneyKind, ClaimStatus};
use openinsure_core::ids::{
    AuthorityProfileId, ClaimId, DaAgreementId, DealRoomId, PolicyId, QuoteId, ReferralId, SubmissionId, UserId,
};
use openinsure_core::store::Page;
use openinsure_core::tenancy::Caller;
use openinsure_ledger::chart::AccountType;

/// Request bodies.
pub mod bodies {
    use chrono::NaiveDate;
    use openinsure_core::billing::{BillingPlan, InstallmentFees};
    use openinsure_core::claims::{ClaimMoneyKind, ClaimStatus};
    use openinsure_core::ids::{AuthorityProfileId, QuoteId, UserId};
    use openinsure_core::money::Money;
    use openinsure_core::policy::CancellationMethod;
    use openinsure_core::quote::Schedule;
    use openinsure_core::text::{Line, Text};
    use openinsure_core::underwriting::da::DaStatus;

    use schemars::JsonSchema;
    use serde::Deserialize;
    use uuid::Uuid;

    /// A submission: the ACORD 125 fields. Every field error is reported at once, with its JSON
    /// path.
    pub type SubmissionInput = openinsure_core::submission::SubmissionInput;

    /// A first notice of loss: the policy, the date and description of the loss, the claimant
    /// (PHI).
    pub type ClaimInput = openinsure_core::claims::NoticeOfLoss;

    /// Quote options.
    #[derive(Deserialize, JsonSchema, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct QuoteBody {
        /// Schedule credits and debits (underwriters only).
        #[serde(default)]
        pub schedule: Schedule,
    }

    /// Bind options.
    #[derive(Deserialize, JsonSchema, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct BindBody {
        /// The quote to bind; the submission's latest quote when absent.
        pub quote_id: Option<QuoteId>,
        /// The payment plan (paid in full when absent).
        pub billing_plan: Option<BillingPlan>,
        /// Installment fees by plan.
        pub installment_fees: Option<InstallmentFees>,
        /// A down payment collected at bind: installment 1 is recorded as paid by it.
        pub down_payment_id: Option<Uuid>,
    }

    /// A cancellation.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct CancelBody {
        /// From when coverage ends.
        #[serde(deserialize_with = "openinsure_core::text::strict_date")]
        pub effective_date: NaiveDate,
        /// How the return premium is computed.
        pub method: CancellationMethod,
        /// Why.
        pub reason: Text<2000>,
    }

    /// A reason.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ReasonBody {
        /// Why.
        pub reason: Text<2000>,
    }

    /// A renewal.
    #[derive(Deserialize, JsonSchema, Default)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct RenewBody {
        /// The new term's payment plan (paid in full when absent).
        pub billing_plan: Option<BillingPlan>,
    }

    /// An installment payment.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct PaymentBody {
        /// The installment's number (1 = the first).
        pub installment: u32,
        /// The payment's id: a retry with the same id records nothing twice.
        pub payment_id: Uuid,
    }

    /// A DA agreement change.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct AgreementPatch {
        /// The new status.
        pub status: DaStatus,
    }

    /// A profile assignment.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct AssignBody {
        /// The user.
        pub user_id: UserId,
        /// The profile.
        pub profile_id: AuthorityProfileId,
    }

    /// A referral decision.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct DecisionBody {
        /// A reason code.
        pub reason_code: Line<64>,
        /// The written rationale.
        pub rationale: Text<4000>,
    }

    /// A withdrawal.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct WithdrawBody {
        /// Why.
        #[serde(default)]
        pub note: Option<Text<2000>>,
    }

    /// An adjuster assignment.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct AssignClaimBody {
        /// The adjuster.
        pub adjuster_id: UserId,
    }

    /// A claim status change.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ClaimStatusBody {
        /// The new status.
        pub status: ClaimStatus,
    }

    /// A reserve change.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ReserveBody {
        /// The new case reserve.
        #[serde(rename = "reserveCents")]
        pub reserve: Money,
        /// Why.
        pub reason: Text<1000>,
    }

    /// A claim payment.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct ClaimPaymentBody {
        /// The amount.
        #[serde(rename = "amountCents")]
        pub amount: Money,
        /// The payment's id: a retry with the same id pays nothing twice. A new id when absent.
        pub payment_id: Option<Uuid>,
    }

    /// A recovery.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct RecoveryBody {
        /// Subrogation, salvage or reinsurance recovery.
        pub kind: ClaimMoneyKind,
        /// The amount.
        #[serde(rename = "amountCents")]
        pub amount: Money,
        /// The recovery's id: a retry with the same id records nothing twice. A new id when absent.
        pub recovery_id: Option<Uuid>,
    }

    /// Loss fund funding.
    #[derive(Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    pub struct FundBody {
        /// The amount.
        #[serde(rename = "amountCents")]
        pub amount: Money,
        /// The funding's id: a retry with the same id moves nothing twice.
        pub funding_id: Uuid,
    }
}

/// Response bodies that are not domain types.
pub mod views {
    use openinsure_core::underwriting::authority::{Referral, ReferralActivity};
    use schemars::JsonSchema;
    use serde::Serialize;

    /// An OpenAPI 3.1 document.
    #[derive(Serialize, JsonSchema)]
    #[schemars(extend("additionalProperties" = true))]
    pub struct Document {}

    /// A referral with its activity trail.
    #[derive(Serialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct ReferralWithTrail {
        /// The referral.
        pub referral: Referral,
        /// What happened to it, oldest first.
        pub activities: Vec<ReferralActivity>,
    }

    /// What a deletion removed.
    #[derive(Serialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Removed {
        /// Always true.
        pub removed: bool,
    }

    /// How many records a bulk change touched.
    #[derive(Serialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Marked {
        /// How many.
        pub count: usize,
    }

    /// A completed loss fund funding.
    #[derive(Serialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Funded {
        /// The funding's id.
        pub funding_id: uuid::Uuid,
        /// The amount moved.
        pub amount_cents: i64,
    }

    /// One ledger account's balance.
    #[derive(Serialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct AccountBalance {
        /// The account's name (`LOSS_FUND`).
        pub account: &'static str,
        /// Its code.
        pub code: u16,
        /// Posted debits.
        pub debits_posted_cents: u128,
        /// Posted credits.
        pub credits_posted_cents: u128,
        /// Pending debits.
        pub debits_pending_cents: u128,
        /// Pending credits.
        pub credits_pending_cents: u128,
        /// Credits minus debits, posted.
        pub net_credit_cents: i128,
    }
}

/// What a handler has to work with.
pub(crate) struct Ctx<'a> {
    pub api: &'a Api,
    pub caller: Caller,
    pub params: Params<'a>,
    pub query: Query,
    pub body: &'a [u8],
    /// Where the request came from, for the PHI audit log.
    pub meta: RequestMeta,
}

impl Ctx<'_> {
    fn id<T: FromStr>(&self, n: usize, name: &str) -> Result<T, ApiError> {
        let raw = self.params[n];
        raw.parse().map_err(|_| ApiError::field(format!("path.{name}"), format!("`{raw}` is not a valid id")))
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        parse_typed(self.body, self.api.config.max_json_depth)
    }

    /// A typed input whose record has fields the server sets: naming one is refused as such
    /// (rather than as an unknown field).
    fn input<T: serde::de::DeserializeOwned>(&self, server_set: &[&str]) -> Result<T, ApiError> {
        let value = self.value()?;
        if let Some(key) = value.as_object().and_then(|o| server_set.iter().find(|k| o.contains_key(**k))) {
            return Err(ApiError::field(*key, "is set by the server"));
        }
        openinsure_core::json::from_value(value).map_err(|(path, reason)| ApiError::field(path, reason))
    }

    fn value(&self) -> Result<serde_json::Value, ApiError> {
        parse_value(self.body, self.api.config.max_json_depth)
    }

    fn page(&self) -> Result<Page, ApiError> {
        let limit = self.query.uint("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
        let offset = self.query.uint("offset", 0, 0, u32::MAX)?;
        Ok(Page::new(limit, offset))
    }
}

fn list<T: serde::Serialize>(items: &[T], page: Page) -> Result<Reply, ApiError> {
    Reply::list(items, page.limit, page.offset)
}

/// A page of a list the use case returns whole (an org's profiles, rules, assignments, a
/// submission's quotes: short lists).
fn slice<T: serde::Serialize>(items: &[T], page: Page) -> Result<Reply, ApiError> {
    let start = (page.offset as usize).min(items.len());
    let end = start.saturating_add(page.limit as usize).min(items.len());
    list(&items[start..end], page)
}

fn balance_view(a: &openinsure_ledger::model::Account) -> views::AccountBalance {
    let ty = AccountType::from_code(a.code);
    views::AccountBalance {
        account: ty.map_or("UNKNOWN", AccountType::name),
        code: a.code,
        debits_posted_cents: a.debits_posted,
        credits_posted_cents: a.credits_posted,
        debits_pending_cents: a.debits_pending,
        credits_pending_cents: a.credits_pending,
        net_credit_cents: i128::try_from(a.credits_posted).unwrap_or(i128::MAX)
            - i128::try_from(a.debits_posted).unwrap_or(i128::MAX),
    }
}

fn account_type(name: &str) -> Result<AccountType, ApiError> {
    AccountType::ALL
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("ledger account `{name}` not found")))
}

/// Runs the route's use case.
pub(crate) async fn dispatch(route: &Route, cx: Ctx<'_>) -> Result<Reply, ApiError> {
    let app = &cx.api.app;
    let caller = &cx.caller;
    match route.op {
        Op::OpenApi => Ok(Reply {
            status: StatusCode::OK,
            body: cx.api.openapi.clone(),
            content_type: "application/json",
            live: None,
        }),
        Op::Submit => {
            let input = openinsure_core::submission::SubmissionInput::read(&cx.value()?, app.clock().now())
                .map_err(crate::Error::from)?;
            Reply::created(&app.submit(caller, &input).await?)
        }
        Op::ListSubmissions => {
            let page = cx.page()?;
            list(&app.submissions(caller, page).await?, page)
        }
        Op::GetSubmission => Reply::ok(&app.submission(caller, cx.id::<SubmissionId>(0, "id")?).await?),
        Op::QuoteSubmission => {
            let id = cx.id::<SubmissionId>(0, "id")?;
            let body: bodies::QuoteBody = cx.json()?;
            Reply::created(&app.quote(caller, id, &body.schedule).await?)
        }
        Op::ListQuotes => {
            let page = cx.page()?;
            slice(&app.quotes_for(caller, cx.id::<SubmissionId>(0, "id")?).await?, page)
        }
        Op::GetQuote => Reply::ok(&app.get_quote(caller, cx.id::<QuoteId>(0, "id")?).await?),
        Op::BindSubmission => {
            let id = cx.id::<SubmissionId>(0, "id")?;
            let body: bodies::BindBody = cx.json()?;
            let defaults = BindRequest::default();
            let request = BindRequest {
                quote_id: body.quote_id,
                billing_plan: body.billing_plan.unwrap_or(defaults.billing_plan),
                installment_fees: body.installment_fees.unwrap_or(defaults.installment_fees),
                down_payment_id: body.down_payment_id,
            };
            Reply::created(&app.bind_submission(caller, id, &request).await?)
        }
        Op::BordereauRiskCsv => {
            let id = cx.id(0, "id")?;
            Reply::csv(app.bordereau(caller, id, cx.params[1]).await?.risk_csv())
        }
        Op::BordereauClaimsCsv => {
            let id = cx.id(0, "id")?;
            Reply::csv(app.bordereau(caller, id, cx.params[1]).await?.claims_csv())
        }
        Op::Bordereau => {
            let id = cx.id(0, "id")?;
            Reply::ok(&app.bordereau(caller, id, cx.params[1]).await?)
        }
        Op::Settle => {
            let b: crate::settlements::SettlementRequest = cx.json()?;
            Reply::ok(&app.settle(caller, &b).await?)
        }
        Op::CarrierStatement => {
            let party = crate::settlements::Party::Carrier { carrier_id: cx.id(0, "id")? };
            Reply::ok(&app.settlement_statement(caller, party).await?)
        }
        Op::ProducerStatement => {
            let party = crate::settlements::Party::Producer { user_id: cx.id(0, "id")? };
            Reply::ok(&app.settlement_statement(caller, party).await?)
        }
        Op::DeadLetters => {
            let page = cx.page()?;
            list(&app.dead_letters(caller, page).await?, page)
        }
        Op::ReplayEvent => Reply::ok(&app.replay_event(caller, cx.id::<uuid::Uuid>(0, "id")?).await?),
        Op::PolicyLive | Op::ClaimLive => {
            let subject = if route.op == Op::PolicyLive {
                crate::live::LiveSubject::Policy(cx.id(0, "id")?)
            } else {
                crate::live::LiveSubject::Claim(cx.id(0, "id")?)
            };
            let view = app.live_view(caller, subject, None, &cx.meta).await?;
            let mut reply = Reply::ok(&view)?;
            reply.live = Some(crate::live::LiveTicket { caller: *caller, subject, meta: cx.meta.clone() });
            Ok(reply)
        }
        Op::ListNotifications => {
            let page = cx.page()?;
            let unread = match cx.query.get("unread") {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ApiError::field("unread", format!("`{other}` is not `true` or `false`")));
                }
            };
            list(&app.notifications(caller, unread, page).await?, page)
        }
        Op::ReadNotification => Reply::ok(&app.mark_notification_read(caller, cx.id(0, "id")?).await?),
        Op::ReadAllNotifications => Reply::ok(&views::Marked { count: app.mark_all_notifications_read(caller).await? }),
        Op::GetNotificationSettings => Reply::ok(&app.notification_settings(caller).await?),
        Op::PutNotificationSettings => Reply::ok(&app.put_notification_settings(caller, &cx.json()?).await?),
        Op::CreateWebhook => Reply::created(&app.create_webhook(caller, &cx.json()?).await?),
        Op::ListWebhooks => {
            let page = cx.page()?;
            list(&app.webhooks(caller, page).await?, page)
        }
        Op::GetWebhook => Reply::ok(&app.webhook(caller, cx.id(0, "id")?).await?),
        Op::UpdateWebhook => {
            let id = cx.id(0, "id")?;
            Reply::ok(&app.update_webhook(caller, id, &cx.json()?).await?)
        }
        Op::DeleteWebhook => {
            app.delete_webhook(caller, cx.id(0, "id")?).await?;
            Reply::ok(&views::Removed { removed: true })
        }
        Op::RotateWebhookSecret => Reply::ok(&app.rotate_webhook_secret(caller, cx.id(0, "id")?).await?),
        Op::TestWebhook => Reply::accepted(&app.test_webhook(caller, cx.id(0, "id")?).await?),
        Op::ListWebhookDeliveries => {
            let page = cx.page()?;
            list(&app.webhook_deliveries(caller, cx.id(0, "id")?, page).await?, page)
        }
        Op::GetWebhookDelivery => {
            Reply::ok(&app.webhook_delivery(caller, cx.id(0, "id")?, cx.id(1, "deliveryId")?).await?)
        }
        Op::ReplayWebhookDelivery => {
            Reply::accepted(&app.replay_webhook_delivery(caller, cx.id(0, "id")?, cx.id(1, "deliveryId")?).await?)
        }
        Op::ReplayWebhooks => {
            let id = cx.id(0, "id")?;
            Reply::accepted(&app.replay_webhook_range(caller, id, cx.json()?).await?)
        }
        Op::ListPolicies => {
            let page = cx.page()?;
            list(&app.policies(caller, page).await?, page)
        }
        Op::GetPolicy => Reply::ok(&app.policy(caller, cx.id::<PolicyId>(0, "id")?).await?),
        Op::RenewalOffer => Reply::ok(&app.renewal_offer(caller, cx.id::<PolicyId>(0, "id")?).await?),
        Op::IssuePolicy => Reply::ok(&app.issue_policy(caller, cx.id(0, "id")?).await?),
        Op::ActivatePolicy => Reply::ok(&app.activate_policy(caller, cx.id(0, "id")?).await?),
        Op::EndorsePolicy => {
            let id = cx.id(0, "id")?;
            let b: crate::policies::Endorsement = cx.json()?;
            Reply::ok(&app.endorse_policy(caller, id, &b).await?)
        }
        Op::CancelPolicy => {
            let id = cx.id(0, "id")?;
            let b: bodies::CancelBody = cx.json()?;
            Reply::ok(&app.cancel_policy(caller, id, b.effective_date, b.method, &b.reason).await?)
        }
        Op::ReinstatePolicy => Reply::ok(&app.reinstate_policy(caller, cx.id(0, "id")?).await?),
        Op::ExpirePolicy => Reply::ok(&app.expire_policy(caller, cx.id(0, "id")?).await?),
        Op::NonRenewPolicy => {
            let id = cx.id(0, "id")?;
            let b: bodies::ReasonBody = cx.json()?;
            Reply::ok(&app.non_renew_policy(caller, id, &b.reason).await?)
        }
        Op::RenewPolicy => {
            let id = cx.id(0, "id")?;
            let b: bodies::RenewBody = cx.json()?;
            let plan = b.billing_plan.unwrap_or(BindRequest::default().billing_plan);
            Reply::created(&app.renew_policy(caller, id, plan).await?)
        }
        Op::RecordPayment => {
            let id = cx.id(0, "id")?;
            let b: bodies::PaymentBody = cx.json()?;
            Reply::ok(&app.record_installment_payment(caller, id, b.installment, b.payment_id).await?)
        }
        Op::PolicyTransfers => {
            let id = cx.id::<PolicyId>(0, "id")?;
            let transfers = app.policy_transfers(caller, id).await?;
            let accounts = openinsure_ledger::chart::chart_of_accounts(caller.org_id);
            Reply::ok(&openinsure_ledger::reports::journal(&accounts, &transfers))
        }
        Op::CreateAgreement => {
            let input = cx.input(&["id", "orgId", "revision", "createdAt"])?;
            Reply::created(&app.create_agreement(caller, input).await?)
        }
        Op::ListAgreements => {
            let page = cx.page()?;
            list(&app.agreements(caller, page).await?, page)
        }
        Op::GetAgreement => Reply::ok(&app.agreement(caller, cx.id::<DaAgreementId>(0, "id")?).await?),
        Op::UpdateAgreement => {
            let id = cx.id(0, "id")?;
            let b: bodies::AgreementPatch = cx.json()?;
            Reply::ok(&app.set_agreement_status(caller, id, b.status).await?)
        }
        Op::AgreementUsage => {
            let id = cx.id(0, "id")?;
            let year = cx.query.uint("year", 1, 1, 100)?;
            Reply::ok(&app.agreement_usage(caller, id, year).await?)
        }
        Op::CreateProfile => Reply::created(&app.create_profile(caller, cx.input(&["id", "orgId"])?).await?),
        Op::ListProfiles => {
            let page = cx.page()?;
            slice(&app.profiles(caller).await?, page)
        }
        Op::Assign => {
            let b: bodies::AssignBody = cx.json()?;
            Reply::created(&app.assign_profile(caller, b.user_id, b.profile_id).await?)
        }
        Op::ListAssignments => {
            let page = cx.page()?;
            slice(&app.assignments(caller).await?, page)
        }
        Op::Unassign => {
            let user = cx.id::<UserId>(0, "userId")?;
            let profile = cx.id::<AuthorityProfileId>(1, "profileId")?;
            app.unassign_profile(caller, user, profile).await?;
            Reply::ok(&views::Removed { removed: true })
        }
        Op::CreateRule => Reply::created(&app.create_rule(caller, cx.input(&["id", "orgId"])?).await?),
        Op::ListRules => {
            let page = cx.page()?;
            slice(&app.rules(caller).await?, page)
        }
        Op::ListReferrals => {
            let page = cx.page()?;
            let status = cx.query.enumeration("status")?;
            list(&app.referrals(caller, status, page).await?, page)
        }
        Op::GetReferral => {
            let (referral, activities) = app.referral(caller, cx.id::<ReferralId>(0, "id")?).await?;
            Reply::ok(&views::ReferralWithTrail { referral, activities })
        }
        Op::ApproveReferral | Op::DeclineReferral => {
            let id = cx.id(0, "id")?;
            let b: bodies::DecisionBody = cx.json()?;
            let r = if route.op == Op::ApproveReferral {
                app.approve_referral(caller, id, &b.reason_code, &b.rationale).await?
            } else {
                app.decline_referral(caller, id, &b.reason_code, &b.rationale).await?
            };
            Reply::ok(&r)
        }
        Op::WithdrawReferral => {
            let id = cx.id(0, "id")?;
            let b: bodies::WithdrawBody = cx.json()?;
            Reply::ok(&app.withdraw_referral(caller, id, b.note.as_deref().unwrap_or("")).await?)
        }
        Op::FileClaim => Reply::created(&app.file_claim(caller, cx.json()?, &cx.meta).await?),
        Op::ListClaims => {
            let page = cx.page()?;
            list(&app.claims(caller, page, &cx.meta).await?, page)
        }
        Op::GetClaim => Reply::ok(&app.claim(caller, cx.id::<ClaimId>(0, "id")?, &cx.meta).await?),
        Op::AssignClaim => {
            let id = cx.id(0, "id")?;
            let b: bodies::AssignClaimBody = cx.json()?;
            Reply::ok(&app.assign_claim(caller, id, b.adjuster_id, &cx.meta).await?)
        }
        Op::TransitionClaim => {
            let id = cx.id(0, "id")?;
            let b: bodies::ClaimStatusBody = cx.json()?;
            let to: ClaimStatus = b.status;
            Reply::ok(&app.transition_claim(caller, id, to, &cx.meta).await?)
        }
        Op::SetReserve => {
            let id = cx.id(0, "id")?;
            let b: bodies::ReserveBody = cx.json()?;
            Reply::ok(&app.set_claim_reserve(caller, id, b.reserve, &b.reason, &cx.meta).await?)
        }
        Op::PayClaim => {
            let id = cx.id(0, "id")?;
            let b: bodies::ClaimPaymentBody = cx.json()?;
            let payment = b.payment_id.unwrap_or_else(|| app.ids.next_uuid());
            Reply::ok(&app.pay_claim(caller, id, b.amount, payment, &cx.meta).await?)
        }
        Op::RecoverOnClaim => {
            let id = cx.id(0, "id")?;
            let b: bodies::RecoveryBody = cx.json()?;
            let kind: ClaimMoneyKind = b.kind;
            let recovery = b.recovery_id.unwrap_or_else(|| app.ids.next_uuid());
            Reply::ok(&app.recover_on_claim(caller, id, kind, b.amount, recovery, &cx.meta).await?)
        }
        Op::Balances => {
            let rows: Vec<views::AccountBalance> =
                app.account_balances(caller).await?.iter().map(balance_view).collect();
            Reply::ok(&rows)
        }
        Op::Balance => {
            let ty = account_type(cx.params[0])?;
            Reply::ok(&balance_view(&app.account_balance(caller, ty).await?))
        }
        Op::TrialBalance => Reply::ok(&app.trial_balance(caller).await?),
        Op::Journal => {
            let limit = cx.query.uint("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)?;
            Reply::ok(&app.journal(caller, limit).await?)
        }
        Op::CreateRoom => {
            let b: openinsure_dealroom::room::NewRoom = cx.json()?;
            Reply::created(&app.create_room(caller, &b).await?)
        }
        Op::ListRooms => {
            let page = cx.page()?;
            let status = cx.query.enumeration("status")?.unwrap_or(openinsure_dealroom::RoomStatus::Active);
            list(&app.rooms(caller, status, page).await?, page)
        }
        Op::GetRoom => Reply::ok(&app.room_details(caller, cx.id::<DealRoomId>(0, "id")?).await?),
        Op::UpdateRoom => {
            let id = cx.id(0, "id")?;
            let b: openinsure_dealroom::room::RoomPatch = cx.json()?;
            Reply::ok(&app.update_room(caller, id, &b).await?)
        }
        Op::AddParticipant => {
            let id = cx.id(0, "id")?;
            let b: openinsure_dealroom::room::NewParticipant = cx.json()?;
            Reply::ok(&app.add_participant(caller, id, &b).await?)
        }
        Op::RoomWs => {
            let id = cx.id(0, "id")?;
            // the configured origin, never the request's `Host` header (a client names that)
            Reply::ok(&app.room_ws_ticket(caller, id, cx.api.keys(), &cx.api.config.public_ws_origin).await?)
        }
        Op::RoomConnect => Err(ApiError::upgrade_required()),
        Op::RoomMessages => {
            let page = cx.page()?;
            list(&app.room_messages(caller, cx.id(0, "id")?, page).await?, page)
        }
        Op::RoomAnnotations => Reply::ok(&app.room_annotations(caller, cx.id(0, "id")?).await?),
        Op::LiveRoomState => Reply::ok(&app.live_room_state(caller, cx.id(0, "id")?).await?),
        Op::LiveRoomMessages => Reply::ok(&app.live_room_messages(caller, cx.id(0, "id")?).await?),
        Op::PostLiveRoomMessage => {
            let id = cx.id(0, "id")?;
            let b: openinsure_dealroom::hub::ChatInput = cx.json()?;
            Reply::created(&app.post_room_message(caller, id, b).await?)
        }
        Op::LiveRoomAnnotations => Reply::ok(&app.live_room_annotations(caller, cx.id(0, "id")?).await?),
        Op::CreateLiveRoomAnnotation => {
            let id = cx.id(0, "id")?;
            let b: openinsure_dealroom::hub::AnnotationInput = cx.json()?;
            Reply::created(&app.create_room_annotation(caller, id, b).await?)
        }
        Op::UpdateLiveRoomAnnotation => {
            let id = cx.id(0, "id")?;
            let annotation = cx.id(1, "annotationId")?;
            let b: openinsure_dealroom::hub::AnnotationChange = cx.json()?;
            Reply::ok(&app.update_room_annotation(caller, id, annotation, b).await?)
        }
        Op::FundLossFund => {
            let b: bodies::FundBody = cx.json()?;
            app.fund_loss_fund(caller, b.amount, b.funding_id).await?;
            Reply::ok(&views::Funded { funding_id: b.funding_id, amount_cents: b.amount.cents() })
        }
    }
}
