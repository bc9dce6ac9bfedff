//! `kron plan [--from WHEN] [--days N] [NAME...] [--json]`: the window
//! ahead on a timeline (`timeline`), with the conflicts that the tasks'
//! measured durations predict (`forecast`). Every task is played, so that
//! a NAME's run skipped behind another task's lock is predicted; only the
//! NAMEs' rows and conflicts are shown.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use super::{Ctx, out};
use crate::cli::PlanArgs;
use crate::error::Error;
use crate::forecast::{self, Conflict, Fate, Forecast, Holder, Kind, Spec, Wait};
use crate::history;
use crate::output::{self, compact_duration};
use crate::schedule::{Change, Expr, Transition, Zone};
use crate::taskfile::{Overlap, Task, TaskFile};
use crate::timeline::{self, Body, Grid, Row};

pub fn run(ctx: &Ctx, args: &PlanArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    let shown: Vec<usize> = if args.names.is_empty() {
        (0..file.tasks.len()).collect()
    } else {
        super::select_tasks(&file, &args.names)?
            .iter()
            .map(|t| {
                file.tasks
                    .iter()
                    .position(|f| f.name == t.name)
                    .expect("a task of the file")
            })
            .collect()
    };
    let zone = output::local_zone();
    let from = match &args.from {
        Some(text) => parse_when(text, &zone)?,
        None => Timestamp::now(),
    };
    let until = from
        .to_zoned(zone.time_zone().clone())
        .checked_add(i64::from(args.days).days())
        .map_err(|_| Error::Invalid(format!("--days {}: past the end of time", args.days)))?
        .timestamp();
    let specs = specs(ctx, &file);
    let max_parallel = file.max_parallel.map(|n| n.get() as usize);
    let forecast = forecast::forecast(&specs, max_parallel, from, until);
    let plan = Plan {
        file: &file,
        specs: &specs,
        forecast: &forecast,
        shown: &shown,
        zone: &zone,
        from,
        until,
        long: args.days > 7,
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        // Streamed: a busy week is tens of megabytes.
        let mut buffered = std::io::BufWriter::new(stdout);
        serde_json::to_writer(&mut buffered, &plan.json(max_parallel))
            .map_err(|e| Error::Output(e.into()))?;
        out!(buffered, "")?;
        return buffered.flush().map_err(Error::Output);
    }
    if file.tasks.is_empty() {
        return out!(
            stdout,
            "no tasks in {} (add one with `kron add` or `kron edit`)",
            file.path.display()
        );
    }
    write!(stdout, "{}", plan.text()).map_err(Error::Output)
}

/// `--from`: an RFC 3339 instant, or a date or date and time in `zone`.
fn parse_when(text: &str, zone: &Zone) -> Result<Timestamp, Error> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil = text
        .parse::<jiff::civil::DateTime>()
        .or_else(|_| text.parse::<jiff::civil::Date>().map(|d| d.at(0, 0, 0, 0)))
        .map_err(|_| {
            Error::Invalid(format!(
                "--from `{text}`: expected an RFC 3339 instant (2027-03-22T00:00:00Z) or a \
                 local date or time (2027-03-22, 2027-03-22T06:00)"
            ))
        })?;
    civil
        .to_zoned(zone.time_zone().clone())
        .map(|z| z.timestamp())
        .map_err(|e| Error::Invalid(format!("--from `{text}`: {e}")))
}

/// Every task, with the p95 duration of its recent runs.
fn specs(ctx: &Ctx, file: &TaskFile) -> Vec<Spec> {
    let dir = ctx.paths.history_dir();
    file.tasks
        .iter()
        .map(|task| {
            let mut durations = history::recent_durations(&dir, &task.name, history::RECENT);
            durations.sort_unstable();
            let p95 = (!durations.is_empty())
                .then(|| Duration::from_millis(crate::stats::percentile(&durations, 95)));
            let overlap = task.settings.overlap;
            Spec {
                name: task.name.clone(),
                schedule: task.schedule.clone(),
                lock: (overlap != Overlap::Allow).then(|| task.settings.lock.clone()),
                overlap,
                paused: task.settings.paused,
                p95,
            }
        })
        .collect()
}

struct Plan<'a> {
    file: &'a TaskFile,
    specs: &'a [Spec],
    forecast: &'a Forecast,
    /// Indices of the tasks shown, in order.
    shown: &'a [usize],
    /// The zone times are shown in.
    zone: &'a Zone,
    from: Timestamp,
    until: Timestamp,
    /// A window longer than a week: weekdays alone are ambiguous.
    long: bool,
}

impl Plan<'_> {
    fn task(&self, i: usize) -> &Task {
        &self.file.tasks[i]
    }

    /// The conflicts of the tasks shown, as victim or holder, and their
    /// waits for a `max_parallel` slot, in order of time.
    fn conflicts(&self) -> Vec<Conflict> {
        let shown = self.shown_mask();
        let mut all: Vec<Conflict> = self
            .forecast
            .conflicts
            .iter()
            .filter(|c| shown[c.task] || holder(c).is_some_and(|h| shown[h.task]))
            .copied()
            .chain(self.forecast.slot_waits().filter(|c| shown[c.task]))
            .collect();
        all.sort_by_key(|c| (c.at, c.task));
        all
    }

    /// Each zone of a shown task, and the zone times are shown in, with
    /// its clock changes in the window.
    fn clock_changes(&self) -> Vec<(Zone, Vec<Transition>)> {
        let mut zones: Vec<Zone> = vec![self.zone.clone()];
        for &i in self.shown {
            let z = &self.task(i).settings.timezone;
            if !zones.iter().any(|known| known.name() == z.name()) {
                zones.push(z.clone());
            }
        }
        zones
            .into_iter()
            .map(|z| {
                let transitions = z.transitions(self.from, self.until);
                (z, transitions)
            })
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }

    fn text(&self) -> String {
        let color = output::style().color;
        let labels: Vec<String> = self
            .shown
            .iter()
            .map(|&i| self.task(i).name.clone())
            .collect();
        let clocks = self.clock_changes();
        let label_width = labels
            .iter()
            .map(|l| l.chars().count())
            .chain(clocks.iter().map(|(z, _)| z.name().chars().count()))
            .max()
            .unwrap_or(0)
            .min(24);
        let room = output::width().saturating_sub(label_width + 2);
        let grid = Grid::fit(self.from, self.until, self.zone, room);
        let mut rows: Vec<Row> = Vec::new();
        for (&i, label) in self.shown.iter().zip(labels) {
            let task = self.task(i);
            let body = if task.settings.paused {
                Body::Text("paused".into())
            } else if matches!(task.schedule.expr(), Expr::Reboot) {
                Body::Text("at boot only".into())
            } else {
                Body::Cells(timeline::task_cells(&grid, &self.forecast.runs[i]))
            };
            rows.push(Row { label, body });
        }
        for (zone, transitions) in &clocks {
            rows.push(Row {
                label: zone.name().to_string(),
                body: Body::Clocks(timeline::clock_cells(&grid, transitions)),
            });
        }
        let mut out = format!(
            "{} to {} ({}), 1 column = {}\n",
            output::short_wall_time(self.from, self.zone),
            output::short_wall_time(self.until, self.zone),
            self.zone.name(),
            grid.step_words()
        );
        out.push_str(&timeline::render(&grid, self.zone, &rows, color));
        out.push_str(&timeline::legend(color));
        out.push_str("\n\n");
        let lines = self.lines();
        if lines.is_empty() {
            out.push_str("no conflicts predicted\n");
        }
        for line in lines {
            out.push_str(&line);
            out.push('\n');
        }
        for (zone, transitions) in &clocks {
            for tr in transitions {
                out.push_str(&format!(
                    "{} clocks go {}; see `kron dst`\n",
                    zone.name(),
                    tr.describe()
                ));
            }
        }
        let unknown: Vec<&str> = self
            .shown
            .iter()
            .filter(|&&i| self.specs[i].p95.is_none() && !self.forecast.runs[i].is_empty())
            .map(|&i| self.task(i).name.as_str())
            .collect();
        if !unknown.is_empty() {
            out.push_str(&format!(
                "no history, so no duration to predict from: {}\n",
                list(&unknown)
            ));
        }
        out
    }

    /// One line per conflict; a conflict that recurs (the same task, the
    /// same kind, the same holder) on one line with how often; the runs
    /// waiting for a `max_parallel` slot one line per hour.
    fn lines(&self) -> Vec<String> {
        let shown = self.shown_mask();
        let mut groups: BTreeMap<(usize, u8, Option<usize>), Vec<&Conflict>> = BTreeMap::new();
        for c in &self.forecast.conflicts {
            if !(shown[c.task] || holder(c).is_some_and(|h| shown[h.task])) {
                continue;
            }
            let kind = match c.kind {
                Kind::Skipped { queued: false, .. } => 0,
                Kind::Skipped { queued: true, .. } => 1,
                Kind::WaitsForLock { .. } => 2,
                Kind::Replaces { .. } => 3,
                Kind::WaitsForSlot { .. } => 4,
            };
            groups
                .entry((c.task, kind, holder(c).map(|h| h.task)))
                .or_default()
                .push(c);
        }
        let mut lines: Vec<(Timestamp, String)> = groups
            .values()
            .map(|group| {
                let first = group[0];
                let mut line = self.line(first);
                line.push_str(&self.again(&group[1..], |c| c.at));
                (first.at, line)
            })
            .collect();
        lines.extend(self.slot_lines(&shown));
        lines.sort();
        lines.into_iter().map(|(_, line)| line).collect()
    }

    fn shown_mask(&self) -> Vec<bool> {
        let mut shown = vec![false; self.file.tasks.len()];
        for &i in self.shown {
            shown[i] = true;
        }
        shown
    }

    /// The hours in which `max_parallel` makes runs wait, a line each; the
    /// same hour of other days that queues the same runs as long, on the
    /// same line.
    fn slot_lines(&self, shown: &[bool]) -> Vec<(Timestamp, String)> {
        /// By local hour: its first instant, the runs waiting, the longest
        /// wait (seconds), the tasks.
        struct Hour {
            start: Timestamp,
            runs: usize,
            longest: i64,
            tasks: std::collections::BTreeSet<usize>,
        }
        let mut hours: BTreeMap<i64, Hour> = BTreeMap::new();
        for c in self.forecast.slot_waits().filter(|c| shown[c.task]) {
            let Kind::WaitsForSlot { until } = c.kind else {
                continue;
            };
            let t = c.at.as_second();
            let wall = t + self.zone.offset(t);
            let hour = hours.entry(wall.div_euclid(3600)).or_insert_with(|| Hour {
                start: Timestamp::from_second(t - wall.rem_euclid(3600)).unwrap_or(c.at),
                runs: 0,
                longest: 0,
                tasks: Default::default(),
            });
            hour.runs += 1;
            hour.longest = hour.longest.max(until.as_second() - t);
            hour.tasks.insert(c.task);
        }
        let cap = self.file.max_parallel.map_or(0, |n| n.get());
        let mut queued: Vec<(Timestamp, String, String, Vec<Timestamp>)> = Vec::new();
        for hour in hours.values() {
            let mut names: Vec<&str> = hour
                .tasks
                .iter()
                .map(|&i| self.task(i).name.as_str())
                .collect();
            names.sort_unstable();
            let wall = hour.start.as_second() + self.zone.offset(hour.start.as_second());
            let what = format!(
                "-{:02}:00 max_parallel = {cap} will queue {} for up to {}: {}",
                (wall.div_euclid(3600) + 1).rem_euclid(24),
                match hour.runs {
                    1 => "1 run".to_string(),
                    n => format!("{n} runs"),
                },
                compact_duration(hour.longest.unsigned_abs()),
                list(&names)
            );
            let hour_of_day = self.when(hour.start, Some(hour.start));
            match queued
                .iter_mut()
                .find(|(_, h, w, _)| *h == hour_of_day && *w == what)
            {
                Some((_, _, _, more)) => more.push(hour.start),
                None => queued.push((hour.start, hour_of_day, what, Vec::new())),
            }
        }
        queued
            .into_iter()
            .map(|(start, _, what, more)| {
                let again = self.again(&more, |t| *t);
                (start, format!("{}{what}{again}", self.when(start, None)))
            })
            .collect()
    }

    /// ` (and 3 more times, the last Sun 03:00)` for the recurrences
    /// of a line, or nothing.
    fn again<T>(&self, more: &[T], at: impl Fn(&T) -> Timestamp) -> String {
        let Some(last) = more.last() else {
            return String::new();
        };
        let times = match more.len() {
            1 => "once more".to_string(),
            n => format!("{n} more times"),
        };
        format!(" (and {times}, the last {})", self.when(at(last), None))
    }

    /// `Mon 03:00 prune will be skipped: backup (p95 41m, from 02:30) holds lock `disk``.
    fn line(&self, c: &Conflict) -> String {
        let name = &self.task(c.task).name;
        let lock = self.specs[c.task].lock.as_deref().unwrap_or_default();
        let at = self.when(c.at, None);
        let who = |h: &Holder| {
            let what = if h.task == c.task {
                "its previous run".to_string()
            } else {
                self.task(h.task).name.clone()
            };
            format!(
                "{what} (p95 {}, from {})",
                compact_duration(h.p95.as_secs()),
                self.when(h.start, Some(c.at))
            )
        };
        match &c.kind {
            Kind::Skipped {
                holder,
                queued: false,
                ..
            } if holder.task == c.task => {
                format!(
                    "{at} {name} will be skipped: {} will still run",
                    who(holder)
                )
            }
            Kind::Skipped { holder, queued } => format!(
                "{at} {name} will be skipped: {} holds lock `{lock}`{}",
                who(holder),
                if *queued {
                    " and a run already waits for it"
                } else {
                    ""
                }
            ),
            Kind::WaitsForLock { holder, until } => format!(
                "{at} {name} will wait for lock `{lock}` until about {}: {} holds it",
                self.when(*until, Some(c.at)),
                who(holder)
            ),
            Kind::Replaces { holder } => format!(
                "{at} {name} will stop {}, which holds lock `{lock}`",
                who(holder)
            ),
            Kind::WaitsForSlot { until } => format!(
                "{at} {name} will wait for a max_parallel slot until about {}",
                self.when(*until, Some(c.at))
            ),
        }
    }

    /// `Mon 03:00` (a window longer than a week: `Mon 2027-03-22 03:00`);
    /// `03:00` alone on the same day as `beside`.
    fn when(&self, t: Timestamp, beside: Option<Timestamp>) -> String {
        let tz = self.zone.time_zone().clone();
        let z = t.to_zoned(tz.clone());
        let same_day = beside.is_some_and(|b| b.to_zoned(tz).date() == z.date());
        let format = match (same_day, self.long) {
            (true, _) => "%H:%M",
            (false, false) => "%a %H:%M",
            (false, true) => "%a %Y-%m-%d %H:%M",
        };
        z.strftime(format).to_string()
    }

    fn json(&self, max_parallel: Option<usize>) -> PlanJson {
        let tasks = self
            .shown
            .iter()
            .map(|&i| {
                let task = self.task(i);
                let zone = &task.settings.timezone;
                TaskJson {
                    task: task.name.clone(),
                    schedule: task.schedule_text.clone(),
                    timezone: zone.name().to_string(),
                    lock: self.specs[i].lock.clone(),
                    overlap: task.settings.overlap,
                    paused: task.settings.paused,
                    p95_ms: self.specs[i].p95.map(|d| d.as_millis() as u64),
                    runs: self.forecast.runs[i]
                        .iter()
                        .map(|r| RunJson {
                            scheduled: output::rfc3339(r.scheduled, zone),
                            start: output::rfc3339(r.start, zone),
                            end: r.end.map(|t| output::rfc3339(t, zone)),
                            fate: r.fate,
                            waits: r.waits,
                        })
                        .collect(),
                }
            })
            .collect();
        let conflicts = self
            .conflicts()
            .iter()
            .map(|c| {
                let zone = &self.task(c.task).settings.timezone;
                let (kind, queued, until) = match c.kind {
                    Kind::Skipped { queued, .. } => ("skipped", queued, None),
                    Kind::WaitsForLock { until, .. } => ("waits_for_lock", false, Some(until)),
                    Kind::Replaces { .. } => ("replaces", false, None),
                    Kind::WaitsForSlot { until } => ("waits_for_slot", false, Some(until)),
                };
                let lock = match c.kind {
                    Kind::WaitsForSlot { .. } => None,
                    _ => self.specs[c.task].lock.clone(),
                };
                ConflictJson {
                    at: output::rfc3339(c.at, zone),
                    task: self.task(c.task).name.clone(),
                    kind,
                    lock,
                    queued,
                    until: until.map(|t| output::rfc3339(t, zone)),
                    holder: holder(c).map(|h| HolderJson {
                        task: self.task(h.task).name.clone(),
                        start: output::rfc3339(h.start, &self.task(h.task).settings.timezone),
                        p95_ms: h.p95.as_millis() as u64,
                    }),
                    text: self.line(c),
                }
            })
            .collect();
        let clock_changes = self
            .clock_changes()
            .iter()
            .flat_map(|(zone, transitions)| {
                transitions.iter().map(move |tr| ClockJson {
                    timezone: zone.name().to_string(),
                    at: output::rfc3339(tr.at, zone),
                    change: tr.change(),
                    shift_seconds: tr.shift(),
                    text: tr.describe(),
                })
            })
            .collect();
        PlanJson {
            from: output::rfc3339(self.from, self.zone),
            until: output::rfc3339(self.until, self.zone),
            timezone: self.zone.name().to_string(),
            max_parallel,
            tasks,
            conflicts,
            clock_changes,
        }
    }
}

fn holder(c: &Conflict) -> Option<&Holder> {
    match &c.kind {
        Kind::Skipped { holder, .. }
        | Kind::WaitsForLock { holder, .. }
        | Kind::Replaces { holder, .. } => Some(holder),
        Kind::WaitsForSlot { .. } => None,
    }
}

/// `a, b, c`, or `a, b, c, d, e and 7 more`.
fn list(names: &[&str]) -> String {
    const SHOWN: usize = 5;
    if names.len() <= SHOWN {
        return names.join(", ");
    }
    format!(
        "{} and {} more",
        names[..SHOWN].join(", "),
        names.len() - SHOWN
    )
}

#[derive(Serialize)]
struct PlanJson {
    from: String,
    until: String,
    /// The zone `from` and `until` are written in (the local zone, or UTC
    /// with --utc); each task's instants are in its own.
    timezone: String,
    max_parallel: Option<usize>,
    tasks: Vec<TaskJson>,
    conflicts: Vec<ConflictJson>,
    clock_changes: Vec<ClockJson>,
}

#[derive(Serialize)]
struct TaskJson {
    task: String,
    schedule: String,
    timezone: String,
    lock: Option<String>,
    overlap: Overlap,
    paused: bool,
    p95_ms: Option<u64>,
    runs: Vec<RunJson>,
}

#[derive(Serialize)]
struct RunJson {
    scheduled: String,
    start: String,
    end: Option<String>,
    fate: Fate,
    waits: Option<Wait>,
}

#[derive(Serialize)]
struct ConflictJson {
    at: String,
    task: String,
    kind: &'static str,
    lock: Option<String>,
    queued: bool,
    until: Option<String>,
    holder: Option<HolderJson>,
    text: String,
}

#[derive(Serialize)]
struct HolderJson {
    task: String,
    start: String,
    p95_ms: u64,
}

#[derive(Serialize)]
struct ClockJson {
    timezone: String,
    at: String,
    change: Change,
    shift_seconds: i64,
    text: String,
}
