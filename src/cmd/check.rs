//! `kron check [FILE] [--json]`: validate without installing. A valid file
//! is still refused when a schedule can only fire in the past
//! (`TaskFile::ended`). Warnings go to stderr, exit 0: what is valid but
//! should be written otherwise (a zone not in its IANA spelling), and what
//! will make runs fail although the file is valid (a missing workdir, a
//! program not on the task's PATH: `runner::preflight`).

use std::io::Write;

use super::{Ctx, out};
use crate::cli::CheckArgs;
use crate::diag::Diagnostic;
use crate::error::Error;
use crate::runner::preflight;
use crate::taskfile::{self, Task, load::LoadError};

#[derive(serde::Serialize)]
struct Checked<'a> {
    file: &'a std::path::Path,
    valid: bool,
    tasks: usize,
    diagnostics: &'a [Diagnostic],
    /// The warnings: diagnostics (file, line, column, key path, message),
    /// then what will make runs fail (a message each).
    warnings: Vec<serde_json::Value>,
    /// A note for each task whose times fall in a clock change within the
    /// next year (as `kron check` prints them on stderr).
    notes: Vec<String>,
}

pub fn run(ctx: &Ctx, args: &CheckArgs) -> Result<(), Error> {
    let path = args.path.as_ref().unwrap_or(&ctx.paths.task_file);
    let loaded = taskfile::load(path);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let now = jiff::Timestamp::now();
        let (tasks, diagnostics, warnings, notes) = match loaded {
            Ok(file) => {
                let notes = file
                    .tasks
                    .iter()
                    .filter_map(|t| super::dst::note(t, now))
                    .collect();
                let mut warnings: Vec<serde_json::Value> = file
                    .warnings
                    .iter()
                    .map(|d| serde_json::to_value(d).expect("diagnostics serialize"))
                    .collect();
                warnings.extend(
                    file.tasks
                        .iter()
                        .flat_map(preflight::warnings)
                        .map(|message| serde_json::json!({ "message": message })),
                );
                (file.tasks.len(), file.ended, warnings, notes)
            }
            Err(LoadError::Invalid { diagnostics, .. }) => (0, diagnostics, Vec::new(), Vec::new()),
            // Unreadable or insecure: no diagnostics to give, the usual message.
            Err(e) => return Err(e.into()),
        };
        let json = Checked {
            file: path,
            valid: diagnostics.is_empty(),
            tasks,
            diagnostics: &diagnostics,
            warnings,
            notes,
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
    )?;
    drop(stdout);
    warn(file.tasks.iter());
    super::dst::print_notes(&file.tasks);
    Ok(())
}

/// Says on stderr what will make the tasks' runs fail although they are
/// valid (a missing workdir, a program not found): warnings, never a
/// refusal, since either may be there by the first run.
pub(super) fn warn<'a>(tasks: impl Iterator<Item = &'a Task>) {
    for task in tasks {
        for warning in preflight::warnings(task) {
            eprintln!("kron: warning: {warning}");
        }
    }
}
