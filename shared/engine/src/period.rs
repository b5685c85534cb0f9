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
    at.date_naive().num_days_from_ce()
}

pub fn date_of(day: DayNumber) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(day).unwrap_or(NaiveDate::MIN)
}

impl Period {
    /// `day - P`, saturating at the calendar's ends.
    pub fn back_from(self, day: DayNumber) -> DayNumber {
        if let (Some(d), _) = (self.days, self.months) {
            // Day numbers are consecutive: no calendar needed.
            return day.saturating_sub(d.min(i32::MAX as u32) as i32);
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
