//! Dates of birth, to YYYYMMDD.

use super::chars::{trim, unicode_digit};
use super::latin::fold_key;
use super::tables::dates::{DATE_FILLER, MONTHS};
use super::NormalizeError;
use crate::core::calendar;

const NOT_DATE: NormalizeError =
    NormalizeError("must be a date such as 1990-05-17, 05/17/1990 or 17 May 1990");
const DATE_YEAR_DIGITS: NormalizeError = NormalizeError("year must have 4 digits");
const DATE_BEFORE_1900: NormalizeError = NormalizeError("year must be 1900 or later");
const DATE_INVALID: NormalizeError =
    NormalizeError("date must exist: month 1-12, day within that month");
const DATE_FUTURE: NormalizeError = NormalizeError("date of birth must not be in the future");

/// Today's UTC date as YYYYMMDD. On `wasm32-unknown-unknown` (Cloudflare Workers) std has no
/// clock, so this returns 9999-12-31 and only [`normalize_dob_at`] can reject future dates.
fn today_yyyymmdd() -> u32 {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    {
        use std::time::{SystemTime, UNIX_EPOCH};
        if let Ok(d) = SystemTime::now().duration_since(UNIX_EPOCH) {
            return calendar::yyyymmdd_from_unix_secs(d.as_secs());
        }
    }
    99_991_231
}

fn month_from_word(key: &str) -> Option<u32> {
    MONTHS.iter().find(|(k, _)| *k == key).map(|(_, m)| *m)
}

/// Resolve three numbers where exactly one is a 4-digit year, with Meta's library's rules
/// (`getYearMonthDayFromNumbers`): year first -> Y-M-D (Y-D-M if the middle one is > 12);
/// year last -> month first (M-D-Y) unless the first number is > 12 (then D-M-Y). So an
/// ambiguous "05/06/1990" is read US-style as May 6th, like Meta does.
fn ymd_from_three(nums: &[(u32, usize)]) -> Result<(u32, u32, u32), NormalizeError> {
    let mut year_at = None;
    for (i, &(_, len)) in nums.iter().enumerate() {
        if len == 4 && year_at.is_none() {
            year_at = Some(i);
        } else if len > 2 {
            return Err(DATE_YEAR_DIGITS);
        }
    }
    let Some(year_at) = year_at else {
        return Err(DATE_YEAR_DIGITS);
    };
    let (n1, n2, n3) = (nums[0].0, nums[1].0, nums[2].0);
    Ok(match year_at {
        0 if n2 > 12 => (n1, n3, n2),
        0 => (n1, n2, n3),
        1 if n3 > 12 => (n2, n1, n3),
        1 => (n2, n3, n1),
        _ if n1 > 12 => (n3, n2, n1),
        _ => (n3, n1, n2),
    })
}

fn check_date(y: u32, m: u32, d: u32, today: u32) -> Result<String, NormalizeError> {
    if y < 1900 {
        return Err(DATE_BEFORE_1900);
    }
    if !(1..=12).contains(&m) || d == 0 || d > calendar::days_in_month(i64::from(y), m) {
        return Err(DATE_INVALID);
    }
    let v = y * 10_000 + m * 100 + d;
    if v > today {
        return Err(DATE_FUTURE);
    }
    // YYYYMMDD: eight digits, y having four (1900..=9999). Digit by digit: `format!` cost more
    // than the rest of the date parsing.
    Ok((0..8)
        .rev()
        .map(|i| char::from(b'0' + (v / 10u32.pow(i) % 10) as u8))
        .collect())
}

/// Date of birth as "YYYYMMDD" (Meta, TikTok), checked against today's date. See
/// [`normalize_dob_at`] for the accepted formats; on Cloudflare Workers (no std clock) the
/// "not in the future" check needs [`normalize_dob_at`].
pub fn normalize_dob(raw: &str) -> Result<String, NormalizeError> {
    normalize_dob_at(raw, today_yyyymmdd())
}

/// Date of birth as "YYYYMMDD", with `today` given as YYYYMMDD (UTC; one day of slack is
/// allowed for time zones ahead of UTC).
///
/// Accepts any separators ("1990-05-17", "17/05/1990", "05/17/1990", "1990/05/17",
/// "17.05.1990"), 8 digits ("19900517", or "17051990"/"05171990" when not a valid YYYYMMDD),
/// ISO date-times ("1990-05-17T00:00:00Z"), and month names in English, Spanish, French,
/// German, Portuguese, Italian and Dutch ("May 17, 1990", "17 May 1990", "17. März 1990",
/// "17th of May 1990"). Numeric day/month order follows Meta's library: day-first only when
/// the first number is > 12, otherwise month-first (US style). The year must have 4 digits
/// (2-digit years are rejected, as in Meta's library), be >= 1900 (Meta docs: "from 1900 to
/// current year"), and the date must exist (leap years checked).
pub fn normalize_dob_at(raw: &str, today: u32) -> Result<String, NormalizeError> {
    let t = trimmed_or_return!(raw);
    let b = t.as_bytes();
    // ISO 8601 date-time: keep the date.
    let t = if b.len() > 10
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        && b[..4].iter().all(u8::is_ascii_digit)
    {
        &t[..10]
    } else {
        t
    };
    // Spreadsheet exports with a time: "5/17/1990 0:00", "17.05.1990 12:00:00 AM".
    let t = match t.find(':') {
        Some(colon) => match t[..colon].rfind(char::is_whitespace) {
            Some(ws) => trim(&t[..ws]),
            None => t,
        },
        None => t,
    };
    let today = calendar::day_after_yyyymmdd(today);

    // (value, digit count) of the numbers met, at most three.
    let mut nums = [(0u32, 0usize); 3];
    let mut count = 0;
    let mut month: Option<u32> = None;
    let mut chars = t.chars().peekable();
    while let Some(&c) = chars.peek() {
        if unicode_digit(c).is_some() {
            let (mut v, mut len) = (0u32, 0usize);
            while let Some(dg) = chars.peek().and_then(|&c| unicode_digit(c)) {
                if len == 8 {
                    return Err(NOT_DATE);
                }
                v = v * 10 + u32::from(dg);
                len += 1;
                chars.next();
            }
            if count == 3 {
                return Err(NOT_DATE);
            }
            nums[count] = (v, len);
            count += 1;
        } else if c.is_alphabetic() {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if !c.is_alphabetic() {
                    break;
                }
                word.push(c);
                chars.next();
            }
            let key = fold_key(&word);
            if let Some(m) = month_from_word(&key) {
                if month.replace(m).is_some() {
                    return Err(NOT_DATE);
                }
            } else if !DATE_FILLER.contains(&key.as_ref()) {
                return Err(NOT_DATE);
            }
        } else {
            chars.next();
        }
    }

    let (y, m, d) = if let Some(m) = month {
        match &nums[..count] {
            [(y, 4), (d, 1..=2)] | [(d, 1..=2), (y, 4)] => (*y, m, *d),
            [_, _] => return Err(DATE_YEAR_DIGITS),
            _ => return Err(NOT_DATE),
        }
    } else {
        match &nums[..count] {
            [(v, 8)] => {
                let v = *v;
                let (y, m, d) = (v / 10_000, v / 100 % 100, v % 100);
                if y >= 1900
                    && (1..=12).contains(&m)
                    && d >= 1
                    && d <= calendar::days_in_month(i64::from(y), m)
                {
                    (y, m, d)
                } else {
                    ymd_from_three(&[(v / 1_000_000, 2), (v / 10_000 % 100, 2), (v % 10_000, 4)])?
                }
            }
            [_, _, _] => ymd_from_three(&nums)?,
            [(_, 6)] => return Err(DATE_YEAR_DIGITS),
            _ => return Err(NOT_DATE),
        }
    };
    check_date(y, m, d, today)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::hash::sha256_hex;
    use crate::core::normalize::testing::{err, ok, TODAY};

    fn dob(raw: &str) -> Result<String, NormalizeError> {
        normalize_dob_at(raw, TODAY)
    }

    #[test]
    fn dob_formats() {
        let d = "19900517";
        ok(dob("1990-05-17"), d);
        ok(dob("17/05/1990"), d);
        ok(dob("05/17/1990"), d);
        ok(dob("1990/05/17"), d);
        ok(dob("19900517"), d);
        ok(dob("17.05.1990"), d);
        ok(dob("May 17, 1990"), d);
        ok(dob("17 May 1990"), d);
        ok(dob("17th of May, 1990"), d);
        ok(dob("Thursday, May 17th 1990"), d);
        ok(dob("17 de mayo de 1990"), d);
        ok(dob("17. Mai 1990"), d);
        ok(dob("1990-05-17T00:00:00Z"), d);
        ok(dob("1990-05-17 12:30:00"), d);
        ok(dob("5/17/1990 0:00"), d);
        ok(dob("17.05.1990 12:00:00 AM"), d);
        ok(dob("DOB: 1990-05-17"), d);
        ok(dob("17051990"), d);
        ok(dob("05171990"), d);
        ok(dob("1990 17 05"), d);
        ok(dob("  1985-06-30 "), "19850630");
        ok(dob("17. März 1990"), "19900317");
        ok(dob("Sept 3 1975"), "19750903");
        ok(dob("3 août 1975"), "19750803");
        ok(dob("29/02/2000"), "20000229");
        // Ambiguous: month first, like Meta's library.
        ok(dob("05/06/1990"), "19900506");
        // Meta docs worked example, with its published hash.
        let n = dob("2/16/1997").unwrap();
        assert_eq!(n, "19970216");
        assert_eq!(
            sha256_hex(&n),
            "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"
        );
    }

    #[test]
    fn dob_validation() {
        err(dob("29/02/1999"), DATE_INVALID);
        err(dob("31/04/1990"), DATE_INVALID);
        err(dob("13/13/1990"), DATE_INVALID);
        err(dob("1900-02-29"), DATE_INVALID);
        err(dob("1899-12-31"), DATE_BEFORE_1900);
        err(dob("17/05/90"), DATE_YEAR_DIGITS);
        err(dob("May 17, 90"), DATE_YEAR_DIGITS);
        err(dob("170590"), DATE_YEAR_DIGITS);
        err(dob("2030-01-01"), DATE_FUTURE);
        err(dob("2026-01-17"), DATE_FUTURE);
        ok(dob("2026-01-16"), "20260116"); // one day of time-zone slack
        ok(dob("2026-01-15"), "20260115");
        err(dob("hello"), NOT_DATE);
        err(dob("1990-05"), NOT_DATE);
        err(dob("1990-05-17-01"), NOT_DATE);
        err(dob("May June 1990 17"), NOT_DATE);
        // Month/year edges of the one-day slack.
        ok(normalize_dob_at("2026-01-01", 20251231), "20260101");
        ok(normalize_dob_at("2026-02-01", 20260131), "20260201");
        err(normalize_dob_at("2026-01-02", 20251231), DATE_FUTURE);
    }

    #[test]
    fn dob_with_real_clock() {
        ok(normalize_dob("1990-05-17"), "19900517");
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        err(normalize_dob("2999-01-01"), DATE_FUTURE);
    }
}
