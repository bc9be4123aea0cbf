-- The marketer's side of the ads module: campaign details, reach and frequency, account status,
-- per-tenant report settings, audience member edits and platform outcomes, browser pixels.

-- Campaigns carry what the platforms say about them besides their budgets.
ALTER TABLE ads_campaigns ADD COLUMN objective TEXT;      -- Meta objective / Google channel type
ALTER TABLE ads_campaigns ADD COLUMN start_date TEXT;     -- YYYY-MM-DD
ALTER TABLE ads_campaigns ADD COLUMN end_date TEXT;       -- YYYY-MM-DD; NULL: runs until stopped

-- Where the platform gives them (Meta): a day's unique reach and average frequency.
ALTER TABLE ads_daily_metrics ADD COLUMN reach INTEGER;
ALTER TABLE ads_daily_metrics ADD COLUMN frequency REAL;

-- The account's own status at the platform (active, disabled, unsettled, closed, ...), as the
-- daily account check last read it.
ALTER TABLE ads_accounts ADD COLUMN account_status TEXT;
ALTER TABLE ads_accounts ADD COLUMN account_status_detail TEXT;
ALTER TABLE ads_accounts ADD COLUMN account_checked_at INTEGER;

-- Report settings (JSON core::ads::settings::AdsSettings): default currency, Meta conversion
-- action types, score targets, Customer Match consent.
ALTER TABLE ads_settings ADD COLUMN report_settings TEXT NOT NULL DEFAULT '{}';

-- What the platform made of the last upload: its size estimate, Google's match rate range and
-- the Customer Match job still being processed (polled until it ends).
ALTER TABLE ads_audiences ADD COLUMN platform_size INTEGER;
ALTER TABLE ads_audiences ADD COLUMN match_rate TEXT;
ALTER TABLE ads_audiences ADD COLUMN platform_job TEXT;
ALTER TABLE ads_audiences ADD COLUMN platform_job_status TEXT;
ALTER TABLE ads_audiences ADD COLUMN upload_errors INTEGER;
ALTER TABLE ads_audiences ADD COLUMN members_changed_at INTEGER;

-- Browser-side tag per pixel: the tag loads the platform's own script after consent.
ALTER TABLE pixels ADD COLUMN browser_enabled INTEGER NOT NULL DEFAULT 0;

-- A completed OAuth grant whose ad accounts the person picks in the dashboard (when it reaches
-- more than one): its sealed tokens and the accounts it reaches, kept one hour at most.
CREATE TABLE ads_pending_grants (
  id                 TEXT PRIMARY KEY,
  tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  platform           TEXT NOT NULL CHECK (platform IN ('meta','google')),
  access_token_enc   TEXT NOT NULL,
  refresh_token_enc  TEXT,
  token_expires_at   INTEGER,
  login_customer_id  TEXT,
  accounts           TEXT NOT NULL,                  -- JSON [core::ads::accounts::AdAccountInfo]
  expires_at         INTEGER NOT NULL,
  created_at         INTEGER NOT NULL
);
CREATE INDEX ads_pending_grants_tenant ON ads_pending_grants(tenant_id, expires_at);
-- The id the platform's browser tag takes where it is not pixel_id (LinkedIn: the Insight Tag's
-- partner id; pixel_id is a conversion rule).
ALTER TABLE pixels ADD COLUMN browser_id TEXT;
