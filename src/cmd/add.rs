//! `kron add`.

use super::Ctx;
use crate::error::Error;

pub fn run(ctx: &Ctx, args: &crate::cli::AddArgs) -> Result<(), Error> {
    let _ = (ctx, args);
    Err(Error::Failed("kron add: in progress".into()))
}
