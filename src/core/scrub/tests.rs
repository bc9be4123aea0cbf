use super::*;
use serde_json::json;

/// Realistic page URLs and what must be left of them.
const URLS: &[(&str, &str)] = &[
    // Nothing to remove: kept byte for byte, marketing parameters included.
    (
        "https://shop.example/product/42?utm_source=google&utm_medium=cpc&gclid=Cj0KCQ-abc_123",
        "https://shop.example/product/42?utm_source=google&utm_medium=cpc&gclid=Cj0KCQ-abc_123",
    ),
    (
        "https://shop.example/?fbclid=IwAR2x&ttclid=E.C.P.abc&li_fat_id=1234-abcd&msclkid=9f&gbraid=0AA&wbraid=1BB",
        "https://shop.example/?fbclid=IwAR2x&ttclid=E.C.P.abc&li_fat_id=1234-abcd&msclkid=9f&gbraid=0AA&wbraid=1BB",
    ),
    (
        "https://shop.example/search?q=red+shoes&page=2&sort=price%20asc",
        "https://shop.example/search?q=red+shoes&page=2&sort=price%20asc",
    ),
    (
        "https://shop.example/order/2024-000123-45?ts=1700000000000&coupon=code10",
        "https://shop.example/order/2024-000123-45?ts=1700000000000&coupon=code10",
    ),
    ("https://shop.example/img/logo@2x.png", "https://shop.example/img/logo@2x.png"),
    ("https://social.example/@ana", "https://social.example/@ana"),
    (
        "https://shop.example/cart?code=SUMMER10",
        "https://shop.example/cart?code=SUMMER10",
    ),
    // Emails, however they are spelled.
    (
        "https://shop.example/thanks?email=ana@example.com&utm_source=newsletter",
        "https://shop.example/thanks?utm_source=newsletter",
    ),
    (
        "https://shop.example/thanks?e=ana%40example.com&order=7",
        "https://shop.example/thanks?order=7",
    ),
    (
        "https://shop.example/thanks?e=ana%2540example.com",
        "https://shop.example/thanks",
    ),
    (
        "https://shop.example/thanks?user_email=x&ref=ana.lopez%2Bshop%40mail.example.co.uk",
        "https://shop.example/thanks",
    ),
    (
        "https://shop.example/users/ana@example.com/orders?x=1",
        "https://shop.example/users/redacted/orders?x=1",
    ),
    (
        "https://shop.example/u/ana%40example.com",
        "https://shop.example/u/redacted",
    ),
    (
        "https://shop.example/go?next=https%3A%2F%2Fshop.example%2Fa%3Femail%3Dana%2540example.com&lang=es",
        "https://shop.example/go?lang=es",
    ),
    // Phones and names.
    (
        "https://shop.example/lead?phone=%2B14155552671&name_of_product=x",
        "https://shop.example/lead?name_of_product=x",
    ),
    (
        "https://shop.example/lead?contact=%2B1%20415%20555%202671",
        "https://shop.example/lead",
    ),
    (
        "https://shop.example/lead?tel=0612345678&firstName=Ana&last-name=Lopez&FULL_NAME=Ana+Lopez",
        "https://shop.example/lead",
    ),
    (
        "https://shop.example/lead?c=(415)%20555-2671",
        "https://shop.example/lead",
    ),
    // Secrets: reset links, magic links, sessions, API keys, OAuth callbacks, JWTs.
    (
        "https://shop.example/account/reset?token=9f8e7d6c5b4a&utm_campaign=reset",
        "https://shop.example/account/reset?utm_campaign=reset",
    ),
    (
        "https://shop.example/reset-password?reset=abc123",
        "https://shop.example/reset-password",
    ),
    (
        "https://shop.example/login?password=hunter2&session=s3ss10n&sessionid=1&JSESSIONID=2",
        "https://shop.example/login",
    ),
    (
        "https://shop.example/api?key=AIzaSyA&api_key=1&apiKey=2&access_token=3&id_token=4",
        "https://shop.example/api",
    ),
    (
        "https://shop.example/oauth/callback?code=4%2F0AX4XfWh&scope=email",
        "https://shop.example/oauth/callback?scope=email",
    ),
    (
        "https://shop.example/return?code=abc&state=xyz",
        "https://shop.example/return?state=xyz",
    ),
    (
        "https://shop.example/welcome?t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig",
        "https://shop.example/welcome",
    ),
    (
        "https://shop.example/cb#access_token=ya29.a0&token_type=Bearer&expires_in=3599",
        "https://shop.example/cb#expires_in=3599",
    ),
    (
        "https://shop.example/app#/checkout?email=ana@example.com",
        "https://shop.example/app#/checkout",
    ),
    ("https://shop.example/app#ana@example.com", "https://shop.example/app"),
    (
        "https://user:pa55@shop.example/admin?x=1",
        "https://shop.example/admin?x=1",
    ),
];

#[test]
fn realistic_urls() {
    for (input, expected) in URLS {
        let (out, removed) = scrub_url(input);
        assert_eq!(&out, expected, "scrubbing {input}");
        assert_eq!(
            removed.is_empty(),
            input == expected,
            "{input}: {removed:?}"
        );
        if input == expected {
            assert!(matches!(out, Cow::Borrowed(_)), "{input} is not copied");
        }
    }
}

#[test]
fn the_warning_names_parts_never_values() {
    let (_, removed) = scrub_url("https://shop.example/?email=ana@example.com&phone=5");
    let w = warning(&removed);
    assert!(w.contains("email (an email address)"), "{w}");
    assert!(w.contains("phone (a phone number)"), "{w}");
    assert!(!w.contains("ana"), "{w}");
}

#[test]
fn names() {
    for n in [
        "email",
        "E-Mail",
        "user_email",
        "emailAddress",
        "em",
        "phone",
        "phone_number",
        "Mobile",
        "tel",
        "first_name",
        "firstName",
        "LAST-NAME",
        "surname",
        "password",
        "pwd",
        "token",
        "csrf_token",
        "reset",
        "session_id",
        "auth",
        "api_key",
        "apikey",
        "key",
        "X-Amz-Signature",
        "dob",
        "date_of_birth",
        "zip",
        "postal_code",
        "ssn",
        "iban",
    ] {
        assert!(sensitive_name(n).is_some(), "{n} is sensitive");
    }
    for n in [
        "q",
        "keyword",
        "author",
        "page",
        "sort",
        "utm_source",
        "product_name",
        "name",
        "pinned",
        "domain",
        "category",
        "state",
        "code",
        "currency",
        "value",
        "mobile_app",
        "content_ids",
        "transaction_id",
        "telemetry",
        "monkey",
    ] {
        assert_eq!(sensitive_name(n), None, "{n} is not sensitive");
    }
    for n in [
        "utm_term",
        "UTM_Content",
        "gclid",
        "fbclid",
        "_gl",
        "msclkid",
    ] {
        assert!(is_marketing(n), "{n}");
    }
}

#[test]
fn values() {
    let cases: &[(&str, Option<Kind>)] = &[
        ("ana@example.com", Some(Kind::Email)),
        (
            "Contact: Ana.Lopez+news@mail.example.co.uk please",
            Some(Kind::Email),
        ),
        ("ana%40example.com", Some(Kind::Email)),
        ("ana%2540example.com", Some(Kind::Email)),
        ("+14155552671", Some(Kind::Phone)),
        ("+1 415 555 2671", Some(Kind::Phone)),
        ("%2B44%2020%207946%200958", Some(Kind::Phone)),
        ("0044 20 7946 0958", Some(Kind::Phone)),
        ("(415) 555-2671", Some(Kind::Phone)),
        ("415-555-2671", Some(Kind::Phone)),
        ("call 06 12 34 56 78 today", Some(Kind::Phone)),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc",
            Some(Kind::Secret),
        ),
        // Not personal data: ids, times, dates, prices, versions, addresses of machines.
        ("4155552671", None),
        ("00123456789", None),
        ("1700000000000", None),
        ("2024-01-15", None),
        ("2024-01-15 10:30", None),
        ("2024-01-15 2024-02-15", None),
        ("2024-000123-45", None),
        ("123e4567-e89b-12d3-a456-426614174000", None),
        ("49.90", None),
        ("10.0.19045.3693", None),
        ("logo@2x.png", None),
        ("@ana", None),
        ("ana@localhost", None),
        ("fb.1.1700000000000.1234567890", None),
        ("GA1.1.1234567890.1700000000", None),
        ("Cj0KCQiA-abc_123", None),
        ("", None),
    ];
    for (v, kind) in cases {
        assert_eq!(sensitive_value(v), *kind, "{v:?}");
    }
}

#[test]
fn properties() {
    assert_eq!(
        sensitive_property("customer_email", &json!("x"), false),
        Some(Kind::Email)
    );
    assert_eq!(
        sensitive_property("note", &json!("write to ana@example.com"), false),
        Some(Kind::Email)
    );
    assert_eq!(
        sensitive_property("tags", &json!(["a", "+14155552671"]), false),
        Some(Kind::Phone)
    );
    assert_eq!(sensitive_property("plan", &json!("pro"), false), None);
    assert_eq!(sensitive_property("n", &json!(4155552671u64), false), None);
    // Ids hold digits: only emails and tokens count there.
    assert_eq!(
        sensitive_property("order_id", &json!("415-555-2671"), true),
        None
    );
    assert_eq!(
        sensitive_property("order_id", &json!("ana@example.com"), true),
        Some(Kind::Email)
    );
    assert_eq!(sensitive_property("utm_source", &json!("x"), false), None);
}

#[test]
fn origin_and_path_only() {
    assert_eq!(
        origin_and_path("https://shop.example/p/1?gclid=x&a=b#top"),
        "https://shop.example/p/1"
    );
    assert_eq!(
        origin_and_path("https://shop.example#x"),
        "https://shop.example"
    );
    assert_eq!(
        origin_and_path("https://shop.example/"),
        "https://shop.example/"
    );
}

#[test]
fn scrubbing_is_idempotent_on_the_table() {
    for (input, _) in URLS {
        let (once, _) = scrub_url(input);
        let (twice, removed) = scrub_url(&once);
        assert_eq!(once, twice, "{input}");
        assert!(removed.is_empty(), "{input}: {removed:?}");
    }
}
