-- Every delivery is auditable and replayable. The event a replay re-drives is rebuilt from its
-- `events` row (payload: the event without its IP, hashed PII only; ip until purged; the consent
-- it was routed under), so nothing about the event is added here; a delivery row keeps how often
-- it was replayed and when.
ALTER TABLE deliveries ADD COLUMN replays INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN replayed_at INTEGER;

-- The audit listing: a tenant's deliveries in one status, newest first (keyset on the row's
-- position, which an index on these columns keeps in order).
CREATE INDEX deliveries_status ON deliveries(tenant_id, status);
