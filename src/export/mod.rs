//! Writing tasks for bigger schedulers, for `kron export`: systemd timers
//! (`systemd`) and Kubernetes CronJobs (`kubernetes`). The crontab format
//! lives in `crate::crontab`, beside its reader.
//!
//! Each format translates a task's schedule exactly or refuses the task
//! with the reason ([`Refused`]); a setting the target has no place for (or
//! runs differently) becomes a comment in the output, as the crontab export
//! does. Schedules are translated from their parsed form, the bit sets of
//! the engine, so a translation means what kron's engine means and never
//! re-reads the text.
//!
//! This module does no I/O. Depends on `schedule`, `taskfile`, `units`, and
//! on `runner` for the base `PATH` and the retry delays.

pub mod kubernetes;
pub mod systemd;

use jiff::Timestamp;

use crate::schedule::{Expr, Schedule, YEAR_MAX, YEAR_MIN, Zone};

/// One file an export writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// The file name, without a directory.
    pub name: String,
    pub text: String,
}

/// A task the format cannot express, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    pub task: String,
    pub reason: String,
}

/// What an export produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Export {
    /// In task order.
    pub files: Vec<File>,
    pub refused: Vec<Refused>,
}

/// The fields of a parsed 5-, 6- or 7-field expression, copied out of the
/// engine's compact form (see `schedule::fields`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parts {
    pub seconds: u64,
    pub minutes: u64,
    pub hours: u64,
    /// Bits 1..=12.
    pub months: u64,
    /// `None`: every year (also for a year field that names them all).
    pub years: Option<Vec<i32>>,
    /// Plain days of the month, bits 1..=31.
    pub dom: u32,
    /// Bit k for `L-k`.
    pub dom_last: u32,
    /// Bit n for `nW`.
    pub dom_nearest_weekday: u32,
    /// `LW`.
    pub dom_last_weekday: bool,
    /// Plain weekdays, bits 0..=6, 0 = Sunday.
    pub dow: u8,
    /// For weekday w, bit k for `w#k`.
    pub dow_nth: [u8; 7],
    /// Bit w for `wL`.
    pub dow_last: u8,
    /// crontab(5)'s rule: a day matches when both day fields do if either
    /// began with `*`, else when either does.
    pub both_must_match: bool,
    /// cron(8)'s daylight-saving class: the second, minute or hour field
    /// begins with `*`.
    pub wildcard: bool,
}

impl Parts {
    pub fn of(expr: &Expr) -> Option<Parts> {
        let Expr::Cron(cron) = expr else {
            return None;
        };
        let days = &cron.days;
        let years: Option<Vec<i32>> = cron.years.as_ref().map(|y| y.iter().collect());
        let every_year = (YEAR_MAX - YEAR_MIN + 1) as usize;
        Some(Parts {
            seconds: cron.seconds,
            minutes: cron.minutes,
            hours: cron.hours,
            months: cron.months,
            years: years.filter(|y| y.len() != every_year),
            dom: days.dom,
            dom_last: days.dom_last,
            dom_nearest_weekday: days.dom_nearest_weekday,
            dom_last_weekday: days.dom_last_weekday,
            dow: days.dow,
            dow_nth: days.dow_nth,
            dow_last: days.dow_last,
            both_must_match: days.dom_star || days.dow_star,
            wildcard: cron.wildcard,
        })
    }
}

/// Every day of the month, bits 1..=31.
pub(crate) const ALL_DAYS: u32 = !1;
/// Every weekday, bits 0..=6.
pub(crate) const ALL_WEEKDAYS: u8 = 0x7f;

/// The values of the bits of `set` in `min..=max`, lowest first.
pub(crate) fn values(set: u64, min: u32, max: u32) -> Vec<u32> {
    (min..=max).filter(|&v| set & (1 << v) != 0).collect()
}

/// How a set of field values is written: every value, one arithmetic
/// progression to the end of the field, or a list of ranges and values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Items {
    All,
    /// `start`, `start + step`, ... up to the field's maximum.
    Step {
        start: u32,
        step: u32,
    },
    /// Ranges `(low, high)`, with `low == high` for a single value.
    List(Vec<(u32, u32)>),
}

/// `values` (sorted, in `min..=max`) as [`Items`]. `steps`: whether a
/// progression may be written as one (runs of three or more become ranges).
pub(crate) fn items(values: &[u32], min: u32, max: u32, steps: bool) -> Items {
    if values.len() as u32 == max - min + 1 {
        return Items::All;
    }
    if steps && values.len() >= 3 {
        let step = values[1] - values[0];
        let last = *values.last().expect("three values");
        if step >= 2 && values.windows(2).all(|w| w[1] - w[0] == step) && last + step > max {
            return Items::Step {
                start: values[0],
                step,
            };
        }
    }
    let mut list: Vec<(u32, u32)> = Vec::new();
    for &v in values {
        match list.last_mut() {
            Some((_, high)) if *high + 1 == v => *high = v,
            _ => list.push((v, v)),
        }
    }
    // Two consecutive values read better as a list than as a range.
    let mut out = Vec::new();
    for (low, high) in list {
        if high == low + 1 {
            out.push((low, low));
            out.push((high, high));
        } else {
            out.push((low, high));
        }
    }
    Items::List(out)
}

/// The shortest time between two firings, judged on the instants from the
/// start of 2026 on (at most 2,000 of them); `None` for `@reboot` or a
/// schedule with fewer than two instants left.
pub(crate) fn min_gap(schedule: &Schedule) -> Option<u64> {
    match schedule.expr() {
        Expr::Reboot => None,
        Expr::Every(period) => Some(*period),
        Expr::Cron(_) => {
            let base: Timestamp = "2026-01-01T00:00:00Z".parse().expect("valid instant");
            let instants: Vec<i64> = schedule
                .upcoming(base)
                .take(2000)
                .map(|t| t.as_second())
                .collect();
            instants
                .windows(2)
                .map(|w| (w[1] - w[0]).unsigned_abs())
                .min()
        }
    }
}

/// Where the exports look at a zone's transitions from: a fixed instant,
/// so that the same task file exports the same text.
fn transitions_from() -> i64 {
    let base: Timestamp = "2026-01-01T00:00:00Z".parse().expect("valid instant");
    base.as_second()
}

/// Whether the zone changes its offset (daylight saving) from 2026 on.
pub(crate) fn changes_offset(zone: &Zone) -> bool {
    zone.period(transitions_from()).end.is_some()
}

/// A daylight-saving change's wall times: those the clocks jump over, or
/// those they repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Transition {
    Gap,
    Repeat,
}

/// Whether a time of `expr` (a cron expression; macros such as `@every`
/// are not wall-clock times) falls in a gap or a repeat of `zone` (as
/// `which` says) in the 30 years from 2026: its seconds, minutes, hours,
/// days, months and years all count, so a daily 09:00 never does, nor
/// 02:30 in June.
pub(crate) fn meets_transition(expr: &Expr, zone: &Zone, which: Transition) -> bool {
    let Expr::Cron(cron) = expr else {
        return false;
    };
    let from = transitions_from();
    let until = from + 30 * 366 * 86_400;
    let mut t = from;
    while let Some(end) = zone.period(t).end.filter(|&end| end < until) {
        let (before, after) = (zone.period(t).offset, zone.period(end).offset);
        let kind = match after.cmp(&before) {
            std::cmp::Ordering::Greater => Some(Transition::Gap),
            std::cmp::Ordering::Less => Some(Transition::Repeat),
            std::cmp::Ordering::Equal => None,
        };
        // The wall times (civil seconds) between the two offsets at `end`.
        let (low, high) = (end + before.min(after), end + before.max(after));
        if kind == Some(which) && cron.next_civil(low, high).is_some() {
            return true;
        }
        t = end;
    }
    false
}

/// Whether `name` is an environment variable name every shell and systemd
/// accept: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn portable_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The command as an argument vector: a string runs as `shell -c TEXT`.
pub(crate) fn argv(task: &crate::taskfile::Task) -> Vec<String> {
    match &task.command {
        crate::taskfile::TaskCommand::Shell(text) => {
            vec![task.settings.shell.clone(), "-c".into(), text.clone()]
        }
        crate::taskfile::TaskCommand::Argv(words) => words.clone(),
    }
}

/// A text on one line, for one-line fields and comments: runs of blanks
/// and line breaks become one space, other control characters `?`.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace()
        .map(|word| word.replace(char::is_control, "?"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_choose_the_shortest_form() {
        assert_eq!(items(&(0..60).collect::<Vec<_>>(), 0, 59, true), Items::All);
        assert_eq!(
            items(&[0, 15, 30, 45], 0, 59, true),
            Items::Step { start: 0, step: 15 }
        );
        // A progression that stops early is a list.
        assert_eq!(
            items(&[0, 15, 30], 0, 59, true),
            Items::List(vec![(0, 0), (15, 15), (30, 30)])
        );
        assert_eq!(
            items(&[1, 2, 3, 5, 7, 8], 0, 59, true),
            Items::List(vec![(1, 3), (5, 5), (7, 7), (8, 8)])
        );
        assert_eq!(
            items(&[1, 3, 5], 0, 6, false),
            Items::List(vec![(1, 1), (3, 3), (5, 5)])
        );
    }

    #[test]
    fn schedules_that_meet_a_transition() {
        let meets = |zone: &str, text: &str, which| {
            let zone = Zone::get(zone).unwrap();
            let schedule = Schedule::parse(text, zone.clone()).unwrap();
            meets_transition(schedule.expr(), &zone, which)
        };
        use Transition::{Gap, Repeat};
        // Berlin: 02:00-03:00 is skipped on the last Sunday of March and
        // repeated on the last Sunday of October.
        let berlin = "Europe/Berlin";
        assert!(meets(berlin, "30 2 * * *", Gap));
        assert!(meets(berlin, "30 2 * * *", Repeat));
        assert!(meets(berlin, "30 2 * * sun", Gap));
        assert!(meets(berlin, "*/30 * * * *", Repeat));
        assert!(meets(berlin, "0 30 2 * 3 ? 2027", Gap));
        assert!(!meets(berlin, "0 9 * * *", Gap));
        assert!(!meets(berlin, "0 9 * * *", Repeat));
        assert!(!meets(berlin, "30 2 * 6 *", Gap));
        assert!(!meets(berlin, "30 2 * * mon", Gap));
        assert!(!meets(berlin, "0 3 * * *", Gap), "03:00 exists");
        assert!(!meets(berlin, "@every 1h", Repeat));
        // New York: 02:00-03:00 skipped, 01:00-02:00 repeated.
        let new_york = "America/New_York";
        assert!(!meets(new_york, "30 1 * * *", Gap));
        assert!(meets(new_york, "30 1 * * *", Repeat));
        assert!(!meets("UTC", "*/30 * * * *", Repeat));
    }

    #[test]
    fn min_gap_of_schedules() {
        let gap =
            |text: &str| min_gap(&Schedule::parse(text, crate::schedule::Zone::utc()).unwrap());
        assert_eq!(gap("*/15 * * * *"), Some(900));
        assert_eq!(gap("0 2 * * *"), Some(86400));
        assert_eq!(gap("0,30 9 * * mon"), Some(1800));
        assert_eq!(gap("@every 90m"), Some(5400));
        assert_eq!(gap("@reboot"), None);
        assert_eq!(gap("0 0 9 1 1 ? 2020"), None);
    }

    #[test]
    fn env_names() {
        assert!(portable_env_name("PATH"));
        assert!(portable_env_name("_x1"));
        assert!(!portable_env_name("1x"));
        assert!(!portable_env_name("a-b"));
        assert!(!portable_env_name(""));
    }
}
