//! `kron logs NAME [-n LINES] [--run ID] [-f]`: a run's output from the
//! task's run logs, found by its header lines across the rotated files.

use std::io::{IsTerminal, Write};
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
    let stdout = std::io::stdout().lock();
    let mut stdout: Box<dyn Write> = if stdout.is_terminal() {
        Box::new(Printable(stdout))
    } else {
        Box::new(stdout)
    };
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

/// On a terminal, control characters other than newline and tab are shown
/// as `^X` (as `cat -v` does), so a log cannot drive the terminal.
struct Printable<W: Write>(W);

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut shown = Vec::with_capacity(buf.len());
        for &b in buf {
            match b {
                b'\n' | b'\t' => shown.push(b),
                0..=0x1f => shown.extend([b'^', b + 64]),
                0x7f => shown.extend(b"^?"),
                _ => shown.push(b),
            }
        }
        self.0.write_all(&shown)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
