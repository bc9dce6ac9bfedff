//! The Redis backend: each operation of [`Backend`] that changes something
//! is one Lua script (`scripts`), which Redis runs alone and logs as one
//! unit, so that a host dying between two steps never leaves a half-made
//! claim. The claim is the classic "one key per occurrence" of Laravel's
//! `onOneServer` and sidekiq-cron: the occurrence's key is created only
//! if it is absent (as `SET NX` would; a hash, to hold the lease and the
//! outcome beside the holder), with a token from `INCR` on one counter, in
//! the same script. Leases are judged by `TIME`, the server's clock.
//!
//! The outcome stays in the occurrence's key, where `kron history
//! --cluster` finds it through the task's ledger (a sorted set by
//! instant). Both are bounded the way local history is: each task keeps
//! its `history.keep` latest occurrences (trimmed a tenth past it, never
//! a running one nor one of the last hour), and each key expires
//! `history.max_age` after its claim (`cluster::ledger_age`). An occurrence older than what the
//! ledger remembers is never claimed again: whether it ran is forgotten.
//!
//! Durability is the server's configuration, not kron's: only a single
//! primary with `appendonly yes` and `appendfsync always` keeps every
//! acknowledged claim through a crash; [`Redis::health`] reports the rest.
//! Redlock is not used: its safety rests on bounded clock drift and pauses
//! across servers, and kron's guarantee rests on one durable key instead.

mod scripts;

use std::collections::HashMap;
use std::time::Duration;

use ::redis::{Client, Connection, RedisError, Script};
use jiff::Timestamp;

use super::{
    Backend, Claim, Claimant, ClusterError, Divergence, Finish, Health, Holder, LedgerRow,
    LockClaim, LockHolder, NodeRow, NodeSeen, Occurrence, Renewal, Takeover,
};

/// The key layout this kron writes (`kron:schema`); see `scripts`.
pub const KEY_LAYOUT: i32 = 1;
/// The most occurrences one claim trims from its task's ledger.
const TRIM_BATCH: usize = 1000;
/// How many keys one pipelined read asks for.
const READ_BATCH: usize = 500;

/// How long connecting, and each exchange, may take before the backend
/// counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);

const FENCING: &str = "kron:fencing";
const SCHEMA: &str = "kron:schema";
const TASKS: &str = "kron:tasks";
const TRIMMED: &str = "kron:trimmed";
const NODES: &str = "kron:nodes";
const DEFINITIONS: &str = "kron:defs";

fn occurrence_key(task: &str, instant: &str) -> String {
    format!("kron:occ:{task}:{instant}")
}

fn ledger_key(task: &str) -> String {
    format!("kron:ledger:{task}")
}

fn lock_key(name: &str) -> String {
    format!("kron:lock:{name}")
}

/// `backup@2026-12-01T03:00:00Z` → `kron:occ:backup:2026-12-01T03:00:00Z`:
/// the instant as every host writes it.
fn key_of(occ: &Occurrence) -> String {
    occurrence_key(&occ.task, &occ.instant.to_string())
}

pub struct Redis {
    connection: Connection,
}

impl Redis {
    pub fn connect(address: &str) -> Result<Redis, ClusterError> {
        let client = Client::open(address).map_err(|e| {
            ClusterError::Backend(format!(
                "the address: {}",
                message(&e).replace(address, "…")
            ))
        })?;
        let connection = client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(error)?;
        connection
            .set_read_timeout(Some(NETWORK_TIMEOUT))
            .map_err(error)?;
        connection
            .set_write_timeout(Some(NETWORK_TIMEOUT))
            .map_err(error)?;
        Ok(Redis { connection })
    }

    /// Runs one of `scripts` with `keys` and `args`.
    fn run<T: ::redis::FromRedisValue>(
        &mut self,
        script: &str,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, ClusterError> {
        let script = Script::new(script);
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        invocation.invoke(&mut self.connection).map_err(error)
    }

    fn hashes(&mut self, keys: &[String]) -> Result<Vec<HashMap<String, String>>, ClusterError> {
        let mut out = Vec::with_capacity(keys.len());
        for batch in keys.chunks(READ_BATCH) {
            let mut pipe = ::redis::pipe();
            for key in batch {
                pipe.cmd("HGETALL").arg(key);
            }
            let got: Vec<HashMap<String, String>> =
                pipe.query(&mut self.connection).map_err(error)?;
            out.extend(got);
        }
        Ok(out)
    }

    fn members(&mut self, set: &str) -> Result<Vec<String>, ClusterError> {
        let mut members: Vec<String> = ::redis::cmd("SMEMBERS")
            .arg(set)
            .query(&mut self.connection)
            .map_err(error)?;
        members.sort();
        Ok(members)
    }

    /// `CONFIG GET name`'s value; `Err`: the server refused (a managed
    /// service may rename or forbid CONFIG).
    fn config(&mut self, name: &str) -> Result<String, String> {
        let pairs: Vec<String> = ::redis::cmd("CONFIG")
            .arg("GET")
            .arg(name)
            .query(&mut self.connection)
            .map_err(|e| message(&e))?;
        Ok(pairs.get(1).cloned().unwrap_or_default())
    }

    fn info(&mut self, section: &str) -> Result<HashMap<String, String>, ClusterError> {
        let text: String = ::redis::cmd("INFO")
            .arg(section)
            .query(&mut self.connection)
            .map_err(error)?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect())
    }
}

/// A connection refused, reset or timed out, or a server busy (loading
/// its data after a restart, running a long script) means the backend is
/// unreachable for now; anything else is the backend's answer.
fn error(e: RedisError) -> ClusterError {
    let transient = matches!(
        e.code(),
        Some("LOADING" | "BUSY" | "TRYAGAIN" | "MASTERDOWN" | "CLUSTERDOWN")
    );
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || transient {
        ClusterError::Unreachable(message(&e))
    } else {
        ClusterError::Backend(message(&e))
    }
}

/// The error as the crate words it (its text already includes the cause
/// an I/O error carries).
fn message(e: &RedisError) -> String {
    e.to_string()
}

fn unexpected(what: &str, reply: &[String]) -> ClusterError {
    ClusterError::Backend(format!("unexpected reply to {what}: {reply:?}"))
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn millis(d: Duration) -> String {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).to_string()
}

/// A holder from six strings: node, run id, token, digest, state, lease
/// left in ms (empty once the occurrence ended).
fn holder(fields: &[String]) -> Option<Holder> {
    let [node, run_id, token, digest, state, left] = fields else {
        return None;
    };
    Some(Holder {
        node: node.clone(),
        run_id: run_id.clone(),
        token: token.parse().ok()?,
        digest: digest.clone(),
        state: state.clone(),
        lease_left: left.parse::<u64>().ok().map(Duration::from_millis),
    })
}

fn number<T: std::str::FromStr>(row: &HashMap<String, String>, field: &str) -> Option<T> {
    row.get(field).and_then(|v| v.parse().ok())
}

fn ledger_row(row: &HashMap<String, String>) -> Option<LedgerRow> {
    let text = |field: &str| row.get(field).cloned();
    Some(LedgerRow {
        task: text("task")?,
        instant: ts(number(row, "instant")?),
        state: text("state")?,
        node: text("node")?,
        run_id: text("run_id")?,
        token: number(row, "token")?,
        claimed: ts(number(row, "claimed")?),
        finished: number(row, "finished").map(ts),
        attempts: number(row, "attempts"),
        exit_code: number(row, "exit_code"),
        reason: text("reason"),
        previous: text("previous"),
    })
}

impl Backend for Redis {
    fn now(&mut self) -> Result<Timestamp, ClusterError> {
        let (secs, micros): (i64, i64) = ::redis::cmd("TIME")
            .query(&mut self.connection)
            .map_err(error)?;
        Ok(ts(secs * 1000 + micros / 1000))
    }

    fn claim(&mut self, occ: &Occurrence, who: &Claimant) -> Result<Claim, ClusterError> {
        let instant = occ.instant.to_string();
        let retention = super::ledger_age(&who.history);
        let reply: Vec<String> = self.run(
            scripts::CLAIM,
            &[
                &occurrence_key(&occ.task, &instant),
                FENCING,
                &ledger_key(&occ.task),
                TASKS,
                TRIMMED,
                SCHEMA,
            ],
            &[
                &occ.task,
                &instant,
                &occ.instant.as_millisecond().to_string(),
                &who.node,
                &who.run_id,
                &who.digest,
                &millis(who.lease),
                &who.history.keep.max(1).to_string(),
                &millis(retention),
                &KEY_LAYOUT.to_string(),
                &TRIM_BATCH.to_string(),
                &millis(super::LEDGER_RECENT),
            ],
        )?;
        match reply.first().map(String::as_str) {
            Some("won") => reply
                .get(1)
                .and_then(|t| t.parse().ok())
                .map(|token| Claim::Won { token })
                .ok_or_else(|| unexpected("a claim", &reply)),
            Some("lost") => holder(&reply[1..])
                .map(Claim::Lost)
                .ok_or_else(|| unexpected("a claim", &reply)),
            Some("forgotten") => {
                let limit = reply
                    .get(2)
                    .and_then(|ms| ms.parse().ok())
                    .map(ts)
                    .unwrap_or(Timestamp::UNIX_EPOCH);
                let why = if reply.get(1).is_some_and(|w| w == "count") {
                    super::Forgotten::Count {
                        keep: who.history.keep,
                        back_to: limit,
                    }
                } else {
                    super::Forgotten::Age { since: limit }
                };
                Err(why.refusal(occ))
            }
            _ => Err(unexpected("a claim", &reply)),
        }
    }

    fn holder(&mut self, occ: &Occurrence) -> Result<Option<Holder>, ClusterError> {
        let reply: Vec<String> = self.run(scripts::HOLDER, &[&key_of(occ)], &[])?;
        if reply.is_empty() {
            return Ok(None);
        }
        holder(&reply)
            .map(Some)
            .ok_or_else(|| unexpected("a holder's read", &reply))
    }

    fn renew(
        &mut self,
        occ: &Occurrence,
        token: i64,
        lease: Duration,
    ) -> Result<Renewal, ClusterError> {
        let reply: Vec<String> = self.run(
            scripts::RENEW,
            &[&key_of(occ)],
            &[&token.to_string(), &millis(lease)],
        )?;
        match reply.first().map(String::as_str) {
            Some("held") => Ok(Renewal::Held {
                stop: reply.get(1).is_some_and(|s| s == "1"),
            }),
            Some("lost") => Ok(Renewal::Lost),
            _ => Err(unexpected("a renewal", &reply)),
        }
    }

    fn take_over(
        &mut self,
        occ: &Occurrence,
        who: &Claimant,
        retry: bool,
    ) -> Result<Takeover, ClusterError> {
        let reply: Vec<String> = self.run(
            scripts::TAKE_OVER,
            &[&key_of(occ), FENCING],
            &[
                &who.node,
                &who.run_id,
                &who.digest,
                &millis(who.lease),
                if retry { "1" } else { "0" },
            ],
        )?;
        let bad = || unexpected("a takeover", &reply);
        match reply.first().map(String::as_str) {
            Some("none") => Err(ClusterError::Backend(format!("{occ}: no row to take over"))),
            Some("unchanged") => holder(&reply[1..]).map(Takeover::Unchanged).ok_or_else(bad),
            Some("abandoned") => holder(&reply[1..])
                .map(|holder| Takeover::Abandoned { holder })
                .ok_or_else(bad),
            Some("won") => {
                let token = reply.get(1).and_then(|t| t.parse().ok()).ok_or_else(bad)?;
                let previous = holder(&reply[2..]).ok_or_else(bad)?;
                Ok(Takeover::Won { token, previous })
            }
            _ => Err(bad()),
        }
    }

    fn finish(
        &mut self,
        occ: &Occurrence,
        token: i64,
        finish: &Finish,
    ) -> Result<bool, ClusterError> {
        let attempts = i32::try_from(finish.attempts).unwrap_or(i32::MAX);
        let flag = |present: bool| if present { "1" } else { "0" };
        let exit_code = finish.exit_code.map(|c| c.to_string()).unwrap_or_default();
        let reason = finish.reason.clone().unwrap_or_default();
        let done: i64 = self.run(
            scripts::FINISH,
            &[&key_of(occ)],
            &[
                &token.to_string(),
                finish.outcome.as_str(),
                &attempts.to_string(),
                flag(finish.exit_code.is_some()),
                &exit_code,
                flag(finish.reason.is_some()),
                &reason,
            ],
        )?;
        Ok(done == 1)
    }

    fn lock(
        &mut self,
        name: &str,
        occ: &Occurrence,
        who: &Claimant,
        token: i64,
    ) -> Result<LockClaim, ClusterError> {
        let reply: Vec<String> = self.run(
            scripts::LOCK,
            &[&lock_key(name), &key_of(occ)],
            &[
                name,
                &occ.task,
                &occ.instant.as_millisecond().to_string(),
                &who.node,
                &who.run_id,
                &token.to_string(),
                &millis(who.lease),
            ],
        )?;
        match reply.as_slice() {
            [held] if held == "held" => Ok(LockClaim::Held),
            [busy, task, instant, node, run_id] if busy == "busy" => {
                Ok(LockClaim::Busy(LockHolder {
                    occurrence: Occurrence {
                        task: task.clone(),
                        instant: ts(instant.parse().unwrap_or(0)),
                    },
                    node: node.clone(),
                    run_id: run_id.clone(),
                }))
            }
            _ => Err(unexpected("a lock", &reply)),
        }
    }

    fn request_stop(&mut self, name: &str) -> Result<(), ClusterError> {
        let _: i64 = self.run(scripts::REQUEST_STOP, &[&lock_key(name)], &[])?;
        Ok(())
    }

    fn seen(&mut self, node: &NodeSeen, definitions: &[(&str, &str)]) -> Result<(), ClusterError> {
        let node_key = format!("kron:node:{}", node.node);
        let def_keys: Vec<String> = definitions
            .iter()
            .map(|(task, _)| format!("kron:def:{task}"))
            .collect();
        let mut keys = vec![node_key.as_str(), NODES, DEFINITIONS];
        keys.extend(def_keys.iter().map(String::as_str));
        let mut args = vec![
            node.node.as_str(),
            &node.version,
            &node.file_digest,
            &node.tzdata,
        ];
        for (task, digest) in definitions {
            args.extend([*task, *digest]);
        }
        let _: i64 = self.run(scripts::SEEN, &keys, &args)?;
        Ok(())
    }

    fn nodes(&mut self) -> Result<Vec<NodeRow>, ClusterError> {
        let names = self.members(NODES)?;
        let keys: Vec<String> = names.iter().map(|n| format!("kron:node:{n}")).collect();
        let rows = self.hashes(&keys)?;
        Ok(names
            .into_iter()
            .zip(rows)
            .filter(|(_, row)| !row.is_empty())
            .map(|(node, row)| NodeRow {
                node,
                last_seen: ts(number(&row, "last_seen").unwrap_or(0)),
                version: row.get("version").cloned().unwrap_or_default(),
                file_digest: row.get("file_digest").cloned().unwrap_or_default(),
                tzdata: row.get("tzdata").cloned().unwrap_or_default(),
            })
            .collect())
    }

    fn divergences(&mut self) -> Result<Vec<Divergence>, ClusterError> {
        let tasks = self.members(DEFINITIONS)?;
        let keys: Vec<String> = tasks.iter().map(|t| format!("kron:def:{t}")).collect();
        let rows = self.hashes(&keys)?;
        let mut out = Vec::new();
        for (task, row) in tasks.into_iter().zip(rows) {
            let mut digests: Vec<(String, String)> = row.into_iter().collect();
            digests.sort();
            let first = digests.first().map(|(_, d)| d.clone());
            if digests.iter().any(|(_, d)| Some(d) != first.as_ref()) {
                out.push(Divergence { task, digests });
            }
        }
        Ok(out)
    }

    fn ledger(&mut self, task: Option<&str>, limit: usize) -> Result<Vec<LedgerRow>, ClusterError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let tasks = match task {
            Some(task) => vec![task.to_string()],
            None => self.members(TASKS)?,
        };
        // Each task's latest `limit`, then the latest `limit` of them all.
        let stop = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let mut pipe = ::redis::pipe();
        for task in &tasks {
            pipe.cmd("ZREVRANGE")
                .arg(ledger_key(task))
                .arg(0)
                .arg(stop)
                .arg("WITHSCORES");
        }
        let ranges: Vec<Vec<(String, i64)>> = pipe.query(&mut self.connection).map_err(error)?;
        let mut all: Vec<(i64, &str, String)> = tasks
            .iter()
            .zip(ranges)
            .flat_map(|(task, range)| {
                range
                    .into_iter()
                    .map(move |(instant, ms)| (ms, task.as_str(), instant))
            })
            .collect();
        all.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        all.truncate(limit);
        let keys: Vec<String> = all
            .iter()
            .map(|(_, task, instant)| occurrence_key(task, instant))
            .collect();
        Ok(self.hashes(&keys)?.iter().filter_map(ledger_row).collect())
    }

    fn health(&mut self) -> Result<Health, ClusterError> {
        let server = self.info("server")?;
        let replication = self.info("replication")?;
        let version = |key: &str| server.get(key).filter(|v| !v.is_empty());
        let name = match version("valkey_version") {
            Some(v) => format!("Valkey {v}"),
            None => format!(
                "Redis {}",
                version("redis_version").map_or("(unknown version)", |v| v)
            ),
        };
        let role = replication.get("role").cloned().unwrap_or_default();
        let mut weak = Vec::new();
        // Redis Cluster shards keys: a claim's script spans several.
        if let Some(mode) = server.get("redis_mode").filter(|m| *m == "cluster") {
            weak.push(("redis_mode".to_string(), mode.clone()));
        }
        match self.durability() {
            Ok(settings) => weak.extend(settings),
            Err(refused) => weak.push((
                "CONFIG GET".to_string(),
                format!("refused ({refused}): appendonly and appendfsync unknown"),
            )),
        }
        // Replication is asynchronous: a failover to a replica can lose
        // claims the primary acknowledged (WAIT does not change that).
        let replicas = replication
            .get("connected_slaves")
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        if role == "master" && replicas > 0 {
            weak.push(("connected_slaves".to_string(), replicas.to_string()));
        }
        let schema: Option<String> = ::redis::cmd("GET")
            .arg(SCHEMA)
            .query(&mut self.connection)
            .map_err(error)?;
        Ok(Health {
            server: name,
            standby: role != "master",
            weak,
            schema: schema.and_then(|v| v.parse().ok()),
            expected_schema: KEY_LAYOUT,
        })
    }
}

impl Redis {
    /// The settings that let a crash forget acknowledged claims, with
    /// their values.
    fn durability(&mut self) -> Result<Vec<(String, String)>, String> {
        let mut weak = Vec::new();
        let appendonly = self.config("appendonly")?;
        if appendonly != "yes" {
            weak.push(("appendonly".to_string(), appendonly));
        }
        let appendfsync = self.config("appendfsync")?;
        if appendfsync != "always" {
            weak.push(("appendfsync".to_string(), appendfsync));
        }
        // No fsync at all while the file is rewritten in the background.
        let rewrite = self.config("no-appendfsync-on-rewrite")?;
        if rewrite == "yes" {
            weak.push(("no-appendfsync-on-rewrite".to_string(), rewrite));
        }
        // Under a memory limit, an eviction policy other than noeviction
        // may delete claims (every occurrence key has an expiry, so even
        // the volatile-* policies reach them).
        let limit = self.config("maxmemory")?;
        let policy = self.config("maxmemory-policy")?;
        if limit != "0" && policy != "noeviction" {
            weak.push(("maxmemory-policy".to_string(), policy));
        }
        Ok(weak)
    }
}
