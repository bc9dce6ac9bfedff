//! `kron daemon run|start|stop|restart|status`, and [`ensure_running`],
//! which the verbs that change tasks call so that a change takes effect
//! without the user starting anything.

use std::io::Write;

use jiff::Timestamp;

use super::{Ctx, out};
use crate::cli::DaemonCommand;
use crate::daemon;
use crate::daemon::control::{self, Started};
use crate::dirs::Paths;
use crate::error::Error;
use crate::ipc::{self, Request, Response};
use crate::logging;
use crate::output;

/// The environment variable that turns auto-start off (`KRON_NO_AUTOSTART=1`),
/// for systems where a service manager runs `kron daemon run`.
pub const NO_AUTOSTART: &str = "KRON_NO_AUTOSTART";

pub fn run(ctx: &Ctx, command: &DaemonCommand) -> Result<(), Error> {
    let paths = absolute(&ctx.paths)?;
    match command {
        DaemonCommand::Run => {
            // What the dynamic loader, the C library's start and the
            // command line touched is never used again: given back before
            // the daemon's own start adds to it.
            crate::daemon::give_back();
            logging::init_from_env();
            if let Err(e) = logging::bound(&paths.daemon_log()) {
                logging::warning!("{e}");
            }
            Ok(daemon::run(&paths)?)
        }
        DaemonCommand::Start => start(&paths),
        DaemonCommand::Stop => stop(&paths),
        DaemonCommand::Restart => {
            stop(&paths)?;
            start(&paths)
        }
        DaemonCommand::Status => status(&paths),
        DaemonCommand::Install(args) => super::service::install(&paths, args.force, args.desktop),
        DaemonCommand::Uninstall => super::service::uninstall(),
    }
}

/// The paths with an absolute task file: the daemon works in `/`.
pub(super) fn absolute(paths: &Paths) -> Result<Paths, Error> {
    let mut paths = paths.clone();
    if paths.task_file.is_relative() {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            action: "finding the current directory for",
            path: paths.task_file.clone(),
            source,
        })?;
        paths.task_file = cwd.join(&paths.task_file);
    }
    Ok(paths)
}

fn exe() -> Result<std::path::PathBuf, Error> {
    std::env::current_exe().map_err(|source| Error::Io {
        action: "finding",
        path: "kron".into(),
        source,
    })
}

fn start(paths: &Paths) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match control::start(paths, &exe()?)? {
        Started::Now(pid) => out!(stdout, "started the daemon (pid {pid})"),
        Started::Already(pid) => out!(stdout, "the daemon is already running ({})", pid_text(pid)),
    }
}

fn stop(paths: &Paths) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match control::stop(paths)? {
        Some(pid) => out!(stdout, "stopped the daemon ({})", pid_text(pid)),
        None => out!(stdout, "the daemon is not running"),
    }
}

/// Exit 0 and one line when the daemon runs; exit 3 when it does not.
fn status(paths: &Paths) -> Result<(), Error> {
    let Some(pid) = control::running(paths)? else {
        return Err(Error::NotRunning);
    };
    let mut stdout = std::io::stdout().lock();
    match ipc::request(&paths.socket_path(), &Request::Status) {
        Ok(Response::Status(s)) => {
            let up = uptime(s.started);
            let error = if s.load_error.is_some() {
                "; the last change of the task file was not loaded (see kron status)"
            } else {
                ""
            };
            out!(
                stdout,
                "running (pid {}, up {up}): {} task(s), {} paused{error}",
                s.pid,
                s.tasks,
                s.paused
            )
        }
        _ => out!(
            stdout,
            "running ({}), not answering on {}",
            pid_text(pid),
            paths.socket_path().display()
        ),
    }
}

pub(super) fn uptime(started: Timestamp) -> String {
    output::compact_duration((Timestamp::now().as_second() - started.as_second()).max(0) as u64)
}

fn pid_text(pid: Option<u32>) -> String {
    pid.map_or_else(|| "pid unknown".into(), |p| format!("pid {p}"))
}

/// When a daemon runs but serves another task file than `ctx`'s (`--file`
/// or `KRON_FILE` name another): that nothing runs this file, and how to
/// run it. One daemon runs per user (its lock and socket are in the
/// runtime directory), so the way is to hand it this file instead.
pub fn other_file(ctx: &Ctx) -> Option<String> {
    let paths = absolute(&ctx.paths).ok()?;
    let Ok(Response::Pong { pid, task_file }) = ipc::request(&paths.socket_path(), &Request::Ping)
    else {
        return None;
    };
    if task_file == paths.task_file {
        return None;
    }
    let this = paths.task_file.display().to_string();
    Some(format!(
        "no daemon runs {this}, so its tasks do not run: the daemon (pid {pid}) runs {}, \
         and one daemon runs per user; to run this file instead: kron daemon stop && \
         kron --file {} daemon start",
        task_file.display(),
        crate::service::shell_word(&this)
    ))
}

/// Says on stderr what [`other_file`] finds.
pub fn warn_if_other_file(ctx: &Ctx) {
    if let Some(message) = other_file(ctx) {
        eprintln!("kron: warning: {message}");
    }
}

/// Starts the daemon if none runs, saying so once on stderr, unless
/// `KRON_NO_AUTOSTART` is set to something other than `0` or empty. A
/// failure to start is a warning: the change to the task file was made.
/// A daemon that runs another task file is a warning too
/// ([`other_file`]): the change is saved, and nothing runs it.
pub fn ensure_running(ctx: &Ctx) {
    warn_if_other_file(ctx);
    if std::env::var_os(NO_AUTOSTART).is_some_and(|v| !v.is_empty() && v != "0") {
        return;
    }
    let result = absolute(&ctx.paths)
        .map_err(|e| e.to_string())
        .and_then(|paths| {
            match control::running(&paths) {
                Ok(Some(_)) => return Ok(None),
                Ok(None) => {}
                Err(e) => return Err(e.to_string()),
            }
            let exe = exe().map_err(|e| e.to_string())?;
            control::start(&paths, &exe)
                .map(Some)
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(Some(Started::Now(pid))) => eprintln!("kron: started the daemon (pid {pid})"),
        Ok(_) => {}
        Err(e) => eprintln!(
            "kron: warning: could not start the daemon: {e}; the change is saved and \
             takes effect when the daemon runs (kron daemon start)"
        ),
    }
}
