//! The campaigns report (`GET /api/v1/ads/campaigns`) and one campaign's daily metrics
//! (`GET /api/v1/ads/campaigns/{id}/metrics?from&to`).
//!
//! Rules followed:
//! - a campaign is listed with what its platform says about it (objective, status, budgets in
//!   currency units, start and end dates) and its summary over the range, KPIs and score
//!   included ([`super::kpi::Summary`]); a synced campaign without activity in the range is
//!   listed with zeros, not left out;
//! - filters: `account_id` (ours or the platform's), `platform`, `status`; highest spend first,
//!   then by name;
//! - a campaign's daily metrics have one entry per day of the range (zeros on days without a
//!   row), with reach and frequency where the platform reported them;
//! - amounts are in the account's currency, named with them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::kpi::{latest_per_key, DailyMetrics, Metrics, Summary};
use super::score::ScoreTargets;
use super::{micros_to_units, AdsPlatform, Campaign, CampaignStatus};
use crate::core::calendar::{Date, DateRange};

/// A synced campaign and the currency of its account.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    pub campaign: Campaign,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignView {
    pub platform: AdsPlatform,
    pub account_id: String,
    pub campaign_id: String,
    pub name: String,
    pub status: CampaignStatus,
    pub objective: Option<String>,
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
    pub currency: String,
    pub daily_budget: Option<f64>,
    pub lifetime_budget: Option<f64>,
    pub budget_remaining: Option<f64>,
    #[serde(flatten)]
    pub summary: Summary,
}

type Key<'a> = (AdsPlatform, &'a str, &'a str);

fn key(r: &DailyMetrics) -> Key<'_> {
    (r.platform, r.account_id.as_str(), r.campaign_id.as_str())
}

fn view(record: &CampaignRecord, metrics: &Metrics, targets: &ScoreTargets) -> CampaignView {
    let c = &record.campaign;
    let units = |m: Option<i64>| m.map(micros_to_units);
    CampaignView {
        platform: c.platform,
        account_id: c.account_id.clone(),
        campaign_id: c.campaign_id.clone(),
        name: c.name.clone(),
        status: c.status,
        objective: c.objective.clone(),
        start_date: c.start_date,
        end_date: c.end_date,
        currency: record.currency.clone(),
        daily_budget: units(c.daily_budget_micros),
        lifetime_budget: units(c.lifetime_budget_micros),
        budget_remaining: units(c.budget_remaining_micros),
        summary: Summary::scored(metrics, targets),
    }
}

/// The listed campaigns with their summaries over `range` (rows outside it are ignored).
pub fn campaign_views(
    campaigns: &[CampaignRecord],
    rows: &[DailyMetrics],
    range: DateRange,
    status: Option<CampaignStatus>,
    targets: &ScoreTargets,
) -> Vec<CampaignView> {
    let mut sums: BTreeMap<Key, Metrics> = BTreeMap::new();
    for r in latest_per_key(rows) {
        if range.contains(r.date) {
            sums.entry(key(r)).or_default().add(&r.metrics);
        }
    }
    let mut out: Vec<CampaignView> = campaigns
        .iter()
        .filter(|c| status.is_none_or(|s| c.campaign.status == s))
        .map(|c| {
            let k = (
                c.campaign.platform,
                c.campaign.account_id.as_str(),
                c.campaign.campaign_id.as_str(),
            );
            view(c, &sums.get(&k).copied().unwrap_or_default(), targets)
        })
        .collect();
    out.sort_by(|a, b| {
        b.summary
            .spend
            .total_cmp(&a.summary.spend)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// One day of a campaign: its counters, KPIs (and score), reach and frequency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignDay {
    pub date: Date,
    #[serde(flatten)]
    pub summary: Summary,
    pub reach: Option<u64>,
    pub frequency: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignMetrics {
    pub from: Date,
    pub to: Date,
    pub campaign: CampaignView,
    pub daily: Vec<CampaignDay>,
}

/// The campaign's days of `range` (rows of other campaigns are ignored).
pub fn campaign_metrics(
    record: &CampaignRecord,
    rows: &[DailyMetrics],
    range: DateRange,
    targets: &ScoreTargets,
) -> CampaignMetrics {
    let c = &record.campaign;
    let wanted = (c.platform, c.account_id.as_str(), c.campaign_id.as_str());
    let days: BTreeMap<Date, &DailyMetrics> = latest_per_key(rows)
        .into_iter()
        .filter(|r| key(r) == wanted && range.contains(r.date))
        .map(|r| (r.date, r))
        .collect();
    let total = Metrics::sum(days.values().map(|r| &r.metrics));
    let daily = (0..range.len_days())
        .map(|i| {
            let date = range.from.add_days(i);
            let row = days.get(&date);
            CampaignDay {
                date,
                summary: Summary::scored(&row.map(|r| r.metrics).unwrap_or_default(), targets),
                reach: row.and_then(|r| r.reach),
                frequency: row.and_then(|r| r.frequency),
            }
        })
        .collect();
    CampaignMetrics {
        from: range.from,
        to: range.to,
        campaign: view(record, &total, targets),
        daily,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ads::kpi::test_metrics as m;
    use crate::core::ads::units_to_micros;
    use serde_json::json;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    fn record(id: &str, name: &str, status: CampaignStatus) -> CampaignRecord {
        CampaignRecord {
            campaign: Campaign {
                platform: AdsPlatform::Meta,
                account_id: "1234567890".into(),
                campaign_id: id.into(),
                name: name.into(),
                status,
                daily_budget_micros: Some(units_to_micros(50.0)),
                lifetime_budget_micros: None,
                budget_remaining_micros: Some(units_to_micros(12.5)),
                objective: Some("OUTCOME_SALES".into()),
                start_date: Some(d("2026-01-01")),
                end_date: None,
            },
            currency: "EUR".into(),
        }
    }

    fn row(id: &str, date: &str, metrics: Metrics, reach: Option<u64>) -> DailyMetrics {
        DailyMetrics {
            platform: AdsPlatform::Meta,
            account_id: "1234567890".into(),
            campaign_id: id.into(),
            campaign_name: id.into(),
            currency: "EUR".into(),
            date: d(date),
            metrics,
            reach,
            frequency: reach.map(|r| metrics.impressions as f64 / r as f64),
        }
    }

    #[test]
    fn campaigns_with_attributes_summaries_and_filters() {
        let campaigns = [
            record("c1", "Rebajas", CampaignStatus::Active),
            record("c2", "Marca", CampaignStatus::Paused),
            record("c3", "Sin gasto", CampaignStatus::Active),
        ];
        let rows = [
            row(
                "c1",
                "2026-01-10",
                m(4_000, 80, 40.0, 2.0, 120.0),
                Some(3_000),
            ),
            row(
                "c1",
                "2026-01-11",
                m(6_000, 70, 60.0, 3.0, 280.0),
                Some(4_000),
            ),
            row("c2", "2026-01-11", m(10_000, 300, 150.0, 15.0, 600.0), None),
            row("c1", "2026-01-01", m(9_999, 999, 999.0, 9.0, 9.0), None), // outside
        ];
        let range = DateRange::new(d("2026-01-10"), d("2026-01-11")).unwrap();
        let all = campaign_views(&campaigns, &rows, range, None, &ScoreTargets::default());
        let ids: Vec<&str> = all.iter().map(|c| c.campaign_id.as_str()).collect();
        assert_eq!(ids, ["c2", "c1", "c3"], "highest spend first");
        let c1 = &all[1];
        assert_eq!(
            (
                c1.summary.impressions,
                c1.summary.clicks,
                c1.summary.spend,
                c1.summary.conversions
            ),
            (10_000, 150, 100.0, 5.0)
        );
        // CTR 1.5 % → 0.75; CR 3.333 % → 0.667; ROAS 4 → 1: (15 + 13.33 + 30) / 70 = 83.3 → 83 B.
        let score = c1.summary.score.unwrap();
        assert_eq!((score.efficiency_score, score.grade), (83, 'B'));
        assert_eq!(
            (c1.daily_budget, c1.budget_remaining, c1.lifetime_budget),
            (Some(50.0), Some(12.5), None)
        );
        let json = serde_json::to_value(c1).unwrap();
        assert_eq!(json["objective"], "OUTCOME_SALES");
        assert_eq!(json["start_date"], "2026-01-01");
        assert_eq!(json["end_date"], json!(null));
        assert_eq!(json["status"], "active");
        assert_eq!(json["currency"], "EUR");
        assert_eq!(json["grade"], "B");
        let idle = &all[2];
        assert_eq!((idle.summary.spend, idle.summary.score), (0.0, None));

        let paused = campaign_views(
            &campaigns,
            &rows,
            range,
            Some(CampaignStatus::Paused),
            &ScoreTargets::default(),
        );
        assert_eq!(paused.len(), 1);
        assert_eq!(paused[0].campaign_id, "c2");
    }

    #[test]
    fn one_campaign_day_by_day_with_reach() {
        let rows = [
            row(
                "c1",
                "2026-01-10",
                m(4_000, 80, 40.0, 2.0, 120.0),
                Some(3_200),
            ),
            row(
                "c1",
                "2026-01-12",
                m(6_000, 70, 60.0, 3.0, 280.0),
                Some(4_000),
            ),
            row("c2", "2026-01-12", m(1, 1, 1.0, 1.0, 1.0), None),
        ];
        let range = DateRange::new(d("2026-01-10"), d("2026-01-12")).unwrap();
        let r = campaign_metrics(
            &record("c1", "Rebajas", CampaignStatus::Active),
            &rows,
            range,
            &ScoreTargets::default(),
        );
        assert_eq!(r.daily.len(), 3);
        assert_eq!(
            (
                r.daily[0].reach,
                r.daily[0].frequency,
                r.daily[0].summary.kpis.ctr_percent
            ),
            (Some(3_200), Some(1.25), Some(2.0))
        );
        assert_eq!(
            (
                r.daily[1].summary.impressions,
                r.daily[1].reach,
                r.daily[1].summary.kpis.ctr_percent
            ),
            (0, None, None),
            "a day without a row is zeros"
        );
        assert_eq!(r.campaign.summary.spend, 100.0);
        assert_eq!(r.campaign.summary.impressions, 10_000);
    }
}
