//! `kron remove NAME...` (alias `rm`): tasks taken out of the task file
//! under the task-file lock. All names must exist, or nothing is removed.
//! `kron rm --all` removes every task, after a confirmation on a terminal
//! (`--yes` elsewhere), keeping the old file as `tasks.toml.bak`.

use std::io::{IsTerminal, Write};

use super::{Ctx, out};
use crate::cli::RemoveArgs;
use crate::error::Error;
use crate::taskfile::edit::{self, EditError};
use crate::taskfile::install::{self, InstallError};

pub fn run(ctx: &Ctx, args: &RemoveArgs) -> Result<(), Error> {
    if args.all {
        return remove_all(ctx, args.yes);
    }
    let mut names: Vec<String> = Vec::new();
    for name in &args.names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let path = &ctx.paths.task_file;
    install::update(path, |old| {
        let old = old.unwrap_or_default();
        let text = edit::remove(old, path, &names).map_err(|e| match e {
            EditError::Unknown(unknown) => {
                let known = crate::complete::names_in(old);
                let known: Vec<&str> = known.iter().map(|(n, _)| n.as_str()).collect();
                super::unknown_names(&unknown, &known, path, "nothing was removed")
            }
            other => refused(other, path),
        })?;
        Ok::<_, Error>((text, ()))
    })?;
    super::daemon::ensure_running(ctx);
    let mut stdout = std::io::stdout().lock();
    for name in &names {
        out!(stdout, "removed {name}")?;
    }
    Ok(())
}

fn refused(e: EditError, path: &std::path::Path) -> Error {
    match e {
        EditError::Invalid(e) => Error::Load(e),
        other => Error::Install(InstallError::Refused(format!(
            "{other} in {}; nothing was removed",
            path.display()
        ))),
    }
}

fn remove_all(ctx: &Ctx, yes: bool) -> Result<(), Error> {
    let path = &ctx.paths.task_file;
    let done = install::update(path, |old| {
        let old = old.unwrap_or_default();
        let names = edit::task_names(old, path).map_err(|e| refused(e, path))?;
        if names.is_empty() {
            return Ok::<_, Error>((old.to_string(), None));
        }
        let question = format!(
            "remove all {} task(s) from {} ({})?",
            names.len(),
            path.display(),
            names.join(", ")
        );
        if !yes && !confirm(&question, std::io::stdin().is_terminal())? {
            return Err(Error::Failed("nothing was removed".into()));
        }
        let backup = install::backup(path, old)?;
        let text = edit::remove(old, path, &names).map_err(|e| refused(e, path))?;
        Ok((text, Some((names, backup))))
    })?;
    let mut stdout = std::io::stdout().lock();
    let Some((names, backup)) = done else {
        return out!(stdout, "no tasks in {}; nothing to remove", path.display());
    };
    super::daemon::ensure_running(ctx);
    out!(
        stdout,
        "removed {} task(s): {}",
        names.len(),
        names.join(", ")
    )?;
    out!(stdout, "the old file is kept as {}", backup.display())
}

/// Asks `question` on the terminal (`[y/N]`, on stderr): yes only when
/// the answer starts with y. Not on a terminal (`interactive` false) there
/// is no one to ask: that is an error telling to pass `--yes`.
pub(super) fn confirm(question: &str, interactive: bool) -> Result<bool, Error> {
    if !interactive {
        return Err(Error::Invalid(format!(
            "{question} (not asked: standard input is not a terminal); pass --yes to confirm"
        )));
    }
    let answer = super::ask(&format!("{question} [y/N]"))?;
    Ok(answer.is_some_and(|a| a.starts_with('y')))
}
