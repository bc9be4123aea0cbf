//! GA4 Measurement Protocol: POST {ga4_mp_base}/mp/collect?measurement_id=…&api_secret=….
//!
//! Rules followed (Measurement Protocol "Sending events", "Reference", "Validating events" and
//! "Send user-provided data with User-ID"; Analytics "Event collection limits"):
//! - the api_secret travels in the query string: GA4 accepts it nowhere else. The URL therefore
//!   holds a secret and must not be logged by the edge.
//! - a request carries at most 25 events, and every event of a request belongs to the request's one
//!   `client_id` (and its `user_id`, `consent` and `user_data`, which are request-level too), so
//!   events are grouped by those before being cut into chunks of 25.
//! - `client_id` is the browser's GA client id (from the `_ga` cookie) when the tag sent it; else
//!   one derived stably from `visitor_id` ("<u32>.<u32>", so the same visitor is the same GA
//!   client), else from the event id. A derived id is a different GA client than the browser's own
//!   gtag one, so the tag should send `ga_client_id` when GA4 also runs client-side.
//! - `timestamp_micros` may be backdated at most 72 hours: older events are rejected here. The
//!   request-level timestamp is the first event's; events at another time carry their own.
//! - event names: ≤ 40 characters, starting with a letter, letters/digits/underscore only; the
//!   reserved names (first_visit, session_start, …) and the prefixes `google_`, `ga_` and
//!   `firebase_` are refused, so such custom events are rejected with the reason.
//! - at most 25 parameters per event: ours come first in a fixed order (page_location,
//!   page_referrer, engagement_time_msec, session_id, currency, value, transaction_id, items), then
//!   the caller's custom_data scalars in key order; the rest are dropped. Parameter names are
//!   ≤ 40 characters, start with a letter, letters/digits/underscore; names with a reserved prefix
//!   (and `firebase_conversion`) are dropped. String values are cut to 100 characters, except
//!   page_location (1000), page_referrer (420) and page_title (300). Arrays are not parameter values
//!   and are dropped (content_ids become `items`); booleans are sent as "true"/"false".
//! - `engagement_time_msec` (1) is set so events show in Realtime. `session_id` is only sent when
//!   the caller supplies gtag's own session id in custom_data: an invented one would split or merge
//!   real sessions.
//! - ecommerce events (purchase, add_to_cart, view_item) carry `items` ({item_id, item_name,
//!   item_category, item_brand, quantity, price}), at most 200. A purchase always has a
//!   `transaction_id` (custom_data transaction_id, else order_id, else the event id), which GA4 uses
//!   to de-duplicate purchases.
//! - `consent` is the Consent Mode v2 pair {ad_user_data, ad_personalization} derived from the
//!   visitor's marketing consent.
//! - user-provided data (full mode only, and only used by GA4 when the property has user-provided
//!   data collection turned on): `user_data.sha256_email_address[]` (Google normalization: gmail
//!   dots removed), `sha256_phone_number[]` (E.164 with '+'), `address[].sha256_first_name` /
//!   `sha256_last_name`. Google wants `city`, `region`, `postal_code` and `country` of the address in
//!   plain text; the gateway only ever holds hashes of them, so they are omitted. `user_id` is the
//!   hashed external id, sent alongside user_data as Google recommends.
//! - limited-data mode sends neither `user_id` nor `user_data`.
//! - /mp/collect answers 2xx for anything it received, even a malformed payload; it never says
//!   what it dropped. Only /debug/mp/collect (the validation server) answers
//!   `{"validationMessages":[{fieldPath, description, validationCode}]}`, and it does not check the
//!   api_secret or the measurement id. 429 is throttling, 5xx and no answer are worth a retry,
//!   other 4xx are permanent.

use serde_json::{json, Value};

use super::{
    snippet, Credentials, DeliveryEvent, Destination, Plan, PlannedRequest, PlatformConfig,
};
use crate::core::consent::google_consent_signals;
use crate::core::hash::{sha256_hex, Sha256Hex};
use crate::core::jsonmap::pick;
use crate::core::outbound::{json_text, InboundResponse, JsonObject, OutboundRequest};
use crate::core::platform::{EventName, Platform};
use crate::core::retry::{classify_status, Outcome};
use crate::core::text::truncate_chars;

pub struct Ga4;

pub const MAX_EVENTS_PER_REQUEST: usize = 25;
pub const MAX_EVENT_AGE_SECS: i64 = 72 * 3600;
pub const MAX_PARAMS_PER_EVENT: usize = 25;
pub const MAX_NAME_LEN: usize = 40;
pub const MAX_PARAM_VALUE_LEN: usize = 100;
pub const MAX_ITEMS_PER_EVENT: usize = 200;

/// Event names the Measurement Protocol reserves (its reference's "Reserved names").
pub const RESERVED_EVENT_NAMES: [&str; 29] = [
    "ad_activeview",
    "ad_click",
    "ad_exposure",
    "ad_query",
    "ad_reward",
    "adunit_exposure",
    "app_clear_data",
    "app_exception",
    "app_install",
    "app_remove",
    "app_store_refund",
    "app_update",
    "app_upgrade",
    "dynamic_link_app_open",
    "dynamic_link_app_update",
    "dynamic_link_first_open",
    "error",
    "firebase_campaign",
    "first_open",
    "first_visit",
    "in_app_purchase",
    "notification_dismiss",
    "notification_foreground",
    "notification_open",
    "notification_receive",
    "os_update",
    "session_start",
    "session_start_with_rollout",
    "user_engagement",
];
pub const RESERVED_PREFIXES: [&str; 3] = ["google_", "ga_", "firebase_"];
const RESERVED_PARAM_NAMES: [&str; 1] = ["firebase_conversion"];

/// custom_data keys this file turns into GA4's own parameters (never passed through as-is).
const HANDLED_KEYS: [&str; 7] = [
    "value",
    "currency",
    "content_ids",
    "contents",
    "transaction_id",
    "order_id",
    "session_id",
];

/// A content item's keys (custom_data `contents`) and the GA4 item fields they become, in the
/// order they are written.
const ITEM_KEYS: [&str; 6] = ["id", "title", "category", "brand", "quantity", "item_price"];
const ITEM_FIELDS: [&str; 6] = [
    "item_id",
    "item_name",
    "item_category",
    "item_brand",
    "quantity",
    "price",
];

/// Why GA4 would refuse this event name, if it would.
pub fn event_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        return Some(format!(
            "GA4 event names are 1-{MAX_NAME_LEN} characters; \"{name}\" is not"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some(format!(
            "GA4 event names must start with a letter; \"{name}\" does not"
        ));
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(format!(
            "GA4 event names hold only letters, digits and '_'; \"{name}\" does not"
        ));
    }
    if RESERVED_EVENT_NAMES.contains(&name) {
        return Some(format!("\"{name}\" is a reserved GA4 event name"));
    }
    if let Some(p) = RESERVED_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Some(format!(
            "GA4 event names may not start with the reserved prefix \"{p}\""
        ));
    }
    None
}

fn param_name_ok(name: &str) -> bool {
    // Bytes, not chars: a valid name is ASCII, where the two are the same.
    let bytes = name.as_bytes();
    bytes.first().is_some_and(u8::is_ascii_alphabetic)
        && bytes.len() <= MAX_NAME_LEN
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        && !RESERVED_PARAM_NAMES.contains(&name)
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The longest string GA4 keeps for a parameter.
fn value_limit(param: &str) -> usize {
    match param {
        "page_location" => 1000,
        "page_referrer" => 420,
        "page_title" => 300,
        _ => MAX_PARAM_VALUE_LEN,
    }
}

/// "<u32>.<u32>" from a seed, the shape of a gtag client id, the same for the same seed.
pub fn derived_client_id(seed: &str) -> String {
    let h = sha256_hex(seed);
    let a = u32::from_str_radix(&h[0..8], 16).unwrap_or(0);
    let b = u32::from_str_radix(&h[8..16], 16).unwrap_or(0);
    format!("{a}.{b}")
}

pub fn client_id(ev: &DeliveryEvent) -> String {
    let e = &ev.event;
    if let Some(c) = &e.click_ids.ga_client_id {
        return c.clone();
    }
    match &e.visitor_id {
        Some(v) => derived_client_id(v),
        None => derived_client_id(&e.event_id),
    }
}

/// Parses the validation server's answer into readable lines (empty: the payload is valid).
pub fn validation_messages(body: &str) -> Vec<String> {
    let parsed: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(_) => return vec![format!("unreadable validation answer: {}", snippet(body))],
    };
    let Some(list) = parsed.get("validationMessages").and_then(Value::as_array) else {
        return vec![format!("unexpected validation answer: {}", snippet(body))];
    };
    list.iter()
        .map(|m| {
            let field = m.get("fieldPath").and_then(Value::as_str).unwrap_or("");
            let desc = m
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("no description");
            let code = m
                .get("validationCode")
                .and_then(Value::as_str)
                .unwrap_or("UNKNOWN");
            if field.is_empty() {
                format!("{desc} ({code})")
            } else {
                format!("{field}: {desc} ({code})")
            }
        })
        .collect()
}

/// A parameter value as the event holds it; strings are cut to GA4's limit when written.
enum Param<'e> {
    Text(&'e str),
    Owned(String),
    Json(&'e Value),
    Int(i64),
    Items(Vec<Item<'e>>),
}

/// One GA4 item: its values by ITEM_FIELDS; `item_id` is always there.
type Item<'e> = [Option<&'e Value>; ITEM_FIELDS.len()];

impl Ga4 {
    fn event_name<'e>(&self, ev: &'e DeliveryEvent) -> Result<&'e str, String> {
        let e = &ev.event;
        if let Some(n) = e.event_name.for_platform(Platform::Google) {
            return Ok(n);
        }
        let name = e.custom_name.as_deref().unwrap_or_default();
        match event_name_problem(name) {
            Some(problem) => Err(problem),
            None => Ok(name),
        }
    }

    fn too_old(&self, ev: &DeliveryEvent, now: i64) -> Option<String> {
        (ev.event.event_time < now - MAX_EVENT_AGE_SECS).then(|| {
            "event_time is older than 72 hours; GA4 Measurement Protocol accepts events backdated at most 72 hours"
                .into()
        })
    }

    /// Our parameters, in priority order: valid, distinct names, fewer than GA4's limit.
    fn our_params<'e>(&self, ev: &'e DeliveryEvent) -> Vec<(&'static str, Param<'e>)> {
        let e = &ev.event;
        let [value, currency, content_ids, contents, transaction_id, order_id, session_id] =
            pick(&e.custom_data, &HANDLED_KEYS);
        let mut list: Vec<(&str, Param)> = Vec::with_capacity(8);
        if let Some(u) = ev.page_url() {
            list.push(("page_location", Param::Text(u)));
        }
        if let Some(r) = ev.referrer_url() {
            list.push(("page_referrer", Param::Text(r)));
        }
        list.push(("engagement_time_msec", Param::Int(1)));
        if let Some(s) = session_id.filter(|v| v.is_string() || v.is_number()) {
            list.push(("session_id", Param::Json(s)));
        }
        if let Some(cur) = currency {
            list.push(("currency", Param::Json(cur)));
        }
        if let Some(v) = value {
            list.push(("value", Param::Json(v)));
        }
        let transaction = transaction_id
            .or(order_id)
            .filter(|v| v.is_string() || v.is_number());
        match (transaction, e.event_name) {
            (Some(Value::String(t)), _) => list.push(("transaction_id", Param::Text(t))),
            (Some(t), _) => list.push(("transaction_id", Param::Owned(t.to_string()))),
            (None, EventName::Purchase) => list.push(("transaction_id", Param::Text(&e.event_id))),
            (None, _) => {}
        }
        if matches!(
            e.event_name,
            EventName::Purchase | EventName::AddToCart | EventName::ViewContent
        ) {
            let items = items(contents, content_ids);
            if !items.is_empty() {
                list.push(("items", Param::Items(items)));
            }
        }
        list
    }

    /// The caller's custom_data scalars, in key order (serde_json's Map keeps keys sorted).
    fn custom_params<'e>(
        &self,
        ev: &'e DeliveryEvent,
    ) -> impl Iterator<Item = (&'e str, Param<'e>)> {
        ev.event.custom_data.iter().filter_map(|(k, v)| {
            if HANDLED_KEYS.contains(&k.as_str()) {
                return None;
            }
            let v = match v {
                Value::String(_) | Value::Number(_) => Param::Json(v),
                Value::Bool(b) => Param::Text(if *b { "true" } else { "false" }),
                _ => return None,
            };
            Some((k.as_str(), v))
        })
    }

    /// At most 25 parameters with valid, unreserved, distinct names, ours first; strings cut to
    /// GA4's limits.
    fn write_params(&self, o: &mut JsonObject, ev: &DeliveryEvent) {
        let ours = self.our_params(ev);
        let mut count = ours.len();
        for (name, value) in &ours {
            self.write_param(o, name, value);
        }
        for (name, value) in self.custom_params(ev) {
            if count == MAX_PARAMS_PER_EVENT {
                break;
            }
            // custom_data keys are distinct: only one of ours can have the same name.
            if !param_name_ok(name) || ours.iter().any(|(ours, _)| *ours == name) {
                continue;
            }
            self.write_param(o, name, &value);
            count += 1;
        }
    }

    fn write_param(&self, o: &mut JsonObject, name: &str, value: &Param) {
        let limit = value_limit(name);
        match value {
            Param::Text(s) => o.string(name, truncate_chars(s, limit)),
            Param::Owned(s) => o.string(name, truncate_chars(s, limit)),
            Param::Json(Value::String(s)) => o.string(name, truncate_chars(s, limit)),
            Param::Json(v) => o.value(name, v),
            Param::Int(n) => o.int(name, *n),
            Param::Items(items) => o.objects(name, items, |out, item| {
                for (field, v) in ITEM_FIELDS.iter().zip(item) {
                    match v {
                        Some(Value::String(s)) => {
                            out.string(field, truncate_chars(s, MAX_PARAM_VALUE_LEN));
                        }
                        Some(other) => {
                            out.value(field, other);
                        }
                        None => {}
                    }
                }
            }),
        };
    }

    fn write_event(&self, o: &mut JsonObject, ev: &DeliveryEvent, request_time: i64) {
        o.string("name", self.event_name(ev).unwrap_or_default());
        o.object_always("params", |p| self.write_params(p, ev));
        if ev.event.event_time != request_time {
            o.int("timestamp_micros", ev.event.event_time * 1_000_000);
        }
    }

    fn url(&self, cfg: &PlatformConfig, path: &str, creds: &Credentials, secret: &str) -> String {
        // Pieces pushed into one String: format! and a String per encoded value cost more than
        // writing the body's parameters.
        let base = cfg.ga4_mp_base.trim_end_matches('/');
        let mut url = String::with_capacity(base.len() + path.len() + 64);
        url.push_str(base);
        url.push_str(path);
        url.push_str("?measurement_id=");
        url.extend(url::form_urlencoded::byte_serialize(
            creds.pixel_id.as_bytes(),
        ));
        url.push_str("&api_secret=");
        url.extend(url::form_urlencoded::byte_serialize(secret.as_bytes()));
        url
    }
}

/// Request-level identity: user_id and user-provided data, all None in limited mode.
#[derive(PartialEq, Default)]
struct Identity<'e> {
    user_id: Option<&'e Sha256Hex>,
    email: Option<&'e Sha256Hex>,
    phone: Option<&'e Sha256Hex>,
    first_name: Option<&'e Sha256Hex>,
    last_name: Option<&'e Sha256Hex>,
}

impl<'e> Identity<'e> {
    fn of(ev: &'e DeliveryEvent) -> Self {
        let Some((u, _)) = ev.identifiers() else {
            return Identity::default();
        };
        Identity {
            user_id: u.external_id.as_ref(),
            email: u.em_google.as_ref(),
            phone: u.ph_e164.as_ref(),
            first_name: u.first_name.as_ref(),
            last_name: u.last_name.as_ref(),
        }
    }

    fn write_user_data(&self, o: &mut JsonObject) {
        o.object("user_data", |d| {
            d.hash_in_array("sha256_email_address", self.email)
                .hash_in_array("sha256_phone_number", self.phone);
            if self.first_name.is_some() || self.last_name.is_some() {
                d.objects("address", [()], |a, ()| {
                    a.hash("sha256_first_name", self.first_name)
                        .hash("sha256_last_name", self.last_name);
                });
            }
        });
    }
}

/// Items from custom_data `contents` (those with an id), else from `content_ids`.
fn items<'e>(contents: Option<&'e Value>, content_ids: Option<&'e Value>) -> Vec<Item<'e>> {
    let mut out = Vec::new();
    if let Some(Value::Array(contents)) = contents {
        for item in contents {
            let Some(o) = item.as_object() else { continue };
            let fields = pick(o, &ITEM_KEYS);
            if fields[0].is_some() {
                out.push(fields);
            }
        }
    } else if let Some(Value::Array(ids)) = content_ids {
        out.extend(ids.iter().filter(|id| id.is_string()).map(|id| {
            let mut item = [None; ITEM_FIELDS.len()];
            item[0] = Some(id);
            item
        }));
    }
    out.truncate(MAX_ITEMS_PER_EVENT);
    out
}

/// Everything that must be equal for two events to share a request.
#[derive(PartialEq)]
struct RequestKey<'e> {
    client_id: String,
    identity: Identity<'e>,
    consent: (&'static str, &'static str),
}

impl Destination for Ga4 {
    fn verify_findings(&self, response: &InboundResponse) -> Vec<String> {
        if (200..300).contains(&response.status) {
            validation_messages(&response.body)
        } else {
            Vec::new()
        }
    }

    fn platform(&self) -> Platform {
        Platform::Google
    }

    fn max_batch(&self) -> usize {
        MAX_EVENTS_PER_REQUEST
    }

    fn plan(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        events: &[DeliveryEvent],
        now: i64,
    ) -> Plan {
        let Some(secret) = creds.api_secret.as_deref() else {
            return Plan::reject_all(
                events.len(),
                "the GA4 stream has no api_secret (Measurement Protocol API secret)",
            );
        };
        let mut plan = Plan::default();
        let mut groups: Vec<(RequestKey, Vec<usize>)> = Vec::new();
        for i in plan.screen_window(
            events,
            |ev| self.too_old(ev, now),
            |ev| self.event_name(ev).err(),
        ) {
            let ev = &events[i];
            let key = RequestKey {
                client_id: client_id(ev),
                identity: Identity::of(ev),
                consent: google_consent_signals(ev.consent),
            };
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push(i),
                None => groups.push((key, vec![i])),
            }
        }
        let url = self.url(cfg, "/mp/collect", creds, secret);
        for (key, members) in &groups {
            for chunk in members.chunks(MAX_EVENTS_PER_REQUEST) {
                let request_time = events[chunk[0]].event.event_time;
                let mut body = String::with_capacity(512 + 512 * chunk.len());
                let mut o = JsonObject::new(&mut body);
                o.string("client_id", &key.client_id)
                    .hash("user_id", key.identity.user_id)
                    .int("timestamp_micros", request_time * 1_000_000)
                    .object_always("consent", |c| {
                        c.string("ad_user_data", key.consent.0)
                            .string("ad_personalization", key.consent.1);
                    });
                key.identity.write_user_data(&mut o);
                o.objects("events", chunk, |out, &i| {
                    self.write_event(out, &events[i], request_time)
                });
                o.end();
                plan.requests.push(PlannedRequest {
                    request: OutboundRequest::post_json(url.clone(), body),
                    events: chunk.to_vec(),
                });
            }
        }
        plan
    }

    fn classify(&self, r: &InboundResponse) -> Outcome {
        if (200..300).contains(&r.status) {
            // /mp/collect says 2xx for anything it received; it validates nothing.
            return Outcome::Delivered {
                trace_id: None,
                detail: Some(format!(
                    "HTTP {} (GA4 does not report payload errors on /mp/collect)",
                    r.status
                )),
            };
        }
        let reason = if r.status == 0 {
            format!("GA4 not reached: {}", snippet(&r.body))
        } else {
            format!("GA4 HTTP {}: {}", r.status, snippet(&r.body))
        };
        classify_status(r.status, r.retry_after.as_deref(), reason)
    }

    fn plan_verify(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        now: i64,
    ) -> Result<OutboundRequest, String> {
        let secret = creds
            .api_secret
            .as_deref()
            .ok_or("the GA4 stream has no api_secret (Measurement Protocol API secret)")?;
        let body = json!({
            "client_id": derived_client_id("pixelgate-verify"),
            "timestamp_micros": now * 1_000_000,
            "validation_behavior": "ENFORCE_RECOMMENDATIONS",
            "consent": {"ad_user_data": "DENIED", "ad_personalization": "DENIED"},
            "events": [{
                "name": "page_view",
                "params": {
                    "page_location": "https://pixelgate.invalid/verify",
                    "engagement_time_msec": 1
                }
            }]
        });
        Ok(OutboundRequest::post_json(
            self.url(cfg, "/debug/mp/collect", creds, secret),
            json_text(&body),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::consent::DeliveryMode;
    use crate::core::event::AssertedConsent;
    use crate::core::hash::sha256_hex;
    use crate::core::outbound::Method;
    use serde_json::{json, Map};

    const NOW: i64 = 1_760_000_000;
    const ALL: AssertedConsent = AssertedConsent {
        analytics: true,
        marketing: true,
    };
    const ANALYTICS_ONLY: AssertedConsent = AssertedConsent {
        analytics: true,
        marketing: false,
    };

    fn delivery(v: Value, mode: DeliveryMode, consent: AssertedConsent) -> DeliveryEvent {
        crate::core::destinations::testing::delivery_with(v, mode, consent)
    }

    fn full(v: Value) -> DeliveryEvent {
        delivery(v, DeliveryMode::Full, ALL)
    }

    fn creds() -> Credentials {
        Credentials {
            pixel_id: "G-TEST123".into(),
            access_token: None,
            api_secret: Some("sec/ret+1".into()),
            test_event_code: None,
            settings: Default::default(),
        }
    }

    fn body(plan: &Plan, i: usize) -> Value {
        serde_json::from_str(plan.requests[i].request.body.as_ref().unwrap()).unwrap()
    }

    fn purchase() -> Value {
        json!({
            "event_id": "ord-1", "event_name": "purchase", "event_time": NOW - 30, "visitor_id": "v-123",
            "url": "https://shop.example/checkout/done", "referrer": "https://shop.example/cart",
            "user_data": {"email": "Ana.Lopez@Gmail.com", "phone": "+34 612 34 56 78", "first_name": "Ana",
                          "last_name": "Lopez", "external_id": "c-77"},
            "custom_data": {"value": 99.9, "currency": "EUR", "transaction_id": "o-1", "coupon": "SPRING",
                            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 49.95, "title": "Mug"}]},
            "click_ids": {"ga_client_id": "GA1.1.111.222"}
        })
    }

    #[test]
    fn golden_purchase_request() {
        let plan = Ga4.plan(
            &PlatformConfig::default(),
            &creds(),
            &[full(purchase())],
            NOW,
        );
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.requests[0].events, vec![0]);
        let req = &plan.requests[0].request;
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.url,
            "https://www.google-analytics.com/mp/collect?measurement_id=G-TEST123&api_secret=sec%2Fret%2B1"
        );
        assert_eq!(
            req.header_pairs(),
            vec![("content-type", "application/json")]
        );
        assert_eq!(
            body(&plan, 0),
            json!({
                "client_id": "111.222",
                "user_id": sha256_hex("c-77"),
                "timestamp_micros": (NOW - 30) * 1_000_000,
                "consent": {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"},
                "user_data": {
                    "sha256_email_address": [sha256_hex("analopez@gmail.com")],
                    "sha256_phone_number": [sha256_hex("+34612345678")],
                    "address": [{"sha256_first_name": sha256_hex("ana"), "sha256_last_name": sha256_hex("lopez")}]
                },
                "events": [{
                    "name": "purchase",
                    "params": {
                        "page_location": "https://shop.example/checkout/done",
                        "page_referrer": "https://shop.example/cart",
                        "engagement_time_msec": 1,
                        "currency": "EUR",
                        "value": 99.9,
                        "transaction_id": "o-1",
                        "items": [{"item_id": "sku-1", "item_name": "Mug", "quantity": 2, "price": 49.95}],
                        "coupon": "SPRING"
                    }
                }]
            })
        );
    }

    #[test]
    fn golden_lead_request_without_ga_cookie_and_without_marketing_consent() {
        let lead = json!({
            "event_id": "lead-7", "event_name": "lead", "event_time": NOW - 5, "visitor_id": "v-9",
            "url": "https://b2b.example/contact?utm_source=x",
            "user_data": {"email": "ops@b2b.example"},
            "custom_data": {"form": "demo", "value": 50, "currency": "usd"}
        });
        let plan = Ga4.plan(
            &PlatformConfig::default(),
            &creds(),
            &[delivery(lead, DeliveryMode::Full, ANALYTICS_ONLY)],
            NOW,
        );
        assert_eq!(plan.requests.len(), 1);
        // sha256("v-9") starts 59405bc2 4d0cb461: its first two 32-bit words, in decimal
        let expected_client = "1497390018.1292678241";
        assert_eq!(
            body(&plan, 0),
            json!({
                "client_id": expected_client,
                "timestamp_micros": (NOW - 5) * 1_000_000,
                "consent": {"ad_user_data": "DENIED", "ad_personalization": "DENIED"},
                "user_data": {"sha256_email_address": [sha256_hex("ops@b2b.example")]},
                "events": [{
                    "name": "generate_lead",
                    "params": {
                        "page_location": "https://b2b.example/contact?utm_source=x",
                        "engagement_time_msec": 1,
                        "currency": "USD",
                        "value": 50.0,
                        "form": "demo"
                    }
                }]
            })
        );
        // the same visitor always maps to the same client
        assert_eq!(derived_client_id("v-9"), expected_client);
        assert_ne!(derived_client_id("v-10"), expected_client);
    }

    #[test]
    fn golden_page_view_request() {
        let pv = json!({"event_id": "pv-1", "event_name": "page_view", "event_time": NOW,
                        "url": "https://blog.example/post/1", "referrer": "https://news.example/"});
        let plan = Ga4.plan(&PlatformConfig::default(), &creds(), &[full(pv)], NOW);
        assert_eq!(
            body(&plan, 0),
            json!({
                "client_id": derived_client_id("pv-1"),
                "timestamp_micros": NOW * 1_000_000,
                "consent": {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"},
                "events": [{
                    "name": "page_view",
                    "params": {
                        "page_location": "https://blog.example/post/1",
                        "page_referrer": "https://news.example/",
                        "engagement_time_msec": 1
                    }
                }]
            })
        );
    }

    #[test]
    fn limited_mode_sends_no_user_id_nor_user_data() {
        let plan = Ga4.plan(
            &PlatformConfig::default(),
            &creds(),
            &[delivery(purchase(), DeliveryMode::Limited, ANALYTICS_ONLY)],
            NOW,
        );
        let b = body(&plan, 0);
        assert_eq!(b.get("user_id"), None);
        assert_eq!(b.get("user_data"), None);
        assert_eq!(b["client_id"], "111.222");
        assert_eq!(
            b["consent"],
            json!({"ad_user_data": "DENIED", "ad_personalization": "DENIED"})
        );
        assert_eq!(b["events"][0]["params"]["transaction_id"], "o-1");
    }

    #[test]
    fn one_request_per_client_and_identity_at_most_25_events() {
        let mut evs = Vec::new();
        for i in 0..60 {
            evs.push(full(
                json!({"event_id": format!("a{i}"), "event_name": "page_view", "visitor_id": "va",
                                 "event_time": NOW - 100 + i}),
            ));
        }
        evs.push(full(
            json!({"event_id": "b0", "event_name": "page_view", "visitor_id": "vb"}),
        ));
        // same visitor, but with an email: user_data is request-level, so it gets its own request
        evs.push(full(
            json!({"event_id": "a-lead", "event_name": "lead", "visitor_id": "va",
                             "user_data": {"email": "a@x.example"}}),
        ));
        let plan = Ga4.plan(&PlatformConfig::default(), &creds(), &evs, NOW);
        let sizes: Vec<usize> = plan.requests.iter().map(|r| r.events.len()).collect();
        assert_eq!(sizes, vec![25, 25, 10, 1, 1]);
        assert_eq!(plan.requests[2].events, (50..60).collect::<Vec<_>>());
        assert_eq!(plan.requests[3].events, vec![60]);
        assert_eq!(plan.requests[4].events, vec![61]);
        let first = body(&plan, 0);
        assert_eq!(first["client_id"], json!(derived_client_id("va")));
        assert_eq!(first["timestamp_micros"], json!((NOW - 100) * 1_000_000));
        // the first event sits at the request's time; later ones carry their own
        assert_eq!(first["events"][0].get("timestamp_micros"), None);
        assert_eq!(
            first["events"][1]["timestamp_micros"],
            json!((NOW - 99) * 1_000_000)
        );
        assert_eq!(body(&plan, 3)["client_id"], json!(derived_client_id("vb")));
        assert_eq!(
            body(&plan, 4)["user_data"]["sha256_email_address"],
            json!([sha256_hex("a@x.example")])
        );
        assert_eq!(Ga4.max_batch(), 25);
    }

    #[test]
    fn events_older_than_72_hours_are_skipped() {
        let mut old = purchase();
        old["event_time"] = json!(NOW - 73 * 3600);
        let mut recent = purchase();
        recent["event_time"] = json!(NOW - 71 * 3600);
        let plan = Ga4.plan(
            &PlatformConfig::default(),
            &creds(),
            &[full(old), full(recent)],
            NOW,
        );
        assert!(plan.rejected.is_empty());
        assert_eq!(plan.skipped.len(), 1);
        assert_eq!(plan.skipped[0].0, 0);
        assert!(
            plan.skipped[0].1.contains("72 hours"),
            "{}",
            plan.skipped[0].1
        );
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.requests[0].events, vec![1]);
    }

    #[test]
    fn custom_event_names_follow_ga4_rules() {
        let names = [
            "quiz_done",
            "first_visit",
            "google_signal",
            "ga_custom",
            "firebase_x",
            "_hidden",
        ];
        let evs: Vec<DeliveryEvent> = names
            .iter()
            .map(|n| full(json!({"event_name": n, "visitor_id": "v"})))
            .collect();
        let plan = Ga4.plan(&PlatformConfig::default(), &creds(), &evs, NOW);
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.requests[0].events, vec![0]);
        assert_eq!(body(&plan, 0)["events"][0]["name"], "quiz_done");
        let reasons: Vec<(usize, &str)> = plan
            .rejected
            .iter()
            .map(|(i, r)| (*i, r.as_str()))
            .collect();
        assert_eq!(reasons.len(), 5);
        assert_eq!(
            reasons[0],
            (1, "\"first_visit\" is a reserved GA4 event name")
        );
        assert_eq!(
            reasons[1],
            (
                2,
                "GA4 event names may not start with the reserved prefix \"google_\""
            )
        );
        assert_eq!(
            reasons[2],
            (
                3,
                "GA4 event names may not start with the reserved prefix \"ga_\""
            )
        );
        assert_eq!(
            reasons[3],
            (
                4,
                "GA4 event names may not start with the reserved prefix \"firebase_\""
            )
        );
        assert_eq!(
            reasons[4],
            (
                5,
                "GA4 event names must start with a letter; \"_hidden\" does not"
            )
        );
        assert!(event_name_problem(&"a".repeat(41)).is_some());
        assert_eq!(event_name_problem(&"a".repeat(40)), None);
    }

    #[test]
    fn params_are_capped_named_and_truncated_by_ga4_rules() {
        let mut custom = Map::new();
        for i in 0..30 {
            custom.insert(format!("p{i:02}"), json!(i));
        }
        custom.insert("a_long".into(), json!("x".repeat(150)));
        custom.insert("ga_session_number".into(), json!(3));
        custom.insert("my-key".into(), json!("bad name"));
        custom.insert("flag".into(), json!(true));
        custom.insert("tags".into(), json!(["a", "b"]));
        let long_url = format!("https://shop.example/{}", "p".repeat(1200));
        let ev = full(
            json!({"event_name": "view_content", "visitor_id": "v", "url": long_url,
                             "custom_data": Value::Object(custom)}),
        );
        let plan = Ga4.plan(&PlatformConfig::default(), &creds(), &[ev], NOW);
        let params = body(&plan, 0)["events"][0]["params"]
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(params.len(), 25);
        assert_eq!(
            params["page_location"].as_str().unwrap().chars().count(),
            1000
        );
        assert_eq!(params["a_long"], json!("x".repeat(100)));
        assert_eq!(params["flag"], json!("true"));
        assert_eq!(params["engagement_time_msec"], json!(1));
        for dropped in ["ga_session_number", "my-key", "tags"] {
            assert!(!params.contains_key(dropped), "{dropped} must be dropped");
        }
        // 4 kept before the p-series (page_location, engagement_time_msec, a_long, flag): p00..p20 fill the rest
        assert!(params.contains_key("p20"));
        assert!(!params.contains_key("p21"));
    }

    #[test]
    fn missing_api_secret_rejects_everything() {
        let mut c = creds();
        c.api_secret = None;
        let plan = Ga4.plan(
            &PlatformConfig::default(),
            &c,
            &[full(purchase()), full(purchase())],
            NOW,
        );
        assert!(plan.requests.is_empty());
        assert_eq!(plan.rejected.len(), 2);
        assert!(plan.rejected[1].1.contains("api_secret"));
        assert!(Ga4
            .plan_verify(&PlatformConfig::default(), &c, NOW)
            .is_err());
    }

    fn resp(status: u16, retry_after: Option<&str>, body: &str) -> InboundResponse {
        InboundResponse {
            status,
            retry_after: retry_after.map(str::to_string),
            body: body.into(),
        }
    }

    #[test]
    fn classifies_ga4_answers() {
        assert!(matches!(
            Ga4.classify(&resp(204, None, "")),
            Outcome::Delivered { trace_id: None, .. }
        ));
        assert!(matches!(
            Ga4.classify(&resp(200, None, "")),
            Outcome::Delivered { .. }
        ));
        assert_eq!(
            Ga4.classify(&resp(429, Some("30"), "Too Many Requests")),
            Outcome::RateLimited {
                reason: "GA4 HTTP 429: Too Many Requests".into(),
                retry_after_secs: Some(30),
                trace_id: None
            }
        );
        assert_eq!(
            Ga4.classify(&resp(503, None, "<html>Service Unavailable</html>")),
            Outcome::Retryable {
                reason: "GA4 HTTP 503: <html>Service Unavailable</html>".into(),
                trace_id: None
            }
        );
        assert_eq!(
            Ga4.classify(&InboundResponse::no_answer("timed out")),
            Outcome::Retryable {
                reason: "GA4 not reached: timed out".into(),
                trace_id: None
            }
        );
        assert!(matches!(
            Ga4.classify(&resp(400, None, "bad")),
            Outcome::Permanent { .. }
        ));
        assert!(matches!(
            Ga4.classify(&resp(403, None, "forbidden")),
            Outcome::PixelRefused { .. }
        ));
    }

    #[test]
    fn verify_posts_a_test_page_view_to_the_validation_server() {
        let req = Ga4
            .plan_verify(&PlatformConfig::default(), &creds(), NOW)
            .unwrap();
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.url,
            "https://www.google-analytics.com/debug/mp/collect?measurement_id=G-TEST123&api_secret=sec%2Fret%2B1"
        );
        let b: Value = serde_json::from_str(req.body.as_ref().unwrap()).unwrap();
        assert_eq!(b["validation_behavior"], "ENFORCE_RECOMMENDATIONS");
        assert_eq!(b["client_id"], json!(derived_client_id("pixelgate-verify")));
        assert_eq!(b["timestamp_micros"], json!(NOW * 1_000_000));
        assert_eq!(
            b["events"],
            json!([{"name": "page_view", "params": {
            "page_location": "https://pixelgate.invalid/verify", "engagement_time_msec": 1}}])
        );
    }

    #[test]
    fn reads_validation_messages() {
        let body = r#"{"validationMessages":[{"fieldPath":"events","description":"Event at index: [0] has invalid name [_badEventName]. Names must start with an alphabetic character.","validationCode":"NAME_INVALID"},{"fieldPath":"","description":"Unable to parse Measurement Protocol JSON payload.","validationCode":"VALUE_INVALID"}]}"#;
        assert_eq!(
            validation_messages(body),
            vec![
                "events: Event at index: [0] has invalid name [_badEventName]. Names must start with an alphabetic character. (NAME_INVALID)".to_string(),
                "Unable to parse Measurement Protocol JSON payload. (VALUE_INVALID)".to_string(),
            ]
        );
        assert!(validation_messages(r#"{"validationMessages":[]}"#).is_empty());
        assert_eq!(
            validation_messages("<html>"),
            vec!["unreadable validation answer: <html>".to_string()]
        );
    }
}
