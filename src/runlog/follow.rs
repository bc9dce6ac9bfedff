//! Following run logs as they grow, as `tail -F` does: from where the
//! reader stopped, through rotations, and from the start of a log that
//! does not exist yet once it appears.
//!
//! A follower sleeps in `poll(2)` on an inotify watch of the logs
//! directory, which every write to a log (`IN_MODIFY`), every new log and
//! every rotation (a rename) wakes, so it does nothing while nothing is
//! written; the wait's timeout lets a caller look at something inotify
//! does not report (whether a run still runs). Without inotify (none left,
//! or the directory gone) it polls: each wait sleeps the timeout.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::read::ReadError;

/// Wakes when something in the logs directory changes.
pub struct Watcher {
    dir: PathBuf,
    inotify: Option<Inotify>,
}

impl Watcher {
    /// Watches `dir`, which should exist (else it is polled until it does).
    pub fn new(dir: &Path) -> Watcher {
        let mut watcher = Watcher {
            dir: dir.to_path_buf(),
            inotify: None,
        };
        watcher.rewatch();
        watcher
    }

    fn rewatch(&mut self) {
        let flags = AddWatchFlags::IN_MODIFY
            | AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF;
        self.inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .ok()
            .filter(|i| i.add_watch(&self.dir, flags).is_ok());
    }

    /// Returns when the directory changed, or after `timeout`.
    pub fn wait(&mut self, timeout: Duration) {
        let Some(inotify) = &self.inotify else {
            std::thread::sleep(timeout);
            self.rewatch();
            return;
        };
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(inotify.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, timeout);
        let mut gone = false;
        while let Ok(events) = inotify.read_events() {
            if events.is_empty() {
                break;
            }
            gone |= events.iter().any(|e| {
                e.mask.intersects(
                    AddWatchFlags::IN_IGNORED
                        | AddWatchFlags::IN_DELETE_SELF
                        | AddWatchFlags::IN_MOVE_SELF,
                )
            });
        }
        if gone {
            self.rewatch();
        }
    }
}

/// One log file followed by name: the file open at the point read so far.
pub struct Tail {
    path: PathBuf,
    file: Option<File>,
}

impl Tail {
    /// Follows `path` from `file`'s position; with `None`, from the start
    /// of whatever file is at `path` when [`Tail::copy_new`] first finds one.
    pub fn new(path: PathBuf, file: Option<File>) -> Tail {
        Tail { path, file }
    }

    /// Gives `out` what was appended since the last call, following the
    /// name through rotations: the rest of the rotated file first, then
    /// the new one from its start.
    pub fn copy_new(
        &mut self,
        out: &mut dyn FnMut(&[u8]) -> Result<(), ReadError>,
    ) -> Result<(), ReadError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if self.file.is_none() {
                match File::open(&self.path) {
                    Ok(file) => self.file = Some(file),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(source) => {
                        return Err(ReadError::Read {
                            path: self.path.clone(),
                            source,
                        });
                    }
                }
            }
            let file = self.file.as_mut().expect("opened above");
            copy_available(file, &self.path, &mut buf, out)?;
            // Truncated in place (`log.keep = 0`): start again from its start.
            let read_to = file.stream_position().unwrap_or(0);
            if file.metadata().is_ok_and(|m| m.len() < read_to) {
                let _ = file.seek(SeekFrom::Start(0));
                copy_available(file, &self.path, &mut buf, out)?;
            }
            // Rotated: the name is another file now (or none, for a moment).
            let ours = file.metadata().ok().map(|m| m.ino());
            let named = std::fs::metadata(&self.path).ok().map(|m| m.ino());
            if named == ours {
                return Ok(());
            }
            // What was written before the rename is in the old file: the
            // writer appends it under the log's lock, then renames.
            copy_available(file, &self.path, &mut buf, out)?;
            self.file = None;
            if named.is_none() {
                return Ok(());
            }
        }
    }
}

fn copy_available(
    file: &mut File,
    shown: &Path,
    buf: &mut [u8],
    out: &mut dyn FnMut(&[u8]) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    loop {
        let n = file.read(buf).map_err(|source| ReadError::Read {
            path: shown.into(),
            source,
        })?;
        if n == 0 {
            return Ok(());
        }
        out(&buf[..n])?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tail_follows_its_name_through_a_rotation_and_a_late_start() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("t.log");
        let mut tail = Tail::new(log.clone(), None);
        let mut seen = Vec::new();
        let copy = |tail: &mut Tail, seen: &mut Vec<u8>| {
            tail.copy_new(&mut |b| {
                seen.extend_from_slice(b);
                Ok(())
            })
            .unwrap();
        };
        copy(&mut tail, &mut seen);
        assert!(seen.is_empty());
        std::fs::write(&log, "one\n").unwrap();
        copy(&mut tail, &mut seen);
        assert_eq!(seen, b"one\n");
        // More in the old file, then a rotation and a new file.
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        std::fs::rename(&log, dir.path().join("t.log.1")).unwrap();
        std::fs::write(&log, "three\n").unwrap();
        copy(&mut tail, &mut seen);
        assert_eq!(seen, b"one\ntwo\nthree\n");
        copy(&mut tail, &mut seen);
        assert_eq!(seen, b"one\ntwo\nthree\n");
    }

    #[test]
    fn a_watcher_wakes_on_a_write_and_times_out_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = Watcher::new(dir.path());
        let start = std::time::Instant::now();
        watcher.wait(Duration::from_millis(50));
        assert!(start.elapsed() >= Duration::from_millis(40));
        std::fs::write(dir.path().join("t.log"), "x").unwrap();
        let start = std::time::Instant::now();
        watcher.wait(Duration::from_secs(30));
        assert!(start.elapsed() < Duration::from_secs(20));
    }
}
