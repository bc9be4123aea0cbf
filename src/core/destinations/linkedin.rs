//! LinkedIn Conversions API: POST {linkedin_api_base}/rest/conversionEvents.
//!
//! Rules followed (LinkedIn Marketing API "Conversions API" and its schema, Rest.li 2.0 protocol):
//! - every call carries `Authorization: Bearer <token>` (a token with the `rw_conversions` scope),
//!   `LinkedIn-Version: <YYYYMM>` and `X-Restli-Protocol-Version: 2.0.0`.
//! - `pixel_id` is the conversion rule id, sent as `urn:lla:llaPartnerConversion:{id}`. The rule,
//!   not the event, says what kind of conversion this is (LEAD, PURCHASE, KEY_PAGE_VIEW, …), so no
//!   event name is part of the payload: every event routed to a LinkedIn
//!   pixel counts as one conversion of that rule.
//! - one event is a plain POST answered 201 with an empty body; several go in one POST with
//!   `X-RestLi-Method: BATCH_CREATE` and `{"elements":[…]}`, at most 5000 per batch, answered with
//!   one `{"status":…}` per element in request order.
//! - `conversionHappenedAt` is epoch milliseconds and must lie within the last 90 days; older
//!   events are rejected here with the reason.
//! - `user.userIds` is required and must name the person: `SHA256_EMAIL` (SHA-256 of the trimmed,
//!   lower-cased email, the same normalization as Meta's `em`) and/or
//!   `LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID` (the `li_fat_id` click id, unhashed). An event with
//!   neither cannot be matched and is rejected; limited-data mode sends no identifier at all, so
//!   every limited-mode event is rejected.
//! - `user.userInfo` (firstName, lastName, title, companyName, countryCode) is plain text in
//!   LinkedIn's schema; the gateway holds only hashes of names, so userInfo is never sent.
//! - `conversionValue` is `{currencyCode, amount}` with the amount as a decimal string; it is sent
//!   only when both value and currency are known.
//! - `eventId` is the event id, which LinkedIn uses to de-duplicate against the Insight Tag.
//! - errors: 401/403 mean the token is invalid, expired or lacks `rw_conversions` (or the member's
//!   ad-account role); 426 means the `LinkedIn-Version` is sunset; 400/422 are payload errors with
//!   LinkedIn's `message`; 429 is throttling; 5xx is worth a retry.
//!
//! Limitation: a BATCH_CREATE may succeed for some elements and fail for others, but an outcome
//! covers a whole request. If every element failed the request is `Permanent` (so the batch is
//! split and each event retried alone, which attributes the error); if only some failed it is
//! `Delivered`, with a detail naming the failed positions and LinkedIn's messages.

use serde_json::Value;

use super::{
    snippet, Credentials, DeliveryEvent, Destination, Plan, PlannedRequest, PlatformConfig,
};
use crate::core::consent::DeliveryMode;
use crate::core::hash::Sha256Hex;
use crate::core::jsonmap::pick;
use crate::core::outbound::{HeaderText, InboundResponse, JsonObject, Method, OutboundRequest};
use crate::core::platform::Platform;
use crate::core::retry::{parse_retry_after, Outcome};

pub struct Linkedin;

pub const MAX_EVENTS_PER_REQUEST: usize = 5000;
pub const MAX_EVENT_AGE_SECS: i64 = 90 * 24 * 3600;
const NO_TOKEN: &str = "the LinkedIn pixel has no access_token";

impl Linkedin {
    /// (idType, idValue) pairs LinkedIn matches members by.
    fn user_ids<'e>(
        &self,
        ev: &'e DeliveryEvent,
    ) -> impl Iterator<Item = (&'static str, &'e str)> + use<'e> {
        let (u, c) = ev.identifiers().unzip();
        let email = u.and_then(|u| u.em.as_ref()).map(Sha256Hex::as_str);
        let li_fat_id = c.and_then(|c| c.li_fat_id.as_deref());
        [
            email.map(|em| ("SHA256_EMAIL", em)),
            li_fat_id.map(|li| ("LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", li)),
        ]
        .into_iter()
        .flatten()
    }

    fn write_element(&self, o: &mut JsonObject, ev: &DeliveryEvent, conversion: &str) {
        let e = &ev.event;
        o.string("conversion", conversion)
            .int("conversionHappenedAt", e.event_time * 1000);
        let [value, currency] = pick(&e.custom_data, &["value", "currency"]);
        if let (Some(Value::Number(v)), Some(Value::String(cur))) = (value, currency) {
            // serde_json prints floats with their decimal point ("100.0"), the form LinkedIn shows.
            o.object_always("conversionValue", |money| {
                money
                    .string("currencyCode", cur)
                    .number_as_string("amount", v);
            });
        }
        o.string("eventId", &e.event_id);
        o.object_always("user", |user| {
            user.objects("userIds", self.user_ids(ev), |id, (kind, value)| {
                id.string("idType", kind).string("idValue", value);
            });
        });
    }

    fn too_old(&self, ev: &DeliveryEvent, now: i64) -> Option<String> {
        (ev.event.event_time < now - MAX_EVENT_AGE_SECS).then(|| "event_time is older than 90 days; LinkedIn only accepts conversions from the last 90 days".into())
    }

    fn reject_reason(&self, ev: &DeliveryEvent) -> Option<String> {
        if ev.mode == DeliveryMode::Limited {
            return Some(
                "LinkedIn requires a user identifier; limited-data mode sends none".into(),
            );
        }
        if self.user_ids(ev).next().is_none() {
            return Some(
                "LinkedIn requires a user identifier: the event has neither an email nor a li_fat_id click id".into(),
            );
        }
        None
    }

    fn headers(&self, cfg: &PlatformConfig, token: &str) -> Vec<(HeaderText, HeaderText)> {
        vec![
            ("authorization".into(), ["Bearer ", token].concat().into()),
            (
                "linkedin-version".into(),
                cfg.linkedin_version.clone().into(),
            ),
            ("x-restli-protocol-version".into(), "2.0.0".into()),
        ]
    }

    fn base<'c>(&self, cfg: &'c PlatformConfig) -> &'c str {
        cfg.linkedin_api_base.trim_end_matches('/')
    }
}

/// LinkedIn's error text from a body, if it has one.
fn message(v: &Value) -> Option<String> {
    v.get("message")
        .or_else(|| v.get("error").and_then(|e| e.get("message")))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// A BATCH_CREATE answer: per-element statuses.
fn classify_batch(elements: &[Value], retry_after: Option<&str>) -> Outcome {
    let failures: Vec<(usize, i64, String)> = elements
        .iter()
        .enumerate()
        .filter_map(|(i, el)| {
            let status = el.get("status").and_then(Value::as_i64).unwrap_or(0);
            (!(200..300).contains(&status)).then(|| {
                let msg = message(el).unwrap_or_else(|| "no message".into());
                (i, status, msg)
            })
        })
        .collect();
    if failures.is_empty() {
        return Outcome::Delivered {
            trace_id: None,
            detail: Some(format!("{} conversions created", elements.len())),
        };
    }
    let listed: Vec<String> = failures
        .iter()
        .take(10)
        .map(|(i, s, m)| format!("[{i}] {s} {}", snippet(m)))
        .collect();
    let summary = format!(
        "{} of {} LinkedIn conversions failed: {}",
        failures.len(),
        elements.len(),
        listed.join("; ")
    );
    if failures.len() < elements.len() {
        return Outcome::Delivered {
            trace_id: None,
            detail: Some(summary),
        };
    }
    if failures.iter().any(|(_, s, _)| *s == 429) {
        Outcome::RateLimited {
            reason: summary,
            retry_after_secs: parse_retry_after(retry_after),
            trace_id: None,
        }
    } else if failures.iter().all(|(_, s, _)| *s >= 500) {
        Outcome::Retryable {
            reason: summary,
            trace_id: None,
        }
    } else {
        Outcome::Permanent {
            reason: summary,
            trace_id: None,
        }
    }
}

impl Destination for Linkedin {
    fn platform(&self) -> Platform {
        Platform::Linkedin
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
            |ev| self.reject_reason(ev),
        );
        // concat, not format!: one exact allocation each without the fmt machinery.
        let url = [self.base(cfg), "/rest/conversionEvents"].concat();
        let conversion = ["urn:lla:llaPartnerConversion:", &creds.pixel_id].concat();
        for chunk in sendable.chunks(MAX_EVENTS_PER_REQUEST) {
            let mut body = String::with_capacity(512 * chunk.len());
            let mut o = JsonObject::new(&mut body);
            if let [only] = chunk {
                self.write_element(&mut o, &events[*only], &conversion);
            } else {
                o.objects("elements", chunk, |el, &i| {
                    self.write_element(el, &events[i], &conversion)
                });
            }
            o.end();
            let mut request = OutboundRequest::post_json(url.clone(), body);
            if chunk.len() > 1 {
                request = request.with_header("x-restli-method", "BATCH_CREATE");
            }
            request.headers.extend(self.headers(cfg, token));
            plan.requests.push(PlannedRequest {
                request,
                events: chunk.to_vec(),
            });
        }
        plan
    }

    fn classify(&self, r: &InboundResponse) -> Outcome {
        let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
        if (200..300).contains(&r.status) {
            if let Some(elements) = parsed
                .as_ref()
                .and_then(|v| v.get("elements"))
                .and_then(Value::as_array)
            {
                return classify_batch(elements, r.retry_after.as_deref());
            }
            return Outcome::Delivered {
                trace_id: None,
                detail: Some(format!("HTTP {}", r.status)),
            };
        }
        let msg = parsed
            .as_ref()
            .and_then(message)
            .unwrap_or_else(|| snippet(&r.body));
        match r.status {
            0 => Outcome::Retryable {
                reason: format!("LinkedIn not reached: {}", snippet(&r.body)),
                trace_id: None,
            },
            429 => Outcome::RateLimited {
                reason: format!("LinkedIn HTTP 429: {}", snippet(&msg)),
                retry_after_secs: parse_retry_after(r.retry_after.as_deref()),
                trace_id: None,
            },
            408 | 500..=599 => Outcome::Retryable {
                reason: format!("LinkedIn HTTP {}: {}", r.status, snippet(&msg)),
                trace_id: None,
            },
            401 | 403 => Outcome::PixelRefused {
                reason: format!(
                    "LinkedIn HTTP {}: token invalid or lacks rw_conversions: {}",
                    r.status,
                    snippet(&msg)
                ),
                trace_id: None,
            },
            426 => Outcome::Permanent {
                reason: format!(
                    "LinkedIn HTTP 426: the LinkedIn-Version is no longer supported: {}",
                    snippet(&msg)
                ),
                trace_id: None,
            },
            s => Outcome::Permanent {
                reason: format!("LinkedIn HTTP {s}: {}", snippet(&msg)),
                trace_id: None,
            },
        }
    }

    fn plan_verify(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        _now: i64,
    ) -> Result<OutboundRequest, String> {
        // LinkedIn has no test mode for conversion events (anything posted counts), so verify reads
        // the conversion rule instead: 200 proves token, scope and rule id together.
        let token = creds.access_token.as_deref().ok_or(NO_TOKEN)?;
        let id =
            url::form_urlencoded::byte_serialize(creds.pixel_id.as_bytes()).collect::<String>();
        Ok(OutboundRequest {
            method: Method::Get,
            url: format!("{}/rest/conversions/{id}", self.base(cfg)),
            headers: self.headers(cfg, token),
            body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use serde_json::json;

    use crate::core::calendar::SECS_PER_DAY as DAY;
    use crate::core::destinations::testing::{delivery, NOW};

    fn full(v: Value) -> DeliveryEvent {
        delivery(v, DeliveryMode::Full)
    }

    fn creds() -> Credentials {
        Credentials {
            pixel_id: "104012".into(),
            access_token: Some("AQVtoken".into()),
            api_secret: None,
            test_event_code: None,
            settings: Default::default(),
        }
    }

    fn body(plan: &Plan, i: usize) -> Value {
        serde_json::from_str(plan.requests[i].request.body.as_ref().unwrap()).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> Vec<(HeaderText, HeaderText)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string().into(), v.to_string().into()))
            .collect()
    }

    const SINGLE_HEADERS: [(&str, &str); 4] = [
        ("content-type", "application/json"),
        ("authorization", "Bearer AQVtoken"),
        ("linkedin-version", "202510"),
        ("x-restli-protocol-version", "2.0.0"),
    ];

    fn purchase() -> Value {
        json!({
            "event_id": "ord-1", "event_name": "purchase", "event_time": NOW - 30,
            "url": "https://shop.example/checkout/done",
            "user_data": {"email": " Ana@Example.com ", "first_name": "Ana", "phone": "+34 612 34 56 78"},
            "custom_data": {"value": 99.9, "currency": "EUR", "content_ids": ["sku-1"]},
            "li_fat_id": "AQHx9-li-fat"
        })
    }

    #[test]
    fn golden_purchase_request() {
        let plan = Linkedin.plan(
            &PlatformConfig::default(),
            &creds(),
            &[full(purchase())],
            NOW,
        );
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        assert_eq!(plan.requests.len(), 1);
        let req = &plan.requests[0].request;
        assert_eq!(req.method, Method::Post);
        assert_eq!(req.url, "https://api.linkedin.com/rest/conversionEvents");
        assert_eq!(req.headers, headers(&SINGLE_HEADERS));
        assert_eq!(
            body(&plan, 0),
            json!({
                "conversion": "urn:lla:llaPartnerConversion:104012",
                "conversionHappenedAt": (NOW - 30) * 1000,
                "conversionValue": {"currencyCode": "EUR", "amount": "99.9"},
                "eventId": "ord-1",
                "user": {"userIds": [
                    {"idType": "SHA256_EMAIL", "idValue": sha256_hex("ana@example.com")},
                    {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "AQHx9-li-fat"}
                ]}
            })
        );
    }

    #[test]
    fn golden_lead_request() {
        let lead = json!({"event_id": "lead-7", "event_name": "lead", "event_time": NOW - 5,
                          "user_data": {"email": "ops@b2b.example", "last_name": "Ng"},
                          "custom_data": {"value": 100, "currency": "USD"}});
        let plan = Linkedin.plan(&PlatformConfig::default(), &creds(), &[full(lead)], NOW);
        assert_eq!(
            body(&plan, 0),
            json!({
                "conversion": "urn:lla:llaPartnerConversion:104012",
                "conversionHappenedAt": (NOW - 5) * 1000,
                "conversionValue": {"currencyCode": "USD", "amount": "100.0"},
                "eventId": "lead-7",
                "user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256_hex("ops@b2b.example")}]}
            })
        );
    }

    #[test]
    fn golden_page_view_request_with_click_id_only() {
        let pv = json!({"event_id": "pv-1", "event_name": "page_view", "event_time": NOW,
                        "url": "https://b2b.example/pricing", "click_ids": {"li_fat_id": "li-123"},
                        "custom_data": {"value": 5}});
        let plan = Linkedin.plan(&PlatformConfig::default(), &creds(), &[full(pv)], NOW);
        // a value without a currency is not a conversionValue LinkedIn accepts: left out
        assert_eq!(
            body(&plan, 0),
            json!({
                "conversion": "urn:lla:llaPartnerConversion:104012",
                "conversionHappenedAt": NOW * 1000,
                "eventId": "pv-1",
                "user": {"userIds": [{"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "li-123"}]}
            })
        );
    }

    #[test]
    fn several_events_go_as_batch_create_of_at_most_5000() {
        let evs: Vec<DeliveryEvent> = (0..3)
            .map(|i| {
                let mut v = purchase();
                v["event_id"] = json!(format!("e{i}"));
                full(v)
            })
            .collect();
        let plan = Linkedin.plan(&PlatformConfig::default(), &creds(), &evs, NOW);
        assert_eq!(plan.requests.len(), 1);
        let req = &plan.requests[0].request;
        let mut want = headers(&[
            ("content-type", "application/json"),
            ("x-restli-method", "BATCH_CREATE"),
        ]);
        want.extend(headers(&SINGLE_HEADERS[1..]));
        assert_eq!(req.headers, want);
        let b = body(&plan, 0);
        let elements = b["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 3);
        assert_eq!(elements[2]["eventId"], "e2");
        assert_eq!(
            elements[0]["conversion"],
            "urn:lla:llaPartnerConversion:104012"
        );

        let many: Vec<DeliveryEvent> = (0..12_001)
            .map(|i| {
                full(json!({"event_id": format!("m{i}"), "event_name": "lead", "li_fat_id": "x"}))
            })
            .collect();
        let plan = Linkedin.plan(&PlatformConfig::default(), &creds(), &many, NOW);
        let sizes: Vec<usize> = plan.requests.iter().map(|r| r.events.len()).collect();
        assert_eq!(sizes, vec![5000, 5000, 2001]);
        assert_eq!(plan.requests[2].events[0], 10_000);
        assert_eq!(Linkedin.max_batch(), 5000);
    }

    #[test]
    fn rejects_old_anonymous_and_limited_events_with_reasons() {
        let mut old = purchase();
        old["event_time"] = json!(NOW - 89 * DAY);
        let anonymous =
            json!({"event_id": "anon", "event_name": "lead", "user_data": {"first_name": "Ana"}});
        let later = NOW + 2 * DAY; // the same event, planned two days later, is 91 days old
        let plan = Linkedin.plan(
            &PlatformConfig::default(),
            &creds(),
            &[
                full(old),
                full(anonymous),
                delivery(purchase(), DeliveryMode::Limited),
                full(purchase()),
            ],
            later,
        );
        assert_eq!(
            plan.skipped,
            vec![(0, "event_time is older than 90 days; LinkedIn only accepts conversions from the last 90 days".to_string())]
        );
        assert_eq!(
            plan.rejected,
            vec![
                (
                    1,
                    "LinkedIn requires a user identifier: the event has neither an email nor a li_fat_id click id"
                        .to_string()
                ),
                (2, "LinkedIn requires a user identifier; limited-data mode sends none".to_string()),
            ]
        );
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(plan.requests[0].events, vec![3]);
        // a single remaining event is a plain create, not a batch
        assert!(!plan.requests[0]
            .request
            .headers
            .iter()
            .any(|(k, _)| k == "x-restli-method"));
    }

    #[test]
    fn missing_token_rejects_everything() {
        let mut c = creds();
        c.access_token = None;
        let plan = Linkedin.plan(&PlatformConfig::default(), &c, &[full(purchase())], NOW);
        assert!(plan.requests.is_empty());
        assert_eq!(plan.rejected, vec![(0, NO_TOKEN.to_string())]);
        assert_eq!(
            Linkedin.plan_verify(&PlatformConfig::default(), &c, NOW),
            Err(NO_TOKEN.to_string())
        );
    }

    fn resp(status: u16, body: &str) -> InboundResponse {
        InboundResponse {
            status,
            retry_after: None,
            body: body.into(),
        }
    }

    #[test]
    fn classifies_single_creates_and_errors() {
        assert_eq!(
            Linkedin.classify(&resp(201, "")),
            Outcome::Delivered {
                trace_id: None,
                detail: Some("HTTP 201".into())
            }
        );
        let invalid_token = r#"{"serviceErrorCode":65600,"code":"INVALID_ACCESS_TOKEN","message":"Invalid access token","status":401}"#;
        assert_eq!(
            Linkedin.classify(&resp(401, invalid_token)),
            Outcome::PixelRefused {
                reason:
                    "LinkedIn HTTP 401: token invalid or lacks rw_conversions: Invalid access token"
                        .into(),
                trace_id: None
            }
        );
        let denied = r#"{"serviceErrorCode":100,"code":"ACCESS_DENIED","message":"Not enough permissions to access: conversionEvents.CREATE.20251001","status":403}"#;
        match Linkedin.classify(&resp(403, denied)) {
            Outcome::PixelRefused { reason, .. } => {
                assert!(
                    reason.contains("rw_conversions") && reason.contains("Not enough permissions"),
                    "{reason}"
                )
            }
            o => panic!("{o:?}"),
        }
        let unprocessable =
            r#"{"message":"Conversion happened at must be within the past 90 days","status":422}"#;
        assert_eq!(
            Linkedin.classify(&resp(422, unprocessable)),
            Outcome::Permanent {
                reason: "LinkedIn HTTP 422: Conversion happened at must be within the past 90 days"
                    .into(),
                trace_id: None
            }
        );
        let bad = r#"{"message":"Invalid conversion urn","status":400}"#;
        assert!(
            matches!(Linkedin.classify(&resp(400, bad)), Outcome::Permanent { reason, .. } if reason.ends_with("Invalid conversion urn"))
        );
        let sunset = r#"{"status":426,"code":"NONEXISTENT_VERSION","message":"Requested version 20230101 is not active"}"#;
        assert!(
            matches!(Linkedin.classify(&resp(426, sunset)), Outcome::Permanent { reason, .. } if reason.contains("LinkedIn-Version"))
        );
        let throttled = InboundResponse {
            status: 429,
            retry_after: Some("60".into()),
            body: r#"{"status":429,"message":"Resource level throttle limit"}"#.into(),
        };
        assert_eq!(
            Linkedin.classify(&throttled),
            Outcome::RateLimited {
                reason: "LinkedIn HTTP 429: Resource level throttle limit".into(),
                retry_after_secs: Some(60),
                trace_id: None
            }
        );
        assert!(matches!(
            Linkedin.classify(&resp(504, "upstream timeout")),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            Linkedin.classify(&InboundResponse::no_answer("dns")),
            Outcome::Retryable { .. }
        ));
    }

    #[test]
    fn classifies_batch_answers_per_element() {
        assert_eq!(
            Linkedin.classify(&resp(
                200,
                r#"{"elements":[{"status":201},{"status":201},{"status":201}]}"#
            )),
            Outcome::Delivered {
                trace_id: None,
                detail: Some("3 conversions created".into())
            }
        );
        let partial = r#"{"elements":[{"status":201},{"status":400,"error":{"message":"Invalid idValue for SHA256_EMAIL","status":400}},{"status":201}]}"#;
        assert_eq!(
            Linkedin.classify(&resp(200, partial)),
            Outcome::Delivered {
                trace_id: None,
                detail: Some(
                    "1 of 3 LinkedIn conversions failed: [1] 400 Invalid idValue for SHA256_EMAIL"
                        .into()
                )
            }
        );
        let all_bad = r#"{"elements":[{"status":422,"message":"too old"},{"status":400,"error":{"message":"bad urn"}}]}"#;
        assert_eq!(
            Linkedin.classify(&resp(200, all_bad)),
            Outcome::Permanent {
                reason: "2 of 2 LinkedIn conversions failed: [0] 422 too old; [1] 400 bad urn"
                    .into(),
                trace_id: None
            }
        );
        let all_down = r#"{"elements":[{"status":500},{"status":503}]}"#;
        assert!(matches!(
            Linkedin.classify(&resp(200, all_down)),
            Outcome::Retryable { .. }
        ));
        let throttled = r#"{"elements":[{"status":429},{"status":429}]}"#;
        assert!(matches!(
            Linkedin.classify(&resp(200, throttled)),
            Outcome::RateLimited { .. }
        ));
    }

    #[test]
    fn verify_reads_the_conversion_rule() {
        let cfg = PlatformConfig {
            linkedin_api_base: "http://127.0.0.1:9999/".into(),
            ..PlatformConfig::default()
        };
        let req = Linkedin.plan_verify(&cfg, &creds(), NOW).unwrap();
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.url, "http://127.0.0.1:9999/rest/conversions/104012");
        assert_eq!(req.body, None);
        assert_eq!(req.headers, headers(&SINGLE_HEADERS[1..]));
    }
}
