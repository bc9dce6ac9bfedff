//! The daemon in tests. [`DaemonGuard`] runs `kron daemon run` in a test's
//! [`Env`], waits until it answers, and stops it when dropped (SIGTERM,
//! then SIGKILL), so no test leaves a daemon behind. [`status`] and
//! [`wait_idle`] ask it what it does, rather than sleeping and looking.

use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;

use super::{DEADLINE, Env, wait_until};

pub struct DaemonGuard {
    child: Option<Child>,
    pub pid: u32,
    log: PathBuf,
}

impl DaemonGuard {
    /// Starts `kron daemon run` and waits until `kron daemon status` says
    /// it runs.
    #[track_caller]
    pub fn start(env: &Env) -> DaemonGuard {
        DaemonGuard::start_with(env, &[])
    }

    /// As [`DaemonGuard::start`], with extra environment variables.
    #[track_caller]
    pub fn start_with(env: &Env, vars: &[(&str, &str)]) -> DaemonGuard {
        let n = std::fs::read_dir(env.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let log = env.path().join(format!("daemon-{n}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let mut run = env.kron(&["daemon", "run"]);
        for (k, v) in vars {
            run = run.env(k, v);
        }
        let mut command = run.into_command();
        command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file);
        let child = command.spawn().expect("kron daemon run starts");
        let pid = child.id();
        let mut guard = DaemonGuard {
            child: Some(child),
            pid,
            log,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = guard.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("the daemon exited ({status}):\n{}", guard.log());
            }
            let out = env.kron(&["daemon", "status"]).output();
            // The lock is taken a moment before the socket answers.
            let answering = !out.stdout().contains("not answering");
            if out.output.status.code() == Some(0)
                && out.stdout().contains(&format!("pid {pid}"))
                && answering
            {
                return guard;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the daemon did not answer:\n{}",
                guard.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the daemon wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: Signal) {
        super::signal(self.pid, signal);
    }

    /// Waits for the daemon to exit and returns its status and how long
    /// that took.
    #[track_caller]
    pub fn wait_exit(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let child = self.child.as_mut().expect("the daemon was started");
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < DEADLINE, "the daemon did not exit");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for DaemonGuard {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = kill(Pid::from_raw(self.pid as i32), Signal::SIGTERM);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Stops a daemon started with `kron daemon start` (or by auto-start) when
/// dropped.
pub struct StopOnDrop<'a>(pub &'a Env);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kron(&["daemon", "stop"]).output();
    }
}

/// The daemon's part of `kron status --json` (`null` when none runs).
#[track_caller]
pub fn status(env: &Env) -> Value {
    let out = env.kron(&["status", "--json"]).output();
    out.success();
    let report: Value = serde_json::from_str(&out.stdout()).expect("kron status --json");
    report["daemon"].clone()
}

/// Waits until the daemon says it will start nothing before its next
/// planned start (`next`, if any, still ahead): no run of its own in
/// progress, none waiting for a slot. Returns that [`status`]. A run is
/// recorded before it counts as ended, so the history then shows every run
/// the daemon started; what it will start next is `next`, not a guess from
/// a sleep.
#[track_caller]
pub fn wait_idle(env: &Env) -> Value {
    let mut last = Value::Null;
    let idle = |status: &Value| {
        let ahead = match &status["next"]["at"] {
            Value::Null => true,
            at => at
                .as_str()
                .and_then(|at| at.parse::<Timestamp>().ok())
                .is_some_and(|at| at > Timestamp::now()),
        };
        status.is_object() && status["running"] == 0 && status["waiting"] == 0 && ahead
    };
    wait_until("the daemon has nothing to do before its next start", || {
        last = status(env);
        idle(&last)
    });
    last
}
