//! Offline and CRM conversions (`POST /api/v1/conversions`, `/conversions/batch`): the model, its
//! validation (errors name the field path, `conversions[3].happened_at`), and the canonical
//! `Event` each becomes, so a conversion goes through the same routing, dedup, queue, retries and
//! audit as any event.
//!
//! A conversion is `{conversion_id, name, happened_at, value?, currency?, order_id?, source?,
//! crm_name?, user_data{…, meta_lead_id?}, click_ids{gclid, gbraid, wbraid, fbc, ttclid,
//! li_fat_id}, visitor_id?, event_id?, consent?}`:
//! - `happened_at` is a Unix time (seconds or milliseconds) or an RFC 3339 date-time, at most 90
//!   days old (the longest window of any destination, Google Ads'); each destination then applies
//!   its own window and skips an older conversion with the reason;
//! - `source` (crm|physical_store|phone_call|other, default other) says where it happened, which
//!   decides Meta's `action_source` and TikTok's event source;
//! - the conversion is delivered as the event `event_id` if given, else `conversion_id`. The
//!   dedup claim is by that id, so: the same `conversion_id` sent twice is delivered once; and a
//!   conversion naming the `event_id` of the browser event it completes (a purchase the tag also
//!   reported) is that event: accepted within the 48 h dedup window of the browser's, it adds
//!   nothing (the platforms already got the event under that id, and they de-duplicate by it too);
//!   arriving first, or after the browser event was lost, it is the one delivered. Past the
//!   window, the gateway's own record of conversion ids (the conversions table) still refuses a
//!   `conversion_id` it has seen;
//! - PII in `user_data` is normalized and hashed by the event intake; `meta_lead_id` (a Meta Lead
//!   Ads lead id, digits) is an id, kept as given.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::calendar::Date;
use super::event::{
    parse_event, valid_id, ConversionContext, ConversionSource, FieldError, IntakeContext, Parsed,
    Rejection, FUTURE_SKEW_SECS, ID_RULE, MAX_AGE_SECS,
};

pub const MAX_BATCH: usize = 1000;
/// A batch of 1,000 conversions with full customer data is ~600 KB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const MAX_TEXT: usize = 128;

const KEYS: [&str; 14] = [
    "conversion_id",
    "name",
    "happened_at",
    "value",
    "currency",
    "order_id",
    "source",
    "crm_name",
    "user_data",
    "click_ids",
    "visitor_id",
    "event_id",
    "consent",
    "custom_data",
];

const TIME_RULE: &str = "must be a Unix time in seconds or milliseconds, or an RFC 3339 \
    date-time such as 2025-06-01T14:30:00Z or 2025-06-01T16:30:00+02:00, at most 90 days old and \
    at most 5 minutes ahead of the server clock";

/// A validated conversion: the event it is delivered as, with its `conversion` context set.
#[derive(Debug)]
pub struct Conversion {
    pub parsed: Parsed,
}

impl Conversion {
    pub fn conversion_id(&self) -> &str {
        self.parsed
            .event
            .conversion
            .as_deref()
            .map_or("", |c| c.conversion_id.as_str())
    }
}

/// The event intake's names for a conversion's fields, for errors found by `parse_event`.
const RENAMED: [(&str, &str); 5] = [
    ("event_time", "happened_at"),
    ("event_name", "name"),
    ("custom_data.value", "value"),
    ("custom_data.currency", "currency"),
    ("custom_data.order_id", "order_id"),
];

fn renamed(e: FieldError, prefix: &str) -> FieldError {
    let Some(rest) = e.field.strip_prefix(prefix) else {
        return e;
    };
    match RENAMED.iter().find(|(from, _)| *from == rest) {
        Some((_, to)) => FieldError::new(format!("{prefix}{to}"), e.message),
        None => e,
    }
}

/// Parses one conversion; `prefix` (`conversions[3].` in a batch) starts every error's field.
pub fn parse_conversion(value: &Value, prefix: &str, now: i64) -> Result<Conversion, FieldError> {
    let path = |f: &str| format!("{prefix}{f}");
    let obj = value
        .as_object()
        .ok_or_else(|| FieldError::new(prefix.trim_end_matches('.'), "must be a JSON object"))?;
    if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(FieldError::new(
            path(k),
            format!("unknown field (use {})", KEYS.join(", ")),
        ));
    }
    let conversion_id = id_field(obj.get("conversion_id"), || path("conversion_id"))?
        .ok_or_else(|| FieldError::new(path("conversion_id"), "is required"))?;
    let event_id = id_field(obj.get("event_id"), || path("event_id"))?;
    let happened_at = match obj.get("happened_at") {
        None | Some(Value::Null) => {
            return Err(FieldError::new(path("happened_at"), "is required"))
        }
        Some(v) => {
            parse_time(v, now).ok_or_else(|| FieldError::new(path("happened_at"), TIME_RULE))?
        }
    };
    let source = match obj.get("source") {
        None | Some(Value::Null) => ConversionSource::Other,
        Some(Value::String(s)) => ConversionSource::parse(s.trim()).ok_or_else(|| {
            FieldError::new(
                path("source"),
                "must be one of crm, physical_store, phone_call, other",
            )
        })?,
        Some(_) => {
            return Err(FieldError::new(
                path("source"),
                "must be one of crm, physical_store, phone_call, other",
            ))
        }
    };
    let crm_name = text_field(obj.get("crm_name"), || path("crm_name"))?;
    let order_id = text_field(obj.get("order_id"), || path("order_id"))?;
    if obj.get("value").is_some_and(|v| !v.is_null())
        && obj.get("currency").is_none_or(Value::is_null)
    {
        return Err(FieldError::new(
            path("currency"),
            "is required with value (a 3-letter ISO 4217 code such as EUR)",
        ));
    }

    // The Lead Ads id is not PII to hash: it leaves user_data before the intake hashes the rest.
    let mut meta_lead_id = None;
    let user_data = match obj.get("user_data") {
        Some(Value::Object(u)) => {
            let mut u = u.clone();
            for key in ["meta_lead_id", "lead_id"] {
                if let Some(v) = u.remove(key).filter(|v| !v.is_null()) {
                    let digits = match &v {
                        Value::String(s) => s.trim().to_string(),
                        Value::Number(n) if n.is_u64() => n.to_string(),
                        _ => String::new(),
                    };
                    if digits.is_empty()
                        || digits.len() > 20
                        || !digits.bytes().all(|b| b.is_ascii_digit())
                    {
                        return Err(FieldError::new(
                            path(&format!("user_data.{key}")),
                            "must be the Meta Lead Ads lead id: 1-20 digits",
                        ));
                    }
                    meta_lead_id = Some(digits);
                }
            }
            Value::Object(u)
        }
        other => other.cloned().unwrap_or(Value::Null),
    };

    let mut custom = match obj.get("custom_data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => c.clone(),
        Some(_) => return Err(FieldError::new(path("custom_data"), "must be an object")),
    };
    for key in ["value", "currency"] {
        if let Some(v) = obj.get(key).filter(|v| !v.is_null()) {
            custom.insert(key.into(), v.clone());
        }
    }
    if let Some(o) = &order_id {
        custom.insert("order_id".into(), Value::from(o.as_str()));
    }
    let mut ev = Map::new();
    ev.insert(
        "event_id".into(),
        Value::from(event_id.as_deref().unwrap_or(&conversion_id)),
    );
    ev.insert("event_time".into(), Value::from(happened_at));
    for key in ["name", "visitor_id", "click_ids", "consent"] {
        if let Some(v) = obj.get(key) {
            let k = if key == "name" { "event_name" } else { key };
            ev.insert(k.into(), v.clone());
        }
    }
    ev.insert("user_data".into(), user_data);
    ev.insert("custom_data".into(), Value::Object(custom));

    // A conversion comes from the tenant's own server (api key): it may assert consent, and
    // carries no browser's address.
    let ctx = IntakeContext {
        now,
        ip: None,
        user_agent: None,
        geo_country: None,
        trusted: true,
    };
    let mut parsed = parse_event(&Value::Object(ev), prefix, &ctx, &mut || String::new())
        .map_err(|e| renamed(e, prefix))?;
    parsed.warnings = parsed
        .warnings
        .into_iter()
        .map(|w| renamed(w, prefix))
        .collect();
    parsed.event.conversion = Some(Box::new(ConversionContext {
        conversion_id,
        source,
        meta_lead_id,
        crm_name,
    }));
    Ok(Conversion { parsed })
}

/// A batch: `{conversions:[…]}` of 1 to 1,000. Body-level problems are one error; each invalid
/// conversion is a rejection naming its index and field.
pub fn parse_batch(
    body: &Value,
    now: i64,
) -> Result<(Vec<Conversion>, Vec<Rejection>), FieldError> {
    let items = body
        .get("conversions")
        .ok_or_else(|| FieldError::new("conversions", "is required"))?
        .as_array()
        .ok_or_else(|| FieldError::new("conversions", "must be an array of conversion objects"))?;
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(FieldError::new(
            "conversions",
            format!(
                "holds {} conversions; a batch holds 1 to {MAX_BATCH}",
                items.len()
            ),
        ));
    }
    let mut accepted = Vec::with_capacity(items.len());
    let mut rejected = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match parse_conversion(item, &format!("conversions[{i}]."), now) {
            Ok(c) => accepted.push((i, c)),
            Err(e) => rejected.push(Rejection {
                index: i,
                field: e.field,
                message: e.message,
            }),
        }
    }
    // The same conversion twice in one batch is one conversion: the first one counts.
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(accepted.len());
    for (i, c) in accepted {
        if seen.insert(c.conversion_id().to_string()) {
            out.push(c);
        } else {
            rejected.push(Rejection {
                index: i,
                field: format!("conversions[{i}].conversion_id"),
                message: "repeats an earlier conversion of this batch".into(),
            });
        }
    }
    rejected.sort_by_key(|r| r.index);
    Ok((out, rejected))
}

fn id_field(v: Option<&Value>, field: impl Fn() -> String) -> Result<Option<String>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if valid_id(s.trim()) => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
        Some(_) => Err(FieldError::new(field(), ID_RULE)),
    }
}

/// Printable text of 1 to 128 bytes (or a whole number).
fn text_field(v: Option<&Value>, field: impl Fn() -> String) -> Result<Option<String>, FieldError> {
    let rule = "must be a string of 1 to 128 printable characters (or a whole number)";
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t.len() > MAX_TEXT || t.chars().any(char::is_control) {
                return Err(FieldError::new(field(), rule));
            }
            Ok(Some(t.to_string()))
        }
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
        Some(_) => Err(FieldError::new(field(), rule)),
    }
}

/// Unix seconds from a number (seconds or milliseconds), a numeric string or an RFC 3339
/// date-time, within the intake's window.
pub fn parse_time(v: &Value, now: i64) -> Option<i64> {
    let secs = match v {
        Value::Number(n) => from_number(n.as_f64()?),
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<f64>() {
                Ok(n) => from_number(n),
                Err(_) => parse_rfc3339(s)?,
            }
        }
        _ => return None,
    };
    (secs >= now - MAX_AGE_SECS && secs <= now + FUTURE_SKEW_SECS).then_some(secs)
}

fn from_number(n: f64) -> i64 {
    (if n > 1.0e11 { n / 1000.0 } else { n }) as i64
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (a space for the `T` too) → Unix seconds.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let date = Date::parse(&s[..10])?;
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || rb[3] != b':' {
                return None;
            }
            let sign = match rb[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (oh, om) = (
                rest[1..3].parse::<i64>().ok()?,
                rest[4..6].parse::<i64>().ok()?,
            );
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    Some(date.start_unix() + h * 3600 + mi * 60 + sec.min(59) - offset)
}

// ---------------------------------------------------------------- the listing

/// A conversion's status, summed up from its destinations' delivery statuses (and from whether
/// its event id was new).
pub const STATUSES: [&str; 7] = [
    "pending",
    "delivered",
    "failed",
    "paused",
    "skipped",
    "not_routed",
    "duplicate",
];

/// How long a conversion without any delivery row is still taken to be on its way (its shard
/// records every destination it routes to within seconds).
pub const PENDING_GRACE_SECS: i64 = 300;

/// The summary of `statuses` (one per destination, as the delivery audit has them): failed,
/// else paused, else pending (queued, sending or retrying), else delivered, else skipped. With
/// none: `not_routed` when no pixel took it (`routed` is how many did); `pending` in its first
/// minutes; past the audit's window (`window_secs`, after which only exceptions (failures,
/// skips, pauses) keep a row) `delivered`, since none was recorded.
pub fn summarize(
    fresh: bool,
    statuses: &[&str],
    routed: i64,
    received_at: i64,
    now: i64,
    window_secs: i64,
) -> &'static str {
    if !fresh {
        return "duplicate";
    }
    if statuses.is_empty() {
        let age = now - received_at;
        return if routed == 0 {
            "not_routed"
        } else if age < PENDING_GRACE_SECS.max(window_secs) {
            "pending"
        } else {
            "delivered"
        };
    }
    let any = |s: &[&str]| statuses.iter().any(|x| s.contains(x));
    if any(&["failed"]) {
        "failed"
    } else if any(&["paused"]) {
        "paused"
    } else if any(&["queued", "sending", "retrying"]) {
        "pending"
    } else if any(&["delivered"]) {
        "delivered"
    } else {
        "skipped"
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub status: Option<&'static str>,
    pub name: Option<String>,
    pub limit: u32,
    /// Only conversions recorded before this position (from `cursor`).
    pub before: Option<i64>,
}

/// The listing's cursor after the conversion at `position` (the delivery log's cursor format,
/// with only its position).
pub fn encode_cursor(position: i64) -> String {
    super::audit::encode_cursor(&(position, String::new(), String::new()))
}

/// `status`, `name`, and the delivery log's paging (`limit` 1-200, 50 by default, `cursor`);
/// empty counts as absent.
pub fn parse_list_query(q: &BTreeMap<String, String>) -> Result<ListQuery, FieldError> {
    let mut rest = q.clone();
    let status = rest
        .remove("status")
        .filter(|s| !s.is_empty())
        .map(|s| {
            STATUSES.into_iter().find(|x| *x == s).ok_or_else(|| {
                FieldError::new("status", format!("must be one of {}", STATUSES.join(", ")))
            })
        })
        .transpose()?;
    let name = rest.remove("name").filter(|n| !n.is_empty());
    rest.remove("pixel_id");
    let page = super::audit::parse_list_query(&rest)?;
    Ok(ListQuery {
        status,
        name,
        limit: page.limit,
        before: page.before.map(|(position, _, _)| position),
    })
}

/// Builds conversions as the endpoint does, for the destinations' golden tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::parse_conversion;
    use crate::core::consent::DeliveryMode;
    use crate::core::destinations::testing::{ALL, NOW};
    use crate::core::destinations::DeliveryEvent;

    pub fn conversion(v: serde_json::Value, mode: DeliveryMode) -> DeliveryEvent {
        let c = parse_conversion(&v, "", NOW).expect("test conversion is valid");
        DeliveryEvent {
            event: std::sync::Arc::new(c.parsed.event),
            mode,
            consent: ALL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::platform::EventName;
    use serde_json::json;

    const NOW: i64 = 1_760_000_000;

    fn parse(v: Value) -> Result<Conversion, FieldError> {
        parse_conversion(&v, "", NOW)
    }

    fn won_deal() -> Value {
        json!({
            "conversion_id": "deal-42", "name": "purchase", "happened_at": NOW - 20 * 86_400,
            "value": "1200.50", "currency": "eur", "order_id": "SO-9", "source": "crm",
            "crm_name": "HubSpot",
            "user_data": {"email": " Ana@Example.com", "phone": "+34 612 34 56 78", "meta_lead_id": "1234567890123456"},
            "click_ids": {"gclid": "Cj0KCQ-abc", "fbc": "fb.1.1750000000000.IwAR"},
            "consent": {"marketing": true, "analytics": false}
        })
    }

    #[test]
    fn personal_data_outside_user_data_is_scrubbed_as_for_events() {
        // Conversions come in through the event intake: the scrub (`core::scrub`) applies.
        let mut deal = won_deal();
        deal["custom_data"] = json!({"plan": "pro", "customer_email": "ana@example.com",
                                     "note": "call +1 415 555 2671"});
        let c = parse(deal).unwrap();
        let e = &c.parsed.event;
        assert_eq!(e.custom_data.get("plan"), Some(&json!("pro")));
        assert!(e.custom_data.get("customer_email").is_none());
        assert!(e.custom_data.get("note").is_none());
        let fields: Vec<&str> = c.parsed.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(fields, ["custom_data.customer_email", "custom_data.note"]);
        let stored = serde_json::to_string(e).unwrap();
        assert!(
            !stored.contains("ana@") && !stored.contains("555"),
            "{stored}"
        );
    }

    #[test]
    fn a_crm_conversion_becomes_an_event_with_its_context() {
        let c = parse(won_deal()).unwrap();
        let e = &c.parsed.event;
        assert_eq!(e.event_id, "deal-42", "the conversion id is the event id");
        assert_eq!(e.event_name, EventName::Purchase);
        assert_eq!(
            e.event_time,
            NOW - 20 * 86_400,
            "older than a browser event may be"
        );
        assert_eq!(e.custom_data["value"], json!(1200.5));
        assert_eq!(e.custom_data["currency"], json!("EUR"));
        assert_eq!(e.custom_data["order_id"], json!("SO-9"));
        assert_eq!(
            e.user.em.as_ref().map(|h| h.as_str().to_string()),
            Some(sha256_hex("ana@example.com"))
        );
        assert_eq!(e.click_ids.gclid.as_deref(), Some("Cj0KCQ-abc"));
        assert!(e.client.ip.is_none() && e.client.user_agent.is_none());
        assert_eq!(e.consent.map(|c| c.marketing), Some(true));
        let ctx = e.conversion.as_deref().unwrap();
        assert_eq!(ctx.conversion_id, "deal-42");
        assert_eq!(ctx.source, ConversionSource::Crm);
        assert_eq!(ctx.meta_lead_id.as_deref(), Some("1234567890123456"));
        assert_eq!(ctx.crm_name.as_deref(), Some("HubSpot"));
        let stored = serde_json::to_string(e).unwrap();
        assert!(
            !stored.contains("Ana@") && !stored.contains("612"),
            "{stored}"
        );
    }

    #[test]
    fn an_event_id_makes_it_the_browser_event_it_completes() {
        let mut v = won_deal();
        v["event_id"] = json!("evt-browser-1");
        let c = parse(v).unwrap();
        assert_eq!(c.parsed.event.event_id, "evt-browser-1");
        assert_eq!(c.conversion_id(), "deal-42");
    }

    #[test]
    fn custom_stage_names_and_defaults() {
        let c = parse(json!({"conversion_id": 77, "name": "qualified_lead", "happened_at": "2025-10-08T10:00:00+02:00"}))
            .unwrap();
        let e = &c.parsed.event;
        assert_eq!(e.display_name(), "qualified_lead");
        assert_eq!(e.event_time, 1_759_910_400);
        assert_eq!(
            e.conversion.as_deref().unwrap().source,
            ConversionSource::Other
        );
        assert_eq!(e.event_id, "77");
    }

    #[test]
    fn errors_name_the_conversion_field() {
        let cases = [
            (
                json!({"name": "purchase", "happened_at": NOW}),
                "conversion_id",
            ),
            (
                json!({"conversion_id": "a b", "name": "purchase", "happened_at": NOW}),
                "conversion_id",
            ),
            (json!({"conversion_id": "c", "happened_at": NOW}), "name"),
            (
                json!({"conversion_id": "c", "name": "9x", "happened_at": NOW}),
                "name",
            ),
            (json!({"conversion_id": "c", "name": "lead"}), "happened_at"),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW - 91 * 86_400}),
                "happened_at",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": "yesterday"}),
                "happened_at",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "value": 5}),
                "currency",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "value": "lots", "currency": "EUR"}),
                "value",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "value": 1, "currency": "euro"}),
                "currency",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "source": "web"}),
                "source",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "user_data": {"meta_lead_id": "L-1"}}),
                "user_data.meta_lead_id",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "user_data": {"emial": "a@b.co"}}),
                "user_data.emial",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "click_ids": {"fbc": "x"}}),
                "click_ids.fbc",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "order_id": ""}),
                "order_id",
            ),
            (
                json!({"conversion_id": "c", "name": "lead", "happened_at": NOW, "amount": 3}),
                "amount",
            ),
        ];
        for (body, field) in cases {
            let err = parse(body.clone()).expect_err(&body.to_string());
            assert_eq!(err.field, field, "for {body}: {}", err.message);
        }
    }

    #[test]
    fn batch_errors_carry_the_index_and_repeats_count_once() {
        let ok = won_deal();
        let body = json!({"conversions": [ok, {"conversion_id": "x", "name": "lead", "happened_at": "soon"}, won_deal()]});
        let (accepted, rejected) = parse_batch(&body, NOW).unwrap();
        assert_eq!(accepted.len(), 1);
        assert_eq!(rejected.len(), 2);
        assert_eq!(rejected[0].field, "conversions[1].happened_at");
        assert_eq!(rejected[1].field, "conversions[2].conversion_id");
        let many: Vec<Value> = (0..1001)
            .map(|i| json!({"conversion_id": i, "name": "lead", "happened_at": NOW}))
            .collect();
        assert_eq!(
            parse_batch(&json!({ "conversions": many }), NOW)
                .unwrap_err()
                .field,
            "conversions"
        );
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2025-06-01 14:30:00.123Z"),
            Some(1_748_788_200)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T16:30:00+02:00"),
            Some(1_748_788_200)
        );
        assert_eq!(
            parse_rfc3339("2025-06-01T09:30:00-05:00"),
            Some(1_748_788_200)
        );
        for bad in [
            "2025-06-01",
            "2025-13-01T00:00:00Z",
            "2025-06-01T24:00:00Z",
            "2025-06-01T10:00:00",
            "2025-06-01T10:00:00+2:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn summary_of_destination_statuses() {
        const W: i64 = 48 * 3600;
        let s =
            |fresh, st: &[&str], routed, received| summarize(fresh, st, routed, received, NOW, W);
        assert_eq!(s(false, &["delivered"], 1, NOW), "duplicate");
        assert_eq!(s(true, &[], 2, NOW - 10), "pending");
        assert_eq!(s(true, &[], 0, NOW - 10), "not_routed");
        assert_eq!(
            s(true, &[], 2, NOW - W - 1),
            "delivered",
            "past the window only exceptions stay"
        );
        assert_eq!(s(true, &["delivered", "failed"], 2, NOW), "failed");
        assert_eq!(s(true, &["delivered", "paused"], 2, NOW), "paused");
        assert_eq!(s(true, &["retrying", "delivered"], 2, NOW), "pending");
        assert_eq!(s(true, &["skipped", "delivered"], 2, NOW), "delivered");
        assert_eq!(s(true, &["skipped"], 1, NOW), "skipped");
        let cursor = encode_cursor(41);
        let q = parse_list_query(&[("cursor".to_string(), cursor)].into()).unwrap();
        assert_eq!(q.before, Some(41));
    }

    #[test]
    fn list_query() {
        let q = |pairs: &[(&str, &str)]| {
            parse_list_query(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let d = q(&[]).unwrap();
        assert_eq!((d.status, d.limit, d.before), (None, 50, None));
        assert_eq!(q(&[("status", "failed")]).unwrap().status, Some("failed"));
        assert_eq!(q(&[("status", "nope")]).unwrap_err().field, "status");
        assert_eq!(q(&[("limit", "0")]).unwrap_err().field, "limit");
        assert_eq!(q(&[("cursor", "zz")]).unwrap_err().field, "cursor");
    }
}
