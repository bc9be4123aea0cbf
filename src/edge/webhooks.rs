//! Webhook receivers (jobs Worker; no api key: the signature is the authentication):
//! - `POST /api/v1/webhooks/stripe/{tenant_id}`: the signature is checked against the tenant's
//!   Stripe secret before anything is read; a purchase becomes a conversion, refunds are recorded,
//!   a replayed event id is a no-op. A bad or stale signature is 400 with nothing stored; a
//!   failure of ours is 503 (Stripe retries) with the event id released;
//! - `GET /api/v1/webhooks/meta/leadgen`: Meta's subscription handshake;
//! - `POST /api/v1/webhooks/meta/leadgen`: signed with the app secret; each lead of a connected
//!   page is fetched with the page's token, counted as a `lead` conversion, recorded with hashed
//!   identifiers only and forwarded (signed) to the tenant's CRM. A lead the CRM did not take yet
//!   makes the answer 503, so Meta sends the notification again and the lead is fetched and
//!   forwarded again (its answers are never stored); after `MAX_FORWARD_ATTEMPTS` it stays failed.

use std::time::Duration;

use serde_json::{json, Value};
use worker::{Context, Env, Request, Response};

use super::auth::TrackingCaller;
use super::conversions::{accept_conversions, tenant_config, Fate, Origin};
use super::integrations::{graph, lead_settings, page_token, META_LEADS, STRIPE};
use super::request::{header, query_param, read_bytes};
use super::store::d1::conversions::{self as store, NewLead, Refund};
use super::{
    admission, bindings, config, fetch, json_response, now_secs, secrets, ApiError, ApiResult,
};
use crate::core::conversion::{parse_conversion, Conversion};
use crate::core::event::valid_id;
use crate::core::leadgen::{self, LeadChange};
use crate::core::stripe::{self, StripeAction};
use crate::core::tenant::TenantConfig;
use crate::core::webhooks::{meta_handshake, verify_meta, verify_stripe, SignatureError};

/// Stripe's events are a few KB; Meta's notifications smaller still.
const MAX_WEBHOOK_BYTES: usize = 512 * 1024;
/// How often a lead is offered to the CRM (one per notification Meta sends) before it is left
/// failed.
const MAX_FORWARD_ATTEMPTS: i64 = 8;
/// A CRM gets this long per forward (Meta waits about 20 s for the whole answer).
const CRM_TIMEOUT_MS: u64 = 5_000;

fn bad_signature(header_name: &str, e: SignatureError) -> ApiError {
    ApiError {
        status: 400,
        code: "invalid_signature",
        message: format!("{header_name}: {}", e.message()),
        field: Some(header_name.to_string()),
    }
}

/// The conversion a webhook made, or (with the visitor or event id it named being unusable)
/// the same conversion without them.
fn webhook_conversion(mut c: Value, now: i64) -> Result<Conversion, ApiError> {
    match parse_conversion(&c, "", now) {
        Ok(conv) => Ok(conv),
        Err(e) if matches!(e.field.as_str(), "visitor_id" | "event_id") => {
            worker::console_warn!("webhook conversion: {} dropped ({})", e.field, e.message);
            if let Some(o) = c.as_object_mut() {
                o.remove("visitor_id");
                o.remove("event_id");
            }
            Ok(parse_conversion(&c, "", now)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/webhooks/stripe/{tenant_id}`.
pub async fn stripe(mut req: Request, env: &Env, ctx: &Context, tenant_id: &str) -> ApiResult {
    let db = bindings::db(env)?;
    let sealed = if valid_id(tenant_id) {
        store::integration(&db, tenant_id, STRIPE)
            .await?
            .and_then(|r| r.secret_enc)
    } else {
        None
    };
    let Some(sealed) = sealed else {
        return Err(ApiError::new(
            404,
            "not_found",
            "no Stripe integration for this tenant (PUT /api/v1/integrations/stripe)",
        ));
    };
    let body = read_bytes(&mut req, MAX_WEBHOOK_BYTES).await?;
    let secret = secrets::IntegrationSecret {
        tenant_id,
        kind: STRIPE,
    }
    .open(env, &sealed)?;
    let now = now_secs();
    verify_stripe(
        header(&req, "stripe-signature").as_deref(),
        &body,
        &secret,
        now,
    )
    .map_err(|e| bad_signature("Stripe-Signature", e))?;
    drop(secret);
    let event = stripe::parse_event(&body).map_err(|m| ApiError::field("body", m))?;
    // A write like the tenant's others: its rate limit and daily quota (`admission`); Stripe
    // sends a refused event again later.
    let caller = TrackingCaller {
        config: tenant_config(env, tenant_id).await?,
        trusted: true,
    };
    if let Err(refused) = admission::check(&req, env, ctx, &caller).await {
        return Ok(refused.response());
    }
    if !store::claim_receipt(&db, tenant_id, STRIPE, &event.id, now).await? {
        return Ok(json_response(
            200,
            &json!({"received": true, "duplicate": true, "event_id": event.id}),
        ));
    }
    match stripe_event(env, ctx, &caller.config, &event, now).await {
        Ok(answer) => Ok(json_response(200, &answer)),
        Err(e) => {
            // Not processed: Stripe's retry must find the event id free.
            store::release_receipt(&db, tenant_id, STRIPE, &event.id).await?;
            Err(if e.status >= 500 {
                ApiError::new(503, "unavailable", &e.message)
            } else {
                e
            })
        }
    }
}

async fn stripe_event(
    env: &Env,
    ctx: &Context,
    config: &TenantConfig,
    event: &stripe::StripeEvent,
    now: i64,
) -> Result<Value, ApiError> {
    let tenant_id = config.tenant_id.as_str();
    match stripe::action(event) {
        StripeAction::Purchase(c) => {
            // A payment the conversion rules refuse (one older than 90 days, resent from the
            // dashboard) is acknowledged: Stripe's retries could not change it.
            let conversion = match webhook_conversion(c, now) {
                Ok(conversion) => conversion,
                Err(e) if e.status == 400 => {
                    return Ok(
                        json!({"received": true, "event_id": event.id, "ignored": e.message}),
                    )
                }
                Err(e) => return Err(e),
            };
            let fate = accept_conversions(
                env,
                ctx,
                config,
                std::slice::from_ref(&conversion),
                Origin::Stripe,
                0,
                now,
            )
            .await?;
            let status = match fate.first() {
                Some(Fate::Accepted) => "accepted",
                Some(Fate::Duplicate) => "duplicate",
                _ => "refused",
            };
            Ok(
                json!({"received": true, "event_id": event.id, "conversion_id": conversion.conversion_id(), "conversion": status}),
            )
        }
        StripeAction::Refunds(refunds) => {
            let rows: Vec<Refund> = refunds
                .iter()
                .map(|r| Refund {
                    refund_id: &r.refund_id,
                    conversion_id: r.payment_intent.as_deref(),
                    amount: r.amount,
                    currency: &r.currency,
                    refunded_at: if r.created > 0 { r.created } else { now },
                })
                .collect();
            store::insert_refunds(&bindings::db(env)?, tenant_id, &rows).await?;
            Ok(json!({"received": true, "event_id": event.id, "refunds": refunds.len()}))
        }
        StripeAction::Ignore(why) => {
            Ok(json!({"received": true, "event_id": event.id, "ignored": why}))
        }
    }
}

/// `GET /api/v1/webhooks/meta/leadgen?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`.
pub async fn meta_handshake_answer(req: Request, env: &Env) -> ApiResult {
    let expected = config::meta_webhook_verify_token(env).unwrap_or_default();
    let (mode, token, challenge) = (
        query_param(&req, "hub.mode"),
        query_param(&req, "hub.verify_token"),
        query_param(&req, "hub.challenge"),
    );
    match meta_handshake(
        mode.as_deref(),
        token.as_deref(),
        challenge.as_deref(),
        &expected,
    ) {
        Some(challenge) => {
            let resp = Response::ok(challenge)?;
            let _ = resp.headers().set("content-type", "text/plain; charset=utf-8");
            Ok(resp)
        }
        None => Err(ApiError::new(
            403,
            "forbidden",
            "hub.mode must be subscribe and hub.verify_token the configured META_WEBHOOK_VERIFY_TOKEN",
        )),
    }
}

/// What became of one lead of a notification.
enum LeadFate {
    Done(&'static str),
    /// The CRM did not take it (yet): Meta must send the notification again.
    Retry(String),
}

/// `POST /api/v1/webhooks/meta/leadgen`.
pub async fn meta_leadgen(mut req: Request, env: &Env, ctx: &Context) -> ApiResult {
    let body = read_bytes(&mut req, MAX_WEBHOOK_BYTES).await?;
    let app_secret = config::meta_app_secret(env)
        .ok_or_else(|| ApiError::new(500, "misconfigured", "META_APP_SECRET is not set"))?;
    verify_meta(
        header(&req, "x-hub-signature-256").as_deref(),
        &body,
        &app_secret,
    )
    .map_err(|e| bad_signature("X-Hub-Signature-256", e))?;
    let changes = leadgen::parse_notification(&body).map_err(|m| ApiError::field("body", m))?;
    let mut results = Vec::new();
    let mut retry = false;
    for change in &changes {
        let outcome = match lead(env, ctx, change).await {
            Ok(LeadFate::Done(what)) => json!({"leadgen_id": change.leadgen_id, "result": what}),
            Ok(LeadFate::Retry(why)) => {
                retry = true;
                json!({"leadgen_id": change.leadgen_id, "result": "forward_pending", "error": why})
            }
            Err(e) => {
                retry = true;
                worker::console_error!("lead {}: {}", change.leadgen_id, e.message);
                json!({"leadgen_id": change.leadgen_id, "result": "error", "error": e.message})
            }
        };
        results.push(outcome);
    }
    let status = if retry { 503 } else { 200 };
    Ok(json_response(
        status,
        &json!({"received": changes.len(), "leads": results}),
    ))
}

/// Fetches, counts, records and forwards one lead (idempotent by leadgen id).
async fn lead(env: &Env, ctx: &Context, change: &LeadChange) -> Result<LeadFate, ApiError> {
    let db = bindings::db(env)?;
    let Some(tenant_id) = store::tenant_of_page(&db, &change.page_id).await? else {
        return Ok(LeadFate::Done("page_not_connected"));
    };
    let integration = store::integration(&db, &tenant_id, META_LEADS).await?;
    let Some(settings) = integration.as_ref().and_then(lead_settings) else {
        return Ok(LeadFate::Done("page_not_connected"));
    };
    let known = store::lead_by_id(&db, &tenant_id, &change.leadgen_id).await?;
    if let Some(k) = &known {
        if k.forward_status != "failed" || k.forward_attempts >= MAX_FORWARD_ATTEMPTS {
            return Ok(LeadFate::Done("duplicate"));
        }
    }
    // The lead's answers, read with the page's token through the tenant's Meta account.
    let cfg = config::ads_config(env);
    let timeout = config::outbound_timeout_ms(env);
    let page_token = match page_token(env, &tenant_id, &change.page_id).await? {
        Ok(t) => t,
        Err(why) => return Ok(LeadFate::Retry(why)),
    };
    let lead = match graph(
        &leadgen::plan_lead(&cfg, &page_token, &change.leadgen_id),
        timeout,
    )
    .await?
    {
        Ok(body) => leadgen::read_lead(&body),
        Err(why) => {
            worker::console_warn!("lead {} unreadable: {why}", change.leadgen_id);
            return Ok(LeadFate::Done("lead_unreadable"));
        }
    };
    let now = now_secs();
    if known.is_none() {
        let conversion = webhook_conversion(
            leadgen::lead_conversion(change, &lead, now, settings.marketing_consent),
            now,
        )?;
        let config = tenant_config(env, &tenant_id).await?;
        accept_conversions(
            env,
            ctx,
            &config,
            std::slice::from_ref(&conversion),
            Origin::MetaLead,
            0,
            now,
        )
        .await?;
        let user = &conversion.parsed.event.user;
        let recorded = store::claim_lead(
            &db,
            &tenant_id,
            &NewLead {
                leadgen_id: &change.leadgen_id,
                page_id: &change.page_id,
                form_id: change.form_id.as_deref(),
                ad_id: change.ad_id.as_deref(),
                em: user.em.as_ref().map(|h| h.as_str()),
                ph: user.ph_e164.as_ref().map(|h| h.as_str()),
                created_at: conversion.parsed.event.event_time,
                forward_status: if settings.crm_webhook_url.is_some() {
                    "pending"
                } else {
                    "none"
                },
            },
            now,
        )
        .await?;
        if !recorded {
            // A concurrent delivery of the same notification got there first.
            return Ok(LeadFate::Done("duplicate"));
        }
    }
    let Some(url) = settings
        .crm_webhook_url
        .as_deref()
        .and_then(|u| config::callable_webhook(env, u))
    else {
        return Ok(LeadFate::Done("recorded"));
    };
    let secret = match integration.as_ref().and_then(|r| r.secret_enc.as_deref()) {
        Some(sealed) => secrets::IntegrationSecret {
            tenant_id: &tenant_id,
            kind: META_LEADS,
        }
        .open(env, sealed)?,
        None => return Ok(LeadFate::Done("recorded")),
    };
    let attempts = known.map_or(0, |k| k.forward_attempts) + 1;
    let forward = leadgen::plan_crm_forward(&url, &secret, change, &lead, now);
    drop(secret);
    let mut answer = fetch::send(&forward, CRM_TIMEOUT_MS).await;
    if !leadgen::crm_took(&answer) && (answer.status == 0 || answer.status >= 500) {
        // One quick second try for a CRM that blinked; Meta's resend covers longer outages.
        worker::Delay::from(Duration::from_millis(500)).await;
        // Checked again as for the first try: its host is resolved before each call.
        answer = match config::callable_webhook(env, &url) {
            Some(_) => fetch::send(&forward, CRM_TIMEOUT_MS).await,
            None => answer,
        };
    }
    if leadgen::crm_took(&answer) {
        store::set_lead_forward(
            &db,
            &tenant_id,
            &change.leadgen_id,
            "delivered",
            attempts,
            None,
        )
        .await?;
        return Ok(LeadFate::Done("forwarded"));
    }
    let error = format!(
        "CRM answered HTTP {}: {}",
        answer.status,
        crate::core::destinations::snippet(&answer.body)
    );
    store::set_lead_forward(
        &db,
        &tenant_id,
        &change.leadgen_id,
        "failed",
        attempts,
        Some(&error),
    )
    .await?;
    if attempts >= MAX_FORWARD_ATTEMPTS {
        return Ok(LeadFate::Done("forward_failed"));
    }
    Ok(LeadFate::Retry(error))
}
