//! `kron daemon install [--force]` and `kron daemon uninstall`: the
//! service-manager entry that starts the daemon at login (see `service`).
//! They write or remove a file and print the one line that tells the
//! service manager; they run neither `systemctl` nor `launchctl`.

use std::io::Write;
use std::path::PathBuf;

use super::out;
use crate::daemon::control;
use crate::dirs::Paths;
use crate::error::Error;
use crate::service::{self, Installed, Manager, ServiceError};

impl From<ServiceError> for Error {
    fn from(e: ServiceError) -> Error {
        match e {
            ServiceError::Io {
                action,
                path,
                source,
            } => Error::Io {
                action,
                path,
                source,
            },
            e @ ServiceError::Different { .. } => Error::Failed(e.to_string()),
        }
    }
}

/// The running kron binary, absolute with symlinks resolved, so that the
/// entry names the file itself (`~/.cargo/bin/kron`, not a relative path).
pub fn this_exe() -> Result<PathBuf, Error> {
    std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|source| Error::Io {
            action: "finding",
            path: "the running kron binary".into(),
            source,
        })
}

/// `paths` must already be absolute (see `cmd::daemon`).
pub fn install(paths: &Paths, force: bool) -> Result<(), Error> {
    let manager = Manager::current();
    let spec = service::spec(paths, &this_exe()?);
    let path = service::path(manager);
    let outcome = service::install(&path, &service::render(manager, &spec), force)?;
    let mut stdout = std::io::stdout().lock();
    let what = match outcome {
        Installed::Written => "wrote",
        Installed::Unchanged => "already installed:",
        Installed::Replaced => "replaced",
    };
    out!(stdout, "{what} {}", path.display())?;
    out!(stdout, "  it runs: {}", service::command_line(&spec))?;
    // A daemon started by kron (not by the service manager) holds the
    // lock: the service's daemon would find it and exit.
    let stop = if service::started_by_kron(control::running(paths)?) {
        "kron daemon stop && "
    } else {
        ""
    };
    let line = match (manager, outcome) {
        (Manager::Systemd, Installed::Replaced) => format!(
            "{stop}systemctl --user daemon-reload && systemctl --user enable kron && \
             systemctl --user restart kron"
        ),
        (Manager::Systemd, _) => format!("{stop}systemctl --user enable --now kron"),
        (Manager::Launchd, Installed::Replaced) => format!(
            "{stop}launchctl bootout gui/$(id -u)/{label}; launchctl bootstrap gui/$(id -u) {}",
            service::shell_word(&path.to_string_lossy()),
            label = service::LAUNCHD_LABEL
        ),
        (Manager::Launchd, _) => {
            format!(
                "{stop}launchctl bootstrap gui/$(id -u) {}",
                service::shell_word(&path.to_string_lossy())
            )
        }
    };
    out!(stdout, "start it now and at every login with:")?;
    out!(stdout, "  {line}")?;
    if manager == Manager::Systemd && service::lingering() == Ok(false) {
        out!(
            stdout,
            "to keep it running while you are logged out (as cron does):"
        )?;
        out!(stdout, "  loginctl enable-linger")?;
    }
    Ok(())
}

pub fn uninstall() -> Result<(), Error> {
    let manager = Manager::current();
    let path = service::path(manager);
    let removed = service::uninstall(manager, &path)?;
    let mut stdout = std::io::stdout().lock();
    if removed.is_empty() {
        return out!(
            stdout,
            "nothing to remove: {} does not exist",
            path.display()
        );
    }
    for file in &removed {
        out!(stdout, "removed {}", file.display())?;
    }
    // The unit's file is gone, so `systemctl disable` (which needs it
    // before systemd 256) has nothing left to do: kron removed its links.
    let line = match manager {
        Manager::Systemd => {
            "systemctl --user stop kron; systemctl --user daemon-reload".to_string()
        }
        Manager::Launchd => format!("launchctl bootout gui/$(id -u)/{}", service::LAUNCHD_LABEL),
    };
    out!(stdout, "stop the daemon it started with:")?;
    out!(stdout, "  {line}")
}
