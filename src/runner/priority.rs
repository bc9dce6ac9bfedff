//! A command's share of the machine: its nice value (setpriority(2)), its
//! I/O class (ioprio_set(2)) and its resource limits (prlimit(2):
//! `RLIMIT_CPU`, `RLIMIT_AS`, `RLIMIT_NOFILE`), as a task's `nice`,
//! `ioclass` and `limits` ask, so that a backup cannot starve the desktop.
//!
//! **When they are applied.** posix_spawn(3), which starts every command
//! ([`super::spawn`]), has no attribute for any of them, and the supervisor
//! cannot set them on itself around the spawn: limits are per process, so
//! its other runs' commands (other threads) would get them too. So kron
//! applies them to the command's process by its pid right after
//! posix_spawn returns, which is once the command's program is executing.
//! For that moment (microseconds, more on a loaded machine) the program
//! runs without them, and a process it starts in that moment does not
//! inherit them; what it starts afterwards does, as children inherit
//! their parent's. A shell takes longer than that to start its first
//! command, so in practice every program a shell command runs gets them;
//! a program that forks at once might not. The alternatives close the gap
//! at a higher price: a fork(2) of the supervisor with code run in the
//! child before exec (what posix_spawn replaced, docs/architecture.md), or
//! kron re-executing itself as a wrapper that sets them and executes the
//! command (a second program start per attempt).
//!
//! **A command never runs on without them.** What cannot be given is
//! refused before the command starts ([`check`]: a limit above the hard
//! limit kron runs under, which only root raises; a nice below kron's
//! own); should applying one fail anyway, the command's process group is
//! killed at once and the attempt fails as a command that could not start
//! (exit 126), with the reason in the run log. A command that has already
//! exited is left alone.
//!
//! `limits.cpu` is the soft limit, the hard one a second later, so the
//! command gets SIGXCPU (which ends it unless it handles it) and SIGKILL a
//! second after. `limits.memory` and `limits.files` are both the soft and
//! the hard limit, so the command cannot raise them, as with systemd's
//! `LimitAS=` and `LimitNOFILE=`.

use nix::libc;

use crate::taskfile::{IoClass, Limits};
use crate::units::{format_duration, format_size};

/// What a task asks of its command's share of the machine.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resources {
    pub nice: Option<i32>,
    pub ioclass: Option<IoClass>,
    pub limits: Limits,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.nice.is_none() && self.ioclass.is_none() && self.limits.is_empty()
    }

    /// `nice 10, ioclass idle, cpu 10m, memory 2GiB, files 1024`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.nice {
            parts.push(format!("nice {n}"));
        }
        match self.ioclass {
            Some(IoClass::Idle) => parts.push("ioclass idle".into()),
            Some(IoClass::BestEffort) => parts.push("ioclass best-effort".into()),
            None => {}
        }
        if let Some(cpu) = self.limits.cpu {
            parts.push(format!("cpu {}", format_duration(cpu)));
        }
        if let Some(memory) = self.limits.memory {
            parts.push(format!("memory {}", format_size(memory)));
        }
        if let Some(files) = self.limits.files {
            parts.push(format!("files {files}"));
        }
        parts.join(", ")
    }

    /// The limits as prlimit(2) takes them: (resource, its name, soft, hard).
    fn rlimits(&self) -> Vec<(Resource, &'static str, u64, u64)> {
        let mut out = Vec::new();
        if let Some(cpu) = self.limits.cpu {
            let seconds = cpu.as_secs_f64().ceil().max(1.0) as u64;
            out.push((libc::RLIMIT_CPU, "limits.cpu", seconds, seconds + 1));
        }
        if let Some(memory) = self.limits.memory {
            out.push((libc::RLIMIT_AS, "limits.memory", memory, memory));
        }
        if let Some(files) = self.limits.files {
            out.push((libc::RLIMIT_NOFILE, "limits.files", files, files));
        }
        out
    }
}

#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// Why `wanted` cannot be given to a command kron starts, if it cannot:
/// checked before it starts, so that it is not started to be killed.
pub fn check(wanted: &Resources) -> Result<(), String> {
    for (resource, key, _, hard) in wanted.rlimits() {
        let mut own = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes the struct it is given, nothing else.
        let rc = unsafe { libc::getrlimit(resource, &mut own) };
        if rc == 0 && own.rlim_max != libc::RLIM_INFINITY && hard > own.rlim_max {
            return Err(format!(
                "{key} is above the hard limit kron runs under ({}); only root can raise it",
                own.rlim_max
            ));
        }
    }
    if let Some(nice) = wanted.nice {
        let own = own_nice();
        if nice < own {
            return Err(format!(
                "nice = {nice} is below kron's own nice ({own}); only root can raise a \
                 priority"
            ));
        }
    }
    Ok(())
}

/// Gives process `pid` (a command just started) `wanted`. A process that
/// is already gone (it exited at once) needs nothing.
pub fn apply(pid: i32, wanted: &Resources) -> Result<(), String> {
    let gone = |e: &std::io::Error| e.raw_os_error() == Some(libc::ESRCH);
    for (resource, key, soft, hard) in wanted.rlimits() {
        let limit = libc::rlimit {
            rlim_cur: soft,
            rlim_max: hard,
        };
        // SAFETY: prlimit reads the struct it is given and writes nothing
        // (no old limit asked for); `pid` is only a number to the kernel.
        let rc = unsafe { libc::prlimit(pid, resource, &limit, std::ptr::null_mut()) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if gone(&e) {
                return Ok(());
            }
            return Err(format!("cannot set {key}: {e}"));
        }
    }
    if let Some(nice) = wanted.nice {
        // SAFETY: setpriority takes numbers and touches no memory.
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, pid as libc::id_t, nice) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if gone(&e) {
                return Ok(());
            }
            return Err(format!("cannot set nice = {nice}: {e}"));
        }
    }
    if let Some(class) = wanted.ioclass {
        // IOPRIO_PRIO_VALUE(class, level): idle has no levels; best-effort's
        // is the one the kernel derives from the nice value by default.
        let value = match class {
            IoClass::Idle => 3 << 13,
            IoClass::BestEffort => (2 << 13) | ((wanted.nice.unwrap_or(0) + 20) / 5),
        };
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        // SAFETY: ioprio_set takes numbers and touches no memory.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_ioprio_set,
                IOPRIO_WHO_PROCESS,
                libc::c_long::from(pid),
                libc::c_long::from(value),
            )
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if gone(&e) {
                return Ok(());
            }
            return Err(format!("cannot set ioclass: {e}"));
        }
    }
    Ok(())
}

/// kron's own nice value.
fn own_nice() -> i32 {
    // SAFETY: getpriority takes numbers and touches no memory. It returns
    // the nice value itself, so -1 is a value, not an error, here (the
    // calling process always exists).
    unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn limits_are_described_and_checked() {
        let wanted = Resources {
            nice: Some(10),
            ioclass: Some(IoClass::Idle),
            limits: Limits {
                cpu: Some(Duration::from_secs(600)),
                memory: Some(2 << 30),
                files: Some(1024),
            },
        };
        assert_eq!(
            wanted.describe(),
            "nice 10, ioclass idle, cpu 10m, memory 2GiB, files 1024"
        );
        assert_eq!(
            wanted
                .rlimits()
                .iter()
                .map(|r| (r.2, r.3))
                .collect::<Vec<_>>(),
            [(600, 601), (2 << 30, 2 << 30), (1024, 1024)]
        );
        assert!(Resources::default().is_empty());
        let too_many = Resources {
            limits: Limits {
                files: Some(u64::MAX - 1),
                ..Limits::default()
            },
            ..Resources::default()
        };
        let mut own = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as in `check`.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) };
        if own.rlim_max != libc::RLIM_INFINITY {
            let error = check(&too_many).unwrap_err();
            assert!(
                error.starts_with("limits.files is above the hard limit"),
                "{error}"
            );
        }
    }
}
