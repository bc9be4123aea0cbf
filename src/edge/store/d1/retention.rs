//! The retention rules of the tables beyond events and their deliveries (`core::retention` has
//! the periods and why): consent evidence, the erasure audit, OAuth flows, the ads tables, the
//! notification log and the usage counters. Large deletes go in slices, so no statement holds the
//! database long.

use worker::D1Database;

use super::{n, run, s};
use crate::core::retention::Cutoffs;
use crate::edge::ApiError;

/// Rows deleted per statement; a table is sliced until a statement deletes fewer.
const SLICE: i64 = 5_000;
/// At most this many slices per table per run (the next run continues).
const MAX_SLICES: usize = 40;

/// What a run deleted, by table.
#[derive(Debug, Default, serde::Serialize)]
pub struct Purged {
    pub consent_records: u64,
    pub erasure_audit: u64,
    pub ads_oauth_states: u64,
    pub ads_alerts: u64,
    pub ads_daily_metrics: u64,
    pub ads_campaigns: u64,
    pub ads_audience_members: u64,
    pub tenant_usage: u64,
}

async fn sliced(
    db: &D1Database,
    sql: &str,
    args: &[wasm_bindgen::JsValue],
) -> Result<u64, ApiError> {
    let mut total = 0;
    for _ in 0..MAX_SLICES {
        let deleted = run(db, sql, args).await?;
        total += deleted;
        if (deleted as i64) < SLICE {
            break;
        }
    }
    Ok(total)
}

pub async fn purge_aged(db: &D1Database, c: &Cutoffs) -> Result<Purged, ApiError> {
    let slice = n(SLICE);
    Ok(Purged {
        // Every record of a visitor whose latest choice is older than the consent retention.
        consent_records: sliced(
            db,
            "DELETE FROM consent_records WHERE id IN (
               SELECT c.id FROM consent_records c WHERE c.created_at < ?1
                 AND NOT EXISTS (SELECT 1 FROM consent_records l WHERE l.tenant_id = c.tenant_id
                                   AND l.visitor_id = c.visitor_id AND l.created_at >= ?1)
               LIMIT ?2)",
            &[n(c.consent), slice.clone()],
        )
        .await?,
        erasure_audit: sliced(
            db,
            "DELETE FROM erasure_audit WHERE id IN (SELECT id FROM erasure_audit WHERE erased_at < ?1 LIMIT ?2)",
            &[n(c.erasure_audit), slice.clone()],
        )
        .await?,
        ads_oauth_states: run(
            db,
            "DELETE FROM ads_oauth_states WHERE expires_at < ?1",
            &[n(c.oauth_states)],
        )
        .await?,
        ads_alerts: sliced(
            db,
            "DELETE FROM ads_alerts WHERE id IN (SELECT id FROM ads_alerts WHERE created_at < ?1 LIMIT ?2)",
            &[n(c.notifications), slice.clone()],
        )
        .await?,
        ads_daily_metrics: sliced(
            db,
            "DELETE FROM ads_daily_metrics WHERE rowid IN (SELECT rowid FROM ads_daily_metrics WHERE date < ?1 LIMIT ?2)",
            &[s(&c.ads_metrics_date), slice.clone()],
        )
        .await?,
        ads_campaigns: run(
            db,
            "DELETE FROM ads_campaigns WHERE updated_at < ?1",
            &[n(c.ads_campaigns)],
        )
        .await?,
        ads_audience_members: sliced(
            db,
            "DELETE FROM ads_audience_members WHERE rowid IN (
               SELECT m.rowid FROM ads_audience_members m
               WHERE NOT EXISTS (SELECT 1 FROM ads_audiences a WHERE a.id = m.audience_id) LIMIT ?1)",
            &[slice.clone()],
        )
        .await?,
        tenant_usage: sliced(
            db,
            "DELETE FROM tenant_usage WHERE (tenant_id, hour) IN (SELECT tenant_id, hour FROM tenant_usage WHERE hour < ?1 LIMIT ?2)",
            &[n(c.usage), slice],
        )
        .await?,
    })
}
