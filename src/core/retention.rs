//! Retention cutoffs: client IPs are kept 30 days at most; events and their
//! delivery log are kept for the tenant's retention (default 90 days). The SQL in the edge applies
//! exactly these formulas; `now` is the scheduled time of the cron run.

use super::calendar::SECS_PER_DAY;

pub const DAY: i64 = SECS_PER_DAY;
pub const IP_RETENTION_DAYS: i64 = 30;
pub const DEFAULT_RETENTION_DAYS: i64 = 90;

/// Rows received strictly before this lose their IP.
pub fn ip_cutoff(now: i64) -> i64 {
    now - IP_RETENTION_DAYS * DAY
}

/// Events and deliveries strictly older than this are deleted (`retention_days` ≤ 0 → default).
pub fn event_cutoff(now: i64, retention_days: i64) -> i64 {
    let days = if retention_days > 0 {
        retention_days
    } else {
        DEFAULT_RETENTION_DAYS
    };
    now - days * DAY
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs() {
        let now = 1_800_000_000;
        assert_eq!(now - ip_cutoff(now), 30 * DAY);
        assert_eq!(now - event_cutoff(now, 90), 90 * DAY);
        assert_eq!(event_cutoff(now, 0), event_cutoff(now, 90));
        assert_eq!(now - event_cutoff(now, 7), 7 * DAY);
        // A row received exactly 30 days ago keeps its IP until the next run.
        assert!(now - 30 * DAY >= ip_cutoff(now));
        assert!(now - 30 * DAY - 1 < ip_cutoff(now));
    }
}
