//! Failed-authentication rate limit and api key rotation rules. Pure: the edge stores the
//! counters (D1, fixed one-minute windows) and the key hashes.
//!
//! Fixed windows per client IP: at most `MAX_FAILURES_PER_MINUTE` failed authentications; once
//! reached, every authentication attempt from that IP (even a correct key) is answered 429 until
//! the window ends, so guessing cannot continue in the background of a valid session.

/// Failed authentications allowed per client IP per minute before answering 429.
pub const MAX_FAILURES_PER_MINUTE: i64 = 10;
pub const WINDOW_SECS: i64 = 60;
/// Longest grace period for the previous api key after a rotation.
pub const MAX_GRACE_SECS: i64 = 7 * 24 * 3600;

pub fn window(now: i64) -> i64 {
    now.div_euclid(WINDOW_SECS)
}

/// Seconds until the current window ends (the `Retry-After` value), at least 1.
pub fn retry_after(now: i64) -> i64 {
    (WINDOW_SECS - now.rem_euclid(WINDOW_SECS)).max(1)
}

/// The counter key of a client. Without a known address every anonymous caller shares one bucket.
pub fn bucket(ip: Option<&str>) -> String {
    match ip.map(str::trim).filter(|s| !s.is_empty()) {
        Some(ip) => format!("ip:{}", ip.to_ascii_lowercase()),
        None => "ip:unknown".into(),
    }
}

/// Is this client blocked, given its failures so far in the current window?
pub fn blocked(failures_in_window: i64) -> bool {
    failures_in_window >= MAX_FAILURES_PER_MINUTE
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
    fn buckets() {
        assert_eq!(bucket(Some("2001:DB8::1")), "ip:2001:db8::1");
        assert_eq!(bucket(None), "ip:unknown");
        assert_eq!(bucket(Some(" ")), "ip:unknown");
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
