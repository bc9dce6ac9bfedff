//! `kron add` and `kron remove`: the user's text survives byte for byte,
//! refusals change nothing, and concurrent adds never lose a task.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use crate::util::{Env, wait_with_deadline};

/// Comments in every position, odd spacing, `[defaults]` last.
const TASKS: &str = "\
# my tasks -- edited by hand, keep my formatting!

# nightly backup
[tasks.backup]   # on the header
schedule    = \"30 2 * * *\"
# inside the task
command = [ \"restic\",\"backup\" ]
# timeout = \"1h\"

# ===== monitoring =====

[tasks.ping]
schedule = '*/15 9-17 * * mon-fri'
command = \"ping -c1 example.org\"

[defaults]
timezone = \"America/New_York\"	# a tab before this comment
# the end
";

fn env_with(text: &str) -> Env {
    let env = Env::new();
    env.write_task_file(text);
    env
}

#[test]
fn add_appends_and_keeps_every_byte_before() {
    let env = env_with(TASKS);
    let out = env
        .kron(&[
            "add",
            "report",
            "--schedule",
            "0 8 * * mon",
            "--tz",
            "Europe/Berlin",
            "--description",
            "weekly \"report\"",
            "--timeout",
            "15m",
            "--retry",
            "3",
            "--workdir",
            "~/reports",
            "--env",
            "LANG=C.UTF-8",
            "--env",
            "URL=https://x.org/?a=b",
            "--",
            "make report | mail -s report me",
        ])
        .output();
    out.success();
    assert!(
        out.stdout().starts_with("added report: next run Mon ")
            && out.stdout().contains(" (in ")
            && out.stdout().lines().count() == 1,
        "{}",
        out.stdout()
    );
    assert_eq!(
        env.read_task_file().unwrap(),
        format!(
            "{TASKS}\n[tasks.report]\ndescription = 'weekly \"report\"'\nschedule = \"0 8 * * mon\"\n\
             timezone = \"Europe/Berlin\"\ncommand = \"make report | mail -s report me\"\n\
             workdir = \"~/reports\"\nenv = {{ LANG = \"C.UTF-8\", URL = \"https://x.org/?a=b\" }}\n\
             timeout = \"15m\"\nretry = {{ attempts = 3 }}\n"
        )
    );
    assert_eq!(
        std::fs::metadata(env.task_file()).unwrap().mode() & 0o777,
        0o600
    );
    env.kron(&["check"]).output().success();
}

#[test]
fn one_command_argument_is_a_shell_string_several_are_argv() {
    let env = Env::new();
    env.kron(&[
        "add",
        "a",
        "--schedule",
        "@daily",
        "--",
        "echo $HOME > /tmp/x",
    ])
    .output()
    .success();
    env.kron(&[
        "add",
        "b",
        "--schedule",
        "@daily",
        "--",
        "echo",
        "$HOME",
        "it's",
    ])
    .output()
    .success();
    let text = env.read_task_file().unwrap();
    assert!(
        text.contains("command = \"echo $HOME > /tmp/x\"\n"),
        "{text}"
    );
    assert!(
        text.contains("command = [\"echo\", \"$HOME\", \"it's\"]\n"),
        "{text}"
    );
    let out = env.kron(&["list", "--json"]).output();
    out.success();
    let rows: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(rows[0]["command"], "echo $HOME > /tmp/x");
    assert_eq!(
        rows[1]["command"],
        serde_json::json!(["echo", "$HOME", "it's"])
    );
}

#[test]
fn add_creates_a_private_file() {
    let env = Env::new();
    assert!(env.read_task_file().is_none());
    let out = env
        .kron(&["add", "first", "--schedule", "*/5 * * * *", "--", "true"])
        .output();
    out.success();
    assert_eq!(
        env.read_task_file().unwrap(),
        "[tasks.first]\nschedule = \"*/5 * * * *\"\ncommand = \"true\"\n"
    );
    let file = std::fs::metadata(env.task_file()).unwrap();
    let dir = std::fs::metadata(env.task_file().parent().unwrap()).unwrap();
    assert_eq!((file.mode() & 0o777, dir.mode() & 0o777), (0o600, 0o700));
}

#[test]
fn an_existing_name_is_refused_unless_replace() {
    let env = env_with(TASKS);
    let out = env
        .kron(&["add", "backup", "--schedule", "@daily", "--", "true"])
        .output();
    out.code(2);
    assert!(
        out.stderr().contains("`backup` already exists"),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("--replace"), "{}", out.stderr());
    assert_eq!(env.read_task_file().unwrap(), TASKS);

    let out = env
        .kron(&[
            "add",
            "backup",
            "--replace",
            "--schedule",
            "@daily",
            "--",
            "borg",
            "create",
        ])
        .output();
    out.success();
    assert!(
        out.stdout().starts_with("replaced backup: next run "),
        "{}",
        out.stdout()
    );
    // Changed where it stood, value by value: every comment and the
    // spacing around the values stay, everything else is as it was.
    assert_eq!(
        env.read_task_file().unwrap(),
        TASKS.replace(
            "schedule    = \"30 2 * * *\"\n# inside the task\ncommand = [ \"restic\",\"backup\" ]\n",
            "schedule    = \"@daily\"\n# inside the task\ncommand = [\"borg\", \"create\"]\n"
        )
    );
}

#[test]
fn replace_keeps_what_it_does_not_set() {
    let env = env_with(
        "[tasks.backup]\ndescription = \"nightly\"\nschedule = \"30 2 * * *\"\n\
         timezone = \"Europe/Berlin\"\ncommand = \"old\"\nenv = { LANG = \"C\", TZ = \"UTC\" }\n\
         timeout = \"1h\"   # a long one\nmailto = \"me@example.org\"\n",
    );
    let out = env
        .kron(&[
            "add",
            "backup",
            "--replace",
            "--schedule",
            "@daily",
            "--env",
            "LANG=C.UTF-8",
            "--",
            "new",
        ])
        .output();
    out.success();
    assert_eq!(
        out.stdout().lines().nth(1),
        Some(
            "kept from the old task: description, timezone, env.TZ, timeout, mailto \
             (`kron unset backup KEY` removes one)"
        ),
        "{}",
        out.stdout()
    );
    assert_eq!(
        env.read_task_file().unwrap(),
        "[tasks.backup]\ndescription = \"nightly\"\nschedule = \"@daily\"\n\
         timezone = \"Europe/Berlin\"\ncommand = \"new\"\nenv = { LANG = \"C.UTF-8\", TZ = \"UTC\" }\n\
         timeout = \"1h\"   # a long one\nmailto = \"me@example.org\"\n"
    );
}

#[test]
fn set_and_unset_change_one_key_and_keep_the_rest() {
    let env = env_with(TASKS);
    let out = env
        .kron(&[
            "set",
            "backup",
            "timeout=2h",
            "retry.attempts=3",
            "env.PORT=8080",
            "paused=true",
            "description=\"it's mine\"",
        ])
        .output();
    out.success();
    assert_eq!(
        out.stdout().lines().take(5).collect::<Vec<_>>(),
        [
            "set backup.timeout = \"2h\"",
            "set backup.retry.attempts = 3",
            "set backup.env.PORT = \"8080\"",
            "set backup.paused = true",
            "set backup.description = \"it's mine\"",
        ]
    );
    assert!(
        out.stdout()
            .lines()
            .nth(5)
            .unwrap()
            .starts_with("backup (paused): "),
        "{}",
        out.stdout()
    );
    let changed = TASKS.replace(
        "command = [ \"restic\",\"backup\" ]\n",
        "command = [ \"restic\",\"backup\" ]\ntimeout = \"2h\"\nretry = { attempts = 3 }\n\
         env = { PORT = \"8080\" }\npaused = true\ndescription = \"it's mine\"\n",
    );
    assert_eq!(env.read_task_file().unwrap(), changed);
    let show = env.kron(&["show", "backup", "--json"]).output();
    let json: serde_json::Value = serde_json::from_str(&show.stdout()).unwrap();
    assert_eq!(json["settings"]["timeout"], "2h");
    assert_eq!(json["settings"]["env"]["PORT"], "8080");
    // A value already set changes in place, keeping its comments.
    env.kron(&["set", "backup", "schedule=0 3 * * *"])
        .output()
        .success();
    let changed = changed.replace(
        "schedule    = \"30 2 * * *\"",
        "schedule    = \"0 3 * * *\"",
    );
    assert_eq!(env.read_task_file().unwrap(), changed);

    // Validated as `kron add` validates: an invalid value changes nothing.
    for (assignment, message) in [
        (
            "timeout=90",
            "kron: timeout: expected a duration such as \"90s\", found integer",
        ),
        (
            "timout=1h",
            "kron: timout: unknown key `timout` (did you mean `timeout`?)",
        ),
        (
            "retry.attempts=1000",
            "kron: retry.attempts: 1000 is out of range 0-100",
        ),
        (
            "schedule=61 * * * *",
            "kron: schedule: `61 * * * *`: minute: 61 is out of range",
        ),
        ("noequals", "expected KEY=VALUE"),
    ] {
        let out = env.kron(&["set", "backup", assignment]).output();
        out.code(2);
        assert!(
            out.stderr().contains(message),
            "{assignment}: {}",
            out.stderr()
        );
        assert_eq!(out.stdout(), "");
        assert_eq!(env.read_task_file().unwrap(), changed);
    }
    let out = env.kron(&["set", "bakup", "timeout=1h"]).output();
    out.code(2);
    assert!(
        out.stderr()
            .contains("no task named `bakup`; did you mean `backup`?"),
        "{}",
        out.stderr()
    );

    // Unset takes keys out, and a table left empty with them.
    let out = env
        .kron(&[
            "unset",
            "backup",
            "timeout",
            "retry.attempts",
            "env.PORT",
            "paused",
            "description",
            "jitter",
        ])
        .output();
    out.success();
    assert!(
        out.stdout().contains("unset backup.timeout\n")
            && out
                .stdout()
                .contains("backup.jitter was not set; nothing to unset\n"),
        "{}",
        out.stdout()
    );
    assert_eq!(
        env.read_task_file().unwrap(),
        TASKS.replace(
            "schedule    = \"30 2 * * *\"",
            "schedule    = \"0 3 * * *\""
        )
    );
    for (args, message) in [
        (
            &["unset", "backup", "timout"][..],
            "`timout` is not a task key; did you mean `timeout`?",
        ),
        (
            &["unset", "backup", "command"][..],
            "`command` cannot be unset",
        ),
        (
            &["unset", "backup", "retry.atempts"][..],
            "did you mean `attempts`?",
        ),
    ] {
        let out = env.kron(args).output();
        out.code(2);
        assert!(out.stderr().contains(message), "{args:?}: {}", out.stderr());
    }
}

#[test]
fn invalid_values_change_nothing() {
    let env = env_with(TASKS);
    let before = std::fs::metadata(env.task_file()).unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--schedule", "61 * * * *"],
            "--schedule: `61 * * * *`: minute: 61 is out of range 0-59",
        ),
        (
            &["--schedule", "@daily", "--tz", "Mars/Olympus"],
            "--tz: unknown time zone `Mars/Olympus`",
        ),
        (
            &["--schedule", "@daily", "--timeout", "soon"],
            "--timeout: `soon`",
        ),
        (
            &["--schedule", "@daily", "--retry", "1000"],
            "--retry: 1000 is out of range",
        ),
        (
            &["--schedule", "@daily", "--env", "NOEQUALS"],
            "--env `NOEQUALS`: expected KEY=VALUE",
        ),
        (
            &["--schedule", "@daily", "--workdir", "~bob/x"],
            "--workdir: `~bob/x` must be an absolute path",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec!["add", "new"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "true"]);
        let out = env.kron(&args).output();
        out.code(2);
        assert!(out.stderr().contains(message), "{args:?}: {}", out.stderr());
        assert!(out.stdout().is_empty());
    }
    let out = env
        .kron(&["add", "Bad.Name", "--schedule", "@daily", "--", "true"])
        .output();
    out.code(2);
    assert!(
        out.stderr().contains("invalid task name `Bad.Name`"),
        "{}",
        out.stderr()
    );
    let after = std::fs::metadata(env.task_file()).unwrap();
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    assert_eq!(
        (before.ino(), before.mtime_nsec()),
        (after.ino(), after.mtime_nsec())
    );
}

#[test]
fn argument_mistakes_say_what_to_write() {
    let env = env_with(TASKS);
    let cases: [(&[&str], &str); 4] = [
        (
            &["add", "t", "--schedule", "@daily", "echo", "hi"],
            "tip: put the command after `--`: kron add t --schedule @daily -- echo hi",
        ),
        (
            &[
                "add",
                "t",
                "--schedule",
                "0",
                "9",
                "*",
                "*",
                "*",
                "--",
                "true",
            ],
            "tip: quote the schedule, whose fields are one argument: --schedule '0 9 * * *'",
        ),
        (
            &[
                "add",
                "t",
                "--schedule",
                "@daily",
                "--retry",
                "-1",
                "--",
                "true",
            ],
            "tip: --retry takes how many times to retry a failed run: 0 or more, not `-1`",
        ),
        (
            &["add", "t", "--schedule", "@daily"],
            "tip: put the command after `--`: kron add NAME --schedule EXPR -- COMMAND",
        ),
    ];
    for (args, tip) in cases {
        let out = env.kron(args).output();
        out.code(2);
        let stderr = out.stderr();
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(stderr.contains(tip), "{args:?}: {stderr}");
        // Never clap's tip to write `-- -1`, which makes `-1` the command.
        assert!(!stderr.contains("use '--"), "{args:?}: {stderr}");
        assert!(stderr.contains("Usage: kron add"), "{args:?}: {stderr}");
        assert!(out.stdout().is_empty());
    }
    assert_eq!(env.read_task_file().unwrap(), TASKS);
}

#[test]
fn a_missing_workdir_or_program_is_warned_about_not_refused() {
    let env = Env::new();
    let gone = env.path().join("not-mounted");
    let gone = gone.to_str().unwrap();
    let out = env
        .kron(&[
            "add",
            "backup",
            "--schedule",
            "@daily",
            "--workdir",
            gone,
            "--",
            "resticc",
            "backup",
        ])
        .output();
    out.success();
    assert!(
        out.stdout().starts_with("added backup: next run "),
        "{}",
        out.stdout()
    );
    assert_eq!(
        out.stderr(),
        format!(
            "kron: warning: backup: workdir {gone} does not exist: its runs fail (exit 127) \
             until it does\n\
             kron: warning: backup: `resticc` is not found on the task's PATH \
             (/usr/local/bin:/usr/bin:/bin): its runs fail (exit 127) until it is there \
             (give its full path, or set env.PATH)\n"
        )
    );
    // A shell command: each program it starts, not the builtins.
    let out = env
        .kron(&[
            "add",
            "dump",
            "--schedule",
            "@daily",
            "--",
            "pg_dumpp db | gzip > db.gz; echo ok",
        ])
        .output();
    out.success();
    assert!(
        out.stderr()
            .contains("dump: `pg_dumpp` is not found on the task's PATH")
            && !out.stderr().contains("gzip")
            && !out.stderr().contains("echo"),
        "{}",
        out.stderr()
    );
    let clean = env
        .kron(&["add", "fine", "--schedule", "@daily", "--", "gzip -t x.gz"])
        .output();
    clean.success();
    assert_eq!(clean.stderr(), "");

    // kron check says the same, and the file is still valid.
    let out = env.kron(&["check"]).output();
    out.success();
    assert!(
        out.stdout().ends_with(": ok, 3 task(s)\n"),
        "{}",
        out.stdout()
    );
    assert_eq!(out.stderr().lines().count(), 3, "{}", out.stderr());
    assert!(out.stderr().contains("backup: workdir"), "{}", out.stderr());
    let out = env.kron(&["check", "--json"]).output();
    out.success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["warnings"].as_array().unwrap().len(), 3, "{json}");

    // kron doctor warns (exit 0 if nothing fails).
    let out = env.kron(&["doctor", "--json"]).output();
    let checks: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let commands = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == "commands")
        .unwrap_or_else(|| panic!("{checks}"));
    assert_eq!(commands["status"], "warn");
    let detail = commands["detail"].as_str().unwrap();
    assert!(
        detail.contains("backup: workdir") && detail.contains("`pg_dumpp`"),
        "{detail}"
    );
    // Once the directory is there, only the program is missing.
    std::fs::create_dir(gone).unwrap();
    let out = env.kron(&["check"]).output();
    assert!(!out.stderr().contains("workdir"), "{}", out.stderr());
}

#[test]
fn an_invalid_file_is_not_changed_unless_the_change_repairs_it() {
    let broken = "[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\ntimout = \"1m\"\n\n\
                  [tasks.c]\nschedule = \"@daily\"\ncommand = \"true\"\n";
    let env = env_with(broken);
    let out = env
        .kron(&["add", "b", "--schedule", "@daily", "--", "true"])
        .output();
    out.code(2);
    assert!(
        out.stderr().contains("tasks.a.timout: unknown key"),
        "{}",
        out.stderr()
    );
    env.kron(&["remove", "c"]).output().code(2);
    assert_eq!(env.read_task_file().unwrap(), broken);
    // Removing the broken task is a way to repair the file.
    env.kron(&["remove", "a"]).output().success();
    env.kron(&["check"]).output().success();
}

#[test]
fn fifty_parallel_adds_leave_fifty_tasks() {
    let env = env_with(TASKS);
    let children: Vec<_> = (0..50)
        .map(|i| {
            let name = format!("task-{i:02}");
            env.kron(&["add", &name, "--schedule", "@hourly", "--", "echo", &name])
                .spawn()
        })
        .collect();
    for child in children {
        wait_with_deadline(child, Duration::from_secs(120)).success();
    }
    let text = env.read_task_file().unwrap();
    assert!(text.starts_with(TASKS), "{text}");
    let out = env.kron(&["list", "--json"]).output();
    out.success();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(rows.len(), 52);
    for i in 0..50 {
        let name = format!("task-{i:02}");
        assert!(
            rows.iter().any(|r| r["name"] == name.as_str()),
            "{name} lost"
        );
    }
}

#[test]
fn remove_takes_the_task_and_its_comments_and_nothing_else() {
    let env = env_with(TASKS);
    let out = env.kron(&["remove", "backup"]).output();
    out.success();
    assert_eq!(out.stdout(), "removed backup\n");
    // The comments directly above and below the task went with it; the
    // heading comment, separated by a blank line, stayed.
    assert_eq!(
        env.read_task_file().unwrap(),
        TASKS.replace(
            "# nightly backup\n[tasks.backup]   # on the header\nschedule    = \"30 2 * * *\"\n\
             # inside the task\ncommand = [ \"restic\",\"backup\" ]\n# timeout = \"1h\"\n\n",
            ""
        )
    );
    let out = env.kron(&["rm", "ping"]).output();
    out.success();
    assert_eq!(
        env.read_task_file().unwrap(),
        "# my tasks -- edited by hand, keep my formatting!\n\n# ===== monitoring =====\n\n\
         [defaults]\ntimezone = \"America/New_York\"\t# a tab before this comment\n# the end\n"
    );
}

#[test]
fn add_then_remove_gives_the_file_back_byte_for_byte() {
    let env = env_with(TASKS);
    env.kron(&["add", "tmp", "--schedule", "@daily", "--", "true"])
        .output()
        .success();
    assert_ne!(env.read_task_file().unwrap(), TASKS);
    env.kron(&["remove", "tmp"]).output().success();
    assert_eq!(env.read_task_file().unwrap(), TASKS);
}

#[test]
fn unknown_names_remove_nothing() {
    let env = env_with(TASKS);
    let out = env
        .kron(&["remove", "ping", "nosuch", "backup", "ghost"])
        .output();
    out.code(2);
    assert!(
        out.stderr().contains("no task named `nosuch`, `ghost`"),
        "{}",
        out.stderr()
    );
    assert!(out.stdout().is_empty());
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    // Without a task file, every name is unknown.
    let env = Env::new();
    env.kron(&["remove", "x"]).output().code(2);
    assert!(env.read_task_file().is_none());
}

#[test]
fn a_task_file_others_can_write_is_refused() {
    let env = env_with(TASKS);
    std::fs::set_permissions(env.task_file(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let fix = format!("chmod 600 {}", env.task_file().display());
    for args in [
        &["add", "x", "--schedule", "@daily", "--", "true"][..],
        &["remove", "ping"][..],
    ] {
        let out = env.kron(args).output();
        out.code(2);
        assert!(out.stderr().contains(&fix), "{args:?}: {}", out.stderr());
        assert_eq!(env.read_task_file().unwrap(), TASKS);
    }
}

/// Issue 11, bug 3: `--tz europe/berlin` was stored (and exported) as
/// typed, a spelling `TZ=`, systemd and Kubernetes reject or ignore.
#[test]
fn issue_11_zones_are_stored_in_their_iana_spelling() {
    let env = Env::new();
    env.kron(&[
        "add",
        "b",
        "--schedule",
        "@daily",
        "--tz",
        "europe/berlin",
        "--",
        "true",
    ])
    .output()
    .success();
    let text = env.read_task_file().unwrap();
    assert!(text.contains("timezone = \"Europe/Berlin\""), "{text}");
    env.kron(&["import", "-"])
        .output_with_stdin("CRON_TZ=america/new_YORK\n0 9 * * * backup\n")
        .success();
    let text = env.read_task_file().unwrap();
    assert!(text.contains("timezone = \"America/New_York\""), "{text}");
    assert!(!text.contains("new_YORK"), "{text}");
    // What the file says is what kron checks: no zone warning for either
    // (only that the program `backup` is not on this PATH).
    let out = env.kron(&["check"]).output();
    out.success();
    assert!(!out.stderr().contains("spelled"), "{}", out.stderr());
}

/// Issue 11, bug 5: a schedule that can only fire in the past was added
/// ("no timed runs"); one that can never fire was refused.
#[test]
fn issue_11_add_refuses_a_schedule_that_only_fired_in_the_past() {
    let env = Env::new();
    let out = env
        .kron(&["add", "y", "--schedule", "0 0 9 1 1 ? 2020", "--", "true"])
        .output();
    out.code(2);
    assert!(
        out.stderr().contains(
            "--schedule: `0 0 9 1 1 ? 2020` can only fire in the past: its last instant was \
             2020-01-01T09:00:00+00:00 (UTC)"
        ),
        "{}",
        out.stderr()
    );
    assert_eq!(env.read_task_file(), None);
    // A year still to come is fine.
    env.kron(&[
        "add",
        "y",
        "--schedule",
        "0 0 9 1 1 ? 2020-2199",
        "--",
        "true",
    ])
    .output()
    .success();
}

#[test]
fn a_relative_workdir_is_stored_without_dot_components() {
    let env = Env::new();
    // As the kernel gives the current directory: without symbolic links.
    let dir = std::fs::canonicalize(env.work()).unwrap();
    std::fs::create_dir(dir.join("sub")).unwrap();
    for (name, given, stored) in [
        ("here", ".", dir.clone()),
        ("sub", "./sub/", dir.join("sub")),
        ("up", "sub/..", dir.join("sub/..")),
    ] {
        let mut command = env
            .kron(&[
                "add",
                name,
                "--schedule",
                "@daily",
                "--workdir",
                given,
                "--",
                "true",
            ])
            .into_command();
        let out = command.current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        let line = format!("workdir = {:?}", stored.display().to_string());
        let text = env.read_task_file().unwrap();
        assert!(text.contains(&line), "{given}: {line} in\n{text}");
    }
}

#[test]
fn rm_all_asks_on_a_terminal_and_needs_yes_elsewhere() {
    let env = env_with(TASKS);
    let out = env.kron(&["rm", "--all"]).output();
    out.code(2);
    assert!(
        out.stderr().contains("remove all 2 task(s)") && out.stderr().contains("pass --yes"),
        "{}",
        out.stderr()
    );
    assert_eq!(env.read_task_file().unwrap(), TASKS);
    env.kron(&["rm"]).output().code(2);
    if let Some(run) = env.on_a_terminal("rm --all") {
        let out = run.output_on_a_terminal("n\n");
        out.code(1);
        assert!(
            out.stdout().contains("(backup, ping)? [y/N]"),
            "{}",
            out.stdout()
        );
        assert_eq!(env.read_task_file().unwrap(), TASKS);
        env.on_a_terminal("rm --all")
            .unwrap()
            .output_on_a_terminal("y\n")
            .success();
        assert!(!env.read_task_file().unwrap().contains("[tasks."));
        std::fs::write(env.task_file(), TASKS).unwrap();
    }
    let out = env.kron(&["rm", "--all", "--yes"]).output();
    out.success();
    let backup = env.path().join("config/kron/tasks.toml.bak");
    assert_eq!(
        out.stdout(),
        format!(
            "removed 2 task(s): backup, ping\nthe old file is kept as {}\n",
            backup.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), TASKS);
    let left = env.read_task_file().unwrap();
    assert!(!left.contains("[tasks."), "{left}");
    assert!(
        left.contains("[defaults]\ntimezone = \"America/New_York\""),
        "{left}"
    );
    // Nothing left: nothing to do.
    let again = env.kron(&["rm", "--all", "--yes"]).output();
    again.success();
    assert!(
        again.stdout().starts_with("no tasks in "),
        "{}",
        again.stdout()
    );
}
