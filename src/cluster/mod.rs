//! The cluster: the same task file on several hosts, each occurrence run
//! once, resting on a database the user already runs. This module owns the
//! interface a backend implements ([`Backend`]: the one contract between
//! kron and a database) and the values that cross it; `postgres` and
//! `redis` implement it, and [`connect`] picks one by the address's
//! scheme. The supervisor side (claiming, renewing, watching a holder) is
//! `runner::claim`; the daemon never talks to a backend.
//!
//! The design is a durable key per occurrence, not a leader: the key is
//! the task's name and its scheduled instant in UTC, which every host
//! computes alike whatever its clock says. Claiming inserts the key if it
//! is absent and hands out a fencing token from one sequence, so exactly
//! one host wins and every new holder's token is larger. Leases are judged
//! by the backend's clock only; a host measures durations, never compares
//! its clock with the backend's (except to refuse claims when they are
//! further apart than `max_skew`). docs/architecture.md ("Several hosts")
//! has the whole argument.

pub mod pool;
pub mod postgres;
pub mod reach;
pub mod redis;

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use crate::history::Outcome;
use crate::taskfile::{self, Cluster, Task};

/// The schema version this kron writes; a backend created by an older one
/// is migrated, one created by a newer one is refused. A change older
/// kron can ignore (a table it does not read) keeps the version.
pub const SCHEMA_VERSION: i32 = 1;

/// How long the ledger keeps an occurrence after its claim when its
/// task's history has no `max_age`: past this, the ledger's count bounds
/// it.
pub const LEDGER_DEFAULT_AGE: Duration = Duration::from_secs(366 * 24 * 3600);
/// The ledger keeps an occurrence at least this long, whatever `max_age`
/// says: a host that comes back within it still finds the claims of its
/// downtime.
pub const LEDGER_MIN_AGE: Duration = Duration::from_secs(24 * 3600);
/// No trim by count reaches the occurrences of the last hour, whatever
/// `keep` says: a host that tries to claim one late still finds it
/// claimed, rather than forgotten.
pub const LEDGER_RECENT: Duration = Duration::from_secs(3600);

/// How long the ledger keeps `history`'s task's occurrences.
pub fn ledger_age(history: &crate::history::Retention) -> Duration {
    history
        .max_age
        .unwrap_or(LEDGER_DEFAULT_AGE)
        .max(LEDGER_MIN_AGE)
}

/// Why an occurrence is older than the ledger remembers.
pub enum Forgotten {
    /// The task's `keep` latest occurrences go back to this instant.
    Count { keep: u32, back_to: Timestamp },
    /// Occurrences claimed since this instant are kept.
    Age { since: Timestamp },
}

impl Forgotten {
    /// The refusal of a claim of `occurrence`: whether it ran is
    /// forgotten, so no host claims it (it could run a second time).
    pub fn refusal(&self, occurrence: &Occurrence) -> ClusterError {
        let why = match self {
            Forgotten::Count { keep, back_to } => format!(
                "the ledger keeps the task's {keep} latest occurrences (history.keep), \
                 back to {back_to}"
            ),
            Forgotten::Age { since } => {
                format!("the ledger keeps occurrences claimed since {since} (history.max_age)")
            }
        };
        ClusterError::Forgotten(format!(
            "{occurrence} is older than the cluster remembers ({why}): whether it ran is \
             forgotten, so no host claims it"
        ))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The backend could not be reached or stopped answering: nothing is
    /// claimed (fail closed), and the caller may try again.
    #[error("cluster backend unreachable: {0}")]
    Unreachable(String),
    /// The backend answered, but not as kron expects.
    #[error("cluster backend: {0}")]
    Backend(String),
    #[error("{path}: {reason}")]
    AddressFile { path: PathBuf, reason: String },
    /// The occurrence is older than the ledger remembers: no host claims
    /// it, now or later.
    #[error("{0}")]
    Forgotten(String),
}

/// One scheduled instant of one task: the key every host agrees on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Occurrence {
    pub task: String,
    pub instant: Timestamp,
}

impl std::fmt::Display for Occurrence {
    /// `backup@2026-12-01T03:00:00Z`, as `KRON_OCCURRENCE` says it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.task, self.instant)
    }
}

/// Who claims: this host, this run, this definition of the task.
#[derive(Clone, Debug)]
pub struct Claimant {
    pub node: String,
    pub run_id: String,
    pub digest: String,
    pub lease: Duration,
    /// How much of the task's past the ledger keeps (its `history`): a
    /// backend that trims its ledger (Redis) keeps as many occurrences,
    /// for as long, as local history keeps records.
    pub history: crate::history::Retention,
}

/// What an occurrence's row says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub node: String,
    pub run_id: String,
    pub token: i64,
    pub digest: String,
    /// `running`, or the outcome it ended with.
    pub state: String,
    /// How long its lease has left by the backend's clock (zero when it
    /// has ended); `None` once the occurrence ended.
    pub lease_left: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This run holds the occurrence, with this fencing token.
    Won { token: i64 },
    /// Another run holds it, or held it and it ended.
    Lost(Holder),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// Still ours; `stop`: a replacing run elsewhere asks us to stop.
    Held { stop: bool },
    /// No longer ours: another host took it over after our lease ended.
    Lost,
}

/// A watcher's move once a holder's lease has ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Takeover {
    /// (`retry`) This run holds it now, with a new token; `previous` is
    /// the holder that stopped renewing.
    Won { token: i64, previous: Holder },
    /// (`once`) This run marked it `abandoned`; `holder` is the dead one.
    Abandoned { holder: Holder },
    /// The holder renewed in time, or someone else moved first.
    Unchanged(Holder),
}

/// The cluster-wide lock of a run (`lock`, `overlap`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockClaim {
    Held,
    Busy(LockHolder),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    pub occurrence: Occurrence,
    pub node: String,
    pub run_id: String,
}

/// How a run ended, for its occurrence's row.
#[derive(Clone, Debug)]
pub struct Finish {
    pub outcome: Outcome,
    pub attempts: u32,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// The task's history retention, which bounds its ledger too.
    pub history: crate::history::Retention,
}

/// What a host says of itself when it claims.
#[derive(Clone, Debug)]
pub struct NodeSeen {
    pub node: String,
    pub version: String,
    pub file_digest: String,
    pub tzdata: String,
}

/// A row of `kron cluster status`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct NodeRow {
    pub node: String,
    pub last_seen: Timestamp,
    pub version: String,
    pub file_digest: String,
    pub tzdata: String,
}

/// A task whose definition differs between hosts.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Divergence {
    pub task: String,
    /// Each host's digest of the task, by node.
    pub digests: Vec<(String, String)>,
}

/// An occurrence as the ledger has it (`kron history --cluster`).
#[derive(Clone, Debug, serde::Serialize)]
pub struct LedgerRow {
    pub task: String,
    pub instant: Timestamp,
    pub state: String,
    pub node: String,
    pub run_id: String,
    pub token: i64,
    pub claimed: Timestamp,
    pub finished: Option<Timestamp>,
    pub attempts: Option<i32>,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
    /// The holder before a takeover, or the node that noticed an abandoned
    /// one's death.
    pub previous: Option<String>,
}

/// What `kron doctor` checks of a backend.
#[derive(Clone, Debug)]
pub struct Health {
    pub server: String,
    pub standby: bool,
    /// Settings that weaken durability, with their values.
    pub weak: Vec<(String, String)>,
    /// `None`: kron's tables (or keys) do not exist yet (created at the
    /// first claim).
    pub schema: Option<i32>,
    /// The schema (PostgreSQL) or key layout (Redis) this kron writes.
    pub expected_schema: i32,
}

/// What `health` says can lose an acknowledged claim, or keep this host
/// from claiming, one sentence each (the daemon logs them at start; see
/// README "Running on several hosts" for what each setup guarantees).
pub fn warnings(health: &Health) -> Vec<String> {
    let server = &health.server;
    let mut out = Vec::new();
    if health.standby {
        out.push(format!(
            "the cluster backend ({server}) is a standby (a replica): it takes no claims; \
             point [cluster] backend at the primary"
        ));
    }
    for (setting, value) in &health.weak {
        let (risk, fix) = risk(setting, value);
        let fix = fix.map(|f| format!("; {f}")).unwrap_or_default();
        out.push(format!(
            "the cluster backend ({server}) has {setting} = {value}: {risk}{fix}"
        ));
    }
    if let Some(found) = health.schema.filter(|v| *v > health.expected_schema) {
        out.push(format!(
            "the cluster backend ({server}) is at schema {found}, newer than this kron's \
             ({}): upgrade kron on this host",
            health.expected_schema
        ));
    }
    out
}

/// What a weak setting risks, and its fix when it has one.
pub fn risk(setting: &str, value: &str) -> (&'static str, Option<&'static str>) {
    match (setting, value) {
        ("appendonly", _) => (
            "claims live in memory until the next snapshot, so a crash of Redis forgets the \
             latest and their occurrences can run again",
            Some("set appendonly yes and appendfsync always"),
        ),
        ("appendfsync", "everysec") => (
            "a claim is acknowledged before it is on disk, so a crash of the machine can \
             forget the last second of claims and run those occurrences again",
            Some("set appendfsync always"),
        ),
        ("appendfsync", _) => (
            "the kernel writes claims to disk when it likes, so a crash of the machine can \
             forget many seconds of them",
            Some("set appendfsync always"),
        ),
        ("no-appendfsync-on-rewrite", _) => (
            "while the append-only file is rewritten nothing is synced, so a crash then can \
             forget claims",
            Some("set no-appendfsync-on-rewrite no"),
        ),
        ("maxmemory-policy", _) => (
            "at its memory limit Redis may evict claims (they all expire some day, so even \
             volatile-* policies reach them)",
            Some("set maxmemory-policy noeviction"),
        ),
        ("connected_slaves", _) => (
            "replication is asynchronous (WAIT does not change that), so a failover to a \
             replica can lose acknowledged claims and run those occurrences again",
            None,
        ),
        ("redis_mode", _) => (
            "Redis Cluster spreads keys over shards, and a claim's script spans several, so \
             claims fail",
            Some("point kron at a single Redis server (a primary)"),
        ),
        ("fsync", _) => (
            "a crash of the machine can lose or corrupt committed claims, and so run an \
             occurrence twice",
            Some("set fsync = on"),
        ),
        ("full_page_writes", _) => (
            "a crash of the machine can lose or corrupt committed claims, and so run an \
             occurrence twice",
            Some("set full_page_writes = on"),
        ),
        ("synchronous_commit", _) => (
            "a claim is acknowledged before it is durable, so a crash can forget it and run \
             its occurrence twice",
            Some("set synchronous_commit = on"),
        ),
        _ => ("durability is not what kron's guarantees assume", None),
    }
}

/// A backend: the operations the cluster's guarantees rest on. Each is
/// atomic in the backend (one statement or one transaction), so no crash
/// of a host between two of them can break a guarantee.
pub trait Backend: Send {
    /// The backend's clock.
    fn now(&mut self) -> Result<Timestamp, ClusterError>;
    /// Inserts `occurrence` for `who` if it is absent (the claim); a row
    /// of the same run id is this run's already (a handed-off run).
    fn claim(&mut self, occurrence: &Occurrence, who: &Claimant) -> Result<Claim, ClusterError>;
    /// [`Backend::claim`], and once it is won, [`Backend::lock`] of `lock`
    /// for it; the `bool` says whether the lock is held. A backend does
    /// both in one exchange where it can: on PostgreSQL that is a commit
    /// fewer on the path to the command.
    fn claim_locked(
        &mut self,
        occurrence: &Occurrence,
        who: &Claimant,
        lock: &str,
    ) -> Result<(Claim, bool), ClusterError> {
        let claim = self.claim(occurrence, who)?;
        let locked = match claim {
            Claim::Won { token } => self.lock(lock, occurrence, who, token)? == LockClaim::Held,
            Claim::Lost(_) => false,
        };
        Ok((claim, locked))
    }
    /// What the occurrence's row says now; `None` when it has none.
    fn holder(&mut self, occurrence: &Occurrence) -> Result<Option<Holder>, ClusterError>;
    /// Extends the lease of the occurrence held with `token`, and of its
    /// lock.
    fn renew(
        &mut self,
        occurrence: &Occurrence,
        token: i64,
        lease: Duration,
    ) -> Result<Renewal, ClusterError>;
    /// Once the holder's lease has ended: takes the occurrence over
    /// (`retry`) or marks it abandoned (`once`).
    fn take_over(
        &mut self,
        occurrence: &Occurrence,
        who: &Claimant,
        retry: bool,
    ) -> Result<Takeover, ClusterError>;
    /// Writes the outcome of the run holding `token` and frees its lock.
    /// `false`: the token was no longer the holder's.
    fn finish(
        &mut self,
        occurrence: &Occurrence,
        token: i64,
        finish: &Finish,
    ) -> Result<bool, ClusterError>;
    /// Takes the cluster-wide lock `name` for the run holding `token`.
    fn lock(
        &mut self,
        name: &str,
        occurrence: &Occurrence,
        who: &Claimant,
        token: i64,
    ) -> Result<LockClaim, ClusterError>;
    /// Asks the run holding lock `name` to stop (`overlap = "replace"`).
    fn request_stop(&mut self, name: &str) -> Result<(), ClusterError>;
    /// Records that `node` is alive, with these definitions (task name,
    /// digest) of its tasks: one exchange for a supervisor's runs, as a
    /// burst of a thousand would otherwise be a thousand commits.
    fn seen(&mut self, node: &NodeSeen, definitions: &[(&str, &str)]) -> Result<(), ClusterError>;
    fn nodes(&mut self) -> Result<Vec<NodeRow>, ClusterError>;
    fn divergences(&mut self) -> Result<Vec<Divergence>, ClusterError>;
    /// The latest `limit` occurrences, newest first, of `task` or all.
    fn ledger(&mut self, task: Option<&str>, limit: usize) -> Result<Vec<LedgerRow>, ClusterError>;
    fn health(&mut self) -> Result<Health, ClusterError>;
}

/// A connection to `cluster`'s backend: Redis for a `redis://`,
/// `rediss://`, `redis+unix://` or `unix://` address, PostgreSQL for the
/// rest (its URLs and libpq's `key=value` words).
pub fn connect(cluster: &Cluster) -> Result<Box<dyn Backend>, ClusterError> {
    let address = address(cluster)?;
    if taskfile::is_redis_address(&address) {
        Ok(Box::new(redis::Redis::connect(&address)?))
    } else {
        Ok(Box::new(postgres::Postgres::connect(&address)?))
    }
}

/// The backend's address: from the task file, or from `backend_file`,
/// which must be the user's and readable by nobody else (it may hold a
/// password).
pub fn address(cluster: &Cluster) -> Result<String, ClusterError> {
    match &cluster.backend {
        taskfile::Backend::Address(text) => Ok(text.clone()),
        taskfile::Backend::File(path) => read_address_file(path),
    }
}

fn read_address_file(path: &Path) -> Result<String, ClusterError> {
    use std::os::unix::fs::MetadataExt;
    let fail = |reason: String| ClusterError::AddressFile {
        path: path.into(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.mode() & 0o077 != 0 {
        return Err(fail(format!(
            "others can read it (mode {:o}); it may hold a password: chmod 600 it",
            meta.mode() & 0o777
        )));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(fail("it is not yours".into()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let text = text.trim();
    crate::taskfile::check_address(text).map_err(fail)?;
    Ok(text.into())
}

/// A digest of what a task does and how, the same on every host whose
/// task file says the same: its schedule, command and effective settings.
pub fn digest(task: &Task) -> String {
    let text = serde_json::json!({
        "schedule": task.schedule_text,
        "command": task.command,
        "settings": task.settings,
    })
    .to_string();
    format!("{:016x}", fnv1a(text.as_bytes()))
}

/// A digest of a whole task file's text.
pub fn file_digest(text: &[u8]) -> String {
    format!("{:016x}", fnv1a(text))
}

/// FNV-1a, 64 bits: a digest to compare definitions, not a defence
/// against anyone forging one.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The system's tzdata version (from `tzdata.zi`), or `unknown`.
pub fn tzdata_version() -> String {
    std::fs::read_to_string("/usr/share/zoneinfo/tzdata.zi")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.strip_prefix("# version "))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Asks `backend` for its clock: `Some(offset)` as [`skew`] says.
pub fn clock_skew(
    backend: &mut dyn Backend,
    max_skew: Duration,
) -> Result<Option<f64>, ClusterError> {
    let sent = Timestamp::now();
    let theirs = backend.now()?;
    Ok(skew(sent, Timestamp::now(), theirs, max_skew))
}

/// The sentence a host whose clock is `offset` seconds off the backend's
/// (as [`skew`] gives it) says about it.
pub fn skew_message(offset: f64, max_skew: Duration) -> String {
    format!(
        "this host's clock is {:.1}s {} the backend's, more than max_skew ({}): \
         it claims nothing until they agree",
        offset.abs(),
        if offset > 0.0 { "behind" } else { "ahead of" },
        crate::units::format_duration(max_skew)
    )
}

/// Whether this host's clock is too far from the backend's to claim:
/// `Some(offset)` (the backend's clock minus ours, in seconds) when the
/// offset, less the uncertainty of half the round trip, is above
/// `max_skew`.
pub fn skew(
    sent: Timestamp,
    received: Timestamp,
    backend: Timestamp,
    max_skew: Duration,
) -> Option<f64> {
    let rtt = received.duration_since(sent).as_secs_f64().max(0.0);
    let middle = sent.as_millisecond() as f64 / 1000.0 + rtt / 2.0;
    let offset = backend.as_millisecond() as f64 / 1000.0 - middle;
    (offset.abs() - rtt / 2.0 > max_skew.as_secs_f64()).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skew_counts_the_round_trip_as_uncertainty() {
        let t = |ms: i64| Timestamp::from_millisecond(ms).unwrap();
        let max = Duration::from_secs(2);
        // In step, and 1.9 s ahead: fine.
        assert_eq!(skew(t(1000), t(1010), t(1005), max), None);
        assert_eq!(skew(t(1000), t(1010), t(2905), max), None);
        // 3 s behind: refused, the offset negative.
        let off = skew(t(10_000), t(10_010), t(7005), max).unwrap();
        assert!((off + 3.0).abs() < 0.01, "{off}");
        // A slow round trip widens what is allowed.
        assert_eq!(skew(t(0), t(2000), t(3500), max), None);
    }

    #[test]
    fn the_digest_is_the_same_for_the_same_definition_only() {
        let parse = |text: &str| {
            crate::taskfile::parse(text, Path::new("t.toml"))
                .unwrap()
                .tasks
                .remove(0)
        };
        let a = parse("[tasks.r]\nschedule = \"0 6 * * *\"\ncommand = \"x\"\ntimezone = \"UTC\"\n");
        let b = parse(
            "# moved around\n[tasks.r]\ncommand = \"x\"\nschedule = \"0 6 * * *\"\ntimezone = \"UTC\"\n",
        );
        let c = parse("[tasks.r]\nschedule = \"0 7 * * *\"\ncommand = \"x\"\ntimezone = \"UTC\"\n");
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
    }
}
