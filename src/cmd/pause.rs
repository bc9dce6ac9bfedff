//! `kron pause NAME...|--all` and `kron resume NAME...|--all`: set or clear
//! `paused` in the tasks' tables (`taskfile::edit::set_paused`), under the
//! task-file lock, keeping the rest of the file byte for byte. The daemon
//! notices the change like any other: a paused task does not fire; a
//! resumed one starts from now (nothing missed while paused is caught up).

use std::io::Write;
use std::path::Path;

use super::{Ctx, out};
use crate::cli::PauseArgs;
use crate::error::Error;
use crate::taskfile::install;
use crate::taskfile::{self, TaskFile, edit};

pub fn pause(ctx: &Ctx, args: &PauseArgs) -> Result<(), Error> {
    change(ctx, args, true)
}

pub fn resume(ctx: &Ctx, args: &PauseArgs) -> Result<(), Error> {
    change(ctx, args, false)
}

fn change(ctx: &Ctx, args: &PauseArgs, pause: bool) -> Result<(), Error> {
    let path = &ctx.paths.task_file;
    let report = install::update(path, |old| {
        let old = old.unwrap_or_default();
        let file = taskfile::parse(old, path)?;
        let names = names(&file, args, path)?;
        Ok::<_, Error>(edit::set_paused(old, &file, &names, pause)?)
    })?;
    if report.iter().any(|(_, changed)| *changed) {
        super::daemon::ensure_running(ctx);
    }
    let (done, state) = if pause {
        ("paused", "paused")
    } else {
        ("resumed", "not paused")
    };
    let mut stdout = std::io::stdout().lock();
    if report.is_empty() {
        return out!(stdout, "no tasks in {}", path.display());
    }
    for (name, changed) in report {
        if changed {
            out!(stdout, "{done} {name}")?;
        } else {
            out!(stdout, "{name} was already {state}")?;
        }
    }
    Ok(())
}

/// The tasks named (each once, in the order given), or all with `--all`.
/// Every name must exist, or nothing changes.
fn names(file: &TaskFile, args: &PauseArgs, path: &Path) -> Result<Vec<String>, Error> {
    if args.all {
        return Ok(file.tasks.iter().map(|t| t.name.clone()).collect());
    }
    let mut names: Vec<String> = Vec::new();
    for name in &args.names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| file.task(n).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = file.tasks.iter().map(|t| t.name.as_str()).collect();
        return Err(super::unknown_names(
            &unknown,
            &known,
            path,
            "nothing was changed",
        ));
    }
    Ok(names)
}
