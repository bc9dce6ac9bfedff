//! Reading run logs back for `kron logs`: find a run by its header lines
//! across the rotated files and copy its lines (following live output is
//! `follow`'s).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

use super::{HEADER, path};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

/// The task's log files, oldest first: `NAME.log.N` ... `NAME.log.1`, `NAME.log`.
pub fn files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let prefix = format!("{name}.log.");
    let mut rotated: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file_name = e.file_name();
            let n = file_name.to_str()?.strip_prefix(&prefix)?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    let mut all: Vec<PathBuf> = rotated.into_iter().map(|(_, p)| p).collect();
    let current = path(dir, name);
    if current.exists() {
        all.push(current);
    }
    all
}

/// The run id of a header line.
pub fn header_run_id(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(HEADER.as_bytes())?;
    let end = rest.iter().position(|b| b.is_ascii_whitespace())?;
    std::str::from_utf8(&rest[..end]).ok()
}

/// Calls `f` with each line (its `\n` included) of the task's logs, oldest
/// first, until it returns false. Returns the file open at the point where
/// it stopped when that was the end of the current `NAME.log`.
fn each_line(
    dir: &Path,
    name: &str,
    mut f: impl FnMut(&[u8]) -> Result<bool, ReadError>,
) -> Result<Option<File>, ReadError> {
    let all = files(dir, name);
    let mut line = Vec::new();
    for (i, file_path) in all.iter().enumerate() {
        let read_err = |source| ReadError::Read {
            path: file_path.clone(),
            source,
        };
        let file = match File::open(file_path) {
            Ok(file) => file,
            // Rotated away since it was listed: its lines are in the next one.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(read_err(e)),
        };
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(read_err)? == 0 {
                break;
            }
            if !f(&line)? {
                return Ok(None);
            }
        }
        if i + 1 == all.len() {
            let mut file = reader.into_inner();
            // The reader may have read ahead of nothing: it is at the end.
            file.seek(std::io::SeekFrom::End(0)).map_err(read_err)?;
            return Ok(Some(file));
        }
    }
    Ok(None)
}

/// The id of the last run that has a header in the task's logs.
pub fn last_run_id(dir: &Path, name: &str) -> Result<Option<String>, ReadError> {
    let mut last = None;
    each_line(dir, name, |line| {
        if let Some(id) = header_run_id(line) {
            last = Some(id.to_string());
        }
        Ok(true)
    })?;
    Ok(last)
}

/// What [`copy_run`] found.
pub struct Copied {
    /// Whether the run was in the logs at all.
    pub found: bool,
    /// The current log, positioned after the copied lines, when the run's
    /// lines went on to the end of it (so following it makes sense).
    pub tail: Option<File>,
}

/// Copies the lines of run `id`, from its first header to the header of
/// another run or the end of the logs, to `out`: all of them, or the last
/// `lines`.
pub fn copy_run(
    dir: &Path,
    name: &str,
    id: &str,
    lines: Option<usize>,
    out: &mut dyn Write,
) -> Result<Copied, ReadError> {
    let mut found = false;
    let mut ended = false;
    let mut kept: VecDeque<Vec<u8>> = VecDeque::new();
    let tail = each_line(dir, name, |line| {
        if let Some(other) = header_run_id(line) {
            if other == id {
                found = true;
            } else if found {
                ended = true;
                return Ok(false);
            }
        }
        if !found {
            return Ok(true);
        }
        match lines {
            Some(0) => {}
            Some(n) => {
                if kept.len() == n {
                    kept.pop_front();
                }
                kept.push_back(line.to_vec());
            }
            None => out.write_all(line).map_err(ReadError::Output)?,
        }
        Ok(true)
    })?;
    for line in kept {
        out.write_all(&line).map_err(ReadError::Output)?;
    }
    out.flush().map_err(ReadError::Output)?;
    Ok(Copied {
        found,
        tail: if ended || !found { None } else { tail },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_found_across_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("t.log.2"), "==> kron run a attempt 1/1\nold\n").unwrap();
        std::fs::write(
            d.join("t.log.1"),
            "<== kron run a attempt 1/1 exit 0\n==> kron run b attempt 1/2\none\n",
        )
        .unwrap();
        std::fs::write(d.join("t.log"), b"two\n\xff\n").unwrap();
        assert_eq!(last_run_id(d, "t").unwrap().as_deref(), Some("b"));
        let mut out = Vec::new();
        let copied = copy_run(d, "t", "b", None, &mut out).unwrap();
        assert!(copied.found && copied.tail.is_some());
        assert_eq!(out, b"==> kron run b attempt 1/2\none\ntwo\n\xff\n");
        let mut out = Vec::new();
        let copied = copy_run(d, "t", "a", Some(1), &mut out).unwrap();
        assert!(copied.found && copied.tail.is_none());
        assert_eq!(out, b"<== kron run a attempt 1/1 exit 0\n");
        let copied = copy_run(d, "t", "zz", None, &mut Vec::new()).unwrap();
        assert!(!copied.found);
    }
}
