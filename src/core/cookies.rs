//! First-party cookies the gateway sets server-side (Set-Cookie), so Safari ITP's 7-day cap on
//! script-written cookies does not apply: the visitor id, Meta's `_fbp`/`_fbc` and the consent
//! choice. Pure: the edge passes in hosts, the tenant's domains and the request scheme.

use std::collections::BTreeMap;

use super::consent::ConsentState;

/// Visitor id, HttpOnly: the tag learns it from `GET /api/v1/tracking/id`, never from the cookie.
pub const VISITOR_COOKIE: &str = "pg_vid";
/// The gateway's signature of the visitor id, HttpOnly ([`visitor_signature`]): what proves,
/// to the consent read and erase with the public site key, that this browser is that visitor.
/// A `pg_vid` alone proves nothing (any client can send a `Cookie` header it made up).
pub const VISITOR_SIG_COOKIE: &str = "pg_vsig";
/// The consent choice, readable by the tag (`<analytics><marketing><functional>.<version>`).
pub const CONSENT_COOKIE: &str = "pg_consent";
/// Meta's own names, so a Meta Pixel on the page reads the same values.
pub const FBP_COOKIE: &str = "_fbp";
pub const FBC_COOKIE: &str = "_fbc";

/// Chrome caps cookie lifetimes at 400 days; asking for more only gets truncated.
pub const LONG_MAX_AGE: u64 = 400 * 24 * 3600;
/// Meta's own lifetime for `_fbp`/`_fbc` (refreshed on every visit by the tag's id call).
pub const META_MAX_AGE: u64 = 90 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieScope {
    /// `Domain=` attribute, or host-only when `None`.
    pub domain: Option<String>,
    pub secure: bool,
}

/// The `Domain` for our cookies: the tenant domain that both the gateway host (the request) and
/// the page host (the Origin) belong to, so `track.shop.example` can set a cookie that
/// `www.shop.example` reads. Only tenant-registered domains are used (never a guessed parent, which
/// could be a public suffix such as `co.uk`); otherwise the cookie is host-only.
pub fn cookie_domain(
    request_host: &str,
    origin_host: Option<&str>,
    tenant_domains: &[String],
) -> Option<String> {
    let req = request_host.to_ascii_lowercase();
    let req = strip_port(&req);
    if req.parse::<std::net::IpAddr>().is_ok() || req.starts_with('[') || !req.contains('.') {
        return None;
    }
    let origin = origin_host.map(|o| strip_port(&o.to_ascii_lowercase()).to_string());
    let within = |host: &str, d: &str| host == d || host.ends_with(&format!(".{d}"));
    tenant_domains
        .iter()
        .map(|d| d.trim().trim_start_matches("*.").to_ascii_lowercase())
        .filter(|d| d.contains('.'))
        .filter(|d| within(req, d) && origin.as_deref().map(|o| within(o, d)).unwrap_or(true))
        // The broadest matching domain covers every subdomain of the site.
        .min_by_key(|d| d.len())
}

fn strip_port(h: &str) -> &str {
    if h.starts_with('[') {
        return h;
    }
    h.rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map(|(h, _)| h)
        .unwrap_or(h)
}

/// One `Set-Cookie` header value. Always `Path=/` and `SameSite=Lax`.
pub fn set_cookie(
    name: &str,
    value: &str,
    max_age: u64,
    http_only: bool,
    scope: &CookieScope,
) -> String {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Lax");
    if let Some(d) = &scope.domain {
        c.push_str("; Domain=");
        c.push_str(d);
    }
    if scope.secure {
        c.push_str("; Secure");
    }
    if http_only {
        c.push_str("; HttpOnly");
    }
    c
}

/// Expires a cookie (same scope it was set with).
pub fn clear_cookie(name: &str, scope: &CookieScope) -> String {
    set_cookie(name, "", 0, false, scope)
}

/// `Cookie:` header → name/value map (first occurrence wins, as browsers send the most specific
/// cookie first).
pub fn parse_cookie_header(header: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for part in header.split(';') {
        if let Some((k, v)) = part.trim().split_once('=') {
            out.entry(k.trim().to_string())
                .or_insert_with(|| v.trim().to_string());
        }
    }
    out
}

/// Visitor ids we accept from a cookie or the tag: the event model's id alphabet, ≤ 64.
pub fn valid_visitor_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The `pg_vsig` value for `visitor_id` of `tenant_id`: 128 bits of an HMAC-SHA256 under the
/// gateway's key, as hex. The gateway signs only an id it can vouch for: one the browser already
/// proved, or one without any consent record yet (a new visitor: nothing of theirs to read or
/// erase). So a client that names someone else's visitor id gets no signature for it.
pub fn visitor_signature(key: &[u8], tenant_id: &str, visitor_id: &str) -> String {
    let mac = super::hash::hmac_sha256(key, format!("pg_vid|{tenant_id}|{visitor_id}").as_bytes());
    mac[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Does the request's `pg_vsig` (if any) sign this visitor of this tenant?
pub fn visitor_proven(key: &[u8], tenant_id: &str, visitor_id: &str, sig: Option<&str>) -> bool {
    sig.is_some_and(|s| {
        super::secrets::constant_time_eq(&visitor_signature(key, tenant_id, visitor_id), s)
    })
}

/// `fb.<subdomain index>.<unix ms>.<fbclid or random>`; anything else is never echoed into a
/// Set-Cookie (no header injection, no junk for Meta).
pub fn valid_fb_cookie(v: &str) -> bool {
    let parts: Vec<&str> = v.splitn(4, '.').collect();
    parts.len() == 4
        && parts[0] == "fb"
        && parts[1].len() == 1
        && parts[1].chars().all(|c| c.is_ascii_digit())
        && (10..=13).contains(&parts[2].len())
        && parts[2].chars().all(|c| c.is_ascii_digit())
        && !parts[3].is_empty()
        && v.len() <= 512
        && parts[3]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `_fbp` value for a browser that has none: `fb.1.<ms>.<10 random digits>` (Meta's format).
pub fn new_fbp(now_ms: i64, random: u64) -> String {
    format!("fb.1.{now_ms}.{}", 1_000_000_000 + random % 9_000_000_000)
}

/// `101.2024-05` = analytics, marketing, functional, then the policy version (cookie-safe chars).
pub fn consent_cookie_value(s: &ConsentState) -> String {
    let b = |x: bool| if x { '1' } else { '0' };
    let version: String = s
        .version
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(32)
        .collect();
    format!(
        "{}{}{}.{}",
        b(s.analytics),
        b(s.marketing),
        b(s.functional),
        version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visitor_signatures_bind_tenant_and_visitor() {
        let key = [7u8; 32];
        let sig = visitor_signature(&key, "t1", "v-1");
        assert_eq!(sig.len(), 32);
        assert!(sig.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(visitor_proven(&key, "t1", "v-1", Some(&sig)));
        assert!(
            !visitor_proven(&key, "t1", "v-2", Some(&sig)),
            "another visitor"
        );
        assert!(
            !visitor_proven(&key, "t2", "v-1", Some(&sig)),
            "another tenant"
        );
        assert!(
            !visitor_proven(&[8u8; 32], "t1", "v-1", Some(&sig)),
            "another key"
        );
        assert!(!visitor_proven(&key, "t1", "v-1", None));
        assert!(!visitor_proven(&key, "t1", "v-1", Some("")));
    }

    fn doms(d: &[&str]) -> Vec<String> {
        d.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn domain_is_the_shared_tenant_domain() {
        let d = doms(&["shop.example", "*.other.example"]);
        assert_eq!(
            cookie_domain("track.shop.example", Some("www.shop.example"), &d),
            Some("shop.example".into())
        );
        assert_eq!(
            cookie_domain("track.shop.example:8787", Some("shop.example:443"), &d),
            Some("shop.example".into())
        );
        assert_eq!(
            cookie_domain("t.other.example", Some("other.example"), &d),
            Some("other.example".into())
        );
        // Gateway on an unrelated host (workers.dev), an IP or localhost: host-only.
        assert_eq!(
            cookie_domain("pg.workers.dev", Some("shop.example"), &d),
            None
        );
        assert_eq!(
            cookie_domain("127.0.0.1:8787", Some("shop.example"), &d),
            None
        );
        assert_eq!(cookie_domain("localhost", None, &d), None);
        // Page on another tenant domain than the gateway: no common domain.
        assert_eq!(
            cookie_domain("track.shop.example", Some("other.example"), &d),
            None
        );
        // Never a public suffix guessed from the hosts.
        assert_eq!(
            cookie_domain(
                "t.a.co.uk",
                Some("www.b.co.uk"),
                &doms(&["a.co.uk", "b.co.uk"])
            ),
            None
        );
    }

    #[test]
    fn set_cookie_attributes() {
        let scope = CookieScope {
            domain: Some("shop.example".into()),
            secure: true,
        };
        assert_eq!(
            set_cookie("pg_vid", "abc", LONG_MAX_AGE, true, &scope),
            "pg_vid=abc; Path=/; Max-Age=34560000; SameSite=Lax; Domain=shop.example; Secure; HttpOnly"
        );
        let plain = CookieScope {
            domain: None,
            secure: false,
        };
        assert_eq!(
            set_cookie("_fbp", "fb.1.1.2", 10, false, &plain),
            "_fbp=fb.1.1.2; Path=/; Max-Age=10; SameSite=Lax"
        );
        assert!(clear_cookie("_fbc", &plain).contains("Max-Age=0"));
    }

    #[test]
    fn cookie_header_parsing() {
        let m = parse_cookie_header("a=1; pg_vid=v-1;_fbp=fb.1.2.3 ; a=2; junk");
        assert_eq!(m.get("a").map(String::as_str), Some("1"));
        assert_eq!(m.get("pg_vid").map(String::as_str), Some("v-1"));
        assert_eq!(m.get("_fbp").map(String::as_str), Some("fb.1.2.3"));
        assert!(!m.contains_key("junk"));
    }

    #[test]
    fn fb_cookie_validation() {
        assert!(valid_fb_cookie("fb.1.1700000000000.IwAR0abc-_x"));
        assert!(valid_fb_cookie("fb.1.1700000000000.1234567890"));
        for bad in [
            "fb.1.17.x",
            "fb.1.1700000000000.",
            "fb.1.1700000000000.a;b",
            "fb.1.1700000000000.a b",
            "xx.1.1700000000000.abc",
            "fb.12.1700000000000.abc",
            "fb.1.1700000000000.a\r\nSet-Cookie: x=1",
        ] {
            assert!(!valid_fb_cookie(bad), "{bad}");
        }
        let p = new_fbp(1_700_000_000_000, u64::MAX);
        assert!(valid_fb_cookie(&p), "{p}");
        assert_eq!(p.rsplit('.').next().unwrap().len(), 10);
    }

    #[test]
    fn visitor_ids_and_consent_value() {
        assert!(valid_visitor_id("3f0c-aa_1.b"));
        assert!(!valid_visitor_id(""));
        assert!(!valid_visitor_id("a;b"));
        assert!(!valid_visitor_id(&"x".repeat(65)));
        let s = ConsentState {
            analytics: true,
            marketing: false,
            functional: true,
            version: "2024 05;x".into(),
            updated_at: 0,
            tc_string: None,
        };
        assert_eq!(consent_cookie_value(&s), "101.202405x");
    }
}
