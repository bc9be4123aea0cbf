//! The scrub of personal data outside `user_data` (`core::scrub`): whatever a page URL,
//! `custom_data` or `utm` holds, no email address, phone number or token survives the intake in
//! any spelling, the marketing parameters pass untouched, and scrubbing never grows or re-breaks
//! a URL.

use pixelgate::core::event::{parse_event, IntakeContext};
use pixelgate::core::scrub::{has_email, is_marketing, scrub_url, sensitive_value};
use pixelgate::core::weburl::parse_http_url;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::json;

use crate::strategies::{text, NOW};

/// An email address, spelled as pages put it in a URL: plain, percent-encoded once or twice,
/// with a `+` tag and upper case.
fn email() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9._]{0,12}",
        prop::option::of("[a-z0-9]{1,6}"),
        "[a-z][a-z0-9-]{0,10}",
        select(&["com", "co.uk", "example", "de", "io"][..]),
        select(&["@", "%40", "%2540", "%40"][..]),
        any::<bool>(),
    )
        .prop_map(|(local, tag, domain, tld, at, upper)| {
            let tag = tag.map(|t| format!("%2B{t}")).unwrap_or_default();
            let e = format!("{local}{tag}{at}{domain}.{tld}");
            if upper {
                e.to_uppercase()
            } else {
                e
            }
        })
}

/// A phone number as forms write it.
fn phone() -> impl Strategy<Value = String> {
    (
        "[1-9][0-9]{2}",
        "[0-9]{3}",
        "[0-9]{4}",
        select(
            &[
                "%2B1%20{a}%20{b}%20{c}",
                "+1{a}{b}{c}",
                "({a})%20{b}-{c}",
                "{a}-{b}-{c}",
                "%2B44{a}{b}{c}",
            ][..],
        ),
    )
        .prop_map(|(a, b, c, shape)| {
            shape
                .replace("{a}", &a)
                .replace("{b}", &b)
                .replace("{c}", &c)
        })
}

/// A query parameter that is not personal data (nor shaped like it).
fn harmless_pair() -> impl Strategy<Value = String> {
    (
        select(
            &[
                "q", "page", "sort", "ref", "variant", "lang", "color", "size",
            ][..],
        ),
        "[a-zA-Z0-9_.~-]{0,12}",
    )
        .prop_map(|(k, v)| format!("{k}={v}"))
}

fn marketing_pair() -> impl Strategy<Value = String> {
    (
        select(
            &[
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
                "gclid",
                "fbclid",
                "ttclid",
                "li_fat_id",
                "gbraid",
                "wbraid",
                "msclkid",
            ][..],
        ),
        "[a-zA-Z0-9_.-]{1,40}",
    )
        .prop_map(|(k, v)| format!("{k}={v}"))
}

/// A parameter carrying personal data or a secret, by its name or by its value.
fn sensitive_pair() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            select(&["email", "e", "contact", "to", "user", "next"][..]),
            email()
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
        (
            select(&["phone", "tel", "mobile", "contact", "c"][..]),
            phone()
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
        (
            select(
                &[
                    "token",
                    "reset",
                    "password",
                    "session",
                    "auth",
                    "key",
                    "api_key",
                    "access_token",
                    "first_name",
                    "lastName",
                    "FULL-NAME"
                ][..]
            ),
            "[a-zA-Z0-9]{1,20}",
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
    ]
}

fn url() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        select(
            &[
                "https://shop.example",
                "http://a.example:8080",
                "https://www.example.co.uk",
            ][..],
        ),
        select(&["/", "/product/42", "/thanks", "/a/b/c.html", ""][..]),
        prop::collection::vec(
            prop_oneof![harmless_pair(), marketing_pair(), sensitive_pair()],
            0..8,
        ),
        prop::option::of(prop_oneof![
            Just("top".to_string()),
            sensitive_pair(),
            harmless_pair()
        ]),
    )
        .prop_map(|(origin, path, pairs, fragment)| {
            let mut u = format!("{origin}{path}");
            if !pairs.is_empty() {
                u.push('?');
                u.push_str(&pairs.join("&"));
            }
            if let Some(f) = fragment {
                u.push('#');
                u.push_str(&f);
            }
            let marketing = pairs
                .into_iter()
                .filter(|p| is_marketing(p.split('=').next().unwrap()))
                .collect();
            (u, marketing)
        })
}

fn emails_anywhere(text: &str) -> bool {
    sensitive_value(text).is_some()
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn no_personal_data_survives_a_url((u, marketing) in url()) {
        let (out, _) = scrub_url(&u);
        for part in out.split(['?', '&', '#']) {
            let value = part.split_once('=').map_or(part, |(_, v)| v);
            prop_assert!(!emails_anywhere(value), "{part:?} survives in {out}");
        }
        for name in ["email", "phone", "tel", "mobile", "token", "reset", "password", "session", "auth=", "key=", "api_key", "access_token", "first_name", "lastName", "FULL-NAME"] {
            prop_assert!(!out.split(['?', '&', '#']).any(|p| p.starts_with(name)), "{name} survives in {out}");
        }
        // Marketing parameters stay, byte for byte.
        for m in &marketing {
            prop_assert!(out.contains(m.as_str()), "{m} lost from {u} -> {out}");
        }
        prop_assert!(out.len() <= u.len());
        prop_assert!(parse_http_url(&out).is_some(), "{out} no longer a URL");
        let (again, removed) = scrub_url(&out);
        prop_assert_eq!(&again, &out);
        prop_assert!(removed.is_empty());
    }

    #[test]
    fn any_text_is_scrubbed_without_panicking(s in text(200)) {
        let (out, _) = scrub_url(&s);
        prop_assert!(out.len() <= s.len());
        let _ = sensitive_value(&s);
    }

    #[test]
    fn the_intake_stores_no_email_or_phone_outside_user_data(
        (u, _) in url(),
        (r, _) in url(),
        mail in email(),
        tel in phone(),
        key in select(&["note", "customer_email", "contact", "tags", "message"][..]),
    ) {
        let ctx = IntakeContext { now: NOW, ip: None, user_agent: None, geo_country: None, trusted: false };
        let body = json!({
            "event_name": "lead", "url": u, "referrer": r,
            "custom_data": {key: format!("from {mail} or {tel}"), "list": [mail.clone()], "plan": "pro"},
            "utm": {"source": "newsletter", "content": mail, "term": tel},
        });
        if let Ok(p) = parse_event(&body, "", &ctx, &mut || "id".into()) {
            let stored = serde_json::to_string(&p.event).unwrap();
            prop_assert!(!has_email(&stored.replace("%40", "@").replace("%2540", "@")), "{stored}");
            prop_assert_eq!(p.event.custom_data.get("plan"), Some(&json!("pro")));
            prop_assert_eq!(p.event.utm.get("source").map(String::as_str), Some("newsletter"));
            prop_assert!(!p.event.custom_data.contains_key(key));
            prop_assert!(!p.event.custom_data.contains_key("list"));
            prop_assert!(!p.event.utm.contains_key("content") && !p.event.utm.contains_key("term"));
        }
    }
}
