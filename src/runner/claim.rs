//! A cluster task's run on this host: the claim of its occurrence, the
//! lease kept while it runs, the cluster-wide lock its `overlap` asks
//! for, and, on a host that lost the claim, the watch of the holder.
//! The backend's interface is `cluster`; this is the supervisor's side,
//! so the daemon never connects to a backend (its idle costs stay
//! nothing).
//!
//! - **Claim.** Scheduled and catch-up runs of a task with `cluster =
//!   "once"` or `"retry"` claim their occurrence before anything else. A
//!   backend that cannot be reached, or whose clock is further than
//!   `max_skew` from ours, gets no claim (fail closed): under `catch_up =
//!   "skip"` the run is recorded missed at once; otherwise the claim is
//!   tried again until the task's next instant (or `max_lateness`), which
//!   is catch-up once the backend is back. The run's cluster lock is
//!   taken with the claim (`Backend::claim_locked`). A run started before
//!   its instant (the daemon's `CLAIM_LEAD`) connects and compares the
//!   clocks first, then waits for the instant to claim.
//! - **Lease.** A thread renews the claim (and the run's lock) three
//!   times per lease, and three times within the budget below. Another
//!   thread watches the time since the last renewal that succeeded, on
//!   `CLOCK_BOOTTIME` (which counts a suspended machine's sleep and a
//!   stopped process's pause): once
//!   `lease − kill_grace − 1 s` has passed, the run is asked to stop, so
//!   its command is gone (SIGTERM, SIGKILL after `kill_grace`) before the
//!   lease can end on the backend's clock and another host take over. A
//!   renewal that finds the occurrence held by someone else stops the run
//!   at once.
//! - **Losers** record nothing. A supervisor of several runs hands its
//!   lost runs to a watcher (`kron __supervise --watch`), and one of a
//!   single run becomes that run's watcher; either tells the daemon the
//!   run ended. The watcher sleeps until the holder's lease would
//!   end, looks, and once it has ended without the occurrence finishing,
//!   records it `abandoned` (`once`: on_failure and mail follow) or takes
//!   it over with a new token and runs it from attempt 1 (`retry`).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use jiff::Timestamp;

use super::signals::{self, Signals};
use super::spawn::ClusterInfo;
use super::{Request, backoff, running};
use crate::cluster::pool::{self, Pool};
use crate::cluster::{
    self, Claim, Claimant, ClusterError, Finish, Holder, LockClaim, NodeSeen, Occurrence, Renewal,
    Takeover,
};
use crate::history::{Record, Trigger};
use crate::logging::{info, warning};
use crate::taskfile::{CatchUp, Cluster, ClusterMode, Overlap};
use crate::units::format_duration;

/// How often a claim that found the backend unreachable is tried again,
/// at most.
const CLAIM_RETRY_MAX: Duration = Duration::from_secs(10);
/// How often a run waiting for a cluster-wide lock looks again.
const LOCK_POLL: Duration = Duration::from_secs(1);
/// Margin kept between stopping a command and the end of its lease.
const SAFETY: Duration = Duration::from_secs(1);

/// What claiming came to.
pub(super) enum Begun {
    /// Not coordinated: a `local` task, a manual run, no `[cluster]`.
    Local,
    /// This run holds the occurrence; the lease lives as long as this.
    Mine(Lease),
    /// Another run holds the occurrence, or ran it: nothing is recorded.
    Elsewhere(Holder),
    /// Nothing was claimed: the run is recorded missed, for this reason.
    NotClaimed(String),
}

/// The occurrence `req` is a claim on, if it is coordinated.
fn occurrence<'a>(req: &Request<'a>) -> Option<(&'a Cluster, Occurrence)> {
    let cluster = req.cluster?;
    let coordinated = req.task.settings.cluster != ClusterMode::Local
        && matches!(req.run.trigger, Trigger::Schedule | Trigger::CatchUp);
    let instant = req.run.scheduled.filter(|_| coordinated)?;
    Some((
        cluster,
        Occurrence {
            task: req.task.name.clone(),
            instant,
        },
    ))
}

fn claimant(req: &Request, cluster: &Cluster) -> Claimant {
    Claimant {
        node: cluster.node.clone(),
        run_id: req.run_id().to_string(),
        digest: cluster::digest(req.task),
        lease: cluster.lease,
        history: req.task.settings.history,
    }
}

/// Claims `req`'s occurrence, trying again while the backend is
/// unreachable and the catch-up policy lets the run wait.
pub(super) fn begin(req: &Request, signals: &mut Signals) -> Begun {
    let Some((cluster, occ)) = occurrence(req) else {
        return Begun::Local;
    };
    let who = claimant(req, cluster);
    let settings = &req.task.settings;
    // The cluster lock `overlap` asks for is taken with the claim.
    let lock = (settings.overlap != Overlap::Allow).then_some(settings.lock.as_str());
    // Until when a claim may still be tried: catch-up reaches no further
    // than the task's next instant (or its max_lateness).
    let until = match settings.catch_up {
        CatchUp::Skip => occ.instant,
        CatchUp::Once | CatchUp::All => {
            let next = req.task.schedule.next_after(occ.instant);
            let late = settings
                .max_lateness
                .and_then(|d| occ.instant.checked_add(d).ok());
            [next, late]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(occ.instant)
        }
    };
    let pool = pool::for_cluster(cluster);
    let mut clocks_agree = false;
    if req.run.trigger == Trigger::Schedule && occ.instant > Timestamp::now() {
        // Started before the instant (the daemon's `CLAIM_LEAD`): the
        // connection and the clocks' check are done while it waits.
        clocks_agree = matches!(
            pool.with(|b| cluster::clock_skew(b, cluster.max_skew)),
            Ok(None)
        );
        if wait_for(occ.instant, signals).is_some() {
            return Begun::NotClaimed("not claimed: stopped before its instant".into());
        }
    }
    let mut wait = Duration::from_secs(1);
    let mut warned = false;
    loop {
        let agree = std::mem::take(&mut clocks_agree);
        let tried = match try_claim(&pool, cluster, &occ, &who, lock, agree) {
            // Not an unreachable backend: trying again cannot help.
            Err(NoClaim { reason, last: true }) => {
                return Begun::NotClaimed(format!("not claimed: {reason}"));
            }
            tried => tried.map_err(|e| e.reason),
        };
        match &tried {
            Ok(_) => cluster::reach::clear(req.paths),
            Err(reason) => {
                cluster::reach::failed(req.paths, reason);
                if !warned {
                    warning!(
                        "{}: cluster tasks do not run on this host while its claims fail: \
                         {reason}",
                        occ.task
                    );
                    warned = true;
                }
            }
        }
        match tried {
            Ok((Claim::Won { token }, locked)) => {
                return Begun::Mine(Lease::start(req, cluster, occ, who, token, locked));
            }
            Ok((Claim::Lost(holder), _)) => {
                if holder.digest != who.digest {
                    warning!(
                        "{}: this host's definition of the task (digest {}) differs from \
                         {}'s (digest {}); `kron cluster status` lists such tasks",
                        occ.task,
                        who.digest,
                        holder.node,
                        holder.digest
                    );
                }
                return Begun::Elsewhere(holder);
            }
            Err(reason) => {
                let now = Timestamp::now();
                if now >= until {
                    return Begun::NotClaimed(format!("not claimed: {reason}"));
                }
                let left = until.duration_since(now).unsigned_abs();
                if backoff(signals, wait.min(left)).is_some() {
                    return Begun::NotClaimed(format!(
                        "not claimed: stopped while the claim waited: {reason}"
                    ));
                }
                wait = (wait * 2).min(CLAIM_RETRY_MAX);
            }
        }
    }
}

/// Why a claim got nothing.
struct NoClaim {
    reason: String,
    /// The ledger forgot the occurrence: no later try can claim it.
    last: bool,
}

/// One claim: compare clocks (unless `clocks_agree`, just found), insert,
/// and take the cluster lock `lock` with it; the `bool` says whether the
/// lock is held.
fn try_claim(
    pool: &Pool,
    cluster: &Cluster,
    occ: &Occurrence,
    who: &Claimant,
    lock: Option<&str>,
    clocks_agree: bool,
) -> Result<(Claim, bool), NoClaim> {
    let claimed = pool.with(|backend| {
        let skew = match clocks_agree {
            true => None,
            false => cluster::clock_skew(backend, cluster.max_skew)?,
        };
        Ok(match (skew, lock) {
            (Some(offset), _) => Err(cluster::skew_message(offset, cluster.max_skew)),
            (None, Some(lock)) => Ok(backend.claim_locked(occ, who, lock)?),
            (None, None) => Ok((backend.claim(occ, who)?, false)),
        })
    });
    let refused = |reason: String| NoClaim {
        reason,
        last: false,
    };
    match claimed {
        Ok(result) => result.map_err(refused),
        Err(e @ ClusterError::Forgotten(_)) => Err(NoClaim {
            reason: e.to_string(),
            last: true,
        }),
        Err(e) => Err(refused(e.to_string())),
    }
}

/// What a supervisor tells the backend of its host and of the
/// definitions of its cluster tasks (`kron cluster status`), gathered
/// from its runs; `None` when none is coordinated.
pub struct Announcement {
    cluster: Cluster,
    node: NodeSeen,
    definitions: std::collections::BTreeMap<String, String>,
}

impl Announcement {
    pub fn of(reqs: &[Request]) -> Option<Announcement> {
        let coordinated: Vec<(&Request, &Cluster)> = reqs
            .iter()
            .filter_map(|req| Some((req, occurrence(req)?.0)))
            .collect();
        let (first, cluster) = coordinated.first()?;
        Some(Announcement {
            cluster: (*cluster).clone(),
            node: NodeSeen {
                node: cluster.node.clone(),
                version: env!("CARGO_PKG_VERSION").into(),
                file_digest: std::fs::read(&first.paths.task_file)
                    .map(|t| cluster::file_digest(&t))
                    .unwrap_or_default(),
                tzdata: cluster::tzdata_version(),
            },
            definitions: coordinated
                .iter()
                .map(|(req, _)| (req.task.name.clone(), cluster::digest(req.task)))
                .collect(),
        })
    }

    /// Writes it: one exchange, beside the runs (a failure only leaves
    /// `kron cluster status` a little behind).
    pub fn send(&self) {
        let definitions: Vec<(&str, &str)> = self
            .definitions
            .iter()
            .map(|(task, digest)| (task.as_str(), digest.as_str()))
            .collect();
        let pool = pool::for_cluster(&self.cluster);
        let _ = pool.with(|b| b.seen(&self.node, &definitions));
    }
}

/// Waits until `instant` on the wall clock, to the microsecond rather than
/// to the millisecond of a signal-aware wait; `Some` if stopped first.
fn wait_for(instant: Timestamp, signals: &mut Signals) -> Option<super::Stop> {
    let left = |margin: Duration| {
        let ahead = instant.duration_since(Timestamp::now());
        Duration::try_from(ahead)
            .unwrap_or(Duration::ZERO)
            .saturating_sub(margin)
            .min(Duration::from_secs(60))
    };
    let stop = backoff(signals, left(Duration::from_millis(2)));
    if stop.is_none() && instant > Timestamp::now() {
        std::thread::sleep(left(Duration::ZERO));
    }
    stop
}

/// What the lease's threads share with the run.
struct Shared {
    state: Mutex<LeaseState>,
    changed: Condvar,
}

struct LeaseState {
    /// When (`CLOCK_BOOTTIME`) the last renewal that succeeded was sent.
    renewed: Duration,
    /// Why the run must stop, once it must.
    lost: Option<String>,
    last_error: Option<String>,
    /// The run ended: the threads stop.
    done: bool,
}

/// This run's hold on its occurrence, renewed while it lives.
pub(super) struct Lease {
    occurrence: Occurrence,
    token: i64,
    who: Claimant,
    pool: Arc<Pool>,
    shared: Arc<Shared>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// The run's cluster lock was taken with the claim.
    pub(super) locked: bool,
}

fn boottime() -> Duration {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map_or(Duration::ZERO, Duration::from)
}

impl Lease {
    /// `locked`: the run's cluster lock came with the claim.
    fn start(
        req: &Request,
        cluster: &Cluster,
        occurrence: Occurrence,
        who: Claimant,
        token: i64,
        locked: bool,
    ) -> Lease {
        let shared = Arc::new(Shared {
            // The claim was sent before this; a little early is safe.
            state: Mutex::new(LeaseState {
                renewed: boottime(),
                lost: None,
                last_error: None,
                done: false,
            }),
            changed: Condvar::new(),
        });
        let pool = pool::for_cluster(cluster);
        let stop = Stopper {
            request: running::request_path(&req.paths.running_dir(), req.run_id()),
            pid: std::process::id() as i32,
        };
        let budget = cluster
            .lease
            .saturating_sub(req.task.settings.kill_grace + SAFETY);
        let keeper = {
            let (shared, pool) = (shared.clone(), pool.clone());
            let (occ, lease) = (occurrence.clone(), cluster.lease);
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("lease".into())
                .spawn(move || keep(&shared, &pool, &occ, token, lease, budget, &stop))
        };
        let enforcer = {
            let shared = shared.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("lease-deadline".into())
                .spawn(move || enforce(&shared, budget, &stop))
        };
        let threads = [keeper, enforcer].into_iter().flatten().collect();
        Lease {
            occurrence,
            token,
            who,
            pool,
            shared,
            threads,
            locked,
        }
    }

    /// What the command learns of the claim.
    pub(super) fn info(&self) -> ClusterInfo {
        ClusterInfo {
            node: self.who.node.clone(),
            occurrence: self.occurrence.to_string(),
            token: self.token,
        }
    }

    /// Why the run had to stop, if it had to.
    pub(super) fn lost(&self) -> Option<String> {
        self.shared.state.lock().ok()?.lost.clone()
    }

    /// Takes the cluster-wide lock `name`: [`LockOutcome::Busy`] (with who
    /// holds it) when another run does, unless `wait` (queue, replace),
    /// which waits for it; `replace` first asks its holder to stop.
    pub(super) fn lock(
        &self,
        name: &str,
        replace: bool,
        wait: bool,
        signals: &mut Signals,
    ) -> Result<LockOutcome, ClusterError> {
        let mut asked = false;
        loop {
            let claim = self
                .pool
                .with(|b| b.lock(name, &self.occurrence, &self.who, self.token))?;
            let holder = match claim {
                LockClaim::Held => return Ok(LockOutcome::Held),
                LockClaim::Busy(holder) => holder,
            };
            let busy = format!(
                "run {} of `{}` (for {}) on {} holds cluster lock `{name}`",
                holder.run_id, holder.occurrence.task, holder.occurrence.instant, holder.node
            );
            if !wait {
                return Ok(LockOutcome::Busy(busy));
            }
            if replace && !asked {
                self.pool.with(|b| b.request_stop(name))?;
                info!("{}: asked {busy} to stop", self.occurrence);
                asked = true;
            }
            if backoff(signals, LOCK_POLL).is_some() {
                return Ok(LockOutcome::Interrupted);
            }
        }
    }

    /// Writes the run's outcome to its occurrence and frees its lock;
    /// returns a warning when that failed.
    pub(super) fn finish(mut self, record: &Record) -> Option<String> {
        self.stop_threads();
        let finish = Finish {
            outcome: record.outcome,
            attempts: record.attempts,
            exit_code: record.exit_code,
            reason: record.reason.clone(),
            history: self.who.history,
        };
        // A backend that is away for a moment still gets the outcome.
        let mut last = String::new();
        for attempt in 0..5 {
            if attempt > 0 {
                std::thread::sleep(Duration::from_secs(1));
            }
            match self
                .pool
                .with(|b| b.finish(&self.occurrence, self.token, &finish))
            {
                Ok(true) => return None,
                Ok(false) => {
                    return Some(format!(
                        "{}: another host took the occurrence over before this run ended \
                         (token {} is stale)",
                        self.occurrence, self.token
                    ));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Some(format!(
            "{}: the outcome was not written to the cluster: {last}",
            self.occurrence
        ))
    }

    fn stop_threads(&mut self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.done = true;
        }
        self.shared.changed.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Lease {
    /// A lease dropped without `finish` (a run handed to a supervisor of
    /// its own) stops renewing; the new supervisor claims again with the
    /// same run id and carries on with the same token.
    fn drop(&mut self) {
        self.stop_threads();
    }
}

pub(super) enum LockOutcome {
    Held,
    Busy(String),
    Interrupted,
}

/// Asks the run to stop through its request file, as `kron kill` does.
#[derive(Clone)]
struct Stopper {
    request: std::path::PathBuf,
    /// The supervisor's (this process's) pid.
    pid: i32,
}

impl Stopper {
    fn stop(&self, request: signals::Request) {
        let _ = signals::send_request(&self.request, self.pid, request);
    }
}

/// The renewing thread.
fn keep(
    shared: &Shared,
    pool: &Pool,
    occ: &Occurrence,
    token: i64,
    lease: Duration,
    budget: Duration,
    stop: &Stopper,
) {
    // Three renewals per lease, and three within the budget: a renewal
    // sent as the budget runs out would race the enforcer, which cannot
    // wait for its answer (with a 3s lease and a 1s kill_grace the budget
    // is a third of the lease).
    let every = (lease / 3).min(budget / 3).max(Duration::from_millis(100));
    let mut wait = every;
    let mut replace_asked = false;
    loop {
        {
            let state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            let (state, _) = shared
                .changed
                .wait_timeout_while(state, wait, |s| !s.done)
                .unwrap_or_else(|e| e.into_inner());
            if state.done || state.lost.is_some() {
                return;
            }
        }
        let sent = boottime();
        let result = pool.with(|b| b.renew(occ, token, lease));
        let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(Renewal::Held { stop: asked }) => {
                state.renewed = sent;
                state.last_error = None;
                wait = every;
                if asked && !replace_asked {
                    replace_asked = true;
                    drop(state);
                    stop.stop(signals::Request::Replace);
                }
            }
            Ok(Renewal::Lost) => {
                state.lost = Some(format!(
                    "another host took {occ} over after this host's lease ended (token {token} \
                     is stale); its command was stopped"
                ));
                drop(state);
                stop.stop(signals::Request::Lease);
                return;
            }
            Err(e) => {
                state.last_error = Some(e.to_string());
                drop(state);
                wait = Duration::from_secs(1).min(every);
            }
        }
    }
}

/// The thread that stops the run before its lease can end unrenewed.
fn enforce(shared: &Shared, budget: Duration, stop: &Stopper) {
    let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if state.done || state.lost.is_some() {
            return;
        }
        let since = boottime().saturating_sub(state.renewed);
        if since >= budget {
            let error = state
                .last_error
                .clone()
                .unwrap_or_else(|| "no answer".into());
            state.lost = Some(format!(
                "its cluster lease could not be renewed for {} ({error}); its command was \
                 stopped before the lease could end",
                format_duration(Duration::from_secs(since.as_secs()))
            ));
            drop(state);
            stop.stop(signals::Request::Lease);
            return;
        }
        // Short naps: a suspended machine wakes late from a long one.
        let nap = (budget - since).min(Duration::from_secs(1));
        state = shared
            .changed
            .wait_timeout(state, nap)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// What watching a holder came to.
pub(super) enum Watched {
    /// The occurrence ended, by its holder or another watcher.
    Ended,
    /// (`retry`) This run took it over.
    Mine(Lease),
    /// (`once`) This run marked it abandoned: record it so.
    Abandoned(Holder),
    /// Stopped while watching, or the backend stayed away too long.
    GaveUp(String),
}

/// Watches `holder` of `req`'s occurrence until the occurrence ends, or
/// its lease ends without it.
pub(super) fn watch(req: &Request, mut holder: Holder, signals: &mut Signals) -> Watched {
    let Some((cluster, occ)) = occurrence(req) else {
        return Watched::Ended;
    };
    let who = claimant(req, cluster);
    let retry = req.task.settings.cluster == ClusterMode::Retry;
    // The backend may be away for this long before the watch ends.
    let patience = cluster.lease * 10;
    let pool = pool::for_cluster(cluster);
    let mut away_since: Option<std::time::Instant> = None;
    loop {
        let Some(left) = holder.lease_left.filter(|_| holder.state == "running") else {
            return Watched::Ended;
        };
        // Wake just after the lease would end, by the backend's clock.
        if backoff(signals, left + Duration::from_millis(250)).is_some() {
            return Watched::GaveUp("stopped while watching".into());
        }
        let result = (|| -> Result<Option<Watched>, ClusterError> {
            let now = pool
                .with(|b| b.holder(&occ))?
                .ok_or_else(|| ClusterError::Backend(format!("{occ}: its row is gone")))?;
            if now.state != "running" {
                return Ok(Some(Watched::Ended));
            }
            if now.lease_left.is_some_and(|l| !l.is_zero()) {
                holder = now;
                return Ok(None);
            }
            Ok(match pool.with(|b| b.take_over(&occ, &who, retry))? {
                Takeover::Won { token, previous } => {
                    info!(
                        "{occ}: took over from {} (token {}), whose lease ended; token {token}",
                        previous.node, previous.token
                    );
                    Some(Watched::Mine(Lease::start(
                        req,
                        cluster,
                        occ.clone(),
                        who.clone(),
                        token,
                        false,
                    )))
                }
                Takeover::Abandoned { holder } => Some(Watched::Abandoned(holder)),
                Takeover::Unchanged(now) => {
                    holder = now;
                    None
                }
            })
        })();
        match result {
            Ok(Some(watched)) => return watched,
            Ok(None) => away_since = None,
            Err(e) => {
                let since = *away_since.get_or_insert_with(std::time::Instant::now);
                if since.elapsed() > patience {
                    return Watched::GaveUp(format!("stopped watching {occ}: {e}"));
                }
                holder.lease_left = Some(Duration::from_secs(1));
            }
        }
    }
}

/// The reason an abandoned occurrence's record gives.
pub(super) fn abandoned_reason(holder: &Holder) -> String {
    format!(
        "its holder, {} (run {}, token {}), stopped renewing its lease before the run ended; \
         nobody ran it to its end (cluster = \"once\")",
        holder.node, holder.run_id, holder.token
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_thread_stops_a_run_whose_lease_is_not_renewed() {
        let shared = Shared {
            state: Mutex::new(LeaseState {
                renewed: boottime(),
                lost: None,
                last_error: Some("connection refused".into()),
                done: false,
            }),
            changed: Condvar::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        // Who is told to look at the request: a child, as SIGUSR1 would
        // end this test process.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let stop = Stopper {
            request: dir.path().join("x.request"),
            pid: child.id() as i32,
        };
        enforce(&shared, Duration::from_millis(200), &stop);
        let _ = child.kill();
        let _ = child.wait();
        let lost = shared.state.lock().unwrap().lost.clone().unwrap();
        assert!(lost.contains("could not be renewed"), "{lost}");
        assert!(lost.contains("connection refused"), "{lost}");
        let request = std::fs::read_to_string(dir.path().join("x.request")).unwrap();
        assert_eq!(request.trim(), "lease");
    }
}
