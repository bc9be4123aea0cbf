//! Every way a caller proves who it is, and the failed-authentication limiter:
//! - the operator: `Authorization: Bearer ADMIN_TOKEN`, compared in constant time;
//! - a tenant's server or dashboard: `Authorization: Bearer <api_key>` (the admin scope) or a
//!   server's `Bearer <ingest_key>` (events and consent choices only, `core::access`), looked up
//!   by its SHA-256 (an indexed equality on a hash of 256 random bits: the comparison never
//!   touches the secret, so its timing reveals nothing usable), current key or the previous one
//!   during a rotation's grace period;
//! - a browser on a tenant's site: the public `site_key` plus an `Origin` (or `Referer`) on the
//!   tenant's allow-list (and, to read or erase its visitor's consent, the gateway's first-party
//!   visitor cookie: `tracking`).
//!
//! Failed authentications (a wrong api key or admin token) are counted per client network and
//! per key prefix (`core::ratelimit`); past the limit a wrong key is answered 429 with
//! `Retry-After`. A correct key is checked first and always passes.
//!
//! The counters live in a per-isolate memo, written through to KV (never D1: a failed attempt
//! must not cost a database write). KV, not a Durable Object: only failures touch the counters,
//! never a successful request; a bucket's count is approximate across isolates (KV keeps the last
//! writer's number and takes one write per second per key, so an isolate writes a bucket at most
//! once a second, plus the failure that reaches the limit), which is enough because the limit only
//! ever refuses wrong keys; and the beacon Worker needs no new object class, migration or
//! round trip to one place.

use std::cell::RefCell;

use worker::{Env, Request, Response};

use super::request::{client_ip, header, query_nonempty};
use super::store::{d1, kv};
use super::{bindings, config, now_ms, now_secs, ApiError};
use crate::core::access::Scope;
use crate::core::ratelimit::{self, Count};
use crate::core::secrets::{constant_time_eq, hash_api_key};
use crate::core::tenant::TenantConfig;

/// Slots of the isolate's memo: direct-mapped by a hash of the bucket, so it never grows; two
/// buckets in one slot take turns (KV still has both counts).
const MEMO_SLOTS: usize = 512;

/// A memo slot: the bucket's hash, its count, when this isolate last wrote it to KV (ms, or 0).
type Slot = (u64, Count, i64);

thread_local! {
    static FAILURES: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
}

/// FNV-1a: the memo's tag for a bucket (never 0, the empty slot's); its slot is `slot(hash)`.
fn bucket_hash(bucket: &str) -> u64 {
    bucket.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    }) | 1
}

/// The high bits: the low one is always set.
fn slot(hash: u64) -> usize {
    (hash >> 32) as usize % MEMO_SLOTS
}

fn memo(hash: u64) -> Option<(Count, i64)> {
    FAILURES.with(|m| {
        m.borrow()
            .get(slot(hash))
            .filter(|s| s.0 == hash)
            .map(|s| (s.1, s.2))
    })
}

fn remember(hash: u64, count: Count, stored_at: i64) {
    FAILURES.with(|m| {
        let mut m = m.borrow_mut();
        if m.is_empty() {
            m.resize(MEMO_SLOTS, (0, Count { window: 0, n: 0 }, 0));
        }
        m[slot(hash)] = (hash, count, stored_at);
    })
}

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

/// Counts a wrong `presented` key and answers: `unauthorized` (401), or 429 once the client's
/// network or the key's prefix is past the limit.
async fn failed(req: &Request, env: &Env, presented: &str, unauthorized: ApiError) -> ApiError {
    let window = ratelimit::window(now_secs());
    let mut over = false;
    for bucket in ratelimit::buckets(client_ip(req).as_deref(), presented) {
        let hash = bucket_hash(&bucket);
        let memo = memo(hash);
        let known = Count::in_window(memo.map(|m| m.0), window);
        // Already past the limit here: no need to ask KV, nor to tell it again.
        let stored = if ratelimit::blocked(known) {
            None
        } else {
            kv::auth_failures(env, &bucket).await
        };
        let count = Count::after_failure(memo.map(|m| m.0), stored, window);
        over |= ratelimit::blocked(count.n - 1);
        let mut stored_at = memo.map_or(0, |m| m.1);
        let last = (stored_at != 0).then_some(stored_at);
        if !ratelimit::blocked(known) && ratelimit::should_store(count, last, now_ms()) {
            stored_at = now_ms();
            kv::put_auth_failures(env, &bucket, count).await;
        }
        remember(hash, count, stored_at);
    }
    match over {
        false => unauthorized,
        true => ApiError::new(
            429,
            "rate_limited",
            "too many failed authentications from this network or with this key; wait as long as Retry-After says",
        ),
    }
}

pub struct Auth {
    pub tenant_id: String,
    /// Authenticated with the previous key during a rotation's grace period.
    pub via_prev: bool,
    pub key_hash: String,
}

/// The tenant of `Authorization: Bearer <api_key>`: the admin scope, which every management
/// endpoint needs. A wrong key is counted and answered 401, or 429 past the limit; a right one
/// always passes; an ingest key is answered 403 naming its scope.
pub async fn authenticate(req: &Request, env: &Env) -> Result<Auth, ApiError> {
    authenticate_for(req, env, Scope::Admin).await
}

/// The tenant of the bearer key, if its scope allows what needs `needed`.
pub async fn authenticate_for(req: &Request, env: &Env, needed: Scope) -> Result<Auth, ApiError> {
    let key = bearer(req).ok_or_else(|| {
        ApiError::new(
            401,
            "unauthorized",
            "api key required (Authorization: Bearer <api_key>)",
        )
    })?;
    let key_hash = hash_api_key(&key);
    let found = d1::key_owner(&bindings::db(env)?, &key_hash, now_secs()).await?;
    match found {
        Some(t) if t.scope.allows(needed) => Ok(Auth {
            tenant_id: t.tenant_id,
            via_prev: t.via_prev,
            key_hash,
        }),
        Some(t) => Err(ApiError {
            status: 403,
            code: "insufficient_scope",
            message: t.scope.refusal(needed),
            field: Some("authorization".into()),
        }),
        None => Err(failed(
            req,
            env,
            &key,
            ApiError::new(401, "unauthorized", "unknown api key"),
        )
        .await),
    }
}

/// The tenant id of the api key (admin scope) in `Authorization: Bearer`.
pub async fn tenant_of_api_key(req: &Request, env: &Env) -> Result<String, ApiError> {
    authenticate(req, env).await.map(|a| a.tenant_id)
}

/// `Authorization: Bearer ADMIN_TOKEN`, compared in constant time; wrong tokens are limited as
/// wrong api keys are.
pub async fn require_admin(req: &Request, env: &Env) -> Result<(), ApiError> {
    let expected = config::admin_token(env)?;
    let refused = ApiError::new(
        401,
        "unauthorized",
        "admin token required (Authorization: Bearer ADMIN_TOKEN)",
    );
    match bearer(req) {
        Some(t) if constant_time_eq(&t, &expected) => Ok(()),
        Some(t) => Err(failed(req, env, &t, refused).await),
        None => Err(refused),
    }
}

/// Who is sending tracking data: a trusted server (api key) or a browser (site key + allowed origin).
pub struct TrackingCaller {
    pub config: TenantConfig,
    pub trusted: bool,
}

/// The caller of a tracking endpoint: a bearer key when one is sent (of a scope that allows
/// `needed`: the ingest key sends events and consent choices, reads and erases need the api key),
/// else the site key from the query or `body_site_key` from an allowed browser origin.
pub async fn tracking_caller(
    req: &Request,
    env: &Env,
    body_site_key: Option<&str>,
    needed: Scope,
) -> Result<TrackingCaller, ApiError> {
    if has_bearer(req) {
        let tenant_id = authenticate_for(req, env, needed).await?.tenant_id;
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
