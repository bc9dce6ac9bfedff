//! The tiny logger of the daemon and of the supervisors it starts: one line
//! per event on stderr, with the time (UTC, milliseconds) and a level, e.g.
//! `2026-03-08T10:00:00.004Z INFO started backup (schedule 2026-03-08T10:00:00Z, pid 4242)`.
//! Under systemd stderr goes to the journal; `kron daemon start` points it
//! at `$XDG_STATE_HOME/kron/daemon.log`. A supervisor inherits the daemon's
//! stderr, so its lines (`WARN supervisor 4243: backup: ...`) land in the
//! same place. `KRON_LOG=debug` adds debug lines, `KRON_LOG=warn` keeps
//! only warnings and errors. These are not user messages: the CLI never
//! logs.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

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
    // One write per line, so lines from a crash or a restart never mix.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
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
