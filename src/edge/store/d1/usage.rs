//! Per tenant and UTC day: writes admitted and requests refused (`core::admission`), added in
//! batches by each isolate: one upsert that answers the day's writes (the quota's count); the
//! refusals for the stats.

use worker::D1Database;

use super::{n, s, stmt};
use crate::core::admission::Flush;
use crate::edge::ApiError;

/// One column of the first row, as a number (0 without a row): the beacon reads the day's
/// writes so, without a row type's decoder.
async fn number(
    db: &D1Database,
    sql: &str,
    args: &[wasm_bindgen::JsValue],
    column: &str,
) -> Result<i64, ApiError> {
    let v: Option<f64> = stmt(db, sql, args)?
        .first(Some(column))
        .await
        .map_err(|e| ApiError::internal("D1 query", e))?;
    Ok(v.unwrap_or(0.0) as i64)
}

/// Adds `flush` to the tenant's row of its day; answers the day's writes as they now are.
pub async fn add_usage(db: &D1Database, tenant_id: &str, flush: &Flush) -> Result<i64, ApiError> {
    let c = &flush.counts;
    number(
        db,
        "INSERT INTO tenant_usage (tenant_id, day, writes, rate_limited, over_quota) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, day) DO UPDATE SET writes = writes + excluded.writes,
           rate_limited = rate_limited + excluded.rate_limited, over_quota = over_quota + excluded.over_quota
         RETURNING writes",
        &[s(tenant_id), n(flush.day), n(c.writes as i64), n(c.rate_limited as i64), n(c.over_quota as i64)],
        "writes",
    )
    .await
}

/// The tenant's writes on `day`.
pub async fn writes_of_day(db: &D1Database, tenant_id: &str, day: i64) -> Result<i64, ApiError> {
    number(
        db,
        "SELECT writes FROM tenant_usage WHERE tenant_id = ?1 AND day = ?2",
        &[s(tenant_id), n(day)],
        "writes",
    )
    .await
}

/// A tenant's row of one day.
#[cfg(feature = "jobs")]
#[derive(serde::Deserialize, Default)]
pub struct DayUsage {
    pub writes: i64,
    pub rate_limited: i64,
    pub over_quota: i64,
}

/// The tenant's row of `day` (zeros when it has none).
#[cfg(feature = "jobs")]
pub async fn usage_of_day(
    db: &D1Database,
    tenant_id: &str,
    day: i64,
) -> Result<DayUsage, ApiError> {
    Ok(super::first(
        db,
        "SELECT writes, rate_limited, over_quota FROM tenant_usage WHERE tenant_id = ?1 AND day = ?2",
        &[s(tenant_id), n(day)],
    )
    .await?
    .unwrap_or_default())
}
