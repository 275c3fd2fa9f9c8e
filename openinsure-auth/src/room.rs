//! WebSocket tokens: a 5-minute JWT naming the user, org, role and room, signed with the API's
//! keys. The host checks signature, expiry, and that the token's room is the room being joined.

use crate::{AuthError, TokenKeys};
use chrono::{DateTime, Duration, Utc};
use openinsure_core::ids::{DealRoomId, OrgId, UserId};
use openinsure_core::tenancy::{Caller, Role};
use serde::{Deserialize, Serialize};

/// How long a WebSocket token lives.
pub const WS_TOKEN_LIFETIME: Duration = Duration::minutes(5);

const TOKEN_TYPE: &str = "deal_room_ws";

/// The claims of a WebSocket token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WsClaims {
    /// The user.
    pub sub: UserId,
    /// The org.
    pub org: OrgId,
    /// The role.
    pub role: Role,
    /// The room it admits to.
    pub room: DealRoomId,
    /// The room's live instance.
    #[serde(rename = "do")]
    pub durable_object_id: String,
    /// Always `deal_room_ws`.
    pub typ: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
}

/// Why a WebSocket token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsTokenError {
    /// Signature, algorithm, expiry or shape.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Not a WebSocket token (an API token, say).
    #[error("not a deal room token")]
    NotARoomToken,
    /// A token for another room.
    #[error("the token is for room `{token}`, not `{joining}`")]
    WrongRoom {
        /// The token's room.
        token: DealRoomId,
        /// The room being joined.
        joining: DealRoomId,
    },
}

/// Signs a token admitting `caller` to `room` for [`WS_TOKEN_LIFETIME`].
pub fn issue(
    keys: &TokenKeys,
    caller: &Caller,
    room: DealRoomId,
    durable_object_id: &str,
    now: DateTime<Utc>,
) -> Result<String, AuthError> {
    let claims = WsClaims {
        sub: caller.user_id,
        org: caller.org_id,
        role: caller.role,
        room,
        durable_object_id: durable_object_id.to_owned(),
        typ: TOKEN_TYPE.to_owned(),
        iat: now.timestamp(),
        exp: (now + WS_TOKEN_LIFETIME).timestamp(),
    };
    keys.sign(&claims)
}

/// Verifies a token for joining `room` at `now`.
pub fn verify(keys: &TokenKeys, token: &str, room: DealRoomId, now: DateTime<Utc>) -> Result<WsClaims, WsTokenError> {
    let raw = keys.verify_raw(token, now)?;
    if raw.get("typ").and_then(|v| v.as_str()) != Some(TOKEN_TYPE) {
        return Err(WsTokenError::NotARoomToken);
    }
    let claims: WsClaims = serde_json::from_value(serde_json::Value::Object(raw))
        .map_err(|_| WsTokenError::Auth(AuthError::Malformed("deal room token claims")))?;
    if claims.room != room {
        return Err(WsTokenError::WrongRoom { token: claims.room, joining: room });
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn tokens_admit_to_their_room_for_five_minutes() {
        let keys = TokenKeys::new("k", b"deal room tokens: 32 byte secret").unwrap();
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        let caller =
            Caller::new(UserId::from_uuid(Uuid::from_u128(1)), OrgId::from_uuid(Uuid::from_u128(2)), Role::Underwriter);
        let room = DealRoomId::from_uuid(Uuid::from_u128(3));
        let other = DealRoomId::from_uuid(Uuid::from_u128(4));
        let t = issue(&keys, &caller, room, "do_x", now).unwrap();
        let c = verify(&keys, &t, room, now + Duration::minutes(4)).unwrap();
        assert_eq!((c.sub, c.org, c.role, c.room), (caller.user_id, caller.org_id, caller.role, room));
        assert_eq!(verify(&keys, &t, other, now), Err(WsTokenError::WrongRoom { token: room, joining: other }));
        assert_eq!(verify(&keys, &t, room, now + Duration::minutes(5)), Err(WsTokenError::Auth(AuthError::Expired)));
        let api_token = keys.issue(&caller, now).unwrap();
        assert_eq!(verify(&keys, &api_token, room, now), Err(WsTokenError::NotARoomToken));
        let foreign = TokenKeys::new("k", b"another deal room secret 32 byte").unwrap();
        assert!(matches!(verify(&foreign, &t, room, now), Err(WsTokenError::Auth(AuthError::BadSignature))));
    }
}
