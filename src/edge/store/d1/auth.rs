//! The failed-authentication windows and the api key lookup that reads them in one query.

use serde::Deserialize;
use worker::D1Database;

use super::{first, n, run, s};
use crate::edge::ApiError;

#[derive(Deserialize)]
pub struct AuthLookup {
    pub tenant_id: Option<String>,
    /// 1 when the key matched only the previous (rotated-out, still in grace) key.
    pub via_prev: Option<i64>,
    pub failures: Option<i64>,
}

/// One round trip: the tenant of an api key hash (current key, or the previous one while its grace
/// period lasts) and the caller's failed attempts in the current rate-limit window.
pub async fn auth_lookup(
    db: &D1Database,
    hash: &str,
    bucket: &str,
    minute: i64,
    now: i64,
) -> Result<AuthLookup, ApiError> {
    Ok(first::<AuthLookup>(
        db,
        "SELECT
           (SELECT id FROM tenants WHERE api_key_hash = ?1
              OR (api_key_hash_prev = ?1 AND api_key_prev_expires_at > ?4) LIMIT 1) AS tenant_id,
           (SELECT api_key_hash != ?1 FROM tenants WHERE api_key_hash = ?1
              OR (api_key_hash_prev = ?1 AND api_key_prev_expires_at > ?4) LIMIT 1) AS via_prev,
           (SELECT n FROM auth_failures WHERE bucket = ?2 AND minute = ?3) AS failures",
        &[s(hash), s(bucket), n(minute), n(now)],
    )
    .await?
    .unwrap_or(AuthLookup {
        tenant_id: None,
        via_prev: None,
        failures: None,
    }))
}

#[derive(Deserialize)]
struct NRow {
    n: i64,
}

pub async fn auth_failures(db: &D1Database, bucket: &str, minute: i64) -> Result<i64, ApiError> {
    Ok(first::<NRow>(
        db,
        "SELECT n FROM auth_failures WHERE bucket = ?1 AND minute = ?2",
        &[s(bucket), n(minute)],
    )
    .await?
    .map(|r| r.n)
    .unwrap_or(0))
}

/// Atomically counts one failed authentication; returns the window's count including it.
pub async fn record_auth_failure(
    db: &D1Database,
    bucket: &str,
    minute: i64,
) -> Result<i64, ApiError> {
    Ok(first::<NRow>(
        db,
        "INSERT INTO auth_failures (bucket, minute, n) VALUES (?1, ?2, 1)
         ON CONFLICT(bucket, minute) DO UPDATE SET n = n + 1 RETURNING n",
        &[s(bucket), n(minute)],
    )
    .await?
    .map(|r| r.n)
    .unwrap_or(1))
}

/// Rate-limit windows older than `before_minute`.
pub async fn purge_auth_failures(db: &D1Database, before_minute: i64) -> Result<u64, ApiError> {
    run(
        db,
        "DELETE FROM auth_failures WHERE minute < ?1",
        &[n(before_minute)],
    )
    .await
}
