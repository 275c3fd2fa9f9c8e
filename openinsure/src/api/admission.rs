//! Admission to a deal room's WebSocket, the same for every host (axum, a Workers Durable
//! Object): the room token (signature, expiry, this room), the client's Yjs state vector, the
//! room itself. The host upgrades only what this admits.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Response, StatusCode};
use openinsure_core::ids::{DealRoomId, UserId};
use openinsure_dealroom::room::DealRoom;

use super::Api;

/// A connection the room may take.
#[derive(Clone, Debug)]
pub struct Admission {
    /// The room (of the token's org).
    pub room: DealRoom,
    /// Who connects.
    pub user: UserId,
    /// The client's Yjs state vector (`&sv=`, base64), when it has a copy of the notepad: it is
    /// sent only what it lacks.
    pub state_vector: Option<Vec<u8>>,
}

impl Api {
    /// Admits a WebSocket connection to room `room_id` with the query string `query`
    /// (`token=…&sv=…`), or answers the refusal in the API's error envelope: 401 without a valid
    /// room token, 403 for another room's token, 400 for a state vector that is not base64, 404
    /// for a room that is not the token's org's, 500 when the store fails.
    pub async fn admit_room(
        &self,
        room_id: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Admission, Response<Bytes>> {
        let refuse =
            |status: StatusCode, code: &'static str, message: &str| self.host_error(headers, status, code, message);
        let Ok(room_id) = room_id.parse::<DealRoomId>() else {
            return Err(refuse(StatusCode::NOT_FOUND, "not_found", "no such deal room"));
        };
        let params: Vec<(String, String)> =
            form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let Some(token) = param("token") else {
            return Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", "a `token` query parameter is required"));
        };
        let claims = match openinsure_auth::room::verify(self.keys(), token, room_id, self.app.clock.now()) {
            Ok(c) => c,
            Err(e @ openinsure_auth::room::WsTokenError::WrongRoom { .. }) => {
                return Err(refuse(StatusCode::FORBIDDEN, "wrong_room", &e.to_string()));
            }
            Err(e) => return Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized", &e.to_string())),
        };
        let state_vector = match param("sv") {
            None => None,
            Some(sv) => match base64::engine::general_purpose::STANDARD
                .decode(sv)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sv))
            {
                Ok(bytes) => Some(bytes),
                Err(_) => return Err(refuse(StatusCode::BAD_REQUEST, "invalid_fields", "`sv` is not base64")),
            },
        };
        let room = match self.app.rooms.get_room(claims.org, room_id).await {
            Ok(r) => r,
            Err(openinsure_core::Error::NotFound { .. }) => {
                return Err(refuse(StatusCode::NOT_FOUND, "not_found", "no such deal room"));
            }
            Err(e) => {
                tracing::error!(error = %e, "deal room lookup failed");
                return Err(refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the room could not be loaded"));
            }
        };
        Ok(Admission { room, user: claims.sub, state_vector })
    }
}
