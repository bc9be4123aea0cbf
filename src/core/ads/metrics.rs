//! The raw counters of campaign-days and their KPIs (CTR, CPC, CPM, conversion rate, CPA, ROAS),
//! shared by the reports (`kpi`), the score (`score`) and the alerts. The rules are `kpi`'s.

use serde::{Deserialize, Serialize};

use super::micros_to_units;

/// The raw counters of one campaign-day, or of any sum of them.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    pub impressions: u64,
    pub clicks: u64,
    pub spend_micros: i64,
    pub conversions: f64,
    pub conversion_value_micros: i64,
}

impl Metrics {
    pub fn add(&mut self, other: &Metrics) {
        self.impressions += other.impressions;
        self.clicks += other.clicks;
        self.spend_micros += other.spend_micros;
        self.conversions += other.conversions;
        self.conversion_value_micros += other.conversion_value_micros;
    }

    pub fn sum<'a>(items: impl IntoIterator<Item = &'a Metrics>) -> Metrics {
        let mut total = Metrics::default();
        for m in items {
            total.add(m);
        }
        total
    }

    pub fn kpis(&self) -> Kpis {
        let spend = micros_to_units(self.spend_micros);
        let impressions = self.impressions as f64;
        let clicks = self.clicks as f64;
        Kpis {
            ctr_percent: ratio(clicks * 100.0, impressions),
            cpc: ratio(spend, clicks),
            cpm: ratio(spend * 1000.0, impressions),
            conversion_rate_percent: ratio(self.conversions * 100.0, clicks),
            cpa: ratio(spend, self.conversions),
            roas: ratio(micros_to_units(self.conversion_value_micros), spend),
        }
    }
}

/// Derived KPIs; `None` where the denominator is zero.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Kpis {
    pub ctr_percent: Option<f64>,
    pub cpc: Option<f64>,
    pub cpm: Option<f64>,
    pub conversion_rate_percent: Option<f64>,
    pub cpa: Option<f64>,
    pub roas: Option<f64>,
}

fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (denominator > 0.0).then(|| round4(numerator / denominator))
}

pub(super) fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
