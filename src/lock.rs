//! Named task locks: `$RUNTIME/locks/NAME.lock`, held with `flock(2)`
//! (`std::fs::File::lock`) for as long as a run of a task naming that lock
//! is in progress, retries included.
//!
//! The path is documented so that a user's own scripts can share a lock with
//! `flock(1)`: `flock $XDG_RUNTIME_DIR/kron/locks/backup.lock ...` never runs
//! at the same time as the task `backup`. An flock(2) lock belongs to the
//! open file, and every process that inherited a descriptor of it holds it:
//! a run's command gets one ([`Held::fd`], on its descriptor 3), as a
//! command under `flock(1)` does, so the lock stays held for as long as any
//! process of the run keeps it, even if its supervisor is killed, and is
//! released when the last one exits. Who holds it is in `/proc`
//! ([`holders`]). Lock files are never deleted (deleting a locked file
//! would let a second holder in through a new inode). This module knows
//! nothing of tasks or overlap policies.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{action} lock {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A signal arrived while waiting for the lock.
    #[error("interrupted while waiting for lock {}", path.display())]
    Interrupted { path: PathBuf },
}

/// A held lock; dropping it releases it, unless a process that inherited
/// its descriptor still has it.
#[derive(Debug)]
pub struct Held {
    path: PathBuf,
    file: File,
}

impl Held {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock's descriptor (close-on-exec): a process started with a
    /// copy of it holds the lock too, until it closes it or exits.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn open(path: &Path) -> Result<File, LockError> {
    let io = |action, source| LockError::Io {
        action,
        path: path.into(),
        source,
    };
    if let Some(dir) = path.parent() {
        crate::dirs::create_private_dir(dir).map_err(|e| io("creating the directory of", e))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| io("opening", e))
}

/// Takes the lock at `path` if nobody holds it: `Ok(None)` when it is held.
pub fn try_acquire(path: &Path) -> Result<Option<Held>, LockError> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Held {
            path: path.into(),
            file,
        })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(LockError::Io {
            action: "taking",
            path: path.into(),
            source,
        }),
    }
}

/// Waits for the lock at `path`. A signal that interrupts the wait (the
/// supervisor installs its handlers without `SA_RESTART`) makes it return
/// [`LockError::Interrupted`] when `stop()` says so; otherwise it waits on.
pub fn acquire(path: &Path, mut stop: impl FnMut() -> bool) -> Result<Held, LockError> {
    let file = open(path)?;
    loop {
        if stop() {
            return Err(LockError::Interrupted { path: path.into() });
        }
        match file.lock() {
            Ok(()) => {
                return Ok(Held {
                    path: path.into(),
                    file,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(LockError::Io {
                    action: "waiting for",
                    path: path.into(),
                    source,
                });
            }
        }
    }
}

/// Whether someone holds the lock at `path` (a probe: takes and releases it).
pub fn is_held(path: &Path) -> bool {
    if !path.exists() {
        return false;
    }
    matches!(try_acquire(path), Ok(None))
}

/// The processes holding the lock at `path` (this user's, from `/proc`),
/// sorted; empty when it is free or the holder cannot be seen.
pub fn holders(path: &Path) -> Vec<i32> {
    crate::procfs::flock_holders(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/x.lock");
        let held = try_acquire(&path).unwrap().expect("free");
        assert!(try_acquire(&path).unwrap().is_none());
        assert!(is_held(&path));
        drop(held);
        assert!(!is_held(&path));
        let again = acquire(&path, || false).unwrap();
        assert_eq!(again.path(), path);
    }
}
