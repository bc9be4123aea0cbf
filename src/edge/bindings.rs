//! Every binding the Workers use, by the name wrangler.toml and wrangler.jobs.toml give it, and
//! each Durable Object's naming and call. Nothing else in the adapter spells a binding name, so
//! renaming one, or reading what a handler can touch, starts and ends here.

use worker::kv::KvStore;
use worker::{D1Database, Env, Request, RequestInit, Response};

use super::ApiError;
use crate::core::dedup::{ClaimAnswer, ClaimRequest};

/// D1: configuration, consent records, events and their deliveries.
const DB: &str = "DB";
/// KV: the edge read cache of tenant configuration and consent.
const KV: &str = "KV";
/// The delivery Queue (both Workers send; the jobs Worker consumes).
pub const DELIVERY_QUEUE: &str = "DELIVERY_QUEUE";
/// Where messages go that must not be retried any more (both Workers send; the jobs Worker
/// consumes it too).
pub const DEAD_LETTER_QUEUE: &str = "DEAD_LETTER_QUEUE";
/// The dead-letter queue's own name, as a consumer batch reports it (`MessageBatch::queue`).
pub const DEAD_LETTER_QUEUE_NAME: &str = "pixelgate-dlq";
/// The DedupShard Durable Object: claims of event ids and the intake's outbox.
const DEDUP: &str = "DEDUP";
/// The per-tenant Scheduler Durable Object of the ads jobs (jobs Worker only).
#[cfg(feature = "jobs")]
const SCHEDULER: &str = "SCHEDULER";
/// The jobs Worker, seen from the beacon Worker.
#[cfg(not(feature = "jobs"))]
const JOBS: &str = "JOBS";

pub fn db(env: &Env) -> Result<D1Database, ApiError> {
    env.d1(DB).map_err(|e| ApiError::internal("DB binding", e))
}

pub fn kv(env: &Env) -> Result<KvStore, ApiError> {
    env.kv(KV).map_err(|e| ApiError::internal("KV binding", e))
}

pub fn queue(env: &Env, binding: &str) -> Result<worker::Queue, ApiError> {
    env.queue(binding)
        .map_err(|e| ApiError::internal("queue binding", e))
}

#[cfg(not(feature = "jobs"))]
pub fn jobs_worker(env: &Env) -> Result<worker::Fetcher, ApiError> {
    env.service(JOBS)
        .map_err(|e| ApiError::internal("JOBS service binding", e))
}

/// POSTs `body` to the Durable Object `name` of namespace `binding` and returns its answer.
async fn call_object(
    env: &Env,
    binding: &str,
    name: &str,
    body: String,
) -> Result<Response, ApiError> {
    let ns = env
        .durable_object(binding)
        .map_err(|e| ApiError::internal(binding, e))?;
    let stub = ns
        .id_from_name(name)
        .and_then(|id| id.get_stub())
        .map_err(|e| ApiError::internal(binding, e))?;
    let mut init = RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_body(Some(body.into()));
    let req = Request::new_with_init("https://object.internal/", &init)
        .map_err(|e| ApiError::internal(binding, e))?;
    stub.fetch_with_request(req)
        .await
        .map_err(|e| ApiError::internal(binding, e))
}

/// One claim on dedup shard `shard`; per event of the claim, whether it is new.
pub async fn dedup_claim(
    env: &Env,
    shard: u32,
    claim: &ClaimRequest,
) -> Result<Vec<bool>, ApiError> {
    let mut resp = call_object(env, DEDUP, &format!("shard-{shard}"), claim.encode()).await?;
    if resp.status_code() >= 300 {
        return Err(ApiError::internal("dedup status", resp.status_code()));
    }
    let answer: ClaimAnswer = resp
        .json()
        .await
        .map_err(|e| ApiError::internal("dedup answer", e))?;
    if answer.fresh.len() != claim.events.len() {
        return Err(ApiError::internal(
            "dedup answer",
            format!(
                "{} answers for {} events",
                answer.fresh.len(),
                claim.events.len()
            ),
        ));
    }
    Ok(answer.fresh)
}

/// Sends a request to the tenant's Scheduler and returns its status and JSON answer.
#[cfg(feature = "jobs")]
pub async fn scheduler(
    env: &Env,
    tenant_id: &str,
    request: &crate::core::ads::schedule::SchedulerRequest,
) -> Result<(u16, serde_json::Value), ApiError> {
    let body = serde_json::to_string(request).map_err(|e| ApiError::internal("scheduler", e))?;
    let mut resp = call_object(env, SCHEDULER, tenant_id, body).await?;
    let status = resp.status_code();
    let body = resp
        .json()
        .await
        .map_err(|e| ApiError::internal("scheduler answer", e))?;
    Ok((status, body))
}
