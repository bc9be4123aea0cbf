//! Every binding the Workers use, by the name wrangler.toml and wrangler.jobs.toml give it, and
//! each Durable Object's naming and call. Nothing else in the adapter spells a binding name, so
//! renaming one, or reading what a handler can touch, starts and ends here.

use worker::kv::KvStore;
use worker::{D1Database, Env, Request, RequestInit, Response};

use super::ApiError;
use crate::core::shard::{shard_name, ClaimAnswer, ClaimRequest};

/// D1: configuration, consent records, hourly rollups.
const DB: &str = "DB";
/// KV: the edge read cache of tenant configuration and consent.
const KV: &str = "KV";
/// The delivery Queue (the event shards send parcels; the jobs Worker consumes).
pub const DELIVERY_QUEUE: &str = "DELIVERY_QUEUE";
/// The dead-letter queue's own name, as a consumer batch reports it (`MessageBatch::queue`).
pub const DEAD_LETTER_QUEUE_NAME: &str = "pixelgate-dlq";
/// The EventShard Durable Object: each tenant's events, from the claim to their outcomes. Its
/// class lives in the jobs Worker; the beacon Worker binds it across Workers.
const EVENT_SHARD: &str = "EVENT_SHARD";
/// R2: each tenant's per-event history past the 48 h window (`core::history`; jobs Worker only:
/// the event shards write it, the audit API and retention read it).
#[cfg(feature = "jobs")]
const HISTORY: &str = "HISTORY";
/// The per-tenant Scheduler Durable Object of the ads jobs (jobs Worker only).
#[cfg(feature = "jobs")]
const SCHEDULER: &str = "SCHEDULER";
/// The jobs Worker, seen from the beacon Worker.
#[cfg(not(feature = "jobs"))]
const JOBS: &str = "JOBS";
/// The Rate Limiting bindings of the public writes (`core::admission`): per tenant, and per
/// tenant and client network (beacon Worker).
pub const TENANT_RATE_LIMITER: &str = "TENANT_RATE_LIMITER";
pub const NETWORK_RATE_LIMITER: &str = "NETWORK_RATE_LIMITER";

pub fn db(env: &Env) -> Result<D1Database, ApiError> {
    env.d1(DB).map_err(|e| ApiError::internal("DB binding", e))
}

pub fn kv(env: &Env) -> Result<KvStore, ApiError> {
    env.kv(KV).map_err(|e| ApiError::internal("KV binding", e))
}

#[cfg(feature = "jobs")]
pub fn history(env: &Env) -> Result<worker::Bucket, ApiError> {
    env.bucket(HISTORY)
        .map_err(|e| ApiError::internal("HISTORY binding", e))
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

/// Whether the Rate Limiting binding `binding` lets one more request of `key` through. Called
/// through `limit({key})` directly (workers-rs' wrapper would bring serde-wasm-bindgen into the
/// beacon's wasm). A missing binding or a failed call lets it through (logged): the limiter
/// protects, it must not take the intake down.
pub async fn within_rate_limit(env: &Env, binding: &str, key: &str) -> bool {
    use worker::js_sys::{Function, Object, Promise, Reflect};
    use worker::wasm_bindgen::{JsCast, JsValue};
    let call = async {
        let limiter = Reflect::get(env.as_ref(), &JsValue::from_str(binding))?;
        if limiter.is_undefined() {
            return Err(JsValue::from_str("binding missing"));
        }
        let limit: Function = Reflect::get(&limiter, &JsValue::from_str("limit"))?.dyn_into()?;
        let options = Object::new();
        Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from_str(key))?;
        let promise: Promise = limit.call1(&limiter, &options)?.dyn_into()?;
        let outcome = worker::wasm_bindgen_futures::JsFuture::from(promise).await?;
        Ok(Reflect::get(&outcome, &JsValue::from_str("success"))?.as_bool() != Some(false))
    };
    match call.await {
        Ok(allowed) => allowed,
        Err(e) => {
            worker::console_warn!("rate limiter {binding} unavailable, not applied: {e:?}");
            true
        }
    }
}

/// POSTs `body` to the Durable Object `name` of namespace `binding` and returns its answer.
async fn call_object(
    env: &Env,
    binding: &str,
    name: &str,
    body: String,
) -> Result<Response, ApiError> {
    call_object_at(env, binding, name, "/", body).await
}

/// POSTs `body` to `path` (with its query) of the Durable Object `name` of namespace `binding`.
async fn call_object_at(
    env: &Env,
    binding: &str,
    name: &str,
    path: &str,
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
    super::meter::add(super::meter::Op::DoRequest, 1);
    let req = Request::new_with_init(&format!("https://object.internal{path}"), &init)
        .map_err(|e| ApiError::internal(binding, e))?;
    stub.fetch_with_request(req)
        .await
        .map_err(|e| ApiError::internal(binding, e))
}

/// Calls `op` (a path: "/claim", "/lease", …) of the tenant's event shard `n`; the shard learns
/// its tenant and number from the query (its alarm needs them).
pub async fn shard_call(
    env: &Env,
    tenant_id: &str,
    n: u32,
    op: &str,
    body: String,
) -> Result<Response, ApiError> {
    let sep = if op.contains('?') { '&' } else { '?' };
    let path = format!(
        "{op}{sep}t={}&s={n}",
        js_sys::encode_uri_component(tenant_id)
    );
    let mut resp = call_object_at(env, EVENT_SHARD, &shard_name(tenant_id, n), &path, body).await?;
    if resp.status_code() >= 300 {
        let text = resp.text().await.unwrap_or_default();
        return Err(ApiError::internal(
            "event shard",
            format!(
                "{op}: {} {}",
                resp.status_code(),
                crate::core::text::truncate_chars(&text, 200)
            ),
        ));
    }
    Ok(resp)
}

/// A shard call whose answer is JSON.
pub async fn shard_json<T: serde::de::DeserializeOwned>(
    env: &Env,
    tenant_id: &str,
    n: u32,
    op: &str,
    body: String,
) -> Result<T, ApiError> {
    shard_call(env, tenant_id, n, op, body)
        .await?
        .json()
        .await
        .map_err(|e| ApiError::internal("event shard answer", e))
}

/// One claim on the tenant's event shard `n`; per event of the claim, whether it is new.
pub async fn shard_claim(
    env: &Env,
    tenant_id: &str,
    n: u32,
    claim: &ClaimRequest,
) -> Result<Vec<bool>, ApiError> {
    let answer: ClaimAnswer = shard_json(env, tenant_id, n, "/claim", claim.encode()).await?;
    if answer.fresh.len() != claim.events.len() {
        return Err(ApiError::internal(
            "event shard answer",
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
