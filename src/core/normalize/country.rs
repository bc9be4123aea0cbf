//! Countries, to ISO 3166-1 alpha-2.

use super::latin::fold_key;
use super::tables::country_names::COUNTRY_NAMES;
use super::tables::iso_countries::ISO_COUNTRIES;
use super::NormalizeError;

const UNKNOWN_COUNTRY: NormalizeError =
    NormalizeError("must be a country: an ISO 3166-1 code (US, DEU) or its name");

/// ISO alpha-2 (lowercase, `'static`) for a country code or name, if known.
pub(super) fn lookup_country(raw: &str) -> Option<&'static str> {
    let found = lookup_country_key(&fold_key(raw));
    if found.is_none() && raw.contains('&') {
        // "Trinidad & Tobago", "Bosnia & Herzegovina"
        return lookup_country_key(&fold_key(&raw.replace('&', " and ")));
    }
    found
}

/// A short code's bytes as one number: the 3-letter codes are compared as integers instead of with
/// a memcmp call per entry (up to 249 of them).
fn code_number(code: &str) -> u32 {
    code.bytes().fold(0, |n, b| n << 8 | u32::from(b))
}

/// For each two-letter code `xy` at `(x - 'a') * 26 + (y - 'a')`: 1 + its index in ISO_COUNTRIES,
/// or 0. Every event's country, and the country given to its state, zip and phone, is looked up;
/// a binary search of the table missed the cache at most of its eight steps.
static ISO_BY_ALPHA2: [u8; 26 * 26] = {
    let mut table = [0u8; 26 * 26];
    let mut i = 0;
    while i < ISO_COUNTRIES.len() {
        let code = ISO_COUNTRIES[i].0.as_bytes();
        table[(code[0] - b'a') as usize * 26 + (code[1] - b'a') as usize] = i as u8 + 1;
        i += 1;
    }
    table
};

/// The ISO code for a two-letter key of lowercase ASCII letters (as fold_key makes them).
fn iso_country_by_alpha2(key: &str) -> Option<&'static str> {
    let &[a, b] = key.as_bytes() else {
        return None;
    };
    if !a.is_ascii_lowercase() || !b.is_ascii_lowercase() {
        return None;
    }
    match ISO_BY_ALPHA2[(a - b'a') as usize * 26 + (b - b'a') as usize] {
        0 => None,
        n => Some(ISO_COUNTRIES[n as usize - 1].0),
    }
}

fn lookup_country_key(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        return None;
    }
    if key.is_ascii() {
        match key.len() {
            2 => {
                return match key {
                    "uk" => Some("gb"),
                    "el" => Some("gr"),
                    k => iso_country_by_alpha2(k),
                };
            }
            3 => {
                let k = code_number(key);
                if let Some((a2, _)) = ISO_COUNTRIES.iter().find(|(_, a3)| code_number(a3) == k) {
                    return Some(a2);
                }
            }
            _ => {}
        }
    }
    COUNTRY_NAMES
        .binary_search_by(|(k, _)| (*k).cmp(key))
        .ok()
        .map(|i| COUNTRY_NAMES[i].1)
}

/// Country as lowercase ISO 3166-1 alpha-2 (Meta, Google, TikTok): accepts alpha-2
/// ("US", "uk" -> "gb"), alpha-3 ("DEU", "U.S.A."), English and official names ("United States
/// of America", "Korea, Republic of"), Meta's library's names, and common local names
/// ("Deutschland", "España", "Brasil", "México", "Россия", "日本"). Unknown -> error (Meta's
/// library would instead truncate any unknown text to 2 letters).
pub fn normalize_country(raw: &str) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    lookup_country(t).map(str::to_string).ok_or(UNKNOWN_COUNTRY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::normalize::testing::{err, ok};

    #[test]
    fn countries() {
        for (input, code) in [
            ("US", "us"),
            ("usa", "us"),
            ("U.S.A.", "us"),
            ("U.S.", "us"),
            ("United States", "us"),
            ("United States of America", "us"),
            ("  united   states  ", "us"),
            ("Estados Unidos", "us"),
            ("Deutschland", "de"),
            ("Germany", "de"),
            ("DEU", "de"),
            ("España", "es"),
            ("Spain", "es"),
            ("ESP", "es"),
            ("United Kingdom", "gb"),
            ("UK", "gb"),
            ("GB", "gb"),
            ("Great Britain", "gb"),
            ("England", "gb"),
            ("Brasil", "br"),
            ("Brazil", "br"),
            ("México", "mx"),
            ("Mexico", "mx"),
            ("France", "fr"),
            ("FRA", "fr"),
            ("Österreich", "at"),
            ("Schweiz", "ch"),
            ("Nederland", "nl"),
            ("The Netherlands", "nl"),
            ("Holland", "nl"),
            ("Korea, Republic of", "kr"),
            ("South Korea", "kr"),
            ("Côte d'Ivoire", "ci"),
            ("Россия", "ru"),
            ("日本", "jp"),
            ("Türkiye", "tr"),
            ("Viet Nam", "vn"),
            ("UAE", "ae"),
            ("India", "in"),
            ("IND", "in"),
            ("Åland Islands", "ax"),
            ("ελλάς", "gr"),
            ("ΕΛΛΆΣ", "gr"),
            ("Trinidad & Tobago", "tt"),
            ("Bosnia & Herzegovina", "ba"),
            ("St. Lucia", "lc"),
            ("Burma", "mm"),
        ] {
            ok(normalize_country(input), code);
        }
        // Meta docs worked example, with its published hash.
        assert_eq!(
            sha256_hex(&normalize_country("United States").unwrap()),
            "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"
        );
        for bad in ["Narnia", "XX", "zz", "123", "Un"] {
            err(normalize_country(bad), UNKNOWN_COUNTRY);
        }
    }

    #[test]
    fn alpha2_index_matches_the_table() {
        for a in b'a'..=b'z' {
            for b in b'a'..=b'z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                let listed = ISO_COUNTRIES.iter().find(|(a2, _)| *a2 == code);
                assert_eq!(iso_country_by_alpha2(&code), listed.map(|(a2, _)| *a2));
            }
        }
    }
}
