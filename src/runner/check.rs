//! The daemon's look at the cluster backend when it loads a `[cluster]`
//! table (at start, and when the table changes): it starts `kron
//! __cluster-check` ([`start`]), a short-lived process in a session of its
//! own with the daemon's standard error, which connects, reads the
//! backend's health and logs what can lose an acknowledged claim (an
//! `appendfsync` other than `always`, a standby, replicas). The daemon
//! itself never connects to a backend: its idle memory and wake-ups stay
//! what they are without a cluster.
//!
//! ```text
//! kron --file TASKFILE __cluster-check
//! ```

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// The hidden verb that checks the backend.
pub const SUBCOMMAND: &str = "__cluster-check";

/// Starts `kron __cluster-check` for `task_file` and returns at once: the
/// caller reaps it (the daemon reaps every child). A failure is returned
/// as text, for the daemon's log.
pub fn start(task_file: &Path) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("finding kron's own program: {e}"))?;
    let mut command = Command::new(exe);
    command
        .arg("--file")
        .arg(task_file)
        .arg(SUBCOMMAND)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: `detach` is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(super::spawn::detach);
    }
    command
        .spawn()
        .map(drop)
        .map_err(|e| format!("starting kron {SUBCOMMAND} to check the cluster backend: {e}"))
}
