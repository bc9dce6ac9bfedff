//! Keeping `daemon.log` bounded while the daemon lives.
//!
//! Several processes append lines to the file at once, each through its
//! own descriptor 2 opened with `O_APPEND`: the daemon, the supervisors it
//! started (they inherit its stderr) and those of `kron run --detach`. So
//! each of them watches the file it writes to, and none needs the others:
//!
//! - After each line a writer looks at its own file, one `fstat(2)`, which
//!   is all a line costs when the file is within the bound ([`step`]).
//! - A writer whose file is the log and past the bound rotates it, under
//!   an flock on `.daemon.log.lock` beside it, taken without waiting (a
//!   writer never blocks on another; the one holding the lock is rotating):
//!   `daemon.log` becomes `daemon.log.1`, replacing the one before, a new
//!   `daemon.log` (0600) is opened and put on its descriptor 2 (and on 1
//!   when that was the same file, as for a daemon `kron daemon start`
//!   started) with `dup2(2)`.
//! - A writer whose file was rotated away by another (it is past the bound
//!   too, and no longer what the path names) opens the log again. One whose
//!   file was deleted (a `daemon.log.1` replaced by a later rotation, or a
//!   user's `rm`) writes its last line again in the new log, so no line is
//!   lost in a rotation. The `daemon.log.1` being replaced is truncated
//!   first, so a quiet writer still holding it holds no bytes.
//!
//! Invariant: a file that is still linked and is not `daemon.log` is past
//! the bound (it was rotated for being so), which is why one `fstat` tells
//! a writer whether it has anything to do. The bound: `daemon.log` and
//! `daemon.log.1` each hold at most `max` bytes plus the lines written to
//! it while it was being rotated (one per writing process, in practice).
//! Lines are whole: each is one `write(2)`, never split across files.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{FileStat, SFlag, fstat};

/// A file's identity: its device and inode.
type FileId = (u64, u64);

/// What a writer sees of the file it writes to.
#[derive(Clone, Copy, Debug)]
pub(super) struct Seen {
    pub id: FileId,
    pub size: u64,
    /// It still has a name (`st_nlink > 0`).
    pub linked: bool,
}

/// What a writer does after a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Its file is the log, within the bound: nothing.
    Keep,
    /// Its file is no longer the log: open the log; `again` when the file
    /// was deleted, so the line just written must be written again.
    Reopen { again: bool },
    /// Its file is the log, past the bound: rotate.
    Rotate,
}

/// The rotation decision. `current` tells what the log's path names now
/// (`None`: nothing); it is only asked when the file is past the bound.
pub(super) fn step(own: Seen, current: impl FnOnce() -> Option<FileId>, max: u64) -> Step {
    if !own.linked {
        return Step::Reopen { again: true };
    }
    if own.size <= max {
        return Step::Keep;
    }
    if current() == Some(own.id) {
        Step::Rotate
    } else {
        Step::Reopen { again: false }
    }
}

/// Where a writer's lines go.
enum Target {
    /// This process's stderr, and its stdout when that is the same file.
    Stderr { stdout_too: bool },
    /// A file of a unit test, standing for another process's descriptor.
    #[cfg(test)]
    File(File),
}

impl Target {
    fn stat(&self) -> nix::Result<FileStat> {
        match self {
            Target::Stderr { .. } => fstat(std::io::stderr()),
            #[cfg(test)]
            Target::File(file) => fstat(file),
        }
    }

    fn write(&self, line: &[u8]) {
        let _ = match self {
            Target::Stderr { .. } => std::io::stderr().lock().write_all(line),
            #[cfg(test)]
            Target::File(file) => {
                let mut file: &File = file;
                file.write_all(line)
            }
        };
    }

    /// Points the target at `file`.
    fn replace(&mut self, file: File) -> nix::Result<()> {
        match self {
            Target::Stderr { stdout_too } => {
                nix::unistd::dup2_stderr(&file)?;
                if *stdout_too {
                    nix::unistd::dup2_stdout(&file)?;
                }
            }
            #[cfg(test)]
            Target::File(old) => *old = file,
        }
        Ok(())
    }
}

/// A writer that keeps the log at `path` bounded.
pub(super) struct Rotating {
    target: Target,
    path: PathBuf,
    max: u64,
}

impl Rotating {
    /// Bounds this process's stderr when it is the log at `path` (or
    /// `path.1`: a file another writer rotated away before this process
    /// looked), a regular file. Anything else (the journal, a terminal, a
    /// file the user chose) is not kron's to rotate: `None`.
    pub(super) fn for_stderr(path: &Path, max: u64) -> Option<Rotating> {
        let stat = fstat(std::io::stderr()).ok()?;
        if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
            return None;
        }
        let own = seen(&stat).id;
        if file_id(path) != Some(own) && file_id(&rotated(path)) != Some(own) {
            return None;
        }
        let stdout_too = fstat(std::io::stdout()).is_ok_and(|s| seen(&s).id == own);
        Some(Rotating::new(Target::Stderr { stdout_too }, path, max))
    }

    fn new(target: Target, path: &Path, max: u64) -> Rotating {
        let mut rotating = Rotating {
            target,
            path: path.into(),
            max,
        };
        // A file already past the bound, or rotated away, is dealt with
        // before the first line.
        rotating.check(None);
        rotating
    }

    /// Writes one line (in one `write(2)`), then rotates or reopens if
    /// needed.
    pub(super) fn write(&mut self, line: &[u8]) {
        self.target.write(line);
        self.check(Some(line));
    }

    fn check(&mut self, line: Option<&[u8]>) {
        let Ok(stat) = self.target.stat() else {
            return;
        };
        let own = seen(&stat);
        match step(own, || file_id(&self.path), self.max) {
            Step::Keep => {}
            Step::Reopen { again } => {
                if self.reopen().is_ok()
                    && again
                    && let Some(line) = line
                {
                    self.target.write(line);
                }
            }
            // A log that cannot be rotated is written on: a line is worth
            // more than the bound.
            Step::Rotate => {
                let _ = self.rotate(own.id);
            }
        }
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.path)?;
        self.target.replace(file)?;
        Ok(())
    }

    /// `daemon.log` becomes `daemon.log.1`, unless another writer holds
    /// the lock (it is rotating: this writer looks again after its next
    /// line) or rotated it meanwhile.
    fn rotate(&mut self, own: FileId) -> std::io::Result<()> {
        let lock = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(lock_path(&self.path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(()),
            Err(TryLockError::Error(e)) => return Err(e),
        }
        if file_id(&self.path) == Some(own) {
            let rotated = rotated(&self.path);
            let old = OpenOptions::new().write(true).open(&rotated).ok();
            std::fs::rename(&self.path, &rotated)?;
            // Writers that still hold the replaced file (they reopen at
            // their next line) hold no bytes of it.
            if let Some(old) = old {
                let _ = old.set_len(0);
            }
        }
        let reopened = self.reopen();
        // Unlocked, not just closed: a child forked meanwhile holds a copy
        // of the descriptor until it execs, and with it the lock.
        let _ = lock.unlock();
        reopened
    }
}

/// `daemon.log.1`.
pub(super) fn rotated(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".1");
    name.into()
}

/// `.daemon.log.lock` beside the log.
fn lock_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    path.with_file_name(format!(".{name}.lock"))
}

fn file_id(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

#[allow(
    clippy::unnecessary_cast,
    reason = "dev_t, ino_t, off_t and nlink_t differ between systems"
)]
fn seen(stat: &FileStat) -> Seen {
    Seen {
        id: (stat.st_dev as u64, stat.st_ino as u64),
        size: u64::try_from(stat.st_size).unwrap_or(0),
        linked: stat.st_nlink > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: u64 = 1000;

    fn own(size: u64, linked: bool) -> Seen {
        Seen {
            id: (1, 7),
            size,
            linked,
        }
    }

    #[test]
    fn the_rotation_decision() {
        let unasked = || -> Option<FileId> { panic!("the path is not looked at") };
        // Within the bound: one fstat, nothing else.
        assert_eq!(step(own(0, true), unasked, MAX), Step::Keep);
        assert_eq!(step(own(MAX, true), unasked, MAX), Step::Keep);
        // Past it, and still the log: rotate.
        assert_eq!(step(own(MAX + 1, true), || Some((1, 7)), MAX), Step::Rotate);
        // Past it, and the path names another file (another writer
        // rotated), or none: open the log again; the line is in the
        // rotated file.
        let reopen = Step::Reopen { again: false };
        assert_eq!(step(own(MAX + 1, true), || Some((1, 8)), MAX), reopen);
        assert_eq!(step(own(MAX + 1, true), || Some((2, 7)), MAX), reopen);
        assert_eq!(step(own(MAX + 1, true), || None, MAX), reopen);
        // Deleted (a replaced daemon.log.1, or rm): the line went nowhere.
        let again = Step::Reopen { again: true };
        assert_eq!(step(own(10, false), unasked, MAX), again);
        assert_eq!(step(own(MAX + 1, false), unasked, MAX), again);
    }

    fn writer(path: &Path) -> Rotating {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        Rotating::new(Target::File(file), path, MAX)
    }

    #[test]
    fn writers_sharing_a_log_keep_it_bounded_and_lose_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        // Three writers, as three processes with their own descriptors.
        let mut writers = [writer(&path), writer(&path), writer(&path)];
        for i in 0..600 {
            let w = i % 3;
            writers[w].write(format!("writer {w} line {i:04}\n").as_bytes());
            // Slack of one size: a rotation that finds the lock taken (by
            // another writer rotating) waits for a later line.
            for file in [&path, &rotated(&path)] {
                let len = std::fs::metadata(file).map_or(0, |m| m.len());
                assert!(len <= 2 * MAX, "{} is {len} bytes", file.display());
            }
        }
        let text = std::fs::read_to_string(rotated(&path)).unwrap()
            + &std::fs::read_to_string(&path).unwrap();
        let numbers: Vec<usize> = text
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().1.parse().unwrap())
            .collect();
        // The last lines, each once, none missing.
        let first = numbers[0];
        assert!(first > 0 && numbers.len() > MAX as usize / 20);
        assert_eq!(numbers, (first..600).collect::<Vec<_>>());
        assert!(!dir.path().join("daemon.log.2").exists());
    }

    #[test]
    fn a_writer_whose_file_was_deleted_writes_its_line_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let mut w = writer(&path);
        w.write(b"one\n");
        std::fs::remove_file(&path).unwrap();
        w.write(b"two\n");
        w.write(b"three\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\nthree\n");
    }
}
