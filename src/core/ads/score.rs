//! The efficiency score (0–100) and performance grade (A–F) of a campaign, a platform or an
//! account over a date range, from its summed counters.
//!
//! The formula (documented in the README and shown in the dashboard):
//! - four components, each in [0, 1], capped at 1 (beating a target earns no more than meeting
//!   it, so one outstanding ratio cannot hide a bad one):
//!   - CTR: `CTR / target CTR` (default target 2 %), when there were impressions;
//!   - conversion rate: `conversion rate / target conversion rate` (default 5 %), when there
//!     were clicks;
//!   - CPA: `target CPA / CPA` (lower is better), when a target CPA is set and money was spent;
//!     spend without any conversion scores 0;
//!   - ROAS: `ROAS / target ROAS` (default 4.0), when a target ROAS is set and money was spent;
//! - weights: CTR 20, conversion rate 20, CPA 30, ROAS 30. A component without its input (no
//!   clicks yet, no target) is left out and the others' weights are renormalized, so a lead
//!   campaign without a target CPA is scored on what it has;
//! - score = round(100 × Σ weight × component / Σ weight); none without impressions;
//! - grade: A ≥ 85, B ≥ 70, C ≥ 55, D ≥ 40, F below.
//!
//! Ratios are the blended KPIs of [`super::kpi`] (from sums, never averaged), unrounded here.

use serde::{Deserialize, Serialize};

use super::metrics::Metrics;
use super::micros_to_units;

pub const WEIGHT_CTR: f64 = 20.0;
pub const WEIGHT_CONVERSION_RATE: f64 = 20.0;
pub const WEIGHT_CPA: f64 = 30.0;
pub const WEIGHT_ROAS: f64 = 30.0;

/// The targets components are measured against (per tenant, in `settings`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoreTargets {
    pub target_ctr_percent: f64,
    pub target_conversion_rate_percent: f64,
    /// In the account's currency. Off (no CPA component) unless set.
    pub target_cpa: Option<f64>,
    pub target_roas: Option<f64>,
}

impl Default for ScoreTargets {
    fn default() -> Self {
        ScoreTargets {
            target_ctr_percent: 2.0,
            target_conversion_rate_percent: 5.0,
            target_cpa: None,
            target_roas: Some(4.0),
        }
    }
}

impl ScoreTargets {
    /// Sets one target by its settings name; `None` restores its default.
    pub fn set(&mut self, key: &str, value: Option<f64>) {
        let d = ScoreTargets::default();
        match key {
            "target_ctr_percent" => self.target_ctr_percent = value.unwrap_or(d.target_ctr_percent),
            "target_conversion_rate_percent" => {
                self.target_conversion_rate_percent =
                    value.unwrap_or(d.target_conversion_rate_percent)
            }
            "target_cpa" => self.target_cpa = value.or(d.target_cpa),
            "target_roas" => self.target_roas = value.or(d.target_roas),
            _ => {}
        }
    }
}

/// Each component's value in [0, 1], when it could be computed.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Components {
    pub ctr: Option<f64>,
    pub conversion_rate: Option<f64>,
    pub cpa: Option<f64>,
    pub roas: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub efficiency_score: u8,
    pub grade: char,
    pub score_components: Components,
}

pub fn grade(score: u8) -> char {
    match score {
        85.. => 'A',
        70..=84 => 'B',
        55..=69 => 'C',
        40..=54 => 'D',
        _ => 'F',
    }
}

fn capped(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn score(m: &Metrics, t: &ScoreTargets) -> Option<Score> {
    if m.impressions == 0 {
        return None;
    }
    let spend = micros_to_units(m.spend_micros);
    let clicks = m.clicks as f64;
    let ctr = clicks * 100.0 / m.impressions as f64;
    let c = Components {
        ctr: Some(capped(ctr / t.target_ctr_percent)),
        conversion_rate: (m.clicks > 0)
            .then(|| capped(m.conversions * 100.0 / clicks / t.target_conversion_rate_percent)),
        cpa: t.target_cpa.filter(|_| spend > 0.0).map(|target| {
            if m.conversions > 0.0 {
                capped(target / (spend / m.conversions))
            } else {
                0.0
            }
        }),
        roas: t
            .target_roas
            .filter(|_| spend > 0.0)
            .map(|target| capped(micros_to_units(m.conversion_value_micros) / spend / target)),
    };
    let weighted = [
        (c.ctr, WEIGHT_CTR),
        (c.conversion_rate, WEIGHT_CONVERSION_RATE),
        (c.cpa, WEIGHT_CPA),
        (c.roas, WEIGHT_ROAS),
    ];
    let (sum, weights) = weighted
        .iter()
        .filter_map(|(v, w)| v.map(|v| (v * w, *w)))
        .fold((0.0, 0.0), |(s, ws), (v, w)| (s + v, ws + w));
    let value = (100.0 * sum / weights).round() as u8;
    Some(Score {
        efficiency_score: value,
        grade: grade(value),
        score_components: Components {
            ctr: c.ctr.map(round3),
            conversion_rate: c.conversion_rate.map(round3),
            cpa: c.cpa.map(round3),
            roas: c.roas.map(round3),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ads::kpi::test_metrics as m;

    #[test]
    fn hand_computed_score_with_every_component() {
        // 10,000 impressions, 150 clicks (CTR 1.5 %), 6 conversions (CR 4 %), 120.00 spent
        // (CPA 20), 360.00 of value (ROAS 3). Targets: CTR 2 %, CR 5 %, CPA 25, ROAS 4.
        // Components: 0.75, 0.8, min(25/20, 1) = 1, 0.75.
        // Score = (20×0.75 + 20×0.8 + 30×1 + 30×0.75) / 100 = 83.5 → 84 (B).
        let t = ScoreTargets {
            target_cpa: Some(25.0),
            ..ScoreTargets::default()
        };
        let s = score(&m(10_000, 150, 120.0, 6.0, 360.0), &t).unwrap();
        assert_eq!(
            s.score_components,
            Components {
                ctr: Some(0.75),
                conversion_rate: Some(0.8),
                cpa: Some(1.0),
                roas: Some(0.75)
            }
        );
        assert_eq!((s.efficiency_score, s.grade), (84, 'B'));
    }

    #[test]
    fn missing_components_are_renormalized() {
        // Default targets (no CPA): CTR 4 % → 1, CR 2 % → 0.4, ROAS 2 → 0.5.
        // (20×1 + 20×0.4 + 30×0.5) / 70 = 43/70 = 61.43 → 61 (C).
        let s = score(&m(5_000, 200, 100.0, 4.0, 200.0), &ScoreTargets::default()).unwrap();
        assert_eq!(s.score_components.cpa, None);
        assert_eq!((s.efficiency_score, s.grade), (61, 'C'));
        // Impressions only: CTR alone decides (0 clicks → 0).
        let s = score(&m(1_000, 0, 0.0, 0.0, 0.0), &ScoreTargets::default()).unwrap();
        assert_eq!((s.efficiency_score, s.grade), (0, 'F'));
        assert_eq!(score(&Metrics::default(), &ScoreTargets::default()), None);
    }

    #[test]
    fn spend_without_conversions_scores_zero_cpa() {
        let t = ScoreTargets {
            target_cpa: Some(10.0),
            target_roas: None,
            ..ScoreTargets::default()
        };
        // CTR 2 % → 1; CR 0 → 0; CPA → 0: (20 + 0 + 0) / 70 = 28.6 → 29 (F).
        let s = score(&m(10_000, 200, 50.0, 0.0, 0.0), &t).unwrap();
        assert_eq!(s.score_components.cpa, Some(0.0));
        assert_eq!((s.efficiency_score, s.grade), (29, 'F'));
    }

    #[test]
    fn grade_boundaries() {
        let grades: Vec<char> = [100, 85, 84, 70, 69, 55, 54, 40, 39, 0]
            .into_iter()
            .map(grade)
            .collect();
        assert_eq!(grades, ['A', 'A', 'B', 'B', 'C', 'C', 'D', 'D', 'F', 'F']);
        let json = serde_json::to_value(
            score(&m(10_000, 200, 50.0, 10.0, 400.0), &ScoreTargets::default()).unwrap(),
        )
        .unwrap();
        assert_eq!(json["grade"], "A");
        assert_eq!(json["efficiency_score"], 100);
    }
}
