-- What the PHI audit log's retention removed: whole months of one org, when, how many entries.
CREATE TABLE audit_purges (
    org_id BLOB NOT NULL, month TEXT NOT NULL, entries INTEGER NOT NULL, purged_at TEXT NOT NULL,
    PRIMARY KEY (org_id, month)
) WITHOUT ROWID;
