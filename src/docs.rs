//! The generated documentation: the man pages in `man/` and the completion
//! scripts in `completions/`, rendered in memory from the clap definitions
//! (`cli::Cli`), whose doc comments are the only source of the text.
//!
//! `kron __generate man|completions DIR` writes them; `tests/docs.rs`
//! compares them with the committed files. `man/kron-tasks.5` is written by
//! hand and is not produced here. Every visible subcommand gets its own
//! page, nested ones too (`kron-daemon-install.1`), as clap_mangen names
//! them; `kron-daemon.1` lists them.

use std::path::Path;

use clap::CommandFactory;

use crate::complete::{self, Shell};

/// One generated file: its name in its directory and its contents.
pub struct Generated {
    pub name: String,
    pub contents: Vec<u8>,
}

/// Every man page: `kron.1` and one `kron-VERB[-SUBVERB].1` per visible
/// subcommand, in a stable order.
pub fn man_pages() -> Vec<Generated> {
    let mut cmd = crate::cli::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    collect(&cmd, true, &mut pages);
    pages
}

fn collect(cmd: &clap::Command, top: bool, pages: &mut Vec<Generated>) {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("kron {}", env!("CARGO_PKG_VERSION")))
        .manual("kron manual");
    let name = man.get_filename();
    let mut contents = Vec::new();
    man.render(&mut contents)
        .expect("writing to memory does not fail");
    contents.extend_from_slice(if top { KRON_1_EXTRA } else { SEE_ALSO }.as_bytes());
    pages.push(Generated { name, contents });
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, false, pages);
    }
}

/// The registration script of every shell (see `complete`).
pub fn completion_scripts() -> Vec<Generated> {
    Shell::ALL
        .into_iter()
        .map(|shell| Generated {
            name: shell.file_name().to_string(),
            contents: complete::registration(shell),
        })
        .collect()
}

/// Writes `files` into `dir` (created if missing) and removes the files of
/// `dir` that `kind` would have generated but `files` lacks (the page of a
/// verb that is gone). Returns the names written.
pub fn write(dir: &Path, files: &[Generated], kind: Kind) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    for stale in stale_extra(dir, files, kind)? {
        std::fs::remove_file(dir.join(stale))?;
    }
    let mut written = Vec::new();
    for file in files {
        std::fs::write(dir.join(&file.name), &file.contents)?;
        written.push(file.name.clone());
    }
    Ok(written)
}

/// What a generated directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `man/`: the generated pages are every `kron*.1`; section 5 is
    /// written by hand.
    Man,
    /// `completions/`: every file is generated.
    Completions,
}

/// The differences between `dir` and `files`: each name that is missing,
/// different, or there but no longer generated.
pub fn differences(dir: &Path, files: &[Generated], kind: Kind) -> std::io::Result<Vec<String>> {
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read(dir.join(&file.name)) {
            Ok(on_disk) if on_disk == file.contents => {}
            Ok(_) => problems.push(format!("{} differs", file.name)),
            Err(_) => problems.push(format!("{} is missing", file.name)),
        }
    }
    for extra in stale_extra(dir, files, kind)? {
        problems.push(format!("{extra} is no longer generated"));
    }
    Ok(problems)
}

fn stale_extra(dir: &Path, files: &[Generated], kind: Kind) -> std::io::Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut extra = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let ours = match kind {
            Kind::Man => name.starts_with("kron") && name.ends_with(".1"),
            Kind::Completions => true,
        };
        if ours && !files.iter().any(|f| f.name == name) {
            extra.push(name);
        }
    }
    extra.sort();
    Ok(extra)
}

/// Appended to every subcommand's page.
const SEE_ALSO: &str = r#".SH "SEE ALSO"
\fBkron\fR(1), \fBkron\-tasks\fR(5)
"#;

/// Appended to `kron.1`: what applies to every verb.
const KRON_1_EXTRA: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Success.
.TP
\fB1\fR
Something failed (a file could not be written, a task could not be
exported, a check of \fBkron doctor\fR failed, ...).
.TP
\fB2\fR
The command line, a schedule or the task file is invalid, or the task file
or one of kron's directories is refused as insecure.
.TP
\fB3\fR
\fBkron daemon status\fR only: the daemon is not running.
.PP
\fBkron run\fR exits with the task's own status.
.SH ENVIRONMENT
.TP
\fBKRON_FILE\fR
The task file, when \fB\-\-file\fR is not given.
.TP
\fBKRON_NO_AUTOSTART\fR
When set (and not 0), the verbs that change tasks do not start the daemon;
for systems where a service manager runs \fBkron daemon run\fR.
.TP
\fBKRON_SERVICE_MANAGER\fR
\fBsystemd\fR, \fBlaunchd\fR or \fBnone\fR: what \fBkron daemon install\fR,
\fBuninstall\fR and \fBkron doctor\fR write and check for, instead of what
kron detects (launchd on macOS; systemd where /run/systemd/system exists;
else none: an XDG autostart entry and a login-profile line). For images
built where systemd does not run yet.
.TP
\fBKRON_LOG\fR
The daemon's and supervisors' log level: error, warn, info (default) or debug.
.TP
\fBKRON_LOG_MAX_SIZE\fR
The size at which \fIdaemon.log\fR is rotated into \fIdaemon.log.1\fR
(default 1MiB; also 512KiB, 10MB, ...).
.TP
\fBVISUAL\fR, \fBEDITOR\fR
The editor of \fBkron edit\fR (default: vi).
.TP
\fBXDG_CONFIG_HOME\fR, \fBXDG_STATE_HOME\fR, \fBXDG_RUNTIME_DIR\fR
Where kron keeps its files (below).
.TP
\fBTZ\fR
The system's time zone, read before /etc/localtime.
.TP
\fBKRON_COMPLETE\fR
Set by the completion scripts: kron prints completions instead of running.
.SH FILES
.TP
\fI$XDG_CONFIG_HOME/kron/tasks.toml\fR (\fI~/.config/kron/tasks.toml\fR)
The task file; see \fBkron\-tasks\fR(5).
.TP
\fI$XDG_STATE_HOME/kron/logs/NAME.log\fR
A task's run log (\fBkron logs\fR).
.TP
\fI$XDG_STATE_HOME/kron/history/NAME.jsonl\fR
A task's run records (\fBkron history\fR).
.TP
\fI$XDG_STATE_HOME/kron/daemon.log\fR
The log of a daemon started by \fBkron daemon start\fR and of its
supervisors, rotated into \fIdaemon.log.1\fR beyond \fBKRON_LOG_MAX_SIZE\fR:
the two hold about twice that.
.TP
\fI$XDG_RUNTIME_DIR/kron/\fR
The daemon's lock and socket, the task locks (\fIlocks/NAME.lock\fR, shared
with \fBflock\fR(1)) and the runs in progress.
.TP
\fI$XDG_CONFIG_HOME/systemd/user/kron.service\fR
The unit \fBkron daemon install\fR writes.
.PP
kron refuses \fI$XDG_RUNTIME_DIR/kron\fR, \fI$XDG_STATE_HOME/kron\fR and the
task file's directory (exit status 2) when another user owns one or others
can write it; the message names the command that fixes it. The daemon
answers only its own user on its socket.
.SH "SEE ALSO"
\fBkron\-tasks\fR(5), \fBcrontab\fR(5), \fBsystemd.timer\fR(5), \fBflock\fR(1)
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_subcommand_has_a_page() {
        let pages = man_pages();
        let names: Vec<&str> = pages.iter().map(|p| p.name.as_str()).collect();
        for name in [
            "kron.1",
            "kron-edit.1",
            "kron-daemon.1",
            "kron-daemon-start.1",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        assert!(
            !names
                .iter()
                .any(|n| n.contains("supervise") || n.contains("help"))
        );
    }
}
