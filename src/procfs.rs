//! What `/proc` says about processes kron did not start itself or can no
//! longer wait for: who holds an flock(2) lock (a lock belongs to an open
//! file, which every process that inherited it shares, so the pid
//! `/proc/locks` gives is only the one that took it, perhaps long gone),
//! which processes are left in a process group, which run a process
//! belongs to (its `KRON_RUN_ID`), and whether a pid is really alive: one
//! that answers `kill(pid, 0)` may be a zombie no one reaps (PID 1 in some
//! containers) or a process the kernel is tearing down (SIGKILLed a moment
//! ago), and for kron both are dead, since what they held (a lock, a pipe)
//! is released or about to be.
//!
//! Only this user's processes can be looked into; the others, and systems
//! without `/proc`, give empty answers, never errors: callers use these
//! answers to explain and to clean up, not to decide what is safe.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A process's state letter, parent, process group and session
/// (`/proc/PID/stat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    /// The kernel's `PF_*` flags.
    pub flags: u64,
}

pub fn stat(pid: i32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// `PID (COMM) STATE PPID PGRP SESSION ...`; COMM may hold anything, so
/// the fields are read after its last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let mut number = || fields.next()?.parse().ok();
    let (ppid, pgrp, session) = (number()?, number()?, number()?);
    // tty_nr, tpgid, then flags.
    let flags = fields.nth(2)?.parse().ok()?;
    Some(Stat {
        state,
        ppid,
        pgrp,
        session,
        flags,
    })
}

/// Whether `pid` is a process that has not exited (a zombie has).
pub fn live(pid: i32) -> bool {
    stat(pid).is_some_and(|s| !zombie(s))
}

/// Whether `pid` is a zombie: it exited and its parent has not reaped it
/// (`false` when there is no such process).
pub fn exited(pid: i32) -> bool {
    stat(pid).is_some_and(zombie)
}

fn zombie(s: Stat) -> bool {
    matches!(s.state, 'Z' | 'X')
}

/// Whether `pid` exists and is neither a zombie nor exiting (a process of
/// another user counts).
pub fn alive(pid: i32) -> bool {
    use nix::errno::Errno;
    pid > 0
        && matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Ok(()) | Err(Errno::EPERM)
        )
        && !dying(pid)
}

/// Whether `pid` is gone, a zombie, exiting, or has a SIGKILL pending (on
/// a loaded machine a killed process may not have run since).
pub fn dying(pid: i32) -> bool {
    const PF_EXITING: u64 = 0x4;
    match stat(pid) {
        None => true,
        Some(s) => zombie(s) || s.flags & PF_EXITING != 0 || kill_pending(pid),
    }
}

fn kill_pending(pid: i32) -> bool {
    const SIGKILL_BIT: u64 = 1 << (9 - 1);
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true;
    };
    status
        .lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            matches!(key, "SigPnd" | "ShdPnd")
                .then(|| u64::from_str_radix(value.trim(), 16).ok())?
        })
        .any(|pending| pending & SIGKILL_BIT != 0)
}

/// The live processes of process group `pgid`, sorted. A group that is
/// gone is told by one kill(2), without reading `/proc`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    use nix::errno::Errno;
    use nix::unistd::Pid;
    if pgid <= 1 || nix::sys::signal::killpg(Pid::from_raw(pgid), None) == Err(Errno::ESRCH) {
        return Vec::new();
    }
    let mut members: Vec<i32> = pids()
        .filter(|&pid| stat(pid).is_some_and(|s| s.pgrp == pgid && !zombie(s)))
        .collect();
    members.sort_unstable();
    members
}

/// Whether a live process of group `pgid` remains (zombies do not count).
pub fn group_alive(pgid: i32) -> bool {
    !group_members(pgid).is_empty()
}

/// The pids of all processes, in no particular order.
fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
}

/// The live processes holding the flock(2) lock on `path`: those with a
/// descriptor on the file whose `fdinfo` shows a granted `FLOCK` (a process
/// waiting for the lock shows none), sorted.
pub fn flock_holders(path: &Path) -> Vec<i32> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let (dev, ino) = (meta.dev(), meta.ino());
    let me = std::process::id() as i32;
    let mut holders: Vec<i32> = pids()
        .filter(|&pid| pid != me && holds_flock(pid, dev, ino) && live(pid))
        .collect();
    holders.sort_unstable();
    holders
}

fn holds_flock(pid: i32, dev: u64, ino: u64) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == dev && m.ino() == ino)
            && std::fs::read_to_string(format!(
                "/proc/{pid}/fdinfo/{}",
                fd.file_name().to_string_lossy()
            ))
            .is_ok_and(|info| granted_flock(&info))
    })
}

/// Whether an `fdinfo` text shows a granted flock on its file.
fn granted_flock(info: &str) -> bool {
    info.lines()
        .filter_map(|l| l.strip_prefix("lock:"))
        .any(|l| l.contains(" FLOCK ") && !l.contains("->"))
}

/// The value of `name` in the environment process `pid` started with.
pub fn environ_var(pid: i32, name: &str) -> Option<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    environ.split(|&b| b == 0).find_map(|entry| {
        let value = entry.strip_prefix(name.as_bytes())?.strip_prefix(b"=")?;
        Some(String::from_utf8_lossy(value).into_owned())
    })
}

/// The command lines of the live kron processes (this program) other than
/// this one: for a restarted daemon, the supervisors already running.
pub fn kron_command_lines() -> Vec<Vec<String>> {
    let me = std::process::id() as i32;
    pids()
        .filter(|&pid| pid != me && live(pid) && same_program(pid))
        .filter_map(|pid| {
            let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let args = bytes
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            Some(args)
        })
        .collect()
}

/// Whether process `pid` runs the same program as this one (kron).
pub fn same_program(pid: i32) -> bool {
    let id = |path: String| std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    id(format!("/proc/{pid}/exe")).is_some_and(|exe| id("/proc/self/exe".into()) == Some(exe))
}

/// The process's command name (`/proc/PID/comm`, at most 15 bytes).
pub fn comm(pid: i32) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(text.trim_end_matches('\n').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let text = "42 (a) b) c) S 1 40 39 0 -1 4194560 ...";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                state: 'S',
                ppid: 1,
                pgrp: 40,
                session: 39,
                flags: 4194560,
            })
        );
        assert_eq!(parse_stat("42 (x"), None);
    }

    #[test]
    fn only_a_granted_flock_counts() {
        let held = "pos:\t0\nflags:\t02\nlock:\t1: FLOCK  ADVISORY  WRITE 7 fe:00:12 0 EOF\n";
        let blocked = "lock:\t1: -> FLOCK  ADVISORY  WRITE 8 fe:00:12 0 EOF\n";
        assert!(granted_flock(held));
        assert!(!granted_flock("pos:\t0\nflags:\t02\n"));
        assert!(!granted_flock(
            "lock:\t1: POSIX  ADVISORY  WRITE 7 fe:00:12 0 EOF\n"
        ));
        assert!(!granted_flock(blocked));
    }

    #[test]
    fn a_lock_this_process_holds_is_seen_in_proc() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.lock");
        let file = std::fs::File::create(&path).unwrap();
        file.lock().unwrap();
        let me = std::process::id() as i32;
        let meta = std::fs::metadata(&path).unwrap();
        assert!(holds_flock(me, meta.dev(), meta.ino()));
        drop(file);
        assert!(!holds_flock(me, meta.dev(), meta.ino()));
        assert!(live(me));
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        let me = std::process::id() as i32;
        assert!(alive(me) && !dying(me));
        assert!(group_alive(nix::unistd::getpgrp().as_raw()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(!alive(pid) && dying(pid));
    }

    #[test]
    fn an_unreaped_child_is_dead() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // A zombie until waited for.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while stat(pid).is_some_and(|s| s.state != 'Z') && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!alive(pid));
        drop(child);
    }
}
