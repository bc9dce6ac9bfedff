//! What follows a `missed` record: its `on_missed` hook and its mail
//! (`runner::notify`), run by a process that may run commands.
//!
//! The daemon writes the `missed` records of instants it lets go itself
//! (nothing runs, so no supervisor is started for them), but it never runs
//! a command: for the records of tasks that want them followed
//! ([`notify::wants_missed`]) it starts `kron __missed` ([`start`]), a
//! short-lived process in a session of its own with the daemon's standard
//! error, which reads each task as a supervisor does (its snapshot, or the
//! task file) and runs the hook and the mail for each record ([`follow`]),
//! one after another. The records travel on its command line, as JSON, so
//! that a record the history could not take (a full disk) is still
//! followed:
//!
//! ```text
//! kron --file TASKFILE __missed [--snapshots] --record JSON [--record JSON ...]
//! ```
//!
//! At most [`RECORDS_PER_PROCESS`] records per process, so a daemon that
//! comes back to a thousand tasks after a downtime starts a few processes,
//! not a thousand. A supervisor that lets a run go itself (it waited for
//! its lock past `max_lateness`: [`too_late`]) follows its record as it
//! follows any run, with `notify::after_run`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use jiff::Timestamp;

use super::signals::Signals;
use super::{Report, Request, Run, notify};
use crate::dirs::Paths;
use crate::history::{Record, Stretch};
use crate::taskfile::Task;
use crate::units::format_duration;

/// The hidden verb that follows missed records.
pub const SUBCOMMAND: &str = "__missed";
/// Records one `kron __missed` follows.
pub const RECORDS_PER_PROCESS: usize = 64;

/// Starts `kron __missed` for `records` (a process per
/// [`RECORDS_PER_PROCESS`]), in a session of its own, standard error
/// inherited, and returns at once: the caller reaps it (the daemon reaps
/// every child). Failures are returned as text, for the daemon's log.
pub fn start(paths: &Paths, snapshots: bool, records: &[Record]) -> Vec<String> {
    let mut problems = Vec::new();
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return vec![format!("finding kron's own program: {e}")],
    };
    for batch in records.chunks(RECORDS_PER_PROCESS) {
        let mut command = Command::new(&exe);
        command
            .args(args(&paths.task_file, snapshots, batch))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        // SAFETY: `detach` is async-signal-safe and allocates nothing.
        unsafe {
            command.pre_exec(super::spawn::detach);
        }
        if let Err(e) = command.spawn() {
            let tasks: Vec<&str> = batch.iter().map(|r| r.task.as_str()).collect();
            problems.push(format!(
                "starting kron {SUBCOMMAND} for {}: {e}; their on_missed hooks and mail are \
                 not run",
                tasks.join(", ")
            ));
        }
    }
    problems
}

/// The command line of `kron __missed` for `records`, after `kron`.
pub fn args(task_file: &Path, snapshots: bool, records: &[Record]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--file".into(), task_file.into(), SUBCOMMAND.into()];
    if snapshots {
        args.push("--snapshots".into());
    }
    for record in records {
        args.push("--record".into());
        args.push(
            serde_json::to_string(record)
                .expect("records serialise")
                .into(),
        );
    }
    args
}

/// Runs the hook and the mail of `record` of `task`; returns the warnings.
pub fn follow(paths: &Paths, task: &Task, record: Record, signals: &mut Signals) -> Vec<String> {
    let run = Run {
        task: record.task.clone(),
        trigger: record.trigger,
        scheduled: record.scheduled,
        run_id: Some(record.run_id.clone()),
    };
    let req = Request::new(paths, task, run, false);
    let mut report = Report {
        record,
        exit_code: 0,
        warnings: Vec::new(),
    };
    notify::after_missed(&req, &mut report, signals);
    report.warnings
}

/// The reason a run that is `late` is let go, when its task allows less
/// (`max_lateness`); `waited_for` names the lock it waited for, if the wait
/// made it late. `None`: in time.
pub fn too_late(
    task: &Task,
    scheduled: Option<Timestamp>,
    now: Timestamp,
    waited_for: Option<&str>,
) -> Option<String> {
    let (scheduled, max) = (scheduled?, task.settings.max_lateness?);
    let late = Duration::try_from(now.duration_since(scheduled)).ok()?;
    if late <= max {
        return None;
    }
    let why = match waited_for {
        Some(lock) => format!("it waited for lock `{lock}` until {now}"),
        None => format!("its supervisor could start it only at {now}"),
    };
    Some(format!(
        "missed 1 instant(s) from {scheduled} to {scheduled}: {why}, {} late, past \
         max_lateness = {}",
        format_duration(late),
        format_duration(max)
    ))
}

/// The `missed` record of `req`'s one instant, let go for `reason`.
pub(super) fn record(req: &Request, reason: String) -> Record {
    let now = Timestamp::now();
    let at = req.run.scheduled.unwrap_or(now);
    let stretch = Stretch {
        count: 1,
        more: false,
        first: at,
        last: at,
    };
    Record::missed(
        req.run_id().to_string(),
        &req.task.name,
        req.run.trigger,
        stretch,
        reason,
        now,
    )
}
