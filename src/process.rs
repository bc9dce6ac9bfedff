//! What `/proc` says of a process kron did not start, or no longer
//! watches: whether it is really alive. A pid that answers `kill(pid, 0)`
//! may be a zombie that no one reaps (PID 1 in some containers), or a
//! process the kernel is tearing down (SIGKILLed a moment ago); for kron
//! both are dead: what they held (a lock, a pipe) is released or about to
//! be.

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// Whether `pid` exists and is neither a zombie nor exiting (a process of
/// another user counts).
pub fn alive(pid: i32) -> bool {
    pid > 0 && matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM)) && !dying(pid)
}

/// Whether `pid` is gone, a zombie, exiting, or has a SIGKILL pending (on
/// a loaded machine a killed process may not have run since).
pub fn dying(pid: i32) -> bool {
    let Some(stat) = Stat::read(pid) else {
        return true;
    };
    const PF_EXITING: u64 = 0x4;
    matches!(stat.state, 'Z' | 'X') || stat.flags & PF_EXITING != 0 || kill_pending(pid)
}

/// Whether a live process of group `pgid` remains (zombies do not count).
pub fn group_alive(pgid: i32) -> bool {
    if kill(Pid::from_raw(-pgid), None).is_err() {
        return false;
    }
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    entries.flatten().any(|entry| {
        let pid = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok());
        pid.and_then(Stat::read)
            .is_some_and(|s| s.pgrp == pgid && !matches!(s.state, 'Z' | 'X'))
    })
}

/// The fields of `/proc/PID/stat` kron reads.
struct Stat {
    state: char,
    pgrp: i32,
    flags: u64,
}

impl Stat {
    fn read(pid: i32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // pid (comm) state ppid pgrp session tty_nr tpgid flags ...; comm
        // may hold spaces and parentheses, so split after the last `)`.
        let (_, rest) = text.rsplit_once(") ")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        Some(Stat {
            state: fields.first()?.chars().next()?,
            pgrp: fields.get(2)?.parse().ok()?,
            flags: fields.get(6)?.parse().ok()?,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

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
        while Stat::read(pid).is_some_and(|s| s.state != 'Z')
            && std::time::Instant::now() < deadline
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!alive(pid));
        drop(child);
    }
}
