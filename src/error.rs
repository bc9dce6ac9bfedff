//! The top-level error, its exit status, and the one format in which kron
//! reports a failure: `kron: <message>` on stderr.

use std::process::ExitCode;

use crate::schedule::{ParseError, UnknownZone};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid schedule `{expr}`: {source}")]
    Schedule { expr: String, source: ParseError },
    #[error(transparent)]
    Zone(#[from] UnknownZone),
    #[error(
        "invalid instant `{text}`: expected RFC 3339 such as 2026-03-08T01:59:00-05:00 or ...Z"
    )]
    Instant { text: String },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    /// 1: something failed; 2: the input was invalid.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Schedule { .. } | Error::Zone(_) | Error::Instant { .. } => 2,
            Error::Output(_) => 1,
        }
    }
}

/// Prints the error and returns its exit status. A closed stdout (as in
/// `kron next | head -1`) is not a failure.
pub fn report(error: &Error) -> ExitCode {
    if let Error::Output(e) = error
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    eprintln!("kron: {error}");
    ExitCode::from(error.exit_code())
}
