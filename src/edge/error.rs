//! The one error type every handler returns, and how it and any JSON answer are rendered.

use worker::{Headers, Response};

use crate::core::event::FieldError;

pub type ApiResult = std::result::Result<Response, ApiError>;

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

    /// A 400 naming `field`.
    pub fn field(field: &str, message: &str) -> Self {
        ApiError::invalid(FieldError::new(field, message))
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, "not_found", &format!("{what} not found"))
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
