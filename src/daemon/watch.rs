//! Noticing changes of the task file with inotify. kron installs the file
//! by renaming a temporary file over it, and editors often do the same, so
//! a watch on the file itself would follow the old inode; the watch is on
//! its directory, and only events naming the file count: a write closed
//! (`IN_CLOSE_WRITE`), a rename onto or away from it, its deletion, a
//! change of its mode. A task file that is a symbolic link is watched by
//! its name only; SIGHUP (or `kron daemon restart`) reloads after editing
//! the target elsewhere.
//!
//! One change often comes as several events, not always read in one go:
//! a rename onto the file, then the close of the descriptor that wrote it
//! (now under the file's name), or an editor's rename and then its chmod.
//! So a change counts only when the file differs from what was last read:
//! its [`Fingerprint`] (text, mode, owner) is compared, and a second event
//! about the same change loads nothing and logs nothing.
//!
//! The same inotify instance watches for the removal of the runtime
//! directory (logind removes `$XDG_RUNTIME_DIR` at the last logout; `rm
//! -rf`), which takes the daemon's socket, lock and snapshots with it: the
//! daemon then makes them again. The watch is on the directory's parent,
//! for the directory's name: the directory's own `IN_DELETE_SELF` comes
//! only once nothing holds it, and the daemon's open lock and bound socket
//! hold it.

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

pub struct Watch {
    inotify: Inotify,
    name: OsString,
    task_dir: WatchDescriptor,
    /// The runtime directory's parent, and the runtime directory's name.
    runtime: Option<(WatchDescriptor, OsString)>,
}

/// What the pending events say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    pub task_file: bool,
    pub runtime_gone: bool,
}

/// What a change of the task file can change: its text, mode and owner
/// (a hash of the text, which the daemon need not keep). `None`: there is
/// no file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint(Option<(u64, u32, u32)>);

impl Fingerprint {
    /// The file at `path` as it is now; `None` when it cannot be read, so
    /// that the load reports why.
    pub fn of(path: &Path) -> Option<Fingerprint> {
        use std::hash::{Hash, Hasher};
        use std::os::unix::fs::MetadataExt;
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(Fingerprint(None)),
            Err(_) => return None,
        };
        let meta = std::fs::metadata(path).ok()?;
        let mut hasher = std::hash::DefaultHasher::new();
        bytes.hash(&mut hasher);
        Some(Fingerprint(Some((
            hasher.finish(),
            meta.mode(),
            meta.uid(),
        ))))
    }
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
        let task_dir = inotify.add_watch(
            dir,
            AddWatchFlags::IN_CLOSE_WRITE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_ATTRIB,
        )?;
        Ok(Watch {
            inotify,
            name,
            task_dir,
            runtime: None,
        })
    }

    /// Watches for the removal of `dir`, the runtime directory (again,
    /// after it was made anew).
    pub fn watch_runtime(&mut self, dir: &Path) -> nix::Result<()> {
        let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
            return Ok(());
        };
        // IN_MASK_ADD: the parent may be the task file's directory too.
        let flags = AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_DELETE_SELF
            | AddWatchFlags::IN_MOVE_SELF
            | AddWatchFlags::from_bits_retain(nix::libc::IN_MASK_ADD);
        let wd = self.inotify.add_watch(parent, flags)?;
        self.runtime = Some((wd, name.to_os_string()));
        Ok(())
    }

    /// Reads the pending events.
    pub fn changed(&mut self) -> nix::Result<Changes> {
        let mut changes = Changes::default();
        loop {
            match self.inotify.read_events() {
                Ok(events) if events.is_empty() => return Ok(changes),
                Ok(events) => {
                    for e in events {
                        if e.wd == self.task_dir {
                            changes.task_file |= e.name.as_deref() == Some(self.name.as_os_str());
                        }
                        if let Some((wd, name)) = &self.runtime
                            && e.wd == *wd
                        {
                            let parent_gone = e.mask.intersects(
                                AddWatchFlags::IN_DELETE_SELF
                                    | AddWatchFlags::IN_MOVE_SELF
                                    | AddWatchFlags::IN_IGNORED,
                            );
                            if parent_gone || e.name.as_deref() == Some(name.as_os_str()) {
                                changes.runtime_gone = true;
                            }
                        }
                    }
                }
                Err(Errno::EAGAIN) => return Ok(changes),
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
        let mut watch = Watch::new(&file).unwrap();
        let task_file = |watch: &mut Watch| watch.changed().unwrap().task_file;
        assert!(!task_file(&mut watch));
        std::fs::write(dir.path().join("other"), "x").unwrap();
        assert!(!task_file(&mut watch));
        std::fs::write(dir.path().join(".tmp"), "x").unwrap();
        std::fs::rename(dir.path().join(".tmp"), &file).unwrap();
        assert!(task_file(&mut watch));
        assert!(!task_file(&mut watch));
        std::fs::write(&file, "y").unwrap();
        assert!(task_file(&mut watch));
    }

    #[test]
    fn a_fingerprint_changes_with_the_text_and_mode_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tasks.toml");
        let none = Fingerprint::of(&file).unwrap();
        std::fs::write(&file, "a").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let a = Fingerprint::of(&file).unwrap();
        assert_ne!(a, none);
        // The same text renamed over it, a chmod to the same mode: no change.
        std::fs::write(dir.path().join(".tmp"), "a").unwrap();
        std::fs::set_permissions(
            dir.path().join(".tmp"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::fs::rename(dir.path().join(".tmp"), &file).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(Fingerprint::of(&file).unwrap(), a);
        std::fs::write(&file, "b").unwrap();
        assert_ne!(Fingerprint::of(&file).unwrap(), a);
        std::fs::write(&file, "a").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_ne!(Fingerprint::of(&file).unwrap(), a);
    }

    #[test]
    fn sees_the_runtime_directory_go() {
        let dir = tempfile::tempdir().unwrap();
        let runtime = dir.path().join("runtime/kron");
        std::fs::create_dir_all(runtime.join("locks")).unwrap();
        let mut watch = Watch::new(&dir.path().join("tasks.toml")).unwrap();
        watch.watch_runtime(&runtime).unwrap();
        // Held open, as the daemon holds its lock: the directory's own
        // removal event would wait for it to be closed.
        let _held = std::fs::File::create(runtime.join("daemon.lock")).unwrap();
        assert_eq!(watch.changed().unwrap(), Changes::default());
        std::fs::remove_dir_all(dir.path().join("runtime")).unwrap();
        assert!(watch.changed().unwrap().runtime_gone);
        std::fs::create_dir_all(&runtime).unwrap();
        watch.watch_runtime(&runtime).unwrap();
        std::fs::remove_dir(&runtime).unwrap();
        assert!(watch.changed().unwrap().runtime_gone);
    }
}
