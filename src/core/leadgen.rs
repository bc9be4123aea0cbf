//! Meta Lead Ads (`GET|POST /api/v1/webhooks/meta/leadgen`, after `webhooks::verify_meta`):
//! the leadgen notifications, the Graph API calls that fetch a lead, the lead as a `lead`
//! conversion, and its forward to the tenant's CRM.
//!
//! Rules followed (Meta Webhooks for Pages, `leadgen` field; Graph API "Retrieving leads"):
//! - a notification is `{object:"page", entry:[{id, time, changes:[{field:"leadgen",
//!   value:{leadgen_id, page_id, form_id, ad_id, adgroup_id, created_time}}]}]}`; other fields
//!   are ignored;
//! - the lead is read with the page's access token: the tenant's connected Meta account (a user
//!   token with `leads_retrieval` and `pages_show_list`) reads it from `GET /{page_id}
//!   ?fields=access_token`, then `GET /{leadgen_id}?fields=id,created_time,ad_id,form_id,
//!   field_data` answers `field_data:[{name, values:[…]}]`. Tokens travel in the Authorization
//!   header, never in a URL;
//! - the answers' standard field names: email, phone_number, full_name, first_name, last_name,
//!   city, state, zip_code (or post_code), country, date_of_birth, gender; other questions are
//!   the form's own and go only to the CRM;
//! - the conversion: `lead`, source `crm` (Meta's Conversion Leads integration wants the initial
//!   lead stage too), `meta_lead_id` the leadgen id, conversion id `meta-lead-{leadgen_id}`;
//! - the CRM forward: `POST {crm_webhook_url}` with `{leadgen_id, page_id, form_id, ad_id,
//!   created_time, fields:{name: value}}`, signed with `X-Pixelgate-Signature` (see
//!   `webhooks`). The answers are never stored: a lead the CRM did not take is fetched again when
//!   Meta re-sends the notification (the webhook answers 503 so that it does).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::ads::AdsConfig;
use super::calendar::Date;
use super::event::FieldError;
use super::outbound::{json_text, InboundResponse, Method, OutboundRequest};
use super::webhooks::signature_header;

/// `PUT /api/v1/integrations/meta-leads`, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadSettings {
    pub page_ids: Vec<String>,
    /// Where each lead's answers are forwarded (signed); none: leads are only counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm_webhook_url: Option<String>,
    /// The tenant's forms collect marketing consent: leads are sent to the ad platforms as
    /// consented (else the tenant's default consent policy decides).
    #[serde(default)]
    pub marketing_consent: bool,
}

/// `{page_ids:[…], crm_webhook_url?, marketing_consent?}`; the URL follows the webhook rules.
pub fn parse_settings(body: &Value, allow_loopback: bool) -> Result<LeadSettings, FieldError> {
    let ids = body
        .get("page_ids")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty() && a.len() <= 50)
        .ok_or_else(|| FieldError::new("page_ids", "must list 1 to 50 Facebook page ids"))?;
    let mut page_ids = Vec::new();
    for (i, v) in ids.iter().enumerate() {
        let p = id(Some(v)).ok_or_else(|| {
            FieldError::new(
                format!("page_ids[{i}]"),
                "must be a Facebook page id (digits)",
            )
        })?;
        if !page_ids.contains(&p) {
            page_ids.push(p);
        }
    }
    let crm_webhook_url = match body.get("crm_webhook_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => Some(
            super::health::validate_webhook_url(u, allow_loopback)
                .map_err(|rule| FieldError::new("crm_webhook_url", rule))?,
        ),
        Some(_) => {
            return Err(FieldError::new(
                "crm_webhook_url",
                "must be a string (an https:// URL)",
            ))
        }
    };
    let marketing_consent = match body.get("marketing_consent") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(FieldError::new(
                "marketing_consent",
                "must be true or false",
            ))
        }
    };
    Ok(LeadSettings {
        page_ids,
        crm_webhook_url,
        marketing_consent,
    })
}

/// One `leadgen` change of a notification.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadChange {
    pub leadgen_id: String,
    pub page_id: String,
    pub form_id: Option<String>,
    pub ad_id: Option<String>,
    pub created_time: Option<i64>,
}

/// Ids are digits in Meta's notifications (as strings or numbers).
fn id(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s.len() <= 30 && s.bytes().all(|b| b.is_ascii_digit())).then_some(s)
}

/// The leadgen changes of a notification body; `Err` when it is no page notification at all.
pub fn parse_notification(body: &[u8]) -> Result<Vec<LeadChange>, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    if v.get("object").and_then(Value::as_str) != Some("page") {
        return Err("not a page notification");
    }
    let mut out = Vec::new();
    for entry in v
        .get("entry")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        for change in entry
            .get("changes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if change.get("field").and_then(Value::as_str) != Some("leadgen") {
                continue;
            }
            let value = change.get("value");
            let field = |k: &str| id(value.and_then(|v| v.get(k)));
            let (Some(leadgen_id), Some(page_id)) = (
                field("leadgen_id"),
                field("page_id").or_else(|| id(entry.get("id"))),
            ) else {
                continue;
            };
            out.push(LeadChange {
                leadgen_id,
                page_id,
                form_id: field("form_id"),
                ad_id: field("ad_id"),
                created_time: value
                    .and_then(|v| v.get("created_time"))
                    .and_then(Value::as_i64),
            });
        }
    }
    Ok(out)
}

fn graph_get(cfg: &AdsConfig, path: &str, token: &str) -> OutboundRequest {
    OutboundRequest {
        method: Method::Get,
        url: cfg.meta_url(path),
        headers: vec![("authorization".into(), format!("Bearer {token}").into())],
        body: None,
    }
}

/// The page's access token, read with the tenant's Meta user token.
pub fn plan_page_token(cfg: &AdsConfig, user_token: &str, page_id: &str) -> OutboundRequest {
    graph_get(cfg, &format!("{page_id}?fields=access_token"), user_token)
}

/// Installs the app on the page for its `leadgen` field (Meta sends a page's lead notifications
/// only to apps the page subscribed): `POST /{page_id}/subscribed_apps`, with the page's token.
pub fn plan_subscribe(cfg: &AdsConfig, page_token: &str, page_id: &str) -> OutboundRequest {
    OutboundRequest::post_json(
        cfg.meta_url(&format!("{page_id}/subscribed_apps")),
        json_text(&json!({"subscribed_fields": ["leadgen"]})),
    )
    .with_header("authorization", format!("Bearer {page_token}"))
}

pub fn plan_lead(cfg: &AdsConfig, page_token: &str, leadgen_id: &str) -> OutboundRequest {
    graph_get(
        cfg,
        &format!("{leadgen_id}?fields=id,created_time,ad_id,form_id,field_data"),
        page_token,
    )
}

/// A lead's answers, by field name (the first value of each).
#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    pub created_time: Option<i64>,
    pub fields: Map<String, Value>,
}

/// `2025-10-08T10:00:00+0000` (Graph's time format) → Unix seconds.
fn graph_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 24 || b[10] != b'T' {
        return None;
    }
    let date = Date::parse(&s[..10])?;
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let local = date.start_unix() + num(11..13)? * 3600 + num(14..16)? * 60 + num(17..19)?;
    let sign = match b[19] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    Some(local - sign * (num(20..22)? * 3600 + num(22..24)? * 60))
}

pub fn read_lead(body: &Value) -> Lead {
    let mut fields = Map::new();
    for f in body
        .get("field_data")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(value)) = (
            f.get("name").and_then(Value::as_str),
            f.get("values")
                .and_then(Value::as_array)
                .and_then(|v| v.first()),
        ) else {
            continue;
        };
        fields.insert(name.to_string(), value.clone());
    }
    Lead {
        created_time: body
            .get("created_time")
            .and_then(Value::as_str)
            .and_then(graph_time),
        fields,
    }
}

/// Meta's standard lead form fields → the conversion's user_data fields.
const USER_FIELDS: [(&str, &str); 11] = [
    ("email", "email"),
    ("phone_number", "phone"),
    ("first_name", "first_name"),
    ("last_name", "last_name"),
    ("city", "city"),
    ("state", "state"),
    ("zip_code", "zip"),
    ("post_code", "zip"),
    ("country", "country"),
    ("date_of_birth", "dob"),
    ("gender", "gender"),
];

/// The lead as a conversion object for `conversion::parse_conversion`. `consent` is asserted when
/// the tenant says its forms collect marketing consent.
pub fn lead_conversion(change: &LeadChange, lead: &Lead, now: i64, consent: bool) -> Value {
    let mut user = Map::new();
    for (from, to) in USER_FIELDS {
        if let Some(Value::String(s)) = lead.fields.get(from) {
            if !s.trim().is_empty() && !user.contains_key(to) {
                user.insert(to.into(), json!(s));
            }
        }
    }
    if let Some(Value::String(full)) = lead.fields.get("full_name") {
        let mut parts = full.trim().splitn(2, ' ');
        if let Some(first) = parts.next().filter(|s| !s.is_empty()) {
            user.entry("first_name").or_insert(json!(first));
        }
        if let Some(last) = parts.next().map(str::trim).filter(|s| !s.is_empty()) {
            user.entry("last_name").or_insert(json!(last));
        }
    }
    user.insert("meta_lead_id".into(), json!(change.leadgen_id));
    let at = lead
        .created_time
        .or(change.created_time)
        .filter(|t| *t <= now && *t > 0)
        .unwrap_or(now);
    let mut c = json!({
        "conversion_id": format!("meta-lead-{}", change.leadgen_id),
        "name": "lead",
        "happened_at": at,
        "source": "crm",
        "crm_name": "Meta Lead Ads",
        "user_data": user,
    });
    if consent {
        c["consent"] = json!({"marketing": true, "analytics": true});
    }
    c
}

/// The signed forward of a lead to the tenant's CRM.
pub fn plan_crm_forward(
    url: &str,
    secret: &str,
    change: &LeadChange,
    lead: &Lead,
    now: i64,
) -> OutboundRequest {
    let body = json_text(&json!({
        "leadgen_id": change.leadgen_id,
        "page_id": change.page_id,
        "form_id": change.form_id,
        "ad_id": change.ad_id,
        "created_time": lead.created_time.or(change.created_time),
        "fields": lead.fields,
    }));
    let signature = signature_header(secret, now, body.as_bytes());
    OutboundRequest::post_json(url.to_string(), body)
        .with_header("x-pixelgate-signature", signature)
        .with_header("user-agent", "pixelgate-leads/1.0")
}

/// Whether the CRM took the forward.
pub fn crm_took(r: &InboundResponse) -> bool {
    (200..300).contains(&r.status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversion::parse_conversion;
    use crate::core::event::ConversionSource;
    use crate::core::hash::sha256_hex;
    use crate::core::webhooks::verify_stripe;

    const NOW: i64 = 1_760_000_000;

    fn notification() -> Value {
        json!({"object": "page", "entry": [{"id": "1111", "time": NOW, "changes": [
            {"field": "leadgen", "value": {"leadgen_id": "444455556666", "page_id": "1111", "form_id": "777", "ad_id": "888", "created_time": NOW - 30}},
            {"field": "feed", "value": {"item": "status"}},
            {"field": "leadgen", "value": {"leadgen_id": 999, "form_id": "777"}}
        ]}]})
    }

    #[test]
    fn notifications_list_their_leadgen_changes() {
        let changes = parse_notification(notification().to_string().as_bytes()).unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(changes[0].leadgen_id, "444455556666");
        assert_eq!(changes[0].ad_id.as_deref(), Some("888"));
        assert_eq!(
            changes[1].page_id, "1111",
            "the entry's page when the value has none"
        );
        assert!(parse_notification(br#"{"object":"user","entry":[]}"#).is_err());
    }

    #[test]
    fn graph_calls_keep_tokens_out_of_urls() {
        let cfg = AdsConfig::default();
        let r = plan_page_token(&cfg, "EAAuser", "1111");
        assert_eq!(
            r.url,
            "https://graph.facebook.com/v24.0/1111?fields=access_token"
        );
        assert_eq!(r.headers[0].1, "Bearer EAAuser");
        let sub = plan_subscribe(&cfg, "EAApage", "1111");
        assert_eq!(
            sub.url,
            "https://graph.facebook.com/v24.0/1111/subscribed_apps"
        );
        assert_eq!(
            sub.body.as_deref(),
            Some(r#"{"subscribed_fields":["leadgen"]}"#)
        );
        let r = plan_lead(&cfg, "EAApage", "444455556666");
        assert_eq!(
            r.url,
            "https://graph.facebook.com/v24.0/444455556666?fields=id,created_time,ad_id,form_id,field_data"
        );
        assert!(!r.url.contains("EAA"));
    }

    fn lead() -> Lead {
        read_lead(
            &json!({"id": "444455556666", "created_time": "2025-10-09T06:53:00+0000",
            "field_data": [
                {"name": "email", "values": ["Lead@Example.com"]},
                {"name": "full_name", "values": ["Ana Pérez"]},
                {"name": "phone_number", "values": ["+34612345678"]},
                {"name": "how_soon", "values": ["this week"]}
            ]}),
        )
    }

    #[test]
    fn a_lead_becomes_a_hashed_crm_lead_conversion() {
        let change = &parse_notification(notification().to_string().as_bytes()).unwrap()[0];
        let l = lead();
        assert_eq!(l.created_time, Some(1_759_992_780));
        let c = lead_conversion(change, &l, NOW, false);
        assert_eq!(c["conversion_id"], "meta-lead-444455556666");
        assert!(c.get("consent").is_none());
        let conv = parse_conversion(&c, "", NOW).unwrap();
        let e = &conv.parsed.event;
        assert_eq!(e.event_name.as_str(), "lead");
        assert_eq!(e.event_time, 1_759_992_780);
        let ctx = e.conversion.as_deref().unwrap();
        assert_eq!(ctx.source, ConversionSource::Crm);
        assert_eq!(ctx.meta_lead_id.as_deref(), Some("444455556666"));
        assert_eq!(
            e.user.em.as_ref().map(|h| h.as_str().to_string()),
            Some(sha256_hex("lead@example.com"))
        );
        assert_eq!(
            e.user.last_name.as_ref().map(|h| h.as_str().to_string()),
            Some(sha256_hex("pérez"))
        );
        let stored = serde_json::to_string(e).unwrap();
        assert!(
            !stored.contains("Lead@") && !stored.contains("this week"),
            "{stored}"
        );
        assert_eq!(
            lead_conversion(change, &l, NOW, true)["consent"]["marketing"],
            true
        );
    }

    #[test]
    fn settings() {
        let s = parse_settings(
            &json!({"page_ids": ["1111", 2222, "1111"], "crm_webhook_url": "https://crm.example/hook"}),
            false,
        )
        .unwrap();
        assert_eq!(s.page_ids, ["1111", "2222"]);
        assert!(!s.marketing_consent);
        for (body, field) in [
            (json!({}), "page_ids"),
            (json!({"page_ids": ["abc"]}), "page_ids[0]"),
            (
                json!({"page_ids": ["1"], "crm_webhook_url": "http://10.0.0.1/x"}),
                "crm_webhook_url",
            ),
            (
                json!({"page_ids": ["1"], "marketing_consent": "yes"}),
                "marketing_consent",
            ),
        ] {
            assert_eq!(
                parse_settings(&body, false).unwrap_err().field,
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn the_crm_forward_is_signed_like_stripe() {
        let change = &parse_notification(notification().to_string().as_bytes()).unwrap()[0];
        let r = plan_crm_forward(
            "https://crm.example/hooks/leads",
            "s3cret",
            change,
            &lead(),
            NOW,
        );
        let body = r.body.as_deref().unwrap();
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["fields"]["how_soon"], "this week");
        assert_eq!(v["leadgen_id"], "444455556666");
        let sig = r
            .headers
            .iter()
            .find(|(k, _)| k == "x-pixelgate-signature")
            .map(|(_, v)| v.to_string());
        assert_eq!(
            verify_stripe(sig.as_deref(), body.as_bytes(), "s3cret", NOW),
            Ok(())
        );
    }
}
