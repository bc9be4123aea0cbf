//! Phone numbers, to E.164.

use super::chars::{is_invisible, trim, unicode_digit};
use super::country::lookup_country;
use super::tables::phone_plans::{PhoneCountry, CALLING_CODES, PHONE_COUNTRIES};
use super::NormalizeError;

const PHONE_TOO_FEW: NormalizeError = NormalizeError(
    "phone number has too few digits for its country (7-15 digits with the country code)",
);
const PHONE_TOO_MANY: NormalizeError = NormalizeError(
    "phone number has too many digits for its country (7-15 digits with the country code)",
);
const PHONE_LETTERS: NormalizeError = NormalizeError(
    "phone number must not contain letters, except in an extension such as x123 or ext. 5",
);
const PHONE_BAD_CHARS: NormalizeError = NormalizeError(
    "phone number may only hold digits, one leading '+', spaces, - . / ( ) [ ] and an extension \
     such as x123",
);
const PHONE_PLUS: NormalizeError =
    NormalizeError("phone number may hold one '+', before its first digit");
const PHONE_NO_CC: NormalizeError = NormalizeError(
    "phone number needs its country code (such as +44) when the event's country is unknown",
);
const PHONE_UNKNOWN_CC: NormalizeError =
    NormalizeError("phone number must start with an assigned country calling code after '+' or 00");
const PHONE_TRUNK: NormalizeError =
    NormalizeError("phone number holds a national prefix (such as 0) twice after its country code");
const PHONE_NANP: NormalizeError = NormalizeError(
    "North American numbers have 10 digits, the area code and exchange not starting with 0 or 1 \
     (NXX-NXX-XXXX)",
);

impl PhoneCountry {
    fn fits(&self, len: usize) -> bool {
        len >= self.min as usize && len <= self.max as usize
    }
}

fn phone_country_by_iso(iso: &str) -> Option<&'static PhoneCountry> {
    PHONE_COUNTRIES.iter().find(|p| p.iso == iso)
}

fn phone_country_by_cc(cc: &str) -> Option<&'static PhoneCountry> {
    PHONE_COUNTRIES.iter().find(|p| p.cc == cc)
}

fn is_phone_separator(c: char) -> bool {
    c.is_whitespace()
        || is_invisible(c)
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '/' | '[' | ']' | '\u{00B7}' | '\u{2010}'
                ..='\u{2015}'
                    | '\u{2212}'
                    | '\u{30FC}'
                    | '\u{FF08}'
                    | '\u{FF09}'
                    | '\u{FF0D}'
                    | '\u{FF0E}'
                    | '\u{FF0F}'
        )
}

/// Cut an extension ("x123", "ext. 5", "extension 12", "#12", ";ext=12", ", 12") off the
/// number. Any other letter makes the value unusable.
fn cut_phone_extension(s: &str) -> Result<&str, NormalizeError> {
    const MARKERS: [&str; 7] = [";ext=", "extension", "ext", "x", "#", ",", ";"];
    let Some((i, c)) = s
        .char_indices()
        .find(|&(_, c)| c.is_alphabetic() || matches!(c, '#' | ',' | ';'))
    else {
        return Ok(s);
    };
    let rest = &s[i..];
    for m in MARKERS {
        let Some(head) = rest.get(..m.len()) else {
            continue;
        };
        if !head.eq_ignore_ascii_case(m) {
            continue;
        }
        let tail = &rest[m.len()..];
        if tail.chars().all(|c| {
            unicode_digit(c).is_some() || is_phone_separator(c) || matches!(c, ':' | '=' | '.')
        }) {
            return Ok(&s[..i]);
        }
    }
    Err(if c.is_alphabetic() {
        PHONE_LETTERS
    } else {
        PHONE_BAD_CHARS
    })
}

/// Digits of the number (any script converted to ASCII) and whether it started with '+'.
fn extract_phone_digits(s: &str) -> Result<(String, bool), NormalizeError> {
    let s = match s.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("tel:") => trim(&s[4..]),
        _ => s,
    };
    let body = cut_phone_extension(s)?;
    let mut digits = String::with_capacity(body.len());
    let mut plus = false;
    for c in body.chars() {
        if let Some(v) = unicode_digit(c) {
            digits.push((b'0' + v) as char);
        } else if c == '+' || c == '\u{FF0B}' {
            if plus || !digits.is_empty() {
                return Err(PHONE_PLUS);
            }
            plus = true;
        } else if !is_phone_separator(c) {
            return Err(if c.is_alphabetic() {
                PHONE_LETTERS
            } else {
                PHONE_BAD_CHARS
            });
        }
    }
    Ok((digits, plus))
}

/// Length of the country calling code at the start of `d` (calling codes are prefix-free).
fn split_calling_code(d: &str) -> Option<usize> {
    (1..=3).find(|&n| {
        d.len() > n
            && d[..n]
                .parse::<u16>()
                .is_ok_and(|v| !d.starts_with('0') && CALLING_CODES.binary_search(&v).is_ok())
    })
}

/// Mexico abolished its national prefixes in 2019; people still type the old "1" mobile
/// prefix after +52, the "01" long-distance prefix and the "044"/"045" mobile prefixes.
fn mexico_fixup(n: &str) -> &str {
    match n.len() {
        11 if n.starts_with('1') => &n[1..],
        12 if n.starts_with("01") => &n[2..],
        13 if n.starts_with("044") || n.starts_with("045") => &n[3..],
        _ => n,
    }
}

/// Drop the national trunk prefix that people keep after an explicit country code
/// ("+44 (0)20 ...", "+49 0151 ...", "+1 1 415 ...").
fn strip_trunk_after_cc<'a>(national: &'a str, pc: Option<&PhoneCountry>) -> &'a str {
    let Some(pc) = pc else {
        // No detailed data: almost every country without data uses trunk "0" (the exceptions
        // where a leading 0 is significant are in the table with an empty trunk).
        return match national.strip_prefix('0') {
            Some(rest) if rest.len() >= 4 => rest,
            _ => national,
        };
    };
    let mut n = national;
    if !pc.trunk.is_empty() {
        if let Some(rest) = n.strip_prefix(pc.trunk) {
            if pc.trunk.starts_with('0') || pc.fits(rest.len()) {
                n = rest;
            }
        }
    }
    if pc.iso == "mx" {
        n = mexico_fixup(n);
    }
    n
}

fn finish_e164(
    cc: &str,
    national: &str,
    pc: Option<&PhoneCountry>,
) -> Result<String, NormalizeError> {
    if let Some(pc) = pc {
        if national.len() < pc.min as usize {
            return Err(PHONE_TOO_FEW);
        }
        if national.len() > pc.max as usize {
            return Err(PHONE_TOO_MANY);
        }
        if cc == "1" {
            // NANP: NXX-NXX-XXXX, area code and exchange cannot start with 0 or 1.
            let b = national.as_bytes();
            if b[0] < b'2' || b[3] < b'2' {
                return Err(PHONE_NANP);
            }
        }
    } else if national.len() < 4 {
        return Err(PHONE_TOO_FEW);
    }
    let total = cc.len() + national.len();
    if total < 7 {
        return Err(PHONE_TOO_FEW);
    }
    if total > 15 {
        return Err(PHONE_TOO_MANY);
    }
    // A national prefix still there (typed twice, "+44 0 020 ...", or left by a carrier code)
    // would be dropped when the result is read again: it would hash unlike itself normalized.
    if strip_trunk_after_cc(national, pc) != national {
        return Err(PHONE_TRUNK);
    }
    let mut out = String::with_capacity(total + 1);
    out.push('+');
    out.push_str(cc);
    out.push_str(national);
    Ok(out)
}

/// `d` starts with a country calling code (after '+' or an international prefix).
fn parse_international(d: &str) -> Result<String, NormalizeError> {
    let n = split_calling_code(d).ok_or(PHONE_UNKNOWN_CC)?;
    let (cc, rest) = d.split_at(n);
    let pc = phone_country_by_cc(cc);
    finish_e164(cc, strip_trunk_after_cc(rest, pc), pc)
}

fn parse_with_default(d: &str, pc: &PhoneCountry) -> Result<String, NormalizeError> {
    // National format with the trunk prefix: "07700 900123" (GB), "1 415 555 2671" (US).
    if !pc.trunk.is_empty() {
        if let Some(rest) = d.strip_prefix(pc.trunk) {
            if pc.trunk.starts_with('0') || pc.fits(rest.len()) {
                // Brazil: "0 XX AA NNNNNNNN" with a 2-digit carrier selection code.
                let rest = if pc.iso == "br" && (rest.len() == 12 || rest.len() == 13) {
                    &rest[2..]
                } else {
                    rest
                };
                return finish_e164(pc.cc, rest, Some(pc));
            }
        }
    }
    // Country code typed without '+': "447700900123" with default GB. For countries without a
    // trunk prefix only when the digits are too long to be a national number.
    if let Some(rest) = d.strip_prefix(pc.cc) {
        let rest = strip_trunk_after_cc(rest, Some(pc));
        if pc.fits(rest.len()) && (!pc.trunk.is_empty() || d.len() > pc.max as usize) {
            return finish_e164(pc.cc, rest, Some(pc));
        }
    }
    let national = if pc.iso == "mx" { mexico_fixup(d) } else { d };
    if pc.fits(national.len()) {
        return finish_e164(pc.cc, national, Some(pc));
    }
    // Another country's number typed without '+': "447700900123" with default US.
    if d.len() > pc.max as usize {
        if let Ok(e) = parse_international(d) {
            return Ok(e);
        }
    }
    Err(if national.len() < pc.min as usize {
        PHONE_TOO_FEW
    } else {
        PHONE_TOO_MANY
    })
}

/// Phone number in E.164 with the leading '+' (Google, LinkedIn, TikTok), e.g. "+14155552671".
///
/// `default_country` (ISO alpha-2 such as "us"/"GB", or anything
/// [`normalize_country`](super::normalize_country) understands) is used for numbers written in
/// national format. Handles:
/// * `+` and the international prefixes `00`, `011` (NANP), `0011` (AU), `010` (JP),
///   `810` (RU/KZ), `001` (KR), Brazil's `00`+carrier;
/// * the national trunk prefix ("0" for GB/DE/FR/..., "1" for NANP, "8" for RU, "06" for HU),
///   also when kept after the country code ("+44 (0)20 7946 0958"); Italy-style leading zeros
///   that are part of the number are kept;
/// * country code typed without '+' ("447700900123"); without a default country, digits-only
///   input longer than 10 digits is read as starting with a country code ("14155552671");
/// * extensions ("x123", "ext. 5", "#5") are dropped; any other letter is an error;
/// * non-ASCII digits (full-width, Arabic-Indic, Devanagari, ...).
///
/// National number lengths are checked for ~90 countries; others only get the E.164 limits
/// (7 to 15 digits in total). Known limit: Argentina's "15" mobile prefix in national format
/// is not rewritten.
pub fn normalize_phone(raw: &str, default_country: Option<&str>) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let (digits, plus) = extract_phone_digits(t)?;
    let d = digits.as_str();
    if d.len() < 7 {
        return Err(PHONE_TOO_FEW);
    }
    if d.len() > 20 {
        return Err(PHONE_TOO_MANY);
    }
    let default = default_country
        .and_then(lookup_country)
        .and_then(phone_country_by_iso);
    if plus {
        // "+07700 900123": a '+' typed in front of a national number.
        if let (Some(pc), true) = (default, d.starts_with('0')) {
            if !d.starts_with("00") {
                return parse_with_default(d, pc);
            }
        }
        return parse_international(d);
    }
    if let Some(pc) = default {
        if !pc.intl.is_empty() {
            if let Some(rest) = d.strip_prefix(pc.intl) {
                return parse_international(rest);
            }
        }
        if pc.iso == "br" && d.starts_with("00") && d.len() > 8 {
            return parse_international(&d[4..]);
        }
    }
    if let Some(rest) = d.strip_prefix("00") {
        return parse_international(rest);
    }
    match default {
        Some(pc) => parse_with_default(d, pc),
        None if d.len() > 10 && !d.starts_with('0') => parse_international(d).map_err(|e| {
            if e == PHONE_UNKNOWN_CC {
                PHONE_NO_CC
            } else {
                e
            }
        }),
        None => Err(PHONE_NO_CC),
    }
}

/// Phone number for Meta: E.164 digits without the '+' (Meta: "remove symbols, letters, and
/// any leading zeros ... must include a country code"), e.g. "14155552671".
pub fn normalize_phone_meta(
    raw: &str,
    default_country: Option<&str>,
) -> Result<String, NormalizeError> {
    let mut s = normalize_phone(raw, default_country)?;
    if s.starts_with('+') {
        s.remove(0);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::normalize::testing::{err, ok};

    fn phone(raw: &str, country: Option<&str>) -> Result<String, NormalizeError> {
        normalize_phone(raw, country)
    }

    #[test]
    fn phone_us_and_nanp() {
        let e = "+14155552671";
        ok(phone("+1 (415) 555-2671", None), e);
        ok(phone("001 415 555 2671", None), e);
        ok(phone("001 415 555 2671", Some("us")), e);
        ok(phone("(415) 555-2671", Some("us")), e);
        ok(phone("415.555.2671", Some("US")), e);
        ok(phone("1-415-555-2671", Some("us")), e);
        ok(phone("14155552671", None), e);
        ok(phone("+1 415 555 2671 x123", None), e);
        ok(phone("415-555-2671 ext. 5", Some("us")), e);
        ok(phone("415 555 2671 extension 12", Some("united states")), e);
        ok(phone("415-555-2671 #22", Some("usa")), e);
        ok(phone("+1-415-555-2671;ext=99", None), e);
        ok(phone("tel:+1-415-555-2671", None), e);
        ok(phone("+1 1 415 555 2671", None), e);
        ok(phone("(416) 555-0199", Some("ca")), "+14165550199");
        // Another country's number typed without '+' on a US site.
        ok(phone("447700900123", Some("us")), "+447700900123");
        ok(phone("011 44 20 7946 0958", Some("us")), "+442079460958");
        err(phone("+1 123 456 7890", None), PHONE_NANP);
        err(phone("(415) 155-2671", Some("us")), PHONE_NANP);
        err(phone("555-1234", Some("us")), PHONE_TOO_FEW);
        err(phone("+1 415 555 26711", None), PHONE_TOO_MANY);
    }

    #[test]
    fn phone_europe() {
        let uk = "+447700900123";
        ok(phone("07700 900123", Some("gb")), uk);
        ok(phone("07700 900123", Some("uk")), uk);
        ok(phone("7700 900123", Some("gb")), uk);
        ok(phone("+07700 900123", Some("gb")), uk);
        ok(phone("447700900123", Some("gb")), uk);
        ok(phone("+44 7700 900123", None), uk);
        ok(phone("+44 (0)7700 900123", None), uk);
        ok(phone("+44 (0)20 7946 0958", None), "+442079460958");
        ok(phone("0044 20 7946 0958", None), "+442079460958");
        ok(phone("020 7946 0958", Some("gb")), "+442079460958");
        // Germany
        ok(phone("0151 23456789", Some("de")), "+4915123456789");
        ok(phone("+49 (0)30 1234567", None), "+49301234567");
        ok(phone("030 1234567", Some("Germany")), "+49301234567");
        ok(phone("0049 151 23456789", Some("de")), "+4915123456789");
        // Spain: no trunk prefix
        ok(phone("612 34 56 78", Some("es")), "+34612345678");
        ok(phone("+34 612 34 56 78", None), "+34612345678");
        ok(phone("34612345678", Some("es")), "+34612345678");
        // France
        ok(phone("06 12 34 56 78", Some("fr")), "+33612345678");
        ok(phone("+33 (0)6 12 34 56 78", None), "+33612345678");
        ok(phone("01 42 86 83 26", Some("fr")), "+33142868326");
        // Italy keeps the leading 0 of landlines
        ok(phone("06 1234 5678", Some("it")), "+390612345678");
        ok(phone("+39 06 1234 5678", None), "+390612345678");
        ok(phone("333 123 4567", Some("it")), "+393331234567");
        // Russia (trunk 8), Hungary (trunk 06)
        ok(phone("8 (912) 345-67-89", Some("ru")), "+79123456789");
        ok(phone("+7 912 345 67 89", None), "+79123456789");
        ok(phone("06 30 123 4567", Some("hu")), "+36301234567");
        err(phone("0612 34 56 78 99", Some("fr")), PHONE_TOO_MANY);
    }

    #[test]
    fn phone_americas_asia_oceania() {
        // Brazil
        ok(phone("(11) 98765-4321", Some("br")), "+5511987654321");
        ok(phone("011 98765 4321", Some("br")), "+5511987654321");
        ok(phone("0 21 11 98765 4321", Some("br")), "+5511987654321");
        ok(phone("+55 11 98765-4321", None), "+5511987654321");
        ok(phone("(21) 2345-6789", Some("Brasil")), "+552123456789");
        // Mexico, including the legacy mobile "1" and "044" prefixes
        ok(phone("55 1234 5678", Some("mx")), "+525512345678");
        ok(phone("+52 1 55 1234 5678", None), "+525512345678");
        ok(phone("044 55 1234 5678", Some("mx")), "+525512345678");
        ok(phone("+52 55 1234 5678", None), "+525512345678");
        // India
        ok(phone("098765 43210", Some("in")), "+919876543210");
        ok(phone("98765 43210", Some("in")), "+919876543210");
        ok(phone("+91 98765 43210", None), "+919876543210");
        ok(phone("919876543210", Some("in")), "+919876543210");
        // Australia
        ok(phone("0412 345 678", Some("au")), "+61412345678");
        ok(phone("(02) 9374 4000", Some("au")), "+61293744000");
        ok(phone("0011 1 415 555 2671", Some("au")), "+14155552671");
        // Japan
        ok(phone("090-1234-5678", Some("jp")), "+819012345678");
        ok(phone("03-1234-5678", Some("jp")), "+81312345678");
        ok(phone("+81 3-1234-5678", None), "+81312345678");
        ok(phone("010 1 415 555 2671", Some("jp")), "+14155552671");
    }

    #[test]
    fn phone_unicode_digits() {
        ok(phone("＋１ ４１５ ５５５ ２６７１", None), "+14155552671");
        ok(phone("٠٥٠١٢٣٤٥٦٧", Some("ae")), "+971501234567");
        ok(phone("+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹", None), "+989123456789");
        ok(phone("+91 ९८७६५ ४३२१०", None), "+919876543210");
    }

    #[test]
    fn phone_errors() {
        err(phone("12345", None), PHONE_TOO_FEW);
        err(phone("1-800-FLOWERS", Some("us")), PHONE_LETTERS);
        err(phone("call me maybe", None), PHONE_LETTERS);
        err(phone("(415) 555-2671", None), PHONE_NO_CC);
        err(phone("07700 900123", None), PHONE_NO_CC);
        err(phone("4155552671", Some("zz")), PHONE_NO_CC);
        err(phone("+999 1234567", None), PHONE_UNKNOWN_CC);
        err(phone("+07700 900123", None), PHONE_UNKNOWN_CC);
        err(phone("+44 7700 900123 +1", None), PHONE_PLUS);
        err(phone("415*555*2671", Some("us")), PHONE_BAD_CHARS);
        err(phone("+1234567890123456", None), PHONE_TOO_MANY);
        err(phone("+44 12 34", None), PHONE_TOO_FEW);
    }

    #[test]
    fn phone_meta_format() {
        ok(
            normalize_phone_meta("+1 (415) 555-2671", None),
            "14155552671",
        );
        ok(
            normalize_phone_meta("+44 (0)20 7946 0958", None),
            "442079460958",
        );
        ok(
            normalize_phone_meta("07700 900123", Some("gb")),
            "447700900123",
        );
        // Meta docs worked example, with its published hash.
        let n = normalize_phone_meta("(650)555-1212", Some("us")).unwrap();
        assert_eq!(n, "16505551212");
        assert_eq!(
            sha256_hex(&n),
            "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"
        );
        err(normalize_phone_meta("555", Some("us")), PHONE_TOO_FEW);
    }
}
