//! `kron __supervise`: runs started by the daemon in a session of their
//! own, standard input and error on /dev/null, standard output on a pipe
//! the daemon reads. The command line is the contract with the daemon
//! (docs/architecture.md):
//!
//! ```text
//! kron __supervise --task NAME --trigger schedule|manual|catch-up|reboot
//!                  [--scheduled RFC3339] [--run-id ID] [--file TASKFILE]
//! kron __supervise --run NAME,TRIGGER,SCHEDULED,RUN_ID ...
//!                  [--snapshots DIR | --file TASKFILE]
//! ```
//!
//! The first form supervises one run and exits with its status, as `kron
//! run` does. The second supervises several at once, a thread each: the
//! runs the daemon found due in one wake-up (`-` stands for no instant or a
//! new run id). Each task is read from its snapshot or the task file now,
//! so a run uses the settings the daemon loaded when it starts.
//!
//! As each run ends, the supervisor writes its task's name on a line of
//! standard output: that is how the daemon learns that one run of several
//! ended (for `max_parallel`). A run that would wait for its lock
//! (`overlap = "queue"`) is handed to a supervisor of its own (the first
//! form), which inherits standard output, so the pipe stays open until it
//! too has ended.

use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use jiff::Timestamp;

use super::Ctx;
use crate::cli::SuperviseArgs;
use crate::error::Error;
use crate::history::Trigger;
use crate::runner::{self, Request, Supervised};
use crate::taskfile::{self, Task, TaskFile};

pub fn run(ctx: &Ctx, args: &SuperviseArgs) -> Result<(), Error> {
    if !args.run.is_empty() {
        return run_all(ctx, args);
    }
    let (Some(name), Some(trigger)) = (&args.task, args.trigger) else {
        return Err(Error::Invalid(
            "--task and --trigger, or --run, are needed".into(),
        ));
    };
    let file = load(ctx, args.snapshots.as_deref(), name)?;
    let task = find(&file, name)?;
    let report = runner::supervise(&Request {
        paths: &ctx.paths,
        task,
        trigger,
        scheduled: instant(args.scheduled.as_deref())?,
        run_id: run_id(args.run_id.as_deref())?,
        foreground: false,
    })
    .map_err(|e| Error::Failed(e.to_string()))?;
    ended(&task.name);
    for warning in &report.warnings {
        eprintln!("kron: warning: {warning}");
    }
    match report.exit_code {
        0 => Ok(()),
        code => Err(Error::Exit(code)),
    }
}

/// One `--run`.
struct Spec {
    task: String,
    trigger: Trigger,
    scheduled: Option<Timestamp>,
    run_id: String,
}

fn parse_spec(text: &str) -> Result<Spec, Error> {
    let bad = || {
        Error::Invalid(format!(
            "--run `{text}`: expected NAME,TRIGGER,SCHEDULED,RUN_ID"
        ))
    };
    let [task, trigger, scheduled, id] = text.split(',').collect::<Vec<_>>()[..] else {
        return Err(bad());
    };
    Ok(Spec {
        task: task.into(),
        trigger: Trigger::from_str(trigger, false).map_err(|_| bad())?,
        scheduled: instant(Some(scheduled).filter(|s| *s != "-"))?,
        run_id: run_id(Some(id).filter(|s| *s != "-"))?,
    })
}

fn run_all(ctx: &Ctx, args: &SuperviseArgs) -> Result<(), Error> {
    let specs = args
        .run
        .iter()
        .map(|s| parse_spec(s))
        .collect::<Result<Vec<_>, _>>()?;
    let files: Vec<Result<TaskFile, Error>> = match &args.snapshots {
        Some(dir) => specs
            .iter()
            .map(|s| load(ctx, Some(dir), &s.task))
            .collect(),
        None => vec![ctx.load_tasks()],
    };
    let mut reqs = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        // A snapshot per run, or the one task file for all.
        let file = if args.snapshots.is_some() {
            &files[i]
        } else {
            &files[0]
        };
        let found = match file {
            Ok(file) => find(file, &spec.task),
            Err(e) => Err(Error::Failed(e.to_string())),
        };
        match found {
            Ok(task) => reqs.push(Request {
                paths: &ctx.paths,
                task,
                trigger: spec.trigger,
                scheduled: spec.scheduled,
                run_id: spec.run_id.clone(),
                foreground: false,
            }),
            Err(e) => {
                eprintln!("kron: {}: not run: {e}", spec.task);
                ended(&spec.task);
            }
        }
    }
    if let [req] = &reqs[..] {
        let result = runner::supervise(req);
        report(
            ctx,
            args,
            req,
            result.map_or_else(Supervised::Failed, Supervised::Done),
        );
        return Ok(());
    }
    runner::supervise_all(&reqs, &|req, result| report(ctx, args, req, result))
        .map_err(|e| Error::Failed(e.to_string()))
}

/// What the daemon and the supervisor's error stream learn of a run's end.
fn report(ctx: &Ctx, args: &SuperviseArgs, req: &Request, result: Supervised) {
    match result {
        Supervised::Done(report) => {
            for warning in &report.warnings {
                eprintln!("kron: warning: {}: {warning}", req.task.name);
            }
        }
        Supervised::Failed(e) => eprintln!("kron: {}: {e}", req.task.name),
        Supervised::HandedBack => match hand_off(ctx, args, req) {
            Ok(()) => return,
            Err(e) => eprintln!(
                "kron: {}: not run: starting its supervisor: {e}",
                req.task.name
            ),
        },
    }
    ended(&req.task.name);
}

/// Starts a supervisor of its own for `req`, on the same standard output.
fn hand_off(ctx: &Ctx, args: &SuperviseArgs, req: &Request) -> std::io::Result<()> {
    let file = match &args.snapshots {
        Some(dir) => snapshot(dir, &req.task.name),
        None => ctx.paths.task_file.clone(),
    };
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command.args([
        "__supervise",
        "--task",
        &req.task.name,
        "--trigger",
        req.trigger.as_str(),
        "--run-id",
        &req.run_id,
    ]);
    if let Some(at) = req.scheduled {
        command.args(["--scheduled", &at.to_string()]);
    }
    let mut child = command.arg("--file").arg(file).spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Tells the daemon that a run of `task` ended. A daemon that is gone is
/// fine (SIGPIPE is ignored; the write fails).
fn ended(task: &str) {
    let _ = writeln!(std::io::stdout(), "{task}");
}

fn snapshot(dir: &Path, task: &str) -> std::path::PathBuf {
    dir.join(format!("{task}.toml"))
}

/// The file `task` is read from: its snapshot, or the task file.
fn load(ctx: &Ctx, snapshots: Option<&Path>, task: &str) -> Result<TaskFile, Error> {
    match snapshots {
        Some(dir) => Ok(taskfile::load(&snapshot(dir, task))?),
        None => ctx.load_tasks(),
    }
}

fn find<'a>(file: &'a TaskFile, name: &str) -> Result<&'a Task, Error> {
    file.task(name).ok_or_else(|| Error::NoSuchTask {
        name: name.into(),
        file: file.path.clone(),
    })
}

fn instant(text: Option<&str>) -> Result<Option<Timestamp>, Error> {
    text.map(|t| {
        t.parse::<Timestamp>()
            .map_err(|_| Error::Instant { text: t.into() })
    })
    .transpose()
}

fn run_id(id: Option<&str>) -> Result<String, Error> {
    match id {
        Some(id) if valid_run_id(id) => Ok(id.into()),
        Some(id) => Err(Error::Invalid(format!("invalid run id `{id}`"))),
        None => Ok(runner::new_run_id()),
    }
}

/// Run ids name files: letters, digits, `-` and `_` only.
pub fn valid_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
