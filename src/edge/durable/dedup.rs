//! DedupShard: one SQLite-backed Durable Object per shard of the event-id space. A DO runs one
//! request at a time and its SQL calls are synchronous, so check-and-mark is atomic without locks:
//! 20 concurrent posts of one event id are serialized here and exactly one wins.

use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

use crate::core::dedup::{
    claim_all, dedup_key, is_expired, shard_of, SeenStore, DEDUP_WINDOW_SECS,
};
use crate::edge::{now_ms, ApiError};

/// How often the shard sweeps expired keys.
const SWEEP_EVERY_MS: i64 = 6 * 3600 * 1000;

/// `set_alarm` takes an integer as an offset from now, not a timestamp: pass a Duration.
fn sweep_interval() -> std::time::Duration {
    std::time::Duration::from_millis(SWEEP_EVERY_MS as u64)
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ShardRequest {
    Claim { keys: Vec<String>, now: i64 },
    Release { keys: Vec<String>, at: i64 },
}

#[derive(Serialize, Deserialize)]
pub struct ClaimAnswer {
    pub fresh: Vec<bool>,
}

#[durable_object]
pub struct DedupShard {
    state: State,
    sql: SqlStorage,
    /// Whether this instance already made sure the sweep alarm is set: checking storage on every
    /// claim was one more storage round trip per beacon.
    alarm_checked: std::cell::Cell<bool>,
}

struct SqlSeen<'a>(&'a SqlStorage);

impl SeenStore for SqlSeen<'_> {
    /// One statement: the row is written (and returned) only when the key is new or its previous
    /// sighting has expired; a live duplicate returns no row and changes nothing.
    fn claim(&mut self, key: &str, now: i64) -> bool {
        // `is_expired(ts, now)` ⇔ `ts <= now - DEDUP_WINDOW_SECS`.
        let expired_at_or_before = now - DEDUP_WINDOW_SECS;
        debug_assert!(is_expired(expired_at_or_before, now));
        super::first_column(
            self.0.exec(
                "INSERT INTO seen (k, ts) VALUES (?, ?) \
                 ON CONFLICT(k) DO UPDATE SET ts = excluded.ts WHERE seen.ts <= ? \
                 RETURNING ts",
                vec![
                    key.into(),
                    (now as f64).into(),
                    (expired_at_or_before as f64).into(),
                ],
            ),
            "ts",
        )
        .is_some()
    }

    fn release(&mut self, key: &str, at: i64) {
        let _ = self.0.exec(
            "DELETE FROM seen WHERE k = ? AND ts = ?",
            vec![key.into(), (at as f64).into()],
        );
    }
}

impl DurableObject for DedupShard {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        sql.exec(
            "CREATE TABLE IF NOT EXISTS seen (k TEXT PRIMARY KEY, ts INTEGER NOT NULL) WITHOUT ROWID",
            None,
        )
        .expect("create dedup table");
        DedupShard {
            state,
            sql,
            alarm_checked: std::cell::Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body: ShardRequest = req.json().await?;
        let answer = match body {
            ShardRequest::Claim { keys, now } => {
                let fresh = claim_all(&mut SqlSeen(&self.sql), &keys, now);
                Response::from_json(&ClaimAnswer { fresh })
            }
            ShardRequest::Release { keys, at } => {
                let mut store = SqlSeen(&self.sql);
                for k in &keys {
                    store.release(k, at);
                }
                Response::empty()
            }
        };
        if !self.alarm_checked.get() {
            let storage = self.state.storage();
            if storage.get_alarm().await?.is_none() {
                storage.set_alarm(sweep_interval()).await?;
            }
            self.alarm_checked.set(true);
        }
        answer
    }

    async fn alarm(&self) -> Result<Response> {
        let cutoff = now_ms() / 1000 - DEDUP_WINDOW_SECS;
        self.sql.exec(
            "DELETE FROM seen WHERE ts <= ?",
            vec![(cutoff as f64).into()],
        )?;
        let left = super::first_column(self.sql.exec("SELECT count(*) AS n FROM seen", None), "n")
            .and_then(|n| n.as_f64())
            .unwrap_or(0.0);
        if left > 0.0 {
            self.state.storage().set_alarm(sweep_interval()).await?;
        } else {
            // No alarm now: the next claim must set one again.
            self.alarm_checked.set(false);
        }
        Response::empty()
    }
}

/// Claims (tenant, event_id) pairs across shards, one DO call per shard, all shards in parallel.
/// Returns, per input, whether it is new.
pub async fn claim(
    env: &Env,
    tenant_id: &str,
    event_ids: &[&str],
    now: i64,
) -> std::result::Result<Vec<bool>, ApiError> {
    let keys: Vec<String> = event_ids.iter().map(|e| dedup_key(tenant_id, e)).collect();
    let mut by_shard: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, k) in keys.iter().enumerate() {
        by_shard.entry(shard_of(k)).or_default().push(i);
    }
    let calls = by_shard.iter().map(|(shard, idx)| {
        let shard_keys: Vec<String> = idx.iter().map(|&i| keys[i].clone()).collect();
        async move {
            let answer: ClaimAnswer = call(
                env,
                *shard,
                &ShardRequest::Claim {
                    keys: shard_keys,
                    now,
                },
            )
            .await?;
            Ok::<_, ApiError>((idx.clone(), answer.fresh))
        }
    });
    let mut fresh = vec![false; keys.len()];
    for result in futures_util::future::join_all(calls).await {
        let (idx, answers) = result?;
        for (i, f) in idx.into_iter().zip(answers) {
            fresh[i] = f;
        }
    }
    Ok(fresh)
}

/// Undoes claims when the events could not be enqueued, so the client's retry is not a "duplicate".
pub async fn release(env: &Env, tenant_id: &str, event_ids: &[&str], at: i64) {
    let mut by_shard: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    for e in event_ids {
        let k = dedup_key(tenant_id, e);
        by_shard.entry(shard_of(&k)).or_default().push(k);
    }
    for (shard, keys) in by_shard {
        if let Err(e) = call_raw(env, shard, &ShardRequest::Release { keys, at }).await {
            worker::console_error!("dedup release failed on shard {shard}: {}", e.message);
        }
    }
}

async fn call<T: for<'de> Deserialize<'de>>(
    env: &Env,
    shard: u32,
    req: &ShardRequest,
) -> std::result::Result<T, ApiError> {
    let mut resp = call_raw(env, shard, req).await?;
    resp.json()
        .await
        .map_err(|e| ApiError::internal("dedup answer", e))
}

async fn call_raw(
    env: &Env,
    shard: u32,
    req: &ShardRequest,
) -> std::result::Result<Response, ApiError> {
    let ns = env
        .durable_object("DEDUP")
        .map_err(|e| ApiError::internal("DEDUP binding", e))?;
    let stub = ns
        .id_from_name(&format!("shard-{shard}"))
        .and_then(|id| id.get_stub())
        .map_err(|e| ApiError::internal("dedup stub", e))?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post)
        .with_body(Some(serde_json::to_string(req).unwrap_or_default().into()));
    let r = Request::new_with_init("https://dedup.internal/", &init)
        .map_err(|e| ApiError::internal("dedup request", e))?;
    let resp = stub
        .fetch_with_request(r)
        .await
        .map_err(|e| ApiError::internal("dedup call", e))?;
    if resp.status_code() >= 300 {
        return Err(ApiError::internal("dedup status", resp.status_code()));
    }
    Ok(resp)
}
