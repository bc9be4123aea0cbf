//! TikTok Events API 2.0: POST {tiktok_api_base}/open_api/v1.3/event/track/.
//!
//! Rules followed (TikTok Business API "Events API 2.0", "Supported standard events", Business API
//! return codes):
//! - the token travels in the `Access-Token` header; the body is
//!   `{event_source:"web", event_source_id:<pixel code>, test_event_code?, data:[…]}` with at most
//!   1000 events in `data`.
//! - each event is `{event, event_time (unix seconds), event_id, user, page, properties}`;
//!   `event_id` is what TikTok de-duplicates against the browser pixel.
//! - event names are TikTok's own event codes, also where another spelling would be expected:
//!   sign-ups are `CompleteRegistration` (TikTok has no "Registration") and page views are
//!   `Pageview`, the name the TikTok pixel itself reports for a page (not "PageView"). Lead →
//!   `SubmitForm`, purchase → `PlaceAnOrder`, add_to_cart → `AddToCart`, contact → `Contact`,
//!   schedule → `Schedule`, view_content → `ViewContent`. Custom events keep their own name
//!   (reporting and audiences only; TikTok does not optimize on them).
//! - `user.email`, `user.phone` and `user.external_id` are SHA-256 hex of normalized values; the
//!   phone is hashed in E.164 form with the '+' (the `ph_e164` hash, not Meta's digits-only one).
//!   `ttclid`, `ttp` (the `_ttp` cookie), `ip` and `user_agent` are sent unhashed. Names and address
//!   fields are not sent.
//! - `properties` carries `value`, `currency`, `contents` ([{content_id, quantity, price,
//!   content_name, content_category, brand}], from custom_data contents or content_ids),
//!   `content_type:"product"` when there are contents, `order_id`, `query` and `description`.
//! - limited-data mode: no identifier at all (no email, phone, external id, click ids or IP) and
//!   the event's `limited_data_use` flag set.
//! - events older than 7 days are rejected here, with the reason. (The 7-day window is the one the
//!   gateway applies to web events for TikTok as for Meta; TikTok's own documentation of the window
//!   could not be confirmed, so offline conversions keep it too.)
//! - offline and CRM conversions (`core::conversion`) go in requests of their own with
//!   `event_source:"offline"` and `event_source_id` the pixel's offline event set
//!   (`settings.offline_event_set_id`): TikTok takes offline events only into an offline event
//!   set, never a web pixel; a conversion for a pixel without one is rejected with the reason.
//!   TikTok's `crm` event source is for its own Instant Form leads (a TikTok lead id), which a
//!   conversion does not carry.
//! - TikTok answers HTTP 200 for errors too: `{"code":0,"message":"OK","request_id":…}` is success,
//!   any other code is an error. 40100 is the rate limit (QPS/QPM/QPD exceeded); 40001 (no
//!   permission), 40104 and 40105 (access token missing, invalid or revoked) refuse the pixel
//!   itself, whose deliveries then pause; other 40xxx codes are request problems (40002 invalid
//!   parameters, …) and permanent; 5xxxx codes are TikTok-side errors
//!   worth a retry; an unknown code is permanent, with TikTok's message. `request_id` is the trace
//!   id.
//! - test events: with `test_event_code` set, events appear under Test Events in Events Manager
//!   and are not used for ads. Without one there is no safe test call, so verify asks for one.

use serde_json::{json, Map, Value};

use super::{
    snippet, Credentials, DeliveryEvent, Destination, Plan, PlannedRequest, PlatformConfig,
};
use crate::core::consent::DeliveryMode;
use crate::core::jsonmap::pick;
use crate::core::outbound::{InboundResponse, JsonObject, OutboundRequest};
use crate::core::platform::Platform;
use crate::core::retry::{classify_status, parse_retry_after, Outcome};

pub struct Tiktok;

pub const MAX_EVENTS_PER_REQUEST: usize = 1000;
pub const MAX_EVENT_AGE_SECS: i64 = 7 * 24 * 3600;
pub const RATE_LIMIT_CODE: i64 = 40100;
const NO_TOKEN: &str = "the TikTok pixel has no access_token";
const NO_OFFLINE_SET: &str = "TikTok takes offline and CRM conversions only into an offline event set: set the pixel's settings.offline_event_set_id";

/// TikTok's event code for a canonical event.
pub fn event_code(ev: &DeliveryEvent) -> &str {
    let e = &ev.event;
    e.event_name
        .for_platform(Platform::Tiktok)
        .or(e.custom_name.as_deref())
        .unwrap_or("CustomEvent")
}

impl Tiktok {
    fn write_event(&self, o: &mut JsonObject, ev: &DeliveryEvent) {
        let e = &ev.event;
        o.string("event", event_code(ev))
            .int("event_time", e.event_time)
            .string("event_id", &e.event_id);
        o.object_always("user", |user| {
            if let Some((u, c)) = ev.identifiers() {
                user.hash("email", u.em.as_ref())
                    .hash("phone", u.ph_e164.as_ref())
                    .hash("external_id", u.external_id.as_ref())
                    .opt_string("ttclid", c.ttclid.as_deref())
                    .opt_string("ttp", c.ttp.as_deref());
            }
            user.opt_string("ip", ev.client_ip())
                .opt_string("user_agent", ev.user_agent());
        });
        o.object("page", |page| {
            page.opt_string("url", ev.page_url())
                .opt_string("referrer", ev.referrer_url());
        });
        o.object("properties", |p| write_properties(p, &e.custom_data));
        if ev.mode == DeliveryMode::Limited {
            o.bool("limited_data_use", true);
        }
    }

    fn too_old(&self, ev: &DeliveryEvent, now: i64) -> Option<String> {
        (ev.event.event_time < now - MAX_EVENT_AGE_SECS)
            .then(|| "event_time is older than 7 days; TikTok events are sent within 7 days".into())
    }

    fn reject_reason(&self, ev: &DeliveryEvent, creds: &Credentials) -> Option<String> {
        if ev.event.conversion.is_some() && creds.settings.offline_event_set_id.is_none() {
            return Some(NO_OFFLINE_SET.into());
        }
        None
    }

    /// `{event_source, event_source_id, test_event_code?, data}` with `data` written by
    /// `write_data`: the web pixel, or (`offline`) the pixel's offline event set.
    fn body(
        &self,
        creds: &Credentials,
        offline: bool,
        write_data: impl FnOnce(&mut JsonObject),
    ) -> String {
        let mut body = String::with_capacity(1024);
        let mut o = JsonObject::new(&mut body);
        let (source, source_id) = match (offline, &creds.settings.offline_event_set_id) {
            (true, Some(set)) => ("offline", set.as_str()),
            _ => ("web", creds.pixel_id.as_str()),
        };
        o.string("event_source", source)
            .string("event_source_id", source_id)
            .opt_string("test_event_code", creds.test_event_code.as_deref());
        write_data(&mut o);
        o.end();
        body
    }

    fn request(&self, cfg: &PlatformConfig, body: String, token: &str) -> OutboundRequest {
        // concat, not format!: one exact allocation without the fmt machinery, per request.
        let url = [
            cfg.tiktok_api_base.trim_end_matches('/'),
            "/open_api/v1.3/event/track/",
        ]
        .concat();
        OutboundRequest::post_json(url, body).with_header("access-token", token.to_string())
    }
}

/// custom_data keys TikTok's `properties` carry.
const PROPERTY_KEYS: [&str; 9] = [
    "value",
    "currency",
    "contents",
    "content_ids",
    "content_type",
    "order_id",
    "transaction_id",
    "query",
    "description",
];

/// A content item's keys (custom_data `contents`) and TikTok's names for them, in the order they
/// are written.
const CONTENT_KEYS: [&str; 6] = ["id", "quantity", "item_price", "title", "category", "brand"];
const CONTENT_FIELDS: [&str; 6] = [
    "content_id",
    "quantity",
    "price",
    "content_name",
    "content_category",
    "brand",
];

fn write_properties(o: &mut JsonObject, c: &Map<String, Value>) {
    let [value, currency, contents, content_ids, content_type, order_id, transaction_id, query, description] =
        pick(c, &PROPERTY_KEYS);
    if let Some(v) = value {
        o.value("value", v);
    }
    if let Some(v) = currency {
        o.value("currency", v);
    }
    let mut has_contents = false;
    if let Some(Value::Array(items)) = contents {
        let mut items = items.iter().filter_map(Value::as_object).peekable();
        has_contents = items.peek().is_some();
        if has_contents {
            o.objects("contents", items, |out, item| {
                for (field, v) in CONTENT_FIELDS.iter().zip(pick(item, &CONTENT_KEYS)) {
                    if let Some(v) = v {
                        out.value(field, v);
                    }
                }
            });
        }
    } else if let Some(Value::Array(ids)) = content_ids {
        has_contents = !ids.is_empty();
        if has_contents {
            o.objects("contents", ids, |out, id| {
                out.value("content_id", id);
            });
        }
    }
    if has_contents {
        match content_type {
            Some(kind) => o.value("content_type", kind),
            None => o.string("content_type", "product"),
        };
    }
    if let Some(v) = order_id.or(transaction_id) {
        o.value("order_id", v);
    }
    for (key, v) in [("query", query), ("description", description)] {
        if let Some(v) = v {
            o.value(key, v);
        }
    }
}

impl Destination for Tiktok {
    fn platform(&self) -> Platform {
        Platform::Tiktok
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
        let Some(token) = creds.access_token.as_deref() else {
            return Plan::reject_all(events.len(), NO_TOKEN);
        };
        let mut plan = Plan::default();
        let sendable = plan.screen_window(
            events,
            |ev| self.too_old(ev, now),
            |ev| self.reject_reason(ev, creds),
        );
        // Web events and offline conversions go to different event sources: separate requests.
        let (offline, web): (Vec<usize>, Vec<usize>) = sendable
            .into_iter()
            .partition(|&i| events[i].event.conversion.is_some());
        for (group, is_offline) in [(web, false), (offline, true)] {
            for chunk in group.chunks(MAX_EVENTS_PER_REQUEST) {
                let body = self.body(creds, is_offline, |o| {
                    o.objects("data", chunk, |item, &i| self.write_event(item, &events[i]));
                });
                plan.requests.push(PlannedRequest {
                    request: self.request(cfg, body, token),
                    events: chunk.to_vec(),
                });
            }
        }
        plan
    }

    fn classify(&self, r: &InboundResponse) -> Outcome {
        let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
        let code = parsed
            .as_ref()
            .and_then(|v| v.get("code"))
            .and_then(Value::as_i64);
        let trace = parsed
            .as_ref()
            .and_then(|v| v.get("request_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(code) = code else {
            // No TikTok envelope (a proxy's page, a timeout): the HTTP status is all there is.
            let reason = if r.status == 0 {
                format!("TikTok not reached: {}", snippet(&r.body))
            } else {
                format!("TikTok HTTP {}: {}", r.status, snippet(&r.body))
            };
            let mut o = classify_status(r.status, r.retry_after.as_deref(), reason);
            if let Outcome::Delivered { detail, .. } = &mut o {
                *detail = Some(format!("HTTP {} without a TikTok code", r.status));
            }
            return o;
        };
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("no message");
        if code == 0 && (200..300).contains(&r.status) {
            return Outcome::Delivered {
                trace_id: trace,
                detail: None,
            };
        }
        let reason = format!("TikTok error {code}: {}", snippet(message));
        if code == RATE_LIMIT_CODE || r.status == 429 {
            Outcome::RateLimited {
                reason,
                retry_after_secs: parse_retry_after(r.retry_after.as_deref()),
                trace_id: trace,
            }
        } else if (50000..60000).contains(&code) || r.status >= 500 {
            Outcome::Retryable {
                reason,
                trace_id: trace,
            }
        } else if matches!(code, 40001 | 40104 | 40105) || matches!(r.status, 401 | 403) {
            // No permission on the pixel, or an access token missing, invalid or revoked: every
            // event to this pixel would fail alike until its credentials change.
            Outcome::PixelRefused {
                reason,
                trace_id: trace,
            }
        } else {
            Outcome::Permanent {
                reason,
                trace_id: trace,
            }
        }
    }

    fn plan_verify(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        now: i64,
    ) -> Result<OutboundRequest, String> {
        let token = creds.access_token.as_deref().ok_or(NO_TOKEN)?;
        if creds.test_event_code.is_none() {
            return Err("TikTok has no dry-run call: set the pixel's test_event_code (Events Manager → Test Events) so verify can send a test event that is not used for ads".into());
        }
        let data = vec![json!({
            "event": "Pageview",
            "event_time": now,
            "event_id": format!("pixelgate-verify-{now}"),
            "user": {"user_agent": "pixelgate-verify/1.0"},
            "page": {"url": "https://pixelgate.invalid/verify"},
        })];
        let body = self.body(creds, false, |o| {
            o.value("data", &Value::Array(data));
        });
        Ok(self.request(cfg, body, token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::outbound::Method;

    use crate::core::calendar::SECS_PER_DAY as DAY;
    use crate::core::destinations::testing::{delivery, NOW};

    fn full(v: Value) -> DeliveryEvent {
        delivery(v, DeliveryMode::Full)
    }

    fn creds() -> Credentials {
        Credentials {
            pixel_id: "CABC123DEF".into(),
            access_token: Some("tt-token".into()),
            api_secret: None,
            test_event_code: Some("TEST42".into()),
            settings: Default::default(),
        }
    }

    fn body(plan: &Plan, i: usize) -> Value {
        serde_json::from_str(plan.requests[i].request.body.as_ref().unwrap()).unwrap()
    }

    fn purchase() -> Value {
        json!({
            "event_id": "ord-1", "event_name": "purchase", "event_time": NOW - 30,
            "url": "https://shop.example/checkout/done", "referrer": "https://shop.example/cart",
            "user_data": {"email": " Ana@Example.com ", "phone": "+34 612 34 56 78", "first_name": "Ana",
                          "external_id": "c-77"},
            "custom_data": {"value": 99.9, "currency": "EUR", "transaction_id": "o-1",
                            "contents": [{"id": "sku-1", "quantity": 2, "item_price": 49.95, "title": "Mug"}]},
            "click_ids": {"ttclid": "E.C.P.abc123", "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH"}
        })
    }

    #[test]
    fn offline_conversions_go_to_the_offline_event_set() {
        use crate::core::conversion::testing::conversion;
        let sale = conversion(
            json!({"conversion_id": "store-1", "name": "purchase", "happened_at": NOW - 3 * DAY,
                   "value": 20, "currency": "EUR", "source": "physical_store",
                   "user_data": {"phone": "+34 612 34 56 78"}, "click_ids": {"ttclid": "E.C.P.x"}}),
            DeliveryMode::Full,
        );
        let web = full(purchase());
        let mut c = creds();
        let plan = Tiktok.plan(
            &PlatformConfig::default(),
            &c,
            &[web.clone(), sale.clone()],
            NOW,
        );
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.rejected, vec![(1, NO_OFFLINE_SET.to_string())]);
        c.settings.offline_event_set_id = Some("7301234567890".into());
        let plan = Tiktok.plan(&PlatformConfig::default(), &c, &[web, sale], NOW);
        assert_eq!(plan.requests.len(), 2, "one request per event source");
        assert_eq!(body(&plan, 0)["event_source"], "web");
        let offline = body(&plan, 1);
        assert_eq!(offline["event_source"], "offline");
        assert_eq!(offline["event_source_id"], "7301234567890");
        assert_eq!(plan.requests[1].events, vec![1]);
        let ev = &offline["data"][0];
        assert_eq!(ev["event"], "PlaceAnOrder");
        assert_eq!(ev["event_id"], "store-1");
        assert_eq!(ev["user"]["phone"], sha256_hex("+34612345678"));
        assert_eq!(ev["user"]["ttclid"], "E.C.P.x");
        assert_eq!(ev["properties"], json!({"value": 20.0, "currency": "EUR"}));
    }

    #[test]
    fn golden_purchase_request() {
        let plan = Tiktok.plan(
            &PlatformConfig::default(),
            &creds(),
            &[full(purchase())],
            NOW,
        );
        assert!(plan.rejected.is_empty());
        assert_eq!(plan.requests.len(), 1);
        let req = &plan.requests[0].request;
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.url,
            "https://business-api.tiktok.com/open_api/v1.3/event/track/"
        );
        assert_eq!(
            req.header_pairs(),
            vec![
                ("content-type", "application/json"),
                ("access-token", "tt-token")
            ]
        );
        assert!(
            !req.body.as_ref().unwrap().contains("tt-token"),
            "token only in the header"
        );
        assert_eq!(
            body(&plan, 0),
            json!({
                "event_source": "web",
                "event_source_id": "CABC123DEF",
                "test_event_code": "TEST42",
                "data": [{
                    "event": "PlaceAnOrder",
                    "event_time": NOW - 30,
                    "event_id": "ord-1",
                    "user": {
                        "email": sha256_hex("ana@example.com"),
                        "phone": sha256_hex("+34612345678"),
                        "external_id": sha256_hex("c-77"),
                        "ttclid": "E.C.P.abc123",
                        "ttp": "2F7h37YkS1j57AYSKTI7IHhJPYH",
                        "ip": "198.51.100.4",
                        "user_agent": "Mozilla/5.0 (X11)"
                    },
                    "page": {"url": "https://shop.example/checkout/done", "referrer": "https://shop.example/cart"},
                    "properties": {
                        "value": 99.9,
                        "currency": "EUR",
                        "contents": [{"content_id": "sku-1", "quantity": 2, "price": 49.95, "content_name": "Mug"}],
                        "content_type": "product",
                        "order_id": "o-1"
                    }
                }]
            })
        );
    }

    #[test]
    fn golden_lead_request() {
        let lead = json!({"event_id": "lead-7", "event_name": "lead", "event_time": NOW - 5,
                          "url": "https://b2b.example/contact", "user_data": {"email": "ops@b2b.example"},
                          "custom_data": {"description": "demo request"}});
        let mut c = creds();
        c.test_event_code = None;
        let plan = Tiktok.plan(&PlatformConfig::default(), &c, &[full(lead)], NOW);
        assert_eq!(
            body(&plan, 0),
            json!({
                "event_source": "web",
                "event_source_id": "CABC123DEF",
                "data": [{
                    "event": "SubmitForm",
                    "event_time": NOW - 5,
                    "event_id": "lead-7",
                    "user": {
                        "email": sha256_hex("ops@b2b.example"),
                        "ip": "198.51.100.4",
                        "user_agent": "Mozilla/5.0 (X11)"
                    },
                    "page": {"url": "https://b2b.example/contact"},
                    "properties": {"description": "demo request"}
                }]
            })
        );
    }

    #[test]
    fn golden_page_view_request() {
        let pv = json!({"event_id": "pv-1", "event_name": "page_view", "event_time": NOW,
                        "url": "https://shop.example/p/sku-9", "custom_data": {"content_ids": ["sku-9"]}});
        let plan = Tiktok.plan(&PlatformConfig::default(), &creds(), &[full(pv)], NOW);
        assert_eq!(
            body(&plan, 0)["data"],
            json!([{
                "event": "Pageview",
                "event_time": NOW,
                "event_id": "pv-1",
                "user": {"ip": "198.51.100.4", "user_agent": "Mozilla/5.0 (X11)"},
                "page": {"url": "https://shop.example/p/sku-9"},
                "properties": {"contents": [{"content_id": "sku-9"}], "content_type": "product"}
            }])
        );
    }

    #[test]
    fn event_codes_follow_tiktok_names() {
        let cases = [
            ("page_view", "Pageview"),
            ("lead", "SubmitForm"),
            ("signup", "CompleteRegistration"),
            ("add_to_cart", "AddToCart"),
            ("purchase", "PlaceAnOrder"),
            ("contact", "Contact"),
            ("schedule", "Schedule"),
            ("view_content", "ViewContent"),
            ("quiz_done", "quiz_done"),
        ];
        for (ours, theirs) in cases {
            assert_eq!(
                event_code(&full(json!({ "event_name": ours }))),
                theirs,
                "{ours}"
            );
        }
    }

    #[test]
    fn limited_mode_sends_no_identifier_and_flags_ldu() {
        let plan = Tiktok.plan(
            &PlatformConfig::default(),
            &creds(),
            &[delivery(
                {
                    let mut p = purchase();
                    p["url"] = json!("https://shop.example/checkout/done?ttclid=E.C.P.x");
                    p["referrer"] = json!("https://shop.example/cart#top");
                    p
                },
                DeliveryMode::Limited,
            )],
            NOW,
        );
        let ev = &body(&plan, 0)["data"][0];
        assert_eq!(
            ev["user"],
            json!({}),
            "no identifier, address or user agent"
        );
        assert_eq!(
            ev["page"],
            json!({"url": "https://shop.example/checkout/done", "referrer": "https://shop.example/cart"})
        );
        assert_eq!(ev["limited_data_use"], json!(true));
        assert_eq!(ev["properties"]["order_id"], "o-1");
        let full_plan = Tiktok.plan(
            &PlatformConfig::default(),
            &creds(),
            &[full(purchase())],
            NOW,
        );
        assert_eq!(body(&full_plan, 0)["data"][0].get("limited_data_use"), None);
    }

    #[test]
    fn batches_at_most_1000_events_and_rejects_old_ones() {
        let mut evs: Vec<DeliveryEvent> = (0..2500)
            .map(|i| {
                let mut v = purchase();
                v["event_id"] = json!(format!("e{i}"));
                full(v)
            })
            .collect();
        let mut old = purchase();
        old["event_time"] = json!(NOW - 8 * DAY);
        evs.insert(3, full(old));
        let mut six_days = purchase();
        six_days["event_time"] = json!(NOW - 6 * DAY);
        evs.push(full(six_days));
        let plan = Tiktok.plan(&PlatformConfig::default(), &creds(), &evs, NOW);
        let sizes: Vec<usize> = plan.requests.iter().map(|r| r.events.len()).collect();
        assert_eq!(sizes, vec![1000, 1000, 501]);
        assert_eq!(
            plan.skipped,
            vec![(
                3,
                "event_time is older than 7 days; TikTok events are sent within 7 days".to_string()
            )]
        );
        assert!(!plan.requests[0].events.contains(&3));
        assert_eq!(plan.requests[2].events.last(), Some(&2501));
        assert_eq!(body(&plan, 0)["data"].as_array().unwrap().len(), 1000);
        assert_eq!(Tiktok.max_batch(), 1000);
    }

    #[test]
    fn missing_token_rejects_everything() {
        let mut c = creds();
        c.access_token = None;
        let plan = Tiktok.plan(&PlatformConfig::default(), &c, &[full(purchase())], NOW);
        assert!(plan.requests.is_empty());
        assert_eq!(plan.rejected, vec![(0, NO_TOKEN.to_string())]);
    }

    fn resp(status: u16, body: &str) -> InboundResponse {
        InboundResponse {
            status,
            retry_after: None,
            body: body.into(),
        }
    }

    #[test]
    fn classifies_tiktok_answers_by_code_not_status() {
        let ok = r#"{"code":0,"message":"OK","request_id":"2025101012000001","data":{}}"#;
        assert_eq!(
            Tiktok.classify(&resp(200, ok)),
            Outcome::Delivered {
                trace_id: Some("2025101012000001".into()),
                detail: None
            }
        );
        let throttled = r#"{"code":40100,"message":"Too many requests. Please retry in some time.","request_id":"r-2"}"#;
        assert_eq!(
            Tiktok.classify(&resp(200, throttled)),
            Outcome::RateLimited {
                reason: "TikTok error 40100: Too many requests. Please retry in some time.".into(),
                retry_after_secs: None,
                trace_id: Some("r-2".into())
            }
        );
        let bad_param = r#"{"code":40002,"message":"data.0.event_time: Event time is required.","request_id":"r-3","data":{}}"#;
        assert_eq!(
            Tiktok.classify(&resp(200, bad_param)),
            Outcome::Permanent {
                reason: "TikTok error 40002: data.0.event_time: Event time is required.".into(),
                trace_id: Some("r-3".into())
            }
        );
        let no_permission = r#"{"code":40001,"message":"No permission to operate pixel CABC123DEF","request_id":"r-4"}"#;
        assert!(matches!(
            Tiktok.classify(&resp(200, no_permission)),
            Outcome::PixelRefused { .. }
        ));
        let bad_token = r#"{"code":40105,"message":"The access token is invalid or has been revoked.","request_id":"r-5"}"#;
        assert!(
            matches!(Tiktok.classify(&resp(200, bad_token)), Outcome::PixelRefused { reason, .. } if reason.starts_with("TikTok error 40105"))
        );
        let system = r#"{"code":50000,"message":"System error","request_id":"r-6"}"#;
        assert_eq!(
            Tiktok.classify(&resp(200, system)),
            Outcome::Retryable {
                reason: "TikTok error 50000: System error".into(),
                trace_id: Some("r-6".into())
            }
        );
        let busy = r#"{"code":50002,"message":"Service is busy, please try again later","request_id":"r-7"}"#;
        assert!(matches!(
            Tiktok.classify(&resp(200, busy)),
            Outcome::Retryable { .. }
        ));
        let unknown = r#"{"code":41234,"message":"Something new","request_id":"r-8"}"#;
        assert!(
            matches!(Tiktok.classify(&resp(200, unknown)), Outcome::Permanent { reason, .. } if reason.contains("Something new"))
        );
        // no TikTok envelope: the HTTP status decides
        assert!(matches!(
            Tiktok.classify(&resp(502, "<html>Bad Gateway</html>")),
            Outcome::Retryable { .. }
        ));
        let limited = InboundResponse {
            status: 429,
            retry_after: Some("12".into()),
            body: String::new(),
        };
        assert!(matches!(
            Tiktok.classify(&limited),
            Outcome::RateLimited {
                retry_after_secs: Some(12),
                ..
            }
        ));
        assert!(matches!(
            Tiktok.classify(&InboundResponse::no_answer("timed out")),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            Tiktok.classify(&resp(404, "not found")),
            Outcome::Permanent { .. }
        ));
    }

    #[test]
    fn verify_needs_a_test_event_code() {
        let req = Tiktok
            .plan_verify(&PlatformConfig::default(), &creds(), NOW)
            .unwrap();
        assert_eq!(
            req.url,
            "https://business-api.tiktok.com/open_api/v1.3/event/track/"
        );
        assert!(req.header_pairs().contains(&("access-token", "tt-token")));
        let b: Value = serde_json::from_str(req.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            b,
            json!({
                "event_source": "web",
                "event_source_id": "CABC123DEF",
                "test_event_code": "TEST42",
                "data": [{
                    "event": "Pageview",
                    "event_time": NOW,
                    "event_id": format!("pixelgate-verify-{NOW}"),
                    "user": {"user_agent": "pixelgate-verify/1.0"},
                    "page": {"url": "https://pixelgate.invalid/verify"}
                }]
            })
        );
        let mut c = creds();
        c.test_event_code = None;
        let err = Tiktok
            .plan_verify(&PlatformConfig::default(), &c, NOW)
            .unwrap_err();
        assert!(err.contains("test_event_code"), "{err}");
        c.access_token = None;
        assert_eq!(
            Tiktok.plan_verify(&PlatformConfig::default(), &c, NOW),
            Err(NO_TOKEN.to_string())
        );
    }
}
