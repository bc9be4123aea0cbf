//! The operator's endpoints (`ADMIN_TOKEN`), beside creating tenants: a tenant's daily quota,
//! and re-encrypting every stored secret under the current key now (the daily cron does it too).

use serde_json::json;
use worker::{Env, Request};

use super::auth::require_admin;
use super::request::{read_json, MAX_SETTINGS_BYTES};
use super::store::{d1, kv};
use super::{bindings, json_response, now_secs, secrets, ApiError, ApiResult};
use crate::core::admission;
use crate::core::event::FieldError;

/// `PUT /api/v1/admin/tenants/{tenant_id}/quota {daily_quota: n | null}`: the writes (events
/// accepted and consent choices) the tenant may make per UTC day; null restores the default.
pub async fn put_quota(mut req: Request, env: &Env, tenant_id: &str) -> ApiResult {
    require_admin(&req, env).await?;
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
    let quota = admission::parse_quota(body.get("daily_quota"))
        .map_err(|m| ApiError::invalid(FieldError::new("daily_quota", m)))?;
    let db = bindings::db(env)?;
    if !d1::set_daily_quota(&db, tenant_id, quota.map(|q| q as i64)).await? {
        return Err(ApiError::not_found("tenant"));
    }
    kv::refresh_config(env, tenant_id).await?;
    let used = d1::writes_of_day(&db, tenant_id, admission::day_of(now_secs())).await?;
    Ok(json_response(
        200,
        &json!({"tenant_id": tenant_id, "daily_quota": admission::quota(quota), "default": quota.is_none(), "used_today": used}),
    ))
}

/// `POST /api/v1/admin/reencrypt`: moves every sealed secret to the current encryption key (and
/// binds it to its row), now; answers what moved.
pub async fn reencrypt(req: Request, env: &Env) -> ApiResult {
    require_admin(&req, env).await?;
    let done = secrets::reencrypt(env).await?;
    Ok(json_response(200, &json!(done)))
}
