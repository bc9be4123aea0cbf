//! D1: tenants, pixels, consent records, events (hashed PII only), delivery log, counters.
//! Every query that reads tenant data is scoped by tenant_id.

use serde::Deserialize;
use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::core::consent::{ConsentPolicy, ConsentState};
use crate::core::event::{AssertedConsent, Event};
use crate::core::fanout::{DeliveryStatus, IntakeCounters, PixelRoute, RouteRecord};
use crate::core::mapping::Platform;
use crate::core::tenant::TenantConfig;
use crate::edge::ApiError;

pub fn db(env: &Env) -> Result<D1Database, ApiError> {
    env.d1("DB")
        .map_err(|e| ApiError::internal("D1 binding", e))
}

pub(crate) fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

pub(crate) fn n(v: i64) -> JsValue {
    JsValue::from_f64(v as f64)
}

pub(crate) fn opt(v: Option<&str>) -> JsValue {
    v.map(JsValue::from_str).unwrap_or(JsValue::NULL)
}

pub(crate) fn stmt(
    db: &D1Database,
    sql: &str,
    args: &[JsValue],
) -> Result<D1PreparedStatement, ApiError> {
    db.prepare(sql)
        .bind(args)
        .map_err(|e| ApiError::internal("D1 bind", e))
}

pub(crate) async fn all<T: for<'de> Deserialize<'de>>(
    db: &D1Database,
    sql: &str,
    args: &[JsValue],
) -> Result<Vec<T>, ApiError> {
    stmt(db, sql, args)?
        .all()
        .await
        .map_err(|e| ApiError::internal("D1 query", e))?
        .results()
        .map_err(|e| ApiError::internal("D1 decode", e))
}

pub(crate) async fn first<T: for<'de> Deserialize<'de>>(
    db: &D1Database,
    sql: &str,
    args: &[JsValue],
) -> Result<Option<T>, ApiError> {
    stmt(db, sql, args)?
        .first(None)
        .await
        .map_err(|e| ApiError::internal("D1 query", e))
}

pub(crate) async fn run(db: &D1Database, sql: &str, args: &[JsValue]) -> Result<u64, ApiError> {
    let r = stmt(db, sql, args)?
        .run()
        .await
        .map_err(|e| ApiError::internal("D1 write", e))?;
    Ok(r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) as u64)
}

/// Runs statements in D1 batches of at most 100 (each batch is one transaction and one round trip).
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<(), ApiError> {
    let mut rest = statements;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(100));
        db.batch(rest)
            .await
            .map_err(|e| ApiError::internal("D1 batch", e))?;
        rest = tail;
    }
    Ok(())
}

// ---------------------------------------------------------------- tenants

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

#[derive(Deserialize)]
struct SiteKeyRow {
    site_key: String,
}

pub async fn create_tenant(
    db: &D1Database,
    id: &str,
    name: &str,
    domains: &[String],
    site_key: &str,
    api_key_hash: &str,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO tenants (id, name, domains, site_key, api_key_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        &[s(id), s(name), s(&json!(domains).to_string()), s(site_key), s(api_key_hash), n(now)],
    )
    .await
    .map(|_| ())
}

/// Api key lookups (current key, or the previous one during a rotation's grace period) are
/// `auth_lookup` below.
pub async fn tenant_id_by_site_key(
    db: &D1Database,
    site_key: &str,
) -> Result<Option<String>, ApiError> {
    Ok(first::<IdRow>(
        db,
        "SELECT id FROM tenants WHERE site_key = ?1",
        &[s(site_key)],
    )
    .await?
    .map(|r| r.id))
}

pub async fn site_key_of(db: &D1Database, tenant_id: &str) -> Result<String, ApiError> {
    first::<SiteKeyRow>(
        db,
        "SELECT site_key FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .map(|r| r.site_key)
    .ok_or_else(|| ApiError::new(404, "not_found", "tenant not found"))
}

#[derive(Deserialize)]
struct TenantCfgRow {
    domains: String,
    consent_policy: String,
}

#[derive(Deserialize)]
pub struct PixelRow {
    pub id: String,
    pub platform: String,
    pub pixel_id: String,
    pub access_token_enc: Option<String>,
    pub api_secret_enc: Option<String>,
    pub is_active: i64,
    pub server_side_enabled: i64,
    pub test_event_code: Option<String>,
    pub domains: String,
    pub event_names: String,
    pub last_verified_at: Option<i64>,
    pub last_verify_result: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl PixelRow {
    pub fn platform(&self) -> Option<Platform> {
        Platform::parse(&self.platform)
    }

    pub fn domains(&self) -> Vec<String> {
        serde_json::from_str(&self.domains).unwrap_or_default()
    }

    pub fn event_names(&self) -> Vec<String> {
        serde_json::from_str(&self.event_names).unwrap_or_default()
    }

    /// The API view: secrets are reported as set or not, never returned.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "platform": self.platform,
            "pixel_id": self.pixel_id,
            "is_active": self.is_active != 0,
            "server_side_enabled": self.server_side_enabled != 0,
            "test_event_code": self.test_event_code,
            "domains": self.domains(),
            "event_names": self.event_names(),
            "has_access_token": self.access_token_enc.is_some(),
            "has_api_secret": self.api_secret_enc.is_some(),
            "last_verified_at": self.last_verified_at,
            "last_verify_result": self.last_verify_result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

const PIXEL_COLUMNS: &str = "id, platform, pixel_id, access_token_enc, api_secret_enc, is_active, server_side_enabled, test_event_code, domains, event_names, last_verified_at, last_verify_result, created_at, updated_at";

pub async fn load_tenant_config(
    db: &D1Database,
    tenant_id: &str,
) -> Result<TenantConfig, ApiError> {
    let row: TenantCfgRow = first(
        db,
        "SELECT domains, consent_policy FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .ok_or_else(|| ApiError::new(404, "not_found", "tenant not found"))?;
    let pixels = list_pixels(db, tenant_id).await?;
    Ok(TenantConfig {
        tenant_id: tenant_id.to_string(),
        domains: serde_json::from_str(&row.domains).unwrap_or_default(),
        consent_policy: serde_json::from_str::<ConsentPolicy>(&row.consent_policy)
            .unwrap_or_default(),
        pixels: pixels
            .iter()
            .filter_map(|p| {
                Some(PixelRoute {
                    id: p.id.clone(),
                    platform: p.platform()?,
                    is_active: p.is_active != 0,
                    server_side_enabled: p.server_side_enabled != 0,
                    domains: p.domains(),
                    event_names: p.event_names(),
                })
            })
            .collect(),
    })
}

pub async fn set_consent_policy(
    db: &D1Database,
    tenant_id: &str,
    policy: &ConsentPolicy,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE tenants SET consent_policy = ?2 WHERE id = ?1",
        &[
            s(tenant_id),
            s(&serde_json::to_string(policy).unwrap_or_default()),
        ],
    )
    .await
    .map(|_| ())
}

// ---------------------------------------------------------------- pixels

pub async fn list_pixels(db: &D1Database, tenant_id: &str) -> Result<Vec<PixelRow>, ApiError> {
    all(
        db,
        &format!("SELECT {PIXEL_COLUMNS} FROM pixels WHERE tenant_id = ?1 ORDER BY created_at, id"),
        &[s(tenant_id)],
    )
    .await
}

pub async fn get_pixel(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
) -> Result<Option<PixelRow>, ApiError> {
    first(
        db,
        &format!("SELECT {PIXEL_COLUMNS} FROM pixels WHERE tenant_id = ?1 AND id = ?2"),
        &[s(tenant_id), s(id)],
    )
    .await
}

pub struct PixelWrite<'a> {
    pub id: &'a str,
    pub platform: Platform,
    pub pixel_id: &'a str,
    pub access_token_enc: Option<&'a str>,
    pub api_secret_enc: Option<&'a str>,
    pub is_active: bool,
    pub server_side_enabled: bool,
    pub test_event_code: Option<&'a str>,
    pub domains: &'a [String],
    pub event_names: &'a [String],
}

pub async fn upsert_pixel(
    db: &D1Database,
    tenant_id: &str,
    p: &PixelWrite<'_>,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO pixels (id, tenant_id, platform, pixel_id, access_token_enc, api_secret_enc, is_active, server_side_enabled, test_event_code, domains, event_names, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?11, ?11)
         ON CONFLICT(id) DO UPDATE SET pixel_id = excluded.pixel_id, access_token_enc = excluded.access_token_enc,
           api_secret_enc = excluded.api_secret_enc, is_active = excluded.is_active,
           server_side_enabled = excluded.server_side_enabled, test_event_code = excluded.test_event_code,
           domains = excluded.domains, event_names = excluded.event_names, updated_at = excluded.updated_at
         WHERE pixels.tenant_id = excluded.tenant_id",
        &[
            s(p.id),
            s(tenant_id),
            s(p.platform.as_str()),
            s(p.pixel_id),
            opt(p.access_token_enc),
            opt(p.api_secret_enc),
            n(p.is_active as i64),
            n(p.server_side_enabled as i64),
            opt(p.test_event_code),
            s(&json!(p.domains).to_string()),
            n(now),
            s(&json!(p.event_names).to_string()),
        ],
    )
    .await
    .map(|_| ())
}

pub async fn delete_pixel(db: &D1Database, tenant_id: &str, id: &str) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "DELETE FROM pixels WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant_id), s(id)],
    )
    .await?
        > 0)
}

pub async fn record_verify(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
    result: &Value,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE pixels SET last_verified_at = ?3, last_verify_result = ?4 WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant_id), s(id), n(now), s(&result.to_string())],
    )
    .await
    .map(|_| ())
}

// ---------------------------------------------------------------- consent

#[derive(Deserialize)]
struct ConsentRow {
    analytics: i64,
    marketing: i64,
    functional: i64,
    version: String,
    tc_string: Option<String>,
    created_at: i64,
}

impl ConsentRow {
    fn state(self) -> ConsentState {
        ConsentState {
            analytics: self.analytics != 0,
            marketing: self.marketing != 0,
            functional: self.functional != 0,
            version: self.version,
            updated_at: self.created_at,
            tc_string: self.tc_string,
        }
    }
}

pub async fn insert_consent(
    db: &D1Database,
    tenant_id: &str,
    visitor_id: &str,
    c: &ConsentState,
    ip: Option<&str>,
) -> Result<(), ApiError> {
    run(
        db,
        "INSERT INTO consent_records (tenant_id, visitor_id, analytics, marketing, functional, version, tc_string, ip, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &[
            s(tenant_id),
            s(visitor_id),
            n(c.analytics as i64),
            n(c.marketing as i64),
            n(c.functional as i64),
            s(&c.version),
            opt(c.tc_string.as_deref()),
            opt(ip),
            n(c.updated_at),
        ],
    )
    .await
    .map(|_| ())
}

pub async fn latest_consent(
    db: &D1Database,
    tenant_id: &str,
    visitor_id: &str,
) -> Result<Option<ConsentState>, ApiError> {
    Ok(first::<ConsentRow>(
        db,
        "SELECT analytics, marketing, functional, version, tc_string, created_at FROM consent_records
         WHERE tenant_id = ?1 AND visitor_id = ?2 ORDER BY id DESC LIMIT 1",
        &[s(tenant_id), s(visitor_id)],
    )
    .await?
    .map(ConsentRow::state))
}

pub async fn consent_history(
    db: &D1Database,
    tenant_id: &str,
    visitor_id: &str,
) -> Result<Vec<Value>, ApiError> {
    let rows: Vec<ConsentRow> = all(
        db,
        "SELECT analytics, marketing, functional, version, tc_string, created_at FROM consent_records
         WHERE tenant_id = ?1 AND visitor_id = ?2 ORDER BY id DESC LIMIT 20",
        &[s(tenant_id), s(visitor_id)],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| serde_json::to_value(r.state()).unwrap_or(Value::Null))
        .collect())
}

/// GDPR erasure: consent history, events and their delivery log for one visitor.
pub async fn erase_visitor(
    db: &D1Database,
    tenant_id: &str,
    visitor_id: &str,
) -> Result<(), ApiError> {
    batch(
        db,
        vec![
            stmt(
                db,
                "DELETE FROM deliveries WHERE tenant_id = ?1 AND event_id IN (SELECT event_id FROM events WHERE tenant_id = ?1 AND visitor_id = ?2)",
                &[s(tenant_id), s(visitor_id)],
            )?,
            stmt(db, "DELETE FROM events WHERE tenant_id = ?1 AND visitor_id = ?2", &[s(tenant_id), s(visitor_id)])?,
            stmt(db, "DELETE FROM consent_records WHERE tenant_id = ?1 AND visitor_id = ?2", &[s(tenant_id), s(visitor_id)])?,
        ],
    )
    .await
}

// ---------------------------------------------------------------- events and deliveries

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

/// A dead-lettered delivery ends `failed` unless it was delivered meanwhile.
pub fn dead_letter_stmt(
    db: &D1Database,
    tenant_id: &str,
    event_id: &str,
    pixel: &str,
    now: i64,
) -> Result<D1PreparedStatement, ApiError> {
    stmt(
        db,
        "UPDATE deliveries SET status = 'failed', last_error = coalesce(last_error, 'dead-lettered'), updated_at = ?4
         WHERE tenant_id = ?1 AND event_id = ?2 AND pixel_id = ?3 AND status NOT IN ('delivered', 'failed')",
        &[s(tenant_id), s(event_id), s(pixel), n(now)],
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

// ---------------------------------------------------------------- observability

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

// ---------------------------------------------------------------- retention

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

// ---------------------------------------------------------------- tenant settings (banner)

#[derive(Deserialize)]
struct SettingsRow {
    settings: String,
}

/// The tenant's free-form settings JSON (`banner`, ...); `{}` when unset or unreadable.
pub async fn tenant_settings(db: &D1Database, tenant_id: &str) -> Result<Value, ApiError> {
    let row: Option<SettingsRow> = first(
        db,
        "SELECT settings FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?;
    Ok(row
        .and_then(|r| serde_json::from_str(&r.settings).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({})))
}

/// Sets one top-level key of the settings JSON, keeping the others.
pub async fn set_tenant_setting(
    db: &D1Database,
    tenant_id: &str,
    key: &str,
    value: &Value,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE tenants SET settings = json_set(CASE WHEN json_valid(settings) THEN settings ELSE '{}' END, ?2, json(?3)) WHERE id = ?1",
        &[s(tenant_id), s(&format!("$.{key}")), s(&value.to_string())],
    )
    .await
    .map(|_| ())
}

// ---------------------------------------------------------------- dashboard, security, health (issue 6)

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

/// New current key. With `prev_until`, the old current key stays valid until then; without, it
/// (and any earlier previous key) stops working at once.
pub async fn rotate_api_key(
    db: &D1Database,
    tenant_id: &str,
    old_hash: &str,
    new_hash: &str,
    prev_until: Option<i64>,
    now: i64,
) -> Result<bool, ApiError> {
    // `api_key_hash = old_hash` makes concurrent rotations with the same key race-free: one wins.
    let sql = if prev_until.is_some() {
        "UPDATE tenants SET api_key_hash_prev = api_key_hash, api_key_hash = ?3, api_key_prev_expires_at = ?4, api_key_rotated_at = ?5
         WHERE id = ?1 AND api_key_hash = ?2"
    } else {
        "UPDATE tenants SET api_key_hash_prev = NULL, api_key_hash = ?3, api_key_prev_expires_at = NULL, api_key_rotated_at = ?5
         WHERE id = ?1 AND api_key_hash = ?2"
    };
    Ok(run(
        db,
        sql,
        &[
            s(tenant_id),
            s(old_hash),
            s(new_hash),
            prev_until.map(n).unwrap_or(JsValue::NULL),
            n(now),
        ],
    )
    .await?
        > 0)
}

pub async fn revoke_previous_key(db: &D1Database, tenant_id: &str) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "UPDATE tenants SET api_key_hash_prev = NULL, api_key_prev_expires_at = NULL WHERE id = ?1 AND api_key_hash_prev IS NOT NULL",
        &[s(tenant_id)],
    )
    .await?
        > 0)
}

#[derive(Deserialize, serde::Serialize)]
pub struct TenantProfile {
    pub id: String,
    pub name: String,
    pub domains: String,
    pub site_key: String,
    pub retention_days: i64,
    pub created_at: i64,
    pub api_key_rotated_at: Option<i64>,
    pub api_key_prev_expires_at: Option<i64>,
    pub has_prev_key: i64,
    pub notify_webhook_url: Option<String>,
}

pub async fn tenant_profile(db: &D1Database, tenant_id: &str) -> Result<TenantProfile, ApiError> {
    first(
        db,
        "SELECT id, name, domains, site_key, retention_days, created_at, api_key_rotated_at, api_key_prev_expires_at,
           (api_key_hash_prev IS NOT NULL) AS has_prev_key, notify_webhook_url FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await?
    .ok_or_else(|| ApiError::new(404, "not_found", "tenant not found"))
}

pub async fn set_notify_webhook(
    db: &D1Database,
    tenant_id: &str,
    url: Option<&str>,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE tenants SET notify_webhook_url = ?2 WHERE id = ?1",
        &[s(tenant_id), opt(url)],
    )
    .await
    .map(|_| ())
}

#[derive(Deserialize)]
pub struct PixelActivityRow {
    pub id: String,
    pub delivered_24h: Option<i64>,
    pub failed_24h: Option<i64>,
    pub last_delivered_at: Option<i64>,
    pub health_checked_at: Option<i64>,
    pub health_result: Option<String>,
}

/// Per pixel of one tenant: final delivery states in the last 24 h, the last successful delivery
/// and the daily health check's last result (indexed by deliveries_pixel).
pub async fn pixel_activity(
    db: &D1Database,
    tenant_id: &str,
    since_24h: i64,
) -> Result<Vec<PixelActivityRow>, ApiError> {
    all(
        db,
        "SELECT p.id,
           (SELECT count(*) FROM deliveries d WHERE d.pixel_id = p.id AND d.tenant_id = p.tenant_id AND d.status = 'delivered' AND d.updated_at >= ?2) AS delivered_24h,
           (SELECT count(*) FROM deliveries d WHERE d.pixel_id = p.id AND d.tenant_id = p.tenant_id AND d.status = 'failed' AND d.updated_at >= ?2) AS failed_24h,
           (SELECT max(d.updated_at) FROM deliveries d WHERE d.pixel_id = p.id AND d.tenant_id = p.tenant_id AND d.status = 'delivered') AS last_delivered_at,
           p.health_checked_at, p.health_result
         FROM pixels p WHERE p.tenant_id = ?1",
        &[s(tenant_id), n(since_24h)],
    )
    .await
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

#[derive(Deserialize)]
pub struct HealthCandidateRow {
    pub tenant_id: String,
    pub id: String,
    pub platform: String,
    pub pixel_id: String,
    pub created_at: i64,
    pub health_checked_at: Option<i64>,
    pub health_result: Option<String>,
    pub last_delivered_at: Option<i64>,
}

/// Every active server-side pixel whose last delivery (or creation) is older than `silent_before`.
pub async fn health_candidates(
    db: &D1Database,
    silent_before: i64,
) -> Result<Vec<HealthCandidateRow>, ApiError> {
    all(
        db,
        "SELECT * FROM (SELECT tenant_id, id, platform, pixel_id, created_at, health_checked_at, health_result,
               (SELECT max(d.updated_at) FROM deliveries d WHERE d.pixel_id = pixels.id AND d.tenant_id = pixels.tenant_id AND d.status = 'delivered') AS last_delivered_at
             FROM pixels WHERE is_active = 1 AND server_side_enabled = 1)
         WHERE coalesce(last_delivered_at, created_at) < ?1 ORDER BY tenant_id, created_at",
        &[n(silent_before)],
    )
    .await
}

#[derive(Deserialize)]
pub struct NotifyTarget {
    pub name: String,
    pub notify_webhook_url: Option<String>,
}

pub async fn notify_target(
    db: &D1Database,
    tenant_id: &str,
) -> Result<Option<NotifyTarget>, ApiError> {
    first(
        db,
        "SELECT name, notify_webhook_url FROM tenants WHERE id = ?1",
        &[s(tenant_id)],
    )
    .await
}

pub async fn record_health(
    db: &D1Database,
    tenant_id: &str,
    id: &str,
    result: &Value,
    now: i64,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE pixels SET health_checked_at = ?3, health_result = ?4 WHERE tenant_id = ?1 AND id = ?2",
        &[s(tenant_id), s(id), n(now), s(&result.to_string())],
    )
    .await
    .map(|_| ())
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
