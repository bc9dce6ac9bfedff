//! `kron doctor`'s checks: what a user may get wrong in their setup, each
//! with what is wrong and the command that fixes it.
//!
//! Every check returns a [`Check`]; none prints, and none changes anything.
//! A check that cannot tell (no `timedatectl`, no service manager) says
//! `Unknown` rather than guessing. Depends on `taskfile`, `schedule`,
//! `daemon::control`, `ipc`, `service` and `cluster`.

use std::path::{Path, PathBuf};

use crate::daemon::control;
use crate::dirs::Paths;
use crate::ipc::{self, Request, Response};
use crate::schedule::Zone;
use crate::service::{self, Manager};
use crate::taskfile::{self, Cluster, Mail, TaskFile, load::LoadError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    /// Cannot tell.
    Unknown,
    /// Works, but probably not as the user wants.
    Warn,
    /// Broken: tasks do not run, or not as written.
    Fail,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    /// What was checked, in a word or two.
    pub what: &'static str,
    pub status: Status,
    pub detail: String,
    /// The command (or step) that fixes it.
    pub fix: Option<String>,
}

fn check(what: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check {
        what,
        status,
        detail: detail.into(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// What `doctor` needs from its caller.
pub struct Setup<'a> {
    /// With an absolute task file.
    pub paths: &'a Paths,
    /// The running kron binary (canonical).
    pub exe: &'a Path,
    /// What `kron daemon install` would write now, and where.
    pub service_path: PathBuf,
    pub service_text: String,
}

/// Every check, in the order a user should fix them.
pub fn run(setup: &Setup) -> Vec<Check> {
    let raw = std::fs::read_to_string(&setup.paths.task_file).ok();
    let doc = raw
        .as_deref()
        .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok());
    let path = &setup.paths.task_file;
    let loaded = path.exists().then(|| taskfile::load(path));
    // No file, or one without tasks: nothing is due, so a daemon that does
    // not run yet or does not start at login is no failure. A file that
    // does not load may hold tasks.
    let has_tasks = match &loaded {
        None => false,
        Some(Ok(file)) => !file.tasks.is_empty(),
        Some(Err(_)) => true,
    };
    let file = loaded.as_ref().and_then(|l| l.as_ref().ok());
    let mut checks = vec![task_file(path, loaded.as_ref())];
    if let Some(file) = file {
        checks.push(commands(file));
    }
    checks.extend([directories(setup.paths), history(setup.paths)]);
    checks.push(zones(doc.as_ref()));
    checks.push(system_zone(doc.as_ref()));
    checks.push(daemon(setup.paths, has_tasks));
    checks.push(autostart(setup, has_tasks));
    if Manager::current() == Manager::Systemd {
        checks.push(linger(service::lingering()));
    }
    if let Some(c) = sendmail(file, doc.as_ref()) {
        checks.push(c);
    }
    if let Some(cluster) = file.and_then(|f| f.cluster.as_ref()) {
        checks.extend(cluster_backend(cluster));
    }
    checks.push(clock());
    checks
}

/// `loaded` is `None` when the file does not exist.
fn task_file(path: &Path, loaded: Option<&Result<TaskFile, LoadError>>) -> Check {
    const WHAT: &str = "task file";
    let shown = path.display();
    let Some(loaded) = loaded else {
        return check(WHAT, Status::Warn, format!("{shown} does not exist yet"))
            .fix("kron add NAME --schedule '...' -- COMMAND, or kron edit");
    };
    match loaded {
        Ok(file) => {
            let paused = file.tasks.iter().filter(|t| t.settings.paused).count();
            check(
                WHAT,
                Status::Ok,
                format!(
                    "{shown}: {} task(s), {paused} paused; yours, not writable by others, valid",
                    file.tasks.len()
                ),
            )
        }
        Err(LoadError::Insecure(e)) => check(WHAT, Status::Fail, format!("{shown}: {}", e.reason))
            .fix(format!(
                "{} (kron and its daemon refuse it until then)",
                e.fix
            )),
        Err(LoadError::Invalid { diagnostics, .. }) => check(
            WHAT,
            Status::Fail,
            format!("{shown} has {} error(s)", diagnostics.len()),
        )
        .fix("kron check (to see them), then kron edit"),
        Err(e @ LoadError::Read { .. }) => check(WHAT, Status::Fail, e.to_string())
            .fix(format!("chmod 600 {shown}, or check its directory")),
    }
}

/// What will make runs fail although the file is valid: a workdir that is
/// not there, a program not on the task's PATH (`runner::preflight`).
/// Warnings: a directory may be mounted, a program installed, in time.
fn commands(file: &TaskFile) -> Check {
    const WHAT: &str = "commands";
    let problems: Vec<String> = file
        .tasks
        .iter()
        .flat_map(crate::runner::preflight::warnings)
        .collect();
    if problems.is_empty() {
        return check(
            WHAT,
            Status::Ok,
            "every task's workdir and programs are there",
        );
    }
    check(WHAT, Status::Warn, problems.join("; ")).fix(
        "create the directory or install the program before the task runs, or change the \
         task (kron set NAME KEY=VALUE, or kron edit)",
    )
}

/// kron's directories are its own ([`Paths::check`], which every other verb
/// applies before it starts).
fn directories(paths: &Paths) -> Check {
    const WHAT: &str = "directories";
    match paths.check() {
        Ok(()) => check(
            WHAT,
            Status::Ok,
            "yours, not writable by others (runtime, state, task file's)",
        ),
        Err(e) => check(
            WHAT,
            Status::Fail,
            format!("{}: {}", e.path.display(), e.reason),
        )
        .fix(format!(
            "{} (kron and its daemon refuse it until then)",
            e.fix
        )),
    }
}

/// Runs recorded nowhere but in `$RUNTIME/unrecorded`: their history
/// could not be written (the state disk is full).
fn history(paths: &Paths) -> Check {
    const WHAT: &str = "history";
    match crate::history::unrecorded(paths) {
        0 => check(WHAT, Status::Ok, "every run's record is in its history"),
        n => check(
            WHAT,
            Status::Fail,
            format!(
                "{n} run(s) could not be recorded in {} and wait in {}",
                paths.history_dir().display(),
                paths.unrecorded_dir().display()
            ),
        )
        .fix(format!(
            "free some space on the disk of {} (df -h {0}); the next run writes them",
            paths.state_dir.display()
        )),
    }
}

/// The `timezone` values of `[defaults]` and of every task, with where.
fn zone_names(doc: &toml_edit::DocumentMut) -> Vec<(String, String)> {
    let mut names = Vec::new();
    let mut add = |table: Option<&dyn toml_edit::TableLike>, place: String| {
        if let Some(zone) = table
            .and_then(|t| t.get("timezone"))
            .and_then(|z| z.as_str())
        {
            names.push((place, zone.to_string()));
        }
    };
    add(
        doc.get("defaults").and_then(|d| d.as_table_like()),
        "[defaults]".into(),
    );
    if let Some(tasks) = doc.get("tasks").and_then(|t| t.as_table_like()) {
        for (name, item) in tasks.iter() {
            add(item.as_table_like(), format!("task {name}"));
        }
    }
    names
}

fn zones(doc: Option<&toml_edit::DocumentMut>) -> Check {
    const WHAT: &str = "time zones";
    let names = doc.map(zone_names).unwrap_or_default();
    let unknown: Vec<String> = names
        .iter()
        .filter(|(_, zone)| Zone::get(zone).is_err())
        .map(|(place, zone)| format!("{place}: `{zone}`"))
        .collect();
    if !unknown.is_empty() {
        return check(
            WHAT,
            Status::Fail,
            format!("unknown time zone(s): {}", unknown.join(", ")),
        )
        .fix(
            "use IANA names such as Europe/Berlin or America/New_York \
             (listed by `timedatectl list-timezones`, or under /usr/share/zoneinfo)",
        );
    }
    let mut distinct: Vec<&str> = names.iter().map(|(_, z)| z.as_str()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.is_empty() {
        check(WHAT, Status::Ok, "the task file names none")
    } else {
        check(
            WHAT,
            Status::Ok,
            format!("all known: {}", distinct.join(", ")),
        )
    }
}

fn system_zone(doc: Option<&toml_edit::DocumentMut>) -> Check {
    const WHAT: &str = "system zone";
    match jiff::tz::TimeZone::try_system() {
        Ok(tz) => {
            let name = tz.iana_name().map_or_else(
                || "found (TZ or /etc/localtime), without an IANA name".to_string(),
                str::to_string,
            );
            check(WHAT, Status::Ok, name)
        }
        Err(_) => {
            // Tasks without a zone of their own (or from [defaults]) use it.
            let relies = doc.is_some_and(|doc| {
                let defaults = doc
                    .get("defaults")
                    .and_then(|d| d.as_table_like())
                    .is_some_and(|d| d.contains_key("timezone"));
                let tasks = doc.get("tasks").and_then(|t| t.as_table_like());
                !defaults
                    && tasks.is_some_and(|tasks| {
                        tasks.iter().any(|(_, t)| {
                            t.as_table_like()
                                .is_some_and(|t| !t.contains_key("timezone"))
                        })
                    })
            });
            let status = if relies { Status::Fail } else { Status::Warn };
            check(
                WHAT,
                status,
                "cannot be determined (TZ is unset or unknown and /etc/localtime is missing): \
                 schedules without a timezone run in UTC",
            )
            .fix(
                "sudo timedatectl set-timezone Area/City, or set TZ=Area/City, \
                 or `timezone = \"Area/City\"` in [defaults]",
            )
        }
    }
}

fn daemon(paths: &Paths, has_tasks: bool) -> Check {
    const WHAT: &str = "daemon";
    let pid = match control::running(paths) {
        Ok(Some(pid)) => pid,
        Ok(None) if !has_tasks => {
            return check(
                WHAT,
                Status::Ok,
                "not running, and there are no tasks for it to run yet \
                 (`kron add` and `kron edit` start it)",
            );
        }
        Ok(None) => {
            return check(WHAT, Status::Fail, "not running: no task runs on schedule")
                .fix("kron daemon start (and kron daemon install, to start it at login)");
        }
        Err(e) => {
            return check(WHAT, Status::Fail, format!("cannot tell: {e}"))
                .fix(format!("check {}", paths.runtime_dir.display()));
        }
    };
    let status = match ipc::request(&paths.socket_path(), &Request::Status) {
        Ok(Response::Status(status)) => status,
        other => {
            let why = match other {
                Err(e) => e.to_string(),
                Ok(answer) => format!("unexpected answer {answer:?}"),
            };
            let pid = pid.map_or_else(|| "pid unknown".into(), |p| format!("pid {p}"));
            return check(
                WHAT,
                Status::Fail,
                format!("running ({pid}) but not answering: {why}"),
            )
            .fix("kron daemon restart");
        }
    };
    let by = if service::runs_in_unit(status.pid) {
        ", started by systemd"
    } else {
        ""
    };
    let running = format!("running (pid {}{by})", status.pid);
    if let Some(error) = &status.load_error {
        let first = error.lines().next().unwrap_or_default();
        return check(
            WHAT,
            Status::Fail,
            format!("{running}, but the last change of the task file was not loaded: {first}"),
        )
        .fix("kron check, then kron edit: the daemon runs the old tasks until the file is valid");
    }
    if status.task_file != paths.task_file {
        return check(
            WHAT,
            Status::Warn,
            format!(
                "{running}, with the task file {}, not {}",
                status.task_file.display(),
                paths.task_file.display()
            ),
        )
        .fix("kron daemon restart (with the --file or KRON_FILE you want)");
    }
    if status.version != env!("CARGO_PKG_VERSION") {
        return check(
            WHAT,
            Status::Warn,
            format!(
                "{running}, but it is kron {}, this is {}",
                status.version,
                env!("CARGO_PKG_VERSION")
            ),
        )
        .fix("kron daemon restart");
    }
    check(
        WHAT,
        Status::Ok,
        format!("{running}, {} task(s) loaded", status.tasks),
    )
}

fn autostart(setup: &Setup, has_tasks: bool) -> Check {
    const WHAT: &str = "autostart";
    let path = &setup.service_path;
    let manager = Manager::current();
    // Why the unit cannot start the daemon here: no systemd manager runs.
    let no_manager = match manager {
        Manager::Systemd => service::user_manager().err(),
        Manager::Launchd | Manager::Session => None,
    };
    // A daemon kron started holds the lock the unit's would need: the
    // unit's daemon would exit, and systemd mark the unit failed.
    let stop = if control::running(setup.paths).is_ok_and(service::started_by_kron) {
        "kron daemon stop && "
    } else {
        ""
    };
    // What is missing fails only when there are tasks to run.
    let missing = if has_tasks {
        Status::Fail
    } else {
        Status::Warn
    };
    if manager == Manager::Session
        && !path.exists()
        && let Some((profile, line)) = service::session::profile_with_line()
    {
        return profile_autostart(setup, &profile, &line);
    }
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let nothing_starts =
                "after a reboot nothing runs until a kron command starts the daemon";
            if let Some(why) = no_manager {
                return check(
                    WHAT,
                    Status::Warn,
                    format!("not installed, and {why}: {nothing_starts}"),
                );
            }
            let (status, after) = match manager {
                Manager::Systemd if program_on_path("systemctl").is_none() => {
                    (Status::Warn, " (and this system has no systemctl)")
                }
                Manager::Session => (Status::Warn, " (no systemd user manager here)"),
                _ => (missing, ""),
            };
            let install = match manager {
                Manager::Systemd => {
                    format!("kron daemon install && {stop}systemctl --user enable --now kron")
                }
                Manager::Launchd => "kron daemon install, then the launchctl line it prints".into(),
                Manager::Session => {
                    "kron daemon install, then add the line it prints to your login profile".into()
                }
            };
            return check(
                WHAT,
                status,
                format!("not installed{after}: {nothing_starts}"),
            )
            .fix(install);
        }
        Err(e) => {
            return check(
                WHAT,
                Status::Fail,
                format!("reading {}: {e}", path.display()),
            )
            .fix(format!(
                "kron daemon install --force (replaces {})",
                path.display()
            ));
        }
    };
    let shown = path.display();
    let program = service::program(&text);
    let names_this = program
        .as_deref()
        .is_some_and(|p| std::fs::canonicalize(p).is_ok_and(|p| p == setup.exe));
    if !names_this {
        let runs = program.unwrap_or_else(|| "no program".into());
        let gone = if Path::new(&runs).exists() {
            ""
        } else {
            ", which does not exist"
        };
        return check(
            WHAT,
            Status::Fail,
            format!(
                "{shown} runs {runs}{gone}, not this kron ({})",
                setup.exe.display()
            ),
        )
        .fix("kron daemon install --force, then the line it prints");
    }
    if text != setup.service_text {
        return check(
            WHAT,
            Status::Warn,
            format!(
                "{shown} differs from what `kron daemon install` writes now \
                 (another --file, XDG directory or TZ?)"
            ),
        )
        .fix("kron daemon install --force, then the line it prints");
    }
    if let Some(why) = no_manager {
        return check(
            WHAT,
            Status::Warn,
            format!("{shown} runs this kron, but {why}: nothing starts it at login"),
        );
    }
    if manager == Manager::Systemd && !enabled(path) {
        return check(
            WHAT,
            missing,
            format!("{shown} is installed but not enabled: it does not start at login"),
        )
        .fix(format!("{stop}systemctl --user enable --now kron"));
    }
    check(WHAT, Status::Ok, format!("{shown} runs this kron"))
}

/// Where no service manager runs, a line of the login profile `profile`
/// that runs `kron daemon start` is autostart too; it must run this kron.
fn profile_autostart(setup: &Setup, profile: &Path, line: &str) -> Check {
    const WHAT: &str = "autostart";
    let program = service::session::line_program(line).unwrap_or_default();
    let found = if program.contains('/') {
        Some(PathBuf::from(&program))
    } else {
        program_on_path(&program)
    };
    let this = found.is_some_and(|p| std::fs::canonicalize(p).is_ok_and(|p| p == setup.exe));
    let shown = profile.display();
    if this {
        return check(
            WHAT,
            Status::Ok,
            format!("{shown} starts this kron at login (`{line}`)"),
        );
    }
    let spec = service::spec(setup.paths, setup.exe);
    check(
        WHAT,
        Status::Fail,
        format!(
            "{shown} starts {program} at login, not this kron ({})",
            setup.exe.display()
        ),
    )
    .fix(format!(
        "replace that line in {shown} with: {}",
        service::session::profile_line(&spec)
    ))
}

/// Whether the user's systemd manager, which runs the unit, outlives
/// their sessions; `Unknown`, saying why, where that cannot be told.
fn linger(lingering: Result<bool, String>) -> Check {
    const WHAT: &str = "linger";
    let lingering = match lingering {
        Ok(lingering) => lingering,
        Err(why) => return check(WHAT, Status::Unknown, format!("cannot tell: {why}")),
    };
    if lingering {
        return check(
            WHAT,
            Status::Ok,
            "enabled: tasks run while you are logged out",
        );
    }
    check(
        WHAT,
        Status::Warn,
        "off: systemd stops your daemon when your last session ends, so tasks run only \
         while you are logged in (cron runs them regardless)",
    )
    .fix("loginctl enable-linger")
}

/// Whether a `*.wants/kron.service` link sits beside the unit.
fn enabled(unit: &Path) -> bool {
    let Some(dir) = unit.parent() else {
        return false;
    };
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name().to_string_lossy().ends_with(".wants")
                && e.path().join(service::UNIT).symlink_metadata().is_ok()
        })
    })
}

/// The tasks that mail their output (`mailto` set, `mail` not `never`):
/// from the model when the file is valid, else every table whose text sets
/// `mailto`.
fn mail_users(file: Option<&TaskFile>, doc: Option<&toml_edit::DocumentMut>) -> Vec<String> {
    if let Some(file) = file {
        return file
            .tasks
            .iter()
            .filter(|t| {
                t.settings
                    .mailto
                    .as_deref()
                    .is_some_and(|m| !m.trim().is_empty())
                    && t.settings.mail != Mail::Never
            })
            .map(|t| format!("task {}", t.name))
            .collect();
    }
    let Some(doc) = doc else {
        return Vec::new();
    };
    let sets = |t: Option<&dyn toml_edit::TableLike>| {
        t.and_then(|t| t.get("mailto"))
            .and_then(|m| m.as_str())
            .is_some_and(|m| !m.trim().is_empty())
    };
    let mut users = Vec::new();
    if sets(doc.get("defaults").and_then(|d| d.as_table_like())) {
        users.push("[defaults]".to_string());
    }
    if let Some(tasks) = doc.get("tasks").and_then(|t| t.as_table_like()) {
        for (name, item) in tasks.iter() {
            if sets(item.as_table_like()) {
                users.push(format!("task {name}"));
            }
        }
    }
    users
}

/// Whether `sendmail` is there for the tasks that mail; `None` when none
/// does.
fn sendmail(file: Option<&TaskFile>, doc: Option<&toml_edit::DocumentMut>) -> Option<Check> {
    const WHAT: &str = "sendmail";
    let mut users = mail_users(file, doc);
    if users.is_empty() {
        return None;
    }
    if users.len() > 3 {
        let more = users.len() - 3;
        users.truncate(3);
        users.push(format!("{more} more"));
    }
    let found = program_on_path("sendmail").or_else(|| {
        ["/usr/sbin/sendmail", "/usr/lib/sendmail"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| is_executable(p))
    });
    Some(match found {
        Some(path) => check(
            WHAT,
            Status::Ok,
            format!("{} (for mailto in {})", path.display(), users.join(", ")),
        ),
        None => check(
            WHAT,
            Status::Fail,
            format!(
                "mailto is set ({}) but there is no sendmail: no mail is sent",
                users.join(", ")
            ),
        )
        .fix(
            "install a mail transfer agent that provides sendmail \
             (e.g. `apt install msmtp-mta` or `postfix`), or remove mailto",
        ),
    })
}

fn clock() -> Check {
    const WHAT: &str = "clock";
    let Some(timedatectl) = program_on_path("timedatectl") else {
        return check(
            WHAT,
            Status::Unknown,
            "cannot tell whether it is synchronised (no timedatectl)",
        );
    };
    let output = std::process::Command::new(timedatectl)
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => match String::from_utf8_lossy(&out.stdout).trim() {
            "yes" => check(WHAT, Status::Ok, "synchronised (NTP)"),
            "no" => check(
                WHAT,
                Status::Fail,
                "not synchronised: tasks fire by a clock that may be wrong",
            )
            .fix("sudo timedatectl set-ntp true (or start chrony or ntpd)"),
            other => check(WHAT, Status::Unknown, format!("timedatectl says `{other}`")),
        },
        _ => check(
            WHAT,
            Status::Unknown,
            "cannot tell whether it is synchronised (timedatectl cannot reach systemd-timedated)",
        ),
    }
}

/// The cluster's backend, as a claim would find it: reachable, a primary,
/// durable, its schema one this kron knows, its clock near ours, and every
/// host defining each task alike.
fn cluster_backend(cluster: &Cluster) -> Vec<Check> {
    const WHAT: &str = "cluster backend";
    let mut backend = match crate::cluster::connect(cluster) {
        Ok(b) => b,
        Err(e) => {
            return vec![
                check(
                    WHAT,
                    Status::Fail,
                    format!("{e}: cluster tasks do not run on this host"),
                )
                .fix("start the backend, or correct [cluster] backend / backend_file"),
            ];
        }
    };
    let health = match backend.health() {
        Ok(h) => h,
        Err(e) => return vec![check(WHAT, Status::Fail, e.to_string())],
    };
    let mut checks = Vec::new();
    let address = crate::cluster::address(cluster).unwrap_or_default();
    if !crate::taskfile::is_redis_address(&address)
        && let Some(host) = crate::cluster::postgres::unencrypted_host(&address)
    {
        checks.push(
            check(
                "cluster encryption",
                Status::Warn,
                format!(
                    "the connection to {host} is not encrypted: the network sees every claim \
                     and outcome, and can answer in the database's place"
                ),
            )
            .fix("add sslmode=require to the address (and SSL_CERT_FILE for a private CA)"),
        );
    }
    if health.standby {
        checks.push(
            check(
                WHAT,
                Status::Fail,
                format!(
                    "{} is a standby (read-only): claims fail there",
                    health.server
                ),
            )
            .fix("point [cluster] backend at the primary"),
        );
    } else {
        let schema = match health.schema {
            None => "kron's tables are created at the first claim".to_string(),
            Some(v) => format!("kron's schema at version {v}"),
        };
        checks.push(check(
            WHAT,
            Status::Ok,
            format!("{} reachable, a primary; {schema}", health.server),
        ));
    }
    if let Some(v) = health
        .schema
        .filter(|v| *v > crate::cluster::SCHEMA_VERSION)
    {
        checks.push(
            check(
                WHAT,
                Status::Fail,
                format!(
                    "its schema is at version {v}, newer than this kron's ({}): claims are refused",
                    health.expected_schema
                ),
            )
            .fix("upgrade kron on this host"),
        );
    }
    for (setting, value) in &health.weak {
        let (risk, fix) = crate::cluster::risk(setting, value);
        let found = check(
            "cluster durability",
            Status::Warn,
            format!("{setting} = {value}: {risk}"),
        );
        checks.push(match fix {
            Some(fix) => found.fix(format!("{fix} on the backend")),
            None => found,
        });
    }
    match crate::cluster::clock_skew(backend.as_mut(), cluster.max_skew) {
        Ok(None) => checks.push(check(
            "cluster clock",
            Status::Ok,
            format!(
                "within max_skew ({}) of the backend's",
                crate::units::format_duration(cluster.max_skew)
            ),
        )),
        Ok(Some(offset)) => checks.push(
            check(
                "cluster clock",
                Status::Fail,
                crate::cluster::skew_message(offset, cluster.max_skew),
            )
            .fix("synchronise this host's clock (NTP)"),
        ),
        Err(e) => checks.push(check("cluster clock", Status::Unknown, e.to_string())),
    }
    match backend.divergences() {
        Ok(d) if d.is_empty() => {}
        Ok(d) => {
            let names: Vec<&str> = d.iter().map(|d| d.task.as_str()).collect();
            checks.push(
                check(
                    "cluster definitions",
                    Status::Warn,
                    format!(
                        "hosts define {} differently (each still runs once)",
                        names.join(", ")
                    ),
                )
                .fix("deploy the same task file to every host; kron cluster status shows whose differs"),
            );
        }
        Err(e) => checks.push(check("cluster definitions", Status::Unknown, e.to_string())),
    }
    checks
}

/// `program` in `PATH`, if it is there and executable.
pub fn program_on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| is_executable(p))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
