-- pixelgate schema. Raw PII never lands here: events hold hashed identifiers only; ip is purged
-- after 30 days by the scheduled retention job.

CREATE TABLE tenants (
  id               TEXT PRIMARY KEY,
  name             TEXT NOT NULL,
  domains          TEXT NOT NULL,              -- JSON array of host names
  site_key         TEXT NOT NULL UNIQUE,       -- public, only valid from allowed origins
  api_key_hash     TEXT NOT NULL UNIQUE,       -- SHA-256 of the secret api key
  api_key_hash_prev TEXT,                      -- accepted during a rotation
  consent_policy   TEXT NOT NULL DEFAULT '{}', -- JSON ConsentPolicy
  retention_days   INTEGER NOT NULL DEFAULT 90,
  settings         TEXT NOT NULL DEFAULT '{}', -- JSON: banner, notification webhook, ...
  created_at       INTEGER NOT NULL
);
CREATE INDEX tenants_prev_key ON tenants(api_key_hash_prev);

CREATE TABLE pixels (
  id                  TEXT PRIMARY KEY,        -- our uuid
  tenant_id           TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  platform            TEXT NOT NULL CHECK (platform IN ('meta','google','linkedin','tiktok')),
  pixel_id            TEXT NOT NULL,           -- the platform's own id
  access_token_enc    TEXT,                    -- AES-256-GCM, never returned
  api_secret_enc      TEXT,                    -- AES-256-GCM, never returned
  is_active           INTEGER NOT NULL DEFAULT 1,
  server_side_enabled INTEGER NOT NULL DEFAULT 1,
  test_event_code     TEXT,
  domains             TEXT NOT NULL DEFAULT '[]',
  last_verified_at    INTEGER,
  last_verify_result  TEXT,
  created_at          INTEGER NOT NULL,
  updated_at          INTEGER NOT NULL
);
CREATE INDEX pixels_tenant ON pixels(tenant_id);

-- Append-only: a new choice is a new row; the latest row is the visitor's state.
CREATE TABLE consent_records (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id   TEXT NOT NULL,
  visitor_id  TEXT NOT NULL,
  analytics   INTEGER NOT NULL,
  marketing   INTEGER NOT NULL,
  functional  INTEGER NOT NULL,
  version     TEXT NOT NULL,
  tc_string   TEXT,
  ip          TEXT,
  created_at  INTEGER NOT NULL
);
CREATE INDEX consent_visitor ON consent_records(tenant_id, visitor_id, id);
CREATE INDEX consent_created ON consent_records(created_at);

CREATE TABLE events (
  tenant_id    TEXT NOT NULL,
  event_id     TEXT NOT NULL,
  event_name   TEXT NOT NULL,
  event_time   INTEGER NOT NULL,
  visitor_id   TEXT,
  url          TEXT,
  payload      TEXT NOT NULL,                  -- JSON Event without client ip (hashed PII only)
  ip           TEXT,
  consent      TEXT NOT NULL,                  -- JSON {analytics, marketing} the event was routed under
  received_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX events_received ON events(tenant_id, received_at);
CREATE INDEX events_visitor ON events(tenant_id, visitor_id);
CREATE INDEX events_ip_age ON events(received_at) WHERE ip IS NOT NULL;

CREATE TABLE deliveries (
  tenant_id   TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  pixel_id    TEXT NOT NULL,                   -- our pixel uuid
  platform    TEXT NOT NULL,
  status      TEXT NOT NULL,                   -- queued|retrying|delivered|failed|skipped
  attempts    INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT,
  trace_id    TEXT,                            -- e.g. Meta fbtrace_id
  response    TEXT,                            -- short platform answer (never PII)
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, event_id, pixel_id)
);
CREATE INDEX deliveries_updated ON deliveries(tenant_id, updated_at);
CREATE INDEX deliveries_pixel ON deliveries(pixel_id, status, updated_at);

CREATE TABLE intake_counters (
  tenant_id   TEXT NOT NULL,
  hour        INTEGER NOT NULL,                -- unix seconds, truncated to the hour
  received    INTEGER NOT NULL DEFAULT 0,
  accepted    INTEGER NOT NULL DEFAULT 0,
  duplicates  INTEGER NOT NULL DEFAULT 0,
  rejected    INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour)
);
