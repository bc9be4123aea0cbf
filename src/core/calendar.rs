//! UTC calendar days without a date crate: every conversion between Unix time and dates in the
//! core goes through here.
//!
//! Rules followed:
//! - a [`Date`] is a count of days since 1970-01-01 (proleptic Gregorian), converted to and from
//!   year/month/day with Howard Hinnant's `days_from_civil` / `civil_from_days` algorithms,
//!   exact for every date a report can ask for;
//! - a day is [`SECS_PER_DAY`] seconds (Unix time has no leap seconds), and the day of a
//!   timestamp is its floor division by that, also before 1970;
//! - leap years are the Gregorian ones: divisible by 4, except centuries not divisible by 400;
//! - 1970-01-01 was a Thursday, so with Monday = 0 the weekday is `(days + 3) mod 7`;
//! - dates travel as ISO 8601 `YYYY-MM-DD`, the form Meta's `time_range`, Google's GAQL
//!   `segments.date` and the report API's `from`/`to` all use; dates of birth are compared as
//!   `YYYYMMDD` numbers ([`Date::yyyymmdd`]), which order like the dates they write.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const SECS_PER_DAY: i64 = 86_400;

/// A UTC calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    days_since_epoch: i64,
}

/// Day of the week, Monday first (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// 0 for Monday ... 6 for Sunday.
    pub fn index(self) -> i64 {
        Weekday::ALL.iter().position(|&d| d == self).unwrap_or(0) as i64
    }
}

impl Date {
    /// None for an impossible date (month 13, February 30th...).
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date {
            days_since_epoch: days_from_civil(year, month, day),
        })
    }

    pub fn from_days(days_since_epoch: i64) -> Date {
        Date { days_since_epoch }
    }

    /// The UTC day a Unix timestamp (seconds) falls on.
    pub fn from_unix(secs: i64) -> Date {
        Date::from_days(secs.div_euclid(SECS_PER_DAY))
    }

    /// Strict `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        Date::from_ymd(i64::from(num(0..4)?), num(5..7)?, num(8..10)?)
    }

    pub fn days_since_epoch(self) -> i64 {
        self.days_since_epoch
    }

    /// Unix time of 00:00:00 UTC on this day.
    pub fn start_unix(self) -> i64 {
        self.days_since_epoch * SECS_PER_DAY
    }

    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.days_since_epoch)
    }

    pub fn add_days(self, days: i64) -> Date {
        Date::from_days(self.days_since_epoch + days)
    }

    pub fn weekday(self) -> Weekday {
        Weekday::ALL[(self.days_since_epoch + 3).rem_euclid(7) as usize]
    }

    pub fn first_of_month(self) -> Date {
        let (y, m, _) = self.ymd();
        Date::from_days(days_from_civil(y, m, 1))
    }

    /// The date as the number `YYYYMMDD` (2026-01-15 -> 20260115), for years 0 to 9999.
    pub fn yyyymmdd(self) -> u32 {
        let (y, m, d) = self.ymd();
        y as u32 * 10_000 + m * 100 + d
    }

    /// `YYYY-MM`, the period label of month-to-date reports.
    pub fn month_label(self) -> String {
        let (y, m, _) = self.ymd();
        format!("{y:04}-{m:02}")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).ok_or_else(|| serde::de::Error::custom("expected a date as YYYY-MM-DD"))
    }
}

/// An inclusive range of days, as reports and platform queries express them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub from: Date,
    pub to: Date,
}

impl DateRange {
    /// None when `to` is before `from`.
    pub fn new(from: Date, to: Date) -> Option<DateRange> {
        (from <= to).then_some(DateRange { from, to })
    }

    pub fn single(day: Date) -> DateRange {
        DateRange { from: day, to: day }
    }

    /// The `days` complete days that end the day before `end_exclusive`.
    pub fn days_before(end_exclusive: Date, days: i64) -> DateRange {
        DateRange {
            from: end_exclusive.add_days(-days),
            to: end_exclusive.add_days(-1),
        }
    }

    pub fn contains(&self, day: Date) -> bool {
        self.from <= day && day <= self.to
    }

    pub fn len_days(&self) -> i64 {
        self.to.days_since_epoch - self.from.days_since_epoch + 1
    }
}

/// UTC calendar date of a Unix timestamp, as `YYYYMMDD` (see [`Date::yyyymmdd`]).
pub fn yyyymmdd_from_unix_secs(secs: u64) -> u32 {
    Date::from_days((secs / SECS_PER_DAY as u64) as i64).yyyymmdd()
}

/// The day after a `YYYYMMDD` date, as `YYYYMMDD`: Dec 31 -> Jan 1 of the next year, the last
/// day of a month -> the 1st of the next. Computed on the digits, so that an out-of-range
/// input (a day past the month's end, month 13) still gives a larger number instead of none.
pub fn day_after_yyyymmdd(v: u32) -> u32 {
    if v % 10_000 == 1231 {
        (v / 10_000 + 1) * 10_000 + 101
    } else if v % 100 >= days_in_month(i64::from(v / 10_000), v / 100 % 100) {
        (v / 100 + 1) * 100 + 1
    } else {
        v + 1
    }
}

/// Gregorian leap year: divisible by 4, except centuries not divisible by 400.
pub fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` (1-12) of `year`; 0 for a month that does not exist, so that any day fails
/// a `day <= days_in_month` check.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`] (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn known_days_since_epoch() {
        assert_eq!(d("1970-01-01").days_since_epoch(), 0);
        assert_eq!(d("2000-02-29").days_since_epoch(), 11_016);
        assert_eq!(d("2026-01-01").days_since_epoch(), 20_454);
        assert_eq!(d("1969-12-31").days_since_epoch(), -1);
        // 2026-01-15T06:00:00Z, checked with `date -u -d @1768456800`.
        assert_eq!(Date::from_unix(1_768_456_800), d("2026-01-15"));
        assert_eq!(d("2026-01-15").start_unix(), 1_768_435_200);
    }

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        for days in -146_097..146_097 {
            let (y, m, dd) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, dd), days);
            assert!(dd <= days_in_month(y, m));
        }
    }

    #[test]
    fn leap_years_and_month_lengths() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && is_leap_year(1996));
        assert!(!is_leap_year(1900) && !is_leap_year(2100) && !is_leap_year(2025));
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2026, 4), 30);
        assert_eq!(days_in_month(2026, 12), 31);
        assert_eq!(days_in_month(2026, 0), 0);
        assert_eq!(days_in_month(2026, 13), 0);
    }

    #[test]
    fn yyyymmdd_of_days_and_timestamps() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
        assert_eq!(d("2026-01-15").yyyymmdd(), 20260115);
        assert_eq!(yyyymmdd_from_unix_secs(0), 19700101);
        assert_eq!(yyyymmdd_from_unix_secs(1_767_225_599), 20251231);
        assert_eq!(yyyymmdd_from_unix_secs(1_767_225_600), 20260101);
        assert_eq!(day_after_yyyymmdd(20260115), 20260116);
        assert_eq!(day_after_yyyymmdd(20260131), 20260201);
        assert_eq!(day_after_yyyymmdd(20240228), 20240229);
        assert_eq!(day_after_yyyymmdd(20250228), 20250301);
        assert_eq!(day_after_yyyymmdd(20251231), 20260101);
        assert_eq!(day_after_yyyymmdd(99991231), 100000101);
        for days in 0..(3 * 146_097) {
            let day = Date::from_days(days);
            assert_eq!(
                day_after_yyyymmdd(day.yyyymmdd()),
                day.add_days(1).yyyymmdd()
            );
        }
    }

    #[test]
    fn weekdays() {
        assert_eq!(d("1970-01-01").weekday(), Weekday::Thursday);
        assert_eq!(d("2026-01-12").weekday(), Weekday::Monday);
        assert_eq!(d("2026-01-18").weekday(), Weekday::Sunday);
        assert_eq!(d("1969-12-29").weekday(), Weekday::Monday);
        assert_eq!(Weekday::Sunday.index(), 6);
    }

    #[test]
    fn parsing_is_strict() {
        assert_eq!(d("2024-02-29").to_string(), "2024-02-29");
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-1-5",
            "2026-01-00",
            "20260115",
            "2026-01-1x",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn month_helpers_and_ranges() {
        assert_eq!(d("2026-03-17").first_of_month(), d("2026-03-01"));
        assert_eq!(d("2026-03-17").month_label(), "2026-03");
        assert_eq!(d("2026-03-01").add_days(-1), d("2026-02-28"));
        let week = DateRange::days_before(d("2026-01-15"), 7);
        assert_eq!((week.from, week.to), (d("2026-01-08"), d("2026-01-14")));
        assert_eq!(week.len_days(), 7);
        assert!(week.contains(d("2026-01-08")) && !week.contains(d("2026-01-15")));
        assert_eq!(DateRange::new(d("2026-01-02"), d("2026-01-01")), None);
    }

    #[test]
    fn serializes_as_iso_string() {
        let json = serde_json::to_string(&DateRange::single(d("2026-01-15"))).unwrap();
        assert_eq!(json, r#"{"from":"2026-01-15","to":"2026-01-15"}"#);
        let back: DateRange = serde_json::from_str(&json).unwrap();
        assert_eq!(back.from, d("2026-01-15"));
        assert!(serde_json::from_str::<Date>(r#""2026-02-30""#).is_err());
    }
}
