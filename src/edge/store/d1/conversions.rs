//! Conversions beyond the browser (jobs Worker): the conversion ids accepted, the tenants'
//! integrations (Stripe, Meta Lead Ads, attribution), webhook receipts, refunds, leads, and the
//! touchpoints and conversion facts attribution reads. Every query is scoped by tenant_id, except
//! the page → tenant lookup of a Meta webhook (which names pages, not tenants).

use serde::Deserialize;
use serde_json::json;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::{all, batch, first, n, opt, run, s, stmt};
use crate::core::attribution::{self, Fact, Touch, Touchpoint};
use crate::core::fanout::QueueMessage;
use crate::edge::ApiError;

fn f(v: Option<f64>) -> JsValue {
    v.map(JsValue::from_f64).unwrap_or(JsValue::NULL)
}

/// A list as one parameter, read back in SQL with `json_each`.
fn list(v: &[impl serde::Serialize]) -> JsValue {
    s(&json!(v).to_string())
}

// ---------------------------------------------------------------- conversions

#[derive(Debug, Clone, Deserialize)]
pub struct ConversionRow {
    #[serde(default)]
    pub seq: i64,
    pub conversion_id: String,
    pub event_id: String,
    pub name: String,
    pub source: String,
    pub origin: String,
    pub happened_at: i64,
    pub value: Option<f64>,
    pub currency: Option<String>,
    pub order_id: Option<String>,
    pub visitor_id: Option<String>,
    pub fresh: i64,
    pub routed: i64,
    pub received_at: i64,
}

/// The ids of `ids` the tenant has accepted before.
pub async fn known_conversions(
    db: &D1Database,
    tenant_id: &str,
    ids: &[&str],
) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Id {
        conversion_id: String,
    }
    let mut known = Vec::new();
    // json_each keeps the parameter count at two whatever the batch size.
    for chunk in ids.chunks(500) {
        let rows: Vec<Id> = all(
            db,
            "SELECT conversion_id FROM conversions WHERE tenant_id = ?1 AND conversion_id IN (SELECT value FROM json_each(?2))",
            &[s(tenant_id), list(chunk)],
        )
        .await?;
        known.extend(rows.into_iter().map(|r| r.conversion_id));
    }
    Ok(known)
}

/// Records accepted conversions (a conversion id already recorded stays as it was).
pub async fn insert_conversions(
    db: &D1Database,
    tenant_id: &str,
    rows: &[ConversionRow],
) -> Result<(), ApiError> {
    let stmts = rows
        .iter()
        .map(|r| {
            stmt(
                db,
                "INSERT OR IGNORE INTO conversions (tenant_id, conversion_id, event_id, name, source, origin, happened_at, value, currency, order_id, visitor_id, fresh, routed, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                &[
                    s(tenant_id),
                    s(&r.conversion_id),
                    s(&r.event_id),
                    s(&r.name),
                    s(&r.source),
                    s(&r.origin),
                    n(r.happened_at),
                    f(r.value),
                    opt(r.currency.as_deref()),
                    opt(r.order_id.as_deref()),
                    opt(r.visitor_id.as_deref()),
                    n(r.fresh),
                    n(r.routed),
                    n(r.received_at),
                ],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    batch(db, stmts).await
}

/// Up to `limit` of the tenant's conversions before position `before`, newest first.
pub async fn list_conversions(
    db: &D1Database,
    tenant_id: &str,
    before: Option<i64>,
    name: Option<&str>,
    limit: u32,
) -> Result<Vec<ConversionRow>, ApiError> {
    all(
        db,
        "SELECT rowid AS seq, conversion_id, event_id, name, source, origin, happened_at, value, currency, order_id, visitor_id, fresh, routed, received_at
         FROM conversions WHERE tenant_id = ?1 AND rowid < ?2 AND (?3 IS NULL OR name = ?3)
         ORDER BY rowid DESC LIMIT ?4",
        &[
            s(tenant_id),
            n(before.unwrap_or(i64::MAX)),
            opt(name),
            n(i64::from(limit)),
        ],
    )
    .await
}

// ---------------------------------------------------------------- integrations

#[derive(Debug, Clone, Deserialize)]
pub struct IntegrationRow {
    pub kind: String,
    /// JSON, nothing secret.
    pub settings: String,
    pub secret_enc: Option<String>,
    pub updated_at: i64,
}

pub async fn integration(
    db: &D1Database,
    tenant_id: &str,
    kind: &str,
) -> Result<Option<IntegrationRow>, ApiError> {
    first(
        db,
        "SELECT kind, settings, secret_enc, updated_at FROM integrations WHERE tenant_id = ?1 AND kind = ?2",
        &[s(tenant_id), s(kind)],
    )
    .await
}

pub async fn integrations(
    db: &D1Database,
    tenant_id: &str,
) -> Result<Vec<IntegrationRow>, ApiError> {
    all(
        db,
        "SELECT kind, settings, secret_enc, updated_at FROM integrations WHERE tenant_id = ?1 ORDER BY kind",
        &[s(tenant_id)],
    )
    .await
}

fn put_integration_stmt(
    db: &D1Database,
    tenant_id: &str,
    kind: &str,
    settings: &str,
    secret_enc: Option<&str>,
    now: i64,
) -> Result<D1PreparedStatement, ApiError> {
    // A write without a secret keeps the stored one.
    stmt(
        db,
        "INSERT INTO integrations (tenant_id, kind, settings, secret_enc, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant_id, kind) DO UPDATE SET settings = excluded.settings,
           secret_enc = COALESCE(excluded.secret_enc, integrations.secret_enc), updated_at = excluded.updated_at",
        &[s(tenant_id), s(kind), s(settings), opt(secret_enc), n(now)],
    )
}

pub async fn put_integration(
    db: &D1Database,
    tenant_id: &str,
    kind: &str,
    settings: &str,
    secret_enc: Option<&str>,
    now: i64,
) -> Result<(), ApiError> {
    batch(
        db,
        vec![put_integration_stmt(
            db, tenant_id, kind, settings, secret_enc, now,
        )?],
    )
    .await
}

/// The pages of `page_ids` another tenant has connected.
pub async fn pages_of_others(
    db: &D1Database,
    tenant_id: &str,
    page_ids: &[String],
) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Page {
        page_id: String,
    }
    let rows: Vec<Page> = all(
        db,
        "SELECT page_id FROM lead_pages WHERE tenant_id != ?1 AND page_id IN (SELECT value FROM json_each(?2))",
        &[s(tenant_id), list(page_ids)],
    )
    .await?;
    Ok(rows.into_iter().map(|p| p.page_id).collect())
}

/// The Meta Lead Ads integration and its pages, in one transaction (the pages replace the
/// tenant's previous ones).
pub async fn put_lead_pages(
    db: &D1Database,
    tenant_id: &str,
    settings: &str,
    secret_enc: Option<&str>,
    page_ids: &[String],
    now: i64,
) -> Result<(), ApiError> {
    let mut stmts = vec![
        put_integration_stmt(db, tenant_id, "meta_leads", settings, secret_enc, now)?,
        stmt(
            db,
            "DELETE FROM lead_pages WHERE tenant_id = ?1",
            &[s(tenant_id)],
        )?,
    ];
    for p in page_ids {
        stmts.push(stmt(
            db,
            "INSERT INTO lead_pages (page_id, tenant_id) VALUES (?1, ?2)",
            &[s(p), s(tenant_id)],
        )?);
    }
    batch(db, stmts).await
}

/// The tenant that connected a Facebook page.
pub async fn tenant_of_page(db: &D1Database, page_id: &str) -> Result<Option<String>, ApiError> {
    #[derive(Deserialize)]
    struct Owner {
        tenant_id: String,
    }
    Ok(first::<Owner>(
        db,
        "SELECT tenant_id FROM lead_pages WHERE page_id = ?1",
        &[s(page_id)],
    )
    .await?
    .map(|o| o.tenant_id))
}

// ---------------------------------------------------------------- webhooks

/// Claims a webhook delivery by its id: true the first time, false for a replay.
pub async fn claim_receipt(
    db: &D1Database,
    tenant_id: &str,
    provider: &str,
    event_id: &str,
    now: i64,
) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "INSERT OR IGNORE INTO webhook_receipts (tenant_id, provider, event_id, received_at) VALUES (?1, ?2, ?3, ?4)",
        &[s(tenant_id), s(provider), s(event_id), n(now)],
    )
    .await?
        == 1)
}

/// Forgets a claim whose processing failed, so the provider's retry is processed.
pub async fn release_receipt(
    db: &D1Database,
    tenant_id: &str,
    provider: &str,
    event_id: &str,
) -> Result<(), ApiError> {
    run(
        db,
        "DELETE FROM webhook_receipts WHERE tenant_id = ?1 AND provider = ?2 AND event_id = ?3",
        &[s(tenant_id), s(provider), s(event_id)],
    )
    .await
    .map(|_| ())
}

pub struct Refund<'a> {
    pub refund_id: &'a str,
    pub conversion_id: Option<&'a str>,
    pub amount: f64,
    pub currency: &'a str,
    pub refunded_at: i64,
}

pub async fn insert_refunds(
    db: &D1Database,
    tenant_id: &str,
    refunds: &[Refund<'_>],
) -> Result<(), ApiError> {
    let stmts = refunds
        .iter()
        .map(|r| {
            stmt(
                db,
                "INSERT OR IGNORE INTO refunds (tenant_id, refund_id, conversion_id, amount, currency, refunded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &[
                    s(tenant_id),
                    s(r.refund_id),
                    opt(r.conversion_id),
                    JsValue::from_f64(r.amount),
                    s(r.currency),
                    n(r.refunded_at),
                ],
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    batch(db, stmts).await
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefundRow {
    pub refund_id: String,
    pub conversion_id: Option<String>,
    pub amount: f64,
    pub currency: String,
    pub refunded_at: i64,
}

/// The refunds of the tenant's conversions `ids`.
pub async fn refunds_of(
    db: &D1Database,
    tenant_id: &str,
    ids: &[&str],
) -> Result<Vec<RefundRow>, ApiError> {
    all(
        db,
        "SELECT refund_id, conversion_id, amount, currency, refunded_at FROM refunds WHERE tenant_id = ?1 AND conversion_id IN (SELECT value FROM json_each(?2))",
        &[s(tenant_id), list(ids)],
    )
    .await
}

// ---------------------------------------------------------------- leads

pub struct NewLead<'a> {
    pub leadgen_id: &'a str,
    pub page_id: &'a str,
    pub form_id: Option<&'a str>,
    pub ad_id: Option<&'a str>,
    pub em: Option<&'a str>,
    pub ph: Option<&'a str>,
    pub created_at: i64,
    pub forward_status: &'a str,
}

/// Records a lead the first time its leadgen id is seen; false when it was recorded before.
pub async fn claim_lead(
    db: &D1Database,
    tenant_id: &str,
    l: &NewLead<'_>,
    now: i64,
) -> Result<bool, ApiError> {
    Ok(run(
        db,
        "INSERT OR IGNORE INTO leads (tenant_id, leadgen_id, page_id, form_id, ad_id, em, ph, created_at, forward_status, received_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        &[
            s(tenant_id),
            s(l.leadgen_id),
            s(l.page_id),
            opt(l.form_id),
            opt(l.ad_id),
            opt(l.em),
            opt(l.ph),
            n(l.created_at),
            s(l.forward_status),
            n(now),
        ],
    )
    .await?
        == 1)
}

pub async fn set_lead_forward(
    db: &D1Database,
    tenant_id: &str,
    leadgen_id: &str,
    status: &str,
    attempts: i64,
    error: Option<&str>,
) -> Result<(), ApiError> {
    run(
        db,
        "UPDATE leads SET forward_status = ?3, forward_attempts = ?4, forward_error = ?5 WHERE tenant_id = ?1 AND leadgen_id = ?2",
        &[s(tenant_id), s(leadgen_id), s(status), n(attempts), opt(error)],
    )
    .await
    .map(|_| ())
}

/// What the webhook needs to know of a lead it saw before.
#[derive(Debug, Clone, Deserialize)]
pub struct LeadRow {
    pub forward_status: String,
    pub forward_attempts: i64,
}

pub async fn lead_by_id(
    db: &D1Database,
    tenant_id: &str,
    leadgen_id: &str,
) -> Result<Option<LeadRow>, ApiError> {
    first(
        db,
        "SELECT forward_status, forward_attempts FROM leads WHERE tenant_id = ?1 AND leadgen_id = ?2",
        &[s(tenant_id), s(leadgen_id)],
    )
    .await
}

// ---------------------------------------------------------------- attribution

/// What the consumer adds, with the events it stores, for attribution: the touchpoint of each
/// event that lands (at most one row per visitor, day and touch: an insert that finds its row
/// writes nothing) and the fact of each conversion-like event.
pub fn attribution_stmts(
    db: &D1Database,
    records: &[QueueMessage],
) -> Result<Vec<D1PreparedStatement>, ApiError> {
    let mut out = Vec::new();
    for r in records {
        let QueueMessage::Record {
            tenant_id, event, ..
        } = r
        else {
            continue;
        };
        if let (Some(visitor), Some(t)) = (&event.visitor_id, attribution::landing_touch(event)) {
            out.push(stmt(
                db,
                "INSERT OR IGNORE INTO touchpoints (tenant_id, visitor_id, day, channel, source, medium, campaign, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &[
                    s(tenant_id),
                    s(visitor),
                    n(attribution::day_of(event.event_time)),
                    s(&t.channel),
                    s(&t.source),
                    s(&t.medium),
                    s(&t.campaign),
                    n(event.event_time),
                ],
            )?);
        }
        if let Some(fact) = attribution::fact_of(event) {
            let touch = fact.touch.as_ref().map(|t| json!(t).to_string());
            out.push(stmt(
                db,
                "INSERT OR IGNORE INTO conversion_facts (tenant_id, event_id, name, visitor_id, at, value, currency, touch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                &[
                    s(tenant_id),
                    s(&fact.event_id),
                    s(&fact.name),
                    opt(fact.visitor_id.as_deref()),
                    n(fact.at),
                    f(fact.value),
                    opt(fact.currency.as_deref()),
                    opt(touch.as_deref()),
                ],
            )?);
        }
    }
    Ok(out)
}

/// The most a report reads: past this it says `truncated`.
pub const MAX_FACTS: u32 = 20_000;

/// The tenant's conversion facts named `name` in [from, to), oldest first.
pub async fn facts(
    db: &D1Database,
    tenant_id: &str,
    name: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Fact>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        event_id: String,
        name: String,
        visitor_id: Option<String>,
        at: i64,
        value: Option<f64>,
        currency: Option<String>,
        touch: Option<String>,
    }
    let rows: Vec<Row> = all(
        db,
        "SELECT event_id, name, visitor_id, at, value, currency, touch FROM conversion_facts
         WHERE tenant_id = ?1 AND name = ?2 AND at >= ?3 AND at < ?4 ORDER BY at LIMIT ?5",
        &[
            s(tenant_id),
            s(name),
            n(from),
            n(to),
            n(i64::from(MAX_FACTS)),
        ],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Fact {
            event_id: r.event_id,
            name: r.name,
            visitor_id: r.visitor_id,
            at: r.at,
            value: r.value,
            currency: r.currency,
            touch: r
                .touch
                .as_deref()
                .and_then(|t| serde_json::from_str::<Touch>(t).ok()),
        })
        .collect())
}

/// The touchpoints of `visitors` in [from, to].
pub async fn touchpoints(
    db: &D1Database,
    tenant_id: &str,
    visitors: &[&str],
    from: i64,
    to: i64,
) -> Result<Vec<Touchpoint>, ApiError> {
    #[derive(Deserialize)]
    struct Row {
        visitor_id: String,
        at: i64,
        channel: String,
        source: String,
        medium: String,
        campaign: String,
    }
    let mut out = Vec::new();
    for chunk in visitors.chunks(500) {
        let rows: Vec<Row> = all(
            db,
            "SELECT visitor_id, at, channel, source, medium, campaign FROM touchpoints
             WHERE tenant_id = ?1 AND visitor_id IN (SELECT value FROM json_each(?2)) AND day >= ?3 AND day <= ?4",
            &[
                s(tenant_id),
                list(chunk),
                n(attribution::day_of(from)),
                n(attribution::day_of(to)),
            ],
        )
        .await?;
        out.extend(rows.into_iter().map(|r| Touchpoint {
            visitor_id: r.visitor_id,
            at: r.at,
            touch: Touch {
                channel: r.channel,
                source: r.source,
                medium: r.medium,
                campaign: r.campaign,
            },
        }));
    }
    Ok(out)
}
