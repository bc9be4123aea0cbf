//! Every delivery is auditable and replayable (jobs Worker; the beacon Worker forwards these):
//! - `GET /api/v1/tracking/events/{event_id}`: the event (hashed PII only) and, per destination,
//!   its status, attempts, times, last error, the platform's trace id, or why it got nothing;
//! - `GET /api/v1/tracking/deliveries?status&pixel_id&limit&cursor`: the delivery log, newest
//!   first, in keyset pages;
//! - `POST /api/v1/tracking/deliveries/replay {status|pixel_id|event_ids}`: re-drives failed
//!   deliveries through the normal path (a first attempt on the Queue, which re-checks consent and
//!   skips what was delivered), at most `MAX_REPLAY` a call.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use worker::{Env, Request};

use super::auth::tenant_of_api_key;
use super::request::{query_map, read_json, MAX_REPLAY_BYTES};
use super::store::d1::{self, audit as log, PixelRow};
use super::{bindings, json_response, now_secs, queue, ApiError, ApiResult};
use crate::core::audit::{
    encode_cursor, not_routed_reason, parse_list_query, parse_replay_selector, path_id,
    plan_replay, refusal, stored_event, Candidate, ReplaySelector, StoredEvent, MAX_REPLAY,
    NOT_REPLAYED,
};
use crate::core::fanout::{send_batches, DeliveryJob, PixelRoute, QueueMessage};

fn not_the_tenants_pixel() -> ApiError {
    ApiError::field("pixel_id", "is not a pixel of this tenant")
}

/// `GET /api/v1/tracking/events/{event_id}`; 404 unless it is the caller's tenant's.
pub async fn event_detail(req: Request, env: &Env, event_id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let event_id = path_id(event_id).ok_or_else(|| ApiError::not_found("event"))?;
    let db = bindings::db(env)?;
    let e = log::event(&db, &tenant_id, &event_id)
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    let rows = log::deliveries_of(&db, &tenant_id, std::slice::from_ref(&e.event_id)).await?;
    let pixels = d1::list_pixels(&db, &tenant_id).await?;
    let pixel = |id: &str| pixels.iter().find(|p| p.id == id);
    let mut destinations: Vec<Value> = rows
        .iter()
        .map(|d| {
            json!({
                "pixel_id": d.pixel_id,
                "platform": d.platform,
                "platform_pixel_id": pixel(&d.pixel_id).map(|p| p.pixel_id.as_str()),
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
    if let Some(stored) = stored_event(&e.payload, None, &e.consent) {
        for p in &pixels {
            let Some(route) = p.route() else { continue };
            if rows.iter().any(|d| d.pixel_id == p.id) {
                continue;
            }
            destinations.push(json!({
                "pixel_id": p.id,
                "platform": p.platform,
                "platform_pixel_id": p.pixel_id,
                "status": "skipped",
                "attempts": 0,
                "skip_reason": not_routed_reason(&route, p.created_at, &stored.event, e.received_at),
                "recorded": false,
            }));
        }
    }
    let payload: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    let part = |k: &str| payload.get(k).cloned().unwrap_or(json!({}));
    Ok(json_response(
        200,
        &json!({
            "event_id": e.event_id,
            "event_name": e.event_name,
            "event_time": e.event_time,
            "received_at": e.received_at,
            "visitor_id": e.visitor_id,
            "url": e.url,
            "referrer": payload.get("referrer"),
            "consent": serde_json::from_str::<Value>(&e.consent).unwrap_or(Value::Null),
            "user_data": part("user"),
            "custom_data": part("custom_data"),
            "click_ids": part("click_ids"),
            "utm": part("utm"),
            "destinations": destinations,
        }),
    ))
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
    let mut rows = log::list(&db, &tenant_id, &q).await?;
    let next_cursor = (rows.len() > q.limit as usize).then(|| {
        rows.truncate(q.limit as usize);
        encode_cursor(rows.last().map_or(0, |r| r.seq))
    });
    let deliveries: Vec<Value> = rows
        .iter()
        .map(|d| {
            json!({
                "event_id": d.event_id,
                "event_name": d.event_name,
                "pixel_id": d.pixel_id,
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

/// `POST /api/v1/tracking/deliveries/replay` → `202 {replayed, remaining, not_replayed,
/// not_replayed_count}`.
pub async fn replay(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_REPLAY_BYTES).await?;
    let selector = parse_replay_selector(&body)?;
    let db = bindings::db(env)?;
    let pixels = d1::list_pixels(&db, &tenant_id).await?;
    let rows = match &selector {
        ReplaySelector::Failed => log::failed(&db, &tenant_id, None, MAX_REPLAY).await?,
        ReplaySelector::Pixel(id) => {
            if !pixels.iter().any(|p| &p.id == id) {
                return Err(not_the_tenants_pixel());
            }
            log::failed(&db, &tenant_id, Some(id), MAX_REPLAY).await?
        }
        ReplaySelector::Events(ids) => log::deliveries_of(&db, &tenant_id, ids).await?,
    };
    let mut refused: Vec<Value> = Vec::new();
    if let ReplaySelector::Events(ids) = &selector {
        for id in ids
            .iter()
            .filter(|id| !rows.iter().any(|r| &r.event_id == *id))
        {
            refused.push(json!({"event_id": id, "pixel_id": null, "reason": "no deliveries for this event id"}));
        }
    }

    // The events of the rows a replay may re-drive, rebuilt as they were accepted.
    let mut wanted: Vec<&str> = rows
        .iter()
        .filter(|r| refusal(&r.status, r.last_error.as_deref()).is_none())
        .map(|r| r.event_id.as_str())
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let events: HashMap<String, StoredEvent> = log::events(&db, &tenant_id, &wanted)
        .await?
        .into_iter()
        .filter_map(|e| {
            let stored = stored_event(&e.payload, e.ip.as_deref(), &e.consent)?;
            Some((e.event_id, stored))
        })
        .collect();
    let policy = d1::consent_policy(&db, &tenant_id).await?;
    let routes: Vec<PixelRoute> = pixels.iter().filter_map(PixelRow::route).collect();
    let candidates: Vec<Candidate> = rows
        .iter()
        .map(|r| Candidate {
            event_id: &r.event_id,
            pixel: &r.pixel_id,
            status: &r.status,
            reason: r.last_error.as_deref(),
        })
        .collect();
    let plan = plan_replay(
        &tenant_id,
        &candidates,
        &events,
        &routes,
        &policy,
        MAX_REPLAY,
    );
    let now = now_secs();

    // Failed deliveries a replay will never re-drive say so, and leave the failed list.
    let settled: Vec<(&str, &str, String)> = plan
        .refused
        .iter()
        .filter(|r| r.settle)
        .map(|r| {
            let row = &rows[r.index];
            (
                row.event_id.as_str(),
                row.pixel_id.as_str(),
                format!("{NOT_REPLAYED}{}", r.reason),
            )
        })
        .collect();
    log::settle_not_replayed(&db, &tenant_id, &settled, now).await?;
    for r in &plan.refused {
        let row = &rows[r.index];
        refused
            .push(json!({"event_id": row.event_id, "pixel_id": row.pixel_id, "reason": r.reason}));
    }

    // Claim, then hand over: only the rows this call took back to `queued` are sent.
    let pairs: Vec<(&str, &str)> = plan
        .send
        .iter()
        .map(|(i, _)| (rows[*i].event_id.as_str(), rows[*i].pixel_id.as_str()))
        .collect();
    let claimed: HashSet<(String, String)> = log::claim(&db, &tenant_id, &pairs, now)
        .await?
        .into_iter()
        .map(|c| (c.event_id, c.pixel_id))
        .collect();
    let mut jobs = Vec::with_capacity(claimed.len());
    for (i, job) in plan.send {
        let row = &rows[i];
        if claimed.contains(&(row.event_id.clone(), row.pixel_id.clone())) {
            jobs.push((i, job));
        } else {
            refused.push(json!({"event_id": row.event_id, "pixel_id": row.pixel_id,
                "reason": "changed meanwhile (another replay or a delivery took it)"}));
        }
    }
    let replayed = jobs.len();
    hand_over(env, &db, &tenant_id, &rows, jobs, now).await?;

    let remaining = match &selector {
        ReplaySelector::Failed => log::count_failed(&db, &tenant_id, None).await?,
        ReplaySelector::Pixel(id) => log::count_failed(&db, &tenant_id, Some(id)).await?,
        ReplaySelector::Events(_) => plan.excess as u64,
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

/// Puts claimed jobs on the delivery Queue as `Deliver` messages. Rows whose messages the Queue
/// did not take get their status back, so nothing stays `queued` with nothing on its way.
async fn hand_over(
    env: &Env,
    db: &worker::D1Database,
    tenant_id: &str,
    rows: &[log::DeliveryRow],
    jobs: Vec<(usize, DeliveryJob)>,
    claimed_at: i64,
) -> Result<(), ApiError> {
    let indices: Vec<usize> = jobs.iter().map(|(i, _)| *i).collect();
    let bodies = jobs
        .into_iter()
        .map(|(_, job)| serde_json::to_string(&QueueMessage::Deliver(Box::new(job))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal("replay encode", e))?;
    let sizes: Vec<usize> = bodies.iter().map(String::len).collect();
    let mut bodies = bodies.into_iter();
    for group in send_batches(&sizes) {
        let batch: Vec<String> = bodies.by_ref().take(group.len()).collect();
        if let Err(e) = queue::send_encoded(env, batch).await {
            let unsent: Vec<(&str, &str, &str, i64)> = indices[group.start..]
                .iter()
                .map(|&i| {
                    let r = &rows[i];
                    (
                        r.event_id.as_str(),
                        r.pixel_id.as_str(),
                        r.status.as_str(),
                        r.attempts,
                    )
                })
                .collect();
            if let Err(u) = log::unclaim(db, tenant_id, &unsent, claimed_at).await {
                worker::console_error!(
                    "replay: {} rows stay queued without a message: {}",
                    unsent.len(),
                    u.message
                );
            }
            return Err(e);
        }
    }
    Ok(())
}
