//! `kron kill NAME [--signal SIG]`: stop the running runs of a task.
//!
//! Without `--signal`, the run's supervisor gets SIGTERM: it sends SIGTERM
//! to the command's process group, SIGKILL after `kill_grace`, retries no
//! more, and records the run as `interrupted`. With `--signal SIG`, the
//! supervisor gets SIGUSR1 (no more retries; record `interrupted`) and the
//! process group gets SIG. kron then waits for the runs to end.

use std::io::Write;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::{Ctx, out};
use crate::cli::KillArgs;
use crate::error::Error;
use crate::runner;

pub fn run(ctx: &Ctx, args: &KillArgs) -> Result<(), Error> {
    let signal = args.signal.as_deref().map(parse_signal).transpose()?;
    let runs: Vec<_> = runner::running(&ctx.paths)
        .into_iter()
        .filter(|r| r.task == args.name)
        .collect();
    if runs.is_empty() {
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
        let supervisor = Pid::from_raw(run.supervisor_pid);
        let sent = match signal {
            None => kill(supervisor, Signal::SIGTERM),
            Some(signal) => kill(supervisor, Signal::SIGUSR1).and_then(|()| match run.pgid {
                Some(pgid) => killpg(Pid::from_raw(pgid), signal),
                None => Ok(()),
            }),
        };
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
    let deadline = Instant::now() + grace + Duration::from_secs(5);
    while Instant::now() < deadline {
        let left: Vec<_> = runner::running(&ctx.paths)
            .into_iter()
            .filter(|r| runs.iter().any(|k| k.run_id == r.run_id))
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
