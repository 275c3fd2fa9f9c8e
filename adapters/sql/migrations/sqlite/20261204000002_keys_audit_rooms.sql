-- Idempotency keys, the authorizer's relation tuples, the PHI audit log and deal rooms.
CREATE TABLE idempotency_keys (
    org_id BLOB NOT NULL, user_id BLOB NOT NULL, idem_key TEXT NOT NULL, fingerprint BLOB NOT NULL,
    done INTEGER NOT NULL, at TEXT NOT NULL, status INTEGER NOT NULL, response BLOB NOT NULL,
    PRIMARY KEY (org_id, user_id, idem_key)
) WITHOUT ROWID;
CREATE TABLE relation_tuples (
    org_id BLOB NOT NULL, object_type TEXT NOT NULL, object_id TEXT NOT NULL, relation TEXT NOT NULL,
    subject_type TEXT NOT NULL, subject_id TEXT NOT NULL,
    PRIMARY KEY (org_id, object_type, object_id, relation, subject_type, subject_id)
) WITHOUT ROWID;
-- Append-only: the application inserts and selects, never updates or deletes (the hash chain
-- would show it); only the retention command deletes whole months past the retention period.
CREATE TABLE audit_log (
    org_id BLOB NOT NULL, sequence INTEGER NOT NULL, month TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, sequence)
) WITHOUT ROWID;
CREATE INDEX audit_log_by_month ON audit_log (org_id, month, sequence);
-- The head of each org's chain: appenders queue on its row.
CREATE TABLE audit_heads (
    org_id BLOB NOT NULL, sequence INTEGER NOT NULL,
    PRIMARY KEY (org_id)
) WITHOUT ROWID;
CREATE TABLE deal_rooms (
    org_id BLOB NOT NULL, id BLOB NOT NULL, submission_id BLOB NOT NULL, status TEXT NOT NULL,
    last_activity_at TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX deal_rooms_by_submission ON deal_rooms (org_id, submission_id);
CREATE INDEX deal_rooms_by_activity ON deal_rooms (org_id, status, last_activity_at, id);
CREATE TABLE deal_room_participants (
    org_id BLOB NOT NULL, room_id BLOB NOT NULL, user_id BLOB NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, room_id, user_id)
) WITHOUT ROWID;
CREATE TABLE deal_room_messages (
    org_id BLOB NOT NULL, room_id BLOB NOT NULL, id BLOB NOT NULL, created_at TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, room_id, id)
) WITHOUT ROWID;
CREATE INDEX deal_room_messages_by_time ON deal_room_messages (org_id, room_id, created_at, id);
CREATE TABLE deal_room_annotations (
    org_id BLOB NOT NULL, room_id BLOB NOT NULL, id BLOB NOT NULL, seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, room_id, id)
) WITHOUT ROWID;
CREATE TABLE deal_room_notepad (
    org_id BLOB NOT NULL, room_id BLOB NOT NULL, seq INTEGER NOT NULL, part BLOB NOT NULL,
    PRIMARY KEY (org_id, room_id, seq)
) WITHOUT ROWID;
