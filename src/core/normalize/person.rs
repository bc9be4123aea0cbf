//! The person: first and last name, gender, external id.

use std::borrow::Cow;

use super::chars::{is_invisible, is_name_junk, lowercase_owned};
use super::latin::{compose_latin, fold_key};
use super::tables::genders::GENDERS;
use super::NormalizeError;

const NAME_NO_LETTERS: NormalizeError = NormalizeError("name must contain at least one letter");
const GENDER_UNKNOWN: NormalizeError = NormalizeError("gender must be female or male");

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
    let kept = if has_sigma { kept.to_lowercase() } else { kept };
    // Junk between a letter and its combining mark ("a:\u{301}") is gone only now: compose again,
    // or the name keeps a decomposed letter that hashes unlike "á".
    Ok(match compose_latin(&kept) {
        Cow::Borrowed(_) => kept,
        Cow::Owned(composed) => composed,
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::normalize::testing::{err, ok};

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
}
