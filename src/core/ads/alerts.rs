//! Budget and performance alerts, and the Slack-compatible webhook they are delivered with.
//!
//! Rules followed (Slack "Incoming webhooks" and Block Kit limits):
//! - budget: an active campaign with less than 20 % of its budget left
//!   (`remaining / budget < budget_remaining_fraction`). Meta reports `budget_remaining`; for
//!   Google (and Meta campaigns without it) remaining = daily budget − today's spend;
//! - low CTR (default < 1.5 %) and high CPC (default > 4.00 in the account currency) over the
//!   last 7 complete days, only with enough volume to mean something (≥ 1,000 impressions for
//!   CTR, ≥ 50 clicks for CPC);
//! - performance drop: conversions or ROAS of the last 7 complete days down by at least
//!   `performance_drop_fraction` (default 25 %) against the 7 days before, when the earlier
//!   week had at least 10 conversions; the larger of the two drops is reported;
//! - low conversion rate (default < 2.5 %) over the last 7 complete days, with at least 100
//!   clicks;
//! - budget utilization (default > 85 %): of a lifetime budget, what is spent of it (the
//!   platform's `budget_remaining`); of a daily budget, the last 7 complete days' spend against
//!   7 days of budget — a campaign that spends nearly all of its budget every day is limited by
//!   it. (The budget rule above is the intraday warning for today's budget.) Active campaigns
//!   only;
//! - ROI below zero: ROAS under `min_roas` (default 1.0: less value back than spent) over the
//!   last 7 complete days, once at least `min_spend_for_roi` (default 20.00) was spent, for
//!   campaigns that report a conversion value at all (in either week): a lead campaign without
//!   values has no ROI to judge;
//! - a single high-value conversion: a conversion worth at least `high_value_conversion` (per
//!   tenant, in the conversion's currency; off unless set) is notified once (its key is its
//!   event id);
//! - account status: an ad account the platform reports disabled, unsettled, closed, ... (the
//!   daily account check) is notified, once a day while it lasts;
//! - thresholds are per tenant ([`AlertThresholds`], defaulting to the figures above); a rule
//!   set to `None` is off;
//! - at most one alert per (rule, campaign) per 24 hours: [`throttle`] drops alerts whose key
//!   was sent less than [`ALERT_COOLDOWN_SECS`] ago, given the last send times the edge keeps;
//! - sync failures (3 consecutive, or an invalid token) become [`AlertKind::SyncFailing`];
//! - webhook body `{text, blocks}`: `text` is the notification fallback, `blocks` a header and
//!   one `section` (mrkdwn) per alert; Slack allows at most 50 blocks per message, so past 48
//!   alerts a `context` block says how many more there are; `&`, `<` and `>` are escaped in
//!   mrkdwn as Slack requires; a header's plain text is at most 150 characters.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::kpi::{latest_per_key, DailyMetrics, Metrics};
use super::schedule::JobEffect;
use super::{micros_to_units, AdsPlatform, Campaign, CampaignStatus};
use crate::core::calendar::{Date, DateRange};
use crate::core::event::Event;
use crate::core::platform::EventName;
use crate::core::text::{escape_mrkdwn, truncate_chars};

pub const ALERT_COOLDOWN_SECS: i64 = 24 * 3600;
pub const PERFORMANCE_WINDOW_DAYS: i64 = 7;
const MAX_SLACK_BLOCKS: usize = 50;
const MAX_HEADER_CHARS: usize = 150;

/// Per-tenant thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertThresholds {
    pub budget_remaining_fraction: Option<f64>,
    pub low_ctr_percent: Option<f64>,
    pub high_cpc: Option<f64>,
    pub performance_drop_fraction: Option<f64>,
    pub low_conversion_rate_percent: Option<f64>,
    pub budget_utilization_fraction: Option<f64>,
    pub min_roas: Option<f64>,
    pub high_value_conversion: Option<f64>,
    pub min_impressions_for_ctr: u64,
    pub min_clicks_for_cpc: u64,
    pub min_conversions_for_drop: f64,
    pub min_clicks_for_conversion_rate: u64,
    pub min_spend_for_roi: f64,
}

impl Default for AlertThresholds {
    fn default() -> Self {
        AlertThresholds {
            budget_remaining_fraction: Some(0.20),
            low_ctr_percent: Some(1.5),
            high_cpc: Some(4.0),
            performance_drop_fraction: Some(0.25),
            low_conversion_rate_percent: Some(2.5),
            budget_utilization_fraction: Some(0.85),
            min_roas: Some(1.0),
            high_value_conversion: None,
            min_impressions_for_ctr: 1_000,
            min_clicks_for_cpc: 50,
            min_conversions_for_drop: 10.0,
            min_clicks_for_conversion_rate: 100,
            min_spend_for_roi: 20.0,
        }
    }
}

impl AlertThresholds {
    /// The names `PUT /alerts/thresholds` takes.
    pub const NAMES: [&'static str; 13] = [
        "budget_remaining_fraction",
        "low_ctr_percent",
        "high_cpc",
        "performance_drop_fraction",
        "low_conversion_rate_percent",
        "budget_utilization_fraction",
        "min_roas",
        "high_value_conversion",
        "min_impressions_for_ctr",
        "min_clicks_for_cpc",
        "min_conversions_for_drop",
        "min_clicks_for_conversion_rate",
        "min_spend_for_roi",
    ];
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    BudgetLow,
    LowCtr,
    HighCpc,
    PerformanceDrop,
    LowConversionRate,
    BudgetUtilization,
    NegativeRoi,
    HighValueConversion,
    AccountStatus,
    SyncFailing,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BudgetLow => "budget_low",
            AlertKind::LowCtr => "low_ctr",
            AlertKind::HighCpc => "high_cpc",
            AlertKind::PerformanceDrop => "performance_drop",
            AlertKind::LowConversionRate => "low_conversion_rate",
            AlertKind::BudgetUtilization => "budget_utilization",
            AlertKind::NegativeRoi => "negative_roi",
            AlertKind::HighValueConversion => "high_value_conversion",
            AlertKind::AccountStatus => "account_status",
            AlertKind::SyncFailing => "sync_failing",
        }
    }

    fn title(self) -> &'static str {
        match self {
            AlertKind::BudgetLow => "Budget almost spent",
            AlertKind::LowCtr => "Low CTR",
            AlertKind::HighCpc => "High CPC",
            AlertKind::PerformanceDrop => "Performance drop",
            AlertKind::LowConversionRate => "Low conversion rate",
            AlertKind::BudgetUtilization => "Budget utilization",
            AlertKind::NegativeRoi => "ROI below zero",
            AlertKind::HighValueConversion => "High-value conversion",
            AlertKind::AccountStatus => "Ad account not active",
            AlertKind::SyncFailing => "Ads sync failing",
        }
    }
}

/// One alert, as stored, listed by the API and sent to the webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub kind: AlertKind,
    pub platform: Option<AdsPlatform>,
    pub account_id: String,
    pub campaign_id: Option<String>,
    pub campaign_name: Option<String>,
    /// The measured value the rule fired on (fraction, percent or amount per the rule).
    pub value: Option<f64>,
    pub threshold: Option<f64>,
    pub message: String,
    /// The conversion a high-value alert is about (its key: each conversion is told once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
}

impl Alert {
    /// Throttling key: one alert per rule and campaign (or account) per cooldown; one per
    /// conversion for a high-value one.
    pub fn key(&self) -> String {
        if let Some(event_id) = &self.event_id {
            return format!("{}:event:{event_id}", self.kind.as_str());
        }
        format!(
            "{}:{}:{}:{}",
            self.kind.as_str(),
            self.platform.map_or("-", AdsPlatform::as_str),
            self.account_id,
            self.campaign_id.as_deref().unwrap_or("-")
        )
    }
}

/// A campaign's budget and what is left of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetStatus {
    pub platform: AdsPlatform,
    pub account_id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub currency: String,
    pub budget_micros: i64,
    pub remaining_micros: i64,
}

impl BudgetStatus {
    /// For an active campaign with a budget: the platform's `budget_remaining` when it has
    /// one, else the daily budget minus `spent_today_micros`. None when neither is known.
    pub fn from_campaign(
        campaign: &Campaign,
        currency: &str,
        spent_today_micros: Option<i64>,
    ) -> Option<BudgetStatus> {
        if campaign.status != CampaignStatus::Active {
            return None;
        }
        let budget = campaign
            .daily_budget_micros
            .or(campaign.lifetime_budget_micros)?;
        let remaining = match (
            campaign.budget_remaining_micros,
            campaign.daily_budget_micros,
            spent_today_micros,
        ) {
            (Some(remaining), _, _) => remaining,
            (None, Some(daily), Some(spent)) => daily - spent,
            _ => return None,
        };
        Some(BudgetStatus {
            platform: campaign.platform,
            account_id: campaign.account_id.clone(),
            campaign_id: campaign.campaign_id.clone(),
            campaign_name: campaign.name.clone(),
            currency: currency.to_string(),
            budget_micros: budget,
            remaining_micros: remaining.max(0),
        })
    }
}

/// A campaign's last 7 complete days against the 7 before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignPerformance {
    pub platform: AdsPlatform,
    pub account_id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub currency: String,
    pub current: Metrics,
    pub previous: Metrics,
}

/// Daily rows → per-campaign windows ending yesterday (relative to `today`).
pub fn performance_windows(rows: &[DailyMetrics], today: Date) -> Vec<CampaignPerformance> {
    let current = DateRange::days_before(today, PERFORMANCE_WINDOW_DAYS);
    let previous = DateRange::days_before(current.from, PERFORMANCE_WINDOW_DAYS);
    let mut by_campaign: BTreeMap<(AdsPlatform, &str, &str), CampaignPerformance> = BTreeMap::new();
    for row in latest_per_key(rows) {
        let in_current = current.contains(row.date);
        if !in_current && !previous.contains(row.date) {
            continue;
        }
        let entry = by_campaign
            .entry((
                row.platform,
                row.account_id.as_str(),
                row.campaign_id.as_str(),
            ))
            .or_insert_with(|| CampaignPerformance {
                platform: row.platform,
                account_id: row.account_id.clone(),
                campaign_id: row.campaign_id.clone(),
                campaign_name: row.campaign_name.clone(),
                currency: row.currency.clone(),
                current: Metrics::default(),
                previous: Metrics::default(),
            });
        if in_current {
            entry.campaign_name = row.campaign_name.clone();
            entry.current.add(&row.metrics);
        } else {
            entry.previous.add(&row.metrics);
        }
    }
    by_campaign.into_values().collect()
}

fn percent(fraction: f64) -> String {
    format!("{:.0} %", fraction * 100.0)
}

fn campaign_alert(
    kind: AlertKind,
    p: &CampaignPerformance,
    value: f64,
    threshold: f64,
    message: String,
) -> Alert {
    Alert {
        kind,
        platform: Some(p.platform),
        account_id: p.account_id.clone(),
        campaign_id: Some(p.campaign_id.clone()),
        campaign_name: Some(p.campaign_name.clone()),
        value: Some(value),
        threshold: Some(threshold),
        message,
        event_id: None,
    }
}

/// Relative fall from `before` to `after` (0.3 = down 30 %); None unless both are known.
fn drop_fraction(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    match (before, after) {
        (Some(b), Some(a)) if b > 0.0 => Some((b - a) / b),
        _ => None,
    }
}

/// Every rule over the given budgets and performance windows, before throttling.
pub fn evaluate(
    thresholds: &AlertThresholds,
    budgets: &[BudgetStatus],
    performance: &[CampaignPerformance],
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if let Some(limit) = thresholds.budget_remaining_fraction {
        for b in budgets.iter().filter(|b| b.budget_micros > 0) {
            let left = b.remaining_micros as f64 / b.budget_micros as f64;
            if left < limit {
                alerts.push(Alert {
                    kind: AlertKind::BudgetLow,
                    platform: Some(b.platform),
                    account_id: b.account_id.clone(),
                    campaign_id: Some(b.campaign_id.clone()),
                    campaign_name: Some(b.campaign_name.clone()),
                    value: Some(left),
                    threshold: Some(limit),
                    message: format!(
                        "{} of the budget left ({:.2} of {:.2} {})",
                        percent(left),
                        micros_to_units(b.remaining_micros),
                        micros_to_units(b.budget_micros),
                        b.currency
                    ),
                    event_id: None,
                });
            }
        }
    }
    for p in performance {
        let kpis = p.current.kpis();
        if let (Some(limit), Some(ctr)) = (thresholds.low_ctr_percent, kpis.ctr_percent) {
            if p.current.impressions >= thresholds.min_impressions_for_ctr && ctr < limit {
                let message =
                    format!("CTR {ctr:.2} % over the last 7 days (alert below {limit:.2} %)");
                alerts.push(campaign_alert(AlertKind::LowCtr, p, ctr, limit, message));
            }
        }
        if let (Some(limit), Some(cpc)) = (thresholds.high_cpc, kpis.cpc) {
            if p.current.clicks >= thresholds.min_clicks_for_cpc && cpc > limit {
                let message = format!(
                    "CPC {cpc:.2} {} over the last 7 days (alert above {limit:.2})",
                    p.currency
                );
                alerts.push(campaign_alert(AlertKind::HighCpc, p, cpc, limit, message));
            }
        }
        if let (Some(limit), Some(rate)) = (
            thresholds.low_conversion_rate_percent,
            kpis.conversion_rate_percent,
        ) {
            if p.current.clicks >= thresholds.min_clicks_for_conversion_rate && rate < limit {
                let message = format!(
                    "Conversion rate {rate:.2} % over the last 7 days: {} conversions from {} clicks (alert below {limit:.2} %)",
                    p.current.conversions, p.current.clicks
                );
                alerts.push(campaign_alert(
                    AlertKind::LowConversionRate,
                    p,
                    rate,
                    limit,
                    message,
                ));
            }
        }
        if let (Some(limit), Some(roas)) = (thresholds.min_roas, kpis.roas) {
            let spend = micros_to_units(p.current.spend_micros);
            let tracks_value =
                p.current.conversion_value_micros > 0 || p.previous.conversion_value_micros > 0;
            if tracks_value && spend >= thresholds.min_spend_for_roi && roas < limit {
                let message = format!(
                    "ROAS {roas:.2} over the last 7 days: {spend:.2} {currency} spent for {:.2} {currency} of conversion value (alert below {limit:.2})",
                    micros_to_units(p.current.conversion_value_micros),
                    currency = p.currency
                );
                alerts.push(campaign_alert(
                    AlertKind::NegativeRoi,
                    p,
                    roas,
                    limit,
                    message,
                ));
            }
        }
        if let Some(limit) = thresholds.performance_drop_fraction {
            if p.previous.conversions < thresholds.min_conversions_for_drop {
                continue;
            }
            let before = p.previous.kpis();
            let drops = [
                (
                    "conversions",
                    drop_fraction(Some(p.previous.conversions), Some(p.current.conversions)),
                ),
                ("ROAS", drop_fraction(before.roas, kpis.roas)),
            ];
            let worst = drops
                .into_iter()
                .filter_map(|(metric, d)| d.map(|d| (metric, d)))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((metric, drop)) = worst.filter(|(_, d)| *d >= limit) {
                let message = format!(
                    "{metric} down {} against the previous 7 days",
                    percent(drop)
                );
                alerts.push(campaign_alert(
                    AlertKind::PerformanceDrop,
                    p,
                    drop,
                    limit,
                    message,
                ));
            }
        }
    }
    alerts
}

/// How much of its budget a campaign uses: of a lifetime budget, what is spent of it; of a daily
/// budget, the last 7 complete days' spend against 7 days of budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetUse {
    pub platform: AdsPlatform,
    pub account_id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub currency: String,
    pub budget_micros: i64,
    pub spent_micros: i64,
    pub lifetime: bool,
}

impl BudgetUse {
    /// For an active campaign with a budget: `spent_7d_micros` is its spend over the last 7
    /// complete days (the performance window).
    pub fn from_campaign(
        campaign: &Campaign,
        currency: &str,
        spent_7d_micros: i64,
    ) -> Option<BudgetUse> {
        if campaign.status != CampaignStatus::Active {
            return None;
        }
        let (budget, spent, lifetime) = match (
            campaign.lifetime_budget_micros,
            campaign.budget_remaining_micros,
            campaign.daily_budget_micros,
        ) {
            (Some(total), Some(remaining), _) => (total, (total - remaining).max(0), true),
            (_, _, Some(daily)) => (daily * PERFORMANCE_WINDOW_DAYS, spent_7d_micros, false),
            _ => return None,
        };
        (budget > 0).then(|| BudgetUse {
            platform: campaign.platform,
            account_id: campaign.account_id.clone(),
            campaign_id: campaign.campaign_id.clone(),
            campaign_name: campaign.name.clone(),
            currency: currency.to_string(),
            budget_micros: budget,
            spent_micros: spent,
            lifetime,
        })
    }
}

/// The budget utilization rule.
pub fn evaluate_utilization(thresholds: &AlertThresholds, uses: &[BudgetUse]) -> Vec<Alert> {
    let Some(limit) = thresholds.budget_utilization_fraction else {
        return Vec::new();
    };
    uses.iter()
        .filter_map(|u| {
            let used = u.spent_micros as f64 / u.budget_micros as f64;
            (used > limit).then(|| Alert {
                kind: AlertKind::BudgetUtilization,
                platform: Some(u.platform),
                account_id: u.account_id.clone(),
                campaign_id: Some(u.campaign_id.clone()),
                campaign_name: Some(u.campaign_name.clone()),
                value: Some((used * 10_000.0).round() / 10_000.0),
                threshold: Some(limit),
                message: format!(
                    "{} of the {} used ({:.2} of {:.2} {}; alert above {})",
                    percent(used),
                    if u.lifetime {
                        "lifetime budget"
                    } else {
                        "daily budget over the last 7 days"
                    },
                    micros_to_units(u.spent_micros),
                    micros_to_units(u.budget_micros),
                    u.currency,
                    percent(limit)
                ),
                event_id: None,
            })
        })
        .collect()
}

/// One conversion as the high-value rule reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversion {
    pub event_id: String,
    pub event_name: String,
    pub value: f64,
    pub currency: Option<String>,
}

impl Conversion {
    /// An accepted event as a conversion: an outcome (purchase, lead, sign-up, booking, contact,
    /// or a custom event) carrying a positive `custom_data.value`. Browsing events (page views,
    /// product views, carts) are intent, not conversions.
    pub fn of_event(event: &Event) -> Option<Conversion> {
        let outcome = !matches!(
            event.event_name,
            EventName::PageView | EventName::ViewContent | EventName::AddToCart
        );
        let value = event.custom_data.get("value").and_then(Value::as_f64)?;
        (outcome && value > 0.0).then(|| Conversion {
            event_id: event.event_id.clone(),
            event_name: event.display_name().to_string(),
            value,
            currency: event
                .custom_data
                .get("currency")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// The high-value conversion rule: conversions worth at least the tenant's threshold.
pub fn evaluate_conversions(
    thresholds: &AlertThresholds,
    conversions: &[Conversion],
) -> Vec<Alert> {
    let Some(limit) = thresholds.high_value_conversion else {
        return Vec::new();
    };
    conversions
        .iter()
        .filter(|c| c.value.is_finite() && c.value >= limit)
        .map(|c| {
            let amount = match c.currency.as_deref() {
                Some(cur) => format!("{:.2} {cur}", c.value),
                None => format!("{:.2}", c.value),
            };
            Alert {
                kind: AlertKind::HighValueConversion,
                platform: None,
                account_id: String::new(),
                campaign_id: None,
                campaign_name: None,
                value: Some(c.value),
                threshold: Some(limit),
                message: format!(
                    "{} worth {amount} (event {}; alert at {limit:.2} or more)",
                    c.event_name, c.event_id
                ),
                event_id: Some(c.event_id.clone()),
            }
        })
        .collect()
}

/// An ad account the platform reports as not active (see `accounts::AccountStatus`).
pub fn account_status_alert(
    platform: AdsPlatform,
    account_id: &str,
    account_name: &str,
    status: &str,
    detail: &str,
) -> Alert {
    Alert {
        kind: AlertKind::AccountStatus,
        platform: Some(platform),
        account_id: account_id.to_string(),
        campaign_id: None,
        campaign_name: None,
        value: None,
        threshold: None,
        message: format!(
            "The ad account {account_name} ({account_id}) is {status} at the platform ({detail}): its ads may not be running."
        ),
        event_id: None,
    }
}

/// Drops alerts whose key was sent within the cooldown; `last_sent` maps [`Alert::key`] to the
/// Unix time it was last sent. The caller records `now` for every alert it then sends.
pub fn throttle(alerts: Vec<Alert>, last_sent: &BTreeMap<String, i64>, now: i64) -> Vec<Alert> {
    alerts
        .into_iter()
        .filter(|a| {
            last_sent
                .get(&a.key())
                .is_none_or(|&at| now - at >= ALERT_COOLDOWN_SECS)
        })
        .collect()
}

/// The scheduler's `Notify` effect as an alert; other effects are not alerts.
pub fn sync_failure_alert(effect: &JobEffect, platform: Option<AdsPlatform>) -> Option<Alert> {
    let JobEffect::Notify {
        account_id,
        kind,
        consecutive_errors,
        last_error,
    } = effect
    else {
        return None;
    };
    Some(Alert {
        kind: AlertKind::SyncFailing,
        platform,
        account_id: account_id.clone(),
        campaign_id: None,
        campaign_name: None,
        value: Some(f64::from(*consecutive_errors)),
        threshold: None,
        message: format!(
            "{} failed {consecutive_errors} time(s) in a row; the account is marked in error. Last error: {last_error}",
            kind.as_str()
        ),
        event_id: None,
    })
}

/// The platform's name as a person reads it.
fn platform_label(p: Option<AdsPlatform>) -> &'static str {
    match p {
        Some(AdsPlatform::Meta) => "Meta",
        Some(AdsPlatform::Google) => "Google Ads",
        None => "Ads",
    }
}

/// `{text, blocks}` for a Slack incoming webhook (and any Slack-compatible receiver).
pub fn slack_payload(tenant_name: &str, alerts: &[Alert]) -> Value {
    let text = format!("pixelgate: {} ads alert(s) for {tenant_name}", alerts.len());
    let header = truncate_chars(&text, MAX_HEADER_CHARS);
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": header}})];
    let room = MAX_SLACK_BLOCKS - 2;
    for alert in alerts.iter().take(room) {
        let subject = match (&alert.campaign_name, alert.account_id.is_empty()) {
            (Some(name), _) => format!("{} · {name}", platform_label(alert.platform)),
            (None, true) => "Conversions".to_string(),
            (None, false) => format!(
                "{} · account {}",
                platform_label(alert.platform),
                alert.account_id
            ),
        };
        let body = format!(
            "*{}* — {}\n{}",
            alert.kind.title(),
            escape_mrkdwn(&subject),
            escape_mrkdwn(&alert.message)
        );
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": body}}));
    }
    if alerts.len() > room {
        let more = format!(
            "…and {} more alert(s) in the dashboard",
            alerts.len() - room
        );
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]}));
    }
    json!({ "text": text, "blocks": blocks })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ads::schedule::JobKind;
    use crate::core::ads::units_to_micros;

    const NOW: i64 = 1_768_456_800;

    fn campaign(daily: Option<f64>, remaining: Option<f64>, status: CampaignStatus) -> Campaign {
        Campaign {
            platform: AdsPlatform::Meta,
            account_id: "1234567890".into(),
            campaign_id: "120210000000001".into(),
            name: "Rebajas enero".into(),
            status,
            daily_budget_micros: daily.map(units_to_micros),
            lifetime_budget_micros: None,
            budget_remaining_micros: remaining.map(units_to_micros),
            objective: None,
            start_date: None,
            end_date: None,
        }
    }

    use crate::core::ads::kpi::test_metrics as m;

    fn perf(current: Metrics, previous: Metrics) -> CampaignPerformance {
        CampaignPerformance {
            platform: AdsPlatform::Google,
            account_id: "9876543210".into(),
            campaign_id: "2001".into(),
            campaign_name: "Search - Marca".into(),
            currency: "EUR".into(),
            current,
            previous,
        }
    }

    fn kinds(alerts: &[Alert]) -> Vec<AlertKind> {
        alerts.iter().map(|a| a.kind).collect()
    }

    #[test]
    fn budget_below_20_percent_alerts() {
        let t = AlertThresholds::default();
        let low = BudgetStatus::from_campaign(
            &campaign(Some(50.0), Some(6.0), CampaignStatus::Active),
            "EUR",
            None,
        )
        .unwrap();
        let fine = BudgetStatus::from_campaign(
            &campaign(Some(50.0), Some(10.0), CampaignStatus::Active),
            "EUR",
            None,
        )
        .unwrap();
        let alerts = evaluate(&t, &[low, fine], &[]);
        assert_eq!(alerts.len(), 1, "exactly 20 % left is not below 20 %");
        assert_eq!(alerts[0].kind, AlertKind::BudgetLow);
        assert_eq!(alerts[0].value, Some(0.12));
        assert_eq!(
            alerts[0].message,
            "12 % of the budget left (6.00 of 50.00 EUR)"
        );
        assert_eq!(
            alerts[0].key(),
            "budget_low:meta:1234567890:120210000000001"
        );
    }

    #[test]
    fn budget_status_from_spend_and_inactive_campaigns() {
        // Google: no budget_remaining, so daily budget minus today's spend.
        let mut google = campaign(Some(20.0), None, CampaignStatus::Active);
        google.platform = AdsPlatform::Google;
        let status =
            BudgetStatus::from_campaign(&google, "EUR", Some(units_to_micros(17.5))).unwrap();
        assert_eq!(
            (status.budget_micros, status.remaining_micros),
            (20_000_000, 2_500_000)
        );
        // Overspent days clamp at zero left.
        let over =
            BudgetStatus::from_campaign(&google, "EUR", Some(units_to_micros(21.0))).unwrap();
        assert_eq!(over.remaining_micros, 0);
        assert_eq!(BudgetStatus::from_campaign(&google, "EUR", None), None);
        assert_eq!(
            BudgetStatus::from_campaign(
                &campaign(Some(50.0), Some(1.0), CampaignStatus::Paused),
                "EUR",
                None
            ),
            None
        );
        assert_eq!(
            BudgetStatus::from_campaign(
                &campaign(None, Some(1.0), CampaignStatus::Active),
                "EUR",
                None
            ),
            None
        );
    }

    #[test]
    fn low_ctr_and_high_cpc_need_volume() {
        let t = AlertThresholds::default();
        // CTR 1.2 %, CPC 4.50 €: both fire.
        let bad = perf(
            m(25_000, 300, 1_350.0, 20.0, 2_000.0),
            m(25_000, 300, 1_350.0, 20.0, 2_000.0),
        );
        let alerts = evaluate(&t, &[], &[bad]);
        assert_eq!(kinds(&alerts), [AlertKind::LowCtr, AlertKind::HighCpc]);
        assert_eq!(
            alerts[0].message,
            "CTR 1.20 % over the last 7 days (alert below 1.50 %)"
        );
        assert_eq!(
            alerts[1].message,
            "CPC 4.50 EUR over the last 7 days (alert above 4.00)"
        );
        // Same ratios on too little traffic: silent.
        let tiny = perf(m(500, 6, 27.0, 0.0, 0.0), Metrics::default());
        assert!(evaluate(&t, &[], &[tiny]).is_empty());
        // Rules can be switched off per tenant.
        let off = AlertThresholds {
            low_ctr_percent: None,
            high_cpc: None,
            ..AlertThresholds::default()
        };
        let bad = perf(
            m(25_000, 300, 1_350.0, 20.0, 2_000.0),
            m(25_000, 300, 1_350.0, 20.0, 2_000.0),
        );
        assert!(evaluate(&off, &[], &[bad]).is_empty());
    }

    #[test]
    fn performance_drop_reports_the_larger_fall() {
        // The conversion rate and ROI rules are tested on their own below.
        let t = AlertThresholds {
            low_conversion_rate_percent: None,
            min_roas: None,
            ..AlertThresholds::default()
        };
        // Conversions 40 → 28 (−30 %), ROAS 4.0 → 2.0 (−50 %).
        let dropped = perf(
            m(50_000, 1_500, 1_000.0, 28.0, 2_000.0),
            m(50_000, 1_500, 1_000.0, 40.0, 4_000.0),
        );
        let alerts = evaluate(&t, &[], &[dropped]);
        assert_eq!(kinds(&alerts), [AlertKind::PerformanceDrop]);
        assert_eq!(alerts[0].value, Some(0.5));
        assert_eq!(
            alerts[0].message,
            "ROAS down 50 % against the previous 7 days"
        );
        // −20 %: below the 25 % threshold.
        let mild = perf(
            m(50_000, 1_500, 1_000.0, 32.0, 3_200.0),
            m(50_000, 1_500, 1_000.0, 40.0, 4_000.0),
        );
        assert!(evaluate(&t, &[], &[mild]).is_empty());
        // A previous week with 6 conversions is too thin to judge.
        let thin = perf(
            m(50_000, 1_500, 1_000.0, 1.0, 50.0),
            m(50_000, 1_500, 1_000.0, 6.0, 600.0),
        );
        assert!(evaluate(&t, &[], &[thin]).is_empty());
    }

    #[test]
    fn windows_split_the_last_two_weeks() {
        let today = Date::parse("2026-01-15").unwrap();
        let row = |date: &str, conversions: f64| DailyMetrics {
            platform: AdsPlatform::Meta,
            account_id: "1234567890".into(),
            campaign_id: "c1".into(),
            campaign_name: "C1".into(),
            currency: "EUR".into(),
            date: Date::parse(date).unwrap(),
            metrics: m(1_000, 10, 10.0, conversions, 0.0),
            reach: None,
            frequency: None,
        };
        let rows = vec![
            row("2026-01-14", 5.0),   // current (yesterday)
            row("2026-01-08", 4.0),   // current (first day)
            row("2026-01-07", 3.0),   // previous (last day)
            row("2026-01-01", 2.0),   // previous (first day)
            row("2025-12-31", 100.0), // too old
            row("2026-01-15", 100.0), // today, incomplete
        ];
        let windows = performance_windows(&rows, today);
        assert_eq!(windows.len(), 1);
        assert_eq!(windows[0].current.conversions, 9.0);
        assert_eq!(windows[0].previous.conversions, 5.0);
        assert_eq!(windows[0].current.impressions, 2_000);
    }

    #[test]
    fn at_most_one_alert_per_campaign_per_24_hours() {
        let budget = BudgetStatus::from_campaign(
            &campaign(Some(50.0), Some(2.0), CampaignStatus::Active),
            "EUR",
            None,
        )
        .unwrap();
        let alerts = evaluate(&AlertThresholds::default(), &[budget], &[]);
        let key = alerts[0].key();
        let mut sent = BTreeMap::new();
        assert_eq!(throttle(alerts.clone(), &sent, NOW).len(), 1);
        sent.insert(key, NOW);
        assert!(
            throttle(alerts.clone(), &sent, NOW + 4 * 3600).is_empty(),
            "the next sync 4 h later stays quiet"
        );
        assert!(throttle(alerts.clone(), &sent, NOW + ALERT_COOLDOWN_SECS - 1).is_empty());
        assert_eq!(throttle(alerts, &sent, NOW + ALERT_COOLDOWN_SECS).len(), 1);
    }

    #[test]
    fn sync_failures_become_alerts() {
        let notify = JobEffect::Notify {
            account_id: "1234567890".into(),
            kind: JobKind::DailyMetricsSync,
            consecutive_errors: 3,
            last_error: "HTTP 503: <html>".into(),
        };
        let alert = sync_failure_alert(&notify, Some(AdsPlatform::Meta)).unwrap();
        assert_eq!(alert.kind, AlertKind::SyncFailing);
        assert_eq!(alert.key(), "sync_failing:meta:1234567890:-");
        assert!(alert
            .message
            .starts_with("daily_metrics_sync failed 3 time(s) in a row"));
        assert_eq!(
            sync_failure_alert(
                &JobEffect::MarkAccountActive {
                    account_id: "1".into()
                },
                None
            ),
            None
        );
    }

    #[test]
    fn slack_payload_shape_escaping_and_block_limit() {
        let budget = BudgetStatus::from_campaign(
            &campaign(Some(50.0), Some(6.0), CampaignStatus::Active),
            "EUR",
            None,
        )
        .unwrap();
        let mut alerts = evaluate(&AlertThresholds::default(), &[budget], &[]);
        alerts[0].campaign_name = Some("Q1 <Leads> & más".into());
        let payload = slack_payload("Acme Clínica", &alerts);
        assert_eq!(
            payload,
            json!({
                "text": "pixelgate: 1 ads alert(s) for Acme Clínica",
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": "pixelgate: 1 ads alert(s) for Acme Clínica"}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "*Budget almost spent* — Meta · Q1 &lt;Leads&gt; &amp; más\n12 % of the budget left (6.00 of 50.00 EUR)"}}
                ]
            })
        );
        let many: Vec<Alert> = (0..60).map(|_| alerts[0].clone()).collect();
        let payload = slack_payload("Acme", &many);
        let blocks = payload["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 50);
        assert_eq!(
            blocks[49]["elements"][0]["text"],
            "…and 12 more alert(s) in the dashboard"
        );
        let long_name = "x".repeat(300);
        let header = &slack_payload(&long_name, &alerts)["blocks"][0]["text"]["text"];
        assert_eq!(header.as_str().unwrap().chars().count(), 150);
    }

    #[test]
    fn low_conversion_rate_needs_100_clicks() {
        let t = AlertThresholds::default();
        // 400 clicks, 6 conversions: 1.5 % < 2.5 %. CTR 2 %, CPC 0.75, ROAS 3: nothing else.
        let low = perf(m(20_000, 400, 300.0, 6.0, 900.0), Metrics::default());
        let alerts = evaluate(&t, &[], &[low]);
        assert_eq!(kinds(&alerts), [AlertKind::LowConversionRate]);
        assert_eq!(alerts[0].value, Some(1.5));
        assert_eq!(
            alerts[0].message,
            "Conversion rate 1.50 % over the last 7 days: 6 conversions from 400 clicks (alert below 2.50 %)"
        );
        assert_eq!(
            alerts[0].key(),
            "low_conversion_rate:google:9876543210:2001"
        );
        // The same rate on 99 clicks is not judged; exactly 2.5 % is not below.
        let thin = perf(m(5_000, 99, 70.0, 1.0, 300.0), Metrics::default());
        let at_limit = perf(m(20_000, 400, 300.0, 10.0, 900.0), Metrics::default());
        assert!(evaluate(&t, &[], &[thin, at_limit]).is_empty());
    }

    #[test]
    fn roi_below_zero_for_campaigns_that_report_value() {
        let t = AlertThresholds::default();
        // 250.00 spent for 150.00 of value: ROAS 0.6 < 1.
        let losing = perf(m(10_000, 300, 250.0, 12.0, 150.0), Metrics::default());
        let alerts = evaluate(&t, &[], &[losing]);
        assert_eq!(kinds(&alerts), [AlertKind::NegativeRoi]);
        assert_eq!(alerts[0].value, Some(0.6));
        assert_eq!(
            alerts[0].message,
            "ROAS 0.60 over the last 7 days: 250.00 EUR spent for 150.00 EUR of conversion value (alert below 1.00)"
        );
        // No value this week but some the week before: still a value campaign, ROAS 0 (and its
        // ROAS fell 100 % from 3.6, which the drop rule reports too).
        let dried = perf(
            m(10_000, 300, 250.0, 12.0, 0.0),
            m(10_000, 300, 250.0, 12.0, 900.0),
        );
        assert_eq!(
            kinds(&evaluate(&t, &[], &[dried])),
            [AlertKind::NegativeRoi, AlertKind::PerformanceDrop]
        );
        // A lead campaign that never reports a value, and a small spend, are not judged.
        let leads = perf(m(10_000, 300, 250.0, 12.0, 0.0), Metrics::default());
        let small = perf(m(10_000, 300, 19.99, 12.0, 5.0), Metrics::default());
        assert!(evaluate(&t, &[], &[leads, small]).is_empty());
    }

    #[test]
    fn budget_utilization_of_daily_and_lifetime_budgets() {
        let t = AlertThresholds::default();
        // 20.00 a day: 140.00 over 7 days, 126.00 spent = 90 %.
        let daily = campaign(Some(20.0), None, CampaignStatus::Active);
        let used = BudgetUse::from_campaign(&daily, "EUR", units_to_micros(126.0)).unwrap();
        let alerts = evaluate_utilization(&t, &[used]);
        assert_eq!(kinds(&alerts), [AlertKind::BudgetUtilization]);
        assert_eq!(alerts[0].value, Some(0.9));
        assert_eq!(
            alerts[0].message,
            "90 % of the daily budget over the last 7 days used (126.00 of 140.00 EUR; alert above 85 %)"
        );
        // A lifetime budget of 1,000.00 with 100.00 left: 90 % used.
        let mut lifetime = campaign(None, Some(100.0), CampaignStatus::Active);
        lifetime.lifetime_budget_micros = Some(units_to_micros(1_000.0));
        let used = BudgetUse::from_campaign(&lifetime, "EUR", 0).unwrap();
        assert!(used.lifetime);
        assert_eq!(
            evaluate_utilization(&t, &[used])[0].message,
            "90 % of the lifetime budget used (900.00 of 1000.00 EUR; alert above 85 %)"
        );
        // Exactly 85 %, a paused campaign, a campaign without budget: nothing.
        let at_limit = BudgetUse::from_campaign(&daily, "EUR", units_to_micros(119.0)).unwrap();
        assert!(evaluate_utilization(&t, &[at_limit]).is_empty());
        let paused = campaign(Some(20.0), None, CampaignStatus::Paused);
        assert_eq!(BudgetUse::from_campaign(&paused, "EUR", 1), None);
        assert_eq!(
            BudgetUse::from_campaign(&campaign(None, None, CampaignStatus::Active), "EUR", 1),
            None
        );
        let off = AlertThresholds {
            budget_utilization_fraction: None,
            ..t
        };
        let used = BudgetUse::from_campaign(&daily, "EUR", units_to_micros(140.0)).unwrap();
        assert!(evaluate_utilization(&off, &[used]).is_empty());
    }

    #[test]
    fn a_high_value_conversion_is_told_once() {
        let conversions = [
            Conversion {
                event_id: "ord-1001".into(),
                event_name: "purchase".into(),
                value: 1_250.0,
                currency: Some("EUR".into()),
            },
            Conversion {
                event_id: "ord-1002".into(),
                event_name: "purchase".into(),
                value: 499.99,
                currency: Some("EUR".into()),
            },
        ];
        assert!(
            evaluate_conversions(&AlertThresholds::default(), &conversions).is_empty(),
            "off until the tenant sets a threshold"
        );
        let t = AlertThresholds {
            high_value_conversion: Some(500.0),
            ..AlertThresholds::default()
        };
        let alerts = evaluate_conversions(&t, &conversions);
        assert_eq!(kinds(&alerts), [AlertKind::HighValueConversion]);
        assert_eq!(
            alerts[0].message,
            "purchase worth 1250.00 EUR (event ord-1001; alert at 500.00 or more)"
        );
        assert_eq!(alerts[0].key(), "high_value_conversion:event:ord-1001");
        let mut sent = BTreeMap::new();
        sent.insert(alerts[0].key(), NOW);
        assert!(throttle(alerts.clone(), &sent, NOW + 3600).is_empty());
        let payload = slack_payload("Acme", &alerts);
        assert_eq!(
            payload["blocks"][1]["text"]["text"],
            "*High-value conversion* — Conversions\npurchase worth 1250.00 EUR (event ord-1001; alert at 500.00 or more)"
        );
    }

    #[test]
    fn tracked_outcomes_with_a_value_are_conversions() {
        let event = |name: &str, custom: Value| {
            let mut e: Event = serde_json::from_value(json!({
                "event_id": "ev-1", "event_name": "custom", "event_time": NOW, "click_ids": {}, "client": {}
            }))
            .unwrap();
            e.event_name = EventName::parse(name);
            if e.event_name == EventName::Custom {
                e.custom_name = Some(name.into());
            }
            e.custom_data = custom.as_object().cloned().unwrap_or_default();
            e
        };
        let c = Conversion::of_event(&event(
            "purchase",
            json!({"value": 1250.0, "currency": "EUR"}),
        ))
        .unwrap();
        assert_eq!(
            (
                c.event_id.as_str(),
                c.event_name.as_str(),
                c.value,
                c.currency.as_deref()
            ),
            ("ev-1", "purchase", 1250.0, Some("EUR"))
        );
        assert_eq!(
            Conversion::of_event(&event("deal_won", json!({"value": 9000}))).map(|c| c.event_name),
            Some("deal_won".to_string())
        );
        assert_eq!(
            Conversion::of_event(&event("add_to_cart", json!({"value": 1250.0}))),
            None
        );
        assert_eq!(Conversion::of_event(&event("purchase", json!({}))), None);
        assert_eq!(
            Conversion::of_event(&event("lead", json!({"value": 0}))),
            None
        );
    }

    #[test]
    fn account_status_alert_once_a_day_per_account() {
        let a = account_status_alert(
            AdsPlatform::Meta,
            "1234567890",
            "Tienda",
            "disabled",
            "account_status 2",
        );
        assert_eq!(a.key(), "account_status:meta:1234567890:-");
        assert_eq!(
            a.message,
            "The ad account Tienda (1234567890) is disabled at the platform (account_status 2): its ads may not be running."
        );
    }
}
