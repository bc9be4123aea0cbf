//! The queue's and the event shards' formats on any text: `QueueMessage` and `Parcel` (serde
//! JSON), the claim's line format (`ClaimRequest::decode`), `ClaimAnswer`, `Settle`,
//! `LeaseAnswer`. What decodes is no larger than its input, and encodes to text that decodes to
//! the same value.
#![no_main]

mod common;

use common::assert_same_after_json;
use libfuzzer_sys::fuzz_target;
use pixelgate::core::fanout::QueueMessage;
use pixelgate::core::shard::{ClaimAnswer, ClaimRequest, LeaseAnswer, Parcel, Settle};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<QueueMessage>(data) {
        let again: QueueMessage =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_same_after_json(&again, &m);
    }
    if let Ok(p) = serde_json::from_slice::<Parcel>(data) {
        let back: Parcel = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back.items.len(), p.items.len());
    }
    if let Ok(s) = serde_json::from_slice::<Settle>(data) {
        let back: Settle = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back.outcomes.len(), s.outcomes.len());
    }
    if let Ok(a) = serde_json::from_slice::<LeaseAnswer>(data) {
        let back: LeaseAnswer = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
    if let Ok(a) = serde_json::from_slice::<ClaimAnswer>(data) {
        let back: ClaimAnswer = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = ClaimRequest::decode(text) {
        let held: usize = c.events.iter().map(|e| e.event_id.len() + e.message.len()).sum();
        assert!(held <= text.len());
        // The format is lines: an id or message that ends in '\r' loses it to the line break
        // "\r\n" on the next read. The intake's ids are printable ASCII and its messages
        // compact JSON.
        let ends_in_cr = c.events.iter().any(|e| {
            e.event_id.ends_with('\r')
                || e.message.ends_with('\r')
                || e.visitor_id.as_deref().is_some_and(|v| v.ends_with('\r'))
        });
        if !ends_in_cr {
            assert_eq!(ClaimRequest::decode(&c.encode()), Ok(c));
        }
    }
});
