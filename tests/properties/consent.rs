//! The consent body (`parse_consent_body`), the consent state as the KV cache stores it, and the
//! consent cookie.
//!
//! There is no TCF decoder to test: the gateway keeps a CMP's TC string as it came (at most
//! 4096 bytes) next to the record and decides from the purposes the body states.

use pixelgate::core::consent::{parse_consent_body, ConsentState};
use pixelgate::core::cookies::{consent_cookie_value, parse_cookie_header};
use proptest::prelude::*;
use serde_json::Value;

use crate::strategies::{field, id, json_value, object, text, NOW};

fn flag() -> BoxedStrategy<Option<Value>> {
    field(prop_oneof![any::<bool>().prop_map(Value::from), Just(Value::Null)].boxed())
}

fn consent_body() -> BoxedStrategy<Value> {
    let version = prop_oneof![
        "[ ]?[0-9a-zA-Z.-]{1,12}[ ]?".prop_map(Value::from),
        "[a-z]{30,34}".prop_map(Value::from),
        any::<u32>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        text(12).prop_map(Value::from),
    ];
    let tc_string = prop_oneof![
        "C[A-Za-z0-9_-]{10,80}(\\.[A-Za-z0-9_-]{4,20})?".prop_map(Value::from),
        (4090usize..4100).prop_map(|n| Value::from("C".repeat(n))),
        text(40).prop_map(Value::from),
    ];
    object(vec![
        ("visitor_id", field(id())),
        ("analytics", flag()),
        ("marketing", flag()),
        ("functional", flag()),
        ("version", field(version.boxed())),
        ("tc_string", field(tc_string.boxed())),
    ])
}

fn check(body: &Value) -> Result<(), TestCaseError> {
    let Ok((visitor_id, state)) = parse_consent_body(body, NOW) else {
        return Ok(());
    };
    prop_assert!((1..=128).contains(&visitor_id.len()));
    prop_assert!(visitor_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')));
    prop_assert!(!state.version.is_empty() && state.version.len() <= 32);
    prop_assert_eq!(state.version.trim(), &state.version);
    prop_assert!(state.tc_string.as_ref().is_none_or(|t| t.len() <= 4096));
    prop_assert_eq!(state.updated_at, NOW);
    prop_assert!(!state.is_erasure() || state.version == "erased");

    // The KV cache's copy decodes to the same state.
    let back: ConsentState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    prop_assert_eq!(&back, &state);

    // The cookie carries the purposes and a cookie-safe version, and reads back from a header.
    let cookie = consent_cookie_value(&state);
    let b = |x: bool| if x { '1' } else { '0' };
    let purposes: String = [state.analytics, state.marketing, state.functional]
        .map(b)
        .into_iter()
        .collect();
    let prefix = format!("{purposes}.");
    prop_assert!(cookie.starts_with(&prefix), "{} for {:?}", cookie, state);
    prop_assert!(cookie.len() <= 4 + 32);
    prop_assert!(cookie[4..]
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
    let header = format!("a=1; pg_consent={cookie}; b=2");
    let cookies = parse_cookie_header(&header);
    prop_assert_eq!(cookies.get("pg_consent"), Some(&cookie));
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn consent_body_takes_any_json(v in json_value()) {
        check(&v)?;
    }

    #[test]
    fn consent_bodies_validate_and_round_trip(v in consent_body()) {
        check(&v)?;
    }

    #[test]
    fn cookie_headers_never_panic(header in text(80)) {
        for (k, v) in parse_cookie_header(&header) {
            prop_assert!(header.contains(&k) && header.contains(&v));
        }
    }
}
