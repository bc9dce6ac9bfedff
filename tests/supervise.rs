//! `kron __supervise --run ...`: one supervisor for the runs the daemon
//! finds due at once, a thread each. The runs go on side by side, each is
//! stopped on its own, a run that must wait for its lock moves to a
//! supervisor of its own, and standard output names each run that ended.

use crate::util::daemon::DaemonGuard;
use crate::util::{
    DEADLINE, Env, history, registry, task, wait_for, wait_until, wait_with_deadline,
};

/// The ended runs the supervisor reported, sorted.
fn reported(stdout: &str) -> Vec<&str> {
    let mut names: Vec<&str> = stdout.lines().collect();
    names.sort_unstable();
    names
}

fn registered(env: &Env) -> usize {
    registry(env).len()
}

#[test]
fn the_runs_of_one_supervisor_go_on_side_by_side() {
    let env = Env::new();
    let dir = env.work();
    // Each waits for the other to have started: both succeed only if they
    // run at the same time.
    let meet =
        |me: &str, other: &str| format!("echo $PPID > {me}; {}; [ -e {other} ]", wait_for(other));
    env.write_task_file(&format!(
        "{}{}",
        task("a", &meet("a", "b"), &dir, ""),
        task("b", &meet("b", "a"), &dir, "")
    ));
    let child = env
        .kron(&[
            "__supervise",
            "--run",
            "a,schedule,2026-03-08T03:00:00Z,-",
            "--run",
            "b,manual,-,run-b",
        ])
        .spawn();
    let pid = child.id();
    let out = wait_with_deadline(child, DEADLINE);
    out.success();
    assert_eq!(reported(&out.stdout()), ["a", "b"]);
    for name in ["a", "b"] {
        let parent = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(parent.trim(), pid.to_string(), "{name}'s parent");
    }
    let a = &history(&env, "a")[0];
    assert_eq!(a["outcome"], "success");
    assert_eq!(a["trigger"], "schedule");
    assert_eq!(a["scheduled"], "2026-03-08T03:00:00Z");
    let b = &history(&env, "b")[0];
    assert_eq!(b["outcome"], "success");
    assert_eq!(b["trigger"], "manual");
    assert_eq!(b["run_id"], "run-b");
    assert_eq!(registered(&env), 0, "the registry is left empty");
}

#[test]
fn kill_stops_one_run_of_a_supervisor_and_not_the_others() {
    let env = Env::new();
    let dir = env.work();
    let waits = wait_for("gate");
    env.write_task_file(&format!(
        "{}{}",
        task("a", &waits, &dir, ""),
        task("b", &format!("{waits}; echo b done"), &dir, "")
    ));
    let child = env
        .kron(&[
            "__supervise",
            "--run",
            "a,schedule,-,-",
            "--run",
            "b,schedule,-,-",
        ])
        .spawn();
    wait_until("both runs are registered", || registered(&env) == 2);
    env.kron(&["kill", "a"]).output().success();
    assert_eq!(history(&env, "a")[0]["outcome"], "interrupted");
    assert!(history(&env, "b").is_empty(), "b goes on");
    assert_eq!(registered(&env), 1);
    std::fs::write(dir.join("gate"), "").unwrap();
    let out = wait_with_deadline(child, DEADLINE);
    out.success();
    assert_eq!(reported(&out.stdout()), ["a", "b"]);
    assert_eq!(history(&env, "b")[0]["outcome"], "success");
}

#[test]
fn a_run_that_must_wait_for_its_lock_waits_in_a_supervisor_of_its_own() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}{}{}",
        task("holder", &wait_for("gate"), &dir, "lock = \"q\""),
        task("q", "echo queued ran", &dir, "overlap = \"queue\""),
        task("x", "echo x ran", &dir, "")
    ));
    let holder = env.kron(&["run", "holder"]).spawn();
    let lock = env.path().join("runtime/kron/locks/q.lock");
    wait_until("holder holds lock q", || {
        std::fs::File::open(&lock).is_ok_and(|f| f.try_lock().is_err())
    });
    let batch = env
        .kron(&[
            "__supervise",
            "--run",
            "q,schedule,-,run-q",
            "--run",
            "x,schedule,-,-",
        ])
        .spawn();
    // x is not held up by q, whose run waits in the queue meanwhile.
    wait_until("x ran", || !history(&env, "x").is_empty());
    let queue = env.path().join("runtime/kron/locks/q.queue");
    wait_until("q waits in the queue", || {
        std::fs::File::open(&queue).is_ok_and(|f| f.try_lock().is_err())
    });
    assert!(history(&env, "q").is_empty());
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(holder, DEADLINE).success();
    // Standard output closes once the handed-off run has ended too.
    let out = wait_with_deadline(batch, DEADLINE);
    out.success();
    assert_eq!(reported(&out.stdout()), ["q", "x"]);
    let q = &history(&env, "q")[0];
    assert_eq!(q["outcome"], "success");
    assert_eq!(q["run_id"], "run-q");
    let holder = &history(&env, "holder")[0];
    assert!(q["started"].as_str() >= holder["finished"].as_str());
}

#[test]
fn a_bad_run_spec_is_refused() {
    let env = Env::new();
    let out = env
        .kron(&["__supervise", "--run", "a,sometimes,-,-"])
        .output();
    out.code(2);
    assert!(
        out.stderr().contains("--run `a,sometimes,-,-`"),
        "{}",
        out.stderr()
    );
}

/// An environment whose task `t` runs `true` every second.
fn every_second_true() -> Env {
    let env = Env::new();
    let text = task("t", "true", &env.work(), "").replace("\"@daily\"", "\"* * * * * *\"");
    env.write_task_file(&text);
    env
}

#[test]
fn what_a_daemons_supervisor_says_reaches_the_daemons_log() {
    let env = every_second_true();
    // A run log that cannot be opened: the run goes on, with a warning.
    let logs = env.path().join("state/kron/logs");
    std::fs::create_dir_all(logs.join("t.log")).unwrap();
    let daemon = DaemonGuard::start(&env);
    wait_until("t ran", || !history(&env, "t").is_empty());
    wait_until("the supervisor's warning is in the daemon's log", || {
        daemon
            .log()
            .lines()
            .any(|l| l.contains(" WARN supervisor ") && l.contains(": t: ") && l.contains("t.log"))
    });
}

#[test]
fn a_run_whose_task_cannot_be_read_is_recorded_as_a_failure() {
    let env = every_second_true();
    let daemon = DaemonGuard::start(&env);
    let snapshot = env.path().join("runtime/kron/loaded/t.toml");
    wait_until("t ran", || !history(&env, "t").is_empty());
    // Not a file any more: the daemon does not write it again (it only
    // rewrites a snapshot that is missing), and the supervisor cannot read it.
    std::fs::remove_file(&snapshot).unwrap();
    std::fs::create_dir(&snapshot).unwrap();
    wait_until("a run of t failed to start", || {
        history(&env, "t").iter().any(|r| r["outcome"] == "failure")
    });
    let failed = history(&env, "t")
        .into_iter()
        .find(|r| r["outcome"] == "failure")
        .unwrap();
    assert_eq!(failed["attempts"], 0);
    let reason = failed["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("not run: ") && reason.contains("t.toml"),
        "{reason}"
    );
    assert!(
        daemon.log().contains("not run: "),
        "the reason is in the daemon's log too:\n{}",
        daemon.log()
    );
}

#[test]
fn a_deleted_snapshot_is_written_again_and_the_task_goes_on() {
    let env = every_second_true();
    let daemon = DaemonGuard::start(&env);
    let snapshot = env.path().join("runtime/kron/loaded/t.toml");
    wait_until("t ran", || !history(&env, "t").is_empty());
    std::fs::remove_file(&snapshot).unwrap();
    let before = history(&env, "t").len();
    // (A supervisor started just before the removal may miss it.)
    wait_until("t succeeded twice more", || {
        let records = history(&env, "t");
        records[before..]
            .iter()
            .filter(|r| r["outcome"] == "success")
            .count()
            >= 2
    });
    assert!(snapshot.is_file());
    assert!(
        daemon.log().contains("its snapshot") && daemon.log().contains("wrote it again"),
        "{}",
        daemon.log()
    );
}
