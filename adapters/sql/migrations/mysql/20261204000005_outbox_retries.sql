-- Delivery with backoff and a dead-letter list: `delivered` is 0 (pending), 1 (delivered) or 2
-- (dead); a pending event waits until `next_attempt_at` (NULL: now); a replay raises `generation`.
ALTER TABLE outbox
    ADD COLUMN attempts INT NOT NULL DEFAULT 0,
    ADD COLUMN generation INT NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at DATETIME(6) NULL,
    ADD COLUMN failed_at DATETIME(6) NULL,
    ADD COLUMN last_error VARCHAR(2000) NOT NULL DEFAULT '';
