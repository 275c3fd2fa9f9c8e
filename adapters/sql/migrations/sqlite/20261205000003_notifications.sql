-- Notifications: the per-user queues, with read state and the tracking of each one's email, and
-- where each user's notifications are emailed. A notification's `body` is the notification as it
-- was made; when it was read, where its email stands (status, attempts, the next attempt, when it
-- was sent, the last error) and the mailer's lease (`lease_id`, `leased_until`) are columns.
-- `email_status` is `none`, `pending`, `sent` or `failed`. A setting's `body` is the setting as
-- put; `email` is its address (NULL: none), read by the mailer's lease.
CREATE TABLE notifications (
    org_id BLOB NOT NULL, id BLOB NOT NULL, user_id BLOB NOT NULL,
    created_at TEXT NOT NULL, read_at TEXT, email_status TEXT NOT NULL,
    email_attempts INTEGER NOT NULL, email_next_attempt_at TEXT, email_sent_at TEXT,
    email_last_error TEXT, lease_id BLOB, leased_until TEXT,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX notifications_by_user ON notifications (org_id, user_id, created_at, id);
-- The mailer's lease serves every org: the one index of these tables not led by org_id.
CREATE INDEX notifications_email_due ON notifications (email_status, email_next_attempt_at);
CREATE TABLE notification_settings (
    org_id BLOB NOT NULL, user_id BLOB NOT NULL, email TEXT, updated_at TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
) WITHOUT ROWID;
