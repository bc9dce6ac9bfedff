//! `kron set NAME KEY=VALUE...` and `kron unset NAME KEY...`: one task's
//! keys changed in place (`taskfile::edit::set` and `unset`), under the
//! task-file lock, the result checked as `kron add` checks a new task
//! before it is installed, the rest of the file kept byte for byte.

use std::io::Write;
use std::path::Path;

use super::{Ctx, out};
use crate::cli::{SetArgs, UnsetArgs};
use crate::error::Error;
use crate::taskfile::edit::{self, EditError, KeyPath};
use crate::taskfile::install::{self, InstallError};
use crate::taskfile::{
    self, HISTORY_KEYS, LIMIT_KEYS, LOG_KEYS, RETRY_KEYS, SHARED_KEYS, TASK_ONLY_KEYS,
};

pub fn set(ctx: &Ctx, args: &SetArgs) -> Result<(), Error> {
    let mut assignments = Vec::new();
    for text in &args.assignments {
        let Some((key, value)) = text.split_once('=') else {
            return Err(Error::Invalid(format!(
                "`{text}`: expected KEY=VALUE, such as timeout=2h or retry.attempts=3"
            )));
        };
        let key = edit::key_path(key).map_err(Error::Invalid)?;
        let value = edit::value(&key, value);
        assignments.push((key, value));
    }
    let path = &ctx.paths.task_file;
    let name = &args.name;
    let text = install::update(path, |old| {
        let old = old.unwrap_or_default();
        let text =
            edit::set(old, path, name, &assignments).map_err(|e| edit_error(e, old, path))?;
        Ok::<_, Error>((text.clone(), text))
    })
    .map_err(|e| key_error(e, name))?;
    super::daemon::ensure_running(ctx);
    let mut stdout = std::io::stdout().lock();
    for (key, value) in &assignments {
        out!(stdout, "set {name}.{} = {value}", shown(key))?;
    }
    report(&mut stdout, &text, path, name)
}

pub fn unset(ctx: &Ctx, args: &UnsetArgs) -> Result<(), Error> {
    let mut keys: Vec<KeyPath> = Vec::new();
    for text in &args.keys {
        let key = edit::key_path(text).map_err(Error::Invalid)?;
        known(&key)?;
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    let path = &ctx.paths.task_file;
    let name = &args.name;
    let (text, found) = install::update(path, |old| {
        let old = old.unwrap_or_default();
        let (text, found) =
            edit::unset(old, path, name, &keys).map_err(|e| edit_error(e, old, path))?;
        Ok::<_, Error>((text.clone(), (text, found)))
    })
    .map_err(|e| key_error(e, name))?;
    if found.contains(&true) {
        super::daemon::ensure_running(ctx);
    }
    let mut stdout = std::io::stdout().lock();
    for (key, found) in keys.iter().zip(&found) {
        let key = shown(key);
        if *found {
            out!(stdout, "unset {name}.{key}")?;
        } else {
            out!(stdout, "{name}.{key} was not set; nothing to unset")?;
        }
    }
    report(&mut stdout, &text, path, name)
}

/// The task's next run, then, on stderr, what will make its runs fail
/// (as after `kron add`).
fn report(stdout: &mut impl Write, text: &str, path: &Path, name: &str) -> Result<(), Error> {
    let file = taskfile::parse(text, path).ok();
    if let Some(task) = file.as_ref().and_then(|f| f.task(name)) {
        out!(stdout, "{}", super::add::summary(task))?;
        super::check::warn(std::iter::once(task));
    }
    Ok(())
}

/// A key as the user would write it again.
fn shown(key: &KeyPath) -> String {
    key.iter()
        .map(|k| {
            let bare = !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if bare { k.clone() } else { format!("{k:?}") }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A key `kron unset` may remove: one the loader knows, not a required one.
/// (`kron set` leaves unknown keys to the loader, whose diagnostic has the
/// same suggestion.)
fn known(key: &KeyPath) -> Result<(), Error> {
    let top: Vec<&str> = TASK_ONLY_KEYS.iter().chain(&SHARED_KEYS).copied().collect();
    let unknown = |word: &str, known: &[&str], what: &str| {
        let hint = crate::diag::suggest(word, known)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| format!(" (known: {})", known.join(", ")));
        Error::Invalid(format!("`{word}` is not {what}{hint}"))
    };
    let first = key[0].as_str();
    if !top.contains(&first) {
        return Err(unknown(first, &top, "a task key"));
    }
    if first == "schedule" || first == "command" {
        return Err(Error::Invalid(format!(
            "`{first}` cannot be unset: every task has one (`kron set NAME {first}=...` changes it)"
        )));
    }
    let inner: &[&str] = match first {
        "retry" => &RETRY_KEYS,
        "log" => &LOG_KEYS,
        "limits" => &LIMIT_KEYS,
        "history" => &HISTORY_KEYS,
        _ => return Ok(()),
    };
    match key.get(1) {
        Some(sub) if !inner.contains(&sub.as_str()) => {
            Err(unknown(sub, inner, &format!("a key of `{first}`")))
        }
        _ => Ok(()),
    }
}

fn edit_error(error: EditError, old: &str, path: &Path) -> Error {
    match error {
        EditError::Unknown(names) => {
            let known = crate::complete::names_in(old);
            Error::no_such_task(&names[0], path, known.iter().map(|(n, _)| n.as_str()))
        }
        other => other.into(),
    }
}

/// An invalid result told against the keys that made it (`timeout: ...`)
/// rather than lines of a file that was never written; other errors as
/// they are.
fn key_error(error: Error, name: &str) -> Error {
    let Error::Install(InstallError::Invalid { diagnostics, .. }) = &error else {
        return error;
    };
    let prefix = format!("tasks.{name}");
    let mut lines = Vec::new();
    for diagnostic in diagnostics {
        let key = match diagnostic.key_path.strip_prefix(&prefix) {
            Some("") => String::new(),
            Some(key) if key.starts_with('.') => format!("{}: ", &key[1..]),
            _ => return error,
        };
        let help = diagnostic
            .help
            .as_ref()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        lines.push(format!("{key}{}{help}", diagnostic.message));
    }
    lines.push("nothing was changed".into());
    Error::Invalid(lines.join("\nkron: "))
}
