//! The failed-authentication limiter and the api key rotation rules. Pure: the edge keeps the
//! counters (a per-isolate memo written through to KV) and the key hashes.
//!
//! A wrong key or admin token counts one failure in two fixed one-minute windows: its client's
//! network (an IPv4 address, an IPv6 /64: one subscriber, however many addresses it rotates
//! through) and its key prefix (the same key tried from many addresses). Past
//! `MAX_FAILURES_PER_MINUTE` in either, a wrong key is answered 429 with `Retry-After` instead of
//! 401. A correct key is never refused: it is checked first and never counted, so a crowd of
//! wrong keys behind one shared egress address (an office, a carrier NAT, a proxy) or guesses at
//! one's prefix cannot lock out the right one. The keys themselves (256 random bits) are what
//! makes guessing hopeless; the limit slows it down and keeps it visible.

/// Failed authentications allowed per bucket per window before a wrong key is answered 429.
pub const MAX_FAILURES_PER_MINUTE: i64 = 10;
pub const WINDOW_SECS: i64 = 60;
/// How much of a presented key names its bucket (`sk_` and 9 characters: 54 bits).
pub const KEY_PREFIX_CHARS: usize = 12;
/// KV takes one write per second per key; an isolate writes a bucket at most this often.
pub const STORE_INTERVAL_MS: i64 = 1_000;
/// Longest grace period for the previous api key after a rotation.
pub const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;

pub fn window(now: i64) -> i64 {
    now.div_euclid(WINDOW_SECS)
}

/// Seconds until the current window ends (the `Retry-After` value), at least 1.
pub fn retry_after(now: i64) -> i64 {
    (WINDOW_SECS - now.rem_euclid(WINDOW_SECS)).max(1)
}

/// The two buckets a failed attempt counts in: the client's network and the key's prefix. The
/// prefix is kept only as part of a SHA-256 (a mistyped real key must not leave a readable piece
/// of itself in the counters).
pub fn buckets(ip: Option<&str>, presented_key: &str) -> [String; 2] {
    let prefix = super::text::truncate_chars(presented_key.trim(), KEY_PREFIX_CHARS);
    let hash = super::hash::sha256_hex(prefix);
    [net_bucket(ip), format!("key:{}", &hash[..16])]
}

/// `net:` and the IPv4 address, or the IPv6 /64 (an IPv4-mapped address counts as IPv4).
/// Without a readable address every such caller shares one bucket.
pub fn net_bucket(ip: Option<&str>) -> String {
    use std::net::IpAddr;
    let v4 = |o: [u8; 4]| format!("net:{}.{}.{}.{}", o[0], o[1], o[2], o[3]);
    match ip.and_then(|s| s.trim().parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(a)) => v4(a.octets()),
        Some(IpAddr::V6(a)) => match a.to_ipv4_mapped() {
            Some(m) => v4(m.octets()),
            None => {
                let s = a.segments();
                format!("net:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        None => "net:unknown".into(),
    }
}

/// A bucket's failures in one window, as the isolate memo and KV keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub window: i64,
    pub n: i64,
}

impl Count {
    /// As KV keeps it: `<window> <n>` (plain text: no JSON code for so little).
    pub fn encode(self) -> String {
        format!("{} {}", self.window, self.n)
    }

    pub fn decode(s: &str) -> Option<Count> {
        let (w, n) = s.split_once(' ')?;
        Some(Count {
            window: w.parse().ok()?,
            n: n.parse().ok()?,
        })
    }

    /// Failures counted in `window` (an older window's count is over).
    pub fn in_window(c: Option<Count>, window: i64) -> i64 {
        c.filter(|c| c.window == window).map_or(0, |c| c.n)
    }

    /// The count after one more failure: what this isolate counted or what KV holds (another
    /// isolate's count; KV keeps the last writer's number, not a sum), whichever is larger, plus
    /// one.
    pub fn after_failure(memo: Option<Count>, stored: Option<Count>, window: i64) -> Count {
        let n = Self::in_window(memo, window).max(Self::in_window(stored, window));
        Count { window, n: n + 1 }
    }
}

/// Is this bucket past the limit, given its failures so far in the current window?
pub fn blocked(failures_in_window: i64) -> bool {
    failures_in_window >= MAX_FAILURES_PER_MINUTE
}

/// Should the isolate write this count to KV now? At most once per `STORE_INTERVAL_MS` per bucket
/// (KV's write rate per key), except the failure that reaches the limit, which other isolates
/// most need to see.
pub fn should_store(count: Count, last_store_ms: Option<i64>, now_ms: i64) -> bool {
    count.n == MAX_FAILURES_PER_MINUTE
        || last_store_ms.is_none_or(|t| now_ms - t >= STORE_INTERVAL_MS)
}

/// Validates a rotation request's grace period (`grace_seconds`, default 0 = old key stops now).
pub fn grace_secs(v: Option<&serde_json::Value>) -> Result<i64, String> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(0),
        Some(x) => match x.as_i64() {
            Some(s) if (0..=MAX_GRACE_SECS).contains(&s) => Ok(s),
            _ => Err(format!(
                "must be an integer number of seconds between 0 and {MAX_GRACE_SECS}"
            )),
        },
    }
}

/// Is the previous key still accepted at `now`?
pub fn previous_key_valid(expires_at: Option<i64>, now: i64) -> bool {
    expires_at.is_some_and(|t| now < t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn windows_and_retry_after() {
        assert_eq!(window(119), 1);
        assert_eq!(window(120), 2);
        assert_eq!(retry_after(120), 60);
        assert_eq!(retry_after(179), 1);
    }

    #[test]
    fn blocking_threshold() {
        assert!(!blocked(MAX_FAILURES_PER_MINUTE - 1));
        assert!(blocked(MAX_FAILURES_PER_MINUTE));
    }

    #[test]
    fn networks() {
        assert_eq!(net_bucket(Some("203.0.113.7")), "net:203.0.113.7");
        assert_eq!(net_bucket(Some(" 203.0.113.7 ")), "net:203.0.113.7");
        // One /64, whatever the interface id and however it is written.
        let a = net_bucket(Some("2001:DB8:1:2::1"));
        assert_eq!(a, "net:2001:db8:1:2::/64");
        assert_eq!(net_bucket(Some("2001:db8:1:2:ffff:0:0:9")), a);
        assert_eq!(
            net_bucket(Some("2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd")),
            a
        );
        assert_ne!(net_bucket(Some("2001:db8:1:3::1")), a);
        assert_eq!(net_bucket(Some("::ffff:198.51.100.1")), "net:198.51.100.1");
        assert_eq!(net_bucket(None), "net:unknown");
        assert_eq!(net_bucket(Some(" ")), "net:unknown");
        assert_eq!(net_bucket(Some("not an address")), "net:unknown");
    }

    #[test]
    fn key_prefixes() {
        let [net, key] = buckets(Some("203.0.113.7"), "sk_AAAAAAAAAbbbbbbbbbbbbbbbbbbbbbb");
        assert_eq!(net, "net:203.0.113.7");
        assert!(key.starts_with("key:") && key.len() == 20);
        assert!(
            !key.contains("AAAA"),
            "the prefix is not readable in the counters"
        );
        // Same first 12 characters: the same bucket; another prefix: another.
        assert_eq!(buckets(None, "sk_AAAAAAAAAcccc")[1], key);
        assert_ne!(buckets(None, "sk_AAAAAAAABbbbb")[1], key);
    }

    #[test]
    fn counting_across_isolates_and_windows() {
        let w = 100;
        let c = |window, n| Some(Count { window, n });
        assert_eq!(
            Count::after_failure(None, None, w),
            Count { window: w, n: 1 }
        );
        assert_eq!(
            Count::after_failure(c(w, 3), c(w, 7), w).n,
            8,
            "KV's larger count"
        );
        assert_eq!(
            Count::after_failure(c(w, 9), c(w, 2), w).n,
            10,
            "this isolate's larger count"
        );
        assert_eq!(
            Count::after_failure(c(w - 1, 50), c(w - 1, 50), w).n,
            1,
            "a new window"
        );
        assert_eq!(Count::in_window(c(w - 1, 50), w), 0);
    }

    #[test]
    fn counts_round_trip_through_kv_text() {
        let c = Count {
            window: 29_333_333,
            n: 7,
        };
        assert_eq!(c.encode(), "29333333 7");
        assert_eq!(Count::decode(&c.encode()), Some(c));
        for bad in ["", "1", "1 x", "x 1", "1  2"] {
            assert_eq!(Count::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn kv_writes_at_most_once_a_second_per_bucket() {
        let c = |n| Count { window: 1, n };
        assert!(should_store(c(1), None, 5_000));
        assert!(!should_store(c(2), Some(5_000), 5_999));
        assert!(should_store(c(3), Some(5_000), 6_000));
        assert!(
            should_store(c(MAX_FAILURES_PER_MINUTE), Some(5_000), 5_001),
            "the blocking count"
        );
    }

    #[test]
    fn grace() {
        assert_eq!(grace_secs(None), Ok(0));
        assert_eq!(grace_secs(Some(&json!(3600))), Ok(3600));
        assert!(grace_secs(Some(&json!(-1))).is_err());
        assert!(grace_secs(Some(&json!("1h"))).is_err());
        assert!(grace_secs(Some(&json!(MAX_GRACE_SECS + 1))).is_err());
        assert!(previous_key_valid(Some(100), 99));
        assert!(!previous_key_valid(Some(100), 100));
        assert!(!previous_key_valid(None, 0));
    }
}
