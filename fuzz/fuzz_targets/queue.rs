//! The queue's formats on any text: `QueueMessage` (serde JSON), `IntakeCounters::from_json`,
//! the claim's line format (`ClaimRequest::decode`) and `ClaimAnswer`. What decodes is no larger
//! than its input, and encodes to text that decodes to the same value.
#![no_main]

mod common;

use common::assert_same_after_json;
use libfuzzer_sys::fuzz_target;
use pixelgate::core::dedup::{ClaimAnswer, ClaimRequest};
use pixelgate::core::fanout::{IntakeCounters, QueueMessage};

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = serde_json::from_slice::<QueueMessage>(data) {
        let again: QueueMessage =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_same_after_json(&again, &m);
    }
    if let Some(c) = IntakeCounters::from_json(data) {
        assert!(c.tenant_id.len() <= data.len());
        let encoded = serde_json::to_string(&QueueMessage::Counters(c.clone())).unwrap();
        assert_eq!(IntakeCounters::from_json(encoded.as_bytes()), Some(c));
    }
    if let Ok(a) = serde_json::from_slice::<ClaimAnswer>(data) {
        let back: ClaimAnswer = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = ClaimRequest::decode(text) {
        let held: usize = c.events.iter().map(|e| e.key.len() + e.message.len()).sum();
        assert!(c.tenant_id.len() + held <= text.len());
        // The format is lines: a key or message that ends in '\r' loses it to the line break
        // "\r\n" on the next read. The intake's keys are hex and its messages compact JSON.
        let ends_in_cr = c
            .events
            .iter()
            .any(|e| e.key.ends_with('\r') || e.message.ends_with('\r'));
        if !ends_in_cr {
            assert_eq!(ClaimRequest::decode(&c.encode()), Ok(c));
        }
    }
});
