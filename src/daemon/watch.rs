//! Noticing changes of the task file with inotify. kron installs the file
//! by renaming a temporary file over it, and editors often do the same, so
//! a watch on the file itself would follow the old inode; the watch is on
//! its directory, and only events naming the file count: a write closed
//! (`IN_CLOSE_WRITE`), a rename onto or away from it, its deletion, a
//! change of its mode. A task file that is a symbolic link is watched by
//! its name only; SIGHUP (or `kron daemon restart`) reloads after editing
//! the target elsewhere.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

pub struct Watch {
    inotify: Inotify,
    name: OsString,
}

impl Watch {
    /// Watches the directory of `task_file`, which must exist.
    pub fn new(task_file: &Path) -> nix::Result<Watch> {
        let dir = match task_file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let name = task_file.file_name().unwrap_or_default().to_os_string();
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        inotify.add_watch(
            dir,
            AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_ATTRIB,
        )?;
        Ok(Watch { inotify, name })
    }

    /// Reads the pending events; `true` when one concerns the task file.
    pub fn changed(&self) -> nix::Result<bool> {
        let mut changed = false;
        loop {
            match self.inotify.read_events() {
                Ok(events) if events.is_empty() => return Ok(changed),
                Ok(events) => {
                    changed |= events
                        .iter()
                        .any(|e| e.name.as_deref() == Some(self.name.as_os_str()));
                }
                Err(Errno::EAGAIN) => return Ok(changed),
                Err(e) => return Err(e),
            }
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.inotify.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_renames_onto_the_file_but_not_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasks.toml");
        let watch = Watch::new(&file).unwrap();
        assert!(!watch.changed().unwrap());
        std::fs::write(dir.path().join("other"), "x").unwrap();
        assert!(!watch.changed().unwrap());
        std::fs::write(dir.path().join(".tmp"), "x").unwrap();
        std::fs::rename(dir.path().join(".tmp"), &file).unwrap();
        assert!(watch.changed().unwrap());
        assert!(!watch.changed().unwrap());
        std::fs::write(&file, "y").unwrap();
        assert!(watch.changed().unwrap());
    }
}
