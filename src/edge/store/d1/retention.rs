//! The retention rules of the tables beyond events and their deliveries (`core::retention` has
//! the periods and why): consent evidence, the erasure audit, OAuth flows and pending grants, the
//! ads tables, the notification log, the usage counters, and the conversions' tables
//! (conversions, refunds, leads, webhook receipts, touchpoints, conversion facts). Large deletes go in slices, so no statement holds the
//! database long.

use wasm_bindgen::JsValue;
use worker::D1Database;

use super::{n, run, s};
use crate::core::retention::Cutoffs;
use crate::edge::ApiError;

/// Rows deleted per statement; a table is sliced until a statement deletes fewer.
const SLICE: i64 = 5_000;
/// At most this many slices per table per run (the next run continues).
const MAX_SLICES: usize = 40;

/// Each table's rule: its name, and a delete of at most `?2` rows older than the cutoff `?1`.
const RULES: [(&str, &str); 15] = [
    // Every record of a visitor whose latest choice is older than the consent retention.
    (
        "consent_records",
        "DELETE FROM consent_records WHERE id IN (
           SELECT c.id FROM consent_records c WHERE c.created_at < ?1
             AND NOT EXISTS (SELECT 1 FROM consent_records l WHERE l.tenant_id = c.tenant_id
                               AND l.visitor_id = c.visitor_id AND l.created_at >= ?1)
           LIMIT ?2)",
    ),
    (
        "erasure_audit",
        "DELETE FROM erasure_audit WHERE id IN (SELECT id FROM erasure_audit WHERE erased_at < ?1 LIMIT ?2)",
    ),
    (
        "ads_oauth_states",
        "DELETE FROM ads_oauth_states WHERE nonce IN (SELECT nonce FROM ads_oauth_states WHERE expires_at < ?1 LIMIT ?2)",
    ),
    (
        "ads_alerts",
        "DELETE FROM ads_alerts WHERE id IN (SELECT id FROM ads_alerts WHERE created_at < ?1 LIMIT ?2)",
    ),
    (
        "ads_daily_metrics",
        "DELETE FROM ads_daily_metrics WHERE rowid IN (SELECT rowid FROM ads_daily_metrics WHERE date < ?1 LIMIT ?2)",
    ),
    (
        "ads_campaigns",
        "DELETE FROM ads_campaigns WHERE rowid IN (SELECT rowid FROM ads_campaigns WHERE updated_at < ?1 LIMIT ?2)",
    ),
    // Members of audiences that no longer exist (the cutoff does not apply).
    (
        "ads_audience_members",
        "DELETE FROM ads_audience_members WHERE rowid IN (
           SELECT m.rowid FROM ads_audience_members m
           WHERE ?1 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ads_audiences a WHERE a.id = m.audience_id) LIMIT ?2)",
    ),
    (
        "tenant_usage",
        "DELETE FROM tenant_usage WHERE (tenant_id, day) IN (SELECT tenant_id, day FROM tenant_usage WHERE day < ?1 LIMIT ?2)",
    ),
    (
        "ads_pending_grants",
        "DELETE FROM ads_pending_grants WHERE id IN (SELECT id FROM ads_pending_grants WHERE expires_at < ?1 LIMIT ?2)",
    ),
    (
        "conversions",
        "DELETE FROM conversions WHERE rowid IN (SELECT rowid FROM conversions WHERE received_at < ?1 LIMIT ?2)",
    ),
    (
        "refunds",
        "DELETE FROM refunds WHERE (tenant_id, refund_id) IN (SELECT tenant_id, refund_id FROM refunds WHERE refunded_at < ?1 LIMIT ?2)",
    ),
    (
        "leads",
        "DELETE FROM leads WHERE (tenant_id, leadgen_id) IN (SELECT tenant_id, leadgen_id FROM leads WHERE received_at < ?1 LIMIT ?2)",
    ),
    (
        "touchpoints",
        "DELETE FROM touchpoints WHERE (tenant_id, visitor_id, day, channel, source, medium, campaign) IN (
           SELECT tenant_id, visitor_id, day, channel, source, medium, campaign FROM touchpoints WHERE at < ?1 LIMIT ?2)",
    ),
    (
        "conversion_facts",
        "DELETE FROM conversion_facts WHERE rowid IN (SELECT rowid FROM conversion_facts WHERE at < ?1 LIMIT ?2)",
    ),
    (
        "webhook_receipts",
        "DELETE FROM webhook_receipts WHERE (tenant_id, provider, event_id) IN (
           SELECT tenant_id, provider, event_id FROM webhook_receipts WHERE received_at < ?1 LIMIT ?2)",
    ),
];

/// The cutoff of each rule, in `RULES`' order.
fn cutoffs(c: &Cutoffs) -> [JsValue; 15] {
    [
        n(c.consent),
        n(c.erasure_audit),
        n(c.oauth_states),
        n(c.notifications),
        s(&c.ads_metrics_date),
        n(c.ads_campaigns),
        n(0),
        n(c.usage),
        n(c.oauth_states),
        n(c.conversions),
        n(c.conversions),
        n(c.conversions),
        n(c.conversions),
        n(c.conversions),
        n(c.webhook_receipts),
    ]
}

/// Applies every rule; answers the rows deleted per table.
pub async fn purge_aged(
    db: &D1Database,
    c: &Cutoffs,
) -> Result<Vec<(&'static str, u64)>, ApiError> {
    let mut purged = Vec::with_capacity(RULES.len());
    for ((table, sql), cutoff) in RULES.iter().zip(cutoffs(c)) {
        let args = [cutoff, n(SLICE)];
        let mut total = 0;
        for _ in 0..MAX_SLICES {
            let deleted = run(db, sql, &args).await?;
            total += deleted;
            if (deleted as i64) < SLICE {
                break;
            }
        }
        purged.push((*table, total));
    }
    Ok(purged)
}
