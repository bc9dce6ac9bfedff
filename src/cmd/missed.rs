//! `kron __missed`: runs the `on_missed` hook and the mail of the `missed`
//! records the daemon wrote (`runner::missed`), which it cannot run itself:
//! the daemon runs no command. Started by the daemon in a session of its
//! own, standard error the daemon's, so its lines go to the daemon's log.
//! Each task is read as a supervisor reads it: its snapshot, or the task
//! file.

use super::Ctx;
use crate::cli::MissedArgs;
use crate::error::Error;
use crate::history::Record;
use crate::logging::{self, error, warning};
use crate::runner::missed;
use crate::runner::signals::Signals;
use crate::taskfile;

pub fn run(ctx: &Ctx, args: &MissedArgs) -> Result<(), Error> {
    logging::init_from_env();
    let pid = std::process::id();
    let mut signals = Signals::install().map_err(crate::runner::RunnerError::from)?;
    let whole = if args.snapshots {
        None
    } else {
        Some(ctx.load_tasks())
    };
    for text in &args.records {
        let record: Record = match serde_json::from_str(text) {
            Ok(record) => record,
            Err(e) => {
                error!("missed {pid}: not a record ({e}): {text}");
                continue;
            }
        };
        let loaded;
        let file = match &whole {
            Some(file) => file,
            None => {
                loaded = taskfile::load(&ctx.paths.snapshot(&record.task)).map_err(Error::from);
                &loaded
            }
        };
        let task = match file {
            Ok(file) => file.task(&record.task),
            Err(e) => {
                error!("missed {pid}: {}: not followed: {e}", record.task);
                continue;
            }
        };
        let Some(task) = task else {
            warning!(
                "missed {pid}: {}: not followed: the task is gone",
                record.task
            );
            continue;
        };
        let name = task.name.clone();
        for text in missed::follow(&ctx.paths, task, record, &mut signals) {
            warning!("missed {pid}: {name}: {text}");
        }
    }
    Ok(())
}
