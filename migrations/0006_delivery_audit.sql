-- Every delivery is auditable and replayable. The event a replay re-drives is rebuilt from its
-- `events` row (payload: the event without its IP, hashed PII only; ip until purged; the consent
-- it was routed under), so nothing about the event is added here; a delivery row keeps how often
-- it was replayed and when.
ALTER TABLE deliveries ADD COLUMN replays INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN replayed_at INTEGER;

-- The audit listing pages newest first by the row's position (rowid, which never changes). An
-- index keeps its rows in rowid order per key, so a page is a range read, never a sort: by status
-- (the dashboard's failed and paused lists; also with a pixel), and all of a tenant's (also by
-- pixel). The second is written on insert only.
CREATE INDEX deliveries_status ON deliveries(tenant_id, status);
CREATE INDEX deliveries_tenant ON deliveries(tenant_id);
