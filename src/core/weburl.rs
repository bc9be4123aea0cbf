//! The little of URL parsing the beacon path needs: is this an absolute http(s) URL, and what is
//! its host. Every event carries a page URL and a referrer and every browser request an Origin,
//! so this runs several times per beacon; a full WHATWG parse (`url::Url`) allocates and
//! normalizes the whole URL only for us to read the host back, and was a tenth of the intake.
//! The beacon Worker reads request queries here too, so it links neither the WHATWG parser nor
//! the IDNA tables. The jobs Worker's cold paths (OAuth, pagination links) use the `url` crate.

use std::borrow::Cow;

/// The parts of `scheme://[userinfo@]host[:port][/path?query#fragment]` we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpUrl<'a> {
    pub https: bool,
    /// As written (not lowercased); IPv6 literals keep their brackets.
    pub host: &'a str,
    pub port: Option<u16>,
    /// `user[:password]@` before the host: credentials in a URL we would store or call.
    pub userinfo: bool,
}

/// Parses an absolute http or https URL. None for anything else: other schemes, relative URLs,
/// an empty or malformed host, a bad port, or whitespace and control characters anywhere (which
/// browsers never send and which would make the URL mean different things to different parsers).
pub fn parse_http_url(s: &str) -> Option<HttpUrl<'_>> {
    // A fold rather than `any`: without the early exit the check vectorizes.
    let forbidden = s.bytes().fold(false, |bad, b| {
        bad | (b <= b' ') | (b == 0x7f) | (b == b'\\')
    });
    if forbidden {
        return None;
    }
    let (https, rest) = if let Some(r) = strip_prefix_ignore_case(s, "https://") {
        (true, r)
    } else {
        (false, strip_prefix_ignore_case(s, "http://")?)
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let userinfo = authority.contains('@');
    let host_port = match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let (host, port) = if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        let literal = &host_port[1..close];
        if literal.is_empty()
            || !literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        (&host_port[..=close], port_of(&host_port[close + 1..])?)
    } else {
        match host_port.find(':') {
            Some(colon) => (&host_port[..colon], port_of(&host_port[colon..])?),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && (host.starts_with('[')
            || host.chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') || !c.is_ascii()
            }));
    host_ok.then_some(HttpUrl {
        https,
        host,
        port,
        userinfo,
    })
}

/// The query of a URL: what follows the first `?`, up to a `#`; "" when there is none.
pub fn query_of(url: &str) -> &str {
    let before_fragment = url.split('#').next().unwrap_or_default();
    before_fragment
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
}

/// The query's pairs, form-decoded as browsers encode them (`+` is a space, `%XX` bytes).
pub fn query_pairs(url: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    form_urlencoded::parse(query_of(url).as_bytes())
}

/// The first value of parameter `name` in the URL's query.
pub fn query_param<'a>(url: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query_pairs(url).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The lowercased host of an absolute http(s) URL.
pub fn url_host(s: &str) -> Option<String> {
    parse_http_url(s).map(|u| u.host.to_ascii_lowercase())
}

/// Can a host be called from the public internet as what it says: not `localhost` (or a name
/// under it), not a literal loopback, private, shared, link-local, multicast, reserved or
/// unspecified address. `host` is as [`parse_http_url`] gives it. Hosts that end in a number are
/// read as IPv4 the way browsers and fetch read them (`2130706433`, `0x7f.1` and `127.1` are all
/// 127.0.0.1), so only a plain dotted quad is accepted there, and judged; IPv6 literals that
/// carry an IPv4 host (mapped, compatible, NAT64, 6to4) are judged by it. Names that only a
/// private network resolves (one label, `.internal`, `.local`, `.home.arpa`, …) are refused.
/// Non-ASCII names are refused (their IDNA mapping can spell a number); the punycode form is
/// accepted. What a public name resolves to is not checked here (`health::resolved_public`).
pub fn is_public_host(host: &str) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    let host = host.to_ascii_lowercase();
    if !host.is_ascii() {
        return false;
    }
    let name = host.strip_suffix('.').unwrap_or(&host);
    // Names only a private network resolves: a single label (completed by the resolver's search
    // domains), and the special-use and customary internal suffixes (`metadata.google.internal`,
    // mDNS `.local`, `.home.arpa`, …).
    let internal = !host.starts_with('[')
        && (!name.contains('.')
            || INTERNAL_SUFFIXES
                .iter()
                .any(|s| name == &s[1..] || name.ends_with(s)));
    if internal {
        return false;
    }
    let v4 = |a: Ipv4Addr| {
        let [o0, o1, o2, _] = a.octets();
        !(o0 == 0
            || o0 == 10
            || o0 == 127
            || (o0 == 100 && (64..128).contains(&o1))
            || (o0 == 169 && o1 == 254)
            || (o0 == 172 && (16..32).contains(&o1))
            || (o0 == 192 && o1 == 0 && o2 == 0)
            || (o0 == 192 && o1 == 168)
            || (o0 == 198 && (18..20).contains(&o1))
            || o0 >= 224)
    };
    if let Some(literal) = host.strip_prefix('[') {
        let Ok(IpAddr::V6(a)) = literal.trim_end_matches(']').parse::<IpAddr>() else {
            return false;
        };
        let s = a.segments();
        // IPv4-mapped, IPv4-compatible and NAT64 (64:ff9b::/96) addresses reach an IPv4 host.
        if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
        {
            return s[6..] != [0, 1] && v4(Ipv4Addr::from(((s[6] as u32) << 16) | s[7] as u32));
        }
        // 6to4 (2002::/16) carries the IPv4 host it reaches in its next 32 bits.
        if s[0] == 0x2002 {
            return v4(Ipv4Addr::from(((s[1] as u32) << 16) | s[2] as u32));
        }
        return !(a.is_unspecified()
            || a.is_loopback()
            || (s[0] & 0xfe00) == 0xfc00
            || (s[0] & 0xffc0) == 0xfe80
            || (s[0] & 0xffc0) == 0xfec0
            || (s[0] & 0xff00) == 0xff00
            // Teredo (2001::/32), documentation (2001:db8::/32), discard (100::/64).
            || (s[0] == 0x2001 && (s[1] == 0 || s[1] == 0x0db8))
            || s[..4] == [0x100, 0, 0, 0]);
    }
    let last = &name[name.rfind('.').map_or(0, |i| i + 1)..];
    let numeric = !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || (last.starts_with("0x") && last[2..].bytes().all(|b| b.is_ascii_hexdigit())));
    if numeric {
        return host.parse::<Ipv4Addr>().is_ok_and(v4);
    }
    true
}

/// Suffixes of names that resolve only inside a private network (or on the machine itself).
const INTERNAL_SUFFIXES: [&str; 12] = [
    ".localhost",
    ".local",
    ".localdomain",
    ".internal",
    ".intranet",
    ".private",
    ".corp",
    ".home",
    ".lan",
    ".home.arpa",
    ".in-addr.arpa",
    ".ip6.arpa",
];

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `""` → no port; `":443"` → 443; `":"` is allowed (an empty port means the default); anything
/// else fails the whole URL.
fn port_of(s: &str) -> Option<Option<u16>> {
    match s.strip_prefix(':') {
        None if s.is_empty() => Some(None),
        None => None,
        Some("") => Some(None),
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok().map(Some),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_browsers_send() {
        let cases = [
            (
                "https://shop.example/checkout?x=1#top",
                true,
                "shop.example",
                None,
            ),
            ("http://127.0.0.1:8787/demo", false, "127.0.0.1", Some(8787)),
            ("HTTPS://Shop.Example.COM", true, "Shop.Example.COM", None),
            (
                "https://user:pw@shop.example:8443/a",
                true,
                "shop.example",
                Some(8443),
            ),
            (
                "https://[2001:db8::1]:443/x",
                true,
                "[2001:db8::1]",
                Some(443),
            ),
            ("https://xn--mller-kva.de/", true, "xn--mller-kva.de", None),
            ("https://müller.de/", true, "müller.de", None),
            ("https://shop.example?q=a/b", true, "shop.example", None),
            ("https://shop.example:/", true, "shop.example", None),
        ];
        for (raw, https, host, port) in cases {
            assert_eq!(
                parse_http_url(raw),
                Some(HttpUrl {
                    https,
                    host,
                    port,
                    userinfo: raw.contains('@')
                }),
                "{raw}"
            );
        }
        assert_eq!(
            url_host("https://Shop.Example/x").as_deref(),
            Some("shop.example")
        );
    }

    #[test]
    fn refuses_what_is_not_an_absolute_web_url() {
        for raw in [
            "",
            "shop.example/page",
            "/relative/path",
            "ftp://shop.example/file",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "https://:443/",
            "https://shop example.com/",
            "https://shop.example/a b",
            "https://shop.example:99999/",
            "https://shop.example:80a/",
            "https://[zz::1]/",
            "https://[::1/",
            "https://sh<op>.example/",
            "https:\\\\shop.example",
            "https://shop.example/\n",
        ] {
            assert_eq!(parse_http_url(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn public_hosts() {
        for host in [
            "hooks.slack.com",
            "example.com.",
            "8.8.8.8",
            "[2606:4700::1111]",
            "a1.example",
            "xn--mller-kva.de",
        ] {
            assert!(is_public_host(host), "{host}");
        }
        for host in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "2130706433",
            "0x7f.1",
            "127.1",
            "0177.0.0.1",
            "127.0.0.1.",
            "1.2.3.0x4",
            "[::1]",
            "[::]",
            "[fd00::1]",
            "[fc00::1]",
            "[fe80::1]",
            "[ff02::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:10.0.0.1]",
            "[::127.0.0.1]",
            "[64:ff9b::10.0.0.1]",
            "１２７.０.０.１",
            "müller.de",
            // Internal names, however they are written.
            "intranet",
            "router.",
            "metadata.google.internal",
            "METADATA.GOOGLE.INTERNAL.",
            "printer.local",
            "nas.home.arpa",
            "db.corp",
            "x.localdomain",
            "internal",
            // Every spelling of an address that reaches a private host.
            "0x7f000001",
            "017700000001",
            "0x7f.0x0.0x0.0x1",
            "10.1",
            "[::ffff:7f00:1]",
            "[::ffff:a00:1]",
            "[0:0:0:0:0:ffff:127.0.0.1]",
            "[2002:7f00:1::]",
            "[2002:c0a8:101::1]",
            "[fec0::1]",
            "[2001::1]",
            "[2001:db8::1]",
            "[100::1]",
        ] {
            assert!(!is_public_host(host), "{host}");
        }
        assert!(is_public_host("172.32.0.1"));
        assert!(is_public_host("[::ffff:8.8.8.8]"));
        assert!(is_public_host("[2002:808:808::1]"));
        assert!(is_public_host("internal.example.com"));
        assert!(is_public_host("local.example"));
    }

    #[test]
    fn query_params_decode_like_browsers_encode() {
        let url = "https://gw.example/pixel.gif?site_key=pk_1&event_name=add+to%20cart&url=https%3A%2F%2Fshop.example%2Fp%3Fa%3D1&empty=&k=first&k=second#frag?x=1";
        assert_eq!(query_param(url, "site_key").as_deref(), Some("pk_1"));
        assert_eq!(
            query_param(url, "event_name").as_deref(),
            Some("add to cart")
        );
        assert_eq!(
            query_param(url, "url").as_deref(),
            Some("https://shop.example/p?a=1")
        );
        assert_eq!(query_param(url, "empty").as_deref(), Some(""));
        assert_eq!(
            query_param(url, "k").as_deref(),
            Some("first"),
            "the first wins"
        );
        assert_eq!(query_param(url, "x"), None, "the fragment is not the query");
        assert_eq!(query_param("https://gw.example/a", "site_key"), None);
        assert_eq!(query_param("https://gw.example/a?", "site_key"), None);
        assert_eq!(
            query_param("https://gw.example/a?name=Mar%C3%ADa%ZZ", "name").as_deref(),
            Some("María%ZZ"),
            "UTF-8 decoded; a broken escape stays as written"
        );
        assert_eq!(query_pairs("https://gw.example/?a=1&b=2").count(), 2);
        assert_eq!(query_of("https://gw.example/p#f?not"), "");
    }
}
