//! `kron list`: one row per task.
//!
//! On a terminal the table fits its width: name, next run (relative), last
//! outcome and as much of the command as fits are always there, and the
//! schedule, its meaning and the next run's wall time are added in that
//! order while the command keeps 40 characters (`output::fitted_table`).
//! Anywhere else (a pipe, a file) every column is printed whole. A failed
//! or timed-out last outcome is red where colour is on.

use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::{Ctx, out};
use crate::cli::ListArgs;
use crate::error::Error;
use crate::history;
use crate::output;
use crate::taskfile::{Task, TaskCommand};

#[derive(Serialize)]
struct Row<'a> {
    name: &'a str,
    schedule: &'a str,
    timezone: &'a str,
    means: String,
    description: Option<&'a str>,
    command: &'a TaskCommand,
    paused: bool,
    next: Option<String>,
    /// The last recorded run: its outcome and when it finished.
    last: Option<Last>,
    /// The local dates, within the next year, of the clock changes that
    /// move, skip or repeat some of its runs (`kron dst NAME` says how).
    dst_changes: Vec<String>,
}

#[derive(Serialize)]
struct Last {
    outcome: history::Outcome,
    finished: String,
    run_id: String,
}

pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    // The NEXT column is what the schedule says; say when nothing runs it.
    super::daemon::warn_if_other_file(ctx);
    let now = Timestamp::now();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let rows: Vec<Row> = file.tasks.iter().map(|t| row(ctx, t, now)).collect();
        let json = serde_json::to_string_pretty(&rows).expect("rows serialize");
        return out!(stdout, "{json}");
    }
    if file.tasks.is_empty() {
        return out!(
            stdout,
            "no tasks in {} (add one with `kron add` or `kron edit`)",
            file.path.display()
        );
    }
    let rows: Vec<Vec<String>> = file.tasks.iter().map(|t| cells(ctx, t, now)).collect();
    let marked = file.tasks.iter().any(|t| !dst_changes(t, now).is_empty());
    let table = output::fitted_table(
        &HEADERS,
        &rows,
        output::terminal_width(),
        &[SCHEDULE, MEANS, AT],
        COMMAND,
    );
    write!(stdout, "{table}").map_err(Error::Output)?;
    if marked {
        out!(
            stdout,
            "{DST_MARK}: clock changes move or repeat runs; see `kron dst`"
        )?;
    }
    Ok(())
}

/// Follows the name of a task that a clock change touches within a year.
const DST_MARK: &str = "(dst)";

fn dst_changes(task: &Task, now: Timestamp) -> Vec<String> {
    super::dst::fates(task, super::dst::Window::Next(now))
        .iter()
        .map(|f| f.date())
        .collect()
}

/// The table's columns, in the order of [`cells`].
const HEADERS: [&str; 7] = ["NAME", "SCHEDULE", "MEANS", "NEXT", "AT", "LAST", "COMMAND"];
const SCHEDULE: usize = 1;
const MEANS: usize = 2;
const AT: usize = 4;
const COMMAND: usize = 6;

fn row<'a>(ctx: &Ctx, task: &'a Task, now: Timestamp) -> Row<'a> {
    let next = next_run(task, now);
    let last = history::last(&ctx.paths.history_dir(), &task.name).map(|r| Last {
        outcome: r.outcome,
        finished: output::rfc3339(r.finished, &task.settings.timezone),
        run_id: r.run_id,
    });
    Row {
        name: &task.name,
        schedule: &task.schedule_text,
        timezone: task.settings.timezone.name(),
        means: task.schedule.describe(),
        description: task.description.as_deref(),
        command: &task.command,
        paused: task.settings.paused,
        next: next.map(|t| output::rfc3339(t, &task.settings.timezone)),
        last,
        dst_changes: dst_changes(task, now),
    }
}

fn cells(ctx: &Ctx, task: &Task, now: Timestamp) -> Vec<String> {
    let last = last_cell(ctx, task, now);
    let (next, at) = match next_run(task, now) {
        _ if task.settings.paused => ("paused".to_string(), "-".to_string()),
        Some(t) => (
            output::relative(now, t),
            output::short_wall_time(t, &task.settings.timezone),
        ),
        None => ("never".to_string(), "-".to_string()),
    };
    let name = if dst_changes(task, now).is_empty() {
        task.name.clone()
    } else {
        format!("{} {DST_MARK}", task.name)
    };
    vec![
        name,
        task.schedule_text.clone(),
        task.schedule.describe(),
        next,
        at,
        last,
        command_line(&task.command),
    ]
}

/// LAST: `running for 5s` while a run of the task runs (waiting to
/// retry included; not one still waiting for its lock), else the last
/// recorded outcome and when (`success 5s ago`), else `-`.
fn last_cell(ctx: &Ctx, task: &Task, now: Timestamp) -> String {
    let started = crate::runner::running(&ctx.paths)
        .into_iter()
        .find(|r| r.task == task.name && !r.waiting)
        .map(|r| r.started);
    if let Some(started) = started {
        let seconds = (now.as_second() - started.as_second()).max(0) as u64;
        return format!("running for {}", output::compact_duration(seconds));
    }
    history::last(&ctx.paths.history_dir(), &task.name).map_or_else(
        || "-".to_string(),
        |r| {
            let text = format!(
                "{} {}",
                r.outcome.as_str(),
                output::relative(now, r.finished)
            );
            outcome_painted(&text, r.outcome)
        },
    )
}

/// `text` about a run that ended with `outcome`: red for a failure or a
/// timeout where colour is on (`kron list`, `kron history`).
pub(super) fn outcome_painted(text: &str, outcome: history::Outcome) -> String {
    let bad = matches!(
        outcome,
        history::Outcome::Failure | history::Outcome::Timeout
    );
    output::painted(text, output::Colour::Red, bad && output::style().color)
}

/// The command on one line: a shell command as written, an argv quoted as
/// sh would read it back; control characters (a multi-line command) as
/// escapes such as `\n`, so that a row stays one line.
fn command_line(command: &TaskCommand) -> String {
    let text = match command {
        TaskCommand::Shell(text) => text.clone(),
        TaskCommand::Argv(argv) => argv
            .iter()
            .map(|w| crate::service::shell_word(w))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => line.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => line.push(c),
        }
    }
    line
}

fn next_run(task: &Task, now: Timestamp) -> Option<Timestamp> {
    task.schedule.next_after(now)
}
