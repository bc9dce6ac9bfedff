//! `kron kill`.

use super::Ctx;
use crate::cli::KillArgs;
use crate::error::Error;

pub fn run(_ctx: &Ctx, _args: &KillArgs) -> Result<(), Error> {
    Err(Error::Failed("`kron kill` is not implemented yet".into()))
}
