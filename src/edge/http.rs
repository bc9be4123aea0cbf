//! Routing: every endpoint of both Workers, here. Handlers live by resource: `tracking` (events,
//! pixel.gif, consent) and `tag` (the tag's config and visitor id) in the beacon Worker;
//! `tenants` (tenants, settings, pixels), `dashboard` (profile, keys, recent, stats, hourly,
//! notifications), `health` (pixel verify, webhook test), `audit` (event detail, delivery log,
//! replays), `ads` and `scheduled` (cron runs) in the jobs Worker, which the beacon Worker
//! forwards them to.

use serde_json::json;
use worker::{Context, Env, Method, Request, Response, Result};

use super::{auth, config, cors, demo, json_response, request, tag, tracking, ApiError, ApiResult};
#[cfg(feature = "jobs")]
use super::{dashboard, tenants};

pub async fn handle(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let path = req.path();
    // CORS (`cors`): only browser calls to the tracking endpoints, with the site key in the query,
    // from an origin its tenant allows; never a Bearer call (nor a preflight asking for one).
    let browser_call = path.starts_with("/api/v1/tracking/")
        && !auth::has_bearer(&req)
        && !request::header(&req, "access-control-request-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("authorization"));
    let origin = request::header(&req, "origin").filter(|_| browser_call);
    let site_key = request::query_nonempty(&req, "site_key").filter(|_| browser_call);
    if req.method() == Method::Options {
        let allowed = cors::allowed_origin(&env, origin.as_deref(), site_key.as_deref()).await;
        return Ok(cors::preflight(allowed.as_deref()));
    }
    let resp = match route(req, &env, &ctx, &path).await {
        Ok(r) => r,
        Err(e) => auth::with_retry_after(e.into_response()),
    };
    // A refused caller gets nothing to read (and an unknown site key no second lookup).
    if matches!(resp.status_code(), 401 | 403) {
        return Ok(resp);
    }
    Ok(
        match cors::allowed_origin(&env, origin.as_deref(), site_key.as_deref()).await {
            Some(o) => cors::allow(resp, &o),
            None => resp,
        },
    )
}

fn healthy() -> Response {
    json_response(200, &json!({"ok": true, "version": config::VERSION}))
}

/// The endpoints the jobs Worker serves: those that call platforms or webhooks, the delivery
/// audit (it rebuilds events and queues their deliveries), the ads module, cron runs, and the
/// management API (tenants, settings, pixels, dashboard reads), which no beacon needs: the beacon
/// Worker's wasm then holds only what a page's tag and a site's server call per event. Both
/// Workers read this one table: the beacon Worker forwards a match over the
/// JOBS binding (all but `Cron`, which only the beacon Worker itself sends), the jobs Worker
/// serves it.
#[derive(Clone, Copy, PartialEq)]
enum JobsRoute {
    VerifyPixel,
    TestNotification,
    EventDetail,
    Deliveries,
    Replay,
    Ads,
    Cron,
    Manage,
    Conversions,
}

fn jobs_route(method: &Method, segments: &[&str]) -> Option<JobsRoute> {
    match (method, segments) {
        (Method::Post, ["api", "v1", "tracking", "pixels", _, "verify"]) => {
            Some(JobsRoute::VerifyPixel)
        }
        (Method::Post, ["api", "v1", "tracking", "settings", "notifications", "test"]) => {
            Some(JobsRoute::TestNotification)
        }
        // recent, stats and hourly are the dashboard's reads (Manage, below).
        (Method::Get, ["api", "v1", "tracking", "events", id])
            if !matches!(*id, "recent" | "stats" | "hourly") =>
        {
            Some(JobsRoute::EventDetail)
        }
        (Method::Get, ["api", "v1", "tracking", "deliveries"]) => Some(JobsRoute::Deliveries),
        (Method::Post, ["api", "v1", "tracking", "deliveries", "replay"]) => {
            Some(JobsRoute::Replay)
        }
        (_, ["api", "v1", "ads", ..]) => Some(JobsRoute::Ads),
        (_, ["api", "v1", "conversions" | "integrations" | "webhooks" | "attribution", ..]) => {
            Some(JobsRoute::Conversions)
        }
        (Method::Post, ["internal", "cron"]) => Some(JobsRoute::Cron),
        (_, ["api", "v1", "tenants" | "admin", ..])
        | (_, ["api", "v1", "tracking", "pixels" | "settings", ..])
        | (_, ["api", "v1", "tracking", "events", "recent" | "stats" | "hourly"]) => {
            Some(JobsRoute::Manage)
        }
        _ => None,
    }
}

#[cfg(feature = "jobs")]
async fn serve_jobs(
    route: JobsRoute,
    req: Request,
    env: &Env,
    ctx: &Context,
    segments: &[&str],
) -> ApiResult {
    match route {
        JobsRoute::VerifyPixel => tenants::verify_pixel(req, env, segments[4]).await,
        JobsRoute::TestNotification => super::health::test_notification(req, env).await,
        JobsRoute::EventDetail => super::audit::event_detail(req, env, segments[4]).await,
        JobsRoute::Deliveries => super::audit::list(req, env).await,
        JobsRoute::Replay => super::audit::replay(req, env).await,
        JobsRoute::Ads => super::ads::route(req, env, &segments[3..]).await,
        JobsRoute::Cron => super::scheduled::internal_cron(req, env).await,
        JobsRoute::Manage => manage(req, env, segments).await,
        JobsRoute::Conversions => conversions(req, env, ctx, segments).await,
    }
}

/// Conversions beyond the browser (jobs Worker): the conversions API, integrations, the Stripe
/// and Meta Lead Ads webhooks, attribution.
#[cfg(feature = "jobs")]
async fn conversions(req: Request, env: &Env, ctx: &Context, segments: &[&str]) -> ApiResult {
    use super::{attribution, conversions, integrations, webhooks};
    use Method::{Get, Post, Put};
    match (req.method(), segments) {
        (Post, ["api", "v1", "conversions"]) => conversions::post(req, env, ctx, false).await,
        (Post, ["api", "v1", "conversions", "batch"]) => {
            conversions::post(req, env, ctx, true).await
        }
        (Get, ["api", "v1", "conversions"]) => conversions::list(req, env).await,
        (Get, ["api", "v1", "integrations"]) => integrations::list(req, env).await,
        (Get, ["api", "v1", "integrations", "stripe"]) => {
            integrations::get_one(req, env, integrations::STRIPE).await
        }
        (Get, ["api", "v1", "integrations", "meta-leads"]) => {
            integrations::get_one(req, env, integrations::META_LEADS).await
        }
        (Put, ["api", "v1", "integrations", "stripe"]) => integrations::put_stripe(req, env).await,
        (Put, ["api", "v1", "integrations", "meta-leads"]) => {
            integrations::put_meta_leads(req, env).await
        }
        (Post, ["api", "v1", "webhooks", "stripe", tenant_id]) => {
            webhooks::stripe(req, env, ctx, tenant_id).await
        }
        (Get, ["api", "v1", "webhooks", "meta", "leadgen"]) => {
            webhooks::meta_handshake_answer(req, env).await
        }
        (Post, ["api", "v1", "webhooks", "meta", "leadgen"]) => {
            webhooks::meta_leadgen(req, env, ctx).await
        }
        (Get, ["api", "v1", "attribution"]) => attribution::get(req, env).await,
        (Get, ["api", "v1", "attribution", "settings"]) => {
            integrations::get_attribution(req, env).await
        }
        (Put, ["api", "v1", "attribution", "settings"]) => {
            integrations::put_attribution(req, env).await
        }
        _ => Err(not_found()),
    }
}

#[cfg(not(feature = "jobs"))]
async fn serve_jobs(
    route: JobsRoute,
    req: Request,
    env: &Env,
    _: &Context,
    _: &[&str],
) -> ApiResult {
    if route == JobsRoute::Cron {
        return Err(not_found());
    }
    let write = route == JobsRoute::Manage && req.method() != Method::Get;
    let answer = super::jobs::forward(req, env).await;
    if write {
        super::store::kv::forget_configs();
    }
    answer
}

fn not_found() -> ApiError {
    ApiError::new(404, "not_found", "no such endpoint")
}

/// What the beacon Worker serves itself: events, beacons, consent and the tag's own calls.
async fn route(req: Request, env: &Env, ctx: &Context, path: &str) -> ApiResult {
    use Method::{Delete, Get, Post};
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    if let Some(r) = jobs_route(&method, &segments) {
        return serve_jobs(r, req, env, ctx, &segments).await;
    }
    match (method, segments.as_slice()) {
        (Get, ["healthz"]) => Ok(healthy()),
        (Get, ["internal", "meter"]) => super::meter::serve(req, env).await,

        // The same answer after reading whatever was posted: the cheapest POST this Worker
        // serves, which the bench compares the event endpoint with (same body, same path
        // through the runtime, none of the work).
        (Post, ["healthz"]) => {
            let mut req = req;
            request::read_bytes(&mut req, request::MAX_JSON_BYTES).await?;
            Ok(healthy())
        }
        (Get, [""] | ["demo"]) if config::dev_demo_enabled(env) => demo::demo_page(env).await,
        // Tracking: events, beacons, consent.
        (Get, ["pixel.gif"]) => Ok(tracking::pixel_gif(req, env, ctx).await),
        (Post, ["api", "v1", "tracking", "events"]) => tracking::events(req, env, ctx, false).await,
        (Post, ["api", "v1", "tracking", "events", "batch"]) => {
            tracking::events(req, env, ctx, true).await
        }
        (Post, ["api", "v1", "tracking", "consent"]) => tracking::post_consent(req, env, ctx).await,
        (Get, ["api", "v1", "tracking", "consent", visitor]) => {
            tracking::get_consent(req, env, visitor).await
        }
        (Delete, ["api", "v1", "tracking", "consent", visitor]) => {
            tracking::erase_visitor(req, env, visitor).await
        }
        // The tag's own calls.
        (Get, ["api", "v1", "tracking", "config"]) => tag::config(req, env).await,
        (Get, ["api", "v1", "tracking", "id"]) => tag::identify(req, env).await,
        _ => Err(not_found()),
    }
}

/// The management API (jobs Worker): tenants, settings, pixels, keys, dashboard reads, and the
/// operator's endpoints.
#[cfg(feature = "jobs")]
async fn manage(req: Request, env: &Env, segments: &[&str]) -> ApiResult {
    use Method::{Delete, Get, Patch, Post, Put};
    match (req.method(), segments) {
        (Post, ["api", "v1", "tenants"]) => tenants::create_tenant(req, env).await,
        (Put, ["api", "v1", "admin", "tenants", id, "shards"]) => {
            tenants::set_shards(req, env, id).await
        }
        (Get, ["api", "v1", "tracking", "settings"]) => tenants::get_settings(req, env).await,
        (Put, ["api", "v1", "tracking", "settings"]) => tenants::put_settings(req, env).await,
        (Get, ["api", "v1", "tracking", "pixels"]) => tenants::list_pixels(req, env).await,
        (Post, ["api", "v1", "tracking", "pixels"]) => tenants::write_pixel(req, env, None).await,
        (Get, ["api", "v1", "tracking", "pixels", id]) => tenants::get_pixel(req, env, id).await,
        (Put | Patch, ["api", "v1", "tracking", "pixels", id]) => {
            tenants::write_pixel(req, env, Some(id)).await
        }
        (Delete, ["api", "v1", "tracking", "pixels", id]) => {
            tenants::delete_pixel(req, env, id).await
        }
        (Get, ["api", "v1", "tenants", "me"]) => dashboard::me(req, env).await,
        (Post, ["api", "v1", "tenants", "keys", "rotate"]) => dashboard::rotate_key(req, env).await,
        (Post, ["api", "v1", "tenants", "keys", "ingest"]) => {
            dashboard::rotate_ingest_key(req, env).await
        }
        (Post, ["api", "v1", "tracking", "settings", "site-key", "rotate"]) => {
            dashboard::rotate_site_key(req, env).await
        }
        // The operator's (ADMIN_TOKEN).
        (Put, ["api", "v1", "admin", "tenants", id, "quota"]) => {
            super::admin::put_quota(req, env, id).await
        }
        (Post, ["api", "v1", "admin", "reencrypt"]) => super::admin::reencrypt(req, env).await,
        (Delete, ["api", "v1", "tenants", "keys", "previous"]) => {
            dashboard::revoke_previous(req, env).await
        }
        (Get, ["api", "v1", "tracking", "events", "recent"]) => dashboard::recent(req, env).await,
        (Get, ["api", "v1", "tracking", "events", "stats"]) => dashboard::stats(req, env).await,
        (Get, ["api", "v1", "tracking", "events", "hourly"]) => dashboard::hourly(req, env).await,
        (Get, ["api", "v1", "tracking", "settings", "notifications"]) => {
            dashboard::get_notifications(req, env).await
        }
        (Put, ["api", "v1", "tracking", "settings", "notifications"]) => {
            dashboard::put_notifications(req, env).await
        }
        _ => Err(not_found()),
    }
}
