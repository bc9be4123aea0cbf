//! Normalization of human-entered PII before hashing, following the platforms' own rules.
//!
//! Baseline is Meta's official normalizers in `facebook/capi-param-builder`
//! (`nodejs/capi-param-builder/src/piiUtil/*.js`, identical in the PHP port) and Meta's
//! "Customer Information Parameters" documentation; Google's enhanced-conversions /
//! GA4 Measurement Protocol "user-provided data" rules are used for
//! [`normalize_email_google`] and for the E.164 phone format of [`normalize_phone`].
//! Where the library and the documentation disagree, or where the library is lossy in a way
//! that hurts matching, the choice is documented on the function.
//!
//! Every function:
//! * trims surrounding whitespace (Unicode whitespace, zero-width characters and BOM);
//! * returns `Err(NormalizeError("empty"))` for empty input;
//! * passes through a value that already is a SHA-256 hex digest (64 hex characters after
//!   trimming), lowercased, so that a value hashed upstream is never hashed twice;
//! * returns a short human-readable reason when the value is unusable, meant to be reported
//!   as `user_data.<field>: <reason>`.
//!
//! Limits (no Unicode crates are used): Unicode normalization is limited to composing
//! decomposed (NFD) Latin letters with one combining mark into their precomposed (NFC) form
//! (e.g. `e` + U+0301 -> `é`); other scripts are kept as typed. Case folding uses Rust's
//! Unicode lowercase mapping (`str::to_lowercase`, which handles the Greek final sigma like
//! JavaScript's `toLowerCase` does in Meta's library).
//!
//! One file per field (`email`, `phone`, `person`, `address`, `country`, `dob`), the character
//! classes and Latin folding they share in `chars` and `latin`, the data in `tables`.

use std::fmt;

use self::chars::trim;
use super::hash::is_sha256_hex;

/// Trim; return early with `Err("empty")` or with the lowercased hash when the input is
/// already a SHA-256 hex digest; otherwise evaluate to the trimmed `&str`.
macro_rules! trimmed_or_return {
    ($raw:expr) => {
        match $crate::core::normalize::pre($raw)? {
            $crate::core::normalize::Pre::Hashed(h) => return Ok(h),
            $crate::core::normalize::Pre::Raw(t) => t,
        }
    };
}

mod address;
mod chars;
mod country;
mod dob;
mod email;
mod latin;
mod person;
mod phone;
mod tables;

pub use address::{normalize_city, normalize_state, normalize_zip};
pub(crate) use chars::has_visible_ascii_ends;
pub use country::normalize_country;
pub use dob::{normalize_dob, normalize_dob_at};
pub use email::{google_email_from_normalized, normalize_email, normalize_email_google};
pub use person::{normalize_external_id, normalize_gender, normalize_name};
pub use phone::{normalize_phone, normalize_phone_meta};

/// The `today` of [`normalize_dob_at`] from a Unix timestamp: on Cloudflare Workers std has no
/// clock, so the caller passes the request's own time (the intake passes its `now`).
pub use super::calendar::yyyymmdd_from_unix_secs;

/// Why a value cannot be used. The message is short and human-readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormalizeError(pub &'static str);

impl fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NormalizeError {}

const EMPTY: NormalizeError = NormalizeError("empty");

enum Pre<'a> {
    Hashed(String),
    Raw(&'a str),
}

fn pre(raw: &str) -> Result<Pre<'_>, NormalizeError> {
    let t = trim(raw);
    if t.is_empty() {
        Err(EMPTY)
    } else if is_sha256_hex(t) {
        Ok(Pre::Hashed(t.to_ascii_lowercase()))
    } else {
        Ok(Pre::Raw(t))
    }
}

/// Shared by the field files' tests.
#[cfg(test)]
mod testing {
    use super::NormalizeError;

    pub const HASH: &str = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b";

    pub const TODAY: u32 = 20260115;

    #[track_caller]
    pub fn ok(r: Result<String, NormalizeError>, expected: &str) {
        assert_eq!(r.as_deref(), Ok(expected));
    }

    #[track_caller]
    pub fn err(r: Result<String, NormalizeError>, expected: NormalizeError) {
        assert_eq!(r, Err(expected));
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{HASH, TODAY};
    use super::*;

    type Normalizer = fn(&str) -> Result<String, NormalizeError>;

    fn all_normalizers() -> Vec<(&'static str, Normalizer)> {
        vec![
            ("email", normalize_email),
            ("email_google", normalize_email_google),
            ("phone", |s| normalize_phone(s, Some("us"))),
            ("phone_meta", |s| normalize_phone_meta(s, None)),
            ("name", normalize_name),
            ("city", normalize_city),
            ("state", |s| normalize_state(s, Some("us"))),
            ("zip", |s| normalize_zip(s, Some("us"))),
            ("country", normalize_country),
            ("dob", normalize_dob),
            ("dob_at", |s| normalize_dob_at(s, TODAY)),
            ("gender", normalize_gender),
            ("external_id", normalize_external_id),
        ]
    }

    #[test]
    fn hashed_values_pass_through_lowercased() {
        let upper = HASH.to_ascii_uppercase();
        let padded = format!("  {upper}\n");
        for (name, f) in all_normalizers() {
            assert_eq!(f(HASH).as_deref(), Ok(HASH), "{name}");
            assert_eq!(f(&padded).as_deref(), Ok(HASH), "{name}");
        }
    }

    #[test]
    fn empty_input_is_an_error() {
        for (name, f) in all_normalizers() {
            for input in ["", "   ", "\t\n\r", "\u{FEFF}\u{200B}", "\u{00A0}"] {
                assert_eq!(f(input), Err(EMPTY), "{name} {input:?}");
            }
        }
        assert_eq!(EMPTY.to_string(), "empty");
    }

    /// Rough per-event cost: all fields of one realistic event normalized and hashed.
    /// The budget is 10 µs per event in release builds; debug builds are much slower, so this
    /// only guards against pathological regressions.
    #[test]
    fn per_event_cost_is_small() {
        use crate::core::hash::hash_normalized;
        let iterations = 2_000u32;
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            let fields = [
                normalize_email(" John.Doe@Example.com "),
                normalize_email_google("John.Doe@gmail.com"),
                normalize_phone("+1 (415) 555-2671", Some("us")),
                normalize_name("José"),
                normalize_name("Müller-Lüdenscheidt"),
                normalize_city("San Francisco"),
                normalize_state("California", Some("us")),
                normalize_zip("94035-1234", Some("us")),
                normalize_country("United States"),
                normalize_dob_at("1990-05-17", TODAY),
                normalize_gender("female"),
                normalize_external_id("USER-42"),
            ];
            for f in fields {
                std::hint::black_box(hash_normalized(&f.unwrap()));
            }
        }
        let per_event = start.elapsed() / iterations;
        // Wall time of an unoptimized build on a shared machine: generous, it catches only a
        // pathological regression (the release budget is measured by scripts/bench).
        assert!(per_event.as_micros() < 2_000, "{per_event:?} per event");
    }
}
