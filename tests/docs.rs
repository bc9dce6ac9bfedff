//! The documentation stays true: the generated man pages and completion
//! scripts match the code (`KRON_BLESS=1` rewrites them), the hand-written
//! task-file page names every key the loader accepts, and its example is a
//! valid task file.

use std::path::{Path, PathBuf};

use kron::docs::{self, Generated, Kind};
use kron::taskfile::{
    DEFAULTS_ONLY_KEYS, LIMIT_KEYS, LOG_KEYS, RETRY_KEYS, SHARED_KEYS, TASK_ONLY_KEYS,
};

use crate::util::Env;

/// The command that refreshes the generated files.
const BLESS: &str = "KRON_BLESS=1 cargo test --test integration docs";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var_os("KRON_BLESS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Compares (or, when blessing, writes) one generated directory.
#[track_caller]
fn current(dir: &str, files: &[Generated], kind: Kind) {
    let dir = root().join(dir);
    if blessing() {
        docs::write(&dir, files, kind).unwrap();
        return;
    }
    let problems = docs::differences(&dir, files, kind).unwrap();
    assert!(
        problems.is_empty(),
        "{} is stale:\n  {}\nrefresh it with: {BLESS}",
        dir.display(),
        problems.join("\n  ")
    );
}

#[test]
fn man_pages_are_current() {
    current("man", &docs::man_pages(), Kind::Man);
}

#[test]
fn completion_scripts_are_current() {
    current(
        "completions",
        &docs::completion_scripts(),
        Kind::Completions,
    );
}

#[test]
fn the_hidden_generator_writes_the_same_files() {
    let env = Env::new();
    for (what, files) in [
        ("man", docs::man_pages()),
        ("completions", docs::completion_scripts()),
    ] {
        let dir = env.path().join(what);
        env.kron(&["__generate", what, dir.to_str().unwrap()])
            .output()
            .success();
        for file in &files {
            let written = std::fs::read(dir.join(&file.name)).unwrap();
            assert!(written == file.contents, "{what}/{} differs", file.name);
        }
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), files.len());
    }
}

#[test]
fn kron_completions_prints_the_committed_script() {
    let env = Env::new();
    for (shell, file) in [
        ("bash", "kron.bash"),
        ("zsh", "_kron"),
        ("fish", "kron.fish"),
        ("elvish", "kron.elv"),
        ("powershell", "_kron.ps1"),
    ] {
        let out = env.kron(&["completions", shell]).output();
        out.success();
        let committed = std::fs::read(root().join("completions").join(file)).unwrap();
        assert!(
            out.output.stdout == committed,
            "kron completions {shell} differs from completions/{file}; refresh with: {BLESS}"
        );
    }
}

#[test]
fn every_man_page_names_its_command() {
    for page in docs::man_pages() {
        let text = String::from_utf8(page.contents).unwrap();
        let title = page.name.trim_end_matches(".1");
        let th = text
            .lines()
            .find(|l| l.starts_with(".TH "))
            .unwrap_or_default();
        assert!(
            th.starts_with(&format!(".TH {title} 1 ")),
            "{}: {th}",
            page.name
        );
        assert!(text.contains(".SH SYNOPSIS"), "{}", page.name);
    }
}

fn page() -> String {
    std::fs::read_to_string(root().join("man/kron-tasks.5")).unwrap()
}

#[test]
fn the_task_file_page_names_every_key() {
    let page = page();
    let keys = TASK_ONLY_KEYS
        .iter()
        .chain(&SHARED_KEYS)
        .chain(&DEFAULTS_ONLY_KEYS)
        .chain(&RETRY_KEYS)
        .chain(&LOG_KEYS)
        .chain(&LIMIT_KEYS);
    for key in keys {
        // A key is documented where a roff font macro (.B, .BR, ...) sets it.
        let named = page.lines().any(|line| {
            line.starts_with(".B")
                && line
                    .split_whitespace()
                    .skip(1)
                    .any(|w| w.trim_matches([',', '"']) == *key)
        });
        assert!(named, "man/kron-tasks.5 does not document `{key}`");
    }
}

#[test]
fn the_task_file_page_example_is_valid() {
    let page = page();
    let start =
        page.find(".SH EXAMPLE\n.nf\n").expect("an EXAMPLE section") + ".SH EXAMPLE\n.nf\n".len();
    let end = start + page[start..].find("\n.fi").unwrap();
    let example = &page[start..end];
    let file = kron::taskfile::parse(example, Path::new("kron-tasks.5")).unwrap_or_else(|errors| {
        panic!(
            "{}",
            errors
                .into_diagnostics()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(file.tasks.len(), 2);
}

/// The roff text of the task-file page's entry for `key`: from its `.B KEY`
/// line to the next `.TP`.
fn entry(page: &str, key: &str) -> String {
    let start = page
        .find(&format!(".TP\n.B {key}\n"))
        .unwrap_or_else(|| panic!("no entry for `{key}`"));
    let rest = &page[start + 4..];
    rest[..rest.find("\n.TP").unwrap_or(rest.len())].to_string()
}

#[test]
fn the_task_file_page_says_where_the_description_is_shown() {
    let text = entry(&page(), "description");
    // Plain `kron list` does not show it: the page must not say so.
    let lists = text.matches("kron list").count();
    let json = text.matches("kron list \\-\\-json").count();
    assert_eq!(lists, json, "{text}");
    assert!(text.contains("kron show") && json == 1, "{text}");
    // And where it says so, it is shown.
    let env = Env::new();
    env.write_task_file(
        "[tasks.t]\nschedule = \"@daily\"\ncommand = \"true\"\ndescription = \"nightly backup\"\n",
    );
    let show = env.kron(&["show", "t"]).output();
    assert!(show.success().stdout().contains("nightly backup"));
    let list = env.kron(&["list", "--json"]).output();
    let rows: serde_json::Value = serde_json::from_str(&list.success().stdout()).unwrap();
    assert_eq!(rows[0]["description"], "nightly backup");
}
