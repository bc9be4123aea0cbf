//! Every way a caller proves who it is, and the failed-authentication limiter:
//! - the operator: `Authorization: Bearer ADMIN_TOKEN`, compared in constant time;
//! - a tenant's server or dashboard: `Authorization: Bearer <api_key>`, looked up by its SHA-256
//!   (an indexed equality on a hash of 256 random bits: the comparison never touches the secret,
//!   so its timing reveals nothing usable), current key or the previous one during a rotation's
//!   grace period;
//! - a browser on a tenant's site: the public `site_key` plus an `Origin` (or `Referer`) on the
//!   tenant's allow-list.
//!
//! Failed authentications are counted per client IP per minute (`core::ratelimit`); past the
//! limit every attempt from that address is answered 429 with `Retry-After`.

use worker::{Env, Request, Response};

use super::request::{client_ip, header, query_nonempty};
use super::store::{d1, kv};
use super::{bindings, config, now_secs, ApiError};
use crate::core::ratelimit;
use crate::core::secrets::{constant_time_eq, hash_api_key};
use crate::core::tenant::TenantConfig;

fn bearer(req: &Request) -> Option<String> {
    let h = header(req, "authorization")?;
    let t = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))?;
    Some(t.trim().to_string())
}

pub fn has_bearer(req: &Request) -> bool {
    bearer(req).is_some()
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
pub async fn authenticate(req: &Request, env: &Env) -> Result<Auth, ApiError> {
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
    let db = bindings::db(env)?;
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

/// The tenant id of the api key in `Authorization: Bearer`.
pub async fn tenant_of_api_key(req: &Request, env: &Env) -> Result<String, ApiError> {
    authenticate(req, env).await.map(|a| a.tenant_id)
}

/// `Authorization: Bearer ADMIN_TOKEN`, compared in constant time, failures rate limited.
pub async fn require_admin(req: &Request, env: &Env) -> Result<(), ApiError> {
    let expected = config::admin_token(env)?;
    let now = now_secs();
    let bucket = ratelimit::bucket(client_ip(req).as_deref());
    let minute = ratelimit::window(now);
    let db = bindings::db(env)?;
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

/// Who is sending tracking data: a trusted server (api key) or a browser (site key + allowed origin).
pub struct TrackingCaller {
    pub config: TenantConfig,
    pub trusted: bool,
}

/// The caller of a tracking endpoint: the api key when one is sent, else the site key from the
/// query or `body_site_key` from an allowed browser origin.
pub async fn tracking_caller(
    req: &Request,
    env: &Env,
    body_site_key: Option<&str>,
) -> Result<TrackingCaller, ApiError> {
    if has_bearer(req) {
        let tenant_id = tenant_of_api_key(req, env).await?;
        let site_key = d1::site_key_of(&bindings::db(env)?, &tenant_id).await?;
        let config = kv::config_by_site_key(env, &site_key)
            .await?
            .ok_or_else(|| ApiError::new(401, "unauthorized", "unknown tenant"))?;
        return Ok(TrackingCaller {
            config,
            trusted: true,
        });
    }
    let site_key = query_nonempty(req, "site_key").or_else(|| body_site_key.map(str::to_string));
    Ok(TrackingCaller {
        config: browser_site(req, env, site_key).await?,
        trusted: false,
    })
}

/// A browser on one of the tenant's sites: a known `site_key` and an `Origin` on its allow-list.
/// Browsers always send Origin on POST; image beacons and plain GETs send a Referer instead.
pub async fn browser_site(
    req: &Request,
    env: &Env,
    site_key: Option<String>,
) -> Result<TenantConfig, ApiError> {
    let site_key = site_key.ok_or_else(|| ApiError {
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
    match header(req, "origin").or_else(|| header(req, "referer")) {
        Some(o) if config.origin_allowed(&o) => Ok(config),
        Some(_) => Err(ApiError::new(
            403,
            "origin_not_allowed",
            "this site_key is not allowed from this origin",
        )),
        None => Err(ApiError::new(
            403,
            "origin_not_allowed",
            "site_key requests must come from a browser on an allowed origin (Origin or Referer header)",
        )),
    }
}
