-- Idempotency keys, the authorizer's relation tuples, the PHI audit log and deal rooms.
CREATE TABLE idempotency_keys (
    org_id BINARY(16) NOT NULL, user_id BINARY(16) NOT NULL, idem_key VARCHAR(255) NOT NULL, fingerprint BINARY(32) NOT NULL,
    done TINYINT NOT NULL, at DATETIME(6) NOT NULL, status BIGINT NOT NULL, response LONGBLOB NOT NULL,
    PRIMARY KEY (org_id, user_id, idem_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE relation_tuples (
    org_id BINARY(16) NOT NULL, object_type VARCHAR(32) NOT NULL, object_id VARCHAR(100) NOT NULL, relation VARCHAR(32) NOT NULL,
    subject_type VARCHAR(32) NOT NULL, subject_id VARCHAR(100) NOT NULL,
    PRIMARY KEY (org_id, object_type, object_id, relation, subject_type, subject_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- Append-only: the application inserts and selects, never updates or deletes (the hash chain
-- would show it); only the retention command deletes whole months past the retention period.
CREATE TABLE audit_log (
    org_id BINARY(16) NOT NULL, sequence BIGINT NOT NULL, month CHAR(7) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, sequence)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX audit_log_by_month ON audit_log (org_id, month, sequence);
-- The head of each org's chain: appenders queue on its row.
CREATE TABLE audit_heads (
    org_id BINARY(16) NOT NULL, sequence BIGINT NOT NULL,
    PRIMARY KEY (org_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE deal_rooms (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, submission_id BINARY(16) NOT NULL, status VARCHAR(16) NOT NULL,
    last_activity_at DATETIME(6) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE UNIQUE INDEX deal_rooms_by_submission ON deal_rooms (org_id, submission_id);
CREATE INDEX deal_rooms_by_activity ON deal_rooms (org_id, status, last_activity_at, id);
CREATE TABLE deal_room_participants (
    org_id BINARY(16) NOT NULL, room_id BINARY(16) NOT NULL, user_id BINARY(16) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, room_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE deal_room_messages (
    org_id BINARY(16) NOT NULL, room_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, created_at DATETIME(6) NOT NULL,
    body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, room_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX deal_room_messages_by_time ON deal_room_messages (org_id, room_id, created_at, id);
CREATE TABLE deal_room_annotations (
    org_id BINARY(16) NOT NULL, room_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, seq BIGINT NOT NULL,
    body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, room_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE deal_room_notepad (
    org_id BINARY(16) NOT NULL, room_id BINARY(16) NOT NULL, seq BIGINT NOT NULL, part LONGBLOB NOT NULL,
    PRIMARY KEY (org_id, room_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
