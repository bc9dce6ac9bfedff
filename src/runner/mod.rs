//! One run end to end, owned by a supervisor process: the hidden
//! `kron __supervise` that the daemon starts, or `kron run` in the
//! foreground. Depends on `taskfile`, `lock`, `runlog`, `history`, and
//! `metrics` (through [`notify`], what follows a run).
//!
//! A run goes through these states, each in one function here or in the
//! module that owns its decision: taking the lock by the task's overlap
//! policy in `overlap`, the outcome and exit status of the last attempt in
//! `outcome`:
//!
//! ```text
//! lock (by overlap) --held--> attempt --success / last attempt / stop--> record
//!       |                       ^  |
//!       +--skip--> record        |  +--failure--> backoff (interruptible)
//!                               +-----------------+
//! ```
//!
//! The lock is held from the first attempt to the record, retries included,
//! so a run that waits to retry still counts as running; each attempt's
//! command inherits it ([`spawn::LOCK_FD`]), so it stays held while any
//! process of the run lives, even if the supervisor is killed. The run registers
//! itself in `$RUNTIME/running/` meanwhile ([`mod@running`]). A stop (SIGTERM,
//! SIGINT, SIGHUP to the supervisor, Ctrl-C, or a stop request from `kron
//! kill` or a replacing run: [`signals`]) stops the command's group and ends
//! the run as `interrupted`, without retries. Problems writing the log or
//! the history never stop a run; they are reported as warnings.
//!
//! A supervisor runs one request ([`supervise`]) or several at once, each
//! in a thread of its own ([`supervise_all`]: the daemon's runs due in the
//! same wake-up). Threads never wait for a lock: a run that would wait
//! (`overlap = "queue"`) is handed back to the caller, which gives it a
//! supervisor process of its own (docs/architecture.md).

pub mod attempt;
pub mod check;
mod claim;
mod holder;
pub mod launch;
pub mod missed;
pub mod notify;
mod outcome;
mod overlap;
pub mod preflight;
pub mod priority;
pub mod recover;
pub mod retry;
pub mod running;
pub mod signals;
pub mod spawn;

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;

use crate::dirs::Paths;
use crate::history::{self, HistoryError, Outcome, Record};
use crate::lock::{Held, LockError};
use crate::runlog::{FOOTER, HEADER, RunLog};
use crate::taskfile::{Cluster, Overlap, Task};
use crate::units::format_duration;
use attempt::{Limits, Sink, Tee};
pub use claim::Announcement;
pub use launch::Run;
use outcome::{AttemptEnd, Verdict};
use overlap::{Locked, take_lock};
pub use running::{RunningRun, running};
use signals::{Hub, Signals, SignalsError, Stop};

/// What to run and how it was triggered.
pub struct Request<'a> {
    pub paths: &'a Paths,
    pub task: &'a Task,
    /// The run as the supervisor was asked for it, its id chosen.
    pub run: Run,
    /// `kron run`: copy the output to this process's stdout and report
    /// retries on stderr.
    pub foreground: bool,
    /// The task file's `[cluster]`, if it has one.
    pub cluster: Option<&'a Cluster>,
    /// This supervisor watches the holder of a cluster occurrence that it
    /// lost (`kron __supervise --watch`).
    pub watch: bool,
}

impl<'a> Request<'a> {
    /// The request for `run` of `task`, with a new run id unless the run
    /// has one.
    pub fn new(paths: &'a Paths, task: &'a Task, mut run: Run, foreground: bool) -> Request<'a> {
        run.run_id.get_or_insert_with(new_run_id);
        Request {
            paths,
            task,
            run,
            foreground,
            cluster: None,
            watch: false,
        }
    }

    /// The request as a host of `cluster` makes it; `watch`: see
    /// [`Request::watch`].
    pub fn in_cluster(mut self, cluster: Option<&'a Cluster>, watch: bool) -> Request<'a> {
        self.cluster = cluster;
        self.watch = watch;
        self
    }

    pub fn run_id(&self) -> &str {
        self.run
            .run_id
            .as_deref()
            .expect("Request::new chose the id")
    }
}

/// How a run ended.
#[derive(Debug)]
pub struct Report {
    pub record: Record,
    /// What `kron run` exits with: the command's exit code, 128 + signal,
    /// 124 for a timeout, 126/127 when it could not start, 1 when skipped
    /// or let go past `max_lateness`.
    pub exit_code: u8,
    /// Problems that did not stop the run (log or history writes).
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Signals(#[from] SignalsError),
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// A new run id: the UTC start second and 8 random hex digits,
/// `20260308-030000-1a2b3c4d`, so ids sort by start.
pub fn new_run_id() -> String {
    let now = Timestamp::now();
    format!(
        "{}-{:08x}",
        now.strftime("%Y%m%d-%H%M%S"),
        (retry::random_unit() * f64::from(u32::MAX)) as u32
    )
}

/// The lock file a task takes: `$RUNTIME/locks/LOCK.lock`.
pub fn lock_path(paths: &Paths, task: &Task) -> PathBuf {
    paths.lock_path(&task.settings.lock)
}

/// Runs `req` to its final outcome and records it; then, with the lock
/// released, notifies (metrics, mail, hooks: `notify`), once per run.
/// Never [`Supervised::HandedBack`]: this run may wait for its lock.
pub fn supervise(req: &Request) -> Supervised {
    spawn::close_inherited_on_exec();
    match Signals::install() {
        Ok(mut signals) => supervise_with(req, &mut signals, true),
        Err(e) => Supervised::Failed(e.into()),
    }
}

/// How one of [`supervise_all`]'s runs ended.
#[derive(Debug)]
pub enum Supervised {
    /// Boxed: a report is large beside the other variants.
    Done(Box<Report>),
    /// It would have to wait for its lock, or no thread could be started
    /// for it: nothing was recorded, and it should be run by itself.
    HandedBack,
    /// Another host holds its cluster occurrence: a watcher of the holder
    /// should be started (`kron __supervise --watch`); nothing was
    /// recorded.
    Watch,
    /// Another host ran its cluster occurrence: nothing is recorded here.
    Elsewhere,
    Failed(RunnerError),
}

/// Runs `reqs` at once, a thread each, and calls `ended` as each ends
/// (from its thread). Returns when all have ended.
pub fn supervise_all(
    reqs: &[Request],
    ended: &(dyn Fn(&Request, Supervised) + Sync),
) -> Result<(), RunnerError> {
    spawn::close_inherited_on_exec();
    let hub = Hub::install()?;
    std::thread::scope(|scope| {
        for req in reqs {
            let hub = &hub;
            let thread = std::thread::Builder::new()
                .name(req.task.name.clone())
                .spawn_scoped(scope, move || {
                    let result = match hub.channel() {
                        Ok(mut signals) => supervise_with(req, &mut signals, false),
                        Err(e) => Supervised::Failed(e.into()),
                    };
                    ended(req, result);
                });
            if thread.is_err() {
                ended(req, Supervised::HandedBack);
            }
        }
    });
    Ok(())
}

/// One run with `signals`; [`Supervised::HandedBack`] when it would wait
/// for its lock and `may_wait` is false.
fn supervise_with(req: &Request, signals: &mut Signals, may_wait: bool) -> Supervised {
    match run(req, signals, may_wait) {
        Ok(Supervised::Done(mut report)) => {
            notify::after_run(req, &mut report, signals);
            Supervised::Done(report)
        }
        Ok(other) => other,
        Err(e) => Supervised::Failed(e),
    }
}

fn run(req: &Request, signals: &mut Signals, may_wait: bool) -> Result<Supervised, RunnerError> {
    let done = |report: Report| Ok(Supervised::Done(Box::new(report)));
    let lease = match claim::begin(req, signals) {
        claim::Begun::Local => None,
        claim::Begun::Mine(lease) => Some(lease),
        claim::Begun::NotClaimed(reason) => return done(not_claimed(req, reason)),
        claim::Begun::Elsewhere(_) if !req.watch => return Ok(Supervised::Watch),
        claim::Begun::Elsewhere(holder) => match claim::watch(req, holder, signals) {
            claim::Watched::Ended => return Ok(Supervised::Elsewhere),
            claim::Watched::GaveUp(why) => {
                crate::logging::warning!("{}: {why}", req.task.name);
                return Ok(Supervised::Elsewhere);
            }
            claim::Watched::Abandoned(holder) => return done(abandoned(req, &holder)),
            claim::Watched::Mine(lease) => Some(lease),
        },
    };
    // Ends a run that holds its occurrence but does not run its command.
    let close = |lease: Option<claim::Lease>, mut report: Report| {
        if let Some(w) = lease.and_then(|l| l.finish(&report.record)) {
            report.warnings.push(w);
        }
        done(report)
    };
    let settings = &req.task.settings;
    if let Some(held) = &lease
        && settings.overlap != Overlap::Allow
        && !held.locked
    {
        let waits = matches!(settings.overlap, Overlap::Queue | Overlap::Replace);
        let replace = settings.overlap == Overlap::Replace;
        match held.lock(&settings.lock, replace, waits && may_wait, signals) {
            Ok(claim::LockOutcome::Held) => {}
            Ok(claim::LockOutcome::Busy(_)) if waits => return Ok(Supervised::HandedBack),
            Ok(claim::LockOutcome::Busy(reason)) => {
                return close(lease, skipped(req, reason));
            }
            Ok(claim::LockOutcome::Interrupted) => {
                let report = interrupted(req, Signal::SIGTERM, "the cluster lock");
                return close(lease, report);
            }
            Err(e) => {
                let report = not_claimed(req, format!("not run: taking its cluster lock: {e}"));
                return close(lease, report);
            }
        }
    }
    let (held, waited) = match take_lock(req, signals, may_wait)? {
        Locked::WouldWait => return Ok(Supervised::HandedBack),
        Locked::Held(held) => (held, false),
        Locked::Waited(held) => (Some(held), true),
        Locked::Skipped(reason) => return close(lease, skipped(req, reason)),
        Locked::Interrupted(signal) => return close(lease, interrupted(req, signal, "the lock")),
    };
    // A run that waited for its lock past its `max_lateness` is let go,
    // as the daemon lets go one that waited for a `max_parallel` slot.
    let lock = waited.then_some(settings.lock.as_str());
    if let Some(reason) = missed::too_late(req.task, req.run.scheduled, Timestamp::now(), lock) {
        drop(held);
        running::unregister(&req.paths.running_dir(), req.run_id());
        return close(
            lease,
            recorded(req, missed::record(req, reason), 1, Vec::new()),
        );
    }
    let report = run_attempts(req, signals, held.as_ref(), lease.as_ref());
    drop(held);
    close(lease, report)
}

/// Appends `record` of a run that ran no command to the history, and
/// reports it with `exit_code`.
fn recorded(req: &Request, record: Record, exit_code: u8, mut warnings: Vec<String>) -> Report {
    warn(
        &mut warnings,
        history::record(req.paths, &record, Some(&req.task.settings.history)),
    );
    Report {
        record,
        exit_code,
        warnings,
    }
}

fn interrupted(req: &Request, signal: Signal, what: &str) -> Report {
    let reason = format!("interrupted while waiting for {what}");
    let record = record(
        req,
        Timestamp::now(),
        0,
        None,
        Outcome::Interrupted,
        Some(reason),
    );
    recorded(req, record, 128 + signal as u8, Vec::new())
}

/// A cluster run that claimed nothing (the backend unreachable, the
/// clocks too far apart): recorded missed, with the reason.
fn not_claimed(req: &Request, reason: String) -> Report {
    recorded(req, missed::record(req, reason), 1, Vec::new())
}

/// An occurrence whose holder, another host, died: recorded here, with a
/// section in the run log that the hook and the mail read.
fn abandoned(req: &Request, holder: &crate::cluster::Holder) -> Report {
    let mut warnings = Vec::new();
    let reason = claim::abandoned_reason(holder);
    let now = Timestamp::now();
    let record = record(req, now, 0, None, Outcome::Abandoned, Some(reason.clone()));
    match RunLog::open(
        &req.paths.logs_dir(),
        &req.task.name,
        &req.task.settings.log,
    ) {
        Ok(mut log) => {
            let lines = [
                format!(
                    "{HEADER}{} attempt 0/0 trigger {} scheduled {} started {now}",
                    req.run_id(),
                    req.run.trigger.as_str(),
                    req.run.scheduled.map_or("-".into(), |t| t.to_string()),
                ),
                format!("kron: abandoned: {reason}"),
                format!("{FOOTER}{} attempt 0/0 abandoned", req.run_id()),
            ];
            for line in lines {
                warn(&mut warnings, log.write_line(&line));
            }
        }
        Err(e) => warnings.push(e.to_string()),
    }
    recorded(req, record, 1, warnings)
}

/// The run's registry entry as it starts (`locked`: it holds its lock).
fn registry_entry(req: &Request, locked: bool) -> RunningRun {
    RunningRun {
        run_id: req.run_id().to_string(),
        task: req.task.name.clone(),
        lock: locked.then(|| req.task.settings.lock.clone()),
        trigger: req.run.trigger,
        scheduled: req.run.scheduled,
        supervisor_pid: std::process::id() as i32,
        pgid: None,
        started: Timestamp::now(),
        attempt: 1,
        waiting: false,
        foreground: req.foreground,
        kill_grace_ms: req.task.settings.kill_grace.as_millis() as u64,
    }
}

fn record(
    req: &Request,
    started: Timestamp,
    attempts: u32,
    status: Option<ExitStatus>,
    outcome: Outcome,
    reason: Option<String>,
) -> Record {
    let finished = Timestamp::now();
    Record {
        run_id: req.run_id().to_string(),
        task: req.task.name.clone(),
        trigger: req.run.trigger,
        scheduled: req.run.scheduled,
        started,
        finished,
        attempts,
        exit_code: status.and_then(|s| s.code()),
        signal: status
            .and_then(|s| s.signal())
            .map(|s| signal_name(s).to_string()),
        outcome,
        duration_ms: finished.duration_since(started).as_millis().max(0) as u64,
        reason,
        leftovers: Vec::new(),
        leftovers_stopped: Vec::new(),
        missed: None,
    }
}

fn skipped(req: &Request, reason: String) -> Report {
    let record = record(
        req,
        Timestamp::now(),
        0,
        None,
        Outcome::Skipped,
        Some(reason),
    );
    recorded(req, record, 1, Vec::new())
}

/// Records `run` of `task` as a failure that never started: its task could
/// not be read, or no supervisor could be started for it. Such a run runs
/// no hook (there may be no task to read one from), but it leaves a trace
/// with `reason`.
pub fn record_unstarted(paths: &Paths, run: &Run, reason: String) -> Result<(), HistoryError> {
    let now = Timestamp::now();
    let record = Record {
        run_id: run.run_id.clone().unwrap_or_else(new_run_id),
        task: run.task.clone(),
        trigger: run.trigger,
        scheduled: run.scheduled,
        started: now,
        finished: now,
        attempts: 0,
        exit_code: None,
        signal: None,
        outcome: Outcome::Failure,
        duration_ms: 0,
        reason: Some(reason),
        leftovers: Vec::new(),
        leftovers_stopped: Vec::new(),
        missed: None,
    };
    history::record(paths, &record, None)
}

/// `SIGTERM` for 15; the number for a signal nix does not know.
pub fn signal_name(number: i32) -> String {
    Signal::try_from(number).map_or_else(|_| format!("signal {number}"), |s| s.as_str().into())
}

fn warn<E: std::fmt::Display>(warnings: &mut Vec<String>, result: Result<(), E>) {
    if let Err(e) = result {
        warnings.push(e.to_string());
    }
}

/// The run log and, in the foreground, the terminal.
struct Output {
    log: Option<RunLog>,
    tee: Tee<std::io::Stdout>,
    warnings: Vec<String>,
}

impl Output {
    fn line(&mut self, text: &str) {
        if let Some(log) = &mut self.log
            && let Err(e) = log.write_line(text)
        {
            self.warnings.push(e.to_string());
            self.log = None;
        }
    }
}

impl Sink for Output {
    fn output(&mut self, bytes: &[u8]) {
        self.tee.write(bytes);
        if let Some(log) = &mut self.log
            && let Err(e) = log.write(bytes)
        {
            self.warnings.push(e.to_string());
            self.log = None;
        }
    }
}

/// The attempts of a run holding `lock` (none with `overlap = "allow"`),
/// which each attempt's command inherits.
fn run_attempts(
    req: &Request,
    signals: &mut Signals,
    lock: Option<&Held>,
    lease: Option<&claim::Lease>,
) -> Report {
    let cluster = lease.map(claim::Lease::info);
    let task = req.task;
    let settings = &task.settings;
    let registry = req.paths.running_dir();
    signals.watch_requests(running::request_path(&registry, req.run_id()));
    let mut entry = registry_entry(req, lock.is_some());
    let started = entry.started;
    let mut out = Output {
        log: None,
        tee: Tee {
            writer: req.foreground.then(std::io::stdout),
        },
        warnings: Vec::new(),
    };
    match RunLog::open(&req.paths.logs_dir(), &task.name, &settings.log) {
        Ok(log) => out.log = Some(log),
        Err(e) => out.warnings.push(e.to_string()),
    }
    let total = settings.retry.attempts.saturating_add(1);
    let limits = Limits {
        timeout: settings.timeout,
        kill_grace: settings.kill_grace,
        leftovers: settings.leftovers,
    };
    // What the attempts' commands left in their groups, for the record.
    let (mut left, mut stopped) = (Vec::new(), Vec::new());
    let mut attempt = 1;
    let end = loop {
        // Registered once the command runs (below), with its group.
        entry.attempt = attempt;
        entry.pgid = None;
        out.line(&format!(
            "{HEADER}{} attempt {attempt}/{total} trigger {} scheduled {} started {}",
            req.run_id(),
            req.run.trigger.as_str(),
            req.run.scheduled.map_or("-".into(), |t| t.to_string()),
            Timestamp::now()
        ));
        let end = match signals.drain() {
            // `replace` (or `kron kill`) came first: start nothing.
            Some(Stop::Terminate(signal)) => AttemptEnd::Stopped(signal),
            _ => one_attempt(
                req,
                (attempt, cluster.as_ref()),
                lock,
                signals,
                &limits,
                &mut out,
                &mut entry,
            ),
        };
        if let AttemptEnd::Ended(e) = &end {
            left.extend(&e.left);
            stopped.extend(&e.stopped);
        }
        let stop = signals.drain();
        let last = attempt >= total || end.succeeded() || stop.is_some();
        let mut footer = format!(
            "{FOOTER}{} attempt {attempt}/{total} {}",
            req.run_id(),
            end.describe()
        );
        if last {
            if let Some(by) = signals.stopped_by().filter(|_| !end.succeeded()) {
                footer.push_str(&format!("; interrupted by {by}"));
            }
            out.line(&footer);
            break end;
        }
        let wait = retry::delay(&settings.retry, attempt, retry::random_unit());
        footer.push_str(&format!("; retrying in {}", format_duration(wait)));
        out.line(&footer);
        if req.foreground {
            eprintln!(
                "kron: {} attempt {attempt}/{total}: {}; retrying in {}",
                task.name,
                end.describe(),
                format_duration(wait)
            );
        }
        entry.pgid = None;
        warn(&mut out.warnings, running::register(&registry, &entry));
        if backoff(signals, wait).is_some() {
            // Close the run in the log: its last line said it would retry.
            let by = signals
                .stopped_by()
                .map_or("a stop request".into(), |by| by.to_string());
            out.line(&format!(
                "{FOOTER}{} attempt {}/{total} not started: interrupted by {by} while waiting to retry",
                req.run_id(),
                attempt + 1
            ));
            break end;
        }
        attempt += 1;
    };
    let Verdict {
        outcome,
        status,
        exit_code,
        reason,
    } = outcome::classify(&end, signals.stop());
    let made = match end {
        AttemptEnd::Stopped(_) => attempt - 1,
        _ => attempt,
    };
    // A run stopped for its lease says so, rather than who sent SIGTERM.
    let reason = lease.and_then(claim::Lease::lost).or(reason);
    let mut record = record(req, started, made, status, outcome, reason);
    record.leftovers = left;
    record.leftovers_stopped = stopped;
    warn(
        &mut out.warnings,
        history::record(req.paths, &record, Some(&req.task.settings.history)),
    );
    running::unregister(&registry, req.run_id());
    let _ = std::io::stdout().flush();
    Report {
        record,
        exit_code,
        warnings: out.warnings,
    }
}

fn one_attempt(
    req: &Request,
    (attempt, cluster): (u32, Option<&spawn::ClusterInfo>),
    lock: Option<&Held>,
    signals: &mut Signals,
    limits: &Limits,
    out: &mut Output,
    entry: &mut RunningRun,
) -> AttemptEnd {
    let plan = spawn::plan(
        req.task,
        &spawn::AttemptInfo {
            run_id: req.run_id(),
            attempt,
            scheduled: req.run.scheduled,
            cluster,
        },
    );
    let started = Instant::now();
    let (reader, writer) = match std::io::pipe() {
        Ok(pipe) => pipe,
        Err(source) => {
            return AttemptEnd::NotStarted(spawn::SpawnError::Io {
                action: "creating a pipe for",
                path: plan.workdir,
                source,
            });
        }
    };
    let lock = lock.map(Held::fd);
    let child = match spawn::spawn(&plan, writer, lock, &req.paths.runtime_dir) {
        Ok(child) => child,
        Err(e) => return AttemptEnd::NotStarted(e),
    };
    entry.pgid = Some(child.id() as i32);
    let registry = req.paths.running_dir();
    warn(&mut out.warnings, running::register(&registry, entry));
    AttemptEnd::Ended(attempt::watch(child, reader, signals, limits, out, started))
}

/// Waits `wait` before a retry; returns the stop request that cut it short.
fn backoff(signals: &mut Signals, wait: Duration) -> Option<Stop> {
    let until = Instant::now() + wait;
    loop {
        if let Some(stop) = signals.drain() {
            return Some(stop);
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let ms = (left.as_millis() + 1).min(60_000) as u64;
        let mut fds = [PollFd::new(signals.fd(), PollFlags::POLLIN)];
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
        );
    }
}
