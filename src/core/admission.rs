//! Admission control of the public writes (events, the batch endpoint, `pixel.gif`, consent
//! choices): per-tenant and per-network rate limits, and a per-tenant daily quota.
//!
//! The rate limits are Cloudflare's Rate Limiting binding (the edge calls it): a counter per key
//! and period in each Cloudflare location, with no per-call charge. Two keys per request: the
//! tenant, and for a browser (site key) the tenant with its client network (an IPv4 address, an
//! IPv6 /64), so one visitor's network cannot use up a site's budget, and one tenant's burst
//! never touches another's. Servers (api or ingest key) are counted by tenant only: one server
//! sends every visitor's events.
//!
//! The quota counts writes: events accepted and consent choices recorded, per UTC day. No
//! storage is touched per event: each isolate counts in memory (`Usage`) and adds its counts to
//! the tenant's row of the day in batches (a flush: one upsert that answers the day's total), at
//! least every `FLUSH_WRITES` writes, and every `NEAR_QUOTA_SYNC_SECS` once the tenant is within
//! 10 % of its quota. Refusals are counted the same way and reach the stats within
//! `REFUSAL_FLUSH_SECS`. So the quota is exact to within `FLUSH_WRITES` writes per isolate serving
//! the tenant, plus what those isolates admit in `NEAR_QUOTA_SYNC_SECS` at the limit; an isolate
//! that is evicted with unflushed counts loses them (fewer than `FLUSH_WRITES`). Under
//! `EAGER_READ_BELOW` an isolate reads the day's total before its first admission of the day, so
//! a small quota is not overrun by an isolate that has not heard of the others' writes yet.

use super::calendar::SECS_PER_DAY;

/// Writes (events accepted and consent choices) a tenant may make per UTC day unless the operator
/// sets its own quota.
pub const DEFAULT_DAILY_QUOTA: u64 = 1_000_000;
/// The largest quota the operator may set.
pub const MAX_DAILY_QUOTA: u64 = 1_000_000_000;
/// An isolate adds its pending writes to storage at least this often (in writes).
pub const FLUSH_WRITES: u64 = 200;
/// Within 10 % of its quota, a tenant's usage is flushed and re-read this often (seconds).
pub const NEAR_QUOTA_SYNC_SECS: i64 = 10;
/// Refusals reach the stats within this many seconds (a deferred flush).
pub const REFUSAL_FLUSH_SECS: i64 = 20;
/// Below this quota an isolate reads the tenant's total before it admits its first write of the
/// day: the per-isolate slack (`FLUSH_WRITES`) would otherwise be a large share of the quota, and
/// a second Worker (the jobs Worker's conversions) would start from nothing.
pub const EAGER_READ_BELOW: u64 = 20 * FLUSH_WRITES;

/// The two rate limits, as configured on the bindings (wrangler.toml `[[ratelimits]]`); the
/// messages quote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Requests per tenant per period in one Cloudflare location.
    Tenant,
    /// Requests per tenant and client network per period in one location (browsers only).
    Network,
    /// The tenant's daily quota of writes.
    DailyQuota,
}

impl Limit {
    /// The stats counter a refusal by this limit goes to.
    pub fn counter(self) -> Refusal {
        match self {
            Limit::Tenant | Limit::Network => Refusal::RateLimited,
            Limit::DailyQuota => Refusal::OverQuota,
        }
    }

    /// The error code of the 429.
    pub fn code(self) -> &'static str {
        match self {
            Limit::Tenant | Limit::Network => "rate_limited",
            Limit::DailyQuota => "over_quota",
        }
    }

    pub fn message(self, quota: u64) -> String {
        match self {
            Limit::Tenant => "the tenant rate limit (requests per tenant per 10 seconds) is \
                exceeded; retry after Retry-After seconds"
                .into(),
            Limit::Network => "the per-network rate limit (requests per tenant from one IPv4 \
                address or IPv6 /64 per 10 seconds) is exceeded; retry after Retry-After seconds"
                .into(),
            Limit::DailyQuota => format!(
                "the tenant's daily quota of {quota} events and consent choices is used up; it \
                 renews at 00:00 UTC (Retry-After)"
            ),
        }
    }

    /// Seconds a refused caller should wait: to the end of the limiter's period, or to the next
    /// UTC day.
    pub fn retry_after(self, now: i64) -> i64 {
        match self {
            Limit::Tenant | Limit::Network => {
                (RATE_PERIOD_SECS - now.rem_euclid(RATE_PERIOD_SECS)).max(1)
            }
            Limit::DailyQuota => (SECS_PER_DAY - now.rem_euclid(SECS_PER_DAY)).max(1),
        }
    }
}

/// The rate limits' period (the binding's `simple.period`: 10 or 60).
pub const RATE_PERIOD_SECS: i64 = 10;

/// The rate limiter key of a tenant.
pub fn tenant_key(tenant_id: &str) -> String {
    format!("t:{tenant_id}")
}

/// The rate limiter key of a tenant's browser traffic from one client network.
pub fn network_key(tenant_id: &str, ip: Option<&str>) -> String {
    let net = super::ratelimit::net_bucket(ip);
    format!("{tenant_id}|{}", net.trim_start_matches("net:"))
}

/// A tenant's quota: its own, or the default.
pub fn quota(configured: Option<u64>) -> u64 {
    configured.unwrap_or(DEFAULT_DAILY_QUOTA)
}

/// Validates an operator's `daily_quota` (null: back to the default).
pub fn parse_quota(v: Option<&serde_json::Value>) -> Result<Option<u64>, String> {
    match v {
        None => Err("is required: a whole number of writes per day, or null for the default".into()),
        Some(serde_json::Value::Null) => Ok(None),
        Some(x) => match x.as_u64() {
            Some(q) if (1..=MAX_DAILY_QUOTA).contains(&q) => Ok(Some(q)),
            _ => Err(format!(
                "must be a whole number of writes per day between 1 and {MAX_DAILY_QUOTA}, or null for the default ({DEFAULT_DAILY_QUOTA})"
            )),
        },
    }
}

pub fn day_of(now: i64) -> i64 {
    now - now.rem_euclid(SECS_PER_DAY)
}

/// What a refused request is counted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    RateLimited,
    OverQuota,
}

/// Counts not yet in storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub writes: u64,
    pub rate_limited: u64,
    pub over_quota: u64,
}

impl Counts {
    pub fn is_empty(&self) -> bool {
        *self == Counts::default()
    }

    fn add(&mut self, other: Counts) {
        self.writes += other.writes;
        self.rate_limited += other.rate_limited;
        self.over_quota += other.over_quota;
    }
}

/// Counts to add to the tenant's row of `day` (its start, unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flush {
    pub day: i64,
    pub counts: Counts,
}

/// One isolate's view of one tenant's usage on one UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// The day the counts below are of.
    day: i64,
    pending: Counts,
    /// When the oldest pending refusal was counted.
    refused_since: Option<i64>,
    /// The tenant's writes on `day`, all isolates, as storage last told.
    known: u64,
    /// When storage last told, this day (None: not yet).
    synced_at: Option<i64>,
    /// A flush or read is in flight: no second one.
    busy: bool,
}

/// What the isolate should do after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Nothing,
    /// Read the tenant's total today (nothing pending to add).
    Sync,
    /// Add these counts, then read the total.
    Flush(Flush),
}

impl Usage {
    /// The tenant's writes today as this isolate knows them (storage's total and its own pending).
    pub fn used(&self, now: i64) -> u64 {
        if self.day == day_of(now) {
            self.known + self.pending.writes
        } else {
            0
        }
    }

    /// May the tenant write more today?
    pub fn admits(&self, quota: u64, now: i64) -> bool {
        self.used(now) < quota
    }

    /// Counts `writes` admitted at `now`. Returns what must be flushed first when the day
    /// changed under pending counts.
    pub fn record_writes(&mut self, writes: u64, now: i64) -> Option<Flush> {
        let rolled = self.roll(now);
        self.pending.writes += writes;
        rolled
    }

    pub fn record_refusal(&mut self, why: Refusal, now: i64) -> Option<Flush> {
        let rolled = self.roll(now);
        match why {
            Refusal::RateLimited => self.pending.rate_limited += 1,
            Refusal::OverQuota => self.pending.over_quota += 1,
        }
        self.refused_since.get_or_insert(now);
        rolled
    }

    /// A new day starts from nothing; the pending counts of the day before leave as its flush.
    fn roll(&mut self, now: i64) -> Option<Flush> {
        let day = day_of(now);
        if self.day == day {
            return None;
        }
        let old = Flush {
            day: self.day,
            counts: self.pending,
        };
        *self = Usage {
            day,
            busy: self.busy,
            ..Usage::default()
        };
        (!old.counts.is_empty()).then_some(old)
    }

    /// What to do now: flush when enough writes are pending, when refusals have waited long
    /// enough, or often when the tenant nears its quota; read the total when this isolate has
    /// not yet today. Takes the pending counts of a flush (give them back with `failed`).
    pub fn next(&mut self, quota: u64, now: i64) -> Action {
        if let Some(old) = self.roll(now) {
            // Yesterday's counts are in flight as today's first flush.
            self.busy = true;
            return Action::Flush(old);
        }
        if self.busy {
            return Action::Nothing;
        }
        let near = self.used(now).saturating_mul(10) >= quota.saturating_mul(9);
        let stale = self
            .synced_at
            .is_none_or(|t| now - t >= NEAR_QUOTA_SYNC_SECS);
        let refusals_due = self
            .refused_since
            .is_some_and(|t| now - t >= REFUSAL_FLUSH_SECS);
        let due = self.pending.writes >= FLUSH_WRITES || refusals_due || (near && stale);
        if due && !self.pending.is_empty() {
            self.busy = true;
            let f = Flush {
                day: self.day,
                counts: self.pending,
            };
            self.pending = Counts::default();
            self.refused_since = None;
            return Action::Flush(f);
        }
        if self.synced_at.is_none() || (near && stale) {
            self.busy = true;
            return Action::Sync;
        }
        Action::Nothing
    }

    /// Must the isolate read the day's total before admitting (a small quota, and no read yet
    /// today here)? Marks the read in flight: answer it with `synced` or `failed(None, _)`.
    pub fn read_first(&mut self, quota: u64, now: i64) -> bool {
        if quota >= EAGER_READ_BELOW || self.busy {
            return false;
        }
        if self.day != day_of(now) && !self.pending.is_empty() {
            // Yesterday's counts leave first, through `next`.
            return false;
        }
        let _ = self.roll(now);
        if self.synced_at.is_some() {
            return false;
        }
        self.busy = true;
        true
    }

    /// Does a refusal wait for a deferred flush (no request may come to trigger one)?
    pub fn refusals_pending(&self) -> bool {
        self.refused_since.is_some()
    }

    /// A flush (or read) of `day` answered: the tenant's writes that day.
    pub fn synced(&mut self, day: i64, total: u64, now: i64) {
        self.busy = false;
        if day == self.day {
            self.known = total;
            self.synced_at = Some(now);
        }
    }

    /// A flush failed: its counts are pending again (if their day is still this one).
    pub fn failed(&mut self, flush: Option<Flush>, now: i64) {
        self.busy = false;
        let Some(f) = flush else { return };
        if f.day == self.day {
            self.pending.add(f.counts);
            if f.counts.rate_limited + f.counts.over_quota > 0 {
                self.refused_since.get_or_insert(now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000; // 2027-01-15 08:00 UTC

    #[test]
    fn a_small_quota_reads_the_total_before_the_first_write_of_the_day() {
        let mut u = Usage::default();
        assert!(
            !u.read_first(DEFAULT_DAILY_QUOTA, NOW),
            "large quotas never wait"
        );
        assert!(u.read_first(4, NOW));
        assert!(!u.read_first(4, NOW), "one read in flight");
        u.synced(day_of(NOW), 4, NOW);
        assert!(!u.admits(4, NOW), "the other isolates' writes count");
        assert!(!u.read_first(4, NOW + 1), "read once a day");
        // A failed read leaves it to the next request.
        let mut v = Usage::default();
        assert!(v.read_first(4, NOW));
        v.failed(None, NOW);
        assert!(v.read_first(4, NOW + 1));
        // The next day reads again; pending counts of the day before leave through `next` first.
        let tomorrow = NOW + SECS_PER_DAY;
        assert!(u.read_first(4, tomorrow));
        let mut w = synced(0);
        w.record_writes(2, NOW);
        assert!(!w.read_first(4, tomorrow));
        assert!(
            matches!(w.next(4, tomorrow), Action::Flush(f) if f.day == day_of(NOW) && f.counts.writes == 2)
        );
    }

    fn synced(known: u64) -> Usage {
        let mut u = Usage::default();
        assert_eq!(u.next(1000, NOW), Action::Sync, "a new isolate reads first");
        u.synced(day_of(NOW), known, NOW);
        u
    }

    #[test]
    fn a_new_isolate_reads_the_days_total_first() {
        let mut u = Usage::default();
        assert!(u.admits(1000, NOW));
        assert_eq!(u.next(1000, NOW), Action::Sync);
        assert_eq!(u.next(1000, NOW), Action::Nothing, "one at a time");
        u.synced(day_of(NOW), 999, NOW);
        assert!(u.admits(1000, NOW));
        u.record_writes(1, NOW);
        assert!(!u.admits(1000, NOW));
    }

    #[test]
    fn writes_are_flushed_in_batches_not_per_event() {
        let mut u = synced(0);
        let quota = 1_000_000;
        let mut flushes = 0;
        for i in 0..1000 {
            u.record_writes(1, NOW + i / 10);
            if let Action::Flush(f) = u.next(quota, NOW + i / 10) {
                assert_eq!(f.counts.writes, FLUSH_WRITES);
                assert_eq!(f.day, day_of(NOW));
                flushes += 1;
                u.synced(f.day, FLUSH_WRITES * flushes, NOW + i / 10);
            }
        }
        assert_eq!(flushes, 1000 / FLUSH_WRITES);
        assert_eq!(u.used(NOW + 100), 1000);
    }

    #[test]
    fn near_the_quota_the_usage_is_read_often() {
        let mut u = synced(850);
        u.record_writes(60, NOW); // 910 of 1000: within 10 %
        assert_eq!(
            u.next(1000, NOW + 1),
            Action::Nothing,
            "synced a second ago"
        );
        match u.next(1000, NOW + NEAR_QUOTA_SYNC_SECS) {
            Action::Flush(f) => assert_eq!(f.counts.writes, 60),
            other => panic!("{other:?}"),
        }
        // Other isolates wrote meanwhile: the total says the quota is used up.
        u.synced(day_of(NOW), 1000, NOW + NEAR_QUOTA_SYNC_SECS);
        assert!(!u.admits(1000, NOW + NEAR_QUOTA_SYNC_SECS));
        // Far from the quota, a few writes wait for more.
        let mut far = synced(10);
        far.record_writes(5, NOW);
        assert_eq!(far.next(1000, NOW + 3600), Action::Nothing);
    }

    #[test]
    fn refusals_reach_storage_within_seconds() {
        let mut u = synced(0);
        u.record_refusal(Refusal::RateLimited, NOW);
        u.record_refusal(Refusal::OverQuota, NOW + 1);
        assert!(u.refusals_pending());
        assert_eq!(u.next(1000, NOW + 5), Action::Nothing);
        match u.next(1000, NOW + REFUSAL_FLUSH_SECS) {
            Action::Flush(f) => {
                assert_eq!(f.counts.rate_limited, 1);
                assert_eq!(f.counts.over_quota, 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(!u.refusals_pending());
    }

    #[test]
    fn a_new_day_starts_from_nothing_and_yesterday_is_flushed_as_yesterday() {
        let mut u = synced(999);
        u.record_writes(1, NOW);
        assert!(!u.admits(1000, NOW));
        let tomorrow = day_of(NOW) + SECS_PER_DAY + 60;
        assert!(
            u.admits(1000, tomorrow),
            "yesterday's total no longer counts"
        );
        let rolled = u.record_writes(3, tomorrow).expect("yesterday's counts");
        assert_eq!(rolled.day, day_of(NOW));
        assert_eq!(rolled.counts.writes, 1);
        assert_eq!(u.used(tomorrow), 3);
        // An answer about yesterday does not set today's total.
        u.synced(day_of(NOW), 1000, tomorrow);
        assert_eq!(u.used(tomorrow), 3);
        // Without a request in between, the next step flushes yesterday's counts first.
        let mut v = synced(0);
        v.record_writes(2, NOW);
        match v.next(1000, tomorrow) {
            Action::Flush(f) => assert_eq!((f.day, f.counts.writes), (day_of(NOW), 2)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_failed_flush_gives_its_counts_back() {
        let mut u = synced(0);
        u.record_writes(FLUSH_WRITES, NOW);
        let Action::Flush(f) = u.next(1_000_000, NOW) else {
            panic!()
        };
        assert_eq!(u.used(NOW), 0, "in flight");
        u.failed(Some(f), NOW);
        assert_eq!(u.used(NOW), FLUSH_WRITES);
        assert!(matches!(u.next(1_000_000, NOW), Action::Flush(_)));
    }

    #[test]
    fn limits_answer_with_when_to_retry() {
        assert_eq!(Limit::Network.retry_after(NOW + 3), 7);
        assert_eq!(Limit::Tenant.retry_after(NOW), 10);
        assert_eq!(Limit::DailyQuota.retry_after(NOW), 16 * 3600);
        assert_eq!(Limit::DailyQuota.code(), "over_quota");
        assert_eq!(Limit::Network.counter(), Refusal::RateLimited);
        assert!(Limit::DailyQuota.message(500).contains("500"));
    }

    #[test]
    fn keys_and_quotas() {
        assert_eq!(tenant_key("t1"), "t:t1");
        assert_eq!(network_key("t1", Some("203.0.113.7")), "t1|203.0.113.7");
        assert_eq!(
            network_key("t1", Some("2001:db8:1:2::9")),
            "t1|2001:db8:1:2::/64"
        );
        assert_eq!(quota(None), DEFAULT_DAILY_QUOTA);
        assert_eq!(quota(Some(5)), 5);
        assert_eq!(parse_quota(Some(&json!(5000))), Ok(Some(5000)));
        assert_eq!(parse_quota(Some(&json!(null))), Ok(None));
        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("10"),
            json!(MAX_DAILY_QUOTA + 1),
        ] {
            assert!(parse_quota(Some(&bad)).is_err(), "{bad}");
        }
        assert!(parse_quota(None).is_err());
    }
}
