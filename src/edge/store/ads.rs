//! Ads (jobs Worker): connected ad accounts and their OAuth states, the synced campaigns and
//! daily metrics, alert settings and sent alerts, audiences and their hashed members. Every
//! statement of the ads module is here. Queries are scoped by tenant_id, except updates keyed by
//! an account or audience id the caller has just read under its tenant.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::d1::{all, batch, first, n, opt, run, s, stmt};
use crate::core::ads::accounts::{AccountStatus, AdAccountInfo};
use crate::core::ads::alerts::Alert;
use crate::core::ads::audience::{HashedContact, JobOutcome};
use crate::core::ads::campaigns::CampaignRecord;
use crate::core::ads::kpi::{self, DailyMetrics, Metrics};
use crate::core::ads::{AccountRef, AdsPlatform, Campaign, CampaignStatus};
use crate::core::calendar::{Date, DateRange};
use crate::edge::ApiError;

// ---------------------------------------------------------------- statement helpers

fn f(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

fn optn(v: Option<i64>) -> JsValue {
    v.map(|x| JsValue::from_f64(x as f64))
        .unwrap_or(JsValue::NULL)
}

fn optf(v: Option<f64>) -> JsValue {
    v.map(JsValue::from_f64).unwrap_or(JsValue::NULL)
}

fn chunks<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    for item in items {
        current.push(item);
        if current.len() == size {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Multi-row `INSERT ... VALUES (...), (...)` statements within D1's 100 bound parameters.
fn multi_insert(
    db: &D1Database,
    head: &str,
    tail: &str,
    rows: Vec<Vec<JsValue>>,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let Some(width) = rows.first().map(Vec::len) else {
        return Ok(Vec::new());
    };
    let per = (100 / width).max(1);
    let mut out = Vec::new();
    for group in chunks(rows, per) {
        let tuple = format!("({})", vec!["?"; width].join(","));
        let sql = format!(
            "{head} VALUES {} {tail}",
            vec![tuple; group.len()].join(",")
        );
        let args: Vec<JsValue> = group.into_iter().flatten().collect();
        out.push(stmt(db, &sql, &args)?);
    }
    Ok(out)
}

// ---------------------------------------------------------------- accounts

#[derive(Deserialize, Clone)]
pub struct AccountRow {
    pub id: String,
    pub tenant_id: String,
    pub platform: String,
    pub account_id: String,
    pub name: String,
    pub currency: String,
    pub login_customer_id: Option<String>,
    pub access_token_enc: String,
    pub refresh_token_enc: Option<String>,
    pub token_expires_at: Option<i64>,
    pub status: String,
    pub last_error: Option<String>,
    pub last_sync_at: Option<i64>,
    pub created_at: i64,
    pub account_status: Option<String>,
    pub account_status_detail: Option<String>,
    pub account_checked_at: Option<i64>,
}

impl AccountRow {
    pub fn platform(&self) -> AdsPlatform {
        AdsPlatform::parse(&self.platform).unwrap_or(AdsPlatform::Meta)
    }

    pub fn account_ref(&self) -> AccountRef {
        AccountRef {
            platform: self.platform(),
            account_id: self.account_id.clone(),
            currency: self.currency.clone(),
        }
    }

    /// The expiry of a Meta long-lived token, which the scheduler's token refresh follows; None
    /// for Google (its one-hour access token is refreshed when used).
    pub fn meta_token_expires_at(&self) -> Option<i64> {
        match self.platform() {
            AdsPlatform::Meta => self.token_expires_at,
            AdsPlatform::Google => None,
        }
    }

    /// The account as the API shows it (never its tokens).
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "platform": self.platform, "account_id": self.account_id,
            "name": self.name, "currency": self.currency, "status": self.status,
            "last_error": self.last_error, "last_sync_at": self.last_sync_at,
            "token_expires_at": self.token_expires_at, "login_customer_id": self.login_customer_id,
            "created_at": self.created_at, "account_status": self.account_status,
            "account_status_detail": self.account_status_detail, "account_checked_at": self.account_checked_at,
        })
    }
}

const ACCOUNT_COLS: &str = "id, tenant_id, platform, account_id, name, currency, login_customer_id, access_token_enc, refresh_token_enc, token_expires_at, status, last_error, last_sync_at, created_at, account_status, account_status_detail, account_checked_at";

/// The tenant's account by our id or by the platform's account id (our id wins).
pub async fn account_by_id(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> Result<Option<AccountRow>, ApiError> {
    first(
        db,
        &format!("SELECT {ACCOUNT_COLS} FROM ads_accounts WHERE tenant_id = ?1 AND (id = ?2 OR account_id = ?2) ORDER BY id = ?2 DESC LIMIT 1"),
        &[s(tenant_id), s(id)],
    )
    .await
}

pub async fn list_accounts(db: &D1Database, tenant_id: &str) -> Result<Vec<AccountRow>, ApiError> {
    all(
        db,
        &format!(
            "SELECT {ACCOUNT_COLS} FROM ads_accounts WHERE tenant_id = ?1 ORDER BY created_at, name, id"
        ),
        &[s(tenant_id)],
    )
    .await
}

/// A completed OAuth grant: whose it is and its sealed tokens.
pub struct SealedGrant<'a> {
    pub tenant_id: &'a str,
    pub platform: AdsPlatform,
    pub access_token_enc: &'a str,
    pub refresh_token_enc: Option<&'a str>,
    pub token_expires_at: Option<i64>,
}

/// An ad account a completed OAuth grant reaches.
pub struct AccountGrant<'a> {
    pub grant: &'a SealedGrant<'a>,
    pub info: &'a AdAccountInfo,
    /// The account's currency: the platform's, else the tenant's default.
    pub currency: &'a str,
    pub login_customer_id: Option<&'a str>,
}

/// Connects the account (id `new_id` when it is new) or reconnects it: new tokens, active, no
/// error; a grant without a refresh token keeps the stored one. Returns the stored row.
pub async fn connect_account(
    db: &D1Database,
    new_id: &str,
    grant: &AccountGrant<'_>,
    now: i64,
) -> Result<AccountRow, ApiError> {
    let (tenant_id, platform, info) = (
        grant.grant.tenant_id,
        grant.grant.platform.as_str(),
        grant.info,
    );
    let tokens = grant.grant;
    run(
        db,
        "INSERT INTO ads_accounts (id, tenant_id, platform, account_id, name, currency, login_customer_id, access_token_enc, refresh_token_enc, token_expires_at, status, created_at, updated_at, account_status, account_status_detail, account_checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'active', ?11, ?11, ?12, ?13, ?11)
         ON CONFLICT(tenant_id, platform, account_id) DO UPDATE SET name = excluded.name, currency = excluded.currency,
           login_customer_id = excluded.login_customer_id, access_token_enc = excluded.access_token_enc,
           refresh_token_enc = COALESCE(excluded.refresh_token_enc, ads_accounts.refresh_token_enc),
           token_expires_at = excluded.token_expires_at, status = 'active', last_error = NULL, updated_at = excluded.updated_at,
           account_status = excluded.account_status, account_status_detail = excluded.account_status_detail,
           account_checked_at = excluded.account_checked_at",
        &[s(new_id), s(tenant_id), s(platform), s(&info.account_id), s(&info.name), s(grant.currency),
          opt(grant.login_customer_id), s(tokens.access_token_enc), opt(tokens.refresh_token_enc), optn(tokens.token_expires_at), n(now),
          s(info.status.as_str()), s(&info.status_detail)],
    )
    .await?;
    first(
        db,
        &format!("SELECT {ACCOUNT_COLS} FROM ads_accounts WHERE tenant_id = ?1 AND platform = ?2 AND account_id = ?3"),
        &[s(tenant_id), s(platform), s(&info.account_id)],
    )
    .await?
    .ok_or_else(|| ApiError::internal("ads account", "missing after upsert"))
}

/// Removes the account with its tokens, campaigns and audiences; synced daily metrics stay as
/// history. One transaction.
pub async fn delete_account(
    db: &D1Database,
    tenant_id: &str,
    row: &AccountRow,
) -> Result<(), ApiError> {
    batch(
        db,
        vec![
            stmt(db, "DELETE FROM ads_audience_members WHERE audience_id IN (SELECT id FROM ads_audiences WHERE tenant_id = ?1 AND ads_account_id = ?2)", &[s(tenant_id), s(&row.id)])?,
            stmt(db, "DELETE FROM ads_audiences WHERE tenant_id = ?1 AND ads_account_id = ?2", &[s(tenant_id), s(&row.id)])?,
            stmt(db, "DELETE FROM ads_campaigns WHERE tenant_id = ?1 AND platform = ?2 AND account_id = ?3", &[s(tenant_id), s(&row.platform), s(&row.account_id)])?,
            stmt(db, "DELETE FROM ads_accounts WHERE tenant_id = ?1 AND id = ?2", &[s(tenant_id), s(&row.id)])?,
        ],
    )
    .await
}

/// A refreshed access token (sealed) and its expiry.
pub async fn set_access_token(
    db: &D1Database,
    account_id: &str,
    access_token_enc: &str,
    expires_at: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_accounts SET access_token_enc = ?1, token_expires_at = ?2, updated_at = ?3 WHERE id = ?4",
        &[s(access_token_enc), optn(expires_at), n(now), s(account_id)],
    )
    .await
    .map(|_| ())
}

pub async fn mark_account_error(
    db: &D1Database,
    tenant_id: &str,
    account_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_accounts SET status = 'error', last_error = ?1, updated_at = ?2 WHERE tenant_id = ?3 AND id = ?4",
        &[s(reason), n(now), s(tenant_id), s(account_id)],
    )
    .await
    .map(|_| ())
}

pub async fn mark_account_active(
    db: &D1Database,
    tenant_id: &str,
    account_id: &str,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_accounts SET status = 'active', last_error = NULL, updated_at = ?1 WHERE tenant_id = ?2 AND id = ?3",
        &[n(now), s(tenant_id), s(account_id)],
    )
    .await
    .map(|_| ())
}

/// What the daily account check read of the account's status at its platform.
pub async fn set_account_status(
    db: &D1Database,
    account_id: &str,
    status: AccountStatus,
    detail: &str,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_accounts SET account_status = ?1, account_status_detail = ?2, account_checked_at = ?3, updated_at = ?3 WHERE id = ?4",
        &[s(status.as_str()), s(detail), n(now), s(account_id)],
    )
    .await
    .map(|_| ())
}

/// The last failure on the account, its status unchanged.
pub async fn set_account_last_error(
    db: &D1Database,
    tenant_id: &str,
    account_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_accounts SET last_error = ?1, updated_at = ?2 WHERE tenant_id = ?3 AND id = ?4",
        &[s(reason), n(now), s(tenant_id), s(account_id)],
    )
    .await
    .map(|_| ())
}

/// Every tenant with at least one ads account.
pub async fn tenants_with_accounts(db: &D1Database) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct T {
        tenant_id: String,
    }
    let rows: Vec<T> = all(db, "SELECT DISTINCT tenant_id FROM ads_accounts", &[]).await?;
    Ok(rows.into_iter().map(|t| t.tenant_id).collect())
}

// ---------------------------------------------------------------- OAuth states

/// A started OAuth flow, kept until its callback claims it.
pub struct NewOAuthState<'a> {
    pub nonce: &'a str,
    pub tenant_id: &'a str,
    pub platform: AdsPlatform,
    pub account_id: Option<&'a str>,
    pub login_customer_id: Option<&'a str>,
    pub redirect_uri: &'a str,
    pub expires_at: i64,
}

/// Stores a started flow, dropping those expired before `now`.
pub async fn save_oauth_state(
    db: &D1Database,
    state: &NewOAuthState<'_>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "DELETE FROM ads_oauth_states WHERE expires_at < ?1",
        &[n(now)],
    )
    .await?;
    run(
        db,
        "INSERT INTO ads_oauth_states (nonce, tenant_id, platform, account_id, login_customer_id, redirect_uri, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[s(state.nonce), s(state.tenant_id), s(state.platform.as_str()), opt(state.account_id), opt(state.login_customer_id), s(state.redirect_uri), n(state.expires_at)],
    )
    .await
    .map(|_| ())
}

#[derive(Deserialize)]
pub struct StateRow {
    pub tenant_id: String,
    pub account_id: Option<String>,
    pub login_customer_id: Option<String>,
    pub redirect_uri: String,
    pub expires_at: i64,
}

/// A started flow's row, left in place (the callback's look before the person confirms).
pub async fn peek_oauth_state(
    db: &D1Database,
    nonce: &str,
    tenant_id: &str,
    platform: AdsPlatform,
) -> Result<Option<StateRow>, ApiError> {
    first(
        db,
        "SELECT tenant_id, account_id, login_customer_id, redirect_uri, expires_at FROM ads_oauth_states WHERE nonce = ?1 AND tenant_id = ?2 AND platform = ?3",
        &[s(nonce), s(tenant_id), s(platform.as_str())],
    )
    .await
}

/// Claims a flow's state: single use, the delete that returns the row is the claim.
pub async fn claim_oauth_state(
    db: &D1Database,
    nonce: &str,
    tenant_id: &str,
    platform: AdsPlatform,
) -> Result<Option<StateRow>, ApiError> {
    first(
        db,
        "DELETE FROM ads_oauth_states WHERE nonce = ?1 AND tenant_id = ?2 AND platform = ?3 RETURNING tenant_id, account_id, login_customer_id, redirect_uri, expires_at",
        &[s(nonce), s(tenant_id), s(platform.as_str())],
    )
    .await
}

// ---------------------------------------------------------------- pending grants

/// A grant waiting for the person to pick its accounts, as stored.
#[derive(Deserialize)]
pub struct PendingGrantRow {
    pub id: String,
    pub tenant_id: String,
    pub platform: String,
    pub access_token_enc: String,
    pub refresh_token_enc: Option<String>,
    pub token_expires_at: Option<i64>,
    pub login_customer_id: Option<String>,
    pub accounts: String,
    pub expires_at: i64,
    pub created_at: i64,
}

impl PendingGrantRow {
    pub fn accounts(&self) -> Vec<AdAccountInfo> {
        serde_json::from_str(&self.accounts).unwrap_or_default()
    }

    /// As the API shows it: the accounts to pick from, never the tokens.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "platform": self.platform, "accounts": self.accounts(),
               "expires_at": self.expires_at, "created_at": self.created_at})
    }
}

/// A grant to pick accounts from.
pub async fn save_pending_grant(
    db: &D1Database,
    id: &str,
    grant: &SealedGrant<'_>,
    login_customer_id: Option<&str>,
    accounts: &[AdAccountInfo],
    expires_at: i64,
    now: i64,
) -> Result<(), ApiError> {
    batch(
        db,
        vec![
            stmt(db, "DELETE FROM ads_pending_grants WHERE expires_at < ?1", &[n(now)])?,
            stmt(
                db,
                "INSERT INTO ads_pending_grants (id, tenant_id, platform, access_token_enc, refresh_token_enc, token_expires_at, login_customer_id, accounts, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                &[s(id), s(grant.tenant_id), s(grant.platform.as_str()), s(grant.access_token_enc), opt(grant.refresh_token_enc),
                  optn(grant.token_expires_at), opt(login_customer_id), s(&json!(accounts).to_string()), n(expires_at), n(now)],
            )?,
        ],
    )
    .await
}

const GRANT_COLS: &str = "id, tenant_id, platform, access_token_enc, refresh_token_enc, token_expires_at, login_customer_id, accounts, expires_at, created_at";

/// The tenant's grants still waiting for a pick, newest first.
pub async fn pending_grants(
    db: &D1Database,
    tenant_id: &str,
    now: i64,
) -> Result<Vec<PendingGrantRow>, ApiError> {
    all(
        db,
        &format!("SELECT {GRANT_COLS} FROM ads_pending_grants WHERE tenant_id = ?1 AND expires_at >= ?2 ORDER BY created_at DESC"),
        &[s(tenant_id), n(now)],
    )
    .await
}

/// Claims a grant (single use: the delete that returns it is the claim).
pub async fn claim_pending_grant(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> Result<Option<PendingGrantRow>, ApiError> {
    first(
        db,
        &format!("DELETE FROM ads_pending_grants WHERE tenant_id = ?1 AND id = ?2 AND expires_at >= ?3 RETURNING {GRANT_COLS}"),
        &[s(tenant_id), s(id), n(now)],
    )
    .await
}

// ---------------------------------------------------------------- campaigns and daily metrics

fn status_str(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Active => "active",
        CampaignStatus::Paused => "paused",
        CampaignStatus::Archived => "archived",
    }
}

#[derive(Deserialize)]
struct MetricRow {
    platform: String,
    account_id: String,
    campaign_id: String,
    date: String,
    campaign_name: String,
    currency: String,
    impressions: f64,
    clicks: f64,
    spend_micros: f64,
    conversions: f64,
    conversion_value_micros: f64,
    reach: Option<f64>,
    frequency: Option<f64>,
}

impl MetricRow {
    fn into_daily(self) -> Option<DailyMetrics> {
        Some(DailyMetrics {
            platform: AdsPlatform::parse(&self.platform)?,
            account_id: self.account_id,
            campaign_id: self.campaign_id,
            campaign_name: self.campaign_name,
            currency: self.currency,
            date: Date::parse(&self.date)?,
            metrics: Metrics {
                impressions: self.impressions as u64,
                clicks: self.clicks as u64,
                spend_micros: self.spend_micros as i64,
                conversions: self.conversions,
                conversion_value_micros: self.conversion_value_micros as i64,
            },
            reach: self.reach.map(|r| r as u64),
            frequency: self.frequency,
        })
    }
}

/// The tenant's campaign-days in `range`, optionally of one platform and of one
/// (platform, account id).
pub async fn daily_metrics(
    db: &D1Database,
    tenant_id: &str,
    range: DateRange,
    platform: Option<AdsPlatform>,
    account: Option<(&str, &str)>,
) -> Result<Vec<DailyMetrics>, ApiError> {
    let mut sql = String::from(
        "SELECT platform, account_id, campaign_id, date, campaign_name, currency, impressions, clicks, spend_micros, conversions, conversion_value_micros, reach, frequency FROM ads_daily_metrics WHERE tenant_id = ?1 AND date >= ?2 AND date <= ?3",
    );
    let mut args = vec![
        s(tenant_id),
        s(&range.from.to_string()),
        s(&range.to.to_string()),
    ];
    if let Some(p) = platform {
        sql.push_str(" AND platform = ?4");
        args.push(s(p.as_str()));
    }
    if let Some((p, a)) = account {
        sql.push_str(&format!(
            " AND platform = ?{} AND account_id = ?{}",
            args.len() + 1,
            args.len() + 2
        ));
        args.push(s(p));
        args.push(s(a));
    }
    let rows: Vec<MetricRow> = all(db, &sql, &args).await?;
    Ok(rows.into_iter().filter_map(MetricRow::into_daily).collect())
}

/// One sync's results in one transaction: the campaigns and campaign-days upserted, the account
/// marked synced. Returns how many campaign-days were stored.
pub async fn save_sync(
    db: &D1Database,
    account: &AccountRow,
    campaigns: &[Campaign],
    rows: &[DailyMetrics],
    run_key: &str,
    now: i64,
) -> Result<usize, ApiError> {
    let tenant = account.tenant_id.as_str();
    let campaign_rows: Vec<Vec<JsValue>> = campaigns
        .iter()
        .map(|c| {
            vec![
                s(tenant),
                s(c.platform.as_str()),
                s(&c.account_id),
                s(&c.campaign_id),
                s(&c.name),
                s(status_str(c.status)),
                s(&account.currency),
                optn(c.daily_budget_micros),
                optn(c.lifetime_budget_micros),
                optn(c.budget_remaining_micros),
                opt(c.objective.as_deref()),
                opt(c.start_date.map(|d| d.to_string()).as_deref()),
                opt(c.end_date.map(|d| d.to_string()).as_deref()),
                n(now),
            ]
        })
        .collect();
    let mut statements = multi_insert(
        db,
        "INSERT INTO ads_campaigns (tenant_id, platform, account_id, campaign_id, name, status, currency, daily_budget_micros, lifetime_budget_micros, budget_remaining_micros, objective, start_date, end_date, updated_at)",
        "ON CONFLICT(tenant_id, platform, account_id, campaign_id) DO UPDATE SET name = excluded.name, status = excluded.status, currency = excluded.currency,
         daily_budget_micros = excluded.daily_budget_micros, lifetime_budget_micros = excluded.lifetime_budget_micros,
         budget_remaining_micros = excluded.budget_remaining_micros, objective = excluded.objective,
         start_date = excluded.start_date, end_date = excluded.end_date, updated_at = excluded.updated_at",
        campaign_rows,
    )?;
    // Keep the last row of a key the platform sent twice (one statement cannot upsert a key twice).
    let unique = kpi::latest_per_key(rows);
    let metric_values: Vec<Vec<JsValue>> = unique
        .iter()
        .map(|r| {
            vec![
                s(tenant),
                s(r.platform.as_str()),
                s(&r.account_id),
                s(&r.campaign_id),
                s(&r.date.to_string()),
                s(&r.campaign_name),
                s(&r.currency),
                n(r.metrics.impressions as i64),
                n(r.metrics.clicks as i64),
                n(r.metrics.spend_micros),
                f(r.metrics.conversions),
                n(r.metrics.conversion_value_micros),
                optn(r.reach.map(|x| x as i64)),
                optf(r.frequency),
                s(run_key),
                n(now),
            ]
        })
        .collect();
    statements.extend(multi_insert(
        db,
        "INSERT INTO ads_daily_metrics (tenant_id, platform, account_id, campaign_id, date, campaign_name, currency, impressions, clicks, spend_micros, conversions, conversion_value_micros, reach, frequency, run_key, synced_at)",
        "ON CONFLICT(tenant_id, platform, account_id, campaign_id, date) DO UPDATE SET campaign_name = excluded.campaign_name,
         currency = excluded.currency, impressions = excluded.impressions, clicks = excluded.clicks, spend_micros = excluded.spend_micros,
         conversions = excluded.conversions, conversion_value_micros = excluded.conversion_value_micros, reach = excluded.reach,
         frequency = excluded.frequency, run_key = excluded.run_key, synced_at = excluded.synced_at",
        metric_values,
    )?);
    statements.push(stmt(
        db,
        "UPDATE ads_accounts SET last_sync_at = ?1, last_error = NULL, updated_at = ?1 WHERE id = ?2",
        &[n(now), s(&account.id)],
    )?);
    batch(db, statements).await?;
    Ok(unique.len())
}

#[derive(Deserialize)]
struct CampaignRow {
    platform: String,
    account_id: String,
    campaign_id: String,
    name: String,
    status: String,
    currency: String,
    daily_budget_micros: Option<f64>,
    lifetime_budget_micros: Option<f64>,
    budget_remaining_micros: Option<f64>,
    objective: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
}

impl CampaignRow {
    fn into_record(self) -> Option<CampaignRecord> {
        let date = |d: Option<String>| d.as_deref().and_then(Date::parse);
        Some(CampaignRecord {
            campaign: Campaign {
                platform: AdsPlatform::parse(&self.platform)?,
                account_id: self.account_id,
                campaign_id: self.campaign_id,
                name: self.name,
                status: serde_json::from_value(json!(self.status)).ok()?,
                daily_budget_micros: self.daily_budget_micros.map(|x| x as i64),
                lifetime_budget_micros: self.lifetime_budget_micros.map(|x| x as i64),
                budget_remaining_micros: self.budget_remaining_micros.map(|x| x as i64),
                objective: self.objective,
                start_date: date(self.start_date),
                end_date: date(self.end_date),
            },
            currency: self.currency,
        })
    }
}

const CAMPAIGN_COLS: &str = "platform, account_id, campaign_id, name, status, currency, daily_budget_micros, lifetime_budget_micros, budget_remaining_micros, objective, start_date, end_date";

/// The synced campaigns of one account (`platform`, the platform's `account_id`).
pub async fn campaigns(
    db: &D1Database,
    tenant_id: &str,
    platform: &str,
    account_id: &str,
) -> Result<Vec<Campaign>, ApiError> {
    Ok(
        campaign_records(db, tenant_id, Some((platform, account_id)), None)
            .await?
            .into_iter()
            .map(|r| r.campaign)
            .collect(),
    )
}

/// The tenant's synced campaigns, optionally of one (platform, account id), or only the one
/// with the platform's `campaign_id`.
pub async fn campaign_records(
    db: &D1Database,
    tenant_id: &str,
    account: Option<(&str, &str)>,
    campaign_id: Option<&str>,
) -> Result<Vec<CampaignRecord>, ApiError> {
    let mut sql = format!("SELECT {CAMPAIGN_COLS} FROM ads_campaigns WHERE tenant_id = ?1");
    let mut args = vec![s(tenant_id)];
    if let Some((platform, account_id)) = account {
        sql.push_str(" AND platform = ?2 AND account_id = ?3");
        args.push(s(platform));
        args.push(s(account_id));
    }
    if let Some(id) = campaign_id {
        sql.push_str(&format!(" AND campaign_id = ?{}", args.len() + 1));
        args.push(s(id));
    }
    let rows: Vec<CampaignRow> = all(db, &sql, &args).await?;
    Ok(rows
        .into_iter()
        .filter_map(CampaignRow::into_record)
        .collect())
}

// ---------------------------------------------------------------- alert settings and alerts

#[derive(Deserialize)]
struct SettingsRow {
    alert_thresholds: String,
    notification_webhook_url: Option<String>,
}

/// The tenant's stored alert thresholds (a JSON object, `{}` when unset or unreadable) and the
/// ads notification webhook.
pub async fn alert_settings(
    db: &D1Database,
    tenant_id: &str,
) -> Result<(Value, Option<String>), ApiError> {
    let row: Option<SettingsRow> = first(
        db,
        "SELECT alert_thresholds, notification_webhook_url FROM ads_settings WHERE tenant_id = ?1",
        &[s(tenant_id)],
    )
    .await?;
    Ok(match row {
        Some(r) => (
            serde_json::from_str(&r.alert_thresholds).unwrap_or(json!({})),
            r.notification_webhook_url,
        ),
        None => (json!({}), None),
    })
}

pub async fn save_alert_settings(
    db: &D1Database,
    tenant_id: &str,
    thresholds: &Value,
    webhook: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO ads_settings (tenant_id, alert_thresholds, notification_webhook_url, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(tenant_id) DO UPDATE SET alert_thresholds = excluded.alert_thresholds, notification_webhook_url = excluded.notification_webhook_url, updated_at = excluded.updated_at",
        &[s(tenant_id), s(&thresholds.to_string()), opt(webhook), n(now)],
    )
    .await
    .map(|_| ())
}

/// The tenant's stored report settings (a JSON object, `{}` when unset or unreadable).
pub async fn report_settings(db: &D1Database, tenant_id: &str) -> Result<Value, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        report_settings: String,
    }
    let row: Option<Row> = first(
        db,
        "SELECT report_settings FROM ads_settings WHERE tenant_id = ?1",
        &[s(tenant_id)],
    )
    .await?;
    Ok(row
        .and_then(|r| serde_json::from_str(&r.report_settings).ok())
        .unwrap_or(json!({})))
}

pub async fn save_report_settings(
    db: &D1Database,
    tenant_id: &str,
    settings: &Value,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO ads_settings (tenant_id, report_settings, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(tenant_id) DO UPDATE SET report_settings = excluded.report_settings, updated_at = excluded.updated_at",
        &[s(tenant_id), s(&settings.to_string()), n(now)],
    )
    .await
    .map(|_| ())
}

/// Where ads alerts go: the ads-specific `notification_webhook_url` when set, else the tenant's
/// notification webhook (`tenants.notify_webhook_url`); none when neither is set.
pub async fn notification_webhook(
    db: &D1Database,
    tenant_id: &str,
) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Url {
        url: Option<String>,
    }
    let joined: Result<Option<Url>, ApiError> = first(
        db,
        "SELECT COALESCE((SELECT notification_webhook_url FROM ads_settings WHERE tenant_id = ?1), notify_webhook_url) AS url FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await;
    match joined {
        Ok(row) => Ok(row.and_then(|r| r.url).filter(|u| !u.is_empty())),
        // A schema without the tenant webhook column: the ads setting alone.
        Err(_) => Ok(alert_settings(db, tenant_id).await?.1),
    }
}

/// The tenant's display name (for the alert message).
pub async fn tenant_name(db: &D1Database, tenant_id: &str) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    Ok(first::<Name>(
        db,
        "SELECT name FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .map(|r| r.name))
}

#[derive(Deserialize)]
pub struct AlertRow {
    pub id: i64,
    pub kind: String,
    pub platform: Option<String>,
    pub account_id: String,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub message: String,
    pub delivered: String,
    pub created_at: i64,
}

/// The tenant's 200 latest alerts, newest first.
pub async fn list_alerts(db: &D1Database, tenant_id: &str) -> Result<Vec<AlertRow>, ApiError> {
    all(
        db,
        "SELECT id, kind, platform, account_id, campaign_id, campaign_name, value, threshold, message, delivered, created_at FROM ads_alerts WHERE tenant_id = ?1 ORDER BY id DESC LIMIT 200",
        &[s(tenant_id)],
    )
    .await
}

/// When each alert key was last stored after `since` (the throttle's memory).
pub async fn alerts_sent_since(
    db: &D1Database,
    tenant_id: &str,
    since: i64,
) -> Result<BTreeMap<String, i64>, ApiError> {
    #[derive(Deserialize)]
    struct Sent {
        alert_key: String,
        last: f64,
    }
    let sent: Vec<Sent> = all(
        db,
        "SELECT alert_key, MAX(created_at) AS last FROM ads_alerts WHERE tenant_id = ?1 AND created_at > ?2 GROUP BY alert_key",
        &[s(tenant_id), n(since)],
    )
    .await?;
    Ok(sent
        .into_iter()
        .map(|r| (r.alert_key, r.last as i64))
        .collect())
}

/// Stores alerts with how their delivery went (`sent`, `failed`, `no_webhook`).
pub async fn insert_alerts(
    db: &D1Database,
    tenant_id: &str,
    list: &[Alert],
    delivered: &str,
    now: i64,
) -> Result<(), ApiError> {
    let rows: Vec<Vec<JsValue>> = list
        .iter()
        .map(|a| {
            vec![
                s(tenant_id),
                s(&a.key()),
                s(a.kind.as_str()),
                opt(a.platform.map(AdsPlatform::as_str)),
                s(&a.account_id),
                opt(a.campaign_id.as_deref()),
                opt(a.campaign_name.as_deref()),
                optf(a.value),
                optf(a.threshold),
                s(&a.message),
                s(delivered),
                n(now),
            ]
        })
        .collect();
    batch(
        db,
        multi_insert(
            db,
            "INSERT INTO ads_alerts (tenant_id, alert_key, kind, platform, account_id, campaign_id, campaign_name, value, threshold, message, delivered, created_at)",
            "",
            rows,
        )?,
    )
    .await
}

// ---------------------------------------------------------------- audiences

#[derive(Deserialize)]
pub struct AudienceRow {
    pub id: String,
    pub ads_account_id: String,
    pub kind: String,
    pub name: String,
    pub platform_audience_id: Option<String>,
    pub origin_audience_id: Option<String>,
    pub lookalike_spec: Option<String>,
    pub member_count: i64,
    pub sync_status: String,
    pub last_sync_at: Option<i64>,
    pub last_sync_result: Option<String>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub platform_size: Option<i64>,
    pub match_rate: Option<String>,
    pub platform_job: Option<String>,
    pub platform_job_status: Option<String>,
    pub upload_errors: Option<i64>,
    pub members_changed_at: Option<i64>,
}

impl AudienceRow {
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id, "ads_account_id": self.ads_account_id, "kind": self.kind, "name": self.name,
            "platform_audience_id": self.platform_audience_id, "origin_audience_id": self.origin_audience_id,
            "lookalike_spec": self.lookalike_spec.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
            "member_count": self.member_count, "sync_status": self.sync_status,
            "last_sync_at": self.last_sync_at,
            "last_sync_result": self.last_sync_result.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
            "last_error": self.last_error, "created_at": self.created_at,
            "platform_size": self.platform_size, "match_rate": self.match_rate,
            "platform_job": self.platform_job, "platform_job_status": self.platform_job_status,
            "upload_errors": self.upload_errors, "members_changed_at": self.members_changed_at,
        })
    }
}

const AUDIENCE_COLS: &str = "id, ads_account_id, kind, name, platform_audience_id, origin_audience_id, lookalike_spec, member_count, sync_status, last_sync_at, last_sync_result, last_error, created_at, platform_size, match_rate, platform_job, platform_job_status, upload_errors, members_changed_at";

pub async fn audience_by_id(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> Result<Option<AudienceRow>, ApiError> {
    first(
        db,
        &format!("SELECT {AUDIENCE_COLS} FROM ads_audiences WHERE tenant_id = ?1 AND id = ?2"),
        &[s(tenant_id), s(id)],
    )
    .await
}

pub async fn list_audiences(
    db: &D1Database,
    tenant_id: &str,
) -> Result<Vec<AudienceRow>, ApiError> {
    all(
        db,
        &format!("SELECT {AUDIENCE_COLS} FROM ads_audiences WHERE tenant_id = ?1 ORDER BY created_at, id"),
        &[s(tenant_id)],
    )
    .await
}

/// A new customer list (pending sync) with its hashed members, in one transaction per 100
/// statements.
pub async fn create_customer_list(
    db: &D1Database,
    id: &str,
    tenant_id: &str,
    ads_account_id: &str,
    name: &str,
    contacts: &[HashedContact],
    now: i64,
) -> Result<(), ApiError> {
    let mut statements = vec![stmt(
        db,
        "INSERT INTO ads_audiences (id, tenant_id, ads_account_id, kind, name, member_count, sync_status, created_at, updated_at) VALUES (?1, ?2, ?3, 'customer_list', ?4, ?5, 'pending', ?6, ?6)",
        &[s(id), s(tenant_id), s(ads_account_id), s(name), n(contacts.len() as i64), n(now)],
    )?];
    statements.extend(member_inserts(db, id, contacts, 0)?);
    batch(db, statements).await
}

/// Multi-row inserts of `contacts` as members `first_seq`, `first_seq + 1`, …
fn member_inserts(
    db: &D1Database,
    audience_id: &str,
    contacts: &[HashedContact],
    first_seq: i64,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let rows: Vec<Vec<JsValue>> = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                s(audience_id),
                n(first_seq + i as i64),
                opt(c.email_meta.as_deref()),
                opt(c.email_google.as_deref()),
                opt(c.phone_meta.as_deref()),
                opt(c.phone_google.as_deref()),
            ]
        })
        .collect();
    multi_insert(
        db,
        "INSERT INTO ads_audience_members (audience_id, seq, email_meta, email_google, phone_meta, phone_google)",
        "",
        rows,
    )
}

/// The member count after a change, the audience pending its next sync.
fn members_changed(
    db: &D1Database,
    audience_id: &str,
    now: i64,
) -> Result<D1PreparedStatement, ApiError> {
    stmt(
        db,
        "UPDATE ads_audiences SET member_count = (SELECT count(*) FROM ads_audience_members WHERE audience_id = ?1),
           members_changed_at = ?2, sync_status = 'pending', updated_at = ?2 WHERE id = ?1",
        &[s(audience_id), n(now)],
    )
}

/// Replaces every member of the audience, in one transaction per 100 statements.
pub async fn replace_members(
    db: &D1Database,
    audience_id: &str,
    contacts: &[HashedContact],
    now: i64,
) -> Result<(), ApiError> {
    let mut statements = vec![stmt(
        db,
        "DELETE FROM ads_audience_members WHERE audience_id = ?1",
        &[s(audience_id)],
    )?];
    statements.extend(member_inserts(db, audience_id, contacts, 0)?);
    statements.push(members_changed(db, audience_id, now)?);
    batch(db, statements).await
}

/// The four identifier hashes of a contact as statement arguments (NULL where it has none:
/// `column = NULL` never matches).
fn hash_args(c: &HashedContact) -> [JsValue; 4] {
    [
        opt(c.email_meta.as_deref()),
        opt(c.email_google.as_deref()),
        opt(c.phone_meta.as_deref()),
        opt(c.phone_google.as_deref()),
    ]
}

const SAME_PERSON: &str = "(email_meta IN (?2, ?3) OR email_google IN (?2, ?3) OR phone_meta IN (?4, ?5) OR phone_google IN (?4, ?5))";

/// Member counts around a change: before, after the additions, after the removals.
pub struct MemberCounts {
    pub before: i64,
    pub after_additions: i64,
    pub after: i64,
}

/// Adds contacts not already members (one sharing a hash with a member is skipped), then removes
/// every member sharing a hash with a removed contact. Each step is idempotent, so a change
/// interrupted between them is completed by sending it again.
pub async fn change_members(
    db: &D1Database,
    audience_id: &str,
    add: &[HashedContact],
    remove: &[HashedContact],
    now: i64,
) -> Result<MemberCounts, ApiError> {
    let before = member_count(db, audience_id).await?;
    let mut statements = Vec::new();
    for c in add {
        let [em, emg, ph, phg] = hash_args(c);
        statements.push(stmt(
            db,
            &format!(
                "INSERT INTO ads_audience_members (audience_id, seq, email_meta, email_google, phone_meta, phone_google)
                 SELECT ?1, (SELECT COALESCE(MAX(seq), -1) + 1 FROM ads_audience_members WHERE audience_id = ?1), ?2, ?3, ?4, ?5
                 WHERE NOT EXISTS (SELECT 1 FROM ads_audience_members WHERE audience_id = ?1 AND {SAME_PERSON})"
            ),
            &[s(audience_id), em, emg, ph, phg],
        )?);
    }
    batch(db, statements).await?;
    let after_additions = member_count(db, audience_id).await?;
    let mut statements = Vec::new();
    for c in remove {
        let [em, emg, ph, phg] = hash_args(c);
        statements.push(stmt(
            db,
            &format!("DELETE FROM ads_audience_members WHERE audience_id = ?1 AND {SAME_PERSON}"),
            &[s(audience_id), em, emg, ph, phg],
        )?);
    }
    statements.push(members_changed(db, audience_id, now)?);
    batch(db, statements).await?;
    Ok(MemberCounts {
        before,
        after_additions,
        after: member_count(db, audience_id).await?,
    })
}

async fn member_count(db: &D1Database, audience_id: &str) -> Result<i64, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    Ok(first::<Count>(
        db,
        "SELECT count(*) AS n FROM ads_audience_members WHERE audience_id = ?1",
        &[s(audience_id)],
    )
    .await?
    .map_or(0, |c| c.n))
}

/// Meta's size estimate of the audience after an upload (None: Meta has none yet).
pub async fn record_platform_size(
    db: &D1Database,
    audience_id: &str,
    size: Option<u64>,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_audiences SET platform_size = ?1 WHERE id = ?2",
        &[optn(size.map(|x| x as i64)), s(audience_id)],
    )
    .await
    .map(|_| ())
}

/// A Customer Match job Google is now processing, and the operations it refused on upload.
pub async fn record_customer_match_job(
    db: &D1Database,
    audience_id: &str,
    job: &str,
    upload_errors: u64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_audiences SET platform_job = ?1, platform_job_status = 'pending', upload_errors = ?2 WHERE id = ?3",
        &[s(job), n(upload_errors as i64), s(audience_id)],
    )
    .await
    .map(|_| ())
}

/// A polled Customer Match job: its state, match rate and the list's size; a failed job is the
/// audience's error.
pub async fn record_customer_match_outcome(
    db: &D1Database,
    audience_id: &str,
    outcome: &JobOutcome,
    now: i64,
) -> Result<(), ApiError> {
    let failed = outcome.state == crate::core::ads::audience::JobState::Failed;
    let error = failed.then(|| {
        format!(
            "Google could not process the upload: {}",
            outcome
                .failure_reason
                .as_deref()
                .unwrap_or("no reason given")
        )
    });
    run(
        db,
        "UPDATE ads_audiences SET platform_job_status = ?1, match_rate = COALESCE(?2, match_rate),
           platform_size = COALESCE(?3, platform_size),
           sync_status = CASE WHEN ?4 THEN 'error' ELSE sync_status END,
           last_error = CASE WHEN ?4 THEN ?5 ELSE last_error END, updated_at = ?6 WHERE id = ?7",
        &[
            s(outcome.state.as_str()),
            opt(outcome.match_rate.as_deref()),
            optn(outcome.list_size.map(|x| x as i64)),
            JsValue::from_bool(failed),
            opt(error.as_deref()),
            n(now),
            s(audience_id),
        ],
    )
    .await
    .map(|_| ())
}

/// The account's audiences whose Customer Match job has not ended yet.
pub async fn audiences_with_running_jobs(
    db: &D1Database,
    tenant_id: &str,
    ads_account_id: &str,
) -> Result<Vec<AudienceRow>, ApiError> {
    all(
        db,
        &format!("SELECT {AUDIENCE_COLS} FROM ads_audiences WHERE tenant_id = ?1 AND ads_account_id = ?2 AND platform_job_status IN ('pending', 'running')"),
        &[s(tenant_id), s(ads_account_id)],
    )
    .await
}

/// A lookalike the platform has just created from a synced audience.
pub struct NewLookalike<'a> {
    pub id: &'a str,
    pub tenant_id: &'a str,
    pub ads_account_id: &'a str,
    pub name: &'a str,
    pub platform_audience_id: &'a str,
    pub origin_audience_id: &'a str,
    /// JSON `{country, ratio}`.
    pub spec: &'a str,
}

pub async fn create_lookalike(
    db: &D1Database,
    new: &NewLookalike<'_>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO ads_audiences (id, tenant_id, ads_account_id, kind, name, platform_audience_id, origin_audience_id, lookalike_spec, sync_status, last_sync_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'lookalike', ?4, ?5, ?6, ?7, 'synced', ?8, ?8, ?8)",
        &[s(new.id), s(new.tenant_id), s(new.ads_account_id), s(new.name), s(new.platform_audience_id), s(new.origin_audience_id), s(new.spec), n(now)],
    )
    .await
    .map(|_| ())
}

/// The account's customer lists (lookalikes follow their source), oldest first.
pub async fn customer_list_ids(
    db: &D1Database,
    tenant_id: &str,
    ads_account_id: &str,
) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let ids: Vec<Id> = all(
        db,
        "SELECT id FROM ads_audiences WHERE tenant_id = ?1 AND ads_account_id = ?2 AND kind = 'customer_list' ORDER BY created_at",
        &[s(tenant_id), s(ads_account_id)],
    )
    .await?;
    Ok(ids.into_iter().map(|i| i.id).collect())
}

#[derive(Deserialize)]
struct MemberRow {
    email_meta: Option<String>,
    email_google: Option<String>,
    phone_meta: Option<String>,
    phone_google: Option<String>,
}

/// An audience's hashed members in upload order.
pub async fn audience_members(
    db: &D1Database,
    audience_id: &str,
) -> Result<Vec<HashedContact>, ApiError> {
    let members: Vec<MemberRow> = all(
        db,
        "SELECT email_meta, email_google, phone_meta, phone_google FROM ads_audience_members WHERE audience_id = ?1 ORDER BY seq",
        &[s(audience_id)],
    )
    .await?;
    Ok(members
        .into_iter()
        .map(|m| HashedContact {
            email_meta: m.email_meta,
            email_google: m.email_google,
            phone_meta: m.phone_meta,
            phone_google: m.phone_google,
        })
        .collect())
}

/// A sync's outcome on the audience: its status, the result (kept from the last success when
/// `result` is None) and the error.
pub async fn record_audience_sync(
    db: &D1Database,
    audience_id: &str,
    status: &str,
    result: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_audiences SET sync_status = ?1, last_sync_at = ?2, last_sync_result = COALESCE(?3, last_sync_result), last_error = ?4, updated_at = ?2 WHERE id = ?5",
        &[s(status), n(now), opt(result), opt(error), s(audience_id)],
    )
    .await
    .map(|_| ())
}

/// The platform's id of an audience it has just created.
pub async fn set_platform_audience(
    db: &D1Database,
    audience_id: &str,
    platform_id: &str,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE ads_audiences SET platform_audience_id = ?1, updated_at = ?2 WHERE id = ?3",
        &[s(platform_id), n(now), s(audience_id)],
    )
    .await
    .map(|_| ())
}
