//! The supervisors the daemon knows of: starting them (posix_spawn, a
//! `runner::launch` command line), counting those an earlier daemon
//! started (adopted through a pidfd), reading which of their runs ended
//! (a task name per line on their standard output) and reaping them.
//!
//! What the daemon needs of them is a count of runs, not processes: a
//! supervisor's runs count for `max_parallel` until it reports each ended,
//! or, for an adopted one, until it exits. A supervisor owes the daemon
//! nothing else; it outlives it.

use std::ffi::{CString, OsString};
use std::io::{PipeReader, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::SigSet;
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::{DaemonError, io_error, sys};
use crate::dirs::Paths;
use crate::logging::{debug, info, warning};
use crate::runner::launch::Launch;

/// How many runs one supervisor takes at most, a thread each. More runs
/// due in the same wake-up get more supervisors: a burst of a thousand
/// runs starts in a few processes rather than a thousand, and the runs of
/// one supervisor are few enough that one crashing takes few with it.
pub const RUNS_PER_SUPERVISOR: usize = 64;

/// A supervisor and its runs not yet known to have ended.
struct Supervisor {
    pid: i32,
    ends: Ends,
    buf: Vec<u8>,
    tasks: Vec<String>,
}

/// How the daemon learns that a supervisor's runs ended.
enum Ends {
    /// Its standard output: the task of each run that ended, a line each.
    Reported(PipeReader),
    /// A supervisor started by an earlier daemon: its pidfd, readable once
    /// it has exited. Its runs count until then.
    Adopted(OwnedFd),
}

pub struct Supervisors {
    spawner: Spawner,
    running: Vec<Supervisor>,
}

impl Supervisors {
    pub fn new() -> Result<Supervisors, DaemonError> {
        Ok(Supervisors {
            spawner: Spawner::new()?,
            running: Vec::new(),
        })
    }

    /// Runs started and not reported ended.
    pub fn runs(&self) -> usize {
        self.running.iter().map(|s| s.tasks.len()).sum()
    }

    /// Whether a run of `task` is going on.
    pub fn busy(&self, task: &str) -> bool {
        self.running
            .iter()
            .any(|s| s.tasks.iter().any(|t| t == task))
    }

    /// What to poll: one descriptor per supervisor, in the order
    /// [`Supervisors::read`] expects its readiness.
    pub fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.running.iter().map(|s| match &s.ends {
            Ends::Reported(pipe) => pipe.as_fd(),
            Ends::Adopted(pidfd) => pidfd.as_fd(),
        })
    }

    /// Starts `kron __supervise` for `launch` of `task_file`, in a new
    /// session, standard input on /dev/null, standard output on a pipe to
    /// this daemon, standard error the daemon's. Returns its pid.
    pub fn start(&mut self, launch: &Launch, task_file: &Path) -> nix::Result<i32> {
        let (pid, status) = self.spawner.spawn(launch.args(task_file))?;
        self.running.push(Supervisor {
            pid,
            ends: Ends::Reported(status),
            buf: Vec::new(),
            tasks: launch.runs.iter().map(|r| r.task.clone()).collect(),
        });
        Ok(pid)
    }

    /// Counts the runs that supervisors started by an earlier daemon still
    /// run, so that `max_parallel` holds across a restart. This daemon has
    /// not their report pipes: a supervisor's runs count until it exits,
    /// which its pidfd tells. `kron run` in a terminal is not counted, as it
    /// is not while a daemon runs.
    pub fn adopt(&mut self, paths: &Paths) {
        let mut by_supervisor: std::collections::BTreeMap<i32, Vec<String>> = Default::default();
        for run in crate::runner::running(paths) {
            if !run.foreground {
                by_supervisor
                    .entry(run.supervisor_pid)
                    .or_default()
                    .push(run.task);
            }
        }
        for (pid, tasks) in by_supervisor {
            match crate::runner::spawn::pidfd(pid) {
                Ok(pidfd) => {
                    info!(
                        "counting {} run(s) of supervisor {pid}, started before this daemon: {}",
                        tasks.len(),
                        tasks.join(", ")
                    );
                    self.running.push(Supervisor {
                        pid,
                        ends: Ends::Adopted(pidfd),
                        buf: Vec::new(),
                        tasks,
                    });
                }
                Err(e) => debug!("not counting the runs of supervisor {pid}: {e}"),
            }
        }
    }

    /// Takes the runs the supervisors whose descriptor is `ready` report
    /// ended. A closed pipe means the supervisor (and any it handed a run
    /// to) is gone; runs it did not report were cut short with it, and are
    /// stopped and recorded (`runner::recover`), as are those of an adopted
    /// supervisor that ended.
    pub fn read(&mut self, ready: &[bool], paths: &Paths) {
        let mut gone = Vec::new();
        let mut orphans = false;
        for (i, supervisor) in self.running.iter_mut().enumerate() {
            if !ready.get(i).copied().unwrap_or(false) {
                continue;
            }
            let Ends::Reported(status) = &supervisor.ends else {
                info!(
                    "supervisor {} (started before this daemon) ended: {} run(s) no longer counted",
                    supervisor.pid,
                    supervisor.tasks.len()
                );
                supervisor.tasks.clear();
                orphans = true;
                gone.push(i);
                continue;
            };
            let mut chunk = [0u8; 4096];
            let open = loop {
                match (&*status).read(&mut chunk) {
                    Ok(0) => break false,
                    Ok(n) => supervisor.buf.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break false,
                }
            };
            while let Some(end) = supervisor.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = supervisor.buf.drain(..=end).collect();
                let task = String::from_utf8_lossy(&line[..end]);
                if let Some(at) = supervisor.tasks.iter().position(|t| *t == task) {
                    supervisor.tasks.swap_remove(at);
                    debug!("{task}: run ended (supervisor {})", supervisor.pid);
                }
            }
            if !open {
                gone.push(i);
            }
        }
        for i in gone.into_iter().rev() {
            let supervisor = self.running.swap_remove(i);
            if !supervisor.tasks.is_empty() {
                warning!(
                    "supervisor {} ended without reporting the end of {} run(s) ({})",
                    supervisor.pid,
                    supervisor.tasks.len(),
                    supervisor.tasks.join(", ")
                );
                orphans = true;
            }
        }
        if orphans {
            crate::runner::recover::start(paths);
        }
    }

    /// Collects every supervisor that ended.
    pub fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    debug!("supervisor {pid} exited with {code}");
                }
                Ok(WaitStatus::Signaled(pid, signal, _)) => {
                    warning!("supervisor {pid} was killed by {signal}");
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => {
                    warning!("waiting for supervisors: {e}");
                    return;
                }
            }
        }
    }
}

/// Starts supervisors with posix_spawn(3): in a new session
/// (`POSIX_SPAWN_SETSID`), with an empty signal mask (the daemon blocks the
/// signals its signalfd reads) and default dispositions, standard input on
/// /dev/null, standard output on a pipe, standard error the daemon's.
/// Unlike fork(2), glibc's posix_spawn does not copy the daemon's page
/// tables, so a burst of a thousand runs starts quickly.
struct Spawner {
    exe: CString,
    env: Vec<CString>,
    attr: PosixSpawnAttr,
}

impl Spawner {
    fn new() -> Result<Spawner, DaemonError> {
        let exe = std::env::current_exe().map_err(io_error("finding", Path::new("kron")))?;
        let cstring = |bytes: Vec<u8>| CString::new(bytes).ok();
        let env = std::env::vars_os()
            .filter_map(|(k, v)| {
                let mut pair = k.into_vec();
                pair.push(b'=');
                pair.extend(v.into_vec());
                cstring(pair)
            })
            .collect();
        let mut attr = PosixSpawnAttr::init().map_err(sys("posix_spawnattr_init"))?;
        let flags = PosixSpawnFlags::from_bits_retain(nix::libc::POSIX_SPAWN_SETSID.into())
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK
            | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF;
        attr.set_flags(flags)
            .map_err(sys("posix_spawnattr_setflags"))?;
        attr.set_sigmask(&SigSet::empty())
            .map_err(sys("posix_spawnattr_setsigmask"))?;
        attr.set_sigdefault(&SigSet::all())
            .map_err(sys("posix_spawnattr_setsigdefault"))?;
        Ok(Spawner {
            exe: CString::new(exe.into_os_string().into_vec())
                .map_err(|_| DaemonError::Control("kron's path has a NUL byte".into()))?,
            env,
            attr,
        })
    }

    /// Starts `kron ARGS...`; returns its pid and the read end of its
    /// standard output.
    fn spawn(&self, args: Vec<OsString>) -> nix::Result<(i32, PipeReader)> {
        let mut argv = vec![self.exe.clone()];
        for arg in args {
            argv.push(CString::new(arg.into_vec()).map_err(|_| Errno::EINVAL)?);
        }
        // Only the daemon's end is non-blocking: a supervisor's report must
        // wait for room rather than be lost.
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        nix::fcntl::fcntl(&read, nix::fcntl::FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        let mut actions = PosixSpawnFileActions::init()?;
        actions.add_open(0, c"/dev/null", OFlag::O_RDONLY, Mode::empty())?;
        actions.add_dup2(write.as_raw_fd(), 1)?;
        // Standard error stays the daemon's: a supervisor's warnings and
        // errors go where the daemon's own lines go.
        let pid = posix_spawn(self.exe.as_c_str(), &actions, &self.attr, &argv, &self.env)?;
        Ok((pid.as_raw(), PipeReader::from(read)))
    }
}
