//! Admission control at the door of the public writes (`core::admission` has the rules): the
//! Rate Limiting bindings per tenant and per tenant and client network, and the daily quota,
//! counted in this isolate and flushed to D1 in batches after the response (`Context::wait_until`),
//! never per event.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use worker::{Context, Env, Response};

use super::auth::TrackingCaller;
use super::bindings::{self, NETWORK_RATE_LIMITER, TENANT_RATE_LIMITER};
use super::store::d1;
use super::{json_response, now_secs};
use crate::core::admission::{
    self, network_key, tenant_key, Action, Flush, Limit, Usage, REFUSAL_FLUSH_SECS,
};

/// Tenants whose usage an isolate keeps; past this the map starts over (counts not yet flushed
/// are lost, which undercounts: never refuses wrongly).
const MAX_TENANTS: usize = 1_000;
/// Keys a rate limiter refused, remembered to the end of their period so a flood from one key
/// costs no limiter call per request.
const MAX_REFUSED_KEYS: usize = 4_096;

thread_local! {
    static USAGE: RefCell<HashMap<String, Usage>> = RefCell::new(HashMap::new());
    /// Rate-limiter key → the end of the period it was refused in (unix seconds).
    static REFUSED: RefCell<HashMap<String, i64>> = RefCell::new(HashMap::new());
    /// Tenants with a deferred flush of refusals armed.
    static ARMED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// A refused write: the 429 to answer.
pub struct Refused {
    pub limit: Limit,
    quota: u64,
}

impl Refused {
    /// `429` with `Retry-After` and `{"error":{"code","message","field"}}` naming the limit.
    pub fn response(&self) -> Response {
        let now = now_secs();
        let resp = json_response(
            429,
            &json!({"error": {"code": self.limit.code(), "message": self.limit.message(self.quota), "field": null}}),
        );
        let _ = resp
            .headers()
            .set("retry-after", &self.limit.retry_after(now).to_string());
        resp
    }
}

/// May `caller` write now? The rate limits (the tenant's, and for a browser its network's), then
/// the tenant's daily quota. A refusal is counted for the stats.
pub async fn check(
    req: &worker::Request,
    env: &Env,
    ctx: &Context,
    caller: &TrackingCaller,
) -> Result<(), Refused> {
    let tenant_id = caller.config.tenant_id.as_str();
    let quota = admission::quota(caller.config.daily_quota);
    let now = now_secs();
    let tenant = tenant_key(tenant_id);
    let network = (!caller.trusted)
        .then(|| network_key(tenant_id, super::request::client_ip(req).as_deref()));
    let (tenant_ok, network_ok) =
        futures_util::future::join(within(env, TENANT_RATE_LIMITER, &tenant, now), async {
            match &network {
                Some(key) => within(env, NETWORK_RATE_LIMITER, key, now).await,
                None => true,
            }
        })
        .await;
    let refused = if !network_ok {
        Some(Limit::Network)
    } else if !tenant_ok {
        Some(Limit::Tenant)
    } else if !with_usage(tenant_id, |u| u.admits(quota, now)) {
        Some(Limit::DailyQuota)
    } else {
        None
    };
    let Some(limit) = refused else {
        maintain(env, ctx, tenant_id, quota);
        return Ok(());
    };
    let rolled = with_usage(tenant_id, |u| u.record_refusal(limit.counter(), now));
    spawn_flush(env, ctx, tenant_id, rolled);
    maintain(env, ctx, tenant_id, quota);
    arm_refusal_flush(env, ctx, tenant_id, quota);
    Err(Refused { limit, quota })
}

/// Counts `writes` admitted for the tenant (events accepted, a consent choice recorded).
pub fn admitted(env: &Env, ctx: &Context, caller: &TrackingCaller, writes: u64) {
    if writes == 0 {
        return;
    }
    let tenant_id = caller.config.tenant_id.as_str();
    let rolled = with_usage(tenant_id, |u| u.record_writes(writes, now_secs()));
    spawn_flush(env, ctx, tenant_id, rolled);
    maintain(
        env,
        ctx,
        tenant_id,
        admission::quota(caller.config.daily_quota),
    );
}

/// Through the limiter `binding` for `key`, unless this isolate saw it refused this period.
async fn within(env: &Env, binding: &str, key: &str, now: i64) -> bool {
    let refused_until = REFUSED.with(|r| r.borrow().get(key).copied());
    if refused_until.is_some_and(|until| now < until) {
        return false;
    }
    let ok = bindings::within_rate_limit(env, binding, key).await;
    if !ok {
        let until = now + Limit::Tenant.retry_after(now);
        REFUSED.with(|r| {
            let mut r = r.borrow_mut();
            if r.len() >= MAX_REFUSED_KEYS {
                r.retain(|_, t| *t > now);
                if r.len() >= MAX_REFUSED_KEYS {
                    r.clear();
                }
            }
            r.insert(key.to_string(), until);
        });
    }
    ok
}

fn with_usage<T>(tenant_id: &str, f: impl FnOnce(&mut Usage) -> T) -> T {
    USAGE.with(|m| {
        let mut m = m.borrow_mut();
        if !m.contains_key(tenant_id) && m.len() >= MAX_TENANTS {
            m.clear();
        }
        f(m.entry(tenant_id.to_string()).or_default())
    })
}

/// Starts what the tenant's usage asks for (a flush or a read of the day's total), after the
/// response.
fn maintain(env: &Env, ctx: &Context, tenant_id: &str, quota: u64) {
    let now = now_secs();
    match with_usage(tenant_id, |u| u.next(quota, now)) {
        Action::Nothing => {}
        Action::Sync => spawn(env, ctx, tenant_id, None),
        Action::Flush(f) => spawn(env, ctx, tenant_id, Some(f)),
    }
}

/// A flush of an earlier hour's counts (they are not in the usage's books any more).
fn spawn_flush(env: &Env, ctx: &Context, tenant_id: &str, rolled: Option<Flush>) {
    let Some(f) = rolled else { return };
    let (env, tenant_id) = (env.clone(), tenant_id.to_string());
    ctx.wait_until(async move {
        if let Err(e) = store(&env, &tenant_id, Some(&f)).await {
            worker::console_warn!("usage of an earlier hour not stored: {}", e.message);
        }
    });
}

fn spawn(env: &Env, ctx: &Context, tenant_id: &str, flush: Option<Flush>) {
    ctx.wait_until(settle(env.clone(), tenant_id.to_string(), flush));
}

/// Stores `flush` (or only reads the total) and tells the tenant's usage how it went.
async fn settle(env: Env, tenant_id: String, flush: Option<Flush>) {
    let now = now_secs();
    match store(&env, &tenant_id, flush.as_ref()).await {
        Ok(total) => with_usage(&tenant_id, |u| u.synced(total, now)),
        Err(e) => {
            worker::console_warn!("tenant usage not stored: {}", e.message);
            with_usage(&tenant_id, |u| u.failed(flush, now));
        }
    }
}

/// Adds `flush` (if any) and answers the tenant's writes today.
async fn store(env: &Env, tenant_id: &str, flush: Option<&Flush>) -> Result<u64, super::ApiError> {
    let db = bindings::db(env)?;
    let now = now_secs();
    match flush {
        Some(f) => d1::add_usage(&db, tenant_id, f, now).await,
        None => d1::usage_today(&db, tenant_id, now).await,
    }
}

/// Refusals reach the stats even when no further request comes to this isolate: one deferred
/// flush per tenant, `REFUSAL_FLUSH_SECS` after the first refusal (within `wait_until`'s time).
fn arm_refusal_flush(env: &Env, ctx: &Context, tenant_id: &str, quota: u64) {
    let armed = ARMED.with(|a| {
        let mut a = a.borrow_mut();
        if a.iter().any(|t| t == tenant_id) {
            return true;
        }
        a.push(tenant_id.to_string());
        false
    });
    if armed || !with_usage(tenant_id, |u| u.refusals_pending()) {
        return;
    }
    let (env, tenant_id) = (env.clone(), tenant_id.to_string());
    ctx.wait_until(async move {
        worker::Delay::from(Duration::from_secs(REFUSAL_FLUSH_SECS as u64 + 1)).await;
        ARMED.with(|a| a.borrow_mut().retain(|t| *t != tenant_id));
        let flush = match with_usage(&tenant_id, |u| u.next(quota, now_secs())) {
            Action::Flush(f) => Some(f),
            Action::Sync => None,
            Action::Nothing => return,
        };
        settle(env, tenant_id, flush).await;
    });
}
