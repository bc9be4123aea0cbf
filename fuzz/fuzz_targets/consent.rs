//! The consent body: `parse_consent_body` on any JSON; what it accepts round-trips through the
//! KV cache's JSON and through the consent cookie.
#![no_main]

mod common;

use common::NOW;
use libfuzzer_sys::fuzz_target;
use pixelgate::core::consent::{parse_consent_body, ConsentState};
use pixelgate::core::cookies::{consent_cookie_value, parse_cookie_header};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let Ok((visitor_id, state)) = parse_consent_body(&body, NOW) else {
        return;
    };
    assert!((1..=128).contains(&visitor_id.len()));
    assert!(!state.version.is_empty() && state.version.len() <= 32);
    assert!(state.tc_string.as_ref().is_none_or(|t| t.len() <= 4096));
    let back: ConsentState = serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();
    assert_eq!(back, state);
    let cookie = consent_cookie_value(&state);
    assert!(cookie.len() <= 36);
    let cookies = parse_cookie_header(&format!("a=1; pg_consent={cookie}; b=2"));
    assert_eq!(cookies.get("pg_consent"), Some(&cookie));
});
