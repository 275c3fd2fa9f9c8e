//! The route table: one list drives the router and the OpenAPI document, so a route cannot be
//! served without being documented.

use openinsure_core::permission::Action;
use schemars::{JsonSchema, Schema, SchemaGenerator};

use super::handlers::bodies as b;
use super::handlers::views as v;

/// Makes a schema for a type.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// What a route does (the router dispatches on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs, reason = "each is described by its route's summary")]
pub enum Op {
    OpenApi,
    Submit,
    ListSubmissions,
    GetSubmission,
    QuoteSubmission,
    ListQuotes,
    GetQuote,
    BindSubmission,
    ListPolicies,
    GetPolicy,
    IssuePolicy,
    ActivatePolicy,
    EndorsePolicy,
    CancelPolicy,
    ReinstatePolicy,
    ExpirePolicy,
    NonRenewPolicy,
    RenewPolicy,
    RenewalOffer,
    RecordPayment,
    PolicyTransfers,
    CreateAgreement,
    ListAgreements,
    GetAgreement,
    UpdateAgreement,
    AgreementUsage,
    CreateProfile,
    ListProfiles,
    Assign,
    ListAssignments,
    Unassign,
    CreateRule,
    ListRules,
    ListReferrals,
    GetReferral,
    ApproveReferral,
    DeclineReferral,
    WithdrawReferral,
    FileClaim,
    ListClaims,
    GetClaim,
    AssignClaim,
    TransitionClaim,
    SetReserve,
    PayClaim,
    RecoverOnClaim,
    Balances,
    Balance,
    TrialBalance,
    Journal,
    Bordereau,
    BordereauRiskCsv,
    BordereauClaimsCsv,
    Settle,
    CarrierStatement,
    ProducerStatement,
    DeadLetters,
    ReplayEvent,
    FundLossFund,
    CreateRoom,
    ListRooms,
    GetRoom,
    UpdateRoom,
    AddParticipant,
    RoomWs,
    RoomConnect,
    RoomMessages,
    RoomAnnotations,
    LiveRoomState,
    LiveRoomMessages,
    PostLiveRoomMessage,
    LiveRoomAnnotations,
    CreateLiveRoomAnnotation,
    UpdateLiveRoomAnnotation,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    UpdateWebhook,
    DeleteWebhook,
    RotateWebhookSecret,
    TestWebhook,
    ListWebhookDeliveries,
    GetWebhookDelivery,
    ReplayWebhookDelivery,
    ReplayWebhooks,
    PolicyLive,
    ClaimLive,
    ListNotifications,
    ReadNotification,
    ReadAllNotifications,
    GetNotificationSettings,
    PutNotificationSettings,
}

impl Op {
    /// Whether the route reaches a live room through the host's
    /// [`RoomGateway`](crate::dealrooms::RoomGateway): an API over an [`App`](crate::App) without
    /// one does not serve it (404) nor document it.
    pub fn needs_live_rooms(self) -> bool {
        matches!(
            self,
            Op::LiveRoomState
                | Op::LiveRoomMessages
                | Op::PostLiveRoomMessage
                | Op::LiveRoomAnnotations
                | Op::CreateLiveRoomAnnotation
                | Op::UpdateLiveRoomAnnotation
        )
    }
}

/// One route: method, path template (`:name` segments are parameters), and its documentation.
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The HTTP method.
    pub method: &'static str,
    /// The path template, for example `/v1/submissions/:id/quote`.
    pub path: &'static str,
    /// What it does.
    pub op: Op,
    /// What the caller must be allowed to do ([`openinsure_core::permission`]); `None` for the
    /// public routes, which need no token.
    pub action: Option<Action>,
    /// The OpenAPI `operationId`.
    pub operation_id: &'static str,
    /// The OpenAPI tag.
    pub tag: &'static str,
    /// One line for people.
    pub summary: &'static str,
    /// The status of a success.
    pub status: u16,
    /// The request body's schema, if it takes one.
    pub request: Option<SchemaFn>,
    /// The schema of `data` in a success.
    pub response: SchemaFn,
    /// Whether `data` is a page of a list (`limit` and `offset` apply).
    pub list: bool,
    /// The query parameters it reads besides `limit` and `offset`.
    pub query: &'static [&'static str],
    /// Whether it needs no token.
    pub public: bool,
    /// The media type of a success: `application/json` (the `{"data": ...}` envelope) or
    /// `text/csv` (a file, `response` ignored).
    pub media: &'static str,
}

#[allow(clippy::too_many_arguments, reason = "a table row")]
const fn r(
    method: &'static str,
    path: &'static str,
    op: Op,
    action: Option<Action>,
    operation_id: &'static str,
    tag: &'static str,
    summary: &'static str,
    status: u16,
    request: Option<SchemaFn>,
    response: SchemaFn,
) -> Route {
    Route {
        method,
        path,
        op,
        action,
        operation_id,
        tag,
        summary,
        status,
        request,
        response,
        list: false,
        query: &[],
        public: false,
        media: "application/json",
    }
}

const fn list(mut route: Route, query: &'static [&'static str]) -> Route {
    route.list = true;
    route.query = query;
    route
}

const fn query(mut route: Route, query: &'static [&'static str]) -> Route {
    route.query = query;
    route
}

const fn csv(mut route: Route) -> Route {
    route.media = "text/csv";
    route
}

const fn public(mut route: Route) -> Route {
    route.public = true;
    route
}

use openinsure_core::claims::Claim;
use openinsure_core::policy::Policy;
use openinsure_core::quote::Quote;
use openinsure_core::submission::Submission;
use openinsure_core::underwriting::authority::{AuthorityAssignment, AuthorityProfile, Referral, ReferralRule};
use openinsure_core::underwriting::da::{DaAgreement, DaUsage};
use openinsure_dealroom::hub::{AnnotationChange, AnnotationInput, ChatInput, RoomState};
use openinsure_dealroom::protocol::{Annotation, ChatMessage};
use openinsure_dealroom::room::{DealRoom, NewParticipant, NewRoom, Participant, RoomPatch};
use openinsure_ledger::reports::{JournalEntry, TrialBalance};

use crate::dealrooms::{RoomDetails, RoomListItem, WsTicket};

/// Every route the API serves, one line each: method, path, what it does, the action it needs
/// (see [`openinsure_core::permission`]; `None` for the public ones), the OpenAPI operation id, tag,
/// summary and success status, the request body and the `data` of the response.
#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    public(r("GET", "/openapi.json", Op::OpenApi, None, "openapi", "meta", "This OpenAPI document", 200, None, s::<v::Document>)),
    // submissions and quotes
    r("POST", "/v1/submissions", Op::Submit, Some(Action::SubmitBusiness), "submit", "submissions", "Take in a submission (ACORD 125 fields)", 201, Some(s::<b::SubmissionInput>), s::<Submission>),
    list(r("GET", "/v1/submissions", Op::ListSubmissions, Some(Action::ReadBusiness), "listSubmissions", "submissions", "List submissions", 200, None, s::<Vec<Submission>>), &[]),
    r("GET", "/v1/submissions/:id", Op::GetSubmission, Some(Action::ReadBusiness), "getSubmission", "submissions", "Read a submission", 200, None, s::<Submission>),
    r("POST", "/v1/submissions/:id/quote", Op::QuoteSubmission, Some(Action::RequestQuote), "quoteSubmission", "submissions", "Rate a submission into a quote, with pre-bind checks as flags", 201, Some(s::<b::QuoteBody>), s::<Quote>),
    list(r("GET", "/v1/submissions/:id/quotes", Op::ListQuotes, Some(Action::ReadBusiness), "listQuotes", "submissions", "A submission's quotes", 200, None, s::<Vec<Quote>>), &[]),
    r("GET", "/v1/quotes/:id", Op::GetQuote, Some(Action::ReadBusiness), "getQuote", "submissions", "Read a quote with its worksheet", 200, None, s::<Quote>),
    r("POST", "/v1/submissions/:id/bind", Op::BindSubmission, Some(Action::Bind), "bindSubmission", "submissions", "Bind a quote of the submission (its latest unless `quoteId` is given)", 201, Some(s::<b::BindBody>), s::<Policy>),
    // policies
    list(r("GET", "/v1/policies", Op::ListPolicies, Some(Action::ReadBusiness), "listPolicies", "policies", "List policies", 200, None, s::<Vec<Policy>>), &[]),
    r("GET", "/v1/policies/:id", Op::GetPolicy, Some(Action::ReadBusiness), "getPolicy", "policies", "Read a policy", 200, None, s::<Policy>),
    r("POST", "/v1/policies/:id/issue", Op::IssuePolicy, Some(Action::ChangePolicies), "issuePolicy", "policies", "Issue a bound policy", 200, None, s::<Policy>),
    r("POST", "/v1/policies/:id/activate", Op::ActivatePolicy, Some(Action::ChangePolicies), "activatePolicy", "policies", "Start an issued policy's period", 200, None, s::<Policy>),
    r("POST", "/v1/policies/:id/endorse", Op::EndorsePolicy, Some(Action::ChangePolicies), "endorsePolicy", "policies", "Endorse: change the risk from a date; the changed risk is rated on the policy's table, checked as new business, and the premium change pro-rated and billed", 200, Some(s::<crate::policies::Endorsement>), s::<Policy>),
    r("POST", "/v1/policies/:id/cancel", Op::CancelPolicy, Some(Action::ChangePolicies), "cancelPolicy", "policies", "Cancel from a date with a return premium", 200, Some(s::<b::CancelBody>), s::<Policy>),
    r("POST", "/v1/policies/:id/reinstate", Op::ReinstatePolicy, Some(Action::ChangePolicies), "reinstatePolicy", "policies", "Reinstate a cancelled policy", 200, None, s::<Policy>),
    r("POST", "/v1/policies/:id/expire", Op::ExpirePolicy, Some(Action::ChangePolicies), "expirePolicy", "policies", "Expire a policy at the end of its term", 200, None, s::<Policy>),
    r("POST", "/v1/policies/:id/non-renew", Op::NonRenewPolicy, Some(Action::ChangePolicies), "nonRenewPolicy", "policies", "Record a non-renewal notice", 200, Some(s::<b::ReasonBody>), s::<Policy>),
    r("GET", "/v1/policies/:id/renewal-offer", Op::RenewalOffer, Some(Action::ReadBusiness), "renewalOffer", "policies", "The renewal offer: the next term re-rated on the table then in force, both premiums and the change, and the checks a renewal would fail now", 200, None, s::<openinsure_core::policy::renewal::RenewalOffer>),
    r("POST", "/v1/policies/:id/renew", Op::RenewPolicy, Some(Action::ChangePolicies), "renewPolicy", "policies", "Renew into a new policy for the next term: re-rated, every pre-bind check on its own dates, counted against the DA capacity", 201, Some(s::<b::RenewBody>), s::<Policy>),
    r("GET", "/v1/policies/:id/live", Op::PolicyLive, Some(Action::ReadBusiness), "policyLive", "policies", "Follow a policy: with `Accept: text/event-stream`, Server-Sent Events, a `snapshot` then one message per status change, endorsement, payment or refund as it is committed, each with the policy as it is then; otherwise the snapshot", 200, None, s::<crate::live::LiveView>),
    r("POST", "/v1/policies/:id/payments", Op::RecordPayment, Some(Action::MoveMoney), "recordPayment", "policies", "Record an installment payment (booked on the ledger)", 200, Some(s::<b::PaymentBody>), s::<Policy>),
    r("GET", "/v1/policies/:id/transfers", Op::PolicyTransfers, Some(Action::ReadLedger), "policyTransfers", "ledger", "The ledger transfers booked for a policy", 200, None, s::<Vec<JournalEntry>>),
    // delegated authority
    r("POST", "/v1/da-agreements", Op::CreateAgreement, Some(Action::ManageUnderwriting), "createAgreement", "underwriting", "Create a delegated-authority agreement", 201, Some(s::<openinsure_core::underwriting::da::NewDaAgreement>), s::<DaAgreement>),
    list(r("GET", "/v1/da-agreements", Op::ListAgreements, Some(Action::ReadUnderwriting), "listAgreements", "underwriting", "List DA agreements", 200, None, s::<Vec<DaAgreement>>), &[]),
    r("GET", "/v1/da-agreements/:id", Op::GetAgreement, Some(Action::ReadUnderwriting), "getAgreement", "underwriting", "Read a DA agreement", 200, None, s::<DaAgreement>),
    r("PATCH", "/v1/da-agreements/:id", Op::UpdateAgreement, Some(Action::ManageUnderwriting), "updateAgreement", "underwriting", "Change a DA agreement's status", 200, Some(s::<b::AgreementPatch>), s::<DaAgreement>),
    query(r("GET", "/v1/da-agreements/:id/usage", Op::AgreementUsage, Some(Action::ReadUnderwriting), "agreementUsage", "underwriting", "Premium and policies written in an agreement year", 200, None, s::<DaUsage>), &["year"]),
    // authority matrix
    r("POST", "/v1/authority/profiles", Op::CreateProfile, Some(Action::ManageUnderwriting), "createProfile", "underwriting", "Create an authority profile", 201, Some(s::<openinsure_core::underwriting::authority::NewAuthorityProfile>), s::<AuthorityProfile>),
    list(r("GET", "/v1/authority/profiles", Op::ListProfiles, Some(Action::ReadUnderwriting), "listProfiles", "underwriting", "List authority profiles", 200, None, s::<Vec<AuthorityProfile>>), &[]),
    r("POST", "/v1/authority/assignments", Op::Assign, Some(Action::ManageUnderwriting), "assignProfile", "underwriting", "Assign a profile to a user", 201, Some(s::<b::AssignBody>), s::<AuthorityAssignment>),
    list(r("GET", "/v1/authority/assignments", Op::ListAssignments, Some(Action::ReadUnderwriting), "listAssignments", "underwriting", "List profile assignments", 200, None, s::<Vec<AuthorityAssignment>>), &[]),
    r("DELETE", "/v1/authority/assignments/:userId/:profileId", Op::Unassign, Some(Action::ManageUnderwriting), "unassignProfile", "underwriting", "Remove a profile assignment", 200, None, s::<v::Removed>),
    r("POST", "/v1/authority/rules", Op::CreateRule, Some(Action::ManageUnderwriting), "createRule", "underwriting", "Create a referral rule", 201, Some(s::<openinsure_core::underwriting::authority::NewReferralRule>), s::<ReferralRule>),
    list(r("GET", "/v1/authority/rules", Op::ListRules, Some(Action::ReadUnderwriting), "listRules", "underwriting", "List referral rules", 200, None, s::<Vec<ReferralRule>>), &[]),
    // referrals
    list(r("GET", "/v1/referrals", Op::ListReferrals, Some(Action::ReadUnderwriting), "listReferrals", "underwriting", "The referral queue", 200, None, s::<Vec<Referral>>), &["status"]),
    r("GET", "/v1/referrals/:id", Op::GetReferral, Some(Action::ReadUnderwriting), "getReferral", "underwriting", "A referral and its activity trail", 200, None, s::<v::ReferralWithTrail>),
    r("POST", "/v1/referrals/:id/approve", Op::ApproveReferral, Some(Action::DecideReferrals), "approveReferral", "underwriting", "Approve a referral", 200, Some(s::<b::DecisionBody>), s::<Referral>),
    r("POST", "/v1/referrals/:id/decline", Op::DeclineReferral, Some(Action::DecideReferrals), "declineReferral", "underwriting", "Decline a referral", 200, Some(s::<b::DecisionBody>), s::<Referral>),
    r("POST", "/v1/referrals/:id/withdraw", Op::WithdrawReferral, Some(Action::Bind), "withdrawReferral", "underwriting", "Withdraw a pending referral (its requester)", 200, Some(s::<b::WithdrawBody>), s::<Referral>),
    // claims
    r("POST", "/v1/claims", Op::FileClaim, Some(Action::FileClaims), "fileClaim", "claims", "File a claim (first notice of loss)", 201, Some(s::<b::ClaimInput>), s::<Claim>),
    list(r("GET", "/v1/claims", Op::ListClaims, Some(Action::ReadClaims), "listClaims", "claims", "List claims, redacted for the caller's role", 200, None, s::<Vec<Claim>>), &[]),
    r("GET", "/v1/claims/:id", Op::GetClaim, Some(Action::ReadClaims), "getClaim", "claims", "Read a claim, redacted for the caller's role (the read is audited)", 200, None, s::<Claim>),
    r("GET", "/v1/claims/:id/live", Op::ClaimLive, Some(Action::ReadClaims), "claimLive", "claims", "Follow a claim: with `Accept: text/event-stream`, Server-Sent Events, a `snapshot` then one message per status change, reserve, payment or recovery as it is committed, each with the claim redacted for the caller's role (every one audited); otherwise the snapshot", 200, None, s::<crate::live::LiveView>),
    r("POST", "/v1/claims/:id/assign", Op::AssignClaim, Some(Action::AssignClaims), "assignClaim", "claims", "Assign an adjuster", 200, Some(s::<b::AssignClaimBody>), s::<Claim>),
    r("POST", "/v1/claims/:id/status", Op::TransitionClaim, Some(Action::HandleClaims), "transitionClaim", "claims", "Move a claim to another status", 200, Some(s::<b::ClaimStatusBody>), s::<Claim>),
    r("POST", "/v1/claims/:id/reserve", Op::SetReserve, Some(Action::HandleClaims), "setReserve", "claims", "Set the case reserve", 200, Some(s::<b::ReserveBody>), s::<Claim>),
    r("POST", "/v1/claims/:id/payments", Op::PayClaim, Some(Action::HandleClaims), "payClaim", "claims", "Pay on a claim", 200, Some(s::<b::ClaimPaymentBody>), s::<Claim>),
    r("POST", "/v1/claims/:id/recoveries", Op::RecoverOnClaim, Some(Action::HandleClaims), "recoverOnClaim", "claims", "Record a recovery", 200, Some(s::<b::RecoveryBody>), s::<Claim>),
    // ledger
    r("GET", "/v1/ledger/balances", Op::Balances, Some(Action::ReadLedger), "balances", "ledger", "Every account's balance", 200, None, s::<Vec<v::AccountBalance>>),
    r("GET", "/v1/ledger/balances/:account", Op::Balance, Some(Action::ReadLedger), "balance", "ledger", "One account's balance, by name (`LOSS_FUND`)", 200, None, s::<v::AccountBalance>),
    r("GET", "/v1/ledger/trial-balance", Op::TrialBalance, Some(Action::ReadLedger), "trialBalance", "ledger", "The trial balance", 200, None, s::<TrialBalance>),
    query(r("GET", "/v1/ledger/journal", Op::Journal, Some(Action::ReadLedger), "journal", "ledger", "The journal, oldest first", 200, None, s::<Vec<JournalEntry>>), &["limit"]),
    r("POST", "/v1/ledger/loss-fund", Op::FundLossFund, Some(Action::MoveMoney), "fundLossFund", "ledger", "Move funds from the carrier payable into the loss fund", 200, Some(s::<b::FundBody>), s::<v::Funded>),
    csv(r("GET", "/v1/da-agreements/:id/bordereaux/:month/risk.csv", Op::BordereauRiskCsv, Some(Action::ReadLedger), "bordereauRiskCsv", "ledger", "The premium (risk) bordereau of an agreement for a month as CSV (RFC 4180, amounts in dollars)", 200, None, s::<String>)),
    csv(r("GET", "/v1/da-agreements/:id/bordereaux/:month/claims.csv", Op::BordereauClaimsCsv, Some(Action::ReadLedger), "bordereauClaimsCsv", "ledger", "The claims bordereau of an agreement for a month as CSV", 200, None, s::<String>)),
    r("GET", "/v1/da-agreements/:id/bordereaux/:month", Op::Bordereau, Some(Action::ReadLedger), "bordereau", "ledger", "The premium (risk) and claims bordereau of an agreement for a month (`YYYY-MM`), each transaction a row, cash totals equal to the ledger's", 200, None, s::<openinsure_ledger::bordereau::Bordereau>),
    // settlements
    r("POST", "/v1/settlements", Op::Settle, Some(Action::MoveMoney), "settle", "ledger", "Pay a carrier or a producer everything outstanding on its policies, with the statement (once per party and period)", 200, Some(s::<crate::settlements::SettlementRequest>), s::<crate::settlements::Settlement>),
    r("GET", "/v1/carriers/:id/statement", Op::CarrierStatement, Some(Action::ReadLedger), "carrierStatement", "ledger", "What a carrier is owed now, per policy", 200, None, s::<crate::settlements::Settlement>),
    r("GET", "/v1/producers/:id/statement", Op::ProducerStatement, Some(Action::ReadLedger), "producerStatement", "ledger", "What a producer is owed now, per policy", 200, None, s::<crate::settlements::Settlement>),
    // events
    list(r("GET", "/v1/events/dead-letters", Op::DeadLetters, Some(Action::ReadLedger), "deadLetters", "events", "Events the dispatcher gave up on, with why", 200, None, s::<Vec<openinsure_core::events::DeadLetter>>), &[]),
    r("POST", "/v1/events/:id/replay", Op::ReplayEvent, Some(Action::MoveMoney), "replayEvent", "events", "Deliver a dead event again, as a new attempt (booked once on the ledger)", 200, None, s::<openinsure_core::events::DeadLetter>),
    // webhooks
    r("POST", "/v1/webhooks", Op::CreateWebhook, Some(Action::ManageWebhooks), "createWebhook", "webhooks", "Create a webhook endpoint: an `https` URL on a public host and the event types it receives; the answer holds its signing secret, shown this once", 201, Some(s::<openinsure_webhooks::NewEndpoint>), s::<crate::webhooks::EndpointWithSecret>),
    list(r("GET", "/v1/webhooks", Op::ListWebhooks, Some(Action::ManageWebhooks), "listWebhooks", "webhooks", "The org's webhook endpoints, oldest first", 200, None, s::<Vec<openinsure_webhooks::WebhookEndpoint>>), &[]),
    r("GET", "/v1/webhooks/:id", Op::GetWebhook, Some(Action::ManageWebhooks), "getWebhook", "webhooks", "Read a webhook endpoint", 200, None, s::<openinsure_webhooks::WebhookEndpoint>),
    r("PATCH", "/v1/webhooks/:id", Op::UpdateWebhook, Some(Action::ManageWebhooks), "updateWebhook", "webhooks", "Change an endpoint's URL, description or event types, or enable or disable it (disabling fails its pending deliveries)", 200, Some(s::<openinsure_webhooks::EndpointPatch>), s::<openinsure_webhooks::WebhookEndpoint>),
    r("DELETE", "/v1/webhooks/:id", Op::DeleteWebhook, Some(Action::ManageWebhooks), "deleteWebhook", "webhooks", "Delete an endpoint with its deliveries and their log", 200, None, s::<v::Removed>),
    r("POST", "/v1/webhooks/:id/rotate-secret", Op::RotateWebhookSecret, Some(Action::ManageWebhooks), "rotateWebhookSecret", "webhooks", "Give an endpoint a new signing secret (shown this once); the old one keeps signing beside it for 24 hours", 200, None, s::<crate::webhooks::EndpointWithSecret>),
    r("POST", "/v1/webhooks/:id/test", Op::TestWebhook, Some(Action::ManageWebhooks), "testWebhook", "webhooks", "Send a `webhook.test` message to the endpoint", 202, None, s::<openinsure_webhooks::WebhookDelivery>),
    list(r("GET", "/v1/webhooks/:id/deliveries", Op::ListWebhookDeliveries, Some(Action::ManageWebhooks), "listWebhookDeliveries", "webhooks", "The endpoint's delivery log, newest first: status, attempts, last status code and error", 200, None, s::<Vec<openinsure_webhooks::WebhookDelivery>>), &[]),
    r("GET", "/v1/webhooks/:id/deliveries/:deliveryId", Op::GetWebhookDelivery, Some(Action::ManageWebhooks), "getWebhookDelivery", "webhooks", "One delivery with its attempts: when, latency, status code or failure", 200, None, s::<crate::webhooks::DeliveryDetails>),
    r("POST", "/v1/webhooks/:id/deliveries/:deliveryId/replay", Op::ReplayWebhookDelivery, Some(Action::ManageWebhooks), "replayWebhookDelivery", "webhooks", "Send a delivered or failed delivery again, with the same `webhook-id`", 202, None, s::<openinsure_webhooks::WebhookDelivery>),
    r("POST", "/v1/webhooks/:id/replay", Op::ReplayWebhooks, Some(Action::ManageWebhooks), "replayWebhooks", "webhooks", "Send again every failed delivery of the endpoint made in `[from, to)`", 202, Some(s::<crate::webhooks::ReplayRange>), s::<Vec<openinsure_webhooks::WebhookDelivery>>),
    // notifications
    list(r("GET", "/v1/notifications", Op::ListNotifications, Some(Action::UseNotifications), "listNotifications", "notifications", "The caller's notifications, newest first (`unread=true`: only the unread ones), each with its email's delivery", 200, None, s::<Vec<openinsure_core::notifications::Notification>>), &["unread"]),
    r("POST", "/v1/notifications/:id/read", Op::ReadNotification, Some(Action::UseNotifications), "readNotification", "notifications", "Mark one of the caller's notifications read", 200, None, s::<openinsure_core::notifications::Notification>),
    r("POST", "/v1/notifications/read-all", Op::ReadAllNotifications, Some(Action::UseNotifications), "readAllNotifications", "notifications", "Mark all the caller's notifications read", 200, None, s::<v::Marked>),
    r("GET", "/v1/notification-settings", Op::GetNotificationSettings, Some(Action::UseNotifications), "getNotificationSettings", "notifications", "Where the caller's notifications are emailed", 200, None, s::<openinsure_core::notifications::NotificationSettings>),
    r("PUT", "/v1/notification-settings", Op::PutNotificationSettings, Some(Action::UseNotifications), "putNotificationSettings", "notifications", "Set (or clear, with `null`) the address the caller's notifications are emailed to", 200, Some(s::<crate::notifications::SettingsInput>), s::<openinsure_core::notifications::NotificationSettings>),
    // deal rooms
    r("POST", "/v1/deal-rooms", Op::CreateRoom, Some(Action::ManageDealRooms), "createDealRoom", "deal-rooms", "Create a deal room on a submission (one per submission); the creator joins as lead underwriter", 201, Some(s::<NewRoom>), s::<DealRoom>),
    list(r("GET", "/v1/deal-rooms", Op::ListRooms, Some(Action::ReadDealRooms), "listDealRooms", "deal-rooms", "The org's rooms of a status (`active` by default), most recent activity first", 200, None, s::<Vec<RoomListItem>>), &["status"]),
    r("GET", "/v1/deal-rooms/:id", Op::GetRoom, Some(Action::ReadDealRooms), "getDealRoom", "deal-rooms", "A room with its participants", 200, None, s::<RoomDetails>),
    r("PATCH", "/v1/deal-rooms/:id", Op::UpdateRoom, Some(Action::ManageDealRooms), "updateDealRoom", "deal-rooms", "Change a room; closing records who and when", 200, Some(s::<RoomPatch>), s::<DealRoom>),
    r("POST", "/v1/deal-rooms/:id/participants", Op::AddParticipant, Some(Action::ManageDealRooms), "addDealRoomParticipant", "deal-rooms", "Add a participant, or update one added before", 200, Some(s::<NewParticipant>), s::<Participant>),
    r("GET", "/v1/deal-rooms/:id/ws", Op::RoomWs, Some(Action::ReadDealRooms), "dealRoomWebSocket", "deal-rooms", "A signed WebSocket URL with a 5-minute token", 200, None, s::<WsTicket>),
    public(r("GET", "/v1/deal-rooms/:id/connect", Op::RoomConnect, None, "connectDealRoom", "deal-rooms", "The WebSocket itself (`?token=` from `/ws`, optional `&sv=` base64 Yjs state vector): JSON text frames of the protocol, binary frames of Yjs updates. Hosts answer it with `101 Switching Protocols`", 101, None, s::<v::Document>)),
    list(r("GET", "/v1/deal-rooms/:id/messages", Op::RoomMessages, Some(Action::ReadDealRooms), "dealRoomMessages", "deal-rooms", "Chat history, newest first", 200, None, s::<Vec<ChatMessage>>), &[]),
    r("GET", "/v1/deal-rooms/:id/annotations", Op::RoomAnnotations, Some(Action::ReadDealRooms), "dealRoomAnnotations", "deal-rooms", "Every annotation of the room", 200, None, s::<Vec<Annotation>>),
    r("GET", "/v1/deal-rooms/:id/live/state", Op::LiveRoomState, Some(Action::UseRoomService), "liveRoomState", "deal-rooms", "Service: the live room's state", 200, None, s::<RoomState>),
    r("GET", "/v1/deal-rooms/:id/live/messages", Op::LiveRoomMessages, Some(Action::UseRoomService), "liveRoomMessages", "deal-rooms", "Service: the live room's in-memory messages", 200, None, s::<Vec<ChatMessage>>),
    r("POST", "/v1/deal-rooms/:id/live/messages", Op::PostLiveRoomMessage, Some(Action::UseRoomService), "postLiveRoomMessage", "deal-rooms", "Service: post a message without a WebSocket", 201, Some(s::<ChatInput>), s::<ChatMessage>),
    r("GET", "/v1/deal-rooms/:id/live/annotations", Op::LiveRoomAnnotations, Some(Action::UseRoomService), "liveRoomAnnotations", "deal-rooms", "Service: the live room's annotations", 200, None, s::<Vec<Annotation>>),
    r("POST", "/v1/deal-rooms/:id/live/annotations", Op::CreateLiveRoomAnnotation, Some(Action::UseRoomService), "createLiveRoomAnnotation", "deal-rooms", "Service: create an annotation", 201, Some(s::<AnnotationInput>), s::<Annotation>),
    r("PATCH", "/v1/deal-rooms/:id/live/annotations/:annotationId", Op::UpdateLiveRoomAnnotation, Some(Action::UseRoomService), "updateLiveRoomAnnotation", "deal-rooms", "Service: change an annotation's status or note", 200, Some(s::<AnnotationChange>), s::<Annotation>),
];

/// Path parameters, in template order.
pub(crate) type Params<'a> = [&'a str; 2];

/// What the path and method match.
pub(crate) enum Lookup<'a> {
    Route(&'static Route, Params<'a>),
    /// The path exists, not with this method; the methods it has.
    WrongMethod(Vec<&'static str>),
    Missing,
}

/// The routes an API serves: all of them, or all but the live-room ones.
pub(crate) fn served(live_rooms: bool) -> impl Iterator<Item = &'static Route> {
    ROUTES.iter().filter(move |r| live_rooms || !r.op.needs_live_rooms())
}

/// Finds the route for a method and path among those served.
pub(crate) fn find<'a>(method: &str, path: &'a str, live_rooms: bool) -> Lookup<'a> {
    let mut allowed = Vec::new();
    for route in served(live_rooms) {
        if let Some(params) = matches(route.path, path) {
            if route.method == method {
                return Lookup::Route(route, params);
            }
            allowed.push(route.method);
        }
    }
    if allowed.is_empty() { Lookup::Missing } else { Lookup::WrongMethod(allowed) }
}

fn matches<'a>(template: &str, path: &'a str) -> Option<Params<'a>> {
    let mut params: Params<'a> = ["", ""];
    let mut n = 0;
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(params),
            (Some(ts), Some(ps)) if ts.starts_with(':') => {
                if ps.is_empty() || n >= params.len() {
                    return None;
                }
                params[n] = ps;
                n += 1;
            }
            (Some(ts), Some(ps)) if ts == ps => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_segments() {
        assert!(matches("/v1/submissions/:id", "/v1/submissions/abc").is_some());
        assert!(matches("/v1/submissions/:id", "/v1/submissions/").is_none());
        assert!(matches("/v1/submissions/:id", "/v1/submissions/a/b").is_none());
        assert_eq!(matches("/v1/a/:x/:y", "/v1/a/1/2").unwrap(), ["1", "2"]);
        assert!(matches("/v1/submissions", "/v1/submissionsx").is_none());
    }

    #[test]
    fn every_route_is_unique_and_found() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{} {} twice", a.method, a.path);
                assert_ne!(a.operation_id, b.operation_id);
            }
            let concrete = a.path.replace(":id", "x").replace(":userId", "u").replace(":profileId", "p");
            let concrete =
                concrete.replace(":account", "LOSS_FUND").replace(":annotationId", "a").replace(":deliveryId", "d");
            match find(a.method, &concrete, true) {
                Lookup::Route(found, _) => assert_eq!(found.op, a.op, "{concrete}"),
                _ => panic!("{} {concrete} not found", a.method),
            }
        }
    }
}
