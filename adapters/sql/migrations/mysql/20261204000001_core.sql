-- The core store: every record is its JSON document (`body`) beside the columns it is found by.
-- Every key starts with org_id: Vitess shards by it (vschema.json, binary_md5). No foreign keys,
-- AUTO_INCREMENT, views, routines or triggers; ids BINARY(16); times DATETIME(6) UTC; money BIGINT
-- cents; documents LONGTEXT.
CREATE TABLE submissions (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, revision BIGINT NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE quotes (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, submission_id BINARY(16) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX quotes_by_submission ON quotes (org_id, submission_id, id);
CREATE TABLE agreements (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, program_id BINARY(16) NOT NULL, revision BIGINT NOT NULL,
    body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX agreements_by_program ON agreements (org_id, program_id, id);
CREATE TABLE da_usage (
    org_id BINARY(16) NOT NULL, agreement_id BINARY(16) NOT NULL, agreement_year BIGINT NOT NULL,
    written_premium_cents BIGINT NOT NULL, q1_cents BIGINT NOT NULL, q2_cents BIGINT NOT NULL,
    q3_cents BIGINT NOT NULL, q4_cents BIGINT NOT NULL, policy_count BIGINT NOT NULL,
    PRIMARY KEY (org_id, agreement_id, agreement_year)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE da_usage_insured (
    org_id BINARY(16) NOT NULL, agreement_id BINARY(16) NOT NULL, agreement_year BIGINT NOT NULL,
    insured_key VARCHAR(255) NOT NULL, policies BIGINT NOT NULL,
    PRIMARY KEY (org_id, agreement_id, agreement_year, insured_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE profiles (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE assignments (
    org_id BINARY(16) NOT NULL, user_id BINARY(16) NOT NULL, profile_id BINARY(16) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, user_id, profile_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE rules (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE referrals (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, submission_id BINARY(16) NOT NULL, status VARCHAR(32) NOT NULL,
    revision BIGINT NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX referrals_by_submission ON referrals (org_id, submission_id, id);
CREATE TABLE referral_activities (
    org_id BINARY(16) NOT NULL, referral_id BINARY(16) NOT NULL, seq BIGINT NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, referral_id, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE policies (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, number VARCHAR(64) NOT NULL, revision BIGINT NOT NULL,
    body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE UNIQUE INDEX policies_by_number ON policies (org_id, number);
CREATE TABLE policy_quotes (
    org_id BINARY(16) NOT NULL, quote_id BINARY(16) NOT NULL, policy_id BINARY(16) NOT NULL,
    PRIMARY KEY (org_id, quote_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE renewals (
    org_id BINARY(16) NOT NULL, prior_id BINARY(16) NOT NULL, policy_id BINARY(16) NOT NULL,
    PRIMARY KEY (org_id, prior_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE sequences (
    org_id BINARY(16) NOT NULL, name VARCHAR(64) NOT NULL, value BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE claims (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, revision BIGINT NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE outbox (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, occurred_at DATETIME(6) NOT NULL, delivered TINYINT NOT NULL,
    body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX outbox_pending ON outbox (delivered, occurred_at, id);
CREATE INDEX outbox_by_org ON outbox (org_id, occurred_at, id);
CREATE TABLE money_ids (
    org_id BINARY(16) NOT NULL, id BINARY(16) NOT NULL, body LONGTEXT NOT NULL,
    PRIMARY KEY (org_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
