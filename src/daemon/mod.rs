//! The daemon: decides *when* each task runs and starts a supervisor
//! (`kron __supervise`) for the runs due at once; it never runs a command
//! itself (docs/architecture.md). Depends on `taskfile`, `ipc`, `runner`'s
//! launch contract, and its own memory (`state`).
//!
//! One process per user, single-threaded. Each turn of its loop ([`run`]):
//!
//! 1. plans what is due and starts a supervisor for what is ready
//!    (`plan`, `supervisors`), and saves its memory if it changed (`state`);
//! 2. arms the timer for the next deadline and sleeps in `poll(2)` on
//!    these file descriptors and nothing else:
//!    - a `signalfd` for SIGHUP (reload), SIGTERM and SIGINT (exit),
//!      SIGCHLD (reap supervisors);
//!    - a `timerfd` on the wall clock, armed for the earliest due instant
//!      and cancelled by clock jumps (`clock`);
//!    - an inotify watch on the task file's directory (`watch`);
//!    - the control socket and its connections (`server`, `handle`);
//!    - each supervisor's standard output, where it names the task of each
//!      run that ended (so `max_parallel` counts runs, not processes), or a
//!      pidfd for a supervisor an earlier daemon started (`supervisors`);
//! 3. handles what woke it, in that order, and reloads the task file if a
//!    signal, a change or a request asked for it.
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
mod server;
mod snapshot;
pub mod state;
mod supervisors;
mod trim;
pub mod watch;

pub use trim::give_back;

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::dirs::{self, Paths};
use crate::history::{self, Record, Stretch, Trigger};
use crate::logging::{self, debug, error, info, warning};
use crate::runner::launch::Launch;
use crate::taskfile::{self, CatchUp, load::LoadError};
use clock::{Clock, Wake};
use plan::{Boot, Fire, LATE_TOLERANCE, Planner, Spec};
use server::Server;
use state::State;
use supervisors::{RUNS_PER_SUPERVISOR, Supervisors};
use watch::{Fingerprint, Watch};

/// A sleep at least this long after the last run ended is idleness: what
/// the runs mapped is given back before it (see `trim_when_idle`). Shorter
/// sleeps keep it: mapping the code back costs the next run a few hundred
/// microseconds, and giving it back a millisecond of CPU.
const IDLE_TRIM: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

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

pub struct Daemon {
    paths: Paths,
    started: Timestamp,
    planner: Planner,
    state: State,
    state_dirty: bool,
    loaded: Option<Timestamp>,
    load_error: Option<String>,
    supervisors: Supervisors,
    stopping: bool,
    rng: Rng,
    /// What supervisors read (see `snapshot`).
    snapshots: snapshot::Snapshots,
    snapshots_ok: bool,
    /// Give memory back before the next sleep (after a load).
    trim_pending: bool,
    /// Give it back before the next long sleep ([`IDLE_TRIM`]): the last
    /// run ended. A task due each second keeps its code mapped.
    trim_when_idle: bool,
    /// Why instants found missed at the next plan were missed: the daemon
    /// was not running (on start), the clock jumped; else it woke late.
    missed_cause: Option<String>,
    /// `[defaults].metrics_file`, for the `missed` records this daemon
    /// writes itself.
    metrics_file: Option<PathBuf>,
    /// The tasks whose `missed` records are followed by a hook or a mail
    /// (`runner::missed`), and such records written in this turn.
    follow_missed: BTreeSet<String>,
    /// The `[cluster]` table `kron __cluster-check` last looked at.
    cluster_checked: Option<crate::taskfile::Cluster>,
    to_follow: Vec<Record>,
    /// The task file as last read, to load a change once (see `watch`).
    read: Option<Fingerprint>,
}

/// Runs the daemon in the foreground until SIGTERM, SIGINT or a stop
/// request. `paths.task_file` should be absolute: the daemon works in `/`.
pub fn run(paths: &Paths) -> Result<(), DaemonError> {
    logging::init_from_env();
    let mut lock = control::acquire(paths)?;
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
    let mut server = Server::bind(&socket)?;
    let task_dir = paths
        .task_file
        .parent()
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    dirs::create_private_dir(&task_dir).map_err(io_error("creating", &task_dir))?;
    let mut watch =
        Watch::new(&paths.task_file).map_err(sys("watching the task file's directory"))?;
    watch
        .watch_runtime(&paths.runtime_dir)
        .map_err(sys("watching the runtime directory"))?;
    let clock = Clock::new().map_err(sys("creating a timerfd"))?;
    let _ = std::env::set_current_dir("/");

    let mut daemon = Daemon {
        paths: paths.clone(),
        started: Timestamp::now(),
        planner: Planner::default(),
        state: State::default(),
        state_dirty: false,
        loaded: None,
        load_error: None,
        supervisors: Supervisors::new()?,
        stopping: false,
        rng: Rng::new(),
        snapshots: snapshot::Snapshots::new(paths.clone()),
        snapshots_ok: false,
        trim_pending: false,
        trim_when_idle: false,
        missed_cause: None,
        metrics_file: None,
        follow_missed: BTreeSet::new(),
        cluster_checked: None,
        to_follow: Vec::new(),
        read: None,
    };
    info!(
        "kron {} daemon started (pid {}): task file {}, socket {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        paths.task_file.display(),
        socket.display()
    );
    daemon.load_state();
    // What starting used (the command line's parser above all) is given
    // back before the load, so that the load's peak does not add to it.
    trim::give_back();
    daemon.reload("start");
    // And what planning ran, before the recovery and the history run theirs.
    trim::give_back();
    // Runs whose supervisor died while no daemon watched are stopped and
    // recorded; those of live supervisors are counted.
    crate::runner::recover::start(paths);
    daemon.supervisors.adopt(paths);
    daemon.start_unstarted();

    // No tolerance on start: every instant already past was missed.
    let mut tolerance = Duration::ZERO;
    while !daemon.stopping {
        // 1. Plan and start what is ready.
        daemon.plan(tolerance);
        tolerance = LATE_TOLERANCE;

        // 2. Sleep until something happens.
        let deadline = daemon.planner.deadline();
        clock.arm(deadline).map_err(sys("arming the timer"))?;
        let timeout = server.timeout().map_or(PollTimeout::NONE, |d| {
            PollTimeout::try_from(d.as_millis().min(60_000) as i32 + 1).unwrap_or(PollTimeout::MAX)
        });
        let mut fds = vec![
            PollFd::new(signal_fd.as_fd(), PollFlags::POLLIN),
            PollFd::new(clock.fd(), PollFlags::POLLIN),
            PollFd::new(watch.fd(), PollFlags::POLLIN),
        ];
        fds.extend(server.fds().map(|fd| PollFd::new(fd, PollFlags::POLLIN)));
        fds.extend(
            daemon
                .supervisors
                .fds()
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
        );
        // Last before the sleep: see `trim`.
        let idle = daemon.trim_when_idle
            && deadline.is_none_or(|at| at.duration_since(Timestamp::now()) > IDLE_TRIM);
        if daemon.trim_pending || idle {
            daemon.trim_pending = false;
            daemon.trim_when_idle = false;
            trim::give_back();
        }
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(sys("waiting in poll")(e)),
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        let (signaled, timer, watched) = (ready[0], ready[1], ready[2]);
        let (served, reported) = ready[3..].split_at(server.fd_count());

        // 3. Handle what woke it.
        let mut reload = None;
        if signaled {
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
            daemon.supervisors.reap();
            // The last run's end, or a helper's (`kron __cluster-check`):
            // what handling them mapped is given back before the daemon
            // idles, not after every run of a burst, nor between runs a
            // second apart (mapping the code back would delay each one).
            if daemon.running() == 0 {
                daemon.trim_when_idle = true;
            }
        }
        if timer {
            match clock.read() {
                Ok(Wake::Jumped) => {
                    info!("the wall clock was set; planning again");
                    tolerance = Duration::ZERO;
                    daemon.missed_cause = Some(
                        "the wall clock jumped (the machine was asleep, or the time was set)"
                            .into(),
                    );
                }
                Ok(_) => {}
                Err(e) => warning!("reading the timer: {e}"),
            }
        }
        if watched {
            match watch.changed() {
                Ok(changes) => {
                    if changes.task_file {
                        reload = reload.or(Some("change"));
                    }
                    if changes.runtime_gone {
                        daemon.restore_runtime(&mut lock, &mut server, &mut watch);
                    }
                }
                Err(e) => warning!("reading inotify events: {e}"),
            }
        }
        server.serve(served, &mut daemon);
        daemon.supervisors.read(reported, paths);
        if let Some(why) = reload
            && !daemon.stopping
        {
            daemon.reload(why);
        }
    }
    daemon.state.stopped = Some(Timestamp::now());
    daemon.state_dirty = true;
    daemon.save_state();
    let _ = std::fs::remove_file(&socket);
    info!(
        "stopped; {} run(s) still running go on by themselves",
        daemon.running()
    );
    Ok(())
}

impl Daemon {
    fn load_state(&mut self) {
        let path = self.paths.state_file();
        match State::load(&path) {
            Ok(state) => self.state = state,
            Err(e) => warning!("{e}"),
        }
        self.state_dirty |= self.state.stopped.is_some();
        let when = match self.state.stopped.take() {
            Some(stopped) => format!("from {stopped} to {}", self.started),
            None => format!("until {}; it had not stopped cleanly", self.started),
        };
        self.missed_cause = Some(format!("the daemon was not running ({when})"));
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
        // Taken before the file is read: a change after it is one more event.
        let read = Fingerprint::of(&path);
        if why == "change" && read.is_some() && read == self.read {
            debug!("{} is as it was last read; nothing to load", path.display());
            return;
        }
        self.read = read;
        // Only the planner's few fields of each task are kept (`Spec`);
        // the rest is the supervisors' to read from the snapshots.
        let mut specs = Vec::new();
        let mut follow_missed = BTreeSet::new();
        let text = match read_task_file(&path) {
            Ok(text) => text,
            Err(e) => return self.refuse(&e, why),
        };
        let file = match taskfile::load::parse_each(&text, &path, &mut |task| {
            if crate::runner::notify::wants_missed(&task) {
                follow_missed.insert(task.name.clone());
            }
            specs.push(Spec::of(&task));
        }) {
            Ok(file) => file,
            Err(e) => return self.refuse(&e, why),
        };
        // Each step of a load runs code of its own (the parser, the
        // snapshots' writing, the planner): what one used is given back
        // before the next, so that the load's peak is its largest step,
        // not their sum.
        trim::give_back();
        self.snapshot(&text);
        drop(text);
        trim::give_back();
        let now = Timestamp::now();
        let count = specs.len();
        self.record_pauses(&specs, now);
        self.metrics_file = file.defaults.metrics_file.clone();
        if file.cluster.is_none() {
            crate::cluster::reach::clear(&self.paths);
        }
        self.follow_missed = follow_missed;
        self.planner
            .load(specs, file.max_parallel, &mut self.state, now);
        self.check_cluster(file.cluster.as_ref());
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
                let boot = Boot {
                    id,
                    file_predates_it: unchanged_since_boot(&path),
                };
                let rng = &mut self.rng;
                let queued = self
                    .planner
                    .reboot(&boot, &mut self.state, now, &mut |d| rng.below(d));
                if queued > 0 {
                    info!("new boot: {queued} @reboot task(s) to run");
                }
            }
            Err(e) => warning!("reading the boot id (for @reboot tasks): {e}"),
        }
        self.trim_pending = true;
    }

    /// Keeps the tasks loaded before, and says why.
    fn refuse(&mut self, e: &LoadError, why: &str) {
        let (tasks, _) = self.planner.counts();
        let message = render_load_error(e);
        warning!(
            "not loading {} ({why}): {}; still running the {tasks} task(s) loaded before",
            self.paths.task_file.display(),
            message.replace('\n', "; ")
        );
        self.load_error = Some(message);
    }

    /// Has a short-lived `kron __cluster-check` log what the backend's
    /// settings risk, once per `[cluster]` table: the daemon itself never
    /// connects to a backend.
    fn check_cluster(&mut self, cluster: Option<&crate::taskfile::Cluster>) {
        if cluster == self.cluster_checked.as_ref() {
            return;
        }
        self.cluster_checked = cluster.cloned();
        if cluster.is_some()
            && let Err(e) = crate::runner::check::start(&self.paths.task_file)
        {
            warning!("{e}");
        }
    }

    /// Makes the runtime directory again after it was removed under this
    /// daemon, with its lock, socket and snapshots, so that clients find
    /// it and no second daemon starts (the state directory's lock, still
    /// held, keeps one out meanwhile).
    fn restore_runtime(
        &mut self,
        lock: &mut control::DaemonLock,
        server: &mut Server,
        watch: &mut Watch,
    ) {
        let dir = &self.paths.runtime_dir;
        warning!(
            "the runtime directory {} was removed; making it again",
            dir.display()
        );
        let restored = (|| {
            lock.renew_runtime(&self.paths)?;
            *server = Server::bind(&self.paths.socket_path())?;
            watch
                .watch_runtime(dir)
                .map_err(sys("watching the runtime directory"))?;
            Ok::<(), DaemonError>(())
        })();
        match restored {
            Ok(()) => info!("made {} again: lock, socket", dir.display()),
            Err(e) => error!("making {} again: {e}", dir.display()),
        }
        if self.snapshots_ok
            && let Err(e) = self.snapshots.rewrite()
        {
            warning!("writing the task snapshots again: {e}; supervisors will read the task file");
            self.snapshots_ok = false;
        }
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
        let cause = self
            .missed_cause
            .take()
            .unwrap_or_else(|| "the daemon woke late".into());
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
            if let Some(stretch) = m.not_run {
                self.record_missed(&m, stretch, &cause, now);
            }
        }
        let supervisors = &self.supervisors;
        let busy = |task: &str| supervisors.busy(task);
        let mut late = Vec::new();
        let fires = self.planner.ready(now, self.running(), &busy, &mut late);
        for l in late {
            let at = l.run.scheduled.expect("only runs for an instant expire");
            let stretch = Stretch {
                count: 1,
                more: false,
                first: at,
                last: at,
            };
            let reason = format!(
                "missed 1 instant(s) from {at} to {at}: it waited to start until {now}, past \
                 max_lateness = {}",
                crate::units::format_duration(l.max_lateness)
            );
            self.state_dirty |= self.state.handled(&l.run.task, at);
            self.write_missed(&l.run.task, stretch, reason, now, true);
        }
        // The instants are handled, and that is on disk, before any of
        // their runs can start: a daemon killed in between (a window of a
        // few microseconds) loses those runs rather than running an instant
        // twice after a restart, when the old mark would be caught up.
        for fire in &fires {
            if let Some(at) = fire.run.scheduled {
                self.state_dirty |= self.state.handled(&fire.run.task, at);
            }
        }
        // Only the rename must come before the start: the fsync of the
        // directory, which takes milliseconds on a disk, follows it, so
        // that a kill between the two loses no run (measured:
        // benches/faults.sh).
        let dir_sync = self.state_dirty && !fires.is_empty();
        if dir_sync {
            match self.state.replace(&self.paths.state_file()) {
                Ok(()) => self.state_dirty = false,
                Err(e) => error!("saving the daemon's memory: {e}"),
            }
        } else {
            self.save_state();
        }
        for batch in fires.chunks(RUNS_PER_SUPERVISOR) {
            self.start(batch);
        }
        if dir_sync && let Err(e) = crate::taskfile::install::sync_dir(&self.paths.state_file()) {
            error!("saving the daemon's memory: {e}");
        }
        self.follow_missed();
    }

    /// Remembers since when each paused task is paused, and records the
    /// instants of a pause that ended (the task is resumed, or was while
    /// no daemon ran) as one `missed` record. A pause is dated from the
    /// first load that saw it: `kron pause` reloads a running daemon at
    /// once. Its hook and mail do not follow: the pause was the user's.
    fn record_pauses(&mut self, specs: &[Spec], now: Timestamp) {
        let known: BTreeSet<&str> = specs.iter().map(|s| &*s.name).collect();
        let before = self.state.paused.len();
        self.state
            .paused
            .retain(|name, _| known.contains(name.as_str()));
        self.state_dirty |= self.state.paused.len() != before;
        for spec in specs {
            if spec.paused {
                if !self.state.paused.contains_key(&*spec.name) {
                    self.state.paused.insert(spec.name.to_string(), now);
                    self.state_dirty = true;
                }
                continue;
            }
            let Some(since) = self.state.paused.remove(&*spec.name) else {
                continue;
            };
            self.state_dirty = true;
            let until = now
                .checked_add(jiff::SignedDuration::from_nanos(1))
                .unwrap_or(now);
            let (count, more, last) = plan::count_between(&spec.schedule, since, until);
            let (Some(first), Some(last)) = (spec.schedule.next_after(since), last) else {
                continue;
            };
            let stretch = Stretch {
                count,
                more,
                first,
                last,
            };
            let reason = format!(
                "missed {}{count} instant(s) from {first} to {last}: the task was paused (from \
                 {since} to {now})",
                if more { "over " } else { "" }
            );
            info!("{}: resumed; {reason}", spec.name);
            self.write_missed(&spec.name, stretch, reason, now, false);
        }
    }

    /// Records the instants of `m` that do not run, as one `missed` record
    /// (and in the metrics). The daemon writes it itself: nothing runs.
    fn record_missed(&mut self, m: &plan::Missed, stretch: Stretch, cause: &str, now: Timestamp) {
        let policy = match m.policy {
            CatchUp::Skip => "catch_up = \"skip\" runs none of them".to_string(),
            CatchUp::Once => "catch_up = \"once\" ran only the latest".to_string(),
            CatchUp::All => format!(
                "catch_up = \"all\" ran only the latest {}",
                plan::CATCH_UP_ALL_LIMIT
            ),
        };
        let count = if stretch.more {
            format!("over {}", stretch.count)
        } else {
            stretch.count.to_string()
        };
        let late = if m.too_late {
            "; max_lateness let the others go"
        } else {
            ""
        };
        // What this host missed, another host of the cluster may have run:
        // the record says so, and no host's hook or mail follows it.
        let elsewhere = m.coordinated;
        let note = if elsewhere {
            "; this host's view only: another host of the cluster may have run them \
             (kron history --cluster)"
        } else {
            ""
        };
        let reason = format!(
            "missed {count} instant(s) from {} to {}: {cause}; {policy}{late}{note}",
            stretch.first, stretch.last
        );
        self.write_missed(&m.task, stretch, reason, now, !elsewhere);
    }

    /// Writes a `missed` record of `task` for `stretch` (and counts it in
    /// the metrics); with `follow`, its hook and mail follow at the end of
    /// the turn.
    fn write_missed(
        &mut self,
        task: &str,
        stretch: Stretch,
        reason: String,
        now: Timestamp,
        follow: bool,
    ) {
        let record = Record::missed(
            crate::runner::new_run_id(),
            task,
            Trigger::Schedule,
            stretch,
            reason,
            now,
        );
        if let Err(e) = history::record(&self.paths, &record, None) {
            warning!("{task}: recording missed instants: {e}");
        }
        if let Some(textfile) = &self.metrics_file
            && let Err(e) = crate::metrics::update(&self.paths, textfile, &record)
        {
            warning!("{task}: metrics: {e}");
        }
        if follow && self.follow_missed.contains(task) {
            self.to_follow.push(record);
        }
    }

    /// Starts `kron __missed` for the records written in this turn whose
    /// tasks follow them with a hook or a mail: the daemon runs no command.
    fn follow_missed(&mut self) {
        if self.to_follow.is_empty() {
            return;
        }
        let records = std::mem::take(&mut self.to_follow);
        for problem in crate::runner::missed::start(&self.paths, self.snapshots_ok, &records) {
            error!("{problem}");
        }
    }

    /// An earlier daemon killed after it marked an instant and before it
    /// started its run leaves the mark and nothing else. On start, each
    /// task's latest mark must have a trace: a record (any outcome, a
    /// `missed` stretch included), a registered run, a record kept for a
    /// full disk, or a live supervisor asked for it. Without one, its run
    /// never started, and it is started now (trigger `catch-up`).
    fn start_unstarted(&mut self) {
        let now = Timestamp::now();
        let registered: Vec<_> = crate::runner::running(&self.paths)
            .into_iter()
            .chain(crate::runner::recover::orphans(&self.paths))
            .collect();
        let asked: Vec<Launch> = crate::procfs::kron_command_lines()
            .into_iter()
            .filter_map(|args| {
                let at = args.iter().position(|a| a == "__supervise")?;
                let runs: Vec<String> = args[at..]
                    .windows(2)
                    .filter(|w| w[0] == "--run")
                    .map(|w| w[1].clone())
                    .collect();
                Launch::parse(&runs, false, false).ok()
            })
            .collect();
        for (task, mark, instant) in self.planner.marks() {
            // Only a recent mark that is one of the task's instants can be a
            // run that was about to start: a task seen for the first time,
            // resumed or rescheduled is marked at the moment of its load.
            let recent = now.duration_since(mark) <= jiff::SignedDuration::from_secs(600);
            if !instant || !recent || self.state.last.get(&task) != Some(&mark) {
                continue;
            }
            // Only the newest records, through the index: a start with a
            // thousand such tasks must not read a thousand whole files.
            let recent = history::query::Filter {
                since: mark.checked_sub(jiff::SignedDuration::from_secs(60)).ok(),
                ..Default::default()
            };
            let (records, _) = history::query::newest(
                &self.paths.history_dir(),
                std::slice::from_ref(&task),
                &recent,
                200,
            )
            .unwrap_or_default();
            let traced = records.iter().any(|r| {
                r.scheduled == Some(mark)
                    || r.missed.is_some_and(|m| m.first <= mark && mark <= m.last)
            }) || registered
                .iter()
                .any(|r| r.task == task && r.scheduled == Some(mark))
                || history::kept(&self.paths, &task, mark)
                || asked
                    .iter()
                    .flat_map(|l| &l.runs)
                    .any(|r| r.task == task && r.scheduled == Some(mark));
            if !traced {
                warning!(
                    "{task}: the run for {mark} was marked but never started (the daemon \
                     before this one died starting it); starting it now"
                );
                self.planner.run_unstarted(&task, mark, now);
            }
        }
    }

    /// Runs started and not reported ended.
    pub(crate) fn running(&self) -> usize {
        self.supervisors.runs()
    }

    /// Starts a supervisor for `fires`, whose instants are marked handled.
    /// Runs it cannot start are recorded as failures.
    fn start(&mut self, fires: &[Fire]) {
        if self.snapshots_ok {
            for fire in fires {
                match self.snapshots.ensure(&fire.run.task) {
                    Ok(true) => warning!(
                        "{}: its snapshot {} was gone; wrote it again",
                        fire.run.task,
                        self.paths.snapshot(&fire.run.task).display()
                    ),
                    Ok(false) => {}
                    Err(e) => error!("{}: writing its snapshot: {e}", fire.run.task),
                }
            }
        }
        let launch = Launch {
            runs: fires.iter().map(|f| f.run.clone()).collect(),
            snapshots: self.snapshots_ok,
            watch: false,
        };
        let describe = |fire: &Fire| {
            let run = &fire.run;
            let scheduled = run
                .scheduled
                .map_or_else(String::new, |t| format!(" for {t}"));
            format!("{} ({}{scheduled})", run.task, run.trigger.as_str())
        };
        let runs = fires.iter().map(describe).collect::<Vec<_>>().join(", ");
        match self.supervisors.start(&launch, &self.paths.task_file) {
            Ok(pid) => info!("started {runs}: supervisor pid {pid}"),
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
    }
}

/// The task file's text; a missing file is an empty one.
fn read_task_file(path: &Path) -> Result<String, LoadError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            dirs::check_task_file(path)?;
            taskfile::decode(&bytes, path)?;
            Ok(String::from_utf8(bytes).expect("decode checked it is UTF-8"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(LoadError::Read {
            path: path.into(),
            source,
        }),
    }
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

/// Whether the file at `path` has not changed (its inode's ctime, which no
/// copy or `touch` can set back) since this boot began (`btime` in
/// `/proc/stat`); false when either cannot be read.
fn unchanged_since_boot(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|stat| {
        stat.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|s| s.trim().parse::<i64>().ok())
    });
    btime.is_some_and(|boot| meta.ctime() < boot)
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
