//! The event shard: each tenant's accepted events live in a few SQLite Durable Objects (its
//! shards), and the shard that claimed an event owns its whole lifecycle — the dedup claim, the
//! outbox to the delivery Queue, the lease a consumer takes before calling a platform, the outcome
//! per destination, retries, pauses, replays and erasure. Nothing per event goes to D1, so there is
//! no single-database ceiling: a tenant's shard count grows with its volume.
//!
//! What a shard writes per event is what billing counts, so the layout is chosen for it:
//! - one row per fresh event, in a table of its UTC day (`ev_<day>`): that row is the dedup claim,
//!   the outbox entry and the 48 h event store at once; a day's table is dropped whole once every
//!   key in it is past the window, so expiry writes no rows;
//! - events travel in parcels (one Queue message of up to 60 KB, many events); a parcel has one
//!   row (written when sent, leased, settled), whatever its size;
//! - a delivered destination writes nothing of its own (the parcel's outcome holds it); only
//!   exceptions (retrying, paused, failed, skipped at delivery) get a row per (event, pixel).
//!
//! This module plans all of it as values; `edge::durable::shard` runs the SQL.

use serde::{Deserialize, Serialize};

use super::fanout::{DeliveryJob, DeliveryStatus, QueueMessage, Settlement, MAX_MESSAGE_BYTES};
use super::hash::sha256_hex;

pub const DEDUP_WINDOW_SECS: i64 = 48 * 3600;
const DAY_SECS: i64 = 86_400;

/// A parcel is filled up to this many bytes of events: the Queue bills each message per 64 KB,
/// and the envelope stays inside the same unit.
pub const PARCEL_BYTES: usize = 60 * 1024;
/// How long a consumer holds a parcel it leased: longer than its requests can take (each has the
/// outbound timeout, ten seconds by default) plus recording the outcome.
pub const LEASE_SECS: i64 = 300;
/// A parcel sent but neither leased nor settled this long after (its message lost, or its
/// consumer gone) is sent again.
pub const RESEND_AFTER_SECS: i64 = 600;
/// A parcel that was sent this many times without being settled crashed its consumer each time:
/// its deliveries fail (visibly, and replayable) instead of looping.
pub const MAX_SENDS: i64 = 5;
/// How long a shard collects claims before it sends them: each flush is an alarm invocation, a
/// Queue operation and a row, shared by every event that arrived meanwhile.
pub const FLUSH_DELAY_MS: i64 = 500;
/// Counters are summed in memory and added to D1's hourly rollups at most this often.
pub const COUNTERS_EVERY_MS: i64 = 60_000;
/// How often a shard looks for parcels to send again.
pub const SWEEP_EVERY_MS: i64 = 60_000;

/// Shards per tenant unless the operator sets more (`tenants.shards`): one Durable Object takes
/// on the order of a thousand claims a second.
pub const DEFAULT_SHARDS: u32 = 1;
pub const MAX_SHARDS: u32 = 64;

/// The Durable Object name of a tenant's shard `n`.
pub fn shard_name(tenant_id: &str, n: u32) -> String {
    format!("{tenant_id}/{n}")
}

/// Which of `shards` shards owns an event id.
pub fn shard_of(event_id: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    let h = sha256_hex(event_id);
    u32::from_str_radix(&h[..8], 16).unwrap_or(0) % shards
}

/// A tenant's shard layout. The count only grows; while the keys claimed under the previous
/// count may still be live (the dedup window after the change), a claim also asks the shard the
/// previous count gave the id, so no event is accepted twice across a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardLayout {
    pub shards: u32,
    #[serde(default)]
    pub previous: u32,
    /// When the count last changed (unix seconds).
    #[serde(default)]
    pub changed_at: i64,
}

impl Default for ShardLayout {
    fn default() -> Self {
        ShardLayout {
            shards: DEFAULT_SHARDS,
            previous: DEFAULT_SHARDS,
            changed_at: 0,
        }
    }
}

impl ShardLayout {
    pub fn count(&self) -> u32 {
        self.shards.clamp(1, MAX_SHARDS)
    }

    /// The shard that claims `event_id`, and the one to ask first whether it was seen when the
    /// count changed within the window and the id moved.
    pub fn route(&self, event_id: &str, now: i64) -> (u32, Option<u32>) {
        let current = shard_of(event_id, self.count());
        let moved = now - self.changed_at < DEDUP_WINDOW_SECS && self.previous != self.shards;
        let previous = moved
            .then(|| shard_of(event_id, self.previous.clamp(1, MAX_SHARDS)))
            .filter(|&p| p != current);
        (current, previous)
    }

    /// The layout after growing to `shards` at `now`, or why not: counts only grow (a shard's
    /// exception rows stay where they are), up to `MAX_SHARDS`, and not again within the dedup
    /// window of the last change (a claim asks one previous layout, no more).
    pub fn grow(&self, shards: u32, now: i64) -> Result<ShardLayout, &'static str> {
        if !(self.count()..=MAX_SHARDS).contains(&shards) {
            return Err("must be an integer from the current count to 64 (shards only grow)");
        }
        if shards == self.count() {
            return Ok(*self);
        }
        if self.previous != self.shards && now - self.changed_at < DEDUP_WINDOW_SECS {
            return Err(
                "changed less than 48 h ago: the dedup window of the last change must pass first",
            );
        }
        Ok(ShardLayout {
            shards,
            previous: self.count(),
            changed_at: now,
        })
    }

    /// Every shard that may hold state of this tenant (counts only grow, so `0..count`).
    pub fn all(&self) -> std::ops::Range<u32> {
        0..self.count().max(self.previous.clamp(1, MAX_SHARDS))
    }
}

/// The UTC day (days since the epoch) a time falls on.
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_SECS)
}

/// The table of a day's events.
pub fn day_table(day: i64) -> String {
    format!("ev_{day}")
}

/// The day of an events table, from its name.
pub fn table_day(name: &str) -> Option<i64> {
    name.strip_prefix("ev_")?.parse().ok()
}

/// The days whose tables may hold a key that is still live at `now`, oldest first.
pub fn live_days(now: i64) -> std::ops::RangeInclusive<i64> {
    day_of(now - DEDUP_WINDOW_SECS)..=day_of(now)
}

/// Whether a day's table can be dropped: every key in it is past the window.
pub fn droppable(day: i64, now: i64) -> bool {
    (day + 1) * DAY_SECS <= now - DEDUP_WINDOW_SECS
}

/// Whether a key claimed at `claimed_at` is still a duplicate at `now`.
pub fn is_live(claimed_at: i64, now: i64) -> bool {
    now - claimed_at < DEDUP_WINDOW_SECS
}

/// One event of a claim: its id and its queue item (JSON: its record and the first attempt of
/// each destination), kept and sent if it is fresh.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimItem {
    pub event_id: String,
    pub visitor_id: Option<String>,
    pub message: String,
}

/// One request's share of its events on one shard: one call, one transaction. `rejected` (the
/// request's invalid events) travels with one share, for the counters. `check_only` asks a
/// shard of the previous layout which of the ids it saw, without claiming anything.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRequest {
    pub now: i64,
    pub events: Vec<ClaimItem>,
    pub rejected: u32,
    pub check_only: bool,
}

/// A claim travels to its shard as lines, not JSON: the messages are JSON already, and nesting
/// them would escape every quote on the way in and unescape it in the shard. serde_json's compact
/// output never holds a raw line break, and ids hold no space (`event::valid_id`):
///
/// ```text
/// C <now> <rejected> <check_only 0|1> <events>     then per event:
/// E <event_id> <v:visitor_id or ->                 and its message line
/// ```
impl ClaimRequest {
    pub fn encode(&self) -> String {
        let mut out = format!(
            "C {} {} {} {}\n",
            self.now,
            self.rejected,
            u8::from(self.check_only),
            self.events.len()
        );
        for e in &self.events {
            debug_assert!(!e.message.contains('\n'), "a queue message spans lines");
            let visitor = match &e.visitor_id {
                Some(v) => format!("v:{v}"),
                None => "-".into(),
            };
            out.push_str(&format!("E {} {visitor}\n{}\n", e.event_id, e.message));
        }
        out
    }

    pub fn decode(text: &str) -> Result<ClaimRequest, String> {
        let mut lines = text.lines();
        let mut next = |what: &str| lines.next().ok_or_else(|| format!("claim: missing {what}"));
        fn fields<'a, const N: usize>(line: &'a str, tag: &str) -> Result<[&'a str; N], String> {
            let mut it = line.split(' ');
            if it.next() != Some(tag) {
                return Err(format!("claim: expected a {tag} line"));
            }
            let mut out = [""; N];
            for f in out.iter_mut() {
                *f = it
                    .next()
                    .filter(|f| !f.is_empty())
                    .ok_or_else(|| format!("claim: short {tag} line"))?;
            }
            if it.next().is_some() {
                return Err(format!("claim: long {tag} line"));
            }
            Ok(out)
        }
        let number = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| format!("claim: bad number {v:?}"))
        };
        let [now, rejected, check_only, count] = fields::<4>(next("header")?, "C")?;
        let count = number(count)?;
        if !(0..=10_000).contains(&count) {
            return Err("claim: bad event count".into());
        }
        let mut events = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let [event_id, visitor] = fields::<2>(next("event")?, "E")?;
            events.push(ClaimItem {
                event_id: event_id.to_string(),
                visitor_id: match visitor {
                    "-" => None,
                    v => Some(
                        v.strip_prefix("v:")
                            .ok_or("claim: bad visitor field")?
                            .to_string(),
                    ),
                },
                message: next("message")?.to_string(),
            });
        }
        if next("end").is_ok() {
            return Err("claim: lines after the last event".into());
        }
        Ok(ClaimRequest {
            now: number(now)?,
            events,
            rejected: u32::try_from(number(rejected)?).map_err(|_| "claim: bad rejected")?,
            check_only: check_only == "1",
        })
    }
}

/// Per event of a claim: fresh or duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimAnswer {
    pub fresh: Vec<bool>,
}

/// The claim's answer per position from the ids already live in the shard: an id seen before,
/// or repeated earlier in the same claim, is a duplicate.
pub fn fresh_in_order(ids: &[&str], live: &std::collections::HashSet<String>) -> Vec<bool> {
    let mut seen = std::collections::HashSet::new();
    ids.iter()
        .map(|id| !live.contains(*id) && seen.insert(*id))
        .collect()
}

/// The parcels a shard has open: fresh events join the newest until it would exceed
/// `PARCEL_BYTES`, and each event's row records its parcel, so a parcel's events are known
/// without a second write.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outbox {
    pub open: Vec<OpenParcel>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenParcel {
    pub id: i64,
    pub event_ids: Vec<String>,
    pub bodies: Vec<String>,
    pub bytes: usize,
}

impl Outbox {
    /// Adds an event to the outbox and returns the parcel it joined; `next_id` gives a new
    /// parcel's id (increasing).
    pub fn add(&mut self, event_id: &str, body: String, next_id: impl FnOnce() -> i64) -> i64 {
        let fits = self
            .open
            .last()
            .is_some_and(|p| p.bytes + body.len() < PARCEL_BYTES);
        let id = match self.open.last() {
            Some(p) if fits => p.id,
            _ => next_id(),
        };
        self.put(id, event_id, body);
        id
    }

    /// Puts an event back into parcel `id` after a restart (its row says which): events of one
    /// parcel are restored together, in parcel order.
    pub fn restore(&mut self, id: i64, event_id: &str, body: String) {
        self.put(id, event_id, body);
    }

    /// Appends to the newest parcel if it is `id`, else opens parcel `id`.
    fn put(&mut self, id: i64, event_id: &str, body: String) {
        if self.open.last().map(|p| p.id) != Some(id) {
            self.open.push(OpenParcel {
                id,
                event_ids: vec![],
                bodies: vec![],
                bytes: 0,
            });
        }
        let p = self.open.last_mut().expect("an open parcel");
        p.bytes += body.len() + 1;
        p.event_ids.push(event_id.to_string());
        p.bodies.push(body);
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Where the outbox stands, to undo the additions of a claim whose rows were not written.
    pub fn mark(&self) -> OutboxMark {
        OutboxMark {
            parcels: self.open.len(),
            last: self.open.last().map(|p| (p.event_ids.len(), p.bytes)),
        }
    }

    pub fn rollback(&mut self, mark: OutboxMark) {
        self.open.truncate(mark.parcels);
        if let (Some(p), Some((len, bytes))) = (self.open.last_mut(), mark.last) {
            p.event_ids.truncate(len);
            p.bodies.truncate(len);
            p.bytes = bytes;
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct OutboxMark {
    parcels: usize,
    last: Option<(usize, usize)>,
}

/// A parcel as the Queue carries it: the events (records with their first attempts) or retried
/// jobs of one tenant's shard. The shard's id of the parcel is what the consumer leases and
/// settles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parcel {
    pub tenant_id: String,
    pub shard: u32,
    pub id: i64,
    pub items: Vec<QueueMessage>,
}

/// The Queue message of a parcel from its items, already JSON: assembled as text, so the
/// events are not decoded and encoded again in the shard.
pub fn parcel_message(tenant_id: &str, shard: u32, id: i64, items: &[String]) -> String {
    let tenant = serde_json::to_string(tenant_id).expect("a string serializes");
    let mut out = String::with_capacity(items.iter().map(|i| i.len() + 1).sum::<usize>() + 80);
    out.push_str(&format!(
        r#"{{"tenant_id":{tenant},"shard":{shard},"id":{id},"items":["#
    ));
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(item);
    }
    out.push_str("]}");
    out
}

/// Whether a parcel message can travel: the Queue refuses messages over 128 KB. The intake
/// refuses events that could not, so only a retry parcel could get here (it is then split).
pub fn fits_queue(message: &str) -> bool {
    message.len() <= MAX_MESSAGE_BYTES + 4 * 1024
}

/// A parcel's state in its shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParcelState {
    /// On the Queue, not yet taken.
    Sent,
    /// A consumer took it at `lease_until - LEASE_SECS` and is delivering it.
    Leased,
    /// Its outcomes are recorded.
    Settled,
}

impl ParcelState {
    pub fn as_str(self) -> &'static str {
        match self {
            ParcelState::Sent => "sent",
            ParcelState::Leased => "leased",
            ParcelState::Settled => "settled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sent" => ParcelState::Sent,
            "leased" => ParcelState::Leased,
            "settled" => ParcelState::Settled,
            _ => return None,
        })
    }
}

/// A consumer's request to deliver a parcel, answered by the shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "lease", rename_all = "snake_case")]
pub enum LeaseAnswer {
    /// Deliver it; nobody else will until the lease ends. A retry parcel's jobs that changed
    /// since it was sent (replayed, resumed, erased) are listed to be left out.
    Granted {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skip: Vec<(String, String)>,
    },
    /// Another consumer holds it: try again after this many seconds.
    Busy { retry_in: i64 },
    /// Nothing to do: settled already, or erased, or unknown to the shard.
    Done,
}

/// The lease rule: a parcel is granted when it is waiting, or when its holder's lease ran out
/// (the holder is gone; its message came back).
pub fn lease(state: Option<ParcelState>, lease_until: i64, now: i64) -> LeaseAnswer {
    match state {
        None | Some(ParcelState::Settled) => LeaseAnswer::Done,
        Some(ParcelState::Leased) if lease_until > now => LeaseAnswer::Busy {
            retry_in: (lease_until - now).max(1),
        },
        Some(_) => LeaseAnswer::Granted { skip: vec![] },
    }
}

/// What the sweep does with an unsettled parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepAction {
    Wait,
    /// Send its message again.
    Resend,
    /// Sent `MAX_SENDS` times and never settled: its deliveries fail.
    GiveUp,
}

pub fn sweep(
    state: ParcelState,
    sent_at: i64,
    lease_until: i64,
    sends: i64,
    now: i64,
) -> SweepAction {
    let stale = match state {
        ParcelState::Settled => return SweepAction::Wait,
        ParcelState::Sent => now - sent_at >= RESEND_AFTER_SECS,
        ParcelState::Leased => lease_until <= now,
    };
    match (stale, sends >= MAX_SENDS) {
        (false, _) => SweepAction::Wait,
        (true, false) => SweepAction::Resend,
        (true, true) => SweepAction::GiveUp,
    }
}

/// One destination's outcome in a settled parcel, as the consumer reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobOutcome {
    pub event_id: String,
    pub pixel: String,
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// For `retrying`: when the next attempt is due (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<i64>,
    /// The job to run again (retrying, paused, failed: a replay needs it), as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

impl JobOutcome {
    /// The outcome of `job` with `status`, before details.
    pub fn of(job: &DeliveryJob, status: DeliveryStatus) -> Self {
        JobOutcome {
            event_id: job.delivery.event.event_id.clone(),
            pixel: job.pixel.clone(),
            platform: job.platform.as_str().to_string(),
            visitor_id: job.delivery.event.visitor_id.clone(),
            status,
            attempts: job.attempt,
            error: None,
            trace_id: None,
            response: None,
            due: None,
            job: None,
        }
    }

    /// The outcome a settlement of `job` records at `now`: a retry keeps the job to run next and
    /// when; a failure or a pause keeps the job as it was (a replay or a resume runs it).
    pub fn settled(job: &DeliveryJob, settlement: Settlement, now: i64) -> Self {
        match settlement {
            Settlement::Delivered => JobOutcome::of(job, DeliveryStatus::Delivered),
            Settlement::Requeue {
                job: next,
                delay_secs,
            } => JobOutcome {
                due: Some(now + i64::from(delay_secs)),
                job: Some(retry_item(&next)),
                ..JobOutcome::of(job, DeliveryStatus::Retrying)
            },
            Settlement::Failed { reason } => JobOutcome {
                error: Some(reason),
                job: Some(retry_item(job)),
                ..JobOutcome::of(job, DeliveryStatus::Failed)
            },
            Settlement::Paused { reason } => JobOutcome {
                error: Some(reason),
                job: Some(retry_item(job)),
                ..JobOutcome::of(job, DeliveryStatus::Paused)
            },
        }
    }
}

/// A consumer's report on a parcel it leased.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settle {
    pub parcel: i64,
    pub outcomes: Vec<JobOutcome>,
}

/// A delivered destination as the parcel's row keeps it: `[pixel, platform, attempts, trace]`
/// per event id; everything else has a row of its own.
pub type DeliveredMap =
    std::collections::BTreeMap<String, Vec<(String, String, u32, Option<String>)>>;

/// Splits a settle into what the parcel row keeps (delivered) and the exception rows.
pub fn split_outcomes(outcomes: Vec<JobOutcome>) -> (DeliveredMap, Vec<JobOutcome>) {
    let mut delivered = DeliveredMap::new();
    let mut exceptions = Vec::new();
    for o in outcomes {
        if o.status == DeliveryStatus::Delivered {
            delivered
                .entry(o.event_id)
                .or_default()
                .push((o.pixel, o.platform, o.attempts, o.trace_id));
        } else {
            exceptions.push(o);
        }
    }
    (delivered, exceptions)
}

/// Retry jobs due now, packed into parcels under the Queue's size: `(event_id, pixel, job)` in,
/// groups of indices out.
pub fn pack_retries(jobs: &[(String, String, String)]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for (i, (_, _, job)) in jobs.iter().enumerate() {
        let size = job.len() + 16;
        if groups.is_empty() || bytes + size > PARCEL_BYTES {
            groups.push(vec![]);
            bytes = 0;
        }
        bytes += size;
        groups.last_mut().expect("a group").push(i);
    }
    groups
}

/// The queue item of a retried job.
pub fn retry_item(job: &DeliveryJob) -> String {
    serde_json::to_string(&QueueMessage::Deliver(Box::new(job.clone()))).expect("a job serializes")
}

/// Hour buckets of counts a shard sums in memory and adds to D1 now and then:
/// `(hour, platform or "", what) → n`. Intake counts use the platform "".
pub type Counts = std::collections::BTreeMap<CountKey, i64>;
/// `(hour, destination, what)`: the destination is "" for intake counts, `platform:pixel` for
/// delivery outcomes.
pub type CountKey = (i64, String, String);
/// Counts as they travel (JSON has no tuple-keyed maps).
pub type CountList = Vec<(CountKey, i64)>;

pub fn hour_of(ts: i64) -> i64 {
    ts - ts.rem_euclid(3600)
}

pub fn count(counts: &mut Counts, at: i64, platform: &str, what: &str, n: i64) {
    if n != 0 {
        *counts
            .entry((hour_of(at), platform.to_string(), what.to_string()))
            .or_insert(0) += n;
    }
}

/// When a shard's alarm fires next (epoch ms), from what it has to do.
pub struct AlarmInputs {
    pub now_ms: i64,
    /// Events waiting for a flush (since when, ms).
    pub pending_since_ms: Option<i64>,
    /// The last send failed: wait before the next.
    pub send_failed: bool,
    pub next_retry_due_ms: Option<i64>,
    pub unsettled_parcels: bool,
    pub counts_since_ms: Option<i64>,
    pub tables_left: bool,
    /// A day's history export failed: when to try again (ms).
    pub export_retry_ms: Option<i64>,
}

/// How long a shard waits before exporting a day to the history again after a failure (R2 down):
/// the day's table stays meanwhile, and the retry is one alarm, not a loop.
pub const EXPORT_RETRY_MS: i64 = 10 * 60_000;

pub fn next_alarm(a: &AlarmInputs) -> Option<i64> {
    let mut at: Vec<i64> = Vec::new();
    if let Some(since) = a.pending_since_ms {
        at.push(if a.send_failed {
            a.now_ms + 5_000
        } else {
            since + FLUSH_DELAY_MS
        });
    }
    if let Some(due) = a.next_retry_due_ms {
        at.push(due.max(if a.send_failed { a.now_ms + 5_000 } else { 0 }));
    }
    if a.unsettled_parcels {
        at.push(a.now_ms + SWEEP_EVERY_MS);
    }
    if let Some(since) = a.counts_since_ms {
        at.push(since + COUNTERS_EVERY_MS);
    }
    if let Some(t) = a.export_retry_ms {
        at.push(t);
    }
    if at.is_empty() && a.tables_left {
        // Wake up when the oldest day may be dropped; a day is the granularity.
        at.push(a.now_ms + DAY_SECS * 1000);
    }
    at.into_iter().min().map(|t| t.max(a.now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_lines_round_trip_and_refuse_garbage() {
        let c = ClaimRequest {
            now: 1_700_000_000,
            rejected: 2,
            check_only: false,
            events: vec![
                ClaimItem {
                    event_id: "e-1".into(),
                    visitor_id: Some("v1".into()),
                    message: r#"{"kind":"record"}"#.into(),
                },
                ClaimItem {
                    event_id: "e-2".into(),
                    visitor_id: None,
                    message: "{}".into(),
                },
            ],
        };
        assert_eq!(ClaimRequest::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "C 1 0 0 1\n",
            "C 1 0 0 1\nE e\n{}\n",
            "C 1 0 0 0\nextra\n",
            "C x 0 0 0\n",
            "C 1 -1 0 0\n",
            "C 1 0 0 99999999\n",
            "C 1 0 0 1\nE e v extra\n{}\n",
        ] {
            assert!(ClaimRequest::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_repeat_in_one_claim_is_a_duplicate_and_live_ids_are_too() {
        let live: std::collections::HashSet<String> = ["old".to_string()].into();
        assert_eq!(
            fresh_in_order(&["a", "old", "a", "b"], &live),
            vec![true, false, false, true]
        );
    }

    #[test]
    fn day_tables_cover_the_window_and_drop_only_when_all_keys_expired() {
        let now = 20_000 * DAY_SECS + 3600; // 01:00 on day 20000
        assert_eq!(live_days(now), 19_998..=20_000);
        // Day 19998 still holds keys claimed at 01:00 or later, within 48 h.
        assert!(!droppable(19_998, now));
        assert!(droppable(19_997, now));
        // A key claimed at the last second of day 19997 is expired 48 h later.
        assert!(!is_live(19_998 * DAY_SECS - 1, now));
        assert!(is_live(now - DEDUP_WINDOW_SECS + 1, now));
        assert_eq!(table_day(&day_table(19_998)), Some(19_998));
        assert_eq!(table_day("parcels"), None);
    }

    #[test]
    fn layout_routes_an_id_to_one_shard_and_checks_the_old_one_after_a_change() {
        let one = ShardLayout::default();
        assert_eq!(one.route("e1", 100), (0, None));
        let grown = ShardLayout {
            shards: 4,
            previous: 1,
            changed_at: 1_000,
        };
        let moved = (0..200)
            .map(|i| format!("e{i}"))
            .find(|id| shard_of(id, 4) != 0)
            .unwrap();
        assert_eq!(grown.route(&moved, 2_000).1, Some(0));
        // After the window the old layout is forgotten.
        assert_eq!(grown.route(&moved, 1_000 + DEDUP_WINDOW_SECS).1, None);
        assert_eq!(grown.all(), 0..4);
        // Ids spread over every shard.
        let mut hit = [false; 4];
        for i in 0..200 {
            hit[shard_of(&format!("e{i}"), 4) as usize] = true;
        }
        assert!(hit.iter().all(|h| *h));
    }

    #[test]
    fn a_layout_grows_once_per_window_and_never_shrinks() {
        let one = ShardLayout::default();
        let four = one.grow(4, 1_000).unwrap();
        assert_eq!((four.shards, four.previous, four.changed_at), (4, 1, 1_000));
        assert!(one.grow(0, 1_000).is_err());
        assert!(four.grow(2, 2_000).is_err());
        assert!(four.grow(65, 2_000).is_err());
        assert!(
            four.grow(8, 2_000).is_err(),
            "within 48 h of the last change"
        );
        assert_eq!(four.grow(8, 1_000 + DEDUP_WINDOW_SECS).unwrap().previous, 4);
        assert_eq!(four.grow(4, 2_000).unwrap(), four);
    }

    #[test]
    fn outbox_fills_parcels_up_to_the_billing_unit() {
        let mut out = Outbox::default();
        let mut next = 10;
        let body = "x".repeat(25_000);
        let ids: Vec<i64> = (0..5)
            .map(|i| {
                out.add(&format!("e{i}"), body.clone(), || {
                    next += 1;
                    next
                })
            })
            .collect();
        assert_eq!(ids, vec![11, 11, 12, 12, 13]);
        assert!(out.open.iter().all(|p| p.bytes <= PARCEL_BYTES));
        // A body over the unit still travels, alone.
        let big = "y".repeat(PARCEL_BYTES + 10);
        let mark = out.mark();
        let id = out.add("big", big, || 99);
        assert_eq!(id, 99);
        assert_eq!(out.open.last().unwrap().event_ids, vec!["big"]);
        // A claim whose rows were not written takes its events back out.
        out.rollback(mark);
        assert_eq!(out.open.len(), 3);
        let last = out.open.last().unwrap();
        assert_eq!((last.event_ids.len(), last.bytes), (1, 25_001));
        let mark = out.mark();
        out.add("e9", "z".into(), || 100);
        out.rollback(mark);
        assert_eq!(out.open.last().unwrap().event_ids, vec!["e4"]);
    }

    #[test]
    fn parcel_message_decodes_to_its_items() {
        let job = crate::core::fanout::tests::meta_job();
        let item = retry_item(&job);
        let msg = parcel_message("t\"1", 2, 7, &[item.clone(), item]);
        let p: Parcel = serde_json::from_str(&msg).unwrap();
        assert_eq!((p.tenant_id.as_str(), p.shard, p.id), ("t\"1", 2, 7));
        assert_eq!(p.items.len(), 2);
        assert_eq!(p.items[0], QueueMessage::Deliver(Box::new(job)));
        assert!(fits_queue(&msg));
    }

    #[test]
    fn lease_is_exclusive_until_it_runs_out() {
        use ParcelState::*;
        let granted = LeaseAnswer::Granted { skip: vec![] };
        assert_eq!(lease(Some(Sent), 0, 100), granted);
        assert_eq!(
            lease(Some(Leased), 150, 100),
            LeaseAnswer::Busy { retry_in: 50 }
        );
        assert_eq!(lease(Some(Leased), 100, 100), granted);
        assert_eq!(lease(Some(Settled), 0, 100), LeaseAnswer::Done);
        assert_eq!(lease(None, 0, 100), LeaseAnswer::Done);
    }

    #[test]
    fn sweep_resends_stale_parcels_a_bounded_number_of_times() {
        use ParcelState::*;
        assert_eq!(
            sweep(Sent, 0, 0, 1, RESEND_AFTER_SECS - 1),
            SweepAction::Wait
        );
        assert_eq!(sweep(Sent, 0, 0, 1, RESEND_AFTER_SECS), SweepAction::Resend);
        assert_eq!(sweep(Leased, 0, 500, 2, 499), SweepAction::Wait);
        assert_eq!(sweep(Leased, 0, 500, 2, 500), SweepAction::Resend);
        assert_eq!(sweep(Leased, 0, 500, MAX_SENDS, 500), SweepAction::GiveUp);
        assert_eq!(sweep(Settled, 0, 0, 9, 1_000_000), SweepAction::Wait);
    }

    #[test]
    fn delivered_outcomes_stay_on_the_parcel_and_the_rest_get_rows() {
        let o = |id: &str, status| JobOutcome {
            event_id: id.into(),
            pixel: "p".into(),
            platform: "meta".into(),
            visitor_id: None,
            status,
            attempts: 1,
            error: None,
            trace_id: Some("tr".into()),
            response: None,
            due: None,
            job: None,
        };
        let (delivered, rest) = split_outcomes(vec![
            o("a", DeliveryStatus::Delivered),
            o("b", DeliveryStatus::Retrying),
            o("a", DeliveryStatus::Failed),
        ]);
        assert_eq!(delivered.len(), 1);
        assert_eq!(
            delivered["a"],
            vec![("p".into(), "meta".into(), 1, Some("tr".into()))]
        );
        assert_eq!(rest.len(), 2);
    }

    #[test]
    fn a_settlement_keeps_what_runs_next() {
        let job = crate::core::fanout::tests::meta_job();
        let mut next = job.clone();
        next.attempt = 2;
        let retry = JobOutcome::settled(
            &job,
            Settlement::Requeue {
                job: Box::new(next.clone()),
                delay_secs: 30,
            },
            1_000,
        );
        assert_eq!(retry.status, DeliveryStatus::Retrying);
        assert_eq!((retry.due, retry.attempts), (Some(1_030), 1));
        assert_eq!(retry.job.as_deref(), Some(retry_item(&next).as_str()));
        let failed = JobOutcome::settled(
            &job,
            Settlement::Failed {
                reason: "bad".into(),
            },
            1_000,
        );
        assert_eq!(failed.error.as_deref(), Some("bad"));
        assert_eq!(failed.job.as_deref(), Some(retry_item(&job).as_str()));
        let done = JobOutcome::settled(&job, Settlement::Delivered, 1_000);
        assert_eq!((done.status, done.job), (DeliveryStatus::Delivered, None));
    }

    #[test]
    fn retries_pack_under_the_unit() {
        let jobs: Vec<(String, String, String)> = (0..7)
            .map(|i| (format!("e{i}"), "p".into(), "z".repeat(25_000)))
            .collect();
        let groups = pack_retries(&jobs);
        assert_eq!(groups, vec![vec![0, 1], vec![2, 3], vec![4, 5], vec![6]]);
    }

    #[test]
    fn counts_sum_per_hour() {
        let mut c = Counts::new();
        count(&mut c, 7_200, "", "accepted", 2);
        count(&mut c, 7_300, "", "accepted", 3);
        count(&mut c, 7_300, "meta", "delivered", 0);
        assert_eq!(c.len(), 1);
        assert_eq!(c[&(7_200, String::new(), "accepted".into())], 5);
    }

    #[test]
    fn alarm_comes_at_the_earliest_duty() {
        let base = AlarmInputs {
            now_ms: 1_000,
            pending_since_ms: None,
            send_failed: false,
            next_retry_due_ms: None,
            unsettled_parcels: false,
            counts_since_ms: None,
            tables_left: false,
            export_retry_ms: None,
        };
        assert_eq!(next_alarm(&base), None);
        assert_eq!(
            next_alarm(&AlarmInputs {
                pending_since_ms: Some(900),
                ..base
            }),
            Some(1_400)
        );
        assert_eq!(
            next_alarm(&AlarmInputs {
                pending_since_ms: Some(900),
                send_failed: true,
                ..base
            }),
            Some(6_000)
        );
        assert_eq!(
            next_alarm(&AlarmInputs {
                next_retry_due_ms: Some(500),
                ..base
            }),
            Some(1_000)
        );
        assert_eq!(
            next_alarm(&AlarmInputs {
                tables_left: true,
                ..base
            }),
            Some(1_000 + DAY_SECS * 1000)
        );
        assert_eq!(
            next_alarm(&AlarmInputs {
                tables_left: true,
                export_retry_ms: Some(1_000 + EXPORT_RETRY_MS),
                ..base
            }),
            Some(1_000 + EXPORT_RETRY_MS)
        );
    }
}
