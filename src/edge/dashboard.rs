//! What the dashboard reads and manages beyond configuration: the tenant's profile, api key
//! rotation, recent events, 24 h stats, hourly series and the notification webhook.

use serde_json::{json, Value};
use worker::{Env, Request};

use super::auth::{authenticate, tenant_of_api_key};
use super::request::{query_param, read_json, MAX_SETTINGS_BYTES};
use super::store::{d1, kv};
use super::{bindings, config, json_response, now_secs, random_bytes, ApiError, ApiResult};
use crate::core::access::{Scope, DEFAULT_SITE_KEY_GRACE_SECS, INGEST_KEY_PREFIX, SITE_KEY_PREFIX};
use crate::core::admission;
use crate::core::event::FieldError;
use crate::core::health;
use crate::core::ratelimit;
use crate::core::secrets::{format_key, hash_api_key};

/// `GET /api/v1/tenants/me`: what the dashboard shows about the caller's tenant.
pub async fn me(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let p = d1::tenant_profile(&bindings::db(env)?, &auth.tenant_id).await?;
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
            "ingest_key": {
                "set": p.has_ingest_key != 0,
                "rotated_at": p.ingest_key_rotated_at,
                "previous_key_valid_until": p.ingest_key_prev_expires_at.filter(|t| *t > now),
            },
            "previous_site_key_valid_until": p.site_key_prev_expires_at.filter(|t| *t > now),
            "daily_quota": p.daily_quota.map_or(admission::DEFAULT_DAILY_QUOTA, |q| q as u64),
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
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
    let grace = ratelimit::grace_secs(body.get("grace_seconds"))
        .map_err(|m| ApiError::invalid(FieldError::new("grace_seconds", m)))?;
    let now = now_secs();
    let new_key = format_key(crate::core::access::API_KEY_PREFIX, &random_bytes::<32>());
    let prev_until = (grace > 0).then_some(now + grace);
    let db = bindings::db(env)?;
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

/// `POST /api/v1/tenants/keys/ingest {grace_seconds?}`: a new ingest key (events and consent
/// choices only), shown once. The old one, if any, stops at once, or at the end of the grace.
pub async fn rotate_ingest_key(mut req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
    let grace = ratelimit::grace_secs(body.get("grace_seconds"))
        .map_err(|m| ApiError::invalid(FieldError::new("grace_seconds", m)))?;
    let now = now_secs();
    let key = format_key(INGEST_KEY_PREFIX, &random_bytes::<32>());
    let prev_until = (grace > 0).then_some(now + grace);
    d1::rotate_ingest_key(
        &bindings::db(env)?,
        &auth.tenant_id,
        &hash_api_key(&key),
        prev_until,
        now,
    )
    .await?;
    Ok(json_response(
        200,
        &json!({
            "ingest_key": key,
            "scope": Scope::Ingest.as_str(),
            "previous_key_valid_until": prev_until,
            "note": "the new ingest_key is shown once; store it now. It may send events and consent choices, nothing else",
        }),
    ))
}

/// `POST /api/v1/tracking/settings/site-key/rotate {grace_seconds?}`: a new public site key. The
/// old one keeps working for `grace_seconds` (default 24 h, at most 7 days; 0 stops it now), so
/// pages still serving the old tag are not cut off while the new one is rolled out.
pub async fn rotate_site_key(mut req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
    let grace = match body.get("grace_seconds") {
        None | Some(Value::Null) => DEFAULT_SITE_KEY_GRACE_SECS,
        given => ratelimit::grace_secs(given)
            .map_err(|m| ApiError::invalid(FieldError::new("grace_seconds", m)))?,
    };
    let db = bindings::db(env)?;
    let old = d1::site_keys_of(&db, &auth.tenant_id).await?.site_key;
    let new = format_key(SITE_KEY_PREFIX, &random_bytes::<16>());
    let prev_until = (grace > 0).then_some(now_secs() + grace);
    if !d1::rotate_site_key(&db, &auth.tenant_id, &old, &new, prev_until).await? {
        return Err(ApiError::new(
            409,
            "conflict",
            "the site key was rotated concurrently; read the current one",
        ));
    }
    kv::refresh_config(env, &auth.tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"site_key": new, "previous_site_key_valid_until": prev_until}),
    ))
}

/// `DELETE /api/v1/tenants/keys/previous`: end a rotation's grace period now.
pub async fn revoke_previous(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let revoked = d1::revoke_previous_key(&bindings::db(env)?, &auth.tenant_id).await?;
    Ok(json_response(200, &json!({"revoked": revoked})))
}

/// The webhook URL is a credential (anyone holding it can post to the channel): only its host
/// is shown back.
fn notifications_view(url: Option<&str>) -> Value {
    let host = url.and_then(crate::core::weburl::url_host);
    json!({"webhook_set": url.is_some(), "webhook_host": host})
}

/// `GET /api/v1/tracking/settings/notifications`
pub async fn get_notifications(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let p = d1::tenant_profile(&bindings::db(env)?, &auth.tenant_id).await?;
    Ok(json_response(
        200,
        &notifications_view(p.notify_webhook_url.as_deref()),
    ))
}

/// `PUT /api/v1/tracking/settings/notifications {webhook_url: "https://…" | null}`
pub async fn put_notifications(mut req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
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
            health::validate_webhook_url(s, config::allow_loopback_webhooks(env))
                .map_err(|m| ApiError::invalid(FieldError::new("webhook_url", m)))?,
        ),
        Some(_) => {
            return Err(ApiError::invalid(FieldError::new(
                "webhook_url",
                "must be a string or null",
            )))
        }
    };
    d1::set_notify_webhook(&bindings::db(env)?, &auth.tenant_id, url.as_deref()).await?;
    Ok(json_response(200, &notifications_view(url.as_deref())))
}

/// `GET /api/v1/tracking/events/hourly?hours=48`: per hour (oldest first) events received and,
/// per platform, deliveries delivered / failed / skipped (consent).
pub async fn hourly(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let hours = match query_param(&req, "hours") {
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
    let (mut deliveries, events) =
        d1::hourly(&bindings::db(env)?, &auth.tenant_id, buckets[0]).await?;
    let idx = |h: i64| buckets.binary_search(&h).ok();
    let mut ev = vec![0i64; buckets.len()];
    for r in &events {
        if let Some(i) = idx(r.hour) {
            ev[i] += r.n;
        }
    }
    // What the shards counted since they last added to the rollups.
    for ((hour, destination, what), n) in
        super::durable::shard_calls::unflushed_counts(env, &auth.tenant_id, buckets[0]).await?
    {
        match destination.split_once(':') {
            None if what == "accepted" => {
                if let Some(i) = idx(hour) {
                    ev[i] += n;
                }
            }
            None => {}
            Some((platform, _)) => deliveries.push(d1::HourlyRow {
                hour,
                platform: platform.to_string(),
                status: what,
                n,
            }),
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

#[derive(serde::Deserialize)]
struct RecentEvent {
    received_at: i64,
    record: String,
    rows: Vec<crate::core::trail::DestinationRow>,
}

#[derive(serde::Deserialize)]
struct RecentAnswer {
    events: Vec<RecentEvent>,
}

/// `GET /api/v1/tracking/events/recent`: the 50 newest events of all the tenant's shards, with
/// their destinations (PII hashed).
pub async fn recent(req: Request, env: &Env) -> ApiResult {
    use crate::core::fanout::QueueMessage;
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let layout = d1::shard_layout(&bindings::db(env)?, &tenant_id).await?;
    let answers: Vec<RecentAnswer> = super::durable::shard_calls::each_shard(
        env,
        &tenant_id,
        &layout,
        "/recent?limit=50",
        &json!({}),
    )
    .await?;
    let mut events: Vec<RecentEvent> = answers.into_iter().flat_map(|a| a.events).collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.received_at));
    events.truncate(50);
    let events: Vec<Value> = events
        .into_iter()
        .filter_map(|e| {
            let QueueMessage::Record { event, consent, .. } =
                serde_json::from_str::<QueueMessage>(&e.record).ok()?
            else {
                return None;
            };
            let deliveries: Vec<Value> = e
                .rows
                .iter()
                .map(|d| {
                    json!({
                        "pixel": d.pixel, "platform": d.platform, "status": d.status, "attempts": d.attempts,
                        "last_error": d.last_error, "trace_id": d.trace_id, "response": d.response, "updated_at": d.updated_at,
                    })
                })
                .collect();
            Some(json!({
                "event_id": event.event_id,
                "event_name": event.display_name(),
                "event_time": event.event_time,
                "received_at": e.received_at,
                "visitor_id": event.visitor_id,
                "url": event.url,
                "consent": consent,
                "user_data": serde_json::to_value(&event.user).unwrap_or(json!({})),
                "custom_data": event.custom_data,
                "click_ids": event.click_ids,
                "deliveries": deliveries,
            }))
        })
        .collect();
    Ok(json_response(200, &json!({"events": events})))
}

pub async fn stats(req: Request, env: &Env) -> ApiResult {
    use crate::core::stats::ratio;
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let now = now_secs();
    let since = now - 24 * 3600;
    let db = bindings::db(env)?;
    let mut rows = d1::stats(&db, &tenant_id, since).await?;
    for ((_, platform, what), n) in
        super::durable::shard_calls::unflushed_counts(env, &tenant_id, since).await?
    {
        let c = &mut rows.counters;
        let slot = match (platform.as_str(), what.as_str()) {
            ("", "received") => &mut c.received,
            ("", "accepted") => &mut c.accepted,
            ("", "duplicates") => &mut c.duplicates,
            ("", "rejected") => &mut c.rejected,
            ("", _) => continue,
            (destination, _) => {
                let platform = destination
                    .split_once(':')
                    .map_or(destination, |(p, _)| p)
                    .to_string();
                match rows
                    .per_platform
                    .iter_mut()
                    .find(|r| r.platform == platform && r.status == what)
                {
                    Some(r) => r.n += n,
                    None => rows.per_platform.push(d1::PlatformStatusRow {
                        platform,
                        status: what,
                        n,
                        last_at: Some(now),
                    }),
                }
                continue;
            }
        };
        *slot = Some(slot.unwrap_or(0) + n);
    }
    // Admission control today (UTC): writes of the quota, and requests refused.
    let today = d1::usage_of_day(&db, &tenant_id, admission::day_of(now)).await?;
    let quota = d1::load_tenant_config(&db, &tenant_id).await?.daily_quota;
    let mut platforms = serde_json::Map::new();
    let (mut delivered, mut failed) = (0u64, 0u64);
    for r in &rows.per_platform {
        let entry = platforms
            .entry(r.platform.clone())
            .or_insert_with(|| json!({"delivered": 0, "failed": 0, "queued": 0, "retrying": 0, "skipped": 0, "last_delivery_at": null}));
        entry[r.status.as_str()] = json!(r.n);
        if r.status == "delivered" {
            entry["last_delivery_at"] = json!(r.last_at);
            delivered += r.n as u64;
        }
        if r.status == "failed" {
            failed += r.n as u64;
        }
    }
    for v in platforms.values_mut() {
        let d = v["delivered"].as_u64().unwrap_or(0);
        let f = v["failed"].as_u64().unwrap_or(0);
        v["success_rate"] = json!(ratio(d, d + f));
        v["status"] = json!(match ratio(d, d + f) {
            None => "idle",
            Some(r) if r >= 0.95 => "healthy",
            Some(r) if r > 0.0 => "degraded",
            Some(_) => "failing",
        });
    }
    let c = &rows.counters;
    let received = c.received.unwrap_or(0) as u64;
    Ok(json_response(
        200,
        &json!({
            "window_hours": 24,
            "events_24h": c.accepted.unwrap_or(0),
            "received_24h": received,
            "accepted_24h": c.accepted.unwrap_or(0),
            "duplicates_24h": c.duplicates.unwrap_or(0),
            "rejected_24h": c.rejected.unwrap_or(0),
            "server_side_success_rate": ratio(delivered, delivered + failed),
            "consent_rate": ratio(rows.marketing_visitors as u64, rows.visitors as u64),
            "dedup_rate": ratio(c.duplicates.unwrap_or(0) as u64, received),
            "rate_limited_today": today.rate_limited,
            "over_quota_today": today.over_quota,
            "daily_quota": admission::quota(quota),
            "writes_today": today.writes,
            "platforms": platforms,
        }),
    ))
}
