//! Retention cutoffs, one rule per D1 table, applied by the daily retention job. `now` is the
//! scheduled time of the cron run; the SQL in the edge applies exactly these formulas.
//!
//! - client IPs: 30 days; events and their delivery log: the tenant's retention (default 90 days);
//! - consent evidence (`consent_records`): a visitor's records are kept while their latest choice
//!   is younger than the consent retention (default 3 years, `CONSENT_RETENTION_DAYS`): the GDPR
//!   asks a controller to be able to show the consent it relies on (art. 7(1)) for as long as it
//!   processes on it and claims about it can be brought (3 years is the common limitation
//!   period); an erasure record goes the same way. The erasure audit is kept as long;
//! - operational logs: ads alerts (the notification log) 90 days, OAuth flows and pending ads
//!   grants when expired, usage counters 90 days, ads metrics and campaigns not updated 25
//!   months, audience members of removed audiences at once;
//! - conversions beyond the browser: the conversions, Stripe refunds, Meta leads (hashed
//!   identifiers), and attribution's touchpoints and conversion facts (pseudonymous visitor ids)
//!   for what the longest attribution report can read: a year of report and its 90-day lookback.
//!   A conversion id then stays a duplicate far longer than a conversion may be late (90 days);
//!   Stripe's webhook receipts (replay protection) 30 days, ten times Stripe's retries.
//!
//! Tenants, pixels, ads accounts, audiences, integrations and settings are kept while they exist.

use super::calendar::SECS_PER_DAY;

pub const DAY: i64 = SECS_PER_DAY;
pub const IP_RETENTION_DAYS: i64 = 30;
pub const DEFAULT_RETENTION_DAYS: i64 = 90;
/// Consent evidence after the visitor's latest choice, unless `CONSENT_RETENTION_DAYS` says.
pub const DEFAULT_CONSENT_RETENTION_DAYS: i64 = 3 * 365;
/// The shortest consent retention an operator may set: a choice must outlive the events it
/// covers (kept up to the longest tenant retention a tenant is likely to set).
pub const MIN_CONSENT_RETENTION_DAYS: i64 = 400;
pub const NOTIFICATION_LOG_DAYS: i64 = 90;
pub const USAGE_DAYS: i64 = 90;
/// Two years and a month: year-over-year reports of the last full year.
pub const ADS_METRICS_DAYS: i64 = 25 * 31;
/// The longest attribution report and its longest lookback.
pub const CONVERSION_DAYS: i64 =
    super::attribution::MAX_REPORT_DAYS + super::attribution::MAX_LOOKBACK_DAYS as i64;
pub const WEBHOOK_RECEIPT_DAYS: i64 = 30;

/// The consent retention in days: `configured` (CONSENT_RETENTION_DAYS) when it is a number of at
/// least the minimum, else the default.
pub fn consent_retention_days(configured: Option<&str>) -> i64 {
    configured
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|d| *d >= MIN_CONSENT_RETENTION_DAYS)
        .unwrap_or(DEFAULT_CONSENT_RETENTION_DAYS)
}

/// The cutoffs of one run, unix seconds: rows strictly older go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cutoffs {
    /// A visitor whose latest consent record is older loses every record.
    pub consent: i64,
    /// Erasure audit rows older go.
    pub erasure_audit: i64,
    pub notifications: i64,
    pub usage: i64,
    /// `YYYY-MM-DD`: ads metrics of earlier dates go.
    pub ads_metrics_date: String,
    /// Campaigns not updated since go.
    pub ads_campaigns: i64,
    /// OAuth flows and pending ads grants that expired before go.
    pub oauth_states: i64,
    /// Conversions, refunds, leads, touchpoints and conversion facts older go.
    pub conversions: i64,
    pub webhook_receipts: i64,
}

impl Cutoffs {
    pub fn at(now: i64, consent_days: i64) -> Cutoffs {
        let ads = now - ADS_METRICS_DAYS * DAY;
        Cutoffs {
            consent: now - consent_days * DAY,
            erasure_audit: now - consent_days * DAY,
            notifications: now - NOTIFICATION_LOG_DAYS * DAY,
            usage: now - USAGE_DAYS * DAY,
            ads_metrics_date: super::calendar::Date::from_unix(ads).to_string(),
            ads_campaigns: ads,
            oauth_states: now,
            conversions: now - CONVERSION_DAYS * DAY,
            webhook_receipts: now - WEBHOOK_RECEIPT_DAYS * DAY,
        }
    }
}

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
    fn every_table_has_a_cutoff() {
        let now = 1_800_000_000; // 2027-01-15
        let c = Cutoffs::at(now, consent_retention_days(None));
        assert_eq!(now - c.consent, 3 * 365 * DAY);
        assert_eq!(c.erasure_audit, c.consent);
        assert_eq!(now - c.notifications, 90 * DAY);
        assert_eq!(now - c.usage, 90 * DAY);
        assert_eq!(c.ads_metrics_date, "2024-12-01");
        assert_eq!(c.oauth_states, now);
        assert_eq!(now - c.conversions, 456 * DAY);
        assert_eq!(now - c.webhook_receipts, 30 * DAY);
        assert_eq!(consent_retention_days(Some("730")), 730);
        assert_eq!(consent_retention_days(Some(" 2000 ")), 2000);
        for bad in ["30", "-1", "x", ""] {
            assert_eq!(
                consent_retention_days(Some(bad)),
                DEFAULT_CONSENT_RETENTION_DAYS,
                "{bad}"
            );
        }
    }

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
