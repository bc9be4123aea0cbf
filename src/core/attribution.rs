//! Attribution: where a visit came from (its touchpoint), and how a conversion's credit is shared
//! among the touchpoints that preceded it (`GET /api/v1/attribution`).
//!
//! What is stored, and why it stays cheap (the per-event budget is ≤ $3 per million events, a
//! D1 row write being $1 per million): nothing on the beacon path. The queue consumer, which
//! already writes each event's row, adds
//! - a touchpoint only for an event that *lands*: its page URL carries a campaign signal (a
//!   `utm_*` parameter or a click id) or its referrer is another site; at most one row per
//!   visitor, day, channel, source, medium and campaign (an insert that finds its row writes
//!   nothing). Later events of the visit carry the stored click ids and UTM of the tag, but not in
//!   their URL, so they add no touchpoint: a visit costs one touchpoint at most;
//! - a fact per conversion-like event (lead, signup, purchase, contact, schedule, an offline
//!   conversion, or any event with a value): its name, time, value, and the touch its own click
//!   ids make (a CRM conversion with a gclid and no visitor still has one).
//!
//! The channel of a touch (rules of thumb close to GA4's default channel grouping):
//! - a click id in the URL (gclid, gbraid, wbraid, dclid, msclkid, fbclid, ttclid, li_fat_id,
//!   twclid), or a `utm_medium` of cpc, ppc, paid*, cpm, cpv, cpa, display, banner, affiliate →
//!   `paid`;
//! - `utm_medium` email, e-mail, newsletter, or a webmail referrer → `email`;
//! - `utm_medium` social, social-network, social-media, sm, or a social network referrer →
//!   `social`; `utm_medium` organic, or a search engine referrer → `organic_search`;
//! - any other UTM or external referrer → `referral`; no touchpoint at all → `direct`.
//!
//! Models, for touches t1…tn (oldest first) within the lookback window before the conversion:
//! first (all to t1), last (all to tn), linear (1/n each), time_decay (weight 2^(−age/7 days),
//! normalized), position (40 % first, 40 % last, 20 % shared by the middle; halves for two; all
//! for one). A conversion without touches is `direct`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ads::kpi::DailyMetrics;
use super::ads::micros_to_units;
use super::calendar::{Date, DateRange, SECS_PER_DAY};
use super::event::{ClickIds, Event, FieldError};
use super::platform::EventName;
use super::weburl::{query_pairs, url_host};

/// Where a visit came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Touch {
    pub channel: String,
    pub source: String,
    pub medium: String,
    pub campaign: String,
}

pub const NOT_SET: &str = "(not set)";

impl Touch {
    pub fn direct() -> Touch {
        Touch {
            channel: "direct".into(),
            source: "(direct)".into(),
            medium: "(none)".into(),
            campaign: NOT_SET.into(),
        }
    }
}

/// Click id parameters and the source they name.
const CLICK_IDS: [(&str, &str); 9] = [
    ("gclid", "google"),
    ("gbraid", "google"),
    ("wbraid", "google"),
    ("dclid", "google"),
    ("msclkid", "bing"),
    ("fbclid", "facebook"),
    ("ttclid", "tiktok"),
    ("li_fat_id", "linkedin"),
    ("twclid", "twitter"),
];

const SEARCH: [(&str, &str); 8] = [
    ("google.", "google"),
    ("bing.com", "bing"),
    ("duckduckgo.com", "duckduckgo"),
    ("search.yahoo.", "yahoo"),
    ("yandex.", "yandex"),
    ("baidu.com", "baidu"),
    ("ecosia.org", "ecosia"),
    ("search.brave.com", "brave"),
];

const SOCIAL: [(&str, &str); 12] = [
    ("facebook.com", "facebook"),
    ("instagram.com", "instagram"),
    ("t.co", "twitter"),
    ("twitter.com", "twitter"),
    ("x.com", "twitter"),
    ("linkedin.com", "linkedin"),
    ("lnkd.in", "linkedin"),
    ("tiktok.com", "tiktok"),
    ("pinterest.", "pinterest"),
    ("reddit.com", "reddit"),
    ("youtube.com", "youtube"),
    ("whatsapp.com", "whatsapp"),
];

const WEBMAIL: [&str; 4] = [
    "mail.google.com",
    "outlook.live.com",
    "mail.yahoo.com",
    "outlook.office.com",
];

/// Whether `host` is `pattern` or under it; a pattern ending in '.' matches any top-level domain
/// (`google.` matches google.es and www.google.co.uk).
fn host_is(host: &str, pattern: &str) -> bool {
    let under = |h: &str| {
        h == pattern.trim_end_matches('.')
            || h.ends_with(&format!(".{}", pattern.trim_end_matches('.')))
    };
    if pattern.ends_with('.') {
        // Strip up to two trailing labels (es, co.uk) and compare what is left.
        let labels: Vec<&str> = host.split('.').collect();
        (1..=2.min(labels.len().saturating_sub(1)))
            .any(|n| under(&labels[..labels.len() - n].join(".")))
    } else {
        under(host)
    }
}

fn channel_of_medium(medium: &str) -> &'static str {
    let m = medium.to_ascii_lowercase();
    if m.starts_with("paid")
        || [
            "cpc",
            "ppc",
            "cpm",
            "cpv",
            "cpa",
            "display",
            "banner",
            "affiliate",
        ]
        .contains(&m.as_str())
    {
        "paid"
    } else if ["email", "e-mail", "newsletter", "e_mail"].contains(&m.as_str()) {
        "email"
    } else if [
        "social",
        "social-network",
        "social-media",
        "sm",
        "social_media",
    ]
    .contains(&m.as_str())
    {
        "social"
    } else if m == "organic" {
        "organic_search"
    } else {
        "referral"
    }
}

fn clip(s: &str) -> String {
    super::text::truncate_bytes(s.trim(), 100).to_string()
}

/// The touch an event's landing makes: from its URL's UTM parameters and click ids, else from an
/// external referrer. None for a page of the visit (no signal, or a referrer on the same site).
pub fn landing_touch(event: &Event) -> Option<Touch> {
    let url = event.url.as_deref();
    let (mut source, mut medium, mut campaign, mut click) = (None, None, None, None);
    for (k, v) in url.map(query_pairs).into_iter().flatten() {
        if v.trim().is_empty() {
            continue;
        }
        match k.as_ref() {
            "utm_source" => source = Some(clip(&v)),
            "utm_medium" => medium = Some(clip(&v)),
            "utm_campaign" => campaign = Some(clip(&v)),
            key => {
                if let Some((_, s)) = CLICK_IDS.iter().find(|(c, _)| *c == key) {
                    click = click.or(Some(*s));
                }
            }
        }
    }
    if source.is_some() || medium.is_some() || campaign.is_some() || click.is_some() {
        let channel = match (click, &medium) {
            (Some(_), _) => "paid",
            (None, Some(m)) => channel_of_medium(m),
            (None, None) => "referral",
        };
        return Some(Touch {
            channel: channel.into(),
            source: source
                .or(click.map(str::to_string))
                .unwrap_or_else(|| NOT_SET.into()),
            medium: medium.unwrap_or_else(|| {
                if click.is_some() {
                    "cpc".into()
                } else {
                    NOT_SET.into()
                }
            }),
            campaign: campaign.unwrap_or_else(|| NOT_SET.into()),
        });
    }
    let referrer = url_host(event.referrer.as_deref()?)?;
    let page = url.and_then(url_host);
    let strip_www = |h: &str| h.trim_start_matches("www.").to_string();
    if page.as_deref().map(strip_www) == Some(strip_www(&referrer)) {
        return None;
    }
    // Webmail first: mail.google.com is not a search.
    let (channel, source, medium) = if WEBMAIL.iter().any(|p| host_is(&referrer, p)) {
        ("email", referrer.clone(), "email")
    } else if let Some((_, s)) = SEARCH.iter().find(|(p, _)| host_is(&referrer, p)) {
        ("organic_search", s.to_string(), "organic")
    } else if let Some((_, s)) = SOCIAL.iter().find(|(p, _)| host_is(&referrer, p)) {
        ("social", s.to_string(), "social")
    } else {
        ("referral", strip_www(&referrer), "referral")
    };
    Some(Touch {
        channel: channel.into(),
        source: clip(&source),
        medium: medium.into(),
        campaign: NOT_SET.into(),
    })
}

/// The touch a conversion's own click ids make (an ad click the CRM recorded).
pub fn click_touch(c: &ClickIds) -> Option<Touch> {
    let source = if c.gclid.is_some() || c.gbraid.is_some() || c.wbraid.is_some() {
        "google"
    } else if c.fbc.is_some() {
        "facebook"
    } else if c.ttclid.is_some() {
        "tiktok"
    } else if c.li_fat_id.is_some() {
        "linkedin"
    } else {
        return None;
    };
    Some(Touch {
        channel: "paid".into(),
        source: source.into(),
        medium: "cpc".into(),
        campaign: NOT_SET.into(),
    })
}

/// A conversion-like event, as attribution counts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub event_id: String,
    pub name: String,
    pub visitor_id: Option<String>,
    pub at: i64,
    pub value: Option<f64>,
    pub currency: Option<String>,
    /// The conversion's own touch (its landing, or for an offline conversion its click ids).
    pub touch: Option<Touch>,
}

/// The fact of a conversion-like event: a lead, signup, purchase, contact or schedule, an offline
/// conversion, or any event with a value. None for page views, content views, carts and other
/// custom events.
pub fn fact_of(event: &Event) -> Option<Fact> {
    let value = event.custom_data.get("value").and_then(|v| v.as_f64());
    let counts = event.conversion.is_some()
        || value.is_some()
        || matches!(
            event.event_name,
            EventName::Lead
                | EventName::Signup
                | EventName::Purchase
                | EventName::Contact
                | EventName::Schedule
        );
    if !counts {
        return None;
    }
    let touch = landing_touch(event).or_else(|| {
        event
            .conversion
            .as_ref()
            .and_then(|_| click_touch(&event.click_ids))
    });
    Some(Fact {
        event_id: event.event_id.clone(),
        name: event.display_name().to_string(),
        visitor_id: event.visitor_id.clone(),
        at: event.event_time,
        value,
        currency: event
            .custom_data
            .get("currency")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        touch,
    })
}

/// The day a time falls on (days since 1970-01-01, UTC): touchpoints are kept one per day.
pub fn day_of(at: i64) -> i64 {
    at.div_euclid(SECS_PER_DAY)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Model {
    First,
    Last,
    Linear,
    TimeDecay,
    Position,
}

impl Model {
    pub const ALL: [Model; 5] = [
        Model::First,
        Model::Last,
        Model::Linear,
        Model::TimeDecay,
        Model::Position,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Model::First => "first",
            Model::Last => "last",
            Model::Linear => "linear",
            Model::TimeDecay => "time_decay",
            Model::Position => "position",
        }
    }

    pub fn parse(s: &str) -> Option<Model> {
        Model::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// time_decay's half-life: a touch a week older than another gets half its weight.
pub const HALF_LIFE_SECS: f64 = 7.0 * SECS_PER_DAY as f64;

/// Each touch's share of one conversion (summing to 1), for touches at `times` (oldest first)
/// before a conversion at `at`.
pub fn weights(model: Model, times: &[i64], at: i64) -> Vec<f64> {
    let n = times.len();
    if n == 0 {
        return Vec::new();
    }
    let mut w = vec![0.0; n];
    match model {
        Model::First => w[0] = 1.0,
        Model::Last => w[n - 1] = 1.0,
        Model::Linear => w.iter_mut().for_each(|x| *x = 1.0 / n as f64),
        Model::TimeDecay => {
            let raw: Vec<f64> = times
                .iter()
                .map(|t| 0.5f64.powf((at - t).max(0) as f64 / HALF_LIFE_SECS))
                .collect();
            let total: f64 = raw.iter().sum();
            for (x, r) in w.iter_mut().zip(raw) {
                *x = r / total;
            }
        }
        Model::Position => match n {
            1 => w[0] = 1.0,
            2 => {
                w[0] = 0.5;
                w[1] = 0.5;
            }
            _ => {
                w[0] = 0.4;
                w[n - 1] = 0.4;
                for x in &mut w[1..n - 1] {
                    *x = 0.2 / (n - 2) as f64;
                }
            }
        },
    }
    w
}

/// A stored touchpoint of a visitor.
#[derive(Debug, Clone, PartialEq)]
pub struct Touchpoint {
    pub visitor_id: String,
    pub at: i64,
    pub touch: Touch,
}

/// The report's parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportQuery {
    pub model: Model,
    pub from: i64,
    /// Exclusive.
    pub to: i64,
    pub conversion: String,
    pub lookback_secs: i64,
}

/// Spend of a campaign in the report's period (from the synced ads metrics).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignSpend {
    pub campaign_id: String,
    pub campaign_name: String,
    pub spend: f64,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Credit {
    pub conversions: f64,
    pub revenue: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    #[serde(flatten)]
    pub key: BTreeMap<&'static str, String>,
    pub conversions: f64,
    pub revenue: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spend: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpa: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roas: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub model: &'static str,
    pub conversion: String,
    pub conversions: u64,
    pub revenue: f64,
    /// The conversions' currency, or `mixed` when they are in several (revenue then adds them as
    /// they are, and ROAS is not computed).
    pub currency: Option<String>,
    pub by_channel: Vec<Row>,
    pub by_source_medium: Vec<Row>,
    pub by_campaign: Vec<Row>,
}

/// The default lookback window, and the longest a tenant may set (the Google Ads click window).
pub const DEFAULT_LOOKBACK_DAYS: u32 = 30;
pub const MAX_LOOKBACK_DAYS: u32 = 90;
/// The longest period one report covers.
pub const MAX_REPORT_DAYS: i64 = 366;

/// `PUT /api/v1/attribution/settings {lookback_days}`.
pub fn parse_settings(body: &Value) -> Result<u32, FieldError> {
    body.get("lookback_days")
        .and_then(Value::as_u64)
        .filter(|d| (1..=u64::from(MAX_LOOKBACK_DAYS)).contains(d))
        .map(|d| d as u32)
        .ok_or_else(|| {
            FieldError::new(
                "lookback_days",
                "must be a whole number of days from 1 to 90",
            )
        })
}

/// `model` (first|last|linear|time_decay|position, default last), `from` and `to` (YYYY-MM-DD,
/// inclusive; the last 30 days by default), `conversion` (an event name, default purchase).
pub fn parse_report_query(
    q: &BTreeMap<String, String>,
    now: i64,
    lookback_days: u32,
) -> Result<(ReportQuery, DateRange), FieldError> {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let model = match get("model") {
        None => Model::Last,
        Some(m) => Model::parse(m).ok_or_else(|| {
            FieldError::new(
                "model",
                "must be one of first, last, linear, time_decay, position",
            )
        })?,
    };
    let date = |k: &str| -> Result<Option<Date>, FieldError> {
        get(k)
            .map(|v| Date::parse(v).ok_or_else(|| FieldError::new(k, "must be a date YYYY-MM-DD")))
            .transpose()
    };
    let today = Date::from_unix(now);
    let to = date("to")?.unwrap_or(today);
    let from = date("from")?.unwrap_or(to.add_days(-29));
    let range =
        DateRange::new(from, to).ok_or_else(|| FieldError::new("to", "must not be before from"))?;
    if range.len_days() > MAX_REPORT_DAYS {
        return Err(FieldError::new("from", "a report covers at most 366 days"));
    }
    let conversion = get("conversion").unwrap_or("purchase");
    let name = EventName::parse(conversion);
    let conversion = if name == EventName::Custom {
        let valid = conversion.len() <= 40
            && conversion
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(FieldError::new(
                "conversion",
                "must be an event name such as purchase, lead or qualified_lead",
            ));
        }
        conversion.to_string()
    } else {
        name.as_str().to_string()
    };
    Ok((
        ReportQuery {
            model,
            from: from.start_unix(),
            to: to.add_days(1).start_unix(),
            conversion,
            lookback_secs: i64::from(lookback_days) * SECS_PER_DAY,
        },
        range,
    ))
}

/// Spend per campaign over synced campaign-days (all accounts and platforms).
pub fn campaign_spend(rows: &[DailyMetrics]) -> Vec<CampaignSpend> {
    let mut by: BTreeMap<(String, String), CampaignSpend> = BTreeMap::new();
    for r in rows {
        let e = by
            .entry((r.campaign_id.clone(), r.currency.clone()))
            .or_insert_with(|| CampaignSpend {
                campaign_id: r.campaign_id.clone(),
                campaign_name: r.campaign_name.clone(),
                spend: 0.0,
                currency: r.currency.clone(),
            });
        e.spend += micros_to_units(r.metrics.spend_micros);
    }
    by.into_values().collect()
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Shares each fact's credit among its visitor's touchpoints (those within the lookback window
/// before it, oldest first, the conversion's own touch last) by `q.model`, and sums the credit
/// per channel, per source/medium and per campaign; campaigns with spend get CPA and ROAS.
pub fn report(
    q: &ReportQuery,
    facts: &[Fact],
    touchpoints: &[Touchpoint],
    spend: &[CampaignSpend],
) -> Report {
    let mut by_visitor: BTreeMap<&str, Vec<&Touchpoint>> = BTreeMap::new();
    for t in touchpoints {
        by_visitor.entry(t.visitor_id.as_str()).or_default().push(t);
    }
    for list in by_visitor.values_mut() {
        list.sort_by_key(|t| t.at);
    }
    let mut credit: BTreeMap<Touch, Credit> = BTreeMap::new();
    let (mut count, mut revenue) = (0u64, 0.0);
    let mut currencies: Vec<&str> = Vec::new();
    for f in facts
        .iter()
        .filter(|f| f.name == q.conversion && f.at >= q.from && f.at < q.to)
    {
        count += 1;
        let value = f.value.unwrap_or(0.0);
        revenue += value;
        if let Some(c) = f.currency.as_deref() {
            if !currencies.contains(&c) {
                currencies.push(c);
            }
        }
        let mut touches: Vec<(i64, &Touch)> = f
            .visitor_id
            .as_deref()
            .and_then(|v| by_visitor.get(v))
            .into_iter()
            .flatten()
            .filter(|t| t.at <= f.at && t.at >= f.at - q.lookback_secs)
            .map(|t| (t.at, &t.touch))
            .collect();
        if let Some(own) = &f.touch {
            // The conversion's own touch, unless its landing is already the visitor's last.
            if touches.last().map(|(_, t)| *t) != Some(own) {
                touches.push((f.at, own));
            }
        }
        let direct = Touch::direct();
        if touches.is_empty() {
            touches.push((f.at, &direct));
        }
        let times: Vec<i64> = touches.iter().map(|(t, _)| *t).collect();
        for ((_, touch), w) in touches.iter().zip(weights(q.model, &times, f.at)) {
            // A touch the model gives nothing is no row of the report.
            if w == 0.0 {
                continue;
            }
            let c = credit.entry((*touch).clone()).or_default();
            c.conversions += w;
            c.revenue += w * value;
        }
    }
    let currency = match currencies.as_slice() {
        [] => None,
        [one] => Some(one.to_string()),
        _ => Some("mixed".into()),
    };
    let group = |key: &dyn Fn(&Touch) -> Vec<(&'static str, String)>| -> Vec<Row> {
        let mut sums: BTreeMap<Vec<(&'static str, String)>, Credit> = BTreeMap::new();
        for (t, c) in &credit {
            let e = sums.entry(key(t)).or_default();
            e.conversions += c.conversions;
            e.revenue += c.revenue;
        }
        let mut rows: Vec<Row> = sums
            .into_iter()
            .map(|(k, c)| Row {
                key: k.into_iter().collect(),
                conversions: c.conversions,
                revenue: c.revenue,
                spend: None,
                cpa: None,
                roas: None,
            })
            .collect();
        rows.sort_by(|a, b| b.conversions.total_cmp(&a.conversions));
        rows
    };
    let mut by_channel = group(&|t| vec![("channel", t.channel.clone())]);
    let mut by_source_medium =
        group(&|t| vec![("source", t.source.clone()), ("medium", t.medium.clone())]);
    let mut by_campaign = group(&|t| {
        vec![
            ("campaign", t.campaign.clone()),
            ("source", t.source.clone()),
            ("medium", t.medium.clone()),
        ]
    });
    for row in &mut by_campaign {
        let name = row.key.get("campaign").cloned().unwrap_or_default();
        let matching: Vec<&CampaignSpend> = spend
            .iter()
            .filter(|s| {
                name != NOT_SET
                    && (s.campaign_id == name || s.campaign_name.eq_ignore_ascii_case(&name))
            })
            .collect();
        if matching.is_empty() {
            continue;
        }
        let total: f64 = matching.iter().map(|s| s.spend).sum();
        row.spend = Some(round(total));
        if row.conversions > 0.0 {
            row.cpa = Some(round(total / row.conversions));
        }
        let same_currency = matching
            .iter()
            .all(|s| currency.as_deref() == Some(s.currency.as_str()));
        if total > 0.0 && same_currency {
            row.roas = Some(round(row.revenue / total));
        }
    }
    for row in by_channel
        .iter_mut()
        .chain(&mut by_source_medium)
        .chain(&mut by_campaign)
    {
        row.conversions = round(row.conversions);
        row.revenue = round(row.revenue);
    }
    Report {
        model: q.model.as_str(),
        conversion: q.conversion.clone(),
        conversions: count,
        revenue: round(revenue),
        currency,
        by_channel,
        by_source_medium,
        by_campaign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::event::{parse_event, IntakeContext};
    use serde_json::json;

    const DAY: i64 = SECS_PER_DAY;
    const T0: i64 = 1_760_000_000;

    fn event(v: serde_json::Value) -> Event {
        let ctx = IntakeContext {
            now: T0,
            ip: None,
            user_agent: Some("UA"),
            geo_country: None,
            trusted: false,
        };
        parse_event(&v, "", &ctx, &mut || "gen".into())
            .unwrap()
            .event
    }

    fn touch_of(url: &str, referrer: Option<&str>) -> Option<Touch> {
        let mut v = json!({"event_name": "page_view", "url": url});
        if let Some(r) = referrer {
            v["referrer"] = json!(r);
        }
        landing_touch(&event(v))
    }

    fn t(channel: &str, source: &str, medium: &str, campaign: &str) -> Touch {
        Touch {
            channel: channel.into(),
            source: source.into(),
            medium: medium.into(),
            campaign: campaign.into(),
        }
    }

    #[test]
    fn landing_touches_by_channel() {
        assert_eq!(
            touch_of("https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=x", None),
            Some(t("paid", "google", "cpc", "spring"))
        );
        assert_eq!(
            touch_of(
                "https://shop.example/?fbclid=IwAR",
                Some("https://l.facebook.com/")
            ),
            Some(t("paid", "facebook", "cpc", NOT_SET))
        );
        assert_eq!(
            touch_of(
                "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=may",
                None
            ),
            Some(t("email", "news", "email", "may"))
        );
        assert_eq!(
            touch_of("https://shop.example/p", Some("https://www.google.es/")),
            Some(t("organic_search", "google", "organic", NOT_SET))
        );
        assert_eq!(
            touch_of("https://shop.example/p", Some("https://www.instagram.com/")),
            Some(t("social", "instagram", "social", NOT_SET))
        );
        assert_eq!(
            touch_of(
                "https://shop.example/p",
                Some("https://mail.google.com/mail/u/0")
            ),
            Some(t("email", "mail.google.com", "email", NOT_SET))
        );
        assert_eq!(
            touch_of(
                "https://shop.example/p",
                Some("https://www.blog.example/post")
            ),
            Some(t("referral", "blog.example", "referral", NOT_SET))
        );
        // Pages of the visit: no URL signal, a referrer on the same site, or none.
        assert_eq!(
            touch_of("https://shop.example/cart", Some("https://shop.example/p")),
            None
        );
        assert_eq!(
            touch_of(
                "https://www.shop.example/cart",
                Some("https://shop.example/")
            ),
            None
        );
        assert_eq!(touch_of("https://shop.example/cart", None), None);
        // Stored click ids and UTM on a later event make no touch.
        let later = event(
            json!({"event_name": "page_view", "url": "https://shop.example/cart",
            "gclid": "x", "utm": {"utm_source": "google"}}),
        );
        assert_eq!(landing_touch(&later), None);
        assert!(host_is("www.google.co.uk", "google."));
        assert!(!host_is("notgoogle.com", "google."));
        assert!(!host_is("t.com", "t.co"));
    }

    #[test]
    fn facts_are_conversions_only() {
        assert!(fact_of(&event(
            json!({"event_name": "page_view", "url": "https://a.example/"})
        ))
        .is_none());
        assert!(fact_of(&event(json!({"event_name": "add_to_cart"}))).is_none());
        let p = fact_of(&event(json!({"event_name": "purchase", "visitor_id": "v1",
            "custom_data": {"value": 10, "currency": "EUR"}})))
        .unwrap();
        assert_eq!(
            (p.value, p.currency.as_deref(), p.visitor_id.as_deref()),
            (Some(10.0), Some("EUR"), Some("v1"))
        );
        assert!(fact_of(&event(
            json!({"event_name": "quiz_done", "custom_data": {"value": 1}})
        ))
        .is_some());
    }

    #[test]
    fn model_weights() {
        let times = [0, DAY, 2 * DAY, 3 * DAY];
        let at = 3 * DAY;
        assert_eq!(weights(Model::First, &times, at), vec![1.0, 0.0, 0.0, 0.0]);
        assert_eq!(weights(Model::Last, &times, at), vec![0.0, 0.0, 0.0, 1.0]);
        assert_eq!(weights(Model::Linear, &times, at), vec![0.25; 4]);
        assert_eq!(
            weights(Model::Position, &times, at),
            vec![0.4, 0.1, 0.1, 0.4]
        );
        assert_eq!(weights(Model::Position, &times[..2], at), vec![0.5, 0.5]);
        assert_eq!(weights(Model::Position, &times[..1], at), vec![1.0]);
        // Two touches 7 days apart: the older weighs half the newer.
        let w = weights(Model::TimeDecay, &[0, 7 * DAY], 7 * DAY);
        assert!(
            (w[0] - 1.0 / 3.0).abs() < 1e-9 && (w[1] - 2.0 / 3.0).abs() < 1e-9,
            "{w:?}"
        );
        assert!(weights(Model::Linear, &[], 0).is_empty());
    }

    /// The hand-made set: three purchases.
    /// - v1 (100 EUR at day 10): google cpc "spring" on day 1, facebook paid "retarget" on day 5,
    ///   newsletter email on day 9.
    /// - v2 (50 EUR at day 12): organic google on day 11 only; an older google cpc touch on day 1
    ///   is outside the 10-day lookback.
    /// - v3 (30 EUR at day 12): no touchpoints → direct.
    ///   A lead of v1 and a purchase outside [from, to) are not counted.
    pub(crate) fn fixture() -> (Vec<Fact>, Vec<Touchpoint>) {
        let fact = |id: &str, name: &str, v: &str, day: i64, value: f64| Fact {
            event_id: id.into(),
            name: name.into(),
            visitor_id: Some(v.into()),
            at: T0 + day * DAY,
            value: Some(value),
            currency: Some("EUR".into()),
            touch: None,
        };
        let tp = |v: &str, day: i64, touch: Touch| Touchpoint {
            visitor_id: v.into(),
            at: T0 + day * DAY,
            touch,
        };
        let facts = vec![
            fact("p1", "purchase", "v1", 10, 100.0),
            fact("p2", "purchase", "v2", 12, 50.0),
            fact("p3", "purchase", "v3", 12, 30.0),
            fact("l1", "lead", "v1", 9, 0.0),
            fact("p4", "purchase", "v1", 40, 999.0),
        ];
        let touchpoints = vec![
            tp("v1", 5, t("paid", "facebook", "cpc", "retarget")),
            tp("v1", 1, t("paid", "google", "cpc", "spring")),
            tp("v1", 9, t("email", "newsletter", "email", "may")),
            tp("v2", 1, t("paid", "google", "cpc", "spring")),
            tp("v2", 11, t("organic_search", "google", "organic", NOT_SET)),
        ];
        (facts, touchpoints)
    }

    fn query(model: Model) -> ReportQuery {
        ReportQuery {
            model,
            from: T0,
            to: T0 + 20 * DAY,
            conversion: "purchase".into(),
            lookback_secs: 10 * DAY,
        }
    }

    fn channel(r: &Report, name: &str) -> (f64, f64) {
        r.by_channel
            .iter()
            .find(|row| row.key["channel"] == name)
            .map_or((0.0, 0.0), |row| (row.conversions, row.revenue))
    }

    #[test]
    fn every_model_on_the_hand_made_set() {
        let (facts, tps) = fixture();
        let spend = vec![CampaignSpend {
            campaign_id: "9000".into(),
            campaign_name: "Spring".into(),
            spend: 40.0,
            currency: "EUR".into(),
        }];
        // (model, paid, email, organic_search, direct) as (conversions, revenue).
        type Credits = (f64, f64);
        let expected: [(Model, Credits, Credits, Credits, Credits); 5] = [
            (
                Model::First,
                (1.0, 100.0),
                (0.0, 0.0),
                (1.0, 50.0),
                (1.0, 30.0),
            ),
            (
                Model::Last,
                (0.0, 0.0),
                (1.0, 100.0),
                (1.0, 50.0),
                (1.0, 30.0),
            ),
            (
                Model::Linear,
                (0.6667, 66.6667),
                (0.3333, 33.3333),
                (1.0, 50.0),
                (1.0, 30.0),
            ),
            // v1's touches are 9, 5 and 1 days old: weights 2^(-9/7), 2^(-5/7), 2^(-1/7).
            (
                Model::TimeDecay,
                (0.5296, 52.9592),
                (0.4704, 47.0408),
                (1.0, 50.0),
                (1.0, 30.0),
            ),
            (
                Model::Position,
                (0.6, 60.0),
                (0.4, 40.0),
                (1.0, 50.0),
                (1.0, 30.0),
            ),
        ];
        for (model, paid, email, organic, direct) in expected {
            let r = report(&query(model), &facts, &tps, &spend);
            assert_eq!(r.conversions, 3, "{model:?}");
            assert_eq!(r.revenue, 180.0);
            assert_eq!(r.currency.as_deref(), Some("EUR"));
            assert_eq!(channel(&r, "paid"), paid, "{model:?} paid");
            assert_eq!(channel(&r, "email"), email, "{model:?} email");
            assert_eq!(channel(&r, "organic_search"), organic, "{model:?} organic");
            assert_eq!(channel(&r, "direct"), direct, "{model:?} direct");
            assert!(
                r.by_channel.iter().all(|row| row.conversions > 0.0),
                "{model:?}: no empty rows"
            );
            let total: f64 = r.by_channel.iter().map(|row| row.conversions).sum();
            assert!(
                (total - 3.0).abs() < 1e-3,
                "{model:?} credits sum to the conversions"
            );
        }
        // CPA and ROAS where the campaign has spend (matched by name, any case).
        let r = report(&query(Model::First), &facts, &tps, &spend);
        let spring = r
            .by_campaign
            .iter()
            .find(|row| row.key["campaign"] == "spring")
            .unwrap();
        assert_eq!((spring.conversions, spring.revenue), (1.0, 100.0));
        assert_eq!(
            (spring.spend, spring.cpa, spring.roas),
            (Some(40.0), Some(40.0), Some(2.5))
        );
        let linear = report(&query(Model::Linear), &facts, &tps, &spend);
        let spring = linear
            .by_campaign
            .iter()
            .find(|row| row.key["campaign"] == "spring")
            .unwrap();
        assert_eq!(spring.conversions, 0.3333);
        assert_eq!(spring.cpa, Some(120.0));
        let retarget = linear
            .by_campaign
            .iter()
            .find(|row| row.key["campaign"] == "retarget")
            .unwrap();
        assert_eq!(retarget.spend, None, "no spend synced for it");
        let sm = linear
            .by_source_medium
            .iter()
            .find(|row| row.key["source"] == "google" && row.key["medium"] == "organic")
            .unwrap();
        assert_eq!(sm.revenue, 50.0);
    }

    #[test]
    fn report_query_and_settings() {
        let q = |pairs: &[(&str, &str)]| {
            parse_report_query(
                &pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                T0,
                30,
            )
        };
        let (d, range) = q(&[]).unwrap();
        assert_eq!((d.model, d.conversion.as_str()), (Model::Last, "purchase"));
        assert_eq!(range.len_days(), 30);
        assert_eq!(d.to - d.from, 30 * DAY);
        assert_eq!(d.lookback_secs, 30 * DAY);
        let (d, _) = q(&[
            ("model", "time_decay"),
            ("from", "2025-01-01"),
            ("to", "2025-01-31"),
            ("conversion", "Lead"),
        ])
        .unwrap();
        assert_eq!((d.model, d.conversion.as_str()), (Model::TimeDecay, "lead"));
        assert_eq!(d.from, 1_735_689_600);
        for (k, v) in [
            ("model", "u_shape"),
            ("from", "2025-13-01"),
            ("to", "x"),
            ("conversion", "a b"),
        ] {
            assert_eq!(q(&[(k, v)]).unwrap_err().field, k);
        }
        assert_eq!(
            q(&[("from", "2025-02-01"), ("to", "2025-01-01")])
                .unwrap_err()
                .field,
            "to"
        );
        assert_eq!(
            parse_settings(&serde_json::json!({"lookback_days": 14})),
            Ok(14)
        );
        assert_eq!(
            parse_settings(&serde_json::json!({"lookback_days": 0}))
                .unwrap_err()
                .field,
            "lookback_days"
        );
    }

    #[test]
    fn a_conversions_own_click_counts_as_its_last_touch() {
        let f = Fact {
            event_id: "crm-1".into(),
            name: "purchase".into(),
            visitor_id: None,
            at: T0 + DAY,
            value: Some(10.0),
            currency: Some("USD".into()),
            touch: click_touch(&ClickIds {
                gclid: Some("g".into()),
                ..ClickIds::default()
            }),
        };
        let r = report(&query(Model::Last), &[f], &[], &[]);
        assert_eq!(channel(&r, "paid"), (1.0, 10.0));
        assert_eq!(r.by_source_medium[0].key["source"], "google");
    }
}
