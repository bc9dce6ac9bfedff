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
//! are rewritten; files of removed tasks are deleted. The daemon keeps
//! their text, so that a snapshot deleted under it (or the whole runtime
//! directory, which logind removes at the last logout) is written again
//! before a supervisor needs it ([`Snapshots::ensure`]).

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use toml_edit::{DocumentMut, Item, Table};

use crate::dirs::Paths;

/// Each task's name and the text of its snapshot, in file order. `text`
/// must be a valid task file.
pub fn split(text: &str) -> Vec<(String, String)> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let defaults = doc.get("defaults");
    let cluster = doc.get("cluster");
    let Some(tasks) = doc.get("tasks").and_then(Item::as_table_like) else {
        return Vec::new();
    };
    tasks
        .iter()
        .map(|(name, item)| {
            let mut one = DocumentMut::new();
            if let Some(defaults) = defaults {
                one.insert("defaults", defaults.clone());
            }
            if let Some(cluster) = cluster {
                one.insert("cluster", cluster.clone());
            }
            let mut table = Table::new();
            table.set_implicit(true);
            table.insert(name, item.clone());
            one.insert("tasks", Item::Table(table));
            (name.to_string(), one.to_string())
        })
        .collect()
}

/// The snapshots on disk, and what is in them.
pub struct Snapshots {
    paths: Paths,
    written: HashMap<String, String>,
}

impl Snapshots {
    pub fn new(paths: Paths) -> Snapshots {
        Snapshots {
            paths,
            written: HashMap::new(),
        }
    }

    /// Writes `task`'s snapshot again if it is missing. Returns whether it
    /// had to (a snapshot the daemon wrote that someone removed).
    pub fn ensure(&self, task: &str) -> std::io::Result<bool> {
        let path = self.paths.snapshot(task);
        let Some(text) = self.written.get(task) else {
            return Ok(false);
        };
        if path.exists() {
            return Ok(false);
        }
        crate::dirs::create_private_dir(&self.paths.loaded_dir())?;
        write(&path, text.as_bytes())?;
        Ok(true)
    }

    /// Writes every snapshot again (the directory was removed).
    pub fn rewrite(&mut self) -> std::io::Result<()> {
        let dir = self.paths.loaded_dir();
        crate::dirs::create_private_dir(&dir)?;
        for (name, text) in &self.written {
            write(&self.paths.snapshot(name), text.as_bytes())?;
        }
        Ok(())
    }

    /// Makes the directory hold exactly the snapshots of `text`'s tasks.
    pub fn update(&mut self, text: &str) -> std::io::Result<()> {
        let dir = self.paths.loaded_dir();
        crate::dirs::create_private_dir(&dir)?;
        let mut written = HashMap::new();
        for (name, one) in split(text) {
            let path = self.paths.snapshot(&name);
            if self.written.get(&name) != Some(&one) || !path.exists() {
                write(&path, one.as_bytes())?;
            }
            written.insert(name, one);
        }
        for entry in std::fs::read_dir(&dir)?.flatten() {
            let file = entry.file_name();
            let file = file.to_string_lossy();
            let stale = match file.strip_suffix(".toml") {
                Some(name) => !written.contains_key(name),
                None => file.ends_with(".tmp"),
            };
            if stale {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        self.written = written;
        Ok(())
    }
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

[tasks]
inline = { schedule = "@daily", command = "true", timeout = "1m" }
tasks.dotted.schedule = "@hourly"
tasks.dotted.command = "echo"
"#;

    #[test]
    fn each_snapshot_gives_the_task_the_same_settings() {
        let text = FILE.replace("tasks.dotted.", "dotted.");
        let file = taskfile::parse(&text, Path::new("t.toml")).unwrap();
        let parts = split(&text);
        let names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["backup", "inline", "dotted"]);
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

    #[test]
    fn update_writes_changed_files_and_removes_stale_ones() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            task_file: dir.path().join("tasks.toml"),
            state_dir: dir.path().join("state"),
            runtime_dir: dir.path().to_path_buf(),
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
    }
}
