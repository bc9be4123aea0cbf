//! Cron jobs, dispatched by cron string. Scheduled jobs are idempotent (a rerun finds nothing
//! left to purge, and a pixel tested today is not tested again). `now` is the event's scheduled
//! time, so a run evaluates the data as of its schedule.

use serde_json::json;
use worker::{Env, Request};

use super::auth::require_admin;
use super::request::query_param;
use super::store::d1;
use super::{bindings, config, json_response, now_secs, ApiError, ApiResult};
use crate::core::retention;

/// 08:00 UTC daily: pixel health check (a test event to each pixel silent for 48 h).
pub const HEALTH_CHECK_CRON: &str = "0 8 * * *";
/// 08:00 UTC on Mondays: the weekly pixel health report to each tenant's webhook.
pub const WEEKLY_REPORT_CRON: &str = "0 8 * * 1";
/// 03:15 UTC daily: retention.
pub const RETENTION_CRON: &str = "15 3 * * *";
/// Hourly: wake the ads Scheduler Durable Objects (their alarms do the work).
pub const ADS_WAKE_CRON: &str = "0 * * * *";

pub async fn run(cron: &str, now: i64, env: &Env) {
    match cron {
        HEALTH_CHECK_CRON => match super::health::run_health_check(env, now).await {
            Ok((tested, notified)) => worker::console_log!(
                "health check ({cron}): {tested} silent pixels tested, {notified} tenants notified"
            ),
            Err(e) => worker::console_error!("health check ({cron}) failed: {}", e.message),
        },
        WEEKLY_REPORT_CRON => match super::health::run_weekly_report(env, now).await {
            Ok((reported, delivered)) => worker::console_log!(
                "weekly pixel report ({cron}): {reported} tenants, {delivered} delivered"
            ),
            Err(e) => worker::console_error!("weekly pixel report ({cron}) failed: {}", e.message),
        },
        RETENTION_CRON => retention(env, cron, now).await,
        // Hourly: wake every tenant's ads Scheduler DO (the DOs do the work on their alarms).
        ADS_WAKE_CRON => super::ads::jobs::wake_schedulers(env).await,
        // Any other schedule: retention is always safe to run.
        _ => {
            worker::console_warn!("unknown cron {cron}: running retention");
            retention(env, cron, now).await
        }
    }
}

/// The daily job: every table's retention rule (`core::retention`), and the re-encryption of
/// stored secrets under the current key (a no-op once every one is).
async fn retention(env: &Env, cron: &str, now: i64) {
    let db = match bindings::db(env) {
        Ok(db) => db,
        Err(e) => return worker::console_error!("retention ({cron}): {}", e.message),
    };
    match d1::purge(&db, now).await {
        Ok((ips, rollups)) => worker::console_log!(
            "retention ({cron}): {ips} ips cleared, {rollups} old rollup rows deleted"
        ),
        Err(e) => worker::console_error!("retention ({cron}) failed: {}", e.message),
    }
    // Each tenant's shards: the event store past its window, exception rows past retention.
    let tenants = d1::retention_targets(&db).await.unwrap_or_else(|e| {
        worker::console_error!("retention ({cron}): {}", e.message);
        vec![]
    });
    for t in tenants {
        let ask = serde_json::json!({"now": now, "retention_days": t.retention_days});
        if let Err(e) = super::durable::shard_calls::each_shard::<serde_json::Value>(
            env,
            &t.id,
            &t.layout(),
            "/retention",
            &ask,
        )
        .await
        {
            worker::console_error!("retention ({cron}) of tenant {}: {}", t.id, e.message);
        }
    }
    let days =
        retention::consent_retention_days(config::var(env, "CONSENT_RETENTION_DAYS").as_deref());
    match d1::retention::purge_aged(&db, &retention::Cutoffs::at(now, days)).await {
        Ok(purged) => worker::console_log!("retention ({cron}): purged {purged:?}"),
        Err(e) => worker::console_error!(
            "retention ({cron}) of the other tables failed: {}",
            e.message
        ),
    }
    match super::secrets::reencrypt(env).await {
        Ok(r) if r.pixels + r.ads_accounts + r.unreadable > 0 => worker::console_log!(
            "re-encrypt ({cron}): {} pixel and {} ads account secrets moved to key {}, {} unreadable",
            r.pixels,
            r.ads_accounts,
            r.current_key,
            r.unreadable
        ),
        Ok(_) => {}
        Err(e) => worker::console_error!("re-encrypt ({cron}) failed: {}", e.message),
    }
}

/// `POST /internal/cron?cron=…&scheduled=…` (admin token): a cron run handed over by the beacon
/// Worker, which holds the triggers.
pub async fn internal_cron(req: Request, env: &Env) -> ApiResult {
    require_admin(&req, env).await?;
    let cron = query_param(&req, "cron")
        .ok_or_else(|| ApiError::field("cron", "is required (the cron expression)"))?;
    let scheduled = query_param(&req, "scheduled")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(now_secs);
    run(&cron, scheduled, env).await;
    Ok(json_response(200, &json!({"ok": true, "cron": cron})))
}
