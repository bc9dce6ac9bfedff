//! Several tasks' run logs as one stream, for `kron logs` without a name
//! (and `--since`): attempts in the order they started, across tasks and
//! rotated files.
//!
//! Output lines carry no time of their own; an attempt's header does
//! (`... started 2026-03-08T03:00:00.004Z`), so the unit of interleaving is
//! the attempt, header to footer: of the attempts next in each task's log,
//! the one that started first is copied whole, then the next. Attempts that
//! overlapped in time come one after the other, by start. It is a k-way
//! merge with one open file per task, reading each log once, so memory
//! does not grow with the logs. Lines before a task's first header (the
//! rest of an attempt whose header was rotated away) come first, as the
//! oldest.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::read::{ReadError, files, header_run_id};
use super::{HEADER, path};

/// Where merged lines go: each line (with its `\n`) and its task.
pub type Sink<'a> = dyn FnMut(&str, &[u8]) -> Result<(), ReadError> + 'a;

/// The tasks that have a run log in `dir`, sorted.
pub fn tasks(dir: &Path) -> Vec<String> {
    crate::dirs::task_files(dir, |name| {
        let stem = match name.rsplit_once(".log") {
            Some((stem, "")) => stem,
            Some((stem, n)) if n.strip_prefix('.')?.parse::<u32>().is_ok() => stem,
            _ => return None,
        };
        crate::taskfile::valid_name(stem).then_some(stem)
    })
}

/// When the attempt of a header line started.
pub fn header_started(line: &[u8]) -> Option<Timestamp> {
    header_run_id(line)?;
    let text = std::str::from_utf8(line).ok()?;
    let (_, rest) = text.split_once(" started ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// One task's logs, read a line at a time across its files.
struct Stream {
    name: String,
    files: Vec<PathBuf>,
    /// The index in `files` of the file `reader` reads.
    at: usize,
    reader: Option<BufReader<File>>,
    /// The next line, read ahead: a header, or the task's first line.
    ahead: Option<Vec<u8>>,
    /// When the attempt that `ahead` begins started; `None` at the end.
    start: Option<Timestamp>,
    /// The current log, positioned at its end, once read to it.
    tail: Option<File>,
    current: PathBuf,
}

impl Stream {
    fn new(dir: &Path, name: &str) -> Result<Stream, ReadError> {
        let mut stream = Stream {
            name: name.to_string(),
            files: files(dir, name),
            at: 0,
            reader: None,
            ahead: None,
            start: None,
            tail: None,
            current: path(dir, name),
        };
        stream.ahead = stream.line()?;
        stream.start = stream
            .ahead
            .as_deref()
            .map(|l| header_started(l).unwrap_or(Timestamp::MIN));
        Ok(stream)
    }

    /// The next line (with its `\n`, but for the last line of a log that
    /// ends without one), across the files.
    fn line(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        loop {
            if self.reader.is_none() {
                let Some(file_path) = self.files.get(self.at) else {
                    return Ok(None);
                };
                match File::open(file_path) {
                    Ok(file) => self.reader = Some(BufReader::with_capacity(64 * 1024, file)),
                    // Rotated away since it was listed: its lines are in the next one.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        self.at += 1;
                        continue;
                    }
                    Err(source) => {
                        return Err(ReadError::Read {
                            path: file_path.clone(),
                            source,
                        });
                    }
                }
            }
            let reader = self.reader.as_mut().expect("opened above");
            let mut line = Vec::new();
            let n = reader
                .read_until(b'\n', &mut line)
                .map_err(|source| ReadError::Read {
                    path: self.files[self.at].clone(),
                    source,
                })?;
            if n > 0 {
                return Ok(Some(line));
            }
            let reader = self.reader.take().expect("read above");
            if self.at + 1 == self.files.len() && self.files[self.at] == self.current {
                // At its end, its buffer empty: the file is where reading stopped.
                self.tail = Some(reader.into_inner());
            }
            self.at += 1;
        }
    }

    /// Gives `out` the attempt ahead, up to the next header, which it reads
    /// ahead.
    fn copy_attempt(&mut self, out: &mut Sink) -> Result<(), ReadError> {
        let Some(first) = self.ahead.take() else {
            return Ok(());
        };
        out(&self.name, &first)?;
        loop {
            match self.line()? {
                None => {
                    self.start = None;
                    return Ok(());
                }
                Some(line) if line.starts_with(HEADER.as_bytes()) => {
                    self.start = Some(
                        header_started(&line)
                            .or(self.start)
                            .unwrap_or(Timestamp::MIN),
                    );
                    self.ahead = Some(line);
                    return Ok(());
                }
                Some(line) => out(&self.name, &line)?,
            }
        }
    }
}

/// Gives `out` (task, line) for every line of the logs of `names` in
/// `dir`, attempts in the order they started; with `since`, only the
/// attempts that started then or later. Returns each task's current log
/// positioned at its end (`None` for a task without one), to follow from.
pub fn merge(
    dir: &Path,
    names: &[String],
    since: Option<Timestamp>,
    out: &mut Sink,
) -> Result<Vec<(String, Option<File>)>, ReadError> {
    let mut streams = names
        .iter()
        .map(|n| Stream::new(dir, n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut skip = |_: &str, _: &[u8]| Ok(());
    while let Some((start, i)) = streams
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((s.start?, i)))
        .min()
    {
        if since.is_none_or(|since| start >= since) {
            streams[i].copy_attempt(out)?;
        } else {
            streams[i].copy_attempt(&mut skip)?;
        }
    }
    Ok(streams.into_iter().map(|s| (s.name, s.tail)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(id: &str, started: &str) -> String {
        format!("==> kron run {id} attempt 1/1 trigger manual scheduled - started {started}\n")
    }

    #[test]
    fn attempts_are_interleaved_by_their_start() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("a.log.1"),
            format!("left over\n{}a1\n", header("r1", "2026-03-08T01:00:00Z")),
        )
        .unwrap();
        std::fs::write(
            d.join("a.log"),
            format!("a1 more\n{}a3\n", header("r3", "2026-03-08T03:00:00Z")),
        )
        .unwrap();
        std::fs::write(
            d.join("b.log"),
            format!(
                "{}b2\n{}b4",
                header("r2", "2026-03-08T02:00:00Z"),
                header("r4", "2026-03-08T04:00:00Z")
            ),
        )
        .unwrap();
        std::fs::write(d.join(".a.log.lock"), "").unwrap();
        let names = tasks(d);
        assert_eq!(names, ["a", "b"]);
        let mut seen = Vec::new();
        let tails = merge(d, &names, None, &mut |task, line| {
            let line = String::from_utf8_lossy(line);
            let shown = if line.starts_with("==>") {
                "header"
            } else {
                line.trim_end()
            };
            seen.push(format!("{task}: {shown}"));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                "a: left over",
                "a: header",
                "a: a1",
                "a: a1 more",
                "b: header",
                "b: b2",
                "a: header",
                "a: a3",
                "b: header",
                "b: b4",
            ]
        );
        assert!(tails.iter().all(|(_, t)| t.is_some()));
        let mut since = Vec::new();
        let at = "2026-03-08T02:30:00Z".parse().unwrap();
        merge(d, &names, Some(at), &mut |task, line| {
            since.push(format!(
                "{task}: {}",
                String::from_utf8_lossy(line).trim_end()
            ));
            Ok(())
        })
        .unwrap();
        assert_eq!(since.len(), 4, "{since:?}");
        assert_eq!(since[1], "a: a3");
    }
}
