//! A tenant's ads report settings (`GET|PUT /api/v1/ads/settings`): the currency shown when a
//! platform names none, which Meta action types count as conversions, the targets the efficiency
//! score compares against, and the EU consent its Customer Match uploads carry.
//!
//! Rules followed:
//! - stored as a JSON object of the fields set; a missing or unreadable field takes its default,
//!   so settings written by an older version keep working;
//! - an update merges the given fields into the stored ones; `null` resets a field to its
//!   default; an unknown field, or a bad value, is refused naming the field;
//! - `default_currency` is an ISO 4217 code (three letters, upper-cased), EUR unless set. It is
//!   only a fallback: money is always reported in the account's own currency, and an account
//!   whose platform names no currency is connected with this one, never silently with USD;
//! - `meta_conversion_actions`: 1 to 20 Meta action types, default purchases and leads. A family
//!   name (`purchase`, `lead`, `complete_registration`, `add_to_cart`, `initiate_checkout`,
//!   `subscribe`, `contact`, `schedule`) stands for the platform's overlapping types of that
//!   action, counted once (see `meta_insights::ConversionRule`); any other action type
//!   (`onsite_conversion.messaging_conversation_started_7d`, a custom conversion
//!   `offsite_conversion.custom.123`) counts as itself;
//! - `customer_match_consent`: `{ad_user_data, ad_personalization}` booleans the tenant asserts
//!   for its customer lists (Google requires them for EEA users); unset, uploads carry none.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::score::ScoreTargets;
use crate::core::event::FieldError;

pub const DEFAULT_CURRENCY: &str = "EUR";
pub const MAX_META_ACTIONS: usize = 20;

/// The families `meta_conversion_actions` may name, each with the Meta action types it reads, in
/// the order they are tried (the aggregate first: it already includes its parts).
pub const META_ACTION_FAMILIES: [(&str, &[&str]); 8] = [
    (
        "purchase",
        &[
            "purchase",
            "omni_purchase",
            "offsite_conversion.fb_pixel_purchase",
        ],
    ),
    (
        "lead",
        &[
            "lead",
            "offsite_conversion.fb_pixel_lead",
            "onsite_conversion.lead_grouped",
        ],
    ),
    (
        "complete_registration",
        &[
            "complete_registration",
            "omni_complete_registration",
            "offsite_conversion.fb_pixel_complete_registration",
        ],
    ),
    (
        "add_to_cart",
        &[
            "add_to_cart",
            "omni_add_to_cart",
            "offsite_conversion.fb_pixel_add_to_cart",
        ],
    ),
    (
        "initiate_checkout",
        &[
            "initiate_checkout",
            "omni_initiated_checkout",
            "offsite_conversion.fb_pixel_initiate_checkout",
        ],
    ),
    (
        "subscribe",
        &["subscribe", "offsite_conversion.fb_pixel_custom.subscribe"],
    ),
    (
        "contact",
        &["contact", "offsite_conversion.fb_pixel_contact"],
    ),
    (
        "schedule",
        &["schedule", "offsite_conversion.fb_pixel_schedule"],
    ),
];

/// The action types a `meta_conversion_actions` entry reads: its family's, or itself.
pub fn meta_action_family(name: &str) -> Vec<String> {
    META_ACTION_FAMILIES
        .iter()
        .find(|(family, _)| *family == name)
        .map(|(_, types)| types.iter().map(|t| t.to_string()).collect())
        .unwrap_or_else(|| vec![name.to_string()])
}

/// EU user consent the tenant asserts for its customer lists (Google requires it for EEA users).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerMatchConsent {
    pub ad_user_data: bool,
    pub ad_personalization: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdsSettings {
    pub default_currency: String,
    pub meta_conversion_actions: Vec<String>,
    pub targets: ScoreTargets,
    pub customer_match_consent: Option<CustomerMatchConsent>,
}

impl Default for AdsSettings {
    fn default() -> Self {
        AdsSettings {
            default_currency: DEFAULT_CURRENCY.into(),
            meta_conversion_actions: vec!["purchase".into(), "lead".into()],
            targets: ScoreTargets::default(),
            customer_match_consent: None,
        }
    }
}

const TARGET_FIELDS: [&str; 4] = [
    "target_ctr_percent",
    "target_conversion_rate_percent",
    "target_cpa",
    "target_roas",
];

impl AdsSettings {
    /// The stored object over the defaults; a field that does not read is its default.
    pub fn from_stored(stored: &Value) -> AdsSettings {
        let mut s = AdsSettings::default();
        let Some(obj) = stored.as_object() else {
            return s;
        };
        if let Ok(c) = currency(obj.get("default_currency"), "default_currency") {
            s.default_currency = c.unwrap_or(s.default_currency);
        }
        if let Ok(Some(a)) = meta_actions(obj.get("meta_conversion_actions")) {
            s.meta_conversion_actions = a;
        }
        for key in TARGET_FIELDS {
            if let Ok(v) = target(obj.get(key), key) {
                s.targets.set(key, v);
            }
        }
        if let Ok(c) = consent(obj.get("customer_match_consent")) {
            s.customer_match_consent = c;
        }
        s
    }

    /// The settings as the API shows them: every field, defaults included.
    pub fn to_json(&self) -> Value {
        json!({
            "default_currency": self.default_currency,
            "meta_conversion_actions": self.meta_conversion_actions,
            "target_ctr_percent": self.targets.target_ctr_percent,
            "target_conversion_rate_percent": self.targets.target_conversion_rate_percent,
            "target_cpa": self.targets.target_cpa,
            "target_roas": self.targets.target_roas,
            "customer_match_consent": self.customer_match_consent,
        })
    }
}

/// Merges an update into the stored object; the new stored object, or the first bad field.
pub fn merge_update(stored: &Value, update: &Value) -> Result<Value, FieldError> {
    let input = update
        .as_object()
        .ok_or_else(|| FieldError::new("body", "must be a JSON object"))?;
    let mut out: Map<String, Value> = stored.as_object().cloned().unwrap_or_default();
    for (key, v) in input {
        let value = match key.as_str() {
            "default_currency" => currency(Some(v), key)?.map(Value::from),
            "meta_conversion_actions" => meta_actions(Some(v))?.map(|a| json!(a)),
            "customer_match_consent" => consent(Some(v))?.map(|c| json!(c)),
            k if TARGET_FIELDS.contains(&k) => target(Some(v), key)?.map(Value::from),
            _ => return Err(FieldError::new(key, "is not a known ads setting")),
        };
        match value {
            Some(v) => out.insert(key.clone(), v),
            None => out.remove(key),
        };
    }
    Ok(Value::Object(out))
}

fn currency(v: Option<&Value>, field: &str) -> Result<Option<String>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let code = s.trim().to_ascii_uppercase();
            if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
                Ok(Some(code))
            } else {
                Err(FieldError::new(
                    field,
                    "must be an ISO 4217 currency code such as EUR",
                ))
            }
        }
        Some(_) => Err(FieldError::new(
            field,
            "must be an ISO 4217 currency code such as EUR",
        )),
    }
}

fn meta_actions(v: Option<&Value>) -> Result<Option<Vec<String>>, FieldError> {
    const FIELD: &str = "meta_conversion_actions";
    let arr = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_META_ACTIONS => a,
        Some(_) => {
            return Err(FieldError::new(
                FIELD,
                format!("must be an array of 1 to {MAX_META_ACTIONS} Meta action types"),
            ))
        }
    };
    let mut out: Vec<String> = Vec::new();
    for (i, item) in arr.iter().enumerate() {
        let name = item
            .as_str()
            .map(|s| s.trim().to_ascii_lowercase())
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= 100
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            })
            .ok_or_else(|| {
                FieldError::new(
                    format!("{FIELD}[{i}]"),
                    "must be a Meta action type such as purchase, lead or offsite_conversion.custom.123 (letters, digits, '_' and '.')",
                )
            })?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(Some(out))
}

fn target(v: Option<&Value>, field: &str) -> Result<Option<f64>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x > 0.0 && x.is_finite() => Ok(Some(x)),
            _ => Err(FieldError::new(
                field,
                "must be a positive number or null (default)",
            )),
        },
        Some(_) => Err(FieldError::new(
            field,
            "must be a positive number or null (default)",
        )),
    }
}

fn consent(v: Option<&Value>) -> Result<Option<CustomerMatchConsent>, FieldError> {
    const FIELD: &str = "customer_match_consent";
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => {
            let flag = |k: &str| match o.get(k) {
                Some(Value::Bool(b)) => Ok(*b),
                _ => Err(FieldError::new(
                    format!("{FIELD}.{k}"),
                    "must be true (GRANTED) or false (DENIED)",
                )),
            };
            if let Some(k) = o
                .keys()
                .find(|k| !["ad_user_data", "ad_personalization"].contains(&k.as_str()))
            {
                return Err(FieldError::new(
                    format!("{FIELD}.{k}"),
                    "is not a consent field (ad_user_data, ad_personalization)",
                ));
            }
            Ok(Some(CustomerMatchConsent {
                ad_user_data: flag("ad_user_data")?,
                ad_personalization: flag("ad_personalization")?,
            }))
        }
        Some(_) => Err(FieldError::new(
            FIELD,
            "must be {ad_user_data, ad_personalization} or null",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_when_nothing_is_stored() {
        let s = AdsSettings::from_stored(&json!({}));
        assert_eq!(s.default_currency, "EUR");
        assert_eq!(s.meta_conversion_actions, ["purchase", "lead"]);
        assert_eq!(s.customer_match_consent, None);
        assert_eq!(AdsSettings::from_stored(&json!("garbage")), s);
        assert_eq!(s.to_json()["target_roas"], json!(4.0));
        assert_eq!(s.to_json()["target_cpa"], json!(null));
    }

    #[test]
    fn updates_merge_validate_and_reset_with_null() {
        let stored = merge_update(
            &json!({}),
            &json!({"default_currency": "usd", "target_cpa": 25, "meta_conversion_actions": ["Purchase", "onsite_conversion.messaging_conversation_started_7d", "purchase"],
                    "customer_match_consent": {"ad_user_data": true, "ad_personalization": false}}),
        )
        .unwrap();
        let s = AdsSettings::from_stored(&stored);
        assert_eq!(s.default_currency, "USD");
        assert_eq!(s.targets.target_cpa, Some(25.0));
        assert_eq!(
            s.meta_conversion_actions,
            [
                "purchase",
                "onsite_conversion.messaging_conversation_started_7d"
            ]
        );
        assert_eq!(
            s.customer_match_consent,
            Some(CustomerMatchConsent {
                ad_user_data: true,
                ad_personalization: false
            })
        );
        let reset = merge_update(&stored, &json!({"default_currency": null})).unwrap();
        assert_eq!(AdsSettings::from_stored(&reset).default_currency, "EUR");
        assert_eq!(
            AdsSettings::from_stored(&reset).targets.target_cpa,
            Some(25.0)
        );

        let err = |body: Value| merge_update(&json!({}), &body).unwrap_err().field;
        assert_eq!(err(json!({"default_currency": "EURO"})), "default_currency");
        assert_eq!(err(json!({"target_roas": -1})), "target_roas");
        assert_eq!(
            err(json!({"target_ctr_percent": "2"})),
            "target_ctr_percent"
        );
        assert_eq!(
            err(json!({"meta_conversion_actions": []})),
            "meta_conversion_actions"
        );
        assert_eq!(
            err(json!({"meta_conversion_actions": ["purchase", "bad type!"]})),
            "meta_conversion_actions[1]"
        );
        assert_eq!(
            err(
                json!({"customer_match_consent": {"ad_user_data": "yes", "ad_personalization": true}})
            ),
            "customer_match_consent.ad_user_data"
        );
        assert_eq!(
            err(
                json!({"customer_match_consent": {"ad_user_data": true, "ad_personalization": true, "x": 1}})
            ),
            "customer_match_consent.x"
        );
        assert_eq!(err(json!({"currency": "EUR"})), "currency");
        assert_eq!(
            merge_update(&json!({}), &json!([])).unwrap_err().field,
            "body"
        );
    }

    #[test]
    fn action_families_expand_and_others_count_as_themselves() {
        assert_eq!(
            meta_action_family("lead"),
            [
                "lead",
                "offsite_conversion.fb_pixel_lead",
                "onsite_conversion.lead_grouped"
            ]
        );
        assert_eq!(
            meta_action_family("offsite_conversion.custom.123"),
            ["offsite_conversion.custom.123"]
        );
    }
}
