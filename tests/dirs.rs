//! kron's directories are its own: a runtime, state or task-file directory
//! that others can write, or that another user owns, is refused with the
//! fix; the daemon takes requests only from its own user.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::util::daemon::DaemonGuard;
use crate::util::{Env, wait_until};

const NOBODY: u32 = 65534;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Gives `path` and everything under it to uid and gid `NOBODY`.
fn give_to_nobody(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            give_to_nobody(&entry.unwrap().path());
        }
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn a_directory_others_can_write_is_refused_with_the_chmod_that_fixes_it() {
    let env = Env::new();
    let out_file = env.path().join("ran");
    env.write_task_file(&format!(
        "[tasks.t]\nschedule = \"@daily\"\ncommand = \"touch '{}'\"\n",
        out_file.display()
    ));
    let runtime = env.path().join("runtime/kron");
    let state = env.path().join("state/kron");
    let config = env.task_file().parent().unwrap().to_path_buf();
    for (dir, fix) in [
        (&runtime, "chmod 700"),
        (&state, "chmod 700"),
        (&config, "chmod go-w"),
    ] {
        std::fs::create_dir_all(dir).unwrap();
        chmod(dir, 0o777);
        let add = ["add", "u", "--schedule", "@daily", "--", "true"];
        for verb in [
            &["list"][..],
            &add,
            &["run", "t"],
            &["status"],
            &["daemon", "run"],
        ] {
            let out = env.kron(verb).output();
            out.code(2);
            let stderr = out.stderr();
            assert!(
                stderr.contains(&format!(
                    "kron: refusing {}: others can write it (mode 777)",
                    dir.display()
                )) && stderr.contains(&format!("fix it with `{fix} {}`", dir.display())),
                "{verb:?}: {stderr}"
            );
        }
        assert!(!out_file.exists(), "the task ran");
        assert!(!env.read_task_file().unwrap().contains("tasks.u"));
        // `kron check` writes nothing and uses none of them; doctor says so.
        env.kron(&["check"]).output().success();
        let out = env.kron(&["doctor"]).output();
        out.code(1);
        assert!(
            out.stdout().contains(&format!(
                "FAIL  directories: {}: others can write it (mode 777)",
                dir.display()
            )) && out
                .stdout()
                .contains(&format!("fix: {fix} {}", dir.display())),
            "{}",
            out.stdout()
        );
        // The fix works.
        chmod(dir, if dir == &config { 0o755 } else { 0o700 });
        env.kron(&["list"]).output().success();
    }
    env.kron(&["run", "t"]).output().success();
    assert!(out_file.exists());
}

#[test]
fn a_directory_another_user_owns_is_refused() {
    if !is_root() {
        eprintln!("skipped: only root can give a directory to another user");
        return;
    }
    let env = Env::new();
    env.write_task_file("");
    // Made beforehand by another user, writable by all, as in a shared /tmp.
    let runtime = env.path().join("runtime/kron");
    std::fs::create_dir_all(runtime.join("locks")).unwrap();
    chmod(&runtime, 0o777);
    give_to_nobody(&runtime);
    for verb in [&["list"][..], &["daemon", "run"], &["daemon", "start"]] {
        let out = env.kron(verb).output();
        out.code(2);
        let stderr = out.stderr();
        assert!(
            stderr.contains(&format!(
                "refusing {}: it belongs to uid 65534, not to you (uid 0)",
                runtime.display()
            )) && stderr.contains(&format!("fix it with `rm -rf {}`", runtime.display())),
            "{verb:?}: {stderr}"
        );
    }
    assert!(
        !runtime.join("daemon.lock").exists(),
        "kron used the directory"
    );
    std::fs::remove_dir_all(&runtime).unwrap();
    env.kron(&["list"]).output().success();
}

/// The daemon refuses a client of another user even when the socket's own
/// protection is gone: the test (root) lets uid 65534 reach the socket and
/// the daemon's lock through hard links in a runtime directory of its own,
/// and makes both 0666; `kron status` run as 65534 (setpriv) is refused by
/// the daemon's peer check, and the daemon logs it.
#[test]
fn the_daemon_refuses_a_client_of_another_user() {
    let setpriv = Command::new("setpriv").arg("--version").output();
    if !is_root() || !setpriv.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: needs root and setpriv(1) to run a client as another user");
        return;
    }
    let env = Env::new();
    env.write_task_file("");
    let daemon = DaemonGuard::start(&env);
    let runtime = env.path().join("runtime/kron");
    let theirs = env.path().join("nobody");
    std::fs::create_dir_all(theirs.join("runtime/kron")).unwrap();
    std::fs::create_dir_all(theirs.join("home")).unwrap();
    for name in ["kron.sock", "daemon.lock"] {
        chmod(&runtime.join(name), 0o666);
        std::fs::hard_link(runtime.join(name), theirs.join("runtime/kron").join(name)).unwrap();
    }
    give_to_nobody(&theirs);
    chmod(env.path(), 0o711);
    let id = NOBODY.to_string();
    let out = env
        .command(
            "setpriv",
            &[
                "--reuid",
                &id,
                "--regid",
                &id,
                "--clear-groups",
                env!("CARGO_BIN_EXE_kron"),
                "status",
            ],
        )
        .env("HOME", theirs.join("home"))
        .env("XDG_RUNTIME_DIR", theirs.join("runtime"))
        .env("XDG_STATE_HOME", theirs.join("state"))
        .env("XDG_CONFIG_HOME", theirs.join("config"))
        .output();
    let stdout = out.stdout();
    assert!(
        stdout.contains(&format!("running (pid {}) but not answering", daemon.pid))
            && stdout.contains("the daemon says: this daemon takes requests from uid 0 only"),
        "{stdout}\n{}",
        out.stderr()
    );
    wait_until("the daemon logs the refusal", || {
        daemon.log().contains(
            "refused a connection from uid 65534 on the control socket: only uid 0 may use it",
        )
    });
    // Its own user is still answered.
    let out = env.kron(&["daemon", "status"]).output();
    out.success();
    assert!(
        out.stdout()
            .contains(&format!("running (pid {}", daemon.pid)),
        "{}",
        out.stdout()
    );
}
