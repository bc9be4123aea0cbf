//! The queue's and the event shards' formats: `QueueMessage` and `Parcel` (serde JSON, a parcel
//! assembled as text by `parcel_message`), the shard's `Settle` and `LeaseAnswer`, the claim's
//! line format (`ClaimRequest`) and its answer (`ClaimAnswer`).

use pixelgate::core::fanout::QueueMessage;
use pixelgate::core::shard::{
    parcel_message, ClaimAnswer, ClaimItem, ClaimRequest, LeaseAnswer, Parcel, Settle,
};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use crate::same_after_json;
use crate::strategies::{json_value, text};

/// A claim as the intake makes it: event and visitor ids as `event::valid_id` takes them, and
/// one-line JSON messages.
fn claim() -> impl Strategy<Value = ClaimRequest> {
    let item = (
        "[0-9a-zA-Z:._-]{1,64}",
        prop::option::of("[0-9a-zA-Z._-]{1,64}"),
        json_value(),
    )
        .prop_map(|(event_id, visitor_id, v)| ClaimItem {
            event_id,
            visitor_id,
            message: serde_json::to_string(&v).unwrap(),
        });
    (
        any::<i64>(),
        prop::collection::vec(item, 0..5),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(now, events, rejected, check_only)| ClaimRequest {
            now,
            events,
            rejected,
            check_only,
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
    if let Ok(p) = serde_json::from_str::<Parcel>(text) {
        let items: Vec<String> = p
            .items
            .iter()
            .map(|i| serde_json::to_string(i).unwrap())
            .collect();
        let again: Parcel =
            serde_json::from_str(&parcel_message(&p.tenant_id, p.shard, p.id, &items)).unwrap();
        prop_assert_eq!(again.items.len(), p.items.len());
    }
    if let Ok(c) = ClaimRequest::decode(text) {
        let held: usize = c
            .events
            .iter()
            .map(|e| e.event_id.len() + e.message.len())
            .sum();
        prop_assert!(held <= text.len());
    }
    let _ = serde_json::from_str::<ClaimAnswer>(text);
    let _ = serde_json::from_str::<Settle>(text);
    let _ = serde_json::from_str::<LeaseAnswer>(text);
    Ok(())
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn decoders_take_any_text(t in text(200)) {
        decode_all(&t)?;
    }

    #[test]
    fn decoders_take_any_json(mut v in json_value(), kind in select(&["record", "deliver", "x"][..])) {
        if let Value::Object(m) = &mut v {
            m.insert("kind".into(), kind.into());
        }
        decode_all(&serde_json::to_string(&v).unwrap())?;
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
