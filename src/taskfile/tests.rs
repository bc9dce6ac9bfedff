//! The loader: effective settings, provenance, and diagnostics.

use std::path::Path;
use std::time::Duration;

use super::{
    CatchUp, ClusterMode, DEFAULT_MAX_SKEW, Leftovers, Mail, Overlap, Source, TaskCommand, parse,
};

/// A task that is valid on its own, for tests about other keys.
const TASK: &str = "[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\n";

fn errors(text: &str) -> Vec<String> {
    errors_in("tasks.toml", text)
}

fn errors_in(file: &str, text: &str) -> Vec<String> {
    parse(text, Path::new(file))
        .expect_err("invalid")
        .into_diagnostics()
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
        "tasks.toml:14:2: colour: unknown key `colour`\n  help: known keys here: defaults, tasks, cluster",
    ];
    assert_eq!(got, expected);
}

#[test]
fn a_cluster_table_makes_tasks_once_unless_they_say_otherwise() {
    let text = "[cluster]\nbackend = \"postgres://kron@db/kron\"\nnode = \"web-1\"\nlease = \"20s\"\n\n\
                [tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\n\n\
                [tasks.b]\nschedule = \"@daily\"\ncommand = \"true\"\ncluster = \"local\"\n";
    let file = parse(text, Path::new("tasks.toml")).unwrap();
    let cluster = file.cluster.as_ref().unwrap();
    assert_eq!(cluster.node, "web-1");
    assert_eq!(cluster.lease, Duration::from_secs(20));
    assert_eq!(cluster.max_skew, DEFAULT_MAX_SKEW);
    assert_eq!(file.tasks[0].settings.cluster, ClusterMode::Once);
    assert_eq!(file.tasks[1].settings.cluster, ClusterMode::Local);
    // Without the table, a task runs here alone.
    let alone = parse(
        "[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\n",
        Path::new("t"),
    );
    assert_eq!(alone.unwrap().tasks[0].settings.cluster, ClusterMode::Local);
}

#[test]
fn cluster_mistakes_are_reported_against_their_keys() {
    let got = errors("[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\ncluster = \"once\"\n");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("tasks.toml:4:11: tasks.a.cluster: `cluster` needs a [cluster] table"),
        "{got:?}"
    );
    let got = errors(
        "[cluster]\nbackend = \"postgres://kron@db/kron\"\nlease = \"3s\"\n\n\
         [tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\nkill_grace = \"5s\"\n",
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains(
            "tasks.a.kill_grace: kill_grace 5s is too long for the cluster's lease of 3s"
        ),
        "{got:?}"
    );
    let got = errors("[cluster]\nnode = \"x\"\nleese = \"3s\"\n");
    assert!(
        got.iter().any(|e| e.contains("did you mean `lease`")),
        "{got:?}"
    );
    assert!(
        got.iter()
            .any(|e| e.contains("missing required key `backend`")),
        "{got:?}"
    );
    let got = errors("[cluster]\nbackend = \"mysql://db\"\n");
    assert!(got[0].contains("not a backend kron knows"), "{got:?}");
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

#[test]
fn max_parallel_is_a_positive_number_in_defaults_only() {
    let file = parse(TASK, Path::new("t.toml")).unwrap();
    assert_eq!(file.max_parallel, None);
    let text = format!("[defaults]\nmax_parallel = 4\n\n{TASK}");
    let file = parse(&text, Path::new("t.toml")).unwrap();
    assert_eq!(file.max_parallel.map(|n| n.get()), Some(4));

    for bad in ["0", "-1", "\"4\"", "1.5"] {
        let got = errors_in(
            "t.toml",
            &format!("[defaults]\nmax_parallel = {bad}\n\n{TASK}"),
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(
            got[0].starts_with("t.toml:2:16: defaults.max_parallel: "),
            "{got:?}"
        );
    }
    let got = errors_in("t.toml", &format!("{TASK}max_parallel = 2\n"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0]
            .starts_with("t.toml:4:1: tasks.a.max_parallel: `max_parallel` belongs in [defaults]"),
        "{got:?}"
    );
    let got = errors_in("t.toml", &format!("[defaults]\nmax_paralel = 2\n\n{TASK}"));
    assert!(got[0].contains("did you mean `max_parallel`?"), "{got:?}");
}

#[test]
fn mailto_and_mail_merge_like_other_keys() {
    let file = parse(TASK, Path::new("t.toml")).unwrap();
    let s = &file.tasks[0].settings;
    assert_eq!((s.mailto.as_deref(), s.mail), (None, Mail::Failure));
    let text = format!(
        "[defaults]\nmailto = \" me@example.org, ops@example.org \"\nmail = \"always\"\n\n\
         {TASK}\n[tasks.b]\nschedule = \"@daily\"\ncommand = \"true\"\nmailto = \"\"\nmail = \"never\"\n"
    );
    let file = parse(&text, Path::new("t.toml")).unwrap();
    let a = &file.tasks[0].settings;
    assert_eq!(a.mailto.as_deref(), Some("me@example.org, ops@example.org"));
    assert_eq!(a.mail, Mail::Always);
    let b = &file.tasks[1].settings;
    assert_eq!((b.mailto.as_deref(), b.mail), (Some(""), Mail::Never));
}

#[test]
fn bad_mail_settings_are_reported() {
    let got = errors_in("t.toml", &format!("{TASK}mail = \"failures\"\n"));
    assert_eq!(
        got,
        [
            "t.toml:4:8: tasks.a.mail: `failures` is not one of failure, always, never\n  help: did you mean `failure`?"
        ]
    );
    let got = errors_in(
        "t.toml",
        &format!("{TASK}mailto = \"me@example.org\\nBcc: x@y\"\n"),
    );
    assert_eq!(
        got,
        ["t.toml:4:10: tasks.a.mailto: must not contain control characters such as newlines"]
    );
    let got = errors_in("t.toml", &format!("{TASK}mailto = \"a@b,,c@d\"\n"));
    assert!(
        got[0].contains("`a@b,,c@d` has an empty address"),
        "{got:?}"
    );
    let got = errors_in("t.toml", &format!("{TASK}mailto = 3\n"));
    assert!(
        got[0].contains("expected a string, found integer"),
        "{got:?}"
    );
}

#[test]
fn metrics_file_is_a_path_in_defaults_only() {
    let text = format!("[defaults]\nmetrics_file = \"/var/lib/node/kron.prom\"\n\n{TASK}");
    let file = parse(&text, Path::new("t.toml")).unwrap();
    assert_eq!(
        file.tasks[0].settings.metrics_file.as_deref(),
        Some(Path::new("/var/lib/node/kron.prom"))
    );
    assert_eq!(
        file.tasks[0].source(&file.defaults, "metrics_file"),
        crate::taskfile::Source::Defaults
    );
    let text = format!("[defaults]\nmetrics_file = \"~/kron.prom\"\n\n{TASK}");
    let file = parse(&text, Path::new("t.toml")).unwrap();
    assert!(
        file.tasks[0]
            .settings
            .metrics_file
            .as_ref()
            .unwrap()
            .is_absolute()
    );

    let got = errors_in(
        "t.toml",
        &format!("[defaults]\nmetrics_file = \"kron.prom\"\n\n{TASK}"),
    );
    assert_eq!(
        got,
        [
            "t.toml:2:16: defaults.metrics_file: `kron.prom` must be an absolute path or start with ~/"
        ]
    );
    let got = errors_in("t.toml", &format!("{TASK}metrics_file = \"/tmp/k.prom\"\n"));
    assert!(
        got[0]
            .starts_with("t.toml:4:1: tasks.a.metrics_file: `metrics_file` belongs in [defaults]"),
        "{got:?}"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_named_by_line_and_column() {
    let path = Path::new("t.toml");
    let diagnostics = |bytes: &[u8]| -> Vec<String> {
        super::decode(bytes, path)
            .expect_err("not UTF-8")
            .into_diagnostics()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    // Inside a string, after a character of two bytes: columns count characters.
    let mut bytes = TASK.replace("true", "é \u{0}").into_bytes();
    let nul = bytes.iter().position(|&b| b == 0).unwrap();
    bytes[nul] = 0xff;
    let got = diagnostics(&bytes);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("t.toml:3:14: invalid UTF-8 (byte 0xff)\n  help: task files are UTF-8"),
        "{got:?}"
    );
    // In a comment, a Latin-1 "é" (0xe9) starting what is not a sequence;
    // the later lines that are not UTF-8 either are counted.
    let text =
        b"[tasks.a] # caf\xe9\nschedule = \"@daily\" # \xe9\ncommand = \"true\" # \xe9\xe9\n";
    let got = diagnostics(text);
    assert!(
        got[0].starts_with("t.toml:1:16: invalid UTF-8 (byte 0xe9)"),
        "{got:?}"
    );
    assert!(
        got[0].ends_with("; 2 more line(s) are not UTF-8 either"),
        "{got:?}"
    );
    // A sequence cut short at the end of the file.
    let got = diagnostics(b"# \xe2\x82");
    assert!(
        got[0].starts_with("t.toml:1:3: invalid UTF-8 (byte 0xe2)"),
        "{got:?}"
    );
    assert_eq!(super::decode(TASK.as_bytes(), path).unwrap(), TASK);
}

#[test]
fn load_refuses_a_file_that_is_not_utf8_as_invalid() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tasks.toml");
    std::fs::write(
        &file,
        b"[tasks.a]\nschedule = \"@daily\"\n# \xff\ncommand = \"true\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    match super::load(&file) {
        Err(super::load::LoadError::Invalid { diagnostics, .. }) => {
            assert_eq!((diagnostics[0].line, diagnostics[0].column), (3, 3));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn leftovers_default_to_keep_and_merge_like_other_keys() {
    let file = parse(TASK, Path::new("t.toml")).unwrap();
    assert_eq!(file.tasks[0].settings.leftovers, Leftovers::Keep);
    let text = format!(
        "[defaults]\nleftovers = \"kill\"\n\n{TASK}\n[tasks.b]\nschedule = \"@daily\"\n\
         command = \"true\"\nleftovers = \"keep\"\n"
    );
    let file = parse(&text, Path::new("t.toml")).unwrap();
    let (a, b) = (&file.tasks[0], &file.tasks[1]);
    assert_eq!(a.settings.leftovers, Leftovers::Kill);
    assert_eq!(a.source(&file.defaults, "leftovers"), Source::Defaults);
    assert_eq!(b.settings.leftovers, Leftovers::Keep);
    assert_eq!(b.source(&file.defaults, "leftovers"), Source::Task);
    let got = errors_in("t.toml", &format!("{TASK}leftovers = \"kil\"\n"));
    assert_eq!(
        got,
        [
            "t.toml:4:13: tasks.a.leftovers: `kil` is not one of keep, kill\n  help: did you mean `kill`?"
        ]
    );
}

#[test]
fn nice_ioclass_and_limits_merge_key_by_key_with_provenance() {
    let text = format!(
        "[defaults]\nnice = 10\nlimits = {{ memory = \"2GiB\", files = 1024 }}\n\n{TASK}\
         ioclass = \"idle\"\nlimits.cpu = \"10m\"\nlimits.files = 64\n"
    );
    let file = parse(&text, Path::new("t.toml")).unwrap();
    let task = &file.tasks[0];
    let s = &task.settings;
    assert_eq!(s.nice, Some(10));
    assert_eq!(s.ioclass, Some(super::IoClass::Idle));
    assert_eq!(s.limits.cpu, Some(Duration::from_secs(600)));
    assert_eq!(s.limits.memory, Some(2 << 30));
    assert_eq!(s.limits.files, Some(64));
    for (key, source) in [
        ("nice", Source::Defaults),
        ("ioclass", Source::Task),
        ("limits.cpu", Source::Task),
        ("limits.memory", Source::Defaults),
        ("limits.files", Source::Task),
    ] {
        assert_eq!(task.source(&file.defaults, key), source, "{key}");
    }
    let none = parse(TASK, Path::new("t.toml")).unwrap();
    let s = &none.tasks[0].settings;
    assert_eq!((s.nice, s.ioclass), (None, None));
    assert!(s.limits.is_empty());
}

#[test]
fn bad_nice_ioclass_and_limits_are_reported() {
    let text = format!(
        "{TASK}nice = -5\nioclass = \"realtime\"\n\
         limits = {{ cpu = \"0s\", memory = \"lots\", files = 0, stack = 1 }}\n"
    );
    assert_eq!(
        errors(&text),
        [
            "tasks.toml:4:8: tasks.a.nice: -5 is out of range 0-19\n  help: a priority above \
             normal (a negative nice) is for root; 0 is normal, 19 the lowest",
            "tasks.toml:5:11: tasks.a.ioclass: `realtime` is not one of idle, best-effort",
            "tasks.toml:6:18: tasks.a.limits.cpu: must be above zero",
            "tasks.toml:6:33: tasks.a.limits.memory: `lots` is not a size such as 512KiB, 10MB or 1GiB",
            "tasks.toml:6:49: tasks.a.limits.files: expected a whole number from 1 up, found 0",
            "tasks.toml:6:52: tasks.a.limits.stack: unknown key `stack`\n  help: known keys here: \
             cpu, memory, files",
        ]
    );
    assert_eq!(
        errors(&format!("{TASK}limits = 3\nnice = \"low\"\n")),
        [
            "tasks.toml:4:10: tasks.a.limits: expected a table such as limits = { cpu = \"10m\", \
             memory = \"2GiB\", files = 1024 }",
            "tasks.toml:5:8: tasks.a.nice: expected a whole number from 0 to 19, found string",
        ]
    );
}

#[test]
fn a_password_in_the_address_is_found() {
    assert!(super::address_has_password(
        "postgres://kron:secret@db/kron"
    ));
    assert!(super::address_has_password("postgres://db/kron?password=x"));
    assert!(super::address_has_password(
        "host=db password=x dbname=kron"
    ));
    assert!(!super::address_has_password(
        "postgres://kron@db.internal/kron"
    ));
    assert!(!super::address_has_password(
        "postgres://kron@[::1]:5432/kron"
    ));
    assert!(!super::address_has_password("host=/tmp/x user=kron"));
    // Redis: a password after a user or alone, or in a socket's query.
    assert!(super::address_has_password("redis://:secret@cache:6379/0"));
    assert!(super::address_has_password(
        "rediss://kron:secret@cache:6380/0"
    ));
    assert!(super::address_has_password(
        "redis+unix:///run/redis.sock?db=1&pass=secret"
    ));
    assert!(!super::address_has_password(
        "redis://cache.internal:6379/0"
    ));
    assert!(!super::address_has_password("unix:///run/redis/redis.sock"));
}

#[test]
fn only_known_backends_are_accepted() {
    assert!(super::check_address("postgres://kron@db/kron").is_ok());
    assert!(super::check_address("host=/run/postgresql dbname=kron").is_ok());
    assert!(super::check_address("redis://cache:6379/0").is_ok());
    assert!(super::check_address("rediss://cache:6380/0").is_ok());
    assert!(super::check_address("redis+unix:///run/redis.sock?db=2").is_ok());
    assert!(super::check_address("unix:///run/redis.sock").is_ok());
    assert!(super::check_address("mysql://db/kron").is_err());
    assert!(super::check_address("db.internal").is_err());
}
