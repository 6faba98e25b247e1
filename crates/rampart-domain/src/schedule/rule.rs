//! Reading the text of a recurrence rule into a [`Rule`], with every check that can be made
//! without knowing DTSTART.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::ScheduleError;

/// Most values accepted in one comma-separated list.
const MAX_LIST_LEN: usize = 400;
/// Longest piece of user text quoted back in an error message.
const MAX_QUOTE_LEN: usize = 40;

/// How often the rule's periods come. Only the frequencies a schedule may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Freq {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Freq {
    fn name(self) -> &'static str {
        match self {
            Freq::Daily => "DAILY",
            Freq::Weekly => "WEEKLY",
            Freq::Monthly => "MONTHLY",
            Freq::Yearly => "YEARLY",
        }
    }
}

/// One BYDAY value: a weekday, with an ordinal (`-1FR`, `2TU`) or without (`MO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ByDay {
    pub ordinal: Option<i32>,
    pub weekday: u32,
}

impl std::fmt::Display for ByDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(ordinal) = self.ordinal {
            write!(f, "{ordinal}")?;
        }
        f.write_str(WEEKDAYS[self.weekday as usize])
    }
}

/// A parsed recurrence rule. Lists are sorted and free of duplicates; an empty list means the
/// part was not given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Rule {
    pub freq: Freq,
    pub interval: u32,
    pub count: Option<u32>,
    /// The last moment an occurrence may fall on (inclusive), UTC.
    pub until: Option<NaiveDateTime>,
    pub by_month: Vec<i32>,
    pub by_week_no: Vec<i32>,
    pub by_year_day: Vec<i32>,
    pub by_month_day: Vec<i32>,
    pub by_day: Vec<ByDay>,
    pub by_set_pos: Vec<i32>,
    /// Week start, days from Monday.
    pub wkst: u32,
}

/// The rule part names, as they appear in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Freq,
    Interval,
    Count,
    Until,
    BySecond,
    ByMinute,
    ByHour,
    ByDay,
    ByMonthDay,
    ByYearDay,
    ByWeekNo,
    ByMonth,
    BySetPos,
    Wkst,
}

impl Part {
    const ALL: [Part; 14] = [
        Part::Freq,
        Part::Interval,
        Part::Count,
        Part::Until,
        Part::BySecond,
        Part::ByMinute,
        Part::ByHour,
        Part::ByDay,
        Part::ByMonthDay,
        Part::ByYearDay,
        Part::ByWeekNo,
        Part::ByMonth,
        Part::BySetPos,
        Part::Wkst,
    ];

    fn name(self) -> &'static str {
        match self {
            Part::Freq => "FREQ",
            Part::Interval => "INTERVAL",
            Part::Count => "COUNT",
            Part::Until => "UNTIL",
            Part::BySecond => "BYSECOND",
            Part::ByMinute => "BYMINUTE",
            Part::ByHour => "BYHOUR",
            Part::ByDay => "BYDAY",
            Part::ByMonthDay => "BYMONTHDAY",
            Part::ByYearDay => "BYYEARDAY",
            Part::ByWeekNo => "BYWEEKNO",
            Part::ByMonth => "BYMONTH",
            Part::BySetPos => "BYSETPOS",
            Part::Wkst => "WKST",
        }
    }
}

const WEEKDAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

const EXPECT_INTERVAL: &str = "a whole number from 1 to 1000";
const EXPECT_COUNT: &str = "a whole number from 1 to 100000";
const EXPECT_UNTIL: &str = "a date YYYYMMDD or a UTC date-time YYYYMMDDTHHMMSS or \
     YYYYMMDDTHHMMSSZ, such as 20251231 or 20251231T235959Z";
const EXPECT_BYDAY: &str = "a list of weekdays MO, TU, WE, TH, FR, SA or SU, each optionally \
     preceded by a non-zero ordinal from -53 to 53, such as MO,FR or 1MO or -1FR";
const EXPECT_BYDAY_MONTHLY: &str = "a weekday with an ordinal from 1 to 5 or -5 to -1 when \
     FREQ=MONTHLY, since a month has at most five of each weekday";
const EXPECT_BYMONTHDAY: &str = "a list of days of the month from 1 to 31, or -31 to -1 to count \
     from the month's end";
const EXPECT_BYYEARDAY: &str = "a list of days of the year from 1 to 366, or -366 to -1 to count \
     from the year's end";
const EXPECT_BYWEEKNO: &str = "a list of week numbers from 1 to 53, or -53 to -1 to count from \
     the year's end";
const EXPECT_BYMONTH: &str = "a list of month numbers from 1 to 12";
const EXPECT_BYSETPOS: &str = "a list of positions from 1 to 366, or -366 to -1 to count from \
     the end";
const EXPECT_WKST: &str = "one of MO, TU, WE, TH, FR, SA or SU";

/// The rule parts as read from the text, before the checks between parts.
#[derive(Default)]
struct Draft {
    seen: Vec<Part>,
    freq: Option<String>,
    interval: Option<u32>,
    count: Option<u32>,
    until: Option<NaiveDateTime>,
    by_month: Vec<i32>,
    by_week_no: Vec<i32>,
    by_year_day: Vec<i32>,
    by_month_day: Vec<i32>,
    by_day: Vec<ByDay>,
    by_set_pos: Vec<i32>,
    wkst: Option<u32>,
}

/// Reads a rule's text (already trimmed and no longer than allowed). See the module header of
/// `schedule` for the syntax.
pub(super) fn parse(text: &str) -> Result<Rule, ScheduleError> {
    let body = match text.get(..6) {
        Some(prefix) if prefix.eq_ignore_ascii_case("RRULE:") => &text[6..],
        _ => text,
    };
    if body.is_empty() {
        return Err(ScheduleError::Empty);
    }
    if body.chars().any(char::is_whitespace) {
        return Err(ScheduleError::Whitespace);
    }
    let body = body.to_ascii_uppercase();
    let mut draft = Draft::default();
    for item in body.split(';') {
        read_part(&mut draft, item)?;
    }
    finish(draft)
}

fn read_part(draft: &mut Draft, item: &str) -> Result<(), ScheduleError> {
    if item.is_empty() {
        return Err(ScheduleError::EmptyPart);
    }
    let malformed = || ScheduleError::MalformedPart { part: quote(item) };
    let (name, value) = item.split_once('=').ok_or_else(malformed)?;
    if name.is_empty() {
        return Err(malformed());
    }
    let part = Part::ALL
        .into_iter()
        .find(|part| part.name() == name)
        .ok_or_else(|| ScheduleError::UnknownPart { name: quote(name) })?;
    if draft.seen.contains(&part) {
        return Err(ScheduleError::RepeatedPart { part: part.name() });
    }
    draft.seen.push(part);
    let invalid = |expected: &'static str| ScheduleError::InvalidValue {
        part: part.name(),
        value: quote(value),
        expected,
    };
    match part {
        Part::BySecond | Part::ByMinute | Part::ByHour => {
            return Err(ScheduleError::TimeOfDayPart { part: part.name() })
        }
        _ if value.is_empty() => return Err(ScheduleError::EmptyValue { part: part.name() }),
        Part::Freq => draft.freq = Some(value.to_owned()),
        Part::Interval => {
            draft.interval =
                Some(parse_number(value, 1000).ok_or_else(|| invalid(EXPECT_INTERVAL))?)
        }
        Part::Count => {
            draft.count = Some(parse_number(value, 100_000).ok_or_else(|| invalid(EXPECT_COUNT))?)
        }
        Part::Until => draft.until = Some(parse_until(value).ok_or_else(|| invalid(EXPECT_UNTIL))?),
        Part::ByDay => draft.by_day = parse_list(part, value, EXPECT_BYDAY, parse_by_day)?,
        Part::ByMonthDay => {
            draft.by_month_day = parse_list(part, value, EXPECT_BYMONTHDAY, |v| signed(v, 31))?
        }
        Part::ByYearDay => {
            draft.by_year_day = parse_list(part, value, EXPECT_BYYEARDAY, |v| signed(v, 366))?
        }
        Part::ByWeekNo => {
            draft.by_week_no = parse_list(part, value, EXPECT_BYWEEKNO, |v| signed(v, 53))?
        }
        Part::ByMonth => {
            draft.by_month = parse_list(part, value, EXPECT_BYMONTH, |v| {
                parse_number(v, 12).map(|n| n as i32)
            })?
        }
        Part::BySetPos => {
            draft.by_set_pos = parse_list(part, value, EXPECT_BYSETPOS, |v| signed(v, 366))?
        }
        Part::Wkst => draft.wkst = Some(weekday(value).ok_or_else(|| invalid(EXPECT_WKST))?),
    }
    Ok(())
}

/// The checks between parts, once all are read.
fn finish(draft: Draft) -> Result<Rule, ScheduleError> {
    let freq_text = draft.freq.ok_or(ScheduleError::MissingFreq)?;
    let freq = match freq_text.as_str() {
        "DAILY" => Freq::Daily,
        "WEEKLY" => Freq::Weekly,
        "MONTHLY" => Freq::Monthly,
        "YEARLY" => Freq::Yearly,
        "SECONDLY" | "MINUTELY" | "HOURLY" => {
            return Err(ScheduleError::TooFrequent {
                rule: format!("FREQ={freq_text}"),
            })
        }
        _ => {
            return Err(ScheduleError::UnknownFreq {
                value: quote(&freq_text),
            })
        }
    };
    let interval = draft.interval.unwrap_or(1);
    if freq == Freq::Daily && interval < 7 {
        let rule = match draft.interval {
            Some(interval) => format!("FREQ=DAILY;INTERVAL={interval}"),
            None => "FREQ=DAILY".to_owned(),
        };
        return Err(ScheduleError::TooFrequent { rule });
    }
    if draft.count.is_some() && draft.until.is_some() {
        return Err(ScheduleError::CountWithUntil);
    }
    let only_with = |part: Part, allowed: &'static str| ScheduleError::NotAllowedWithFreq {
        part: part.name(),
        freq: freq.name(),
        allowed,
    };
    if !draft.by_week_no.is_empty() && freq != Freq::Yearly {
        return Err(only_with(Part::ByWeekNo, "FREQ=YEARLY"));
    }
    if !draft.by_year_day.is_empty() && freq != Freq::Yearly {
        return Err(only_with(Part::ByYearDay, "FREQ=YEARLY"));
    }
    if !draft.by_month_day.is_empty() && freq == Freq::Weekly {
        return Err(only_with(
            Part::ByMonthDay,
            "FREQ=MONTHLY, FREQ=YEARLY or FREQ=DAILY (use BYDAY to pick days of the week)",
        ));
    }
    let with_ordinal = |max: i32| {
        draft
            .by_day
            .iter()
            .find(|d| d.ordinal.is_some_and(|n| n.abs() > max))
    };
    if let Some(day) = with_ordinal(0) {
        let value = day.to_string();
        match freq {
            Freq::Monthly => {
                if let Some(day) = with_ordinal(5) {
                    return Err(ScheduleError::InvalidValue {
                        part: Part::ByDay.name(),
                        value: day.to_string(),
                        expected: EXPECT_BYDAY_MONTHLY,
                    });
                }
            }
            Freq::Yearly if !draft.by_week_no.is_empty() => {
                return Err(ScheduleError::OrdinalWithWeekNo { value });
            }
            Freq::Yearly => {}
            Freq::Daily | Freq::Weekly => {
                return Err(ScheduleError::OrdinalNotAllowed {
                    value,
                    freq: freq.name(),
                });
            }
        }
    }
    let has_other_by_part = !(draft.by_month.is_empty()
        && draft.by_week_no.is_empty()
        && draft.by_year_day.is_empty()
        && draft.by_month_day.is_empty()
        && draft.by_day.is_empty());
    if !draft.by_set_pos.is_empty() && !has_other_by_part {
        return Err(ScheduleError::BySetPosAlone);
    }
    Ok(Rule {
        freq,
        interval,
        count: draft.count,
        until: draft.until,
        by_month: draft.by_month,
        by_week_no: draft.by_week_no,
        by_year_day: draft.by_year_day,
        by_month_day: draft.by_month_day,
        by_day: draft.by_day,
        by_set_pos: draft.by_set_pos,
        wkst: draft.wkst.unwrap_or(0),
    })
}

/// Reads a comma-separated list; the result is sorted and without duplicates.
fn parse_list<T: Ord>(
    part: Part,
    value: &str,
    expected: &'static str,
    read: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ScheduleError> {
    let len = value.split(',').count();
    if len > MAX_LIST_LEN {
        return Err(ScheduleError::ListTooLong {
            part: part.name(),
            len,
        });
    }
    let mut items = Vec::with_capacity(len);
    for item in value.split(',') {
        if item.is_empty() {
            return Err(ScheduleError::EmptyListItem { part: part.name() });
        }
        let parsed = read(item).ok_or_else(|| ScheduleError::InvalidValue {
            part: part.name(),
            value: quote(item),
            expected,
        })?;
        items.push(parsed);
    }
    items.sort();
    items.dedup();
    Ok(items)
}

/// Reads an unsigned whole number from 1 to `max`; signs are refused.
fn parse_number(text: &str, max: u32) -> Option<u32> {
    // Nine digits fit in a u32; `str::parse` alone would also accept a leading `+`.
    if text.is_empty() || text.len() > 9 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number: u32 = text.parse().ok()?;
    (1..=max).contains(&number).then_some(number)
}

/// Reads a non-zero whole number from `-max` to `max`, with an optional sign.
fn signed(text: &str, max: u32) -> Option<i32> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'+') => (false, &text[1..]),
        Some(b'-') => (true, &text[1..]),
        _ => (false, text),
    };
    let number = parse_number(digits, max)? as i32;
    Some(if negative { -number } else { number })
}

fn weekday(text: &str) -> Option<u32> {
    WEEKDAYS
        .iter()
        .position(|day| *day == text)
        .map(|i| i as u32)
}

/// Reads one BYDAY value, `[+|-][n]DD`. Whether an ordinal is allowed depends on FREQ and is
/// checked in [`finish`].
fn parse_by_day(text: &str) -> Option<ByDay> {
    let split = text.len().checked_sub(2)?;
    let (ordinal, day) = (text.get(..split)?, text.get(split..)?);
    let weekday = weekday(day)?;
    let ordinal = if ordinal.is_empty() {
        None
    } else {
        Some(signed(ordinal, 53)?)
    };
    Some(ByDay { ordinal, weekday })
}

/// Reads UNTIL: `YYYYMMDD` (the end of that day) or `YYYYMMDDTHHMMSS`, optionally with `Z`;
/// either way UTC.
fn parse_until(text: &str) -> Option<NaiveDateTime> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time.strip_suffix('Z').unwrap_or(time))),
        None => (text, None),
    };
    let digits =
        |text: &str, len: usize| text.len() == len && text.bytes().all(|b| b.is_ascii_digit());
    let number = |text: &str, range: std::ops::Range<usize>| text[range].parse::<u32>().ok();
    if !digits(date, 8) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        number(date, 0..4)? as i32,
        number(date, 4..6)?,
        number(date, 6..8)?,
    )?;
    let time = match time {
        None => NaiveTime::from_hms_opt(23, 59, 59)?,
        Some(time) if digits(time, 6) => NaiveTime::from_hms_opt(
            number(time, 0..2)?,
            number(time, 2..4)?,
            number(time, 4..6)?,
        )?,
        Some(_) => return None,
    };
    Some(date.and_time(time))
}

/// User text for an error message, cut short if long.
fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTE_LEN {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX_QUOTE_LEN).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use crate::schedule::{Schedule, ScheduleError as E};

    /// A valid rule of exactly 1000 bytes.
    fn longest_rule() -> String {
        let rule = format!("FREQ=YEARLY;BYYEARDAY={},100", vec!["-366"; 195].join(","));
        assert_eq!(rule.len(), 1000);
        rule
    }

    #[test]
    fn every_part_is_accepted_within_its_range() {
        let long_list = vec!["1"; 400].join(",");
        for text in [
            "FREQ=YEARLY;INTERVAL=1000;BYMONTH=1,12;BYWEEKNO=-53,53;BYYEARDAY=-366,366;\
             BYMONTHDAY=-31,31;BYDAY=MO,SU;BYSETPOS=-366,366;WKST=SU",
            "FREQ=MONTHLY;BYDAY=+5MO,-5SU,1TU,TU",
            "FREQ=YEARLY;BYDAY=53MO,-53FR",
            "FREQ=YEARLY;BYMONTH=5;BYDAY=-1MO",
            "FREQ=WEEKLY;COUNT=100000",
            "FREQ=WEEKLY;COUNT=1",
            "FREQ=DAILY;INTERVAL=7",
            "FREQ=DAILY;INTERVAL=1000;BYMONTHDAY=1;BYDAY=MO;BYMONTH=3",
            "FREQ=MONTHLY;UNTIL=20251231",
            "FREQ=MONTHLY;UNTIL=20251231T235959",
            "FREQ=MONTHLY;UNTIL=20251231T235959Z",
            "freq=monthly;until=20251231t235959z",
            "FREQ=WEEKLY;BYDAY=MO,MO,mo",
            "FREQ=WEEKLY;BYMONTH=1;BYSETPOS=1",
            "FREQ=WEEKLY;INTERVAL=001",
            &format!("FREQ=MONTHLY;BYMONTHDAY={long_list}"),
            &longest_rule(),
        ] {
            assert!(
                Schedule::parse(text).is_ok(),
                "{text}: {:?}",
                Schedule::parse(text)
            );
        }
    }

    /// Asserts that each text is refused with a message that starts as given.
    fn assert_refused(cases: &[(&str, &str)]) {
        for (text, message) in cases {
            match Schedule::parse(text) {
                Err(err) => assert!(err.to_string().starts_with(message), "{text}: {err}"),
                Ok(_) => panic!("{text} must be refused with: {message}"),
            }
        }
    }

    #[test]
    fn malformed_text_is_refused_with_an_error_naming_what_is_wrong() {
        let too_long = format!("{}0", longest_rule());
        let too_many = format!("FREQ=MONTHLY;BYMONTHDAY={}", vec!["1"; 401].join(","));
        assert_refused(&[
            (
                "",
                "the schedule is empty; give an RFC 5545 recurrence rule",
            ),
            ("  \t", "the schedule is empty"),
            ("RRULE:", "the schedule is empty"),
            (
                &too_long,
                "the schedule is 1001 bytes long; at most 1000 bytes are allowed",
            ),
            ("FREQ=WEEKLY; BYDAY=MO", "the schedule contains whitespace"),
            ("FREQ = WEEKLY", "the schedule contains whitespace"),
            ("FREQ=WEEKLY;", "the schedule has an empty part"),
            (";FREQ=WEEKLY", "the schedule has an empty part"),
            ("FREQ=WEEKLY;;BYDAY=MO", "the schedule has an empty part"),
            (
                "FREQ=WEEKLY;BYDAY",
                "the schedule part `BYDAY` is not of the form NAME=VALUE",
            ),
            (
                "=WEEKLY",
                "the schedule part `=WEEKLY` is not of the form NAME=VALUE",
            ),
            (
                "FREQ=WEEKLY;FOO=1",
                "`FOO` is not a supported schedule part; use FREQ,",
            ),
            (
                "FREQ=WEEKLY;X-NAME=1",
                "`X-NAME` is not a supported schedule part",
            ),
            (
                "FREQ=WEEKLY;DTSTART=1",
                "`DTSTART` is not a supported schedule part",
            ),
            ("FREQ=WEEKLY;freq=MONTHLY", "FREQ is given more than once"),
            (
                "FREQ=WEEKLY;BYDAY=MO;BYDAY=TU",
                "BYDAY is given more than once",
            ),
            ("FREQ=", "FREQ has no value"),
            ("FREQ=WEEKLY;BYDAY=", "BYDAY has no value"),
            (
                "FREQ=WEEKLY;BYDAY=MO,,FR",
                "BYDAY has an empty item in its list",
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO,",
                "BYDAY has an empty item in its list",
            ),
            (
                &too_many,
                "BYMONTHDAY lists 401 values; at most 400 are allowed",
            ),
            ("BYDAY=MO", "FREQ is missing"),
            (
                "FREQ=FORTNIGHTLY",
                "FREQ=FORTNIGHTLY is not a known frequency; use WEEKLY,",
            ),
        ]);
    }

    #[test]
    fn time_of_day_parts_are_refused_because_start_date_sets_the_time() {
        for part in ["BYHOUR", "BYMINUTE", "BYSECOND"] {
            let err = Schedule::parse(&format!("FREQ=WEEKLY;{part}=0")).unwrap_err();
            assert_eq!(err, E::TimeOfDayPart { part });
            assert_eq!(
                err.to_string(),
                format!(
                    "{part} is not allowed in a schedule; the time of day comes from start_date"
                )
            );
        }
    }

    #[test]
    fn unreadable_or_out_of_range_values_are_refused_naming_the_part_and_value() {
        // (the text, the part at fault, the value quoted back)
        let cases = [
            ("FREQ=WEEKLY;INTERVAL=0", "INTERVAL", "0"),
            ("FREQ=WEEKLY;INTERVAL=-1", "INTERVAL", "-1"),
            ("FREQ=WEEKLY;INTERVAL=+2", "INTERVAL", "+2"),
            ("FREQ=WEEKLY;INTERVAL=two", "INTERVAL", "TWO"),
            ("FREQ=WEEKLY;INTERVAL=1001", "INTERVAL", "1001"),
            ("FREQ=WEEKLY;INTERVAL=1.5", "INTERVAL", "1.5"),
            (
                "FREQ=WEEKLY;INTERVAL=99999999999999999999",
                "INTERVAL",
                "99999999999999999999",
            ),
            ("FREQ=WEEKLY;COUNT=0", "COUNT", "0"),
            ("FREQ=WEEKLY;COUNT=100001", "COUNT", "100001"),
            ("FREQ=WEEKLY;COUNT=-5", "COUNT", "-5"),
            ("FREQ=WEEKLY;COUNT=+5", "COUNT", "+5"),
            ("FREQ=WEEKLY;UNTIL=20250230", "UNTIL", "20250230"),
            ("FREQ=WEEKLY;UNTIL=2025123", "UNTIL", "2025123"),
            ("FREQ=WEEKLY;UNTIL=2025-12-31", "UNTIL", "2025-12-31"),
            (
                "FREQ=WEEKLY;UNTIL=20251231T240000Z",
                "UNTIL",
                "20251231T240000Z",
            ),
            ("FREQ=WEEKLY;UNTIL=20251231T2359", "UNTIL", "20251231T2359"),
            ("FREQ=WEEKLY;UNTIL=20251231Z", "UNTIL", "20251231Z"),
            (
                "FREQ=WEEKLY;UNTIL=20251231T235959+0100",
                "UNTIL",
                "20251231T235959+0100",
            ),
            ("FREQ=WEEKLY;BYDAY=MO,XX", "BYDAY", "XX"),
            ("FREQ=MONTHLY;BYDAY=0MO", "BYDAY", "0MO"),
            ("FREQ=MONTHLY;BYDAY=+MO", "BYDAY", "+MO"),
            ("FREQ=WEEKLY;BYDAY=M", "BYDAY", "M"),
            ("FREQ=YEARLY;BYDAY=54MO", "BYDAY", "54MO"),
            ("FREQ=MONTHLY;BYDAY=MO,-6MO", "BYDAY", "-6MO"),
            ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY", "0"),
            ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY", "32"),
            ("FREQ=MONTHLY;BYMONTHDAY=-32", "BYMONTHDAY", "-32"),
            ("FREQ=YEARLY;BYYEARDAY=0", "BYYEARDAY", "0"),
            ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY", "367"),
            ("FREQ=YEARLY;BYWEEKNO=0", "BYWEEKNO", "0"),
            ("FREQ=YEARLY;BYWEEKNO=-54", "BYWEEKNO", "-54"),
            ("FREQ=YEARLY;BYMONTH=0", "BYMONTH", "0"),
            ("FREQ=YEARLY;BYMONTH=13", "BYMONTH", "13"),
            ("FREQ=YEARLY;BYMONTH=-1", "BYMONTH", "-1"),
            ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS", "0"),
            ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-367", "BYSETPOS", "-367"),
            ("FREQ=WEEKLY;WKST=XX", "WKST", "XX"),
            ("FREQ=WEEKLY;WKST=MO,TU", "WKST", "MO,TU"),
        ];
        for (text, part, value) in cases {
            let err = Schedule::parse(text).expect_err(text);
            assert!(
                matches!(&err, E::InvalidValue { part: p, value: v, .. } if *p == part && v == value),
                "{text} must be refused as a bad {part} value `{value}`, got {err:?}"
            );
            let start = format!("{part} value `{value}` is not valid; {part} must be ");
            assert!(err.to_string().starts_with(&start), "{err}");
        }
        // Where a range applies, the message gives it.
        for (text, range) in [
            ("FREQ=WEEKLY;INTERVAL=0", "1 to 1000"),
            ("FREQ=WEEKLY;COUNT=0", "1 to 100000"),
            ("FREQ=WEEKLY;UNTIL=1", "YYYYMMDDTHHMMSS"),
            ("FREQ=WEEKLY;BYDAY=XX", "MO, TU, WE, TH, FR, SA or SU"),
            (
                "FREQ=MONTHLY;BYDAY=6MO",
                "from 1 to 5 or -5 to -1 when FREQ=MONTHLY",
            ),
            ("FREQ=MONTHLY;BYMONTHDAY=0", "from 1 to 31"),
            ("FREQ=YEARLY;BYYEARDAY=0", "from 1 to 366"),
            ("FREQ=YEARLY;BYWEEKNO=0", "from 1 to 53"),
            ("FREQ=YEARLY;BYMONTH=0", "from 1 to 12"),
            ("FREQ=YEARLY;BYMONTH=1;BYSETPOS=0", "from 1 to 366"),
            ("FREQ=WEEKLY;WKST=XX", "one of MO, TU, WE, TH, FR, SA or SU"),
        ] {
            let message = Schedule::parse(text).unwrap_err().to_string();
            assert!(message.contains(range), "{text}: {message}");
        }
    }

    #[test]
    fn parts_that_do_not_fit_together_are_refused() {
        assert_refused(&[
            (
                "FREQ=WEEKLY;COUNT=5;UNTIL=20301231",
                "COUNT and UNTIL cannot be used together",
            ),
            (
                "FREQ=WEEKLY;BYMONTHDAY=1",
                "BYMONTHDAY cannot be used with FREQ=WEEKLY",
            ),
            (
                "FREQ=MONTHLY;BYYEARDAY=100",
                "BYYEARDAY cannot be used with FREQ=MONTHLY",
            ),
            (
                "FREQ=DAILY;INTERVAL=7;BYYEARDAY=1",
                "BYYEARDAY cannot be used with FREQ=DAILY",
            ),
            (
                "FREQ=WEEKLY;BYWEEKNO=1",
                "BYWEEKNO cannot be used with FREQ=WEEKLY",
            ),
            (
                "FREQ=WEEKLY;BYDAY=MO,2TU",
                "BYDAY value `2TU` has an ordinal, which cannot be used",
            ),
            (
                "FREQ=DAILY;INTERVAL=7;BYDAY=-1FR",
                "BYDAY value `-1FR` has an ordinal",
            ),
            (
                "FREQ=YEARLY;BYWEEKNO=20;BYDAY=1MO",
                "BYDAY value `1MO` has an ordinal, which cannot be combined with BYWEEKNO",
            ),
            ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs another BY part"),
        ]);
        assert_eq!(
            Schedule::parse("FREQ=MONTHLY;UNTIL=20301231;COUNT=5"),
            Err(E::CountWithUntil)
        );
        assert_eq!(
            Schedule::parse("FREQ=MONTHLY;BYSETPOS=-1"),
            Err(E::BySetPosAlone)
        );
    }

    #[test]
    fn rules_more_frequent_than_weekly_are_too_frequent() {
        for (text, rule) in [
            ("FREQ=SECONDLY", "FREQ=SECONDLY"),
            ("FREQ=MINUTELY", "FREQ=MINUTELY"),
            ("RRULE:FREQ=HOURLY;INTERVAL=168", "FREQ=HOURLY"),
            ("FREQ=DAILY", "FREQ=DAILY"),
            ("freq=daily;interval=6", "FREQ=DAILY;INTERVAL=6"),
        ] {
            assert_eq!(
                Schedule::parse(text),
                Err(E::TooFrequent {
                    rule: rule.to_owned()
                }),
                "{text}"
            );
        }
        assert_eq!(
            Schedule::parse("FREQ=HOURLY").unwrap_err().to_string(),
            "FREQ=HOURLY is more frequent than weekly; use WEEKLY, MONTHLY, YEARLY, or DAILY with \
             INTERVAL of 7 or more"
        );
    }
}
