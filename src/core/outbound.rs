//! Requests planned by the core as plain values; the edge only sends them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::hash::Sha256Hex;

/// A header name or value: most are literals ("content-type", "application/json"), which are
/// borrowed instead of copied into a String for every request.
pub type HeaderText = Cow<'static, str>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    Get,
    Post,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(HeaderText, HeaderText)>,
    pub body: Option<String>,
}

/// A JSON value as request text. `serde_json::to_string` writes bytes straight into a buffer;
/// `Value::to_string` (Display) goes through `fmt` and costs ~3× more on the delivery path.
pub fn json_text(v: &serde_json::Value) -> String {
    serde_json::to_string(v).expect("a serde_json::Value always serializes")
}

impl OutboundRequest {
    pub fn post_json(url: String, body: String) -> Self {
        // Room for the few headers a destination adds.
        let mut headers = Vec::with_capacity(4);
        headers.push(("content-type".into(), "application/json".into()));
        OutboundRequest {
            method: Method::Post,
            url,
            headers,
            body: Some(body),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<HeaderText>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The headers as plain pairs, to compare in tests.
    #[cfg(test)]
    pub fn header_pairs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect()
    }
}

/// What came back from the platform, as the edge saw it. `status == 0` means no HTTP answer
/// (network error or our own timeout); `body` is truncated by the edge to a sane size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundResponse {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl InboundResponse {
    pub fn no_answer(reason: &str) -> Self {
        InboundResponse {
            status: 0,
            retry_after: None,
            body: reason.to_string(),
        }
    }
}

/// Writes a JSON object straight into the request body. Planning a request used to build a
/// `serde_json::Value` tree (a map node and a copy of every string) only to serialize it; writing
/// in place is several times cheaper per event, and every platform body is built this way.
/// Keys and strings are escaped where needed; hashes (hex digits) and numbers never need it, so
/// the output is always valid JSON.
pub struct JsonObject<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> JsonObject<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        JsonObject { out, empty: true }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        json_string(self.out, key);
        self.out.push(':');
        self.out
    }

    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        json_string(self.key(key), value);
        self
    }

    pub fn opt_string(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        if let Some(v) = value {
            self.string(key, v);
        }
        self
    }

    /// A hashed identifier, when there is one. Hex needs no escaping: it is copied as is.
    pub fn hash(&mut self, key: &str, value: Option<&Sha256Hex>) -> &mut Self {
        if let Some(h) = value {
            let out = self.key(key);
            out.push('"');
            out.push_str(h.as_str());
            out.push('"');
        }
        self
    }

    /// `"key":["hash"]`: Meta's customer information parameters are one-element arrays.
    pub fn hash_in_array(&mut self, key: &str, value: Option<&Sha256Hex>) -> &mut Self {
        if let Some(h) = value {
            let out = self.key(key);
            out.push_str("[\"");
            out.push_str(h.as_str());
            out.push_str("\"]");
        }
        self
    }

    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        push_int(self.key(key), value);
        self
    }

    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key).push_str(if value { "true" } else { "false" });
        self
    }

    /// A number written as a JSON string (`"129.9"`), digits as serde_json prints them.
    pub fn number_as_string(&mut self, key: &str, value: &serde_json::Number) -> &mut Self {
        let out = self.key(key);
        out.push('"');
        push_number(out, value);
        out.push('"');
        self
    }

    pub fn value(&mut self, key: &str, value: &serde_json::Value) -> &mut Self {
        json_value(self.key(key), value);
        self
    }

    /// Already-serialized JSON (a nested object or array written by the caller).
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key).push_str(json);
        self
    }

    /// A nested object, written by `fill`; left out entirely when `fill` writes no field.
    pub fn object(&mut self, key: &str, fill: impl FnOnce(&mut JsonObject)) -> &mut Self {
        // Written in place (no buffer of its own to grow and copy), and taken back when empty.
        let (written, was_empty) = (self.out.len(), self.empty);
        let mut inner = JsonObject::new(self.key(key));
        fill(&mut inner);
        if inner.empty {
            self.out.truncate(written);
            self.empty = was_empty;
        } else {
            inner.end();
        }
        self
    }

    /// Like `object`, but written even when empty (`{}`).
    pub fn object_always(&mut self, key: &str, fill: impl FnOnce(&mut JsonObject)) -> &mut Self {
        let out = self.key(key);
        let mut inner = JsonObject::new(out);
        fill(&mut inner);
        inner.end();
        self
    }

    /// `"key":[item,item,…]`, each item an object written by `fill`.
    pub fn objects<T>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = T>,
        mut fill: impl FnMut(&mut JsonObject, T),
    ) -> &mut Self {
        let out = self.key(key);
        out.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let mut inner = JsonObject::new(out);
            fill(&mut inner, item);
            inner.end();
        }
        out.push(']');
        self
    }

    pub fn is_empty(&self) -> bool {
        self.empty
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

/// `s` as a JSON string literal. Most values (ids, URLs, keys) need no escaping and are copied
/// in one go.
pub fn json_string(out: &mut String, s: &str) {
    if needs_escape(s.as_bytes()) {
        return json_string_escaped(out, s);
    }
    out.reserve(s.len() + 2);
    out.push('"');
    out.push_str(s);
    out.push('"');
}

/// `json_string` for the rare string that needs escaping. Out of line: inlined, its code made every
/// call of the common path save and restore a dozen registers.
#[cold]
#[inline(never)]
fn json_string_escaped(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Whether `s` holds a byte JSON escapes: `"`, `\` or a control character. Eight bytes at a time
/// (the classic "has a zero byte / a byte less than n" word tricks, exact as yes/no answers): a
/// byte loop here was the largest single cost of writing a body, most strings being short keys.
fn needs_escape(s: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_byte_below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let has_byte = |w: u64, b: u8| has_byte_below(w ^ (ONES * u64::from(b)), 1);
    let special = |w: u64| has_byte_below(w, 0x20) | has_byte(w, b'"') | has_byte(w, b'\\');
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().expect("8 bytes"));
    let half = |bytes: &[u8]| u64::from(u32::from_ne_bytes(bytes.try_into().expect("4 bytes")));
    match s.len() {
        0..4 => return s.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\'), // as above, bytewise
        // Two overlapping halves: the bytes read twice change nothing.
        4..8 => return special(half(&s[..4]) | half(&s[s.len() - 4..]) << 32) != 0,
        _ => {}
    }
    let mut words = s.chunks_exact(8);
    let mut found = 0;
    for w in &mut words {
        found |= special(word(w));
    }
    if !words.remainder().is_empty() {
        // The tail as the last eight bytes: the ones read twice change nothing.
        found |= special(word(&s[s.len() - 8..]));
    }
    found != 0
}

/// `n` in decimal, as `Display` writes it, without going through `fmt` (several times the cost
/// for the event times every body carries).
fn push_int(out: &mut String, n: i64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// `n` exactly as serde_json prints it (itoa for integers, zmij for floats, as serde_json itself
/// does), without going through `fmt`.
fn push_number(out: &mut String, n: &serde_json::Number) {
    match (n.as_u64(), n.as_i64(), n.as_f64()) {
        (Some(u), _, _) => out.push_str(itoa::Buffer::new().format(u)),
        (None, Some(i), _) => push_int(out, i),
        (None, None, Some(f)) => out.push_str(zmij::Buffer::new().format_finite(f)),
        // Without serde_json's arbitrary_precision (not enabled) a number is one of the above.
        (None, None, None) => unreachable!("a serde_json number is an integer or a finite float"),
    }
}

/// A `serde_json::Value` appended as JSON (numbers print exactly as serde_json prints them).
pub fn json_value(out: &mut String, v: &serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => push_number(out, n),
        Value::String(s) => json_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                json_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut o = JsonObject::new(out);
            for (k, item) in map {
                o.value(k, item);
            }
            o.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn escape_check_finds_every_special_byte_at_every_position() {
        for len in 0..20 {
            let plain = "a".repeat(len);
            assert!(!needs_escape(plain.as_bytes()));
            for at in 0..len {
                for b in (0u8..0x20).chain([b'"', b'\\']) {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = b;
                    assert!(needs_escape(&bytes), "byte {b:#x} at {at} of {len}");
                }
                for b in (0x20u8..=0xff).filter(|b| *b != b'"' && *b != b'\\') {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = b;
                    assert!(!needs_escape(&bytes), "byte {b:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn written_json_parses_back_to_the_same_values() {
        let tricky = "quote \" backslash \\ newline \n tab \t bell \u{7} José 東京 😀";
        let custom = json!({"value": 99.9, "big": 1e21, "n": -3, "ids": ["a", "b"], "nested": {"x": null, "t": true}});
        let hash = Sha256Hex::of("ab");
        let mut body = String::new();
        let mut o = JsonObject::new(&mut body);
        o.string("s", tricky)
            .opt_string("absent", None)
            .hash_in_array("em", Some(&hash))
            .hash_in_array("none", None)
            .hash("h", Some(&hash))
            .hash("no_hash", None)
            .int("t", -1_760_000_000_123)
            .bool("b", false)
            .value("custom", &custom)
            .object("empty_is_left_out", |_| {})
            .object("user", |u| {
                u.string("k", "v");
            })
            .object_always("always", |_| {})
            .objects("list", [1, 2], |item, n| {
                item.int("n", n);
            });
        o.end();
        let parsed: Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(
            parsed,
            json!({
                "s": tricky, "em": [hash.as_str()], "h": hash.as_str(), "t": -1_760_000_000_123i64, "b": false, "custom": custom,
                "user": {"k": "v"}, "always": {}, "list": [{"n": 1}, {"n": 2}]
            })
        );
        // Numbers are printed as serde_json prints them.
        assert!(body.contains("\"value\":99.9"), "{body}");
        let numbers = [
            json!(0),
            json!(-1),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
            json!(1e21),
            json!(-0.0),
            json!(15.0),
            json!(0.1 + 0.2),
        ];
        for n in numbers {
            let mut text = String::new();
            json_value(&mut text, &n);
            assert_eq!(text, n.to_string());
            let mut quoted = String::new();
            let mut o = JsonObject::new(&mut quoted);
            o.number_as_string("n", n.as_number().unwrap());
            o.end();
            assert_eq!(quoted, format!("{{\"n\":\"{n}\"}}"));
        }
        for n in [0, -1, 7, i64::MIN, i64::MAX, 1_760_000_000_000_000] {
            let mut text = String::new();
            push_int(&mut text, n);
            assert_eq!(text, n.to_string());
        }
    }
}
