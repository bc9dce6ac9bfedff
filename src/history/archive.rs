//! Monthly archives of the records a trim takes out of a live history
//! file: `history/archive/NAME/YYYY-MM.jsonl.gz` (the month a run
//! started, UTC), the same JSON lines, gzipped. `zcat` reads them.
//!
//! A trim appends one gzip member per month it touches, then fsyncs, and
//! only then rewrites the live file, so a record is never only in memory:
//! after a crash between the two a record may be in both, and readers
//! drop the archived copy of a record the live file still has ([`read`]'s
//! caller dedupes by run id). A member cut short by a crash ends what is
//! read of that month, with a warning. Archives whose month ended longer
//! ago than `archive_max_age` are removed by the trim ([`expire`]).

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use jiff::Timestamp;
use jiff::civil::Date;

use super::{HistoryError, Record, io};

/// `HISTORY/archive/NAME`.
pub fn dir(history: &Path, task: &str) -> PathBuf {
    history.join("archive").join(task)
}

/// The month (first day, UTC) an instant in nanoseconds falls in.
pub fn month_of(nanos: i64) -> Date {
    let t = Timestamp::from_nanosecond(i128::from(nanos)).unwrap_or(Timestamp::UNIX_EPOCH);
    let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
    d.first_of_month()
}

fn file_name(month: Date) -> String {
    format!("{:04}-{:02}.jsonl.gz", month.year(), month.month())
}

/// Appends `lines` (whole JSON lines) to the archive of `month`, synced.
pub fn append(history: &Path, task: &str, month: Date, lines: &[u8]) -> Result<(), HistoryError> {
    let dir = dir(history, task);
    crate::dirs::create_private_dir(&dir).map_err(io("creating", &dir))?;
    let path = dir.join(file_name(month));
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&path)
        .map_err(io("opening", &path))?;
    let mut gz = GzEncoder::new(file, Compression::default());
    gz.write_all(lines).map_err(io("writing", &path))?;
    let file = gz.finish().map_err(io("writing", &path))?;
    file.sync_all().map_err(io("syncing", &path))
}

/// The months `task` has archives for, oldest first.
pub fn months(history: &Path, task: &str) -> Vec<(Date, PathBuf)> {
    let dir = dir(history, task);
    let mut out: Vec<(Date, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".jsonl.gz")?;
            let month = Date::strptime("%Y-%m-%d", format!("{stem}-01")).ok()?;
            Some((month, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// The archived records of `task` from the month of `from` on (all of
/// them without it), in archive order, and a warning for each line or
/// member that could not be read.
pub fn read(history: &Path, task: &str, from: Option<Timestamp>) -> (Vec<Record>, Vec<String>) {
    let first = from.map(|t| month_of(super::index::nanos(t)));
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    for (month, path) in months(history, task) {
        if first.is_some_and(|f| month < f) {
            continue;
        }
        let Ok(file) = std::fs::File::open(&path) else {
            warnings.push(format!("{}: cannot be opened", path.display()));
            continue;
        };
        let mut reader = BufReader::new(MultiGzDecoder::new(file));
        let mut line = Vec::new();
        let mut number = 0;
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    warnings.push(format!("{}: stopped reading ({e})", path.display()));
                    break;
                }
            }
            number += 1;
            match serde_json::from_slice::<Record>(&line) {
                Ok(r) => records.push(r),
                Err(_) if line.trim_ascii().is_empty() => {}
                Err(e) => warnings.push(format!(
                    "{}:{number}: skipping a malformed record ({e})",
                    path.display()
                )),
            }
        }
    }
    (records, warnings)
}

/// Removes the archives of `task` whose month ended more than `max_age`
/// before `now`.
pub fn expire(history: &Path, task: &str, max_age: Duration, now: Timestamp) {
    let Ok(span) = jiff::SignedDuration::try_from(max_age) else {
        return;
    };
    let Ok(before) = now.checked_sub(span) else {
        return;
    };
    for (month, path) in months(history, task) {
        let end = month
            .checked_add(jiff::Span::new().months(1))
            .ok()
            .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp());
        if end.is_some_and(|end| end <= before) {
            let _ = std::fs::remove_file(path);
        }
    }
}
