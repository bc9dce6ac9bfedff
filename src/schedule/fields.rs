//! The compact form of a parsed cron expression: one bit set per field.
//!
//! Everything the search needs is precomputed here at parse time. In
//! particular the set of matching days of a month depends only on the
//! weekday of its first day and its length, so `Cron` keeps a 7 x 4 table of
//! day masks; deciding which days of a month fire is one table lookup,
//! whatever mix of lists, `L`, `W`, `#` and the crontab(5) OR rule the
//! expression uses.

use super::calendar;

/// First and last year of the optional seventh field.
pub const YEAR_MIN: i32 = 1970;
pub const YEAR_MAX: i32 = 2199;

/// Bit set over the years `YEAR_MIN..=YEAR_MAX`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Years([u64; 4]);

impl Years {
    pub fn empty() -> Years {
        Years([0; 4])
    }

    pub fn insert(&mut self, year: i32) {
        let i = (year - YEAR_MIN) as usize;
        self.0[i / 64] |= 1 << (i % 64);
    }

    pub fn contains(&self, year: i32) -> bool {
        (YEAR_MIN..=YEAR_MAX).contains(&year) && {
            let i = (year - YEAR_MIN) as usize;
            self.0[i / 64] & (1 << (i % 64)) != 0
        }
    }

    /// The first year in the set at or after `year`.
    pub fn next(&self, year: i32) -> Option<i32> {
        let from = (year.max(YEAR_MIN) - YEAR_MIN) as usize;
        for word in from / 64..4 {
            let shift = if word == from / 64 { from % 64 } else { 0 };
            let bits = self.0[word] & (!0u64 << shift);
            if bits != 0 {
                let year = YEAR_MIN + (word * 64) as i32 + bits.trailing_zeros() as i32;
                return (year <= YEAR_MAX).then_some(year);
            }
        }
        None
    }

    pub fn iter(&self) -> impl Iterator<Item = i32> + '_ {
        (YEAR_MIN..=YEAR_MAX).filter(|&y| self.contains(y))
    }
}

/// The day-of-month and day-of-week fields, as written (after expansion).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Days {
    /// Plain days of the month, bits 1..=31.
    pub dom: u32,
    /// Bit k set for `L-k` (`L` is `L-0`).
    pub dom_last: u32,
    /// Bit n set for `nW`.
    pub dom_nearest_weekday: u32,
    /// `LW`: the last weekday (Monday to Friday) of the month.
    pub dom_last_weekday: bool,
    /// The field began with `*` or was `?` (crontab(5)'s DOM_STAR).
    pub dom_star: bool,
    /// Plain weekdays, bits 0..=6, 0 = Sunday.
    pub dow: u8,
    /// For weekday w, bit k (1..=5) set for `w#k`.
    pub dow_nth: [u8; 7],
    /// Bit w set for `wL`, the last weekday w of the month.
    pub dow_last: u8,
    /// The field began with `*` or was `?` (crontab(5)'s DOW_STAR).
    pub dow_star: bool,
}

impl Days {
    /// The days (bits 1..=len) of a month of `len` days whose first day is
    /// weekday `first` that this specification selects.
    pub fn mask(&self, first: u32, len: u32) -> u32 {
        let valid = (!0u32 >> (31 - len)) & !1;
        let weekday_of = |day: u32| (first + day - 1) % 7;

        let mut dom = self.dom & valid;
        for k in bits(self.dom_last) {
            if k < len {
                dom |= 1 << (len - k);
            }
        }
        for n in bits(self.dom_nearest_weekday) {
            if n <= len {
                dom |= 1 << nearest_weekday(n, weekday_of(n), len);
            }
        }
        if self.dom_last_weekday {
            dom |= 1
                << match weekday_of(len) {
                    6 => len - 1,
                    0 => len - 2,
                    _ => len,
                };
        }

        let mut dow = 0u32;
        for day in 1..=len {
            let w = weekday_of(day);
            let nth = (day - 1) / 7 + 1;
            if self.dow & (1 << w) != 0
                || self.dow_nth[w as usize] & (1 << nth) != 0
                || (self.dow_last & (1 << w) != 0 && day + 7 > len)
            {
                dow |= 1 << day;
            }
        }

        if self.dom_star || self.dow_star {
            dom & dow
        } else {
            dom | dow
        }
    }
}

/// Quartz's `nW`: the weekday nearest to day `n`, never leaving the month.
fn nearest_weekday(n: u32, weekday: u32, len: u32) -> u32 {
    match weekday {
        6 if n == 1 => 3,
        6 => n - 1,
        0 if n == len => n - 2,
        0 => n + 1,
        _ => n,
    }
}

/// The indices of the set bits of `set`, lowest first.
pub fn bits(mut set: u32) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        (set != 0).then(|| {
            let i = set.trailing_zeros();
            set &= set - 1;
            i
        })
    })
}

/// The lowest set bit of `set` at index `from` or above.
#[inline]
pub fn next_bit(set: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = set & (!0u64 << from);
    (rest != 0).then(|| rest.trailing_zeros())
}

/// A parsed 5-, 6- or 7-field expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    pub seconds: u64,
    pub minutes: u64,
    pub hours: u64,
    pub months: u64,
    /// `None`: every year (5 and 6 fields have no year limit).
    pub years: Option<Years>,
    pub days: Days,
    /// cron(8)'s classification for daylight-saving transitions: the second,
    /// minute or hour field begins with `*`.
    pub wildcard: bool,
    /// `day_table[first weekday][length - 28]`: see the module comment.
    day_table: [[u32; 4]; 7],
}

impl Cron {
    pub fn new(
        seconds: u64,
        minutes: u64,
        hours: u64,
        days: Days,
        months: u64,
        years: Option<Years>,
        wildcard: bool,
    ) -> Cron {
        let mut day_table = [[0; 4]; 7];
        for (first, row) in day_table.iter_mut().enumerate() {
            for (i, mask) in row.iter_mut().enumerate() {
                *mask = days.mask(first as u32, 28 + i as u32);
            }
        }
        Cron {
            seconds,
            minutes,
            hours,
            months,
            years,
            days,
            wildcard,
            day_table,
        }
    }

    /// The matching days of a month, as bits 1..=31.
    #[inline]
    pub fn day_mask(&self, year: i32, month: u32) -> u32 {
        let first = calendar::weekday(calendar::days_from_civil(year, month, 1));
        let len = calendar::days_in_month(year, month);
        self.day_table[first as usize][(len - 28) as usize]
    }

    /// Whether any day ever matches, decided on the calendar alone.
    pub fn ever_fires(&self) -> bool {
        match &self.years {
            Some(years) => years
                .iter()
                .any(|y| (1..=12).any(|m| self.months & (1 << m) != 0 && self.day_mask(y, m) != 0)),
            // Across the 400-year Gregorian cycle every month starts on
            // every weekday, in leap and common years alike.
            None => (1..=12u32)
                .filter(|m| self.months & (1 << m) != 0)
                .any(|m| {
                    let lens: &[u32] = match m {
                        2 => &[28, 29],
                        4 | 6 | 9 | 11 => &[30],
                        _ => &[31],
                    };
                    lens.iter().any(|&len| {
                        self.day_table
                            .iter()
                            .any(|row| row[(len - 28) as usize] != 0)
                    })
                }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days_of(mask: u32) -> Vec<u32> {
        bits(mask).collect()
    }

    // November 2026 starts on a Sunday and has 30 days.
    const NOV_2026: (u32, u32) = (0, 30);

    #[test]
    fn last_day_and_offsets() {
        let d = Days {
            dom_last: 1 | 1 << 3,
            dow_star: true,
            dow: 0x7f,
            ..Days::default()
        };
        assert_eq!(days_of(d.mask(NOV_2026.0, NOV_2026.1)), [27, 30]);
        // L-30 in February falls before the 1st: no day.
        let d = Days {
            dom_last: 1 << 30,
            dow_star: true,
            dow: 0x7f,
            ..Days::default()
        };
        assert_eq!(d.mask(0, 28), 0);
    }

    #[test]
    fn nearest_weekday_stays_in_month() {
        let all_weekdays = |d: Days| Days {
            dow_star: true,
            dow: 0x7f,
            ..d
        };
        // 2026-11-01 is a Sunday: 1W is Monday the 2nd.
        let d = all_weekdays(Days {
            dom_nearest_weekday: 1 << 1,
            ..Days::default()
        });
        assert_eq!(days_of(d.mask(0, 30)), [2]);
        // A month starting on Saturday: 1W is Monday the 3rd, not the previous month.
        assert_eq!(days_of(d.mask(6, 30)), [3]);
        // 30 is a Monday in Nov 2026; 31W does not exist in a 30-day month.
        let d = all_weekdays(Days {
            dom_nearest_weekday: 1 << 31,
            ..Days::default()
        });
        assert_eq!(d.mask(0, 30), 0);
        // A 31-day month starting on Friday ends on Sunday the 31st: 31W is Friday the 29th.
        assert_eq!(days_of(d.mask(5, 31)), [29]);
        // One starting on Thursday ends on Saturday the 31st: 31W is Friday the 30th.
        assert_eq!(days_of(d.mask(4, 31)), [30]);
        // LW: Nov 2026 ends on Monday the 30th.
        let d = all_weekdays(Days {
            dom_last_weekday: true,
            ..Days::default()
        });
        assert_eq!(days_of(d.mask(0, 30)), [30]);
        // A 31-day month starting on Friday ends on Sunday the 31st: LW is the 29th.
        assert_eq!(days_of(d.mask(5, 31)), [29]);
    }

    #[test]
    fn nth_and_last_weekday() {
        let dom_all = |d: Days| Days {
            dom_star: true,
            dom: !0,
            ..d
        };
        let mut nth = [0; 7];
        nth[1] = 1 << 2; // second Monday
        let d = dom_all(Days {
            dow_nth: nth,
            ..Days::default()
        });
        assert_eq!(days_of(d.mask(0, 30)), [9]);
        let d = dom_all(Days {
            dow_last: 1 << 5,
            ..Days::default()
        }); // last Friday
        assert_eq!(days_of(d.mask(0, 30)), [27]);
        let mut nth = [0; 7];
        nth[5] = 1 << 5; // fifth Friday: none in November 2026
        let d = dom_all(Days {
            dow_nth: nth,
            ..Days::default()
        });
        assert_eq!(d.mask(0, 30), 0);
    }

    #[test]
    fn crontab_or_rule() {
        // 13th or Friday: both fields restricted.
        let d = Days {
            dom: 1 << 13,
            dow: 1 << 5,
            ..Days::default()
        };
        assert_eq!(days_of(d.mask(0, 30)), [6, 13, 20, 27]);
        // */2 starts with a star: odd days AND Friday.
        let odd = (1..=31).step_by(2).fold(0, |m, d| m | 1 << d);
        let d = Days {
            dom: odd,
            dom_star: true,
            dow: 1 << 5,
            ..Days::default()
        };
        assert_eq!(days_of(d.mask(0, 30)), [13, 27]);
    }

    #[test]
    fn years_set() {
        let mut y = Years::empty();
        y.insert(1970);
        y.insert(2100);
        y.insert(2199);
        assert_eq!(y.next(1900), Some(1970));
        assert_eq!(y.next(1971), Some(2100));
        assert_eq!(y.next(2101), Some(2199));
        assert_eq!(y.next(2200), None);
    }
}
