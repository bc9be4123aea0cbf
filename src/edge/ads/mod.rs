//! Ads accounts (jobs Worker): a tenant connects its Meta and Google Ads accounts, their campaigns
//! and daily metrics are synced on a schedule, reported on and alerted on, and customer lists are
//! uploaded as audiences. Every platform request is planned by `crate::core::ads` (whose files
//! these mirror); this module sends, stores (all SQL is in `store::ads`) and renders.
//!
//! Where things are:
//! - here: the `/api/v1/ads/...` route table and the few helpers the handlers share;
//! - `oauth`: connecting accounts (start, callback page, confirmation, discovery of the granted
//!   ad accounts);
//! - `accounts`: the accounts API and the sync endpoint;
//! - `reports`: metrics, campaigns (one campaign's days) and month-to-date spend;
//! - `settings`: the tenant's report settings (default currency, Meta conversion actions, score
//!   targets, Customer Match consent);
//! - `alerts`: thresholds, the alerts API, the rules run after each sync and the webhook delivery;
//! - `audiences`: the audiences API (members added, removed, replaced) and the replace-mode sync
//!   of a customer list, with the platform's outcome;
//! - `jobs`: what the per-tenant Scheduler Durable Object runs, and the hourly wake of the
//!   schedulers. The Scheduler calls into `jobs`; nothing here names the Scheduler's code, only
//!   its binding (`bindings::scheduler`).
//! - `client`: the platform client: large answers, Meta's hourly call budget, access tokens.

use std::collections::BTreeMap;

use serde_json::Value;
use worker::{Env, Request};

use crate::core::ads::{AdsPlatform, ApiFailure};
use crate::core::calendar::Date;
use crate::edge::{ApiError, ApiResult};

mod accounts;
mod alerts;
mod audiences;
mod client;
pub mod jobs;
mod oauth;
mod reports;
mod settings;

/// The access token (Google's refreshed when due) and manager account of the tenant's connected
/// `platform` account `account_id`, else of its first connected account of that platform (a
/// Google manager account reaches its clients), for the conversion destinations and the Meta
/// Lead Ads webhook. `Ok(Err(why))` when none is usable (none connected, the grant revoked);
/// `Err` when our storage or the platform's token endpoint failed for now.
pub async fn connected_token(
    env: &Env,
    tenant_id: &str,
    platform: AdsPlatform,
    account_id: Option<&str>,
) -> Result<Result<(String, Option<String>), String>, ApiError> {
    let db = crate::edge::bindings::db(env)?;
    let exact = match account_id {
        Some(id) => crate::edge::store::ads::account_by_id(&db, tenant_id, id)
            .await?
            .filter(|a| a.platform() == platform),
        None => None,
    };
    let account = match exact {
        Some(a) => Some(a),
        None => crate::edge::store::ads::list_accounts(&db, tenant_id)
            .await?
            .into_iter()
            .find(|a| a.platform() == platform),
    };
    let Some(account) = account else {
        return Ok(Err(format!(
            "no {} ads account is connected",
            platform.as_str()
        )));
    };
    match client::access_token(env, &db, &account).await {
        Ok(token) => Ok(Ok((token, account.login_customer_id.clone()))),
        Err(client::RunError::Failed(
            f @ (ApiFailure::Retryable { .. } | ApiFailure::RateLimited { .. }),
        )) => Err(ApiError::new(
            503,
            "unavailable",
            &format!("{} token: {}", platform.as_str(), f.reason()),
        )),
        Err(client::RunError::Failed(f)) => Ok(Err(f.reason().to_string())),
        Err(client::RunError::Deferred(_)) => Ok(Err("the account's calls are deferred".into())),
    }
}

/// `/api/v1/ads/...`: `rest` is what follows `ads`.
pub async fn route(req: Request, env: &Env, rest: &[&str]) -> ApiResult {
    use worker::Method::*;
    match (req.method(), rest) {
        (Get, ["oauth", p, "start"]) => oauth::oauth_start(req, env, platform_param(p)?).await,
        (Get, ["oauth", p, "callback"]) => {
            oauth::oauth_callback(req, env, platform_param(p)?).await
        }
        (Post, ["oauth", p, "confirm"]) => oauth::oauth_confirm(req, env, platform_param(p)?).await,
        (Get, ["oauth", "grants"]) => oauth::list_grants(req, env).await,
        (Post, ["oauth", "grants", id]) => oauth::pick_grant(req, env, id).await,
        (Delete, ["oauth", "grants", id]) => oauth::discard_grant(req, env, id).await,
        (Get, ["accounts"]) => accounts::list_accounts(req, env).await,
        (Get, ["accounts", id]) => accounts::get_account(req, env, id).await,
        (Delete, ["accounts", id]) => accounts::delete_account(req, env, id).await,
        (Post, ["sync", id]) => accounts::sync_account(req, env, id).await,
        (Get, ["metrics"]) => reports::metrics(req, env).await,
        (Get, ["campaigns"]) => reports::list_campaigns(req, env).await,
        (Get, ["campaigns", id, "metrics"]) => reports::campaign_metrics(req, env, id).await,
        (Get, ["spend"]) => reports::spend(req, env).await,
        (Get, ["settings"]) => settings::get_settings(req, env).await,
        (Put, ["settings"]) => settings::put_settings(req, env).await,
        (Get, ["alerts"]) => alerts::list_alerts(req, env).await,
        (Put, ["alerts", "thresholds"]) => alerts::put_thresholds(req, env).await,
        (Post, ["audiences"]) => audiences::create_audience(req, env).await,
        (Get, ["audiences"]) => audiences::list_audiences(req, env).await,
        (Get, ["audiences", id]) => audiences::get_audience(req, env, id).await,
        (Put, ["audiences", id, "members"]) => audiences::replace_members(req, env, id).await,
        (Patch, ["audiences", id, "members"]) => audiences::change_members(req, env, id).await,
        (Post, ["audiences", id, "sync"]) => audiences::sync_audience_now(req, env, id).await,
        (Post, ["audiences", id, "lookalike"]) => audiences::lookalike(req, env, id).await,
        _ => Err(ApiError::new(404, "not_found", "no such endpoint")),
    }
}

fn platform_param(p: &str) -> Result<AdsPlatform, ApiError> {
    AdsPlatform::parse(p)
        .ok_or_else(|| ApiError::new(404, "not_found", "platform must be meta or google"))
}

/// Query parameter `name` as a date, when given.
fn parse_date_param(q: &BTreeMap<String, String>, name: &str) -> Result<Option<Date>, ApiError> {
    match q.get(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => Date::parse(v)
            .map(Some)
            .ok_or_else(|| ApiError::field(name, "must be a date YYYY-MM-DD")),
    }
}

/// A platform call that failed while serving a request: 400 when retrying cannot help (bad or
/// revoked grant, refused request), else 502.
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

/// The platform failure a Scheduler answer reports in `error`, if it is one (for the API's status
/// code).
pub fn is_failure(v: &Value) -> Option<ApiFailure> {
    serde_json::from_value(v.get("error")?.clone()).ok()
}
