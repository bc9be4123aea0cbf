//! The accounts API: list, read (with the account's scheduled jobs), remove, and the sync
//! endpoint that runs or schedules one of the account's jobs on the tenant's Scheduler.

use serde_json::{json, Value};
use worker::{Env, Request};

use super::{is_failure, parse_date_param};
use crate::core::ads::schedule::{JobKind, SchedulerRequest};
use crate::core::ads::{AdsPlatform, ApiFailure};
use crate::core::calendar::{Date, DateRange};
use crate::edge::auth::tenant_of_api_key;
use crate::edge::request::query_map;
use crate::edge::store::ads::{self as store, AccountRow};
use crate::edge::{bindings, json_response, now_secs, ApiError, ApiResult};

/// Makes sure the account's jobs exist on the tenant's Scheduler (idempotent); its answer.
pub(super) async fn register_jobs(env: &Env, account: &AccountRow) -> Result<Value, ApiError> {
    let (_, body) = bindings::scheduler(
        env,
        &account.tenant_id,
        &SchedulerRequest::AddAccount {
            tenant_id: account.tenant_id.clone(),
            account: account.id.clone(),
            platform: account.platform(),
            token_expires_at: account.meta_token_expires_at(),
        },
    )
    .await?;
    Ok(body)
}

/// The tenant's account `id` (ours or the platform's), or 404.
async fn account_or_404(env: &Env, tenant_id: &str, id: &str) -> Result<AccountRow, ApiError> {
    store::account_by_id(&bindings::db(env)?, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("ads account"))
}

pub(super) async fn list_accounts(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let rows = store::list_accounts(&bindings::db(env)?, &tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"accounts": rows.iter().map(AccountRow::to_json).collect::<Vec<_>>()}),
    ))
}

pub(super) async fn get_account(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let row = account_or_404(env, &tenant_id, id).await?;
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

pub(super) async fn delete_account(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let row = account_or_404(env, &tenant_id, id).await?;
    bindings::scheduler(
        env,
        &tenant_id,
        &SchedulerRequest::RemoveAccount {
            tenant_id: tenant_id.clone(),
            account: row.id.clone(),
        },
    )
    .await?;
    store::delete_account(&bindings::db(env)?, &tenant_id, &row).await?;
    Ok(json_response(200, &json!({"deleted": true, "id": row.id})))
}

/// `POST /sync/{id}?kind=&from=&to=&delay=`: runs the job now (a backfill when `from` is given),
/// or schedules it `delay` seconds ahead (202).
pub(super) async fn sync_account(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let row = account_or_404(env, &tenant_id, id).await?;
    let q = query_map(&req);
    let kind = match q.get("kind").map(String::as_str) {
        None | Some("daily_metrics_sync") => JobKind::DailyMetricsSync,
        Some("intraday_refresh") => JobKind::IntradayRefresh,
        Some("audience_sync") => JobKind::AudienceSync,
        Some("token_refresh") if row.platform() == AdsPlatform::Meta => JobKind::TokenRefresh,
        Some("health_check") => JobKind::HealthCheck,
        Some(_) => return Err(ApiError::field("kind", "unknown job kind")),
    };
    let range = match (parse_date_param(&q, "from")?, parse_date_param(&q, "to")?) {
        (None, None) => None,
        (Some(from), to) => {
            let to = to.unwrap_or_else(|| Date::from_unix(now_secs()));
            let range = DateRange::new(from, to)
                .ok_or_else(|| ApiError::field("to", "must not be before from"))?;
            if range.len_days() > 400 {
                return Err(ApiError::field(
                    "from",
                    "a backfill covers at most 400 days",
                ));
            }
            Some(range)
        }
        (None, Some(_)) => return Err(ApiError::field("from", "is required with to")),
    };
    // Idempotent: makes sure the account's jobs exist (a scheduler reset loses nothing).
    register_jobs(env, &row).await?;
    if let Some(delay) = q.get("delay") {
        let delay: i64 = delay
            .parse()
            .ok()
            .filter(|d| (0..=86_400).contains(d))
            .ok_or_else(|| ApiError::field("delay", "must be 0..86400 seconds"))?;
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
    } else if let Some(failure) = is_failure(&body) {
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
