//! `kron edit`.

use super::Ctx;
use crate::error::Error;

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    let _ = ctx;
    Err(Error::Failed("kron edit: in progress".into()))
}
