//! Latin script helpers: folding diacritics to ASCII for lookup keys, and composing decomposed
//! (NFD) letters so that they hash like the precomposed (NFC) ones.

use std::borrow::Cow;

use super::tables::latin_compose::LATIN_COMPOSE;
use super::tables::latin_folds::LATIN_FOLD;

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
pub(super) fn fold_key(s: &str) -> Cow<'_, str> {
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
pub(super) fn compose_latin(s: &str) -> Cow<'_, str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_and_compose_helpers() {
        assert_eq!(fold_key("Österreich"), "osterreich");
        assert_eq!(fold_key("Straße"), "strasse");
        assert_eq!(fold_key("Łódź"), "lodz");
        assert_eq!(fold_key("Việt Nam"), "vietnam");
        assert_eq!(compose_latin("Zoe\u{308}"), "Zoë");
        assert_eq!(compose_latin("n\u{303}u\u{301}n\u{303}ez"), "ñúñez");
        assert!(matches!(compose_latin("plain"), Cow::Borrowed(_)));
    }
}
