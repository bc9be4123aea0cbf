//! Daily campaign metrics, derived KPIs and the unified cross-platform reports
//! (`GET /api/v1/ads/metrics?from&to&platform`, `GET /api/v1/ads/spend`).
//!
//! Rules followed:
//! - CTR = clicks / impressions × 100; CPC = spend / clicks; CPM = spend / impressions × 1000;
//!   conversion rate = conversions / clicks × 100; CPA = spend / conversions;
//!   ROAS = conversion value / spend. A zero denominator gives `None` (shown as null), never
//!   0, infinity or NaN.
//! - aggregates are sums of the raw counts; blended KPIs are computed from those sums, never
//!   by averaging per-campaign or per-day ratios (an average of ROAS values weighs a 5 € campaign
//!   like a 5,000 € one).
//! - one row per (platform, account, campaign, day): a rerun of a sync overwrites its rows, and
//!   the report keeps the last row of a key it is given twice, so nothing is counted twice.
//! - amounts in different currencies are never added together: every report is split by
//!   currency (one entry in the usual single-currency case).
//! - month-to-date spend runs from the 1st of the current UTC month to today inclusive; its
//!   blended cost per lead is the blended CPA (`blended_cpa`), since leads count as conversions.
//! - KPIs are rounded to 4 decimals for presentation; money totals are exact micros converted to
//!   units;
//! - every summary (total, platform, account, campaign) carries the efficiency score and grade of
//!   [`super::score`] against the tenant's targets;
//! - reach and frequency are kept per campaign-day where the platform gives them (Meta): reach is
//!   a count of unique people and cannot be summed across days or campaigns, so no summary shows
//!   one;
//! - the daily series has one point per day of the range, zeros included, so a chart's axis is
//!   continuous.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::metrics::round4;
pub use super::metrics::{Kpis, Metrics};
use super::score::{score, Score, ScoreTargets};
use super::{micros_to_units, AdsPlatform};
use crate::core::calendar::{Date, DateRange};

/// One campaign on one day: a row of the daily metrics table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyMetrics {
    pub platform: AdsPlatform,
    pub account_id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub currency: String,
    pub date: Date,
    pub metrics: Metrics,
    /// Unique people reached that day, where the platform reports it.
    #[serde(default)]
    pub reach: Option<u64>,
    /// Average impressions per person reached that day, where the platform reports it.
    #[serde(default)]
    pub frequency: Option<f64>,
}

impl DailyMetrics {
    /// The storage key: upserting by it makes a rerun of the same day overwrite, never add.
    pub fn upsert_key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.platform.as_str(),
            self.account_id,
            self.campaign_id,
            self.date
        )
    }
}

/// Keeps the last row of every (platform, account, campaign, day), in key order.
pub fn latest_per_key(rows: &[DailyMetrics]) -> Vec<&DailyMetrics> {
    let mut by_key: BTreeMap<String, &DailyMetrics> = BTreeMap::new();
    for row in rows {
        by_key.insert(row.upsert_key(), row);
    }
    by_key.into_values().collect()
}

/// Counters in currency units plus their KPIs, as the API shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub impressions: u64,
    pub clicks: u64,
    pub spend: f64,
    pub conversions: f64,
    pub conversion_value: f64,
    #[serde(flatten)]
    pub kpis: Kpis,
    #[serde(flatten)]
    pub score: Option<Score>,
}

impl Summary {
    pub fn scored(m: &Metrics, targets: &ScoreTargets) -> Summary {
        Summary {
            impressions: m.impressions,
            clicks: m.clicks,
            spend: micros_to_units(m.spend_micros),
            conversions: round4(m.conversions),
            conversion_value: micros_to_units(m.conversion_value_micros),
            kpis: m.kpis(),
            score: score(m, targets),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub platform: AdsPlatform,
    pub account_id: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// One day of the series: the day's totals and each platform's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayPoint {
    pub date: Date,
    pub impressions: u64,
    pub clicks: u64,
    pub spend: f64,
    pub conversions: f64,
    pub conversion_value: f64,
    pub platforms: BTreeMap<AdsPlatform, DayCounters>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DayCounters {
    pub spend: f64,
    pub clicks: u64,
    pub conversions: f64,
    pub conversion_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformSummary {
    pub platform: AdsPlatform,
    #[serde(flatten)]
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSummary {
    pub platform: AdsPlatform,
    pub account_id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    #[serde(flatten)]
    pub summary: Summary,
}

/// Everything reported in one currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrencyReport {
    pub currency: String,
    pub totals: Summary,
    pub platforms: Vec<PlatformSummary>,
    pub accounts: Vec<AccountSummary>,
    /// Highest spend first.
    pub campaigns: Vec<CampaignSummary>,
    /// Every day of the range, oldest first.
    pub daily: Vec<DayPoint>,
}

/// `GET /api/v1/ads/metrics?from&to&platform`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    pub from: Date,
    pub to: Date,
    pub platform: Option<AdsPlatform>,
    pub currencies: Vec<CurrencyReport>,
}

/// Rows of `range` (and of `platform`, when given) → the unified cross-platform report.
pub fn build_report(
    rows: &[DailyMetrics],
    range: DateRange,
    platform: Option<AdsPlatform>,
    targets: &ScoreTargets,
) -> MetricsReport {
    let selected = latest_per_key(rows)
        .into_iter()
        .filter(|r| range.contains(r.date) && platform.is_none_or(|p| r.platform == p));
    let currencies = by_currency(selected)
        .into_iter()
        .map(|(currency, rows)| currency_report(currency, &rows, range, targets))
        .collect();
    MetricsReport {
        from: range.from,
        to: range.to,
        platform,
        currencies,
    }
}

fn by_currency<'a>(
    rows: impl Iterator<Item = &'a DailyMetrics>,
) -> BTreeMap<String, Vec<&'a DailyMetrics>> {
    let mut groups: BTreeMap<String, Vec<&DailyMetrics>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.currency.clone()).or_default().push(row);
    }
    groups
}

fn sum_by<'a, K: Ord>(
    rows: &[&'a DailyMetrics],
    key: impl Fn(&'a DailyMetrics) -> K,
) -> BTreeMap<K, Metrics> {
    let mut sums: BTreeMap<K, Metrics> = BTreeMap::new();
    for row in rows {
        sums.entry(key(row)).or_default().add(&row.metrics);
    }
    sums
}

fn currency_report(
    currency: String,
    rows: &[&DailyMetrics],
    range: DateRange,
    targets: &ScoreTargets,
) -> CurrencyReport {
    let totals = Metrics::sum(rows.iter().map(|r| &r.metrics));
    let platforms = sum_by(rows, |r| r.platform)
        .into_iter()
        .map(|(platform, m)| PlatformSummary {
            platform,
            summary: Summary::scored(&m, targets),
        })
        .collect();
    let accounts = sum_by(rows, |r| (r.platform, r.account_id.as_str()))
        .into_iter()
        .map(|((platform, account_id), m)| AccountSummary {
            platform,
            account_id: account_id.to_string(),
            summary: Summary::scored(&m, targets),
        })
        .collect();
    // The latest name wins: campaigns get renamed, their id does not change.
    let mut names: BTreeMap<(AdsPlatform, &str, &str), (Date, &str)> = BTreeMap::new();
    for r in rows {
        let entry = names
            .entry((r.platform, r.account_id.as_str(), r.campaign_id.as_str()))
            .or_insert((r.date, r.campaign_name.as_str()));
        if r.date >= entry.0 {
            *entry = (r.date, r.campaign_name.as_str());
        }
    }
    let mut campaigns: Vec<CampaignSummary> = sum_by(rows, |r| {
        (r.platform, r.account_id.as_str(), r.campaign_id.as_str())
    })
    .into_iter()
    .map(|(key, m)| CampaignSummary {
        platform: key.0,
        account_id: key.1.to_string(),
        campaign_id: key.2.to_string(),
        campaign_name: names.get(&key).map(|n| n.1).unwrap_or_default().to_string(),
        summary: Summary::scored(&m, targets),
    })
    .collect();
    campaigns.sort_by(|a, b| b.summary.spend.total_cmp(&a.summary.spend));
    CurrencyReport {
        currency,
        totals: Summary::scored(&totals, targets),
        platforms,
        accounts,
        campaigns,
        daily: daily_series(rows, range),
    }
}

fn daily_series(rows: &[&DailyMetrics], range: DateRange) -> Vec<DayPoint> {
    let by_day = sum_by(rows, |r| r.date);
    let by_day_platform = sum_by(rows, |r| (r.date, r.platform));
    (0..range.len_days())
        .map(|i| {
            let date = range.from.add_days(i);
            let m = by_day.get(&date).copied().unwrap_or_default();
            let platforms = by_day_platform
                .range((date, AdsPlatform::Meta)..=(date, AdsPlatform::Google))
                .map(|((_, p), m)| {
                    (
                        *p,
                        DayCounters {
                            spend: micros_to_units(m.spend_micros),
                            clicks: m.clicks,
                            conversions: round4(m.conversions),
                            conversion_value: micros_to_units(m.conversion_value_micros),
                        },
                    )
                })
                .collect();
            DayPoint {
                date,
                impressions: m.impressions,
                clicks: m.clicks,
                spend: micros_to_units(m.spend_micros),
                conversions: round4(m.conversions),
                conversion_value: micros_to_units(m.conversion_value_micros),
                platforms,
            }
        })
        .collect()
}

/// Month-to-date spend in one currency: the total and per platform, conversions, and the
/// blended CPA and ROAS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurrencySpend {
    pub currency: String,
    pub total_spend: f64,
    pub spend_by_platform: BTreeMap<AdsPlatform, f64>,
    pub total_conversions: f64,
    pub total_conversion_value: f64,
    pub blended_cpa: Option<f64>,
    pub blended_roas: Option<f64>,
}

/// `GET /api/v1/ads/spend`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpendReport {
    /// `YYYY-MM`.
    pub period: String,
    pub from: Date,
    pub to: Date,
    pub currencies: Vec<CurrencySpend>,
}

pub fn month_to_date_spend(rows: &[DailyMetrics], today: Date) -> SpendReport {
    let range = DateRange {
        from: today.first_of_month(),
        to: today,
    };
    let currencies = build_report(rows, range, None, &ScoreTargets::default())
        .currencies
        .into_iter()
        .map(|c| CurrencySpend {
            currency: c.currency,
            total_spend: c.totals.spend,
            spend_by_platform: c
                .platforms
                .iter()
                .map(|p| (p.platform, p.summary.spend))
                .collect(),
            total_conversions: c.totals.conversions,
            total_conversion_value: c.totals.conversion_value,
            blended_cpa: c.totals.kpis.cpa,
            blended_roas: c.totals.kpis.roas,
        })
        .collect();
    SpendReport {
        period: today.month_label(),
        from: range.from,
        to: range.to,
        currencies,
    }
}

/// Metrics from amounts in currency units, for the ads tests.
#[cfg(test)]
pub(crate) fn test_metrics(
    impressions: u64,
    clicks: u64,
    spend: f64,
    conversions: f64,
    value: f64,
) -> Metrics {
    Metrics {
        impressions,
        clicks,
        spend_micros: super::units_to_micros(spend),
        conversions,
        conversion_value_micros: super::units_to_micros(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    use super::test_metrics as m;

    fn row(platform: AdsPlatform, campaign: &str, date: &str, metrics: Metrics) -> DailyMetrics {
        DailyMetrics {
            platform,
            account_id: if platform == AdsPlatform::Meta {
                "1234567890".into()
            } else {
                "9876543210".into()
            },
            campaign_id: campaign.into(),
            campaign_name: format!("Campaign {campaign}"),
            currency: "EUR".into(),
            date: d(date),
            metrics,
            reach: None,
            frequency: None,
        }
    }

    #[test]
    fn kpis_of_a_realistic_day() {
        // 12,500 impressions, 310 clicks, 245.80 € spent, 14 purchases worth 1,023.40 €.
        let k = m(12_500, 310, 245.80, 14.0, 1023.40).kpis();
        assert_eq!(k.ctr_percent, Some(2.48));
        assert_eq!(k.cpc, Some(0.7929));
        assert_eq!(k.cpm, Some(19.664));
        assert_eq!(k.conversion_rate_percent, Some(4.5161));
        assert_eq!(k.cpa, Some(17.5571));
        assert_eq!(k.roas, Some(4.1635));
    }

    #[test]
    fn zero_denominators_give_none_not_infinity() {
        assert_eq!(Metrics::default().kpis(), Kpis::default());
        // Impressions but no click, no spend: CTR is a real 0 %, the rest undefined.
        let k = m(800, 0, 0.0, 0.0, 0.0).kpis();
        assert_eq!(k.ctr_percent, Some(0.0));
        assert_eq!(k.cpm, Some(0.0));
        assert_eq!(
            (k.cpc, k.conversion_rate_percent, k.cpa, k.roas),
            (None, None, None, None)
        );
        // Spend without conversions: CPA undefined, ROAS a real 0.
        let k = m(1000, 20, 15.0, 0.0, 0.0).kpis();
        assert_eq!((k.cpa, k.roas), (None, Some(0.0)));
    }

    #[test]
    fn blended_kpis_come_from_sums_not_averaged_ratios() {
        let small = m(1_000, 10, 5.0, 1.0, 50.0); // ROAS 10
        let large = m(100_000, 2_000, 5_000.0, 100.0, 10_000.0); // ROAS 2
        let total = Metrics::sum([&small, &large]);
        // Averaging the ratios would claim ROAS 6 and CPA 27.5; the sums say 10,050 / 5,005.
        assert_eq!(total.kpis().roas, Some(2.008));
        assert_eq!(total.kpis().cpa, Some(49.5545));
        assert_eq!(total.spend_micros, 5_005_000_000);
    }

    #[test]
    fn unified_report_totals_platforms_and_campaigns() {
        let rows = vec![
            row(
                AdsPlatform::Meta,
                "m1",
                "2026-01-13",
                m(10_000, 200, 120.50, 6.0, 480.0),
            ),
            row(
                AdsPlatform::Meta,
                "m1",
                "2026-01-14",
                m(12_000, 260, 140.25, 8.0, 655.0),
            ),
            row(
                AdsPlatform::Meta,
                "m2",
                "2026-01-14",
                m(3_000, 30, 20.00, 0.0, 0.0),
            ),
            row(
                AdsPlatform::Google,
                "g1",
                "2026-01-14",
                m(5_000, 400, 310.00, 12.5, 1_250.0),
            ),
            // Outside the range: ignored.
            row(
                AdsPlatform::Google,
                "g1",
                "2026-01-12",
                m(9_999, 999, 999.0, 99.0, 9_999.0),
            ),
        ];
        let range = DateRange::new(d("2026-01-13"), d("2026-01-14")).unwrap();
        let report = build_report(&rows, range, None, &ScoreTargets::default());
        assert_eq!(report.currencies.len(), 1);
        let eur = &report.currencies[0];
        assert_eq!(eur.currency, "EUR");
        assert_eq!(eur.totals.impressions, 30_000);
        assert_eq!(eur.totals.clicks, 890);
        assert_eq!(eur.totals.spend, 590.75);
        assert_eq!(eur.totals.conversions, 26.5);
        assert_eq!(eur.totals.conversion_value, 2_385.0);
        assert_eq!(eur.totals.kpis.cpa, Some(22.2925));
        assert_eq!(eur.totals.kpis.roas, Some(4.0372));

        let meta = &eur.platforms[0];
        assert_eq!(meta.platform, AdsPlatform::Meta);
        assert_eq!((meta.summary.clicks, meta.summary.spend), (490, 280.75));
        let google = &eur.platforms[1];
        assert_eq!(
            (google.platform, google.summary.spend),
            (AdsPlatform::Google, 310.0)
        );

        let order: Vec<&str> = eur
            .campaigns
            .iter()
            .map(|c| c.campaign_id.as_str())
            .collect();
        assert_eq!(order, ["g1", "m1", "m2"], "highest spend first");
        let m2 = &eur.campaigns[2];
        assert_eq!(
            (m2.summary.kpis.cpa, m2.summary.kpis.roas),
            (None, Some(0.0))
        );

        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["from"], "2026-01-13");
        assert_eq!(json["currencies"][0]["platforms"][0]["platform"], "meta");
        assert_eq!(json["currencies"][0]["campaigns"][2]["cpa"], json!(null));
        assert_eq!(
            json["currencies"][0]["totals"]["ctr_percent"],
            json!(2.9667)
        );
    }

    #[test]
    fn platform_filter_and_latest_campaign_name() {
        let mut renamed = row(
            AdsPlatform::Meta,
            "m1",
            "2026-01-14",
            m(100, 5, 2.0, 0.0, 0.0),
        );
        renamed.campaign_name = "Rebajas enero".into();
        let rows = vec![
            row(
                AdsPlatform::Meta,
                "m1",
                "2026-01-13",
                m(100, 5, 2.0, 0.0, 0.0),
            ),
            renamed,
            row(
                AdsPlatform::Google,
                "g1",
                "2026-01-14",
                m(100, 5, 2.0, 0.0, 0.0),
            ),
        ];
        let range = DateRange::new(d("2026-01-01"), d("2026-01-31")).unwrap();
        let report = build_report(
            &rows,
            range,
            Some(AdsPlatform::Meta),
            &ScoreTargets::default(),
        );
        let eur = &report.currencies[0];
        assert_eq!(eur.platforms.len(), 1);
        assert_eq!(eur.campaigns.len(), 1);
        assert_eq!(eur.campaigns[0].campaign_name, "Rebajas enero");
        assert_eq!(eur.totals.spend, 4.0);
    }

    #[test]
    fn a_rerun_row_overwrites_instead_of_double_counting() {
        let first = row(
            AdsPlatform::Meta,
            "m1",
            "2026-01-14",
            m(10_000, 200, 100.0, 4.0, 300.0),
        );
        // The 4-hourly refresh saw more of the same day.
        let later = row(
            AdsPlatform::Meta,
            "m1",
            "2026-01-14",
            m(14_000, 260, 150.0, 6.0, 420.0),
        );
        let range = DateRange::single(d("2026-01-14"));
        let report = build_report(&[first, later], range, None, &ScoreTargets::default());
        let totals = &report.currencies[0].totals;
        assert_eq!(
            (totals.impressions, totals.spend, totals.conversions),
            (14_000, 150.0, 6.0)
        );
    }

    #[test]
    fn currencies_are_never_added_together() {
        let mut usd = row(
            AdsPlatform::Google,
            "g9",
            "2026-01-14",
            m(1_000, 10, 50.0, 1.0, 80.0),
        );
        usd.account_id = "5550001111".into();
        usd.currency = "USD".into();
        let rows = vec![
            row(
                AdsPlatform::Meta,
                "m1",
                "2026-01-14",
                m(1_000, 10, 30.0, 1.0, 60.0),
            ),
            usd,
        ];
        let report = build_report(
            &rows,
            DateRange::single(d("2026-01-14")),
            None,
            &ScoreTargets::default(),
        );
        let totals: Vec<(&str, f64)> = report
            .currencies
            .iter()
            .map(|c| (c.currency.as_str(), c.totals.spend))
            .collect();
        assert_eq!(totals, [("EUR", 30.0), ("USD", 50.0)]);
    }

    #[test]
    fn month_to_date_spend_by_platform() {
        let rows = vec![
            // Last month: excluded.
            row(
                AdsPlatform::Meta,
                "m1",
                "2025-12-31",
                m(1, 1, 999.0, 0.0, 0.0),
            ),
            row(
                AdsPlatform::Meta,
                "m1",
                "2026-01-01",
                m(40_000, 900, 1_600.0, 40.0, 12_000.0),
            ),
            row(
                AdsPlatform::Meta,
                "m2",
                "2026-01-14",
                m(40_000, 900, 1_600.0, 20.0, 10_000.0),
            ),
            row(
                AdsPlatform::Google,
                "g1",
                "2026-01-15",
                m(30_000, 1_200, 2_220.50, 67.0, 23_600.0),
            ),
            // Tomorrow (already reported by a platform in a later timezone): excluded.
            row(
                AdsPlatform::Google,
                "g1",
                "2026-01-16",
                m(1, 1, 999.0, 0.0, 0.0),
            ),
        ];
        let spend = month_to_date_spend(&rows, d("2026-01-15"));
        assert_eq!(spend.period, "2026-01");
        assert_eq!((spend.from, spend.to), (d("2026-01-01"), d("2026-01-15")));
        let eur = &spend.currencies[0];
        assert_eq!(eur.total_spend, 5_420.5);
        assert_eq!(eur.spend_by_platform[&AdsPlatform::Meta], 3_200.0);
        assert_eq!(eur.spend_by_platform[&AdsPlatform::Google], 2_220.5);
        assert_eq!(eur.total_conversions, 127.0);
        assert_eq!(eur.total_conversion_value, 45_600.0);
        // 5,420.50 spent for 127 conversions worth 45,600: blended CPA 42.68, blended ROAS 8.41.
        assert_eq!(eur.blended_cpa, Some(42.6811));
        assert_eq!(eur.blended_roas, Some(8.4125));
        let json = serde_json::to_value(&spend).unwrap();
        assert_eq!(
            json["currencies"][0]["spend_by_platform"],
            json!({"meta": 3200.0, "google": 2220.5})
        );
    }

    #[test]
    fn accounts_scores_and_a_continuous_daily_series() {
        let rows = vec![
            row(
                AdsPlatform::Meta,
                "m1",
                "2026-01-13",
                m(10_000, 200, 100.0, 10.0, 400.0),
            ),
            row(
                AdsPlatform::Google,
                "g1",
                "2026-01-15",
                m(5_000, 100, 50.0, 2.0, 100.0),
            ),
        ];
        let range = DateRange::new(d("2026-01-13"), d("2026-01-15")).unwrap();
        let eur = &build_report(&rows, range, None, &ScoreTargets::default()).currencies[0];
        let accounts: Vec<(&str, f64)> = eur
            .accounts
            .iter()
            .map(|a| (a.account_id.as_str(), a.summary.spend))
            .collect();
        assert_eq!(accounts, [("1234567890", 100.0), ("9876543210", 50.0)]);
        // Meta: CTR 2 % → 1, CR 5 % → 1, ROAS 4 → 1: 100 (A).
        let meta = eur.platforms[0].summary.score.unwrap();
        assert_eq!((meta.efficiency_score, meta.grade), (100, 'A'));
        // Google: CTR 2 % → 1, CR 2 % → 0.4, ROAS 2 → 0.5: (20 + 8 + 15) / 70 → 61 (C).
        let google = eur.platforms[1].summary.score.unwrap();
        assert_eq!((google.efficiency_score, google.grade), (61, 'C'));
        let dates: Vec<String> = eur.daily.iter().map(|p| p.date.to_string()).collect();
        assert_eq!(dates, ["2026-01-13", "2026-01-14", "2026-01-15"]);
        assert_eq!(
            eur.daily[1].spend, 0.0,
            "a day without rows is a zero point"
        );
        assert_eq!(eur.daily[0].platforms[&AdsPlatform::Meta].spend, 100.0);
        assert!(!eur.daily[0].platforms.contains_key(&AdsPlatform::Google));
        assert_eq!(
            eur.daily[2].platforms[&AdsPlatform::Google].conversions,
            2.0
        );
        let json = serde_json::to_value(eur).unwrap();
        // Totals: CTR 2 % → 1, CR 4 % → 0.8, ROAS 3.333 → 0.833: (20 + 16 + 25) / 70 → 87 (A).
        assert_eq!(json["totals"]["efficiency_score"], 87);
        assert_eq!(json["totals"]["grade"], "A");
        assert_eq!(
            json["daily"][2]["platforms"]["google"]["spend"],
            json!(50.0)
        );
    }
}
