//! One module per verb. Only this module prints to stdout or decides what a
//! command's outcome is; the domain modules return values and typed errors.

mod add;
mod check;
mod cluster;
mod completions;
mod daemon;
mod doctor;
mod dst;
mod edit;
mod export;
mod history;
mod import;
mod kill;
mod list;
mod logs;
mod missed;
mod next;
mod pause;
mod plan;
mod recover;
mod remove;
mod run;
mod service;
mod set;
mod show;
mod stats;
mod status;
mod supervise;
mod why;

use crate::cli::{Cli, ColorWhen, Command};
use crate::dirs::Paths;
use crate::error::Error;
use crate::output;
use crate::taskfile::{self, TaskFile};

/// What every verb may need: resolved paths.
pub struct Ctx {
    pub paths: Paths,
}

impl Ctx {
    /// The task file, or an empty one when it does not exist yet.
    pub fn load_tasks(&self) -> Result<TaskFile, Error> {
        let path = &self.paths.task_file;
        if !path.exists() {
            return Ok(TaskFile {
                path: path.clone(),
                defaults: Default::default(),
                tasks: Vec::new(),
                max_parallel: None,
                cluster: None,
                warnings: Vec::new(),
                ended: Vec::new(),
            });
        }
        Ok(taskfile::load(path)?)
    }
}

pub fn dispatch(cli: Cli) -> Result<(), Error> {
    output::set_style(style(&cli));
    let ctx = Ctx {
        paths: Paths::from_env(cli.file.as_deref()),
    };
    if uses_dirs(&cli.command) {
        ctx.paths.check()?;
    }
    match cli.command {
        Command::Edit => edit::run(&ctx),
        Command::Add(args) => add::run(&ctx, &args),
        Command::Set(args) => set::set(&ctx, &args),
        Command::Unset(args) => set::unset(&ctx, &args),
        Command::Remove(args) => remove::run(&ctx, &args),
        Command::List(args) => list::run(&ctx, &args),
        Command::Show(args) => show::run(&ctx, &args),
        Command::Next(args) => next::run(&ctx, &args),
        Command::Check(args) => check::run(&ctx, &args),
        Command::Import(args) => import::run(&ctx, &args),
        Command::Export(args) => export::run(&ctx, &args),
        Command::Plan(args) => plan::run(&ctx, &args),
        Command::Run(args) => run::run(&ctx, &args),
        Command::Logs(args) => logs::run(&ctx, &args),
        Command::History(args) => history::run(&ctx, &args),
        Command::Why(args) => why::run(&ctx, &args),
        Command::Cluster(command) => cluster::run(&ctx, &command),
        Command::Dst(args) => dst::run(&ctx, &args),
        Command::Stats(args) => stats::run(&ctx, &args),
        Command::Kill(args) => kill::run(&ctx, &args),
        Command::Supervise(args) => supervise::run(&ctx, &args),
        Command::Recover => recover::run(&ctx),
        Command::Missed(args) => missed::run(&ctx, &args),
        Command::ClusterCheck => cluster::check(&ctx),
        Command::Daemon(command) => daemon::run(&ctx, &command),
        Command::Status(args) => status::run(&ctx, &args),
        Command::Pause(args) => pause::pause(&ctx, &args),
        Command::Resume(args) => pause::resume(&ctx, &args),
        Command::Doctor(args) => doctor::run(&ctx, &args),
        Command::Completions(args) => completions::run(&args),
        Command::Generate(args) => completions::generate(&args),
    }
}

/// Whether the verb uses kron's directories, which must then be kron's own
/// ([`Paths::check`]). Those that do not: `check` validates a file wherever
/// it is and writes nothing, `next --expr` reads no file, `doctor` reports
/// an insecure directory as one of its checks, and the generators.
fn uses_dirs(command: &Command) -> bool {
    match command {
        Command::Check(_) | Command::Doctor(_) | Command::Completions(_) | Command::Generate(_) => {
            false
        }
        Command::Next(args) => args.expr.is_none(),
        _ => true,
    }
}

/// The output style the global flags and the environment ask for.
fn style(cli: &Cli) -> output::Style {
    use std::io::IsTerminal;
    let forced = match cli.color {
        ColorWhen::Auto => None,
        ColorWhen::Always => Some(true),
        ColorWhen::Never => Some(false),
    };
    output::Style {
        color: output::use_color(
            forced,
            std::env::var_os("NO_COLOR").as_deref(),
            std::env::var_os("TERM").as_deref(),
            std::io::stdout().is_terminal(),
        ),
        utc: cli.utc,
    }
}

/// Writes to stdout, turning a failure into [`Error::Output`].
macro_rules! out {
    ($w:expr, $($arg:tt)*) => {
        writeln!($w, $($arg)*).map_err($crate::error::Error::Output)
    };
}
pub(crate) use out;

pub(crate) fn history_error(e: crate::history::HistoryError) -> Error {
    Error::Io {
        action: e.action,
        path: e.path,
        source: e.source,
    }
}

/// The tasks whose history a verb reads: the one named (see [`named`]),
/// else every task that has a history.
pub(crate) fn history_names(ctx: &Ctx, name: Option<&str>) -> Result<Vec<String>, Error> {
    let dir = ctx.paths.history_dir();
    match name {
        Some(name) => {
            named(ctx, name, "history", || {
                crate::history::path(&dir, name).exists()
            })?;
            Ok(vec![name.to_string()])
        }
        None => Ok(crate::history::tasks(&dir)),
    }
}

/// The refusal of a change that names tasks the file does not have
/// (`kron remove`, `pause`, `resume`): the rule of [`Error::NoSuchTask`]
/// for one name, every name with its closest one for several, and what
/// was not done (`consequence`). Exit status 2.
pub(crate) fn unknown_names(
    unknown: &[String],
    names: &[&str],
    file: &std::path::Path,
    consequence: &str,
) -> Error {
    let suggestion = |n: &str| crate::diag::suggest(n, names);
    let message = match unknown {
        [one] => match suggestion(one) {
            Some(s) => format!("no task named `{one}`; did you mean `{s}`? ({consequence})"),
            None => format!("no task named `{one}` in {}; {consequence}", file.display()),
        },
        several => {
            let listed: Vec<String> = several
                .iter()
                .map(|n| match suggestion(n) {
                    Some(s) => format!("`{n}` (did you mean `{s}`?)"),
                    None => format!("`{n}`"),
                })
                .collect();
            format!(
                "no task named {} in {}; {consequence}",
                listed.join(", "),
                file.display()
            )
        }
    };
    Error::Install(crate::taskfile::install::InstallError::Refused(message))
}

/// [`Error::NoSuchTask`] for `name` in `file`, with the closest task name.
pub(crate) fn unknown(file: &TaskFile, name: &str) -> Error {
    Error::no_such_task(name, &file.path, file.tasks.iter().map(|t| t.name.as_str()))
}

/// What a task name given to a verb that reads what runs leave (history,
/// run logs, runs in progress) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Named {
    /// A task of the task file (or the file cannot be read to tell).
    Task,
    /// No task of the task file, but something its runs left remains.
    Removed,
}

/// The one rule for a task name given to `history`, `stats`, `logs` and
/// `kill`, as for the verbs that load the task: a name no task has is
/// [`Error::NoSuchTask`] (exit 2, with the closest name), unless its runs
/// left something (`remains`: its history, its logs, a run still going),
/// which the verb then shows, saying on stderr that the task was removed
/// (`what` is what it shows). The task file is read for names only, with
/// `toml_edit`, so a file with an invalid value still names its tasks.
pub(crate) fn named(
    ctx: &Ctx,
    name: &str,
    what: &str,
    remains: impl FnOnce() -> bool,
) -> Result<Named, Error> {
    if !taskfile::valid_name(name) {
        return Err(Error::Invalid(format!(
            "`{name}` is not a task name (1-64 of a-z, 0-9, _ and -)"
        )));
    }
    let path = &ctx.paths.task_file;
    let names = match std::fs::read_to_string(path) {
        Ok(text) => match text.parse::<toml_edit::DocumentMut>() {
            Ok(_) => Some(crate::complete::names_in(&text)),
            Err(_) => None,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Vec::new()),
        Err(_) => None,
    };
    let Some(names) = names else {
        return Ok(Named::Task);
    };
    if names.iter().any(|(n, _)| n == name) {
        return Ok(Named::Task);
    }
    if remains() {
        eprintln!(
            "kron: task `{name}` was removed from {}; showing its {what}",
            path.display()
        );
        return Ok(Named::Removed);
    }
    Err(Error::no_such_task(
        name,
        path,
        names.iter().map(|(n, _)| n.as_str()),
    ))
}

/// Asks `question` on stderr and reads one line of answer from standard
/// input, lowercased and trimmed; `None` when standard input ended.
pub(crate) fn ask(question: &str) -> Result<Option<String>, Error> {
    use std::io::{BufRead, Write};
    eprint!("{question} ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|source| Error::Io {
            action: "reading the answer from",
            path: "standard input".into(),
            source,
        })?;
    Ok((read > 0).then(|| answer.trim().to_ascii_lowercase()))
}

/// The tasks `names` name, in that order, or every task in file order when
/// there are none; a name the file lacks is an error.
pub(crate) fn select_tasks<'a>(
    file: &'a TaskFile,
    names: &[String],
) -> Result<Vec<&'a taskfile::Task>, Error> {
    if names.is_empty() {
        return Ok(file.tasks.iter().collect());
    }
    names
        .iter()
        .map(|name| file.task(name).ok_or_else(|| unknown(file, name)))
        .collect()
}
