-- Connected ads accounts: accounts + encrypted tokens, campaigns, daily metrics,
-- alerts, audiences (hashes only), OAuth states. Money is INTEGER micros.

CREATE TABLE ads_accounts (
  id                 TEXT PRIMARY KEY,               -- our uuid (API id, scheduler job key)
  tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  platform           TEXT NOT NULL CHECK (platform IN ('meta','google')),
  account_id         TEXT NOT NULL,                  -- Meta ad account id without act_; Google customer id (10 digits)
  name               TEXT NOT NULL DEFAULT '',
  currency           TEXT NOT NULL DEFAULT 'USD',
  login_customer_id  TEXT,                           -- Google manager account, digits
  access_token_enc   TEXT NOT NULL,                  -- AES-256-GCM, never returned
  refresh_token_enc  TEXT,                           -- AES-256-GCM (Google)
  token_expires_at   INTEGER,
  status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','error')),
  last_error         TEXT,
  last_sync_at       INTEGER,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  UNIQUE (tenant_id, platform, account_id)
);

CREATE TABLE ads_campaigns (
  tenant_id               TEXT NOT NULL,
  platform                TEXT NOT NULL,
  account_id              TEXT NOT NULL,
  campaign_id             TEXT NOT NULL,
  name                    TEXT NOT NULL,
  status                  TEXT NOT NULL,             -- active|paused|archived
  currency                TEXT NOT NULL,
  daily_budget_micros     INTEGER,
  lifetime_budget_micros  INTEGER,
  budget_remaining_micros INTEGER,
  updated_at              INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, platform, account_id, campaign_id)
);

-- One row per campaign-day: a rerun of a sync overwrites (upsert on the key), never adds.
CREATE TABLE ads_daily_metrics (
  tenant_id               TEXT NOT NULL,
  platform                TEXT NOT NULL,
  account_id              TEXT NOT NULL,
  campaign_id             TEXT NOT NULL,
  date                    TEXT NOT NULL,             -- YYYY-MM-DD (UTC)
  campaign_name           TEXT NOT NULL,
  currency                TEXT NOT NULL,
  impressions             INTEGER NOT NULL,
  clicks                  INTEGER NOT NULL,
  spend_micros            INTEGER NOT NULL,
  conversions             REAL NOT NULL,
  conversion_value_micros INTEGER NOT NULL,
  run_key                 TEXT,                      -- the scheduler slot that last wrote it
  synced_at               INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, platform, account_id, campaign_id, date)
);
CREATE INDEX ads_daily_metrics_date ON ads_daily_metrics(tenant_id, date);

-- Sent alerts; the newest created_at per alert_key is the "last sent" of the 24 h throttle.
CREATE TABLE ads_alerts (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id      TEXT NOT NULL,
  alert_key      TEXT NOT NULL,
  kind           TEXT NOT NULL,
  platform       TEXT,
  account_id     TEXT NOT NULL,
  campaign_id    TEXT,
  campaign_name  TEXT,
  value          REAL,
  threshold      REAL,
  message        TEXT NOT NULL,
  delivered      TEXT NOT NULL DEFAULT 'no_webhook', -- sent|failed|no_webhook
  created_at     INTEGER NOT NULL
);
CREATE INDEX ads_alerts_key ON ads_alerts(tenant_id, alert_key, created_at);
CREATE INDEX ads_alerts_created ON ads_alerts(tenant_id, created_at);

-- Per-tenant ads settings: alert thresholds (JSON AlertThresholds) and the notification webhook.
CREATE TABLE ads_settings (
  tenant_id                TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
  alert_thresholds         TEXT NOT NULL DEFAULT '{}',
  notification_webhook_url TEXT,
  updated_at               INTEGER NOT NULL
);

CREATE TABLE ads_audiences (
  id                    TEXT PRIMARY KEY,            -- our uuid
  tenant_id             TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  ads_account_id        TEXT NOT NULL,               -- ads_accounts.id
  kind                  TEXT NOT NULL DEFAULT 'customer_list' CHECK (kind IN ('customer_list','lookalike')),
  name                  TEXT NOT NULL,
  platform_audience_id  TEXT,                        -- Meta custom audience id / Google userList resource name
  origin_audience_id    TEXT,                        -- lookalikes: our source audience id
  lookalike_spec        TEXT,                        -- JSON {country, ratio}
  member_count          INTEGER NOT NULL DEFAULT 0,
  sync_status           TEXT NOT NULL DEFAULT 'pending' CHECK (sync_status IN ('pending','synced','error')),
  last_sync_at          INTEGER,
  last_sync_result      TEXT,                        -- JSON: batches, received, invalid
  last_error            TEXT,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL
);
CREATE INDEX ads_audiences_tenant ON ads_audiences(tenant_id, ads_account_id);

-- SHA-256 hashes only (one per platform's normalization); raw values are never stored.
CREATE TABLE ads_audience_members (
  audience_id   TEXT NOT NULL,
  seq           INTEGER NOT NULL,
  email_meta    TEXT,
  email_google  TEXT,
  phone_meta    TEXT,
  phone_google  TEXT,
  PRIMARY KEY (audience_id, seq)
);

-- OAuth `state` nonces: single use (deleted on callback), 10 minutes.
CREATE TABLE ads_oauth_states (
  nonce              TEXT PRIMARY KEY,
  tenant_id          TEXT NOT NULL,
  platform           TEXT NOT NULL,
  account_id         TEXT,                           -- the ad account to bind, when the start named one
  login_customer_id  TEXT,
  redirect_uri       TEXT NOT NULL,
  expires_at         INTEGER NOT NULL
);
CREATE INDEX ads_oauth_states_expiry ON ads_oauth_states(expires_at);
