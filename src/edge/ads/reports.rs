//! Reports on the synced daily metrics: KPIs over a date range, and month-to-date spend.

use serde_json::json;
use worker::{Env, Request};

use super::parse_date_param;
use crate::core::ads::kpi;
use crate::core::ads::AdsPlatform;
use crate::core::calendar::{Date, DateRange};
use crate::edge::auth::tenant_of_api_key;
use crate::edge::request::query_map;
use crate::edge::store::ads as store;
use crate::edge::{bindings, json_response, now_secs, ApiError, ApiResult};

/// `GET /metrics?from=&to=&platform=`: KPIs of the range (default the last 30 days, at most 731).
pub(super) async fn metrics(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let q = query_map(&req);
    let today = Date::from_unix(now_secs());
    let to = parse_date_param(&q, "to")?.unwrap_or(today);
    let from = parse_date_param(&q, "from")?.unwrap_or(to.add_days(-29));
    let range =
        DateRange::new(from, to).ok_or_else(|| ApiError::field("to", "must not be before from"))?;
    if range.len_days() > 731 {
        return Err(ApiError::field("from", "a report covers at most 731 days"));
    }
    let platform = match q.get("platform").filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(
            AdsPlatform::parse(p)
                .ok_or_else(|| ApiError::field("platform", "must be meta or google"))?,
        ),
    };
    let rows = store::daily_metrics(&bindings::db(env)?, &tenant_id, range, platform, None).await?;
    let report = kpi::build_report(&rows, range, platform);
    let mut body = json!(report);
    body["rows"] = json!(rows.len());
    Ok(json_response(200, &body))
}

/// `GET /spend`: this month's spend so far.
pub(super) async fn spend(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let today = Date::from_unix(now_secs());
    let range = DateRange {
        from: today.first_of_month(),
        to: today,
    };
    let rows = store::daily_metrics(&bindings::db(env)?, &tenant_id, range, None, None).await?;
    Ok(json_response(
        200,
        &json!(kpi::month_to_date_spend(&rows, today)),
    ))
}
