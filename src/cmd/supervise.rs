//! `kron __supervise`: runs started by the daemon in a session of their
//! own, standard input on /dev/null, standard output on a pipe the daemon
//! reads, standard error the daemon's (its log file, or the journal). The
//! command line is `runner::launch`'s, the contract with whoever starts a
//! supervisor.
//!
//! Several runs are supervised at once, a thread each: the runs the daemon
//! found due in one wake-up. Each task is read from its snapshot or the
//! task file now, so a run uses the settings the daemon loaded when it
//! starts. A single run may wait for its lock, and the supervisor then
//! exits with the run's status, as `kron run` does.
//!
//! Nothing a supervisor says is lost: its warnings (a history or metrics
//! write that failed, a run log that could not be opened) are log lines
//! in the daemon's format, and a run that could not start at all (its task
//! could not be read, its supervisor could not be started) is also
//! recorded in the history as a `failure` with the reason.
//!
//! As each run ends, the supervisor writes its task's name on a line of
//! standard output: that is how the daemon learns that one run of several
//! ended (for `max_parallel`). A run that would wait for its lock
//! (`overlap = "queue"`) is handed to a supervisor of its own, which
//! inherits standard output, so the pipe stays open until it too has
//! ended.

use std::io::Write;
use std::os::unix::process::CommandExt;

use super::Ctx;
use crate::cli::SuperviseArgs;
use crate::error::Error;
use crate::logging::{self, error, warning};
use crate::runner::launch::Launch;
use crate::runner::{self, Request, Run, Supervised};
use crate::taskfile::{self, Task, TaskFile};

pub fn run(ctx: &Ctx, args: &SuperviseArgs) -> Result<(), Error> {
    logging::init_from_env();
    // An invalid bound is the daemon's to report, not every supervisor's.
    let _ = logging::bound(&ctx.paths.daemon_log());
    let launch = Launch::parse(&args.run, args.snapshots, args.watch)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let files: Vec<Result<TaskFile, Error>> = if launch.snapshots {
        launch
            .runs
            .iter()
            .map(|run| Ok(taskfile::load(&ctx.paths.snapshot(&run.task))?))
            .collect()
    } else {
        vec![ctx.load_tasks()]
    };
    let mut reqs = Vec::with_capacity(launch.runs.len());
    for (i, run) in launch.runs.iter().enumerate() {
        // A snapshot per run, or the one task file for all.
        let file = &files[if launch.snapshots { i } else { 0 }];
        let found = match file {
            Ok(file) => find(file, &run.task).map(|task| (file, task)),
            Err(e) => Err(Error::Failed(e.to_string())),
        };
        match found {
            Ok((file, task)) => reqs.push(
                Request::new(&ctx.paths, task, run.clone(), false)
                    .in_cluster(file.cluster.as_ref(), launch.watch),
            ),
            Err(e) => {
                not_run(ctx, run, format!("not run: {e}"));
                ended(&run.task);
            }
        }
    }
    // What the backend learns of this host and its definitions, beside
    // the runs (before their instant, for runs started early).
    let _announced =
        Joined(runner::Announcement::of(&reqs).map(|a| std::thread::spawn(move || a.send())));
    let watchers = Watchers::default();
    if let [req] = &reqs[..] {
        let mut result = runner::supervise(req);
        let mut watching = launch.watch;
        if matches!(result, Supervised::Watch) {
            // Another host won the claim. With no other run of its own,
            // this supervisor watches the holder itself, on the connection
            // it has, rather than start a watcher process (and a
            // connection) for it. The daemon is told the run ended first,
            // and is not told again: standard output is let go.
            ended(&req.task.name);
            let _ = let_go_of_stdout();
            watching = true;
            let watch = Request::new(&ctx.paths, req.task, req.run.clone(), false)
                .in_cluster(req.cluster, true);
            result = runner::supervise(&watch);
        }
        let code = match &result {
            Supervised::Done(report) => report.exit_code,
            Supervised::Failed(_) => 1,
            _ => 0,
        };
        if watching {
            // A watcher's standard output is not the daemon's.
            if let Supervised::Done(report) = &result {
                warn_all(req, report);
            }
            return match code {
                0 => Ok(()),
                code => Err(Error::Exit(code)),
            };
        }
        report(ctx, &launch, &watchers, req, result);
        watchers.start(ctx, &launch);
        return match code {
            0 => Ok(()),
            code => Err(Error::Exit(code)),
        };
    }
    let supervised = std::thread::scope(|scope| {
        // Lost runs are gathered a moment, then watched by one watcher.
        let gather = scope.spawn(|| watchers.gather(ctx, &launch));
        let supervised = runner::supervise_all(&reqs, &|req, result| {
            report(ctx, &launch, &watchers, req, result)
        });
        watchers.close();
        let _ = gather.join();
        supervised
    });
    Ok(supervised?)
}

/// A thread the supervisor waits for before it exits.
struct Joined(Option<std::thread::JoinHandle<()>>);

impl Drop for Joined {
    fn drop(&mut self) {
        if let Some(thread) = self.0.take() {
            let _ = thread.join();
        }
    }
}

/// The runs of this supervisor whose occurrence another host holds: one
/// watcher (`kron __supervise --watch`) watches them all, rather than a
/// process (and a connection to the backend) each, which a burst of a
/// thousand tasks on three hosts would make two thousand.
#[derive(Default)]
struct Watchers {
    state: std::sync::Mutex<Gathered>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct Gathered {
    lost: Vec<Run>,
    closed: bool,
}

/// How long lost runs are gathered after the first, before their watcher
/// starts: runs due together claim within milliseconds of each other, and
/// a watcher wakes no sooner than a lease (seconds) later.
const GATHER: std::time::Duration = std::time::Duration::from_millis(200);

impl Watchers {
    fn lock(&self) -> std::sync::MutexGuard<'_, Gathered> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, run: Run) {
        self.lock().lost.push(run);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// Until [`Watchers::close`]: waits for a lost run, gathers more for
    /// [`GATHER`], starts their watcher.
    fn gather(&self, ctx: &Ctx, launch: &Launch) {
        loop {
            let mut state = self.lock();
            while state.lost.is_empty() && !state.closed {
                state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.lost.is_empty() {
                return;
            }
            let (state, _) = self
                .changed
                .wait_timeout_while(state, GATHER, |s| !s.closed)
                .unwrap_or_else(|e| e.into_inner());
            drop(state);
            self.start(ctx, launch);
        }
    }

    /// Starts one watcher for the lost runs gathered so far.
    fn start(&self, ctx: &Ctx, launch: &Launch) {
        let lost = std::mem::take(&mut self.lock().lost);
        if lost.is_empty() {
            return;
        }
        let tasks: Vec<String> = lost.iter().map(|r| r.task.clone()).collect();
        if let Err(e) = start_watcher(ctx, launch, lost) {
            error!(
                "supervisor {}: {}: starting the watcher of their cluster occurrences: {e}",
                std::process::id(),
                tasks.join(", ")
            );
        }
    }
}

/// What the daemon and the supervisor's error stream learn of a run's end.
fn report(ctx: &Ctx, launch: &Launch, watchers: &Watchers, req: &Request, result: Supervised) {
    match result {
        Supervised::Done(report) => warn_all(req, &report),
        Supervised::Elsewhere => {}
        Supervised::Watch => watchers.add(req.run.clone()),
        Supervised::Failed(e) => not_run(ctx, &req.run, format!("not run: {e}")),
        Supervised::HandedBack => match hand_off(ctx, launch, req) {
            Ok(()) => return,
            Err(e) => not_run(
                ctx,
                &req.run,
                format!("not run: starting its supervisor: {e}"),
            ),
        },
    }
    ended(&req.task.name);
}

fn warn_all(req: &Request, report: &runner::Report) {
    for warning in &report.warnings {
        warning!(
            "supervisor {}: {}: {warning}",
            std::process::id(),
            req.task.name
        );
    }
}

/// Starts `kron __supervise --watch` for `runs`, whose occurrences other
/// hosts hold. The daemon counts the runs as ended now: the watcher's
/// standard output is /dev/null, and if it takes an occurrence over
/// (`cluster = "retry"`) that run is not one of the daemon's for
/// `max_parallel`.
fn start_watcher(ctx: &Ctx, launch: &Launch, runs: Vec<Run>) -> std::io::Result<()> {
    let watcher = Launch {
        runs,
        snapshots: launch.snapshots,
        watch: true,
    };
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(watcher.args(&ctx.paths.task_file))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Logs and records a run that could not start.
fn not_run(ctx: &Ctx, run: &Run, reason: String) {
    let pid = std::process::id();
    error!("supervisor {pid}: {}: {reason}", run.task);
    if let Err(e) = runner::record_unstarted(&ctx.paths, run, reason) {
        error!("supervisor {pid}: {}: {e}", run.task);
    }
}

/// Starts a supervisor of its own for `req`, on the same standard output.
fn hand_off(ctx: &Ctx, launch: &Launch, req: &Request) -> std::io::Result<()> {
    let alone = Launch {
        runs: vec![req.run.clone()],
        snapshots: launch.snapshots,
        watch: false,
    };
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(alone.args(&ctx.paths.task_file))
        .spawn()?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Points standard output at /dev/null: the daemon reads the end of the
/// pipe, and learns that this supervisor has no run of its own left.
fn let_go_of_stdout() -> std::io::Result<()> {
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    nix::unistd::dup2_stdout(&null)?;
    Ok(())
}

/// Tells the daemon that a run of `task` ended. A daemon that is gone is
/// fine (SIGPIPE is ignored; the write fails).
fn ended(task: &str) {
    let _ = writeln!(std::io::stdout(), "{task}");
}

fn find<'a>(file: &'a TaskFile, name: &str) -> Result<&'a Task, Error> {
    file.task(name).ok_or_else(|| super::unknown(file, name))
}
