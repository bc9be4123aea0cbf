//! Reports on the synced data: KPIs over a date range (cross-platform, per account, per campaign,
//! day by day), the campaigns and one campaign's days, and month-to-date spend. Scores use the
//! tenant's targets (`settings`).

use std::collections::BTreeMap;

use serde_json::json;
use worker::{D1Database, Env, Request};

use super::parse_date_param;
use super::settings::load_settings;
use crate::core::ads::campaigns;
use crate::core::ads::kpi;
use crate::core::ads::{AdsPlatform, CampaignStatus};
use crate::core::calendar::{Date, DateRange};
use crate::edge::auth::tenant_of_api_key;
use crate::edge::request::query_map;
use crate::edge::store::ads::{self as store, AccountRow};
use crate::edge::{bindings, json_response, now_secs, ApiError, ApiResult};

/// The longest range a report covers.
const MAX_REPORT_DAYS: i64 = 731;

/// `from`/`to` of the query: by default the 30 days up to today; at most 731 days.
fn range_param(q: &BTreeMap<String, String>) -> Result<DateRange, ApiError> {
    let today = Date::from_unix(now_secs());
    let to = parse_date_param(q, "to")?.unwrap_or(today);
    let from = parse_date_param(q, "from")?.unwrap_or(to.add_days(-29));
    let range =
        DateRange::new(from, to).ok_or_else(|| ApiError::field("to", "must not be before from"))?;
    if range.len_days() > MAX_REPORT_DAYS {
        return Err(ApiError::field("from", "a report covers at most 731 days"));
    }
    Ok(range)
}

fn platform_param(q: &BTreeMap<String, String>) -> Result<Option<AdsPlatform>, ApiError> {
    q.get("platform")
        .filter(|p| !p.is_empty())
        .map(|p| {
            AdsPlatform::parse(p)
                .ok_or_else(|| ApiError::field("platform", "must be meta or google"))
        })
        .transpose()
}

/// `account_id` of the query (ours or the platform's), as the tenant's account.
async fn account_param(
    db: &D1Database,
    tenant_id: &str,
    q: &BTreeMap<String, String>,
) -> Result<Option<AccountRow>, ApiError> {
    match q.get("account_id").filter(|a| !a.is_empty()) {
        None => Ok(None),
        Some(id) => store::account_by_id(db, tenant_id, id)
            .await?
            .map(Some)
            .ok_or_else(|| ApiError::field("account_id", "no such ads account")),
    }
}

/// `GET /metrics?from=&to=&platform=`: KPIs and scores of the range per currency: totals,
/// platforms, accounts (with their names), campaigns and the daily series.
pub(super) async fn metrics(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let q = query_map(&req);
    let range = range_param(&q)?;
    let platform = platform_param(&q)?;
    let db = bindings::db(env)?;
    let settings = load_settings(&db, &tenant_id).await?;
    let rows = store::daily_metrics(&db, &tenant_id, range, platform, None).await?;
    let report = kpi::build_report(&rows, range, platform, &settings.targets);
    let accounts = store::list_accounts(&db, &tenant_id).await?;
    let mut body = json!(report);
    // Accounts by name, as the dashboard shows them.
    for currency in body["currencies"].as_array_mut().into_iter().flatten() {
        for a in currency["accounts"].as_array_mut().into_iter().flatten() {
            let found = accounts
                .iter()
                .find(|r| r.platform == a["platform"] && r.account_id == a["account_id"]);
            a["name"] = json!(found.map(|r| r.name.as_str()));
            a["id"] = json!(found.map(|r| r.id.as_str()));
        }
    }
    body["rows"] = json!(rows.len());
    body["default_currency"] = json!(settings.default_currency);
    Ok(json_response(200, &body))
}

/// `GET /campaigns?account_id=&platform=&status=&from=&to=`: the synced campaigns with their
/// details and their summary (KPIs, score, grade) over the range.
pub(super) async fn list_campaigns(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let q = query_map(&req);
    let range = range_param(&q)?;
    let platform = platform_param(&q)?;
    let status = q
        .get("status")
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_value::<CampaignStatus>(json!(s))
                .map_err(|_| ApiError::field("status", "must be active, paused or archived"))
        })
        .transpose()?;
    let db = bindings::db(env)?;
    let account = account_param(&db, &tenant_id, &q).await?;
    let scope = account
        .as_ref()
        .map(|a| (a.platform.as_str(), a.account_id.as_str()));
    let settings = load_settings(&db, &tenant_id).await?;
    let mut records = store::campaign_records(&db, &tenant_id, scope, None).await?;
    records.retain(|r| platform.is_none_or(|p| r.campaign.platform == p));
    let rows = store::daily_metrics(&db, &tenant_id, range, platform, scope).await?;
    let list = campaigns::campaign_views(&records, &rows, range, status, &settings.targets);
    Ok(json_response(
        200,
        &json!({"from": range.from, "to": range.to, "campaigns": list}),
    ))
}

/// `GET /campaigns/{id}/metrics?from=&to=[&account_id=]`: one campaign (the platform's id) day by
/// day, with reach and frequency where the platform gives them.
pub(super) async fn campaign_metrics(req: Request, env: &Env, id: &str) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let q = query_map(&req);
    let range = range_param(&q)?;
    let db = bindings::db(env)?;
    let account = account_param(&db, &tenant_id, &q).await?;
    let scope = account
        .as_ref()
        .map(|a| (a.platform.as_str(), a.account_id.as_str()));
    let mut records = store::campaign_records(&db, &tenant_id, scope, Some(id)).await?;
    let record = match records.len() {
        0 => return Err(ApiError::not_found("campaign")),
        1 => records.remove(0),
        _ => {
            return Err(ApiError::field(
                "account_id",
                "two connected accounts have a campaign with this id: name the account",
            ))
        }
    };
    let c = &record.campaign;
    let settings = load_settings(&db, &tenant_id).await?;
    let rows = store::daily_metrics(
        &db,
        &tenant_id,
        range,
        Some(c.platform),
        Some((c.platform.as_str(), c.account_id.as_str())),
    )
    .await?;
    Ok(json_response(
        200,
        &json!(campaigns::campaign_metrics(
            &record,
            &rows,
            range,
            &settings.targets
        )),
    ))
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
