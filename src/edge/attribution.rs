//! `GET /api/v1/attribution?model&from&to&conversion` (jobs Worker; api key): the conversions of
//! the period credited to channels, sources/media and campaigns by the model
//! (`core::attribution`), from the touchpoints and conversion facts the consumer records, with
//! CPA and ROAS where the synced ads metrics have the campaign's spend.

use std::collections::BTreeSet;

use serde_json::json;
use worker::{Env, Request};

use super::auth::tenant_of_api_key;
use super::integrations::lookback_days;
use super::request::query_map;
use super::store::ads as ads_store;
use super::store::d1::batch as d1_batch;
use super::store::d1::conversions::{self as store, MAX_FACTS};
use super::{bindings, json_response, now_secs, ApiResult};
use crate::core::attribution::{campaign_spend, parse_report_query, report};
use crate::core::fanout::QueueMessage;

/// Records the touchpoints and conversion facts of a parcel's accepted events (its `Record`
/// items; an item seen again, in a re-sent parcel, writes nothing). Best effort: a failure is
/// logged, the delivery goes on.
pub async fn record(env: &Env, items: &[QueueMessage]) {
    let done = async {
        let db = bindings::db(env)?;
        let stmts = store::attribution_stmts(&db, items)?;
        if stmts.is_empty() {
            return Ok(());
        }
        d1_batch(&db, stmts).await
    }
    .await;
    if let Err(e) = done {
        worker::console_warn!("attribution not recorded: {}", e.message);
    }
}

pub async fn get(req: Request, env: &Env) -> ApiResult {
    let tenant_id = tenant_of_api_key(&req, env).await?;
    let lookback = lookback_days(env, &tenant_id).await?;
    let (q, range) = parse_report_query(&query_map(&req), now_secs(), lookback)?;
    let db = bindings::db(env)?;
    let facts = store::facts(&db, &tenant_id, &q.conversion, q.from, q.to).await?;
    let visitors: BTreeSet<&str> = facts
        .iter()
        .filter_map(|f| f.visitor_id.as_deref())
        .collect();
    let visitors: Vec<&str> = visitors.into_iter().collect();
    let touchpoints =
        store::touchpoints(&db, &tenant_id, &visitors, q.from - q.lookback_secs, q.to).await?;
    let spend =
        campaign_spend(&ads_store::daily_metrics(&db, &tenant_id, range, None, None).await?);
    let r = report(&q, &facts, &touchpoints, &spend);
    let mut body = serde_json::to_value(&r).unwrap_or_default();
    body["from"] = json!(range.from.to_string());
    body["to"] = json!(range.to.to_string());
    body["lookback_days"] = json!(lookback);
    body["truncated"] = json!(facts.len() >= MAX_FACTS as usize);
    Ok(json_response(200, &body))
}
