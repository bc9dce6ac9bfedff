//! The registry of runs in progress: `$RUNTIME/running/RUN_ID.json`, written
//! by each supervisor (atomically, updated at each attempt) and removed when
//! the run ends. A file whose supervisor is gone (it was killed with
//! SIGKILL) is an orphaned run's: [`running`] leaves it out, and
//! `runner::recover` stops what is left of the run and records it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::dirs::Paths;
use crate::history::Trigger;
use crate::runner::signals::{Request, send_request};

/// One run in progress.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunningRun {
    pub run_id: String,
    pub task: String,
    /// The lock it holds, or `None` with overlap `allow`.
    pub lock: Option<String>,
    pub trigger: Trigger,
    pub scheduled: Option<Timestamp>,
    /// The supervisor process (`kron __supervise`, or `kron run`).
    pub supervisor_pid: i32,
    /// The command's process group (its leader's pid), or `None` between
    /// attempts.
    pub pgid: Option<i32>,
    pub started: Timestamp,
    pub attempt: u32,
    /// Waiting for its lock (`overlap = "queue"`), since `started`.
    #[serde(default)]
    pub waiting: bool,
    /// Run by `kron run` in a terminal, not by a daemon's supervisor.
    #[serde(default)]
    pub foreground: bool,
    /// The task's `kill_grace`, for whoever must stop the run if its
    /// supervisor dies.
    #[serde(default = "default_kill_grace_ms")]
    pub kill_grace_ms: u64,
}

fn default_kill_grace_ms() -> u64 {
    crate::taskfile::DEFAULT_KILL_GRACE.as_millis() as u64
}

impl RunningRun {
    pub fn kill_grace(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.kill_grace_ms)
    }
}

/// The live runs, oldest first. Stale and unreadable files are skipped.
pub fn running(paths: &Paths) -> Vec<RunningRun> {
    let mut runs: Vec<RunningRun> = read_all(&paths.running_dir(), "json")
        .into_iter()
        .filter(|r| crate::procfs::alive(r.supervisor_pid))
        .collect();
    runs.sort_by(|a, b| (a.started, &a.run_id).cmp(&(b.started, &b.run_id)));
    runs
}

/// The registry's files ending in `.EXTENSION`, read.
pub(super) fn read_all(dir: &Path, extension: &str) -> Vec<RunningRun> {
    let suffix = format!(".{extension}");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(&suffix))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}

/// Writes (or rewrites) `run`'s file: a temporary file, then a rename.
pub fn register(dir: &Path, run: &RunningRun) -> std::io::Result<()> {
    crate::dirs::create_private_dir(dir)?;
    let tmp = dir.join(format!(".{}.tmp", run.run_id));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(&serde_json::to_vec(run).expect("runs serialize"))?;
    std::fs::rename(&tmp, dir.join(format!("{}.json", run.run_id)))
}

pub fn unregister(dir: &Path, run_id: &str) {
    let _ = std::fs::remove_file(dir.join(format!("{run_id}.json")));
    let _ = std::fs::remove_file(request_path(dir, run_id));
}

/// `RUN_ID.request`: what `kron kill` or a replacing run asks of the run
/// (see `signals`).
pub fn request_path(dir: &Path, run_id: &str) -> std::path::PathBuf {
    dir.join(format!("{run_id}.request"))
}

/// Asks the supervisor of `run` to stop it, or to send its command's
/// group a signal; either way it retries no more.
pub fn request(dir: &Path, run: &RunningRun, request: Request) -> std::io::Result<()> {
    send_request(&request_path(dir, &run.run_id), run.supervisor_pid, request)
}
