//! What the dashboard reads: recent events with their deliveries, 24 h stats, hourly series.

use serde::Deserialize;
use serde_json::{json, Value};
use worker::D1Database;

use super::{all, first, n, s};
use crate::edge::ApiError;

#[derive(Deserialize)]
struct RecentEventRow {
    event_id: String,
    event_name: String,
    event_time: i64,
    visitor_id: Option<String>,
    url: Option<String>,
    payload: String,
    consent: String,
    received_at: i64,
}

#[derive(Deserialize)]
struct RecentDeliveryRow {
    event_id: String,
    pixel_id: String,
    platform: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    trace_id: Option<String>,
    response: Option<String>,
    updated_at: i64,
}

pub async fn recent_events(
    db: &D1Database,
    tenant_id: &str,
    limit: u32,
) -> Result<Vec<Value>, ApiError> {
    let events: Vec<RecentEventRow> = all(
        db,
        "SELECT event_id, event_name, event_time, visitor_id, url, payload, consent, received_at FROM events
         WHERE tenant_id = ?1 ORDER BY received_at DESC, rowid DESC LIMIT ?2",
        &[s(tenant_id), n(limit as i64)],
    )
    .await?;
    if events.is_empty() {
        return Ok(vec![]);
    }
    let placeholders: Vec<String> = (0..events.len()).map(|i| format!("?{}", i + 2)).collect();
    let mut args = vec![s(tenant_id)];
    args.extend(events.iter().map(|e| s(&e.event_id)));
    let deliveries: Vec<RecentDeliveryRow> = all(
        db,
        &format!(
            "SELECT event_id, pixel_id, platform, status, attempts, last_error, trace_id, response, updated_at FROM deliveries
             WHERE tenant_id = ?1 AND event_id IN ({}) ORDER BY platform, pixel_id",
            placeholders.join(",")
        ),
        &args,
    )
    .await?;
    Ok(events
        .into_iter()
        .map(|e| {
            let payload: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
            let ds: Vec<Value> = deliveries
                .iter()
                .filter(|d| d.event_id == e.event_id)
                .map(|d| {
                    json!({
                        "pixel": d.pixel_id, "platform": d.platform, "status": d.status, "attempts": d.attempts,
                        "last_error": d.last_error, "trace_id": d.trace_id, "response": d.response, "updated_at": d.updated_at,
                    })
                })
                .collect();
            json!({
                "event_id": e.event_id,
                "event_name": e.event_name,
                "event_time": e.event_time,
                "received_at": e.received_at,
                "visitor_id": e.visitor_id,
                "url": e.url,
                "consent": serde_json::from_str::<Value>(&e.consent).unwrap_or(Value::Null),
                "user_data": payload.get("user").cloned().unwrap_or(json!({})),
                "custom_data": payload.get("custom_data").cloned().unwrap_or(json!({})),
                "click_ids": payload.get("click_ids").cloned().unwrap_or(json!({})),
                "deliveries": ds,
            })
        })
        .collect())
}

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
    pub events: i64,
    pub marketing_consented_events: i64,
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
    let ev: CountRow = first(
        db,
        "SELECT count(*) AS n, sum(CASE WHEN json_extract(consent, '$.marketing') THEN 1 ELSE 0 END) AS m
         FROM events WHERE tenant_id = ?1 AND received_at >= ?2",
        &[s(tenant_id), n(since)],
    )
    .await?
    .unwrap_or(CountRow { n: 0, m: None });
    let per_platform: Vec<PlatformStatusRow> = all(
        db,
        "SELECT platform, status, count(*) AS n, max(updated_at) AS last_at FROM deliveries
         WHERE tenant_id = ?1 AND updated_at >= ?2 GROUP BY platform, status",
        &[s(tenant_id), n(since)],
    )
    .await?;
    Ok(StatsRows {
        counters,
        events: ev.n,
        marketing_consented_events: ev.m.unwrap_or(0),
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
        "SELECT (updated_at / 3600) * 3600 AS hour, platform, status, count(*) AS n FROM deliveries
         WHERE tenant_id = ?1 AND updated_at >= ?2 AND status IN ('delivered', 'failed', 'skipped')
         GROUP BY hour, platform, status",
        &[s(tenant_id), n(since)],
    )
    .await?;
    let events = all(
        db,
        "SELECT (received_at / 3600) * 3600 AS hour, count(*) AS n FROM events
         WHERE tenant_id = ?1 AND received_at >= ?2 GROUP BY hour",
        &[s(tenant_id), n(since)],
    )
    .await?;
    Ok((deliveries, events))
}
