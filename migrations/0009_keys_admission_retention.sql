-- Scoped and rotatable keys, admission control, and retention of what was kept forever.

-- The ingest key (`ik_…`): events and consent choices only (core::access). Stored as SHA-256,
-- like the api key; the previous one is accepted until its grace period ends.
ALTER TABLE tenants ADD COLUMN ingest_key_hash TEXT;
ALTER TABLE tenants ADD COLUMN ingest_key_hash_prev TEXT;
ALTER TABLE tenants ADD COLUMN ingest_key_prev_expires_at INTEGER;
ALTER TABLE tenants ADD COLUMN ingest_key_rotated_at INTEGER;
CREATE UNIQUE INDEX tenants_ingest_key ON tenants(ingest_key_hash);
CREATE INDEX tenants_ingest_key_prev ON tenants(ingest_key_hash_prev);

-- Site key rotation: the previous (public) site key keeps working until this instant, so pages
-- still serving the old tag are not cut off.
ALTER TABLE tenants ADD COLUMN site_key_prev TEXT;
ALTER TABLE tenants ADD COLUMN site_key_prev_expires_at INTEGER;
CREATE INDEX tenants_site_key_prev ON tenants(site_key_prev);

-- Admission control: the writes (events and consent choices) a tenant may make per UTC day;
-- NULL is the default (core::admission::DEFAULT_DAILY_QUOTA). Set by the operator.
ALTER TABLE tenants ADD COLUMN daily_quota INTEGER;

-- Per tenant and UTC day: writes admitted (the quota's count), and requests refused by the rate
-- limits or the daily quota. Counted in each isolate and added here in batches (edge::admission),
-- never per event: one upsert answers the day's total.
CREATE TABLE tenant_usage (
  tenant_id     TEXT NOT NULL,
  day           INTEGER NOT NULL,               -- unix seconds of 00:00 UTC
  writes        INTEGER NOT NULL DEFAULT 0,
  rate_limited  INTEGER NOT NULL DEFAULT 0,
  over_quota    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day)
) WITHOUT ROWID;

-- Retention (edge::store::d1::retention): what the daily job purges by age.
CREATE INDEX erasure_audit_age ON erasure_audit(erased_at);
CREATE INDEX ads_alerts_age ON ads_alerts(created_at);
CREATE INDEX ads_daily_metrics_age ON ads_daily_metrics(date);
