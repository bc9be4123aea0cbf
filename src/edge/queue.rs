//! The hand-off to the delivery Queue. Both Workers send: the beacon Worker enqueues accepted
//! events, the jobs Worker re-enqueues retries and dead letters.

use worker::{Env, SendMessage};

use super::ApiError;
use crate::core::fanout::QueueMessage;

const QUEUE: &str = "DELIVERY_QUEUE";
pub(crate) const DLQ: &str = "DEAD_LETTER_QUEUE";
/// Cloudflare Queues: at most 100 messages and 256 KB per sendBatch; keep a margin.
const MAX_BATCH_MESSAGES: usize = 100;
const MAX_BATCH_BYTES: usize = 200 * 1024;

/// Sends messages in as few sendBatch calls as the limits allow.
pub async fn enqueue(
    env: &Env,
    messages: Vec<QueueMessage>,
    delay_secs: u32,
) -> Result<(), ApiError> {
    enqueue_to(env, QUEUE, messages, delay_secs).await
}

pub(crate) async fn enqueue_to(
    env: &Env,
    binding: &str,
    messages: Vec<QueueMessage>,
    delay_secs: u32,
) -> Result<(), ApiError> {
    let queue = env
        .queue(binding)
        .map_err(|e| ApiError::internal("queue binding", e))?;
    // Bodies travel as JSON text: serde-wasm-bindgen would turn maps into JS Maps, which do not
    // survive the trip back into serde_json values.
    let mut batch: Vec<SendMessage<String>> = Vec::new();
    let mut bytes = 0;
    for m in messages {
        let m = serde_json::to_string(&m).map_err(|e| ApiError::internal("queue encode", e))?;
        let size = m.len();
        if !batch.is_empty()
            && (batch.len() == MAX_BATCH_MESSAGES || bytes + size > MAX_BATCH_BYTES)
        {
            queue
                .send_batch(std::mem::take(&mut batch))
                .await
                .map_err(|e| ApiError::internal("queue send", e))?;
            bytes = 0;
        }
        bytes += size;
        let mut b = worker::MessageBuilder::new(m);
        if delay_secs > 0 {
            b = b.delay_seconds(delay_secs);
        }
        batch.push(b.build());
    }
    if !batch.is_empty() {
        queue
            .send_batch(batch)
            .await
            .map_err(|e| ApiError::internal("queue send", e))?;
    }
    Ok(())
}
