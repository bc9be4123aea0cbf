//! Property tests of the decoders that read what the outside sends (the event intake, the PII
//! normalizers, the consent body) and of the queue's message formats: on any input they never
//! panic, what they produce stays proportionate to what they read, and what is encoded decodes
//! back to the same value.
//!
//! They run in `cargo test` with a fixed seed and 256 cases per property, so CI sees the same
//! cases on every run and a failure reproduces as it is (no regression files are written). To
//! explore further: `PROPTEST_CASES=20000 PROPTEST_RNG_SEED=<n> cargo test --test properties`.
//! `scripts/fuzz` runs the coverage-guided counterpart (fuzz/) for a given time.

mod consent;
mod event;
mod normalize;
mod queue;
mod scrub;
mod strategies;

use proptest::test_runner::{Config, RngAlgorithm, RngSeed};

/// `config()` with `cases` cases by default, for the properties whose inputs are costly to make.
pub fn config_with_cases(cases: u32) -> Config {
    let base = config();
    match std::env::var_os("PROPTEST_CASES") {
        Some(_) => base,
        None => Config { cases, ..base },
    }
}

/// Default cases and seed unless PROPTEST_CASES / PROPTEST_RNG_SEED say otherwise. XorShift
/// rather than the default ChaCha: in an unoptimized test build ChaCha took most of the time.
pub fn config() -> Config {
    let base = Config::default();
    let set = |var: &str| std::env::var_os(var).is_some();
    Config {
        cases: if set("PROPTEST_CASES") {
            base.cases
        } else {
            256
        },
        rng_seed: if set("PROPTEST_RNG_SEED") {
            base.rng_seed
        } else {
            RngSeed::Fixed(0x9e37_79b9_7f4a_7c15)
        },
        rng_algorithm: if set("PROPTEST_RNG_ALGORITHM") {
            base.rng_algorithm
        } else {
            RngAlgorithm::XorShift
        },
        failure_persistence: None,
        ..base
    }
}

/// `decoded == original`, but for floats of 16-17 significant digits, which may come back one
/// unit in the last place off: serde_json reads floats with its fast, best-effort algorithm (its
/// `float_roundtrip` feature, which reads them exactly, is not enabled). Shorter floats, such as
/// every price, and everything else must come back exactly.
pub fn same_after_json<T>(
    decoded: &T,
    original: &T,
) -> Result<(), proptest::test_runner::TestCaseError>
where
    T: PartialEq + serde::Serialize + std::fmt::Debug,
{
    if decoded != original {
        let (a, b) = (
            serde_json::to_value(decoded).unwrap(),
            serde_json::to_value(original).unwrap(),
        );
        proptest::prop_assert!(
            close(&a, &b),
            "round trip changed the value:\n{:?}\n{:?}",
            decoded,
            original
        );
    }
    Ok(())
}

fn close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::{Array, Number, Object};
    match (a, b) {
        (Number(x), Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 2.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y)),
        (Object(x), Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k, x), (l, y))| k == l && close(x, y))
        }
        _ => a == b,
    }
}
