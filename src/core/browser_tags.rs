//! The platforms' own browser tags that `t.js` loads after consent, for the tenant's pixels with
//! `browser_enabled` (the tag's config lists them, `GET /api/v1/tracking/config`).
//!
//! Rules followed (each platform's base code): Meta's Pixel (`fbevents.js`, `fbq('init', id)`),
//! TikTok's Pixel (`events.js?sdkid={code}&lib=ttq`, the `ttq` queue), Google's tag
//! (`gtag/js?id={measurement id}`, `gtag('config', id)`), LinkedIn's Insight Tag
//! (`insight.min.js` with `_linkedin_data_partner_ids`; conversions with
//! `lintrk('track', {conversion_id})`). Each is initialized with the tenant's ids and, in t.js,
//! sent every event with the `event_id` the server sends, so each platform dedups the two copies.
//! - Meta, TikTok and LinkedIn load only with marketing consent; Google's tag with analytics
//!   consent (the same split as the server-side delivery);
//! - a LinkedIn pixel is a conversion rule: its browser tag needs the Insight Tag's partner id
//!   (`browser_id`) and fires the rule (`pixel_id`) for the events the pixel takes server-side
//!   (`fanout::PixelRoute::accepts`): those of its `event_names`, or, without a list, all but page
//!   and content views; without a partner id it has no browser tag;
//! - the scripts' URLs are configuration (the platforms' own by default), so a test can serve
//!   stand-ins.

use serde_json::{json, Value};

use super::platform::Platform;

/// Where each platform's browser script is loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorScripts {
    pub meta: String,
    pub tiktok: String,
    pub google: String,
    pub linkedin: String,
}

impl Default for VendorScripts {
    fn default() -> Self {
        VendorScripts {
            meta: "https://connect.facebook.net/en_US/fbevents.js".into(),
            tiktok: "https://analytics.tiktok.com/i18n/pixel/events.js".into(),
            google: "https://www.googletagmanager.com/gtag/js".into(),
            linkedin: "https://snap.licdn.com/li.lms-analytics/insight.min.js".into(),
        }
    }
}

/// An active pixel with its browser tag enabled, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserPixel {
    pub platform: Platform,
    pub pixel_id: String,
    pub browser_id: Option<String>,
    pub event_names: Vec<String>,
}

/// `base` with `query` appended. The values put in it are pixel ids, which the pixel API keeps to
/// letters, digits and '-' (`tenant::validate_pixel_id`): nothing to escape.
fn with_query(base: &str, query: &str) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

/// Events a LinkedIn conversion rule without an `event_names` list does not take.
const LINKEDIN_SKIPPED: [&str; 2] = ["page_view", "view_content"];

/// The config's `pixels`: `{p: platform, id: the tag's id, src: script URL}`, and for a LinkedIn
/// rule `c` (the rule), `e` (event names) and `x` (true: `e` are the events it does not take)
/// (short keys: t.js reads them).
pub fn tag_pixels(pixels: &[BrowserPixel], scripts: &VendorScripts) -> Vec<Value> {
    pixels
        .iter()
        .filter_map(|p| {
            let id = p.pixel_id.as_str();
            Some(match p.platform {
                Platform::Meta => json!({"p": "meta", "id": id, "src": scripts.meta}),
                Platform::Tiktok => json!({"p": "tiktok", "id": id,
                    "src": with_query(&scripts.tiktok, &format!("sdkid={id}&lib=ttq"))}),
                Platform::Google => json!({"p": "google", "id": id,
                    "src": with_query(&scripts.google, &format!("id={id}"))}),
                // Its click conversions are uploaded server-side only.
                Platform::GoogleAds => return None,
                Platform::Linkedin => {
                    let partner = p.browser_id.as_deref()?;
                    let except = p.event_names.is_empty();
                    let names = if except {
                        json!(LINKEDIN_SKIPPED)
                    } else {
                        json!(p.event_names)
                    };
                    json!({"p": "linkedin", "id": partner, "src": scripts.linkedin, "c": id,
                           "e": names, "x": except})
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixel(platform: Platform, id: &str, browser_id: Option<&str>) -> BrowserPixel {
        BrowserPixel {
            platform,
            pixel_id: id.into(),
            browser_id: browser_id.map(str::to_string),
            event_names: vec!["purchase".into()],
        }
    }

    #[test]
    fn each_platform_gets_its_script_and_ids() {
        let list = tag_pixels(
            &[
                pixel(Platform::Meta, "123456789", None),
                pixel(Platform::Tiktok, "CABC123", None),
                pixel(Platform::Google, "G-ABC123", None),
                pixel(Platform::Linkedin, "9876543", Some("555123")),
                BrowserPixel {
                    event_names: vec![],
                    ..pixel(Platform::Linkedin, "9876545", Some("555123"))
                },
                pixel(Platform::Linkedin, "9876544", None),
            ],
            &VendorScripts::default(),
        );
        assert_eq!(
            list,
            [
                json!({"p": "meta", "id": "123456789", "src": "https://connect.facebook.net/en_US/fbevents.js"}),
                json!({"p": "tiktok", "id": "CABC123", "src": "https://analytics.tiktok.com/i18n/pixel/events.js?sdkid=CABC123&lib=ttq"}),
                json!({"p": "google", "id": "G-ABC123", "src": "https://www.googletagmanager.com/gtag/js?id=G-ABC123"}),
                json!({"p": "linkedin", "id": "555123", "src": "https://snap.licdn.com/li.lms-analytics/insight.min.js", "c": "9876543", "e": ["purchase"], "x": false}),
                json!({"p": "linkedin", "id": "555123", "src": "https://snap.licdn.com/li.lms-analytics/insight.min.js", "c": "9876545", "e": ["page_view", "view_content"], "x": true}),
            ],
            "a LinkedIn rule without a partner id has no browser tag"
        );
        let local = VendorScripts {
            google: "http://vendor.test/gtag.js?v=1".into(),
            ..VendorScripts::default()
        };
        assert_eq!(
            tag_pixels(&[pixel(Platform::Google, "G-X1", None)], &local)[0]["src"],
            "http://vendor.test/gtag.js?v=1&id=G-X1"
        );
    }
}
