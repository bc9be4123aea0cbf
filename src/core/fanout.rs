//! From an accepted event to per-destination jobs, and from a platform's answer to what happens
//! to each job next. Queue message shapes live here so both sides agree on them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::consent::{decide, effective, ConsentPolicy, ConsentState, Decision, DeliveryMode};
use super::destinations::{destination, DeliveryEvent};
use super::event::{AssertedConsent, Event};
use super::platform::{EventName, Platform};
use super::retry::{deferral_wait, next_step, NextStep, Outcome, RetryPolicy, MAX_DEFERRALS};
use super::weburl::url_host;

/// What the intake needs to know about a pixel to route events (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PixelRoute {
    /// Our id of the pixel (uuid), not the platform's.
    pub id: String,
    pub platform: Platform,
    pub is_active: bool,
    pub server_side_enabled: bool,
    /// When non-empty, only events whose URL host is one of these (or a subdomain) go here.
    #[serde(default)]
    pub domains: Vec<String>,
    /// When non-empty, only these events (canonical or custom names) go to this pixel.
    #[serde(default)]
    pub event_names: Vec<String>,
}

impl PixelRoute {
    /// Whether this pixel wants the event. A LinkedIn conversion rule counts every event sent to
    /// it as one conversion, so without an explicit list it never gets page views or content views.
    pub fn accepts(&self, event: &Event) -> bool {
        if !self.event_names.is_empty() {
            let name = event.display_name();
            return self.event_names.iter().any(|n| n == name);
        }
        match self.platform {
            Platform::Linkedin => !matches!(
                event.event_name,
                EventName::PageView | EventName::ViewContent
            ),
            // A Google Ads destination takes only the names it has conversion actions for.
            Platform::GoogleAds => false,
            _ => true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryJob {
    pub tenant_id: String,
    pub pixel: String,
    pub platform: Platform,
    pub delivery: DeliveryEvent,
    /// 1-based attempt this message will make.
    pub attempt: u32,
    #[serde(default)]
    pub deferrals: u32,
    /// Sent in a request of its own: a request that carried it with other events was refused as
    /// a whole, so each event must get its own answer. Never split again, so a permanent error
    /// ends in one more call per event at most.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub solo: bool,
}

/// How long a split batch's events wait before each is sent alone. Not zero: a refused batch is
/// never answered by an immediate storm of calls.
pub const SPLIT_DELAY_SECS: u32 = 1;

/// The requests a consumer batch's jobs for one pixel form, as indices into `jobs`: all jobs that
/// may share a request in one unit (the destination cuts it into requests by its own batch
/// limit), then each `solo` job alone. A second job for an (event, pixel) already in a unit is
/// left out: the same delivery twice in one batch (a re-sent message) is sent once.
pub fn plan_units(jobs: &[DeliveryJob]) -> Vec<Vec<usize>> {
    let mut seen = std::collections::HashSet::new();
    let mut shared = Vec::new();
    let mut units = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        if !seen.insert((j.pixel.as_str(), j.delivery.event.event_id.as_str())) {
            continue;
        }
        if j.solo {
            units.push(vec![i]);
        } else {
            shared.push(i);
        }
    }
    if !shared.is_empty() {
        units.insert(0, shared);
    }
    units
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Retrying,
    Delivered,
    Failed,
    Skipped,
    /// Parked while the platform refuses the pixel; resumed when its credentials change.
    Paused,
}

impl DeliveryStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Skipped => "skipped",
            DeliveryStatus::Paused => "paused",
        }
    }
}

/// Initial per-destination row written with the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteRecord {
    pub pixel: String,
    pub platform: Platform,
    pub status: DeliveryStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A destination an accepted event is queued for, as its Record carries it (the job is rebuilt
/// from the record: same event, same consent, first attempt).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstDelivery {
    pub pixel: String,
    pub platform: Platform,
    pub mode: DeliveryMode,
}

/// Everything that goes through the delivery queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QueueMessage {
    /// Store the accepted event (hashed PII only) and its routing decisions, and make the first
    /// attempt of each destination it is queued for. One message per accepted event, however
    /// many destinations: the event travels once, and a consumer batch covers 100 events.
    /// Retries travel as `Deliver`.
    Record {
        tenant_id: String,
        /// The same allocation the event's Deliver jobs share.
        event: Arc<Event>,
        consent: AssertedConsent,
        received_at: i64,
        routes: Vec<RouteRecord>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        deliveries: Vec<FirstDelivery>,
    },
    Deliver(Box<DeliveryJob>),
}

impl QueueMessage {
    /// The queue message of an accepted event: its record and the first attempt of every
    /// destination `route` queued it for.
    pub fn accepted(tenant_id: &str, event: Arc<Event>, routed: Routed, received_at: i64) -> Self {
        QueueMessage::Record {
            tenant_id: tenant_id.to_string(),
            event,
            consent: routed.consent,
            received_at,
            routes: routed.records,
            deliveries: routed
                .jobs
                .into_iter()
                .map(|j| FirstDelivery {
                    pixel: j.pixel,
                    platform: j.platform,
                    mode: j.delivery.mode,
                })
                .collect(),
        }
    }

    /// The delivery jobs a message asks for: a Deliver's own, or the first attempts a Record
    /// carries.
    pub fn jobs(&self) -> Vec<DeliveryJob> {
        match self {
            QueueMessage::Deliver(job) => vec![(**job).clone()],
            QueueMessage::Record {
                tenant_id,
                event,
                consent,
                deliveries,
                ..
            } => deliveries
                .iter()
                .map(|d| DeliveryJob {
                    tenant_id: tenant_id.clone(),
                    pixel: d.pixel.clone(),
                    platform: d.platform,
                    delivery: DeliveryEvent {
                        event: Arc::clone(event),
                        mode: d.mode,
                        consent: *consent,
                    },
                    attempt: 1,
                    deferrals: 0,
                    solo: false,
                })
                .collect(),
        }
    }
}

pub const MAX_SEND_BATCH_MESSAGES: usize = 100;
/// The largest message the intake puts on the Queue, which takes 128 KB per message: an event
/// whose message would not fit is refused at intake (a message the Queue refuses would never
/// be delivered), with room to spare for the Queue's own envelope.
pub const MAX_MESSAGE_BYTES: usize = 120 * 1024;
pub const MAX_SEND_BATCH_BYTES: usize = 200 * 1024;

/// Splits messages (given by their body sizes) into consecutive groups that each fit one
/// The event part that weighs most once encoded, to name in an error about the event's size.
pub fn largest_part(event: &Event) -> &'static str {
    let parts = [
        (
            "custom_data",
            serde_json::to_string(&event.custom_data).map_or(0, |s| s.len()),
        ),
        ("url", event.url.as_deref().map_or(0, str::len)),
        ("referrer", event.referrer.as_deref().map_or(0, str::len)),
    ];
    parts
        .iter()
        .max_by_key(|(_, n)| *n)
        .map_or("custom_data", |(name, _)| name)
}

/// sendBatch. A message larger than the byte limit travels alone (the Queue judges it).
pub fn send_batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    consecutive_groups(sizes, MAX_SEND_BATCH_MESSAGES, MAX_SEND_BATCH_BYTES)
}

/// Splits items (given by their sizes) into consecutive groups of at most `max_items` items and
/// `max_bytes` bytes; an item larger than `max_bytes` forms a group alone.
pub fn consecutive_groups(
    sizes: &[usize],
    max_items: usize,
    max_bytes: usize,
) -> Vec<std::ops::Range<usize>> {
    let mut groups = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start == max_items || bytes + size > max_bytes;
        if i > start && full {
            groups.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        groups.push(start..sizes.len());
    }
    groups
}

pub struct Routed {
    pub jobs: Vec<DeliveryJob>,
    pub records: Vec<RouteRecord>,
    pub consent: AssertedConsent,
}

/// Decides, for every pixel of the tenant, whether this event goes there and how. The jobs share
/// `event` (no copy per destination).
pub fn route(
    tenant_id: &str,
    event: &Arc<Event>,
    pixels: &[PixelRoute],
    stored: Option<&ConsentState>,
    policy: &ConsentPolicy,
) -> Routed {
    let consent = effective(event.consent, stored, policy);
    // Only pixels restricted to domains need the event's host.
    let host = pixels
        .iter()
        .any(|p| !p.domains.is_empty())
        .then(|| event.url.as_deref().and_then(url_host))
        .flatten();
    let mut routed = Routed {
        jobs: Vec::new(),
        records: Vec::new(),
        consent,
    };
    // An event that names its platforms goes to those platforms' pixels only.
    let named = |p: &PixelRoute| {
        event
            .platforms
            .as_ref()
            .is_none_or(|ps| ps.contains(&p.platform))
    };
    for p in pixels {
        if !p.is_active || !p.server_side_enabled || !p.accepts(event) || !named(p) {
            continue;
        }
        let skip = |reason: &str| RouteRecord {
            pixel: p.id.clone(),
            platform: p.platform,
            status: DeliveryStatus::Skipped,
            reason: Some(reason.to_string()),
        };
        if destination(p.platform).is_none() {
            routed
                .records
                .push(skip("platform not supported by this gateway version"));
            continue;
        }
        if !p.domains.is_empty()
            && !host
                .as_deref()
                .is_some_and(|h| domain_allowed(h, &p.domains))
        {
            routed
                .records
                .push(skip("event url is not on one of the pixel's domains"));
            continue;
        }
        match decide(p.platform, consent, policy) {
            Decision::Skip(reason) => routed.records.push(skip(reason)),
            Decision::Send(mode) => {
                routed.records.push(RouteRecord {
                    pixel: p.id.clone(),
                    platform: p.platform,
                    status: DeliveryStatus::Queued,
                    reason: None,
                });
                routed.jobs.push(DeliveryJob {
                    tenant_id: tenant_id.to_string(),
                    pixel: p.id.clone(),
                    platform: p.platform,
                    delivery: DeliveryEvent {
                        event: Arc::clone(event),
                        mode,
                        consent,
                    },
                    attempt: 1,
                    deferrals: 0,
                    solo: false,
                });
            }
        }
    }
    routed
}

/// `shop.example.com` is allowed by `example.com` and by `shop.example.com`, not by `ample.com`.
pub fn domain_allowed(host: &str, domains: &[String]) -> bool {
    let host = host.as_bytes();
    domains.iter().any(|d| {
        let d = d.trim().trim_start_matches("*.").as_bytes();
        match host.len().checked_sub(d.len()) {
            Some(0) => host.eq_ignore_ascii_case(d),
            Some(dot) => host[dot - 1] == b'.' && host[dot..].eq_ignore_ascii_case(d),
            None => false,
        }
    })
}

/// The fate of one job after its request was answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    Delivered,
    /// Re-enqueue this job (its attempt/deferrals already advanced) after `delay_secs`.
    Requeue {
        job: Box<DeliveryJob>,
        delay_secs: u32,
    },
    Failed {
        reason: String,
    },
    /// Park the job (as it is: nothing spent) until the pixel's credentials change.
    Paused {
        reason: String,
    },
}

/// Applies one outcome to the jobs that shared a request.
pub fn settle(policy: RetryPolicy, jobs: &[&DeliveryJob], outcome: &Outcome) -> Vec<Settlement> {
    // Jobs of one request share attempt counts except after a split; use the highest so the batch
    // never gets more tries than its most-tried member.
    let attempt = jobs.iter().map(|j| j.attempt).max().unwrap_or(1);
    let deferrals = jobs.iter().map(|j| j.deferrals).max().unwrap_or(0);
    match next_step(policy, outcome, attempt, deferrals, jobs.len()) {
        NextStep::Done => jobs.iter().map(|_| Settlement::Delivered).collect(),
        NextStep::Pause { reason } => jobs
            .iter()
            .map(|_| Settlement::Paused {
                reason: reason.clone(),
            })
            .collect(),
        NextStep::Fail { reason } => jobs
            .iter()
            .map(|_| Settlement::Failed {
                reason: reason.clone(),
            })
            .collect(),
        NextStep::Split => jobs
            .iter()
            .map(|j| {
                let mut job = (*j).clone();
                job.solo = true;
                Settlement::Requeue {
                    job: Box::new(job),
                    delay_secs: SPLIT_DELAY_SECS,
                }
            })
            .collect(),
        NextStep::Retry {
            delay_secs,
            attempt,
            deferrals,
        } => jobs
            .iter()
            .map(|j| {
                let mut job = (*j).clone();
                job.attempt = attempt;
                job.deferrals = deferrals;
                Settlement::Requeue {
                    job: Box::new(job),
                    delay_secs,
                }
            })
            .collect(),
    }
}

/// Jobs that did not run because our own storage failed before any request was sent: they wait
/// (backoff by deferral, twice the retry backoff like a throttled platform) and run again without
/// spending an attempt; past `MAX_DEFERRALS` waits they fail with `reason`.
pub fn settle_unrun(policy: RetryPolicy, jobs: &[DeliveryJob], reason: &str) -> Vec<Settlement> {
    jobs.iter()
        .map(|j| {
            if j.deferrals >= MAX_DEFERRALS {
                return Settlement::Failed {
                    reason: format!(
                        "not sent: {reason} (still failing after {} waits)",
                        j.deferrals
                    ),
                };
            }
            let mut job = j.clone();
            job.deferrals += 1;
            Settlement::Requeue {
                delay_secs: deferral_wait(policy, job.deferrals),
                job: Box::new(job),
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::core::event::{parse_event, IntakeContext};
    use serde_json::json;

    #[test]
    fn send_batches_respect_the_queue_limits() {
        assert!(send_batches(&[]).is_empty());
        assert_eq!(send_batches(&[10; 250]), vec![0..100, 100..200, 200..250]);
        let big = MAX_SEND_BATCH_BYTES / 2;
        assert_eq!(send_batches(&[big, big, 1, big]), vec![0..2, 2..4]);
        assert_eq!(
            send_batches(&[MAX_SEND_BATCH_BYTES + 1, 5, 5]),
            vec![0..1, 1..3],
            "an oversized message goes alone"
        );
    }

    fn event(url: &str) -> Arc<Event> {
        let ctx = IntakeContext {
            now: 100,
            ip: None,
            user_agent: Some("UA"),
            geo_country: None,
            trusted: false,
        };
        parse_event(
            &json!({"event_id": "e", "event_name": "lead", "url": url}),
            "",
            &ctx,
            &mut || "x".into(),
        )
        .unwrap()
        .event
        .into()
    }

    /// An active server-side pixel without filters (other modules' tests use it too).
    pub(crate) fn pixel(id: &str, platform: Platform) -> PixelRoute {
        PixelRoute {
            id: id.into(),
            platform,
            is_active: true,
            server_side_enabled: true,
            domains: vec![],
            event_names: vec![],
        }
    }

    /// The one job of an event to a Meta pixel, with consent.
    pub(crate) fn meta_job() -> DeliveryJob {
        let r = route(
            "t",
            &event("https://a.example/x"),
            &[pixel("p1", Platform::Meta)],
            Some(&granted()),
            &ConsentPolicy::default(),
        );
        r.jobs[0].clone()
    }

    fn granted() -> ConsentState {
        ConsentState {
            analytics: true,
            marketing: true,
            functional: true,
            version: "1".into(),
            updated_at: 1,
            tc_string: None,
        }
    }

    #[test]
    fn an_event_naming_its_platforms_goes_to_those_only() {
        let mut ev = (*event("https://a.example/x")).clone();
        ev.platforms = Some(vec![Platform::Meta, Platform::Linkedin]);
        let pixels = [
            pixel("p1", Platform::Meta),
            pixel("p2", Platform::Google),
            pixel("p3", Platform::Linkedin),
            pixel("p4", Platform::Meta),
        ];
        let r = route(
            "t",
            &Arc::new(ev),
            &pixels,
            Some(&granted()),
            &ConsentPolicy::default(),
        );
        let sent: Vec<&str> = r.jobs.iter().map(|j| j.pixel.as_str()).collect();
        assert_eq!(sent, ["p1", "p3", "p4"]);
        assert_eq!(
            r.records.len(),
            3,
            "a platform not named gets nothing, not a skip"
        );
        let all = route(
            "t",
            &event("https://a.example/x"),
            &pixels,
            Some(&granted()),
            &ConsentPolicy::default(),
        );
        assert_eq!(all.jobs.len(), 4, "without the field: every pixel");
    }

    #[test]
    fn routes_only_active_server_side_pixels_with_consent() {
        let mut inactive = pixel("p2", Platform::Meta);
        inactive.is_active = false;
        let mut client_only = pixel("p3", Platform::Meta);
        client_only.server_side_enabled = false;
        let r = route(
            "t",
            &event("https://a.example/x"),
            &[pixel("p1", Platform::Meta), inactive, client_only],
            Some(&granted()),
            &ConsentPolicy::default(),
        );
        assert_eq!(r.jobs.len(), 1);
        assert_eq!(r.jobs[0].pixel, "p1");
        assert_eq!(r.jobs[0].attempt, 1);
        assert_eq!(r.records.len(), 1);
    }

    #[test]
    fn an_accepted_event_is_one_message_that_gives_back_its_jobs() {
        let ev = event("https://a.example/x");
        let pixels = [pixel("p1", Platform::Meta), pixel("p2", Platform::Google)];
        let routed = route(
            "t",
            &ev,
            &pixels,
            Some(&granted()),
            &ConsentPolicy::default(),
        );
        let jobs = routed.jobs.clone();
        let message = QueueMessage::accepted("t", Arc::clone(&ev), routed, 100);
        let wire = serde_json::to_string(&message).unwrap();
        // The event travels once, not once per destination.
        assert_eq!(wire.matches(r#""event_id":"e""#).count(), 1);
        let back: QueueMessage = serde_json::from_str(&wire).unwrap();
        assert_eq!(back, message);
        assert_eq!(back.jobs(), jobs);
        // A record without destinations (consent denied) carries no list at all.
        let none = route("t", &ev, &pixels, None, &ConsentPolicy::default());
        let wire = serde_json::to_string(&QueueMessage::accepted("t", ev, none, 100)).unwrap();
        assert!(!wire.contains("deliveries"));
        let back: QueueMessage = serde_json::from_str(&wire).unwrap();
        assert!(back.jobs().is_empty());
    }

    #[test]
    fn no_consent_records_a_skip_and_sends_nothing() {
        let r = route(
            "t",
            &event("https://a.example/x"),
            &[pixel("p1", Platform::Meta)],
            None,
            &ConsentPolicy::default(),
        );
        assert!(r.jobs.is_empty());
        assert_eq!(r.records[0].status, DeliveryStatus::Skipped);
        assert_eq!(r.records[0].reason.as_deref(), Some("no marketing consent"));
    }

    #[test]
    fn event_filters_and_linkedin_conversion_default() {
        let ev = event("https://a.example/x"); // a lead
        let mut only_purchase = pixel("p1", Platform::Meta);
        only_purchase.event_names = vec!["purchase".into()];
        assert!(!only_purchase.accepts(&ev));
        only_purchase.event_names.push("lead".into());
        assert!(only_purchase.accepts(&ev));
        let li = pixel("p2", Platform::Linkedin);
        assert!(li.accepts(&ev));
        let mut pv = Event::clone(&ev);
        pv.event_name = EventName::PageView;
        assert!(!li.accepts(&pv), "page views are not LinkedIn conversions");
        assert!(pixel("p3", Platform::Meta).accepts(&pv));
    }

    #[test]
    fn pixel_domains_filter_by_url_host() {
        let mut p = pixel("p1", Platform::Meta);
        p.domains = vec!["example.com".into()];
        let ok = route(
            "t",
            &event("https://shop.example.com/x"),
            std::slice::from_ref(&p),
            Some(&granted()),
            &ConsentPolicy::default(),
        );
        assert_eq!(ok.jobs.len(), 1);
        let no = route(
            "t",
            &event("https://evil-example.com/x"),
            &[p],
            Some(&granted()),
            &ConsentPolicy::default(),
        );
        assert!(no.jobs.is_empty());
        assert!(domain_allowed("example.com", &["*.example.com".into()]));
        assert!(!domain_allowed("ample.com", &["example.com".into()]));
    }

    #[test]
    fn settle_retries_then_fails_and_splits_permanent_batches() {
        let job = &meta_job();
        let policy = RetryPolicy { base_delay_secs: 1 };
        let err = Outcome::Retryable {
            reason: "HTTP 500".into(),
            trace_id: None,
        };
        let s = settle(policy, &[job], &err);
        let Settlement::Requeue {
            job: j2,
            delay_secs,
        } = &s[0]
        else {
            panic!("{s:?}")
        };
        assert_eq!((j2.attempt, *delay_secs), (2, 1));
        let s = settle(policy, &[j2], &err);
        let Settlement::Requeue {
            job: j3,
            delay_secs,
        } = &s[0]
        else {
            panic!("{s:?}")
        };
        assert_eq!((j3.attempt, *delay_secs), (3, 4));
        assert!(matches!(
            settle(policy, &[j3], &err)[0],
            Settlement::Failed { .. }
        ));
        let perm = Outcome::Permanent {
            reason: "bad".into(),
            trace_id: None,
        };
        // A refused batch comes back as solo jobs after a delay, its attempt not spent...
        let split = settle(policy, &[job, job], &perm);
        let solo: Vec<&DeliveryJob> = split
            .iter()
            .map(|s| match s {
                Settlement::Requeue { job, delay_secs } => {
                    assert_eq!(*delay_secs, SPLIT_DELAY_SECS);
                    assert!(job.solo && job.attempt == 1);
                    job.as_ref()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        // ...and each solo job's own permanent error fails it: the split happens once.
        assert!(matches!(
            settle(policy, &solo[..1], &perm)[0],
            Settlement::Failed { .. }
        ));
        assert!(matches!(
            settle(policy, &[job], &perm)[0],
            Settlement::Failed { .. }
        ));
        // The flag travels in the message only when set (older messages decode as shared).
        let wire = serde_json::to_string(solo[0]).unwrap();
        assert!(wire.contains(r#""solo":true"#));
        assert!(!serde_json::to_string(job).unwrap().contains("solo"));
    }

    #[test]
    fn solo_jobs_travel_alone_and_repeated_deliveries_once() {
        let pixels = [pixel("p1", Platform::Meta)];
        let job = |id: &str, solo: bool| {
            let mut ev = event("https://a.example/x");
            Arc::make_mut(&mut ev).event_id = id.into();
            let r = route(
                "t",
                &ev,
                &pixels,
                Some(&granted()),
                &ConsentPolicy::default(),
            );
            let mut j = r.jobs[0].clone();
            j.solo = solo;
            j
        };
        let jobs = vec![
            job("a", false),
            job("b", true),
            job("c", false),
            job("a", false),
            job("d", true),
            job("b", true),
        ];
        assert_eq!(plan_units(&jobs), vec![vec![0, 2], vec![1], vec![4]]);
        assert_eq!(plan_units(&jobs[1..2]), vec![vec![0]]);
        assert!(plan_units(&[]).is_empty());
    }

    #[test]
    fn queue_messages_round_trip() {
        let m = QueueMessage::Deliver(Box::new(meta_job()));
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<QueueMessage>(&s).unwrap(), m);
    }

    #[test]
    fn jobs_that_did_not_run_wait_without_spending_attempts_then_fail() {
        let policy = RetryPolicy { base_delay_secs: 1 };
        let mut job = meta_job();
        let mut waits = vec![];
        loop {
            match settle_unrun(policy, std::slice::from_ref(&job), "D1 unavailable").remove(0) {
                Settlement::Requeue {
                    job: next,
                    delay_secs,
                } => {
                    assert_eq!(next.attempt, 1);
                    waits.push(delay_secs);
                    job = *next;
                }
                Settlement::Failed { reason } => {
                    assert!(reason.contains("D1 unavailable"), "{reason}");
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(waits.len() as u32, MAX_DEFERRALS);
        assert_eq!(&waits[..3], &[2, 8, 32]);
        assert!(waits
            .iter()
            .all(|&w| (1..=crate::core::retry::MAX_DELAY_SECS).contains(&w)));
    }
}
