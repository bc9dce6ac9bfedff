//! What one attempt runs, and starting it: `shell -c COMMAND` or the argv,
//! in its own session and process group, in `workdir`, with standard input
//! from the task's `stdin` text or `/dev/null`, and an environment built
//! from nothing: a fixed base, then the task's `env` (already merged over
//! `[defaults].env`), then the `KRON_*` variables. `kron run --dry-run`
//! prints the same [`Plan`].

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{PipeWriter, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use jiff::Timestamp;

use crate::taskfile::{Task, TaskCommand};

/// The `PATH` every command starts with (a task's `env` may change it).
pub const BASE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

#[derive(Clone, Debug, serde::Serialize)]
pub struct Plan {
    pub program: String,
    pub args: Vec<String>,
    pub workdir: PathBuf,
    /// The whole environment: nothing else is inherited.
    pub env: BTreeMap<String, String>,
    pub stdin: Option<String>,
}

/// What identifies an attempt to the command.
pub struct AttemptInfo<'a> {
    pub run_id: &'a str,
    pub attempt: u32,
    pub scheduled: Option<Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("workdir {} is not a directory", path.display())]
    Workdir { path: PathBuf },
    #[error("the command is empty")]
    Empty,
    #[error("cannot start `{program}`: {source}")]
    Start {
        program: String,
        source: std::io::Error,
    },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl SpawnError {
    /// The shell's convention: 127 when the program is missing, else 126.
    pub fn exit_code(&self) -> u8 {
        match self {
            SpawnError::Start { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                127
            }
            SpawnError::Workdir { .. } | SpawnError::Empty => 127,
            _ => 126,
        }
    }
}

/// HOME, USER, LOGNAME, SHELL and PATH, as cron sets them.
pub fn base_env(shell: &str) -> BTreeMap<String, String> {
    let home = crate::dirs::home();
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    BTreeMap::from([
        ("HOME".into(), home.to_string_lossy().into_owned()),
        ("USER".into(), user.clone()),
        ("LOGNAME".into(), user),
        ("SHELL".into(), shell.into()),
        ("PATH".into(), BASE_PATH.into()),
    ])
}

/// What attempt `info` of `task` runs.
pub fn plan(task: &Task, info: &AttemptInfo) -> Plan {
    let s = &task.settings;
    let (program, args) = match &task.command {
        TaskCommand::Shell(text) => (s.shell.clone(), vec!["-c".into(), text.clone()]),
        TaskCommand::Argv(argv) => (
            argv.first().cloned().unwrap_or_default(),
            argv.iter().skip(1).cloned().collect(),
        ),
    };
    let mut env = base_env(&s.shell);
    env.extend(s.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.insert("KRON_TASK".into(), task.name.clone());
    env.insert("KRON_RUN_ID".into(), info.run_id.into());
    env.insert("KRON_ATTEMPT".into(), info.attempt.to_string());
    env.insert(
        "KRON_SCHEDULED_AT".into(),
        info.scheduled.map(|t| t.to_string()).unwrap_or_default(),
    );
    Plan {
        program,
        args,
        workdir: s.workdir.clone().unwrap_or_else(crate::dirs::home),
        env,
        stdin: s.stdin.clone(),
    }
}

/// Starts `plan` with stdout and stderr both on `output` (one pipe keeps
/// their order), as the leader of a new session and process group.
/// `scratch` is a private directory for the standard-input file.
pub fn spawn(plan: &Plan, output: PipeWriter, scratch: &Path) -> Result<Child, SpawnError> {
    if plan.program.is_empty() {
        return Err(SpawnError::Empty);
    }
    if !plan.workdir.is_dir() {
        return Err(SpawnError::Workdir {
            path: plan.workdir.clone(),
        });
    }
    let stdin = match &plan.stdin {
        Some(text) => Stdio::from(stdin_file(scratch, text)?),
        None => Stdio::null(),
    };
    let stderr = output.try_clone().map_err(|source| SpawnError::Io {
        action: "duplicating the output pipe for",
        path: plan.workdir.clone(),
        source,
    })?;
    let mut command = Command::new(&plan.program);
    command
        .args(&plan.args)
        .env_clear()
        .envs(&plan.env)
        .current_dir(&plan.workdir)
        .stdin(stdin)
        .stdout(output)
        .stderr(stderr);
    // SAFETY: setsid(2) is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()?;
            Ok(())
        });
    }
    command.spawn().map_err(|source| SpawnError::Start {
        program: plan.program.clone(),
        source,
    })
}

/// The `stdin` text in an unlinked private file: no pipe to keep fed, so a
/// command that prints before it reads cannot deadlock with kron.
fn stdin_file(dir: &Path, text: &str) -> Result<File, SpawnError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| SpawnError::Io {
            action,
            path,
            source,
        }
    };
    crate::dirs::create_private_dir(dir).map_err(io("creating", dir))?;
    let path = dir.join(format!(
        ".stdin-{}-{:x}",
        std::process::id(),
        (super::retry::random_unit() * 1e15) as u64
    ));
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("creating", &path))?;
    let _ = std::fs::remove_file(&path);
    file.write_all(text.as_bytes())
        .and_then(|()| file.rewind())
        .map_err(io("writing", &path))?;
    Ok(file)
}
