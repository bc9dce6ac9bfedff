//! The harness: each test gets its own temporary XDG directories and runs
//! the real `kron` binary in them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
            .env("KRON_NO_AUTOSTART", "1");
        Run { command }
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

    #[track_caller]
    pub fn output(mut self) -> Outcome {
        let output = self.command.output().expect("kron runs");
        Outcome { output }
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

#[allow(dead_code)]
pub fn path_of(env: &Env, relative: &str) -> PathBuf {
    env.path().join(relative)
}

impl Env {
    /// The task file kron uses in this environment.
    #[allow(dead_code)]
    pub fn task_file(&self) -> PathBuf {
        self.path().join("config/kron/tasks.toml")
    }

    /// Writes the task file (mode 0600, creating its directory).
    #[allow(dead_code)]
    pub fn write_task_file(&self, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        let file = self.task_file();
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// The task file's text, or `None` when it does not exist.
    #[allow(dead_code)]
    pub fn read_task_file(&self) -> Option<String> {
        std::fs::read_to_string(self.task_file()).ok()
    }
}

impl Run {
    /// Starts kron without waiting, its output captured (see [`wait_with_deadline`]).
    #[allow(dead_code)]
    pub fn spawn(mut self) -> std::process::Child {
        use std::process::Stdio;
        self.command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kron starts")
    }

    /// The command as configured, for callers that need full control of it
    /// (a pseudo-terminal, a pipe on standard input).
    #[allow(dead_code)]
    pub fn into_command(self) -> Command {
        self.command
    }
}

/// Waits for `child`, killing it and failing the test after `deadline`.
#[allow(dead_code)]
#[track_caller]
pub fn wait_with_deadline(
    mut child: std::process::Child,
    deadline: std::time::Duration,
) -> Outcome {
    let start = std::time::Instant::now();
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
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Outcome {
        output: child.wait_with_output().expect("kron's output"),
    }
}

impl Env {
    /// `PROGRAM ARGS` with the same environment as [`Env::kron`] (for
    /// wrappers such as `script`).
    #[allow(dead_code)]
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
}

impl Run {
    /// Runs to completion with `input` on standard input.
    #[allow(dead_code)]
    #[track_caller]
    pub fn output_with_stdin(mut self, input: &str) -> Outcome {
        use std::io::Write;
        use std::process::Stdio;
        let mut child = self
            .command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kron starts");
        let mut stdin = child.stdin.take().expect("piped stdin");
        let input = input.to_string();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let output = child.wait_with_output().expect("kron's output");
        writer.join().unwrap();
        Outcome { output }
    }
}

/// The daemon in tests: [`daemon::DaemonGuard`] and waiting helpers.
pub mod daemon;

impl Run {
    /// Lets this invocation start the daemon on its own (the harness turns
    /// auto-start off with KRON_NO_AUTOSTART=1).
    #[allow(dead_code)]
    pub fn autostart(mut self) -> Run {
        self.command.env_remove("KRON_NO_AUTOSTART");
        self
    }
}
