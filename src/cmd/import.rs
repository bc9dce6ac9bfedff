//! `kron import`.

use super::Ctx;
use crate::error::Error;

pub fn run(ctx: &Ctx, args: &crate::cli::ImportArgs) -> Result<(), Error> {
    let _ = (ctx, args);
    Err(Error::Failed("kron import: in progress".into()))
}
