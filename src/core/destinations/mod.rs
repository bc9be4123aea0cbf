//! One file per platform, one trait. A destination turns canonical events into the platform's
//! exact request(s) and reads the platform's answer back into an `Outcome`. No I/O here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::consent::DeliveryMode;
use super::event::{AssertedConsent, ClickIds, Event, HashedUser};
use super::outbound::{InboundResponse, OutboundRequest};
use super::platform::Platform;
use super::retry::Outcome;
use super::text::truncate_bytes;

pub mod ga4;
pub mod google_ads;
pub mod linkedin;
pub mod meta;
pub mod tiktok;

/// API bases and versions (wrangler vars). Paths after a base are the platform's real paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    pub meta_graph_base: String,
    pub meta_api_version: String,
    pub ga4_mp_base: String,
    pub linkedin_api_base: String,
    pub linkedin_version: String,
    pub tiktok_api_base: String,
    pub google_ads_api_base: String,
    pub google_ads_api_version: String,
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            meta_graph_base: "https://graph.facebook.com".into(),
            meta_api_version: "v24.0".into(),
            ga4_mp_base: "https://www.google-analytics.com".into(),
            linkedin_api_base: "https://api.linkedin.com".into(),
            linkedin_version: "202510".into(),
            tiktok_api_base: "https://business-api.tiktok.com".into(),
            google_ads_api_base: "https://googleads.googleapis.com".into(),
            google_ads_api_version: "v22".into(),
        }
    }
}

/// A pixel's platform id and decrypted secrets, alive only while a request is planned.
/// `access_token` is the platform's API token (for Google Ads, the connected account's OAuth
/// access token); `api_secret` is GA4's Measurement Protocol secret, or for Google Ads the
/// operator's developer token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub pixel_id: String,
    pub access_token: Option<String>,
    pub api_secret: Option<String>,
    pub test_event_code: Option<String>,
    pub settings: PixelSettings,
}

/// A pixel's settings beyond its id, by platform (stored with the pixel; nothing secret).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PixelSettings {
    /// Google Ads: the conversion action (its id) each conversion name is uploaded to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conversion_actions: BTreeMap<String, String>,
    /// Google Ads: the account's time zone, which `conversionDateTime` is written in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Google Ads: the manager account the upload goes through (`login-customer-id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_customer_id: Option<String>,
    /// TikTok: the offline event set offline and CRM conversions go to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_event_set_id: Option<String>,
}

impl PixelSettings {
    pub fn is_empty(&self) -> bool {
        *self == PixelSettings::default()
    }
}

impl std::fmt::Debug for Credentials {
    // Secrets never reach a log, even through {:?}.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("pixel_id", &self.pixel_id)
            .field("access_token", &self.access_token.as_ref().map(|_| "<set>"))
            .field("api_secret", &self.api_secret.as_ref().map(|_| "<set>"))
            .field("test_event_code", &self.test_event_code)
            .field("settings", &self.settings)
            .finish()
    }
}

/// An event on its way to one destination, with the consent it was routed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryEvent {
    /// Shared by the jobs of every destination the event fans out to (no per-destination copy).
    pub event: std::sync::Arc<Event>,
    pub mode: DeliveryMode,
    pub consent: AssertedConsent,
}

impl DeliveryEvent {
    /// User identifiers, or None in limited-data mode (nothing that identifies a person).
    pub fn identifiers(&self) -> Option<(&HashedUser, &ClickIds)> {
        match self.mode {
            DeliveryMode::Full => Some((&self.event.user, &self.event.click_ids)),
            DeliveryMode::Limited => None,
        }
    }

    pub fn client_ip(&self) -> Option<&str> {
        match self.mode {
            DeliveryMode::Full => self.event.client.ip.as_deref(),
            DeliveryMode::Limited => None,
        }
    }

    /// The browser's user agent, or None in limited-data mode (it narrows a person down).
    pub fn user_agent(&self) -> Option<&str> {
        match self.mode {
            DeliveryMode::Full => self.event.client.user_agent.as_deref(),
            DeliveryMode::Limited => None,
        }
    }

    /// The page URL: whole, or in limited-data mode its origin and path only (no query: no click
    /// ids, campaign or any other parameter that could single a visitor out).
    pub fn page_url(&self) -> Option<&str> {
        self.limited_url(self.event.url.as_deref())
    }

    /// The referrer, as `page_url`.
    pub fn referrer_url(&self) -> Option<&str> {
        self.limited_url(self.event.referrer.as_deref())
    }

    fn limited_url<'a>(&self, url: Option<&'a str>) -> Option<&'a str> {
        match self.mode {
            DeliveryMode::Full => url,
            DeliveryMode::Limited => url.map(crate::core::scrub::origin_and_path),
        }
    }
}

/// One HTTP request and the indices (into the planned slice) of the events it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRequest {
    pub request: OutboundRequest,
    pub events: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub requests: Vec<PlannedRequest>,
    /// Events the platform would refuse, with the rule they break; never sent.
    pub rejected: Vec<(usize, String)>,
    /// Events outside the platform's time window (too old for it), with the window: no attempt
    /// could ever deliver them, so they are skipped, not failed.
    pub skipped: Vec<(usize, String)>,
}

impl Plan {
    /// Every event refused for one reason (the pixel lacks its credential).
    pub fn reject_all(count: usize, reason: &str) -> Plan {
        Plan {
            rejected: (0..count).map(|i| (i, reason.to_string())).collect(),
            ..Plan::default()
        }
    }

    /// Records the events outside the platform's window (`outside`, skipped) and those a rule
    /// refuses (`refuse`), and returns the indices of the others.
    pub fn screen_window(
        &mut self,
        events: &[DeliveryEvent],
        outside: impl Fn(&DeliveryEvent) -> Option<String>,
        refuse: impl Fn(&DeliveryEvent) -> Option<String>,
    ) -> Vec<usize> {
        let mut sendable = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            if let Some(window) = outside(ev) {
                self.skipped.push((i, window));
            } else if let Some(reason) = refuse(ev) {
                self.rejected.push((i, reason));
            } else {
                sendable.push(i);
            }
        }
        sendable
    }

    /// Records the events a platform rule refuses and returns the indices of the others.
    pub fn screen(
        &mut self,
        events: &[DeliveryEvent],
        refuse: impl Fn(&DeliveryEvent) -> Option<String>,
    ) -> Vec<usize> {
        let mut sendable = Vec::with_capacity(events.len());
        for (i, ev) in events.iter().enumerate() {
            match refuse(ev) {
                Some(reason) => self.rejected.push((i, reason)),
                None => sendable.push(i),
            }
        }
        sendable
    }
}

pub trait Destination: Sync {
    fn platform(&self) -> Platform;
    /// Most events one request may carry.
    fn max_batch(&self) -> usize;
    fn plan(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        events: &[DeliveryEvent],
        now: i64,
    ) -> Plan;
    fn classify(&self, response: &InboundResponse) -> Outcome;
    /// One outcome per event when the platform answered each event of a request on its own
    /// (Google Ads' partial failures name the failed rows): each event is then settled by its
    /// own outcome, not the request's. None (the default) when one outcome covers the request.
    fn classify_rows(&self, _response: &InboundResponse, _rows: usize) -> Option<Vec<Outcome>> {
        None
    }
    /// Problems the platform reported in a successful verify answer (GA4's debug endpoint answers
    /// 200 with `validationMessages`). Empty means nothing to report.
    fn verify_findings(&self, _response: &InboundResponse) -> Vec<String> {
        Vec::new()
    }
    /// The request the pixel `verify` endpoint sends: a test event, or the platform's validation
    /// call, whose answer tells whether id and token work.
    fn plan_verify(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        now: i64,
    ) -> Result<OutboundRequest, String>;
}

pub fn destination(platform: Platform) -> Option<&'static dyn Destination> {
    match platform {
        Platform::Meta => Some(&meta::Meta),
        Platform::Google => Some(&ga4::Ga4),
        Platform::Linkedin => Some(&linkedin::Linkedin),
        Platform::Tiktok => Some(&tiktok::Tiktok),
        Platform::GoogleAds => Some(&google_ads::GoogleAds),
    }
}

/// The first 300 bytes of an error body (cut on a character boundary), for stored `last_error`s.
pub fn snippet(body: &str) -> String {
    truncate_bytes(body, 300).to_string()
}

/// Builds delivery events the way the intake does, for the destinations' golden tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::DeliveryEvent;
    use crate::core::consent::DeliveryMode;
    use crate::core::event::{parse_event, AssertedConsent, IntakeContext};

    pub const NOW: i64 = 1_760_000_000;
    pub const ALL: AssertedConsent = AssertedConsent {
        analytics: true,
        marketing: true,
    };

    /// `v` parsed as if sent from 198.51.100.4 with a desktop user agent at `NOW`.
    pub fn delivery_with(
        v: serde_json::Value,
        mode: DeliveryMode,
        consent: AssertedConsent,
    ) -> DeliveryEvent {
        let ctx = IntakeContext {
            now: NOW,
            ip: Some("198.51.100.4"),
            user_agent: Some("Mozilla/5.0 (X11)"),
            geo_country: None,
            trusted: false,
        };
        let p = parse_event(&v, "", &ctx, &mut || "gen".into()).expect("test event is valid");
        DeliveryEvent {
            event: std::sync::Arc::new(p.event),
            mode,
            consent,
        }
    }

    pub fn delivery(v: serde_json::Value, mode: DeliveryMode) -> DeliveryEvent {
        delivery_with(v, mode, ALL)
    }
}
