//! What a command leaves in its process group when its main process exits:
//! kept and recorded by default, stopped and recorded with `leftovers =
//! "kill"`. Each test kills what it started, whatever happens.

use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::util::{Env, gone, history, task, wait_for, wait_until};

/// Kills the processes whose pids are in these files when dropped.
struct KillOnDrop<'a>(Vec<&'a Path>);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        for file in &self.0 {
            if let Some(pid) = pid_in(file) {
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

fn pid_in(file: &Path) -> Option<i32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// A quiet background process: its output closed, its pid in `FILE`.
fn quiet(file: &str) -> String {
    format!("sleep 60 </dev/null >/dev/null 2>&1 & echo $! > {file}")
}

fn pids(record: &serde_json::Value, key: &str) -> Vec<i64> {
    record[key]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_i64).collect())
        .unwrap_or_default()
}

#[test]
fn a_quiet_leftover_is_kept_by_default_and_recorded() {
    let env = Env::new();
    let dir = env.work();
    let pid_file = dir.join("bg.pid");
    let _cleanup = KillOnDrop(vec![&pid_file]);
    env.write_task_file(&task(
        "t",
        &format!("{}; echo done", quiet("bg.pid")),
        &dir,
        "",
    ));
    let out = env.kron(&["run", "t"]).output();
    out.success();
    assert_eq!(out.stdout(), "done\n");
    let pid = pid_in(&pid_file).expect("the command wrote its child's pid");
    assert!(
        out.stderr().contains(&format!(
            "t: the command left 1 process (pid {pid}) running"
        )),
        "{}",
        out.stderr()
    );
    assert!(!gone(pid), "kept");
    let record = &history(&env, "t")[0];
    assert_eq!(record["outcome"], "success");
    assert_eq!(pids(record, "leftovers"), [i64::from(pid)]);
    assert!(record.get("leftovers_stopped").is_none(), "{record}");
    let table = env.kron(&["history", "t"]).output();
    assert!(
        table.stdout().contains("exit 0 (1 left)"),
        "{}",
        table.stdout()
    );
    let log = String::from_utf8_lossy(&crate::util::log(&env, "t")).into_owned();
    assert!(
        log.contains(&format!("; left 1 process (pid {pid}) running")),
        "{log}"
    );
    // It holds the task's lock, as under flock(1): the next run is skipped
    // and says by whom.
    let again = env.kron(&["run", "t"]).output();
    again.code(1);
    let run_id = record["run_id"].as_str().unwrap();
    let reason = history(&env, "t")[1]["reason"].clone();
    assert_eq!(
        reason,
        format!("lock `t` is held by pid {pid} (left running by run {run_id}, which ended)")
            .as_str()
    );
}

#[test]
fn kill_stops_the_leftovers_and_records_them() {
    let env = Env::new();
    let dir = env.work();
    let (plain, stubborn) = (dir.join("plain.pid"), dir.join("stubborn.pid"));
    let _cleanup = KillOnDrop(vec![&plain, &stubborn]);
    // One leftover dies of SIGTERM, the other ignores it (once it says so)
    // and needs SIGKILL.
    let command = format!(
        "{}; (trap '' TERM; touch ignoring; exec sleep 60) </dev/null >/dev/null 2>&1 & \
         echo $! > stubborn.pid; {}",
        quiet("plain.pid"),
        wait_for("ignoring")
    );
    env.write_task_file(&format!(
        "[defaults]\nleftovers = \"kill\"\nkill_grace = \"1s\"\n\n{}",
        task("t", &command, &dir, "")
    ));
    let show = env.kron(&["show", "t"]).output();
    show.success();
    assert!(
        show.stdout().lines().any(
            |l| l.split_whitespace().collect::<Vec<_>>() == ["leftovers", "kill", "[defaults]"]
        ),
        "{}",
        show.stdout()
    );
    let started = std::time::Instant::now();
    let out = env.kron(&["run", "t"]).output();
    out.success();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "SIGKILL came after kill_grace"
    );
    let (plain, stubborn) = (pid_in(&plain).unwrap(), pid_in(&stubborn).unwrap());
    // Stopped before the run was recorded.
    assert!(gone(plain) && gone(stubborn));
    let record = &history(&env, "t")[0];
    assert_eq!(record["outcome"], "success");
    let mut both = [i64::from(plain), i64::from(stubborn)];
    both.sort_unstable();
    assert_eq!(pids(record, "leftovers_stopped"), both);
    assert!(record.get("leftovers").is_none(), "{record}");
    assert!(
        out.stderr().contains("t: stopped 2 processes (pids "),
        "{}",
        out.stderr()
    );
    let table = env.kron(&["history", "t"]).output();
    assert!(
        table.stdout().contains("exit 0 (2 stopped)"),
        "{}",
        table.stdout()
    );
    // The lock went with them.
    env.kron(&["run", "t"]).output().success();
    wait_until("the second run's leftovers are gone too", || {
        pid_in(&dir.join("plain.pid")).is_some_and(gone)
    });
}

#[test]
fn a_bad_leftovers_value_is_an_error_with_its_place() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", "true", &dir, "leftovers = \"stop\""));
    let out = env.kron(&["check"]).output();
    out.code(2);
    assert!(
        out.stderr()
            .contains("tasks.t.leftovers: `stop` is not one of keep, kill"),
        "{}",
        out.stderr()
    );
}
