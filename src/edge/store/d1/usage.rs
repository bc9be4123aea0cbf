//! Per tenant and hour: writes admitted and requests refused (`core::admission`), added in
//! batches by each isolate; the day's total for the quota, and the refusals for the stats.

use serde::Deserialize;
use worker::D1Database;

use super::{first, n, s, stmt};
use crate::core::admission::{day_of, Flush};
use crate::edge::ApiError;

#[derive(Deserialize)]
struct Total {
    total: Option<i64>,
}

const DAY_TOTAL: &str =
    "SELECT SUM(writes) AS total FROM tenant_usage WHERE tenant_id = ?1 AND hour >= ?2 AND hour < ?2 + 86400";

/// Adds `flush` to the tenant's row of its hour, and answers the tenant's writes on the day of
/// `now` (one round trip).
pub async fn add_usage(
    db: &D1Database,
    tenant_id: &str,
    flush: &Flush,
    now: i64,
) -> Result<u64, ApiError> {
    let c = &flush.counts;
    let add = stmt(
        db,
        "INSERT INTO tenant_usage (tenant_id, hour, writes, rate_limited, over_quota) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, hour) DO UPDATE SET writes = writes + excluded.writes,
           rate_limited = rate_limited + excluded.rate_limited, over_quota = over_quota + excluded.over_quota",
        &[s(tenant_id), n(flush.hour), n(c.writes as i64), n(c.rate_limited as i64), n(c.over_quota as i64)],
    )?;
    let total = stmt(db, DAY_TOTAL, &[s(tenant_id), n(day_of(now))])?;
    let results = db
        .batch(vec![add, total])
        .await
        .map_err(|e| ApiError::internal("D1 batch", e))?;
    let row: Option<Total> = results
        .get(1)
        .and_then(|r| r.results::<Total>().ok())
        .and_then(|mut rows| rows.pop());
    Ok(row.and_then(|r| r.total).unwrap_or(0).max(0) as u64)
}

/// The tenant's writes on the day of `now`.
pub async fn usage_today(db: &D1Database, tenant_id: &str, now: i64) -> Result<u64, ApiError> {
    let row: Option<Total> = first(db, DAY_TOTAL, &[s(tenant_id), n(day_of(now))]).await?;
    Ok(row.and_then(|r| r.total).unwrap_or(0).max(0) as u64)
}

#[derive(Deserialize, Default)]
pub struct Refusals {
    pub rate_limited: Option<i64>,
    pub over_quota: Option<i64>,
}

/// Requests refused by the rate limits and by the quota since `since` (by hour).
#[cfg(feature = "jobs")]
pub async fn refusals_since(
    db: &D1Database,
    tenant_id: &str,
    since: i64,
) -> Result<Refusals, ApiError> {
    Ok(first(
        db,
        "SELECT SUM(rate_limited) AS rate_limited, SUM(over_quota) AS over_quota FROM tenant_usage
         WHERE tenant_id = ?1 AND hour >= ?2",
        &[s(tenant_id), n(since - since.rem_euclid(3600))],
    )
    .await?
    .unwrap_or_default())
}
