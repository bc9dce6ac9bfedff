//! The harness: each test gets its own temporary XDG directories and runs
//! the real `kron` binary in them.
//!
//! - this file: [`Env`] (the directories, the task file, a workdir) and
//!   [`Run`]/[`Outcome`] (one `kron` invocation and what it did);
//! - [`wait`]: polling with deadlines, never a fixed sleep, and signals;
//! - [`records`]: what runs leave on disk (history, run logs, output files);
//! - [`tasks`]: task-file text and shell commands for it;
//! - [`daemon`]: the daemon in a test, and what `kron status --json` says;
//! - [`cluster`] and [`redis`]: backend servers (PostgreSQL, Redis) and
//!   hosts, for the cluster tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A real PostgreSQL and hosts in PID namespaces, for the cluster tests.
pub mod cluster;
/// The daemon in tests: [`daemon::DaemonGuard`] and its status.
pub mod daemon;
/// Network namespaces and links that a partition cuts.
pub mod netns;
mod records;
/// A real Redis for the cluster tests: [`redis::Redis`].
pub mod redis;
mod tasks;
mod wait;

pub use records::{history, lines, log, missed_while_down, registry};
pub use tasks::{append, task, wait_for};
pub use wait::{DEADLINE, gone, signal, wait_until, wait_until_else, wait_with_deadline};

pub struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temporary directory");
        for sub in ["config", "state", "runtime", "home"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        Env { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `kron ARGS` with this environment's directories and a pinned zone.
    pub fn kron(&self, args: &[&str]) -> Run {
        let mut command = Command::new(env!("CARGO_BIN_EXE_kron"));
        command
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", self.path().join("home"))
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_STATE_HOME", self.path().join("state"))
            .env("XDG_RUNTIME_DIR", self.path().join("runtime"))
            .env("TZ", "UTC")
            // Tests that want the daemon start it themselves (util::daemon).
            .env("KRON_NO_AUTOSTART", "1")
            // `kron daemon install` and `doctor` write for systemd whatever
            // the machine runs (a container has none); tests of the other
            // cases set it themselves.
            .env("KRON_SERVICE_MANAGER", "systemd");
        Run { command }
    }

    /// `PROGRAM ARGS` with the same environment as [`Env::kron`] (for
    /// wrappers such as `script`).
    pub fn command(&self, program: &str, args: &[&str]) -> Run {
        let template = self.kron(&[]).command;
        let mut command = Command::new(program);
        command.args(args).env_clear();
        for (key, value) in template.get_envs() {
            if let Some(value) = value {
                command.env(key, value);
            }
        }
        Run { command }
    }

    /// `kron ARGS` on a pseudo-terminal (util-linux `script`), or `None`,
    /// saying the test is skipped, when `script` is not installed.
    pub fn on_a_terminal(&self, args: &str) -> Option<Run> {
        let script_exists = Command::new("script")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !script_exists {
            eprintln!("skipped: util-linux `script` is not installed");
            return None;
        }
        let kron = env!("CARGO_BIN_EXE_kron");
        Some(self.command(
            "script",
            &["-q", "-e", "-c", &format!("'{kron}' {args}"), "/dev/null"],
        ))
    }

    /// The directory the tests' tasks run in (`workdir`), created.
    pub fn work(&self) -> PathBuf {
        let dir = self.path().join("work");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Starts `kron run t`, task `t` (with `extra` lines) being a command
    /// in [`Env::work`] that touches `started` and then waits until it is
    /// stopped; returns once the command runs.
    #[track_caller]
    pub fn start_run_that_waits(&self, extra: &str) -> Child {
        let dir = self.work();
        let command = format!("touch started; {}", wait_for("never"));
        self.write_task_file(&task("t", &command, &dir, extra));
        let run = self.kron(&["run", "t"]).spawn();
        wait_until("the command started", || dir.join("started").exists());
        run
    }

    /// The task file kron uses in this environment.
    pub fn task_file(&self) -> PathBuf {
        self.path().join("config/kron/tasks.toml")
    }

    /// Writes the task file (mode 0600, creating its directory).
    pub fn write_task_file(&self, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let file = self.task_file();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// The task file's text, or `None` when it does not exist.
    pub fn read_task_file(&self) -> Option<String> {
        std::fs::read_to_string(self.task_file()).ok()
    }
}

pub struct Run {
    command: Command,
}

impl Run {
    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Run {
        self.command.env(key, value);
        self
    }

    /// Lets this invocation start the daemon on its own (the harness turns
    /// auto-start off with KRON_NO_AUTOSTART=1).
    pub fn autostart(mut self) -> Run {
        self.command.env_remove("KRON_NO_AUTOSTART");
        self
    }

    #[track_caller]
    pub fn output(mut self) -> Outcome {
        let output = self.command.output().expect("kron runs");
        Outcome { output }
    }

    /// Runs to completion with `input` on standard input.
    #[track_caller]
    pub fn output_with_stdin(mut self, input: &str) -> Outcome {
        use std::io::Write;
        let mut child = self.spawn_piped();
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_string();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let output = child.wait_with_output().expect("kron's output");
        writer.join().unwrap();
        Outcome { output }
    }

    /// Runs a [`Env::on_a_terminal`] invocation to completion (within a
    /// minute): `input` waits in the terminal until it is read, and
    /// standard input stays open until the end, so that `script` does not
    /// end the session early.
    #[track_caller]
    pub fn output_on_a_terminal(mut self, input: &str) -> Outcome {
        use std::io::Write;
        let mut child = self.spawn_piped();
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.as_bytes()).unwrap();
        let outcome = wait_with_deadline(child, Duration::from_secs(60));
        drop(stdin);
        outcome
    }

    /// Starts kron without waiting, its output captured (see [`wait_with_deadline`]).
    pub fn spawn(mut self) -> Child {
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kron starts")
    }

    /// Starts the command with all three streams on pipes.
    fn spawn_piped(&mut self) -> Child {
        self.command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the command starts")
    }

    /// The command as configured, for callers that need full control of it
    /// (a pseudo-terminal, a pipe on standard input).
    pub fn into_command(self) -> Command {
        self.command
    }
}

pub struct Outcome {
    pub output: Output,
}

impl Outcome {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts the exit status, showing both streams when it differs.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Outcome {
        assert_eq!(
            self.output.status.code(),
            Some(expected),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Outcome {
        self.code(0)
    }
}
