//! `kron logs NAME [-n LINES] [--run ID] [-f]`: a run's output from the
//! task's run logs, found by its header lines across the rotated files.

use std::time::Duration;

use super::Ctx;
use crate::cli::LogsArgs;
use crate::error::Error;
use crate::runlog::read::{self, ReadError};
use crate::runner;

/// How often `-f` looks for new output: a person reads it.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

pub fn run(ctx: &Ctx, args: &LogsArgs) -> Result<(), Error> {
    let name = &args.name;
    if !crate::taskfile::valid_name(name) {
        return Err(Error::Invalid(format!(
            "`{name}` is not a task name (1-64 of a-z, 0-9, _ and -)"
        )));
    }
    let dir = ctx.paths.logs_dir();
    let id = match &args.run {
        Some(id) => id.clone(),
        None => read::last_run_id(&dir, name)
            .map_err(convert)?
            .ok_or_else(|| Error::Failed(format!("no run of `{name}` in its logs yet")))?,
    };
    let mut stdout = std::io::stdout().lock();
    let copied = read::copy_run(&dir, name, &id, args.lines, &mut stdout).map_err(convert)?;
    if !copied.found {
        return Err(Error::Failed(format!(
            "run {id} is not in the logs of `{name}` (its output may have been rotated away)"
        )));
    }
    if args.follow
        && let Some(tail) = copied.tail
    {
        let paths = &ctx.paths;
        read::follow(&dir, name, tail, &mut stdout, FOLLOW_INTERVAL, || {
            runner::running(paths).iter().any(|r| r.run_id == id)
        })
        .map_err(convert)?;
    }
    Ok(())
}

fn convert(e: ReadError) -> Error {
    match e {
        ReadError::Read { path, source } => Error::Io {
            action: "reading",
            path,
            source,
        },
        ReadError::Output(e) => Error::Output(e),
    }
}
