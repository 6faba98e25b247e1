//! A security profile's `schedule`: an RFC 5545 recurrence rule (RRULE), parsed and checked by
//! hand, and expanded into run times with DTSTART = the profile's `start_date`.
//!
//! # Accepted text
//!
//! An optional `RRULE:` prefix, then `NAME=VALUE` parts separated by `;`, at most 1000 bytes.
//! Names and values are case-insensitive; whitespace around the whole text is ignored (and not
//! stored), whitespace inside it is refused. Each part may appear once; unknown parts
//! (including `X-` extensions), empty parts and empty values are refused.
//!
//! - `FREQ` (required): `WEEKLY`, `MONTHLY`, `YEARLY`, or `DAILY` with `INTERVAL` of 7 or more.
//!   `SECONDLY`, `MINUTELY`, `HOURLY` and more frequent `DAILY` rules are refused as too
//!   frequent.
//! - `INTERVAL` 1..=1000; `COUNT` 1..=100000; not both `COUNT` and `UNTIL`.
//! - `UNTIL`: `YYYYMMDD` (the end of that day, 23:59:59 UTC) or `YYYYMMDDTHHMMSS` with or
//!   without `Z`, always UTC. Inclusive.
//! - `BYHOUR`, `BYMINUTE`, `BYSECOND` are refused: the time of day comes from `start_date`.
//! - `BYDAY`: `MO`..`SU`, with an optional non-zero ordinal (`-1FR`, `2TU`) only with
//!   `FREQ=MONTHLY` (−5..=5) or `FREQ=YEARLY` (−53..=53, not together with `BYWEEKNO`).
//! - `BYMONTHDAY` ±1..=31 (not with `WEEKLY`); `BYYEARDAY` ±1..=366 and `BYWEEKNO` ±1..=53
//!   (only with `YEARLY`); `BYMONTH` 1..=12; `BYSETPOS` ±1..=366, only with another `BY` part;
//!   `WKST` one of the weekdays (default `MO`). Lists hold at most 400 values.
//!
//! # Occurrences
//!
//! All times are UTC and every occurrence has DTSTART's time of day.
//!
//! 1. DTSTART is always the first occurrence and counts toward `COUNT`, even when it does not
//!    match the rule (RFC 5545, section 3.8.5.3). If DTSTART is after `UNTIL` there is no
//!    occurrence at all.
//! 2. Then come the rule's dates strictly after DTSTART's date, period by period: years for
//!    `YEARLY`, months for `MONTHLY`, weeks starting on `WKST` for `WEEKLY`, single days for
//!    `DAILY`. The first period is the one holding DTSTART, and each next one is `INTERVAL`
//!    periods later (so `DAILY;INTERVAL=10` runs every ten days from DTSTART).
//! 3. A period's dates are its days that pass every `BY` part given (the same result as RFC
//!    5545's expand/limit table for date parts):
//!    - `BYMONTH`: the month is listed.
//!    - `BYWEEKNO`: the day's week is listed; weeks start on `WKST`, week 1 is the first with
//!      at least four days in the year, negative numbers count from the year's last week.
//!      Only days of the period's year are taken.
//!    - `BYYEARDAY`, `BYMONTHDAY`: the day's place in its year or month; negative values
//!      count from the end (-1 = last day). A day a month does not have (the 31st of April)
//!      is skipped, never moved.
//!    - `BYDAY`: the weekday is listed; with an ordinal, the day must also be that nth (or nth
//!      from last) such weekday of its month when `FREQ=MONTHLY` or `FREQ=YEARLY` with
//!      `BYMONTH`, else of its year.
//! 4. When no part picks days within the period, DTSTART's place is used: `YEARLY` takes
//!    DTSTART's month and day (in each `BYMONTH` month if given), `MONTHLY` DTSTART's day of
//!    the month (so a rule started on the 31st skips shorter months), `WEEKLY` DTSTART's
//!    weekday.
//! 5. `BYSETPOS` then picks from the period's sorted dates (1 = first, -1 = last).
//! 6. The rule ends at `UNTIL` (inclusive), after `COUNT` occurrences, after year 9999, or
//!    when enough periods in a row have no date that the calendar's 400-year cycle shows
//!    none ever will (e.g. `FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30`).

mod expand;
mod rule;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDateTime, Utc};

pub use expand::Occurrences;

/// A validated recurrence rule, stored as the user gave it (less surrounding whitespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    rule: rule::Rule,
}

impl Schedule {
    /// Reads and checks a rule; see the module header for what is accepted.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        if text.len() > 1000 {
            return Err(ScheduleError::TooLong { len: text.len() });
        }
        let text = text.trim();
        let rule = rule::parse(text)?;
        Ok(Schedule {
            text: text.to_owned(),
            rule,
        })
    }

    /// The rule's text as given (surrounding whitespace removed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Err when the rule's UNTIL is before `start` (the profile's `start_date`).
    pub fn check_start(&self, start: DateTime<Utc>) -> Result<(), ScheduleError> {
        match self.rule.until {
            Some(until) if until < start.naive_utc() => Err(ScheduleError::UntilBeforeStart {
                until,
                start: start.naive_utc(),
            }),
            _ => Ok(()),
        }
    }

    /// Every run time in increasing order, with DTSTART = `start`; see the module header.
    pub fn occurrences(&self, start: DateTime<Utc>) -> Occurrences {
        Occurrences::new(&self.rule, start)
    }

    /// The profile's `next_run_time`: `start` when it is after `now`; otherwise the first
    /// occurrence strictly after `now`; None when the rule has no occurrence left.
    ///
    /// Without COUNT, the periods before `now` are skipped rather than expanded, so the cost
    /// does not grow with the time since `start`. With COUNT (at most 100000) every earlier
    /// occurrence is counted.
    pub fn next_run_time(&self, start: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut occurrences = self.occurrences(start);
        if now > start {
            occurrences.skip_to(now.date_naive());
        }
        occurrences.find(|at| *at > now)
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Schedule {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for Schedule {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Schedule, D::Error> {
        let text = String::deserialize(deserializer)?;
        Schedule::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Why a schedule was refused. Messages name the rule part at fault and what it allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the schedule is empty; give an RFC 5545 recurrence rule such as FREQ=WEEKLY")]
    Empty,
    #[error("the schedule is {len} bytes long; at most 1000 bytes are allowed")]
    TooLong { len: usize },
    #[error(
        "the schedule contains whitespace; write its parts as NAME=VALUE separated by `;`, \
         without spaces, such as FREQ=WEEKLY;BYDAY=MO"
    )]
    Whitespace,
    #[error(
        "the schedule has an empty part; separate NAME=VALUE parts with a single `;`, \
         with none at the start or end"
    )]
    EmptyPart,
    #[error("the schedule part `{part}` is not of the form NAME=VALUE, such as FREQ=WEEKLY")]
    MalformedPart { part: String },
    #[error(
        "`{name}` is not a supported schedule part; use FREQ, INTERVAL, COUNT, UNTIL, BYDAY, \
         BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS or WKST"
    )]
    UnknownPart { name: String },
    #[error("{part} is given more than once; give each schedule part at most once")]
    RepeatedPart { part: &'static str },
    #[error("{part} is not allowed in a schedule; the time of day comes from start_date")]
    TimeOfDayPart { part: &'static str },
    #[error("{part} has no value; give one or leave {part} out")]
    EmptyValue { part: &'static str },
    #[error("{part} has an empty item in its list; separate values with a single comma")]
    EmptyListItem { part: &'static str },
    #[error("{part} lists {len} values; at most 400 are allowed")]
    ListTooLong { part: &'static str, len: usize },
    #[error("{part} value `{value}` is not valid; {part} must be {expected}")]
    InvalidValue {
        part: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error(
        "FREQ is missing; every schedule needs FREQ=WEEKLY, FREQ=MONTHLY, FREQ=YEARLY, \
         or FREQ=DAILY with INTERVAL of 7 or more"
    )]
    MissingFreq,
    #[error(
        "FREQ={value} is not a known frequency; use WEEKLY, MONTHLY, YEARLY, or DAILY with \
         INTERVAL of 7 or more"
    )]
    UnknownFreq { value: String },
    #[error(
        "{rule} is more frequent than weekly; use WEEKLY, MONTHLY, YEARLY, or DAILY with \
         INTERVAL of 7 or more"
    )]
    TooFrequent { rule: String },
    #[error("COUNT and UNTIL cannot be used together; give at most one of them")]
    CountWithUntil,
    #[error("{part} cannot be used with FREQ={freq}; it is only allowed with {allowed}")]
    NotAllowedWithFreq {
        part: &'static str,
        freq: &'static str,
        allowed: &'static str,
    },
    #[error(
        "BYDAY value `{value}` has an ordinal, which cannot be used with FREQ={freq}; ordinals \
         are only allowed with FREQ=MONTHLY or FREQ=YEARLY, so use plain weekdays such as MO"
    )]
    OrdinalNotAllowed { value: String, freq: &'static str },
    #[error(
        "BYDAY value `{value}` has an ordinal, which cannot be combined with BYWEEKNO; use \
         plain weekdays such as MO"
    )]
    OrdinalWithWeekNo { value: String },
    #[error(
        "BYSETPOS needs another BY part to pick from (BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO \
         or BYMONTH)"
    )]
    BySetPosAlone,
    #[error(
        "UNTIL ({}) is before start_date ({}); the schedule would never run",
        .until.format("%Y-%m-%dT%H:%M:%SZ"),
        .start.format("%Y-%m-%dT%H:%M:%SZ")
    )]
    UntilBeforeStart {
        until: NaiveDateTime,
        start: NaiveDateTime,
    },
}

#[cfg(test)]
mod tests {

    use super::*;

    /// Test helpers, shared with the tests of the submodules.
    pub(super) fn at(text: &str) -> DateTime<Utc> {
        text.parse()
            .unwrap_or_else(|e| panic!("bad test time {text}: {e}"))
    }

    pub(super) fn schedule(text: &str) -> Schedule {
        Schedule::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    /// The dates of the first `n` occurrences, separated by spaces; every occurrence must have
    /// `start`'s time of day.
    pub(super) fn dates(rule: &str, start: &str, n: usize) -> String {
        let start = at(start);
        schedule(rule)
            .occurrences(start)
            .take(n)
            .map(|at| {
                assert_eq!(at.time(), start.time(), "{rule}: {at}");
                at.format("%Y-%m-%d").to_string()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(super) fn next(rule: &str, start: &str, now: &str) -> Option<DateTime<Utc>> {
        schedule(rule).next_run_time(at(start), at(now))
    }

    #[test]
    fn the_reference_examples_are_accepted() {
        for text in [
            "RRULE:FREQ=WEEKLY",
            "RRULE:FREQ=WEEKLY;BYDAY=MO",
            "RRULE:FREQ=WEEKLY;BYDAY=MO,FR",
        ] {
            assert_eq!(schedule(text).as_str(), text);
        }
    }

    #[test]
    fn the_prefix_is_optional_and_case_is_ignored() {
        let start = at("2025-03-03T09:00:00Z");
        let expected: Vec<_> = schedule("RRULE:FREQ=MONTHLY;BYDAY=-1FR")
            .occurrences(start)
            .take(5)
            .collect();
        for text in [
            "FREQ=MONTHLY;BYDAY=-1FR",
            "rrule:freq=monthly;byday=-1fr",
            "Rrule:Freq=Monthly;ByDay=-1Fr",
        ] {
            let got: Vec<_> = schedule(text).occurrences(start).take(5).collect();
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn the_text_is_kept_as_given_less_surrounding_whitespace() {
        let parsed = schedule("  rrule:freq=weekly;byday=mo,fr\n");
        assert_eq!(parsed.as_str(), "rrule:freq=weekly;byday=mo,fr");
        assert_eq!(parsed.to_string(), "rrule:freq=weekly;byday=mo,fr");
        assert_eq!(
            "FREQ=YEARLY".parse::<Schedule>().map(|s| s.to_string()),
            Ok("FREQ=YEARLY".to_owned())
        );
    }

    #[test]
    fn a_future_start_is_the_next_run_time_even_off_the_rule() {
        // 2030-01-02 is a Wednesday; DTSTART is the first occurrence all the same.
        let start = "2030-01-02T10:00:00Z";
        assert_eq!(
            next("FREQ=WEEKLY;BYDAY=MO", start, "2025-06-01T00:00:00Z"),
            Some(at(start))
        );
    }

    #[test]
    fn a_past_start_gives_the_first_occurrence_after_now_at_the_start_time_of_day() {
        let rule = "FREQ=WEEKLY;BYDAY=MO";
        let start = "2025-01-06T09:30:00Z";
        assert_eq!(
            next(rule, start, "2025-03-19T12:00:00Z"),
            Some(at("2025-03-24T09:30:00Z"))
        );
        assert_eq!(
            next(rule, start, "2025-03-24T08:00:00Z"),
            Some(at("2025-03-24T09:30:00Z"))
        );
    }

    #[test]
    fn now_exactly_on_an_occurrence_gives_the_one_after() {
        let rule = "FREQ=WEEKLY;BYDAY=MO";
        let start = "2025-01-06T09:30:00Z";
        assert_eq!(
            next(rule, start, "2025-03-24T09:30:00Z"),
            Some(at("2025-03-31T09:30:00Z"))
        );
        assert_eq!(next(rule, start, start), Some(at("2025-01-13T09:30:00Z")));
    }

    #[test]
    fn count_counts_dtstart_even_when_it_does_not_match() {
        // 2025-01-01 is a Wednesday.
        assert_eq!(
            dates("FREQ=WEEKLY;BYDAY=MO;COUNT=3", "2025-01-01T09:00:00Z", 10),
            "2025-01-01 2025-01-06 2025-01-13"
        );
    }

    #[test]
    fn an_exhausted_count_leaves_no_next_run_time() {
        let rule = "FREQ=WEEKLY;COUNT=3";
        let start = "2025-01-01T09:00:00Z";
        assert_eq!(
            next(rule, start, "2025-01-10T00:00:00Z"),
            Some(at("2025-01-15T09:00:00Z"))
        );
        assert_eq!(next(rule, start, "2025-01-15T09:00:00Z"), None);
        assert_eq!(next(rule, start, "2040-01-01T00:00:00Z"), None);
    }

    #[test]
    fn a_date_until_includes_that_whole_day() {
        assert_eq!(
            dates("FREQ=WEEKLY;UNTIL=20250115", "2025-01-01T23:00:00Z", 10),
            "2025-01-01 2025-01-08 2025-01-15"
        );
    }

    #[test]
    fn a_date_time_until_is_inclusive_and_utc_with_or_without_z() {
        let start = "2025-01-01T09:00:00Z";
        for until in ["20250115T090000Z", "20250115T090000"] {
            let rule = format!("FREQ=WEEKLY;UNTIL={until}");
            assert_eq!(dates(&rule, start, 10), "2025-01-01 2025-01-08 2025-01-15");
        }
        assert_eq!(
            dates("FREQ=WEEKLY;UNTIL=20250115T085959Z", start, 10),
            "2025-01-01 2025-01-08"
        );
    }

    #[test]
    fn a_passed_until_leaves_no_next_run_time() {
        let rule = "FREQ=WEEKLY;UNTIL=20250115";
        let start = "2025-01-01T09:00:00Z";
        assert_eq!(
            next(rule, start, "2025-01-14T00:00:00Z"),
            Some(at("2025-01-15T09:00:00Z"))
        );
        assert_eq!(next(rule, start, "2025-01-15T09:00:00Z"), None);
        assert_eq!(next(rule, start, "2026-01-01T00:00:00Z"), None);
    }

    #[test]
    fn check_start_refuses_an_until_before_the_start() {
        let rule = schedule("FREQ=WEEKLY;UNTIL=20250115T090000Z");
        assert_eq!(rule.check_start(at("2025-01-15T09:00:00Z")), Ok(()));
        let err = rule.check_start(at("2025-01-15T09:00:01Z")).unwrap_err();
        assert!(matches!(err, ScheduleError::UntilBeforeStart { .. }));
        assert_eq!(
            err.to_string(),
            "UNTIL (2025-01-15T09:00:00Z) is before start_date (2025-01-15T09:00:01Z); the \
             schedule would never run"
        );
        // A date UNTIL runs to the end of its day.
        assert_eq!(
            schedule("FREQ=WEEKLY;UNTIL=20250115").check_start(at("2025-01-15T23:00:00Z")),
            Ok(())
        );
        assert_eq!(
            schedule("FREQ=WEEKLY").check_start(at("2099-01-01T00:00:00Z")),
            Ok(())
        );
    }

    #[test]
    fn a_start_after_until_has_no_occurrence() {
        let rule = schedule("FREQ=WEEKLY;UNTIL=20250115");
        assert_eq!(rule.occurrences(at("2025-02-01T00:00:00Z")).next(), None);
        assert_eq!(
            rule.next_run_time(at("2025-02-01T00:00:00Z"), at("2025-01-01T00:00:00Z")),
            None
        );
    }

    #[test]
    fn next_run_time_of_an_old_weekly_rule_lands_on_the_right_day() {
        let rule = schedule("FREQ=WEEKLY;BYDAY=MO,TH");
        let (start, now) = (at("1970-01-01T06:00:00Z"), at("2025-03-19T12:00:00Z"));
        assert_eq!(
            rule.next_run_time(start, now),
            Some(at("2025-03-20T06:00:00Z"))
        );
    }

    #[test]
    fn next_run_time_agrees_with_walking_every_occurrence() {
        let start = at("2020-02-29T08:15:00Z");
        for rule in [
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=TU,SA;WKST=SU",
            "FREQ=MONTHLY;INTERVAL=5;BYDAY=-2FR",
            "FREQ=YEARLY;INTERVAL=2;BYWEEKNO=9",
            "FREQ=DAILY;INTERVAL=11",
        ] {
            let rule = schedule(rule);
            for now in [
                "2020-02-29T08:15:00Z",
                "2021-07-04T00:00:00Z",
                "2024-03-01T08:15:00Z",
                "2031-12-31T23:59:59Z",
            ] {
                let now = at(now);
                let walked = rule.occurrences(start).find(|at| *at > now);
                assert_eq!(rule.next_run_time(start, now), walked, "{rule} at {now}");
            }
        }
    }

    #[test]
    fn a_schedule_deserializes_from_a_string_through_parse() {
        // serde_json is not a dependency of this crate; check through the serde value model.
        use serde::de::value::{Error, StrDeserializer};
        use serde::de::IntoDeserializer;
        use serde::Deserialize;
        let ok: StrDeserializer<Error> = "RRULE:FREQ=WEEKLY".into_deserializer();
        assert_eq!(
            Schedule::deserialize(ok).map(|s| s.to_string()),
            Ok("RRULE:FREQ=WEEKLY".to_owned())
        );
        let bad: StrDeserializer<Error> = "FREQ=HOURLY".into_deserializer();
        assert!(Schedule::deserialize(bad)
            .unwrap_err()
            .to_string()
            .contains("FREQ=HOURLY"));
    }
}
