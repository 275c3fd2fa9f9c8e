-- The dispatcher acknowledges events by id; a bind reads one insured's counts in every year.
CREATE INDEX outbox_by_id ON outbox (id);
CREATE INDEX da_usage_insured_by_insured ON da_usage_insured (org_id, agreement_id, insured_key, agreement_year);
