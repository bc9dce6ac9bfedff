//! `kron run NAME [--detach] [--dry-run]`: run a task now, in the
//! foreground by default, through the same supervisor code as the daemon's
//! runs (lock, overlap, timeout, retries, run log, history).

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::{Ctx, out};
use crate::cli::RunArgs;
use crate::error::Error;
use crate::history::{self, Outcome, Trigger};
use crate::ipc;
use crate::runner::launch::Launch;
use crate::runner::{self, Request, Run, spawn};
use crate::taskfile::{Overlap, Task, TaskCommand};
use crate::units::{format_duration, format_size};

pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    let task = file
        .task(&args.name)
        .ok_or_else(|| super::unknown(&file, &args.name))?;
    if args.dry_run {
        return dry_run(ctx, task);
    }
    if task.settings.paused && !args.force {
        return Err(Error::Failed(format!(
            "`{0}` is paused, so it does not run: `kron run {0} --force` runs it anyway \
             (and it stays paused), `kron resume {0}` lets it run again",
            task.name
        )));
    }
    // A run whose supervisor died may hold the lock this one needs: it is
    // stopped and recorded, after this run (skipped, if so, with a reason
    // that names it) has tried.
    let recover = || runner::recover::start(&ctx.paths);
    if args.detach {
        let result = detach(ctx, task);
        recover();
        return result;
    }
    let report = runner::supervise(&Request::new(&ctx.paths, task, manual(task, None), true));
    recover();
    let report = match report {
        runner::Supervised::Done(report) => report,
        runner::Supervised::Failed(e) => return Err(e.into()),
        // A manual run is never a cluster claim, and may wait for its lock.
        _ => unreachable!("a manual run in the foreground is run here"),
    };
    for warning in &report.warnings {
        eprintln!("kron: warning: {warning}");
    }
    let r = &report.record;
    let why = r
        .reason
        .as_deref()
        .map_or(String::new(), |r| format!(": {r}"));
    if !r.leftovers.is_empty() {
        eprintln!(
            "kron: {}: the command left {} running (leftovers = \"kill\" stops them)",
            task.name,
            history::processes(&r.leftovers)
        );
    }
    if !r.leftovers_stopped.is_empty() {
        eprintln!(
            "kron: {}: stopped {} the command left running",
            task.name,
            history::processes(&r.leftovers_stopped)
        );
    }
    match r.outcome {
        Outcome::Success => {}
        Outcome::Skipped => eprintln!("kron: {} skipped{why}", task.name),
        outcome => eprintln!(
            "kron: {} {} after {} attempt(s){why} (run {}; `kron logs {}`)",
            task.name,
            outcome.as_str(),
            r.attempts,
            r.run_id,
            task.name
        ),
    }
    match report.exit_code {
        0 => Ok(()),
        code => Err(Error::Exit(code)),
    }
}

/// Hands the run to the daemon when one answers for this task file (so that
/// `max_parallel` counts it), else starts a supervisor in a new session with
/// its input and output on /dev/null and its log lines in the daemon's log
/// file. Either way, prints the run id it will use.
/// From a hook (`KRON_HOOK` is set) the run is never handed to the daemon:
/// its own supervisor inherits `KRON_HOOK` and so runs no hook, and hooks
/// cannot loop through the daemon.
fn detach(ctx: &Ctx, task: &Task) -> Result<(), Error> {
    let run_id = runner::new_run_id();
    let from_hook = std::env::var_os("KRON_HOOK").is_some();
    if !from_hook && let Some(pid) = hand_to_daemon(ctx, task, &run_id) {
        eprintln!("kron: handed {} to the daemon (pid {pid})", task.name);
        return out!(std::io::stdout(), "{run_id}");
    }
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        action: "finding",
        path: "kron's own executable".into(),
        source,
    })?;
    let launch = Launch {
        runs: vec![manual(task, Some(run_id.clone()))],
        snapshots: false,
        watch: false,
    };
    let mut command = Command::new(&exe);
    command
        .args(launch.args(&ctx.paths.task_file))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // Its log lines go where the daemon's would.
        .stderr(crate::logging::open_log(&ctx.paths).map_or_else(|_| Stdio::null(), Stdio::from));
    // SAFETY: setsid(2) is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()?;
            Ok(())
        });
    }
    command.spawn().map_err(|source| Error::Io {
        action: "starting",
        path: exe,
        source,
    })?;
    out!(std::io::stdout(), "{run_id}")
}

/// The daemon's pid if a daemon running this task file accepted the run.
fn hand_to_daemon(ctx: &Ctx, task: &Task, run_id: &str) -> Option<u32> {
    let socket = ctx.paths.socket_path();
    let Ok(ipc::Response::Pong { pid, task_file }) = ipc::request(&socket, &ipc::Request::Ping)
    else {
        return None;
    };
    if task_file != ctx.paths.task_file {
        return None;
    }
    let request = ipc::Request::RunNow {
        task: task.name.clone(),
        run_id: Some(run_id.into()),
    };
    matches!(ipc::request(&socket, &request), Ok(ipc::Response::Done)).then_some(pid)
}

fn dry_run(ctx: &Ctx, task: &Task) -> Result<(), Error> {
    let s = &task.settings;
    let plan = spawn::plan(
        task,
        &spawn::AttemptInfo {
            run_id: "RUN_ID",
            attempt: 1,
            scheduled: None,
            cluster: None,
        },
    );
    let mut o = std::io::stdout().lock();
    let command = std::iter::once(&plan.program)
        .chain(&plan.args)
        .map(|w| quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let how = match task.command {
        TaskCommand::Shell(_) => "by the shell",
        TaskCommand::Argv(_) => "without a shell",
    };
    out!(
        o,
        "task:     {}{}",
        task.name,
        if s.paused {
            " (paused: `kron run` needs --force)"
        } else {
            ""
        }
    )?;
    out!(o, "command:  {command}  ({how})")?;
    out!(o, "workdir:  {}", plan.workdir.display())?;
    match &plan.stdin {
        None => out!(o, "stdin:    /dev/null")?,
        Some(text) => out!(o, "stdin:    {} byte(s): {text:?}", text.len())?,
    }
    let lock = runner::lock_path(&ctx.paths, task);
    out!(
        o,
        "lock:     {} (overlap: {})",
        match s.overlap {
            Overlap::Allow => "none".to_string(),
            _ => format!(
                "{}, on the command's descriptor {}",
                lock.display(),
                spawn::LOCK_FD
            ),
        },
        match s.overlap {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
            Overlap::Replace => "replace",
            Overlap::Allow => "allow",
        }
    )?;
    out!(
        o,
        "timeout:  {}; then SIGTERM to the process group, SIGKILL {} later",
        s.timeout.map_or("none".into(), format_duration),
        format_duration(s.kill_grace)
    )?;
    let r = &s.retry;
    if r.attempts == 0 {
        out!(o, "retry:    none")?;
    } else {
        out!(
            o,
            "retry:    up to {} more attempt(s), waiting {} x {}^(n-1), at most {}{}",
            r.attempts,
            format_duration(r.backoff),
            r.factor,
            format_duration(r.max_backoff),
            if r.jitter { ", with full jitter" } else { "" }
        )?;
    }
    if !plan.resources.is_empty() {
        out!(
            o,
            "limits:   {} (given to the command's process as it starts)",
            plan.resources.describe()
        )?;
    }
    out!(
        o,
        "log:      {} (rotated at {}, {} old file(s) kept)",
        crate::runlog::path(&ctx.paths.logs_dir(), &task.name).display(),
        format_size(s.log.max_size),
        s.log.keep
    )?;
    out!(o, "environment (exactly this; nothing is inherited):")?;
    for (key, value) in &plan.env {
        out!(o, "  {key}={value}")?;
    }
    o.flush().map_err(Error::Output)
}

fn quote(word: &str) -> String {
    crate::shell::word(word)
}

/// A manual run of `task` now.
fn manual(task: &Task, run_id: Option<String>) -> Run {
    Run {
        task: task.name.clone(),
        trigger: Trigger::Manual,
        scheduled: None,
        run_id,
    }
}
