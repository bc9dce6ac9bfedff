//! One function per verb. Only this module prints to stdout or decides what
//! a command's outcome is.

mod next;

use crate::cli::{Cli, Command};
use crate::error::Error;

pub fn dispatch(cli: Cli) -> Result<(), Error> {
    match cli.command {
        Command::Next(args) => next::run(&args),
    }
}
