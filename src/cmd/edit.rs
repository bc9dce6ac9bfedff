//! `kron edit`: the task file in the user's editor, as safely as
//! `crontab -e`.
//!
//! The text is copied to a scratch file in a private directory
//! (`$XDG_RUNTIME_DIR/kron/edit-PID/`, 0700, the file 0600) and the editor
//! (`$VISUAL`, else `$EDITOR`, else `vi`, run by `sh` so that it may carry
//! arguments such as `code -w`) opens it. Afterwards:
//!
//! - unchanged: nothing happens (a new user's untouched template creates no
//!   file);
//! - invalid: every error is printed; on a terminal kron offers to edit
//!   again with the text kept, otherwise (or on "no") the text is kept in
//!   the state directory and kron exits 2;
//! - valid: under the task-file lock, kron checks that the file still holds
//!   what the editor started from and installs the new text atomically. If
//!   it changed meanwhile (a `kron add`, another `kron edit`), nothing is
//!   overwritten: the edit is kept in the state directory and kron exits 1.
//!
//! Whenever the edit is not installed and differs from the start, it is
//! kept at `$XDG_STATE_HOME/kron/edits/` and the message names the file;
//! the last [`KEPT_EDITS`] are kept, older ones removed. The copy of an
//! edit refused because the file changed meanwhile is what the next `kron
//! edit` of that file opens (once; noted in `$XDG_STATE_HOME/kron/
//! edits.merge`), so that the user merges their version with the file as
//! it is now rather than start over from the file.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::Timestamp;

use super::{Ctx, out};
use crate::dirs;
use crate::error::Error;
use crate::taskfile::{self, install, template::TEMPLATE};

/// How many edits that were not installed are kept.
pub const KEPT_EDITS: usize = 10;

pub fn run(ctx: &Ctx) -> Result<(), Error> {
    let path = &ctx.paths.task_file;
    let original = install::read(path)?;
    let merge = take_merge(ctx);
    let start = match &merge {
        Some((kept, text)) => {
            eprintln!(
                "kron: opening your edit kept at {}, which was not installed because {} changed \
                 meanwhile: merge it with the file as it is now (diff {0} {1})",
                kept.display(),
                path.display()
            );
            text.as_str()
        }
        None => original.as_deref().unwrap_or(TEMPLATE),
    };
    let scratch = Scratch::create(&ctx.paths.runtime_dir, path, start)?;
    let editor = editor();
    let interactive = std::io::stdin().is_terminal();
    let mut stdout = std::io::stdout().lock();
    loop {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$@\""))
            .arg(&editor)
            .arg(&scratch.file)
            .status()
            .map_err(|source| Error::Io {
                action: "running the editor with",
                path: "sh".into(),
                source,
            })?;
        let bytes = scratch.read()?;
        if !status.success() {
            let what = format!("the editor (`{editor}`) failed ({status}); nothing was installed");
            return Err(Error::Failed(match kept_if_changed(ctx, &bytes, start)? {
                Some(kept) => format!("{what}; your edit is kept at {}", kept.display()),
                None => what,
            }));
        }
        if bytes == start.as_bytes() {
            if let Some((kept, _)) = &merge {
                return out!(
                    stdout,
                    "no changes; {} left as it was, your edit still kept at {}",
                    path.display(),
                    kept.display()
                );
            }
            return match original {
                Some(_) => out!(stdout, "no changes; {} left as it was", path.display()),
                None => out!(stdout, "no changes; {} not created", path.display()),
            };
        }
        // Text that is not UTF-8 is invalid like any other error: edit again or keep it.
        let parsed = taskfile::decode(&bytes, &scratch.file)
            .and_then(|text| Ok((taskfile::parse(text, &scratch.file)?, text)));
        let diagnostics = match parsed {
            Ok((file, text)) => {
                let count = file.tasks.len();
                return match install_edit(ctx, original.as_deref(), text) {
                    Ok(()) => {
                        super::daemon::ensure_running(ctx);
                        out!(
                            stdout,
                            "installed {}: {count} task{}{}",
                            path.display(),
                            if count == 1 { "" } else { "s" },
                            changes(original.as_deref(), &file)
                        )?;
                        super::dst::print_notes(retimed(original.as_deref(), &file));
                        Ok(())
                    }
                    Err(e) => Err(e),
                };
            }
            Err(e) => e.into_diagnostics(),
        };
        if interactive {
            for diagnostic in &diagnostics {
                eprintln!("{diagnostic}");
            }
            if ask_again()? {
                continue;
            }
            let kept = keep(ctx, &bytes)?;
            return Err(Error::Invalid(format!(
                "{} was not changed; your edit is kept at {}",
                path.display(),
                kept.display()
            )));
        }
        let kept = keep(ctx, &bytes)?;
        for mut diagnostic in diagnostics {
            diagnostic.file = kept.clone();
            eprintln!("{diagnostic}");
        }
        return Err(Error::Invalid(format!(
            "the edit is invalid, so {} was not changed; it is kept at {}",
            path.display(),
            kept.display()
        )));
    }
}

/// `$VISUAL`, else `$EDITOR`, else `vi`: a shell word list, so that
/// `EDITOR="code -w"` works.
fn editor() -> String {
    ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".into())
}

/// Installs `text` if the task file still holds `original`; otherwise, or
/// when installing fails, keeps `text` and says where.
fn install_edit(ctx: &Ctx, original: Option<&str>, text: &str) -> Result<(), Error> {
    let path = &ctx.paths.task_file;
    let result = install::update(path, |current| {
        if current != original {
            return Ok((current.unwrap_or_default().to_string(), false));
        }
        Ok::<_, Error>((text.to_string(), true))
    });
    match result {
        Ok(true) => Ok(()),
        Ok(false) => {
            let kept = keep(ctx, text.as_bytes())?;
            note_merge(ctx, &kept);
            Err(Error::Failed(format!(
                "{} changed while you were editing (a `kron add`, `kron remove` or another \
                 `kron edit`?), so kron did not overwrite it; your version is kept at {}: \
                 `kron edit` opens it next, to merge it with the file as it is now",
                path.display(),
                kept.display()
            )))
        }
        Err(e) => {
            let kept = keep(ctx, text.as_bytes())?;
            let message = format!("{e}; your edit is kept at {}", kept.display());
            Err(if e.exit_code() == 2 {
                Error::Invalid(message)
            } else {
                Error::Failed(message)
            })
        }
    }
}

/// `; added a, b; removed c` relative to the file before the edit.
fn changes(original: Option<&str>, new: &taskfile::TaskFile) -> String {
    let before: Vec<String> = original
        .and_then(|text| taskfile::parse(text, &new.path).ok())
        .map(|file| file.tasks.into_iter().map(|t| t.name).collect())
        .unwrap_or_default();
    let after: Vec<&str> = new.tasks.iter().map(|t| t.name.as_str()).collect();
    let added: Vec<&str> = after
        .iter()
        .copied()
        .filter(|n| !before.iter().any(|b| b == n))
        .collect();
    let removed: Vec<&str> = before
        .iter()
        .map(String::as_str)
        .filter(|b| !after.contains(b))
        .collect();
    let mut out = String::new();
    if !added.is_empty() {
        out.push_str(&format!("; added {}", added.join(", ")));
    }
    if !removed.is_empty() {
        out.push_str(&format!("; removed {}", removed.join(", ")));
    }
    out
}

/// The tasks of `new` that are new or whose schedule or zone changed: the
/// ones whose clock-change notes the user has not seen.
fn retimed<'a>(
    original: Option<&str>,
    new: &'a taskfile::TaskFile,
) -> impl Iterator<Item = &'a taskfile::Task> {
    let before: Vec<(String, String)> = original
        .and_then(|text| taskfile::parse(text, &new.path).ok())
        .map(|file| file.tasks.iter().map(timing).collect())
        .unwrap_or_default();
    new.tasks
        .iter()
        .filter(move |t| !before.contains(&timing(t)))
}

/// A task's name and when it runs: its schedule as written and its zone.
fn timing(task: &taskfile::Task) -> (String, String) {
    (
        task.name.clone(),
        format!("{} {}", task.schedule_text, task.settings.timezone.name()),
    )
}

/// Asks on the terminal whether to edit again; yes unless the answer
/// starts with n (or standard input ends).
fn ask_again() -> Result<bool, Error> {
    Ok(super::ask("Edit again? [Y/n]")?.is_some_and(|a| !a.starts_with('n')))
}

fn kept_if_changed(ctx: &Ctx, bytes: &[u8], start: &str) -> Result<Option<PathBuf>, Error> {
    if bytes == start.as_bytes() {
        return Ok(None);
    }
    keep(ctx, bytes).map(Some)
}

/// `$XDG_STATE_HOME/kron/edits.merge`: the task file and the kept edit
/// the next `kron edit` of it opens, a line each.
fn merge_note(ctx: &Ctx) -> PathBuf {
    ctx.paths.state_dir.join("edits.merge")
}

/// Notes `kept` as the edit of this task file to merge (a failure to note
/// it only means the next edit opens the file itself).
fn note_merge(ctx: &Ctx, kept: &Path) {
    let note = format!("{}\n{}\n", ctx.paths.task_file.display(), kept.display());
    let _ = install::write_atomically(&merge_note(ctx), note.as_bytes());
}

/// The kept edit to merge into this task file, and its text, if one is
/// noted; the note is used once.
fn take_merge(ctx: &Ctx) -> Option<(PathBuf, String)> {
    let note_path = merge_note(ctx);
    let note = std::fs::read_to_string(&note_path).ok()?;
    let mut lines = note.lines();
    let (file, kept) = (lines.next()?, PathBuf::from(lines.next()?));
    if Path::new(file) != ctx.paths.task_file {
        return None;
    }
    let _ = std::fs::remove_file(&note_path);
    let text = std::fs::read_to_string(&kept).ok()?;
    Some((kept, text))
}

/// Saves an edit that was not installed, 0600 in
/// `$XDG_STATE_HOME/kron/edits/`, and returns its path. Only the last
/// [`KEPT_EDITS`] are kept.
fn keep(ctx: &Ctx, text: &[u8]) -> Result<PathBuf, Error> {
    let stamp = Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
    let stem = ctx
        .paths
        .task_file
        .file_stem()
        .map_or_else(|| "tasks".into(), |s| s.to_string_lossy().into_owned());
    let kept = ctx
        .paths
        .state_dir
        .join("edits")
        .join(format!("{stem}-{stamp}-{}.toml", std::process::id()));
    install::write_atomically(&kept, text)?;
    prune_kept(kept.parent().expect("a kept edit is in a directory"));
    Ok(kept)
}

/// Removes all but the newest [`KEPT_EDITS`] edits (`*.toml`) in `dir`.
fn prune_kept(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut kept: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".toml"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    kept.sort();
    let excess = kept.len().saturating_sub(KEPT_EDITS);
    for (_, old) in kept.into_iter().take(excess) {
        let _ = std::fs::remove_file(old);
    }
}

/// The private copy the editor works on; removed (with whatever the editor
/// left beside it) when dropped.
struct Scratch {
    dir: PathBuf,
    file: PathBuf,
}

impl Scratch {
    fn create(runtime_dir: &Path, task_file: &Path, text: &str) -> Result<Scratch, Error> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io {
                action,
                path,
                source,
            }
        };
        // Private: checked when `kron edit` started (`Paths::check`), or now.
        dirs::create_private_dir(runtime_dir).map_err(io("creating", runtime_dir))?;
        let dir = runtime_dir.join(format!("edit-{}", std::process::id()));
        // A directory of this name was left by an earlier process with the same pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(io("creating", &dir))?;
        let name = task_file
            .file_name()
            .map_or_else(|| "tasks.toml".into(), |n| n.to_os_string());
        let scratch = Scratch {
            file: dir.join(name),
            dir,
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&scratch.file)
            .map_err(io("creating", &scratch.file))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io("writing", &scratch.file))?;
        Ok(scratch)
    }

    /// The edited bytes (text that is not UTF-8 is judged, and kept, like
    /// any invalid edit).
    fn read(&self) -> Result<Vec<u8>, Error> {
        std::fs::read(&self.file).map_err(|source| Error::Io {
            action: "reading the edited copy",
            path: self.file.clone(),
            source,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
