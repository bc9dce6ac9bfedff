//! `kron __supervise`: one run, started by the daemon in a session of its
//! own with its standard streams on /dev/null. The command line is the
//! contract with the daemon (docs/architecture.md):
//!
//! ```text
//! kron __supervise --task NAME --trigger schedule|manual|catch-up|reboot
//!                  [--scheduled RFC3339] [--file TASKFILE]
//! ```
//!
//! The task is read from the task file now, so a run uses the settings on
//! disk when it starts. The exit status is the run's, as for `kron run`.

use jiff::Timestamp;

use super::Ctx;
use crate::cli::SuperviseArgs;
use crate::error::Error;
use crate::runner::{self, Request};

pub fn run(ctx: &Ctx, args: &SuperviseArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    let task = file.task(&args.task).ok_or_else(|| Error::NoSuchTask {
        name: args.task.clone(),
        file: file.path.clone(),
    })?;
    let scheduled = match &args.scheduled {
        None => None,
        Some(text) => Some(
            text.parse::<Timestamp>()
                .map_err(|_| Error::Instant { text: text.clone() })?,
        ),
    };
    let run_id = match &args.run_id {
        Some(id) if valid_run_id(id) => id.clone(),
        Some(id) => return Err(Error::Invalid(format!("invalid run id `{id}`"))),
        None => runner::new_run_id(),
    };
    let report = runner::supervise(&Request {
        paths: &ctx.paths,
        task,
        trigger: args.trigger,
        scheduled,
        run_id,
        foreground: false,
    })
    .map_err(|e| Error::Failed(e.to_string()))?;
    for warning in &report.warnings {
        eprintln!("kron: warning: {warning}");
    }
    match report.exit_code {
        0 => Ok(()),
        code => Err(Error::Exit(code)),
    }
}

/// Run ids name files: letters, digits, `-` and `_` only.
pub fn valid_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
