//! `GET|PUT /api/v1/ads/settings`: the tenant's report settings (`core::ads::settings`).

use serde_json::Value;
use worker::{D1Database, Env, Request};

use crate::core::ads::settings::{merge_update, AdsSettings};
use crate::edge::auth::tenant_of_api_key;
use crate::edge::request::{read_json, MAX_JSON_BYTES};
use crate::edge::store::ads as store;
use crate::edge::{bindings, json_response, now_secs, ApiError, ApiResult};

/// The tenant's settings over the defaults.
pub(super) async fn load_settings(
    db: &D1Database,
    tenant_id: &str,
) -> Result<AdsSettings, ApiError> {
    Ok(AdsSettings::from_stored(
        &store::report_settings(db, tenant_id).await?,
    ))
}

pub(super) async fn get_settings(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let settings = load_settings(&bindings::db(env)?, &tenant_id).await?;
    Ok(json_response(200, &settings.to_json()))
}

/// Merges the given fields into the stored settings (`null` resets one to its default).
pub(super) async fn put_settings(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body: Value = read_json(&mut req, MAX_JSON_BYTES).await?;
    let db = bindings::db(env)?;
    let stored = store::report_settings(&db, &tenant_id).await?;
    let merged = merge_update(&stored, &body).map_err(ApiError::invalid)?;
    store::save_report_settings(&db, &tenant_id, &merged, now_secs()).await?;
    Ok(json_response(
        200,
        &AdsSettings::from_stored(&merged).to_json(),
    ))
}
