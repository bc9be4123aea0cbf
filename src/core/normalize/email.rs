//! Email addresses.

use std::borrow::Cow;

use super::chars::{lowercase_owned, trim};
use super::NormalizeError;

const NOT_EMAIL: NormalizeError =
    NormalizeError("must be an ASCII email address: a local part, @, then a domain with a dot");

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::normalize::testing::{err, ok};

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
}
