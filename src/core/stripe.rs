//! Stripe events (`POST /api/v1/webhooks/stripe/{tenant_id}`, after `webhooks::verify_stripe`)
//! into conversions and refunds.
//!
//! Rules followed (Stripe API reference: Event, Checkout Session, PaymentIntent, Charge, Refund;
//! "Supported currencies"):
//! - an event is `{id, type, created, data:{object}}`; its `id` makes a replay recognizable;
//! - `checkout.session.completed` with `payment_status` paid or no_payment_required, and
//!   `checkout.session.async_payment_succeeded`, are purchases of the session's `amount_total`;
//!   `payment_intent.succeeded` is a purchase of its `amount_received`. A session that pays
//!   through a PaymentIntent sends both events: the conversion id is the PaymentIntent's id
//!   (`payment_intent` of the session) in both, so the second is a duplicate; a session without
//!   one (a subscription's first invoice) is its own id;
//! - amounts are in the currency's minor unit: divided by 100, except zero-decimal currencies
//!   (BIF, CLP, DJF, GNF, JPY, KMF, KRW, MGA, PYG, RWF, UGX, VND, VUV, XAF, XOF, XPF: as they are)
//!   and three-decimal ones (BHD, JOD, KWD, OMR, TND: by 1000). ISK, HUF and TWD stay two-decimal
//!   in the API. Currencies are lowercase there, uppercase in the conversion;
//! - the customer: the session's `customer_details` {email, phone, name, address {city, state,
//!   postal_code, country}}, or the PaymentIntent's `receipt_email`; the Stripe customer id is the
//!   external id. All of it is hashed by the intake, as any user data;
//! - the visitor and the browser event: `metadata.visitor_id` and `metadata.event_id`, else
//!   `client_reference_id` as `<visitor_id>` or `<visitor_id>__<event_id>`; with the event id the
//!   purchase is the browser's purchase event (deduplicated with it);
//! - refunds: `charge.refunded` lists the charge's refunds (`refunds.data`), `refund.created` is
//!   one; each is recorded once (by its id) against the PaymentIntent's conversion.

use serde_json::{json, Map, Value};

use super::event::FieldError;
use super::jsonmap::pick;

/// `PUT /api/v1/integrations/stripe {webhook_secret}`: the endpoint's signing secret.
pub fn parse_settings(body: &Value) -> Result<String, FieldError> {
    match body.get("webhook_secret").and_then(Value::as_str).map(str::trim) {
        Some(s) if s.starts_with("whsec_") && s.len() <= 200 && !s.contains(char::is_whitespace) => {
            Ok(s.to_string())
        }
        _ => Err(FieldError::new(
            "webhook_secret",
            "must be the webhook endpoint's signing secret from the Stripe dashboard (whsec_…, no spaces)",
        )),
    }
}

const ZERO_DECIMAL: [&str; 16] = [
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV",
    "XAF", "XOF", "XPF",
];
const THREE_DECIMAL: [&str; 5] = ["BHD", "JOD", "KWD", "OMR", "TND"];

/// A minor-unit amount in major units.
pub fn major_units(amount: i64, currency: &str) -> f64 {
    let c = currency.to_ascii_uppercase();
    let divisor = if ZERO_DECIMAL.contains(&c.as_str()) {
        1.0
    } else if THREE_DECIMAL.contains(&c.as_str()) {
        1000.0
    } else {
        100.0
    };
    amount as f64 / divisor
}

/// What a verified Stripe event means for the gateway.
#[derive(Debug, Clone, PartialEq)]
pub enum StripeAction {
    /// A purchase, as a conversion object for `conversion::parse_conversion`.
    Purchase(Value),
    Refunds(Vec<StripeRefund>),
    /// Anything else: acknowledged, nothing done (with why, for the answer).
    Ignore(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct StripeRefund {
    pub refund_id: String,
    /// The PaymentIntent the refund reverses (the purchase's conversion id).
    pub payment_intent: Option<String>,
    pub amount: f64,
    pub currency: String,
    pub created: i64,
}

/// The parts of an event every action needs.
pub struct StripeEvent {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub object: Map<String, Value>,
}

/// Reads the envelope of a (verified) event body.
pub fn parse_event(body: &[u8]) -> Result<StripeEvent, &'static str> {
    let v: Value = serde_json::from_slice(body).map_err(|_| "the body is not JSON")?;
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or("the event has no id")?;
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or("the event has no type")?;
    let object = v
        .pointer("/data/object")
        .and_then(Value::as_object)
        .ok_or("the event has no data.object")?;
    Ok(StripeEvent {
        id: id.to_string(),
        kind: kind.to_string(),
        created: v.get("created").and_then(Value::as_i64).unwrap_or(0),
        object: object.clone(),
    })
}

fn text<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// What the event asks for.
pub fn action(e: &StripeEvent) -> StripeAction {
    let o = &e.object;
    match e.kind.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let status = text(o, "payment_status").unwrap_or("paid");
            if e.kind == "checkout.session.completed"
                && !matches!(status, "paid" | "no_payment_required")
            {
                return StripeAction::Ignore(
                    "checkout completed but not paid yet (async_payment_succeeded will follow)",
                );
            }
            let id = text(o, "payment_intent").or_else(|| text(o, "id"));
            purchase(e, id, o.get("amount_total"), o.get("customer_details"))
        }
        "payment_intent.succeeded" => {
            let amount = o.get("amount_received").or_else(|| o.get("amount"));
            let receipt = text(o, "receipt_email").map(|email| json!({ "email": email }));
            purchase(e, text(o, "id"), amount, receipt.as_ref())
        }
        "charge.refunded" => {
            let currency = text(o, "currency").unwrap_or_default().to_ascii_uppercase();
            let pi = text(o, "payment_intent").map(str::to_string);
            let listed = o
                .get("refunds")
                .and_then(|r| r.get("data"))
                .and_then(Value::as_array)
                .map(|refunds| {
                    refunds
                        .iter()
                        .filter_map(|r| refund_of(r.as_object()?, pi.clone(), &currency))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            if !listed.is_empty() {
                return StripeAction::Refunds(listed);
            }
            // Refunds not expanded: the charge's refunded total, under the charge's id.
            match (
                text(o, "id"),
                o.get("amount_refunded").and_then(Value::as_i64),
            ) {
                (Some(id), Some(amount)) if amount > 0 => {
                    StripeAction::Refunds(vec![StripeRefund {
                        refund_id: format!("{id}:refunded"),
                        payment_intent: pi,
                        amount: major_units(amount, &currency),
                        currency,
                        created: e.created,
                    }])
                }
                _ => StripeAction::Ignore("a refunded charge without an amount"),
            }
        }
        "refund.created" => {
            let currency = text(o, "currency").unwrap_or_default().to_ascii_uppercase();
            let pi = text(o, "payment_intent").map(str::to_string);
            match refund_of(o, pi, &currency) {
                Some(r) => StripeAction::Refunds(vec![r]),
                None => StripeAction::Ignore("a refund without an id or amount"),
            }
        }
        _ => StripeAction::Ignore("event type not used"),
    }
}

fn refund_of(o: &Map<String, Value>, pi: Option<String>, currency: &str) -> Option<StripeRefund> {
    let currency = text(o, "currency")
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| currency.to_string());
    Some(StripeRefund {
        refund_id: text(o, "id")?.to_string(),
        payment_intent: text(o, "payment_intent").map(str::to_string).or(pi),
        amount: major_units(o.get("amount")?.as_i64()?, &currency),
        created: o.get("created").and_then(Value::as_i64).unwrap_or(0),
        currency,
    })
}

/// The conversion object of a purchase.
fn purchase(
    e: &StripeEvent,
    id: Option<&str>,
    amount: Option<&Value>,
    customer: Option<&Value>,
) -> StripeAction {
    let o = &e.object;
    let Some(id) = id else {
        return StripeAction::Ignore("a payment without an id");
    };
    let currency = text(o, "currency").unwrap_or_default().to_ascii_uppercase();
    let mut c = Map::new();
    c.insert("conversion_id".into(), json!(id));
    c.insert("name".into(), json!("purchase"));
    c.insert(
        "happened_at".into(),
        json!(if e.created > 0 {
            e.created
        } else {
            o.get("created").and_then(Value::as_i64).unwrap_or(0)
        }),
    );
    // A payment has no place: `other` (not website: Stripe tells no page or browser).
    c.insert("source".into(), json!("other"));
    c.insert("order_id".into(), json!(id));
    if let (Some(amount), false) = (amount.and_then(Value::as_i64), currency.is_empty()) {
        c.insert("value".into(), json!(major_units(amount, &currency)));
        c.insert("currency".into(), json!(currency));
    }
    let mut user = Map::new();
    if let Some(d) = customer.and_then(Value::as_object) {
        let [email, phone, name, address] = pick(d, &["email", "phone", "name", "address"]);
        for (k, v) in [("email", email), ("phone", phone)] {
            if let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) {
                user.insert(k.into(), json!(s));
            }
        }
        if let Some(name) = name.and_then(Value::as_str).map(str::trim) {
            let mut parts = name.splitn(2, ' ');
            if let Some(first) = parts.next().filter(|s| !s.is_empty()) {
                user.insert("first_name".into(), json!(first));
            }
            if let Some(last) = parts.next().map(str::trim).filter(|s| !s.is_empty()) {
                user.insert("last_name".into(), json!(last));
            }
        }
        if let Some(a) = address.and_then(Value::as_object) {
            for (from, to) in [
                ("city", "city"),
                ("state", "state"),
                ("postal_code", "zip"),
                ("country", "country"),
            ] {
                if let Some(s) = text(a, from) {
                    user.insert(to.into(), json!(s));
                }
            }
        }
    }
    if let Some(customer) = text(o, "customer") {
        user.insert("external_id".into(), json!(customer));
    }
    if !user.is_empty() {
        c.insert("user_data".into(), Value::Object(user));
    }
    let metadata = o.get("metadata").and_then(Value::as_object);
    let meta = |k: &str| metadata.and_then(|m| text(m, k));
    let (ref_visitor, ref_event) = match text(o, "client_reference_id") {
        Some(r) => match r.split_once("__") {
            Some((v, e)) => (Some(v), Some(e)),
            None => (Some(r), None),
        },
        None => (None, None),
    };
    if let Some(v) = meta("visitor_id").or(ref_visitor) {
        c.insert("visitor_id".into(), json!(v));
    }
    if let Some(ev) = meta("event_id").or(ref_event) {
        c.insert("event_id".into(), json!(ev));
    }
    StripeAction::Purchase(Value::Object(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::conversion::parse_conversion;
    use crate::core::hash::sha256_hex;

    const NOW: i64 = 1_760_000_000;

    fn event(kind: &str, object: Value) -> StripeEvent {
        let body =
            json!({"id": "evt_1", "type": kind, "created": NOW - 60, "data": {"object": object}});
        parse_event(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn minor_units_per_currency_exponent() {
        assert_eq!(major_units(4990, "eur"), 49.9);
        assert_eq!(major_units(5000, "JPY"), 5000.0);
        assert_eq!(major_units(5000, "krw"), 5000.0);
        assert_eq!(major_units(12340, "kwd"), 12.34);
        assert_eq!(
            major_units(50000, "isk"),
            500.0,
            "ISK stays two-decimal in Stripe's API"
        );
    }

    #[test]
    fn a_checkout_session_is_a_purchase_of_its_payment_intent() {
        let e = event(
            "checkout.session.completed",
            json!({
                "id": "cs_test_1", "object": "checkout.session", "payment_intent": "pi_123",
                "amount_total": 4990, "currency": "eur", "payment_status": "paid", "customer": "cus_9",
                "customer_details": {"email": "Ana@Example.com", "phone": "+34 612 34 56 78", "name": "Ana María López",
                                     "address": {"city": "Madrid", "country": "ES", "postal_code": "28001", "state": "M", "line1": "Gran Vía 1"}},
                "client_reference_id": "vis-1__evt-browser-9",
                "metadata": {}
            }),
        );
        let StripeAction::Purchase(c) = action(&e) else {
            panic!()
        };
        assert_eq!(c["conversion_id"], "pi_123");
        assert_eq!(c["value"], 49.9);
        assert_eq!(c["currency"], "EUR");
        assert_eq!(c["visitor_id"], "vis-1");
        assert_eq!(c["event_id"], "evt-browser-9");
        assert_eq!(c["user_data"]["last_name"], "María López");
        assert!(c["user_data"].get("line1").is_none());
        // The conversion it becomes: hashed, dedup'd with the browser's purchase by its event id.
        let conv = parse_conversion(&c, "", NOW).unwrap();
        let ev = &conv.parsed.event;
        assert_eq!(ev.event_id, "evt-browser-9");
        assert_eq!(ev.event_time, NOW - 60);
        assert_eq!(
            ev.user.em.as_ref().map(|h| h.as_str().to_string()),
            Some(sha256_hex("ana@example.com"))
        );
        assert_eq!(
            ev.user.external_id.as_ref().map(|h| h.as_str().to_string()),
            Some(sha256_hex("cus_9"))
        );
        let text = serde_json::to_string(ev).unwrap();
        assert!(!text.contains("Ana") && !text.contains("612"), "{text}");
    }

    #[test]
    fn payment_intents_zero_decimal_and_metadata() {
        let e = event(
            "payment_intent.succeeded",
            json!({"id": "pi_9", "amount": 5000, "amount_received": 5000, "currency": "jpy",
                   "receipt_email": "k@example.jp", "metadata": {"visitor_id": "v-7", "event_id": "e-7"}}),
        );
        let StripeAction::Purchase(c) = action(&e) else {
            panic!()
        };
        assert_eq!(
            (c["conversion_id"].as_str(), c["value"].as_f64()),
            (Some("pi_9"), Some(5000.0))
        );
        assert_eq!(c["currency"], "JPY");
        assert_eq!(
            (c["visitor_id"].as_str(), c["event_id"].as_str()),
            (Some("v-7"), Some("e-7"))
        );
        assert!(parse_conversion(&c, "", NOW).is_ok());
    }

    #[test]
    fn unpaid_sessions_refunds_and_other_events() {
        let unpaid = event(
            "checkout.session.completed",
            json!({"id": "cs_2", "payment_status": "unpaid"}),
        );
        assert!(matches!(action(&unpaid), StripeAction::Ignore(_)));
        let refunded = event(
            "charge.refunded",
            json!({"id": "ch_1", "payment_intent": "pi_123", "currency": "eur", "amount_refunded": 1000,
                   "refunds": {"data": [{"id": "re_1", "amount": 1000, "currency": "eur", "created": NOW}]}}),
        );
        assert_eq!(
            action(&refunded),
            StripeAction::Refunds(vec![StripeRefund {
                refund_id: "re_1".into(),
                payment_intent: Some("pi_123".into()),
                amount: 10.0,
                currency: "EUR".into(),
                created: NOW
            }])
        );
        let bare = event(
            "charge.refunded",
            json!({"id": "ch_2", "payment_intent": "pi_5", "currency": "jpy", "amount_refunded": 300}),
        );
        let StripeAction::Refunds(r) = action(&bare) else {
            panic!()
        };
        assert_eq!(
            (r[0].refund_id.as_str(), r[0].amount),
            ("ch_2:refunded", 300.0)
        );
        assert!(matches!(
            action(&event("customer.created", json!({"id": "cus_1"}))),
            StripeAction::Ignore(_)
        ));
        assert!(parse_event(b"not json").is_err());
        assert!(parse_event(br#"{"id":"evt","type":"x"}"#).is_err());
    }
}
