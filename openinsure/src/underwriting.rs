//! Underwriting administration: DA agreements, the authority matrix, and the referral queue.

use openinsure_core::error::FieldErrors;
use openinsure_core::events::{DomainEvent, EventEnvelope};
use openinsure_core::ids::{AuthorityProfileId, DaAgreementId, ReferralId, UserId};
use openinsure_core::permission::Action;
use openinsure_core::relationships::Tuple;
use openinsure_core::store::Page;
use openinsure_core::tenancy::Caller;
use openinsure_core::underwriting::authority::{
    AuthorityAssignment, AuthorityProfile, NewAuthorityProfile, NewReferralRule, Referral, ReferralActivity,
    ReferralError, ReferralRule, ReferralStatus,
};
use openinsure_core::underwriting::da::{DaAgreement, DaStatus, DaUsage, NewDaAgreement};

use crate::app::{App, require};
use crate::error::{Error, Result};

fn referral_error(e: ReferralError) -> Error {
    match e {
        ReferralError::InsufficientAuthority(m) => Error::Forbidden(m),
        ReferralError::OwnReferral | ReferralError::NotRequester => Error::Forbidden(e.to_string()),
        ReferralError::Invalid { field, reason } => {
            let mut f = FieldErrors::default();
            f.push(field, reason);
            Error::Invalid(f)
        }
        other => Error::Rule { code: "referral_not_pending", message: other.to_string() },
    }
}

impl App {
    /// Creates a DA agreement for a program of the caller's org (the org then owns the program
    /// in the authorizer).
    pub async fn create_agreement(&self, caller: &Caller, input: NewDaAgreement) -> Result<DaAgreement> {
        require(caller, Action::ManageUnderwriting)?;
        let agreement = input.into_agreement(self.ids.next_id(), caller.org_id, self.clock.now())?;
        self.store.insert_agreement(caller.org_id, &agreement).await?;
        self.authorizer.write_relationships(&[Tuple::program_owner(agreement.program_id, caller.org_id)], &[]).await?;
        Ok(agreement)
    }

    /// The org's agreements.
    pub async fn agreements(&self, caller: &Caller, page: Page) -> Result<Vec<DaAgreement>> {
        require(caller, Action::ReadUnderwriting)?;
        Ok(self.store.list_agreements(caller.org_id, page).await?)
    }

    /// One agreement.
    pub async fn agreement(&self, caller: &Caller, id: DaAgreementId) -> Result<DaAgreement> {
        require(caller, Action::ReadUnderwriting)?;
        Ok(self.store.get_agreement(caller.org_id, id).await?)
    }

    /// An agreement's usage in an agreement year.
    pub async fn agreement_usage(&self, caller: &Caller, id: DaAgreementId, year: u32) -> Result<DaUsage> {
        require(caller, Action::ReadUnderwriting)?;
        Ok(self.store.usage(caller.org_id, id, year).await?)
    }

    /// Suspends, reactivates or expires an agreement.
    pub async fn set_agreement_status(
        &self,
        caller: &Caller,
        id: DaAgreementId,
        status: DaStatus,
    ) -> Result<DaAgreement> {
        require(caller, Action::ManageUnderwriting)?;
        let mut a = self.store.get_agreement(caller.org_id, id).await?;
        a.set_status(status)?;
        Ok(self.store.update_agreement(caller.org_id, &a).await?)
    }

    /// Creates an authority profile.
    pub async fn create_profile(&self, caller: &Caller, input: NewAuthorityProfile) -> Result<AuthorityProfile> {
        require(caller, Action::ManageUnderwriting)?;
        let profile = input.into_profile(self.ids.next_id(), caller.org_id)?;
        self.store.insert_profile(caller.org_id, &profile).await?;
        Ok(profile)
    }

    /// The org's profiles.
    pub async fn profiles(&self, caller: &Caller) -> Result<Vec<AuthorityProfile>> {
        require(caller, Action::ReadUnderwriting)?;
        Ok(self.store.list_profiles(caller.org_id).await?)
    }

    /// Assigns a profile to a user; the user then holds it in the authorizer too.
    pub async fn assign_profile(
        &self,
        caller: &Caller,
        user: UserId,
        profile: AuthorityProfileId,
    ) -> Result<AuthorityAssignment> {
        require(caller, Action::ManageUnderwriting)?;
        let p = self.store.list_profiles(caller.org_id).await?.into_iter().find(|p| p.id == profile);
        let p = p.ok_or_else(|| Error::NotFound { entity: "authority profile", id: profile.to_string() })?;
        let assignment = AuthorityAssignment {
            org_id: caller.org_id,
            user_id: user,
            profile_id: profile,
            assigned_at: self.clock.now(),
        };
        self.store.assign(caller.org_id, &assignment).await?;
        self.authorizer
            .write_relationships(
                &[
                    Tuple::profile_holder(profile, caller.org_id, user),
                    Tuple::profile_line(profile, caller.org_id, p.line_of_business),
                ],
                &[],
            )
            .await?;
        Ok(assignment)
    }

    /// Removes an assignment.
    pub async fn unassign_profile(&self, caller: &Caller, user: UserId, profile: AuthorityProfileId) -> Result<()> {
        require(caller, Action::ManageUnderwriting)?;
        if !self.store.profiles_of(caller.org_id, user).await?.iter().any(|p| p.id == profile) {
            return Err(Error::NotFound { entity: "authority assignment", id: format!("{user}/{profile}") });
        }
        self.store.unassign(caller.org_id, user, profile).await?;
        self.authorizer.write_relationships(&[], &[Tuple::profile_holder(profile, caller.org_id, user)]).await?;
        Ok(())
    }

    /// The org's assignments.
    pub async fn assignments(&self, caller: &Caller) -> Result<Vec<AuthorityAssignment>> {
        require(caller, Action::ReadUnderwriting)?;
        Ok(self.store.list_assignments(caller.org_id).await?)
    }

    /// Creates a referral rule.
    pub async fn create_rule(&self, caller: &Caller, input: NewReferralRule) -> Result<ReferralRule> {
        require(caller, Action::ManageUnderwriting)?;
        let rule = input.into_rule(self.ids.next_id(), caller.org_id)?;
        self.store.insert_rule(caller.org_id, &rule).await?;
        Ok(rule)
    }

    /// The org's referral rules.
    pub async fn rules(&self, caller: &Caller) -> Result<Vec<ReferralRule>> {
        require(caller, Action::ReadUnderwriting)?;
        Ok(self.store.list_rules(caller.org_id).await?)
    }

    /// The referral queue, optionally of one status.
    pub async fn referrals(
        &self,
        caller: &Caller,
        status: Option<ReferralStatus>,
        page: Page,
    ) -> Result<Vec<Referral>> {
        require(caller, Action::ReadUnderwriting)?;
        Ok(self.store.list_referrals(caller.org_id, status, page).await?)
    }

    /// A referral and its activity trail.
    pub async fn referral(&self, caller: &Caller, id: ReferralId) -> Result<(Referral, Vec<ReferralActivity>)> {
        require(caller, Action::ReadUnderwriting)?;
        let r = self.store.get_referral(caller.org_id, id).await?;
        let trail = self.store.activities(caller.org_id, id).await?;
        Ok((r, trail))
    }

    async fn decide_referral(
        &self,
        caller: &Caller,
        id: ReferralId,
        approve: bool,
        reason_code: &str,
        rationale: &str,
    ) -> Result<Referral> {
        require(caller, Action::DecideReferrals)?;
        let mut r = self.store.get_referral(caller.org_id, id).await?;
        let profiles = self.store.profiles_of(caller.org_id, caller.user_id).await?;
        let now = self.clock.now();
        let activity = if approve {
            r.approve(caller.user_id, &profiles, reason_code, rationale, self.ids.next_uuid(), now)
        } else {
            r.decline(caller.user_id, &profiles, reason_code, rationale, self.ids.next_uuid(), now)
        }
        .map_err(referral_error)?;
        let event = if approve {
            DomainEvent::ReferralApproved { referral_id: id.as_uuid(), decided_by: caller.user_id }
        } else {
            DomainEvent::ReferralDeclined { referral_id: id.as_uuid(), decided_by: caller.user_id }
        };
        let envelope = EventEnvelope::new(self.ids.next_uuid(), caller.org_id, now, event);
        Ok(self.store.update_referral(caller.org_id, &r, &activity, &[envelope]).await?)
    }

    /// Approves a referral: the caller needs an approving profile at the routed level or above.
    pub async fn approve_referral(
        &self,
        caller: &Caller,
        id: ReferralId,
        reason_code: &str,
        rationale: &str,
    ) -> Result<Referral> {
        self.decide_referral(caller, id, true, reason_code, rationale).await
    }

    /// Declines a referral.
    pub async fn decline_referral(
        &self,
        caller: &Caller,
        id: ReferralId,
        reason_code: &str,
        rationale: &str,
    ) -> Result<Referral> {
        self.decide_referral(caller, id, false, reason_code, rationale).await
    }

    /// Withdraws a pending referral (its requester only).
    pub async fn withdraw_referral(&self, caller: &Caller, id: ReferralId, note: &str) -> Result<Referral> {
        // those who may bind raise referrals; the referral itself lets only its requester withdraw
        require(caller, Action::Bind)?;
        let mut r = self.store.get_referral(caller.org_id, id).await?;
        let now = self.clock.now();
        let activity = r.withdraw(caller.user_id, note, self.ids.next_uuid(), now).map_err(referral_error)?;
        let envelope = EventEnvelope::new(
            self.ids.next_uuid(),
            caller.org_id,
            now,
            DomainEvent::ReferralWithdrawn { referral_id: id.as_uuid() },
        );
        Ok(self.store.update_referral(caller.org_id, &r, &activity, &[envelope]).await?)
    }
}
