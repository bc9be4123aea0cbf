//! Per-event history past the 48 h window: before an event shard drops a day table it writes the
//! day's events to object storage (R2) as NDJSON parts, one line per event with its destinations'
//! statuses at that time, so the audit API can still answer for an event until the tenant's
//! retention. This module is the pure half: key names, the line format, part splitting, what an
//! erase removes, which days a lookup searches and which days retention deletes.
//!
//! Keys: `history/<tenant>/<yyyy-mm-dd>/shard-<n>-part-<k>.ndjson.gz`: the day first, so retention
//! deletes a day by its prefix and a lookup reads newest days first; the shard in the name, so a
//! shard rewrites (erase) only its own files and a lookup reads only the shards the id maps to.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::calendar::Date;
use super::event::{AssertedConsent, ClientContext, Event};
use super::fanout::QueueMessage;
use super::retention::{event_cutoff, DAY};
use super::trail::DestinationRow;

/// A part is closed at this many bytes of NDJSON (before gzip), so exporting a busy shard's day
/// holds at most this much in memory (plus its gzip), far below a Worker's 128 MB.
pub const PART_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Or at this many events, whichever comes first.
pub const PART_MAX_EVENTS: usize = 50_000;
/// The folder of every history object.
pub const ROOT: &str = "history/";
const SUFFIX: &str = ".ndjson.gz";

/// One line of a history file: the event as it was accepted, without its client address and user
/// agent (the PII in it is hashed at intake), and its destinations as the trail showed them when
/// the day was exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchivedEvent {
    pub received_at: i64,
    pub event: Event,
    pub consent: AssertedConsent,
    pub destinations: Vec<DestinationRow>,
}

/// The history line of an accepted event (a `Record`); None for anything else.
pub fn line(
    record: &QueueMessage,
    received_at: i64,
    destinations: Vec<DestinationRow>,
) -> Option<String> {
    let QueueMessage::Record { event, consent, .. } = record else {
        return None;
    };
    let mut event = Event::clone(event);
    // Never kept past the window: the IP and the user agent only served delivery.
    event.client = ClientContext::default();
    serde_json::to_string(&ArchivedEvent {
        received_at,
        event,
        consent: *consent,
        destinations,
    })
    .ok()
}

/// `yyyy-mm-dd` of a day (days since the epoch).
pub fn date(day: i64) -> String {
    Date::from_days(day).to_string()
}

/// Every history object of a tenant.
pub fn tenant_prefix(tenant_id: &str) -> String {
    format!("{ROOT}{tenant_id}/")
}

/// A tenant's history objects of one day.
pub fn day_prefix(tenant_id: &str, day: i64) -> String {
    format!("{}{}/", tenant_prefix(tenant_id), date(day))
}

/// A shard's parts of one day.
pub fn shard_prefix(tenant_id: &str, day: i64, shard: u32) -> String {
    format!("{}shard-{shard}-part-", day_prefix(tenant_id, day))
}

pub fn part_key(tenant_id: &str, day: i64, shard: u32, part: u32) -> String {
    format!("{}{part}{SUFFIX}", shard_prefix(tenant_id, day, shard))
}

/// What a history key names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartKey {
    pub day: i64,
    pub shard: u32,
    pub part: u32,
}

/// The day, shard and part of one of `tenant_id`'s keys; None for anything else.
pub fn parse_key(tenant_id: &str, key: &str) -> Option<PartKey> {
    let rest = key.strip_prefix(&tenant_prefix(tenant_id))?;
    let (day, file) = rest.split_once('/')?;
    let file = file.strip_suffix(SUFFIX)?.strip_prefix("shard-")?;
    let (shard, part) = file.split_once("-part-")?;
    Some(PartKey {
        day: Date::parse(day)?.days_since_epoch(),
        shard: shard.parse().ok()?,
        part: part.parse().ok()?,
    })
}

/// Gathers lines into parts no larger than the limits.
#[derive(Debug, Default)]
pub struct Parts {
    buf: String,
    lines: usize,
    max_bytes: usize,
    max_lines: usize,
}

impl Parts {
    pub fn new() -> Self {
        Self::with_limits(PART_MAX_BYTES, PART_MAX_EVENTS)
    }

    pub fn with_limits(max_bytes: usize, max_lines: usize) -> Self {
        Parts {
            max_bytes: max_bytes.max(1),
            max_lines: max_lines.max(1),
            ..Parts::default()
        }
    }

    /// Adds a line; returns the part it closed, if it closed one. A line alone larger than the
    /// limit is a part of its own.
    pub fn push(&mut self, line: &str) -> Option<String> {
        let closed = (self.lines > 0
            && (self.buf.len() + line.len() + 1 > self.max_bytes || self.lines >= self.max_lines))
            .then(|| self.take());
        self.buf.push_str(line);
        self.buf.push('\n');
        self.lines += 1;
        closed
    }

    /// The last part, unless it is empty.
    pub fn finish(&mut self) -> Option<String> {
        (self.lines > 0).then(|| self.take())
    }

    fn take(&mut self) -> String {
        self.lines = 0;
        std::mem::take(&mut self.buf)
    }
}

/// The event `event_id` in a part's text, if it is there. Lines are parsed only when they
/// contain the id.
pub fn find(text: &str, event_id: &str) -> Option<ArchivedEvent> {
    let quoted = serde_json::to_string(event_id).ok()?;
    text.lines()
        .filter(|l| l.contains(&quoted))
        .filter_map(|l| serde_json::from_str::<ArchivedEvent>(l).ok())
        .find(|a| a.event.event_id == event_id)
}

/// A part's text without the events of erased visitors (visitor id → when erased) received
/// before their erase (a visitor who comes back after an erase is a new story), and how many
/// lines went; None when none did.
pub fn without_visitors(text: &str, erased_at: &HashMap<String, i64>) -> Option<(String, usize)> {
    #[derive(Deserialize)]
    struct Visitor {
        visitor_id: Option<String>,
    }
    #[derive(Deserialize)]
    struct Line {
        received_at: i64,
        event: Visitor,
    }
    let erased = |l: &str| {
        serde_json::from_str::<Line>(l).ok().is_some_and(|l| {
            l.event
                .visitor_id
                .and_then(|v| erased_at.get(&v))
                .is_some_and(|at| l.received_at <= *at)
        })
    };
    let mut out = String::with_capacity(text.len());
    let mut gone = 0;
    for l in text.lines().filter(|l| !l.is_empty()) {
        if erased(l) {
            gone += 1;
        } else {
            out.push_str(l);
            out.push('\n');
        }
    }
    (gone > 0).then_some((out, gone))
}

/// The shards an event id may have been in under any layout up to `shards` (counts only grow):
/// the shards whose history files a lookup reads.
pub fn candidate_shards(event_id: &str, shards: u32) -> Vec<u32> {
    let mut out: Vec<u32> = (1..=shards.max(1))
        .map(|n| super::shard::shard_of(event_id, n))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// An archived event's destinations with what its shard still holds for it: an exception row
/// (a failed delivery replayed since, say) is newer than the export and wins.
pub fn merge_destinations(
    archived: Vec<DestinationRow>,
    live: &[DestinationRow],
) -> Vec<DestinationRow> {
    let mut out: Vec<DestinationRow> = archived
        .into_iter()
        .map(|a| match live.iter().find(|l| l.pixel == a.pixel) {
            Some(l) => DestinationRow {
                event_name: l.event_name.clone().or(a.event_name),
                ..l.clone()
            },
            None => a,
        })
        .collect();
    for l in live {
        if !out.iter().any(|o| o.pixel == l.pixel) {
            out.push(l.clone());
        }
    }
    out
}

/// Whether every event of `day` is past the tenant's retention at `now` (its history goes).
pub fn expired(day: i64, now: i64, retention_days: i64) -> bool {
    (day + 1) * DAY <= event_cutoff(now, retention_days)
}

/// The parts a lookup for an event reads, newest day first, among a tenant's keys: those of the
/// shards the event id maps to, of the hinted day only (when given), within the retention, and
/// no later than today.
pub fn lookup_order(
    tenant_id: &str,
    keys: &[String],
    shards: &[u32],
    now: i64,
    retention_days: i64,
    hint: Option<i64>,
) -> Vec<String> {
    let today = now.div_euclid(DAY);
    let mut found: Vec<(PartKey, &String)> = keys
        .iter()
        .filter_map(|k| Some((parse_key(tenant_id, k)?, k)))
        .filter(|(p, _)| {
            shards.contains(&p.shard)
                && p.day <= today
                && !expired(p.day, now, retention_days)
                && hint.is_none_or(|h| h == p.day)
        })
        .collect();
    found.sort_by(|a, b| b.0.day.cmp(&a.0.day).then(a.0.cmp(&b.0)));
    found.into_iter().map(|(_, k)| k.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fanout::DeliveryStatus;
    use crate::core::fanout::RouteRecord;
    use crate::core::platform::{EventName, Platform};
    use std::sync::Arc;

    fn event(id: &str, visitor: &str) -> Event {
        let mut e: Event = serde_json::from_value(serde_json::json!({
            "event_id": id, "event_name": "purchase", "event_time": 1_800_000_000,
            "visitor_id": visitor, "url": "https://shop.example/",
            "user": {"em": "a".repeat(64)},
            "client": {"ip": "203.0.113.9", "user_agent": "Mozilla/5.0"},
        }))
        .unwrap();
        e.event_name = EventName::Purchase;
        e
    }

    fn record(id: &str, visitor: &str) -> QueueMessage {
        QueueMessage::Record {
            tenant_id: "t1".into(),
            event: Arc::new(event(id, visitor)),
            consent: AssertedConsent {
                analytics: true,
                marketing: true,
            },
            received_at: 1_800_000_100,
            routes: vec![RouteRecord {
                pixel: "px".into(),
                platform: Platform::Meta,
                status: DeliveryStatus::Queued,
                reason: None,
            }],
            deliveries: vec![],
        }
    }

    fn row(id: &str) -> DestinationRow {
        DestinationRow {
            event_id: id.into(),
            event_name: Some("purchase".into()),
            pixel: "px".into(),
            platform: "meta".into(),
            status: "delivered".into(),
            attempts: 1,
            last_error: None,
            trace_id: Some("tr".into()),
            response: None,
            updated_at: 1_800_000_200,
            replays: 0,
            replayed_at: None,
        }
    }

    #[test]
    fn a_line_keeps_hashed_pii_and_destinations_but_no_client_address() {
        let l = line(&record("e1", "v1"), 1_800_000_100, vec![row("e1")]).unwrap();
        assert!(!l.contains("203.0.113.9") && !l.contains("Mozilla"), "{l}");
        assert!(!l.contains('\n'));
        let a: ArchivedEvent = serde_json::from_str(&l).unwrap();
        assert_eq!(a.received_at, 1_800_000_100);
        assert_eq!(a.event.user.em.as_ref().map(|h| h.as_str().len()), Some(64));
        assert_eq!(a.destinations, vec![row("e1")]);
        assert!(a.consent.marketing);
        let job = QueueMessage::Deliver(Box::new(
            serde_json::from_value(serde_json::json!({
                "tenant_id": "t1", "pixel": "px", "platform": "meta", "attempt": 1,
                "delivery": {"event": event("e1", "v1"), "consent": {"analytics": true, "marketing": true}, "mode": "full"}
            }))
            .unwrap(),
        ));
        assert_eq!(line(&job, 0, vec![]), None);
    }

    #[test]
    fn keys_name_tenant_day_shard_and_part() {
        let day = Date::parse("2027-03-04").unwrap().days_since_epoch();
        let k = part_key("t1", day, 3, 12);
        assert_eq!(k, "history/t1/2027-03-04/shard-3-part-12.ndjson.gz");
        assert!(k.starts_with(&day_prefix("t1", day)));
        assert!(k.starts_with(&shard_prefix("t1", day, 3)));
        assert!(!k.starts_with(&shard_prefix("t1", day, 1)));
        assert_eq!(
            parse_key("t1", &k),
            Some(PartKey {
                day,
                shard: 3,
                part: 12
            })
        );
        assert_eq!(parse_key("t2", &k), None);
        for bad in [
            "history/t1/2027-13-04/shard-3-part-1.ndjson.gz",
            "history/t1/2027-03-04/shard-x-part-1.ndjson.gz",
            "history/t1/2027-03-04/shard-3.ndjson.gz",
            "history/t1/2027-03-04/shard-3-part-1.json",
        ] {
            assert_eq!(parse_key("t1", bad), None, "{bad}");
        }
    }

    #[test]
    fn parts_stay_within_their_limits() {
        let mut p = Parts::with_limits(20, 3);
        let mut parts = Vec::new();
        for l in [
            "aaaa",
            "bbbb",
            "cccc",
            "dddd",
            "eeeeeeeeeeeeeeeeeeeeeeee",
            "ff",
        ] {
            parts.extend(p.push(l));
        }
        parts.extend(p.finish());
        assert_eq!(
            parts,
            vec![
                "aaaa\nbbbb\ncccc\n",
                "dddd\n",
                "eeeeeeeeeeeeeeeeeeeeeeee\n",
                "ff\n"
            ]
        );
        assert_eq!(p.finish(), None);
        // Every line lands in exactly one part, in order.
        let mut p = Parts::with_limits(1000, 2);
        let mut all = String::new();
        for i in 0..7 {
            all.extend(p.push(&i.to_string()));
        }
        all.extend(p.finish());
        assert_eq!(all, "0\n1\n2\n3\n4\n5\n6\n");
    }

    #[test]
    fn find_and_erase_work_on_whole_lines() {
        let text: String = [("e1", "v1"), ("e2", "v2"), ("e3", "v1")]
            .iter()
            .map(|(e, v)| line(&record(e, v), 1, vec![row(e)]).unwrap() + "\n")
            .collect();
        assert_eq!(
            find(&text, "e2").unwrap().event.visitor_id.as_deref(),
            Some("v2")
        );
        assert!(find(&text, "e").is_none());
        assert!(
            find(&text, "v1").is_none(),
            "a visitor id is not an event id"
        );
        let v1: HashMap<String, i64> = [("v1".to_string(), 1)].into();
        let (left, gone) = without_visitors(&text, &v1).unwrap();
        assert_eq!(gone, 2);
        assert!(find(&left, "e1").is_none() && find(&left, "e3").is_none());
        assert!(find(&left, "e2").is_some());
        assert_eq!(without_visitors(&left, &v1), None);
        // Events after the erase stay.
        let before: HashMap<String, i64> = [("v1".to_string(), 0)].into();
        assert_eq!(without_visitors(&text, &before), None);
    }

    #[test]
    fn live_exception_rows_win_over_the_archived_trail() {
        let mut failed = row("e1");
        failed.status = "failed".into();
        failed.event_name = None;
        let mut other = row("e1");
        other.pixel = "px2".into();
        let mut replayed = failed.clone();
        replayed.status = "retrying".into();
        let merged = merge_destinations(vec![failed, other.clone()], &[replayed.clone()]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].status, "retrying");
        assert_eq!(merged[0].event_name, None);
        assert_eq!(merged[1], other);
        let mut third = row("e1");
        third.pixel = "px3".into();
        assert_eq!(merge_destinations(vec![], &[third.clone()]), vec![third]);
    }

    #[test]
    fn candidate_shards_cover_every_layout() {
        assert_eq!(candidate_shards("e1", 1), vec![0]);
        let c = candidate_shards("some-event", 8);
        for n in 1..=8 {
            assert!(c.contains(&crate::core::shard::shard_of("some-event", n)));
        }
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn lookups_read_the_event_shards_parts_within_retention_newest_first() {
        let day = 20_000;
        let now = day * DAY + 3 * 3600;
        let keys: Vec<String> = [
            part_key("t1", day - 9, 0, 0),
            part_key("t1", day - 3, 1, 0),
            part_key("t1", day - 3, 0, 1),
            part_key("t1", day - 3, 0, 0),
            part_key("t1", day - 5, 0, 0),
            part_key("t1", day + 1, 0, 0),
            "history/t1/junk".into(),
        ]
        .into();
        assert_eq!(
            lookup_order("t1", &keys, &[0], now, 7, None),
            vec![
                part_key("t1", day - 3, 0, 0),
                part_key("t1", day - 3, 0, 1),
                part_key("t1", day - 5, 0, 0)
            ]
        );
        assert_eq!(
            lookup_order("t1", &keys, &[0, 1], now, 7, Some(day - 3)).len(),
            3
        );
        assert_eq!(
            lookup_order("t1", &keys, &[0], now, 30, Some(day - 9)).len(),
            1
        );
        assert!(lookup_order("t1", &keys, &[0], now, 7, Some(day - 9)).is_empty());
        assert!(expired(day - 8, now, 7) && !expired(day - 7, now, 7));
    }
}
