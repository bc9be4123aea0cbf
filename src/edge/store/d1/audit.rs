//! The delivery log read as an audit trail (one event with its deliveries, the keyset listing)
//! and written by a replay (claiming rows back to `queued`, recording what it did not re-drive).
//! A row's `rowid` is its position in the log: it never changes, so pages never shift.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::D1Database;

use super::{all, first, n, run, s};
use crate::core::audit::ListQuery;
use crate::edge::ApiError;

#[derive(Deserialize)]
pub struct EventRow {
    pub event_id: String,
    pub event_name: String,
    pub event_time: i64,
    pub visitor_id: Option<String>,
    pub url: Option<String>,
    pub payload: String,
    pub ip: Option<String>,
    pub consent: String,
    pub received_at: i64,
}

#[derive(Deserialize)]
pub struct DeliveryRow {
    pub seq: i64,
    pub event_id: String,
    /// Our pixel id.
    pub pixel_id: String,
    pub platform: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub trace_id: Option<String>,
    pub response: Option<String>,
    pub updated_at: i64,
    pub replays: i64,
    pub replayed_at: Option<i64>,
    /// Listing rows only (from the event's row, when it is still stored).
    #[serde(default)]
    pub event_name: Option<String>,
}

const DELIVERY_COLUMNS: &str = "d.rowid AS seq, d.event_id, d.pixel_id, d.platform, d.status, d.attempts, d.last_error, d.trace_id, d.response, d.updated_at, d.replays, d.replayed_at";

/// The tenant's event (None when it has none by this id).
pub async fn event(
    db: &D1Database,
    tenant_id: &str,
    event_id: &str,
) -> Result<Option<EventRow>, ApiError> {
    first(
        db,
        "SELECT event_id, event_name, event_time, visitor_id, url, payload, ip, consent, received_at FROM events
         WHERE tenant_id = ?1 AND event_id = ?2",
        &[s(tenant_id), s(event_id)],
    )
    .await
}

/// Event payloads are up to 64 KB: read a bounded number per query.
const EVENTS_PER_READ: usize = 50;

/// The tenant's stored events among `event_ids`.
pub async fn events(
    db: &D1Database,
    tenant_id: &str,
    event_ids: &[&str],
) -> Result<Vec<EventRow>, ApiError> {
    let mut out = Vec::with_capacity(event_ids.len());
    for chunk in event_ids.chunks(EVENTS_PER_READ) {
        out.extend(
            all::<EventRow>(
                db,
                "SELECT event_id, event_name, event_time, visitor_id, url, payload, ip, consent, received_at FROM events
                 WHERE tenant_id = ?1 AND event_id IN (SELECT value FROM json_each(?2))",
                &[s(tenant_id), json_param(&chunk)?],
            )
            .await?,
        );
    }
    Ok(out)
}

/// Every delivery row of the tenant's `event_ids`, oldest first.
pub async fn deliveries_of(
    db: &D1Database,
    tenant_id: &str,
    event_ids: &[String],
) -> Result<Vec<DeliveryRow>, ApiError> {
    all(
        db,
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d
             WHERE d.tenant_id = ?1 AND d.event_id IN (SELECT value FROM json_each(?2)) ORDER BY d.rowid"
        ),
        &[s(tenant_id), json_param(&event_ids)?],
    )
    .await
}

/// One page of the listing, newest first, with one row more than `q.limit` when there is a next
/// page.
pub async fn list(
    db: &D1Database,
    tenant_id: &str,
    q: &ListQuery,
) -> Result<Vec<DeliveryRow>, ApiError> {
    let mut sql = format!(
        "SELECT {DELIVERY_COLUMNS}, e.event_name FROM deliveries d
         LEFT JOIN events e ON e.tenant_id = d.tenant_id AND e.event_id = d.event_id
         WHERE d.tenant_id = ?1"
    );
    let mut args = vec![s(tenant_id)];
    let mut bind = |sql: &mut String, cond: &str, v: JsValue| {
        args.push(v);
        sql.push_str(&format!(" AND {cond} ?{}", args.len()));
    };
    if let Some(status) = q.status {
        bind(&mut sql, "d.status =", s(status));
    }
    if let Some(pixel) = &q.pixel_id {
        bind(&mut sql, "d.pixel_id =", s(pixel));
    }
    if let Some(before) = q.before {
        bind(&mut sql, "d.rowid <", n(before));
    }
    args.push(n(q.limit as i64 + 1));
    sql.push_str(&format!(" ORDER BY d.rowid DESC LIMIT ?{}", args.len()));
    all(db, &sql, &args).await
}

/// The tenant's oldest failed deliveries (of one pixel), at most `limit`.
pub async fn failed(
    db: &D1Database,
    tenant_id: &str,
    pixel: Option<&str>,
    limit: usize,
) -> Result<Vec<DeliveryRow>, ApiError> {
    let by_pixel = if pixel.is_some() {
        " AND d.pixel_id = ?3"
    } else {
        ""
    };
    let mut args = vec![s(tenant_id), n(limit as i64)];
    args.extend(pixel.map(s));
    all(
        db,
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d
             WHERE d.tenant_id = ?1 AND d.status = 'failed'{by_pixel} ORDER BY d.rowid LIMIT ?2"
        ),
        &args,
    )
    .await
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// How many of the tenant's deliveries (of one pixel) are failed.
pub async fn count_failed(
    db: &D1Database,
    tenant_id: &str,
    pixel: Option<&str>,
) -> Result<u64, ApiError> {
    let by_pixel = if pixel.is_some() {
        " AND pixel_id = ?2"
    } else {
        ""
    };
    let mut args = vec![s(tenant_id)];
    args.extend(pixel.map(s));
    let c: Option<Count> = first(
        db,
        &format!("SELECT count(*) AS n FROM deliveries WHERE tenant_id = ?1 AND status = 'failed'{by_pixel}"),
        &args,
    )
    .await?;
    Ok(c.map_or(0, |c| c.n.max(0) as u64))
}

#[derive(Deserialize)]
pub struct Claimed {
    pub event_id: String,
    pub pixel_id: String,
}

/// Rows per claim or settle statement (a JSON array parameter stays well under D1's 1 MB).
const PAIRS_PER_WRITE: usize = 500;

/// Takes `(event_id, pixel_id)` rows that are still failed or skipped back to `queued` (attempts
/// start over, the replay is counted) and returns those it took: a row two replays race for is
/// taken by one of them, so it is re-driven once.
pub async fn claim(
    db: &D1Database,
    tenant_id: &str,
    pairs: &[(&str, &str)],
    now: i64,
) -> Result<Vec<Claimed>, ApiError> {
    let mut out = Vec::with_capacity(pairs.len());
    for chunk in pairs.chunks(PAIRS_PER_WRITE) {
        out.extend(
            all::<Claimed>(
                db,
                "UPDATE deliveries SET status = 'queued', attempts = 0, replays = replays + 1, replayed_at = ?3, updated_at = ?3
                 WHERE tenant_id = ?1 AND status IN ('failed', 'skipped')
                   AND (event_id, pixel_id) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?2))
                 RETURNING event_id, pixel_id",
                &[s(tenant_id), json_param(&chunk)?, n(now)],
            )
            .await?,
        );
    }
    Ok(out)
}

/// Gives claimed rows whose messages the Queue did not take back their status and attempts before
/// the replay (`(event_id, pixel_id, status, attempts)`), unless the consumer wrote them meanwhile.
pub async fn unclaim(
    db: &D1Database,
    tenant_id: &str,
    rows: &[(&str, &str, &str, i64)],
    claimed_at: i64,
) -> Result<(), ApiError> {
    for chunk in rows.chunks(PAIRS_PER_WRITE) {
        run(
            db,
            "UPDATE deliveries SET status = j.value ->> 2, attempts = j.value ->> 3, replays = replays - 1, updated_at = ?3
             FROM json_each(?2) AS j
             WHERE deliveries.tenant_id = ?1 AND deliveries.event_id = j.value ->> 0 AND deliveries.pixel_id = j.value ->> 1
               AND deliveries.status = 'queued' AND deliveries.replayed_at = ?3",
            &[s(tenant_id), json_param(&chunk)?, n(claimed_at)],
        )
        .await?;
    }
    Ok(())
}

/// Records on failed rows that a replay will not re-drive them (`(event_id, pixel_id, reason)`):
/// they become skipped with the reason, as the consumer skips a job whose pixel is gone.
pub async fn settle_not_replayed(
    db: &D1Database,
    tenant_id: &str,
    rows: &[(&str, &str, String)],
    now: i64,
) -> Result<(), ApiError> {
    for chunk in rows.chunks(PAIRS_PER_WRITE) {
        run(
            db,
            "UPDATE deliveries SET status = 'skipped', last_error = j.value ->> 2, updated_at = ?3
             FROM json_each(?2) AS j
             WHERE deliveries.tenant_id = ?1 AND deliveries.event_id = j.value ->> 0 AND deliveries.pixel_id = j.value ->> 1
               AND deliveries.status = 'failed'",
            &[s(tenant_id), json_param(&chunk)?, n(now)],
        )
        .await?;
    }
    Ok(())
}

fn json_param<T: serde::Serialize + ?Sized>(v: &T) -> Result<JsValue, ApiError> {
    serde_json::to_string(v)
        .map(|j| s(&j))
        .map_err(|e| ApiError::internal("D1 parameter encode", e))
}
