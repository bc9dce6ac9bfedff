//! `kron show NAME`: a task's effective settings, where each came from, and
//! its next runs.

use std::collections::BTreeMap;
use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::{Ctx, out};
use crate::cli::ShowArgs;
use crate::error::Error;
use crate::output;
use crate::taskfile::{Settings, Source, Task, TaskCommand};
use crate::units::{format_duration, format_size};

const NEXT_RUNS: usize = 5;

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
    Ok(())
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
        ("mailto", opt(s.mailto.clone().filter(|m| !m.is_empty()))),
        ("mail", format!("{:?}", s.mail).to_lowercase()),
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
