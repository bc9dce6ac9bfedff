//! `kron logs`.

use super::Ctx;
use crate::cli::LogsArgs;
use crate::error::Error;

pub fn run(_ctx: &Ctx, _args: &LogsArgs) -> Result<(), Error> {
    Err(Error::Failed("`kron logs` is not implemented yet".into()))
}
