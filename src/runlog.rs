//! Run logs: `$XDG_STATE_HOME/kron/logs/NAME.log`, rotated by size into
//! `NAME.log.1` (newest) ... `NAME.log.KEEP` (oldest).
//!
//! Invariant: the files of one task never hold more than
//! `max_size x (keep + 1)` bytes. Output is copied through the caller's
//! fixed buffer and written as raw bytes (output that is not UTF-8 is kept
//! as it is), so a command that prints a gigabyte costs no memory. Each
//! attempt of a run is framed by a header and a footer line:
//!
//! ```text
//! ==> kron run 20260308-030000-1a2b attempt 1/3 trigger schedule scheduled 2026-03-08T03:00:00Z started 2026-03-08T03:00:00.004Z
//! ...the command's output...
//! <== kron run 20260308-030000-1a2b attempt 1/3 exit 0 after 1s204ms
//! ```
//!
//! A run stopped while it waits to retry gets one more footer line, for
//! the attempt it will not make, saying who stopped it (`kron kill`, a
//! replacing run, or a signal such as `SIGTERM`):
//!
//! ```text
//! <== kron run 20260308-030000-1a2b attempt 1/3 exit 1 after 5ms; retrying in 10s
//! <== kron run 20260308-030000-1a2b attempt 2/3 not started: interrupted by kron kill while waiting to retry
//! ```
//!
//! Several processes may write one log (overlap `allow`): each write and
//! rotation happens under an flock on `.NAME.log.lock`, and a writer whose
//! file was rotated away by another reopens the new one. A header is never
//! split across files, and output is split at a line end when one fits.
//! Reading (`kron logs`) is in [`read`], following live output in
//! [`follow`], and several tasks' logs as one stream in [`merge`].

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::taskfile::LogPolicy;

pub mod follow;
pub mod merge;
pub mod read;

/// The prefix of an attempt's header line.
pub const HEADER: &str = "==> kron run ";
/// The prefix of an attempt's footer line.
pub const FOOTER: &str = "<== kron run ";

#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", path.display())]
pub struct RunLogError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// `DIR/NAME.log`.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}

/// `DIR/NAME.log.N`: the N-th newest rotated file.
pub fn rotated(dir: &Path, name: &str, n: u32) -> PathBuf {
    dir.join(format!("{name}.log.{n}"))
}

/// An open, rotating run log.
pub struct RunLog {
    dir: PathBuf,
    name: String,
    max_size: u64,
    keep: u32,
    file: File,
    ino: u64,
    guard: File,
    /// Whether the last byte this writer wrote ended a line.
    at_line_start: bool,
}

impl RunLog {
    /// Opens (creating) `DIR/NAME.log` for appending.
    pub fn open(dir: &Path, name: &str, policy: &LogPolicy) -> Result<RunLog, RunLogError> {
        crate::dirs::create_private_dir(dir).map_err(|source| RunLogError {
            action: "creating",
            path: dir.into(),
            source,
        })?;
        let guard_path = dir.join(format!(".{name}.log.lock"));
        let guard = open_append(&guard_path)?;
        let (file, ino) = open_log(&path(dir, name))?;
        Ok(RunLog {
            dir: dir.into(),
            name: name.into(),
            max_size: policy.max_size.max(1),
            keep: policy.keep,
            file,
            ino,
            guard,
            at_line_start: true,
        })
    }

    pub fn path(&self) -> PathBuf {
        path(&self.dir, &self.name)
    }

    /// Appends a command's output, rotating as needed.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), RunLogError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.locked(|log| log.write_unlocked(bytes, false))?;
        self.at_line_start = bytes.ends_with(b"\n");
        Ok(())
    }

    /// Writes a frame line (header or footer) on a line of its own, never
    /// split across files.
    pub fn write_line(&mut self, line: &str) -> Result<(), RunLogError> {
        let mut text = String::with_capacity(line.len() + 2);
        if !self.at_line_start {
            text.push('\n');
        }
        text.push_str(line);
        text.push('\n');
        self.locked(|log| log.write_unlocked(text.as_bytes(), true))?;
        self.at_line_start = true;
        Ok(())
    }

    fn locked(
        &mut self,
        f: impl FnOnce(&mut RunLog) -> Result<(), RunLogError>,
    ) -> Result<(), RunLogError> {
        let guard_err = |source| RunLogError {
            action: "locking",
            path: self.dir.join(format!(".{}.log.lock", self.name)),
            source,
        };
        self.guard.lock().map_err(guard_err)?;
        let result = self.reopen_if_rotated().and_then(|()| f(self));
        let _ = self.guard.unlock();
        result
    }

    /// Another writer may have rotated the file this one has open.
    fn reopen_if_rotated(&mut self) -> Result<(), RunLogError> {
        let current = std::fs::metadata(self.path()).map(|m| m.ino()).ok();
        if current != Some(self.ino) {
            (self.file, self.ino) = open_log(&self.path())?;
        }
        Ok(())
    }

    fn write_unlocked(&mut self, mut bytes: &[u8], whole: bool) -> Result<(), RunLogError> {
        while !bytes.is_empty() {
            let size = self
                .file
                .metadata()
                .map_err(|e| self.err("reading", e))?
                .len();
            let room = self.max_size.saturating_sub(size);
            if bytes.len() as u64 <= room {
                self.append(bytes)?;
                break;
            }
            let fits = &bytes[..room as usize];
            let take = match fits.iter().rposition(|&b| b == b'\n') {
                Some(end) if !whole => end + 1,
                // Start a new file rather than split a line, unless the
                // line alone is longer than a file.
                _ if size > 0 => 0,
                _ => fits.len(),
            };
            self.append(&bytes[..take])?;
            bytes = &bytes[take..];
            self.rotate()?;
        }
        Ok(())
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), RunLogError> {
        let path = self.path();
        self.file.write_all(bytes).map_err(|source| RunLogError {
            action: "writing",
            path,
            source,
        })
    }

    /// `NAME.log` becomes `NAME.log.1`, `.1` becomes `.2`, ..., and what
    /// falls beyond `keep` is deleted.
    fn rotate(&mut self) -> Result<(), RunLogError> {
        if self.keep == 0 {
            return self.file.set_len(0).map_err(|e| self.err("truncating", e));
        }
        // Files beyond `keep` (left by a larger `keep` before) go first.
        let mut n = self.keep + 1;
        while std::fs::remove_file(rotated(&self.dir, &self.name, n)).is_ok() {
            n += 1;
        }
        for n in (1..self.keep).rev() {
            let from = rotated(&self.dir, &self.name, n);
            match std::fs::rename(&from, rotated(&self.dir, &self.name, n + 1)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(RunLogError {
                        action: "rotating",
                        path: from,
                        source: e,
                    });
                }
                _ => {}
            }
        }
        std::fs::rename(self.path(), rotated(&self.dir, &self.name, 1))
            .map_err(|e| self.err("rotating", e))?;
        (self.file, self.ino) = open_log(&self.path())?;
        Ok(())
    }

    fn err(&self, action: &'static str, source: std::io::Error) -> RunLogError {
        RunLogError {
            action,
            path: self.path(),
            source,
        }
    }
}

fn open_append(path: &Path) -> Result<File, RunLogError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| RunLogError {
            action: "opening",
            path: path.into(),
            source,
        })
}

fn open_log(path: &Path) -> Result<(File, u64), RunLogError> {
    let file = open_append(path)?;
    let ino = file
        .metadata()
        .map_err(|source| RunLogError {
            action: "reading",
            path: path.into(),
            source,
        })?
        .ino();
    Ok((file, ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    }

    #[test]
    fn rotation_bounds_the_bytes_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let policy = LogPolicy {
            max_size: 1000,
            keep: 2,
        };
        let mut log = RunLog::open(dir.path(), "t", &policy).unwrap();
        log.write_line("==> kron run x attempt 1/1").unwrap();
        let chunk: Vec<u8> = (0..333u32).map(|i| b"ab\n\xff"[i as usize % 4]).collect();
        for _ in 0..100 {
            log.write(&chunk).unwrap();
        }
        log.write_line("<== kron run x attempt 1/1 exit 0").unwrap();
        assert!(total(dir.path()) <= 3000, "{}", total(dir.path()));
        for n in 1..=2 {
            let len = std::fs::metadata(rotated(dir.path(), "t", n))
                .unwrap()
                .len();
            assert!(len <= 1000 && len > 0);
        }
        assert!(!rotated(dir.path(), "t", 3).exists());
        let last = std::fs::read(path(dir.path(), "t")).unwrap();
        assert!(last.ends_with(b"<== kron run x attempt 1/1 exit 0\n"));
    }

    #[test]
    fn keep_zero_truncates_and_frames_start_lines() {
        let dir = tempfile::tempdir().unwrap();
        let policy = LogPolicy {
            max_size: 100,
            keep: 0,
        };
        let mut log = RunLog::open(dir.path(), "t", &policy).unwrap();
        log.write(&[b'x'; 250]).unwrap();
        log.write_line("<== end").unwrap();
        let text = std::fs::read(path(dir.path(), "t")).unwrap();
        assert!(text.len() <= 100);
        assert!(text.ends_with(b"x\n<== end\n"), "{text:?}");
    }
}
