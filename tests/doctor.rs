//! `kron doctor`: each check passes on a good setup and fails, with its
//! fix, on the mistakes it is for; the exit status is 1 only on a failure.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::util::daemon::DaemonGuard;
use crate::util::{Env, Outcome};

const TASKS: &str = r#"
[defaults]
timezone = "Europe/Berlin"

[tasks.backup]
schedule = "30 2 * * *"
command = "true"
timezone = "America/New_York"
"#;

/// A directory of fake programs (`timedatectl`, `sendmail`) put first on
/// `PATH`, so that the checks do not depend on the machine.
fn fakes(env: &Env, programs: &[(&str, &str)]) -> String {
    let dir = env.path().join("fakes");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, script) in programs {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display())
}

fn doctor(env: &Env, path: &str) -> Outcome {
    env.kron(&["doctor"]).env("PATH", path).output()
}

/// The line of check `what`, and the fix line under it if any.
fn check(out: &Outcome, what: &str) -> (String, Option<String>) {
    let stdout = out.stdout();
    let lines: Vec<&str> = stdout.lines().collect();
    let i = lines
        .iter()
        .position(|l| {
            l.get(6..)
                .is_some_and(|l| l.starts_with(&format!("{what}: ")))
        })
        .unwrap_or_else(|| panic!("no `{what}` check in:\n{stdout}"));
    let fix = lines
        .get(i + 1)
        .and_then(|l| l.strip_prefix("      fix: "))
        .map(String::from);
    (lines[i].to_string(), fix)
}

/// Plays a running systemd user manager: its private socket in the test's
/// `XDG_RUNTIME_DIR`, which is how kron tells that one runs.
fn fake_user_manager(env: &Env) {
    let dir = env.path().join("runtime/systemd");
    std::fs::create_dir_all(&dir).unwrap();
    drop(std::os::unix::net::UnixListener::bind(dir.join("private")).unwrap());
}

fn install_and_enable(env: &Env) {
    env.kron(&["daemon", "install"]).output().success();
    let wants = env.path().join("config/systemd/user/default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink("../kron.service", wants.join("kron.service")).unwrap();
}

#[test]
fn a_good_setup_passes() {
    let env = Env::new();
    env.write_task_file(TASKS);
    install_and_enable(&env);
    fake_user_manager(&env);
    let _daemon = DaemonGuard::start(&env);
    let path = fakes(&env, &[("timedatectl", "echo yes")]);
    let out = doctor(&env, &path);
    out.success();
    // Lingering is the machine's (checked only where systemd is init).
    let stdout = out.stdout();
    let linger = stdout.lines().position(|l| l.contains("  linger: "));
    for (i, line) in stdout.lines().enumerate() {
        let about_linger = linger.is_some_and(|l| i == l || i == l + 1);
        assert!(line.starts_with("ok  ") || about_linger, "{stdout}");
    }
    assert!(check(&out, "task file").0.contains("1 task(s), 0 paused"));
    assert!(
        check(&out, "time zones")
            .0
            .ends_with("all known: America/New_York, Europe/Berlin")
    );
    assert!(check(&out, "daemon").0.contains("running (pid "));
    assert!(check(&out, "autostart").0.ends_with("runs this kron"));
    assert_eq!(check(&out, "clock").0, "ok    clock: synchronised (NTP)");
}

#[test]
fn no_daemon_and_no_autostart_fail_with_their_fixes() {
    let env = Env::new();
    env.write_task_file(TASKS);
    fake_user_manager(&env);
    let path = fakes(&env, &[("timedatectl", "echo no"), ("systemctl", "exit 0")]);
    let out = doctor(&env, &path);
    out.code(1);
    assert!(
        out.stderr().contains("kron: 3 check(s) failed"),
        "{}",
        out.stderr()
    );
    let (line, fix) = check(&out, "daemon");
    assert!(line.starts_with("FAIL  daemon: not running"), "{line}");
    assert!(fix.unwrap().starts_with("kron daemon start"));
    let (line, fix) = check(&out, "autostart");
    assert!(line.starts_with("FAIL  autostart: not installed"), "{line}");
    assert_eq!(
        fix.as_deref(),
        Some("kron daemon install && systemctl --user enable --now kron")
    );
    let (line, fix) = check(&out, "clock");
    assert!(line.starts_with("FAIL  clock: not synchronised"), "{line}");
    assert!(fix.unwrap().contains("timedatectl set-ntp true"));
}

#[test]
fn a_clock_it_cannot_ask_about_is_unknown() {
    let env = Env::new();
    let path = fakes(
        &env,
        &[("timedatectl", "echo 'Failed to connect to bus' >&2; exit 1")],
    );
    let out = doctor(&env, &path);
    assert!(
        check(&out, "clock")
            .0
            .starts_with("?     clock: cannot tell")
    );
}

#[test]
fn an_insecure_task_file_fails_with_the_chmod_that_fixes_it() {
    let env = Env::new();
    env.write_task_file(TASKS);
    std::fs::set_permissions(env.task_file(), std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = doctor(&env, "/usr/bin:/bin");
    out.code(1);
    let (line, fix) = check(&out, "task file");
    assert!(line.contains("others can write it (mode 666)"), "{line}");
    assert!(
        fix.unwrap()
            .starts_with(&format!("chmod 600 {}", env.task_file().display()))
    );
}

#[test]
fn an_invalid_file_and_an_unknown_zone_fail() {
    let env = Env::new();
    env.write_task_file(
        "[tasks.backup]\nschedule = \"30 2 * * *\"\ncommand = \"true\"\ntimezone = \"Mars/Olympus\"\n",
    );
    let out = doctor(&env, "/usr/bin:/bin");
    out.code(1);
    let (line, fix) = check(&out, "task file");
    assert!(line.contains("has 1 error(s)"), "{line}");
    assert_eq!(
        fix.as_deref(),
        Some("kron check (to see them), then kron edit")
    );
    let (line, _) = check(&out, "time zones");
    assert!(
        line.ends_with("unknown time zone(s): task backup: `Mars/Olympus`"),
        "{line}"
    );
}

#[test]
fn autostart_with_another_binary_fails() {
    let env = Env::new();
    install_and_enable(&env);
    let unit = env.path().join("config/systemd/user/kron.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_kron")).unwrap();
    std::fs::write(&unit, text.replace(exe.to_str().unwrap(), "/opt/gone/kron")).unwrap();
    let out = doctor(&env, "/usr/bin:/bin");
    let (line, fix) = check(&out, "autostart");
    assert!(
        line.contains("runs /opt/gone/kron, which does not exist, not this kron"),
        "{line}"
    );
    assert_eq!(
        fix.as_deref(),
        Some("kron daemon install --force, then the line it prints")
    );
}

#[test]
fn mailto_needs_sendmail() {
    let env = Env::new();
    env.write_task_file(
        "[defaults]\nmailto = \"me@example.org\"\n\n[tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\n",
    );
    let path = fakes(&env, &[("sendmail", "cat > /dev/null")]);
    let out = doctor(&env, &path);
    let (line, _) = check(&out, "sendmail");
    assert!(line.starts_with("ok    sendmail: "), "{line}");
    assert!(line.ends_with("(for mailto in task a)"), "{line}");
    if ["/usr/sbin/sendmail", "/usr/lib/sendmail"]
        .iter()
        .any(|p| Path::new(p).exists())
    {
        eprintln!("skipped the missing-sendmail half: this machine has one");
        return;
    }
    let out = doctor(&env, "/usr/bin:/bin");
    out.code(1);
    let (line, fix) = check(&out, "sendmail");
    assert!(line.starts_with("FAIL  sendmail: mailto is set"), "{line}");
    assert!(fix.unwrap().contains("sendmail"));
    // A file kron cannot load: the text decides.
    env.write_task_file("[defaults]\nmailto = \"me@example.org\"\nbogus = 1\n");
    let (line, _) = check(&doctor(&env, "/usr/bin:/bin"), "sendmail");
    assert!(line.contains("mailto is set ([defaults])"), "{line}");
    // Without mailto, or with mail = "never", there is no such check.
    env.write_task_file(TASKS);
    assert!(!doctor(&env, "/usr/bin:/bin").stdout().contains("sendmail"));
    env.write_task_file(
        "[defaults]\nmailto = \"me@example.org\"\nmail = \"never\"\n\n\
         [tasks.a]\nschedule = \"@daily\"\ncommand = \"true\"\n",
    );
    assert!(!doctor(&env, "/usr/bin:/bin").stdout().contains("sendmail"));
}

#[test]
fn json_lists_the_checks_and_keeps_the_exit_status() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let path = fakes(
        &env,
        &[("timedatectl", "echo yes"), ("systemctl", "exit 0")],
    );
    let out = env.kron(&["doctor", "--json"]).env("PATH", &path).output();
    out.code(1);
    let checks: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let daemon = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == "daemon")
        .unwrap();
    assert_eq!(daemon["status"], "fail");
    assert!(
        daemon["fix"]
            .as_str()
            .unwrap()
            .starts_with("kron daemon start")
    );
    assert!(out.stderr().is_empty(), "{}", out.stderr());
}

#[test]
fn autostart_where_no_systemd_manager_runs_says_so() {
    let env = Env::new();
    env.write_task_file(TASKS);
    install_and_enable(&env);
    let path = fakes(&env, &[("systemctl", "exit 0")]);
    // The test's XDG_RUNTIME_DIR has no systemd/private socket.
    let out = doctor(&env, &path);
    let (line, _) = check(&out, "autostart");
    assert!(
        line.starts_with("warn  autostart: ")
            && line.contains("runs this kron, but ")
            && line.contains(" is not running ")
            && line.ends_with(": nothing starts it at login"),
        "{line}"
    );
    // Not installed: no systemctl line that cannot work there.
    std::fs::remove_file(env.path().join("config/systemd/user/kron.service")).unwrap();
    let out = doctor(&env, &path);
    let (line, fix) = check(&out, "autostart");
    assert!(
        line.starts_with("warn  autostart: not installed, and ")
            && line.contains(" is not running "),
        "{line}"
    );
    assert_eq!(fix, None);
}

#[test]
fn the_linger_row_is_always_there() {
    let env = Env::new();
    env.write_task_file(TASKS);
    let out = doctor(&env, "/usr/bin:/bin");
    let (line, _) = check(&out, "linger");
    if Path::new("/run/systemd/system").is_dir() {
        assert!(!line.starts_with("?"), "{line}");
    } else {
        assert_eq!(
            line,
            "?     linger: cannot tell: the system was not booted with systemd (no /run/systemd/system)"
        );
    }
}

#[test]
fn the_autostart_fix_stops_a_daemon_kron_started_first() {
    let env = Env::new();
    env.write_task_file(TASKS);
    fake_user_manager(&env);
    let path = fakes(&env, &[("systemctl", "exit 0")]);
    let _daemon = DaemonGuard::start(&env);
    let (line, fix) = check(&doctor(&env, &path), "autostart");
    assert!(line.starts_with("FAIL  autostart: not installed"), "{line}");
    assert_eq!(
        fix.as_deref(),
        Some("kron daemon install && kron daemon stop && systemctl --user enable --now kron")
    );
}

#[test]
fn an_empty_setup_is_not_a_failure() {
    let env = Env::new();
    fake_user_manager(&env);
    let path = fakes(
        &env,
        &[("timedatectl", "echo yes"), ("systemctl", "exit 0")],
    );
    for tasks in [None, Some("# no tasks yet\n")] {
        if let Some(text) = tasks {
            env.write_task_file(text);
        }
        let out = doctor(&env, &path);
        out.success();
        let (line, _) = check(&out, "daemon");
        assert!(
            line.starts_with("ok    daemon: not running, and there are no tasks"),
            "{line}"
        );
        let (line, fix) = check(&out, "autostart");
        assert!(line.starts_with("warn  autostart: not installed"), "{line}");
        assert_eq!(
            fix.as_deref(),
            Some("kron daemon install && systemctl --user enable --now kron")
        );
        assert!(!out.stdout().contains("FAIL"), "{}", out.stdout());
    }
}
