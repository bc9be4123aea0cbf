//! Consent records: append-only evidence per visitor, and the visitor erase.

use serde::Deserialize;
use serde_json::Value;
use worker::D1Database;

use super::{all, batch, first, n, opt, run, s, stmt};
use crate::core::consent::ConsentState;
use crate::core::hash::sha256_hex;
use crate::edge::ApiError;

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

#[derive(Deserialize)]
struct VisitorConsentRow {
    visitor_id: String,
    #[serde(flatten)]
    row: ConsentRow,
}

/// Each visitor's latest consent record (visitors without one are absent), in one query: the
/// delivery re-check reads D1, strongly consistent, instead of a KV read per visitor.
pub async fn latest_consents(
    db: &D1Database,
    tenant_id: &str,
    visitors: &[&str],
) -> Result<std::collections::HashMap<String, ConsentState>, ApiError> {
    let mut out = std::collections::HashMap::new();
    for chunk in visitors.chunks(500) {
        let list = serde_json::to_string(chunk).map_err(|e| ApiError::internal("visitors", e))?;
        let rows: Vec<VisitorConsentRow> = all(
            db,
            "SELECT c.visitor_id, c.analytics, c.marketing, c.functional, c.version, c.tc_string, c.created_at
             FROM consent_records c
             WHERE c.tenant_id = ?1 AND c.id = (SELECT max(id) FROM consent_records
               WHERE tenant_id = ?1 AND visitor_id = c.visitor_id)
               AND c.visitor_id IN (SELECT value FROM json_each(?2))",
            &[s(tenant_id), s(&list)],
        )
        .await?;
        out.extend(rows.into_iter().map(|r| (r.visitor_id, r.row.state())));
    }
    Ok(out)
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

/// GDPR erasure of what D1 holds of one visitor (their consent history, attribution's
/// touchpoints; their conversions and conversion facts stay, no longer linked to the visitor;
/// their events and deliveries live in the event shards, erased there), in one transaction that
/// leaves the erasure record (every purpose denied, `ConsentState::erasure`): deliveries still in
/// flight for the visitor see it and stop. The same transaction writes the
/// audit row: the visitor id's SHA-256, who asked (`actor`: "api_key" or "visitor"), when.
pub async fn erase_visitor(
    db: &D1Database,
    tenant_id: &str,
    visitor_id: &str,
    erasure: &ConsentState,
    actor: &str,
) -> Result<(), ApiError> {
    batch(
        db,
        vec![
            stmt(db, "DELETE FROM consent_records WHERE tenant_id = ?1 AND visitor_id = ?2", &[s(tenant_id), s(visitor_id)])?,
            stmt(db, "DELETE FROM touchpoints WHERE tenant_id = ?1 AND visitor_id = ?2", &[s(tenant_id), s(visitor_id)])?,
            stmt(db, "UPDATE conversion_facts SET visitor_id = NULL, touch = NULL WHERE tenant_id = ?1 AND visitor_id = ?2", &[s(tenant_id), s(visitor_id)])?,
            stmt(db, "UPDATE conversions SET visitor_id = NULL WHERE tenant_id = ?1 AND visitor_id = ?2", &[s(tenant_id), s(visitor_id)])?,
            stmt(
                db,
                "INSERT INTO consent_records (tenant_id, visitor_id, analytics, marketing, functional, version, created_at)
                 VALUES (?1, ?2, 0, 0, 0, ?3, ?4)",
                &[s(tenant_id), s(visitor_id), s(&erasure.version), n(erasure.updated_at)],
            )?,
            stmt(
                db,
                "INSERT INTO erasure_audit (tenant_id, visitor_hash, actor, erased_at) VALUES (?1, ?2, ?3, ?4)",
                &[s(tenant_id), s(&sha256_hex(visitor_id)), s(actor), n(erasure.updated_at)],
            )?,
        ],
    )
    .await
}

/// Whether the visitor was erased at or after `since` (the erasure audit keeps the visitor id's
/// SHA-256 only): what hides an archived event of theirs until the history files are rewritten.
pub async fn erased_since(
    db: &D1Database,
    tenant_id: &str,
    visitor_id: &str,
    since: i64,
) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Hit {
        #[allow(dead_code)]
        x: i64,
    }
    Ok(first::<Hit>(
        db,
        "SELECT 1 AS x FROM erasure_audit WHERE tenant_id = ?1 AND erased_at >= ?3 AND visitor_hash = ?2 LIMIT 1",
        &[s(tenant_id), s(&sha256_hex(visitor_id)), n(since)],
    )
    .await?
    .is_some())
}
