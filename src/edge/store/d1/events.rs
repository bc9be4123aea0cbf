//! Events and their deliveries, written by the queue consumer in bulk, the intake counters, and
//! the retention purge.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use super::{all, n, run, s, stmt};
use crate::core::event::{AssertedConsent, Event};
use crate::core::fanout::{DeliveryStatus, IntakeCounters, RouteRecord};
use crate::core::platform::Platform;
use crate::edge::ApiError;

/// D1 writes many rows in one statement: the rows travel as one JSON array parameter that
/// `json_each` unpacks (`value ->> N` is column N of a row). Each statement costs a prepare, a
/// bind and a result in D1 whatever its rows, so a consumer batch writes each table once. A
/// parameter may hold 2 MB; arrays stay under 1 MB (an event payload is at most 64 KB).
const MAX_ROWS_PARAM_BYTES: usize = 1_000_000;

/// The statements writing `rows` (JSON arrays, one per row) with `sql`, whose `?1` is the array.
fn rows_stmts(
    db: &D1Database,
    sql: &str,
    rows: &[String],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let sizes: Vec<usize> = rows.iter().map(|r| r.len() + 1).collect();
    crate::core::fanout::consecutive_groups(&sizes, usize::MAX, MAX_ROWS_PARAM_BYTES)
        .into_iter()
        .map(|group| {
            let rows = &rows[group];
            let mut array =
                String::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 1);
            array.push('[');
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    array.push(',');
                }
                array.push_str(row);
            }
            array.push(']');
            stmt(db, sql, &[s(&array)])
        })
        .collect()
}

fn row<T: serde::Serialize>(columns: &T) -> Result<String, ApiError> {
    serde_json::to_string(columns).map_err(|e| ApiError::internal("D1 row encode", e))
}

/// An accepted event (hashed PII only). The IP lives in its own column so the 30-day purge can
/// drop it; the payload never has it.
pub fn event_row(
    tenant_id: &str,
    event: &Event,
    consent: AssertedConsent,
    received_at: i64,
) -> Result<String, ApiError> {
    let mut stored = event.clone();
    let ip = stored.client.ip.take();
    let payload =
        serde_json::to_string(&stored).map_err(|e| ApiError::internal("event encode", e))?;
    let consent =
        serde_json::to_string(&consent).map_err(|e| ApiError::internal("consent encode", e))?;
    row(&(
        tenant_id,
        &event.event_id,
        event.display_name(),
        event.event_time,
        event.visitor_id.as_deref(),
        event.url.as_deref(),
        payload,
        ip.as_deref(),
        consent,
        received_at,
    ))
}

pub fn insert_events_stmts(
    db: &D1Database,
    rows: &[String],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    rows_stmts(
        db,
        "INSERT OR IGNORE INTO events (tenant_id, event_id, event_name, event_time, visitor_id, url, payload, ip, consent, received_at)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9
         FROM json_each(?1)",
        rows,
    )
}

/// An event's initial per-destination row.
pub fn route_row(
    tenant_id: &str,
    event_id: &str,
    r: &RouteRecord,
    now: i64,
) -> Result<String, ApiError> {
    row(&(
        tenant_id,
        event_id,
        &r.pixel,
        r.platform.as_str(),
        r.status.as_str(),
        r.reason.as_deref(),
        now,
    ))
}

/// Initial rows; a later status from the consumer must win, so conflicts are ignored.
pub fn insert_routes_stmts(
    db: &D1Database,
    rows: &[String],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    rows_stmts(
        db,
        "INSERT OR IGNORE INTO deliveries (tenant_id, event_id, pixel_id, platform, status, attempts, last_error, updated_at)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 0, value ->> 5, value ->> 6
         FROM json_each(?1)",
        rows,
    )
}

pub struct DeliveryUpdate<'a> {
    pub tenant_id: &'a str,
    pub event_id: &'a str,
    pub pixel: &'a str,
    pub platform: Platform,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub last_error: Option<&'a str>,
    pub trace_id: Option<&'a str>,
    pub response: Option<&'a str>,
}

/// A delivered row never goes back to another status (queue redelivery is at-least-once). Rows
/// apply in order, as separate statements would.
pub fn upsert_deliveries_stmts(
    db: &D1Database,
    updates: &[DeliveryUpdate<'_>],
    now: i64,
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let rows = updates
        .iter()
        .map(|u| {
            row(&(
                u.tenant_id,
                u.event_id,
                u.pixel,
                u.platform.as_str(),
                u.status.as_str(),
                u.attempts,
                u.last_error,
                u.trace_id,
                u.response,
                now,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    rows_stmts(
        db,
        "INSERT INTO deliveries (tenant_id, event_id, pixel_id, platform, status, attempts, last_error, trace_id, response, updated_at)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9
         FROM json_each(?1) WHERE true
         ON CONFLICT(tenant_id, event_id, pixel_id) DO UPDATE SET status = excluded.status,
           attempts = max(deliveries.attempts, excluded.attempts), last_error = excluded.last_error,
           trace_id = coalesce(excluded.trace_id, deliveries.trace_id), response = coalesce(excluded.response, deliveries.response),
           updated_at = excluded.updated_at
         WHERE deliveries.status != 'delivered'",
        &rows,
    )
}

/// A dead-lettered delivery ends `failed` unless it was delivered meanwhile, or a replay took the
/// row over: the dead-letter queue is read seconds after a failure, so its letter can be older
/// than a replay, and marking the replay's row failed would let another replay send it while it
/// is in flight (or turn its final skip into a failure). The letter's send time is not passed
/// here, so a replayed job that crashes the consumer three times keeps its last status.
pub fn dead_letter_stmt(
    db: &D1Database,
    tenant_id: &str,
    event_id: &str,
    pixel: &str,
    sent_at: i64,
    now: i64,
) -> Result<D1PreparedStatement, ApiError> {
    // A replay newer than the letter owns the row (it may be in flight, or skipped for consent).
    stmt(
        db,
        "UPDATE deliveries SET status = 'failed', last_error = coalesce(last_error, 'dead-lettered'), updated_at = ?4
         WHERE tenant_id = ?1 AND event_id = ?2 AND pixel_id = ?3 AND status NOT IN ('delivered', 'failed')
           AND (replayed_at IS NULL OR replayed_at < ?5)",
        &[s(tenant_id), s(event_id), s(pixel), n(now), n(sent_at)],
    )
}

#[derive(Deserialize)]
struct DeliveredRow {
    event_id: String,
    pixel_id: String,
}

/// Which of these (event, pixel) pairs are already delivered, so a redelivered message is a no-op.
pub async fn already_delivered(
    db: &D1Database,
    tenant_id: &str,
    pairs: &[(String, String)],
) -> Result<std::collections::HashSet<(String, String)>, ApiError> {
    let mut out = std::collections::HashSet::new();
    for chunk in pairs.chunks(40) {
        let placeholders: Vec<String> = (0..chunk.len())
            .map(|i| format!("(?{}, ?{})", i * 2 + 2, i * 2 + 3))
            .collect();
        let mut args = vec![s(tenant_id)];
        for (e, p) in chunk {
            args.push(s(e));
            args.push(s(p));
        }
        let rows: Vec<DeliveredRow> = all(
            db,
            &format!(
                "SELECT event_id, pixel_id FROM deliveries WHERE tenant_id = ?1 AND status = 'delivered' AND (event_id, pixel_id) IN (VALUES {})",
                placeholders.join(", ")
            ),
            &args,
        )
        .await?;
        out.extend(rows.into_iter().map(|r| (r.event_id, r.pixel_id)));
    }
    Ok(out)
}

pub fn counters_stmt(db: &D1Database, c: &IntakeCounters) -> Result<D1PreparedStatement, ApiError> {
    stmt(
        db,
        "INSERT INTO intake_counters (tenant_id, hour, received, accepted, duplicates, rejected) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT(tenant_id, hour) DO UPDATE SET received = received + excluded.received, accepted = accepted + excluded.accepted,
           duplicates = duplicates + excluded.duplicates, rejected = rejected + excluded.rejected",
        &[s(&c.tenant_id), n(c.hour), n(c.received as i64), n(c.accepted as i64), n(c.duplicates as i64), n(c.rejected as i64)],
    )
}

/// Drops IPs older than 30 days and whole events past each tenant's retention.
pub async fn purge(db: &D1Database, now: i64) -> Result<(u64, u64), ApiError> {
    let ip_cutoff = crate::core::retention::ip_cutoff(now);
    let ips = run(
        db,
        "UPDATE events SET ip = NULL WHERE ip IS NOT NULL AND received_at < ?1",
        &[n(ip_cutoff)],
    )
    .await?;
    run(
        db,
        "UPDATE consent_records SET ip = NULL WHERE ip IS NOT NULL AND created_at < ?1",
        &[n(ip_cutoff)],
    )
    .await?;
    run(
        db,
        "DELETE FROM deliveries WHERE rowid IN (SELECT d.rowid FROM deliveries d JOIN tenants t ON t.id = d.tenant_id
           WHERE d.updated_at < ?1 - t.retention_days * 86400)",
        &[n(now)],
    )
    .await?;
    let events = run(
        db,
        "DELETE FROM events WHERE rowid IN (SELECT e.rowid FROM events e JOIN tenants t ON t.id = e.tenant_id
           WHERE e.received_at < ?1 - t.retention_days * 86400)",
        &[n(now)],
    )
    .await?;
    run(
        db,
        "DELETE FROM intake_counters WHERE hour < ?1",
        &[n(now - 400 * 86400)],
    )
    .await?;
    Ok((ips, events))
}
