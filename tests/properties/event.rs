//! The event intake (`parse_event`, `parse_batch`) and the queue message of an accepted event.

use std::sync::Arc;

use pixelgate::core::consent::{ConsentPolicy, ConsentState};
use pixelgate::core::event::{parse_batch, parse_event, Event, IntakeContext, Parsed};
use pixelgate::core::fanout::{route, PixelRoute, QueueMessage};
use pixelgate::core::platform::Platform;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Value};

use crate::queue::{decode_all, edits, mutate};
use crate::same_after_json;
use crate::strategies::{event_object, json_value, text, NOW, PII_DOMAIN};

/// What the edge knows of a request, as generated.
#[derive(Debug, Clone)]
struct Ctx {
    trusted: bool,
    geo_country: Option<&'static str>,
    user_agent: Option<String>,
}

impl Ctx {
    fn intake(&self) -> IntakeContext<'_> {
        IntakeContext {
            now: NOW,
            ip: Some("203.0.113.7"),
            user_agent: self.user_agent.as_deref(),
            geo_country: self.geo_country,
            trusted: self.trusted,
        }
    }
}

fn ctx() -> impl Strategy<Value = Ctx> {
    (
        any::<bool>(),
        select(&[None, Some("us"), Some("GB"), Some("de"), Some("zz")][..]),
        prop::option::of(text(600)),
    )
        .prop_map(|(trusted, geo_country, user_agent)| Ctx {
            trusted,
            geo_country,
            user_agent,
        })
}

fn pixels() -> impl Strategy<Value = Vec<PixelRoute>> {
    let pixel = (
        "[0-9a-f]{8}",
        select(&Platform::ALL[..]),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        prop::collection::vec(
            select(&["example.com", "*.example.com", "shop.example", " b.com "][..]),
            0..2,
        ),
        prop::collection::vec(
            select(&["purchase", "lead", "my_custom_1", "page_view", "Purchase"][..]),
            0..2,
        ),
    )
        .prop_map(
            |(id, platform, is_active, server_side_enabled, domains, names)| PixelRoute {
                id,
                platform,
                is_active,
                server_side_enabled,
                domains: domains.into_iter().map(str::to_string).collect(),
                event_names: names.into_iter().map(str::to_string).collect(),
            },
        );
    prop::collection::vec(pixel, 0..5)
}

fn stored_consent() -> impl Strategy<Value = Option<ConsentState>> {
    prop::option::of(
        (any::<[bool; 3]>(), "[a-z0-9-]{1,8}", NOW - 100..NOW + 100).prop_map(
            |([analytics, marketing, functional], version, updated_at)| ConsentState {
                analytics,
                marketing,
                functional,
                version,
                updated_at,
                tc_string: None,
            },
        ),
    )
}

fn policy() -> impl Strategy<Value = ConsentPolicy> {
    any::<[bool; 3]>().prop_map(|[a, m, l]| ConsentPolicy {
        default_analytics: a,
        default_marketing: m,
        limited_data_without_consent: l,
    })
}

fn parse(v: &Value, ctx: &Ctx) -> Result<Parsed, pixelgate::core::event::FieldError> {
    let mut n = 0;
    parse_event(v, "", &ctx.intake(), &mut || {
        n += 1;
        format!("gen-{n}")
    })
}

fn is_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// What every accepted event holds, whatever it was made from.
fn check_accepted(event: &Event, input: &Value) -> Result<(), TestCaseError> {
    prop_assert!(is_id(&event.event_id), "event_id {:?}", event.event_id);
    if let Some(v) = &event.visitor_id {
        prop_assert!(is_id(v), "visitor_id {v:?}");
    }
    prop_assert!(event.event_time <= NOW + 5 * 60 && event.event_time >= NOW - 90 * 86_400);
    for u in [&event.url, &event.referrer].into_iter().flatten() {
        prop_assert!(u.len() <= 2048 && (u.starts_with("http://") || u.starts_with("https://")));
    }
    prop_assert!(event.custom_data.len() <= 50);
    prop_assert!(event.utm.values().all(|v| v.len() <= 256));
    let ua = event.client.user_agent.as_deref().unwrap_or("");
    prop_assert!(ua.len() <= 512);
    // Encoded, the event is proportionate to the body it came from (the hashes, the request's
    // user agent and numbers printed in full aside).
    let encoded = serde_json::to_string(event).unwrap();
    let input_len = serde_json::to_string(input).unwrap().len();
    prop_assert!(
        encoded.len() <= 4 * input_len + 2 * 1024 + ua.len() * 6,
        "{} bytes from {input_len}",
        encoded.len()
    );
    prop_assert!(!encoded.contains(PII_DOMAIN), "raw email in {encoded}");
    // The event alone (as D1 and the delivery jobs carry it) round-trips.
    let back: Event = serde_json::from_str(&encoded).unwrap();
    same_after_json(&back, event)?;
    Ok(())
}

/// The queue message the intake builds for an accepted event (as src/edge/tracking.rs does)
/// decodes to the same message, and so does each delivery job it stands for.
fn check_message(
    event: Event,
    pixels: &[PixelRoute],
    stored: Option<&ConsentState>,
    policy: &ConsentPolicy,
    edits: &[(usize, u8, u8)],
) -> Result<(), TestCaseError> {
    let event = Arc::new(event);
    let routed = route("tenant-1", &event, pixels, stored, policy);
    prop_assert!(routed.jobs.len() <= pixels.len() && routed.records.len() <= pixels.len());
    let message = QueueMessage::accepted("tenant-1", event, routed, NOW);
    let encoded = serde_json::to_string(&message).unwrap();
    prop_assert!(
        !encoded.contains('\n'),
        "a message is one line (dedup's claim format)"
    );
    let back: QueueMessage = serde_json::from_str(&encoded).unwrap();
    same_after_json(&back, &message)?;
    same_after_json(&back.jobs(), &message.jobs())?;
    // Near misses of a real message decode or fail, never panic.
    decode_all(&mutate(&encoded, edits))?;
    for job in message.jobs() {
        let deliver = QueueMessage::Deliver(Box::new(job));
        let back: QueueMessage =
            serde_json::from_str(&serde_json::to_string(&deliver).unwrap()).unwrap();
        same_after_json(&back, &deliver)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn parse_event_takes_any_json(v in json_value(), ctx in ctx()) {
        if let Ok(p) = parse(&v, &ctx) {
            check_accepted(&p.event, &v)?;
        }
    }

    #[test]
    fn accepted_events_round_trip_through_the_queue(
        v in event_object(),
        ctx in ctx(),
        pixels in pixels(),
        stored in stored_consent(),
        policy in policy(),
        edits in edits(),
    ) {
        match parse(&v, &ctx) {
            Ok(p) => {
                if p.generated_id {
                    prop_assert_eq!(&p.event.event_id, "gen-1");
                }
                // PII that could not be normalized, or personal data removed from elsewhere.
                let warned = |w: &pixelgate::core::event::FieldError| {
                    ["user_data.", "url", "referrer", "custom_data.", "utm."].iter().any(|f| w.field.starts_with(f))
                };
                prop_assert!(p.warnings.iter().all(warned));
                check_accepted(&p.event, &v)?;
                check_message(p.event, &pixels, stored.as_ref(), &policy, &edits)?;
            }
            Err(e) => prop_assert!(!e.field.is_empty() && !e.message.is_empty()),
        }
    }

}

proptest! {
    // Batches of events are slow to generate; each event's own checks run above.
    #![proptest_config(crate::config_with_cases(64))]

    #[test]
    fn parse_batch_answers_for_every_event(
        events in prop::collection::vec(
            prop_oneof![4 => event_object(), 1 => json_value()],
            0..5,
        ),
        other in json_value(),
        as_batch in prop::bool::weighted(0.9),
        ctx in ctx(),
    ) {
        let body = if as_batch { json!({ "events": events }) } else { other };
        let mut n = 0;
        let result = parse_batch(&body, &ctx.intake(), &mut || {
            n += 1;
            format!("gen-{n}")
        });
        let Ok(intake) = result else { return Ok(()) };
        let events = body["events"].as_array().unwrap();
        prop_assert_eq!(intake.accepted.len() + intake.rejected.len(), events.len());
        let mut last = None;
        for r in &intake.rejected {
            prop_assert!(r.index < events.len() && last < Some(r.index));
            last = Some(r.index);
            let place = format!("events[{}]", r.index);
            prop_assert!(r.field.starts_with(&place), "{} for {}", r.field, place);
        }
        for p in &intake.accepted {
            check_accepted(&p.event, &body)?;
        }
    }
}
