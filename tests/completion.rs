//! Shell completion through the committed scripts: bash (when installed)
//! completes verbs and the task names of the task file `--file` or the
//! environment names; the binary answers every shell's protocol.

use std::path::{Path, PathBuf};

use crate::util::Env;

const TASKS: &str = r#"
[tasks.backup]
description = "nightly backup"
schedule = "30 2 * * *"
command = "true"

[tasks.ping]
schedule = "@hourly"
command = "true"
"#;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("completions")
        .join(name)
}

/// `PATH` with the kron under test first, as the scripts call `kron`.
fn path() -> String {
    let bin = Path::new(env!("CARGO_BIN_EXE_kron")).parent().unwrap();
    format!("{}:/usr/bin:/bin", bin.display())
}

/// What bash offers for `words` (the last one being completed), through
/// completions/kron.bash.
fn bash(env: &Env, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', r"'\''")))
        .collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_TYPE=9\n\
         _clap_complete_kron kron {} {}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script("kron.bash").display(),
        quoted.join(" "),
        words.len() - 1,
        quoted.last().unwrap(),
        quoted[quoted.len().saturating_sub(2)],
    );
    let out = env
        .command("bash", &["--norc", "--noprofile", "-c", &program])
        .env("PATH", path())
        .output();
    out.success();
    out.stdout().lines().map(String::from).collect()
}

fn have(shell: &str) -> bool {
    ["/bin", "/usr/bin"]
        .iter()
        .any(|dir| Path::new(dir).join(shell).exists())
}

#[test]
fn bash_completes_task_names_from_the_task_file() {
    if !have("bash") {
        eprintln!("skipped: no bash");
        return;
    }
    let env = Env::new();
    env.write_task_file(TASKS);
    for verb in [
        "show", "run", "logs", "history", "kill", "pause", "resume", "remove",
    ] {
        let offered = bash(&env, &["kron", verb, ""]);
        for name in ["backup", "ping"] {
            assert!(offered.contains(&name.to_string()), "{verb}: {offered:?}");
        }
    }
    assert_eq!(bash(&env, &["kron", "show", "ba"]), ["backup"]);
    assert_eq!(bash(&env, &["kron", "next", "pi"]), ["ping"]);
    // Verbs, hidden ones left out (clap offers them only to a `__` prefix).
    let verbs = bash(&env, &["kron", "d"]);
    assert!(verbs.contains(&"daemon".to_string()) && verbs.contains(&"doctor".to_string()));
    let all = bash(&env, &["kron", ""]);
    assert!(all.contains(&"completions".to_string()), "{all:?}");
    assert!(!all.iter().any(|v| v.starts_with("__")), "{all:?}");
    assert_eq!(bash(&env, &["kron", "daemon", "ins"]), ["install"]);
}

#[test]
fn task_names_come_from_the_file_the_command_line_names() {
    if !have("bash") {
        eprintln!("skipped: no bash");
        return;
    }
    let env = Env::new();
    env.write_task_file(TASKS);
    let other = env.path().join("other.toml");
    std::fs::write(
        &other,
        "[tasks.elsewhere]\nschedule = \"@daily\"\ncommand = \"true\"\n",
    )
    .unwrap();
    let other = other.to_str().unwrap();
    assert_eq!(
        bash(&env, &["kron", "--file", other, "show", ""])[0],
        "elsewhere"
    );
    assert_eq!(
        bash(&env, &["kron", "show", &format!("--file={other}"), "e"]),
        ["elsewhere"]
    );
    // No task file: no names, and no error.
    std::fs::remove_file(env.task_file()).unwrap();
    assert!(!bash(&env, &["kron", "show", ""]).contains(&"backup".to_string()));
}

#[test]
fn every_shell_gets_names_with_descriptions_where_it_shows_them() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let ask = |shell: &str| {
        env.kron(&["--", "kron", "show", ""])
            .env("KRON_COMPLETE", shell)
            .env("_CLAP_COMPLETE_INDEX", "2")
            .env("_CLAP_IFS", "\n")
            .output()
    };
    let fish = ask("fish");
    fish.success();
    assert!(
        fish.stdout().starts_with("backup\tnightly backup\nping\n"),
        "{}",
        fish.stdout()
    );
    let zsh = ask("zsh");
    zsh.success();
    assert!(
        zsh.stdout().contains("backup:nightly backup"),
        "{}",
        zsh.stdout()
    );
    for shell in ["bash", "elvish", "powershell"] {
        let out = ask(shell);
        out.success();
        assert!(out.stdout().contains("backup"), "{shell}: {}", out.stdout());
    }
    // An unknown shell is an error, not a run of kron.
    let out = ask("tcsh");
    out.code(2);
    assert!(
        out.stderr().contains("unknown shell `tcsh`"),
        "{}",
        out.stderr()
    );
}

#[test]
fn fish_completes_task_names_with_descriptions() {
    if !have("fish") {
        eprintln!("skipped: no fish");
        return;
    }
    let env = Env::new();
    env.write_task_file(TASKS);
    let program = format!(
        "source '{}'; complete -C 'kron run '; complete -C 'kron da'",
        script("kron.fish").display()
    );
    let out = env
        .command("fish", &["--no-config", "-c", &program])
        .env("PATH", path())
        .output();
    out.success();
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.contains(&"backup\tnightly backup"), "{stdout}");
    assert!(lines.contains(&"ping"), "{stdout}");
    assert!(lines.iter().any(|l| l.starts_with("daemon\t")), "{stdout}");
}

#[test]
fn zsh_completes_task_names_sourced_and_from_fpath() {
    if !have("zsh") {
        eprintln!("skipped: no zsh");
        return;
    }
    let env = Env::new();
    env.write_task_file(TASKS);
    let fpath = env.path().join("fpath");
    std::fs::create_dir(&fpath).unwrap();
    std::fs::copy(script("_kron"), fpath.join("_kron")).unwrap();
    // `_describe` stands in for zsh's completion widget: it prints what
    // it is given.
    let describe = "_describe() { local arr=${@[-1]}; print -l ${(P)arr} }";
    let ask = "words=(kron show ''); CURRENT=3";
    let programs = [
        // Sourced (`source <(kron completions zsh)`).
        format!(
            "autoload -Uz compinit; compinit -u -d {dump}/a; source '{}'; {describe}; {ask}; \
             $_comps[kron]",
            script("_kron").display(),
            dump = env.path().display()
        ),
        // Autoloaded from fpath, on the first TAB.
        format!(
            "fpath=('{}' $fpath); autoload -Uz compinit; compinit -u -d {dump}/b; {describe}; \
             {ask}; $_comps[kron]",
            fpath.display(),
            dump = env.path().display()
        ),
    ];
    for program in programs {
        let out = env
            .command("zsh", &["-f", "-c", &program])
            .env("PATH", path())
            .output();
        out.success();
        let stdout = out.stdout();
        assert!(
            stdout.starts_with("backup:nightly backup\nping\n"),
            "{program}\n{stdout}"
        );
    }
}

#[test]
fn file_arguments_complete_file_names() {
    let env = Env::new();
    let dir = env.work();
    std::fs::write(dir.join("crontab.txt"), "").unwrap();
    std::fs::write(dir.join("tasks.toml"), "").unwrap();
    // `kron import FILE` as `kron check FILE` does, in the current directory.
    for verb in ["import", "check"] {
        let mut command = env
            .kron(&["--", "kron", verb, "cr"])
            .env("KRON_COMPLETE", "bash")
            .env("_CLAP_COMPLETE_INDEX", "2")
            .env("_CLAP_IFS", "\n")
            .into_command();
        let out = command.current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "{verb}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .collect::<Vec<_>>(),
            ["crontab.txt"],
            "{verb}"
        );
    }
}
