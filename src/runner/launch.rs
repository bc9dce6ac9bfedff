//! The supervisor's command line: the one contract between whoever starts
//! a supervisor (the daemon, for the runs due in one wake-up; a supervisor
//! handing off a run that must wait for its lock; `kron run --detach`) and
//! `kron __supervise`, which reads it. [`Launch::args`] writes it and
//! [`Launch::parse`] reads it back; nothing else builds or splits it.
//!
//! ```text
//! kron __supervise --run NAME,TRIGGER,SCHEDULED,RUN_ID [--run ...]
//!                  [--snapshots] [--watch] --file TASKFILE
//! ```
//!
//! Each `--run` is one run: its task, why it runs (`schedule`, `manual`,
//! `catch-up`, `reboot`), the instant it is for in RFC 3339 UTC and its run
//! id, `-` for no instant (manual and `@reboot` runs) or for an id the
//! supervisor picks. With `--snapshots` each task is read from its
//! snapshot (`Paths::snapshot`, what the daemon loaded), else from the task
//! file (`--file`, kron's global flag, always given so that the supervisor
//! serves the file its starter serves). Several runs are supervised at
//! once, a thread each; a single run may wait for its lock, and the
//! supervisor exits with its status, as `kron run` does.
//!
//! `--watch` (cluster tasks' runs) starts the supervisor of a host that
//! lost the claims of their occurrences: it watches each holder's lease
//! until the occurrence ends, and takes it over or records it abandoned
//! if the holder dies (`runner::claim`). Its standard output is not the
//! daemon's, which has counted the run as ended already.

use std::ffi::OsString;
use std::path::Path;

use jiff::Timestamp;

use crate::history::Trigger;

/// One run a supervisor is asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub task: String,
    pub trigger: Trigger,
    /// The instant it is for (`None` for manual and `@reboot` runs).
    pub scheduled: Option<Timestamp>,
    /// The id a client chose (`kron run --detach` prints it); `None`: the
    /// supervisor picks one.
    pub run_id: Option<String>,
}

/// A supervisor's whole command line, after `kron`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    pub runs: Vec<Run>,
    /// Read each task from its snapshot rather than from the task file.
    pub snapshots: bool,
    /// Watch the holder of the (one) run's occurrence.
    pub watch: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("--run `{text}`: {reason}")]
pub struct LaunchError {
    text: String,
    reason: String,
}

const SUBCOMMAND: &str = "__supervise";
const NO_VALUE: &str = "-";

impl Launch {
    /// The arguments that start a supervisor for `self`, of `task_file`.
    pub fn args(&self, task_file: &Path) -> Vec<OsString> {
        let mut args = vec![OsString::from(SUBCOMMAND)];
        for run in &self.runs {
            args.push("--run".into());
            args.push(run.to_arg().into());
        }
        if self.snapshots {
            args.push("--snapshots".into());
        }
        if self.watch {
            args.push("--watch".into());
        }
        args.extend(["--file".into(), task_file.into()]);
        args
    }

    /// Reads the `--run` values and the `--snapshots` and `--watch` flags
    /// back.
    pub fn parse(runs: &[String], snapshots: bool, watch: bool) -> Result<Launch, LaunchError> {
        let runs = runs
            .iter()
            .map(|text| Run::parse(text))
            .collect::<Result<_, _>>()?;
        Ok(Launch {
            runs,
            snapshots,
            watch,
        })
    }
}

impl Run {
    fn to_arg(&self) -> String {
        let scheduled = self
            .scheduled
            .map_or_else(|| NO_VALUE.to_string(), |t| t.to_string());
        format!(
            "{},{},{scheduled},{}",
            self.task,
            self.trigger.as_str(),
            self.run_id.as_deref().unwrap_or(NO_VALUE)
        )
    }

    fn parse(text: &str) -> Result<Run, LaunchError> {
        let error = |reason: &str| LaunchError {
            text: text.into(),
            reason: reason.into(),
        };
        let [task, trigger, scheduled, run_id] = text.split(',').collect::<Vec<_>>()[..] else {
            return Err(error("expected NAME,TRIGGER,SCHEDULED,RUN_ID"));
        };
        let value = |s: &'_ str| Some(s.to_string()).filter(|s| s != NO_VALUE);
        let trigger = clap::ValueEnum::from_str(trigger, false)
            .map_err(|_| error("TRIGGER is one of schedule, manual, catch-up, reboot"))?;
        let scheduled = value(scheduled)
            .map(|t| t.parse::<Timestamp>())
            .transpose()
            .map_err(|_| error("SCHEDULED is an RFC 3339 instant or -"))?;
        let run_id = value(run_id);
        if run_id.as_deref().is_some_and(|id| !valid_run_id(id)) {
            return Err(error(
                "RUN_ID is 1-64 letters, digits, - and _ (it names files), or -",
            ));
        }
        Ok(Run {
            task: task.into(),
            trigger,
            scheduled,
            run_id,
        })
    }
}

/// Run ids name files: letters, digits, `-` and `_` only.
pub fn valid_run_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_is_read_back() {
        let launch = Launch {
            runs: vec![
                Run {
                    task: "backup".into(),
                    trigger: Trigger::CatchUp,
                    scheduled: Some("2026-03-08T03:00:00Z".parse().unwrap()),
                    run_id: None,
                },
                Run {
                    task: "x_1".into(),
                    trigger: Trigger::Manual,
                    scheduled: None,
                    run_id: Some("20260308-030000-1a2b3c4d".into()),
                },
            ],
            snapshots: true,
            watch: false,
        };
        let args: Vec<String> = launch
            .args(Path::new("/t.toml"))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "__supervise",
                "--run",
                "backup,catch-up,2026-03-08T03:00:00Z,-",
                "--run",
                "x_1,manual,-,20260308-030000-1a2b3c4d",
                "--snapshots",
                "--file",
                "/t.toml"
            ]
        );
        let runs: Vec<String> = vec![args[2].clone(), args[4].clone()];
        assert_eq!(Launch::parse(&runs, true, false).unwrap(), launch);
    }

    #[test]
    fn bad_runs_say_which_field() {
        let err = |text: &str| Run::parse(text).unwrap_err().to_string();
        assert!(err("a,schedule,-").contains("expected NAME,TRIGGER,SCHEDULED,RUN_ID"));
        assert!(err("a,sometimes,-,-").starts_with("--run `a,sometimes,-,-`: TRIGGER"));
        assert!(err("a,schedule,yesterday,-").contains("SCHEDULED"));
        assert!(err("a,schedule,-,../../x").contains("RUN_ID"));
    }
}
