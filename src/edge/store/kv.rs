//! KV: read-mostly caches for the beacon path, and the failed-authentication counters shared
//! between isolates. Never used for dedup (eventually consistent, 1 write/s per key).

use std::cell::RefCell;
use std::collections::HashMap;

use worker::kv::KvStore;
use worker::Env;

use super::d1;
use crate::core::consent::ConsentState;
use crate::core::ratelimit::Count;
use crate::core::tenant::TenantConfig;
use crate::edge::{bindings, now_ms, ApiError};

/// Per-isolate memo of tenant configs: most beacons then need no KV read at all. Short, because
/// another isolate may have changed the config; writes in this isolate invalidate at once.
const ISOLATE_TTL_MS: i64 = 5_000;

/// Consent answers (including "no record") memoized per isolate for a few seconds: a visitor's
/// beacons come in bursts, and a visitor without a record would otherwise cost a KV miss plus a
/// D1 query per event. Changes made through this isolate update the memo at once; elsewhere KV's
/// own propagation (up to ~60 s) is the larger delay anyway.
const CONSENT_TTL_MS: i64 = 3_000;
const CONSENT_MEMO_MAX: usize = 10_000;

/// Every KV entry expires after a minute (KV's shortest TTL), whatever happens to the writes
/// that keep it current: a failed write or delete can leave a withdrawn consent or a removed
/// pixel in the cache for that long at most, then D1 answers again.
const CACHE_TTL_SECS: u64 = 60;

thread_local! {
    static CONFIGS: RefCell<HashMap<String, (i64, TenantConfig)>> = RefCell::new(HashMap::new());
    static CONSENTS: RefCell<HashMap<String, (i64, Option<ConsentState>)>> = RefCell::new(HashMap::new());
}

fn kv(env: &Env) -> Result<KvStore, ApiError> {
    bindings::kv(env)
}

fn site_key_entry(site_key: &str) -> String {
    format!("site:{site_key}")
}

fn consent_entry(tenant_id: &str, visitor_id: &str) -> String {
    format!("consent:{tenant_id}:{visitor_id}")
}

/// Tenant routing config by public site key: isolate memo → KV → D1 (then written back to KV).
/// A previous site key past its grace period finds nothing, whatever a cache still holds.
pub async fn config_by_site_key(
    env: &Env,
    site_key: &str,
) -> Result<Option<TenantConfig>, ApiError> {
    let now = now_ms();
    let valid = |cfg: TenantConfig| cfg.key_valid_at(now / 1000).then_some(cfg);
    let memo = CONFIGS.with(|c| c.borrow().get(site_key).cloned());
    if let Some((at, cfg)) = memo {
        if now - at < ISOLATE_TTL_MS {
            return Ok(valid(cfg));
        }
    }
    let key = site_key_entry(site_key);
    crate::edge::meter::add(crate::edge::meter::Op::KvRead, 1);
    let cached: Option<TenantConfig> = kv(env)?
        .get(&key)
        .json()
        .await
        .map_err(|e| ApiError::internal("KV get config", e))?;
    let cfg = match cached {
        Some(c) => valid(c),
        None => {
            let db = bindings::db(env)?;
            match d1::tenant_by_site_key(&db, site_key, now / 1000).await? {
                Some((tid, valid_until)) => {
                    let mut cfg = d1::load_tenant_config(&db, &tid).await?;
                    cfg.key_valid_until = valid_until;
                    put_config(env, site_key, &cfg).await;
                    Some(cfg)
                }
                None => None,
            }
        }
    };
    if let Some(c) = &cfg {
        CONFIGS.with(|m| {
            m.borrow_mut()
                .insert(site_key.to_string(), (now_ms(), c.clone()))
        });
    }
    Ok(cfg)
}

async fn put_config(env: &Env, site_key: &str, cfg: &TenantConfig) {
    // A failed cache write only costs a D1 read later; never fail the request for it.
    put_cached(env, &site_key_entry(site_key), cfg, "config").await;
}

/// Writes a cache entry as JSON; a failure is logged, never raised (D1 holds the truth). The
/// bytes go in with `put_bytes`: `put` would send the text through serde-wasm-bindgen's
/// serializer, which the beacon's wasm otherwise does without.
async fn put_cached(env: &Env, key: &str, value: &impl serde::Serialize, what: &str) {
    put_raw(
        env,
        key,
        serde_json::to_string(value).unwrap_or_default(),
        what,
    )
    .await;
}

async fn put_raw(env: &Env, key: &str, body: String, what: &str) {
    let Ok(store) = kv(env) else { return };
    crate::edge::meter::add(crate::edge::meter::Op::KvWrite, 1);
    if let Ok(put) = store.put_bytes(key, body.as_bytes()) {
        let put = put.expiration_ttl(CACHE_TTL_SECS);
        if let Err(e) = put.execute().await {
            worker::console_warn!("KV put {what} failed: {e}");
        }
    }
}

/// Forgets this isolate's memo of tenant configs: a management write went to the jobs Worker,
/// which refreshed KV, so the next beacon here reads the new config at once.
#[cfg(not(feature = "jobs"))]
pub fn forget_configs() {
    CONFIGS.with(|m| m.borrow_mut().clear());
}

/// Rebuilds the cached config after any change to the tenant, its pixels or its site keys: under
/// the current site key, and under the previous one while its grace period lasts (marked with its
/// end).
pub async fn refresh_config(env: &Env, tenant_id: &str) -> Result<(), ApiError> {
    let db = bindings::db(env)?;
    let keys = d1::site_keys_of(&db, tenant_id).await?;
    let cfg = d1::load_tenant_config(&db, tenant_id).await?;
    let previous = keys
        .site_key_prev
        .zip(keys.site_key_prev_expires_at)
        .filter(|(_, until)| *until > now_ms() / 1000);
    let mut entries = vec![(keys.site_key, cfg.clone())];
    if let Some((key, until)) = previous {
        let mut old = cfg;
        old.key_valid_until = Some(until);
        entries.push((key, old));
    }
    for (site_key, cfg) in entries {
        CONFIGS.with(|m| {
            m.borrow_mut()
                .insert(site_key.clone(), (now_ms(), cfg.clone()))
        });
        put_config(env, &site_key, &cfg).await;
    }
    Ok(())
}

/// The latest consent of each distinct `(tenant, visitor)` among `keys`, read in parallel (each
/// read memoized per isolate); visitors without a record are absent.
pub async fn consents<'a>(
    env: &Env,
    mut keys: Vec<(&'a str, &'a str)>,
) -> Result<HashMap<(&'a str, &'a str), ConsentState>, ApiError> {
    keys.sort_unstable();
    keys.dedup();
    let reads = keys.iter().map(|(t, v)| consent(env, t, v));
    let mut found = HashMap::new();
    for (key, state) in keys.iter().zip(futures_util::future::join_all(reads).await) {
        if let Some(state) = state? {
            found.insert(*key, state);
        }
    }
    Ok(found)
}

/// Latest consent: KV, falling back to D1 (and re-warming KV) when KV has no entry.
pub async fn consent(
    env: &Env,
    tenant_id: &str,
    visitor_id: &str,
) -> Result<Option<ConsentState>, ApiError> {
    let key = consent_entry(tenant_id, visitor_id);
    let memo = CONSENTS.with(|m| m.borrow().get(&key).cloned());
    if let Some((at, state)) = memo {
        if now_ms() - at < CONSENT_TTL_MS {
            return Ok(state);
        }
    }
    let state = consent_uncached(env, tenant_id, visitor_id, &key).await?;
    remember_consent(&key, state.clone());
    Ok(state)
}

fn remember_consent(key: &str, state: Option<ConsentState>) {
    CONSENTS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= CONSENT_MEMO_MAX {
            m.clear();
        }
        m.insert(key.to_string(), (now_ms(), state));
    });
}

async fn consent_uncached(
    env: &Env,
    tenant_id: &str,
    visitor_id: &str,
    key: &str,
) -> Result<Option<ConsentState>, ApiError> {
    crate::edge::meter::add(crate::edge::meter::Op::KvRead, 1);
    let cached: Option<ConsentState> = kv(env)?
        .get(key)
        .json()
        .await
        .map_err(|e| ApiError::internal("KV get consent", e))?;
    if cached.is_some() {
        return Ok(cached);
    }
    let stored = d1::latest_consent(&bindings::db(env)?, tenant_id, visitor_id).await?;
    if let Some(s) = &stored {
        put_consent(env, tenant_id, visitor_id, s).await;
    }
    Ok(stored)
}

fn auth_failures_entry(bucket: &str) -> String {
    format!("authfail:{bucket}")
}

/// A failed-authentication bucket's count as another isolate last wrote it. Unreadable counts as
/// none: the limiter must never fail a request because KV did.
pub async fn auth_failures(env: &Env, bucket: &str) -> Option<Count> {
    crate::edge::meter::add(crate::edge::meter::Op::KvRead, 1);
    let text = kv(env)
        .ok()?
        .get(&auth_failures_entry(bucket))
        .text()
        .await
        .ok()??;
    Count::decode(&text)
}

/// Shares a bucket's count (expiring with KV's shortest TTL, the window is shorter).
pub async fn put_auth_failures(env: &Env, bucket: &str, count: Count) {
    put_raw(
        env,
        &auth_failures_entry(bucket),
        count.encode(),
        "auth failures",
    )
    .await;
}

pub async fn put_consent(env: &Env, tenant_id: &str, visitor_id: &str, state: &ConsentState) {
    let key = consent_entry(tenant_id, visitor_id);
    remember_consent(&key, Some(state.clone()));
    // D1 holds the record; the event path falls back to it on a KV miss.
    put_cached(env, &key, state, "consent").await;
}
