//! Google Ads API reads: daily campaign metrics through `GoogleAdsService.SearchStream`.
//!
//! Rules followed (Google Ads API REST reference, "Call structure", GAQL grammar, error
//! handling and quota guides):
//! - `POST {base}/{version}/customers/{customer_id}/googleAds:searchStream` with the JSON body
//!   `{"query": GAQL}`; the customer id is the 10 digits without dashes;
//! - headers: `developer-token` (ours), `login-customer-id` (the manager account, digits only,
//!   when access goes through one) and `Authorization: Bearer {access token}`;
//! - the query selects campaign id, name, status, `advertising_channel_type` (shown as the
//!   campaign's objective), `start_date`, `end_date` (v22 names, `YYYY-MM-DD`; an end date of
//!   2037-12-30 means "runs indefinitely"), `campaign_budget.amount_micros` (the daily budget),
//!   `campaign_budget.total_amount_micros` (a budget for the campaign's whole run) and the
//!   metrics impressions, clicks, cost_micros, conversions, conversions_value, segmented by
//!   `segments.date`, over `BETWEEN 'from' AND 'to'` (inclusive); GAQL returns no row for a
//!   campaign-day without activity. Google reports no daily reach for campaigns: rows carry none;
//! - searchStream answers one JSON array of batches `{results:[GoogleAdsRow], fieldMask,
//!   requestId}`, with no pagination; rows use lowerCamelCase JSON names; int64 values (ids,
//!   impressions, clicks, cost_micros, amount_micros) arrive as strings, doubles
//!   (conversions, conversions_value) as numbers, and fields at their default (0) are omitted;
//! - errors are `{"error":{code, message, status, details:[{errors:[{errorCode:{...},
//!   message, details:{quotaErrorDetails:{retryDelay:"120s"}}}]}]}}`, alone or inside the
//!   stream array: HTTP 429 / `RESOURCE_EXHAUSTED` / any `quotaError` → rate limited (waiting
//!   `retryDelay` when given); `UNAUTHENTICATED` (401) and `PERMISSION_DENIED` (403: access
//!   revoked, wrong manager account) → the tenant must reconnect; 5xx, `INTERNAL`,
//!   `UNAVAILABLE`, `DEADLINE_EXCEEDED` → retryable; anything else (`INVALID_ARGUMENT`, ...)
//!   → permanent;
//! - status: ENABLED → active, PAUSED → paused, REMOVED → archived.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::kpi::{DailyMetrics, Metrics};
use super::{bearer, units_to_micros, AccountRef, AdsConfig, ApiFailure, Campaign, CampaignStatus};
use crate::core::calendar::{Date, DateRange};
use crate::core::destinations::snippet;
use crate::core::outbound::{InboundResponse, OutboundRequest};
use crate::core::retry::parse_retry_after;

/// What every Google Ads API call carries. Secrets never reach a log through `{:?}`.
#[derive(Clone, PartialEq, Eq)]
pub struct GoogleAdsCredentials {
    pub developer_token: String,
    pub login_customer_id: Option<String>,
    pub access_token: String,
}

impl std::fmt::Debug for GoogleAdsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleAdsCredentials")
            .field("developer_token", &"<set>")
            .field("login_customer_id", &self.login_customer_id)
            .field("access_token", &"<set>")
            .finish()
    }
}

/// "123-456-7890" → "1234567890"; None unless exactly 10 digits remain.
pub fn normalize_customer_id(id: &str) -> Option<String> {
    let digits: String = id.trim().chars().filter(|&c| c != '-').collect();
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

fn digits_only(id: &str) -> String {
    id.chars().filter(char::is_ascii_digit).collect()
}

/// `customers/{digits}`, the root of every Google Ads resource path.
pub(super) fn customer_path(customer_id: &str) -> String {
    format!("customers/{}", digits_only(customer_id))
}

/// A POST to the Google Ads API with the headers every call needs.
pub(crate) fn post(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    path: &str,
    body: &Value,
) -> OutboundRequest {
    let mut request = OutboundRequest::post_json(cfg.google_ads_url(path), body.to_string())
        .with_header("developer-token", creds.developer_token.clone());
    if let Some(login) = &creds.login_customer_id {
        request = request.with_header("login-customer-id", digits_only(login));
    }
    bearer(request, &creds.access_token)
}

/// The end date Google gives a campaign without one.
const RUNS_INDEFINITELY: &str = "2037-12-30";

pub fn metrics_query(range: DateRange) -> String {
    format!(
        "SELECT campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, \
         campaign.start_date, campaign.end_date, campaign_budget.amount_micros, \
         campaign_budget.total_amount_micros, metrics.impressions, metrics.clicks, \
         metrics.cost_micros, metrics.conversions, metrics.conversions_value, segments.date \
         FROM campaign WHERE segments.date BETWEEN '{}' AND '{}'",
        range.from, range.to
    )
}

pub fn plan_search_stream(
    cfg: &AdsConfig,
    creds: &GoogleAdsCredentials,
    customer_id: &str,
    range: DateRange,
) -> OutboundRequest {
    let path = format!("{}/googleAds:searchStream", customer_path(customer_id));
    post(cfg, creds, &path, &json!({ "query": metrics_query(range) }))
}

/// What one searchStream brought back: the daily rows and the campaigns seen in them.
#[derive(Debug, Clone, PartialEq)]
pub struct GoogleSync {
    pub rows: Vec<DailyMetrics>,
    pub campaigns: Vec<Campaign>,
}

/// int64 as Google's JSON sends it (a string), or a plain number.
fn int64(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn double(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn campaign_status(s: Option<&str>) -> CampaignStatus {
    match s {
        Some("ENABLED") => CampaignStatus::Active,
        Some("REMOVED") => CampaignStatus::Archived,
        _ => CampaignStatus::Paused,
    }
}

fn id_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

pub fn read_search_stream(
    r: &InboundResponse,
    account: &AccountRef,
) -> Result<GoogleSync, ApiFailure> {
    let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
    if !(200..300).contains(&r.status) {
        return Err(google_failure(
            r.status,
            r.retry_after.as_deref(),
            parsed.as_ref(),
            &r.body,
        ));
    }
    let batches = match parsed {
        Some(Value::Array(batches)) => batches,
        _ => {
            return Err(ApiFailure::Permanent {
                reason: format!(
                    "searchStream answer is not a JSON array: {}",
                    snippet(&r.body)
                ),
            })
        }
    };
    let mut rows = Vec::new();
    let mut campaigns: BTreeMap<String, Campaign> = BTreeMap::new();
    for batch in &batches {
        if batch.get("error").is_some() {
            return Err(google_failure(
                r.status,
                r.retry_after.as_deref(),
                Some(batch),
                &r.body,
            ));
        }
        for result in batch
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let campaign = result.get("campaign").unwrap_or(&Value::Null);
            let metrics = result.get("metrics").unwrap_or(&Value::Null);
            let campaign_id = id_text(campaign.get("id"));
            let name = campaign
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let date = result
                .pointer("/segments/date")
                .and_then(Value::as_str)
                .and_then(Date::parse)
                .ok_or_else(|| ApiFailure::Permanent {
                    reason: "searchStream row without a valid segments.date".into(),
                })?;
            let budget = int64(result.pointer("/campaignBudget/amountMicros"));
            let total = int64(result.pointer("/campaignBudget/totalAmountMicros"));
            let date_of = |key: &str| {
                campaign
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|d| *d != RUNS_INDEFINITELY)
                    .and_then(Date::parse)
            };
            // Every row of a campaign carries the same attributes: the first one is kept.
            campaigns
                .entry(campaign_id.clone())
                .or_insert_with(|| Campaign {
                    platform: account.platform,
                    account_id: account.account_id.clone(),
                    campaign_id: campaign_id.clone(),
                    name: name.clone(),
                    status: campaign_status(campaign.get("status").and_then(Value::as_str)),
                    daily_budget_micros: (budget > 0 && total <= 0).then_some(budget),
                    lifetime_budget_micros: (total > 0).then_some(total),
                    budget_remaining_micros: None,
                    objective: campaign
                        .get("advertisingChannelType")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    start_date: date_of("startDate"),
                    end_date: date_of("endDate"),
                });
            rows.push(DailyMetrics {
                platform: account.platform,
                account_id: account.account_id.clone(),
                campaign_id,
                campaign_name: name,
                currency: account.currency.clone(),
                date,
                metrics: Metrics {
                    impressions: int64(metrics.get("impressions")).max(0) as u64,
                    clicks: int64(metrics.get("clicks")).max(0) as u64,
                    spend_micros: int64(metrics.get("costMicros")),
                    conversions: double(metrics.get("conversions")),
                    conversion_value_micros: units_to_micros(double(
                        metrics.get("conversionsValue"),
                    )),
                },
                reach: None,
                frequency: None,
            });
        }
    }
    Ok(GoogleSync {
        rows,
        campaigns: campaigns.into_values().collect(),
    })
}

/// Reads any Google Ads API answer that is not a success into its failure class. `parsed` is
/// the body as JSON when it is JSON: `{"error":...}` or a stream array holding one.
pub fn google_failure(
    status: u16,
    retry_after: Option<&str>,
    parsed: Option<&Value>,
    raw: &str,
) -> ApiFailure {
    let error = parsed.and_then(|v| match v {
        Value::Array(items) => items.iter().find_map(|i| i.get("error")),
        other => other.get("error"),
    });
    let Some(error) = error else {
        return ApiFailure::from_status(
            status,
            retry_after,
            format!("HTTP {status}: {}", snippet(raw)),
        );
    };
    let grpc_status = error
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("unknown error");
    let first_error = error
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|d| {
            d.get("errors")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
        });
    // errorCode is a one-key object such as {"quotaError": "RESOURCE_EXHAUSTED"}.
    let error_code = first_error
        .and_then(|e| e.get("errorCode"))
        .and_then(Value::as_object)
        .and_then(|o| o.iter().next())
        .map(|(kind, v)| (kind.clone(), v.as_str().unwrap_or_default().to_string()));
    let detail_message = first_error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str);
    let reason = match &error_code {
        Some((kind, value)) => format!(
            "Google Ads {grpc_status} {kind}.{value}: {}",
            snippet(detail_message.unwrap_or(message))
        ),
        None => format!("Google Ads {grpc_status}: {}", snippet(message)),
    };
    let is_quota = error_code
        .as_ref()
        .is_some_and(|(kind, _)| kind == "quotaError");
    if status == 429 || grpc_status == "RESOURCE_EXHAUSTED" || is_quota {
        let hinted = first_error
            .and_then(|e| e.pointer("/details/quotaErrorDetails/retryDelay"))
            .and_then(Value::as_str)
            .and_then(|d| d.strip_suffix('s'))
            .and_then(|secs| secs.parse::<f64>().ok())
            .map(|secs| secs.ceil() as u32);
        return ApiFailure::RateLimited {
            reason,
            retry_after_secs: hinted.or_else(|| parse_retry_after(retry_after)),
        };
    }
    match grpc_status {
        "UNAUTHENTICATED" | "PERMISSION_DENIED" => ApiFailure::AuthInvalid { reason },
        "INTERNAL" | "UNAVAILABLE" | "DEADLINE_EXCEEDED" => ApiFailure::Retryable { reason },
        _ if status == 403 => ApiFailure::AuthInvalid { reason },
        _ => ApiFailure::from_status(status, retry_after, reason),
    }
}

/// A success answer's JSON body, or the failure class: for the Customer Match calls.
pub(crate) fn read_google_response(r: &InboundResponse) -> Result<Value, ApiFailure> {
    let parsed: Option<Value> = serde_json::from_str(&r.body).ok();
    if !(200..300).contains(&r.status) {
        return Err(google_failure(
            r.status,
            r.retry_after.as_deref(),
            parsed.as_ref(),
            &r.body,
        ));
    }
    Ok(parsed.unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ads::AdsPlatform;
    use crate::core::outbound::Method;

    fn creds(login: Option<&str>) -> GoogleAdsCredentials {
        GoogleAdsCredentials {
            developer_token: "devtok-ABC".into(),
            login_customer_id: login.map(str::to_string),
            access_token: "ya29.a0Af".into(),
        }
    }

    fn account() -> AccountRef {
        AccountRef {
            platform: AdsPlatform::Google,
            account_id: "9876543210".into(),
            currency: "EUR".into(),
        }
    }

    fn range() -> DateRange {
        DateRange::new(
            Date::parse("2026-01-12").unwrap(),
            Date::parse("2026-01-14").unwrap(),
        )
        .unwrap()
    }

    fn resp(status: u16, body: Value) -> InboundResponse {
        InboundResponse {
            status,
            retry_after: None,
            body: body.to_string(),
        }
    }

    #[test]
    fn search_stream_request() {
        let req = plan_search_stream(
            &AdsConfig::default(),
            &creds(Some("111-222-3333")),
            "987-654-3210",
            range(),
        );
        assert_eq!(req.method, Method::Post);
        assert_eq!(
            req.url,
            "https://googleads.googleapis.com/v22/customers/9876543210/googleAds:searchStream"
        );
        assert_eq!(
            req.header_pairs(),
            [
                ("content-type", "application/json"),
                ("developer-token", "devtok-ABC"),
                ("login-customer-id", "1112223333"),
                ("authorization", "Bearer ya29.a0Af"),
            ]
        );
        let body: Value = serde_json::from_str(req.body.as_ref().unwrap()).unwrap();
        assert_eq!(
            body["query"],
            "SELECT campaign.id, campaign.name, campaign.status, campaign.advertising_channel_type, \
             campaign.start_date, campaign.end_date, campaign_budget.amount_micros, \
             campaign_budget.total_amount_micros, metrics.impressions, metrics.clicks, \
             metrics.cost_micros, metrics.conversions, metrics.conversions_value, segments.date \
             FROM campaign WHERE segments.date BETWEEN '2026-01-12' AND '2026-01-14'"
        );
        let direct = plan_search_stream(&AdsConfig::default(), &creds(None), "9876543210", range());
        assert!(direct.headers.iter().all(|(k, _)| k != "login-customer-id"));
        assert!(!format!("{:?}", creds(None)).contains("ya29"));
    }

    #[test]
    fn customer_ids_are_ten_digits() {
        assert_eq!(
            normalize_customer_id(" 123-456-7890 ").as_deref(),
            Some("1234567890")
        );
        assert_eq!(normalize_customer_id("123456789"), None);
        assert_eq!(normalize_customer_id("12345678901"), None);
        assert_eq!(normalize_customer_id("123-456-789a"), None);
    }

    #[test]
    fn stream_batches_parse_into_rows_and_campaigns() {
        let body = json!([
            {
                "results": [
                    {
                        "campaign": {"resourceName": "customers/9876543210/campaigns/2001", "id": "2001", "name": "Search - Marca", "status": "ENABLED",
                                     "advertisingChannelType": "SEARCH", "startDate": "2025-11-03", "endDate": "2037-12-30"},
                        "campaignBudget": {"resourceName": "customers/9876543210/campaignBudgets/77", "amountMicros": "50000000"},
                        "metrics": {"impressions": "5000", "clicks": "400", "costMicros": "310000000", "conversions": 12.5, "conversionsValue": 1250.0},
                        "segments": {"date": "2026-01-14"}
                    },
                    {
                        "campaign": {"resourceName": "customers/9876543210/campaigns/2002", "id": "2002", "name": "PMax", "status": "PAUSED",
                                     "advertisingChannelType": "PERFORMANCE_MAX", "startDate": "2026-01-01", "endDate": "2026-02-28"},
                        "campaignBudget": {"resourceName": "customers/9876543210/campaignBudgets/78", "amountMicros": "20000000", "totalAmountMicros": "600000000"},
                        "metrics": {"impressions": "120"},
                        "segments": {"date": "2026-01-12"}
                    }
                ],
                "fieldMask": "campaign.id,campaign.name,campaign.status,campaignBudget.amountMicros,metrics.impressions,metrics.clicks,metrics.costMicros,metrics.conversions,metrics.conversionsValue,segments.date",
                "requestId": "Xyz123"
            },
            {
                "results": [{
                    "campaign": {"id": "2001", "name": "Search - Marca", "status": "ENABLED"},
                    "campaignBudget": {"amountMicros": "50000000"},
                    "metrics": {"impressions": "4200", "clicks": "350", "costMicros": "290500000", "conversions": 9.0, "conversionsValue": 810.25},
                    "segments": {"date": "2026-01-13"}
                }],
                "requestId": "Xyz123"
            }
        ]);
        let sync = read_search_stream(&resp(200, body), &account()).unwrap();
        assert_eq!(sync.rows.len(), 3);
        assert_eq!(
            sync.rows[0].metrics,
            Metrics {
                impressions: 5000,
                clicks: 400,
                spend_micros: 310_000_000,
                conversions: 12.5,
                conversion_value_micros: 1_250_000_000
            }
        );
        assert_eq!(sync.rows[0].date.to_string(), "2026-01-14");
        // Omitted metrics are zero.
        assert_eq!(
            sync.rows[1].metrics,
            Metrics {
                impressions: 120,
                ..Metrics::default()
            }
        );
        assert_eq!(sync.rows[2].metrics.conversion_value_micros, 810_250_000);
        assert_eq!(sync.campaigns.len(), 2);
        assert_eq!(
            (
                sync.campaigns[0].campaign_id.as_str(),
                sync.campaigns[0].status,
                sync.campaigns[0].daily_budget_micros
            ),
            ("2001", CampaignStatus::Active, Some(50_000_000))
        );
        assert_eq!(sync.campaigns[1].status, CampaignStatus::Paused);
        assert_eq!(
            (
                sync.campaigns[0].objective.as_deref(),
                sync.campaigns[0].start_date.map(|d| d.to_string()),
                sync.campaigns[0].end_date
            ),
            (Some("SEARCH"), Some("2025-11-03".to_string()), None),
            "2037-12-30 is Google's 'no end date'"
        );
        assert_eq!(
            (
                sync.campaigns[1].daily_budget_micros,
                sync.campaigns[1].lifetime_budget_micros,
                sync.campaigns[1].end_date.map(|d| d.to_string())
            ),
            (None, Some(600_000_000), Some("2026-02-28".to_string()))
        );
        // An empty account answers an empty array.
        assert_eq!(
            read_search_stream(&resp(200, json!([])), &account())
                .unwrap()
                .rows,
            vec![]
        );
    }

    fn google_error(code: u16, status: &str, error_code: Value, extra: Value) -> Value {
        json!({"error": {"code": code, "message": "Request failed", "status": status, "details": [{
            "@type": "type.googleapis.com/google.ads.googleads.v17.errors.GoogleAdsFailure",
            "errors": [{"errorCode": error_code, "message": "Too many requests. Retry in 120 seconds.", "details": extra}],
            "requestId": "r-1"
        }]}})
    }

    #[test]
    fn errors_are_classified() {
        let quota = google_error(
            429,
            "RESOURCE_EXHAUSTED",
            json!({"quotaError": "RESOURCE_EXHAUSTED"}),
            json!({"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "Requests per account", "retryDelay": "120s"}}),
        );
        match read_search_stream(&resp(429, quota), &account()) {
            Err(ApiFailure::RateLimited {
                reason,
                retry_after_secs,
            }) => {
                assert_eq!(retry_after_secs, Some(120));
                assert!(
                    reason
                        .starts_with("Google Ads RESOURCE_EXHAUSTED quotaError.RESOURCE_EXHAUSTED"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        // The stream form: an array holding the error.
        let streamed = json!([google_error(
            401,
            "UNAUTHENTICATED",
            json!({"authenticationError": "OAUTH_TOKEN_EXPIRED"}),
            json!({})
        )]);
        assert!(matches!(
            read_search_stream(&resp(401, streamed), &account()),
            Err(ApiFailure::AuthInvalid { .. })
        ));
        let denied = google_error(
            403,
            "PERMISSION_DENIED",
            json!({"authorizationError": "USER_PERMISSION_DENIED"}),
            json!({}),
        );
        assert!(matches!(
            read_search_stream(&resp(403, denied), &account()),
            Err(ApiFailure::AuthInvalid { .. })
        ));
        let internal = google_error(
            500,
            "INTERNAL",
            json!({"internalError": "INTERNAL_ERROR"}),
            json!({}),
        );
        assert!(matches!(
            read_search_stream(&resp(500, internal), &account()),
            Err(ApiFailure::Retryable { .. })
        ));
        let bad_query = google_error(
            400,
            "INVALID_ARGUMENT",
            json!({"queryError": "UNRECOGNIZED_FIELD"}),
            json!({}),
        );
        assert!(matches!(
            read_search_stream(&resp(400, bad_query), &account()),
            Err(ApiFailure::Permanent { .. })
        ));
        let gateway = InboundResponse {
            status: 502,
            retry_after: None,
            body: "<html>Bad Gateway</html>".into(),
        };
        assert!(matches!(
            read_search_stream(&gateway, &account()),
            Err(ApiFailure::Retryable { .. })
        ));
        let plain_429 = InboundResponse {
            status: 429,
            retry_after: Some("30".into()),
            body: String::new(),
        };
        assert_eq!(
            read_search_stream(&plain_429, &account()).unwrap_err(),
            ApiFailure::RateLimited {
                reason: "HTTP 429: ".into(),
                retry_after_secs: Some(30)
            }
        );
        // An error batch at the end of an otherwise successful stream fails the read.
        let mid_stream = json!([{"results": []}, google_error(503, "UNAVAILABLE", json!({"internalError": "TRANSIENT_ERROR"}), json!({}))]);
        assert!(matches!(
            read_search_stream(&resp(200, mid_stream), &account()),
            Err(ApiFailure::Retryable { .. })
        ));
    }
}
