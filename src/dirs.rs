//! Where kron keeps things, and the permissions it insists on.
//!
//! All path precedence lives here: the task file is `--file`, else
//! `KRON_FILE`, else `$XDG_CONFIG_HOME/kron/tasks.toml`; state is
//! `$XDG_STATE_HOME/kron`; runtime files are `$XDG_RUNTIME_DIR/kron`, else
//! `run/` under the state directory. kron follows the XDG variables on every
//! platform (rather than macOS's Library folders, which the `directories`
//! crate would pick) so that one set of variables isolates it everywhere.
//! Directories are created 0700 and files 0600; a task file that others can
//! write, or that another user owns, is refused as cron refuses a crontab.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct Paths {
    pub task_file: PathBuf,
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Paths {
    /// Resolves every path from the environment and the global `--file`.
    pub fn from_env(file_flag: Option<&Path>) -> Paths {
        let home = home();
        let xdg = |var: &str, fallback: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .unwrap_or_else(|| home.join(fallback))
        };
        let config_dir = xdg("XDG_CONFIG_HOME", ".config").join("kron");
        let state_dir = xdg("XDG_STATE_HOME", ".local/state").join("kron");
        let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .map_or_else(|| state_dir.join("run"), |p| p.join("kron"));
        let task_file = file_flag
            .map(Path::to_path_buf)
            .or_else(|| {
                std::env::var_os("KRON_FILE")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| config_dir.join("tasks.toml"));
        Paths {
            task_file,
            state_dir,
            runtime_dir,
        }
    }
}

/// `$HOME`, else the password database's home, else `/`.
pub fn home() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(home);
    }
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map_or_else(|| PathBuf::from("/"), |u| u.dir)
}

/// `~` and `~/...` relative to the home directory; anything else unchanged.
pub fn expand_home(text: &str) -> PathBuf {
    match text.strip_prefix('~') {
        Some("") => home(),
        Some(rest) if rest.starts_with('/') => home().join(&rest[1..]),
        _ => PathBuf::from(text),
    }
}

/// Creates `dir` and any missing parents with mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[derive(Debug, thiserror::Error)]
#[error("refusing {}: {reason}; fix it with `{fix}`", path.display())]
pub struct Insecure {
    pub path: PathBuf,
    pub reason: String,
    pub fix: String,
}

/// Refuses a task file that is group- or world-writable or owned by
/// another user: whoever can write it can run commands as this user.
pub fn check_task_file(path: &Path) -> Result<(), Insecure> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let uid = nix::unistd::getuid().as_raw();
    let shown = path.display();
    if meta.uid() != uid {
        return Err(Insecure {
            path: path.into(),
            reason: format!("it is owned by uid {}, not by you (uid {uid})", meta.uid()),
            fix: format!("cp {shown} {shown}.mine && mv {shown}.mine {shown}"),
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Insecure {
            path: path.into(),
            reason: format!("others can write it (mode {:o})", meta.mode() & 0o777),
            fix: format!("chmod 600 {shown}"),
        });
    }
    Ok(())
}

impl Paths {
    /// `$RUNTIME/locks`: the task locks.
    pub fn locks_dir(&self) -> PathBuf {
        self.runtime_dir.join("locks")
    }

    /// `$RUNTIME/locks/NAME.lock`: the lock a task named `NAME` (or naming
    /// `lock = "NAME"`) holds while it runs; shareable with `flock(1)`.
    pub fn lock_path(&self, name: &str) -> PathBuf {
        self.locks_dir().join(format!("{name}.lock"))
    }

    /// `$RUNTIME/running`: one `RUN_ID.json` per run in progress.
    pub fn running_dir(&self) -> PathBuf {
        self.runtime_dir.join("running")
    }

    /// `$XDG_STATE_HOME/kron/logs`: the run logs.
    pub fn logs_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// `$XDG_STATE_HOME/kron/history`: one `NAME.jsonl` per task.
    pub fn history_dir(&self) -> PathBuf {
        self.state_dir.join("history")
    }
}

/// The daemon's files.
impl Paths {
    /// `$RUNTIME/kron.sock`: the daemon's control socket.
    pub fn socket_path(&self) -> PathBuf {
        self.runtime_dir.join("kron.sock")
    }

    /// `$RUNTIME/daemon.lock`: held by the running daemon, which writes its
    /// pid inside.
    pub fn daemon_lock_path(&self) -> PathBuf {
        self.runtime_dir.join("daemon.lock")
    }

    /// `$XDG_STATE_HOME/kron/daemon.lock`: held by the running daemon too,
    /// in a directory that is not removed under it.
    pub fn daemon_state_lock_path(&self) -> PathBuf {
        self.state_dir.join("daemon.lock")
    }

    /// `$XDG_STATE_HOME/kron/state.json`: the daemon's memory (last handled
    /// instant per task, boot id).
    pub fn state_file(&self) -> PathBuf {
        self.state_dir.join("state.json")
    }

    /// `$XDG_STATE_HOME/kron/daemon.log`: the detached daemon's stderr.
    pub fn daemon_log(&self) -> PathBuf {
        self.state_dir.join("daemon.log")
    }

    /// `$RUNTIME/loaded`: the snapshots.
    pub fn loaded_dir(&self) -> PathBuf {
        self.runtime_dir.join("loaded")
    }

    /// `$RUNTIME/loaded/NAME.toml`: `[defaults]` and task NAME as the
    /// daemon last loaded them; its supervisors read these.
    pub fn snapshot(&self, task: &str) -> PathBuf {
        self.loaded_dir().join(format!("{task}.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn writable_by_others_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasks.toml");
        std::fs::write(&file, "").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(check_task_file(&file).is_ok());
        for mode in [0o620, 0o602, 0o666] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = check_task_file(&file).unwrap_err().to_string();
            assert!(
                e.contains("chmod 600") && e.contains(&format!("{mode:o}")),
                "{e}"
            );
        }
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        for d in [dir.path().join("a"), nested] {
            assert_eq!(std::fs::metadata(d).unwrap().mode() & 0o777, 0o700);
        }
    }
}
