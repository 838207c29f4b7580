//! Parsing of durations and dates given on the command line or stored in a policy.
//!
//! Durations: one or more `<number><unit>` groups, no spaces, no sign, each unit at most
//! once and largest first. Units: `y` (365 days), `w` (7 days), `d` (24 hours), `h`, `m`
//! (MINUTES, as in hospitals' RPO/RTO files: "30m" is half an hour), `s`. So `30m`, `24h`,
//! `7d`, `2w`, `1y`, `1y6d`, `1d12h` are accepted; `6M`, `1mo`, `7 d`, `-1d`, `1d1d`, `6d1y`
//! and `30` are refused with an error that says why. There is deliberately no month unit:
//! months have no fixed length, and restic's `m` = month would silently turn a "30m" RPO
//! into 30 months. All units are fixed lengths (a year is exactly 365 days), so a duration
//! means the same thing whatever the calendar or time zone.
//!
//! Dates: `YYYY-MM-DD` or an RFC 3339 time with an offset (`2027-01-01T09:00:00+09:00`,
//! `...Z`). A bare date is the END of that day in the given zone, that is 00:00 of the NEXT
//! day: `--until 2027-01-01` in JST locks through the whole of 1 January (JST) and the lock
//! expires at 2027-01-02T00:00:00+09:00. A time without an offset is refused, because the
//! same digits name instants up to a day apart.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use thiserror::Error;

/// Seconds per unit, in the only order the units may appear.
const UNITS: [(char, i64); 6] = [
    ('y', 365 * 86_400),
    ('w', 7 * 86_400),
    ('d', 86_400),
    ('h', 3_600),
    ('m', 60),
    ('s', 1),
];

const DURATION_HELP: &str =
    "write numbers with units, largest first, e.g. 30m, 24h, 7d, 2w, 1y6d (m = minutes)";

/// Why a duration or date given by a user could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Nothing was given.
    #[error("empty duration: {DURATION_HELP}")]
    EmptyDuration,
    /// A character that is neither a digit nor a known unit.
    #[error("invalid duration {input:?}: unexpected {found:?}; {DURATION_HELP}")]
    UnexpectedChar { input: String, found: char },
    /// A unit letter that Kura does not accept (with a hint for the common mistakes).
    #[error("invalid duration {input:?}: unknown unit {unit:?}{}; {DURATION_HELP}", unit_hint(*.unit))]
    UnknownUnit { input: String, unit: char },
    /// A unit with no number in front of it, e.g. `d` or `1dh`.
    #[error("invalid duration {input:?}: unit {unit:?} has no number before it; {DURATION_HELP}")]
    MissingNumber { input: String, unit: char },
    /// A number with no unit after it, e.g. `30` or `1d12`.
    #[error("invalid duration {input:?}: the number at the end has no unit; {DURATION_HELP}")]
    MissingUnit { input: String },
    /// A unit repeated or out of order, e.g. `1d1d` or `6d1y`.
    #[error("invalid duration {input:?}: unit {unit:?} repeated or out of order; {DURATION_HELP}")]
    UnitOrder { input: String, unit: char },
    /// The value does not fit in a duration (more than about 292 million years).
    #[error("invalid duration {input:?}: too large")]
    DurationOverflow { input: String },
    /// Neither a date nor an RFC 3339 time.
    #[error(
        "invalid date {input:?}: expected a date like 2027-01-01 or a time with an offset \
         like 2027-01-01T09:00:00+09:00"
    )]
    InvalidDate { input: String },
    /// A date-time without an offset, which would be ambiguous.
    #[error(
        "invalid date {input:?}: a time needs an offset (add +09:00 for JST or Z for UTC), \
         or give a bare date"
    )]
    MissingOffset { input: String },
    /// A date at the very end of the calendar range.
    #[error("invalid date {input:?}: out of the supported range")]
    DateOutOfRange { input: String },
}

fn unit_hint(unit: char) -> &'static str {
    match unit {
        'M' => " (months are not supported because they have no fixed length: use d, e.g. 180d)",
        'H' | 'D' | 'W' | 'Y' | 'S' => " (units are lower case)",
        _ => "",
    }
}

/// Parses a duration such as `30m` (30 minutes), `24h`, `7d`, `2w`, `1y` or `1y6d`.
///
/// See the module documentation for the exact grammar; the result is never negative.
pub fn parse_duration(input: &str) -> Result<Duration, ParseError> {
    if input.is_empty() {
        return Err(ParseError::EmptyDuration);
    }
    let owned = || input.to_string();
    let overflow = || ParseError::DurationOverflow { input: owned() };
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    // Index into UNITS of the next unit that may still appear.
    let mut next_unit = 0;
    for ch in input.chars() {
        if let Some(digit) = ch.to_digit(10) {
            let n = number.unwrap_or(0);
            let n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(i64::from(digit)));
            number = Some(n.ok_or_else(overflow)?);
            continue;
        }
        if !ch.is_ascii_alphabetic() {
            return Err(ParseError::UnexpectedChar {
                input: owned(),
                found: ch,
            });
        }
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == ch) else {
            return Err(ParseError::UnknownUnit {
                input: owned(),
                unit: ch,
            });
        };
        let Some(n) = number.take() else {
            return Err(ParseError::MissingNumber {
                input: owned(),
                unit: ch,
            });
        };
        if pos < next_unit {
            return Err(ParseError::UnitOrder {
                input: owned(),
                unit: ch,
            });
        }
        next_unit = pos + 1;
        let secs = n.checked_mul(UNITS[pos].1).ok_or_else(overflow)?;
        total = total.checked_add(secs).ok_or_else(overflow)?;
    }
    if number.is_some() {
        return Err(ParseError::MissingUnit { input: owned() });
    }
    Duration::try_seconds(total).ok_or_else(overflow)
}

/// Formats a duration in the syntax [`parse_duration`] reads, using `y`, `d`, `h`, `m`
/// and `s` (weeks are shown as days so that "14d" stays "14d").
///
/// Whole seconds only: a sub-second remainder is dropped. A negative duration is shown
/// with a leading `-` (for messages; `parse_duration` does not accept it).
pub fn format_duration(duration: Duration) -> String {
    let secs = duration.num_seconds();
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut rest = secs.unsigned_abs();
    for (unit, len) in UNITS.iter().filter(|(u, _)| *u != 'w') {
        let len = len.unsigned_abs();
        if rest >= len {
            out.push_str(&(rest / len).to_string());
            out.push(*unit);
            rest %= len;
        }
    }
    out
}

/// Parses `YYYY-MM-DD` or an RFC 3339 time into an instant.
///
/// A bare date means the end of that day in `tz`, i.e. 00:00 of the next day in `tz`, so
/// that a retention lock "until 2027-01-01" covers all of that day.
pub fn parse_date_or_time(input: &str, tz: FixedOffset) -> Result<DateTime<Utc>, ParseError> {
    if let Ok(date) = NaiveDate::parse_from_str(input, "%Y-%m-%d") {
        let out_of_range = || ParseError::DateOutOfRange {
            input: input.to_string(),
        };
        let next = date.succ_opt().ok_or_else(out_of_range)?;
        let local = next.and_hms_opt(0, 0, 0).ok_or_else(out_of_range)?;
        // A fixed offset has no gaps or folds, so `single` only fails at the range edges.
        return tz
            .from_local_datetime(&local)
            .single()
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(out_of_range);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(input) {
        return Ok(t.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .any(|f| NaiveDateTime::parse_from_str(input, f).is_ok());
    if naive {
        return Err(ParseError::MissingOffset {
            input: input.to_string(),
        });
    }
    Err(ParseError::InvalidDate {
        input: input.to_string(),
    })
}

/// Serde helpers: durations are stored as strings in [`parse_duration`] syntax ("30d"),
/// so a policy file is readable and editable by people.
pub(crate) mod serde_duration {
    use super::{format_duration, parse_duration};
    use chrono::Duration;
    use serde::{de::Error as _, ser::Error as _, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if *d < Duration::zero() {
            return Err(S::Error::custom("a negative duration cannot be stored"));
        }
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse_duration(&text).map_err(D::Error::custom)
    }

    /// The same for `Option<Duration>` (`null` or absent = `None`).
    pub mod option {
        use chrono::Duration;
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            #[derive(Deserialize)]
            struct Wrap(#[serde(with = "super")] Duration);
            Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(d)| d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jst() -> FixedOffset {
        FixedOffset::east_opt(9 * 3600).expect("valid offset")
    }

    #[test]
    fn accepted_durations() {
        let cases: &[(&str, i64)] = &[
            ("30m", 30 * 60),
            ("24h", 24 * 3600),
            ("7d", 7 * 86_400),
            ("2w", 14 * 86_400),
            ("1y", 365 * 86_400),
            ("1y6d", 371 * 86_400),
            ("1d12h", 36 * 3600),
            ("1w1d1h1m1s", 8 * 86_400 + 3661),
            ("0s", 0),
            ("90s", 90),
            ("007d", 7 * 86_400),
        ];
        for (input, secs) in cases {
            assert_eq!(
                parse_duration(input),
                Ok(Duration::seconds(*secs)),
                "{input}"
            );
        }
    }

    #[test]
    fn refused_durations() {
        let s = |x: &str| x.to_string();
        let cases: Vec<(&str, ParseError)> = vec![
            ("", ParseError::EmptyDuration),
            ("30", ParseError::MissingUnit { input: s("30") }),
            ("1d12", ParseError::MissingUnit { input: s("1d12") }),
            (
                "d",
                ParseError::MissingNumber {
                    input: s("d"),
                    unit: 'd',
                },
            ),
            (
                "1dh",
                ParseError::MissingNumber {
                    input: s("1dh"),
                    unit: 'h',
                },
            ),
            (
                "6M",
                ParseError::UnknownUnit {
                    input: s("6M"),
                    unit: 'M',
                },
            ),
            (
                "1mo",
                ParseError::UnknownUnit {
                    input: s("1mo"),
                    unit: 'o',
                },
            ),
            (
                "7 d",
                ParseError::UnexpectedChar {
                    input: s("7 d"),
                    found: ' ',
                },
            ),
            (
                "-1d",
                ParseError::UnexpectedChar {
                    input: s("-1d"),
                    found: '-',
                },
            ),
            (
                "1d1d",
                ParseError::UnitOrder {
                    input: s("1d1d"),
                    unit: 'd',
                },
            ),
            (
                "6d1y",
                ParseError::UnitOrder {
                    input: s("6d1y"),
                    unit: 'y',
                },
            ),
            (
                "1.5h",
                ParseError::UnexpectedChar {
                    input: s("1.5h"),
                    found: '.',
                },
            ),
            (
                "99999999999999999999d",
                ParseError::DurationOverflow {
                    input: s("99999999999999999999d"),
                },
            ),
            (
                "999999999999999y",
                ParseError::DurationOverflow {
                    input: s("999999999999999y"),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_duration(input), Err(expected), "{input}");
        }
    }

    #[test]
    fn month_error_explains_minutes_and_months() {
        let msg = parse_duration("6M")
            .expect_err("months refused")
            .to_string();
        assert!(msg.contains("months are not supported"), "{msg}");
        assert!(msg.contains("m = minutes"), "{msg}");
    }

    #[test]
    fn format_round_trips() {
        for input in ["30m", "24h", "1d", "14d", "1y", "1y6d", "1d1h1m1s", "0s"] {
            let d = parse_duration(input).expect("valid");
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{input}");
        }
        assert_eq!(format_duration(Duration::days(30)), "30d");
        assert_eq!(format_duration(Duration::hours(36)), "1d12h");
        assert_eq!(format_duration(Duration::days(-2)), "-2d");
    }

    #[test]
    fn bare_date_means_start_of_next_day_in_zone() {
        let t = parse_date_or_time("2027-01-01", jst()).expect("valid");
        assert_eq!(t.to_rfc3339(), "2027-01-01T15:00:00+00:00");
        let utc = FixedOffset::east_opt(0).expect("valid offset");
        let t = parse_date_or_time("2028-02-28", utc).expect("valid");
        assert_eq!(t.to_rfc3339(), "2028-02-29T00:00:00+00:00");
        let t = parse_date_or_time("2026-12-31", utc).expect("valid");
        assert_eq!(t.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }

    #[test]
    fn rfc3339_is_exact() {
        let t = parse_date_or_time("2027-01-01T09:00:00+09:00", jst()).expect("valid");
        assert_eq!(t.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let t = parse_date_or_time("2027-01-01T00:00:00Z", jst()).expect("valid");
        assert_eq!(t.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }

    #[test]
    fn refused_dates() {
        for input in ["2027-01-01T09:00:00", "2027-01-01 09:00"] {
            assert!(
                matches!(
                    parse_date_or_time(input, jst()),
                    Err(ParseError::MissingOffset { .. })
                ),
                "{input}"
            );
        }
        for input in ["", "tomorrow", "2027-02-30", "2027-1-1x", "01/01/2027"] {
            assert!(
                matches!(
                    parse_date_or_time(input, jst()),
                    Err(ParseError::InvalidDate { .. })
                ),
                "{input}"
            );
        }
    }

    #[test]
    fn date_errors_say_what_to_write() {
        let msg = parse_date_or_time("2027-01-01T09:00:00", jst())
            .expect_err("no offset")
            .to_string();
        assert!(msg.contains("add +09:00 for JST or Z for UTC"), "{msg}");
        let msg = parse_date_or_time("next week", jst())
            .expect_err("bad")
            .to_string();
        assert!(msg.contains("like 2027-01-01T09:00:00+09:00"), "{msg}");
    }
}
