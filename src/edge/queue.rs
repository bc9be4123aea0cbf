//! The hand-off to the delivery Queue: the event shards send their parcels.

use worker::{Env, SendMessage};

use super::bindings::{self, DELIVERY_QUEUE};
use super::ApiError;
use crate::core::fanout::send_batches;

/// Sends already encoded messages (parcels) to the delivery Queue, in as few sendBatch calls as
/// the limits allow.
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
        let units: usize = group.clone().map(|i| sizes[i].div_ceil(64 * 1024)).sum();
        super::meter::add(super::meter::Op::QueueMessage, group.len() as u64);
        super::meter::add(super::meter::Op::QueueUnit, units as u64);
        queue
            .send_batch(batch)
            .await
            .map_err(|e| ApiError::internal("queue send", e))?;
    }
    Ok(())
}
