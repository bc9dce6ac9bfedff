//! The daemon's life: start, stop, status, one per user, reloads on good
//! and bad edits and on SIGHUP, SIGTERM while a run goes on, auto-start,
//! and its log, bounded while it runs.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use nix::sys::signal::Signal;

use crate::util::daemon::{DaemonGuard, StopOnDrop};
use crate::util::{Env, append, gone, history, lines, task, wait_until};

fn tick(name: &str, out: &std::path::Path) -> String {
    format!(
        "[tasks.{name}]\nschedule = \"* * * * * *\"\ncommand = \"{}\"\n",
        append(out, name)
    )
}

#[test]
fn start_status_stop_and_one_daemon_per_user() {
    let env = Env::new();
    env.write_task_file("");
    let out = env.kron(&["daemon", "status"]).output();
    out.code(3);
    assert!(out.stderr().contains("not running"), "{}", out.stderr());

    let _stop = StopOnDrop(&env);
    let out = env.kron(&["daemon", "start"]).output();
    out.success();
    let pid: u32 = out
        .stdout()
        .trim()
        .strip_prefix("started the daemon (pid ")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{}", out.stdout()))
        .parse()
        .unwrap();
    let out = env.kron(&["daemon", "status"]).output();
    out.success();
    assert!(
        out.stdout()
            .starts_with(&format!("running (pid {pid}, up ")),
        "{}",
        out.stdout()
    );

    // A second daemon refuses to run, naming the first.
    let out = env.kron(&["daemon", "run"]).output();
    out.code(1);
    assert!(
        out.stderr()
            .contains(&format!("already running (pid {pid})")),
        "{}",
        out.stderr()
    );
    let out = env.kron(&["daemon", "start"]).output();
    out.success();
    assert!(
        out.stdout()
            .contains(&format!("already running (pid {pid})"))
    );

    let out = env.kron(&["status"]).output();
    out.success();
    assert!(
        out.stdout().contains(&format!("running, pid {pid}")),
        "{}",
        out.stdout()
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.kron(&["status", "--json"]).output().stdout()).unwrap();
    assert_eq!(json["daemon"]["pid"], pid);
    assert_eq!(json["daemon"]["load_error"], serde_json::Value::Null);

    let out = env.kron(&["daemon", "stop"]).output();
    out.success();
    assert_eq!(out.stdout(), format!("stopped the daemon (pid {pid})\n"));
    env.kron(&["daemon", "status"]).output().code(3);
    let out = env.kron(&["status"]).output();
    out.success();
    assert!(
        out.stdout().contains("daemon:    not running"),
        "{}",
        out.stdout()
    );
    let log = std::fs::read_to_string(env.path().join("state/kron/daemon.log")).unwrap();
    assert!(log.contains("INFO stopping on request"), "{log}");

    // restart works from stopped too.
    let out = env.kron(&["daemon", "restart"]).output();
    out.success();
    assert!(
        out.stdout().contains("started the daemon"),
        "{}",
        out.stdout()
    );
}

#[test]
fn a_stale_socket_and_lock_file_do_not_stop_a_new_daemon() {
    let env = Env::new();
    env.write_task_file("");
    let mut first = DaemonGuard::start(&env);
    first.signal(Signal::SIGKILL);
    first.wait_exit();
    assert!(env.path().join("runtime/kron/kron.sock").exists());
    let second = DaemonGuard::start(&env);
    assert_ne!(second.pid, first.pid);
}

#[test]
fn reloads_good_edits_and_keeps_the_old_tasks_on_a_bad_one() {
    let env = Env::new();
    let a = env.path().join("a.out");
    let b = env.path().join("b.out");
    env.write_task_file(&tick("a", &a));
    let daemon = DaemonGuard::start(&env);
    wait_until("a fires", || !lines(&a).is_empty());

    // A good edit: a task added with kron add fires without a restart.
    env.kron(&[
        "add",
        "b",
        "--schedule",
        "* * * * * *",
        "--",
        &append(&b, "b"),
    ])
    .output()
    .success();
    wait_until("b fires", || !lines(&b).is_empty());

    // A bad edit: the daemon keeps a and b and shows the error.
    let good = env.read_task_file().unwrap();
    env.write_task_file(&format!(
        "{good}\n[tasks.c]\nschedule = \"61 * * * *\"\ncommand = \"true\"\n"
    ));
    wait_until("status shows the error", || {
        env.kron(&["status"])
            .output()
            .stdout()
            .contains("NOT loaded")
    });
    let out = env.kron(&["status"]).output();
    assert!(
        out.stdout().contains("tasks.c.schedule"),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains("2 task(s)"), "{}", out.stdout());
    let json: serde_json::Value =
        serde_json::from_str(&env.kron(&["status", "--json"]).output().stdout()).unwrap();
    assert!(
        json["daemon"]["load_error"]
            .as_str()
            .unwrap()
            .contains("61")
    );
    let (na, nb) = (lines(&a).len(), lines(&b).len());
    wait_until("a and b still fire", || {
        lines(&a).len() > na + 1 && lines(&b).len() > nb + 1
    });
    assert!(
        daemon.log().contains("WARN not loading"),
        "{}",
        daemon.log()
    );

    // Fixed, with b removed: the error goes, b stops.
    env.write_task_file(&tick("a", &a));
    wait_until("the error goes", || {
        !env.kron(&["status"])
            .output()
            .stdout()
            .contains("NOT loaded")
    });
    let nb = lines(&b).len();
    let na = lines(&a).len();
    wait_until("a fires on", || lines(&a).len() > na + 2);
    assert!(lines(&b).len() <= nb + 1, "b still fires");
}

#[test]
fn a_reload_of_a_file_that_is_not_utf8_names_line_and_column() {
    let env = Env::new();
    let a = env.path().join("a.out");
    env.write_task_file(&tick("a", &a));
    let _daemon = DaemonGuard::start(&env);
    wait_until("a fires", || !lines(&a).is_empty());
    let mut bad = tick("a", &a).into_bytes();
    bad.extend_from_slice(b"# caf\xff\n");
    std::fs::write(env.task_file(), bad).unwrap();
    wait_until("status shows the error", || {
        env.kron(&["status"])
            .output()
            .stdout()
            .contains("tasks.toml:4:6: invalid UTF-8 (byte 0xff)")
    });
    let na = lines(&a).len();
    wait_until("a still fires", || lines(&a).len() > na + 1);
}

#[test]
fn sighup_reloads_a_change_inotify_cannot_see() {
    let env = Env::new();
    // The task file is a link to a file elsewhere: editing the target
    // changes nothing in the watched directory.
    let target = env.path().join("elsewhere/tasks.toml");
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let a = env.path().join("a.out");
    let b = env.path().join("b.out");
    std::fs::write(&target, tick("a", &a)).unwrap();
    std::fs::create_dir_all(env.task_file().parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, env.task_file()).unwrap();
    let daemon = DaemonGuard::start(&env);
    wait_until("a fires", || !lines(&a).is_empty());
    std::fs::write(&target, tick("b", &b)).unwrap();
    daemon.signal(Signal::SIGHUP);
    wait_until("b fires after SIGHUP", || !lines(&b).is_empty());
    assert!(daemon.log().contains("(SIGHUP)"), "{}", daemon.log());
}

#[test]
fn sigterm_exits_at_once_and_the_run_goes_on() {
    let env = Env::new();
    let gate = env.path().join("gate");
    let started = env.path().join("started");
    std::fs::write(&gate, "").unwrap();
    env.write_task_file(&format!(
        "[tasks.slow]\nschedule = \"* * * * * *\"\ncommand = \"echo go >> {}; while [ -e {} ]; do sleep 0.05; done\"\n",
        started.display(),
        gate.display()
    ));
    let mut daemon = DaemonGuard::start(&env);
    wait_until("the run starts", || !lines(&started).is_empty());
    daemon.signal(Signal::SIGTERM);
    let (status, took) = daemon.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert!(
        daemon.log().contains("INFO stopping on signal 15"),
        "{}",
        daemon.log()
    );
    // The run is still going, visible in kron status, and ends recorded.
    let out = env.kron(&["status"]).output();
    assert!(out.stdout().contains("slow"), "{}", out.stdout());
    std::fs::remove_file(&gate).unwrap();
    wait_until("the run is recorded", || {
        history(&env, "slow")
            .iter()
            .any(|r| r["outcome"] == "success")
    });
    assert_eq!(lines(&started).len(), 1);
}

#[test]
fn verbs_that_change_tasks_start_the_daemon_once() {
    let env = Env::new();
    let _stop = StopOnDrop(&env);
    let out = env
        .kron(&["add", "a", "--schedule", "@daily", "--", "true"])
        .autostart()
        .output();
    out.success();
    let message = out.stderr();
    assert!(
        message.starts_with("kron: started the daemon (pid "),
        "{message}"
    );
    env.kron(&["daemon", "status"]).output().success();
    let out = env
        .kron(&["add", "b", "--schedule", "@daily", "--", "true"])
        .autostart()
        .output();
    out.success();
    assert_eq!(out.stderr(), "");
    // KRON_NO_AUTOSTART=1 (the harness's default) keeps it from starting.
    env.kron(&["daemon", "stop"]).output().success();
    env.kron(&["remove", "b"]).output().success();
    env.kron(&["daemon", "status"]).output().code(3);
    let out = env.kron(&["pause", "a"]).autostart().output();
    out.success();
    assert!(
        out.stderr().contains("started the daemon"),
        "{}",
        out.stderr()
    );
}

/// Issue 11, bug 6: with `--file OTHER` (or `KRON_FILE`) while the daemon
/// runs the default file, `kron add` said "next run in 1s" and nothing ran.
/// Every verb that changes tasks, and list and status, say that no daemon
/// runs this file and how to run it.
#[test]
fn issue_11_verbs_say_when_the_daemon_runs_another_file() {
    let env = Env::new();
    env.write_task_file("");
    let _daemon = DaemonGuard::start(&env);
    let other = env.path().join("other.toml");
    let other_text = other.display().to_string();
    let expect = |out: &crate::util::Outcome, stream: &str| {
        assert!(
            stream.contains(&format!(
                "no daemon runs {other_text}, so its tasks do not run"
            )) && stream.contains(&format!(
                "runs {}, and one daemon runs per user",
                env.task_file().display()
            )) && stream.contains(&format!(
                "kron daemon stop && kron --file {other_text} daemon start"
            )),
            "{stream}\n(stdout: {})",
            out.stdout()
        );
    };
    let file = ["--file", other_text.as_str()];
    let add = [
        &file[..],
        &["add", "t", "--schedule", "* * * * * *", "--", "true"],
    ]
    .concat();
    let out = env.kron(&add).autostart().output();
    out.success();
    expect(&out, &out.stderr());
    let by_env = |args: &[&str]| env.kron(args).env("KRON_FILE", &other).autostart().output();
    for args in [&["pause", "t"][..], &["resume", "t"], &["list"]] {
        let out = by_env(args);
        out.success();
        expect(&out, &out.stderr());
    }
    let out = env
        .kron(&["import", "-"])
        .env("KRON_FILE", &other)
        .autostart()
        .output_with_stdin("@daily backup\n");
    out.success();
    expect(&out, &out.stderr());
    let out = env
        .kron(&[&file[..], &["edit"]].concat())
        .env(
            "EDITOR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/editor-valid.sh"),
        )
        .autostart()
        .output();
    out.success();
    expect(&out, &out.stderr());
    let out = by_env(&["status"]);
    out.success();
    expect(&out, &out.stdout());
    let out = by_env(&["status", "--json"]);
    out.success();
    let json: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    expect(&out, json["task_file_not_run"].as_str().unwrap());
    // The file the daemon runs: not a word.
    let out = env
        .kron(&["add", "u", "--schedule", "@daily", "--", "true"])
        .autostart()
        .output();
    out.success();
    assert_eq!(out.stderr(), "");
    assert!(!env.kron(&["status"]).output().stdout().contains("warning"));
    // Nothing ran the other file's every-second task.
    assert!(history(&env, "t").is_empty());
}

/// The lines of `text` that are whole (a line being written may show its
/// first bytes only), each checked to be one log line: a time, a level,
/// a message.
#[track_caller]
fn log_lines(text: &str) -> Vec<&str> {
    let whole = text.rsplit_once('\n').map_or("", |(whole, _)| whole);
    let lines: Vec<&str> = whole.lines().collect();
    for line in &lines {
        let mut words = line.splitn(3, ' ');
        let whole = words.next().is_some_and(|t| t.parse::<Timestamp>().is_ok())
            && words
                .next()
                .is_some_and(|l| ["ERROR", "WARN", "INFO", "DEBUG"].contains(&l))
            && words.next().is_some_and(|m| !m.is_empty());
        assert!(whole, "not a whole log line: {line:?} in\n{text}");
    }
    lines
}

#[test]
fn the_daemon_log_stays_bounded_while_the_daemon_runs() {
    use std::os::unix::fs::MetadataExt;
    const MAX: u64 = 8192;
    // What a file may hold past the bound: the lines written while it was
    // being rotated, a few hundred bytes each.
    const SLACK: u64 = 2048;
    let env = Env::new();
    let dir = env.work();
    // Runs every second, spread by jitter over several supervisors, whose
    // run logs cannot be opened: each run is a line of the daemon and a
    // line of its supervisor, two processes writing to one file.
    let mut text = String::new();
    for i in 0..8 {
        let name = format!("t{i}");
        text += &task(&name, "true", &dir, "jitter = \"900ms\"")
            .replace("\"@daily\"", "\"* * * * * *\"");
        std::fs::create_dir_all(env.path().join(format!("state/kron/logs/{name}.log"))).unwrap();
    }
    env.write_task_file(&text);
    let _stop = StopOnDrop(&env);
    env.kron(&["daemon", "start"])
        .env("KRON_LOG_MAX_SIZE", "8KiB")
        .output()
        .success();
    let log = env.path().join("state/kron/daemon.log");
    let rotated = env.path().join("state/kron/daemon.log.1");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap_or_default();
    // Inode numbers are reused: count the changes.
    let (mut last, mut rotations) = (None, 0);
    wait_until("daemon.log was rotated 3 times", || {
        for path in [&log, &rotated] {
            let text = read(path);
            let len = text.len() as u64;
            assert!(
                len <= MAX + SLACK,
                "{} is {len} bytes:\n{text}",
                path.display()
            );
            log_lines(&text);
        }
        let ino = std::fs::metadata(&log).map(|m| m.ino()).ok();
        if ino != last {
            rotations += 1;
            last = ino;
        }
        rotations > 3
    });
    env.kron(&["daemon", "stop"]).output().success();

    // Once every supervisor is gone, every run left both its lines in the
    // last two files: none was lost to a rotation.
    let pid_of_started = |line: &str| -> Option<i32> {
        let (_, pid) = line
            .split_once(" INFO started ")?
            .1
            .rsplit_once(": supervisor pid ")?;
        pid.parse().ok()
    };
    let pid_of_warning = |line: &str| -> Option<i32> {
        let rest = line.split_once(" WARN supervisor ")?.1;
        rest.split_once(':')?.0.parse().ok()
    };
    let all = || read(&rotated) + &read(&log);
    wait_until("the supervisors are gone", || {
        log_lines(&all())
            .into_iter()
            .filter_map(pid_of_started)
            .all(gone)
    });
    let text = all();
    assert!(text.ends_with('\n'));
    let lines = log_lines(&text);
    for path in [&log, &rotated] {
        let meta = std::fs::metadata(path).unwrap();
        assert!(meta.len() <= MAX + SLACK, "{}", path.display());
        // daemon.log.1 was rotated for being past the bound.
        assert!(path != &rotated || meta.len() > MAX);
        assert_eq!(meta.mode() & 0o777, 0o600, "{}", path.display());
    }
    let time = |line: &str| {
        line.split_once(' ')
            .unwrap()
            .0
            .parse::<Timestamp>()
            .unwrap()
    };
    // Lines near the start of what is left may have lost their partner
    // with the file before.
    let from = time(lines[0]) + Duration::from_secs(1);
    let started: Vec<i32> = lines.iter().filter_map(|l| pid_of_started(l)).collect();
    let warned: Vec<i32> = lines.iter().filter_map(|l| pid_of_warning(l)).collect();
    let checked = lines.iter().filter(|l| time(l) >= from);
    let mut pairs = 0;
    for line in checked {
        if let Some(pid) = pid_of_started(line) {
            assert!(
                warned.contains(&pid),
                "no line of supervisor {pid}:\n{text}"
            );
            pairs += 1;
        }
        if let Some(pid) = pid_of_warning(line) {
            assert!(
                started.contains(&pid),
                "supervisor {pid} was not started:\n{text}"
            );
        }
    }
    assert!(pairs >= 8, "{pairs} runs checked:\n{text}");
}

#[test]
fn one_change_is_loaded_once() {
    use std::fs::Permissions;
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.write_task_file("");
    let daemon = DaemonGuard::start(&env);
    let loaded = |daemon: &DaemonGuard| {
        daemon
            .log()
            .lines()
            .filter(|l| l.contains(" INFO loaded "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    // Each install is a rename onto the file; an editor may add a chmod.
    for n in 1..=5 {
        env.kron(&[
            "add",
            &format!("t{n}"),
            "--schedule",
            "@daily",
            "--",
            "true",
        ])
        .output()
        .success();
    }
    let file = env.task_file();
    let text = env.read_task_file().unwrap();
    let copy = file.with_extension("new");
    std::fs::write(&copy, &text).unwrap();
    std::fs::set_permissions(&copy, Permissions::from_mode(0o600)).unwrap();
    std::fs::rename(&copy, &file).unwrap();
    std::fs::set_permissions(&file, Permissions::from_mode(0o600)).unwrap();
    // A last change: once it is loaded, the events before it were read.
    env.kron(&["add", "last", "--schedule", "@daily", "--", "true"])
        .output()
        .success();
    wait_until("the last change is loaded", || {
        loaded(&daemon)
            .last()
            .is_some_and(|l| l.contains(": 6 task(s)"))
    });
    let lines = loaded(&daemon);
    assert_eq!(
        lines.len(),
        7,
        "start, then one per change:\n{}",
        daemon.log()
    );
    for (n, line) in lines.iter().enumerate() {
        assert!(line.contains(&format!(": {n} task(s)")), "{}", daemon.log());
    }
}

/// The daemon reads a file a task at a time when its layout allows and
/// whole otherwise (src/taskfile/sections.rs): both run every task with
/// the defaults above them, and a mistake in a middle task is refused
/// with the whole file's line.
#[test]
fn every_layout_of_the_task_file_runs_and_a_mistake_names_its_line() {
    let env = Env::new();
    let out = |name: &str| env.path().join(format!("{name}.out"));
    let command = |name: &str| append(&out(name), &format!("{name}:$GREETING"));
    // Cut into parts: [defaults], then each task's tables.
    let parts = format!(
        "# layout 1\n[defaults]\nenv = {{ GREETING = \"hi\" }}\n\n\
         [tasks.first]\nschedule = \"* * * * * *\"\ncommand = '{}'\n\
         [tasks.first.env]\nGREETING = \"first\"\n\n\
         [tasks.\"second\"]\nschedule = \"* * * * * *\"\ncommand = '{}'\n",
        command("first"),
        command("second"),
    );
    // Read whole: a [tasks] table of inline tables and a dotted key.
    let whole = format!(
        "[defaults]\nenv.GREETING = \"hi\"\n\n[tasks]\n\
         third = {{ schedule = \"* * * * * *\", command = '{}' }}\n\
         fourth.schedule = \"* * * * * *\"\nfourth.command = '{}'\n",
        command("third"),
        command("fourth"),
    );
    env.write_task_file(&parts);
    let daemon = DaemonGuard::start(&env);
    wait_until("first and second run", || {
        lines(&out("first")).contains(&"first:first".to_string())
            && lines(&out("second")).contains(&"second:hi".to_string())
    });
    env.write_task_file(&whole);
    wait_until("third and fourth run", || {
        lines(&out("third")).contains(&"third:hi".to_string())
            && lines(&out("fourth")).contains(&"fourth:hi".to_string())
    });

    // A mistake in the first task of a file cut in parts (line 6): the
    // line is the file's, not the part's.
    env.write_task_file(&parts.replacen("\"* * * * * *\"", "\"61 * * * *\"", 1));
    wait_until("the mistake is refused", || {
        env.kron(&["status"])
            .output()
            .stdout()
            .contains("NOT loaded")
    });
    let status = env.kron(&["status"]).output().stdout();
    assert!(status.contains("tasks.first.schedule"), "{status}");
    assert!(status.contains(":6:"), "{status}\n{}", daemon.log());
}
