//! Every delivery is auditable and replayable (jobs Worker; the beacon Worker forwards these).
//! Each tenant's event shards hold the trail (`core::trail`); these endpoints ask them:
//! - `GET /api/v1/tracking/events/{event_id}`: the event (hashed PII only) and, per destination,
//!   its status, attempts, times, last error, the platform's trace id, or why it got nothing;
//! - `GET /api/v1/tracking/deliveries?status&pixel_id&limit&cursor`: the delivery log, newest
//!   change first, in keyset pages over all shards;
//! - `POST /api/v1/tracking/deliveries/replay {status|pixel_id|event_ids}`: re-drives failed
//!   deliveries through the normal path (the shard runs them as retries due now; the consumer
//!   re-checks consent and the pixel), at most `MAX_REPLAY` a call.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Env, Request};

use super::auth::tenant_of_api_key;
use super::durable::shard_calls::each_shard;
use super::request::{query_map, read_json, MAX_REPLAY_BYTES};
use super::store::d1::{self, PixelRow};
use super::{bindings, history, json_response, ApiError, ApiResult};
use crate::core::audit::{
    encode_cursor, not_routed_reason, parse_list_query, parse_replay_selector, path_id,
    plan_replay, Candidate, ReplaySelector, StoredEvent, MAX_REPLAY,
};
use crate::core::calendar::Date;
use crate::core::event::{AssertedConsent, Event};
use crate::core::fanout::{PixelRoute, QueueMessage};
use crate::core::history::{candidate_shards, merge_destinations};
use crate::core::shard::{retry_item, ShardLayout};
use crate::core::trail::{sort_newest_first, DestinationRow};

fn not_the_tenants_pixel() -> ApiError {
    ApiError::field("pixel_id", "is not a pixel of this tenant")
}

/// An event as its shard answers for it.
#[derive(Deserialize)]
struct ShardEvent {
    #[serde(default)]
    found: bool,
    #[serde(default)]
    received_at: Option<i64>,
    /// The accepted record (within the window).
    #[serde(default)]
    record: Option<String>,
    /// A delivery job of the event (older events).
    #[serde(default)]
    job: Option<String>,
    #[serde(default)]
    rows: Vec<DestinationRow>,
}

impl ShardEvent {
    /// The event as it was accepted (its client address included, for a re-drive), from the
    /// record or a job.
    fn stored(&self) -> Option<StoredEvent> {
        let text = self.record.as_deref().or(self.job.as_deref())?;
        match serde_json::from_str::<QueueMessage>(text).ok()? {
            QueueMessage::Record { event, consent, .. } => Some(StoredEvent { event, consent }),
            QueueMessage::Deliver(job) => Some(StoredEvent {
                event: job.delivery.event,
                consent: job.delivery.consent,
            }),
        }
    }
}

/// The shard an event id lives in, and the one before the last layout change.
fn shards_of(layout: &ShardLayout, event_id: &str) -> Vec<u32> {
    let (current, previous) = layout.route(event_id, super::now_secs());
    let mut out = vec![current];
    out.extend(previous);
    // Exception rows outlive the window in the shard the id had when it was accepted.
    let old = crate::core::shard::shard_of(event_id, layout.previous.max(1));
    if !out.contains(&old) {
        out.push(old);
    }
    out
}

async fn find_event(
    env: &Env,
    tenant_id: &str,
    layout: &ShardLayout,
    event_id: &str,
) -> Result<(u32, ShardEvent), ApiError> {
    let mut last = None;
    for shard in shards_of(layout, event_id) {
        let e: ShardEvent = bindings::shard_json(
            env,
            tenant_id,
            shard,
            &format!("/event?id={}", js_sys::encode_uri_component(event_id)),
            String::new(),
        )
        .await?;
        if e.found {
            return Ok((shard, e));
        }
        last = Some((shard, e));
    }
    Ok(last.expect("at least one shard"))
}

/// The per-destination delivery state of the tenant's events `event_ids` (what the event detail
/// shows), from their shards: the one way other modules read it.
pub async fn destinations_of(
    env: &Env,
    tenant_id: &str,
    event_ids: &[String],
) -> Result<Vec<DestinationRow>, ApiError> {
    if event_ids.is_empty() {
        return Ok(Vec::new());
    }
    let layout = d1::shard_layout(&bindings::db(env)?, tenant_id).await?;
    let found = futures_util::future::join_all(
        event_ids
            .iter()
            .map(|id| find_event(env, tenant_id, &layout, id)),
    )
    .await;
    let mut rows = Vec::new();
    for f in found {
        rows.extend(f?.1.rows);
    }
    Ok(rows)
}

/// `GET /api/v1/tracking/events/{event_id}[?date=YYYY-MM-DD]`; 404 unless it is the caller's
/// tenant's. Within the 48 h window the shard answers; after it, the history files (R2) do, newest
/// day first within the tenant's retention (`date` narrows the search to that day), with the
/// shard's exception rows, which are newer, over the archived trail, and `"archived": true`.
pub async fn event_detail(req: Request, env: &Env, event_id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let event_id = path_id(event_id).ok_or_else(|| ApiError::not_found("event"))?;
    let hint = match query_map(&req).get("date") {
        Some(d) => Some(
            Date::parse(d)
                .ok_or_else(|| ApiError::field("date", "must be a date as YYYY-MM-DD"))?
                .days_since_epoch(),
        ),
        None => None,
    };
    let db = bindings::db(env)?;
    let layout = d1::shard_layout(&db, &tenant_id).await?;
    let (_, found) = find_event(env, &tenant_id, &layout, &event_id).await?;
    let pixels = d1::list_pixels(&db, &tenant_id).await?;
    if found.found && found.record.is_some() {
        if let Some(stored) = found.stored() {
            let received_at = found.received_at.unwrap_or(stored.event.event_time);
            let answer = detail(
                &stored.event,
                stored.consent,
                received_at,
                &found.rows,
                &pixels,
            );
            return Ok(json_response(200, &answer));
        }
    }
    // Past the window: the history, unless the visitor was erased since (their files are
    // rewritten at the next retention run).
    let retention_days = d1::retention_days(&db, &tenant_id).await?;
    let shards = candidate_shards(&event_id, layout.count().max(layout.previous));
    let archived =
        match history::find(env, &tenant_id, &event_id, &shards, retention_days, hint).await? {
            Some(a) => match &a.event.visitor_id {
                Some(v) if d1::erased_since(&db, &tenant_id, v, a.received_at).await? => None,
                _ => Some(a),
            },
            None => None,
        };
    if let Some(a) = archived {
        let rows = merge_destinations(a.destinations, &found.rows);
        let mut answer = detail(&a.event, a.consent, a.received_at, &rows, &pixels);
        answer["archived"] = true.into();
        return Ok(json_response(200, &answer));
    }
    // Known only by its exception rows (kept past the window, e.g. failed ones).
    let stored = found
        .stored()
        .filter(|_| found.found)
        .ok_or_else(|| ApiError::not_found("event"))?;
    let received_at = found.received_at.unwrap_or(stored.event.event_time);
    Ok(json_response(
        200,
        &detail(
            &stored.event,
            stored.consent,
            received_at,
            &found.rows,
            &pixels,
        ),
    ))
}

/// The event detail's answer: the event (hashed PII only) and every destination of the tenant,
/// those that got nothing with the reason from the pixel's settings now. One shape, whichever
/// store (shard or history) answered.
fn detail(
    e: &Event,
    consent: AssertedConsent,
    received_at: i64,
    rows: &[DestinationRow],
    pixels: &[PixelRow],
) -> Value {
    let pixel = |id: &str| pixels.iter().find(|p| p.id == id);
    let mut destinations: Vec<Value> = rows
        .iter()
        .map(|d| {
            json!({
                "pixel_id": d.pixel,
                "platform": d.platform,
                "platform_pixel_id": pixel(&d.pixel).map(|p| p.pixel_id.as_str()),
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "skip_reason": if d.status == "skipped" { d.last_error.as_deref() } else { None },
                "trace_id": d.trace_id,
                "response": d.response,
                "updated_at": d.updated_at,
                "replays": d.replays,
                "replayed_at": d.replayed_at,
                "recorded": true,
            })
        })
        .collect();
    // The tenant's other pixels never got the event: say why, from their settings now.
    for p in pixels {
        let Some(route) = p.route() else { continue };
        if rows.iter().any(|d| d.pixel == p.id) {
            continue;
        }
        destinations.push(json!({
            "pixel_id": p.id,
            "platform": p.platform,
            "platform_pixel_id": p.pixel_id,
            "status": "skipped",
            "attempts": 0,
            "skip_reason": not_routed_reason(&route, p.created_at, e, received_at),
            "recorded": false,
        }));
    }
    let shown = |v: Value| if v.is_null() { json!({}) } else { v };
    json!({
        "event_id": e.event_id,
        "event_name": e.display_name(),
        "event_time": e.event_time,
        "received_at": received_at,
        "visitor_id": e.visitor_id,
        "url": e.url,
        "referrer": e.referrer,
        "consent": consent,
        "user_data": shown(serde_json::to_value(&e.user).unwrap_or(Value::Null)),
        "custom_data": e.custom_data,
        "click_ids": e.click_ids,
        "utm": e.utm,
        "destinations": destinations,
    })
}

#[derive(Deserialize)]
struct ListAnswer {
    rows: Vec<DestinationRow>,
}

/// `GET /api/v1/tracking/deliveries?status&pixel_id&limit&cursor`.
pub async fn list(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let q = parse_list_query(&query_map(&req))?;
    let db = bindings::db(env)?;
    if let Some(p) = &q.pixel_id {
        if d1::get_pixel(&db, &tenant_id, p).await?.is_none() {
            return Err(not_the_tenants_pixel());
        }
    }
    let layout = d1::shard_layout(&db, &tenant_id).await?;
    let limit = q.limit as usize;
    let pages: Vec<ListAnswer> = each_shard(
        env,
        &tenant_id,
        &layout,
        "/list",
        &json!({"status": q.status, "pixel": q.pixel_id, "limit": limit + 1, "before": q.before}),
    )
    .await?;
    let mut rows: Vec<DestinationRow> = pages.into_iter().flat_map(|p| p.rows).collect();
    sort_newest_first(&mut rows);
    let next_cursor = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        let last = rows.last().expect("a row");
        encode_cursor(&(last.updated_at, last.event_id.clone(), last.pixel.clone()))
    });
    let deliveries: Vec<Value> = rows
        .iter()
        .map(|d| {
            json!({
                "event_id": d.event_id,
                "event_name": d.event_name,
                "pixel_id": d.pixel,
                "platform": d.platform,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": d.last_error,
                "updated_at": d.updated_at,
            })
        })
        .collect();
    Ok(json_response(
        200,
        &json!({"deliveries": deliveries, "next_cursor": next_cursor}),
    ))
}

/// How many refused deliveries an answer lists (all are counted).
const MAX_LISTED_REFUSALS: usize = 100;

#[derive(Deserialize)]
struct Replayable {
    events: Vec<ShardEvent>,
}

/// `POST /api/v1/tracking/deliveries/replay` → `202 {replayed, remaining, not_replayed,
/// not_replayed_count}`.
pub async fn replay(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_REPLAY_BYTES).await?;
    let selector = parse_replay_selector(&body)?;
    let db = bindings::db(env)?;
    let pixels = d1::list_pixels(&db, &tenant_id).await?;
    let layout = d1::shard_layout(&db, &tenant_id).await?;
    if let ReplaySelector::Pixel(id) = &selector {
        if !pixels.iter().any(|p| &p.id == id) {
            return Err(not_the_tenants_pixel());
        }
    }

    // The candidates, per shard: every destination of the named events, or the failed ones.
    let mut found: Vec<(u32, ShardEvent)> = Vec::new();
    let mut refused: Vec<Value> = Vec::new();
    match &selector {
        ReplaySelector::Events(ids) => {
            for id in ids {
                let (shard, e) = find_event(env, &tenant_id, &layout, id).await?;
                if e.found && !e.rows.is_empty() {
                    found.push((shard, e));
                } else {
                    refused.push(json!({"event_id": id, "pixel_id": null, "reason": "no deliveries for this event id"}));
                }
            }
        }
        ReplaySelector::Failed | ReplaySelector::Pixel(_) => {
            let pixel = match &selector {
                ReplaySelector::Pixel(id) => Some(id.as_str()),
                _ => None,
            };
            let answers: Vec<Replayable> = each_shard(
                env,
                &tenant_id,
                &layout,
                "/replayable",
                &json!({"pixel": pixel, "limit": MAX_REPLAY}),
            )
            .await?;
            for (shard, a) in layout.all().zip(answers) {
                found.extend(a.events.into_iter().map(|e| (shard, e)));
            }
        }
    }

    let mut events: HashMap<String, StoredEvent> = HashMap::new();
    let mut candidates_of: Vec<(u32, &DestinationRow)> = Vec::new();
    for (shard, e) in &found {
        if let Some(s) = e.stored() {
            events.insert(s.event.event_id.clone(), s);
        }
        candidates_of.extend(e.rows.iter().map(|r| (*shard, r)));
    }
    let candidates: Vec<Candidate> = candidates_of
        .iter()
        .map(|(_, r)| Candidate {
            event_id: &r.event_id,
            pixel: &r.pixel,
            status: &r.status,
            reason: r.last_error.as_deref(),
        })
        .collect();
    let policy = d1::consent_policy(&db, &tenant_id).await?;
    let routes: Vec<PixelRoute> = pixels.iter().filter_map(PixelRow::route).collect();
    let plan = plan_replay(
        &tenant_id,
        &candidates,
        &events,
        &routes,
        &policy,
        MAX_REPLAY,
    );

    // Per shard: what to re-drive, and the failed deliveries a replay never will (they leave the
    // failed list, skipped with the reason).
    #[derive(Default)]
    struct ShardWork {
        send: Vec<(String, String, String, Option<String>, String)>,
        refuse: Vec<(String, String, String)>,
    }
    let mut work: BTreeMap<u32, ShardWork> = BTreeMap::new();
    for r in &plan.refused {
        let (shard, row) = candidates_of[r.index];
        if r.settle {
            work.entry(shard).or_default().refuse.push((
                row.event_id.clone(),
                row.pixel.clone(),
                format!("{}{}", crate::core::audit::NOT_REPLAYED, r.reason),
            ));
        }
        refused.push(json!({"event_id": row.event_id, "pixel_id": row.pixel, "reason": r.reason}));
    }
    for (i, job) in &plan.send {
        let (shard, row) = candidates_of[*i];
        work.entry(shard).or_default().send.push((
            row.event_id.clone(),
            row.pixel.clone(),
            job.platform.as_str().to_string(),
            job.delivery.event.visitor_id.clone(),
            retry_item(job),
        ));
    }
    #[derive(Deserialize)]
    struct Taken {
        event_id: String,
        pixel: String,
    }
    #[derive(Deserialize)]
    struct ReplayAnswer {
        taken: Vec<Taken>,
    }
    let mut replayed = 0;
    for (shard, w) in work {
        let asked: Vec<(String, String)> =
            w.send.iter().map(|s| (s.0.clone(), s.1.clone())).collect();
        let answer: ReplayAnswer = bindings::shard_json(
            env,
            &tenant_id,
            shard,
            "/replay",
            json!({"send": w.send, "refuse": w.refuse}).to_string(),
        )
        .await?;
        replayed += answer.taken.len();
        for (e, p) in asked {
            if !answer.taken.iter().any(|t| t.event_id == e && t.pixel == p) {
                refused.push(json!({"event_id": e, "pixel_id": p,
                    "reason": "changed meanwhile (another replay or a delivery took it)"}));
            }
        }
    }

    let remaining = match &selector {
        ReplaySelector::Events(_) => plan.excess as u64,
        ReplaySelector::Failed | ReplaySelector::Pixel(_) => {
            let pixel = match &selector {
                ReplaySelector::Pixel(id) => Some(id.as_str()),
                _ => None,
            };
            let counts: Vec<Value> = each_shard(
                env,
                &tenant_id,
                &layout,
                "/count-failed",
                &json!({"pixel": pixel}),
            )
            .await?;
            counts
                .iter()
                .filter_map(|c| c.get("failed")?.as_u64())
                .sum()
        }
    };
    let not_replayed_count = refused.len();
    refused.truncate(MAX_LISTED_REFUSALS);
    Ok(json_response(
        202,
        &json!({
            "replayed": replayed,
            "remaining": remaining,
            "not_replayed": refused,
            "not_replayed_count": not_replayed_count,
        }),
    ))
}
