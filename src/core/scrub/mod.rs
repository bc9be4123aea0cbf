//! Personal data and secrets outside `user_data`. `user_data` is hashed at the door; everything
//! else an event carries (its page URL and referrer, `custom_data`, `utm`) is stored, shown in the
//! dashboard and sent to every platform in clear, so it must not hold an email address, a phone
//! number, a name or a secret. Pages put them there all the time: `?email=` after a sign-up form,
//! a password-reset or magic-link token, an OAuth callback's `code`, `/users/ana@example.com/`.
//!
//! What is removed:
//! - from a URL: the credentials before its host; every query (and fragment) parameter whose
//!   name says personal data or secret (`names`), or whose value is shaped like an email address,
//!   a phone number or a JSON Web Token (also when percent-encoded, once or twice); `code` in a
//!   sign-in callback; a path segment or fragment holding an email address;
//! - from `custom_data` and `utm`: a property with such a name or such a value (a warning names
//!   it: personal data goes in `user_data`, where it is hashed).
//!
//! The marketing parameters (`utm_*`, the click ids) always pass untouched, and what is kept is
//! kept byte for byte (no re-encoding), so attribution reads the same URL the browser had.
//! Pure and allocation-free for a URL with nothing to remove.

mod names;

use std::borrow::Cow;

pub use names::Kind;
use names::{CALLBACK_PATH_WORDS, CONTAINS, EXACT, MARKETING};

/// What a scrub removed, for the warning (never the value itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The parameter or property name; `path`, `fragment` or `userinfo` for those parts.
    pub name: String,
    pub kind: Kind,
}

impl Removed {
    /// A whole property (of `custom_data` or `utm`), named `name`.
    pub fn whole(name: &str, kind: Kind) -> Self {
        Removed::new(truncated_name(name), kind)
    }

    fn new(name: impl Into<String>, kind: Kind) -> Self {
        Removed {
            name: name.into(),
            kind,
        }
    }
}

/// The warning for what was removed from a field: which parts and why, never their values.
pub fn warning(removed: &[Removed]) -> String {
    let parts: Vec<String> = removed
        .iter()
        .map(|r| format!("{} ({})", r.name, r.kind.describe()))
        .collect();
    format!(
        "removed {}: personal data and secrets are not stored or sent outside user_data (send \
         personal data in user_data, where it is hashed)",
        parts.join(", ")
    )
}

/// `name` folded: ASCII letters lowercased, digits kept, everything else dropped.
pub fn fold_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Is this a campaign or click-id parameter that passes untouched?
pub fn is_marketing(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("utm_") || MARKETING.contains(&lower.as_str())
}

/// What a parameter or property name says it holds, when that is personal data or a secret.
pub fn sensitive_name(name: &str) -> Option<Kind> {
    let folded = fold_name(name);
    if folded.is_empty() {
        return None;
    }
    EXACT
        .iter()
        .find(|(n, _)| *n == folded)
        .or_else(|| CONTAINS.iter().find(|(n, _)| folded.contains(n)))
        .map(|(_, k)| *k)
}

/// What a value is shaped like, when that is personal data or a secret: an email address, a
/// phone number or a JSON Web Token anywhere in it, read as written and after one and two rounds
/// of percent-decoding.
pub fn sensitive_value(value: &str) -> Option<Kind> {
    let once = percent_decode(value);
    let twice = match &once {
        Cow::Owned(o) => Some(percent_decode(o).into_owned()),
        Cow::Borrowed(_) => None,
    };
    let found = [Some(value), Some(once.as_ref()), twice.as_deref()]
        .into_iter()
        .flatten()
        .find_map(shaped);
    found
}

fn shaped(text: &str) -> Option<Kind> {
    if has_email(text) {
        Some(Kind::Email)
    } else if has_phone(text) {
        Some(Kind::Phone)
    } else if has_jwt(text) {
        Some(Kind::Secret)
    } else {
        None
    }
}

/// `%XX` → byte and `+` → space, as forms encode; invalid escapes stay as written. Borrowed when
/// there is nothing to decode.
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// An email address anywhere in `text`: a local part of the usual characters, `@`, and a domain
/// of at least two labels whose last is 2+ letters.
pub fn has_email(text: &str) -> bool {
    let b = text.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-'!#$&*/=?^`{|}~".contains(&c);
    let label = |c: u8| c.is_ascii_alphanumeric() || c == b'-';
    let mut from = 0;
    while let Some(at) = text[from..].find('@').map(|i| i + from) {
        from = at + 1;
        if at == 0 || !local(b[at - 1]) {
            continue;
        }
        let mut end = at + 1;
        let mut labels = 0;
        let mut last_alpha = 0;
        loop {
            let start = end;
            while end < b.len() && label(b[end]) {
                end += 1;
            }
            if end == start {
                break;
            }
            labels += 1;
            last_alpha = if b[start..end].iter().all(u8::is_ascii_alphabetic) {
                end - start
            } else {
                0
            };
            if end < b.len() && b[end] == b'.' && end + 1 < b.len() && label(b[end + 1]) {
                end += 1;
            } else {
                break;
            }
        }
        // `logo@2x.png`: an image's pixel-density suffix, not a mailbox.
        let retina = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
            > 0
            && b[at + 1..]
                .iter()
                .find(|c| !c.is_ascii_digit())
                .is_some_and(|&c| c == b'x' || c == b'X');
        if labels >= 2 && last_alpha >= 2 && !retina {
            return true;
        }
    }
    false
}

/// A phone number anywhere in `text`: `+` (or `00`) and 8 to 15 digits, or 10 to 13 digits
/// written in groups (`(415) 555-2671`, `06 12 34 56 78`, `415.555.2671`) of at most 5 digits
/// each. A bare run of digits is not one (order ids, timestamps, prices are such runs); nor is a
/// dotted run with one group over 5 (a version or an IP address rarely has 10 digits, a date
/// never does).
pub fn has_phone(text: &str) -> bool {
    let b = text.as_bytes();
    let phone_char = |c: u8| c.is_ascii_digit() || b" -.()/+".contains(&c);
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_digit() || b[i] == b'+' || b[i] == b'(') {
            i += 1;
            continue;
        }
        // A number starts at a boundary: not inside a word or a longer token.
        let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        let start = i;
        while i < b.len() && phone_char(b[i]) {
            i += 1;
        }
        // Separators after the last digit belong to the text around the number.
        let mut end = i;
        while end > start && !b[end - 1].is_ascii_digit() && b[end - 1] != b')' {
            end -= 1;
        }
        // A time (`10:30`) follows a date, never a phone number.
        let ends_clean =
            end == b.len() || !(b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] == b':');
        if boundary && ends_clean && phone_run(&text[start..end]) {
            return true;
        }
        i = i.max(start + 1);
    }
    false
}

fn phone_run(run: &str) -> bool {
    let run = run.trim_matches(|c: char| c == ' ' || c == '-' || c == '.' || c == '/');
    let digits = run.bytes().filter(u8::is_ascii_digit).count();
    let groups: Vec<&str> = run
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .collect();
    // `00` is the international prefix only when groups follow (`0044 20 7946 0958`); a bare
    // `00123456789` is an id with leading zeros.
    let international = run.starts_with('+') || (run.starts_with("00") && groups.len() >= 2);
    if run.len() < 2 || run[1..].contains('+') || has_iso_date(run) {
        return false;
    }
    if international {
        let body_digits = if run.starts_with("00") {
            digits - 2
        } else {
            digits
        };
        return (8..=15).contains(&body_digits)
            && (groups.len() == 1 || groups.iter().all(|g| g.len() <= 5));
    }
    let only_dots = !run.contains([' ', '-', '(', ')', '/']);
    (10..=13).contains(&digits)
        && groups.len() >= 2
        && groups.iter().all(|g| g.len() <= 5)
        && !(only_dots && groups.len() == 4)
}

/// `YYYY-MM-DD` somewhere in a run of digits and separators: a date, which a phone number never
/// holds.
fn has_iso_date(run: &str) -> bool {
    run.as_bytes().windows(10).any(|w| {
        w.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
    })
}

/// A JSON Web Token: three base64url parts, the first two JSON objects (`eyJ`).
pub fn has_jwt(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .any(|t| {
            let mut parts = t.split('.');
            let json = |p: Option<&str>| p.is_some_and(|p| p.starts_with("eyJ") && p.len() >= 10);
            json(parts.next())
                && json(parts.next())
                && parts.next().is_some()
                && parts.next().is_none()
        })
}

/// `url` without the personal data and secrets it holds (see the module), and what was removed;
/// `url` itself (borrowed) when there is nothing to remove.
pub fn scrub_url(url: &str) -> (Cow<'_, str>, Vec<Removed>) {
    let mut removed = Vec::new();
    // scheme://authority path ?query #fragment
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let (before_query, query) = match before_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (before_fragment, None),
    };
    let (scheme, rest) = before_query.split_once("://").unwrap_or(("", before_query));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            removed.push(Removed::new("userinfo", Kind::Secret));
            &authority[at + 1..]
        }
        None => authority,
    };

    let path = scrub_path(path, &mut removed);
    let callback = is_callback(path.as_ref(), query);
    let query = query.map(|q| scrub_pairs(q, callback, &mut removed));
    let fragment = fragment.map(|f| scrub_fragment(f, callback, &mut removed));
    if removed.is_empty() {
        return (Cow::Borrowed(url), removed);
    }
    let mut out = String::with_capacity(url.len());
    if !scheme.is_empty() {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(authority);
    out.push_str(&path);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        out.push('?');
        out.push_str(&q);
    }
    if let Some(f) = fragment.filter(|f| !f.is_empty()) {
        out.push('#');
        out.push_str(&f);
    }
    (Cow::Owned(out), removed)
}

/// `url` cut to its origin and path: what a limited-data delivery may carry.
pub fn origin_and_path(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

fn scrub_path<'a>(path: &'a str, removed: &mut Vec<Removed>) -> Cow<'a, str> {
    if !path.contains('@') && !path.to_ascii_lowercase().contains("%40") {
        return Cow::Borrowed(path);
    }
    let mut changed = false;
    let segments: Vec<&str> = path
        .split('/')
        .map(|seg| {
            if sensitive_value(seg) == Some(Kind::Email) {
                changed = true;
                "redacted"
            } else {
                seg
            }
        })
        .collect();
    if !changed {
        return Cow::Borrowed(path);
    }
    removed.push(Removed::new("path", Kind::Email));
    Cow::Owned(segments.join("/"))
}

/// An OAuth/OIDC or sign-in callback: the query has `state`, or a path segment has a callback
/// word.
fn is_callback(path: &str, query: Option<&str>) -> bool {
    let has_state = query.is_some_and(|q| {
        q.split('&').any(|p| {
            p.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("state"))
        })
    });
    has_state
        || path.split('/').any(|seg| {
            let seg = fold_name(seg);
            CALLBACK_PATH_WORDS.iter().any(|w| seg.contains(w))
        })
}

/// `k=v&k=v` without the pairs that hold personal data or secrets; kept pairs as written.
fn scrub_pairs<'a>(query: &'a str, callback: bool, removed: &mut Vec<Removed>) -> Cow<'a, str> {
    let mut kept: Vec<&str> = Vec::new();
    let mut changed = false;
    for pair in query.split('&') {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(raw_name);
        let why = if is_marketing(&name) {
            None
        } else if let Some(k) = sensitive_name(&name) {
            Some(k)
        } else if callback && fold_name(&name) == "code" {
            Some(Kind::Secret)
        } else {
            sensitive_value(raw_value).or_else(|| sensitive_value(raw_name))
        };
        match why {
            Some(kind) => {
                changed = true;
                removed.push(Removed::new(truncated_name(&name), kind));
            }
            None => kept.push(pair),
        }
    }
    if changed {
        Cow::Owned(kept.join("&"))
    } else {
        Cow::Borrowed(query)
    }
}

/// A fragment: parameters (`#access_token=…&state=…`, `#/route?email=…`) are scrubbed as a
/// query's; other text is dropped only when it holds an email address, a phone number or a token.
fn scrub_fragment<'a>(f: &'a str, callback: bool, removed: &mut Vec<Removed>) -> Cow<'a, str> {
    if let Some((route, params)) = f.split_once('?') {
        return match scrub_pairs(params, callback, removed) {
            Cow::Borrowed(_) => Cow::Borrowed(f),
            Cow::Owned(p) if p.is_empty() => Cow::Owned(route.to_string()),
            Cow::Owned(p) => Cow::Owned(format!("{route}?{p}")),
        };
    }
    if f.contains('=') {
        return scrub_pairs(f, callback, removed);
    }
    match sensitive_value(f) {
        Some(kind) => {
            removed.push(Removed::new("fragment", kind));
            Cow::Owned(String::new())
        }
        None => Cow::Borrowed(f),
    }
}

/// A name for a warning: at most 64 bytes of it.
fn truncated_name(name: &str) -> String {
    super::text::truncate_bytes(name, 64).to_string()
}

/// Whether a custom property (or utm value) must go, and why: its name or its value. Strings in
/// an array count as its values. `id_like` properties (order and transaction ids, content ids)
/// are only checked for email addresses and tokens: their digits are ids, not phone numbers.
pub fn sensitive_property(name: &str, value: &serde_json::Value, id_like: bool) -> Option<Kind> {
    if !is_marketing(name) {
        if let Some(k) = sensitive_name(name) {
            return Some(k);
        }
    }
    let check = |s: &str| match sensitive_value(s) {
        Some(Kind::Phone) if id_like => None,
        other => other,
    };
    match value {
        serde_json::Value::String(s) => check(s),
        serde_json::Value::Array(a) => a.iter().filter_map(|v| v.as_str()).find_map(check),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
