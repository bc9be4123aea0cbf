//! Alerts: the thresholds API and the alerts list; after each metrics sync, the budget and
//! performance rules of `core::ads::alerts` run on the stored data, and what the throttle lets
//! through is stored and posted to the tenant's notification webhook.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use worker::{D1Database, Env, Request};

use crate::core::ads::alerts::{self, Alert, AlertThresholds, BudgetStatus, BudgetUse};
use crate::core::calendar::{Date, DateRange};
use crate::core::health::validate_webhook_url;
use crate::core::outbound::OutboundRequest;
use crate::edge::auth::tenant_of_api_key;
use crate::edge::request::{read_json, MAX_JSON_BYTES};
use crate::edge::store::ads::{self as store, AccountRow};
use crate::edge::{bindings, config, fetch, json_response, now_secs, ApiError, ApiResult};

/// The stored thresholds over the defaults (unreadable ones: the defaults).
fn thresholds_of(raw: &Value) -> AlertThresholds {
    serde_json::from_value(raw.clone()).unwrap_or_default()
}

pub(super) async fn list_alerts(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let db = bindings::db(env)?;
    let rows = store::list_alerts(&db, &tenant_id).await?;
    let (raw, webhook) = store::alert_settings(&db, &tenant_id).await?;
    let alerts: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({"id": r.id, "kind": r.kind, "platform": r.platform, "account_id": r.account_id,
            "campaign_id": r.campaign_id, "campaign_name": r.campaign_name, "value": r.value,
            "threshold": r.threshold, "message": r.message, "delivered": r.delivered, "created_at": r.created_at}))
        .collect();
    Ok(json_response(
        200,
        &json!({"alerts": alerts, "thresholds": thresholds_of(&raw), "notification_webhook_url": webhook}),
    ))
}

/// `PUT /alerts/thresholds`: merges the given thresholds (a number ≥ 0, or null: off) and the
/// webhook (`core::health::validate_webhook_url`, or null/empty: none) into the stored settings.
pub(super) async fn put_thresholds(mut req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let body = read_json(&mut req, MAX_JSON_BYTES).await?;
    let Some(input) = body.as_object() else {
        return Err(ApiError::field("body", "must be an object"));
    };
    let db = bindings::db(env)?;
    let (mut raw, mut webhook) = store::alert_settings(&db, &tenant_id).await?;
    if !raw.is_object() {
        raw = json!({});
    }
    for (k, v) in input {
        if k == "notification_webhook_url" {
            webhook = match v {
                Value::Null => None,
                Value::String(u) if u.is_empty() => None,
                Value::String(u) => Some(
                    validate_webhook_url(u, config::allow_loopback_webhooks(env))
                        .map_err(|m| ApiError::field(k, &m))?,
                ),
                _ => return Err(ApiError::field(k, "must be a URL or null")),
            };
            continue;
        }
        if !AlertThresholds::NAMES.contains(&k.as_str()) {
            return Err(ApiError::field(k, "is not a known threshold"));
        }
        if !(v.is_null() || v.as_f64().is_some_and(|x| x >= 0.0)) {
            return Err(ApiError::field(
                k,
                "must be a non-negative number or null (off)",
            ));
        }
        raw[k] = v.clone();
    }
    let merged: AlertThresholds = serde_json::from_value(raw.clone())
        .map_err(|e| ApiError::field("body", &format!("invalid thresholds: {e}")))?;
    store::save_alert_settings(&db, &tenant_id, &raw, webhook.as_deref(), now_secs()).await?;
    Ok(json_response(
        200,
        &json!({"thresholds": merged, "notification_webhook_url": webhook}),
    ))
}

/// Budget and performance rules for the synced account; sends what the throttle lets through.
/// Returns how many alerts were sent.
pub(super) async fn evaluate_alerts(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    now: i64,
) -> Result<usize, ApiError> {
    let tenant = account.tenant_id.as_str();
    let (raw, _) = store::alert_settings(db, tenant).await?;
    let thresholds = thresholds_of(&raw);
    let today = Date::from_unix(now);
    let campaigns = store::campaigns(db, tenant, &account.platform, &account.account_id).await?;
    let window = DateRange::days_before(today.add_days(1), 15);
    let rows = store::daily_metrics(
        db,
        tenant,
        window,
        None,
        Some((&account.platform, &account.account_id)),
    )
    .await?;
    let spent_today: BTreeMap<&str, i64> = rows
        .iter()
        .filter(|r| r.date == today)
        .map(|r| (r.campaign_id.as_str(), r.metrics.spend_micros))
        .collect();
    let budgets: Vec<BudgetStatus> = campaigns
        .iter()
        .filter_map(|c| {
            BudgetStatus::from_campaign(
                c,
                &account.currency,
                spent_today.get(c.campaign_id.as_str()).copied(),
            )
        })
        .collect();
    let performance = alerts::performance_windows(&rows, today);
    let spent_7d: BTreeMap<&str, i64> = performance
        .iter()
        .map(|p| (p.campaign_id.as_str(), p.current.spend_micros))
        .collect();
    let uses: Vec<BudgetUse> = campaigns
        .iter()
        .filter_map(|c| {
            BudgetUse::from_campaign(
                c,
                &account.currency,
                spent_7d.get(c.campaign_id.as_str()).copied().unwrap_or(0),
            )
        })
        .collect();
    let mut found = alerts::evaluate(&thresholds, &budgets, &performance);
    found.extend(alerts::evaluate_utilization(&thresholds, &uses));
    send_throttled(env, db, tenant, found, now).await
}

/// Sends what the 24 h throttle lets through; how many were sent.
async fn send_throttled(
    env: &Env,
    db: &D1Database,
    tenant_id: &str,
    found: Vec<Alert>,
    now: i64,
) -> Result<usize, ApiError> {
    if found.is_empty() {
        return Ok(0);
    }
    let last_sent =
        store::alerts_sent_since(db, tenant_id, now - alerts::ALERT_COOLDOWN_SECS).await?;
    let to_send = alerts::throttle(found, &last_sent, now);
    let count = to_send.len();
    deliver_alerts(env, db, tenant_id, &to_send, now).await?;
    Ok(count)
}

/// An ad account its platform reports as not active: the tenant hears of it once a day while it
/// lasts. Returns how many alerts were sent (0 or 1).
pub(super) async fn notify_account_status(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    status: crate::core::ads::accounts::AccountStatus,
    detail: &str,
    now: i64,
) -> Result<usize, ApiError> {
    if !status.needs_attention() {
        return Ok(0);
    }
    let alert = alerts::account_status_alert(
        account.platform(),
        &account.account_id,
        &account.name,
        status.as_str(),
        detail,
    );
    send_throttled(env, db, &account.tenant_id, vec![alert], now).await
}

/// Stores the alerts (visible through the API) and posts them to the tenant's webhook.
pub(super) async fn deliver_alerts(
    env: &Env,
    db: &D1Database,
    tenant_id: &str,
    list: &[Alert],
    now: i64,
) -> Result<(), ApiError> {
    if list.is_empty() {
        return Ok(());
    }
    let webhook = store::notification_webhook(db, tenant_id)
        .await?
        .and_then(|u| config::callable_webhook(env, &u));
    let delivered = match webhook {
        None => "no_webhook",
        Some(url) => {
            let name = store::tenant_name(db, tenant_id).await?.unwrap_or_default();
            let payload = alerts::slack_payload(&name, list);
            let req = OutboundRequest::post_json(url, payload.to_string());
            let r = fetch::send(&req, config::outbound_timeout_ms(env)).await;
            if (200..300).contains(&r.status) {
                "sent"
            } else {
                worker::console_error!("alert webhook for {tenant_id}: HTTP {}", r.status);
                "failed"
            }
        }
    };
    store::insert_alerts(db, tenant_id, list, delivered, now).await
}
