//! `kron export`.

use super::Ctx;
use crate::error::Error;

pub fn run(ctx: &Ctx, args: &crate::cli::ExportArgs) -> Result<(), Error> {
    let _ = (ctx, args);
    Err(Error::Failed("kron export: in progress".into()))
}
