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
