//! `kron plan` on crafted histories (p95 durations): a lock held by another
//! task, a task's own previous run under skip, queue and replace, runs
//! waiting for `max_parallel`, clock changes, the timeline drawn plain and
//! in colour, `--json` with every instant, and a predicted lock conflict
//! that then happens under the real daemon.

use std::time::Duration;

use serde_json::Value;

use crate::util::daemon::DaemonGuard;
use crate::util::{Env, history, wait_for, wait_until};

/// Writes `count` successful runs of `task`, each lasting `ms`, a day apart.
fn craft_history(env: &Env, task: &str, ms: u64, count: usize) {
    let dir = env.path().join("state/kron/history");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for i in 0..count {
        let started = jiff::Timestamp::from_second(1_700_000_000 + i as i64 * 86_400).unwrap();
        let finished = started + Duration::from_millis(ms);
        let record = serde_json::json!({
            "run_id": format!("r{i}"), "task": task, "trigger": "schedule",
            "scheduled": started.to_string(), "started": started.to_string(),
            "finished": finished.to_string(), "attempts": 1, "exit_code": 0,
            "signal": null, "outcome": "success", "duration_ms": ms,
        });
        text.push_str(&record.to_string());
        text.push('\n');
    }
    std::fs::write(dir.join(format!("{task}.jsonl")), text).unwrap();
}

const MINUTE: u64 = 60_000;

/// backup at 02:30 and prune at 03:00 share the lock `disk`; backup's p95
/// is 41 minutes.
fn backup_and_prune(prune_extra: &str) -> Env {
    let env = Env::new();
    env.write_task_file(&format!(
        "[tasks.backup]\nschedule = \"30 2 * * *\"\nlock = \"disk\"\ncommand = \"true\"\n\n\
         [tasks.prune]\nschedule = \"0 3 * * *\"\nlock = \"disk\"\ncommand = \"true\"\n{prune_extra}\n"
    ));
    // p95 of 20 runs: the 19th longest; one outlier does not count.
    craft_history(&env, "backup", 41 * MINUTE, 19);
    craft_history(&env, "prune", 5 * MINUTE, 20);
    env
}

#[track_caller]
fn plan(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["plan", "--from", "2027-03-22T00:00:00Z", "--days", "1"];
    all.extend_from_slice(args);
    let out = env.kron(&all).env("COLUMNS", "100").output();
    out.success();
    out.stdout()
}

#[track_caller]
fn plan_json(env: &Env, args: &[&str]) -> Value {
    let mut all = vec![
        "plan",
        "--from",
        "2027-03-22T00:00:00Z",
        "--days",
        "1",
        "--json",
    ];
    all.extend_from_slice(args);
    let out = env.kron(&all).output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap()
}

#[test]
fn a_lock_held_by_another_task_is_predicted() {
    let env = backup_and_prune("");
    assert_eq!(
        plan(&env, &[]),
        "\
Mon 2027-03-22 00:00 +00:00 to Tue 2027-03-23 00:00 +00:00 (UTC), 1 column = 30m
        Mon 22
        00  02  04  06  08  10  12  14  16  18  20  22
backup  ·····█▒·········································
prune   ······╳·········································
█ starts  ▒ runs (p95)  ░ waits  ╳ skipped  ▲▼ clocks change

Mon 03:00 prune will be skipped: backup (p95 41m, from 02:30) holds lock `disk`
"
    );
    // Only prune's row, but backup still holds the lock.
    let only = plan(&env, &["prune"]);
    assert!(!only.contains("\nbackup "), "{only}");
    assert!(
        only.contains("Mon 03:00 prune will be skipped: backup (p95 41m"),
        "{only}"
    );

    let json = plan_json(&env, &[]);
    assert_eq!(json["from"], "2027-03-22T00:00:00+00:00");
    assert_eq!(json["until"], "2027-03-23T00:00:00+00:00");
    let backup = &json["tasks"][0];
    assert_eq!(backup["p95_ms"], 41 * MINUTE);
    assert_eq!(backup["lock"], "disk");
    assert_eq!(
        backup["runs"],
        serde_json::json!([{
            "scheduled": "2027-03-22T02:30:00+00:00", "start": "2027-03-22T02:30:00+00:00",
            "end": "2027-03-22T03:11:00+00:00", "fate": "runs", "waits": null
        }])
    );
    assert_eq!(json["tasks"][1]["runs"][0]["fate"], "skipped");
    let conflict = &json["conflicts"][0];
    assert_eq!(conflict["task"], "prune");
    assert_eq!(conflict["kind"], "skipped");
    assert_eq!(conflict["lock"], "disk");
    assert_eq!(conflict["holder"]["task"], "backup");
    assert_eq!(conflict["holder"]["start"], "2027-03-22T02:30:00+00:00");
    assert_eq!(json["conflicts"].as_array().unwrap().len(), 1);
}

#[test]
fn queue_waits_and_replace_stops_the_holder() {
    let env = backup_and_prune("overlap = \"queue\"");
    let text = plan(&env, &[]);
    assert!(
        text.contains(
            "Mon 03:00 prune will wait for lock `disk` until about 03:11: backup (p95 41m, from 02:30) holds it"
        ),
        "{text}"
    );
    // It waits and starts within one column (30 minutes): the start shows.
    assert!(text.contains("prune   ······█·"), "{text}");
    let json = plan_json(&env, &[]);
    let run = &json["tasks"][1]["runs"][0];
    assert_eq!(
        (&run["start"], &run["waits"]),
        (
            &Value::from("2027-03-22T03:11:00+00:00"),
            &Value::from("lock")
        )
    );
    assert_eq!(json["conflicts"][0]["until"], "2027-03-22T03:11:00+00:00");

    let env = backup_and_prune("overlap = \"replace\"");
    let text = plan(&env, &[]);
    assert!(
        text.contains(
            "Mon 03:00 prune will stop backup (p95 41m, from 02:30), which holds lock `disk`"
        ),
        "{text}"
    );
    let json = plan_json(&env, &[]);
    assert_eq!(json["tasks"][0]["runs"][0]["fate"], "stopped");
    assert_eq!(
        json["tasks"][0]["runs"][0]["end"],
        "2027-03-22T03:00:00+00:00"
    );
}

#[test]
fn its_own_previous_run_and_every_instant() {
    let env = Env::new();
    env.write_task_file("[tasks.sync]\nschedule = \"*/15 * * * *\"\ncommand = \"true\"\n");
    craft_history(&env, "sync", 20 * MINUTE, 5);
    let text = plan(&env, &[]);
    assert!(
        text.contains(
            "Mon 00:00 sync will be skipped: its previous run (p95 20m, from Sun 23:45) will still run \
             (and 47 more times, the last Mon 23:30)"
        ),
        "{text}"
    );
    let json = plan_json(&env, &[]);
    let runs = json["tasks"][0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 96);
    let instants: Vec<&str> = runs
        .iter()
        .map(|r| r["scheduled"].as_str().unwrap())
        .collect();
    let out = env
        .kron(&[
            "next",
            "sync",
            "--after",
            "2027-03-21T23:59:59Z",
            "-n",
            "96",
            "--json",
        ])
        .output();
    let next: Vec<String> = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(instants, next);
    let fates: Vec<&str> = runs
        .iter()
        .take(4)
        .map(|r| r["fate"].as_str().unwrap())
        .collect();
    assert_eq!(fates, ["skipped", "runs", "skipped", "runs"]);
}

#[test]
fn max_parallel_queues_runs() {
    let env = Env::new();
    env.write_task_file(
        "[defaults]\nmax_parallel = 2\n\n\
         [tasks.a]\nschedule = \"0 12 * * *\"\ncommand = \"true\"\n\
         [tasks.b]\nschedule = \"0 12 * * *\"\ncommand = \"true\"\n\
         [tasks.c]\nschedule = \"0 12 * * *\"\ncommand = \"true\"\n\
         [tasks.d]\nschedule = \"0 12 * * *\"\ncommand = \"true\"\npaused = true\n\
         [tasks.e]\nschedule = \"0 18 * * *\"\ncommand = \"true\"\n",
    );
    craft_history(&env, "a", 30 * MINUTE, 3);
    craft_history(&env, "b", 10 * MINUTE, 3);
    craft_history(&env, "c", 10 * MINUTE, 3);
    let text = plan(&env, &[]);
    assert!(
        text.contains("Mon 12:00-13:00 max_parallel = 2 will queue 1 run for up to 10m: c"),
        "{text}"
    );
    assert!(text.contains("\nd  paused\n"), "{text}");
    assert!(
        text.contains("no history, so no duration to predict from: e"),
        "{text}"
    );
    let json = plan_json(&env, &[]);
    assert_eq!(json["max_parallel"], 2);
    let c = &json["tasks"][2]["runs"][0];
    assert_eq!(
        (&c["start"], &c["waits"]),
        (
            &Value::from("2027-03-22T12:10:00+00:00"),
            &Value::from("slot")
        )
    );
    assert_eq!(json["conflicts"][0]["kind"], "waits_for_slot");
    assert_eq!(json["tasks"][3]["runs"], serde_json::json!([]));
    assert_eq!(json["tasks"][4]["p95_ms"], Value::Null);
}

#[test]
fn clock_changes_are_marked() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.backup]\nschedule = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\ncommand = \"true\"\n",
    );
    let out = env
        .kron(&["plan", "--from", "2027-03-27", "--days", "2"])
        .env("COLUMNS", "100")
        .env("TZ", "Europe/Berlin")
        .output();
    out.success();
    let text = out.stdout();
    assert!(
        text.starts_with("Sat 2027-03-27 00:00 +01:00 to Mon 2027-03-29 00:00 +02:00 (Europe/Berlin), 1 column = 1h\n"),
        "{text}"
    );
    let marks = text
        .lines()
        .find(|l| l.starts_with("Europe/Berlin "))
        .unwrap_or_else(|| panic!("{text}"));
    // 02:00 on Sunday is the 27th hour of the window.
    assert_eq!(
        marks.chars().position(|c| c == '▲'),
        Some(15 + 26),
        "{text}"
    );
    assert!(
        text.contains(
            "Europe/Berlin clocks go forward 1h at 02:00 on Sun 2027-03-28; see `kron dst`"
        ),
        "{text}"
    );
    let out = env
        .kron(&[
            "plan",
            "--from",
            "2027-03-27T00:00:00Z",
            "--days",
            "2",
            "--json",
        ])
        .output();
    out.success();
    let json: Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(
        json["clock_changes"],
        serde_json::json!([{
            "timezone": "Europe/Berlin", "at": "2027-03-28T03:00:00+02:00", "change": "gap",
            "shift_seconds": 3600, "text": "forward 1h at 02:00 on Sun 2027-03-28"
        }])
    );
    // 02:30 does not exist that night: the run is at 03:00, as the daemon runs it.
    assert_eq!(
        json["tasks"][0]["runs"][1]["scheduled"],
        "2027-03-28T03:00:00+02:00"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let env = backup_and_prune("");
    assert!(!plan(&env, &[]).contains('\x1b'));
    let coloured = plan(&env, &["--color", "always"]);
    assert!(coloured.contains("\x1b[31m╳\x1b[0m"), "{coloured:?}");
    assert!(coloured.contains("\x1b[32m█▒\x1b[0m"), "{coloured:?}");
}

#[test]
fn bad_input() {
    let env = backup_and_prune("");
    let out = env.kron(&["plan", "--from", "next tuesday"]).output();
    out.code(2);
    assert!(
        out.stderr().contains("--from `next tuesday`"),
        "{}",
        out.stderr()
    );
    env.kron(&["plan", "--days", "0"]).output().code(2);
    env.kron(&["plan", "nosuch"]).output().code(2);
}

/// The forecast of a skip behind another task's lock, then the daemon
/// doing it: `hold` runs at seconds 0, 4, 8, ... and holds lock `disk` (its
/// history says for 3 s; here until the test opens its gate), `probe` at
/// seconds 2, 6, 10, ...
#[test]
fn a_predicted_lock_conflict_happens() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "[tasks.hold]\nschedule = \"*/4 * * * * *\"\nlock = \"disk\"\ncommand = {:?}\nworkdir = {:?}\n\n\
         [tasks.probe]\nschedule = \"2/4 * * * * *\"\nlock = \"disk\"\ncommand = \"true\"\n",
        wait_for("gate"),
        dir.display().to_string()
    ));
    craft_history(&env, "hold", 3000, 10);
    let out = env.kron(&["plan", "--days", "1", "--json"]).output();
    out.success();
    let json: Value = serde_json::from_str(&out.stdout()).unwrap();
    let first = json["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["task"] == "probe")
        .unwrap_or_else(|| panic!("no conflict predicted: {json}"));
    assert_eq!(first["kind"], "skipped");
    assert_eq!(first["holder"]["task"], "hold");
    let text = first["text"].as_str().unwrap();
    assert!(
        text.contains("probe will be skipped: hold (p95 3s, from ")
            && text.ends_with("holds lock `disk`"),
        "{text}"
    );

    let daemon = DaemonGuard::start(&env);
    wait_until("probe is skipped behind hold", || {
        history(&env, "probe")
            .iter()
            .any(|r| r["outcome"] == "skipped")
    });
    std::fs::write(dir.join("gate"), "").unwrap();
    drop(daemon);
    let skipped = history(&env, "probe")
        .into_iter()
        .find(|r| r["outcome"] == "skipped")
        .unwrap();
    let reason = skipped["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("lock `disk` is held") && reason.contains("hold"),
        "{skipped}"
    );
}
