//! `kron status [--json]`: the daemon (pid, uptime, what it plans next),
//! the task file's state as the daemon sees it (including why the last
//! change was not loaded), and the runs in progress, with those whose
//! supervisor died (`orphaned`: being stopped and recorded, which it
//! starts if no one has).

use std::io::Write;

use jiff::Timestamp;
use serde::Serialize;

use super::{Ctx, out};
use crate::cli::StatusArgs;
use crate::daemon::control;
use crate::error::Error;
use crate::ipc::{self, DaemonStatus, Request, Response};
use crate::output;
use crate::runner::recover;
use crate::runner::running::{self, RunningRun};

#[derive(Serialize)]
struct Report {
    /// `None` when no daemon runs.
    daemon: Option<DaemonStatus>,
    /// When a daemon holds the lock but does not answer.
    daemon_error: Option<String>,
    task_file: String,
    /// Set when the daemon runs another task file than `task_file`: that
    /// nothing runs this one, and how to run it.
    #[serde(skip_serializing_if = "Option::is_none")]
    task_file_not_run: Option<String>,
    /// Set while this host's claims fail: its cluster tasks do not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster_unreachable: Option<crate::cluster::reach::Unreachable>,
    /// Runs in progress (from the running registry: daemon runs and `kron
    /// run` alike).
    running: Vec<RunningRun>,
    /// Runs whose supervisor died, until they are stopped and recorded.
    orphaned: Vec<RunningRun>,
    /// Runs whose record could not be written to their history (the state
    /// disk is full), kept until it can be.
    unrecorded: usize,
}

pub fn run(ctx: &Ctx, args: &StatusArgs) -> Result<(), Error> {
    let paths = &ctx.paths;
    let mut report = Report {
        daemon: None,
        daemon_error: None,
        task_file: paths.task_file.display().to_string(),
        task_file_not_run: None,
        cluster_unreachable: crate::cluster::reach::read(paths),
        running: running::running(paths),
        orphaned: recover::orphans(paths),
        unrecorded: crate::history::unrecorded(paths),
    };
    recover::start(paths);
    if let Some(pid) = control::running(paths)? {
        match ipc::request(&paths.socket_path(), &Request::Status) {
            Ok(Response::Status(status)) => {
                report.task_file_not_run = super::daemon::other_file(ctx);
                report.daemon = Some(status);
            }
            Ok(other) => report.daemon_error = Some(format!("unexpected answer {other:?}")),
            Err(e) => {
                let pid = pid.map_or_else(|| "pid unknown".into(), |p| format!("pid {p}"));
                report.daemon_error = Some(format!("running ({pid}) but not answering: {e}"));
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let text = serde_json::to_string_pretty(&report).expect("the report serialises");
        return out!(stdout, "{text}");
    }
    let zone = output::local_zone();
    match (&report.daemon, &report.daemon_error) {
        (Some(d), _) => {
            out!(
                stdout,
                "daemon:    running, pid {}, up {} (kron {})",
                d.pid,
                super::daemon::uptime(d.started),
                d.version
            )?;
            let loaded = d
                .loaded
                .map(|t| format!("; loaded {}", output::wall_time(t, &zone)))
                .unwrap_or_default();
            out!(
                stdout,
                "task file: {}: {} task(s), {} paused{loaded}",
                d.task_file.display(),
                d.tasks,
                d.paused
            )?;
            if let Some(message) = &report.task_file_not_run {
                out!(stdout, "warning:   {message}")?;
            }
            if let Some(error) = &d.load_error {
                out!(
                    stdout,
                    "           the last change was NOT loaded (the tasks above still run):"
                )?;
                for line in error.lines() {
                    out!(stdout, "             {line}")?;
                }
            }
            if let Some(next) = &d.next {
                out!(
                    stdout,
                    "next:      {} at {} ({})",
                    next.task,
                    output::wall_time(next.at, &zone),
                    output::relative(Timestamp::now(), next.at)
                )?;
            }
            let limit = d
                .max_parallel
                .map_or_else(String::new, |n| format!(" (max_parallel {n})"));
            let waiting = if d.waiting > 0 {
                format!(", {} waiting", d.waiting)
            } else {
                String::new()
            };
            out!(
                stdout,
                "runs:      {} in progress{waiting}{limit}",
                d.running
            )?;
        }
        (None, Some(error)) => out!(stdout, "daemon:    {error}")?,
        (None, None) => {
            out!(
                stdout,
                "daemon:    not running (start it with `kron daemon start`)"
            )?;
            out!(stdout, "task file: {}", report.task_file)?;
        }
    }
    if let Some(u) = &report.cluster_unreachable {
        out!(
            stdout,
            "cluster:   claims FAIL since {} (last tried {}): cluster tasks do not run \
             on this host; local tasks do",
            output::wall_time(u.since, &zone),
            output::wall_time(u.last, &zone)
        )?;
        out!(stdout, "           {}", u.error)?;
    }
    if report.unrecorded > 0 {
        out!(
            stdout,
            "history:   {} run(s) NOT recorded: {} cannot be written (disk full?); \
             they are kept and written once it can be (kron doctor)",
            report.unrecorded,
            paths.history_dir().display()
        )?;
    }
    if report.running.is_empty() && report.orphaned.is_empty() {
        return out!(stdout, "running:   none");
    }
    out!(stdout, "running:")?;
    let now = Timestamp::now();
    let orphaned = report.orphaned.iter().map(|r| (r, true));
    let rows: Vec<Vec<String>> = report
        .running
        .iter()
        .map(|r| (r, false))
        .chain(orphaned)
        .map(|(r, orphaned)| {
            let elapsed = (now.as_second() - r.started.as_second()).max(0) as u64;
            vec![
                r.run_id.clone(),
                r.task.clone(),
                r.pgid.map_or_else(|| "-".into(), |p| p.to_string()),
                r.trigger.as_str().to_string(),
                if orphaned {
                    "orphaned".into()
                } else if r.waiting {
                    "waiting".into()
                } else {
                    r.attempt.to_string()
                },
                output::compact_duration(elapsed),
            ]
        })
        .collect();
    let headers = ["RUN ID", "TASK", "PID", "TRIGGER", "ATTEMPT", "ELAPSED"];
    let table = output::table(&headers, &rows, output::width(), &[1]);
    write!(stdout, "{table}").map_err(Error::Output)
}
