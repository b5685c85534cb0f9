//! Rolling windows and expiry dates, in whole UTC days.
//!
//! A window of period P ending at instant t covers the UTC dates d with
//! `date(t) - P < d <= date(t)`: "the last 12 months" on 2026-11-26 starts on
//! 2025-11-27. Points earned on date d expire when the date reaches `d + P`.

use crate::config::{Calendar, Period};
use chrono::{DateTime, Datelike, Days, Months, NaiveDate, Utc};

/// Days since 0001-01-01 (chrono's `num_days_from_ce`): a cheap, ordered key.
pub type DayNumber = i32;

pub fn day_of(at: DateTime<Utc>) -> DayNumber {
    // The UTC date as stored: `date_naive` would first add a zero offset,
    // checked for overflow, on every event and decision.
    at.naive_utc().date().num_days_from_ce()
}

pub fn date_of(day: DayNumber) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MIN)
}

impl Period {
    /// The most days a window of this period spans (a month counted as 31).
    pub fn longest_days(self) -> u64 {
        match (self.calendar, self.days, self.months) {
            (Some(Calendar::Year), _, _) => 366,
            (Some(Calendar::Quarter), _, _) => 92,
            (Some(Calendar::Month), _, _) => 31,
            (None, Some(d), _) => u64::from(d),
            (None, None, Some(m)) => u64::from(m) * 31,
            (None, None, None) => 0,
        }
    }

    /// `day - P`, saturating at the calendar's ends.
    pub fn back_from(self, day: DayNumber) -> DayNumber {
        if let (Some(d), _) = (self.days, self.months) {
            // Day numbers are consecutive: no calendar needed.
            return day.saturating_sub(d.min(i32::MAX as u32) as i32);
        }
        if let Some(moved) = self.months.and_then(|m| shift_months(day, -i64::from(m))) {
            return moved;
        }
        let date = date_of(day);
        let moved = match (self.days, self.months) {
            (Some(d), _) => date.checked_sub_days(Days::new(d.into())),
            (None, Some(m)) => date.checked_sub_months(Months::new(m)),
            (None, None) => Some(date),
        };
        moved.map_or(NaiveDate::MIN.num_days_from_ce(), |d| d.num_days_from_ce())
    }

    /// `day + P`, saturating at the calendar's ends.
    pub fn forward_from(self, day: DayNumber) -> DayNumber {
        let months = self.months.filter(|_| self.days.is_none());
        if let Some(moved) = months.and_then(|m| shift_months(day, i64::from(m))) {
            return moved;
        }
        let date = date_of(day);
        let moved = match (self.days, self.months) {
            (Some(d), _) => date.checked_add_days(Days::new(d.into())),
            (None, Some(m)) => date.checked_add_months(Months::new(m)),
            (None, None) => Some(date),
        };
        moved.map_or(NaiveDate::MAX.num_days_from_ce(), |d| d.num_days_from_ce())
    }

    /// The first day inside the window that ends on `day`: the day after
    /// `day - P` for a rolling window, the first day of the calendar year,
    /// quarter or month for a calendar one.
    pub fn window_first_day(self, day: DayNumber) -> DayNumber {
        match self.calendar {
            Some(calendar) => calendar_start(calendar, date_of(day)).num_days_from_ce(),
            None => self.back_from(day) + 1,
        }
    }

    /// The first day whose window no longer holds `day`: `day + P` for a
    /// rolling window, the first day of the next calendar period.
    pub fn window_leaves(self, day: DayNumber) -> DayNumber {
        let Some(calendar) = self.calendar else {
            return self.forward_from(day);
        };
        let start = calendar_start(calendar, date_of(day));
        let months = match calendar {
            Calendar::Year => 12,
            Calendar::Quarter => 3,
            Calendar::Month => 1,
        };
        start
            .checked_add_months(Months::new(months))
            .map_or(NaiveDate::MAX.num_days_from_ce(), |d| d.num_days_from_ce())
    }

    pub fn describe(self) -> String {
        if let Some(c) = self.calendar {
            return format!("this calendar {c:?}").to_lowercase();
        }
        match (self.days, self.months) {
            (Some(d), _) => format!("{d} days"),
            (None, Some(m)) => format!("{m} months"),
            (None, None) => "no period".to_owned(),
        }
    }
}

/// `day` moved by `months` calendar months, the day of the month clamped to
/// the target month's length (as chrono's `checked_sub_months` does), in
/// integer arithmetic: a decision computes a month window per tracker, and
/// chrono's general conversions were a tenth of its time. `None` outside
/// years 1 to 9999, where the caller asks chrono.
fn shift_months(day: DayNumber, months: i64) -> Option<DayNumber> {
    let (year, month, dom) = civil_from_days(i64::from(day) - UNIX_EPOCH_DAY);
    let total = year * 12 + i64::from(month - 1) + months;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    if !(1..=9999).contains(&year) {
        return None;
    }
    let dom = dom.min(days_in_month(year, month));
    i32::try_from(days_from_civil(year, month, dom) + UNIX_EPOCH_DAY).ok()
}

/// `num_days_from_ce` of 1970-01-01.
const UNIX_EPOCH_DAY: i64 = 719_163;

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `civil_from_days`: (year, month, day) of a day counted
/// from 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dom = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, dom)
}

/// Howard Hinnant's `days_from_civil`, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, dom: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(dom) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn calendar_start(calendar: Calendar, date: NaiveDate) -> NaiveDate {
    let month = match calendar {
        Calendar::Year => 1,
        Calendar::Quarter => (date.month0() / 3) * 3 + 1,
        Calendar::Month => date.month(),
    };
    NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> DayNumber {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .unwrap()
            .num_days_from_ce()
    }

    #[test]
    fn twelve_months_ending_today_start_the_day_after_a_year_ago() {
        let p = Period {
            days: None,
            months: Some(12),
            calendar: None,
        };
        assert_eq!(p.window_first_day(day("2026-11-26")), day("2025-11-27"));
        assert_eq!(p.forward_from(day("2026-02-28")), day("2027-02-28"));
    }

    #[test]
    fn month_shifts_agree_with_chrono_over_four_centuries() {
        let first = day("1900-01-01");
        for d in (first..first + 146_097 + 400).step_by(3) {
            let date = date_of(d);
            for months in [1u32, 3, 6, 11, 12, 13, 24, 1_200] {
                let back = date
                    .checked_sub_months(Months::new(months))
                    .map(|x| x.num_days_from_ce());
                let fwd = date
                    .checked_add_months(Months::new(months))
                    .map(|x| x.num_days_from_ce());
                assert_eq!(
                    shift_months(d, -i64::from(months)),
                    back,
                    "{date} - {months}"
                );
                assert_eq!(shift_months(d, i64::from(months)), fwd, "{date} + {months}");
            }
        }
        assert_eq!(
            shift_months(day("0001-01-31"), -1),
            None,
            "year 0 goes to chrono"
        );
    }

    #[test]
    fn day_periods_count_whole_days() {
        let p = Period {
            days: Some(365),
            months: None,
            calendar: None,
        };
        assert_eq!(p.window_first_day(day("2026-12-31")), day("2026-01-01"));
    }

    #[test]
    fn calendar_windows_start_on_the_first_day_of_their_period() {
        let period = |c| Period {
            days: None,
            months: None,
            calendar: Some(c),
        };
        let d = day("2026-08-17");
        assert_eq!(
            period(Calendar::Year).window_first_day(d),
            day("2026-01-01")
        );
        assert_eq!(
            period(Calendar::Quarter).window_first_day(d),
            day("2026-07-01")
        );
        assert_eq!(
            period(Calendar::Month).window_first_day(d),
            day("2026-08-01")
        );
        assert_eq!(
            period(Calendar::Quarter).window_leaves(d),
            day("2026-10-01")
        );
        assert_eq!(
            period(Calendar::Year).window_leaves(day("2026-12-31")),
            day("2027-01-01")
        );
    }
}
