//! CORS: the browser endpoints (events, consent) answer only origins on the tenant's allow-list;
//! the check itself happens in the handlers (the allow-list belongs to the site key's tenant).

use worker::{Headers, Response};

/// Preflight: we cannot know the tenant yet (no body), so we reflect the origin and let the
/// actual request be refused if the origin is not allowed. Only safe methods and headers.
pub fn preflight(origin: Option<&str>) -> Response {
    let h = Headers::new();
    if let Some(o) = origin {
        let _ = h.set("access-control-allow-origin", o);
        let _ = h.set("access-control-allow-credentials", "true");
        let _ = h.set("vary", "Origin");
    }
    let _ = h.set("access-control-allow-methods", "GET, POST, DELETE, OPTIONS");
    let _ = h.set(
        "access-control-allow-headers",
        "content-type, authorization",
    );
    let _ = h.set("access-control-max-age", "86400");
    Response::empty()
        .map(|r| r.with_status(204).with_headers(h))
        .expect("empty response")
}

/// Adds CORS headers for an allowed origin to an actual response.
pub fn allow(resp: Response, origin: Option<&str>) -> Response {
    let Some(o) = origin else { return resp };
    let h = resp.headers().clone();
    let _ = h.set("access-control-allow-origin", o);
    let _ = h.set("access-control-allow-credentials", "true");
    let _ = h.append("vary", "Origin");
    resp.with_headers(h)
}
