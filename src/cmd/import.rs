//! `kron import [FILE | -] [--system] [--dry-run]`: a crontab into tasks.
//!
//! All or nothing: when any line cannot be converted, every such line is
//! reported with its number and nothing is imported (so that running the
//! import again after fixing the crontab does not add tasks twice). The
//! tasks are appended to the task file's text under its lock
//! (`taskfile::edit::append_all`, as `kron add` would one by one), so the
//! rest of the file stays byte for byte, and installed only if the result
//! is valid.

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
use crate::taskfile::{self, Layer};

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
    let (defaults, mut taken) = match &current {
        Some(text) => {
            let file = taskfile::parse(text, &path)?;
            let names: HashSet<String> = file.tasks.iter().map(|t| t.name.clone()).collect();
            (file.defaults, names)
        }
        None => (Layer::default(), HashSet::new()),
    };
    let system_zone = Zone::system();
    let mut tasks: Vec<Imported> = Vec::new();
    for job in &parsed.jobs {
        let name = crontab::unique_name(job, &mut taken);
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
    drop(stderr);

    let named: Vec<(String, NewTask)> = tasks
        .iter()
        .map(|t| (t.name.clone(), t.task.clone()))
        .collect();
    let mut stdout = std::io::stdout().lock();
    if args.dry_run && !tasks.is_empty() {
        let toml = edit::append_all("", &path, &named).map_err(|e| edit_error(e, &path))?;
        write!(stdout, "{toml}").map_err(Error::Output)?;
    }
    if !problems.is_empty() {
        let what = if args.dry_run {
            "the other lines would be imported"
        } else {
            "nothing was imported; fix or delete them and run kron import again"
        };
        return Err(Error::Invalid(format!(
            "{} line(s) of {label} cannot be converted; {what}",
            problems.len()
        )));
    }
    if tasks.is_empty() {
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

    let new_text = edit::append_all(current.as_deref().unwrap_or_default(), &path, &named)
        .map_err(|e| edit_error(e, &path))?;
    install::install(&path, &new_text)?;
    super::daemon::ensure_running(ctx);
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
