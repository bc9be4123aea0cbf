//! Offline and CRM conversions (jobs Worker; the beacon Worker forwards these):
//! - `POST /api/v1/conversions` (one) and `POST /api/v1/conversions/batch` (`{conversions:[…]}`,
//!   ≤ 1,000), api key only → `202 {accepted, duplicates, rejected:[{index, field, message}],
//!   warnings, conversion_ids, duplicate_ids}`;
//! - `GET /api/v1/conversions?status&name&limit&cursor` → each conversion with its status and
//!   per-destination delivery state (the delivery audit's), newest first.
//!
//! Every conversion (these, the Stripe webhook's purchases, Meta leads) goes through
//! `tracking::accept` like any event: routing to the tenant's pixels, the dedup claim, the queue,
//! retries and the audit. A conversion id already recorded in the conversions table is a
//! duplicate whatever its age; the claim catches the rest (a repeat within the batch window, or
//! the browser event the conversion completes).
//!
//! The Google Ads destination's credentials are assembled here too (`credentials`): its OAuth
//! token is the connected Google Ads account's, its developer token the operator's.

use serde_json::{json, Value};
use worker::{Context, Env, Request};

use super::auth::{has_bearer, tenant_of_api_key, tracking_caller};
use super::request::{query_map, read_json};
use super::store::d1::conversions::{self as store, ConversionRow};
use super::store::d1::{self, PixelRow};
use super::store::kv;
use super::tracking::{accept, Admission};
use super::{
    admission, ads, audit, bindings, config, json_response, now_secs, secrets, ApiError, ApiResult,
};
use crate::core::access::Scope;
use crate::core::ads::AdsPlatform;
use crate::core::conversion::{
    encode_cursor, parse_batch, parse_conversion, parse_list_query, summarize, Conversion,
    MAX_BODY_BYTES,
};
use crate::core::destinations::Credentials;
use crate::core::event::{FieldError, Rejection};
use crate::core::platform::Platform;
use crate::core::shard::DEDUP_WINDOW_SECS;
use crate::core::tenant::TenantConfig;
use crate::core::trail::DestinationRow;

/// Where a conversion came from, as the listing shows it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Api,
    Stripe,
    MetaLead,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Api => "api",
            Origin::Stripe => "stripe",
            Origin::MetaLead => "meta_lead",
        }
    }
}

/// What became of each conversion handed to [`accept_conversions`], in order.
#[derive(Debug, PartialEq)]
pub enum Fate {
    Accepted,
    /// Its conversion id was recorded before, or its event id was accepted within the dedup
    /// window (the browser's event it completes): nothing new is delivered.
    Duplicate,
    Refused(FieldError),
}

/// The cached routing config of a tenant (by its id: webhooks name the tenant, not a key).
pub async fn tenant_config(env: &Env, tenant_id: &str) -> Result<TenantConfig, ApiError> {
    let site_key = d1::site_key_of(&bindings::db(env)?, tenant_id).await?;
    kv::config_by_site_key(env, &site_key)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))
}

/// Accepts validated conversions of one tenant: the ones recorded before are duplicates, the
/// others go through `tracking::accept` (100 at a time, the event batch size), and every one
/// accepted is recorded and counted in the tenant's daily quota of writes (`admission`).
/// `rejected` counts the request's invalid conversions (intake counters).
pub async fn accept_conversions(
    env: &Env,
    ctx: &Context,
    config: &TenantConfig,
    conversions: &[Conversion],
    origin: Origin,
    rejected: u32,
    now: i64,
) -> Result<Vec<Fate>, ApiError> {
    let db = bindings::db(env)?;
    let tenant_id = config.tenant_id.as_str();
    let ids: Vec<&str> = conversions.iter().map(Conversion::conversion_id).collect();
    let known = store::known_conversions(&db, tenant_id, &ids).await?;
    let mut fates: Vec<Option<Fate>> = conversions
        .iter()
        .map(|c| {
            known
                .iter()
                .any(|k| k == c.conversion_id())
                .then_some(Fate::Duplicate)
        })
        .collect();
    let new: Vec<usize> = (0..conversions.len())
        .filter(|&i| fates[i].is_none())
        .collect();
    let mut rows = Vec::new();
    let mut first = true;
    for chunk in new.chunks(crate::core::event::MAX_BATCH) {
        let events: Vec<&crate::core::event::Event> = chunk
            .iter()
            .map(|&i| &conversions[i].parsed.event)
            .collect();
        // The request's invalid conversions are counted once, with the first share.
        let invalid = if first { rejected } else { 0 };
        first = false;
        let admissions = accept(env, config, &events, invalid, now).await?;
        for (&i, admission) in chunk.iter().zip(admissions) {
            let fresh = match admission {
                Admission::Fresh => true,
                Admission::Duplicate => false,
                Admission::TooLarge { field, message } => {
                    fates[i] = Some(Fate::Refused(FieldError::new(field, message)));
                    continue;
                }
            };
            fates[i] = Some(if fresh {
                Fate::Accepted
            } else {
                Fate::Duplicate
            });
            let event = &conversions[i].parsed.event;
            let routed = config
                .pixels
                .iter()
                .filter(|p| p.is_active && p.server_side_enabled && p.accepts(event))
                .count();
            rows.push(row_of(&conversions[i], origin, fresh, routed, now));
        }
    }
    store::insert_conversions(&db, tenant_id, &rows).await?;
    let accepted = fates.iter().filter(|f| **f == Some(Fate::Accepted)).count();
    admission::admitted(env, ctx, config, accepted as u64);
    Ok(fates
        .into_iter()
        .map(|f| f.unwrap_or(Fate::Duplicate))
        .collect())
}

fn row_of(c: &Conversion, origin: Origin, fresh: bool, routed: usize, now: i64) -> ConversionRow {
    let e = &c.parsed.event;
    let ctx = e.conversion.as_deref();
    let text = |k: &str| -> Option<String> {
        match e.custom_data.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    ConversionRow {
        seq: 0,
        conversion_id: c.conversion_id().to_string(),
        event_id: e.event_id.clone(),
        name: e.display_name().to_string(),
        source: ctx.map_or("other", |c| c.source.as_str()).to_string(),
        origin: origin.as_str().to_string(),
        happened_at: e.event_time,
        value: e.custom_data.get("value").and_then(Value::as_f64),
        currency: text("currency"),
        order_id: text("order_id"),
        visitor_id: e.visitor_id.clone(),
        fresh: i64::from(fresh),
        routed: routed as i64,
        received_at: now,
    }
}

/// The answer of both POST endpoints.
fn intake_answer(
    conversions: &[Conversion],
    fates: Vec<Fate>,
    mut rejected: Vec<Rejection>,
    indices: &[usize],
    batch: bool,
) -> Result<Value, ApiError> {
    let (mut accepted, mut duplicates, mut warnings) = (vec![], vec![], vec![]);
    for ((c, fate), &index) in conversions.iter().zip(fates).zip(indices) {
        let id = c.conversion_id().to_string();
        match fate {
            Fate::Accepted => accepted.push(id),
            Fate::Duplicate => duplicates.push(id),
            Fate::Refused(e) => {
                if !batch {
                    return Err(ApiError {
                        status: 413,
                        code: "payload_too_large",
                        message: format!("{} {}", e.field, e.message),
                        field: Some(e.field),
                    });
                }
                rejected.push(Rejection {
                    index,
                    field: format!("conversions[{index}].{}", e.field),
                    message: e.message,
                });
                continue;
            }
        }
        for w in &c.parsed.warnings {
            warnings.push(json!({"index": index, "field": w.field, "message": w.message}));
        }
    }
    rejected.sort_by_key(|r| r.index);
    Ok(json!({
        "accepted": accepted.len(),
        "duplicates": duplicates.len(),
        "rejected": rejected,
        "warnings": warnings,
        "conversion_ids": accepted,
        "duplicate_ids": duplicates,
    }))
}

/// `POST /api/v1/conversions` and `/conversions/batch`: the tenant's server (api or ingest key),
/// admitted like any write (`admission`: the tenant's rate limit and daily quota).
pub async fn post(mut req: Request, env: &Env, ctx: &Context, batch: bool) -> ApiResult {
    if !has_bearer(&req) {
        return Err(ApiError::new(
            401,
            "unauthorized",
            "api key required (Authorization: Bearer <api_key>): conversions come from the tenant's server",
        ));
    }
    let caller = tracking_caller(&req, env, None, Scope::Ingest).await?;
    if let Err(refused) = admission::check(&req, env, ctx, &caller).await {
        return Ok(refused.response());
    }
    let body = read_json(&mut req, MAX_BODY_BYTES).await?;
    let now = now_secs();
    let (conversions, rejected) = if batch {
        parse_batch(&body, now)?
    } else {
        (vec![parse_conversion(&body, "", now)?], vec![])
    };
    // Each accepted conversion's index in the request.
    let indices: Vec<usize> = {
        let mut free = (0..).filter(|i| !rejected.iter().any(|r| r.index == *i));
        conversions
            .iter()
            .map(|_| free.next().unwrap_or(0))
            .collect()
    };
    let fates = accept_conversions(
        env,
        ctx,
        &caller.config,
        &conversions,
        Origin::Api,
        rejected.len() as u32,
        now,
    )
    .await?;
    let answer = intake_answer(&conversions, fates, rejected, &indices, batch)?;
    Ok(json_response(202, &answer))
}

/// How many conversions one listing call looks at, at most, to fill a filtered page.
const MAX_SCANNED: usize = 2000;

/// `GET /api/v1/conversions?status&name&limit&cursor`.
pub async fn list(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let q = parse_list_query(&query_map(&req))?;
    let db = bindings::db(env)?;
    let now = now_secs();
    let page_size = if q.status.is_some() { 200 } else { q.limit };
    let (mut out, mut before, mut scanned, mut next_cursor) = (Vec::new(), q.before, 0, None);
    'pages: loop {
        let page =
            store::list_conversions(&db, &tenant_id, before, q.name.as_deref(), page_size).await?;
        let event_ids: Vec<String> = page.iter().map(|c| c.event_id.clone()).collect();
        let deliveries = audit::destinations_of(env, &tenant_id, &event_ids).await?;
        let ids: Vec<&str> = page.iter().map(|c| c.conversion_id.as_str()).collect();
        let refunds = if ids.is_empty() {
            Vec::new()
        } else {
            store::refunds_of(&db, &tenant_id, &ids).await?
        };
        for c in &page {
            let mine: Vec<&DestinationRow> = deliveries
                .iter()
                .filter(|d| d.event_id == c.event_id)
                .collect();
            let statuses: Vec<&str> = mine.iter().map(|d| d.status.as_str()).collect();
            let status = summarize(
                c.fresh != 0,
                &statuses,
                c.routed,
                c.received_at,
                now,
                DEDUP_WINDOW_SECS,
            );
            if q.status.is_some_and(|s| s != status) {
                continue;
            }
            out.push(json!({
                "conversion_id": c.conversion_id, "event_id": c.event_id, "name": c.name,
                "source": c.source, "origin": c.origin, "happened_at": c.happened_at,
                "received_at": c.received_at, "value": c.value, "currency": c.currency,
                "order_id": c.order_id, "visitor_id": c.visitor_id, "status": status,
                "deduplicated": c.fresh == 0,
                "destinations": mine.iter().map(|d| json!({
                    "pixel_id": d.pixel, "platform": d.platform, "status": d.status,
                    "attempts": d.attempts, "last_error": d.last_error, "trace_id": d.trace_id,
                    "response": d.response, "updated_at": d.updated_at,
                })).collect::<Vec<_>>(),
                "refunds": refunds.iter().filter(|r| r.conversion_id.as_deref() == Some(&c.conversion_id)).map(|r| json!({
                    "refund_id": r.refund_id, "amount": r.amount, "currency": r.currency, "refunded_at": r.refunded_at,
                })).collect::<Vec<_>>(),
            }));
            if out.len() == q.limit as usize {
                next_cursor = Some(encode_cursor(c.seq));
                break 'pages;
            }
        }
        scanned += page.len();
        let Some(last) = page.last() else { break };
        before = Some(last.seq);
        if page.len() < page_size as usize {
            break;
        }
        if scanned >= MAX_SCANNED {
            next_cursor = Some(encode_cursor(last.seq));
            break;
        }
    }
    Ok(json_response(
        200,
        &json!({"conversions": out, "next_cursor": next_cursor}),
    ))
}

/// A pixel's credentials for a delivery or a verify: its sealed secrets, and for Google Ads the
/// connected account's OAuth token (refreshed when due), the operator's developer token and the
/// manager account. An error means our own storage or Google's token endpoint failed for now.
pub async fn credentials(
    env: &Env,
    tenant_id: &str,
    row: &PixelRow,
) -> Result<Credentials, ApiError> {
    let mut creds = secrets::credentials(env, row)?;
    if row.platform() != Some(Platform::GoogleAds) {
        return Ok(creds);
    }
    let developer_token = config::google_ads_developer_token(env);
    creds.api_secret = (!developer_token.is_empty()).then_some(developer_token);
    match ads::connected_token(env, tenant_id, AdsPlatform::Google, Some(&row.pixel_id)).await? {
        Ok((token, login)) => {
            creds.access_token = Some(token);
            if creds.settings.login_customer_id.is_none() {
                creds.settings.login_customer_id = login;
            }
        }
        Err(why) => {
            worker::console_warn!(
                "google_ads pixel {} of tenant {tenant_id}: no OAuth token ({why})",
                row.id
            );
            creds.access_token = None;
        }
    }
    Ok(creds)
}
