//! Google Ads click conversions: POST {base}/{version}/customers/{customer_id}:uploadClickConversions.
//!
//! Rules followed (Google Ads API `ConversionUploadService.UploadClickConversions`, "Upload click
//! conversions", "Enhanced conversions for leads", "Partial failures", "Consent"):
//! - `pixel_id` is the customer id (10 digits, no dashes); the call carries `Authorization:
//!   Bearer` with the connected Google Ads account's OAuth token, `developer-token` (the
//!   operator's) and `login-customer-id` when access goes through a manager account;
//! - the body is `{"conversions":[ClickConversion…], "partialFailure": true}` (REST JSON,
//!   lowerCamelCase): each row is uploaded or refused on its own, never the request as a whole;
//! - a `ClickConversion` holds one click id, `gclid`, else `gbraid`, else `wbraid` (they are
//!   exclusive; the gateway prefers the gclid), `conversionAction`
//!   (`customers/{customer}/conversionActions/{id}`, chosen per conversion name in the pixel's
//!   `settings.conversion_actions`), `conversionDateTime` as `yyyy-mm-dd hh:mm:ss+|-hh:mm` in the
//!   account's time zone (`settings.time_zone`, default UTC) with the offset in force then,
//!   `conversionValue` with `currencyCode` when the conversion has a value, and `orderId` (the
//!   order id, else the event id, so a resend after an ambiguous answer is de-duplicated by
//!   Google);
//! - enhanced conversions for leads: `userIdentifiers` `[{hashedEmail}, {hashedPhoneNumber}]`,
//!   SHA-256 of the email normalized by Google's rules (gmail dots removed) and of the E.164 phone
//!   with its '+'; they are sent with a gclid or without any click id (a lead matched by its
//!   identifiers alone), never with gbraid/wbraid, which Google does not combine with them;
//! - EU user consent: `consent {adUserData, adPersonalization}` GRANTED or DENIED from the
//!   marketing consent the conversion was routed under;
//! - a conversion is uploaded within 90 days (the longest click-through window a conversion
//!   action has); older ones are rejected here with the reason; one with neither a click id nor
//!   an email or phone cannot be matched and is rejected too, as is one whose name has no
//!   conversion action, and every one in limited-data mode (it may send no identifier);
//! - the answer: HTTP 200 with `results[]` (an empty object for a failed row) and, when rows
//!   failed, `partialFailureError {code, message, details[{errors[{errorCode, message,
//!   location{fieldPathElements[{fieldName:"conversions", index}, …]}}]}]}`: each error is stored
//!   on its own row's delivery (`classify_rows`), the others are delivered. Errors outside the
//!   rows come as an RPC error (`google_failure`: 401/403 refuse the pixel, 429 and quota errors
//!   wait, 5xx retry, the rest is permanent);
//! - verify sends the same request with `validateOnly: true` (nothing is uploaded).

use serde_json::{json, Value};

use super::{
    snippet, Credentials, DeliveryEvent, Destination, Plan, PlannedRequest, PlatformConfig,
};
use crate::core::ads::google_ads::google_failure;
use crate::core::ads::ApiFailure;
use crate::core::consent::DeliveryMode;
use crate::core::jsonmap::pick;
use crate::core::outbound::{InboundResponse, JsonObject, OutboundRequest};
use crate::core::platform::Platform;
use crate::core::retry::Outcome;
use crate::core::timezone::TimeZone;

pub struct GoogleAds;

/// Rows per request: an answer reporting each row (~250 bytes a row) stays within the 16 KB of
/// an answer the consumer reads, so every row's error can be attributed.
pub const MAX_CONVERSIONS_PER_REQUEST: usize = 50;
pub const MAX_EVENT_AGE_SECS: i64 = 90 * 24 * 3600;
const NO_TOKEN: &str = "no usable OAuth token for this Google Ads customer: connect its Google Ads account (Ads → connect Google), or reconnect it";
const NO_DEVELOPER_TOKEN: &str = "GOOGLE_ADS_DEVELOPER_TOKEN is not configured on the jobs Worker";

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

impl GoogleAds {
    fn url(&self, cfg: &PlatformConfig, customer_id: &str) -> String {
        format!(
            "{}/{}/customers/{}:uploadClickConversions",
            cfg.google_ads_api_base.trim_end_matches('/'),
            cfg.google_ads_api_version,
            digits(customer_id)
        )
    }

    fn request(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        token: &str,
        developer_token: &str,
        body: String,
    ) -> OutboundRequest {
        let mut r = OutboundRequest::post_json(self.url(cfg, &creds.pixel_id), body)
            .with_header("authorization", ["Bearer ", token].concat())
            .with_header("developer-token", developer_token.to_string());
        if let Some(login) = &creds.settings.login_customer_id {
            r = r.with_header("login-customer-id", digits(login));
        }
        r
    }

    fn action<'c>(&self, creds: &'c Credentials, ev: &DeliveryEvent) -> Option<&'c str> {
        let actions = &creds.settings.conversion_actions;
        actions
            .get(ev.event.display_name())
            .or_else(|| actions.get(ev.event.event_name.as_str()))
            .map(String::as_str)
    }

    fn too_old(&self, ev: &DeliveryEvent, now: i64) -> Option<String> {
        (ev.event.event_time < now - MAX_EVENT_AGE_SECS).then(|| "event_time is older than 90 days; Google Ads takes click conversions within the 90-day click-through window at most".into())
    }

    fn reject_reason(&self, creds: &Credentials, ev: &DeliveryEvent) -> Option<String> {
        let e = &ev.event;
        if self.action(creds, ev).is_none() {
            return Some(format!(
                "no Google Ads conversion action is set for {} (the pixel's settings.conversion_actions)",
                e.display_name()
            ));
        }
        if ev.mode == DeliveryMode::Limited {
            return Some("Google Ads needs a click id or a hashed email or phone; limited-data mode sends no identifier".into());
        }
        let c = &e.click_ids;
        let u = &e.user;
        if c.gclid.is_none()
            && c.gbraid.is_none()
            && c.wbraid.is_none()
            && u.em_google.is_none()
            && u.ph_e164.is_none()
        {
            return Some("Google Ads needs a gclid, gbraid or wbraid, or an email or phone (enhanced conversions for leads)".into());
        }
        None
    }

    fn write_conversion(
        &self,
        o: &mut JsonObject,
        creds: &Credentials,
        ev: &DeliveryEvent,
        zone: TimeZone,
    ) {
        let e = &ev.event;
        let c = &e.click_ids;
        let click = [
            ("gclid", c.gclid.as_deref()),
            ("gbraid", c.gbraid.as_deref()),
            ("wbraid", c.wbraid.as_deref()),
        ]
        .into_iter()
        .find_map(|(k, v)| Some((k, v?)));
        if let Some((kind, id)) = click {
            o.string(kind, id);
        }
        let action = self.action(creds, ev).unwrap_or_default();
        o.string(
            "conversionAction",
            &format!(
                "customers/{}/conversionActions/{}",
                digits(&creds.pixel_id),
                action
            ),
        )
        .string("conversionDateTime", &zone.format_google(e.event_time));
        let [value, currency, order_id, transaction_id] = pick(
            &e.custom_data,
            &["value", "currency", "order_id", "transaction_id"],
        );
        if let (Some(v @ Value::Number(_)), Some(Value::String(cur))) = (value, currency) {
            o.value("conversionValue", v).string("currencyCode", cur);
        }
        let order = match order_id.or(transaction_id) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => e.event_id.clone(),
        };
        o.string("orderId", &order);
        if matches!(click, None | Some(("gclid", _))) {
            let u = &e.user;
            let ids = [
                ("hashedEmail", u.em_google.as_ref()),
                ("hashedPhoneNumber", u.ph_e164.as_ref()),
            ];
            if ids.iter().any(|(_, h)| h.is_some()) {
                o.objects(
                    "userIdentifiers",
                    ids.into_iter().filter_map(|(k, h)| Some((k, h?))),
                    |id, (k, h)| {
                        id.string(k, h.as_str());
                    },
                );
            }
        }
        let consent = if ev.consent.marketing {
            "GRANTED"
        } else {
            "DENIED"
        };
        o.object_always("consent", |c| {
            c.string("adUserData", consent)
                .string("adPersonalization", consent);
        });
    }
}

/// The request-level outcome of a failed call, from the Google Ads error classes.
fn failure_outcome(r: &InboundResponse) -> Outcome {
    let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
    match google_failure(r.status, r.retry_after.as_deref(), parsed.as_ref(), &r.body) {
        ApiFailure::RateLimited {
            reason,
            retry_after_secs,
        } => Outcome::RateLimited {
            reason,
            retry_after_secs,
            trace_id: None,
        },
        ApiFailure::Retryable { reason } => Outcome::Retryable {
            reason,
            trace_id: None,
        },
        ApiFailure::AuthInvalid { reason } => Outcome::PixelRefused {
            reason,
            trace_id: None,
        },
        ApiFailure::Permanent { reason } => Outcome::Permanent {
            reason,
            trace_id: None,
        },
    }
}

/// The rows' errors of a partial failure: (row index, message) for each error that names a row,
/// and whether some error named none.
fn row_errors(partial: &Value) -> (Vec<(usize, String)>, bool) {
    let mut rows = Vec::new();
    let mut unplaced = false;
    let errors = partial
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("errors").and_then(Value::as_array))
        .flatten();
    for err in errors {
        let row = err
            .pointer("/location/fieldPathElements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|el| el.get("fieldName").and_then(Value::as_str) == Some("conversions"))
            .and_then(|el| el.get("index"))
            .and_then(Value::as_u64);
        let code = err
            .get("errorCode")
            .and_then(Value::as_object)
            .and_then(|o| o.iter().next())
            .map(|(kind, v)| format!("{kind}.{}", v.as_str().unwrap_or_default()))
            .unwrap_or_else(|| "error".into());
        let message = err
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        match row {
            Some(i) => rows.push((
                i as usize,
                format!("Google Ads {code}: {}", snippet(message)),
            )),
            None => unplaced = true,
        }
    }
    (rows, unplaced)
}

impl Destination for GoogleAds {
    fn platform(&self) -> Platform {
        Platform::GoogleAds
    }

    fn max_batch(&self) -> usize {
        MAX_CONVERSIONS_PER_REQUEST
    }

    fn plan(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        events: &[DeliveryEvent],
        now: i64,
    ) -> Plan {
        let Some(developer_token) = creds.api_secret.as_deref() else {
            return Plan::reject_all(events.len(), NO_DEVELOPER_TOKEN);
        };
        let Some(token) = creds.access_token.as_deref() else {
            return Plan::reject_all(events.len(), NO_TOKEN);
        };
        let zone = creds
            .settings
            .time_zone
            .as_deref()
            .and_then(TimeZone::parse)
            .unwrap_or(TimeZone::UTC);
        let mut plan = Plan::default();
        let sendable = plan.screen_window(
            events,
            |ev| self.too_old(ev, now),
            |ev| self.reject_reason(creds, ev),
        );
        for chunk in sendable.chunks(MAX_CONVERSIONS_PER_REQUEST) {
            let mut body = String::with_capacity(600 * chunk.len());
            let mut o = JsonObject::new(&mut body);
            o.objects("conversions", chunk, |item, &i| {
                self.write_conversion(item, creds, &events[i], zone)
            })
            .bool("partialFailure", true);
            o.end();
            plan.requests.push(PlannedRequest {
                request: self.request(cfg, creds, token, developer_token, body),
                events: chunk.to_vec(),
            });
        }
        plan
    }

    fn classify(&self, r: &InboundResponse) -> Outcome {
        if !(200..300).contains(&r.status) {
            return failure_outcome(r);
        }
        let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
        let trace_id = parsed
            .as_ref()
            .and_then(|v| v.get("jobId"))
            .map(|j| match j {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
        let partial = parsed
            .as_ref()
            .and_then(|v| v.get("partialFailureError"))
            .filter(|p| !p.is_null());
        let detail = match (partial, &parsed) {
            (Some(p), _) => {
                let (rows, _) = row_errors(p);
                Some(format!("uploaded with {} failed row(s)", rows.len()))
            }
            (None, Some(v)) => {
                let n = v
                    .get("results")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                Some(format!("{n} conversion(s) uploaded"))
            }
            (None, None) => Some(format!("HTTP {} with an unreadable body", r.status)),
        };
        Outcome::Delivered { trace_id, detail }
    }

    fn classify_rows(&self, r: &InboundResponse, rows: usize) -> Option<Vec<Outcome>> {
        if !(200..300).contains(&r.status) {
            return None;
        }
        let parsed: Value = serde_json::from_str(&r.body).ok()?;
        let partial = parsed.get("partialFailureError").filter(|p| !p.is_null())?;
        let (errors, unplaced) = row_errors(partial);
        if unplaced || errors.iter().any(|(i, _)| *i >= rows) {
            // An error Google did not tie to a row of ours: the request's outcome stands.
            return None;
        }
        let trace_id = parsed.get("jobId").map(|j| match j {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let mut out: Vec<Option<String>> = vec![None; rows];
        for (i, message) in errors {
            out[i] = Some(match out[i].take() {
                Some(earlier) => format!("{earlier}; {message}"),
                None => message,
            });
        }
        Some(
            out.into_iter()
                .map(|e| match e {
                    // A row Google refused fails alike on every retry: its data is the problem.
                    Some(reason) => Outcome::Permanent {
                        reason,
                        trace_id: trace_id.clone(),
                    },
                    None => Outcome::Delivered {
                        trace_id: trace_id.clone(),
                        detail: Some("uploaded".into()),
                    },
                })
                .collect(),
        )
    }

    fn verify_findings(&self, r: &InboundResponse) -> Vec<String> {
        let Ok(parsed) = serde_json::from_str::<Value>(&r.body) else {
            return Vec::new();
        };
        let Some(partial) = parsed.get("partialFailureError").filter(|p| !p.is_null()) else {
            return Vec::new();
        };
        // The verify row's made-up click id is refused by design; anything else is a finding
        // (an unknown conversion action, a customer that does not accept uploads, …).
        row_errors(partial)
            .0
            .into_iter()
            .map(|(_, m)| m)
            .filter(|m| !m.contains("CLICK_NOT_FOUND") && !m.contains("UNPARSEABLE_GCLID"))
            .collect()
    }

    fn plan_verify(
        &self,
        cfg: &PlatformConfig,
        creds: &Credentials,
        now: i64,
    ) -> Result<OutboundRequest, String> {
        let developer_token = creds.api_secret.as_deref().ok_or(NO_DEVELOPER_TOKEN)?;
        let token = creds.access_token.as_deref().ok_or(NO_TOKEN)?;
        let action = creds
            .settings
            .conversion_actions
            .values()
            .next()
            .ok_or("the pixel has no settings.conversion_actions to verify")?;
        let zone = creds
            .settings
            .time_zone
            .as_deref()
            .and_then(TimeZone::parse)
            .unwrap_or(TimeZone::UTC);
        let body = json!({
            "conversions": [{
                "gclid": "pixelgate-verify",
                "conversionAction": format!("customers/{}/conversionActions/{action}", digits(&creds.pixel_id)),
                "conversionDateTime": zone.format_google(now),
                "orderId": format!("pixelgate-verify-{now}"),
            }],
            "partialFailure": true,
            "validateOnly": true,
        });
        Ok(self.request(
            cfg,
            creds,
            token,
            developer_token,
            crate::core::outbound::json_text(&body),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversion::testing::conversion;
    use crate::core::destinations::testing::{delivery, NOW};
    use crate::core::destinations::PixelSettings;
    use crate::core::hash::sha256_hex;

    fn creds() -> Credentials {
        Credentials {
            pixel_id: "1234567890".into(),
            access_token: Some("ya29.token".into()),
            api_secret: Some("dev-token".into()),
            test_event_code: None,
            settings: PixelSettings {
                conversion_actions: [
                    ("purchase".to_string(), "111".to_string()),
                    ("qualified_lead".to_string(), "222".to_string()),
                ]
                .into(),
                time_zone: Some("Europe/Madrid".into()),
                login_customer_id: Some("999-888-7777".into()),
                offline_event_set_id: None,
            },
        }
    }

    fn won_deal() -> Value {
        json!({
            "conversion_id": "deal-42", "name": "purchase", "happened_at": 1_759_996_800,
            "value": 1200.5, "currency": "EUR", "order_id": "SO-9", "source": "crm",
            "user_data": {"email": "John.Doe@gmail.com", "phone": "+34 612 34 56 78"},
            "click_ids": {"gclid": "Cj0KCQ-abc"}, "consent": {"marketing": true}
        })
    }

    fn body(plan: &Plan, i: usize) -> Value {
        serde_json::from_str(plan.requests[i].request.body.as_ref().unwrap()).unwrap()
    }

    #[test]
    fn golden_upload_click_conversions_request() {
        let plan = GoogleAds.plan(
            &PlatformConfig::default(),
            &creds(),
            &[conversion(won_deal(), DeliveryMode::Full)],
            NOW,
        );
        assert!(plan.rejected.is_empty(), "{:?}", plan.rejected);
        let req = &plan.requests[0].request;
        assert_eq!(
            req.url,
            "https://googleads.googleapis.com/v22/customers/1234567890:uploadClickConversions"
        );
        assert_eq!(
            req.header_pairs(),
            vec![
                ("content-type", "application/json"),
                ("authorization", "Bearer ya29.token"),
                ("developer-token", "dev-token"),
                ("login-customer-id", "9998887777"),
            ]
        );
        assert_eq!(
            body(&plan, 0),
            json!({
                "conversions": [{
                    "gclid": "Cj0KCQ-abc",
                    "conversionAction": "customers/1234567890/conversionActions/111",
                    // 2025-10-09 08:00 UTC in Madrid's summer time.
                    "conversionDateTime": "2025-10-09 10:00:00+02:00",
                    "conversionValue": 1200.5,
                    "currencyCode": "EUR",
                    "orderId": "SO-9",
                    "userIdentifiers": [
                        {"hashedEmail": sha256_hex("johndoe@gmail.com")},
                        {"hashedPhoneNumber": sha256_hex("+34612345678")}
                    ],
                    "consent": {"adUserData": "GRANTED", "adPersonalization": "GRANTED"}
                }],
                "partialFailure": true
            })
        );
        assert!(!req.body.as_ref().unwrap().contains("ya29"));
        assert_eq!(
            PlatformConfig::default().google_ads_api_version,
            crate::core::ads::DEFAULT_GOOGLE_ADS_API_VERSION
        );
    }

    #[test]
    fn braids_travel_alone_and_leads_may_go_by_identifiers() {
        let mut braid = won_deal();
        braid["click_ids"] = json!({"wbraid": "WB-1"});
        braid["conversion_id"] = json!("b1");
        let mut lead = won_deal();
        lead["click_ids"] = json!({});
        lead["conversion_id"] = json!("l1");
        lead["name"] = json!("qualified_lead");
        lead.as_object_mut().unwrap().remove("order_id");
        lead.as_object_mut().unwrap().remove("value");
        lead["consent"] = json!({"marketing": false});
        let plan = GoogleAds.plan(
            &PlatformConfig::default(),
            &creds(),
            &[
                conversion(braid, DeliveryMode::Full),
                conversion(lead, DeliveryMode::Full),
            ],
            NOW,
        );
        let b = body(&plan, 0);
        let braid = &b["conversions"][0];
        assert_eq!(braid["wbraid"], "WB-1");
        assert!(braid.get("userIdentifiers").is_none());
        let lead = &b["conversions"][1];
        assert!(lead.get("gclid").is_none());
        assert_eq!(
            lead["conversionAction"],
            "customers/1234567890/conversionActions/222"
        );
        assert_eq!(
            lead["orderId"], "l1",
            "the event id when there is no order id"
        );
        assert_eq!(lead["userIdentifiers"].as_array().unwrap().len(), 2);
        assert!(lead.get("conversionValue").is_none());
        // The conversion helper routes with all consent granted; the row's own says otherwise.
        assert_eq!(lead["consent"]["adUserData"], "GRANTED");
    }

    #[test]
    fn consent_fields_follow_the_routed_consent() {
        let mut ev = conversion(won_deal(), DeliveryMode::Full);
        ev.consent.marketing = false;
        let plan = GoogleAds.plan(&PlatformConfig::default(), &creds(), &[ev], NOW);
        assert_eq!(
            body(&plan, 0)["conversions"][0]["consent"],
            json!({"adUserData": "DENIED", "adPersonalization": "DENIED"})
        );
    }

    #[test]
    fn rejections_say_why() {
        let mut old = won_deal();
        old["happened_at"] = json!(NOW - 89 * 86_400);
        let mut nothing = won_deal();
        nothing["click_ids"] = json!({});
        nothing["user_data"] = json!({});
        let mut unmapped = won_deal();
        unmapped["name"] = json!("signup");
        let events = [
            conversion(old, DeliveryMode::Full),
            conversion(nothing, DeliveryMode::Full),
            conversion(unmapped, DeliveryMode::Full),
            conversion(won_deal(), DeliveryMode::Limited),
        ];
        let plan = GoogleAds.plan(
            &PlatformConfig::default(),
            &creds(),
            &events,
            NOW + 2 * 86_400,
        );
        assert!(plan.requests.is_empty());
        assert_eq!(plan.skipped.len(), 1);
        assert!(plan.skipped[0].1.contains("90 days"));
        let reasons: Vec<&str> = plan.rejected.iter().map(|(_, r)| r.as_str()).collect();
        assert!(reasons[0].contains("gclid"), "{reasons:?}");
        assert!(reasons[1].contains("signup"));
        assert!(reasons[2].contains("limited-data"));
        let mut c = creds();
        c.access_token = None;
        let plan = GoogleAds.plan(&PlatformConfig::default(), &c, &events[..1], NOW);
        assert!(plan.rejected[0].1.contains("OAuth"));
        // A web event with a gclid, mapped by its name, goes too.
        let web = delivery(
            json!({"event_name": "purchase", "gclid": "G-1", "url": "https://shop.example/ok"}),
            DeliveryMode::Full,
        );
        let plan = GoogleAds.plan(&PlatformConfig::default(), &creds(), &[web], NOW);
        assert_eq!(plan.requests.len(), 1);
        assert_eq!(
            body(&plan, 0)["conversions"][0]["conversionDateTime"],
            "2025-10-09 10:53:20+02:00"
        );
    }

    #[test]
    fn batches_of_fifty() {
        let evs: Vec<DeliveryEvent> = (0..120)
            .map(|i| {
                let mut v = won_deal();
                v["conversion_id"] = json!(format!("d{i}"));
                conversion(v, DeliveryMode::Full)
            })
            .collect();
        let plan = GoogleAds.plan(&PlatformConfig::default(), &creds(), &evs, NOW);
        let sizes: Vec<usize> = plan.requests.iter().map(|r| r.events.len()).collect();
        assert_eq!(sizes, vec![50, 50, 20]);
    }

    fn resp(status: u16, body: Value) -> InboundResponse {
        InboundResponse {
            status,
            retry_after: None,
            body: body.to_string(),
        }
    }

    #[test]
    fn a_partial_failure_marks_only_its_rows() {
        let answer = resp(
            200,
            json!({
                "partialFailureError": {
                    "code": 3,
                    "message": "Conversion upload failed for 1 row.",
                    "details": [{
                        "@type": "type.googleapis.com/google.ads.googleads.v22.errors.GoogleAdsFailure",
                        "errors": [{
                            "errorCode": {"conversionUploadError": "CLICK_NOT_FOUND"},
                            "message": "The click associated with the given identifier could not be found.",
                            "location": {"fieldPathElements": [{"fieldName": "conversions", "index": 1}, {"fieldName": "gclid"}]}
                        }]
                    }]
                },
                "results": [{"gclid": "a", "conversionAction": "customers/1/conversionActions/111", "conversionDateTime": "x"}, {}, {"gclid": "c"}],
                "jobId": "8123"
            }),
        );
        match GoogleAds.classify(&answer) {
            Outcome::Delivered { trace_id, detail } => {
                assert_eq!(trace_id.as_deref(), Some("8123"));
                assert!(detail.unwrap().contains("1 failed"));
            }
            o => panic!("{o:?}"),
        }
        let rows = GoogleAds.classify_rows(&answer, 3).unwrap();
        assert!(matches!(rows[0], Outcome::Delivered { .. }));
        match &rows[1] {
            Outcome::Permanent { reason, .. } => {
                assert!(
                    reason.contains("conversionUploadError.CLICK_NOT_FOUND"),
                    "{reason}"
                )
            }
            o => panic!("{o:?}"),
        }
        assert!(matches!(rows[2], Outcome::Delivered { .. }));
        // Every row fine: one outcome for the request.
        let clean = resp(200, json!({"results": [{}, {}], "jobId": 9}));
        assert_eq!(GoogleAds.classify_rows(&clean, 2), None);
        assert!(matches!(
            GoogleAds.classify(&clean),
            Outcome::Delivered { .. }
        ));
        // An error tied to no row leaves the request's outcome.
        let unplaced = resp(
            200,
            json!({"partialFailureError": {"details": [{"errors": [{"message": "x"}]}]}}),
        );
        assert_eq!(GoogleAds.classify_rows(&unplaced, 2), None);
    }

    #[test]
    fn request_level_errors() {
        let auth = resp(
            401,
            json!({"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "Request had invalid authentication credentials."}}),
        );
        assert!(matches!(
            GoogleAds.classify(&auth),
            Outcome::PixelRefused { .. }
        ));
        let denied = resp(
            403,
            json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "The caller does not have permission", "details": [{"errors": [{"errorCode": {"authorizationError": "DEVELOPER_TOKEN_NOT_APPROVED"}, "message": "not approved"}]}]}}),
        );
        assert!(matches!(
            GoogleAds.classify(&denied),
            Outcome::PixelRefused { .. }
        ));
        let quota = resp(
            429,
            json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota", "details": [{"errors": [{"errorCode": {"quotaError": "RESOURCE_EXHAUSTED"}, "details": {"quotaErrorDetails": {"retryDelay": "30s"}}}]}]}}),
        );
        assert!(matches!(
            GoogleAds.classify(&quota),
            Outcome::RateLimited {
                retry_after_secs: Some(30),
                ..
            }
        ));
        assert!(matches!(
            GoogleAds.classify(&resp(503, json!("unavailable"))),
            Outcome::Retryable { .. }
        ));
        assert!(matches!(
            GoogleAds.classify(&InboundResponse::no_answer("timed out")),
            Outcome::Retryable { .. }
        ));
        let bad = resp(
            400,
            json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}),
        );
        assert!(matches!(
            GoogleAds.classify(&bad),
            Outcome::Permanent { .. }
        ));
        assert_eq!(GoogleAds.classify_rows(&bad, 2), None);
    }

    #[test]
    fn verify_validates_only() {
        let req = GoogleAds
            .plan_verify(&PlatformConfig::default(), &creds(), NOW)
            .unwrap();
        let b: Value = serde_json::from_str(req.body.as_ref().unwrap()).unwrap();
        assert_eq!(b["validateOnly"], true);
        assert_eq!(b["partialFailure"], true);
        let findings = GoogleAds.verify_findings(&resp(
            200,
            json!({"partialFailureError": {"details": [{"errors": [
                {"errorCode": {"conversionUploadError": "CLICK_NOT_FOUND"}, "message": "m", "location": {"fieldPathElements": [{"fieldName": "conversions", "index": 0}]}},
                {"errorCode": {"conversionUploadError": "INVALID_CONVERSION_ACTION"}, "message": "no such action", "location": {"fieldPathElements": [{"fieldName": "conversions", "index": 0}]}}
            ]}]}}),
        ));
        assert_eq!(findings.len(), 1);
        assert!(findings[0].contains("INVALID_CONVERSION_ACTION"));
    }
}
