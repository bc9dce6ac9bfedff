//! `kron __recover`: stops and records the runs whose supervisor died
//! (`runner::recover`), started in a session of its own by the daemon or a
//! verb that noticed them. Its lines go to the daemon's log.

use super::Ctx;
use crate::error::Error;
use crate::logging::{self, error, info};
use crate::runner::recover;

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    logging::init_from_env();
    let pid = std::process::id();
    for result in recover::recover_all(&ctx.paths) {
        match result {
            Ok(done) => {
                let r = &done.record;
                let why = r.reason.as_deref().unwrap_or_default();
                info!(
                    "recover {pid}: {}: run {} recorded interrupted: {why}",
                    r.task, r.run_id
                );
            }
            Err(e) => error!("recover {pid}: {e}"),
        }
    }
    Ok(())
}
