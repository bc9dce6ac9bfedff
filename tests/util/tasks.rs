//! Task-file text for tests: a task, and shell commands for its `command`.

use std::path::Path;

/// `[tasks.NAME]` with the given extra lines, running in `dir`.
pub fn task(name: &str, command: &str, dir: &Path, extra: &str) -> String {
    format!(
        "[tasks.{name}]\nschedule = \"@daily\"\ncommand = {command:?}\nworkdir = {:?}\n{extra}\n",
        dir.display().to_string()
    )
}

/// A shell command that appends a line to `file`.
pub fn append(file: &Path, text: &str) -> String {
    format!("echo {text} >> {}", file.display())
}

/// A shell loop that waits for the file `gate` (relative to the workdir),
/// for at most a minute, so that a failed test leaves nothing running.
pub fn wait_for(gate: &str) -> String {
    format!("i=0; while [ ! -e {gate} ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done")
}
