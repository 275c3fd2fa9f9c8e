-- Notifications: the per-user queues, with read state and the tracking of each one's email, and
-- where each user's notifications are emailed. A notification's `body` is the notification as it
-- was made; when it was read, where its email stands (status, attempts, the next attempt, when it
-- was sent, the last error) and the mailer's lease (`lease_id`, `leased_until`) are columns.
-- `email_status` is `none`, `pending`, `sent` or `failed`. A setting's `body` is the setting as
-- put; `email` is its address (NULL: none), read by the mailer's lease.
CREATE TABLE notifications (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, user_id BINARY(16) NOT NULL,
    created_at DATETIME(6) NOT NULL, read_at DATETIME(6) NULL, email_status VARCHAR(16) NOT NULL,
    email_attempts BIGINT NOT NULL, email_next_attempt_at DATETIME(6) NULL, email_sent_at DATETIME(6) NULL,
    email_last_error VARCHAR(2000) NULL, lease_id BINARY(16) NULL, leased_until DATETIME(6) NULL,
    body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX notifications_by_user ON notifications (org_id, user_id, created_at, id);
-- The mailer's lease serves every org: the one index of these tables not led by org_id.
CREATE INDEX notifications_email_due ON notifications (email_status, email_next_attempt_at);
CREATE TABLE notification_settings (
    org_id BINARY(16) NOT NULL, user_id BINARY(16) NOT NULL, email TEXT NULL, updated_at DATETIME(6) NOT NULL,
    body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
