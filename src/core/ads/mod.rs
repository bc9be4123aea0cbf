//! Connected ads accounts: the pure core of metrics sync, KPIs, the per-tenant job schedule,
//! alerts, OAuth and audience sync.
//!
//! Like the destinations, nothing here does I/O: every platform call is planned as an
//! [`OutboundRequest`] and every answer is read back from an [`InboundResponse`]; the edge (the
//! scheduler Durable Object and the HTTP handlers) sends, stores and sets alarms.
//!
//! Shared rules, used by every file below:
//! - money is kept as integer micros (1 unit = 1,000,000 micros). Google reports `cost_micros`
//!   natively; Meta's decimal strings ("78.90") are parsed exactly into micros. Sums over
//!   thousands of campaign-days therefore never drift, and D1 stores them as INTEGER. Ratios
//!   (CPC, ROAS, ...) are computed from the exact sums and only then turned into `f64`.
//! - conversions are `f64`: Google's data-driven attribution reports fractional conversions.
//! - dates are UTC calendar days; see [`crate::core::calendar`].
//! - every platform failure is an [`ApiFailure`], whose class decides retry, backoff or marking
//!   the account in error.

use serde::{Deserialize, Serialize};

use super::calendar::Date;
use super::destinations::PlatformConfig;
use super::outbound::OutboundRequest;
use super::retry::parse_retry_after;

pub mod accounts;
pub mod alerts;
pub mod audience;
pub mod campaigns;
pub mod google_ads;
pub mod kpi;
pub mod meta_insights;
pub mod metrics;
pub mod oauth;
pub mod oauth_pages;
pub mod schedule;
pub mod score;
pub mod settings;

/// The ads platforms an account can be connected to: Meta and Google.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdsPlatform {
    Meta,
    Google,
}

impl AdsPlatform {
    pub const ALL: [AdsPlatform; 2] = [AdsPlatform::Meta, AdsPlatform::Google];

    pub fn as_str(self) -> &'static str {
        match self {
            AdsPlatform::Meta => "meta",
            AdsPlatform::Google => "google",
        }
    }

    pub fn parse(s: &str) -> Option<AdsPlatform> {
        AdsPlatform::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The connected account a sync reads, as the edge knows it from D1. The currency is the ad
/// account's own: platforms report money in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRef {
    pub platform: AdsPlatform,
    /// Meta ad account id without `act_`; Google customer id as 10 digits without dashes.
    pub account_id: String,
    pub currency: String,
}

/// A campaign's status, the same three for every platform: each platform's own statuses map
/// onto them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CampaignStatus {
    Active,
    Paused,
    Archived,
}

/// A campaign as synced into the campaigns table (read-only mirror of the platform).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub platform: AdsPlatform,
    pub account_id: String,
    pub campaign_id: String,
    pub name: String,
    pub status: CampaignStatus,
    pub daily_budget_micros: Option<i64>,
    pub lifetime_budget_micros: Option<i64>,
    /// What the platform says is left of the budget, when it says so (Meta only).
    pub budget_remaining_micros: Option<i64>,
    /// Meta's objective (OUTCOME_SALES, ...) or Google's advertising channel type (SEARCH, ...).
    #[serde(default)]
    pub objective: Option<String>,
    #[serde(default)]
    pub start_date: Option<Date>,
    /// None: runs until stopped.
    #[serde(default)]
    pub end_date: Option<Date>,
}

/// Why a platform call failed, in the classes the scheduler acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum ApiFailure {
    /// The platform asked us to slow down; try again after the hint (or a backoff).
    RateLimited {
        reason: String,
        retry_after_secs: Option<u32>,
    },
    /// Transient: 5xx, timeouts, network errors, errors the platform calls transient.
    Retryable { reason: String },
    /// The token is expired, revoked or lacks permissions: retrying cannot help until the
    /// tenant reconnects; the account is marked in error at once.
    AuthInvalid { reason: String },
    /// Any other refusal (bad parameter, unknown account): retrying the same call cannot help.
    Permanent { reason: String },
}

impl ApiFailure {
    pub fn reason(&self) -> &str {
        match self {
            ApiFailure::RateLimited { reason, .. }
            | ApiFailure::Retryable { reason }
            | ApiFailure::AuthInvalid { reason }
            | ApiFailure::Permanent { reason } => reason,
        }
    }

    /// Generic HTTP classes, for answers whose body does not explain themselves.
    pub fn from_status(status: u16, retry_after: Option<&str>, reason: String) -> ApiFailure {
        match status {
            429 => ApiFailure::RateLimited {
                reason,
                retry_after_secs: parse_retry_after(retry_after),
            },
            0 | 408 | 500..=599 => ApiFailure::Retryable { reason },
            401 => ApiFailure::AuthInvalid { reason },
            _ => ApiFailure::Permanent { reason },
        }
    }
}

/// One page of a paginated read, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// API bases and versions for the ads integration. Every base is configurable so tests can
/// point them at the fake upstream; paths after a base are the platforms' real paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdsConfig {
    pub meta_graph_base: String,
    pub meta_api_version: String,
    /// Where the Meta login dialog lives (`{base}/{version}/dialog/oauth`).
    pub meta_dialog_base: String,
    pub google_ads_api_base: String,
    pub google_ads_api_version: String,
    /// Google OAuth token endpoint base (`{base}/token`).
    pub google_oauth_base: String,
    /// Google consent screen base (`{base}/o/oauth2/v2/auth`).
    pub google_accounts_base: String,
}

pub const DEFAULT_GOOGLE_ADS_API_VERSION: &str = "v22";

impl Default for AdsConfig {
    fn default() -> Self {
        AdsConfig::from_platform_config(&PlatformConfig::default())
    }
}

impl AdsConfig {
    /// Reuses the bases the destinations already read from the wrangler vars.
    pub fn from_platform_config(cfg: &PlatformConfig) -> Self {
        AdsConfig {
            meta_graph_base: cfg.meta_graph_base.clone(),
            meta_api_version: cfg.meta_api_version.clone(),
            meta_dialog_base: "https://www.facebook.com".into(),
            google_ads_api_base: cfg.google_ads_api_base.clone(),
            google_ads_api_version: DEFAULT_GOOGLE_ADS_API_VERSION.into(),
            google_oauth_base: "https://oauth2.googleapis.com".into(),
            google_accounts_base: "https://accounts.google.com".into(),
        }
    }

    pub(crate) fn meta_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.meta_graph_base.trim_end_matches('/'),
            self.meta_api_version,
            path
        )
    }

    fn google_ads_url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.google_ads_api_base.trim_end_matches('/'),
            self.google_ads_api_version,
            path
        )
    }
}

pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// Exact decimal string ("78.9", "1234.567891", "12") → micros. Digits past the sixth decimal
/// are rounded half up. None for anything that is not a plain non-negative decimal.
pub fn parse_decimal_micros(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(frac) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut micros = whole.checked_mul(MICROS_PER_UNIT)?;
    let mut scale = MICROS_PER_UNIT / 10;
    for (i, b) in frac.bytes().enumerate() {
        let digit = i64::from(b - b'0');
        if i < 6 {
            micros += digit * scale;
            scale /= 10;
        } else {
            if digit >= 5 {
                micros += 1;
            }
            break;
        }
    }
    Some(micros)
}

/// Micros → currency units, for presentation and ratios.
pub fn micros_to_units(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_UNIT as f64
}

/// Currency units given as a float by a platform (Google `conversions_value`) → micros.
pub fn units_to_micros(units: f64) -> i64 {
    (units * MICROS_PER_UNIT as f64).round() as i64
}

fn bearer(request: OutboundRequest, token: &str) -> OutboundRequest {
    request.with_header("authorization", format!("Bearer {token}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_parse_exactly_into_micros() {
        assert_eq!(parse_decimal_micros("78.90"), Some(78_900_000));
        assert_eq!(parse_decimal_micros("12"), Some(12_000_000));
        assert_eq!(parse_decimal_micros("0.01"), Some(10_000));
        assert_eq!(parse_decimal_micros(".5"), Some(500_000));
        assert_eq!(parse_decimal_micros("1234.5678914"), Some(1_234_567_891));
        assert_eq!(parse_decimal_micros("1234.5678915"), Some(1_234_567_892));
        assert_eq!(parse_decimal_micros(" 3.20 "), Some(3_200_000));
        for bad in ["", ".", "-1.0", "1e3", "12,50", "abc", "1.2.3"] {
            assert_eq!(parse_decimal_micros(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn float_units_round_to_the_nearest_micro() {
        assert_eq!(units_to_micros(299.7), 299_700_000);
        assert_eq!(units_to_micros(0.1 + 0.2), 300_000);
        assert_eq!(micros_to_units(5_420_500_000), 5420.5);
    }

    #[test]
    fn generic_status_classes() {
        let f = |s| ApiFailure::from_status(s, Some("30"), "x".into());
        assert_eq!(
            f(429),
            ApiFailure::RateLimited {
                reason: "x".into(),
                retry_after_secs: Some(30)
            }
        );
        assert_eq!(f(503), ApiFailure::Retryable { reason: "x".into() });
        assert_eq!(f(0), ApiFailure::Retryable { reason: "x".into() });
        assert_eq!(f(401), ApiFailure::AuthInvalid { reason: "x".into() });
        assert_eq!(f(400), ApiFailure::Permanent { reason: "x".into() });
    }

    #[test]
    fn config_reuses_destination_bases() {
        let pc = PlatformConfig {
            meta_graph_base: "http://127.0.0.1:9999/".into(),
            google_ads_api_base: "http://127.0.0.1:9998".into(),
            ..PlatformConfig::default()
        };
        let cfg = AdsConfig::from_platform_config(&pc);
        assert_eq!(
            cfg.meta_url("act_1/insights"),
            "http://127.0.0.1:9999/v24.0/act_1/insights"
        );
        assert_eq!(
            cfg.google_ads_url("customers/1/googleAds:searchStream"),
            "http://127.0.0.1:9998/v22/customers/1/googleAds:searchStream"
        );
        assert_eq!(AdsPlatform::parse("google"), Some(AdsPlatform::Google));
        assert_eq!(AdsPlatform::parse("tiktok"), None);
    }
}
