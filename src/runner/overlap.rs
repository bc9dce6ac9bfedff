//! The overlap policy: what a run does when another run holds its task's
//! lock (`$RUNTIME/locks/LOCK.lock`, [`crate::lock`]), decided once, before
//! the first attempt. The lock is then held through retries and backoff
//! waits, to the record.
//!
//! - `allow`: no lock; runs go side by side.
//! - `skip`: the lock or nothing; a held lock records the run `skipped`.
//! - `queue`: wait for the lock, holding `LOCK.queue` meanwhile, so that
//!   at most one run waits across processes (another is skipped). The
//!   waiting run is registered (`"waiting": true`) so that `kron status`
//!   shows it and `kron kill` can cancel it. A thread of a supervisor of
//!   several runs never waits: it hands the run back ([`Locked::WouldWait`]).
//! - `replace`: send a stop request to each registered run holding the lock
//!   (their supervisors stop their groups and record `interrupted`), stop
//!   the groups of processes that hold it for no live run (a killed
//!   supervisor's command, a run's leftovers: SIGTERM, SIGKILL after
//!   `kill_grace`), and take the lock once it is free.
//!
//! A skipped run's reason says who holds the lock (`holder`): a run, or a
//! process with its pid and run id.
//!
//! A stop or a signal request while waiting (`queue`, `replace`) ends the
//! run as `interrupted` ([`Locked::Interrupted`]). These are real flock(2)
//! locks and real requests to other supervisors, tested across processes
//! in `tests/overlap_locks.rs`.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use super::attempt::signal_group;
use super::signals::{self, Signals, Stop};
use super::{Request, backoff, holder, lock_path, registry_entry, running};
use crate::lock::{self, Held, LockError};
use crate::taskfile::Overlap;

/// What taking the lock came to.
pub(super) enum Locked {
    /// Go on and run (`None`: `allow` takes no lock).
    Held(Option<Held>),
    /// Go on and run: the lock was taken after waiting for it (`queue`), so
    /// the run may have become later than its `max_lateness`.
    Waited(Held),
    /// Record the run `skipped`, for this reason.
    Skipped(String),
    /// Stopped while waiting, by this signal (SIGUSR1 for a signal request).
    Interrupted(Signal),
    /// `queue` would wait, and the caller may not.
    WouldWait,
}

/// Takes the task's lock as its `overlap` says.
pub(super) fn take_lock(
    req: &Request,
    signals: &mut Signals,
    may_wait: bool,
) -> Result<Locked, LockError> {
    let settings = &req.task.settings;
    let path = lock_path(req.paths, req.task);
    if settings.overlap == Overlap::Allow {
        return Ok(Locked::Held(None));
    }
    if let Some(held) = lock::try_acquire(&path)? {
        return Ok(Locked::Held(Some(held)));
    }
    let busy = || holder::describe(req.paths, &settings.lock, &path, req.run_id());
    // Queue: hold `LOCK.queue` while waiting, so that one run at most waits.
    let _waiting = match settings.overlap {
        Overlap::Skip | Overlap::Allow => return Ok(Locked::Skipped(busy())),
        Overlap::Queue => {
            let queue = req
                .paths
                .locks_dir()
                .join(format!("{}.queue", settings.lock));
            match lock::try_acquire(&queue)? {
                Some(q) => Some(q),
                None => {
                    return Ok(Locked::Skipped(format!(
                        "{} and a run already waits for it",
                        busy()
                    )));
                }
            }
        }
        Overlap::Replace => return replace(req, &path, signals),
    };
    if !may_wait {
        return Ok(Locked::WouldWait);
    }
    // Registered while it waits, so that `kron status` shows it and `kron
    // kill` can cancel it.
    let registry = req.paths.running_dir();
    signals.watch_requests(running::request_path(&registry, req.run_id()));
    let mut waiting = registry_entry(req, false);
    waiting.waiting = true;
    let _ = running::register(&registry, &waiting);
    let result = lock::acquire(&path, || signals.drain().is_some());
    if result.is_err() {
        running::unregister(&registry, req.run_id());
    }
    match result {
        Ok(held) => Ok(Locked::Waited(held)),
        Err(LockError::Interrupted { .. }) => {
            let signal = match signals.stop() {
                Some(Stop::Terminate(s)) => s,
                _ => Signal::SIGUSR1,
            };
            Ok(Locked::Interrupted(signal))
        }
        Err(e) => Err(e),
    }
}

/// Stops the runs holding the lock (through their supervisors, which stop
/// their groups and record `interrupted`) and the processes holding it for
/// no live run (their groups: SIGTERM, SIGKILL `kill_grace` later), then
/// takes it. A holder may have taken the lock but not registered yet, so
/// the registry is read again until the lock is free; the wait is short,
/// as the holder is stopping.
fn replace(req: &Request, path: &Path, signals: &mut Signals) -> Result<Locked, LockError> {
    let lock = &req.task.settings.lock;
    let registry = req.paths.running_dir();
    let mut stopped = std::collections::HashSet::new();
    let mut orphans_termed: Option<Instant> = None;
    let mut orphans_killed = false;
    loop {
        for run in running(req.paths) {
            if run.lock.as_deref() == Some(lock)
                && run.run_id != req.run_id()
                && !stopped.contains(&run.run_id)
            {
                let _ = running::request(&registry, &run, signals::Request::Replace);
                stopped.insert(run.run_id);
            }
        }
        if let Some(held) = lock::try_acquire(path)? {
            return Ok(Locked::Held(Some(held)));
        }
        let orphans = holder::orphan_groups(path);
        let signal = match orphans_termed {
            _ if orphans.is_empty() => None,
            None => Some(Signal::SIGTERM),
            Some(at) if !orphans_killed && at.elapsed() >= req.task.settings.kill_grace => {
                Some(Signal::SIGKILL)
            }
            Some(_) => None,
        };
        if let Some(signal) = signal {
            for group in orphans {
                signal_group(Pid::from_raw(group), signal);
            }
            orphans_termed.get_or_insert_with(Instant::now);
            orphans_killed = signal == Signal::SIGKILL;
        }
        if let Some(stop) = backoff(signals, Duration::from_millis(50)) {
            return Ok(Locked::Interrupted(match stop {
                Stop::Terminate(s) => s,
                Stop::NoRetry => Signal::SIGUSR1,
            }));
        }
    }
}
