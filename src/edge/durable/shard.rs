//! EventShard: one SQLite Durable Object per tenant shard (`core::shard` plans what it does). It
//! claims event ids, keeps each fresh event's row (claim, outbox entry and 48 h store at once),
//! sends parcels of events to the delivery Queue, leases each parcel to one consumer, records
//! outcomes (delivered on the parcel's row, everything else a row per event and pixel), runs
//! retries when due, re-sends parcels whose consumer vanished, and answers the audit.
//!
//! A Durable Object runs one event at a time between awaits and its SQL calls are synchronous:
//! every check-and-write here happens in one turn, so it is atomic and exclusive without locks,
//! and the answer leaves only once the turn's writes are durable.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, SqlStorageValue,
    State,
};

use crate::core::fanout::QueueMessage;
use crate::core::history::{self, Parts};
use crate::core::shard::{
    count, day_of, day_table, droppable, fresh_in_order, is_live, lease, live_days, next_alarm,
    pack_retries, parcel_message, retry_item, split_outcomes, sweep, table_day, AlarmInputs,
    ClaimAnswer, ClaimRequest, CountList, Counts, DeliveredMap, LeaseAnswer, Outbox, ParcelState,
    Settle, SweepAction, COUNTERS_EVERY_MS, EXPORT_RETRY_MS, LEASE_SECS, MAX_SENDS,
};
use crate::core::trail::{sort_newest_first, trail, DestinationRow, JobView, ParcelView};
use crate::edge::store::d1;
use crate::edge::{bindings, history as r2, now_ms, queue, ApiError};

#[durable_object]
pub struct EventShard {
    state: State,
    sql: SqlStorage,
    env: Env,
    inner: RefCell<Inner>,
}

/// What this instance did, for `scripts/bench`'s cost report: SQLite rows written (as billed),
/// calls, alarms, and the history it wrote to R2 (parts written, their events and gzip bytes).
#[derive(Default, Serialize, Deserialize, Clone, Copy)]
#[serde(default)]
struct Meter {
    rows_written: u64,
    requests: u64,
    alarms: u64,
    parcels_sent: u64,
    history_parts: u64,
    history_events: u64,
    history_bytes: u64,
}

/// What `meta` keeps under "counts".
#[derive(Default, Deserialize)]
struct SavedCounts {
    #[serde(default)]
    counts: CountList,
    #[serde(default)]
    meter: Meter,
}

#[derive(Default)]
struct Inner {
    meter: Meter,
    /// The tenant and shard number (from the first call; kept in `meta` for the alarm).
    tenant_id: Option<String>,
    shard: u32,
    /// Recovered after a restart: the events claimed but not yet in a parcel row.
    recovered: bool,
    outbox: Outbox,
    pending_since_ms: Option<i64>,
    /// Parcel messages the Queue did not take yet.
    unsent: Vec<String>,
    send_failed: bool,
    last_id: i64,
    /// The day tables that exist.
    tables: BTreeSet<i64>,
    counts: Counts,
    counts_since_ms: Option<i64>,
    /// Counts changed since they were last saved in `meta` (the next flush saves them).
    counts_dirty: bool,
    /// When the armed alarm fires (ms), as far as this instance knows.
    alarm_at: Option<i64>,
    /// A history export is under way (the alarm and the retention call may overlap).
    exporting: bool,
    /// The last export failed: not again before this (ms).
    export_retry_at: Option<i64>,
}

fn num(v: i64) -> SqlStorageValue {
    (v as f64).into()
}

fn text(v: &str) -> SqlStorageValue {
    v.into()
}

fn json_text<T: Serialize + ?Sized>(v: &T) -> SqlStorageValue {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "[]".into())
        .into()
}

fn internal(what: &str, e: impl std::fmt::Display) -> worker::Error {
    worker::Error::RustError(format!("{what}: {e}"))
}

#[derive(Deserialize)]
struct EvRow {
    id: String,
    ts: f64,
    parcel: f64,
    body: String,
}

#[derive(Deserialize)]
struct ParcelRow {
    id: f64,
    kind: String,
    items: String,
    state: String,
    sent_at: f64,
    lease_until: f64,
    sends: f64,
    delivered: Option<String>,
    settled_at: Option<f64>,
}

const PARCEL_COLUMNS: &str =
    "id, kind, items, state, sent_at, lease_until, sends, delivered, settled_at";

#[derive(Deserialize)]
struct JobRow {
    event_id: String,
    pixel: String,
    platform: String,
    status: String,
    attempts: f64,
    error: Option<String>,
    trace: Option<String>,
    response: Option<String>,
    updated: f64,
    replays: f64,
    replayed_at: Option<f64>,
    job: Option<String>,
    event_name: Option<String>,
}

impl JobRow {
    fn view(&self) -> JobView {
        JobView {
            event_id: self.event_id.clone(),
            pixel: self.pixel.clone(),
            platform: self.platform.clone(),
            status: self.status.clone(),
            attempts: self.attempts as i64,
            error: self.error.clone(),
            trace_id: self.trace.clone(),
            response: self.response.clone(),
            updated: self.updated as i64,
            replays: self.replays as i64,
            replayed_at: self.replayed_at.map(|r| r as i64),
            event_name: self.event_name.clone(),
        }
    }
}

impl ParcelRow {
    fn view(&self) -> ParcelView {
        ParcelView {
            state: self.state.clone(),
            sent_at: self.sent_at as i64,
            settled_at: self.settled_at.map(|s| s as i64),
        }
    }

    /// The destinations delivered at an event's first attempt, as the parcel keeps them.
    fn delivered_of(&self, event_id: &str) -> Vec<(String, String, u32, Option<String>)> {
        self.delivered
            .as_deref()
            .and_then(|d| serde_json::from_str::<DeliveredMap>(d).ok())
            .and_then(|mut d| d.remove(event_id))
            .unwrap_or_default()
    }
}

/// The destinations of an event kept in the window (`row`), or of an older one known only by
/// its exception rows.
fn trail_of(
    row: Option<&EvRow>,
    parcel: Option<&ParcelRow>,
    jobs: &[&JobRow],
) -> Vec<DestinationRow> {
    let views: Vec<JobView> = jobs.iter().map(|j| j.view()).collect();
    let record = row.and_then(|r| {
        serde_json::from_str::<QueueMessage>(&r.body)
            .ok()
            .map(|m| (r, m))
    });
    match record {
        Some((r, m)) => trail(
            &m,
            r.ts as i64,
            parcel.map(ParcelRow::view).as_ref(),
            &parcel.map(|p| p.delivered_of(&r.id)).unwrap_or_default(),
            &views,
        ),
        None => views.iter().map(DestinationRow::from).collect(),
    }
}

const JOB_COLUMNS: &str = "event_id, pixel, platform, status, attempts, error, trace, response, updated, replays, replayed_at, job, \
     coalesce(json_extract(job, '$.delivery.event.custom_name'), json_extract(job, '$.delivery.event.event_name')) AS event_name";

impl DurableObject for EventShard {
    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        for ddl in [
            "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID",
            // A parcel's id is its creation time in ms × 1000 plus a counter: increasing, and
            // old parcels are found by id alone.
            "CREATE TABLE IF NOT EXISTS parcels (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, items TEXT NOT NULL, \
             state TEXT NOT NULL, sent_at INTEGER NOT NULL, lease_until INTEGER NOT NULL DEFAULT 0, \
             sends INTEGER NOT NULL DEFAULT 1, delivered TEXT, settled_at INTEGER)",
            // Only unsettled parcels are indexed: the sweep reads them, and a settled parcel
            // leaves the index once.
            "CREATE INDEX IF NOT EXISTS parcels_open ON parcels(state) WHERE state != 'settled'",
            "CREATE TABLE IF NOT EXISTS jobs (event_id TEXT NOT NULL, pixel TEXT NOT NULL, platform TEXT NOT NULL, \
             visitor TEXT, status TEXT NOT NULL, attempts INTEGER NOT NULL, due INTEGER, parcel INTEGER, job TEXT, \
             error TEXT, trace TEXT, response TEXT, updated INTEGER NOT NULL, replays INTEGER NOT NULL DEFAULT 0, \
             replayed_at INTEGER, PRIMARY KEY (event_id, pixel)) WITHOUT ROWID",
            // Visitors erased since the shard's history files were last rewritten without them
            // (the audit API hides their archived events meanwhile; see `history_retention`).
            // `seq` orders the erasures: a rewrite pass clears those recorded before it began.
            "CREATE TABLE IF NOT EXISTS erased (visitor TEXT PRIMARY KEY, at INTEGER NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID",
        ] {
            sql.exec(ddl, None).expect("create event shard tables");
        }
        EventShard {
            state,
            sql,
            env,
            inner: RefCell::new(Inner::default()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = req.url()?;
        let query: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        if let (Some(t), Some(s)) = (query.get("t"), query.get("s")) {
            self.identify(t, s.parse().unwrap_or(0))?;
        }
        self.recover()?;
        self.inner.borrow_mut().meter.requests += 1;
        let body = req.text().await?;
        match url.path() {
            "/claim" => self.claim(&body).await,
            "/lease" => self.lease(&body),
            "/settle" => self.settle(&body).await,
            "/event" => self.event(query.get("id").map(String::as_str).unwrap_or("")),
            "/replayable" => self.replayable(&body),
            "/count-failed" => self.count_failed(&body),
            "/recent" => self.recent(
                query
                    .get("limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(50),
            ),
            "/list" => self.list(&body),
            "/replay" => self.replay(&body).await,
            "/resume" => self.resume(&body).await,
            "/erase" => self.erase(&body),
            "/forget-pixel" => self.forget_pixel(&body),
            "/meter" => self.meter(),
            "/retention" => self.retention(&body).await,
            "/counts" => {
                let counts: CountList = self
                    .inner
                    .borrow()
                    .counts
                    .iter()
                    .map(|(k, v)| (k.clone(), *v))
                    .collect();
                Response::from_json(&counts)
            }
            _ => Response::error("no such shard call", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        {
            let mut inner = self.inner.borrow_mut();
            inner.alarm_at = None;
            inner.meter.alarms += 1;
        }
        self.load_identity();
        self.recover()?;
        let now = now_ms();
        self.flush().await;
        self.send_due_retries(now).await;
        self.sweep(now).await;
        self.flush_counts(now).await;
        self.drop_old_days(now / 1000).await;
        self.rearm().await
    }
}

impl EventShard {
    /// Runs a statement and reads its rows, counting the rows it wrote.
    fn rows<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
        args: Vec<SqlStorageValue>,
    ) -> Result<Vec<T>> {
        let cursor = self.sql.exec(query, args)?;
        let out = cursor.to_array::<T>()?;
        self.inner.borrow_mut().meter.rows_written += cursor.rows_written() as u64;
        Ok(out)
    }

    fn run(&self, query: &str, args: Vec<SqlStorageValue>) -> Result<()> {
        self.rows::<Value>(query, args).map(|_| ())
    }

    fn identify(&self, tenant_id: &str, shard: u32) -> Result<()> {
        if self.inner.borrow().tenant_id.as_deref() == Some(tenant_id) {
            return Ok(());
        }
        self.run(
            "INSERT INTO meta (k, v) VALUES ('tenant', ?1), ('shard', ?2) \
             ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![text(tenant_id), text(&shard.to_string())],
        )?;
        let mut inner = self.inner.borrow_mut();
        inner.tenant_id = Some(tenant_id.to_string());
        inner.shard = shard;
        Ok(())
    }

    fn meta(&self, k: &str) -> Option<String> {
        #[derive(Deserialize)]
        struct V {
            v: String,
        }
        self.rows::<V>("SELECT v FROM meta WHERE k = ?", vec![text(k)])
            .ok()?
            .pop()
            .map(|r| r.v)
    }

    fn set_meta(&self, k: &str, v: &str) -> Result<()> {
        self.run(
            "INSERT INTO meta (k, v) VALUES (?1, ?2) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![text(k), text(v)],
        )
    }

    fn load_identity(&self) {
        if self.inner.borrow().tenant_id.is_some() {
            return;
        }
        let tenant = self.meta("tenant");
        let shard = self.meta("shard").and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut inner = self.inner.borrow_mut();
        inner.tenant_id = tenant;
        inner.shard = shard;
    }

    fn number(&self, query: &str) -> Option<i64> {
        #[derive(Deserialize)]
        struct X {
            x: Option<f64>,
        }
        self.rows::<X>(query, vec![])
            .ok()?
            .pop()?
            .x
            .map(|x| x as i64)
    }

    /// Once per instance: the day tables, the counts not yet in D1, and the events claimed after
    /// the last parcel row was written (their parcels were open in memory when the last instance
    /// ended) go back into the outbox.
    fn recover(&self) -> Result<()> {
        if self.inner.borrow().recovered {
            return Ok(());
        }
        #[derive(Deserialize)]
        struct Name {
            name: String,
        }
        let tables: BTreeSet<i64> = self
            .rows::<Name>(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'ev_%'",
                vec![],
            )?
            .iter()
            .filter_map(|r| table_day(&r.name))
            .collect();
        let last_sent = self.number("SELECT max(id) AS x FROM parcels").unwrap_or(0);
        let last_event_parcel = self
            .number("SELECT max(id) AS x FROM parcels WHERE kind = 'e'")
            .unwrap_or(0);
        let mut unsent: Vec<EvRow> = Vec::new();
        for day in &tables {
            unsent.extend(self.rows::<EvRow>(
                &format!(
                    "SELECT id, ts, parcel, body FROM {} WHERE parcel > ?",
                    day_table(*day)
                ),
                vec![num(last_event_parcel)],
            )?);
        }
        unsent.sort_by(|a, b| a.parcel.total_cmp(&b.parcel));
        let counts: SavedCounts = self
            .meta("counts")
            .and_then(|c| serde_json::from_str::<SavedCounts>(&c).ok())
            .unwrap_or_default();
        let (counts, meter): (Counts, Meter) = (counts.counts.into_iter().collect(), counts.meter);
        let mut inner = self.inner.borrow_mut();
        inner.tables = tables;
        inner.last_id = last_sent;
        inner.meter = meter;
        for row in unsent {
            let id = row.parcel as i64;
            inner.last_id = inner.last_id.max(id);
            inner.outbox.restore(id, &row.id, row.body);
            inner.pending_since_ms.get_or_insert((row.ts as i64) * 1000);
        }
        if !counts.is_empty() {
            inner.counts = counts;
            // Saved by an earlier instance: due for D1 at the next alarm.
            inner.counts_since_ms = Some(0);
        }
        inner.recovered = true;
        Ok(())
    }

    fn next_id(inner: &mut Inner) -> i64 {
        inner.last_id = (inner.last_id + 1).max(now_ms() * 1000);
        inner.last_id
    }

    fn ensure_table(&self, day: i64) -> Result<()> {
        if self.inner.borrow().tables.contains(&day) {
            return Ok(());
        }
        self.run(
            &format!(
                "CREATE TABLE IF NOT EXISTS {} (id TEXT PRIMARY KEY, ts INTEGER NOT NULL, parcel INTEGER NOT NULL, \
                 visitor TEXT, body TEXT NOT NULL) WITHOUT ROWID",
                day_table(day)
            ),
            vec![],
        )?;
        self.inner.borrow_mut().tables.insert(day);
        Ok(())
    }

    fn tables(&self) -> Vec<i64> {
        self.inner.borrow().tables.iter().copied().collect()
    }

    /// The ids among `ids` that are live (claimed within the window) in this shard.
    fn live_ids(&self, ids: &[&str], now: i64) -> Result<HashSet<String>> {
        #[derive(Deserialize)]
        struct Seen {
            id: String,
            ts: f64,
        }
        let list = json_text(ids);
        let mut live = HashSet::new();
        for day in self
            .tables()
            .into_iter()
            .filter(|d| live_days(now).contains(d))
        {
            let rows = self.rows::<Seen>(
                &format!(
                    "SELECT id, ts FROM {} WHERE id IN (SELECT value FROM json_each(?))",
                    day_table(day)
                ),
                vec![list.clone()],
            )?;
            live.extend(
                rows.into_iter()
                    .filter(|r| is_live(r.ts as i64, now))
                    .map(|r| r.id),
            );
        }
        Ok(live)
    }

    async fn claim(&self, body: &str) -> Result<Response> {
        let claim = ClaimRequest::decode(body).map_err(|e| internal("claim", e))?;
        let now = claim.now;
        let ids: Vec<&str> = claim.events.iter().map(|e| e.event_id.as_str()).collect();
        let fresh = fresh_in_order(&ids, &self.live_ids(&ids, now)?);
        if claim.check_only {
            return Response::from_json(&ClaimAnswer { fresh });
        }
        let accepted = fresh.iter().filter(|f| **f).count() as i64;
        if accepted > 0 {
            let day = day_of(now);
            self.ensure_table(day)?;
            let (mark, rows) = {
                let mut inner = self.inner.borrow_mut();
                let mark = inner.outbox.mark();
                let mut rows = Vec::with_capacity(accepted as usize);
                for (item, _) in claim.events.iter().zip(&fresh).filter(|(_, f)| **f) {
                    // A new parcel's id, used only when the event does not fit the newest.
                    let id = Self::next_id(&mut inner);
                    let parcel = inner
                        .outbox
                        .add(&item.event_id, item.message.clone(), || id);
                    rows.push(json!([
                        item.event_id,
                        now,
                        parcel,
                        item.visitor_id,
                        item.message
                    ]));
                }
                (mark, rows)
            };
            let written = self.run(
                &format!(
                    "INSERT INTO {} (id, ts, parcel, visitor, body) \
                     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM json_each(?) WHERE true \
                     ON CONFLICT(id) DO NOTHING",
                    day_table(day)
                ),
                vec![json_text(&rows)],
            );
            let mut inner = self.inner.borrow_mut();
            if let Err(e) = written {
                inner.outbox.rollback(mark);
                return Err(e);
            }
            inner.pending_since_ms.get_or_insert(now_ms());
        }
        {
            let mut inner = self.inner.borrow_mut();
            let n = claim.events.len() as i64;
            let counts = &mut inner.counts;
            count(counts, now, "", "received", n + claim.rejected as i64);
            count(counts, now, "", "accepted", accepted);
            count(counts, now, "", "duplicates", n - accepted);
            count(counts, now, "", "rejected", claim.rejected as i64);
            inner.counts_since_ms.get_or_insert(now_ms());
            // Saved with the next flush (at most `FLUSH_DELAY_MS` later), not a write per claim.
            inner.counts_dirty = true;
            inner.pending_since_ms.get_or_insert(now_ms());
        }
        self.rearm().await?;
        Response::from_json(&ClaimAnswer { fresh })
    }

    /// Sends the open parcels (their rows first, with the counts so far, in one turn) and any
    /// the Queue refused before.
    async fn flush(&self) {
        let (tenant_id, shard, open) = {
            let mut inner = self.inner.borrow_mut();
            let Some(tenant_id) = inner.tenant_id.clone() else {
                return;
            };
            let open = std::mem::take(&mut inner.outbox.open);
            (tenant_id, inner.shard, open)
        };
        if open.is_empty() && self.inner.borrow().counts_dirty {
            let counts = self.inner.borrow().counts.clone();
            if let Err(e) = self.save_counts(&counts) {
                worker::console_error!("event shard: counts not saved: {e}");
            }
        }
        if !open.is_empty() {
            let rows: Vec<Value> = open
                .iter()
                .map(|p| {
                    json!([
                        p.id,
                        serde_json::to_string(&p.event_ids).unwrap_or_default()
                    ])
                })
                .collect();
            let counts = self.inner.borrow().counts.clone();
            let written = self
                .run(
                    "INSERT INTO parcels (id, kind, items, state, sent_at, sends) \
                     SELECT value ->> 0, 'e', value ->> 1, 'sent', ?2, 1 FROM json_each(?1) WHERE true \
                     ON CONFLICT(id) DO NOTHING",
                    vec![json_text(&rows), num(now_ms() / 1000)],
                )
                .and_then(|_| self.save_counts(&counts));
            if let Err(e) = written {
                worker::console_error!("event shard: parcel rows not written: {e}");
                let mut inner = self.inner.borrow_mut();
                let newer = std::mem::replace(&mut inner.outbox.open, open);
                inner.outbox.open.extend(newer);
                inner.send_failed = true;
                return;
            }
        }
        let messages = {
            let mut inner = self.inner.borrow_mut();
            let mut messages = std::mem::take(&mut inner.unsent);
            messages.extend(
                open.iter()
                    .map(|p| parcel_message(&tenant_id, shard, p.id, &p.bodies)),
            );
            inner.pending_since_ms = None;
            messages
        };
        self.send(messages).await;
    }

    /// Sends parcel messages; what the Queue does not take waits for the next alarm.
    async fn send(&self, messages: Vec<String>) {
        if messages.is_empty() {
            return;
        }
        let n = messages.len() as u64;
        let failed = match queue::send_encoded(&self.env, messages.clone()).await {
            Ok(()) => false,
            Err(e) => {
                worker::console_error!("event shard: parcels not sent, retrying: {}", e.message);
                true
            }
        };
        let mut inner = self.inner.borrow_mut();
        inner.send_failed = failed;
        if failed {
            inner.unsent.extend(messages);
            inner.pending_since_ms.get_or_insert(now_ms());
        } else {
            inner.meter.parcels_sent += n;
        }
    }

    /// Keeps the counts not yet in D1 in the shard's own storage (an instance may be evicted
    /// any time it is idle).
    fn save_counts(&self, counts: &Counts) -> Result<()> {
        let list: Vec<(&(i64, String, String), &i64)> = counts.iter().collect();
        // The meter rides in the same row (one row written either way): it outlives instances.
        let mut meter = self.inner.borrow().meter;
        meter.rows_written += 1;
        self.run(
            "INSERT INTO meta (k, v) VALUES ('counts', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v",
            vec![json_text(&json!({"counts": list, "meter": meter}))],
        )?;
        self.inner.borrow_mut().counts_dirty = false;
        Ok(())
    }

    fn parcel(&self, id: i64) -> Result<Option<ParcelRow>> {
        Ok(self
            .rows::<ParcelRow>(
                &format!("SELECT {PARCEL_COLUMNS} FROM parcels WHERE id = ?"),
                vec![num(id)],
            )?
            .pop())
    }

    fn lease(&self, body: &str) -> Result<Response> {
        #[derive(Deserialize)]
        struct Ask {
            parcel: i64,
        }
        let ask: Ask = serde_json::from_str(body).map_err(|e| internal("lease", e))?;
        let now = now_ms() / 1000;
        let row = self.parcel(ask.parcel)?;
        let state = row.as_ref().and_then(|r| ParcelState::parse(&r.state));
        let mut answer = lease(state, row.as_ref().map_or(0, |r| r.lease_until as i64), now);
        if let (LeaseAnswer::Granted { skip }, Some(row)) = (&mut answer, &row) {
            self.run(
                "UPDATE parcels SET state = 'leased', lease_until = ?2 WHERE id = ?1",
                vec![num(ask.parcel), num(now + LEASE_SECS)],
            )?;
            if row.kind == "r" {
                // Jobs replayed, resumed or erased since the parcel left are not this parcel's
                // any more.
                let pairs: Vec<(String, String)> =
                    serde_json::from_str(&row.items).unwrap_or_default();
                let mine: HashSet<(String, String)> = self
                    .rows::<Pair>(
                        "SELECT event_id, pixel FROM jobs WHERE parcel = ? AND status = 'queued'",
                        vec![num(ask.parcel)],
                    )?
                    .into_iter()
                    .map(|p| (p.event_id, p.pixel))
                    .collect();
                skip.extend(pairs.into_iter().filter(|p| !mine.contains(p)));
            }
        }
        Response::from_json(&answer)
    }

    async fn settle(&self, body: &str) -> Result<Response> {
        let settle: Settle = serde_json::from_str(body).map_err(|e| internal("settle", e))?;
        let now = now_ms() / 1000;
        let Some(row) = self.parcel(settle.parcel)? else {
            return Response::from_json(&json!({"settled": false}));
        };
        // Counted per destination, `platform:pixel` (see `d1::add_counts`).
        let counts: Vec<(String, &'static str)> = settle
            .outcomes
            .iter()
            .map(|o| (format!("{}:{}", o.platform, o.pixel), o.status.as_str()))
            .collect();
        // A retry parcel's jobs have rows: every outcome goes there.
        let (delivered, exceptions) = if row.kind == "r" {
            (Default::default(), settle.outcomes)
        } else {
            split_outcomes(settle.outcomes)
        };
        let rows: Vec<Value> = exceptions
            .iter()
            .map(|o| {
                json!([
                    o.event_id,
                    o.pixel,
                    o.platform,
                    o.visitor_id,
                    o.status.as_str(),
                    o.attempts,
                    o.due,
                    o.job,
                    o.error,
                    o.trace_id,
                    o.response
                ])
            })
            .collect();
        if !rows.is_empty() {
            self.run(
                "INSERT INTO jobs (event_id, pixel, platform, visitor, status, attempts, due, parcel, job, error, trace, response, updated) \
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, NULL, value ->> 7, \
                        value ->> 8, value ->> 9, value ->> 10, ?2 FROM json_each(?1) WHERE true \
                 ON CONFLICT(event_id, pixel) DO UPDATE SET status = excluded.status, attempts = max(jobs.attempts, excluded.attempts), \
                   due = excluded.due, parcel = NULL, job = coalesce(excluded.job, jobs.job), error = excluded.error, \
                   trace = coalesce(excluded.trace, jobs.trace), response = coalesce(excluded.response, jobs.response), \
                   updated = excluded.updated \
                 WHERE jobs.status != 'delivered'",
                vec![json_text(&rows), num(now)],
            )?;
        }
        self.run(
            "UPDATE parcels SET state = 'settled', delivered = ?2, settled_at = ?3 WHERE id = ?1",
            vec![num(settle.parcel), json_text(&delivered), num(now)],
        )?;
        {
            let mut inner = self.inner.borrow_mut();
            for (platform, status) in counts {
                count(&mut inner.counts, now, &platform, status, 1);
            }
            inner.counts_since_ms.get_or_insert(now_ms());
        }
        // In the settle's own turn: the outcomes and their counts are durable together.
        let counts = self.inner.borrow().counts.clone();
        self.save_counts(&counts)?;
        self.rearm().await?;
        Response::from_json(&json!({"settled": true}))
    }

    /// Retry jobs that are due leave as retry parcels (a row each, the jobs pointing at it).
    async fn send_due_retries(&self, now_ms: i64) {
        #[derive(Deserialize)]
        struct Due {
            event_id: String,
            pixel: String,
            job: String,
        }
        let now = now_ms / 1000;
        let due: Vec<(String, String, String)> = match self.rows::<Due>(
            "SELECT event_id, pixel, job FROM jobs WHERE status = 'retrying' AND due <= ? AND job IS NOT NULL LIMIT 1000",
            vec![num(now)],
        ) {
            Ok(rows) => rows.into_iter().map(|d| (d.event_id, d.pixel, d.job)).collect(),
            Err(e) => {
                worker::console_error!("event shard: retries not read: {e}");
                return;
            }
        };
        let Some(tenant_id) = self.inner.borrow().tenant_id.clone() else {
            return;
        };
        let shard = self.inner.borrow().shard;
        let mut messages = Vec::new();
        for group in pack_retries(&due) {
            let id = Self::next_id(&mut self.inner.borrow_mut());
            let pairs: Vec<(&str, &str)> = group
                .iter()
                .map(|&i| (due[i].0.as_str(), due[i].1.as_str()))
                .collect();
            let items: Vec<String> = group.iter().map(|&i| due[i].2.clone()).collect();
            let written = self
                .run(
                    "INSERT INTO parcels (id, kind, items, state, sent_at, sends) VALUES (?1, 'r', ?2, 'sent', ?3, 1)",
                    vec![num(id), json_text(&pairs), num(now)],
                )
                .and_then(|_| {
                    self.run(
                        "UPDATE jobs SET status = 'queued', parcel = ?1, updated = ?3 \
                         WHERE (event_id, pixel) IN (SELECT value ->> 0, value ->> 1 FROM json_each(?2))",
                        vec![num(id), json_text(&pairs), num(now)],
                    )
                });
            if let Err(e) = written {
                worker::console_error!("event shard: retry parcel not written: {e}");
                break;
            }
            messages.push(parcel_message(&tenant_id, shard, id, &items));
        }
        self.send(messages).await;
    }

    /// Parcels sent but not settled in time are sent again (their consumer is gone or their
    /// message lost), a bounded number of times; after that their deliveries fail, visibly.
    async fn sweep(&self, now_ms: i64) {
        let now = now_ms / 1000;
        let Ok(open) = self.rows::<ParcelRow>(
            &format!("SELECT {PARCEL_COLUMNS} FROM parcels WHERE state != 'settled'"),
            vec![],
        ) else {
            return;
        };
        let Some(tenant_id) = self.inner.borrow().tenant_id.clone() else {
            return;
        };
        let shard = self.inner.borrow().shard;
        let mut messages = Vec::new();
        for p in open {
            let state = ParcelState::parse(&p.state).unwrap_or(ParcelState::Sent);
            let action = sweep(
                state,
                p.sent_at as i64,
                p.lease_until as i64,
                p.sends as i64,
                now,
            );
            if action == SweepAction::Wait {
                continue;
            }
            let id = p.id as i64;
            let items = self.parcel_items(&p).unwrap_or_default();
            if action == SweepAction::GiveUp || items.is_empty() {
                let reason = if items.is_empty() {
                    "its events left the 48 h store before a consumer settled them".to_string()
                } else {
                    format!("its delivery crashed or timed out {MAX_SENDS} times")
                };
                if let Err(e) = self.give_up(id, &items, &reason, now) {
                    worker::console_error!("event shard: parcel {id} not failed: {e}");
                }
                continue;
            }
            if let Err(e) = self.run(
                "UPDATE parcels SET state = 'sent', sends = sends + 1, sent_at = ?2 WHERE id = ?1",
                vec![num(id), num(now)],
            ) {
                worker::console_error!("event shard: parcel {id} not re-sent: {e}");
                continue;
            }
            messages.push(parcel_message(&tenant_id, shard, id, &items));
        }
        self.send(messages).await;
    }

    /// The queue items of a parcel, read back: its events' rows, or its jobs.
    fn parcel_items(&self, p: &ParcelRow) -> Result<Vec<String>> {
        if p.kind == "r" {
            #[derive(Deserialize)]
            struct J {
                job: String,
            }
            return Ok(self
                .rows::<J>(
                    "SELECT job FROM jobs WHERE parcel = ?1 AND status = 'queued' AND job IS NOT NULL",
                    vec![num(p.id as i64)],
                )?
                .into_iter()
                .map(|j| j.job)
                .collect());
        }
        let ids: Vec<String> = serde_json::from_str(&p.items).unwrap_or_default();
        Ok(self
            .events_by_id(&ids)?
            .into_iter()
            .map(|r| r.body)
            .collect())
    }

    fn events_by_id(&self, ids: &[String]) -> Result<Vec<EvRow>> {
        let list = json_text(ids);
        let mut out = Vec::new();
        for day in self.tables() {
            out.extend(self.rows::<EvRow>(
                &format!(
                    "SELECT id, ts, parcel, body FROM {} WHERE id IN (SELECT value FROM json_each(?))",
                    day_table(day)
                ),
                vec![list.clone()],
            )?);
        }
        Ok(out)
    }

    /// A parcel that cannot be delivered: each of its jobs fails with the reason (replayable).
    fn give_up(&self, parcel: i64, items: &[String], reason: &str, now: i64) -> Result<()> {
        let mut rows = Vec::new();
        for item in items {
            let Ok(msg) = serde_json::from_str::<QueueMessage>(item) else {
                continue;
            };
            for job in msg.jobs() {
                rows.push(json!([
                    job.delivery.event.event_id,
                    job.pixel,
                    job.platform.as_str(),
                    job.delivery.event.visitor_id,
                    job.attempt,
                    retry_item(&job),
                    reason
                ]));
            }
        }
        self.run(
            "INSERT INTO jobs (event_id, pixel, platform, visitor, status, attempts, job, error, updated) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, 'failed', value ->> 4, value ->> 5, value ->> 6, ?2 \
             FROM json_each(?1) WHERE true \
             ON CONFLICT(event_id, pixel) DO UPDATE SET status = 'failed', error = excluded.error, updated = excluded.updated, parcel = NULL \
             WHERE jobs.status NOT IN ('delivered', 'failed')",
            vec![json_text(&rows), num(now)],
        )?;
        self.run(
            "UPDATE parcels SET state = 'settled', settled_at = ?2 WHERE id = ?1",
            vec![num(parcel), num(now)],
        )
    }

    /// Adds the counts summed since the last time to D1's hourly rollups.
    async fn flush_counts(&self, now_ms: i64) {
        let (tenant_id, counts) = {
            let inner = self.inner.borrow();
            let due = inner
                .counts_since_ms
                .is_some_and(|s| now_ms - s >= COUNTERS_EVERY_MS);
            match (&inner.tenant_id, due) {
                (Some(t), true) => (t.clone(), inner.counts.clone()),
                _ => return,
            }
        };
        let result = async {
            let db = bindings::db(&self.env)?;
            d1::add_counts(&db, &tenant_id, &counts).await
        }
        .await;
        match result {
            Ok(()) => {
                let left = {
                    let mut inner = self.inner.borrow_mut();
                    // Counts added meanwhile stay for the next time.
                    for (k, n) in counts {
                        if let Some(v) = inner.counts.get_mut(&k) {
                            *v -= n;
                        }
                    }
                    inner.counts.retain(|_, n| *n != 0);
                    inner.counts_since_ms = (!inner.counts.is_empty()).then_some(now_ms);
                    inner.counts.clone()
                };
                if let Err(e) = self.save_counts(&left) {
                    worker::console_error!("event shard: counts not saved: {e}");
                }
            }
            Err(e) => {
                worker::console_warn!("event shard: counts not added, later: {}", e.message);
                self.inner.borrow_mut().counts_since_ms = Some(now_ms);
            }
        }
    }

    /// Drops the day tables past the window (no row is deleted one by one) and the settled
    /// parcels of those days, each once its events are in the history (R2). A day whose export
    /// fails keeps its table and is tried again after `EXPORT_RETRY_MS`.
    async fn drop_old_days(&self, now: i64) {
        {
            let inner = self.inner.borrow();
            if inner.exporting || inner.export_retry_at.is_some_and(|t| now_ms() < t) {
                return;
            }
        }
        let days: Vec<i64> = self
            .tables()
            .into_iter()
            .filter(|d| droppable(*d, now))
            .collect();
        if days.is_empty() {
            return;
        }
        self.inner.borrow_mut().exporting = true;
        for day in days {
            match self.export_day(day).await {
                Ok((parts, events, bytes, raw)) => worker::console_log!(
                    "event shard: day {} in the history: {events} events, {parts} parts, {bytes} bytes ({raw} before gzip)",
                    history::date(day)
                ),
                Err(e) => {
                    worker::console_error!(
                        "event shard: day {} not written to the history, its table stays; again in {} min: {}",
                        history::date(day),
                        EXPORT_RETRY_MS / 60_000,
                        e.message
                    );
                    let mut inner = self.inner.borrow_mut();
                    inner.export_retry_at = Some(now_ms() + EXPORT_RETRY_MS);
                    inner.exporting = false;
                    return;
                }
            }
            if self
                .run(&format!("DROP TABLE IF EXISTS {}", day_table(day)), vec![])
                .is_ok()
            {
                self.inner.borrow_mut().tables.remove(&day);
                let before = (day + 1) * 86_400 * 1_000_000;
                let _ = self.run(
                    "DELETE FROM parcels WHERE id < ? AND state = 'settled'",
                    vec![num(before)],
                );
            }
        }
        let mut inner = self.inner.borrow_mut();
        inner.exporting = false;
        inner.export_retry_at = None;
    }

    /// Writes a day's events to the history: NDJSON parts of bounded size, each line an event
    /// (no client address) with its destinations as the trail shows them now. Rows are read a
    /// page at a time, so memory holds one part at most. Returns (parts, events, bytes written,
    /// bytes before gzip).
    /// A retry writes the same keys again (a day's table only loses rows, to erases, whose
    /// visitors the erase pass removes from any part left over from the failed attempt).
    async fn export_day(&self, day: i64) -> std::result::Result<(u32, u64, u64, u64), ApiError> {
        const PAGE: i64 = 500;
        let (tenant_id, shard) = {
            let inner = self.inner.borrow();
            let t = inner.tenant_id.clone();
            (
                t.ok_or_else(|| ApiError::internal("history", "shard without tenant"))?,
                inner.shard,
            )
        };
        let bucket = bindings::history(&self.env)?;
        let sql = |e: worker::Error| ApiError::internal("history export", e);
        let mut parts = Parts::new();
        let (mut written, mut events, mut bytes, mut raw) = (0u32, 0u64, 0u64, 0u64);
        let mut after = String::new();
        loop {
            #[derive(Deserialize)]
            struct Id {
                id: String,
            }
            let ids: Vec<String> = self
                .rows::<Id>(
                    &format!(
                        "SELECT id FROM {} WHERE id > ? ORDER BY id LIMIT ?",
                        day_table(day)
                    ),
                    vec![text(&after), num(PAGE)],
                )
                .map_err(sql)?
                .into_iter()
                .map(|r| r.id)
                .collect();
            let Some(last) = ids.last() else { break };
            after = last.clone();
            let mut closed = Vec::new();
            for (row, rows) in self.trails(&ids, &[]).map_err(sql)? {
                let Ok(record) = serde_json::from_str::<QueueMessage>(&row.body) else {
                    continue;
                };
                if let Some(line) = history::line(&record, row.ts as i64, rows) {
                    events += 1;
                    closed.extend(parts.push(&line));
                }
            }
            for part in closed {
                raw += part.len() as u64;
                let key = history::part_key(&tenant_id, day, shard, written);
                bytes += r2::put_part(&bucket, &key, &part).await? as u64;
                written += 1;
            }
            if (ids.len() as i64) < PAGE {
                break;
            }
        }
        if let Some(part) = parts.finish() {
            raw += part.len() as u64;
            let key = history::part_key(&tenant_id, day, shard, written);
            bytes += r2::put_part(&bucket, &key, &part).await? as u64;
            written += 1;
        }
        let mut inner = self.inner.borrow_mut();
        inner.meter.history_parts += u64::from(written);
        inner.meter.history_events += events;
        inner.meter.history_bytes += bytes;
        Ok((written, events, bytes, raw))
    }

    /// The shard's own history files at the daily retention run: the days past the tenant's
    /// retention go, and the parts are rewritten without the events of the visitors erased
    /// since (at most `ERASE_PARTS_PER_RUN` parts a run; a pass over many parts continues at the
    /// next run from where it stopped). Returns (files deleted, lines erased, erasures pending).
    async fn history_retention(
        &self,
        now: i64,
        retention_days: i64,
    ) -> std::result::Result<(usize, usize, usize), ApiError> {
        const ERASE_PARTS_PER_RUN: usize = 50;
        const LIST_PAGES: usize = 100;
        let Some(tenant_id) = self.inner.borrow().tenant_id.clone() else {
            return Ok((0, 0, 0));
        };
        let shard = self.inner.borrow().shard;
        let sql = |e: worker::Error| ApiError::internal("history retention", e);
        let bucket = bindings::history(&self.env)?;
        let mut mine: Vec<(history::PartKey, String)> =
            r2::list_keys(&bucket, &history::tenant_prefix(&tenant_id), LIST_PAGES)
                .await?
                .into_iter()
                .filter_map(|k| Some((history::parse_key(&tenant_id, &k)?, k)))
                .filter(|(p, _)| p.shard == shard)
                .collect();
        let (old, keep): (Vec<_>, Vec<_>) = mine
            .drain(..)
            .partition(|(p, _)| history::expired(p.day, now, retention_days));
        let old: Vec<String> = old.into_iter().map(|(_, k)| k).collect();
        r2::delete_keys(&bucket, &old).await?;

        #[derive(Deserialize)]
        struct Erased {
            visitor: String,
            at: f64,
        }
        let erased: std::collections::HashMap<String, i64> = self
            .rows::<Erased>("SELECT visitor, at FROM erased", vec![])
            .map_err(sql)?
            .into_iter()
            .map(|e| (e.visitor, e.at as i64))
            .collect();
        if erased.is_empty() {
            return Ok((old.len(), 0, 0));
        }
        // A pass covers every part once, in key order, for the erasures recorded before it began
        // (those recorded since apply to the parts it has yet to read, and to the next pass).
        let pass = match self
            .meta("erase_pass_seq")
            .and_then(|s| s.parse::<i64>().ok())
        {
            Some(seq) => seq,
            None => self.number("SELECT max(seq) AS x FROM erased").unwrap_or(0),
        };
        let cursor = self.meta("erase_pass_after").unwrap_or_default();
        let latest_day = erased.values().map(|at| day_of(*at)).max().unwrap_or(0);
        let todo: Vec<&String> = keep
            .iter()
            .filter(|(p, k)| p.day <= latest_day && k.as_str() > cursor.as_str())
            .map(|(_, k)| k)
            .collect();
        let mut gone = 0;
        for key in todo.iter().take(ERASE_PARTS_PER_RUN) {
            gone += r2::erase_in_part(&bucket, key, &erased).await?;
            self.set_meta("erase_pass_after", key)
                .and_then(|_| self.set_meta("erase_pass_seq", &pass.to_string()))
                .map_err(sql)?;
        }
        if todo.len() <= ERASE_PARTS_PER_RUN {
            // Done: the erasures the pass began with are in no part any more.
            self.run("DELETE FROM erased WHERE seq <= ?", vec![num(pass)])
                .and_then(|_| {
                    self.run(
                        "DELETE FROM meta WHERE k IN ('erase_pass_seq', 'erase_pass_after')",
                        vec![],
                    )
                })
                .map_err(sql)?;
        }
        let pending = self.number("SELECT count(*) AS x FROM erased").unwrap_or(0) as usize;
        Ok((old.len(), gone, pending))
    }

    async fn arm(&self, at_ms: i64) -> Result<()> {
        let current = self.inner.borrow().alarm_at;
        if current.is_some_and(|c| c <= at_ms) {
            return Ok(());
        }
        let delay = (at_ms - now_ms()).max(0) as u64;
        self.state
            .storage()
            .set_alarm(Duration::from_millis(delay))
            .await?;
        self.inner.borrow_mut().alarm_at = Some(at_ms);
        Ok(())
    }

    /// Sets the alarm for the earliest thing left to do.
    async fn rearm(&self) -> Result<Response> {
        let now = now_ms();
        let next_retry = self
            .number("SELECT min(due) AS x FROM jobs WHERE status = 'retrying' AND job IS NOT NULL")
            .map(|d| d * 1000);
        let unsettled = self
            .number("SELECT 1 AS x FROM parcels WHERE state != 'settled' LIMIT 1")
            .is_some();
        let at = {
            let inner = self.inner.borrow();
            next_alarm(&AlarmInputs {
                now_ms: now,
                pending_since_ms: (!inner.outbox.is_empty()
                    || !inner.unsent.is_empty()
                    || inner.counts_dirty)
                    .then(|| inner.pending_since_ms.unwrap_or(now)),
                send_failed: inner.send_failed,
                next_retry_due_ms: next_retry,
                unsettled_parcels: unsettled,
                counts_since_ms: inner.counts_since_ms,
                tables_left: !inner.tables.is_empty(),
                export_retry_ms: inner.export_retry_at,
            })
        };
        if let Some(at) = at {
            self.arm(at).await?;
        }
        Response::empty()
    }

    fn jobs_where(&self, cond: &str, args: Vec<SqlStorageValue>) -> Result<Vec<JobRow>> {
        self.rows::<JobRow>(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE {cond}"),
            args,
        )
    }

    /// One event's story in this shard: its accepted record (while within the window), its
    /// destinations, and a copy of the event from an exception row (for older events).
    fn event(&self, event_id: &str) -> Result<Response> {
        let row = self.events_by_id(&[event_id.to_string()])?.pop();
        let parcel = match &row {
            Some(r) => self.parcel(r.parcel as i64)?,
            None => None,
        };
        let jobs = self.jobs_where("event_id = ?", vec![text(event_id)])?;
        if row.is_none() && jobs.is_empty() {
            return Response::from_json(&json!({"found": false}));
        }
        let refs: Vec<&JobRow> = jobs.iter().collect();
        Response::from_json(&json!({
            "found": true,
            "received_at": row.as_ref().map(|r| r.ts as i64),
            "record": row.as_ref().map(|r| r.body.as_str()),
            "job": jobs.iter().find_map(|j| j.job.as_deref()),
            "rows": trail_of(row.as_ref(), parcel.as_ref(), &refs),
        }))
    }

    /// The newest events (ids) of the shard, newest first: the open parcels', then the sent
    /// ones', at most `limit`.
    fn newest_ids(&self, limit: usize, parcels: &[ParcelRow]) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for p in self.inner.borrow().outbox.open.iter().rev() {
            ids.extend(p.event_ids.iter().rev().cloned());
        }
        for p in parcels {
            if ids.len() >= limit {
                break;
            }
            let items: Vec<String> = serde_json::from_str(&p.items).unwrap_or_default();
            ids.extend(items.into_iter().rev());
        }
        ids.truncate(limit);
        ids
    }

    fn recent_parcels(&self, n: usize) -> Result<Vec<ParcelRow>> {
        self.rows::<ParcelRow>(
            &format!(
                "SELECT {PARCEL_COLUMNS} FROM parcels WHERE kind = 'e' ORDER BY id DESC LIMIT ?"
            ),
            vec![num(n as i64)],
        )
    }

    /// The destinations of `ids` (events in the window), with their records.
    fn trails(
        &self,
        ids: &[String],
        parcels: &[ParcelRow],
    ) -> Result<Vec<(EvRow, Vec<DestinationRow>)>> {
        let mut rows = self.events_by_id(ids)?;
        let jobs = self.jobs_where(
            "event_id IN (SELECT value FROM json_each(?))",
            vec![json_text(ids)],
        )?;
        let mut extra: Vec<ParcelRow> = Vec::new();
        let wanted: BTreeSet<i64> = rows.iter().map(|r| r.parcel as i64).collect();
        let missing: Vec<i64> = wanted
            .into_iter()
            .filter(|id| !parcels.iter().any(|p| p.id as i64 == *id))
            .collect();
        if !missing.is_empty() {
            extra = self.rows::<ParcelRow>(
                &format!("SELECT {PARCEL_COLUMNS} FROM parcels WHERE id IN (SELECT value FROM json_each(?))"),
                vec![json_text(&missing)],
            )?;
        }
        let order: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        rows.sort_by_key(|r| order.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
        Ok(rows
            .into_iter()
            .map(|r| {
                let parcel = parcels
                    .iter()
                    .chain(&extra)
                    .find(|p| p.id as i64 == r.parcel as i64);
                let mine: Vec<&JobRow> = jobs.iter().filter(|j| j.event_id == r.id).collect();
                let t = trail_of(Some(&r), parcel, &mine);
                (r, t)
            })
            .collect())
    }

    /// The newest events with their destinations.
    fn recent(&self, limit: usize) -> Result<Response> {
        let limit = limit.clamp(1, 200);
        let parcels = self.recent_parcels(200)?;
        let ids = self.newest_ids(limit, &parcels);
        let events: Vec<Value> = self
            .trails(&ids, &parcels)?
            .into_iter()
            .map(|(r, rows)| json!({"received_at": r.ts as i64, "record": r.body, "rows": rows}))
            .collect();
        Response::from_json(&json!({"events": events}))
    }

    /// A page of the delivery listing, newest change first, after the cursor. Failed, paused and
    /// retrying deliveries all have rows, so those filters read rows only; the others also read
    /// the trails of the newest events (up to `LIST_EVENTS` of them).
    fn list(&self, body: &str) -> Result<Response> {
        #[derive(Deserialize)]
        struct Ask {
            status: Option<String>,
            pixel: Option<String>,
            limit: usize,
            before: Option<(i64, String, String)>,
        }
        const LIST_EVENTS: usize = 5_000;
        let ask: Ask = serde_json::from_str(body).map_err(|e| internal("list", e))?;
        let rows_only = matches!(
            ask.status.as_deref(),
            Some("failed" | "paused" | "retrying")
        );
        let mut out: Vec<DestinationRow> = Vec::new();
        let mut covered: HashSet<String> = HashSet::new();
        if !rows_only {
            let parcels = self.recent_parcels(LIST_EVENTS / 20)?;
            let ids = self.newest_ids(LIST_EVENTS, &parcels);
            for (r, rows) in self.trails(&ids, &parcels)? {
                covered.insert(r.id);
                out.extend(rows);
            }
        }
        // Exception rows of events not covered above (older, or past the newest).
        let mut args = Vec::new();
        let mut cond = vec!["1 = 1".to_string()];
        if let Some(s) = &ask.status {
            args.push(text(if s == "sending" { "queued" } else { s }));
            cond.push(format!("status = ?{}", args.len()));
        }
        for j in self.jobs_where(&cond.join(" AND "), args)? {
            if !covered.contains(&j.event_id) {
                out.push(DestinationRow::from(&j.view()));
            }
        }
        out.retain(|r| {
            ask.status.as_deref().is_none_or(|s| r.status == s)
                && ask.pixel.as_deref().is_none_or(|p| r.pixel == p)
                && ask.before.as_ref().is_none_or(|c| r.after(c))
        });
        sort_newest_first(&mut out);
        out.truncate(ask.limit.clamp(1, 500));
        Response::from_json(&json!({"rows": out}))
    }

    /// What a replay may look at: for event ids, every destination of each (with the event, for
    /// re-routing); else the failed deliveries (of a pixel), oldest first, at most `limit`.
    fn replayable(&self, body: &str) -> Result<Response> {
        #[derive(Deserialize)]
        struct Ask {
            #[serde(default)]
            pixel: Option<String>,
            #[serde(default)]
            event_ids: Option<Vec<String>>,
            limit: i64,
        }
        let ask: Ask = serde_json::from_str(body).map_err(|e| internal("replayable", e))?;
        let mut out = Vec::new();
        if let Some(ids) = &ask.event_ids {
            let parcels = Vec::new();
            let found = self.trails(ids, &parcels)?;
            let jobs = self.jobs_where(
                "event_id IN (SELECT value FROM json_each(?))",
                vec![json_text(ids)],
            )?;
            for id in ids {
                if let Some((r, rows)) = found.iter().find(|(r, _)| &r.id == id) {
                    out.push(json!({"event_id": id, "record": r.body, "rows": rows}));
                } else {
                    let mine: Vec<&JobRow> = jobs.iter().filter(|j| &j.event_id == id).collect();
                    if !mine.is_empty() {
                        out.push(json!({"event_id": id, "job": mine[0].job, "rows": trail_of(None, None, &mine)}));
                    }
                }
            }
        } else {
            let mut args = vec![num(ask.limit.clamp(1, 10_000))];
            let mut cond = "status = 'failed'".to_string();
            if let Some(p) = &ask.pixel {
                args.push(text(p));
                cond.push_str(" AND pixel = ?2");
            }
            for j in self.jobs_where(
                &format!("{cond} ORDER BY updated, event_id, pixel LIMIT ?1"),
                args,
            )? {
                out.push(json!({"event_id": j.event_id, "job": j.job, "rows": [DestinationRow::from(&j.view())]}));
            }
        }
        Response::from_json(&json!({"events": out}))
    }

    /// How many failed deliveries (of a pixel) the shard holds.
    fn count_failed(&self, body: &str) -> Result<Response> {
        let pixel: Option<String> = serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.get("pixel")?.as_str().map(str::to_string));
        let n = match pixel {
            Some(p) => self.rows::<Value>(
                "SELECT 1 FROM jobs WHERE status = 'failed' AND pixel = ?",
                vec![text(&p)],
            )?,
            None => self.rows::<Value>("SELECT 1 FROM jobs WHERE status = 'failed'", vec![])?,
        }
        .len();
        Response::from_json(&json!({"failed": n}))
    }

    /// Re-drives what a replay planned: each job becomes a retry due now (attempts start over)
    /// if its row is still failed or skipped, or has none (a skip at intake); two replays racing
    /// for a row take it once. `refuse` rows a replay will never re-drive become skipped with
    /// the reason.
    async fn replay(&self, body: &str) -> Result<Response> {
        #[derive(Deserialize)]
        struct Ask {
            send: Vec<(String, String, String, Option<String>, String)>,
            refuse: Vec<(String, String, String)>,
        }
        let ask: Ask = serde_json::from_str(body).map_err(|e| internal("replay", e))?;
        let now = now_ms() / 1000;
        if !ask.refuse.is_empty() {
            self.run(
                "UPDATE jobs SET status = 'skipped', error = j.value ->> 2, updated = ?2 FROM json_each(?1) AS j \
                 WHERE jobs.event_id = j.value ->> 0 AND jobs.pixel = j.value ->> 1 AND jobs.status = 'failed'",
                vec![json_text(&ask.refuse), num(now)],
            )?;
        }
        let taken = if ask.send.is_empty() {
            Vec::new()
        } else {
            self.rows::<Pair>(
                "INSERT INTO jobs (event_id, pixel, platform, visitor, status, attempts, due, job, updated, replays, replayed_at) \
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, 'retrying', 0, ?2, value ->> 4, ?2, 1, ?2 \
                 FROM json_each(?1) WHERE true \
                 ON CONFLICT(event_id, pixel) DO UPDATE SET status = 'retrying', attempts = 0, due = excluded.due, \
                   job = excluded.job, error = NULL, parcel = NULL, updated = excluded.updated, \
                   replays = jobs.replays + 1, replayed_at = excluded.replayed_at \
                 WHERE jobs.status IN ('failed', 'skipped') \
                 RETURNING event_id, pixel",
                vec![json_text(&ask.send), num(now)],
            )?
        };
        if !taken.is_empty() {
            self.arm(now_ms()).await?;
        }
        Response::from_json(&json!({"taken": taken}))
    }

    /// The pixel's paused jobs run again (its credentials changed).
    async fn resume(&self, body: &str) -> Result<Response> {
        let pixel = pixel_of(body)?;
        let now = now_ms() / 1000;
        let rows = self.rows::<Value>(
            "UPDATE jobs SET status = 'retrying', due = ?2, updated = ?2 WHERE pixel = ?1 AND status = 'paused' \
             RETURNING event_id",
            vec![text(&pixel), num(now)],
        )?;
        if !rows.is_empty() {
            self.arm(now_ms()).await?;
        }
        Response::from_json(&json!({"resumed": rows.len()}))
    }

    /// A deleted pixel's waiting jobs (paused, retrying, failed) go with it.
    fn forget_pixel(&self, body: &str) -> Result<Response> {
        let pixel = pixel_of(body)?;
        self.run(
            "DELETE FROM jobs WHERE pixel = ? AND status IN ('paused', 'retrying', 'failed')",
            vec![text(&pixel)],
        )?;
        Response::from_json(&json!({"ok": true}))
    }

    /// Erases a visitor: their events and their deliveries' rows.
    fn erase(&self, body: &str) -> Result<Response> {
        #[derive(Deserialize)]
        struct Ask {
            visitor_id: String,
        }
        let ask: Ask = serde_json::from_str(body).map_err(|e| internal("erase", e))?;
        let mut events = 0;
        for day in self.tables() {
            events += self
                .rows::<Value>(
                    &format!(
                        "DELETE FROM {} WHERE visitor = ? RETURNING id",
                        day_table(day)
                    ),
                    vec![text(&ask.visitor_id)],
                )?
                .len();
        }
        let jobs = self
            .rows::<Value>(
                "DELETE FROM jobs WHERE visitor = ? RETURNING event_id",
                vec![text(&ask.visitor_id)],
            )?
            .len();
        // The history files still hold the visitor's older events: the next retention run
        // rewrites them without (the audit API hides them meanwhile).
        self.run(
            "INSERT INTO erased (visitor, at, seq) VALUES (?1, ?2, (SELECT coalesce(max(seq), 0) + 1 FROM erased)) \
             ON CONFLICT(visitor) DO UPDATE SET at = excluded.at, seq = excluded.seq",
            vec![text(&ask.visitor_id), num(now_ms() / 1000)],
        )?;
        Response::from_json(&json!({"events": events, "jobs": jobs}))
    }

    /// The daily retention run at `now` (the cron's scheduled time): day tables past the window
    /// go, exception rows past the tenant's retention go, and those past 30 days lose the
    /// client address their job kept.
    async fn retention(&self, body: &str) -> Result<Response> {
        #[derive(Deserialize)]
        struct Ask {
            now: i64,
            retention_days: i64,
        }
        let ask: Ask = serde_json::from_str(body).map_err(|e| internal("retention", e))?;
        let tables = self.tables().len();
        self.drop_old_days(ask.now).await;
        let dropped = tables - self.tables().len();
        let history = match self.history_retention(ask.now, ask.retention_days).await {
            Ok((files, lines, pending)) => {
                worker::console_log!(
                    "event shard: history retention: {files} files past retention deleted, {lines} events of erased visitors removed, {pending} erasures pending"
                );
                json!({"files_deleted": files, "erased_lines": lines, "erasures_pending": pending})
            }
            Err(e) => {
                worker::console_error!(
                    "event shard: history retention failed, next run: {}",
                    e.message
                );
                json!({"error": e.message})
            }
        };
        let old = self.rows::<Value>(
            "DELETE FROM jobs WHERE updated < ? AND status IN ('delivered', 'failed', 'skipped') RETURNING event_id",
            vec![num(crate::core::retention::event_cutoff(ask.now, ask.retention_days))],
        )?;
        self.run(
            "UPDATE jobs SET job = json_remove(job, '$.delivery.event.client.ip') \
             WHERE updated < ? AND json_extract(job, '$.delivery.event.client.ip') IS NOT NULL",
            vec![num(crate::core::retention::ip_cutoff(ask.now))],
        )?;
        Response::from_json(
            &json!({"days_dropped": dropped, "rows_deleted": old.len(), "history": history}),
        )
    }

    fn meter(&self) -> Result<Response> {
        let m = self.inner.borrow().meter;
        let mut v = serde_json::to_value(m).map_err(|e| internal("meter", e))?;
        v["database_bytes"] = (self.sql.database_size() as u64).into();
        Response::from_json(&v)
    }
}

#[derive(Deserialize, Serialize)]
struct Pair {
    event_id: String,
    pixel: String,
}

fn pixel_of(body: &str) -> Result<String> {
    #[derive(Deserialize)]
    struct Ask {
        pixel: String,
    }
    Ok(serde_json::from_str::<Ask>(body)
        .map_err(|e| internal("pixel", e))?
        .pixel)
}
