//! The beacon Worker's side of the JOBS service binding (built without the `jobs` feature).
//!
//! The jobs Worker (`pixelgate-jobs`, wrangler.jobs.toml) is this crate built with every feature.
//! It has no public route: the beacon Worker hands it the endpoints that call platforms or belong
//! to the ads module (the `http` route table marks them) and every cron run, so the triggers are declared
//! once and work the same under `wrangler dev --test-scheduled` and in production.

use worker::{Env, Headers, Method, Request, RequestInit, Response};

use super::bindings::jobs_worker;
use super::{config, ApiError};

/// Passes the request through unchanged and returns the jobs Worker's answer.
pub async fn forward(req: Request, env: &Env) -> Result<Response, ApiError> {
    let answer = jobs_worker(env)?
        .fetch_request(req)
        .await
        .map_err(|e| ApiError::internal("jobs worker", e))?;
    // A fetched response's headers are immutable, and the router may still add CORS headers.
    let headers = Headers::new();
    for (name, value) in answer.headers().entries() {
        let _ = headers.append(&name, &value);
    }
    let status = answer.status_code();
    Ok(answer.with_headers(headers).with_status(status))
}

/// Runs a cron trigger in the jobs Worker (`POST /internal/cron`, admin token) and logs how it went.
pub async fn forward_cron(env: &Env, cron: &str, scheduled_secs: i64) {
    let token = match config::admin_token(env) {
        Ok(t) => t,
        Err(e) => {
            worker::console_error!("cron {cron} not run: {}", e.message);
            return;
        }
    };
    let outcome = async {
        let headers = Headers::new();
        headers.set("authorization", &format!("Bearer {token}"))?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers);
        let url = format!(
            "https://jobs.internal/internal/cron?cron={}&scheduled={scheduled_secs}",
            js_sys::encode_uri_component(cron)
        );
        let req = Request::new_with_init(&url, &init)?;
        jobs_worker(env)
            .map_err(|e| worker::Error::RustError(e.message))?
            .fetch_request(req)
            .await
    }
    .await;
    match outcome {
        Ok(r) if r.status_code() == 200 => {}
        Ok(r) => worker::console_error!("cron {cron}: jobs worker answered {}", r.status_code()),
        Err(e) => worker::console_error!("cron {cron}: jobs worker unreachable: {e}"),
    }
}
