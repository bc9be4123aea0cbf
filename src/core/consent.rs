//! Consent records and the decision, per destination, of what may be sent.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::{AssertedConsent, FieldError};
use super::platform::Platform;

/// The latest consent state of a visitor (what the KV cache holds; D1 keeps every version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentState {
    pub analytics: bool,
    pub marketing: bool,
    pub functional: bool,
    pub version: String,
    /// Unix seconds.
    pub updated_at: i64,
    /// IAB TCF v2 TC string when a CMP supplied the choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tc_string: Option<String>,
}

/// What a tenant does for visitors without a record, and whether it wants limited-data sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConsentPolicy {
    /// Default for visitors without a record. GDPR-safe default: deny both.
    #[serde(default)]
    pub default_analytics: bool,
    #[serde(default)]
    pub default_marketing: bool,
    /// Without marketing consent, send ad platforms an event stripped of every user identifier
    /// (Meta with data_processing_options LDU) instead of nothing.
    #[serde(default)]
    pub limited_data_without_consent: bool,
}

/// How an event may go to a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    Full,
    /// No user identifiers at all; the platform's limited-data flag set.
    Limited,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Send(DeliveryMode),
    Skip(&'static str),
}

/// The effective purposes for one event: an assertion by a trusted server caller wins, then the
/// stored record, then the tenant's default.
pub fn effective(
    asserted: Option<AssertedConsent>,
    stored: Option<&ConsentState>,
    policy: &ConsentPolicy,
) -> AssertedConsent {
    if let Some(a) = asserted {
        return a;
    }
    match stored {
        Some(s) => AssertedConsent {
            analytics: s.analytics,
            marketing: s.marketing,
        },
        None => AssertedConsent {
            analytics: policy.default_analytics,
            marketing: policy.default_marketing,
        },
    }
}

/// Marketing consent gates the ad platforms; analytics consent gates GA4.
pub fn decide(platform: Platform, consent: AssertedConsent, policy: &ConsentPolicy) -> Decision {
    if platform.is_advertising() {
        if consent.marketing {
            Decision::Send(DeliveryMode::Full)
        } else if policy.limited_data_without_consent {
            Decision::Send(DeliveryMode::Limited)
        } else {
            Decision::Skip("no marketing consent")
        }
    } else if consent.analytics {
        Decision::Send(DeliveryMode::Full)
    } else {
        Decision::Skip("no analytics consent")
    }
}

/// The `version` of the consent record an erase leaves: every purpose denied. It stops what the
/// erased visitor still had in flight, and a later choice of the visitor's own supersedes it.
pub const ERASED_VERSION: &str = "erased";

impl ConsentState {
    /// The record an erase of the visitor at `at` leaves.
    pub fn erasure(at: i64) -> ConsentState {
        ConsentState {
            analytics: false,
            marketing: false,
            functional: false,
            version: ERASED_VERSION.to_string(),
            updated_at: at,
            tc_string: None,
        }
    }

    pub fn is_erasure(&self) -> bool {
        self.version == ERASED_VERSION
    }
}

/// What becomes of a delivery planned at intake when it is about to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recheck {
    /// Send, in this mode (never more than was planned).
    Send(DeliveryMode),
    /// The visitor withdrew consent after the event: record the skip with this reason.
    Skip(&'static str),
    /// The visitor was erased after the event: send nothing and record nothing.
    Erased,
}

/// Consent holds at delivery time: the visitor's current record (`now`) is checked again for an
/// event that happened at `event_time`. Only a choice made at or after the event can change the
/// plan, since the intake already applied anything older (or the tenant's server asserted the
/// consent itself); a grant never upgrades a limited-data delivery.
pub fn recheck(
    platform: Platform,
    planned: DeliveryMode,
    event_time: i64,
    now: Option<&ConsentState>,
    policy: &ConsentPolicy,
) -> Recheck {
    let Some(state) = now.filter(|s| s.updated_at >= event_time) else {
        return Recheck::Send(planned);
    };
    if state.is_erasure() {
        return Recheck::Erased;
    }
    let consent = AssertedConsent {
        analytics: state.analytics,
        marketing: state.marketing,
    };
    match decide(platform, consent, policy) {
        Decision::Skip(_) => Recheck::Skip("consent withdrawn after the event"),
        Decision::Send(DeliveryMode::Limited) => Recheck::Send(DeliveryMode::Limited),
        Decision::Send(DeliveryMode::Full) => Recheck::Send(planned),
    }
}

/// Google Consent Mode v2 signals derived from the purposes (GA4 MP `consent` object).
pub fn google_consent_signals(consent: AssertedConsent) -> (&'static str, &'static str) {
    let v = if consent.marketing {
        "GRANTED"
    } else {
        "DENIED"
    };
    (v, v)
}

const VERSION_RULE: &str =
    "must be a number, or a string of at most 32 bytes with at least one non-space character";

/// Parses `POST /api/v1/tracking/consent`. Returns the visitor id and the new state.
pub fn parse_consent_body(body: &Value, now: i64) -> Result<(String, ConsentState), FieldError> {
    let obj = body
        .as_object()
        .ok_or_else(|| FieldError::new("body", "must be a JSON object"))?;
    let visitor_id = match obj.get("visitor_id") {
        Some(Value::String(s))
            if !s.is_empty()
                && s.len() <= 128
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')) =>
        {
            s.clone()
        }
        Some(_) => {
            return Err(FieldError::new(
                "visitor_id",
                "must be 1-128 characters, each an ASCII letter, digit, '-', '_', '.' or ':'",
            ))
        }
        None => return Err(FieldError::new("visitor_id", "is required")),
    };
    let flag = |key: &str| -> Result<bool, FieldError> {
        match obj.get(key) {
            Some(Value::Bool(b)) => Ok(*b),
            None | Some(Value::Null) => Ok(false),
            Some(_) => Err(FieldError::new(key, "must be true or false")),
        }
    };
    let version = match obj.get("version") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 32 => s.trim().to_string(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) => return Err(FieldError::new("version", "is required")),
        Some(_) => return Err(FieldError::new("version", VERSION_RULE)),
    };
    let tc_string = match obj.get("tc_string") {
        Some(Value::String(s)) if s.len() <= 4096 => Some(s.clone()),
        None | Some(Value::Null) => None,
        Some(_) => {
            return Err(FieldError::new(
                "tc_string",
                "must be the TCF consent string, at most 4096 bytes",
            ))
        }
    };
    Ok((
        visitor_id,
        ConsentState {
            analytics: flag("analytics")?,
            marketing: flag("marketing")?,
            functional: flag("functional")?,
            version,
            updated_at: now,
            tc_string,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(analytics: bool, marketing: bool) -> ConsentState {
        ConsentState {
            analytics,
            marketing,
            functional: true,
            version: "1".into(),
            updated_at: 0,
            tc_string: None,
        }
    }

    #[test]
    fn missing_record_uses_tenant_default_deny() {
        let policy = ConsentPolicy::default();
        let c = effective(None, None, &policy);
        for p in Platform::ALL {
            assert!(matches!(decide(p, c, &policy), Decision::Skip(_)), "{p:?}");
        }
    }

    #[test]
    fn marketing_gates_ads_and_analytics_gates_ga4() {
        let policy = ConsentPolicy::default();
        let only_analytics = effective(None, Some(&state(true, false)), &policy);
        assert_eq!(
            decide(Platform::Google, only_analytics, &policy),
            Decision::Send(DeliveryMode::Full)
        );
        assert_eq!(
            decide(Platform::Meta, only_analytics, &policy),
            Decision::Skip("no marketing consent")
        );
        let only_marketing = effective(None, Some(&state(false, true)), &policy);
        assert_eq!(
            decide(Platform::Tiktok, only_marketing, &policy),
            Decision::Send(DeliveryMode::Full)
        );
        assert_eq!(
            decide(Platform::Google, only_marketing, &policy),
            Decision::Skip("no analytics consent")
        );
    }

    #[test]
    fn limited_data_mode_when_the_tenant_chose_it() {
        let policy = ConsentPolicy {
            limited_data_without_consent: true,
            ..ConsentPolicy::default()
        };
        let none = effective(None, None, &policy);
        assert_eq!(
            decide(Platform::Meta, none, &policy),
            Decision::Send(DeliveryMode::Limited)
        );
        assert!(matches!(
            decide(Platform::Google, none, &policy),
            Decision::Skip(_)
        ));
    }

    #[test]
    fn trusted_assertion_wins_over_stored_record() {
        let policy = ConsentPolicy::default();
        let asserted = AssertedConsent {
            analytics: false,
            marketing: true,
        };
        let c = effective(Some(asserted), Some(&state(true, false)), &policy);
        assert_eq!(c, asserted);
        assert_eq!(google_consent_signals(c), ("GRANTED", "GRANTED"));
    }

    #[test]
    fn consent_body_validation_names_fields() {
        let (v, s) = parse_consent_body(
            &json!({"visitor_id": "v-1", "analytics": true, "marketing": false, "functional": true, "version": "2024-01"}),
            7,
        )
        .unwrap();
        assert_eq!(v, "v-1");
        assert!(s.analytics && !s.marketing && s.functional);
        assert_eq!(s.updated_at, 7);
        for (body, field) in [
            (json!({"analytics": true, "version": "1"}), "visitor_id"),
            (json!({"visitor_id": "a b", "version": "1"}), "visitor_id"),
            (
                json!({"visitor_id": "v", "marketing": "yes", "version": "1"}),
                "marketing",
            ),
            (json!({"visitor_id": "v"}), "version"),
        ] {
            assert_eq!(
                parse_consent_body(&body, 0).unwrap_err().field,
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn consent_is_checked_again_at_delivery() {
        use DeliveryMode::{Full, Limited};
        let state = |analytics, marketing, at| ConsentState {
            analytics,
            marketing,
            functional: true,
            version: "v1".into(),
            updated_at: at,
            tc_string: None,
        };
        let strict = ConsentPolicy::default();
        let limited = ConsentPolicy {
            limited_data_without_consent: true,
            ..ConsentPolicy::default()
        };
        let withdrawn = state(false, false, 200);
        // No record, or one older than the event: the plan stands.
        assert_eq!(
            recheck(Platform::Meta, Full, 100, None, &strict),
            Recheck::Send(Full)
        );
        assert_eq!(
            recheck(Platform::Meta, Full, 300, Some(&withdrawn), &strict),
            Recheck::Send(Full)
        );
        // A withdrawal after the event skips it, or downgrades it where the tenant chose
        // limited data; GA4 follows analytics consent.
        assert_eq!(
            recheck(Platform::Meta, Full, 100, Some(&withdrawn), &strict),
            Recheck::Skip("consent withdrawn after the event")
        );
        assert_eq!(
            recheck(Platform::Meta, Full, 100, Some(&withdrawn), &limited),
            Recheck::Send(Limited)
        );
        assert_eq!(
            recheck(
                Platform::Google,
                Full,
                100,
                Some(&state(true, false, 200)),
                &strict
            ),
            Recheck::Send(Full)
        );
        assert_eq!(
            recheck(
                Platform::Google,
                Full,
                100,
                Some(&state(false, true, 200)),
                &strict
            ),
            Recheck::Skip("consent withdrawn after the event")
        );
        // A later grant never upgrades a limited delivery.
        assert_eq!(
            recheck(
                Platform::Tiktok,
                Limited,
                100,
                Some(&state(true, true, 200)),
                &limited
            ),
            Recheck::Send(Limited)
        );
        // An erase after the event stops it without a trace; one before it is a plain denial.
        let erased = ConsentState::erasure(200);
        assert!(erased.is_erasure() && !erased.marketing && !erased.analytics);
        assert_eq!(
            recheck(Platform::Linkedin, Full, 100, Some(&erased), &strict),
            Recheck::Erased
        );
        assert_eq!(
            recheck(Platform::Linkedin, Full, 200, Some(&erased), &strict),
            Recheck::Erased
        );
        assert_eq!(
            recheck(Platform::Linkedin, Full, 300, Some(&erased), &strict),
            Recheck::Send(Full)
        );
    }
}
