//! Deduplication by (tenant, event_id) within 48 hours. The storage sits behind `SeenStore` so
//! the rule is tested natively; the edge backs it with a SQLite Durable Object per shard (strongly
//! consistent and single-threaded, unlike KV).
//!
//! The shard is also the intake's transactional outbox: one call claims a request's events and
//! stores the queue messages of the fresh ones in the same SQLite transaction, and the shard's
//! alarm forwards them to the delivery Queue. A beacon thus makes one runtime call instead of two,
//! and an event is never claimed without its messages (nor queued without its claim).

use serde::{Deserialize, Serialize};

use super::fanout::{
    coalesce_counters, send_batches, IntakeCounters, QueueMessage, MAX_MESSAGE_BYTES,
};
use super::hash::sha256_hex;

pub const DEDUP_WINDOW_SECS: i64 = 48 * 3600;
/// Shards spread the claims over Durable Objects; one event id always lands on the same shard.
/// A shard runs one call at a time, so shards spread the load of a busy site; a batch of events
/// costs one call per shard it touches, so there are few. Four hold 48 h of keys at ~400 million
/// events a day before reaching the 10 GB a Durable Object may store (a key row is ~50 bytes);
/// raising this moves keys to other shards, so events of the 48 h before the change could be
/// accepted once more.
pub const SHARDS: u32 = 4;

/// The stored key: a hash, so shard storage never holds tenant ids or event ids in the clear.
/// 128 bits (32 hex digits) make a collision between two real events practically impossible and
/// keep a shard's rows small.
pub fn dedup_key(tenant_id: &str, event_id: &str) -> String {
    let mut key = sha256_hex(&format!("{tenant_id}\u{1f}{event_id}"));
    key.truncate(32);
    key
}

pub fn shard_of(key: &str) -> u32 {
    u32::from_str_radix(&key[..8], 16).unwrap_or(0) % SHARDS
}

pub trait SeenStore {
    /// Records `key` as seen at `now` unless it was seen within the window; returns true when the
    /// key is new (first sighting, or the previous one expired). Must be atomic per key.
    fn claim(&mut self, key: &str, now: i64) -> bool;

    /// Claims keys in order, each at its own time: a key repeated in the list is a duplicate after
    /// its first sighting. A store that can claim many keys in one statement overrides this (see
    /// `fresh_in_order`).
    fn claim_all(&mut self, keys: &[(&str, i64)]) -> Vec<bool> {
        keys.iter().map(|&(k, now)| self.claim(k, now)).collect()
    }
}

/// A bulk claim's answer per position, from the keys the store wrote: only the first occurrence
/// of a written key is fresh (its repeats in the same list found it already there).
pub fn fresh_in_order(keys: &[(&str, i64)], written: &[String]) -> Vec<bool> {
    let mut unclaimed: std::collections::HashSet<&str> =
        written.iter().map(String::as_str).collect();
    keys.iter().map(|&(k, _)| unclaimed.remove(k)).collect()
}

/// One event of a claim: its dedup key and the queue message (JSON: its record and the first
/// attempt of each destination) to send if it is fresh.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimItem {
    pub key: String,
    pub message: String,
}

/// One request's share of its events on one shard: one call, one transaction. Only the shard
/// knows which events were duplicates, so it also queues the intake counters for this share: its
/// events, plus `rejected` (the request's invalid events, sent with one of its shares). D1 adds
/// the shares up. (The intake once gathered the shares of concurrent requests into one call, but
/// Workers ties each I/O object to the request that made it, and a request resumed by another
/// request's call could answer with a body of the wrong context: intermittent 500s under load.)
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimRequest {
    pub tenant_id: String,
    pub now: i64,
    pub events: Vec<ClaimItem>,
    pub rejected: u32,
}

/// A claim travels to its shard as lines, not JSON: the messages are JSON already, and nesting
/// them in JSON would escape every quote on the way in and unescape it in the shard. serde_json's
/// compact output never holds a raw line break, so each message is one line (tenant ids are
/// UUIDs and keys hex, so neither holds a space):
///
/// ```text
/// C <tenant_id> <now> <rejected> <events>     then per event:
/// E <key>                                     and its message line
/// ```
impl ClaimRequest {
    pub fn encode(&self) -> String {
        debug_assert!(
            !self.tenant_id.contains([' ', '\n']),
            "a tenant id with a space"
        );
        let mut out = format!(
            "C {} {} {} {}\n",
            self.tenant_id,
            self.now,
            self.rejected,
            self.events.len()
        );
        for e in &self.events {
            debug_assert!(!e.message.contains('\n'), "a queue message spans lines");
            out.push_str(&format!("E {}\n{}\n", e.key, e.message));
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
                    .ok_or_else(|| format!("claim: short {tag} line"))?;
            }
            Ok(out)
        }
        let number = |v: &str| {
            v.parse::<i64>()
                .map_err(|_| format!("claim: bad number {v:?}"))
        };
        let [tenant_id, now, rejected, count] = fields::<4>(next("header")?, "C")?;
        let mut events = Vec::new();
        for _ in 0..number(count)? {
            let [key] = fields::<1>(next("event")?, "E")?;
            events.push(ClaimItem {
                key: key.to_string(),
                message: next("message")?.to_string(),
            });
        }
        if next("end").is_ok() {
            return Err("claim: lines after the last event".into());
        }
        Ok(ClaimRequest {
            tenant_id: tenant_id.to_string(),
            now: number(now)?,
            events,
            rejected: number(rejected)? as u32,
        })
    }
}

/// Per event: fresh or duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimAnswer {
    pub fresh: Vec<bool>,
}

/// The claim's effect: per event whether it is fresh, and the messages for the outbox in order
/// (the fresh events' messages, then the request's Counters message). Events are claimed in
/// order, so a key repeated within the request is a duplicate the second time.
pub fn apply_claim<S: SeenStore>(store: &mut S, req: ClaimRequest) -> (Vec<bool>, Vec<String>) {
    let keys: Vec<(&str, i64)> = req
        .events
        .iter()
        .map(|e| (e.key.as_str(), req.now))
        .collect();
    let fresh = store.claim_all(&keys);
    drop(keys);
    let mut outbox: Vec<String> = req
        .events
        .into_iter()
        .zip(&fresh)
        .filter(|(_, &fresh)| fresh)
        .map(|(item, _)| item.message)
        .collect();
    let accepted = outbox.len() as u32;
    let counters = IntakeCounters::new(
        &req.tenant_id,
        req.now,
        fresh.len() as u32,
        accepted,
        req.rejected,
    );
    outbox.extend(counters_messages(vec![counters]));
    (fresh, outbox)
}

/// One flush of a shard's outbox, planned from its rows `(id, body)` in id order.
#[derive(Debug, PartialEq)]
pub struct FlushPlan {
    /// Rows whose message the Queue would refuse: kept aside with the reason, never sent, so
    /// one such row can neither loop nor hold back the rows after it.
    pub set_aside: Vec<(i64, String)>,
    /// sendBatch calls in order; after each succeeds its `done` rows are deleted, so a later
    /// failure never sends an earlier group twice.
    pub sends: Vec<FlushSend>,
}

#[derive(Debug, PartialEq)]
pub struct FlushSend {
    pub bodies: Vec<String>,
    pub done: Vec<i64>,
}

pub fn plan_flush(rows: Vec<(i64, String)>) -> FlushPlan {
    let mut set_aside = Vec::new();
    let (mut ids, mut bodies) = (Vec::new(), Vec::new());
    for (id, body) in rows {
        if body.len() > MAX_MESSAGE_BYTES {
            set_aside.push((
                id,
                format!(
                    "message of {} bytes is over the {MAX_MESSAGE_BYTES} a queue message may take",
                    body.len()
                ),
            ));
        } else {
            ids.push(id);
            bodies.push(body);
        }
    }
    // Events pass through in order; the counters of all rows are summed into a few messages sent
    // last, whose rows are done only when every counters message went out.
    const COUNTERS: &str = r#"{"kind":"counters","#;
    let (mut event_ids, mut counter_ids) = (Vec::new(), Vec::new());
    let (mut events, mut counters) = (Vec::new(), Vec::new());
    for (id, body) in ids.into_iter().zip(bodies) {
        match body
            .starts_with(COUNTERS)
            .then(|| IntakeCounters::from_json(body.as_bytes()))
            .flatten()
        {
            Some(c) => {
                counter_ids.push(id);
                counters.push(c);
            }
            // Not ours to judge here: the consumer reports what it cannot decode.
            None => {
                event_ids.push(id);
                events.push(body);
            }
        }
    }
    let mut sends = Vec::new();
    let sizes: Vec<usize> = events.iter().map(String::len).collect();
    let mut events = events.into_iter();
    for group in send_batches(&sizes) {
        sends.push(FlushSend {
            done: event_ids[group.clone()].to_vec(),
            bodies: events.by_ref().take(group.len()).collect(),
        });
    }
    let counters: Vec<String> = counters_messages(counters).collect();
    let sizes: Vec<usize> = counters.iter().map(String::len).collect();
    let mut counters = counters.into_iter();
    let groups = send_batches(&sizes);
    let last = groups.len().saturating_sub(1);
    for (n, group) in groups.into_iter().enumerate() {
        sends.push(FlushSend {
            bodies: counters.by_ref().take(group.len()).collect(),
            done: if n == last {
                std::mem::take(&mut counter_ids)
            } else {
                Vec::new()
            },
        });
    }
    FlushPlan { set_aside, sends }
}

/// The Counters messages for `counters`, summed per tenant and hour.
fn counters_messages(counters: Vec<IntakeCounters>) -> impl Iterator<Item = String> {
    coalesce_counters(counters)
        .into_iter()
        .map(|c| serde_json::to_string(&QueueMessage::Counters(c)).expect("counters serialize"))
}

/// How a request's events split over the shards: per shard (ascending), the indices of its
/// events. Events keep their order inside a shard, so a repeat in one request is the duplicate.
pub fn by_shard(keys: &[String]) -> Vec<(u32, Vec<usize>)> {
    let mut groups: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, k) in keys.iter().enumerate() {
        groups.entry(shard_of(k)).or_default().push(i);
    }
    groups.into_iter().collect()
}

/// When a shard's alarm fires next (epoch ms): at once while its outbox holds messages (after
/// `retry_ms` when the last send failed), else at the next sweep while it remembers any key.
pub fn next_shard_alarm(
    outbox_left: bool,
    send_failed: bool,
    seen_left: bool,
    next_sweep_ms: i64,
    now_ms: i64,
    retry_ms: i64,
) -> Option<i64> {
    match (outbox_left, send_failed) {
        (true, true) => Some(now_ms + retry_ms),
        (true, false) => Some(now_ms),
        (false, _) if seen_left => Some(next_sweep_ms.max(now_ms)),
        (false, _) => None,
    }
}

/// The rule the store applies.
pub fn is_expired(first_seen: i64, now: i64) -> bool {
    now - first_seen >= DEDUP_WINDOW_SECS
}

/// In-memory store for tests and benches.
#[derive(Default)]
pub struct MemoryStore(pub std::collections::HashMap<String, i64>);

impl SeenStore for MemoryStore {
    fn claim(&mut self, key: &str, now: i64) -> bool {
        match self.0.get(key) {
            Some(&seen) if !is_expired(seen, now) => false,
            _ => {
                self.0.insert(key.to_string(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_event_within_48h_is_a_duplicate() {
        let mut s = MemoryStore::default();
        let k = dedup_key("t1", "e1");
        assert!(s.claim(&k, 1000));
        assert!(!s.claim(&k, 1000 + DEDUP_WINDOW_SECS - 1));
        assert!(s.claim(&k, 1000 + DEDUP_WINDOW_SECS));
    }

    #[test]
    fn tenants_do_not_collide() {
        let mut s = MemoryStore::default();
        assert!(s.claim(&dedup_key("t1", "e1"), 0));
        assert!(s.claim(&dedup_key("t2", "e1"), 0));
    }

    #[test]
    fn repeats_inside_one_batch_count_once() {
        let mut s = MemoryStore::default();
        let req = claim(
            "t",
            5,
            vec![item("e", "rec-e"), item("e", "rec-e2"), item("f", "rec-f")],
            0,
        );
        assert_eq!(apply_claim(&mut s, req).0, vec![true, false, true]);
    }

    fn item(event_id: &str, message: &str) -> ClaimItem {
        ClaimItem {
            key: dedup_key("t", event_id),
            message: message.into(),
        }
    }

    fn claim(tenant: &str, now: i64, events: Vec<ClaimItem>, rejected: u32) -> ClaimRequest {
        ClaimRequest {
            tenant_id: tenant.into(),
            now,
            events,
            rejected,
        }
    }

    #[test]
    fn a_claim_queues_the_messages_of_fresh_events_only_and_counts_its_share() {
        let mut s = MemoryStore::default();
        s.claim(&dedup_key("t", "old"), 7_000);
        let req = claim(
            "t",
            7_250,
            vec![
                item("a", "rec-a"),
                item("old", "rec-old"),
                item("a", "rec-a-again"),
                item("b", "rec-b"),
            ],
            1,
        );
        let (fresh, outbox) = apply_claim(&mut s, req);
        assert_eq!(fresh, vec![true, false, false, true]);
        assert_eq!(&outbox[..2], ["rec-a", "rec-b"]);
        let counters: QueueMessage = serde_json::from_str(&outbox[2]).unwrap();
        assert_eq!(
            counters,
            QueueMessage::Counters(IntakeCounters {
                tenant_id: "t".into(),
                hour: 7_200,
                received: 5,
                accepted: 2,
                duplicates: 2,
                rejected: 1,
            })
        );
        let again = claim("t", 7_300, vec![item("b", "rec-b"), item("c", "rec-c")], 0);
        let (fresh, outbox) = apply_claim(&mut s, again);
        assert_eq!(
            (fresh, &outbox[0]),
            (vec![false, true], &"rec-c".to_string())
        );
        assert!(outbox[1].contains(r#""received":2,"accepted":1,"duplicates":1,"rejected":0"#));
    }

    #[test]
    fn a_flush_sends_one_counters_message_per_tenant_and_hour_and_events_as_stored() {
        let mut s = MemoryStore::default();
        let mut rows = Vec::new();
        for (tenant, now, ids) in [
            ("t", 7_250, ["a", "b"]),
            ("t", 7_260, ["a", "c"]),
            ("u", 7_270, ["a", "d"]),
            ("t", 10_900, ["e", "f"]),
        ] {
            let events = ids
                .iter()
                .map(|id| ClaimItem {
                    key: dedup_key(tenant, id),
                    message: format!(r#"{{"kind":"record","id":"{tenant}-{id}"}}"#),
                })
                .collect();
            let req = claim(tenant, now, events, 1);
            rows.extend(apply_claim(&mut s, req).1);
        }
        // A counters row that cannot be read is passed on for the consumer to report.
        rows.push(r#"{"kind":"counters","tenant_id":"t""#.to_string());
        assert_eq!(rows.len(), 7 + 4 + 1);

        let rows = (0..).zip(rows).collect();
        let sent: Vec<String> = plan_flush(rows)
            .sends
            .into_iter()
            .flat_map(|s| s.bodies)
            .collect();
        let records: Vec<&str> = sent[..7].iter().map(String::as_str).collect();
        assert_eq!(
            records,
            [
                r#"{"kind":"record","id":"t-a"}"#,
                r#"{"kind":"record","id":"t-b"}"#,
                r#"{"kind":"record","id":"t-c"}"#,
                r#"{"kind":"record","id":"u-a"}"#,
                r#"{"kind":"record","id":"u-d"}"#,
                r#"{"kind":"record","id":"t-e"}"#,
                r#"{"kind":"record","id":"t-f"}"#,
            ]
        );
        assert_eq!(sent[7], r#"{"kind":"counters","tenant_id":"t""#);
        let counters: Vec<QueueMessage> = sent[8..]
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect();
        let counts = |tenant: &str, hour, received, accepted, rejected| {
            QueueMessage::Counters(IntakeCounters {
                tenant_id: tenant.into(),
                hour,
                received,
                accepted,
                duplicates: received - accepted - rejected,
                rejected,
            })
        };
        assert_eq!(
            counters,
            [
                counts("t", 7_200, 6, 3, 2),
                counts("u", 7_200, 3, 2, 1),
                counts("t", 10_800, 3, 2, 1),
            ]
        );
    }

    #[test]
    fn a_claim_round_trips_through_its_line_format() {
        let message = serde_json::to_string(&serde_json::json!({
            "kind": "record", "text": "two\nlines, \"quotes\", tab\t and é"
        }))
        .unwrap();
        let req = claim("t-1", 7_250, vec![item("a", &message), item("b", "{}")], 3);
        assert_eq!(ClaimRequest::decode(&req.encode()), Ok(req));
        let empty = claim("t-2", -1, vec![], 0);
        assert_eq!(ClaimRequest::decode(&empty.encode()), Ok(empty));
        for bad in [
            "",
            "X t 1 0 0",
            "C t 1 0 1",
            "C t 1 0 1\nE k",
            "C t 1 0 1\nE k\n{}\nE j\n{}",
            "C t x 0 0",
            "C t 1",
        ] {
            assert!(ClaimRequest::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_bulk_store_answers_like_one_claim_at_a_time() {
        let keys = [("k1", 1), ("k2", 1), ("k1", 2), ("k3", 2), ("k2", 3)];
        // The store wrote k1 and k2 (k3 was a live duplicate): their first occurrences are fresh.
        let written = || vec!["k2".to_string(), "k1".to_string()];
        assert_eq!(
            fresh_in_order(&keys, &written()),
            vec![true, true, false, false, false]
        );
        let mut one_by_one = MemoryStore::default();
        one_by_one.claim("k3", 0);
        assert_eq!(
            one_by_one.claim_all(&keys),
            fresh_in_order(&keys, &written())
        );
    }

    #[test]
    fn requests_split_by_shard_in_order() {
        let keys: Vec<String> = (0..40).map(|i| dedup_key("t", &format!("e{i}"))).collect();
        let groups = by_shard(&keys);
        let mut seen: Vec<usize> = groups.iter().flat_map(|(_, idx)| idx.clone()).collect();
        assert!(groups.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(groups
            .iter()
            .all(|(s, idx)| idx.windows(2).all(|w| w[0] < w[1])
                && idx.iter().all(|&i| shard_of(&keys[i]) == *s)));
        seen.sort();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn shard_alarm_flushes_first_then_sweeps() {
        let (now, sweep) = (1_000_000, 9_000_000);
        assert_eq!(
            next_shard_alarm(true, false, true, sweep, now, 5_000),
            Some(now)
        );
        assert_eq!(
            next_shard_alarm(true, true, true, sweep, now, 5_000),
            Some(now + 5_000)
        );
        assert_eq!(
            next_shard_alarm(false, false, true, sweep, now, 5_000),
            Some(sweep)
        );
        assert_eq!(
            next_shard_alarm(false, true, true, now - 1, now, 5_000),
            Some(now)
        );
        assert_eq!(
            next_shard_alarm(false, false, false, sweep, now, 5_000),
            None
        );
    }

    #[test]
    fn shards_are_stable_and_spread() {
        let k = dedup_key("t", "e");
        assert_eq!(shard_of(&k), shard_of(&k));
        let used: std::collections::HashSet<u32> = (0..200)
            .map(|i| shard_of(&dedup_key("t", &i.to_string())))
            .collect();
        assert_eq!(used.len() as u32, SHARDS);
    }

    #[test]
    fn a_flush_sets_aside_what_the_queue_refuses_and_deletes_per_group() {
        let counters = |n: u32| {
            serde_json::to_string(&QueueMessage::Counters(IntakeCounters {
                tenant_id: "t".into(),
                hour: 0,
                received: n,
                accepted: n,
                duplicates: 0,
                rejected: 0,
            }))
            .unwrap()
        };
        let record = |id: &str, pad: usize| {
            format!(
                r#"{{"kind":"record","id":"{id}","p":"{}"}}"#,
                "x".repeat(pad)
            )
        };
        let mut rows = vec![
            (1, record("a", 10)),
            (2, counters(1)),
            (3, record("huge", MAX_MESSAGE_BYTES)),
        ];
        // Enough middle-sized records for two sendBatch calls.
        for id in 4..8 {
            rows.push((id, record("m", 60 * 1024)));
        }
        rows.push((8, counters(2)));
        let plan = plan_flush(rows);
        assert_eq!(plan.set_aside.len(), 1);
        assert_eq!(plan.set_aside[0].0, 3);
        assert!(plan.set_aside[0].1.contains("over the"));
        let done: Vec<Vec<i64>> = plan.sends.iter().map(|s| s.done.clone()).collect();
        assert_eq!(done, vec![vec![1, 4, 5, 6], vec![7], vec![2, 8]]);
        // The counters of both rows travel summed, in one message.
        let last = &plan.sends[2].bodies;
        assert_eq!(last.len(), 1);
        assert_eq!(
            serde_json::from_str::<QueueMessage>(&last[0]).unwrap(),
            serde_json::from_str::<QueueMessage>(&counters(3)).unwrap()
        );
        assert!(plan_flush(vec![]).sends.is_empty());
    }
}
