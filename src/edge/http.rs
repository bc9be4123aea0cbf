//! HTTP routing and handlers. Handlers parse with `core`, do I/O, and render JSON.

use serde_json::{json, Value};
use worker::{Env, Headers, Method, Request, Response, Result};

use super::store::{d1, kv};
use super::{cors, durable, json_response, now_secs, ApiError};
use crate::core::consent::{parse_consent_body, ConsentPolicy};
use crate::core::destinations::Credentials;
use crate::core::event::{self, FieldError, IntakeContext, Parsed, Rejection};
use crate::core::fanout::{self, QueueMessage};
use crate::core::secrets::{format_key, hash_api_key};
use crate::core::tenant::{parse_new_tenant, parse_pixel_input, TenantConfig};

type ApiResult = std::result::Result<Response, ApiError>;

/// The 43-byte transparent 1×1 GIF.
pub const PIXEL_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

pub async fn handle(req: Request, env: Env) -> Result<Response> {
    let origin = req.headers().get("origin").ok().flatten();
    if req.method() == Method::Options {
        return Ok(cors::preflight(origin.as_deref()));
    }
    let path = req.path();
    let tracking = path.starts_with("/api/v1/tracking/");
    let resp = match route(req, &env, &path).await {
        Ok(r) => r,
        Err(e) => super::admin::with_retry_after(e.into_response()),
    };
    // Tracking endpoints answer their callers' CORS; success there already required an allowed
    // origin (site key) or the secret api key, so reflecting the origin exposes nothing.
    Ok(if tracking {
        cors::allow(resp, origin.as_deref())
    } else {
        resp
    })
}

fn healthy() -> Response {
    json_response(200, &json!({"ok": true, "version": super::VERSION}))
}

/// Endpoints that call platforms or webhooks, or belong to the ads module: the jobs Worker serves
/// them (the `#[cfg(feature = "jobs")]` arms of `route`), and the beacon Worker forwards them.
#[cfg(not(feature = "jobs"))]
fn served_by_jobs(method: &Method, segments: &[&str]) -> bool {
    matches!(
        (method, segments),
        (
            Method::Post,
            ["api", "v1", "tracking", "pixels", _, "verify"]
        ) | (
            Method::Post,
            ["api", "v1", "tracking", "settings", "notifications", "test"]
        ) | (_, ["api", "v1", "ads", ..])
    )
}

async fn route(req: Request, env: &Env, path: &str) -> ApiResult {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    #[cfg(not(feature = "jobs"))]
    if served_by_jobs(&method, &segments) {
        return super::jobs::forward(req, env).await;
    }
    match (method, segments.as_slice()) {
        (Method::Get, ["healthz"]) => Ok(healthy()),
        // The same answer after reading whatever was posted: the cheapest POST this Worker
        // serves, which the bench compares the event endpoint with (same body, same path
        // through the runtime, none of the work).
        (Method::Post, ["healthz"]) => {
            let mut req = req;
            req.bytes()
                .await
                .map_err(|e| ApiError::internal("read body", e))?;
            Ok(healthy())
        }
        (Method::Get, [""]) | (Method::Get, ["demo"]) if super::dev_demo_enabled(env) => {
            demo_page(env).await
        }
        (Method::Get, ["pixel.gif"]) => Ok(pixel_gif(req, env).await),
        (Method::Post, ["api", "v1", "tenants"]) => create_tenant(req, env).await,
        (Method::Post, ["api", "v1", "tracking", "events"]) => events(req, env, false).await,
        (Method::Post, ["api", "v1", "tracking", "events", "batch"]) => {
            events(req, env, true).await
        }
        (Method::Get, ["api", "v1", "tracking", "events", "recent"]) => recent(req, env).await,
        (Method::Get, ["api", "v1", "tracking", "events", "stats"]) => stats(req, env).await,
        (Method::Post, ["api", "v1", "tracking", "consent"]) => post_consent(req, env).await,
        (Method::Get, ["api", "v1", "tracking", "consent", visitor]) => {
            get_consent(req, env, visitor).await
        }
        (Method::Delete, ["api", "v1", "tracking", "consent", visitor]) => {
            erase_visitor(req, env, visitor).await
        }
        (Method::Get, ["api", "v1", "tracking", "pixels"]) => {
            super::admin::list_pixels(req, env).await
        }
        (Method::Post, ["api", "v1", "tracking", "pixels"]) => write_pixel(req, env, None).await,
        (Method::Get, ["api", "v1", "tracking", "pixels", id]) => {
            super::admin::get_pixel(req, env, id).await
        }
        (Method::Put | Method::Patch, ["api", "v1", "tracking", "pixels", id]) => {
            write_pixel(req, env, Some(id)).await
        }
        (Method::Delete, ["api", "v1", "tracking", "pixels", id]) => {
            delete_pixel(req, env, id).await
        }
        #[cfg(feature = "jobs")]
        (Method::Post, ["api", "v1", "tracking", "pixels", id, "verify"]) => {
            verify_pixel(req, env, id).await
        }
        (Method::Get, ["api", "v1", "tracking", "config"]) => super::tag::config(req, env).await,
        (Method::Get, ["api", "v1", "tracking", "id"]) => super::tag::identify(req, env).await,
        (Method::Get, ["api", "v1", "tracking", "settings"]) => get_settings(req, env).await,
        (Method::Put, ["api", "v1", "tracking", "settings"]) => put_settings(req, env).await,
        // Dashboard, tenant security, health (src/edge/admin.rs).
        (Method::Get, ["api", "v1", "tenants", "me"]) => super::admin::me(req, env).await,
        (Method::Post, ["api", "v1", "tenants", "keys", "rotate"]) => {
            super::admin::rotate_key(req, env).await
        }
        (Method::Delete, ["api", "v1", "tenants", "keys", "previous"]) => {
            super::admin::revoke_previous(req, env).await
        }
        (Method::Get, ["api", "v1", "tracking", "events", "hourly"]) => {
            super::admin::hourly(req, env).await
        }
        (Method::Get, ["api", "v1", "tracking", "settings", "notifications"]) => {
            super::admin::get_notifications(req, env).await
        }
        (Method::Put, ["api", "v1", "tracking", "settings", "notifications"]) => {
            super::admin::put_notifications(req, env).await
        }
        #[cfg(feature = "jobs")]
        (Method::Post, ["api", "v1", "tracking", "settings", "notifications", "test"]) => {
            super::health::test_notification(req, env).await
        }
        // Ads accounts, sync, reports, alerts, audiences (src/edge/ads.rs).
        #[cfg(feature = "jobs")]
        (_, ["api", "v1", "ads", rest @ ..]) => super::ads::route(req, env, rest).await,
        #[cfg(feature = "jobs")]
        (Method::Post, ["internal", "cron"]) => internal_cron(req, env).await,
        _ => Err(ApiError::new(404, "not_found", "no such endpoint")),
    }
}

// ---------------------------------------------------------------- auth

fn bearer(req: &Request) -> Option<String> {
    let h = req.headers().get("authorization").ok().flatten()?;
    let t = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))?;
    Some(t.trim().to_string())
}

/// Constant-time compare, failed attempts rate limited (see `admin`).
async fn require_admin(req: &Request, env: &Env) -> std::result::Result<(), ApiError> {
    super::admin::require_admin(req, env).await
}

/// Tenant id of the api key in `Authorization: Bearer`.
/// Lookup by SHA-256 of the key (current, or previous during a rotation's grace period);
/// failed attempts rate limited per client IP (see `admin::authenticate`).
async fn require_api_key(req: &Request, env: &Env) -> std::result::Result<String, ApiError> {
    super::admin::authenticate(req, env)
        .await
        .map(|a| a.tenant_id)
}

/// Who is sending tracking data: a trusted server (api key) or a browser (site key + allowed origin).
struct TrackingCaller {
    config: TenantConfig,
    trusted: bool,
}

async fn tracking_caller(
    req: &Request,
    env: &Env,
    body_site_key: Option<&str>,
) -> std::result::Result<TrackingCaller, ApiError> {
    if bearer(req).is_some() {
        let tenant_id = require_api_key(req, env).await?;
        let site_key = d1::site_key_of(&d1::db(env)?, &tenant_id).await?;
        let config = kv::config_by_site_key(env, &site_key)
            .await?
            .ok_or_else(|| ApiError::new(401, "unauthorized", "unknown tenant"))?;
        return Ok(TrackingCaller {
            config,
            trusted: true,
        });
    }
    let site_key = super::query_param(req, "site_key")
        .or_else(|| body_site_key.map(str::to_string))
        .ok_or_else(|| ApiError {
            status: 401,
            code: "unauthorized",
            message: "site_key (query or body) or Authorization: Bearer <api_key> required".into(),
            field: Some("site_key".into()),
        })?;
    let config = kv::config_by_site_key(env, &site_key)
        .await?
        .ok_or_else(|| ApiError {
            status: 401,
            code: "unauthorized",
            message: "unknown site_key".into(),
            field: Some("site_key".into()),
        })?;
    // Browsers always send Origin on POST; image beacons send a Referer instead.
    let headers = req.headers();
    let from = headers
        .get("origin")
        .ok()
        .flatten()
        .or_else(|| headers.get("referer").ok().flatten());
    match from {
        Some(o) if config.origin_allowed(&o) => Ok(TrackingCaller { config, trusted: false }),
        Some(_) => Err(ApiError::new(403, "origin_not_allowed", "this site_key is not allowed from this origin")),
        None => Err(ApiError::new(403, "origin_not_allowed", "site_key requests must come from a browser on an allowed origin (Origin or Referer header)")),
    }
}

// ---------------------------------------------------------------- body

async fn read_body(req: &mut Request) -> std::result::Result<Value, ApiError> {
    if let Ok(Some(len)) = req.headers().get("content-length") {
        if len.parse::<usize>().unwrap_or(0) > event::MAX_BODY_BYTES {
            return Err(ApiError::new(
                413,
                "payload_too_large",
                "body is larger than 64 KB",
            ));
        }
    }
    let bytes = req
        .bytes()
        .await
        .map_err(|e| ApiError::internal("read body", e))?;
    if bytes.len() > event::MAX_BODY_BYTES {
        return Err(ApiError::new(
            413,
            "payload_too_large",
            "body is larger than 64 KB",
        ));
    }
    // text/plain (navigator.sendBeacon, no preflight) carries the same JSON.
    serde_json::from_slice(&bytes).map_err(|e| ApiError {
        status: 400,
        code: "invalid_json",
        message: format!("body is not valid JSON: {e}"),
        field: Some("body".into()),
    })
}

fn client_ip(req: &Request) -> Option<String> {
    req.headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .or_else(|| {
            req.headers()
                .get("x-forwarded-for")
                .ok()
                .flatten()
                .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()))
        })
}

fn geo_country(req: &Request) -> Option<String> {
    req.cf()
        .and_then(|cf| cf.country())
        .map(|c| c.to_ascii_lowercase())
}

// ---------------------------------------------------------------- tenants

async fn create_tenant(mut req: Request, env: &Env) -> ApiResult {
    require_admin(&req, env).await?;
    let body = read_body(&mut req).await?;
    let t = parse_new_tenant(&body)?;
    let tenant_id = super::uuid_v4();
    let site_key = format_key("pk", &super::random_bytes::<16>());
    let api_key = format_key("sk", &super::random_bytes::<32>());
    let db = d1::db(env)?;
    d1::create_tenant(
        &db,
        &tenant_id,
        &t.name,
        &t.domains,
        &site_key,
        &hash_api_key(&api_key),
        now_secs(),
    )
    .await?;
    Ok(json_response(
        201,
        &json!({"tenant_id": tenant_id, "name": t.name, "domains": t.domains, "site_key": site_key, "api_key": api_key,
                "note": "api_key is shown once; store it now"}),
    ))
}

async fn get_settings(req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let cfg = d1::load_tenant_config(&d1::db(env)?, &tenant_id).await?;
    let banner = super::tag::banner_settings(env, &tenant_id).await?;
    Ok(json_response(
        200,
        &json!({"consent_policy": cfg.consent_policy, "domains": cfg.domains, "banner": banner}),
    ))
}

async fn put_settings(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let body = read_body(&mut req).await?;
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
    let banner = match super::tag::save_banner(env, &tenant_id, &body).await? {
        Some(b) => b,
        None => super::tag::banner_settings(env, &tenant_id).await?,
    };
    let db = d1::db(env)?;
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

// ---------------------------------------------------------------- pixels

async fn write_pixel(mut req: Request, env: &Env, id: Option<&str>) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let body = read_body(&mut req).await?;
    let db = d1::db(env)?;
    let existing = match id {
        Some(id) => Some(
            d1::get_pixel(&db, &tenant_id, id)
                .await?
                .ok_or_else(|| ApiError::new(404, "not_found", "pixel not found"))?,
        ),
        None => None,
    };
    let input = parse_pixel_input(&body, existing.as_ref().and_then(|p| p.platform()))?;
    let sb = super::secret_box(env)?;
    let seal = |v: &Option<Option<String>>, old: Option<&String>| -> Option<String> {
        match v {
            Some(Some(secret)) => Some(sb.seal(secret, super::random_bytes::<12>())),
            Some(None) => None,
            None => old.cloned(),
        }
    };
    let new_id = super::uuid_v4();
    let pixel_uuid = id.unwrap_or(&new_id);
    let access = seal(
        &input.access_token,
        existing.as_ref().and_then(|p| p.access_token_enc.as_ref()),
    );
    let secret = seal(
        &input.api_secret,
        existing.as_ref().and_then(|p| p.api_secret_enc.as_ref()),
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
    };
    d1::upsert_pixel(&db, &tenant_id, &write, now_secs()).await?;
    kv::refresh_config(env, &tenant_id).await?;
    let row = d1::get_pixel(&db, &tenant_id, pixel_uuid)
        .await?
        .ok_or_else(|| ApiError::internal("pixel write", "row missing after write"))?;
    Ok(json_response(
        if id.is_some() { 200 } else { 201 },
        &row.to_json(),
    ))
}

async fn delete_pixel(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    if !d1::delete_pixel(&d1::db(env)?, &tenant_id, id).await? {
        return Err(ApiError::new(404, "not_found", "pixel not found"));
    }
    kv::refresh_config(env, &tenant_id).await?;
    Ok(json_response(200, &json!({"deleted": id})))
}

/// Decrypted credentials of a pixel, alive only for one request.
pub fn credentials(env: &Env, row: &d1::PixelRow) -> std::result::Result<Credentials, ApiError> {
    let sb = super::secret_box(env)?;
    let open = |v: &Option<String>| -> std::result::Result<Option<String>, ApiError> {
        v.as_deref()
            .map(|s| {
                sb.open(s)
                    .map_err(|m| ApiError::new(500, "secret_unreadable", &m))
            })
            .transpose()
    };
    Ok(Credentials {
        pixel_id: row.pixel_id.clone(),
        access_token: open(&row.access_token_enc)?,
        api_secret: open(&row.api_secret_enc)?,
        test_event_code: row.test_event_code.clone(),
    })
}

#[cfg(feature = "jobs")]
async fn verify_pixel(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let db = d1::db(env)?;
    let row = d1::get_pixel(&db, &tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::new(404, "not_found", "pixel not found"))?;
    let result = super::dispatch::verify(env, &row).await?;
    d1::record_verify(&db, &tenant_id, id, &result, now_secs()).await?;
    Ok(json_response(200, &result))
}

// ---------------------------------------------------------------- consent

async fn post_consent(mut req: Request, env: &Env) -> ApiResult {
    let body = read_body(&mut req).await?;
    let caller = tracking_caller(&req, env, body.get("site_key").and_then(Value::as_str)).await?;
    let (visitor_id, state) = parse_consent_body(&body, now_secs())?;
    let tenant_id = &caller.config.tenant_id;
    d1::insert_consent(
        &d1::db(env)?,
        tenant_id,
        &visitor_id,
        &state,
        client_ip(&req).as_deref(),
    )
    .await?;
    kv::put_consent(env, tenant_id, &visitor_id, &state).await;
    let resp = json_response(201, &json!({"visitor_id": visitor_id, "consent": state}));
    Ok(super::tag::consent_cookies(
        resp,
        &req,
        &caller.config,
        &visitor_id,
        &state,
        &body,
    ))
}

async fn get_consent(req: Request, env: &Env, visitor: &str) -> ApiResult {
    let caller = tracking_caller(&req, env, None).await?;
    let db = d1::db(env)?;
    let tenant_id = &caller.config.tenant_id;
    let latest = d1::latest_consent(&db, tenant_id, visitor).await?;
    // Browsers see their own state; only the tenant's server sees the history.
    let history = if caller.trusted {
        Some(d1::consent_history(&db, tenant_id, visitor).await?)
    } else {
        None
    };
    Ok(json_response(
        200,
        &json!({"visitor_id": visitor, "consent": latest, "default_applies": latest.is_none(),
                "default": caller.config.consent_policy, "history": history}),
    ))
}

async fn erase_visitor(req: Request, env: &Env, visitor: &str) -> ApiResult {
    let caller = tracking_caller(&req, env, None).await?;
    let tenant_id = &caller.config.tenant_id;
    d1::erase_visitor(&d1::db(env)?, tenant_id, visitor).await?;
    kv::delete_consent(env, tenant_id, visitor).await?;
    Ok(json_response(
        200,
        &json!({"visitor_id": visitor, "erased": ["consent", "events", "deliveries"]}),
    ))
}

// ---------------------------------------------------------------- events

struct IntakeSummary {
    accepted: Vec<String>,
    duplicates: Vec<String>,
    rejected: Vec<Rejection>,
    warnings: Vec<Value>,
}

/// Validate, hash, dedup, route, enqueue. Answers before any platform is called.
async fn intake(
    req: &Request,
    env: &Env,
    caller: &TrackingCaller,
    body: &Value,
    batch: bool,
) -> std::result::Result<IntakeSummary, ApiError> {
    let now = now_secs();
    let ip = client_ip(req);
    let ua = req.headers().get("user-agent").ok().flatten();
    let geo = geo_country(req);
    let ictx = IntakeContext {
        now,
        ip: ip.as_deref(),
        user_agent: ua.as_deref(),
        geo_country: geo.as_deref(),
        trusted: caller.trusted,
    };
    let mut new_id = super::uuid_v4;
    let (parsed, rejected): (Vec<Parsed>, Vec<Rejection>) = if batch {
        let out = event::parse_batch(body, &ictx, &mut new_id)?;
        (out.accepted, out.rejected)
    } else {
        (
            vec![event::parse_event(body, "", &ictx, &mut new_id)?],
            vec![],
        )
    };
    let tenant_id = caller.config.tenant_id.clone();

    // One consent read per distinct visitor, all in parallel (memoized per isolate).
    let mut visitors: Vec<&str> = parsed
        .iter()
        .filter(|p| p.event.consent.is_none())
        .filter_map(|p| p.event.visitor_id.as_deref())
        .collect();
    visitors.sort_unstable();
    visitors.dedup();
    let reads = visitors.iter().map(|v| kv::consent(env, &tenant_id, v));
    let states = futures_util::future::join_all(reads).await;
    let mut consent_of = std::collections::HashMap::new();
    for (v, s) in visitors.iter().zip(states) {
        consent_of.insert(*v, s?);
    }

    // Every event is routed and encoded before the claim, which stores the fresh ones' messages
    // in the shard's outbox in the same transaction (a duplicate's are dropped there).
    let mut claims = Vec::with_capacity(parsed.len());
    for p in &parsed {
        let stored = p
            .event
            .visitor_id
            .as_deref()
            .and_then(|v| consent_of.get(v))
            .and_then(|s| s.as_ref());
        let event = std::sync::Arc::new(p.event.clone());
        let routed = fanout::route(
            &tenant_id,
            &event,
            &caller.config.pixels,
            stored,
            &caller.config.consent_policy,
        );
        // One message per event: its record and the first attempt of each destination.
        let message =
            serde_json::to_string(&QueueMessage::accepted(&tenant_id, event, routed, now))
                .map_err(|e| ApiError::internal("queue encode", e))?;
        claims.push((p.event.event_id.as_str(), message));
    }
    let unavailable = |e: ApiError| ApiError {
        status: 503,
        code: "unavailable",
        message: format!("events not accepted, retry: {}", e.message),
        field: None,
    };
    let fresh = if claims.is_empty() {
        // Nothing to claim: only the counters of the rejected events go out.
        let counters = QueueMessage::intake_counters(&tenant_id, now, 0, 0, rejected.len() as u32);
        super::queue::enqueue(env, vec![counters], 0)
            .await
            .map_err(unavailable)?;
        vec![]
    } else {
        durable::dedup::claim_and_enqueue(env, &tenant_id, claims, rejected.len() as u32, now)
            .await
            .map_err(unavailable)?
    };

    let mut summary = IntakeSummary {
        accepted: vec![],
        duplicates: vec![],
        rejected,
        warnings: vec![],
    };
    for (i, (p, is_fresh)) in parsed.iter().zip(&fresh).enumerate() {
        for w in &p.warnings {
            summary
                .warnings
                .push(json!({"index": i, "field": w.field, "message": w.message}));
        }
        let id = p.event.event_id.clone();
        if *is_fresh {
            summary.accepted.push(id);
        } else {
            summary.duplicates.push(id);
        }
    }
    Ok(summary)
}

async fn events(mut req: Request, env: &Env, batch: bool) -> ApiResult {
    let body = read_body(&mut req).await?;
    let caller = tracking_caller(&req, env, body.get("site_key").and_then(Value::as_str)).await?;
    let s = intake(&req, env, &caller, &body, batch).await?;
    Ok(json_response(
        202,
        &json!({
            "accepted": s.accepted.len(),
            "duplicates": s.duplicates.len(),
            "rejected": s.rejected,
            "warnings": s.warnings,
            "event_ids": s.accepted,
            "duplicate_ids": s.duplicates,
        }),
    ))
}

/// `GET /pixel.gif?site_key=…&event_name=…[&event_id&visitor_id&url&referrer&value&currency&fbc&fbp…]`
/// for `<img>` beacons and no-JS fallbacks. Always the GIF, whatever happened.
async fn pixel_gif(req: Request, env: &Env) -> Response {
    let outcome = async {
        let url = super::raw_url(&req);
        let caller = tracking_caller(&req, env, None).await?;
        let mut ev = serde_json::Map::new();
        let mut custom = serde_json::Map::new();
        let mut click = serde_json::Map::new();
        for (k, v) in crate::core::weburl::query_pairs(&url) {
            let v = Value::String(v.to_string());
            match k.as_ref() {
                "event_name" | "event_id" | "visitor_id" | "url" | "referrer" | "event_time" => {
                    ev.insert(k.to_string(), v);
                }
                "value" | "currency" => {
                    custom.insert(k.to_string(), v);
                }
                "fbc" | "fbp" | "gclid" | "ttclid" | "li_fat_id" => {
                    click.insert(k.to_string(), v);
                }
                _ => {}
            }
        }
        if !ev.contains_key("url") {
            if let Ok(Some(r)) = req.headers().get("referer") {
                ev.insert("url".into(), Value::String(r));
            }
        }
        ev.entry("event_name")
            .or_insert(Value::String("page_view".into()));
        ev.insert("custom_data".into(), Value::Object(custom));
        ev.insert("click_ids".into(), Value::Object(click));
        intake(&req, env, &caller, &Value::Object(ev), false).await
    }
    .await;
    if let Err(e) = outcome {
        worker::console_warn!(
            "pixel.gif beacon dropped: {} {}",
            e.code,
            e.field.unwrap_or_default()
        );
    }
    let h = Headers::new();
    let _ = h.set("content-type", "image/gif");
    let _ = h.set("cache-control", "no-store, max-age=0");
    Response::from_bytes(PIXEL_GIF.to_vec())
        .expect("gif")
        .with_headers(h)
}

/// `POST /internal/cron?cron=…&scheduled=…` (admin token): a cron run handed over by the beacon
/// Worker, which holds the triggers.
#[cfg(feature = "jobs")]
async fn internal_cron(req: Request, env: &Env) -> ApiResult {
    require_admin(&req, env).await?;
    let cron = super::query_param(&req, "cron").ok_or_else(|| {
        ApiError::invalid(FieldError::new("cron", "is required (the cron expression)"))
    })?;
    let scheduled = super::query_param(&req, "scheduled")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(now_secs);
    super::scheduled::run(&cron, scheduled, env).await;
    Ok(json_response(200, &json!({"ok": true, "cron": cron})))
}

// ---------------------------------------------------------------- observability

async fn recent(req: Request, env: &Env) -> ApiResult {
    let tenant_id = require_api_key(&req, env).await?;
    let events = d1::recent_events(&d1::db(env)?, &tenant_id, 50).await?;
    Ok(json_response(200, &json!({"events": events})))
}

async fn stats(req: Request, env: &Env) -> ApiResult {
    use crate::core::stats::ratio;
    let tenant_id = require_api_key(&req, env).await?;
    let now = now_secs();
    let rows = d1::stats(&d1::db(env)?, &tenant_id, now - 24 * 3600).await?;
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
            "events_24h": rows.events,
            "received_24h": received,
            "accepted_24h": c.accepted.unwrap_or(0),
            "duplicates_24h": c.duplicates.unwrap_or(0),
            "rejected_24h": c.rejected.unwrap_or(0),
            "server_side_success_rate": ratio(delivered, delivered + failed),
            "consent_rate": ratio(rows.marketing_consented_events as u64, rows.events as u64),
            "dedup_rate": ratio(c.duplicates.unwrap_or(0) as u64, received),
            "platforms": platforms,
        }),
    ))
}

// ---------------------------------------------------------------- dev demo

async fn demo_page(env: &Env) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Row {
        site_key: String,
    }
    let db = d1::db(env)?;
    let row: Option<Row> = db
        .prepare("SELECT site_key FROM tenants WHERE name = 'pixelgate demo' ORDER BY created_at DESC LIMIT 1")
        .first(None)
        .await
        .map_err(|e| ApiError::internal("demo", e))?;
    let site_key = row.map(|r| r.site_key).unwrap_or_default();
    let html = include_str!("demo.html").replace("{{SITE_KEY}}", &site_key);
    let h = Headers::new();
    let _ = h.set("content-type", "text/html; charset=utf-8");
    Ok(Response::ok(html)?.with_headers(h))
}
