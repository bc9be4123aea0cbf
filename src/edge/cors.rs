//! CORS for the browser endpoints under `/api/v1/tracking/` (events, consent, the tag's calls):
//! an answer is readable only by an origin on the allow-list of the site key's tenant. The site
//! key comes from the query, which is where the tag puts it, so the preflight (no body, no
//! cookies, no Authorization) can judge too. A preflight or answer for any other origin, a call
//! without a site key in the query, or one with `Authorization` gets no CORS headers at all:
//! Bearer endpoints are for servers and for the same-origin dashboard, and are never credentialed
//! cross-origin. Whether the request itself is allowed is decided by the handlers.

use worker::{Env, Headers, Response};

use super::store::kv;

/// The request's `Origin` when the site key's tenant allows it.
pub async fn allowed_origin(
    env: &Env,
    origin: Option<&str>,
    site_key: Option<&str>,
) -> Option<String> {
    let (origin, site_key) = (origin?, site_key?);
    let cfg = kv::config_by_site_key(env, site_key).await.ok()??;
    cfg.origin_allowed(origin).then(|| origin.to_string())
}

/// The preflight answer: the methods and headers a page may use, for an allowed origin only.
pub fn preflight(allowed: Option<&str>) -> Response {
    let h = Headers::new();
    let _ = h.set("vary", "Origin");
    if let Some(o) = allowed {
        let _ = h.set("access-control-allow-origin", o);
        let _ = h.set("access-control-allow-credentials", "true");
        let _ = h.set("access-control-allow-methods", "GET, POST, DELETE, OPTIONS");
        let _ = h.set("access-control-allow-headers", "content-type");
        let _ = h.set("access-control-max-age", "86400");
    }
    Response::empty()
        .map(|r| r.with_status(204).with_headers(h))
        .expect("empty response")
}

/// Adds CORS headers for an allowed origin to an actual response (credentials: the tag's id and
/// consent calls carry the first-party visitor cookie).
pub fn allow(resp: Response, origin: &str) -> Response {
    let h = resp.headers().clone();
    let _ = h.set("access-control-allow-origin", origin);
    let _ = h.set("access-control-allow-credentials", "true");
    let _ = h.append("vary", "Origin");
    resp.with_headers(h)
}
