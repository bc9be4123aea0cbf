//! The bearer key lookup: the tenant of a key hash, and which key it is: the api key (admin
//! scope) or the ingest key (ingest scope), current or the previous one during a rotation's grace
//! period. (The failed-authentication counters are not here: `edge::auth` keeps them in the
//! isolate and KV.)

use serde::Deserialize;
use worker::D1Database;

use super::{first, n, s};
use crate::core::access::Scope;
use crate::edge::ApiError;

#[derive(Deserialize)]
struct KeyRow {
    tenant_id: String,
    /// 0 the api key, 1 the previous api key, 2 the ingest key, 3 the previous ingest key.
    which: i64,
}

pub struct KeyOwner {
    pub tenant_id: String,
    /// The key matched only the previous (rotated-out, still in grace) key of its kind.
    pub via_prev: bool,
    pub scope: Scope,
}

/// The tenant of a key hash, with the key's scope (current keys, or previous ones while their
/// grace period lasts).
pub async fn key_owner(
    db: &D1Database,
    hash: &str,
    now: i64,
) -> Result<Option<KeyOwner>, ApiError> {
    let row: Option<KeyRow> = first(
        db,
        "SELECT id AS tenant_id,
           CASE WHEN api_key_hash = ?1 THEN 0 WHEN api_key_hash_prev = ?1 THEN 1
                WHEN ingest_key_hash = ?1 THEN 2 ELSE 3 END AS which
         FROM tenants
         WHERE api_key_hash = ?1 OR (api_key_hash_prev = ?1 AND api_key_prev_expires_at > ?2)
            OR ingest_key_hash = ?1 OR (ingest_key_hash_prev = ?1 AND ingest_key_prev_expires_at > ?2)
         LIMIT 1",
        &[s(hash), n(now)],
    )
    .await?;
    Ok(row.map(|r| KeyOwner {
        tenant_id: r.tenant_id,
        via_prev: r.which % 2 == 1,
        scope: if r.which < 2 {
            Scope::Admin
        } else {
            Scope::Ingest
        },
    }))
}
