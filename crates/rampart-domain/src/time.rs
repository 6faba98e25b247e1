//! Timestamps on the wire: output is UTC RFC 3339 with `Z` and whole seconds; input accepts RFC
//! 3339 with any offset, the short form without seconds (`2025-02-28T12:34Z`), a date-time with no
//! offset (taken as UTC) and a bare date (`2025-02-26`, midnight UTC). Years are four digits,
//! 1970 to 9999.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};

/// A timestamp given by a user, with whether it was a bare date (a bare `end_date` covers the
/// whole day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputTime {
    pub at: DateTime<Utc>,
    pub bare_date: bool,
}

/// The input could not be read as a date or date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a date or date-time; use ISO 8601 such as 2025-03-29T12:00:00Z, 2025-03-29T12:00Z or 2025-03-29")]
pub struct TimeError(pub String);

/// Parses a user-given timestamp; sub-second digits are dropped.
pub fn parse_input_time(text: &str) -> Result<InputTime, TimeError> {
    let bad = || TimeError(text.chars().take(64).collect());
    let trimmed = text.trim();
    // chrono reads any number of year digits and a sign; the API takes four digits, 1970–9999.
    let four_digit_year = trimmed.len() >= 10
        && trimmed.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && trimmed.as_bytes()[4] == b'-'
        && trimmed[..4] >= *"1970";
    if trimmed.len() > 64 || !four_digit_year {
        return Err(bad());
    }
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        let at = date.and_hms_opt(0, 0, 0).ok_or_else(bad)?.and_utc();
        return Ok(InputTime {
            at,
            bare_date: true,
        });
    }
    // chrono reads `23:59:60` as a leap second: refused, as no run can start then.
    let at = parse_date_time(trimmed)
        .filter(|at| (1970..=9999).contains(&at.year()) && at.nanosecond() < 1_000_000_000)
        .ok_or_else(bad)?;
    Ok(InputTime {
        at: whole_seconds(at),
        bare_date: false,
    })
}

fn parse_date_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    // Short forms: no seconds, and/or no offset (UTC), and `z` in lower case.
    let upper = text.replace(['t', ' '], "T").replace('z', "Z");
    for format in ["%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%MZ"] {
        if let Ok(at) = DateTime::parse_from_str(&upper, format) {
            return Some(at.with_timezone(&Utc));
        }
    }
    if let Some(naive) = upper.strip_suffix('Z') {
        if let Ok(at) = NaiveDateTime::parse_from_str(naive, "%Y-%m-%dT%H:%M") {
            return Some(at.and_utc());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(&upper, format) {
            return Some(at.and_utc());
        }
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(&upper) {
        return Some(at.with_timezone(&Utc));
    }
    None
}

/// Drops the sub-second part: every stored and shown time has whole seconds.
pub fn whole_seconds(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_nanosecond(0).unwrap_or(at)
}

/// Formats a time as the API shows it: `2025-03-18T16:34:51Z`.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Serde helpers so response types can hold `DateTime<Utc>` and print the API's format.
pub mod serde_time {
    use chrono::{DateTime, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_time(*at))
    }

    pub mod option {
        use chrono::{DateTime, Utc};
        use serde::Serializer;

        pub fn serialize<S: Serializer>(
            at: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.serialize_str(&super::super::format_time(*at)),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn every_documented_input_form_is_read_as_utc() {
        let cases = [
            ("2025-03-29T12:00:00Z", utc(2025, 3, 29, 12, 0, 0), false),
            (
                "2025-03-29T14:00:00+02:00",
                utc(2025, 3, 29, 12, 0, 0),
                false,
            ),
            (
                "2025-03-29T12:00:00.987Z",
                utc(2025, 3, 29, 12, 0, 0),
                false,
            ),
            ("2025-02-28T12:34Z", utc(2025, 2, 28, 12, 34, 0), false),
            ("2025-02-28T12:34+01:00", utc(2025, 2, 28, 11, 34, 0), false),
            ("2025-02-28T12:34:56", utc(2025, 2, 28, 12, 34, 56), false),
            ("2025-02-28 12:34:56z", utc(2025, 2, 28, 12, 34, 56), false),
            ("2025-02-26", utc(2025, 2, 26, 0, 0, 0), true),
            ("2024-02-29", utc(2024, 2, 29, 0, 0, 0), true),
        ];
        for (text, at, bare_date) in cases {
            assert_eq!(
                parse_input_time(text),
                Ok(InputTime { at, bare_date }),
                "{text}"
            );
        }
    }

    #[test]
    fn impossible_or_malformed_times_are_refused_with_the_text() {
        for text in [
            "",
            "tomorrow",
            "2025-02-30",
            "2023-02-29",
            "2025-13-01",
            "2025-03-29T25:00Z",
            "2025/03/29",
            "1743249600",
            "2025-03-29T12",
            "2025-03-29T12:00:00+25:00",
        ] {
            let err = parse_input_time(text).expect_err(text);
            assert!(err.to_string().contains(text), "{err}");
        }
    }

    #[test]
    fn output_has_whole_seconds_and_z() {
        let at = utc(2025, 3, 18, 16, 34, 51) + chrono::Duration::milliseconds(250);
        assert_eq!(format_time(at), "2025-03-18T16:34:51Z");
    }
}
