//! Who holds a task's lock: for the reason of a run skipped because of it,
//! and for `overlap = "replace"`, which must stop whatever keeps the lock.
//!
//! A run in progress is in the registry ([`super::running`]). Otherwise the
//! lock's holders are found in `/proc` ([`crate::lock::holders`]): the
//! command inherits the lock ([`super::spawn::LOCK_FD`]), so it may be held
//! by processes of a run whose supervisor is gone (killed), or that a run
//! left running when it ended (`leftovers = "keep"`), both known by their
//! `KRON_RUN_ID`; by a kron supervisor that took it a moment ago and has
//! not registered yet; or by something else, such as `flock(1)` in a
//! script.

use std::path::Path;

use super::running;
use crate::dirs::Paths;
use crate::procfs;

/// A process holding the lock.
struct Holder {
    pid: i32,
    /// Its `KRON_RUN_ID` and `KRON_TASK`: a process of that run's command.
    run: Option<(String, String)>,
    /// It runs kron's own program (a supervisor).
    kron: bool,
}

fn holders(path: &Path) -> Vec<Holder> {
    crate::lock::holders(path)
        .into_iter()
        .map(|pid| {
            let kron = procfs::same_program(pid);
            let var = |name| procfs::environ_var(pid, name);
            Holder {
                pid,
                run: var("KRON_RUN_ID")
                    .filter(|_| !kron)
                    .map(|id| (id, var("KRON_TASK").unwrap_or_default())),
                kron,
            }
        })
        .collect()
}

/// Why a run cannot take `lock` (at `path`) now: `lock `db` is held by
/// ...`. `me` is the run asking.
pub(super) fn describe(paths: &Paths, lock: &str, path: &Path, me: &str) -> String {
    let of = |task: &str| {
        if task.is_empty() || task == lock {
            String::new()
        } else {
            format!(" of task {task}")
        }
    };
    if let Some(run) = running(paths)
        .into_iter()
        .find(|r| r.lock.as_deref() == Some(lock) && r.run_id != me)
    {
        return format!(
            "lock `{lock}` is held by run {}{}",
            run.run_id,
            of(&run.task)
        );
    }
    let holders = holders(path);
    let Some(first) = holders.first() else {
        return format!("lock `{lock}` is held");
    };
    let pids: Vec<String> = holders.iter().map(|h| h.pid.to_string()).collect();
    let who = match pids.as_slice() {
        [pid] => format!("pid {pid}"),
        _ => format!("pids {}", pids.join(", ")),
    };
    let what = match holders.iter().find_map(|h| h.run.as_ref()) {
        Some((id, task)) if recorded(paths, task, id) => {
            format!("left running by run {id}{}, which ended", of(task))
        }
        Some((id, task)) => format!("run {id}{}, its supervisor is gone", of(task)),
        None if first.kron => "a kron supervisor starting a run".into(),
        None => format!(
            "{}, not started by kron; the lock is {}",
            procfs::comm(first.pid).unwrap_or_else(|| "?".into()),
            path.display()
        ),
    };
    format!("lock `{lock}` is held by {who} ({what})")
}

/// Whether run `id` of `task` has its record: it ended.
fn recorded(paths: &Paths, task: &str, id: &str) -> bool {
    crate::history::read(&paths.history_dir(), task)
        .is_ok_and(|(records, _)| records.iter().any(|r| r.run_id == id))
}

/// The process groups of the processes holding the lock at `path` for
/// runs that no live supervisor owns: a supervisor killed, or a run that
/// ended and left them running. A live run's supervisor stops its own
/// group.
///
/// Ownership is read from the process tree, not the registry (a run
/// registers a moment after its command starts): a command is the leader
/// of its own session, and while its supervisor lives, the leader is the
/// supervisor's child. A leader that exited (leftovers) or whose parent is
/// no kron process (a killed supervisor's child goes to init) owns
/// nothing.
pub(super) fn orphan_groups(path: &Path) -> Vec<i32> {
    let supervised = |pid: i32| {
        procfs::stat(pid)
            .and_then(|s| procfs::stat(s.session).filter(|_| s.session > 1))
            .filter(|leader| !matches!(leader.state, 'Z' | 'X'))
            .is_some_and(|leader| procfs::live(leader.ppid) && procfs::same_program(leader.ppid))
    };
    let mut groups: Vec<i32> = holders(path)
        .into_iter()
        .filter(|h| h.run.is_some() && !supervised(h.pid))
        .filter_map(|h| procfs::stat(h.pid).map(|s| s.pgrp))
        .filter(|&g| g > 1)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}
