//! Cutting text to a size limit without splitting a character.
//!
//! Limits come in two units: stored fields and error snippets are capped in bytes (what the
//! storage and the log lines count), the platforms' parameter limits in characters. Slicing a
//! `str` at a byte index inside a multi-byte character panics, so every cut goes through here.

/// The longest prefix of `s` that is at most `max` bytes long and ends on a character boundary
/// (`s` itself when it fits).
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The first `max` characters (Unicode scalar values) of `s` (`s` itself when it has no more).
pub fn truncate_chars(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s; // no more characters than bytes
    }
    match s.char_indices().nth(max) {
        Some((end, _)) => &s[..end],
        None => s,
    }
}

/// Text for a Slack-compatible `mrkdwn` field: `&`, `<` and `>` are control characters there
/// (links and mentions), so a platform's answer or a tenant's name must not carry them raw.
pub fn escape_mrkdwn(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text (or an attribute value in double or single quotes) for an HTML page: `&`, `<`, `>`, `"`
/// and `'` as character references, so a tenant's name or a query value cannot become markup.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_special_characters_are_escaped() {
        assert_eq!(
            escape_html(r#"<b a="1" b='2'>Shop & Co</b>"#),
            "&lt;b a=&quot;1&quot; b=&#39;2&#39;&gt;Shop &amp; Co&lt;/b&gt;"
        );
        assert_eq!(escape_html("María"), "María");
    }

    #[test]
    fn mrkdwn_control_characters_are_escaped() {
        assert_eq!(
            escape_mrkdwn("<@here> & <https://x|y>"),
            "&lt;@here&gt; &amp; &lt;https://x|y&gt;"
        );
        assert_eq!(escape_mrkdwn("plain"), "plain");
    }

    #[test]
    fn bytes_never_split_a_character() {
        assert_eq!(truncate_bytes("hello", 10), "hello");
        assert_eq!(truncate_bytes("hello", 5), "hello");
        assert_eq!(truncate_bytes("hello", 3), "hel");
        assert_eq!(truncate_bytes("hello", 0), "");
        // "é" is 2 bytes, "€" 3, "😀" 4: a cut inside one drops the whole character.
        assert_eq!(truncate_bytes("héllo", 2), "h");
        assert_eq!(truncate_bytes("héllo", 3), "hé");
        assert_eq!(truncate_bytes("a€", 3), "a");
        assert_eq!(truncate_bytes("a€", 4), "a€");
        assert_eq!(truncate_bytes("😀😀", 7), "😀");
        assert_eq!(truncate_bytes("", 3), "");
    }

    #[test]
    fn chars_count_characters_not_bytes() {
        assert_eq!(truncate_chars("hello", 3), "hel");
        assert_eq!(truncate_chars("hello", 9), "hello");
        assert_eq!(truncate_chars("héllo", 2), "hé");
        assert_eq!(truncate_chars("日本語テキスト", 3), "日本語");
        assert_eq!(truncate_chars("日本", 2), "日本");
        assert_eq!(truncate_chars("日本", 5), "日本");
        assert_eq!(truncate_chars("abc", 0), "");
    }
}
