//! The tiny logger of the daemon and of the supervisors it starts: one line
//! per event on stderr, with the time (UTC, milliseconds) and a level, e.g.
//! `2026-03-08T10:00:00.004Z INFO started backup (schedule 2026-03-08T10:00:00Z, pid 4242)`.
//! Under systemd stderr goes to the journal; `kron daemon start` points it
//! at `$XDG_STATE_HOME/kron/daemon.log`. A supervisor inherits the daemon's
//! stderr, so its lines (`WARN supervisor 4243: backup: ...`) land in the
//! same place. `KRON_LOG=debug` adds debug lines, `KRON_LOG=warn` keeps
//! only warnings and errors. These are not user messages: the CLI never
//! logs.
//!
//! `daemon.log` is bounded while the daemon lives ([`bound`], `rotate`):
//! each writer rotates it into `daemon.log.1` when it passes
//! `KRON_LOG_MAX_SIZE` (default 1 MiB), so the two hold about twice that.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, PoisonError};

mod rotate;

/// The environment variable that sets the bound of `daemon.log`.
pub const MAX_SIZE_VAR: &str = "KRON_LOG_MAX_SIZE";
/// The bound of `daemon.log` (and of `daemon.log.1`) by default.
pub const DEFAULT_MAX_SIZE: u64 = 1 << 20;

/// Set when stderr is `daemon.log` ([`bound`]); lines are then written
/// through it, one at a time in this process.
static ROTATING: Mutex<Option<rotate::Rotating>> = Mutex::new(None);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 0,
    Warn = 1,
    Info = 2,
    Debug = 3,
}

static MAX: AtomicU8 = AtomicU8::new(Level::Info as u8);

/// Sets the level from `KRON_LOG` (error, warn, info, debug).
pub fn init_from_env() {
    let level = match std::env::var("KRON_LOG").as_deref() {
        Ok("error") => Level::Error,
        Ok("warn") => Level::Warn,
        Ok("debug") => Level::Debug,
        _ => Level::Info,
    };
    MAX.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: Level) -> bool {
    level as u8 <= MAX.load(Ordering::Relaxed)
}

pub fn write(level: Level, message: std::fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let name = match level {
        Level::Error => "ERROR",
        Level::Warn => "WARN",
        Level::Info => "INFO",
        Level::Debug => "DEBUG",
    };
    let line = format!("{:.3} {name} {message}\n", jiff::Timestamp::now());
    // One write per line, so lines from a crash, a restart or another
    // process never mix.
    let mut rotating = ROTATING.lock().unwrap_or_else(PoisonError::into_inner);
    match rotating.as_mut() {
        Some(rotating) => rotating.write(line.as_bytes()),
        None => {
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

macro_rules! error {
    ($($arg:tt)*) => { $crate::logging::write($crate::logging::Level::Error, format_args!($($arg)*)) };
}
macro_rules! warning {
    ($($arg:tt)*) => { $crate::logging::write($crate::logging::Level::Warn, format_args!($($arg)*)) };
}
macro_rules! info {
    ($($arg:tt)*) => { $crate::logging::write($crate::logging::Level::Info, format_args!($($arg)*)) };
}
macro_rules! debug {
    ($($arg:tt)*) => { $crate::logging::write($crate::logging::Level::Debug, format_args!($($arg)*)) };
}
pub(crate) use {debug, error, info, warning};

/// Keeps the log at `path` (`daemon.log`) bounded while this process
/// writes to it, when its stderr is that file: rotated into `path.1`
/// beyond `KRON_LOG_MAX_SIZE` (a size such as `512KiB`; default 1 MiB).
/// Under systemd, on a terminal or in a file of the user's choosing,
/// stderr is left alone. The daemon and every supervisor call it, since
/// each writes to the file through its own descriptor. An invalid
/// `KRON_LOG_MAX_SIZE` leaves the default bound, and the error is returned
/// for the daemon to log (its supervisors, which inherit it, need not).
pub fn bound(path: &Path) -> Result<(), String> {
    let max = std::env::var(MAX_SIZE_VAR)
        .map_or(Ok(DEFAULT_MAX_SIZE), |text| crate::units::parse_size(&text));
    let rotating = rotate::Rotating::for_stderr(path, max.clone().unwrap_or(DEFAULT_MAX_SIZE));
    let bounded = rotating.is_some();
    *ROTATING.lock().unwrap_or_else(PoisonError::into_inner) = rotating;
    match max {
        Err(e) if bounded => Err(format!(
            "{MAX_SIZE_VAR}: {e}; keeping {} at {}",
            path.display(),
            crate::units::format_size(DEFAULT_MAX_SIZE)
        )),
        _ => Ok(()),
    }
}

/// The daemon's log file, opened for appending (created 0600): where a
/// detached daemon, its supervisors and those of `kron run --detach` write
/// their lines. Each of them keeps it bounded (`logging::bound`).
pub fn open_log(paths: &crate::dirs::Paths) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::dirs::create_private_dir(&paths.state_dir)?;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(paths.daemon_log())
}
