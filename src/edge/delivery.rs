//! Delivery: the queue consumer. It stores each batch's events, sends each pixel's jobs to its
//! platform (through `fetch`), records the outcomes and re-enqueues retries.
//!
//! Retries are ours, not the queue's: a job that must be retried is re-sent as a new message with
//! its attempt counter advanced and a delay (workers-rs exposes no attempt count), and the
//! original is acked. The queue's own retries/DLQ only catch consumer crashes.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::join_all;
use worker::{Env, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

use super::bindings::{self, DEAD_LETTER_QUEUE, DEAD_LETTER_QUEUE_NAME};
use super::fetch::send;
use super::queue::{enqueue, enqueue_to};
use super::store::d1::{self, DeliveryUpdate};
use super::store::kv;
use super::{config, now_secs, secrets, ApiError};
use crate::core::consent::{recheck, ConsentPolicy, ConsentState, Recheck};
use crate::core::destinations::{destination, snippet, Credentials};
use crate::core::fanout::{
    coalesce_counters, plan_units, settle, settle_unrun, DeliveryJob, DeliveryStatus,
    IntakeCounters, QueueMessage, Settlement,
};
use crate::core::health;
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
    // Let the queue retry the whole batch after a wait (and dead-letter it if storage stays
    // down); nothing of it was sent yet.
    let retry_later = |what: &str, e: ApiError| {
        worker::console_error!("{what} failed, batch will be retried: {}", e.message);
        let delay = config::retry_policy(&env).base_delay_secs.max(1);
        batch.retry_all_with_options(
            &QueueRetryOptionsBuilder::new()
                .with_delay_seconds(delay)
                .build(),
        );
    };
    let consent = match consent_now(&env, &jobs).await {
        Ok(c) => c,
        Err(e) => {
            retry_later("reading consent", e);
            return Ok(());
        }
    };
    // An event whose visitor was erased after it is not stored (its jobs are dropped at delivery).
    records.retain(|r| !consent.erased_record(r));
    // Records first: the event row must exist before its delivery rows change.
    if let Err(e) = store_records(&env, &records, counters).await {
        retry_later("storing events", e);
        return Ok(());
    }
    deliver(&env, jobs, &consent).await;
    batch.ack_all();
    Ok(())
}

/// The visitors' consent as it is now and their tenants' policies: every delivery attempt is
/// checked against them (`consent::recheck`).
struct ConsentNow {
    /// tenant → visitor → latest record (visitors without one are absent).
    states: HashMap<String, HashMap<String, ConsentState>>,
    policies: HashMap<String, ConsentPolicy>,
}

/// One read per distinct visitor, and the policy of each tenant whose visitors changed their
/// choice since an event (only then can the policy change a plan).
async fn consent_now(env: &Env, jobs: &[DeliveryJob]) -> Result<ConsentNow, ApiError> {
    let visitors = jobs
        .iter()
        .filter_map(|j| {
            Some((
                j.tenant_id.as_str(),
                j.delivery.event.visitor_id.as_deref()?,
            ))
        })
        .collect();
    let mut now = ConsentNow {
        states: HashMap::new(),
        policies: HashMap::new(),
    };
    for ((tenant, visitor), state) in kv::consents(env, visitors).await? {
        now.states
            .entry(tenant.to_string())
            .or_default()
            .insert(visitor.to_string(), state);
    }
    let mut tenants: Vec<&str> = jobs
        .iter()
        .filter(|j| {
            let event = &j.delivery.event;
            now.state(&j.tenant_id, event.visitor_id.as_deref())
                .is_some_and(|s| s.updated_at >= event.event_time)
        })
        .map(|j| j.tenant_id.as_str())
        .collect();
    tenants.sort_unstable();
    tenants.dedup();
    if !tenants.is_empty() {
        let db = bindings::db(env)?;
        for t in tenants {
            let policy = d1::consent_policy(&db, t).await?;
            now.policies.insert(t.to_string(), policy);
        }
    }
    Ok(now)
}

impl ConsentNow {
    fn state(&self, tenant_id: &str, visitor_id: Option<&str>) -> Option<&ConsentState> {
        self.states.get(tenant_id)?.get(visitor_id?)
    }

    fn recheck(&self, job: &DeliveryJob) -> Recheck {
        let event = &job.delivery.event;
        recheck(
            job.platform,
            job.delivery.mode,
            event.event_time,
            self.state(&job.tenant_id, event.visitor_id.as_deref()),
            &self
                .policies
                .get(&job.tenant_id)
                .copied()
                .unwrap_or_default(),
        )
    }

    fn erased_record(&self, record: &QueueMessage) -> bool {
        let QueueMessage::Record {
            tenant_id, event, ..
        } = record
        else {
            return false;
        };
        self.state(tenant_id, event.visitor_id.as_deref())
            .is_some_and(|s| s.is_erasure() && s.updated_at >= event.event_time)
    }
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
async fn deliver(env: &Env, jobs: Vec<DeliveryJob>, consent: &ConsentNow) {
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
            if let Err(e) = deliver_group(env, &tenant, &pixel, jobs, consent).await {
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
    consent: &ConsentNow,
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
    // Consent holds at delivery time: a withdrawal since the event skips it (recorded), an
    // erase drops it (nothing recorded), a limited-data fallback downgrades it.
    let incoming = jobs;
    let (mut jobs, mut withdrawn): (Vec<DeliveryJob>, Vec<(DeliveryJob, &str)>) =
        (Vec::with_capacity(incoming.len()), Vec::new());
    for mut j in incoming {
        if done.contains(&(j.delivery.event.event_id.clone(), pixel.to_string())) {
            continue;
        }
        match consent.recheck(&j) {
            Recheck::Send(mode) => {
                j.delivery.mode = mode;
                jobs.push(j);
            }
            Recheck::Skip(reason) => withdrawn.push((j, reason)),
            Recheck::Erased => {}
        }
    }
    let mut updates: Vec<Update> = Vec::new();
    let mut requeue: Vec<(u32, DeliveryJob)> = Vec::new();
    let mut dead: Vec<DeliveryJob> = Vec::new();
    let sendable = jobs.len();
    for (j, reason) in withdrawn {
        updates.push((
            jobs.len(),
            DeliveryStatus::Skipped,
            Some(reason.into()),
            None,
            None,
        ));
        jobs.push(j);
    }
    if sendable == 0 {
        return write_updates(env, &jobs, updates, requeue, dead, Vec::new()).await;
    }

    let usable = row
        .as_ref()
        .filter(|r| r.is_active != 0 && r.server_side_enabled != 0);
    let (Some(row), Some(dest)) = (usable, destination(jobs[0].platform)) else {
        for i in 0..sendable {
            updates.push((
                i,
                DeliveryStatus::Skipped,
                Some("pixel deleted or deactivated before delivery".into()),
                None,
                None,
            ));
        }
        return write_updates(env, &jobs, updates, requeue, dead, Vec::new()).await;
    };
    // A paused pixel's jobs are parked as they are, without a call the platform would refuse.
    if row.paused_at.is_some() {
        let reason = row.paused_reason.clone().unwrap_or_default();
        for i in 0..sendable {
            updates.push((i, DeliveryStatus::Paused, Some(reason.clone()), None, None));
        }
        return write_updates(env, &jobs, updates, requeue, dead, (0..sendable).collect()).await;
    }
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
    for unit in plan_units(&jobs[..sendable]) {
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
    let (mut parked, mut refused) = (Vec::new(), None);
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
                Settlement::Paused { reason } => {
                    updates.push((
                        i,
                        DeliveryStatus::Paused,
                        Some(reason.clone()),
                        trace,
                        response.clone(),
                    ));
                    parked.push(i);
                    refused = Some(reason);
                }
            }
        }
    }
    write_updates(env, &jobs, updates, requeue, dead, parked).await?;
    if let Some(reason) = refused {
        pause_pixel(env, tenant_id, row, &reason, now).await?;
    }
    Ok(())
}

/// The platform refuses the pixel: pause it (its later jobs are parked without a call) and tell
/// the tenant's webhook, once per pause.
async fn pause_pixel(
    env: &Env,
    tenant_id: &str,
    row: &d1::PixelRow,
    reason: &str,
    now: i64,
) -> Result<(), ApiError> {
    let db = bindings::db(env)?;
    if !d1::pause_pixel(&db, tenant_id, &row.id, reason, now).await? {
        return Ok(());
    }
    worker::console_warn!("pixel {} of tenant {tenant_id} paused: {reason}", row.id);
    kv::refresh_config(env, tenant_id).await?;
    let Some(target) = d1::notify_target(&db, tenant_id).await? else {
        return Ok(());
    };
    let Some(url) = target
        .notify_webhook_url
        .and_then(|u| config::callable_webhook(env, &u))
    else {
        return Ok(());
    };
    let payload = health::paused_notification(
        &target.name,
        &row.platform,
        &row.pixel_id,
        reason,
        &config::dashboard_url(env),
    );
    let answer = send(
        &health::notification_request(&url, &payload),
        config::outbound_timeout_ms(env),
    )
    .await;
    if !(200..300).contains(&answer.status) {
        worker::console_warn!(
            "pause notice: webhook of tenant {tenant_id} answered {}",
            answer.status
        );
    }
    Ok(())
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
    parked: Vec<usize>,
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
    let mut stmts = d1::upsert_deliveries_stmts(&db, &rows, now)?;
    // Parked jobs are kept in the same transaction as their `paused` rows.
    if let Some(first) = parked.first().map(|&i| &jobs[i]) {
        let bodies = parked
            .iter()
            .map(|&i| {
                let j = &jobs[i];
                serde_json::to_string(&QueueMessage::Deliver(Box::new(j.clone())))
                    .map(|body| (j.delivery.event.event_id.clone(), body))
                    .map_err(|e| ApiError::internal("park encode", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        stmts.extend(d1::park_jobs_stmts(
            &db,
            &first.tenant_id,
            &first.pixel,
            &bodies,
            now,
        )?);
    }
    d1::batch(&db, stmts).await
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
            // settle_unrun only waits or fails.
            Settlement::Delivered | Settlement::Paused { .. } => {}
        }
    }
    write_updates(env, &jobs, updates, requeue, dead, Vec::new()).await
}

/// Messages land here after we fail them explicitly, or when the consumer crashed 3 times on a
/// batch. Deliveries are marked `failed` (a delivered row is never downgraded). A Record here
/// means D1 refused an acknowledged event three times: store it once more rather than lose it,
/// and let this queue retry if D1 is still down.
async fn consume_dead_letters(batch: MessageBatch<String>, env: Env) -> worker::Result<()> {
    let mut records = Vec::new();
    let mut counters = Vec::new();
    let mut dead = Vec::new();
    // When each letter was sent: a replay after that owns the row, and the letter must not
    // fail it.
    let mut sent_at = Vec::new();
    for m in batch.messages()? {
        let at = (m.timestamp().as_millis() / 1000) as i64;
        match serde_json::from_str::<QueueMessage>(m.body()) {
            Ok(QueueMessage::Deliver(j)) => {
                dead.push(*j);
                sent_at.push(at);
            }
            Ok(rec @ QueueMessage::Record { .. }) => {
                // Its first attempts died with it.
                let jobs = rec.jobs();
                sent_at.extend(jobs.iter().map(|_| at));
                dead.extend(jobs);
                records.push(rec);
            }
            Ok(QueueMessage::Counters(c)) => counters.push(c),
            Err(e) => worker::console_error!("dropping undecodable dead letter: {e}"),
        }
    }
    let settled = async {
        let consent = consent_now(&env, &dead).await?;
        records.retain(|r| !consent.erased_record(r));
        store_records(&env, &records, counters).await?;
        let db = bindings::db(&env)?;
        let now = now_secs();
        let stmts = dead
            .iter()
            .zip(&sent_at)
            .filter(|(j, _)| consent.recheck(j) != Recheck::Erased)
            .map(|(j, &at)| {
                let event_id = &j.delivery.event.event_id;
                d1::dead_letter_stmt(&db, &j.tenant_id, event_id, &j.pixel, at, now)
            })
            .collect::<Result<Vec<_>, _>>()?;
        d1::batch(&db, stmts).await
    }
    .await;
    match settled {
        Ok(()) => batch.ack_all(),
        Err(e) => {
            // This queue retries for long (wrangler.jobs.toml): an outage of our storage delays
            // dead letters, it does not drop them.
            worker::console_error!("dead letters not settled, will retry: {}", e.message);
            let delay = QueueRetryOptionsBuilder::new()
                .with_delay_seconds(60)
                .build();
            batch.retry_all_with_options(&delay);
        }
    }
    Ok(())
}
