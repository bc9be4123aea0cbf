//! Reading a request: its body (one bounded JSON reader), the client's address, its query.

use futures_util::StreamExt;
use serde_json::{json, Value};
use worker::Request;

use super::ApiError;

/// Event bodies (one event or a batch of 100) and the dashboard's JSON writes.
pub const MAX_JSON_BYTES: usize = crate::core::event::MAX_BODY_BYTES;
/// Settings, keys and notifications: small objects.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;
/// A replay's body: up to 1000 event ids of up to 128 characters.
pub const MAX_REPLAY_BYTES: usize = 192 * 1024;
/// Audience member lists are far larger than anything else anyone posts.
pub const MAX_AUDIENCE_BYTES: usize = 32 * 1024 * 1024;

/// The request's JSON body (`{}` when empty), refused with 413 past `max` bytes. `text/plain`
/// bodies (navigator.sendBeacon, which cannot preflight) carry the same JSON.
pub async fn read_json(req: &mut Request, max: usize) -> Result<Value, ApiError> {
    let bytes = read_bytes(req, max).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError {
        status: 400,
        code: "invalid_json",
        message: format!("body is not valid JSON: {e}"),
        field: Some("body".into()),
    })
}

/// The raw body, refused with 413 past `max` bytes (declared or read).
pub async fn read_bytes(req: &mut Request, max: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            413,
            "payload_too_large",
            &format!(
                "body is larger than the {} KB this endpoint takes",
                max / 1024
            ),
        )
    };
    if let Some(len) = header(req, "content-length") {
        if len.parse::<usize>().map_or(true, |n| n > max) {
            return Err(too_large());
        }
    }
    // Read as a stream and stop at the limit: a chunked body declares no length, and a body is
    // never buffered whole before it is judged.
    let Ok(mut stream) = req.stream() else {
        return Ok(Vec::new());
    };
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::internal("read body", e))?;
        if bytes.len() + chunk.len() > max {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

pub fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// The client's address. Only `CF-Connecting-IP`: Cloudflare sets it on every request and
/// overwrites a client's own, while `X-Forwarded-For` is whatever the client wrote.
pub fn client_ip(req: &Request) -> Option<String> {
    header(req, "cf-connecting-ip")
}

/// Lower-case ISO country of the client, from Cloudflare's geolocation.
pub fn geo_country(req: &Request) -> Option<String> {
    req.cf()
        .and_then(|cf| cf.country())
        .map(|c| c.to_ascii_lowercase())
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

/// The first value of query parameter `name`, unless empty.
pub fn query_nonempty(req: &Request, name: &str) -> Option<String> {
    query_param(req, name).filter(|v| !v.is_empty())
}

/// Every query parameter (the last value of a repeated one).
pub fn query_map(req: &Request) -> std::collections::BTreeMap<String, String> {
    crate::core::weburl::query_pairs(&raw_url(req))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
