//! Expanding a [`Rule`] into occurrence times, period by period (see the `schedule` module
//! header for the semantics).
//!
//! Dates are handled as day numbers (days since 1970-01-01) with plain integer calendar
//! arithmetic, so that scanning a period costs a few integer operations per day.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::rule::{Freq, Rule};

/// Occurrences after this year end the iterator.
const LAST_YEAR: i64 = 9999;

/// The times a schedule runs at, in increasing order; see [`super::Schedule::occurrences`].
#[derive(Debug, Clone)]
pub struct Occurrences {
    filter: Filter,
    freq: Freq,
    /// Distance between visited periods, in the period's unit (years, months or days).
    step: i64,
    /// The period that contains DTSTART, in the period's unit: a year, a month number
    /// (`year * 12 + month - 1`), or a day number (the week's first day for WEEKLY).
    base: i64,
    start: NaiveDateTime,
    start_day: i64,
    time: NaiveTime,
    until: Option<NaiveDateTime>,
    /// Occurrences left before COUNT is reached.
    remaining: Option<u32>,
    start_pending: bool,
    /// Index of the next period to expand: period `base + next * step`.
    next: i64,
    /// Dates of the current period not yet returned, last first.
    pending: Vec<i64>,
    /// Periods expanded in a row without a single date.
    empty_run: i64,
    done: bool,
}

impl Occurrences {
    pub(super) fn new(rule: &Rule, start: DateTime<Utc>) -> Occurrences {
        let start = start.naive_utc();
        let start_day = day_number(start.date());
        let (year, month, _) = civil(start_day);
        let (step, base) = match rule.freq {
            Freq::Yearly => (i64::from(rule.interval), year),
            Freq::Monthly => (i64::from(rule.interval), year * 12 + i64::from(month) - 1),
            Freq::Weekly => (
                7 * i64::from(rule.interval),
                start_day - (weekday(start_day) - i64::from(rule.wkst)).rem_euclid(7),
            ),
            Freq::Daily => (i64::from(rule.interval), start_day),
        };
        Occurrences {
            filter: Filter::new(rule, start_day),
            freq: rule.freq,
            step,
            base,
            start,
            start_day,
            time: start.time(),
            until: rule.until,
            remaining: rule.count,
            start_pending: true,
            next: 0,
            pending: Vec::new(),
            empty_run: 0,
            done: false,
        }
    }

    /// Skips every occurrence on a date before `date`, without expanding the periods in
    /// between. Does nothing when the rule has a COUNT, which needs every occurrence counted.
    pub(super) fn skip_to(&mut self, date: NaiveDate) {
        if self.remaining.is_some() {
            return;
        }
        let day = day_number(date);
        if day > self.start_day {
            self.start_pending = false;
        }
        let (year, month, _) = civil(day);
        let unit = match self.freq {
            Freq::Yearly => year,
            Freq::Monthly => year * 12 + i64::from(month) - 1,
            Freq::Weekly | Freq::Daily => day,
        };
        let period = (unit - self.base).div_euclid(self.step);
        if period > self.next {
            self.next = period;
            self.pending.clear();
            self.empty_run = 0;
        }
    }

    /// The first and last day of period `index`, or None past year 9999.
    fn period(&self, index: i64) -> Option<(i64, i64)> {
        let unit = self.base.checked_add(index.checked_mul(self.step)?)?;
        let (first, last) = match self.freq {
            Freq::Yearly => (days_from_civil(unit, 1, 1), days_from_civil(unit, 12, 31)),
            Freq::Monthly => {
                let (year, month) = (unit.div_euclid(12), unit.rem_euclid(12) as u32 + 1);
                let first = days_from_civil(year, month, 1);
                (first, first + month_len(year, month) - 1)
            }
            Freq::Weekly => (unit, unit + 6),
            Freq::Daily => (unit, unit),
        };
        (civil(first).0 <= LAST_YEAR).then_some((first, last))
    }

    /// Fills `pending` with the next period's dates, or ends the iteration.
    fn expand_next_period(&mut self) {
        let Some((first, last)) = self.period(self.next) else {
            self.done = true;
            return;
        };
        self.next += 1;
        if self
            .until
            .is_some_and(|until| first > day_number(until.date()))
        {
            self.done = true;
            return;
        }
        self.filter.candidates(first, last, &mut self.pending);
        if self.pending.is_empty() {
            self.empty_run += 1;
            if self.empty_run >= self.freq_cycle() {
                self.done = true;
            }
        } else {
            self.empty_run = 0;
            self.pending.reverse();
        }
    }

    /// How many visited periods in a row can be empty before every later one must be too.
    ///
    /// Weekdays and leap years repeat every 400 years, which are exactly 4800 months and
    /// 146097 days (20871 weeks); a period's dates depend only on its place in that cycle, and
    /// periods visited INTERVAL apart come back to the same place within this many steps.
    fn freq_cycle(&self) -> i64 {
        match self.freq {
            Freq::Yearly => 400,
            Freq::Monthly => 4800,
            Freq::Weekly => 20871,
            Freq::Daily => 146_097,
        }
    }

    /// Returns `at` unless it is past UNTIL, and counts it against COUNT.
    fn emit(&mut self, at: NaiveDateTime) -> Option<DateTime<Utc>> {
        if self.until.is_some_and(|until| at > until) {
            self.done = true;
            return None;
        }
        if let Some(remaining) = &mut self.remaining {
            *remaining -= 1;
            self.done = *remaining == 0;
        }
        Some(at.and_utc())
    }
}

impl Iterator for Occurrences {
    type Item = DateTime<Utc>;

    fn next(&mut self) -> Option<DateTime<Utc>> {
        loop {
            if self.done {
                return None;
            }
            if self.start_pending {
                self.start_pending = false;
                return self.emit(self.start);
            }
            match self.pending.pop() {
                // DTSTART was returned first; expansions come strictly after it.
                Some(day) if day <= self.start_day => {}
                Some(day) => {
                    let (year, month, mday) = civil(day);
                    let date = i32::try_from(year)
                        .ok()
                        .filter(|year| i64::from(*year) <= LAST_YEAR)
                        .and_then(|year| NaiveDate::from_ymd_opt(year, month, mday));
                    match date {
                        Some(date) => return self.emit(date.and_time(self.time)),
                        None => self.done = true,
                    }
                }
                None => self.expand_next_period(),
            }
        }
    }
}

impl std::iter::FusedIterator for Occurrences {}

/// The date parts of a rule, with the defaults taken from DTSTART filled in.
#[derive(Debug, Clone)]
struct Filter {
    /// Bit `m` set for each allowed month; 0 when any month is allowed.
    months: u16,
    week_nos: Vec<i64>,
    wkst: i64,
    year_days: Vec<i64>,
    month_days: Vec<i64>,
    /// Bit `d` set for each weekday given without an ordinal (0 = Monday).
    weekdays: u8,
    /// (ordinal, weekday) of each weekday given with an ordinal.
    nth_weekdays: Vec<(i64, i64)>,
    /// Whether ordinals count within the month (else within the year).
    nth_in_month: bool,
    set_pos: Vec<i64>,
}

impl Filter {
    fn new(rule: &Rule, start_day: i64) -> Filter {
        let (_, start_month, start_mday) = civil(start_day);
        let widen = |list: &[i32]| list.iter().map(|&n| i64::from(n)).collect::<Vec<_>>();
        let mut filter = Filter {
            months: rule.by_month.iter().fold(0, |mask, &m| mask | 1 << m),
            week_nos: widen(&rule.by_week_no),
            wkst: i64::from(rule.wkst),
            year_days: widen(&rule.by_year_day),
            month_days: widen(&rule.by_month_day),
            weekdays: rule
                .by_day
                .iter()
                .filter(|day| day.ordinal.is_none())
                .fold(0, |mask, day| mask | 1 << day.weekday),
            nth_weekdays: rule
                .by_day
                .iter()
                .filter_map(|day| Some((i64::from(day.ordinal?), i64::from(day.weekday))))
                .collect(),
            nth_in_month: rule.freq == Freq::Monthly
                || (rule.freq == Freq::Yearly && !rule.by_month.is_empty()),
            set_pos: widen(&rule.by_set_pos),
        };
        // When no part picks days within the period, DTSTART's place in it is used.
        let no_day_part = rule.by_month_day.is_empty() && rule.by_day.is_empty();
        match rule.freq {
            Freq::Yearly
                if no_day_part && rule.by_week_no.is_empty() && rule.by_year_day.is_empty() =>
            {
                filter.month_days = vec![i64::from(start_mday)];
                if filter.months == 0 {
                    filter.months = 1 << start_month;
                }
            }
            Freq::Monthly if no_day_part => filter.month_days = vec![i64::from(start_mday)],
            Freq::Weekly if rule.by_day.is_empty() => filter.weekdays = 1 << weekday(start_day),
            _ => {}
        }
        filter
    }

    /// Puts into `out`, in increasing order, the days from `first` to `last` that the rule
    /// picks (BYSETPOS applied).
    fn candidates(&self, first: i64, last: i64, out: &mut Vec<i64>) {
        out.clear();
        let (mut year, mut month, mday) = civil(first);
        let mut month_start = first - i64::from(mday) + 1;
        let mut weeks: Option<Weeks> = None;
        while month_start <= last {
            let month_len = month_len(year, month);
            if self.months == 0 || self.months & (1 << month) != 0 {
                if !self.week_nos.is_empty() && weeks.is_none_or(|weeks| weeks.year != year) {
                    weeks = Some(Weeks::new(year, self.wkst));
                }
                let year_len = 365 + i64::from(is_leap(year));
                let before_month = days_before_month(year, month);
                let days = first.max(month_start)..=last.min(month_start + month_len - 1);
                for day in days {
                    let mday = day - month_start + 1;
                    let date = Day {
                        number: day,
                        mday,
                        month_len,
                        yday: before_month + mday,
                        year_len,
                        weekday: weekday(day),
                    };
                    if self.matches(&date, weeks.as_ref()) {
                        out.push(day);
                    }
                }
            }
            month_start += month_len;
            (year, month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
        }
        if !self.set_pos.is_empty() {
            let all = std::mem::take(out);
            let len = all.len() as i64;
            out.extend(self.set_pos.iter().filter_map(|&pos| {
                let index = if pos > 0 { pos - 1 } else { len + pos };
                usize::try_from(index)
                    .ok()
                    .and_then(|index| all.get(index).copied())
            }));
            out.sort_unstable();
            out.dedup();
        }
    }

    fn matches(&self, day: &Day, weeks: Option<&Weeks>) -> bool {
        (self.month_days.is_empty() || in_list(&self.month_days, day.mday, day.month_len))
            && (self.year_days.is_empty() || in_list(&self.year_days, day.yday, day.year_len))
            && (self.weekdays == 0 && self.nth_weekdays.is_empty() || self.matches_weekday(day))
            && weeks.is_none_or(|weeks| {
                let (number, count) = weeks.week_of(day.number);
                in_list(&self.week_nos, number, count)
            })
    }

    fn matches_weekday(&self, day: &Day) -> bool {
        if self.weekdays & (1 << day.weekday) != 0 {
            return true;
        }
        let (position, len) = if self.nth_in_month {
            (day.mday, day.month_len)
        } else {
            (day.yday, day.year_len)
        };
        self.nth_weekdays.iter().any(|&(nth, weekday)| {
            weekday == day.weekday
                && (nth == (position - 1) / 7 + 1 || nth == -((len - position) / 7 + 1))
        })
    }
}

/// One day being scanned; all positions 1-based.
struct Day {
    number: i64,
    mday: i64,
    month_len: i64,
    yday: i64,
    year_len: i64,
    weekday: i64,
}

/// Whether `list` (sorted) holds `position`, or the same place counted from the end (-1 = last
/// of `len`).
fn in_list(list: &[i64], position: i64, len: i64) -> bool {
    list.binary_search(&position).is_ok() || list.binary_search(&(position - len - 1)).is_ok()
}

/// RFC 5545 week numbers around one year: weeks start on WKST, and week 1 is the first week
/// with at least four days in the year (the week holding January 4th).
#[derive(Debug, Clone, Copy)]
struct Weeks {
    year: i64,
    /// First day of week 1 of the year before, this year, and the two after.
    week_one: [i64; 4],
}

impl Weeks {
    fn new(year: i64, wkst: i64) -> Weeks {
        let week_one = |year: i64| {
            let january_4 = days_from_civil(year, 1, 4);
            january_4 - (weekday(january_4) - wkst).rem_euclid(7)
        };
        Weeks {
            year,
            week_one: [
                week_one(year - 1),
                week_one(year),
                week_one(year + 1),
                week_one(year + 2),
            ],
        }
    }

    /// The week number of a day of this year, and how many weeks its week-numbering year
    /// has. Days before week 1 belong to the last week of the year before; days from the
    /// next year's week 1 on belong to it.
    fn week_of(&self, day: i64) -> (i64, i64) {
        let i = if day < self.week_one[1] {
            0
        } else if day >= self.week_one[2] {
            2
        } else {
            1
        };
        let [start, next] = [self.week_one[i], self.week_one[i + 1]];
        ((day - start) / 7 + 1, (next - start) / 7)
    }
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn month_len(year: i64, month: u32) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_before_month(year: i64, month: u32) -> i64 {
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    BEFORE[month as usize - 1] + i64::from(month > 2 && is_leap(year))
}

/// Days since 1970-01-01 (negative before), from a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Howard Hinnant's algorithm: years start in March so that leap days come last.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The (year, month, day) of a day number; the inverse of [`days_from_civil`].
fn civil(day: i64) -> (i64, u32, u32) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let mday = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u32, mday as u32)
}

fn day_number(date: NaiveDate) -> i64 {
    days_from_civil(i64::from(date.year()), date.month(), date.day())
}

/// Days from Monday (0) to Sunday (6).
fn weekday(day: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (day + 3).rem_euclid(7)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::schedule::tests::{at, dates, next, schedule};

    #[test]
    fn day_numbers_round_trip_and_agree_with_chrono() {
        for date in "1600-02-29 1969-12-31 1970-01-01 2000-02-29 2024-12-31 9999-12-31".split(' ') {
            let date: NaiveDate = date.parse().unwrap();
            let day = day_number(date);
            assert_eq!(
                day,
                (date - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days()
            );
            assert_eq!(
                civil(day),
                (i64::from(date.year()), date.month(), date.day())
            );
            assert_eq!(
                weekday(day),
                i64::from(date.weekday().num_days_from_monday())
            );
        }
    }

    #[test]
    fn week_numbers_follow_iso_8601_when_weeks_start_on_monday() {
        // 2020-12-31 is in ISO week 53 of 2020; 2021-01-01..03 too; 2021-01-04 is week 1.
        let weeks = Weeks::new(2021, 0);
        let day = |text: &str| day_number(text.parse().unwrap());
        assert_eq!(weeks.week_of(day("2021-01-03")), (53, 53));
        assert_eq!(weeks.week_of(day("2021-01-04")), (1, 52));
        assert_eq!(weeks.week_of(day("2021-12-31")), (52, 52));
        // 2024-12-30 is in week 1 of 2025.
        assert_eq!(Weeks::new(2024, 0).week_of(day("2024-12-30")), (1, 52));
    }

    #[test]
    fn weekly_byday_lists_run_on_each_listed_day() {
        assert_eq!(
            dates("FREQ=WEEKLY;BYDAY=MO,WE,FR", "2025-03-03T09:00:00Z", 6),
            "2025-03-03 2025-03-05 2025-03-07 2025-03-10 2025-03-12 2025-03-14"
        );
    }

    #[test]
    fn weekly_without_byday_runs_on_the_start_weekday() {
        assert_eq!(
            dates("RRULE:FREQ=WEEKLY", "2025-03-05T09:00:00Z", 3),
            "2025-03-05 2025-03-12 2025-03-19"
        );
    }

    #[test]
    fn wkst_decides_which_weeks_an_interval_of_two_takes() {
        // RFC 5545's example of WKST's effect.
        let start = "1997-08-05T09:00:00Z";
        assert_eq!(
            dates(
                "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
                start,
                10
            ),
            "1997-08-05 1997-08-10 1997-08-19 1997-08-24"
        );
        assert_eq!(
            dates(
                "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
                start,
                10
            ),
            "1997-08-05 1997-08-17 1997-08-19 1997-08-31"
        );
    }

    #[test]
    fn every_other_week_on_tuesday_and_thursday() {
        assert_eq!(
            dates(
                "FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=TU,TH",
                "1997-09-02T09:00:00Z",
                8
            ),
            "1997-09-02 1997-09-04 1997-09-16 1997-09-18 1997-09-30 1997-10-02 \
             1997-10-14 1997-10-16"
        );
    }

    #[test]
    fn monthly_on_the_last_friday() {
        assert_eq!(
            dates("FREQ=MONTHLY;BYDAY=-1FR", "2025-01-31T09:00:00Z", 6),
            "2025-01-31 2025-02-28 2025-03-28 2025-04-25 2025-05-30 2025-06-27"
        );
    }

    #[test]
    fn monthly_on_the_first_sunday() {
        assert_eq!(
            dates("FREQ=MONTHLY;BYDAY=1SU", "2025-01-05T09:00:00Z", 5),
            "2025-01-05 2025-02-02 2025-03-02 2025-04-06 2025-05-04"
        );
    }

    #[test]
    fn monthly_on_the_last_weekday_with_bysetpos() {
        assert_eq!(
            dates(
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                "2025-01-31T09:00:00Z",
                12
            ),
            "2025-01-31 2025-02-28 2025-03-31 2025-04-30 2025-05-30 2025-06-30 \
             2025-07-31 2025-08-29 2025-09-30 2025-10-31 2025-11-28 2025-12-31"
        );
    }

    #[test]
    fn monthly_on_the_third_tuesday_wednesday_or_thursday() {
        // RFC 5545 example.
        assert_eq!(
            dates(
                "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
                "1997-09-04T09:00:00Z",
                10
            ),
            "1997-09-04 1997-10-07 1997-11-06"
        );
    }

    #[test]
    fn monthly_on_friday_the_thirteenth() {
        // RFC 5545 example; DTSTART does not match but comes first.
        assert_eq!(
            dates(
                "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
                "1997-09-02T09:00:00Z",
                6
            ),
            "1997-09-02 1998-02-13 1998-03-13 1998-11-13 1999-08-13 2000-10-13"
        );
    }

    #[test]
    fn monthly_on_the_last_day_follows_february_in_leap_and_common_years() {
        assert_eq!(
            dates("FREQ=MONTHLY;BYMONTHDAY=-1", "2023-12-31T09:00:00Z", 15),
            "2023-12-31 2024-01-31 2024-02-29 2024-03-31 2024-04-30 2024-05-31 \
             2024-06-30 2024-07-31 2024-08-31 2024-09-30 2024-10-31 2024-11-30 \
             2024-12-31 2025-01-31 2025-02-28"
        );
    }

    #[test]
    fn monthly_on_the_31st_skips_short_months() {
        assert_eq!(
            dates("FREQ=MONTHLY", "2025-01-31T09:00:00Z", 8),
            "2025-01-31 2025-03-31 2025-05-31 2025-07-31 2025-08-31 2025-10-31 \
             2025-12-31 2026-01-31"
        );
    }

    #[test]
    fn yearly_from_february_29th_waits_for_the_next_leap_year() {
        assert_eq!(
            dates("FREQ=YEARLY", "2024-02-29T09:00:00Z", 3),
            "2024-02-29 2028-02-29 2032-02-29"
        );
    }

    #[test]
    fn yearly_on_february_29th_runs_in_leap_years_only() {
        assert_eq!(
            dates(
                "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
                "2025-01-01T09:00:00Z",
                3
            ),
            "2025-01-01 2028-02-29 2032-02-29"
        );
        // 2100 is not a leap year.
        assert_eq!(
            dates(
                "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
                "2096-03-01T09:00:00Z",
                3
            ),
            "2096-03-01 2104-02-29 2108-02-29"
        );
    }

    #[test]
    fn yearly_with_bymonth_alone_keeps_the_start_day_of_month() {
        assert_eq!(
            dates("FREQ=YEARLY;BYMONTH=1,7", "2025-01-15T09:00:00Z", 4),
            "2025-01-15 2025-07-15 2026-01-15 2026-07-15"
        );
    }

    #[test]
    fn yearly_ordinals_count_within_the_month_when_bymonth_is_given() {
        // The last Monday of May.
        assert_eq!(
            dates(
                "FREQ=YEARLY;BYMONTH=5;BYDAY=-1MO",
                "2025-05-26T09:00:00Z",
                3
            ),
            "2025-05-26 2026-05-25 2027-05-31"
        );
        // US presidential election day, an RFC 5545 example.
        assert_eq!(
            dates(
                "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
                "1996-11-05T09:00:00Z",
                3
            ),
            "1996-11-05 2000-11-07 2004-11-02"
        );
    }

    #[test]
    fn yearly_ordinals_count_within_the_year_without_bymonth() {
        // RFC 5545: the 20th Monday of the year.
        assert_eq!(
            dates("FREQ=YEARLY;BYDAY=20MO", "1997-05-19T09:00:00Z", 3),
            "1997-05-19 1998-05-18 1999-05-17"
        );
    }

    #[test]
    fn yearly_on_monday_of_week_20() {
        assert_eq!(
            dates(
                "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
                "1997-05-12T09:00:00Z",
                3
            ),
            "1997-05-12 1998-05-11 1999-05-17"
        );
    }

    #[test]
    fn week_one_can_start_in_the_year_before() {
        // Week 1 of 2025 starts on Monday 2024-12-30; 2026 has no Monday in its week 1.
        assert_eq!(
            dates("FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO", "2024-12-30T09:00:00Z", 4),
            "2024-12-30 2025-12-29 2027-01-04 2028-01-03"
        );
    }

    #[test]
    fn negative_week_numbers_count_from_the_last_week_with_wkst() {
        assert_eq!(
            dates(
                "FREQ=YEARLY;BYWEEKNO=-1;BYDAY=SU;WKST=SU",
                "2025-01-01T09:00:00Z",
                5
            ),
            "2025-01-01 2025-12-28 2026-12-27 2027-12-26 2028-12-24"
        );
    }

    #[test]
    fn yearly_on_days_1_100_and_200_every_third_year() {
        // RFC 5545 example.
        assert_eq!(
            dates(
                "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
                "1997-01-01T09:00:00Z",
                20
            ),
            "1997-01-01 1997-04-10 1997-07-19 2000-01-01 2000-04-09 2000-07-18 \
             2003-01-01 2003-04-10 2003-07-19 2006-01-01"
        );
    }

    #[test]
    fn daily_with_an_interval_of_seven_or_ten_steps_from_the_start() {
        assert_eq!(
            dates("FREQ=DAILY;INTERVAL=7", "2025-03-03T09:00:00Z", 5),
            "2025-03-03 2025-03-10 2025-03-17 2025-03-24 2025-03-31"
        );
        assert_eq!(
            dates("FREQ=DAILY;INTERVAL=10", "2025-01-25T09:00:00Z", 5),
            "2025-01-25 2025-02-04 2025-02-14 2025-02-24 2025-03-06"
        );
    }

    #[test]
    fn rules_that_never_match_end_after_dtstart() {
        for rule in [
            "FREQ=YEARLY;INTERVAL=4;BYMONTH=2;BYMONTHDAY=29",
            "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=2",
            "FREQ=MONTHLY;BYMONTHDAY=30;BYDAY=MO;BYMONTH=2;BYSETPOS=2",
            "FREQ=YEARLY;BYWEEKNO=53;BYMONTH=6",
            "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=2",
            "FREQ=DAILY;INTERVAL=7;BYMONTH=2;BYMONTHDAY=30",
        ] {
            assert_eq!(
                dates(rule, "2025-01-01T09:00:00Z", 5),
                "2025-01-01",
                "{rule}"
            );
            assert_eq!(
                next(rule, "2025-01-01T09:00:00Z", "2025-06-01T00:00:00Z"),
                None,
                "{rule}"
            );
        }
    }

    #[test]
    fn occurrences_end_after_year_9999_without_panicking() {
        assert_eq!(
            dates("FREQ=YEARLY", "9998-06-01T09:00:00Z", 5),
            "9998-06-01 9999-06-01"
        );
        assert_eq!(
            dates("FREQ=WEEKLY;BYDAY=MO,SU", "9999-12-25T09:00:00Z", 5),
            "9999-12-25 9999-12-26 9999-12-27"
        );
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!(
            schedule("FREQ=DAILY;INTERVAL=1000")
                .occurrences(far)
                .collect::<Vec<_>>(),
            [far]
        );
        assert_eq!(
            schedule("FREQ=WEEKLY").next_run_time(at("9999-12-01T00:00:00Z"), far),
            None
        );
    }

    #[test]
    fn occurrences_are_strictly_increasing_at_the_start_time_of_day() {
        for rule in [
            "FREQ=WEEKLY;BYDAY=MO,WE,FR",
            "FREQ=WEEKLY;INTERVAL=3;BYDAY=SU,SA;WKST=TH",
            "FREQ=MONTHLY;BYDAY=1MO,-1MO,2WE;BYMONTHDAY=1,8,15,-1",
            "FREQ=MONTHLY;BYMONTHDAY=1,-1,15,-15;BYSETPOS=1,-1,2",
            "FREQ=YEARLY;BYWEEKNO=1,-1,26;BYDAY=MO,TH",
            "FREQ=YEARLY;BYYEARDAY=1,-1,60,-306",
            "FREQ=YEARLY;BYDAY=1SU,-1SA,10WE",
            "FREQ=DAILY;INTERVAL=9;BYDAY=MO,TU,WE",
        ] {
            let start = at("2023-11-15T17:45:12Z");
            let all: Vec<_> = schedule(rule).occurrences(start).take(500).collect();
            assert_eq!(all.len(), 500, "{rule}");
            assert!(all.windows(2).all(|pair| pair[0] < pair[1]), "{rule}");
            assert!(all.iter().all(|at| at.time() == start.time()), "{rule}");
        }
    }
}
