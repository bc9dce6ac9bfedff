//! `kron history`.

use super::Ctx;
use crate::cli::HistoryArgs;
use crate::error::Error;

pub fn run(_ctx: &Ctx, _args: &HistoryArgs) -> Result<(), Error> {
    Err(Error::Failed(
        "`kron history` is not implemented yet".into(),
    ))
}
