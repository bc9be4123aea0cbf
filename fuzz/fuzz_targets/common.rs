//! What the targets share: the clock, and equality after a trip through JSON.
#![allow(dead_code)]

use serde_json::Value;

/// The server clock of the targets (Oct 2025).
pub const NOW: i64 = 1_760_000_000;

/// `decoded == original`, but for floats of 16-17 significant digits, which serde_json (without
/// its `float_roundtrip` feature) may read back one unit in the last place off. As in
/// tests/properties.
pub fn assert_same_after_json<T>(decoded: &T, original: &T)
where
    T: PartialEq + serde::Serialize + std::fmt::Debug,
{
    if decoded != original {
        let (a, b) = (
            serde_json::to_value(decoded).unwrap(),
            serde_json::to_value(original).unwrap(),
        );
        assert!(
            close(&a, &b),
            "round trip changed the value:\n{decoded:?}\n{original:?}"
        );
    }
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 2.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| close(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k, x), (l, y))| k == l && close(x, y))
        }
        _ => a == b,
    }
}
