//! Ratios for the stats endpoint, with empty denominators reported as null rather than 0 % or
//! NaN (a tenant with no traffic has no success rate, not a zero one).

pub fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0)
        .then(|| ((numerator as f64 / denominator as f64) * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        assert_eq!(ratio(0, 0), None);
        assert_eq!(ratio(1, 3), Some(0.3333));
        assert_eq!(ratio(5, 5), Some(1.0));
    }
}
