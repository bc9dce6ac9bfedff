//! Translating a schedule into what a systemd timer needs to fire at
//! exactly kron's instants: `OnCalendar=` values (systemd.time(7)),
//! `OnBootSec=0` for `@reboot`, or the reason systemd cannot express it.
//! Kept apart from the unit text because this is the half that must mean
//! what kron's engine means (tests/export.rs compares it with
//! `systemd-analyze calendar`); the unit writing only places it.
//!
//! - fields become systemd's lists (`,`), ranges (`..`) and repetitions
//!   (`/`); weekdays a `Mon..Fri` prefix; `L-k` counts back from the end of
//!   the month (`~(k+1)`: `*-*~01` is the last day), `w#k` is weekday `w`
//!   on days `7k-6..7k`, `wL` weekday `w` in the last seven days
//!   (`~01..07`);
//! - crontab(5)'s rule that a day matches when either day field does (both
//!   restricted) becomes two `OnCalendar=` lines: a timer fires at the union
//!   of its values;
//! - `@every` counts from the Unix epoch, which `OnCalendar=` can say (in
//!   UTC) only for a period that divides a day.
//!
//! Refused: `nW`, `LW`, `L-28` and beyond (`~` counts at most 28 days),
//! days counted from both ends of the month that must both match, and
//! `@every` periods that do not divide a day.

use std::time::Duration;

use crate::export::{ALL_DAYS, ALL_WEEKDAYS, Items, Parts, items, values};
use crate::schedule::{Expr, YEAR_MAX, YEAR_MIN};
use crate::units::format_duration;

/// When a timer elapses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `OnCalendar=` values; the timer elapses at the union of their instants.
    Calendar(Vec<String>),
    /// `@reboot`: `OnBootSec=0`.
    Boot,
}

/// What a timer needs to fire at a schedule's instants. `zone`: the zone
/// written after each calendar event; `None` is the machine's local zone.
/// The error says why systemd cannot express the schedule.
pub fn trigger(expr: &Expr, zone: Option<&str>) -> Result<Trigger, String> {
    match expr {
        Expr::Reboot => Ok(Trigger::Boot),
        Expr::Every(period) => every(*period).map(Trigger::Calendar),
        Expr::Cron(_) => {
            let parts = Parts::of(expr).expect("a cron expression");
            calendar(&parts, zone).map(Trigger::Calendar)
        }
    }
}

/// The days of one calendar event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Days {
    Any,
    /// Days of the month, bits 1..=31.
    Forward(u32),
    /// Days from the end, bit k for `~k` (1 is the last day), k in 1..=28.
    Backward(u32),
}

/// One calendar event's weekdays (bits 0..=6, 0 = Sunday) and days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Term {
    weekdays: u8,
    days: Days,
}

/// Days 7k-6..=7k of the month for each bit k of `nth` (`w#k`).
fn nth_days(nth: u8) -> u32 {
    (1..=5)
        .filter(|k| nth & (1 << k) != 0)
        .fold(0, |acc, k| acc | (0x7f << (7 * (k - 1) + 1)))
        & ALL_DAYS
}

/// The last seven days of any month, as `~` bits 1..=7.
const LAST_WEEK: u32 = 0x7f << 1;

fn intersect(a: Days, b: Days) -> Result<Option<Days>, String> {
    let days = match (a, b) {
        (Days::Any, d) | (d, Days::Any) => d,
        (Days::Forward(x), Days::Forward(y)) => Days::Forward(x & y),
        (Days::Backward(x), Days::Backward(y)) => Days::Backward(x & y),
        _ => {
            return Err(
                "needs days counted from the start of the month and days counted \
                        from its end to match together, and an OnCalendar= value counts \
                        from one end only"
                    .into(),
            );
        }
    };
    Ok(match days {
        Days::Forward(0) | Days::Backward(0) => None,
        d => Some(d),
    })
}

/// The calendar events, each a set of weekdays and days, whose union is
/// the days the expression selects.
fn day_terms(p: &Parts) -> Result<Vec<Term>, String> {
    if p.dom_nearest_weekday != 0 {
        let n = p.dom_nearest_weekday.trailing_zeros();
        return Err(format!(
            "uses `{n}W` (the weekday nearest a day of the month), which OnCalendar= cannot express"
        ));
    }
    if p.dom_last_weekday {
        return Err(
            "uses `LW` (the last weekday of the month), which OnCalendar= cannot express".into(),
        );
    }
    if let Some(k) = (28..=30).find(|k| p.dom_last & (1 << k) != 0) {
        return Err(format!(
            "uses `L-{k}`, and OnCalendar= counts at most 28 days from the end of a month \
             (`~28` is `L-27`)"
        ));
    }
    let dom_always = p.dom & ALL_DAYS == ALL_DAYS;
    let dow_always = p.dow & ALL_WEEKDAYS == ALL_WEEKDAYS;
    let mut dom = Vec::new();
    if p.dom & ALL_DAYS != 0 {
        dom.push(Days::Forward(p.dom & ALL_DAYS));
    }
    if p.dom_last != 0 {
        dom.push(Days::Backward(p.dom_last << 1));
    }
    let mut dow = Vec::new();
    if p.dow != 0 {
        dow.push(Term {
            weekdays: p.dow,
            days: Days::Any,
        });
    }
    for (w, &nth) in p.dow_nth.iter().enumerate() {
        if nth != 0 {
            dow.push(Term {
                weekdays: 1 << w,
                days: Days::Forward(nth_days(nth)),
            });
        }
    }
    if p.dow_last != 0 {
        dow.push(Term {
            weekdays: p.dow_last,
            days: Days::Backward(LAST_WEEK),
        });
    }
    let every_day = Term {
        weekdays: ALL_WEEKDAYS,
        days: Days::Any,
    };
    let dom_terms = |dom: Vec<Days>| {
        dom.into_iter()
            .map(|days| Term {
                weekdays: ALL_WEEKDAYS,
                days,
            })
            .collect::<Vec<_>>()
    };
    let terms = if p.both_must_match {
        match (dom_always, dow_always) {
            (true, true) => vec![every_day],
            (true, false) => dow,
            (false, true) => dom_terms(dom),
            (false, false) => {
                let mut terms = Vec::new();
                for d in &dom {
                    for w in &dow {
                        if let Some(days) = intersect(*d, w.days)? {
                            terms.push(Term {
                                weekdays: w.weekdays,
                                days,
                            });
                        }
                    }
                }
                terms
            }
        }
    } else if dom_always || dow_always {
        vec![every_day]
    } else {
        let mut terms = dom_terms(dom);
        terms.extend(dow);
        terms
    };
    Ok(merge(terms))
}

/// Fewer events for the same days: one per set of days (weekdays joined),
/// then one per set of weekdays (days of the month joined).
fn merge(terms: Vec<Term>) -> Vec<Term> {
    let mut by_days: Vec<Term> = Vec::new();
    for t in terms {
        match by_days.iter_mut().find(|m| m.days == t.days) {
            Some(m) => m.weekdays |= t.weekdays,
            None => by_days.push(t),
        }
    }
    let mut out: Vec<Term> = Vec::new();
    for t in by_days {
        let same = out.iter_mut().find(|m| {
            m.weekdays == t.weekdays
                && matches!((m.days, t.days), (Days::Forward(_), Days::Forward(_)))
        });
        match (same, t.days) {
            (Some(m), Days::Forward(new)) => {
                if let Days::Forward(days) = &mut m.days {
                    *days |= new;
                }
            }
            _ => out.push(t),
        }
    }
    out
}

/// A field in systemd's syntax: `*`, `a/n`, or a list of `a..b` and `a`,
/// two digits each.
fn field(set: u64, min: u32, max: u32) -> String {
    render(&items(&values(set, min, max), min, max, true), 2)
}

fn render(items: &Items, width: usize) -> String {
    match items {
        Items::All => "*".into(),
        Items::Step { start, step } => format!("{start:0width$}/{step}"),
        Items::List(list) => list
            .iter()
            .map(|&(low, high)| {
                if low == high {
                    format!("{low:0width$}")
                } else {
                    format!("{low:0width$}..{high:0width$}")
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// `Mon..Fri `, `Sat,Sun `, or nothing for every weekday.
fn weekday_prefix(weekdays: u8) -> String {
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    // systemd's week starts on Monday: index 0 is Monday, 6 Sunday.
    let monday_first: Vec<u32> = (0..7u32)
        .filter(|&i| weekdays & (1 << ((i + 1) % 7)) != 0)
        .collect();
    match items(&monday_first, 0, 6, false) {
        Items::All => String::new(),
        Items::List(list) => {
            let parts: Vec<String> = list
                .iter()
                .map(|&(low, high)| {
                    if low == high {
                        NAMES[low as usize].to_string()
                    } else {
                        format!("{}..{}", NAMES[low as usize], NAMES[high as usize])
                    }
                })
                .collect();
            format!("{} ", parts.join(","))
        }
        Items::Step { .. } => unreachable!("no steps asked for"),
    }
}

fn calendar(p: &Parts, zone: Option<&str>) -> Result<Vec<String>, String> {
    let time = format!(
        "{}:{}:{}",
        field(p.hours, 0, 23),
        field(p.minutes, 0, 59),
        field(p.seconds, 0, 59)
    );
    let years = match &p.years {
        None => "*".to_string(),
        Some(years) => {
            let years: Vec<u32> = years.iter().map(|&y| y as u32).collect();
            render(&items(&years, YEAR_MIN as u32, YEAR_MAX as u32, false), 4)
        }
    };
    let months = field(p.months, 1, 12);
    let zone = zone.map(|z| format!(" {z}")).unwrap_or_default();
    let terms = day_terms(p)?;
    if terms.is_empty() {
        return Err("never fires".into());
    }
    Ok(terms
        .iter()
        .map(|t| {
            let date = match t.days {
                Days::Any => format!("{years}-{months}-*"),
                Days::Forward(days) => format!("{years}-{months}-{}", field(days.into(), 1, 31)),
                Days::Backward(days) => {
                    let back = values(days.into(), 1, 28);
                    format!(
                        "{years}-{months}~{}",
                        render(&items(&back, 1, 28, false), 2)
                    )
                }
            };
            format!("{}{date} {time}{zone}", weekday_prefix(t.weekdays))
        })
        .collect())
}

/// `@every PERIOD`: the times of day at multiples of the period since the
/// epoch, in UTC, as few `*-*-* H:M:S UTC` events as they take.
fn every(period: u64) -> Result<Vec<String>, String> {
    const DAY: u64 = 86_400;
    if period == 0 || !DAY.is_multiple_of(period) {
        return Err(format!(
            "counts every {} from the Unix epoch; OnCalendar= can repeat that only for \
             a period that divides a day evenly, and OnUnitActiveSec= counts from the \
             last run instead",
            format_duration(Duration::from_secs(period))
        ));
    }
    // Hour -> the (minute, second) pairs in it, as minute * 60 + second.
    let mut hours: Vec<(u64, Vec<u64>)> = Vec::new();
    for t in (0..DAY).step_by(period as usize) {
        let (hour, rest) = (t / 3600, t % 3600);
        match hours.last_mut() {
            Some((h, pairs)) if *h == hour => pairs.push(rest),
            _ => hours.push((hour, vec![rest])),
        }
    }
    // Hours with the same pairs share events.
    let mut groups: Vec<(u64, Vec<u64>)> = Vec::new();
    for (hour, pairs) in hours {
        match groups.iter_mut().find(|(_, p)| *p == pairs) {
            Some((set, _)) => *set |= 1 << hour,
            None => groups.push((1 << hour, pairs)),
        }
    }
    let mut lines = Vec::new();
    for (hour_set, pairs) in groups {
        // Minute -> its seconds; minutes with the same seconds share a line.
        let mut minutes: Vec<(u64, u64)> = Vec::new();
        for pair in pairs {
            let (minute, second) = (pair / 60, pair % 60);
            match minutes.iter_mut().find(|(m, _)| *m == minute) {
                Some((_, seconds)) => *seconds |= 1 << second,
                None => minutes.push((minute, 1 << second)),
            }
        }
        let mut by_seconds: Vec<(u64, u64)> = Vec::new();
        for (minute, seconds) in minutes {
            match by_seconds.iter_mut().find(|(_, s)| *s == seconds) {
                Some((set, _)) => *set |= 1 << minute,
                None => by_seconds.push((1 << minute, seconds)),
            }
        }
        for (minute_set, second_set) in by_seconds {
            lines.push(format!(
                "*-*-* {}:{}:{} UTC",
                field(hour_set, 0, 23),
                field(minute_set, 0, 59),
                field(second_set, 0, 59)
            ));
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Schedule, Zone};

    fn parse_expr(text: &str) -> Result<Expr, String> {
        Schedule::parse(text, Zone::utc())
            .map(|s| s.expr().clone())
            .map_err(|e| e.to_string())
    }

    fn events(text: &str) -> Result<Vec<String>, String> {
        match trigger(&parse_expr(text).unwrap(), None)? {
            Trigger::Calendar(events) => Ok(events),
            Trigger::Boot => Ok(vec!["boot".into()]),
        }
    }

    #[test]
    fn translations() {
        let cases: &[(&str, &[&str])] = &[
            ("30 2 * * *", &["*-*-* 02:30:00"]),
            ("*/15 9-17 * * mon-fri", &["Mon..Fri *-*-* 09..17:00/15:00"]),
            ("0 0 13 * 5", &["*-*-13 00:00:00", "Fri *-*-* 00:00:00"]),
            ("0 0 */2 * 5", &["Fri *-*-01/2 00:00:00"]),
            ("0 0 L * *", &["*-*~01 00:00:00"]),
            ("0 0 L-2 * *", &["*-*~03 00:00:00"]),
            ("0 0 1,L * *", &["*-*-01 00:00:00", "*-*~01 00:00:00"]),
            ("0 18 * * 5L", &["Fri *-*~01..07 18:00:00"]),
            ("0 10 * * mon#2", &["Mon *-*-08..14 10:00:00"]),
            ("0 10 * * 1#2,3#2", &["Mon,Wed *-*-08..14 10:00:00"]),
            ("0 10 * * 1#1,1#5", &["Mon *-*-01..07,29..31 10:00:00"]),
            ("*/10 * * * * *", &["*-*-* *:*:00/10"]),
            ("0 0 9 1 1 ? 2027", &["2027-01-01 09:00:00"]),
            (
                "0 0 9 * * ? 2027-2030,2035",
                &["2027..2030,2035-*-* 09:00:00"],
            ),
            ("0 0 1 */3 *", &["*-01/3-01 00:00:00"]),
            ("0 12 * * sat,sun", &["Sat,Sun *-*-* 12:00:00"]),
            ("0 12 * * 0-6", &["*-*-* 12:00:00"]),
            ("0 12 1-31 * 1", &["*-*-* 12:00:00"]),
            ("5,6 4 * * *", &["*-*-* 04:05,06:00"]),
            ("@hourly", &["*-*-* *:00:00"]),
            ("@weekly", &["Sun *-*-* 00:00:00"]),
            ("@yearly", &["*-01-01 00:00:00"]),
            ("@every 15m", &["*-*-* *:00/15:00 UTC"]),
            ("@every 2h", &["*-*-* 00/2:00:00 UTC"]),
            ("@every 1d", &["*-*-* 00:00:00 UTC"]),
            (
                "@every 90m",
                &["*-*-* 00/3:00:00 UTC", "*-*-* 01/3:30:00 UTC"],
            ),
            ("@reboot", &["boot"]),
        ];
        for (expr, want) in cases {
            let want: Vec<String> = want.iter().map(|w| w.to_string()).collect();
            assert_eq!(events(expr), Ok(want), "{expr}");
        }
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                "0 9 15W * *",
                "uses `15W` (the weekday nearest a day of the month), which OnCalendar= \
                 cannot express",
            ),
            (
                "0 9 LW * *",
                "uses `LW` (the last weekday of the month), which OnCalendar= cannot express",
            ),
            (
                "0 9 L-28 * *",
                "uses `L-28`, and OnCalendar= counts at most 28 days from the end of a month \
                 (`~28` is `L-27`)",
            ),
            (
                "0 9 */2 * 5L",
                "needs days counted from the start of the month and days counted from its \
                 end to match together, and an OnCalendar= value counts from one end only",
            ),
            (
                "@every 7m",
                "counts every 7m from the Unix epoch; OnCalendar= can repeat that only for a \
                 period that divides a day evenly, and OnUnitActiveSec= counts from the last \
                 run instead",
            ),
            (
                "@every 2d",
                "counts every 2d from the Unix epoch; OnCalendar= can repeat that only for a \
                 period that divides a day evenly, and OnUnitActiveSec= counts from the last \
                 run instead",
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(events(expr), Err(want.to_string()), "{expr}");
        }
    }

    #[test]
    fn the_zone_follows_each_event() {
        let expr = parse_expr("0 0 13 * 5").unwrap();
        assert!(parse_expr("@bogus").is_err());
        assert_eq!(
            trigger(&expr, Some("Europe/Berlin")),
            Ok(Trigger::Calendar(vec![
                "*-*-13 00:00:00 Europe/Berlin".into(),
                "Fri *-*-* 00:00:00 Europe/Berlin".into()
            ]))
        );
    }

    /// The values a systemd field of a time of day selects.
    fn expand(field: &str, max: u32) -> Vec<u32> {
        if field == "*" {
            return (0..=max).collect();
        }
        let mut out = Vec::new();
        for item in field.split(',') {
            if let Some((start, step)) = item.split_once('/') {
                let (start, step): (u32, u32) = (start.parse().unwrap(), step.parse().unwrap());
                out.extend((start..=max).step_by(step as usize));
            } else if let Some((low, high)) = item.split_once("..") {
                out.extend(low.parse::<u32>().unwrap()..=high.parse().unwrap());
            } else {
                out.push(item.parse().unwrap());
            }
        }
        out
    }

    #[test]
    fn every_divisor_of_a_day_gives_exactly_its_times() {
        for period in (1..=86_400u32).filter(|p| 86_400 % p == 0) {
            let mut times = Vec::new();
            for event in every(u64::from(period)).unwrap() {
                let time = event
                    .strip_prefix("*-*-* ")
                    .and_then(|e| e.strip_suffix(" UTC"))
                    .unwrap();
                let fields: Vec<&str> = time.split(':').collect();
                for h in expand(fields[0], 23) {
                    for m in expand(fields[1], 59) {
                        for s in expand(fields[2], 59) {
                            times.push(h * 3600 + m * 60 + s);
                        }
                    }
                }
            }
            times.sort_unstable();
            let want: Vec<u32> = (0..86_400).step_by(period as usize).collect();
            assert_eq!(times, want, "@every {period}s");
        }
    }
}
