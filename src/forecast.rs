//! What the coming days hold (`kron plan`): every task's planned runs in a
//! window, and what their measured durations predict of them. Pure: the
//! caller passes the tasks, their durations and the window.
//!
//! Each run is expected to take its task's p95 duration (from its history;
//! a task without one is taken to end as it starts, so it is drawn but
//! never predicted to get in another's way). The runs are then played in
//! time order by the rules the daemon and the supervisors follow:
//!
//! - `max_parallel`: a run due while that many runs are under way waits
//!   for the first to end, in order (the daemon's queue), and a run
//!   waiting for its lock counts as under way, as its supervisor does;
//! - the lock (the task's name unless it sets `lock`), taken as its
//!   `overlap` says (`runner/overlap.rs`): `skip` drops the run when
//!   another run holds it (its own previous run, or another task's);
//!   `queue` waits for it, one run per lock, and drops any other; `replace`
//!   stops the holder and runs; `allow` takes no lock.
//!
//! Jitter and retries are not modelled beyond what the durations hold.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::schedule::Schedule;
use crate::taskfile::Overlap;

/// What the forecast needs to know about a task.
#[derive(Clone, Debug)]
pub struct Spec {
    pub name: String,
    pub schedule: Schedule,
    /// The lock name; `None` with `overlap = "allow"`, which takes none.
    pub lock: Option<String>,
    pub overlap: Overlap,
    pub paused: bool,
    /// The p95 duration of its recent runs; `None` without a history.
    pub p95: Option<Duration>,
}

/// What becomes of a planned run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// It runs (perhaps late; see `waits`).
    Runs,
    /// It is dropped: its lock is held (`skip`, or a full `queue`).
    Skipped,
    /// It runs but a later run of `overlap = "replace"` stops it.
    Stopped,
}

/// Why a run starts later than its instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Wait {
    /// For a `max_parallel` slot.
    Slot,
    /// For its lock (`overlap = "queue"`).
    Lock,
}

/// A planned run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub task: usize,
    pub scheduled: Timestamp,
    /// When it is expected to start (its instant, unless it waits).
    pub start: Timestamp,
    /// When it is expected to end; `None` without a duration to go by.
    pub end: Option<Timestamp>,
    pub fate: Fate,
    pub waits: Option<Wait>,
}

/// The run in the way of another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    pub task: usize,
    pub start: Timestamp,
    pub p95: Duration,
}

/// A predicted conflict: a run that will not go as scheduled. The lock in
/// question is the task's ([`Spec::lock`]), which its holder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The run's instant.
    pub at: Timestamp,
    pub task: usize,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Dropped because `holder` holds the lock; `queued`: another run
    /// already waits for it (`overlap = "queue"`).
    Skipped { holder: Holder, queued: bool },
    /// Waits for the lock, which `holder` holds, until `until`.
    WaitsForLock { holder: Holder, until: Timestamp },
    /// Stops `holder`, which holds the lock (`overlap = "replace"`).
    Replaces { holder: Holder },
    /// Waits for a `max_parallel` slot until `until`.
    WaitsForSlot { until: Timestamp },
}

/// The runs of each task in the window, in order, and the conflicts over
/// locks, in order of time. Waits for a `max_parallel` slot, which can be
/// most runs of a busy file, are not kept twice: a run that waits has
/// `waits` and a later `start`, and [`Forecast::slot_waits`] lists them.
#[derive(Clone, Debug, Default)]
pub struct Forecast {
    pub runs: Vec<Vec<Run>>,
    pub conflicts: Vec<Conflict>,
}

impl Forecast {
    /// The runs that wait for a `max_parallel` slot, as conflicts, task by
    /// task.
    pub fn slot_waits(&self) -> impl Iterator<Item = Conflict> + '_ {
        self.runs
            .iter()
            .flatten()
            .filter(|r| r.waits == Some(Wait::Slot))
            .map(|r| Conflict {
                at: r.scheduled,
                task: r.task,
                kind: Kind::WaitsForSlot { until: r.start },
            })
    }
}

/// Plays the runs due in `from..until` (and those due before that are
/// expected to be still running at `from`).
pub fn forecast(
    specs: &[Spec],
    max_parallel: Option<usize>,
    from: Timestamp,
    until: Timestamp,
) -> Forecast {
    let longest = specs.iter().filter_map(|s| s.p95).max().unwrap_or_default();
    let lookback = from
        .checked_sub(SignedDuration::try_from(longest).unwrap_or(SignedDuration::MAX))
        .unwrap_or(Timestamp::MIN);
    // Every run, in order of its instant (each task's are in order, so a
    // stable sort merges them), then of its task.
    let mut order: Vec<(i64, u32)> = Vec::new();
    for (task, spec) in specs.iter().enumerate() {
        if !spec.paused {
            let instants = spec.schedule.between(lookback, until);
            order.extend(instants.iter().map(|t| (ms(*t), task as u32)));
        }
    }
    order.sort_by_key(|&(at, _)| at);
    let mut sim = Sim::new(specs, &order, max_parallel);
    sim.play();
    let from = ms(from);
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); specs.len()];
    for (i, &(scheduled, task)) in order.iter().enumerate() {
        if scheduled < from {
            continue;
        }
        runs[task as usize].push(Run {
            task: task as usize,
            scheduled: timestamp(scheduled),
            start: timestamp(sim.start[i]),
            end: (sim.end[i] != NONE).then(|| timestamp(sim.end[i])),
            fate: sim.fate[i],
            waits: sim.waits[i],
        });
    }
    let mut conflicts: Vec<Conflict> = sim
        .conflicts
        .into_iter()
        .filter(|c| c.at >= from)
        .map(|c| {
            let holder = |run: usize| Holder {
                task: order[run].1 as usize,
                start: timestamp(c.holder_start),
                p95: specs[order[run].1 as usize].p95.unwrap_or_default(),
            };
            Conflict {
                at: timestamp(c.at),
                task: c.task as usize,
                kind: match c.kind {
                    SimKind::Skipped { holder: h, queued } => Kind::Skipped {
                        holder: holder(h),
                        queued,
                    },
                    SimKind::WaitsForLock { holder: h, until } => Kind::WaitsForLock {
                        holder: holder(h),
                        until: timestamp(until),
                    },
                    SimKind::Replaces { holder: h } => Kind::Replaces { holder: holder(h) },
                },
            }
        })
        .collect();
    // Mostly in order already: a stable sort finishes it quickly.
    conflicts.sort_by_key(|c| (c.at, c.task));
    Forecast { runs, conflicts }
}

/// The simulation counts in milliseconds since the epoch.
fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(if ms < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// No end: the run has no duration to go by.
const NONE: i64 = i64::MIN;

/// A conflict as the simulation finds it: runs by their index in time
/// order, instants in milliseconds.
#[derive(Clone, Copy)]
struct SimConflict {
    at: i64,
    task: u32,
    /// When the holder started.
    holder_start: i64,
    kind: SimKind,
}

#[derive(Clone, Copy)]
enum SimKind {
    Skipped { holder: usize, queued: bool },
    WaitsForLock { holder: usize, until: i64 },
    Replaces { holder: usize },
}

/// The state of the simulation, a column per property of the runs, which
/// are indexed in time order (`order`), so that playing them reads memory
/// in order.
struct Sim<'a> {
    specs: &'a [Spec],
    order: &'a [(i64, u32)],
    /// Each task's lock, as an index into `held` and `waiting`.
    locks: Vec<Option<usize>>,
    /// Each task's p95 in milliseconds, and whether it is known.
    p95: Vec<(i64, bool)>,
    cap: usize,
    start: Vec<i64>,
    end: Vec<i64>,
    fate: Vec<Fate>,
    waits: Vec<Option<Wait>>,
    /// Expected ends: (instant, run); at the same instant, in the order of
    /// the runs.
    ends: BinaryHeap<Reverse<(i64, usize)>>,
    /// Runs under way (started, or waiting for a lock).
    active: usize,
    /// Runs waiting for a slot, in order.
    slots: VecDeque<usize>,
    /// By lock: the run holding it.
    held: Vec<Option<usize>>,
    /// By lock: the run waiting for it.
    waiting: Vec<Option<usize>>,
    conflicts: Vec<SimConflict>,
}

impl<'a> Sim<'a> {
    fn new(specs: &'a [Spec], order: &'a [(i64, u32)], max_parallel: Option<usize>) -> Sim<'a> {
        let mut ids: HashMap<&str, usize> = HashMap::new();
        let locks: Vec<Option<usize>> = specs
            .iter()
            .map(|s| {
                let name = s.lock.as_deref()?;
                let next = ids.len();
                Some(*ids.entry(name).or_insert(next))
            })
            .collect();
        let p95 = specs
            .iter()
            .map(|s| match s.p95 {
                Some(d) => (i64::try_from(d.as_millis()).unwrap_or(i64::MAX), true),
                None => (0, false),
            })
            .collect();
        let n = order.len();
        Sim {
            specs,
            order,
            locks,
            p95,
            held: vec![None; ids.len()],
            waiting: vec![None; ids.len()],
            cap: max_parallel.unwrap_or(usize::MAX),
            start: order.iter().map(|&(at, _)| at).collect(),
            end: vec![NONE; n],
            fate: vec![Fate::Runs; n],
            waits: vec![None; n],
            ends: BinaryHeap::new(),
            active: 0,
            slots: VecDeque::new(),
            conflicts: Vec::new(),
        }
    }

    fn task(&self, run: usize) -> usize {
        self.order[run].1 as usize
    }

    /// Plays the runs in order; a run that is expected to end at an instant
    /// ends before the runs due then start.
    fn play(&mut self) {
        for run in 0..self.order.len() {
            let at = self.order[run].0;
            while let Some(&Reverse((end, ended))) = self.ends.peek()
                && end <= at
            {
                self.ends.pop();
                self.end(ended, end);
            }
            if self.active >= self.cap {
                self.slots.push_back(run);
            } else {
                self.begin(run, at);
            }
        }
        while let Some(Reverse((end, ended))) = self.ends.pop() {
            self.end(ended, end);
        }
    }

    fn conflict(&mut self, run: usize, kind: SimKind) {
        let holder_start = match kind {
            SimKind::Skipped { holder, .. }
            | SimKind::WaitsForLock { holder, .. }
            | SimKind::Replaces { holder } => self.start[holder],
        };
        self.conflicts.push(SimConflict {
            at: self.order[run].0,
            task: self.order[run].1,
            holder_start,
            kind,
        });
    }

    /// The run starts (or waits for its lock) at `at`, a slot being free.
    fn begin(&mut self, run: usize, at: i64) {
        let task = self.task(run);
        self.start[run] = at;
        if at > self.order[run].0 {
            self.waits[run] = Some(Wait::Slot);
        }
        let Some(lock) = self.locks[task] else {
            return self.run(run, at);
        };
        let Some(holder) = self.held[lock] else {
            self.held[lock] = Some(run);
            return self.run(run, at);
        };
        let kind = match self.specs[task].overlap {
            Overlap::Skip | Overlap::Allow => SimKind::Skipped {
                holder,
                queued: false,
            },
            Overlap::Queue if self.waiting[lock].is_some() => SimKind::Skipped {
                holder,
                queued: true,
            },
            Overlap::Queue => {
                self.waiting[lock] = Some(run);
                self.active += 1;
                self.waits[run] = Some(Wait::Lock);
                let until = match self.end[holder] {
                    NONE => at,
                    end => end,
                };
                SimKind::WaitsForLock { holder, until }
            }
            Overlap::Replace => {
                self.conflict(run, SimKind::Replaces { holder });
                self.fate[holder] = Fate::Stopped;
                self.end[holder] = at;
                self.active -= 1;
                self.held[lock] = Some(run);
                return self.run(run, at);
            }
        };
        if let SimKind::Skipped { .. } = kind {
            self.fate[run] = Fate::Skipped;
        }
        self.conflict(run, kind);
    }

    /// The run's command starts at `at`, its lock (if any) held.
    fn run(&mut self, run: usize, at: i64) {
        let (p95, known) = self.p95[self.task(run)];
        let end = at.saturating_add(p95);
        self.start[run] = at;
        self.end[run] = if known { end } else { NONE };
        self.active += 1;
        self.ends.push(Reverse((end, run)));
    }

    fn end(&mut self, run: usize, at: i64) {
        // A replaced run ended earlier, when it was stopped.
        let expected = match self.end[run] {
            NONE => self.start[run],
            end => end,
        };
        if expected != at {
            return;
        }
        self.active -= 1;
        if let Some(lock) = self.locks[self.task(run)]
            && self.held[lock] == Some(run)
        {
            self.held[lock] = self.waiting[lock].take();
            if let Some(next) = self.held[lock] {
                self.active -= 1;
                self.run(next, at);
            }
        }
        self.fill_slots(at);
    }

    /// Starts the runs waiting for a slot while there are free ones.
    fn fill_slots(&mut self, at: i64) {
        while self.active < self.cap {
            let Some(next) = self.slots.pop_front() else {
                break;
            };
            self.begin(next, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Zone;

    fn spec(name: &str, expr: &str, lock: &str, overlap: Overlap, p95_min: Option<u64>) -> Spec {
        Spec {
            name: name.into(),
            schedule: Schedule::parse(expr, Zone::utc()).unwrap(),
            lock: (overlap != Overlap::Allow).then(|| lock.into()),
            overlap,
            paused: false,
            p95: p95_min.map(|m| Duration::from_secs(m * 60)),
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn day(specs: &[Spec], max_parallel: Option<usize>) -> Forecast {
        forecast(
            specs,
            max_parallel,
            at("2027-03-22T00:00:00Z"),
            at("2027-03-23T00:00:00Z"),
        )
    }

    #[test]
    fn a_lock_held_by_another_task_skips() {
        let f = day(
            &[
                spec("backup", "30 2 * * *", "disk", Overlap::Skip, Some(41)),
                spec("prune", "0 3 * * *", "disk", Overlap::Skip, Some(5)),
            ],
            None,
        );
        assert_eq!(f.runs[1][0].fate, Fate::Skipped);
        assert_eq!(
            f.conflicts,
            [Conflict {
                at: at("2027-03-22T03:00:00Z"),
                task: 1,
                kind: Kind::Skipped {
                    holder: Holder {
                        task: 0,
                        start: at("2027-03-22T02:30:00Z"),
                        p95: Duration::from_secs(41 * 60)
                    },
                    queued: false
                }
            }]
        );
        // Ending at 03:11 frees the lock for 03:11, not for 03:10.
        let f = day(
            &[
                spec("backup", "30 2 * * *", "disk", Overlap::Skip, Some(41)),
                spec("prune", "11 3 * * *", "disk", Overlap::Skip, Some(5)),
            ],
            None,
        );
        assert!(f.conflicts.is_empty(), "{:?}", f.conflicts);
    }

    #[test]
    fn its_own_previous_run_skips_queues_or_is_replaced() {
        let f = day(
            &[spec(
                "sync",
                "*/15 * * * *",
                "sync",
                Overlap::Skip,
                Some(20),
            )],
            None,
        );
        // The 23:45 run of the day before runs to 00:05, so 00:00 is
        // skipped; 00:15 runs to 00:35; 00:30 is skipped; ...
        let fates: Vec<Fate> = f.runs[0].iter().take(4).map(|r| r.fate).collect();
        assert_eq!(
            fates,
            [Fate::Skipped, Fate::Runs, Fate::Skipped, Fate::Runs]
        );
        assert_eq!(f.conflicts.len(), 48);

        let f = day(
            &[spec(
                "sync",
                "*/15 * * * *",
                "sync",
                Overlap::Queue,
                Some(20),
            )],
            None,
        );
        let first = &f.runs[0][0];
        assert_eq!(
            (first.waits, first.start),
            (Some(Wait::Lock), at("2027-03-22T00:05:00Z"))
        );
        // The runs back up: one waits, the others are dropped.
        assert!(f.runs[0].iter().any(|r| r.fate == Fate::Skipped));

        let f = day(
            &[spec(
                "sync",
                "*/15 * * * *",
                "sync",
                Overlap::Replace,
                Some(20),
            )],
            None,
        );
        assert_eq!(f.runs[0][0].fate, Fate::Stopped);
        assert_eq!(f.runs[0][0].end, Some(at("2027-03-22T00:15:00Z")));
        assert!(matches!(f.conflicts[0].kind, Kind::Replaces { .. }));
    }

    #[test]
    fn allow_and_unknown_durations_never_conflict() {
        let f = day(
            &[
                spec("a", "*/15 * * * *", "a", Overlap::Allow, Some(60)),
                spec("b", "0 * * * *", "x", Overlap::Skip, None),
                spec("c", "0 * * * *", "x", Overlap::Skip, None),
            ],
            None,
        );
        assert!(f.conflicts.is_empty(), "{:?}", f.conflicts);
        assert_eq!(f.runs[1][0].end, None);
    }

    #[test]
    fn max_parallel_makes_runs_wait_for_a_slot() {
        let f = day(
            &[
                spec("a", "0 3 * * *", "a", Overlap::Skip, Some(10)),
                spec("b", "0 3 * * *", "b", Overlap::Skip, Some(10)),
                spec("c", "0 3 * * *", "c", Overlap::Skip, Some(10)),
            ],
            Some(2),
        );
        let c = &f.runs[2][0];
        assert_eq!(
            (c.waits, c.start),
            (Some(Wait::Slot), at("2027-03-22T03:10:00Z"))
        );
        assert!(f.conflicts.is_empty());
        assert_eq!(
            f.slot_waits().collect::<Vec<_>>(),
            [Conflict {
                at: at("2027-03-22T03:00:00Z"),
                task: 2,
                kind: Kind::WaitsForSlot {
                    until: at("2027-03-22T03:10:00Z")
                }
            }]
        );
    }

    #[test]
    fn a_run_from_before_the_window_still_holds_its_lock() {
        let f = day(
            &[
                spec("long", "0 23 * * *", "disk", Overlap::Skip, Some(120)),
                spec("early", "30 0 * * *", "disk", Overlap::Skip, Some(1)),
            ],
            None,
        );
        assert_eq!(f.runs[1][0].fate, Fate::Skipped);
        // The 23:00 run of the day before is not listed itself.
        assert_eq!(f.runs[0].len(), 1);
        assert_eq!(f.runs[0][0].scheduled, at("2027-03-22T23:00:00Z"));
    }
}
