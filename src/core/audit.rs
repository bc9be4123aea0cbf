//! The delivery log as an audit trail: what the listing takes (filters, a limit, an opaque keyset
//! cursor), what a replay takes (exactly one selector), which deliveries a replay may re-drive,
//! and why a destination got nothing.
//!
//! A replay re-routes each delivery it re-drives as the intake would now (the pixel's current
//! settings, the consent the event was routed under, the tenant's current policy) and hands the
//! consumer a first attempt; the consumer re-checks the visitor's current consent and skips what
//! was already delivered, as for any attempt.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::consent::{ConsentPolicy, ConsentState};
use super::event::{valid_id, AssertedConsent, Event, FieldError, ID_RULE};
use super::fanout::{route, DeliveryJob, PixelRoute};

/// Every delivery status (`sending` is reserved: no delivery is in it yet).
pub const STATUSES: [&str; 7] = [
    "queued",
    "sending",
    "delivered",
    "retrying",
    "paused",
    "failed",
    "skipped",
];
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;
/// The most deliveries one replay call re-drives (the rest is its `remaining`).
pub const MAX_REPLAY: usize = 1000;
/// The most event ids one replay call takes.
pub const MAX_EVENT_IDS: usize = 1000;

const STATUS_RULE: &str =
    "must be one of queued, sending, delivered, retrying, paused, failed, skipped";

/// A page of the delivery listing: newest first, optional filters, rows before the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub status: Option<&'static str>,
    /// Our pixel id (`pixels.id`); the edge checks it is the tenant's.
    pub pixel_id: Option<String>,
    pub limit: u32,
    /// Only rows after this one in the listing's order (decoded from `cursor`): its
    /// `(updated_at, event_id, pixel)`.
    pub before: Option<Cursor>,
}

/// The listing's query parameters; an empty one counts as absent, other unknown ones are ignored.
pub fn parse_list_query(query: &BTreeMap<String, String>) -> Result<ListQuery, FieldError> {
    let get = |k: &str| query.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let status = get("status")
        .map(|s| parse_status(s).ok_or_else(|| FieldError::new("status", STATUS_RULE)))
        .transpose()?;
    let pixel_id = get("pixel_id")
        .map(|p| {
            if p.len() > 64 {
                Err(FieldError::new("pixel_id", "is not a pixel of this tenant"))
            } else {
                Ok(p.to_string())
            }
        })
        .transpose()?;
    let limit = match get("limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| FieldError::new("limit", "must be an integer from 1 to 200"))?,
    };
    let before = get("cursor")
        .map(|c| {
            decode_cursor(c).ok_or_else(|| {
                FieldError::new("cursor", "is not a cursor this endpoint gave (next_cursor)")
            })
        })
        .transpose()?;
    Ok(ListQuery {
        status,
        pixel_id,
        limit,
        before,
    })
}

fn parse_status(s: &str) -> Option<&'static str> {
    STATUSES.into_iter().find(|x| *x == s)
}

/// A listing position: the last row shown's `(updated_at, event_id, pixel)`.
pub type Cursor = (i64, String, String);

/// The opaque cursor of the page after the row at `position` (rows are listed newest first, so
/// the next page holds the rows after it in that order).
pub fn encode_cursor(position: &Cursor) -> String {
    let (at, event_id, pixel) = position;
    URL_SAFE_NO_PAD.encode(format!("c1:{at}\u{1f}{event_id}\u{1f}{pixel}"))
}

pub fn decode_cursor(cursor: &str) -> Option<Cursor> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let mut parts = text.strip_prefix("c1:")?.split('\u{1f}');
    let at: i64 = parts.next()?.parse().ok()?;
    let position = (at, parts.next()?.to_string(), parts.next()?.to_string());
    (parts.next().is_none() && at >= 0 && encode_cursor(&position) == cursor).then_some(position)
}

/// An id from a URL path segment, percent-decoded (a client may encode the ':' an event id can
/// hold); None when it does not decode to UTF-8.
pub fn path_id(segment: &str) -> Option<String> {
    let b = segment.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// What a replay re-drives.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplaySelector {
    /// The tenant's failed deliveries (`{status: "failed"}`).
    Failed,
    /// The failed deliveries of one pixel (`{pixel_id}`, our pixel id).
    Pixel(String),
    /// Whatever of these events' deliveries may be replayed (`{event_ids: [...]}`), in order,
    /// without repeats.
    Events(Vec<String>),
}

const SELECTORS: [&str; 3] = ["status", "pixel_id", "event_ids"];

/// Exactly one of `status`, `pixel_id`, `event_ids`; every error names its field.
pub fn parse_replay_selector(body: &Value) -> Result<ReplaySelector, FieldError> {
    let obj = body
        .as_object()
        .ok_or_else(|| FieldError::new("body", "must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !SELECTORS.contains(&k.as_str())) {
        return Err(FieldError::new(
            k.as_str(),
            "is not a replay selector (give one of status, pixel_id or event_ids)",
        ));
    }
    let given: Vec<&str> = SELECTORS
        .into_iter()
        .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    match given.as_slice() {
        [] => Err(FieldError::new(
            "body",
            "needs one selector: status, pixel_id or event_ids",
        )),
        [_, second, ..] => Err(FieldError::new(
            *second,
            "cannot be combined with another selector (give exactly one of status, pixel_id or event_ids)",
        )),
        ["status"] => {
            let status = obj["status"]
                .as_str()
                .and_then(parse_status)
                .ok_or_else(|| FieldError::new("status", STATUS_RULE))?;
            match status {
                "failed" => Ok(ReplaySelector::Failed),
                other => Err(FieldError::new(
                    "status",
                    format!(
                        "must be \"failed\": {other} deliveries are not replayed by status ({})",
                        refusal(other, None).unwrap_or("replay them by event_ids")
                    ),
                )),
            }
        }
        ["pixel_id"] => match obj["pixel_id"].as_str() {
            Some(p) if !p.is_empty() && p.len() <= 64 => Ok(ReplaySelector::Pixel(p.to_string())),
            _ => Err(FieldError::new(
                "pixel_id",
                "must be the id of one of this tenant's pixels",
            )),
        },
        _ => {
            let ids = obj["event_ids"].as_array().ok_or_else(|| {
                FieldError::new("event_ids", "must be an array of 1 to 1000 event ids")
            })?;
            if ids.is_empty() || ids.len() > MAX_EVENT_IDS {
                return Err(FieldError::new(
                    "event_ids",
                    format!("must hold 1 to {MAX_EVENT_IDS} event ids, not {}", ids.len()),
                ));
            }
            let mut out: Vec<String> = Vec::with_capacity(ids.len());
            for (i, id) in ids.iter().enumerate() {
                match id.as_str() {
                    Some(s) if valid_id(s) => {
                        if !out.iter().any(|x| x == s) {
                            out.push(s.to_string());
                        }
                    }
                    _ => return Err(FieldError::new(format!("event_ids[{i}]"), ID_RULE)),
                }
            }
            Ok(ReplaySelector::Events(out))
        }
    }
}

/// The reasons the intake and the consumer record when consent keeps an event from a destination
/// (`consent::decide`, `consent::recheck`; a test holds them to these).
const CONSENT_REASONS: [&str; 3] = [
    "no marketing consent",
    "no analytics consent",
    "consent withdrawn after the event",
];
/// How a replay marks a failed delivery it does not re-drive.
pub const NOT_REPLAYED: &str = "not replayed: ";

/// Whether a skip's reason is consent (also when a replay recorded it).
pub fn is_consent_skip(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| CONSENT_REASONS.contains(&r.strip_prefix(NOT_REPLAYED).unwrap_or(r)))
}

/// Why a delivery in `status` (with its recorded `reason`) is never replayed; None when a replay
/// may re-drive it: failed ones, and ones skipped for anything but consent.
pub fn refusal(status: &str, reason: Option<&str>) -> Option<&'static str> {
    match status {
        "failed" => None,
        "skipped" if is_consent_skip(reason) => Some("skipped for consent: never replayed"),
        "skipped" => None,
        "delivered" => Some("already delivered"),
        "paused" => Some("paused: resumes when the pixel's credentials are updated"),
        "queued" | "sending" | "retrying" => Some("in flight"),
        _ => Some("unknown status"),
    }
}

/// Why a pixel that got no delivery row for an event did not get the event, judged by the pixel's
/// settings now (`created_at` and `received_at` tell a pixel added after the event).
pub fn not_routed_reason(
    pixel: &PixelRoute,
    pixel_created_at: i64,
    event: &Event,
    received_at: i64,
) -> &'static str {
    if pixel_created_at > received_at {
        "pixel added after the event"
    } else if !pixel.is_active {
        "pixel inactive"
    } else if !pixel.server_side_enabled {
        "server-side delivery is off for this pixel"
    } else if !pixel.event_names.is_empty() && !pixel.accepts(event) {
        "event not in the pixel's event_names"
    } else if !pixel.accepts(event) {
        "LinkedIn conversion rules get no page_view or view_content unless listed in event_names"
    } else {
        "not routed when the event arrived (the pixel's settings have changed since)"
    }
}

/// A stored event as a replay rebuilds it: the `events` row's payload (the event without its
/// client IP, hashed PII only), its IP column (NULL once purged) and the consent it was routed
/// under.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: Arc<Event>,
    pub consent: AssertedConsent,
}

pub fn stored_event(payload: &str, ip: Option<&str>, consent: &str) -> Option<StoredEvent> {
    let mut event: Event = serde_json::from_str(payload).ok()?;
    event.client.ip = ip.map(str::to_string);
    Some(StoredEvent {
        event: Arc::new(event),
        consent: serde_json::from_str(consent).ok()?,
    })
}

/// One delivery row a replay looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate<'a> {
    pub event_id: &'a str,
    /// Our pixel id.
    pub pixel: &'a str,
    pub status: &'a str,
    /// The row's `last_error` (a skip's reason).
    pub reason: Option<&'a str>,
}

/// What a replay does with its candidates (by index).
#[derive(Debug, Default)]
pub struct ReplayPlan {
    /// Re-drive: a first attempt, as the intake would queue it now.
    pub send: Vec<(usize, DeliveryJob)>,
    /// Not re-driven, and why. `settle` is set when the row should record that (a failed delivery
    /// whose event or pixel no longer takes it becomes skipped with the reason).
    pub refused: Vec<Refused>,
    /// Re-drivable, but past `max` for this call.
    pub excess: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub index: usize,
    pub reason: String,
    pub settle: bool,
}

/// Plans a replay of `candidates`: each is refused by its state (`refusal`), or re-routed with
/// `pixels` as they are now, the event's stored consent and the tenant's `policy`
/// (`fanout::route`, as the intake routes); at most `max` are re-driven.
pub fn plan_replay(
    tenant_id: &str,
    candidates: &[Candidate<'_>],
    events: &HashMap<String, StoredEvent>,
    pixels: &[PixelRoute],
    policy: &ConsentPolicy,
    max: usize,
) -> ReplayPlan {
    let mut plan = ReplayPlan::default();
    for (index, c) in candidates.iter().enumerate() {
        let refuse = |reason: &str, settle: bool| Refused {
            index,
            reason: reason.to_string(),
            settle: settle && c.status == "failed",
        };
        if let Some(why) = refusal(c.status, c.reason) {
            plan.refused.push(refuse(why, false));
            continue;
        }
        let Some(stored) = events.get(c.event_id) else {
            plan.refused
                .push(refuse("event no longer stored (retention or erase)", true));
            continue;
        };
        let Some(pixel) = pixels.iter().find(|p| p.id == c.pixel) else {
            plan.refused.push(refuse("pixel deleted", true));
            continue;
        };
        match reroute(tenant_id, stored, pixel, policy) {
            Ok(_) if plan.send.len() >= max => plan.excess += 1,
            Ok(job) => plan.send.push((index, job)),
            Err(reason) => plan.refused.push(refuse(&reason, true)),
        }
    }
    plan
}

/// The job the intake would queue now for this stored event and pixel, or why it queues none.
fn reroute(
    tenant_id: &str,
    stored: &StoredEvent,
    pixel: &PixelRoute,
    policy: &ConsentPolicy,
) -> Result<DeliveryJob, String> {
    // The consent the event was routed under, as a stored record (a trusted caller's assertion in
    // the event itself still wins, as at intake; it is the same consent).
    let state = ConsentState {
        analytics: stored.consent.analytics,
        marketing: stored.consent.marketing,
        functional: false,
        version: String::new(),
        updated_at: stored.event.event_time,
        tc_string: None,
    };
    let mut routed = route(
        tenant_id,
        &stored.event,
        std::slice::from_ref(pixel),
        Some(&state),
        policy,
    );
    if let Some(job) = routed.jobs.pop() {
        return Ok(job);
    }
    Err(match routed.records.pop().and_then(|r| r.reason) {
        Some(reason) => reason,
        None => not_routed_reason(pixel, i64::MIN, &stored.event, 0).to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::consent::{decide, recheck, Decision, DeliveryMode, Recheck};
    use crate::core::event::{parse_event, IntakeContext};
    use crate::core::fanout::tests::pixel;
    use crate::core::platform::Platform;
    use serde_json::json;

    fn q(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn list_query_defaults_and_names_each_bad_parameter() {
        assert_eq!(
            parse_list_query(&q(&[])).unwrap(),
            ListQuery {
                status: None,
                pixel_id: None,
                limit: 50,
                before: None
            }
        );
        let c = encode_cursor(&(42, "e".into(), "p".into()));
        let ok = parse_list_query(&q(&[
            ("status", "sending"),
            ("pixel_id", "p-1"),
            ("limit", "200"),
            ("cursor", &c),
            ("_", "123"),
        ]))
        .unwrap();
        assert_eq!(
            (ok.status, ok.pixel_id.as_deref(), ok.limit, ok.before),
            (
                Some("sending"),
                Some("p-1"),
                200,
                Some((42, "e".into(), "p".into()))
            )
        );
        // Empty parameters count as absent.
        assert_eq!(
            parse_list_query(&q(&[("status", ""), ("limit", "")])).unwrap(),
            parse_list_query(&q(&[])).unwrap()
        );
        for (k, v) in [
            ("status", "done"),
            ("status", "FAILED"),
            ("limit", "0"),
            ("limit", "201"),
            ("limit", "-1"),
            ("limit", "ten"),
            ("cursor", "nope"),
            ("cursor", &URL_SAFE_NO_PAD.encode("c1:-3\u{1f}e\u{1f}p")),
            ("cursor", &URL_SAFE_NO_PAD.encode("x:3")),
            ("pixel_id", &"p".repeat(65)),
        ] {
            let e = parse_list_query(&q(&[(k, v)])).unwrap_err();
            assert_eq!(e.field, k, "{k}={v}: {e:?}");
        }
        assert!(parse_list_query(&q(&[("status", "nope")]))
            .unwrap_err()
            .message
            .contains("queued, sending, delivered, retrying, paused, failed, skipped"));
    }

    #[test]
    fn path_ids_are_percent_decoded() {
        assert_eq!(path_id("order%3A42").as_deref(), Some("order:42"));
        assert_eq!(path_id("a-b_c.d").as_deref(), Some("a-b_c.d"));
        assert_eq!(path_id("50%").as_deref(), Some("50%"));
        assert_eq!(path_id("%zz%3a").as_deref(), Some("%zz:"));
        assert_eq!(path_id("%ff"), None);
    }

    #[test]
    fn cursors_are_opaque_and_round_trip() {
        for n in [0, 9, 1 << 40, i64::MAX] {
            let pos = (n, "order:42".to_string(), "p-1".to_string());
            let c = encode_cursor(&pos);
            assert!(!c.contains("order"), "{c}");
            assert!(c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            assert_eq!(decode_cursor(&c), Some(pos));
        }
        assert_eq!(decode_cursor(""), None);
        let five = encode_cursor(&(5, "e".into(), "p".into()));
        assert_eq!(decode_cursor(&format!("{five}*")), None);
        assert_eq!(decode_cursor("c1:5"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("c1:5\u{1f}e")), None);
        assert_eq!(
            decode_cursor(&URL_SAFE_NO_PAD.encode("c1:05\u{1f}e\u{1f}p")),
            None
        );
    }

    #[test]
    fn a_replay_takes_exactly_one_selector_and_names_the_bad_field() {
        assert_eq!(
            parse_replay_selector(&json!({"status": "failed"})).unwrap(),
            ReplaySelector::Failed
        );
        assert_eq!(
            parse_replay_selector(&json!({"pixel_id": "p1", "status": null})).unwrap(),
            ReplaySelector::Pixel("p1".into())
        );
        assert_eq!(
            parse_replay_selector(&json!({"event_ids": ["a", "b", "a"]})).unwrap(),
            ReplaySelector::Events(vec!["a".into(), "b".into()])
        );
        let bad = |body: Value, field: &str| {
            let e = parse_replay_selector(&body).unwrap_err();
            assert_eq!(e.field, field, "{body}: {e:?}");
            e.message
        };
        bad(json!([]), "body");
        bad(json!({}), "body");
        bad(json!({"status": "failed", "pixel_id": "p"}), "pixel_id");
        bad(json!({"event_ids": ["a"], "status": "failed"}), "event_ids");
        bad(json!({"statuses": "failed"}), "statuses");
        assert!(bad(json!({"status": "delivered"}), "status").contains("already delivered"));
        assert!(bad(json!({"status": "paused"}), "status").contains("credentials"));
        bad(json!({"status": "skipped"}), "status");
        bad(json!({"status": "done"}), "status");
        bad(json!({"status": 3}), "status");
        bad(json!({"pixel_id": ""}), "pixel_id");
        bad(json!({"pixel_id": 7}), "pixel_id");
        bad(json!({"event_ids": "a"}), "event_ids");
        bad(json!({"event_ids": []}), "event_ids");
        let many: Vec<String> = (0..1001).map(|i| format!("e{i}")).collect();
        assert!(bad(json!({ "event_ids": many }), "event_ids").contains("1001"));
        bad(json!({"event_ids": ["ok", "has space"]}), "event_ids[1]");
        bad(json!({"event_ids": ["ok", 5]}), "event_ids[1]");
        let thousand: Vec<String> = (0..1000).map(|i| format!("e{i}")).collect();
        assert!(parse_replay_selector(&json!({ "event_ids": thousand })).is_ok());
    }

    #[test]
    fn consent_skips_are_known_by_every_reason_consent_gives() {
        let policies = [
            ConsentPolicy::default(),
            ConsentPolicy {
                limited_data_without_consent: true,
                ..Default::default()
            },
        ];
        let denied = AssertedConsent {
            analytics: false,
            marketing: false,
        };
        let now = ConsentState {
            analytics: false,
            marketing: false,
            functional: false,
            version: "2".into(),
            updated_at: 10,
            tc_string: None,
        };
        for p in Platform::ALL {
            for policy in &policies {
                if let Decision::Skip(reason) = decide(p, denied, policy) {
                    assert!(is_consent_skip(Some(reason)), "{reason}");
                    assert!(is_consent_skip(Some(&format!("{NOT_REPLAYED}{reason}"))));
                    assert!(refusal("skipped", Some(reason)).is_some());
                }
                if let Recheck::Skip(reason) = recheck(p, DeliveryMode::Full, 5, Some(&now), policy)
                {
                    assert!(is_consent_skip(Some(reason)), "{reason}");
                }
            }
        }
        assert!(!is_consent_skip(Some(
            "event url is not on one of the pixel's domains"
        )));
        assert!(!is_consent_skip(None));
        assert_eq!(refusal("failed", Some("HTTP 400")), None);
        assert_eq!(
            refusal(
                "skipped",
                Some("pixel deleted or deactivated before delivery")
            ),
            None
        );
        for s in [
            "delivered",
            "paused",
            "queued",
            "sending",
            "retrying",
            "nope",
        ] {
            assert!(refusal(s, None).is_some(), "{s}");
        }
    }

    fn event(id: &str, name: &str) -> Event {
        let ctx = IntakeContext {
            now: 1000,
            ip: Some("203.0.113.9"),
            user_agent: Some("UA"),
            geo_country: None,
            trusted: false,
        };
        parse_event(
            &json!({"event_id": id, "event_name": name, "visitor_id": "v1",
                "url": "https://shop.example/x", "user_data": {"email": "Ana@Example.com"}}),
            "",
            &ctx,
            &mut || "x".into(),
        )
        .unwrap()
        .event
    }

    /// The `events` row the consumer writes (`store::d1::event_row`): the payload without the IP.
    fn stored(ev: &Event, marketing: bool) -> StoredEvent {
        let mut payload = ev.clone();
        let ip = payload.client.ip.take();
        let consent = AssertedConsent {
            analytics: marketing,
            marketing,
        };
        stored_event(
            &serde_json::to_string(&payload).unwrap(),
            ip.as_deref(),
            &serde_json::to_string(&consent).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn a_stored_event_rebuilds_the_event_that_was_accepted() {
        let ev = event("e1", "purchase");
        let s = stored(&ev, true);
        assert_eq!(*s.event, ev, "payload + ip column = the accepted event");
        assert!(s.consent.marketing);
        // Once the IP is purged, the event rebuilds without it.
        let mut payload = ev.clone();
        payload.client.ip = None;
        let p = serde_json::to_string(&payload).unwrap();
        let s = stored_event(&p, None, r#"{"analytics":false,"marketing":true}"#).unwrap();
        assert_eq!(s.event.client.ip, None);
        assert_eq!(s.event.user, ev.user, "hashed identifiers survive");
        assert_eq!(stored_event("{", None, "{}"), None);
    }

    #[test]
    fn a_replay_re_drives_failed_deliveries_as_first_attempts_and_refuses_the_rest() {
        let purchase = event("buy", "purchase");
        let view = event("view", "page_view");
        let denied = event("nocon", "purchase");
        let events: HashMap<String, StoredEvent> = [
            ("buy".to_string(), stored(&purchase, true)),
            ("view".to_string(), stored(&view, true)),
            ("nocon".to_string(), stored(&denied, false)),
        ]
        .into();
        let mut only_leads = pixel("m2", Platform::Meta);
        only_leads.event_names = vec!["lead".into()];
        let mut off = pixel("m3", Platform::Meta);
        off.is_active = false;
        let pixels = [
            pixel("m1", Platform::Meta),
            only_leads,
            off,
            pixel("li", Platform::Linkedin),
        ];
        let c = |event_id, pixel, status, reason| Candidate {
            event_id,
            pixel,
            status,
            reason,
        };
        let candidates = [
            c("buy", "m1", "failed", Some("HTTP 400: bad")),
            c("buy", "m1", "delivered", None),
            c("buy", "m1", "paused", Some("token expired")),
            c("nocon", "m1", "skipped", Some("no marketing consent")),
            c("buy", "m2", "failed", Some("HTTP 500")),
            c("buy", "m3", "failed", Some("HTTP 500")),
            c("buy", "gone", "failed", Some("HTTP 500")),
            c("view", "li", "failed", Some("HTTP 500")),
            c("erased", "m1", "failed", Some("HTTP 500")),
            c("nocon", "m1", "failed", Some("HTTP 500")),
            c(
                "view",
                "m1",
                "skipped",
                Some("event url is not on one of the pixel's domains"),
            ),
            c("buy", "m1", "retrying", None),
        ];
        let plan = plan_replay(
            "t",
            &candidates,
            &events,
            &pixels,
            &ConsentPolicy::default(),
            10,
        );
        let sent: Vec<usize> = plan.send.iter().map(|(i, _)| *i).collect();
        assert_eq!(sent, vec![0, 10]);
        for (_, job) in &plan.send {
            assert_eq!((job.attempt, job.deferrals, job.solo), (1, 0, false));
            assert_eq!((job.tenant_id.as_str(), job.pixel.as_str()), ("t", "m1"));
            assert_eq!(job.delivery.mode, DeliveryMode::Full);
            assert_eq!(job.delivery.event.client.ip.as_deref(), Some("203.0.113.9"));
        }
        let refused: Vec<(usize, &str, bool)> = plan
            .refused
            .iter()
            .map(|r| (r.index, r.reason.as_str(), r.settle))
            .collect();
        assert_eq!(
            refused,
            vec![
                (1, "already delivered", false),
                (
                    2,
                    "paused: resumes when the pixel's credentials are updated",
                    false
                ),
                (3, "skipped for consent: never replayed", false),
                (4, "event not in the pixel's event_names", true),
                (5, "pixel inactive", true),
                (6, "pixel deleted", true),
                (
                    7,
                    "LinkedIn conversion rules get no page_view or view_content unless listed in event_names",
                    true
                ),
                (8, "event no longer stored (retention or erase)", true),
                (9, "no marketing consent", true),
                (11, "in flight", false),
            ]
        );
        assert_eq!(plan.excess, 0);
        // Limited-data tenants re-drive what was routed without marketing consent, limited.
        let limited = ConsentPolicy {
            limited_data_without_consent: true,
            ..Default::default()
        };
        let plan = plan_replay("t", &candidates[9..10], &events, &pixels, &limited, 10);
        assert_eq!(plan.send[0].1.delivery.mode, DeliveryMode::Limited);
        // At most `max` are re-driven; the rest is counted.
        let many: Vec<Candidate> = (0..5).map(|_| candidates[0].clone()).collect();
        let plan = plan_replay("t", &many, &events, &pixels, &ConsentPolicy::default(), 3);
        assert_eq!((plan.send.len(), plan.excess), (3, 2));
    }

    #[test]
    fn a_destination_without_a_delivery_says_why() {
        let lead = event("e", "lead");
        let view = event("v", "page_view");
        let p = pixel("m", Platform::Meta);
        let mut off = p.clone();
        off.is_active = false;
        let mut client = p.clone();
        client.server_side_enabled = false;
        let mut filtered = p.clone();
        filtered.event_names = vec!["purchase".into()];
        assert_eq!(
            not_routed_reason(&p, 200, &lead, 100),
            "pixel added after the event"
        );
        assert_eq!(not_routed_reason(&off, 1, &lead, 100), "pixel inactive");
        assert_eq!(
            not_routed_reason(&client, 1, &lead, 100),
            "server-side delivery is off for this pixel"
        );
        assert_eq!(
            not_routed_reason(&filtered, 1, &lead, 100),
            "event not in the pixel's event_names"
        );
        assert!(
            not_routed_reason(&pixel("l", Platform::Linkedin), 1, &view, 100)
                .starts_with("LinkedIn")
        );
        assert!(not_routed_reason(&p, 1, &lead, 100).contains("changed since"));
    }
}
