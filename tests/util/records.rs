//! What runs leave on disk, as tests read it: history records, run logs,
//! and the lines commands append to files.

use std::path::Path;

use super::Env;

/// Whether history record `r` is a `missed` one of the daemon's downtime
/// (a loaded machine may also skip a late instant: a missed record too).
pub fn missed_while_down(r: &serde_json::Value) -> bool {
    r["outcome"] == "missed"
        && r["reason"]
            .as_str()
            .is_some_and(|s| s.contains("the daemon was not running"))
}

/// The task's history records (`history/TASK.jsonl`), oldest first. Each
/// whole line must be a record; a last line without its newline is a
/// record still being written and is left out.
#[track_caller]
pub fn history(env: &Env, task: &str) -> Vec<serde_json::Value> {
    let path = env.path().join(format!("state/kron/history/{task}.jsonl"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = text.rsplit_once('\n').map_or("", |(whole, _)| whole);
    whole
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("a history line of {task}: {e}: {l}"))
        })
        .collect()
}

/// The task's current run log.
pub fn log(env: &Env, task: &str) -> Vec<u8> {
    std::fs::read(env.path().join(format!("state/kron/logs/{task}.log"))).unwrap_or_default()
}

/// The lines of a file (none when it does not exist).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|t| t.lines().map(String::from).collect())
        .unwrap_or_default()
}

/// The run registry's entries (`$RUNTIME/running/*.json`): the runs in
/// progress as their supervisors registered them.
pub fn registry(env: &Env) -> Vec<serde_json::Value> {
    let dir = env.path().join("runtime/kron/running");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}
