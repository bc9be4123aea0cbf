//! What the rest of the adapter asks of a tenant's event shards: the intake's claim (a request's
//! events split over the shards, all calls in parallel, after asking the shards of the previous
//! layout about the ids that moved), and the calls that go to every shard (audit reads, replay,
//! resume, erase).

use std::collections::BTreeMap;

use futures_util::future::join_all;
use worker::Env;

use crate::core::shard::{ClaimItem, ClaimRequest, ShardLayout};
use crate::edge::{bindings, ApiError};

/// Claims a request's events in the tenant's shards and leaves the fresh ones there, in their
/// outbox. `rejected` is the request's count of invalid events (for the counters). Returns, per
/// event, whether it is new. An error means some shard did not answer: its events were not
/// accepted (a retry by the client is safe: the rest are duplicates then).
pub async fn claim(
    env: &Env,
    tenant_id: &str,
    layout: &ShardLayout,
    events: Vec<ClaimItem>,
    rejected: u32,
    now: i64,
) -> Result<Vec<bool>, ApiError> {
    let routes: Vec<(u32, Option<u32>)> = events
        .iter()
        .map(|e| layout.route(&e.event_id, now))
        .collect();
    let mut fresh = vec![true; events.len()];

    // Ids the last layout change moved: a live claim in their old shard makes them duplicates.
    let mut moved: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, (_, previous)) in routes.iter().enumerate() {
        if let Some(p) = previous {
            moved.entry(*p).or_default().push(i);
        }
    }
    let checks = moved.iter().map(|(shard, idx)| {
        let ask = ClaimRequest {
            now,
            rejected: 0,
            check_only: true,
            events: idx
                .iter()
                .map(|&i| ClaimItem {
                    event_id: events[i].event_id.clone(),
                    visitor_id: None,
                    message: String::new(),
                })
                .collect(),
        };
        async move {
            Ok::<_, ApiError>((
                idx,
                bindings::shard_claim(env, tenant_id, *shard, &ask).await?,
            ))
        }
    });
    for result in join_all(checks).await {
        let (idx, answers) = result?;
        for (&i, f) in idx.iter().zip(answers) {
            fresh[i] = f;
        }
    }

    let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, (current, _)) in routes.iter().enumerate() {
        if fresh[i] {
            groups.entry(*current).or_default().push(i);
        }
    }
    if groups.is_empty() {
        // Only counters to record (invalid or moved-duplicate events): shard 0 keeps them.
        groups.insert(0, vec![]);
    }
    let mut items: Vec<Option<ClaimItem>> = events.into_iter().map(Some).collect();
    let calls: Vec<_> = groups
        .into_iter()
        .enumerate()
        .map(|(n, (shard, idx))| {
            let claim = ClaimRequest {
                now,
                check_only: false,
                events: idx.iter().filter_map(|&i| items[i].take()).collect(),
                // The request's invalid events (and those the old layout knew) are counted once,
                // with its first share.
                rejected: if n == 0 { rejected } else { 0 },
            };
            async move {
                Ok::<_, ApiError>((
                    idx,
                    bindings::shard_claim(env, tenant_id, shard, &claim).await?,
                ))
            }
        })
        .collect();
    for result in join_all(calls).await {
        let (idx, answers) = result?;
        for (&i, f) in idx.iter().zip(answers) {
            fresh[i] = f;
        }
    }
    Ok(fresh)
}

/// Calls `op` with `body` on every shard of the tenant, in parallel; the answers in shard order.
pub async fn each_shard<T: serde::de::DeserializeOwned>(
    env: &Env,
    tenant_id: &str,
    layout: &ShardLayout,
    op: &str,
    body: &serde_json::Value,
) -> Result<Vec<T>, ApiError> {
    let body = body.to_string();
    join_all(
        layout
            .all()
            .map(|n| bindings::shard_json::<T>(env, tenant_id, n, op, body.clone())),
    )
    .await
    .into_iter()
    .collect()
}

/// The counts the tenant's shards summed in memory and have not added to D1's rollups yet
/// (`(hour, destination, what) → n`, hours from `since`'s on): added to the rollups' numbers,
/// stats are exact at once.
#[cfg(feature = "jobs")]
pub async fn unflushed_counts(
    env: &Env,
    tenant_id: &str,
    since: i64,
) -> Result<crate::core::shard::CountList, ApiError> {
    let layout = crate::edge::store::d1::shard_layout(&bindings::db(env)?, tenant_id).await?;
    let answers: Vec<crate::core::shard::CountList> =
        each_shard(env, tenant_id, &layout, "/counts", &serde_json::json!({})).await?;
    Ok(answers
        .into_iter()
        .flatten()
        .filter(|((hour, _, _), _)| *hour >= since - since.rem_euclid(3600))
        .collect())
}
