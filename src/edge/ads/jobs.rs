//! What the per-tenant Scheduler Durable Object runs: one job of an account (metrics sync, audience
//! sync, Meta token refresh, health check), the effects the scheduler's bookkeeping decides, and
//! the hourly cron's wake of every tenant's scheduler. The Scheduler calls in here; this module
//! reaches the Scheduler only through its binding (`bindings::scheduler`).

use serde_json::{json, Value};
use worker::{D1Database, Env};

use super::alerts::{deliver_alerts, evaluate_alerts, notify_account_status};
use super::audiences::{poll_customer_match_jobs, sync_account_audiences};
use super::client::{
    access_token, google_creds, internal_failure, meta_call, oauth_client, open_token,
    seal_access_token, send, timeout_ms,
};
use super::settings::load_settings;
use crate::core::ads::kpi::DailyMetrics;
use crate::core::ads::meta_insights::{self, CallBudget, ConversionRule};
use crate::core::ads::schedule::{JobEffect, JobKind, SchedulerRequest};
use crate::core::ads::{accounts, alerts, google_ads, oauth};
use crate::core::ads::{AdsPlatform, ApiFailure, Campaign};
use crate::core::calendar::DateRange;
use crate::edge::store::ads::{self as store, AccountRow};
use crate::edge::{bindings, config, now_ms, now_secs, ApiError};

pub use super::audiences::sync_audience;
pub use super::client::RunError;

/// Meta pages read per sync at most (a runaway cursor must end).
const MAX_PAGES: usize = 200;

pub struct JobRun {
    pub outcome: Result<Value, RunError>,
    /// The account's token expiry after the run (the token refresh slot follows it).
    pub token_expires_at: Option<i64>,
}

impl JobRun {
    fn failed(error: RunError) -> Self {
        JobRun {
            outcome: Err(error),
            token_expires_at: None,
        }
    }
}

/// Runs job `kind` of the tenant's account `account_key`. Never fails: a failure is the outcome.
pub async fn run_job(
    env: &Env,
    tenant_id: &str,
    kind: JobKind,
    account_key: &str,
    range: Option<DateRange>,
    run_key: &str,
    budget: &mut CallBudget,
) -> JobRun {
    let db = match bindings::db(env) {
        Ok(d) => d,
        Err(e) => return JobRun::failed(internal_failure(e)),
    };
    let account = match store::account_by_id(&db, tenant_id, account_key).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return JobRun::failed(RunError::Failed(ApiFailure::Permanent {
                reason: "the ads account was removed".into(),
            }))
        }
        Err(e) => return JobRun::failed(internal_failure(e)),
    };
    let mut expires = account.meta_token_expires_at();
    let outcome = match kind {
        JobKind::DailyMetricsSync | JobKind::IntradayRefresh => match range {
            Some(range) => sync_metrics(env, &db, &account, range, run_key, budget).await,
            None => Ok(json!({"skipped": "no range"})),
        },
        JobKind::AudienceSync => sync_account_audiences(env, &db, &account, budget).await,
        JobKind::TokenRefresh => match refresh_meta_token(env, &db, &account, budget).await {
            Ok((v, new_expiry)) => {
                expires = new_expiry;
                Ok(v)
            }
            Err(e) => Err(e),
        },
        JobKind::HealthCheck => health_check(env, &db, &account, budget).await,
    };
    JobRun {
        outcome,
        token_expires_at: expires,
    }
}

/// Fetches the account's campaigns and the campaign-days of `range`, stores them, then runs the
/// alert rules on the stored data.
async fn sync_metrics(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    range: DateRange,
    run_key: &str,
    budget: &mut CallBudget,
) -> Result<Value, RunError> {
    let started = now_ms();
    let cfg = config::ads_config(env);
    let timeout = timeout_ms(env);
    let token = access_token(env, db, account).await?;
    let acct = account.account_ref();
    let mut campaigns: Vec<Campaign> = Vec::new();
    let mut rows: Vec<DailyMetrics> = Vec::new();
    let mut calls = 0usize;
    match account.platform() {
        AdsPlatform::Meta => {
            let mut after: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let req = meta_insights::plan_campaigns(
                    &cfg,
                    &token,
                    &account.account_id,
                    after.as_deref(),
                );
                let page =
                    meta_insights::read_campaigns(&meta_call(&req, budget, timeout).await?, &acct)?;
                calls += 1;
                campaigns.extend(page.items);
                after = page.next_cursor;
                if after.is_none() {
                    break;
                }
            }
            let settings = load_settings(db, &account.tenant_id)
                .await
                .map_err(internal_failure)?;
            let rule = ConversionRule::from_actions(&settings.meta_conversion_actions);
            let mut after: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let req = meta_insights::plan_insights(
                    &cfg,
                    &token,
                    &account.account_id,
                    range,
                    after.as_deref(),
                );
                let page = meta_insights::read_insights(
                    &meta_call(&req, budget, timeout).await?,
                    &acct,
                    &rule,
                )?;
                calls += 1;
                rows.extend(page.items);
                after = page.next_cursor;
                if after.is_none() {
                    break;
                }
            }
        }
        AdsPlatform::Google => {
            let creds = google_creds(env, account.login_customer_id.as_deref(), &token);
            let req = google_ads::plan_search_stream(&cfg, &creds, &account.account_id, range);
            let sync = google_ads::read_search_stream(&send(&req, timeout).await, &acct)?;
            calls += 1;
            campaigns = sync.campaigns;
            rows = sync.rows;
        }
    }
    let fetched_ms = now_ms() - started;
    let now = now_secs();
    let stored = store::save_sync(db, account, &campaigns, &rows, run_key, now)
        .await
        .map_err(internal_failure)?;
    let alerts_sent = match evaluate_alerts(env, db, account, now).await {
        Ok(n) => n,
        Err(e) => {
            worker::console_error!("alerts for {}: {}", account.id, e.message);
            0
        }
    };
    // Customer Match jobs run for minutes to hours at Google: each sync reads how they ended.
    let polled = match account.platform() {
        AdsPlatform::Google => poll_customer_match_jobs(env, db, account).await,
        AdsPlatform::Meta => 0,
    };
    Ok(json!({
        "platform": account.platform, "account_id": account.account_id, "range": range,
        "campaigns": campaigns.len(), "rows": stored, "calls": calls,
        "fetch_ms": fetched_ms, "total_ms": now_ms() - started, "alerts_sent": alerts_sent,
        "customer_match_jobs_polled": polled,
    }))
}

/// Exchanges the account's Meta token for a fresh long-lived one; returns the summary and the new
/// expiry.
async fn refresh_meta_token(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    budget: &mut CallBudget,
) -> Result<(Value, Option<i64>), RunError> {
    let token = open_token(env, account, &account.access_token_enc, "access_token")?;
    let client = oauth_client(env, AdsPlatform::Meta, "")
        .map_err(|e| RunError::Failed(ApiFailure::Permanent { reason: e.message }))?;
    let req = oauth::plan_meta_token_exchange(&config::ads_config(env), &client, &token);
    let now = now_secs();
    let grant = oauth::read_token_response(
        AdsPlatform::Meta,
        &meta_call(&req, budget, timeout_ms(env)).await?,
        now,
    )?;
    let extended = oauth::refresh_extended(account.token_expires_at, &grant);
    let enc = seal_access_token(env, account, &grant.access_token).map_err(internal_failure)?;
    store::set_access_token(db, &account.id, &enc, grant.expires_at, now)
        .await
        .map_err(internal_failure)?;
    Ok((
        json!({"refreshed": true, "extended": extended, "expires_at": grant.expires_at}),
        grant.expires_at,
    ))
}

/// Reads the account from its platform: the token still works, the account still exists, and
/// its status (disabled, unsettled, closed, ...), which is stored and, when the account's ads
/// cannot run, notified once a day.
async fn health_check(
    env: &Env,
    db: &D1Database,
    account: &AccountRow,
    budget: &mut CallBudget,
) -> Result<Value, RunError> {
    let cfg = config::ads_config(env);
    let timeout = timeout_ms(env);
    let token = access_token(env, db, account).await?;
    let info = match account.platform() {
        AdsPlatform::Meta => accounts::read_meta_account(
            &meta_call(
                &accounts::plan_meta_account(&cfg, &token, &account.account_id),
                budget,
                timeout,
            )
            .await?,
        )?,
        AdsPlatform::Google => {
            let creds = google_creds(env, account.login_customer_id.as_deref(), &token);
            accounts::read_google_customer(
                &send(
                    &accounts::plan_google_customer(&cfg, &creds, &account.account_id),
                    timeout,
                )
                .await,
                &account.account_id,
            )?
        }
    };
    let now = now_secs();
    store::set_account_status(db, &account.id, info.status, &info.status_detail, now)
        .await
        .map_err(internal_failure)?;
    let notified = notify_account_status(env, db, account, info.status, &info.status_detail, now)
        .await
        .unwrap_or_else(|e| {
            worker::console_error!("account status alert for {}: {}", account.id, e.message);
            0
        });
    Ok(
        json!({"healthy": !info.status.needs_attention(), "name": info.name, "currency": info.currency,
              "account_status": info.status, "account_status_detail": info.status_detail,
              "alerts_sent": notified}),
    )
}

/// Notify / mark the account, as the scheduler's bookkeeping decided.
pub async fn apply_effects(env: &Env, tenant_id: &str, effects: &[JobEffect]) {
    let Ok(db) = bindings::db(env) else { return };
    let now = now_secs();
    for effect in effects {
        let result = match effect {
            JobEffect::Notify { account_id, .. } => {
                match store::account_by_id(&db, tenant_id, account_id).await {
                    Ok(row) => {
                        let platform = row.as_ref().map(AccountRow::platform);
                        match alerts::sync_failure_alert(effect, platform) {
                            Some(mut alert) => {
                                if let Some(r) = &row {
                                    alert.account_id = r.account_id.clone();
                                }
                                deliver_alerts(env, &db, tenant_id, &[alert], now).await
                            }
                            None => Ok(()),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
            JobEffect::MarkAccountError { account_id, reason } => {
                store::mark_account_error(&db, tenant_id, account_id, reason, now).await
            }
            JobEffect::MarkAccountActive { account_id } => {
                store::mark_account_active(&db, tenant_id, account_id, now).await
            }
        };
        if let Err(e) = result {
            worker::console_error!("scheduler effect for {tenant_id}: {}", e.message);
        }
    }
}

/// Every failed run is visible on the account (the status changes only after 3 in a row).
pub async fn record_account_error(env: &Env, tenant_id: &str, account_key: &str, reason: &str) {
    if let Ok(db) = bindings::db(env) {
        let _ =
            store::set_account_last_error(&db, tenant_id, account_key, reason, now_secs()).await;
    }
}

/// The ads account (our id) an audience belongs to.
pub async fn audience_account(
    env: &Env,
    tenant_id: &str,
    audience_id: &str,
) -> Result<Option<String>, ApiError> {
    Ok(
        store::audience_by_id(&bindings::db(env)?, tenant_id, audience_id)
            .await?
            .map(|a| a.ads_account_id),
    )
}

/// The hourly cron wakes every tenant's scheduler; the schedulers do the work on their alarms.
pub async fn wake_schedulers(env: &Env) {
    let tenants = match bindings::db(env) {
        Ok(db) => store::tenants_with_accounts(&db).await.unwrap_or_default(),
        Err(_) => return,
    };
    let calls = tenants.iter().map(|tenant_id| async move {
        let r = bindings::scheduler(
            env,
            tenant_id,
            &SchedulerRequest::Wake {
                tenant_id: tenant_id.clone(),
            },
        )
        .await;
        if let Err(e) = r {
            worker::console_error!("wake scheduler {tenant_id}: {}", e.message);
        }
    });
    futures_util::future::join_all(calls).await;
    worker::console_log!("ads: woke {} scheduler(s)", tenants.len());
}
