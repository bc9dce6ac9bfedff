//! `kron edit`, with editor scripts (tests/scripts/editor-*.sh) playing the
//! user: a valid edit, an invalid one, no change, the file changed
//! underneath, a failing editor, and editing again on a terminal.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use kron::taskfile::template::TEMPLATE;

use crate::util::{Env, Outcome};

const TASKS: &str = "\
# my tasks, by hand
[defaults]
timezone = \"UTC\"    # keep this comment

[tasks.backup]
schedule = \"30 2 * * *\"
command = [ \"restic\", \"backup\" ]
";

const VALID_ADDITION: &str = "
[tasks.edited]
schedule = \"0 9 * * mon-fri\"
command = \"echo edited\"
";

/// An `EDITOR` value that runs one of the scripts, with optional arguments.
fn editor(script: &str, args: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(script);
    format!("'{}' {args}", path.display())
}

fn edit(env: &Env, script: &str) -> Outcome {
    env.kron(&["edit"])
        .env("EDITOR", editor(script, ""))
        .env("KRON", env!("CARGO_BIN_EXE_kron"))
        .output()
}

/// The edits kron kept, and the line of `stderr` that names one of them.
fn kept_edits(env: &Env) -> Vec<PathBuf> {
    std::fs::read_dir(env.path().join("state/kron/edits"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[track_caller]
fn only_kept_edit(env: &Env, stderr: &str) -> String {
    let kept = kept_edits(env);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(stderr.contains(&kept[0].display().to_string()), "{stderr}");
    assert_eq!(mode(&kept[0]), 0o600);
    assert_eq!(mode(kept[0].parent().unwrap()), 0o700);
    std::fs::read_to_string(&kept[0]).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

/// No scratch copies are left in the runtime directory.
#[track_caller]
fn no_scratch_left(env: &Env) {
    let left: Vec<_> = std::fs::read_dir(env.path().join("runtime/kron"))
        .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_valid_edit_is_installed_from_a_private_copy() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let log = env.path().join("editor.log");
    let out = env
        .kron(&["edit"])
        .env("EDITOR", editor("editor-valid.sh", "--wait"))
        .env("EDITOR_LOG", &log)
        .output();
    out.success();
    assert_eq!(
        out.stdout(),
        format!(
            "installed {}: 2 tasks; added edited\n",
            env.task_file().display()
        )
    );
    assert_eq!(
        env.read_task_file().unwrap(),
        format!("{TASKS}{VALID_ADDITION}")
    );
    assert_eq!(mode(&env.task_file()), 0o600);
    // The editor got its own arguments, then a 0600 copy in a 0700
    // directory under the runtime directory, not the task file itself.
    let log = std::fs::read_to_string(&log).unwrap();
    let scratch = log.lines().find_map(|l| l.strip_prefix("file: ")).unwrap();
    assert!(log.contains("args: --wait "), "{log}");
    assert!(log.contains("modes: 600 700"), "{log}");
    assert!(
        scratch.starts_with(&env.path().join("runtime/kron").display().to_string()),
        "{log}"
    );
    no_scratch_left(&env);
    assert!(kept_edits(&env).is_empty());
    env.kron(&["show", "edited"]).output().success();
}

#[test]
fn visual_comes_before_editor() {
    let env = Env::new();
    env.write_task_file(TASKS);
    env.kron(&["edit"])
        .env("VISUAL", editor("editor-valid.sh", ""))
        .env("EDITOR", editor("editor-invalid.sh", ""))
        .output()
        .success();
    assert!(env.read_task_file().unwrap().contains("[tasks.edited]"));
}

#[test]
fn a_new_user_starts_from_the_template() {
    let env = Env::new();
    let copy = env.path().join("seen.toml");
    // Saving the template unchanged creates nothing.
    let out = env
        .kron(&["edit"])
        .env("EDITOR", editor("editor-unchanged.sh", ""))
        .env("EDITOR_COPY", &copy)
        .output();
    out.success();
    assert!(out.stdout().starts_with("no changes"), "{}", out.stdout());
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), TEMPLATE);
    assert!(env.read_task_file().is_none());
    // Adding a task installs the template with it, 0600 in a 0700 directory.
    let out = edit(&env, "editor-valid.sh");
    out.success();
    assert_eq!(
        env.read_task_file().unwrap(),
        format!("{TEMPLATE}{VALID_ADDITION}")
    );
    assert_eq!(mode(&env.task_file()), 0o600);
    assert_eq!(mode(env.task_file().parent().unwrap()), 0o700);
}

#[test]
fn an_unchanged_file_is_left_alone() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let before = std::fs::metadata(env.task_file()).unwrap();
    let out = edit(&env, "editor-unchanged.sh");
    out.success();
    assert_eq!(
        out.stdout(),
        format!("no changes; {} left as it was\n", env.task_file().display())
    );
    let after = std::fs::metadata(env.task_file()).unwrap();
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    assert_eq!(
        (before.ino(), before.mtime(), before.mtime_nsec()),
        (after.ino(), after.mtime(), after.mtime_nsec())
    );
    no_scratch_left(&env);
}

#[test]
fn an_invalid_edit_is_never_installed_and_is_kept() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = edit(&env, "editor-invalid.sh");
    out.code(2);
    let stderr = out.stderr();
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    let kept = only_kept_edit(&env, &stderr);
    assert!(kept.starts_with(TASKS) && kept.contains("timout"), "{kept}");
    // Every error, each with the kept file's line and column and the key.
    let kept_path = kept_edits(&env)[0].display().to_string();
    assert!(
        stderr.contains(&format!(
            "{kept_path}:10:12: tasks.broken.schedule: `61 * * * *`: minute: 61 is out of range"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{kept_path}:12:1: tasks.broken.timout: unknown key"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `timeout`?"), "{stderr}");
    assert!(
        stderr.lines().last().unwrap().starts_with("kron: "),
        "{stderr}"
    );
    assert!(out.stdout().is_empty());
    no_scratch_left(&env);
}

#[test]
fn an_edit_that_is_not_utf8_is_invalid_with_line_and_column_and_kept() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = edit(&env, "editor-latin1.sh");
    out.code(2);
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    let kept = kept_edits(&env);
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read(&kept[0]).unwrap(),
        [TASKS.as_bytes(), b"# caf\xe9\n"].concat()
    );
    let stderr = out.stderr();
    assert!(
        stderr.contains(&format!(
            "{}:8:6: invalid UTF-8 (byte 0xe9)",
            kept[0].display()
        )),
        "{stderr}"
    );
    no_scratch_left(&env);
}

#[test]
fn a_file_changed_underneath_is_not_overwritten() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = edit(&env, "editor-underneath.sh");
    out.code(1);
    let stderr = out.stderr();
    assert!(
        stderr.contains("changed while you were editing"),
        "{stderr}"
    );
    // The other change stays; the user's is kept, not lost.
    let installed = env.read_task_file().unwrap();
    assert!(installed.contains("[tasks.underneath]"), "{installed}");
    assert!(!installed.contains("[tasks.edited]"), "{installed}");
    let kept = only_kept_edit(&env, &stderr);
    assert!(kept.contains("[tasks.edited]") && !kept.contains("underneath"));
    // Also when the file did not exist when the edit began.
    let env = Env::new();
    edit(&env, "editor-underneath.sh").code(1);
    assert!(env.read_task_file().unwrap().contains("[tasks.underneath]"));
}

#[test]
fn a_failing_editor_installs_nothing_and_keeps_the_text() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = edit(&env, "editor-fails.sh");
    out.code(1);
    assert!(out.stderr().contains("editor"), "{}", out.stderr());
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    let kept = only_kept_edit(&env, &out.stderr());
    assert!(kept.ends_with("# half-done\n"));
}

#[test]
fn an_insecure_task_file_is_refused_before_editing() {
    let env = Env::new();
    env.write_task_file(TASKS);
    std::fs::set_permissions(env.task_file(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let log = env.path().join("editor.log");
    let out = env
        .kron(&["edit"])
        .env("EDITOR", editor("editor-valid.sh", ""))
        .env("EDITOR_LOG", &log)
        .output();
    out.code(2);
    assert!(
        out.stderr()
            .contains(&format!("chmod 600 {}", env.task_file().display())),
        "{}",
        out.stderr()
    );
    assert!(!log.exists(), "the editor ran");
    assert_eq!(env.read_task_file().unwrap(), TASKS);
}

/// `kron edit` on a pseudo-terminal (util-linux `script`), answering the
/// "Edit again?" question with `answer`.
fn edit_on_a_terminal(env: &Env, script: &str, answer: &str) -> Option<Outcome> {
    let run = env
        .on_a_terminal("edit")?
        .env("EDITOR", editor(script, ""))
        .env("EDITOR_COUNT", env.path().join("count"));
    Some(run.output_on_a_terminal(answer))
}

#[test]
fn on_a_terminal_kron_offers_to_edit_again_with_the_text_kept() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let Some(out) = edit_on_a_terminal(&env, "editor-second-try.sh", "y\n") else {
        return;
    };
    out.success();
    let shown = out.stdout();
    assert!(shown.contains("@sometimes"), "{shown}");
    assert!(shown.contains("Edit again? [Y/n]"), "{shown}");
    assert!(shown.contains("installed"), "{shown}");
    let installed = env.read_task_file().unwrap();
    assert_eq!(
        installed,
        format!("{TASKS}\n[tasks.retried]\nschedule = \"@daily\"\ncommand = \"true\"\n")
    );
    assert!(kept_edits(&env).is_empty());
}

#[test]
fn on_a_terminal_no_keeps_the_edit_and_exits_2() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let Some(out) = edit_on_a_terminal(&env, "editor-invalid.sh", "n\n") else {
        return;
    };
    out.code(2);
    assert!(
        out.stdout().contains("Edit again? [Y/n]"),
        "{}",
        out.stdout()
    );
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    let kept = only_kept_edit(&env, &out.stdout());
    assert!(kept.contains("[tasks.broken]"));
}

#[test]
fn after_a_refused_edit_the_next_edit_opens_the_kept_copy() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let refused = edit(&env, "editor-underneath.sh");
    refused.code(1);
    assert!(
        refused.stderr().contains("`kron edit` opens it next"),
        "{}",
        refused.stderr()
    );
    let kept = only_kept_edit(&env, &refused.stderr());
    let given = env.path().join("given.toml");
    let edit_copying = || {
        env.kron(&["edit"])
            .env("EDITOR", editor("editor-unchanged.sh", ""))
            .env("EDITOR_COPY", &given)
            .output()
    };
    // The next edit starts from the kept copy, saying so.
    let out = edit_copying();
    out.success();
    assert_eq!(std::fs::read_to_string(&given).unwrap(), kept);
    assert!(
        out.stderr().contains("kron: opening your edit kept at "),
        "{}",
        out.stderr()
    );
    assert!(out.stdout().starts_with("no changes;"), "{}", out.stdout());
    assert!(env.read_task_file().unwrap().contains("[tasks.underneath]"));
    // Once: the edit after that opens the file.
    edit_copying().success();
    assert_eq!(
        std::fs::read_to_string(&given).unwrap(),
        env.read_task_file().unwrap()
    );
}

#[test]
fn only_the_last_ten_kept_edits_are_kept() {
    let env = Env::new();
    env.write_task_file(TASKS);
    for _ in 0..12 {
        edit(&env, "editor-fails.sh").code(1);
    }
    let last = edit(&env, "editor-fails.sh");
    last.code(1);
    let kept = kept_edits(&env);
    assert_eq!(kept.len(), 10, "{kept:?}");
    // The newest is among them.
    assert!(
        kept.iter()
            .any(|k| last.stderr().contains(&k.display().to_string())),
        "{}",
        last.stderr()
    );
}
