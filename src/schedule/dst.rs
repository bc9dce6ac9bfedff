//! What a zone's clock changes do to a schedule, in numbers and in words
//! (`kron dst`, the notes of `add`, `edit`, `import` and `check`, the mark
//! of `kron list`, the marks of `kron plan`, and `kron why`'s word on an
//! instant a clock change moved: [`Schedule::dst_note`]).
//!
//! Nothing here decides what a wall time in a gap or an overlap does. For
//! each transition of the zone in a span of time, the wall times the
//! transition touches that the schedule names come from the calendar
//! search (`Cron::next_civil`, the search behind every firing), and the
//! instants fired for them from [`Schedule::next_after`], the function the
//! daemon fires by; this module counts both and puts the result in words.
//! So `kron dst` says what the daemon will do, not what a second reading of
//! the rule says it should.
//!
//! A transition's *window* is the wall times it affects: those that do not
//! exist (a gap, clocks forward) or that occur twice (an overlap, clocks
//! back). A schedule is affected by a transition when it names a wall time
//! in the window.

use jiff::Timestamp;
use jiff::civil::DateTime;

use super::calendar::{Civil, weekday};
use super::fields::Cron;
use super::{Expr, Schedule, Zone};

/// A change of a zone's UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The first instant of the new offset.
    pub at: Timestamp,
    /// The UTC offsets before and after, in seconds.
    pub before: i64,
    pub after: i64,
}

/// Which way the clocks go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Forward: the wall times of the window do not exist.
    Gap,
    /// Back: the wall times of the window occur twice.
    Overlap,
}

/// How a schedule meets a transition (`shared/spec/schedules.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Each wall time once: at the end of a gap, at the first of an overlap.
    FixedTime,
    /// The real clock: times in a gap are skipped, repeated ones run again.
    Wildcard,
    /// `@every`: counted in real time, whatever the wall clock says.
    RealTime,
    /// `@reboot`: no timed runs.
    NoTimes,
}

impl Transition {
    pub fn change(&self) -> Change {
        if self.after > self.before {
            Change::Gap
        } else {
            Change::Overlap
        }
    }

    /// How far the clocks move, in seconds (negative: back).
    pub fn shift(&self) -> i64 {
        self.after - self.before
    }

    /// The wall times affected, as civil seconds, `start..end`.
    fn window(&self) -> (i64, i64) {
        let t = self.at.as_second();
        (
            t + self.before.min(self.after),
            t + self.before.max(self.after),
        )
    }

    /// The first and the end of the affected wall times.
    pub fn wall_window(&self) -> (DateTime, DateTime) {
        let (start, end) = self.window();
        (civil(start), civil(end))
    }

    /// `forward 1h at 02:00 on Sun 2027-03-28`.
    pub fn describe(&self) -> String {
        let wall = self.at.as_second() + self.before;
        let way = match self.change() {
            Change::Gap => "forward",
            Change::Overlap => "back",
        };
        format!(
            "{way} {} at {} on {}",
            span(self.shift().unsigned_abs()),
            clock(wall),
            day(wall)
        )
    }
}

/// What one transition does to one schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fate {
    pub transition: Transition,
    /// The schedule's wall times in the transition's window, in order, as
    /// civil seconds (see [`Fate::wall_times`]).
    walls: Vec<i64>,
    /// The instants the engine fires for them: for a gap, at the
    /// transition; for an overlap, in the two passes over the window.
    pub runs: Vec<Timestamp>,
    /// For a gap: the schedule names the first wall time after it too, so
    /// that a run at the transition is also that wall time's own.
    pub coincides: bool,
    /// How the schedule meets transitions: it tells a run at the end of a
    /// gap that stands for the gap's wall times (fixed-time) from one that
    /// is only the next wall time's (wildcard), which the engine's
    /// instants alone cannot.
    pub rule: Rule,
}

impl Zone {
    /// The zone's offset changes at instants in `from..until`, in order.
    pub fn transitions(&self, from: Timestamp, until: Timestamp) -> Vec<Transition> {
        if self.time_zone().to_fixed_offset().is_ok() {
            return Vec::new();
        }
        // `following` yields transitions strictly after its argument.
        let start = from
            .checked_sub(jiff::SignedDuration::from_nanos(1))
            .unwrap_or(from);
        self.time_zone()
            .following(start)
            .map(|tr| tr.timestamp())
            .take_while(|&at| at < until)
            .map(|at| Transition {
                at,
                before: self.offset(at.as_second() - 1),
                after: self.offset(at.as_second()),
            })
            .filter(|tr| tr.before != tr.after)
            .collect()
    }
}

impl Schedule {
    /// How the schedule meets a transition.
    pub fn rule(&self) -> Rule {
        match &self.expr {
            Expr::Cron(cron) if cron.wildcard => Rule::Wildcard,
            Expr::Cron(_) => Rule::FixedTime,
            Expr::Every(_) => Rule::RealTime,
            Expr::Reboot => Rule::NoTimes,
        }
    }

    /// What each of the zone's transitions in `from..until` does to the
    /// schedule, for those it is affected by.
    pub fn fates(&self, from: Timestamp, until: Timestamp) -> Vec<Fate> {
        let Expr::Cron(cron) = &self.expr else {
            return Vec::new();
        };
        self.zone
            .transitions(from, until)
            .into_iter()
            .filter_map(|tr| self.fate(cron, tr))
            .collect()
    }

    fn fate(&self, cron: &Cron, transition: Transition) -> Option<Fate> {
        let (start, end) = transition.window();
        let mut walls = Vec::new();
        let mut from = start;
        while let Some(wall) = cron.next_civil(from, end) {
            walls.push(wall);
            from = wall + 1;
        }
        if walls.is_empty() {
            return None;
        }
        let t = transition.at.as_second();
        let (runs_from, runs_until) = match transition.change() {
            Change::Gap => (t, t + 1),
            Change::Overlap => (t - (end - start), t + (end - start)),
        };
        let runs = self.instants(runs_from, runs_until);
        let coincides = transition.change() == Change::Gap
            && cron.next_civil(t + transition.after, t + transition.after + 1)
                == Some(t + transition.after);
        Some(Fate {
            transition,
            walls,
            runs,
            coincides,
            rule: self.rule(),
        })
    }

    /// What a clock change did to the instant `at`, one the engine fired,
    /// in words for `kron why`: `02:30 does not exist (DST gap in
    /// Europe/Berlin): runs at 03:00 as the schedule rule says`. `None`
    /// when no transition of the zone moved or repeated it (nor when the
    /// run at the end of a gap is only that wall time's own).
    pub fn dst_note(&self, at: Timestamp) -> Option<String> {
        let day = jiff::SignedDuration::from_hours(24);
        let from = at.checked_sub(day).ok()?;
        let until = at.checked_add(day).ok()?;
        self.fates(from, until)
            .iter()
            .find(|f| f.runs.contains(&at))
            .and_then(|f| f.explain(at, &self.zone))
    }

    /// The instants in `from..until` (Unix seconds), from the engine.
    fn instants(&self, from: i64, until: i64) -> Vec<Timestamp> {
        let Ok(before) = Timestamp::from_second(from - 1) else {
            return Vec::new();
        };
        self.upcoming(before)
            .take_while(|t| t.as_second() < until)
            .collect()
    }
}

impl Fate {
    pub fn change(&self) -> Change {
        self.transition.change()
    }

    /// The schedule's wall times in the transition's window, in order.
    pub fn wall_times(&self) -> Vec<DateTime> {
        self.walls.iter().map(|&s| civil(s)).collect()
    }

    /// The gap's wall times run at the transition: a run there that is not
    /// (only) the next wall time's own.
    fn moved(&self) -> bool {
        !self.runs.is_empty() && (!self.coincides || self.rule == Rule::FixedTime)
    }

    /// Each wall time runs once, at its first occurrence.
    fn once_at_first(&self) -> bool {
        self.runs.len() == self.walls.len() && self.runs.iter().all(|&r| r < self.transition.at)
    }

    /// The local date the window is on: `2027-03-28`.
    pub fn date(&self) -> String {
        let (start, _) = self.transition.window();
        let c = Civil::from_seconds(start);
        format!("{:04}-{:02}-{:02}", c.year, c.month, c.day)
    }

    /// The fate in words, for `kron dst`: `Sun 2027-03-28 02:30 does not
    /// exist in Europe/Berlin: runs once at 03:00`. `expr` is the schedule
    /// as written.
    pub fn sentence(&self, expr: &str, zone: &Zone) -> String {
        let (start, end) = self.transition.window();
        let on = day(start);
        let t = self.transition.at.as_second() + self.transition.after;
        let walls = self.walls();
        let one = self.walls.len() == 1;
        match self.change() {
            Change::Gap if self.moved() => {
                let (verb, run) = if one {
                    ("does", "runs once")
                } else {
                    ("do", "run once, together,")
                };
                let also = if self.coincides {
                    format!(", with its {} run", clock(t))
                } else {
                    String::new()
                };
                format!(
                    "{on} {walls} {verb} not exist in {}: {run} at {}{also}",
                    zone.name(),
                    clock(t)
                )
            }
            Change::Gap => format!(
                "{on}: `{expr}` skips {walls}, which {} not exist in {}",
                if one { "does" } else { "do" },
                zone.name()
            ),
            Change::Overlap if self.once_at_first() => format!(
                "{on} {walls} {}: {} once, at the first",
                if one { "happens twice" } else { "happen twice" },
                if one { "runs" } else { "each runs" }
            ),
            Change::Overlap => format!(
                "{on}: `{expr}` runs {} between {} and {} local that night, because {} repeats",
                times(self.runs.len()),
                clock(start),
                clock(end),
                repeated(end - start)
            ),
        }
    }

    /// What this fate did to `at`, one of its runs (see
    /// [`Schedule::dst_note`]).
    fn explain(&self, at: Timestamp, zone: &Zone) -> Option<String> {
        let walls = self.walls();
        let one = self.walls.len() == 1;
        let tr = &self.transition;
        let zone = zone.name();
        match self.change() {
            Change::Gap if self.moved() => {
                let t = tr.at.as_second() + tr.after;
                let with = if self.coincides {
                    format!(" with its {} run", clock(t))
                } else {
                    String::new()
                };
                Some(format!(
                    "{walls} {} not exist (DST gap in {zone}): runs at {}{with} as the schedule \
                     rule says",
                    if one { "does" } else { "do" },
                    clock(t)
                ))
            }
            Change::Gap => None,
            Change::Overlap if self.once_at_first() => Some(format!(
                "{walls} {} (DST overlap in {zone}): runs once, at the first, as the schedule \
                 rule says",
                if one { "happens twice" } else { "happen twice" }
            )),
            Change::Overlap => {
                let first = at < tr.at;
                let offset = if first { tr.before } else { tr.after };
                let wall = clock(at.as_second() + offset);
                Some(if first {
                    format!(
                        "{wall} happens twice (DST overlap in {zone}): this is the first; the \
                         schedule rule runs it at both"
                    )
                } else {
                    format!(
                        "{wall} happens twice (DST overlap in {zone}): this is the second; the \
                         schedule rule runs it at both"
                    )
                })
            }
        }
    }

    /// The fate in one short clause, for the notes of `add`, `edit`,
    /// `import` and `check`: `on 2027-03-28 backup runs at 03:00 instead
    /// of 02:30`.
    pub fn note(&self, task: &str) -> String {
        let (start, end) = self.transition.window();
        let date = self.date();
        let walls = self.walls();
        let t = self.transition.at.as_second() + self.transition.after;
        match self.change() {
            Change::Gap if self.moved() => {
                format!("on {date} {task} runs at {} instead of {walls}", clock(t))
            }
            Change::Gap => format!(
                "on {date} {task} skips {walls}, which {} not exist",
                if self.walls.len() == 1 { "does" } else { "do" }
            ),
            Change::Overlap if self.once_at_first() => format!(
                "on {date} {walls} {} and {task} runs once, at the first",
                if self.walls.len() == 1 {
                    "happens twice"
                } else {
                    "happen twice"
                }
            ),
            Change::Overlap => format!(
                "on {date} {task} runs {} between {} and {}, as {} repeats",
                times(self.runs.len()),
                clock(start),
                clock(end),
                repeated(end - start)
            ),
        }
    }

    /// `02:30`, `02:00 and 02:30`, `02:00, 02:15, 02:30 and 02:45`, or for
    /// more, `02:00 to 02:59 (60 times)`.
    fn walls(&self) -> String {
        let all = &self.walls;
        match all.as_slice() {
            [] => String::new(),
            [one] => clock(*one),
            list if list.len() <= 4 => {
                let (last, rest) = list.split_last().expect("not empty");
                let rest: Vec<String> = rest.iter().map(|&s| clock(s)).collect();
                format!("{} and {}", rest.join(", "), clock(*last))
            }
            list => format!(
                "{} to {} ({})",
                clock(list[0]),
                clock(list[list.len() - 1]),
                times(list.len())
            ),
        }
    }
}

/// Civil seconds as a jiff date and time.
fn civil(seconds: i64) -> DateTime {
    let c = Civil::from_seconds(seconds);
    jiff::civil::date(c.year as i16, c.month as i8, c.day as i8).at(
        c.hour as i8,
        c.minute as i8,
        c.second as i8,
        0,
    )
}

/// `02:30`, or `02:30:15` when the seconds are not zero.
fn clock(seconds: i64) -> String {
    let c = Civil::from_seconds(seconds);
    if c.second == 0 {
        format!("{:02}:{:02}", c.hour, c.minute)
    } else {
        format!("{:02}:{:02}:{:02}", c.hour, c.minute, c.second)
    }
}

/// `Sun 2027-03-28`.
fn day(seconds: i64) -> String {
    const NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    let c = Civil::from_seconds(seconds);
    let wd = weekday(seconds.div_euclid(86_400));
    format!(
        "{} {:04}-{:02}-{:02}",
        NAMES[wd as usize], c.year, c.month, c.day
    )
}

/// `once`, `twice`, `8 times`.
fn times(n: usize) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

/// `1h`, `30m`, `1h 30m`.
fn span(seconds: u64) -> String {
    let (h, m) = (seconds / 3600, seconds / 60 % 60);
    match (h, m) {
        (0, m) => format!("{m}m"),
        (h, 0) => format!("{h}h"),
        (h, m) => format!("{h}h {m}m"),
    }
}

/// What repeats in an overlap of `seconds`: `the hour`, `the half hour`.
fn repeated(seconds: i64) -> String {
    match seconds {
        3600 => "the hour".into(),
        1800 => "the half hour".into(),
        s => format!("that {}", span(s.unsigned_abs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fates(expr: &str, zone: &str, year: i16) -> Vec<String> {
        let zone = Zone::get(zone).unwrap();
        let schedule = Schedule::parse(expr, zone.clone()).unwrap();
        let tz = zone.time_zone().clone();
        let from = jiff::civil::date(year, 1, 1).to_zoned(tz.clone()).unwrap();
        let until = jiff::civil::date(year + 1, 1, 1).to_zoned(tz).unwrap();
        schedule
            .fates(from.timestamp(), until.timestamp())
            .iter()
            .map(|f| f.sentence(expr, &zone))
            .collect()
    }

    #[test]
    fn berlin_fixed_time_and_wildcard() {
        assert_eq!(
            fates("30 2 * * *", "Europe/Berlin", 2027),
            [
                "Sun 2027-03-28 02:30 does not exist in Europe/Berlin: runs once at 03:00",
                "Sun 2027-10-31 02:30 happens twice: runs once, at the first",
            ]
        );
        assert_eq!(
            fates("*/15 * * * *", "Europe/Berlin", 2027),
            [
                "Sun 2027-03-28: `*/15 * * * *` skips 02:00, 02:15, 02:30 and 02:45, which do not exist in Europe/Berlin",
                "Sun 2027-10-31: `*/15 * * * *` runs 8 times between 02:00 and 03:00 local that night, because the hour repeats",
            ]
        );
        assert_eq!(
            fates("0,30 2 * * *", "Europe/Berlin", 2027),
            [
                "Sun 2027-03-28 02:00 and 02:30 do not exist in Europe/Berlin: run once, together, at 03:00",
                "Sun 2027-10-31 02:00 and 02:30 happen twice: each runs once, at the first",
            ]
        );
        assert_eq!(
            fates("0 2,3 * * *", "Europe/Berlin", 2027),
            [
                "Sun 2027-03-28 02:00 does not exist in Europe/Berlin: runs once at 03:00, with its 03:00 run",
                "Sun 2027-10-31 02:00 happens twice: runs once, at the first"
            ]
        );
        assert!(fates("0 9 * * *", "Europe/Berlin", 2027).is_empty());
        // Transitions on a Sunday; a weekday schedule never meets them.
        assert!(fates("30 2 * * 1-5", "Europe/Berlin", 2027).is_empty());
        assert!(fates("@every 1h", "Europe/Berlin", 2027).is_empty());
    }

    #[test]
    fn lord_howe_shifts_half_an_hour() {
        assert_eq!(
            fates("15 2 * * *", "Australia/Lord_Howe", 2027),
            ["Sun 2027-10-03 02:15 does not exist in Australia/Lord_Howe: runs once at 02:30",]
        );
        assert_eq!(
            fates("*/15 * * * *", "Australia/Lord_Howe", 2027),
            [
                "Sun 2027-04-04: `*/15 * * * *` runs 4 times between 01:30 and 02:00 local that night, because the half hour repeats",
                "Sun 2027-10-03: `*/15 * * * *` skips 02:00 and 02:15, which do not exist in Australia/Lord_Howe",
            ]
        );
    }

    #[test]
    fn zones_without_transitions() {
        let tokyo = Zone::get("Asia/Tokyo").unwrap();
        let from: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let until: Timestamp = "2028-01-01T00:00:00Z".parse().unwrap();
        assert!(tokyo.transitions(from, until).is_empty());
        assert!(Zone::utc().transitions(from, until).is_empty());
        let ny = Zone::get("America/New_York").unwrap();
        let transitions = ny.transitions(from, until);
        assert_eq!(transitions.len(), 2);
        assert_eq!(
            transitions[0].describe(),
            "forward 1h at 02:00 on Sun 2027-03-14"
        );
        assert_eq!(
            transitions[1].describe(),
            "back 1h at 02:00 on Sun 2027-11-07"
        );
    }

    #[test]
    fn why_notes_for_the_instants_a_change_moved() {
        let berlin = Zone::get("Europe/Berlin").unwrap();
        let note = |expr: &str, at: &str| {
            Schedule::parse(expr, berlin.clone())
                .unwrap()
                .dst_note(at.parse().unwrap())
        };
        // 03:00 CEST on the night of the gap, 02:30 CEST/CET on the overlap's.
        assert_eq!(
            note("30 2 * * *", "2027-03-28T01:00:00Z").as_deref(),
            Some(
                "02:30 does not exist (DST gap in Europe/Berlin): runs at 03:00 as the \
                 schedule rule says"
            )
        );
        assert_eq!(
            note("30 2 * * *", "2027-10-31T00:30:00Z").as_deref(),
            Some(
                "02:30 happens twice (DST overlap in Europe/Berlin): runs once, at the first, \
                 as the schedule rule says"
            )
        );
        assert_eq!(
            note("30 * * * *", "2027-10-31T01:30:00Z").as_deref(),
            Some(
                "02:30 happens twice (DST overlap in Europe/Berlin): this is the second; the \
                 schedule rule runs it at both"
            )
        );
        // A day without a change, and the 03:00 run that is 03:00's own.
        assert_eq!(note("30 2 * * *", "2027-03-27T01:30:00Z"), None);
        assert_eq!(note("0 * * * *", "2027-03-28T01:00:00Z"), None);
    }

    #[test]
    fn notes_in_one_clause() {
        let zone = Zone::get("Europe/Berlin").unwrap();
        let from: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let until: Timestamp = "2028-01-01T00:00:00Z".parse().unwrap();
        let notes = |expr: &str| -> Vec<String> {
            Schedule::parse(expr, zone.clone())
                .unwrap()
                .fates(from, until)
                .iter()
                .map(|f| f.note("t"))
                .collect()
        };
        assert_eq!(
            notes("30 2 * * *"),
            [
                "on 2027-03-28 t runs at 03:00 instead of 02:30",
                "on 2027-10-31 02:30 happens twice and t runs once, at the first"
            ]
        );
        assert_eq!(
            notes("* 2 * * *"),
            [
                "on 2027-03-28 t skips 02:00 to 02:59 (60 times), which do not exist",
                "on 2027-10-31 t runs 120 times between 02:00 and 03:00, as the hour repeats"
            ]
        );
    }
}
