//! Tasks fire: every second on time, paused and resumed, caught up after
//! downtime, once per boot, under max_parallel, after the daemon is killed
//! mid-run, and when the command cannot start.

use jiff::Timestamp;
use nix::sys::signal::Signal;
use serde_json::Value;

use crate::util::daemon::{DaemonGuard, StopOnDrop, status, wait_idle};
use crate::util::{Env, append, history, lines, wait_until};

fn ts(value: &serde_json::Value) -> Timestamp {
    value.as_str().unwrap().parse().unwrap()
}

#[test]
fn a_task_fires_each_second_on_time() {
    let env = Env::new();
    let out = env.path().join("out");
    env.write_task_file(&format!(
        "[tasks.tick]\nschedule = \"* * * * * *\"\ncommand = \"{}\"\n",
        append(&out, "$KRON_SCHEDULED_AT")
    ));
    let _daemon = DaemonGuard::start(&env);
    wait_until("three runs", || history(&env, "tick").len() >= 3);
    let records = history(&env, "tick");
    for r in &records[..3] {
        assert_eq!(r["trigger"], "schedule", "{r}");
        assert_eq!(r["outcome"], "success", "{r}");
        let scheduled = ts(&r["scheduled"]);
        assert_eq!(scheduled.subsec_nanosecond(), 0);
        let late = ts(&r["started"]).duration_since(scheduled);
        assert!(late.as_secs_f64() < 1.0, "started {late:?} late: {r}");
    }
    let seconds: Vec<i64> = records[..3]
        .iter()
        .map(|r| ts(&r["scheduled"]).as_second())
        .collect();
    assert!(seconds.windows(2).all(|w| w[1] > w[0]), "{seconds:?}");
}

#[test]
fn pause_and_resume_persist_across_restarts() {
    let env = Env::new();
    let out = env.path().join("out");
    env.write_task_file(&format!(
        "# my task\n[tasks.tick]\nschedule = \"* * * * * *\"\ncommand = \"{}\"\n",
        append(&out, "x")
    ));
    let daemon = DaemonGuard::start(&env);
    wait_until("tick fires", || !lines(&out).is_empty());
    let result = env.kron(&["pause", "tick"]).output();
    result.success();
    assert_eq!(result.stdout(), "paused tick\n");
    assert!(env.read_task_file().unwrap().contains("paused = true"));
    assert!(env.kron(&["list"]).output().stdout().contains("paused"));
    assert_eq!(
        env.kron(&["pause", "tick"]).output().stdout(),
        "tick was already paused\n"
    );
    wait_until("the daemon loads the pause", || {
        daemon.log().contains("1 paused")
    });
    let n = lines(&out).len();
    // Across a restart too.
    drop(daemon);
    let daemon = DaemonGuard::start(&env);
    // The daemon plans no start for a paused task.
    let status = wait_idle(&env);
    assert_eq!(status["paused"], 1, "{status}");
    assert_eq!(status["next"], Value::Null, "a start is planned: {status}");
    assert!(lines(&out).len() <= n + 1, "a paused task fired");
    let status = env.kron(&["status"]).output().stdout();
    assert!(status.contains("1 task(s), 1 paused"), "{status}");

    env.kron(&["resume", "--all"]).output().success();
    assert_eq!(
        env.read_task_file().unwrap(),
        format!(
            "# my task\n[tasks.tick]\nschedule = \"* * * * * *\"\ncommand = \"{}\"\n",
            append(&out, "x")
        )
    );
    let n = lines(&out).len();
    wait_until("tick fires again", || lines(&out).len() > n);
    // Nothing of the paused time was caught up.
    assert!(
        history(&env, "tick")
            .iter()
            .all(|r| r["trigger"] == "schedule"),
        "{}",
        daemon.log()
    );
    env.kron(&["pause", "nope"]).output().code(2);
}

/// `state.json` as a daemon that last ran at `last` would have left it.
fn state(env: &Env, boot_id: &str, tasks: &[(&str, Timestamp)]) {
    let tasks: serde_json::Map<String, serde_json::Value> = tasks
        .iter()
        .map(|(name, at)| {
            (
                name.to_string(),
                serde_json::json!({ "last": at.to_string() }),
            )
        })
        .collect();
    let json = serde_json::json!({ "format": 1, "boot_id": boot_id, "tasks": tasks });
    std::fs::create_dir_all(env.path().join("state/kron")).unwrap();
    std::fs::write(env.path().join("state/kron/state.json"), json.to_string()).unwrap();
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn missed_runs_are_caught_up_by_policy() {
    let env = Env::new();
    let mut text = String::new();
    for policy in ["once", "all", "skip"] {
        text.push_str(&format!(
            "[tasks.{policy}]\nschedule = \"0 0 * * * *\"\ncatch_up = \"{policy}\"\ncommand = \"true\"\n\n"
        ));
    }
    env.write_task_file(&text);
    // The daemon last handled the hourly instant 5 hours ago: 5 missed
    // (4 if the hour turns before it starts; not within the last 10 s).
    wait_until("not the end of an hour", || {
        Timestamp::now().as_second() % 3600 < 3590
    });
    let hour = Timestamp::now().as_second() / 3600 * 3600;
    let last = Timestamp::from_second(hour - 5 * 3600).unwrap();
    state(
        &env,
        &boot_id(),
        &[("once", last), ("all", last), ("skip", last)],
    );
    let daemon = DaemonGuard::start(&env);
    let succeeded = |task: &str| {
        history(&env, task)
            .iter()
            .filter(|r| r["outcome"] == "success")
            .count()
    };
    wait_until("catch-up runs", || {
        succeeded("once") == 1 && succeeded("all") == 5
    });
    for r in history(&env, "once").iter().chain(&history(&env, "all")) {
        if r["outcome"] == "success" {
            assert_eq!(r["trigger"], "catch-up", "{r}");
        }
    }
    let all: Vec<i64> = history(&env, "all")
        .iter()
        .map(|r| ts(&r["scheduled"]).as_second())
        .collect();
    let mut sorted = all.clone();
    sorted.sort();
    assert!(sorted.windows(2).all(|w| w[1] - w[0] == 3600), "{all:?}");
    assert_eq!(*sorted.last().unwrap(), hour);
    let once = history(&env, "once")
        .into_iter()
        .find(|r| r["outcome"] == "success")
        .unwrap();
    let once = ts(&once["scheduled"]).as_second();
    assert_eq!(once, hour, "once runs the latest");
    // What did not run leaves one `missed` record per stretch, with why.
    let skip = history(&env, "skip");
    assert_eq!(skip.len(), 1, "{skip:?}");
    assert_eq!(skip[0]["outcome"], "missed");
    assert_eq!(skip[0]["missed"]["count"], 5, "{}", skip[0]);
    assert_eq!(ts(&skip[0]["missed"]["first"]).as_second(), hour - 4 * 3600);
    assert_eq!(ts(&skip[0]["missed"]["last"]).as_second(), hour);
    let reason = skip[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("the daemon was not running") && reason.contains("catch_up = \"skip\""),
        "{reason}"
    );
    let once_missed: Vec<_> = history(&env, "once")
        .into_iter()
        .filter(|r| r["outcome"] == "missed")
        .collect();
    assert_eq!(once_missed.len(), 1);
    assert_eq!(once_missed[0]["missed"]["count"], 4, "the latest ran");
    assert_eq!(
        ts(&once_missed[0]["missed"]["last"]).as_second(),
        hour - 3600
    );
    assert!(
        history(&env, "all")
            .iter()
            .all(|r| r["outcome"] == "success")
    );
    assert!(
        daemon.log().contains("skip: 5 run(s) missed"),
        "{}",
        daemon.log()
    );
    // The memory moved on: a restart catches up nothing more.
    drop(daemon);
    let _daemon = DaemonGuard::start(&env);
    let status = wait_idle(&env);
    assert_eq!(
        ts(&status["next"]["at"]).as_second(),
        hour + 3600,
        "the next start is the next hour's: {status}"
    );
    assert_eq!(history(&env, "all").len(), 5);
    assert_eq!(history(&env, "skip").len(), 1);
}

#[test]
fn instants_missed_while_the_daemon_was_stopped_say_from_when_to_when() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.t]\nschedule = \"* * * * * *\"\ncatch_up = \"skip\"\ncommand = \"true\"\n",
    );
    let daemon = DaemonGuard::start(&env);
    wait_until("t ran", || !history(&env, "t").is_empty());
    drop(daemon);
    let stopped = Timestamp::now().as_second();
    wait_until("two instants pass", || {
        Timestamp::now().as_second() >= stopped + 3
    });
    let _daemon = DaemonGuard::start(&env);
    // A loaded machine may also skip a late instant (catch_up = "skip"):
    // the record asked for is the downtime's.
    let downtime = crate::util::missed_while_down;
    wait_until("the missed record", || {
        history(&env, "t").iter().any(downtime)
    });
    let missed = history(&env, "t").into_iter().find(downtime).unwrap();
    assert!(missed["missed"]["count"].as_u64().unwrap() >= 2, "{missed}");
    assert_eq!(missed["attempts"], 0);
    let reason = missed["reason"].as_str().unwrap();
    assert!(
        reason.contains("the daemon was not running (from 20") && reason.contains(" to 20"),
        "{reason}"
    );
}

#[test]
fn an_instant_missed_while_the_daemon_was_down_runs_once_on_start() {
    let env = Env::new();
    // A fixed second, a few seconds ahead.
    let due = Timestamp::now().as_second() + 4;
    env.write_task_file(&format!(
        "[tasks.fixed]\nschedule = \"{} * * * * *\"\ncommand = \"true\"\n",
        due % 60
    ));
    let daemon = DaemonGuard::start(&env);
    drop(daemon);
    wait_until("the instant passes", || Timestamp::now().as_second() > due);
    let _daemon = DaemonGuard::start(&env);
    wait_until("the catch-up run", || !history(&env, "fixed").is_empty());
    let r = &history(&env, "fixed")[0];
    assert_eq!(r["trigger"], "catch-up", "{r}");
    assert_eq!(ts(&r["scheduled"]).as_second(), due);
}

#[test]
fn a_task_never_seen_starts_from_now() {
    let env = Env::new();
    env.write_task_file("[tasks.hourly]\nschedule = \"0 0 * * * *\"\ncommand = \"true\"\n");
    state(&env, &boot_id(), &[]);
    let _daemon = DaemonGuard::start(&env);
    // Its first start is the first hour after the load.
    let status = wait_idle(&env);
    let loaded = ts(&status["loaded"]).as_second();
    assert_eq!(status["next"]["task"], "hourly", "{status}");
    assert_eq!(
        ts(&status["next"]["at"]).as_second(),
        (loaded / 3600 + 1) * 3600,
        "{status}"
    );
    assert!(history(&env, "hourly").is_empty());
}

#[test]
fn reboot_tasks_run_once_per_boot() {
    let env = Env::new();
    env.write_task_file("[tasks.boot]\nschedule = \"@reboot\"\ncommand = \"true\"\n");
    // The daemon knew the task in an earlier boot.
    state(&env, "an-earlier-boot", &[("boot", Timestamp::UNIX_EPOCH)]);
    let daemon = DaemonGuard::start(&env);
    wait_until("the reboot run", || history(&env, "boot").len() == 1);
    assert_eq!(history(&env, "boot")[0]["trigger"], "reboot");
    drop(daemon);
    let _daemon = DaemonGuard::start(&env);
    // Nothing is left to start: an @reboot task has no timed instants.
    let status = wait_idle(&env);
    assert_eq!(status["next"], Value::Null, "{status}");
    assert_eq!(history(&env, "boot").len(), 1);
}

/// Issue 11, bug 1: `printf '@reboot echo hi\n' | kron import -` ran the
/// job at once, as the import started a daemon that had not run in this
/// boot. A task that arrives while the machine is up waits for the next
/// boot, whether the daemon runs already or the verb starts it.
#[test]
fn issue_11_an_imported_reboot_task_waits_for_the_next_boot() {
    let env = Env::new();
    // The daemon last ran in an earlier boot and has never seen the task.
    state(&env, "an-earlier-boot", &[]);
    let stop = StopOnDrop(&env);
    env.kron(&["import", "-"])
        .autostart()
        .output_with_stdin("@reboot echo hi\n")
        .success();
    let idle = wait_idle(&env);
    assert_eq!(idle["tasks"], 1, "{idle}");
    // Added to the running daemon: the same.
    env.kron(&["add", "later", "--schedule", "@reboot", "--", "true"])
        .output()
        .success();
    wait_until("the daemon loads the new task", || {
        status(&env)["tasks"] == 2
    });
    let idle = wait_idle(&env);
    assert_eq!(idle["next"], Value::Null, "{idle}");
    assert!(history(&env, "echo").is_empty());
    assert!(history(&env, "later").is_empty());
    // What the daemon remembers makes both run in the next boot.
    drop(stop);
    let path = env.path().join("state/kron/state.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let next_boot = text.replace(&boot_id(), "the-next-boot");
    assert_ne!(text, next_boot);
    std::fs::write(&path, next_boot).unwrap();
    let _daemon = DaemonGuard::start(&env);
    wait_until("both reboot runs", || {
        history(&env, "echo").len() == 1 && history(&env, "later").len() == 1
    });
}

#[test]
fn max_parallel_makes_runs_wait() {
    let env = Env::new();
    let gate = env.path().join("gate");
    let starts = env.path().join("starts");
    std::fs::write(&gate, "").unwrap();
    let command = format!(
        "echo $KRON_TASK >> {}; while [ -e {} ]; do sleep 0.05; done",
        starts.display(),
        gate.display()
    );
    env.write_task_file(&format!(
        "[defaults]\nmax_parallel = 1\n\n[tasks.a]\nschedule = \"*/2 * * * * *\"\ncommand = \"{command}\"\n\n\
         [tasks.b]\nschedule = \"*/2 * * * * *\"\ncommand = \"{command}\"\n"
    ));
    let _daemon = DaemonGuard::start(&env);
    wait_until("one run starts", || !lines(&starts).is_empty());
    wait_until("the other waits", || {
        env.kron(&["status"]).output().stdout().contains("waiting")
    });
    assert_eq!(lines(&starts).len(), 1);
    std::fs::remove_file(&gate).unwrap();
    wait_until("both ran", || {
        let l = lines(&starts);
        l.contains(&"a".to_string()) && l.contains(&"b".to_string())
    });
}

#[test]
fn runs_due_together_share_a_supervisor_and_max_parallel_counts_runs() {
    let env = Env::new();
    let dir = env.path();
    let starts = dir.join("starts");
    let names = ["a", "b", "c", "d", "e"];
    for name in names {
        std::fs::write(dir.join(format!("gate-{name}")), "").unwrap();
    }
    // The daemon runs first, so that the instant, 3 s after the task file
    // is written, is not missed while it starts.
    let _daemon = DaemonGuard::start(&env);
    // All five due at the same second, once a minute; three may run.
    let second = (Timestamp::now().as_second() + 3) % 60;
    let mut text = String::from("[defaults]\nmax_parallel = 3\n");
    for name in names {
        text.push_str(&format!(
            "\n[tasks.{name}]\nschedule = \"{second} * * * * *\"\n\
             command = \"echo $KRON_TASK $PPID >> {}; while [ -e {}/gate-$KRON_TASK ]; do sleep 0.05; done\"\n",
            starts.display(),
            dir.display()
        ));
    }
    env.write_task_file(&text);
    let started = || -> Vec<(String, String)> {
        lines(&starts)
            .iter()
            .map(|l| {
                let (task, ppid) = l.split_once(' ').unwrap();
                (task.to_string(), ppid.to_string())
            })
            .collect()
    };
    wait_until("three runs start", || started().len() == 3);
    let first = started();
    assert!(
        first.iter().all(|(_, ppid)| *ppid == first[0].1),
        "one supervisor for the runs due together: {first:?}"
    );
    let status = env.kron(&["status"]).output().stdout();
    assert!(status.contains("3 in progress, 2 waiting"), "{status}");
    // One run ends while its supervisor goes on with the other two: its
    // slot is free, and a waiting run starts.
    std::fs::remove_file(dir.join(format!("gate-{}", first[0].0))).unwrap();
    wait_until("a fourth run starts", || started().len() == 4);
    assert_eq!(started()[..3], first[..], "{:?}", started());
    for name in names {
        let _ = std::fs::remove_file(dir.join(format!("gate-{name}")));
    }
    wait_until("all five ran", || {
        names.iter().all(|n| !history(&env, n).is_empty())
    });
}

#[test]
fn max_parallel_holds_across_a_daemon_restart() {
    let env = Env::new();
    let gate = env.path().join("gate");
    let starts = env.path().join("starts");
    std::fs::write(&gate, "").unwrap();
    env.write_task_file(&format!(
        "[defaults]\nmax_parallel = 1\n\n[tasks.a]\nschedule = \"* * * * * *\"\n\
         command = \"echo $KRON_RUN_ID >> {}; while [ -e {} ]; do sleep 0.05; done\"\n",
        starts.display(),
        gate.display()
    ));
    let daemon = DaemonGuard::start(&env);
    wait_until("a run starts", || !lines(&starts).is_empty());
    drop(daemon);
    let restarted = DaemonGuard::start(&env);
    // The run of the daemon before counts: the next instants wait for it
    // rather than start (and be skipped, as `a` is still running).
    wait_until("the next run waits", || {
        let status = env.kron(&["status"]).output().stdout();
        status.contains("1 in progress, ") && status.contains(" waiting")
    });
    assert!(history(&env, "a").is_empty(), "{:?}", history(&env, "a"));
    assert!(
        restarted.log().contains("counting 1 run(s) of supervisor"),
        "{}",
        restarted.log()
    );
    std::fs::remove_file(&gate).unwrap();
    wait_until("a second run starts", || lines(&starts).len() >= 2);
}

#[test]
fn jitter_delays_runs_within_its_bound() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.j]\nschedule = \"*/2 * * * * *\"\njitter = \"1500ms\"\ncommand = \"true\"\n",
    );
    let _daemon = DaemonGuard::start(&env);
    wait_until("three runs", || history(&env, "j").len() >= 3);
    for r in &history(&env, "j")[..3] {
        let late = ts(&r["started"]).duration_since(ts(&r["scheduled"]));
        assert!(late.as_secs_f64() < 2.5, "{late:?}: {r}");
    }
}

#[test]
fn a_run_survives_sigkill_of_the_daemon_and_no_second_copy_starts() {
    let env = Env::new();
    let gate = env.path().join("gate");
    let starts = env.path().join("starts");
    std::fs::write(&gate, "").unwrap();
    env.write_task_file(&format!(
        "[tasks.long]\nschedule = \"* * * * * *\"\ncommand = \"echo $KRON_RUN_ID >> {}; while [ -e {} ]; do sleep 0.05; done\"\n",
        starts.display(),
        gate.display()
    ));
    let mut daemon = DaemonGuard::start(&env);
    wait_until("the run starts", || !lines(&starts).is_empty());
    daemon.signal(Signal::SIGKILL);
    daemon.wait_exit();
    let daemon = DaemonGuard::start(&env);
    // The new daemon fires each second; the lock makes each run a skip.
    wait_until("runs skipped while the first holds the lock", || {
        history(&env, "long")
            .iter()
            .filter(|r| r["outcome"] == "skipped")
            .count()
            >= 2
    });
    assert_eq!(lines(&starts).len(), 1, "{}", daemon.log());
    let first = lines(&starts)[0].clone();
    std::fs::remove_file(&gate).unwrap();
    wait_until("the first run's outcome", || {
        history(&env, "long")
            .iter()
            .any(|r| r["run_id"] == first.as_str() && r["outcome"] == "success")
    });
}

#[test]
fn a_command_that_cannot_start_is_recorded() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.broken]\nschedule = \"* * * * * *\"\ncommand = [\"/nonexistent/program\"]\n",
    );
    let _daemon = DaemonGuard::start(&env);
    wait_until("the failure is recorded", || {
        !history(&env, "broken").is_empty()
    });
    let r = &history(&env, "broken")[0];
    assert_eq!(r["outcome"], "failure", "{r}");
}

#[test]
fn run_detach_is_handed_to_a_running_daemon() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.once]\nschedule = \"0 0 1 1 *\"\ncommand = \"echo $KRON_RUN_ID\"\n",
    );
    let daemon = DaemonGuard::start(&env);
    let out = env.kron(&["run", "once", "--detach"]).output();
    out.success();
    assert!(
        out.stderr()
            .contains(&format!("handed once to the daemon (pid {})", daemon.pid)),
        "{}",
        out.stderr()
    );
    let id = out.stdout().trim().to_string();
    wait_until("the handed run is recorded", || {
        !history(&env, "once").is_empty()
    });
    let record = &history(&env, "once")[0];
    assert_eq!(record["run_id"], id.as_str(), "{record}");
    assert_eq!(record["trigger"], "manual", "{record}");
    assert_eq!(record["outcome"], "success", "{record}");
}
