//! The browser tag's endpoints: public banner/consent config, the visitor id call that sets the
//! first-party cookies, and the banner part of the tenant settings. The tag itself (`/t.js`) and
//! the banner (`/banner.js`) are static assets.

use serde_json::{json, Value};
use worker::{Env, Request, Response};

use super::auth::browser_site;
use super::request::query_nonempty;
use super::store::{d1, kv};
use super::{bindings, config, cookies, json_response, now_ms, uuid_v4, ApiError, ApiResult};
use crate::core::banner::{parse_banner, stored_banner};
use crate::core::browser_tags::tag_pixels;
use crate::core::consent::ConsentState;
use crate::core::cookies::{valid_visitor_id, VISITOR_COOKIE};
use crate::core::tenant::TenantConfig;

/// A browser on one of the tenant's sites: `site_key` in the query and an allowed Origin (or
/// Referer). Same rule as the events/consent endpoints.
async fn site(req: &Request, env: &Env) -> Result<TenantConfig, ApiError> {
    browser_site(req, env, query_nonempty(req, "site_key")).await
}

/// `GET /api/v1/tracking/config?site_key=…` — what the tag and banner need: banner settings, the
/// tenant's default for visitors without a choice, and the platforms' browser tags to load after
/// consent (`core::browser_tags`). Public per site; cached briefly.
pub async fn config(req: Request, env: &Env) -> ApiResult {
    let cfg = site(&req, env).await?;
    let db = bindings::db(env)?;
    let settings = d1::tenant_settings(&db, &cfg.tenant_id).await?;
    let pixels = tag_pixels(
        &d1::browser_pixels(&db, &cfg.tenant_id).await?,
        &config::vendor_scripts(env),
    );
    let banner = stored_banner(&settings);
    let resp = json_response(
        200,
        &json!({
            "banner": banner,
            "consent_version": banner["version"],
            "consent_default": {
                "analytics": cfg.consent_policy.default_analytics,
                "marketing": cfg.consent_policy.default_marketing,
            },
            "pixels": pixels,
        }),
    );
    let h = resp.headers().clone();
    let _ = h.set(
        "cache-control",
        "public, max-age=60, stale-while-revalidate=300",
    );
    let _ = h.append("vary", "Origin");
    Ok(resp.with_headers(h))
}

/// `GET /api/v1/tracking/id?site_key=…[&vid=…&fbp=…&fbc=…]` (credentials included) — the
/// browser's own visitor id and its stored consent; (re)sets the server-side first-party cookies.
/// The HttpOnly cookie wins over the tag's local id, so ITP clearing script storage after 7
/// days does not split a visitor in two.
pub async fn identify(req: Request, env: &Env) -> ApiResult {
    let cfg = site(&req, env).await?;
    let jar = cookies::request_cookies(&req);
    let named = jar
        .get(VISITOR_COOKIE)
        .filter(|v| valid_visitor_id(v))
        .cloned()
        .or_else(|| query_nonempty(&req, "vid").filter(|v| valid_visitor_id(v)));
    // This browser's visitor: the id it names when it proves it (`pg_vsig`) or when that id has
    // no consent record yet (a new visitor, nothing of anyone's to see); otherwise the id is
    // someone else's (or one this browser can no longer prove), and the browser gets a new one.
    // So naming a visitor id here never reveals that visitor's choice.
    let (visitor_id, record) = match named {
        Some(v) => {
            let record = kv::consent(env, &cfg.tenant_id, &v).await?;
            if record.is_none() || cookies::proven(&req, env, &cfg.tenant_id, &v) {
                (v, record)
            } else {
                (uuid_v4(), None)
            }
        }
        None => (uuid_v4(), None),
    };
    // After an erase the visitor has made no choice: the banner asks again.
    let consent = record.filter(|s| !s.is_erasure());
    let (mut set, ident) = cookies::plan(
        &req,
        &cfg,
        &visitor_id,
        consent.as_ref(),
        query_nonempty(&req, "fbp").as_deref(),
        query_nonempty(&req, "fbc").as_deref(),
        now_ms(),
    );
    // The signature that lets this browser read and erase its visitor's consent with the site key.
    cookies::vouch(&req, env, &cfg, &visitor_id, &mut set);
    let body =
        json!({"visitor_id": visitor_id, "consent": consent, "fbp": ident.fbp, "fbc": ident.fbc});
    Ok(cookies::with_cookies(json_response(200, &body), &set))
}

/// Set-Cookie for the consent endpoint's answer (called by `tracking::post_consent`), with the
/// visitor's signature when `vouch` (a browser's own visitor).
pub fn consent_cookies(
    resp: Response,
    (req, env): (&Request, &Env),
    cfg: &TenantConfig,
    (visitor_id, vouch): (&str, bool),
    state: &ConsentState,
    body: &Value,
) -> Response {
    let s = |k: &str| body.get(k).and_then(Value::as_str);
    let (mut set, _) = cookies::plan(
        req,
        cfg,
        visitor_id,
        Some(state),
        s("fbp"),
        s("fbc"),
        now_ms(),
    );
    if vouch {
        cookies::vouch(req, env, cfg, visitor_id, &mut set);
    }
    cookies::with_cookies(resp, &set)
}

/// The banner part of `GET /api/v1/tracking/settings`.
pub async fn banner_settings(env: &Env, tenant_id: &str) -> Result<Value, ApiError> {
    Ok(stored_banner(
        &d1::tenant_settings(&bindings::db(env)?, tenant_id).await?,
    ))
}

/// `PUT /api/v1/tracking/settings {banner:{…}}`: validated, then stored in `tenants.settings`.
/// Returns the stored (normalized) banner, or `None` when the body has no `banner`.
pub async fn save_banner(
    env: &Env,
    tenant_id: &str,
    body: &Value,
) -> Result<Option<Value>, ApiError> {
    let Some(b) = body.get("banner") else {
        return Ok(None);
    };
    let banner = parse_banner(b, "banner.")?;
    d1::set_tenant_setting(&bindings::db(env)?, tenant_id, "banner", &banner).await?;
    Ok(Some(banner))
}
