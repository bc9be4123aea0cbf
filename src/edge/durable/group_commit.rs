//! Group commit of dedup claims inside one isolate.
//!
//! Every claim is a Durable Object call and a SQLite commit on the shard, and that commit, not
//! our code, is what a beacon costs. So an isolate keeps one call in flight per shard: a request
//! whose shard is idle starts a call; requests arriving meanwhile wait in the shard's lane and all
//! go in the next call, one transaction for all of them. Under light load nothing waits; under
//! heavy load calls carry many requests and the commit rate stays bounded. Answers are per
//! request, so each still learns which of its events were duplicates before its 202.
//!
//! Workers ties I/O to the request that started it, so the lane is built with that in mind:
//! - a waiting request resumes through a JS promise of its own, which workerd resumes in the
//!   waiter's context even when another request resolves it (a Rust waker would run the waiter in
//!   the resolver's context);
//! - each call runs under `wait_until` of the request that starts it, and every waiting request
//!   keeps its own context alive the same way, so a client leaving cancels nothing;
//! - when a call ends, the first request of the next batch is woken to start the next call in its
//!   own context (no request keeps working for others after its own answer);
//! - should a lane still stall, it counts as free again after `LEASE`: the next request starts a
//!   call that takes everyone still waiting.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use worker::js_sys::{Date, Function, Promise};
use worker::wasm_bindgen::JsValue;
use worker::wasm_bindgen_futures::JsFuture;
use worker::{Context, Env};

use super::dedup::call;
use crate::core::dedup::{ClaimPart, ClaimRequest, SHARDS};
use crate::edge::ApiError;

/// How long a lane trusts its call in flight. Far above any healthy call; past it the lane is
/// taken to be orphaned and the next request starts a new call.
const LEASE: Duration = Duration::from_secs(2);

enum Reply {
    Answered(Result<Vec<bool>, ApiError>),
    /// The previous call ended and this request heads the next batch: it starts the call.
    Lead,
}

struct Slot {
    reply: Option<Reply>,
    /// Resolves the waiting request's promise (see the module comment for why not a waker).
    wake: Function,
}

struct Waiter {
    part: ClaimPart,
    slot: Rc<RefCell<Slot>>,
}

#[derive(Default)]
struct Lane {
    /// Epoch ms until which the lane's current call is trusted; 0 when no call is in flight.
    busy_until: f64,
    waiting: Vec<Waiter>,
}

thread_local! {
    static LANES: RefCell<Vec<Lane>> =
        RefCell::new((0..SHARDS).map(|_| Lane::default()).collect());
}

fn with_lane<T>(shard: u32, f: impl FnOnce(&mut Lane) -> T) -> T {
    LANES.with(|lanes| f(&mut lanes.borrow_mut()[shard as usize]))
}

/// A promise and the function that resolves it.
fn promise_pair() -> (Promise, Function) {
    let mut wake = None;
    let promise = Promise::new(&mut |resolve, _reject| wake = Some(resolve));
    (
        promise,
        wake.expect("the Promise executor runs synchronously"),
    )
}

fn reply(slot: &Rc<RefCell<Slot>>, reply: Reply) {
    let mut s = slot.borrow_mut();
    s.reply = Some(reply);
    let _ = s.wake.call0(&JsValue::UNDEFINED);
}

/// Claims one request's part on `shard`, in the lane's next call; returns per event whether it is
/// new.
pub async fn claim(
    env: &Env,
    ctx: &Context,
    shard: u32,
    part: ClaimPart,
) -> Result<Vec<bool>, ApiError> {
    let (mut promise, wake) = promise_pair();
    let slot = Rc::new(RefCell::new(Slot { reply: None, wake }));
    let starts = with_lane(shard, |lane| {
        lane.waiting.push(Waiter {
            part,
            slot: slot.clone(),
        });
        let now = Date::now();
        let idle = lane.busy_until < now;
        if idle {
            lane.busy_until = now + LEASE.as_millis() as f64;
        }
        idle
    });
    if starts {
        start_call(env, ctx, shard);
    }
    loop {
        // Keeps this request's context alive until it is answered or told to lead, even if its
        // client leaves: a lead lost with a cancelled context would strand the requests behind it.
        let answered = JsFuture::from(promise.clone());
        ctx.wait_until(async move {
            let _ = answered.await;
        });
        let _ = JsFuture::from(promise).await;
        let next = slot.borrow_mut().reply.take();
        match next {
            Some(Reply::Answered(fresh)) => return fresh,
            Some(Reply::Lead) => {
                let (next_promise, wake) = promise_pair();
                slot.borrow_mut().wake = wake;
                promise = next_promise;
                start_call(env, ctx, shard);
            }
            None => return Err(ApiError::internal("dedup lane", "woken without a reply")),
        }
    }
}

/// Sends everything waiting in the lane as one call, under this request's `wait_until`.
fn start_call(env: &Env, ctx: &Context, shard: u32) {
    let env = env.clone();
    ctx.wait_until(async move {
        let batch = with_lane(shard, |lane| std::mem::take(&mut lane.waiting));
        let (parts, slots): (Vec<ClaimPart>, Vec<_>) =
            batch.into_iter().map(|w| (w.part, w.slot)).unzip();
        let expected = parts.len();
        // Empty when a lane taken over after its lease already took everyone.
        let fresh = if expected == 0 {
            Ok(vec![])
        } else {
            call(&env, shard, &ClaimRequest { parts })
                .await
                .and_then(|answer| match answer.fresh.len() {
                    n if n == expected => Ok(answer.fresh),
                    n => Err(ApiError::internal(
                        "dedup answer",
                        format!("{n} answers for {expected} parts"),
                    )),
                })
        };
        // The failure was logged once where it happened; every waiter gets the same error.
        match fresh {
            Ok(fresh) => {
                for (slot, fresh) in slots.iter().zip(fresh) {
                    reply(slot, Reply::Answered(Ok(fresh)));
                }
            }
            Err(e) => {
                for slot in &slots {
                    reply(slot, Reply::Answered(Err(e.clone())));
                }
            }
        }
        with_lane(shard, |lane| match lane.waiting.first() {
            Some(next) => {
                lane.busy_until = Date::now() + LEASE.as_millis() as f64;
                reply(&next.slot, Reply::Lead);
            }
            None => lane.busy_until = 0.0,
        });
    });
}
