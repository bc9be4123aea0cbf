//! Tenants and pixels: request validation and the routing config cached at the edge.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::consent::ConsentPolicy;
use super::event::FieldError;
use super::fanout::{domain_allowed, PixelRoute};
use super::platform::Platform;
use super::weburl::url_host;

const MAX_DOMAINS: usize = 50;

/// The rule for one entry of a domain list.
const HOST_RULE: &str = "must be a host name such as shop.example.com or *.example.com \
    (dot-separated labels of 1-63 ASCII letters, digits or '-', at most 253 characters), or a URL \
    with such a host";

/// The rule for the names a pixel is limited to.
const EVENT_NAMES_RULE: &str = "must be an array of event names: standard names (page_view, \
    lead, signup, add_to_cart, purchase, contact, schedule, view_content, or a platform's own \
    name) or custom names of 1-40 ASCII letters, digits and '_'";

const TEST_EVENT_CODE_RULE: &str =
    "must be at most 50 ASCII letters, digits, '_' or '-' (empty or null removes it)";

/// What the beacon path needs about a tenant, cached in KV under the site key (no secrets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantConfig {
    pub tenant_id: String,
    pub domains: Vec<String>,
    #[serde(default)]
    pub consent_policy: ConsentPolicy,
    pub pixels: Vec<PixelRoute>,
    /// Where the tenant's events are claimed and kept (`core::shard`).
    #[serde(default)]
    pub shards: crate::core::shard::ShardLayout,
    /// Events and consent choices the tenant may write per UTC day (`core::admission`); None is
    /// the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_quota: Option<u64>,
    /// Set when this config was found by the previous site key, during its grace period: the key
    /// stops working at this instant (unix seconds), whatever the caches still hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_valid_until: Option<i64>,
}

impl TenantConfig {
    /// Is the site key this config was found by still valid at `now`?
    pub fn key_valid_at(&self, now: i64) -> bool {
        self.key_valid_until.is_none_or(|t| now < t)
    }

    /// Browsers may only use the site key from the tenant's own sites.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        match url_host(origin) {
            Some(h) => domain_allowed(&h, &self.domains),
            None => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewTenant {
    pub name: String,
    pub domains: Vec<String>,
}

pub fn parse_new_tenant(body: &Value) -> Result<NewTenant, FieldError> {
    let obj = object(body)?;
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 200 => s.trim().to_string(),
        Some(_) => {
            return Err(FieldError::new(
                "name",
                "must be a string of at most 200 bytes with at least one non-space character",
            ))
        }
        None => return Err(FieldError::new("name", "is required")),
    };
    let domains = parse_domains(obj.get("domains"), "domains")?;
    if domains.is_empty() {
        return Err(FieldError::new(
            "domains",
            format!("must list 1 to {MAX_DOMAINS} host names the tag runs on"),
        ));
    }
    Ok(NewTenant { name, domains })
}

fn object(body: &Value) -> Result<&Map<String, Value>, FieldError> {
    body.as_object()
        .ok_or_else(|| FieldError::new("body", "must be a JSON object"))
}

/// Hostnames, optionally `*.`-prefixed; lowercased. URLs are accepted and reduced to their host.
pub fn parse_domains(v: Option<&Value>, field: &str) -> Result<Vec<String>, FieldError> {
    let arr = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(FieldError::new(
                field,
                format!("must be an array of at most {MAX_DOMAINS} host names"),
            ))
        }
    };
    if arr.len() > MAX_DOMAINS {
        return Err(FieldError::new(
            field,
            format!("must be an array of at most {MAX_DOMAINS} host names"),
        ));
    }
    let mut out = Vec::new();
    for (i, d) in arr.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let s = d
            .as_str()
            .ok_or_else(|| FieldError::new(&f, HOST_RULE))?
            .trim()
            .to_ascii_lowercase();
        let host = if s.contains("://") {
            url_host(&s).ok_or_else(|| FieldError::new(&f, HOST_RULE))?
        } else {
            s
        };
        let bare = host.trim_start_matches("*.");
        let valid = !bare.is_empty()
            && bare.len() <= 253
            && bare.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid {
            return Err(FieldError::new(&f, HOST_RULE));
        }
        if !out.contains(&host) {
            out.push(host);
        }
    }
    Ok(out)
}

/// A pixel create (`existing == None`) or update request, validated. Secrets are `Some(Some)` to
/// set, `Some(None)` to clear, `None` to keep.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PixelInput {
    pub platform: Option<Platform>,
    pub pixel_id: Option<String>,
    pub access_token: Option<Option<String>>,
    pub api_secret: Option<Option<String>>,
    pub is_active: Option<bool>,
    pub server_side_enabled: Option<bool>,
    pub test_event_code: Option<Option<String>>,
    pub domains: Option<Vec<String>>,
    pub event_names: Option<Vec<String>>,
}

/// `existing` is the stored platform when updating (the platform of a pixel cannot change).
pub fn parse_pixel_input(
    body: &Value,
    existing: Option<Platform>,
) -> Result<PixelInput, FieldError> {
    let obj = object(body)?;
    const KNOWN: [&str; 9] = [
        "event_names",
        "platform",
        "pixel_id",
        "access_token",
        "api_secret",
        "is_active",
        "server_side_enabled",
        "test_event_code",
        "domains",
    ];
    for k in obj.keys() {
        if !KNOWN.contains(&k.as_str())
            && !matches!(
                k.as_str(),
                "id" | "created_at" | "updated_at" | "has_access_token" | "has_api_secret"
            )
        {
            return Err(FieldError::new(
                k,
                format!("unknown field (use {})", KNOWN.join(", ")),
            ));
        }
    }
    let mut input = PixelInput::default();
    let platform = match (obj.get("platform"), existing) {
        (Some(Value::String(s)), None) => Some(Platform::parse(s).ok_or_else(|| {
            FieldError::new("platform", "must be one of meta, google, linkedin, tiktok")
        })?),
        (Some(Value::String(s)), Some(p)) if Platform::parse(s) == Some(p) => Some(p),
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "platform",
                "cannot be changed; create a new pixel",
            ))
        }
        (Some(_), None) => {
            return Err(FieldError::new(
                "platform",
                "must be one of meta, google, linkedin, tiktok",
            ))
        }
        (None, None) => return Err(FieldError::new("platform", "is required")),
        (None, Some(p)) => Some(p),
    };
    input.platform = platform;
    let platform = platform.expect("set above");

    match obj.get("pixel_id") {
        Some(Value::String(s)) => input.pixel_id = Some(validate_pixel_id(platform, s.trim())?),
        Some(Value::Number(n)) => {
            input.pixel_id = Some(validate_pixel_id(platform, &n.to_string())?)
        }
        Some(_) => return Err(FieldError::new("pixel_id", "must be a string or a number")),
        None if existing.is_none() => return Err(FieldError::new("pixel_id", "is required")),
        None => {}
    }
    input.access_token = secret(obj, "access_token")?;
    input.api_secret = secret(obj, "api_secret")?;
    input.is_active = flag(obj, "is_active")?;
    input.server_side_enabled = flag(obj, "server_side_enabled")?;
    input.test_event_code = match obj.get("test_event_code") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s))
            if s.len() <= 50
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Some(Some(s.trim().to_string()))
        }
        Some(_) => return Err(FieldError::new("test_event_code", TEST_EVENT_CODE_RULE)),
    };
    if obj.contains_key("event_names") {
        input.event_names = Some(parse_event_names(obj.get("event_names"))?);
    }
    if obj.contains_key("domains") {
        input.domains = Some(parse_domains(obj.get("domains"), "domains")?);
    }
    if existing.is_none()
        && platform == Platform::Google
        && !matches!(input.api_secret, Some(Some(_)))
    {
        return Err(FieldError::new(
            "api_secret",
            "is required for a google (GA4) pixel: its Measurement Protocol API secret",
        ));
    }
    if existing.is_none()
        && platform != Platform::Google
        && !matches!(input.access_token, Some(Some(_)))
    {
        return Err(FieldError::new(
            "access_token",
            "is required for meta, linkedin and tiktok pixels: the platform's API access token",
        ));
    }
    Ok(input)
}

/// Canonical names (`purchase`) or custom event names, as the intake accepts them.
fn parse_event_names(v: Option<&Value>) -> Result<Vec<String>, FieldError> {
    let arr = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(FieldError::new("event_names", EVENT_NAMES_RULE)),
    };
    let mut out = Vec::new();
    for (i, n) in arr.iter().enumerate() {
        let f = format!("event_names[{i}]");
        let s = n
            .as_str()
            .ok_or_else(|| FieldError::new(&f, EVENT_NAMES_RULE))?
            .trim();
        let parsed = super::platform::EventName::parse(s);
        let name = if parsed == super::platform::EventName::Custom {
            if s.is_empty()
                || s.len() > 40
                || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(FieldError::new(&f, EVENT_NAMES_RULE));
            }
            s.to_string()
        } else {
            parsed.as_str().to_string()
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

fn secret(obj: &Map<String, Value>, key: &str) -> Result<Option<Option<String>>, FieldError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.len() <= 4096
                && !s.trim().contains(char::is_whitespace) =>
        {
            Ok(Some(Some(s.trim().to_string())))
        }
        Some(_) => Err(FieldError::new(
            key,
            "must be a token of 1 to 4096 bytes without spaces (null removes it)",
        )),
    }
}

fn flag(obj: &Map<String, Value>, key: &str) -> Result<Option<bool>, FieldError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(FieldError::new(key, "must be true or false")),
    }
}

/// Each platform's own id format, so typos are caught at configuration time, not at 3 a.m.
pub fn validate_pixel_id(platform: Platform, id: &str) -> Result<String, FieldError> {
    let err = |m: &str| Err(FieldError::new("pixel_id", m));
    match platform {
        Platform::Meta | Platform::Linkedin => {
            if id.len() < 3 || id.len() > 25 || !id.chars().all(|c| c.is_ascii_digit()) {
                return err(if platform == Platform::Meta {
                    "must be the Meta pixel (dataset) id: 3-25 digits"
                } else {
                    "must be the LinkedIn conversion rule id: 3-25 digits"
                });
            }
        }
        Platform::Google => {
            let up = id.to_ascii_uppercase();
            let ok = up.starts_with("G-")
                && up.len() >= 6
                && up.len() <= 22
                && up[2..].chars().all(|c| c.is_ascii_alphanumeric());
            if !ok {
                return err(
                    "must be a GA4 measurement id: G- then 4-20 ASCII letters and digits, like \
                     G-ABC123XYZ",
                );
            }
            return Ok(up);
        }
        Platform::Tiktok => {
            if id.len() < 10 || id.len() > 40 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return err("must be the TikTok pixel code: 10-40 ASCII letters and digits");
            }
        }
    }
    Ok(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tenant_body_validation() {
        let t = parse_new_tenant(&json!({"name": " Shop ", "domains": ["Shop.Example.com", "https://www.example.com/path", "*.example.org"]})).unwrap();
        assert_eq!(t.name, "Shop");
        assert_eq!(
            t.domains,
            vec!["shop.example.com", "www.example.com", "*.example.org"]
        );
        assert_eq!(
            parse_new_tenant(&json!({"domains": ["a.com"]}))
                .unwrap_err()
                .field,
            "name"
        );
        assert_eq!(
            parse_new_tenant(&json!({"name": "x", "domains": []}))
                .unwrap_err()
                .field,
            "domains"
        );
        assert_eq!(
            parse_new_tenant(&json!({"name": "x", "domains": ["bad host!"]}))
                .unwrap_err()
                .field,
            "domains[0]"
        );
    }

    #[test]
    fn origin_allow_list() {
        let cfg = TenantConfig {
            tenant_id: "t".into(),
            domains: vec!["example.com".into(), "localhost".into()],
            consent_policy: ConsentPolicy::default(),
            pixels: vec![],
            shards: Default::default(),
            daily_quota: None,
            key_valid_until: None,
        };
        assert!(cfg.key_valid_at(i64::MAX));
        let previous = TenantConfig {
            key_valid_until: Some(100),
            ..cfg.clone()
        };
        assert!(previous.key_valid_at(99));
        assert!(!previous.key_valid_at(100));
        assert!(cfg.origin_allowed("https://www.example.com"));
        assert!(cfg.origin_allowed("http://localhost:8787"));
        assert!(!cfg.origin_allowed("https://example.com.evil.net"));
        assert!(!cfg.origin_allowed("null"));
    }

    #[test]
    fn pixel_create_requires_platform_fields() {
        let ok = parse_pixel_input(
            &json!({"platform": "meta", "pixel_id": "123456789012345", "access_token": "EAAB"}),
            None,
        )
        .unwrap();
        assert_eq!(ok.platform, Some(Platform::Meta));
        assert_eq!(ok.access_token, Some(Some("EAAB".into())));
        let cases = [
            (json!({"pixel_id": "1"}), "platform"),
            (json!({"platform": "myspace", "pixel_id": "1"}), "platform"),
            (json!({"platform": "meta", "access_token": "x"}), "pixel_id"),
            (
                json!({"platform": "meta", "pixel_id": "abc", "access_token": "x"}),
                "pixel_id",
            ),
            (
                json!({"platform": "meta", "pixel_id": "12345"}),
                "access_token",
            ),
            (
                json!({"platform": "google", "pixel_id": "G-ABC123"}),
                "api_secret",
            ),
            (
                json!({"platform": "google", "pixel_id": "UA-123", "api_secret": "s"}),
                "pixel_id",
            ),
            (
                json!({"platform": "meta", "pixel_id": "12345", "access_token": "x", "is_active": "yes"}),
                "is_active",
            ),
            (
                json!({"platform": "meta", "pixel_id": "12345", "access_token": "x", "colour": 1}),
                "colour",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                parse_pixel_input(&body, None).unwrap_err().field,
                field,
                "{body}"
            );
        }
        assert_eq!(
            parse_pixel_input(
                &json!({"platform": "google", "pixel_id": "g-abc123", "api_secret": "s"}),
                None
            )
            .unwrap()
            .pixel_id
            .as_deref(),
            Some("G-ABC123")
        );
    }

    #[test]
    fn pixel_id_messages_state_the_bounds_the_code_applies() {
        let check = |p: Platform, shortest_ok: &str, longest_ok: &str, bound: &str| {
            let too_short = &shortest_ok[..shortest_ok.len() - 1];
            let too_long = format!("{longest_ok}1");
            assert!(validate_pixel_id(p, shortest_ok).is_ok(), "{shortest_ok}");
            assert!(validate_pixel_id(p, longest_ok).is_ok(), "{longest_ok}");
            for bad in [too_short, too_long.as_str()] {
                let e = validate_pixel_id(p, bad).unwrap_err();
                assert!(e.message.contains(bound), "{bad}: {}", e.message);
            }
        };
        check(Platform::Meta, "123", &"1".repeat(25), "3-25 digits");
        check(Platform::Linkedin, "123", &"1".repeat(25), "3-25 digits");
        check(
            Platform::Google,
            "G-AB12",
            &format!("G-{}", "A".repeat(20)),
            "G- then 4-20",
        );
        check(Platform::Tiktok, &"C".repeat(10), &"C".repeat(40), "10-40");
    }

    #[test]
    fn event_names_are_canonicalized() {
        let p = parse_pixel_input(
            &json!({"platform": "linkedin", "pixel_id": "12345", "access_token": "t", "event_names": ["Purchase", "lead", "quiz_done", "purchase"]}),
            None,
        )
        .unwrap();
        assert_eq!(
            p.event_names,
            Some(vec!["purchase".into(), "lead".into(), "quiz_done".into()])
        );
        let bad = parse_pixel_input(
            &json!({"platform": "meta", "pixel_id": "12345", "access_token": "t", "event_names": ["no spaces allowed"]}),
            None,
        );
        assert_eq!(bad.unwrap_err().field, "event_names[0]");
    }

    #[test]
    fn pixel_update_keeps_platform_and_clears_secrets() {
        let u = parse_pixel_input(
            &json!({"is_active": false, "test_event_code": null}),
            Some(Platform::Meta),
        )
        .unwrap();
        assert_eq!(u.is_active, Some(false));
        assert_eq!(u.test_event_code, Some(None));
        assert_eq!(u.access_token, None);
        assert_eq!(
            parse_pixel_input(&json!({"platform": "tiktok"}), Some(Platform::Meta))
                .unwrap_err()
                .field,
            "platform"
        );
    }
}
