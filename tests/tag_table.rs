//! The tag's browser-pixel table (`var NAMES` in static/t.js) against the server's event table
//! (`core::platform`). Both sides must name an event the same way on each platform, or the browser
//! pixel and the server-side event are counted twice instead of being deduplicated by event id.
//!
//! The tag's table is read from the shipped file itself (`include_str!`), so `cargo test` fails
//! when either side changes alone. Its columns are taken from the comment above it
//! (`Canonical name → [Meta, Google, TikTok]`), so reordering them is caught too.

use std::collections::BTreeMap;

use pixelgate::core::platform::{EventName, Platform};

const TAG: &str = include_str!("../static/t.js");

/// Every canonical event the server knows. The exhaustive `match` makes a new `EventName` variant
/// a compile error here, so this list (and with it the check) cannot silently fall behind.
fn server_events() -> Vec<EventName> {
    fn known(e: EventName) -> bool {
        match e {
            EventName::PageView
            | EventName::Lead
            | EventName::Signup
            | EventName::AddToCart
            | EventName::Purchase
            | EventName::Contact
            | EventName::Schedule
            | EventName::ViewContent => true,
            EventName::Custom => false,
        }
    }
    [
        EventName::PageView,
        EventName::Lead,
        EventName::Signup,
        EventName::AddToCart,
        EventName::Purchase,
        EventName::Contact,
        EventName::Schedule,
        EventName::ViewContent,
        EventName::Custom,
    ]
    .into_iter()
    .filter(|e| known(*e))
    .collect()
}

/// Where the tag deliberately fires no browser event although the server has a name:
/// gtag's own `config` call already sends GA4's page_view, a second one would double it.
const NOT_FIRED_BY_TAG: &[(&str, Platform)] = &[("page_view", Platform::Google)];

/// A cell of the tag's table: a platform event name, or `0` (the tag fires nothing there).
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Name(String),
    None,
}

struct TagTable {
    platforms: Vec<Platform>,
    rows: BTreeMap<String, Vec<Cell>>,
}

/// Parses `// Canonical name → [Meta, Google, TikTok] ...` followed by
/// `var NAMES = { page_view: ["PageView", 0, "Pageview"], lead: [...], ... };`.
fn parse_tag_table(src: &str) -> TagTable {
    let start = src
        .find("var NAMES = {")
        .expect("t.js has no `var NAMES = {` table");
    let header_line = src[..start]
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("//"))
        .expect("a comment line above `var NAMES` naming its columns");
    let cols = header_line
        .split_once('[')
        .and_then(|(_, r)| r.split_once(']'))
        .map(|(c, _)| c)
        .unwrap_or_else(|| panic!("no [Platform, ...] column list in: {header_line}"));
    let platforms: Vec<Platform> = cols
        .split(',')
        .map(|c| {
            let name = c.trim().to_ascii_lowercase();
            Platform::parse(&name).unwrap_or_else(|| panic!("unknown platform column {c:?}"))
        })
        .collect();

    let body_start = start + "var NAMES = {".len();
    let body_end = body_start
        + src[body_start..]
            .find("};")
            .expect("`var NAMES` is closed by `};`");
    let mut rest = &src[body_start..body_end];
    let mut rows = BTreeMap::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let (key, after) = rest
            .split_once(':')
            .unwrap_or_else(|| panic!("expected `name: [...]` at {rest:?}"));
        let key = key
            .trim()
            .trim_matches(|c| c == '"' || c == '\'')
            .to_string();
        let after = after.trim_start();
        assert!(after.starts_with('['), "row {key}: expected `[`");
        let (list, tail) = after[1..]
            .split_once(']')
            .unwrap_or_else(|| panic!("row {key}: no closing `]`"));
        let cells: Vec<Cell> = list
            .split(',')
            .map(|c| {
                let c = c.trim();
                if c == "0" {
                    Cell::None
                } else if c.len() >= 2
                    && (c.starts_with('"') && c.ends_with('"')
                        || c.starts_with('\'') && c.ends_with('\''))
                {
                    Cell::Name(c[1..c.len() - 1].to_string())
                } else {
                    panic!("row {key}: cell {c:?} is neither a string nor 0")
                }
            })
            .collect();
        assert_eq!(
            cells.len(),
            platforms.len(),
            "row {key} has {} cells for the {} columns {platforms:?}",
            cells.len(),
            platforms.len()
        );
        assert!(rows.insert(key.clone(), cells).is_none(), "row {key} twice");
        rest = tail;
    }
    TagTable { platforms, rows }
}

#[test]
fn tag_event_names_match_the_server() {
    let tag = parse_tag_table(TAG);
    let mut problems = Vec::new();

    let server: BTreeMap<&str, EventName> = server_events()
        .into_iter()
        .map(|e| (e.as_str(), e))
        .collect();
    for name in tag.rows.keys() {
        if !server.contains_key(name.as_str()) {
            problems.push(format!(
                "t.js names `{name}`, which the server does not know (parses as {:?})",
                EventName::parse(name)
            ));
        }
    }
    for (canonical, event) in &server {
        let Some(cells) = tag.rows.get(*canonical) else {
            problems.push(format!("t.js has no row for the server's `{canonical}`"));
            continue;
        };
        for (platform, cell) in tag.platforms.iter().zip(cells) {
            let want = event.for_platform(*platform);
            let skipped = NOT_FIRED_BY_TAG.contains(&(*canonical, *platform));
            match (cell, want) {
                (Cell::Name(got), Some(want)) if got == want => {}
                (Cell::None, _) if skipped => {}
                _ => problems.push(format!(
                    "`{canonical}` on {}: t.js {cell:?}, server {want:?}{}",
                    platform.as_str(),
                    if skipped { " (or 0)" } else { "" }
                )),
            }
            // A name the tag fires must come back to the same event on the server (sites that
            // send platform names through the API are mapped by EventName::parse).
            if let Cell::Name(got) = cell {
                if EventName::parse(got) != *event {
                    problems.push(format!(
                        "`{canonical}` on {}: the server parses t.js's {got:?} as {:?}",
                        platform.as_str(),
                        EventName::parse(got)
                    ));
                }
            }
        }
    }
    for (canonical, platform) in NOT_FIRED_BY_TAG {
        if tag.rows.get(*canonical).is_some_and(|cells| {
            tag.platforms
                .iter()
                .zip(cells)
                .any(|(p, c)| p == platform && *c != Cell::None)
        }) {
            problems.push(format!(
                "`{canonical}` on {}: listed as not fired by the tag, but t.js names it (update NOT_FIRED_BY_TAG)",
                platform.as_str()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "t.js's NAMES and core::platform disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn tag_table_columns_are_the_pixels_the_tag_calls() {
    // The tag fires Meta (fbq), GA4 (gtag) and TikTok (ttq) by name; LinkedIn's Insight Tag is
    // called with a conversion id, not an event name, so it has no column. Each call must read
    // its own platform's column.
    let tag = parse_tag_table(TAG);
    for (platform, call) in [
        (Platform::Meta, "w.fbq(\"track\""),
        (Platform::Google, "w.gtag(\"event\""),
        (Platform::Tiktok, "w.ttq.track("),
    ] {
        let column = tag
            .platforms
            .iter()
            .position(|p| *p == platform)
            .unwrap_or_else(|| panic!("t.js's table has no {platform:?} column"));
        let line = TAG
            .lines()
            .find(|l| l.contains(call))
            .unwrap_or_else(|| panic!("t.js no longer calls {call}"));
        assert!(
            line.contains(&format!("nm[{column}]")),
            "{call} should read column {column} ({platform:?}): {}",
            line.trim()
        );
    }
}

#[test]
fn parser_reads_strings_zeros_and_both_quotes() {
    let src = "// Canonical name → [Meta, Google, TikTok] (x)\n var NAMES = {\n page_view: [\"PageView\", 0, \"Pageview\"], lead: ['Lead', \"generate_lead\", \"SubmitForm\"]\n };";
    let t = parse_tag_table(src);
    assert_eq!(
        t.platforms,
        [Platform::Meta, Platform::Google, Platform::Tiktok]
    );
    assert_eq!(t.rows.len(), 2);
    assert_eq!(
        t.rows["page_view"],
        [
            Cell::Name("PageView".into()),
            Cell::None,
            Cell::Name("Pageview".into())
        ]
    );
    assert_eq!(t.rows["lead"][2], Cell::Name("SubmitForm".into()));
}
