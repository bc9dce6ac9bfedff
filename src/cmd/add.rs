//! `kron add`: one task appended to (or, with `--replace`, replaced in) the
//! task file, under the task-file lock so that concurrent adds never lose
//! one another's tasks.

use std::io::Write;
use std::path::Path;

use jiff::Timestamp;

use super::{Ctx, out};
use crate::cli::AddArgs;
use crate::error::Error;
use crate::output;
use crate::schedule::Zone;
use crate::taskfile::edit::{self, Added, EditError, NewTask};
use crate::taskfile::install::{self, InstallError};
use crate::taskfile::{self, Task, TaskCommand, valid_name};

pub fn run(ctx: &Ctx, args: &AddArgs) -> Result<(), Error> {
    if !valid_name(&args.name) {
        return Err(Error::Invalid(format!(
            "invalid task name `{}`: names are 1-64 of a-z, 0-9, _ and -",
            args.name
        )));
    }
    let task = new_task(args)?;
    let path = &ctx.paths.task_file;
    let (text, added) = install::update(path, |old| {
        let (text, added) = edit::add(
            old.unwrap_or_default(),
            path,
            &args.name,
            &task,
            args.replace,
        )
        .map_err(|e| edit_error(e, path))?;
        refuse_ended(&text, path, &args.name)?;
        Ok::<_, Error>((text.clone(), (text, added)))
    })
    .map_err(|e| match e {
        Error::Install(e) => flag_error(e, &args.name),
        e => e,
    })?;
    super::daemon::ensure_running(ctx);
    let verb = match &added {
        Added::New => "added",
        Added::Replaced { .. } => "replaced",
    };
    let file = taskfile::parse(&text, path).ok();
    let task = file.as_ref().and_then(|f| f.task(&args.name));
    let mut stdout = std::io::stdout().lock();
    out!(
        stdout,
        "{verb} {}",
        task.map_or_else(|| args.name.clone(), summary)
    )?;
    if let Added::Replaced { kept } = &added
        && !kept.is_empty()
    {
        out!(
            stdout,
            "kept from the old task: {} (`kron unset {} KEY` removes one)",
            kept.join(", "),
            args.name
        )?;
    }
    drop(stdout);
    super::check::warn(task.into_iter());
    super::dst::print_notes(task);
    Ok(())
}

/// The task as the file will hold it. A single command argument is a shell
/// command; several are an argv run without a shell.
fn new_task(args: &AddArgs) -> Result<NewTask, Error> {
    let command = match args.command.as_slice() {
        [one] => TaskCommand::Shell(one.clone()),
        argv => TaskCommand::Argv(argv.to_vec()),
    };
    let env = args
        .env
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
            _ => Err(Error::Invalid(format!(
                "--env `{pair}`: expected KEY=VALUE, such as LANG=C.UTF-8"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let workdir = match &args.workdir {
        Some(dir) if !dir.starts_with('~') && Path::new(dir).is_relative() => {
            let cwd = std::env::current_dir().map_err(|source| Error::Io {
                action: "finding the current directory for",
                path: dir.into(),
                source,
            })?;
            Some(absolute_workdir(&cwd, dir).to_string_lossy().into_owned())
        }
        Some(dir) if !dir.starts_with('~') => Some(
            absolute_workdir(Path::new("/"), dir)
                .to_string_lossy()
                .into_owned(),
        ),
        other => other.clone(),
    };
    Ok(NewTask {
        description: args.description.clone(),
        schedule: args.schedule.clone(),
        // Its IANA spelling (`europe/berlin` is Europe/Berlin); an unknown
        // zone is reported by the file's check, as --tz.
        timezone: args.tz.as_ref().map(|name| match Zone::get(name) {
            Ok(zone) => zone.name().to_string(),
            Err(_) => name.clone(),
        }),
        command: Some(command),
        workdir,
        env,
        timeout: args.timeout.clone(),
        retry_attempts: args.retry,
        ..NewTask::default()
    })
}

/// `dir` (absolute, or relative to `cwd`, the physical current directory)
/// without `.` components or a trailing `/`: `--workdir .` is the current
/// directory itself. A `..` right after `cwd` goes up from it (`cwd` has no
/// symbolic links); one after a name of `dir` is kept, since that name may
/// be a link.
fn absolute_workdir(cwd: &Path, dir: &str) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = cwd.to_path_buf();
    let mut in_cwd = true;
    for part in Path::new(dir).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if in_cwd => {
                out.pop();
            }
            Component::RootDir | Component::Prefix(_) => out.push(part),
            Component::ParentDir | Component::Normal(_) => {
                in_cwd = false;
                out.push(part);
            }
        }
    }
    out
}

/// `backup: next run Sun 2026-03-08 03:00:00 -04:00 (in 3h 12m)`.
pub(super) fn summary(task: &Task) -> String {
    let name = &task.name;
    let paused = if task.settings.paused {
        " (paused)"
    } else {
        ""
    };
    let now = Timestamp::now();
    match task.schedule.next_after(now) {
        Some(next) => format!(
            "{name}{paused}: next run {} ({})",
            output::wall_time(next, &task.settings.timezone),
            output::relative(now, next)
        ),
        None => format!(
            "{name}{paused}: {} (no timed runs)",
            task.schedule.describe()
        ),
    }
}

/// Refuses a new task whose schedule can only fire in the past (a year
/// field that ran out), which the file's check would accept.
fn refuse_ended(text: &str, path: &Path, name: &str) -> Result<(), Error> {
    let Ok(file) = taskfile::parse(text, path) else {
        // Invalid: installing it reports why.
        return Ok(());
    };
    let key = format!("tasks.{name}.schedule");
    let ended: Vec<_> = file
        .ended
        .into_iter()
        .filter(|d| d.key_path == key)
        .collect();
    if ended.is_empty() {
        return Ok(());
    }
    Err(Error::Install(InstallError::Invalid {
        path: path.into(),
        diagnostics: ended,
    }))
}

/// Problems with the new task, told in terms of the flags that caused them
/// (`--schedule: ...`) rather than lines of a file that was never written.
fn flag_error(error: InstallError, name: &str) -> Error {
    let InstallError::Invalid { diagnostics, .. } = &error else {
        return error.into();
    };
    let prefix = format!("tasks.{name}");
    let mut lines = Vec::new();
    for diagnostic in diagnostics {
        let key = match diagnostic.key_path.strip_prefix(&prefix) {
            Some("") => "",
            Some(key) => key.trim_start_matches('.'),
            None => return error.into(),
        };
        let flag = match key.split('.').next().unwrap_or("") {
            "schedule" => "--schedule",
            "timezone" => "--tz",
            "description" => "--description",
            "timeout" => "--timeout",
            "retry" => "--retry",
            "workdir" => "--workdir",
            "env" => "--env",
            "command" => "the command",
            _ => return error.into(),
        };
        let help = diagnostic
            .help
            .as_ref()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        lines.push(format!("{flag}: {}{help}", diagnostic.message));
    }
    Error::Invalid(lines.join("\nkron: "))
}

fn edit_error(error: EditError, path: &Path) -> Error {
    match error {
        EditError::Invalid(e) => Error::Load(e),
        EditError::Exists(name) => Error::Install(InstallError::Refused(format!(
            "a task named `{name}` already exists in {}; use --replace to overwrite it",
            path.display()
        ))),
        other => Error::Install(InstallError::Refused(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::absolute_workdir;
    use std::path::Path;

    #[test]
    fn workdirs_have_no_dot_components() {
        let cwd = Path::new("/home/me/proj");
        let abs = |dir| absolute_workdir(cwd, dir).display().to_string();
        assert_eq!(abs("."), "/home/me/proj");
        assert_eq!(abs("./"), "/home/me/proj");
        assert_eq!(abs("./sub/./x/"), "/home/me/proj/sub/x");
        assert_eq!(abs(".."), "/home/me");
        assert_eq!(abs("../other"), "/home/me/other");
        // After a name that may be a link, `..` is the kernel's to resolve.
        assert_eq!(abs("link/.."), "/home/me/proj/link/..");
        assert_eq!(abs("/srv/./data/."), "/srv/data");
    }
}
