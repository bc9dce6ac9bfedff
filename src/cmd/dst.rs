//! `kron dst [NAME...] [--year Y] [--json]`: what the zones' clock changes
//! do to the tasks, and the one-line notes `add`, `edit`, `import` and
//! `check` print (and the mark of `kron list`). The numbers and words come
//! from `schedule::dst`, over the engine the daemon fires by.

use std::io::Write;

use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use super::{Ctx, out};
use crate::cli::DstArgs;
use crate::error::Error;
use crate::output;
use crate::schedule::{Change, Fate, Rule, Transition, Zone};
use crate::taskfile::Task;

/// The span of time looked at: a calendar year in each zone, or the next
/// 12 months.
#[derive(Clone, Copy)]
pub(crate) enum Window {
    Year(i16),
    Next(Timestamp),
}

impl Window {
    /// The instants `from..until` the window covers in `zone`.
    pub(crate) fn span(self, zone: &Zone) -> (Timestamp, Timestamp) {
        let tz = zone.time_zone().clone();
        match self {
            Window::Year(year) => {
                let start = |y: i16| {
                    jiff::civil::date(y, 1, 1)
                        .to_zoned(tz.clone())
                        .map_or(Timestamp::MAX, |z| z.timestamp())
                };
                (start(year), start(year.saturating_add(1)))
            }
            Window::Next(now) => {
                let until = now
                    .to_zoned(tz)
                    .checked_add(1.year())
                    .map_or(Timestamp::MAX, |z| z.timestamp());
                (now, until)
            }
        }
    }

    /// `in 2027`, `in the next 12 months`.
    fn words(self) -> String {
        match self {
            Window::Year(year) => format!("in {year}"),
            Window::Next(_) => "in the next 12 months".into(),
        }
    }
}

/// A task's fates in the window.
pub(crate) fn fates(task: &Task, window: Window) -> Vec<Fate> {
    let (from, until) = window.span(&task.settings.timezone);
    task.schedule.fates(from, until)
}

/// The note for a task whose times fall in a clock change within the next
/// year: `on 2027-03-28 backup runs at 03:00 instead of 02:30; see `kron
/// dst backup``.
pub(crate) fn note(task: &Task, now: Timestamp) -> Option<String> {
    let fates = fates(task, Window::Next(now));
    let first = fates.first()?;
    let more = match fates.len() - 1 {
        0 => String::new(),
        1 => " (and 1 more clock change)".into(),
        n => format!(" (and {n} more clock changes)"),
    };
    Some(format!(
        "{}{more}; see `kron dst {}`",
        first.note(&task.name),
        task.name
    ))
}

/// At most this many notes are printed; the others are counted.
const NOTES: usize = 5;

/// Prints [`note`] for each of `tasks` that has one, on stderr: the first
/// [`NOTES`], then how many more there are.
pub(crate) fn print_notes<'a>(tasks: impl IntoIterator<Item = &'a Task>) {
    let now = Timestamp::now();
    let notes: Vec<String> = tasks.into_iter().filter_map(|t| note(t, now)).collect();
    let mut stderr = std::io::stderr().lock();
    for note in notes.iter().take(NOTES) {
        let _ = writeln!(stderr, "kron: note: {note}");
    }
    match notes.len().saturating_sub(NOTES) {
        0 => {}
        1 => {
            let _ = writeln!(stderr, "kron: note: {}", notes[NOTES]);
        }
        more => {
            let _ = writeln!(
                stderr,
                "kron: note: and {more} more tasks meet a clock change within a year; see `kron dst`"
            );
        }
    }
}

#[derive(Serialize)]
struct Report {
    /// `2027`, or `next 12 months`.
    period: String,
    zones: Vec<ZoneReport>,
    tasks: Vec<TaskReport>,
}

#[derive(Serialize)]
struct ZoneReport {
    timezone: String,
    from: String,
    until: String,
    transitions: Vec<TransitionReport>,
    text: String,
}

#[derive(Serialize)]
struct TransitionReport {
    /// The first instant of the new offset, with that offset.
    at: String,
    change: Change,
    shift_seconds: i64,
    offset_before: String,
    offset_after: String,
    /// The wall times that do not exist (gap) or occur twice (overlap):
    /// `wall_from..wall_until`.
    wall_from: jiff::civil::DateTime,
    wall_until: jiff::civil::DateTime,
    text: String,
}

#[derive(Serialize)]
struct TaskReport {
    task: String,
    schedule: String,
    timezone: String,
    rule: Rule,
    paused: bool,
    affected: bool,
    fates: Vec<FateReport>,
    /// Why it is unaffected; `None` when it is affected.
    unaffected: Option<String>,
}

#[derive(Serialize)]
struct FateReport {
    change: Change,
    /// The transition's instant, as in `zones`.
    transition: String,
    /// The local date of the affected wall times.
    date: String,
    /// The schedule's wall times that the change touches.
    wall_times: Vec<jiff::civil::DateTime>,
    /// The instants the daemon runs the task at in the window: for a gap,
    /// at the transition (or none); for an overlap, in both passes.
    runs: Vec<String>,
    /// For a gap: the schedule names the first wall time after it too, so
    /// a run at the transition is (also) that time's own; for a wildcard
    /// schedule it is only that.
    coincides: bool,
    text: String,
}

pub fn run(ctx: &Ctx, args: &DstArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    let tasks = super::select_tasks(&file, &args.names)?;
    let window = match args.year {
        Some(year) => Window::Year(year),
        None => Window::Next(Timestamp::now()),
    };
    let report = report(&tasks, window);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let json = serde_json::to_string_pretty(&report).expect("serializes");
        return out!(stdout, "{json}");
    }
    if tasks.is_empty() {
        return out!(
            stdout,
            "no tasks in {} (add one with `kron add` or `kron edit`)",
            file.path.display()
        );
    }
    for zone in &report.zones {
        out!(stdout, "{}", zone.text)?;
    }
    out!(stdout, "")?;
    for task in &report.tasks {
        let paused = if task.paused { ", paused" } else { "" };
        let head = format!(
            "{} ({}, {}{paused})",
            task.task, task.schedule, task.timezone
        );
        match &task.unaffected {
            Some(why) => out!(stdout, "{head}: {why}")?,
            None => {
                out!(stdout, "{head}")?;
                for fate in &task.fates {
                    out!(stdout, "  {}", fate.text)?;
                }
            }
        }
    }
    Ok(())
}

fn report(tasks: &[&Task], window: Window) -> Report {
    let mut zones: Vec<ZoneReport> = Vec::new();
    let mut reports = Vec::new();
    for task in tasks {
        let zone = &task.settings.timezone;
        let (from, until) = window.span(zone);
        let transitions = zone.transitions(from, until);
        if !zones.iter().any(|z| z.timezone == zone.name()) {
            zones.push(zone_report(zone, &transitions, from, until, window));
        }
        let fates: Vec<FateReport> = task
            .schedule
            .fates(from, until)
            .iter()
            .map(|f| fate_report(f, &task.schedule_text, zone))
            .collect();
        let rule = task.schedule.rule();
        let unaffected = fates.is_empty().then(|| match rule {
            Rule::RealTime => "unaffected, @every counts real time".to_string(),
            Rule::NoTimes => "unaffected, no timed runs".to_string(),
            _ if transitions.is_empty() => format!(
                "unaffected, {} does not change its clocks {}",
                zone.name(),
                window.words()
            ),
            _ => "unaffected, its times are clear of the clock changes".to_string(),
        });
        reports.push(TaskReport {
            task: task.name.clone(),
            schedule: task.schedule_text.clone(),
            timezone: zone.name().to_string(),
            rule,
            paused: task.settings.paused,
            affected: !fates.is_empty(),
            fates,
            unaffected,
        });
    }
    Report {
        period: match window {
            Window::Year(year) => year.to_string(),
            Window::Next(_) => "next 12 months".into(),
        },
        zones,
        tasks: reports,
    }
}

fn zone_report(
    zone: &Zone,
    transitions: &[Transition],
    from: Timestamp,
    until: Timestamp,
    window: Window,
) -> ZoneReport {
    let described: Vec<String> = transitions.iter().map(Transition::describe).collect();
    let text = match described.len() {
        0 => format!(
            "{} does not change its clocks {}",
            zone.name(),
            window.words()
        ),
        n => format!(
            "{} changes its clocks {} {}: {}",
            zone.name(),
            match n {
                1 => "once".to_string(),
                2 => "twice".to_string(),
                n => format!("{n} times"),
            },
            window.words(),
            described.join(", ")
        ),
    };
    ZoneReport {
        timezone: zone.name().to_string(),
        from: output::rfc3339(from, zone),
        until: output::rfc3339(until, zone),
        transitions: transitions
            .iter()
            .map(|tr| {
                let (wall_from, wall_until) = tr.wall_window();
                TransitionReport {
                    at: output::rfc3339(tr.at, zone),
                    change: tr.change(),
                    shift_seconds: tr.shift(),
                    offset_before: offset(tr.before),
                    offset_after: offset(tr.after),
                    wall_from,
                    wall_until,
                    text: tr.describe(),
                }
            })
            .collect(),
        text,
    }
}

fn fate_report(fate: &Fate, expr: &str, zone: &Zone) -> FateReport {
    FateReport {
        change: fate.change(),
        transition: output::rfc3339(fate.transition.at, zone),
        date: fate.date(),
        wall_times: fate.wall_times(),
        runs: fate
            .runs
            .iter()
            .map(|&t| output::rfc3339(t, zone))
            .collect(),
        coincides: fate.coincides,
        text: fate.sentence(expr, zone),
    }
}

/// `+01:00`, `-04:00`, `+10:30`.
fn offset(seconds: i64) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    format!("{sign}{:02}:{:02}", s / 3600, s / 60 % 60)
}
