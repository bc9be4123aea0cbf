//! Input generators shared by the properties: text that reaches the normalizers' special cases,
//! bounded JSON values, and objects shaped like the bodies the gateway reads.

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value};

/// The server clock of the properties (Oct 2025).
pub const NOW: i64 = 1_760_000_000;

/// Characters that take the normalizers' less travelled paths: case mappings that change length
/// or leave ASCII (İ, Kelvin sign, Σ), combining marks, invisible and control characters,
/// non-ASCII digits, separators and the punctuation of emails and phone numbers.
const TRICKY: &[char] = &[
    'İ',
    'ı',
    '\u{212A}',
    '\u{2126}',
    'Σ',
    'ς',
    'σ',
    'ß',
    'ẞ',
    'ǅ',
    'ﬀ',
    'ŉ',
    'Ⱥ',
    'é',
    'É',
    'ø',
    'Ł',
    'ü',
    'Ж',
    'ж',
    '日',
    '女',
    '男',
    '😀',
    'µ',
    '\u{301}',
    '\u{308}',
    '\u{303}',
    '\u{307}',
    '\u{345}',
    '\u{200B}',
    '\u{200D}',
    '\u{FEFF}',
    '\u{00A0}',
    '\u{00AD}',
    '\u{2028}',
    '\u{3000}',
    '\t',
    '\n',
    '\r',
    '\u{0}',
    '\u{7F}',
    '\u{85}',
    '٣',
    '۵',
    '७',
    '৯',
    '๑',
    '７',
    '\u{1D7CE}',
    '@',
    '+',
    '-',
    '.',
    ',',
    ';',
    ':',
    '(',
    ')',
    '[',
    ']',
    '<',
    '>',
    '"',
    '\'',
    '/',
    '#',
    'x',
    '?',
    '&',
    '“',
    '”',
    '«',
    '»',
    '‐',
    '−',
    'ー',
    '－',
];

pub fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range(' ', '~'),
        3 => proptest::char::range('0', '9'),
        3 => select(TRICKY),
        1 => any::<char>(),
    ]
}

/// Text of up to `max` characters, mostly ASCII with the tricky characters mixed in.
pub fn text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..=max).prop_map(String::from_iter)
}

/// Keys the decoders look for, so random objects reach past "unknown field" errors.
const KEYS: &[&str] = &[
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
    "events",
    "email",
    "em",
    "phone",
    "ph",
    "first_name",
    "fn",
    "country",
    "dob",
    "value",
    "currency",
    "content_ids",
    "contents",
    "num_items",
    "id",
    "quantity",
    "item_price",
    "fbc",
    "fbp",
    "gclid",
    "ga_client_id",
    "analytics",
    "marketing",
    "functional",
    "version",
    "tc_string",
    "kind",
    "tenant_id",
    "hour",
    "received",
    "accepted",
    "duplicates",
    "rejected",
    "record",
    "deliver",
    "counters",
    "event",
    "consent",
    "received_at",
    "routes",
    "deliveries",
    "pixel",
    "platform",
    "mode",
    "attempt",
    "delivery",
];

pub fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(KEYS).prop_map(str::to_string),
        1 => text(12),
    ]
}

pub fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Non-finite floats become null, as JSON has no place for them.
        any::<f64>().prop_map(Value::from),
        (-1.0e12f64..1.0e12).prop_map(Value::from),
        text(24).prop_map(Value::from),
    ]
}

/// Any JSON value, at most 4 levels deep and 48 leaves.
pub fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A plausible value of a field most of the time, sometimes any JSON, sometimes absent.
pub fn field(plausible: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        2 => Just(None),
        6 => plausible.prop_map(Some),
        1 => json_value().prop_map(Some),
    ]
    .boxed()
}

/// An object of the given optional fields plus, now and then, a key of any name.
pub fn object(fields: Vec<(&'static str, BoxedStrategy<Option<Value>>)>) -> BoxedStrategy<Value> {
    let (names, values): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
    let extra = prop::option::weighted(0.1, (text(10), json_value()));
    (values, extra)
        .prop_map(move |(values, extra)| {
            let mut m = Map::new();
            for (name, v) in names.iter().zip(values) {
                if let Some(v) = v {
                    m.insert(name.to_string(), v);
                }
            }
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

fn s(re: &'static str) -> BoxedStrategy<Value> {
    re.prop_map(Value::from).boxed()
}

fn one_of(values: &'static [&'static str]) -> BoxedStrategy<Value> {
    select(values).prop_map(Value::from).boxed()
}

pub fn id() -> BoxedStrategy<Value> {
    prop_oneof![
        8 => s("[A-Za-z0-9_.:-]{1,24}"),
        1 => s("[a-z]{129}"),
        1 => text(16).prop_map(Value::from),
    ]
    .boxed()
}

fn event_time() -> BoxedStrategy<Value> {
    let secs = (NOW - 91 * 86_400)..(NOW + 600);
    prop_oneof![
        secs.clone().prop_map(Value::from),
        secs.clone().prop_map(|t| Value::from(t * 1000)),
        secs.clone().prop_map(|t| Value::from(t as f64 + 0.25)),
        secs.prop_map(|t| Value::from(format!(" {t} "))),
    ]
    .boxed()
}

fn url() -> BoxedStrategy<Value> {
    prop_oneof![
        6 => s("https?://(www\\.)?[a-z]{1,8}\\.(com|example)(:[0-9]{2,5})?(/[a-z0-9%]{0,8}){0,2}(\\?[a-z]=[a-z0-9]{0,4})?"),
        1 => s("[a-z]{2,6}:[a-z/]{0,8}"),
        1 => text(30).prop_map(|t| Value::from(format!("https://{t}"))),
    ]
    .boxed()
}

/// The domain of the generated emails: the properties check it never leaves the intake raw.
pub const PII_DOMAIN: &str = "@pii-test.example";

fn user_value(realistic: BoxedStrategy<Value>) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        2 => Just(None),
        5 => realistic.clone().prop_map(Some),
        1 => realistic.prop_map(|v| Some(Value::Array(vec![v]))),
        1 => text(20).prop_map(|t| Some(Value::from(t))),
        1 => json_value().prop_map(Some),
    ]
    .boxed()
}

fn user_data() -> BoxedStrategy<Value> {
    let name = prop_oneof![s("[A-Za-z' -]{1,12}"), text(12).prop_map(Value::from)].boxed();
    object(vec![
        (
            "email",
            user_value(s("[A-Za-z0-9._+-]{1,10}@pii-test\\.example")),
        ),
        ("ph", user_value(s("(\\+|00)?[0-9 ().-]{6,18}"))),
        ("first_name", user_value(name.clone())),
        ("ln", user_value(name.clone())),
        ("city", user_value(name.clone())),
        (
            "st",
            user_value(one_of(&[
                "CA",
                "California",
                "ny",
                "Québec",
                "Bayern",
                "zz",
            ])),
        ),
        (
            "zip",
            user_value(s("[0-9]{5}(-[0-9]{4})?|[A-Z0-9]{2,4} [A-Z0-9]{3}")),
        ),
        (
            "country",
            user_value(one_of(&[
                "US",
                "de",
                "Deutschland",
                "United Kingdom",
                "xx",
                "BR",
            ])),
        ),
        (
            "db",
            user_value(s(
                "(19|20)[0-9]{2}-[01][0-9]-[0-3][0-9]|[0-3]?[0-9]/[01]?[0-9]/(19|20)[0-9]{2}",
            )),
        ),
        (
            "gender",
            user_value(one_of(&["f", "M", "female", "Männlich", "女", "other"])),
        ),
        ("external_id", user_value(id())),
    ])
}

fn custom_data() -> BoxedStrategy<Value> {
    let number = prop_oneof![
        (0.0f64..1.0e9).prop_map(Value::from),
        (0u64..1000).prop_map(Value::from),
        s(" ?[0-9]{1,6}(\\.[0-9]{1,2})? ?"),
        (-100i64..0).prop_map(Value::from),
    ]
    .boxed();
    let content = object(vec![
        ("id", field(id())),
        ("quantity", field((0u64..10).prop_map(Value::from).boxed())),
        ("item_price", field(number.clone())),
        ("title", field(text(12).prop_map(Value::from).boxed())),
    ]);
    let scalar = prop_oneof![
        text(16).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ];
    object(vec![
        ("value", field(number)),
        (
            "currency",
            field(one_of(&["EUR", "usd", "Gbp", "EURO", "€€€"])),
        ),
        (
            "content_ids",
            field(
                prop::collection::vec(id(), 0..4)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
        ),
        (
            "contents",
            field(
                prop::collection::vec(content, 0..3)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
        ),
        ("num_items", field((0u64..20).prop_map(Value::from).boxed())),
        ("order_id", field(scalar.clone().boxed())),
        (
            "tags",
            field(
                prop::collection::vec(scalar, 0..3)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
        ),
    ])
}

fn click_ids() -> BoxedStrategy<Value> {
    object(vec![
        (
            "fbc",
            field(s("fb\\.1\\.[0-9]{13}\\.[A-Za-z0-9_-]{4,12}|[a-z.]{0,8}")),
        ),
        ("fbp", field(s("fb\\.1\\.[0-9]{13}\\.[0-9]{10}"))),
        ("gclid", field(s("[A-Za-z0-9_-]{8,40}"))),
        ("ttclid", field(s("[A-Za-z0-9_-]{8,40}|[a-z]{513}"))),
        (
            "ga_client_id",
            field(s(
                "GA1\\.[12]\\.[0-9]{6,10}\\.[0-9]{10}|[0-9]{6,10}\\.[0-9]{10}",
            )),
        ),
    ])
}

/// An object shaped like one event of the intake, each field plausible, wrong or missing.
pub fn event_object() -> BoxedStrategy<Value> {
    let name = one_of(&[
        "page_view",
        "PageView",
        "purchase",
        "Purchase",
        "add to cart",
        "add-to-cart",
        "generate_lead",
        "lead",
        "Signup",
        "CompleteRegistration",
        "view_content",
        "my_custom_1",
        "Custom_Event",
        "1bad",
        "has space",
        "a_name_that_is_longer_than_forty_bytes_long",
    ]);
    let utm = prop::collection::btree_map(
        select(&["utm_source", "utm_medium", "utm_campaign"][..]).prop_map(str::to_string),
        prop_oneof![
            text(300).prop_map(Value::from),
            any::<i32>().prop_map(Value::from)
        ],
        0..3,
    )
    .prop_map(|m| Value::Object(m.into_iter().collect()))
    .boxed();
    let consent = object(vec![
        (
            "analytics",
            field(any::<bool>().prop_map(Value::from).boxed()),
        ),
        (
            "marketing",
            field(any::<bool>().prop_map(Value::from).boxed()),
        ),
    ]);
    object(vec![
        ("event_id", field(id())),
        ("event_name", prop_oneof![9 => name.prop_map(Some), 1 => json_value().prop_map(Some), 1 => Just(None)].boxed()),
        ("event_time", field(event_time())),
        ("visitor_id", field(id())),
        ("url", field(url())),
        ("event_source_url", field(url())),
        ("referrer", field(url())),
        ("user_data", field(user_data())),
        ("custom_data", field(custom_data())),
        ("click_ids", field(click_ids())),
        ("gclid", field(s("[A-Za-z0-9_-]{8,20}"))),
        ("fbp", field(s("fb\\.1\\.[0-9]{13}\\.[0-9]{10}"))),
        ("utm", field(utm)),
        ("consent", field(consent)),
    ])
}
