//! The consent banner's per-tenant settings (stored in `tenants.settings.banner`), validated so
//! that nothing a tenant saves can inject CSS or markup into the sites that show the banner:
//! colors are hex only, links are absolute http(s), texts are plain strings (rendered with
//! `textContent`).

use serde_json::{Map, Value};

use super::event::FieldError;

pub const LANGUAGES: [&str; 3] = ["es", "en", "pt"];
pub const POSITIONS: [&str; 5] = ["bottom", "top", "bottom-left", "bottom-right", "center"];
pub const COLOR_KEYS: [&str; 4] = ["background", "text", "primary", "primary_text"];
pub const TEXT_KEYS: [&str; 13] = [
    "title",
    "description",
    "accept_all",
    "reject_all",
    "save",
    "customize",
    "necessary",
    "analytics",
    "marketing",
    "functional",
    "privacy",
    "always_on",
    "close",
];
const MAX_TEXT: usize = 1000;

/// Validates a `banner` object and returns it normalized (unknown keys refused, colors lowercased,
/// version defaulted to "1"). Field paths are rooted at `prefix` (e.g. `banner.`).
pub fn parse_banner(v: &Value, prefix: &str) -> Result<Value, FieldError> {
    let p = |f: &str| format!("{prefix}{f}");
    let obj = v
        .as_object()
        .ok_or_else(|| FieldError::new(prefix.trim_end_matches('.'), "must be an object"))?;
    let mut out = Map::new();
    for (k, val) in obj {
        match k.as_str() {
            "enabled" => {
                let b = val
                    .as_bool()
                    .ok_or_else(|| FieldError::new(p(k), "must be true or false"))?;
                out.insert(k.clone(), Value::Bool(b));
            }
            "version" => {
                let s = match val {
                    Value::String(s) => s.trim().to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                };
                if s.is_empty()
                    || s.len() > 32
                    || !s
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                {
                    return Err(FieldError::new(
                        p(k),
                        "must be 1-32 characters, each an ASCII letter, digit, '-', '_' or '.'",
                    ));
                }
                out.insert(k.clone(), Value::String(s));
            }
            "position" => {
                let s = val.as_str().unwrap_or_default();
                if !POSITIONS.contains(&s) {
                    return Err(FieldError::new(
                        p(k),
                        format!("must be one of {}", POSITIONS.join(", ")),
                    ));
                }
                out.insert(k.clone(), Value::String(s.into()));
            }
            "default_language" => {
                let s = val.as_str().unwrap_or_default().to_ascii_lowercase();
                if !LANGUAGES.contains(&s.as_str()) {
                    return Err(FieldError::new(
                        p(k),
                        format!("must be one of {}", LANGUAGES.join(", ")),
                    ));
                }
                out.insert(k.clone(), Value::String(s));
            }
            "privacy_url" => {
                let s = val.as_str().unwrap_or_default().trim();
                let ok = s.len() <= 2048 && super::weburl::parse_http_url(s).is_some();
                if !ok {
                    return Err(FieldError::new(
                        p(k),
                        "must be an absolute http:// or https:// URL of at most 2048 bytes",
                    ));
                }
                out.insert(k.clone(), Value::String(s.into()));
            }
            "colors" => {
                let c = val
                    .as_object()
                    .ok_or_else(|| FieldError::new(p(k), "must be an object"))?;
                let mut colors = Map::new();
                for (ck, cv) in c {
                    let f = p(&format!("colors.{ck}"));
                    if !COLOR_KEYS.contains(&ck.as_str()) {
                        return Err(FieldError::new(
                            f,
                            format!("unknown color (use {})", COLOR_KEYS.join(", ")),
                        ));
                    }
                    let s = cv.as_str().unwrap_or_default().trim().to_ascii_lowercase();
                    if !is_hex_color(&s) {
                        return Err(FieldError::new(
                            f,
                            "must be a hex color: '#' then 3, 6 or 8 hex digits, such as #1a73e8",
                        ));
                    }
                    colors.insert(ck.clone(), Value::String(s));
                }
                out.insert(k.clone(), Value::Object(colors));
            }
            "texts" => {
                let t = val.as_object().ok_or_else(|| {
                    FieldError::new(
                        p(k),
                        format!(
                            "must be an object keyed by language ({})",
                            LANGUAGES.join(", ")
                        ),
                    )
                })?;
                let mut texts = Map::new();
                for (lang, entries) in t {
                    let lf = p(&format!("texts.{lang}"));
                    if !LANGUAGES.contains(&lang.as_str()) {
                        return Err(FieldError::new(
                            lf,
                            format!("language must be one of {}", LANGUAGES.join(", ")),
                        ));
                    }
                    let e = entries
                        .as_object()
                        .ok_or_else(|| FieldError::new(&lf, "must be an object"))?;
                    let mut m = Map::new();
                    for (tk, tv) in e {
                        let f = format!("{lf}.{tk}");
                        if !TEXT_KEYS.contains(&tk.as_str()) {
                            return Err(FieldError::new(
                                f,
                                format!("unknown text (use {})", TEXT_KEYS.join(", ")),
                            ));
                        }
                        let s = tv
                            .as_str()
                            .ok_or_else(|| {
                                FieldError::new(
                                    &f,
                                    format!("must be a string of 1-{MAX_TEXT} characters"),
                                )
                            })?
                            .trim();
                        if s.is_empty() || s.chars().count() > MAX_TEXT {
                            return Err(FieldError::new(
                                f,
                                format!("must be 1-{MAX_TEXT} characters"),
                            ));
                        }
                        m.insert(tk.clone(), Value::String(s.into()));
                    }
                    texts.insert(lang.clone(), Value::Object(m));
                }
                out.insert(k.clone(), Value::Object(texts));
            }
            _ => {
                return Err(FieldError::new(
                    p(k),
                    "unknown banner setting (use enabled, version, position, default_language, \
                     privacy_url, colors, texts)",
                ))
            }
        }
    }
    out.entry("version")
        .or_insert_with(|| Value::String("1".into()));
    Ok(Value::Object(out))
}

fn is_hex_color(s: &str) -> bool {
    let Some(h) = s.strip_prefix('#') else {
        return false;
    };
    matches!(h.len(), 3 | 6 | 8) && h.chars().all(|c| c.is_ascii_hexdigit())
}

/// The banner settings stored for a tenant (already validated on write), or the defaults.
pub fn stored_banner(settings: &Value) -> Value {
    match settings.get("banner") {
        Some(b @ Value::Object(_)) => {
            parse_banner(b, "banner.").unwrap_or_else(|_| serde_json::json!({"version": "1"}))
        }
        _ => serde_json::json!({"version": "1"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_banner_is_normalized() {
        let b = parse_banner(
            &json!({"position": "bottom-left", "colors": {"primary": "#1A73E8", "background": "#fff"},
                    "privacy_url": "https://shop.example/privacy", "default_language": "PT",
                    "texts": {"es": {"title": "Tus datos"}}}),
            "banner.",
        )
        .unwrap();
        assert_eq!(b["colors"]["primary"], "#1a73e8");
        assert_eq!(b["default_language"], "pt");
        assert_eq!(b["version"], "1");
        assert_eq!(b["texts"]["es"]["title"], "Tus datos");
    }

    #[test]
    fn injection_attempts_are_refused_with_field_paths() {
        for (body, field) in [
            (
                json!({"colors": {"primary": "red;}body{display:none"}}),
                "banner.colors.primary",
            ),
            (
                json!({"colors": {"shadow": "#000"}}),
                "banner.colors.shadow",
            ),
            (
                json!({"privacy_url": "javascript:alert(1)"}),
                "banner.privacy_url",
            ),
            (json!({"position": "middle"}), "banner.position"),
            (json!({"texts": {"fr": {"title": "x"}}}), "banner.texts.fr"),
            (
                json!({"texts": {"en": {"html": "<b>"}}}),
                "banner.texts.en.html",
            ),
            (
                json!({"texts": {"en": {"title": 3}}}),
                "banner.texts.en.title",
            ),
            (json!({"version": "a b"}), "banner.version"),
            (json!({"css": "x"}), "banner.css"),
            (json!([]), "banner"),
        ] {
            assert_eq!(
                parse_banner(&body, "banner.").unwrap_err().field,
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn stored_banner_defaults() {
        assert_eq!(stored_banner(&json!({})), json!({"version": "1"}));
        assert_eq!(
            stored_banner(&json!({"banner": {"version": "7"}}))["version"],
            "7"
        );
    }
}
