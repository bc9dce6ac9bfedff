//! What a supervisor does after a run's final outcome is recorded (and its
//! lock released): keep the Prometheus textfile current (`metrics`), mail
//! the output (`mailto`, `mail`), and run the `on_failure`, `on_success` or
//! `on_missed` hook. Called once per run from `runner::supervise`, never
//! per attempt, and by `kron __missed` for the `missed` records the daemon
//! writes (`runner::missed`), which has no run to follow.
//!
//! - **Which runs.** `on_success` after a success; `on_failure` after a
//!   failure or a timeout; `on_missed` after a `missed` record (instants
//!   that did not run: the daemon was not running, `catch_up`,
//!   `max_lateness`), once per record, which may stand for a stretch of
//!   many instants. A skipped run did not run and an interrupted one
//!   was stopped on purpose (`kron kill`, Ctrl-C, `overlap = "replace"`), so
//!   neither runs a hook; nor do instants missed while the task was paused,
//!   which the user chose. Mail goes to `mailto` (when set and not empty)
//!   after a failure, a timeout or a missed record with `mail = "failure"`
//!   (the default; even if it printed nothing: the body then says how it
//!   ended), also after any other run that printed something with
//!   `"always"`, never with `"never"`.
//! - **The output** is the run's section of the run log (its frame lines
//!   included), copied to a private 0600 file in `$RUNTIME` that the hook
//!   finds in `KRON_LOG` and the mail body is made from; it is deleted
//!   afterwards. A missed record has no section: the file holds its reason.
//! - **A hook** is the task's shell with `-c`, in the task's directory, with
//!   the task's environment (the fixed base, `env`, `KRON_TASK`,
//!   `KRON_RUN_ID`, `KRON_SCHEDULED_AT`) plus `KRON_OUTCOME`,
//!   `KRON_EXIT_CODE`, `KRON_ATTEMPTS`, `KRON_DURATION_MS`, `KRON_LOG` and
//!   `KRON_HOOK` (its key); `on_missed` gets `KRON_MISSED_COUNT`,
//!   `KRON_MISSED_FIRST`, `KRON_MISSED_LAST` and `KRON_MISSED_REASON`
//!   instead of `KRON_EXIT_CODE` ([`missed_env`]); standard input `/dev/null`, in a session and
//!   process group of its own. It runs like an attempt (`runner::attempt`):
//!   its output goes to the run log between `--> kron hook` and `<-- kron
//!   hook` lines, it is stopped after [`HOOK_TIMEOUT`] (SIGTERM, SIGKILL
//!   after `kill_grace`), and a stop signal to the supervisor stops it. Its
//!   failure is logged there and returned as a warning; it is never
//!   retried. Hooks never trigger hooks: a hook is not a run, and a run
//!   started from a hook (`kron run` inside it sees `KRON_HOOK`, and `kron
//!   run --detach` there is not handed to the daemon) runs none.
//! - **Mail** is one message to `sendmail -t -oi` (found on `PATH`, else
//!   `/usr/sbin/sendmail` or `/usr/lib/sendmail`) with `To`, a `Subject`
//!   naming the task, the outcome and the host, and the output as the body.
//!   Without sendmail, a warning is given once (a marker file in the state
//!   directory remembers it, until sendmail is found again).
//!
//! Nothing here fails a run: every problem becomes a warning, in the run
//! log and in the returned report. Part of `runner` (it is what a
//! supervisor does after a run); depends on `runlog` and `metrics`.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::attempt::{self, Ended, Limits, Sink};
use super::signals::Signals;
use super::{Report, Request, spawn};
use crate::history::{Outcome, Record, Stretch};
use crate::runlog::{FOOTER, HEADER, RunLog};
use crate::taskfile::{Leftovers, Mail, Task};
use crate::units::format_duration;

/// How long a hook may run before it is stopped like a timed-out command.
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(300);
/// How long sendmail may take to accept a message.
pub const SENDMAIL_TIMEOUT: Duration = Duration::from_secs(60);
/// Where sendmail is looked for after `PATH`.
pub const SENDMAIL_PATHS: [&str; 2] = ["/usr/sbin/sendmail", "/usr/lib/sendmail"];

/// The prefix of the line before a hook's output in the run log.
pub const HOOK_START: &str = "--> kron hook ";
/// The prefix of the line after it.
pub const HOOK_END: &str = "<-- kron hook ";

/// Metrics, mail and the hook for `report`'s run, in that order; problems
/// are added to `report.warnings`.
pub fn after_run(req: &Request, report: &mut Report, signals: &mut Signals) {
    if let Some(file) = &req.task.settings.metrics_file
        && let Err(e) = crate::metrics::update(req.paths, file, &report.record)
    {
        report.warnings.push(e.to_string());
    }
    notify(req, report, signals);
}

/// Mail and the `on_missed` hook for a `missed` record the daemon wrote
/// (and counted in the metrics itself): what `kron __missed` does.
pub fn after_missed(req: &Request, report: &mut Report, signals: &mut Signals) {
    notify(req, report, signals);
}

/// Whether a `missed` record of `task` is followed by anything: its
/// `on_missed` hook, or a mail. The daemon starts `kron __missed` only for
/// such tasks.
pub fn wants_missed(task: &Task) -> bool {
    hook_for(task, Outcome::Missed).is_some() || mail_due(task, Outcome::Missed)
}

/// Mail and the hook for `report`'s run.
fn notify(req: &Request, report: &mut Report, signals: &mut Signals) {
    let task = req.task;
    let record = &report.record;
    let hook = hook_for(task, record.outcome);
    let mail = mail_due(task, record.outcome);
    if hook.is_none() && !mail {
        return;
    }
    let mut log = RunLog::open(&req.paths.logs_dir(), &task.name, &task.settings.log).ok();
    let output = match record.outcome {
        // Neither ran a command here: the output is the record's reason.
        Outcome::Missed | Outcome::Abandoned => Output::missed(req, record),
        _ => Output::extract(req, record),
    };
    let output = match output {
        Ok(output) => output,
        Err(e) => {
            note(
                &mut log,
                &mut report.warnings,
                format!("{}: not notified: {e}", task.name),
            );
            return;
        }
    };
    if mail
        && (matches!(
            record.outcome,
            Outcome::Failure | Outcome::Timeout | Outcome::Missed | Outcome::Abandoned
        ) || output.printed)
        && let Err(text) = send_mail(req, report, &output, signals, &mut log)
    {
        note(&mut log, &mut report.warnings, text);
    }
    if let Some((key, command)) = hook {
        if std::env::var_os("KRON_HOOK").is_some() {
            // Started from a hook: running ours could loop.
            let text = format!(
                "{}: {key} not run: run {} was started from a hook (KRON_HOOK is set)",
                task.name, record.run_id
            );
            note(&mut log, &mut report.warnings, text);
        } else if let Err(text) = run_hook(req, report, key, command, &output, signals, &mut log) {
            note(&mut log, &mut report.warnings, text);
        }
    }
}

/// A warning, in the run log and for the caller.
fn note(log: &mut Option<RunLog>, warnings: &mut Vec<String>, text: String) {
    line(log, &format!("kron: warning: {text}"));
    warnings.push(text);
}

/// The hook that follows `outcome`, with its key.
fn hook_for(task: &Task, outcome: Outcome) -> Option<(&'static str, &str)> {
    let s = &task.settings;
    match outcome {
        Outcome::Success => s.on_success.as_deref().map(|c| ("on_success", c)),
        Outcome::Failure | Outcome::Timeout | Outcome::Abandoned => {
            s.on_failure.as_deref().map(|c| ("on_failure", c))
        }
        Outcome::Missed => s.on_missed.as_deref().map(|c| ("on_missed", c)),
        Outcome::Skipped | Outcome::Interrupted => None,
    }
}

/// Whether `outcome` is mailed (if the run printed something, for a
/// success). Missed instants are mailed as failures are: work that did not
/// happen.
fn mail_due(task: &Task, outcome: Outcome) -> bool {
    let s = &task.settings;
    let addressed = s.mailto.as_deref().is_some_and(|m| !m.trim().is_empty());
    addressed
        && match s.mail {
            Mail::Never => false,
            Mail::Failure => matches!(
                outcome,
                Outcome::Failure | Outcome::Timeout | Outcome::Missed | Outcome::Abandoned
            ),
            Mail::Always => outcome != Outcome::Skipped,
        }
}

/// The run's section of the run log, in a private file.
struct Output {
    path: PathBuf,
    file: File,
    /// Whether the command printed anything (lines besides the frames).
    printed: bool,
}

impl Output {
    fn extract(req: &Request, record: &Record) -> Result<Output, String> {
        let dir = &req.paths.runtime_dir;
        crate::dirs::create_private_dir(dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let path = dir.join(format!(".output-{}.log", record.run_id));
        let file = private_file(&path)?;
        let mut output = Output {
            path,
            file,
            printed: false,
        };
        let mut writer = Lines {
            file: &output.file,
            printed: false,
        };
        crate::runlog::read::copy_run(
            &req.paths.logs_dir(),
            &record.task,
            &record.run_id,
            None,
            &mut writer,
        )
        .map_err(|e| e.to_string())?;
        output.printed = writer.printed;
        Ok(output)
    }

    /// For a `missed` record, which has no section in the run log: a
    /// private file with the instants and the reason, for `KRON_LOG` and
    /// the mail's body.
    fn missed(req: &Request, record: &Record) -> Result<Output, String> {
        let dir = &req.paths.runtime_dir;
        crate::dirs::create_private_dir(dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let path = dir.join(format!(".output-{}.log", record.run_id));
        let mut file = private_file(&path)?;
        let reason = record.reason.as_deref().unwrap_or("missed");
        writeln!(file, "kron: {}: {reason}", record.task)
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(Output {
            path,
            file,
            printed: false,
        })
    }

    /// The file, read from its start.
    fn reader(&self) -> std::io::Result<File> {
        let mut file = self.file.try_clone()?;
        file.rewind()?;
        Ok(file)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copies run-log lines to a file, noting lines that are not frames.
/// (`copy_run` writes one whole line per call.)
struct Lines<'a> {
    file: &'a File,
    printed: bool,
}

impl Write for Lines<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let frame = [HEADER, FOOTER, HOOK_START, HOOK_END, "kron: "]
            .iter()
            .any(|p| buf.starts_with(p.as_bytes()));
        if !frame && !buf.trim_ascii().is_empty() {
            self.printed = true;
        }
        self.file.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

fn private_file(path: &Path) -> Result<File, String> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("creating {}: {e}", path.display()))
}

/// Copies a hook's or sendmail's output into the run log.
struct ToLog<'a>(&'a mut Option<RunLog>);

impl Sink for ToLog<'_> {
    fn output(&mut self, bytes: &[u8]) {
        if let Some(log) = self.0
            && log.write(bytes).is_err()
        {
            *self.0 = None;
        }
    }
}

fn line(log: &mut Option<RunLog>, text: &str) {
    if let Some(l) = log
        && l.write_line(text).is_err()
    {
        *log = None;
    }
}

/// How a helper process ended, for a log line: `exit 0 after 12ms`.
fn describe(end: &Ended) -> String {
    use std::os::unix::process::ExitStatusExt;
    let status = match (end.status.code(), end.status.signal()) {
        (Some(code), _) => format!("exit {code}"),
        (_, Some(signal)) => super::signal_name(signal),
        _ => "ended".into(),
    };
    let after = format_duration(end.duration);
    if end.timed_out {
        format!("stopped after {after} ({status})")
    } else {
        format!("{status} after {after}")
    }
}

fn run_hook(
    req: &Request,
    report: &Report,
    key: &str,
    command: &str,
    output: &Output,
    signals: &mut Signals,
    log: &mut Option<RunLog>,
) -> Result<(), String> {
    let task = req.task;
    let r = &report.record;
    let mut plan = spawn::plan(
        task,
        &spawn::AttemptInfo {
            run_id: &r.run_id,
            attempt: r.attempts,
            scheduled: r.scheduled,
            cluster: None,
        },
    );
    plan.program = task.settings.shell.clone();
    plan.args = vec!["-c".into(), command.into()];
    plan.stdin = None;
    // `nice`, `ioclass` and `limits` are the command's, not its hooks'.
    plan.resources = Default::default();
    plan.env.remove("KRON_ATTEMPT");
    for (key, value) in [
        ("KRON_HOOK", key.to_string()),
        ("KRON_OUTCOME", r.outcome.as_str().to_string()),
        ("KRON_ATTEMPTS", r.attempts.to_string()),
        ("KRON_DURATION_MS", r.duration_ms.to_string()),
        ("KRON_LOG", output.path.display().to_string()),
    ] {
        plan.env.insert(key.into(), value);
    }
    match &r.missed {
        // Nothing ran: no exit code, and the stretch of instants instead.
        Some(stretch) => {
            for (key, value) in missed_env(stretch, r.reason.as_deref()) {
                plan.env.insert(key.into(), value);
            }
        }
        None => {
            plan.env
                .insert("KRON_EXIT_CODE".into(), report.exit_code.to_string());
        }
    }
    line(
        log,
        &format!("{HOOK_START}{key} for run {}: {command}", r.run_id),
    );
    let failed = |what: String| format!("{}: {key} hook for run {} {what}", task.name, r.run_id);
    let (reader, writer) = std::io::pipe().map_err(|e| failed(format!("not run: {e}")))?;
    let child = spawn::spawn(&plan, writer, None, &req.paths.runtime_dir).map_err(|e| {
        line(log, &format!("{HOOK_END}{key} for run {}: {e}", r.run_id));
        failed(format!("could not start: {e}"))
    })?;
    let end = watch(
        child,
        reader,
        signals,
        HOOK_TIMEOUT,
        task.settings.kill_grace,
        log,
    );
    let how = describe(&end);
    line(log, &format!("{HOOK_END}{key} for run {} {how}", r.run_id));
    if end.status.success() && !end.timed_out {
        Ok(())
    } else {
        Err(failed(format!(
            "failed: {how} (not retried; its output is in the run log)"
        )))
    }
}

/// The variables an `on_missed` hook gets for `stretch`: how many instants
/// (at least, for a stretch longer than `daemon::plan::COUNT_LIMIT`), the
/// first and the last (RFC 3339, UTC), and why.
pub fn missed_env(stretch: &Stretch, reason: Option<&str>) -> [(&'static str, String); 4] {
    [
        ("KRON_MISSED_COUNT", stretch.count.to_string()),
        ("KRON_MISSED_FIRST", stretch.first.to_string()),
        ("KRON_MISSED_LAST", stretch.last.to_string()),
        ("KRON_MISSED_REASON", reason.unwrap_or_default().to_string()),
    ]
}

/// Waits for a hook or sendmail as for an attempt, its output going to the
/// run log, stopped after `timeout`. What either starts in the background
/// (a delivery process, say) is its own business, as with cron:
/// `leftovers` is about the task's command.
fn watch(
    child: spawn::Child,
    reader: std::io::PipeReader,
    signals: &mut Signals,
    timeout: Duration,
    kill_grace: Duration,
    log: &mut Option<RunLog>,
) -> Ended {
    let limits = Limits {
        timeout: Some(timeout),
        kill_grace,
        leftovers: Leftovers::Keep,
    };
    attempt::watch(
        child,
        reader,
        signals,
        &limits,
        &mut ToLog(log),
        Instant::now(),
    )
}

/// The sendmail program: on `PATH`, else in [`SENDMAIL_PATHS`].
pub fn sendmail() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("sendmail"))
            .find(|p| executable(p))
    });
    on_path.or_else(|| {
        SENDMAIL_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| executable(p))
    })
}

fn executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The marker that says the missing-sendmail warning was given.
fn warned_marker(req: &Request) -> PathBuf {
    req.paths.state_dir.join("sendmail-missing-warned")
}

fn send_mail(
    req: &Request,
    report: &Report,
    output: &Output,
    signals: &mut Signals,
    log: &mut Option<RunLog>,
) -> Result<(), String> {
    let task = req.task;
    let r = &report.record;
    let to = task.settings.mailto.as_deref().unwrap_or_default().trim();
    let marker = warned_marker(req);
    let Some(program) = sendmail() else {
        if marker.exists() {
            return Ok(());
        }
        let _ = crate::dirs::create_private_dir(&req.paths.state_dir);
        let _ = private_file(&marker);
        return Err(format!(
            "{}: mailto is set ({to}) but there is no sendmail on PATH or at {}: no mail is \
             sent. Install a mail transfer agent that provides it (msmtp-mta, postfix, ...) \
             or remove mailto. This warning is given once.",
            task.name,
            SENDMAIL_PATHS.join(" or ")
        ));
    };
    let _ = std::fs::remove_file(&marker);
    let message_path = req
        .paths
        .runtime_dir
        .join(format!(".mail-{}.eml", r.run_id));
    let mut message = private_file(&message_path)?;
    let cleanup = Cleanup(&message_path);
    let mut body = output
        .reader()
        .map_err(|e| format!("reading {}: {e}", output.path.display()))?;
    message
        .write_all(headers(task, report, to).as_bytes())
        .and_then(|()| std::io::copy(&mut body, &mut message).map(drop))
        .and_then(|()| message.rewind())
        .map_err(|e| format!("writing {}: {e}", message_path.display()))?;
    let failed = |what: String| format!("{}: mail for run {} to {to} {what}", task.name, r.run_id);
    let (reader, writer) = std::io::pipe().map_err(|e| failed(format!("not sent: {e}")))?;
    let env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let child = spawn::start(
        &program,
        &program.to_string_lossy(),
        &["-t".into(), "-oi".into()],
        &env,
        None,
        [message.as_fd(), writer.as_fd(), writer.as_fd()],
        None,
    )
    .map_err(|e| failed(format!("not sent: cannot start {}: {e}", program.display())))?;
    drop(writer);
    let grace = Duration::from_secs(5);
    let end = watch(child, reader, signals, SENDMAIL_TIMEOUT, grace, log);
    drop(cleanup);
    if end.status.success() && !end.timed_out {
        line(
            log,
            &format!(
                "kron: mailed run {} to {to} through {}",
                r.run_id,
                program.display()
            ),
        );
        Ok(())
    } else {
        Err(failed(format!(
            "failed: {} {}",
            program.display(),
            describe(&end)
        )))
    }
}

/// Removes a file when dropped.
struct Cleanup<'a>(&'a Path);

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}

/// The message's header and the first lines of its body.
fn headers(task: &Task, report: &Report, to: &str) -> String {
    let r = &report.record;
    let host = hostname();
    let status = match r.outcome {
        Outcome::Success | Outcome::Missed => String::new(),
        _ => format!(" (exit {})", report.exit_code),
    };
    let summary = match &r.missed {
        Some(stretch) => format!(
            "Task {task} on {host}: {more}{count} scheduled instant(s) from {first} to {last} \
             did not run.\n`kron why {task}` says why of each; the reason follows.\n",
            task = task.name,
            more = if stretch.more { "over " } else { "" },
            count = stretch.count,
            first = stretch.first,
            last = stretch.last,
        ),
        None => format!(
            "Task {task} on {host}: {outcome}{status} after {attempts} attempt(s), {duration}.\n\
             Run {run_id}; `kron logs {task} --run {run_id}` shows this output again.\n",
            task = task.name,
            outcome = r.outcome.as_str(),
            run_id = r.run_id,
            attempts = r.attempts,
            duration = format_duration(Duration::from_millis(r.duration_ms)),
        ),
    };
    format!(
        "To: {to}\n\
         Subject: kron: {task} {outcome} on {host}{status}\n\
         Auto-Submitted: auto-generated\n\
         MIME-Version: 1.0\n\
         Content-Type: text/plain; charset=UTF-8\n\
         Content-Transfer-Encoding: 8bit\n\
         X-Kron-Task: {task}\n\
         X-Kron-Run-Id: {run_id}\n\
         X-Kron-Outcome: {outcome}\n\
         \n\
         {summary}\
         \n",
        task = task.name,
        outcome = r.outcome.as_str(),
        run_id = r.run_id,
    )
}

/// This machine's name, for the subject.
fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty() && !h.chars().any(char::is_control))
        .unwrap_or_else(|| "localhost".into())
}
