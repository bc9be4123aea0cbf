//! Tenants and what they configure: creating a tenant (operator), its settings (consent policy,
//! banner) and all of its pixels (list and read with health, create, update, delete, verify).

use serde_json::{json, Value};
use worker::{D1Database, Env, Request};

use super::auth::{authenticate, require_admin, tenant_of_api_key};
use super::health::activity_of;
use super::request::{read_json, MAX_JSON_BYTES};
use super::store::{d1, kv};
use super::{
    bindings, durable, json_response, now_secs, random_bytes, secrets, tag, uuid_v4, ApiError,
    ApiResult,
};
use crate::core::access::{API_KEY_PREFIX, INGEST_KEY_PREFIX, SITE_KEY_PREFIX};
use crate::core::consent::ConsentPolicy;
use crate::core::event::FieldError;
use crate::core::health;
use crate::core::secrets::{format_key, hash_api_key};
use crate::core::tenant::{parse_new_tenant, parse_pixel_input};

/// `PUT /api/v1/admin/tenants/{id}/shards {"shards": n}` (admin token): grows a tenant's event
/// shards (a busy tenant outgrows one Durable Object's claims a second). Ids move to their new
/// shard at once; for 48 h a claim also asks the shard the old count gave them.
pub async fn set_shards(mut req: Request, env: &Env, tenant_id: &str) -> ApiResult {
    require_admin(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BYTES).await?;
    let wanted = body
        .get("shards")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| ApiError::field("shards", "must be an integer from 1 to 64"))?;
    let db = bindings::db(env)?;
    let current = d1::shard_layout(&db, tenant_id).await?;
    let layout = current
        .grow(wanted, now_secs())
        .map_err(|why| ApiError::field("shards", why))?;
    if !d1::set_shard_layout(&db, tenant_id, &layout).await? {
        return Err(ApiError::not_found("tenant"));
    }
    kv::refresh_config(env, tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"tenant_id": tenant_id, "shards": layout}),
    ))
}

pub async fn create_tenant(mut req: Request, env: &Env) -> ApiResult {
    require_admin(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BYTES).await?;
    let t = parse_new_tenant(&body)?;
    let tenant_id = uuid_v4();
    let site_key = format_key(SITE_KEY_PREFIX, &random_bytes::<16>());
    let api_key = format_key(API_KEY_PREFIX, &random_bytes::<32>());
    let ingest_key = format_key(INGEST_KEY_PREFIX, &random_bytes::<32>());
    let db = bindings::db(env)?;
    let keys = d1::NewKeys {
        site_key: &site_key,
        api_key_hash: &hash_api_key(&api_key),
        ingest_key_hash: &hash_api_key(&ingest_key),
    };
    d1::create_tenant(&db, &tenant_id, &t.name, &t.domains, &keys, now_secs()).await?;
    Ok(json_response(
        201,
        &json!({"tenant_id": tenant_id, "name": t.name, "domains": t.domains, "site_key": site_key,
                "api_key": api_key, "ingest_key": ingest_key,
                "note": "api_key (everything of this tenant) and ingest_key (servers: events and consent choices only) are shown once; store them now"}),
    ))
}

pub async fn get_settings(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let cfg = d1::load_tenant_config(&bindings::db(env)?, &tenant_id).await?;
    let banner = tag::banner_settings(env, &tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"consent_policy": cfg.consent_policy, "domains": cfg.domains, "banner": banner}),
    ))
}

pub async fn put_settings(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BYTES).await?;
    let policy: Option<ConsentPolicy> = match body.get("consent_policy") {
        Some(p) => Some(serde_json::from_value(p.clone()).map_err(|e| {
            ApiError::invalid(FieldError::new("consent_policy", format!("invalid: {e}")))
        })?),
        None if body.get("banner").is_some() => None,
        None => {
            return Err(ApiError::invalid(FieldError::new(
                "consent_policy",
                "is required (or banner)",
            )))
        }
    };
    // Banner first: it validates everything before anything is written.
    let banner = match tag::save_banner(env, &tenant_id, &body).await? {
        Some(b) => b,
        None => tag::banner_settings(env, &tenant_id).await?,
    };
    let db = bindings::db(env)?;
    if let Some(p) = &policy {
        d1::set_consent_policy(&db, &tenant_id, p).await?;
        kv::refresh_config(env, &tenant_id).await?;
    }
    let policy = d1::load_tenant_config(&db, &tenant_id)
        .await?
        .consent_policy;
    Ok(json_response(
        200,
        &json!({"consent_policy": policy, "banner": banner}),
    ))
}

fn pixel_with_health(row: &d1::PixelRow, a: Option<&d1::PixelActivityRow>, now: i64) -> Value {
    let mut v = row.to_json();
    v["health"] =
        serde_json::to_value(health::status(&activity_of(row, a), now)).unwrap_or(Value::Null);
    v["health_check"] = json!({
        "checked_at": a.and_then(|a| a.health_checked_at),
        "result": a.and_then(|a| a.health_result.as_deref()).and_then(|r| serde_json::from_str::<Value>(r).ok()),
    });
    v
}

/// Each pixel's last 24 h: the rollups in D1 plus what the shards counted since they last added
/// to them.
async fn pixel_activity(
    env: &Env,
    db: &D1Database,
    tenant_id: &str,
    now: i64,
) -> Result<Vec<d1::PixelActivityRow>, ApiError> {
    let since = now - health::DAY;
    let mut acts = d1::pixel_activity(db, tenant_id, since).await?;
    for ((_, destination, what), n) in
        durable::shard_calls::unflushed_counts(env, tenant_id, since).await?
    {
        let Some((_, pixel)) = destination.split_once(':') else {
            continue;
        };
        let Some(a) = acts.iter_mut().find(|a| a.id == pixel) else {
            continue;
        };
        match what.as_str() {
            "delivered" => {
                a.delivered_24h = Some(a.delivered_24h.unwrap_or(0) + n);
                a.last_delivered_at = Some(now);
            }
            "failed" => a.failed_24h = Some(a.failed_24h.unwrap_or(0) + n),
            _ => {}
        }
    }
    Ok(acts)
}

/// `GET /api/v1/tracking/pixels`: each pixel with `health` {color, status, reason, …}.
pub async fn list_pixels(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let db = bindings::db(env)?;
    let now = now_secs();
    let rows = d1::list_pixels(&db, &auth.tenant_id).await?;
    let acts = pixel_activity(env, &db, &auth.tenant_id, now).await?;
    let pixels: Vec<Value> = rows
        .iter()
        .map(|r| pixel_with_health(r, acts.iter().find(|a| a.id == r.id), now))
        .collect();
    Ok(json_response(200, &json!({"pixels": pixels})))
}

/// `GET /api/v1/tracking/pixels/{id}` with `health`.
pub async fn get_pixel(req: Request, env: &Env, id: &str) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let db = bindings::db(env)?;
    // Another tenant's pixel is indistinguishable from a missing one.
    let row = d1::get_pixel(&db, &auth.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("pixel"))?;
    let now = now_secs();
    let acts = pixel_activity(env, &db, &auth.tenant_id, now).await?;
    Ok(json_response(
        200,
        &pixel_with_health(&row, acts.iter().find(|a| a.id == row.id), now),
    ))
}

pub async fn write_pixel(mut req: Request, env: &Env, id: Option<&str>) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BYTES).await?;
    let db = bindings::db(env)?;
    let existing = match id {
        Some(id) => Some(
            d1::get_pixel(&db, &tenant_id, id)
                .await?
                .ok_or_else(|| ApiError::not_found("pixel"))?,
        ),
        None => None,
    };
    let input = parse_pixel_input(&body, existing.as_ref().and_then(|p| p.platform()))?;
    let ring = secrets::keyring(env)?;
    let new_id = uuid_v4();
    let pixel_uuid = id.unwrap_or(&new_id);
    // Each secret is sealed for this tenant, this pixel and its column.
    let seal = |v: &Option<Option<String>>, old: Option<&String>, field| -> Option<String> {
        match v {
            Some(Some(secret)) => Some(ring.seal(
                secret,
                &secrets::pixel_field(&tenant_id, pixel_uuid, field),
                random_bytes::<12>(),
            )),
            Some(None) => None,
            None => old.cloned(),
        }
    };
    let access = seal(
        &input.access_token,
        existing.as_ref().and_then(|p| p.access_token_enc.as_ref()),
        "access_token",
    );
    let secret = seal(
        &input.api_secret,
        existing.as_ref().and_then(|p| p.api_secret_enc.as_ref()),
        "api_secret",
    );
    let test_code = match &input.test_event_code {
        Some(v) => v.clone(),
        None => existing.as_ref().and_then(|p| p.test_event_code.clone()),
    };
    let domains = input
        .domains
        .clone()
        .unwrap_or_else(|| existing.as_ref().map(|p| p.domains()).unwrap_or_default());
    let event_names = input.event_names.clone().unwrap_or_else(|| {
        existing
            .as_ref()
            .map(|p| p.event_names())
            .unwrap_or_default()
    });
    let settings = input
        .settings
        .clone()
        .unwrap_or_else(|| existing.as_ref().map(|p| p.settings()).unwrap_or_default());
    let write = d1::PixelWrite {
        id: pixel_uuid,
        platform: input.platform.expect("validated"),
        pixel_id: input
            .pixel_id
            .as_deref()
            .or(existing.as_ref().map(|p| p.pixel_id.as_str()))
            .expect("validated"),
        access_token_enc: access.as_deref(),
        api_secret_enc: secret.as_deref(),
        is_active: input
            .is_active
            .unwrap_or(existing.as_ref().map(|p| p.is_active != 0).unwrap_or(true)),
        server_side_enabled: input.server_side_enabled.unwrap_or(
            existing
                .as_ref()
                .map(|p| p.server_side_enabled != 0)
                .unwrap_or(true),
        ),
        test_event_code: test_code.as_deref(),
        domains: &domains,
        event_names: &event_names,
        settings: &settings,
        browser_enabled: input
            .browser_enabled
            .unwrap_or(existing.as_ref().is_some_and(|p| p.browser_enabled != 0)),
        browser_id: match &input.browser_id {
            Some(v) => v.as_deref(),
            None => existing.as_ref().and_then(|p| p.browser_id.as_deref()),
        },
    };
    d1::upsert_pixel(&db, &tenant_id, &write, now_secs()).await?;
    // New credentials end a pause: what waited runs again.
    // A Google Ads pixel's token is its connected account's: once that is reconnected, any
    // write of the pixel resumes it.
    let credentials_changed = input.access_token.is_some()
        || input.api_secret.is_some()
        || input.settings.is_some()
        || write.platform == crate::core::platform::Platform::GoogleAds
        || input
            .pixel_id
            .as_deref()
            .is_some_and(|p| existing.as_ref().is_some_and(|e| e.pixel_id != p));
    if credentials_changed && existing.as_ref().is_some_and(|e| e.paused_at.is_some()) {
        resume_pixel(env, &db, &tenant_id, pixel_uuid).await?;
    }
    kv::refresh_config(env, &tenant_id).await?;
    let row = d1::get_pixel(&db, &tenant_id, pixel_uuid)
        .await?
        .ok_or_else(|| ApiError::internal("pixel write", "row missing after write"))?;
    Ok(json_response(
        if id.is_some() { 200 } else { 201 },
        &row.to_json(),
    ))
}

/// Ends a pixel's pause: its shards run the paused deliveries again now, through the normal
/// path (consent is checked again at delivery).
async fn resume_pixel(
    env: &Env,
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> Result<(), ApiError> {
    d1::unpause_pixel(db, tenant_id, id).await?;
    let layout = d1::shard_layout(db, tenant_id).await?;
    durable::shard_calls::each_shard::<Value>(
        env,
        tenant_id,
        &layout,
        "/resume",
        &json!({"pixel": id}),
    )
    .await?;
    Ok(())
}

pub async fn delete_pixel(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let db = bindings::db(env)?;
    if !d1::delete_pixel(&db, &tenant_id, id).await? {
        return Err(ApiError::not_found("pixel"));
    }
    // What waited for the pixel (paused, retrying, failed deliveries) goes with it.
    let layout = d1::shard_layout(&db, &tenant_id).await?;
    durable::shard_calls::each_shard::<Value>(
        env,
        &tenant_id,
        &layout,
        "/forget-pixel",
        &json!({"pixel": id}),
    )
    .await?;
    kv::refresh_config(env, &tenant_id).await?;
    Ok(json_response(200, &json!({"deleted": id})))
}

#[cfg(feature = "jobs")]
pub async fn verify_pixel(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let db = bindings::db(env)?;
    let row = d1::get_pixel(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found("pixel"))?;
    let result = super::health::verify(env, &tenant_id, &row).await?;
    d1::record_verify(&db, &tenant_id, id, &result, now_secs()).await?;
    Ok(json_response(200, &result))
}
