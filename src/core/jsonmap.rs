//! Reading several keys of a JSON object at once, on the per-event path.

use serde_json::{Map, Value};

/// The values `map` holds under `keys`, found in one pass over it. A lookup per key searches the
/// map comparing whole keys (a memcmp call per key met); the objects read here (an event, its
/// custom_data, a content item) are small and several of their keys are read.
pub fn pick<'m, const N: usize>(
    map: &'m Map<String, Value>,
    keys: &[&str; N],
) -> [Option<&'m Value>; N] {
    let mut found = [None; N];
    for (key, value) in map {
        if let Some(i) = keys.iter().position(|k| same_key(k, key)) {
            found[i] = Some(value);
        }
    }
    found
}

/// `a == b`, for the short keys of JSON objects: pairs of unequal lengths or first bytes (most of
/// them) are told apart without the memcmp call `==` makes.
fn same_key(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.as_bytes().first() == b.as_bytes().first() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_what_get_finds() {
        let v = json!({"a": 1, "bb": null, "c": [2], "unread": true});
        let map = v.as_object().unwrap();
        let keys = ["c", "missing", "a", "bb"];
        let found = pick(map, &keys);
        for (key, value) in keys.iter().zip(found) {
            assert_eq!(value, map.get(*key), "{key}");
        }
    }
}
