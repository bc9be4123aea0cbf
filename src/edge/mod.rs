//! The adapter: everything that touches Cloudflare bindings. Logic lives in `crate::core`.
//!
//! Where things are:
//! - `http` routes every endpoint; handlers by resource: `tracking`, `tenants`, `dashboard`,
//!   `tag`, `demo`, and in the jobs Worker `health`, `audit`, `ads`, `scheduled`;
//! - `delivery` is the queue consumer (jobs Worker), `queue` the hand-off to the Queue;
//! - `durable` holds the Durable Objects; `store` the D1 and KV queries;
//! - cross-cutting: `bindings` (every binding and Durable Object call), `config` (every
//!   variable), `auth`, `request` (body, client IP, query), `secrets`, `fetch` (the outbound
//!   client), `cors`, `cookies`, `error`.

// The beacon Worker (no `jobs` feature) uses a subset of the shared storage and config helpers.
#![cfg_attr(not(feature = "jobs"), allow(dead_code))]

pub mod admission;
pub mod auth;
pub mod bindings;
pub mod config;
pub mod cookies;
pub mod cors;
pub mod demo;
pub mod durable;
pub mod error;
pub mod http;
pub mod meter;
#[cfg(feature = "jobs")]
pub mod queue;
pub mod request;
pub mod secrets;
pub mod store;
pub mod tag;
pub mod tracking;

// The jobs Worker: platform calls, the queue consumer, cron jobs, the ads module and the
// management API.
#[cfg(feature = "jobs")]
pub mod admin;
#[cfg(feature = "jobs")]
pub mod ads;
#[cfg(feature = "jobs")]
pub mod attribution;
#[cfg(feature = "jobs")]
pub mod audit;
#[cfg(feature = "jobs")]
pub mod conversions;
#[cfg(feature = "jobs")]
pub mod dashboard;
#[cfg(feature = "jobs")]
pub mod delivery;
#[cfg(feature = "jobs")]
pub mod fetch;
#[cfg(feature = "jobs")]
pub mod health;
#[cfg(feature = "jobs")]
pub mod history;
#[cfg(feature = "jobs")]
pub mod integrations;
#[cfg(feature = "jobs")]
pub mod scheduled;
#[cfg(feature = "jobs")]
pub mod tenants;
#[cfg(feature = "jobs")]
pub mod webhooks;
// The beacon Worker's way to them.
#[cfg(not(feature = "jobs"))]
pub mod jobs;

pub use error::{json_response, ApiError, ApiResult};

pub fn now_secs() -> i64 {
    (js_sys::Date::now() / 1000.0) as i64
}

pub fn now_ms() -> i64 {
    js_sys::Date::now() as i64
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::getrandom(&mut b).expect("crypto.getRandomValues is available in workers");
    b
}

/// RFC 4122 version 4 UUID from the platform CSPRNG.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = random_bytes();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
