//! `kron check [FILE]`: validate without installing.

use std::io::Write;

use super::{Ctx, out};
use crate::cli::CheckArgs;
use crate::error::Error;
use crate::taskfile;

pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<(), Error> {
    let path = args.path.as_ref().unwrap_or(&ctx.paths.task_file);
    let file = taskfile::load(path)?;
    let mut stdout = std::io::stdout().lock();
    out!(
        stdout,
        "{}: ok, {} task(s)",
        path.display(),
        file.tasks.len()
    )
}
