//! `kron list`.

use super::Ctx;
use crate::cli::ListArgs;
use crate::error::Error;

pub fn run(ctx: &Ctx, args: &ListArgs) -> Result<(), Error> {
    let _ = (ctx, args);
    Err(Error::Failed("kron list: in progress".into()))
}
