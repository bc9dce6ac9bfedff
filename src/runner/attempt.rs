//! One attempt, from a started child to its end: copy its output to the run
//! log (and the terminal), enforce the timeout, stop its process group
//! when asked, and see what the command left running in its group.
//!
//! The loop is a small state machine over one `poll` of the output pipe and
//! the signal pipe, with at most one deadline at a time:
//!
//! ```text
//! running --timeout or stop signal--> terminating (SIGTERM to the group)
//! terminating --kill_grace--> killed (SIGKILL to the group)
//! running --main process exits--> draining (read what is left)
//! draining --leftovers = "kill" and the group not empty--> terminating
//! draining --1 s and the pipe still open--> terminating
//! any --main process reaped, output at EOF, and a signalled group empty--> done
//! ```
//!
//! Leftovers are the processes still in the group when the main process
//! exits on its own: a `cmd &` in a script. With `leftovers = "keep"` (the
//! default) they are left running and named in [`Ended::left`]; with
//! `"kill"` they are stopped like a timed-out command and named in
//! [`Ended::stopped`]. Either way, one that still holds the output pipe
//! 1 s later is stopped: the output is the run's, and the run ends with
//! its main process. A group that was signalled is waited for until it is
//! empty (SIGKILL follows SIGTERM after `kill_grace`), so that nothing the
//! run stopped outlives its record; after SIGKILL, a process that escaped
//! the group could still hold the pipe, so the loop gives up on the output
//! 1 s later, and on the group too.

use std::io::{PipeReader, Read, Write};
use std::os::fd::AsFd;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::signals::{Signals, Stop};
use super::spawn::Child;
use crate::procfs::group_members;
use crate::taskfile::Leftovers;

/// How long output may stay open after the main process exited.
const DRAIN: Duration = Duration::from_secs(1);
/// How often a signalled group is checked for members, until it is empty.
const GROUP_CHECK: Duration = Duration::from_millis(50);
/// How often a child's exit is checked where the kernel has no pidfds.
const NO_PIDFD_CHECK: Duration = Duration::from_millis(50);

/// Where the output goes.
pub trait Sink {
    fn output(&mut self, bytes: &[u8]);
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub status: ExitStatus,
    /// The timeout expired (the group was then stopped).
    pub timed_out: bool,
    pub duration: Duration,
    /// Processes of the group still running as the attempt ended.
    pub left: Vec<i32>,
    /// Processes left in the group when the main process exited, which
    /// were stopped (`leftovers = "kill"`, or they held the output).
    pub stopped: Vec<i32>,
}

pub struct Limits {
    pub timeout: Option<Duration>,
    pub kill_grace: Duration,
    pub leftovers: Leftovers,
}

/// Runs the loop until the child is reaped and its output is done.
pub fn watch(
    mut child: Child,
    mut output: PipeReader,
    signals: &mut Signals,
    limits: &Limits,
    sink: &mut dyn Sink,
    started: Instant,
) -> Ended {
    let group = Pid::from_raw(child.id() as i32);
    let mut buf = vec![0u8; 64 * 1024];
    let mut status: Option<ExitStatus> = None;
    let mut exited_at: Option<Instant> = None;
    let mut eof = false;
    let mut timed_out = false;
    let mut term_at: Option<Instant> = None;
    let mut kill_at: Option<Instant> = None;
    let mut stopped: Vec<i32> = Vec::new();
    // A stop requested before the child started is honoured at once.
    let mut stop_seen = false;
    loop {
        let now = Instant::now();
        let stop = signals.drain();
        if let Some(signal) = signals.take_signal() {
            signal_group(group, signal);
        }
        if !stop_seen && let Some(Stop::Terminate(_)) = stop {
            stop_seen = true;
            if term_at.is_none() {
                signal_group(group, Signal::SIGTERM);
                term_at = Some(now);
            }
        }
        if status.is_none()
            && term_at.is_none()
            && limits.timeout.is_some_and(|t| now >= started + t)
        {
            timed_out = true;
            signal_group(group, Signal::SIGTERM);
            term_at = Some(now);
        }
        if let Some(at) = exited_at
            && !eof
            && term_at.is_none()
            && now >= at + DRAIN
        {
            stopped = group_members(group.as_raw());
            signal_group(group, Signal::SIGTERM);
            term_at = Some(now);
        }
        if let Some(at) = term_at
            && kill_at.is_none()
            && now >= at + limits.kill_grace
        {
            signal_group(group, Signal::SIGKILL);
            kill_at = Some(now);
        }
        if status.is_none()
            && let Ok(Some(s)) = child.try_wait()
        {
            status = Some(s);
            exited_at = Some(now);
            if term_at.is_none() && limits.leftovers == Leftovers::Kill {
                stopped = group_members(group.as_raw());
                if !stopped.is_empty() {
                    signal_group(group, Signal::SIGTERM);
                    term_at = Some(now);
                }
            }
        }
        let given_up = kill_at.is_some_and(|k| now >= k + DRAIN);
        if let Some(status) = status
            && (eof || given_up)
        {
            // A group that was signalled is waited for; else what is
            // left in it is left running.
            let left = group_members(group.as_raw());
            if term_at.is_none() || left.is_empty() || given_up {
                stopped.retain(|pid| !left.contains(pid));
                return Ended {
                    status,
                    timed_out,
                    duration: started.elapsed(),
                    left,
                    stopped,
                };
            }
        }
        // The next deadline, if any.
        let deadline = [
            limits
                .timeout
                .filter(|_| term_at.is_none() && status.is_none())
                .map(|t| started + t),
            exited_at.filter(|_| term_at.is_none()).map(|at| at + DRAIN),
            term_at
                .filter(|_| kill_at.is_none())
                .map(|at| at + limits.kill_grace),
            kill_at.map(|k| k + DRAIN),
            (status.is_none() && child.exit_fd().is_none()).then(|| now + NO_PIDFD_CHECK),
            (status.is_some() && eof && term_at.is_some()).then(|| now + GROUP_CHECK),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let ms = d.saturating_duration_since(Instant::now()).as_millis() + 1;
                PollTimeout::try_from(ms.min(60_000) as u64).unwrap_or(PollTimeout::MAX)
            }
        };
        let (out_ready, _) = {
            let mut fds = vec![PollFd::new(signals.fd(), PollFlags::POLLIN)];
            if let Some(exit) = child.exit_fd().filter(|_| status.is_none()) {
                fds.push(PollFd::new(exit, PollFlags::POLLIN));
            }
            let output_at = fds.len();
            if !eof {
                fds.push(PollFd::new(output.as_fd(), PollFlags::POLLIN));
            }
            // EINTR: a signal's byte is waiting on the pipe.
            let _ = poll(&mut fds, timeout);
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
            (fds.get(output_at).is_some_and(ready), ready(&fds[0]))
        };
        if out_ready {
            match output.read(&mut buf) {
                Ok(0) => eof = true,
                Ok(n) => sink.output(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => eof = true,
            }
        }
    }
}

/// Sends `signal` to the process group; a group that is gone is fine.
pub fn signal_group(group: Pid, signal: Signal) {
    let _ = killpg(group, signal);
}

/// Copies to a writer, forgetting it after the first error (a closed
/// terminal must not stop the run).
pub struct Tee<W: Write> {
    pub writer: Option<W>,
}

impl<W: Write> Tee<W> {
    pub fn write(&mut self, bytes: &[u8]) {
        if let Some(w) = &mut self.writer
            && w.write_all(bytes).and_then(|()| w.flush()).is_err()
        {
            self.writer = None;
        }
    }
}
