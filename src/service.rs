//! Starting the daemon at login through the system's service manager: a
//! systemd user unit (`$XDG_CONFIG_HOME/systemd/user/kron.service`), or on
//! macOS a launchd agent (`~/Library/LaunchAgents/kron.plist`). Where no
//! systemd runs (containers, WSL, OpenRC, runit), an XDG autostart entry
//! and a login-profile line instead ([`session`]).
//!
//! The entry runs `EXE daemon run`, the same daemon `kron daemon start`
//! runs: it takes the same single-instance lock and reads and writes the
//! same files, so the two can never run side by side. To keep it that way
//! the entry carries what chooses those files in the installing shell and
//! that a service manager would not pass on: `--file` when the task file is
//! not the default one, and `XDG_CONFIG_HOME`, `XDG_STATE_HOME`,
//! `XDG_RUNTIME_DIR` and `TZ` when they are set to something other than
//! what the service manager gives. `KillMode=process`: stopping or
//! restarting the unit stops the daemon only, and runs in progress go on
//! in their supervisors, as they do after `kron daemon stop`.
//!
//! This module renders, writes and removes the entry and never runs
//! `systemctl` or `launchctl`: the verbs print the line to run. Depends on
//! `dirs` (and `export::systemd` for systemd's quoting).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::dirs::{self, Paths};
use crate::export::systemd::{exec_word, quoted_value};

pub mod session;

/// The service manager that starts programs at login on this system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Manager {
    Systemd,
    Launchd,
    /// None: the login session starts kron, through an XDG autostart entry
    /// (desktop sessions) or a line in the login profile ([`session`]).
    Session,
}

/// Overrides which [`Manager`] kron writes for: `systemd`, `launchd` or
/// `none` (for an image built where systemd does not run yet, and tests).
pub const MANAGER_VAR: &str = "KRON_SERVICE_MANAGER";

impl Manager {
    /// [`MANAGER_VAR`] if it names one; else launchd on macOS, systemd
    /// where the system was booted with it (`/run/systemd/system`, as
    /// sd_booted(3) tells), and none elsewhere.
    pub fn current() -> Manager {
        match std::env::var(MANAGER_VAR).as_deref() {
            Ok("systemd") => return Manager::Systemd,
            Ok("launchd") => return Manager::Launchd,
            Ok("none") => return Manager::Session,
            _ => {}
        }
        if cfg!(target_os = "macos") {
            Manager::Launchd
        } else if Path::new("/run/systemd/system").is_dir() {
            Manager::Systemd
        } else {
            Manager::Session
        }
    }
}

/// The launchd agent's label.
pub const LAUNCHD_LABEL: &str = "kron";
/// The systemd unit's name.
pub const UNIT: &str = "kron.service";
/// How long systemd waits before restarting a daemon that failed.
pub const RESTART_SEC: u32 = 5;

/// What the entry runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The kron binary, absolute and canonical.
    pub exe: PathBuf,
    /// `--file`, when the task file is not the default one.
    pub task_file: Option<PathBuf>,
    /// Variables to set, in a stable order.
    pub env: Vec<(String, String)>,
    /// launchd only: where the daemon's output goes (systemd: the journal).
    pub log: PathBuf,
}

/// `$XDG_CONFIG_HOME` if it is set and absolute, else `~/.config`.
pub fn config_home() -> PathBuf {
    xdg("XDG_CONFIG_HOME").unwrap_or_else(|| dirs::home().join(".config"))
}

fn xdg(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// Where the entry lives.
pub fn path(manager: Manager) -> PathBuf {
    match manager {
        Manager::Systemd => config_home().join("systemd/user").join(UNIT),
        Manager::Launchd => dirs::home()
            .join("Library/LaunchAgents")
            .join(format!("{LAUNCHD_LABEL}.plist")),
        Manager::Session => session::desktop_entry_path(),
    }
}

/// What to run for `paths` (already absolute) with the binary `exe`, from
/// this process's environment.
pub fn spec(paths: &Paths, exe: &Path) -> Spec {
    let home = dirs::home();
    let default_file = config_home().join("kron/tasks.toml");
    let task_file = (paths.task_file != default_file).then(|| paths.task_file.clone());
    let mut env = Vec::new();
    let mut keep = |var: &str, default: Option<PathBuf>| {
        if let Some(value) = xdg(var).filter(|v| Some(v) != default.as_ref()) {
            env.push((var.to_string(), value.to_string_lossy().into_owned()));
        }
    };
    keep("XDG_CONFIG_HOME", Some(home.join(".config")));
    keep("XDG_STATE_HOME", Some(home.join(".local/state")));
    // systemd's user manager sets /run/user/UID itself.
    let run_user = PathBuf::from(format!("/run/user/{}", nix::unistd::getuid()));
    keep("XDG_RUNTIME_DIR", Some(run_user));
    if let Some(tz) = std::env::var("TZ").ok().filter(|tz| !tz.is_empty()) {
        env.push(("TZ".into(), tz));
    }
    Spec {
        exe: exe.to_path_buf(),
        task_file,
        env,
        log: paths.daemon_log(),
    }
}

/// The command line, as words.
fn argv(spec: &Spec) -> Vec<String> {
    daemon_argv(spec, "run")
}

/// `kron [--file F] daemon VERB`: what a unit (`run`) or a login entry
/// (`start`) runs.
pub(crate) fn daemon_argv(spec: &Spec, verb: &str) -> Vec<String> {
    let mut argv = vec![spec.exe.to_string_lossy().into_owned()];
    if let Some(file) = &spec.task_file {
        argv.push("--file".into());
        argv.push(file.to_string_lossy().into_owned());
    }
    argv.push("daemon".into());
    argv.push(verb.into());
    argv
}

/// The command line, quoted for a POSIX shell where needed.
pub fn command_line(spec: &Spec) -> String {
    argv(spec)
        .iter()
        .map(|w| shell_word(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first word of a command line, double quotes (with backslash
/// escapes) taken off: the program a unit's or an entry's line runs.
pub(crate) fn first_word(line: &str) -> Option<String> {
    let Some(rest) = line.strip_prefix('"') else {
        return Some(line.split_whitespace().next()?.to_string());
    };
    let mut word = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => word.extend(chars.next()),
            c => word.push(c),
        }
    }
    Some(word)
}

/// `word` for a POSIX shell (`shell::word`).
pub fn shell_word(word: &str) -> String {
    crate::shell::word(word)
}

/// The entry's text for `manager`.
pub fn render(manager: Manager, spec: &Spec) -> String {
    match manager {
        Manager::Systemd => systemd_unit(spec),
        Manager::Launchd => launchd_plist(spec),
        Manager::Session => session::desktop_entry(spec),
    }
}

/// The systemd user unit.
pub fn systemd_unit(spec: &Spec) -> String {
    let exec: Vec<String> = argv(spec).iter().map(|w| exec_word(w)).collect();
    let mut unit = format!(
        "\
# Written by `kron daemon install`; `kron daemon uninstall` removes it.
# The same daemon as `kron daemon start` (same lock and files: only one
# runs). KillMode=process: stopping it leaves runs in progress running.
[Unit]
Description=kron: per-user task scheduler
Documentation=man:kron(1) man:kron-tasks(5)
StartLimitIntervalSec=2min
StartLimitBurst=5

[Service]
Type=exec
ExecStart={}
Restart=on-failure
RestartSec={RESTART_SEC}s
KillMode=process
",
        exec.join(" ")
    );
    for (key, value) in &spec.env {
        unit.push_str(&format!(
            "Environment={}\n",
            quoted_value(&format!("{key}={value}"), false)
        ));
    }
    unit.push_str("\n[Install]\nWantedBy=default.target\n");
    unit
}

/// The launchd agent: started at login (`RunAtLoad`), started again when
/// it exits with a failure (`KeepAlive` / `SuccessfulExit = false`), its
/// output appended to the same `daemon.log` as `kron daemon start`'s.
pub fn launchd_plist(spec: &Spec) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \
         \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Written by `kron daemon install`; `kron daemon uninstall` removes it. -->\n\
         <plist version=\"1.0\">\n<dict>\n",
    );
    let key = |out: &mut String, k: &str| out.push_str(&format!("\t<key>{k}</key>\n"));
    let string = |out: &mut String, indent: &str, s: &str| {
        out.push_str(&format!("{indent}<string>{}</string>\n", xml_escape(s)));
    };
    key(&mut out, "Label");
    string(&mut out, "\t", LAUNCHD_LABEL);
    key(&mut out, "ProgramArguments");
    out.push_str("\t<array>\n");
    for word in argv(spec) {
        string(&mut out, "\t\t", &word);
    }
    out.push_str("\t</array>\n");
    if !spec.env.is_empty() {
        key(&mut out, "EnvironmentVariables");
        out.push_str("\t<dict>\n");
        for (k, v) in &spec.env {
            out.push_str(&format!("\t\t<key>{}</key>\n", xml_escape(k)));
            string(&mut out, "\t\t", v);
        }
        out.push_str("\t</dict>\n");
    }
    key(&mut out, "RunAtLoad");
    out.push_str("\t<true/>\n");
    key(&mut out, "KeepAlive");
    out.push_str("\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n");
    key(&mut out, "ThrottleInterval");
    out.push_str(&format!("\t<integer>{RESTART_SEC}</integer>\n"));
    key(&mut out, "ProcessType");
    string(&mut out, "\t", "Background");
    let log = spec.log.to_string_lossy();
    key(&mut out, "StandardOutPath");
    string(&mut out, "\t", &log);
    key(&mut out, "StandardErrorPath");
    string(&mut out, "\t", &log);
    out.push_str("</dict>\n</plist>\n");
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(
        "{} exists and differs from the one kron would write{}; \
         use --force to replace it",
        path.display(),
        exe.as_ref().map(|e| format!(" (it runs {e})")).unwrap_or_default()
    )]
    Different { path: PathBuf, exe: Option<String> },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServiceError {
    let path = path.to_path_buf();
    move |source| ServiceError::Io {
        action,
        path,
        source,
    }
}

/// What [`install`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installed {
    /// There was no entry.
    Written,
    /// The same entry was there already.
    Unchanged,
    /// A different entry was replaced (`--force`).
    Replaced,
}

/// Writes `contents` to `path` atomically (0644, like the files of the
/// service manager's own), refusing to replace a different file unless
/// `force`.
pub fn install(path: &Path, contents: &str, force: bool) -> Result<Installed, ServiceError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io_error("reading", path)(e)),
    };
    let outcome = match existing {
        None => Installed::Written,
        Some(text) if text == contents => return Ok(Installed::Unchanged),
        Some(_) if force => Installed::Replaced,
        Some(text) => {
            return Err(ServiceError::Different {
                path: path.into(),
                exe: program(&text),
            });
        }
    };
    let dir = path.parent().expect("the entry's path has a directory");
    std::fs::create_dir_all(dir).map_err(io_error("creating", dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error("writing", path)(e)
    })?;
    Ok(outcome)
}

/// Removes the entry and, for systemd, the links `systemctl enable` made
/// to it (`*.wants/kron.service` beside it), which is what `systemctl
/// disable` removes: before systemd 256, `disable` refuses a unit whose
/// file is gone. Returns the paths removed; none when nothing was
/// installed.
pub fn uninstall(manager: Manager, path: &Path) -> Result<Vec<PathBuf>, ServiceError> {
    let mut removed = Vec::new();
    if manager == Manager::Systemd
        && let Some(dir) = path.parent()
        && let Ok(entries) = std::fs::read_dir(dir)
    {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.ends_with(".wants") || name.ends_with(".requires")) {
                continue;
            }
            let link = entry.path().join(UNIT);
            let ours = std::fs::read_link(&link)
                .is_ok_and(|target| target.file_name() == Some(UNIT.as_ref()));
            if ours {
                std::fs::remove_file(&link).map_err(io_error("removing", &link))?;
                removed.push(link);
            }
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => removed.push(path.into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("removing", path)(e)),
    }
    Ok(removed)
}

/// The program an entry runs: the first word of systemd's `ExecStart=`
/// (unquoted, `%%` undone), launchd's first `ProgramArguments` string, or
/// the first word of an autostart entry's `Exec=`.
pub fn program(text: &str) -> Option<String> {
    if let Some(line) = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("ExecStart="))
    {
        let line = line.trim_start_matches(['-', '@', ':', '+', '!']);
        let word = first_word(line)?;
        return Some(word.replace("%%", "%").replace("$$", "$"));
    }
    if text.contains("[Desktop Entry]") {
        return session::exec_program(text);
    }
    let after = text.split("<key>ProgramArguments</key>").nth(1)?;
    let start = after.find("<string>")? + "<string>".len();
    let end = start + after[start..].find("</string>")?;
    Some(
        after[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&amp;", "&"),
    )
}

/// Whether systemd keeps this user's manager (and so the daemon) running
/// while the user is logged out (`loginctl enable-linger`); else why that
/// cannot be told (the system was not booted with systemd).
pub fn lingering() -> Result<bool, String> {
    if !Path::new(SYSTEMD_BOOTED).is_dir() {
        return Err(format!(
            "the system was not booted with systemd (no {SYSTEMD_BOOTED})"
        ));
    }
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .ok_or("this user has no name in the user database")?;
    Ok(Path::new("/var/lib/systemd/linger")
        .join(user.name)
        .exists())
}

/// The directory that exists when systemd is the system's init.
const SYSTEMD_BOOTED: &str = "/run/systemd/system";

/// Whether this user's systemd manager runs, the one that would start the
/// unit: its private socket, `$XDG_RUNTIME_DIR/systemd/private` (what
/// `systemctl --user` talks to), is there. Else what is true instead:
/// systemd is not the system's init (containers, WSL, OpenRC, runit), or
/// it is but this user's manager is not running.
pub fn user_manager() -> Result<(), String> {
    let runtime = xdg("XDG_RUNTIME_DIR")
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", nix::unistd::getuid())));
    let socket = runtime.join("systemd/private");
    use std::os::unix::fs::FileTypeExt;
    if std::fs::metadata(&socket).is_ok_and(|m| m.file_type().is_socket()) {
        return Ok(());
    }
    if Path::new(SYSTEMD_BOOTED).is_dir() {
        Err(format!(
            "your systemd user manager is not running (no {})",
            socket.display()
        ))
    } else {
        Err(format!(
            "systemd is not running on this system (no {SYSTEMD_BOOTED} and no {})",
            socket.display()
        ))
    }
}

/// Whether a daemon runs that the service manager did not start, from
/// `control::running`: it holds the lock the service's daemon would
/// need, so it must be stopped before the service starts.
pub fn started_by_kron(running: Option<Option<u32>>) -> bool {
    match running {
        Some(Some(pid)) => !runs_in_unit(pid),
        Some(None) => true,
        None => false,
    }
}

/// Whether process `pid` runs in the systemd unit `kron.service` (its
/// cgroup ends with it), i.e. systemd started this daemon.
pub fn runs_in_unit(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|text| {
        text.lines()
            .any(|line| line.trim_end().ends_with(&format!("/{UNIT}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            exe: "/opt/my tools/kron".into(),
            task_file: Some("/home/me/100%/tasks.toml".into()),
            env: vec![("XDG_STATE_HOME".into(), "/srv/state".into())],
            log: "/home/me/.local/state/kron/daemon.log".into(),
        }
    }

    #[test]
    fn the_unit_runs_the_daemon_with_its_file() {
        let unit = systemd_unit(&spec());
        assert!(
            unit.contains(
                "ExecStart=\"/opt/my tools/kron\" --file /home/me/100%%/tasks.toml daemon run\n"
            ),
            "{unit}"
        );
        assert!(unit.contains("Environment=\"XDG_STATE_HOME=/srv/state\"\n"));
        assert!(unit.contains("Restart=on-failure\n"));
        assert_eq!(program(&unit).as_deref(), Some("/opt/my tools/kron"));
        let plain = Spec {
            exe: "/usr/bin/kron".into(),
            task_file: None,
            env: Vec::new(),
            log: "/x".into(),
        };
        let unit = systemd_unit(&plain);
        assert!(
            unit.contains("ExecStart=/usr/bin/kron daemon run\n"),
            "{unit}"
        );
        assert!(!unit.contains("Environment="));
    }

    #[test]
    fn the_plist_runs_the_daemon_with_its_file() {
        let plist = launchd_plist(&spec());
        assert!(plist.contains(
            "\t<array>\n\t\t<string>/opt/my tools/kron</string>\n\t\t<string>--file</string>\n\
             \t\t<string>/home/me/100%/tasks.toml</string>\n\t\t<string>daemon</string>\n\
             \t\t<string>run</string>\n\t</array>\n"
        ));
        assert_eq!(program(&plist).as_deref(), Some("/opt/my tools/kron"));
        assert_eq!(
            plist.matches("<dict>").count(),
            plist.matches("</dict>").count()
        );
    }

    #[test]
    fn install_refuses_a_different_entry_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("systemd/user/kron.service");
        assert_eq!(install(&path, "a\n", false).unwrap(), Installed::Written);
        assert_eq!(install(&path, "a\n", false).unwrap(), Installed::Unchanged);
        let e = install(&path, "ExecStart=/old/kron daemon run\n", false);
        assert!(matches!(e, Err(ServiceError::Different { .. })));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n");
        std::fs::write(&path, "ExecStart=/old/kron daemon run\n").unwrap();
        let e = install(&path, "b\n", false).unwrap_err().to_string();
        assert!(
            e.contains("(it runs /old/kron)") && e.contains("--force"),
            "{e}"
        );
        assert_eq!(install(&path, "b\n", true).unwrap(), Installed::Replaced);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b\n");
    }

    #[test]
    fn uninstall_removes_the_enable_links_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kron.service");
        std::fs::write(&path, "x").unwrap();
        let wants = dir.path().join("default.target.wants");
        std::fs::create_dir(&wants).unwrap();
        std::os::unix::fs::symlink(&path, wants.join(UNIT)).unwrap();
        std::os::unix::fs::symlink("/elsewhere/other.service", wants.join("other.service"))
            .unwrap();
        let removed = uninstall(Manager::Systemd, &path).unwrap();
        assert_eq!(removed, vec![wants.join(UNIT), path.clone()]);
        assert!(wants.join("other.service").symlink_metadata().is_ok());
        assert!(uninstall(Manager::Systemd, &path).unwrap().is_empty());
    }
}
