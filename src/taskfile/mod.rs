//! The task file: one TOML file per user with an optional `[defaults]` table
//! and one `[tasks.NAME]` table per task.
//!
//! This module owns the typed model and the effective settings of a task
//! (built-in values, overridden by `[defaults]`, overridden by the task),
//! with where each one came from. `load` turns text into this model and
//! reports every problem at once. Depends on `schedule`, `units`, `diag`.

pub mod edit;
pub mod install;
pub mod load;
pub mod sections;
pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::schedule::{Schedule, Zone};

pub use load::{decode, load, parse};

/// Keys allowed in a task table and, except the first three, in `[defaults]`.
pub const TASK_ONLY_KEYS: [&str; 3] = ["schedule", "command", "description"];
pub const SHARED_KEYS: [&str; 25] = [
    "timezone",
    "shell",
    "workdir",
    "env",
    "stdin",
    "timeout",
    "kill_grace",
    "leftovers",
    "retry",
    "overlap",
    "lock",
    "jitter",
    "catch_up",
    "max_lateness",
    "paused",
    "log",
    "on_failure",
    "on_success",
    "on_missed",
    "mailto",
    "mail",
    "nice",
    "ioclass",
    "limits",
    "history",
];
pub const RETRY_KEYS: [&str; 5] = ["attempts", "backoff", "factor", "max_backoff", "jitter"];
pub const LOG_KEYS: [&str; 2] = ["max_size", "keep"];
pub const LIMIT_KEYS: [&str; 3] = ["cpu", "memory", "files"];
pub const HISTORY_KEYS: [&str; 3] = ["keep", "max_age", "archive_max_age"];
/// Keys allowed only in `[defaults]`: they concern the whole file.
pub const DEFAULTS_ONLY_KEYS: [&str; 2] = ["max_parallel", "metrics_file"];
/// Keys of the `[cluster]` table (README, "Running on several hosts").
pub const CLUSTER_KEYS: [&str; 5] = ["backend", "backend_file", "node", "lease", "max_skew"];
/// The task key that says how a task runs in a cluster; allowed in a task
/// and in `[defaults]`, only when the file has a `[cluster]` table.
pub const CLUSTER_MODE_KEY: &str = "cluster";
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(2);
/// The shortest lease: a holder renews three times per lease and must
/// stop its command (with `kill_grace`) before it ends.
pub const MIN_LEASE: Duration = Duration::from_secs(3);

#[derive(Clone, Debug)]
pub struct TaskFile {
    pub path: PathBuf,
    pub defaults: Layer,
    /// In file order.
    pub tasks: Vec<Task>,
    /// `[defaults].max_parallel`: at most this many runs started by the
    /// daemon at once; `None` is unlimited.
    pub max_parallel: Option<std::num::NonZeroU32>,
    /// `[cluster]`: the backend the hosts sharing this file coordinate
    /// through; `None`: every task runs here alone.
    pub cluster: Option<Cluster>,
    /// What is valid but should be written otherwise (a zone not in its
    /// IANA spelling): `kron check` shows them.
    pub warnings: Vec<crate::diag::Diagnostic>,
    /// Schedules with no instant after the load (their year field ran
    /// out). The daemon loads them (a file does not break as time passes);
    /// `kron add`, `import` and `check` refuse them.
    pub ended: Vec<crate::diag::Diagnostic>,
}

impl TaskFile {
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

/// The `[cluster]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    pub backend: Backend,
    /// This host's name in the cluster (default: the host name).
    pub node: String,
    /// How long a claim holds without renewal, judged by the backend's
    /// clock.
    pub lease: Duration,
    /// A host whose clock is further than this from the backend's claims
    /// nothing.
    pub max_skew: Duration,
}

/// Where the backend's address is: in the task file (no password), or in
/// a file of its own that only the user can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Address(String),
    File(PathBuf),
}

/// How a task runs when the file has a `[cluster]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClusterMode {
    /// At most once per occurrence: a holder that dies leaves it
    /// `abandoned`.
    Once,
    /// At least once: another host runs it again when its holder dies.
    Retry,
    /// Not coordinated: runs on every host.
    Local,
}

impl ClusterMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterMode::Once => "once",
            ClusterMode::Retry => "retry",
            ClusterMode::Local => "local",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Task {
    pub name: String,
    pub description: Option<String>,
    /// The schedule as written.
    pub schedule_text: String,
    pub schedule: Schedule,
    pub command: TaskCommand,
    /// What the task's own table sets.
    pub layer: Layer,
    /// What the task runs with: built-ins < `[defaults]` < the task.
    pub settings: Settings,
    /// Line of the task's table header in the file.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum TaskCommand {
    /// Run by the task's shell with `-c`.
    Shell(String),
    /// Run directly, without a shell.
    Argv(Vec<String>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    Skip,
    Queue,
    Replace,
    Allow,
}

/// What becomes of the processes a command leaves in its process group
/// when its main process exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Leftovers {
    /// Left running, as cron does, and recorded with the run.
    Keep,
    /// Stopped (SIGTERM to the group, SIGKILL after `kill_grace`), as
    /// systemd does, and recorded with the run.
    Kill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    Skip,
    Once,
    All,
}

/// Which runs' output `mailto` receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mail {
    /// Failed and timed-out runs (as `chronic` does).
    Failure,
    /// Every run that printed something (as cron does).
    Always,
    Never,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub attempts: u32,
    #[serde(serialize_with = "ser_duration")]
    pub backoff: Duration,
    pub factor: f64,
    #[serde(serialize_with = "ser_duration")]
    pub max_backoff: Duration,
    /// Full jitter: each delay drawn uniformly from zero to its value.
    pub jitter: bool,
}

/// The I/O scheduling class of a task's command (ioprio_set(2)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IoClass {
    /// Disk time only when no other process wants it.
    Idle,
    /// The default class, at the level its `nice` gives (as the kernel does).
    BestEffort,
}

/// Resource limits of a task's command (setrlimit(2) resources); `None`:
/// what the daemon has.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// CPU time (`RLIMIT_CPU`): SIGXCPU when used, SIGKILL a second later.
    #[serde(serialize_with = "ser_opt_duration")]
    pub cpu: Option<Duration>,
    /// Address space in bytes (`RLIMIT_AS`): allocations beyond it fail.
    pub memory: Option<u64>,
    /// Open files (`RLIMIT_NOFILE`): the highest descriptor number + 1.
    pub files: Option<u64>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self == &Limits::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LogPolicy {
    pub max_size: u64,
    pub keep: u32,
}

/// One table's settings as written: `None` (or empty) where it says nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layer {
    pub timezone: Option<String>,
    pub shell: Option<String>,
    pub workdir: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub stdin: Option<String>,
    pub timeout: Option<Duration>,
    pub kill_grace: Option<Duration>,
    pub leftovers: Option<Leftovers>,
    pub retry_attempts: Option<u32>,
    pub retry_backoff: Option<Duration>,
    pub retry_factor: Option<f64>,
    pub retry_max_backoff: Option<Duration>,
    pub retry_jitter: Option<bool>,
    pub overlap: Option<Overlap>,
    pub lock: Option<String>,
    pub jitter: Option<Duration>,
    pub catch_up: Option<CatchUp>,
    pub max_lateness: Option<Duration>,
    pub paused: Option<bool>,
    pub log_max_size: Option<u64>,
    pub log_keep: Option<u32>,
    pub on_failure: Option<String>,
    pub on_success: Option<String>,
    pub on_missed: Option<String>,
    pub mailto: Option<String>,
    pub mail: Option<Mail>,
    pub nice: Option<i32>,
    pub ioclass: Option<IoClass>,
    pub limit_cpu: Option<Duration>,
    pub limit_memory: Option<u64>,
    pub limit_files: Option<u64>,
    pub cluster: Option<ClusterMode>,
    pub history_keep: Option<u32>,
    pub history_max_age: Option<Duration>,
    pub history_archive_max_age: Option<Duration>,
    /// Only ever set in `[defaults]`.
    pub metrics_file: Option<PathBuf>,
}

/// The settings a task runs with.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Settings {
    #[serde(serialize_with = "ser_zone")]
    pub timezone: Zone,
    pub shell: String,
    /// `None`: the user's home directory.
    pub workdir: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub stdin: Option<String>,
    #[serde(serialize_with = "ser_opt_duration")]
    pub timeout: Option<Duration>,
    #[serde(serialize_with = "ser_duration")]
    pub kill_grace: Duration,
    pub leftovers: Leftovers,
    pub retry: RetryPolicy,
    pub overlap: Overlap,
    /// The lock name; the task's name unless it sets `lock`.
    pub lock: String,
    #[serde(serialize_with = "ser_duration")]
    pub jitter: Duration,
    pub catch_up: CatchUp,
    /// A run later than this after its instant is not started but recorded
    /// `missed`; `None`: no limit.
    #[serde(serialize_with = "ser_opt_duration")]
    pub max_lateness: Option<Duration>,
    pub paused: bool,
    pub log: LogPolicy,
    pub on_failure: Option<String>,
    pub on_success: Option<String>,
    pub on_missed: Option<String>,
    /// Where output is mailed (`sendmail -t`); `None` or empty: nowhere.
    pub mailto: Option<String>,
    pub mail: Mail,
    /// The command's nice value (0-19); `None`: the daemon's.
    pub nice: Option<i32>,
    /// The command's I/O class; `None`: the kernel's default.
    pub ioclass: Option<IoClass>,
    pub limits: Limits,
    /// How much history the task keeps, and for how long its archives.
    pub history: crate::history::Retention,
    /// `[defaults].metrics_file`: the Prometheus textfile to keep current.
    pub metrics_file: Option<PathBuf>,
    /// How the task runs on several hosts; `local` without `[cluster]`.
    pub cluster: ClusterMode,
}

/// Where an effective setting came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Task,
    Defaults,
    Builtin,
}

pub const DEFAULT_SHELL: &str = "/bin/sh";
pub const DEFAULT_KILL_GRACE: Duration = Duration::from_secs(10);
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(10);
pub const DEFAULT_FACTOR: f64 = 2.0;
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(3600);
pub const DEFAULT_LOG_MAX_SIZE: u64 = 1 << 20;
pub const DEFAULT_LOG_KEEP: u32 = 5;

impl Settings {
    /// Built-ins, overridden by `defaults`, overridden by `task`. `env`,
    /// `retry`, `log`, `limits` and `history` merge key by key; every other key
    /// replaces.
    pub fn merge(name: &str, defaults: &Layer, task: &Layer, timezone: Zone) -> Settings {
        fn pick<T: Clone>(task: &Option<T>, defaults: &Option<T>) -> Option<T> {
            task.clone().or_else(|| defaults.clone())
        }
        let mut env = defaults.env.clone();
        env.extend(task.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        Settings {
            timezone,
            shell: pick(&task.shell, &defaults.shell).unwrap_or_else(|| DEFAULT_SHELL.into()),
            workdir: pick(&task.workdir, &defaults.workdir),
            env,
            stdin: pick(&task.stdin, &defaults.stdin),
            timeout: pick(&task.timeout, &defaults.timeout),
            kill_grace: pick(&task.kill_grace, &defaults.kill_grace).unwrap_or(DEFAULT_KILL_GRACE),
            leftovers: pick(&task.leftovers, &defaults.leftovers).unwrap_or(Leftovers::Keep),
            retry: RetryPolicy {
                attempts: pick(&task.retry_attempts, &defaults.retry_attempts).unwrap_or(0),
                backoff: pick(&task.retry_backoff, &defaults.retry_backoff)
                    .unwrap_or(DEFAULT_BACKOFF),
                factor: pick(&task.retry_factor, &defaults.retry_factor).unwrap_or(DEFAULT_FACTOR),
                max_backoff: pick(&task.retry_max_backoff, &defaults.retry_max_backoff)
                    .unwrap_or(DEFAULT_MAX_BACKOFF),
                jitter: pick(&task.retry_jitter, &defaults.retry_jitter).unwrap_or(false),
            },
            overlap: pick(&task.overlap, &defaults.overlap).unwrap_or(Overlap::Skip),
            lock: pick(&task.lock, &defaults.lock).unwrap_or_else(|| name.into()),
            jitter: pick(&task.jitter, &defaults.jitter).unwrap_or(Duration::ZERO),
            catch_up: pick(&task.catch_up, &defaults.catch_up).unwrap_or(CatchUp::Once),
            max_lateness: pick(&task.max_lateness, &defaults.max_lateness),
            paused: pick(&task.paused, &defaults.paused).unwrap_or(false),
            log: LogPolicy {
                max_size: pick(&task.log_max_size, &defaults.log_max_size)
                    .unwrap_or(DEFAULT_LOG_MAX_SIZE),
                keep: pick(&task.log_keep, &defaults.log_keep).unwrap_or(DEFAULT_LOG_KEEP),
            },
            on_failure: pick(&task.on_failure, &defaults.on_failure),
            on_success: pick(&task.on_success, &defaults.on_success),
            on_missed: pick(&task.on_missed, &defaults.on_missed),
            mailto: pick(&task.mailto, &defaults.mailto),
            mail: pick(&task.mail, &defaults.mail).unwrap_or(Mail::Failure),
            nice: pick(&task.nice, &defaults.nice),
            ioclass: pick(&task.ioclass, &defaults.ioclass),
            limits: Limits {
                cpu: pick(&task.limit_cpu, &defaults.limit_cpu),
                memory: pick(&task.limit_memory, &defaults.limit_memory),
                files: pick(&task.limit_files, &defaults.limit_files),
            },
            history: crate::history::Retention {
                keep: pick(&task.history_keep, &defaults.history_keep)
                    .unwrap_or(crate::history::retention::DEFAULT_KEEP),
                max_age: pick(&task.history_max_age, &defaults.history_max_age),
                archive_max_age: pick(
                    &task.history_archive_max_age,
                    &defaults.history_archive_max_age,
                ),
            },
            metrics_file: defaults.metrics_file.clone(),
            cluster: ClusterMode::Local,
        }
    }
}

impl Layer {
    /// Whether this table sets `key` (a dotted path below the table, such as
    /// `retry.attempts` or `env.PATH`).
    pub fn sets(&self, key: &str) -> bool {
        match key {
            "timezone" => self.timezone.is_some(),
            "shell" => self.shell.is_some(),
            "workdir" => self.workdir.is_some(),
            "stdin" => self.stdin.is_some(),
            "timeout" => self.timeout.is_some(),
            "kill_grace" => self.kill_grace.is_some(),
            "leftovers" => self.leftovers.is_some(),
            "retry.attempts" => self.retry_attempts.is_some(),
            "retry.backoff" => self.retry_backoff.is_some(),
            "retry.factor" => self.retry_factor.is_some(),
            "retry.max_backoff" => self.retry_max_backoff.is_some(),
            "retry.jitter" => self.retry_jitter.is_some(),
            "overlap" => self.overlap.is_some(),
            "lock" => self.lock.is_some(),
            "jitter" => self.jitter.is_some(),
            "catch_up" => self.catch_up.is_some(),
            "max_lateness" => self.max_lateness.is_some(),
            "paused" => self.paused.is_some(),
            "log.max_size" => self.log_max_size.is_some(),
            "log.keep" => self.log_keep.is_some(),
            "on_failure" => self.on_failure.is_some(),
            "on_success" => self.on_success.is_some(),
            "on_missed" => self.on_missed.is_some(),
            "mailto" => self.mailto.is_some(),
            "mail" => self.mail.is_some(),
            "nice" => self.nice.is_some(),
            "ioclass" => self.ioclass.is_some(),
            "limits.cpu" => self.limit_cpu.is_some(),
            "limits.memory" => self.limit_memory.is_some(),
            "limits.files" => self.limit_files.is_some(),
            "history.keep" => self.history_keep.is_some(),
            "history.max_age" => self.history_max_age.is_some(),
            "history.archive_max_age" => self.history_archive_max_age.is_some(),
            "metrics_file" => self.metrics_file.is_some(),
            "cluster" => self.cluster.is_some(),
            _ => key
                .strip_prefix("env.")
                .is_some_and(|k| self.env.contains_key(k)),
        }
    }
}

impl Task {
    /// Where the effective value of `key` (as in [`Layer::sets`]) came from.
    pub fn source(&self, defaults: &Layer, key: &str) -> Source {
        if self.layer.sets(key) {
            Source::Task
        } else if defaults.sets(key) {
            Source::Defaults
        } else {
            Source::Builtin
        }
    }
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::units::format_duration(*d))
}

fn ser_opt_duration<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => ser_duration(d, s),
        None => s.serialize_none(),
    }
}

fn ser_zone<S: serde::Serializer>(z: &Zone, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(z.name())
}

/// Whether a backend address carries a password, which belongs in
/// `backend_file`, never in the task file.
pub fn address_has_password(text: &str) -> bool {
    if let Some((_, rest)) = text.split_once("://") {
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let userinfo = authority.rsplit_once('@').map(|(u, _)| u);
        return userinfo.is_some_and(|u| u.contains(':'))
            || rest.contains("password=")
            || rest.contains("pass=");
    }
    text.split_whitespace()
        .any(|kv| kv.starts_with("password="))
}

/// Whether kron knows the backend `text` names: a PostgreSQL URL
/// (`postgres://` or `postgresql://`) or libpq's `key=value` words, or a
/// Redis URL (`redis://`, `rediss://` for TLS, `redis+unix://` or
/// `unix://` for a socket).
pub fn check_address(text: &str) -> Result<(), String> {
    let known = text.starts_with("postgres://")
        || text.starts_with("postgresql://")
        || is_redis_address(text)
        || (!text.contains("://") && text.contains('='));
    if known {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a backend kron knows: write postgres://USER@HOST/DATABASE or \
             redis://HOST:PORT/DB"
        ))
    }
}

/// Whether `text` names a Redis server: `redis://`, `rediss://` (TLS),
/// `redis+unix://` or `unix://` (a socket).
pub fn is_redis_address(text: &str) -> bool {
    ["redis://", "rediss://", "redis+unix://", "unix://"]
        .iter()
        .any(|scheme| text.starts_with(scheme))
}

/// Task and lock names: 1-64 of `a-z 0-9 _ -`.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests;
