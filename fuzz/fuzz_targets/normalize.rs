//! The PII normalizers on any text, with a default country picked by the first byte: no panic,
//! an output of bounded length, surrounding whitespace ignored, and normalizing a normalized value
//! changes nothing (but for the documented heuristics, as in tests/properties/normalize.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pixelgate::core::normalize::{self, NormalizeError};

type Normalizer = fn(&str, Option<&str>) -> Result<String, NormalizeError>;

/// The most bytes an output may take for an input of `n` bytes (a hash passed through takes 64).
type Bound = fn(usize) -> usize;

/// Each normalizer, with its bound.
const NORMALIZERS: &[(&str, Normalizer, Bound)] = &[
    ("email", |s, _| normalize::normalize_email(s), |_| 254),
    (
        "email_google",
        |s, _| normalize::normalize_email_google(s),
        |_| 254,
    ),
    ("phone", normalize::normalize_phone, |_| 16),
    ("phone_meta", normalize::normalize_phone_meta, |_| 15),
    ("name", |s, _| normalize::normalize_name(s), |n| 2 * n),
    ("city", |s, _| normalize::normalize_city(s), |n| 2 * n),
    ("state", normalize::normalize_state, |n| 2 * n),
    ("zip", normalize::normalize_zip, |_| 10),
    ("country", |s, _| normalize::normalize_country(s), |_| 2),
    (
        "dob",
        |s, _| normalize::normalize_dob_at(s, 20_251_009),
        |_| 8,
    ),
    ("gender", |s, _| normalize::normalize_gender(s), |_| 1),
    (
        "external_id",
        |s, _| normalize::normalize_external_id(s),
        |n| 2 * n,
    ),
];

const COUNTRIES: [Option<&str>; 16] = [
    None,
    Some("us"),
    Some("GB"),
    Some("de"),
    Some("fr"),
    Some("br"),
    Some("mx"),
    Some("it"),
    Some("ru"),
    Some("hu"),
    Some("au"),
    Some("jp"),
    Some("in"),
    Some("ca"),
    Some("Deutschland"),
    Some("xx"),
];

/// See `idempotence_is_the_contract` in tests/properties/normalize.rs.
fn idempotent_by_contract(name: &str, raw: &str, country: Option<&str>, out: &str) -> bool {
    let known_country = country.is_some_and(|c| normalize::normalize_country(c).is_ok());
    match name {
        "city" | "state" if raw.contains(['\u{212A}', 'İ']) => false,
        "state" => known_country,
        "zip" => known_country || out.len() != 9 || !out.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let Ok(raw) = std::str::from_utf8(rest) else {
        return;
    };
    let country = COUNTRIES[usize::from(first & 15)];
    let padded = format!(" \u{FEFF}{raw}\t");
    for (name, f, bound) in NORMALIZERS {
        let result = f(raw, country);
        assert_eq!(
            f(&padded, country),
            result,
            "{name}: padding changed {raw:?}"
        );
        let Ok(out) = result else { continue };
        assert!(!out.is_empty() && out.trim() == out, "{name}: {out:?}");
        assert!(
            out.len() <= bound(raw.len()).max(64),
            "{name}: {out:?} from {raw:?}"
        );
        if idempotent_by_contract(name, raw, country, &out) {
            // phone_meta's digits (not a hash passed through) are read again with their '+'.
            let again = if *name == "phone_meta" && out.len() <= 15 {
                f(&format!("+{out}"), country)
            } else {
                f(&out, country)
            };
            assert_eq!(
                again.as_ref(),
                Ok(&out),
                "{name}: not idempotent on {raw:?}"
            );
        }
    }
});
