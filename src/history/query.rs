//! Reading history across tasks without reading it all: `kron history`'s
//! newest runs (by start, newest first, with an outcome and a start
//! filter) and `kron stats`'s per-task numbers.
//!
//! Each task's index is read backwards in chunks ([`index`]); a heap merges
//! the tasks by start and stops once it has `n` runs, so `-n 20` over 200
//! tasks reads about 200 chunks of the indexes and 20 lines. An entry is
//! given out only when no older entry can have started later (the
//! index's running maximum says so). A task whose file has no usable
//! index (and none can be written) is read whole, as before the index.
//! Archives are read whole, and only when asked for (`--archive`) or when
//! `since` reaches back before the live file's first record.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::path::Path;

use jiff::Timestamp;

use super::index::{self, Entry, Indexed, nanos};
use super::{HistoryError, Outcome, Record, archive};

/// Which runs a query wants.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter {
    pub outcome: Option<Outcome>,
    pub since: Option<Timestamp>,
    /// Read the archives too, whatever `since` says.
    pub archive: bool,
}

impl Filter {
    fn wants(&self, outcome: Outcome, started: i64) -> bool {
        self.outcome.is_none_or(|o| o == outcome) && self.since.is_none_or(|s| started >= nanos(s))
    }
}

/// Index entries read per step backwards: 16 KiB.
const CHUNK: u64 = 400;

enum Item {
    Entry(Entry),
    Record(Box<Record>),
}

struct Candidate {
    started: i64,
    /// Later-written first among equal starts.
    order: u64,
    item: Item,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        (self.started, self.order) == (other.started, other.order)
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.started, self.order).cmp(&(other.started, other.order))
    }
}

/// One task's runs, newest start first.
struct Stream {
    indexed: Option<Indexed>,
    /// Entries `0..pos` are not read yet.
    pos: u64,
    /// No unread entry started later than this.
    bound: i64,
    ready: BinaryHeap<Candidate>,
}

impl Stream {
    fn open(
        dir: &Path,
        task: &str,
        filter: &Filter,
        warnings: &mut Vec<String>,
    ) -> Result<Stream, HistoryError> {
        let mut stream = Stream {
            indexed: index::ensure(dir, task)?,
            pos: 0,
            bound: i64::MIN,
            ready: BinaryHeap::new(),
        };
        let (loose, oldest_live) = match &stream.indexed {
            Some(ix) => {
                stream.pos = ix.count;
                stream.bound = i64::MAX;
                let (records, warned) = ix.unindexed();
                warnings.extend(warned);
                let first = ix.entries(0, ix.count.min(1)).first().map(|e| e.started);
                (records, first)
            }
            None => {
                let (records, warned) = super::read(dir, task)?;
                warnings.extend(warned);
                let first = records.iter().map(|r| nanos(r.started)).min();
                (records, first)
            }
        };
        let reaches_back = filter
            .since
            .is_some_and(|s| oldest_live.is_none_or(|o| nanos(s) < o));
        let mut order = u64::MAX / 2;
        if filter.archive || reaches_back {
            let from = if filter.archive { None } else { filter.since };
            let (records, warned) = archive::read(dir, task, from);
            warnings.extend(warned);
            for r in records {
                stream.offer(filter, Item::Record(Box::new(r)), order);
                order += 1;
            }
        }
        for r in loose {
            stream.offer(filter, Item::Record(Box::new(r)), u64::MAX - 1);
        }
        Ok(stream)
    }

    fn offer(&mut self, filter: &Filter, item: Item, order: u64) {
        let (outcome, started) = match &item {
            Item::Entry(e) => (e.outcome, e.started),
            Item::Record(r) => (r.outcome, nanos(r.started)),
        };
        if filter.wants(outcome, started) {
            self.ready.push(Candidate {
                started,
                order,
                item,
            });
        }
    }

    /// The start of the next run, reading back as far as needed to know it.
    fn peek(&mut self, filter: &Filter) -> Option<i64> {
        loop {
            if let Some(top) = self.ready.peek()
                && (top.started > self.bound || self.pos == 0)
            {
                return Some(top.started);
            }
            if self.pos == 0 {
                return None;
            }
            let ix = self.indexed.as_ref()?;
            let from = self.pos.saturating_sub(CHUNK);
            let entries = ix.entries(from, self.pos);
            if entries.len() as u64 != self.pos - from {
                // A damaged index: what it gave is all there is.
                self.pos = 0;
            } else {
                self.pos = from;
            }
            self.bound = match (self.pos, entries.first()) {
                (0, _) | (_, None) => i64::MIN,
                (_, Some(first)) => first.max_started,
            };
            if filter.since.is_some_and(|s| self.bound < nanos(s)) {
                self.pos = 0;
            }
            for (i, e) in entries.into_iter().enumerate() {
                self.offer(filter, Item::Entry(e), from + i as u64);
            }
        }
    }

    fn pop(&mut self) -> Option<Candidate> {
        self.ready.pop()
    }
}

/// The newest `n` runs of `tasks` that `filter` wants, newest start first,
/// and a warning for each line or archive that could not be read.
pub fn newest(
    dir: &Path,
    tasks: &[String],
    filter: &Filter,
    n: usize,
) -> Result<(Vec<Record>, Vec<String>), HistoryError> {
    let mut warnings = Vec::new();
    let mut streams = Vec::new();
    let mut heap = BinaryHeap::new();
    for (i, task) in tasks.iter().enumerate() {
        let mut stream = Stream::open(dir, task, filter, &mut warnings)?;
        if let Some(started) = stream.peek(filter) {
            heap.push((started, Reverse(i)));
        }
        streams.push(stream);
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    while out.len() < n {
        let Some((_, Reverse(i))) = heap.pop() else {
            break;
        };
        let stream = &mut streams[i];
        let candidate = stream.pop().expect("a peeked stream has a run");
        let record = match candidate.item {
            Item::Record(r) => Some(*r),
            Item::Entry(e) => stream.indexed.as_ref().and_then(|ix| ix.record(&e)),
        };
        match record {
            // An archived copy of a record the file still has (a trim
            // stopped between its two writes) is shown once.
            Some(r) if seen.insert(r.run_id.clone()) => out.push(r),
            Some(_) => {}
            None => warnings.push(format!(
                "{}: its index does not match it; run any task once to rebuild it",
                super::path(dir, &tasks[i]).display()
            )),
        }
        if let Some(started) = stream.peek(filter) {
            heap.push((started, Reverse(i)));
        }
    }
    Ok((out, warnings))
}

/// What `kron stats` needs of a task's live history: each run briefly, in
/// file order, and the last run, failure and success in full.
#[derive(Debug, Default)]
pub struct Scan {
    pub runs: Vec<Run>,
    pub last_run: Option<Record>,
    pub last_failure: Option<Record>,
    pub last_success: Option<Record>,
    pub warnings: Vec<String>,
}

/// The live history of `task`, through its index.
pub fn scan(dir: &Path, task: &str) -> Result<Scan, HistoryError> {
    let Some(ix) = index::ensure(dir, task)? else {
        let (records, warnings) = super::read(dir, task)?;
        return Ok(Scan {
            warnings,
            ..Scan::of(&records)
        });
    };
    let entries = ix.entries(0, ix.count);
    let (tail, warnings) = ix.unindexed();
    let mut scan = Scan {
        warnings,
        ..Scan::default()
    };
    scan.runs = entries
        .iter()
        .map(|e| Run {
            outcome: e.outcome,
            attempts: u32::from(e.attempts),
            duration_ms: e.duration_ms,
            started: Timestamp::from_nanosecond(i128::from(e.started))
                .unwrap_or(Timestamp::UNIX_EPOCH),
        })
        .chain(tail.iter().map(Run::from))
        .collect();
    let last = |f: fn(Outcome) -> bool| -> Option<Record> {
        tail.iter()
            .rev()
            .find(|r| f(r.outcome))
            .cloned()
            .or_else(|| {
                entries
                    .iter()
                    .rev()
                    .find(|e| f(e.outcome))
                    .and_then(|e| ix.record(e))
            })
    };
    scan.last_run = last(|_| true);
    scan.last_failure = last(|o| matches!(o, Outcome::Failure | Outcome::Timeout));
    scan.last_success = last(|o| o == Outcome::Success);
    Ok(scan)
}

impl Scan {
    fn of(records: &[Record]) -> Scan {
        let last = |f: fn(Outcome) -> bool| records.iter().rev().find(|r| f(r.outcome)).cloned();
        Scan {
            runs: records.iter().map(Run::from).collect(),
            last_run: records.last().cloned(),
            last_failure: last(|o| matches!(o, Outcome::Failure | Outcome::Timeout)),
            last_success: last(|o| o == Outcome::Success),
            warnings: Vec::new(),
        }
    }
}

/// What `kron stats` needs of one run (the index has it without the line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub outcome: Outcome,
    pub attempts: u32,
    pub duration_ms: u64,
    pub started: Timestamp,
}

impl From<&Record> for Run {
    fn from(r: &Record) -> Run {
        Run {
            outcome: r.outcome,
            attempts: r.attempts,
            duration_ms: r.duration_ms,
            started: r.started,
        }
    }
}
