//! `kron export --format crontab`: the tasks as a crontab on stdout.
//!
//! Tasks crontab cannot express are written as comments with the reason,
//! and each is named on stderr; the exit status is still 0, since the
//! output says everything it leaves out.

use std::io::Write;

use super::Ctx;
use crate::cli::{ExportArgs, ExportFormat};
use crate::crontab;
use crate::error::Error;
use crate::schedule::Zone;

pub fn run(ctx: &Ctx, args: &ExportArgs) -> Result<(), Error> {
    let file = ctx.load_tasks()?;
    match args.format {
        ExportFormat::Crontab => {
            let exported = crontab::export(&file, &Zone::system(), &crate::dirs::home());
            std::io::stdout()
                .lock()
                .write_all(exported.text.as_bytes())
                .map_err(Error::Output)?;
            let mut stderr = std::io::stderr().lock();
            for (name, reason) in &exported.commented {
                let _ = writeln!(
                    stderr,
                    "kron: task {name} is only a comment in the crontab: {reason}"
                );
            }
            Ok(())
        }
    }
}
