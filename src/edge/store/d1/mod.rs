//! D1, the record of truth for configuration: tenants, pixels, consent records (evidence) and
//! hourly rollups, one file per table family; no row per event (events live in their shards). Every query that reads tenant data is
//! scoped by tenant_id. This file holds the statement helpers they share.

use serde::Deserialize;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use crate::edge::ApiError;

mod auth;
mod consent;
// Conversions, integrations, webhooks, leads and attribution (jobs Worker).
#[cfg(feature = "jobs")]
pub mod conversions;
// The hourly rollups the event shards add to, and the retention job.
#[cfg(feature = "jobs")]
mod events;
mod pixels;
// What the dashboard reads (the management API lives in the jobs Worker).
#[cfg(feature = "jobs")]
mod reports;
// The retention job's rules beyond events (jobs Worker).
#[cfg(feature = "jobs")]
pub mod retention;
// The re-encrypt job's reads and writes (jobs Worker).
#[cfg(feature = "jobs")]
pub mod sealed;
mod tenants;
mod usage;

pub use auth::*;
pub use consent::*;
#[cfg(feature = "jobs")]
pub use events::*;
pub use pixels::*;
#[cfg(feature = "jobs")]
pub use reports::*;
pub use tenants::*;
pub use usage::*;

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
    let meta = r.meta().ok().flatten();
    written(meta.as_ref());
    Ok(meta.and_then(|m| m.changes).unwrap_or(0) as u64)
}

/// Counts the rows a statement wrote, as D1 reports (and bills) them.
fn written(meta: Option<&worker::D1ResultMeta>) {
    let rows = meta.and_then(|m| m.rows_written).unwrap_or(0);
    crate::edge::meter::add(crate::edge::meter::Op::D1RowsWritten, rows as u64);
    if let Some(size) = meta.and_then(|m| m.size_after) {
        crate::edge::meter::d1_size(size as u64);
    }
}

/// Runs statements in D1 batches of at most 100 (each batch is one transaction and one round trip).
pub async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> Result<(), ApiError> {
    let mut rest = statements;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(100));
        for r in db
            .batch(rest)
            .await
            .map_err(|e| ApiError::internal("D1 batch", e))?
        {
            written(r.meta().ok().flatten().as_ref());
        }
        rest = tail;
    }
    Ok(())
}
