//! Delivery: the queue consumer. Each message is a parcel of one tenant's event shard: the
//! consumer leases it from its shard (so no two consumers send it), re-checks consent, sends
//! each pixel's jobs to its platform (through `fetch`), and reports every outcome back to the
//! shard, which keeps them, runs the retries when due and re-sends a parcel whose consumer
//! vanished. A message is acknowledged only once its outcomes are recorded.

use std::collections::{BTreeMap, HashMap};

use futures_util::future::join_all;
use worker::{Env, Message, MessageBatch, MessageExt, QueueRetryOptionsBuilder};

use super::bindings::{self, DEAD_LETTER_QUEUE_NAME};
use super::fetch::send;
use super::store::d1;
use super::store::kv;
use super::{config, now_secs, ApiError};
use crate::core::consent::{recheck, ConsentPolicy, ConsentState, Recheck};
use crate::core::destinations::{destination, snippet, Credentials};
use crate::core::fanout::{
    plan_units, settle, settle_unrun, DeliveryJob, DeliveryStatus, Settlement,
};
use crate::core::health;
use crate::core::retry::Outcome;
use crate::core::shard::{JobOutcome, LeaseAnswer, Parcel, Settle};

pub async fn consume(batch: MessageBatch<String>, env: Env) -> worker::Result<()> {
    let messages = batch.messages()?;
    if batch.queue() == DEAD_LETTER_QUEUE_NAME {
        // A parcel lands here after crashing its consumer three times. Its shard re-sends it
        // while it is unsettled (a bounded number of times), then fails its deliveries visibly,
        // so nothing is lost by letting the letter go.
        for m in &messages {
            worker::console_error!(
                "dead letter: parcel {} left to its shard",
                crate::core::text::truncate_chars(m.body(), 120)
            );
            m.ack();
        }
        return Ok(());
    }
    let mut parcels = Vec::new();
    for m in &messages {
        match serde_json::from_str::<Parcel>(m.body()) {
            Ok(p) => parcels.push((m, p)),
            Err(e) => {
                worker::console_error!("dropping undecodable queue message: {e}");
                m.ack();
            }
        }
    }
    join_all(parcels.into_iter().map(|(m, p)| run_parcel(&env, m, p))).await;
    Ok(())
}

fn retry_message(m: &Message<String>, delay_secs: u32) {
    m.retry_with_options(
        &QueueRetryOptionsBuilder::new()
            .with_delay_seconds(delay_secs.max(1))
            .build(),
    );
}

/// Leases, delivers and settles one parcel; acknowledges its message only when the shard has
/// the outcomes (else the message comes back, and the lease keeps a second consumer out).
async fn run_parcel(env: &Env, m: &Message<String>, parcel: Parcel) {
    let (tenant_id, shard, id) = (parcel.tenant_id.clone(), parcel.shard, parcel.id);
    let lease = bindings::shard_json::<LeaseAnswer>(
        env,
        &tenant_id,
        shard,
        "/lease",
        serde_json::json!({ "parcel": id }).to_string(),
    )
    .await;
    let skip = match lease {
        Ok(LeaseAnswer::Granted { skip }) => skip,
        Ok(LeaseAnswer::Done) => return m.ack(),
        Ok(LeaseAnswer::Busy { retry_in }) => {
            return retry_message(m, retry_in.clamp(1, 900) as u32)
        }
        Err(e) => {
            worker::console_error!("parcel {id}: no lease ({}), later", e.message);
            return retry_message(m, config::retry_policy(env).base_delay_secs);
        }
    };
    let jobs: Vec<DeliveryJob> = parcel
        .items
        .iter()
        .flat_map(|item| item.jobs())
        .filter(|j| {
            !skip
                .iter()
                .any(|(e, p)| *e == j.delivery.event.event_id && *p == j.pixel)
        })
        .collect();
    // Attribution's touchpoints and conversion facts of the parcel's new events (best effort,
    // never holding the delivery).
    super::attribution::record(env, &parcel.items).await;
    let outcomes = match consent_now(env, &tenant_id, &jobs).await {
        Ok(consent) => deliver(env, jobs, &consent).await,
        // Nothing was sent: every job waits and runs again (bounded).
        Err(e) => unrun(env, &jobs, "consent could not be read", e),
    };
    let settle = serde_json::to_string(&Settle {
        parcel: id,
        outcomes,
    })
    .unwrap_or_default();
    // The requests are out: recording their outcomes is worth a few tries now, since a parcel
    // whose lease runs out unsettled is sent again.
    for attempt in 0..3 {
        match bindings::shard_call(env, &tenant_id, shard, "/settle", settle.clone()).await {
            Ok(_) => return m.ack(),
            Err(e) if attempt == 2 => {
                worker::console_error!("parcel {id}: outcomes not recorded: {}", e.message);
            }
            Err(_) => {}
        }
    }
    retry_message(m, config::retry_policy(env).base_delay_secs);
}

/// The visitors' consent as it is now and the tenant's policy: every delivery attempt is checked
/// against them (`consent::recheck`).
struct ConsentNow {
    /// visitor → latest record (visitors without one are absent).
    states: HashMap<String, ConsentState>,
    policy: ConsentPolicy,
}

/// One D1 read for the parcel's visitors, and the policy only when one of them changed their
/// choice since an event (only then can the policy change a plan).
async fn consent_now(
    env: &Env,
    tenant_id: &str,
    jobs: &[DeliveryJob],
) -> Result<ConsentNow, ApiError> {
    let mut visitors: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.delivery.event.visitor_id.as_deref())
        .collect();
    visitors.sort_unstable();
    visitors.dedup();
    let mut now = ConsentNow {
        states: HashMap::new(),
        policy: ConsentPolicy::default(),
    };
    if visitors.is_empty() {
        return Ok(now);
    }
    let db = bindings::db(env)?;
    now.states = d1::latest_consents(&db, tenant_id, &visitors).await?;
    let changed = jobs.iter().any(|j| {
        let event = &j.delivery.event;
        now.state(event.visitor_id.as_deref())
            .is_some_and(|s| s.updated_at >= event.event_time)
    });
    if changed {
        now.policy = d1::consent_policy(&db, tenant_id).await?;
    }
    Ok(now)
}

impl ConsentNow {
    fn state(&self, visitor_id: Option<&str>) -> Option<&ConsentState> {
        self.states.get(visitor_id?)
    }

    fn recheck(&self, job: &DeliveryJob) -> Recheck {
        let event = &job.delivery.event;
        recheck(
            job.platform,
            job.delivery.mode,
            event.event_time,
            self.state(event.visitor_id.as_deref()),
            &self.policy,
        )
    }
}

/// Groups jobs per pixel, plans each group with its destination, sends all groups concurrently.
async fn deliver(env: &Env, jobs: Vec<DeliveryJob>, consent: &ConsentNow) -> Vec<JobOutcome> {
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
            deliver_group(env, &tenant, &pixel, jobs, consent).await
        });
    join_all(work).await.into_iter().flatten().collect()
}

async fn deliver_group(
    env: &Env,
    tenant_id: &str,
    pixel: &str,
    jobs: Vec<DeliveryJob>,
    consent: &ConsentNow,
) -> Vec<JobOutcome> {
    let now = now_secs();
    // Everything read before a request goes out. If any of it fails, nothing was sent: the jobs
    // wait and run again (bounded).
    let row = match async { d1::get_pixel(&bindings::db(env)?, tenant_id, pixel).await }.await {
        Ok(row) => row,
        Err(e) => return unrun(env, &jobs, "storage unavailable", e),
    };
    // Consent holds at delivery time: a withdrawal since the event skips it (recorded), an
    // erase drops it (nothing recorded), a limited-data fallback downgrades it.
    let incoming = jobs;
    let (mut jobs, mut withdrawn): (Vec<DeliveryJob>, Vec<(DeliveryJob, &str)>) =
        (Vec::with_capacity(incoming.len()), Vec::new());
    // The same (event, pixel) twice in one parcel (an event re-sent with a retry) is sent once.
    let mut seen = std::collections::HashSet::new();
    for mut j in incoming {
        if !seen.insert(j.delivery.event.event_id.clone()) {
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
    let sendable = jobs.len();
    let mut out: Vec<JobOutcome> = withdrawn
        .into_iter()
        .map(|(j, reason)| JobOutcome {
            error: Some(reason.into()),
            job: Some(crate::core::shard::retry_item(&j)),
            ..JobOutcome::of(&j, DeliveryStatus::Skipped)
        })
        .collect();
    if sendable == 0 {
        return out;
    }

    let usable = row
        .as_ref()
        .filter(|r| r.is_active != 0 && r.server_side_enabled != 0);
    let (Some(row), Some(dest)) = (usable, destination(jobs[0].platform)) else {
        out.extend(jobs.iter().map(|j| JobOutcome {
            error: Some("pixel deleted or deactivated before delivery".into()),
            ..JobOutcome::of(j, DeliveryStatus::Skipped)
        }));
        return out;
    };
    // A paused pixel's jobs wait as they are, without a call the platform would refuse.
    if row.paused_at.is_some() {
        let reason = row.paused_reason.clone().unwrap_or_default();
        out.extend(jobs.iter().map(|j| {
            JobOutcome::settled(
                j,
                Settlement::Paused {
                    reason: reason.clone(),
                },
                now,
            )
        }));
        return out;
    }
    let creds: Credentials = match super::conversions::credentials(env, tenant_id, row).await {
        Ok(c) => c,
        Err(e) => {
            out.extend(unrun(
                env,
                &jobs,
                "the pixel's credentials could not be read",
                e,
            ));
            return out;
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
        // Outside the platform's window: no attempt could deliver it.
        for (i, window) in &plan.skipped {
            out.push(JobOutcome {
                error: Some(window.clone()),
                ..JobOutcome::of(&jobs[unit[*i]], DeliveryStatus::Skipped)
            });
        }
        for (i, reason) in &plan.rejected {
            out.push(JobOutcome::settled(
                &jobs[unit[*i]],
                Settlement::Failed {
                    reason: format!("not sent: {reason}"),
                },
                now,
            ));
        }
        for request in plan.requests {
            let members: Vec<usize> = request.events.iter().map(|&i| unit[i]).collect();
            planned.push((request.request, members));
        }
    }
    drop(creds);
    let answers = join_all(planned.iter().map(|(r, _)| send(r, timeout))).await;
    let mut refused = None;
    for ((_, request_jobs), answer) in planned.iter().zip(answers) {
        // One outcome for the request, or one per job when the platform answered each on its own.
        let units: Vec<(Outcome, Vec<usize>)> =
            match dest.classify_rows(&answer, request_jobs.len()) {
                Some(rows) => rows
                    .into_iter()
                    .zip(request_jobs)
                    .map(|(o, &i)| (o, vec![i]))
                    .collect(),
                None => vec![(dest.classify(&answer), request_jobs.clone())],
            };
        for (outcome, indices) in &units {
            let members: Vec<&DeliveryJob> = indices.iter().map(|&i| &jobs[i]).collect();
            let response = match outcome {
                Outcome::Delivered { detail, .. } => detail
                    .clone()
                    .unwrap_or_else(|| format!("HTTP {}", answer.status)),
                _ => format!("HTTP {}: {}", answer.status, snippet(&answer.body)),
            };
            let trace = outcome.trace_id().map(str::to_string);
            for (&i, s) in indices.iter().zip(settle(policy, &members, outcome)) {
                if let Settlement::Paused { reason } = &s {
                    refused = Some(reason.clone());
                }
                let mut o = JobOutcome::settled(&jobs[i], s, now);
                if o.status == DeliveryStatus::Retrying {
                    o.error = outcome.reason().map(str::to_string);
                }
                o.trace_id = trace.clone();
                o.response = Some(response.clone());
                out.push(o);
            }
        }
    }
    if let Some(reason) = refused {
        if let Err(e) = pause_pixel(env, tenant_id, row, &reason, now).await {
            worker::console_error!("pixel {pixel}: pause not recorded: {}", e.message);
        }
    }
    out
}

/// Jobs that did not run because something of ours failed before any request was sent (`error`,
/// logged; `reason` is what their rows say): they wait and run again, then fail.
fn unrun(env: &Env, jobs: &[DeliveryJob], reason: &str, error: ApiError) -> Vec<JobOutcome> {
    worker::console_warn!("delivery deferred ({reason}): {}", error.message);
    let now = now_secs();
    jobs.iter()
        .zip(settle_unrun(config::retry_policy(env), jobs, reason))
        .map(|(j, s)| {
            let mut o = JobOutcome::settled(j, s, now);
            if o.status == DeliveryStatus::Retrying {
                o.error = Some(format!("waiting: {reason}"));
            }
            o
        })
        .collect()
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
