//! The outbound HTTP client: sends a request `core` planned, with a timeout, and keeps a bounded
//! part of the answer. Every platform and webhook call goes through here.

use std::cell::RefCell;

use worker::{Fetch, Headers, Method as WMethod, Request, RequestInit};

use crate::core::health;
use crate::core::outbound::{InboundResponse, Method, OutboundRequest};
use crate::core::text::truncate_bytes;

/// Tracking platforms answer in a few hundred bytes; this keeps any error text whole.
const MAX_RESPONSE_BYTES: usize = 16 * 1024;

/// DNS answers are a few hundred bytes.
const MAX_DNS_ANSWER_BYTES: usize = 4 * 1024;

thread_local! {
    /// Webhook URLs to resolve before they are called: (url, host, resolver). A Worker cannot
    /// resolve names itself, so the host is looked up over DNS over HTTPS, and a name that resolves
    /// to a private, loopback or link-local address is not called (the platforms' own bases are
    /// operator configuration and never pass here).
    static RESOLVE: RefCell<Vec<(String, String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Marks `url` (a tenant's webhook that `config::callable_webhook` allowed) to have `host`
/// resolved with `resolver` when it is sent.
pub fn resolve_before_sending(url: &str, host: &str, resolver: &str) {
    RESOLVE.with(|r| {
        let mut r = r.borrow_mut();
        // A bound on what a burst of notifications can leave behind.
        if r.len() >= 64 {
            r.remove(0);
        }
        r.push((url.to_string(), host.to_string(), resolver.to_string()));
    });
}

/// Sends one planned request, giving up after `timeout_ms` (a hanging platform must not hold
/// the batch, and with it every other destination, forever).
pub async fn send(req: &OutboundRequest, timeout_ms: u64) -> InboundResponse {
    send_limited(req, timeout_ms, MAX_RESPONSE_BYTES).await
}

/// `send`, keeping at most `max_body` bytes of the answer. A webhook marked by
/// `resolve_before_sending` is resolved first, and not called unless its host resolves to
/// public addresses only.
pub async fn send_limited(
    req: &OutboundRequest,
    timeout_ms: u64,
    max_body: usize,
) -> InboundResponse {
    let pending = RESOLVE.with(|r| {
        let mut r = r.borrow_mut();
        let i = r.iter().position(|(url, _, _)| *url == req.url)?;
        Some(r.remove(i))
    });
    if let Some((_, host, resolver)) = pending {
        let mut answers = Vec::with_capacity(2);
        for (rtype, _) in health::RESOLVED_TYPES {
            let q = health::dns_query(&resolver, &host, rtype);
            answers.push(transmit(&q, timeout_ms, MAX_DNS_ANSWER_BYTES).await);
        }
        let bodies: Vec<(u16, &str)> = answers
            .iter()
            .map(|a| (a.status, a.body.as_str()))
            .collect();
        if let Err(why) = health::resolved_public(&bodies) {
            worker::console_warn!("webhook not called: {why}");
            return InboundResponse::no_answer(&why);
        }
    }
    transmit(req, timeout_ms, max_body).await
}

/// Sends `req` as it is.
async fn transmit(req: &OutboundRequest, timeout_ms: u64, max_body: usize) -> InboundResponse {
    let headers = Headers::new();
    for (k, v) in &req.headers {
        let _ = headers.set(k, v);
    }
    let mut init = RequestInit::new();
    init.with_method(match req.method {
        Method::Get => WMethod::Get,
        Method::Post => WMethod::Post,
    })
    .with_headers(headers)
    // A redirect is answered, never followed: a tenant's webhook must not bounce us elsewhere.
    .with_redirect(worker::RequestRedirect::Manual);
    if let Some(b) = &req.body {
        init.with_body(Some(b.as_str().into()));
    }
    let request = match Request::new_with_init(&req.url, &init) {
        Ok(r) => r,
        Err(e) => return InboundResponse::no_answer(&format!("bad request: {e}")),
    };
    // AbortSignal.timeout covers connect, headers and body; the platform's hang ends here.
    let signal: worker::AbortSignal = abort_signal_timeout(timeout_ms as f64).into();
    match Fetch::Request(request).send_with_signal(&signal).await {
        Ok(mut resp) => {
            let status = resp.status_code();
            let retry_after = resp.headers().get("retry-after").ok().flatten();
            match resp.text().await {
                Ok(body) => InboundResponse {
                    status,
                    retry_after,
                    body: truncate_bytes(&body, max_body).to_string(),
                },
                Err(e) if signal.aborted() => InboundResponse::no_answer(&format!(
                    "timed out after {timeout_ms} ms reading the body: {e}"
                )),
                Err(_) => InboundResponse {
                    status,
                    retry_after,
                    body: String::new(),
                },
            }
        }
        Err(_) if signal.aborted() => {
            InboundResponse::no_answer(&format!("timed out after {timeout_ms} ms"))
        }
        Err(e) => InboundResponse::no_answer(&format!("network error: {e}")),
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = AbortSignal, js_name = timeout)]
    fn abort_signal_timeout(ms: f64) -> web_sys::AbortSignal;
}
