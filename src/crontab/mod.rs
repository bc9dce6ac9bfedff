//! crontab(5) and `/etc/crontab`: reading them into tasks for `kron import`
//! (`read`, with the tasks' names from `name`), and writing tasks back as a
//! crontab for `kron export --format crontab` (`write`). This file holds
//! only what both halves need: the macros crontab knows and what cron
//! counts as a blank.
//!
//! Reading follows Vixie/ISC cron (the `cron` package on Debian) and cronie
//! line by line: a line is a variable assignment if cron's own `load_env`
//! state machine accepts it (`NAME=value`, `NAME = "value"`, quotes keep
//! blanks), else a job; in a job's command the first unescaped `%` ends the
//! command and the rest is standard input with every further `%` a newline
//! (`\%` is a literal `%`). Assignments apply to the jobs after them:
//! `CRON_TZ` is the schedule's zone (cronie), `SHELL` the shell, and every
//! other one the command's environment; `HOME` also is where cron runs the
//! job, and `MAILTO` also is `mailto`. Every line that cannot be converted
//! becomes a [`Problem`] with its line number; nothing is dropped silently.
//!
//! Writing does the reverse and is checked by reading each line back with
//! `read`: a task that cannot be written exactly (a seconds or year field,
//! `@every`, a `L`/`W`/`#` day, a multi-line command, ...) is commented out
//! with the reason, and each setting crontab has no place for (retry,
//! timeout, overlap, ...) gets a `# kron: ...` comment.
//!
//! This module does no I/O. Depends on `schedule` and `taskfile`.

mod name;
mod read;
mod write;

pub use name::{program_name, unique_name};
pub use read::{Imported, Job, Parsed, Problem, assignment, parse, split_percent};
pub use write::{Exported, export};

/// The macros crontab(5) knows.
const MACROS: [&str; 8] = [
    "@reboot",
    "@yearly",
    "@annually",
    "@monthly",
    "@weekly",
    "@daily",
    "@midnight",
    "@hourly",
];

fn is_space(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\x0b'
}
