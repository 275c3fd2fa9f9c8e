//! Typed identifiers.
//!
//! Every entity has its own id type, a newtype over a [`Uuid`] (version 7 when minted by
//! [`crate::clock::IdGen`]), so a policy id can never be passed where a quote id is expected.
//! Ids serialize as plain UUID strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $entity:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// The entity this id names, as used in error messages.
            pub const ENTITY: &'static str = $entity;

            /// Wraps a UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

typed_id!(
    /// An organization (tenant): an MGA, a carrier, a brokerage.
    OrgId, "org"
);
typed_id!(
    /// A user of the platform.
    UserId, "user"
);
typed_id!(
    /// A submission (an application for insurance).
    SubmissionId, "submission"
);
typed_id!(
    /// A quote produced by rating a submission.
    QuoteId, "quote"
);
typed_id!(
    /// A policy.
    PolicyId, "policy"
);
typed_id!(
    /// An MGA program (a line of business written for a carrier under one set of rules).
    ProgramId, "program"
);
typed_id!(
    /// An insurance carrier.
    CarrierId, "carrier"
);

typed_id!(
    /// A delegated-authority agreement between an MGA's program and a carrier.
    DaAgreementId, "da agreement"
);
typed_id!(
    /// An underwriting authority profile.
    AuthorityProfileId, "authority profile"
);
typed_id!(
    /// A referral rule.
    ReferralRuleId, "referral rule"
);
typed_id!(
    /// A referral to a higher underwriting authority.
    ReferralId, "referral"
);
typed_id!(
    /// A claim.
    ClaimId, "claim"
);
typed_id!(
    /// A deal room: real-time collaboration on one submission.
    DealRoomId, "deal room"
);
typed_id!(
    /// A chat message of a deal room.
    DealMessageId, "deal room message"
);
typed_id!(
    /// An annotation in a deal room.
    AnnotationId, "annotation"
);
typed_id!(
    /// A webhook endpoint: a URL an org's events are sent to.
    WebhookEndpointId, "webhook endpoint"
);
typed_id!(
    /// One event (or test message) to deliver to one webhook endpoint, with its attempts.
    WebhookDeliveryId, "webhook delivery"
);
typed_id!(
    /// A notification in a user's queue.
    NotificationId, "notification"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_uuid_string() {
        let id = PolicyId::from_uuid(Uuid::from_u128(0x0192_f0c0_0000_7000_8000_0000_0000_0001));
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"0192f0c0-0000-7000-8000-000000000001\"");
        let back: PolicyId = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert_eq!(id.to_string().parse::<PolicyId>().unwrap(), id);
    }

    #[test]
    fn rejects_non_uuid() {
        assert!(serde_json::from_str::<OrgId>("\"sub_01J8\"").is_err());
        assert!("nope".parse::<UserId>().is_err());
    }
}
