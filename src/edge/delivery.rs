//! Delivery: the queue consumer. It stores each batch's events, sends each pixel's jobs to its
//! platform (through `fetch`), records the outcomes and re-enqueues retries.
//!
//! Retries are ours, not the queue's: a job that must be retried is re-sent as a new message with
//! its attempt counter advanced and a delay (workers-rs exposes no attempt count), and the
//! original is acked. The queue's own retries/DLQ only catch consumer crashes.

use std::collections::BTreeMap;

use futures_util::future::join_all;
use worker::{Env, MessageBatch};

use super::bindings::{self, DEAD_LETTER_QUEUE, DEAD_LETTER_QUEUE_NAME};
use super::fetch::send;
use super::queue::{enqueue, enqueue_to};
use super::store::d1::{self, DeliveryUpdate};
use super::{config, now_secs, secrets, ApiError};
use crate::core::destinations::{destination, snippet, Credentials};
use crate::core::fanout::{
    coalesce_counters, plan_units, settle, settle_unrun, DeliveryJob, DeliveryStatus,
    IntakeCounters, QueueMessage, Settlement,
};
use crate::core::retry::Outcome;

pub async fn consume(batch: MessageBatch<String>, env: Env) -> worker::Result<()> {
    if batch.queue() == DEAD_LETTER_QUEUE_NAME {
        return consume_dead_letters(batch, env).await;
    }
    let mut records = Vec::new();
    let mut jobs = Vec::new();
    let mut counters = Vec::new();
    for m in batch.messages()? {
        match serde_json::from_str::<QueueMessage>(m.body()) {
            Ok(QueueMessage::Deliver(j)) => jobs.push(*j),
            Ok(rec @ QueueMessage::Record { .. }) => {
                jobs.extend(rec.jobs());
                records.push(rec);
            }
            Ok(QueueMessage::Counters(c)) => counters.push(c),
            Err(e) => worker::console_error!("dropping undecodable queue message: {e}"),
        }
    }
    // Records first: the event row must exist before its delivery rows change.
    if let Err(e) = store_records(&env, &records, counters).await {
        // Let the queue retry the whole batch (and dead-letter it if D1 stays down).
        worker::console_error!(
            "storing events failed, batch will be retried: {}",
            e.message
        );
        batch.retry_all();
        return Ok(());
    }
    deliver(&env, jobs).await;
    batch.ack_all();
    Ok(())
}

async fn store_records(
    env: &Env,
    records: &[QueueMessage],
    counters: Vec<IntakeCounters>,
) -> Result<(), ApiError> {
    let db = bindings::db(env)?;
    let now = now_secs();
    let (mut events, mut routes) = (Vec::new(), Vec::new());
    for r in records {
        if let QueueMessage::Record {
            tenant_id,
            event,
            consent,
            received_at,
            routes: records,
            ..
        } = r
        {
            events.push(d1::event_row(tenant_id, event, *consent, *received_at)?);
            for route in records {
                routes.push(d1::route_row(tenant_id, &event.event_id, route, now)?);
            }
        }
    }
    let mut stmts = d1::insert_events_stmts(&db, &events)?;
    stmts.extend(d1::insert_routes_stmts(&db, &routes)?);
    for c in coalesce_counters(counters) {
        stmts.push(d1::counters_stmt(&db, &c)?);
    }
    d1::batch(&db, stmts).await?;
    Ok(())
}

/// Groups jobs per pixel, plans each group with its destination, sends all groups concurrently.
async fn deliver(env: &Env, jobs: Vec<DeliveryJob>) {
    if jobs.is_empty() {
        return;
    }
    let mut groups: BTreeMap<(String, String), Vec<DeliveryJob>> = BTreeMap::new();
    for j in jobs {
        groups
            .entry((j.tenant_id.clone(), j.pixel.clone()))
            .or_default()
            .push(j);
    }
    let work = groups
        .into_iter()
        .map(|((tenant, pixel), jobs)| async move {
            if let Err(e) = deliver_group(env, &tenant, &pixel, jobs).await {
                worker::console_error!("delivery to pixel {pixel} failed to run: {}", e.message);
            }
        });
    join_all(work).await;
}

async fn deliver_group(
    env: &Env,
    tenant_id: &str,
    pixel: &str,
    jobs: Vec<DeliveryJob>,
) -> Result<(), ApiError> {
    let now = now_secs();
    // Everything read before a request goes out. If any of it fails, nothing was sent: the jobs
    // wait and run again (bounded), instead of being acknowledged with nothing looking for them.
    let prepared = async {
        let db = bindings::db(env)?;
        let pairs: Vec<(String, String)> = jobs
            .iter()
            .map(|j| (j.delivery.event.event_id.clone(), pixel.to_string()))
            .collect();
        let done = d1::already_delivered(&db, tenant_id, &pairs).await?;
        let row = d1::get_pixel(&db, tenant_id, pixel).await?;
        Ok::<_, ApiError>((done, row))
    }
    .await;
    let (done, row) = match prepared {
        Ok(p) => p,
        Err(e) => return defer_unrun(env, jobs, "storage unavailable", e).await,
    };
    let jobs: Vec<DeliveryJob> = jobs
        .into_iter()
        .filter(|j| !done.contains(&(j.delivery.event.event_id.clone(), pixel.to_string())))
        .collect();
    if jobs.is_empty() {
        return Ok(());
    }
    let mut updates: Vec<Update> = Vec::new();
    let mut requeue: Vec<(u32, DeliveryJob)> = Vec::new();
    let mut dead: Vec<DeliveryJob> = Vec::new();

    let usable = row
        .as_ref()
        .filter(|r| r.is_active != 0 && r.server_side_enabled != 0);
    let (Some(row), Some(dest)) = (usable, destination(jobs[0].platform)) else {
        for i in 0..jobs.len() {
            updates.push((
                i,
                DeliveryStatus::Skipped,
                Some("pixel deleted or deactivated before delivery".into()),
                None,
                None,
            ));
        }
        return write_updates(env, &jobs, updates, requeue, dead).await;
    };
    let creds: Credentials = match secrets::credentials(env, row) {
        Ok(c) => c,
        Err(e) => {
            return defer_unrun(env, jobs, "the pixel's credentials could not be read", e).await
        }
    };
    let cfg = config::platform_config(env);
    let policy = config::retry_policy(env);
    let timeout = config::outbound_timeout_ms(env);

    // Each unit is planned on its own: shared jobs together, each solo job alone.
    let mut planned = Vec::new();
    for unit in plan_units(&jobs) {
        let deliveries: Vec<_> = unit.iter().map(|&i| jobs[i].delivery.clone()).collect();
        let plan = dest.plan(&cfg, &creds, &deliveries, now);
        for (i, reason) in &plan.rejected {
            updates.push((
                unit[*i],
                DeliveryStatus::Failed,
                Some(format!("not sent: {reason}")),
                None,
                None,
            ));
        }
        for request in plan.requests {
            let members: Vec<usize> = request.events.iter().map(|&i| unit[i]).collect();
            planned.push((request.request, members));
        }
    }
    drop(creds);
    let answers = join_all(planned.iter().map(|(r, _)| send(r, timeout))).await;
    for ((_, indices), answer) in planned.iter().zip(answers) {
        let outcome = dest.classify(&answer);
        let members: Vec<&DeliveryJob> = indices.iter().map(|&i| &jobs[i]).collect();
        let response = match &outcome {
            Outcome::Delivered { detail, .. } => Some(
                detail
                    .clone()
                    .unwrap_or_else(|| format!("HTTP {}", answer.status)),
            ),
            _ => Some(format!("HTTP {}: {}", answer.status, snippet(&answer.body))),
        };
        for (&i, s) in indices.iter().zip(settle(policy, &members, &outcome)) {
            let trace = outcome.trace_id().map(str::to_string);
            match s {
                Settlement::Delivered => {
                    updates.push((i, DeliveryStatus::Delivered, None, trace, response.clone()))
                }
                Settlement::Requeue { job, delay_secs } => {
                    updates.push((
                        i,
                        DeliveryStatus::Retrying,
                        outcome.reason().map(str::to_string),
                        trace,
                        response.clone(),
                    ));
                    requeue.push((delay_secs, *job));
                }
                Settlement::Failed { reason } => {
                    updates.push((
                        i,
                        DeliveryStatus::Failed,
                        Some(reason),
                        trace,
                        response.clone(),
                    ));
                    dead.push(jobs[i].clone());
                }
            }
        }
    }
    write_updates(env, &jobs, updates, requeue, dead).await
}

/// (job index, new status, last error, platform trace id, short platform answer)
type Update = (
    usize,
    DeliveryStatus,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn write_updates(
    env: &Env,
    jobs: &[DeliveryJob],
    updates: Vec<Update>,
    requeue: Vec<(u32, DeliveryJob)>,
    dead: Vec<DeliveryJob>,
) -> Result<(), ApiError> {
    // The hand-offs first: they carry the work that is left. A status row that cannot be written
    // now is stale until the job's next write; a lost retry would be a lost delivery.
    hand_off(env, requeue, dead).await?;
    let db = bindings::db(env)?;
    let now = now_secs();
    let rows: Vec<DeliveryUpdate> = updates
        .iter()
        .map(|(i, status, err, trace, response)| {
            let j = &jobs[*i];
            DeliveryUpdate {
                tenant_id: &j.tenant_id,
                event_id: &j.delivery.event.event_id,
                pixel: &j.pixel,
                platform: j.platform,
                status: status.clone(),
                attempts: j.attempt,
                last_error: err.as_deref(),
                trace_id: trace.as_deref(),
                response: response.as_deref(),
            }
        })
        .collect();
    d1::batch(&db, d1::upsert_deliveries_stmts(&db, &rows, now)?).await
}

/// Re-enqueues retries (grouped by delay) and sends failed jobs to the dead-letter queue, kept
/// there for inspection and replay.
async fn hand_off(
    env: &Env,
    requeue: Vec<(u32, DeliveryJob)>,
    dead: Vec<DeliveryJob>,
) -> Result<(), ApiError> {
    let mut by_delay: BTreeMap<u32, Vec<QueueMessage>> = BTreeMap::new();
    for (delay, job) in requeue {
        by_delay
            .entry(delay)
            .or_default()
            .push(QueueMessage::Deliver(Box::new(job)));
    }
    for (delay, msgs) in by_delay {
        enqueue(env, msgs, delay).await?;
    }
    if !dead.is_empty() {
        let msgs = dead
            .into_iter()
            .map(|j| QueueMessage::Deliver(Box::new(j)))
            .collect();
        enqueue_to(env, DEAD_LETTER_QUEUE, msgs, 0).await?;
    }
    Ok(())
}

/// Jobs that did not run because something of ours failed before any request was sent (`error`,
/// logged; `reason` is what the delivery row says): they wait and run again, then fail.
async fn defer_unrun(
    env: &Env,
    jobs: Vec<DeliveryJob>,
    reason: &str,
    error: ApiError,
) -> Result<(), ApiError> {
    worker::console_warn!("delivery deferred ({reason}): {}", error.message);
    let (mut updates, mut requeue, mut dead) = (Vec::new(), Vec::new(), Vec::new());
    for (i, s) in settle_unrun(config::retry_policy(env), &jobs, reason)
        .into_iter()
        .enumerate()
    {
        match s {
            Settlement::Requeue { job, delay_secs } => requeue.push((delay_secs, *job)),
            Settlement::Failed { reason } => {
                updates.push((i, DeliveryStatus::Failed, Some(reason), None, None));
                dead.push(jobs[i].clone());
            }
            Settlement::Delivered => {}
        }
    }
    write_updates(env, &jobs, updates, requeue, dead).await
}

/// Messages land here after we fail them explicitly, or when the consumer crashed 3 times on a
/// batch. Deliveries are marked `failed` (a delivered row is never downgraded). A Record here
/// means D1 refused an acknowledged event three times: store it once more rather than lose it,
/// and let this queue retry if D1 is still down.
async fn consume_dead_letters(batch: MessageBatch<String>, env: Env) -> worker::Result<()> {
    let mut records = Vec::new();
    let mut counters = Vec::new();
    let mut dead = Vec::new();
    for m in batch.messages()? {
        match serde_json::from_str::<QueueMessage>(m.body()) {
            Ok(QueueMessage::Deliver(j)) => dead.push(*j),
            Ok(rec @ QueueMessage::Record { .. }) => {
                // Its first attempts died with it.
                dead.extend(rec.jobs());
                records.push(rec);
            }
            Ok(QueueMessage::Counters(c)) => counters.push(c),
            Err(e) => worker::console_error!("dropping undecodable dead letter: {e}"),
        }
    }
    let settled = async {
        store_records(&env, &records, counters).await?;
        let db = bindings::db(&env)?;
        let now = now_secs();
        let stmts = dead
            .iter()
            .map(|j| {
                d1::dead_letter_stmt(&db, &j.tenant_id, &j.delivery.event.event_id, &j.pixel, now)
            })
            .collect::<Result<Vec<_>, _>>()?;
        d1::batch(&db, stmts).await
    }
    .await;
    match settled {
        Ok(()) => batch.ack_all(),
        Err(e) => {
            worker::console_error!("dead letters not settled, will retry: {}", e.message);
            batch.retry_all();
        }
    }
    Ok(())
}
