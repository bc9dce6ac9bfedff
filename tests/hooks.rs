//! What follows a run's final outcome: `on_failure` and `on_success` hooks
//! (their environment, once per run and never per attempt, failures that
//! neither retry nor loop) and mail through a fake `sendmail` on PATH.
//! `kron run` in the foreground goes through the supervisor's code, so no
//! daemon is needed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::daemon::DaemonGuard;
use nix::sys::signal::Signal;

use crate::util::{
    DEADLINE, Env, history, lines, log, signal, task, wait_until, wait_with_deadline,
};

/// `KEY=value` lines (as `env` prints them) as a map.
fn env_file(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A hook that records its environment, the output it was given, the
/// mode of that file, and that it ran.
const RECORDING_HOOK: &str = "env > hook.env; cat \"$KRON_LOG\" > hook.log; \
     stat -c %a \"$KRON_LOG\" > hook.mode; echo \"$KRON_HOOK\" >> hook.calls";

#[test]
fn on_failure_runs_once_after_the_last_attempt_with_the_runs_environment() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "echo attempt output; exit 3",
        &dir,
        &format!(
            "retry = {{ attempts = 2, backoff = \"10ms\" }}\nenv = {{ FROM_TASK = \"yes\" }}\n\
             on_failure = {RECORDING_HOOK:?}\non_success = \"touch success-hook\""
        ),
    ));
    let out = env.kron(&["run", "t"]).output();
    out.code(3);
    assert_eq!(
        lines(&dir.join("hook.calls")).len(),
        1,
        "once per run, not per attempt"
    );
    assert!(!dir.join("success-hook").exists());
    let record = &history(&env, "t")[0];
    let run_id = record["run_id"].as_str().unwrap();
    let hook_env = env_file(&dir.join("hook.env"));
    let expected = [
        ("KRON_TASK", "t"),
        ("KRON_RUN_ID", run_id),
        ("KRON_OUTCOME", "failure"),
        ("KRON_EXIT_CODE", "3"),
        ("KRON_ATTEMPTS", "3"),
        ("KRON_HOOK", "on_failure"),
        ("FROM_TASK", "yes"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ];
    for (key, value) in expected {
        assert_eq!(
            hook_env.get(key).map(String::as_str),
            Some(value),
            "{key}: {hook_env:?}"
        );
    }
    assert_eq!(
        hook_env["KRON_DURATION_MS"],
        record["duration_ms"].to_string(),
        "{hook_env:?}"
    );
    assert_eq!(hook_env["HOME"], env.path().join("home").to_str().unwrap());
    // KRON_LOG held the run's output, privately, and is gone now.
    let given = std::fs::read_to_string(dir.join("hook.log")).unwrap();
    assert_eq!(given.matches("attempt output\n").count(), 3, "{given}");
    assert!(
        given.starts_with(&format!("==> kron run {run_id} attempt 1/3")),
        "{given}"
    );
    assert!(
        given.contains(&format!("<== kron run {run_id} attempt 3/3 exit 3")),
        "{given}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("hook.mode")).unwrap(),
        "600\n"
    );
    assert!(!Path::new(&hook_env["KRON_LOG"]).exists());
    // The hook's own part of the run log.
    let text = String::from_utf8_lossy(&log(&env, "t")).into_owned();
    assert!(
        text.contains(&format!(
            "--> kron hook on_failure for run {run_id}: env > hook.env"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("<-- kron hook on_failure for run {run_id} exit 0")),
        "{text}"
    );
}

#[test]
fn on_success_follows_a_run_a_retry_saved_and_a_timeout_is_a_failure() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}\n{}",
        task(
            "flaky",
            "if [ -e tried ]; then exit 0; fi; touch tried; exit 1",
            &dir,
            &format!(
                "retry = {{ attempts = 3, backoff = \"10ms\" }}\non_success = {RECORDING_HOOK:?}\n\
                 on_failure = \"touch failure-hook\""
            ),
        ),
        task(
            "slow",
            "sleep 10",
            &dir,
            "timeout = \"200ms\"\nkill_grace = \"1s\"\n\
             on_failure = \"echo $KRON_OUTCOME $KRON_EXIT_CODE > timeout-hook\"",
        )
    ));
    env.kron(&["run", "flaky"]).output().success();
    assert_eq!(
        std::fs::read_to_string(dir.join("hook.calls")).unwrap(),
        "on_success\n"
    );
    let hook_env = env_file(&dir.join("hook.env"));
    assert_eq!(hook_env["KRON_OUTCOME"], "success");
    assert_eq!(hook_env["KRON_EXIT_CODE"], "0");
    assert_eq!(hook_env["KRON_ATTEMPTS"], "2");
    assert!(!dir.join("failure-hook").exists());

    env.kron(&["run", "slow"]).output().code(124);
    assert_eq!(
        std::fs::read_to_string(dir.join("timeout-hook")).unwrap(),
        "timeout 124\n"
    );
}

#[test]
fn skipped_and_interrupted_runs_run_no_hook() {
    let env = Env::new();
    let dir = env.work();
    let hooks = "on_failure = \"touch hook-ran\"\non_success = \"touch hook-ran\"";
    env.write_task_file(&task("t", "exit 1", &dir, hooks));
    // Hold the task's lock, as a run in progress would: the run is skipped.
    let locks = env.path().join("runtime/kron/locks");
    std::fs::create_dir_all(&locks).unwrap();
    let lock = std::fs::File::create(locks.join("t.lock")).unwrap();
    lock.lock().unwrap();
    env.kron(&["run", "t"]).output().code(1);
    assert_eq!(history(&env, "t")[0]["outcome"], "skipped");
    assert!(!dir.join("hook-ran").exists());
    drop(lock);

    // Interrupted while it runs (SIGTERM to the supervisor).
    let child = env.start_run_that_waits(hooks);
    signal(child.id(), Signal::SIGTERM);
    wait_with_deadline(child, DEADLINE).code(128 + 15);
    assert_eq!(history(&env, "t")[1]["outcome"], "interrupted");
    assert!(!dir.join("hook-ran").exists());
}

/// Task `t`, which fails, with `hook` as its `on_failure` and `extra`
/// lines; the hook's `kron` uses the test's directories.
fn write_failing_task_with_hook(env: &Env, dir: &Path, hook: &str, extra: &str) {
    let xdg = |sub: &str| env.path().join(sub).display().to_string();
    env.write_task_file(&task(
        "t",
        "exit 1",
        dir,
        &format!(
            "{extra}\non_failure = {hook:?}\n\
             env = {{ XDG_CONFIG_HOME = {:?}, XDG_STATE_HOME = {:?}, XDG_RUNTIME_DIR = {:?}, \
             KRON_NO_AUTOSTART = \"1\" }}",
            xdg("config"),
            xdg("state"),
            xdg("runtime")
        ),
    ));
}

#[test]
fn a_failing_hook_is_reported_never_retried_and_never_loops() {
    let env = Env::new();
    let dir = env.work();
    let kron = env!("CARGO_BIN_EXE_kron");
    // The hook runs the task again: that run must not run the hook again.
    let hook = format!("echo called >> calls; '{kron}' run t; exit 7");
    write_failing_task_with_hook(
        &env,
        &dir,
        &hook,
        "retry = { attempts = 1, backoff = \"10ms\" }",
    );
    let out = env.kron(&["run", "t"]).output();
    out.code(1);
    assert_eq!(lines(&dir.join("calls")).len(), 1);
    let records = history(&env, "t");
    assert_eq!(records.len(), 2, "the run and the one its hook started");
    // The run is recorded before its hook starts the other one.
    let outer = records[0]["run_id"].as_str().unwrap();
    let inner = records[1]["run_id"].as_str().unwrap();
    assert!(
        out.stderr().contains(&format!(
            "kron: warning: t: on_failure hook for run {outer} failed: exit 7"
        )),
        "{}",
        out.stderr()
    );
    let text = String::from_utf8_lossy(&log(&env, "t")).into_owned();
    assert!(
        text.contains(&format!(
            "kron: warning: t: on_failure not run: run {inner} was started from a hook"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("<-- kron hook on_failure for run {outer} exit 7")),
        "{text}"
    );
}

#[test]
fn a_hook_cannot_loop_through_the_daemon() {
    let env = Env::new();
    let dir = env.work();
    let kron = env!("CARGO_BIN_EXE_kron");
    // The hook hands the task to the daemon again: that run must not run
    // the hook again, or failures would loop through the daemon forever.
    let hook = format!("echo called >> calls; '{kron}' run --detach t");
    write_failing_task_with_hook(&env, &dir, &hook, "");
    let _daemon = DaemonGuard::start(&env);
    env.kron(&["run", "t"]).output().code(1);
    wait_until("the run the hook started is recorded", || {
        history(&env, "t").len() == 2
    });
    let inner = history(&env, "t")[1]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    wait_until("its hook is refused", || {
        String::from_utf8_lossy(&log(&env, "t")).contains(&format!(
            "kron: warning: t: on_failure not run: run {inner} was started from a hook"
        ))
    });
    assert_eq!(lines(&dir.join("calls")).len(), 1);
}

/// A `sendmail` that keeps its arguments and the message, in `DIR/mail.N`.
fn fake_sendmail(env: &Env) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = env.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let out = env.path().join("mail");
    std::fs::create_dir_all(&out).unwrap();
    let script = bin.join("sendmail");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(ls '{0}' | wc -l)\necho \"$*\" > '{0}'/args.$n\ncat > '{0}'/mail.$n\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn mails(env: &Env) -> Vec<String> {
    let dir = env.path().join("mail");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with("mail."))
        .collect();
    names.sort();
    names
        .iter()
        .map(|n| std::fs::read_to_string(dir.join(n)).unwrap())
        .collect()
}

#[test]
fn output_is_mailed_through_sendmail_as_mail_says() {
    let env = Env::new();
    let dir = env.work();
    let bin = fake_sendmail(&env);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    let tasks = [
        task(
            "broken",
            "echo it broke; exit 2",
            &dir,
            "mailto = \"me@example.org, ops@example.org\"",
        ),
        task("fine", "echo all good", &dir, "mailto = \"me@example.org\""),
        task(
            "chatty",
            "echo hello",
            &dir,
            "mailto = \"me@example.org\"\nmail = \"always\"",
        ),
        task(
            "silent",
            "true",
            &dir,
            "mailto = \"me@example.org\"\nmail = \"always\"",
        ),
        task(
            "muted",
            "exit 1",
            &dir,
            "mailto = \"me@example.org\"\nmail = \"never\"",
        ),
    ];
    env.write_task_file(&tasks.join("\n"));
    env.kron(&["run", "broken"])
        .env("PATH", &path)
        .output()
        .code(2);
    let sent = mails(&env);
    assert_eq!(sent.len(), 1);
    let run_id = history(&env, "broken")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mail = &sent[0];
    let (head, body) = mail.split_once("\n\n").unwrap();
    assert!(
        head.starts_with("To: me@example.org, ops@example.org\nSubject: kron: broken failure on "),
        "{mail}"
    );
    assert!(head.contains(" (exit 2)\n"), "{mail}");
    assert!(
        head.contains(&format!("\nX-Kron-Run-Id: {run_id}\n")),
        "{mail}"
    );
    assert!(
        head.contains("\nContent-Type: text/plain; charset=UTF-8\n"),
        "{mail}"
    );
    assert!(body.contains("\nit broke\n"), "{mail}");
    assert!(
        body.contains(&format!("<== kron run {run_id} attempt 1/1 exit 2")),
        "{mail}"
    );
    let args = std::fs::read_to_string(env.path().join("mail/args.0")).unwrap();
    assert_eq!(args, "-t -oi\n");

    // The default is failures only; "always" mails runs that printed.
    for name in ["fine", "chatty", "silent"] {
        env.kron(&["run", name])
            .env("PATH", &path)
            .output()
            .success();
    }
    env.kron(&["run", "muted"])
        .env("PATH", &path)
        .output()
        .code(1);
    let sent = mails(&env);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1].contains("Subject: kron: chatty success on "),
        "{}",
        sent[1]
    );
    assert!(sent[1].contains("\nhello\n"), "{}", sent[1]);
}

#[test]
fn without_sendmail_the_warning_is_given_once() {
    if ["/usr/sbin/sendmail", "/usr/lib/sendmail"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        eprintln!("skipped: this machine has a sendmail");
        return;
    }
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", "exit 1", &dir, "mailto = \"me@example.org\""));
    let first = env.kron(&["run", "t"]).output();
    first.code(1);
    assert!(
        first.stderr().contains(
            "kron: warning: t: mailto is set (me@example.org) but there is no sendmail on PATH \
             or at /usr/sbin/sendmail or /usr/lib/sendmail: no mail is sent."
        ),
        "{}",
        first.stderr()
    );
    let second = env.kron(&["run", "t"]).output();
    second.code(1);
    assert!(!second.stderr().contains("sendmail"), "{}", second.stderr());
    let text = String::from_utf8_lossy(&log(&env, "t")).into_owned();
    assert_eq!(text.matches("no sendmail").count(), 1, "{text}");

    // Once sendmail is there, mail goes out; if it goes away, one warning again.
    let bin = fake_sendmail(&env);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    env.kron(&["run", "t"]).env("PATH", &path).output().code(1);
    assert_eq!(mails(&env).len(), 1);
    let again = env.kron(&["run", "t"]).output();
    assert!(again.stderr().contains("no sendmail"), "{}", again.stderr());
}

#[test]
fn on_missed_and_a_mail_follow_instants_missed_while_the_daemon_was_stopped() {
    let env = Env::new();
    let dir = env.work();
    let bin = fake_sendmail(&env);
    let path = format!("{}:/usr/bin:/bin", bin.display());
    // The daemon runs no command: `kron __missed` runs the hook and mails.
    // One file per record: on a loaded machine the first daemon may itself
    // skip a late instant (catch_up = "skip"), which is a missed record too.
    let hook = "env > env.$KRON_RUN_ID; cat \"$KRON_LOG\" > missed.$KRON_RUN_ID.log; \
                mv env.$KRON_RUN_ID missed.$KRON_RUN_ID.env";
    env.write_task_file(&format!(
        "[tasks.t]\nschedule = \"* * * * * *\"\ncatch_up = \"skip\"\ncommand = \"true\"\n\
         workdir = {:?}\non_missed = {hook:?}\nmailto = \"me@example.org\"\n",
        dir.display().to_string()
    ));
    let daemon = DaemonGuard::start_with(&env, &[("PATH", &path)]);
    wait_until("t ran", || !history(&env, "t").is_empty());
    drop(daemon);
    let stopped = jiff::Timestamp::now().as_second();
    wait_until("instants pass", || {
        jiff::Timestamp::now().as_second() >= stopped + 3
    });
    let _daemon = DaemonGuard::start_with(&env, &[("PATH", &path)]);
    let downtime = crate::util::missed_while_down;
    wait_until("the downtime's missed record", || {
        history(&env, "t").iter().any(downtime)
    });
    let record = history(&env, "t").into_iter().find(downtime).unwrap();
    let id = record["run_id"].as_str().unwrap();
    let env_path = dir.join(format!("missed.{id}.env"));
    wait_until("the on_missed hook ran", || env_path.exists());
    let stretch = &record["missed"];
    let hook_env = env_file(&env_path);
    let reason = record["reason"].as_str().unwrap();
    let expected = [
        ("KRON_HOOK", "on_missed"),
        ("KRON_OUTCOME", "missed"),
        ("KRON_TASK", "t"),
        ("KRON_RUN_ID", record["run_id"].as_str().unwrap()),
        ("KRON_ATTEMPTS", "0"),
        ("KRON_MISSED_FIRST", stretch["first"].as_str().unwrap()),
        ("KRON_MISSED_LAST", stretch["last"].as_str().unwrap()),
        ("KRON_SCHEDULED_AT", stretch["last"].as_str().unwrap()),
        ("KRON_MISSED_REASON", reason),
    ];
    for (key, value) in expected {
        assert_eq!(
            hook_env.get(key).map(String::as_str),
            Some(value),
            "{key}: {hook_env:?}"
        );
    }
    assert_eq!(hook_env["KRON_MISSED_COUNT"], stretch["count"].to_string());
    assert!(stretch["count"].as_u64().unwrap() >= 2, "{record}");
    assert!(
        reason.contains("the daemon was not running (from "),
        "{reason}"
    );
    assert!(!hook_env.contains_key("KRON_EXIT_CODE"), "{hook_env:?}");
    let given = std::fs::read_to_string(dir.join(format!("missed.{id}.log"))).unwrap();
    assert_eq!(given, format!("kron: t: {reason}\n"));
    // The mail went first (mail = "failure", the default, mails missed
    // instants too), then the hook, whose lines are in the run log.
    let sent: Vec<String> = mails(&env)
        .into_iter()
        .filter(|m| m.contains(reason))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        sent[0].contains("Subject: kron: t missed on "),
        "{}",
        sent[0]
    );
    assert!(sent[0].contains(" did not run.\n"), "{}", sent[0]);
    assert!(sent[0].contains(reason), "{}", sent[0]);
    // The hook's end is logged once it exited, a moment after its `mv`.
    let end = format!(
        "<-- kron hook on_missed for run {} exit 0",
        record["run_id"].as_str().unwrap()
    );
    wait_until("the hook's end in the run log", || {
        String::from_utf8_lossy(&log(&env, "t")).contains(&end)
    });
}
