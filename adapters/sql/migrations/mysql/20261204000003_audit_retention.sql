-- What the PHI audit log's retention removed: whole months of one org, when, how many entries.
-- The application's database user may only INSERT and SELECT the audit log (the hash chain makes
-- any other change visible; these grants make it impossible). With `app` the application user and
-- `db` the database, an administrator grants, table by table (`openinsure_sql::application_grants`
-- writes them out):
--   GRANT SELECT, INSERT, UPDATE, DELETE ON db.<every table but audit_log> TO app;
--   GRANT SELECT, INSERT ON db.audit_log TO app;
-- Migrations (`openinsure migrate`) and the retention (`openinsure audit purge`) run as an
-- administrator.
CREATE TABLE audit_purges (
    org_id BINARY(16) NOT NULL, month CHAR(7) NOT NULL, entries BIGINT NOT NULL, purged_at DATETIME(6) NOT NULL,
    PRIMARY KEY (org_id, month)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
