//! Pixel verification (a platform test call), the daily pixel health check and the webhook
//! test: they call platforms and webhooks, so they run in the jobs Worker (`jobs` feature).

use serde_json::{json, Value};
use worker::{Env, Request};

use super::auth::authenticate;
use super::fetch::send;
use super::store::d1;
use super::{bindings, config, json_response, now_secs, ApiError, ApiResult};
use crate::core::destinations::{destination, snippet};
use crate::core::event::FieldError;
use crate::core::health::{self, Activity, CheckResult, PixelHealth};
use crate::core::platform::Platform;
use crate::core::retry::Outcome;

/// `POST /api/v1/tracking/settings/notifications/test`: sends a sample message to the webhook.
pub async fn test_notification(req: Request, env: &Env) -> ApiResult {
    let auth = authenticate(&req, env).await?;
    let p = d1::tenant_profile(&bindings::db(env)?, &auth.tenant_id).await?;
    let url = p.notify_webhook_url.ok_or_else(|| {
        ApiError::invalid(FieldError::new("webhook_url", "no webhook is configured"))
    })?;
    let url = config::callable_webhook(env, &url).ok_or_else(|| {
        ApiError::invalid(FieldError::new(
            "webhook_url",
            "the stored webhook URL is no longer allowed; set it again",
        ))
    })?;
    let payload = json!({
        "text": format!("pixelgate: test notification for {}", p.name),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "pixelgate test notification: health check alerts will arrive here."}}],
    });
    let answer = send(
        &health::notification_request(&url, &payload),
        config::outbound_timeout_ms(env),
    )
    .await;
    // Not called at all (refused at send time, or no answer): say why.
    let error = (answer.status == 0).then_some(answer.body.as_str());
    Ok(json_response(
        200,
        &json!({"ok": (200..300).contains(&answer.status), "http_status": answer.status, "error": error}),
    ))
}

/// The 08:00 UTC job: every active server-side pixel silent for 48 h gets a platform test event
/// (as `verify` does); the result is recorded on the pixel and the tenant's webhook is notified.
/// `now` is the scheduled time. Idempotent within a day (`health::needs_test`).
pub async fn run_health_check(
    env: &Env,
    now: i64,
) -> std::result::Result<(usize, usize), ApiError> {
    let db = bindings::db(env)?;
    let candidates = d1::health_candidates(&db, now - health::SILENT_AFTER).await?;
    let dashboard = config::dashboard_url(env);
    let mut tested = 0;
    let mut notified = 0;
    let mut i = 0;
    while i < candidates.len() {
        let tenant_id = candidates[i].tenant_id.clone();
        let mut results: Vec<(String, CheckResult, Value)> = vec![];
        while i < candidates.len() && candidates[i].tenant_id == tenant_id {
            let c = &candidates[i];
            i += 1;
            let health_ok = c
                .health_result
                .as_deref()
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .and_then(|v| v.get("ok").and_then(Value::as_bool));
            let act = Activity {
                is_active: true,
                server_side_enabled: true,
                created_at: c.created_at,
                last_delivered_at: c.last_delivered_at,
                health_checked_at: c.health_checked_at,
                health_ok,
                ..Default::default()
            };
            if !health::needs_test(&act, now) {
                continue;
            }
            let silent = now - c.last_delivered_at.unwrap_or(c.created_at);
            let untestable = Platform::parse(&c.platform)
                .and_then(|p| health::untestable(p, c.test_event_code.is_some()));
            let (ok, answer, record) = match untestable {
                // Reported silent, never as a failed test: there was no test to fail.
                Some(reason) => (None, reason.to_string(), Value::Null),
                None => {
                    tested += 1;
                    let verify = match d1::get_pixel(&db, &tenant_id, &c.id).await {
                        Ok(Some(row)) => match verify(env, &tenant_id, &row).await {
                            Ok(v) => v,
                            Err(e) => {
                                json!({"ok": false, "platform": c.platform, "error": e.message})
                            }
                        },
                        Ok(None) => continue, // deleted meanwhile
                        Err(e) => json!({"ok": false, "platform": c.platform, "error": e.message}),
                    };
                    let _ = d1::record_verify(&db, &tenant_id, &c.id, &verify, now).await;
                    let ok = verify.get("ok").and_then(Value::as_bool).unwrap_or(false);
                    let answer = match verify.get("http_status") {
                        Some(s) => format!(
                            "HTTP {}: {}",
                            s,
                            verify
                                .get("response")
                                .map(|r| r.to_string())
                                .unwrap_or_default()
                        ),
                        None => verify
                            .get("error")
                            .map(|r| r.to_string())
                            .unwrap_or_default(),
                    };
                    (Some(ok), answer, verify)
                }
            };
            results.push((
                c.id.clone(),
                CheckResult {
                    pixel: c.id.clone(),
                    platform: c.platform.clone(),
                    pixel_id: c.pixel_id.clone(),
                    ok,
                    silent_hours: silent / 3600,
                    answer,
                },
                record,
            ));
        }
        if results.is_empty() {
            continue;
        }
        let target = d1::notify_target(&db, &tenant_id).await?;
        let mut sent = None;
        if let Some(t) = &target {
            let url = t.notify_webhook_url.as_deref();
            if let Some(url) = &url.and_then(|u| config::callable_webhook(env, u)) {
                let checks: Vec<CheckResult> = results.iter().map(|r| r.1.clone()).collect();
                let payload = health::notification(&t.name, &checks, &dashboard);
                let answer = send(
                    &health::notification_request(url, &payload),
                    config::outbound_timeout_ms(env),
                )
                .await;
                let ok = (200..300).contains(&answer.status);
                if ok {
                    notified += 1;
                } else {
                    worker::console_warn!(
                        "health check: webhook of tenant {tenant_id} answered {}",
                        answer.status
                    );
                }
                sent = Some(json!({"ok": ok, "http_status": answer.status}));
            }
        }
        for (id, r, verify) in &results {
            let record = json!({
                "ok": r.ok, "silent_hours": r.silent_hours, "verify": verify,
                "untested": r.ok.is_none().then_some(&r.answer), "notified": sent.clone(),
            });
            let _ = d1::record_health(&db, &tenant_id, id, &record, now).await;
        }
    }
    Ok((tested, notified))
}

/// What `core::health::status` judges a pixel by (the pixel list and the weekly report).
pub(super) fn activity_of(row: &d1::PixelRow, a: Option<&d1::PixelActivityRow>) -> Activity {
    let health_ok = a
        .and_then(|a| a.health_result.as_deref())
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .and_then(|v| v.get("ok").and_then(Value::as_bool));
    Activity {
        is_active: row.is_active != 0,
        server_side_enabled: row.server_side_enabled != 0,
        created_at: row.created_at,
        delivered_24h: a.and_then(|a| a.delivered_24h).unwrap_or(0) as u64,
        failed_24h: a.and_then(|a| a.failed_24h).unwrap_or(0) as u64,
        last_delivered_at: a.and_then(|a| a.last_delivered_at),
        health_checked_at: a.and_then(|a| a.health_checked_at),
        health_ok,
        paused: row
            .paused_at
            .map(|_| row.paused_reason.clone().unwrap_or_default()),
    }
}

/// The Monday report: every pixel of each tenant with a notification webhook, with its health
/// (as the dashboard shows it), posted to the webhook. Returns (tenants reported, delivered).
pub async fn run_weekly_report(
    env: &Env,
    now: i64,
) -> std::result::Result<(usize, usize), ApiError> {
    let db = bindings::db(env)?;
    let dashboard = config::dashboard_url(env);
    let mut reported = 0;
    let mut delivered = 0;
    for t in d1::tenants_with_webhook(&db).await? {
        let Some(url) = config::callable_webhook(env, &t.notify_webhook_url) else {
            continue;
        };
        let pixels = d1::list_pixels(&db, &t.id).await?;
        if pixels.is_empty() {
            continue;
        }
        let acts = d1::pixel_activity(&db, &t.id, now - health::DAY).await?;
        let list: Vec<PixelHealth> = pixels
            .iter()
            .map(|p| PixelHealth {
                platform: p.platform.clone(),
                pixel_id: p.pixel_id.clone(),
                health: health::status(&activity_of(p, acts.iter().find(|a| a.id == p.id)), now),
            })
            .collect();
        let payload = health::weekly_report(&t.name, &list, &dashboard);
        let answer = send(
            &health::notification_request(&url, &payload),
            config::outbound_timeout_ms(env),
        )
        .await;
        reported += 1;
        if (200..300).contains(&answer.status) {
            delivered += 1;
        } else {
            worker::console_warn!(
                "weekly report: webhook of tenant {} answered {}",
                t.id,
                answer.status
            );
        }
    }
    Ok((reported, delivered))
}

/// The pixel `verify` endpoint: the platform's answer to a test call, as JSON.
pub async fn verify(env: &Env, tenant_id: &str, row: &d1::PixelRow) -> Result<Value, ApiError> {
    let platform = row
        .platform()
        .ok_or_else(|| ApiError::new(500, "bad_pixel", "unknown platform"))?;
    let dest = destination(platform).ok_or_else(|| {
        ApiError::new(
            501,
            "unsupported",
            "this platform is not supported by this gateway version",
        )
    })?;
    let creds = super::conversions::credentials(env, tenant_id, row).await?;
    let req = match dest.plan_verify(&config::platform_config(env), &creds, now_secs()) {
        Ok(r) => r,
        Err(reason) => return Ok(json!({"ok": false, "platform": platform, "error": reason})),
    };
    drop(creds);
    let answer = send(&req, config::outbound_timeout_ms(env)).await;
    let outcome = dest.classify(&answer);
    let findings = dest.verify_findings(&answer);
    Ok(json!({
        "ok": matches!(outcome, Outcome::Delivered { .. }) && findings.is_empty(),
        "findings": findings,
        "platform": platform,
        "http_status": answer.status,
        "outcome": outcome,
        "response": snippet(&answer.body),
    }))
}
