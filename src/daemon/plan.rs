//! When each task runs next: the due queue, catch-up, jitter,
//! `max_parallel` and `@reboot`, as pure code over explicit instants (the
//! caller passes `now` and a random source), so that every rule is
//! unit-tested without clocks or processes.
//!
//! The rules:
//!
//! - Each task has a *handled mark*: the last scheduled instant the daemon
//!   dealt with (ran, or decided not to run). Its next instant is the first
//!   one after the mark. The persisted copy is `State::last`.
//! - A task the daemon has never seen starts from now: its past is not
//!   caught up. So does a task whose schedule changed, and a task that is
//!   resumed after a pause (paused tasks have no mark).
//! - When the daemon wakes for a due instant, the latest due instant runs
//!   with trigger `schedule` if it is at most [`LATE_TOLERANCE`] old. Older
//!   ones (after downtime, suspend, a forward clock jump, or a wake-up late
//!   by several instants) are *missed* and handled by the task's
//!   `catch_up`: `skip` runs none of them, `once` runs one (trigger
//!   `catch-up`, for the latest missed instant; nothing extra when an
//!   on-time run is starting anyway), `all` runs each of the latest
//!   [`CATCH_UP_ALL_LIMIT`]. On start and after a clock jump there is no
//!   tolerance: every past instant is missed.
//! - A run starts at its instant plus a random delay in `[0, jitter]`
//!   (catch-up runs: now plus that delay).
//! - A cluster task's on-time run (coordinated, no jitter) has its
//!   supervisor started [`CLAIM_LEAD`] before its instant: it connects to
//!   the backend and checks the clocks, then waits for the instant to
//!   claim, so that a connection is not on the path to the command.
//! - Runs ready to start wait in order (by start time) while `max_parallel`
//!   supervisors run.
//! - `@reboot` tasks run once per boot id, at the daemon's first load in
//!   that boot, and only those that were there before the boot: a task the
//!   daemon's memory knew from an earlier boot, or any task of a file not
//!   changed since the boot began (its ctime is older: the daemon that
//!   autostarts at boot has not seen a file written by hand before). A task
//!   that arrives while the machine is up (add, import, edit, resume, even
//!   when the verb is what starts the daemon) waits for the next boot.

use std::collections::{BTreeSet, VecDeque};
use std::num::NonZeroU32;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::state::State;
use crate::history::Stretch;
pub use crate::history::Trigger;
use crate::runner::Run;
use crate::schedule::{Expr, Schedule};
use crate::taskfile::{CatchUp, ClusterMode, Task};

/// How late a wake-up may be for the due instant to count as on time.
pub const LATE_TOLERANCE: Duration = Duration::from_secs(60);
/// `catch_up = "all"` runs at most this many missed instants (the latest).
pub const CATCH_UP_ALL_LIMIT: usize = 100;
/// How long before its instant a cluster task's supervisor starts (see the
/// rules above). Measured: a PostgreSQL connection took 4-8 ms of an idle
/// 2-core machine's firing latency; the lead leaves room for a busy one.
pub const CLAIM_LEAD: Duration = Duration::from_millis(500);

/// What the planner needs to know about a task, and all the daemon keeps
/// of it: the rest is read by the supervisor from its snapshot.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: Box<str>,
    /// A change of the schedule (of what it means, or of its zone)
    /// restarts the task's plan from now.
    pub schedule: Schedule,
    pub jitter: Duration,
    pub catch_up: CatchUp,
    pub max_lateness: Option<Duration>,
    pub paused: bool,
    /// Other hosts run it too (a `[cluster]`, not `cluster = "local"`):
    /// its on-time supervisor starts [`CLAIM_LEAD`] early (without
    /// jitter), and what this host missed another may have run.
    pub coordinated: bool,
}

impl Spec {
    pub fn of(task: &Task) -> Spec {
        Spec {
            name: task.name.as_str().into(),
            schedule: task.schedule.clone(),
            jitter: task.settings.jitter,
            catch_up: task.settings.catch_up,
            max_lateness: task.settings.max_lateness,
            paused: task.settings.paused,
            coordinated: task.settings.cluster != ClusterMode::Local,
        }
    }

    fn lead(&self) -> Duration {
        if self.coordinated && self.jitter.is_zero() {
            CLAIM_LEAD
        } else {
            Duration::ZERO
        }
    }

    fn is_reboot(&self) -> bool {
        matches!(self.schedule.expr(), Expr::Reboot)
    }
}

/// The boot the daemon runs in, for `@reboot` tasks.
#[derive(Clone, Debug)]
pub struct Boot {
    /// `/proc/sys/kernel/random/boot_id`.
    pub id: String,
    /// The task file has not changed since this boot began, so every task
    /// in it was there at boot.
    pub file_predates_it: bool,
}

/// A run to start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fire {
    /// The run, as its supervisor will be asked for it.
    pub run: Run,
    /// When to start it (after jitter).
    pub at: Timestamp,
}

/// Missed instants the planner dealt with, for the daemon's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missed {
    pub task: String,
    /// How many instants were missed (at least; see `more`).
    pub count: usize,
    /// More instants were missed than were counted (only the latest
    /// [`CATCH_UP_ALL_LIMIT`] are looked at).
    pub more: bool,
    pub policy: CatchUp,
    /// Catch-up runs started for them.
    pub runs: usize,
    /// The instants that will not run at all (neither on time nor caught
    /// up), for their `missed` record; `None` when every one runs.
    pub not_run: Option<Stretch>,
    /// Some of them would have run but for `max_lateness`.
    pub too_late: bool,
    /// The task is coordinated (see [`Spec::coordinated`]).
    pub coordinated: bool,
}

/// A run that waited for a `max_parallel` slot past its `max_lateness`:
/// it is not started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLate {
    pub run: Run,
    pub max_lateness: Duration,
}

/// Whether a run for instant `scheduled` starting at `now` would be later
/// than `max_lateness` allows.
fn too_late(scheduled: Timestamp, now: Timestamp, max_lateness: Option<Duration>) -> bool {
    max_lateness.is_some_and(|max| {
        now.duration_since(scheduled) > SignedDuration::try_from(max).unwrap_or(SignedDuration::MAX)
    })
}

struct Entry {
    spec: Spec,
    /// The first instant after `handled`; `None` when paused or when the
    /// schedule has no more timed instants (`@reboot`, a past year).
    next: Option<Timestamp>,
    handled: Timestamp,
}

/// The tasks' entries in name order: a sorted `Vec` rather than a map, so
/// that a task costs its entry and nothing more (no tree nodes, no second
/// copy of its name as a key), and lookups by name are binary searches.
#[derive(Default)]
struct Entries(Vec<Entry>);

impl Entries {
    fn get(&self, name: &str) -> Option<&Entry> {
        let i = self.0.binary_search_by(|e| (*e.spec.name).cmp(name)).ok()?;
        Some(&self.0[i])
    }

    fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    fn values(&self) -> std::slice::Iter<'_, Entry> {
        self.0.iter()
    }

    fn values_mut(&mut self) -> std::slice::IterMut<'_, Entry> {
        self.0.iter_mut()
    }

    fn len(&self) -> usize {
        self.0.len()
    }
}

/// The due queue.
#[derive(Default)]
pub struct Planner {
    entries: Entries,
    /// Runs waiting for their jittered start, by `at` (stable).
    delayed: Vec<Fire>,
    /// Runs ready to start, waiting for a `max_parallel` slot, in order.
    waiting: VecDeque<Fire>,
    max_parallel: Option<NonZeroU32>,
    /// Tasks the last load added that the daemon's memory did not know
    /// (for [`Planner::reboot`], which follows every load).
    fresh: BTreeSet<String>,
}

impl Planner {
    /// Takes a newly loaded task file's tasks: adds, changes and removes
    /// entries (and their memory in `state`) as the rules above say.
    pub fn load(
        &mut self,
        specs: Vec<Spec>,
        max_parallel: Option<NonZeroU32>,
        state: &mut State,
        now: Timestamp,
    ) {
        self.max_parallel = max_parallel;
        self.fresh.clear();
        let mut specs = specs;
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut old = std::mem::take(&mut self.entries.0).into_iter().peekable();
        let mut removed = Vec::new();
        let mut entries = Vec::with_capacity(specs.len());
        for spec in specs {
            while let Some(gone) = old.next_if(|e| e.spec.name < spec.name) {
                removed.push(gone.spec.name);
            }
            let previous = old.next_if(|e| e.spec.name == spec.name);
            let name = &*spec.name;
            let handled = if spec.paused {
                state.last.remove(name);
                self.drop_runs(name);
                now
            } else {
                match previous {
                    Some(old) if !old.spec.paused && old.spec.schedule == spec.schedule => {
                        old.handled
                    }
                    Some(old) => {
                        // Resumed, or a new schedule: from now.
                        let from = if old.spec.paused {
                            now
                        } else {
                            old.handled.max(now)
                        };
                        state.last.insert(name.to_string(), from);
                        from
                    }
                    None => *state.last.entry(name.to_string()).or_insert_with(|| {
                        self.fresh.insert(name.to_string());
                        now
                    }),
                }
            };
            let next = if spec.paused {
                None
            } else {
                spec.schedule.next_after(handled)
            };
            entries.push(Entry {
                spec,
                next,
                handled,
            });
        }
        removed.extend(old.map(|e| e.spec.name));
        for name in removed {
            state.last.remove(&*name);
            self.drop_runs(&name);
        }
        self.entries = Entries(entries);
    }

    fn drop_runs(&mut self, task: &str) {
        self.delayed.retain(|f| f.run.task != task);
        self.waiting.retain(|f| f.run.task != task);
    }

    /// Queues the `@reboot` tasks when `boot.id` is not the one they last
    /// ran for, and remembers it. Returns how many were queued. Called
    /// after every load: a task that load added and the memory did not
    /// know runs only when `boot.file_predates_it` (see the rules above).
    pub fn reboot(
        &mut self,
        boot: &Boot,
        state: &mut State,
        now: Timestamp,
        jitter: &mut dyn FnMut(Duration) -> Duration,
    ) -> usize {
        let fresh = std::mem::take(&mut self.fresh);
        if state.boot_id.as_deref() == Some(boot.id.as_str()) {
            return 0;
        }
        state.boot_id = Some(boot.id.clone());
        let fires: Vec<Fire> = self
            .entries
            .values()
            .filter(|e| !e.spec.paused && e.spec.is_reboot())
            .filter(|e| boot.file_predates_it || !fresh.contains(&*e.spec.name))
            .map(|e| Fire {
                run: Run {
                    task: e.spec.name.to_string(),
                    trigger: Trigger::Reboot,
                    scheduled: None,
                    run_id: None,
                },
                at: add(now, jitter(e.spec.jitter)),
            })
            .collect();
        let count = fires.len();
        for fire in fires {
            self.push(fire, now);
        }
        count
    }

    /// Deals with every instant due at `now`: queues on-time runs and
    /// catch-up runs, moves the handled marks, and records in `state` the
    /// instants it decided not to run. `tolerance` is [`LATE_TOLERANCE`]
    /// after an ordinary wake-up and zero on start or after a clock jump.
    pub fn advance(
        &mut self,
        now: Timestamp,
        tolerance: Duration,
        state: &mut State,
        jitter: &mut dyn FnMut(Duration) -> Duration,
    ) -> Vec<Missed> {
        let mut fires = Vec::new();
        let mut report = Vec::new();
        for entry in self.entries.values_mut() {
            // An early task's instant is due its lead before it.
            let due = add(now, entry.spec.lead());
            if entry.next.is_none_or(|next| next > due) {
                continue;
            }
            let spec = &entry.spec;
            let (instants, more) =
                due_instants(&spec.schedule, entry.handled, due, CATCH_UP_ALL_LIMIT);
            let Some(&latest) = instants.last() else {
                entry.next = spec.schedule.next_after(due);
                continue;
            };
            let in_time = |t: Timestamp| !too_late(t, now, spec.max_lateness);
            // An instant still ahead is on time, even on start.
            let late_on_time = latest > now
                || !tolerance.is_zero()
                    && now.duration_since(latest) <= SignedDuration::try_from(tolerance).unwrap();
            let on_time = late_on_time && in_time(latest);
            let missed = if on_time {
                &instants[..instants.len() - 1]
            } else {
                &instants[..]
            };
            let before = fires.len();
            if on_time {
                fires.push(Fire {
                    run: Run {
                        task: spec.name.to_string(),
                        trigger: Trigger::Schedule,
                        scheduled: Some(latest),
                        run_id: None,
                    },
                    at: sub(add(latest, jitter(spec.jitter)), spec.lead()),
                });
            }
            let catch_up =
                |scheduled: Timestamp, jitter: &mut dyn FnMut(Duration) -> Duration| Fire {
                    run: Run {
                        task: spec.name.to_string(),
                        trigger: Trigger::CatchUp,
                        scheduled: Some(scheduled),
                        run_id: None,
                    },
                    at: add(now, jitter(spec.jitter)),
                };
            let mut too_late = late_on_time && !on_time;
            match spec.catch_up {
                CatchUp::Skip => {}
                CatchUp::Once if on_time || missed.is_empty() => {}
                CatchUp::Once if !in_time(latest) => too_late = true,
                CatchUp::Once => fires.push(catch_up(latest, jitter)),
                CatchUp::All => {
                    // The latest are the least late: those in time are the
                    // newest of `missed`, as `not_run` expects.
                    for &t in missed {
                        if in_time(t) {
                            fires.push(catch_up(t, jitter));
                        } else {
                            too_late = true;
                        }
                    }
                }
            }
            let runs = fires.len() - before;
            if runs == 0 {
                state.handled(&spec.name, latest);
            }
            if !missed.is_empty() {
                let caught_up = runs - usize::from(on_time);
                report.push(Missed {
                    task: spec.name.to_string(),
                    count: missed.len(),
                    more,
                    policy: spec.catch_up,
                    runs: caught_up,
                    not_run: not_run(&spec.schedule, entry.handled, missed, more, caught_up),
                    too_late,
                    coordinated: spec.coordinated,
                });
            }
            entry.handled = latest;
            entry.next = spec.schedule.next_after(due);
        }
        fires.sort_by_key(|f| (f.at, f.run.scheduled));
        for fire in fires {
            self.push(fire, now);
        }
        report
    }

    /// The tasks, their handled marks, and whether each mark is one of the
    /// task's instants (rather than the moment it was loaded), for the
    /// checks of a daemon that starts (paused and `@reboot` tasks have none).
    pub fn marks(&self) -> Vec<(String, Timestamp, bool)> {
        self.entries
            .values()
            .filter(|e| !e.spec.paused && !e.spec.is_reboot())
            .map(|e| {
                let before = e.handled.checked_sub(SignedDuration::from_nanos(1)).ok();
                let instant = before.and_then(|t| e.spec.schedule.next_after(t)) == Some(e.handled);
                (e.spec.name.to_string(), e.handled, instant)
            })
            .collect()
    }

    /// Queues a catch-up run of `task` for instant `at` now: a run an
    /// earlier daemon marked but never started.
    pub fn run_unstarted(&mut self, task: &str, at: Timestamp, now: Timestamp) {
        self.push(
            Fire {
                run: Run {
                    task: task.into(),
                    trigger: Trigger::CatchUp,
                    scheduled: Some(at),
                    run_id: None,
                },
                at: now,
            },
            now,
        );
    }

    /// Queues a manual run of `task` to start now; `false` if there is no
    /// such task.
    pub fn run_now(&mut self, task: &str, run_id: Option<String>, now: Timestamp) -> bool {
        if !self.entries.contains_key(task) {
            return false;
        }
        self.push(
            Fire {
                run: Run {
                    task: task.into(),
                    trigger: Trigger::Manual,
                    scheduled: None,
                    run_id,
                },
                at: now,
            },
            now,
        );
        true
    }

    fn push(&mut self, fire: Fire, now: Timestamp) {
        if fire.at <= now {
            self.waiting.push_back(fire);
        } else {
            let i = self.delayed.partition_point(|f| f.at <= fire.at);
            self.delayed.insert(i, fire);
        }
    }

    /// The runs to start now, given that `running` supervisors run and
    /// `busy(task)` says whether one of them runs `task`. Catch-up runs of
    /// one task start one after another (with `overlap = "skip"` they would
    /// otherwise skip one another); they wait without holding up others.
    pub fn ready(
        &mut self,
        now: Timestamp,
        running: usize,
        busy: &dyn Fn(&str) -> bool,
        late: &mut Vec<TooLate>,
    ) -> Vec<Fire> {
        let due = self.delayed.partition_point(|f| f.at <= now);
        self.waiting.extend(self.delayed.drain(..due));
        let cap = self.max_parallel.map_or(usize::MAX, |m| m.get() as usize);
        let free = cap.saturating_sub(running);
        let mut out: Vec<Fire> = Vec::new();
        let mut i = 0;
        // Waited past their `max_lateness` (for a slot, or for an earlier
        // catch-up run of the same task): not started.
        let entries = &self.entries;
        let max_lateness = |task: &str| entries.get(task).and_then(|e| e.spec.max_lateness);
        self.waiting.retain(|fire| {
            let max = max_lateness(&fire.run.task);
            let expired = fire.run.scheduled.is_some_and(|t| too_late(t, now, max));
            if let (true, Some(max_lateness)) = (expired, max) {
                late.push(TooLate {
                    run: fire.run.clone(),
                    max_lateness,
                });
            }
            !expired
        });
        while i < self.waiting.len() && out.len() < free {
            let fire = &self.waiting[i];
            let held = fire.run.trigger == Trigger::CatchUp
                && (busy(&fire.run.task) || out.iter().any(|o| o.run.task == fire.run.task));
            if held {
                i += 1;
            } else {
                out.extend(self.waiting.remove(i));
            }
        }
        out
    }

    /// When something is next due: the earliest next instant or jittered
    /// start. Runs waiting for a `max_parallel` slot wait for a run to end,
    /// not for a time.
    pub fn deadline(&self) -> Option<Timestamp> {
        let instants = self
            .entries
            .values()
            .filter_map(|e| Some(sub(e.next?, e.spec.lead())));
        instants.chain(self.delayed.first().map(|f| f.at)).min()
    }

    /// The task and instant of the earliest planned start.
    pub fn next_run(&self) -> Option<(String, Timestamp)> {
        let instants = self
            .entries
            .values()
            .filter_map(|e| Some((e.next?, e.spec.name.to_string())));
        let delayed = self.delayed.first().map(|f| (f.at, f.run.task.clone()));
        instants.chain(delayed).min().map(|(at, task)| (task, at))
    }

    /// Tasks loaded, and how many of them are paused.
    pub fn counts(&self) -> (usize, usize) {
        let paused = self.entries.values().filter(|e| e.spec.paused).count();
        (self.entries.len(), paused)
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn max_parallel(&self) -> Option<NonZeroU32> {
        self.max_parallel
    }
}

/// `at + d`, saturating.
fn add(at: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| at.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// `at - d`, saturating.
fn sub(at: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| at.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

/// The latest `limit` instants of `schedule` in `(after, now]`, in order,
/// and whether earlier ones were left out. It looks back from `now` over a
/// window that doubles until it holds more than `limit` instants or reaches
/// `after`, so that a long downtime costs a few searches, not one per
/// missed instant.
/// At most this many missed instants are counted one by one for a
/// `missed` record; beyond, the record says "at least".
pub const COUNT_LIMIT: u64 = 10_000_000;

/// The instants of `missed` (the latest due instants after `handled`, all
/// of them unless `more`) that do not run, when `caught_up` of the latest
/// of them run as catch-up runs (those run by `catch_up`: none for `skip`,
/// the latest for `once`, each for `all`).
fn not_run(
    schedule: &Schedule,
    handled: Timestamp,
    missed: &[Timestamp],
    more: bool,
    caught_up: usize,
) -> Option<Stretch> {
    let kept = &missed[..missed.len() - caught_up.min(missed.len())];
    // Older than `missed`, when it is only the latest: counted here.
    let (older, older_more, older_last) = if more {
        count_between(schedule, handled, missed[0])
    } else {
        (0, false, None)
    };
    let count = older + kept.len() as u64;
    if count == 0 {
        return None;
    }
    let first = schedule.next_after(handled)?;
    let last = kept.last().copied().or(older_last)?;
    Some(Stretch {
        count,
        more: older_more,
        first,
        last,
    })
}

/// How many instants of `schedule` lie after `after` and before `before`,
/// whether there were more than [`COUNT_LIMIT`], and the last one counted.
pub(crate) fn count_between(
    schedule: &Schedule,
    after: Timestamp,
    before: Timestamp,
) -> (u64, bool, Option<Timestamp>) {
    let mut count = 0;
    let mut last = None;
    let mut t = schedule.next_after(after);
    while let Some(instant) = t.filter(|&t| t < before) {
        if count == COUNT_LIMIT {
            return (count, true, last);
        }
        count += 1;
        last = Some(instant);
        t = schedule.next_after(instant);
    }
    (count, false, last)
}

pub fn due_instants(
    schedule: &Schedule,
    after: Timestamp,
    now: Timestamp,
    limit: usize,
) -> (Vec<Timestamp>, bool) {
    let mut span = SignedDuration::from_secs(64);
    loop {
        let from = now.checked_sub(span).unwrap_or(Timestamp::MIN).max(after);
        let mut found = VecDeque::with_capacity(limit + 1);
        let mut count = 0usize;
        let mut t = schedule.next_after(from);
        while let Some(instant) = t.filter(|&t| t <= now) {
            count += 1;
            if found.len() == limit {
                found.pop_front();
            }
            found.push_back(instant);
            t = schedule.next_after(instant);
        }
        if count > limit || from == after {
            return (found.into(), count > limit);
        }
        span = span.checked_mul(2).unwrap_or(SignedDuration::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Zone;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn spec(name: &str, expr: &str) -> Spec {
        Spec {
            name: name.into(),
            schedule: Schedule::parse(expr, Zone::utc()).unwrap(),
            jitter: Duration::ZERO,
            catch_up: CatchUp::Once,
            max_lateness: None,
            paused: false,
            coordinated: false,
        }
    }

    fn idle(_: &str) -> bool {
        false
    }

    /// Every run ready at `now`, each started as soon as the last ended.
    fn drain(plan: &mut Planner, now: Timestamp) -> Vec<Fire> {
        let mut fires = Vec::new();
        loop {
            let ready = plan.ready(now, 0, &idle, &mut Vec::new());
            if ready.is_empty() {
                return fires;
            }
            fires.extend(ready);
        }
    }

    fn no_jitter(_: Duration) -> Duration {
        Duration::ZERO
    }

    fn half(d: Duration) -> Duration {
        d / 2
    }

    fn names(fires: &[Fire]) -> Vec<(&str, Trigger, Option<String>)> {
        fires
            .iter()
            .map(|f| {
                (
                    f.run.task.as_str(),
                    f.run.trigger,
                    f.run.scheduled.map(|t| t.to_string()),
                )
            })
            .collect()
    }

    #[test]
    fn a_new_task_starts_from_now_and_fires_on_time() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:00:30Z");
        plan.load(vec![spec("a", "* * * * *")], None, &mut state, now);
        assert_eq!(state.last["a"], now);
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T10:01:00Z")));
        let missed = plan.advance(now, LATE_TOLERANCE, &mut state, &mut no_jitter);
        assert!(missed.is_empty());
        assert!(plan.ready(now, 0, &idle, &mut Vec::new()).is_empty());

        let wake = ts("2026-03-08T10:01:00.0002Z");
        assert!(
            plan.advance(wake, LATE_TOLERANCE, &mut state, &mut no_jitter)
                .is_empty()
        );
        let fires = plan.ready(wake, 0, &idle, &mut Vec::new());
        assert_eq!(
            names(&fires),
            [("a", Trigger::Schedule, Some("2026-03-08T10:01:00Z".into()))]
        );
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T10:02:00Z")));
    }

    #[test]
    fn a_cluster_tasks_supervisor_starts_its_lead_before_the_instant() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let early = Spec {
            coordinated: true,
            ..spec("c", "* * * * *")
        };
        let start = ts("2026-03-08T10:00:59.7Z");
        plan.load(vec![early, spec("l", "* * * * *")], None, &mut state, start);
        // On start (no tolerance) an instant still ahead is on time, not
        // missed.
        assert!(
            plan.advance(start, Duration::ZERO, &mut state, &mut no_jitter)
                .is_empty()
        );
        let fires = plan.ready(start, 0, &idle, &mut Vec::new());
        assert_eq!(
            names(&fires),
            [("c", Trigger::Schedule, Some("2026-03-08T10:01:00Z".into()))]
        );
        // The local task wakes the daemon at its instant, the cluster task
        // its lead before the next one.
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T10:01:00Z")));
        let at = ts("2026-03-08T10:01:00.001Z");
        plan.advance(at, LATE_TOLERANCE, &mut state, &mut no_jitter);
        assert_eq!(names(&plan.ready(at, 0, &idle, &mut Vec::new()))[0].0, "l");
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T10:01:59.5Z")));
        let lead = ts("2026-03-08T10:01:59.5Z");
        plan.advance(lead, LATE_TOLERANCE, &mut state, &mut no_jitter);
        assert_eq!(
            names(&plan.ready(lead, 0, &idle, &mut Vec::new())),
            [("c", Trigger::Schedule, Some("2026-03-08T10:02:00Z".into()))]
        );
    }

    fn after_downtime(policy: CatchUp) -> (Vec<Fire>, Vec<Missed>, State) {
        let mut state = State::default();
        state.last.insert("a".into(), ts("2026-03-08T05:00:00Z"));
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:30:00Z");
        let mut a = spec("a", "0 * * * *");
        a.catch_up = policy;
        plan.load(vec![a], None, &mut state, now);
        let missed = plan.advance(now, Duration::ZERO, &mut state, &mut no_jitter);
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T11:00:00Z")));
        (drain(&mut plan, now), missed, state)
    }

    #[test]
    fn max_lateness_lets_runs_too_late_go_and_says_so() {
        let mut state = State::default();
        state.last.insert("a".into(), ts("2026-03-08T05:00:00Z"));
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:30:00Z");
        let mut a = spec("a", "0 * * * *");
        a.catch_up = CatchUp::All;
        a.max_lateness = Some(Duration::from_secs(2 * 3600));
        plan.load(vec![a], NonZeroU32::new(1), &mut state, now);
        let missed = plan.advance(now, Duration::ZERO, &mut state, &mut no_jitter);
        // 09:00 and 10:00 are within 2h; 06:00 to 08:00 are not.
        let stretch = missed[0].not_run.unwrap();
        assert_eq!(
            (stretch.count, stretch.first, stretch.last),
            (3, ts("2026-03-08T06:00:00Z"), ts("2026-03-08T08:00:00Z"))
        );
        assert!(missed[0].too_late);
        let mut late = Vec::new();
        let first = plan.ready(now, 0, &idle, &mut late);
        assert_eq!(
            names(&first),
            [("a", Trigger::CatchUp, Some("2026-03-08T09:00:00Z".into()))]
        );
        assert!(late.is_empty());
        // The 10:00 run waits for the slot (max_parallel 1) until 12:01:
        // past its max_lateness, it is not started.
        let later = ts("2026-03-08T12:01:00Z");
        assert!(plan.ready(later, 0, &|_| true, &mut late).is_empty());
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].run.scheduled, Some(ts("2026-03-08T10:00:00Z")));
        assert_eq!(late[0].max_lateness, Duration::from_secs(7200));
    }

    #[test]
    fn a_day_of_every_second_down_is_one_stretch() {
        let mut state = State::default();
        state.last.insert("a".into(), ts("2026-03-07T10:30:00Z"));
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:30:00Z");
        let mut a = spec("a", "* * * * * *");
        a.catch_up = CatchUp::All;
        plan.load(vec![a], None, &mut state, now);
        let missed = plan.advance(now, Duration::ZERO, &mut state, &mut no_jitter);
        let stretch = missed[0].not_run.expect("most did not run");
        // A day of seconds, but for the latest 100 that are caught up.
        assert_eq!(stretch.count, 86_400 - CATCH_UP_ALL_LIMIT as u64);
        assert!(!stretch.more);
        assert_eq!(stretch.first, ts("2026-03-07T10:30:01Z"));
        assert_eq!(stretch.last, ts("2026-03-08T10:28:20Z"));
        assert_eq!(drain(&mut plan, now).len(), CATCH_UP_ALL_LIMIT);
    }

    #[test]
    fn catch_up_once_runs_the_latest_missed_instant() {
        let (fires, missed, _) = after_downtime(CatchUp::Once);
        assert_eq!(
            names(&fires),
            [("a", Trigger::CatchUp, Some("2026-03-08T10:00:00Z".into()))]
        );
        assert_eq!(fires[0].at, ts("2026-03-08T10:30:00Z"));
        assert_eq!(
            missed,
            [Missed {
                task: "a".into(),
                count: 5,
                more: false,
                policy: CatchUp::Once,
                runs: 1,
                // The four before the latest: 06:00 to 09:00.
                not_run: Some(Stretch {
                    count: 4,
                    more: false,
                    first: ts("2026-03-08T06:00:00Z"),
                    last: ts("2026-03-08T09:00:00Z"),
                }),
                too_late: false,
                coordinated: false,
            }]
        );
    }

    #[test]
    fn catch_up_all_runs_each_and_skip_none() {
        let (fires, _, _) = after_downtime(CatchUp::All);
        let hours: Vec<_> = fires
            .iter()
            .map(|f| f.run.scheduled.unwrap().to_string())
            .collect();
        assert_eq!(
            hours,
            ["06", "07", "08", "09", "10"].map(|h| format!("2026-03-08T{h}:00:00Z"))
        );
        assert!(fires.iter().all(|f| f.run.trigger == Trigger::CatchUp));

        let (fires, missed, state) = after_downtime(CatchUp::Skip);
        assert!(fires.is_empty());
        assert_eq!(missed[0].runs, 0);
        assert_eq!(state.last["a"], ts("2026-03-08T10:00:00Z"));
    }

    #[test]
    fn catch_up_runs_of_one_task_start_one_after_another() {
        let mut state = State::default();
        state.last.insert("a".into(), ts("2026-03-08T07:30:00Z"));
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:30:00Z");
        let mut a = spec("a", "0 * * * *");
        a.catch_up = CatchUp::All;
        plan.load(vec![a, spec("b", "* * * * *")], None, &mut state, now);
        plan.advance(now, Duration::ZERO, &mut state, &mut no_jitter);
        assert!(plan.run_now("b", None, now));
        let hours = |fires: Vec<Fire>| -> Vec<String> {
            fires
                .iter()
                .map(|f| {
                    f.run
                        .scheduled
                        .map_or("b".into(), |t| t.to_string()[11..13].to_string())
                })
                .collect()
        };
        assert_eq!(
            hours(plan.ready(now, 0, &idle, &mut Vec::new())),
            ["08", "b"]
        );
        assert!(
            plan.ready(now, 2, &|t| t == "a", &mut Vec::new())
                .is_empty()
        );
        assert_eq!(hours(plan.ready(now, 1, &idle, &mut Vec::new())), ["09"]);
        assert_eq!(hours(plan.ready(now, 1, &idle, &mut Vec::new())), ["10"]);
        assert_eq!(plan.waiting(), 0);
    }

    #[test]
    fn catch_up_all_is_bounded_to_the_latest_hundred() {
        let mut state = State::default();
        state.last.insert("a".into(), ts("2026-03-01T00:00:00Z"));
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:30:30Z");
        let mut a = spec("a", "* * * * *");
        a.catch_up = CatchUp::All;
        plan.load(vec![a], None, &mut state, now);
        let missed = plan.advance(now, Duration::ZERO, &mut state, &mut no_jitter);
        let fires = drain(&mut plan, now);
        assert_eq!(fires.len(), CATCH_UP_ALL_LIMIT);
        assert_eq!(fires[99].run.scheduled, Some(ts("2026-03-08T10:30:00Z")));
        assert_eq!(fires[0].run.scheduled, Some(ts("2026-03-08T08:51:00Z")));
        assert!(missed[0].more);
    }

    #[test]
    fn due_instants_finds_sparse_instants_far_back() {
        let yearly = Schedule::parse("0 0 1 1 *", Zone::utc()).unwrap();
        let (found, more) = due_instants(
            &yearly,
            ts("2020-06-01T00:00:00Z"),
            ts("2026-03-08T00:00:00Z"),
            100,
        );
        assert_eq!(found.len(), 6);
        assert_eq!(found[0], ts("2021-01-01T00:00:00Z"));
        assert!(!more);
        let secondly = Schedule::parse("* * * * * *", Zone::utc()).unwrap();
        let (found, more) = due_instants(
            &secondly,
            ts("2020-06-01T00:00:00Z"),
            ts("2026-03-08T00:00:00Z"),
            3,
        );
        assert_eq!(found.len(), 3);
        assert_eq!(found[2], ts("2026-03-08T00:00:00Z"));
        assert!(more);
    }

    #[test]
    fn a_late_wake_runs_the_latest_and_coalesces_the_rest_under_once() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let start = ts("2026-03-08T10:00:00.5Z");
        plan.load(vec![spec("a", "* * * * * *")], None, &mut state, start);
        let wake = ts("2026-03-08T10:00:04.1Z");
        let missed = plan.advance(wake, LATE_TOLERANCE, &mut state, &mut no_jitter);
        assert_eq!(missed[0].count, 3);
        assert_eq!(missed[0].runs, 0);
        assert_eq!(
            names(&plan.ready(wake, 0, &idle, &mut Vec::new())),
            [("a", Trigger::Schedule, Some("2026-03-08T10:00:04Z".into()))]
        );
    }

    #[test]
    fn jitter_delays_the_start() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let mut a = spec("a", "* * * * *");
        a.jitter = Duration::from_secs(20);
        plan.load(vec![a], None, &mut state, ts("2026-03-08T10:00:30Z"));
        let wake = ts("2026-03-08T10:01:00Z");
        plan.advance(wake, LATE_TOLERANCE, &mut state, &mut half);
        assert!(plan.ready(wake, 0, &idle, &mut Vec::new()).is_empty());
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T10:01:10Z")));
        let fires = plan.ready(ts("2026-03-08T10:01:10Z"), 0, &idle, &mut Vec::new());
        assert_eq!(fires.len(), 1);
        assert_eq!(fires[0].run.scheduled, Some(wake));
    }

    #[test]
    fn max_parallel_makes_runs_wait_in_order() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let specs = ["c", "a", "b"].map(|n| spec(n, "* * * * *")).to_vec();
        plan.load(
            specs,
            NonZeroU32::new(2),
            &mut state,
            ts("2026-03-08T10:00:30Z"),
        );
        let wake = ts("2026-03-08T10:01:00Z");
        plan.advance(wake, LATE_TOLERANCE, &mut state, &mut no_jitter);
        let first: Vec<_> = plan
            .ready(wake, 0, &idle, &mut Vec::new())
            .into_iter()
            .map(|f| f.run.task)
            .collect();
        assert_eq!(first, ["a", "b"]);
        assert_eq!(plan.waiting(), 1);
        assert!(plan.ready(wake, 2, &idle, &mut Vec::new()).is_empty());
        let next: Vec<_> = plan
            .ready(wake, 1, &idle, &mut Vec::new())
            .into_iter()
            .map(|f| f.run.task)
            .collect();
        assert_eq!(next, ["c"]);
    }

    #[test]
    fn reloads_change_remove_pause_and_resume() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let t0 = ts("2026-03-08T10:00:30Z");
        plan.load(
            vec![spec("a", "0 * * * *"), spec("b", "* * * * *")],
            NonZeroU32::new(1),
            &mut state,
            t0,
        );
        // b's run waits for a slot, then b is removed: the run goes too.
        let wake = ts("2026-03-08T10:01:00Z");
        plan.advance(wake, LATE_TOLERANCE, &mut state, &mut no_jitter);
        assert!(plan.ready(wake, 1, &idle, &mut Vec::new()).is_empty());
        assert_eq!(plan.waiting(), 1);
        let t1 = ts("2026-03-08T10:01:05Z");
        plan.load(vec![spec("a", "* * * * *")], None, &mut state, t1);
        assert_eq!(plan.waiting(), 0);
        assert!(!state.last.contains_key("b"));
        // a's new schedule starts from now: no catch-up of 10:01.
        assert_eq!(state.last["a"], t1);
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T10:02:00Z")));

        let mut paused = spec("a", "* * * * *");
        paused.paused = true;
        plan.load(vec![paused], None, &mut state, t1);
        assert_eq!(plan.deadline(), None);
        assert_eq!(plan.counts(), (1, 1));
        assert!(!state.last.contains_key("a"));
        let t2 = ts("2026-03-08T11:00:05Z");
        plan.advance(t2, LATE_TOLERANCE, &mut state, &mut no_jitter);
        assert!(plan.ready(t2, 0, &idle, &mut Vec::new()).is_empty());
        // Resumed: from now, nothing of the paused hour is caught up.
        plan.load(vec![spec("a", "* * * * *")], None, &mut state, t2);
        assert!(
            plan.advance(t2, Duration::ZERO, &mut state, &mut no_jitter)
                .is_empty()
        );
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T11:01:00Z")));
    }

    #[test]
    fn an_unchanged_task_keeps_its_due_instant_across_a_reload() {
        let mut state = State::default();
        let mut plan = Planner::default();
        plan.load(
            vec![spec("a", "* * * * *")],
            None,
            &mut state,
            ts("2026-03-08T10:00:30Z"),
        );
        let wake = ts("2026-03-08T10:01:00.001Z");
        plan.load(vec![spec("a", "* * * * *")], None, &mut state, wake);
        plan.advance(wake, LATE_TOLERANCE, &mut state, &mut no_jitter);
        assert_eq!(plan.ready(wake, 0, &idle, &mut Vec::new()).len(), 1);
    }

    fn boot(id: &str, file_predates_it: bool) -> Boot {
        Boot {
            id: id.into(),
            file_predates_it,
        }
    }

    #[test]
    fn reboot_tasks_run_once_per_boot() {
        let mut state = State::default();
        state.last.insert("r".into(), ts("2026-03-07T10:00:00Z"));
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:00:00Z");
        let mut paused = spec("p", "@reboot");
        paused.paused = true;
        plan.load(
            vec![spec("r", "@reboot"), paused, spec("m", "@daily")],
            None,
            &mut state,
            now,
        );
        let first = boot("boot-1", false);
        assert_eq!(plan.reboot(&first, &mut state, now, &mut no_jitter), 1);
        assert_eq!(
            names(&plan.ready(now, 0, &idle, &mut Vec::new())),
            [("r", Trigger::Reboot, None)]
        );
        assert_eq!(plan.reboot(&first, &mut state, now, &mut no_jitter), 0);
        let second = boot("boot-2", false);
        assert_eq!(plan.reboot(&second, &mut state, now, &mut no_jitter), 1);
    }

    #[test]
    fn a_reboot_task_that_arrives_after_boot_waits_for_the_next() {
        // Imported while no daemon ran: the import starts the daemon, which
        // has not run in this boot, but the task is new to it.
        let mut state = State {
            boot_id: Some("boot-0".into()),
            ..State::default()
        };
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:00:00Z");
        plan.load(vec![spec("r", "@reboot")], None, &mut state, now);
        let first = boot("boot-1", false);
        assert_eq!(plan.reboot(&first, &mut state, now, &mut no_jitter), 0);
        // Added to the running daemon: the same.
        plan.load(
            vec![spec("r", "@reboot"), spec("s", "@reboot")],
            None,
            &mut state,
            now,
        );
        assert_eq!(plan.reboot(&first, &mut state, now, &mut no_jitter), 0);
        assert!(plan.ready(now, 0, &idle, &mut Vec::new()).is_empty());
        // The next boot runs both.
        let second = boot("boot-2", false);
        assert_eq!(plan.reboot(&second, &mut state, now, &mut no_jitter), 2);

        // A daemon that never ran, started at boot on a file written before
        // it: the file was there at boot, so its tasks run.
        let mut state = State::default();
        let mut plan = Planner::default();
        plan.load(vec![spec("r", "@reboot")], None, &mut state, now);
        let at_boot = boot("boot-1", true);
        assert_eq!(plan.reboot(&at_boot, &mut state, now, &mut no_jitter), 1);
    }

    #[test]
    fn clock_jumps_forward_catch_up_and_backward_waits() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let start = ts("2026-03-08T10:00:30Z");
        plan.load(vec![spec("a", "*/10 * * * *")], None, &mut state, start);
        let jumped = ts("2026-03-08T12:05:00Z");
        let missed = plan.advance(jumped, Duration::ZERO, &mut state, &mut no_jitter);
        assert_eq!(missed[0].count, 12);
        assert_eq!(
            names(&plan.ready(jumped, 0, &idle, &mut Vec::new())),
            [("a", Trigger::CatchUp, Some("2026-03-08T12:00:00Z".into()))]
        );
        let back = ts("2026-03-08T09:00:00Z");
        assert!(
            plan.advance(back, Duration::ZERO, &mut state, &mut no_jitter)
                .is_empty()
        );
        assert!(plan.ready(back, 0, &idle, &mut Vec::new()).is_empty());
        assert_eq!(plan.deadline(), Some(ts("2026-03-08T12:10:00Z")));
    }

    #[test]
    fn manual_runs_need_a_known_task() {
        let mut state = State::default();
        let mut plan = Planner::default();
        let now = ts("2026-03-08T10:00:30Z");
        plan.load(vec![spec("a", "@daily")], None, &mut state, now);
        assert!(plan.run_now("a", None, now));
        assert!(!plan.run_now("b", None, now));
        assert_eq!(
            names(&plan.ready(now, 0, &idle, &mut Vec::new())),
            [("a", Trigger::Manual, None)]
        );
    }
}
