//! The hourly rollups the event shards add to (intake and delivery counts), and the retention
//! purge of what D1 keeps per visitor.

use worker::D1Database;

use super::{batch, n, run, s, stmt};
use crate::core::shard::Counts;
use crate::edge::ApiError;

/// Adds a shard's counts to the hourly rollups: intake counts (destination "") to
/// `intake_counters`, delivery outcomes (destination "platform:pixel") to `delivery_counters`.
/// One statement per hour and row, all in one batch.
pub async fn add_counts(db: &D1Database, tenant_id: &str, counts: &Counts) -> Result<(), ApiError> {
    let mut stmts = Vec::new();
    let mut intake: std::collections::BTreeMap<i64, [i64; 4]> = Default::default();
    for ((hour, destination, what), &count) in counts {
        if destination.is_empty() {
            let slot = match what.as_str() {
                "received" => 0,
                "accepted" => 1,
                "duplicates" => 2,
                "rejected" => 3,
                _ => continue,
            };
            intake.entry(*hour).or_default()[slot] += count;
            continue;
        }
        let (platform, pixel) = destination.split_once(':').unwrap_or((destination, ""));
        stmts.push(stmt(
            db,
            "INSERT INTO delivery_counters (tenant_id, hour, pixel_id, platform, status, n, last_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT(tenant_id, hour, pixel_id, status) DO UPDATE SET n = n + excluded.n, last_at = max(last_at, excluded.last_at)",
            &[s(tenant_id), n(*hour), s(pixel), s(platform), s(what), n(count), n(crate::edge::now_secs())],
        )?);
    }
    for (hour, [received, accepted, duplicates, rejected]) in intake {
        stmts.push(stmt(
            db,
            "INSERT INTO intake_counters (tenant_id, hour, received, accepted, duplicates, rejected) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(tenant_id, hour) DO UPDATE SET received = received + excluded.received, accepted = accepted + excluded.accepted,
               duplicates = duplicates + excluded.duplicates, rejected = rejected + excluded.rejected",
            &[s(tenant_id), n(hour), n(received), n(accepted), n(duplicates), n(rejected)],
        )?);
    }
    if stmts.is_empty() {
        return Ok(());
    }
    batch(db, stmts).await
}

/// Drops consent-record IPs older than 30 days and rollups older than 400 days. (Events and
/// their deliveries live in the event shards, which drop them after the dedup window.)
pub async fn purge(db: &D1Database, now: i64) -> Result<(u64, u64), ApiError> {
    let ip_cutoff = crate::core::retention::ip_cutoff(now);
    let ips = run(
        db,
        "UPDATE consent_records SET ip = NULL WHERE ip IS NOT NULL AND created_at < ?1",
        &[n(ip_cutoff)],
    )
    .await?;
    let old = now - 400 * 86400;
    let rollups = run(db, "DELETE FROM intake_counters WHERE hour < ?1", &[n(old)]).await?
        + run(
            db,
            "DELETE FROM delivery_counters WHERE hour < ?1",
            &[n(old)],
        )
        .await?;
    Ok((ips, rollups))
}
