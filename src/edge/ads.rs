//! Ads accounts (issue 7): the `/api/v1/ads/...` handlers, their D1 storage, and the sync work
//! the per-tenant Scheduler Durable Object runs. Every platform request is planned by
//! `crate::core::ads`; this file sends, stores and renders.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env, Request};

use super::durable::scheduler;
use super::{
    bindings, config, json_response, now_ms, now_secs, random_bytes, secrets, uuid_v4, ApiError,
};
use crate::core::ads::accounts::{self, AdAccountInfo};
use crate::core::ads::alerts::{self, Alert, AlertThresholds, BudgetStatus};
use crate::core::ads::audience::{self, AudienceSyncStatus, CustomerRecord, HashedContact};
use crate::core::ads::google_ads::{self, GoogleAdsCredentials};
use crate::core::ads::kpi::{self, DailyMetrics, Metrics};
use crate::core::ads::meta_insights::{self, CallBudget, ConversionRule};
use crate::core::ads::oauth::{self, OAuthClient, TokenGrant};
use crate::core::ads::schedule::{JobEffect, JobKind, SchedulerRequest};
use crate::core::ads::{AccountRef, AdsPlatform, ApiFailure, Campaign, CampaignStatus};
use crate::core::calendar::{Date, DateRange};
use crate::core::event::FieldError;
use crate::core::outbound::{InboundResponse, OutboundRequest};

type ApiResult = std::result::Result<worker::Response, ApiError>;

/// Audience uploads are larger than tracking beacons.
const MAX_AUDIENCE_BODY_BYTES: usize = 32 * 1024 * 1024;
const MAX_JSON_BODY_BYTES: usize = 64 * 1024;
/// Ads API answers (insights pages of 500 rows) are far larger than tracking answers.
const MAX_ADS_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Meta pages read per sync at most (a runaway cursor must end).
const MAX_PAGES: usize = 200;

// ---------------------------------------------------------------- configuration

pub use super::config::ads_config;

fn timeout_ms(env: &Env) -> u64 {
    config::outbound_timeout_ms(env).max(30_000)
}

fn oauth_client(
    env: &Env,
    platform: AdsPlatform,
    redirect_uri: &str,
) -> std::result::Result<OAuthClient, ApiError> {
    let (client_id, client_secret) = config::oauth_app(env, platform)?;
    Ok(OAuthClient {
        client_id,
        client_secret,
        redirect_uri: redirect_uri.to_string(),
    })
}

fn state_key(env: &Env) -> std::result::Result<Vec<u8>, ApiError> {
    secrets::oauth_state_key(env)
}

fn seal(env: &Env, plain: &str) -> std::result::Result<String, ApiError> {
    secrets::seal(env, plain)
}

fn open(env: &Env, sealed: &str) -> std::result::Result<String, ApiFailure> {
    secrets::open(env, sealed).map_err(|e| match e.code {
        "secret_unreadable" => ApiFailure::AuthInvalid {
            reason: format!("stored token unreadable: {}", e.message),
        },
        _ => ApiFailure::Permanent { reason: e.message },
    })
}

// ---------------------------------------------------------------- outbound

/// Like `fetch::send`, but keeps the whole answer (insights pages are large).
async fn send(req: &OutboundRequest, timeout_ms: u64) -> InboundResponse {
    super::fetch::send_limited(req, timeout_ms, MAX_ADS_RESPONSE_BYTES).await
}

// ---------------------------------------------------------------- D1 helpers

use super::store::d1::{all, batch, first, n, opt, run, s, stmt};

fn db(env: &Env) -> std::result::Result<D1Database, ApiError> {
    bindings::db(env)
}

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
) -> std::result::Result<Vec<D1PreparedStatement>, ApiError> {
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

// ---------------------------------------------------------------- rows

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
}

impl AccountRow {
    fn platform(&self) -> AdsPlatform {
        AdsPlatform::parse(&self.platform).unwrap_or(AdsPlatform::Meta)
    }

    fn account_ref(&self) -> AccountRef {
        AccountRef {
            platform: self.platform(),
            account_id: self.account_id.clone(),
            currency: self.currency.clone(),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id, "platform": self.platform, "account_id": self.account_id,
            "name": self.name, "currency": self.currency, "status": self.status,
            "last_error": self.last_error, "last_sync_at": self.last_sync_at,
            "token_expires_at": self.token_expires_at, "login_customer_id": self.login_customer_id,
            "created_at": self.created_at,
        })
    }
}

const ACCOUNT_COLS: &str = "id, tenant_id, platform, account_id, name, currency, login_customer_id, access_token_enc, refresh_token_enc, token_expires_at, status, last_error, last_sync_at, created_at";

async fn account_by_id(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> std::result::Result<Option<AccountRow>, ApiError> {
    first(
        db,
        &format!("SELECT {ACCOUNT_COLS} FROM ads_accounts WHERE tenant_id = ?1 AND (id = ?2 OR account_id = ?2) ORDER BY id = ?2 DESC LIMIT 1"),
        &[s(tenant_id), s(id)],
    )
    .await
}

async fn list_account_rows(
    db: &D1Database,
    tenant_id: &str,
) -> std::result::Result<Vec<AccountRow>, ApiError> {
    all(
        db,
        &format!(
            "SELECT {ACCOUNT_COLS} FROM ads_accounts WHERE tenant_id = ?1 ORDER BY created_at, id"
        ),
        &[s(tenant_id)],
    )
    .await
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
        })
    }
}

async fn metric_rows(
    db: &D1Database,
    tenant_id: &str,
    range: DateRange,
    platform: Option<AdsPlatform>,
    account: Option<(&str, &str)>,
) -> std::result::Result<Vec<DailyMetrics>, ApiError> {
    let mut sql = String::from(
        "SELECT platform, account_id, campaign_id, date, campaign_name, currency, impressions, clicks, spend_micros, conversions, conversion_value_micros FROM ads_daily_metrics WHERE tenant_id = ?1 AND date >= ?2 AND date <= ?3",
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

// ---------------------------------------------------------------- routing

/// Tenant of the api key in `Authorization: Bearer` (issue 6's lookup: current or previous key
/// during a rotation, failed attempts rate limited per client IP).
async fn require_api_key(req: &Request, env: &Env) -> std::result::Result<String, ApiError> {
    super::auth::authenticate(req, env)
        .await
        .map(|a| a.tenant_id)
}

async fn read_json(req: &mut Request, max: usize) -> std::result::Result<Value, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            "payload_too_large",
            &format!("body is larger than {} KB", max / 1024),
        )
    };
    if let Ok(Some(len)) = req.headers().get("content-length") {
        if len.parse::<usize>().unwrap_or(0) > max {
            return Err(too_large());
        }
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| ApiError::internal("read body", e))?;
    if bytes.len() > max {
        return Err(too_large());
    }
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError {
        status: 400,
        code: "invalid_json",
        message: format!("body is not valid JSON: {e}"),
        field: Some("body".into()),
    })
}

fn query(req: &Request) -> BTreeMap<String, String> {
    req.url()
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::invalid(FieldError::new(field, message))
}

fn platform_param(p: &str) -> std::result::Result<AdsPlatform, ApiError> {
    AdsPlatform::parse(p)
        .ok_or_else(|| ApiError::new(404, "not_found", "platform must be meta or google"))
}

/// `/api/v1/ads/...`: `rest` is what follows `ads`.
pub async fn route(req: Request, env: &Env, rest: &[&str]) -> ApiResult {
    use worker::Method::*;
    match (req.method(), rest) {
        (Get, ["oauth", p, "start"]) => oauth_start(req, env, platform_param(p)?).await,
        (Get, ["oauth", p, "callback"]) => oauth_callback(req, env, platform_param(p)?).await,
        (Get, ["accounts"]) => list_accounts(req, env).await,
        (Get, ["accounts", id]) => get_account(req, env, id).await,
        (Delete, ["accounts", id]) => delete_account(req, env, id).await,
        (Post, ["sync", id]) => sync_account(req, env, id).await,
        (Get, ["metrics"]) => metrics(req, env).await,
        (Get, ["spend"]) => spend(req, env).await,
        (Get, ["alerts"]) => list_alerts(req, env).await,
        (Put, ["alerts", "thresholds"]) => put_thresholds(req, env).await,
        (Post, ["audiences"]) => create_audience(req, env).await,
        (Get, ["audiences"]) => list_audiences(req, env).await,
        (Post, ["audiences", id, "sync"]) => sync_audience_now(req, env, id).await,
        (Post, ["audiences", id, "lookalike"]) => lookalike(req, env, id).await,
        _ => Err(ApiError::new(404, "not_found", "no such endpoint")),
    }
}

// ---------------------------------------------------------------- OAuth

fn redirect_uri(req: &Request, env: &Env, platform: AdsPlatform) -> String {
    let base = config::public_base_url(env).unwrap_or_else(|| {
        req.url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    });
    format!(
        "{}/api/v1/ads/oauth/{}/callback",
        base.trim_end_matches('/'),
        platform.as_str()
    )
}

async fn oauth_start(req: Request, env: &Env, platform: AdsPlatform) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let q = query(&req);
    let account_id = match q
        .get("account_id")
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some(a) => Some(match platform {
            AdsPlatform::Meta => {
                let id = a.trim_start_matches("act_");
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid(
                        "account_id",
                        "must be a Meta ad account id (digits, optional act_)",
                    ));
                }
                id.to_string()
            }
            AdsPlatform::Google => google_ads::normalize_customer_id(a).ok_or_else(|| {
                invalid("account_id", "must be a 10-digit Google Ads customer id")
            })?,
        }),
    };
    let login_customer_id = match q.get("login_customer_id").filter(|v| !v.is_empty()) {
        None => None,
        Some(v) => Some(
            google_ads::normalize_customer_id(v)
                .ok_or_else(|| invalid("login_customer_id", "must be a 10-digit customer id"))?,
        ),
    };
    let redirect = redirect_uri(&req, env, platform);
    let client = oauth_client(env, platform, &redirect)?;
    let now = now_secs();
    let nonce: String = random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let state = oauth::create_state(&state_key(env)?, &tenant_id, platform, &nonce, now)
        .map_err(|e| ApiError::internal("oauth state", format!("{e:?}")))?;
    let expires_at = now + oauth::STATE_TTL_SECS;
    let db = db(env)?;
    run(
        &db,
        "DELETE FROM ads_oauth_states WHERE expires_at < ?1",
        &[n(now)],
    )
    .await?;
    run(
        &db,
        "INSERT INTO ads_oauth_states (nonce, tenant_id, platform, account_id, login_customer_id, redirect_uri, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[s(&nonce), s(&tenant_id), s(platform.as_str()), opt(account_id.as_deref()), opt(login_customer_id.as_deref()), s(&redirect), n(expires_at)],
    )
    .await?;
    let url = oauth::authorize_url(&ads_config(env), platform, &client, &state);
    Ok(json_response(
        200,
        &json!({"authorize_url": url, "state": state, "expires_at": expires_at, "redirect_uri": redirect}),
    ))
}

#[derive(Deserialize)]
struct StateRow {
    tenant_id: String,
    account_id: Option<String>,
    login_customer_id: Option<String>,
    redirect_uri: String,
    expires_at: i64,
}

fn upstream_error(context: &str, f: &ApiFailure) -> ApiError {
    let status = match f {
        ApiFailure::AuthInvalid { .. } | ApiFailure::Permanent { .. } => 400,
        _ => 502,
    };
    ApiError::new(
        status,
        "upstream_error",
        &format!("{context}: {}", f.reason()),
    )
}

async fn oauth_callback(req: Request, env: &Env, platform: AdsPlatform) -> ApiResult {
    let q = query(&req);
    if let Some(err) = q.get("error") {
        return Err(ApiError::new(
            400,
            "oauth_denied",
            &format!("the platform returned error={err}"),
        ));
    }
    let state = q
        .get("state")
        .ok_or_else(|| invalid("state", "is required"))?;
    let code = q
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid("code", "is required"))?;
    let now = now_secs();
    let verified =
        oauth::verify_state(&state_key(env)?, state, platform, now).map_err(|e| ApiError {
            status: 400,
            code: "invalid_state",
            message: format!("state is not valid: {e:?}"),
            field: Some("state".into()),
        })?;
    let db = db(env)?;
    // Single use: the delete that returns the row is the claim.
    let row: Option<StateRow> = first(
        &db,
        "DELETE FROM ads_oauth_states WHERE nonce = ?1 AND tenant_id = ?2 AND platform = ?3 RETURNING tenant_id, account_id, login_customer_id, redirect_uri, expires_at",
        &[s(&verified.nonce), s(&verified.tenant_id), s(platform.as_str())],
    )
    .await?;
    let Some(row) = row.filter(|r| r.expires_at >= now) else {
        return Err(ApiError {
            status: 400,
            code: "invalid_state",
            message: "state was already used or has expired; start again".into(),
            field: Some("state".into()),
        });
    };
    let cfg = ads_config(env);
    let client = oauth_client(env, platform, &row.redirect_uri)?;
    let timeout = timeout_ms(env);
    let exchanged = send(
        &oauth::plan_code_exchange(&cfg, platform, &client, code),
        timeout,
    )
    .await;
    let mut grant = oauth::read_token_response(platform, &exchanged, now)
        .map_err(|f| upstream_error("code exchange", &f))?;
    if platform == AdsPlatform::Meta {
        // The code gives a short-lived token: exchange it for a ~60-day one.
        let long = send(
            &oauth::plan_meta_token_exchange(&cfg, &client, &grant.access_token),
            timeout,
        )
        .await;
        grant = oauth::read_token_response(platform, &long, now)
            .map_err(|f| upstream_error("long-lived token exchange", &f))?;
    }
    let infos = discover_accounts(
        env,
        platform,
        &grant,
        row.account_id.as_deref(),
        row.login_customer_id.as_deref(),
    )
    .await
    .map_err(|f| upstream_error("ad account lookup", &f))?;
    if infos.is_empty() {
        return Err(ApiError::new(
            400,
            "no_ad_accounts",
            "the granted user can reach no ad account",
        ));
    }
    let access_enc = seal(env, &grant.access_token)?;
    let refresh_enc = match &grant.refresh_token {
        Some(r) => Some(seal(env, r)?),
        None => None,
    };
    let mut connected = Vec::new();
    for info in infos {
        run(
            &db,
            "INSERT INTO ads_accounts (id, tenant_id, platform, account_id, name, currency, login_customer_id, access_token_enc, refresh_token_enc, token_expires_at, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'active', ?11, ?11)
             ON CONFLICT(tenant_id, platform, account_id) DO UPDATE SET name = excluded.name, currency = excluded.currency,
               login_customer_id = excluded.login_customer_id, access_token_enc = excluded.access_token_enc,
               refresh_token_enc = COALESCE(excluded.refresh_token_enc, ads_accounts.refresh_token_enc),
               token_expires_at = excluded.token_expires_at, status = 'active', last_error = NULL, updated_at = excluded.updated_at",
            &[s(&uuid_v4()), s(&row.tenant_id), s(platform.as_str()), s(&info.account_id), s(&info.name), s(&info.currency),
              opt(row.login_customer_id.as_deref()), s(&access_enc), opt(refresh_enc.as_deref()), optn(grant.expires_at), n(now)],
        )
        .await?;
        let account: AccountRow = first(
            &db,
            &format!("SELECT {ACCOUNT_COLS} FROM ads_accounts WHERE tenant_id = ?1 AND platform = ?2 AND account_id = ?3"),
            &[s(&row.tenant_id), s(platform.as_str()), s(&info.account_id)],
        )
        .await?
        .ok_or_else(|| ApiError::internal("ads account", "missing after upsert"))?;
        register_jobs(env, &account).await?;
        connected.push(account.to_json());
    }
    Ok(json_response(200, &json!({"connected": connected})))
}

async fn register_jobs(env: &Env, account: &AccountRow) -> std::result::Result<Value, ApiError> {
    let expires = match account.platform() {
        AdsPlatform::Meta => account.token_expires_at,
        AdsPlatform::Google => None,
    };
    let (_, body) = bindings::scheduler(
        env,
        &account.tenant_id,
        &SchedulerRequest::AddAccount {
            tenant_id: account.tenant_id.clone(),
            account: account.id.clone(),
            platform: account.platform(),
            token_expires_at: expires,
        },
    )
    .await?;
    Ok(body)
}

fn google_creds(env: &Env, login: Option<&str>, access_token: &str) -> GoogleAdsCredentials {
    GoogleAdsCredentials {
        developer_token: config::google_ads_developer_token(env),
        login_customer_id: login.map(str::to_string),
        access_token: access_token.to_string(),
    }
}

async fn discover_accounts(
    env: &Env,
    platform: AdsPlatform,
    grant: &TokenGrant,
    account_id: Option<&str>,
    login: Option<&str>,
) -> std::result::Result<Vec<AdAccountInfo>, ApiFailure> {
    let cfg = ads_config(env);
    let timeout = timeout_ms(env);
    let token = &grant.access_token;
    match platform {
        AdsPlatform::Meta => match account_id {
            Some(id) => Ok(vec![accounts::read_meta_account(
                &send(&accounts::plan_meta_account(&cfg, token, id), timeout).await,
            )?]),
            None => accounts::read_meta_accounts(
                &send(&accounts::plan_meta_accounts(&cfg, token), timeout).await,
            ),
        },
        AdsPlatform::Google => {
            let creds = google_creds(env, login, token);
            let ids = match account_id {
                Some(id) => vec![id.to_string()],
                None => accounts::read_google_accessible_customers(
                    &send(
                        &accounts::plan_google_accessible_customers(&cfg, &creds),
                        timeout,
                    )
                    .await,
                )?,
            };
            let mut out = Vec::new();
            for id in ids {
                let r = send(&accounts::plan_google_customer(&cfg, &creds, &id), timeout).await;
                out.push(accounts::read_google_customer(&r, &id)?);
            }
            Ok(out)
        }
    }
}

// ---------------------------------------------------------------- accounts API

async fn list_accounts(req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let rows = list_account_rows(&db(env)?, &tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"accounts": rows.iter().map(AccountRow::to_json).collect::<Vec<_>>()}),
    ))
}

async fn get_account(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let row = account_by_id(&db(env)?, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "no such ads account"))?;
    let (_, table) = bindings::scheduler(
        env,
        &tenant_id,
        &SchedulerRequest::Jobs {
            tenant_id: tenant_id.clone(),
        },
    )
    .await?;
    let jobs: Vec<Value> = table["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|j| j["account_id"] == row.id.as_str())
        .cloned()
        .collect();
    let mut body = row.to_json();
    body["jobs"] = json!(jobs);
    Ok(json_response(200, &body))
}

async fn delete_account(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let db = db(env)?;
    let row = account_by_id(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "no such ads account"))?;
    bindings::scheduler(
        env,
        &tenant_id,
        &SchedulerRequest::RemoveAccount {
            tenant_id: tenant_id.clone(),
            account: row.id.clone(),
        },
    )
    .await?;
    // Tokens, campaigns and audiences go; synced daily metrics stay as history.
    batch(
        &db,
        vec![
            stmt(&db, "DELETE FROM ads_audience_members WHERE audience_id IN (SELECT id FROM ads_audiences WHERE tenant_id = ?1 AND ads_account_id = ?2)", &[s(&tenant_id), s(&row.id)])?,
            stmt(&db, "DELETE FROM ads_audiences WHERE tenant_id = ?1 AND ads_account_id = ?2", &[s(&tenant_id), s(&row.id)])?,
            stmt(&db, "DELETE FROM ads_campaigns WHERE tenant_id = ?1 AND platform = ?2 AND account_id = ?3", &[s(&tenant_id), s(&row.platform), s(&row.account_id)])?,
            stmt(&db, "DELETE FROM ads_accounts WHERE tenant_id = ?1 AND id = ?2", &[s(&tenant_id), s(&row.id)])?,
        ],
    )
    .await?;
    Ok(json_response(200, &json!({"deleted": true, "id": row.id})))
}

fn parse_date_param(
    q: &BTreeMap<String, String>,
    name: &str,
) -> std::result::Result<Option<Date>, ApiError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Date::parse(v)
            .map(Some)
            .ok_or_else(|| invalid(name, "must be a date YYYY-MM-DD")),
    }
}

async fn sync_account(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let row = account_by_id(&db(env)?, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "no such ads account"))?;
    let q = query(&req);
    let kind = match q.get("kind").map(String::as_str) {
        None | Some("daily_metrics_sync") => JobKind::DailyMetricsSync,
        Some("intraday_refresh") => JobKind::IntradayRefresh,
        Some("audience_sync") => JobKind::AudienceSync,
        Some("token_refresh") if row.platform() == AdsPlatform::Meta => JobKind::TokenRefresh,
        Some("health_check") => JobKind::HealthCheck,
        Some(_) => return Err(invalid("kind", "unknown job kind")),
    };
    let range = match (parse_date_param(&q, "from")?, parse_date_param(&q, "to")?) {
        (None, None) => None,
        (Some(from), to) => {
            let to = to.unwrap_or_else(|| Date::from_unix(now_secs()));
            let range =
                DateRange::new(from, to).ok_or_else(|| invalid("to", "must not be before from"))?;
            if range.len_days() > 400 {
                return Err(invalid("from", "a backfill covers at most 400 days"));
            }
            Some(range)
        }
        (None, Some(_)) => return Err(invalid("from", "is required with to")),
    };
    // Idempotent: makes sure the account's jobs exist (a scheduler reset loses nothing).
    register_jobs(env, &row).await?;
    if let Some(delay) = q.get("delay") {
        let delay: i64 = delay
            .parse()
            .ok()
            .filter(|d| (0..=86_400).contains(d))
            .ok_or_else(|| invalid("delay", "must be 0..86400 seconds"))?;
        let (status, body) = bindings::scheduler(
            env,
            &tenant_id,
            &SchedulerRequest::ScheduleAt {
                tenant_id: tenant_id.clone(),
                kind,
                account: row.id.clone(),
                at: now_secs() + delay,
            },
        )
        .await?;
        return Ok(json_response(
            if status == 200 { 202 } else { status },
            &body,
        ));
    }
    let (_, body) = bindings::scheduler(
        env,
        &tenant_id,
        &SchedulerRequest::RunNow {
            tenant_id: tenant_id.clone(),
            kind,
            account: row.id.clone(),
            range,
        },
    )
    .await?;
    let status = if body["ok"] == json!(true) {
        200
    } else if let Some(failure) = scheduler::is_failure(&body) {
        let mut body = body.clone();
        let code = match failure {
            ApiFailure::RateLimited { .. } => "rate_limited",
            _ => "sync_failed",
        };
        body["error"] = json!({"code": code, "message": failure.reason(), "class": failure});
        return Ok(json_response(502, &body));
    } else if body.get("deferred_until").is_some() {
        202
    } else {
        500
    };
    Ok(json_response(status, &body))
}

// ---------------------------------------------------------------- reports

async fn metrics(req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let q = query(&req);
    let today = Date::from_unix(now_secs());
    let to = parse_date_param(&q, "to")?.unwrap_or(today);
    let from = parse_date_param(&q, "from")?.unwrap_or(to.add_days(-29));
    let range = DateRange::new(from, to).ok_or_else(|| invalid("to", "must not be before from"))?;
    if range.len_days() > 731 {
        return Err(invalid("from", "a report covers at most 731 days"));
    }
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            AdsPlatform::parse(p).ok_or_else(|| invalid("platform", "must be meta or google"))?,
        ),
    };
    let rows = metric_rows(&db(env)?, &tenant_id, range, platform, None).await?;
    let report = kpi::build_report(&rows, range, platform);
    let mut body = json!(report);
    body["rows"] = json!(rows.len());
    Ok(json_response(200, &body))
}

async fn spend(req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let today = Date::from_unix(now_secs());
    let range = DateRange {
        from: today.first_of_month(),
        to: today,
    };
    let rows = metric_rows(&db(env)?, &tenant_id, range, None, None).await?;
    Ok(json_response(
        200,
        &json!(kpi::month_to_date_spend(&rows, today)),
    ))
}

// ---------------------------------------------------------------- alerts API

#[derive(Deserialize)]
struct SettingsRow {
    alert_thresholds: String,
    notification_webhook_url: Option<String>,
}

async fn settings(
    db: &D1Database,
    tenant_id: &str,
) -> std::result::Result<(Value, Option<String>), ApiError> {
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

/// Where ads alerts go: the ads-specific `notification_webhook_url` when set, else the tenant's
/// notification webhook (`tenants.notify_webhook_url`, issue 6).
async fn notification_webhook(
    db: &D1Database,
    tenant_id: &str,
) -> std::result::Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Url {
        url: Option<String>,
    }
    let joined: std::result::Result<Option<Url>, ApiError> = first(
        db,
        "SELECT COALESCE((SELECT notification_webhook_url FROM ads_settings WHERE tenant_id = ?1), notify_webhook_url) AS url FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await;
    match joined {
        Ok(row) => Ok(row.and_then(|r| r.url).filter(|u| !u.is_empty())),
        // A schema without the tenant webhook column: the ads setting alone.
        Err(_) => Ok(settings(db, tenant_id).await?.1),
    }
}

fn thresholds_of(raw: &Value) -> AlertThresholds {
    serde_json::from_value(raw.clone()).unwrap_or_default()
}

#[derive(Deserialize)]
struct AlertRow {
    id: i64,
    kind: String,
    platform: Option<String>,
    account_id: String,
    campaign_id: Option<String>,
    campaign_name: Option<String>,
    value: Option<f64>,
    threshold: Option<f64>,
    message: String,
    delivered: String,
    created_at: i64,
}

async fn list_alerts(req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let db = db(env)?;
    let rows: Vec<AlertRow> = all(
        &db,
        "SELECT id, kind, platform, account_id, campaign_id, campaign_name, value, threshold, message, delivered, created_at FROM ads_alerts WHERE tenant_id = ?1 ORDER BY id DESC LIMIT 200",
        &[s(&tenant_id)],
    )
    .await?;
    let (raw, webhook) = settings(&db, &tenant_id).await?;
    let alerts: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({"id": r.id, "kind": r.kind, "platform": r.platform, "account_id": r.account_id,
            "campaign_id": r.campaign_id, "campaign_name": r.campaign_name, "value": r.value,
            "threshold": r.threshold, "message": r.message, "delivered": r.delivered, "created_at": r.created_at}))
        .collect();
    Ok(json_response(
        200,
        &json!({"alerts": alerts, "thresholds": thresholds_of(&raw), "notification_webhook_url": webhook}),
    ))
}

fn valid_webhook(url: &str) -> bool {
    url::Url::parse(url)
        .map(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
        .unwrap_or(false)
}

async fn put_thresholds(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BODY_BYTES).await?;
    let Some(input) = body.as_object() else {
        return Err(invalid("body", "must be an object"));
    };
    let db = db(env)?;
    let (mut raw, mut webhook) = settings(&db, &tenant_id).await?;
    if !raw.is_object() {
        raw = json!({});
    }
    let known = [
        "budget_remaining_fraction",
        "low_ctr_percent",
        "high_cpc",
        "performance_drop_fraction",
        "min_impressions_for_ctr",
        "min_clicks_for_cpc",
        "min_conversions_for_drop",
    ];
    for (k, v) in input {
        if k == "notification_webhook_url" {
            webhook = match v {
                Value::Null => None,
                Value::String(u) if u.is_empty() => None,
                Value::String(u) if valid_webhook(u) => Some(u.clone()),
                _ => return Err(invalid(k, "must be an http(s) URL or null")),
            };
            continue;
        }
        if !known.contains(&k.as_str()) {
            return Err(invalid(k, "is not a known threshold"));
        }
        if !(v.is_null() || v.as_f64().is_some_and(|x| x >= 0.0)) {
            return Err(invalid(k, "must be a non-negative number or null (off)"));
        }
        raw[k] = v.clone();
    }
    let merged: AlertThresholds = serde_json::from_value(raw.clone())
        .map_err(|e| invalid("body", &format!("invalid thresholds: {e}")))?;
    run(
        &db,
        "INSERT INTO ads_settings (tenant_id, alert_thresholds, notification_webhook_url, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(tenant_id) DO UPDATE SET alert_thresholds = excluded.alert_thresholds, notification_webhook_url = excluded.notification_webhook_url, updated_at = excluded.updated_at",
        &[s(&tenant_id), s(&raw.to_string()), opt(webhook.as_deref()), n(now_secs())],
    )
    .await?;
    Ok(json_response(
        200,
        &json!({"thresholds": merged, "notification_webhook_url": webhook}),
    ))
}

// ---------------------------------------------------------------- audiences API

#[derive(Deserialize)]
struct AudienceRow {
    id: String,
    ads_account_id: String,
    kind: String,
    name: String,
    platform_audience_id: Option<String>,
    origin_audience_id: Option<String>,
    lookalike_spec: Option<String>,
    member_count: i64,
    sync_status: String,
    last_sync_at: Option<i64>,
    last_sync_result: Option<String>,
    last_error: Option<String>,
    created_at: i64,
}

impl AudienceRow {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id, "ads_account_id": self.ads_account_id, "kind": self.kind, "name": self.name,
            "platform_audience_id": self.platform_audience_id, "origin_audience_id": self.origin_audience_id,
            "lookalike_spec": self.lookalike_spec.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
            "member_count": self.member_count, "sync_status": self.sync_status,
            "last_sync_at": self.last_sync_at,
            "last_sync_result": self.last_sync_result.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()),
            "last_error": self.last_error, "created_at": self.created_at,
        })
    }
}

const AUDIENCE_COLS: &str = "id, ads_account_id, kind, name, platform_audience_id, origin_audience_id, lookalike_spec, member_count, sync_status, last_sync_at, last_sync_result, last_error, created_at";

async fn audience_by_id(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> std::result::Result<Option<AudienceRow>, ApiError> {
    first(
        db,
        &format!("SELECT {AUDIENCE_COLS} FROM ads_audiences WHERE tenant_id = ?1 AND id = ?2"),
        &[s(tenant_id), s(id)],
    )
    .await
}

#[derive(Deserialize)]
struct NewAudience {
    name: String,
    ads_account_id: String,
    #[serde(default)]
    members: Vec<CustomerRecord>,
    #[serde(default)]
    default_country: Option<String>,
}

async fn create_audience(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_AUDIENCE_BODY_BYTES).await?;
    let input: NewAudience = serde_json::from_value(body).map_err(|e| {
        invalid(
            "body",
            &format!("expected {{name, ads_account_id, members:[{{email?, phone?}}]}}: {e}"),
        )
    })?;
    if input.name.trim().is_empty() {
        return Err(invalid("name", "is required"));
    }
    let db = db(env)?;
    let account = account_by_id(&db, &tenant_id, &input.ads_account_id)
        .await?
        .ok_or_else(|| invalid("ads_account_id", "no such ads account"))?;
    let country = input
        .default_country
        .as_deref()
        .map(str::to_ascii_lowercase);
    // Raw emails/phones live only in this request: hashed here, never stored or logged.
    let intake = audience::intake(&input.members, country.as_deref());
    drop(input.members);
    let id = uuid_v4();
    let now = now_secs();
    let mut statements = vec![stmt(
        &db,
        "INSERT INTO ads_audiences (id, tenant_id, ads_account_id, kind, name, member_count, sync_status, created_at, updated_at) VALUES (?1, ?2, ?3, 'customer_list', ?4, ?5, 'pending', ?6, ?6)",
        &[s(&id), s(&tenant_id), s(&account.id), s(input.name.trim()), n(intake.contacts.len() as i64), n(now)],
    )?];
    statements.extend(member_statements(&db, &id, &intake.contacts)?);
    batch(&db, statements).await?;
    let rejected: Vec<&audience::RowIssue> = intake
        .issues
        .iter()
        .filter(|i| i.rejected)
        .take(100)
        .collect();
    Ok(json_response(
        201,
        &json!({"id": id, "name": input.name.trim(), "ads_account_id": account.id, "platform": account.platform,
                "member_count": intake.contacts.len(), "duplicates": intake.duplicates,
                "rejected": intake.issues.iter().filter(|i| i.rejected).count(),
                "issues": rejected, "sync_status": "pending"}),
    ))
}

fn member_statements(
    db: &D1Database,
    audience_id: &str,
    contacts: &[HashedContact],
) -> std::result::Result<Vec<D1PreparedStatement>, ApiError> {
    let rows: Vec<Vec<JsValue>> = contacts
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                s(audience_id),
                n(i as i64),
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

async fn list_audiences(req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let rows: Vec<AudienceRow> = all(
        &db(env)?,
        &format!("SELECT {AUDIENCE_COLS} FROM ads_audiences WHERE tenant_id = ?1 ORDER BY created_at, id"),
        &[s(&tenant_id)],
    )
    .await?;
    Ok(json_response(
        200,
        &json!({"audiences": rows.iter().map(AudienceRow::to_json).collect::<Vec<_>>()}),
    ))
}

async fn sync_audience_now(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let db = db(env)?;
    let aud = audience_by_id(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "no such audience"))?;
    if aud.kind != "customer_list" {
        return Err(ApiError::new(
            409,
            "not_syncable",
            "only customer lists are synced; lookalikes follow their source",
        ));
    }
    let (status, mut body) = bindings::scheduler(
        env,
        &tenant_id,
        &SchedulerRequest::SyncAudience {
            tenant_id: tenant_id.clone(),
            audience_id: id.to_string(),
        },
    )
    .await?;
    if status != 200 {
        return Ok(json_response(status, &body));
    }
    if let Some(row) = audience_by_id(&db, &tenant_id, id).await? {
        body["audience"] = row.to_json();
    }
    let status = if body["ok"] == json!(true) { 200 } else { 502 };
    Ok(json_response(status, &body))
}

#[derive(Deserialize)]
struct LookalikeInput {
    #[serde(default)]
    name: Option<String>,
    country: String,
    ratio: f64,
}

async fn lookalike(mut req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BODY_BYTES).await?;
    let input: LookalikeInput = serde_json::from_value(body)
        .map_err(|e| invalid("body", &format!("expected {{country, ratio, name?}}: {e}")))?;
    let db = db(env)?;
    let aud = audience_by_id(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "no such audience"))?;
    let account = account_by_id(&db, &tenant_id, &aud.ads_account_id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "the audience's ads account is gone"))?;
    if account.platform() != AdsPlatform::Meta {
        return Err(ApiError::new(
            409,
            "unsupported",
            "lookalikes exist for Meta audiences only",
        ));
    }
    let Some(origin) = aud.platform_audience_id.clone() else {
        return Err(ApiError::new(
            409,
            "not_synced",
            "sync the audience before creating a lookalike",
        ));
    };
    let spec = audience::LookalikeRequest {
        name: input.name.clone().unwrap_or_else(|| {
            format!(
                "{} lookalike {} {:.0}%",
                aud.name,
                input.country.to_ascii_uppercase(),
                input.ratio * 100.0
            )
        }),
        origin_audience_id: origin,
        country: input.country.clone(),
        ratio: input.ratio,
    };
    let token = open(env, &account.access_token_enc).map_err(|f| upstream_error("token", &f))?;
    let planned =
        audience::plan_meta_lookalike(&ads_config(env), &token, &account.account_id, &spec)
            .map_err(|m| {
                invalid(
                    if m.contains("ratio") {
                        "ratio"
                    } else {
                        "country"
                    },
                    &m,
                )
            })?;
    let created = audience::read_created_meta_audience(&send(&planned, timeout_ms(env)).await)
        .map_err(|f| upstream_error("lookalike creation", &f))?;
    let new_id = uuid_v4();
    let now = now_secs();
    let spec_json =
        json!({"country": spec.country.to_ascii_uppercase(), "ratio": spec.ratio}).to_string();
    run(
        &db,
        "INSERT INTO ads_audiences (id, tenant_id, ads_account_id, kind, name, platform_audience_id, origin_audience_id, lookalike_spec, sync_status, last_sync_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'lookalike', ?4, ?5, ?6, ?7, 'synced', ?8, ?8, ?8)",
        &[s(&new_id), s(&tenant_id), s(&account.id), s(&spec.name), s(&created), s(&aud.id), s(&spec_json), n(now)],
    )
    .await?;
    let row = audience_by_id(&db, &tenant_id, &new_id)
        .await?
        .ok_or_else(|| ApiError::internal("lookalike", "missing after insert"))?;
    Ok(json_response(201, &row.to_json()))
}

// ---------------------------------------------------------------- jobs (run by the Scheduler DO)

/// Why a job did not complete.
pub enum RunError {
    Failed(ApiFailure),
    /// Meta's hourly call budget is spent: try again then, nothing failed.
    Deferred(i64),
}

impl From<ApiFailure> for RunError {
    fn from(f: ApiFailure) -> Self {
        RunError::Failed(f)
    }
}

fn internal_failure(e: ApiError) -> RunError {
    RunError::Failed(ApiFailure::Retryable {
        reason: format!("internal: {}", e.message),
    })
}

pub struct JobRun {
    pub outcome: std::result::Result<Value, RunError>,
    /// The account's token expiry after the run (the token refresh slot follows it).
    pub token_expires_at: Option<i64>,
}

/// Sends one Meta call within the account's hourly budget (200 calls per hour, seed 001).
async fn meta_call(
    req: &OutboundRequest,
    budget: &mut CallBudget,
    timeout: u64,
) -> std::result::Result<InboundResponse, RunError> {
    let now = now_secs();
    if budget.remaining(now) == 0 {
        return Err(RunError::Deferred(budget.available_at(now)));
    }
    budget.record(now);
    Ok(send(req, timeout).await)
}

pub async fn run_job(
    env: &Env,
    tenant_id: &str,
    kind: JobKind,
    account_key: &str,
    range: Option<DateRange>,
    run_key: &str,
    budget: &mut CallBudget,
) -> JobRun {
    let db = match db(env) {
        Ok(d) => d,
        Err(e) => {
            return JobRun {
                outcome: Err(internal_failure(e)),
                token_expires_at: None,
            }
        }
    };
    let account = match account_by_id(&db, tenant_id, account_key).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return JobRun {
                outcome: Err(RunError::Failed(ApiFailure::Permanent {
                    reason: "the ads account was removed".into(),
                })),
                token_expires_at: None,
            }
        }
        Err(e) => {
            return JobRun {
                outcome: Err(internal_failure(e)),
                token_expires_at: None,
            }
        }
    };
    let mut expires = match account.platform() {
        AdsPlatform::Meta => account.token_expires_at,
        AdsPlatform::Google => None,
    };
    let outcome = match kind {
        JobKind::DailyMetricsSync | JobKind::IntradayRefresh => match range {
            Some(range) => sync_metrics(env, &db, &account, range, run_key, budget).await,
            None => Ok(json!({"skipped": "no range"})),
        },
        JobKind::AudienceSync => sync_account_audiences(env, &db, &account, budget).await,
        JobKind::TokenRefresh => match refresh_meta_token(env, &db, &account, budget).await {
            Ok((v, new_expiry)) => {
                expires = new_expiry;
                Ok(v)
            }
            Err(e) => Err(e),
        },
        JobKind::HealthCheck => health_check(env, &db, &account, budget).await,
    };
    JobRun {
        outcome,
        token_expires_at: expires,
    }
}

/// The token to call the platform with; refreshes Google's one-hour access token when due.
async fn access_token(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
) -> std::result::Result<String, RunError> {
    let token = open(env, &account.access_token_enc)?;
    if account.platform() == AdsPlatform::Meta {
        return Ok(token);
    }
    let now = now_secs();
    if !oauth::access_token_needs_refresh(account.token_expires_at, now) {
        return Ok(token);
    }
    let Some(refresh_enc) = &account.refresh_token_enc else {
        return Err(RunError::Failed(ApiFailure::AuthInvalid {
            reason: "no Google refresh token stored; reconnect the account".into(),
        }));
    };
    let refresh = open(env, refresh_enc)?;
    let client = oauth_client(env, AdsPlatform::Google, "")
        .map_err(|e| RunError::Failed(ApiFailure::Permanent { reason: e.message }))?;
    let r = send(
        &oauth::plan_google_refresh(&ads_config(env), &client, &refresh),
        timeout_ms(env),
    )
    .await;
    let grant = oauth::read_token_response(AdsPlatform::Google, &r, now)?;
    let enc = seal(env, &grant.access_token).map_err(internal_failure)?;
    run(
        db,
        "UPDATE ads_accounts SET access_token_enc = ?1, token_expires_at = ?2, updated_at = ?3 WHERE id = ?4",
        &[s(&enc), optn(grant.expires_at), n(now), s(&account.id)],
    )
    .await
    .map_err(internal_failure)?;
    Ok(grant.access_token)
}

fn status_str(s: CampaignStatus) -> &'static str {
    match s {
        CampaignStatus::Active => "active",
        CampaignStatus::Paused => "paused",
        CampaignStatus::Archived => "archived",
    }
}

async fn sync_metrics(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    range: DateRange,
    run_key: &str,
    budget: &mut CallBudget,
) -> std::result::Result<Value, RunError> {
    let started = now_ms();
    let cfg = ads_config(env);
    let timeout = timeout_ms(env);
    let token = access_token(env, db, account).await?;
    let acct = account.account_ref();
    let mut campaigns: Vec<Campaign> = Vec::new();
    let mut rows: Vec<DailyMetrics> = Vec::new();
    let mut calls = 0usize;
    match account.platform() {
        AdsPlatform::Meta => {
            let mut after: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let req = meta_insights::plan_campaigns(
                    &cfg,
                    &token,
                    &account.account_id,
                    after.as_deref(),
                );
                let page =
                    meta_insights::read_campaigns(&meta_call(&req, budget, timeout).await?, &acct)?;
                calls += 1;
                campaigns.extend(page.items);
                after = page.next_cursor;
                if after.is_none() {
                    break;
                }
            }
            let rule = ConversionRule::default();
            let mut after: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let req = meta_insights::plan_insights(
                    &cfg,
                    &token,
                    &account.account_id,
                    range,
                    after.as_deref(),
                );
                let page = meta_insights::read_insights(
                    &meta_call(&req, budget, timeout).await?,
                    &acct,
                    &rule,
                )?;
                calls += 1;
                rows.extend(page.items);
                after = page.next_cursor;
                if after.is_none() {
                    break;
                }
            }
        }
        AdsPlatform::Google => {
            let creds = google_creds(env, account.login_customer_id.as_deref(), &token);
            let req = google_ads::plan_search_stream(&cfg, &creds, &account.account_id, range);
            let sync = google_ads::read_search_stream(&send(&req, timeout).await, &acct)?;
            calls += 1;
            campaigns = sync.campaigns;
            rows = sync.rows;
        }
    }
    let fetched_ms = now_ms() - started;
    let now = now_secs();
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
                n(now),
            ]
        })
        .collect();
    let mut statements = multi_insert(
        db,
        "INSERT INTO ads_campaigns (tenant_id, platform, account_id, campaign_id, name, status, currency, daily_budget_micros, lifetime_budget_micros, budget_remaining_micros, updated_at)",
        "ON CONFLICT(tenant_id, platform, account_id, campaign_id) DO UPDATE SET name = excluded.name, status = excluded.status, currency = excluded.currency,
         daily_budget_micros = excluded.daily_budget_micros, lifetime_budget_micros = excluded.lifetime_budget_micros,
         budget_remaining_micros = excluded.budget_remaining_micros, updated_at = excluded.updated_at",
        campaign_rows,
    )
    .map_err(internal_failure)?;
    // Keep the last row of a key the platform sent twice (one statement cannot upsert a key twice).
    let unique = kpi::latest_per_key(&rows);
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
                s(run_key),
                n(now),
            ]
        })
        .collect();
    statements.extend(
        multi_insert(
            db,
            "INSERT INTO ads_daily_metrics (tenant_id, platform, account_id, campaign_id, date, campaign_name, currency, impressions, clicks, spend_micros, conversions, conversion_value_micros, run_key, synced_at)",
            "ON CONFLICT(tenant_id, platform, account_id, campaign_id, date) DO UPDATE SET campaign_name = excluded.campaign_name,
             currency = excluded.currency, impressions = excluded.impressions, clicks = excluded.clicks, spend_micros = excluded.spend_micros,
             conversions = excluded.conversions, conversion_value_micros = excluded.conversion_value_micros, run_key = excluded.run_key,
             synced_at = excluded.synced_at",
            metric_values,
        )
        .map_err(internal_failure)?,
    );
    statements.push(
        stmt(
            db,
            "UPDATE ads_accounts SET last_sync_at = ?1, last_error = NULL, updated_at = ?1 WHERE id = ?2",
            &[n(now), s(&account.id)],
        )
        .map_err(internal_failure)?,
    );
    batch(db, statements).await.map_err(internal_failure)?;
    let alerts_sent = match evaluate_alerts(env, db, account, now).await {
        Ok(n) => n,
        Err(e) => {
            worker::console_error!("alerts for {}: {}", account.id, e.message);
            0
        }
    };
    Ok(json!({
        "platform": account.platform, "account_id": account.account_id, "range": range,
        "campaigns": campaigns.len(), "rows": unique.len(), "calls": calls,
        "fetch_ms": fetched_ms, "total_ms": now_ms() - started, "alerts_sent": alerts_sent,
    }))
}

#[derive(Deserialize)]
struct CampaignRow {
    platform: String,
    account_id: String,
    campaign_id: String,
    name: String,
    status: String,
    daily_budget_micros: Option<f64>,
    lifetime_budget_micros: Option<f64>,
    budget_remaining_micros: Option<f64>,
}

/// Budget and performance rules for the synced account; sends what the throttle lets through.
async fn evaluate_alerts(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    now: i64,
) -> std::result::Result<usize, ApiError> {
    let tenant = account.tenant_id.as_str();
    let (raw, _) = settings(db, tenant).await?;
    let thresholds = thresholds_of(&raw);
    let today = Date::from_unix(now);
    let campaigns: Vec<CampaignRow> = all(
        db,
        "SELECT platform, account_id, campaign_id, name, status, daily_budget_micros, lifetime_budget_micros, budget_remaining_micros FROM ads_campaigns WHERE tenant_id = ?1 AND platform = ?2 AND account_id = ?3",
        &[s(tenant), s(&account.platform), s(&account.account_id)],
    )
    .await?;
    let window = DateRange::days_before(today.add_days(1), 15);
    let rows = metric_rows(
        db,
        tenant,
        window,
        None,
        Some((&account.platform, &account.account_id)),
    )
    .await?;
    let spent_today: BTreeMap<&str, i64> = rows
        .iter()
        .filter(|r| r.date == today)
        .map(|r| (r.campaign_id.as_str(), r.metrics.spend_micros))
        .collect();
    let budgets: Vec<BudgetStatus> = campaigns
        .iter()
        .filter_map(|c| {
            let campaign = Campaign {
                platform: AdsPlatform::parse(&c.platform)?,
                account_id: c.account_id.clone(),
                campaign_id: c.campaign_id.clone(),
                name: c.name.clone(),
                status: serde_json::from_value(json!(c.status)).ok()?,
                daily_budget_micros: c.daily_budget_micros.map(|x| x as i64),
                lifetime_budget_micros: c.lifetime_budget_micros.map(|x| x as i64),
                budget_remaining_micros: c.budget_remaining_micros.map(|x| x as i64),
            };
            BudgetStatus::from_campaign(
                &campaign,
                &account.currency,
                spent_today.get(c.campaign_id.as_str()).copied(),
            )
        })
        .collect();
    let performance = alerts::performance_windows(&rows, today);
    let found = alerts::evaluate(&thresholds, &budgets, &performance);
    if found.is_empty() {
        return Ok(0);
    }
    #[derive(Deserialize)]
    struct Sent {
        alert_key: String,
        last: f64,
    }
    let sent: Vec<Sent> = all(
        db,
        "SELECT alert_key, MAX(created_at) AS last FROM ads_alerts WHERE tenant_id = ?1 AND created_at > ?2 GROUP BY alert_key",
        &[s(tenant), n(now - alerts::ALERT_COOLDOWN_SECS)],
    )
    .await?;
    let last_sent: BTreeMap<String, i64> = sent
        .into_iter()
        .map(|r| (r.alert_key, r.last as i64))
        .collect();
    let to_send = alerts::throttle(found, &last_sent, now);
    let count = to_send.len();
    deliver_alerts(env, db, tenant, &to_send, now).await?;
    Ok(count)
}

/// Stores the alerts (visible through the API) and posts them to the tenant's webhook.
async fn deliver_alerts(
    env: &Env,
    db: &D1Database,
    tenant_id: &str,
    list: &[Alert],
    now: i64,
) -> std::result::Result<(), ApiError> {
    if list.is_empty() {
        return Ok(());
    }
    let webhook = notification_webhook(db, tenant_id).await?;
    let delivered = match webhook {
        None => "no_webhook",
        Some(url) => {
            #[derive(Deserialize)]
            struct Name {
                name: String,
            }
            let name = first::<Name>(
                db,
                "SELECT name FROM tenants WHERE id = ?1",
                &[s(tenant_id)],
            )
            .await?
            .map(|r| r.name)
            .unwrap_or_default();
            let payload = alerts::slack_payload(&name, list);
            let req = OutboundRequest::post_json(url, payload.to_string());
            let r = super::fetch::send(&req, config::outbound_timeout_ms(env)).await;
            if (200..300).contains(&r.status) {
                "sent"
            } else {
                worker::console_error!("alert webhook for {tenant_id}: HTTP {}", r.status);
                "failed"
            }
        }
    };
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

/// Notify / mark the account, as the scheduler's bookkeeping decided.
pub async fn apply_effects(env: &Env, tenant_id: &str, effects: &[JobEffect]) {
    let Ok(db) = db(env) else { return };
    let now = now_secs();
    for effect in effects {
        let result = match effect {
            JobEffect::Notify { account_id, .. } => {
                match account_by_id(&db, tenant_id, account_id).await {
                    Ok(row) => {
                        let platform = row.as_ref().map(AccountRow::platform);
                        match alerts::sync_failure_alert(effect, platform) {
                            Some(mut alert) => {
                                if let Some(r) = &row {
                                    alert.account_id = r.account_id.clone();
                                }
                                deliver_alerts(env, &db, tenant_id, &[alert], now).await
                            }
                            None => Ok(()),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            JobEffect::MarkAccountError { account_id, reason } => run(
                &db,
                "UPDATE ads_accounts SET status = 'error', last_error = ?1, updated_at = ?2 WHERE tenant_id = ?3 AND id = ?4",
                &[s(reason), n(now), s(tenant_id), s(account_id)],
            )
            .await
            .map(|_| ()),
            JobEffect::MarkAccountActive { account_id } => run(
                &db,
                "UPDATE ads_accounts SET status = 'active', last_error = NULL, updated_at = ?1 WHERE tenant_id = ?2 AND id = ?3",
                &[n(now), s(tenant_id), s(account_id)],
            )
            .await
            .map(|_| ()),
        };
        if let Err(e) = result {
            worker::console_error!("scheduler effect for {tenant_id}: {}", e.message);
        }
    }
}

/// Every failed run is visible on the account (the status changes only after 3 in a row).
pub async fn record_account_error(env: &Env, tenant_id: &str, account_key: &str, reason: &str) {
    if let Ok(db) = db(env) {
        let _ = run(
            &db,
            "UPDATE ads_accounts SET last_error = ?1, updated_at = ?2 WHERE tenant_id = ?3 AND id = ?4",
            &[s(reason), n(now_secs()), s(tenant_id), s(account_key)],
        )
        .await;
    }
}

async fn refresh_meta_token(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    budget: &mut CallBudget,
) -> std::result::Result<(Value, Option<i64>), RunError> {
    let token = open(env, &account.access_token_enc)?;
    let client = oauth_client(env, AdsPlatform::Meta, "")
        .map_err(|e| RunError::Failed(ApiFailure::Permanent { reason: e.message }))?;
    let req = oauth::plan_meta_token_exchange(&ads_config(env), &client, &token);
    let now = now_secs();
    let grant = oauth::read_token_response(
        AdsPlatform::Meta,
        &meta_call(&req, budget, timeout_ms(env)).await?,
        now,
    )?;
    let extended = oauth::refresh_extended(account.token_expires_at, &grant);
    let enc = seal(env, &grant.access_token).map_err(internal_failure)?;
    run(
        db,
        "UPDATE ads_accounts SET access_token_enc = ?1, token_expires_at = ?2, updated_at = ?3 WHERE id = ?4",
        &[s(&enc), optn(grant.expires_at), n(now), s(&account.id)],
    )
    .await
    .map_err(internal_failure)?;
    Ok((
        json!({"refreshed": true, "extended": extended, "expires_at": grant.expires_at}),
        grant.expires_at,
    ))
}

async fn health_check(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    budget: &mut CallBudget,
) -> std::result::Result<Value, RunError> {
    let cfg = ads_config(env);
    let timeout = timeout_ms(env);
    let token = access_token(env, db, account).await?;
    let info = match account.platform() {
        AdsPlatform::Meta => accounts::read_meta_account(
            &meta_call(
                &accounts::plan_meta_account(&cfg, &token, &account.account_id),
                budget,
                timeout,
            )
            .await?,
        )?,
        AdsPlatform::Google => {
            let creds = google_creds(env, account.login_customer_id.as_deref(), &token);
            accounts::read_google_customer(
                &send(
                    &accounts::plan_google_customer(&cfg, &creds, &account.account_id),
                    timeout,
                )
                .await,
                &account.account_id,
            )?
        }
    };
    Ok(json!({"healthy": true, "name": info.name, "currency": info.currency}))
}

/// The ads account (our id) an audience belongs to.
pub async fn audience_account(
    env: &Env,
    tenant_id: &str,
    audience_id: &str,
) -> std::result::Result<Option<String>, ApiError> {
    Ok(audience_by_id(&db(env)?, tenant_id, audience_id)
        .await?
        .map(|a| a.ads_account_id))
}

async fn sync_account_audiences(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    budget: &mut CallBudget,
) -> std::result::Result<Value, RunError> {
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let ids: Vec<Id> = all(
        db,
        "SELECT id FROM ads_audiences WHERE tenant_id = ?1 AND ads_account_id = ?2 AND kind = 'customer_list' ORDER BY created_at",
        &[s(&account.tenant_id), s(&account.id)],
    )
    .await
    .map_err(internal_failure)?;
    let mut results = Vec::new();
    let mut first_failure = None;
    for Id { id } in ids {
        match sync_audience(env, &account.tenant_id, &id, budget).await {
            Ok(v) => results.push(v),
            Err(RunError::Deferred(t)) => return Err(RunError::Deferred(t)),
            Err(RunError::Failed(f)) => {
                results.push(json!({"audience_id": id, "error": f}));
                first_failure.get_or_insert(f);
            }
        }
    }
    match first_failure {
        Some(f) => Err(RunError::Failed(f)),
        None => Ok(json!({"audiences": results})),
    }
}

#[derive(Deserialize)]
struct MemberRow {
    email_meta: Option<String>,
    email_google: Option<String>,
    phone_meta: Option<String>,
    phone_google: Option<String>,
}

/// Replace-mode sync of one customer list; the audience's status records the outcome.
pub async fn sync_audience(
    env: &Env,
    tenant_id: &str,
    audience_id: &str,
    budget: &mut CallBudget,
) -> std::result::Result<Value, RunError> {
    let db = db(env).map_err(internal_failure)?;
    let aud = audience_by_id(&db, tenant_id, audience_id)
        .await
        .map_err(internal_failure)?
        .ok_or_else(|| {
            RunError::Failed(ApiFailure::Permanent {
                reason: "audience removed".into(),
            })
        })?;
    let account = account_by_id(&db, tenant_id, &aud.ads_account_id)
        .await
        .map_err(internal_failure)?
        .ok_or_else(|| {
            RunError::Failed(ApiFailure::Permanent {
                reason: "the audience's ads account was removed".into(),
            })
        })?;
    let result = replace_audience(env, &db, &account, &aud, budget).await;
    let now = now_secs();
    let (status, detail, error) = match &result {
        Ok(v) => (AudienceSyncStatus::Synced, Some(v.to_string()), None),
        Err(RunError::Failed(f)) => (
            AudienceSyncStatus::after(Err(f)),
            None,
            Some(f.reason().to_string()),
        ),
        Err(RunError::Deferred(_)) => (
            AudienceSyncStatus::Pending,
            None,
            Some("Meta call budget spent; deferred".to_string()),
        ),
    };
    let status_text = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "pending".into());
    let _ = run(
        &db,
        "UPDATE ads_audiences SET sync_status = ?1, last_sync_at = ?2, last_sync_result = COALESCE(?3, last_sync_result), last_error = ?4, updated_at = ?2 WHERE id = ?5",
        &[s(&status_text), n(now), opt(detail.as_deref()), opt(error.as_deref()), s(audience_id)],
    )
    .await;
    result.map(|mut v| {
        v["audience_id"] = json!(audience_id);
        v
    })
}

async fn replace_audience(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    aud: &AudienceRow,
    budget: &mut CallBudget,
) -> std::result::Result<Value, RunError> {
    let members: Vec<MemberRow> = all(
        db,
        "SELECT email_meta, email_google, phone_meta, phone_google FROM ads_audience_members WHERE audience_id = ?1 ORDER BY seq",
        &[s(&aud.id)],
    )
    .await
    .map_err(internal_failure)?;
    let contacts: Vec<HashedContact> = members
        .into_iter()
        .map(|m| HashedContact {
            email_meta: m.email_meta,
            email_google: m.email_google,
            phone_meta: m.phone_meta,
            phone_google: m.phone_google,
        })
        .collect();
    if contacts.is_empty() {
        return Err(RunError::Failed(ApiFailure::Permanent {
            reason: "the audience has no members to upload".into(),
        }));
    }
    let cfg = ads_config(env);
    let timeout = timeout_ms(env);
    let token = access_token(env, db, account).await?;
    let now = now_secs();
    match account.platform() {
        AdsPlatform::Meta => {
            let audience_id = match &aud.platform_audience_id {
                Some(id) => id.clone(),
                None => {
                    let req = audience::plan_meta_custom_audience(
                        &cfg,
                        &token,
                        &account.account_id,
                        &aud.name,
                    );
                    let id = audience::read_created_meta_audience(
                        &meta_call(&req, budget, timeout).await?,
                    )?;
                    store_platform_audience(db, &aud.id, &id, now).await?;
                    id
                }
            };
            // One session for the whole replace; a random positive int64.
            let session_id = u64::from_le_bytes(random_bytes::<8>()) >> 12;
            let requests = audience::plan_meta_users_replace(
                &cfg,
                &token,
                &audience_id,
                &contacts,
                session_id,
            );
            if budget.remaining(now_secs()) < requests.len() {
                return Err(RunError::Deferred(
                    budget.available_at(now_secs()).max(now_secs() + 60),
                ));
            }
            let (mut received, mut invalid_entries) = (0u64, 0u64);
            for req in &requests {
                let r = audience::read_meta_batch(&meta_call(req, budget, timeout).await?)?;
                received += r.num_received;
                invalid_entries += r.num_invalid_entries;
            }
            Ok(
                json!({"platform": "meta", "platform_audience_id": audience_id, "session_id": session_id,
                      "batches": requests.len(), "members": contacts.len(),
                      "num_received": received, "num_invalid_entries": invalid_entries}),
            )
        }
        AdsPlatform::Google => {
            let creds = google_creds(env, account.login_customer_id.as_deref(), &token);
            let list = match &aud.platform_audience_id {
                Some(l) => l.clone(),
                None => {
                    let req = audience::plan_google_user_list(
                        &cfg,
                        &creds,
                        &account.account_id,
                        &aud.name,
                    );
                    let l = audience::read_created_user_list(&send(&req, timeout).await)?;
                    store_platform_audience(db, &aud.id, &l, now).await?;
                    l
                }
            };
            let list_id = list.rsplit('/').next().unwrap_or_default().to_string();
            let job_req = audience::plan_customer_match_job(
                &cfg,
                &creds,
                &account.account_id,
                &list_id,
                None,
            );
            let job = audience::read_created_job(&send(&job_req, timeout).await)?;
            let ops = audience::plan_customer_match_operations(&cfg, &creds, &job, &contacts)
                .map_err(|m| RunError::Failed(ApiFailure::Permanent { reason: m }))?;
            for req in &ops {
                audience::read_google_step(&send(req, timeout).await)?;
            }
            let run_req = audience::plan_customer_match_run(&cfg, &creds, &job)
                .map_err(|m| RunError::Failed(ApiFailure::Permanent { reason: m }))?;
            audience::read_google_step(&send(&run_req, timeout).await)?;
            Ok(
                json!({"platform": "google", "platform_audience_id": list, "job": job,
                      "batches": ops.len(), "members": contacts.len()}),
            )
        }
    }
}

async fn store_platform_audience(
    db: &D1Database,
    audience_id: &str,
    platform_id: &str,
    now: i64,
) -> std::result::Result<(), RunError> {
    run(
        db,
        "UPDATE ads_audiences SET platform_audience_id = ?1, updated_at = ?2 WHERE id = ?3",
        &[s(platform_id), n(now), s(audience_id)],
    )
    .await
    .map(|_| ())
    .map_err(internal_failure)
}

// ---------------------------------------------------------------- cron

/// The hourly cron wakes every tenant's scheduler; the schedulers do the work on their alarms.
pub async fn wake_schedulers(env: &Env) {
    #[derive(Deserialize)]
    struct T {
        tenant_id: String,
    }
    let tenants: Vec<T> = match db(env) {
        Ok(db) => all(&db, "SELECT DISTINCT tenant_id FROM ads_accounts", &[])
            .await
            .unwrap_or_default(),
        Err(_) => return,
    };
    let calls = tenants.iter().map(|t| async move {
        let r = bindings::scheduler(
            env,
            &t.tenant_id,
            &SchedulerRequest::Wake {
                tenant_id: t.tenant_id.clone(),
            },
        )
        .await;
        if let Err(e) = r {
            worker::console_error!("wake scheduler {}: {}", t.tenant_id, e.message);
        }
    });
    futures_util::future::join_all(calls).await;
    worker::console_log!("ads: woke {} scheduler(s)", tenants.len());
}
