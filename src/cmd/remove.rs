//! `kron remove NAME...` (alias `rm`): tasks taken out of the task file
//! under the task-file lock. All names must exist, or nothing is removed.

use std::io::Write;

use super::{Ctx, out};
use crate::cli::RemoveArgs;
use crate::error::Error;
use crate::taskfile::edit::{self, EditError};
use crate::taskfile::install::{self, InstallError};

pub fn run(ctx: &Ctx, args: &RemoveArgs) -> Result<(), Error> {
    let mut names: Vec<String> = Vec::new();
    for name in &args.names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let path = &ctx.paths.task_file;
    install::update(path, |old| {
        let text = edit::remove(old.unwrap_or_default(), path, &names).map_err(|e| match e {
            EditError::Invalid(e) => Error::Load(e),
            other => Error::Install(InstallError::Refused(format!(
                "{other} in {}; nothing was removed",
                path.display()
            ))),
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
