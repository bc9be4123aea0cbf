//! An event's trail per destination, assembled from what its shard keeps: the accepted record
//! (its routes: where it was queued, where skipped and why), its parcel (sent, leased, settled,
//! and the destinations delivered at the first attempt) and its exception rows (anything else,
//! and anything retried). The audit API, the delivery listing and the dashboard read trails.

use serde::{Deserialize, Serialize};

use super::fanout::{DeliveryStatus, QueueMessage};

/// A parcel as a trail needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParcelView {
    pub state: String,
    pub sent_at: i64,
    pub settled_at: Option<i64>,
}

/// An exception row as a trail needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub event_id: String,
    pub pixel: String,
    pub platform: String,
    pub status: String,
    pub attempts: i64,
    pub error: Option<String>,
    pub trace_id: Option<String>,
    pub response: Option<String>,
    pub updated: i64,
    pub replays: i64,
    pub replayed_at: Option<i64>,
    pub event_name: Option<String>,
}

/// One destination of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DestinationRow {
    pub event_id: String,
    pub event_name: Option<String>,
    /// Our pixel id.
    pub pixel: String,
    pub platform: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub trace_id: Option<String>,
    pub response: Option<String>,
    pub updated_at: i64,
    pub replays: i64,
    pub replayed_at: Option<i64>,
}

impl DestinationRow {
    /// The listing's order: newest change first, then by ids (a total order, so keyset pages
    /// never repeat or skip a row).
    pub fn key(&self) -> (i64, &str, &str) {
        (self.updated_at, &self.event_id, &self.pixel)
    }

    /// Whether the row comes after the cursor (older) in the listing's order.
    pub fn after(&self, cursor: &(i64, String, String)) -> bool {
        self.key() < (cursor.0, cursor.1.as_str(), cursor.2.as_str())
    }
}

/// Sorts rows in the listing's order (newest first).
pub fn sort_newest_first(rows: &mut [DestinationRow]) {
    rows.sort_by(|a, b| b.key().cmp(&a.key()));
}

impl From<&JobView> for DestinationRow {
    fn from(j: &JobView) -> Self {
        DestinationRow {
            event_id: j.event_id.clone(),
            event_name: j.event_name.clone(),
            pixel: j.pixel.clone(),
            platform: j.platform.clone(),
            status: j.status.clone(),
            attempts: j.attempts,
            last_error: j.error.clone(),
            trace_id: j.trace_id.clone(),
            response: j.response.clone(),
            updated_at: j.updated,
            replays: j.replays,
            replayed_at: j.replayed_at,
        }
    }
}

/// The destinations of an accepted event (a `Record`) received at `received_at`: an exception
/// row wins; else a skip at intake; else delivered on the parcel; else in flight (`sending` while
/// a consumer holds the parcel, `queued` before).
pub fn trail(
    record: &QueueMessage,
    received_at: i64,
    parcel: Option<&ParcelView>,
    delivered: &[(String, String, u32, Option<String>)],
    jobs: &[JobView],
) -> Vec<DestinationRow> {
    let QueueMessage::Record { event, routes, .. } = record else {
        return jobs.iter().map(DestinationRow::from).collect();
    };
    let name = Some(event.display_name().to_string());
    let base = |pixel: &str, platform: &str| DestinationRow {
        event_id: event.event_id.clone(),
        event_name: name.clone(),
        pixel: pixel.to_string(),
        platform: platform.to_string(),
        status: DeliveryStatus::Queued.as_str().to_string(),
        attempts: 0,
        last_error: None,
        trace_id: None,
        response: None,
        updated_at: received_at,
        replays: 0,
        replayed_at: None,
    };
    let mut rows = Vec::with_capacity(routes.len());
    for r in routes {
        let pixel = r.pixel.as_str();
        if let Some(j) = jobs.iter().find(|j| j.pixel == pixel) {
            rows.push(DestinationRow {
                event_name: name.clone(),
                ..DestinationRow::from(j)
            });
            continue;
        }
        let mut row = base(pixel, r.platform.as_str());
        if r.status == DeliveryStatus::Skipped {
            row.status = "skipped".into();
            row.last_error = r.reason.clone();
        } else if let Some((_, _, attempts, trace)) = delivered.iter().find(|d| d.0 == pixel) {
            row.status = "delivered".into();
            row.attempts = i64::from(*attempts);
            row.trace_id = trace.clone();
            row.updated_at = parcel.and_then(|p| p.settled_at).unwrap_or(received_at);
        } else if let Some(p) = parcel {
            row.updated_at = p.sent_at.max(received_at);
            if p.state == "leased" {
                row.status = "sending".into();
            }
        }
        rows.push(row);
    }
    // Rows of pixels the record does not route to (none today; kept visible if they appear).
    for j in jobs
        .iter()
        .filter(|j| !routes.iter().any(|r| r.pixel == j.pixel))
    {
        rows.push(DestinationRow::from(j));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::fanout::{tests::meta_job, RouteRecord};
    use crate::core::platform::Platform;
    use std::sync::Arc;

    fn record(routes: Vec<RouteRecord>) -> QueueMessage {
        let job = meta_job();
        QueueMessage::Record {
            tenant_id: "t".into(),
            event: Arc::clone(&job.delivery.event),
            consent: job.delivery.consent,
            received_at: 100,
            routes,
            deliveries: vec![],
        }
    }

    fn route(pixel: &str, platform: Platform, status: DeliveryStatus) -> RouteRecord {
        RouteRecord {
            pixel: pixel.into(),
            platform,
            status,
            reason: None,
        }
    }

    fn job(pixel: &str, status: &str) -> JobView {
        JobView {
            event_id: meta_job().delivery.event.event_id.clone(),
            pixel: pixel.into(),
            platform: "ga4".into(),
            status: status.into(),
            attempts: 3,
            error: Some("HTTP 500".into()),
            trace_id: None,
            response: None,
            updated: 300,
            replays: 0,
            replayed_at: None,
            event_name: None,
        }
    }

    #[test]
    fn each_destination_from_the_best_source() {
        let mut skipped = route("p3", Platform::Tiktok, DeliveryStatus::Skipped);
        skipped.reason = Some("no marketing consent".into());
        let rec = record(vec![
            route("p1", Platform::Meta, DeliveryStatus::Queued),
            route("p2", Platform::Google, DeliveryStatus::Queued),
            skipped,
            route("p4", Platform::Linkedin, DeliveryStatus::Queued),
        ]);
        let parcel = ParcelView {
            state: "settled".into(),
            sent_at: 110,
            settled_at: Some(120),
        };
        let delivered = vec![("p1".into(), "meta".into(), 1, Some("Ftrace".into()))];
        let rows = trail(
            &rec,
            100,
            Some(&parcel),
            &delivered,
            &[job("p2", "retrying")],
        );
        let by = |p: &str| rows.iter().find(|r| r.pixel == p).unwrap();
        assert_eq!(
            (
                by("p1").status.as_str(),
                by("p1").updated_at,
                by("p1").trace_id.as_deref()
            ),
            ("delivered", 120, Some("Ftrace"))
        );
        assert_eq!(
            (by("p2").status.as_str(), by("p2").attempts),
            ("retrying", 3)
        );
        assert_eq!(by("p2").event_name.as_deref(), Some("lead"));
        assert_eq!(
            (by("p3").status.as_str(), by("p3").last_error.as_deref()),
            ("skipped", Some("no marketing consent"))
        );
        // Settled without an outcome for p4 would be a bug; in flight it is queued or sending.
        let leased = ParcelView {
            state: "leased".into(),
            sent_at: 110,
            settled_at: None,
        };
        let rows = trail(&rec, 100, Some(&leased), &[], &[]);
        assert_eq!(rows[3].status, "sending");
        let rows = trail(&rec, 100, None, &[], &[]);
        assert_eq!(
            (rows[0].status.as_str(), rows[0].updated_at),
            ("queued", 100)
        );
    }

    #[test]
    fn listing_order_is_total_and_the_cursor_excludes_what_was_shown() {
        let mut rows: Vec<DestinationRow> = [(5, "b", "p"), (5, "a", "q"), (7, "a", "p")]
            .iter()
            .map(|&(t, e, p)| DestinationRow {
                updated_at: t,
                event_id: e.into(),
                pixel: p.into(),
                ..DestinationRow::from(&job("x", "failed"))
            })
            .collect();
        sort_newest_first(&mut rows);
        let keys: Vec<_> = rows.iter().map(|r| r.key()).collect();
        assert_eq!(keys, vec![(7, "a", "p"), (5, "b", "p"), (5, "a", "q")]);
        let cursor = (5, "b".to_string(), "p".to_string());
        assert!(!rows[0].after(&cursor) && !rows[1].after(&cursor) && rows[2].after(&cursor));
    }
}
