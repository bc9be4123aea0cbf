//! DedupShard: one SQLite-backed Durable Object per shard of the event-id space, and the intake's
//! transactional outbox (see `core::dedup`). A DO runs one request at a time and its SQL calls are
//! synchronous, so check-and-mark is atomic without locks: 20 concurrent posts of one event id are
//! serialized here and exactly one wins. The claim and the fresh events' queue messages are
//! written in one turn (one transaction), and the answer leaves only once they are durable.

use std::cell::Cell;
use std::time::Duration;

use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

use crate::core::dedup::{
    apply_claim, by_shard, dedup_key, fresh_in_order, next_shard_alarm, plan_flush, ClaimAnswer,
    ClaimItem, ClaimRequest, SeenStore, DEDUP_WINDOW_SECS,
};
use crate::edge::{bindings, now_ms, queue, ApiError};

/// How often the shard sweeps expired keys.
const SWEEP_EVERY_MS: i64 = 6 * 3600 * 1000;
/// After a failed send to the Queue, the outbox is retried this much later.
const SEND_RETRY_MS: i64 = 5_000;
/// How long a shard collects claims before it sends them to the Queue in one batch. Each flush
/// is an alarm invocation and a sendBatch, so under load this turns a Queue call per beacon into
/// one per shard every half second; delivery waits that long at most (the consumer's own batch
/// window is a second).
const FLUSH_DELAY: Duration = Duration::from_millis(500);
/// Messages read from the outbox per round; an alarm runs rounds until it is empty.
const FLUSH_ROWS: i64 = 500;

#[durable_object]
pub struct DedupShard {
    state: State,
    sql: SqlStorage,
    env: Env,
    /// An alarm is already due to flush the outbox: claims then skip `set_alarm` (a storage call
    /// per beacon otherwise). Cleared when the alarm starts; lost with the instance, which only
    /// costs one extra `set_alarm`.
    flush_armed: Cell<bool>,
}

struct SqlSeen<'a> {
    sql: &'a SqlStorage,
    /// Set when the claim statement failed: the call must then fail as a whole (reading the keys
    /// as duplicates would acknowledge events that were never claimed).
    failed: Option<String>,
}

impl SeenStore for SqlSeen<'_> {
    /// One statement: the row is written (and returned) only when the key is new or its previous
    /// sighting has expired; a live duplicate returns no row and changes nothing.
    fn claim(&mut self, key: &str, now: i64) -> bool {
        self.claim_all(&[(key, now)])[0]
    }

    /// All keys of a call in one statement (a statement costs far more than a row here).
    /// `is_expired(ts, now)` ⇔ `ts <= now - DEDUP_WINDOW_SECS`.
    fn claim_all(&mut self, keys: &[(&str, i64)]) -> Vec<bool> {
        let list = match serde_json::to_string(keys) {
            Ok(list) => list,
            Err(e) => {
                self.failed = Some(e.to_string());
                return vec![false; keys.len()];
            }
        };
        let written: Vec<String> = match self.sql.exec(
            &format!(
                "INSERT INTO seen (k, ts) \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?) WHERE true \
                 ON CONFLICT(k) DO UPDATE SET ts = excluded.ts WHERE seen.ts <= excluded.ts - {DEDUP_WINDOW_SECS} \
                 RETURNING k"
            ),
            vec![list.into()],
        ) {
            Ok(cursor) => cursor
                .filter_map(|row| super::column(&row.ok()?, "k")?.as_string())
                .collect(),
            Err(e) => {
                self.failed = Some(e.to_string());
                Vec::new()
            }
        };
        fresh_in_order(keys, &written)
    }
}

impl DurableObject for DedupShard {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for ddl in [
            "CREATE TABLE IF NOT EXISTS seen (k TEXT PRIMARY KEY, ts INTEGER NOT NULL) WITHOUT ROWID",
            "CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL)",
            // Messages the Queue would refuse, with why: kept for inspection, never re-sent.
            "CREATE TABLE IF NOT EXISTS outbox_aside (id INTEGER PRIMARY KEY, reason TEXT NOT NULL, body TEXT NOT NULL)",
        ] {
            sql.exec(ddl, None).expect("create dedup shard tables");
        }
        DedupShard {
            state,
            sql,
            env,
            flush_armed: Cell::new(false),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let claim = ClaimRequest::decode(&req.text().await?)?;
        // No await between the claim and the outbox rows: one transaction.
        let mut seen = SqlSeen {
            sql: &self.sql,
            failed: None,
        };
        let (fresh, outbox) = apply_claim(&mut seen, claim);
        if let Some(e) = seen.failed {
            return Err(format!("dedup claim failed: {e}").into());
        }
        let bodies = serde_json::to_string(&outbox).map_err(|e| e.to_string())?;
        self.sql.exec(
            "INSERT INTO outbox (body) SELECT value FROM json_each(?)",
            vec![bodies.into()],
        )?;
        if !outbox.is_empty() && !self.flush_armed.get() {
            self.state.storage().set_alarm(FLUSH_DELAY).await?;
            self.flush_armed.set(true);
        }
        Response::from_json(&ClaimAnswer { fresh })
    }

    async fn alarm(&self) -> Result<Response> {
        self.flush_armed.set(false);
        let send_failed = match self.flush_outbox().await {
            Ok(()) => false,
            Err(e) => {
                worker::console_error!("dedup outbox: send failed, retrying: {}", e.message);
                true
            }
        };
        let now = now_ms();
        let mut next_sweep = self.next_sweep_ms(now);
        if now >= next_sweep {
            let cutoff = now / 1000 - DEDUP_WINDOW_SECS;
            self.sql.exec(
                "DELETE FROM seen WHERE ts <= ?",
                vec![(cutoff as f64).into()],
            )?;
            next_sweep = now + SWEEP_EVERY_MS;
            self.set_next_sweep_ms(next_sweep)?;
        }
        let outbox_left = self.exists("SELECT 1 AS x FROM outbox LIMIT 1");
        let seen_left = self.exists("SELECT 1 AS x FROM seen LIMIT 1");
        let next = next_shard_alarm(
            outbox_left,
            send_failed,
            seen_left,
            next_sweep,
            now,
            SEND_RETRY_MS,
        );
        if let Some(at) = next {
            let delay = Duration::from_millis((at - now).max(0) as u64);
            self.state.storage().set_alarm(delay).await?;
            self.flush_armed.set(outbox_left);
        }
        Response::empty()
    }
}

impl DedupShard {
    /// Sends the outbox to the delivery Queue in order, deleting each group the Queue took as soon
    /// as it took it (a later group's failure then re-sends nothing). A row the Queue would refuse
    /// is moved aside with its reason. Claims that arrive meanwhile append rows with higher ids,
    /// which a later round (or alarm) sends.
    async fn flush_outbox(&self) -> std::result::Result<(), ApiError> {
        loop {
            let rows: Vec<(f64, String)> = self
                .sql
                .exec(
                    "SELECT id, body FROM outbox ORDER BY id LIMIT ?",
                    vec![(FLUSH_ROWS as f64).into()],
                )
                .map_err(|e| ApiError::internal("outbox read", e))?
                .filter_map(|row| {
                    let row = row.ok()?;
                    let id = super::column(&row, "id")?.as_f64()?;
                    let body = super::column(&row, "body")?.as_string()?;
                    Some((id, body))
                })
                .collect();
            if rows.is_empty() {
                return Ok(());
            }
            let full_round = rows.len() as i64 == FLUSH_ROWS;
            let plan = plan_flush(
                rows.into_iter()
                    .map(|(id, body)| (id as i64, body))
                    .collect(),
            );
            for (id, reason) in &plan.set_aside {
                worker::console_error!("dedup outbox: row {id} set aside: {reason}");
                self.sql
                    .exec(
                        "INSERT INTO outbox_aside (id, reason, body) \
                         SELECT id, ?2, body FROM outbox WHERE id = ?1",
                        vec![(*id as f64).into(), reason.as_str().into()],
                    )
                    .and_then(|_| {
                        self.sql
                            .exec("DELETE FROM outbox WHERE id = ?", vec![(*id as f64).into()])
                    })
                    .map_err(|e| ApiError::internal("outbox set aside", e))?;
            }
            for send in plan.sends {
                queue::send_encoded(&self.env, send.bodies).await?;
                if !send.done.is_empty() {
                    let ids = serde_json::to_string(&send.done)
                        .map_err(|e| ApiError::internal("outbox ids", e))?;
                    self.sql
                        .exec(
                            "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))",
                            vec![ids.into()],
                        )
                        .map_err(|e| ApiError::internal("outbox delete", e))?;
                }
            }
            if !full_round {
                return Ok(());
            }
        }
    }

    fn exists(&self, query: &str) -> bool {
        super::first_column(self.sql.exec(query, None), "x").is_some()
    }

    /// When the next sweep is due; the first time, one interval from now.
    fn next_sweep_ms(&self, now: i64) -> i64 {
        let stored = super::first_column(
            self.sql
                .exec("SELECT v FROM meta WHERE k = 'next_sweep_ms'", None),
            "v",
        )
        .and_then(|v| v.as_f64());
        match stored {
            Some(at) => at as i64,
            None => {
                let at = now + SWEEP_EVERY_MS;
                let _ = self.set_next_sweep_ms(at);
                at
            }
        }
    }

    fn set_next_sweep_ms(&self, at: i64) -> Result<()> {
        self.sql.exec(
            "INSERT INTO meta (k, v) VALUES ('next_sweep_ms', ?) \
             ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![(at as f64).into()],
        )?;
        Ok(())
    }
}

/// Claims a request's events and hands the fresh ones' queue messages to the shards' outboxes:
/// one call per shard the events fall on, all in parallel. `events` pairs each event id with its
/// encoded message; `rejected` is the request's count of invalid events (for the intake
/// counters). Returns, per event, whether it is new. An error means some shard did not answer:
/// its events were not accepted (a retry by the client is then safe: the rest are duplicates).
pub async fn claim_and_enqueue(
    env: &Env,
    tenant_id: &str,
    events: Vec<(&str, String)>,
    rejected: u32,
    now: i64,
) -> std::result::Result<Vec<bool>, ApiError> {
    let keys: Vec<String> = events
        .iter()
        .map(|(id, _)| dedup_key(tenant_id, id))
        .collect();
    let groups = by_shard(&keys);
    let mut items: Vec<Option<ClaimItem>> = keys
        .into_iter()
        .zip(events)
        .map(|(key, (_, message))| Some(ClaimItem { key, message }))
        .collect();
    let calls: Vec<_> =
        groups
            .iter()
            .enumerate()
            .map(|(n, (shard, idx))| {
                let claim = ClaimRequest {
                    tenant_id: tenant_id.to_string(),
                    now,
                    events: idx.iter().filter_map(|&i| items[i].take()).collect(),
                    // The request's invalid events are counted once, with its first share.
                    rejected: if n == 0 { rejected } else { 0 },
                };
                async move {
                    Ok::<_, ApiError>((idx, bindings::dedup_claim(env, *shard, &claim).await?))
                }
            })
            .collect();
    let mut fresh = vec![false; items.len()];
    for result in futures_util::future::join_all(calls).await {
        let (idx, answers) = result?;
        for (&i, f) in idx.iter().zip(answers) {
            fresh[i] = f;
        }
    }
    Ok(fresh)
}
