//! The supervisor's signals, turned into bytes on a pipe (the self-pipe
//! trick) so that one `poll` waits for output, a child's exit, a stop
//! request and a deadline at once, without threads.
//!
//! Handlers are installed without `SA_RESTART`: a blocking `flock` or
//! `poll` returns `EINTR` and the caller looks at the pipe.

use std::io::{PipeReader, PipeWriter, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: nix::libc::c_int) {
    let saved = Errno::last_raw();
    let fd = WRITE_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; the pipe is non-blocking,
        // so a full pipe loses a byte rather than blocking the handler.
        unsafe { nix::libc::write(fd, (&raw const byte).cast(), 1) };
    }
    Errno::set_raw(saved);
}

/// What the supervisor was asked to do by a signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, SIGINT or SIGHUP: stop the command's group, no retries.
    Terminate(Signal),
    /// SIGUSR1 (`kron kill --signal`): send the group the signal named in
    /// the run's request file; retries stop.
    NoRetry,
}

pub struct Signals {
    read: PipeReader,
    _write: PipeWriter,
    stop: Option<Stop>,
    /// SIGUSR1s not yet acted on.
    requests: u32,
}

pub const STOP_SIGNALS: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

impl Signals {
    /// Installs the handlers for SIGTERM, SIGINT, SIGHUP, SIGUSR1 and SIGCHLD.
    pub fn install() -> std::io::Result<Signals> {
        let (read, write) = std::io::pipe()?;
        for fd in [read.as_fd(), write.as_fd()] {
            fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        }
        WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
        let action = SigAction::new(
            SigHandler::Handler(on_signal),
            SaFlags::SA_NOCLDSTOP,
            SigSet::empty(),
        );
        let mut mine = SigSet::empty();
        for signal in STOP_SIGNALS
            .into_iter()
            .chain([Signal::SIGUSR1, Signal::SIGCHLD])
        {
            // SAFETY: the handler only calls async-signal-safe functions.
            unsafe { sigaction(signal, &action) }?;
            mine.add(signal);
        }
        // A parent that blocks signals (for a signalfd, say) passes its
        // mask on through exec: unblock ours.
        mine.thread_unblock()?;
        Ok(Signals {
            read,
            _write: write,
            stop: None,
            requests: 0,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// Reads the signals that arrived; returns the stop request so far.
    pub fn drain(&mut self) -> Option<Stop> {
        let mut buf = [0u8; 64];
        while let Ok(n @ 1..) = (&self.read).read(&mut buf) {
            for &byte in &buf[..n] {
                let Ok(signal) = Signal::try_from(i32::from(byte)) else {
                    continue;
                };
                if STOP_SIGNALS.contains(&signal) {
                    // A terminate request wins over a no-retry one.
                    if !matches!(self.stop, Some(Stop::Terminate(_))) {
                        self.stop = Some(Stop::Terminate(signal));
                    }
                } else if signal == Signal::SIGUSR1 {
                    self.requests += 1;
                    if self.stop.is_none() {
                        self.stop = Some(Stop::NoRetry);
                    }
                }
            }
        }
        self.stop
    }

    pub fn stop(&self) -> Option<Stop> {
        self.stop
    }

    /// Whether SIGUSR1 arrived since the last call (call [`Signals::drain`] first).
    pub fn take_request(&mut self) -> bool {
        std::mem::take(&mut self.requests) > 0
    }
}
