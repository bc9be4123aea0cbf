//! Dashboard API (issue 6): authentication with rate limiting, key rotation, tenant profile,
//! pixel health, hourly series and notification settings. The daily pixel health check job and
//! the notification test, which call platforms and webhooks, are in `health` (jobs Worker).
//!
//! Api keys are looked up by their SHA-256 (an indexed equality on a hash of 256 random bits):
//! the comparison never touches the secret itself, so its timing reveals nothing usable. The
//! admin token is compared in constant time. Failed authentications are counted per client IP
//! per minute in D1 (see `core::ratelimit`).

use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::store::d1;
use super::{json_response, now_secs, ApiError};
use crate::core::event::FieldError;
use crate::core::health::{self, Activity};
use crate::core::ratelimit;
use crate::core::secrets::{constant_time_eq, format_key, hash_api_key};

type ApiResult = std::result::Result<Response, ApiError>;

// ---------------------------------------------------------------- auth

fn bearer(req: &Request) -> Option<String> {
    let h = req.headers().get("authorization").ok().flatten()?;
    let t = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))?;
    Some(t.trim().to_string())
}

fn client_ip(req: &Request) -> Option<String> {
    req.headers().get("cf-connecting-ip").ok().flatten()
}

fn rate_limited(now: i64) -> ApiError {
    ApiError::new(
        429,
        "rate_limited",
        &format!(
            "too many failed authentications from this address; retry after {} s",
            ratelimit::retry_after(now)
        ),
    )
}

/// A 429 from here carries `Retry-After` (seconds to the end of the fixed window).
pub fn with_retry_after(resp: Response) -> Response {
    if resp.status_code() == 429 && !resp.headers().has("retry-after").unwrap_or(false) {
        let _ = resp.headers().set(
            "retry-after",
            &ratelimit::retry_after(now_secs()).to_string(),
        );
    }
    resp
}

pub struct Auth {
    pub tenant_id: String,
    /// Authenticated with the previous key during a rotation's grace period.
    pub via_prev: bool,
    pub key_hash: String,
}

/// The tenant of `Authorization: Bearer <api_key>`; counts failures and answers 429 past the limit.
pub async fn authenticate(req: &Request, env: &Env) -> std::result::Result<Auth, ApiError> {
    let key = bearer(req).ok_or_else(|| {
        ApiError::new(
            401,
            "unauthorized",
            "api key required (Authorization: Bearer <api_key>)",
        )
    })?;
    let now = now_secs();
    let bucket = ratelimit::bucket(client_ip(req).as_deref());
    let minute = ratelimit::window(now);
    let db = d1::db(env)?;
    let key_hash = hash_api_key(&key);
    let found = d1::auth_lookup(&db, &key_hash, &bucket, minute, now).await?;
    if ratelimit::blocked(found.failures.unwrap_or(0)) {
        return Err(rate_limited(now));
    }
    match found.tenant_id {
        Some(tenant_id) => Ok(Auth {
            tenant_id,
            via_prev: found.via_prev.unwrap_or(0) != 0,
            key_hash,
        }),
        None => {
            d1::record_auth_failure(&db, &bucket, minute).await?;
            Err(ApiError::new(401, "unauthorized", "unknown api key"))
        }
    }
}

/// `Authorization: Bearer ADMIN_TOKEN`, compared in constant time, failures rate limited.
pub async fn require_admin(req: &Request, env: &Env) -> std::result::Result<(), ApiError> {
    let expected = super::admin_token(env)
        .ok_or_else(|| ApiError::new(500, "misconfigured", "ADMIN_TOKEN is not set"))?;
    let now = now_secs();
    let bucket = ratelimit::bucket(client_ip(req).as_deref());
    let minute = ratelimit::window(now);
    let db = d1::db(env)?;
    if ratelimit::blocked(d1::auth_failures(&db, &bucket, minute).await?) {
        return Err(rate_limited(now));
    }
    match bearer(req) {
        Some(t) if constant_time_eq(&t, &expected) => Ok(()),
        given => {
            if given.is_some() {
                d1::record_auth_failure(&db, &bucket, minute).await?;
            }
            Err(ApiError::new(
                401,
                "unauthorized",
                "admin token required (Authorization: Bearer ADMIN_TOKEN)",
            ))
        }
    }
}

async fn read_json(req: &mut Request) -> std::result::Result<Value, ApiError> {
    let text = req
        .text()
        .await
        .map_err(|e| ApiError::internal("read body", e))?;
    if text.len() > 16 * 1024 {
        return Err(ApiError::new(
            413,
            "payload_too_large",
            "body is larger than 16 KB",
        ));
    }
    if text.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(&text).map_err(|e| ApiError {
        status: 400,
        code: "invalid_json",
        message: format!("body is not valid JSON: {e}"),
        field: Some("body".into()),
    })
}

// ---------------------------------------------------------------- tenant profile and keys

/// `GET /api/v1/tenants/me`: what the dashboard shows about the caller's tenant.
pub async fn me(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let p = d1::tenant_profile(&d1::db(env)?, &auth.tenant_id).await?;
    let now = now_secs();
    let prev_valid =
        p.has_prev_key != 0 && ratelimit::previous_key_valid(p.api_key_prev_expires_at, now);
    Ok(json_response(
        200,
        &json!({
            "tenant_id": p.id,
            "name": p.name,
            "domains": serde_json::from_str::<Value>(&p.domains).unwrap_or(json!([])),
            "site_key": p.site_key,
            "retention_days": p.retention_days,
            "created_at": p.created_at,
            "api_key": {
                "authenticated_with": if auth.via_prev { "previous" } else { "current" },
                "rotated_at": p.api_key_rotated_at,
                "previous_key_valid_until": if prev_valid { p.api_key_prev_expires_at } else { None },
            },
            "notifications": notifications_view(p.notify_webhook_url.as_deref()),
        }),
    ))
}

/// `POST /api/v1/tenants/keys/rotate {grace_seconds?}`: a new api key, shown once. Without a
/// grace period the old key stops working at once; with one it is accepted until then.
pub async fn rotate_key(mut req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    if auth.via_prev {
        return Err(ApiError::new(
            403,
            "forbidden",
            "rotate with the current api key, not the previous one",
        ));
    }
    let body = read_json(&mut req).await?;
    let grace = ratelimit::grace_secs(body.get("grace_seconds"))
        .map_err(|m| ApiError::invalid(FieldError::new("grace_seconds", m)))?;
    let now = now_secs();
    let new_key = format_key("sk", &super::random_bytes::<32>());
    let prev_until = (grace > 0).then_some(now + grace);
    let db = d1::db(env)?;
    if !d1::rotate_api_key(
        &db,
        &auth.tenant_id,
        &auth.key_hash,
        &hash_api_key(&new_key),
        prev_until,
        now,
    )
    .await?
    {
        return Err(ApiError::new(
            409,
            "conflict",
            "the key was rotated concurrently; use the newest key",
        ));
    }
    Ok(json_response(
        200,
        &json!({
            "api_key": new_key,
            "previous_key_valid_until": prev_until,
            "note": "the new api_key is shown once; store it now",
        }),
    ))
}

/// `DELETE /api/v1/tenants/keys/previous`: end a rotation's grace period now.
pub async fn revoke_previous(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let revoked = d1::revoke_previous_key(&d1::db(env)?, &auth.tenant_id).await?;
    Ok(json_response(200, &json!({"revoked": revoked})))
}

// ---------------------------------------------------------------- notifications

/// The webhook URL is a credential (anyone holding it can post to the channel): only its host
/// is shown back.
fn notifications_view(url: Option<&str>) -> Value {
    let host = url.and_then(crate::core::weburl::url_host);
    json!({"webhook_set": url.is_some(), "webhook_host": host})
}

/// `GET /api/v1/tracking/settings/notifications`
pub async fn get_notifications(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let p = d1::tenant_profile(&d1::db(env)?, &auth.tenant_id).await?;
    Ok(json_response(
        200,
        &notifications_view(p.notify_webhook_url.as_deref()),
    ))
}

/// `PUT /api/v1/tracking/settings/notifications {webhook_url: "https://…" | null}`
pub async fn put_notifications(mut req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let body = read_json(&mut req).await?;
    let url = match body.get("webhook_url") {
        None => {
            return Err(ApiError::invalid(FieldError::new(
                "webhook_url",
                "is required (a URL, or null to remove it)",
            )))
        }
        Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            health::validate_webhook_url(s)
                .map_err(|m| ApiError::invalid(FieldError::new("webhook_url", m)))?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(FieldError::new(
                "webhook_url",
                "must be a string or null",
            )))
        }
    };
    d1::set_notify_webhook(&d1::db(env)?, &auth.tenant_id, url.as_deref()).await?;
    Ok(json_response(200, &notifications_view(url.as_deref())))
}

// ---------------------------------------------------------------- pixels with health

fn activity_of(row: &d1::PixelRow, a: Option<&d1::PixelActivityRow>) -> Activity {
    let health_ok = a
        .and_then(|a| a.health_result.as_deref())
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .and_then(|v| v.get("ok").and_then(Value::as_bool));
    Activity {
        is_active: row.is_active != 0,
        server_side_enabled: row.server_side_enabled != 0,
        created_at: row.created_at,
        delivered_24h: a.and_then(|a| a.delivered_24h).unwrap_or(0) as u64,
        failed_24h: a.and_then(|a| a.failed_24h).unwrap_or(0) as u64,
        last_delivered_at: a.and_then(|a| a.last_delivered_at),
        health_checked_at: a.and_then(|a| a.health_checked_at),
        health_ok,
    }
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

/// `GET /api/v1/tracking/pixels`: each pixel with `health` {color, status, reason, …}.
pub async fn list_pixels(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let db = d1::db(env)?;
    let now = now_secs();
    let rows = d1::list_pixels(&db, &auth.tenant_id).await?;
    let acts = d1::pixel_activity(&db, &auth.tenant_id, now - health::DAY).await?;
    let pixels: Vec<Value> = rows
        .iter()
        .map(|r| pixel_with_health(r, acts.iter().find(|a| a.id == r.id), now))
        .collect();
    Ok(json_response(200, &json!({"pixels": pixels})))
}

/// `GET /api/v1/tracking/pixels/{id}` with `health`.
pub async fn get_pixel(req: Request, env: &Env, id: &str) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let db = d1::db(env)?;
    // Another tenant's pixel is indistinguishable from a missing one.
    let row = d1::get_pixel(&db, &auth.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "pixel not found"))?;
    let now = now_secs();
    let acts = d1::pixel_activity(&db, &auth.tenant_id, now - health::DAY).await?;
    Ok(json_response(
        200,
        &pixel_with_health(&row, acts.iter().find(|a| a.id == row.id), now),
    ))
}

// ---------------------------------------------------------------- hourly series

/// `GET /api/v1/tracking/events/hourly?hours=48`: per hour (oldest first) events received and,
/// per platform, deliveries delivered / failed / skipped (consent).
pub async fn hourly(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let hours = match super::query_param(&req, "hours") {
        None => 48,
        Some(v) => match v.parse::<u32>() {
            Ok(h) if (1..=168).contains(&h) => h,
            _ => {
                return Err(ApiError::invalid(FieldError::new(
                    "hours",
                    "must be an integer between 1 and 168",
                )))
            }
        },
    };
    let now = now_secs();
    let buckets = health::hour_buckets(now, hours);
    let (deliveries, events) = d1::hourly(&d1::db(env)?, &auth.tenant_id, buckets[0]).await?;
    let idx = |h: i64| buckets.binary_search(&h).ok();
    let mut ev = vec![0i64; buckets.len()];
    for r in &events {
        if let Some(i) = idx(r.hour) {
            ev[i] += r.n;
        }
    }
    let mut platforms = serde_json::Map::new();
    for r in &deliveries {
        let Some(i) = idx(r.hour) else { continue };
        let p = platforms.entry(r.platform.clone()).or_insert_with(|| {
            json!({"delivered": vec![0; buckets.len()], "failed": vec![0; buckets.len()], "skipped": vec![0; buckets.len()]})
        });
        if let Some(slot) = p.get_mut(r.status.as_str()).and_then(|a| a.get_mut(i)) {
            *slot = json!(slot.as_i64().unwrap_or(0) + r.n);
        }
    }
    Ok(json_response(
        200,
        &json!({"hours": buckets, "events": ev, "platforms": platforms}),
    ))
}
