//! The Redis backend's own faults and settings, beyond the shared suite of
//! `cluster.rs` (which runs every fault on Redis too):
//!
//! - `kill -9` of the server under `appendonly yes` + `appendfsync
//!   always`: every claim a command ran under is still there, with its
//!   token, after the restart, and no token is handed out twice.
//! - What `kron doctor` and the daemon warn about: each setting that can
//!   lose an acknowledged claim is reported by `health()` and logged by the
//!   daemon at start. Under `appendonly no` the loss happens, and a test
//!   shows it (a claim forgotten by a crash, its occurrence claimed again).
//!   Under `appendfsync everysec` it needs a crash of the machine, not of
//!   the process: a claim Redis acknowledged has been written to the
//!   kernel, which keeps it when the process dies and loses it only if the
//!   kernel does, within the second before its fsync. A test cannot crash
//!   the kernel, so for everysec it shows the warning, not the loss.
//! - `DEBUG SLEEP` past a lease: the holder, unable to renew, stops its
//!   command before the lease ends by the server's clock, and nobody runs
//!   the occurrence at the same time.
//! - The ledger's bounds, a password through `backend_file`, `rediss://`.

use std::time::{Duration, Instant, SystemTime};

use kron::cluster::redis::KEY_LAYOUT;
use kron::cluster::{Claim, Health};

use crate::cluster::{
    backend, claimant, cluster_task, doctor_on, find, hosts, ledger, occurrence, once_in, reload,
};
use crate::util::cluster::{Host, Server, witness, witnesses};
use crate::util::redis::Redis;
use crate::util::{Env, wait_until};

fn health(server: &Redis) -> Health {
    backend(server).health().unwrap()
}

fn weak(health: &Health) -> Vec<(&str, &str)> {
    health
        .weak
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

#[test]
fn health_reports_each_setting_that_can_lose_a_claim() {
    let Some(durable) = Redis::start() else {
        return;
    };
    let h = health(&durable);
    assert!(
        h.server.starts_with("Redis 7") || h.server.starts_with("Valkey"),
        "{h:?}"
    );
    assert!(!h.standby, "{h:?}");
    assert_eq!(weak(&h), [], "{h:?}");
    // The key layout's version appears with the first claim.
    assert_eq!((h.schema, h.expected_schema), (None, KEY_LAYOUT));
    assert!(kron::cluster::warnings(&h).is_empty());
    let mut b = backend(&durable);
    let occ = occurrence(&mut *b, "t", 0);
    b.claim(&occ, &claimant("a", "a1", Duration::from_secs(3)))
        .unwrap();
    assert_eq!(health(&durable).schema, Some(KEY_LAYOUT));

    let everysec = Redis::start_with(&[("appendfsync", "everysec")]).unwrap();
    let h = health(&everysec);
    assert_eq!(weak(&h), [("appendfsync", "everysec")]);
    let text = kron::cluster::warnings(&h).join("\n");
    assert!(text.contains("appendfsync = everysec"), "{text}");
    assert!(text.contains("last second of claims"), "{text}");

    let snapshots = Redis::start_with(&[("appendonly", "no")]).unwrap();
    assert_eq!(weak(&health(&snapshots)), [("appendonly", "no")]);

    let evicting = Redis::start_with(&[
        ("maxmemory", "100mb"),
        ("maxmemory-policy", "volatile-lru"),
        ("no-appendfsync-on-rewrite", "yes"),
    ])
    .unwrap();
    assert_eq!(
        weak(&health(&evicting)),
        [
            ("no-appendfsync-on-rewrite", "yes"),
            ("maxmemory-policy", "volatile-lru")
        ]
    );

    // A primary with a replica: replication is asynchronous, so both a
    // failover and the replica itself are reported.
    let primary = Redis::on_port(&[]).unwrap();
    let port = primary
        .address()
        .rsplit(':')
        .next()
        .unwrap()
        .replace("/0", "");
    let replica = Redis::on_port(&[("replicaof", &format!("127.0.0.1 {port}"))]).unwrap();
    let h = health(&replica);
    assert!(h.standby, "{h:?}");
    let text = kron::cluster::warnings(&h).join("\n");
    assert!(text.contains("is a standby"), "{text}");
    wait_until("the replica connected", || {
        weak(&health(&primary)).contains(&("connected_slaves", "1"))
    });
    let text = kron::cluster::warnings(&health(&primary)).join("\n");
    assert!(text.contains("failover"), "{text}");
}

#[test]
fn doctor_checks_a_redis_backend() {
    let Some(durable) = Redis::start() else {
        return;
    };
    let (_, checks) = doctor_on(&durable.address());
    let backend = find(&checks, "cluster backend");
    assert_eq!(backend["status"], "ok", "{checks:#?}");
    let detail = backend["detail"].as_str().unwrap();
    assert!(detail.starts_with("Redis "), "{detail}");
    assert_eq!(find(&checks, "cluster clock")["status"], "ok");
    assert!(checks.iter().all(|c| c["what"] != "cluster durability"));
    let Some(everysec) = Redis::start_with(&[("appendfsync", "everysec")]) else {
        return;
    };
    let (_, checks) = doctor_on(&everysec.address());
    let warned: Vec<_> = checks
        .iter()
        .filter(|c| c["what"] == "cluster durability")
        .collect();
    assert_eq!(warned.len(), 1, "{checks:#?}");
    assert_eq!(warned[0]["status"], "warn");
    let detail = warned[0]["detail"].as_str().unwrap();
    assert!(detail.starts_with("appendfsync = everysec"), "{detail}");
    assert_eq!(warned[0]["fix"], "set appendfsync always on the backend");
}

#[test]
fn the_daemon_warns_at_start_of_a_setup_that_can_lose_claims() {
    let Some(everysec) = Redis::start_with(&[("appendfsync", "everysec")]) else {
        return;
    };
    let durable = Redis::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let task = cluster_task("t", "0 0 1 1 *", "true", dir.path(), "");
    let mut weak = Host::new("weak");
    weak.write_tasks(&everysec, "3s", &task);
    weak.start();
    let mut fine = Host::new("fine");
    fine.write_tasks(&durable, "3s", &task);
    fine.start();
    wait_until("the weak host's daemon warned", || {
        weak.log().contains("WARN cluster check")
    });
    let log = weak.log();
    assert!(log.contains("appendfsync = everysec"), "{log}");
    wait_until("the other host's check ran", || {
        fine.log().contains("cluster check")
    });
    let log = fine.log();
    assert!(log.contains("keeps every acknowledged claim"), "{log}");
    assert!(!log.contains("WARN cluster check"), "{log}");
    weak.stop();
    fine.stop();
}

#[test]
fn kill_9_under_appendfsync_always_loses_no_acknowledged_claim() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let command = witness(&file, "true");
    let mut hosts = hosts(&redis, 2, "3s", shared.path(), |dir| {
        cluster_task("tick", "* * * * * *", &command, dir, "")
    });
    wait_until("4 occurrences ran", || witnesses(&file).len() >= 4);
    redis.restart_immediate();
    let before = witnesses(&file).len();
    wait_until("4 more ran after the crash", || {
        witnesses(&file).len() >= before + 4
    });
    for host in &mut hosts {
        host.stop();
    }
    // Each command ran under a claim Redis had acknowledged: each is in
    // the ledger with its node and token, and no token came twice.
    let seen = witnesses(&file);
    let rows = ledger(&hosts[0], "tick");
    for (node, occurrence, token) in &seen {
        let instant = occurrence.strip_prefix("tick@").unwrap();
        let row = rows
            .iter()
            .find(|r| r["instant"] == instant)
            .unwrap_or_else(|| panic!("{occurrence} is not in the ledger: {rows:#?}"));
        assert_eq!(row["node"], node.as_str(), "{row:#}");
        assert_eq!(row["token"].as_i64(), Some(*token), "{row:#}");
    }
    let mut tokens: Vec<i64> = seen.iter().map(|w| w.2).collect();
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), seen.len(), "a token came twice: {seen:?}");
}

#[test]
fn without_appendonly_a_crash_forgets_a_claim_and_its_occurrence_runs_again() {
    let Some(mut redis) = Redis::start_with(&[("appendonly", "no")]) else {
        return;
    };
    let lease = Duration::from_secs(30);
    let mut b = backend(&redis);
    let occ = occurrence(&mut *b, "report", 0);
    let Claim::Won { token } = b.claim(&occ, &claimant("a", "a1", lease)).unwrap() else {
        panic!("the first claim wins")
    };
    drop(b);
    redis.restart_immediate();
    // What doctor warned of: the acknowledged claim is gone, and another
    // host wins the same occurrence (a double run), with a token that is
    // not even larger.
    let mut b = backend(&redis);
    assert_eq!(b.holder(&occ).unwrap(), None);
    let again = b.claim(&occ, &claimant("b", "b1", lease)).unwrap();
    assert_eq!(again, Claim::Won { token });
}

/// A holder's lines in `times`: `NODE start|end SECONDS`.
fn times(path: &std::path::Path) -> Vec<(String, String, f64)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((
                w.next()?.to_string(),
                w.next()?.to_string(),
                w.next()?.parse().ok()?,
            ))
        })
        .collect()
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[test]
fn a_server_asleep_past_a_lease_sees_the_holder_stop_first() {
    let Some(redis) = Redis::start() else {
        return;
    };
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let log = shared.path().join("times");
    let stamp = |what: &str| {
        format!(
            "echo \"$KRON_NODE {what} $(date +%s.%N)\" >> {}",
            log.display()
        )
    };
    let command = witness(
        &file,
        &format!(
            "{}; trap '{}; exit 143' TERM; sleep 60 & wait",
            stamp("start"),
            stamp("end")
        ),
    );
    let lease = 6.0;
    let task = |schedule: &str| {
        cluster_task(
            "long",
            schedule,
            &command,
            shared.path(),
            "cluster = \"retry\"",
        )
    };
    let mut hosts = hosts(&redis, 2, "6s", shared.path(), |_| task("0 0 1 1 *"));
    reload(&hosts, &redis, "6s", &task(&once_in(3)));
    wait_until("the occurrence started", || {
        times(&log).iter().any(|t| t.1 == "start")
    });
    // The server stops answering for more than twice the lease; its last
    // renewal came before this, so the lease ends before `asleep + lease`.
    let asleep = unix_now();
    let started = Instant::now();
    let sleeper = redis.send(&["DEBUG", "SLEEP", "15"]);
    wait_until("the holder stopped its command", || {
        times(&log).iter().any(|t| t.1 == "end")
    });
    let first = times(&log);
    let (holder, _, end) = first.iter().find(|t| t.1 == "end").unwrap().clone();
    assert!(
        end < asleep + lease,
        "the command ended {:.2}s after the server fell asleep, past the {lease}s lease: \
         {first:?}",
        end - asleep
    );
    assert!(started.elapsed() < Duration::from_secs(14), "still asleep");
    sleeper.join().unwrap();
    // Once the server is back: the holder's own record says why it
    // stopped, and whoever ran the occurrence next started after it ended.
    let host = hosts.iter().find(|h| h.node == holder).unwrap();
    wait_until("the holder recorded its run", || {
        !host.history("long").is_empty()
    });
    let record = &host.history("long")[0];
    let reason = record["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("could not be renewed"), "{record:#}");
    wait_until("the ledger has the occurrence's fate", || {
        ledger(&hosts[0], "long")
            .first()
            .is_some_and(|r| r["state"] != "running" || r["node"] != holder.as_str())
    });
    let starts: Vec<_> = times(&log).into_iter().filter(|t| t.1 == "start").collect();
    assert!(starts.len() <= 2, "{starts:?}");
    if let Some(second) = starts.get(1) {
        assert!(second.2 > end, "two commands at once: {:?}", times(&log));
        let seen = witnesses(&file);
        assert!(seen[1].2 > seen[0].2, "a larger token: {seen:?}");
    }
    for host in &mut hosts {
        host.kill();
    }
}

#[test]
fn a_password_goes_in_backend_file_and_rediss_verifies_the_server() {
    let Some(locked) = Redis::on_port(&[("requirepass", "hunter2")]) else {
        return;
    };
    let env = Env::new();
    let with = |address: &str| {
        format!("[cluster]\n{address}\n\n[tasks.t]\nschedule = \"@daily\"\ncommand = \"true\"\n")
    };
    let url = locked.address().replace("redis://", "redis://:hunter2@");
    env.write_task_file(&with(&format!("backend = \"{url}\"")));
    let out = env.kron(&["check"]).output();
    out.code(2);
    assert!(out.stderr().contains("backend_file"), "{}", out.stderr());
    // In a file of the user's own, the password works; a wrong one is
    // refused, and not repeated.
    let dsn = env.path().join("cluster.dsn");
    let write_dsn = |text: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&dsn, text).unwrap();
        std::fs::set_permissions(&dsn, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_dsn(&url);
    env.write_task_file(&with(&format!(
        "backend_file = {:?}",
        dsn.display().to_string()
    )));
    let out = env.kron(&["cluster", "status"]).output();
    out.success();
    assert!(
        out.stdout().contains("no node has claimed"),
        "{}",
        out.stdout()
    );
    write_dsn(&url.replace("hunter2", "wrong-one"));
    let out = env.kron(&["cluster", "status"]).output();
    out.code(1);
    assert!(!out.stderr().contains("wrong-one"), "{}", out.stderr());

    // rediss://: the server's certificate checked against the system's
    // roots (here SSL_CERT_FILE, the test's CA), refused without them.
    let Some(tls) = Redis::with_tls() else {
        return;
    };
    env.write_task_file(&with(&format!("backend = \"{}\"", tls.address())));
    let out = env
        .kron(&["cluster", "status"])
        .env("SSL_CERT_FILE", tls.ca())
        .output();
    out.success();
    assert!(
        out.stdout().contains("no node has claimed"),
        "{}",
        out.stdout()
    );
    let out = env
        .kron(&["cluster", "status"])
        .env("SSL_CERT_FILE", env.path().join("no-such-file"))
        .output();
    out.code(1);
    assert!(out.stderr().contains("cluster backend"), "{}", out.stderr());
}
