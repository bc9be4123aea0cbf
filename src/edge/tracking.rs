//! What browsers and sites send: events (one, a batch, or a `pixel.gif` beacon) and consent
//! choices. The intake validates, hashes, reads consent, routes, claims each event id in the
//! tenant's event shard (which keeps the fresh events and sends them on to delivery) and answers
//! 202 before any platform is called.

use serde_json::{json, Value};
use worker::{Context, Env, Headers, Request, Response};

use super::auth::{tracking_caller, TrackingCaller};
use super::request::{self, client_ip, geo_country, read_json, MAX_JSON_BYTES};
use super::store::{d1, kv};
use super::{
    admission, bindings, cookies, durable, json_response, now_secs, tag, uuid_v4, ApiError,
    ApiResult,
};
use crate::core::access::Scope;
use crate::core::consent::{parse_consent_body, ConsentState};
use crate::core::event::{self, IntakeContext, Parsed, Rejection};
use crate::core::fanout::{self, QueueMessage, MAX_MESSAGE_BYTES};

/// The 43-byte transparent 1×1 GIF.
pub const PIXEL_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

struct IntakeSummary {
    accepted: Vec<String>,
    duplicates: Vec<String>,
    rejected: Vec<Rejection>,
    warnings: Vec<Value>,
}

/// Validate, hash, dedup, route, enqueue. Answers before any platform is called.
async fn intake(
    req: &Request,
    env: &Env,
    caller: &TrackingCaller,
    body: &Value,
    batch: bool,
) -> Result<IntakeSummary, ApiError> {
    let now = now_secs();
    let ip = client_ip(req);
    let ua = req.headers().get("user-agent").ok().flatten();
    let geo = geo_country(req);
    let ictx = IntakeContext {
        now,
        ip: ip.as_deref(),
        user_agent: ua.as_deref(),
        geo_country: geo.as_deref(),
        trusted: caller.trusted,
    };
    let mut new_id = uuid_v4;
    let (parsed, mut rejected): (Vec<Parsed>, Vec<Rejection>) = if batch {
        let out = event::parse_batch(body, &ictx, &mut new_id)?;
        (out.accepted, out.rejected)
    } else {
        (
            vec![event::parse_event(body, "", &ictx, &mut new_id)?],
            vec![],
        )
    };
    // Each accepted event's index in the request (a batch's rejected ones are not in `parsed`).
    let mut request_index = (0..).filter(|i| !rejected.iter().any(|r| r.index == *i));
    let request_index: Vec<usize> = parsed
        .iter()
        .map(|_| request_index.next().unwrap_or(0))
        .collect();
    let events: Vec<&crate::core::event::Event> = parsed.iter().map(|p| &p.event).collect();
    let admissions = accept(env, &caller.config, &events, rejected.len() as u32, now).await?;
    let mut summary = IntakeSummary {
        accepted: vec![],
        duplicates: vec![],
        rejected: vec![],
        warnings: vec![],
    };
    for (n, admission) in admissions.into_iter().enumerate() {
        let p = &parsed[n];
        let index = request_index[n];
        let id = p.event.event_id.clone();
        match admission {
            Admission::TooLarge { field, message } => {
                if !batch {
                    return Err(ApiError {
                        status: 413,
                        code: "payload_too_large",
                        message: format!("{field} {message}"),
                        field: Some(field.to_string()),
                    });
                }
                rejected.push(Rejection {
                    index,
                    field: format!("events[{index}].{field}"),
                    message,
                });
                continue;
            }
            Admission::Fresh => summary.accepted.push(id),
            Admission::Duplicate => summary.duplicates.push(id),
        }
        for w in &p.warnings {
            summary
                .warnings
                .push(json!({"index": index, "field": w.field, "message": w.message}));
        }
    }
    rejected.sort_by_key(|r| r.index);
    summary.rejected = rejected;
    Ok(summary)
}

/// What became of one event handed to [`accept`].
pub enum Admission {
    Fresh,
    /// Its id was accepted before, within the dedup window: nothing new is delivered.
    Duplicate,
    /// Refused: once encoded it would not fit a queue message (`field` made it too large).
    TooLarge {
        field: &'static str,
        message: String,
    },
}

/// Accepts validated events of one tenant for delivery: reads the consent of their visitors,
/// routes them to the tenant's pixels, and claims their ids (the fresh ones are then delivered
/// exactly once). Every intake path (browser events, pixel.gif, server events, conversions) comes
/// through here. `rejected` is how many events of the request were invalid (for the counters).
/// An error means nothing was accepted: the caller answers 503 and a retry is safe.
pub async fn accept(
    env: &Env,
    config: &crate::core::tenant::TenantConfig,
    events: &[&crate::core::event::Event],
    rejected: u32,
    now: i64,
) -> Result<Vec<Admission>, ApiError> {
    let tenant_id = config.tenant_id.as_str();
    // One consent read per distinct visitor, all in parallel (memoized per isolate).
    let visitors = events
        .iter()
        .filter(|e| e.consent.is_none())
        .filter_map(|e| Some((tenant_id, e.visitor_id.as_deref()?)))
        .collect();
    let consent_of = kv::consents(env, visitors).await?;

    // Every event is routed and encoded before the claim: its shard keeps the fresh ones (the
    // claim, the outbox entry and the 48 h record are one row) and sends them on in parcels.
    let mut admissions: Vec<Option<Admission>> = Vec::with_capacity(events.len());
    let mut claims = Vec::with_capacity(events.len());
    let mut claimed = Vec::with_capacity(events.len());
    for (n, event) in events.iter().enumerate() {
        let stored = event
            .visitor_id
            .as_deref()
            .and_then(|v| consent_of.get(&(tenant_id, v)));
        let shared = std::sync::Arc::new((*event).clone());
        let routed = fanout::route(
            tenant_id,
            &shared,
            &config.pixels,
            stored,
            &config.consent_policy,
        );
        // One message per event: its record and the first attempt of each destination.
        let message =
            serde_json::to_string(&QueueMessage::accepted(tenant_id, shared, routed, now))
                .map_err(|e| ApiError::internal("queue encode", e))?;
        // A message the Queue cannot carry would never be delivered: refuse the event now,
        // naming the part that made it too large, instead of acknowledging it.
        if message.len() > MAX_MESSAGE_BYTES {
            let field = fanout::largest_part(event);
            admissions.push(Some(Admission::TooLarge {
                field,
                message: format!(
                    "makes this event {} KB once encoded, over the {} KB an event may take; send less in {field}",
                    message.len() / 1024,
                    MAX_MESSAGE_BYTES / 1024
                ),
            }));
            continue;
        }
        admissions.push(None);
        claims.push(crate::core::shard::ClaimItem {
            event_id: event.event_id.clone(),
            visitor_id: event.visitor_id.clone(),
            message,
        });
        claimed.push(n);
    }
    let too_large = (admissions.len() - claims.len()) as u32;
    let unavailable = |e: ApiError| ApiError {
        status: 503,
        code: "unavailable",
        message: format!("events not accepted, retry: {}", e.message),
        field: None,
    };
    let fresh = durable::shard_calls::claim(
        env,
        tenant_id,
        &config.shards,
        claims,
        rejected + too_large,
        now,
    )
    .await
    .map_err(unavailable)?;
    for (n, is_fresh) in claimed.into_iter().zip(fresh) {
        admissions[n] = Some(if is_fresh {
            Admission::Fresh
        } else {
            Admission::Duplicate
        });
    }
    Ok(admissions
        .into_iter()
        .map(|a| a.unwrap_or(Admission::Duplicate))
        .collect())
}

/// A JSON write (events, a consent choice): its body and its caller, admitted (`admission`), or
/// the 429 to answer.
async fn admitted_write(
    req: &mut Request,
    env: &Env,
    ctx: &Context,
) -> Result<Result<(Value, TrackingCaller), Response>, ApiError> {
    let body = read_json(req, MAX_JSON_BYTES).await?;
    let site_key = body.get("site_key").and_then(Value::as_str);
    let caller = tracking_caller(req, env, site_key, Scope::Ingest).await?;
    Ok(match admission::check(req, env, ctx, &caller).await {
        Ok(()) => Ok((body, caller)),
        Err(refused) => Err(refused.response()),
    })
}

pub async fn events(mut req: Request, env: &Env, ctx: &Context, batch: bool) -> ApiResult {
    let (body, caller) = match admitted_write(&mut req, env, ctx).await? {
        Ok(admitted) => admitted,
        Err(refused) => return Ok(refused),
    };
    let s = intake(&req, env, &caller, &body, batch).await?;
    admission::admitted(env, ctx, &caller.config, s.accepted.len() as u64);
    Ok(json_response(
        202,
        &json!({
            "accepted": s.accepted.len(),
            "duplicates": s.duplicates.len(),
            "rejected": s.rejected,
            "warnings": s.warnings,
            "event_ids": s.accepted,
            "duplicate_ids": s.duplicates,
        }),
    ))
}

/// `GET /pixel.gif?site_key=…&event_name=…[&event_id&visitor_id&url&referrer&value&currency&fbc&fbp…]`
/// for `<img>` beacons and no-JS fallbacks. Always the GIF, whatever happened (over a limit it
/// records nothing).
pub async fn pixel_gif(req: Request, env: &Env, ctx: &Context) -> Response {
    let outcome = async {
        let url = request::raw_url(&req);
        let caller = tracking_caller(&req, env, None, Scope::Ingest).await?;
        if let Err(refused) = admission::check(&req, env, ctx, &caller).await {
            return Err(ApiError::new(429, refused.limit.code(), "refused"));
        }
        let mut ev = serde_json::Map::new();
        let mut custom = serde_json::Map::new();
        let mut click = serde_json::Map::new();
        for (k, v) in crate::core::weburl::query_pairs(&url) {
            let v = Value::String(v.to_string());
            match k.as_ref() {
                "event_name" | "event_id" | "visitor_id" | "url" | "referrer" | "event_time" => {
                    ev.insert(k.to_string(), v);
                }
                "value" | "currency" => {
                    custom.insert(k.to_string(), v);
                }
                "fbc" | "fbp" | "gclid" | "ttclid" | "li_fat_id" => {
                    click.insert(k.to_string(), v);
                }
                _ => {}
            }
        }
        if !ev.contains_key("url") {
            if let Ok(Some(r)) = req.headers().get("referer") {
                ev.insert("url".into(), Value::String(r));
            }
        }
        ev.entry("event_name")
            .or_insert(Value::String("page_view".into()));
        ev.insert("custom_data".into(), Value::Object(custom));
        ev.insert("click_ids".into(), Value::Object(click));
        let s = intake(&req, env, &caller, &Value::Object(ev), false).await?;
        admission::admitted(env, ctx, &caller.config, s.accepted.len() as u64);
        Ok(s)
    }
    .await;
    if let Err(e) = outcome {
        worker::console_warn!(
            "pixel.gif beacon dropped: {} {}",
            e.code,
            e.field.unwrap_or_default()
        );
    }
    let h = Headers::new();
    let _ = h.set("content-type", "image/gif");
    let _ = h.set("cache-control", "no-store, max-age=0");
    Response::from_bytes(PIXEL_GIF.to_vec())
        .expect("gif")
        .with_headers(h)
}

pub async fn post_consent(mut req: Request, env: &Env, ctx: &Context) -> ApiResult {
    let (body, caller) = match admitted_write(&mut req, env, ctx).await? {
        Ok(admitted) => admitted,
        Err(refused) => return Ok(refused),
    };
    let (visitor_id, state) = parse_consent_body(&body, now_secs())?;
    let tenant_id = &caller.config.tenant_id;
    // With the site key a browser records a choice for its own visitor only: one it proves
    // (`cookies::proven`), or a new one whose first choice this is. A visitor id that already has
    // a record and that this browser cannot prove is someone else's: their choice is not
    // overwritten. The browser gets the visitor's signature (`cookies::vouch`) with the answer.
    if !caller.trusted
        && !cookies::proven(&req, env, tenant_id, &visitor_id)
        && kv::consent(env, tenant_id, &visitor_id).await?.is_some()
    {
        return Err(ApiError::new(
            403,
            "not_this_visitor",
            "this visitor_id already has a consent choice and this browser has not proven it is that visitor (the gateway's visitor cookie); take the id GET /api/v1/tracking/id gives, or record the choice with the api key",
        ));
    }
    let vouch = !caller.trusted;
    // The address is evidence of the visitor's choice: a browser's own, never a server's.
    let ip = (!caller.trusted).then(|| client_ip(&req)).flatten();
    d1::insert_consent(
        &bindings::db(env)?,
        tenant_id,
        &visitor_id,
        &state,
        ip.as_deref(),
    )
    .await?;
    kv::put_consent(env, tenant_id, &visitor_id, &state).await;
    admission::admitted(env, ctx, &caller.config, 1);
    let resp = json_response(201, &json!({"visitor_id": visitor_id, "consent": state}));
    Ok(tag::consent_cookies(
        resp,
        (&req, env),
        &caller.config,
        (&visitor_id, vouch),
        &state,
        &body,
    ))
}

/// With the public site key a browser may act only on its own visitor: the one the gateway's
/// first-party HttpOnly cookie names, signed by the gateway (`cookies::proven`; set by
/// `GET /api/v1/tracking/id`, unreadable by scripts, sent by no other site, unforgeable by a
/// client that makes up its own `Cookie` header). Any other visitor id needs the api key.
fn own_visitor(
    req: &Request,
    env: &Env,
    caller: &TrackingCaller,
    visitor: &str,
) -> Result<(), ApiError> {
    let tenant_id = &caller.config.tenant_id;
    if caller.trusted || cookies::proven(req, env, tenant_id, visitor) {
        return Ok(());
    }
    Err(ApiError::new(
        403,
        "not_this_visitor",
        "with the site key a browser may only read or erase its own visitor (the gateway's visitor cookie); other visitor ids need the api key",
    ))
}

pub async fn get_consent(req: Request, env: &Env, visitor: &str) -> ApiResult {
    let caller = tracking_caller(&req, env, None, Scope::Admin).await?;
    own_visitor(&req, env, &caller, visitor)?;
    let db = bindings::db(env)?;
    let tenant_id = &caller.config.tenant_id;
    // After an erase the visitor has made no choice (the erasure record only stops deliveries).
    let latest = d1::latest_consent(&db, tenant_id, visitor)
        .await?
        .filter(|s| !s.is_erasure());
    // Browsers see their own state; only the tenant's server sees the history.
    let history = if caller.trusted {
        Some(d1::consent_history(&db, tenant_id, visitor).await?)
    } else {
        None
    };
    Ok(json_response(
        200,
        &json!({"visitor_id": visitor, "consent": latest, "default_applies": latest.is_none(),
                "default": caller.config.consent_policy, "history": history}),
    ))
}

pub async fn erase_visitor(req: Request, env: &Env, visitor: &str) -> ApiResult {
    let caller = tracking_caller(&req, env, None, Scope::Admin).await?;
    own_visitor(&req, env, &caller, visitor)?;
    let tenant_id = &caller.config.tenant_id;
    let erasure = ConsentState::erasure(now_secs());
    let actor = if caller.trusted { "api_key" } else { "visitor" };
    d1::erase_visitor(&bindings::db(env)?, tenant_id, visitor, &erasure, actor).await?;
    // Then the visitor's events and deliveries in every shard of the tenant. The erasure record
    // is written first, so a delivery in flight meanwhile finds it and stops.
    durable::shard_calls::each_shard::<Value>(
        env,
        tenant_id,
        &caller.config.shards,
        "/erase",
        &json!({"visitor_id": visitor}),
    )
    .await?;
    // The erasure, not a deletion, goes to the cache: deliveries in flight read it and stop.
    kv::put_consent(env, tenant_id, visitor, &erasure).await;
    Ok(json_response(
        200,
        &json!({"visitor_id": visitor, "erased": ["consent", "events", "deliveries"]}),
    ))
}
