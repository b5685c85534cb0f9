//! Rolling windows and expiry dates, in whole UTC days.
//!
//! A window of period P ending at instant t covers the UTC dates d with
//! `date(t) - P < d <= date(t)`: "the last 12 months" on 2026-11-26 starts on
//! 2025-11-27. Points earned on date d expire when the date reaches `d + P`.

use crate::config::Period;
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

    /// The first day inside the window that ends on `day`.
    pub fn window_first_day(self, day: DayNumber) -> DayNumber {
        self.back_from(day) + 1
    }

    pub fn describe(self) -> String {
        match (self.days, self.months) {
            (Some(d), _) => format!("{d} days"),
            (None, Some(m)) => format!("{m} months"),
            (None, None) => "no period".to_owned(),
        }
    }
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
        };
        assert_eq!(p.window_first_day(day("2026-11-26")), day("2025-11-27"));
        assert_eq!(p.forward_from(day("2026-02-28")), day("2027-02-28"));
    }

    #[test]
    fn day_periods_count_whole_days() {
        let p = Period {
            days: Some(365),
            months: None,
        };
        assert_eq!(p.window_first_day(day("2026-12-31")), day("2026-01-01"));
    }
}
