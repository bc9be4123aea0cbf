//! Requests planned by the core as plain values; the edge only sends them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// A JSON value as request text. `serde_json::to_string` writes bytes straight into a buffer;
/// `Value::to_string` (Display) goes through `fmt` and costs ~3× more on the delivery path.
pub fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string(v).expect("a serde_json::Value always serializes")
}

impl OutboundRequest {
    pub fn post_json(url: String, body: String) -> Self {
        OutboundRequest {
            method: Method::Post,
            url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(body),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// What came back from the platform, as the edge saw it. `status == 0` means no HTTP answer
/// (network error or our own timeout); `body` is truncated by the edge to a sane size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundResponse {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl InboundResponse {
    pub fn no_answer(reason: &str) -> Self {
        InboundResponse {
            status: 0,
            retry_after: None,
            body: reason.to_string(),
        }
    }
}
