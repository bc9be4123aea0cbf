//! Scheduler: one SQLite-backed Durable Object per tenant (`id_from_name(tenant_id)`). It keeps
//! the tenant's job table (`core::ads::schedule::JobTable`) and the Meta call budgets in its own
//! storage, sets its alarm to the earliest next run, and on the alarm runs the due jobs.
//!
//! - Alarms are at-least-once and workers-rs exposes no retry count: the alarm handler never
//!   fails (a failing job is bookkept in the table, with its own backoff), and every job is
//!   idempotent (metrics are upserted by campaign-day, a replace is a replace).
//! - The cron only sends `wake`; the work happens here.
//! - A DO handles one event at a time only between awaits: a run reloads the table before it
//!   applies its result, so a concurrent `add_account` is not lost.

use serde_json::{json, Value};
use wasm_bindgen::JsValue;
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, ScheduledTime, SqlStorage, State,
};

use crate::core::ads::meta_insights::CallBudget;
use crate::core::ads::schedule::{JobEffect, JobKind, JobTable, SchedulerRequest};
use crate::core::calendar::DateRange;
use crate::edge::ads::jobs::{self, RunError};
use crate::edge::{now_ms, now_secs, ApiError};

#[durable_object]
pub struct Scheduler {
    state: State,
    env: Env,
    sql: SqlStorage,
}

impl Scheduler {
    fn get(&self, k: &str) -> Option<String> {
        super::first_column(
            self.sql
                .exec("SELECT v FROM kv WHERE k = ?", vec![k.into()]),
            "v",
        )?
        .as_string()
    }

    fn put(&self, k: &str, v: &str) {
        let _ = self.sql.exec(
            "INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![k.into(), v.into()],
        );
    }

    fn table(&self) -> JobTable {
        self.get("jobs")
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default()
    }

    fn save(&self, table: &JobTable) {
        self.put(
            "jobs",
            &serde_json::to_string(table).unwrap_or_else(|_| "{}".into()),
        );
    }

    fn budget(&self, account: &str) -> CallBudget {
        self.get(&format!("budget:{account}"))
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default()
    }

    fn save_budget(&self, account: &str, budget: &CallBudget) {
        self.put(
            &format!("budget:{account}"),
            &serde_json::to_string(budget).unwrap_or_default(),
        );
    }

    fn remember_tenant(&self, tenant_id: &str) {
        if self.get("tenant_id").as_deref() != Some(tenant_id) {
            self.put("tenant_id", tenant_id);
        }
    }

    /// Alarm at the earliest next run (now if something is overdue); none when nothing is due.
    async fn arm(&self, table: &JobTable) -> Result<()> {
        let storage = self.state.storage();
        match table.earliest_next_run() {
            Some(at) => {
                let at_ms = (at.saturating_mul(1000)).max(now_ms() + 10);
                let current = storage.get_alarm().await?;
                if current != Some(at_ms) {
                    let when =
                        ScheduledTime::new(js_sys::Date::new(&JsValue::from_f64(at_ms as f64)));
                    storage.set_alarm(when).await?;
                }
            }
            None => storage.delete_alarm().await?,
        }
        Ok(())
    }

    /// Runs one job and bookkeeps the result. Never fails: failures are part of the outcome.
    async fn execute(
        &self,
        tenant_id: &str,
        kind: JobKind,
        account: &str,
        range: Option<DateRange>,
    ) -> Value {
        let Some(job) = self.table().job(kind, account).cloned() else {
            return json!({"ok": false, "error": "no such job", "kind": kind, "account": account});
        };
        let run_key = job.run_key();
        let range = range.or(job.sync_range());
        let started = now_ms();
        let mut budget = self.budget(account);
        let run = jobs::run_job(
            &self.env,
            tenant_id,
            kind,
            account,
            range,
            &run_key,
            &mut budget,
        )
        .await;
        self.save_budget(account, &budget);
        let now = now_secs();
        let mut table = self.table();
        let mut effects: Vec<JobEffect> = Vec::new();
        let mut answer = json!({
            "kind": kind, "account": account, "run_key": run_key, "range": range,
            "duration_ms": now_ms() - started,
        });
        if let Some(job) = table.job_mut(kind, account) {
            match &run.outcome {
                Ok(summary) => {
                    effects = job.apply_success(now, run.token_expires_at);
                    answer["ok"] = json!(true);
                    answer["result"] = summary.clone();
                }
                Err(RunError::Deferred(until)) => {
                    job.defer(*until);
                    answer["ok"] = json!(false);
                    answer["deferred_until"] = json!(until);
                }
                Err(RunError::Failed(failure)) => {
                    effects = job.apply_failure(now, failure, run.token_expires_at);
                    answer["ok"] = json!(false);
                    answer["error"] = json!(failure);
                }
            }
            answer["job"] = json!(job);
        }
        self.save(&table);
        if let Err(RunError::Failed(failure)) = &run.outcome {
            jobs::record_account_error(&self.env, tenant_id, account, failure.reason()).await;
        }
        if !effects.is_empty() {
            jobs::apply_effects(&self.env, tenant_id, &effects).await;
            answer["effects"] = json!(effects);
        }
        if let Err(e) = self.arm(&table).await {
            worker::console_error!("scheduler arm: {e}");
        }
        answer
    }

    async fn handle(&self, request: SchedulerRequest) -> std::result::Result<Value, ApiError> {
        match request {
            SchedulerRequest::AddAccount {
                tenant_id,
                account,
                platform,
                token_expires_at,
            } => {
                self.remember_tenant(&tenant_id);
                let mut table = self.table();
                table.add_account(platform, &account, now_secs(), token_expires_at);
                self.save(&table);
                self.arm(&table).await?;
                Ok(
                    json!({"jobs": table.jobs.iter().filter(|j| j.account_id == account).collect::<Vec<_>>()}),
                )
            }
            SchedulerRequest::RemoveAccount { tenant_id, account } => {
                self.remember_tenant(&tenant_id);
                let mut table = self.table();
                table.remove_account(&account);
                self.save(&table);
                self.arm(&table).await?;
                Ok(json!({"removed": true}))
            }
            SchedulerRequest::RunNow {
                tenant_id,
                kind,
                account,
                range,
            } => {
                self.remember_tenant(&tenant_id);
                let mut table = self.table();
                if let Some(job) = table.job_mut(kind, &account) {
                    job.run_now(now_secs());
                }
                self.save(&table);
                Ok(self.execute(&tenant_id, kind, &account, range).await)
            }
            SchedulerRequest::ScheduleAt {
                tenant_id,
                kind,
                account,
                at,
            } => {
                self.remember_tenant(&tenant_id);
                let mut table = self.table();
                let Some(job) = table.job_mut(kind, &account) else {
                    return Err(ApiError::new(404, "not_found", "no such job"));
                };
                job.defer(at);
                let job = job.clone();
                self.save(&table);
                self.arm(&table).await?;
                Ok(json!({"scheduled_at": at, "job": job}))
            }
            SchedulerRequest::SyncAudience {
                tenant_id,
                audience_id,
            } => {
                self.remember_tenant(&tenant_id);
                let Some(account) =
                    jobs::audience_account(&self.env, &tenant_id, &audience_id).await?
                else {
                    return Err(ApiError::new(404, "not_found", "no such audience"));
                };
                let mut budget = self.budget(&account);
                let result =
                    jobs::sync_audience(&self.env, &tenant_id, &audience_id, &mut budget).await;
                self.save_budget(&account, &budget);
                Ok(match result {
                    Ok(v) => json!({"ok": true, "result": v}),
                    Err(RunError::Failed(f)) => json!({"ok": false, "error": f}),
                    Err(RunError::Deferred(until)) => {
                        json!({"ok": false, "deferred_until": until})
                    }
                })
            }
            SchedulerRequest::Wake { tenant_id } => {
                self.remember_tenant(&tenant_id);
                let table = self.table();
                let due = table.due(now_secs()).len();
                // Overdue jobs make arm() fire at once; the alarm does the work.
                self.arm(&table).await?;
                Ok(json!({"due": due, "next_run": table.earliest_next_run()}))
            }
            SchedulerRequest::Jobs { tenant_id } => {
                self.remember_tenant(&tenant_id);
                Ok(json!(self.table()))
            }
        }
    }
}

impl DurableObject for Scheduler {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID",
            None,
        )
        .expect("create scheduler table");
        Scheduler { state, env, sql }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let request: SchedulerRequest = match req.json().await {
            Ok(r) => r,
            Err(e) => {
                return Ok(ApiError::new(400, "invalid_request", &e.to_string()).into_response())
            }
        };
        Ok(match self.handle(request).await {
            Ok(v) => crate::edge::json_response(200, &v),
            Err(e) => e.into_response(),
        })
    }

    async fn alarm(&self) -> Result<Response> {
        let Some(tenant_id) = self.get("tenant_id") else {
            return Response::empty();
        };
        let due = self.table().due(now_secs());
        for (kind, account) in due {
            let outcome = self.execute(&tenant_id, kind, &account, None).await;
            worker::console_log!(
                "scheduler {tenant_id}: {} {account} ok={}",
                kind.as_str(),
                outcome["ok"]
            );
        }
        let table = self.table();
        if let Err(e) = self.arm(&table).await {
            worker::console_error!("scheduler re-arm: {e}");
        }
        Response::empty()
    }
}
