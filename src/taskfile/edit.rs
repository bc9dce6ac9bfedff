//! Changing task-file text the way a careful person would: add, replace and
//! remove task tables, and pause or resume tasks, with `toml_edit`, so the
//! user's comments, order and formatting elsewhere survive byte for byte.
//! This is the only code that writes task-file text: `kron add`, `import`,
//! `remove`, `pause` and `resume` all go through it (and through
//! [`super::install::update`]), so a task is written the same way whoever
//! writes it.
//!
//! The rules, which the README repeats for users:
//!
//! - **Add** appends a `[tasks.NAME]` table at the end of the file, after a
//!   blank line, its keys in one order ([`NewTask`]). The old text is a
//!   prefix of the new one (except that a missing final newline is added).
//!   [`append_all`] adds several (`kron import`).
//! - **Replace** sets, in the task's table where it stands, the keys the
//!   new task has ([`set`] of each), and keeps every other key: `kron add
//!   --replace` changes what it is given, not what it does not know about.
//!   Comments stay where they are, those on a changed value's line too.
//! - **Set** ([`set`], `kron set`) writes `KEY = VALUE` in the task's table,
//!   a dotted key (`retry.attempts`) in the table it names (an inline
//!   `retry = { ... }`, or `[tasks.NAME.retry]`), made when missing. A key
//!   that is there keeps its place and the comments around it; a new one
//!   goes after the table's last key. **Unset** ([`unset`]) takes a key out
//!   with the comment lines directly above it, and a table it leaves empty.
//! - **Remove** takes out the task's table (and any `[tasks.NAME.*]`
//!   sub-tables), the comment lines touching it (directly above its header or
//!   directly below its last line, with no blank line between) and the blank
//!   lines that separated it from what follows. A comment separated from
//!   the task by a blank line belongs to something else and stays.
//!
//! - **Pause** sets `paused = true` in the task's table (replacing a
//!   `paused = false`); **resume** removes the key, or writes `paused =
//!   false` when `[defaults]` says `paused = true`.
//!
//! Tasks written as inline tables or dotted keys are changed in their own
//! form. Nothing here validates values: callers install the result with
//! [`super::install::install`], which refuses an invalid file.

use std::path::Path;

use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, TableLike, Value};

use super::load::LoadError;
use super::{TaskCommand, TaskFile};
use crate::diag::Diagnostic;

/// A task as `kron add` or `kron import` describes it, in the order its
/// keys are written; `None` keys are not written. Values are kept as text;
/// the loader judges them when the result is installed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewTask {
    pub description: Option<String>,
    pub schedule: String,
    pub timezone: Option<String>,
    pub command: Option<TaskCommand>,
    pub shell: Option<String>,
    pub workdir: Option<String>,
    pub env: Vec<(String, String)>,
    pub stdin: Option<String>,
    pub timeout: Option<String>,
    pub retry_attempts: Option<u32>,
    pub mailto: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The text is not a task file this module can change.
    #[error(transparent)]
    Invalid(#[from] LoadError),
    #[error("a task named `{0}` already exists")]
    Exists(String),
    #[error("no task named {}", quoted(.0))]
    Unknown(Vec<String>),
}

/// What [`add`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Added {
    New,
    /// The keys of the old task the new one did not set, which it kept
    /// (dotted: `timeout`, `env.LANG`).
    Replaced {
        kept: Vec<String>,
    },
}

/// Adds task `name` to `text`, or replaces it when `replace` is set.
/// `path` only names the file in diagnostics.
pub fn add(
    text: &str,
    path: &Path,
    name: &str,
    task: &NewTask,
    replace: bool,
) -> Result<(String, Added), EditError> {
    let mut doc = document(text, path)?;
    let exists = tasks(&doc).is_some_and(|t| t.contains_key(name));
    if exists && !replace {
        return Err(EditError::Exists(name.into()));
    }
    if exists {
        let assignments = flatten(&task_table(task));
        let old = tasks(&doc)
            .and_then(|t| t.get(name))
            .and_then(Item::as_table_like)
            .map(keys_of)
            .unwrap_or_default();
        let kept = old
            .into_iter()
            .filter(|k| !assignments.iter().any(|(set, _)| set == k))
            .map(|k| k.join("."))
            .collect();
        let text = set(text, path, name, &assignments)?;
        return Ok((text, Added::Replaced { kept }));
    }
    let mut table = task_table(task);
    if doc.get("tasks").is_none() {
        let mut tasks = Table::new();
        tasks.set_implicit(true);
        doc.insert("tasks", Item::Table(tasks));
    }
    let appends_table = matches!(doc.get("tasks"), Some(Item::Table(t)) if !t.is_dotted());
    if !exists && appends_table {
        let prefix = append_prefix(&mut doc);
        table.decor_mut().set_prefix(prefix);
        table.set_position(Some(max_position(doc.as_table()) + 1));
    }
    match doc.get_mut("tasks") {
        Some(Item::Table(tasks)) => {
            let dotted = tasks.is_dotted();
            match tasks.get_mut(name) {
                Some(Item::Table(old)) if !old.is_dotted() => {
                    *table.decor_mut() = old.decor().clone();
                    table.set_position(old.position());
                    *old = table;
                }
                Some(old) => *old = Item::Value(inline_like(table, old.as_value())),
                None if dotted => {
                    tasks.insert(name, Item::Value(inline_like(table, None)));
                }
                None => {
                    tasks.insert(name, Item::Table(table));
                }
            }
        }
        Some(Item::Value(Value::InlineTable(tasks))) => {
            let value = inline_like(table, tasks.get(name));
            tasks.insert(name, value);
        }
        _ => return Err(invalid(text, path)),
    }
    Ok((doc.to_string(), Added::New))
}

/// A dotted key below a task's table (`["retry", "attempts"]`).
pub type KeyPath = Vec<String>;

/// `KEY` of `kron set` and `kron unset` as a path: TOML's dotted-key syntax
/// (`retry.attempts`, `env."MY VAR"`).
pub fn key_path(text: &str) -> Result<KeyPath, String> {
    let keys = toml_edit::Key::parse(text.trim()).map_err(|_| {
        format!("`{text}` is not a key (such as timeout, retry.attempts or env.LANG)")
    })?;
    Ok(keys.iter().map(|k| k.get().to_string()).collect())
}

/// Keys whose value is text and nothing else (with `env.*`), and `command`,
/// text or an array: [`value`] never reads `8080` or `true` as a number or
/// a boolean for them.
const TEXT_KEYS: [&str; 13] = [
    "description",
    "schedule",
    "command",
    "timezone",
    "shell",
    "workdir",
    "stdin",
    "lock",
    "on_failure",
    "on_success",
    "on_missed",
    "mailto",
    "env",
];

/// `VALUE` of `kron set` for `key`: TOML when it is a TOML value (`3`,
/// `true`, `["a", "b"]`, `{ attempts = 3 }`, `"quoted"`), else the text as
/// a string (`30s`, `@daily`, `pg_dump db`). For a key that takes only text
/// (`env.PORT`, `description`, ...; see [`TEXT_KEYS`]) it is the text
/// unless it is a quoted TOML string (then without its quotes), or an
/// array for `command`. A date or time, which no key takes, is the text.
pub fn value(key: &[String], text: &str) -> Value {
    let first = key.first().map_or("", String::as_str);
    let text_only = TEXT_KEYS.contains(&first) && !(first == "env" && key.len() == 1);
    match text.parse::<Value>() {
        Ok(Value::Datetime(_)) | Err(_) => string(text),
        Ok(Value::String(s)) => string(s.value()),
        Ok(Value::Array(_)) if first == "command" => {
            let mut value: Value = text.parse().expect("parsed above");
            value.decor_mut().clear();
            value
        }
        Ok(_) if text_only => string(text),
        Ok(mut value) => {
            value.decor_mut().clear();
            value
        }
    }
}

/// Sets each `(key, value)` in task `name`'s table (see the module's
/// heading). Nothing here judges the values: the install does.
pub fn set(
    text: &str,
    path: &Path,
    name: &str,
    assignments: &[(KeyPath, Value)],
) -> Result<String, EditError> {
    let mut doc = document(text, path)?;
    let item = task_item(&mut doc, name)?;
    let inline = item.as_inline_table().is_some();
    let task = item.as_table_like_mut().expect("a task is a table");
    for (key, value) in assignments {
        set_in(task, inline, key, value.clone());
    }
    Ok(doc.to_string())
}

/// Removes each key from task `name`'s table, and each table that it
/// leaves empty; with whether each key was there.
pub fn unset(
    text: &str,
    path: &Path,
    name: &str,
    keys: &[KeyPath],
) -> Result<(String, Vec<bool>), EditError> {
    let mut doc = document(text, path)?;
    let item = task_item(&mut doc, name)?;
    let inline = item.as_inline_table().is_some();
    let task = item.as_table_like_mut().expect("a task is a table");
    let found = keys.iter().map(|key| unset_in(task, inline, key)).collect();
    Ok((doc.to_string(), found))
}

/// Task `name`'s table (or inline table).
fn task_item<'d>(doc: &'d mut DocumentMut, name: &str) -> Result<&'d mut Item, EditError> {
    doc.get_mut("tasks")
        .and_then(Item::as_table_like_mut)
        .and_then(|tasks| tasks.get_mut(name))
        .filter(|item| item.is_table_like())
        .ok_or_else(|| EditError::Unknown(vec![name.into()]))
}

/// The keys a table sets, one level into the tables it holds
/// (`["retry", "attempts"]`, `["env", "LANG"]`), in file order.
pub fn keys_of(table: &dyn TableLike) -> Vec<KeyPath> {
    let mut keys = Vec::new();
    for (key, item) in table.iter() {
        match item.as_table_like() {
            Some(inner) if !inner.is_empty() => {
                for (sub, _) in inner.iter() {
                    keys.push(vec![key.to_string(), sub.to_string()]);
                }
            }
            _ => keys.push(vec![key.to_string()]),
        }
    }
    keys
}

/// The assignments that write `table` (a [`task_table`]): its values, and
/// each value of the inline tables it holds (`env`, `retry`) by its own.
fn flatten(table: &Table) -> Vec<(KeyPath, Value)> {
    let mut out = Vec::new();
    for (key, item) in table.iter() {
        match item.as_value() {
            Some(Value::InlineTable(inner)) => {
                for (sub, value) in inner.iter() {
                    let mut value = value.clone();
                    value.decor_mut().clear();
                    out.push((vec![key.to_string(), sub.to_string()], value));
                }
            }
            Some(value) => out.push((vec![key.to_string()], value.clone())),
            None => {}
        }
    }
    out
}

/// Sets `key` in `table` (`inline`: written `{ ... }`).
fn set_in(table: &mut dyn TableLike, inline: bool, key: &[String], value: Value) {
    let [first, rest @ ..] = key else {
        return;
    };
    if rest.is_empty() {
        match table.get_mut(first).and_then(Item::as_value_mut) {
            Some(old) => {
                let decor = old.decor().clone();
                *old = value;
                *old.decor_mut() = decor;
            }
            None => insert(table, inline, first, value),
        }
        return;
    }
    if !table.get(first).is_some_and(Item::is_table_like) {
        if table.contains_key(first) {
            table.remove(first);
        }
        insert(table, inline, first, Value::InlineTable(InlineTable::new()));
    }
    let item = table.get_mut(first).expect("a table was just made");
    let inner_inline = item.as_inline_table().is_some();
    let inner = item.as_table_like_mut().expect("a table");
    set_in(inner, inner_inline, rest, value);
    if let Some(inline) = table.get_mut(first).and_then(Item::as_inline_table_mut) {
        space_braces(inline);
    }
}

/// The blank before an inline table's closing brace: the suffix of its
/// last value.
fn closing_space(table: &dyn TableLike) -> Option<String> {
    table
        .iter()
        .last()
        .and_then(|(_, item)| item.as_value())
        .and_then(|v| v.decor().suffix())
        .and_then(|s| s.as_str())
        .map(String::from)
}

/// Inserts a new `key = value` after the table's last key; in an inline
/// table, before the blank that precedes its closing brace.
fn insert(table: &mut dyn TableLike, inline: bool, key: &str, value: Value) {
    let closing = closing_space(table);
    if inline
        && let Some((_, last)) = table.iter_mut().last()
        && let Some(last) = last.as_value_mut()
    {
        last.decor_mut().set_suffix("");
    }
    table.insert(key, Item::Value(value));
    if inline
        && let Some(closing) = closing
        && let Some((_, last)) = table.iter_mut().last()
        && let Some(last) = last.as_value_mut()
    {
        last.decor_mut().set_suffix(closing);
    }
}

/// `{ a = 1 }` rather than `{a = 1}` for an inline table kron made.
fn space_braces(table: &mut InlineTable) {
    if table.len() == 1
        && let Some((_, only)) = table.iter_mut().next()
        && only.decor().prefix().is_none()
    {
        only.decor_mut().set_prefix(" ");
        only.decor_mut().set_suffix(" ");
    }
}

/// Removes `key`; true when it was there. A table it leaves empty goes too.
fn unset_in(table: &mut dyn TableLike, inline: bool, key: &[String]) -> bool {
    let [first, rest @ ..] = key else {
        return false;
    };
    if rest.is_empty() {
        let closing = closing_space(table);
        let removed = table.remove(first).is_some();
        if removed
            && inline
            && let Some(closing) = closing
            && let Some((_, last)) = table.iter_mut().last()
            && let Some(last) = last.as_value_mut()
        {
            last.decor_mut().set_suffix(closing);
        }
        return removed;
    }
    let Some(item) = table.get_mut(first).filter(|i| i.is_table_like()) else {
        return false;
    };
    let inner_inline = item.as_inline_table().is_some();
    let inner = item.as_table_like_mut().expect("a table");
    let removed = unset_in(inner, inner_inline, rest);
    if removed && inner.is_empty() {
        unset_in(table, inline, std::slice::from_ref(first));
    }
    removed
}

/// Appends the new tasks `tasks` (name, task) to `text`, in order, as
/// [`add`] would one by one. A name that exists is an error and nothing is
/// added.
pub fn append_all(
    text: &str,
    path: &Path,
    tasks: &[(String, NewTask)],
) -> Result<String, EditError> {
    let mut text = text.to_string();
    for (name, task) in tasks {
        text = add(&text, path, name, task, false)?.0;
    }
    Ok(text)
}

/// Removes the tasks `names` from `text`. Unknown names are an error and
/// nothing is removed.
pub fn remove(text: &str, path: &Path, names: &[String]) -> Result<String, EditError> {
    let mut doc = document(text, path)?;
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| !tasks(&doc).is_some_and(|t| t.contains_key(n)))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(EditError::Unknown(unknown));
    }
    for name in names {
        remove_one(&mut doc, name);
    }
    Ok(doc.to_string())
}

/// The comment that marks a task `kron import` wrote, on a line of its own
/// directly above the task's header: `# kron: imported from FILE`. `kron
/// import --replace` replaces the tasks so marked; deleting the line makes
/// a task the user's own.
pub const IMPORTED: &str = "# kron: imported from ";

/// [`append_all`], each task marked as imported from `source`
/// ([`IMPORTED`]). A task written as an inline table or dotted keys has
/// no header to mark and is not marked.
pub fn append_imported(
    text: &str,
    path: &Path,
    tasks: &[(String, NewTask)],
    source: &str,
) -> Result<String, EditError> {
    let appended = append_all(text, path, tasks)?;
    let mut doc = document(&appended, path)?;
    let source: String = source
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if let Some(Item::Table(all)) = doc.get_mut("tasks") {
        for (name, _) in tasks {
            if let Some(Item::Table(table)) = all.get_mut(name)
                && !table.is_dotted()
            {
                let prefix = table.decor().prefix().and_then(|p| p.as_str());
                let prefix = format!("{}{IMPORTED}{source}\n", prefix.unwrap_or(""));
                table.decor_mut().set_prefix(prefix);
            }
        }
    }
    Ok(doc.to_string())
}

/// The tasks of `text` marked as imported ([`IMPORTED`] among the comment
/// lines directly above their header), in the file's order.
pub fn imported(text: &str, path: &Path) -> Result<Vec<String>, EditError> {
    let doc = document(text, path)?;
    let Some(Item::Table(all)) = doc.get("tasks") else {
        return Ok(Vec::new());
    };
    let mut marked: Vec<(isize, String)> = all
        .iter()
        .filter_map(|(name, item)| {
            let table = item.as_table().filter(|t| !t.is_dotted())?;
            let prefix = table.decor().prefix().and_then(|p| p.as_str())?;
            let attached = &prefix[comments_before(prefix).len()..];
            attached
                .lines()
                .any(|l| l.trim_start().starts_with(IMPORTED))
                .then(|| (table.position().unwrap_or(0), name.to_string()))
        })
        .collect();
    marked.sort();
    Ok(marked.into_iter().map(|(_, name)| name).collect())
}

/// The names of every task in `text`, in the order the file writes them.
pub fn task_names(text: &str, path: &Path) -> Result<Vec<String>, EditError> {
    let doc = document(text, path)?;
    let Some(all) = tasks(&doc) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<(isize, String)> = all
        .iter()
        .map(|(name, item)| {
            let position = item.as_table().and_then(Table::position).unwrap_or(0);
            (position, name.to_string())
        })
        .collect();
    names.sort();
    Ok(names.into_iter().map(|(_, name)| name).collect())
}

fn document(text: &str, path: &Path) -> Result<DocumentMut, EditError> {
    let doc: DocumentMut = text.parse().map_err(|_| invalid(text, path))?;
    match doc.get("tasks") {
        None | Some(Item::Table(_)) | Some(Item::Value(Value::InlineTable(_))) => Ok(doc),
        Some(_) => Err(invalid(text, path)),
    }
}

/// The loader's explanation of why `text` cannot be changed.
fn invalid(text: &str, path: &Path) -> EditError {
    let error = super::parse(text, path)
        .err()
        .unwrap_or_else(|| LoadError::Invalid {
            path: path.into(),
            diagnostics: vec![Diagnostic {
                file: path.into(),
                line: 1,
                column: 1,
                key_path: "tasks".into(),
                message: "expected tables such as [tasks.backup]".into(),
                help: None,
            }],
        });
    EditError::Invalid(error)
}

fn tasks(doc: &DocumentMut) -> Option<&dyn TableLike> {
    doc.get("tasks").and_then(Item::as_table_like)
}

/// The new task's table, keys in the order of [`NewTask`]'s fields.
fn task_table(task: &NewTask) -> Table {
    let mut table = Table::new();
    let mut put = |key: &str, value: Value| {
        table.insert(key, Item::Value(value));
    };
    let strings = |value: &Option<String>| value.as_deref().map(string);
    if let Some(description) = strings(&task.description) {
        put("description", description);
    }
    put("schedule", string(&task.schedule));
    if let Some(zone) = strings(&task.timezone) {
        put("timezone", zone);
    }
    match &task.command {
        Some(TaskCommand::Shell(text)) => put("command", string(text)),
        Some(TaskCommand::Argv(argv)) => {
            let array: Array = argv.iter().map(|a| string(a)).collect();
            put("command", Value::Array(array));
        }
        None => {}
    }
    if let Some(shell) = strings(&task.shell) {
        put("shell", shell);
    }
    if let Some(dir) = strings(&task.workdir) {
        put("workdir", dir);
    }
    if !task.env.is_empty() {
        let mut env = InlineTable::new();
        for (key, value) in &task.env {
            env.insert(key, string(value));
        }
        env.fmt();
        put("env", Value::InlineTable(env));
    }
    if let Some(stdin) = strings(&task.stdin) {
        put("stdin", stdin);
    }
    if let Some(timeout) = strings(&task.timeout) {
        put("timeout", timeout);
    }
    if let Some(attempts) = task.retry_attempts {
        let mut retry = InlineTable::new();
        retry.insert("attempts", i64::from(attempts).into());
        put("retry", Value::InlineTable(retry));
    }
    if let Some(mailto) = strings(&task.mailto) {
        put("mailto", mailto);
    }
    table
}

/// A one-line TOML string: a literal string (`'...'`) when that avoids
/// escaping quotes or backslashes, else a basic string with escapes.
fn string(text: &str) -> Value {
    let needs_escapes = text.contains(['"', '\\']);
    let literal_ok = !text.contains('\'') && !text.chars().any(|c| c.is_control() && c != '\t');
    let repr = if needs_escapes && literal_ok {
        format!("'{text}'")
    } else {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    repr.parse().expect("an escaped TOML string parses")
}

/// `table` as an inline table, taking over the decor of the value it replaces.
fn inline_like(table: Table, old: Option<&Value>) -> Value {
    let mut inline = table.into_inline_table();
    if let Some(old) = old {
        *inline.decor_mut() = old.decor().clone();
    }
    Value::InlineTable(inline)
}

/// The decor before a table appended at the end: the file's trailing
/// comments, then a blank line.
fn append_prefix(doc: &mut DocumentMut) -> String {
    let trailing = doc.trailing().as_str().unwrap_or("").to_string();
    doc.set_trailing("");
    let body = doc.to_string();
    let mut prefix = String::new();
    if !body.is_empty() && !body.ends_with('\n') {
        prefix.push('\n');
    }
    prefix.push_str(&trailing);
    if !prefix.is_empty() && !prefix.ends_with('\n') {
        prefix.push('\n');
    }
    let before = body + &prefix;
    if !before.trim().is_empty() && !before.ends_with("\n\n") {
        prefix.push('\n');
    }
    prefix
}

fn max_position(table: &Table) -> isize {
    let mut max = table.position().unwrap_or(0);
    for (_, item) in table.iter() {
        match item {
            Item::Table(t) => max = max.max(max_position(t)),
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    max = max.max(max_position(t));
                }
            }
            _ => {}
        }
    }
    max
}

/// A table with a header, as the document will print it.
struct Slot {
    path: Vec<String>,
    array: bool,
}

/// The tables with a header, in the order `toml_edit` prints them.
fn table_order(doc: &DocumentMut) -> Vec<Slot> {
    fn visit(
        table: &Table,
        path: &mut Vec<String>,
        array: bool,
        last: &mut isize,
        out: &mut Vec<(isize, Slot)>,
    ) {
        if !table.is_dotted() {
            if let Some(position) = table.position() {
                *last = position;
            }
            let visible = !path.is_empty() && (array || !table.is_implicit() || has_values(table));
            if visible {
                let slot = Slot {
                    path: path.clone(),
                    array,
                };
                out.push((*last, slot));
            }
        }
        for (key, item) in table.iter() {
            path.push(key.to_string());
            match item {
                Item::Table(t) => visit(t, path, false, last, out),
                Item::ArrayOfTables(a) => {
                    for t in a.iter() {
                        visit(t, path, true, last, out);
                    }
                }
                _ => {}
            }
            path.pop();
        }
    }
    let mut out = Vec::new();
    visit(doc.as_table(), &mut Vec::new(), false, &mut 0, &mut out);
    out.sort_by_key(|(position, _)| *position);
    out.into_iter().map(|(_, slot)| slot).collect()
}

fn has_values(table: &Table) -> bool {
    !table.get_values().is_empty()
}

fn table_at<'a>(doc: &'a mut DocumentMut, path: &[String]) -> Option<&'a mut Table> {
    let mut table = doc.as_table_mut();
    for key in path {
        table = table.get_mut(key)?.as_table_mut()?;
    }
    Some(table)
}

fn remove_one(doc: &mut DocumentMut, name: &str) {
    let inside = |path: &[String]| path.len() >= 2 && path[0] == "tasks" && path[1] == name;
    let order = table_order(doc);
    // None: the task has no header of its own; Some(None): it is last.
    let next = order.iter().rposition(|s| inside(&s.path)).map(|last| {
        order[last + 1..]
            .iter()
            .find(|s| !inside(&s.path))
            .map(|s| (s.path.clone(), s.array))
    });
    let removed = doc
        .get_mut("tasks")
        .and_then(Item::as_table_like_mut)
        .and_then(|tasks| tasks.remove(name));
    let Some(Item::Table(removed)) = removed else {
        return;
    };
    let prefix = removed.decor().prefix().and_then(|p| p.as_str());
    let kept = comments_before(prefix.unwrap_or(""));
    match next {
        None | Some(Some((_, true))) => {}
        Some(Some((path, false))) => {
            if let Some(next) = table_at(doc, &path) {
                let below = next.decor().prefix().and_then(|p| p.as_str());
                let prefix = format!("{kept}{}", after_attached(below.unwrap_or(""), false));
                next.decor_mut().set_prefix(prefix);
            }
        }
        Some(None) => {
            let trailing = doc.trailing().as_str().unwrap_or("").to_string();
            let rest = after_attached(&trailing, true);
            let mut text = format!("{kept}{rest}");
            if rest.trim().is_empty() {
                text = trim_blank_lines_at_end(&text);
            }
            doc.set_trailing(text);
        }
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

fn is_blank_line(line: &str) -> bool {
    line.ends_with('\n') && line.trim().is_empty()
}

/// The part of a table's prefix that does not belong to it: everything but
/// the comment lines directly above the header (and the header's indent).
fn comments_before(prefix: &str) -> &str {
    let lines: Vec<&str> = prefix.split_inclusive('\n').collect();
    let mut keep = lines.len();
    if keep > 0 && !lines[keep - 1].ends_with('\n') {
        keep -= 1;
    }
    while keep > 0 && is_comment(lines[keep - 1]) {
        keep -= 1;
    }
    &prefix[..lines[..keep].iter().map(|l| l.len()).sum::<usize>()]
}

/// The part of the decor after a removed table that does not belong to it:
/// without the comment lines directly below the table (when a blank line,
/// or with `at_end` the end of the file, separates them from what follows)
/// and without the blank lines after them.
fn after_attached(decor: &str, at_end: bool) -> &str {
    let lines: Vec<&str> = decor.split_inclusive('\n').collect();
    let comments = lines.iter().take_while(|l| is_comment(l)).count();
    let attached = comments > 0
        && match lines.get(comments) {
            Some(line) => is_blank_line(line),
            None => at_end,
        };
    let mut start = if attached { comments } else { 0 };
    while start < lines.len() && is_blank_line(lines[start]) {
        start += 1;
    }
    &decor[lines[..start].iter().map(|l| l.len()).sum::<usize>()..]
}

fn trim_blank_lines_at_end(text: &str) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines.concat()
}

fn quoted(names: &[String]) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    names.join(", ")
}

/// `text` with `paused` set (or cleared) for `names`, and for each name
/// whether it changed. `file` is `text` parsed; every name must be one of
/// its tasks.
pub fn set_paused(
    text: &str,
    file: &TaskFile,
    names: &[String],
    pause: bool,
) -> Result<(String, Vec<(String, bool)>), EditError> {
    let mut doc = document(text, &file.path)?;
    let defaults_pause = file.defaults.paused == Some(true);
    let mut report = Vec::new();
    for name in names {
        let Some(task) = file.task(name) else {
            return Err(EditError::Unknown(vec![name.clone()]));
        };
        if task.settings.paused == pause {
            report.push((name.clone(), false));
            continue;
        }
        let item = doc
            .get_mut("tasks")
            .and_then(Item::as_table_like_mut)
            .and_then(|tasks| tasks.get_mut(name))
            .ok_or_else(|| invalid(text, &file.path))?;
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

    const PATH: &str = "tasks.toml";

    fn new_task(schedule: &str, command: &str) -> NewTask {
        NewTask {
            schedule: schedule.into(),
            command: Some(TaskCommand::Shell(command.into())),
            ..NewTask::default()
        }
    }

    fn add_ok(text: &str, name: &str, task: &NewTask, replace: bool) -> String {
        let (out, _) = add(text, Path::new(PATH), name, task, replace).unwrap();
        super::super::parse(&out, Path::new(PATH)).unwrap_or_else(|d| panic!("{d:?}\n{out}"));
        out
    }

    fn remove_ok(text: &str, names: &[&str]) -> String {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        remove(text, Path::new(PATH), &names).unwrap()
    }

    #[test]
    fn imported_tasks_are_marked_and_found_again() {
        let path = Path::new(PATH);
        let mine = add_ok("", "mine", &new_task("@daily", "true"), false);
        let tasks = vec![
            ("a".to_string(), new_task("@hourly", "a")),
            ("b".to_string(), new_task("@hourly", "b")),
        ];
        let text = append_imported(&mine, path, &tasks, "/home/me/crontab\nx").unwrap();
        assert_eq!(
            text,
            format!(
                "{mine}\n# kron: imported from /home/me/crontab?x\n[tasks.a]\n\
                 schedule = \"@hourly\"\ncommand = \"a\"\n\n\
                 # kron: imported from /home/me/crontab?x\n[tasks.b]\n\
                 schedule = \"@hourly\"\ncommand = \"b\"\n"
            )
        );
        assert_eq!(imported(&text, path).unwrap(), ["a", "b"]);
        assert_eq!(task_names(&text, path).unwrap(), ["mine", "a", "b"]);
        // A comment the user put above the marker keeps it attached; a
        // marker separated by a blank line, or deleted, does not count.
        let text = text
            .replacen("# kron: imported", "# my note\n# kron: imported", 1)
            .replacen(
                "\n# kron: imported from /home/me/crontab?x\n[tasks.b]",
                "\n# kron: imported from x\n\n[tasks.b]",
                1,
            );
        assert_eq!(imported(&text, path).unwrap(), ["a"]);
        // Removing a task takes its marker with it.
        let rest = remove_ok(&text, &["a"]);
        assert!(!rest.contains("crontab?x"), "{rest}");
    }

    const FILE: &str = "\
# my tasks   (header comment)

[defaults]
timezone = \"UTC\"   # trailing comment
# after defaults

# nightly
# backup
[tasks.backup]  # on the header
schedule = \"30 2 * * *\"
# inside
command = [ \"restic\",   \"backup\" ]
# commented_out = 1

[tasks.ping]
schedule   =   \"*/5 * * * *\"
command = 'ping -c1 example.org'
# end of file
";

    #[test]
    fn add_appends_and_keeps_everything_before() {
        let task = NewTask {
            description: Some("say \"hi\"".into()),
            timezone: Some("Europe/Berlin".into()),
            workdir: Some("~/src".into()),
            env: vec![
                ("LANG".into(), "C".into()),
                ("MY VAR".into(), "a\nb".into()),
            ],
            timeout: Some("1h".into()),
            retry_attempts: Some(3),
            ..new_task("@daily", "echo 'hi' \\o/")
        };
        let out = add_ok(FILE, "new", &task, false);
        assert_eq!(
            out,
            format!(
                "{FILE}\n[tasks.new]\ndescription = 'say \"hi\"'\nschedule = \"@daily\"\n\
                 timezone = \"Europe/Berlin\"\ncommand = \"echo 'hi' \\\\o/\"\nworkdir = \"~/src\"\n\
                 env = {{ LANG = \"C\", \"MY VAR\" = \"a\\nb\" }}\ntimeout = \"1h\"\n\
                 retry = {{ attempts = 3 }}\n"
            )
        );
    }

    #[test]
    fn add_to_empty_missing_newline_and_comment_only_files() {
        let task = NewTask {
            command: Some(TaskCommand::Argv(vec!["a".into(), "b c".into()])),
            ..new_task("@hourly", "")
        };
        let table = "[tasks.t]\nschedule = \"@hourly\"\ncommand = [\"a\", \"b c\"]\n";
        assert_eq!(add_ok("", "t", &task, false), table);
        assert_eq!(
            add_ok("# only\n# comments", "t", &task, false),
            format!("# only\n# comments\n\n{table}")
        );
        assert_eq!(
            add_ok("[defaults]\nshell = \"/bin/sh\"", "t", &task, false),
            format!("[defaults]\nshell = \"/bin/sh\"\n\n{table}")
        );
        assert_eq!(
            add_ok("[defaults]\n\n", "t", &task, false),
            format!("[defaults]\n\n{table}")
        );
    }

    #[test]
    fn add_after_defaults_that_come_last() {
        let text = "[tasks.a]\nschedule = \"@daily\"\ncommand = \"a\"\n\n[defaults]\nshell = \"/bin/sh\"\n";
        let out = add_ok(text, "b", &new_task("@daily", "b"), false);
        assert_eq!(
            out,
            format!("{text}\n[tasks.b]\nschedule = \"@daily\"\ncommand = \"b\"\n")
        );
    }

    #[test]
    fn add_refuses_an_existing_name_and_replace_keeps_the_comments_above() {
        let err = add(
            FILE,
            Path::new(PATH),
            "backup",
            &new_task("@daily", "x"),
            false,
        );
        assert!(matches!(err, Err(EditError::Exists(n)) if n == "backup"));
        let (out, added) = add(
            FILE,
            Path::new(PATH),
            "backup",
            &new_task("@daily", "x"),
            true,
        )
        .unwrap();
        assert_eq!(added, Added::Replaced { kept: vec![] });
        let expected = FILE.replace(
            "schedule = \"30 2 * * *\"\n# inside\ncommand = [ \"restic\",   \"backup\" ]\n",
            "schedule = \"@daily\"\n# inside\ncommand = \"x\"\n",
        );
        assert_eq!(out, expected);
    }

    #[test]
    fn replace_keeps_what_the_new_task_does_not_set() {
        let text = "[tasks.t]\ndescription = \"mine\"\nschedule = \"@daily\"  # daily\n\
                    command = \"a\"\ntimeout = \"1h\"\nenv = { LANG = \"C\", TZ = \"UTC\" }\n\
                    retry = { attempts = 1, backoff = \"1m\" }\n";
        let task = NewTask {
            env: vec![("LANG".into(), "C.UTF-8".into())],
            retry_attempts: Some(3),
            ..new_task("@hourly", "b")
        };
        let (out, added) = add(text, Path::new(PATH), "t", &task, true).unwrap();
        assert_eq!(
            out,
            "[tasks.t]\ndescription = \"mine\"\nschedule = \"@hourly\"  # daily\n\
             command = \"b\"\ntimeout = \"1h\"\nenv = { LANG = \"C.UTF-8\", TZ = \"UTC\" }\n\
             retry = { attempts = 3, backoff = \"1m\" }\n"
        );
        let kept = ["description", "timeout", "env.TZ", "retry.backoff"];
        assert_eq!(
            added,
            Added::Replaced {
                kept: kept.iter().map(|k| k.to_string()).collect()
            }
        );
    }

    fn set_ok(text: &str, assignments: &[(&str, &str)]) -> String {
        let assignments: Vec<(KeyPath, Value)> = assignments
            .iter()
            .map(|(k, v)| {
                let key = key_path(k).unwrap();
                let value = value(&key, v);
                (key, value)
            })
            .collect();
        let out = set(text, Path::new(PATH), "t", &assignments).unwrap();
        super::super::parse(&out, Path::new(PATH)).unwrap_or_else(|d| panic!("{d:?}\n{out}"));
        out
    }

    fn unset_ok(text: &str, keys: &[&str]) -> (String, Vec<bool>) {
        let keys: Vec<KeyPath> = keys.iter().map(|k| key_path(k).unwrap()).collect();
        let (out, found) = unset(text, Path::new(PATH), "t", &keys).unwrap();
        super::super::parse(&out, Path::new(PATH)).unwrap_or_else(|d| panic!("{d:?}\n{out}"));
        (out, found)
    }

    const SET_FILE: &str = "\
# my task
[tasks.t]   # header
schedule = \"@daily\"
# the command
command = \"a\"   # trailing
timeout = \"1h\"

# the next one
[tasks.u]
schedule = \"@daily\"
command = \"u\"
";

    #[test]
    fn set_changes_values_in_place_and_adds_new_keys_last() {
        let out = set_ok(
            SET_FILE,
            &[
                ("command", "b c"),
                ("timeout", "2h"),
                ("retry.attempts", "3"),
                ("env.LANG", "C"),
                ("paused", "true"),
                ("description", "\"quoted\""),
            ],
        );
        assert_eq!(
            out,
            SET_FILE.replace(
                "command = \"a\"   # trailing\ntimeout = \"1h\"\n",
                "command = \"b c\"   # trailing\ntimeout = \"2h\"\nretry = { attempts = 3 }\n\
                 env = { LANG = \"C\" }\npaused = true\ndescription = \"quoted\"\n"
            )
        );
        let again = set_ok(&out, &[("retry.backoff", "30s"), ("env.TZ", "UTC")]);
        assert!(
            again.contains("retry = { attempts = 3, backoff = \"30s\" }\n")
                && again.contains("env = { LANG = \"C\", TZ = \"UTC\" }\n"),
            "{again}"
        );
        // Values are TOML when they parse, else strings.
        let out = set_ok(
            SET_FILE,
            &[("command", "[\"ls\", \"-l\"]"), ("stdin", "2026-01-01")],
        );
        assert!(
            out.contains("command = [\"ls\", \"-l\"]   # trailing\n"),
            "{out}"
        );
        assert!(out.contains("stdin = \"2026-01-01\"\n"), "{out}");
        let out = set_ok(SET_FILE, &[("retry", "{ attempts = 2 }")]);
        assert!(out.contains("retry = { attempts = 2 }\n"), "{out}");
    }

    #[test]
    fn set_and_unset_keep_inline_sub_tables_and_dotted_forms() {
        let text = "[tasks]\nt = { schedule = \"@daily\", command = \"a\" }  # keep\n";
        let out = set_ok(text, &[("timeout", "1h"), ("retry.attempts", "2")]);
        assert_eq!(
            out,
            "[tasks]\nt = { schedule = \"@daily\", command = \"a\", timeout = \"1h\", \
             retry = { attempts = 2 } }  # keep\n"
        );
        assert_eq!(unset_ok(&out, &["timeout", "retry.attempts"]).0, text);
        let text =
            "[tasks.t]\nschedule = \"@daily\"\ncommand = \"a\"\n\n[tasks.t.env]\nA = \"1\"\n";
        let out = set_ok(text, &[("env.B", "2"), ("timeout", "1m")]);
        assert_eq!(
            out,
            "[tasks.t]\nschedule = \"@daily\"\ncommand = \"a\"\ntimeout = \"1m\"\n\n\
             [tasks.t.env]\nA = \"1\"\nB = \"2\"\n"
        );
        let text = "tasks.t.schedule = \"@daily\"\ntasks.t.command = \"a\"\n";
        let out = set_ok(text, &[("timeout", "1m")]);
        assert_eq!(out, format!("{text}tasks.t.timeout = \"1m\"\n"));
        assert_eq!(unset_ok(&out, &["timeout"]).0, text);
    }

    #[test]
    fn unset_takes_keys_out_and_says_which_were_there() {
        let set = set_ok(SET_FILE, &[("env.LANG", "C"), ("retry.attempts", "3")]);
        let (out, found) = unset_ok(&set, &["env.LANG", "retry", "timeout", "jitter", "env.X"]);
        assert_eq!(found, [true, true, true, false, false]);
        assert_eq!(out, SET_FILE.replace("timeout = \"1h\"\n", ""));
        assert!(matches!(
            unset(SET_FILE, Path::new(PATH), "nope", &[]),
            Err(EditError::Unknown(n)) if n == ["nope"]
        ));
    }

    #[test]
    fn keys_and_values_of_the_command_line() {
        assert_eq!(key_path("retry.attempts").unwrap(), ["retry", "attempts"]);
        assert_eq!(key_path("env.\"MY VAR\"").unwrap(), ["env", "MY VAR"]);
        assert!(key_path("a b").is_err() && key_path("").is_err());
        for (key, text, shown) in [
            ("retry.attempts", "3", "3"),
            ("paused", "true", "true"),
            ("retry.factor", "1.5", "1.5"),
            ("timeout", "30s", "\"30s\""),
            ("timeout", "90", "90"),
            ("schedule", "@daily", "\"@daily\""),
            ("mailto", "", "\"\""),
            ("command", "pg_dump db | gzip", "\"pg_dump db | gzip\""),
            ("command", "[\"ls\", \"-l\"]", "[\"ls\", \"-l\"]"),
            ("command", "true", "\"true\""),
            ("description", "\"it's 3\"", "\"it's 3\""),
            ("env.PORT", "8080", "\"8080\""),
            ("env", "{ A = \"1\" }", "{ A = \"1\" }"),
            ("log.keep", "[1, 2]", "[1, 2]"),
            ("stdin", "07:30:00", "\"07:30:00\""),
        ] {
            let key = key_path(key).unwrap();
            assert_eq!(value(&key, text).to_string(), shown, "{key:?} {text}");
        }
    }

    #[test]
    fn inline_and_dotted_tasks_stay_in_their_form() {
        let text = "[tasks]\n# a\na = { schedule = \"@daily\", command = \"a\" }  # keep\n";
        let out = add_ok(text, "a", &new_task("@hourly", "b"), true);
        assert_eq!(
            out,
            "[tasks]\n# a\na = { schedule = \"@hourly\", command = \"b\" }  # keep\n"
        );
        let text = "tasks = { a = { schedule = \"@daily\", command = \"a\" } }\n";
        let out = add_ok(text, "b", &new_task("@hourly", "b"), false);
        assert!(
            out.contains("b = { schedule = \"@hourly\", command = \"b\" }"),
            "{out}"
        );
        let text = "tasks.a.schedule = \"@daily\"\ntasks.a.command = \"a\"\n";
        let out = add_ok(text, "b", &new_task("@hourly", "b"), false);
        assert!(out.starts_with(text), "{out}");
        assert_eq!(remove_ok(&out, &["b"]), text);
        assert_eq!(remove_ok(text, &["a"]), "");
    }

    #[test]
    fn remove_takes_the_task_and_the_comments_touching_it() {
        let out = remove_ok(FILE, &["backup"]);
        assert_eq!(
            out,
            "\
# my tasks   (header comment)

[defaults]
timezone = \"UTC\"   # trailing comment
# after defaults

[tasks.ping]
schedule   =   \"*/5 * * * *\"
command = 'ping -c1 example.org'
# end of file
"
        );
        let out = remove_ok(FILE, &["ping"]);
        assert_eq!(
            out,
            FILE.split("\n\n[tasks.ping]").next().unwrap().to_string() + "\n"
        );
        let out = remove_ok(FILE, &["ping", "backup"]);
        assert_eq!(
            out,
            "# my tasks   (header comment)\n\n[defaults]\ntimezone = \"UTC\"   # trailing comment\n# after defaults\n"
        );
    }

    #[test]
    fn remove_keeps_comments_separated_by_a_blank_line() {
        let text = "\
[tasks.a]
schedule = \"@daily\"
command = \"a\"

# about b
[tasks.b]
schedule = \"@daily\"
command = \"b\"

# === section ===

[tasks.c]
schedule = \"@daily\"
command = \"c\"

# a free comment at the end
";
        assert_eq!(
            remove_ok(text, &["b"]),
            text.replace(
                "# about b\n[tasks.b]\nschedule = \"@daily\"\ncommand = \"b\"\n\n",
                ""
            )
        );
        assert_eq!(
            remove_ok(text, &["c"]),
            text.replace("[tasks.c]\nschedule = \"@daily\"\ncommand = \"c\"\n\n", "")
        );
        assert_eq!(
            remove_ok(text, &["a"]),
            text.replace("[tasks.a]\nschedule = \"@daily\"\ncommand = \"a\"\n\n", "")
        );
    }

    #[test]
    fn remove_takes_sub_tables_and_refuses_unknown_names() {
        let text = "[tasks.a]\nschedule = \"@daily\"\ncommand = \"a\"\n\n[tasks.a.env]\nX = \"1\"\n\n[tasks.b]\nschedule = \"@daily\"\ncommand = \"b\"\n";
        assert_eq!(
            remove_ok(text, &["a"]),
            "[tasks.b]\nschedule = \"@daily\"\ncommand = \"b\"\n"
        );
        let names = vec!["a".to_string(), "nope".into(), "zilch".into()];
        let err = remove(text, Path::new(PATH), &names).unwrap_err();
        assert_eq!(err.to_string(), "no task named `nope`, `zilch`");
    }

    #[test]
    fn add_then_remove_gives_the_file_back() {
        for text in [FILE, "", "# c\n", "[defaults]\nshell = \"/bin/sh\"\n"] {
            let out = add_ok(text, "zz", &new_task("@daily", "z"), false);
            assert_eq!(remove_ok(&out, &["zz"]), text, "{out}");
        }
    }

    #[test]
    fn text_that_is_not_a_task_file_is_explained() {
        for text in ["[tasks.a\n", "tasks = 3\n"] {
            let err = add(text, Path::new(PATH), "b", &new_task("@daily", "b"), false);
            match err {
                Err(EditError::Invalid(e)) => assert!(!e.into_diagnostics().is_empty()),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn strings_are_one_line_and_round_trip() {
        for text in [
            "plain",
            "a \"q\" \\",
            "it's \"x\"",
            "tab\there",
            "nl\nx",
            "bell\u{7}",
            "ünï",
        ] {
            let value = string(text);
            assert!(!value.to_string().contains('\n'), "{value}");
            assert_eq!(value.as_str(), Some(text));
        }
        assert_eq!(string("a \"q\"").to_string(), "'a \"q\"'");
    }

    // kron pause and resume
    fn apply(text: &str, names: &[&str], pause: bool) -> String {
        let file = super::super::parse(text, Path::new("t.toml")).unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let (out, _) = set_paused(text, &file, &names, pause).unwrap();
        let reparsed = super::super::parse(&out, Path::new("t.toml")).unwrap();
        for name in &names {
            assert_eq!(reparsed.task(name).unwrap().settings.paused, pause, "{out}");
        }
        out
    }

    const PAUSE_FILE: &str = "\
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
        let paused = apply(PAUSE_FILE, &["backup"], true);
        assert_eq!(
            paused,
            PAUSE_FILE.replace("   # keep this\n", "   # keep this\npaused = true\n")
        );
        assert_eq!(apply(&paused, &["backup"], false), PAUSE_FILE);
        let both = apply(PAUSE_FILE, &["ping", "backup"], true);
        assert_eq!(apply(&both, &["ping", "backup"], false), PAUSE_FILE);
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
    fn pause_keeps_inline_and_dotted_tasks_in_their_form() {
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
        let file = super::super::parse(PAUSE_FILE, Path::new("t.toml")).unwrap();
        let (out, report) = set_paused(PAUSE_FILE, &file, &["ping".into()], false).unwrap();
        assert_eq!(out, PAUSE_FILE);
        assert_eq!(report, [("ping".to_string(), false)]);
    }
}
