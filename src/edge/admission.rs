//! Admission control at the door of the public writes (`core::admission` has the rules): the
//! Rate Limiting bindings per tenant and per tenant and client network, and the daily quota,
//! counted in this isolate and flushed to D1 in batches after the response (`Context::wait_until`),
//! never per event.

use std::cell::RefCell;
use std::time::Duration;

use worker::{Context, Env, Response};

use super::auth::TrackingCaller;
use super::bindings::{self, NETWORK_RATE_LIMITER, TENANT_RATE_LIMITER};
use super::store::d1;
use super::{now_secs, ApiError};
use crate::core::admission::{
    self, network_key, tenant_key, Action, Flush, Limit, Usage, REFUSAL_FLUSH_SECS,
};
use crate::core::tenant::TenantConfig;

/// Tenants whose usage an isolate keeps (a list: an isolate serves few); past this it starts over
/// (counts not yet flushed are lost, which undercounts: never refuses wrongly).
const MAX_TENANTS: usize = 256;
/// Slots of the memo of refused limiter keys: direct-mapped by a hash of the key, so it never
/// grows; two keys in one slot take turns (the limiter is asked again).
const REFUSED_SLOTS: usize = 256;

thread_local! {
    /// Per tenant: its usage, and whether a deferred flush of its refusals is armed.
    static USAGE: RefCell<Vec<(String, Usage, bool)>> = const { RefCell::new(Vec::new()) };
    /// Limiter keys refused this period: (hash of the key, end of the period), so a flood from
    /// one key costs no limiter call per request.
    static REFUSED: RefCell<Vec<(u64, i64)>> = const { RefCell::new(Vec::new()) };
}

/// A refused write: the 429 to answer.
pub struct Refused {
    pub limit: Limit,
    quota: u64,
}

impl Refused {
    /// `429` with `Retry-After` and `{"error":{"code","message","field"}}` naming the limit.
    pub fn response(&self) -> Response {
        let resp =
            ApiError::new(429, self.limit.code(), &self.limit.message(self.quota)).into_response();
        let _ = resp.headers().set(
            "retry-after",
            &self.limit.retry_after(now_secs()).to_string(),
        );
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
    let network = (!caller.trusted)
        .then(|| network_key(tenant_id, super::request::client_ip(req).as_deref()));
    let (tenant_ok, network_ok) = futures_util::future::join(
        within(env, TENANT_RATE_LIMITER, &tenant_key(tenant_id), now),
        async {
            match &network {
                Some(key) => within(env, NETWORK_RATE_LIMITER, key, now).await,
                None => true,
            }
        },
    )
    .await;
    if with_usage(tenant_id, |u, _| u.read_first(quota, now)) {
        // One D1 read per isolate, tenant and day, for small quotas only.
        settle(env.clone(), tenant_id.to_string(), None).await;
    }
    let refused = if !network_ok {
        Some(Limit::Network)
    } else if !tenant_ok {
        Some(Limit::Tenant)
    } else if !with_usage(tenant_id, |u, _| u.admits(quota, now)) {
        Some(Limit::DailyQuota)
    } else {
        None
    };
    let Some(limit) = refused else {
        maintain(env, ctx, tenant_id, quota);
        return Ok(());
    };
    let (rolled, arm) = with_usage(tenant_id, |u, armed| {
        let rolled = u.record_refusal(limit.counter(), now);
        (rolled, !std::mem::replace(armed, true))
    });
    spawn(env, ctx, tenant_id, rolled, false);
    maintain(env, ctx, tenant_id, quota);
    if arm {
        // Refusals reach the stats even when no further request comes to this isolate: one
        // deferred flush per tenant, within `wait_until`'s time after the response.
        let (env, tenant_id) = (env.clone(), tenant_id.to_string());
        ctx.wait_until(async move {
            worker::Delay::from(Duration::from_secs(REFUSAL_FLUSH_SECS as u64 + 1)).await;
            let action = with_usage(&tenant_id, |u, armed| {
                *armed = false;
                u.next(quota, now_secs())
            });
            if let Action::Flush(f) = action {
                settle(env, tenant_id, Some(f)).await;
            } else if action == Action::Sync {
                settle(env, tenant_id, None).await;
            }
        });
    }
    Err(Refused { limit, quota })
}

/// Counts `writes` admitted for the tenant (events and conversions accepted, a consent choice
/// recorded).
pub fn admitted(env: &Env, ctx: &Context, config: &TenantConfig, writes: u64) {
    if writes == 0 {
        return;
    }
    let tenant_id = config.tenant_id.as_str();
    let rolled = with_usage(tenant_id, |u, _| u.record_writes(writes, now_secs()));
    spawn(env, ctx, tenant_id, rolled, false);
    maintain(env, ctx, tenant_id, admission::quota(config.daily_quota));
}

/// FNV-1a of a limiter key.
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// Through the limiter `binding` for `key`, unless this isolate saw it refused this period.
async fn within(env: &Env, binding: &str, key: &str, now: i64) -> bool {
    let hash = key_hash(key);
    let slot = (hash >> 32) as usize % REFUSED_SLOTS;
    let refused = REFUSED.with(|r| {
        r.borrow()
            .get(slot)
            .is_some_and(|(h, until)| *h == hash && now < *until)
    });
    if refused {
        return false;
    }
    let ok = bindings::within_rate_limit(env, binding, key).await;
    if !ok {
        REFUSED.with(|r| {
            let mut r = r.borrow_mut();
            if r.is_empty() {
                r.resize(REFUSED_SLOTS, (0, 0));
            }
            r[slot] = (hash, now + Limit::Tenant.retry_after(now));
        });
    }
    ok
}

/// `f` on the tenant's usage (and its deferred-flush flag).
fn with_usage<T>(tenant_id: &str, f: impl FnOnce(&mut Usage, &mut bool) -> T) -> T {
    USAGE.with(|m| {
        let mut m = m.borrow_mut();
        let i = match m.iter().position(|(t, _, _)| t == tenant_id) {
            Some(i) => i,
            None => {
                if m.len() >= MAX_TENANTS {
                    m.clear();
                }
                m.push((tenant_id.to_string(), Usage::default(), false));
                m.len() - 1
            }
        };
        let (_, usage, armed) = &mut m[i];
        f(usage, armed)
    })
}

/// Starts what the tenant's usage asks for (a flush or a read of the day's total), after the
/// response.
fn maintain(env: &Env, ctx: &Context, tenant_id: &str, quota: u64) {
    match with_usage(tenant_id, |u, _| u.next(quota, now_secs())) {
        Action::Nothing => {}
        Action::Sync => spawn(env, ctx, tenant_id, None, true),
        Action::Flush(f) => spawn(env, ctx, tenant_id, Some(f), true),
    }
}

/// Stores `flush` after the response. `tracked`: the usage awaits the answer (a flush it asked
/// for, or a read); otherwise it is an earlier day's counts, no longer in its books.
fn spawn(env: &Env, ctx: &Context, tenant_id: &str, flush: Option<Flush>, tracked: bool) {
    if flush.is_none() && !tracked {
        return;
    }
    ctx.wait_until(settle(env.clone(), tenant_id.to_string(), flush));
}

/// Adds `flush` to the tenant's row of its day (or only reads today's) and tells the usage the
/// day's total.
async fn settle(env: Env, tenant_id: String, flush: Option<Flush>) {
    let now = now_secs();
    let day = flush.map_or_else(|| admission::day_of(now), |f| f.day);
    let stored = async {
        let db = bindings::db(&env)?;
        match &flush {
            Some(f) => d1::add_usage(&db, &tenant_id, f).await,
            None => d1::writes_of_day(&db, &tenant_id, day).await,
        }
    };
    match stored.await {
        Ok(writes) => with_usage(&tenant_id, |u, _| u.synced(day, writes.max(0) as u64, now)),
        Err(e) => {
            worker::console_warn!("tenant usage not stored: {}", e.message);
            with_usage(&tenant_id, |u, _| u.failed(flush, now));
        }
    }
}
