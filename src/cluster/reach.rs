//! Whether this host reaches its backend, as its last claims found it:
//! `$STATE/kron/cluster.json` holds since when claims fail and why, and is
//! removed by the next claim that gets an answer (or a load of a task
//! file without `[cluster]`). The daemon never connects (its idle costs
//! stay nothing), so this file is how `kron status` can say that cluster
//! tasks do not run here.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use jiff::Timestamp;

use crate::dirs::Paths;

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Unreachable {
    /// The first claim that failed, of those since the last answer.
    pub since: Timestamp,
    /// The latest claim that failed.
    pub last: Timestamp,
    pub error: String,
}

/// What the last claims found; `None` when the last one got an answer.
pub fn read(paths: &Paths) -> Option<Unreachable> {
    let text = std::fs::read(paths.cluster_reach_file()).ok()?;
    serde_json::from_slice(&text).ok()
}

/// A claim failed for `error`. Best effort: the run's own record says why
/// it did not run whether or not this file can be written.
pub fn failed(paths: &Paths, error: &str) {
    let now = Timestamp::now();
    let since = read(paths).map_or(now, |u| u.since);
    let state = Unreachable {
        since,
        last: now,
        error: error.to_string(),
    };
    let path = paths.cluster_reach_file();
    let tmp = path.with_extension(format!("json.{}", std::process::id()));
    let written = crate::dirs::create_private_dir(&paths.state_dir).is_ok()
        && std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| f.write_all(&serde_json::to_vec(&state).expect("serialises")))
            .is_ok();
    if !written || std::fs::rename(&tmp, &path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// A claim got an answer from the backend, or the task file no longer
/// has a `[cluster]`.
pub fn clear(paths: &Paths) {
    let _ = std::fs::remove_file(paths.cluster_reach_file());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_their_first_time_until_an_answer() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            task_file: dir.path().join("tasks.toml"),
            state_dir: dir.path().join("state"),
            runtime_dir: dir.path().join("run"),
        };
        assert_eq!(read(&paths), None);
        failed(&paths, "connection refused");
        let first = read(&paths).unwrap();
        failed(&paths, "timed out");
        let second = read(&paths).unwrap();
        assert_eq!(second.since, first.since);
        assert_eq!(second.error, "timed out");
        assert!(second.last >= first.last);
        clear(&paths);
        assert_eq!(read(&paths), None);
    }
}
