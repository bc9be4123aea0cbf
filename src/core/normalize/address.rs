//! The address: city, state or province, zip / postal code. The country has a file of its own:
//! the state, zip and phone rules all read it.

use super::chars::{is_invisible, is_name_junk, unicode_digit};
use super::country::lookup_country;
use super::latin::{compose_latin, fold_key};
use super::tables::regions::{CA_CODES, CA_PROVINCES, STATE_FILLER, US_CODES, US_STATES};
use super::NormalizeError;

const CITY_NO_LETTERS: NormalizeError = NormalizeError("city must contain at least one letter");
const CITY_LETTER_FIRST: NormalizeError = NormalizeError("city must start with a letter");
const STATE_NO_LETTERS: NormalizeError = NormalizeError("state must contain at least one letter");
const STATE_LETTER_FIRST: NormalizeError = NormalizeError("state must start with a letter");
const STATE_NOT_US: NormalizeError = NormalizeError(
    "must be a US state, DC, territory or armed-forces code or name, such as CA or California",
);
const STATE_NOT_CA: NormalizeError =
    NormalizeError("must be a Canadian province or territory code or name, such as QC or Québec");
const ZIP_BAD_CHARS: NormalizeError =
    NormalizeError("postal code may only hold ASCII letters, digits, spaces, '-', '.' and '_'");
const ZIP_TOO_SHORT: NormalizeError =
    NormalizeError("postal code is too short: it must have 2-10 letters and digits");
const ZIP_TOO_LONG: NormalizeError =
    NormalizeError("postal code is too long: it must have 2-10 letters and digits");
const ZIP_US: NormalizeError = NormalizeError("US zip code must have 5 digits, or 9 (ZIP+4)");

/// Shared rule for city and non-US/CA state, from Meta's library (`getNormalizedCity`):
/// keep only `[a-z0-9]` (everything else, accented letters included, is removed), lowercase,
/// must start with a letter. When the value has no Latin letter at all (e.g. "Москва",
/// "東京"), Meta's library would drop it; we follow Meta's docs instead ("If using special
/// characters, the text must be encoded in UTF-8 format") and keep the letters in UTF-8.
fn normalize_place(
    t: &str,
    no_letters: NormalizeError,
    letter_first: NormalizeError,
) -> Result<String, NormalizeError> {
    let composed = compose_latin(t);
    let mut ascii = String::with_capacity(composed.len());
    ascii.extend(
        composed
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase()),
    );
    if ascii.bytes().any(|b| b.is_ascii_alphabetic()) {
        return if ascii.as_bytes()[0].is_ascii_alphabetic() {
            Ok(ascii)
        } else {
            Err(letter_first)
        };
    }
    let mut kept = String::with_capacity(composed.len());
    kept.extend(composed.chars().filter(|&c| !is_name_junk(c)));
    match kept.chars().next() {
        None => Err(no_letters),
        Some(_) if !kept.chars().any(char::is_alphabetic) => Err(no_letters),
        Some(first) if !first.is_alphabetic() => Err(letter_first),
        Some(_) => Ok(kept.to_lowercase()),
    }
}

/// City (Meta `getNormalizedCity`): lowercase, only `a-z0-9` kept, must start with a letter:
/// "San Francisco" -> "sanfrancisco", "St. Louis" -> "stlouis". As in Meta's library, accented
/// letters are removed rather than transliterated ("São Paulo" -> "sopaulo", which is what the
/// Meta Pixel and capi-param-builder hash). Cities written only in non-Latin scripts are kept
/// in UTF-8 ("Москва" -> "москва").
pub fn normalize_city(raw: &str) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    normalize_place(t, CITY_NO_LETTERS, CITY_LETTER_FIRST)
}

fn us_state_lookup(key: &str) -> Option<&'static str> {
    US_STATES.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn ca_province_lookup(key: &str) -> Option<&'static str> {
    CA_PROVINCES
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
}

fn state_lookup(key: &str, country: Option<&str>) -> Option<&'static str> {
    match country {
        Some("us") => us_state_lookup(key),
        Some("ca") => ca_province_lookup(key),
        _ => ca_province_lookup(key).or_else(|| us_state_lookup(key)),
    }
}

/// State or province.
///
/// US and Canada (or unknown `country`): the 2-letter lowercase code, from the code itself or
/// from the full name (Meta's US_STATES + CA_PROVINCES tables, extended with DC, territories,
/// armed-forces codes, postal/AP abbreviations such as "Calif." and French province names):
/// "California" / "CA" / "calif." -> "ca", "Québec" -> "qc". Meta's library truncates anything
/// unknown to 2 letters; with an explicit US/CA country we reject it instead, and with an
/// unknown country we fall through to the rule below.
///
/// Other countries: Meta's docs ("Normalize states outside the U.S. in lowercase with no
/// punctuation, no special characters, and no spaces"), using the same character rule as
/// [`normalize_city`], without truncation: "Bayern" -> "bayern", "NSW" -> "nsw".
pub fn normalize_state(raw: &str, country: Option<&str>) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let country = country.and_then(lookup_country);
    if matches!(country, None | Some("us") | Some("ca")) {
        if let Some(code) = north_american_state(t, country) {
            return Ok(code);
        }
        // "California (CA)", "Ontario (ON)"
        if let Some(head) = t
            .split_once('(')
            .map(|(h, _)| h)
            .filter(|h| !h.trim().is_empty())
        {
            if let Some(code) = north_american_state(head, country) {
                return Ok(code);
            }
        }
        match country {
            Some("us") => return Err(STATE_NOT_US),
            Some("ca") => return Err(STATE_NOT_CA),
            _ => {}
        }
    }
    normalize_place(t, STATE_NO_LETTERS, STATE_LETTER_FIRST)
}

fn is_state_code(code: &str, country: Option<&str>) -> bool {
    match country {
        Some("us") => US_CODES.contains(&code),
        Some("ca") => CA_CODES.contains(&code),
        _ => US_CODES.contains(&code) || CA_CODES.contains(&code),
    }
}

/// 2-letter US/CA code for a code, name or abbreviation, with or without filler words.
fn north_american_state(t: &str, country: Option<&str>) -> Option<String> {
    let key = fold_key(t);
    if key.len() == 2 && key.is_ascii() {
        // Without a country any 2-letter value is kept, as in Meta's library.
        if country.is_none() || is_state_code(&key, country) {
            return Some(key.into_owned());
        }
    } else if let Some(code) = state_lookup(&key, country) {
        return Some(code.to_string());
    }
    // Retry without filler words.
    let mut filtered = String::with_capacity(key.len());
    for word in t.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')' | '/')) {
        let w = fold_key(word);
        if !STATE_FILLER.contains(&w.as_ref()) {
            filtered.push_str(&w);
        }
    }
    if filtered.is_empty() || filtered == key {
        return None;
    }
    if filtered.len() == 2 {
        is_state_code(&filtered, country).then_some(filtered)
    } else {
        state_lookup(&filtered, country).map(str::to_string)
    }
}

fn is_zip_separator(c: char) -> bool {
    c.is_whitespace()
        || is_invisible(c)
        || matches!(
            c,
            '-' | '.' | '_' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF0D}'
        )
}

/// Zip / postal code (Meta docs: "lowercase with no spaces and no dash. Use only the first 5
/// digits for U.S. zip codes. Use the area, district, and sector format for the UK", example
/// UK "m11ae", i.e. the full postcode without the space).
///
/// * US: 5 digits, ZIP+4 cut to the first 5 ("94035-1234", "94035 1234", "940351234");
///   leading zeros kept ("02115").
/// * Other/unknown country: lowercase, spaces and dashes removed ("SW1A 1AA" -> "sw1a1aa",
///   "K1A 0B1" -> "k1a0b1", "01310-100" -> "01310100"). Meta's library instead keeps what
///   precedes the first dash, which would cut Brazilian/Japanese/Polish codes; we follow the
///   docs. Without a country, a US ZIP+4 shape (5+4 digits) is still cut to 5 digits.
pub fn normalize_zip(raw: &str, country: Option<&str>) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let country = country.and_then(lookup_country);
    let mut s = String::with_capacity(t.len());
    let mut groups = 0usize;
    let mut in_group = false;
    for c in t.chars() {
        if is_zip_separator(c) {
            in_group = false;
            continue;
        }
        if !in_group {
            groups += 1;
            in_group = true;
        }
        if let Some(v) = unicode_digit(c) {
            s.push((b'0' + v) as char);
        } else if c.is_ascii_alphabetic() {
            s.push(c.to_ascii_lowercase());
        } else {
            return Err(ZIP_BAD_CHARS);
        }
    }
    let all_digits = s.bytes().all(|b| b.is_ascii_digit());
    if country == Some("us") {
        if all_digits && (s.len() == 5 || s.len() == 9) {
            s.truncate(5);
            return Ok(s);
        }
        return Err(ZIP_US);
    }
    if country.is_none() && all_digits && s.len() == 9 && groups <= 2 {
        s.truncate(5);
        return Ok(s);
    }
    if s.len() < 2 {
        return Err(ZIP_TOO_SHORT);
    }
    if s.len() > 10 {
        return Err(ZIP_TOO_LONG);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::normalize::testing::{err, ok};

    #[test]
    fn cities() {
        ok(normalize_city("San Francisco"), "sanfrancisco");
        ok(normalize_city("  New York  "), "newyork");
        ok(normalize_city("St. Louis"), "stlouis");
        ok(normalize_city("O'Fallon"), "ofallon");
        ok(normalize_city("Winston-Salem"), "winstonsalem");
        ok(normalize_city("Washington, D.C."), "washingtondc");
        ok(normalize_city("São Paulo"), "sopaulo"); // as Meta's library
        ok(normalize_city("District 9"), "district9");
        ok(normalize_city("LONDON"), "london");
        ok(normalize_city("Москва"), "москва");
        ok(normalize_city("東京"), "東京");
        err(normalize_city("123 Main"), CITY_LETTER_FIRST);
        err(normalize_city("!!!"), CITY_NO_LETTERS);
    }

    #[test]
    fn us_and_canadian_states() {
        ok(normalize_state("California", None), "ca");
        ok(normalize_state("CA", Some("us")), "ca");
        ok(normalize_state("calif.", Some("US")), "ca");
        ok(normalize_state("Calif.", None), "ca");
        ok(normalize_state("New York", None), "ny");
        ok(normalize_state("new york state", Some("us")), "ny");
        ok(normalize_state("State of California", None), "ca");
        ok(
            normalize_state("Commonwealth of Massachusetts", Some("usa")),
            "ma",
        );
        ok(normalize_state("West Virginia", None), "wv");
        ok(normalize_state("Virginia", None), "va");
        ok(normalize_state("Arkansas", None), "ar");
        ok(normalize_state("Kansas", Some("us")), "ks");
        ok(normalize_state("Washington, D.C.", Some("us")), "dc");
        ok(normalize_state("District of Columbia", None), "dc");
        ok(normalize_state("Puerto Rico", Some("united states")), "pr");
        ok(normalize_state("Texas, USA", None), "tx");
        ok(normalize_state("tx", Some("us")), "tx");
        ok(normalize_state("Hawai'i", Some("us")), "hi");
        ok(normalize_state("Québec", Some("ca")), "qc");
        ok(normalize_state("Ontario", None), "on");
        ok(normalize_state("British Columbia", Some("Canada")), "bc");
        ok(normalize_state("ON", Some("ca")), "on");
        ok(normalize_state("California (CA)", Some("us")), "ca");
        ok(normalize_state("N.Y.", None), "ny");
        err(normalize_state("Narnia", Some("us")), STATE_NOT_US);
        err(normalize_state("ZZ", Some("us")), STATE_NOT_US);
        err(normalize_state("Texas", Some("ca")), STATE_NOT_CA);
    }

    #[test]
    fn other_countries_states() {
        ok(normalize_state("Bayern", Some("de")), "bayern");
        ok(normalize_state("Bavaria", None), "bavaria");
        ok(normalize_state("NSW", Some("au")), "nsw");
        ok(
            normalize_state("New South Wales", Some("Australia")),
            "newsouthwales",
        );
        ok(normalize_state("São Paulo", Some("br")), "sopaulo");
        ok(normalize_state("Москва", Some("ru")), "москва");
        // With a non-US country, US names are not mapped.
        ok(normalize_state("Georgia", Some("ge")), "georgia");
        err(normalize_state("75", Some("fr")), STATE_NO_LETTERS);
    }

    #[test]
    fn zip_codes() {
        ok(normalize_zip("94035", Some("us")), "94035");
        ok(normalize_zip("94035-1234", Some("us")), "94035");
        ok(normalize_zip("94035 1234", Some("US")), "94035");
        ok(normalize_zip("940351234", Some("us")), "94035");
        ok(normalize_zip("02115", Some("us")), "02115");
        ok(normalize_zip("94035-1234", None), "94035");
        ok(normalize_zip("SW1A 1AA", Some("gb")), "sw1a1aa");
        ok(normalize_zip("M1 1AE", Some("uk")), "m11ae");
        ok(normalize_zip("K1A 0B1", Some("ca")), "k1a0b1");
        ok(normalize_zip("01310-100", Some("br")), "01310100");
        ok(normalize_zip("100-0001", Some("jp")), "1000001");
        ok(normalize_zip("75018", Some("fr")), "75018");
        ok(normalize_zip("1987", Some("au")), "1987");
        ok(normalize_zip("1012 AB", Some("nl")), "1012ab");
        ok(normalize_zip("10115", None), "10115");
        ok(normalize_zip("１０１１５", Some("de")), "10115");
        err(normalize_zip("9403", Some("us")), ZIP_US);
        err(normalize_zip("ABCDE", Some("us")), ZIP_US);
        err(normalize_zip("1", None), ZIP_TOO_SHORT);
        err(normalize_zip("94035#", None), ZIP_BAD_CHARS);
        err(normalize_zip("12345678901", Some("de")), ZIP_TOO_LONG);
    }
}
