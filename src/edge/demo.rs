//! The dev demo page (`DEV_DEMO=1`, set by scripts/dev): a page that loads the tag and banner with
//! the demo tenant's site key.

use worker::{Env, Headers, Response};

use super::{bindings, ApiError, ApiResult};

pub async fn demo_page(env: &Env) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Row {
        site_key: String,
    }
    let db = bindings::db(env)?;
    let row: Option<Row> = db
        .prepare("SELECT site_key FROM tenants WHERE name = 'pixelgate demo' ORDER BY created_at DESC LIMIT 1")
        .first(None)
        .await
        .map_err(|e| ApiError::internal("demo", e))?;
    let site_key = row.map(|r| r.site_key).unwrap_or_default();
    let html = include_str!("demo.html").replace("{{SITE_KEY}}", &site_key);
    let h = Headers::new();
    let _ = h.set("content-type", "text/html; charset=utf-8");
    Ok(Response::ok(html)?.with_headers(h))
}
