-- Conversions beyond the browser: offline and CRM conversions, the Google Ads destination, the
-- Stripe and Meta Lead Ads webhooks, and the touchpoints attribution reads. Raw PII never lands
-- here: hashes only.

-- Pixels: a `google_ads` platform (its pixel_id is the customer id) and per-platform settings
-- (JSON core::destinations::PixelSettings: Google Ads conversion actions, time zone, manager
-- account; TikTok's offline event set). SQLite cannot change a CHECK: the table is rebuilt as it
-- was (every column migrations 0001-0008 gave it), with the wider check and the new column.
CREATE TABLE pixels_new (
  id                  TEXT PRIMARY KEY,
  tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  platform            TEXT NOT NULL CHECK (platform IN ('meta','google','linkedin','tiktok','google_ads')),
  pixel_id            TEXT NOT NULL,
  access_token_enc    TEXT,
  api_secret_enc      TEXT,
  is_active           INTEGER NOT NULL DEFAULT 1,
  server_side_enabled INTEGER NOT NULL DEFAULT 1,
  test_event_code     TEXT,
  domains             TEXT NOT NULL DEFAULT '[]',
  last_verified_at    INTEGER,
  last_verify_result  TEXT,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL,
  event_names         TEXT NOT NULL DEFAULT '[]',
  health_checked_at   INTEGER,
  health_result       TEXT,
  paused_reason       TEXT,
  paused_at           INTEGER,
  settings            TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO pixels_new (id, tenant_id, platform, pixel_id, access_token_enc, api_secret_enc,
  is_active, server_side_enabled, test_event_code, domains, last_verified_at, last_verify_result,
  created_at, updated_at, event_names, health_checked_at, health_result, paused_reason, paused_at)
SELECT id, tenant_id, platform, pixel_id, access_token_enc, api_secret_enc, is_active,
  server_side_enabled, test_event_code, domains, last_verified_at, last_verify_result, created_at,
  updated_at, event_names, health_checked_at, health_result, paused_reason, paused_at FROM pixels;
DROP TABLE pixels;
ALTER TABLE pixels_new RENAME TO pixels;
CREATE INDEX pixels_tenant ON pixels(tenant_id);

-- Every conversion the conversions API, the Stripe webhook or a Meta lead accepted, once per
-- conversion id, whatever the dedup window: a conversion id seen before is never delivered again.
-- Its per-destination status is the delivery audit's (by event_id; past the shards' 48 h window
-- only exceptions keep a row, so how many pixels took it is kept here).
CREATE TABLE conversions (
  tenant_id      TEXT NOT NULL,
  conversion_id  TEXT NOT NULL,
  event_id       TEXT NOT NULL,                 -- what it is delivered as (event_id or conversion_id)
  name           TEXT NOT NULL,
  source         TEXT NOT NULL,                 -- crm|physical_store|phone_call|other
  origin         TEXT NOT NULL,                 -- api|stripe|meta_lead
  happened_at    INTEGER NOT NULL,
  value          REAL,
  currency       TEXT,
  order_id       TEXT,
  visitor_id     TEXT,
  fresh          INTEGER NOT NULL,              -- 0: its event id had been accepted (the browser's)
  routed         INTEGER NOT NULL,              -- pixels that took it when it was accepted
  received_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, conversion_id)
);
CREATE INDEX conversions_tenant ON conversions(tenant_id);

-- Per-tenant integrations: settings (JSON, nothing secret) and a sealed secret (AES-256-GCM,
-- never returned): stripe {webhook_secret}, meta_leads {page_ids, crm_webhook_url; the signing
-- secret of the CRM forward}, attribution {lookback_days}.
CREATE TABLE integrations (
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  kind        TEXT NOT NULL,
  settings    TEXT NOT NULL DEFAULT '{}',
  secret_enc  TEXT,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, kind)
);

-- A Facebook page's leads belong to the one tenant that connected it.
CREATE TABLE lead_pages (
  page_id    TEXT PRIMARY KEY,
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE
);

-- Webhook deliveries already processed (Stripe event ids): a replay is a no-op.
CREATE TABLE webhook_receipts (
  tenant_id    TEXT NOT NULL,
  provider     TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, provider, event_id)
) WITHOUT ROWID;

-- Refunds Stripe reported, against the conversion (payment) they reverse.
CREATE TABLE refunds (
  tenant_id      TEXT NOT NULL,
  refund_id      TEXT NOT NULL,
  conversion_id  TEXT,
  amount         REAL NOT NULL,
  currency       TEXT NOT NULL,
  refunded_at    INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, refund_id)
) WITHOUT ROWID;

-- Meta Lead Ads leads, idempotent by leadgen id: hashed identifiers only, and the CRM forward's
-- state (the forward itself carries the lead's answers and is retried until the CRM takes it).
CREATE TABLE leads (
  tenant_id        TEXT NOT NULL,
  leadgen_id       TEXT NOT NULL,
  page_id          TEXT NOT NULL,
  form_id          TEXT,
  ad_id            TEXT,
  em               TEXT,                        -- SHA-256 of the normalized email
  ph               TEXT,                        -- SHA-256 of the E.164 phone
  created_at       INTEGER NOT NULL,
  forward_status   TEXT NOT NULL,               -- pending|delivered|failed|none
  forward_attempts INTEGER NOT NULL DEFAULT 0,
  forward_error    TEXT,
  received_at      INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, leadgen_id)
) WITHOUT ROWID;

-- Attribution. Written by the queue consumer with the events it stores, never on the beacon
-- path, and only for what attribution needs: a touchpoint for an event that lands from a
-- campaign (utm or click id in its URL) or another site (an external referrer), at most one per
-- visitor, day and source; and a fact per conversion-like event (its name, value, time).
CREATE TABLE touchpoints (
  tenant_id   TEXT NOT NULL,
  visitor_id  TEXT NOT NULL,
  day         INTEGER NOT NULL,                 -- days since 1970-01-01 (UTC)
  channel     TEXT NOT NULL,                    -- paid|organic_search|social|email|referral
  source      TEXT NOT NULL,
  medium      TEXT NOT NULL,
  campaign    TEXT NOT NULL,
  at          INTEGER NOT NULL,                 -- the first such touch of the day
  PRIMARY KEY (tenant_id, visitor_id, day, channel, source, medium, campaign)
) WITHOUT ROWID;

CREATE TABLE conversion_facts (
  tenant_id   TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  name        TEXT NOT NULL,
  visitor_id  TEXT,
  at          INTEGER NOT NULL,
  value       REAL,
  currency    TEXT,
  touch       TEXT,                             -- JSON touch of the conversion itself (its click ids)
  PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX conversion_facts_at ON conversion_facts(tenant_id, name, at);
