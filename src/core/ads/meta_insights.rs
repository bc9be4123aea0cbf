//! Meta Marketing API reads: campaigns and daily campaign insights of an ad account.
//!
//! Rules followed (Marketing API "Insights", "Ad Campaign" reference, Graph API "Paginated
//! Results", "Currency Codes", rate limiting):
//! - `GET {graph}/{version}/act_{account}/campaigns?fields=id,name,status,objective,start_time,
//!   stop_time,daily_budget,lifetime_budget,budget_remaining&limit=N`; `start_time`/`stop_time`
//!   are ISO 8601 date-times in the account's time zone (the calendar day is kept), `stop_time`
//!   absent for a campaign that runs until stopped;
//! - `GET {graph}/{version}/act_{account}/insights?level=campaign&time_increment=1&time_range=
//!   {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"}&fields=campaign_id,campaign_name,impressions,
//!   clicks,spend,reach,frequency,actions,action_values&limit=N`: one row per campaign and day,
//!   the day in `date_start`; `reach` (unique people) and `frequency` (impressions per person)
//!   are that day's;
//! - the access token travels in the `Authorization: Bearer` header, never in the URL (URLs end
//!   up in logs), so `paging.next` URLs carry no token either;
//! - cursor pagination: a page is the last one when `paging.next` is absent (even if
//!   `paging.cursors.after` is present); otherwise the next page is the same request with
//!   `after={paging.cursors.after}` (or the `after` of the `next` URL). The `next` URL itself is
//!   never followed, so every request stays on the configured base;
//! - numbers arrive as strings: counts ("12500") and `spend` as a decimal in the account
//!   currency's units ("245.80"), parsed exactly into micros; campaign budgets
//!   (`daily_budget`, `lifetime_budget`, `budget_remaining`) are in the currency's minor unit:
//!   offset 1 for CLP, COP, CRC, HUF, IDR, ISK, JPY, KRW, PYG, TWD, VND, offset 100 otherwise;
//!   a budget of "0" means no budget at that level (ad set budgets);
//! - conversions: `actions` / `action_values` list overlapping action types (`purchase` is an
//!   aggregate that already includes `offsite_conversion.fb_pixel_purchase`; `lead` includes
//!   pixel and on-Facebook leads). [`ConversionRule`]: each family (purchases, leads, or the
//!   action types the tenant chose, `settings::meta_action_family`) is counted once, through the
//!   first of its action types present, never by summing an aggregate with its parts; the
//!   conversion value uses the same rule on `action_values`;
//! - campaign status: ACTIVE → active, PAUSED → paused, ARCHIVED / DELETED → archived (anything
//!   else is shown as paused);
//! - errors `{"error":{code, error_subcode, is_transient, message}}` are classified like the
//!   Conversions API destination (codes 4, 17, 32, 613, 80000–80014 and HTTP 429 are
//!   throttling; `is_transient`, codes 1/2 and 5xx are transient); additionally code 190 (and
//!   102) — token expired, revoked or invalid — and permission errors (10, 200–299) mean the
//!   tenant must reconnect: [`ApiFailure::AuthInvalid`]. The throttling headers
//!   (`x-business-use-case-usage`, `x-app-usage`) are not read: the edge hands the core only
//!   status, `Retry-After` and body;
//! - budget: at most 200 calls per hour per ad account, tracked by [`CallBudget`]
//!   over a sliding hour.

use serde_json::{json, Value};
use url::form_urlencoded;

use super::kpi::{DailyMetrics, Metrics};
use super::settings::{meta_action_family, AdsSettings};
use super::{
    bearer, parse_decimal_micros, AccountRef, AdsConfig, ApiFailure, Campaign, CampaignStatus, Page,
};
use crate::core::calendar::{Date, DateRange};
use crate::core::destinations::meta::Meta;
use crate::core::destinations::{snippet, Destination};
use crate::core::outbound::{InboundResponse, Method, OutboundRequest};
use crate::core::retry::Outcome;

pub const PAGE_LIMIT: u32 = 500;
pub const CAMPAIGN_FIELDS: &str =
    "id,name,status,objective,start_time,stop_time,daily_budget,lifetime_budget,budget_remaining";
pub const INSIGHTS_FIELDS: &str =
    "campaign_id,campaign_name,impressions,clicks,spend,reach,frequency,actions,action_values";

/// Currencies whose minor unit is the unit itself in Meta's budget fields.
const OFFSET_ONE_CURRENCIES: [&str; 11] = [
    "CLP", "COP", "CRC", "HUF", "IDR", "ISK", "JPY", "KRW", "PYG", "TWD", "VND",
];

/// `act_` + id; an id already carrying the prefix is accepted.
pub(super) fn ad_account_node(account_id: &str) -> String {
    format!("act_{}", account_id.trim_start_matches("act_"))
}

fn get(url: String, token: &str) -> OutboundRequest {
    bearer(
        OutboundRequest {
            method: Method::Get,
            url,
            headers: Vec::new(),
            body: None,
        },
        token,
    )
}

fn with_query(base: String, pairs: &[(&str, &str)], after: Option<&str>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        query.append_pair(k, v);
    }
    if let Some(cursor) = after {
        query.append_pair("after", cursor);
    }
    format!("{base}?{}", query.finish())
}

/// One page of the account's campaigns.
pub fn plan_campaigns(
    cfg: &AdsConfig,
    token: &str,
    account_id: &str,
    after: Option<&str>,
) -> OutboundRequest {
    let base = cfg.meta_url(&format!("{}/campaigns", ad_account_node(account_id)));
    let limit = PAGE_LIMIT.to_string();
    get(
        with_query(
            base,
            &[("fields", CAMPAIGN_FIELDS), ("limit", &limit)],
            after,
        ),
        token,
    )
}

/// One page of daily campaign insights over `range`.
pub fn plan_insights(
    cfg: &AdsConfig,
    token: &str,
    account_id: &str,
    range: DateRange,
    after: Option<&str>,
) -> OutboundRequest {
    let base = cfg.meta_url(&format!("{}/insights", ad_account_node(account_id)));
    let time_range =
        json!({"since": range.from.to_string(), "until": range.to.to_string()}).to_string();
    let limit = PAGE_LIMIT.to_string();
    let pairs = [
        ("level", "campaign"),
        ("time_increment", "1"),
        ("time_range", time_range.as_str()),
        ("fields", INSIGHTS_FIELDS),
        ("limit", limit.as_str()),
    ];
    get(with_query(base, &pairs, after), token)
}

/// Meta's answer → its JSON body, or the failure class. Shared by every Meta call of the ads
/// integration (insights, audiences, token exchange).
pub fn read_meta_response(r: &InboundResponse) -> Result<Value, ApiFailure> {
    match Meta.classify(r) {
        Outcome::Delivered { .. } => {
            serde_json::from_str(&r.body).map_err(|_| ApiFailure::Permanent {
                reason: format!(
                    "Meta answered HTTP {} with a body that is not JSON: {}",
                    r.status,
                    snippet(&r.body)
                ),
            })
        }
        Outcome::RateLimited {
            reason,
            retry_after_secs,
            ..
        } => Err(ApiFailure::RateLimited {
            reason,
            retry_after_secs,
        }),
        Outcome::Retryable { reason, .. } => Err(ApiFailure::Retryable { reason }),
        Outcome::PixelRefused { reason, .. } => Err(ApiFailure::AuthInvalid { reason }),
        Outcome::Permanent { reason, .. } => Err(ApiFailure::Permanent { reason }),
    }
}

/// The cursor of the next page, if the page says there is one.
fn next_cursor(body: &Value) -> Option<String> {
    let paging = body.get("paging")?;
    let next = paging.get("next").and_then(Value::as_str)?;
    if let Some(after) = paging.pointer("/cursors/after").and_then(Value::as_str) {
        return Some(after.to_string());
    }
    url::Url::parse(next)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
}

fn data_rows(body: &Value) -> Result<&Vec<Value>, ApiFailure> {
    body.get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiFailure::Permanent {
            reason: "Meta answer has no data array".into(),
        })
}

/// A count or decimal that Meta sends as a string (sometimes as a number).
fn number(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0.0),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn count(v: Option<&Value>) -> u64 {
    number(v).max(0.0) as u64
}

/// The calendar day of a Meta date-time ("2025-01-10T10:00:00+0100").
fn day_of(row: &Value, key: &str) -> Option<Date> {
    row.get(key)
        .and_then(Value::as_str)
        .and_then(|t| t.get(..10))
        .and_then(Date::parse)
}

fn text(row: &Value, key: &str) -> String {
    row.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn minor_units_to_micros(value: Option<&Value>, currency: &str) -> Option<i64> {
    let minor: i64 = match value? {
        Value::String(s) => s.trim().parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    let offset = if OFFSET_ONE_CURRENCIES.contains(&currency.to_ascii_uppercase().as_str()) {
        1
    } else {
        100
    };
    Some(minor * (super::MICROS_PER_UNIT / offset))
}

fn campaign_status(s: &str) -> CampaignStatus {
    match s {
        "ACTIVE" => CampaignStatus::Active,
        "ARCHIVED" | "DELETED" => CampaignStatus::Archived,
        _ => CampaignStatus::Paused,
    }
}

pub fn read_campaigns(
    r: &InboundResponse,
    account: &AccountRef,
) -> Result<Page<Campaign>, ApiFailure> {
    let body = read_meta_response(r)?;
    let items = data_rows(&body)?
        .iter()
        .map(|row| {
            let budget =
                |key| minor_units_to_micros(row.get(key), &account.currency).filter(|&m| m > 0);
            let daily = budget("daily_budget");
            let lifetime = budget("lifetime_budget");
            Campaign {
                platform: account.platform,
                account_id: account.account_id.clone(),
                campaign_id: text(row, "id"),
                name: text(row, "name"),
                status: campaign_status(
                    row.get("status")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
                daily_budget_micros: daily,
                lifetime_budget_micros: lifetime,
                budget_remaining_micros: (daily.is_some() || lifetime.is_some())
                    .then(|| minor_units_to_micros(row.get("budget_remaining"), &account.currency))
                    .flatten(),
                objective: row
                    .get("objective")
                    .and_then(Value::as_str)
                    .filter(|o| !o.is_empty())
                    .map(str::to_string),
                start_date: day_of(row, "start_time"),
                end_date: day_of(row, "stop_time"),
            }
        })
        .collect();
    Ok(Page {
        items,
        next_cursor: next_cursor(&body),
    })
}

/// Which `actions` count as conversions: families of action types, each counted once through
/// the first of its types present in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionRule {
    pub families: Vec<Vec<String>>,
}

impl Default for ConversionRule {
    fn default() -> Self {
        ConversionRule::from_actions(&AdsSettings::default().meta_conversion_actions)
    }
}

impl ConversionRule {
    /// The tenant's chosen actions (`settings::AdsSettings::meta_conversion_actions`).
    pub fn from_actions(actions: &[String]) -> ConversionRule {
        ConversionRule {
            families: actions.iter().map(|a| meta_action_family(a)).collect(),
        }
    }

    /// Sum over families of the first present action type's value.
    fn total(&self, actions: Option<&Value>) -> f64 {
        let Some(actions) = actions.and_then(Value::as_array) else {
            return 0.0;
        };
        let value_of = |action_type: &str| {
            actions
                .iter()
                .find(|a| a.get("action_type").and_then(Value::as_str) == Some(action_type))
                .map(|a| number(a.get("value")))
        };
        self.families
            .iter()
            .filter_map(|family| family.iter().find_map(|t| value_of(t)))
            .sum()
    }
}

pub fn read_insights(
    r: &InboundResponse,
    account: &AccountRef,
    rule: &ConversionRule,
) -> Result<Page<DailyMetrics>, ApiFailure> {
    let body = read_meta_response(r)?;
    let mut items = Vec::new();
    for row in data_rows(&body)? {
        let date = row
            .get("date_start")
            .and_then(Value::as_str)
            .and_then(Date::parse)
            .ok_or_else(|| ApiFailure::Permanent {
                reason: "Meta insights row without a valid date_start".into(),
            })?;
        let spend = row.get("spend").and_then(Value::as_str).unwrap_or("0");
        let value = rule.total(row.get("action_values"));
        items.push(DailyMetrics {
            platform: account.platform,
            account_id: account.account_id.clone(),
            campaign_id: text(row, "campaign_id"),
            campaign_name: text(row, "campaign_name"),
            currency: account.currency.clone(),
            date,
            metrics: Metrics {
                impressions: count(row.get("impressions")),
                clicks: count(row.get("clicks")),
                spend_micros: parse_decimal_micros(spend).unwrap_or(0),
                conversions: rule.total(row.get("actions")),
                conversion_value_micros: super::units_to_micros(value),
            },
            reach: row.get("reach").map(|v| count(Some(v))),
            frequency: row
                .get("frequency")
                .map(|v| number(Some(v)))
                .filter(|f| *f > 0.0),
        });
    }
    Ok(Page {
        items,
        next_cursor: next_cursor(&body),
    })
}

/// Meta's per-ad-account call budget over a sliding window, as the scheduler stores it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CallBudget {
    /// Unix times of the calls made in the current window.
    pub calls: Vec<i64>,
}

impl CallBudget {
    pub const LIMIT: usize = 200;
    pub const WINDOW_SECS: i64 = 3600;

    fn in_window(&self, now: i64) -> impl Iterator<Item = &i64> {
        self.calls
            .iter()
            .filter(move |&&t| t > now - Self::WINDOW_SECS)
    }

    pub fn remaining(&self, now: i64) -> usize {
        Self::LIMIT.saturating_sub(self.in_window(now).count())
    }

    /// Counts one call made at `now` (and forgets calls older than the window).
    pub fn record(&mut self, now: i64) {
        self.calls.retain(|&t| t > now - Self::WINDOW_SECS);
        self.calls.push(now);
    }

    /// When the next call may be made: `now` if the budget allows, else when the oldest call in
    /// the window leaves it.
    pub fn available_at(&self, now: i64) -> i64 {
        if self.remaining(now) > 0 {
            return now;
        }
        let mut recent: Vec<i64> = self.in_window(now).copied().collect();
        recent.sort_unstable();
        recent[recent.len() - Self::LIMIT] + Self::WINDOW_SECS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ads::AdsPlatform;

    fn cfg() -> AdsConfig {
        AdsConfig::default()
    }

    fn account(currency: &str) -> AccountRef {
        AccountRef {
            platform: AdsPlatform::Meta,
            account_id: "1234567890".into(),
            currency: currency.into(),
        }
    }

    fn ok(body: Value) -> InboundResponse {
        InboundResponse {
            status: 200,
            retry_after: None,
            body: body.to_string(),
        }
    }

    fn err(status: u16, body: Value) -> InboundResponse {
        InboundResponse {
            status,
            retry_after: None,
            body: body.to_string(),
        }
    }

    fn range() -> DateRange {
        DateRange::new(
            Date::parse("2026-01-12").unwrap(),
            Date::parse("2026-01-14").unwrap(),
        )
        .unwrap()
    }

    fn query(url: &str) -> Vec<(String, String)> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    #[test]
    fn insights_request_is_the_documented_get_with_the_token_in_a_header() {
        let req = plan_insights(&cfg(), "EAAlonglived", "1234567890", range(), None);
        assert_eq!(req.method, Method::Get);
        assert!(req
            .url
            .starts_with("https://graph.facebook.com/v24.0/act_1234567890/insights?"));
        assert_eq!(
            query(&req.url),
            [
                ("level".to_string(), "campaign".to_string()),
                ("time_increment".into(), "1".into()),
                (
                    "time_range".into(),
                    r#"{"since":"2026-01-12","until":"2026-01-14"}"#.into()
                ),
                ("fields".into(), INSIGHTS_FIELDS.into()),
                ("limit".into(), "500".into()),
            ]
        );
        assert_eq!(
            req.header_pairs(),
            [("authorization", "Bearer EAAlonglived")]
        );
        assert!(!req.url.contains("EAAlonglived"));
        assert_eq!(req.body, None);

        let next = plan_insights(
            &cfg(),
            "EAAlonglived",
            "act_1234567890",
            range(),
            Some("QVFIUk1"),
        );
        assert!(
            next.url.contains("/act_1234567890/insights?"),
            "act_ is not doubled"
        );
        assert_eq!(
            query(&next.url).last().unwrap(),
            &("after".to_string(), "QVFIUk1".to_string())
        );
    }

    #[test]
    fn campaigns_request() {
        let req = plan_campaigns(&cfg(), "EAAx", "1234567890", None);
        assert_eq!(
            req.url,
            "https://graph.facebook.com/v24.0/act_1234567890/campaigns?fields=id%2Cname%2Cstatus%2Cobjective%2Cstart_time%2Cstop_time%2Cdaily_budget%2Clifetime_budget%2Cbudget_remaining&limit=500"
        );
    }

    #[test]
    fn insights_rows_parse_with_the_conversion_counting_rule() {
        let page = json!({
            "data": [
                {
                    "campaign_id": "120210000000001", "campaign_name": "Rebajas enero",
                    "impressions": "12500", "clicks": "310", "spend": "245.80",
                    "reach": "9100", "frequency": "1.373626",
                    "actions": [
                        {"action_type": "link_click", "value": "290"},
                        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "14"},
                        {"action_type": "purchase", "value": "14"},
                        {"action_type": "omni_purchase", "value": "14"},
                        {"action_type": "lead", "value": "3"},
                        {"action_type": "offsite_conversion.fb_pixel_lead", "value": "3"}
                    ],
                    "action_values": [
                        {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "1023.40"},
                        {"action_type": "purchase", "value": "1023.40"}
                    ],
                    "date_start": "2026-01-12", "date_stop": "2026-01-12"
                },
                {
                    "campaign_id": "120210000000002", "campaign_name": "Leads B2B",
                    "impressions": "800", "clicks": "0", "spend": "3.1",
                    "actions": [{"action_type": "onsite_conversion.lead_grouped", "value": "2"}],
                    "date_start": "2026-01-13", "date_stop": "2026-01-13"
                }
            ],
            "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"},
                       "next": "https://graph.facebook.com/v24.0/act_1234567890/insights?after=MjQZD"}
        });
        let page = read_insights(&ok(page), &account("EUR"), &ConversionRule::default()).unwrap();
        assert_eq!(page.next_cursor.as_deref(), Some("MjQZD"));
        assert_eq!(page.items.len(), 2);
        let first = &page.items[0];
        assert_eq!(first.campaign_id, "120210000000001");
        assert_eq!(first.date.to_string(), "2026-01-12");
        assert_eq!(first.currency, "EUR");
        assert_eq!(
            first.metrics,
            Metrics {
                impressions: 12_500,
                clicks: 310,
                spend_micros: 245_800_000,
                // 14 purchases (not 42) + 3 leads (not 6).
                conversions: 17.0,
                conversion_value_micros: 1_023_400_000,
            }
        );
        assert_eq!(
            (first.reach, first.frequency),
            (Some(9_100), Some(1.373626))
        );
        let second = &page.items[1].metrics;
        assert_eq!(
            (second.clicks, second.spend_micros, second.conversions),
            (0, 3_100_000, 2.0)
        );
        assert_eq!(second.conversion_value_micros, 0);
        assert_eq!((page.items[1].reach, page.items[1].frequency), (None, None));
    }

    #[test]
    fn the_tenant_chooses_which_actions_are_conversions() {
        let row = json!({"data": [{
            "campaign_id": "1", "campaign_name": "Mixed", "impressions": "1000", "clicks": "40", "spend": "50.00",
            "actions": [
                {"action_type": "purchase", "value": "4"}, {"action_type": "offsite_conversion.fb_pixel_purchase", "value": "4"},
                {"action_type": "lead", "value": "9"},
                {"action_type": "offsite_conversion.fb_pixel_complete_registration", "value": "5"},
                {"action_type": "onsite_conversion.messaging_conversation_started_7d", "value": "11"}
            ],
            "action_values": [{"action_type": "purchase", "value": "200.00"}, {"action_type": "offsite_conversion.fb_pixel_complete_registration", "value": "25.00"}],
            "date_start": "2026-01-12"
        }]});
        let read = |actions: &[&str]| {
            let actions: Vec<String> = actions.iter().map(|a| a.to_string()).collect();
            let page = read_insights(
                &ok(row.clone()),
                &account("EUR"),
                &ConversionRule::from_actions(&actions),
            )
            .unwrap();
            let m = page.items[0].metrics;
            (m.conversions, m.conversion_value_micros)
        };
        // Default: purchases and leads.
        assert_eq!(read(&["purchase", "lead"]), (13.0, 200_000_000));
        assert_eq!(
            ConversionRule::default(),
            ConversionRule::from_actions(&["purchase".into(), "lead".into()])
        );
        // Purchases only.
        assert_eq!(read(&["purchase"]), (4.0, 200_000_000));
        // Registrations (read through the pixel type of the family) and a raw action type.
        assert_eq!(
            read(&[
                "complete_registration",
                "onsite_conversion.messaging_conversation_started_7d"
            ]),
            (16.0, 25_000_000)
        );
    }

    #[test]
    fn last_page_has_no_next_even_with_an_after_cursor() {
        let last =
            json!({"data": [], "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}});
        let page = read_insights(&ok(last), &account("EUR"), &ConversionRule::default()).unwrap();
        assert_eq!(page.next_cursor, None);
        // A next URL without cursors object: its `after` is used.
        let only_next = json!({"data": [], "paging": {"next": "https://graph.facebook.com/v24.0/act_1/insights?limit=500&after=QWJj"}});
        let page =
            read_insights(&ok(only_next), &account("EUR"), &ConversionRule::default()).unwrap();
        assert_eq!(page.next_cursor.as_deref(), Some("QWJj"));
        assert!(read_insights(
            &ok(json!({"data": [{"campaign_id": "1"}]})),
            &account("EUR"),
            &ConversionRule::default()
        )
        .is_err());
    }

    #[test]
    fn campaigns_parse_budgets_in_minor_units_per_currency() {
        let body = json!({"data": [
            {"id": "1201", "name": "CBO diario", "status": "ACTIVE", "daily_budget": "5000", "budget_remaining": "850",
             "objective": "OUTCOME_SALES", "start_time": "2026-01-05T09:00:00+0100"},
            {"id": "1202", "name": "Lifetime", "status": "PAUSED", "lifetime_budget": "150000", "daily_budget": "0", "budget_remaining": "42000",
             "objective": "OUTCOME_LEADS", "start_time": "2026-01-01T00:00:00-0800", "stop_time": "2026-01-31T23:59:59-0800"},
            {"id": "1203", "name": "ABO", "status": "ARCHIVED", "budget_remaining": "0"}
        ]});
        let page = read_campaigns(&ok(body.clone()), &account("EUR")).unwrap();
        let c = &page.items;
        assert_eq!(
            (
                c[0].status,
                c[0].daily_budget_micros,
                c[0].budget_remaining_micros
            ),
            (CampaignStatus::Active, Some(50_000_000), Some(8_500_000))
        );
        assert_eq!(
            (
                c[1].status,
                c[1].daily_budget_micros,
                c[1].lifetime_budget_micros
            ),
            (CampaignStatus::Paused, None, Some(1_500_000_000))
        );
        assert_eq!(
            (
                c[2].status,
                c[2].daily_budget_micros,
                c[2].budget_remaining_micros
            ),
            (CampaignStatus::Archived, None, None)
        );
        assert_eq!(
            (
                c[0].objective.as_deref(),
                c[0].start_date.map(|d| d.to_string()),
                c[0].end_date
            ),
            (Some("OUTCOME_SALES"), Some("2026-01-05".to_string()), None)
        );
        assert_eq!(
            (
                c[1].start_date.map(|d| d.to_string()),
                c[1].end_date.map(|d| d.to_string())
            ),
            (
                Some("2026-01-01".to_string()),
                Some("2026-01-31".to_string())
            )
        );
        assert_eq!((c[2].objective.as_deref(), c[2].start_date), (None, None));
        assert_eq!(page.next_cursor, None);
        // Yen has no minor unit: 5000 is ¥5,000.
        let yen = read_campaigns(&ok(body), &account("JPY")).unwrap();
        assert_eq!(yen.items[0].daily_budget_micros, Some(5_000_000_000));
    }

    #[test]
    fn errors_are_classified() {
        let meta_error = |code: i64, sub: Option<i64>| json!({"error": {"message": "x", "type": "OAuthException", "code": code, "error_subcode": sub, "fbtrace_id": "AbC"}});
        assert!(matches!(
            read_meta_response(&err(400, meta_error(80004, Some(2446079)))),
            Err(ApiFailure::RateLimited { .. })
        ));
        assert!(matches!(
            read_meta_response(&err(400, meta_error(17, None))),
            Err(ApiFailure::RateLimited { .. })
        ));
        assert!(matches!(
            read_meta_response(&err(400, meta_error(613, None))),
            Err(ApiFailure::RateLimited { .. })
        ));
        assert!(matches!(
            read_meta_response(&err(400, meta_error(4, None))),
            Err(ApiFailure::RateLimited { .. })
        ));
        match read_meta_response(&err(400, meta_error(190, Some(463)))) {
            Err(ApiFailure::AuthInvalid { reason }) => {
                assert!(reason.contains("190/463"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_meta_response(&err(403, meta_error(200, None))),
            Err(ApiFailure::AuthInvalid { .. })
        ));
        assert!(matches!(
            read_meta_response(&err(400, meta_error(100, None))),
            Err(ApiFailure::Permanent { .. })
        ));
        assert!(matches!(
            read_meta_response(&err(500, meta_error(2, None))),
            Err(ApiFailure::Retryable { .. })
        ));
        assert!(matches!(
            read_meta_response(&InboundResponse::no_answer("timeout")),
            Err(ApiFailure::Retryable { .. })
        ));
        assert!(matches!(
            read_meta_response(&err(401, json!("nope"))),
            Err(ApiFailure::AuthInvalid { .. })
        ));
        let limited = InboundResponse {
            status: 429,
            retry_after: Some("120".into()),
            body: String::new(),
        };
        assert_eq!(
            read_meta_response(&limited).unwrap_err(),
            ApiFailure::RateLimited {
                reason: "HTTP 429: ".into(),
                retry_after_secs: Some(120)
            }
        );
    }

    #[test]
    fn call_budget_allows_200_calls_per_sliding_hour() {
        let t0 = 1_768_456_800;
        let mut budget = CallBudget::default();
        assert_eq!(budget.remaining(t0), 200);
        for i in 0..200 {
            budget.record(t0 + i * 10);
        }
        let after = t0 + 1999;
        assert_eq!(budget.remaining(after), 0);
        // The first call (t0) leaves the window at t0 + 3600.
        assert_eq!(budget.available_at(after), t0 + 3600);
        assert_eq!(budget.remaining(t0 + 3600), 1);
        assert_eq!(budget.remaining(t0 + 3600 + 995), 100);
        budget.record(t0 + 7200);
        assert_eq!(budget.calls.len(), 1, "old calls are forgotten");
        assert_eq!(budget.available_at(t0 + 7200), t0 + 7200);
    }
}
