//! Server-set first-party cookies: reads the request's cookies and scope, appends Set-Cookie
//! headers. The rules (names, lifetimes, domain choice, validation) live in `core::cookies`.

use std::collections::BTreeMap;

use worker::{Env, Request, Response};

use crate::core::consent::ConsentState;
use crate::core::cookies::{self as c, CookieScope};
use crate::core::tenant::TenantConfig;
use crate::core::weburl;
use crate::edge::request::{header, raw_url};

pub fn request_cookies(req: &Request) -> BTreeMap<String, String> {
    header(req, "cookie")
        .map(|h| c::parse_cookie_header(&h))
        .unwrap_or_default()
}

/// `Secure` when the gateway is reached over https or the page is https (a https page cannot
/// call an http gateway, so behind a TLS-terminating proxy the Origin tells the truth).
pub fn scope(req: &Request, config: &TenantConfig) -> CookieScope {
    let raw_url = raw_url(req);
    let url = weburl::parse_http_url(&raw_url);
    let origin_header = header(req, "origin");
    let origin = origin_header.as_deref().and_then(weburl::parse_http_url);
    let secure = url.is_some_and(|u| u.https) || origin.is_some_and(|o| o.https);
    let host = header(req, "host")
        .or_else(|| url.map(|u| u.host.to_ascii_lowercase()))
        .unwrap_or_default();
    let origin_host = origin.map(|o| o.host.to_ascii_lowercase());
    CookieScope {
        domain: c::cookie_domain(&host, origin_host.as_deref(), &config.domains),
        secure,
    }
}

/// What the gateway decided to set, to be reported to the tag as well.
#[derive(Default)]
pub struct Identity {
    pub fbp: Option<String>,
    pub fbc: Option<String>,
}

/// Sets the visitor cookie and, for a visitor with marketing consent, `_fbp`/`_fbc` (taking the
/// tag's fresher values when valid, else the browser's, else a new `_fbp`). Without marketing
/// consent the Meta cookies are expired if the browser has them.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    req: &Request,
    config: &TenantConfig,
    visitor_id: &str,
    consent: Option<&ConsentState>,
    tag_fbp: Option<&str>,
    tag_fbc: Option<&str>,
    now_ms: i64,
) -> (Vec<String>, Identity) {
    let sc = scope(req, config);
    let jar = request_cookies(req);
    let mut set = vec![c::set_cookie(
        c::VISITOR_COOKIE,
        visitor_id,
        c::LONG_MAX_AGE,
        true,
        &sc,
    )];
    let mut id = Identity::default();
    if let Some(state) = consent {
        set.push(c::set_cookie(
            c::CONSENT_COOKIE,
            &c::consent_cookie_value(state),
            c::LONG_MAX_AGE,
            false,
            &sc,
        ));
        let pick = |tag: Option<&str>, name: &str| -> Option<String> {
            tag.filter(|v| c::valid_fb_cookie(v))
                .map(str::to_string)
                .or_else(|| jar.get(name).filter(|v| c::valid_fb_cookie(v)).cloned())
        };
        if state.marketing {
            let fbp = pick(tag_fbp, c::FBP_COOKIE).unwrap_or_else(|| {
                let r = u64::from_le_bytes(super::random_bytes::<8>());
                c::new_fbp(now_ms, r)
            });
            set.push(c::set_cookie(
                c::FBP_COOKIE,
                &fbp,
                c::META_MAX_AGE,
                false,
                &sc,
            ));
            id.fbp = Some(fbp);
            if let Some(fbc) = pick(tag_fbc, c::FBC_COOKIE) {
                set.push(c::set_cookie(
                    c::FBC_COOKIE,
                    &fbc,
                    c::META_MAX_AGE,
                    false,
                    &sc,
                ));
                id.fbc = Some(fbc);
            }
        } else {
            for name in [c::FBP_COOKIE, c::FBC_COOKIE] {
                if jar.contains_key(name) {
                    set.push(c::clear_cookie(name, &sc));
                }
            }
        }
    }
    (set, id)
}

/// Does this browser prove it is `visitor_id` of `tenant_id`: the gateway's `pg_vid` naming it and
/// the gateway's signature of it (`pg_vsig`)?
pub fn proven(req: &Request, env: &Env, tenant_id: &str, visitor_id: &str) -> bool {
    let jar = request_cookies(req);
    let named = jar.get(c::VISITOR_COOKIE).is_some_and(|v| v == visitor_id);
    let sig = jar.get(c::VISITOR_SIG_COOKIE).map(String::as_str);
    // Under any configured key: a signature made before a key rotation still proves the visitor.
    named
        && sig.is_some()
        && super::secrets::visitor_keys(env)
            .iter()
            .any(|key| c::visitor_proven(key, tenant_id, visitor_id, sig))
}

/// Adds the visitor's signature cookie to `set` (same scope and life as `pg_vid`). Only for an id
/// the gateway can vouch for: see `core::cookies::visitor_signature`.
pub fn vouch(
    req: &Request,
    env: &Env,
    config: &TenantConfig,
    visitor_id: &str,
    set: &mut Vec<String>,
) {
    if let Some(key) = super::secrets::visitor_keys(env).first() {
        let sig = c::visitor_signature(key, &config.tenant_id, visitor_id);
        set.push(c::set_cookie(
            c::VISITOR_SIG_COOKIE,
            &sig,
            c::LONG_MAX_AGE,
            true,
            &scope(req, config),
        ));
    }
}

pub fn with_cookies(resp: Response, set: &[String]) -> Response {
    let h = resp.headers().clone();
    for v in set {
        let _ = h.append("set-cookie", v);
    }
    resp.with_headers(h)
}
