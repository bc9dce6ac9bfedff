//! Faults of kron's own processes and files, made real: the daemon
//! SIGKILLed just as a run starts and restarted at once, its runtime
//! directory removed under it, a start right after a SIGKILL.

use std::collections::BTreeMap;

use nix::sys::signal::Signal;

use crate::util::daemon::DaemonGuard;
use crate::util::{Env, gone, history, lines, registry, signal, wait_until};

/// An every-second task that appends the instant it is for to `seen`.
fn every_second(env: &Env) -> std::path::PathBuf {
    let dir = env.work();
    let seen = dir.join("seen");
    env.write_task_file(&format!(
        "[tasks.t]\nschedule = \"* * * * * *\"\ncatch_up = \"all\"\ncommand = 'echo \"$KRON_SCHEDULED_AT\" >> {}'\n",
        seen.display()
    ));
    seen
}

/// The instants that ran more than once, with how often.
fn twice(seen: &std::path::Path) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in lines(seen) {
        *counts.entry(line).or_insert(0) += 1;
    }
    counts.retain(|_, n| *n > 1);
    counts
}

#[test]
fn a_daemon_killed_as_runs_start_and_restarted_at_once_runs_no_instant_twice() {
    let env = Env::new();
    let seen = every_second(&env);
    let mut daemon = DaemonGuard::start(&env);
    for kill in 0..8 {
        // Just after a run of the new second has started: its supervisor
        // is registered, the daemon has moved on to saving its memory.
        let before = lines(&seen).len();
        wait_until("a new run started", || lines(&seen).len() > before);
        daemon.signal(Signal::SIGKILL);
        daemon.wait_exit();
        daemon = DaemonGuard::start(&env);
        assert!(
            twice(&seen).is_empty(),
            "after kill {kill}: {:?}",
            twice(&seen)
        );
    }
    let before = lines(&seen).len();
    wait_until("runs go on", || lines(&seen).len() >= before + 2);
    drop(daemon);
    assert_eq!(twice(&seen), BTreeMap::new(), "instants that ran twice");
}

#[test]
fn the_runtime_directory_removed_under_the_daemon_is_made_again() {
    let env = Env::new();
    let seen = every_second(&env);
    let daemon = DaemonGuard::start(&env);
    wait_until("t ran", || !lines(&seen).is_empty());
    let runtime = env.path().join("runtime/kron");
    std::fs::remove_dir_all(&runtime).unwrap();
    wait_until("the socket is back", || runtime.join("kron.sock").exists());
    for file in ["daemon.lock", "loaded/t.toml"] {
        assert!(runtime.join(file).exists(), "{file} is back");
    }
    // A verb that starts the daemon when none runs finds this one.
    let out = env
        .kron(&["add", "u", "--schedule", "@daily", "--", "true"])
        .autostart()
        .output();
    out.success();
    assert!(
        !out.stderr().contains("started the daemon"),
        "{}",
        out.stderr()
    );
    let status = env.kron(&["daemon", "status"]).output();
    status.success();
    assert!(
        status.stdout().contains(&format!("pid {}", daemon.pid)),
        "{}",
        status.stdout()
    );
    let before = lines(&seen).len();
    wait_until("runs go on", || lines(&seen).len() >= before + 2);
    assert_eq!(twice(&seen), BTreeMap::new(), "instants that ran twice");
    assert!(daemon.log().contains("was removed"), "{}", daemon.log());
}

#[test]
fn a_second_daemon_is_refused_even_without_the_runtime_directory() {
    let env = Env::new();
    env.write_task_file("");
    let daemon = DaemonGuard::start(&env);
    // As if logind had removed it, and the daemon had not yet made it again:
    // the state directory's lock still says a daemon runs.
    let lock = env.path().join("state/kron/daemon.lock");
    let held = std::fs::File::open(&lock).unwrap();
    assert!(
        held.try_lock_shared().is_err(),
        "the daemon holds {}",
        lock.display()
    );
    let out = env.kron(&["daemon", "run"]).output();
    out.code(1);
    assert!(
        out.stderr()
            .contains(&format!("already running (pid {})", daemon.pid)),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_start_right_after_a_sigkill_waits_for_the_dead_daemon() {
    let env = Env::new();
    env.write_task_file("");
    for _ in 0..3 {
        let out = env.kron(&["daemon", "start"]).output();
        out.success();
        let pid: i32 = out
            .stdout()
            .trim()
            .trim_start_matches("started the daemon (pid ")
            .trim_end_matches(')')
            .parse()
            .unwrap_or_else(|_| panic!("{}", out.stdout()));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL).unwrap();
        // At once: the dead daemon may not be torn down yet.
        let out = env.kron(&["daemon", "start"]).output();
        out.success();
        assert!(
            out.stdout().starts_with("started the daemon"),
            "{}",
            out.stdout()
        );
        assert!(!out.stdout().contains(&format!("pid {pid})")));
        env.kron(&["daemon", "stop"]).output().success();
    }
}

/// Whether any process of group `pgid` lives (zombies that this sandbox's
/// PID 1 may never reap do not count).
fn group_alive(pgid: i64) -> bool {
    kron::procfs::group_alive(pgid as i32)
}

/// A task whose command starts two background sleeps and waits: three
/// processes in its group, for a minute unless stopped.
fn three_processes(env: &Env, name: &str, extra: &str) {
    let dir = env.work();
    let text = format!(
        "[tasks.{name}]\nschedule = \"@daily\"\ncommand = 'sleep 60 & sleep 60 & wait'\nworkdir = {:?}\ntimeout = \"5m\"\nkill_grace = \"2s\"\n{extra}\n",
        dir.display().to_string()
    );
    let mut all = env.read_task_file().unwrap_or_default();
    all.push_str(&text);
    env.write_task_file(&all);
}

/// The registry entries with a running command, once there are `n`.
#[track_caller]
fn wait_registered(env: &Env, n: usize) -> Vec<serde_json::Value> {
    wait_until("the runs are registered with their groups", || {
        registry(env).iter().filter(|r| r["pgid"].is_i64()).count() >= n
    });
    registry(env)
}

#[test]
fn a_supervisor_killed_mid_run_has_its_command_stopped_and_its_run_recorded() {
    let env = Env::new();
    three_processes(&env, "t", "");
    let daemon = DaemonGuard::start(&env);
    env.kron(&["run", "--detach", "t"]).output().success();
    let run = wait_registered(&env, 1).remove(0);
    let pgid = run["pgid"].as_i64().unwrap();
    let supervisor = run["supervisor_pid"].as_i64().unwrap() as u32;
    signal(supervisor, Signal::SIGKILL);
    // The daemon saw its supervisor go: the command is stopped, the run
    // recorded, the lock free again.
    wait_until("t is recorded", || !history(&env, "t").is_empty());
    let record = &history(&env, "t")[0];
    assert_eq!(record["outcome"], "interrupted", "{record}");
    assert_eq!(record["run_id"], run["run_id"]);
    assert_eq!(record["attempts"], 1);
    let reason = record["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("supervisor (pid {supervisor}) died")),
        "{reason}"
    );
    assert!(reason.contains("its command was stopped"), "{reason}");
    wait_until("its processes are gone", || !group_alive(pgid));
    assert!(registry(&env).is_empty());
    let lock = std::fs::File::open(env.path().join("runtime/kron/locks/t.lock")).unwrap();
    assert!(lock.try_lock().is_ok(), "the lock is free");
    drop(daemon);
}

#[test]
fn a_supervisor_of_three_runs_killed_leaves_three_records_and_no_process() {
    let env = Env::new();
    for name in ["a", "b", "c"] {
        three_processes(&env, name, "");
    }
    let mut supervisor = env
        .kron(&[
            "__supervise",
            "--run",
            "a,schedule,-,-",
            "--run",
            "b,schedule,-,-",
            "--run",
            "c,schedule,-,-",
        ])
        .spawn();
    let groups: Vec<i64> = wait_registered(&env, 3)
        .iter()
        .map(|r| r["pgid"].as_i64().unwrap())
        .collect();
    supervisor.kill().unwrap();
    supervisor.wait().unwrap();
    // No daemon: the next verb that reads the registry notices.
    let out = env.kron(&["status"]).output();
    out.success();
    wait_until("the three runs are recorded", || {
        ["a", "b", "c"].iter().all(|t| !history(&env, t).is_empty())
    });
    for task in ["a", "b", "c"] {
        assert_eq!(history(&env, task)[0]["outcome"], "interrupted");
    }
    wait_until("no process of theirs lives", || {
        groups.iter().all(|g| !group_alive(*g))
    });
}

#[test]
fn a_supervisor_killed_in_a_retry_wait_records_the_failed_attempt() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "[tasks.t]\nschedule = \"@daily\"\ncommand = 'echo tried; exit 3'\nworkdir = {:?}\nretry = {{ attempts = 2, backoff = \"1m\" }}\n",
        dir.display().to_string()
    ));
    let child = env.kron(&["run", "--detach", "t"]).output();
    child.success();
    // Between attempts: registered with no group.
    wait_until("t waits to retry", || {
        registry(&env)
            .iter()
            .any(|r| r["pgid"].is_null() && r["attempt"] == 1)
    });
    let supervisor = registry(&env)[0]["supervisor_pid"].as_i64().unwrap() as u32;
    signal(supervisor, Signal::SIGKILL);
    wait_until("the supervisor is gone", || gone(supervisor as i32));
    env.kron(&["status"]).output().success();
    wait_until("t is recorded", || !history(&env, "t").is_empty());
    let record = &history(&env, "t")[0];
    assert_eq!(record["outcome"], "interrupted");
    assert_eq!(record["attempts"], 1);
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("after attempt 1 (waiting to retry)"),
        "{record}"
    );
}

#[test]
fn a_foreground_kron_run_killed_is_stopped_and_recorded_by_the_next_verb() {
    let env = Env::new();
    three_processes(&env, "t", "");
    let mut run = env.kron(&["run", "t"]).spawn();
    let entry = wait_registered(&env, 1).remove(0);
    let pgid = entry["pgid"].as_i64().unwrap();
    run.kill().unwrap();
    run.wait().unwrap();
    assert!(group_alive(pgid), "the command outlived kron run");
    // kron status lists it as orphaned, and starts its recovery.
    let out = env.kron(&["status", "--json"]).output();
    out.success();
    let report: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(report["orphaned"][0]["run_id"], entry["run_id"], "{report}");
    wait_until("t is recorded", || !history(&env, "t").is_empty());
    assert_eq!(history(&env, "t")[0]["outcome"], "interrupted");
    wait_until("its processes are gone", || !group_alive(pgid));
}

/// A tmpfs mounted over a test's directory, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// `None` when this process may not mount (not root).
    fn mount(at: &std::path::Path, size: &str) -> Option<Tmpfs> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        let status = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .ok()?;
        status.success().then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system of `dir` with one file, and returns it.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    path
}

#[test]
fn runs_on_a_full_state_disk_are_counted_and_recorded_once_there_is_room() {
    let env = Env::new();
    let Some(_disk) = Tmpfs::mount(&env.path().join("state"), "512k") else {
        eprintln!("not root: no tmpfs to fill; skipped");
        return;
    };
    let dir = env.work();
    env.write_task_file(&format!(
        "[tasks.t]\nschedule = \"@daily\"\ncommand = \"true\"\nworkdir = {:?}\n",
        dir.display().to_string()
    ));
    // Full before the first record: its history file cannot get a block.
    let filler = fill(&env.path().join("state"));
    for _ in 0..2 {
        let out = env.kron(&["run", "t"]).output();
        out.success();
        assert!(
            out.stderr().contains("until there is room"),
            "{}",
            out.stderr()
        );
    }
    assert_eq!(history(&env, "t").len(), 0);
    let out = env.kron(&["status", "--json"]).output();
    let report: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(report["unrecorded"], 2, "{report}");
    let status = env.kron(&["status"]).output();
    assert!(
        status.stdout().contains("2 run(s) NOT recorded"),
        "{}",
        status.stdout()
    );
    let doctor = env.kron(&["doctor"]).output();
    assert!(
        doctor.stdout().contains("2 run(s) could not be recorded"),
        "{}",
        doctor.stdout()
    );
    // Room again: the next run writes the kept records too.
    std::fs::remove_file(filler).unwrap();
    env.kron(&["run", "t"]).output().success();
    let records = history(&env, "t");
    assert_eq!(records.len(), 3, "{records:?}");
    let out = env.kron(&["status", "--json"]).output();
    let report: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(report["unrecorded"], 0);
}
