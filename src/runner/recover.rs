//! Runs whose supervisor died (SIGKILL, a crash, the OOM killer): no
//! command runs unsupervised, and every attempt is recorded.
//!
//! A supervisor owns its run's output pipe, timeout and retries; once it
//! is gone none of them can be carried on faithfully (the command's next
//! write gets SIGPIPE, its timeout is no one's). So such a run is never
//! adopted: its command's process group, if any of it lives, is stopped as
//! a timed-out command is (SIGTERM, SIGKILL after `kill_grace`), and the
//! run is recorded `interrupted` with the reason and the attempts it made,
//! including one that failed before the supervisor died in the retry wait.
//! A run that died waiting for its lock made no attempt and is recorded
//! so.
//!
//! Whoever notices first does it: the daemon, when a supervisor it watches
//! ends without reporting all its runs and when it starts (for runs of an
//! earlier daemon, of `kron run --detach` and of `kron run`), and any CLI
//! verb that reads the registry (`kron status`, `kron kill`, `kron run`).
//! They start `kron __recover` in a session of its own rather than wait
//! out a grace period themselves. Claiming a registry file is renaming it
//! (`RUN_ID.json` to `RUN_ID.recovering`), so only one process records a
//! run, however many noticed. Until its record is written, `kron status`
//! lists such a run as `orphaned`.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::running::{self, RunningRun};
use crate::dirs::Paths;
use crate::history::{self, Outcome, Record};

/// The runs whose supervisor is gone, as the registry has them, those
/// being recovered included.
pub fn orphans(paths: &Paths) -> Vec<RunningRun> {
    let dir = paths.running_dir();
    let mut runs: Vec<RunningRun> = running::read_all(&dir, "json")
        .into_iter()
        .filter(|r| !crate::procfs::alive(r.supervisor_pid))
        .chain(running::read_all(&dir, "recovering"))
        .collect();
    runs.sort_by(|a, b| (a.started, &a.run_id).cmp(&(b.started, &b.run_id)));
    runs
}

/// Whether some run's supervisor is gone and no one has claimed it yet.
fn unclaimed(paths: &Paths) -> bool {
    running::read_all(&paths.running_dir(), "json")
        .iter()
        .any(|r| !crate::procfs::alive(r.supervisor_pid))
}

/// Starts `kron __recover` in a session of its own when some run's
/// supervisor is gone; returns at once, leaving the child to the caller's
/// reaping (a CLI exits soon; the daemon reaps every child). Its log lines
/// go to the daemon's log file.
pub fn start(paths: &Paths) {
    if !unclaimed(paths) {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let log = crate::logging::open_log(paths).map_or_else(|_| Stdio::null(), Stdio::from);
    let mut command = Command::new(exe);
    command
        .arg("--file")
        .arg(&paths.task_file)
        .arg("__recover")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: `detach` is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(super::spawn::detach);
    }
    if let Err(e) = command.spawn() {
        crate::logging::error!("starting kron __recover: {e}");
    }
}

/// What became of one orphaned run.
#[derive(Debug)]
pub struct Recovered {
    pub record: Record,
    /// Some of its processes were still running, and were stopped.
    pub stopped: bool,
}

/// Stops and records every run whose supervisor is gone. Blocks for up to
/// each run's `kill_grace` while its processes stop.
pub fn recover_all(paths: &Paths) -> Vec<Result<Recovered, String>> {
    running::read_all(&paths.running_dir(), "json")
        .iter()
        .filter(|r| !crate::procfs::alive(r.supervisor_pid))
        .filter_map(|run| recover(paths, run).transpose())
        .collect()
}

/// Stops and records `run`; `None` when another process claimed it first.
pub fn recover(paths: &Paths, run: &RunningRun) -> Result<Option<Recovered>, String> {
    let dir = paths.running_dir();
    let file = dir.join(format!("{}.json", run.run_id));
    let claimed = dir.join(format!("{}.recovering", run.run_id));
    match std::fs::rename(&file, &claimed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("claiming {}: {e}", file.display())),
    }
    let stopped_pids = run
        .pgid
        .map_or_else(Vec::new, |pgid| stop_group(pgid, run.kill_grace()));
    let stopped = !stopped_pids.is_empty();
    let pid = run.supervisor_pid;
    let reason = if run.waiting {
        format!("its supervisor (pid {pid}) died while the run waited for its lock")
    } else if run.pgid.is_none() {
        format!(
            "its supervisor (pid {pid}) died after attempt {} (waiting to retry)",
            run.attempt
        )
    } else if stopped {
        format!(
            "its supervisor (pid {pid}) died during attempt {}; its command was stopped",
            run.attempt
        )
    } else {
        format!(
            "its supervisor (pid {pid}) died during attempt {}; its command had ended",
            run.attempt
        )
    };
    let finished = Timestamp::now();
    let record = Record {
        run_id: run.run_id.clone(),
        task: run.task.clone(),
        trigger: run.trigger,
        scheduled: run.scheduled,
        started: run.started,
        finished,
        attempts: if run.waiting { 0 } else { run.attempt },
        exit_code: None,
        signal: None,
        outcome: Outcome::Interrupted,
        duration_ms: finished.duration_since(run.started).as_millis().max(0) as u64,
        reason: Some(reason),
        leftovers: Vec::new(),
        leftovers_stopped: stopped_pids,
        missed: None,
    };
    let written = history::record(paths, &record, None);
    let _ = std::fs::remove_file(&claimed);
    let _ = std::fs::remove_file(running::request_path(&dir, &run.run_id));
    written.map_err(|e| e.to_string())?;
    Ok(Some(Recovered { record, stopped }))
}

/// Stops what lives of process group `pgid`: SIGTERM, then SIGKILL after
/// `grace`. Returns the pids that were alive.
fn stop_group(pgid: i32, grace: Duration) -> Vec<i32> {
    let members = crate::procfs::group_members(pgid);
    if members.is_empty() {
        return members;
    }
    let group = Pid::from_raw(-pgid);
    let _ = kill(group, Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !crate::procfs::group_alive(pgid) {
            return members;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = kill(group, Signal::SIGKILL);
    members
}
