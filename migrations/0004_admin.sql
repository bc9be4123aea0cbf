-- Dashboard, tenant security and the daily pixel health check.

-- Key rotation: the previous key (api_key_hash_prev) is accepted only until this instant; NULL or
-- past means it no longer works. Rotation without a grace period clears api_key_hash_prev.
ALTER TABLE tenants ADD COLUMN api_key_prev_expires_at INTEGER;
ALTER TABLE tenants ADD COLUMN api_key_rotated_at INTEGER;
-- Slack-compatible incoming webhook for health notifications (JSON {text, blocks}).
ALTER TABLE tenants ADD COLUMN notify_webhook_url TEXT;

-- Daily health check results, per pixel (the dashboard shows them).
ALTER TABLE pixels ADD COLUMN health_checked_at INTEGER;
ALTER TABLE pixels ADD COLUMN health_result TEXT;     -- JSON {ok, silent_hours, verify, notified}

-- Failed authentications per client IP per fixed one-minute window (rate limiting). D1, not KV:
-- the counter must be read-your-writes and increment atomically (UPSERT … RETURNING).
CREATE TABLE auth_failures (
  bucket  TEXT NOT NULL,                -- "ip:<address>"
  minute  INTEGER NOT NULL,             -- unix minute (seconds / 60)
  n       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (bucket, minute)
);
CREATE INDEX auth_failures_window ON auth_failures(minute);
