//! Shell completion: the registration scripts, and the binary's side of
//! dynamic completion (task names read from the task file).
//!
//! A registration script (`kron completions bash`, `completions/kron.bash`)
//! is a few lines of shell that, on each TAB, run
//! `KRON_COMPLETE=bash kron -- WORDS...`; kron then prints the candidates
//! instead of running a verb. Completion is clap_complete's `CompleteEnv`
//! (feature `unstable-dynamic`, pinned exactly in Cargo.toml): the
//! script and the binary must come from the same kron version, so the
//! README recommends loading the script from the binary at shell start-up.
//!
//! Task names are read with `toml_edit` alone: no schedule is parsed or
//! evaluated, and a broken or missing task file completes nothing. This
//! module only produces candidates and scripts; answering a completion
//! request, which needs the whole command line (`cli`), is
//! [`crate::complete_request`]. Depends on `dirs`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::ValueEnum;
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{Bash, Elvish, EnvCompleter, Fish, Powershell, Zsh};

use crate::dirs::Paths;

/// The environment variable that asks kron for completions rather than a
/// verb. kron's own name (not clap's usual `COMPLETE`), so that an unrelated
/// `COMPLETE` in a user's environment cannot break every kron command.
pub const VAR: &str = "KRON_COMPLETE";

/// The shells kron writes completion scripts for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Elvish,
    #[value(name = "powershell")]
    PowerShell,
}

impl Shell {
    pub const ALL: [Shell; 5] = [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ];

    fn completer(self) -> &'static dyn EnvCompleter {
        match self {
            Shell::Bash => &Bash,
            Shell::Zsh => &Zsh,
            Shell::Fish => &Fish,
            Shell::Elvish => &Elvish,
            Shell::PowerShell => &Powershell,
        }
    }

    /// The name of the committed script in `completions/`, after each
    /// shell's convention (`_kron` is what zsh's `fpath` looks up).
    pub fn file_name(self) -> &'static str {
        match self {
            Shell::Bash => "kron.bash",
            Shell::Zsh => "_kron",
            Shell::Fish => "kron.fish",
            Shell::Elvish => "kron.elv",
            Shell::PowerShell => "_kron.ps1",
        }
    }
}

/// The registration script for `shell`: it calls `kron` found on `PATH`.
pub fn registration(shell: Shell) -> Vec<u8> {
    let mut buf = Vec::new();
    shell
        .completer()
        .write_registration(VAR, "kron", "kron", "kron", &mut buf)
        .expect("writing to memory does not fail");
    if shell == Shell::Zsh {
        buf.extend_from_slice(ZSH_AUTOLOAD.as_bytes());
    }
    buf
}

/// Lets `_kron` work from a directory of zsh's `fpath` too: autoloaded,
/// the file is the body of the function `_kron`, which then has to
/// complete the TAB that loaded it (sourced, it only registers).
const ZSH_AUTOLOAD: &str = r#"
if [[ ${funcstack[1]-} == _kron ]]; then
    _clap_dynamic_completer_kron "$@"
fi
"#;

/// Completes an argument with the task names (`#[arg(add = ...)]`).
pub fn task_candidates() -> clap_complete::ArgValueCandidates {
    clap_complete::ArgValueCandidates::new(task_names)
}

/// The task names in the task file, each with its description as help.
/// The task file is the one the command line being completed names with
/// `--file`, else `KRON_FILE`, else the default.
pub fn task_names() -> Vec<CompletionCandidate> {
    let file = file_flag(std::env::args_os());
    let paths = Paths::from_env(file.as_deref());
    let Ok(text) = std::fs::read_to_string(&paths.task_file) else {
        return Vec::new();
    };
    names_in(&text)
        .into_iter()
        .map(|(name, description)| CompletionCandidate::new(name).help(description.map(Into::into)))
        .collect()
}

/// `(name, description)` of each task in a task file's text, in file
/// order; nothing when the text is not TOML.
pub fn names_in(text: &str) -> Vec<(String, Option<String>)> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let Some(tasks) = doc.get("tasks").and_then(|t| t.as_table_like()) else {
        return Vec::new();
    };
    tasks
        .iter()
        .map(|(name, item)| {
            let description = item
                .as_table_like()
                .and_then(|t| t.get("description"))
                .and_then(|d| d.as_str())
                .map(|d| d.lines().next().unwrap_or("").to_string());
            (name.to_string(), description)
        })
        .collect()
}

/// The value of `--file PATH` or `--file=PATH` among the words being
/// completed (those after the `--` the registration script passes).
fn file_flag(args: impl Iterator<Item = OsString>) -> Option<PathBuf> {
    let words: Vec<OsString> = args.skip_while(|a| a != "--").skip(1).collect();
    let mut found = None;
    let mut iter = words.iter();
    while let Some(word) = iter.next() {
        let word = word.to_string_lossy();
        if word == "--" {
            break;
        }
        if word == "--file" {
            found = iter.next().map(PathBuf::from);
        } else if let Some(path) = word.strip_prefix("--file=") {
            found = Some(PathBuf::from(path));
        }
    }
    found.filter(|p| !p.as_os_str().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_come_in_file_order_with_descriptions() {
        let text = r#"
[defaults]
timezone = "UTC"

[tasks.backup]
description = "nightly backup"
schedule = "30 2 * * *"
command = "true"

[tasks]
ping = { schedule = "@hourly", command = "true" }
"#;
        let names = names_in(text);
        assert_eq!(
            names,
            vec![
                ("backup".to_string(), Some("nightly backup".to_string())),
                ("ping".to_string(), None)
            ]
        );
        assert!(names_in("not [ toml").is_empty());
        assert!(names_in("[defaults]\n").is_empty());
    }

    #[test]
    fn the_file_flag_is_found_among_the_words() {
        let words = |w: &[&str]| w.iter().map(OsString::from).collect::<Vec<_>>().into_iter();
        assert_eq!(
            file_flag(words(&[
                "kron", "--", "kron", "--file", "/x.toml", "show", ""
            ])),
            Some(PathBuf::from("/x.toml"))
        );
        assert_eq!(
            file_flag(words(&["kron", "--", "kron", "show", "--file=y.toml", ""])),
            Some(PathBuf::from("y.toml"))
        );
        assert_eq!(file_flag(words(&["kron", "--", "kron", "show", ""])), None);
        // Before the completer's `--` are kron's own arguments.
        assert_eq!(
            file_flag(words(&["kron", "--file", "a", "--", "kron", "show"])),
            None
        );
    }
}
