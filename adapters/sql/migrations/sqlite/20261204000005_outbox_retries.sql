-- Delivery with backoff and a dead-letter list: `delivered` is 0 (pending), 1 (delivered) or 2
-- (dead); a pending event waits until `next_attempt_at` (NULL: now); a replay raises `generation`.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN failed_at TEXT;
ALTER TABLE outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
