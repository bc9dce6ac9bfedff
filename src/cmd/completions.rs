//! `kron completions SHELL` (the registration script on stdout) and the
//! hidden `kron __generate man|completions DIR` (the files of `man/` and
//! `completions/`, for packagers and `KRON_BLESS=1` in tests/docs.rs).

use std::io::Write;

use super::out;
use crate::cli::{CompletionsArgs, Generate, GenerateArgs};
use crate::complete;
use crate::docs::{self, Kind};
use crate::error::Error;

pub fn run(args: &CompletionsArgs) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&complete::registration(args.shell))
        .map_err(Error::Output)
}

pub fn generate(args: &GenerateArgs) -> Result<(), Error> {
    let (files, kind) = match args.what {
        Generate::Man => (docs::man_pages(), Kind::Man),
        Generate::Completions => (docs::completion_scripts(), Kind::Completions),
    };
    let written = docs::write(&args.dir, &files, kind).map_err(|source| Error::Io {
        action: "writing into",
        path: args.dir.clone(),
        source,
    })?;
    let mut stdout = std::io::stdout().lock();
    for name in written {
        out!(stdout, "wrote {}", args.dir.join(name).display())?;
    }
    Ok(())
}
