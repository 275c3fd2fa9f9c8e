-- The core store: every record is its JSON document (`body`) beside the columns it is found by.
-- Every key starts with org_id, as on MySQL/Vitess.
CREATE TABLE submissions (
    org_id BLOB NOT NULL, id BLOB NOT NULL, revision INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE TABLE quotes (
    org_id BLOB NOT NULL, id BLOB NOT NULL, submission_id BLOB NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX quotes_by_submission ON quotes (org_id, submission_id, id);
CREATE TABLE agreements (
    org_id BLOB NOT NULL, id BLOB NOT NULL, program_id BLOB NOT NULL, revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX agreements_by_program ON agreements (org_id, program_id, id);
CREATE TABLE da_usage (
    org_id BLOB NOT NULL, agreement_id BLOB NOT NULL, agreement_year INTEGER NOT NULL,
    written_premium_cents INTEGER NOT NULL, q1_cents INTEGER NOT NULL, q2_cents INTEGER NOT NULL,
    q3_cents INTEGER NOT NULL, q4_cents INTEGER NOT NULL, policy_count INTEGER NOT NULL,
    PRIMARY KEY (org_id, agreement_id, agreement_year)
) WITHOUT ROWID;
CREATE TABLE da_usage_insured (
    org_id BLOB NOT NULL, agreement_id BLOB NOT NULL, agreement_year INTEGER NOT NULL,
    insured_key TEXT NOT NULL, policies INTEGER NOT NULL,
    PRIMARY KEY (org_id, agreement_id, agreement_year, insured_key)
) WITHOUT ROWID;
CREATE TABLE profiles (
    org_id BLOB NOT NULL, id BLOB NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE TABLE assignments (
    org_id BLOB NOT NULL, user_id BLOB NOT NULL, profile_id BLOB NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id, profile_id)
) WITHOUT ROWID;
CREATE TABLE rules (
    org_id BLOB NOT NULL, id BLOB NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE TABLE referrals (
    org_id BLOB NOT NULL, id BLOB NOT NULL, submission_id BLOB NOT NULL, status TEXT NOT NULL,
    revision INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX referrals_by_submission ON referrals (org_id, submission_id, id);
CREATE TABLE referral_activities (
    org_id BLOB NOT NULL, referral_id BLOB NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, referral_id, seq)
) WITHOUT ROWID;
CREATE TABLE policies (
    org_id BLOB NOT NULL, id BLOB NOT NULL, number TEXT NOT NULL, revision INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX policies_by_number ON policies (org_id, number);
CREATE TABLE policy_quotes (
    org_id BLOB NOT NULL, quote_id BLOB NOT NULL, policy_id BLOB NOT NULL,
    PRIMARY KEY (org_id, quote_id)
) WITHOUT ROWID;
CREATE TABLE renewals (
    org_id BLOB NOT NULL, prior_id BLOB NOT NULL, policy_id BLOB NOT NULL,
    PRIMARY KEY (org_id, prior_id)
) WITHOUT ROWID;
CREATE TABLE sequences (
    org_id BLOB NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL,
    PRIMARY KEY (org_id, name)
) WITHOUT ROWID;
CREATE TABLE claims (
    org_id BLOB NOT NULL, id BLOB NOT NULL, revision INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE TABLE outbox (
    org_id BLOB NOT NULL, id BLOB NOT NULL, occurred_at TEXT NOT NULL, delivered INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
CREATE INDEX outbox_pending ON outbox (delivered, occurred_at, id);
CREATE INDEX outbox_by_org ON outbox (org_id, occurred_at, id);
CREATE TABLE money_ids (
    org_id BLOB NOT NULL, id BLOB NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) WITHOUT ROWID;
