//! The hand-off to the delivery Queue. Both Workers send: the beacon Worker enqueues accepted
//! events, the jobs Worker re-enqueues retries and dead letters.

use worker::{Env, SendMessage};

use super::bindings::{self, DELIVERY_QUEUE};
use super::ApiError;
use crate::core::fanout::{send_batches, QueueMessage};

/// Sends messages in as few sendBatch calls as the limits allow.
pub async fn enqueue(
    env: &Env,
    messages: Vec<QueueMessage>,
    delay_secs: u32,
) -> Result<(), ApiError> {
    enqueue_to(env, DELIVERY_QUEUE, messages, delay_secs).await
}

pub(crate) async fn enqueue_to(
    env: &Env,
    binding: &str,
    messages: Vec<QueueMessage>,
    delay_secs: u32,
) -> Result<(), ApiError> {
    // Bodies travel as JSON text: serde-wasm-bindgen would turn maps into JS Maps, which do not
    // survive the trip back into serde_json values.
    let bodies = messages
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::internal("queue encode", e))?;
    send_bodies(env, binding, bodies, delay_secs).await
}

/// Sends already encoded messages to the delivery Queue (the dedup shards' outbox flush).
pub(crate) async fn send_encoded(env: &Env, bodies: Vec<String>) -> Result<(), ApiError> {
    send_bodies(env, DELIVERY_QUEUE, bodies, 0).await
}

async fn send_bodies(
    env: &Env,
    binding: &str,
    bodies: Vec<String>,
    delay_secs: u32,
) -> Result<(), ApiError> {
    let queue = bindings::queue(env, binding)?;
    let sizes: Vec<usize> = bodies.iter().map(String::len).collect();
    let mut bodies = bodies.into_iter();
    for group in send_batches(&sizes) {
        let batch: Vec<SendMessage<String>> = bodies
            .by_ref()
            .take(group.len())
            .map(|body| {
                let mut b = worker::MessageBuilder::new(body);
                if delay_secs > 0 {
                    b = b.delay_seconds(delay_secs);
                }
                b.build()
            })
            .collect();
        queue
            .send_batch(batch)
            .await
            .map_err(|e| ApiError::internal("queue send", e))?;
    }
    Ok(())
}
