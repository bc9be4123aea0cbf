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

use super::calendar;
use super::hash::is_sha256_hex;
use std::borrow::Cow;
use std::fmt;

/// Why a value cannot be used. The message is short and human-readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormalizeError(pub &'static str);

impl fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NormalizeError {}

/// The `today` of [`normalize_dob_at`] from a Unix timestamp; on Cloudflare Workers (no std
/// clock): `yyyymmdd_from_unix_secs((js_sys::Date::now() / 1000.0) as u64)`.
pub use calendar::yyyymmdd_from_unix_secs;

const EMPTY: NormalizeError = NormalizeError("empty");
const NOT_EMAIL: NormalizeError = NormalizeError("not an email address");
const PHONE_TOO_FEW: NormalizeError = NormalizeError("phone number has too few digits");
const PHONE_TOO_MANY: NormalizeError = NormalizeError("phone number has too many digits");
const PHONE_LETTERS: NormalizeError = NormalizeError("phone number contains letters");
const PHONE_BAD_CHARS: NormalizeError = NormalizeError("phone number contains invalid characters");
const PHONE_PLUS: NormalizeError = NormalizeError("phone number has a misplaced '+'");
const PHONE_NO_CC: NormalizeError = NormalizeError("phone number has no country code");
const PHONE_UNKNOWN_CC: NormalizeError = NormalizeError("unknown country calling code");
const PHONE_NANP: NormalizeError = NormalizeError("not a valid North American phone number");
const NAME_NO_LETTERS: NormalizeError = NormalizeError("name has no letters");
const CITY_NO_LETTERS: NormalizeError = NormalizeError("city has no letters");
const CITY_LETTER_FIRST: NormalizeError = NormalizeError("city must start with a letter");
const STATE_NO_LETTERS: NormalizeError = NormalizeError("state has no letters");
const STATE_LETTER_FIRST: NormalizeError = NormalizeError("state must start with a letter");
const STATE_NOT_US: NormalizeError = NormalizeError("not a US state");
const STATE_NOT_CA: NormalizeError = NormalizeError("not a Canadian province or territory");
const ZIP_BAD_CHARS: NormalizeError = NormalizeError("postal code contains invalid characters");
const ZIP_TOO_SHORT: NormalizeError = NormalizeError("postal code is too short");
const ZIP_TOO_LONG: NormalizeError = NormalizeError("postal code is too long");
const ZIP_US: NormalizeError = NormalizeError("US zip code must have 5 digits");
const UNKNOWN_COUNTRY: NormalizeError = NormalizeError("unknown country");
const NOT_DATE: NormalizeError = NormalizeError("not a date");
const DATE_YEAR_DIGITS: NormalizeError = NormalizeError("year must have 4 digits");
const DATE_BEFORE_1900: NormalizeError = NormalizeError("year is before 1900");
const DATE_INVALID: NormalizeError = NormalizeError("not a real calendar date");
const DATE_FUTURE: NormalizeError = NormalizeError("date is in the future");
const GENDER_UNKNOWN: NormalizeError = NormalizeError("gender must be female or male");

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// Invisible format characters people paste along with text (zero-width space/joiners,
/// direction marks, word joiner, BOM, soft hyphen).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

fn trim(s: &str) -> &str {
    if has_visible_ascii_ends(s) {
        return s;
    }
    s.trim_matches(|c: char| c.is_whitespace() || c.is_control() || is_invisible(c))
}

/// True when `s` begins and ends with a visible ASCII character: then there is nothing to trim,
/// by any rule (whitespace, control and invisible characters are none of them). Most values are
/// like that, and `trim_matches` walks them through the general pattern machinery.
pub(crate) fn has_visible_ascii_ends(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_graphic) && b.last().is_some_and(u8::is_ascii_graphic)
}

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

/// Trim; return early with `Err("empty")` or with the lowercased hash when the input is
/// already a SHA-256 hex digest; otherwise evaluate to the trimmed `&str`.
macro_rules! trimmed_or_return {
    ($raw:expr) => {
        match pre($raw)? {
            Pre::Hashed(h) => return Ok(h),
            Pre::Raw(t) => t,
        }
    };
}

/// Decimal value of a digit in ASCII, full-width or a few common native scripts
/// (Arabic-Indic, Extended Arabic-Indic/Persian, Devanagari, Bengali, Thai).
fn unicode_digit(c: char) -> Option<u8> {
    const ZEROS: [u32; 8] = [0x30, 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0xFF10, 0x1D7CE];
    let cp = c as u32;
    if c.is_ascii_digit() {
        return Some(cp as u8 - b'0');
    }
    if cp < 0x660 {
        return None;
    }
    ZEROS[1..]
        .iter()
        .find(|&&z| cp >= z && cp <= z + 9)
        .map(|&z| (cp - z) as u8)
}

fn fold_latin(c: char) -> Option<&'static str> {
    LATIN_FOLD
        .binary_search_by(|(k, _)| k.cmp(&c))
        .ok()
        .map(|i| LATIN_FOLD[i].1)
}

/// Lookup key: lowercase, Latin diacritics folded to ASCII (`ü` -> `u`, `ß` -> `ss`),
/// only letters kept (spaces, punctuation and digits dropped). Non-Latin letters are kept
/// as-is (Greek final sigma is mapped to `σ` so case does not matter). Borrowed when `s` already
/// is a key (lowercase ASCII letters, e.g. a country code), as it is for most lookups.
fn fold_key(s: &str) -> Cow<'_, str> {
    if s.bytes().all(|b| b.is_ascii_lowercase()) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                out.push(c.to_ascii_lowercase());
            }
            continue;
        }
        for lc in c.to_lowercase() {
            if lc.is_ascii() {
                if lc.is_ascii_alphabetic() {
                    out.push(lc);
                }
            } else if let Some(f) = fold_latin(lc) {
                out.push_str(f);
            } else if lc == 'ς' {
                out.push('σ');
            } else if lc.is_alphabetic() {
                out.push(lc);
            }
        }
    }
    Cow::Owned(out)
}

/// Compose decomposed Latin letters (base + one combining mark) into the precomposed form,
/// so that NFD input (`e` + U+0301) hashes like NFC input (`é`). Other scripts are untouched.
fn compose_latin(s: &str) -> Cow<'_, str> {
    if s.is_ascii() || !s.chars().any(|c| ('\u{0300}'..='\u{036F}').contains(&c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if let Some(p) = prev {
            if let Ok(i) = LATIN_COMPOSE.binary_search_by(|&(b, m, _)| (b, m).cmp(&(p, c))) {
                prev = Some(LATIN_COMPOSE[i].2);
                continue;
            }
            out.push(p);
        }
        prev = Some(c);
    }
    if let Some(p) = prev {
        out.push(p);
    }
    Cow::Owned(out)
}

/// Non-ASCII punctuation, symbols and emoji that are never part of a name.
fn is_unicode_punct_or_symbol(c: char) -> bool {
    matches!(
        c as u32,
        0x00A1..=0x00A9
            | 0x00AB..=0x00B4
            | 0x00B6..=0x00B9
            | 0x00BB..=0x00BF
            | 0x00D7
            | 0x00F7
            | 0x02B9
            | 0x02BC // modifier letter apostrophe, used as an apostrophe (Oʼbrien)
            | 0x2010..=0x2027 // dashes, curly quotes, bullets, ellipsis
            | 0x2030..=0x205E
            | 0x20A0..=0x20CF // currency
            | 0x2190..=0x2BFF // arrows, math, technical, shapes, dingbats
            | 0x3001..=0x3004
            | 0x3008..=0x3020
            | 0x3030
            | 0x303D
            | 0x30FB // katakana middle dot (ジョン・スミス)
            | 0xFE00..=0xFE0F // variation selectors
            | 0xFE10..=0xFE19
            | 0xFE30..=0xFE6B
            | 0xFF01..=0xFF0F
            | 0xFF1A..=0xFF20
            | 0xFF3B..=0xFF40
            | 0xFF5B..=0xFF65
            | 0x1F000..=0x1FAFF // emoji and pictographs
    )
}

/// Characters dropped from names: whitespace, ASCII punctuation (exactly the set Meta's
/// library strips), plus Unicode punctuation/symbols/emoji and invisible characters.
fn is_name_junk(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || c.is_control()
        || is_invisible(c)
        || is_unicode_punct_or_symbol(c)
}

fn lowercase_owned(mut s: String) -> String {
    if s.is_ascii() {
        s.make_ascii_lowercase();
        s
    } else {
        s.to_lowercase()
    }
}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

/// Peel what people paste around an address: `mailto:` (and its `?subject=` query),
/// `Name <addr>`, surrounding quotes/brackets and trailing sentence punctuation.
fn unwrap_pasted_email(s: &str) -> &str {
    let mut s = s;
    if s.ends_with('>') {
        if let Some(l) = s.rfind('<') {
            s = &s[l + 1..s.len() - 1];
        }
    }
    loop {
        let before = s;
        s = trim(s).trim_end_matches(['.', ',', ';', ':']);
        if s.len() >= 7 && s.is_char_boundary(7) && s[..7].eq_ignore_ascii_case("mailto:") {
            s = &s[7..];
            if let Some(q) = s.find('?') {
                s = &s[..q];
            }
        }
        for (open, close) in [
            ('<', '>'),
            ('"', '"'),
            ('\'', '\''),
            ('(', ')'),
            ('[', ']'),
            ('“', '”'),
            ('‘', '’'),
            ('«', '»'),
        ] {
            if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
                s = inner;
            }
        }
        if s.len() == before.len() {
            return s;
        }
    }
}

fn is_email_local_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_!#$%&'*+/=?^`{|}~-".contains(&b)
}

/// Same grammar as Meta's `EMAIL_RE` ("good approximation of RFC 2822"): dot-separated atoms
/// of `[\w!#$%&'*+/=?^`{|}~-]` in the local part; at least two dot-separated domain labels of
/// `[a-z0-9]([a-z0-9-]*[a-z0-9])?`. ASCII only (internationalized addresses are rejected, as
/// in Meta's library). RFC length limits (64 local, 254 total, 63 per label) added.
fn is_valid_email(s: &str) -> bool {
    if s.len() > 254 {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return false;
    }
    if !local
        .split('.')
        .all(|atom| !atom.is_empty() && atom.bytes().all(is_email_local_byte))
    {
        return false;
    }
    let mut labels = 0;
    for label in domain.split('.') {
        let b = label.as_bytes();
        if b.is_empty() || b.len() > 63 {
            return false;
        }
        if !b
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        {
            return false;
        }
        if b[0] == b'-' || b[b.len() - 1] == b'-' {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

/// Email for Meta, LinkedIn and TikTok: trimmed and lowercased (Meta `getNormalizedEmail`),
/// after peeling `mailto:`, `Name <...>` and surrounding quotes/brackets; validated with the
/// same grammar as Meta's library.
pub fn normalize_email(raw: &str) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let s = unwrap_pasted_email(t);
    let s = lowercase_owned(s.to_string());
    if is_valid_email(&s) {
        Ok(s)
    } else {
        Err(NOT_EMAIL)
    }
}

/// Email for Google (enhanced conversions, GA4 Measurement Protocol `user_data`): as
/// [`normalize_email`], then all `.` removed from the local part of `gmail.com` and
/// `googlemail.com` addresses. The `+tag` is kept: Google's docs and its official client
/// library samples (`normalize_and_hash_email_address`) only remove the dots.
pub fn normalize_email_google(raw: &str) -> Result<String, NormalizeError> {
    normalize_email(raw).map(|e| google_email_from_normalized(&e).into_owned())
}

/// [`normalize_email_google`] of an address [`normalize_email`] already normalized (the intake
/// needs both and normalizes once): borrowed when Google's rules change nothing.
pub fn google_email_from_normalized(email: &str) -> Cow<'_, str> {
    let Some((local, domain)) = email.split_once('@') else {
        return Cow::Borrowed(email); // a passed-through hash
    };
    if (domain == "gmail.com" || domain == "googlemail.com") && local.contains('.') {
        let mut out = String::with_capacity(email.len());
        out.extend(local.chars().filter(|&c| c != '.'));
        out.push('@');
        out.push_str(domain);
        return Cow::Owned(out);
    }
    Cow::Borrowed(email)
}

// ---------------------------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------------------------

/// Dialing data for one country.
struct PhoneCountry {
    /// ISO 3166-1 alpha-2, lowercase.
    iso: &'static str,
    /// Country calling code, digits only.
    cc: &'static str,
    /// National trunk prefix dropped after the country code ("0" in most of Europe/Asia,
    /// "1" in NANP, "8" in Russia/Kazakhstan, "06" in Hungary, "" where there is none or
    /// where the leading 0 is part of the number, as in Italy).
    trunk: &'static str,
    /// International call prefix other than the universal "00" (e.g. "011" in NANP).
    intl: &'static str,
    /// Range of the national significant number length (digits after the country code).
    min: u8,
    max: u8,
}

const fn pc(
    iso: &'static str,
    cc: &'static str,
    trunk: &'static str,
    intl: &'static str,
    min: u8,
    max: u8,
) -> PhoneCountry {
    PhoneCountry {
        iso,
        cc,
        trunk,
        intl,
        min,
        max,
    }
}

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
/// `default_country` (ISO alpha-2 such as "us"/"GB", or anything [`normalize_country`]
/// understands) is used for numbers written in national format. Handles:
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

// ---------------------------------------------------------------------------------------------
// Names, city, state
// ---------------------------------------------------------------------------------------------

/// First or last name (Meta `getNormalizedName`: strip whitespace and punctuation, lowercase).
///
/// * Letters of every script are kept and lowercased with Unicode rules: "José" -> "josé",
///   "ÉLODIE" -> "élodie", "Дмитрий" -> "дмитрий", "山田" -> "山田".
/// * Spaces, hyphens and apostrophes are removed like every other punctuation, as in Meta's
///   library: "Mary-Jane" -> "maryjane", "O'Brien" -> "obrien", "van der Berg" -> "vanderberg".
///   Unicode punctuation (curly apostrophe "O’Brien", dashes), symbols and emoji are removed
///   too (Meta's library only strips ASCII punctuation; its docs say "no punctuation").
/// * Digits are kept, titles are not removed ("Dr. Smith" -> "drsmith"), as in Meta's library.
/// * A value without any letter is rejected.
pub fn normalize_name(raw: &str) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let composed = compose_latin(t);
    // Lowercased while kept, in one pass. Char by char is what `str::to_lowercase` does too, except
    // for the Greek capital sigma, whose lowercase depends on its neighbours: names holding one
    // are lowercased as a whole afterwards.
    let has_sigma = composed.contains('Σ');
    let mut kept = String::with_capacity(composed.len());
    let mut has_letter = false;
    for c in composed.chars() {
        if c.is_ascii() {
            // The ASCII characters that are no junk are exactly letters and digits.
            if c.is_ascii_alphanumeric() {
                has_letter |= c.is_ascii_alphabetic();
                kept.push(c.to_ascii_lowercase());
            }
            continue;
        }
        if is_name_junk(c) {
            continue;
        }
        has_letter |= c.is_alphabetic();
        if has_sigma {
            kept.push(c);
        } else {
            kept.extend(c.to_lowercase());
        }
    }
    if !has_letter {
        return Err(NAME_NO_LETTERS);
    }
    Ok(if has_sigma { kept.to_lowercase() } else { kept })
}

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

/// Words that do not change which state is meant: "State of California", "New York State",
/// "Commonwealth of Massachusetts", "Province of Québec", "Texas, USA".
const STATE_FILLER: &[&str] = &[
    "state",
    "of",
    "the",
    "commonwealth",
    "province",
    "territory",
    "usa",
    "us",
    "canada",
    "unitedstates",
];

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

// ---------------------------------------------------------------------------------------------
// Zip, country
// ---------------------------------------------------------------------------------------------

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

/// ISO alpha-2 (lowercase, `'static`) for a country code or name, if known.
fn lookup_country(raw: &str) -> Option<&'static str> {
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

// ---------------------------------------------------------------------------------------------
// Date of birth
// ---------------------------------------------------------------------------------------------

/// Today's UTC date as YYYYMMDD. On `wasm32-unknown-unknown` (Cloudflare Workers) std has no
/// clock, so this returns 9999-12-31 and only [`normalize_dob_at`] can reject future dates.
fn today_yyyymmdd() -> u32 {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        use std::time::{SystemTime, UNIX_EPOCH};
        if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH) {
            return yyyymmdd_from_unix_secs(d.as_secs());
        }
    }
    99_991_231
}

fn month_from_word(key: &str) -> Option<u32> {
    MONTHS.iter().find(|(k, _)| *k == key).map(|(_, m)| *m)
}

/// Resolve three numbers where exactly one is a 4-digit year, with Meta's library's rules
/// (`getYearMonthDayFromNumbers`): year first -> Y-M-D (Y-D-M if the middle one is > 12);
/// year last -> month first (M-D-Y) unless the first number is > 12 (then D-M-Y). So an
/// ambiguous "05/06/1990" is read US-style as May 6th, like Meta does.
fn ymd_from_three(nums: &[(u32, usize)]) -> Result<(u32, u32, u32), NormalizeError> {
    let mut year_at = None;
    for (i, &(_, len)) in nums.iter().enumerate() {
        if len == 4 && year_at.is_none() {
            year_at = Some(i);
        } else if len > 2 {
            return Err(DATE_YEAR_DIGITS);
        }
    }
    let Some(year_at) = year_at else {
        return Err(DATE_YEAR_DIGITS);
    };
    let (n1, n2, n3) = (nums[0].0, nums[1].0, nums[2].0);
    Ok(match year_at {
        0 if n2 > 12 => (n1, n3, n2),
        0 => (n1, n2, n3),
        1 if n3 > 12 => (n2, n1, n3),
        1 => (n2, n3, n1),
        _ if n1 > 12 => (n3, n2, n1),
        _ => (n3, n1, n2),
    })
}

fn check_date(y: u32, m: u32, d: u32, today: u32) -> Result<String, NormalizeError> {
    if y < 1900 {
        return Err(DATE_BEFORE_1900);
    }
    if !(1..=12).contains(&m) || d == 0 || d > calendar::days_in_month(i64::from(y), m) {
        return Err(DATE_INVALID);
    }
    let v = y * 10_000 + m * 100 + d;
    if v > today {
        return Err(DATE_FUTURE);
    }
    // YYYYMMDD: eight digits, y having four (1900..=9999). Digit by digit: `format!` cost more
    // than the rest of the date parsing.
    Ok((0..8)
        .rev()
        .map(|i| char::from(b'0' + (v / 10u32.pow(i) % 10) as u8))
        .collect())
}

/// Date of birth as "YYYYMMDD" (Meta, TikTok), checked against today's date. See
/// [`normalize_dob_at`] for the accepted formats; on Cloudflare Workers (no std clock) the
/// "not in the future" check needs [`normalize_dob_at`].
pub fn normalize_dob(raw: &str) -> Result<String, NormalizeError> {
    normalize_dob_at(raw, today_yyyymmdd())
}

/// Date of birth as "YYYYMMDD", with `today` given as YYYYMMDD (UTC; one day of slack is
/// allowed for time zones ahead of UTC).
///
/// Accepts any separators ("1990-05-17", "17/05/1990", "05/17/1990", "1990/05/17",
/// "17.05.1990"), 8 digits ("19900517", or "17051990"/"05171990" when not a valid YYYYMMDD),
/// ISO date-times ("1990-05-17T00:00:00Z"), and month names in English, Spanish, French,
/// German, Portuguese, Italian and Dutch ("May 17, 1990", "17 May 1990", "17. März 1990",
/// "17th of May 1990"). Numeric day/month order follows Meta's library: day-first only when
/// the first number is > 12, otherwise month-first (US style). The year must have 4 digits
/// (2-digit years are rejected, as in Meta's library), be >= 1900 (Meta docs: "from 1900 to
/// current year"), and the date must exist (leap years checked).
pub fn normalize_dob_at(raw: &str, today: u32) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let b = t.as_bytes();
    // ISO 8601 date-time: keep the date.
    let t = if b.len() > 10
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        && b[..4].iter().all(u8::is_ascii_digit)
    {
        &t[..10]
    } else {
        t
    };
    // Spreadsheet exports with a time: "5/17/1990 0:00", "17.05.1990 12:00:00 AM".
    let t = match t.find(':') {
        Some(colon) => match t[..colon].rfind(char::is_whitespace) {
            Some(ws) => trim(&t[..ws]),
            None => t,
        },
        None => t,
    };
    let today = calendar::day_after_yyyymmdd(today);

    // (value, digit count) of the numbers met, at most three.
    let mut nums = [(0u32, 0usize); 3];
    let mut count = 0;
    let mut month: Option<u32> = None;
    let mut chars = t.chars().peekable();
    while let Some(&c) = chars.peek() {
        if unicode_digit(c).is_some() {
            let (mut v, mut len) = (0u32, 0usize);
            while let Some(dg) = chars.peek().and_then(|&c| unicode_digit(c)) {
                if len == 8 {
                    return Err(NOT_DATE);
                }
                v = v * 10 + u32::from(dg);
                len += 1;
                chars.next();
            }
            if count == 3 {
                return Err(NOT_DATE);
            }
            nums[count] = (v, len);
            count += 1;
        } else if c.is_alphabetic() {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if !c.is_alphabetic() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            let key = fold_key(&word);
            if let Some(m) = month_from_word(&key) {
                if month.replace(m).is_some() {
                    return Err(NOT_DATE);
                }
            } else if !DATE_FILLER.contains(&key.as_ref()) {
                return Err(NOT_DATE);
            }
        } else {
            chars.next();
        }
    }

    let (y, m, d) = if let Some(m) = month {
        match &nums[..count] {
            [(y, 4), (d, 1..=2)] | [(d, 1..=2), (y, 4)] => (*y, m, *d),
            [_, _] => return Err(DATE_YEAR_DIGITS),
            _ => return Err(NOT_DATE),
        }
    } else {
        match &nums[..count] {
            [(v, 8)] => {
                let v = *v;
                let (y, m, d) = (v / 10_000, v / 100 % 100, v % 100);
                if y >= 1900
                    && (1..=12).contains(&m)
                    && d >= 1
                    && d <= calendar::days_in_month(i64::from(y), m)
                {
                    (y, m, d)
                } else {
                    ymd_from_three(&[(v / 1_000_000, 2), (v / 10_000 % 100, 2), (v % 10_000, 4)])?
                }
            }
            [_, _, _] => ymd_from_three(&nums)?,
            [(_, 6)] => return Err(DATE_YEAR_DIGITS),
            _ => return Err(NOT_DATE),
        }
    };
    check_date(y, m, d, today)
}

// ---------------------------------------------------------------------------------------------
// Gender, external id
// ---------------------------------------------------------------------------------------------

/// Gender as "f" or "m" (Meta, TikTok). Accepts Meta's library's word lists (female/woman/
/// girl/mrs/ms/she/f..., male/man/boy/mr/he/m...) plus common words in Spanish, Portuguese,
/// French, German, Italian, Dutch, Scandinavian, Finnish, Polish, Czech, Turkish, Russian,
/// Chinese/Japanese and Korean
/// ("femenino", "mujer", "feminino", "femme", "weiblich", "w", "masculino", "hombre", "homme",
/// "männlich", "男", "女"). Anything else (including non-binary values, which the platforms do
/// not accept) is an error.
pub fn normalize_gender(raw: &str) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let key = fold_key(t);
    GENDERS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, g)| g.to_string())
        .ok_or(GENDER_UNKNOWN)
}

/// External id (Meta `getNormalizedExternalID`): all whitespace removed and lowercased;
/// everything else is kept ("ABC-123" -> "abc-123", "User 42" -> "user42").
pub fn normalize_external_id(raw: &str) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let mut s = String::with_capacity(t.len());
    s.extend(
        t.chars()
            .filter(|&c| !c.is_whitespace() && !is_invisible(c)),
    );
    Ok(lowercase_owned(s))
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

/// Dialing data: ISO, calling code, trunk prefix, international prefix (besides "00"), national
/// significant number length range. Lengths are deliberately generous (from ITU national
/// numbering plans / libphonenumber metadata); they only catch clearly wrong input.
static PHONE_COUNTRIES: &[PhoneCountry] = &[
    // North American Numbering Plan
    pc("us", "1", "1", "011", 10, 10),
    pc("ca", "1", "1", "011", 10, 10),
    pc("pr", "1", "1", "011", 10, 10),
    pc("do", "1", "1", "011", 10, 10),
    pc("jm", "1", "1", "011", 10, 10),
    pc("tt", "1", "1", "011", 10, 10),
    // Europe
    pc("gb", "44", "0", "", 7, 10),
    pc("ie", "353", "0", "", 7, 10),
    pc("de", "49", "0", "", 6, 13),
    pc("at", "43", "0", "", 4, 13),
    pc("ch", "41", "0", "", 9, 12),
    pc("fr", "33", "0", "", 9, 9),
    pc("be", "32", "0", "", 8, 9),
    pc("nl", "31", "0", "", 8, 10),
    pc("lu", "352", "", "", 4, 11),
    pc("es", "34", "", "", 9, 9),
    pc("pt", "351", "", "", 9, 9),
    pc("it", "39", "", "", 6, 11),
    pc("sm", "378", "", "", 6, 10),
    pc("gr", "30", "", "", 10, 10),
    pc("mt", "356", "", "", 8, 8),
    pc("cy", "357", "", "", 8, 8),
    pc("dk", "45", "", "", 8, 8),
    pc("no", "47", "", "", 5, 8),
    pc("se", "46", "0", "", 6, 10),
    pc("fi", "358", "0", "", 5, 12),
    pc("is", "354", "", "", 7, 9),
    pc("pl", "48", "", "", 9, 9),
    pc("cz", "420", "", "", 9, 9),
    pc("sk", "421", "0", "", 9, 9),
    pc("hu", "36", "06", "", 8, 9),
    pc("ro", "40", "0", "", 9, 9),
    pc("bg", "359", "0", "", 6, 9),
    pc("hr", "385", "0", "", 6, 9),
    pc("si", "386", "0", "", 8, 8),
    pc("rs", "381", "0", "", 6, 12),
    pc("ee", "372", "", "", 7, 8),
    pc("lv", "371", "", "", 8, 8),
    pc("ua", "380", "0", "", 9, 9),
    pc("ru", "7", "8", "810", 10, 10),
    pc("kz", "7", "8", "810", 10, 10),
    pc("tr", "90", "0", "", 10, 10),
    // Middle East and Africa
    pc("il", "972", "0", "", 8, 9),
    pc("ae", "971", "0", "", 8, 9),
    pc("sa", "966", "0", "", 8, 9),
    pc("qa", "974", "", "", 7, 8),
    pc("kw", "965", "", "", 7, 8),
    pc("bh", "973", "", "", 8, 8),
    pc("jo", "962", "0", "", 8, 9),
    pc("lb", "961", "0", "", 7, 8),
    pc("eg", "20", "0", "", 8, 10),
    pc("ma", "212", "0", "", 9, 9),
    pc("dz", "213", "0", "", 8, 9),
    pc("tn", "216", "", "", 8, 8),
    pc("ng", "234", "0", "", 8, 10),
    pc("gh", "233", "0", "", 9, 9),
    pc("ke", "254", "0", "", 9, 9),
    pc("za", "27", "0", "", 9, 9),
    pc("ci", "225", "", "", 10, 10),
    pc("cg", "242", "", "", 9, 9),
    // Asia and Oceania
    pc("in", "91", "0", "", 10, 10),
    pc("pk", "92", "0", "", 8, 11),
    pc("bd", "880", "0", "", 8, 10),
    pc("lk", "94", "0", "", 9, 9),
    pc("np", "977", "0", "", 8, 10),
    pc("cn", "86", "0", "", 8, 11),
    pc("hk", "852", "", "", 8, 8),
    pc("mo", "853", "", "", 8, 8),
    pc("tw", "886", "0", "", 8, 9),
    pc("jp", "81", "0", "010", 9, 10),
    pc("kr", "82", "0", "001", 8, 10),
    pc("sg", "65", "", "", 8, 8),
    pc("my", "60", "0", "", 8, 10),
    pc("th", "66", "0", "", 8, 9),
    pc("vn", "84", "0", "", 9, 10),
    pc("ph", "63", "0", "", 8, 10),
    pc("id", "62", "0", "", 8, 12),
    pc("au", "61", "0", "0011", 9, 9),
    pc("nz", "64", "0", "", 8, 10),
    // Latin America
    pc("br", "55", "0", "", 10, 11),
    pc("mx", "52", "", "", 10, 10),
    pc("ar", "54", "0", "", 10, 11),
    pc("cl", "56", "", "", 9, 9),
    pc("co", "57", "", "", 8, 10),
    pc("pe", "51", "0", "", 8, 9),
    pc("ve", "58", "0", "", 10, 10),
    pc("ec", "593", "0", "", 8, 9),
    pc("uy", "598", "0", "", 8, 8),
    pc("py", "595", "0", "", 9, 9),
    pc("bo", "591", "0", "", 8, 8),
    pc("cr", "506", "", "", 8, 8),
    pc("pa", "507", "", "", 7, 8),
    pc("gt", "502", "", "", 8, 8),
    pc("sv", "503", "", "", 8, 8),
    pc("hn", "504", "", "", 8, 8),
];

/// Assigned geographic country calling codes (ITU-T E.164), sorted. Prefix-free.
static CALLING_CODES: &[u16] = &[
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 379, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505,
    506, 507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675,
    676, 677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 850, 852, 853,
    855, 856, 880, 886, 960, 961, 962, 963, 964, 965, 966, 967, 968, 970, 971, 972, 973, 974, 975,
    976, 977, 992, 993, 994, 995, 996, 998,
];

/// US states, DC, territories and armed-forces codes: folded name / common abbreviation -> code.
/// Names from Meta's capi-param-builder `US_STATES`, plus DC, territories and postal/AP-style
/// abbreviations ("Calif.", "Mass.", "Penna.", ...).
static US_STATES: &[(&str, &str)] = &[
    ("alabama", "al"),
    ("alaska", "ak"),
    ("arizona", "az"),
    ("arkansas", "ar"),
    ("california", "ca"),
    ("colorado", "co"),
    ("connecticut", "ct"),
    ("delaware", "de"),
    ("florida", "fl"),
    ("georgia", "ga"),
    ("hawaii", "hi"),
    ("idaho", "id"),
    ("illinois", "il"),
    ("indiana", "in"),
    ("iowa", "ia"),
    ("kansas", "ks"),
    ("kentucky", "ky"),
    ("louisiana", "la"),
    ("maine", "me"),
    ("maryland", "md"),
    ("massachusetts", "ma"),
    ("michigan", "mi"),
    ("minnesota", "mn"),
    ("mississippi", "ms"),
    ("missouri", "mo"),
    ("montana", "mt"),
    ("nebraska", "ne"),
    ("nevada", "nv"),
    ("newhampshire", "nh"),
    ("newjersey", "nj"),
    ("newmexico", "nm"),
    ("newyork", "ny"),
    ("northcarolina", "nc"),
    ("northdakota", "nd"),
    ("ohio", "oh"),
    ("oklahoma", "ok"),
    ("oregon", "or"),
    ("pennsylvania", "pa"),
    ("rhodeisland", "ri"),
    ("southcarolina", "sc"),
    ("southdakota", "sd"),
    ("tennessee", "tn"),
    ("texas", "tx"),
    ("utah", "ut"),
    ("vermont", "vt"),
    ("virginia", "va"),
    ("washington", "wa"),
    ("westvirginia", "wv"),
    ("wisconsin", "wi"),
    ("wyoming", "wy"),
    ("districtofcolumbia", "dc"),
    ("washingtondc", "dc"),
    ("puertorico", "pr"),
    ("guam", "gu"),
    ("virginislands", "vi"),
    ("usvirginislands", "vi"),
    ("unitedstatesvirginislands", "vi"),
    ("americansamoa", "as"),
    ("northernmarianaislands", "mp"),
    ("unitedstatesminoroutlyingislands", "um"),
    ("armedforcesamericas", "aa"),
    ("armedforceseurope", "ae"),
    ("armedforcespacific", "ap"),
    ("ala", "al"),
    ("ariz", "az"),
    ("ark", "ar"),
    ("cal", "ca"),
    ("calif", "ca"),
    ("colo", "co"),
    ("conn", "ct"),
    ("del", "de"),
    ("fla", "fl"),
    ("ill", "il"),
    ("ind", "in"),
    ("kan", "ks"),
    ("kans", "ks"),
    ("mass", "ma"),
    ("mich", "mi"),
    ("minn", "mn"),
    ("miss", "ms"),
    ("mont", "mt"),
    ("neb", "ne"),
    ("nebr", "ne"),
    ("nev", "nv"),
    ("nmex", "nm"),
    ("ndak", "nd"),
    ("sdak", "sd"),
    ("okla", "ok"),
    ("ore", "or"),
    ("oreg", "or"),
    ("penn", "pa"),
    ("penna", "pa"),
    ("tenn", "tn"),
    ("tex", "tx"),
    ("wash", "wa"),
    ("wis", "wi"),
    ("wisc", "wi"),
    ("wyo", "wy"),
    ("wva", "wv"),
];

static US_CODES: &[&str] = &[
    "al", "ak", "az", "ar", "ca", "co", "ct", "de", "fl", "ga", "hi", "id", "il", "in", "ia", "ks",
    "ky", "la", "me", "md", "ma", "mi", "mn", "ms", "mo", "mt", "ne", "nv", "nh", "nj", "nm", "ny",
    "nc", "nd", "oh", "ok", "or", "pa", "ri", "sc", "sd", "tn", "tx", "ut", "vt", "va", "wa", "wv",
    "wi", "wy", "dc", "pr", "gu", "vi", "as", "mp", "um", "aa", "ae", "ap",
];

/// Canadian provinces and territories (Meta's `CA_PROVINCES` plus abbreviations and French names).
static CA_PROVINCES: &[(&str, &str)] = &[
    ("ontario", "on"),
    ("quebec", "qc"),
    ("britishcolumbia", "bc"),
    ("alberta", "ab"),
    ("saskatchewan", "sk"),
    ("manitoba", "mb"),
    ("novascotia", "ns"),
    ("newbrunswick", "nb"),
    ("princeedwardisland", "pe"),
    ("newfoundlandandlabrador", "nl"),
    ("newfoundland", "nl"),
    ("labrador", "nl"),
    ("yukon", "yt"),
    ("northwestterritories", "nt"),
    ("nunavut", "nu"),
    ("ont", "on"),
    ("que", "qc"),
    ("alta", "ab"),
    ("sask", "sk"),
    ("man", "mb"),
    ("nfld", "nl"),
    ("pei", "pe"),
    ("nwt", "nt"),
    ("colombiebritannique", "bc"),
    ("nouvelleecosse", "ns"),
    ("nouveaubrunswick", "nb"),
    ("ileduprinceedouard", "pe"),
    ("terreneuveetlabrador", "nl"),
    ("territoiresdunordouest", "nt"),
];

static CA_CODES: &[&str] = &[
    "ab", "bc", "mb", "nb", "nl", "ns", "nt", "nu", "on", "pe", "qc", "sk", "yt",
];

/// Month names and abbreviations (folded) in English, Spanish, French, German, Portuguese,
/// Italian and Dutch.
static MONTHS: &[(&str, u32)] = &[
    ("january", 1),
    ("jan", 1),
    ("enero", 1),
    ("ene", 1),
    ("janvier", 1),
    ("janv", 1),
    ("januar", 1),
    ("janner", 1),
    ("jaenner", 1),
    ("janeiro", 1),
    ("gennaio", 1),
    ("gen", 1),
    ("januari", 1),
    ("february", 2),
    ("feb", 2),
    ("febrero", 2),
    ("fevrier", 2),
    ("fevr", 2),
    ("fev", 2),
    ("februar", 2),
    ("fevereiro", 2),
    ("febbraio", 2),
    ("februari", 2),
    ("march", 3),
    ("mar", 3),
    ("marzo", 3),
    ("mars", 3),
    ("marz", 3),
    ("maerz", 3),
    ("marco", 3),
    ("maart", 3),
    ("april", 4),
    ("apr", 4),
    ("abril", 4),
    ("abr", 4),
    ("avril", 4),
    ("avr", 4),
    ("aprile", 4),
    ("may", 5),
    ("mayo", 5),
    ("mai", 5),
    ("maio", 5),
    ("maggio", 5),
    ("mag", 5),
    ("mei", 5),
    ("june", 6),
    ("jun", 6),
    ("junio", 6),
    ("juin", 6),
    ("juni", 6),
    ("junho", 6),
    ("giugno", 6),
    ("giu", 6),
    ("july", 7),
    ("jul", 7),
    ("julio", 7),
    ("juillet", 7),
    ("juil", 7),
    ("juli", 7),
    ("julho", 7),
    ("luglio", 7),
    ("lug", 7),
    ("august", 8),
    ("aug", 8),
    ("agosto", 8),
    ("ago", 8),
    ("aout", 8),
    ("augustus", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("septiembre", 9),
    ("setiembre", 9),
    ("septembre", 9),
    ("setembro", 9),
    ("set", 9),
    ("settembre", 9),
    ("october", 10),
    ("oct", 10),
    ("octubre", 10),
    ("octobre", 10),
    ("oktober", 10),
    ("okt", 10),
    ("outubro", 10),
    ("out", 10),
    ("ottobre", 10),
    ("november", 11),
    ("nov", 11),
    ("noviembre", 11),
    ("novembre", 11),
    ("novembro", 11),
    ("december", 12),
    ("dec", 12),
    ("diciembre", 12),
    ("dic", 12),
    ("decembre", 12),
    ("dezember", 12),
    ("dez", 12),
    ("dezembro", 12),
    ("dicembre", 12),
];

/// Words ignored in dates: ordinal suffixes, "of"/"de", weekday names.
static DATE_FILLER: &[&str] = &[
    "of",
    "dob",
    "birthday",
    "de",
    "del",
    "the",
    "st",
    "nd",
    "rd",
    "th",
    "er",
    "le",
    "am",
    "den",
    "der",
    "born",
    "on",
    "monday",
    "mon",
    "tuesday",
    "tue",
    "tues",
    "wednesday",
    "wed",
    "thursday",
    "thu",
    "thurs",
    "friday",
    "fri",
    "saturday",
    "sat",
    "sunday",
    "sun",
];

/// Gender words (folded) -> "m"/"f". Meta's capi-param-builder `MALE_SET`/`FEMALE_SET` first,
/// then common words in other languages.
static GENDERS: &[(&str, &str)] = &[
    // Meta capi-param-builder MALE_SET
    ("man", "m"),
    ("male", "m"),
    ("boy", "m"),
    ("gentleman", "m"),
    ("guy", "m"),
    ("sir", "m"),
    ("mister", "m"),
    ("mr", "m"),
    ("son", "m"),
    ("father", "m"),
    ("dad", "m"),
    ("daddy", "m"),
    ("papa", "m"),
    ("uncle", "m"),
    ("nephew", "m"),
    ("brother", "m"),
    ("husband", "m"),
    ("boyfriend", "m"),
    ("groom", "m"),
    ("widower", "m"),
    ("king", "m"),
    ("prince", "m"),
    ("duke", "m"),
    ("count", "m"),
    ("emperor", "m"),
    ("god", "m"),
    ("lord", "m"),
    ("lad", "m"),
    ("fellow", "m"),
    ("chap", "m"),
    ("bloke", "m"),
    ("dude", "m"),
    ("he", "m"),
    ("him", "m"),
    ("his", "m"),
    ("himself", "m"),
    ("m", "m"),
    // Meta capi-param-builder FEMALE_SET
    ("woman", "f"),
    ("female", "f"),
    ("girl", "f"),
    ("lady", "f"),
    ("miss", "f"),
    ("ms", "f"),
    ("mrs", "f"),
    ("madam", "f"),
    ("maam", "f"),
    ("daughter", "f"),
    ("mother", "f"),
    ("mom", "f"),
    ("mama", "f"),
    ("mommy", "f"),
    ("aunt", "f"),
    ("niece", "f"),
    ("sister", "f"),
    ("wife", "f"),
    ("girlfriend", "f"),
    ("bride", "f"),
    ("widow", "f"),
    ("queen", "f"),
    ("princess", "f"),
    ("duchess", "f"),
    ("countess", "f"),
    ("empress", "f"),
    ("goddess", "f"),
    ("maiden", "f"),
    ("lass", "f"),
    ("gal", "f"),
    ("chick", "f"),
    ("dame", "f"),
    ("belle", "f"),
    ("she", "f"),
    ("her", "f"),
    ("hers", "f"),
    ("herself", "f"),
    ("f", "f"),
    // Other languages: male
    ("masculine", "m"),
    ("masc", "m"),
    ("manlig", "m"),
    ("mand", "m"),
    ("mies", "m"),
    ("muz", "m"),
    ("masculino", "m"),
    ("masculin", "m"),
    ("hombre", "m"),
    ("varon", "m"),
    ("senor", "m"),
    ("sr", "m"),
    ("homem", "m"),
    ("homme", "m"),
    ("monsieur", "m"),
    ("mannlich", "m"),
    ("maennlich", "m"),
    ("mann", "m"),
    ("herr", "m"),
    ("maschio", "m"),
    ("maschile", "m"),
    ("uomo", "m"),
    ("signore", "m"),
    ("mannelijk", "m"),
    ("heer", "m"),
    ("mezczyzna", "m"),
    ("meski", "m"),
    ("erkek", "m"),
    ("мужской", "m"),
    ("мужчина", "m"),
    ("муж", "m"),
    ("м", "m"),
    ("男", "m"),
    ("男性", "m"),
    ("남", "m"),
    ("남성", "m"),
    ("남자", "m"),
    // Other languages: female
    ("feminine", "f"),
    ("fem", "f"),
    ("kvinna", "f"),
    ("kvinnlig", "f"),
    ("kvinde", "f"),
    ("kvinne", "f"),
    ("nainen", "f"),
    ("zena", "f"),
    ("femenino", "f"),
    ("femenina", "f"),
    ("feminino", "f"),
    ("feminina", "f"),
    ("mujer", "f"),
    ("senora", "f"),
    ("senorita", "f"),
    ("sra", "f"),
    ("mulher", "f"),
    ("femme", "f"),
    ("feminin", "f"),
    ("madame", "f"),
    ("mademoiselle", "f"),
    ("mme", "f"),
    ("mlle", "f"),
    ("weiblich", "f"),
    ("frau", "f"),
    ("w", "f"),
    ("femmina", "f"),
    ("femminile", "f"),
    ("donna", "f"),
    ("signora", "f"),
    ("vrouw", "f"),
    ("vrouwelijk", "f"),
    ("kobieta", "f"),
    ("zenski", "f"),
    ("kadin", "f"),
    ("женский", "f"),
    ("женщина", "f"),
    ("жен", "f"),
    ("ж", "f"),
    ("女", "f"),
    ("女性", "f"),
    ("여", "f"),
    ("여성", "f"),
    ("여자", "f"),
];

/// Latin letters with diacritics (Latin-1, Latin Extended-A/B, Latin Extended Additional)
/// folded to ASCII, used only for lookup keys. Sorted by char.
static LATIN_FOLD: &[(char, &str)] = &[
    ('À', "A"),
    ('Á', "A"),
    ('Â', "A"),
    ('Ã', "A"),
    ('Ä', "A"),
    ('Å', "A"),
    ('Æ', "AE"),
    ('Ç', "C"),
    ('È', "E"),
    ('É', "E"),
    ('Ê', "E"),
    ('Ë', "E"),
    ('Ì', "I"),
    ('Í', "I"),
    ('Î', "I"),
    ('Ï', "I"),
    ('Ð', "D"),
    ('Ñ', "N"),
    ('Ò', "O"),
    ('Ó', "O"),
    ('Ô', "O"),
    ('Õ', "O"),
    ('Ö', "O"),
    ('Ø', "O"),
    ('Ù', "U"),
    ('Ú', "U"),
    ('Û', "U"),
    ('Ü', "U"),
    ('Ý', "Y"),
    ('Þ', "TH"),
    ('ß', "ss"),
    ('à', "a"),
    ('á', "a"),
    ('â', "a"),
    ('ã', "a"),
    ('ä', "a"),
    ('å', "a"),
    ('æ', "ae"),
    ('ç', "c"),
    ('è', "e"),
    ('é', "e"),
    ('ê', "e"),
    ('ë', "e"),
    ('ì', "i"),
    ('í', "i"),
    ('î', "i"),
    ('ï', "i"),
    ('ð', "d"),
    ('ñ', "n"),
    ('ò', "o"),
    ('ó', "o"),
    ('ô', "o"),
    ('õ', "o"),
    ('ö', "o"),
    ('ø', "o"),
    ('ù', "u"),
    ('ú', "u"),
    ('û', "u"),
    ('ü', "u"),
    ('ý', "y"),
    ('þ', "th"),
    ('ÿ', "y"),
    ('Ā', "A"),
    ('ā', "a"),
    ('Ă', "A"),
    ('ă', "a"),
    ('Ą', "A"),
    ('ą', "a"),
    ('Ć', "C"),
    ('ć', "c"),
    ('Ĉ', "C"),
    ('ĉ', "c"),
    ('Ċ', "C"),
    ('ċ', "c"),
    ('Č', "C"),
    ('č', "c"),
    ('Ď', "D"),
    ('ď', "d"),
    ('Đ', "D"),
    ('đ', "d"),
    ('Ē', "E"),
    ('ē', "e"),
    ('Ĕ', "E"),
    ('ĕ', "e"),
    ('Ė', "E"),
    ('ė', "e"),
    ('Ę', "E"),
    ('ę', "e"),
    ('Ě', "E"),
    ('ě', "e"),
    ('Ĝ', "G"),
    ('ĝ', "g"),
    ('Ğ', "G"),
    ('ğ', "g"),
    ('Ġ', "G"),
    ('ġ', "g"),
    ('Ģ', "G"),
    ('ģ', "g"),
    ('Ĥ', "H"),
    ('ĥ', "h"),
    ('Ħ', "H"),
    ('ħ', "h"),
    ('Ĩ', "I"),
    ('ĩ', "i"),
    ('Ī', "I"),
    ('ī', "i"),
    ('Ĭ', "I"),
    ('ĭ', "i"),
    ('Į', "I"),
    ('į', "i"),
    ('İ', "I"),
    ('ı', "i"),
    ('Ĵ', "J"),
    ('ĵ', "j"),
    ('Ķ', "K"),
    ('ķ', "k"),
    ('ĸ', "k"),
    ('Ĺ', "L"),
    ('ĺ', "l"),
    ('Ļ', "L"),
    ('ļ', "l"),
    ('Ľ', "L"),
    ('ľ', "l"),
    ('Ŀ', "L"),
    ('ŀ', "l"),
    ('Ł', "L"),
    ('ł', "l"),
    ('Ń', "N"),
    ('ń', "n"),
    ('Ņ', "N"),
    ('ņ', "n"),
    ('Ň', "N"),
    ('ň', "n"),
    ('ŉ', "n"),
    ('Ŋ', "N"),
    ('ŋ', "n"),
    ('Ō', "O"),
    ('ō', "o"),
    ('Ŏ', "O"),
    ('ŏ', "o"),
    ('Ő', "O"),
    ('ő', "o"),
    ('Œ', "OE"),
    ('œ', "oe"),
    ('Ŕ', "R"),
    ('ŕ', "r"),
    ('Ŗ', "R"),
    ('ŗ', "r"),
    ('Ř', "R"),
    ('ř', "r"),
    ('Ś', "S"),
    ('ś', "s"),
    ('Ŝ', "S"),
    ('ŝ', "s"),
    ('Ş', "S"),
    ('ş', "s"),
    ('Š', "S"),
    ('š', "s"),
    ('Ţ', "T"),
    ('ţ', "t"),
    ('Ť', "T"),
    ('ť', "t"),
    ('Ũ', "U"),
    ('ũ', "u"),
    ('Ū', "U"),
    ('ū', "u"),
    ('Ŭ', "U"),
    ('ŭ', "u"),
    ('Ů', "U"),
    ('ů', "u"),
    ('Ű', "U"),
    ('ű', "u"),
    ('Ų', "U"),
    ('ų', "u"),
    ('Ŵ', "W"),
    ('ŵ', "w"),
    ('Ŷ', "Y"),
    ('ŷ', "y"),
    ('Ÿ', "Y"),
    ('Ź', "Z"),
    ('ź', "z"),
    ('Ż', "Z"),
    ('ż', "z"),
    ('Ž', "Z"),
    ('ž', "z"),
    ('ſ', "s"),
    ('ƒ', "f"),
    ('Ơ', "O"),
    ('ơ', "o"),
    ('Ư', "U"),
    ('ư', "u"),
    ('Ǎ', "A"),
    ('ǎ', "a"),
    ('Ǐ', "I"),
    ('ǐ', "i"),
    ('Ǒ', "O"),
    ('ǒ', "o"),
    ('Ǔ', "U"),
    ('ǔ', "u"),
    ('Ǖ', "U"),
    ('ǖ', "u"),
    ('Ǘ', "U"),
    ('ǘ', "u"),
    ('Ǚ', "U"),
    ('ǚ', "u"),
    ('Ǜ', "U"),
    ('ǜ', "u"),
    ('Ǟ', "A"),
    ('ǟ', "a"),
    ('Ǡ', "A"),
    ('ǡ', "a"),
    ('Ǧ', "G"),
    ('ǧ', "g"),
    ('Ǩ', "K"),
    ('ǩ', "k"),
    ('Ǫ', "O"),
    ('ǫ', "o"),
    ('Ǭ', "O"),
    ('ǭ', "o"),
    ('ǰ', "j"),
    ('Ǵ', "G"),
    ('ǵ', "g"),
    ('Ǹ', "N"),
    ('ǹ', "n"),
    ('Ǻ', "A"),
    ('ǻ', "a"),
    ('Ȁ', "A"),
    ('ȁ', "a"),
    ('Ȃ', "A"),
    ('ȃ', "a"),
    ('Ȅ', "E"),
    ('ȅ', "e"),
    ('Ȇ', "E"),
    ('ȇ', "e"),
    ('Ȉ', "I"),
    ('ȉ', "i"),
    ('Ȋ', "I"),
    ('ȋ', "i"),
    ('Ȍ', "O"),
    ('ȍ', "o"),
    ('Ȏ', "O"),
    ('ȏ', "o"),
    ('Ȑ', "R"),
    ('ȑ', "r"),
    ('Ȓ', "R"),
    ('ȓ', "r"),
    ('Ȕ', "U"),
    ('ȕ', "u"),
    ('Ȗ', "U"),
    ('ȗ', "u"),
    ('Ș', "S"),
    ('ș', "s"),
    ('Ț', "T"),
    ('ț', "t"),
    ('Ȟ', "H"),
    ('ȟ', "h"),
    ('Ȧ', "A"),
    ('ȧ', "a"),
    ('Ȩ', "E"),
    ('ȩ', "e"),
    ('Ȫ', "O"),
    ('ȫ', "o"),
    ('Ȭ', "O"),
    ('ȭ', "o"),
    ('Ȯ', "O"),
    ('ȯ', "o"),
    ('Ȱ', "O"),
    ('ȱ', "o"),
    ('Ȳ', "Y"),
    ('ȳ', "y"),
    ('Ḁ', "A"),
    ('ḁ', "a"),
    ('Ḃ', "B"),
    ('ḃ', "b"),
    ('Ḅ', "B"),
    ('ḅ', "b"),
    ('Ḇ', "B"),
    ('ḇ', "b"),
    ('Ḉ', "C"),
    ('ḉ', "c"),
    ('Ḋ', "D"),
    ('ḋ', "d"),
    ('Ḍ', "D"),
    ('ḍ', "d"),
    ('Ḏ', "D"),
    ('ḏ', "d"),
    ('Ḑ', "D"),
    ('ḑ', "d"),
    ('Ḓ', "D"),
    ('ḓ', "d"),
    ('Ḕ', "E"),
    ('ḕ', "e"),
    ('Ḗ', "E"),
    ('ḗ', "e"),
    ('Ḙ', "E"),
    ('ḙ', "e"),
    ('Ḛ', "E"),
    ('ḛ', "e"),
    ('Ḝ', "E"),
    ('ḝ', "e"),
    ('Ḟ', "F"),
    ('ḟ', "f"),
    ('Ḡ', "G"),
    ('ḡ', "g"),
    ('Ḣ', "H"),
    ('ḣ', "h"),
    ('Ḥ', "H"),
    ('ḥ', "h"),
    ('Ḧ', "H"),
    ('ḧ', "h"),
    ('Ḩ', "H"),
    ('ḩ', "h"),
    ('Ḫ', "H"),
    ('ḫ', "h"),
    ('Ḭ', "I"),
    ('ḭ', "i"),
    ('Ḯ', "I"),
    ('ḯ', "i"),
    ('Ḱ', "K"),
    ('ḱ', "k"),
    ('Ḳ', "K"),
    ('ḳ', "k"),
    ('Ḵ', "K"),
    ('ḵ', "k"),
    ('Ḷ', "L"),
    ('ḷ', "l"),
    ('Ḹ', "L"),
    ('ḹ', "l"),
    ('Ḻ', "L"),
    ('ḻ', "l"),
    ('Ḽ', "L"),
    ('ḽ', "l"),
    ('Ḿ', "M"),
    ('ḿ', "m"),
    ('Ṁ', "M"),
    ('ṁ', "m"),
    ('Ṃ', "M"),
    ('ṃ', "m"),
    ('Ṅ', "N"),
    ('ṅ', "n"),
    ('Ṇ', "N"),
    ('ṇ', "n"),
    ('Ṉ', "N"),
    ('ṉ', "n"),
    ('Ṋ', "N"),
    ('ṋ', "n"),
    ('Ṍ', "O"),
    ('ṍ', "o"),
    ('Ṏ', "O"),
    ('ṏ', "o"),
    ('Ṑ', "O"),
    ('ṑ', "o"),
    ('Ṓ', "O"),
    ('ṓ', "o"),
    ('Ṕ', "P"),
    ('ṕ', "p"),
    ('Ṗ', "P"),
    ('ṗ', "p"),
    ('Ṙ', "R"),
    ('ṙ', "r"),
    ('Ṛ', "R"),
    ('ṛ', "r"),
    ('Ṝ', "R"),
    ('ṝ', "r"),
    ('Ṟ', "R"),
    ('ṟ', "r"),
    ('Ṡ', "S"),
    ('ṡ', "s"),
    ('Ṣ', "S"),
    ('ṣ', "s"),
    ('Ṥ', "S"),
    ('ṥ', "s"),
    ('Ṧ', "S"),
    ('ṧ', "s"),
    ('Ṩ', "S"),
    ('ṩ', "s"),
    ('Ṫ', "T"),
    ('ṫ', "t"),
    ('Ṭ', "T"),
    ('ṭ', "t"),
    ('Ṯ', "T"),
    ('ṯ', "t"),
    ('Ṱ', "T"),
    ('ṱ', "t"),
    ('Ṳ', "U"),
    ('ṳ', "u"),
    ('Ṵ', "U"),
    ('ṵ', "u"),
    ('Ṷ', "U"),
    ('ṷ', "u"),
    ('Ṹ', "U"),
    ('ṹ', "u"),
    ('Ṻ', "U"),
    ('ṻ', "u"),
    ('Ṽ', "V"),
    ('ṽ', "v"),
    ('Ṿ', "V"),
    ('ṿ', "v"),
    ('Ẁ', "W"),
    ('ẁ', "w"),
    ('Ẃ', "W"),
    ('ẃ', "w"),
    ('Ẅ', "W"),
    ('ẅ', "w"),
    ('Ẇ', "W"),
    ('ẇ', "w"),
    ('Ẉ', "W"),
    ('ẉ', "w"),
    ('Ẋ', "X"),
    ('ẋ', "x"),
    ('Ẍ', "X"),
    ('ẍ', "x"),
    ('Ẏ', "Y"),
    ('ẏ', "y"),
    ('Ẑ', "Z"),
    ('ẑ', "z"),
    ('Ẓ', "Z"),
    ('ẓ', "z"),
    ('Ẕ', "Z"),
    ('ẕ', "z"),
    ('ẖ', "h"),
    ('ẗ', "t"),
    ('ẘ', "w"),
    ('ẙ', "y"),
    ('ẞ', "SS"),
    ('Ạ', "A"),
    ('ạ', "a"),
    ('Ả', "A"),
    ('ả', "a"),
    ('Ấ', "A"),
    ('ấ', "a"),
    ('Ầ', "A"),
    ('ầ', "a"),
    ('Ẩ', "A"),
    ('ẩ', "a"),
    ('Ẫ', "A"),
    ('ẫ', "a"),
    ('Ậ', "A"),
    ('ậ', "a"),
    ('Ắ', "A"),
    ('ắ', "a"),
    ('Ằ', "A"),
    ('ằ', "a"),
    ('Ẳ', "A"),
    ('ẳ', "a"),
    ('Ẵ', "A"),
    ('ẵ', "a"),
    ('Ặ', "A"),
    ('ặ', "a"),
    ('Ẹ', "E"),
    ('ẹ', "e"),
    ('Ẻ', "E"),
    ('ẻ', "e"),
    ('Ẽ', "E"),
    ('ẽ', "e"),
    ('Ế', "E"),
    ('ế', "e"),
    ('Ề', "E"),
    ('ề', "e"),
    ('Ể', "E"),
    ('ể', "e"),
    ('Ễ', "E"),
    ('ễ', "e"),
    ('Ệ', "E"),
    ('ệ', "e"),
    ('Ỉ', "I"),
    ('ỉ', "i"),
    ('Ị', "I"),
    ('ị', "i"),
    ('Ọ', "O"),
    ('ọ', "o"),
    ('Ỏ', "O"),
    ('ỏ', "o"),
    ('Ố', "O"),
    ('ố', "o"),
    ('Ồ', "O"),
    ('ồ', "o"),
    ('Ổ', "O"),
    ('ổ', "o"),
    ('Ỗ', "O"),
    ('ỗ', "o"),
    ('Ộ', "O"),
    ('ộ', "o"),
    ('Ớ', "O"),
    ('ớ', "o"),
    ('Ờ', "O"),
    ('ờ', "o"),
    ('Ở', "O"),
    ('ở', "o"),
    ('Ỡ', "O"),
    ('ỡ', "o"),
    ('Ợ', "O"),
    ('ợ', "o"),
    ('Ụ', "U"),
    ('ụ', "u"),
    ('Ủ', "U"),
    ('ủ', "u"),
    ('Ứ', "U"),
    ('ứ', "u"),
    ('Ừ', "U"),
    ('ừ', "u"),
    ('Ử', "U"),
    ('ử', "u"),
    ('Ữ', "U"),
    ('ữ', "u"),
    ('Ự', "U"),
    ('ự', "u"),
    ('Ỳ', "Y"),
    ('ỳ', "y"),
    ('Ỵ', "Y"),
    ('ỵ', "y"),
    ('Ỷ', "Y"),
    ('ỷ', "y"),
    ('Ỹ', "Y"),
    ('ỹ', "y"),
];

/// Decomposed Latin letter (ASCII base + one combining mark) -> precomposed letter. Sorted.
static LATIN_COMPOSE: &[(char, char, char)] = &[
    ('A', '\u{0300}', 'À'),
    ('A', '\u{0301}', 'Á'),
    ('A', '\u{0302}', 'Â'),
    ('A', '\u{0303}', 'Ã'),
    ('A', '\u{0304}', 'Ā'),
    ('A', '\u{0306}', 'Ă'),
    ('A', '\u{0307}', 'Ȧ'),
    ('A', '\u{0308}', 'Ä'),
    ('A', '\u{0309}', 'Ả'),
    ('A', '\u{030a}', 'Å'),
    ('A', '\u{030c}', 'Ǎ'),
    ('A', '\u{030f}', 'Ȁ'),
    ('A', '\u{0311}', 'Ȃ'),
    ('A', '\u{0323}', 'Ạ'),
    ('A', '\u{0325}', 'Ḁ'),
    ('A', '\u{0328}', 'Ą'),
    ('B', '\u{0307}', 'Ḃ'),
    ('B', '\u{0323}', 'Ḅ'),
    ('B', '\u{0331}', 'Ḇ'),
    ('C', '\u{0301}', 'Ć'),
    ('C', '\u{0302}', 'Ĉ'),
    ('C', '\u{0307}', 'Ċ'),
    ('C', '\u{030c}', 'Č'),
    ('C', '\u{0327}', 'Ç'),
    ('D', '\u{0307}', 'Ḋ'),
    ('D', '\u{030c}', 'Ď'),
    ('D', '\u{0323}', 'Ḍ'),
    ('D', '\u{0327}', 'Ḑ'),
    ('D', '\u{032d}', 'Ḓ'),
    ('D', '\u{0331}', 'Ḏ'),
    ('E', '\u{0300}', 'È'),
    ('E', '\u{0301}', 'É'),
    ('E', '\u{0302}', 'Ê'),
    ('E', '\u{0303}', 'Ẽ'),
    ('E', '\u{0304}', 'Ē'),
    ('E', '\u{0306}', 'Ĕ'),
    ('E', '\u{0307}', 'Ė'),
    ('E', '\u{0308}', 'Ë'),
    ('E', '\u{0309}', 'Ẻ'),
    ('E', '\u{030c}', 'Ě'),
    ('E', '\u{030f}', 'Ȅ'),
    ('E', '\u{0311}', 'Ȇ'),
    ('E', '\u{0323}', 'Ẹ'),
    ('E', '\u{0327}', 'Ȩ'),
    ('E', '\u{0328}', 'Ę'),
    ('E', '\u{032d}', 'Ḙ'),
    ('E', '\u{0330}', 'Ḛ'),
    ('F', '\u{0307}', 'Ḟ'),
    ('G', '\u{0301}', 'Ǵ'),
    ('G', '\u{0302}', 'Ĝ'),
    ('G', '\u{0304}', 'Ḡ'),
    ('G', '\u{0306}', 'Ğ'),
    ('G', '\u{0307}', 'Ġ'),
    ('G', '\u{030c}', 'Ǧ'),
    ('G', '\u{0327}', 'Ģ'),
    ('H', '\u{0302}', 'Ĥ'),
    ('H', '\u{0307}', 'Ḣ'),
    ('H', '\u{0308}', 'Ḧ'),
    ('H', '\u{030c}', 'Ȟ'),
    ('H', '\u{0323}', 'Ḥ'),
    ('H', '\u{0327}', 'Ḩ'),
    ('H', '\u{032e}', 'Ḫ'),
    ('I', '\u{0300}', 'Ì'),
    ('I', '\u{0301}', 'Í'),
    ('I', '\u{0302}', 'Î'),
    ('I', '\u{0303}', 'Ĩ'),
    ('I', '\u{0304}', 'Ī'),
    ('I', '\u{0306}', 'Ĭ'),
    ('I', '\u{0307}', 'İ'),
    ('I', '\u{0308}', 'Ï'),
    ('I', '\u{0309}', 'Ỉ'),
    ('I', '\u{030c}', 'Ǐ'),
    ('I', '\u{030f}', 'Ȉ'),
    ('I', '\u{0311}', 'Ȋ'),
    ('I', '\u{0323}', 'Ị'),
    ('I', '\u{0328}', 'Į'),
    ('I', '\u{0330}', 'Ḭ'),
    ('J', '\u{0302}', 'Ĵ'),
    ('K', '\u{0301}', 'Ḱ'),
    ('K', '\u{030c}', 'Ǩ'),
    ('K', '\u{0323}', 'Ḳ'),
    ('K', '\u{0327}', 'Ķ'),
    ('K', '\u{0331}', 'Ḵ'),
    ('L', '\u{0301}', 'Ĺ'),
    ('L', '\u{030c}', 'Ľ'),
    ('L', '\u{0323}', 'Ḷ'),
    ('L', '\u{0327}', 'Ļ'),
    ('L', '\u{032d}', 'Ḽ'),
    ('L', '\u{0331}', 'Ḻ'),
    ('M', '\u{0301}', 'Ḿ'),
    ('M', '\u{0307}', 'Ṁ'),
    ('M', '\u{0323}', 'Ṃ'),
    ('N', '\u{0300}', 'Ǹ'),
    ('N', '\u{0301}', 'Ń'),
    ('N', '\u{0303}', 'Ñ'),
    ('N', '\u{0307}', 'Ṅ'),
    ('N', '\u{030c}', 'Ň'),
    ('N', '\u{0323}', 'Ṇ'),
    ('N', '\u{0327}', 'Ņ'),
    ('N', '\u{032d}', 'Ṋ'),
    ('N', '\u{0331}', 'Ṉ'),
    ('O', '\u{0300}', 'Ò'),
    ('O', '\u{0301}', 'Ó'),
    ('O', '\u{0302}', 'Ô'),
    ('O', '\u{0303}', 'Õ'),
    ('O', '\u{0304}', 'Ō'),
    ('O', '\u{0306}', 'Ŏ'),
    ('O', '\u{0307}', 'Ȯ'),
    ('O', '\u{0308}', 'Ö'),
    ('O', '\u{0309}', 'Ỏ'),
    ('O', '\u{030b}', 'Ő'),
    ('O', '\u{030c}', 'Ǒ'),
    ('O', '\u{030f}', 'Ȍ'),
    ('O', '\u{0311}', 'Ȏ'),
    ('O', '\u{031b}', 'Ơ'),
    ('O', '\u{0323}', 'Ọ'),
    ('O', '\u{0328}', 'Ǫ'),
    ('P', '\u{0301}', 'Ṕ'),
    ('P', '\u{0307}', 'Ṗ'),
    ('R', '\u{0301}', 'Ŕ'),
    ('R', '\u{0307}', 'Ṙ'),
    ('R', '\u{030c}', 'Ř'),
    ('R', '\u{030f}', 'Ȑ'),
    ('R', '\u{0311}', 'Ȓ'),
    ('R', '\u{0323}', 'Ṛ'),
    ('R', '\u{0327}', 'Ŗ'),
    ('R', '\u{0331}', 'Ṟ'),
    ('S', '\u{0301}', 'Ś'),
    ('S', '\u{0302}', 'Ŝ'),
    ('S', '\u{0307}', 'Ṡ'),
    ('S', '\u{030c}', 'Š'),
    ('S', '\u{0323}', 'Ṣ'),
    ('S', '\u{0326}', 'Ș'),
    ('S', '\u{0327}', 'Ş'),
    ('T', '\u{0307}', 'Ṫ'),
    ('T', '\u{030c}', 'Ť'),
    ('T', '\u{0323}', 'Ṭ'),
    ('T', '\u{0326}', 'Ț'),
    ('T', '\u{0327}', 'Ţ'),
    ('T', '\u{032d}', 'Ṱ'),
    ('T', '\u{0331}', 'Ṯ'),
    ('U', '\u{0300}', 'Ù'),
    ('U', '\u{0301}', 'Ú'),
    ('U', '\u{0302}', 'Û'),
    ('U', '\u{0303}', 'Ũ'),
    ('U', '\u{0304}', 'Ū'),
    ('U', '\u{0306}', 'Ŭ'),
    ('U', '\u{0308}', 'Ü'),
    ('U', '\u{0309}', 'Ủ'),
    ('U', '\u{030a}', 'Ů'),
    ('U', '\u{030b}', 'Ű'),
    ('U', '\u{030c}', 'Ǔ'),
    ('U', '\u{030f}', 'Ȕ'),
    ('U', '\u{0311}', 'Ȗ'),
    ('U', '\u{031b}', 'Ư'),
    ('U', '\u{0323}', 'Ụ'),
    ('U', '\u{0324}', 'Ṳ'),
    ('U', '\u{0328}', 'Ų'),
    ('U', '\u{032d}', 'Ṷ'),
    ('U', '\u{0330}', 'Ṵ'),
    ('V', '\u{0303}', 'Ṽ'),
    ('V', '\u{0323}', 'Ṿ'),
    ('W', '\u{0300}', 'Ẁ'),
    ('W', '\u{0301}', 'Ẃ'),
    ('W', '\u{0302}', 'Ŵ'),
    ('W', '\u{0307}', 'Ẇ'),
    ('W', '\u{0308}', 'Ẅ'),
    ('W', '\u{0323}', 'Ẉ'),
    ('X', '\u{0307}', 'Ẋ'),
    ('X', '\u{0308}', 'Ẍ'),
    ('Y', '\u{0300}', 'Ỳ'),
    ('Y', '\u{0301}', 'Ý'),
    ('Y', '\u{0302}', 'Ŷ'),
    ('Y', '\u{0303}', 'Ỹ'),
    ('Y', '\u{0304}', 'Ȳ'),
    ('Y', '\u{0307}', 'Ẏ'),
    ('Y', '\u{0308}', 'Ÿ'),
    ('Y', '\u{0309}', 'Ỷ'),
    ('Y', '\u{0323}', 'Ỵ'),
    ('Z', '\u{0301}', 'Ź'),
    ('Z', '\u{0302}', 'Ẑ'),
    ('Z', '\u{0307}', 'Ż'),
    ('Z', '\u{030c}', 'Ž'),
    ('Z', '\u{0323}', 'Ẓ'),
    ('Z', '\u{0331}', 'Ẕ'),
    ('a', '\u{0300}', 'à'),
    ('a', '\u{0301}', 'á'),
    ('a', '\u{0302}', 'â'),
    ('a', '\u{0303}', 'ã'),
    ('a', '\u{0304}', 'ā'),
    ('a', '\u{0306}', 'ă'),
    ('a', '\u{0307}', 'ȧ'),
    ('a', '\u{0308}', 'ä'),
    ('a', '\u{0309}', 'ả'),
    ('a', '\u{030a}', 'å'),
    ('a', '\u{030c}', 'ǎ'),
    ('a', '\u{030f}', 'ȁ'),
    ('a', '\u{0311}', 'ȃ'),
    ('a', '\u{0323}', 'ạ'),
    ('a', '\u{0325}', 'ḁ'),
    ('a', '\u{0328}', 'ą'),
    ('b', '\u{0307}', 'ḃ'),
    ('b', '\u{0323}', 'ḅ'),
    ('b', '\u{0331}', 'ḇ'),
    ('c', '\u{0301}', 'ć'),
    ('c', '\u{0302}', 'ĉ'),
    ('c', '\u{0307}', 'ċ'),
    ('c', '\u{030c}', 'č'),
    ('c', '\u{0327}', 'ç'),
    ('d', '\u{0307}', 'ḋ'),
    ('d', '\u{030c}', 'ď'),
    ('d', '\u{0323}', 'ḍ'),
    ('d', '\u{0327}', 'ḑ'),
    ('d', '\u{032d}', 'ḓ'),
    ('d', '\u{0331}', 'ḏ'),
    ('e', '\u{0300}', 'è'),
    ('e', '\u{0301}', 'é'),
    ('e', '\u{0302}', 'ê'),
    ('e', '\u{0303}', 'ẽ'),
    ('e', '\u{0304}', 'ē'),
    ('e', '\u{0306}', 'ĕ'),
    ('e', '\u{0307}', 'ė'),
    ('e', '\u{0308}', 'ë'),
    ('e', '\u{0309}', 'ẻ'),
    ('e', '\u{030c}', 'ě'),
    ('e', '\u{030f}', 'ȅ'),
    ('e', '\u{0311}', 'ȇ'),
    ('e', '\u{0323}', 'ẹ'),
    ('e', '\u{0327}', 'ȩ'),
    ('e', '\u{0328}', 'ę'),
    ('e', '\u{032d}', 'ḙ'),
    ('e', '\u{0330}', 'ḛ'),
    ('f', '\u{0307}', 'ḟ'),
    ('g', '\u{0301}', 'ǵ'),
    ('g', '\u{0302}', 'ĝ'),
    ('g', '\u{0304}', 'ḡ'),
    ('g', '\u{0306}', 'ğ'),
    ('g', '\u{0307}', 'ġ'),
    ('g', '\u{030c}', 'ǧ'),
    ('g', '\u{0327}', 'ģ'),
    ('h', '\u{0302}', 'ĥ'),
    ('h', '\u{0307}', 'ḣ'),
    ('h', '\u{0308}', 'ḧ'),
    ('h', '\u{030c}', 'ȟ'),
    ('h', '\u{0323}', 'ḥ'),
    ('h', '\u{0327}', 'ḩ'),
    ('h', '\u{032e}', 'ḫ'),
    ('h', '\u{0331}', 'ẖ'),
    ('i', '\u{0300}', 'ì'),
    ('i', '\u{0301}', 'í'),
    ('i', '\u{0302}', 'î'),
    ('i', '\u{0303}', 'ĩ'),
    ('i', '\u{0304}', 'ī'),
    ('i', '\u{0306}', 'ĭ'),
    ('i', '\u{0308}', 'ï'),
    ('i', '\u{0309}', 'ỉ'),
    ('i', '\u{030c}', 'ǐ'),
    ('i', '\u{030f}', 'ȉ'),
    ('i', '\u{0311}', 'ȋ'),
    ('i', '\u{0323}', 'ị'),
    ('i', '\u{0328}', 'į'),
    ('i', '\u{0330}', 'ḭ'),
    ('j', '\u{0302}', 'ĵ'),
    ('j', '\u{030c}', 'ǰ'),
    ('k', '\u{0301}', 'ḱ'),
    ('k', '\u{030c}', 'ǩ'),
    ('k', '\u{0323}', 'ḳ'),
    ('k', '\u{0327}', 'ķ'),
    ('k', '\u{0331}', 'ḵ'),
    ('l', '\u{0301}', 'ĺ'),
    ('l', '\u{030c}', 'ľ'),
    ('l', '\u{0323}', 'ḷ'),
    ('l', '\u{0327}', 'ļ'),
    ('l', '\u{032d}', 'ḽ'),
    ('l', '\u{0331}', 'ḻ'),
    ('m', '\u{0301}', 'ḿ'),
    ('m', '\u{0307}', 'ṁ'),
    ('m', '\u{0323}', 'ṃ'),
    ('n', '\u{0300}', 'ǹ'),
    ('n', '\u{0301}', 'ń'),
    ('n', '\u{0303}', 'ñ'),
    ('n', '\u{0307}', 'ṅ'),
    ('n', '\u{030c}', 'ň'),
    ('n', '\u{0323}', 'ṇ'),
    ('n', '\u{0327}', 'ņ'),
    ('n', '\u{032d}', 'ṋ'),
    ('n', '\u{0331}', 'ṉ'),
    ('o', '\u{0300}', 'ò'),
    ('o', '\u{0301}', 'ó'),
    ('o', '\u{0302}', 'ô'),
    ('o', '\u{0303}', 'õ'),
    ('o', '\u{0304}', 'ō'),
    ('o', '\u{0306}', 'ŏ'),
    ('o', '\u{0307}', 'ȯ'),
    ('o', '\u{0308}', 'ö'),
    ('o', '\u{0309}', 'ỏ'),
    ('o', '\u{030b}', 'ő'),
    ('o', '\u{030c}', 'ǒ'),
    ('o', '\u{030f}', 'ȍ'),
    ('o', '\u{0311}', 'ȏ'),
    ('o', '\u{031b}', 'ơ'),
    ('o', '\u{0323}', 'ọ'),
    ('o', '\u{0328}', 'ǫ'),
    ('p', '\u{0301}', 'ṕ'),
    ('p', '\u{0307}', 'ṗ'),
    ('r', '\u{0301}', 'ŕ'),
    ('r', '\u{0307}', 'ṙ'),
    ('r', '\u{030c}', 'ř'),
    ('r', '\u{030f}', 'ȑ'),
    ('r', '\u{0311}', 'ȓ'),
    ('r', '\u{0323}', 'ṛ'),
    ('r', '\u{0327}', 'ŗ'),
    ('r', '\u{0331}', 'ṟ'),
    ('s', '\u{0301}', 'ś'),
    ('s', '\u{0302}', 'ŝ'),
    ('s', '\u{0307}', 'ṡ'),
    ('s', '\u{030c}', 'š'),
    ('s', '\u{0323}', 'ṣ'),
    ('s', '\u{0326}', 'ș'),
    ('s', '\u{0327}', 'ş'),
    ('t', '\u{0307}', 'ṫ'),
    ('t', '\u{0308}', 'ẗ'),
    ('t', '\u{030c}', 'ť'),
    ('t', '\u{0323}', 'ṭ'),
    ('t', '\u{0326}', 'ț'),
    ('t', '\u{0327}', 'ţ'),
    ('t', '\u{032d}', 'ṱ'),
    ('t', '\u{0331}', 'ṯ'),
    ('u', '\u{0300}', 'ù'),
    ('u', '\u{0301}', 'ú'),
    ('u', '\u{0302}', 'û'),
    ('u', '\u{0303}', 'ũ'),
    ('u', '\u{0304}', 'ū'),
    ('u', '\u{0306}', 'ŭ'),
    ('u', '\u{0308}', 'ü'),
    ('u', '\u{0309}', 'ủ'),
    ('u', '\u{030a}', 'ů'),
    ('u', '\u{030b}', 'ű'),
    ('u', '\u{030c}', 'ǔ'),
    ('u', '\u{030f}', 'ȕ'),
    ('u', '\u{0311}', 'ȗ'),
    ('u', '\u{031b}', 'ư'),
    ('u', '\u{0323}', 'ụ'),
    ('u', '\u{0324}', 'ṳ'),
    ('u', '\u{0328}', 'ų'),
    ('u', '\u{032d}', 'ṷ'),
    ('u', '\u{0330}', 'ṵ'),
    ('v', '\u{0303}', 'ṽ'),
    ('v', '\u{0323}', 'ṿ'),
    ('w', '\u{0300}', 'ẁ'),
    ('w', '\u{0301}', 'ẃ'),
    ('w', '\u{0302}', 'ŵ'),
    ('w', '\u{0307}', 'ẇ'),
    ('w', '\u{0308}', 'ẅ'),
    ('w', '\u{030a}', 'ẘ'),
    ('w', '\u{0323}', 'ẉ'),
    ('x', '\u{0307}', 'ẋ'),
    ('x', '\u{0308}', 'ẍ'),
    ('y', '\u{0300}', 'ỳ'),
    ('y', '\u{0301}', 'ý'),
    ('y', '\u{0302}', 'ŷ'),
    ('y', '\u{0303}', 'ỹ'),
    ('y', '\u{0304}', 'ȳ'),
    ('y', '\u{0307}', 'ẏ'),
    ('y', '\u{0308}', 'ÿ'),
    ('y', '\u{0309}', 'ỷ'),
    ('y', '\u{030a}', 'ẙ'),
    ('y', '\u{0323}', 'ỵ'),
    ('z', '\u{0301}', 'ź'),
    ('z', '\u{0302}', 'ẑ'),
    ('z', '\u{0307}', 'ż'),
    ('z', '\u{030c}', 'ž'),
    ('z', '\u{0323}', 'ẓ'),
    ('z', '\u{0331}', 'ẕ'),
];

/// ISO 3166-1: (alpha-2, alpha-3), sorted by alpha-2. Source: Debian iso-codes `iso_3166-1.json` (249 entries).
static ISO_COUNTRIES: &[(&str, &str)] = &[
    ("ad", "and"),
    ("ae", "are"),
    ("af", "afg"),
    ("ag", "atg"),
    ("ai", "aia"),
    ("al", "alb"),
    ("am", "arm"),
    ("ao", "ago"),
    ("aq", "ata"),
    ("ar", "arg"),
    ("as", "asm"),
    ("at", "aut"),
    ("au", "aus"),
    ("aw", "abw"),
    ("ax", "ala"),
    ("az", "aze"),
    ("ba", "bih"),
    ("bb", "brb"),
    ("bd", "bgd"),
    ("be", "bel"),
    ("bf", "bfa"),
    ("bg", "bgr"),
    ("bh", "bhr"),
    ("bi", "bdi"),
    ("bj", "ben"),
    ("bl", "blm"),
    ("bm", "bmu"),
    ("bn", "brn"),
    ("bo", "bol"),
    ("bq", "bes"),
    ("br", "bra"),
    ("bs", "bhs"),
    ("bt", "btn"),
    ("bv", "bvt"),
    ("bw", "bwa"),
    ("by", "blr"),
    ("bz", "blz"),
    ("ca", "can"),
    ("cc", "cck"),
    ("cd", "cod"),
    ("cf", "caf"),
    ("cg", "cog"),
    ("ch", "che"),
    ("ci", "civ"),
    ("ck", "cok"),
    ("cl", "chl"),
    ("cm", "cmr"),
    ("cn", "chn"),
    ("co", "col"),
    ("cr", "cri"),
    ("cu", "cub"),
    ("cv", "cpv"),
    ("cw", "cuw"),
    ("cx", "cxr"),
    ("cy", "cyp"),
    ("cz", "cze"),
    ("de", "deu"),
    ("dj", "dji"),
    ("dk", "dnk"),
    ("dm", "dma"),
    ("do", "dom"),
    ("dz", "dza"),
    ("ec", "ecu"),
    ("ee", "est"),
    ("eg", "egy"),
    ("eh", "esh"),
    ("er", "eri"),
    ("es", "esp"),
    ("et", "eth"),
    ("fi", "fin"),
    ("fj", "fji"),
    ("fk", "flk"),
    ("fm", "fsm"),
    ("fo", "fro"),
    ("fr", "fra"),
    ("ga", "gab"),
    ("gb", "gbr"),
    ("gd", "grd"),
    ("ge", "geo"),
    ("gf", "guf"),
    ("gg", "ggy"),
    ("gh", "gha"),
    ("gi", "gib"),
    ("gl", "grl"),
    ("gm", "gmb"),
    ("gn", "gin"),
    ("gp", "glp"),
    ("gq", "gnq"),
    ("gr", "grc"),
    ("gs", "sgs"),
    ("gt", "gtm"),
    ("gu", "gum"),
    ("gw", "gnb"),
    ("gy", "guy"),
    ("hk", "hkg"),
    ("hm", "hmd"),
    ("hn", "hnd"),
    ("hr", "hrv"),
    ("ht", "hti"),
    ("hu", "hun"),
    ("id", "idn"),
    ("ie", "irl"),
    ("il", "isr"),
    ("im", "imn"),
    ("in", "ind"),
    ("io", "iot"),
    ("iq", "irq"),
    ("ir", "irn"),
    ("is", "isl"),
    ("it", "ita"),
    ("je", "jey"),
    ("jm", "jam"),
    ("jo", "jor"),
    ("jp", "jpn"),
    ("ke", "ken"),
    ("kg", "kgz"),
    ("kh", "khm"),
    ("ki", "kir"),
    ("km", "com"),
    ("kn", "kna"),
    ("kp", "prk"),
    ("kr", "kor"),
    ("kw", "kwt"),
    ("ky", "cym"),
    ("kz", "kaz"),
    ("la", "lao"),
    ("lb", "lbn"),
    ("lc", "lca"),
    ("li", "lie"),
    ("lk", "lka"),
    ("lr", "lbr"),
    ("ls", "lso"),
    ("lt", "ltu"),
    ("lu", "lux"),
    ("lv", "lva"),
    ("ly", "lby"),
    ("ma", "mar"),
    ("mc", "mco"),
    ("md", "mda"),
    ("me", "mne"),
    ("mf", "maf"),
    ("mg", "mdg"),
    ("mh", "mhl"),
    ("mk", "mkd"),
    ("ml", "mli"),
    ("mm", "mmr"),
    ("mn", "mng"),
    ("mo", "mac"),
    ("mp", "mnp"),
    ("mq", "mtq"),
    ("mr", "mrt"),
    ("ms", "msr"),
    ("mt", "mlt"),
    ("mu", "mus"),
    ("mv", "mdv"),
    ("mw", "mwi"),
    ("mx", "mex"),
    ("my", "mys"),
    ("mz", "moz"),
    ("na", "nam"),
    ("nc", "ncl"),
    ("ne", "ner"),
    ("nf", "nfk"),
    ("ng", "nga"),
    ("ni", "nic"),
    ("nl", "nld"),
    ("no", "nor"),
    ("np", "npl"),
    ("nr", "nru"),
    ("nu", "niu"),
    ("nz", "nzl"),
    ("om", "omn"),
    ("pa", "pan"),
    ("pe", "per"),
    ("pf", "pyf"),
    ("pg", "png"),
    ("ph", "phl"),
    ("pk", "pak"),
    ("pl", "pol"),
    ("pm", "spm"),
    ("pn", "pcn"),
    ("pr", "pri"),
    ("ps", "pse"),
    ("pt", "prt"),
    ("pw", "plw"),
    ("py", "pry"),
    ("qa", "qat"),
    ("re", "reu"),
    ("ro", "rou"),
    ("rs", "srb"),
    ("ru", "rus"),
    ("rw", "rwa"),
    ("sa", "sau"),
    ("sb", "slb"),
    ("sc", "syc"),
    ("sd", "sdn"),
    ("se", "swe"),
    ("sg", "sgp"),
    ("sh", "shn"),
    ("si", "svn"),
    ("sj", "sjm"),
    ("sk", "svk"),
    ("sl", "sle"),
    ("sm", "smr"),
    ("sn", "sen"),
    ("so", "som"),
    ("sr", "sur"),
    ("ss", "ssd"),
    ("st", "stp"),
    ("sv", "slv"),
    ("sx", "sxm"),
    ("sy", "syr"),
    ("sz", "swz"),
    ("tc", "tca"),
    ("td", "tcd"),
    ("tf", "atf"),
    ("tg", "tgo"),
    ("th", "tha"),
    ("tj", "tjk"),
    ("tk", "tkl"),
    ("tl", "tls"),
    ("tm", "tkm"),
    ("tn", "tun"),
    ("to", "ton"),
    ("tr", "tur"),
    ("tt", "tto"),
    ("tv", "tuv"),
    ("tw", "twn"),
    ("tz", "tza"),
    ("ua", "ukr"),
    ("ug", "uga"),
    ("um", "umi"),
    ("us", "usa"),
    ("uy", "ury"),
    ("uz", "uzb"),
    ("va", "vat"),
    ("vc", "vct"),
    ("ve", "ven"),
    ("vg", "vgb"),
    ("vi", "vir"),
    ("vn", "vnm"),
    ("vu", "vut"),
    ("wf", "wlf"),
    ("ws", "wsm"),
    ("ye", "yem"),
    ("yt", "myt"),
    ("za", "zaf"),
    ("zm", "zmb"),
    ("zw", "zwe"),
];

/// Country name key (folded, lowercase, letters only) -> alpha-2, sorted by key for binary search.
/// Sources: iso-codes names/common/official names, capi-param-builder COUNTRY_MAPPINGS, and common local-language names.
static COUNTRY_NAMES: &[(&str, &str)] = &[
    ("afghanistan", "af"),
    ("africadosul", "za"),
    ("afriquedusud", "za"),
    ("agypten", "eg"),
    ("alandislands", "ax"),
    ("albania", "al"),
    ("alemanha", "de"),
    ("alemania", "de"),
    ("algeria", "dz"),
    ("algerie", "dz"),
    ("algerien", "dz"),
    ("allemagne", "de"),
    ("america", "us"),
    ("americansamoa", "as"),
    ("amerika", "us"),
    ("andorra", "ad"),
    ("angola", "ao"),
    ("anguilla", "ai"),
    ("antarctica", "aq"),
    ("antiguaandbarbuda", "ag"),
    ("aotearoa", "nz"),
    ("arabiasaudita", "sa"),
    ("arabiesaoudite", "sa"),
    ("arabrepublicofegypt", "eg"),
    ("argelia", "dz"),
    ("argentina", "ar"),
    ("argentine", "ar"),
    ("argentinerepublic", "ar"),
    ("argentinien", "ar"),
    ("armenia", "am"),
    ("aruba", "aw"),
    ("australia", "au"),
    ("australie", "au"),
    ("australien", "au"),
    ("austria", "at"),
    ("autriche", "at"),
    ("azerbaijan", "az"),
    ("bahamas", "bs"),
    ("bahrain", "bh"),
    ("bangladesh", "bd"),
    ("barbados", "bb"),
    ("belarus", "by"),
    ("belgia", "be"),
    ("belgica", "be"),
    ("belgie", "be"),
    ("belgien", "be"),
    ("belgio", "be"),
    ("belgique", "be"),
    ("belgium", "be"),
    ("belize", "bz"),
    ("benin", "bj"),
    ("bermuda", "bm"),
    ("bharat", "in"),
    ("bhutan", "bt"),
    ("bolivarianrepublicofvenezuela", "ve"),
    ("bolivia", "bo"),
    ("boliviaplurinationalstateof", "bo"),
    ("bonairesinteustatinsandsaba", "bq"),
    ("bonairesinteustatiusandsaba", "bq"),
    ("bosnaihercegovina", "ba"),
    ("bosnia", "ba"),
    ("bosniaandherzegovina", "ba"),
    ("botswana", "bw"),
    ("bouvetisland", "bv"),
    ("brasil", "br"),
    ("brasile", "br"),
    ("brasilien", "br"),
    ("brazil", "br"),
    ("brazylia", "br"),
    ("brd", "de"),
    ("bresil", "br"),
    ("britain", "gb"),
    ("britishindianoceanterritory", "io"),
    ("britishvirginislands", "vg"),
    ("brunei", "bn"),
    ("bruneidarussalam", "bn"),
    ("bulgaria", "bg"),
    ("bulgarie", "bg"),
    ("bulgarien", "bg"),
    ("bundesrepublikdeutschland", "de"),
    ("burkinafaso", "bf"),
    ("burma", "mm"),
    ("burundi", "bi"),
    ("caboverde", "cv"),
    ("cambodia", "kh"),
    ("cameroon", "cm"),
    ("canada", "ca"),
    ("capeverde", "cv"),
    ("caymanislands", "ky"),
    ("centralafricanrepublic", "cf"),
    ("ceskarepublika", "cz"),
    ("cesko", "cz"),
    ("chad", "td"),
    ("chile", "cl"),
    ("chili", "cl"),
    ("china", "cn"),
    ("chine", "cn"),
    ("chipre", "cy"),
    ("christmasisland", "cx"),
    ("chypre", "cy"),
    ("cina", "cn"),
    ("cittadelvaticano", "va"),
    ("cocoskeelingislands", "cc"),
    ("colombia", "co"),
    ("colombie", "co"),
    ("commonwealthofaustralia", "au"),
    ("commonwealthofdominica", "dm"),
    ("commonwealthofthebahamas", "bs"),
    ("commonwealthofthenorthernmarianaislands", "mp"),
    ("comoros", "km"),
    ("confoederatiohelvetica", "ch"),
    ("congo", "cg"),
    ("congobrazzaville", "cg"),
    ("congokinshasa", "cd"),
    ("congothedemocraticrepublicofthe", "cd"),
    ("cookislands", "ck"),
    ("coreadelsud", "kr"),
    ("coreadelsur", "kr"),
    ("coreedusud", "kr"),
    ("coreiadosul", "kr"),
    ("costarica", "cr"),
    ("cotedivoire", "ci"),
    ("crnagora", "me"),
    ("croacia", "hr"),
    ("croatia", "hr"),
    ("croatie", "hr"),
    ("cuba", "cu"),
    ("curacao", "cw"),
    ("cyprus", "cy"),
    ("czechia", "cz"),
    ("czechrepublic", "cz"),
    ("czechy", "cz"),
    ("daehanminguk", "kr"),
    ("danemark", "dk"),
    ("dania", "dk"),
    ("danimarca", "dk"),
    ("danmark", "dk"),
    ("democraticpeoplesrepublicofkorea", "kp"),
    ("democraticrepublicofcongo", "cd"),
    ("democraticrepublicofsaotomeandprincipe", "st"),
    ("democraticrepublicofthecongo", "cd"),
    ("democraticrepublicoftimorleste", "tl"),
    ("democraticsocialistrepublicofsrilanka", "lk"),
    ("denemarken", "dk"),
    ("denmark", "dk"),
    ("deutschland", "de"),
    ("dinamarca", "dk"),
    ("djibouti", "dj"),
    ("dominica", "dm"),
    ("dominicanrepublic", "do"),
    ("drc", "cd"),
    ("drcongo", "cd"),
    ("duitsland", "de"),
    ("easternrepublicofuruguay", "uy"),
    ("easttimor", "tl"),
    ("ecuador", "ec"),
    ("eesti", "ee"),
    ("eeuu", "us"),
    ("egipto", "eg"),
    ("egitto", "eg"),
    ("egypt", "eg"),
    ("egypte", "eg"),
    ("eire", "ie"),
    ("elfenbeinkuste", "ci"),
    ("ellada", "gr"),
    ("elsalvador", "sv"),
    ("emirates", "ae"),
    ("emiratiarabiuniti", "ae"),
    ("emiratosarabesunidos", "ae"),
    ("emiratsarabesunis", "ae"),
    ("england", "gb"),
    ("equateur", "ec"),
    ("equatorialguinea", "gq"),
    ("eritrea", "er"),
    ("eslovaquia", "sk"),
    ("espagne", "es"),
    ("espana", "es"),
    ("espanha", "es"),
    ("estadosunidos", "us"),
    ("estadosunidosmexicanos", "mx"),
    ("estland", "ee"),
    ("estonia", "ee"),
    ("estonie", "ee"),
    ("eswatini", "sz"),
    ("etatsunis", "us"),
    ("ethiopia", "et"),
    ("eua", "us"),
    ("falklandislands", "fk"),
    ("falklandislandsmalvinas", "fk"),
    ("faroeislands", "fo"),
    ("federaldemocraticrepublicofethiopia", "et"),
    ("federaldemocraticrepublicofnepal", "np"),
    ("federalrepublicofgermany", "de"),
    ("federalrepublicofnigeria", "ng"),
    ("federalrepublicofsomalia", "so"),
    ("federatedstatesofmicronesia", "fm"),
    ("federativerepublicofbrazil", "br"),
    ("fiji", "fj"),
    ("filipinas", "ph"),
    ("finland", "fi"),
    ("finlande", "fi"),
    ("finlandia", "fi"),
    ("finnland", "fi"),
    ("franca", "fr"),
    ("france", "fr"),
    ("francia", "fr"),
    ("francja", "fr"),
    ("frankreich", "fr"),
    ("frankrijk", "fr"),
    ("frankrike", "fr"),
    ("frenchguiana", "gf"),
    ("frenchpolynesia", "pf"),
    ("frenchrepublic", "fr"),
    ("frenchsouthernterritories", "tf"),
    ("gabon", "ga"),
    ("gaboneserepublic", "ga"),
    ("gambia", "gm"),
    ("georgia", "ge"),
    ("germania", "de"),
    ("germany", "de"),
    ("ghana", "gh"),
    ("giappone", "jp"),
    ("gibraltar", "gi"),
    ("granbretana", "gb"),
    ("grandduchyofluxembourg", "lu"),
    ("grandebretagne", "gb"),
    ("greatbritain", "gb"),
    ("greatbritainandnorthernireland", "gb"),
    ("grece", "gr"),
    ("grecia", "gr"),
    ("grecja", "gr"),
    ("greece", "gr"),
    ("greenland", "gl"),
    ("grenada", "gd"),
    ("griechenland", "gr"),
    ("grossbritannien", "gb"),
    ("guadeloupe", "gp"),
    ("guam", "gu"),
    ("guatemala", "gt"),
    ("guernsey", "gg"),
    ("guinea", "gn"),
    ("guineabissau", "gw"),
    ("guyana", "gy"),
    ("haiti", "ht"),
    ("hanguk", "kr"),
    ("hashemitekingdomofjordan", "jo"),
    ("hayastan", "am"),
    ("heardislandandmcdonaldislands", "hm"),
    ("hellas", "gr"),
    ("hellenicrepublic", "gr"),
    ("helvetia", "ch"),
    ("hiszpania", "es"),
    ("holanda", "nl"),
    ("holandia", "nl"),
    ("holland", "nl"),
    ("holysee", "va"),
    ("holyseevaticancitystate", "va"),
    ("honduras", "hn"),
    ("hongkong", "hk"),
    ("hongkongsar", "hk"),
    ("hongkongspecialadministrativeregionofchina", "hk"),
    ("hongrie", "hu"),
    ("hrvatska", "hr"),
    ("hungary", "hu"),
    ("hungria", "hu"),
    ("iceland", "is"),
    ("ind", "in"),
    ("inde", "in"),
    ("independentstateofpapuanewguinea", "pg"),
    ("independentstateofsamoa", "ws"),
    ("india", "in"),
    ("indie", "in"),
    ("indien", "in"),
    ("indonesia", "id"),
    ("indonesie", "id"),
    ("indonesien", "id"),
    ("iran", "ir"),
    ("iranislamicrepublicof", "ir"),
    ("iraq", "iq"),
    ("ireland", "ie"),
    ("irland", "ie"),
    ("irlanda", "ie"),
    ("irlande", "ie"),
    ("islamicrepublicofafghanistan", "af"),
    ("islamicrepublicofiran", "ir"),
    ("islamicrepublicofmauritania", "mr"),
    ("islamicrepublicofpakistan", "pk"),
    ("island", "is"),
    ("islande", "is"),
    ("islandia", "is"),
    ("isleofman", "im"),
    ("israel", "il"),
    ("italia", "it"),
    ("italianrepublic", "it"),
    ("italie", "it"),
    ("italien", "it"),
    ("italy", "it"),
    ("ivorycoast", "ci"),
    ("jamaica", "jm"),
    ("japan", "jp"),
    ("japao", "jp"),
    ("japon", "jp"),
    ("japonia", "jp"),
    ("jersey", "je"),
    ("jordan", "jo"),
    ("kanada", "ca"),
    ("kazakhstan", "kz"),
    ("kenia", "ke"),
    ("kenya", "ke"),
    ("kingdomofbahrain", "bh"),
    ("kingdomofbelgium", "be"),
    ("kingdomofbhutan", "bt"),
    ("kingdomofcambodia", "kh"),
    ("kingdomofdenmark", "dk"),
    ("kingdomofeswatini", "sz"),
    ("kingdomoflesotho", "ls"),
    ("kingdomofmorocco", "ma"),
    ("kingdomofnorway", "no"),
    ("kingdomofsaudiarabia", "sa"),
    ("kingdomofspain", "es"),
    ("kingdomofsweden", "se"),
    ("kingdomofthailand", "th"),
    ("kingdomofthenetherlands", "nl"),
    ("kingdomoftonga", "to"),
    ("kiribati", "ki"),
    ("kolumbien", "co"),
    ("korea", "kr"),
    ("koreademocraticpeoplesrepublicof", "kp"),
    ("korearepublicof", "kr"),
    ("kroatien", "hr"),
    ("ksa", "sa"),
    ("kuwait", "kw"),
    ("kypros", "cy"),
    ("kyrgyzrepublic", "kg"),
    ("kyrgyzstan", "kg"),
    ("laopeoplesdemocraticrepublic", "la"),
    ("laos", "la"),
    ("latvia", "lv"),
    ("latvija", "lv"),
    ("lebaneserepublic", "lb"),
    ("lebanon", "lb"),
    ("lesotho", "ls"),
    ("lettland", "lv"),
    ("lettonie", "lv"),
    ("letzebuerg", "lu"),
    ("liberia", "lr"),
    ("libya", "ly"),
    ("liechtenstein", "li"),
    ("lietuva", "lt"),
    ("litauen", "lt"),
    ("lithuania", "lt"),
    ("lituanie", "lt"),
    ("lussemburgo", "lu"),
    ("luxembourg", "lu"),
    ("luxemburg", "lu"),
    ("luxemburgo", "lu"),
    ("macao", "mo"),
    ("macaospecialadministrativeregionofchina", "mo"),
    ("macau", "mo"),
    ("macedonia", "mk"),
    ("macedoniatheformeryugoslavrepublicof", "mk"),
    ("madagascar", "mg"),
    ("magyarorszag", "hu"),
    ("malawi", "mw"),
    ("malaysia", "my"),
    ("maldives", "mv"),
    ("mali", "ml"),
    ("malta", "mt"),
    ("maroc", "ma"),
    ("marocco", "ma"),
    ("marokko", "ma"),
    ("marrocos", "ma"),
    ("marruecos", "ma"),
    ("marshallislands", "mh"),
    ("martinique", "mq"),
    ("mauritania", "mr"),
    ("mauritius", "mu"),
    ("mayotte", "yt"),
    ("mejico", "mx"),
    ("messico", "mx"),
    ("mexico", "mx"),
    ("mexiko", "mx"),
    ("mexique", "mx"),
    ("micronesia", "fm"),
    ("micronesiafederatedstatesof", "fm"),
    ("misr", "eg"),
    ("moldova", "md"),
    ("moldovarepublicof", "md"),
    ("monaco", "mc"),
    ("mongolia", "mn"),
    ("montenegro", "me"),
    ("montserrat", "ms"),
    ("morocco", "ma"),
    ("mozambique", "mz"),
    ("myanmar", "mm"),
    ("namibia", "na"),
    ("nauru", "nr"),
    ("nederland", "nl"),
    ("nepal", "np"),
    ("netherlands", "nl"),
    ("neuseeland", "nz"),
    ("newcaledonia", "nc"),
    ("newzealand", "nz"),
    ("nicaragua", "ni"),
    ("niederlande", "nl"),
    ("niemcy", "de"),
    ("niger", "ne"),
    ("nigeria", "ng"),
    ("nihon", "jp"),
    ("nippon", "jp"),
    ("niue", "nu"),
    ("noorwegen", "no"),
    ("noreg", "no"),
    ("norfolkisland", "nf"),
    ("norge", "no"),
    ("northernireland", "gb"),
    ("northernmarianaislands", "mp"),
    ("northkorea", "kp"),
    ("northmacedonia", "mk"),
    ("noruega", "no"),
    ("norvege", "no"),
    ("norvegia", "no"),
    ("norway", "no"),
    ("norwegen", "no"),
    ("norwegia", "no"),
    ("nouvellezelande", "nz"),
    ("nuevazelanda", "nz"),
    ("nuovazelanda", "nz"),
    ("oesterreich", "at"),
    ("oman", "om"),
    ("oostenrijk", "at"),
    ("osterreich", "at"),
    ("osterrike", "at"),
    ("paesibassi", "nl"),
    ("paisesbaixos", "nl"),
    ("paisesbajos", "nl"),
    ("pakistan", "pk"),
    ("palau", "pw"),
    ("palestine", "ps"),
    ("palestinestateof", "ps"),
    ("panama", "pa"),
    ("papuanewguinea", "pg"),
    ("paraguay", "py"),
    ("paysbas", "nl"),
    ("peoplesdemocraticrepublicofalgeria", "dz"),
    ("peoplesrepublicofbangladesh", "bd"),
    ("peoplesrepublicofchina", "cn"),
    ("perou", "pe"),
    ("peru", "pe"),
    ("philippinen", "ph"),
    ("philippines", "ph"),
    ("pilipinas", "ph"),
    ("pitcairn", "pn"),
    ("plurinationalstateofbolivia", "bo"),
    ("poland", "pl"),
    ("polen", "pl"),
    ("pologne", "pl"),
    ("polonia", "pl"),
    ("polska", "pl"),
    ("portogallo", "pt"),
    ("portugal", "pt"),
    ("portugueserepublic", "pt"),
    ("prathetthai", "th"),
    ("prc", "cn"),
    ("principalityofandorra", "ad"),
    ("principalityofliechtenstein", "li"),
    ("principalityofmonaco", "mc"),
    ("puertorico", "pr"),
    ("qatar", "qa"),
    ("regnounito", "gb"),
    ("reinodeespana", "es"),
    ("reinounido", "gb"),
    ("repubblicaceca", "cz"),
    ("repubblicaitaliana", "it"),
    ("republicaargentina", "ar"),
    ("republicacheca", "cz"),
    ("republicafederativadobrasil", "br"),
    ("republicapopularchina", "cn"),
    ("republicofalbania", "al"),
    ("republicofangola", "ao"),
    ("republicofarmenia", "am"),
    ("republicofaustria", "at"),
    ("republicofazerbaijan", "az"),
    ("republicofbelarus", "by"),
    ("republicofbenin", "bj"),
    ("republicofbosniaandherzegovina", "ba"),
    ("republicofbotswana", "bw"),
    ("republicofbulgaria", "bg"),
    ("republicofburundi", "bi"),
    ("republicofcaboverde", "cv"),
    ("republicofcameroon", "cm"),
    ("republicofchad", "td"),
    ("republicofchile", "cl"),
    ("republicofchina", "tw"),
    ("republicofcolombia", "co"),
    ("republicofcostarica", "cr"),
    ("republicofcotedivoire", "ci"),
    ("republicofcroatia", "hr"),
    ("republicofcuba", "cu"),
    ("republicofcyprus", "cy"),
    ("republicofdjibouti", "dj"),
    ("republicofecuador", "ec"),
    ("republicofelsalvador", "sv"),
    ("republicofequatorialguinea", "gq"),
    ("republicofestonia", "ee"),
    ("republicoffiji", "fj"),
    ("republicoffinland", "fi"),
    ("republicofghana", "gh"),
    ("republicofguatemala", "gt"),
    ("republicofguinea", "gn"),
    ("republicofguineabissau", "gw"),
    ("republicofguyana", "gy"),
    ("republicofhaiti", "ht"),
    ("republicofhonduras", "hn"),
    ("republicoficeland", "is"),
    ("republicofindia", "in"),
    ("republicofindonesia", "id"),
    ("republicofiraq", "iq"),
    ("republicofireland", "ie"),
    ("republicofkazakhstan", "kz"),
    ("republicofkenya", "ke"),
    ("republicofkiribati", "ki"),
    ("republicofkorea", "kr"),
    ("republicoflatvia", "lv"),
    ("republicofliberia", "lr"),
    ("republicoflithuania", "lt"),
    ("republicofmadagascar", "mg"),
    ("republicofmalawi", "mw"),
    ("republicofmaldives", "mv"),
    ("republicofmali", "ml"),
    ("republicofmalta", "mt"),
    ("republicofmauritius", "mu"),
    ("republicofmoldova", "md"),
    ("republicofmozambique", "mz"),
    ("republicofmyanmar", "mm"),
    ("republicofnamibia", "na"),
    ("republicofnauru", "nr"),
    ("republicofnicaragua", "ni"),
    ("republicofnorthmacedonia", "mk"),
    ("republicofpalau", "pw"),
    ("republicofpanama", "pa"),
    ("republicofparaguay", "py"),
    ("republicofperu", "pe"),
    ("republicofpoland", "pl"),
    ("republicofsanmarino", "sm"),
    ("republicofsenegal", "sn"),
    ("republicofserbia", "rs"),
    ("republicofseychelles", "sc"),
    ("republicofsierraleone", "sl"),
    ("republicofsingapore", "sg"),
    ("republicofslovenia", "si"),
    ("republicofsouthafrica", "za"),
    ("republicofsouthsudan", "ss"),
    ("republicofsuriname", "sr"),
    ("republicoftajikistan", "tj"),
    ("republicofthecongo", "cg"),
    ("republicofthegambia", "gm"),
    ("republicofthemarshallislands", "mh"),
    ("republicoftheniger", "ne"),
    ("republicofthephilippines", "ph"),
    ("republicofthesudan", "sd"),
    ("republicoftrinidadandtobago", "tt"),
    ("republicoftunisia", "tn"),
    ("republicofturkiye", "tr"),
    ("republicofuganda", "ug"),
    ("republicofuzbekistan", "uz"),
    ("republicofvanuatu", "vu"),
    ("republicofyemen", "ye"),
    ("republicofzambia", "zm"),
    ("republicofzimbabwe", "zw"),
    ("republiquefrancaise", "fr"),
    ("republiquetcheque", "cz"),
    ("reunion", "re"),
    ("romania", "ro"),
    ("rosja", "ru"),
    ("rossija", "ru"),
    ("rossiya", "ru"),
    ("roumanie", "ro"),
    ("royaumeuni", "gb"),
    ("rsa", "za"),
    ("rumania", "ro"),
    ("rumanien", "ro"),
    ("rumunia", "ro"),
    ("rusia", "ru"),
    ("russia", "ru"),
    ("russianfederation", "ru"),
    ("russie", "ru"),
    ("russland", "ru"),
    ("rwanda", "rw"),
    ("rwandeserepublic", "rw"),
    ("rzeczpospolitapolska", "pl"),
    ("saintbarthelemy", "bl"),
    ("saintbarts", "bl"),
    ("sainthelena", "sh"),
    ("sainthelenaascensionandtristandacunha", "sh"),
    ("saintkitts", "kn"),
    ("saintkittsandnevis", "kn"),
    ("saintlucia", "lc"),
    ("saintmartin", "mf"),
    ("saintmartinfrenchpart", "mf"),
    ("saintpierreandmiquelon", "pm"),
    ("saintvincent", "vc"),
    ("saintvincentandthegrenadines", "vc"),
    ("sakartvelo", "ge"),
    ("saksa", "de"),
    ("samoa", "ws"),
    ("sanmarino", "sm"),
    ("saotomeandprincipe", "st"),
    ("saudi", "sa"),
    ("saudiarabia", "sa"),
    ("saudiarabien", "sa"),
    ("schweden", "se"),
    ("schweiz", "ch"),
    ("scotland", "gb"),
    ("senegal", "sn"),
    ("serbia", "rs"),
    ("serbie", "rs"),
    ("serbien", "rs"),
    ("seychelles", "sc"),
    ("siam", "th"),
    ("sierraleone", "sl"),
    ("singapore", "sg"),
    ("singapour", "sg"),
    ("singapur", "sg"),
    ("singapura", "sg"),
    ("sintmaarten", "sx"),
    ("sintmaartenductchpart", "sx"),
    ("sintmaartendutchpart", "sx"),
    ("slovakia", "sk"),
    ("slovakrepublic", "sk"),
    ("slovaquie", "sk"),
    ("slovenia", "si"),
    ("slovenie", "si"),
    ("slovenija", "si"),
    ("slovensko", "sk"),
    ("slowakei", "sk"),
    ("slowenien", "si"),
    ("socialistrepublicofvietnam", "vn"),
    ("solomonislands", "sb"),
    ("somalia", "so"),
    ("southafrica", "za"),
    ("southgeorgiaandthesouthsandwichislands", "gs"),
    ("southkorea", "kr"),
    ("southsudan", "ss"),
    ("spagna", "es"),
    ("spain", "es"),
    ("spanien", "es"),
    ("spanje", "es"),
    ("srbija", "rs"),
    ("srilanka", "lk"),
    ("stateofisrael", "il"),
    ("stateofkuwait", "kw"),
    ("stateofqatar", "qa"),
    ("statiuniti", "us"),
    ("stbarthelemy", "bl"),
    ("stbarts", "bl"),
    ("sthelena", "sh"),
    ("stkittsandnevis", "kn"),
    ("stlucia", "lc"),
    ("stmaarten", "sx"),
    ("stmartin", "mf"),
    ("stpierreandmiquelon", "pm"),
    ("stvincent", "vc"),
    ("stvincentandthegrenadines", "vc"),
    ("sudafrica", "za"),
    ("sudafrika", "za"),
    ("sudan", "sd"),
    ("sudkorea", "kr"),
    ("suecia", "se"),
    ("suede", "se"),
    ("suica", "ch"),
    ("suidafrika", "za"),
    ("suisse", "ch"),
    ("suiza", "ch"),
    ("sultanateofoman", "om"),
    ("suomi", "fi"),
    ("suriname", "sr"),
    ("svalbardandjanmayen", "sj"),
    ("sverige", "se"),
    ("svezia", "se"),
    ("svizra", "ch"),
    ("svizzera", "ch"),
    ("swaziland", "sz"),
    ("sweden", "se"),
    ("swissconfederation", "ch"),
    ("switzerland", "ch"),
    ("syria", "sy"),
    ("syrianarabrepublic", "sy"),
    ("szwajcaria", "ch"),
    ("szwecja", "se"),
    ("tailandia", "th"),
    ("taiwan", "tw"),
    ("taiwanprovinceofchina", "tw"),
    ("tajikistan", "tj"),
    ("tanzania", "tz"),
    ("tanzaniaunitedrepublicof", "tz"),
    ("thailand", "th"),
    ("thailande", "th"),
    ("thenetherlands", "nl"),
    ("thestateoferitrea", "er"),
    ("thestateofpalestine", "ps"),
    ("theunitedstates", "us"),
    ("timorleste", "tl"),
    ("togo", "tg"),
    ("togoleserepublic", "tg"),
    ("tokelau", "tk"),
    ("tonga", "to"),
    ("trinidad", "tt"),
    ("trinidadandtobago", "tt"),
    ("tschechien", "cz"),
    ("tschechischerepublik", "cz"),
    ("tunesien", "tn"),
    ("tunez", "tn"),
    ("tunisia", "tn"),
    ("tunisie", "tn"),
    ("turchia", "tr"),
    ("turcja", "tr"),
    ("turkei", "tr"),
    ("turkey", "tr"),
    ("turkiye", "tr"),
    ("turkmenistan", "tm"),
    ("turksandcaicosislands", "tc"),
    ("turquia", "tr"),
    ("turquie", "tr"),
    ("tuvalu", "tv"),
    ("tyskland", "de"),
    ("uae", "ae"),
    ("ucraina", "ua"),
    ("ucrania", "ua"),
    ("uganda", "ug"),
    ("ukraina", "ua"),
    ("ukraine", "ua"),
    ("ungarn", "hu"),
    ("ungheria", "hu"),
    ("unionofthecomoros", "km"),
    ("unitedarabemirates", "ae"),
    ("unitedkingdom", "gb"),
    ("unitedkingdomofgreatbritainandnorthernireland", "gb"),
    ("unitedmexicanstates", "mx"),
    ("unitedrepublicoftanzania", "tz"),
    ("unitedstates", "us"),
    ("unitedstatesminoroutlyingislands", "um"),
    ("unitedstatesofamerica", "us"),
    ("uruguay", "uy"),
    ("usa", "us"),
    ("usofa", "us"),
    ("usvirginislands", "vi"),
    ("uzbekistan", "uz"),
    ("vanuatu", "vu"),
    ("vatican", "va"),
    ("vaticancity", "va"),
    ("venezuela", "ve"),
    ("venezuelabolivarianrepublicof", "ve"),
    ("vereinigtearabischeemirate", "ae"),
    ("vereinigteskonigreich", "gb"),
    ("vereinigtestaaten", "us"),
    ("verenigdkoninkrijk", "gb"),
    ("vietnam", "vn"),
    ("virginislandsbritish", "vg"),
    ("virginislandsoftheunitedstates", "vi"),
    ("virginislandsus", "vi"),
    ("volksrepublikchina", "cn"),
    ("wales", "gb"),
    ("wallisandfutuna", "wf"),
    ("wegry", "hu"),
    ("weissrussland", "by"),
    ("westernsahara", "eh"),
    ("wielkabrytania", "gb"),
    ("wlochy", "it"),
    ("yemen", "ye"),
    ("yisrael", "il"),
    ("zambia", "zm"),
    ("zhongguo", "cn"),
    ("zimbabwe", "zw"),
    ("zweden", "se"),
    ("zwitserland", "ch"),
    ("zypern", "cy"),
    ("ελλάδα", "gr"),
    ("ελλάσ", "gr"),
    ("κύπροσ", "cy"),
    ("беларусь", "by"),
    ("българия", "bg"),
    ("российскаяфедерация", "ru"),
    ("россия", "ru"),
    ("севернамакедонија", "mk"),
    ("србија", "rs"),
    ("україна", "ua"),
    ("ישראל", "il"),
    ("الإمارات", "ae"),
    ("السعودية", "sa"),
    ("المغرب", "ma"),
    ("مصر", "eg"),
    ("中华人民共和国", "cn"),
    ("中国", "cn"),
    ("中國", "cn"),
    ("台湾", "tw"),
    ("台灣", "tw"),
    ("日本", "jp"),
    ("日本国", "jp"),
    ("澳門", "mo"),
    ("臺灣", "tw"),
    ("香港", "hk"),
    ("대한민국", "kr"),
    ("한국", "kr"),
];

#[cfg(test)]
mod tests {
    use super::super::hash::sha256_hex;
    use super::*;

    const HASH: &str = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b";
    const TODAY: u32 = 20260115;

    #[track_caller]
    fn ok(r: Result<String, NormalizeError>, expected: &str) {
        assert_eq!(r.as_deref(), Ok(expected));
    }

    #[track_caller]
    fn err(r: Result<String, NormalizeError>, expected: NormalizeError) {
        assert_eq!(r, Err(expected));
    }

    fn phone(raw: &str, country: Option<&str>) -> Result<String, NormalizeError> {
        normalize_phone(raw, country)
    }

    fn dob(raw: &str) -> Result<String, NormalizeError> {
        normalize_dob_at(raw, TODAY)
    }

    // -----------------------------------------------------------------------------------------
    // pass-through and empty input, for every function
    // -----------------------------------------------------------------------------------------

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

    // -----------------------------------------------------------------------------------------
    // email
    // -----------------------------------------------------------------------------------------

    #[test]
    fn email_basic() {
        ok(
            normalize_email("  John.Doe@Example.COM "),
            "john.doe@example.com",
        );
        ok(normalize_email("test@example.com"), "test@example.com");
        ok(
            normalize_email("user.name+tag@domain.co.uk"),
            "user.name+tag@domain.co.uk",
        );
        ok(
            normalize_email("test'name@example.com"),
            "test'name@example.com",
        );
        ok(
            normalize_email("user_name@sub.example.org"),
            "user_name@sub.example.org",
        );
        ok(
            normalize_email("\u{FEFF}someone@domain.com\u{200B}"),
            "someone@domain.com",
        );
        // Meta docs worked example, with its published hash.
        let n = normalize_email("John_Smith@gmail.com").unwrap();
        assert_eq!(n, "john_smith@gmail.com");
        assert_eq!(
            sha256_hex(&n),
            "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"
        );
    }

    #[test]
    fn email_pasted_wrappers() {
        ok(
            normalize_email("mailto:Jane@Example.org"),
            "jane@example.org",
        );
        ok(
            normalize_email("MAILTO:jane@example.org?subject=Hi"),
            "jane@example.org",
        );
        ok(normalize_email("<bob@example.com>"), "bob@example.com");
        ok(normalize_email("\"bob@example.com\""), "bob@example.com");
        ok(normalize_email("'bob@example.com'"), "bob@example.com");
        ok(normalize_email("“bob@example.com”"), "bob@example.com");
        ok(
            normalize_email("Bob Smith <Bob.Smith@Example.co.uk>"),
            "bob.smith@example.co.uk",
        );
        ok(
            normalize_email("<mailto:bob@example.com>"),
            "bob@example.com",
        );
    }

    #[test]
    fn email_rejects_garbage() {
        for bad in [
            "not-an-email",
            "john@",
            "@example.com",
            "john@example",
            "john doe@example.com",
            "john..doe@example.com",
            ".john@example.com",
            "john.@example.com",
            "john@exa_mple.com",
            "john@-example.com",
            "john@example-.com",
            "john@example..com",
            "a@b@c.com",
            "jöhn@example.com",
            "john@exämple.com",
            "<>",
        ] {
            err(normalize_email(bad), NOT_EMAIL);
        }
        err(normalize_email("\"\""), NOT_EMAIL);
    }

    #[test]
    fn email_google_rules() {
        ok(
            normalize_email_google("John.Doe@Gmail.com"),
            "johndoe@gmail.com",
        );
        ok(
            normalize_email_google("j.o.h.n+promo@googlemail.com"),
            "john+promo@googlemail.com",
        );
        ok(
            normalize_email_google("john.doe@example.com"),
            "john.doe@example.com",
        );
        ok(
            normalize_email_google("john.doe@gmail.co.uk"),
            "john.doe@gmail.co.uk",
        );
        ok(
            normalize_email_google("johndoe@gmail.com"),
            "johndoe@gmail.com",
        );
        err(normalize_email_google("john.doe@gmail"), NOT_EMAIL);
    }

    // -----------------------------------------------------------------------------------------
    // phone
    // -----------------------------------------------------------------------------------------

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

    // -----------------------------------------------------------------------------------------
    // names
    // -----------------------------------------------------------------------------------------

    #[test]
    fn names_ascii_and_punctuation() {
        ok(normalize_name("John"), "john");
        ok(normalize_name("  MARY  "), "mary");
        ok(normalize_name("O'Brien"), "obrien");
        ok(normalize_name("O’Brien"), "obrien");
        ok(normalize_name("Oʼbrien"), "obrien");
        ok(normalize_name("Mary-Jane"), "maryjane");
        ok(normalize_name("Mary Jane"), "maryjane");
        ok(normalize_name("Jean–Pierre"), "jeanpierre");
        ok(normalize_name("van der Berg"), "vanderberg");
        ok(normalize_name("    Na'than-Boile    "), "nathanboile");
        ok(normalize_name("Dr. Smith"), "drsmith");
        ok(normalize_name("John Jr."), "johnjr");
        ok(normalize_name("Agent007"), "agent007");
        ok(normalize_name("John 😀"), "john");
        err(normalize_name("123"), NAME_NO_LETTERS);
        err(normalize_name("---"), NAME_NO_LETTERS);
    }

    #[test]
    fn names_unicode() {
        ok(normalize_name("José"), "josé");
        ok(normalize_name("JOSÉ"), "josé");
        ok(normalize_name("Jose\u{301}"), "josé"); // NFD input composes to NFC
        ok(normalize_name("Müller"), "müller");
        ok(normalize_name("ÉLODIE"), "élodie");
        ok(normalize_name("Zoë"), "zoë");
        ok(normalize_name("Ñúñez"), "ñúñez");
        ok(normalize_name("Łukasz"), "łukasz");
        ok(normalize_name("山田"), "山田");
        ok(normalize_name("Ελένη"), "ελένη");
        ok(normalize_name("ΟΔΥΣΣΕΑΣ"), "οδυσσεα\u{3C2}"); // final sigma, as JS toLowerCase
                                                          // ... decided after the junk is gone, ASCII letters around it counting as letters
        ok(normalize_name("ΟΔΥΣΣΕΑΣ-Smith"), "οδυσσεασsmith");
        ok(normalize_name("Smith ΟΔΥΣΣΕΑΣ!"), "smithοδυσσεα\u{3C2}");
        ok(normalize_name("Дмитрий"), "дмитрий");
        ok(normalize_name("ジョン・スミス"), "ジョンスミス");
        ok(normalize_name("佐々木"), "佐々木");
        // Meta docs worked examples, with their published hashes.
        let n = normalize_name("정").unwrap();
        assert_eq!(
            sha256_hex(&n),
            "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"
        );
        let n = normalize_name("Valéry").unwrap();
        assert_eq!(n, "valéry");
        assert_eq!(
            sha256_hex(&n),
            "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"
        );
        let n = normalize_name("Mary").unwrap();
        assert_eq!(
            sha256_hex(&n),
            "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"
        );
    }

    // -----------------------------------------------------------------------------------------
    // city, state
    // -----------------------------------------------------------------------------------------

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

    // -----------------------------------------------------------------------------------------
    // zip
    // -----------------------------------------------------------------------------------------

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

    // -----------------------------------------------------------------------------------------
    // country
    // -----------------------------------------------------------------------------------------

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

    // -----------------------------------------------------------------------------------------
    // date of birth
    // -----------------------------------------------------------------------------------------

    #[test]
    fn dob_formats() {
        let d = "19900517";
        ok(dob("1990-05-17"), d);
        ok(dob("17/05/1990"), d);
        ok(dob("05/17/1990"), d);
        ok(dob("1990/05/17"), d);
        ok(dob("19900517"), d);
        ok(dob("17.05.1990"), d);
        ok(dob("May 17, 1990"), d);
        ok(dob("17 May 1990"), d);
        ok(dob("17th of May, 1990"), d);
        ok(dob("Thursday, May 17th 1990"), d);
        ok(dob("17 de mayo de 1990"), d);
        ok(dob("17. Mai 1990"), d);
        ok(dob("1990-05-17T00:00:00Z"), d);
        ok(dob("1990-05-17 12:30:00"), d);
        ok(dob("5/17/1990 0:00"), d);
        ok(dob("17.05.1990 12:00:00 AM"), d);
        ok(dob("DOB: 1990-05-17"), d);
        ok(dob("17051990"), d);
        ok(dob("05171990"), d);
        ok(dob("1990 17 05"), d);
        ok(dob("  1985-06-30 "), "19850630");
        ok(dob("17. März 1990"), "19900317");
        ok(dob("Sept 3 1975"), "19750903");
        ok(dob("3 août 1975"), "19750803");
        ok(dob("29/02/2000"), "20000229");
        // Ambiguous: month first, like Meta's library.
        ok(dob("05/06/1990"), "19900506");
        // Meta docs worked example, with its published hash.
        let n = dob("2/16/1997").unwrap();
        assert_eq!(n, "19970216");
        assert_eq!(
            sha256_hex(&n),
            "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"
        );
    }

    #[test]
    fn dob_validation() {
        err(dob("29/02/1999"), DATE_INVALID);
        err(dob("31/04/1990"), DATE_INVALID);
        err(dob("13/13/1990"), DATE_INVALID);
        err(dob("1900-02-29"), DATE_INVALID);
        err(dob("1899-12-31"), DATE_BEFORE_1900);
        err(dob("17/05/90"), DATE_YEAR_DIGITS);
        err(dob("May 17, 90"), DATE_YEAR_DIGITS);
        err(dob("170590"), DATE_YEAR_DIGITS);
        err(dob("2030-01-01"), DATE_FUTURE);
        err(dob("2026-01-17"), DATE_FUTURE);
        ok(dob("2026-01-16"), "20260116"); // one day of time-zone slack
        ok(dob("2026-01-15"), "20260115");
        err(dob("hello"), NOT_DATE);
        err(dob("1990-05"), NOT_DATE);
        err(dob("1990-05-17-01"), NOT_DATE);
        err(dob("May June 1990 17"), NOT_DATE);
        // Month/year edges of the one-day slack.
        ok(normalize_dob_at("2026-01-01", 20251231), "20260101");
        ok(normalize_dob_at("2026-02-01", 20260131), "20260201");
        err(normalize_dob_at("2026-01-02", 20251231), DATE_FUTURE);
    }

    #[test]
    fn dob_with_real_clock() {
        ok(normalize_dob("1990-05-17"), "19900517");
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        err(normalize_dob("2999-01-01"), DATE_FUTURE);
    }

    // -----------------------------------------------------------------------------------------
    // gender, external id
    // -----------------------------------------------------------------------------------------

    #[test]
    fn genders() {
        for f in [
            "F",
            "female",
            "Woman",
            "w",
            "femenino",
            "mujer",
            "feminino",
            "femme",
            "weiblich",
            "Mrs.",
            "ma'am",
            " Female ",
            "女",
            "Женский",
            "FEMENINA",
        ] {
            ok(normalize_gender(f), "f");
        }
        for m in [
            "M",
            "male",
            "man",
            "masculino",
            "hombre",
            "homme",
            "männlich",
            "Mr.",
            " Male ",
            "男",
            "мужской",
            "MANN",
        ] {
            ok(normalize_gender(m), "m");
        }
        for bad in [
            "x",
            "non-binary",
            "other",
            "unknown",
            "prefer not to say",
            "1",
        ] {
            err(normalize_gender(bad), GENDER_UNKNOWN);
        }
    }

    #[test]
    fn external_ids() {
        ok(normalize_external_id("ABC-123"), "abc-123");
        ok(normalize_external_id(" User 42 "), "user42");
        ok(normalize_external_id("12345"), "12345");
        ok(normalize_external_id("user@domain.com"), "user@domain.com");
        ok(normalize_external_id("id\t2023\nabc"), "id2023abc");
        ok(
            normalize_external_id("{6BA7B814-9DAD-11D1-80B4-00C04FD430C8}"),
            "{6ba7b814-9dad-11d1-80b4-00c04fd430c8}",
        );
        ok(normalize_external_id("Customer_789"), "customer_789");
    }

    // -----------------------------------------------------------------------------------------
    // tables
    // -----------------------------------------------------------------------------------------

    #[test]
    fn tables_are_sorted_and_consistent() {
        assert!(LATIN_FOLD.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(LATIN_COMPOSE
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
        assert_eq!(ISO_COUNTRIES.len(), 249);
        for a in b'a'..=b'z' {
            for b in b'a'..=b'z' {
                let code = String::from_utf8(vec![a, b]).unwrap();
                let listed = ISO_COUNTRIES.iter().find(|(a2, _)| *a2 == code);
                assert_eq!(iso_country_by_alpha2(&code), listed.map(|(a2, _)| *a2));
            }
        }
        assert!(ISO_COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(COUNTRY_NAMES.windows(2).all(|w| w[0].0 < w[1].0));
        let is_iso = |c: &str| ISO_COUNTRIES.iter().any(|(a2, _)| *a2 == c);
        for (key, code) in COUNTRY_NAMES {
            assert_eq!(fold_key(key), *key, "country key not folded");
            assert!(is_iso(code), "{code}");
        }
        assert!(CALLING_CODES.windows(2).all(|w| w[0] < w[1]));
        // Prefix-free: no code is a prefix of another.
        for a in CALLING_CODES {
            for b in CALLING_CODES {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} prefixes {b}");
            }
        }
        for p in PHONE_COUNTRIES {
            assert!(is_iso(p.iso), "{}", p.iso);
            let cc: u16 = p.cc.parse().unwrap();
            assert!(CALLING_CODES.binary_search(&cc).is_ok(), "{}", p.cc);
            assert!(
                p.min <= p.max && p.max as usize + p.cc.len() <= 15,
                "{}",
                p.iso
            );
        }
        for (key, code) in US_STATES {
            assert_eq!(fold_key(key), *key);
            assert!(US_CODES.contains(code), "{code}");
        }
        for (key, code) in CA_PROVINCES {
            assert_eq!(fold_key(key), *key);
            assert!(CA_CODES.contains(code), "{code}");
        }
        for (key, _) in GENDERS {
            assert_eq!(fold_key(key), *key);
        }
        for (key, _) in MONTHS {
            assert_eq!(fold_key(key), *key);
        }
        for (i, (k, _)) in GENDERS.iter().enumerate() {
            assert!(
                GENDERS[i + 1..].iter().all(|(k2, _)| k2 != k),
                "duplicate {k}"
            );
        }
        for (i, (k, _)) in MONTHS.iter().enumerate() {
            assert!(
                MONTHS[i + 1..].iter().all(|(k2, _)| k2 != k),
                "duplicate {k}"
            );
        }
    }

    #[test]
    fn fold_and_compose_helpers() {
        assert_eq!(fold_key("Österreich"), "osterreich");
        assert_eq!(fold_key("Straße"), "strasse");
        assert_eq!(fold_key("Łódź"), "lodz");
        assert_eq!(fold_key("Việt Nam"), "vietnam");
        assert_eq!(compose_latin("Zoe\u{308}"), "Zoë");
        assert_eq!(compose_latin("n\u{303}u\u{301}n\u{303}ez"), "ñúñez");
        assert!(matches!(compose_latin("plain"), Cow::Borrowed(_)));
        assert_eq!(unicode_digit('７'), Some(7));
        assert_eq!(unicode_digit('٣'), Some(3));
        assert_eq!(unicode_digit('a'), None);
    }

    /// Rough per-event cost: all fields of one realistic event normalized and hashed.
    /// The budget is 10 µs per event in release builds; debug builds are much slower, so this
    /// only guards against pathological regressions.
    #[test]
    fn per_event_cost_is_small() {
        use super::super::hash::hash_normalized;
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
        assert!(per_event.as_micros() < 500, "{per_event:?} per event");
    }
}
