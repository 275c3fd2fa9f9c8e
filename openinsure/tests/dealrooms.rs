//! Deal rooms through the API in process: creation rules, roles, org scoping and the cross-org
//! exception, listing, participants, closing, WebSocket tickets, history.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test code")]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{acme, caller, world};
use http::{Request, StatusCode};
use openinsure::api::{Api, ApiConfig};
use openinsure_auth::TokenKeys;
use openinsure_core::clock::Clock;
use openinsure_core::tenancy::{Caller, Role};
use serde_json::{Value, json};

struct H {
    api: Api,
    keys: TokenKeys,
    clock: Arc<openinsure_core::clock::FixedClock>,
}

fn h() -> H {
    let w = world();
    let keys = TokenKeys::new("t", b"deal room api tests: 32 bytes!!!").unwrap();
    let app = w.app.clone();
    let config = ApiConfig { public_ws_origin: "wss://rooms.example".into(), ..ApiConfig::default() };
    H {
        api: Api::new(app, keys.clone(), std::sync::Arc::new(openinsure_memory::MemoryIdempotency::default()))
            .with_config(config),
        keys,
        clock: w.clock,
    }
}

impl H {
    async fn call(
        &self,
        method: &str,
        path: &str,
        who: &Caller,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let token = self.keys.issue(who, self.clock.now()).unwrap();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("host", "evil.example:666");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = body.map(|b| Bytes::from(serde_json::to_vec(&b).unwrap())).unwrap_or_default();
        let resp = self.api.handle(req.body(body).unwrap(), None).await;
        let status = resp.status();
        (status, serde_json::from_slice(resp.body()).unwrap_or(Value::Null))
    }

    async fn ok(&self, method: &str, path: &str, who: &Caller, body: Option<Value>) -> Value {
        let (status, body) = self.call(method, path, who, body, &[]).await;
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body["data"].clone()
    }

    async fn submission(&self, who: &Caller, name: &str) -> String {
        let mut s = acme();
        s["insuredName"] = json!(name);
        self.ok("POST", "/v1/submissions", who, Some(s)).await["id"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn rooms_are_created_once_per_submission_by_writers() {
    let h = h();
    let uw = caller(1, 3, Role::Underwriter);
    let sid = h.submission(&uw, "Acme Trucking").await;
    let body = json!({ "submissionId": sid, "title": "Acme Trucking GL Renewal", "description": "fleet expanded", "allowBrokerAccess": true });
    let (status, room) = h.call("POST", "/v1/deal-rooms", &uw, Some(body.clone()), &[]).await;
    assert_eq!(status, StatusCode::CREATED);
    let room = &room["data"];
    assert_eq!((room["status"].as_str(), room["createdBy"].clone()), (Some("active"), json!(uw.user_id)));
    assert!(room["durableObjectId"].as_str().unwrap().starts_with("do_"));
    let id = room["id"].as_str().unwrap().to_owned();
    let details = h.ok("GET", &format!("/v1/deal-rooms/{id}"), &uw, None).await;
    assert_eq!(details["participants"][0]["role"], "lead_underwriter");
    assert_eq!(details["participants"][0]["canEdit"], true);

    assert_eq!(
        h.call("POST", "/v1/deal-rooms", &uw, Some(body), &[]).await.0,
        StatusCode::CONFLICT,
        "one room per submission"
    );
    let missing = json!({ "submissionId": "0192f0c0-0000-7000-8000-0000000fffff", "title": "x" });
    assert_eq!(h.call("POST", "/v1/deal-rooms", &uw, Some(missing), &[]).await.0, StatusCode::NOT_FOUND);
    let other_sid = h.submission(&caller(2, 3, Role::Underwriter), "Other Org Inc").await;
    let theirs = json!({ "submissionId": other_sid, "title": "x" });
    assert_eq!(
        h.call("POST", "/v1/deal-rooms", &uw, Some(theirs.clone()), &[]).await.0,
        StatusCode::NOT_FOUND,
        "another org's submission does not exist"
    );
    let with_org = json!({ "orgId": "00000000-0000-0000-0000-000000000002", "submissionId": other_sid, "title": "x" });
    assert_eq!(h.call("POST", "/v1/deal-rooms", &uw, Some(with_org.clone()), &[]).await.0, StatusCode::FORBIDDEN);
    // the seed's exception: superadmin and system may create rooms for another org
    let (status, created) =
        h.call("POST", "/v1/deal-rooms", &caller(9, 1, Role::Superadmin), Some(with_org), &[]).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["data"]["orgId"], "00000000-0000-0000-0000-000000000002");

    // writers only; every field error at once
    let sid2 = h.submission(&uw, "Beta LLC").await;
    let (status, _) = h
        .call(
            "POST",
            "/v1/deal-rooms",
            &caller(1, 2, Role::Producer),
            Some(json!({ "submissionId": sid2, "title": "x" })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "producers read, they do not create");
    let (status, e) = h
        .call(
            "POST",
            "/v1/deal-rooms",
            &uw,
            Some(json!({ "submissionId": sid2, "title": " ", "description": "d".repeat(2001) })),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(e["error"]["fields"].as_array().unwrap().len(), 2, "{e}");
}

#[tokio::test]
async fn lists_participants_closing_and_tickets() {
    let h = h();
    let uw = caller(1, 3, Role::Underwriter);
    let mut ids = Vec::new();
    for name in ["First Insured", "Second Insured"] {
        let sid = h.submission(&uw, name).await;
        let r = h.ok("POST", "/v1/deal-rooms", &uw, Some(json!({ "submissionId": sid, "title": name }))).await;
        ids.push(r["id"].as_str().unwrap().to_owned());
        h.clock.advance(chrono::Duration::minutes(1));
    }
    let list = h.ok("GET", "/v1/deal-rooms", &caller(1, 7, Role::Auditor), None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["insuredName"], "Second Insured", "most recent activity first");
    assert_eq!(list[0]["lob"], "general_liability");
    assert_eq!(
        h.call("GET", "/v1/deal-rooms", &caller(1, 8, Role::Adjuster), None, &[]).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(
        h.ok("GET", "/v1/deal-rooms", &caller(2, 3, Role::Underwriter), None).await.as_array().unwrap().is_empty(),
        "another org sees none"
    );

    // participants: added, removed, re-added without a duplicate
    let room = &ids[0];
    let actuary = caller(1, 4, Role::Underwriter);
    let add = json!({ "userId": actuary.user_id, "role": "actuary", "name": "Ada" });
    let p = h.ok("POST", &format!("/v1/deal-rooms/{room}/participants"), &uw, Some(add.clone())).await;
    assert_eq!((p["canEdit"].as_bool(), p["canAnnotate"].as_bool()), (Some(false), Some(true)));
    h.ok(
        "POST",
        &format!("/v1/deal-rooms/{room}/participants"),
        &uw,
        Some(json!({ "userId": actuary.user_id, "role": "actuary", "remove": true })),
    )
    .await;
    let d = h.ok("GET", &format!("/v1/deal-rooms/{room}"), &uw, None).await;
    assert_eq!(d["participants"].as_array().unwrap().len(), 1, "those who left are not listed");
    h.ok(
        "POST",
        &format!("/v1/deal-rooms/{room}/participants"),
        &uw,
        Some(json!({ "userId": actuary.user_id, "role": "manager", "canChat": false })),
    )
    .await;
    let d = h.ok("GET", &format!("/v1/deal-rooms/{room}"), &uw, None).await;
    assert_eq!(d["participants"].as_array().unwrap().len(), 2);
    assert_eq!(
        d["participants"].as_array().unwrap().iter().find(|p| p["userId"] == json!(actuary.user_id)).unwrap()["canChat"],
        false
    );
    let broker = json!({ "userId": caller(1, 5, Role::Producer).user_id, "role": "broker", "externalOrgId": "brk_1", "externalOrgName": "Harbor" });
    let (status, e) = h.call("POST", &format!("/v1/deal-rooms/{room}/participants"), &uw, Some(broker), &[]).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("broker_access_not_allowed"))
    );
    assert_eq!(
        h.call("POST", &format!("/v1/deal-rooms/{room}/participants"), &caller(1, 2, Role::Producer), Some(add), &[])
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // a WebSocket ticket: the host's origin, a 5-minute token for this room
    let t = h.ok("GET", &format!("/v1/deal-rooms/{room}/ws"), &actuary, None).await;
    let url = t["wsUrl"].as_str().unwrap();
    // the configured origin, never the request's Host header (which this client set to something else)
    assert!(url.starts_with(&format!("wss://rooms.example/v1/deal-rooms/{room}/connect?token=")), "{url}");
    let token = url.split("token=").nth(1).unwrap();
    let claims = openinsure_auth::room::verify(&h.keys, token, room.parse().unwrap(), h.clock.now()).unwrap();
    assert_eq!(claims.sub, actuary.user_id);
    assert!(
        openinsure_auth::room::verify(
            &h.keys,
            token,
            room.parse().unwrap(),
            h.clock.now() + chrono::Duration::minutes(5)
        )
        .is_err()
    );

    // history: empty, paged, capped at 200
    assert!(h.ok("GET", &format!("/v1/deal-rooms/{room}/messages"), &uw, None).await.as_array().unwrap().is_empty());
    assert_eq!(
        h.call("GET", &format!("/v1/deal-rooms/{room}/messages?limit=201"), &uw, None, &[]).await.0,
        StatusCode::BAD_REQUEST
    );

    // closing records who and when; a closed room changes no more and issues no tickets
    let closer = caller(1, 1, Role::Admin);
    h.clock.advance(chrono::Duration::hours(1));
    let closed = h
        .ok(
            "PATCH",
            &format!("/v1/deal-rooms/{room}"),
            &closer,
            Some(json!({ "status": "closed", "description": "Bound at $1.2M premium" })),
        )
        .await;
    assert_eq!(closed["closedBy"], json!(closer.user_id));
    assert!(closed["closedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(closed["description"], "Bound at $1.2M premium");
    let (status, e) =
        h.call("PATCH", &format!("/v1/deal-rooms/{room}"), &closer, Some(json!({ "status": "active" })), &[]).await;
    assert_eq!((status, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("room_closed")));
    assert_eq!(
        h.call("GET", &format!("/v1/deal-rooms/{room}/ws"), &uw, None, &[]).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let closed_list = h.ok("GET", "/v1/deal-rooms?status=closed", &uw, None).await;
    assert_eq!(closed_list.as_array().unwrap().len(), 1);
    assert_eq!(h.call("GET", "/v1/deal-rooms?status=open", &uw, None, &[]).await.0, StatusCode::BAD_REQUEST);

    // another org: 404 on every room route; system may act for it with X-Org-Id
    let intruder = caller(2, 3, Role::Underwriter);
    assert_eq!(
        h.call("GET", &format!("/v1/deal-rooms/{}", ids[1]), &intruder, None, &[]).await.0,
        StatusCode::NOT_FOUND
    );
    let org1 = "00000000-0000-0000-0000-000000000001";
    let (status, _) = h
        .call("GET", &format!("/v1/deal-rooms/{}", ids[1]), &caller(9, 2, Role::System), None, &[("x-org-id", org1)])
        .await;
    assert_eq!(status, StatusCode::OK, "the seed's cross-org roles for deal rooms");
    let (status, _) =
        h.call("GET", &format!("/v1/deal-rooms/{}", ids[1]), &intruder, None, &[("x-org-id", org1)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = h.call("GET", "/v1/submissions", &caller(9, 2, Role::System), None, &[("x-org-id", org1)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the deal-room exception does not extend to other routes");
}
