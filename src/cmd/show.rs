//! `kron show`.

use super::Ctx;
use crate::cli::ShowArgs;
use crate::error::Error;

pub fn run(ctx: &Ctx, args: &ShowArgs) -> Result<(), Error> {
    let _ = (ctx, args);
    Err(Error::Failed("kron show: in progress".into()))
}
