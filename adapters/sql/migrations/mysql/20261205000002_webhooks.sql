-- Webhooks: the org's endpoints (their document holds the signing secrets), the deliveries of
-- events to them and the log of attempts. A delivery's `body` is the delivery as it was made (its
-- payload fixed); where it stands (status, attempts, the next and the last attempt, the last
-- status code and error) and its lease are columns, so an endpoint's pending deliveries are
-- failed, or its failed ones replayed, by one statement. `status` is `pending`, `delivered` or
-- `failed`.
CREATE TABLE webhook_endpoints (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, enabled TINYINT NOT NULL, created_at DATETIME(6) NOT NULL,
    revision BIGINT NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX webhook_endpoints_by_time ON webhook_endpoints (org_id, created_at, id);
CREATE TABLE webhook_deliveries (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, endpoint_id BINARY(16) NOT NULL,
    created_at DATETIME(6) NOT NULL, status VARCHAR(16) NOT NULL, attempts BIGINT NOT NULL,
    next_attempt_at DATETIME(6) NULL, last_attempt_at DATETIME(6) NULL, last_status_code INT NULL,
    last_error VARCHAR(2000) NULL, lease_id BINARY(16) NULL, leased_until DATETIME(6) NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (org_id, endpoint_id, created_at, id);
CREATE INDEX webhook_deliveries_by_status ON webhook_deliveries (org_id, endpoint_id, status, created_at);
-- The deliverer's lease serves every org: its one index not led by org_id (as the outbox's).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE TABLE webhook_attempts (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, delivery_id BINARY(16) NOT NULL,
    endpoint_id BINARY(16) NOT NULL, at DATETIME(6) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (org_id, delivery_id, at, id);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (org_id, endpoint_id);
