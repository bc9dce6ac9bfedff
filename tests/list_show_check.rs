//! `kron list`, `kron show`, `kron check` and `kron next TASK` on real task files.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::util::{Env, task};

const TASKS: &str = r#"# my tasks
[defaults]
timezone = "America/New_York"
retry = { attempts = 2 }

[tasks.backup]
description = "nightly backup"
schedule = "30 2 * * *"
command = ["restic", "backup", "/home"]
timeout = "2h"

[tasks.ping]
schedule = "*/15 9-17 * * mon-fri"
command = "ping -c1 example.org"
timezone = "UTC"
paused = true
"#;

fn env_with_tasks(text: &str) -> Env {
    let env = Env::new();
    let dir = env.path().join("config/kron");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tasks.toml");
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    env
}

#[test]
fn list_shows_one_row_per_task() {
    let env = env_with_tasks(TASKS);
    let out = env.kron(&["list"]).env("COLUMNS", "200").output();
    out.success();
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    // The rows, and the footnote to backup's daylight-saving mark.
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[3].starts_with("(dst): "), "{stdout}");
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("NEXT"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("backup (dst)")
            && lines[1].contains("at 02:30")
            && lines[1].contains(" in "),
        "{stdout}"
    );
    assert!(
        lines[1].contains("-05:00") || lines[1].contains("-04:00"),
        "{stdout}"
    );
    assert!(
        lines[2].starts_with("ping") && lines[2].contains("paused"),
        "{stdout}"
    );
    // The alias; through a pipe nothing is cut, whatever COLUMNS says.
    let out = env.kron(&["ls"]).env("COLUMNS", "60").output();
    out.success();
    assert!(
        out.stdout()
            .contains("every 15 minutes, 09:00-17:59, Monday to Friday"),
        "{}",
        out.stdout()
    );
}

/// A task file whose commands are longer than a terminal.
const LONG: &str = r#"
[tasks.backup]
schedule = "30 2 * * *"
command = ["restic", "backup", "/home", "--exclude-caches", "--one-file-system", "--tag", "nightly"]

[tasks.ping]
schedule = "*/15 9-17 * * mon-fri"
command = "ping -c1 example.org > /dev/null && curl -fsS https://hc-ping.com/0123456789abcdef"
"#;

/// `kron list` on a terminal COLUMNS wide (`script`'s terminal has no
/// size, so kron falls back to COLUMNS): its lines, or `None` if skipped.
fn list_on_a_terminal(env: &Env, columns: &str) -> Option<Vec<String>> {
    let out = env
        .on_a_terminal("list")?
        .env("COLUMNS", columns)
        .output_on_a_terminal("");
    out.success();
    Some(
        out.stdout()
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect(),
    )
}

fn headers(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[test]
fn list_fits_the_terminal_by_leaving_columns_out_and_never_cuts_a_pipe() {
    let env = env_with_tasks(LONG);
    let Some(narrow) = list_on_a_terminal(&env, "80") else {
        return;
    };
    // 80 columns: name, next run, last outcome and as much of the command as fits.
    assert_eq!(
        headers(&narrow[0]),
        ["NAME", "NEXT", "LAST", "COMMAND"],
        "{narrow:#?}"
    );
    assert!(
        narrow.iter().all(|l| l.chars().count() <= 80),
        "{narrow:#?}"
    );
    assert!(narrow[1].starts_with("backup "), "{narrow:#?}");
    assert!(
        narrow[1].contains(" in ") && narrow[1].contains("  -  "),
        "{narrow:#?}"
    );
    assert!(
        narrow[1].contains("restic backup /home --exclude-caches"),
        "{narrow:#?}"
    );
    assert!(narrow[1].ends_with('…'), "{narrow:#?}");
    assert!(narrow[2].contains("ping -c1 example.org"), "{narrow:#?}");
    // Wider: the schedule, then what it means and the next run's wall time.
    let middle = list_on_a_terminal(&env, "110").unwrap();
    assert_eq!(
        headers(&middle[0]),
        ["NAME", "SCHEDULE", "NEXT", "LAST", "COMMAND"],
        "{middle:#?}"
    );
    let wide = list_on_a_terminal(&env, "250").unwrap();
    assert_eq!(
        headers(&wide[0]),
        ["NAME", "SCHEDULE", "MEANS", "NEXT", "AT", "LAST", "COMMAND"],
        "{wide:#?}"
    );
    assert!(
        wide[1].ends_with("--one-file-system --tag nightly"),
        "{wide:#?}"
    );
    // A pipe: every column, nothing cut.
    let out = env.kron(&["list"]).output();
    out.success();
    let piped = out.stdout();
    let lines: Vec<&str> = piped.lines().collect();
    assert_eq!(headers(lines[0]), headers(&wide[0]), "{piped}");
    assert!(
        lines[2].contains("every 15 minutes, 09:00-17:59, Monday to Friday")
            && lines[2].ends_with("curl -fsS https://hc-ping.com/0123456789abcdef"),
        "{piped}"
    );
    assert!(!piped.contains('…'), "{piped}");
}

#[test]
fn a_failed_last_outcome_is_red_where_colour_is_on() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}{}",
        crate::util::task("good", "true", &dir, ""),
        crate::util::task("bad", "exit 4", &dir, "")
    ));
    env.kron(&["run", "good"]).output().success();
    env.kron(&["run", "bad"]).output().code(4);
    for verb in ["list", "history"] {
        let out = env.kron(&[verb, "--color", "always"]).output();
        out.success();
        let text = out.stdout();
        assert!(text.contains("\x1b[31mfailure"), "{verb}: {text:?}");
        assert!(!text.contains("\x1b[31msuccess"), "{verb}: {text:?}");
        // Without colour, none.
        let plain = env.kron(&[verb]).output().stdout();
        assert!(!plain.contains('\x1b'), "{verb}: {plain:?}");
    }
}

#[test]
fn list_json_for_scripts() {
    let env = env_with_tasks(TASKS);
    let out = env.kron(&["list", "--json"]).output();
    out.success();
    let rows: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(rows[0]["name"], "backup");
    assert_eq!(rows[0]["timezone"], "America/New_York");
    assert_eq!(
        rows[0]["command"],
        serde_json::json!(["restic", "backup", "/home"])
    );
    assert!(rows[0]["next"].as_str().unwrap().ends_with(":00"));
    assert_eq!(rows[1]["paused"], true);
}

#[test]
fn list_without_a_task_file() {
    let env = Env::new();
    let out = env.kron(&["list"]).output();
    out.success();
    assert!(out.stdout().contains("no tasks"), "{}", out.stdout());
}

#[test]
fn show_labels_the_system_zone_as_the_systems() {
    let env = env_with_tasks("[tasks.t]\nschedule = \"@daily\"\ncommand = \"true\"\n");
    for tz in ["UTC", "Europe/Berlin"] {
        let out = env.kron(&["show", "t"]).env("TZ", tz).output();
        out.success();
        let stdout = out.stdout();
        let line = stdout
            .lines()
            .find(|l| l.trim_start().starts_with("timezone"))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(line.ends_with(&format!(" {tz}  [system]")), "{stdout}");
        assert!(stdout.contains("/bin/sh  [built-in]"), "{stdout}");
    }
}

#[test]
fn show_marks_where_settings_come_from() {
    let env = env_with_tasks(TASKS);
    let out = env.kron(&["show", "backup"]).output();
    out.success();
    let stdout = out.stdout();
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("{key}: {stdout}"))
            .to_string()
    };
    assert!(
        line("timezone").ends_with("America/New_York  [defaults]"),
        "{stdout}"
    );
    assert!(
        line("retry.attempts").ends_with("2  [defaults]"),
        "{stdout}"
    );
    assert!(line("timeout").ends_with("2h"), "{stdout}");
    assert!(line("shell").ends_with("/bin/sh  [built-in]"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .skip_while(|l| *l != "next runs:")
            .take_while(|l| !l.starts_with("last run: "))
            .count(),
        6,
        "{stdout}"
    );

    let out = env.kron(&["show", "backup", "--json"]).output();
    out.success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(json["sources"]["timezone"], "defaults");
    assert_eq!(json["sources"]["timeout"], "task");
    assert_eq!(json["sources"]["overlap"], "builtin");
    assert_eq!(json["settings"]["retry"]["attempts"], 2);
    assert_eq!(json["next"].as_array().unwrap().len(), 5);

    let out = env.kron(&["show", "nope"]).output();
    out.code(2);
    assert!(
        out.stderr().contains("no task named `nope`"),
        "{}",
        out.stderr()
    );
}

#[test]
fn next_task_uses_the_task_zone() {
    let env = env_with_tasks(TASKS);
    let out = env
        .kron(&[
            "next",
            "backup",
            "--after",
            "2026-03-07T12:00:00Z",
            "-n",
            "2",
            "--json",
        ])
        .output();
    out.success();
    assert_eq!(
        out.stdout().trim(),
        r#"["2026-03-08T03:00:00-04:00","2026-03-09T02:30:00-04:00"]"#
    );
    env.kron(&["next", "nope"]).output().code(2);
    env.kron(&["next", "backup", "--tz", "UTC"])
        .output()
        .code(2);
}

#[test]
fn check_reports_every_error_and_exits_2() {
    let env = env_with_tasks(TASKS);
    let out = env.kron(&["check"]).output();
    out.success();
    let bad = env.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[tasks.a]\nschedule = \"61 * * * *\"\ncommand = \"true\"\ntimout = \"1h\"\n",
    )
    .unwrap();
    let out = env.kron(&["check", bad.to_str().unwrap()]).output();
    out.code(2);
    assert_eq!(out.stdout(), "");
    let stderr = out.stderr();
    assert!(
        stderr.contains(
            "bad.toml:2:12: tasks.a.schedule: `61 * * * *`: minute: 61 is out of range 0-59"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.toml:4:1: tasks.a.timout: unknown key `timout`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `timeout`?"), "{stderr}");
}

#[test]
fn check_json_gives_the_diagnostics_to_editors() {
    let env = env_with_tasks(TASKS);
    let out = env.kron(&["check", "--json"]).output();
    out.success();
    let ok: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(
        (ok["valid"].as_bool(), ok["tasks"].as_u64()),
        (Some(true), Some(2))
    );
    assert_eq!(ok["diagnostics"], serde_json::json!([]));
    let bad = env.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\ntimout = \"1h\"\n",
    )
    .unwrap();
    let out = env
        .kron(&["check", "--json", bad.to_str().unwrap()])
        .output();
    out.code(2);
    assert_eq!(out.stderr(), "");
    let report: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["diagnostics"],
        serde_json::json!([{
            "file": bad, "line": 4, "column": 1, "key_path": "tasks.a.timout",
            "message": "unknown key `timout`", "help": "did you mean `timeout`?"
        }])
    );
}

#[test]
fn a_task_file_others_can_write_is_refused() {
    let env = env_with_tasks(TASKS);
    let file = env.path().join("config/kron/tasks.toml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    for verb in [&["list"][..], &["check"], &["show", "backup"]] {
        let out = env.kron(verb).output();
        out.code(2);
        assert!(
            out.stderr()
                .contains(&format!("chmod 600 {}", file.display())),
            "{}",
            out.stderr()
        );
    }
}

#[test]
fn kron_file_and_file_flag_choose_the_file() {
    let env = env_with_tasks(TASKS);
    let other = env.path().join("other.toml");
    std::fs::write(
        &other,
        "[tasks.solo]\nschedule = \"@daily\"\ncommand = \"true\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
    let names = |out: &crate::util::Outcome| -> Vec<String> {
        let rows: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    let out = env
        .kron(&["list", "--json"])
        .env("KRON_FILE", &other)
        .output();
    assert_eq!(names(out.success()), ["solo"]);
    let out = env
        .kron(&["--file", other.to_str().unwrap(), "list", "--json"])
        .output();
    assert_eq!(names(out.success()), ["solo"]);
    let out = env.kron(&["list", "--json"]).output();
    assert_eq!(names(out.success()), ["backup", "ping"]);
}

/// A task file whose line 3 holds a byte that is not UTF-8 (0xff), inside
/// a string (`in_string`) or inside a comment.
fn not_utf8_on_line_3(in_string: bool) -> Vec<u8> {
    let line3: &[u8] = if in_string {
        b"command = \"echo caf\xff\"\n"
    } else {
        b"command = \"true\" # caf\xff\n"
    };
    [&b"[tasks.a]\nschedule = \"@daily\"\n"[..], line3].concat()
}

#[test]
fn a_task_file_that_is_not_utf8_is_invalid_with_line_and_column() {
    for (in_string, column) in [(true, 20), (false, 23)] {
        let env = Env::new();
        env.write_task_file("");
        std::fs::write(env.task_file(), not_utf8_on_line_3(in_string)).unwrap();
        let shown = format!("tasks.toml:3:{column}: invalid UTF-8 (byte 0xff)");
        for verb in [&["check"][..], &["list"], &["show", "a"], &["next", "a"]] {
            let out = env.kron(verb).output();
            out.code(2);
            assert!(out.stderr().contains(&shown), "{verb:?}: {}", out.stderr());
            assert!(out.stdout().is_empty(), "{verb:?}: {}", out.stdout());
        }
        // Verbs that change the file refuse it the same way, and change nothing.
        let before = std::fs::read(env.task_file()).unwrap();
        let add = ["add", "b", "--schedule", "@daily", "--", "true"];
        for verb in [&add[..], &["remove", "a"], &["pause", "a"]] {
            let out = env.kron(verb).output();
            out.code(2);
            assert!(out.stderr().contains(&shown), "{verb:?}: {}", out.stderr());
        }
        assert_eq!(std::fs::read(env.task_file()).unwrap(), before);
        // For editors: the diagnostic as JSON.
        let out = env.kron(&["check", "--json"]).output();
        out.code(2);
        let report: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
        assert_eq!(report["valid"], false);
        let d = &report["diagnostics"][0];
        assert_eq!(
            (d["line"].as_u64(), d["column"].as_u64()),
            (Some(3), Some(column))
        );
        assert_eq!(d["message"], "invalid UTF-8 (byte 0xff)");
    }
}

/// Issue 11, bug 3: a hand-edited zone in another case works, and `kron
/// check` names its IANA spelling (a warning: exit 0).
#[test]
fn issue_11_check_names_the_iana_spelling_of_a_zone() {
    let env = env_with_tasks(
        "[defaults]\ntimezone = \"europe/berlin\"\n\n[tasks.a]\nschedule = \"@daily\"\n\
         timezone = \"utc\"\ncommand = \"true\"\n",
    );
    let out = env.kron(&["check"]).output();
    out.success();
    let stderr = out.stderr();
    assert!(
        stderr.contains(":2:12: defaults.timezone: `europe/berlin` is spelled `Europe/Berlin`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("write timezone = \"Europe/Berlin\""),
        "{stderr}"
    );
    assert!(
        stderr.contains("tasks.a.timezone: `utc` is spelled `UTC`"),
        "{stderr}"
    );
    let out = env.kron(&["check", "--json"]).output();
    out.success();
    let json: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(json["valid"], true);
    assert_eq!(json["warnings"][0]["key_path"], "defaults.timezone");
    // What kron shows and exports is the IANA spelling.
    let show = env.kron(&["show", "a", "--json"]).output();
    show.success();
    assert!(show.stdout().contains("\"UTC\""), "{}", show.stdout());
}

/// Issue 11, bug 5: `kron check` refuses a schedule that can only fire in
/// the past, naming its last instant, while `kron next --expr` lists no
/// instants for it (schedules.md: it ran out, exit 0).
#[test]
fn issue_11_check_refuses_a_schedule_that_ran_out() {
    let env = env_with_tasks(
        "[tasks.y]\nschedule = \"0 0 9 1 1 ? 2020\"\ntimezone = \"Europe/Berlin\"\n\
         command = \"true\"\n",
    );
    let out = env.kron(&["check"]).output();
    out.code(2);
    assert!(
        out.stderr().contains(
            ":2:12: tasks.y.schedule: `0 0 9 1 1 ? 2020` can only fire in the past: its last \
             instant was 2020-01-01T09:00:00+01:00 (Europe/Berlin)"
        ),
        "{}",
        out.stderr()
    );
    let out = env.kron(&["check", "--json"]).output();
    out.code(2);
    let json: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(json["valid"], false);
    assert_eq!(json["diagnostics"][0]["key_path"], "tasks.y.schedule");
    let out = env
        .kron(&["next", "--expr", "0 0 9 1 1 ? 2020", "--json"])
        .output();
    out.success();
    assert_eq!(out.stdout().trim(), "[]");
}

/// Every verb that takes a task name answers a name no task has the same
/// way, exit 2 with the closest name, while what a removed task's runs left
/// stays reachable.
#[test]
fn unknown_names_get_one_answer_from_every_verb() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}{}",
        task("good", "echo good", &dir, ""),
        task("old", "echo old output", &dir, "")
    ));
    env.kron(&["run", "old"]).output().success();
    env.kron(&["remove", "old"]).output().success();
    let verbs: [&[&str]; 12] = [
        &["show", "goo"],
        &["run", "goo"],
        &["next", "goo"],
        &["logs", "goo"],
        &["history", "goo"],
        &["stats", "goo"],
        &["kill", "goo"],
        &["remove", "goo"],
        &["pause", "goo"],
        &["resume", "goo"],
        &["history", "goo", "--json"],
        &["logs", "goo", "-f"],
    ];
    for args in verbs {
        let out = env.kron(args).output();
        out.code(2);
        assert_eq!(out.stdout(), "", "{args:?}");
        let stderr = out.stderr();
        assert!(
            stderr.starts_with("kron: no task named `goo`; did you mean `good`?"),
            "{args:?}: {stderr}"
        );
    }
    // Without a close name, the message names the file.
    let out = env.kron(&["history", "zzzzzz"]).output();
    out.code(2);
    assert!(
        out.stderr().contains(&format!(
            "no task named `zzzzzz` in {}",
            env.task_file().display()
        )),
        "{}",
        out.stderr()
    );
    // A removed task's history, stats and log are still shown, saying so.
    let removed = format!(
        "kron: task `old` was removed from {}",
        env.task_file().display()
    );
    for (args, shown) in [
        (&["history", "old"][..], "manual   success"),
        (&["stats", "old"][..], "old: 1 run(s) since"),
        (&["logs", "old"][..], "old output"),
    ] {
        let out = env.kron(args).output();
        out.success();
        assert!(out.stdout().contains(shown), "{args:?}: {}", out.stdout());
        assert!(
            out.stderr().starts_with(&removed),
            "{args:?}: {}",
            out.stderr()
        );
    }
    // A known task with nothing to show keeps its own answer.
    let out = env.kron(&["kill", "good"]).output();
    out.code(1);
    assert!(
        out.stderr().contains("`good` is not running"),
        "{}",
        out.stderr()
    );
    let out = env.kron(&["history", "good"]).output();
    out.success();
    assert_eq!(out.stdout(), "no runs recorded\n");
}

/// As `systemctl status` does: the last run and the end of its output.
#[test]
fn show_tells_the_last_run_and_the_end_of_its_output() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "for i in $(seq 1 15); do echo line $i; done; printf 'bell\\a\\n'; exit 3",
        &dir,
        "nice = 5\nlimits = { memory = \"1GiB\" }",
    ));
    let out = env.kron(&["show", "t"]).output();
    out.success();
    assert!(
        out.stdout().ends_with("\nlast run: none yet\n"),
        "{}",
        out.stdout()
    );
    // The new keys are shown with their source.
    assert!(
        out.stdout().contains("\n  nice               5\n")
            && out
                .stdout()
                .contains("\n  ioclass            -  [built-in]\n")
            && out.stdout().contains("\n  limits.memory      1GiB\n")
            && out
                .stdout()
                .contains("\n  limits.cpu         -  [built-in]\n"),
        "{}",
        out.stdout()
    );
    env.kron(&["run", "t"]).output().code(3);
    let run_id = crate::util::history(&env, "t")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.kron(&["show", "t"]).output();
    out.success();
    let stdout = out.stdout();
    let last = stdout
        .lines()
        .find(|l| l.starts_with("last run: "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        last.starts_with("last run: failure, exit 3, started ")
            && last.ends_with(&format!(", 1 attempt(s), run {run_id}")),
        "{last}"
    );
    let tail: Vec<&str> = stdout
        .split_once("output (its last 10 line(s); all of it: kron logs t):\n")
        .unwrap_or_else(|| panic!("{stdout}"))
        .1
        .lines()
        .collect();
    // The last ten lines the command printed, without kron's frames, and
    // control characters shown, not sent.
    let mut expected: Vec<String> = (7..=15).map(|i| format!("  line {i}")).collect();
    expected.push("  bell^G".into());
    assert_eq!(tail, expected);
    let out = env.kron(&["show", "t", "--json"]).output();
    let json: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(json["last_run"]["outcome"], "failure");
    assert_eq!(json["last_run"]["run_id"], run_id.as_str());
    assert_eq!(json["output"][9], "bell\u{7}");
    assert_eq!(json["running"], serde_json::json!([]));
    assert_eq!(json["sources"]["nice"], "task");
    assert_eq!(json["settings"]["limits"]["memory"], 1u64 << 30);

    // A run in progress comes first.
    let run = env.start_run_that_waits("");
    crate::util::wait_until("the run is registered", || {
        crate::util::registry(&env)
            .first()
            .is_some_and(|r| r["pgid"].is_i64())
    });
    let out = env.kron(&["show", "t"]).output();
    let pid = crate::util::registry(&env)[0]["pgid"].as_i64().unwrap();
    assert!(
        out.stdout()
            .contains(&format!(", attempt 1, pid {pid}\nlast run: ")),
        "{}",
        out.stdout()
    );
    std::fs::write(env.work().join("never"), "").unwrap();
    crate::util::wait_with_deadline(run, crate::util::DEADLINE).success();
}
