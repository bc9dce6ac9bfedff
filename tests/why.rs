//! `kron why`: what became of a task's last instants, from the real
//! daemon's records: runs, skips behind a lock, instants missed while the
//! daemon was stopped.

use crate::util::daemon::DaemonGuard;
use crate::util::{Env, history, wait_until};

fn why(env: &Env, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["why"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = env.kron(&all).output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap()
}

#[test]
fn ran_and_missed_while_the_daemon_was_stopped() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.t]\nschedule = \"* * * * * *\"\ncatch_up = \"skip\"\ncommand = \"true\"\n",
    );
    let daemon = DaemonGuard::start(&env);
    wait_until("t ran twice", || history(&env, "t").len() >= 2);
    drop(daemon);
    let stopped = jiff::Timestamp::now().as_second();
    wait_until("instants pass", || {
        jiff::Timestamp::now().as_second() >= stopped + 3
    });
    // Before a daemon comes back, the downtime has no record yet.
    let answers = why(&env, &["t", "-n", "1"]);
    assert!(
        answers[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("not run: the daemon is not running since "),
        "{answers:?}"
    );
    let _daemon = DaemonGuard::start(&env);
    wait_until("the missed record", || {
        history(&env, "t").iter().any(|r| r["outcome"] == "missed")
    });
    let answers = why(&env, &["t", "-n", "30"]);
    let ran = answers.iter().filter(|a| a["what"] == "ran").count();
    assert!(ran >= 2, "{answers:?}");
    let missed: Vec<_> = answers.iter().filter(|a| a["what"] == "missed").collect();
    assert!(missed.len() >= 2, "{answers:?}");
    // Not necessarily the newest: a loaded machine may skip a late instant.
    assert!(
        missed.iter().any(|a| a["text"]
            .as_str()
            .unwrap()
            .contains("the daemon was not running (from")),
        "{missed:?}"
    );
    // Newest first.
    let instants: Vec<&str> = answers
        .iter()
        .map(|a| a["instant"].as_str().unwrap())
        .collect();
    let mut sorted = instants.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(instants, sorted);
    let text = env.kron(&["why", "t", "-n", "30"]).output();
    text.success();
    assert!(
        text.stdout().starts_with("t: `* * * * * *`"),
        "{}",
        text.stdout()
    );
    assert!(text.stdout().contains("  ran at "), "{}", text.stdout());
    assert!(
        text.stdout().contains("did not run: missed "),
        "{}",
        text.stdout()
    );
}

#[test]
fn a_skip_names_the_run_that_held_the_lock() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "[tasks.slow]\nschedule = \"* * * * * *\"\ncommand = \"sleep 2.5\"\nworkdir = {:?}\n",
        dir.display().to_string()
    ));
    let _daemon = DaemonGuard::start(&env);
    wait_until("a run was skipped", || {
        history(&env, "slow")
            .iter()
            .any(|r| r["outcome"] == "skipped")
    });
    let answers = why(&env, &["slow", "-n", "10"]);
    let skipped = answers
        .iter()
        .find(|a| a["what"] == "skipped")
        .unwrap_or_else(|| panic!("{answers:?}"));
    let text = skipped["text"].as_str().unwrap();
    assert!(
        text.starts_with("skipped: lock `slow` is held by run 20"),
        "{text}"
    );
}

#[test]
fn an_unknown_task_is_refused() {
    let env = Env::new();
    env.write_task_file("");
    env.kron(&["why", "nosuch"]).output().code(2);
}

#[test]
fn instants_of_a_pause_are_one_missed_record_on_resume() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "[tasks.t]\nschedule = \"* * * * * *\"\ncommand = \"true\"\nworkdir = {:?}\n\
         on_missed = \"touch hook-ran\"\n",
        dir.display().to_string()
    ));
    let state = env.path().join("state/kron/state.json");
    let _daemon = DaemonGuard::start(&env);
    wait_until("t ran", || !history(&env, "t").is_empty());
    env.kron(&["pause", "t"]).output().success();
    wait_until("the daemon saw the pause", || {
        std::fs::read_to_string(&state).is_ok_and(|s| s.contains("\"paused\""))
    });
    let paused = jiff::Timestamp::now().as_second();
    wait_until("instants pass", || {
        jiff::Timestamp::now().as_second() >= paused + 3
    });
    // While the pause goes on, why says so.
    let answers = why(&env, &["t", "-n", "2"]);
    assert_eq!(answers[0]["what"], "paused", "{answers:?}");
    assert!(
        answers[0]["text"]
            .as_str()
            .unwrap()
            .starts_with("not run: paused since "),
        "{answers:?}"
    );
    env.kron(&["resume", "t"]).output().success();
    wait_until("the pause's missed record", || {
        history(&env, "t").iter().any(|r| {
            r["reason"]
                .as_str()
                .is_some_and(|s| s.contains("the task was paused"))
        })
    });
    let records = history(&env, "t");
    // Only the pause's: a loaded machine may also skip a late instant.
    let missed: Vec<_> = records
        .iter()
        .filter(|r| {
            r["outcome"] == "missed"
                && r["reason"]
                    .as_str()
                    .is_some_and(|s| s.contains("the task was paused"))
        })
        .collect();
    assert_eq!(
        missed.len(),
        1,
        "one record for the whole pause: {records:?}"
    );
    let reason = missed[0]["reason"].as_str().unwrap();
    assert!(reason.contains(": the task was paused (from "), "{reason}");
    assert!(
        missed[0]["missed"]["count"].as_u64().unwrap() >= 2,
        "{reason}"
    );
    let answers = why(&env, &["t", "-n", "30"]);
    assert!(
        answers.iter().any(|a| a["what"] == "missed"
            && a["text"]
                .as_str()
                .unwrap()
                .contains("the task was paused (from ")),
        "{answers:?}"
    );
    // The task runs again; a pause was the user's, so no on_missed.
    let ran = records.len();
    wait_until("t runs again", || history(&env, "t").len() > ran);
    assert!(!dir.join("hook-ran").exists());
}

#[test]
fn an_instant_a_clock_change_moved_says_so_from_the_engine() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.t]\nschedule = \"30 2 * * *\"\ntimezone = \"Europe/Berlin\"\ncommand = \"true\"\n",
    );
    // 03:00 CEST on 2027-03-28: the run for 02:30, which does not exist.
    let answers = why(&env, &["t", "--at", "2027-03-28T01:00:00Z", "-n", "2"]);
    assert_eq!(answers[0]["instant"], "2027-03-28T01:00:00Z", "{answers:?}");
    let note = "02:30 does not exist (DST gap in Europe/Berlin): runs at 03:00 as the schedule \
                rule says";
    assert_eq!(answers[0]["dst"], note, "{answers:?}");
    assert!(
        answers[0]["text"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{note}; ")),
        "{answers:?}"
    );
    // The day before is an ordinary 02:30.
    assert!(answers[1].get("dst").is_none(), "{answers:?}");
    let autumn = why(&env, &["t", "--at", "2027-10-31T00:30:00Z", "-n", "1"]);
    assert_eq!(
        autumn[0]["dst"],
        "02:30 happens twice (DST overlap in Europe/Berlin): runs once, at the first, as the \
         schedule rule says"
    );
    let text = env
        .kron(&["why", "t", "--at", "2027-03-28T01:00:00Z", "-n", "1"])
        .output();
    text.success();
    assert!(
        text.stdout()
            .contains(&format!("  Sun 2027-03-28 03:00 +02:00  {note}; ")),
        "{}",
        text.stdout()
    );
}
