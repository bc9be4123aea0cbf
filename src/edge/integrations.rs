//! A tenant's integrations (jobs Worker; api key):
//! - `PUT /api/v1/integrations/stripe {webhook_secret}`: the Stripe endpoint's signing secret,
//!   sealed like a platform token, never returned;
//! - `PUT /api/v1/integrations/meta-leads {page_ids, crm_webhook_url?, marketing_consent?}`: the
//!   Facebook pages whose leads are the tenant's (a page belongs to one tenant), where to forward
//!   them, and whether its forms collect marketing consent. The forward's signing secret is made
//!   here on the first write and shown in that answer only;
//! - `GET /api/v1/integrations`: what is connected and the webhook URLs to give Stripe and Meta,
//!   never a secret;
//! - `GET|PUT /api/v1/attribution/settings {lookback_days}`.

use serde_json::{json, Value};
use worker::{Env, Request};

use super::auth::tenant_of_api_key;
use super::request::{read_json, MAX_SETTINGS_BYTES};
use super::store::d1::conversions::{self as store, IntegrationRow};
use super::{
    ads, bindings, config, fetch, json_response, now_secs, random_bytes, secrets, ApiError,
    ApiResult,
};
use crate::core::ads::meta_insights::read_meta_response;
use crate::core::ads::{AdsPlatform, ApiFailure};
use crate::core::attribution::{self, DEFAULT_LOOKBACK_DAYS};
use crate::core::leadgen::{self, LeadSettings};
use crate::core::outbound::OutboundRequest;
use crate::core::secrets::format_key;

pub const STRIPE: &str = "stripe";
pub const META_LEADS: &str = "meta_leads";
const ATTRIBUTION: &str = "attribution";

fn stripe_view(req: &Request, env: &Env, tenant_id: &str, row: Option<&IntegrationRow>) -> Value {
    json!({
        "connected": row.is_some_and(|r| r.secret_enc.is_some()),
        "webhook_url": format!("{}/api/v1/webhooks/stripe/{tenant_id}", config::public_origin(env, req)),
        "events": ["checkout.session.completed", "checkout.session.async_payment_succeeded", "payment_intent.succeeded", "charge.refunded", "refund.created"],
        "updated_at": row.map(|r| r.updated_at),
    })
}

pub fn lead_settings(row: &IntegrationRow) -> Option<LeadSettings> {
    serde_json::from_str(&row.settings).ok()
}

fn leads_view(req: &Request, env: &Env, row: Option<&IntegrationRow>) -> Value {
    let settings = row.and_then(lead_settings);
    json!({
        "connected": settings.is_some(),
        "page_ids": settings.as_ref().map(|s| s.page_ids.clone()).unwrap_or_default(),
        "crm_webhook_url": settings.as_ref().and_then(|s| s.crm_webhook_url.clone()),
        "marketing_consent": settings.as_ref().is_some_and(|s| s.marketing_consent),
        "has_signing_secret": row.is_some_and(|r| r.secret_enc.is_some()),
        "webhook_url": format!("{}/api/v1/webhooks/meta/leadgen", config::public_origin(env, req)),
        "verify_token_configured": config::meta_webhook_verify_token(env).is_some(),
        "updated_at": row.map(|r| r.updated_at),
    })
}

/// The tenant's attribution lookback window in days.
pub async fn lookback_days(env: &Env, tenant_id: &str) -> Result<u32, ApiError> {
    let row = store::integration(&bindings::db(env)?, tenant_id, ATTRIBUTION).await?;
    Ok(row
        .and_then(|r| serde_json::from_str::<Value>(&r.settings).ok())
        .and_then(|v| v.get("lookback_days")?.as_u64())
        .map_or(DEFAULT_LOOKBACK_DAYS, |d| d as u32))
}

/// `GET /api/v1/integrations`.
pub async fn list(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let rows = store::integrations(&bindings::db(env)?, &tenant_id).await?;
    let row = |kind: &str| rows.iter().find(|r| r.kind == kind);
    Ok(json_response(
        200,
        &json!({
            "stripe": stripe_view(&req, env, &tenant_id, row(STRIPE)),
            "meta_leads": leads_view(&req, env, row(META_LEADS)),
            "attribution": {"lookback_days": lookback_days(env, &tenant_id).await?},
        }),
    ))
}

/// `GET /api/v1/integrations/stripe` and `/meta-leads`: one integration's view.
pub async fn get_one(req: Request, env: &Env, kind: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let row = store::integration(&bindings::db(env)?, &tenant_id, kind).await?;
    let view = if kind == STRIPE {
        stripe_view(&req, env, &tenant_id, row.as_ref())
    } else {
        leads_view(&req, env, row.as_ref())
    };
    Ok(json_response(200, &view))
}

/// `PUT /api/v1/integrations/stripe`.
pub async fn put_stripe(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
    let secret = crate::core::stripe::parse_settings(&body)?;
    let sealed = secrets::IntegrationSecret {
        tenant_id: &tenant_id,
        kind: STRIPE,
    }
    .seal(env, &secret)?;
    let db = bindings::db(env)?;
    store::put_integration(&db, &tenant_id, STRIPE, "{}", Some(&sealed), now_secs()).await?;
    let row = store::integration(&db, &tenant_id, STRIPE).await?;
    Ok(json_response(
        200,
        &stripe_view(&req, env, &tenant_id, row.as_ref()),
    ))
}

/// `PUT /api/v1/integrations/meta-leads`.
pub async fn put_meta_leads(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
    let settings = leadgen::parse_settings(&body, config::allow_loopback_webhooks(env))?;
    let db = bindings::db(env)?;
    let taken = store::pages_of_others(&db, &tenant_id, &settings.page_ids).await?;
    if let Some(page) = taken.first() {
        let i = settings
            .page_ids
            .iter()
            .position(|p| p == page)
            .unwrap_or(0);
        return Err(ApiError {
            status: 409,
            code: "page_taken",
            message: format!("page_ids[{i}] is connected by another tenant"),
            field: Some(format!("page_ids[{i}]")),
        });
    }
    let existing = store::integration(&db, &tenant_id, META_LEADS).await?;
    // The CRM forward's signing secret: made once, shown once.
    let new_secret = existing
        .as_ref()
        .and_then(|r| r.secret_enc.as_ref())
        .is_none()
        .then(|| format_key("lsig", &random_bytes::<32>()));
    let sealed = new_secret
        .as_deref()
        .map(|s| {
            secrets::IntegrationSecret {
                tenant_id: &tenant_id,
                kind: META_LEADS,
            }
            .seal(env, s)
        })
        .transpose()?;
    let text = serde_json::to_string(&settings).map_err(|e| ApiError::internal("encode", e))?;
    store::put_lead_pages(
        &db,
        &tenant_id,
        &text,
        sealed.as_deref(),
        &settings.page_ids,
        now_secs(),
    )
    .await?;
    // Each page installs the app for its leadgen notifications (through the tenant's connected
    // Meta account); a page that cannot is reported, and a later PUT tries again.
    let mut subscriptions = Vec::new();
    for page in &settings.page_ids {
        let result = subscribe_page(env, &tenant_id, page)
            .await
            .unwrap_or_else(|e| Err(e.message));
        subscriptions.push(match result {
            Ok(()) => json!({"page_id": page, "subscribed": true}),
            Err(why) => json!({"page_id": page, "subscribed": false, "error": why}),
        });
    }
    let row = store::integration(&db, &tenant_id, META_LEADS).await?;
    let mut view = leads_view(&req, env, row.as_ref());
    view["subscriptions"] = json!(subscriptions);
    if let Some(secret) = new_secret {
        view["signing_secret"] = json!(secret);
        view["note"] = json!("signing_secret is shown once: the CRM checks X-Pixelgate-Signature (t=…,v1=hex HMAC-SHA256 of \"{t}.{body}\") with it");
    }
    Ok(json_response(200, &view))
}

/// `GET /api/v1/attribution/settings`.
pub async fn get_attribution(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    Ok(json_response(
        200,
        &json!({"lookback_days": lookback_days(env, &tenant_id).await?}),
    ))
}

/// `PUT /api/v1/attribution/settings {lookback_days}`.
pub async fn put_attribution(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_SETTINGS_BYTES).await?;
    let days = attribution::parse_settings(&body)?;
    let settings = json!({ "lookback_days": days }).to_string();
    store::put_integration(
        &bindings::db(env)?,
        &tenant_id,
        ATTRIBUTION,
        &settings,
        None,
        now_secs(),
    )
    .await?;
    Ok(json_response(200, &json!({ "lookback_days": days })))
}

/// A page's access token, read through the tenant's connected Meta account; `Ok(Err(why))`
/// when it has none for the page.
pub async fn page_token(
    env: &Env,
    tenant_id: &str,
    page_id: &str,
) -> Result<Result<String, String>, ApiError> {
    let user_token = match ads::connected_token(env, tenant_id, AdsPlatform::Meta, None).await? {
        Ok((token, _)) => token,
        Err(why) => return Ok(Err(format!("no Meta account to read the page with: {why}"))),
    };
    let cfg = config::ads_config(env);
    let page = graph(
        &leadgen::plan_page_token(&cfg, &user_token, page_id),
        config::outbound_timeout_ms(env),
    )
    .await?;
    let token = match page {
        Ok(p) => p
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "Meta gave no page token".to_string()),
        Err(why) => Err(why),
    };
    Ok(token.map_err(|why| {
        format!("the connected Meta account cannot act for page {page_id} (it needs pages_show_list, leads_retrieval and pages_manage_metadata on it): {why}")
    }))
}

/// Subscribes the app to a page's `leadgen` notifications; `Ok(Err(why))` when it could not.
pub async fn subscribe_page(
    env: &Env,
    tenant_id: &str,
    page_id: &str,
) -> Result<Result<(), String>, ApiError> {
    let token = match page_token(env, tenant_id, page_id).await? {
        Ok(t) => t,
        Err(why) => return Ok(Err(why)),
    };
    let req = leadgen::plan_subscribe(&config::ads_config(env), &token, page_id);
    Ok(graph(&req, config::outbound_timeout_ms(env))
        .await?
        .map(|_| ()))
}

/// A Graph API read: its JSON, `Ok(Err(why))` when retrying cannot help (no permission, no such
/// lead), `Err` when it may (Meta's resend will try again).
pub async fn graph(req: &OutboundRequest, timeout: u64) -> Result<Result<Value, String>, ApiError> {
    let answer = fetch::send(req, timeout).await;
    match read_meta_response(&answer) {
        Ok(v) => Ok(Ok(v)),
        Err(f @ (ApiFailure::Retryable { .. } | ApiFailure::RateLimited { .. })) => {
            Err(ApiError::new(
                503,
                "upstream_error",
                &format!("Meta Graph API: {}", f.reason()),
            ))
        }
        Err(f) => Ok(Err(f.reason().to_string())),
    }
}
