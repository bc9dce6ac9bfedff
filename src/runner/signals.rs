//! What a run is asked to do while it goes on: the supervisor's signals,
//! turned into bytes on a pipe (the self-pipe trick) so that one `poll`
//! waits for output, a child's exit, a stop request and a deadline at once.
//!
//! A supervisor of one run reads the process's pipe itself
//! ([`Signals::install`]). A supervisor of several runs, one thread each,
//! has a [`Hub`]: a thread that copies every byte to each run's own pipe.
//! A signal to the process (SIGTERM, SIGINT, SIGHUP) stops all its runs; a
//! request for one run (`kron kill`, `overlap = "replace"`) is a file,
//! `$RUNTIME/running/RUN_ID.request`, and a SIGUSR1 that makes each run
//! look for its own file.
//!
//! Handlers are installed without `SA_RESTART`: a blocking `flock` or
//! `poll` returns `EINTR` and the caller looks at the pipe.

use std::io::{PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

static WRITE_FD: AtomicI32 = AtomicI32::new(-1);

/// The handlers, the signal thread or a run's pipe could not be set up:
/// the run cannot be stopped, so it does not start.
#[derive(Debug, thiserror::Error)]
#[error("installing signal handlers: {0}")]
pub struct SignalsError(#[from] std::io::Error);

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

/// What a run was asked to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM, SIGINT or SIGHUP to the supervisor, or a `stop` request:
    /// stop the command's group (SIGTERM, SIGKILL after `kill_grace`), no
    /// retries.
    Terminate(Signal),
    /// A signal request (`kron kill --signal`): send the group that signal;
    /// retries stop.
    NoRetry,
}

/// Who stopped a run, for its run log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopSource {
    /// `kron kill`.
    Kill,
    /// `kron kill --signal SIG`.
    KillSignal(Signal),
    /// A run of a task with `overlap = "replace"`.
    Replace,
    /// A signal to the supervisor (SIGTERM, SIGINT, SIGHUP).
    Signal(Signal),
    /// The run's cluster lease could not be renewed, or another host took
    /// its occurrence over (`runner::claim`).
    Lease,
}

impl std::fmt::Display for StopSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopSource::Kill => write!(f, "kron kill"),
            StopSource::KillSignal(signal) => write!(f, "kron kill --signal {signal}"),
            StopSource::Replace => write!(f, "a replacing run (overlap = \"replace\")"),
            StopSource::Signal(signal) => write!(f, "{signal}"),
            StopSource::Lease => write!(f, "the loss of its cluster lease"),
        }
    }
}

/// A request for one run, in its request file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Stop it as SIGTERM to its supervisor would (`kron kill`).
    Stop,
    /// Stop it as [`Request::Stop`] does, for a replacing run.
    Replace,
    /// Send its group this signal and retry no more.
    Signal(Signal),
    /// Stop it: its cluster lease is lost, or about to be.
    Lease,
}

impl Request {
    fn encode(self) -> String {
        match self {
            Request::Stop => "stop\n".into(),
            Request::Replace => "replace\n".into(),
            Request::Lease => "lease\n".into(),
            Request::Signal(signal) => format!("{}\n", signal as i32),
        }
    }

    fn decode(text: &str) -> Option<Request> {
        match text.trim() {
            "stop" => Some(Request::Stop),
            "replace" => Some(Request::Replace),
            "lease" => Some(Request::Lease),
            number => Signal::try_from(number.parse::<i32>().ok()?)
                .ok()
                .map(Request::Signal),
        }
    }
}

/// Writes `request` to `path` (atomically) for the run whose supervisor is
/// `supervisor`, and wakes it with SIGUSR1.
pub fn send_request(
    path: &std::path::Path,
    supervisor: i32,
    request: Request,
) -> std::io::Result<()> {
    let tmp = path.with_extension("request.tmp");
    std::fs::write(&tmp, request.encode())?;
    std::fs::rename(&tmp, path)?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(supervisor), Signal::SIGUSR1)?;
    Ok(())
}

/// One run's view of the signals and requests that reached it.
pub struct Signals {
    read: PipeReader,
    /// Keeps the process's pipe open (a supervisor of one run).
    _write: Option<PipeWriter>,
    stop: Option<Stop>,
    /// Who asked for `stop`.
    source: Option<StopSource>,
    /// The signal a request asked to send the group, not sent yet.
    signal: Option<Signal>,
    /// This run's request file, once it is registered.
    requests: Option<PathBuf>,
}

pub const STOP_SIGNALS: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

/// Creates the process's pipe and installs the handlers for the stop
/// signals and SIGUSR1; returns the pipe's two ends.
fn install_handlers() -> std::io::Result<(PipeReader, PipeWriter)> {
    let (read, write) = pipe()?;
    WRITE_FD.store(write.as_raw_fd(), Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    let mut mine = SigSet::empty();
    for signal in STOP_SIGNALS.into_iter().chain([Signal::SIGUSR1]) {
        // SAFETY: the handler only calls async-signal-safe functions.
        unsafe { sigaction(signal, &action) }?;
        mine.add(signal);
    }
    // A parent that blocks signals (for a signalfd, say) passes its mask
    // on through exec: unblock ours.
    mine.thread_unblock()?;
    Ok((read, write))
}

/// A non-blocking pipe.
fn pipe() -> std::io::Result<(PipeReader, PipeWriter)> {
    let (read, write) = std::io::pipe()?;
    for fd in [read.as_fd(), write.as_fd()] {
        fcntl(fd, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    }
    Ok((read, write))
}

impl Signals {
    /// Installs the handlers; the caller supervises one run.
    pub fn install() -> Result<Signals, SignalsError> {
        let (read, write) = install_handlers()?;
        Ok(Signals::new(read, Some(write)))
    }

    fn new(read: PipeReader, write: Option<PipeWriter>) -> Signals {
        Signals {
            read,
            _write: write,
            stop: None,
            source: None,
            signal: None,
            requests: None,
        }
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// From now on, SIGUSR1 makes this run read `path`; a request already
    /// there is read at once.
    pub fn watch_requests(&mut self, path: PathBuf) {
        self.requests = Some(path);
        self.read_request();
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
                    self.terminate(signal, StopSource::Signal(signal));
                } else if signal == Signal::SIGUSR1 {
                    self.read_request();
                }
            }
        }
        self.stop
    }

    /// A terminate request wins over a no-retry one.
    fn terminate(&mut self, signal: Signal, source: StopSource) {
        if !matches!(self.stop, Some(Stop::Terminate(_))) {
            self.stop = Some(Stop::Terminate(signal));
            self.source = Some(source);
        }
    }

    /// Takes this run's request, if it has one (a SIGUSR1 may be meant for
    /// another run of the same supervisor).
    fn read_request(&mut self) {
        let Some(path) = &self.requests else { return };
        let Ok(text) = std::fs::read_to_string(path) else {
            return;
        };
        let _ = std::fs::remove_file(path);
        match Request::decode(&text) {
            Some(Request::Stop) => self.terminate(Signal::SIGTERM, StopSource::Kill),
            Some(Request::Replace) => self.terminate(Signal::SIGTERM, StopSource::Replace),
            Some(Request::Lease) => self.terminate(Signal::SIGTERM, StopSource::Lease),
            Some(Request::Signal(signal)) => {
                self.signal = Some(signal);
                if self.stop.is_none() {
                    self.stop = Some(Stop::NoRetry);
                    self.source = Some(StopSource::KillSignal(signal));
                }
            }
            None => {}
        }
    }

    pub fn stop(&self) -> Option<Stop> {
        self.stop
    }

    /// Who asked for [`Signals::stop`].
    pub fn stopped_by(&self) -> Option<StopSource> {
        self.source
    }

    /// The signal a request asked to send the group, once (call
    /// [`Signals::drain`] first).
    pub fn take_signal(&mut self) -> Option<Signal> {
        self.signal.take()
    }
}

/// The signals of a supervisor of several runs, each run in a thread with
/// its own [`Signals`].
pub struct Hub {
    channels: Arc<Mutex<Vec<PipeWriter>>>,
}

impl Hub {
    /// Installs the handlers and starts the thread that copies each signal
    /// to every run.
    pub fn install() -> Result<Hub, SignalsError> {
        let (read, write) = install_handlers()?;
        let channels: Arc<Mutex<Vec<PipeWriter>>> = Arc::default();
        let copies = Arc::clone(&channels);
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let _write = write;
                let mut buf = [0u8; 64];
                loop {
                    let mut fds = [PollFd::new(read.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::NONE);
                    while let Ok(n @ 1..) = (&read).read(&mut buf) {
                        let channels = copies.lock().unwrap_or_else(|e| e.into_inner());
                        for mut channel in channels.iter() {
                            // A run that ended closed its end: ignore it.
                            let _ = channel.write(&buf[..n]);
                        }
                    }
                }
            })?;
        Ok(Hub { channels })
    }

    /// A run's own signals.
    pub fn channel(&self) -> Result<Signals, SignalsError> {
        let (read, write) = pipe()?;
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(write);
        Ok(Signals::new(read, None))
    }
}
