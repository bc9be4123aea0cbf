//! Meta Conversions API: POST {graph}/{version}/{pixel_id}/events.
//!
//! Rules followed (Meta Conversions API reference, "Server Event Parameters" and "Handling
//! errors"):
//! - `data` holds at most 1000 events per request.
//! - `event_time` may be at most 7 days old and not in the future; Meta refuses the whole request
//!   otherwise, so such events are rejected here, with the reason, and never sent. The one
//!   exception is `physical_store`: store transactions may be uploaded within 62 days.
//! - `action_source` says where the event happened: `website` for the site's events (which need
//!   `event_source_url` and `client_user_agent`); for offline and CRM conversions
//!   (`core::conversion`) `physical_store`, `phone_call`, `other`, and `system_generated` for CRM
//!   stages, which (Conversion Leads integration) carry `custom_data.event_source: "crm"`,
//!   `custom_data.lead_event_source` (the CRM's name) and the Lead Ads `user_data.lead_id` when
//!   the lead came from Meta; their `event_name` is the CRM's own stage name.
//! - customer information is SHA-256 of normalized values, sent as arrays; `client_ip_address`,
//!   `client_user_agent`, `fbc` and `fbp` are sent unhashed.
//! - the access token travels in the body, never in the URL (URLs end up in logs).
//! - errors come as `{"error":{code, error_subcode, is_transient, message, fbtrace_id}}`: codes
//!   4, 17, 32, 613 and 80000–80014 are throttling; `is_transient` or codes 1/2 mean try again.

use serde_json::{json, Map, Value};

use super::{
    snippet, Credentials, DeliveryEvent, Destination, Plan, PlannedRequest, PlatformConfig,
};
use crate::core::consent::DeliveryMode;
use crate::core::event::{ConversionSource, Event};
use crate::core::outbound::{InboundResponse, JsonObject, Method, OutboundRequest};
use crate::core::platform::Platform;
use crate::core::retry::{classify_status, parse_retry_after, Outcome};

pub struct Meta;

pub const MAX_EVENTS_PER_REQUEST: usize = 1000;
pub const MAX_EVENT_AGE_SECS: i64 = 7 * 24 * 3600;
pub const MAX_STORE_EVENT_AGE_SECS: i64 = 62 * 24 * 3600;
/// `lead_event_source` when a CRM conversion does not name its CRM.
pub const DEFAULT_CRM_NAME: &str = "pixelgate";
/// Meta allows no future event times; a minute of slack absorbs clock differences.
const FUTURE_SLACK_SECS: i64 = 60;

impl Meta {
    fn write_event(&self, o: &mut JsonObject, ev: &DeliveryEvent) {
        let e = &ev.event;
        let name = e
            .event_name
            .for_platform(Platform::Meta)
            .or(e.custom_name.as_deref())
            .unwrap_or("Custom");
        let conversion = e.conversion.as_deref();
        o.string("event_name", name)
            .int("event_time", e.event_time)
            .string("event_id", &e.event_id)
            .string("action_source", action_source(e))
            .opt_string("event_source_url", ev.page_url())
            .opt_string("referrer_url", ev.referrer_url());
        o.object_always("user_data", |user| {
            if let Some((u, c)) = ev.identifiers() {
                user.hash_in_array("em", u.em.as_ref())
                    .hash_in_array("ph", u.ph.as_ref())
                    .hash_in_array("fn", u.first_name.as_ref())
                    .hash_in_array("ln", u.last_name.as_ref())
                    .hash_in_array("ct", u.city.as_ref())
                    .hash_in_array("st", u.state.as_ref())
                    .hash_in_array("zp", u.zip.as_ref())
                    .hash_in_array("country", u.country.as_ref())
                    .hash_in_array("db", u.dob.as_ref())
                    .hash_in_array("ge", u.gender.as_ref())
                    .hash_in_array("external_id", u.external_id.as_ref())
                    .opt_string("fbc", c.fbc.as_deref())
                    .opt_string("fbp", c.fbp.as_deref());
                // Meta's lead ids are numbers (int64), sent as such.
                if let Some(lead) = conversion.and_then(|c| c.meta_lead_id.as_deref()) {
                    user.raw("lead_id", lead);
                }
            }
            user.opt_string("client_ip_address", ev.client_ip())
                .opt_string("client_user_agent", ev.user_agent());
        });
        let crm = conversion.filter(|c| c.source == ConversionSource::Crm);
        if !e.custom_data.is_empty() || crm.is_some() {
            o.object_always("custom_data", |c| {
                write_custom_data(c, &e.custom_data);
                if let Some(crm) = crm {
                    c.string("event_source", "crm").string(
                        "lead_event_source",
                        crm.crm_name.as_deref().unwrap_or(DEFAULT_CRM_NAME),
                    );
                }
            });
        }
        if ev.mode == DeliveryMode::Limited {
            // Limited Data Use with geolocation left to Meta (country/state 0).
            o.raw("data_processing_options", "[\"LDU\"]")
                .int("data_processing_options_country", 0)
                .int("data_processing_options_state", 0);
        }
    }

    /// Outside the window of the event's `action_source`.
    fn too_old(&self, ev: &DeliveryEvent, now: i64) -> Option<String> {
        let e = &ev.event;
        let source = action_source(e);
        if source == "physical_store" {
            (e.event_time < now - MAX_STORE_EVENT_AGE_SECS).then(|| "event_time is older than 62 days; Meta only accepts physical_store events from the last 62 days".into())
        } else {
            (e.event_time < now - MAX_EVENT_AGE_SECS).then(|| {
                format!("event_time is older than 7 days; Meta only accepts {source} events from the last 7 days")
            })
        }
    }

    fn reject_reason(&self, ev: &DeliveryEvent, now: i64) -> Option<String> {
        let e = &ev.event;
        let source = action_source(e);
        if e.event_time > now + FUTURE_SLACK_SECS {
            return Some("event_time is in the future; Meta refuses future events".into());
        }
        if source != "website" {
            return None;
        }
        if ev.mode == DeliveryMode::Limited {
            return Some(
                "Meta requires client_user_agent for website events; limited-data mode sends none"
                    .into(),
            );
        }
        if e.client.user_agent.is_none() {
            return Some("client_user_agent is required by Meta for website events".into());
        }
        if e.url.is_none() {
            return Some("url (event_source_url) is required by Meta for website events".into());
        }
        None
    }

    /// `{data, test_event_code?, access_token}` with `data` written by `write_data`.
    fn body(
        &self,
        creds: &Credentials,
        token: &str,
        write_data: impl FnOnce(&mut JsonObject),
    ) -> String {
        // A full website event with customer information is ~1.5 KB.
        let mut body = String::with_capacity(2048);
        let mut o = JsonObject::new(&mut body);
        write_data(&mut o);
        o.opt_string("test_event_code", creds.test_event_code.as_deref())
            .string("access_token", token);
        o.end();
        body
    }

    fn events_url(&self, cfg: &PlatformConfig, creds: &Credentials) -> String {
        // concat, not format!: one exact allocation without the fmt machinery, per request.
        [
            cfg.meta_graph_base.trim_end_matches('/'),
            "/",
            &cfg.meta_api_version,
            "/",
            &creds.pixel_id,
            "/events",
        ]
        .concat()
    }
}

/// Meta's `action_source` for an event: the website's, or where a conversion happened.
fn action_source(e: &Event) -> &'static str {
    match e.conversion.as_deref().map(|c| c.source) {
        None => "website",
        Some(ConversionSource::Crm) => "system_generated",
        Some(ConversionSource::PhysicalStore) => "physical_store",
        Some(ConversionSource::PhoneCall) => "phone_call",
        Some(ConversionSource::Other) => "other",
    }
}

/// Known keys go through with Meta's names; other scalars are custom properties Meta accepts.
fn write_custom_data(o: &mut JsonObject, c: &Map<String, Value>) {
    for (k, v) in c {
        let key = match k.as_str() {
            "transaction_id" => "order_id",
            // The caller's transaction_id wins over an order_id of its own.
            "order_id" if c.contains_key("transaction_id") => continue,
            other => other,
        };
        o.value(key, v);
    }
    if c.contains_key("contents") && !c.contains_key("content_type") {
        o.string("content_type", "product");
    }
}

impl Destination for Meta {
    fn platform(&self) -> Platform {
        Platform::Meta
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
            return Plan::reject_all(events.len(), "the Meta pixel has no access_token");
        };
        let mut plan = Plan::default();
        let sendable = plan.screen_window(
            events,
            |ev| self.too_old(ev, now),
            |ev| self.reject_reason(ev, now),
        );
        for chunk in sendable.chunks(MAX_EVENTS_PER_REQUEST) {
            plan.requests.push(PlannedRequest {
                request: OutboundRequest::post_json(
                    self.events_url(cfg, creds),
                    self.body(creds, token, |o| {
                        o.objects("data", chunk, |item, &i| self.write_event(item, &events[i]));
                    }),
                ),
                events: chunk.to_vec(),
            });
        }
        plan
    }

    fn classify(&self, r: &InboundResponse) -> Outcome {
        let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let trace = parsed
            .as_ref()
            .and_then(|v| {
                v.get("fbtrace_id")
                    .or_else(|| v.get("error").and_then(|e| e.get("fbtrace_id")))
            })
            .and_then(Value::as_str)
            .map(str::to_string);
        if (200..300).contains(&r.status) && error.is_none() {
            let received = parsed
                .as_ref()
                .and_then(|v| v.get("events_received"))
                .and_then(Value::as_u64);
            return Outcome::Delivered {
                trace_id: trace,
                detail: received.map(|n| format!("events_received={n}")),
            };
        }
        let Some(err) = error else {
            let mut o = classify_status(
                r.status,
                r.retry_after.as_deref(),
                format!("HTTP {}: {}", r.status, snippet(&r.body)),
            );
            set_trace(&mut o, trace);
            return o;
        };
        let code = err.get("code").and_then(Value::as_i64).unwrap_or(0);
        let subcode = err.get("error_subcode").and_then(Value::as_i64);
        let transient = err
            .get("is_transient")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let message = err
            .get("error_user_msg")
            .or_else(|| err.get("message"))
            .and_then(Value::as_str)
            .unwrap_or("unknown error");
        let reason = match subcode {
            Some(s) => format!("Meta error {code}/{s}: {}", snippet(message)),
            None => format!("Meta error {code}: {}", snippet(message)),
        };
        if matches!(code, 4 | 17 | 32 | 613 | 80000..=80014) || r.status == 429 {
            Outcome::RateLimited {
                reason,
                retry_after_secs: parse_retry_after(r.retry_after.as_deref()),
                trace_id: trace,
            }
        } else if transient || matches!(code, 1 | 2) || r.status >= 500 {
            Outcome::Retryable {
                reason,
                trace_id: trace,
            }
        } else if r.status == 401
            || matches!(code, 190 | 102 | 10 | 200..=299)
            || (code == 100 && subcode == Some(33))
        {
            // 190/102: the token is invalid, expired or revoked; 10 and 200-299: a permission
            // the token lacks; 100/33: the pixel does not exist or the token cannot see it.
            // Every event to this pixel would fail alike until its credentials change.
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
        let token = creds
            .access_token
            .as_deref()
            .ok_or("the Meta pixel has no access_token")?;
        match &creds.test_event_code {
            // With a test code, a real test event shows up in Events Manager's Test Events tab.
            Some(_) => {
                let data = vec![json!({
                    "event_name": "PageView",
                    "event_time": now,
                    "event_id": format!("pixelgate-verify-{now}"),
                    "action_source": "website",
                    "event_source_url": "https://pixelgate.invalid/verify",
                    "user_data": {"client_user_agent": "pixelgate-verify/1.0", "external_id": [crate::core::hash::sha256_hex("pixelgate-verify")]},
                })];
                Ok(OutboundRequest::post_json(
                    self.events_url(cfg, creds),
                    self.body(creds, token, |o| {
                        o.value("data", &Value::Array(data));
                    }),
                ))
            }
            // Without one, a read of the pixel proves id and token without creating an event.
            None => Ok(OutboundRequest {
                method: Method::Get,
                url: format!(
                    "{}/{}/{}?fields=id,name",
                    cfg.meta_graph_base.trim_end_matches('/'),
                    cfg.meta_api_version,
                    creds.pixel_id
                ),
                headers: vec![("authorization".into(), format!("Bearer {token}").into())],
                body: None,
            }),
        }
    }
}

fn set_trace(o: &mut Outcome, trace: Option<String>) {
    if trace.is_none() {
        return;
    }
    match o {
        Outcome::Delivered { trace_id, .. }
        | Outcome::Retryable { trace_id, .. }
        | Outcome::RateLimited { trace_id, .. }
        | Outcome::Permanent { trace_id, .. }
        | Outcome::PixelRefused { trace_id, .. } => *trace_id = trace,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::consent::DeliveryMode;
    use crate::core::hash::sha256_hex;
    use serde_json::json;

    use crate::core::destinations::testing::{delivery, NOW};

    fn creds() -> Credentials {
        Credentials {
            pixel_id: "1234567890".into(),
            access_token: Some("EAAtoken".into()),
            api_secret: None,
            test_event_code: Some("TEST123".into()),
            settings: Default::default(),
        }
    }

    fn purchase() -> Value {
        json!({
            "event_id": "ord-1", "event_name": "purchase", "event_time": NOW - 30,
            "url": "https://shop.example/checkout/done", "referrer": "https://shop.example/cart",
            "user_data": {"email": "Ana@Example.com", "phone": "+34 612 34 56 78", "first_name": "Ana",
                          "external_id": "c-77"},
            "custom_data": {"value": 99.9, "currency": "EUR", "content_ids": ["sku-1"], "transaction_id": "o-1"},
            "fbc": "fb.1.1759999000000.IwAR", "fbp": "fb.1.1759999000000.42"
        })
    }

    #[test]
    fn golden_purchase_request() {
        let plan = Meta.plan(
            &PlatformConfig::default(),
            &creds(),
            &[delivery(purchase(), DeliveryMode::Full)],
            NOW,
        );
        assert!(plan.rejected.is_empty());
        assert_eq!(plan.requests.len(), 1);
        let req = &plan.requests[0].request;
        assert_eq!(
            req.url,
            "https://graph.facebook.com/v24.0/1234567890/events"
        );
        assert_eq!(req.method, Method::Post);
        let body: Value = serde_json::from_str(req.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "data": [{
                    "event_name": "Purchase",
                    "event_time": NOW - 30,
                    "event_id": "ord-1",
                    "action_source": "website",
                    "event_source_url": "https://shop.example/checkout/done",
                    "referrer_url": "https://shop.example/cart",
                    "user_data": {
                        "em": [sha256_hex("ana@example.com")],
                        "ph": [sha256_hex("34612345678")],
                        "fn": [sha256_hex("ana")],
                        "external_id": [sha256_hex("c-77")],
                        "fbc": "fb.1.1759999000000.IwAR",
                        "fbp": "fb.1.1759999000000.42",
                        "client_ip_address": "198.51.100.4",
                        "client_user_agent": "Mozilla/5.0 (X11)"
                    },
                    "custom_data": {"value": 99.9, "currency": "EUR", "content_ids": ["sku-1"], "order_id": "o-1"}
                }],
                "test_event_code": "TEST123",
                "access_token": "EAAtoken"
            })
        );
        assert!(
            !req.url.contains("EAAtoken"),
            "token must not be in the URL"
        );
    }

    #[test]
    fn limited_mode_sends_no_user_agent_which_meta_requires() {
        // Limited-data mode sends no identifier, no user agent and no query of the page: Meta
        // refuses a website event without client_user_agent, so it is not sent, with the reason.
        let plan = Meta.plan(
            &PlatformConfig::default(),
            &creds(),
            &[delivery(purchase(), DeliveryMode::Limited)],
            NOW,
        );
        assert!(plan.requests.is_empty());
        assert_eq!(plan.rejected.len(), 1);
        assert!(plan.rejected[0].1.contains("limited-data mode sends none"));
    }

    #[test]
    fn window_and_required_fields_rejected_with_reason() {
        let mut old = purchase();
        old["event_time"] = json!(NOW - 8 * 24 * 3600);
        let mut no_url = purchase();
        no_url.as_object_mut().unwrap().remove("url");
        let ok = delivery(purchase(), DeliveryMode::Full);
        let plan = Meta.plan(
            &PlatformConfig::default(),
            &creds(),
            &[
                delivery(old, DeliveryMode::Full),
                ok,
                delivery(no_url, DeliveryMode::Full),
            ],
            NOW,
        );
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.requests[0].events, vec![1]);
        assert_eq!(plan.skipped.len(), 1);
        assert!(plan.skipped[0].1.contains("7 days"));
        assert_eq!(plan.rejected.len(), 1);
        assert!(plan.rejected[0].1.contains("event_source_url"));
    }

    #[test]
    fn offline_and_crm_conversions_get_their_action_source_and_window() {
        use crate::core::conversion::testing::conversion;
        let crm = |source: &str, days: i64| {
            conversion(
                json!({"conversion_id": format!("c-{source}-{days}"), "name": "qualified_lead",
                       "happened_at": NOW - days * 86_400, "source": source, "crm_name": "HubSpot",
                       "user_data": {"email": "ana@example.com", "meta_lead_id": "1234567890123456"}}),
                DeliveryMode::Full,
            )
        };
        let events = [
            crm("crm", 2),
            crm("physical_store", 30),
            crm("phone_call", 1),
            crm("other", 1),
            crm("phone_call", 8),
            crm("physical_store", 63),
        ];
        let plan = Meta.plan(&PlatformConfig::default(), &creds(), &events, NOW);
        assert_eq!(plan.requests[0].events, vec![0, 1, 2, 3]);
        let body: Value =
            serde_json::from_str(plan.requests[0].request.body.as_ref().unwrap()).unwrap();
        let data = body["data"].as_array().unwrap();
        assert_eq!(
            data[0],
            json!({
                "event_name": "qualified_lead",
                "event_time": NOW - 2 * 86_400,
                "event_id": "c-crm-2",
                "action_source": "system_generated",
                "user_data": {"em": [sha256_hex("ana@example.com")], "lead_id": 1234567890123456u64},
                "custom_data": {"event_source": "crm", "lead_event_source": "HubSpot"}
            }),
            "no URL or user agent is needed off the website"
        );
        let sources: Vec<&str> = data
            .iter()
            .map(|d| d["action_source"].as_str().unwrap())
            .collect();
        assert_eq!(
            sources,
            ["system_generated", "physical_store", "phone_call", "other"]
        );
        assert!(data[1].get("custom_data").is_none());
        assert!(
            plan.rejected.is_empty(),
            "outside the window is skipped, not failed"
        );
        assert_eq!(plan.skipped.len(), 2);
        assert!(plan.skipped[0]
            .1
            .contains("phone_call events from the last 7 days"));
        assert!(plan.skipped[1].1.contains("62 days"));
    }

    #[test]
    fn batches_at_most_1000_events() {
        let evs: Vec<DeliveryEvent> = (0..2500)
            .map(|i| {
                let mut v = purchase();
                v["event_id"] = json!(format!("e{i}"));
                delivery(v, DeliveryMode::Full)
            })
            .collect();
        let plan = Meta.plan(&PlatformConfig::default(), &creds(), &evs, NOW);
        let sizes: Vec<usize> = plan.requests.iter().map(|r| r.events.len()).collect();
        assert_eq!(sizes, vec![1000, 1000, 500]);
    }

    #[test]
    fn custom_events_use_their_own_name_and_missing_token_rejects() {
        let plan = Meta.plan(
            &PlatformConfig::default(),
            &creds(),
            &[delivery(
                json!({"event_name": "quiz_done", "url": "https://a.example/"}),
                DeliveryMode::Full,
            )],
            NOW,
        );
        let body: Value =
            serde_json::from_str(plan.requests[0].request.body.as_ref().unwrap()).unwrap();
        assert_eq!(body["data"][0]["event_name"], "quiz_done");
        let mut c = creds();
        c.access_token = None;
        let plan = Meta.plan(
            &PlatformConfig::default(),
            &c,
            &[delivery(purchase(), DeliveryMode::Full)],
            NOW,
        );
        assert!(plan.requests.is_empty());
        assert_eq!(plan.rejected.len(), 1);
    }

    fn resp(status: u16, body: &str) -> InboundResponse {
        InboundResponse {
            status,
            retry_after: None,
            body: body.into(),
        }
    }

    #[test]
    fn classifies_meta_answers() {
        assert_eq!(
            Meta.classify(&resp(
                200,
                r#"{"events_received":1,"messages":[],"fbtrace_id":"AbC"}"#
            )),
            Outcome::Delivered {
                trace_id: Some("AbC".into()),
                detail: Some("events_received=1".into())
            }
        );
        let invalid = r#"{"error":{"message":"Invalid parameter","type":"OAuthException","code":100,"error_subcode":2804003,"is_transient":false,"fbtrace_id":"T1"}}"#;
        match Meta.classify(&resp(400, invalid)) {
            Outcome::Permanent { reason, trace_id } => {
                assert!(reason.contains("100/2804003"));
                assert_eq!(trace_id.as_deref(), Some("T1"));
            }
            o => panic!("{o:?}"),
        }
        let token =
            r#"{"error":{"message":"Error validating access token","code":190,"fbtrace_id":"T2"}}"#;
        assert!(matches!(
            Meta.classify(&resp(400, token)),
            Outcome::PixelRefused { .. }
        ));
        // An unknown pixel (or one the token cannot see), a missing permission, a bare 401.
        let unknown = r#"{"error":{"message":"Unsupported post request. Object with ID '1' does not exist","code":100,"error_subcode":33}}"#;
        let permission = r#"{"error":{"message":"Permissions error","code":200}}"#;
        for (status, body) in [(400, unknown), (403, permission), (401, "nope")] {
            assert!(
                matches!(
                    Meta.classify(&resp(status, body)),
                    Outcome::PixelRefused { .. }
                ),
                "{body}"
            );
        }
        let throttled =
            r#"{"error":{"message":"User request limit reached","code":17,"fbtrace_id":"T3"}}"#;
        assert!(matches!(
            Meta.classify(&resp(400, throttled)),
            Outcome::RateLimited { .. }
        ));
        let ads = r#"{"error":{"message":"too many calls","code":80004}}"#;
        assert!(matches!(
            Meta.classify(&resp(400, ads)),
            Outcome::RateLimited { .. }
        ));
        let transient = r#"{"error":{"message":"An unexpected error has occurred","code":2,"is_transient":true}}"#;
        assert!(matches!(
            Meta.classify(&resp(500, transient)),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            Meta.classify(&resp(502, "<html>Bad gateway</html>")),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            Meta.classify(&InboundResponse::no_answer("timed out")),
            Outcome::Retryable { .. }
        ));
        // HTTP 200 carrying an error body is still an error.
        assert!(matches!(
            Meta.classify(&resp(200, r#"{"error":{"message":"bad","code":100}}"#)),
            Outcome::Permanent { .. }
        ));
    }

    #[test]
    fn verify_uses_test_event_or_pixel_read() {
        let req = Meta
            .plan_verify(&PlatformConfig::default(), &creds(), NOW)
            .unwrap();
        assert!(req.body.as_ref().unwrap().contains("TEST123"));
        let mut c = creds();
        c.test_event_code = None;
        let req = Meta
            .plan_verify(&PlatformConfig::default(), &c, NOW)
            .unwrap();
        assert_eq!(req.method, Method::Get);
        assert!(!req.url.contains("EAAtoken"));
    }
}
