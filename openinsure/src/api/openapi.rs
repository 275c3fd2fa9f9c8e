//! The OpenAPI 3.1 document, generated from the route table and the types' JSON Schemas
//! (schemars writes JSON Schema 2020-12, which is OpenAPI 3.1's schema dialect).

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use super::reply::PageInfo;
use super::routes::{Route, served};
use openinsure_core::error::FieldError;
use openinsure_core::underwriting::checks::Flag;

/// The error envelope's `error` member.
#[derive(serde::Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "a schema: the body is written by `ApiError::into_response`")]
pub(crate) struct ErrorBody {
    /// A stable machine-readable code (`not_found`, `invalid_fields`, `prebind_checks_failed`, ...).
    code: String,
    /// What happened, for people.
    message: String,
    /// The request's id, as in the `x-request-id` response header.
    request_id: String,
    /// Every refused field, with its JSON path (400).
    fields: Option<Vec<FieldError>>,
    /// The failed pre-bind checks (422).
    flags: Option<Vec<Flag>>,
}

/// An error response body.
#[derive(serde::Serialize, JsonSchema)]
#[allow(dead_code, reason = "a schema")]
pub(crate) struct ErrorEnvelope {
    error: ErrorBody,
}

/// `/v1/submissions/:id` as OpenAPI writes it: `/v1/submissions/{id}`.
pub(crate) fn openapi_path(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg.strip_prefix(':') {
            Some(name) => format!("{{{name}}}"),
            None => seg.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorEnvelope" } } }
    })
}

/// A path parameter's schema: ids are UUIDs, a ledger account is one of the chart's names.
fn path_schema(name: &str) -> Value {
    if name == "account" {
        let names: Vec<&str> = openinsure_ledger::chart::AccountType::ALL.iter().map(|t| t.name()).collect();
        json!({ "type": "string", "enum": names })
    } else {
        json!({ "type": "string", "format": "uuid" })
    }
}

fn operation(route: &Route, generator: &mut schemars::SchemaGenerator) -> Value {
    let data: Schema = (route.response)(generator);
    let mut envelope = json!({
        "type": "object",
        "required": ["data"],
        "properties": { "data": data },
    });
    if route.list {
        let page = generator.subschema_for::<PageInfo>();
        envelope["properties"]["page"] = page.to_value();
    }
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix(':'))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": path_schema(name) }))
        .collect();
    if route.list {
        parameters.push(json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 200, "default": 50 } }));
        parameters.push(
            json!({ "name": "offset", "in": "query", "schema": { "type": "integer", "minimum": 0, "maximum": u32::MAX, "default": 0 } }),
        );
    }
    for q in route.query {
        parameters.push(json!({ "name": q, "in": "query", "schema": { "type": "string" } }));
    }
    if route.method == "POST" {
        parameters.push(json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "A retry with the same key and body gets the first response and causes no second effect.",
            "schema": { "type": "string", "maxLength": 255 }
        }));
    }
    let mut responses = Map::new();
    let success = if route.media == "application/json" {
        json!({ "description": "success", "content": { "application/json": { "schema": envelope } } })
    } else {
        json!({ "description": "success", "content": { route.media: { "schema": { "type": "string" } } } })
    };
    responses.insert(route.status.to_string(), success);
    if !route.public {
        responses.insert(
            "400".into(),
            error_response("malformed JSON, invalid fields (every one), or a body nested too deeply"),
        );
        responses.insert("401".into(), error_response("missing, invalid or expired bearer token"));
        responses.insert("403".into(), error_response("the caller's role may not do this"));
        responses.insert("404".into(), error_response("no such record in the caller's org"));
        responses.insert(
            "409".into(),
            error_response("a conflicting change, or the idempotency key's first request is still running"),
        );
        responses.insert("413".into(), error_response("the body is too large"));
        responses.insert("415".into(), error_response("the body is not `application/json`"));
        responses.insert("422".into(), error_response("a business rule refused (with `flags` when pre-bind checks failed), or an idempotency key reused with another body"));
        responses.insert("429".into(), error_response("rate limited: see `Retry-After`"));
        responses.insert("500".into(), error_response("the server failed; the details are in its log"));
        responses.insert("503".into(), error_response("the request took longer than the host allows"));
    }
    if route.op == super::Op::RoomConnect {
        responses.insert("426".into(), error_response("connect with a WebSocket upgrade"));
    }
    let mut op = json!({
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(request) = route.request {
        let schema = request(generator);
        op["requestBody"] = json!({ "required": false, "content": { "application/json": { "schema": schema } } });
    }
    if route.public {
        op["security"] = json!([]);
    }
    op
}

/// The events' contract: a schema per event type (`event.policy.bound`: the envelope's fields
/// and that type's `data`) in the components, and an entry per type under `webhooks`, the
/// payload the event bus and webhook endpoints receive. Built from `EventEnvelope`'s own schema,
/// so a new event type is documented when it is declared.
fn event_contract(schemas: &mut Map<String, Value>) -> Value {
    let mut webhooks = Map::new();
    let Some(envelope) = schemas.get("EventEnvelope").cloned() else { return Value::Object(webhooks) };
    let base = json!({
        "type": "object",
        "properties": envelope["properties"],
        "required": envelope["required"],
    });
    for variant in envelope["oneOf"].as_array().into_iter().flatten() {
        let Some(name) = variant["properties"]["type"]["const"].as_str() else { continue };
        let component = format!("event.{name}");
        let summary = variant["description"].as_str().unwrap_or(name).to_owned();
        let mut schema = json!({ "description": summary, "allOf": [base, variant] });
        schema["allOf"][1].as_object_mut().map(|o| o.remove("description"));
        schemas.insert(component.clone(), schema);
        webhooks.insert(
            name.to_owned(),
            json!({ "post": {
                "operationId": component,
                "summary": summary,
                "tags": ["events"],
                "requestBody": {
                    "required": true,
                    "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{component}") } } }
                },
                "responses": { "2XX": { "description": "received" } }
            }}),
        );
    }
    Value::Object(webhooks)
}

/// The whole document.
pub(crate) fn document(live_rooms: bool) -> Value {
    let mut generator =
        SchemaSettings::draft2020_12().with(|s| s.definitions_path = "/components/schemas".into()).into_generator();
    let mut paths = Map::new();
    for route in served(live_rooms) {
        let op = operation(route, &mut generator);
        let entry = paths.entry(openapi_path(route.path)).or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = op;
    }
    generator.subschema_for::<ErrorEnvelope>();
    generator.subschema_for::<openinsure_core::events::EventEnvelope>();
    let mut schemas = generator.take_definitions(true);
    let webhooks = event_contract(&mut schemas);
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "OpenInsure API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Submissions, quotes, binding, policies, delegated authority, referrals, claims and the ledger. Success bodies are `{\"data\": ...}`; errors are `{\"error\": {\"code\", \"message\", \"requestId\", \"fields\"?}}`. Money is integer cents in fields ending in `Cents`; times are RFC 3339 UTC."
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "paths": paths,
        "webhooks": webhooks,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } }
        }
    })
}
