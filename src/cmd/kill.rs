//! `kron kill NAME [--signal SIG]`: stop the running runs of a task.
//!
//! kron asks each run's supervisor, which owns the process group, through
//! the run's request file and a SIGUSR1 (a supervisor may run several
//! runs): without `--signal`, the supervisor sends SIGTERM to the group,
//! SIGKILL after `kill_grace`; with `--signal SIG`, it sends SIG. Either way
//! retries stop and the run is recorded as `interrupted`. A run waiting for
//! its lock is cancelled (also `interrupted`, with no attempt). A run whose
//! supervisor died is stopped and recorded by `runner::recover`, which kron
//! starts if no one has. kron then waits for the runs to end.

use std::io::Write;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{Ctx, out};
use crate::cli::KillArgs;
use crate::error::Error;
use crate::runner;
use crate::runner::recover;
use crate::runner::signals::Request;

pub fn run(ctx: &Ctx, args: &KillArgs) -> Result<(), Error> {
    let signal = args.signal.as_deref().map(parse_signal).transpose()?;
    let mut runs: Vec<_> = runner::running(&ctx.paths)
        .into_iter()
        .filter(|r| r.task == args.name)
        .collect();
    // Waiting runs first: stopping a running one frees the lock, and a
    // waiting run not yet cancelled would start its command.
    runs.sort_by_key(|r| !r.waiting);
    let orphans: Vec<_> = recover::orphans(&ctx.paths)
        .into_iter()
        .filter(|r| r.task == args.name)
        .collect();
    super::named(ctx, &args.name, "runs in progress", || {
        !runs.is_empty() || !orphans.is_empty()
    })?;
    if runs.is_empty() && orphans.is_empty() {
        return Err(Error::Failed(format!("`{}` is not running", args.name)));
    }
    // Wait as long as the task's own escalation may take, and some.
    let grace = ctx
        .load_tasks()
        .ok()
        .and_then(|f| f.task(&args.name).map(|t| t.settings.kill_grace))
        .unwrap_or(crate::taskfile::DEFAULT_KILL_GRACE);
    let mut stdout = std::io::stdout();
    for run in &runs {
        let request = signal.map_or(Request::Stop, Request::Signal);
        let sent = runner::running::request(&ctx.paths.running_dir(), run, request);
        match sent {
            Ok(()) => out!(
                stdout,
                "stopping run {} of {} ({})",
                run.run_id,
                run.task,
                signal.unwrap_or(Signal::SIGTERM)
            )?,
            Err(e) => eprintln!("kron: signalling run {}: {e}", run.run_id),
        }
    }
    if !orphans.is_empty() {
        recover::start(&ctx.paths);
    }
    for run in &orphans {
        out!(
            stdout,
            "stopping run {} of {} (its supervisor, pid {}, is gone)",
            run.run_id,
            run.task,
            run.supervisor_pid
        )?;
    }
    let deadline = Instant::now() + grace + Duration::from_secs(5);
    while Instant::now() < deadline {
        let left: Vec<_> = runner::running(&ctx.paths)
            .into_iter()
            .chain(recover::orphans(&ctx.paths))
            .filter(|r| runs.iter().chain(&orphans).any(|k| k.run_id == r.run_id))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(Error::Failed(format!(
        "`{}` is still running {} s later",
        args.name,
        (grace + Duration::from_secs(5)).as_secs()
    )))
}

/// `TERM`, `SIGTERM`, `term` or `15`.
fn parse_signal(text: &str) -> Result<Signal, Error> {
    let bad = || {
        Error::Invalid(format!(
            "--signal `{text}`: expected a signal such as TERM, INT, HUP, KILL or a number"
        ))
    };
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}
