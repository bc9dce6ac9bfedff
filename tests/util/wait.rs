//! Waiting with deadlines: tests poll for what they expect and fail after
//! a generous [`DEADLINE`] instead of sleeping for a fixed time. Also the
//! processes tests wait for: signalled, gone.

use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::Outcome;

/// How long a test waits for something that should take seconds:
/// generous, as a loaded 2-core machine must not fail a correct run.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Polls `condition` every 20 ms until it holds; fails the test after
/// [`DEADLINE`], naming `what`.
#[track_caller]
pub fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    wait_until_else(what, condition, String::new);
}

/// [`wait_until`], and on failure what `explain` says of the state (the
/// records and logs that tell why it never held).
#[track_caller]
pub fn wait_until_else(
    what: &str,
    mut condition: impl FnMut() -> bool,
    explain: impl FnOnce() -> String,
) {
    let started = Instant::now();
    while !condition() {
        if started.elapsed() >= DEADLINE {
            panic!(
                "timed out waiting: {what} (after {DEADLINE:?})\n{}",
                explain()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child`, killing it and failing the test after `deadline`.
#[track_caller]
pub fn wait_with_deadline(mut child: Child, deadline: Duration) -> Outcome {
    let start = Instant::now();
    while child.try_wait().expect("waiting for kron").is_none() {
        if start.elapsed() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "still running after {deadline:?}; stdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Outcome {
        output: child.wait_with_output().expect("kron's output"),
    }
}

/// Whether process `pid` is gone (a zombie nobody reaped counts as gone).
pub fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// Sends `signal` to process `pid` (one the test started).
#[track_caller]
pub fn signal(pid: u32, signal: Signal) {
    kill(Pid::from_raw(pid as i32), signal).unwrap();
}
