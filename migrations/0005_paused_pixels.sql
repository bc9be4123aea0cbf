-- A pixel the platform refuses (expired or revoked token, unknown pixel, missing permission) is
-- paused: its deliveries are parked here, untouched, until its credentials are updated.
ALTER TABLE pixels ADD COLUMN paused_reason TEXT;
ALTER TABLE pixels ADD COLUMN paused_at INTEGER;

CREATE TABLE paused_jobs (
  tenant_id  TEXT NOT NULL,
  pixel_id   TEXT NOT NULL,           -- pixels.id
  event_id   TEXT NOT NULL,
  body       TEXT NOT NULL,           -- the Deliver queue message, hashed PII only
  paused_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, pixel_id, event_id)
) WITHOUT ROWID;
