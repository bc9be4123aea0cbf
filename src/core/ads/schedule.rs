//! The per-tenant job table the scheduler Durable Object keeps, and its calendar.
//!
//! Rules followed:
//! - daily metrics sync at 06:00 UTC, re-reading the last
//!   [`DAILY_SYNC_LOOKBACK_DAYS`] complete days: platforms keep attributing conversions to past
//!   days, and rows are upserted by (campaign, day), so re-reading overwrites, never adds;
//! - intraday refresh every 4 hours, on UTC slots 00, 04, 08, 12, 16, 20,
//!   re-reading today only;
//! - audience sync Mondays 03:00 UTC;
//! - Meta long-lived token refresh 7 days before expiry; after a refresh that did
//!   not push the expiry back, the next attempt waits at least a day (no busy loop);
//! - health check daily at 08:00 UTC;
//! - a failed run is retried with exponential backoff (5 min, 20 min, 80 min, ...) but never
//!   later than the job's next regular slot, which then takes over; a rate limit waits for the
//!   platform's hint; an invalid token is not retried before the next regular slot;
//! - after [`NOTIFY_AFTER_FAILURES`] (3) consecutive failures, or at once for an
//!   invalid token, the tenant is notified and the account marked in error — once per run of
//!   failures; the next success clears it and marks the account active again;
//! - alarms are at-least-once: [`Job::run_key`] names the slot a run belongs to, so a repeated
//!   or retried run of the same slot writes under the same key;
//! - the Durable Object alarm is set to [`JobTable::earliest_next_run`].

use serde::{Deserialize, Serialize};

use super::{AdsPlatform, ApiFailure};
use crate::core::calendar::{Date, DateRange, SECS_PER_DAY};

pub const DAILY_SYNC_HOUR: i64 = 6;
pub const DAILY_SYNC_LOOKBACK_DAYS: i64 = 3;
pub const INTRADAY_EVERY_SECS: i64 = 4 * 3600;
pub const AUDIENCE_SYNC_HOUR: i64 = 3;
pub const HEALTH_CHECK_HOUR: i64 = 8;
pub const TOKEN_REFRESH_LEAD_SECS: i64 = 7 * SECS_PER_DAY;
pub const NOTIFY_AFTER_FAILURES: u32 = 3;
pub const RETRY_BASE_SECS: i64 = 300;
/// `next_run` of a job that has nothing left to do (a token that never expires).
pub const NEVER: i64 = i64::MAX;

const HOUR: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    DailyMetricsSync,
    IntradayRefresh,
    AudienceSync,
    TokenRefresh,
    HealthCheck,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::DailyMetricsSync => "daily_metrics_sync",
            JobKind::IntradayRefresh => "intraday_refresh",
            JobKind::AudienceSync => "audience_sync",
            JobKind::TokenRefresh => "token_refresh",
            JobKind::HealthCheck => "health_check",
        }
    }

    /// The jobs an account of `platform` gets. Google access tokens are refreshed on demand
    /// before each call (they live one hour), so only Meta has a token refresh job.
    pub fn for_platform(platform: AdsPlatform) -> &'static [JobKind] {
        match platform {
            AdsPlatform::Meta => &[
                JobKind::DailyMetricsSync,
                JobKind::IntradayRefresh,
                JobKind::AudienceSync,
                JobKind::TokenRefresh,
                JobKind::HealthCheck,
            ],
            AdsPlatform::Google => &[
                JobKind::DailyMetricsSync,
                JobKind::IntradayRefresh,
                JobKind::AudienceSync,
                JobKind::HealthCheck,
            ],
        }
    }
}

/// The first time strictly after `now` at `hour`:00 UTC.
fn next_daily_at(now: i64, hour: i64) -> i64 {
    let today = Date::from_unix(now).start_unix() + hour * HOUR;
    if today > now {
        today
    } else {
        today + SECS_PER_DAY
    }
}

/// The first Monday `hour`:00 UTC strictly after `now`.
fn next_monday_at(now: i64, hour: i64) -> i64 {
    let day = Date::from_unix(now);
    let this_week = day.add_days(-day.weekday().index()).start_unix() + hour * HOUR;
    if this_week > now {
        this_week
    } else {
        this_week + 7 * SECS_PER_DAY
    }
}

/// The first 4-hour slot strictly after `now`.
fn next_intraday_slot(now: i64) -> i64 {
    (now.div_euclid(INTRADAY_EVERY_SECS) + 1) * INTRADAY_EVERY_SECS
}

/// When a Meta token expiring at `expires_at` should be refreshed, not before `earliest`.
pub fn token_refresh_slot(expires_at: Option<i64>, earliest: i64) -> i64 {
    match expires_at {
        Some(exp) => (exp - TOKEN_REFRESH_LEAD_SECS).max(earliest),
        None => NEVER,
    }
}

/// The next regular slot of `kind` after a run (or a seeding) at `now`.
pub fn next_slot_after(kind: JobKind, now: i64, token_expires_at: Option<i64>) -> i64 {
    match kind {
        JobKind::DailyMetricsSync => next_daily_at(now, DAILY_SYNC_HOUR),
        JobKind::IntradayRefresh => next_intraday_slot(now),
        JobKind::AudienceSync => next_monday_at(now, AUDIENCE_SYNC_HOUR),
        JobKind::HealthCheck => next_daily_at(now, HEALTH_CHECK_HOUR),
        JobKind::TokenRefresh => token_refresh_slot(token_expires_at, now + SECS_PER_DAY),
    }
}

/// What the edge must do besides storing the updated job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum JobEffect {
    /// Send the tenant's notification webhook (see `alerts::Alert::SyncFailing`).
    Notify {
        account_id: String,
        kind: JobKind,
        consecutive_errors: u32,
        last_error: String,
    },
    MarkAccountError {
        account_id: String,
        reason: String,
    },
    MarkAccountActive {
        account_id: String,
    },
}

/// One row of the job table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub kind: JobKind,
    pub account_id: String,
    /// The regular slot the pending run belongs to; it stays put while that run is retried.
    pub slot: i64,
    pub next_run: i64,
    pub last_run: Option<i64>,
    pub consecutive_errors: u32,
    pub last_error: Option<String>,
    /// The tenant was told about the current run of failures (so it is told once).
    pub notified: bool,
}

impl Job {
    pub fn new(kind: JobKind, account_id: &str, now: i64, token_expires_at: Option<i64>) -> Job {
        let slot = match kind {
            // A token already inside its refresh window is refreshed right away.
            JobKind::TokenRefresh => token_refresh_slot(token_expires_at, now),
            _ => next_slot_after(kind, now, token_expires_at),
        };
        Job {
            kind,
            account_id: account_id.to_string(),
            slot,
            next_run: slot,
            last_run: None,
            consecutive_errors: 0,
            last_error: None,
            notified: false,
        }
    }

    pub fn is_due(&self, now: i64) -> bool {
        self.next_run <= now
    }

    /// Idempotency key of the pending run: kind, account and slot (UTC date and hour).
    pub fn run_key(&self) -> String {
        let day = Date::from_unix(self.slot);
        let hour = (self.slot - day.start_unix()) / HOUR;
        format!(
            "{}:{}:{}T{:02}",
            self.kind.as_str(),
            self.account_id,
            day,
            hour
        )
    }

    /// The days a metrics job reads for its pending run.
    pub fn sync_range(&self) -> Option<DateRange> {
        let slot_day = Date::from_unix(self.slot);
        match self.kind {
            JobKind::DailyMetricsSync => {
                Some(DateRange::days_before(slot_day, DAILY_SYNC_LOOKBACK_DAYS))
            }
            JobKind::IntradayRefresh => Some(DateRange::single(slot_day)),
            _ => None,
        }
    }

    /// "Sync now" from the API: run at `now` without changing the failure bookkeeping.
    pub fn run_now(&mut self, now: i64) {
        self.next_run = now;
    }

    /// The call budget is spent: wait until `until`; nothing failed, nothing is counted.
    pub fn defer(&mut self, until: i64) {
        self.next_run = until;
    }

    pub fn apply_success(&mut self, now: i64, token_expires_at: Option<i64>) -> Vec<JobEffect> {
        let recovered = self.notified;
        self.last_run = Some(now);
        self.consecutive_errors = 0;
        self.last_error = None;
        self.notified = false;
        self.slot = next_slot_after(self.kind, now, token_expires_at);
        self.next_run = self.slot;
        if recovered {
            vec![JobEffect::MarkAccountActive {
                account_id: self.account_id.clone(),
            }]
        } else {
            Vec::new()
        }
    }

    pub fn apply_failure(
        &mut self,
        now: i64,
        failure: &ApiFailure,
        token_expires_at: Option<i64>,
    ) -> Vec<JobEffect> {
        self.last_run = Some(now);
        self.consecutive_errors += 1;
        self.last_error = Some(failure.reason().to_string());
        let regular = next_slot_after(self.kind, now, token_expires_at);
        let retry_at = match failure {
            ApiFailure::AuthInvalid { .. } | ApiFailure::Permanent { .. } => None,
            ApiFailure::RateLimited {
                retry_after_secs: Some(secs),
                ..
            } => Some(now + i64::from(*secs)),
            ApiFailure::RateLimited { .. } | ApiFailure::Retryable { .. } => {
                Some(now + retry_backoff_secs(self.consecutive_errors))
            }
        };
        match retry_at {
            Some(at) if at < regular => self.next_run = at,
            _ => {
                self.slot = regular;
                self.next_run = regular;
            }
        }
        let auth_invalid = matches!(failure, ApiFailure::AuthInvalid { .. });
        if self.notified || !(auth_invalid || self.consecutive_errors >= NOTIFY_AFTER_FAILURES) {
            return Vec::new();
        }
        self.notified = true;
        vec![
            JobEffect::Notify {
                account_id: self.account_id.clone(),
                kind: self.kind,
                consecutive_errors: self.consecutive_errors,
                last_error: failure.reason().to_string(),
            },
            JobEffect::MarkAccountError {
                account_id: self.account_id.clone(),
                reason: failure.reason().to_string(),
            },
        ]
    }
}

/// 5 min × 4^(n−1): 5 min, 20 min, 80 min, ... for the n-th consecutive failure.
pub fn retry_backoff_secs(consecutive_errors: u32) -> i64 {
    let factor = 4i64.saturating_pow(consecutive_errors.saturating_sub(1));
    RETRY_BASE_SECS.saturating_mul(factor)
}

/// The whole table, stored by the scheduler Durable Object as one value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobTable {
    pub jobs: Vec<Job>,
}

impl JobTable {
    /// Adds the account's jobs; jobs it already has are kept as they are.
    pub fn add_account(
        &mut self,
        platform: AdsPlatform,
        account_id: &str,
        now: i64,
        token_expires_at: Option<i64>,
    ) {
        for &kind in JobKind::for_platform(platform) {
            if self.job(kind, account_id).is_none() {
                self.jobs
                    .push(Job::new(kind, account_id, now, token_expires_at));
            }
        }
    }

    pub fn remove_account(&mut self, account_id: &str) {
        self.jobs.retain(|j| j.account_id != account_id);
    }

    pub fn job(&self, kind: JobKind, account_id: &str) -> Option<&Job> {
        self.jobs
            .iter()
            .find(|j| j.kind == kind && j.account_id == account_id)
    }

    pub fn job_mut(&mut self, kind: JobKind, account_id: &str) -> Option<&mut Job> {
        self.jobs
            .iter_mut()
            .find(|j| j.kind == kind && j.account_id == account_id)
    }

    /// Jobs due at `now`, most overdue first; token refreshes first among equals so the syncs
    /// that follow use the fresh token.
    pub fn due(&self, now: i64) -> Vec<(JobKind, String)> {
        let mut due: Vec<&Job> = self.jobs.iter().filter(|j| j.is_due(now)).collect();
        due.sort_by_key(|j| (j.next_run, j.kind != JobKind::TokenRefresh, j.kind));
        due.into_iter()
            .map(|j| (j.kind, j.account_id.clone()))
            .collect()
    }

    /// When the Durable Object alarm should fire next; None when nothing is scheduled.
    pub fn earliest_next_run(&self) -> Option<i64> {
        self.jobs
            .iter()
            .map(|j| j.next_run)
            .filter(|&t| t != NEVER)
            .min()
    }
}

/// What the Scheduler Durable Object is asked to do (its request body, JSON).
#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum SchedulerRequest {
    AddAccount {
        tenant_id: String,
        account: String,
        platform: AdsPlatform,
        token_expires_at: Option<i64>,
    },
    RemoveAccount {
        tenant_id: String,
        account: String,
    },
    /// Run a job now and answer with its outcome (`POST /api/v1/ads/sync/{id}`).
    RunNow {
        tenant_id: String,
        kind: JobKind,
        account: String,
        range: Option<DateRange>,
    },
    /// Move a job's next run (the alarm fires then).
    ScheduleAt {
        tenant_id: String,
        kind: JobKind,
        account: String,
        at: i64,
    },
    /// Sync one audience now (`POST /api/v1/ads/audiences/{id}/sync`).
    SyncAudience {
        tenant_id: String,
        audience_id: String,
    },
    /// From the cron: make sure the alarm is set; run overdue jobs.
    Wake {
        tenant_id: String,
    },
    Jobs {
        tenant_id: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::calendar::Weekday;

    fn t(date: &str, hour: i64, minute: i64) -> i64 {
        Date::parse(date).unwrap().start_unix() + hour * HOUR + minute * 60
    }

    fn retryable() -> ApiFailure {
        ApiFailure::Retryable {
            reason: "HTTP 503: upstream unavailable".into(),
        }
    }

    #[test]
    fn daily_sync_is_the_next_0600_utc() {
        let kind = JobKind::DailyMetricsSync;
        assert_eq!(
            next_slot_after(kind, t("2026-01-15", 5, 59), None),
            t("2026-01-15", 6, 0)
        );
        assert_eq!(
            next_slot_after(kind, t("2026-01-15", 6, 0), None),
            t("2026-01-16", 6, 0)
        );
        assert_eq!(
            next_slot_after(kind, t("2026-01-15", 23, 30), None),
            t("2026-01-16", 6, 0)
        );
        // Across a month and a leap day.
        assert_eq!(
            next_slot_after(kind, t("2028-02-28", 7, 0), None),
            t("2028-02-29", 6, 0)
        );
        assert_eq!(
            next_slot_after(kind, t("2026-12-31", 6, 1), None),
            t("2027-01-01", 6, 0)
        );
        assert_eq!(
            next_slot_after(JobKind::HealthCheck, t("2026-01-15", 7, 0), None),
            t("2026-01-15", 8, 0)
        );
    }

    #[test]
    fn audience_sync_is_the_next_monday_0300_utc() {
        let kind = JobKind::AudienceSync;
        // Thursday → next Monday.
        assert_eq!(
            next_slot_after(kind, t("2026-01-15", 10, 0), None),
            t("2026-01-19", 3, 0)
        );
        // Monday before 03:00 → the same day.
        assert_eq!(
            next_slot_after(kind, t("2026-01-19", 2, 59), None),
            t("2026-01-19", 3, 0)
        );
        // Monday at or after 03:00 → a week later.
        assert_eq!(
            next_slot_after(kind, t("2026-01-19", 3, 0), None),
            t("2026-01-26", 3, 0)
        );
        // Sunday night → the next morning, across a year boundary.
        assert_eq!(
            next_slot_after(kind, t("2028-01-02", 23, 0), None),
            t("2028-01-03", 3, 0)
        );
        assert_eq!(
            Date::from_unix(t("2028-01-03", 3, 0)).weekday(),
            Weekday::Monday
        );
    }

    #[test]
    fn intraday_refresh_runs_on_4_hour_slots() {
        let kind = JobKind::IntradayRefresh;
        assert_eq!(
            next_slot_after(kind, t("2026-01-15", 9, 17), None),
            t("2026-01-15", 12, 0)
        );
        assert_eq!(
            next_slot_after(kind, t("2026-01-15", 12, 0), None),
            t("2026-01-15", 16, 0)
        );
        assert_eq!(
            next_slot_after(kind, t("2026-01-15", 22, 0), None),
            t("2026-01-16", 0, 0)
        );
    }

    #[test]
    fn meta_token_is_refreshed_7_days_before_expiry() {
        let now = t("2026-01-15", 10, 0);
        let expires = t("2026-03-01", 12, 0);
        let job = Job::new(JobKind::TokenRefresh, "1234567890", now, Some(expires));
        assert_eq!(job.next_run, t("2026-02-22", 12, 0));
        // Already inside the window at connection time: refresh right away.
        let soon = Job::new(
            JobKind::TokenRefresh,
            "1234567890",
            now,
            Some(now + 3 * SECS_PER_DAY),
        );
        assert_eq!(soon.next_run, now);
        // A refresh that did not extend the token waits a day, instead of looping.
        let mut stuck = soon.clone();
        stuck.apply_success(now, Some(now + 3 * SECS_PER_DAY));
        assert_eq!(stuck.next_run, now + SECS_PER_DAY);
        // A token without expiry needs no refresh.
        let never = Job::new(JobKind::TokenRefresh, "1234567890", now, None);
        assert_eq!(never.next_run, NEVER);
    }

    #[test]
    fn table_seeds_jobs_per_platform_and_sets_the_alarm() {
        let now = t("2026-01-15", 10, 0);
        let mut table = JobTable::default();
        table.add_account(
            AdsPlatform::Meta,
            "1234567890",
            now,
            Some(t("2026-03-01", 0, 0)),
        );
        table.add_account(AdsPlatform::Google, "9876543210", now, None);
        assert_eq!(table.jobs.len(), 9);
        assert!(table.job(JobKind::TokenRefresh, "9876543210").is_none());
        // The earliest is the 12:00 intraday refresh.
        assert_eq!(table.earliest_next_run(), Some(t("2026-01-15", 12, 0)));
        // Adding again changes nothing.
        let before = table.clone();
        table.add_account(AdsPlatform::Meta, "1234567890", now + 60, None);
        assert_eq!(table, before);

        let due = table.due(t("2026-01-16", 6, 0));
        let kinds: Vec<(JobKind, &str)> = due.iter().map(|(k, a)| (*k, a.as_str())).collect();
        assert_eq!(
            kinds,
            [
                (JobKind::IntradayRefresh, "1234567890"),
                (JobKind::IntradayRefresh, "9876543210"),
                (JobKind::DailyMetricsSync, "1234567890"),
                (JobKind::DailyMetricsSync, "9876543210"),
            ]
        );
        table.remove_account("9876543210");
        assert_eq!(table.jobs.len(), 5);
        assert_eq!(JobTable::default().earliest_next_run(), None);
    }

    #[test]
    fn due_token_refresh_runs_before_syncs_of_the_same_time() {
        let now = t("2026-01-15", 6, 0);
        let mut table = JobTable::default();
        table
            .jobs
            .push(Job::new(JobKind::DailyMetricsSync, "1", now - 60, None));
        let mut refresh = Job::new(JobKind::TokenRefresh, "1", now, Some(now));
        refresh.next_run = now;
        table.jobs.push(refresh);
        let due = table.due(now);
        assert_eq!(due[0].0, JobKind::TokenRefresh);
        assert_eq!(due[1].0, JobKind::DailyMetricsSync);
    }

    #[test]
    fn success_moves_to_the_next_slot_and_run_key_names_the_slot() {
        let mut job = Job::new(
            JobKind::DailyMetricsSync,
            "1234567890",
            t("2026-01-14", 12, 0),
            None,
        );
        assert_eq!(job.run_key(), "daily_metrics_sync:1234567890:2026-01-15T06");
        let range = job.sync_range().unwrap();
        assert_eq!(
            (range.from.to_string(), range.to.to_string()),
            ("2026-01-12".into(), "2026-01-14".into())
        );
        let effects = job.apply_success(t("2026-01-15", 6, 2), None);
        assert!(effects.is_empty());
        assert_eq!(job.last_run, Some(t("2026-01-15", 6, 2)));
        assert_eq!(job.next_run, t("2026-01-16", 6, 0));
        assert_eq!(job.run_key(), "daily_metrics_sync:1234567890:2026-01-16T06");

        let intraday = Job::new(
            JobKind::IntradayRefresh,
            "1234567890",
            t("2026-01-15", 9, 0),
            None,
        );
        assert_eq!(
            intraday.run_key(),
            "intraday_refresh:1234567890:2026-01-15T12"
        );
        assert_eq!(
            intraday.sync_range(),
            Some(DateRange::single(Date::parse("2026-01-15").unwrap()))
        );
        assert_eq!(
            Job::new(JobKind::HealthCheck, "1", 0, None).sync_range(),
            None
        );
    }

    #[test]
    fn failures_back_off_keep_the_slot_and_notify_once_after_three() {
        let start = t("2026-01-15", 6, 0);
        let mut job = Job::new(JobKind::DailyMetricsSync, "1234567890", start - 60, None);
        let key = job.run_key();

        assert!(job.apply_failure(start, &retryable(), None).is_empty());
        assert_eq!(job.next_run, start + 300);
        assert!(job
            .apply_failure(start + 300, &retryable(), None)
            .is_empty());
        assert_eq!(job.next_run, start + 300 + 1200);
        assert_eq!(job.run_key(), key, "a retry belongs to the same slot");

        let effects = job.apply_failure(start + 1500, &retryable(), None);
        assert_eq!(
            effects,
            vec![
                JobEffect::Notify {
                    account_id: "1234567890".into(),
                    kind: JobKind::DailyMetricsSync,
                    consecutive_errors: 3,
                    last_error: "HTTP 503: upstream unavailable".into(),
                },
                JobEffect::MarkAccountError {
                    account_id: "1234567890".into(),
                    reason: "HTTP 503: upstream unavailable".into(),
                },
            ]
        );
        assert_eq!(job.next_run, start + 1500 + 4800);
        assert_eq!(job.consecutive_errors, 3);
        // The fourth and later failures do not notify again.
        assert!(job
            .apply_failure(start + 6300, &retryable(), None)
            .is_empty());
        assert_eq!(job.consecutive_errors, 4);
        assert_eq!(
            job.last_error.as_deref(),
            Some("HTTP 503: upstream unavailable")
        );

        // Recovery clears the errors and reactivates the account.
        let effects = job.apply_success(start + 30_000, None);
        assert_eq!(
            effects,
            vec![JobEffect::MarkAccountActive {
                account_id: "1234567890".into()
            }]
        );
        assert_eq!(
            (job.consecutive_errors, job.last_error.clone(), job.notified),
            (0, None, false)
        );
        // A new run of failures notifies again after three.
        for i in 0..2 {
            assert!(job
                .apply_failure(start + 40_000 + i, &retryable(), None)
                .is_empty());
        }
        assert_eq!(
            job.apply_failure(start + 40_002, &retryable(), None).len(),
            2
        );
    }

    #[test]
    fn backoff_never_passes_the_next_regular_slot() {
        let mut job = Job::new(JobKind::IntradayRefresh, "1", t("2026-01-15", 7, 0), None);
        job.consecutive_errors = 4; // the fifth failure would wait 5 min × 256
        job.apply_failure(t("2026-01-15", 8, 0), &retryable(), None);
        assert_eq!(job.next_run, t("2026-01-15", 12, 0));
        assert_eq!(
            job.slot,
            t("2026-01-15", 12, 0),
            "the regular slot takes over"
        );
        assert_eq!(retry_backoff_secs(1), 300);
        assert_eq!(retry_backoff_secs(3), 4800);
        assert_eq!(retry_backoff_secs(60), i64::MAX);
    }

    #[test]
    fn rate_limits_wait_for_the_hint_and_deferrals_are_not_failures() {
        let now = t("2026-01-15", 6, 0);
        let mut job = Job::new(JobKind::DailyMetricsSync, "1", now - 60, None);
        let limited = ApiFailure::RateLimited {
            reason: "Meta error 80004: too many calls to this ad account".into(),
            retry_after_secs: Some(900),
        };
        job.apply_failure(now, &limited, None);
        assert_eq!(job.next_run, now + 900);
        assert_eq!(job.consecutive_errors, 1);

        let mut fresh = Job::new(JobKind::DailyMetricsSync, "1", now - 60, None);
        fresh.defer(now + 1800);
        assert_eq!((fresh.next_run, fresh.consecutive_errors), (now + 1800, 0));
        fresh.run_now(now + 10);
        assert!(fresh.is_due(now + 10));
    }

    #[test]
    fn an_invalid_token_marks_the_account_at_once_and_waits_for_the_next_slot() {
        let now = t("2026-01-15", 6, 0);
        let mut job = Job::new(JobKind::DailyMetricsSync, "1234567890", now - 60, None);
        let invalid = ApiFailure::AuthInvalid {
            reason: "Meta error 190/463: Error validating access token: Session has expired".into(),
        };
        let effects = job.apply_failure(now, &invalid, None);
        assert_eq!(effects.len(), 2);
        assert!(matches!(
            &effects[0],
            JobEffect::Notify {
                consecutive_errors: 1,
                ..
            }
        ));
        assert!(matches!(&effects[1], JobEffect::MarkAccountError { .. }));
        assert_eq!(job.next_run, t("2026-01-16", 6, 0));
        assert!(job
            .apply_failure(t("2026-01-16", 6, 0), &invalid, None)
            .is_empty());

        let permanent = ApiFailure::Permanent {
            reason: "Meta error 100: Invalid parameter".into(),
        };
        let mut other = Job::new(JobKind::HealthCheck, "1", now, None);
        assert!(other
            .apply_failure(t("2026-01-15", 8, 0), &permanent, None)
            .is_empty());
        assert_eq!(other.next_run, t("2026-01-16", 8, 0));
    }

    #[test]
    fn job_table_round_trips_through_json() {
        let mut table = JobTable::default();
        table.add_account(
            AdsPlatform::Meta,
            "1234567890",
            t("2026-01-15", 10, 0),
            None,
        );
        let json = serde_json::to_string(&table).unwrap();
        assert!(json.contains(r#""kind":"daily_metrics_sync""#));
        let back: JobTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, table);
    }
}
