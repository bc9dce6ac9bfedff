//! `kron dst` for Europe/Berlin, America/New_York, Australia/Lord_Howe (a
//! 30-minute shift) and Asia/Tokyo (no daylight saving), each with a fixed
//! `--year`, in words and in JSON (whose instants must be those `kron next`
//! gives); the notes of `add`, `edit`, `import` and `check`, and `kron
//! list`'s mark.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::util::Env;

/// `[tasks.NAME]` with a schedule and a zone.
fn task(name: &str, schedule: &str, zone: &str) -> String {
    format!("[tasks.{name}]\nschedule = {schedule:?}\ntimezone = {zone:?}\ncommand = \"true\"\n\n")
}

fn env_with(tasks: &[(&str, &str, &str)]) -> Env {
    let env = Env::new();
    let text: String = tasks.iter().map(|(n, s, z)| task(n, s, z)).collect();
    env.write_task_file(&text);
    env
}

#[track_caller]
fn dst(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["dst"];
    all.extend_from_slice(args);
    let out = env.kron(&all).output();
    out.success();
    out.stdout()
}

#[track_caller]
fn dst_json(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["dst", "--json"];
    all.extend_from_slice(args);
    let out = env.kron(&all).output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap()
}

/// `kron next NAME` after `after`, as JSON strings.
fn next(env: &Env, name: &str, after: &str, n: usize) -> Vec<String> {
    let out = env
        .kron(&[
            "next",
            name,
            "--after",
            after,
            "-n",
            &n.to_string(),
            "--json",
        ])
        .output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap()
}

#[test]
fn berlin_gap_and_overlap_in_words() {
    let env = env_with(&[
        ("backup", "30 2 * * *", "Europe/Berlin"),
        ("sync", "*/15 * * * *", "Europe/Berlin"),
        ("report", "0 9 * * *", "Europe/Berlin"),
        ("both", "0,30 2 * * *", "Europe/Berlin"),
    ]);
    assert_eq!(
        dst(&env, &["--year", "2027"]),
        "\
Europe/Berlin changes its clocks twice in 2027: forward 1h at 02:00 on Sun 2027-03-28, back 1h at 03:00 on Sun 2027-10-31

backup (30 2 * * *, Europe/Berlin)
  Sun 2027-03-28 02:30 does not exist in Europe/Berlin: runs once at 03:00
  Sun 2027-10-31 02:30 happens twice: runs once, at the first
sync (*/15 * * * *, Europe/Berlin)
  Sun 2027-03-28: `*/15 * * * *` skips 02:00, 02:15, 02:30 and 02:45, which do not exist in Europe/Berlin
  Sun 2027-10-31: `*/15 * * * *` runs 8 times between 02:00 and 03:00 local that night, because the hour repeats
report (0 9 * * *, Europe/Berlin): unaffected, its times are clear of the clock changes
both (0,30 2 * * *, Europe/Berlin)
  Sun 2027-03-28 02:00 and 02:30 do not exist in Europe/Berlin: run once, together, at 03:00
  Sun 2027-10-31 02:00 and 02:30 happen twice: each runs once, at the first
"
    );
    // NAME selects; an unknown one is an error.
    let one = dst(&env, &["backup", "--year", "2026"]);
    assert!(
        one.contains("Sun 2026-03-29 02:30 does not exist in Europe/Berlin: runs once at 03:00"),
        "{one}"
    );
    assert!(!one.contains("sync"), "{one}");
    let out = env.kron(&["dst", "nosuch"]).output();
    out.code(2);
    assert!(
        out.stderr().contains("no task named `nosuch`"),
        "{}",
        out.stderr()
    );
}

#[test]
fn berlin_json_has_the_engines_instants() {
    let env = env_with(&[
        ("backup", "30 2 * * *", "Europe/Berlin"),
        ("sync", "*/15 * * * *", "Europe/Berlin"),
    ]);
    let report = dst_json(&env, &["--year", "2027"]);
    assert_eq!(report["period"], "2027");
    let zone = &report["zones"][0];
    assert_eq!(zone["timezone"], "Europe/Berlin");
    assert_eq!(zone["from"], "2027-01-01T00:00:00+01:00");
    assert_eq!(zone["until"], "2028-01-01T00:00:00+01:00");
    let gap = &zone["transitions"][0];
    assert_eq!(gap["at"], "2027-03-28T03:00:00+02:00");
    assert_eq!(gap["change"], "gap");
    assert_eq!(gap["shift_seconds"], 3600);
    assert_eq!(
        (&gap["offset_before"], &gap["offset_after"]),
        (&Value::from("+01:00"), &Value::from("+02:00"))
    );
    assert_eq!(
        (&gap["wall_from"], &gap["wall_until"]),
        (
            &Value::from("2027-03-28T02:00:00"),
            &Value::from("2027-03-28T03:00:00")
        )
    );
    assert_eq!(zone["transitions"][1]["change"], "overlap");

    let backup = &report["tasks"][0];
    assert_eq!(backup["rule"], "fixed_time");
    assert_eq!(backup["affected"], true);
    assert_eq!(backup["unaffected"], Value::Null);
    let fates = backup["fates"].as_array().unwrap();
    assert_eq!(fates.len(), 2);
    assert_eq!(fates[0]["date"], "2027-03-28");
    assert_eq!(
        fates[0]["wall_times"],
        serde_json::json!(["2027-03-28T02:30:00"])
    );
    assert_eq!(
        fates[0]["runs"],
        serde_json::json!(["2027-03-28T03:00:00+02:00"])
    );
    assert_eq!(
        fates[1]["runs"],
        serde_json::json!(["2027-10-31T02:30:00+02:00"])
    );
    // The runs are what `kron next` (the daemon's engine) gives.
    assert_eq!(
        next(&env, "backup", "2027-03-27T23:59:00Z", 1),
        ["2027-03-28T03:00:00+02:00"]
    );

    let sync = &report["tasks"][1];
    assert_eq!(sync["rule"], "wildcard");
    let overlap = &sync["fates"][1];
    assert_eq!(overlap["change"], "overlap");
    assert_eq!(overlap["wall_times"].as_array().unwrap().len(), 4);
    let runs: Vec<String> = serde_json::from_value(overlap["runs"].clone()).unwrap();
    assert_eq!(runs.len(), 8);
    assert_eq!(runs, next(&env, "sync", "2027-10-30T23:59:59Z", 8));
    assert_eq!(
        (runs[0].as_str(), runs[7].as_str()),
        ("2027-10-31T02:00:00+02:00", "2027-10-31T02:45:00+01:00")
    );
    // 03:00 exists: that run is 03:00's own, not the gap's.
    assert_eq!(
        sync["fates"][0]["runs"],
        serde_json::json!(["2027-03-28T03:00:00+02:00"])
    );
    assert_eq!(sync["fates"][0]["coincides"], true);
    assert_eq!(fates[0]["coincides"], false);
}

#[test]
fn new_york_gap_and_overlap() {
    let env = env_with(&[
        ("backup", "30 2 * * *", "America/New_York"),
        ("late", "30 1 * * *", "America/New_York"),
        ("hourly", "0 * * * *", "America/New_York"),
    ]);
    assert_eq!(
        dst(&env, &["--year", "2027"]),
        "\
America/New_York changes its clocks twice in 2027: forward 1h at 02:00 on Sun 2027-03-14, back 1h at 02:00 on Sun 2027-11-07

backup (30 2 * * *, America/New_York)
  Sun 2027-03-14 02:30 does not exist in America/New_York: runs once at 03:00
late (30 1 * * *, America/New_York)
  Sun 2027-11-07 01:30 happens twice: runs once, at the first
hourly (0 * * * *, America/New_York)
  Sun 2027-03-14: `0 * * * *` skips 02:00, which does not exist in America/New_York
  Sun 2027-11-07: `0 * * * *` runs twice between 01:00 and 02:00 local that night, because the hour repeats
"
    );
    let report = dst_json(&env, &["--year", "2027"]);
    assert_eq!(
        report["tasks"][2]["fates"][1]["runs"],
        serde_json::json!(["2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00"])
    );
    assert_eq!(
        report["tasks"][1]["fates"][0]["runs"],
        serde_json::json!(["2027-11-07T01:30:00-04:00"])
    );
}

#[test]
fn lord_howe_moves_half_an_hour() {
    let env = env_with(&[
        ("early", "15 2 * * *", "Australia/Lord_Howe"),
        ("twice", "45 1 * * *", "Australia/Lord_Howe"),
        ("often", "*/15 * * * *", "Australia/Lord_Howe"),
        ("hourly", "0 * * * *", "Australia/Lord_Howe"),
    ]);
    assert_eq!(
        dst(&env, &["--year", "2027"]),
        "\
Australia/Lord_Howe changes its clocks twice in 2027: back 30m at 02:00 on Sun 2027-04-04, forward 30m at 02:00 on Sun 2027-10-03

early (15 2 * * *, Australia/Lord_Howe)
  Sun 2027-10-03 02:15 does not exist in Australia/Lord_Howe: runs once at 02:30
twice (45 1 * * *, Australia/Lord_Howe)
  Sun 2027-04-04 01:45 happens twice: runs once, at the first
often (*/15 * * * *, Australia/Lord_Howe)
  Sun 2027-04-04: `*/15 * * * *` runs 4 times between 01:30 and 02:00 local that night, because the half hour repeats
  Sun 2027-10-03: `*/15 * * * *` skips 02:00 and 02:15, which do not exist in Australia/Lord_Howe
hourly (0 * * * *, Australia/Lord_Howe)
  Sun 2027-10-03: `0 * * * *` skips 02:00, which does not exist in Australia/Lord_Howe
"
    );
    let report = dst_json(&env, &["--year", "2027"]);
    let transitions = &report["zones"][0]["transitions"];
    assert_eq!(transitions[0]["shift_seconds"], -1800);
    assert_eq!(transitions[0]["offset_after"], "+10:30");
    assert_eq!(
        report["tasks"][0]["fates"][0]["runs"],
        serde_json::json!(["2027-10-03T02:30:00+11:00"])
    );
    assert_eq!(
        next(&env, "early", "2027-10-02T00:00:00Z", 1),
        ["2027-10-03T02:30:00+11:00"]
    );
}

#[test]
fn a_zone_without_daylight_saving_says_so() {
    let env = env_with(&[
        ("tokyo", "30 2 * * *", "Asia/Tokyo"),
        ("utc", "*/15 * * * *", "UTC"),
        ("every", "@every 1h", "Europe/Berlin"),
    ]);
    assert_eq!(
        dst(&env, &["--year", "2027"]),
        "\
Asia/Tokyo does not change its clocks in 2027
UTC does not change its clocks in 2027
Europe/Berlin changes its clocks twice in 2027: forward 1h at 02:00 on Sun 2027-03-28, back 1h at 03:00 on Sun 2027-10-31

tokyo (30 2 * * *, Asia/Tokyo): unaffected, Asia/Tokyo does not change its clocks in 2027
utc (*/15 * * * *, UTC): unaffected, UTC does not change its clocks in 2027
every (@every 1h, Europe/Berlin): unaffected, @every counts real time
"
    );
    let report = dst_json(&env, &["--year", "2027"]);
    assert_eq!(report["zones"][0]["transitions"], serde_json::json!([]));
    let tokyo = &report["tasks"][0];
    assert_eq!(tokyo["affected"], false);
    assert_eq!(tokyo["fates"], serde_json::json!([]));
    assert_eq!(
        tokyo["unaffected"],
        "unaffected, Asia/Tokyo does not change its clocks in 2027"
    );
    assert_eq!(report["tasks"][2]["rule"], "real_time");
}

/// A schedule that meets a Europe/Berlin clock change in any year.
const NOTE: &str = "runs at 03:00 instead of 02:30";

#[test]
fn add_check_and_list_note_the_change() {
    let env = Env::new();
    let out = env
        .kron(&[
            "add",
            "backup",
            "--schedule",
            "30 2 * * *",
            "--tz",
            "Europe/Berlin",
            "--",
            "true",
        ])
        .output();
    out.success();
    let note = out
        .stderr()
        .lines()
        .find(|l| l.starts_with("kron: note: on "))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no note: {}", out.stderr()));
    assert!(note.contains(&format!("backup {NOTE}")), "{note}");
    assert!(note.ends_with("; see `kron dst backup`"), "{note}");
    let out = env
        .kron(&[
            "add",
            "report",
            "--schedule",
            "0 9 * * *",
            "--tz",
            "Europe/Berlin",
            "--",
            "true",
        ])
        .output();
    out.success();
    assert!(!out.stderr().contains("note:"), "{}", out.stderr());

    let out = env.kron(&["check"]).output();
    out.success();
    assert_eq!(out.stderr().lines().collect::<Vec<_>>(), [note.as_str()]);
    let out = env.kron(&["check", "--json"]).output();
    out.success();
    let json: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(json["notes"][0], note.strip_prefix("kron: note: ").unwrap());
    assert_eq!(json["notes"].as_array().unwrap().len(), 1);

    let out = env.kron(&["list"]).env("COLUMNS", "200").output();
    out.success();
    let stdout = out.stdout();
    assert!(
        stdout.lines().any(|l| l.starts_with("backup (dst) ")),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("report ")), "{stdout}");
    assert!(stdout.contains("see `kron dst`"), "{stdout}");
    let out = env.kron(&["list", "--json"]).output();
    out.success();
    let rows: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(rows[0]["dst_changes"].as_array().unwrap().len(), 2);
    assert_eq!(rows[1]["dst_changes"], serde_json::json!([]));
}

#[test]
fn a_file_of_many_affected_tasks_gets_five_notes_and_a_count() {
    let tasks: Vec<(String, &str, &str)> = (0..8)
        .map(|i| (format!("t{i}"), "30 2 * * *", "Europe/Berlin"))
        .collect();
    let borrowed: Vec<(&str, &str, &str)> =
        tasks.iter().map(|(n, s, z)| (n.as_str(), *s, *z)).collect();
    let env = env_with(&borrowed);
    let out = env.kron(&["check"]).output();
    out.success();
    let stderr = out.stderr();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 6, "{stderr}");
    assert!(lines[4].contains(&format!("t4 {NOTE}")), "{stderr}");
    assert_eq!(
        lines[5],
        "kron: note: and 3 more tasks meet a clock change within a year; see `kron dst`"
    );
    // JSON has them all.
    let out = env.kron(&["check", "--json"]).output();
    let json: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(json["notes"].as_array().unwrap().len(), 8);
}

#[test]
fn import_notes_the_imported_tasks() {
    let env = Env::new();
    let out = env.kron(&["import", "-"]).output_with_stdin(
        "CRON_TZ=Europe/Berlin\n30 2 * * * /usr/bin/true\n0 9 * * * /bin/date\n",
    );
    out.success();
    let stderr = out.stderr();
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("note:")).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(notes[0].contains(NOTE), "{}", notes[0]);
}

#[test]
fn edit_notes_only_the_tasks_it_retimes() {
    let env = env_with(&[("old", "30 2 * * *", "Europe/Berlin")]);
    let editor = env.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf '[tasks.new]\\nschedule = \"30 2 * * *\"\\ntimezone = \"Europe/Berlin\"\\ncommand = \"true\"\\n' >> \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.kron(&["edit"]).env("EDITOR", &editor).output();
    out.success();
    let stderr = out.stderr();
    let notes: Vec<&str> = stderr.lines().filter(|l| l.contains("note:")).collect();
    assert_eq!(notes.len(), 1, "{stderr}");
    assert!(notes[0].contains(&format!("new {NOTE}")), "{}", notes[0]);
}
