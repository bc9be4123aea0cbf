//! Deduplication by (tenant, event_id) within 48 hours. The storage sits behind `SeenStore` so
//! the rule is tested natively; the edge backs it with a SQLite Durable Object per shard (strongly
//! consistent and single-threaded, unlike KV).

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
    /// Undoes a claim made at `at` (the event could not be enqueued, so a retry must pass).
    fn release(&mut self, key: &str, at: i64);
}

/// Claims every key in order; a key repeated within the same call is a duplicate the second time.
pub fn claim_all<S: SeenStore>(store: &mut S, keys: &[String], now: i64) -> Vec<bool> {
    keys.iter().map(|k| store.claim(k, now)).collect()
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

    fn release(&mut self, key: &str, at: i64) {
        if self.0.get(key) == Some(&at) {
            self.0.remove(key);
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
        let k = dedup_key("t", "e");
        assert_eq!(
            claim_all(&mut s, &[k.clone(), k.clone(), dedup_key("t", "f")], 5),
            vec![true, false, true]
        );
    }

    #[test]
    fn release_lets_a_retry_through_but_not_someone_elses_claim() {
        let mut s = MemoryStore::default();
        let k = dedup_key("t", "e");
        assert!(s.claim(&k, 10));
        s.release(&k, 9);
        assert!(!s.claim(&k, 11));
        s.release(&k, 10);
        assert!(s.claim(&k, 12));
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
