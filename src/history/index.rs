//! The index beside each history file: `.NAME.idx`, one fixed-size entry
//! per record of `NAME.jsonl` (where its line is, when it started, its
//! outcome, attempts and duration), so that queries read 40 bytes per
//! record instead of parsing 250, and read only the lines they show.
//!
//! The JSONL file stays the truth: the index is derived from it, written
//! under the same lock, and checked by every reader. Its header names the
//! inode of the file it describes (a trim replaces both), and a reader
//! uses only whole entries that end within the file; lines past the last
//! entry (a writer that stopped between its two writes) are parsed from
//! the file. An index that does not fit its file is rebuilt by the next
//! writer, or by a reader under the lock ([`ensure`]); until then readers
//! parse the whole file, as before the index existed.
//!
//! Each entry also carries the largest start of the records up to it, so
//! that a reader going backwards knows when no older entry can have
//! started later than what it holds (records are appended as runs finish,
//! which is nearly, not exactly, the order they started in).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{HistoryError, Outcome, Record, io};

const MAGIC: &[u8; 8] = b"KRONIX01";
pub const HEADER: u64 = 16;
pub const ENTRY: u64 = 40;

/// One record's place and numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Where its line starts in the JSONL file, and its length with `\n`.
    pub start: u64,
    pub len: u32,
    pub outcome: Outcome,
    /// Attempts made, at most 255.
    pub attempts: u8,
    /// Nanoseconds since the epoch.
    pub started: i64,
    /// The largest `started` of this entry and every one before it.
    pub max_started: i64,
    pub duration_ms: u64,
}

impl Entry {
    pub fn end(&self) -> u64 {
        self.start + u64::from(self.len)
    }

    pub fn of(record: &Record, start: u64, len: usize, previous_max: i64) -> Entry {
        let started = nanos(record.started);
        Entry {
            start,
            len: u32::try_from(len).unwrap_or(u32::MAX),
            outcome: record.outcome,
            attempts: u8::try_from(record.attempts).unwrap_or(u8::MAX),
            started,
            max_started: previous_max.max(started),
            duration_ms: record.duration_ms,
        }
    }

    fn encode(&self) -> [u8; ENTRY as usize] {
        let mut b = [0u8; ENTRY as usize];
        b[0..8].copy_from_slice(&self.start.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12] = outcome_code(self.outcome);
        b[13] = self.attempts;
        b[16..24].copy_from_slice(&self.started.to_le_bytes());
        b[24..32].copy_from_slice(&self.max_started.to_le_bytes());
        b[32..40].copy_from_slice(&self.duration_ms.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<Entry> {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
        Some(Entry {
            start: u64_at(0),
            len: u32::from_le_bytes(b[8..12].try_into().unwrap()),
            outcome: outcome_of(b[12])?,
            attempts: b[13],
            started: u64_at(16) as i64,
            max_started: u64_at(24) as i64,
            duration_ms: u64_at(32),
        })
    }
}

pub fn nanos(t: jiff::Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

/// An outcome's code in an entry. Codes are on disk: append, never
/// renumber. A match, so that a new outcome cannot compile without one.
fn outcome_code(o: Outcome) -> u8 {
    match o {
        Outcome::Success => 0,
        Outcome::Failure => 1,
        Outcome::Timeout => 2,
        Outcome::Skipped => 3,
        Outcome::Interrupted => 4,
        Outcome::Missed => 5,
        Outcome::Abandoned => 6,
    }
}

fn outcome_of(code: u8) -> Option<Outcome> {
    Some(match code {
        0 => Outcome::Success,
        1 => Outcome::Failure,
        2 => Outcome::Timeout,
        3 => Outcome::Skipped,
        4 => Outcome::Interrupted,
        5 => Outcome::Missed,
        6 => Outcome::Abandoned,
        _ => return None,
    })
}

/// `DIR/.NAME.idx`.
pub fn path(dir: &Path, task: &str) -> PathBuf {
    dir.join(format!(".{task}.idx"))
}

/// A history file opened with its index, as they were at one moment.
pub struct Indexed {
    pub file: File,
    pub file_path: PathBuf,
    /// The file's length when opened: what this reader sees.
    pub len: u64,
    idx: File,
    /// Whole entries that end within `len`.
    pub count: u64,
    /// Where the last entry's line ends (0 without entries).
    pub covered: u64,
}

impl Indexed {
    /// The history file of `task` with its index, or `None` when the file
    /// does not exist or its index does not fit it (see the module).
    pub fn open(dir: &Path, task: &str) -> Result<Option<Indexed>, HistoryError> {
        // A trim replaces the file and then its index: a reader that came
        // between the two renames tries again.
        for _ in 0..3 {
            match Indexed::try_open(dir, task)? {
                Opened::Missing => return Ok(None),
                Opened::Fits(i) => return Ok(Some(i)),
                Opened::Misfit => {}
            }
        }
        Ok(None)
    }

    fn try_open(dir: &Path, task: &str) -> Result<Opened, HistoryError> {
        let file_path = super::path(dir, task);
        let file = match File::open(&file_path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Opened::Missing),
            Err(e) => return Err(io("opening", &file_path)(e)),
        };
        let meta = file.metadata().map_err(io("reading", &file_path))?;
        let Ok(idx) = File::open(path(dir, task)) else {
            return Ok(Opened::Misfit);
        };
        let Some(count) = fitting(&idx, meta.ino()) else {
            return Ok(Opened::Misfit);
        };
        let mut indexed = Indexed {
            file,
            file_path,
            len: meta.len(),
            idx,
            count,
            covered: 0,
        };
        // Entries past the file's end belong to a newer file than this one.
        while indexed.count > 0 {
            match indexed.entries(indexed.count - 1, indexed.count).pop() {
                Some(last) if last.end() <= indexed.len => {
                    indexed.covered = last.end();
                    break;
                }
                Some(_) => return Ok(Opened::Misfit),
                None => indexed.count -= 1,
            }
        }
        Ok(Opened::Fits(indexed))
    }

    /// Entries `from..to` (in file order); a damaged entry ends the list.
    pub fn entries(&self, from: u64, to: u64) -> Vec<Entry> {
        let mut buf = vec![0u8; ((to - from) * ENTRY) as usize];
        if self
            .idx
            .read_exact_at(&mut buf, HEADER + from * ENTRY)
            .is_err()
        {
            return Vec::new();
        }
        buf.chunks_exact(ENTRY as usize)
            .map_while(Entry::decode)
            .collect()
    }

    /// The record of `entry`, read from the file; `None` when its line is
    /// not one (the index does not fit after all).
    pub fn record(&self, entry: &Entry) -> Option<Record> {
        let mut line = vec![0u8; entry.len as usize];
        self.file.read_exact_at(&mut line, entry.start).ok()?;
        serde_json::from_slice(&line).ok()
    }

    /// The records after the last entry (written by a writer that stopped
    /// before its index entry), with a warning for each line that does
    /// not parse.
    pub fn unindexed(&self) -> (Vec<Record>, Vec<String>) {
        let mut tail = vec![0u8; (self.len - self.covered) as usize];
        if tail.is_empty() || self.file.read_exact_at(&mut tail, self.covered).is_err() {
            return (Vec::new(), Vec::new());
        }
        let mut records = Vec::new();
        let mut warnings = Vec::new();
        for line in tail.split_inclusive(|&b| b == b'\n') {
            match serde_json::from_slice::<Record>(line) {
                Ok(r) => records.push(r),
                Err(_) if line.trim_ascii().is_empty() => {}
                Err(e) => warnings.push(format!(
                    "{}: skipping a {} record at the end ({e})",
                    self.file_path.display(),
                    if line.ends_with(b"\n") {
                        "malformed"
                    } else {
                        "truncated"
                    }
                )),
            }
        }
        (records, warnings)
    }
}

enum Opened {
    Missing,
    Fits(Indexed),
    Misfit,
}

/// How many whole entries `idx` holds when its header names `inode`.
fn fitting(idx: &File, inode: u64) -> Option<u64> {
    let mut header = [0u8; HEADER as usize];
    idx.read_exact_at(&mut header, 0).ok()?;
    if &header[..8] != MAGIC || u64::from_le_bytes(header[8..].try_into().unwrap()) != inode {
        return None;
    }
    let len = idx.metadata().ok()?.len();
    Some((len - HEADER) / ENTRY)
}

/// Adds the entry of the line just appended at `start` to the file,
/// whose length was `start` (or `start - 1`, when the writer ended a
/// torn line first); rebuilds the index when it does not end where the
/// file did. The caller holds the history lock.
pub fn append(
    dir: &Path,
    task: &str,
    file: &File,
    old_len: u64,
    record: &Record,
    start: u64,
    len: usize,
) -> Result<(), HistoryError> {
    let idx_path = path(dir, task);
    let inode = file.metadata().map_err(io("reading", &idx_path))?.ino();
    if let Ok(idx) = OpenOptions::new().read(true).append(true).open(&idx_path)
        && let Some(count) = fitting(&idx, inode)
        && idx
            .metadata()
            .is_ok_and(|m| m.len() == HEADER + count * ENTRY)
    {
        let last = match count {
            0 => None,
            _ => {
                let mut b = [0u8; ENTRY as usize];
                idx.read_exact_at(&mut b, HEADER + (count - 1) * ENTRY)
                    .ok()
                    .and_then(|()| Entry::decode(&b))
            }
        };
        let (covered, max) = last.map_or((0, i64::MIN), |e| (e.end(), e.max_started));
        if covered == old_len && (count > 0 || old_len == 0) {
            let entry = Entry::of(record, start, len, max);
            return (&idx)
                .write_all(&entry.encode())
                .map_err(io("writing", &idx_path));
        }
    }
    rebuild(dir, task)
}

/// Writes the index of `task`'s file anew from its lines. The caller
/// holds the history lock.
pub fn rebuild(dir: &Path, task: &str) -> Result<(), HistoryError> {
    let file_path = super::path(dir, task);
    let file = File::open(&file_path).map_err(io("opening", &file_path))?;
    let inode = file.metadata().map_err(io("reading", &file_path))?.ino();
    let mut entries = Vec::new();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut start = 0u64;
    let mut max = i64::MIN;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(io("reading", &file_path))?;
        if n == 0 {
            break;
        }
        if line.ends_with(b"\n")
            && let Ok(record) = serde_json::from_slice::<Record>(&line)
        {
            let entry = Entry::of(&record, start, n, max);
            max = entry.max_started;
            entries.push(entry);
        }
        start += n as u64;
    }
    write(dir, task, inode, &entries)
}

/// Replaces `task`'s index with `entries` for the file of `inode`
/// (temporary file and rename; no fsync: an index lost in a crash is
/// rebuilt from the file).
pub fn write(dir: &Path, task: &str, inode: u64, entries: &[Entry]) -> Result<(), HistoryError> {
    let idx_path = path(dir, task);
    let tmp = dir.join(format!(".{task}.idx.tmp"));
    let mut bytes = Vec::with_capacity(HEADER as usize + entries.len() * ENTRY as usize);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&inode.to_le_bytes());
    for e in entries {
        bytes.extend_from_slice(&e.encode());
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(io("writing", &tmp))?;
    std::fs::rename(&tmp, &idx_path).map_err(io("replacing", &idx_path))
}

/// The index of `task`'s file, rebuilt under the history lock when it
/// does not fit (a file written before the index existed, or by a writer
/// that stopped between its two writes); `None` when there is no file or
/// the index cannot be written (a read-only state directory).
pub fn ensure(dir: &Path, task: &str) -> Result<Option<Indexed>, HistoryError> {
    if let Some(indexed) = Indexed::open(dir, task)? {
        return Ok(Some(indexed));
    }
    if !super::path(dir, task).exists() {
        return Ok(None);
    }
    let Ok(_guard) = super::lock(dir, task) else {
        return Ok(None);
    };
    if Indexed::open(dir, task)?.is_none() && rebuild(dir, task).is_err() {
        return Ok(None);
    }
    Indexed::open(dir, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_outcome_has_a_code_that_reads_back() {
        use clap::ValueEnum;
        for &o in Outcome::value_variants() {
            assert_eq!(outcome_of(outcome_code(o)), Some(o));
        }
        assert_eq!(outcome_of(7), None);
    }
}
