//! `kron check [FILE] [--json]`: validate without installing.

use std::io::Write;

use super::{Ctx, out};
use crate::cli::CheckArgs;
use crate::diag::Diagnostic;
use crate::error::Error;
use crate::taskfile::{self, load::LoadError};

#[derive(serde::Serialize)]
struct Checked<'a> {
    file: &'a std::path::Path,
    valid: bool,
    tasks: usize,
    diagnostics: &'a [Diagnostic],
    /// What is valid but should be written otherwise (exit 0).
    warnings: &'a [Diagnostic],
}

/// A valid file is still refused when a schedule can only fire in the
/// past (`TaskFile::ended`); its warnings go to stderr, exit 0.
pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<(), Error> {
    let path = args.path.as_ref().unwrap_or(&ctx.paths.task_file);
    let loaded = taskfile::load(path);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let (tasks, diagnostics, warnings) = match loaded {
            Ok(file) => (file.tasks.len(), file.ended, file.warnings),
            Err(LoadError::Invalid { diagnostics, .. }) => (0, diagnostics, Vec::new()),
            // Unreadable or insecure: no diagnostics to give, the usual message.
            Err(e) => return Err(e.into()),
        };
        let json = Checked {
            file: path,
            valid: diagnostics.is_empty(),
            tasks,
            diagnostics: &diagnostics,
            warnings: &warnings,
        };
        out!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&json).expect("serializes")
        )?;
        return if diagnostics.is_empty() {
            Ok(())
        } else {
            Err(Error::Exit(2))
        };
    }
    let file = loaded?;
    let mut stderr = std::io::stderr().lock();
    for warning in &file.warnings {
        let _ = writeln!(stderr, "kron: warning: {warning}");
    }
    drop(stderr);
    if !file.ended.is_empty() {
        return Err(LoadError::Invalid {
            path: path.clone(),
            diagnostics: file.ended,
        }
        .into());
    }
    out!(
        stdout,
        "{}: ok, {} task(s)",
        path.display(),
        file.tasks.len()
    )
}
