//! What supervisors read: for each task, `$RUNTIME/loaded/NAME.toml`, the
//! `[defaults]` and `[cluster]` tables and that task's table, cut from the
//! task file as the daemon last loaded it.
//!
//! Two reasons. A supervisor runs what the daemon loaded, so a broken edit
//! on disk (which the daemon refuses, keeping the old tasks) does not stop
//! the runs the daemon keeps starting. And a supervisor parses one task,
//! not the whole file: with 1,000 tasks that is the difference between a
//! few milliseconds and a few hundred microseconds per run, which matters
//! when a thousand runs start in the same second.
//!
//! The files are derived data, rebuilt when the daemon starts, so they are
//! written with a rename but without fsync. Only files whose text changed
//! are rewritten; files of removed tasks are deleted.
//!
//! What the daemon keeps of them is small (docs/architecture.md, the
//! daemon's memory): a digest of each snapshot, to know which changed, and
//! not their text. The text they were cut from is kept on disk instead,
//! `$STATE/kron/loaded.toml` (the state directory, which outlives the
//! runtime directory that logind removes at the last logout), so that a
//! snapshot deleted under the daemon, or the whole runtime directory, is
//! written again from it before a supervisor needs it ([`Snapshots::ensure`]).
//!
//! A snapshot is written from the parsed file's spans, one task at a time:
//! each value as it is written in the file, under a header of its own for
//! each table. That needs neither an editable copy of the document (which
//! would own a copy of every key, value and comment: twice the memory of
//! the parse that validated the file) nor all the snapshots at once.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use toml_edit::{Document, Item, Key, TableLike};

use crate::dirs::Paths;

/// Calls `each` with each task's name and the text of its snapshot, in
/// file order. `text` must be a valid task file; `None` when it is not a
/// TOML document or a value has no span (neither happens to a file that
/// loaded). Cut a task at a time where the file's layout allows
/// (`taskfile::sections`), as the daemon loads it: one task's document in
/// memory at a time.
pub fn split(text: &str, each: &mut dyn FnMut(&str, &str)) -> Option<()> {
    let Some(sections) = crate::taskfile::sections::cut(text) else {
        let doc = Document::parse(text).ok()?;
        return split_tasks(doc.as_table(), text, &doc, each);
    };
    let head_text = &text[sections.head];
    let head = Document::parse(head_text).ok()?;
    for range in sections.tasks {
        split_tasks(
            head.as_table(),
            head_text,
            &Document::parse(&text[range]).ok()?,
            each,
        )?;
    }
    Some(())
}

/// The snapshots of the tasks of `doc`, sharing what `head` (parsed from
/// `head_text`) says of every task.
fn split_tasks(
    head: &toml_edit::Table,
    head_text: &str,
    doc: &Document<&str>,
    each: &mut dyn FnMut(&str, &str),
) -> Option<()> {
    // What every task shares: its defaults, and the cluster it claims its
    // occurrences in (a supervisor reads `[cluster]` from its snapshot).
    let shared: Vec<(String, &Item)> = ["defaults", "cluster"]
        .into_iter()
        .filter_map(|key| Some((key.to_string(), head.get(key)?)))
        .collect();
    let Some(tasks) = doc.as_table().get("tasks").and_then(Item::as_table_like) else {
        return Some(());
    };
    let mut one = String::new();
    for (name, item) in tasks.iter() {
        one.clear();
        section(&mut one, &[], &shared, head_text)?;
        section(
            &mut one,
            &["tasks".to_string()],
            &[(quoted(name), item)],
            doc.raw(),
        )?;
        each(name, &one);
    }
    Some(())
}

/// `items` as a TOML section at `path` (the root when empty): its values
/// as `text` writes them, then its tables, a section each.
fn section(out: &mut String, path: &[String], items: &[(String, &Item)], text: &str) -> Option<()> {
    if !path.is_empty() {
        out.push_str(&format!("[{}]\n", path.join(".")));
    }
    for (key, item) in items {
        if let Item::Value(value) = item {
            out.push_str(&format!("{key} = {}\n", text.get(value.span()?)?));
        }
    }
    for (key, item) in items {
        let mut inner = path.to_vec();
        inner.push(key.clone());
        match item {
            Item::Table(table) => section(out, &inner, &entries(table), text)?,
            // No key of a task file takes an array of tables (the load
            // refuses them), so there is nothing to cut.
            Item::ArrayOfTables(_) => return None,
            Item::Value(_) | Item::None => {}
        }
    }
    Some(())
}

fn entries(table: &dyn TableLike) -> Vec<(String, &Item)> {
    table.iter().map(|(k, item)| (quoted(k), item)).collect()
}

/// A key as TOML writes it (bare, or quoted when it must be).
fn quoted(key: &str) -> String {
    Key::new(key).display_repr().into_owned()
}

/// A digest of a snapshot's text, to tell whether it changed. Not kept
/// anywhere but the daemon's memory, so it only has to be stable within
/// one process.
fn digest(text: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
    hasher.finish()
}

/// The snapshots on disk, and what is in them.
pub struct Snapshots {
    paths: Paths,
    /// Each snapshot written, by task name (sorted), with its digest.
    written: Vec<(Box<str>, u64)>,
    /// The digest of the text they were cut from, as `source` holds it.
    source_digest: Option<u64>,
}

impl Snapshots {
    pub fn new(paths: Paths) -> Snapshots {
        Snapshots {
            paths,
            written: Vec::new(),
            source_digest: None,
        }
    }

    /// `$STATE/kron/loaded.toml`: the text the snapshots were cut from.
    fn source(&self) -> PathBuf {
        self.paths.state_dir.join("loaded.toml")
    }

    fn knows(&self, task: &str) -> bool {
        self.written
            .binary_search_by(|(name, _)| (**name).cmp(task))
            .is_ok()
    }

    /// The text the snapshots were cut from, read back from `source`;
    /// an error if it is gone or is not that text any more.
    fn read_source(&self) -> std::io::Result<String> {
        let path = self.source();
        let text = std::fs::read_to_string(&path)?;
        if Some(digest(&text)) != self.source_digest {
            return Err(std::io::Error::other(format!(
                "{} is not the task file the daemon loaded",
                path.display()
            )));
        }
        Ok(text)
    }

    /// Writes `task`'s snapshot again if it is missing. Returns whether it
    /// had to (a snapshot the daemon wrote that someone removed).
    pub fn ensure(&self, task: &str) -> std::io::Result<bool> {
        let path = self.paths.snapshot(task);
        if !self.knows(task) || path.exists() {
            return Ok(false);
        }
        let text = self.read_source()?;
        crate::dirs::create_private_dir(&self.paths.loaded_dir())?;
        let mut result = Ok(false);
        split(&text, &mut |name, one| {
            if name == task {
                result = write(&path, one.as_bytes()).map(|()| true);
            }
        })
        .ok_or_else(uncut)?;
        result
    }

    /// Writes every snapshot again (the directory was removed).
    pub fn rewrite(&mut self) -> std::io::Result<()> {
        let text = self.read_source()?;
        crate::dirs::create_private_dir(&self.paths.loaded_dir())?;
        let mut result = Ok(());
        split(&text, &mut |name, one| {
            if result.is_ok() {
                result = write(&self.paths.snapshot(name), one.as_bytes());
            }
        })
        .ok_or_else(uncut)?;
        result
    }

    /// Makes the directory hold exactly the snapshots of the tasks of
    /// `text` (a task file that loaded), and `source` hold it.
    pub fn update(&mut self, text: &str) -> std::io::Result<()> {
        let source_digest = digest(text);
        if self.source_digest != Some(source_digest) || !self.source().exists() {
            crate::dirs::create_private_dir(&self.paths.state_dir)?;
            // Forgotten first: a failed write must not leave a digest that
            // vouches for the old copy.
            self.source_digest = None;
            write(&self.source(), text.as_bytes())?;
            self.source_digest = Some(source_digest);
        }
        let dir = self.paths.loaded_dir();
        crate::dirs::create_private_dir(&dir)?;
        let old = std::mem::take(&mut self.written);
        let mut written: Vec<(Box<str>, u64)> = Vec::new();
        let mut result = Ok(());
        split(text, &mut |name, one| {
            if result.is_err() {
                return;
            }
            let path = self.paths.snapshot(name);
            let d = digest(one);
            let same = old
                .binary_search_by(|(n, _)| (**n).cmp(name))
                .is_ok_and(|i| old[i].1 == d);
            if !same || !path.exists() {
                result = write(&path, one.as_bytes());
            }
            written.push((Box::from(name), d));
        })
        .ok_or_else(uncut)
        .and(result)
        .inspect_err(|_| self.written = old.clone())?;
        written.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            let stale = match file.strip_suffix(".toml") {
                Some(name) => written.binary_search_by(|(n, _)| (**n).cmp(name)).is_err(),
                None => file.ends_with(".tmp"),
            };
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        written.shrink_to_fit();
        self.written = written;
        Ok(())
    }
}

fn uncut() -> std::io::Error {
    std::io::Error::other("the loaded task file could not be cut into snapshots")
}

/// A private temporary file renamed over `path` (no fsync: see above).
fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(bytes)?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taskfile;

    const FILE: &str = r#"# my tasks
[defaults]
timezone = "Europe/Berlin"
env = { LANG = "C" }

[tasks.backup]
schedule = "30 2 * * *"
command = ["restic", "backup"]
[tasks.backup.env]
RESTIC_REPOSITORY = "/mnt"

[tasks.multi]
schedule = "@daily" # a comment after a value
command = [
  "sh", # the shell
  "-c",
  """echo 'a'
echo "b" [tasks.not-a-table]""",
]
env.LANG = "C.UTF-8"

[tasks]
inline = { schedule = "@daily", command = "true", timeout = "1m" }
tasks.dotted.schedule = "@hourly"
tasks.dotted.command = "echo"
"#;

    #[test]
    fn each_snapshot_gives_the_task_the_same_settings() {
        let text = FILE.replace("tasks.dotted.", "dotted.");
        let file = taskfile::parse(&text, Path::new("t.toml")).unwrap();
        let mut parts = Vec::new();
        split(&text, &mut |name, one| {
            parts.push((name.to_string(), one.to_string()))
        })
        .unwrap();
        let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["backup", "multi", "inline", "dotted"]);
        for (name, one) in &parts {
            let alone = taskfile::parse(one, Path::new("t.toml"))
                .unwrap_or_else(|d| panic!("{d:?}\n{one}"));
            assert_eq!(alone.tasks.len(), 1, "{one}");
            let (a, b) = (&alone.tasks[0], file.task(name).unwrap());
            assert_eq!(a.name, b.name);
            assert_eq!(a.schedule_text, b.schedule_text);
            assert_eq!(a.command, b.command);
            assert_eq!(
                format!("{:?}", a.settings),
                format!("{:?}", b.settings),
                "{one}"
            );
        }
    }

    /// Supervisors claim a cluster run with the `[cluster]` they read from
    /// the snapshot: every snapshot carries it, however the file writes it.
    #[test]
    fn every_snapshot_carries_the_cluster_table() {
        let rest = r#"
[defaults]
cluster = "retry"
kill_grace = "1s"

[tasks.a]
schedule = "@daily"
command = "a"

[tasks.b]
schedule = "@hourly"
command = "b"
cluster = "local"
"#;
        let table = format!(
            "[cluster]\nbackend = \"host=/nonexistent dbname=x\" # a comment\nnode = \"web-1\"\n\
             lease = \"20s\"\nmax_skew = \"2s\"\n{rest}"
        );
        let inline = format!(
            "cluster = {{ backend = \"host=/nonexistent dbname=x\", node = \"web-1\", \
             lease = \"20s\", max_skew = \"2s\" }}\n{rest}"
        );
        let dotted = format!(
            "cluster.backend = \"host=/nonexistent dbname=x\"\ncluster.node = \"web-1\"\n\
             cluster.lease = \"20s\"\ncluster.max_skew = \"2s\"\n{rest}"
        );
        for text in [&table, &inline, &dotted] {
            let file = taskfile::parse(text, Path::new("t.toml"))
                .unwrap_or_else(|e| panic!("{e:?}\n{text}"));
            let cluster = file.cluster.as_ref().expect(text);
            assert_eq!(cluster.node, "web-1", "{text}");
            assert_eq!(cluster.lease, std::time::Duration::from_secs(20), "{text}");
            let mut count = 0;
            split(text, &mut |name, one| {
                count += 1;
                let alone = taskfile::parse(one, Path::new("t.toml"))
                    .unwrap_or_else(|d| panic!("{d:?}\n{one}"));
                assert_eq!(alone.cluster.as_ref(), Some(cluster), "{one}");
                let (a, b) = (&alone.tasks[0], file.task(name).unwrap());
                assert_eq!(a.settings.cluster, b.settings.cluster, "{one}");
            })
            .unwrap();
            assert_eq!(count, 2, "{text}");
        }
        // And the files on disk, as the daemon writes them.
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            task_file: dir.path().join("tasks.toml"),
            state_dir: dir.path().join("state"),
            runtime_dir: dir.path().join("runtime"),
        };
        let mut snapshots = Snapshots::new(paths.clone());
        snapshots.update(&table).unwrap();
        for name in ["a", "b"] {
            let one = std::fs::read_to_string(paths.snapshot(name)).unwrap();
            assert!(one.contains("[cluster]\n"), "{one}");
            assert!(
                one.contains("backend = \"host=/nonexistent dbname=x\""),
                "{one}"
            );
        }
        // Without a `[cluster]` table, no snapshot has one.
        let plain = "[tasks.a]\nschedule = \"@daily\"\ncommand = \"a\"\n";
        snapshots.update(plain).unwrap();
        let one = std::fs::read_to_string(paths.snapshot("a")).unwrap();
        assert!(!one.contains("cluster"), "{one}");
    }

    #[test]
    fn update_writes_changed_files_and_removes_stale_ones() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            task_file: dir.path().join("tasks.toml"),
            state_dir: dir.path().join("state"),
            runtime_dir: dir.path().join("runtime"),
        };
        let mut snapshots = Snapshots::new(paths.clone());
        let two = "[tasks.a]\nschedule = \"@daily\"\ncommand = \"a\"\n\n[tasks.b]\nschedule = \"@daily\"\ncommand = \"b\"\n";
        snapshots.update(two).unwrap();
        assert!(paths.snapshot("a").exists() && paths.snapshot("b").exists());
        let one = "[tasks.b]\nschedule = \"@hourly\"\ncommand = \"b\"\n";
        snapshots.update(one).unwrap();
        assert!(!paths.snapshot("a").exists());
        let b = std::fs::read_to_string(paths.snapshot("b")).unwrap();
        assert!(b.contains("@hourly"), "{b}");
        // Removed under the daemon: written again, as it was.
        std::fs::remove_file(paths.snapshot("b")).unwrap();
        assert!(snapshots.ensure("b").unwrap());
        assert!(!snapshots.ensure("b").unwrap());
        assert_eq!(std::fs::read_to_string(paths.snapshot("b")).unwrap(), b);
        std::fs::remove_dir_all(paths.loaded_dir()).unwrap();
        snapshots.rewrite().unwrap();
        assert_eq!(std::fs::read_to_string(paths.snapshot("b")).unwrap(), b);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(paths.snapshot("b")).unwrap().mode() & 0o777,
            0o600
        );
        // The text they are written again from is on disk, not in memory:
        // changed or gone, it writes nothing (supervisors then read the
        // task file).
        let source = paths.state_dir.join("loaded.toml");
        assert_eq!(std::fs::read_to_string(&source).unwrap(), one);
        std::fs::write(&source, two).unwrap();
        std::fs::remove_file(paths.snapshot("b")).unwrap();
        assert!(snapshots.ensure("b").is_err());
        std::fs::remove_file(&source).unwrap();
        assert!(snapshots.rewrite().is_err());
        assert!(!paths.snapshot("b").exists());
        // The next load writes it again.
        snapshots.update(one).unwrap();
        assert_eq!(std::fs::read_to_string(&source).unwrap(), one);
        assert_eq!(std::fs::read_to_string(paths.snapshot("b")).unwrap(), b);
    }

    #[test]
    fn snapshots_cut_a_task_at_a_time_are_those_of_the_whole_file() {
        // FILE has a [tasks] table: cut whole.
        assert!(crate::taskfile::sections::cut(FILE).is_none());
        let text = "# tasks\n[defaults]\nenv = { LANG = \"C\" }\n\
                     [cluster]\nbackend = \"host=/x dbname=x\"\nnode = \"a\"\n\
                     [tasks.backup]\nschedule = \"30 2 * * *\"\ncommand = [\"restic\", \"backup\"]\n\
                     [tasks.backup.env]\nREPO = \"/mnt\" # where\n\
                     [tasks.\"two\"]\nschedule = \"@daily\"\ncommand = \"\"\"\n[tasks.no]\n\"\"\"\n";
        assert!(crate::taskfile::sections::cut(text).is_some(), "{text}");
        let doc = Document::parse(text).unwrap();
        let mut whole = Vec::new();
        split_tasks(doc.as_table(), text, &doc, &mut |name, one| {
            whole.push((name.to_string(), one.to_string()))
        })
        .unwrap();
        let mut parts = Vec::new();
        split(text, &mut |name, one| {
            parts.push((name.to_string(), one.to_string()))
        })
        .unwrap();
        assert_eq!(parts, whole);
        assert!(whole.len() >= 2, "{whole:?}");
    }
}
