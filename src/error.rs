//! The top-level error, its exit status, and the one format in which kron
//! reports a failure: `kron: <message>` on stderr, after any diagnostics.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::diag::Diagnostic;
use crate::dirs::Insecure;
use crate::schedule::{ParseError, UnknownZone};
use crate::taskfile::edit::EditError;
use crate::taskfile::install::InstallError;
use crate::taskfile::load::LoadError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid schedule `{expr}`: {source}")]
    Schedule { expr: String, source: ParseError },
    #[error(transparent)]
    Zone(#[from] UnknownZone),
    #[error(
        "invalid instant `{text}`: expected {} in the local zone",
        crate::units::INSTANT_FORMS
    )]
    Instant { text: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Install(InstallError),
    /// A task name no task in the file has: with the closest name when one
    /// is close enough to be a typo, else with the file (perhaps the wrong
    /// one).
    #[error("{}", no_such_task(name, file, suggestion.as_deref()))]
    NoSuchTask {
        name: String,
        file: PathBuf,
        suggestion: Option<String>,
    },
    /// Input kron cannot accept, already explained in the message.
    #[error("{0}")]
    Invalid(String),
    /// Something failed, already explained in the message.
    #[error("{0}")]
    Failed(String),
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
    /// The verb already said what happened (or has nothing to say): exit
    /// with this status, printing nothing (`kron run` exits with the task's).
    #[error("exit status {0}")]
    Exit(u8),
    /// `kron daemon status` when no daemon runs: exit status 3.
    #[error("the daemon is not running")]
    NotRunning,
    #[error(transparent)]
    Daemon(#[from] crate::daemon::DaemonError),
    #[error(transparent)]
    Ipc(#[from] crate::ipc::IpcError),
    #[error(transparent)]
    Runner(#[from] crate::runner::RunnerError),
}

/// `no task named `goo`; did you mean `good`?`, else `no task named `goo`
/// in FILE`: the one message for a name no task has, whichever verb.
fn no_such_task(name: &str, file: &std::path::Path, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("no task named `{name}`; did you mean `{s}`?"),
        None => format!(
            "no task named `{name}` in {} (`kron list` shows the tasks)",
            file.display()
        ),
    }
}

impl Error {
    /// [`Error::NoSuchTask`] for `name`, suggesting the closest of `names`.
    pub fn no_such_task<'a>(
        name: &str,
        file: &std::path::Path,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Error {
        let names: Vec<&str> = names.into_iter().collect();
        Error::NoSuchTask {
            name: name.into(),
            file: file.into(),
            suggestion: crate::diag::suggest(name, &names).map(String::from),
        }
    }
}

/// A change of the task file that cannot be made: the file is invalid as it
/// is, or the change is refused (a name that exists, one that does not).
impl From<EditError> for Error {
    fn from(e: EditError) -> Error {
        match e {
            EditError::Invalid(e) => Error::Load(e),
            refused => Error::Install(InstallError::Refused(refused.to_string())),
        }
    }
}

/// A task file that is not text when a verb reads it to change it is
/// reported as when any verb loads it.
impl From<InstallError> for Error {
    fn from(e: InstallError) -> Error {
        match e {
            InstallError::NotText(e) => Error::Load(e),
            other => Error::Install(other),
        }
    }
}

impl From<Insecure> for Error {
    fn from(e: Insecure) -> Error {
        Error::Load(LoadError::Insecure(e))
    }
}

impl Error {
    /// 1: something failed; 2: the input or the task file is invalid; 3:
    /// (`kron daemon status` only) the daemon is not running.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Schedule { .. }
            | Error::Zone(_)
            | Error::Instant { .. }
            | Error::NoSuchTask { .. }
            | Error::Invalid(_)
            | Error::Load(LoadError::Invalid { .. } | LoadError::Insecure(_))
            | Error::Install(
                InstallError::Invalid { .. }
                | InstallError::Refused(_)
                | InstallError::Insecure(_)
                | InstallError::NotText(_),
            ) => 2,
            Error::Failed(_)
            | Error::Io { .. }
            | Error::Output(_)
            | Error::Load(LoadError::Read { .. })
            | Error::Install(InstallError::Io { .. }) => 1,
            Error::Exit(code) => *code,
            Error::NotRunning => 3,
            Error::Daemon(_) | Error::Ipc(_) | Error::Runner(_) => 1,
        }
    }

    /// The file diagnostics that explain this error, if any.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Load(LoadError::Invalid { diagnostics, .. })
            | Error::Install(InstallError::Invalid { diagnostics, .. }) => diagnostics,
            _ => &[],
        }
    }
}

/// Prints the error and returns its exit status. A closed stdout (as in
/// `kron list | head -1`) is not a failure.
pub fn report(error: &Error) -> ExitCode {
    if let Error::Output(e) = error
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        return ExitCode::SUCCESS;
    }
    if let Error::Exit(code) = error {
        return ExitCode::from(*code);
    }
    for diagnostic in error.diagnostics() {
        eprintln!("{diagnostic}");
    }
    eprintln!("kron: {error}");
    ExitCode::from(error.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RunnerError;
    use crate::runner::signals::SignalsError;

    #[test]
    fn a_runner_error_reaches_the_user_with_its_own_message() {
        let io = || std::io::Error::from_raw_os_error(nix::libc::EMFILE);
        let error = Error::from(RunnerError::from(SignalsError::from(io())));
        assert_eq!(
            error.to_string(),
            format!("installing signal handlers: {}", io())
        );
        assert_eq!(error.exit_code(), 1);
    }
}
