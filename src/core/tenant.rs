//! Tenants and pixels: request validation and the routing config cached at the edge.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::consent::ConsentPolicy;
use super::destinations::PixelSettings;
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
    /// The platform's settings beyond the id (`PixelSettings`), replaced whole when given.
    pub settings: Option<PixelSettings>,
    /// The tag loads the platform's own browser script for this pixel (after consent).
    pub browser_enabled: Option<bool>,
    /// `Some(None)` clears it.
    pub browser_id: Option<Option<String>>,
}

/// `existing` is the stored platform when updating (the platform of a pixel cannot change).
pub fn parse_pixel_input(
    body: &Value,
    existing: Option<Platform>,
) -> Result<PixelInput, FieldError> {
    let obj = object(body)?;
    const KNOWN: [&str; 12] = [
        "settings",
        "event_names",
        "browser_enabled",
        "browser_id",
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
        (Some(Value::String(s)), None) => {
            Some(Platform::parse(s).ok_or_else(|| FieldError::new("platform", PLATFORM_RULE))?)
        }
        (Some(Value::String(s)), Some(p)) if Platform::parse(s) == Some(p) => Some(p),
        (Some(_), Some(_)) => {
            return Err(FieldError::new(
                "platform",
                "cannot be changed; create a new pixel",
            ))
        }
        (Some(_), None) => return Err(FieldError::new("platform", PLATFORM_RULE)),
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
    input.browser_enabled = flag(obj, "browser_enabled")?;
    input.browser_id = match obj.get("browser_id") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        Some(Value::String(s))
            if platform == Platform::Linkedin
                && (1..=25).contains(&s.trim().len())
                && s.trim().chars().all(|c| c.is_ascii_digit()) =>
        {
            Some(Some(s.trim().to_string()))
        }
        Some(_) if platform != Platform::Linkedin => {
            return Err(FieldError::new(
                "browser_id",
                "is only for linkedin pixels (the Insight Tag partner id); the others' browser tags take pixel_id",
            ))
        }
        Some(_) => {
            return Err(FieldError::new(
                "browser_id",
                "must be the LinkedIn Insight Tag partner id: 1-25 digits (null removes it)",
            ))
        }
    };
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
    if obj.contains_key("settings") {
        input.settings = Some(parse_settings(obj.get("settings"), platform)?);
    }
    if platform == Platform::GoogleAds {
        // Its OAuth token is the connected Google Ads account's, its developer token the
        // operator's: nothing secret is stored with the pixel.
        for key in ["access_token", "api_secret"] {
            if matches!(obj.get(key), Some(v) if !v.is_null()) {
                return Err(FieldError::new(key, "is not taken for google_ads: uploads use the connected Google Ads account's OAuth token (connect it under Ads) and the operator's developer token"));
            }
        }
        if obj.contains_key("event_names") {
            return Err(FieldError::new("event_names", "is not taken for google_ads: the names of settings.conversion_actions are the events it takes"));
        }
        match &input.settings {
            Some(st) => input.event_names = Some(st.conversion_actions.keys().cloned().collect()),
            None if existing.is_none() => return Err(FieldError::new(
                "settings.conversion_actions",
                "is required for a google_ads pixel: {\"purchase\": \"<conversion action id>\", …}",
            )),
            None => {}
        }
        return Ok(input);
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
        let name = n
            .as_str()
            .and_then(event_name)
            .ok_or_else(|| FieldError::new(&f, EVENT_NAMES_RULE))?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// An event name as routing compares it: the canonical name of a standard event, else the
/// custom name (1-40 ASCII letters, digits and '_').
fn event_name(raw: &str) -> Option<String> {
    let s = raw.trim();
    let parsed = super::platform::EventName::parse(s);
    if parsed != super::platform::EventName::Custom {
        return Some(parsed.as_str().to_string());
    }
    let valid =
        !s.is_empty() && s.len() <= 40 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| s.to_string())
}

const PLATFORM_RULE: &str = "must be one of meta, google, linkedin, tiktok, google_ads";

const SETTINGS_RULE: &str = "must be an object: for google_ads {conversion_actions, time_zone?, \
    login_customer_id?}, for tiktok {offline_event_set_id?}";

/// A pixel's `settings`, by platform; every error names its field.
fn parse_settings(v: Option<&Value>, platform: Platform) -> Result<PixelSettings, FieldError> {
    let obj = match v {
        None | Some(Value::Null) => return Ok(PixelSettings::default()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(FieldError::new("settings", SETTINGS_RULE)),
    };
    let allowed: &[&str] = match platform {
        Platform::GoogleAds => &["conversion_actions", "time_zone", "login_customer_id"],
        Platform::Tiktok => &["offline_event_set_id"],
        _ => &[],
    };
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(FieldError::new(
            format!("settings.{k}"),
            format!(
                "is not a setting of a {} pixel ({SETTINGS_RULE})",
                platform.as_str()
            ),
        ));
    }
    let text = |key: &str| -> Result<Option<&str>, FieldError> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim())),
            Some(_) => Err(FieldError::new(
                format!("settings.{key}"),
                "must be a non-empty string",
            )),
        }
    };
    let mut out = PixelSettings::default();
    if let Some(tz) = text("time_zone")? {
        if super::timezone::TimeZone::parse(tz).is_none() {
            return Err(FieldError::new(
                "settings.time_zone",
                super::timezone::TIME_ZONE_RULE,
            ));
        }
        out.time_zone = Some(tz.to_string());
    }
    if let Some(login) = text("login_customer_id")? {
        out.login_customer_id = Some(
            super::ads::google_ads::normalize_customer_id(login).ok_or_else(|| {
                FieldError::new(
                    "settings.login_customer_id",
                    "must be the manager account's Google Ads customer id: 10 digits, dashes allowed",
                )
            })?,
        );
    }
    if let Some(set) = text("offline_event_set_id")? {
        if set.len() > 40 || !set.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(FieldError::new(
                "settings.offline_event_set_id",
                "must be the TikTok offline event set id: 1-40 ASCII letters and digits",
            ));
        }
        out.offline_event_set_id = Some(set.to_string());
    }
    if platform == Platform::GoogleAds {
        let actions = match obj.get("conversion_actions") {
            Some(Value::Object(m)) if !m.is_empty() && m.len() <= 50 => m,
            _ => {
                return Err(FieldError::new(
                    "settings.conversion_actions",
                    "must be an object of 1 to 50 conversion names, each with its Google Ads conversion action id: {\"purchase\": \"123456789\"}",
                ))
            }
        };
        for (name, id) in actions {
            let f = format!("settings.conversion_actions.{name}");
            let canonical = event_name(name).ok_or_else(|| {
                FieldError::new(&f, format!("names no event: {EVENT_NAMES_RULE}"))
            })?;
            // The id, or its resource name customers/{customer}/conversionActions/{id}.
            let raw = match id {
                Value::String(s) => s.trim().rsplit('/').next().unwrap_or_default().to_string(),
                Value::Number(n) if n.is_u64() => n.to_string(),
                _ => String::new(),
            };
            if raw.is_empty() || raw.len() > 20 || !raw.bytes().all(|b| b.is_ascii_digit()) {
                return Err(FieldError::new(
                    f,
                    "must be a Google Ads conversion action id (digits) or its resource name customers/{customer}/conversionActions/{id}",
                ));
            }
            out.conversion_actions.insert(canonical, raw);
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
        Platform::GoogleAds => {
            return super::ads::google_ads::normalize_customer_id(id).map_or_else(
                || err("must be the Google Ads customer id: 10 digits, dashes allowed (123-456-7890)"),
                Ok,
            );
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
    fn browser_tag_fields() {
        let li = parse_pixel_input(
            &json!({"platform": "linkedin", "pixel_id": "12345678", "access_token": "x", "browser_enabled": true, "browser_id": " 5551234 "}),
            None,
        )
        .unwrap();
        assert_eq!(
            (li.browser_enabled, li.browser_id),
            (Some(true), Some(Some("5551234".into())))
        );
        let cleared =
            parse_pixel_input(&json!({"browser_id": null}), Some(Platform::Linkedin)).unwrap();
        assert_eq!(cleared.browser_id, Some(None));
        let err = |body: Value, p| parse_pixel_input(&body, Some(p)).unwrap_err().field;
        assert_eq!(
            err(json!({"browser_enabled": "yes"}), Platform::Meta),
            "browser_enabled"
        );
        assert_eq!(
            err(json!({"browser_id": "12"}), Platform::Meta),
            "browser_id"
        );
        assert_eq!(
            err(json!({"browser_id": "li-12"}), Platform::Linkedin),
            "browser_id"
        );
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
    fn google_ads_pixels_map_conversion_names_to_actions() {
        let p = parse_pixel_input(
            &json!({"platform": "google_ads", "pixel_id": "123-456-7890",
                    "settings": {"conversion_actions": {"Purchase": "customers/1234567890/conversionActions/111", "qualified_lead": 222},
                                 "time_zone": "Europe/Madrid", "login_customer_id": "999-888-7777"}}),
            None,
        )
        .unwrap();
        assert_eq!(p.platform, Some(Platform::GoogleAds));
        assert_eq!(p.pixel_id.as_deref(), Some("1234567890"));
        let st = p.settings.unwrap();
        assert_eq!(st.conversion_actions["purchase"], "111");
        assert_eq!(st.conversion_actions["qualified_lead"], "222");
        assert_eq!(st.login_customer_id.as_deref(), Some("9998887777"));
        assert_eq!(
            p.event_names,
            Some(vec!["purchase".to_string(), "qualified_lead".to_string()])
        );
        let cases = [
            (
                json!({"platform": "google_ads", "pixel_id": "123"}),
                "pixel_id",
            ),
            (
                json!({"platform": "google_ads", "pixel_id": "1234567890"}),
                "settings.conversion_actions",
            ),
            (
                json!({"platform": "google_ads", "pixel_id": "1234567890", "settings": {"conversion_actions": {}}}),
                "settings.conversion_actions",
            ),
            (
                json!({"platform": "google_ads", "pixel_id": "1234567890", "settings": {"conversion_actions": {"purchase": "abc"}}}),
                "settings.conversion_actions.purchase",
            ),
            (
                json!({"platform": "google_ads", "pixel_id": "1234567890", "settings": {"conversion_actions": {"purchase": "1"}, "time_zone": "Mars/Base"}}),
                "settings.time_zone",
            ),
            (
                json!({"platform": "google_ads", "pixel_id": "1234567890", "access_token": "x", "settings": {"conversion_actions": {"purchase": "1"}}}),
                "access_token",
            ),
            (
                json!({"platform": "google_ads", "pixel_id": "1234567890", "settings": {"conversion_actions": {"purchase": "1"}, "offline_event_set_id": "1"}}),
                "settings.offline_event_set_id",
            ),
            (
                json!({"platform": "meta", "pixel_id": "12345", "access_token": "x", "settings": {"time_zone": "UTC"}}),
                "settings.time_zone",
            ),
        ];
        for (body, field) in cases {
            let err = parse_pixel_input(&body, None).expect_err(&body.to_string());
            assert_eq!(err.field, field, "for {body}: {}", err.message);
        }
        let t = parse_pixel_input(
            &json!({"platform": "tiktok", "pixel_id": "CABC123DEF45", "access_token": "t",
                    "settings": {"offline_event_set_id": "7301234567890"}}),
            None,
        )
        .unwrap();
        assert_eq!(
            t.settings.unwrap().offline_event_set_id.as_deref(),
            Some("7301234567890")
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
