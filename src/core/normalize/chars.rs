//! Character classes shared by the field rules: what is trimmed, what counts as a digit, what is
//! never part of a name.

/// Invisible format characters people paste along with text (zero-width space/joiners,
/// direction marks, word joiner, BOM, soft hyphen).
pub(super) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

pub(super) fn trim(s: &str) -> &str {
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

/// Decimal value of a digit in ASCII, full-width or a few common native scripts
/// (Arabic-Indic, Extended Arabic-Indic/Persian, Devanagari, Bengali, Thai).
pub(super) fn unicode_digit(c: char) -> Option<u8> {
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
pub(super) fn is_name_junk(c: char) -> bool {
    c.is_whitespace()
        || c.is_ascii_punctuation()
        || c.is_control()
        || is_invisible(c)
        || is_unicode_punct_or_symbol(c)
}

pub(super) fn lowercase_owned(mut s: String) -> String {
    if s.is_ascii() {
        s.make_ascii_lowercase();
        s
    } else {
        s.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_digits() {
        assert_eq!(unicode_digit('７'), Some(7));
        assert_eq!(unicode_digit('٣'), Some(3));
        assert_eq!(unicode_digit('a'), None);
    }
}
