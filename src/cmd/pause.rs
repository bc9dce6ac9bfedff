//! `kron pause NAME...|--all` and `kron resume NAME...|--all`: set or clear
//! `paused` in the tasks' tables, under the task-file lock, keeping the
//! rest of the file byte for byte. The daemon notices the change like any
//! other: a paused task does not fire; a resumed one starts from now
//! (nothing missed while paused is caught up).
//!
//! Pausing writes `paused = true` in the task's table (replacing a
//! `paused = false`). Resuming removes the task's `paused` key, or writes
//! `paused = false` when `[defaults]` says `paused = true`.

use std::io::Write;
use std::path::Path;

use toml_edit::{DocumentMut, InlineTable, Item, TableLike, Value};

use super::{Ctx, out};
use crate::cli::PauseArgs;
use crate::error::Error;
use crate::taskfile::install::{self, InstallError};
use crate::taskfile::load::LoadError;
use crate::taskfile::{self, TaskFile};

pub fn pause(ctx: &Ctx, args: &PauseArgs) -> Result<(), Error> {
    change(ctx, args, true)
}

pub fn resume(ctx: &Ctx, args: &PauseArgs) -> Result<(), Error> {
    change(ctx, args, false)
}

fn change(ctx: &Ctx, args: &PauseArgs, pause: bool) -> Result<(), Error> {
    let path = &ctx.paths.task_file;
    let report = {
        let _lock = install::lock(path)?;
        let old = install::read(path)?.unwrap_or_default();
        let file = taskfile::parse(&old, path).map_err(|diagnostics| {
            Error::Load(LoadError::Invalid {
                path: path.clone(),
                diagnostics,
            })
        })?;
        let names = names(&file, args, path)?;
        let (text, report) = set_paused(&old, &file, &names, pause)?;
        if text != old {
            install::install(path, &text)?;
        }
        report
    };
    if report.iter().any(|(_, changed)| *changed) {
        super::daemon::ensure_running(ctx);
    }
    let (done, state) = if pause {
        ("paused", "paused")
    } else {
        ("resumed", "not paused")
    };
    let mut stdout = std::io::stdout().lock();
    if report.is_empty() {
        return out!(stdout, "no tasks in {}", path.display());
    }
    for (name, changed) in report {
        if changed {
            out!(stdout, "{done} {name}")?;
        } else {
            out!(stdout, "{name} was already {state}")?;
        }
    }
    Ok(())
}

/// The tasks named (each once, in the order given), or all with `--all`.
/// Every name must exist, or nothing changes.
fn names(file: &TaskFile, args: &PauseArgs, path: &Path) -> Result<Vec<String>, Error> {
    if args.all {
        return Ok(file.tasks.iter().map(|t| t.name.clone()).collect());
    }
    let mut names: Vec<String> = Vec::new();
    for name in &args.names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| file.task(n).is_none())
        .map(|n| format!("`{n}`"))
        .collect();
    if !unknown.is_empty() {
        return Err(Error::Install(InstallError::Refused(format!(
            "no task named {} in {}; nothing was changed",
            unknown.join(", "),
            path.display()
        ))));
    }
    Ok(names)
}

/// `text` with `paused` set (or cleared) for `names`, and for each name
/// whether it changed. `file` is `text` parsed.
fn set_paused(
    text: &str,
    file: &TaskFile,
    names: &[String],
    pause: bool,
) -> Result<(String, Vec<(String, bool)>), Error> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| Error::Failed(format!("{}: {e}", file.path.display())))?;
    let defaults_pause = file.defaults.paused == Some(true);
    let mut report = Vec::new();
    for name in names {
        let task = file.task(name).expect("names are checked");
        if task.settings.paused == pause {
            report.push((name.clone(), false));
            continue;
        }
        let item = doc
            .get_mut("tasks")
            .and_then(Item::as_table_like_mut)
            .and_then(|tasks| tasks.get_mut(name))
            .ok_or_else(|| Error::Failed(format!("cannot find the table of task `{name}`")))?;
        if let Some(inline) = item.as_inline_table_mut() {
            set_inline(inline, pause, defaults_pause);
        } else if let Some(table) = item.as_table_like_mut() {
            if pause || defaults_pause {
                set_bool(table, "paused", pause);
            } else {
                table.remove("paused");
            }
        }
        report.push((name.clone(), true));
    }
    Ok((doc.to_string(), report))
}

/// Sets `key = value`, keeping the decor (comments, spacing) of a value
/// that is already there.
fn set_bool(table: &mut dyn TableLike, key: &str, value: bool) {
    if let Some(old) = table.get_mut(key).and_then(Item::as_value_mut) {
        let decor = old.decor().clone();
        *old = Value::from(value);
        *old.decor_mut() = decor;
    } else {
        table.insert(key, Item::Value(Value::from(value)));
    }
}

/// [`set_bool`] or removal for `{ ... }` tasks, keeping the space before
/// the closing brace where it was.
fn set_inline(table: &mut InlineTable, pause: bool, defaults_pause: bool) {
    let closing = table
        .iter()
        .last()
        .and_then(|(_, v)| {
            v.decor()
                .suffix()
                .and_then(|s| s.as_str())
                .map(String::from)
        })
        .unwrap_or_default();
    let set_closing = |table: &mut InlineTable, text: &str| {
        if let Some((_, last)) = table.iter_mut().last() {
            last.decor_mut().set_suffix(text.to_string());
        }
    };
    let exists = table.contains_key("paused");
    if pause || defaults_pause {
        if exists {
            set_bool(table, "paused", pause);
        } else {
            set_closing(table, "");
            table.insert("paused", Value::from(pause));
            set_closing(table, &closing);
        }
    } else if exists {
        table.remove("paused");
        set_closing(table, &closing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str, names: &[&str], pause: bool) -> String {
        let file = taskfile::parse(text, Path::new("t.toml")).unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let (out, _) = set_paused(text, &file, &names, pause).unwrap();
        let reparsed = taskfile::parse(&out, Path::new("t.toml")).unwrap();
        for name in &names {
            assert_eq!(reparsed.task(name).unwrap().settings.paused, pause, "{out}");
        }
        out
    }

    const FILE: &str = "\
# my tasks
[tasks.backup]   # nightly
schedule = \"30 2 * * *\"
command = [ \"restic\",  \"backup\" ]   # keep this

# about ping
[tasks.ping]
schedule = \"*/5 * * * *\"
command = 'ping -c1 example.org'
";

    #[test]
    fn pause_then_resume_gives_the_file_back() {
        let paused = apply(FILE, &["backup"], true);
        assert_eq!(
            paused,
            FILE.replace("   # keep this\n", "   # keep this\npaused = true\n")
        );
        assert_eq!(apply(&paused, &["backup"], false), FILE);
        let both = apply(FILE, &["ping", "backup"], true);
        assert_eq!(apply(&both, &["ping", "backup"], false), FILE);
    }

    #[test]
    fn an_explicit_false_is_replaced_in_place_and_defaults_are_respected() {
        let text = "[tasks.a]\nschedule = \"@daily\"\npaused = false  # for now\ncommand = \"a\"\n";
        assert_eq!(
            apply(text, &["a"], true),
            text.replace("paused = false", "paused = true")
        );
        let text =
            "[defaults]\npaused = true\n\n[tasks.a]\nschedule = \"@daily\"\ncommand = \"a\"\n";
        let resumed = apply(text, &["a"], false);
        assert_eq!(resumed, format!("{text}paused = false\n"));
        assert_eq!(
            apply(&resumed, &["a"], true),
            format!("{text}paused = true\n")
        );
    }

    #[test]
    fn inline_and_dotted_tasks_stay_in_their_form() {
        let text = "[tasks]\na = { schedule = \"@daily\", command = \"a\" }\n";
        let paused = apply(text, &["a"], true);
        assert_eq!(
            paused,
            "[tasks]\na = { schedule = \"@daily\", command = \"a\", paused = true }\n"
        );
        assert_eq!(apply(&paused, &["a"], false), text);
        let text = "tasks.a.schedule = \"@daily\"\ntasks.a.command = \"a\"\n";
        let paused = apply(text, &["a"], true);
        assert_eq!(paused, format!("{text}tasks.a.paused = true\n"));
        assert_eq!(apply(&paused, &["a"], false), text);
    }

    #[test]
    fn already_in_the_state_asked_is_reported_unchanged() {
        let file = taskfile::parse(FILE, Path::new("t.toml")).unwrap();
        let (out, report) = set_paused(FILE, &file, &["ping".into()], false).unwrap();
        assert_eq!(out, FILE);
        assert_eq!(report, [("ping".to_string(), false)]);
    }
}
