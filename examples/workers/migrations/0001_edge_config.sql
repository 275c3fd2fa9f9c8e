-- Edge config (D1): copies of non-PHI configuration the Worker reads on every quote, keyed by
-- org (`<org>/rates/<book>/<line>/<program>`). Written only through openinsure_hipaa's
-- EdgeStore, which takes nothing but the JSON of EdgeSafe types. `expires_at` is RFC 3339 text in
-- UTC (compares as text), NULL for no expiry.
CREATE TABLE IF NOT EXISTS edge_config (
  key TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL,
  expires_at TEXT
);
CREATE INDEX IF NOT EXISTS edge_config_expires ON edge_config (expires_at) WHERE expires_at IS NOT NULL;
