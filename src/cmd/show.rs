//! `kron show NAME`: a task's effective settings, where each came from, its
//! next runs, and, as `systemctl status` shows for a unit, its run in
//! progress and its last run with the end of its output.

use std::collections::BTreeMap;
use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::{Ctx, out};
use crate::cli::ShowArgs;
use crate::error::Error;
use crate::history::Record;
use crate::output;
use crate::runlog::{self, read};
use crate::runner::{self, running::RunningRun};
use crate::taskfile::{Settings, Source, Task, TaskCommand};
use crate::units::{format_duration, format_size};

const NEXT_RUNS: usize = 5;
/// Lines of the last run's output shown.
const OUTPUT_LINES: usize = 10;

#[derive(Serialize)]
struct Shown<'a> {
    name: &'a str,
    description: Option<&'a str>,
    schedule: &'a str,
    means: String,
    command: &'a TaskCommand,
    settings: &'a Settings,
    sources: BTreeMap<String, Source>,
    next: Vec<String>,
    /// Its runs in progress.
    running: Vec<RunningRun>,
    /// Its last recorded run, if any, and the last lines of its output.
    last_run: Option<Record>,
    output: Vec<String>,
}

pub fn run(ctx: &Ctx, args: &ShowArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    let task = file
        .task(&args.name)
        .ok_or_else(|| super::unknown(&file, &args.name))?;
    let now = Timestamp::now();
    let zone = &task.settings.timezone;
    let next: Vec<Timestamp> = task.schedule.upcoming(now).take(NEXT_RUNS).collect();
    let rows = settings_rows(task);
    let running: Vec<RunningRun> = runner::running(&ctx.paths)
        .into_iter()
        .filter(|r| r.task == task.name)
        .collect();
    let last_run = crate::history::last(&ctx.paths.history_dir(), &task.name);
    let output = last_run
        .as_ref()
        .map(|r| output_tail(&ctx.paths.logs_dir(), &task.name, &r.run_id))
        .unwrap_or_default();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let shown = Shown {
            name: &task.name,
            description: task.description.as_deref(),
            schedule: &task.schedule_text,
            means: task.schedule.describe(),
            command: &task.command,
            settings: &task.settings,
            sources: rows
                .iter()
                .map(|(key, _)| (key.clone(), task.source(&file.defaults, key)))
                .collect(),
            next: next.iter().map(|&t| output::rfc3339(t, zone)).collect(),
            running,
            last_run,
            output,
        };
        let json = serde_json::to_string_pretty(&shown).expect("serializes");
        return out!(stdout, "{json}");
    }

    out!(
        stdout,
        "{}{}",
        task.name,
        task.description
            .as_ref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    )?;
    let schedule = format!(
        "{}  ({}, {})",
        task.schedule_text,
        task.schedule.describe(),
        zone.name()
    );
    out!(stdout, "  {:<17}  {schedule}", "schedule")?;
    let command = match &task.command {
        TaskCommand::Shell(text) => format!("{text}  (run by {} -c)", task.settings.shell),
        TaskCommand::Argv(argv) => format!("{argv:?}  (run without a shell)"),
    };
    out!(stdout, "  {:<17}  {command}", "command")?;
    // Unmarked values are set by the task itself.
    for (key, value) in &rows {
        let source = match task.source(&file.defaults, key) {
            Source::Task => "",
            Source::Defaults => "  [defaults]",
            // No zone set: the system's (TZ, then /etc/localtime), not a
            // value of kron's.
            Source::Builtin if key == "timezone" => "  [system]",
            Source::Builtin => "  [built-in]",
        };
        out!(stdout, "  {key:<17}  {value}{source}")?;
    }
    if task.settings.paused {
        out!(
            stdout,
            "paused: it does not run until `kron resume {}`",
            task.name
        )?;
    }
    out!(stdout, "next runs:")?;
    for &t in &next {
        out!(
            stdout,
            "  {}  {}",
            output::wall_time(t, zone),
            output::relative(now, t)
        )?;
    }
    if next.is_empty() {
        out!(stdout, "  (none)")?;
    }
    let local = output::local_zone();
    let when = |t: Timestamp| {
        format!(
            "{} ({})",
            output::short_wall_time(t, &local),
            output::relative(now, t)
        )
    };
    for run in &running {
        let what = match (run.waiting, run.pgid) {
            (true, _) => "waiting for its lock".to_string(),
            (false, Some(pid)) => format!("attempt {}, pid {pid}", run.attempt),
            (false, None) => format!("between attempts (after attempt {})", run.attempt),
        };
        out!(
            stdout,
            "running: run {} since {}, {what}",
            run.run_id,
            when(run.started)
        )?;
    }
    let Some(last) = &last_run else {
        return out!(stdout, "last run: none yet");
    };
    let status = match (last.exit_code, &last.signal) {
        (Some(code), _) => format!(", exit {code}"),
        (_, Some(signal)) => format!(", {signal}"),
        _ => String::new(),
    };
    out!(
        stdout,
        "last run: {}{status}, started {}, took {}, {} attempt(s), run {}",
        last.outcome.as_str(),
        when(last.started),
        format_duration(std::time::Duration::from_millis(last.duration_ms)),
        last.attempts,
        last.run_id
    )?;
    if let Some(reason) = &last.reason {
        out!(stdout, "  {reason}")?;
    }
    if output.is_empty() {
        return Ok(());
    }
    out!(
        stdout,
        "output (its last {} line(s); all of it: kron logs {}):",
        output.len(),
        task.name
    )?;
    for line in &output {
        out!(stdout, "  {}", printable(line))?;
    }
    Ok(())
}

/// The last [`OUTPUT_LINES`] lines the command of run `id` printed (the
/// run log's frame lines left out), as text; none when the run is not in
/// the logs (rotated away, or a run with no attempt).
fn output_tail(dir: &std::path::Path, name: &str, id: &str) -> Vec<String> {
    // Enough lines for the output to survive the frames of a few attempts.
    let mut buf = Vec::new();
    if read::copy_run(dir, name, id, Some(OUTPUT_LINES * 4), &mut buf).is_err() {
        return Vec::new();
    }
    let lines: Vec<String> = String::from_utf8_lossy(&buf)
        .lines()
        .filter(|l| !l.starts_with(runlog::HEADER) && !l.starts_with(runlog::FOOTER))
        .map(String::from)
        .collect();
    lines[lines.len().saturating_sub(OUTPUT_LINES)..].to_vec()
}

/// Control characters other than tab shown as `^X`, so that a command's
/// output cannot drive the terminal.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => "\t".to_string(),
            c if (c as u32) < 0x20 => format!("^{}", char::from(c as u8 + 64)),
            '\u{7f}' => "^?".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Every effective setting as (key, shown value), in a stable order;
/// the keys are those of [`crate::taskfile::Layer::sets`].
fn settings_rows(task: &Task) -> Vec<(String, String)> {
    let s = &task.settings;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut rows = vec![
        ("timezone", s.timezone.name().to_string()),
        ("shell", s.shell.clone()),
        (
            "workdir",
            s.workdir
                .as_ref()
                .map_or_else(|| "~ (home)".into(), |p| p.display().to_string()),
        ),
        ("stdin", opt(s.stdin.as_ref().map(|t| format!("{t:?}")))),
        ("timeout", opt(s.timeout.map(format_duration))),
        ("kill_grace", format_duration(s.kill_grace)),
        ("leftovers", format!("{:?}", s.leftovers).to_lowercase()),
        ("retry.attempts", s.retry.attempts.to_string()),
        ("retry.backoff", format_duration(s.retry.backoff)),
        ("retry.factor", s.retry.factor.to_string()),
        ("retry.max_backoff", format_duration(s.retry.max_backoff)),
        ("retry.jitter", s.retry.jitter.to_string()),
        ("overlap", format!("{:?}", s.overlap).to_lowercase()),
        ("lock", s.lock.clone()),
        ("jitter", format_duration(s.jitter)),
        ("catch_up", format!("{:?}", s.catch_up).to_lowercase()),
        ("paused", s.paused.to_string()),
        ("log.max_size", format_size(s.log.max_size)),
        ("log.keep", s.log.keep.to_string()),
        ("on_failure", opt(s.on_failure.clone())),
        ("on_success", opt(s.on_success.clone())),
        ("on_missed", opt(s.on_missed.clone())),
        ("mailto", opt(s.mailto.clone().filter(|m| !m.is_empty()))),
        ("mail", format!("{:?}", s.mail).to_lowercase()),
        ("nice", opt(s.nice.map(|n| n.to_string()))),
        (
            "ioclass",
            opt(s.ioclass.map(|c| {
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default()
            })),
        ),
        ("limits.cpu", opt(s.limits.cpu.map(format_duration))),
        ("limits.memory", opt(s.limits.memory.map(format_size))),
        ("limits.files", opt(s.limits.files.map(|n| n.to_string()))),
        ("history.keep", s.history.keep.to_string()),
        (
            "history.max_age",
            opt(s.history.max_age.map(format_duration)),
        ),
        (
            "history.archive_max_age",
            opt(s.history.archive_max_age.map(format_duration)),
        ),
        (
            "metrics_file",
            opt(s.metrics_file.as_ref().map(|p| p.display().to_string())),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect::<Vec<_>>();
    rows.extend(s.env.iter().map(|(k, v)| (format!("env.{k}"), v.clone())));
    rows
}
