-- Per-event state moved to each tenant's event shards (SQLite Durable Objects): the claim, the
-- event (48 h), its parcel's outcome and a row per exceptional delivery live there, so no row
-- per event is written here. D1 keeps configuration, consent evidence and hourly rollups.
DROP TABLE IF EXISTS deliveries;
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS paused_jobs;

-- Delivery outcomes per tenant, hour, pixel and status, added by the shards about once a minute
-- (one row per combination, never one per event). Every attempt's outcome counts: `retrying`
-- counts attempts that will be retried; delivered, failed and skipped are final.
CREATE TABLE delivery_counters (
  tenant_id TEXT NOT NULL,
  hour      INTEGER NOT NULL,
  pixel_id  TEXT NOT NULL,
  platform  TEXT NOT NULL,
  status    TEXT NOT NULL,
  n         INTEGER NOT NULL DEFAULT 0,
  last_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, hour, pixel_id, status)
) WITHOUT ROWID;
-- A pixel's last delivery (the daily health check, the pixel list).
CREATE INDEX delivery_counters_pixel ON delivery_counters(pixel_id, status, last_at);

-- How many event shards a tenant has (it only grows; the previous count is asked too for the
-- dedup window after a change).
ALTER TABLE tenants ADD COLUMN shards INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tenants ADD COLUMN shards_previous INTEGER NOT NULL DEFAULT 1;
ALTER TABLE tenants ADD COLUMN shards_changed_at INTEGER NOT NULL DEFAULT 0;
