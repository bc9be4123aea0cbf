//! The queue's formats: `QueueMessage` (serde JSON), `IntakeCounters::from_json` (the dedup
//! shards' reader of Counters messages), the claim's line format (`ClaimRequest`) and its
//! answer (`ClaimAnswer`).

use pixelgate::core::dedup::{ClaimAnswer, ClaimItem, ClaimRequest};
use pixelgate::core::fanout::{IntakeCounters, QueueMessage};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use crate::same_after_json;
use crate::strategies::{json_value, text};

fn counters() -> impl Strategy<Value = IntakeCounters> {
    (
        prop_oneof!["[0-9a-f-]{36}", text(16)],
        any::<i64>(),
        any::<[u32; 4]>(),
    )
        .prop_map(
            |(tenant_id, hour, [received, accepted, duplicates, rejected])| IntakeCounters {
                tenant_id,
                hour,
                received,
                accepted,
                duplicates,
                rejected,
            },
        )
}

/// A claim as the intake makes it: a UUID-like tenant, hex keys and one-line JSON messages.
fn claim() -> impl Strategy<Value = ClaimRequest> {
    let item = ("[0-9a-f]{32}", json_value()).prop_map(|(key, v)| ClaimItem {
        key,
        message: serde_json::to_string(&v).unwrap(),
    });
    (
        "[0-9a-zA-Z-]{0,36}",
        any::<i64>(),
        prop::collection::vec(item, 0..5),
        any::<u32>(),
    )
        .prop_map(|(tenant_id, now, events, rejected)| ClaimRequest {
            tenant_id,
            now,
            events,
            rejected,
        })
}

/// `s` with a few bytes replaced, inserted or cut, then read as text.
pub fn mutate(s: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut b = s.as_bytes().to_vec();
    for &(at, op, byte) in edits {
        let at = if b.is_empty() { 0 } else { at % (b.len() + 1) };
        match op % 3 {
            0 if at < b.len() => b[at] = byte,
            1 => b.insert(at, byte),
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

pub fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    prop::collection::vec(
        (
            any::<usize>(),
            any::<u8>(),
            prop_oneof![select(&b"\n \"{}[]:,0-\\Ceku"[..]), any::<u8>()],
        ),
        1..4,
    )
}

/// Decoding `text` as every queue format: no panic, and what decodes is no larger than its input.
pub fn decode_all(text: &str) -> Result<(), TestCaseError> {
    if let Ok(m) = serde_json::from_str::<QueueMessage>(text) {
        // What decodes encodes again, and that decodes to the same message.
        let again: QueueMessage =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        same_after_json(&again, &m)?;
    }
    if let Some(c) = IntakeCounters::from_json(text.as_bytes()) {
        prop_assert!(c.tenant_id.len() <= text.len());
    }
    if let Ok(c) = ClaimRequest::decode(text) {
        let held: usize = c.events.iter().map(|e| e.key.len() + e.message.len()).sum();
        prop_assert!(c.tenant_id.len() + held <= text.len());
    }
    let _ = serde_json::from_str::<ClaimAnswer>(text);
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn decoders_take_any_text(t in text(200)) {
        decode_all(&t)?;
    }

    #[test]
    fn decoders_take_any_json(mut v in json_value(), kind in select(&["record", "deliver", "counters", "x"][..])) {
        if let Value::Object(m) = &mut v {
            m.insert("kind".into(), kind.into());
        }
        decode_all(&serde_json::to_string(&v).unwrap())?;
    }

    #[test]
    fn counters_round_trip(c in counters(), edits in edits()) {
        let encoded = serde_json::to_string(&QueueMessage::Counters(c.clone())).unwrap();
        prop_assert_eq!(IntakeCounters::from_json(encoded.as_bytes()), Some(c.clone()));
        prop_assert_eq!(
            serde_json::from_str::<QueueMessage>(&encoded).unwrap(),
            QueueMessage::Counters(c)
        );
        decode_all(&mutate(&encoded, &edits))?;
    }

    #[test]
    fn claims_round_trip_through_their_lines(c in claim(), edits in edits()) {
        let encoded = c.encode();
        prop_assert_eq!(ClaimRequest::decode(&encoded), Ok(c));
        decode_all(&mutate(&encoded, &edits))?;
    }

    #[test]
    fn claim_answers_round_trip(fresh in prop::collection::vec(any::<bool>(), 0..100)) {
        let a = ClaimAnswer { fresh };
        let back: ClaimAnswer = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        prop_assert_eq!(back, a);
    }
}
