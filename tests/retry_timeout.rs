//! Retries with their backoff, timeouts that stop a whole process group
//! (grandchildren included), and `kron kill`.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::util::{
    DEADLINE, Env, gone, history, log, signal, task, wait_for, wait_until, wait_with_deadline,
};

fn read_pid(path: &std::path::Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn failures_are_retried_after_growing_waits() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "echo \"$KRON_ATTEMPT\" >> attempts; exit 5",
        &dir,
        "retry = { attempts = 2, backoff = \"200ms\", factor = 2 }",
    ));
    let start = Instant::now();
    let out = env.kron(&["run", "t"]).output();
    let elapsed = start.elapsed();
    out.code(5);
    // 200ms, then 400ms: lower bounds only, as a loaded machine is slower.
    assert!(elapsed >= Duration::from_millis(600), "{elapsed:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("attempts")).unwrap(),
        "1\n2\n3\n"
    );
    assert!(
        out.stderr().contains("retrying in 200ms"),
        "{}",
        out.stderr()
    );
    assert!(
        out.stderr().contains("retrying in 400ms"),
        "{}",
        out.stderr()
    );
    let record = &history(&env, "t")[0];
    assert_eq!(record["attempts"], 3);
    assert_eq!(record["exit_code"], 5);
    assert!(record["duration_ms"].as_u64().unwrap() >= 600);
    let text = String::from_utf8(log(&env, "t")).unwrap();
    for n in 1..=3 {
        assert!(
            text.contains(&format!(" attempt {n}/3 trigger manual")),
            "{text}"
        );
    }
    assert!(text.contains("attempt 1/3 exit 5 after"), "{text}");
}

#[test]
fn a_retry_that_succeeds_ends_the_run() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "echo x >> count; [ $(wc -l < count) -ge 2 ]",
        &dir,
        "retry = { attempts = 5, backoff = \"50ms\" }",
    ));
    env.kron(&["run", "t"]).output().success();
    let record = &history(&env, "t")[0];
    assert_eq!(record["attempts"], 2);
    assert_eq!(record["outcome"], "success");
}

#[test]
fn a_timeout_stops_the_whole_process_group() {
    let env = Env::new();
    let dir = env.work();
    // The shell starts a child shell that starts a sleeping grandchild.
    env.write_task_file(&task(
        "t",
        "sh -c 'echo $$ > child.pid; sleep 300 & echo $! > grandchild.pid; wait' & \
         echo started; wait",
        &dir,
        "timeout = \"500ms\"\nkill_grace = \"5s\"\nretry = { attempts = 1, backoff = \"10ms\" }",
    ));
    let start = Instant::now();
    let out = env.kron(&["run", "t"]).output();
    out.code(124);
    assert!(start.elapsed() >= Duration::from_secs(1), "two attempts");
    for file in ["child.pid", "grandchild.pid"] {
        let pid = read_pid(&dir.join(file));
        wait_until(&format!("{file} {pid} is gone"), || gone(pid));
    }
    let record = &history(&env, "t")[0];
    assert_eq!(record["outcome"], "timeout");
    assert_eq!(record["attempts"], 2, "a timeout is a failure: retried");
    assert_eq!(record["signal"], "SIGTERM");
}

#[test]
fn a_command_that_ignores_sigterm_gets_sigkill_after_the_grace() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "trap '' TERM; sleep 300 & echo $! > grandchild.pid; wait",
        &dir,
        "timeout = \"300ms\"\nkill_grace = \"700ms\"",
    ));
    let start = Instant::now();
    env.kron(&["run", "t"]).output().code(124);
    assert!(start.elapsed() >= Duration::from_secs(1));
    let pid = read_pid(&dir.join("grandchild.pid"));
    wait_until("the grandchild is gone", || gone(pid));
    assert_eq!(history(&env, "t")[0]["signal"], "SIGKILL");
}

#[test]
fn a_finished_command_does_not_leave_its_background_processes() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "sleep 300 & echo $! > bg.pid; echo done",
        &dir,
        "kill_grace = \"1s\"",
    ));
    let out = env.kron(&["run", "t"]).output();
    out.success();
    assert_eq!(out.stdout(), "done\n");
    let pid = read_pid(&dir.join("bg.pid"));
    wait_until("the background process is gone", || gone(pid));
    // It held the output: stopped, whatever `leftovers` says, and recorded.
    assert_eq!(
        history(&env, "t")[0]["leftovers_stopped"],
        serde_json::json!([pid])
    );
}

#[test]
fn kill_stops_the_run_and_its_retries() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        &format!(
            "sleep 300 & echo $! > grandchild.pid; touch started; {}; exit 1",
            wait_for("never")
        ),
        &dir,
        "retry = { attempts = 3, backoff = \"10ms\" }\nkill_grace = \"2s\"",
    ));
    env.kron(&["kill", "t"]).output().code(1);
    let run = env.kron(&["run", "t"]).spawn();
    wait_until("the command started", || dir.join("started").exists());
    let out = env.kron(&["kill", "t"]).output();
    out.success();
    assert!(out.stdout().contains("stopping run"), "{}", out.stdout());
    let run = wait_with_deadline(run, DEADLINE);
    run.code(128 + 15);
    let pid = read_pid(&dir.join("grandchild.pid"));
    wait_until("the grandchild is gone", || gone(pid));
    let record = &history(&env, "t")[0];
    assert_eq!(record["outcome"], "interrupted");
    assert_eq!(record["attempts"], 1);
    assert!(
        std::fs::read_dir(env.path().join("runtime/kron/running"))
            .unwrap()
            .next()
            .is_none(),
        "the run is unregistered"
    );
}

#[test]
fn kill_with_a_signal_sends_it_to_the_group() {
    let env = Env::new();
    let run = env.start_run_that_waits("retry = { attempts = 3, backoff = \"10ms\" }");
    env.kron(&["kill", "t", "--signal", "KILL"])
        .output()
        .success();
    wait_with_deadline(run, DEADLINE).code(128 + 9);
    let record = &history(&env, "t")[0];
    assert_eq!(record["outcome"], "interrupted");
    assert_eq!(record["attempts"], 1);
    assert_eq!(record["signal"], "SIGKILL");
    env.kron(&["kill", "t", "--signal", "NOPE"])
        .output()
        .code(2);
}

#[test]
fn ctrl_c_on_kron_run_interrupts() {
    let env = Env::new();
    let run = env.start_run_that_waits("");
    signal(run.id(), Signal::SIGINT);
    wait_with_deadline(run, DEADLINE).code(130);
    assert_eq!(history(&env, "t")[0]["outcome"], "interrupted");
}

/// Starts `kron run t` for a command that fails at once and retries after
/// a minute; returns once the run waits to retry.
fn start_run_that_waits_to_retry(env: &Env) -> std::process::Child {
    env.write_task_file(&task(
        "t",
        "exit 1",
        &env.work(),
        "retry = { attempts = 2, backoff = \"1m\" }",
    ));
    let run = env.kron(&["run", "t"]).spawn();
    wait_until("the run waits to retry", || {
        String::from_utf8_lossy(&log(env, "t")).contains("retrying in 1m")
    });
    run
}

/// The run log's last line.
fn last_log_line(env: &Env) -> String {
    let text = String::from_utf8(log(env, "t")).unwrap();
    text.lines().last().unwrap_or_default().to_string()
}

#[test]
fn kill_during_a_retry_wait_closes_the_run_in_its_log() {
    let env = Env::new();
    let run = start_run_that_waits_to_retry(&env);
    env.kron(&["kill", "t"]).output().success();
    wait_with_deadline(run, DEADLINE).code(128 + 15);
    let last = last_log_line(&env);
    assert!(
        last.starts_with("<== kron run ")
            && last.ends_with(
                " attempt 2/3 not started: interrupted by kron kill while waiting to retry"
            ),
        "{last}"
    );
    assert_eq!(history(&env, "t")[0]["outcome"], "interrupted");
}

#[test]
fn a_signal_during_a_retry_wait_is_named_in_the_log() {
    let env = Env::new();
    let run = start_run_that_waits_to_retry(&env);
    signal(run.id(), Signal::SIGTERM);
    wait_with_deadline(run, DEADLINE).code(128 + 15);
    let last = last_log_line(&env);
    assert!(
        last.ends_with(" attempt 2/3 not started: interrupted by SIGTERM while waiting to retry"),
        "{last}"
    );
}

#[test]
fn kill_during_an_attempt_names_who_stopped_it() {
    let env = Env::new();
    let run = env.start_run_that_waits("retry = { attempts = 1, backoff = \"10ms\" }");
    env.kron(&["kill", "t"]).output().success();
    wait_with_deadline(run, DEADLINE).code(128 + 15);
    let last = last_log_line(&env);
    assert!(
        last.contains(" attempt 1/2 SIGTERM after ")
            && last.ends_with("; interrupted by kron kill"),
        "{last}"
    );
}
