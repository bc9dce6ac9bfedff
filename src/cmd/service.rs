//! `kron daemon install [--force] [--desktop]` and `kron daemon
//! uninstall`: the service-manager entry that starts the daemon at login
//! (see `service`). They write or remove a file and print the one line
//! that tells the service manager; they run neither `systemctl` nor
//! `launchctl`. Where no systemd runs they write the XDG autostart entry
//! (in a desktop session, or with `--desktop`) and print the line for the
//! login profile, which kron never edits.

use std::io::Write;
use std::path::PathBuf;

use super::out;
use crate::daemon::control;
use crate::dirs::Paths;
use crate::error::Error;
use crate::service::{self, Installed, Manager, ServiceError, session};

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
pub fn install(paths: &Paths, force: bool, desktop: bool) -> Result<(), Error> {
    let manager = Manager::current();
    if manager == Manager::Session {
        return install_session(paths, force, desktop);
    }
    if desktop {
        return Err(Error::Invalid(format!(
            "--desktop is for systems where no service manager runs; here {} starts kron \
             (set {}=none to use an autostart entry instead)",
            if manager == Manager::Systemd {
                "systemd"
            } else {
                "launchd"
            },
            service::MANAGER_VAR
        )));
    }
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
        (Manager::Session, _) => unreachable!("install_session"),
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

/// Where no service manager runs: the autostart entry for a desktop
/// session (written when one is seen, or with `--desktop`), and the line
/// for the login profile (printed).
fn install_session(paths: &Paths, force: bool, desktop: bool) -> Result<(), Error> {
    let spec = service::spec(paths, &this_exe()?);
    let mut stdout = std::io::stdout().lock();
    out!(
        stdout,
        "no systemd user manager runs here (a container, WSL, OpenRC or runit?):\n\
         nothing starts kron at login by itself"
    )?;
    let path = service::path(Manager::Session);
    let write = desktop || session::desktop_session();
    if write {
        let entry = service::render(Manager::Session, &spec);
        let what = match service::install(&path, &entry, force)? {
            Installed::Written => "wrote",
            Installed::Unchanged => "already installed:",
            Installed::Replaced => "replaced",
        };
        out!(stdout, "{what} {}", path.display())?;
        out!(
            stdout,
            "  your desktop session runs it when you log in: {}",
            session::profile_line(&spec).trim_end_matches(" >/dev/null 2>&1")
        )?;
    }
    let line = session::profile_line(&spec);
    match session::profile_with_line() {
        Some((profile, found)) if found == line => {
            out!(stdout, "{} starts it at login already:", profile.display())?;
            out!(stdout, "  {found}")?;
        }
        found => {
            let profile = session::suggested_profile();
            let logins = if write {
                "logins without a desktop too (a console, ssh)"
            } else {
                "every login"
            };
            out!(
                stdout,
                "to start it at {logins}, add this line to {}:",
                profile.display()
            )?;
            out!(stdout, "  {line}")?;
            if let Some((other, text)) = found {
                out!(stdout, "  (instead of `{text}` in {})", other.display())?;
            }
        }
    }
    if !write {
        out!(
            stdout,
            "in a desktop session, `kron daemon install --desktop` also writes {}, \
             which the session runs at login",
            path.display()
        )?;
    }
    if control::running(paths)?.is_none() {
        out!(stdout, "start it now with:")?;
        out!(stdout, "  kron daemon start")?;
    }
    Ok(())
}

pub fn uninstall() -> Result<(), Error> {
    let manager = Manager::current();
    let path = service::path(manager);
    let removed = service::uninstall(manager, &path)?;
    let mut stdout = std::io::stdout().lock();
    if manager == Manager::Session {
        return uninstall_session(&mut stdout, &path, &removed);
    }
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
        Manager::Session => unreachable!("uninstall_session"),
    };
    out!(stdout, "stop the daemon it started with:")?;
    out!(stdout, "  {line}")
}

/// The autostart entry is removed; a profile line is the user's to remove.
fn uninstall_session(
    stdout: &mut impl Write,
    path: &std::path::Path,
    removed: &[PathBuf],
) -> Result<(), Error> {
    for file in removed {
        out!(stdout, "removed {}", file.display())?;
    }
    let line = session::profile_with_line();
    if removed.is_empty() && line.is_none() {
        return out!(
            stdout,
            "nothing to remove: {} does not exist",
            path.display()
        );
    }
    if let Some((profile, text)) = line {
        out!(
            stdout,
            "kron does not edit {}: remove this line from it yourself:",
            profile.display()
        )?;
        out!(stdout, "  {text}")?;
    }
    Ok(())
}
