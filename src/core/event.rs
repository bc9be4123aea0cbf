//! Inbound beacon model and validation. Raw PII is normalized and hashed here, at the door: the
//! `Event` that leaves this module (to the queue, D1, logs) only ever holds hashes.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::calendar::SECS_PER_DAY;
use super::hash::{hash_normalized, Sha256Hex};
use super::jsonmap::pick;
use super::normalize;
use super::platform::{EventName, Platform};
use super::scrub;
use super::text::truncate_bytes;
use super::weburl;

/// Beacons are small; anything bigger is abuse or a bug on the site (answered 413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_BATCH: usize = 100;
/// Clock skew we tolerate from browsers before calling an event_time "in the future".
pub const FUTURE_SKEW_SECS: i64 = 5 * 60;
/// Oldest event the gateway takes at all; each destination applies its own, shorter window.
pub const MAX_AGE_SECS: i64 = 90 * 24 * 3600;
const MAX_ID_LEN: usize = 128;
const MAX_URL_LEN: usize = 2048;
const MAX_CUSTOM_KEYS: usize = 50;
const MAX_CLICK_ID_LEN: usize = 512;
const MAX_CUSTOM_KEY_LEN: usize = 64;
/// What an event's `custom_data` may weigh (its JSON, about): with the URL and referrer (2 KB
/// each), the click ids, `utm` and the hashes, a stored event stays under ~20 KB, whatever a
/// caller sends (the body may be 64 KB).
pub const MAX_CUSTOM_DATA_BYTES: usize = 8 * 1024;
const MAX_UTM_KEYS: usize = 10;
const MAX_UTM_VALUE_BYTES: usize = 256;
/// `custom_data` keys every destination reads with a meaning of its own: their names are never
/// scrubbed (GA4's `session_id` is a session number, not a session secret), and their values are
/// ids, whose digits are not phone numbers.
const ID_LIKE_CUSTOM_KEYS: [&str; 4] = ["transaction_id", "order_id", "session_id", "content_ids"];

/// The rule for `event_id` and `visitor_id` (ASCII, so its characters are its bytes).
pub const ID_RULE: &str =
    "must be 1-128 characters, each an ASCII letter, digit, '-', '_', '.' or ':'";
const _: () = assert!(MAX_ID_LEN == 128, "ID_RULE states the bound");

const EVENT_NAME_RULE: &str = "must be a standard event name (page_view, lead, signup, \
    add_to_cart, purchase, contact, schedule, view_content, in any case, with or without '_', '-' \
    or spaces, or a platform's own name such as Purchase or generate_lead) or a custom name of \
    1-40 ASCII letters, digits and '_' that does not start with a digit";

/// A custom_data value other than the known keys.
const CUSTOM_VALUE_RULE: &str =
    "must be a string, number, boolean, or an array of strings, numbers and booleans";

const CONTENTS_ITEM: &str = "{id, quantity?, item_price?, title?, category?, brand?}";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Hashed user identifiers. Platforms disagree on normalization (Google strips dots from gmail
/// local parts and wants E.164 with '+', Meta wants phone digits only), so we keep one hash per
/// rule set rather than one per field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HashedUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub em: Option<Sha256Hex>,
    /// Email normalized by Google's rules (gmail dots removed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub em_google: Option<Sha256Hex>,
    /// Phone as digits with country code (Meta).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ph: Option<Sha256Hex>,
    /// Phone as E.164 with '+' (Google, TikTok).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ph_e164: Option<Sha256Hex>,
    #[serde(rename = "fn", skip_serializing_if = "Option::is_none")]
    pub first_name: Option<Sha256Hex>,
    #[serde(rename = "ln", skip_serializing_if = "Option::is_none")]
    pub last_name: Option<Sha256Hex>,
    #[serde(rename = "ct", skip_serializing_if = "Option::is_none")]
    pub city: Option<Sha256Hex>,
    #[serde(rename = "st", skip_serializing_if = "Option::is_none")]
    pub state: Option<Sha256Hex>,
    #[serde(rename = "zp", skip_serializing_if = "Option::is_none")]
    pub zip: Option<Sha256Hex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<Sha256Hex>,
    #[serde(rename = "db", skip_serializing_if = "Option::is_none")]
    pub dob: Option<Sha256Hex>,
    #[serde(rename = "ge", skip_serializing_if = "Option::is_none")]
    pub gender: Option<Sha256Hex>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Sha256Hex>,
}

impl HashedUser {
    pub fn is_empty(&self) -> bool {
        *self == HashedUser::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClickIds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fbc: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fbp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gclid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbraid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wbraid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttclid: Option<String>,
    /// TikTok's first-party cookie `_ttp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub li_fat_id: Option<String>,
    /// GA client id from the `_ga` cookie (`GA1.1.123.456` → `123.456`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ga_client_id: Option<String>,
}

/// Request context that is not PII we hash: the IP and user agent are sent to platforms as-is
/// (they require them unhashed) and the IP is purged from storage after 30 days.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

/// Consent the caller asserts. Only trusted (api_key) callers may assert it; browsers are
/// judged by the stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertedConsent {
    pub analytics: bool,
    pub marketing: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub event_name: EventName,
    /// The caller's own name for custom events (validated: letters, digits, `_`, ≤ 40).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_name: Option<String>,
    pub event_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visitor_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
    /// Boxed: 13 inline hashes would make the event too big to move and allocate cheaply.
    #[serde(default, skip_serializing_if = "HashedUser::is_empty")]
    pub user: Box<HashedUser>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub custom_data: Map<String, Value>,
    #[serde(default)]
    pub click_ids: ClickIds,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub utm: BTreeMap<String, String>,
    #[serde(default)]
    pub client: ClientContext,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<AssertedConsent>,
    /// The only platforms the event goes to, when the caller names them (`platforms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<Vec<Platform>>,
    /// Set for a conversion that happened off the website (`core::conversion`): each destination
    /// then sends it as the platform's offline or CRM event, within that source's window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversion: Option<Box<ConversionContext>>,
}

/// Where a conversion happened, as the conversions API takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversionSource {
    /// A stage of a CRM (a lead qualified, a deal won).
    Crm,
    PhysicalStore,
    PhoneCall,
    Other,
}

impl ConversionSource {
    pub const ALL: [ConversionSource; 4] = [
        ConversionSource::Crm,
        ConversionSource::PhysicalStore,
        ConversionSource::PhoneCall,
        ConversionSource::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConversionSource::Crm => "crm",
            ConversionSource::PhysicalStore => "physical_store",
            ConversionSource::PhoneCall => "phone_call",
            ConversionSource::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<ConversionSource> {
        ConversionSource::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What an offline or CRM conversion carries besides an event's fields (no PII: ids only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversionContext {
    /// The caller's id of the conversion (its CRM deal, its payment).
    pub conversion_id: String,
    pub source: ConversionSource,
    /// The Meta Lead Ads lead id a CRM stage closes the loop on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_lead_id: Option<String>,
    /// The CRM's name (Meta's `lead_event_source`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm_name: Option<String>,
}

impl Event {
    /// The name shown in logs and the dashboard.
    pub fn display_name(&self) -> &str {
        self.custom_name
            .as_deref()
            .unwrap_or(self.event_name.as_str())
    }
}

/// What the edge knows about the request, passed into the pure intake.
pub struct IntakeContext<'a> {
    pub now: i64,
    /// The request's address and user agent: a browser's own, used only for untrusted callers
    /// (a server's would be its own, never the visitor's; it sends `client_ip_address` and
    /// `client_user_agent` instead).
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// Country of the request (Cloudflare's geo), used as the default for national phone numbers.
    pub geo_country: Option<&'a str>,
    /// Only server-to-server callers may assert consent in the payload.
    pub trusted: bool,
}

/// One event's verdict: accepted (with PII warnings for dropped fields) or rejected.
#[derive(Debug)]
pub struct Parsed {
    pub event: Event,
    pub generated_id: bool,
    pub warnings: Vec<FieldError>,
}

/// The keys of an event object we read (the click ids aside: CLICK_ID_KEYS).
const EVENT_KEYS: [&str; 15] = [
    "event_id",
    "event_name",
    "event_time",
    "visitor_id",
    "url",
    "event_source_url",
    "referrer",
    "user_data",
    "custom_data",
    "click_ids",
    "utm",
    "consent",
    "client_ip_address",
    "client_user_agent",
    "platforms",
];

/// Parses and validates one event object. `prefix` is prepended to field paths
/// (`events[3].` in a batch) so errors name the exact place.
pub fn parse_event(
    value: &Value,
    prefix: &str,
    ctx: &IntakeContext,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Parsed, FieldError> {
    let path = |f: &str| format!("{prefix}{f}");
    let obj = value
        .as_object()
        .ok_or_else(|| FieldError::new(prefix.trim_end_matches('.'), "must be a JSON object"))?;
    let [event_id, event_name, event_time, visitor_id, url, event_source_url, referrer, user_data, custom_data, click_ids, utm, consent, client_ip, client_ua, platforms] =
        pick(obj, &EVENT_KEYS);
    let platforms = parse_platforms(platforms, prefix)?;

    let (event_id, generated_id) = match opt_string(event_id, || path("event_id"))? {
        Some(id) => {
            if id.len() > MAX_ID_LEN || !id.chars().all(is_id_char) {
                return Err(FieldError::new(path("event_id"), ID_RULE));
            }
            (id, false)
        }
        None => (new_id(), true),
    };

    let raw_name = opt_string(event_name, || path("event_name"))?
        .ok_or_else(|| FieldError::new(path("event_name"), "is required"))?;
    let event_name = EventName::parse(&raw_name);
    let custom_name = if event_name == EventName::Custom {
        if raw_name.len() > 40
            || !raw_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || raw_name.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(FieldError::new(path("event_name"), EVENT_NAME_RULE));
        }
        Some(raw_name)
    } else {
        None
    };

    let event_time = parse_event_time(event_time, || path("event_time"), ctx.now)?;
    let visitor_id = opt_string(visitor_id, || path("visitor_id"))?;
    if let Some(v) = &visitor_id {
        if v.len() > MAX_ID_LEN || !v.chars().all(is_id_char) {
            return Err(FieldError::new(path("visitor_id"), ID_RULE));
        }
    }
    let mut warnings = Vec::new();
    // Personal data and secrets outside user_data are removed here, for every path in (`scrub`).
    let url = scrubbed_url(
        parse_url(url.or(event_source_url), || path("url"))?,
        || path("url"),
        &mut warnings,
    );
    let referrer = scrubbed_url(
        parse_url(referrer, || path("referrer"))?,
        || path("referrer"),
        &mut warnings,
    );

    let user = match user_data {
        None | Some(Value::Null) => Box::default(),
        Some(Value::Object(u)) => Box::new(hash_user_data(u, prefix, ctx, &mut warnings)?),
        Some(_) => return Err(FieldError::new(path("user_data"), "must be an object")),
    };
    let custom_data = match custom_data {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(c)) => parse_custom_data(c, prefix, &mut warnings)?,
        Some(_) => return Err(FieldError::new(path("custom_data"), "must be an object")),
    };
    let click_ids = parse_click_ids(obj, click_ids, prefix)?;
    let utm = match utm {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(u)) => {
            if u.len() > MAX_UTM_KEYS {
                return Err(FieldError::new(
                    path("utm"),
                    format!("must have at most {MAX_UTM_KEYS} keys"),
                ));
            }
            let mut out = BTreeMap::new();
            for (k, v) in u {
                let field = || path(&format!("utm.{k}"));
                if k.len() > MAX_CUSTOM_KEY_LEN {
                    return Err(FieldError::new(
                        field(),
                        format!("key must be at most {MAX_CUSTOM_KEY_LEN} bytes long"),
                    ));
                }
                if let Some(s) = opt_str(Some(v), field)? {
                    if let Some(kind) = scrub::sensitive_property(k, v, false) {
                        warnings.push(FieldError::new(
                            field(),
                            scrub::warning(&[scrub::Removed::whole(k, kind)]),
                        ));
                        continue;
                    }
                    out.insert(
                        k.clone(),
                        truncate_bytes(&s, MAX_UTM_VALUE_BYTES).to_string(),
                    );
                }
            }
            out
        }
        Some(_) => return Err(FieldError::new(path("utm"), "must be an object")),
    };
    let consent = match (ctx.trusted, consent) {
        (_, None | Some(Value::Null)) => None,
        (false, Some(_)) => {
            return Err(FieldError::new(
                path("consent"),
                "only server-to-server (api_key) calls may assert consent; browsers use the stored consent",
            ))
        }
        (true, Some(c)) => Some(AssertedConsent {
            analytics: bool_field(c, "analytics", || path("consent.analytics"))?,
            marketing: bool_field(c, "marketing", || path("consent.marketing"))?,
        }),
    };

    // A browser's address and user agent are its request's own. A server's are not the visitor's:
    // it passes the visitor's explicitly, or the event has none.
    let keep = |v: &str| truncate_bytes(v, 512).to_string();
    let mut client = [ctx.ip, ctx.user_agent].map(|v| v.filter(|_| !ctx.trusted).map(keep));
    let given = [
        (client_ip, "client_ip_address"),
        (client_ua, "client_user_agent"),
    ];
    for (i, (v, field)) in given.into_iter().enumerate() {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            continue;
        };
        let text = v.as_str().map(str::trim);
        let ip_ok = |s: &str| i == 1 || s.parse::<std::net::IpAddr>().is_ok();
        if !ctx.trusted || !text.is_some_and(ip_ok) {
            let rule = match (ctx.trusted, i) {
                (false, _) => "only server-to-server (api_key) calls may set it; a browser's is taken from its request",
                (true, 0) => "must be an IPv4 or IPv6 address",
                _ => "must be a string",
            };
            return Err(FieldError::new(path(field), rule));
        }
        client[i] = text.filter(|s| !s.is_empty()).map(keep);
    }
    let [ip, user_agent] = client;
    let client = ClientContext { ip, user_agent };

    Ok(Parsed {
        event: Event {
            event_id,
            event_name,
            custom_name,
            event_time,
            visitor_id,
            url,
            referrer,
            user,
            custom_data,
            click_ids,
            utm,
            client,
            consent,
            conversion: None,
            platforms,
        },
        generated_id,
        warnings,
    })
}

const PLATFORMS_RULE: &str = "must be one of meta, google, linkedin, tiktok, google_ads";

/// `platforms`: the only platforms the event goes to; absent or null, every pixel's.
fn parse_platforms(v: Option<&Value>, prefix: &str) -> Result<Option<Vec<Platform>>, FieldError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(_) => {
            return Err(FieldError::new(
                format!("{prefix}platforms"),
                "must be a non-empty array of meta, google, linkedin, tiktok, google_ads (omit it for all of the pixels)",
            ))
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let p = item
            .as_str()
            .and_then(|s| Platform::parse(&s.trim().to_ascii_lowercase()))
            .ok_or_else(|| FieldError::new(format!("{prefix}platforms[{i}]"), PLATFORMS_RULE))?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(Some(out))
}

/// Whether `id` follows `ID_RULE` (an `event_id` or `visitor_id` as the intake takes it).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.chars().all(is_id_char)
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

/// `field` names the path for the error only; it is built lazily because most values are fine
/// and formatting a path per field was a measurable share of the intake.
fn opt_string(
    v: Option<&Value>,
    field: impl FnOnce() -> String,
) -> Result<Option<String>, FieldError> {
    Ok(opt_str(v, field)?.map(Cow::into_owned))
}

/// `opt_string` without the copy: trimmed text borrowed from the body (numbers are formatted).
fn opt_str<'a>(
    v: Option<&'a Value>,
    field: impl FnOnce() -> String,
) -> Result<Option<Cow<'a, str>>, FieldError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let t = if normalize::has_visible_ascii_ends(s) {
                s.as_str()
            } else {
                s.trim()
            };
            Ok((!t.is_empty()).then_some(Cow::Borrowed(t)))
        }
        Some(Value::Number(n)) => Ok(Some(Cow::Owned(n.to_string()))),
        Some(_) => Err(FieldError::new(field(), "must be a string or a number")),
    }
}

fn bool_field(obj: &Value, key: &str, field: impl FnOnce() -> String) -> Result<bool, FieldError> {
    match obj.get(key) {
        Some(Value::Bool(b)) => Ok(*b),
        None | Some(Value::Null) => Ok(false),
        Some(_) => Err(FieldError::new(field(), "must be true or false")),
    }
}

/// `field` (the path for an error) is built only for an error, as for every check of the intake:
/// formatting the paths of valid values was a measurable share of it.
fn parse_event_time(
    v: Option<&Value>,
    field: impl FnOnce() -> String,
    now: i64,
) -> Result<i64, FieldError> {
    let rule = || {
        format!(
            "must be a Unix time in seconds or milliseconds (a number or a numeric string), at \
             most {} days old and at most {} minutes ahead of the server clock",
            MAX_AGE_SECS / SECS_PER_DAY,
            FUTURE_SKEW_SECS / 60
        )
    };
    let raw = match v {
        None | Some(Value::Null) => return Ok(now),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(n) => n,
            None => return Err(FieldError::new(field(), rule())),
        },
        Some(Value::String(s)) => match s.trim().parse::<f64>() {
            Ok(n) => n,
            Err(_) => return Err(FieldError::new(field(), rule())),
        },
        Some(_) => return Err(FieldError::new(field(), rule())),
    };
    // Browsers hand out Date.now() in milliseconds; accept it rather than reject the event.
    let secs = if raw > 1.0e11 { raw / 1000.0 } else { raw } as i64;
    if secs > now + FUTURE_SKEW_SECS || secs < now - MAX_AGE_SECS {
        return Err(FieldError::new(field(), rule()));
    }
    Ok(secs)
}

/// The URL without the personal data and secrets it held; a warning names what went.
fn scrubbed_url(
    url: Option<String>,
    field: impl FnOnce() -> String,
    warnings: &mut Vec<FieldError>,
) -> Option<String> {
    let url = url?;
    let (clean, removed) = scrub::scrub_url(&url);
    if removed.is_empty() {
        return Some(url);
    }
    warnings.push(FieldError::new(field(), scrub::warning(&removed)));
    Some(clean.into_owned())
}

fn parse_url(v: Option<&Value>, field: impl Fn() -> String) -> Result<Option<String>, FieldError> {
    let Some(s) = opt_str(v, &field)? else {
        return Ok(None);
    };
    if s.len() <= MAX_URL_LEN && weburl::parse_http_url(&s).is_some() {
        return Ok(Some(s.into_owned()));
    }
    Err(FieldError::new(
        field(),
        format!("must be an absolute http:// or https:// URL of at most {MAX_URL_LEN} bytes"),
    ))
}

/// user_data accepts our long names and Meta's short ones (`em`, `ph`, ...) so existing CAPI
/// payloads can be pointed at the gateway unchanged.
const USER_FIELDS: [(&str, &str); 11] = [
    ("email", "em"),
    ("phone", "ph"),
    ("first_name", "fn"),
    ("last_name", "ln"),
    ("city", "ct"),
    ("state", "st"),
    ("zip", "zp"),
    ("country", "country"),
    ("dob", "db"),
    ("gender", "ge"),
    ("external_id", "external_id"),
];

/// `prefix` is the event's (errors name `{prefix}user_data.<field>`).
fn hash_user_data(
    u: &Map<String, Value>,
    prefix: &str,
    ctx: &IntakeContext,
    warnings: &mut Vec<FieldError>,
) -> Result<HashedUser, FieldError> {
    // One pass over the object: each key is looked up once. The long name wins when a payload
    // carries both spellings.
    let mut given: [Option<&Value>; USER_FIELDS.len()] = Default::default();
    for (key, v) in u {
        let Some(i) = USER_FIELDS.iter().position(|(l, s)| key == l || key == s) else {
            return Err(FieldError::new(
                format!("{prefix}user_data.{key}"),
                "unknown user_data field: use email, phone, first_name, last_name, city, state, \
                 zip, country, dob, gender, external_id, or Meta's short names em, ph, fn, ln, \
                 ct, st, zp, db, ge",
            ));
        };
        if given[i].is_none() || key == USER_FIELDS[i].0 {
            given[i] = Some(v);
        }
    }
    // Borrowed from the request body, indexed like USER_FIELDS: no copy of a raw value is made.
    let mut raw: [Option<Cow<str>>; USER_FIELDS.len()] = Default::default();
    for ((slot, v), (long, _)) in raw.iter_mut().zip(given).zip(USER_FIELDS) {
        // Meta-style payloads send arrays; the first value is the one we keep.
        let v = match v {
            Some(Value::Array(a)) => a.first(),
            other => other,
        };
        *slot = opt_str(v, || format!("{prefix}user_data.{long}"))?;
    }
    let raw_field = |name: &str| -> Option<&str> {
        let i = USER_FIELDS.iter().position(|(long, _)| *long == name)?;
        raw[i].as_deref()
    };

    let mut out = HashedUser::default();
    let mut keep =
        |field: &str, result: Result<&str, &normalize::NormalizeError>| -> Option<Sha256Hex> {
            match result {
                Ok(n) => Some(hash_normalized(n)),
                Err(e) => {
                    warnings.push(FieldError::new(format!("{prefix}user_data.{field}"), e.0));
                    None
                }
            }
        };
    let country = raw_field("country").map(normalize::normalize_country);
    let country_code = country.as_ref().and_then(|c| c.as_deref().ok());
    // Any case: normalize_phone reads it like a country field.
    let phone_country = country_code.or(ctx.geo_country);

    if let Some(e) = raw_field("email") {
        let meta = normalize::normalize_email(e);
        out.em = keep("email", meta.as_deref());
        // Google's rules only differ for gmail addresses with dots; otherwise one hash serves both.
        let google = meta
            .as_deref()
            .ok()
            .map(normalize::google_email_from_normalized);
        out.em_google = match (&out.em, google) {
            (Some(h), Some(Cow::Borrowed(_))) => Some(*h),
            (Some(_), Some(g)) => Some(hash_normalized(&g)),
            _ => None,
        };
    }
    if let Some(p) = raw_field("phone") {
        let e164 = normalize::normalize_phone(p, phone_country);
        out.ph = keep("phone", e164.as_deref().map(|n| n.trim_start_matches('+')));
        out.ph_e164 = e164.ok().map(|n| hash_normalized(&n));
    }
    if let Some(v) = raw_field("first_name") {
        out.first_name = keep("first_name", normalize::normalize_name(v).as_deref());
    }
    if let Some(v) = raw_field("last_name") {
        out.last_name = keep("last_name", normalize::normalize_name(v).as_deref());
    }
    if let Some(v) = raw_field("city") {
        out.city = keep("city", normalize::normalize_city(v).as_deref());
    }
    if let Some(v) = raw_field("state") {
        out.state = keep(
            "state",
            normalize::normalize_state(v, country_code).as_deref(),
        );
    }
    if let Some(v) = raw_field("zip") {
        out.zip = keep("zip", normalize::normalize_zip(v, country_code).as_deref());
    }
    if let Some(c) = &country {
        out.country = keep("country", c.as_deref());
    }
    if let Some(v) = raw_field("dob") {
        out.dob = keep(
            "dob",
            normalize::normalize_dob_at(
                v,
                normalize::yyyymmdd_from_unix_secs(ctx.now.max(0) as u64),
            )
            .as_deref(),
        );
    }
    if let Some(v) = raw_field("gender") {
        out.gender = keep("gender", normalize::normalize_gender(v).as_deref());
    }
    if let Some(v) = raw_field("external_id") {
        out.external_id = keep(
            "external_id",
            normalize::normalize_external_id(v).as_deref(),
        );
    }
    Ok(out)
}

/// Keys with a meaning every destination understands; other keys pass through as custom
/// properties when they are scalars or arrays of scalars. `prefix` is the event's (errors name
/// `{prefix}custom_data.<key>`).
fn parse_custom_data(
    c: &Map<String, Value>,
    prefix: &str,
    warnings: &mut Vec<FieldError>,
) -> Result<Map<String, Value>, FieldError> {
    if c.len() > MAX_CUSTOM_KEYS {
        return Err(FieldError::new(
            format!("{prefix}custom_data"),
            format!("must have at most {MAX_CUSTOM_KEYS} keys"),
        ));
    }
    let mut out = Map::new();
    let mut size = 2;
    for (k, v) in c {
        // Formatted only for an error: most values are fine.
        let field = || format!("{prefix}custom_data.{k}");
        let v = match k.as_str() {
            "value" => Value::from(parse_money(v, field)?),
            "currency" => {
                let s = opt_str(Some(v), field)?
                    .unwrap_or_default()
                    .to_ascii_uppercase();
                if s.len() != 3 || !s.chars().all(|ch| ch.is_ascii_alphabetic()) {
                    return Err(FieldError::new(
                        field(),
                        "must be a 3-letter ISO 4217 currency code such as EUR (any case)",
                    ));
                }
                Value::from(s)
            }
            "content_ids" => {
                let arr = v.as_array().ok_or_else(|| {
                    FieldError::new(field(), "must be an array of non-empty strings or numbers")
                })?;
                let mut ids = Vec::with_capacity(arr.len());
                for (i, id) in arr.iter().enumerate() {
                    let id =
                        opt_string(Some(id), || format!("{}[{i}]", field()))?.ok_or_else(|| {
                            FieldError::new(
                                format!("{}[{i}]", field()),
                                "must be a non-empty string or a number",
                            )
                        })?;
                    ids.push(Value::from(id));
                }
                Value::Array(ids)
            }
            "contents" => parse_contents(v, field)?,
            "num_items" => match v.as_u64() {
                Some(n) => Value::from(n),
                None => {
                    return Err(FieldError::new(
                        field(),
                        "must be a whole number of 0 or more",
                    ))
                }
            },
            _ => match v {
                Value::Object(_) => return Err(FieldError::new(field(), CUSTOM_VALUE_RULE)),
                Value::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
                    return Err(FieldError::new(field(), CUSTOM_VALUE_RULE))
                }
                Value::Null => continue,
                other => other.clone(),
            },
        };
        if k.len() > MAX_CUSTOM_KEY_LEN {
            return Err(FieldError::new(
                field(),
                format!("key must be at most {MAX_CUSTOM_KEY_LEN} bytes long"),
            ));
        }
        let id_like = ID_LIKE_CUSTOM_KEYS.contains(&k.as_str());
        let sensitive = if id_like {
            scrub::sensitive_property("", &v, true)
        } else {
            scrub::sensitive_property(k, &v, false)
        };
        if let Some(kind) = sensitive {
            warnings.push(FieldError::new(
                field(),
                scrub::warning(&[scrub::Removed::whole(k, kind)]),
            ));
            continue;
        }
        size += k.len() + json_size(&v);
        if size > MAX_CUSTOM_DATA_BYTES {
            return Err(FieldError::new(
                format!("{prefix}custom_data"),
                format!(
                    "must be at most {} KB once encoded",
                    MAX_CUSTOM_DATA_BYTES / 1024
                ),
            ));
        }
        out.insert(k.clone(), v);
    }
    Ok(out)
}

/// About how many bytes `v` takes as JSON (string escapes aside), without encoding it.
fn json_size(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len() + 2,
        Value::Array(a) => 2 + a.iter().map(|x| json_size(x) + 1).sum::<usize>(),
        Value::Object(o) => {
            2 + o
                .iter()
                .map(|(k, x)| k.len() + 4 + json_size(x))
                .sum::<usize>()
        }
        _ => 8,
    }
}

fn parse_money(v: &Value, field: impl Fn() -> String) -> Result<f64, FieldError> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite() && *n >= 0.0)
    .ok_or_else(|| {
        FieldError::new(
            field(),
            "must be a number of 0 or more (or a string holding one)",
        )
    })?;
    Ok(n)
}

fn parse_contents(v: &Value, field: impl Fn() -> String) -> Result<Value, FieldError> {
    let arr = v
        .as_array()
        .ok_or_else(|| FieldError::new(field(), format!("must be an array of {CONTENTS_ITEM}")))?;
    let mut out = Vec::with_capacity(arr.len());
    for (i, item) in arr.iter().enumerate() {
        let f = || format!("{}[{i}]", field());
        let obj = item
            .as_object()
            .ok_or_else(|| FieldError::new(f(), format!("must be an object {CONTENTS_ITEM}")))?;
        let [id, quantity, item_price, title, category, brand] = pick(
            obj,
            &["id", "quantity", "item_price", "title", "category", "brand"],
        );
        let id = opt_string(id, || format!("{}.id", f()))?
            .ok_or_else(|| FieldError::new(format!("{}.id", f()), "is required"))?;
        let mut o = Map::new();
        o.insert("id".into(), Value::from(id));
        if let Some(q) = quantity {
            let q = q.as_u64().ok_or_else(|| {
                FieldError::new(
                    format!("{}.quantity", f()),
                    "must be a whole number of 0 or more",
                )
            })?;
            o.insert("quantity".into(), Value::from(q));
        }
        if let Some(p) = item_price {
            o.insert(
                "item_price".into(),
                Value::from(parse_money(p, || format!("{}.item_price", f()))?),
            );
        }
        for (key, v) in [("title", title), ("category", category), ("brand", brand)] {
            if let Some(s) = opt_string(v, || format!("{}.{key}", f()))? {
                o.insert(key.into(), Value::from(s));
            }
        }
        out.push(Value::Object(o));
    }
    Ok(Value::Array(out))
}

/// The fields of `ClickIds`, as keys of the event or of its `click_ids`.
const CLICK_ID_KEYS: [&str; 9] = [
    "fbc",
    "fbp",
    "gclid",
    "gbraid",
    "wbraid",
    "ttclid",
    "ttp",
    "li_fat_id",
    "ga_client_id",
];

/// `click_ids` is the event's `click_ids` value, if any.
fn parse_click_ids(
    obj: &Map<String, Value>,
    click_ids: Option<&Value>,
    prefix: &str,
) -> Result<ClickIds, FieldError> {
    // Click ids are accepted at the top level of the event as well as under `click_ids`.
    let nested = match click_ids {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(_) => {
            return Err(FieldError::new(
                format!("{prefix}click_ids"),
                "must be an object",
            ))
        }
    };
    // One pass over each object instead of two map lookups per click id; `click_ids` wins.
    let top_level = pick(obj, &CLICK_ID_KEYS);
    let in_click_ids = nested.map(|m| pick(m, &CLICK_ID_KEYS)).unwrap_or_default();
    let get = |key: &str| -> Result<Option<String>, FieldError> {
        let i = CLICK_ID_KEYS
            .iter()
            .position(|k| *k == key)
            .expect("one of CLICK_ID_KEYS");
        let v = in_click_ids[i].or(top_level[i]);
        let s = opt_string(v, || format!("{prefix}click_ids.{key}"))?;
        if let Some(s) = &s {
            if s.len() > MAX_CLICK_ID_LEN {
                return Err(FieldError::new(
                    format!("{prefix}click_ids.{key}"),
                    format!("must be at most {MAX_CLICK_ID_LEN} bytes long"),
                ));
            }
        }
        Ok(s)
    };
    // fb.<subdomain index>.<ms>.<id>: at least three dots.
    let fb_shaped = |f: &str| f.starts_with("fb.") && f.bytes().filter(|&b| b == b'.').count() >= 3;
    let fbc = get("fbc")?;
    if let Some(f) = &fbc {
        if !fb_shaped(f) {
            return Err(FieldError::new(
                format!("{prefix}click_ids.fbc"),
                "must look like fb.1.<ms>.<fbclid>: start with 'fb.' and hold at least 3 dots",
            ));
        }
    }
    let fbp = get("fbp")?;
    if let Some(f) = &fbp {
        if !fb_shaped(f) {
            return Err(FieldError::new(
                format!("{prefix}click_ids.fbp"),
                "must look like fb.1.<ms>.<random>: start with 'fb.' and hold at least 3 dots",
            ));
        }
    }
    Ok(ClickIds {
        fbc,
        fbp,
        gclid: get("gclid")?,
        gbraid: get("gbraid")?,
        wbraid: get("wbraid")?,
        ttclid: get("ttclid")?,
        ttp: get("ttp")?,
        li_fat_id: get("li_fat_id")?,
        ga_client_id: get("ga_client_id")?.map(ga_client_id_from_cookie),
    })
}

/// `_ga` cookie `GA1.1.1234567890.1700000000` → client id `1234567890.1700000000`.
pub fn ga_client_id_from_cookie(raw: String) -> String {
    let dots = raw.bytes().filter(|&b| b == b'.').count();
    if !(raw.starts_with("GA") && dots >= 3) {
        return raw;
    }
    // The last two dot-separated parts: what follows the second dot from the end.
    let (second_last_dot, _) = raw.rmatch_indices('.').nth(1).expect("three dots or more");
    raw[second_last_dot + 1..].to_string()
}

/// A request body: one event, or `{events:[...], site_key?}` for the batch endpoint.
pub struct Intake {
    pub accepted: Vec<Parsed>,
    pub rejected: Vec<Rejection>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejection {
    pub index: usize,
    pub field: String,
    pub message: String,
}

/// Validates a batch body. Body-level problems (not JSON, no `events`, too many) are one error.
pub fn parse_batch(
    body: &Value,
    ctx: &IntakeContext,
    new_id: &mut dyn FnMut() -> String,
) -> Result<Intake, FieldError> {
    let events = body
        .get("events")
        .ok_or_else(|| FieldError::new("events", "is required"))?
        .as_array()
        .ok_or_else(|| FieldError::new("events", "must be an array of event objects"))?;
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(FieldError::new(
            "events",
            format!(
                "holds {} events; a batch holds 1 to {MAX_BATCH}",
                events.len()
            ),
        ));
    }
    let mut intake = Intake {
        accepted: Vec::with_capacity(events.len()),
        rejected: Vec::new(),
    };
    for (i, e) in events.iter().enumerate() {
        match parse_event(e, &format!("events[{i}]."), ctx, new_id) {
            Ok(p) => intake.accepted.push(p),
            Err(err) => intake.rejected.push(Rejection {
                index: i,
                field: err.field,
                message: err.message,
            }),
        }
    }
    Ok(intake)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use serde_json::json;

    const NOW: i64 = 1_760_000_000;

    fn ctx() -> IntakeContext<'static> {
        IntakeContext {
            now: NOW,
            ip: Some("203.0.113.7"),
            user_agent: Some("Mozilla/5.0"),
            geo_country: Some("us"),
            trusted: false,
        }
    }

    fn parse(v: Value) -> Result<Parsed, FieldError> {
        parse_event(&v, "", &ctx(), &mut || "generated-id".to_string())
    }

    #[test]
    fn platforms_limit_the_destinations_and_unknown_names_are_refused() {
        let p = parse(json!({"event_name": "purchase", "platforms": ["meta", "Google", "meta"]}))
            .unwrap();
        assert_eq!(
            p.event.platforms,
            Some(vec![Platform::Meta, Platform::Google])
        );
        let wire = serde_json::to_value(&p.event).unwrap();
        assert_eq!(wire["platforms"], json!(["meta", "google"]));
        assert_eq!(
            parse(json!({"event_name": "lead"}))
                .unwrap()
                .event
                .platforms,
            None
        );
        let plain =
            serde_json::to_value(&parse(json!({"event_name": "lead"})).unwrap().event).unwrap();
        assert!(
            plain.get("platforms").is_none(),
            "no field on the wire when absent"
        );
        let err = |v: Value| parse(v).unwrap_err().field;
        assert_eq!(
            err(json!({"event_name": "lead", "platforms": ["meta", "snapchat"]})),
            "platforms[1]"
        );
        assert_eq!(
            err(json!({"event_name": "lead", "platforms": [3]})),
            "platforms[0]"
        );
        assert_eq!(
            err(json!({"event_name": "lead", "platforms": "meta"})),
            "platforms"
        );
        assert_eq!(
            err(json!({"event_name": "lead", "platforms": []})),
            "platforms"
        );
        let batch = parse_event(
            &json!({"event_name": "lead", "platforms": ["x"]}),
            "events[2].",
            &ctx(),
            &mut || "id".into(),
        );
        assert_eq!(batch.unwrap_err().field, "events[2].platforms[0]");
    }

    #[test]
    fn hashes_user_data_and_never_keeps_raw_values() {
        let p = parse(json!({
            "event_id": "e1", "event_name": "purchase", "event_time": NOW - 10,
            "user_data": {"email": "  John.Doe@Gmail.com ", "phone": "(415) 555-2671",
                          "first_name": "José", "country": "United States", "external_id": "cust-1"},
            "custom_data": {"value": "99.5", "currency": "eur"}
        }))
        .unwrap();
        let u = &p.event.user;
        let hex = |h: &Option<Sha256Hex>| h.as_ref().map(|h| h.as_str().to_string());
        assert_eq!(hex(&u.em), Some(sha256_hex("john.doe@gmail.com")));
        assert_eq!(hex(&u.em_google), Some(sha256_hex("johndoe@gmail.com")));
        assert_eq!(hex(&u.ph), Some(sha256_hex("14155552671")));
        assert_eq!(hex(&u.ph_e164), Some(sha256_hex("+14155552671")));
        assert_eq!(hex(&u.first_name), Some(sha256_hex("josé")));
        assert_eq!(hex(&u.country), Some(sha256_hex("us")));
        let stored = serde_json::to_string(&p.event).unwrap();
        for raw in ["john", "Doe", "555", "José", "cust-1"] {
            assert!(
                !stored.contains(raw),
                "raw value {raw} leaked into {stored}"
            );
        }
        assert_eq!(p.event.custom_data["value"], json!(99.5));
        assert_eq!(p.event.custom_data["currency"], json!("EUR"));
        assert_eq!(p.event.client.ip.as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn already_hashed_values_pass_through_unchanged() {
        let h = sha256_hex("someone@example.com");
        let p =
            parse(json!({"event_name": "lead", "user_data": {"em": [h.to_uppercase()]}})).unwrap();
        assert_eq!(
            p.event.user.em.as_ref().map(Sha256Hex::as_str),
            Some(h.as_str())
        );
    }

    #[test]
    fn bad_pii_is_dropped_with_a_warning_naming_the_field() {
        let p = parse(json!({"event_name": "lead", "user_data": {"email": "not-an-email", "first_name": "Ann"}}))
            .unwrap();
        assert!(p.event.user.em.is_none());
        assert!(p.event.user.first_name.is_some());
        assert_eq!(p.warnings.len(), 1);
        assert_eq!(p.warnings[0].field, "user_data.email");
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (json!({}), "event_name"),
            (
                json!({"event_name": "purchase", "event_time": NOW + 3600}),
                "event_time",
            ),
            (
                json!({"event_name": "purchase", "event_time": "yesterday"}),
                "event_time",
            ),
            (
                json!({"event_name": "purchase", "user_data": {"emial": "a@b.co"}}),
                "user_data.emial",
            ),
            (
                json!({"event_name": "purchase", "custom_data": {"value": "lots"}}),
                "custom_data.value",
            ),
            (
                json!({"event_name": "purchase", "custom_data": {"currency": "euro"}}),
                "custom_data.currency",
            ),
            (
                json!({"event_name": "purchase", "custom_data": {"contents": [{"quantity": 1}]}}),
                "custom_data.contents[0].id",
            ),
            (
                json!({"event_name": "purchase", "url": "javascript:alert(1)"}),
                "url",
            ),
            (
                json!({"event_name": "purchase", "event_id": "has space"}),
                "event_id",
            ),
            (
                json!({"event_name": "purchase", "fbc": "abc"}),
                "click_ids.fbc",
            ),
            (json!({"event_name": "9lives"}), "event_name"),
            (
                json!({"event_name": "purchase", "consent": {"marketing": true}}),
                "consent",
            ),
        ];
        for (body, field) in cases {
            let err = parse(body.clone()).expect_err(&body.to_string());
            assert_eq!(err.field, field, "for {body}: {}", err.message);
            assert!(!err.message.is_empty());
        }
        // email given as a number is a type error, not a silently dropped value
        let err = parse(json!({"event_name": "lead", "user_data": {"email": true}})).unwrap_err();
        assert_eq!(err.field, "user_data.email");
    }

    #[test]
    fn generates_missing_ids_and_defaults_time() {
        let p = parse(json!({"event_name": "page_view"})).unwrap();
        assert!(p.generated_id);
        assert_eq!(p.event.event_id, "generated-id");
        assert_eq!(p.event.event_time, NOW);
        let ms = parse(json!({"event_name": "page_view", "event_time": (NOW - 5) * 1000})).unwrap();
        assert_eq!(ms.event.event_time, NOW - 5);
    }

    #[test]
    fn custom_events_keep_their_name() {
        let p = parse(json!({"event_name": "quiz_completed"})).unwrap();
        assert_eq!(p.event.event_name, EventName::Custom);
        assert_eq!(p.event.display_name(), "quiz_completed");
    }

    #[test]
    fn click_ids_top_level_or_nested_and_ga_cookie() {
        let p = parse(
            json!({"event_name": "purchase", "fbc": "fb.1.1700000000000.AbCd",
            "click_ids": {"fbp": "fb.1.1700000000000.123456", "ga_client_id": "GA1.1.111.222"}}),
        )
        .unwrap();
        assert_eq!(
            p.event.click_ids.fbc.as_deref(),
            Some("fb.1.1700000000000.AbCd")
        );
        assert_eq!(
            p.event.click_ids.fbp.as_deref(),
            Some("fb.1.1700000000000.123456")
        );
        assert_eq!(p.event.click_ids.ga_client_id.as_deref(), Some("111.222"));
    }

    #[test]
    fn batch_reports_per_index_and_limits_size() {
        let body =
            json!({"events": [{"event_name": "lead"}, {"event_name": "lead", "event_time": "x"}]});
        let out = parse_batch(&body, &ctx(), &mut || "id".into()).unwrap();
        assert_eq!(out.accepted.len(), 1);
        assert_eq!(out.rejected[0].index, 1);
        assert_eq!(out.rejected[0].field, "events[1].event_time");
        let many: Vec<Value> = (0..101).map(|_| json!({"event_name": "lead"})).collect();
        let err = parse_batch(&json!({ "events": many }), &ctx(), &mut || "id".into())
            .err()
            .unwrap();
        assert_eq!(err.field, "events");
    }

    #[test]
    fn client_context_is_the_browsers_request_or_what_a_server_passes() {
        let browser = parse(json!({"event_name": "lead"})).unwrap().event.client;
        assert_eq!(browser.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(browser.user_agent.as_deref(), Some("Mozilla/5.0"));
        for field in ["client_ip_address", "client_user_agent"] {
            let err = parse(json!({"event_name": "lead", field: "198.51.100.1"})).unwrap_err();
            assert_eq!(err.field, field);
        }
        assert!(parse(json!({"event_name": "lead", "client_ip_address": null})).is_ok());

        let mut server = ctx();
        server.trusted = true;
        let parse_s = |v: Value| parse_event(&v, "events[2].", &server, &mut || "x".into());
        let none = parse_s(json!({"event_name": "lead"})).unwrap().event.client;
        assert_eq!(
            none,
            ClientContext::default(),
            "never the calling server's own"
        );
        let given = parse_s(
            json!({"event_name": "lead", "client_ip_address": " 2001:DB8::1 ",
            "client_user_agent": "Mozilla/5.0 (iPhone)"}),
        )
        .unwrap()
        .event
        .client;
        assert_eq!(given.ip.as_deref(), Some("2001:DB8::1"));
        assert_eq!(given.user_agent.as_deref(), Some("Mozilla/5.0 (iPhone)"));
        let bad =
            parse_s(json!({"event_name": "lead", "client_ip_address": "10.0.0"})).unwrap_err();
        assert_eq!(bad.field, "events[2].client_ip_address");
    }

    #[test]
    fn personal_data_outside_user_data_is_removed_with_a_warning() {
        let p = parse(json!({
            "event_name": "lead",
            "url": "https://shop.example/thanks?email=ana%40example.com&utm_source=mail&gclid=abc",
            "referrer": "https://shop.example/reset?token=s3cr3t",
            "custom_data": {"value": 5, "customer_email": "x", "note": "call +1 415 555 2671",
                            "plan": "pro", "order_id": "2024-000123-45", "session_id": 1700000000},
            "utm": {"source": "mail", "content": "ana@example.com"},
        }))
        .unwrap();
        let e = &p.event;
        assert_eq!(
            e.url.as_deref(),
            Some("https://shop.example/thanks?utm_source=mail&gclid=abc")
        );
        assert_eq!(e.referrer.as_deref(), Some("https://shop.example/reset"));
        assert_eq!(
            e.custom_data,
            *json!({"value": 5.0, "plan": "pro", "order_id": "2024-000123-45", "session_id": 1700000000})
                .as_object()
                .unwrap()
        );
        assert_eq!(e.utm.len(), 1);
        let fields: Vec<&str> = p.warnings.iter().map(|w| w.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "url",
                "referrer",
                "custom_data.customer_email",
                "custom_data.note",
                "utm.content"
            ]
        );
        let stored = serde_json::to_string(e).unwrap();
        for raw in ["ana", "s3cr3t", "555"] {
            assert!(!stored.contains(raw), "{raw} in {stored}");
            assert!(p.warnings.iter().all(|w| !w.message.contains(raw)));
        }
    }

    #[test]
    fn what_an_event_stores_is_bounded() {
        let big: Map<String, Value> = (0..40)
            .map(|i| (format!("k{i}"), Value::from("x".repeat(300))))
            .collect();
        let err = parse(json!({"event_name": "lead", "custom_data": big})).unwrap_err();
        assert_eq!(err.field, "custom_data");
        let ids: Vec<String> = (0..2000).map(|i| format!("sku-{i}")).collect();
        let err =
            parse(json!({"event_name": "lead", "custom_data": {"content_ids": ids}})).unwrap_err();
        assert_eq!(err.field, "custom_data");
        let utm: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            parse(json!({"event_name": "lead", "utm": utm}))
                .unwrap_err()
                .field,
            "utm"
        );
        let ok: Map<String, Value> = (0..50)
            .map(|i| (format!("k{i}"), Value::from("x".repeat(100))))
            .collect();
        assert!(parse(json!({"event_name": "lead", "custom_data": ok})).is_ok());
    }

    #[test]
    fn trusted_callers_may_assert_consent() {
        let mut c = ctx();
        c.trusted = true;
        let p = parse_event(
            &json!({"event_name": "lead", "consent": {"marketing": true, "analytics": false}}),
            "",
            &c,
            &mut || "x".into(),
        )
        .unwrap();
        assert_eq!(
            p.event.consent,
            Some(AssertedConsent {
                analytics: false,
                marketing: true
            })
        );
    }
}
