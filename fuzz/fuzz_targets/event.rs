//! The event intake: a request body (JSON) through `parse_event` and `parse_batch`, then every
//! accepted event through routing and its queue message, which must decode to the same message.
#![no_main]

mod common;

use std::sync::{Arc, LazyLock};

use common::{assert_same_after_json, NOW};
use libfuzzer_sys::fuzz_target;
use pixelgate::core::consent::{ConsentPolicy, ConsentState};
use pixelgate::core::event::{parse_batch, parse_event, Event, IntakeContext, MAX_BODY_BYTES};
use pixelgate::core::fanout::{route, PixelRoute, QueueMessage};
use pixelgate::core::platform::Platform;
use serde_json::Value;

/// A pixel of every platform, some restricted to domains or events.
static PIXELS: LazyLock<Vec<PixelRoute>> = LazyLock::new(|| {
    let pixel = |id: &str, platform, domains: &[&str], event_names: &[&str]| PixelRoute {
        id: id.to_string(),
        platform,
        is_active: true,
        server_side_enabled: true,
        domains: domains.iter().map(|s| s.to_string()).collect(),
        event_names: event_names.iter().map(|s| s.to_string()).collect(),
    };
    vec![
        pixel("p-meta", Platform::Meta, &[], &[]),
        pixel("p-google", Platform::Google, &["example.com"], &[]),
        pixel("p-linkedin", Platform::Linkedin, &[], &["purchase", "lead"]),
        pixel("p-tiktok", Platform::Tiktok, &["*.shop.example"], &[]),
    ]
});

fn check(event: Event, input: usize, stored: Option<&ConsentState>, policy: &ConsentPolicy) {
    let encoded_event = serde_json::to_string(&event).unwrap();
    // Hashes (13 x 64 bytes), the context and numbers printed in full aside, an event is no
    // larger than the body it came from.
    assert!(
        encoded_event.len() <= 4 * input + 4096,
        "{} bytes from {input}",
        encoded_event.len()
    );
    let back: Event = serde_json::from_str(&encoded_event).unwrap();
    assert_same_after_json(&back, &event);

    let event = Arc::new(event);
    let routed = route("tenant-1", &event, &PIXELS, stored, policy);
    let message = QueueMessage::accepted("tenant-1", event, routed, NOW);
    let encoded = serde_json::to_string(&message).unwrap();
    assert!(!encoded.contains('\n'));
    let back: QueueMessage = serde_json::from_str(&encoded).unwrap();
    assert_same_after_json(&back, &message);
    assert_same_after_json(&back.jobs(), &message.jobs());
}

fuzz_target!(|data: &[u8]| {
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    // The request's context varies with the input, so every path of the consent and phone rules
    // is reachable.
    let byte = data.first().copied().unwrap_or(0);
    let ctx = IntakeContext {
        now: NOW,
        ip: Some("203.0.113.7"),
        user_agent: Some("Mozilla/5.0 (fuzz)"),
        geo_country: [None, Some("us"), Some("GB"), Some("de")][usize::from(byte & 3)],
        trusted: byte & 4 != 0,
    };
    let stored = (byte & 8 != 0).then(|| ConsentState {
        analytics: byte & 16 != 0,
        marketing: byte & 32 != 0,
        functional: true,
        version: "1".into(),
        updated_at: NOW - 10,
        tc_string: None,
    });
    let policy = ConsentPolicy {
        default_analytics: byte & 16 == 0,
        default_marketing: false,
        limited_data_without_consent: byte & 64 != 0,
    };
    let mut n = 0u32;
    let mut new_id = || {
        n += 1;
        format!("gen-{n}")
    };

    if let Ok(p) = parse_event(&body, "", &ctx, &mut new_id) {
        check(p.event, data.len(), stored.as_ref(), &policy);
    }
    if let Ok(intake) = parse_batch(&body, &ctx, &mut new_id) {
        let events = body["events"].as_array().unwrap().len();
        assert_eq!(intake.accepted.len() + intake.rejected.len(), events);
        assert!(intake.rejected.windows(2).all(|w| w[0].index < w[1].index));
        for p in intake.accepted {
            check(p.event, data.len(), stored.as_ref(), &policy);
        }
    }
});
