//! What a run's last attempt comes to. From how it ended ([`AttemptEnd`])
//! and the stop request the run received, if any ([`Stop`]), [`classify`]
//! (pure) decides the run's outcome for the history, the command's status
//! for the record, and the status `kron run` exits with:
//!
//! - A stop (the supervisor's SIGTERM, SIGINT or SIGHUP, or a `stop`
//!   request from `kron kill` or a replacing run) makes the run
//!   `interrupted` with 128 + that signal, whatever the command did; the
//!   record keeps the command's own status.
//! - A signal request (`kron kill --signal`) only ends the retries: a
//!   command that then fails or dies, after a timeout too, is
//!   `interrupted` with its own status; one that exits 0 is a success, or
//!   a timeout if its timeout expired.
//! - Otherwise: `timeout` (124) when the timeout expired, whatever the
//!   command's status; `success` (0); `failure` with the exit code, or
//!   with 128 + the signal that ended the command.
//! - A command that could not start is a `failure` (`interrupted` after
//!   either request) with the shell's 127 (missing program or workdir) or
//!   126, whatever the request.
//!
//! Runs that never reach an attempt end in `runner::run`, from what
//! `overlap` returns: `skipped` (1), or `interrupted` while waiting for the
//! lock (128 + the signal).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::Signal;

use super::attempt::Ended;
use super::signal_name;
use super::signals::Stop;
use super::spawn::SpawnError;
use crate::history::{Outcome, processes};
use crate::units::format_duration;

/// How one attempt ended, for the footer, the record and the exit status.
#[derive(Debug)]
pub(super) enum AttemptEnd {
    Ended(Ended),
    NotStarted(SpawnError),
    /// A stop request came before the command was started.
    Stopped(Signal),
}

impl AttemptEnd {
    /// Whether the attempt succeeded (else it may be retried); a timeout
    /// is a failure, whatever the command's status.
    pub(super) fn succeeded(&self) -> bool {
        matches!(self, AttemptEnd::Ended(e) if e.status.success() && !e.timed_out)
    }

    /// For the run log's footer: `exit 3 after 2s`, `timeout after 5s
    /// (SIGTERM)`, `failed to start: ...`, `exit 0 after 1s; left 1
    /// process (pid 4242) running`.
    pub(super) fn describe(&self) -> String {
        match self {
            AttemptEnd::NotStarted(e) => format!("failed to start: {e}"),
            AttemptEnd::Stopped(signal) => format!("stopped by {signal} before it started"),
            AttemptEnd::Ended(e) => {
                let status = match (e.status.code(), e.status.signal()) {
                    (Some(code), _) => format!("exit {code}"),
                    (_, Some(signal)) => signal_name(signal),
                    _ => "ended".into(),
                };
                let after = format_duration(e.duration);
                let mut text = if e.timed_out {
                    format!("timeout after {after} ({status})")
                } else {
                    format!("{status} after {after}")
                };
                if !e.left.is_empty() {
                    text.push_str(&format!("; left {} running", processes(&e.left)));
                }
                if !e.stopped.is_empty() {
                    text.push_str(&format!("; stopped {} it left", processes(&e.stopped)));
                }
                text
            }
        }
    }
}

/// What a run's last attempt comes to.
#[derive(Debug)]
pub(super) struct Verdict {
    pub outcome: Outcome,
    /// The command's own status, for the record; `None` when it did not run.
    pub status: Option<ExitStatus>,
    /// What `kron run` exits with.
    pub exit_code: u8,
    /// Why the command did not run.
    pub reason: Option<String>,
}

/// The verdict on a run whose last attempt ended as `end`, with `stop` the
/// stop request the run received, if any.
pub(super) fn classify(end: &AttemptEnd, stop: Option<Stop>) -> Verdict {
    match end {
        AttemptEnd::Stopped(signal) => Verdict {
            outcome: Outcome::Interrupted,
            status: None,
            exit_code: 128 + *signal as u8,
            reason: Some(format!("stopped by {signal} before it started")),
        },
        AttemptEnd::NotStarted(e) => {
            let outcome = if stop.is_some() {
                Outcome::Interrupted
            } else {
                Outcome::Failure
            };
            Verdict {
                outcome,
                status: None,
                exit_code: e.exit_code(),
                reason: Some(e.to_string()),
            }
        }
        AttemptEnd::Ended(e) => {
            let status_code = match (e.status.code(), e.status.signal()) {
                (Some(code), _) => code as u8,
                (_, Some(signal)) => 128u8.wrapping_add(signal as u8),
                _ => 1,
            };
            let (outcome, exit_code) = match stop {
                Some(Stop::Terminate(signal)) => (Outcome::Interrupted, 128 + signal as u8),
                Some(Stop::NoRetry) if !e.status.success() => (Outcome::Interrupted, status_code),
                _ if e.timed_out => (Outcome::Timeout, 124),
                _ if e.status.success() => (Outcome::Success, 0),
                _ => (Outcome::Failure, status_code),
            };
            Verdict {
                outcome,
                status: Some(e.status),
                exit_code,
                reason: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::Duration;

    use super::*;
    use Outcome::{Failure, Interrupted, Success, Timeout};
    use Signal::{SIGHUP, SIGINT, SIGKILL, SIGTERM};

    /// Statuses as `waitpid` reports them (and `spawn::Child` builds them).
    fn exit(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn killed_by(signal: Signal) -> ExitStatus {
        ExitStatus::from_raw(signal as i32)
    }

    fn ended(status: ExitStatus) -> AttemptEnd {
        AttemptEnd::Ended(Ended {
            status,
            timed_out: false,
            duration: Duration::from_secs(1),
            left: Vec::new(),
            stopped: Vec::new(),
        })
    }

    /// The timeout expired and the group was stopped; the command then
    /// ended with `status`.
    fn timed_out(status: ExitStatus) -> AttemptEnd {
        AttemptEnd::Ended(Ended {
            status,
            timed_out: true,
            duration: Duration::from_secs(1),
            left: Vec::new(),
            stopped: Vec::new(),
        })
    }

    fn cannot_start(kind: ErrorKind) -> AttemptEnd {
        AttemptEnd::NotStarted(SpawnError::Start {
            program: "prog".into(),
            source: kind.into(),
        })
    }

    fn no_workdir() -> AttemptEnd {
        AttemptEnd::NotStarted(SpawnError::Workdir {
            path: "/absent".into(),
        })
    }

    /// The stop requests a run can receive, in the table's column order.
    const STOPS: [(&str, Option<Stop>); 5] = [
        ("no stop", None),
        // `kron kill`, a replacing run, or SIGTERM to the supervisor.
        ("stop", Some(Stop::Terminate(SIGTERM))),
        ("Ctrl-C", Some(Stop::Terminate(SIGINT))),
        ("SIGHUP", Some(Stop::Terminate(SIGHUP))),
        // `kron kill --signal SIG`.
        ("signal request", Some(Stop::NoRetry)),
    ];

    /// Each kind of end (rows) under each stop request (columns, as in
    /// `STOPS`): the run's outcome and `kron run`'s exit status.
    #[rustfmt::skip]
    #[test]
    fn each_end_under_each_stop_request() {
        let table: [(AttemptEnd, [(Outcome, u8); 5]); 10] = [
            //                                   no stop          stop                Ctrl-C              SIGHUP              signal request
            (ended(exit(0)),                    [(Success, 0),   (Interrupted, 143), (Interrupted, 130), (Interrupted, 129), (Success, 0)]),
            (ended(exit(7)),                    [(Failure, 7),   (Interrupted, 143), (Interrupted, 130), (Interrupted, 129), (Interrupted, 7)]),
            (ended(killed_by(SIGTERM)),         [(Failure, 143), (Interrupted, 143), (Interrupted, 130), (Interrupted, 129), (Interrupted, 143)]),
            (ended(killed_by(SIGKILL)),         [(Failure, 137), (Interrupted, 143), (Interrupted, 130), (Interrupted, 129), (Interrupted, 137)]),
            (timed_out(killed_by(SIGTERM)),     [(Timeout, 124), (Interrupted, 143), (Interrupted, 130), (Interrupted, 129), (Interrupted, 143)]),
            (timed_out(killed_by(SIGKILL)),     [(Timeout, 124), (Interrupted, 143), (Interrupted, 130), (Interrupted, 129), (Interrupted, 137)]),
            (timed_out(exit(0)),                [(Timeout, 124), (Interrupted, 143), (Interrupted, 130), (Interrupted, 129), (Timeout, 124)]),
            (cannot_start(ErrorKind::NotFound), [(Failure, 127), (Interrupted, 127), (Interrupted, 127), (Interrupted, 127), (Interrupted, 127)]),
            (no_workdir(),                      [(Failure, 127), (Interrupted, 127), (Interrupted, 127), (Interrupted, 127), (Interrupted, 127)]),
            (cannot_start(ErrorKind::PermissionDenied),
                                                [(Failure, 126), (Interrupted, 126), (Interrupted, 126), (Interrupted, 126), (Interrupted, 126)]),
        ];
        for (end, expected) in &table {
            for ((stop_name, stop), expected) in STOPS.iter().zip(expected) {
                let verdict = classify(end, *stop);
                assert_eq!(
                    (verdict.outcome, verdict.exit_code),
                    *expected,
                    "{end:?} with {stop_name}"
                );
            }
        }
    }

    /// A stop seen before the command started. The stop request is the one
    /// that stopped it (a run keeps the first stop signal it sees), so the
    /// other columns cannot happen.
    #[test]
    fn stopped_before_it_started() {
        for (signal, exit_code) in [(SIGTERM, 143), (SIGINT, 130), (SIGHUP, 129)] {
            let end = AttemptEnd::Stopped(signal);
            let verdict = classify(&end, Some(Stop::Terminate(signal)));
            assert_eq!(
                (verdict.outcome, verdict.exit_code),
                (Interrupted, exit_code)
            );
            assert_eq!(verdict.status, None, "nothing ran");
            assert_eq!(verdict.reason, Some(end.describe()));
        }
    }

    /// The record keeps what the command did, even when `kron run` exits
    /// with the supervisor's signal; a command that did not run has a
    /// reason instead.
    #[test]
    fn the_record_keeps_the_commands_status() {
        let verdict = classify(&ended(exit(7)), Some(Stop::Terminate(SIGTERM)));
        assert_eq!((verdict.status, verdict.exit_code), (Some(exit(7)), 143));
        assert_eq!(verdict.reason, None);

        let verdict = classify(&cannot_start(ErrorKind::NotFound), None);
        assert_eq!(verdict.status, None);
        assert!(verdict.reason.unwrap().contains("cannot start `prog`"));
    }

    /// The footer names what the command left in its group.
    #[test]
    fn the_footer_names_leftovers() {
        let AttemptEnd::Ended(mut e) = ended(exit(0)) else {
            unreachable!()
        };
        e.left = vec![42];
        e.stopped = vec![7, 8];
        assert_eq!(
            AttemptEnd::Ended(e).describe(),
            "exit 0 after 1s; left 1 process (pid 42) running; \
             stopped 2 processes (pids 7, 8) it left"
        );
    }

    /// What ends the retries, stop requests aside.
    #[test]
    fn a_timed_out_attempt_failed_even_if_it_exited_0() {
        assert!(ended(exit(0)).succeeded());
        assert!(!timed_out(exit(0)).succeeded());
        assert!(!ended(exit(7)).succeeded());
        assert!(!cannot_start(ErrorKind::NotFound).succeeded());
        assert!(!AttemptEnd::Stopped(SIGTERM).succeeded());
    }
}
