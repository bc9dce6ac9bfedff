//! Run history: `$XDG_STATE_HOME/kron/history/NAME.jsonl`, one JSON line
//! per finished (or skipped) run, in the order they were written, with its
//! index `.NAME.idx` ([`index`]) and, for what retention took out of it,
//! monthly gzipped archives ([`archive`]). Queries across tasks read the
//! files backwards through their indexes ([`query`]).
//!
//! Appends and trims happen under an flock on `.NAME.jsonl.lock` beside the
//! file. An append is one `write` of one line under `O_APPEND`, then one
//! index entry. A file is trimmed to its task's `keep` records, none older
//! than `max_age` ([`Retention`]), only once it holds a tenth more (so the
//! trim, an atomic rewrite, happens once every `keep / 10` runs, not on
//! each); the records it takes out go to the archive first. A line that
//! does not parse, such as the last line of a writer that crashed
//! mid-write, is skipped with a warning, never fatal; the next append
//! first ends that line so its own record stays whole.
//!
//! A record that cannot be written (the state disk is full) is not lost:
//! [`record`] keeps it in `$RUNTIME/unrecorded/RUN_ID.json` (the runtime
//! directory is usually a tmpfs of its own), where `kron status` and `kron
//! doctor` count it, and the next record that can be written takes the kept
//! ones into their histories first.

pub mod archive;
pub mod index;
pub mod query;
pub mod retention;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::dirs::Paths;
pub use retention::Retention;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Schedule,
    Manual,
    CatchUp,
    Reboot,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::CatchUp => "catch-up",
            Trigger::Reboot => "reboot",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
    Timeout,
    Skipped,
    Interrupted,
    /// Scheduled instants that did not run (the daemon was not running, the
    /// catch-up policy or `max_lateness` let them go): one record for a
    /// stretch of them ([`Record::missed`]).
    Missed,
    /// A cluster occurrence whose holder, another host, stopped renewing
    /// its lease (it died or was cut off): recorded by the host that
    /// noticed, under `cluster = "once"`.
    Abandoned,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Timeout => "timeout",
            Outcome::Skipped => "skipped",
            Outcome::Interrupted => "interrupted",
            Outcome::Missed => "missed",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// One run, as written to the history file (field order is the file's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub run_id: String,
    pub task: String,
    pub trigger: Trigger,
    /// The instant the run was due; `None` for manual runs.
    pub scheduled: Option<Timestamp>,
    pub started: Timestamp,
    pub finished: Timestamp,
    /// Attempts made (0 for a skipped run).
    pub attempts: u32,
    /// The last attempt's exit code, if it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended the last attempt (`SIGKILL`), if one did.
    pub signal: Option<String>,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// Why a run was skipped, interrupted, missed or could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Processes of the command's group still running when its main
    /// process exited, and left running (`leftovers = "keep"`), by pid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<i32>,
    /// Such processes that kron stopped (`leftovers = "kill"`, or they
    /// still held the command's output), by pid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers_stopped: Vec<i32>,
    /// For a `missed` record: the stretch of instants it stands for
    /// (`scheduled` is the last of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed: Option<Stretch>,
}

/// Scheduled instants that did not run, as one record: a laptop closed
/// for a month with an every-second task writes one record, not millions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stretch {
    /// How many instants (at least, when `more`).
    pub count: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// `1 process (pid 4242)`, `2 processes (pids 4242, 4243)`: leftovers in
/// words, for footers and messages.
pub fn processes(pids: &[i32]) -> String {
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    match list.as_slice() {
        [pid] => format!("1 process (pid {pid})"),
        _ => format!("{} processes (pids {})", list.len(), list.join(", ")),
    }
}

impl Record {
    /// The record of instants that did not run, written at `now`: the
    /// daemon's (downtime, a pause, a wait past `max_lateness`) and a
    /// supervisor's (a claim that failed, a lock waited on too long).
    pub fn missed(
        run_id: String,
        task: &str,
        trigger: Trigger,
        stretch: Stretch,
        reason: String,
        now: Timestamp,
    ) -> Record {
        Record {
            run_id,
            task: task.to_string(),
            trigger,
            scheduled: Some(stretch.last),
            started: now,
            finished: now,
            attempts: 0,
            exit_code: None,
            signal: None,
            outcome: Outcome::Missed,
            duration_ms: 0,
            reason: Some(reason),
            leftovers: Vec::new(),
            leftovers_stopped: Vec::new(),
            missed: Some(stretch),
        }
    }
}

#[cfg(test)]
impl Record {
    /// A record for tests: one attempt of a scheduled run of `task` that
    /// started at `started`, lasted `duration_ms` and ended as `outcome`.
    pub(crate) fn sample(
        task: &str,
        run_id: String,
        started: Timestamp,
        outcome: Outcome,
        duration_ms: u64,
    ) -> Record {
        Record {
            run_id,
            task: task.into(),
            trigger: Trigger::Schedule,
            scheduled: Some(started),
            started,
            finished: started + std::time::Duration::from_millis(duration_ms),
            attempts: 1,
            exit_code: None,
            signal: None,
            outcome,
            duration_ms,
            reason: None,
            leftovers: Vec::new(),
            leftovers_stopped: Vec::new(),
            missed: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{action} {}: {source}", path.display())]
pub struct HistoryError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// `DIR/NAME.jsonl`.
pub fn path(dir: &Path, task: &str) -> PathBuf {
    dir.join(format!("{task}.jsonl"))
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> HistoryError {
    let path = path.to_path_buf();
    move |source| HistoryError {
        action,
        path,
        source,
    }
}

/// Appends `record` to its task's history, or keeps it for later when the
/// history cannot be written (the error is still returned, for a warning).
/// After a record that could be written, the kept ones are written too.
/// `retention` is the task's (`None` where the writer does not know it:
/// the file is then not trimmed, and the task's next run trims it).
pub fn record(
    paths: &Paths,
    record: &Record,
    retention: Option<&Retention>,
) -> Result<(), HistoryError> {
    match append(&paths.history_dir(), record, retention) {
        Ok(()) => {
            write_kept(paths);
            Ok(())
        }
        Err(e) => {
            let dir = paths.unrecorded_dir();
            let kept = crate::dirs::create_private_dir(&dir).and_then(|()| {
                let bytes = serde_json::to_vec(record).expect("records serialize");
                std::fs::write(dir.join(format!("{}.json", record.run_id)), bytes)
            });
            Err(match kept {
                Ok(()) => HistoryError {
                    action: "keeping the record in $RUNTIME/unrecorded until there is room: writing",
                    ..e
                },
                Err(_) => e,
            })
        }
    }
}

/// Whether a record of `task` for instant `at` waits in
/// `$RUNTIME/unrecorded` for its history.
pub fn kept(paths: &Paths, task: &str, at: Timestamp) -> bool {
    let Ok(entries) = std::fs::read_dir(paths.unrecorded_dir()) else {
        return false;
    };
    entries.flatten().any(|e| {
        std::fs::read(e.path())
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
            .is_some_and(|r| r.task == task && r.scheduled == Some(at))
    })
}

/// How many records wait in `$RUNTIME/unrecorded` for their history.
pub fn unrecorded(paths: &Paths) -> usize {
    std::fs::read_dir(paths.unrecorded_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

/// Writes the kept records into their histories. Each is claimed by a
/// rename first, so that concurrent writers never write one twice.
fn write_kept(paths: &Paths) {
    let dir = paths.unrecorded_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(run_id) = name.strip_suffix(".json") else {
            continue;
        };
        let claimed = dir.join(format!(".{run_id}.{}", std::process::id()));
        if std::fs::rename(entry.path(), &claimed).is_err() {
            continue;
        }
        let kept: Option<Record> = std::fs::read(&claimed)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        match kept.map(|r| append(&paths.history_dir(), &r, None)) {
            Some(Err(_)) => {
                let _ = std::fs::rename(&claimed, entry.path());
                return;
            }
            Some(Ok(())) | None => {
                let _ = std::fs::remove_file(&claimed);
            }
        }
    }
}

/// Takes the history lock of `task` (`.NAME.jsonl.lock` in `dir`).
pub(crate) fn lock(dir: &Path, task: &str) -> Result<File, HistoryError> {
    let guard_path = dir.join(format!(".{task}.jsonl.lock"));
    let guard = open(&guard_path, false)?;
    guard.lock().map_err(io("locking", &guard_path))?;
    Ok(guard)
}

/// Appends `record` to its task's history and index, trimming the file
/// when `retention` says it is due.
pub fn append(
    dir: &Path,
    record: &Record,
    retention: Option<&Retention>,
) -> Result<(), HistoryError> {
    crate::dirs::create_private_dir(dir).map_err(io("creating", dir))?;
    let task = record.task.as_str();
    let file_path = path(dir, task);
    let _guard = lock(dir, task)?;
    let mut file = open(&file_path, true)?;
    let len = file.metadata().map_err(io("reading", &file_path))?.len();
    let mut line = String::new();
    if len > 0 {
        let mut last = [0u8];
        file.read_exact_at(&mut last, len - 1)
            .map_err(io("reading", &file_path))?;
        if last[0] != b'\n' {
            // A writer crashed mid-line: end it, keep this record whole.
            line.push('\n');
        }
    }
    let start = len + line.len() as u64;
    let json = serde_json::to_string(record).expect("records serialize");
    line.push_str(&json);
    line.push('\n');
    file.write_all(line.as_bytes())
        .map_err(io("writing", &file_path))?;
    // The record is in the file: what follows only keeps the index and
    // the file's size, and is redone by the next writer if it fails.
    index::append(dir, task, &file, len, record, start, json.len() + 1)?;
    if let Some(retention) = retention {
        trim_if_due(dir, task, retention)?;
    }
    Ok(())
}

fn open(path: &Path, append: bool) -> Result<File, HistoryError> {
    OpenOptions::new()
        .read(true)
        .append(append)
        .write(!append)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io("opening", path))
}

/// Trims `task`'s file when `retention` says it is due, reading only the
/// index (its count and first entry) to decide. The caller holds the lock.
fn trim_if_due(dir: &Path, task: &str, retention: &Retention) -> Result<(), HistoryError> {
    let Some(indexed) = index::Indexed::open(dir, task)? else {
        return Ok(());
    };
    let now = index::nanos(Timestamp::now());
    let oldest = indexed.entries(0, indexed.count.min(1));
    let due = oldest
        .first()
        .is_some_and(|first| retention.due(indexed.count, first.started, now));
    if due {
        trim(dir, task, &indexed, retention, now)?;
    }
    Ok(())
}

/// Moves the records past retention to the archive, then rewrites the
/// file (and its index) without them: a temporary file, fsync, rename.
/// The caller holds the lock.
fn trim(
    dir: &Path,
    task: &str,
    indexed: &index::Indexed,
    retention: &Retention,
    now: i64,
) -> Result<(), HistoryError> {
    let file_path = &indexed.file_path;
    let entries = indexed.entries(0, indexed.count);
    let cut = retention.cut(&entries, now);
    if cut == 0 {
        return Ok(());
    }
    let mut text = vec![0u8; indexed.len as usize];
    indexed
        .file
        .read_exact_at(&mut text, 0)
        .map_err(io("reading", file_path))?;
    // The leaving records by month, each month's lines in file order.
    let mut months: std::collections::BTreeMap<jiff::civil::Date, Vec<u8>> = Default::default();
    for e in &entries[..cut] {
        let line = &text[e.start as usize..e.end() as usize];
        months
            .entry(archive::month_of(e.started))
            .or_default()
            .extend_from_slice(line);
    }
    for (month, lines) in &months {
        archive::append(dir, task, *month, lines)?;
    }
    let from = entries.get(cut).map_or(indexed.len, |e| e.start);
    let tmp = file_path.with_extension("jsonl.tmp");
    let mut out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io("creating", &tmp))?;
    out.write_all(&text[from as usize..])
        .map_err(io("writing", &tmp))?;
    out.sync_all().map_err(io("syncing", &tmp))?;
    let inode = out.metadata().map_err(io("reading", &tmp))?.ino();
    let mut max = i64::MIN;
    let kept: Vec<index::Entry> = entries[cut..]
        .iter()
        .map(|e| {
            max = max.max(e.started);
            index::Entry {
                start: e.start - from,
                max_started: max,
                ..*e
            }
        })
        .collect();
    std::fs::rename(&tmp, file_path).map_err(io("replacing", file_path))?;
    index::write(dir, task, inode, &kept)?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    if let Some(age) = retention.archive_max_age {
        archive::expire(dir, task, age, Timestamp::now());
    }
    Ok(())
}

/// A history file's records, oldest first, and a warning for each line
/// skipped because it does not parse.
pub fn read(dir: &Path, task: &str) -> Result<(Vec<Record>, Vec<String>), HistoryError> {
    let file_path = path(dir, task);
    let file = match File::open(&file_path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), vec![])),
        Err(e) => return Err(io("opening", &file_path)(e)),
    };
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader
            .read_until(b'\n', &mut line)
            .map_err(io("reading", &file_path))?
            == 0
        {
            break;
        }
        number += 1;
        let complete = line.ends_with(b"\n");
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => records.push(record),
            Err(_) if line.trim_ascii().is_empty() => {}
            Err(e) => warnings.push(format!(
                "{}:{number}: skipping a {} record ({e})",
                file_path.display(),
                if complete { "malformed" } else { "truncated" }
            )),
        }
    }
    Ok((records, warnings))
}

/// The tasks that have a history file, sorted.
pub fn tasks(dir: &Path) -> Vec<String> {
    crate::dirs::task_files(dir, |name| {
        name.strip_suffix(".jsonl").filter(|n| !n.starts_with('.'))
    })
}

/// The task's last record, reading only the end of the file (for `kron
/// list`, which shows it for every task).
pub fn last(dir: &Path, task: &str) -> Option<Record> {
    let mut file = File::open(path(dir, task)).ok()?;
    let len = file.metadata().ok()?.len();
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail).ok()?;
        // Whole lines only: skip the first, partial, one unless at the start.
        let mut lines: Vec<&[u8]> = tail.split(|&b| b == b'\n').collect();
        if start > 0 {
            lines.remove(0);
        }
        if let Some(r) = lines
            .iter()
            .rev()
            .find_map(|l| serde_json::from_slice::<Record>(l).ok())
        {
            return Some(r);
        }
        if start == 0 {
            return None;
        }
        window *= 4;
    }
}

/// How many runs [`recent_durations`] looks at, at most.
pub const RECENT: usize = 100;

/// The durations, in milliseconds, of the task's last `limit` runs that
/// ended on their own (success, failure, timeout), newest first. Only the
/// end of the file is read, and of each line only its outcome and
/// duration (`kron plan` reads them for every task, [`brief`]); a line
/// that does not parse is passed over.
pub fn recent_durations(dir: &Path, task: &str, limit: usize) -> Vec<u64> {
    // About 100 records, most often in one read.
    const CHUNK: u64 = 32 * 1024;
    let mut out = Vec::new();
    let Ok(file) = File::open(path(dir, task)) else {
        return out;
    };
    let Ok(mut end) = file.metadata().map(|m| m.len()) else {
        return out;
    };
    // The start of the line the previous chunk began in the middle of.
    let mut carry: Vec<u8> = Vec::new();
    while end > 0 && out.len() < limit {
        let start = end.saturating_sub(CHUNK);
        let mut buf = vec![0; (end - start) as usize];
        if file.read_exact_at(&mut buf, start).is_err() {
            break;
        }
        buf.extend_from_slice(&carry);
        let cut = match start {
            0 => 0,
            _ => buf
                .iter()
                .position(|&b| b == b'\n')
                .map_or(buf.len(), |i| i + 1),
        };
        for line in buf[cut..].split(|&b| b == b'\n').rev() {
            match brief(line) {
                Some((b"success" | b"failure" | b"timeout", ms)) => out.push(ms),
                _ => continue,
            }
            if out.len() == limit {
                break;
            }
        }
        carry = buf[..cut].to_vec();
        end = start;
    }
    out
}

/// A record line's outcome and duration. kron writes records compactly, so
/// the two are found without parsing the rest: in a whole line (it ends
/// with `}`), the keys `"outcome":"` and `"duration_ms":`, which cannot
/// occur inside a string value, where every `"` is escaped. A line written
/// otherwise (by hand, with spaces) is parsed.
fn brief(line: &[u8]) -> Option<(&[u8], u64)> {
    // From the end, where the two keys are.
    fn after<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
        let at = line
            .windows(key.len())
            .rposition(|w| w[0] == b'"' && w == key)?;
        Some(&line[at + key.len()..])
    }
    #[derive(Deserialize)]
    struct Brief<'a> {
        #[serde(borrow)]
        outcome: &'a str,
        duration_ms: u64,
    }
    if line.trim_ascii_end().last() != Some(&b'}') {
        return None;
    }
    let fast = || {
        let outcome = after(line, b"\"outcome\":\"")?;
        let outcome = &outcome[..outcome.iter().position(|&b| b == b'"')?];
        let digits = after(line, b"\"duration_ms\":")?;
        let digits = &digits[..digits.iter().take_while(|b| b.is_ascii_digit()).count()];
        let ms = std::str::from_utf8(digits).ok()?.parse().ok()?;
        Some((outcome, ms))
    };
    fast().or_else(|| {
        let brief: Brief = serde_json::from_slice(line).ok()?;
        Some((brief.outcome.as_bytes(), brief.duration_ms))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(task: &str, n: u32) -> Record {
        Record {
            run_id: format!("r{n}"),
            task: task.into(),
            trigger: Trigger::Manual,
            scheduled: None,
            started: Timestamp::from_second(1_700_000_000).unwrap(),
            finished: Timestamp::from_second(1_700_000_001).unwrap(),
            attempts: 1,
            exit_code: Some(0),
            signal: None,
            outcome: Outcome::Success,
            duration_ms: 1000,
            reason: None,
            leftovers: Vec::new(),
            leftovers_stopped: Vec::new(),
            missed: None,
        }
    }

    #[test]
    fn a_truncated_last_line_is_skipped_and_the_next_append_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        append(dir.path(), &record("t", 1), None).unwrap();
        let file = path(dir.path(), "t");
        let mut f = OpenOptions::new().append(true).open(&file).unwrap();
        f.write_all(b"{\"run_id\":\"r2\",\"ta").unwrap();
        let (records, warnings) = read(dir.path(), "t").unwrap();
        assert_eq!(records, vec![record("t", 1)]);
        assert!(warnings[0].contains("t.jsonl:2: skipping a truncated record"));
        append(dir.path(), &record("t", 3), None).unwrap();
        let (records, warnings) = read(dir.path(), "t").unwrap();
        assert_eq!(records, vec![record("t", 1), record("t", 3)]);
        assert_eq!(warnings.len(), 1);
        assert_eq!(last(dir.path(), "t"), Some(record("t", 3)));
    }

    #[test]
    fn recent_durations_read_the_end_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(recent_durations(dir.path(), "t", 5).is_empty());
        // Enough records for several chunks, some of them skipped.
        for n in 0..1000u32 {
            let mut r = record("t", n);
            r.duration_ms = u64::from(n);
            if n % 10 == 9 {
                r.outcome = Outcome::Skipped;
            }
            append(dir.path(), &r, None).unwrap();
        }
        let recent = recent_durations(dir.path(), "t", 12);
        assert_eq!(
            recent,
            [998, 997, 996, 995, 994, 993, 992, 991, 990, 988, 987, 986]
        );
        let all = recent_durations(dir.path(), "t", 5000);
        assert_eq!(all.len(), 900);
        assert_eq!(all.last(), Some(&0));
        // What is read is what serde reads, whatever the record holds.
        let mut odd = record("t", 1);
        odd.reason = Some(r#"held "outcome":"failure","duration_ms":5 by x"#.into());
        odd.duration_ms = 1234;
        let line = serde_json::to_string(&odd).unwrap();
        assert_eq!(brief(line.as_bytes()), Some((&b"success"[..], 1234)));
        assert_eq!(brief(&line.as_bytes()[..line.len() - 1]), None);
        let spaced = br#"{"run_id": "r", "outcome": "failure", "duration_ms": 42}"#;
        assert_eq!(brief(spaced), Some((&b"failure"[..], 42)));
    }

    #[test]
    fn the_file_is_trimmed_to_the_last_records_and_the_rest_archived() {
        let dir = tempfile::tempdir().unwrap();
        let keep = Retention {
            keep: 100,
            ..Retention::default()
        };
        for n in 0..111u32 {
            append(dir.path(), &record("t", n), Some(&keep)).unwrap();
        }
        let (records, _) = read(dir.path(), "t").unwrap();
        assert_eq!(records.len(), 100);
        assert_eq!(records[0].run_id, "r11");
        assert_eq!(tasks(dir.path()), vec!["t"]);
        let (archived, warnings) = archive::read(dir.path(), "t", None);
        let ids: Vec<&str> = archived.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, (0..11).map(|n| format!("r{n}")).collect::<Vec<_>>());
        assert!(warnings.is_empty());
        // The index follows the file: the newest come back through it.
        let filter = query::Filter::default();
        let (newest, _) = query::newest(dir.path(), &["t".into()], &filter, 3).unwrap();
        let ids: Vec<&str> = newest.iter().map(|r| r.run_id.as_str()).collect();
        assert_eq!(ids, ["r110", "r109", "r108"]);
    }

    #[test]
    fn queries_merge_tasks_by_start_even_when_records_finish_out_of_order() {
        let dir = tempfile::tempdir().unwrap();
        let at = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        // `a` writes a long run that started first after two short ones.
        for (task, n, s) in [
            ("a", 1, 10),
            ("a", 2, 20),
            ("a", 0, 5),
            ("b", 3, 15),
            ("b", 4, 25),
        ] {
            let mut r = record(task, n);
            r.started = at(s);
            r.outcome = if n % 2 == 0 {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            append(dir.path(), &r, None).unwrap();
        }
        let tasks = ["a".to_string(), "b".to_string()];
        let ids = |filter: query::Filter, n: usize| -> Vec<String> {
            let (found, _) = query::newest(dir.path(), &tasks, &filter, n).unwrap();
            found.into_iter().map(|r| r.run_id).collect()
        };
        assert_eq!(ids(Default::default(), 10), ["r4", "r2", "r3", "r1", "r0"]);
        let failures = query::Filter {
            outcome: Some(Outcome::Failure),
            ..Default::default()
        };
        assert_eq!(ids(failures, 10), ["r4", "r2", "r0"]);
        let since = query::Filter {
            since: Some(at(12)),
            ..Default::default()
        };
        assert_eq!(ids(since, 10), ["r4", "r2", "r3"]);
        assert_eq!(ids(Default::default(), 2), ["r4", "r2"]);
    }

    #[test]
    fn a_file_without_an_index_is_read_and_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..5)
            .map(|n| serde_json::to_string(&record("t", n)).unwrap() + "\n")
            .collect();
        std::fs::write(path(dir.path(), "t"), lines).unwrap();
        let (newest, _) = query::newest(dir.path(), &["t".into()], &Default::default(), 2).unwrap();
        assert_eq!(newest.len(), 2);
        assert!(index::path(dir.path(), "t").exists());
        // An append after a stale index (a file rewritten by hand) rebuilds it.
        std::fs::write(path(dir.path(), "t"), "").unwrap();
        append(dir.path(), &record("t", 9), None).unwrap();
        let (newest, _) = query::newest(dir.path(), &["t".into()], &Default::default(), 5).unwrap();
        assert_eq!(newest, vec![record("t", 9)]);
    }

    #[test]
    fn the_format_is_stable() {
        let text = serde_json::to_string(&record("t", 1)).unwrap();
        assert_eq!(
            text,
            r#"{"run_id":"r1","task":"t","trigger":"manual","scheduled":null,"started":"2023-11-14T22:13:20Z","finished":"2023-11-14T22:13:21Z","attempts":1,"exit_code":0,"signal":null,"outcome":"success","duration_ms":1000}"#
        );
        // Leftovers are written only when there are some, and records
        // written before them read back with none.
        let mut with = record("t", 1);
        with.leftovers = vec![42];
        with.leftovers_stopped = vec![7, 8];
        let with_text = serde_json::to_string(&with).unwrap();
        assert!(
            with_text
                .ends_with(r#""duration_ms":1000,"leftovers":[42],"leftovers_stopped":[7,8]}"#),
            "{with_text}"
        );
        assert_eq!(serde_json::from_str::<Record>(&with_text).unwrap(), with);
        assert_eq!(
            serde_json::from_str::<Record>(&text).unwrap(),
            record("t", 1)
        );
        assert_eq!(processes(&[42]), "1 process (pid 42)");
        assert_eq!(processes(&[7, 8]), "2 processes (pids 7, 8)");
    }
}
