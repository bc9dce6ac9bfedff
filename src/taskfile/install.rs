//! Changing the task file safely: a lock so that concurrent kron processes
//! never lose an update, validation before anything is written, and an
//! atomic install (write a private temporary file, fsync, rename over the
//! task file, fsync the directory) so that a crash leaves the old file or the
//! new one, never half of either.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::dirs;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Insecure(#[from] dirs::Insecure),
    /// The change would make the file invalid; nothing was written.
    #[error("{} would be invalid; nothing was changed", path.display())]
    Invalid {
        path: PathBuf,
        diagnostics: Vec<Diagnostic>,
    },
    /// The change itself was refused (a name that exists, one that does not...).
    #[error("{0}")]
    Refused(String),
    /// The task file as it stands is not text (not UTF-8); nothing was
    /// changed. The top-level error reports it as any invalid file.
    #[error(transparent)]
    NotText(super::load::LoadError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io {
        action,
        path,
        source,
    }
}

/// An exclusive lock on the task file, held until dropped. It is a separate
/// file beside the task file, because installs replace the task file's inode.
pub struct FileLock {
    _file: File,
}

pub fn lock(task_file: &Path) -> Result<FileLock, InstallError> {
    let dir = parent(task_file);
    dirs::create_private_dir(dir).map_err(io("creating", dir))?;
    let name = task_file
        .file_name()
        .map_or_else(|| "tasks.toml".into(), |n| n.to_string_lossy().into_owned());
    let path = dir.join(format!(".{name}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("opening lock", &path))?;
    file.lock().map_err(io("locking", &path))?;
    Ok(FileLock { _file: file })
}

/// The task file's current text, or `None` if it does not exist yet.
pub fn read(task_file: &Path) -> Result<Option<String>, InstallError> {
    match std::fs::read(task_file) {
        Ok(bytes) => {
            dirs::check_task_file(task_file)?;
            let text = super::decode(&bytes, task_file).map_err(InstallError::NotText)?;
            Ok(Some(text.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("reading", task_file)(e)),
    }
}

/// The one transaction of the verbs that change the task file: under its
/// lock, read it (`None` when it does not exist yet), let `change` compute
/// the new text and what to tell, and install that text when it differs
/// (a missing file is the empty text). Nothing is written when `change`
/// fails or the new text is invalid.
pub fn update<T, E: From<InstallError>>(
    task_file: &Path,
    change: impl FnOnce(Option<&str>) -> Result<(String, T), E>,
) -> Result<T, E> {
    let _lock = lock(task_file)?;
    let old = read(task_file)?;
    let (new, told) = change(old.as_deref())?;
    if old.as_deref().unwrap_or_default() != new {
        install(task_file, &new)?;
    }
    Ok(told)
}

/// Validates `text` and, if it is a valid task file, installs it atomically
/// at `task_file` with mode 0600. The caller holds the [`FileLock`].
pub fn install(task_file: &Path, text: &str) -> Result<(), InstallError> {
    if let Err(error) = super::parse(text, task_file) {
        return Err(InstallError::Invalid {
            path: task_file.into(),
            diagnostics: error.into_diagnostics(),
        });
    }
    write_atomically(task_file, text.as_bytes())
}

/// Where [`backup`] keeps the task file as it was: `tasks.toml.bak` beside it.
pub fn backup_path(task_file: &Path) -> PathBuf {
    let mut name = task_file
        .file_name()
        .map_or_else(|| "tasks.toml".into(), |n| n.to_os_string());
    name.push(".bak");
    task_file.with_file_name(name)
}

/// Keeps `text` (the task file's before a change that removes many tasks:
/// `kron rm --all`, `kron import --replace`) at [`backup_path`], 0600,
/// replacing the previous backup; returns its path.
pub fn backup(task_file: &Path, text: &str) -> Result<PathBuf, InstallError> {
    let path = backup_path(task_file);
    write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

/// Write, fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), InstallError> {
    replace(path, bytes)?;
    sync_dir(path)
}

/// Write, fsync, rename: the new content is in place (and safe from a
/// process crash) once this returns; [`sync_dir`] makes the rename itself
/// survive a power loss. Split so that a caller can act between the two.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), InstallError> {
    let dir = parent(path);
    dirs::create_private_dir(dir).map_err(io("creating", dir))?;
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&temp)
            .map_err(io("creating", &temp))?;
        file.write_all(bytes).map_err(io("writing", &temp))?;
        file.sync_all().map_err(io("syncing", &temp))?;
        // Closed before the rename, so that its close is not one more
        // inotify event under the file's name for the daemon.
        drop(file);
        std::fs::rename(&temp, path).map_err(io("installing", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

/// Fsyncs the directory of `path`, so that a rename into it is durable.
pub fn sync_dir(path: &Path) -> Result<(), InstallError> {
    let dir = parent(path);
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("syncing", dir))
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn installs_valid_text_0600_and_refuses_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("kron/tasks.toml");
        let _lock = lock(&file).unwrap();
        let good = "[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\n";
        install(&file, good).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), good);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            std::fs::metadata(file.parent().unwrap()).unwrap().mode() & 0o777,
            0o700
        );
        let bad = "[tasks.a]\nschedule = \"@sometimes\"\ncommand = \"true\"\n";
        assert!(matches!(
            install(&file, bad),
            Err(InstallError::Invalid { .. })
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), good);
        let leftovers = std::fs::read_dir(file.parent().unwrap())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            });
        assert_eq!(leftovers.count(), 0);
    }
}
