//! kron: a per-user crontab replacement.
//!
//! The binary is thin: `main` hands its arguments to [`run`], which parses
//! them with the clap types in `cli`, dispatches to one function per verb in
//! `cmd`, and maps the outcome to an exit status in `error`. Domain modules
//! (`schedule`, ...) return typed values and errors and never print.

mod chart;
pub mod cli;
pub mod cluster;
mod cmd;
pub mod complete;
pub mod crontab;
pub mod daemon;
pub mod diag;
pub mod dirs;
pub mod docs;
pub mod doctor;
pub mod error;
pub mod export;
pub mod forecast;
pub mod history;
pub mod ipc;
pub mod lock;
pub mod logging;
pub mod metrics;
mod output;
pub mod procfs;
pub mod runlog;
pub mod runner;
pub mod schedule;
pub mod service;
pub mod shell;
pub mod stats;
pub mod taskfile;
mod timeline;
pub mod units;
mod usage;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

/// Runs kron with the given command line and returns its exit status.
pub fn run(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let args: Vec<OsString> = args.into_iter().collect();
    // `KRON_COMPLETE=SHELL kron -- WORDS`: a completion script asking.
    if let Some(code) = complete_request(&args) {
        return ExitCode::from(code);
    }
    // The daemon's own command line is read without clap (`cli::daemon_run`).
    let parsed = match cli::daemon_run(&args) {
        Some(cli) => Ok(cli),
        None => cli::Cli::try_parse_from(&args),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(mut e) => {
            usage::explain(&mut e, &args);
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match cmd::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => error::report(&e),
    }
}

/// Answers a completion request when `KRON_COMPLETE` is set: prints the
/// candidates (or a registration script) and returns `Some(exit status)`.
/// Returns `None` for an ordinary run. Here rather than in `complete`,
/// which `cli` uses for its candidates: the request needs the whole `cli`.
fn complete_request(args: &[OsString]) -> Option<u8> {
    std::env::var_os(complete::VAR)?;
    let cwd = std::env::current_dir().ok();
    let command = || <cli::Cli as clap::CommandFactory>::command();
    match clap_complete::CompleteEnv::with_factory(command)
        .var(complete::VAR)
        .bin("kron")
        .completer("kron")
        .try_complete(args.iter().cloned(), cwd.as_deref())
    {
        Ok(true) => Some(0),
        Ok(false) => None,
        Err(e) => {
            let _ = e.print();
            Some(2)
        }
    }
}
