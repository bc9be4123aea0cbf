//! The destination platforms, and the canonical event names with their name on each platform.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Meta,
    Google,
    Linkedin,
    Tiktok,
    /// Google Ads click conversions (offline and CRM conversions, and web events that carry a
    /// Google click id), as opposed to `Google`, the GA4 Measurement Protocol.
    #[serde(rename = "google_ads")]
    GoogleAds,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Meta,
        Platform::Google,
        Platform::Linkedin,
        Platform::Tiktok,
        Platform::GoogleAds,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Meta => "meta",
            Platform::Google => "google",
            Platform::Linkedin => "linkedin",
            Platform::Tiktok => "tiktok",
            Platform::GoogleAds => "google_ads",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// GA4 is analytics; the others are advertising platforms (marketing consent).
    pub fn is_advertising(self) -> bool {
        !matches!(self, Platform::Google)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventName {
    PageView,
    Lead,
    Signup,
    AddToCart,
    Purchase,
    Contact,
    Schedule,
    ViewContent,
    Custom,
}

/// Canonical → (Meta, Google, LinkedIn, TikTok), each the platform's own standard event name, so
/// that the platform recognizes it: TikTok's sign-up event is `CompleteRegistration` (it has no
/// "Registration") and its pixel reports page views as `Pageview`.
const TABLE: [(EventName, &str, [&str; 4]); 8] = [
    (
        EventName::PageView,
        "page_view",
        ["PageView", "page_view", "PageView", "Pageview"],
    ),
    (
        EventName::Lead,
        "lead",
        ["Lead", "generate_lead", "Lead", "SubmitForm"],
    ),
    (
        EventName::Signup,
        "signup",
        [
            "CompleteRegistration",
            "sign_up",
            "SignUp",
            "CompleteRegistration",
        ],
    ),
    (
        EventName::AddToCart,
        "add_to_cart",
        ["AddToCart", "add_to_cart", "AddToCart", "AddToCart"],
    ),
    (
        EventName::Purchase,
        "purchase",
        ["Purchase", "purchase", "Conversion", "PlaceAnOrder"],
    ),
    (
        EventName::Contact,
        "contact",
        ["Contact", "contact", "Contact", "Contact"],
    ),
    (
        EventName::Schedule,
        "schedule",
        [
            "Schedule",
            "book_appointment",
            "BookAppointment",
            "Schedule",
        ],
    ),
    (
        EventName::ViewContent,
        "view_content",
        ["ViewContent", "view_item", "ViewContent", "ViewContent"],
    ),
];

impl EventName {
    pub fn as_str(self) -> &'static str {
        TABLE
            .iter()
            .find(|(n, _, _)| *n == self)
            .map(|(_, s, _)| *s)
            .unwrap_or("custom")
    }

    /// Accepts the canonical names and, so sites migrating from a pixel need not rename, any
    /// platform's own name for them ("Purchase", "PageView", "generate_lead", "SubmitForm", ...).
    /// Matching ignores case and `_`/`-`/space. Anything else is a custom event.
    pub fn parse(raw: &str) -> EventName {
        // Most callers (our own tag) send the canonical name: no folding needed for those.
        if let Some((name, _, _)) = TABLE.iter().find(|(_, canonical, _)| *canonical == raw) {
            return *name;
        }
        let key = squash(raw);
        let same = |name: &str| squash_chars(name).eq(key.chars());
        for (name, canonical, per_platform) in TABLE.iter() {
            if same(canonical) || per_platform.iter().any(|p| same(p)) {
                return *name;
            }
        }
        EventName::Custom
    }

    /// The platform's name, or None for custom events (the destination uses the custom name).
    pub fn for_platform(self, platform: Platform) -> Option<&'static str> {
        let column = match platform {
            Platform::Meta => 0,
            // Google Ads takes conversion actions, not names; Google's names describe its events.
            Platform::Google | Platform::GoogleAds => 1,
            Platform::Linkedin => 2,
            Platform::Tiktok => 3,
        };
        TABLE
            .iter()
            .find(|(n, _, _)| *n == self)
            .map(|(_, _, names)| names[column])
    }
}

/// Lowercase without `_`, `-` and spaces; compared lazily so the table needs no allocations.
fn squash_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
}

fn squash(s: &str) -> String {
    squash_chars(s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_table_maps_every_platform() {
        assert_eq!(
            EventName::Purchase.for_platform(Platform::Meta),
            Some("Purchase")
        );
        assert_eq!(
            EventName::Purchase.for_platform(Platform::Linkedin),
            Some("Conversion")
        );
        assert_eq!(
            EventName::Purchase.for_platform(Platform::Tiktok),
            Some("PlaceAnOrder")
        );
        assert_eq!(
            EventName::Lead.for_platform(Platform::Google),
            Some("generate_lead")
        );
        assert_eq!(
            EventName::Signup.for_platform(Platform::Meta),
            Some("CompleteRegistration")
        );
        assert_eq!(
            EventName::Schedule.for_platform(Platform::Google),
            Some("book_appointment")
        );
        assert_eq!(
            EventName::ViewContent.for_platform(Platform::Google),
            Some("view_item")
        );
        assert_eq!(EventName::Custom.for_platform(Platform::Meta), None);
        assert_eq!(
            EventName::Signup.for_platform(Platform::Tiktok),
            Some("CompleteRegistration")
        );
        assert_eq!(
            EventName::PageView.for_platform(Platform::Tiktok),
            Some("Pageview")
        );
    }

    #[test]
    fn parses_canonical_and_platform_names() {
        assert_eq!(EventName::parse("purchase"), EventName::Purchase);
        assert_eq!(EventName::parse("Purchase"), EventName::Purchase);
        assert_eq!(EventName::parse("PageView"), EventName::PageView);
        assert_eq!(EventName::parse("page-view"), EventName::PageView);
        assert_eq!(EventName::parse("CompleteRegistration"), EventName::Signup);
        assert_eq!(EventName::parse("SubmitForm"), EventName::Lead);
        assert_eq!(EventName::parse("view_item"), EventName::ViewContent);
        assert_eq!(EventName::parse("newsletter_open"), EventName::Custom);
        assert_eq!(EventName::Purchase.as_str(), "purchase");
    }

    #[test]
    fn platform_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.as_str()), Some(p));
        }
        assert!(!Platform::Google.is_advertising());
        assert!(Platform::Meta.is_advertising());
        assert!(Platform::GoogleAds.is_advertising());
        assert_eq!(
            serde_json::to_string(&Platform::GoogleAds).unwrap(),
            "\"google_ads\""
        );
    }
}
