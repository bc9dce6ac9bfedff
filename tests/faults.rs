//! Faults of kron's own processes and files, made real: the daemon
//! SIGKILLed just as a run starts and restarted at once, its runtime
//! directory removed under it, a start right after a SIGKILL.

use std::collections::BTreeMap;

use nix::sys::signal::Signal;

use crate::util::daemon::DaemonGuard;
use crate::util::{Env, lines, wait_until};

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
