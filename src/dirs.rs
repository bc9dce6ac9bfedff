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
//!
//! kron's directories are its own: [`Paths::check`] refuses a runtime, state
//! or task-file directory that another user owns or that others can write
//! (as ssh and tmux refuse such a directory for their sockets), once, at the
//! start of every verb that uses them; [`create_private_dir`] checks what it
//! creates, so a directory another user slips in meanwhile is refused too.

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

/// Creates `dir` and any missing parents with mode 0700. Each directory it
/// had to create is checked afterwards: one that another user made in the
/// meantime (in a parent others can write, such as `/tmp`) is refused with
/// a `PermissionDenied` error that carries the [`Insecure`] reason, not
/// used. A directory that exists already costs one `stat`; whether it is
/// private is [`Paths::check`]'s business.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && std::fs::symlink_metadata(d).is_err())
        .collect();
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    for made in missing {
        check_private_dir(made)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e))?;
    }
    Ok(())
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

/// Refuses `dir`, one of kron's own directories (`$RUNTIME`, the state
/// directory), when another user owns it or others can write it: they
/// could replace or add what kron keeps there (its locks, its socket, the
/// requests `kron kill` leaves, the runs it records). Nothing to refuse
/// when it does not exist: kron creates it 0700.
pub fn check_private_dir(dir: &Path) -> Result<(), Insecure> {
    check_dir(dir, "chmod 700")
}

/// [`check_private_dir`] for the directory that holds the task file, which
/// may be the user's own (`--file ~/projects/tasks.toml`) and readable by
/// others: only writing it is refused (kron installs the file by a rename
/// in it, and whoever can write it could rename another file over it).
pub fn check_task_dir(task_file: &Path) -> Result<(), Insecure> {
    let dir = match task_file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    check_dir(dir, "chmod go-w")
}

fn check_dir(dir: &Path, chmod: &str) -> Result<(), Insecure> {
    let Ok(meta) = std::fs::metadata(dir) else {
        return Ok(());
    };
    let uid = nix::unistd::getuid().as_raw();
    let shown = dir.display();
    if meta.uid() != uid {
        return Err(Insecure {
            path: dir.into(),
            reason: format!(
                "it belongs to uid {}, not to you (uid {uid}), so that user could change what \
                 kron keeps in it (look inside before you remove it)",
                meta.uid()
            ),
            fix: format!("{}rm -rf {shown}", if uid == 0 { "" } else { "sudo " }),
        });
    }
    if meta.mode() & 0o022 != 0 {
        return Err(Insecure {
            path: dir.into(),
            reason: format!(
                "others can write it (mode {:o}), so they could change what kron keeps in it",
                meta.mode() & 0o7777
            ),
            fix: format!("{chmod} {shown}"),
        });
    }
    Ok(())
}

impl Paths {
    /// Refuses the runtime, state and task-file directories (those that
    /// exist) when another user owns one or others can write it. Three
    /// `stat`s, once at the start of every verb that uses them.
    pub fn check(&self) -> Result<(), Insecure> {
        check_private_dir(&self.runtime_dir)?;
        check_private_dir(&self.state_dir)?;
        check_task_dir(&self.task_file)
    }

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

    /// `$RUNTIME/unrecorded`: records whose history could not be written
    /// (a full disk), until it can.
    pub fn unrecorded_dir(&self) -> PathBuf {
        self.runtime_dir.join("unrecorded")
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

    /// `$XDG_STATE_HOME/kron/cluster.json`: since when this host's last
    /// claims found the cluster's backend unreachable (`cluster::reach`).
    pub fn cluster_reach_file(&self) -> PathBuf {
        self.state_dir.join("cluster.json")
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

/// The task names of the files in `dir`, as `stem` takes them from file
/// names (`NAME.jsonl`, `NAME.log.3`...; `None`: not such a file), sorted,
/// each once.
pub fn task_files(dir: &Path, stem: impl Fn(&str) -> Option<&str>) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            stem(&name).map(String::from)
        })
        .collect();
    names.sort();
    names.dedup();
    names
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
    fn a_directory_others_can_write_or_own_is_refused_with_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("kron");
        let shown = dir.display().to_string();
        assert!(
            check_private_dir(&dir).is_ok(),
            "a missing directory is kron's to create"
        );
        create_private_dir(&dir).unwrap();
        assert!(check_private_dir(&dir).is_ok());
        for mode in [0o770, 0o707, 0o777, 0o1777] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = check_private_dir(&dir).unwrap_err().to_string();
            assert!(
                e.contains(&format!("(mode {mode:o})"))
                    && e.contains(&format!("`chmod 700 {shown}`")),
                "{e}"
            );
        }
        // Readable by others is fine for the task file's directory, writable is not.
        let file = dir.join("tasks.toml");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_task_dir(&file).is_ok());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        let e = check_task_dir(&file).unwrap_err().to_string();
        assert!(e.contains(&format!("`chmod go-w {shown}`")), "{e}");
        // Another user's (only root can give a directory away).
        if nix::unistd::getuid().is_root() {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
            let e = check_private_dir(&dir).unwrap_err().to_string();
            assert!(
                e.contains("belongs to uid 65534, not to you (uid 0)")
                    && e.contains(&format!("`rm -rf {shown}`")),
                "{e}"
            );
            assert!(check_task_dir(&file).is_err());
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
