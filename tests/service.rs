//! `kron daemon install` and `uninstall`: the systemd user unit names this
//! binary, passes --file only when asked, passes systemd's verification,
//! refuses to replace another unit without --force, and starts the same
//! daemon as `kron daemon start` (same lock, same files).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::daemon::StopOnDrop;
use crate::util::{Env, wait_until};

fn unit_path(env: &Env) -> PathBuf {
    env.path().join("config/systemd/user/kron.service")
}

fn unit(env: &Env) -> String {
    std::fs::read_to_string(unit_path(env)).expect("the unit was written")
}

/// The kron binary as the unit must name it: absolute, symlinks resolved.
fn this_kron() -> String {
    std::fs::canonicalize(env!("CARGO_BIN_EXE_kron"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn line<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

#[test]
fn install_writes_a_unit_that_runs_this_binary() {
    let env = Env::new();
    let out = env.kron(&["daemon", "install"]).output();
    out.success();
    let unit = unit(&env);
    assert_eq!(
        line(&unit, "ExecStart"),
        [format!("{} daemon run", this_kron())],
        "{unit}"
    );
    assert_eq!(line(&unit, "Restart"), ["on-failure"]);
    assert_eq!(line(&unit, "RestartSec"), ["5s"]);
    assert_eq!(line(&unit, "KillMode"), ["process"]);
    assert_eq!(line(&unit, "WantedBy"), ["default.target"]);
    // The test's XDG directories are not systemd's defaults: the unit
    // carries them, so the daemon finds the same files.
    for (var, dir) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_RUNTIME_DIR", "runtime"),
    ] {
        let expected = format!("\"{var}={}\"", env.path().join(dir).display());
        assert!(
            line(&unit, "Environment").contains(&expected.as_str()),
            "{unit}"
        );
    }
    let stdout = out.stdout();
    assert!(
        stdout.contains(&format!("wrote {}", unit_path(&env).display())),
        "{stdout}"
    );
    // (Followed by the `loginctl enable-linger` hint where systemd is init
    // and lingering is off.)
    assert!(
        stdout.contains(
            "\nstart it now and at every login with:\n  systemctl --user enable --now kron\n"
        ),
        "{stdout}"
    );
    // Again: nothing changes.
    let again = env.kron(&["daemon", "install"]).output();
    again.success();
    assert!(
        again.stdout().starts_with("already installed: "),
        "{}",
        again.stdout()
    );
    assert_eq!(std::fs::read_to_string(unit_path(&env)).unwrap(), unit);
}

#[test]
fn install_passes_the_task_file_only_when_one_was_given() {
    let env = Env::new();
    let file = env.path().join("my tasks.toml");
    env.kron(&["--file", file.to_str().unwrap(), "daemon", "install"])
        .output()
        .success();
    assert_eq!(
        line(&unit(&env), "ExecStart"),
        [format!(
            "{} --file \"{}\" daemon run",
            this_kron(),
            file.display()
        )]
    );
    // KRON_FILE, relative: made absolute.
    std::fs::remove_file(unit_path(&env)).unwrap();
    env.kron(&["daemon", "install"])
        .env("KRON_FILE", "rel.toml")
        .output()
        .success();
    let cwd = std::env::current_dir().unwrap().join("rel.toml");
    assert_eq!(
        line(&unit(&env), "ExecStart"),
        [format!(
            "{} --file {} daemon run",
            this_kron(),
            cwd.display()
        )]
    );
    // The default file, named explicitly: no --file.
    std::fs::remove_file(unit_path(&env)).unwrap();
    env.kron(&["daemon", "install"])
        .env("KRON_FILE", env.task_file())
        .output()
        .success();
    assert_eq!(
        line(&unit(&env), "ExecStart"),
        [format!("{} daemon run", this_kron())]
    );
}

#[test]
fn install_refuses_a_different_unit_without_force() {
    let env = Env::new();
    let path = unit_path(&env);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let theirs = "[Service]\nExecStart=/opt/old/kron daemon run\n";
    std::fs::write(&path, theirs).unwrap();
    let out = env.kron(&["daemon", "install"]).output();
    out.code(1);
    assert!(
        out.stderr()
            .contains("(it runs /opt/old/kron); use --force to replace it"),
        "{}",
        out.stderr()
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), theirs);
    let out = env.kron(&["daemon", "install", "--force"]).output();
    out.success();
    assert!(out.stdout().starts_with("replaced "), "{}", out.stdout());
    assert!(
        out.stdout().contains("systemctl --user daemon-reload"),
        "{}",
        out.stdout()
    );
    assert_eq!(
        line(&unit(&env), "ExecStart"),
        [format!("{} daemon run", this_kron())]
    );
}

#[test]
fn systemd_analyze_verify_accepts_the_unit() {
    let tool = "/usr/bin/systemd-analyze";
    if !Path::new(tool).exists() {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let env = Env::new();
    let file = env.path().join("odd 100% $name.toml");
    env.kron(&["--file", file.to_str().unwrap(), "daemon", "install"])
        .env("TZ", "Europe/Berlin")
        .output()
        .success();
    // --man=no: the man pages need not be installed for the unit to be valid.
    let out = Command::new(tool)
        .args(["verify", "--user", "--man=no"])
        .arg(unit_path(&env))
        .env("XDG_RUNTIME_DIR", env.path().join("runtime"))
        .env("HOME", env.path().join("home"))
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "{stderr}");
}

#[test]
fn uninstall_removes_the_unit_and_its_enable_link() {
    let env = Env::new();
    env.kron(&["daemon", "install"]).output().success();
    let wants = env.path().join("config/systemd/user/default.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    // What `systemctl --user enable kron` does.
    std::os::unix::fs::symlink(unit_path(&env), wants.join("kron.service")).unwrap();
    let out = env.kron(&["daemon", "uninstall"]).output();
    out.success();
    assert_eq!(
        out.stdout(),
        format!(
            "removed {}\nremoved {}\nstop the daemon it started with:\n  \
             systemctl --user stop kron; systemctl --user daemon-reload\n",
            wants.join("kron.service").display(),
            unit_path(&env).display()
        )
    );
    assert!(!unit_path(&env).exists());
    assert!(wants.join("kron.service").symlink_metadata().is_err());
    let again = env.kron(&["daemon", "uninstall"]).output();
    again.success();
    assert!(
        again.stdout().starts_with("nothing to remove"),
        "{}",
        again.stdout()
    );
}

/// The unit's command and environment (`Environment="K=V"` lines; the test
/// paths have no quotes or escapes).
fn exec(unit: &str) -> (Vec<String>, Vec<(String, String)>) {
    let argv = line(unit, "ExecStart")[0]
        .split_whitespace()
        .map(String::from)
        .collect();
    let env = line(unit, "Environment")
        .iter()
        .map(|v| {
            let (k, v) = v.trim_matches('"').split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    (argv, env)
}

#[test]
fn the_unit_runs_the_daemon_the_cli_sees() {
    let env = Env::new();
    env.write_task_file("[tasks.backup]\nschedule = \"0 3 * * *\"\ncommand = \"true\"\n");
    env.kron(&["daemon", "install"]).output().success();
    let (argv, vars) = exec(&unit(&env));
    // Start it as systemd would: only HOME, PATH and the unit's variables.
    let mut daemon = Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("HOME", env.path().join("home"))
        .env("PATH", "/usr/bin:/bin")
        .envs(vars)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    // Stops it even when an assertion below fails.
    let _stop = StopOnDrop(&env);
    // A daemon holds its lock a moment before it answers on its socket.
    let mut answer = String::new();
    wait_until("the unit's daemon answers", || {
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "the unit's daemon exited"
        );
        let out = env.kron(&["daemon", "status"]).output();
        answer = out.stdout();
        out.output.status.success() && !answer.contains("not answering")
    });
    assert!(answer.contains(&format!("pid {pid}")), "{answer}");
    assert!(answer.contains("1 task(s)"), "{answer}");
    // Same lock: the CLI does not start a second one.
    let out = env.kron(&["daemon", "start"]).output();
    out.success();
    assert!(
        out.stdout()
            .contains(&format!("already running (pid {pid})")),
        "{}",
        out.stdout()
    );
    env.kron(&["daemon", "stop"]).output().success();
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// `kron ARGS` where no systemd runs (a container, WSL, OpenRC, runit).
fn without_systemd(env: &Env, args: &[&str]) -> crate::util::Run {
    env.kron(args).env("KRON_SERVICE_MANAGER", "none")
}

fn desktop_entry(env: &Env) -> PathBuf {
    env.path().join("config/autostart/kron.desktop")
}

/// The line `kron daemon install` asks for in the login profile.
fn profile_line() -> String {
    format!("{} daemon start >/dev/null 2>&1", this_kron())
}

#[test]
fn without_systemd_install_offers_the_profile_line_and_no_systemctl() {
    let env = Env::new();
    let out = without_systemd(&env, &["daemon", "install"]).output();
    out.success();
    let stdout = out.stdout();
    assert!(
        stdout.starts_with("no systemd user manager runs here"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "to start it at every login, add this line to {}:\n  {}\n",
            env.path().join("home/.profile").display(),
            profile_line()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("--desktop"), "{stdout}");
    assert!(!stdout.contains("systemctl"), "{stdout}");
    assert!(!unit_path(&env).exists());
    // No desktop session: no autostart entry unless asked for.
    assert!(!desktop_entry(&env).exists());
    // Once the line is in the profile, install says so.
    std::fs::write(
        env.path().join("home/.profile"),
        format!("# mine\n{}\n", profile_line()),
    )
    .unwrap();
    let out = without_systemd(&env, &["daemon", "install"]).output();
    out.success();
    assert!(
        out.stdout().contains("starts it at login already:"),
        "{}",
        out.stdout()
    );
    // Uninstall leaves the user's profile to the user, and says so.
    let out = without_systemd(&env, &["daemon", "uninstall"]).output();
    out.success();
    assert!(
        out.stdout().contains(&format!(
            "remove this line from it yourself:\n  {}\n",
            profile_line()
        )),
        "{}",
        out.stdout()
    );
    assert!(env.path().join("home/.profile").exists());
}

#[test]
fn without_systemd_a_desktop_session_gets_an_autostart_entry() {
    let env = Env::new();
    let out = without_systemd(&env, &["daemon", "install"])
        .env("XDG_CURRENT_DESKTOP", "GNOME")
        .output();
    out.success();
    assert!(
        out.stdout()
            .contains(&format!("wrote {}\n", desktop_entry(&env).display())),
        "{}",
        out.stdout()
    );
    let entry = std::fs::read_to_string(desktop_entry(&env)).unwrap();
    assert!(
        entry.contains("\n[Desktop Entry]\nType=Application\n"),
        "{entry}"
    );
    assert_eq!(
        line(&entry, "Exec"),
        [format!("{} daemon start", this_kron())],
        "{entry}"
    );
    // The line for logins without a desktop too.
    assert!(out.stdout().contains(&profile_line()), "{}", out.stdout());
    // Again: nothing changes.
    let again = without_systemd(&env, &["daemon", "install", "--desktop"]).output();
    again.success();
    assert!(
        again.stdout().contains("already installed: "),
        "{}",
        again.stdout()
    );
    let out = without_systemd(&env, &["daemon", "uninstall"]).output();
    out.success();
    assert_eq!(
        out.stdout(),
        format!("removed {}\n", desktop_entry(&env).display())
    );
    assert!(!desktop_entry(&env).exists());
    // --desktop writes it without a desktop session; with --file, the
    // entry passes it on.
    let file = env.path().join("other.toml");
    without_systemd(
        &env,
        &[
            "--file",
            file.to_str().unwrap(),
            "daemon",
            "install",
            "--desktop",
        ],
    )
    .output()
    .success();
    let entry = std::fs::read_to_string(desktop_entry(&env)).unwrap();
    assert_eq!(
        line(&entry, "Exec"),
        [format!(
            "{} --file {} daemon start",
            this_kron(),
            file.display()
        )]
    );
    // Where systemd runs, --desktop is refused.
    env.kron(&["daemon", "install", "--desktop"])
        .output()
        .code(2);
}

/// `kron doctor`'s autostart line without systemd.
fn autostart(env: &Env) -> String {
    let out = without_systemd(env, &["doctor"]).output();
    out.stdout()
        .lines()
        .skip_while(|l| !l.contains("  autostart: "))
        .take(2)
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn without_systemd_doctor_counts_the_entry_and_the_profile_line_as_autostart() {
    let env = Env::new();
    let none = autostart(&env);
    assert!(none.starts_with("warn  autostart: not installed"), "{none}");
    // A profile line.
    let profile = env.path().join("home/.profile");
    std::fs::write(&profile, format!("{}\n", profile_line())).unwrap();
    let ok = autostart(&env);
    assert_eq!(
        ok.lines().next().unwrap(),
        format!(
            "ok    autostart: {} starts this kron at login (`{}`)",
            profile.display(),
            profile_line()
        )
    );
    // ... that runs another kron.
    std::fs::write(&profile, "/opt/old/kron daemon start\n").unwrap();
    let other = autostart(&env);
    assert!(
        other.starts_with("FAIL  autostart: ") && other.contains("starts /opt/old/kron"),
        "{other}"
    );
    assert!(other.contains(&profile_line()), "{other}");
    // The autostart entry.
    std::fs::remove_file(&profile).unwrap();
    without_systemd(&env, &["daemon", "install", "--desktop"])
        .output()
        .success();
    let entry = autostart(&env);
    assert_eq!(
        entry.lines().next().unwrap(),
        format!(
            "ok    autostart: {} runs this kron",
            desktop_entry(&env).display()
        )
    );
}
