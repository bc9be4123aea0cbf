//! Pixel health: the dashboard's status color, the daily health check's decisions and the
//! Slack-compatible notification it sends. Pure: every input (including `now`) is a value.

use serde::Serialize;
use serde_json::{json, Value};

use super::calendar::SECS_PER_DAY;
use super::outbound::OutboundRequest;
use super::platform::Platform;
use super::stats::ratio;
use super::text::{escape_mrkdwn, truncate_bytes};

pub const DAY: i64 = SECS_PER_DAY;
/// A pixel that has delivered nothing for this long gets a platform test event from the daily
/// check.
pub const SILENT_AFTER: i64 = 48 * 3600;
/// Delivery success rate at or above which a pixel with recent traffic is green.
pub const HEALTHY_SUCCESS: f64 = 0.95;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Color {
    Green,
    Yellow,
    Red,
    Grey,
}

/// What the store knows about one pixel's recent deliveries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Activity {
    pub is_active: bool,
    pub server_side_enabled: bool,
    pub created_at: i64,
    /// Deliveries that reached a final state in the last 24 h.
    pub delivered_24h: u64,
    pub failed_24h: u64,
    /// Most recent successful delivery, ever (retention permitting).
    pub last_delivered_at: Option<i64>,
    /// The daily check's last test event for this pixel: when, and whether the platform took it.
    pub health_checked_at: Option<i64>,
    pub health_ok: Option<bool>,
    /// Why the platform refuses the pixel, while its deliveries are paused.
    pub paused: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub color: Color,
    /// Short machine code: inactive, healthy, degraded, failing, quiet, awaiting_first_event,
    /// silent, test_failed.
    pub status: &'static str,
    /// One human sentence for the dashboard.
    pub reason: String,
    pub success_rate_24h: Option<f64>,
    pub delivered_24h: u64,
    pub failed_24h: u64,
    pub last_delivered_at: Option<i64>,
    pub silent_for_secs: Option<i64>,
}

fn hours(secs: i64) -> i64 {
    secs / 3600
}

/// green: delivered in the last 24 h with success ≥ 95 %; yellow: degraded (errors) or no
/// events for 24–48 h; red: failing (only failures) or silent > 48 h (or the daily test failed);
/// grey: inactive (or server-side delivery switched off, so there is nothing to judge).
pub fn status(a: &Activity, now: i64) -> Health {
    let rate = ratio(a.delivered_24h, a.delivered_24h + a.failed_24h);
    let silent_for = a.last_delivered_at.map(|t| (now - t).max(0));
    let mk = |color, status, reason: String| Health {
        color,
        status,
        reason,
        success_rate_24h: rate,
        delivered_24h: a.delivered_24h,
        failed_24h: a.failed_24h,
        last_delivered_at: a.last_delivered_at,
        silent_for_secs: silent_for,
    };
    if !a.is_active {
        return mk(Color::Grey, "inactive", "Pixel is inactive.".into());
    }
    if !a.server_side_enabled {
        return mk(
            Color::Grey,
            "inactive",
            "Server-side delivery is off for this pixel.".into(),
        );
    }
    if let Some(reason) = &a.paused {
        return mk(
            Color::Red,
            "paused",
            format!("Deliveries are paused: the platform refuses this pixel ({reason}). Update its credentials to resume them."),
        );
    }
    // A failed test event newer than the last delivery outranks everything else.
    if a.health_ok == Some(false)
        && a.health_checked_at.unwrap_or(0) >= a.last_delivered_at.unwrap_or(0)
    {
        return mk(
            Color::Red,
            "test_failed",
            "The daily test event was rejected by the platform.".into(),
        );
    }
    if a.delivered_24h == 0 && a.failed_24h > 0 {
        return mk(
            Color::Red,
            "failing",
            format!("All {} deliveries in the last 24 h failed.", a.failed_24h),
        );
    }
    let last_seen = a.last_delivered_at.unwrap_or(a.created_at);
    let silence = (now - last_seen).max(0);
    match (a.last_delivered_at, rate) {
        (Some(_), Some(r)) if silence <= DAY && r >= HEALTHY_SUCCESS => mk(
            Color::Green,
            "healthy",
            format!(
                "{} delivered in 24 h, {:.1} % success.",
                a.delivered_24h,
                r * 100.0
            ),
        ),
        (Some(_), Some(r)) if silence <= DAY => mk(
            Color::Yellow,
            "degraded",
            format!(
                "Degraded: {:.1} % success in 24 h ({} failed).",
                r * 100.0,
                a.failed_24h
            ),
        ),
        _ if silence > SILENT_AFTER => mk(
            Color::Red,
            "silent",
            match a.last_delivered_at {
                Some(_) => format!("Silent: no delivery for {} h.", hours(silence)),
                None => format!(
                    "Silent: nothing delivered since it was created {} h ago.",
                    hours(silence)
                ),
            },
        ),
        (None, _) if silence <= DAY => mk(
            Color::Yellow,
            "awaiting_first_event",
            "No events delivered yet.".into(),
        ),
        _ => mk(
            Color::Yellow,
            "quiet",
            format!("No delivery for {} h.", hours(silence)),
        ),
    }
}

/// The daily check tests an active server-side pixel that has delivered nothing for 48 h (counting
/// from its creation when it never delivered), at most once per day.
pub fn needs_test(a: &Activity, now: i64) -> bool {
    if !a.is_active || !a.server_side_enabled {
        return false;
    }
    let last = a.last_delivered_at.unwrap_or(a.created_at);
    let tested_recently = a
        .health_checked_at
        .is_some_and(|t| now - t < DAY - 3600 && t >= last);
    now - last > SILENT_AFTER && !tested_recently
}

/// Why a silent pixel cannot be sent a test event, when it cannot: TikTok's Events API has no
/// dry run, so without a test event code a "test" would be a real event in the tenant's reports.
/// Such a pixel is reported silent but not tested, never as a failed test.
pub fn untestable(platform: Platform, has_test_event_code: bool) -> Option<&'static str> {
    (platform == Platform::Tiktok && !has_test_event_code).then_some(
        "not tested: TikTok has no dry run, and without a test event code a test would count as a real event; add the pixel's test event code to have it tested",
    )
}

/// One checked pixel, for the notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub pixel: String,
    pub platform: String,
    pub pixel_id: String,
    /// Whether the platform accepted the test event; None when none could be sent (`untestable`).
    pub ok: Option<bool>,
    pub silent_hours: i64,
    /// The platform's answer, short (status + snippet), never credentials; or why it was not tested.
    pub answer: String,
}

/// Slack-compatible incoming-webhook payload (`text` for plain clients, `blocks` for Slack).
pub fn notification(tenant_name: &str, results: &[CheckResult], dashboard_url: &str) -> Value {
    let failed = results.iter().filter(|r| r.ok == Some(false)).count();
    let untested = results.iter().filter(|r| r.ok.is_none()).count();
    let text = if failed > 0 {
        format!(
            "pixelgate health check for {tenant_name}: {failed} of {} silent pixel(s) failed the test event",
            results.len()
        )
    } else if untested > 0 {
        format!(
            "pixelgate health check for {tenant_name}: {} pixel(s) silent for more than 48 h; {} accepted the test event, {untested} could not be tested",
            results.len(),
            results.len() - untested
        )
    } else {
        format!(
            "pixelgate health check for {tenant_name}: {} pixel(s) silent for more than 48 h; the platform accepted the test event",
            results.len()
        )
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "Pixel health check", "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(&text)}}),
    ];
    for r in results {
        let (icon, verdict) = match r.ok {
            Some(true) => (":large_yellow_circle:", "test event accepted"),
            Some(false) => (":red_circle:", "test event FAILED"),
            None => (":white_circle:", "not tested"),
        };
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!(
                "{icon} *{}* `{}` — silent {} h — {verdict}\n{}",
                escape_mrkdwn(&r.platform), escape_mrkdwn(&r.pixel_id), r.silent_hours,
                escape_mrkdwn(&shortened(&r.answer, 300)))}
        }));
    }
    if !dashboard_url.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("<{}|Open the pixel dashboard>", dashboard_url)}]}));
    }
    json!({"text": text, "blocks": blocks})
}

/// One pixel as the weekly report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PixelHealth {
    pub platform: String,
    pub pixel_id: String,
    pub health: Health,
}

/// Sections the weekly report lists pixels in at most (Slack allows 50 blocks a message).
const WEEKLY_MAX_PIXELS: usize = 45;

fn color_rank(c: Color) -> u8 {
    match c {
        Color::Red => 0,
        Color::Yellow => 1,
        Color::Green => 2,
        Color::Grey => 3,
    }
}

/// The weekly pixel health report (Slack-compatible): how many pixels are green, yellow, red or
/// inactive, then each pixel with its status and reason, the worst first.
pub fn weekly_report(tenant_name: &str, pixels: &[PixelHealth], dashboard_url: &str) -> Value {
    let count = |c: Color| pixels.iter().filter(|p| p.health.color == c).count();
    let text = format!(
        "pixelgate weekly pixel health for {tenant_name}: {} green, {} yellow, {} red, {} inactive",
        count(Color::Green),
        count(Color::Yellow),
        count(Color::Red),
        count(Color::Grey)
    );
    let mut sorted: Vec<&PixelHealth> = pixels.iter().collect();
    sorted.sort_by_key(|p| {
        (
            color_rank(p.health.color),
            p.platform.clone(),
            p.pixel_id.clone(),
        )
    });
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": "Weekly pixel health", "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(&text)}}),
    ];
    for p in sorted.iter().take(WEEKLY_MAX_PIXELS) {
        let icon = match p.health.color {
            Color::Green => ":large_green_circle:",
            Color::Yellow => ":large_yellow_circle:",
            Color::Red => ":red_circle:",
            Color::Grey => ":white_circle:",
        };
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "{icon} *{}* `{}` — {}\n{}",
            escape_mrkdwn(&p.platform), escape_mrkdwn(&p.pixel_id), p.health.status,
            escape_mrkdwn(&shortened(&p.health.reason, 300)))}}),
        );
    }
    let mut footer = Vec::new();
    if pixels.len() > WEEKLY_MAX_PIXELS {
        footer.push(format!(
            "…and {} more pixel(s) in the dashboard",
            pixels.len() - WEEKLY_MAX_PIXELS
        ));
    }
    if !dashboard_url.is_empty() {
        footer.push(format!("<{dashboard_url}|Open the pixel dashboard>"));
    }
    if !footer.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": footer.join(" · ")}]}));
    }
    json!({"text": text, "blocks": blocks})
}

/// The message sent once when a pixel's deliveries pause because the platform refuses it.
pub fn paused_notification(
    tenant_name: &str,
    platform: &str,
    pixel_id: &str,
    reason: &str,
    dashboard_url: &str,
) -> Value {
    let text = format!(
        "pixelgate: deliveries to {platform} pixel {pixel_id} of {tenant_name} are paused: the platform refuses the pixel. They resume when its credentials are updated."
    );
    let mut detail = format!(
        ":red_circle: *{}* `{}` — {}",
        escape_mrkdwn(platform),
        escape_mrkdwn(pixel_id),
        escape_mrkdwn(&shortened(reason, 300))
    );
    if !dashboard_url.is_empty() {
        detail.push_str(&format!("\n<{dashboard_url}|Open the dashboard>"));
    }
    json!({
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Pixel paused", "emoji": true}},
            {"type": "section", "text": {"type": "mrkdwn", "text": escape_mrkdwn(&text)}},
            {"type": "section", "text": {"type": "mrkdwn", "text": detail}},
        ],
    })
}

pub fn notification_request(webhook_url: &str, payload: &Value) -> OutboundRequest {
    OutboundRequest::post_json(webhook_url.to_string(), payload.to_string())
}

/// At most `max` bytes of `s`, with "…" when something was cut, so a shortened platform answer
/// does not read as the whole of it.
fn shortened(s: &str, max: usize) -> String {
    let kept = truncate_bytes(s, max);
    if kept.len() < s.len() {
        format!("{kept}…")
    } else {
        kept.to_string()
    }
}

/// A tenant's webhook URL (notifications, ads alerts): https to a public host, without
/// credentials before the host. `allow_loopback` (the operator's `ALLOW_LOOPBACK_WEBHOOKS=1`, set
/// for local dev and tests) also lets `http(s)://127.0.0.1`, `localhost` and `[::1]` through.
pub fn validate_webhook_url(raw: &str, allow_loopback: bool) -> Result<String, String> {
    const RULE: &str = "must be an https:// URL of at most 2048 bytes to a public host, without \
        credentials before the host (not localhost, nor a loopback, private or link-local address)";
    let raw = raw.trim();
    let u = super::weburl::parse_http_url(raw)
        .filter(|u| raw.len() <= 2048 && !u.userinfo)
        .ok_or(RULE)?;
    let host = u.host.to_ascii_lowercase();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
    if (allow_loopback && loopback) || (u.https && super::weburl::is_public_host(&host)) {
        Ok(raw.to_string())
    } else {
        Err(RULE.into())
    }
}

/// The host of a checked webhook URL that must be resolved before a call: a name (an IP
/// literal was judged as written), other than the loopback names `allow_loopback` lets through.
pub fn host_to_resolve(url: &str, allow_loopback: bool) -> Option<String> {
    let host = super::weburl::url_host(url)?;
    let name = host.trim_end_matches('.');
    let literal = host.starts_with('[') || name.parse::<std::net::Ipv4Addr>().is_ok();
    let loopback = allow_loopback && name == "localhost";
    (!literal && !loopback).then(|| name.to_string())
}

/// The record types a webhook host is resolved for, with their DNS type numbers.
pub const RESOLVED_TYPES: [(&str, u64); 2] = [("A", 1), ("AAAA", 28)];

/// A DNS-over-HTTPS JSON query (`application/dns-json`, as Cloudflare's and Google's resolvers
/// answer it) for `host`'s records of `rtype`.
pub fn dns_query(resolver: &str, host: &str, rtype: &str) -> OutboundRequest {
    let mut url = String::with_capacity(resolver.len() + host.len() + 16);
    url.push_str(resolver);
    url.push_str(if resolver.contains('?') { "&" } else { "?" });
    url.push_str(
        &form_urlencoded::Serializer::new(String::new())
            .append_pair("name", host)
            .append_pair("type", rtype)
            .finish(),
    );
    OutboundRequest {
        method: super::outbound::Method::Get,
        url,
        headers: vec![("accept".into(), "application/dns-json".into())],
        body: None,
    }
}

/// Whether the resolver's answers (one JSON body per record type, with their HTTP status) let a
/// webhook be called: the name resolves, and to public addresses only. Any answer we cannot read,
/// a name that does not resolve, or any private, loopback, link-local or reserved address refuses
/// it: the reason says which (never the address).
pub fn resolved_public(answers: &[(u16, &str)]) -> Result<(), String> {
    let mut addresses = 0;
    for (status, body) in answers {
        let v: Value = serde_json::from_str(body)
            .ok()
            .filter(|_| (200..300).contains(status))
            .ok_or("the webhook host could not be resolved (DNS over HTTPS did not answer); not called")?;
        match v.get("Status").and_then(Value::as_u64) {
            Some(0) => {}
            Some(3) => return Err("the webhook host does not exist (NXDOMAIN); not called".into()),
            _ => return Err("the webhook host could not be resolved; not called".into()),
        }
        let records = v.get("Answer").and_then(Value::as_array);
        for r in records.into_iter().flatten() {
            let (Some(t), Some(data)) = (
                r.get("type").and_then(Value::as_u64),
                r.get("data").and_then(Value::as_str),
            ) else {
                continue;
            };
            let literal = match t {
                1 => data.to_string(),
                28 => format!("[{data}]"),
                _ => continue,
            };
            addresses += 1;
            if !super::weburl::is_public_host(&literal) {
                return Err("the webhook host resolves to a private, loopback, link-local or reserved address; not called".into());
            }
        }
    }
    if addresses == 0 {
        return Err("the webhook host has no address; not called".into());
    }
    Ok(())
}

/// Per-hour buckets `[from, from+3600, …]` covering the last `hours` hours up to `now`'s hour.
pub fn hour_buckets(now: i64, hours: u32) -> Vec<i64> {
    let cur = now - now.rem_euclid(3600);
    (0..hours as i64).rev().map(|i| cur - i * 3600).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn active() -> Activity {
        Activity {
            is_active: true,
            server_side_enabled: true,
            created_at: NOW - 10 * DAY,
            ..Default::default()
        }
    }

    #[test]
    fn webhook_hosts_are_resolved_unless_written_as_addresses() {
        assert_eq!(
            host_to_resolve("https://hooks.slack.com/services/x", false).as_deref(),
            Some("hooks.slack.com")
        );
        assert_eq!(
            host_to_resolve("https://Hooks.Example.COM./x", false).as_deref(),
            Some("hooks.example.com")
        );
        assert_eq!(host_to_resolve("https://8.8.8.8/x", false), None);
        assert_eq!(host_to_resolve("https://[2606:4700::1111]/x", false), None);
        assert_eq!(host_to_resolve("http://localhost:9/x", true), None);
        let q = dns_query("https://cloudflare-dns.com/dns-query", "a.example", "AAAA");
        assert_eq!(
            q.url,
            "https://cloudflare-dns.com/dns-query?name=a.example&type=AAAA"
        );
        assert_eq!(q.headers[0].1.as_ref(), "application/dns-json");
    }

    #[test]
    fn a_webhook_host_must_resolve_to_public_addresses_only() {
        let a = |data: &str| {
            format!(
                r#"{{"Status":0,"Answer":[{{"name":"h.example","type":5,"data":"x.example."}},{{"name":"x.example","type":1,"data":"{data}"}}]}}"#
            )
        };
        let aaaa = |data: &str| {
            format!(r#"{{"Status":0,"Answer":[{{"name":"h.example","type":28,"data":"{data}"}}]}}"#)
        };
        let empty = r#"{"Status":0}"#;
        assert_eq!(
            resolved_public(&[(200, &a("93.184.215.14")), (200, empty)]),
            Ok(())
        );
        assert_eq!(
            resolved_public(&[(200, empty), (200, &aaaa("2606:4700::1111"))]),
            Ok(())
        );
        for (answers, why) in [
            (
                vec![(200, a("10.1.2.3")), (200, empty.to_string())],
                "private",
            ),
            (
                vec![(200, a("93.184.215.14")), (200, aaaa("::1"))],
                "private",
            ),
            (
                vec![(200, a("169.254.169.254")), (200, empty.to_string())],
                "private",
            ),
            (vec![(200, aaaa("::ffff:192.168.0.1"))], "private"),
            (
                vec![(200, empty.to_string()), (200, empty.to_string())],
                "no address",
            ),
            (vec![(200, r#"{"Status":3}"#.to_string())], "NXDOMAIN"),
            (
                vec![(200, r#"{"Status":2}"#.to_string())],
                "could not be resolved",
            ),
            (vec![(502, a("93.184.215.14"))], "did not answer"),
            (vec![(200, "<html>".to_string())], "did not answer"),
        ] {
            let answers: Vec<(u16, &str)> = answers.iter().map(|(s, b)| (*s, b.as_str())).collect();
            let err = resolved_public(&answers).unwrap_err();
            assert!(err.contains(why), "{answers:?}: {err}");
            assert!(!err.contains("10.1.2.3"), "the address is not told");
        }
    }

    #[test]
    fn grey_when_inactive_or_client_side_only() {
        let a = Activity {
            is_active: false,
            ..active()
        };
        assert_eq!(status(&a, NOW).color, Color::Grey);
        let a = Activity {
            server_side_enabled: false,
            ..active()
        };
        assert_eq!(status(&a, NOW).color, Color::Grey);
    }

    #[test]
    fn green_needs_recent_delivery_and_95_percent() {
        let a = Activity {
            delivered_24h: 95,
            failed_24h: 5,
            last_delivered_at: Some(NOW - 60),
            ..active()
        };
        let h = status(&a, NOW);
        assert_eq!((h.color, h.status), (Color::Green, "healthy"));
        assert_eq!(h.success_rate_24h, Some(0.95));
        let a = Activity {
            delivered_24h: 94,
            failed_24h: 6,
            ..a
        };
        assert_eq!(status(&a, NOW).color, Color::Yellow);
        assert_eq!(status(&a, NOW).status, "degraded");
    }

    #[test]
    fn quiet_24_to_48h_is_yellow_and_silent_over_48h_is_red() {
        let a = Activity {
            last_delivered_at: Some(NOW - 30 * 3600),
            ..active()
        };
        assert_eq!(status(&a, NOW).color, Color::Yellow);
        assert_eq!(status(&a, NOW).status, "quiet");
        let a = Activity {
            last_delivered_at: Some(NOW - 49 * 3600),
            ..active()
        };
        let h = status(&a, NOW);
        assert_eq!((h.color, h.status), (Color::Red, "silent"));
        assert!(h.reason.contains("49 h"), "{}", h.reason);
    }

    #[test]
    fn only_failures_is_red() {
        let a = Activity {
            failed_24h: 3,
            last_delivered_at: Some(NOW - 3 * DAY),
            ..active()
        };
        assert_eq!(status(&a, NOW).status, "failing");
        assert_eq!(status(&a, NOW).color, Color::Red);
    }

    #[test]
    fn new_pixel_waits_then_goes_silent() {
        let a = Activity {
            created_at: NOW - 3600,
            ..active()
        };
        assert_eq!(status(&a, NOW).status, "awaiting_first_event");
        assert_eq!(status(&a, NOW).color, Color::Yellow);
        assert_eq!(status(&a, NOW + 49 * 3600).color, Color::Red);
    }

    #[test]
    fn failed_test_event_is_red_until_a_later_delivery() {
        let a = Activity {
            last_delivered_at: Some(NOW - 3 * DAY),
            health_checked_at: Some(NOW - 3600),
            health_ok: Some(false),
            ..active()
        };
        assert_eq!(status(&a, NOW).status, "test_failed");
        let a = Activity {
            last_delivered_at: Some(NOW - 60),
            delivered_24h: 1,
            ..a
        };
        assert_eq!(status(&a, NOW).color, Color::Green);
    }

    #[test]
    fn test_only_silent_active_pixels_once_a_day() {
        let silent = Activity {
            last_delivered_at: Some(NOW - 49 * 3600),
            ..active()
        };
        assert!(needs_test(&silent, NOW));
        assert!(!needs_test(
            &Activity {
                last_delivered_at: Some(NOW - 47 * 3600),
                ..active()
            },
            NOW
        ));
        assert!(!needs_test(
            &Activity {
                is_active: false,
                ..silent.clone()
            },
            NOW
        ));
        assert!(!needs_test(
            &Activity {
                server_side_enabled: false,
                ..silent.clone()
            },
            NOW
        ));
        // Tested two hours ago (a rerun of the cron): not again.
        let tested = Activity {
            health_checked_at: Some(NOW - 7200),
            health_ok: Some(true),
            ..silent.clone()
        };
        assert!(!needs_test(&tested, NOW));
        // Tested yesterday and still silent: test again.
        assert!(needs_test(&tested, NOW + DAY));
        // Never delivered, created 3 days ago.
        assert!(needs_test(&active(), NOW));
        assert!(!needs_test(
            &Activity {
                created_at: NOW - 3600,
                ..active()
            },
            NOW
        ));
    }

    #[test]
    fn notification_is_slack_compatible_and_escaped() {
        let r = vec![
            CheckResult {
                pixel: "p1".into(),
                platform: "meta".into(),
                pixel_id: "123".into(),
                ok: Some(false),
                silent_hours: 50,
                answer: "HTTP 400 <Invalid token>".into(),
            },
            CheckResult {
                pixel: "p2".into(),
                platform: "tiktok".into(),
                pixel_id: "C123".into(),
                ok: Some(true),
                silent_hours: 72,
                answer: "HTTP 200".into(),
            },
        ];
        let v = notification("Shop & Co", &r, "https://gw.example/admin/");
        assert!(v["text"].as_str().unwrap().contains("1 of 2"));
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        let all = v.to_string();
        assert!(all.contains("&lt;Invalid token&gt;"));
        assert!(all.contains("Shop &amp; Co"));
        assert!(all.contains("<https://gw.example/admin/|Open the pixel dashboard>"));
        let req = notification_request("https://hooks.slack.com/services/x", &v);
        assert_eq!(req.url, "https://hooks.slack.com/services/x");
        assert!(req.body.unwrap().contains("\"blocks\""));
    }

    #[test]
    fn webhook_urls() {
        for loopback in [false, true] {
            let ok = |u: &str| validate_webhook_url(u, loopback).is_ok();
            assert!(ok("https://hooks.slack.com/services/T/B/X"));
            assert!(ok(" https://hooks.example:8443/x "));
            for bad in [
                "http://example.com/hook",
                "ftp://example.com/hook",
                "https://user:pw@example.com/",
                "not a url",
                "https://10.0.0.1/x",
                "https://169.254.169.254/latest",
                "https://[fd00::1]/",
                "https://2130706433/",
                "https://api.localhost/",
                "http://127.0.0.2/",
                "http://[::ffff:127.0.0.1]/",
            ] {
                assert!(!ok(bad), "{bad} (loopback {loopback})");
            }
            assert!(!ok(&format!("https://example.com/{}", "a".repeat(2048))));
            for local in [
                "http://127.0.0.1:8790/hooks/slack",
                "http://localhost/x",
                "https://[::1]:9/",
            ] {
                assert_eq!(ok(local), loopback, "{local}");
            }
        }
    }

    #[test]
    fn buckets_end_at_current_hour() {
        let b = hour_buckets(NOW + 1234, 48);
        assert_eq!(b.len(), 48);
        assert_eq!(*b.last().unwrap(), NOW + 1234 - (NOW + 1234) % 3600);
        assert_eq!(b[1] - b[0], 3600);
    }

    #[test]
    fn a_paused_pixel_is_red_with_the_reason_and_notified_once() {
        let a = Activity {
            is_active: true,
            server_side_enabled: true,
            created_at: 0,
            delivered_24h: 40,
            last_delivered_at: Some(1_000),
            paused: Some("Meta error 190: Error validating access token".into()),
            ..Default::default()
        };
        let h = status(&a, 2_000);
        assert_eq!((h.color, h.status), (Color::Red, "paused"));
        assert!(
            h.reason.contains("Error validating access token"),
            "{}",
            h.reason
        );
        let n = paused_notification(
            "Shop <1>",
            "meta",
            "123",
            "token <expired>",
            "https://g/admin/",
        );
        let body = n.to_string();
        assert!(
            body.contains("Pixel paused") && body.contains("&lt;expired&gt;"),
            "{body}"
        );
        assert!(!body.contains("<expired>"));
    }

    #[test]
    fn a_tiktok_pixel_without_test_code_is_not_tested_and_not_a_failure() {
        assert!(untestable(Platform::Tiktok, false).is_some());
        assert_eq!(untestable(Platform::Tiktok, true), None);
        assert_eq!(untestable(Platform::Meta, false), None);
        let r = vec![CheckResult {
            pixel: "p3".into(),
            platform: "tiktok".into(),
            pixel_id: "CTT1".into(),
            ok: None,
            silent_hours: 60,
            answer: untestable(Platform::Tiktok, false).unwrap().into(),
        }];
        let v = notification("Shop", &r, "");
        assert_eq!(
            v["text"],
            "pixelgate health check for Shop: 1 pixel(s) silent for more than 48 h; 0 accepted the test event, 1 could not be tested"
        );
        let line = v["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(line.starts_with(":white_circle: *tiktok* `CTT1` — silent 60 h — not tested"));
        assert!(!v.to_string().contains("FAILED"));
    }

    #[test]
    fn weekly_report_lists_every_pixel_worst_first() {
        let health = |a: Activity| status(&a, NOW);
        let pixels = vec![
            PixelHealth {
                platform: "meta".into(),
                pixel_id: "111".into(),
                health: health(Activity {
                    delivered_24h: 40,
                    last_delivered_at: Some(NOW - 60),
                    ..active()
                }),
            },
            PixelHealth {
                platform: "tiktok".into(),
                pixel_id: "CTT".into(),
                health: health(Activity {
                    last_delivered_at: Some(NOW - 3 * DAY),
                    ..active()
                }),
            },
            PixelHealth {
                platform: "google".into(),
                pixel_id: "G-1".into(),
                health: health(Activity {
                    is_active: false,
                    ..active()
                }),
            },
        ];
        let v = weekly_report("Shop <1>", &pixels, "https://gw.example/admin/");
        assert_eq!(
            v["text"],
            "pixelgate weekly pixel health for Shop <1>: 1 green, 0 yellow, 1 red, 1 inactive"
        );
        let blocks = v["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["text"]["text"], "Weekly pixel health");
        assert!(blocks[1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("Shop &lt;1&gt;"));
        let lines: Vec<&str> = blocks[2..5]
            .iter()
            .map(|b| b["text"]["text"].as_str().unwrap())
            .collect();
        assert!(lines[0].starts_with(":red_circle: *tiktok* `CTT` — silent"));
        assert!(lines[1].starts_with(":large_green_circle: *meta* `111` — healthy"));
        assert!(lines[2].starts_with(":white_circle: *google* `G-1` — inactive"));
        assert_eq!(
            blocks[5]["elements"][0]["text"],
            "<https://gw.example/admin/|Open the pixel dashboard>"
        );
        let many: Vec<PixelHealth> = (0..60).map(|_| pixels[0].clone()).collect();
        let v = weekly_report("S", &many, "");
        assert_eq!(v["blocks"].as_array().unwrap().len(), 2 + 45 + 1);
        assert_eq!(
            v["blocks"][47]["elements"][0]["text"],
            "…and 15 more pixel(s) in the dashboard"
        );
    }
}
