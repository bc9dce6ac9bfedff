//! The PostgreSQL backend: kron's tables, their migrations, and each
//! operation of [`Backend`] as one statement (or one transaction), so that
//! a host dying between two of them never leaves a half-made claim.
//!
//! - `kron_occurrences`: one row per occurrence, its primary key the task
//!   and the instant; the row is the claim, its `token` the fencing token
//!   from the sequence `kron_fencing`, its `lease_until` judged by the
//!   server's `now()`.
//! - `kron_locks`: one row per cluster-wide lock, held for a run's token.
//! - `kron_nodes`, `kron_definitions`: who was seen, with which kron,
//!   tzdata and definition of each task (divergences).
//! - `kron_trimmed`: per task, the newest instant trimmed away by count.
//!   The ledger is bounded like local history: a task keeps its
//!   `history.keep` latest occurrences (trimmed as each ends, a tenth
//!   past it, never a running one nor one of the last hour) and none
//!   claimed longer than `cluster::ledger_age` ago. An occurrence older
//!   than what the ledger remembers is never claimed again: whether it
//!   ran is forgotten.
//! - `kron_meta`: the schema version.
//!
//! Times cross the wire as milliseconds since the epoch, so that no
//! client-side time type is involved.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::postgres::config::SslMode;
use ::postgres::error::SqlState;
use ::postgres::types::Type;
use ::postgres::{Client, NoTls, Row};
use jiff::Timestamp;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::{
    Backend, Claim, Claimant, ClusterError, Divergence, Finish, Health, Holder, LedgerRow,
    LockClaim, LockHolder, NodeRow, NodeSeen, Occurrence, Renewal, SCHEMA_VERSION, Takeover,
};

/// How long connecting, and each exchange on a TCP connection, may take
/// before the backend counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const NETWORK_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kron_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE SEQUENCE IF NOT EXISTS kron_fencing;
CREATE TABLE IF NOT EXISTS kron_occurrences (
    task text NOT NULL,
    instant timestamptz NOT NULL,
    state text NOT NULL,
    node text NOT NULL,
    run_id text NOT NULL,
    token bigint NOT NULL,
    digest text NOT NULL,
    claimed timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    finished timestamptz,
    attempts integer,
    exit_code integer,
    reason text,
    previous text,
    PRIMARY KEY (task, instant)
);
CREATE INDEX IF NOT EXISTS kron_occurrences_claimed ON kron_occurrences (claimed);
CREATE TABLE IF NOT EXISTS kron_locks (
    name text PRIMARY KEY,
    task text NOT NULL,
    instant timestamptz NOT NULL,
    node text NOT NULL,
    run_id text NOT NULL,
    token bigint NOT NULL,
    lease_until timestamptz NOT NULL,
    stop_requested boolean NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS kron_nodes (
    node text PRIMARY KEY,
    last_seen timestamptz NOT NULL,
    version text NOT NULL,
    file_digest text NOT NULL,
    tzdata text NOT NULL
);
CREATE TABLE IF NOT EXISTS kron_trimmed (
    task text PRIMARY KEY,
    before timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS kron_definitions (
    task text NOT NULL,
    node text NOT NULL,
    digest text NOT NULL,
    seen timestamptz NOT NULL,
    PRIMARY KEY (task, node)
);
";

/// Milliseconds since the epoch of a `timestamptz` expression.
macro_rules! ms {
    ($e:literal) => {
        concat!("(extract(epoch from ", $e, ") * 1000)::bigint")
    };
}

pub struct Postgres {
    client: Client,
}

impl Postgres {
    pub fn connect(address: &str) -> Result<Postgres, ClusterError> {
        let mut config = ::postgres::Config::from_str(address)
            .map_err(|e| ClusterError::Backend(format!("the address: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A cut link fails the next exchange within this, rather than in
        // the kernel's 15 minutes of retransmissions.
        config.tcp_user_timeout(NETWORK_TIMEOUT);
        config.keepalives_idle(NETWORK_TIMEOUT);
        config.application_name("kron");
        // TLS only when asked for, and then always checked: libpq's
        // default (`prefer`) would encrypt without checking, and a
        // server's self-signed certificate (Debian's default) would make
        // a checked `prefer` fail where libpq connects.
        let client = match config.get_ssl_mode() {
            SslMode::Require => config.connect(tls()?),
            _ => config.connect(NoTls),
        }
        .map_err(unreachable)?;
        Ok(Postgres { client })
    }

    /// Creates kron's tables or migrates them, one host at a time.
    fn migrate(&mut self) -> Result<(), ClusterError> {
        let mut tx = self.client.transaction().map_err(error)?;
        tx.execute("SELECT pg_advisory_xact_lock(7236985)", &[])
            .map_err(error)?;
        tx.batch_execute(SCHEMA).map_err(error)?;
        let found: Option<String> = tx
            .query_opt("SELECT value FROM kron_meta WHERE key = 'schema'", &[])
            .map_err(error)?
            .map(|r| r.get(0));
        match found.and_then(|v| v.parse::<i32>().ok()) {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(ClusterError::Backend(format!(
                    "its tables are at schema version {v}, newer than this kron's \
                     ({SCHEMA_VERSION}): upgrade kron on this host"
                )));
            }
            Some(v) if v == SCHEMA_VERSION => {}
            _ => {
                tx.execute(
                    "INSERT INTO kron_meta VALUES ('schema', $1) \
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                    &[&SCHEMA_VERSION.to_string()],
                )
                .map_err(error)?;
            }
        }
        tx.commit().map_err(error)
    }

    /// The claim, and with `lock` the cluster lock for it, in one
    /// statement: the lock's row is written only if the claim's was.
    fn claim_with(
        &mut self,
        occ: &Occurrence,
        who: &Claimant,
        lock: Option<&str>,
    ) -> Result<(Claim, bool), ClusterError> {
        let instant = occ.instant.as_millisecond();
        let lease = millis(who.lease);
        let age = millis(super::ledger_age(&who.history));
        // No row for an instant the ledger has forgotten (see the module).
        let sql = format!(
            "WITH c AS (INSERT INTO kron_occurrences \
                 (task, instant, state, node, run_id, token, digest, lease_until) \
                 SELECT $1, to_timestamp($2::bigint / 1000.0), 'running', $3, $4, \
                        nextval('kron_fencing'), $5, now() + $6::bigint * interval '1 millisecond' \
                 WHERE to_timestamp($2::bigint / 1000.0) >= now() - $8::bigint * interval '1 millisecond' \
                   AND NOT EXISTS (SELECT 1 FROM kron_trimmed \
                       WHERE task = $1 AND before >= to_timestamp($2::bigint / 1000.0)) \
                 ON CONFLICT (task, instant) DO NOTHING RETURNING token), \
             l AS (INSERT INTO kron_locks (name, task, instant, node, run_id, token, lease_until) \
                 SELECT $7, $1, to_timestamp($2::bigint / 1000.0), $3, $4, c.token, \
                        now() + $6::bigint * interval '1 millisecond' \
                 FROM c WHERE $7::text IS NOT NULL {TAKE_LOCK}) \
             SELECT (SELECT token FROM c), (SELECT token FROM l)"
        );
        let row = self.with_schema(|c| {
            c.query_typed_one(
                &sql,
                &[
                    (&occ.task, Type::TEXT),
                    (&instant, Type::INT8),
                    (&who.node, Type::TEXT),
                    (&who.run_id, Type::TEXT),
                    (&who.digest, Type::TEXT),
                    (&lease, Type::INT8),
                    (&lock, Type::TEXT),
                    (&age, Type::INT8),
                ],
            )
        })?;
        if let Some(token) = row.get::<_, Option<i64>>(0) {
            let locked = row.get::<_, Option<i64>>(1).is_some();
            return Ok((Claim::Won { token }, locked));
        }
        match self.holder(occ)? {
            // A run handed to a supervisor of its own claims again.
            Some(h) if h.run_id == who.run_id && h.node == who.node && h.state == "running" => {
                let locked = match lock {
                    Some(name) => self.lock(name, occ, who, h.token)? == LockClaim::Held,
                    None => false,
                };
                Ok((Claim::Won { token: h.token }, locked))
            }
            Some(h) => Ok((Claim::Lost(h), false)),
            None => Err(self.forgotten(occ, who)?.refusal(occ)),
        }
    }

    /// Why no row was inserted for `occ`, which has none: the ledger
    /// forgot it (or a trim took its row between the two statements).
    fn forgotten(
        &mut self,
        occ: &Occurrence,
        who: &Claimant,
    ) -> Result<super::Forgotten, ClusterError> {
        let age = millis(super::ledger_age(&who.history));
        let row = self
            .client
            .query_typed_one(
                concat!(
                    "SELECT (SELECT ",
                    ms!("before"),
                    " FROM kron_trimmed WHERE task = $1), ",
                    ms!("now() - $2::bigint * interval '1 millisecond'")
                ),
                &[(&occ.task, Type::TEXT), (&age, Type::INT8)],
            )
            .map_err(error)?;
        let (floor, since): (Option<i64>, i64) = (row.get(0), row.get(1));
        Ok(match floor.map(ts) {
            Some(back_to) if occ.instant <= back_to => super::Forgotten::Count {
                keep: who.history.keep,
                back_to,
            },
            _ => super::Forgotten::Age { since: ts(since) },
        })
    }

    /// Runs `op`; if kron's tables do not exist yet, creates them first.
    fn with_schema<T>(
        &mut self,
        mut op: impl FnMut(&mut Client) -> Result<T, ::postgres::Error>,
    ) -> Result<T, ClusterError> {
        match op(&mut self.client) {
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
                self.migrate()?;
                op(&mut self.client).map_err(error)
            }
            other => other.map_err(error),
        }
    }
}

/// The host a PostgreSQL `address` reaches over TCP without TLS, other
/// than this machine's loopback (`kron doctor` warns of it); `None` for
/// sockets, the loopback, `sslmode=require`, or an address that does not
/// parse (the connection says why).
pub fn unencrypted_host(address: &str) -> Option<String> {
    let config = ::postgres::Config::from_str(address).ok()?;
    if config.get_ssl_mode() == SslMode::Require {
        return None;
    }
    config.get_hosts().iter().find_map(|host| match host {
        ::postgres::config::Host::Tcp(name) => {
            let loopback = name == "localhost"
                || name
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            (!loopback).then(|| name.clone())
        }
        _ => None,
    })
}

/// The TLS of `sslmode=require`: rustls with ring, the server's
/// certificate checked against the system's roots, or those of
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` when set. Read once per process.
fn tls() -> Result<MakeRustlsConnect, ClusterError> {
    static CONFIG: OnceLock<Result<MakeRustlsConnect, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = rustls::RootCertStore::empty();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(format!(
                    "sslmode=require: no CA certificate to check the server's against \
                     (the system's roots, or SSL_CERT_FILE){}",
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", why.join("; "))
                    }
                ));
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("sslmode=require: {e}"))?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(MakeRustlsConnect::new(config))
        })
        .clone()
        .map_err(ClusterError::Unreachable)
}

fn unreachable(e: ::postgres::Error) -> ClusterError {
    ClusterError::Unreachable(message(&e))
}

/// A connection closed, reset or timed out means the backend is
/// unreachable; anything else (a refusal, a type kron got wrong) is the
/// backend's answer.
fn error(e: ::postgres::Error) -> ClusterError {
    let mut source = std::error::Error::source(&e);
    let mut io = false;
    while let Some(s) = source {
        io |= s.is::<std::io::Error>();
        source = s.source();
    }
    match e.as_db_error() {
        Some(db) => ClusterError::Backend(db.message().to_string()),
        None if io || e.is_closed() => ClusterError::Unreachable(message(&e)),
        None => ClusterError::Backend(message(&e)),
    }
}

fn message(e: &::postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The end of the statements that take a cluster lock: a lock row is
/// taken over once its lease ended, or kept by the run already holding it.
const TAKE_LOCK: &str = "ON CONFLICT (name) DO UPDATE SET task = EXCLUDED.task, \
     instant = EXCLUDED.instant, node = EXCLUDED.node, run_id = EXCLUDED.run_id, \
     token = EXCLUDED.token, lease_until = EXCLUDED.lease_until, stop_requested = false \
     WHERE kron_locks.lease_until < now() OR kron_locks.token = EXCLUDED.token \
     RETURNING token";

const HOLDER_COLUMNS: &str = concat!(
    "node, run_id, token, digest, state, ",
    "CASE WHEN state = 'running' THEN ",
    ms!("greatest(lease_until - now(), interval '0')"),
    " END"
);

fn holder(row: &Row) -> Holder {
    Holder {
        node: row.get(0),
        run_id: row.get(1),
        token: row.get(2),
        digest: row.get(3),
        state: row.get(4),
        lease_left: row
            .get::<_, Option<i64>>(5)
            .map(|ms| Duration::from_millis(ms.max(0) as u64)),
    }
}

impl Backend for Postgres {
    fn now(&mut self) -> Result<Timestamp, ClusterError> {
        let row = self
            .client
            .query_typed_one(concat!("SELECT ", ms!("now()")), &[])
            .map_err(error)?;
        Ok(ts(row.get(0)))
    }

    fn claim(&mut self, occ: &Occurrence, who: &Claimant) -> Result<Claim, ClusterError> {
        Ok(self.claim_with(occ, who, None)?.0)
    }

    fn claim_locked(
        &mut self,
        occ: &Occurrence,
        who: &Claimant,
        lock: &str,
    ) -> Result<(Claim, bool), ClusterError> {
        self.claim_with(occ, who, Some(lock))
    }

    fn holder(&mut self, occ: &Occurrence) -> Result<Option<Holder>, ClusterError> {
        let instant = occ.instant.as_millisecond();
        let sql = format!(
            "SELECT {HOLDER_COLUMNS} FROM kron_occurrences \
             WHERE task = $1 AND instant = to_timestamp($2::bigint / 1000.0)"
        );
        let row = self.with_schema(|c| {
            c.query_typed_opt(&sql, &[(&occ.task, Type::TEXT), (&instant, Type::INT8)])
        })?;
        Ok(row.as_ref().map(holder))
    }

    fn renew(
        &mut self,
        occ: &Occurrence,
        token: i64,
        lease: Duration,
    ) -> Result<Renewal, ClusterError> {
        let instant = occ.instant.as_millisecond();
        let lease = millis(lease);
        let row = self.with_schema(|c| {
            c.query_typed_one(
                "WITH o AS (UPDATE kron_occurrences \
                     SET lease_until = now() + $4::bigint * interval '1 millisecond' \
                     WHERE task = $1 AND instant = to_timestamp($2::bigint / 1000.0) \
                       AND token = $3 AND state = 'running' RETURNING 1), \
                 l AS (UPDATE kron_locks \
                     SET lease_until = now() + $4::bigint * interval '1 millisecond' \
                     WHERE token = $3 RETURNING stop_requested) \
                 SELECT (SELECT count(*) FROM o), \
                        coalesce((SELECT bool_or(stop_requested) FROM l), false)",
                &[
                    (&occ.task, Type::TEXT),
                    (&instant, Type::INT8),
                    (&token, Type::INT8),
                    (&lease, Type::INT8),
                ],
            )
        })?;
        let held: i64 = row.get(0);
        Ok(if held == 0 {
            Renewal::Lost
        } else {
            Renewal::Held { stop: row.get(1) }
        })
    }

    fn take_over(
        &mut self,
        occ: &Occurrence,
        who: &Claimant,
        retry: bool,
    ) -> Result<Takeover, ClusterError> {
        let instant = occ.instant.as_millisecond();
        let before = self.holder(occ)?;
        let Some(before) = before else {
            return Err(ClusterError::Backend(format!("{occ}: no row to take over")));
        };
        let lease = millis(who.lease);
        let changed = if retry {
            self.with_schema(|c| {
                c.query_opt(
                    "UPDATE kron_occurrences SET node = $3, run_id = $4, digest = $5, \
                         token = nextval('kron_fencing'), claimed = now(), \
                         lease_until = now() + $6::bigint * interval '1 millisecond', \
                         previous = node \
                     WHERE task = $1 AND instant = to_timestamp($2::bigint / 1000.0) \
                       AND state = 'running' AND lease_until < now() AND token = $7 \
                     RETURNING token",
                    &[
                        &occ.task,
                        &instant,
                        &who.node,
                        &who.run_id,
                        &who.digest,
                        &lease,
                        &before.token,
                    ],
                )
            })?
        } else {
            let reason = format!(
                "its holder, {} (run {}, token {}), stopped renewing its lease",
                before.node, before.run_id, before.token
            );
            self.with_schema(|c| {
                c.query_opt(
                    "UPDATE kron_occurrences SET state = 'abandoned', finished = now(), \
                         lease_until = NULL, reason = $3, previous = $4 \
                     WHERE task = $1 AND instant = to_timestamp($2::bigint / 1000.0) \
                       AND state = 'running' AND lease_until < now() AND token = $5 \
                     RETURNING token",
                    &[&occ.task, &instant, &reason, &who.node, &before.token],
                )
            })?
        };
        let Some(row) = changed else {
            let now = self.holder(occ)?.unwrap_or(before);
            return Ok(Takeover::Unchanged(now));
        };
        // The dead holder's lock is free for whoever comes next.
        self.client
            .execute("DELETE FROM kron_locks WHERE token = $1", &[&before.token])
            .map_err(error)?;
        Ok(if retry {
            Takeover::Won {
                token: row.get(0),
                previous: before,
            }
        } else {
            Takeover::Abandoned { holder: before }
        })
    }

    fn finish(
        &mut self,
        occ: &Occurrence,
        token: i64,
        finish: &Finish,
    ) -> Result<bool, ClusterError> {
        let instant = occ.instant.as_millisecond();
        let attempts = i32::try_from(finish.attempts).unwrap_or(i32::MAX);
        let state = finish.outcome.as_str();
        // The task's ledger is trimmed as its occurrences end (see the
        // module): by age, and by count once it holds a tenth over `keep`.
        let keep = i64::from(finish.history.keep.max(1));
        let over = keep + keep / 10;
        let age = millis(super::ledger_age(&finish.history));
        let recent = millis(super::LEDGER_RECENT);
        let row = self.with_schema(|c| {
            c.query_typed_one(
                "WITH o AS (UPDATE kron_occurrences SET state = $4, finished = now(), \
                     lease_until = NULL, attempts = $5, exit_code = $6, reason = $7 \
                     WHERE task = $1 AND instant = to_timestamp($2::bigint / 1000.0) \
                       AND token = $3 AND state = 'running' RETURNING 1), \
                 l AS (DELETE FROM kron_locks WHERE token = $3 RETURNING 1), \
                 cut AS (SELECT CASE WHEN EXISTS (SELECT 1 FROM kron_occurrences \
                         WHERE task = $1 ORDER BY instant DESC OFFSET $9 LIMIT 1) \
                     THEN (SELECT instant FROM kron_occurrences WHERE task = $1 \
                         ORDER BY instant DESC OFFSET $8 LIMIT 1) END AS at), \
                 gone AS (DELETE FROM kron_occurrences WHERE task = $1 AND state <> 'running' \
                     AND (instant < now() - $10::bigint * interval '1 millisecond' \
                       OR (instant <= (SELECT at FROM cut) \
                           AND instant < now() - $11::bigint * interval '1 millisecond')) \
                     RETURNING instant, instant < now() - $10::bigint * interval '1 millisecond' AS aged), \
                 t AS (INSERT INTO kron_trimmed SELECT $1, max(instant) FROM gone WHERE NOT aged \
                     HAVING count(*) > 0 \
                     ON CONFLICT (task) DO UPDATE SET before = greatest(kron_trimmed.before, EXCLUDED.before)) \
                 SELECT (SELECT count(*) FROM o), (SELECT count(*) FROM l)",
                &[
                    (&occ.task, Type::TEXT),
                    (&instant, Type::INT8),
                    (&token, Type::INT8),
                    (&state, Type::TEXT),
                    (&attempts, Type::INT4),
                    (&finish.exit_code, Type::INT4),
                    (&finish.reason, Type::TEXT),
                    (&keep, Type::INT8),
                    (&over, Type::INT8),
                    (&age, Type::INT8),
                    (&recent, Type::INT8),
                ],
            )
        })?;
        Ok(row.get::<_, i64>(0) == 1)
    }

    fn lock(
        &mut self,
        name: &str,
        occ: &Occurrence,
        who: &Claimant,
        token: i64,
    ) -> Result<LockClaim, ClusterError> {
        let instant = occ.instant.as_millisecond();
        let lease = millis(who.lease);
        let sql = format!(
            "INSERT INTO kron_locks (name, task, instant, node, run_id, token, lease_until) \
             VALUES ($1, $2, to_timestamp($3::bigint / 1000.0), $4, $5, $6, \
                     now() + $7::bigint * interval '1 millisecond') {TAKE_LOCK}"
        );
        let got = self.with_schema(|c| {
            c.query_typed_opt(
                &sql,
                &[
                    (&name, Type::TEXT),
                    (&occ.task, Type::TEXT),
                    (&instant, Type::INT8),
                    (&who.node, Type::TEXT),
                    (&who.run_id, Type::TEXT),
                    (&token, Type::INT8),
                    (&lease, Type::INT8),
                ],
            )
        })?;
        if got.is_some() {
            return Ok(LockClaim::Held);
        }
        let row = self
            .client
            .query_opt(
                concat!(
                    "SELECT task, ",
                    ms!("instant"),
                    ", node, run_id FROM kron_locks WHERE name = $1"
                ),
                &[&name],
            )
            .map_err(error)?;
        match row {
            Some(row) => Ok(LockClaim::Busy(LockHolder {
                occurrence: Occurrence {
                    task: row.get(0),
                    instant: ts(row.get(1)),
                },
                node: row.get(2),
                run_id: row.get(3),
            })),
            // Freed between the two statements: try again.
            None => self.lock(name, occ, who, token),
        }
    }

    fn request_stop(&mut self, name: &str) -> Result<(), ClusterError> {
        self.with_schema(|c| {
            c.execute(
                "UPDATE kron_locks SET stop_requested = true WHERE name = $1",
                &[&name],
            )
        })?;
        Ok(())
    }

    fn seen(&mut self, node: &NodeSeen, definitions: &[(&str, &str)]) -> Result<(), ClusterError> {
        let tasks: Vec<&str> = definitions.iter().map(|d| d.0).collect();
        let digests: Vec<&str> = definitions.iter().map(|d| d.1).collect();
        self.with_schema(|c| {
            c.execute(
                // Rows are rewritten only when they changed or are a few
                // seconds old: a burst of a thousand runs on a node would
                // otherwise be a thousand commits of one row.
                "WITH n AS (INSERT INTO kron_nodes VALUES ($1, now(), $2, $3, $4) \
                     ON CONFLICT (node) DO UPDATE SET last_seen = now(), \
                     version = EXCLUDED.version, file_digest = EXCLUDED.file_digest, \
                     tzdata = EXCLUDED.tzdata \
                     WHERE kron_nodes.last_seen < now() - interval '10 seconds' \
                        OR (kron_nodes.version, kron_nodes.file_digest, kron_nodes.tzdata) \
                           IS DISTINCT FROM (EXCLUDED.version, EXCLUDED.file_digest, \
                                             EXCLUDED.tzdata)) \
                 INSERT INTO kron_definitions \
                     SELECT t, $1, d, now() FROM unnest($5::text[], $6::text[]) AS u(t, d) \
                 ON CONFLICT (task, node) DO UPDATE SET digest = EXCLUDED.digest, \
                     seen = now() \
                     WHERE kron_definitions.seen < now() - interval '10 seconds' \
                        OR kron_definitions.digest IS DISTINCT FROM EXCLUDED.digest",
                &[
                    &node.node,
                    &node.version,
                    &node.file_digest,
                    &node.tzdata,
                    &tasks,
                    &digests,
                ],
            )
        })?;
        Ok(())
    }

    fn nodes(&mut self) -> Result<Vec<NodeRow>, ClusterError> {
        let rows = self.with_schema(|c| {
            c.query(
                concat!(
                    "SELECT node, ",
                    ms!("last_seen"),
                    ", version, file_digest, tzdata FROM kron_nodes ORDER BY node"
                ),
                &[],
            )
        })?;
        Ok(rows
            .iter()
            .map(|r| NodeRow {
                node: r.get(0),
                last_seen: ts(r.get(1)),
                version: r.get(2),
                file_digest: r.get(3),
                tzdata: r.get(4),
            })
            .collect())
    }

    fn divergences(&mut self) -> Result<Vec<Divergence>, ClusterError> {
        let rows = self.with_schema(|c| {
            c.query(
                "SELECT task, node, digest FROM kron_definitions WHERE task IN \
                 (SELECT task FROM kron_definitions GROUP BY task \
                  HAVING count(DISTINCT digest) > 1) ORDER BY task, node",
                &[],
            )
        })?;
        let mut out: Vec<Divergence> = Vec::new();
        for row in rows {
            let task: String = row.get(0);
            let entry = (row.get(1), row.get(2));
            match out.last_mut() {
                Some(d) if d.task == task => d.digests.push(entry),
                _ => out.push(Divergence {
                    task,
                    digests: vec![entry],
                }),
            }
        }
        Ok(out)
    }

    fn ledger(&mut self, task: Option<&str>, limit: usize) -> Result<Vec<LedgerRow>, ClusterError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = concat!(
            "SELECT task, ",
            ms!("instant"),
            ", state, node, run_id, token, ",
            ms!("claimed"),
            ", ",
            ms!("finished"),
            ", attempts, exit_code, reason, previous FROM kron_occurrences \
             WHERE $1::text IS NULL OR task = $1 ORDER BY instant DESC, task LIMIT $2"
        );
        let rows = self.with_schema(|c| c.query(sql, &[&task, &limit]))?;
        Ok(rows
            .iter()
            .map(|r| LedgerRow {
                task: r.get(0),
                instant: ts(r.get(1)),
                state: r.get(2),
                node: r.get(3),
                run_id: r.get(4),
                token: r.get(5),
                claimed: ts(r.get(6)),
                finished: r.get::<_, Option<i64>>(7).map(ts),
                attempts: r.get(8),
                exit_code: r.get(9),
                reason: r.get(10),
                previous: r.get(11),
            })
            .collect())
    }

    fn health(&mut self) -> Result<Health, ClusterError> {
        let row = self
            .client
            .query_one(
                "SELECT current_setting('server_version'), pg_is_in_recovery(), \
                 current_setting('fsync'), current_setting('synchronous_commit'), \
                 current_setting('full_page_writes')",
                &[],
            )
            .map_err(error)?;
        let mut weak = Vec::new();
        for (i, name) in [
            (2, "fsync"),
            (3, "synchronous_commit"),
            (4, "full_page_writes"),
        ] {
            let value: String = row.get(i);
            if value == "off" || (name == "synchronous_commit" && value == "local") {
                weak.push((name.to_string(), value));
            }
        }
        let schema = match self
            .client
            .query_opt("SELECT value FROM kron_meta WHERE key = 'schema'", &[])
        {
            Ok(row) => row.and_then(|r| r.get::<_, String>(0).parse().ok()),
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => None,
            Err(e) => return Err(error(e)),
        };
        Ok(Health {
            server: format!("PostgreSQL {}", row.get::<_, String>(0)),
            standby: row.get(1),
            weak,
            schema,
            expected_schema: SCHEMA_VERSION,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tcp_beyond_the_loopback_without_sslmode_require_is_unencrypted() {
        let host = |address: &str| unencrypted_host(address);
        assert_eq!(
            host("postgres://kron@db.internal/kron").as_deref(),
            Some("db.internal")
        );
        assert_eq!(
            host("host=10.0.0.5 user=kron sslmode=prefer").as_deref(),
            Some("10.0.0.5")
        );
        assert_eq!(host("host=db.internal user=kron sslmode=require"), None);
        assert_eq!(
            host("postgres://kron@db.internal/kron?sslmode=require"),
            None
        );
        assert_eq!(host("host=/run/postgresql user=kron"), None);
        assert_eq!(host("host=localhost user=kron"), None);
        assert_eq!(host("host=127.0.0.1 user=kron"), None);
        assert_eq!(host("host=::1 user=kron"), None);
        assert_eq!(host("not an address = ="), None);
    }
}
