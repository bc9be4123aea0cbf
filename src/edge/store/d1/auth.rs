//! The api key lookup: the tenant of a key hash, current key or the previous one during a
//! rotation's grace period. (The failed-authentication counters are not here: `edge::auth` keeps
//! them in the isolate and KV.)

use serde::Deserialize;
use worker::D1Database;

use super::{first, n, s};
use crate::edge::ApiError;

#[derive(Deserialize)]
pub struct KeyOwner {
    pub tenant_id: String,
    /// 1 when the key matched only the previous (rotated-out, still in grace) key.
    pub via_prev: i64,
}

/// The tenant of an api key hash (current key, or the previous one while its grace period lasts).
pub async fn api_key_tenant(
    db: &D1Database,
    hash: &str,
    now: i64,
) -> Result<Option<KeyOwner>, ApiError> {
    first::<KeyOwner>(
        db,
        "SELECT id AS tenant_id, api_key_hash != ?1 AS via_prev FROM tenants
         WHERE api_key_hash = ?1 OR (api_key_hash_prev = ?1 AND api_key_prev_expires_at > ?2) LIMIT 1",
        &[s(hash), n(now)],
    )
    .await
}
