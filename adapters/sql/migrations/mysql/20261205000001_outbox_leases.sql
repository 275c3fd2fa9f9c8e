-- Leases: several dispatchers on one database (several `serve` processes) each take their own
-- pending events. A dispatcher sets `lease_id` (new per lease) and `leased_until`; delivery, a
-- recorded failure or the time running out ends the lease.
ALTER TABLE outbox ADD COLUMN lease_id BINARY(16) NULL, ADD COLUMN leased_until DATETIME(6) NULL;
CREATE INDEX outbox_lease ON outbox (lease_id);
