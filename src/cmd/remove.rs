//! `kron remove`.

use super::Ctx;
use crate::error::Error;

pub fn run(ctx: &Ctx, args: &crate::cli::RemoveArgs) -> Result<(), Error> {
    let _ = (ctx, args);
    Err(Error::Failed("kron remove: in progress".into()))
}
