//! The skip-ahead search over wall-clock time.
//!
//! Given a half-open range of civil seconds, find the first one the
//! expression matches. The search descends year -> month -> day -> hour ->
//! minute -> second, and at each level jumps straight to the next set bit of
//! that field's set; when a level runs out it carries into the level above.
//! A month costs one table lookup, so even `0 0 29 2 1` (a Monday that is
//! February 29th, or any Monday) or `5#5` in February is found in
//! microseconds.

use super::calendar::{Civil, days_from_civil};
use super::fields::{Cron, next_bit};

/// Years beyond this are not searched (jiff's range ends at 9999).
const LAST_YEAR: i32 = 9998;

impl Cron {
    /// The first civil second in `from..until` that matches, if any.
    pub fn next_civil(&self, from: i64, until: i64) -> Option<i64> {
        if from >= until {
            return None;
        }
        let c = Civil::from_seconds(from);
        let (mut year, mut month, mut day) = (c.year, c.month, c.day);
        let (mut hour, mut minute, mut second) = (c.hour, c.minute, c.second);
        'year: loop {
            if let Some(years) = &self.years {
                let next = years.next(year)?;
                if next != year {
                    (year, month, day, hour, minute, second) = (next, 1, 1, 0, 0, 0);
                }
            }
            if year > LAST_YEAR {
                return None;
            }
            'month: loop {
                match next_bit(self.months, month) {
                    None => {
                        (year, month, day, hour, minute, second) = (year + 1, 1, 1, 0, 0, 0);
                        continue 'year;
                    }
                    Some(m) if m != month => (month, day, hour, minute, second) = (m, 1, 0, 0, 0),
                    Some(_) => {}
                }
                if days_from_civil(year, month, 1) * 86_400 >= until {
                    return None;
                }
                let days = u64::from(self.day_mask(year, month));
                loop {
                    match next_bit(days, day) {
                        None => {
                            (month, day, hour, minute, second) = (month + 1, 1, 0, 0, 0);
                            continue 'month;
                        }
                        Some(d) if d != day => (day, hour, minute, second) = (d, 0, 0, 0),
                        Some(_) => {}
                    }
                    match next_bit(self.hours, hour) {
                        None => {
                            (day, hour, minute, second) = (day + 1, 0, 0, 0);
                            continue;
                        }
                        Some(h) if h != hour => (hour, minute, second) = (h, 0, 0),
                        Some(_) => {}
                    }
                    match next_bit(self.minutes, minute) {
                        None => {
                            (hour, minute, second) = (hour + 1, 0, 0);
                            continue;
                        }
                        Some(m) if m != minute => (minute, second) = (m, 0),
                        Some(_) => {}
                    }
                    match next_bit(self.seconds, second) {
                        None => {
                            (minute, second) = (minute + 1, 0);
                            continue;
                        }
                        Some(s) => second = s,
                    }
                    let found = Civil {
                        year,
                        month,
                        day,
                        hour,
                        minute,
                        second,
                    }
                    .to_seconds();
                    return (found < until).then_some(found);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::schedule::calendar::Civil;
    use crate::schedule::parse::{Expr, parse};

    fn at(text: &str) -> i64 {
        let n: Vec<u32> = text
            .split(['-', ' ', ':'])
            .map(|p| p.parse().unwrap())
            .collect();
        Civil {
            year: n[0] as i32,
            month: n[1],
            day: n[2],
            hour: n[3],
            minute: n[4],
            second: n[5],
        }
        .to_seconds()
    }

    fn next(expr: &str, from: &str) -> Option<i64> {
        let Expr::Cron(c) = parse(expr).unwrap() else {
            panic!()
        };
        c.next_civil(at(from), i64::MAX)
    }

    #[test]
    fn carries_through_every_level() {
        assert_eq!(
            next("* * * * *", "2026-12-31 23:59:01"),
            Some(at("2027-01-01 00:00:00"))
        );
        assert_eq!(
            next("* * * * * *", "2026-12-31 23:59:59"),
            Some(at("2026-12-31 23:59:59"))
        );
        assert_eq!(
            next("0 0 29 2 *", "2025-03-01 00:00:00"),
            Some(at("2028-02-29 00:00:00"))
        );
        assert_eq!(
            next("0 0 29 2 *", "2096-03-01 00:00:00"),
            Some(at("2104-02-29 00:00:00"))
        );
        assert_eq!(
            next("0 0 31 * *", "2026-04-01 00:00:00"),
            Some(at("2026-05-31 00:00:00"))
        );
        assert_eq!(
            next("30 2 * * *", "2026-01-01 02:30:01"),
            Some(at("2026-01-02 02:30:00"))
        );
    }

    #[test]
    fn respects_the_upper_bound_and_year_field() {
        let Expr::Cron(c) = parse("0 0 0 1 1 ? 2030").unwrap() else {
            panic!()
        };
        assert_eq!(
            c.next_civil(at("2026-01-01 00:00:00"), at("2030-01-01 00:00:00")),
            None
        );
        assert_eq!(
            c.next_civil(at("2026-01-01 00:00:00"), i64::MAX),
            Some(at("2030-01-01 00:00:00"))
        );
        assert_eq!(c.next_civil(at("2030-01-01 00:00:01"), i64::MAX), None);
    }
}
