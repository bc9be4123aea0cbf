//! What the dashboard reads from D1: the 24 h stats and hourly series from the rollups the event
//! shards add to (recent events come from the shards themselves).

use serde::Deserialize;
use worker::D1Database;

use super::{all, first, n, s};
use crate::core::consent::ERASED_VERSION;
use crate::edge::ApiError;

#[derive(Deserialize, Default)]
pub struct CounterTotals {
    pub received: Option<i64>,
    pub accepted: Option<i64>,
    pub duplicates: Option<i64>,
    pub rejected: Option<i64>,
}

#[derive(Deserialize)]
pub struct PlatformStatusRow {
    pub platform: String,
    pub status: String,
    pub n: i64,
    pub last_at: Option<i64>,
}

#[derive(Deserialize)]
pub struct CountRow {
    pub n: i64,
    pub m: Option<i64>,
}

pub struct StatsRows {
    pub counters: CounterTotals,
    /// Visitors whose latest choice was made in the window, and those of them with marketing
    /// consent. An erased visitor made no choice: its erasure record is not counted.
    pub visitors: i64,
    pub marketing_visitors: i64,
    pub per_platform: Vec<PlatformStatusRow>,
}

pub async fn stats(db: &D1Database, tenant_id: &str, since: i64) -> Result<StatsRows, ApiError> {
    let counters: CounterTotals = first(
        db,
        "SELECT sum(received) AS received, sum(accepted) AS accepted, sum(duplicates) AS duplicates, sum(rejected) AS rejected
         FROM intake_counters WHERE tenant_id = ?1 AND hour >= ?2",
        &[s(tenant_id), n(since - since % 3600)],
    )
    .await?
    .unwrap_or_default();
    let visitors: CountRow = first(
        db,
        "SELECT count(*) AS n, sum(c.marketing) AS m FROM consent_records c
         WHERE c.tenant_id = ?1 AND c.created_at >= ?2 AND c.version != ?3
           AND c.id = (SELECT max(id) FROM consent_records WHERE tenant_id = ?1 AND visitor_id = c.visitor_id)",
        &[s(tenant_id), n(since), s(ERASED_VERSION)],
    )
    .await?
    .unwrap_or(CountRow { n: 0, m: None });
    let per_platform: Vec<PlatformStatusRow> = all(
        db,
        "SELECT platform, status, sum(n) AS n, max(last_at) AS last_at FROM delivery_counters
         WHERE tenant_id = ?1 AND hour >= ?2 GROUP BY platform, status",
        &[s(tenant_id), n(since - since % 3600)],
    )
    .await?;
    Ok(StatsRows {
        counters,
        visitors: visitors.n,
        marketing_visitors: visitors.m.unwrap_or(0),
        per_platform,
    })
}

#[derive(Deserialize)]
pub struct HourlyRow {
    pub hour: i64,
    pub platform: String,
    pub status: String,
    pub n: i64,
}

#[derive(Deserialize)]
pub struct HourlyEventsRow {
    pub hour: i64,
    pub n: i64,
}

/// Final delivery states per hour and platform, and events received per hour, since `since`.
pub async fn hourly(
    db: &D1Database,
    tenant_id: &str,
    since: i64,
) -> Result<(Vec<HourlyRow>, Vec<HourlyEventsRow>), ApiError> {
    let deliveries = all(
        db,
        "SELECT hour, platform, status, n FROM delivery_counters
         WHERE tenant_id = ?1 AND hour >= ?2 AND status IN ('delivered', 'failed', 'skipped')",
        &[s(tenant_id), n(since)],
    )
    .await?;
    let events = all(
        db,
        "SELECT hour, accepted AS n FROM intake_counters WHERE tenant_id = ?1 AND hour >= ?2",
        &[s(tenant_id), n(since)],
    )
    .await?;
    Ok((deliveries, events))
}
