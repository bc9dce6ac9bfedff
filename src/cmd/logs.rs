//! `kron logs [NAME] [-n LINES] [--run ID | --since WHEN] [-f]`: a run's
//! output from the task's run logs, found by its header lines across the
//! rotated files; without NAME, every task's, each line prefixed with its
//! task (`runlog::merge`).
//!
//! `-f` follows as `tail -F` does, until Ctrl-C (or, with `--run`, until
//! that run ends): from where the copy stopped, through rotations and into
//! logs that do not exist yet. It sleeps on an inotify watch of the logs
//! directory (`runlog::follow`) rather than polling; the wait's timeout
//! only bounds how long a `--run` follower takes to see its run end.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use super::Ctx;
use crate::cli::LogsArgs;
use crate::error::Error;
use crate::output;
use crate::runlog::follow::{Tail, Watcher};
use crate::runlog::merge;
use crate::runlog::read::{self, ReadError};
use crate::runner;

/// How often a follower of one run (`--run ID -f`) looks whether it ended:
/// the end of a run is not a change inotify reports.
const RUN_CHECK: Duration = Duration::from_millis(200);
/// How long a follower sleeps when nothing is written: a safety net only,
/// since a write wakes it.
const IDLE: Duration = Duration::from_secs(10);

pub fn run(ctx: &Ctx, args: &LogsArgs) -> Result<(), Error> {
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let stdout = std::io::stdout().lock();
    let mut stdout: Box<dyn Write> = if stdout.is_terminal() {
        Box::new(Printable(stdout))
    } else {
        Box::new(stdout)
    };
    match &args.name {
        Some(name) => one(ctx, name, args, since, &mut stdout),
        None => all(ctx, args, since, &mut stdout),
    }
}

/// One task's log: its last run, the run `--run` names or the runs since
/// `--since`; then, with `-f`, what comes.
fn one(
    ctx: &Ctx,
    name: &str,
    args: &LogsArgs,
    since: Option<Timestamp>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    if !crate::taskfile::valid_name(name) {
        return Err(Error::Invalid(format!(
            "`{name}` is not a task name (1-64 of a-z, 0-9, _ and -)"
        )));
    }
    let dir = ctx.paths.logs_dir();
    // A name no task has and no log: one answer, as every verb gives.
    super::named(ctx, name, "run log", || !read::files(&dir, name).is_empty())?;
    if since.is_some() {
        let names = [name.to_string()];
        let mut lines = Lines::new(args.lines, out, None);
        let tails = merge::merge(&dir, &names, since, &mut |_, line| lines.push("", line))
            .map_err(convert)?;
        lines.finish().map_err(convert)?;
        let tail = tails.into_iter().next().and_then(|(_, t)| t);
        return match args.follow {
            true => follow_one(&dir, name, tail, out),
            false => Ok(()),
        };
    }
    let id = match &args.run {
        Some(id) => id.clone(),
        None => match read::last_run_id(&dir, name).map_err(convert)? {
            Some(id) => id,
            // `-f` waits for the first run.
            None if args.follow => {
                eprintln!(
                    "kron: no run of `{name}` in its logs yet; waiting for one (Ctrl-C to stop)"
                );
                return follow_one(&dir, name, None, out);
            }
            None => {
                return Err(Error::Failed(format!("no run of `{name}` in its logs yet")));
            }
        },
    };
    let copied = read::copy_run(&dir, name, &id, args.lines, out).map_err(convert)?;
    if !copied.found {
        return Err(Error::Failed(format!(
            "run {id} is not in the logs of `{name}` (its output may have been rotated away)"
        )));
    }
    if !args.follow {
        return Ok(());
    }
    if args.run.is_none() {
        return follow_one(&dir, name, copied.tail, out);
    }
    // `--run ID -f`: that run, until it ends; an ended run's lines are all out.
    let Some(file) = copied.tail else {
        return Ok(());
    };
    let paths = &ctx.paths;
    let mut tail = Tail::new(crate::runlog::path(&dir, name), Some(file));
    let mut watcher = Watcher::new(&dir);
    loop {
        // Whether it runs first: output written before it ended is then
        // certainly read below.
        let running = runner::running(paths).iter().any(|r| r.run_id == id);
        copy_raw(&mut tail, out)?;
        if !running {
            return Ok(());
        }
        watcher.wait(RUN_CHECK);
    }
}

/// Follows one task's log until Ctrl-C, from `file` (where the copy
/// stopped) or, without one, from the start of the log once it exists.
fn follow_one(
    dir: &Path,
    name: &str,
    file: Option<File>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    logs_dir_for_watching(dir)?;
    let mut tail = Tail::new(crate::runlog::path(dir, name), file);
    let mut watcher = Watcher::new(dir);
    loop {
        copy_raw(&mut tail, out)?;
        watcher.wait(IDLE);
    }
}

fn copy_raw(tail: &mut Tail, out: &mut dyn Write) -> Result<(), Error> {
    tail.copy_new(&mut |bytes| out.write_all(bytes).map_err(ReadError::Output))
        .map_err(convert)?;
    out.flush().map_err(Error::Output)
}

/// Every task's logs as one stream, each line prefixed with its task.
fn all(
    ctx: &Ctx,
    args: &LogsArgs,
    since: Option<Timestamp>,
    out: &mut dyn Write,
) -> Result<(), Error> {
    let dir = ctx.paths.logs_dir();
    let names = merge::tasks(&dir);
    // Aligned for the tasks that may write later too.
    let in_file = ctx.load_tasks().map(|f| f.tasks).unwrap_or_default();
    let width = names
        .iter()
        .map(String::len)
        .chain(in_file.iter().map(|t| t.name.len()))
        .max()
        .unwrap_or(0);
    let mut lines = Lines::new(args.lines, out, Some(width));
    let tails = merge::merge(&dir, &names, since, &mut |task, line| {
        lines.push(task, line)
    })
    .map_err(convert)?;
    let printed = lines.finish().map_err(convert)?;
    if !args.follow {
        if names.is_empty() {
            eprintln!("kron: no task has run yet (no logs in {})", dir.display());
        } else if printed == 0 && since.is_some() {
            eprintln!(
                "kron: no run started since {}",
                args.since.as_deref().unwrap_or_default()
            );
        }
        return Ok(());
    }
    logs_dir_for_watching(&dir)?;
    let mut watcher = Watcher::new(&dir);
    let mut tails: BTreeMap<String, (Tail, Vec<u8>)> = tails
        .into_iter()
        .map(|(name, file)| {
            let tail = Tail::new(crate::runlog::path(&dir, &name), file);
            (name, (tail, Vec::new()))
        })
        .collect();
    let mut lines = Lines::new(None, out, Some(width));
    loop {
        // Tasks whose first log appeared since: from their start.
        for name in merge::tasks(&dir) {
            lines.prefix = lines.prefix.max(Some(name.len()));
            tails.entry(name).or_insert_with_key(|name| {
                (Tail::new(crate::runlog::path(&dir, name), None), Vec::new())
            });
        }
        for (name, (tail, partial)) in &mut tails {
            // Whole lines only, so that each gets its prefix.
            tail.copy_new(&mut |bytes| {
                partial.extend_from_slice(bytes);
                Ok(())
            })
            .map_err(convert)?;
            if let Some(end) = partial.iter().rposition(|&b| b == b'\n') {
                let rest = partial.split_off(end + 1);
                for line in partial.split_inclusive(|&b| b == b'\n') {
                    lines.push(name, line).map_err(convert)?;
                }
                *partial = rest;
            }
        }
        lines.flush().map_err(convert)?;
        watcher.wait(IDLE);
    }
}

/// The logs directory, made if missing (private, as the supervisor makes
/// it), so that it can be watched before the first run.
fn logs_dir_for_watching(dir: &Path) -> Result<(), Error> {
    crate::dirs::create_private_dir(dir).map_err(|source| Error::Io {
        action: "creating",
        path: dir.into(),
        source,
    })
}

/// Where lines go: straight to the output, or the last `keep` of them
/// kept until the end; with a prefix width, each line after its task's
/// name, `backup | ...`.
struct Lines<'a> {
    keep: Option<usize>,
    kept: VecDeque<(String, Vec<u8>)>,
    out: &'a mut dyn Write,
    prefix: Option<usize>,
    count: usize,
}

impl<'a> Lines<'a> {
    fn new(keep: Option<usize>, out: &'a mut dyn Write, prefix: Option<usize>) -> Lines<'a> {
        Lines {
            keep,
            kept: VecDeque::new(),
            out,
            prefix,
            count: 0,
        }
    }

    fn push(&mut self, task: &str, line: &[u8]) -> Result<(), ReadError> {
        match self.keep {
            Some(0) => Ok(()),
            Some(n) => {
                if self.kept.len() == n {
                    self.kept.pop_front();
                }
                self.kept.push_back((task.to_string(), line.to_vec()));
                Ok(())
            }
            None => self.write(task, line),
        }
    }

    fn write(&mut self, task: &str, line: &[u8]) -> Result<(), ReadError> {
        self.count += 1;
        let Some(width) = self.prefix else {
            return self.out.write_all(line).map_err(ReadError::Output);
        };
        let mut text = format!("{task:<width$} | ").into_bytes();
        text.extend_from_slice(line);
        if !text.ends_with(b"\n") {
            text.push(b'\n');
        }
        self.out.write_all(&text).map_err(ReadError::Output)
    }

    fn flush(&mut self) -> Result<(), ReadError> {
        self.out.flush().map_err(ReadError::Output)
    }

    /// Writes the kept lines; returns how many lines were written in all.
    fn finish(&mut self) -> Result<usize, ReadError> {
        while let Some((task, line)) = self.kept.pop_front() {
            self.write(&task, &line)?;
        }
        self.flush()?;
        Ok(self.count)
    }
}

/// `today`, `yesterday` or a date (`2026-03-08`): from midnight in the
/// local zone (UTC with `--utc`); else what `kron history --since` takes.
fn parse_since(text: &str) -> Result<Timestamp, Error> {
    let zone = output::local_zone();
    let today = Timestamp::now().to_zoned(zone.time_zone().clone()).date();
    let day = match text {
        "today" => Some(today),
        "yesterday" => today.yesterday().ok(),
        _ => text.parse::<jiff::civil::Date>().ok(),
    };
    match day {
        Some(day) => day
            .to_zoned(zone.time_zone().clone())
            .map(|z| z.timestamp())
            .map_err(|e| Error::Invalid(format!("--since `{text}`: {e}"))),
        None => super::history::parse_since(text).map_err(|_| {
            Error::Invalid(format!(
                "--since `{text}`: expected today, yesterday, a date (2026-03-08), an RFC 3339 \
                 instant (2026-03-08T09:00:00Z) or a duration such as 2h or 1d"
            ))
        }),
    }
}

fn convert(e: ReadError) -> Error {
    match e {
        ReadError::Read { path, source } => Error::Io {
            action: "reading",
            path,
            source,
        },
        ReadError::Output(e) => Error::Output(e),
    }
}

/// On a terminal, control characters other than newline and tab are shown
/// as `^X` (as `cat -v` does), so a log cannot drive the terminal.
struct Printable<W: Write>(W);

impl<W: Write> Write for Printable<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut shown = Vec::with_capacity(buf.len());
        for &b in buf {
            match b {
                b'\n' | b'\t' => shown.push(b),
                0..=0x1f => shown.extend([b'^', b + 64]),
                0x7f => shown.extend(b"^?"),
                _ => shown.push(b),
            }
        }
        self.0.write_all(&shown)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}
