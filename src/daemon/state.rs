//! The daemon's persisted memory, `$XDG_STATE_HOME/kron/state.json`: per
//! task, the last scheduled instant it handled (so that runs missed while
//! it was down are caught up, see `daemon::plan`), the boot id it last
//! ran `@reboot` tasks for, and since when each paused task is paused (its
//! instants until the resume are recorded `missed`, one record per pause).
//!
//! The file is small JSON, written atomically (temporary file, fsync,
//! rename, fsync of the directory), so a crash leaves the old memory or the
//! new one. A file that cannot be read or parsed is reported and replaced by
//! an empty memory: the daemon then treats every task as new (it starts
//! from now), which loses catch-ups but never runs anything twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::taskfile::install::{InstallError, replace};

/// The format version written in the file.
const FORMAT: u32 = 1;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// `/proc/sys/kernel/random/boot_id` when `@reboot` tasks last ran.
    pub boot_id: Option<String>,
    /// Per task, the last scheduled instant handled (fired or skipped).
    pub last: BTreeMap<String, Timestamp>,
    /// When the last daemon stopped cleanly (`None` after a crash, or
    /// while a daemon runs): the start of a downtime, for `missed` records.
    pub stopped: Option<Timestamp>,
    /// Per paused task, when a daemon first saw it paused.
    pub paused: BTreeMap<String, Timestamp>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a kron state file ({reason}); starting with an empty memory", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Write(#[from] InstallError),
}

#[derive(Serialize, Deserialize)]
struct File {
    format: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    boot_id: Option<String>,
    #[serde(default)]
    tasks: BTreeMap<String, TaskEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stopped: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    paused: BTreeMap<String, Timestamp>,
}

#[derive(Serialize, Deserialize)]
struct TaskEntry {
    /// RFC 3339.
    last: String,
}

impl State {
    /// Reads the memory at `path`; a missing file is an empty memory.
    pub fn load(path: &Path) -> Result<State, StateError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => {
                return Err(StateError::Read {
                    path: path.into(),
                    source,
                });
            }
        };
        let corrupt = |reason: String| StateError::Corrupt {
            path: path.into(),
            reason,
        };
        let file: File = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if file.format != FORMAT {
            return Err(corrupt(format!("format {} is not {FORMAT}", file.format)));
        }
        let mut last = BTreeMap::new();
        for (name, entry) in file.tasks {
            let at: Timestamp = entry
                .last
                .parse()
                .map_err(|e| corrupt(format!("tasks.{name}.last: {e}")))?;
            last.insert(name, at);
        }
        Ok(State {
            boot_id: file.boot_id,
            last,
            stopped: file.stopped,
            paused: file.paused,
        })
    }

    /// Writes the memory to `path` atomically, mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        self.replace(path)?;
        crate::taskfile::install::sync_dir(path)?;
        Ok(())
    }

    /// Writes the memory to `path` atomically, safe from a crash of this
    /// process but not yet from a power loss: `install::sync_dir` does that.
    pub fn replace(&self, path: &Path) -> Result<(), StateError> {
        let file = File {
            format: FORMAT,
            boot_id: self.boot_id.clone(),
            tasks: self
                .last
                .iter()
                .map(|(name, at)| {
                    (
                        name.clone(),
                        TaskEntry {
                            last: at.to_string(),
                        },
                    )
                })
                .collect(),
            stopped: self.stopped,
            paused: self.paused.clone(),
        };
        let mut bytes = serde_json::to_vec_pretty(&file).expect("state serialises");
        bytes.push(b'\n');
        replace(path, &bytes)?;
        Ok(())
    }

    /// Records that `task`'s instant `at` was handled; the memory never
    /// goes backwards.
    pub fn handled(&mut self, task: &str, at: Timestamp) -> bool {
        match self.last.get_mut(task) {
            Some(last) if *last >= at => false,
            Some(last) => {
                *last = at;
                true
            }
            None => {
                self.last.insert(task.into(), at);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_never_goes_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kron/state.json");
        assert_eq!(State::load(&path).unwrap(), State::default());
        let mut state = State {
            boot_id: Some("b-1".into()),
            ..State::default()
        };
        let t: Timestamp = "2026-03-08T07:00:00Z".parse().unwrap();
        assert!(state.handled("backup", t));
        state.paused.insert("prune".into(), t);
        assert!(!state.handled("backup", "2026-03-08T06:00:00Z".parse().unwrap()));
        state.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"last\": \"2026-03-08T07:00:00Z\""),
            "{text}"
        );
        assert_eq!(State::load(&path).unwrap(), state);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_corrupt_file_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        for text in [
            "{",
            "{\"format\": 9}",
            "{\"format\":1,\"tasks\":{\"a\":{\"last\":\"x\"}}}",
        ] {
            std::fs::write(&path, text).unwrap();
            assert!(
                matches!(State::load(&path), Err(StateError::Corrupt { .. })),
                "{text}"
            );
        }
    }
}
