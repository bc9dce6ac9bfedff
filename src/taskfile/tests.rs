//! The loader: effective settings, provenance, and diagnostics.

use std::path::Path;
use std::time::Duration;

use super::{CatchUp, Overlap, Source, TaskCommand, parse};

fn errors(text: &str) -> Vec<String> {
    parse(text, Path::new("tasks.toml"))
        .expect_err("invalid")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn defaults_merge_under_tasks_with_provenance() {
    let text = r#"
[defaults]
timezone = "Europe/Berlin"
timeout = "1h"
env = { LANG = "C", PATH = "/usr/bin" }
retry = { attempts = 2, backoff = "30s" }

[tasks.backup]
description = "nightly backup"
schedule = "30 2 * * *"
command = ["restic", "backup", "/home"]
timeout = "2h"
env = { PATH = "/opt/bin" }
retry.factor = 3

[tasks.ping]
schedule = "*/5 * * * *"
command = "ping -c1 example.org"
timezone = "UTC"
overlap = "queue"
catch_up = "all"
log = { max_size = "512KiB", keep = 2 }
"#;
    let file = parse(text, Path::new("tasks.toml")).unwrap();
    assert_eq!(
        file.tasks
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["backup", "ping"]
    );
    let backup = file.task("backup").unwrap();
    assert_eq!(
        backup.command,
        TaskCommand::Argv(vec!["restic".into(), "backup".into(), "/home".into()])
    );
    assert_eq!(backup.description.as_deref(), Some("nightly backup"));
    assert_eq!(backup.line, 8);
    let s = &backup.settings;
    assert_eq!(s.timezone.name(), "Europe/Berlin");
    assert_eq!(s.timeout, Some(Duration::from_secs(7200)));
    assert_eq!(s.env["LANG"], "C");
    assert_eq!(s.env["PATH"], "/opt/bin");
    assert_eq!(
        (s.retry.attempts, s.retry.backoff, s.retry.factor),
        (2, Duration::from_secs(30), 3.0)
    );
    assert_eq!(s.lock, "backup");
    assert_eq!(s.shell, "/bin/sh");
    assert_eq!(backup.source(&file.defaults, "timeout"), Source::Task);
    assert_eq!(
        backup.source(&file.defaults, "retry.attempts"),
        Source::Defaults
    );
    assert_eq!(backup.source(&file.defaults, "retry.factor"), Source::Task);
    assert_eq!(backup.source(&file.defaults, "env.LANG"), Source::Defaults);
    assert_eq!(backup.source(&file.defaults, "env.PATH"), Source::Task);
    assert_eq!(backup.source(&file.defaults, "shell"), Source::Builtin);

    let ping = file.task("ping").unwrap();
    assert_eq!(ping.settings.timezone.name(), "UTC");
    assert_eq!(ping.settings.overlap, Overlap::Queue);
    assert_eq!(ping.settings.catch_up, CatchUp::All);
    assert_eq!(
        (ping.settings.log.max_size, ping.settings.log.keep),
        (512 * 1024, 2)
    );
    assert_eq!(
        ping.command,
        TaskCommand::Shell("ping -c1 example.org".into())
    );
}

#[test]
fn unknown_keys_get_a_suggestion_with_line_and_key_path() {
    let text = "[tasks.backup]\nschedule = \"@daily\"\ncommand = \"true\"\ntimout = \"1h\"\n";
    assert_eq!(
        errors(text),
        [
            "tasks.toml:4:1: tasks.backup.timout: unknown key `timout`\n  help: did you mean `timeout`?"
        ]
    );
}

#[test]
fn every_error_is_reported_at_once_in_file_order() {
    let text = r#"[defaults]
schedule = "@daily"
overlap = "skipp"

[tasks.backup]
schedule = "61 * * * *"
command = "true"
retry = { attempts = "three", backof = "1m" }
timeout = 90

[tasks.Bad_Name]
command = []

[colour]
"#;
    let got = errors(text);
    let expected = [
        "tasks.toml:2:1: defaults.schedule: `schedule` belongs in a task, not in [defaults]",
        "tasks.toml:3:11: defaults.overlap: `skipp` is not one of skip, queue, replace, allow\n  help: did you mean `skip`?",
        "tasks.toml:6:12: tasks.backup.schedule: `61 * * * *`: minute: 61 is out of range 0-59",
        "tasks.toml:8:22: tasks.backup.retry.attempts: expected a whole number, found string",
        "tasks.toml:8:31: tasks.backup.retry.backof: unknown key `backof`\n  help: did you mean `backoff`?",
        "tasks.toml:9:11: tasks.backup.timeout: expected a duration such as \"90s\", found integer\n  help: write durations with a unit: \"90s\"",
        "tasks.toml:11:8: tasks.Bad_Name: invalid task name `Bad_Name`\n  help: names are 1-64 of a-z, 0-9, _ and -",
        "tasks.toml:11:8: tasks.Bad_Name: missing required key `schedule`\n  help: schedule = \"*/15 * * * *\"",
        "tasks.toml:12:11: tasks.Bad_Name.command: the command array must start with a program",
        "tasks.toml:14:2: colour: unknown key `colour`\n  help: known keys here: defaults, tasks",
    ];
    assert_eq!(got, expected);
}

#[test]
fn zones_are_checked_and_used() {
    let got =
        errors("[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\ntimezone = \"Mars/Base\"\n");
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("tasks.toml:4:12: tasks.a.timezone: unknown time zone `Mars/Base`"),
        "{got:?}"
    );
}

#[test]
fn syntax_errors_have_a_position() {
    let got = errors("[tasks.a]\nschedule = \"@daily\ncommand = \"true\"\n");
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("tasks.toml:2:"), "{got:?}");
    assert!(got[0].contains("invalid TOML"), "{got:?}");
}

#[test]
fn workdir_expands_home() {
    let file = parse(
        "[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\nworkdir = \"~/src\"\n",
        Path::new("t"),
    )
    .unwrap();
    let workdir = file.tasks[0].settings.workdir.clone().unwrap();
    assert!(
        workdir.is_absolute() && workdir.ends_with("src"),
        "{workdir:?}"
    );
    assert!(
        errors("[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\nworkdir = \"src\"\n")[0]
            .contains("absolute")
    );
}

#[test]
fn an_empty_file_has_no_tasks() {
    let file = parse("# nothing yet\n", Path::new("t")).unwrap();
    assert!(file.tasks.is_empty());
}
