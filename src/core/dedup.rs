//! Deduplication by (tenant, event_id) within 48 hours. The storage sits behind `SeenStore` so
//! the rule is tested natively; the edge backs it with a SQLite Durable Object per shard (strongly
//! consistent and single-threaded, unlike KV).
//!
//! The shard is also the intake's transactional outbox: one call claims a request's events and
//! stores the queue messages of the fresh ones in the same SQLite transaction, and the shard's
//! alarm forwards them to the delivery Queue. A beacon thus makes one runtime call instead of two,
//! and an event is never claimed without its messages (nor queued without its claim).

use serde::{Deserialize, Serialize};

use super::fanout::QueueMessage;
use super::hash::sha256_hex;

pub const DEDUP_WINDOW_SECS: i64 = 48 * 3600;
/// Shards spread load across Durable Objects; one event id always lands on the same shard.
pub const SHARDS: u32 = 16;

/// The stored key: a hash, so shard storage never holds tenant ids or event ids in the clear.
pub fn dedup_key(tenant_id: &str, event_id: &str) -> String {
    sha256_hex(&format!("{tenant_id}\u{1f}{event_id}"))
}

pub fn shard_of(key: &str) -> u32 {
    u32::from_str_radix(&key[..8], 16).unwrap_or(0) % SHARDS
}

pub trait SeenStore {
    /// Records `key` as seen at `now` unless it was seen within the window; returns true when the
    /// key is new (first sighting, or the previous one expired). Must be atomic per key.
    fn claim(&mut self, key: &str, now: i64) -> bool;
}

/// One event of a claim: its dedup key and the queue messages (JSON) to send if it is fresh.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimItem {
    pub key: String,
    pub messages: Vec<String>,
}

/// What the intake asks one shard. Only the shard knows which events were duplicates, so it also
/// queues the intake counters for its share of the request: its events, plus `rejected` (the
/// request's invalid events, sent to one of its shards). D1 adds the shares up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub tenant_id: String,
    pub now: i64,
    pub events: Vec<ClaimItem>,
    pub rejected: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimAnswer {
    pub fresh: Vec<bool>,
}

/// The claim's effect: per event whether it is fresh, and the messages for the outbox in order.
/// Events are claimed in order, so a key repeated within the request is a duplicate the second time.
pub fn apply_claim<S: SeenStore>(store: &mut S, req: &ClaimRequest) -> (Vec<bool>, Vec<String>) {
    let mut outbox = Vec::new();
    let fresh: Vec<bool> = req
        .events
        .iter()
        .map(|item| {
            let fresh = store.claim(&item.key, req.now);
            if fresh {
                outbox.extend(item.messages.iter().cloned());
            }
            fresh
        })
        .collect();
    let accepted = fresh.iter().filter(|f| **f).count() as u32;
    let counters = QueueMessage::intake_counters(
        &req.tenant_id,
        req.now,
        fresh.len() as u32,
        accepted,
        req.rejected,
    );
    outbox.push(serde_json::to_string(&counters).expect("counters serialize"));
    (fresh, outbox)
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
        let req = ClaimRequest {
            tenant_id: "t".into(),
            now: 5,
            events: vec![item("e", &[]), item("e", &[]), item("f", &[])],
            rejected: 0,
        };
        assert_eq!(apply_claim(&mut s, &req).0, vec![true, false, true]);
    }

    fn item(event_id: &str, messages: &[&str]) -> ClaimItem {
        ClaimItem {
            key: dedup_key("t", event_id),
            messages: messages.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn a_claim_queues_the_messages_of_fresh_events_only_and_counts_its_share() {
        let mut s = MemoryStore::default();
        s.claim(&dedup_key("t", "old"), 7_000);
        let req = ClaimRequest {
            tenant_id: "t".into(),
            now: 7_250,
            events: vec![
                item("a", &["rec-a", "meta-a"]),
                item("old", &["rec-old"]),
                item("a", &["rec-a-again"]),
                item("b", &["rec-b"]),
            ],
            rejected: 1,
        };
        let (fresh, outbox) = apply_claim(&mut s, &req);
        assert_eq!(fresh, vec![true, false, false, true]);
        assert_eq!(&outbox[..3], ["rec-a", "meta-a", "rec-b"]);
        let counters: QueueMessage = serde_json::from_str(&outbox[3]).unwrap();
        assert_eq!(
            counters,
            QueueMessage::Counters {
                tenant_id: "t".into(),
                hour: 7_200,
                received: 5,
                accepted: 2,
                duplicates: 2,
                rejected: 1,
            }
        );
        let again = ClaimRequest {
            tenant_id: "t".into(),
            now: 7_300,
            events: vec![item("b", &["rec-b"]), item("c", &["rec-c"])],
            rejected: 0,
        };
        let (fresh, outbox) = apply_claim(&mut s, &again);
        assert_eq!(
            (fresh, &outbox[0]),
            (vec![false, true], &"rec-c".to_string())
        );
        assert!(outbox[1].contains(r#""received":2,"accepted":1,"duplicates":1,"rejected":0"#));
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
}
