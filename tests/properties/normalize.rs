//! The PII normalizers (`core::normalize`): any text, never a panic; an output of bounded length;
//! a normalized value normalizes to itself, so a value normalized before it reaches the gateway
//! hashes like the raw one.

use pixelgate::core::normalize::{self, NormalizeError};
use proptest::prelude::*;
use proptest::sample::select;

use crate::strategies::text;

/// Today for the date of birth, YYYYMMDD.
const TODAY: u32 = 20_251_009;

type Normalizer = fn(&str, Option<&str>) -> Result<String, NormalizeError>;

/// The most bytes an output may take for an input of `n` bytes.
type Bound = fn(usize) -> usize;

/// Every normalizer, with its bound.
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
    ("dob", |s, _| normalize::normalize_dob_at(s, TODAY), |_| 8),
    ("gender", |s, _| normalize::normalize_gender(s), |_| 1),
    (
        "external_id",
        |s, _| normalize::normalize_external_id(s),
        |n| 2 * n,
    ),
];

/// Text shaped like the field values people send, and any text.
fn raw() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => text(40),
        1 => "[ ]?[A-Za-z0-9._+-]{1,12}@[a-z0-9-]{1,8}\\.(com|de|co\\.uk)[ .]?",
        1 => "(\\+|00|011)?[ ]?[0-9]{1,3}[ (.-]{0,2}[0-9]{2,4}[ ).-]{0,2}[0-9 -]{4,10}( (x|ext\\.) ?[0-9]{1,4})?",
        1 => "[0-3]?[0-9][/. -][01]?[0-9][/. -](19|20)?[0-9]{2}|(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9](T00:00:00Z)?",
        1 => "[A-Z]{1,2}[0-9]{1,2} ?[0-9][A-Z]{2}|[0-9]{5}(-[0-9]{4})?",
        1 => select(&[
            "United States", "Deutschland", "Trinidad & Tobago", "Côte d'Ivoire", "UK", "usa",
            "California", "Calif.", "Ontario (ON)", "Québec", "New York State", "São Paulo",
            "Москва", "東京", "Ωcalifornia", "ΟΔΥΣΣΕΑΣ", "İstanbul", "\u{212A}ansas", "female",
            "Männlich", "17 May 1990", "May 17th, 1990", "mailto:John@Example.com?subject=hi",
            "John Doe <john.doe@gmail.com>", "+44 (0)20 7946 0958", "07700 900123",
        ][..]).prop_map(str::to_string),
    ]
}

fn country() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => select(&["us", "GB", "de", "fr", "br", "mx", "it", "ru", "hu", "au", "jp", "in",
                      "ca", "Deutschland", "xx", ""][..])
            .prop_map(|c| Some(c.to_string())),
        1 => Just(None),
        1 => text(8).prop_map(Some),
    ]
}

/// A value already hashed upstream: 64 hex digits in any case, maybe padded.
fn hashed() -> impl Strategy<Value = String> {
    ("[ \t]{0,2}", "[0-9a-fA-F]{64}", "[ \n]{0,2}").prop_map(|(a, h, b)| format!("{a}{h}{b}"))
}

/// Where normalizing twice may differ from normalizing once, by design:
/// * city and state follow Meta's rule (drop what is not ASCII, then lowercase), so a value
///   whose lowercase gains ASCII letters (the Kelvin sign, 'İ') reads differently once
///   lowercased;
/// * a state without a country we know is tried as a US/Canadian code or name (by its letters
///   only, Latin diacritics folded) before the general rule, which keeps digits and drops other
///   letters: "Ωcalifornia" -> "california", which is California's name -> "ca";
/// * a zip without a country is cut to 5 digits when its 9 digits look like a ZIP+4 (in at most
///   two groups); the 9 digits of "123 45 6789" are kept, and read as a ZIP+4 the second time.
fn idempotence_is_the_contract(name: &str, raw: &str, country: Option<&str>, out: &str) -> bool {
    let known_country = country.is_some_and(|c| normalize::normalize_country(c).is_ok());
    match name {
        "city" | "state" if raw.contains(['\u{212A}', 'İ']) => false,
        "state" => known_country,
        "zip" => known_country || out.len() != 9 || !out.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    }
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn normalizers_are_total_bounded_and_idempotent(raw in raw(), country in country()) {
        let country = country.as_deref();
        for (name, f, bound) in NORMALIZERS {
            let Ok(out) = f(&raw, country) else { continue };
            prop_assert!(!out.is_empty(), "{name}: empty output for {raw:?}");
            prop_assert!(
                out.len() <= bound(raw.len()).max(64),
                "{name}: {out:?} from {raw:?}"
            );
            prop_assert_eq!(out.trim(), &out, "{}: untrimmed", name);
            // phone_meta's digits (not a hash passed through) are read again with their '+'.
            let again = if *name == "phone_meta" && out.len() <= 15 {
                f(&format!("+{out}"), country)
            } else {
                f(&out, country)
            };
            if !idempotence_is_the_contract(name, &raw, country, &out) {
                continue;
            }
            prop_assert_eq!(again.as_ref(), Ok(&out), "{}: not idempotent on {:?}", name, raw);
        }
    }

    #[test]
    fn surrounding_whitespace_never_matters(
        raw in raw(),
        country in country(),
        pad in select(&[" ", "\t", "\u{A0}", "\u{FEFF}", "\r\n", "\u{200B} "][..]),
    ) {
        let padded = format!("{pad}{raw}{pad}");
        for (name, f, _) in NORMALIZERS {
            prop_assert_eq!(
                f(&padded, country.as_deref()),
                f(&raw, country.as_deref()),
                "{}", name
            );
        }
    }

    #[test]
    fn hashes_pass_through_lowercased(h in hashed(), country in country()) {
        let expected = h.trim().to_ascii_lowercase();
        for (name, f, _) in NORMALIZERS {
            prop_assert_eq!(f(&h, country.as_deref()), Ok(expected.clone()), "{}", name);
        }
    }

    #[test]
    fn google_email_is_the_email_without_gmail_dots(raw in raw()) {
        let meta = normalize::normalize_email(&raw);
        let google = normalize::normalize_email_google(&raw);
        prop_assert_eq!(google.is_ok(), meta.is_ok());
        if let (Ok(m), Ok(g)) = (meta, google) {
            prop_assert_eq!(&normalize::google_email_from_normalized(&m), &g);
            prop_assert_eq!(m.replace('.', ""), g.replace('.', ""));
        }
    }
}

/// What these properties found, kept as plain cases.
#[test]
fn found_by_the_properties() {
    // Junk between a letter and its combining mark: the name still composes (it was "a\u{301}",
    // which normalized again to "á").
    assert_eq!(normalize::normalize_name("a:\u{301}").as_deref(), Ok("á"));
    assert_eq!(
        normalize::normalize_name("Jose\u{AD}\u{301}").as_deref(),
        Ok("josé")
    );
    // A national prefix after the country code is dropped once; one still there after that is
    // refused (it was kept, and dropped when the result was read again: "+22301202" then
    // "+2231202").
    let phone = |raw, country| normalize::normalize_phone(raw, country);
    assert_eq!(
        phone("+44 (0)20 7946 0958", None).as_deref(),
        Ok("+442079460958")
    );
    assert!(phone("+44 0 020 7946 0958", None).is_err());
    assert!(phone("+223 001202", None).is_err());
    assert!(phone("011053..8753-)6555", Some("br")).is_err());
}
