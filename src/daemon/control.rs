//! Starting, stopping and finding the daemon, from the CLI's side, and the
//! single-instance lock from the daemon's side.
//!
//! Whether a daemon runs is decided by its locks on `$RUNTIME/daemon.lock`
//! and `$XDG_STATE_HOME/kron/daemon.lock` (flock, released by the kernel
//! when the process dies, even by SIGKILL), never by guessing from a pid
//! file; the pid written inside is only for messages and signals. Whether
//! it *answers* is a `Ping` on the socket.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{DaemonError, io_error};
use crate::dirs::{self, Paths};
use crate::ipc::{self, Request, Response};

/// How long `start` waits for the new daemon to answer, and `stop` for the
/// old one to go.
pub const WAIT: Duration = Duration::from_secs(10);

/// The single-instance lock, held for the daemon's life: an flock on
/// `$XDG_STATE_HOME/kron/daemon.lock` and one on `$RUNTIME/daemon.lock`.
/// The state directory's lock is what keeps a second daemon out when the
/// runtime directory vanishes (logind removes it at the last logout); the
/// runtime directory's is the one `flock(1)` users and older kron look at.
pub struct DaemonLock {
    _state: File,
    _runtime: File,
}

/// How long a starting daemon waits for a lock held only for an instant
/// (a CLI's check), and for one whose holder is dead or exiting.
const BRIEF: Duration = Duration::from_millis(500);
const DYING: Duration = Duration::from_secs(5);

fn open_lock(dir: &Path, path: &Path) -> Result<File, DaemonError> {
    dirs::create_private_dir(dir).map_err(io_error("creating", dir))?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(io_error("opening", path))
}

fn read_pid(mut file: &File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Whether the daemon `pid` (as its lock file says) is dying: a lock it
/// still holds is about to be released by the kernel.
fn dying(pid: Option<u32>) -> bool {
    pid.is_some_and(|pid| crate::procfs::dying(pid as i32))
}

/// Takes `path`'s lock exclusively and writes this process's pid in it, or
/// says which daemon holds it. A CLI checking whether a daemon runs holds
/// a shared lock for a few microseconds, and a daemon that was just killed
/// holds its lock until the kernel has torn it down: only a lock held for
/// a while by a live process is another daemon.
fn lock_exclusive(dir: &Path, path: &Path) -> Result<File, DaemonError> {
    let mut file = open_lock(dir, path)?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) => {
                let pid = read_pid(&file);
                let waited = started.elapsed();
                if waited >= DYING || (waited >= BRIEF && !dying(pid)) {
                    return Err(DaemonError::AlreadyRunning { pid });
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(TryLockError::Error(e)) => return Err(io_error("locking", path)(e)),
        }
    }
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush())
        .map_err(io_error("writing the pid to", path))?;
    Ok(file)
}

/// Takes both locks, the state directory's first.
pub fn acquire(paths: &Paths) -> Result<DaemonLock, DaemonError> {
    let state = lock_exclusive(&paths.state_dir, &paths.daemon_state_lock_path())?;
    let runtime = lock_exclusive(&paths.runtime_dir, &paths.daemon_lock_path())?;
    Ok(DaemonLock {
        _state: state,
        _runtime: runtime,
    })
}

impl DaemonLock {
    /// Takes the runtime directory's lock again, after that directory was
    /// removed (the old lock is on a file no one can open any more).
    pub fn renew_runtime(&mut self, paths: &Paths) -> Result<(), DaemonError> {
        self._runtime = lock_exclusive(&paths.runtime_dir, &paths.daemon_lock_path())?;
        Ok(())
    }
}

/// Whether a daemon holds either lock, and its pid (when it could be
/// read). The check takes a shared lock for an instant; [`acquire`] waits
/// that out. A lock held by a daemon that is dying is waited for, briefly.
pub fn running(paths: &Paths) -> Result<Option<Option<u32>>, DaemonError> {
    for (dir, path) in [
        (&paths.runtime_dir, paths.daemon_lock_path()),
        (&paths.state_dir, paths.daemon_state_lock_path()),
    ] {
        if !path.exists() {
            continue;
        }
        let file = open_lock(dir, &path)?;
        let started = Instant::now();
        // Shared, so that checks never collide with one another.
        loop {
            match file.try_lock_shared() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let pid = read_pid(&file);
                    if !dying(pid) || started.elapsed() >= DYING {
                        return Ok(Some(pid));
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(TryLockError::Error(e)) => return Err(io_error("locking", &path)(e)),
            }
        }
    }
    Ok(None)
}

/// The pid of the daemon answering on the socket, if one does.
pub fn ping(paths: &Paths) -> Option<u32> {
    match ipc::request(&paths.socket_path(), &Request::Ping) {
        Ok(Response::Pong { pid, .. }) => Some(pid),
        _ => None,
    }
}

/// What [`start`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Started {
    /// A new daemon with this pid answers.
    Now(u32),
    /// One was running already.
    Already(Option<u32>),
}

/// Starts `exe daemon run` detached (new session, standard input on
/// /dev/null, output appended to `daemon.log`) and waits until it answers.
pub fn start(paths: &Paths, exe: &Path) -> Result<Started, DaemonError> {
    if let Some(pid) = running(paths)? {
        return Ok(Started::Already(pid));
    }
    let log_path = paths.daemon_log();
    dirs::create_private_dir(&paths.state_dir).map_err(io_error("creating", &paths.state_dir))?;
    let log = crate::logging::open_log(paths).map_err(io_error("opening", &log_path))?;
    let log_err = log.try_clone().map_err(io_error("opening", &log_path))?;
    let mut command = Command::new(exe);
    command
        .arg("--file")
        .arg(&paths.task_file)
        .args(["daemon", "run"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: `detach` is async-signal-safe and allocates nothing.
    unsafe {
        command.pre_exec(crate::runner::spawn::detach);
    }
    let mut child = command.spawn().map_err(io_error("starting", exe))?;
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(pid) = ping(paths) {
            return Ok(if pid == child.id() {
                Started::Now(pid)
            } else {
                Started::Already(Some(pid))
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            if let Some(pid) = running(paths)? {
                return Ok(Started::Already(pid));
            }
            return Err(DaemonError::Control(format!(
                "the daemon exited at once ({status}); see {}",
                log_path.display()
            )));
        }
        if Instant::now() > deadline {
            return Err(DaemonError::Control(format!(
                "the daemon (pid {}) did not answer within {} s; see {}",
                child.id(),
                WAIT.as_secs(),
                log_path.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Stops the running daemon, if any, and waits until it is gone. Returns
/// its pid (`Some(None)` when it could not be read).
pub fn stop(paths: &Paths) -> Result<Option<Option<u32>>, DaemonError> {
    let Some(pid) = running(paths)? else {
        return Ok(None);
    };
    let asked = ipc::request(&paths.socket_path(), &Request::Stop).is_ok();
    if !asked && let Some(pid) = pid {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
    let deadline = Instant::now() + WAIT;
    while running(paths)?.is_some() {
        if Instant::now() > deadline {
            let who = pid.map_or_else(
                || "the daemon".to_string(),
                |p| format!("the daemon (pid {p})"),
            );
            return Err(DaemonError::Control(format!(
                "{who} did not stop within {} s",
                WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(Some(pid))
}
