//! Locks and overlap policies: `skip`, `queue`, `replace`, `allow`, shared
//! lock names, and the lock file shared with `flock(1)`. Commands wait for
//! gate files the tests create; nothing depends on a sleep.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use nix::sys::signal::Signal;

use crate::util::{
    DEADLINE, Env, gone, history, signal, task, wait_for, wait_until, wait_with_deadline,
};

fn lock_file(env: &Env, name: &str) -> PathBuf {
    env.path().join(format!("runtime/kron/locks/{name}.lock"))
}

/// Whether someone holds the flock on `path`.
fn held(path: &Path) -> bool {
    File::open(path).is_ok_and(|f| f.try_lock().is_err())
}

/// A command whose first run waits for `gate` and whose later runs say so.
fn first_waits(gate: &str) -> String {
    format!(
        "if [ -e first ]; then echo later; else touch first; echo first; {}; fi",
        wait_for(gate)
    )
}

/// Task `t` (overlap `queue`) run twice with `kron run`: the first run
/// waits for `gate`, the second for the lock. Returns both and the queue
/// lock's path.
fn first_and_queued(env: &Env, dir: &Path) -> (Child, Child, PathBuf) {
    env.write_task_file(&task("t", &first_waits("gate"), dir, "overlap = \"queue\""));
    let first = env.kron(&["run", "t"]).spawn();
    wait_until("the first run holds the lock", || {
        held(&lock_file(env, "t"))
    });
    let queued = env.kron(&["run", "t"]).spawn();
    let queue = env.path().join("runtime/kron/locks/t.queue");
    wait_until("the second run waits in the queue", || held(&queue));
    (first, queued, queue)
}

/// Task `t`'s history as (outcome, attempts), oldest first.
fn outcomes_and_attempts(env: &Env) -> Vec<(serde_json::Value, serde_json::Value)> {
    history(env, "t")
        .iter()
        .map(|r| (r["outcome"].clone(), r["attempts"].clone()))
        .collect()
}

#[test]
fn skip_records_the_skipped_run() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", &first_waits("gate"), &dir, ""));
    let first = env.kron(&["run", "t"]).spawn();
    wait_until("the first run holds the lock", || {
        held(&lock_file(&env, "t"))
    });
    let second = env.kron(&["run", "t"]).output();
    second.code(1);
    assert!(second.stderr().contains("t skipped"), "{}", second.stderr());
    assert_eq!(second.stdout(), "");
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(first, DEADLINE).success();
    let outcomes = outcomes_and_attempts(&env);
    assert_eq!(
        outcomes,
        [("skipped".into(), 0.into()), ("success".into(), 1.into())]
    );
}

#[test]
fn queue_keeps_one_waiting_run() {
    let env = Env::new();
    let dir = env.work();
    let (first, queued, _) = first_and_queued(&env, &dir);
    // At most one waiting run: a third is skipped.
    let third = env.kron(&["run", "t"]).output();
    third.code(1);
    assert!(
        third.stderr().contains("already waits"),
        "{}",
        third.stderr()
    );
    std::fs::write(dir.join("gate"), "").unwrap();
    let first = wait_with_deadline(first, DEADLINE);
    first.success();
    assert_eq!(first.stdout(), "first\n");
    let queued = wait_with_deadline(queued, DEADLINE);
    queued.success();
    assert_eq!(queued.stdout(), "later\n");
    let records = history(&env, "t");
    let outcomes: Vec<_> = records.iter().map(|r| r["outcome"].clone()).collect();
    assert_eq!(outcomes, ["skipped", "success", "success"]);
    // The queued run started after the first finished.
    assert!(records[2]["started"].as_str() >= records[1]["finished"].as_str());
}

#[test]
fn a_waiting_run_can_be_interrupted() {
    let env = Env::new();
    let dir = env.work();
    let (first, queued, queue) = first_and_queued(&env, &dir);
    signal(queued.id(), Signal::SIGTERM);
    wait_with_deadline(queued, DEADLINE).code(128 + 15);
    assert!(!held(&queue));
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(first, DEADLINE).success();
    let outcomes = outcomes_and_attempts(&env);
    assert_eq!(
        outcomes,
        [
            ("interrupted".into(), 0.into()),
            ("success".into(), 1.into())
        ]
    );
}

#[test]
fn a_waiting_run_shows_in_status_and_kill_cancels_it() {
    let env = Env::new();
    let dir = env.work();
    let (first, queued, _) = first_and_queued(&env, &dir);
    let status = || {
        let out = env.kron(&["status", "--json"]).output();
        out.success();
        let report: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
        report["running"].as_array().unwrap().clone()
    };
    wait_until("status shows the waiting run", || {
        status().iter().any(|r| r["waiting"] == true)
    });
    let text = env.kron(&["status"]).output();
    assert!(text.stdout().contains("waiting"), "{}", text.stdout());
    // `kron kill` stops both: the running one and the waiting one.
    env.kron(&["kill", "t"]).output().success();
    wait_with_deadline(queued, DEADLINE).code(128 + 15);
    wait_with_deadline(first, DEADLINE).code(128 + 15);
    assert!(status().is_empty());
    let outcomes: Vec<_> = history(&env, "t")
        .iter()
        .map(|r| r["outcome"].clone())
        .collect();
    assert_eq!(outcomes, ["interrupted", "interrupted"]);
}

#[test]
fn replace_stops_the_running_one() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        &first_waits("never"),
        &dir,
        "overlap = \"replace\"\nkill_grace = \"2s\"\nretry = { attempts = 3, backoff = \"10ms\" }",
    ));
    let first = env.kron(&["run", "t"]).spawn();
    wait_until("the first command started", || dir.join("first").exists());
    let second = wait_with_deadline(env.kron(&["run", "t"]).spawn(), DEADLINE);
    second.success();
    assert_eq!(second.stdout(), "later\n");
    wait_with_deadline(first, DEADLINE).code(128 + 15);
    let outcomes = outcomes_and_attempts(&env);
    assert_eq!(
        outcomes,
        [
            ("interrupted".into(), 1.into()),
            ("success".into(), 1.into())
        ]
    );
}

#[test]
fn allow_runs_side_by_side_without_a_lock() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        &first_waits("gate"),
        &dir,
        "overlap = \"allow\"",
    ));
    let first = env.kron(&["run", "t"]).spawn();
    wait_until("the first run started", || dir.join("first").exists());
    assert!(!held(&lock_file(&env, "t")));
    let second = env.kron(&["run", "t"]).output();
    second.success();
    assert_eq!(second.stdout(), "later\n");
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(first, DEADLINE).success();
    assert_eq!(history(&env, "t").len(), 2);
}

#[test]
fn tasks_sharing_a_lock_name_never_run_at_once() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}{}",
        task(
            "a",
            &format!("touch a-started; {}", wait_for("gate")),
            &dir,
            "lock = \"db\""
        ),
        task("b", "touch b-ran", &dir, "lock = \"db\""),
    ));
    let a = env.kron(&["run", "a"]).spawn();
    wait_until("a holds the db lock", || held(&lock_file(&env, "db")));
    env.kron(&["run", "b"]).output().code(1);
    assert!(!dir.join("b-ran").exists());
    assert_eq!(history(&env, "b")[0]["outcome"], "skipped");
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(a, DEADLINE).success();
    env.kron(&["run", "b"]).output().success();
    assert!(dir.join("b-ran").exists());
}

#[test]
fn the_lock_file_is_shared_with_flock() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        &format!("touch ran; {}", wait_for("gate")),
        &dir,
        "",
    ));
    let path = lock_file(&env, "t");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // flock(1) holds the documented path: kron skips.
    let mut holder = Command::new("flock")
        .arg(&path)
        .args([
            "-c",
            &format!("touch {0}/held; {1}", dir.display(), wait_for("gate")),
        ])
        .current_dir(&dir)
        .spawn()
        .expect("flock(1) runs");
    wait_until("flock holds the lock", || dir.join("held").exists());
    env.kron(&["run", "t"]).output().code(1);
    assert!(!dir.join("ran").exists());
    std::fs::write(dir.join("gate"), "").unwrap();
    assert!(holder.wait().unwrap().success());
    std::fs::remove_file(dir.join("gate")).unwrap();
    // kron holds it: `flock -n` fails, then succeeds once the run ended.
    let run = env.kron(&["run", "t"]).spawn();
    wait_until("the run started", || dir.join("ran").exists());
    let try_lock = || {
        Command::new("flock")
            .arg("-n")
            .arg(&path)
            .arg("true")
            .status()
            .unwrap()
    };
    assert_eq!(try_lock().code(), Some(1));
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(run, DEADLINE).success();
    assert!(try_lock().success());
}

/// Starts `kron run --detach t` (task `t` with `extra` lines, its first
/// run waiting for `never`), waits until its command runs, and kills its
/// supervisor with SIGKILL. Returns the run id and the command's pid.
fn detached_run_whose_supervisor_is_killed(env: &Env, extra: &str) -> (String, i32) {
    let dir = env.work();
    // As `first_waits`, but printing before it touches `first`: its output
    // has no reader once the supervisor is killed (SIGPIPE).
    let command = format!(
        "if [ -e first ]; then echo later; else echo first; touch first; {}; fi",
        wait_for("never")
    );
    env.write_task_file(&task("t", &command, &dir, extra));
    let out = env.kron(&["run", "--detach", "t"]).output();
    out.success();
    let run_id = out.stdout().trim().to_string();
    let entry = env
        .path()
        .join(format!("runtime/kron/running/{run_id}.json"));
    let mut registered = serde_json::Value::Null;
    wait_until("the run is registered with its command", || {
        registered = std::fs::read(&entry)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        registered["pgid"].is_i64() && dir.join("first").exists()
    });
    let supervisor = registered["supervisor_pid"].as_i64().unwrap() as i32;
    let command = registered["pgid"].as_i64().unwrap() as i32;
    signal(supervisor as u32, Signal::SIGKILL);
    wait_until("the supervisor is gone", || gone(supervisor));
    assert!(!gone(command), "the command runs on without its supervisor");
    (run_id, command)
}

#[test]
fn a_killed_supervisors_command_keeps_the_lock() {
    let env = Env::new();
    let (run_id, command) = detached_run_whose_supervisor_is_killed(&env, "");
    let lock = lock_file(&env, "t");
    // The command inherited the lock: no second copy starts beside it.
    assert!(held(&lock));
    let second = env.kron(&["run", "t"]).output();
    second.code(1);
    assert_eq!(second.stdout(), "");
    let reason = history(&env, "t")[0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.starts_with("lock `t` is held by pid")
            && reason.ends_with(&format!("(run {run_id}, its supervisor is gone)")),
        "{reason}"
    );
    let pids = reason
        .trim_start_matches("lock `t` is held by pids ")
        .trim_start_matches("lock `t` is held by pid ");
    assert!(
        pids.split([',', ' ']).any(|p| p == command.to_string()),
        "{reason} names the command ({command})"
    );
    assert!(second.stderr().contains(&reason), "{}", second.stderr());
    // Until the command ends: here, stopped by the recovery of its run,
    // which kron run started once it had tried.
    wait_until("the command ends", || gone(command));
    wait_until("the lock is free", || !held(&lock));
    wait_until("the orphaned run is recorded", || {
        history(&env, "t")
            .iter()
            .any(|r| r["run_id"] == run_id.as_str() && r["outcome"] == "interrupted")
    });
    env.kron(&["run", "t"]).output().success();
}

#[test]
fn replace_stops_a_killed_supervisors_command() {
    let env = Env::new();
    let (_, command) = detached_run_whose_supervisor_is_killed(&env, "overlap = \"replace\"");
    let second = wait_with_deadline(env.kron(&["run", "t"]).spawn(), DEADLINE);
    second.success();
    assert_eq!(second.stdout(), "later\n");
    assert!(gone(command));
    assert!(!held(&lock_file(&env, "t")));
}

#[test]
fn a_skipped_run_names_a_holder_kron_did_not_start() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", "true", &dir, ""));
    let path = lock_file(&env, "t");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut holder = Command::new("flock")
        .arg(&path)
        .args(["-c", &format!("touch held; {}", wait_for("gate"))])
        .current_dir(&dir)
        .spawn()
        .expect("flock(1) runs");
    wait_until("flock holds the lock", || dir.join("held").exists());
    let skipped = env.kron(&["run", "t"]).output();
    skipped.code(1);
    let reason = history(&env, "t")[0]["reason"].clone();
    let reason = reason.as_str().unwrap();
    assert!(reason.starts_with("lock `t` is held by pid"), "{reason}");
    assert!(
        reason.contains(", not started by kron; the lock is "),
        "{reason}"
    );
    std::fs::write(dir.join("gate"), "").unwrap();
    assert!(holder.wait().unwrap().success());
}

#[test]
fn a_run_that_waits_for_its_lock_past_max_lateness_is_missed_not_started() {
    use crate::util::daemon::DaemonGuard;
    let env = Env::new();
    let dir = env.work();
    let hook = "echo \"$KRON_MISSED_REASON\" > missed.tmp; mv missed.tmp missed.txt";
    env.write_task_file(&format!(
        "[tasks.late]\nschedule = \"* * * * * *\"\noverlap = \"queue\"\nlock = \"disk\"\n\
         max_lateness = \"1s\"\ncommand = \"echo ran >> runs\"\nworkdir = {:?}\n\
         on_missed = {hook:?}\n",
        dir.display().to_string()
    ));
    // Another task's run holds the lock, as long as the test wants.
    let path = lock_file(&env, "disk");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let lock = File::create(&path).unwrap();
    lock.lock().unwrap();
    let _daemon = DaemonGuard::start(&env);
    let mut scheduled = None;
    wait_until("a run waits for the lock", || {
        scheduled = crate::util::registry(&env)
            .iter()
            .find(|r| r["waiting"] == true)
            .and_then(|r| r["scheduled"].as_str().map(String::from));
        scheduled.is_some()
    });
    let scheduled = scheduled.unwrap();
    let at: jiff::Timestamp = scheduled.parse().unwrap();
    wait_until("the waiting run is past its max_lateness", || {
        jiff::Timestamp::now().as_second() >= at.as_second() + 3
    });
    drop(lock);
    let of_it = |r: &&serde_json::Value| r["scheduled"] == scheduled.as_str();
    wait_until("the waiting run's record", || {
        history(&env, "late").iter().any(|r| of_it(&r))
    });
    let records = history(&env, "late");
    let record = records.iter().find(of_it).unwrap();
    assert_eq!(record["outcome"], "missed", "{record}");
    assert_eq!(record["attempts"], 0, "{record}");
    assert_eq!(record["missed"]["count"], 1, "{record}");
    let reason = record["reason"].as_str().unwrap();
    assert!(
        reason.contains(": it waited for lock `disk` until ")
            && reason.ends_with("past max_lateness = 1s"),
        "{reason}"
    );
    // Its supervisor follows the record as any run: on_missed.
    wait_until("on_missed ran", || dir.join("missed.txt").exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("missed.txt")).unwrap(),
        format!("{reason}\n")
    );
    // The lock is free: later instants run.
    wait_until("a later run", || dir.join("runs").exists());
}
