//! `kron import [FILE | -] [--system] [--dry-run]`: a crontab into tasks.
//!
//! All or nothing: when any line cannot be converted, every such line is
//! reported with its number and nothing is imported (so that running the
//! import again after fixing the crontab does not add tasks twice). The
//! tasks are appended to the task file's text under its lock
//! (`taskfile::edit::append_imported`, as `kron add` would one by one, each
//! under a `# kron: imported from FILE` line), so the rest of the file
//! stays byte for byte, and installed only if the result is valid.
//!
//! Importing twice must not run every job twice: a line whose schedule and
//! command equal an existing task's is refused, naming the task, unless
//! `--allow-duplicates`. `--replace` is `crontab FILE`: the tasks marked as
//! imported are removed in the same transaction (after a confirmation on a
//! terminal, `--yes` elsewhere, and with a backup of the old file), and
//! their names are free again, so a job keeps its name and history.
//!
//! Mail changes meaning: cron mails whatever a job prints, kron only a
//! failed run's output. The import says so (on stderr with `--dry-run`)
//! before anything runs, with how to keep cron's behaviour.

use std::collections::HashSet;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;

use super::{Ctx, out};
use crate::cli::ImportArgs;
use crate::crontab::{self, Imported, Problem};
use crate::error::Error;
use crate::schedule::Zone;
use crate::taskfile::edit::{self, EditError, NewTask};
use crate::taskfile::install::{self, InstallError};
use crate::taskfile::{self, Layer, Mail, Task};

pub fn run(ctx: &Ctx, args: &ImportArgs) -> Result<(), Error> {
    if !args.system && is_system_path(&args.input) {
        return Err(Error::Invalid(format!(
            "{} is a system crontab, with a user column after the schedule; \
             import it with --system (kron import --system {})",
            args.input, args.input
        )));
    }
    let (label, text) = read_input(&args.input)?;
    let me = if args.system {
        Some(current_user()?)
    } else {
        None
    };
    let parsed = crontab::parse(&text, me.as_deref());
    if !args.system
        && let Some(user) = user_column(&parsed.jobs)
    {
        return Err(Error::Invalid(format!(
            "{label} looks like a system crontab: the sixth field of every job is a user \
             (`{user}`), which would become part of the command; import it with --system \
             (kron import --system {}), or if `{user}` is the program, write its path",
            args.input
        )));
    }
    let mut problems = parsed.problems;

    let path = ctx.paths.task_file.clone();
    let _lock = if args.dry_run {
        None
    } else {
        Some(install::lock(&path)?)
    };
    let current = install::read(&path)?;
    let (defaults, existing) = match &current {
        Some(text) => {
            let file = taskfile::parse(text, &path)?;
            (file.defaults, file.tasks)
        }
        None => (Layer::default(), Vec::new()),
    };
    // --replace: the tasks an earlier import added go, and free their names.
    let replaced = match (&current, args.replace) {
        (Some(text), true) => edit::imported(text, &path).map_err(|e| edit_error(e, &path))?,
        _ => Vec::new(),
    };
    let kept: Vec<&Task> = existing
        .iter()
        .filter(|t| !replaced.contains(&t.name))
        .collect();
    let mut taken: HashSet<String> = kept.iter().map(|t| t.name.clone()).collect();
    let system_zone = Zone::system();
    let mut tasks: Vec<Imported> = Vec::new();
    // A job that a replaced task ran (same schedule, same command) keeps
    // that task's name, and so its history.
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let former: Vec<&Task> = existing
        .iter()
        .filter(|t| replaced.contains(&t.name))
        .collect();
    for job in &parsed.jobs {
        let same = former.iter().find(|t| {
            words(&t.schedule_text).eq_ignore_ascii_case(&words(&job.schedule))
                && t.command == crate::taskfile::TaskCommand::Shell(job.command.clone())
        });
        let name = match same {
            Some(t) if taken.insert(t.name.clone()) => t.name.clone(),
            _ => crontab::unique_name(job, &mut taken),
        };
        match job.to_task(name, &defaults, &system_zone) {
            Ok(task) => tasks.push(task),
            Err(message) => problems.push(Problem {
                line: job.line,
                message,
            }),
        }
    }
    refuse_ended(&mut tasks, &mut problems, current.as_deref(), &path);
    problems.sort_by_key(|p| p.line);
    let duplicates = if args.allow_duplicates {
        Vec::new()
    } else {
        take_duplicates(&mut tasks, &kept)
    };

    let mut stderr = std::io::stderr().lock();
    for skipped in &parsed.skipped {
        let you = me.as_deref().unwrap_or_default();
        let _ = writeln!(
            stderr,
            "{label}:{}: {} (you are `{you}`)",
            skipped.line, skipped.message
        );
    }
    for problem in &problems {
        let _ = writeln!(stderr, "{label}:{}: {}", problem.line, problem.message);
    }
    for (line, task) in &duplicates {
        let _ = writeln!(
            stderr,
            "{label}:{line}: same schedule and command as task `{task}`, which is in the task \
             file already"
        );
    }
    let notes = mail_notes(&tasks, &defaults, &path);
    if args.dry_run {
        for note in &notes {
            let _ = writeln!(stderr, "kron: note: {note}");
        }
        if !replaced.is_empty() {
            let _ = writeln!(
                stderr,
                "kron: --replace would remove {} imported task(s): {}",
                replaced.len(),
                replaced.join(", ")
            );
        }
    }
    for warning in &parsed.warnings {
        let _ = writeln!(
            stderr,
            "{label}:{}: warning: {}",
            warning.line, warning.message
        );
    }
    drop(stderr);

    let named: Vec<(String, NewTask)> = tasks
        .iter()
        .map(|t| (t.name.clone(), t.task.clone()))
        .collect();
    let source = source_label(&args.input);
    let mut stdout = std::io::stdout().lock();
    if args.dry_run && !tasks.is_empty() {
        let toml =
            edit::append_imported("", &path, &named, &source).map_err(|e| edit_error(e, &path))?;
        write!(stdout, "{toml}").map_err(Error::Output)?;
    }
    if !problems.is_empty() || !duplicates.is_empty() {
        return Err(refusal(
            &label,
            problems.len(),
            duplicates.len(),
            args.dry_run,
        ));
    }
    if tasks.is_empty() && replaced.is_empty() {
        let more = if parsed.skipped.is_empty() {
            ""
        } else {
            " for you"
        };
        return out!(stdout, "no jobs{more} in {label}; nothing to import");
    }
    if args.dry_run {
        return Ok(());
    }

    let old_text = current.as_deref().unwrap_or_default();
    let backup = if replaced.is_empty() {
        None
    } else {
        let question = format!(
            "replace the {} task(s) imported before ({}) with the {} job(s) of {label}?",
            replaced.len(),
            replaced.join(", "),
            tasks.len()
        );
        Some(confirm_and_back_up(args, &question, &path, old_text)?)
    };
    let kept_text = edit::remove(old_text, &path, &replaced).map_err(|e| edit_error(e, &path))?;
    let new_text = edit::append_imported(&kept_text, &path, &named, &source)
        .map_err(|e| edit_error(e, &path))?;
    install::install(&path, &new_text)?;
    super::daemon::ensure_running(ctx);
    if let Some(backup) = backup {
        out!(
            stdout,
            "replaced {} imported task(s): {}; the old file is kept as {}",
            replaced.len(),
            replaced.join(", "),
            backup.display()
        )?;
    }
    out!(
        stdout,
        "imported {} task(s) into {}:",
        tasks.len(),
        path.display()
    )?;
    let width = tasks.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for task in &tasks {
        let line = format!("line {}:", task.line);
        out!(
            stdout,
            "  {line:<10} {:<width$}  {}",
            task.name,
            task.task.schedule
        )?;
    }
    for note in &notes {
        out!(stdout, "note: {note}")?;
    }
    drop(stdout);
    if let Ok(file) = taskfile::parse(&new_text, &path) {
        let imported = file
            .tasks
            .iter()
            .filter(|t| tasks.iter().any(|i| i.name == t.name));
        super::dst::print_notes(imported);
    }
    Ok(())
}

/// Moves the tasks whose schedule can only fire in the past (a year field
/// that ran out) to the problems, as `kron add` refuses them.
fn refuse_ended(
    tasks: &mut Vec<Imported>,
    problems: &mut Vec<Problem>,
    current: Option<&str>,
    path: &std::path::Path,
) {
    let named: Vec<(String, NewTask)> = tasks
        .iter()
        .map(|t| (t.name.clone(), t.task.clone()))
        .collect();
    let Ok(text) = edit::append_all(current.unwrap_or_default(), path, &named) else {
        return;
    };
    let Ok(file) = taskfile::parse(&text, path) else {
        return;
    };
    for ended in file.ended {
        let Some(at) = tasks
            .iter()
            .position(|t| ended.key_path == format!("tasks.{}.schedule", t.name))
        else {
            continue;
        };
        let task = tasks.remove(at);
        problems.push(Problem {
            line: task.line,
            message: ended.message,
        });
    }
}

/// `--replace` asks first (on a terminal: the crontab on standard input
/// leaves none to ask on; `--yes` elsewhere), then keeps the old file.
fn confirm_and_back_up(
    args: &ImportArgs,
    question: &str,
    path: &std::path::Path,
    old_text: &str,
) -> Result<PathBuf, Error> {
    let interactive = args.input != "-" && std::io::stdin().is_terminal();
    if !args.yes && !super::remove::confirm(question, interactive)? {
        return Err(Error::Failed("nothing was imported".into()));
    }
    Ok(install::backup(path, old_text)?)
}

/// Takes out of `tasks` those whose schedule and command equal a task of
/// `existing`: (line, the existing task's name) for each.
fn take_duplicates(tasks: &mut Vec<Imported>, existing: &[&Task]) -> Vec<(usize, String)> {
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut duplicates = Vec::new();
    tasks.retain(|t| {
        let same = existing.iter().find(|e| {
            words(&e.schedule_text).eq_ignore_ascii_case(&words(&t.task.schedule))
                && t.task.command.as_ref() == Some(&e.command)
        });
        if let Some(e) = same {
            duplicates.push((t.line, e.name.clone()));
        }
        same.is_none()
    });
    duplicates
}

/// Why nothing was (or, with --dry-run, not everything would be) imported.
fn refusal(label: &str, problems: usize, duplicates: usize, dry_run: bool) -> Error {
    let mut what = Vec::new();
    if problems > 0 {
        what.push(format!("{problems} line(s) of {label} cannot be converted"));
    }
    if duplicates > 0 {
        what.push(format!(
            "{duplicates} line(s) of {label} are in the task file already (--replace \
             replaces the tasks imported before; --allow-duplicates imports them again)"
        ));
    }
    let then = match (dry_run, problems) {
        (true, _) => "the other lines would be imported",
        (false, 0) => "nothing was imported",
        (false, _) => "nothing was imported; fix or delete them and run kron import again",
    };
    Error::Invalid(format!("{}; {then}", what.join(", and ")))
}

/// What the marker comment names: the file, absolute, or stdin.
fn source_label(input: &str) -> String {
    if input == "-" {
        return "stdin".into();
    }
    std::fs::canonicalize(input)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| input.to_string())
}

/// What to say about mail: cron mails whatever a job prints (to MAILTO,
/// else to the crontab's owner); kron mails to `mailto` only, and only a
/// failed or timed-out run's output unless `mail = "always"`.
fn mail_notes(tasks: &[Imported], defaults: &Layer, path: &std::path::Path) -> Vec<String> {
    if tasks.is_empty() || defaults.mail == Some(Mail::Always) {
        return Vec::new();
    }
    let mailto = |t: &Imported| {
        t.task
            .mailto
            .clone()
            .or_else(|| defaults.mailto.clone())
            .filter(|m| !m.is_empty())
    };
    let file = path.display();
    let mut notes = Vec::new();
    if tasks.iter().any(|t| mailto(t).is_some()) && defaults.mail != Some(Mail::Never) {
        notes.push(format!(
            "cron mails whatever a job prints; kron mails a run's output only when it fails or \
             times out (mail = \"failure\"). To keep cron's behaviour, add mail = \"always\" \
             under [defaults] in {file}"
        ));
    }
    // No MAILTO at all: cron mailed the crontab's owner.
    let unset =
        |t: &&Imported| mailto(t).is_none() && !t.task.env.iter().any(|(k, _)| k == "MAILTO");
    if let Some(first) = tasks.iter().find(unset) {
        notes.push(format!(
            "cron mails whatever a job prints to you when MAILTO is not set; without mailto kron \
             mails nothing and keeps the output in its run log (kron logs {}). To be mailed as \
             cron did, set mailto = \"{}\" and mail = \"always\" under [defaults] in {file}",
            first.name,
            current_user().unwrap_or_else(|_| "you".into())
        ));
    }
    notes
}

/// The crontab's text and how to name it in messages.
fn read_input(input: &str) -> Result<(String, String), Error> {
    let (label, bytes) = if input == "-" {
        if std::io::stdin().is_terminal() {
            // Else a bare `kron import` would wait without a word.
            eprintln!(
                "kron: reading a crontab from standard input (such as `crontab -l` prints); \
                 end it with Ctrl-D, or give a file: kron import FILE"
            );
        }
        let mut bytes = Vec::new();
        let result = std::io::stdin().read_to_end(&mut bytes).map(|_| bytes);
        ("stdin".to_string(), result)
    } else {
        (input.to_string(), std::fs::read(input))
    };
    let bytes = bytes.map_err(|source| Error::Io {
        action: "reading",
        path: PathBuf::from(if input == "-" {
            "standard input"
        } else {
            input
        }),
        source,
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => Ok((label, text)),
        Err(_) => Err(Error::Invalid(format!("{label} is not UTF-8 text"))),
    }
}

/// `/etc/crontab` and the files under `/etc/cron.d`, which cron reads with
/// a user column, as given or after following symbolic links.
fn is_system_path(input: &str) -> bool {
    if input == "-" {
        return false;
    }
    let given = std::path::absolute(input).unwrap_or_else(|_| input.into());
    let real = std::fs::canonicalize(input).unwrap_or_else(|_| given.clone());
    [given, real]
        .iter()
        .any(|path| path == std::path::Path::new("/etc/crontab") || path.starts_with("/etc/cron.d"))
}

/// The user name in the sixth field of every job, when there is one (the
/// first of them): a name the password database knows, followed by a
/// command, and not itself a program on `PATH` (`backup`, `mail` and `sync`
/// are users on some systems).
fn user_column(jobs: &[crontab::Job]) -> Option<String> {
    let mut first = None;
    for job in jobs {
        let mut words = job.command.split([' ', '\t']).filter(|w| !w.is_empty());
        let (Some(word), Some(_)) = (words.next(), words.next()) else {
            return None;
        };
        let is_user = matches!(nix::unistd::User::from_name(word), Ok(Some(_)));
        if !is_user || on_path(word) {
            return None;
        }
        first.get_or_insert_with(|| word.to_string());
    }
    first
}

/// Whether `program` is an executable file in a directory of `PATH`.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The user whose lines `--system` imports: the password database's name
/// for the real user id, else `$USER`.
fn current_user() -> Result<String, Error> {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .ok_or_else(|| {
            Error::Failed("--system: cannot tell who you are (no passwd entry, no $USER)".into())
        })
}

fn edit_error(error: EditError, path: &std::path::Path) -> Error {
    match error {
        EditError::Invalid(e) => Error::Load(e),
        other => Error::Install(InstallError::Refused(format!(
            "{other} in {}; nothing was imported",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskfile::TaskCommand;

    /// A crontab line has five fields, so no imported schedule has a year
    /// today; the guard is for whatever reader comes next.
    #[test]
    fn a_schedule_that_ran_out_is_a_problem_at_its_line() {
        let task = |name: &str, line, schedule: &str| Imported {
            name: name.into(),
            line,
            task: NewTask {
                schedule: schedule.into(),
                command: Some(TaskCommand::Shell("true".into())),
                ..NewTask::default()
            },
        };
        let mut tasks = vec![task("old", 3, "0 0 9 1 1 ? 2020"), task("new", 4, "@daily")];
        let mut problems = Vec::new();
        let path = std::path::Path::new("/nonexistent/tasks.toml");
        refuse_ended(&mut tasks, &mut problems, None, path);
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].name, "new");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, 3);
        assert!(
            problems[0]
                .message
                .contains("can only fire in the past: its last instant was 2020-01-01T09:00:00"),
            "{}",
            problems[0].message
        );
    }
}
