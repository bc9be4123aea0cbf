//! The adapter: everything that touches Cloudflare bindings. Logic lives in `crate::core`.

// The beacon Worker (no `jobs` feature) uses a subset of the shared storage and config helpers.
#![cfg_attr(not(feature = "jobs"), allow(dead_code))]

pub mod admin;
pub mod cookies;
pub mod cors;
pub mod durable;
pub mod http;
pub mod queue;
pub mod store;
pub mod tag;

// The jobs Worker: platform calls, the queue consumer, cron jobs and the ads module.
#[cfg(feature = "jobs")]
pub mod ads;
#[cfg(feature = "jobs")]
pub mod dispatch;
#[cfg(feature = "jobs")]
pub mod health;
#[cfg(feature = "jobs")]
pub mod scheduled;
// The beacon Worker's way to them.
#[cfg(not(feature = "jobs"))]
pub mod jobs;

use worker::{Env, Headers, Request, Response};

use crate::core::destinations::PlatformConfig;
use crate::core::event::FieldError;
use crate::core::retry::RetryPolicy;
use crate::core::secrets::SecretBox;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

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

/// The request URL as the runtime serialized it. `Request::url` re-parses it with `url::Url`, which
/// would link the WHATWG parser and the IDNA tables into the beacon Worker just to read a query.
pub fn raw_url(req: &Request) -> String {
    req.inner().url()
}

/// The first value of query parameter `name`.
pub fn query_param(req: &Request, name: &str) -> Option<String> {
    crate::core::weburl::query_param(&raw_url(req), name).map(|v| v.into_owned())
}

pub(crate) fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| env.secret(name).ok().map(|v| v.to_string()))
        .filter(|v| !v.is_empty())
}

pub fn platform_config(env: &Env) -> PlatformConfig {
    let d = PlatformConfig::default();
    PlatformConfig {
        meta_graph_base: var(env, "META_GRAPH_BASE").unwrap_or(d.meta_graph_base),
        meta_api_version: var(env, "META_API_VERSION").unwrap_or(d.meta_api_version),
        ga4_mp_base: var(env, "GA4_MP_BASE").unwrap_or(d.ga4_mp_base),
        linkedin_api_base: var(env, "LINKEDIN_API_BASE").unwrap_or(d.linkedin_api_base),
        linkedin_version: var(env, "LINKEDIN_VERSION").unwrap_or(d.linkedin_version),
        tiktok_api_base: var(env, "TIKTOK_API_BASE").unwrap_or(d.tiktok_api_base),
        google_ads_api_base: var(env, "GOOGLE_ADS_API_BASE").unwrap_or(d.google_ads_api_base),
    }
}

pub fn retry_policy(env: &Env) -> RetryPolicy {
    RetryPolicy {
        base_delay_secs: var(env, "RETRY_BASE_SECONDS")
            .and_then(|v| v.parse().ok())
            .unwrap_or(RetryPolicy::default().base_delay_secs),
    }
}

pub fn outbound_timeout_ms(env: &Env) -> u64 {
    var(env, "OUTBOUND_TIMEOUT_MS")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

pub fn admin_token(env: &Env) -> Option<String> {
    var(env, "ADMIN_TOKEN")
}

pub fn secret_box(env: &Env) -> Result<SecretBox, ApiError> {
    let key = var(env, "TOKEN_ENCRYPTION_KEY")
        .ok_or_else(|| ApiError::new(500, "misconfigured", "TOKEN_ENCRYPTION_KEY is not set"))?;
    SecretBox::from_base64(&key).map_err(|m| ApiError::new(500, "misconfigured", &m))
}

pub fn dev_demo_enabled(env: &Env) -> bool {
    var(env, "DEV_DEMO").as_deref() == Some("1")
}

/// An API error rendered as `{"error":{"code","message","field"}}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: &str) -> Self {
        ApiError {
            status,
            code,
            message: message.to_string(),
            field: None,
        }
    }

    pub fn invalid(e: FieldError) -> Self {
        ApiError {
            status: 400,
            code: "invalid_request",
            message: format!("{} {}", e.field, e.message),
            field: Some(e.field),
        }
    }

    pub fn internal(context: &str, e: impl std::fmt::Display) -> Self {
        // Internal errors are logged with context; the caller sees no internals.
        worker::console_error!("{context}: {e}");
        ApiError::new(
            500,
            "internal",
            "internal error; the request was not processed",
        )
    }

    pub fn into_response(self) -> Response {
        let mut body = serde_json::json!({"error": {"code": self.code, "message": self.message}});
        if let Some(f) = self.field {
            body["error"]["field"] = serde_json::Value::String(f);
        }
        json_response(self.status, &body)
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::internal("worker", e)
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        ApiError::invalid(e)
    }
}

pub fn json_response(status: u16, body: &serde_json::Value) -> Response {
    let headers = Headers::new();
    let _ = headers.set("content-type", "application/json; charset=utf-8");
    let _ = headers.set("cache-control", "no-store");
    Response::ok(body.to_string())
        .map(|r| r.with_status(status).with_headers(headers))
        .unwrap_or_else(|_| Response::empty().expect("empty response").with_status(500))
}
