//! How a task does, from its history records: counts by outcome, success
//! rate, the last failure, duration percentiles and how often a retry saved
//! a run. Pure functions over records, for `kron stats`; no I/O.
//!
//! Definitions (also in the README):
//! - the **success rate** is successes over runs that ended on their own
//!   (success, failure, timeout): a skipped run did not run, and an
//!   interrupted one was stopped by someone;
//! - **durations** are those of the same runs; percentiles are nearest-rank
//!   (p50 of 1, 2, 3, 4 is 2), so each is the duration of a real run;
//! - a **retry saved** a run when it succeeded after more than one attempt.

use jiff::Timestamp;
use serde::Serialize;

pub use crate::history::query::Run;
use crate::history::{Outcome, Record};

/// Runs by outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub success: usize,
    pub failure: usize,
    pub timeout: usize,
    pub skipped: usize,
    pub interrupted: usize,
    /// Records of instants that did not run (a record may stand for many).
    pub missed: usize,
    /// Cluster occurrences whose holder, another host, died.
    pub abandoned: usize,
}

impl Outcomes {
    fn count(&mut self, outcome: Outcome) {
        let slot = match outcome {
            Outcome::Success => &mut self.success,
            Outcome::Failure => &mut self.failure,
            Outcome::Timeout => &mut self.timeout,
            Outcome::Skipped => &mut self.skipped,
            Outcome::Interrupted => &mut self.interrupted,
            Outcome::Missed => &mut self.missed,
            Outcome::Abandoned => &mut self.abandoned,
        };
        *slot += 1;
    }

    /// Failures, timeouts and abandoned occurrences.
    pub fn failed(&self) -> usize {
        self.failure + self.timeout + self.abandoned
    }

    /// Runs that ended on their own: successes, failures and timeouts.
    pub fn finished(&self) -> usize {
        self.success + self.failed()
    }
}

/// One run, briefly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRef {
    pub run_id: String,
    pub started: Timestamp,
    pub finished: Timestamp,
    pub outcome: Outcome,
    pub attempts: u32,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
}

impl From<&Record> for RunRef {
    fn from(r: &Record) -> RunRef {
        RunRef {
            run_id: r.run_id.clone(),
            started: r.started,
            finished: r.finished,
            outcome: r.outcome,
            attempts: r.attempts,
            exit_code: r.exit_code,
            signal: r.signal.clone(),
        }
    }
}

/// Durations of the runs that ended on their own, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Durations {
    pub p50: u64,
    pub p95: u64,
    pub max: u64,
}

/// A task's numbers over the records given (its live history: the last
/// `history.keep` runs, 1,000 unless the task file says otherwise).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskStats {
    pub task: String,
    /// Every record, skipped runs included.
    pub runs: usize,
    pub outcomes: Outcomes,
    /// Successes over runs that ended on their own; `None` without any.
    pub success_rate: Option<f64>,
    /// When the oldest record started.
    pub since: Option<Timestamp>,
    pub last_run: Option<RunRef>,
    /// The latest failure or timeout.
    pub last_failure: Option<RunRef>,
    pub last_success: Option<RunRef>,
    pub duration_ms: Option<Durations>,
    /// Runs that took more than one attempt.
    pub retried: usize,
    /// Runs that succeeded after more than one attempt.
    pub saved_by_retry: usize,
}

/// The numbers of `task` over `records`, oldest first.
pub fn compute(task: &str, records: &[Record]) -> TaskStats {
    let runs: Vec<Run> = records.iter().map(Run::from).collect();
    let last_where = |f: fn(Outcome) -> bool| records.iter().rev().find(|r| f(r.outcome));
    tally(
        task,
        &runs,
        [
            records.last(),
            last_where(|o| matches!(o, Outcome::Failure | Outcome::Timeout)),
            last_where(|o| o == Outcome::Success),
        ],
    )
}

/// The numbers of `task` over `records` (oldest first), given its last
/// run, last failure or timeout and last success.
pub fn tally(
    task: &str,
    records: &[Run],
    [last_run, last_failure, last_success]: [Option<&Record>; 3],
) -> TaskStats {
    let mut outcomes = Outcomes::default();
    let mut durations = Vec::new();
    let mut retried = 0;
    let mut saved_by_retry = 0;
    for r in records {
        outcomes.count(r.outcome);
        if matches!(
            r.outcome,
            Outcome::Success | Outcome::Failure | Outcome::Timeout
        ) {
            durations.push(r.duration_ms);
        }
        if r.attempts > 1 {
            retried += 1;
            if r.outcome == Outcome::Success {
                saved_by_retry += 1;
            }
        }
    }
    durations.sort_unstable();
    TaskStats {
        task: task.to_string(),
        runs: records.len(),
        success_rate: (outcomes.finished() > 0)
            .then(|| outcomes.success as f64 / outcomes.finished() as f64),
        outcomes,
        since: records.iter().map(|r| r.started).min(),
        last_run: last_run.map(RunRef::from),
        last_failure: last_failure.map(RunRef::from),
        last_success: last_success.map(RunRef::from),
        duration_ms: durations.last().map(|&max| Durations {
            p50: percentile(&durations, 50),
            p95: percentile(&durations, 95),
            max,
        }),
        retried,
        saved_by_retry,
    }
}

/// The nearest-rank `p`-th percentile of `sorted` (ascending, not empty):
/// the smallest value with at least `p`% of the values at or below it.
pub fn percentile(sorted: &[u64], p: u32) -> u64 {
    let n = sorted.len();
    let rank = (n * p as usize).div_ceil(100).clamp(1, n);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: i64, outcome: Outcome, attempts: u32, duration_ms: u64) -> Record {
        let started = Timestamp::from_second(1_700_000_000 + n * 3600).unwrap();
        Record {
            attempts,
            exit_code: match outcome {
                Outcome::Success => Some(0),
                Outcome::Failure => Some(3),
                _ => None,
            },
            signal: (outcome == Outcome::Timeout).then(|| "SIGTERM".into()),
            ..Record::sample("t", format!("r{n}"), started, outcome, duration_ms)
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[7], 50), 7);
        assert_eq!(percentile(&[7], 95), 7);
        assert_eq!(percentile(&[1, 2, 3, 4], 50), 2);
        assert_eq!(percentile(&[1, 2, 3, 4], 95), 4);
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50), 50);
        assert_eq!(percentile(&hundred, 95), 95);
        assert_eq!(percentile(&hundred, 100), 100);
        let twenty: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&twenty, 95), 19);
    }

    #[test]
    fn numbers_of_a_crafted_history() {
        use Outcome::*;
        let records = vec![
            run(0, Success, 1, 1000),
            run(1, Failure, 3, 400),
            run(2, Success, 2, 3000),
            run(3, Skipped, 0, 0),
            run(4, Timeout, 1, 60_000),
            run(5, Success, 1, 1200),
            run(6, Interrupted, 1, 50),
            run(7, Success, 3, 2000),
            run(8, Success, 1, 900),
        ];
        let s = compute("t", &records);
        assert_eq!(s.runs, 9);
        assert_eq!(
            s.outcomes,
            Outcomes {
                success: 5,
                failure: 1,
                timeout: 1,
                skipped: 1,
                interrupted: 1,
                missed: 0,
                abandoned: 0,
            }
        );
        // 5 successes of 7 runs that ended on their own.
        assert_eq!(s.success_rate, Some(5.0 / 7.0));
        // 400 900 1000 1200 2000 3000 60000
        assert_eq!(
            s.duration_ms,
            Some(Durations {
                p50: 1200,
                p95: 60_000,
                max: 60_000
            })
        );
        assert_eq!((s.retried, s.saved_by_retry), (3, 2));
        assert_eq!(s.last_failure.as_ref().unwrap().run_id, "r4");
        assert_eq!(s.last_failure.as_ref().unwrap().outcome, Timeout);
        assert_eq!(s.last_success.as_ref().unwrap().run_id, "r8");
        assert_eq!(s.last_run.as_ref().unwrap().run_id, "r8");
        assert_eq!(s.since, Some(records[0].started));
    }

    #[test]
    fn an_empty_or_skipped_only_history_has_no_rate_or_durations() {
        let s = compute("t", &[]);
        assert_eq!((s.runs, s.success_rate, s.duration_ms), (0, None, None));
        assert!(s.last_run.is_none() && s.since.is_none());
        let s = compute("t", &[run(0, Outcome::Skipped, 0, 0)]);
        assert_eq!((s.runs, s.success_rate, s.duration_ms), (1, None, None));
        assert!(s.last_failure.is_none());
    }
}
