//! Every variable and secret the Workers read, with its default (the README's configuration
//! table). Handlers ask here instead of spelling variable names.

use worker::Env;

use super::ApiError;
use crate::core::ads::{AdsConfig, AdsPlatform, DEFAULT_GOOGLE_ADS_API_VERSION};
use crate::core::browser_tags::VendorScripts;
use crate::core::destinations::PlatformConfig;
use crate::core::retry::RetryPolicy;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A variable or secret; empty counts as unset.
pub(crate) fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| env.secret(name).ok().map(|v| v.to_string()))
        .filter(|v| !v.is_empty())
}

fn required(env: &Env, name: &str) -> Result<String, ApiError> {
    var(env, name).ok_or_else(|| ApiError::new(500, "misconfigured", &format!("{name} is not set")))
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
        google_ads_api_version: var(env, "GOOGLE_ADS_API_VERSION")
            .unwrap_or_else(|| DEFAULT_GOOGLE_ADS_API_VERSION.into()),
    }
}

/// Where the tag loads the platforms' browser scripts from (theirs unless set).
pub fn vendor_scripts(env: &Env) -> VendorScripts {
    let d = VendorScripts::default();
    VendorScripts {
        meta: var(env, "META_PIXEL_JS_URL").unwrap_or(d.meta),
        tiktok: var(env, "TIKTOK_PIXEL_JS_URL").unwrap_or(d.tiktok),
        google: var(env, "GTAG_JS_URL").unwrap_or(d.google),
        linkedin: var(env, "LINKEDIN_INSIGHT_JS_URL").unwrap_or(d.linkedin),
    }
}

pub fn ads_config(env: &Env) -> AdsConfig {
    let mut cfg = AdsConfig::from_platform_config(&platform_config(env));
    if let Some(v) = var(env, "META_OAUTH_DIALOG_BASE") {
        cfg.meta_dialog_base = v;
    }
    if let Some(v) = var(env, "GOOGLE_OAUTH_BASE") {
        cfg.google_oauth_base = v;
    }
    if let Some(v) = var(env, "GOOGLE_ACCOUNTS_BASE") {
        cfg.google_accounts_base = v;
    }
    cfg.google_ads_api_version =
        var(env, "GOOGLE_ADS_API_VERSION").unwrap_or_else(|| DEFAULT_GOOGLE_ADS_API_VERSION.into());
    cfg
}

/// The OAuth app of an ads platform: (client id, client secret).
pub fn oauth_app(env: &Env, platform: AdsPlatform) -> Result<(String, String), ApiError> {
    let (id, secret) = match platform {
        AdsPlatform::Meta => ("META_APP_ID", "META_APP_SECRET"),
        AdsPlatform::Google => ("GOOGLE_OAUTH_CLIENT_ID", "GOOGLE_OAUTH_CLIENT_SECRET"),
    };
    Ok((required(env, id)?, required(env, secret)?))
}

pub fn google_ads_developer_token(env: &Env) -> String {
    var(env, "GOOGLE_ADS_DEVELOPER_TOKEN").unwrap_or_default()
}

/// The public origin (no trailing slash) when the operator set one.
pub fn public_base_url(env: &Env) -> Option<String> {
    var(env, "PUBLIC_BASE_URL").map(|v| v.trim_end_matches('/').to_string())
}

/// The public origin for URLs the gateway hands out (OAuth redirects, webhook addresses):
/// `PUBLIC_BASE_URL` when set, else the origin `req` was sent to.
#[cfg(feature = "jobs")]
pub fn public_origin(env: &Env, req: &worker::Request) -> String {
    public_base_url(env).unwrap_or_else(|| {
        req.url()
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    })
}

/// `META_WEBHOOK_VERIFY_TOKEN`: the token the Meta app's webhook subscription was set up with
/// (one subscription per app); the handshake echoes Meta's challenge only for it.
pub fn meta_webhook_verify_token(env: &Env) -> Option<String> {
    var(env, "META_WEBHOOK_VERIFY_TOKEN")
}

/// `META_APP_SECRET`: Meta signs webhook notifications with it (and OAuth uses it).
pub fn meta_app_secret(env: &Env) -> Option<String> {
    var(env, "META_APP_SECRET")
}

/// The dashboard's address for links in notifications; empty without `PUBLIC_BASE_URL`.
#[cfg(feature = "jobs")]
pub fn dashboard_url(env: &Env) -> String {
    public_base_url(env)
        .map(|base| format!("{base}/admin/"))
        .unwrap_or_default()
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

pub fn admin_token(env: &Env) -> Result<String, ApiError> {
    required(env, "ADMIN_TOKEN")
}

/// The token encryption keys: `TOKEN_ENCRYPTION_KEYS` (`kid:base64,…`, first = current) and
/// `TOKEN_ENCRYPTION_KEY` (one base64 key, id `0`); `core::secrets::Keyring` reads them.
pub fn token_encryption_keys(env: &Env) -> (Option<String>, Option<String>) {
    (
        var(env, "TOKEN_ENCRYPTION_KEYS"),
        var(env, "TOKEN_ENCRYPTION_KEY"),
    )
}

/// `ALLOW_LOOPBACK_WEBHOOKS=1`: tenant webhooks may be `http(s)://127.0.0.1`, `localhost` or
/// `[::1]` (local dev and the e2e tests, whose receivers run on this machine). Never in production.
pub fn allow_loopback_webhooks(env: &Env) -> bool {
    var(env, "ALLOW_LOOPBACK_WEBHOOKS").as_deref() == Some("1")
}

/// A stored webhook URL that the current rules still allow (they may have tightened since it was
/// stored, or it was stored under `ALLOW_LOOPBACK_WEBHOOKS`): checked again before each call.
/// A host name is also resolved when the call is sent (`fetch::resolve_before_sending`): a
/// public name that resolves to a private address is not called.
#[cfg(feature = "jobs")]
pub fn callable_webhook(env: &Env, url: &str) -> Option<String> {
    let allow_loopback = allow_loopback_webhooks(env);
    let checked = crate::core::health::validate_webhook_url(url, allow_loopback);
    match &checked {
        Ok(url) => {
            if let Some(host) = crate::core::health::host_to_resolve(url, allow_loopback) {
                super::fetch::resolve_before_sending(url, &host, &dns_over_https_url(env));
            }
        }
        Err(_) => worker::console_warn!("a stored webhook URL is no longer allowed; not called"),
    }
    checked.ok()
}

/// The DNS-over-HTTPS resolver (JSON API) webhook hosts are resolved with before a call.
#[cfg(feature = "jobs")]
pub fn dns_over_https_url(env: &Env) -> String {
    var(env, "DNS_OVER_HTTPS_URL").unwrap_or_else(|| "https://cloudflare-dns.com/dns-query".into())
}

pub fn dev_demo_enabled(env: &Env) -> bool {
    var(env, "DEV_DEMO").as_deref() == Some("1")
}
