//! The Prometheus textfile (`[defaults].metrics_file`), for node_exporter's
//! textfile collector, rewritten by each supervisor after its run.
//!
//! Counters must only grow, and history files are trimmed to their last
//! 1,000 runs, so the numbers are not recomputed from the history on each
//! run: they are kept in `$XDG_STATE_HOME/kron/metrics.json` (0600), which
//! each run updates with its own record. Counters count the runs since
//! the task first appeared there (when `metrics_file` was set, or since
//! that file was lost: Prometheus reads that as a counter reset, as after a
//! reboot); the gauges (last outcome, last success, ...) of a new task
//! start from its history. Counting past runs from the history instead
//! could count a run twice, when its supervisor appended it before another
//! supervisor read the history and counts it again itself. The gauges keep
//! the latest run by its end, so the order supervisors update in does not
//! matter.
//!
//! Supervisors run concurrently, so the read-update-write of both files
//! happens under an exclusive flock on `$RUNTIME/metrics.lock`; the
//! textfile is written to a temporary file in its own directory (a name
//! node_exporter ignores, since it reads only `*.prom`) and renamed over the
//! old one, so a scrape sees the old file or the new one, never a part.
//!
//! The textfile is mode 0644, unlike kron's other files (0600):
//! node_exporter normally runs as its own user, and the file holds only
//! task names, counts, outcomes and times, nothing from commands, their
//! environment or their output. Where that is too much, point
//! `metrics_file` into a directory only node_exporter's group can enter.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::dirs::Paths;
use crate::history::{self, Outcome, Record};

const OUTCOMES: [Outcome; 5] = [
    Outcome::Success,
    Outcome::Failure,
    Outcome::Timeout,
    Outcome::Skipped,
    Outcome::Interrupted,
];

#[derive(Debug, thiserror::Error)]
#[error("metrics: {action} {}: {source}", path.display())]
pub struct MetricsError {
    pub action: &'static str,
    pub path: PathBuf,
    pub source: std::io::Error,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> MetricsError {
    let path = path.to_path_buf();
    move |source| MetricsError {
        action,
        path,
        source,
    }
}

/// What the metrics say about one task.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskMetrics {
    /// Runs by outcome (`success`, ...), skipped runs included.
    pub runs: BTreeMap<String, u64>,
    pub last_outcome: Option<Outcome>,
    /// When the last run (of any outcome) finished.
    pub last_finished: Option<Timestamp>,
    /// When the last successful run finished.
    pub last_success: Option<Timestamp>,
    /// The duration of the last run that was not skipped.
    pub last_duration_ms: Option<u64>,
    /// When that run finished.
    #[serde(default)]
    pub last_ran: Option<Timestamp>,
    /// Scheduled instants that did not run (`missed` records stand for a
    /// stretch of them each).
    #[serde(default)]
    pub missed: u64,
}

impl TaskMetrics {
    /// Counts `record` in.
    pub fn add(&mut self, record: &Record) {
        if record.outcome == Outcome::Missed {
            // Not a run: no gauge moves.
            self.missed += record.missed.map_or(1, |m| m.count);
            return;
        }
        *self
            .runs
            .entry(record.outcome.as_str().to_string())
            .or_default() += 1;
        self.observe(record);
    }

    /// Updates the gauges with `record` where it is the latest (by end).
    pub fn observe(&mut self, r: &Record) {
        if r.outcome == Outcome::Missed {
            return;
        }
        let later = |t: Option<Timestamp>| t.is_none_or(|t| r.finished >= t);
        if later(self.last_finished) {
            self.last_outcome = Some(r.outcome);
            self.last_finished = Some(r.finished);
        }
        if r.outcome == Outcome::Success && later(self.last_success) {
            self.last_success = Some(r.finished);
        }
        if r.outcome != Outcome::Skipped && later(self.last_ran) {
            self.last_duration_ms = Some(r.duration_ms);
            self.last_ran = Some(r.finished);
        }
    }

    fn count(&self, outcome: Outcome) -> u64 {
        self.runs.get(outcome.as_str()).copied().unwrap_or(0)
    }
}

/// Every task's metrics: the content of `metrics.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub tasks: BTreeMap<String, TaskMetrics>,
}

impl Metrics {
    /// Counts `record` in; the gauges of a task seen for the first time
    /// start from `history` (its records, which may hold `record`).
    pub fn add(&mut self, record: &Record, history: impl FnOnce() -> Vec<Record>) {
        let task = self.tasks.entry(record.task.clone()).or_insert_with(|| {
            let mut task = TaskMetrics::default();
            for r in &history() {
                task.observe(r);
            }
            task
        });
        task.add(record);
    }
}

/// Counts `record` in and rewrites `textfile`.
pub fn update(paths: &Paths, textfile: &Path, record: &Record) -> Result<(), MetricsError> {
    crate::dirs::create_private_dir(&paths.runtime_dir)
        .map_err(io("creating", &paths.runtime_dir))?;
    let lock_path = paths.runtime_dir.join("metrics.lock");
    let lock = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_path)
        .map_err(io("opening", &lock_path))?;
    lock.lock().map_err(io("locking", &lock_path))?;
    let state_path = paths.state_dir.join("metrics.json");
    let mut metrics: Metrics = std::fs::read(&state_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    metrics.add(record, || {
        history::read(&paths.history_dir(), &record.task)
            .map(|(records, _)| records)
            .unwrap_or_default()
    });
    crate::dirs::create_private_dir(&paths.state_dir).map_err(io("creating", &paths.state_dir))?;
    let json = serde_json::to_vec(&metrics).expect("metrics serialize");
    replace(&state_path, &json, 0o600)?;
    replace(textfile, render(&metrics).as_bytes(), 0o644)
}

/// Writes `path` through a temporary file beside it and a rename.
fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<(), MetricsError> {
    let name = path
        .file_name()
        .map_or_else(|| "metrics".into(), |n| n.to_string_lossy().into_owned());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have taken bits away.
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("writing", &tmp)(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("replacing", path)(e)
    })
}

/// A label value in the exposition format: `\`, `"` and newline escaped.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Seconds since the epoch, to the millisecond.
fn seconds(t: Timestamp) -> String {
    let ms = t.as_millisecond();
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// The textfile: each family's `# HELP` and `# TYPE` lines, then its
/// samples, task by task (sorted).
pub fn render(metrics: &Metrics) -> String {
    let mut out = format!(
        "# kron {}: metrics of the tasks' runs, rewritten after every run.\n",
        env!("CARGO_PKG_VERSION")
    );
    let tasks = &metrics.tasks;
    let mut family = |name: &str, kind: &str, help: &str, samples: &mut dyn FnMut(&mut String)| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        samples(&mut out);
    };
    family(
        "kron_task_runs_total",
        "counter",
        "Runs of a task by outcome (success, failure, timeout, skipped, interrupted).",
        &mut |out| {
            for (task, m) in tasks {
                for outcome in OUTCOMES {
                    let _ = writeln!(
                        out,
                        "kron_task_runs_total{{task=\"{}\",outcome=\"{}\"}} {}",
                        escape(task),
                        outcome.as_str(),
                        m.count(outcome)
                    );
                }
            }
        },
    );
    family(
        "kron_missed_runs_total",
        "counter",
        "Scheduled instants of a task that did not run (the daemon was not running, catch_up, max_lateness).",
        &mut |out| {
            for (task, m) in tasks {
                let _ = writeln!(
                    out,
                    "kron_missed_runs_total{{task=\"{}\"}} {}",
                    escape(task),
                    m.missed
                );
            }
        },
    );
    family(
        "kron_task_failures_total",
        "counter",
        "Runs of a task that failed or timed out.",
        &mut |out| {
            for (task, m) in tasks {
                let failed = m.count(Outcome::Failure) + m.count(Outcome::Timeout);
                let _ = writeln!(
                    out,
                    "kron_task_failures_total{{task=\"{}\"}} {failed}",
                    escape(task)
                );
            }
        },
    );
    family(
        "kron_task_last_outcome",
        "gauge",
        "The outcome of a task's last run: 1 for that outcome, 0 for the others.",
        &mut |out| {
            for (task, m) in tasks {
                for outcome in OUTCOMES {
                    let _ = writeln!(
                        out,
                        "kron_task_last_outcome{{task=\"{}\",outcome=\"{}\"}} {}",
                        escape(task),
                        outcome.as_str(),
                        u8::from(m.last_outcome == Some(outcome))
                    );
                }
            }
        },
    );
    let mut gauge = |name: &str, help: &str, value: fn(&TaskMetrics) -> Option<String>| {
        family(name, "gauge", help, &mut |out| {
            for (task, m) in tasks {
                if let Some(v) = value(m) {
                    let _ = writeln!(out, "{name}{{task=\"{}\"}} {v}", escape(task));
                }
            }
        });
    };
    gauge(
        "kron_task_last_success_timestamp_seconds",
        "When a task's last successful run finished, in seconds since the epoch.",
        |m| m.last_success.map(seconds),
    );
    gauge(
        "kron_task_last_run_timestamp_seconds",
        "When a task's last run finished, in seconds since the epoch.",
        |m| m.last_finished.map(seconds),
    );
    gauge(
        "kron_task_last_duration_seconds",
        "How long a task's last run took (skipped runs aside), in seconds.",
        |m| {
            m.last_duration_ms
                .map(|ms| format!("{}.{:03}", ms / 1000, ms % 1000))
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(task: &str, n: i64, outcome: Outcome, duration_ms: u64) -> Record {
        let started = Timestamp::from_second(1_700_000_000 + n * 60).unwrap();
        Record::sample(task, format!("{task}-{n}"), started, outcome, duration_ms)
    }

    #[test]
    fn a_new_task_counts_from_now_with_gauges_from_its_history() {
        let past = vec![
            record("a", 0, Outcome::Success, 1000),
            record("a", 1, Outcome::Failure, 200),
            // Appended by a supervisor that has not updated the metrics yet.
            record("a", 3, Outcome::Success, 300),
        ];
        let skipped = record("a", 2, Outcome::Skipped, 0);
        let mut m = Metrics::default();
        m.add(&skipped, || past.clone());
        let a = &m.tasks["a"];
        assert_eq!(a.runs.values().sum::<u64>(), 1);
        assert_eq!(a.count(Outcome::Skipped), 1);
        assert_eq!(a.last_outcome, Some(Outcome::Success), "a-3 ended last");
        assert_eq!(a.last_success, Some(past[2].finished));
        assert_eq!(a.last_duration_ms, Some(300));
        // That supervisor counts its own run; known tasks never read the history.
        m.add(&past[2], || unreachable!());
        let a = &m.tasks["a"];
        assert_eq!(
            (a.count(Outcome::Success), a.count(Outcome::Skipped)),
            (1, 1)
        );
        assert_eq!(a.last_outcome, Some(Outcome::Success));
        m.add(&record("a", 4, Outcome::Skipped, 0), || unreachable!());
        let a = &m.tasks["a"];
        assert_eq!(a.last_outcome, Some(Outcome::Skipped));
        assert_eq!(
            a.last_duration_ms,
            Some(300),
            "a skipped run has no duration"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("plain-name_1"), "plain-name_1");
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn the_textfile_has_every_family_once_with_help_and_type() {
        let mut m = Metrics::default();
        m.add(&record("b", 0, Outcome::Success, 1234), Vec::new);
        m.add(&record("a", 0, Outcome::Failure, 50), Vec::new);
        let text = render(&m);
        assert!(text.contains(
            "# HELP kron_task_last_outcome The outcome of a task's last run: 1 for that outcome, 0 for the others.\n\
             # TYPE kron_task_last_outcome gauge\n\
             kron_task_last_outcome{task=\"a\",outcome=\"success\"} 0\n\
             kron_task_last_outcome{task=\"a\",outcome=\"failure\"} 1\n"
        ), "{text}");
        assert!(
            text.contains("kron_task_failures_total{task=\"a\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("kron_task_last_duration_seconds{task=\"b\"} 1.234\n"),
            "{text}"
        );
        assert!(
            text.contains("kron_task_last_success_timestamp_seconds{task=\"b\"} 1700000001.234\n"),
            "{text}"
        );
        assert!(!text.contains("kron_task_last_success_timestamp_seconds{task=\"a\"}"));
        for family in [
            "kron_task_runs_total",
            "kron_task_failures_total",
            "kron_task_last_outcome",
            "kron_task_last_success_timestamp_seconds",
            "kron_task_last_run_timestamp_seconds",
            "kron_task_last_duration_seconds",
        ] {
            assert_eq!(text.matches(&format!("# TYPE {family} ")).count(), 1);
        }
    }
}
