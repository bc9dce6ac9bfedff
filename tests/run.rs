//! `kron run` and `kron __supervise`: what a command runs with (environment,
//! workdir, stdin), exit statuses, `--dry-run`, `--detach`.

use crate::util::{DEADLINE, Env, history, log, task, wait_until, wait_with_deadline};

#[test]
fn the_environment_is_built_from_nothing() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "[defaults]\nenv = {{ FROM_DEFAULTS = \"d\", OVERRIDDEN = \"defaults\" }}\n\n\
         [tasks.env]\nschedule = \"@daily\"\ncommand = [\"env\"]\nworkdir = {:?}\n\
         shell = \"/bin/bash\"\nenv = {{ OVERRIDDEN = \"task\", PATH = \"/opt/bin:/usr/bin:/bin\" }}\n",
        dir.display().to_string()
    ));
    let out = env
        .kron(&["run", "env"])
        .env("SECRET_OF_THE_CALLER", "x")
        .output();
    out.success();
    let mut vars: Vec<String> = out.stdout().lines().map(String::from).collect();
    vars.sort();
    let run_id = history(&env, "env")[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let home = env.path().join("home");
    let user = vars
        .iter()
        .find_map(|v| v.strip_prefix("USER="))
        .unwrap()
        .to_string();
    let mut expected = vec![
        "FROM_DEFAULTS=d".to_string(),
        format!("HOME={}", home.display()),
        "KRON_ATTEMPT=1".into(),
        format!("KRON_RUN_ID={run_id}"),
        "KRON_SCHEDULED_AT=".into(),
        "KRON_TASK=env".into(),
        format!("LOGNAME={user}"),
        "OVERRIDDEN=task".into(),
        "PATH=/opt/bin:/usr/bin:/bin".into(),
        "SHELL=/bin/bash".into(),
        format!("USER={user}"),
    ];
    expected.sort();
    assert_eq!(vars, expected);
}

/// The command's descriptors: 0 to 2, and its task's lock on 3 (none with
/// `overlap = "allow"`); nothing of the supervisor's or its caller's leaks
/// in (the shell's own, from 10 up, are not counted).
#[test]
fn the_command_inherits_its_lock_on_descriptor_3_and_nothing_else() {
    let env = Env::new();
    let dir = env.work();
    let list = "for fd in 0 1 2 3 4 5 6 7 8 9; do \
                [ -e /proc/$$/fd/$fd ] && echo \"$fd $(readlink /proc/$$/fd/$fd)\"; done; true";
    env.write_task_file(&format!(
        "{}{}",
        task("t", list, &dir, ""),
        task("free", list, &dir, "overlap = \"allow\""),
    ));
    let fds = |name: &str| {
        // A descriptor kron's caller leaves open is not passed on.
        let leaked = std::fs::File::open("/dev/null").unwrap();
        let mut command = env.kron(&["run", name]).into_command();
        let raw = std::os::fd::AsRawFd::as_raw_fd(&leaked);
        // SAFETY: dup2(2) is async-signal-safe and touches no memory; the
        // copy on 7 has no close-on-exec flag, so kron inherits it.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(
                &mut command,
                move || match nix::libc::dup2(raw, 7) {
                    -1 => Err(std::io::Error::last_os_error()),
                    _ => Ok(()),
                },
            );
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let locked = fds("t");
    let numbers: Vec<&str> = locked.lines().map(|l| &l[..1]).collect();
    assert_eq!(numbers, ["0", "1", "2", "3"], "{locked}");
    let lock = env
        .path()
        .join("runtime/kron/locks/t.lock")
        .canonicalize()
        .unwrap();
    assert!(
        locked.contains(&format!("3 {}", lock.display())),
        "{locked}"
    );
    let free = fds("free");
    let numbers: Vec<&str> = free.lines().map(|l| &l[..1]).collect();
    assert_eq!(numbers, ["0", "1", "2"], "{free}");
}

#[test]
fn workdir_stdin_and_shell() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "pwd; cat; echo; echo \"$0\"",
        &dir,
        "stdin = \"line 1\\nline 2\"\nshell = \"/bin/bash\"",
    ));
    let out = env.kron(&["run", "t"]).output();
    out.success();
    assert_eq!(
        out.stdout(),
        format!("{}\nline 1\nline 2\n/bin/bash\n", dir.display())
    );
    // Without `stdin`, standard input is /dev/null, not the caller's.
    env.write_task_file(&task("t", "cat; echo end", &dir, ""));
    let out = env
        .kron(&["run", "t"])
        .output_with_stdin("not for the task\n");
    out.success();
    assert_eq!(out.stdout(), "end\n");
}

#[test]
fn the_exit_status_is_the_tasks() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "{}{}{}{}",
        task("seven", "exit 7", &dir, ""),
        task("killed", "kill -9 $$", &dir, ""),
        task("slow", "sleep 30", &dir, "timeout = \"300ms\""),
        task("ok", "true", &dir, ""),
    ));
    env.kron(&["run", "seven"]).output().code(7);
    env.kron(&["run", "killed"]).output().code(128 + 9);
    let out = env.kron(&["run", "slow"]).output();
    out.code(124);
    assert!(out.stderr().contains("slow timeout"), "{}", out.stderr());
    env.kron(&["run", "ok"]).output().success();
    let seven = &history(&env, "seven")[0];
    assert_eq!(seven["exit_code"], 7);
    assert_eq!(seven["outcome"], "failure");
    assert_eq!(seven["trigger"], "manual");
    let killed = &history(&env, "killed")[0];
    assert_eq!(killed["signal"], "SIGKILL");
    assert_eq!(killed["exit_code"], serde_json::Value::Null);
    assert_eq!(history(&env, "slow")[0]["outcome"], "timeout");
    assert_eq!(history(&env, "ok")[0]["outcome"], "success");
    env.kron(&["run", "nope"]).output().code(2);
}

#[test]
fn a_command_that_cannot_start_fails_and_is_retried() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&format!(
        "[tasks.missing]\nschedule = \"@daily\"\ncommand = [\"no-such-program-kron\"]\n\
         retry = {{ attempts = 1, backoff = \"10ms\" }}\n\n{}",
        task("nodir", "true", &dir.join("absent"), "")
    ));
    let out = env.kron(&["run", "missing"]).output();
    out.code(127);
    assert!(
        out.stderr().contains("no-such-program-kron"),
        "{}",
        out.stderr()
    );
    let record = &history(&env, "missing")[0];
    assert_eq!(record["outcome"], "failure");
    assert_eq!(record["attempts"], 2);
    assert_eq!(record["exit_code"], serde_json::Value::Null);
    let text = String::from_utf8(log(&env, "missing")).unwrap();
    assert_eq!(text.matches("failed to start").count(), 2, "{text}");

    let out = env.kron(&["run", "nodir"]).output();
    out.code(127);
    assert!(out.stderr().contains("absent"), "{}", out.stderr());
    assert_eq!(history(&env, "nodir")[0]["outcome"], "failure");
}

#[test]
fn dry_run_prints_everything_and_runs_nothing() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "touch ran",
        &dir,
        "env = { GREETING = \"hello world\" }\ntimeout = \"5m\"\n\
         retry = { attempts = 2, backoff = \"30s\" }\noverlap = \"queue\"\nlock = \"shared\"",
    ));
    let out = env.kron(&["run", "t", "--dry-run"]).output();
    out.success();
    let text = out.stdout();
    for expected in [
        "/bin/sh -c 'touch ran'".to_string(),
        format!("workdir:  {}", dir.display()),
        "stdin:    /dev/null".into(),
        "GREETING=hello world".into(),
        "PATH=/usr/local/bin:/usr/bin:/bin".into(),
        "KRON_TASK=t".into(),
        format!(
            "{}, on the command's descriptor 3 (overlap: queue)",
            env.path().join("runtime/kron/locks/shared.lock").display()
        ),
        "timeout:  5m".into(),
        "up to 2 more attempt(s), waiting 30s".into(),
    ] {
        assert!(text.contains(&expected), "no `{expected}` in:\n{text}");
    }
    assert!(!dir.join("ran").exists());
    assert!(history(&env, "t").is_empty());
}

#[test]
fn detach_prints_the_run_id_and_the_run_is_recorded() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "t",
        "echo detached; echo $KRON_RUN_ID > id",
        &dir,
        "",
    ));
    let out = env.kron(&["run", "t", "--detach"]).output();
    out.success();
    let id = out.stdout().trim().to_string();
    wait_until("the detached run is recorded", || {
        !history(&env, "t").is_empty()
    });
    let record = &history(&env, "t")[0];
    assert_eq!(record["run_id"], id.as_str());
    assert_eq!(record["outcome"], "success");
    assert_eq!(std::fs::read_to_string(dir.join("id")).unwrap().trim(), id);
    let logs = env.kron(&["logs", "t"]).output();
    logs.success();
    assert!(logs.stdout().contains("detached\n"), "{}", logs.stdout());
}

#[test]
fn supervise_is_the_daemons_entry_point() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", "echo \"at $KRON_SCHEDULED_AT\"", &dir, ""));
    let child = env
        .kron(&["__supervise", "--run", "t,catch-up,2026-03-08T03:00:00Z,-"])
        .spawn();
    let out = wait_with_deadline(child, DEADLINE);
    out.success();
    assert_eq!(
        out.stdout(),
        "t\n",
        "a supervisor names the task of each run that ended on its standard output; \
         the command's output goes only to the log"
    );
    let record = &history(&env, "t")[0];
    assert_eq!(record["trigger"], "catch-up");
    assert_eq!(record["scheduled"], "2026-03-08T03:00:00Z");
    let text = String::from_utf8(log(&env, "t")).unwrap();
    assert!(text.contains("at 2026-03-08T03:00:00Z\n"), "{text}");
    assert!(
        text.contains("trigger catch-up scheduled 2026-03-08T03:00:00Z"),
        "{text}"
    );
    // Another task file, as the daemon passes it.
    let other = env.path().join("other.toml");
    std::fs::write(&other, task("o", "exit 3", &dir, "")).unwrap();
    env.kron(&[
        "__supervise",
        "--run",
        "o,schedule,-,-",
        "--file",
        other.to_str().unwrap(),
    ])
    .output()
    .code(3);
    assert_eq!(history(&env, "o")[0]["outcome"], "failure");
}

#[test]
fn a_paused_task_runs_only_with_force() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task("t", "echo ran", &dir, "paused = true"));
    let out = env.kron(&["run", "t"]).output();
    out.code(1);
    assert_eq!(out.stdout(), "");
    assert!(
        out.stderr()
            .contains("`t` is paused, so it does not run: `kron run t --force` runs it anyway"),
        "{}",
        out.stderr()
    );
    assert!(history(&env, "t").is_empty());
    let out = env.kron(&["run", "t", "--detach"]).output();
    out.code(1);
    // --dry-run runs nothing: it says so instead.
    let out = env.kron(&["run", "t", "--dry-run"]).output();
    out.success();
    assert!(
        out.stdout()
            .starts_with("task:     t (paused: `kron run` needs --force)\n"),
        "{}",
        out.stdout()
    );
    let out = env.kron(&["run", "t", "--force"]).output();
    out.success();
    assert_eq!(out.stdout(), "ran\n");
    assert_eq!(history(&env, "t").len(), 1);
    // It stays paused.
    assert!(env.read_task_file().unwrap().contains("paused = true"));
}

/// `/proc/PID/limits`' soft and hard values of one limit.
fn proc_limit(pid: i64, name: &str) -> (String, String) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no {name} in {text}"));
    let words: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (words[0].to_string(), words[1].to_string())
}

#[test]
fn nice_ioclass_and_limits_apply_to_the_command_and_what_it_starts() {
    let env = Env::new();
    let dir = env.work();
    let command = format!(
        "touch started; {}; ulimit -n > files; ulimit -v > memory; ulimit -t > cpu; \
         nice > nice; sh -c 'ulimit -n' > child-files",
        crate::util::wait_for("go")
    );
    env.write_task_file(&task(
        "t",
        &command,
        &dir,
        "nice = 7\nioclass = \"idle\"\nlimits = { cpu = \"10m\", memory = \"1GiB\", files = 100 }",
    ));
    let run = env.kron(&["run", "t"]).spawn();
    // The registry names the command once it started, with its limits given.
    wait_until("the command is registered", || {
        crate::util::registry(&env)
            .first()
            .is_some_and(|r| r["pgid"].is_i64())
    });
    let pid = crate::util::registry(&env)[0]["pgid"].as_i64().unwrap();
    assert_eq!(
        proc_limit(pid, "Max cpu time"),
        ("600".into(), "601".into())
    );
    let gib = (1u64 << 30).to_string();
    assert_eq!(proc_limit(pid, "Max address space"), (gib.clone(), gib));
    assert_eq!(
        proc_limit(pid, "Max open files"),
        ("100".into(), "100".into())
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    // Field 19 of stat(5) is the nice value; the 17th after the name.
    assert_eq!(after_name.split(' ').nth(16), Some("7"), "{stat}");
    // SAFETY: ioprio_get takes numbers and touches no memory.
    let ioprio = unsafe { nix::libc::syscall(nix::libc::SYS_ioprio_get, 1, pid) };
    assert_eq!(ioprio >> 13, 3, "the idle class");
    std::fs::write(dir.join("go"), "").unwrap();
    wait_with_deadline(run, DEADLINE).success();
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
    assert_eq!(read("files"), "100\n");
    assert_eq!(read("memory"), "1048576\n");
    assert_eq!(read("cpu"), "600\n");
    assert_eq!(read("nice"), "7\n");
    assert_eq!(read("child-files"), "100\n");
    // The dry run says what the command gets.
    let out = env.kron(&["run", "t", "--dry-run"]).output();
    assert!(
        out.stdout().contains(
            "limits:   nice 7, ioclass idle, cpu 10m, memory 1GiB, files 100 \
             (given to the command's process as it starts)"
        ),
        "{}",
        out.stdout()
    );
}

#[test]
fn a_cpu_limit_stops_the_command_and_an_impossible_limit_fails_the_attempt() {
    let env = Env::new();
    let dir = env.work();
    env.write_task_file(&task(
        "spin",
        "while :; do :; done",
        &dir,
        "limits = { cpu = \"1s\" }\ntimeout = \"1m\"",
    ));
    let out = env.kron(&["run", "spin"]).output();
    out.code(128 + 24);
    let record = &history(&env, "spin")[0];
    assert_eq!(record["signal"], "SIGXCPU", "{record}");
    assert_eq!(record["outcome"], "failure");

    // Above the hard limit kron runs under: refused before it starts.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let hard = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|h| h.parse::<u64>().ok());
    let Some(hard) = hard else {
        eprintln!("skipped: no hard limit on open files here");
        return;
    };
    env.write_task_file(&task(
        "many",
        "touch ran",
        &dir,
        &format!("limits = {{ files = {} }}", hard + 1),
    ));
    let out = env.kron(&["run", "many"]).output();
    out.code(126);
    assert!(
        out.stderr()
            .contains("limits.files is above the hard limit kron runs under"),
        "{}",
        out.stderr()
    );
    assert!(!dir.join("ran").exists());
}
