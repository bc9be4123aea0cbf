//! Local time in an ad account's time zone, without a time zone database: the zones ad accounts
//! are commonly set to, each with its standard offset and its daylight-saving rule as in force
//! since 2023. Google Ads wants a conversion's `conversionDateTime` written in the account's own
//! zone, with the offset that applied at that instant.
//!
//! Rules followed (the zones' legal rules, as the IANA tz database records them):
//! - EU: summer time from the last Sunday of March to the last Sunday of October, switching at
//!   01:00 UTC everywhere (London, Lisbon and Dublin included);
//! - US and Canada: from the second Sunday of March at 02:00 local standard time to the first
//!   Sunday of November at 02:00 local daylight time;
//! - south-east Australia: from the first Sunday of October at 02:00 standard time to the first
//!   Sunday of April at 03:00 daylight time (02:00 standard);
//! - New Zealand: from the last Sunday of September at 02:00 standard time to the first Sunday of
//!   April at 03:00 daylight time;
//! - every other listed zone keeps one offset all year (Mexico since 2022, Brazil since 2019,
//!   Iran since 2022).
//!
//! A zone outside the table is refused where it is configured, naming the ones that are known;
//! `UTC` and fixed offsets such as `+05:30` are always accepted.

use super::calendar::{Date, Weekday, SECS_PER_DAY};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Fixed,
    Eu,
    NorthAmerica,
    SouthEastAustralia,
    NewZealand,
}

/// (IANA name, standard offset in minutes east of UTC, rule).
const ZONES: &[(&str, i32, Rule)] = &[
    ("UTC", 0, Rule::Fixed),
    ("Etc/UTC", 0, Rule::Fixed),
    ("GMT", 0, Rule::Fixed),
    ("Europe/London", 0, Rule::Eu),
    ("Europe/Dublin", 0, Rule::Eu),
    ("Europe/Lisbon", 0, Rule::Eu),
    ("Atlantic/Canary", 0, Rule::Eu),
    ("Europe/Madrid", 60, Rule::Eu),
    ("Europe/Paris", 60, Rule::Eu),
    ("Europe/Berlin", 60, Rule::Eu),
    ("Europe/Rome", 60, Rule::Eu),
    ("Europe/Amsterdam", 60, Rule::Eu),
    ("Europe/Brussels", 60, Rule::Eu),
    ("Europe/Luxembourg", 60, Rule::Eu),
    ("Europe/Vienna", 60, Rule::Eu),
    ("Europe/Zurich", 60, Rule::Eu),
    ("Europe/Stockholm", 60, Rule::Eu),
    ("Europe/Oslo", 60, Rule::Eu),
    ("Europe/Copenhagen", 60, Rule::Eu),
    ("Europe/Warsaw", 60, Rule::Eu),
    ("Europe/Prague", 60, Rule::Eu),
    ("Europe/Budapest", 60, Rule::Eu),
    ("Europe/Belgrade", 60, Rule::Eu),
    ("Europe/Zagreb", 60, Rule::Eu),
    ("Europe/Malta", 60, Rule::Eu),
    ("Europe/Athens", 120, Rule::Eu),
    ("Europe/Helsinki", 120, Rule::Eu),
    ("Europe/Kyiv", 120, Rule::Eu),
    ("Europe/Bucharest", 120, Rule::Eu),
    ("Europe/Sofia", 120, Rule::Eu),
    ("Europe/Riga", 120, Rule::Eu),
    ("Europe/Tallinn", 120, Rule::Eu),
    ("Europe/Vilnius", 120, Rule::Eu),
    ("Europe/Istanbul", 180, Rule::Fixed),
    ("Europe/Moscow", 180, Rule::Fixed),
    ("America/New_York", -300, Rule::NorthAmerica),
    ("America/Detroit", -300, Rule::NorthAmerica),
    ("America/Toronto", -300, Rule::NorthAmerica),
    ("America/Chicago", -360, Rule::NorthAmerica),
    ("America/Winnipeg", -360, Rule::NorthAmerica),
    ("America/Denver", -420, Rule::NorthAmerica),
    ("America/Edmonton", -420, Rule::NorthAmerica),
    ("America/Phoenix", -420, Rule::Fixed),
    ("America/Los_Angeles", -480, Rule::NorthAmerica),
    ("America/Vancouver", -480, Rule::NorthAmerica),
    ("America/Anchorage", -540, Rule::NorthAmerica),
    ("America/Halifax", -240, Rule::NorthAmerica),
    ("Pacific/Honolulu", -600, Rule::Fixed),
    ("America/Mexico_City", -360, Rule::Fixed),
    ("America/Bogota", -300, Rule::Fixed),
    ("America/Lima", -300, Rule::Fixed),
    ("America/Panama", -300, Rule::Fixed),
    ("America/Guayaquil", -300, Rule::Fixed),
    ("America/Costa_Rica", -360, Rule::Fixed),
    ("America/Guatemala", -360, Rule::Fixed),
    ("America/Caracas", -240, Rule::Fixed),
    ("America/Puerto_Rico", -240, Rule::Fixed),
    ("America/Santo_Domingo", -240, Rule::Fixed),
    ("America/La_Paz", -240, Rule::Fixed),
    ("America/Sao_Paulo", -180, Rule::Fixed),
    ("America/Argentina/Buenos_Aires", -180, Rule::Fixed),
    ("America/Montevideo", -180, Rule::Fixed),
    ("Africa/Lagos", 60, Rule::Fixed),
    ("Africa/Algiers", 60, Rule::Fixed),
    ("Africa/Tunis", 60, Rule::Fixed),
    ("Africa/Accra", 0, Rule::Fixed),
    ("Africa/Johannesburg", 120, Rule::Fixed),
    ("Africa/Nairobi", 180, Rule::Fixed),
    ("Asia/Riyadh", 180, Rule::Fixed),
    ("Asia/Qatar", 180, Rule::Fixed),
    ("Asia/Tehran", 210, Rule::Fixed),
    ("Asia/Dubai", 240, Rule::Fixed),
    ("Asia/Karachi", 300, Rule::Fixed),
    ("Asia/Kolkata", 330, Rule::Fixed),
    ("Asia/Kathmandu", 345, Rule::Fixed),
    ("Asia/Dhaka", 360, Rule::Fixed),
    ("Asia/Bangkok", 420, Rule::Fixed),
    ("Asia/Jakarta", 420, Rule::Fixed),
    ("Asia/Ho_Chi_Minh", 420, Rule::Fixed),
    ("Asia/Shanghai", 480, Rule::Fixed),
    ("Asia/Hong_Kong", 480, Rule::Fixed),
    ("Asia/Taipei", 480, Rule::Fixed),
    ("Asia/Singapore", 480, Rule::Fixed),
    ("Asia/Kuala_Lumpur", 480, Rule::Fixed),
    ("Asia/Manila", 480, Rule::Fixed),
    ("Australia/Perth", 480, Rule::Fixed),
    ("Asia/Tokyo", 540, Rule::Fixed),
    ("Asia/Seoul", 540, Rule::Fixed),
    ("Australia/Darwin", 570, Rule::Fixed),
    ("Australia/Adelaide", 570, Rule::SouthEastAustralia),
    ("Australia/Brisbane", 600, Rule::Fixed),
    ("Australia/Sydney", 600, Rule::SouthEastAustralia),
    ("Australia/Melbourne", 600, Rule::SouthEastAustralia),
    ("Australia/Hobart", 600, Rule::SouthEastAustralia),
    ("Pacific/Auckland", 720, Rule::NewZealand),
];

/// The rule for a `time_zone` setting, for error messages.
pub const TIME_ZONE_RULE: &str = "must be UTC, a fixed offset such as +05:30 or -03:00, or an \
    IANA time zone name such as Europe/Madrid, America/New_York or Asia/Tokyo (the common ad \
    account zones of Europe, the Americas, Africa, Asia and Oceania are known)";

/// A zone: its standard offset (seconds) and rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone {
    standard_secs: i32,
    rule: Rule,
}

impl TimeZone {
    pub const UTC: TimeZone = TimeZone {
        standard_secs: 0,
        rule: Rule::Fixed,
    };

    /// A known IANA name, `UTC`, or a fixed offset `±hh:mm`.
    pub fn parse(name: &str) -> Option<TimeZone> {
        let name = name.trim();
        if let Some(&(_, minutes, rule)) = ZONES.iter().find(|(n, _, _)| *n == name) {
            return Some(TimeZone {
                standard_secs: minutes * 60,
                rule,
            });
        }
        parse_offset(name).map(|secs| TimeZone {
            standard_secs: secs,
            rule: Rule::Fixed,
        })
    }

    /// The offset east of UTC, in seconds, in force at `unix`.
    pub fn offset_at(self, unix: i64) -> i32 {
        let dst = match self.rule {
            Rule::Fixed => false,
            Rule::Eu => {
                let year = Date::from_unix(unix).ymd().0;
                let start = last_sunday(year, 3).start_unix() + 3600;
                let end = last_sunday(year, 10).start_unix() + 3600;
                (start..end).contains(&unix)
            }
            Rule::NorthAmerica => {
                let year = self.local_year(unix);
                let std = i64::from(self.standard_secs);
                let start = nth_sunday(year, 3, 2).start_unix() + 2 * 3600 - std;
                let end = nth_sunday(year, 11, 1).start_unix() + 2 * 3600 - (std + 3600);
                (start..end).contains(&unix)
            }
            Rule::SouthEastAustralia | Rule::NewZealand => {
                let year = self.local_year(unix);
                let std = i64::from(self.standard_secs);
                // Southern summer: daylight time from spring (Sep/Oct) into the next autumn.
                let spring = if self.rule == Rule::NewZealand {
                    last_sunday(year, 9)
                } else {
                    nth_sunday(year, 10, 1)
                };
                let start = spring.start_unix() + 2 * 3600 - std;
                let end = nth_sunday(year, 4, 1).start_unix() + 3 * 3600 - (std + 3600);
                unix >= start || unix < end
            }
        };
        self.standard_secs + if dst { 3600 } else { 0 }
    }

    /// The calendar year at `unix` in standard time (the rules' switches are never on Jan 1st).
    fn local_year(self, unix: i64) -> i64 {
        Date::from_unix(unix + i64::from(self.standard_secs))
            .ymd()
            .0
    }

    /// `yyyy-mm-dd hh:mm:ss+hh:mm`: the instant in this zone, with the offset in force.
    pub fn format_google(self, unix: i64) -> String {
        let offset = self.offset_at(unix);
        let local = unix + i64::from(offset);
        let (y, mo, d) = Date::from_unix(local).ymd();
        let secs = local.rem_euclid(SECS_PER_DAY);
        let sign = if offset < 0 { '-' } else { '+' };
        let off = offset.unsigned_abs();
        format!(
            "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}{sign}{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60,
            off / 3600,
            off % 3600 / 60
        )
    }
}

/// `±hh:mm` (hours up to 14) → seconds east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' {
        return None;
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let part = &s[r];
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (h, m) = (num(1..3)?, num(4..6)?);
    (h <= 14 && m < 60).then_some(sign * (h * 3600 + m * 60))
}

fn last_sunday(year: i64, month: u32) -> Date {
    let next = if month == 12 {
        Date::from_ymd(year + 1, 1, 1)
    } else {
        Date::from_ymd(year, month + 1, 1)
    }
    .expect("the first of a month exists");
    let last = next.add_days(-1);
    last.add_days(-((last.weekday().index() - Weekday::Sunday.index()).rem_euclid(7)))
}

/// The `n`th Sunday (1-based) of a month.
fn nth_sunday(year: i64, month: u32, n: i64) -> Date {
    let first = Date::from_ymd(year, month, 1).expect("the first of a month exists");
    let to_sunday = (Weekday::Sunday.index() - first.weekday().index()).rem_euclid(7);
    first.add_days(to_sunday + 7 * (n - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix time of a UTC wall-clock time.
    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        Date::from_ymd(y, mo, d).unwrap().start_unix() + h * 3600 + mi * 60
    }

    fn fmt(zone: &str, unix: i64) -> String {
        TimeZone::parse(zone).unwrap().format_google(unix)
    }

    #[test]
    fn eu_summer_time_switches_at_one_utc_on_the_last_sundays() {
        // 2025: last Sunday of March is the 30th, of October the 26th.
        assert_eq!(
            fmt("Europe/Madrid", utc(2025, 3, 30, 0, 59)),
            "2025-03-30 01:59:00+01:00"
        );
        assert_eq!(
            fmt("Europe/Madrid", utc(2025, 3, 30, 1, 0)),
            "2025-03-30 03:00:00+02:00"
        );
        assert_eq!(
            fmt("Europe/Madrid", utc(2025, 10, 26, 0, 59)),
            "2025-10-26 02:59:00+02:00"
        );
        assert_eq!(
            fmt("Europe/Madrid", utc(2025, 10, 26, 1, 0)),
            "2025-10-26 02:00:00+01:00"
        );
        assert_eq!(
            fmt("Europe/London", utc(2025, 7, 1, 12, 0)),
            "2025-07-01 13:00:00+01:00"
        );
        assert_eq!(
            fmt("Europe/London", utc(2025, 1, 1, 12, 0)),
            "2025-01-01 12:00:00+00:00"
        );
    }

    #[test]
    fn north_america_switches_at_two_local() {
        // 2025: second Sunday of March is the 9th, first Sunday of November the 2nd.
        let ny = |t| fmt("America/New_York", t);
        assert_eq!(ny(utc(2025, 3, 9, 6, 59)), "2025-03-09 01:59:00-05:00");
        assert_eq!(ny(utc(2025, 3, 9, 7, 0)), "2025-03-09 03:00:00-04:00");
        assert_eq!(ny(utc(2025, 11, 2, 5, 59)), "2025-11-02 01:59:00-04:00");
        assert_eq!(ny(utc(2025, 11, 2, 6, 0)), "2025-11-02 01:00:00-05:00");
        assert_eq!(
            fmt("America/Los_Angeles", utc(2025, 1, 15, 20, 30)),
            "2025-01-15 12:30:00-08:00"
        );
        assert_eq!(
            fmt("America/Phoenix", utc(2025, 7, 1, 12, 0)),
            "2025-07-01 05:00:00-07:00"
        );
    }

    #[test]
    fn southern_hemisphere_summer_spans_the_new_year() {
        // Sydney: DST ends 2025-04-06 03:00 local (16:00 UTC the 5th), starts 2025-10-05 02:00.
        let syd = |t| fmt("Australia/Sydney", t);
        assert_eq!(syd(utc(2025, 1, 10, 0, 0)), "2025-01-10 11:00:00+11:00");
        assert_eq!(syd(utc(2025, 4, 5, 15, 59)), "2025-04-06 02:59:00+11:00");
        assert_eq!(syd(utc(2025, 4, 5, 16, 0)), "2025-04-06 02:00:00+10:00");
        assert_eq!(syd(utc(2025, 10, 4, 15, 59)), "2025-10-05 01:59:00+10:00");
        assert_eq!(syd(utc(2025, 10, 4, 16, 0)), "2025-10-05 03:00:00+11:00");
        // Auckland: DST from 2025-09-28 02:00 NZST.
        assert_eq!(
            fmt("Pacific/Auckland", utc(2025, 9, 27, 13, 59)),
            "2025-09-28 01:59:00+12:00"
        );
        assert_eq!(
            fmt("Pacific/Auckland", utc(2025, 9, 27, 14, 0)),
            "2025-09-28 03:00:00+13:00"
        );
        assert_eq!(
            fmt("Asia/Kolkata", utc(2025, 6, 1, 0, 0)),
            "2025-06-01 05:30:00+05:30"
        );
    }

    #[test]
    fn fixed_offsets_and_unknown_zones() {
        assert_eq!(
            fmt("-03:30", utc(2025, 1, 1, 0, 0)),
            "2024-12-31 20:30:00-03:30"
        );
        assert_eq!(
            fmt("UTC", utc(2025, 1, 1, 0, 0)),
            "2025-01-01 00:00:00+00:00"
        );
        for bad in [
            "Mars/Olympus",
            "+15:00",
            "+5:30",
            "05:30",
            "",
            "Europe/madrid",
        ] {
            assert_eq!(TimeZone::parse(bad), None, "{bad}");
        }
        assert_eq!(
            TimeZone::UTC.format_google(utc(2019, 1, 1, 12, 32) + 45),
            "2019-01-01 12:32:45+00:00"
        );
    }
}
