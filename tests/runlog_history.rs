//! Run logs (rotation bound, raw bytes, `kron logs`) and history records
//! (`kron history`, filters, a truncated line, the LAST column of `kron list`).

use std::path::PathBuf;

use crate::util::{DEADLINE, Env, history, log, task, wait_for, wait_until, wait_with_deadline};

fn logs_dir(env: &Env) -> PathBuf {
    env.path().join("state/kron/logs")
}

#[test]
fn a_chatty_command_leaves_at_most_max_size_times_keep_plus_one() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "chatty",
        "yes | head -c 5000000; echo; echo the end",
        &dir,
        "log = { max_size = \"64KiB\", keep = 2 }",
    ));
    let out = env.kron(&["run", "chatty"]).output();
    out.success();
    assert_eq!(
        out.output.stdout.len(),
        5_000_000 + 9,
        "the terminal gets it all"
    );
    let mut total = 0;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(logs_dir(&env)).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name.starts_with('.') {
            continue;
        }
        let len = entry.metadata().unwrap().len();
        assert!(len <= 64 * 1024, "{name}: {len}");
        total += len;
        names.push(name);
    }
    names.sort();
    assert_eq!(names, ["chatty.log", "chatty.log.1", "chatty.log.2"]);
    assert!(total <= 3 * 64 * 1024, "{total}");
    let last = String::from_utf8(log(&env, "chatty")).unwrap();
    assert!(last.contains("the end\n<== kron run "), "{last}");
}

#[test]
fn output_that_is_not_utf8_is_kept_as_bytes() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("bin", "printf 'a\\377\\376b\\n'", &dir, ""));
    let out = env.kron(&["run", "bin"]).output();
    out.success();
    assert_eq!(out.output.stdout, b"a\xff\xfeb\n");
    assert!(log(&env, "bin").windows(5).any(|w| w == b"a\xff\xfeb\n"));
    let logs = env.kron(&["logs", "bin"]).output();
    logs.success();
    assert!(logs.output.stdout.windows(5).any(|w| w == b"a\xff\xfeb\n"));
}

#[test]
fn logs_shows_the_last_run_or_the_one_asked_for() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "echo \"run $(cat n 2>/dev/null)\"; echo x >> n; echo line2",
        &dir,
        "",
    ));
    env.kron(&["logs", "t"]).output().code(1);
    env.kron(&["run", "t"]).output().success();
    env.kron(&["run", "t"]).output().success();
    let first_id = history(&env, "t")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let last = env.kron(&["logs", "t"]).output();
    last.success();
    let text = last.stdout();
    assert!(text.starts_with("==> kron run "), "{text}");
    assert!(text.contains("run x\nline2\n"), "{text}");
    assert!(!text.contains(&first_id), "{text}");
    assert_eq!(text.lines().count(), 4, "{text}");
    let one = env.kron(&["logs", "t", "-n", "2"]).output();
    one.success();
    assert!(one.stdout().starts_with("line2\n<== kron run "));
    let first = env.kron(&["logs", "t", "--run", &first_id]).output();
    first.success();
    assert!(
        first.stdout().contains("run \nline2\n"),
        "{}",
        first.stdout()
    );
    env.kron(&["logs", "t", "--run", "nope"]).output().code(1);
}

/// `kron logs ... -f` running in the background, its output in a file.
struct Follower {
    child: std::process::Child,
    out: PathBuf,
}

impl Follower {
    fn start(env: &Env, args: &[&str]) -> Follower {
        let out = env.path().join(format!("follow-{}.out", args.join("_")));
        let mut command = env.kron(args).into_command();
        command
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::process::Stdio::null());
        Follower {
            child: command.spawn().unwrap(),
            out,
        }
    }

    fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    #[track_caller]
    fn wait_for(&self, what: &str, text: &str) {
        wait_until(what, || self.text().contains(text));
    }

    /// Ctrl-C, after checking that it still follows.
    #[track_caller]
    fn stop(mut self) -> String {
        assert!(
            self.child.try_wait().unwrap().is_none(),
            "-f ended by itself:\n{}",
            self.text()
        );
        crate::util::signal(self.child.id(), nix::sys::signal::Signal::SIGINT);
        self.child.wait().unwrap();
        self.text()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn logs_follow_prints_live_output_and_goes_on_after_the_run_ends() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        &format!(
            "echo before; touch started; {}; echo after",
            wait_for("gate")
        ),
        &dir,
        "",
    ));
    let run = env.kron(&["run", "t"]).spawn();
    wait_until("the command started", || dir.join("started").exists());
    let follow = Follower::start(&env, &["logs", "t", "-f"]);
    follow.wait_for("the output so far", "before\n");
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(run, DEADLINE).success();
    follow.wait_for("the rest of the run", "after\n<== kron run ");
    let text = follow.stop();
    assert!(text.contains("before\n"), "{text}");
}

#[test]
fn logs_follow_waits_for_the_first_run_and_follows_run_after_run() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", "echo \"run $KRON_RUN_ID\"", &dir, ""));
    // Not run yet: -f waits instead of failing (without -f it fails).
    env.kron(&["logs", "t"]).output().code(1);
    let follow = Follower::start(&env, &["logs", "t", "-f"]);
    let mut ids = Vec::new();
    for n in 1..=2 {
        env.kron(&["run", "t"]).output().success();
        let id = history(&env, "t")[n - 1]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        follow.wait_for("the run's output", &format!("run {id}\n<== kron run {id} "));
        ids.push(id);
    }
    let text = follow.stop();
    assert!(
        text.starts_with(&format!("==> kron run {} ", ids[0])),
        "{text}"
    );
    assert_eq!(text.matches("==> kron run ").count(), 2, "{text}");
}

#[test]
fn logs_without_a_name_interleaves_every_task_by_time() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}{}",
        task("alpha", "echo a", &dir, ""),
        task("b", "echo b; echo b2", &dir, "")
    ));
    for name in ["alpha", "b", "alpha"] {
        env.kron(&["run", name]).output().success();
    }
    let out = env.kron(&["logs"]).output();
    out.success();
    let text = out.stdout();
    // Each line prefixed with its task (names aligned), runs in the order
    // they started.
    let tasks: Vec<&str> = text.lines().filter(|l| !l.contains("kron run")).collect();
    assert_eq!(
        tasks,
        ["alpha | a", "b     | b", "b     | b2", "alpha | a"],
        "{text}"
    );
    assert_eq!(text.lines().count(), 4 + 6, "{text}");
    assert!(text.starts_with("alpha | ==> kron run "), "{text}");
    // -n: the last lines of the whole stream.
    let last = env.kron(&["logs", "-n", "2"]).output();
    assert_eq!(
        last.stdout().lines().next(),
        Some("alpha | a"),
        "{}",
        last.stdout()
    );
    // --since: today, yesterday, a date, an instant, a duration.
    for (since, runs) in [
        ("today", 3),
        ("yesterday", 3),
        ("2000-01-01", 3),
        ("1h", 3),
        ("2100-01-01T00:00:00Z", 0),
    ] {
        let out = env.kron(&["logs", "--since", since]).output();
        out.success();
        assert_eq!(
            out.stdout().matches("==> kron run ").count(),
            runs,
            "--since {since}: {}",
            out.stdout()
        );
    }
    env.kron(&["logs", "--since", "soon"]).output().code(2);
    // One task's runs since: all of them, not only the last.
    let alpha = env.kron(&["logs", "alpha", "--since", "today"]).output();
    assert_eq!(
        alpha.stdout().matches("\na\n").count(),
        2,
        "{}",
        alpha.stdout()
    );
    // -f: what every task writes from now on, prefixed (b runs until the
    // follower, which may start reading after a run of b, prints one).
    let follow = Follower::start(&env, &["logs", "-f", "-n", "0"]);
    wait_until("the follower prints a run of b", || {
        env.kron(&["run", "b"]).output().success();
        follow.text().contains("b     | b2\n")
    });
    env.kron(&["run", "alpha"]).output().success();
    follow.wait_for("alpha's run", "alpha | a\nalpha | <== kron run ");
    let text = follow.stop();
    assert!(text.contains("\nalpha | ==> kron run "), "{text}");
    assert_eq!(text.matches("alpha | a\n").count(), 1, "{text}");
}

#[test]
fn history_lists_filters_and_prints_json() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}{}",
        task("good", "true", &dir, ""),
        task("bad", "exit 4", &dir, "")
    ));
    env.kron(&["run", "good"]).output().success();
    env.kron(&["run", "bad"]).output().code(4);
    env.kron(&["run", "good"]).output().success();

    let json = env.kron(&["history", "--json"]).output();
    json.success();
    let all: Vec<serde_json::Value> = serde_json::from_str(&json.stdout()).unwrap();
    let tasks: Vec<_> = all.iter().map(|r| r["task"].as_str().unwrap()).collect();
    assert_eq!(tasks, ["good", "bad", "good"], "newest first");
    let keys: Vec<_> = all[0].as_object().unwrap().keys().cloned().collect();
    for key in [
        "run_id",
        "task",
        "trigger",
        "scheduled",
        "started",
        "finished",
        "attempts",
        "exit_code",
        "signal",
        "outcome",
        "duration_ms",
    ] {
        assert!(keys.contains(&key.to_string()), "{key} in {keys:?}");
    }

    let failures = env
        .kron(&["history", "--outcome", "failure", "--json"])
        .output();
    let failures: Vec<serde_json::Value> = serde_json::from_str(&failures.stdout()).unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["exit_code"], 4);

    let one: Vec<serde_json::Value> = serde_json::from_str(
        &env.kron(&["history", "good", "-n", "1", "--json"])
            .output()
            .stdout(),
    )
    .unwrap();
    assert_eq!(one.len(), 1);
    for (since, count) in [
        ("1h", 3),
        ("2000-01-01T00:00:00Z", 3),
        ("2100-01-01T00:00:00Z", 0),
    ] {
        let out = env.kron(&["history", "--since", since, "--json"]).output();
        out.success();
        let found: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
        assert_eq!(found.len(), count, "--since {since}");
    }
    env.kron(&["history", "--since", "yesterday"])
        .output()
        .code(2);

    let table = env.kron(&["history"]).output();
    table.success();
    let text = table.stdout();
    assert!(text.starts_with("STARTED"), "{text}");
    assert!(
        text.contains("failure") && text.contains("exit 4"),
        "{text}"
    );

    let list = env.kron(&["list"]).output();
    list.success();
    let text = list.stdout();
    assert!(text.contains("LAST"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("good") && l.contains("success")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("bad") && l.contains("failure")),
        "{text}"
    );
}

#[test]
fn a_truncated_history_line_is_skipped_with_a_warning() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", "true", &dir, ""));
    env.kron(&["run", "t"]).output().success();
    let file = env.path().join("state/kron/history/t.jsonl");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("{\"run_id\":\"20260101-000000-0000");
    std::fs::write(&file, text).unwrap();
    let out = env.kron(&["history", "--json"]).output();
    out.success();
    assert!(out.stderr().contains("truncated"), "{}", out.stderr());
    let records: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(records.len(), 1);
    // The next run's record is whole.
    env.kron(&["run", "t"]).output().success();
    let out = env.kron(&["history", "--json"]).output();
    let records: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(records.len(), 2);
    env.kron(&["list"]).output().success();
}

#[test]
fn a_detached_run_can_be_followed() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        &format!("echo one; {}; echo two", wait_for("gate")),
        &dir,
        "",
    ));
    let out = env.kron(&["run", "t", "--detach"]).output();
    out.success();
    let id = out.stdout().trim().to_string();
    wait_until("the run's header is in the log", || {
        String::from_utf8_lossy(&log(&env, "t")).contains("one\n")
    });
    let follow = env.kron(&["logs", "t", "--run", &id, "-f"]).spawn();
    std::fs::write(dir.join("gate"), "").unwrap();
    let out = wait_with_deadline(follow, DEADLINE);
    out.success();
    assert!(out.stdout().contains("one\ntwo\n"), "{}", out.stdout());
}

#[test]
fn list_says_running_while_a_run_runs() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        &format!("touch started; {}", wait_for("gate")),
        &dir,
        "",
    ));
    // A run that succeeded: its record is the last one.
    std::fs::write(dir.join("gate"), "").unwrap();
    env.kron(&["run", "t"]).output().success();
    std::fs::remove_file(dir.join("gate")).unwrap();
    std::fs::remove_file(dir.join("started")).unwrap();
    let last_cell = |env: &Env| {
        let out = env.kron(&["list"]).env("COLUMNS", "200").output();
        out.success();
        let stdout = out.stdout();
        stdout
            .lines()
            .find(|l| l.starts_with("t "))
            .unwrap_or_else(|| panic!("{stdout}"))
            .to_string()
    };
    assert!(last_cell(&env).contains("success "), "{}", last_cell(&env));
    let run = env.kron(&["run", "t"]).spawn();
    wait_until("the command started", || dir.join("started").exists());
    let line = last_cell(&env);
    assert!(
        line.contains("running for ") && !line.contains("success"),
        "{line}"
    );
    std::fs::write(dir.join("gate"), "").unwrap();
    wait_with_deadline(run, DEADLINE).success();
    assert!(last_cell(&env).contains("success "), "{}", last_cell(&env));
}

#[test]
fn since_takes_a_date_or_a_date_and_time_in_the_local_zone() {
    let env = Env::new();
    let dir = env.path().join("state/kron/history");
    std::fs::create_dir_all(&dir).unwrap();
    // Runs at 22:30 UTC on 7 and 8 March 2026: 23:30 in Berlin.
    let mut text = String::new();
    for (i, started) in ["2026-03-07T22:30:00Z", "2026-03-08T22:30:00Z"]
        .iter()
        .enumerate()
    {
        let record = serde_json::json!({
            "run_id": format!("r{i}"), "task": "t", "trigger": "schedule",
            "scheduled": started, "started": started, "finished": started,
            "attempts": 1, "exit_code": 0, "signal": null,
            "outcome": "success", "duration_ms": 0,
        });
        text.push_str(&format!("{record}\n"));
    }
    std::fs::write(dir.join("t.jsonl"), text).unwrap();
    let found = |tz: &str, since: &str| {
        let out = env
            .kron(&["history", "--since", since, "--json"])
            .env("TZ", tz)
            .output();
        out.success();
        serde_json::from_str::<Vec<serde_json::Value>>(&out.stdout())
            .unwrap()
            .len()
    };
    for (tz, since, count) in [
        ("UTC", "2026-03-08", 1),
        ("UTC", "2026-03-07", 2),
        ("UTC", "2026-03-08 22:30", 1),
        ("UTC", "2026-03-08 22:31", 0),
        // Berlin's 8 March starts at 23:00 UTC on the 7th.
        ("Europe/Berlin", "2026-03-08", 1),
        ("Europe/Berlin", "2026-03-07 23:30", 2),
        ("Europe/Berlin", "2026-03-07 23:31", 1),
    ] {
        assert_eq!(found(tz, since), count, "TZ={tz} --since {since}");
    }
    let out = env.kron(&["history", "--since", "8.3.2026"]).output();
    out.code(2);
    assert!(
        out.stderr().contains("a date (2026-03-08)"),
        "{}",
        out.stderr()
    );
}
