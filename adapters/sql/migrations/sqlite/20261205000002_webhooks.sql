-- Webhooks: the org's endpoints (their document holds the signing secrets), the deliveries of
-- events to them and the log of attempts. A delivery's `body` is the delivery as it was made (its
-- payload fixed); where it stands (status, attempts, the next and the last attempt, the last
-- status code and error) and its lease are columns, so an endpoint's pending deliveries are
-- failed, or its failed ones replayed, by one statement. `status` is `pending`, `delivered` or
-- `failed`.
CREATE TABLE webhook_endpoints (
    org_id BLOB NOT NULL, id BLOB NOT NULL, enabled INTEGER NOT NULL, created_at TEXT NOT NULL,
    revision INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX webhook_endpoints_by_time ON webhook_endpoints (org_id, created_at, id);
CREATE TABLE webhook_deliveries (
    org_id BLOB NOT NULL, id BLOB NOT NULL, endpoint_id BLOB NOT NULL,
    created_at TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_attempt_at TEXT, last_attempt_at TEXT, last_status_code INTEGER,
    last_error TEXT, lease_id BLOB, leased_until TEXT, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (org_id, endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_by_status ON webhook_deliveries (org_id, endpoint_id, status, created_at);
-- The deliverer's lease serves every org: its one index not led by org_id (as the outbox's).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE TABLE webhook_attempts (
    org_id BLOB NOT NULL, id BLOB NOT NULL, delivery_id BLOB NOT NULL,
    endpoint_id BLOB NOT NULL, at TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (org_id, delivery_id, at, id);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (org_id, endpoint_id);
