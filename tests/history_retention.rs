//! History retention (`history = { keep, max_age, archive_max_age }`):
//! records past it move to monthly archives that `kron history --archive`
//! and a `--since` reaching back read; old archives are removed; history
//! files written before the index read as before.

use std::path::PathBuf;

use jiff::{Timestamp, ToSpan};
use serde_json::Value;

use crate::util::{Env, history, task};

fn history_dir(env: &Env) -> PathBuf {
    env.path().join("state/kron/history")
}

/// A record line as kron writes it (the format before the index: nothing
/// about the file changed but what sits beside it).
fn line(task: &str, n: usize, started: Timestamp, outcome: &str) -> String {
    format!(
        "{{\"run_id\":\"old-{n:04}\",\"task\":\"{task}\",\"trigger\":\"schedule\",\"scheduled\":\"{started}\",\
         \"started\":\"{started}\",\"finished\":\"{started}\",\"attempts\":1,\"exit_code\":{},\"signal\":null,\
         \"outcome\":\"{outcome}\",\"duration_ms\":{}}}\n",
        if outcome == "success" { 0 } else { 1 },
        100 + n
    )
}

/// Writes `task`'s history by hand: one record per instant, oldest first.
fn write_history(env: &Env, task: &str, starts: &[Timestamp]) {
    let dir = history_dir(env);
    std::fs::create_dir_all(&dir).unwrap();
    let text: String = starts
        .iter()
        .enumerate()
        .map(|(n, &t)| line(task, n, t, if n % 3 == 0 { "failure" } else { "success" }))
        .collect();
    std::fs::write(dir.join(format!("{task}.jsonl")), text).unwrap();
}

fn json(env: &Env, args: &[&str]) -> Vec<Value> {
    let out = env.kron(args).output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap_or_else(|e| panic!("{e}: {}", out.stdout()))
}

fn ids(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect()
}

fn archives(env: &Env, task: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(history_dir(env).join("archive").join(task))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Hourly instants ending an hour ago, `n` of them, oldest first.
fn hourly(n: i64) -> Vec<Timestamp> {
    let now = Timestamp::now();
    (0..n).map(|i| now - ((n - i) * 3600).seconds()).collect()
}

#[test]
fn a_file_written_before_the_upgrade_is_read_whole() {
    let env = Env::new();
    env.write_task_file(&task("t", "true", &env.work(), ""));
    let starts = hourly(30);
    write_history(&env, "t", &starts);
    let all = json(&env, &["history", "t", "-n", "100", "--json"]);
    assert_eq!(all.len(), 30);
    assert_eq!(all[0]["run_id"], "old-0029", "newest first");
    let failures = json(
        &env,
        &["history", "--outcome", "failure", "-n", "100", "--json"],
    );
    assert_eq!(failures.len(), 10);
    let stats: Value =
        serde_json::from_str(&env.kron(&["stats", "t", "--json"]).output().stdout()).unwrap();
    assert_eq!(stats["runs"], 30);
    assert_eq!(stats["outcomes"]["failure"], 10);
    assert_eq!(stats["last_failure"]["run_id"], "old-0027");
    // The next run appends to it, and everything is still there.
    env.kron(&["run", "t"]).output().success();
    assert_eq!(history(&env, "t").len(), 31);
    assert_eq!(
        json(&env, &["history", "t", "-n", "100", "--json"]).len(),
        31
    );
}

#[test]
fn past_keep_records_move_to_the_archive_that_archive_and_since_read() {
    let env = Env::new();
    env.write_task_file(&task("t", "true", &env.work(), "history = { keep = 10 }"));
    let starts = hourly(40);
    write_history(&env, "t", &starts);
    // 41 records are past 10 + its slack: the run trims the file.
    env.kron(&["run", "t"]).output().success();
    let live = history(&env, "t");
    assert_eq!(live.len(), 10);
    assert_eq!(live[0]["run_id"], "old-0031");
    assert!(!archives(&env, "t").is_empty());
    let shown = json(&env, &["history", "t", "-n", "1000", "--json"]);
    assert_eq!(shown.len(), 10);
    // --archive reads everything, newest first, each record once.
    let all = json(&env, &["history", "t", "-n", "1000", "--archive", "--json"]);
    assert_eq!(all.len(), 41);
    let expected: Vec<String> = (0..40).rev().map(|n| format!("old-{n:04}")).collect();
    assert_eq!(ids(&all[1..]), expected);
    // A --since before the live file reaches into the archive by itself.
    let since = (starts[19] - 1.second()).to_string();
    let recent = json(
        &env,
        &["history", "t", "--since", &since, "-n", "1000", "--json"],
    );
    assert_eq!(recent.len(), 22, "{:?}", ids(&recent));
    assert_eq!(recent.last().unwrap()["run_id"], "old-0019");
    // The archive is gzip that anyone can read.
    let name = &archives(&env, "t")[0];
    let path = history_dir(&env).join("archive/t").join(name);
    let out = env
        .command("gzip", &["-dc", path.to_str().unwrap()])
        .output();
    out.success();
    assert!(
        out.stdout()
            .lines()
            .all(|l| serde_json::from_str::<Value>(l).is_ok())
    );
}

#[test]
fn records_older_than_max_age_move_to_their_month_and_old_months_go() {
    let env = Env::new();
    let dir = env.work();
    let now = Timestamp::now();
    let long_ago: Timestamp = "2020-01-15T12:00:00Z".parse().unwrap();
    let weeks_ago = now - (45 * 24).hours();
    let mut starts = vec![long_ago, long_ago + 1.hour(), weeks_ago];
    starts.extend(hourly(5));
    write_history(&env, "t", &starts);
    env.write_task_file(&task("t", "true", &dir, "history = { max_age = \"30d\" }"));
    env.kron(&["run", "t"]).output().success();
    let live = history(&env, "t");
    assert_eq!(live.len(), 6, "{live:?}");
    assert_eq!(live[0]["run_id"], "old-0003");
    let month = |t: Timestamp| t.strftime("%Y-%m.jsonl.gz").to_string();
    assert_eq!(archives(&env, "t"), [month(long_ago), month(weeks_ago)]);
    let all = json(&env, &["history", "t", "--archive", "-n", "100", "--json"]);
    assert_eq!(all.len(), 9);
    assert_eq!(all.last().unwrap()["run_id"], "old-0000");
    // Months that ended more than archive_max_age ago are removed at the
    // next trim; the recent month stays.
    let mut text = std::fs::read_to_string(history_dir(&env).join("t.jsonl")).unwrap();
    text.insert_str(0, &line("t", 99, long_ago + 2.hours(), "success"));
    std::fs::write(history_dir(&env).join("t.jsonl"), text).unwrap();
    env.write_task_file(&task(
        "t",
        "true",
        &dir,
        "history = { max_age = \"30d\", archive_max_age = \"365d\" }",
    ));
    env.kron(&["run", "t"]).output().success();
    assert_eq!(archives(&env, "t"), [month(weeks_ago)]);
    assert_eq!(history(&env, "t").len(), 7);
}

#[test]
fn history_keys_are_checked_and_shown() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "[defaults]\nhistory = {{ keep = 5000 }}\n\n{}",
        task("t", "true", &dir, "history = { max_age = \"90d\" }")
    ));
    let out = env.kron(&["show", "t", "--json"]).output();
    out.success();
    let shown: Value = serde_json::from_str(&out.stdout()).unwrap();
    let h = &shown["settings"]["history"];
    assert_eq!(
        (h["keep"].as_u64(), h["max_age"].as_str()),
        (Some(5000), Some("90d"))
    );
    assert!(h["archive_max_age"].is_null());
    env.write_task_file(&task(
        "t",
        "true",
        &dir,
        "history = { keep = 0, maxage = \"1d\" }",
    ));
    let out = env.kron(&["check"]).output();
    out.code(2);
    let err = out.stderr();
    assert!(
        err.contains("tasks.t.history.keep: expected a whole number from 1"),
        "{err}"
    );
    assert!(err.contains("max_age"), "a suggestion: {err}");
}
