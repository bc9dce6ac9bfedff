//! The daemon: decides *when* each task runs and starts a supervisor
//! (`kron __supervise`) for the runs due at once; it never runs a command
//! itself (docs/architecture.md). Depends on `taskfile`, `ipc`, `state` and the
//! supervisor's command line.
//!
//! One process per user, single-threaded, sleeping in `poll(2)` on these
//! file descriptors and nothing else:
//!
//! - a `timerfd` on the wall clock, armed for the earliest due instant and
//!   cancelled by clock jumps (`clock`);
//! - an inotify watch on the task file's directory (`watch`);
//! - a `signalfd` for SIGHUP (reload), SIGTERM and SIGINT (exit), SIGCHLD
//!   (reap supervisors);
//! - the control socket and its connections (`ipc`, `handle`);
//! - each supervisor's standard output, where it names the task of each
//!   run that ended (so `max_parallel` counts runs, not processes), or a
//!   pidfd for a supervisor an earlier daemon started.
//!
//! With nothing due it makes no system call at all: no polling interval,
//! no housekeeping timer. Planning is pure code in `plan`. The invariants:
//! it holds `$RUNTIME/daemon.lock` for its whole life (one daemon per user);
//! it never exits over a bad task file (the old tasks keep running and the
//! error shows in `kron status`); on SIGTERM it stops scheduling and exits
//! at once, leaving running supervisors (each in its own session) to finish
//! and record their runs.

pub mod clock;
pub mod control;
mod handle;
pub mod plan;
mod snapshot;
pub mod watch;

use std::ffi::CString;
use std::io::{PipeReader, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::spawn::{PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags, posix_spawn};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::dirs::{self, Paths};
use crate::ipc;
use crate::logging::{self, debug, error, info, warning};
use crate::runner::launch::Launch;
use crate::state::State;
use crate::taskfile::{self, load::LoadError};
use clock::{Clock, Wake};
use plan::{Fire, LATE_TOLERANCE, Planner, Spec};
use watch::Watch;

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("the daemon is already running ({})", pid.map_or_else(|| "pid unknown".to_string(), |p| format!("pid {p}")))]
    AlreadyRunning { pid: Option<u32> },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{action}: {source}")]
    Sys { action: &'static str, source: Errno },
    /// Starting or stopping the daemon failed; the message says how.
    #[error("{0}")]
    Control(String),
}

pub(crate) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(std::io::Error) -> DaemonError {
    let path = path.to_path_buf();
    move |source| DaemonError::Io {
        action,
        path,
        source,
    }
}

fn sys(action: &'static str) -> impl FnOnce(Errno) -> DaemonError {
    move |source| DaemonError::Sys { action, source }
}

/// How long a client connection may take to send its request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(2);

/// How many runs one supervisor takes at most, a thread each. More runs
/// due in the same wake-up get more supervisors: a burst of a thousand
/// runs starts in a few processes rather than a thousand, and the runs of
/// one supervisor are few enough that one crashing takes few with it.
const RUNS_PER_SUPERVISOR: usize = 64;

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

impl Ends {
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Ends::Reported(pipe) => pipe.as_fd(),
            Ends::Adopted(pidfd) => pidfd.as_fd(),
        }
    }
}

/// A client connection, reading its one-line request.
struct Connection {
    stream: UnixStream,
    buf: Vec<u8>,
    deadline: Instant,
}

pub struct Daemon {
    paths: Paths,
    spawner: Spawner,
    started: Timestamp,
    planner: Planner,
    state: State,
    state_dirty: bool,
    loaded: Option<Timestamp>,
    load_error: Option<String>,
    supervisors: Vec<Supervisor>,
    stopping: bool,
    rng: Rng,
    /// What supervisors read (see `snapshot`).
    snapshots: snapshot::Snapshots,
    snapshots_ok: bool,
    /// Give memory back before the next sleep (after a load).
    trim_pending: bool,
}

/// Runs the daemon in the foreground until SIGTERM, SIGINT or a stop
/// request. `paths.task_file` should be absolute: the daemon works in `/`.
pub fn run(paths: &Paths) -> Result<(), DaemonError> {
    logging::init_from_env();
    let _lock = control::acquire(paths)?;
    let mut signals = SigSet::empty();
    for signal in [
        Signal::SIGHUP,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGCHLD,
    ] {
        signals.add(signal);
    }
    signals.thread_block().map_err(sys("blocking signals"))?;
    let signal_fd = SignalFd::with_flags(&signals, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(sys("creating a signalfd"))?;

    let socket = paths.socket_path();
    let listener = listen(&socket)?;
    let task_dir = paths
        .task_file
        .parent()
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    dirs::create_private_dir(&task_dir).map_err(io_error("creating", &task_dir))?;
    let watch = Watch::new(&paths.task_file).map_err(sys("watching the task file's directory"))?;
    let clock = Clock::new().map_err(sys("creating a timerfd"))?;
    let _ = std::env::set_current_dir("/");

    let mut daemon = Daemon {
        paths: paths.clone(),
        spawner: Spawner::new()?,
        started: Timestamp::now(),
        planner: Planner::default(),
        state: State::default(),
        state_dirty: false,
        loaded: None,
        load_error: None,
        supervisors: Vec::new(),
        stopping: false,
        rng: Rng::new(),
        snapshots: snapshot::Snapshots::new(paths.clone()),
        snapshots_ok: false,
        trim_pending: false,
    };
    info!(
        "kron {} daemon started (pid {}): task file {}, socket {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        paths.task_file.display(),
        socket.display()
    );
    daemon.load_state();
    daemon.reload("start");
    crate::runner::running::sweep(&paths.running_dir());
    daemon.adopt();

    let mut connections: Vec<Connection> = Vec::new();
    // No tolerance on start: every instant already past was missed.
    let mut tolerance = Duration::ZERO;
    while !daemon.stopping {
        daemon.plan(tolerance);
        tolerance = LATE_TOLERANCE;
        clock
            .arm(daemon.planner.deadline())
            .map_err(sys("arming the timer"))?;
        if daemon.trim_pending {
            daemon.trim_pending = false;
            trim_memory();
        }

        let timeout = connections
            .iter()
            .map(|c| c.deadline.saturating_duration_since(Instant::now()))
            .min()
            .map_or(PollTimeout::NONE, |d| {
                PollTimeout::try_from(d.as_millis().min(60_000) as i32 + 1)
                    .unwrap_or(PollTimeout::MAX)
            });
        let mut fds = vec![
            PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN),
            PollFd::new(clock.fd(), PollFlags::POLLIN),
            PollFd::new(watch.fd(), PollFlags::POLLIN),
            PollFd::new(listener.as_fd(), PollFlags::POLLIN),
        ];
        fds.extend(
            connections
                .iter()
                .map(|c| PollFd::new(c.stream.as_fd(), PollFlags::POLLIN)),
        );
        fds.extend(
            daemon
                .supervisors
                .iter()
                .map(|s| PollFd::new(s.ends.fd(), PollFlags::POLLIN)),
        );
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(sys("waiting in poll")(e)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let supervisors_at = 4 + connections.len();

        let mut reload = None;
        if ready[0] {
            while let Ok(Some(info)) = signal_fd.read_signal() {
                match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGTERM | Signal::SIGINT) => {
                        info!("stopping on signal {}", info.ssi_signo);
                        daemon.stopping = true;
                    }
                    Ok(Signal::SIGHUP) => reload = Some("SIGHUP"),
                    _ => {}
                }
            }
            daemon.reap();
        }
        if ready[1] {
            match clock.read() {
                Ok(Wake::Jumped) => {
                    info!("the wall clock was set; planning again");
                    tolerance = Duration::ZERO;
                }
                Ok(_) => {}
                Err(e) => warning!("reading the timer: {e}"),
            }
        }
        if ready[2] {
            match watch.changed() {
                Ok(true) => reload = reload.or(Some("change")),
                Ok(false) => {}
                Err(e) => warning!("reading inotify events: {e}"),
            }
        }
        if ready[3] {
            accept(&listener, &mut connections);
        }
        let now = Instant::now();
        let mut open = Vec::with_capacity(connections.len());
        for (i, mut connection) in connections.into_iter().enumerate() {
            let readable = ready.get(4 + i).copied().unwrap_or(false);
            match connection.receive(readable) {
                Receive::Pending if connection.deadline > now => open.push(connection),
                Receive::Pending => debug!("dropping a client that sent no request in time"),
                Receive::Closed => {}
                Receive::Frame(line) => {
                    let response = match ipc::decode_request(&line) {
                        Ok(request) => handle::handle(&mut daemon, request),
                        Err(message) => ipc::Response::Error { message },
                    };
                    connection.respond(&response);
                    daemon.trim_pending = true;
                }
            }
        }
        connections = open;
        daemon.read_status(&ready[supervisors_at..]);
        if let Some(why) = reload
            && !daemon.stopping
        {
            daemon.reload(why);
        }
    }
    daemon.save_state();
    let _ = std::fs::remove_file(&socket);
    info!(
        "stopped; {} run(s) still running go on by themselves",
        daemon.running()
    );
    Ok(())
}

/// Binds the control socket (0600, in the 0700 runtime directory). A file
/// left by a daemon that died is removed: this process holds the lock.
fn listen(socket: &Path) -> Result<UnixListener, DaemonError> {
    match std::fs::remove_file(socket) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error("removing the stale socket", socket)(e)),
    }
    let listener = UnixListener::bind(socket).map_err(io_error("listening on", socket))?;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error("setting the mode of", socket))?;
    listener
        .set_nonblocking(true)
        .map_err(io_error("configuring", socket))?;
    Ok(listener)
}

fn accept(listener: &UnixListener, connections: &mut Vec<Connection>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(true).is_ok() {
                    connections.push(Connection {
                        stream,
                        buf: Vec::new(),
                        deadline: Instant::now() + CONNECTION_TIMEOUT,
                    });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Err(e) => {
                warning!("accepting a connection: {e}");
                return;
            }
        }
    }
}

enum Receive {
    Pending,
    Closed,
    Frame(Vec<u8>),
}

impl Connection {
    fn receive(&mut self, readable: bool) -> Receive {
        if !readable {
            return Receive::Pending;
        }
        let mut chunk = [0u8; 4096];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return Receive::Closed,
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                        self.buf.truncate(end);
                        return Receive::Frame(std::mem::take(&mut self.buf));
                    }
                    if self.buf.len() > ipc::MAX_FRAME {
                        self.respond(&ipc::Response::Error {
                            message: format!("request over {} bytes", ipc::MAX_FRAME),
                        });
                        return Receive::Closed;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Receive::Pending,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return Receive::Closed,
            }
        }
    }

    /// Sends the answer; a client that does not read it within a second is
    /// dropped.
    fn respond(&self, response: &ipc::Response) {
        use std::io::Write;
        let frame = ipc::encode_response(response);
        let _ = self.stream.set_nonblocking(false);
        let _ = self.stream.set_write_timeout(Some(Duration::from_secs(1)));
        if let Err(e) = (&self.stream).write_all(&frame) {
            debug!("answering a client: {e}");
        }
    }
}

impl Daemon {
    fn load_state(&mut self) {
        let path = self.paths.state_file();
        match State::load(&path) {
            Ok(state) => self.state = state,
            Err(e) => warning!("{e}"),
        }
    }

    fn save_state(&mut self) {
        if !self.state_dirty {
            return;
        }
        match self.state.save(&self.paths.state_file()) {
            Ok(()) => self.state_dirty = false,
            Err(e) => error!("saving the daemon's memory: {e}"),
        }
    }

    /// Reads the task file. A missing file means no tasks; an invalid or
    /// insecure one leaves the tasks loaded before in place. A valid one is
    /// cut into one snapshot per task, which supervisors read: they run what
    /// the daemon loaded, even while the file on disk is broken.
    fn reload(&mut self, why: &str) {
        let path = self.paths.task_file.clone();
        let file = match read_task_file(&path) {
            Ok((file, text)) => {
                self.snapshot(&text);
                file
            }
            Err(e) => {
                let (tasks, _) = self.planner.counts();
                let message = render_load_error(&e);
                warning!(
                    "not loading {} ({why}): {}; still running the {tasks} task(s) loaded before",
                    path.display(),
                    message.replace('\n', "; ")
                );
                self.load_error = Some(message);
                return;
            }
        };
        let now = Timestamp::now();
        let count = file.tasks.len();
        self.planner
            .load(Spec::all(&file), file.max_parallel, &mut self.state, now);
        drop(file);
        self.loaded = Some(now);
        self.load_error = None;
        self.state_dirty = true;
        let (_, paused) = self.planner.counts();
        info!(
            "loaded {} ({why}): {count} task(s), {paused} paused",
            path.display()
        );
        match boot_id() {
            Ok(id) => {
                let rng = &mut self.rng;
                let queued = self
                    .planner
                    .reboot(&id, &mut self.state, now, &mut |d| rng.below(d));
                if queued > 0 {
                    info!("new boot: {queued} @reboot task(s) to run");
                }
            }
            Err(e) => warning!("reading the boot id (for @reboot tasks): {e}"),
        }
        self.trim_pending = true;
    }

    /// Brings `$RUNTIME/loaded/` in line with `text`. If that fails,
    /// supervisors read the task file itself.
    fn snapshot(&mut self, text: &str) {
        match self.snapshots.update(text) {
            Ok(()) => self.snapshots_ok = true,
            Err(e) => {
                warning!(
                    "writing the task snapshots in {}: {e}; supervisors will read the task file",
                    self.paths.runtime_dir.display()
                );
                self.snapshots_ok = false;
            }
        }
    }

    /// Plans what is due and starts what is ready, then saves the memory.
    fn plan(&mut self, tolerance: Duration) {
        let now = Timestamp::now();
        let rng = &mut self.rng;
        let missed = self
            .planner
            .advance(now, tolerance, &mut self.state, &mut |d| rng.below(d));
        for m in missed {
            self.state_dirty = true;
            info!(
                "{}: {}{} run(s) missed; catch_up = {:?}: {} run(s) now",
                m.task,
                if m.more { "over " } else { "" },
                m.count,
                m.policy,
                m.runs
            );
        }
        let supervisors = &self.supervisors;
        let busy = |task: &str| {
            supervisors
                .iter()
                .any(|s| s.tasks.iter().any(|t| t == task))
        };
        let fires = self.planner.ready(now, self.running(), &busy);
        for batch in fires.chunks(RUNS_PER_SUPERVISOR) {
            self.spawn(batch);
        }
        self.save_state();
    }

    /// Runs started and not reported ended.
    pub(crate) fn running(&self) -> usize {
        self.supervisors.iter().map(|s| s.tasks.len()).sum()
    }

    /// Starts `kron __supervise` for `fires`, a thread each, in a new
    /// session, standard input on /dev/null, standard output on a pipe to
    /// this daemon, standard error the daemon's. Runs it cannot start are
    /// recorded as failures.
    fn spawn(&mut self, fires: &[Fire]) {
        let launch = Launch {
            runs: fires.iter().map(|f| f.run.clone()).collect(),
            snapshots: self.snapshots_ok,
        };
        let args = launch.args(&self.paths.task_file);
        let describe = |fire: &Fire| {
            let run = &fire.run;
            let scheduled = run
                .scheduled
                .map_or_else(String::new, |t| format!(" for {t}"));
            format!("{} ({}{scheduled})", run.task, run.trigger.as_str())
        };
        let runs = fires.iter().map(describe).collect::<Vec<_>>().join(", ");
        match self.spawner.spawn(args) {
            Ok((pid, status)) => {
                info!("started {runs}: supervisor pid {pid}");
                self.supervisors.push(Supervisor {
                    pid,
                    ends: Ends::Reported(status),
                    buf: Vec::new(),
                    tasks: fires.iter().map(|f| f.run.task.clone()).collect(),
                });
            }
            Err(e) => {
                error!("could not start the supervisor for {runs}: {e}");
                for fire in fires {
                    let reason = format!("not run: starting its supervisor: {e}");
                    if let Err(e) = crate::runner::record_unstarted(&self.paths, &fire.run, reason)
                    {
                        error!("{}: {e}", fire.run.task);
                    }
                }
            }
        }
        for fire in fires {
            if let Some(at) = fire.run.scheduled {
                self.state_dirty |= self.state.handled(&fire.run.task, at);
            }
        }
    }

    /// Counts the runs that supervisors started by an earlier daemon still
    /// run, so that `max_parallel` holds across a restart. This daemon has
    /// not their report pipes: a supervisor's runs count until it exits,
    /// which its pidfd tells. `kron run` in a terminal is not counted, as it
    /// is not while a daemon runs.
    fn adopt(&mut self) {
        let mut by_supervisor: std::collections::BTreeMap<i32, Vec<String>> = Default::default();
        for run in crate::runner::running(&self.paths) {
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
                    self.supervisors.push(Supervisor {
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

    /// Takes the runs the supervisors whose output is `ready` report
    /// ended. A closed pipe means the supervisor (and any it handed a run
    /// to) is gone; runs it did not report were cut short with it, and
    /// their registry files are swept.
    fn read_status(&mut self, ready: &[bool]) {
        let mut gone = Vec::new();
        for (i, supervisor) in self.supervisors.iter_mut().enumerate() {
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
            let supervisor = self.supervisors.swap_remove(i);
            if !supervisor.tasks.is_empty() {
                warning!(
                    "supervisor {} ended without reporting the end of {} run(s) ({})",
                    supervisor.pid,
                    supervisor.tasks.len(),
                    supervisor.tasks.join(", ")
                );
                crate::runner::running::sweep(&self.paths.running_dir());
            }
        }
    }

    /// Collects every supervisor that ended.
    fn reap(&mut self) {
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
/// signals its signalfd reads) and default dispositions, standard input
/// and error on /dev/null, standard output on a pipe. Unlike fork(2), glibc's posix_spawn does not copy the
/// daemon's page tables, so a burst of a thousand runs starts quickly.
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
    fn spawn(&self, args: Vec<std::ffi::OsString>) -> nix::Result<(i32, PipeReader)> {
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

/// In a child between fork and exec: a new session, and the signal mask
/// the daemon uses for its signalfd cleared, so that the program sees its
/// signals. Both calls are async-signal-safe and allocate nothing.
pub(crate) fn detach() -> std::io::Result<()> {
    SigSet::empty()
        .thread_set_mask()
        .map_err(std::io::Error::from)?;
    nix::unistd::setsid()
        .map(drop)
        .map_err(std::io::Error::from)
}

/// The task file and its text; a missing file is an empty one.
fn read_task_file(path: &Path) -> Result<(taskfile::TaskFile, String), LoadError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => {
            dirs::check_task_file(path)?;
            text
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(LoadError::Read {
                path: path.into(),
                source,
            });
        }
    };
    let file = taskfile::parse(&text, path)?;
    Ok((file, text))
}

/// The load error as `kron status` shows it: the summary, then one
/// diagnostic per line.
fn render_load_error(error: &LoadError) -> String {
    let mut text = error.to_string();
    if let LoadError::Invalid { diagnostics, .. } = error {
        for d in diagnostics {
            text.push('\n');
            text.push_str(&d.to_string());
        }
    }
    text
}

/// This boot's id (`@reboot` tasks run once per boot id).
fn boot_id() -> std::io::Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_string())
}

/// Gives memory back after a load, so that the idle daemon stays small:
/// the heap freed after parsing (`malloc_trim`), and the code pages of the
/// program and its libraries that loading touched (clap, toml_edit, the
/// schedule engine...). Code is never written, so dropping those pages
/// from this process (`MADV_DONTNEED` on the `r-xp` file mappings) loses
/// nothing: the kernel maps them back from the page cache when they run
/// again. Writable and read-only data mappings are left alone (relocated
/// data lives there).
fn trim_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        nix::libc::malloc_trim(0);
    }
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return;
    };
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let path = fields.nth(3).unwrap_or("");
        if perms != "r-xp" || !path.starts_with('/') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        // SAFETY: a private, never-written file mapping of code; its pages
        // come back from the file on the next access.
        unsafe {
            nix::libc::madvise(
                start as *mut nix::libc::c_void,
                end - start,
                nix::libc::MADV_DONTNEED,
            );
        }
    }
}

/// A small xorshift generator for jitter, seeded per process.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        use std::hash::{BuildHasher, RandomState};
        let seed = RandomState::new().hash_one((std::process::id(), Instant::now()));
        Rng(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A uniformly drawn duration in `[0, max]`, to the millisecond.
    fn below(&mut self, max: Duration) -> Duration {
        let millis = max.as_millis() as u64;
        if millis == 0 {
            return Duration::ZERO;
        }
        Duration::from_millis(self.next() % (millis + 1))
    }
}
