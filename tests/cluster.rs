//! One task file on several hosts against a real PostgreSQL and a real
//! Redis (each fault body runs on both, `on_each_backend!`): each
//! occurrence runs once, a dead holder's occurrence is abandoned (`once`)
//! or run again elsewhere with a larger token (`retry`), a database
//! restarted mid-run loses no claim, and hosts that disagree on a task are
//! reported. Hosts are daemons in PID namespaces of their own
//! (`util::cluster`); each command appends a witness line (node,
//! occurrence, token) that the checks below compare with the ledger.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kron::cluster::{
    Backend, Claim, Claimant, Finish, LockClaim, NodeSeen, Occurrence, Renewal, Takeover,
};
use kron::history::Outcome;

use crate::util::cluster::{Host, Postgres, Server, witness, witnesses};
use crate::util::daemon::DaemonGuard;
use crate::util::redis::Redis;
use crate::util::{Env, wait_until, wait_until_else};

/// A 6-field schedule that fires once, `secs` seconds from now (UTC).
pub fn once_in(secs: i64) -> String {
    let at = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(secs))
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC);
    format!("{} {} {} * * *", at.second(), at.minute(), at.hour())
}

pub fn cluster_task(name: &str, schedule: &str, command: &str, dir: &Path, extra: &str) -> String {
    format!(
        "[tasks.{name}]\nschedule = \"{schedule}\"\ncommand = {command:?}\nworkdir = {:?}\n\
         timezone = \"UTC\"\nkill_grace = \"1s\"\n{extra}\n",
        dir.display().to_string()
    )
}

/// The ledger as `kron history --cluster --json` on `host` shows it.
pub fn ledger(host: &Host, task: &str) -> Vec<serde_json::Value> {
    let out = host
        .env
        .kron(&["history", "--cluster", "--json", "-n", "1000", task])
        .output();
    out.success();
    serde_json::from_str(&out.stdout()).unwrap()
}

/// The checker of the ledger against the witnesses (each command's own
/// line of node, occurrence and token) of `task`, once the hosts stopped:
/// every occurrence a command started for has exactly one row, in a final
/// state (success, failure, timeout, interrupted, abandoned, missed with a
/// reason, skipped); under `once` no occurrence started twice; under `retry` each
/// new start of an occurrence holds a larger token; and a row's holder
/// and token are those of the last start it names. Occurrences from
/// `until` on are left out (the hosts stopped while they ran).
pub fn check_ledger(
    rows: &[serde_json::Value],
    seen: &[(String, String, i64)],
    task: &str,
    mode: &str,
    until: jiff::Timestamp,
) {
    const FINAL: [&str; 7] = [
        "success",
        "failure",
        "timeout",
        "interrupted",
        "abandoned",
        "missed",
        "skipped",
    ];
    let mut by_occurrence: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for row in rows.iter().filter(|r| r["task"] == task) {
        let key = format!("{task}@{}", row["instant"].as_str().unwrap());
        by_occurrence.entry(key).or_default().push(row);
        let state = row["state"].as_str().unwrap();
        let instant: jiff::Timestamp = row["instant"].as_str().unwrap().parse().unwrap();
        assert!(
            instant >= until || FINAL.contains(&state),
            "not final: {row:#}"
        );
        if state == "missed" || state == "abandoned" {
            assert!(row["reason"].is_string(), "no reason: {row:#}");
        }
    }
    let mut starts: BTreeMap<&str, Vec<(&str, i64)>> = BTreeMap::new();
    for (node, occurrence, token) in seen {
        let instant: jiff::Timestamp = occurrence
            .strip_prefix(&format!("{task}@"))
            .unwrap()
            .parse()
            .unwrap();
        if instant < until {
            starts.entry(occurrence).or_default().push((node, *token));
        }
    }
    assert!(!starts.is_empty(), "nothing to check: {seen:?}");
    for (occurrence, starts) in &starts {
        let rows = by_occurrence
            .get(*occurrence)
            .map_or(&[][..], Vec::as_slice);
        assert_eq!(rows.len(), 1, "{occurrence}: rows {rows:#?}");
        if mode == "once" {
            assert_eq!(starts.len(), 1, "{occurrence} started twice: {starts:?}");
        }
        assert!(
            starts.windows(2).all(|w| w[1].1 > w[0].1),
            "{occurrence}: tokens not increasing: {starts:?}"
        );
        let row = rows[0];
        if row["state"] != "abandoned" {
            let (node, token) = starts.last().unwrap();
            assert_eq!(row["node"], *node, "{occurrence}: {row:#}");
            assert_eq!(row["token"].as_i64(), Some(*token), "{occurrence}: {row:#}");
        }
    }
}

/// Gives every host a new task file and waits until each daemon loaded
/// it, so that an instant a few seconds ahead is one every host plans.
pub fn reload(hosts: &[Host], pg: &dyn Server, lease: &str, tasks: &str) {
    for host in hosts {
        host.write_tasks(pg, lease, tasks);
    }
    for host in hosts {
        wait_until("the host loaded the new task file", || {
            host.log().matches("INFO loaded ").count() >= 2
        });
    }
}

/// `n` hosts with the same task file: the same tasks, run in `dir`.
pub fn hosts(
    pg: &dyn Server,
    n: usize,
    lease: &str,
    dir: &Path,
    tasks: impl Fn(&Path) -> String,
) -> Vec<Host> {
    (1..=n)
        .map(|i| {
            let mut host = Host::new(&format!("node-{i}"));
            host.write_tasks(pg, lease, &tasks(dir));
            host.start();
            host
        })
        .collect()
}

/// One `#[test]` per backend for each fault body below: `postgres::NAME`
/// and `redis::NAME` (each skipped, saying so, when its server is not
/// installed).
macro_rules! on_each_backend {
    ($($body:ident),* $(,)?) => {
        mod postgres {
            $(
                #[test]
                fn $body() {
                    if let Some(mut server) = super::Postgres::start() {
                        super::$body(&mut server);
                    }
                }
            )*
        }
        mod redis {
            $(
                #[test]
                fn $body() {
                    if let Some(mut server) = super::Redis::start() {
                        super::$body(&mut server);
                    }
                }
            )*
        }
    };
}

on_each_backend!(
    the_backend_keeps_its_contract,
    the_claim_takes_the_cluster_lock_with_it,
    the_ledger_keeps_history_keep_occurrences_and_forgets_older_ones,
    a_cluster_task_starts_its_command_at_its_instant_and_not_before,
    a_run_on_one_host_never_overlaps_a_run_still_going_on_another,
    a_host_whose_clock_is_off_claims_nothing_and_says_so,
    each_occurrence_runs_once_on_three_hosts,
    a_dead_holders_occurrence_is_abandoned_under_once,
    a_dead_holders_occurrence_runs_again_with_a_larger_token_under_retry,
    a_database_restarted_mid_run_loses_no_claim,
    hosts_that_define_a_task_differently_are_reported_and_still_run_it_once,
    a_host_that_cannot_reach_the_backend_runs_no_cluster_task_and_says_so,
    a_holder_stopped_past_its_lease_stops_its_command_once_it_goes_on,
    a_partitioned_holder_stops_its_command_before_its_lease_ends,
    what_one_host_missed_while_down_says_another_may_have_run_it,
    with_every_host_down_the_first_back_catches_up_once_for_the_cluster,
);

/// The backend's own connection, as a supervisor makes it.
pub fn backend(server: &dyn Server) -> Box<dyn Backend> {
    let cluster = kron::taskfile::Cluster {
        backend: kron::taskfile::Backend::Address(server.address()),
        node: "test".into(),
        lease: Duration::from_secs(3),
        max_skew: Duration::from_secs(2),
    };
    kron::cluster::connect(&cluster).unwrap()
}

pub fn claimant(node: &str, run_id: &str, lease: Duration) -> Claimant {
    Claimant {
        node: node.into(),
        run_id: run_id.into(),
        digest: "d1".into(),
        lease,
        history: Default::default(),
    }
}

/// An occurrence of `task` `ago` seconds before the backend's now.
pub fn occurrence(backend: &mut dyn Backend, task: &str, ago: i64) -> Occurrence {
    let now = backend.now().unwrap().as_second();
    Occurrence {
        task: task.into(),
        instant: jiff::Timestamp::from_second(now - ago).unwrap(),
    }
}

/// Every operation of `Backend`, called directly, as the supervisors
/// call them: the claim and its idempotence, compare-and-set renewals,
/// takeovers only once a lease ended (`retry`: a larger token, `once`:
/// abandoned), cluster-wide locks, outcomes, node rows and divergences.
fn the_backend_keeps_its_contract(server: &mut dyn Server) {
    let mut b = backend(server);
    let skew = b.now().unwrap().duration_since(jiff::Timestamp::now());
    assert!(skew.abs() < jiff::SignedDuration::from_secs(5), "{skew:?}");
    let lease = Duration::from_secs(3);
    let (a1, a3) = (claimant("a", "a1", lease), claimant("a", "a3", lease));
    let b1 = claimant("b", "b1", lease);
    let occ = occurrence(&mut *b, "contract", 3);
    let occ2 = occurrence(&mut *b, "contract", 2);
    let occ3 = occurrence(&mut *b, "contract", 1);
    // The claim: one winner, the same answer again for the same run.
    let Claim::Won { token: t1 } = b.claim(&occ, &a1).unwrap() else {
        panic!("the first claim wins")
    };
    assert_eq!(b.claim(&occ, &a1).unwrap(), Claim::Won { token: t1 });
    let Claim::Lost(held) = b.claim(&occ, &b1).unwrap() else {
        panic!("a second claimant loses")
    };
    assert_eq!(
        (held.node.as_str(), held.run_id.as_str(), held.token),
        ("a", "a1", t1)
    );
    assert_eq!(
        (held.digest.as_str(), held.state.as_str()),
        ("d1", "running")
    );
    assert!(held.lease_left.unwrap() <= lease, "{held:?}");
    assert_eq!(b.holder(&occ).unwrap().unwrap().token, t1);
    let none = occurrence(&mut *b, "none", 0);
    assert_eq!(b.holder(&none).unwrap(), None);
    // Left to lapse: `once` marks it abandoned below.
    let Claim::Won { token: t3 } = b.claim(&occ3, &a3).unwrap() else {
        panic!("occ3 is free")
    };
    // Renewals compare the token.
    assert_eq!(b.renew(&occ, t1 + 1000, lease).unwrap(), Renewal::Lost);
    assert_eq!(
        b.renew(&occ, t1, lease).unwrap(),
        Renewal::Held { stop: false }
    );
    // A cluster-wide lock: busy for another run, a stop request reaches
    // its holder's renewal.
    let Claim::Won { token: t2 } = b.claim(&occ2, &b1).unwrap() else {
        panic!("occ2 is free")
    };
    assert!(t2 > t1 && t3 > t1, "tokens grow: {t1} {t2} {t3}");
    assert_eq!(b.lock("disk", &occ, &a1, t1).unwrap(), LockClaim::Held);
    assert_eq!(b.lock("disk", &occ, &a1, t1).unwrap(), LockClaim::Held);
    let LockClaim::Busy(by) = b.lock("disk", &occ2, &b1, t2).unwrap() else {
        panic!("the lock is a's")
    };
    assert_eq!(
        (by.occurrence.clone(), by.node.as_str(), by.run_id.as_str()),
        (occ.clone(), "a", "a1")
    );
    b.request_stop("disk").unwrap();
    assert_eq!(
        b.renew(&occ, t1, lease).unwrap(),
        Renewal::Held { stop: true }
    );
    // No takeover while the lease lasts.
    assert!(matches!(
        b.take_over(&occ, &b1, true).unwrap(),
        Takeover::Unchanged(h) if h.token == t1
    ));
    wait_until("a's leases ended", || {
        b.holder(&occ).unwrap().unwrap().lease_left == Some(Duration::ZERO)
            && b.holder(&occ3).unwrap().unwrap().lease_left == Some(Duration::ZERO)
    });
    // `retry`: a new holder with a larger token; the old one is stale.
    let Takeover::Won {
        token: t4,
        previous,
    } = b.take_over(&occ, &b1, true).unwrap()
    else {
        panic!("the lease ended")
    };
    assert!(t4 > t3 && t4 > t2, "{t4}");
    assert_eq!((previous.node.as_str(), previous.token), ("a", t1));
    assert_eq!(b.renew(&occ, t1, lease).unwrap(), Renewal::Lost);
    let finish = |code: i32| Finish {
        outcome: if code == 0 {
            Outcome::Success
        } else {
            Outcome::Failure
        },
        attempts: 1,
        exit_code: Some(code),
        reason: None,
        history: Default::default(),
    };
    assert!(!b.finish(&occ, t1, &finish(0)).unwrap());
    // The dead holder's lock is free.
    assert_eq!(b.lock("disk", &occ2, &b1, t2).unwrap(), LockClaim::Held);
    assert!(b.finish(&occ, t4, &finish(0)).unwrap());
    assert!(b.finish(&occ2, t2, &finish(3)).unwrap());
    let ended = b.holder(&occ).unwrap().unwrap();
    assert_eq!((ended.state.as_str(), ended.lease_left), ("success", None));
    // Its lock went with it.
    let c1 = claimant("c", "c1", lease);
    assert_eq!(b.lock("disk", &occ3, &c1, t3).unwrap(), LockClaim::Held);
    // `once`: the occurrence is abandoned, naming its holder.
    let Takeover::Abandoned { holder } = b.take_over(&occ3, &c1, false).unwrap() else {
        panic!("abandoned")
    };
    assert_eq!((holder.node.as_str(), holder.token), ("a", t3));
    assert!(matches!(
        b.take_over(&occ3, &b1, false).unwrap(),
        Takeover::Unchanged(h) if h.state == "abandoned"
    ));
    assert!(b.take_over(&none, &b1, true).is_err());
    // The ledger, newest first.
    let rows = b.ledger(Some("contract"), 10).unwrap();
    let states: Vec<_> = rows.iter().map(|r| r.state.as_str()).collect();
    assert_eq!(states, ["abandoned", "failure", "success"], "{rows:#?}");
    assert_eq!(rows[0].previous.as_deref(), Some("c"));
    assert_eq!(
        rows[0].reason.as_deref(),
        Some(format!("its holder, a (run a3, token {t3}), stopped renewing its lease").as_str())
    );
    assert_eq!((rows[1].exit_code, rows[1].attempts), (Some(3), Some(1)));
    assert_eq!(rows[1].instant, occ2.instant);
    assert_eq!(
        (
            rows[2].node.as_str(),
            rows[2].token,
            rows[2].previous.as_deref()
        ),
        ("b", t4, Some("a"))
    );
    assert!(rows[2].finished.is_some() && rows[2].claimed <= rows[2].finished.unwrap());
    assert_eq!(b.ledger(None, 2).unwrap().len(), 2);
    assert!(b.ledger(Some("none"), 10).unwrap().is_empty());
    // Nodes and the definitions they run.
    let seen = |node: &str| NodeSeen {
        node: node.into(),
        version: "0.1.0".into(),
        file_digest: format!("file-{node}"),
        tzdata: "2026a".into(),
    };
    b.seen(&seen("a"), &[("contract", "d1")]).unwrap();
    b.seen(&seen("b"), &[("contract", "d2"), ("same", "d1")])
        .unwrap();
    b.seen(&seen("a"), &[("same", "d1")]).unwrap();
    let nodes: Vec<_> = b.nodes().unwrap();
    let names: Vec<_> = nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(nodes[1].file_digest, "file-b");
    let divergences = b.divergences().unwrap();
    assert_eq!(divergences.len(), 1, "{divergences:?}");
    assert_eq!(divergences[0].task, "contract");
    assert_eq!(
        divergences[0].digests,
        [("a".into(), "d1".into()), ("b".into(), "d2".into())]
    );
    let health = b.health().unwrap();
    assert!(!health.standby, "{health:?}");
    assert_eq!(health.schema, Some(health.expected_schema), "{health:?}");
}

/// `claim_locked`, the claim and the run's cluster lock in one step: the
/// lock is taken only with a claim won, a busy lock leaves the claim won,
/// and a handed-off run claiming again gets both back.
fn the_claim_takes_the_cluster_lock_with_it(server: &mut dyn Server) {
    let mut b = backend(server);
    let lease = Duration::from_secs(30);
    let (a1, b1, c1) = (
        claimant("a", "a1", lease),
        claimant("b", "b1", lease),
        claimant("c", "c1", lease),
    );
    let (one, two) = (
        occurrence(&mut *b, "locked", 2),
        occurrence(&mut *b, "locked", 1),
    );
    let (Claim::Won { token }, true) = b.claim_locked(&one, &a1, "disk").unwrap() else {
        panic!("a free occurrence and a free lock")
    };
    let LockClaim::Busy(by) = b.lock("disk", &two, &b1, token + 1).unwrap() else {
        panic!("the claim took the lock")
    };
    assert_eq!(
        (by.run_id.as_str(), by.occurrence.clone()),
        ("a1", one.clone())
    );
    // Another host loses the claim and takes no lock.
    let (Claim::Lost(holder), false) = b.claim_locked(&one, &b1, "disk").unwrap() else {
        panic!("the occurrence is a's")
    };
    assert_eq!(holder.token, token);
    // A busy lock: the claim is still won, the lock not taken.
    let (Claim::Won { token: second }, false) = b.claim_locked(&two, &b1, "disk").unwrap() else {
        panic!("a free occurrence, a busy lock")
    };
    assert!(second > token, "{second} after {token}");
    // The same run claiming again (handed to a supervisor of its own).
    assert_eq!(
        b.claim_locked(&one, &a1, "disk").unwrap(),
        (Claim::Won { token }, true)
    );
    // The renewal keeps the lock's lease; the outcome frees it.
    assert_eq!(
        b.renew(&one, token, lease).unwrap(),
        Renewal::Held { stop: false }
    );
    let done = Finish {
        outcome: Outcome::Success,
        attempts: 1,
        exit_code: Some(0),
        reason: None,
        history: Default::default(),
    };
    assert!(b.finish(&one, token, &done).unwrap());
    let three = occurrence(&mut *b, "locked", 0);
    let (Claim::Won { .. }, true) = b.claim_locked(&three, &c1, "disk").unwrap() else {
        panic!("the lock was freed with the outcome")
    };
}

/// A cluster task's supervisor starts before its instant (connected, the
/// clocks compared) and waits: the command starts at the instant, never
/// before it.
fn a_cluster_task_starts_its_command_at_its_instant_and_not_before(db: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let starts = shared.path().join("starts");
    let command = format!(
        "echo \"$KRON_OCCURRENCE $(date +%s%N)\" >> {}",
        starts.display()
    );
    let mut hosts = hosts(db, 2, "3s", shared.path(), |dir| {
        cluster_task("tick", "* * * * * *", &command, dir, "")
    });
    let read = || -> Vec<(jiff::Timestamp, i128)> {
        std::fs::read_to_string(&starts)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let (occurrence, ns) = l.split_once(' ')?;
                let instant = occurrence.split_once('@')?.1.parse().ok()?;
                Some((instant, ns.parse().ok()?))
            })
            .collect()
    };
    wait_until("4 occurrences ran", || read().len() >= 4);
    for host in &mut hosts {
        host.stop();
    }
    for (instant, ns) in read() {
        let late = ns - instant.as_nanosecond();
        assert!(late >= 0, "{instant}: started {}µs early", -late / 1000);
        // Late is not this test's concern (a loaded machine may be).
        assert!(late < 10_000_000_000, "{instant}: started {late}ns late");
    }
    // The daemons started the supervisors ahead: `started tick (schedule
    // for T)` is logged before T (for one occurrence at least: a loaded
    // machine may wake a daemon late).
    let ahead = hosts.iter().flat_map(|h| {
        h.log()
            .lines()
            .filter_map(|l| {
                let (logged, rest) = l.split_once(' ')?;
                let instant = rest.split_once("(schedule for ")?.1.split_once(')')?.0;
                let logged: jiff::Timestamp = logged.parse().ok()?;
                Some(logged < instant.parse::<jiff::Timestamp>().ok()?)
            })
            .collect::<Vec<_>>()
    });
    assert!(
        ahead.into_iter().any(|a| a),
        "{}\n{}",
        hosts[0].log(),
        hosts[1].log()
    );
}

/// The ledger is bounded like local history: `history.keep` occurrences
/// (trimmed a tenth past it, never a running one nor one of the last
/// hour) and none older than `history.max_age` (at least a day); an
/// occurrence it forgot is never claimed again, by anyone.
fn the_ledger_keeps_history_keep_occurrences_and_forgets_older_ones(server: &mut dyn Server) {
    let mut b = backend(server);
    let mut who = claimant("a", "a1", Duration::from_secs(30));
    who.history.keep = 10;
    let occ = |b: &mut dyn kron::cluster::Backend, ago: i64| occurrence(b, "busy", ago);
    let done = Finish {
        outcome: Outcome::Success,
        attempts: 1,
        exit_code: Some(0),
        reason: None,
        history: who.history,
    };
    // The oldest stays running: a trim never takes a running occurrence.
    let running = occ(&mut *b, 3700);
    assert!(matches!(
        b.claim(&running, &who).unwrap(),
        Claim::Won { .. }
    ));
    let mut claimed: Vec<Occurrence> = Vec::new();
    for ago in (3660..3699).rev() {
        let o = occ(&mut *b, ago);
        who.run_id = format!("a{ago}");
        let Claim::Won { token } = b.claim(&o, &who).unwrap() else {
            panic!("{o} is free")
        };
        assert!(b.finish(&o, token, &done).unwrap());
        claimed.push(o);
    }
    let rows = b.ledger(Some("busy"), 1000).unwrap();
    assert_eq!(rows.len(), 11, "{rows:#?}");
    assert_eq!(rows[0].instant, claimed.last().unwrap().instant);
    assert_eq!(rows[10].instant, running.instant);
    assert_eq!(rows[10].state, "running");
    // Nor one of the last hour: those trim the older ones, then stay.
    let recent: Vec<Occurrence> = (0..15).map(|ago| occ(&mut *b, ago)).collect();
    for o in &recent {
        who.run_id = format!("r{}", o.instant);
        let Claim::Won { token } = b.claim(o, &who).unwrap() else {
            panic!("{o} is free")
        };
        assert!(b.finish(o, token, &done).unwrap());
    }
    let rows = b.ledger(Some("busy"), 1000).unwrap();
    let instants: Vec<_> = rows.iter().map(|r| r.instant).collect();
    let mut expected: Vec<_> = recent.iter().map(|o| o.instant).collect();
    expected.push(running.instant);
    assert_eq!(instants, expected, "{rows:#?}");
    assert_eq!(b.holder(&running).unwrap().unwrap().state, "running");
    // A trimmed occurrence is not claimed again, by anyone.
    let gone = &claimed[0];
    assert_eq!(b.holder(gone).unwrap(), None);
    let err = b
        .claim(gone, &claimant("b", "b1", Duration::from_secs(30)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("older than the cluster remembers"), "{err}");
    assert!(err.contains("history.keep"), "{err}");
    // Nor is one from before history.max_age (at least a day).
    let mut aged = claimant("b", "b2", Duration::from_secs(30));
    aged.history.max_age = Some(Duration::from_secs(3600));
    let old = occurrence(&mut *b, "aged", 2 * 24 * 3600);
    let err = b.claim(&old, &aged).unwrap_err().to_string();
    assert!(err.contains("history.max_age"), "{err}");
    let recent = occurrence(&mut *b, "aged", 3600);
    assert!(matches!(
        b.claim(&recent, &aged).unwrap(),
        Claim::Won { .. }
    ));
}

/// `overlap = "skip"` (the default) holds across hosts: a run of every
/// second that lasts two, whichever host wins each instant, never starts
/// while another host's run is going on; the instants it meets are
/// recorded skipped, naming the run that holds the cluster lock.
fn a_run_on_one_host_never_overlaps_a_run_still_going_on_another(db: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let spans = shared.path().join("spans");
    let command = format!(
        "echo \"start $KRON_NODE $(date +%s%N)\" >> {0}; sleep 2; \
         echo \"end $KRON_NODE $(date +%s%N)\" >> {0}",
        spans.display()
    );
    let mut hosts = hosts(db, 2, "6s", shared.path(), |dir| {
        cluster_task("slow", "* * * * * *", &command, dir, "")
    });
    // A skip of one host's claim because the other host's run holds the
    // lock: the cluster-wide case, not a host skipping its own.
    let across = || {
        ledger(&hosts[0], "slow").iter().any(|row| {
            row["state"] == "skipped"
                && row["reason"].as_str().is_some_and(|reason| {
                    let holder = reason.split(" on ").nth(1).unwrap_or("");
                    reason.contains("holds cluster lock")
                        && !holder.starts_with(row["node"].as_str().unwrap_or("?"))
                })
        })
    };
    wait_until_else(
        "a host skipped an instant because the other host's run went on",
        across,
        || format!("{:#?}", ledger(&hosts[0], "slow")),
    );
    wait_until("two runs ended", || {
        std::fs::read_to_string(&spans)
            .unwrap_or_default()
            .matches("end ")
            .count()
            >= 2
    });
    for host in &mut hosts {
        host.stop();
    }
    let mut runs: Vec<(i128, &str)> = Vec::new();
    let text = std::fs::read_to_string(&spans).unwrap();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        let [what, _node, ns] = words[..] else {
            panic!("{line}")
        };
        runs.push((ns.parse().unwrap(), what));
    }
    runs.sort();
    // In time order, starts and ends alternate: no run began before the
    // one going on ended, on whichever host (the hosts stopped with the
    // last one maybe still going).
    for pair in runs.windows(2) {
        assert_ne!(pair[0].1, pair[1].1, "two runs at once:\n{text}");
    }
}

/// libfaketime, which makes a process's clock run off (`.ci/run`
/// installs it).
const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// A host whose clock is 10 s ahead of the backend's (libfaketime in its
/// daemon and supervisors, monotonic clocks left alone) claims nothing,
/// records the instants it could not claim as missed with the reason,
/// and `kron status` says its claims fail; the other host runs the task.
fn a_host_whose_clock_is_off_claims_nothing_and_says_so(db: &mut dyn Server) {
    if !Path::new(FAKETIME).exists() {
        eprintln!("skipped: libfaketime is not installed (.ci/run installs it)");
        return;
    }
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let command = witness(&file, "true");
    let tasks = cluster_task("tick", "* * * * * *", &command, shared.path(), "");
    let mut good = Host::new("node-1");
    good.write_tasks(db, "3s", &tasks);
    good.start();
    let mut ahead = Host::new("node-2");
    ahead.write_tasks(db, "3s", &tasks);
    ahead.start_with(&[
        ("LD_PRELOAD", FAKETIME),
        ("FAKETIME", "+10s"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ]);
    let refused = || {
        ahead.history("tick").iter().any(|r| {
            r["outcome"] == "missed"
                && r["reason"]
                    .as_str()
                    .is_some_and(|why| why.contains("10.0s ahead of the backend's"))
        })
    };
    wait_until_else(
        "node-2 recorded an instant it would not claim",
        refused,
        || format!("{:#?}\n{}", ahead.history("tick"), ahead.log()),
    );
    let status = ahead.env.kron(&["status"]).output();
    assert!(
        status.stdout().contains("claims FAIL"),
        "{}",
        status.stdout()
    );
    wait_until("node-1 ran the task", || !witnesses(&file).is_empty());
    good.stop();
    ahead.stop();
    let seen = witnesses(&file);
    assert!(seen.iter().all(|w| w.0 == "node-1"), "{seen:?}");
    let rows = ledger(&good, "tick");
    assert!(rows.iter().all(|r| r["node"] == "node-1"), "{rows:#?}");
}

fn each_occurrence_runs_once_on_three_hosts(pg: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let command = witness(&file, "true");
    let mut hosts = hosts(pg, 3, "3s", shared.path(), |dir| {
        cluster_task("tick", "* * * * * *", &command, dir, "")
    });
    wait_until("6 occurrences ran", || witnesses(&file).len() >= 6);
    // A node is seen once it won a claim; which one wins is a race.
    wait_until("every node ran one", || {
        let nodes: std::collections::BTreeSet<String> =
            witnesses(&file).into_iter().map(|w| w.0).collect();
        nodes.len() == 3
    });
    let stopped = jiff::Timestamp::now();
    for host in &mut hosts {
        host.stop();
    }
    let seen = witnesses(&file);
    let mut starts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, occurrence, _) in &seen {
        *starts.entry(occurrence).or_default() += 1;
    }
    let twice: Vec<_> = starts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "started more than once: {twice:?}\n{seen:?}"
    );
    // Every run the ledger calls a success has its one witness, from the
    // node and with the token the ledger names.
    let rows = ledger(&hosts[0], "tick");
    let successes: Vec<_> = rows.iter().filter(|r| r["state"] == "success").collect();
    assert!(successes.len() >= 6, "{rows:#?}");
    for row in successes {
        let instant = row["instant"].as_str().unwrap();
        let key = format!("tick@{instant}");
        let found: Vec<_> = seen.iter().filter(|(_, o, _)| *o == key).collect();
        assert_eq!(found.len(), 1, "{key}: {found:?}");
        assert_eq!(found[0].0, row["node"].as_str().unwrap());
        assert_eq!(found[0].2, row["token"].as_i64().unwrap());
    }
    check_ledger(
        &rows,
        &seen,
        "tick",
        "once",
        stopped - jiff::SignedDuration::from_secs(3),
    );
    // Losers record nothing: the local histories together hold one record
    // per occurrence.
    let local: usize = hosts.iter().map(|h| h.history("tick").len()).sum();
    assert!(
        local <= starts.len() + 3,
        "{local} records for {} runs",
        starts.len()
    );
    let status = hosts[0].env.kron(&["cluster", "status", "--json"]).output();
    status.success();
    let status: serde_json::Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(status["nodes"].as_array().unwrap().len(), 3, "{status:#}");
    assert_eq!(
        status["divergences"].as_array().unwrap().len(),
        0,
        "{status:#}"
    );
}

/// A holder that runs for long is killed with its whole host.
fn kill_the_holder(pg: &dyn Server, mode: &str) -> (Vec<Host>, tempfile::TempDir, String) {
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let noticed = shared.path().join("noticed");
    // The first start sleeps (and its host dies); a start after it ends.
    let first = shared.path().join("first");
    let command = witness(
        &file,
        &format!(
            "if [ ! -e {0} ]; then touch {0}; sleep 60; fi",
            first.display()
        ),
    );
    let extra = format!(
        "cluster = \"{mode}\"\non_failure = {:?}\n",
        format!("echo \"$KRON_NODE $KRON_OUTCOME\" >> {}", noticed.display())
    );
    let task = |schedule: &str| cluster_task("long", schedule, &command, shared.path(), &extra);
    let mut hosts = hosts(pg, 3, "3s", shared.path(), |_| task("0 0 1 1 *"));
    reload(&hosts, pg, "3s", &task(&once_in(3)));
    wait_until("the occurrence started", || !witnesses(&file).is_empty());
    let holder = witnesses(&file)[0].0.clone();
    let index = hosts.iter().position(|h| h.node == holder).unwrap();
    hosts[index].kill();
    (hosts, shared, holder)
}

fn a_dead_holders_occurrence_is_abandoned_under_once(pg: &mut dyn Server) {
    let (hosts, shared, holder) = kill_the_holder(pg, "once");
    wait_until("another host recorded it abandoned", || {
        ledger(hosts.iter().find(|h| h.node != holder).unwrap(), "long")
            .first()
            .is_some_and(|r| r["state"] == "abandoned")
    });
    let row = &ledger(hosts.iter().find(|h| h.node != holder).unwrap(), "long")[0];
    assert_eq!(row["node"], holder.as_str(), "{row:#}");
    assert!(row["reason"].as_str().unwrap().contains(&holder), "{row:#}");
    // Exactly one other host recorded it, and nobody ran it again.
    let records: Vec<_> = hosts
        .iter()
        .filter(|h| h.node != holder)
        .flat_map(|h| h.history("long"))
        .collect();
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0]["outcome"], "abandoned");
    assert!(records[0]["reason"].as_str().unwrap().contains(&holder));
    assert_eq!(witnesses(&shared.path().join("witness")).len(), 1);
    check_ledger(
        &ledger(&hosts[0], "long"),
        &witnesses(&shared.path().join("witness")),
        "long",
        "once",
        jiff::Timestamp::MAX,
    );
    // on_failure follows on the host that recorded it.
    let noticed = shared.path().join("noticed");
    wait_until("on_failure ran", || noticed.exists());
    let text = std::fs::read_to_string(&noticed).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.ends_with(" abandoned\n"), "{text}");
    assert!(!text.starts_with(&holder), "{text}");
}

fn a_dead_holders_occurrence_runs_again_with_a_larger_token_under_retry(pg: &mut dyn Server) {
    let (mut hosts, shared, holder) = kill_the_holder(pg, "retry");
    let file = shared.path().join("witness");
    wait_until("another host ran it again", || witnesses(&file).len() >= 2);
    let seen = witnesses(&file);
    assert_ne!(seen[1].0, holder, "{seen:?}");
    assert_eq!(seen[0].1, seen[1].1, "the same occurrence: {seen:?}");
    assert!(seen[1].2 > seen[0].2, "a larger token: {seen:?}");
    let row = &ledger(&hosts[0], "long")[0];
    assert_eq!(row["node"], seen[1].0.as_str(), "{row:#}");
    assert_eq!(row["previous"], holder.as_str(), "{row:#}");
    // Only once more, however long the hosts keep watching.
    let survivor = hosts.iter().find(|h| h.node != holder).unwrap();
    wait_until("the run again succeeded", || {
        ledger(survivor, "long")[0]["state"] == "success"
    });
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(witnesses(&file).len(), 2);
    check_ledger(
        &ledger(survivor, "long"),
        &witnesses(&file),
        "long",
        "retry",
        jiff::Timestamp::MAX,
    );
    for host in &mut hosts {
        host.stop();
    }
}

fn a_database_restarted_mid_run_loses_no_claim(pg: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let gate = shared.path().join("gate");
    let command = witness(
        &file,
        &format!(
            "i=0; while [ ! -e {} ] && [ $i -lt 3000 ]; do sleep 0.02; i=$((i+1)); done",
            gate.display()
        ),
    );
    let task = |schedule: &str| cluster_task("job", schedule, &command, shared.path(), "");
    let mut hosts = hosts(pg, 2, "6s", shared.path(), |_| task("0 0 1 1 *"));
    reload(&hosts, pg, "6s", &task(&once_in(3)));
    wait_until("the occurrence started", || !witnesses(&file).is_empty());
    pg.restart_immediate();
    std::fs::write(&gate, "").unwrap();
    wait_until("the run's outcome reached the ledger", || {
        ledger(&hosts[0], "job")
            .first()
            .is_some_and(|r| r["state"] == "success")
    });
    let rows = ledger(&hosts[0], "job");
    assert_eq!(rows.len(), 1, "{rows:#?}");
    assert_eq!(witnesses(&file).len(), 1);
    assert_eq!(rows[0]["token"].as_i64(), Some(witnesses(&file)[0].2));
    for host in &mut hosts {
        host.stop();
    }
    check_ledger(
        &rows,
        &witnesses(&file),
        "job",
        "once",
        jiff::Timestamp::MAX,
    );
}

fn hosts_that_define_a_task_differently_are_reported_and_still_run_it_once(pg: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let mut hosts: Vec<Host> = (1..=2)
        .map(|i| {
            let mut host = Host::new(&format!("node-{i}"));
            let dir = shared.path();
            // The second host's command differs.
            let command = witness(&file, if i == 1 { "true" } else { "true; true" });
            host.write_tasks(
                pg,
                "3s",
                &cluster_task("tick", "* * * * * *", &command, dir, ""),
            );
            host.start();
            host
        })
        .collect();
    wait_until("the divergence is reported", || {
        let out = hosts[0].env.kron(&["cluster", "status"]).output();
        out.stdout().contains("divergent: tick")
    });
    wait_until("4 occurrences ran", || witnesses(&file).len() >= 4);
    for host in &mut hosts {
        host.stop();
    }
    let seen = witnesses(&file);
    let mut keys: Vec<&String> = seen.iter().map(|(_, o, _)| o).collect();
    keys.sort();
    let before = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), before, "an occurrence ran twice: {seen:?}");
    let logs = hosts[0].log() + &hosts[1].log();
    assert!(logs.contains("differs from"), "{logs}");
}

#[test]
fn a_password_in_the_task_file_is_refused() {
    let env = crate::util::Env::new();
    env.write_task_file(
        "[cluster]\nbackend = \"postgres://kron:hunter2@db/kron\"\n\n\
         [tasks.t]\nschedule = \"@daily\"\ncommand = \"true\"\n",
    );
    let out = env.kron(&["check"]).output();
    out.code(2);
    assert!(out.stderr().contains("cluster.backend"), "{}", out.stderr());
    assert!(out.stderr().contains("backend_file"), "{}", out.stderr());
}

fn a_host_that_cannot_reach_the_backend_runs_no_cluster_task_and_says_so(db: &mut dyn Server) {
    db.crash();
    let env = Env::new();
    let dir = env.work();
    let file = dir.join("witness");
    let command = witness(&file, "true");
    env.write_task_file(&format!(
        "[cluster]\nbackend = \"{}\"\nnode = \"solo\"\nlease = \"3s\"\n\n{}{}",
        db.address(),
        cluster_task(
            "shared",
            "* * * * * *",
            &command,
            &dir,
            "catch_up = \"skip\""
        ),
        cluster_task("here", "* * * * * *", "true", &dir, "cluster = \"local\""),
    ));
    let daemon = DaemonGuard::start(&env);
    // Fails closed: no claim, no run, a missed record that says why; the
    // local task is unaffected.
    wait_until("an occurrence recorded not claimed", || {
        crate::util::history(&env, "shared").iter().any(|r| {
            r["outcome"] == "missed"
                && r["reason"]
                    .as_str()
                    .is_some_and(|s| s.contains("not claimed"))
        })
    });
    wait_until("the local task ran", || {
        crate::util::history(&env, "here")
            .iter()
            .any(|r| r["outcome"] == "success")
    });
    assert!(witnesses(&file).is_empty());
    let status = env.kron(&["status"]).output();
    status.success();
    assert!(
        status.stdout().contains("cluster:   claims FAIL since "),
        "{}",
        status.stdout()
    );
    let json = env.kron(&["status", "--json"]).output();
    let json: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    assert!(json["cluster_unreachable"]["error"].is_string(), "{json:#}");
    assert!(
        daemon
            .log()
            .contains("cluster tasks do not run on this host while its claims fail"),
        "{}",
        daemon.log()
    );
    // The backend returns: the task runs again and status says nothing more.
    db.start_again();
    wait_until("the cluster task ran", || !witnesses(&file).is_empty());
    wait_until("status no longer says the claims fail", || {
        !env.kron(&["status"])
            .output()
            .stdout()
            .contains("claims FAIL")
    });
}

/// The checks of `kron doctor --json` whose `what` starts with `cluster`.
pub fn doctor_cluster(env: &Env) -> Vec<serde_json::Value> {
    let out = env.kron(&["doctor", "--json"]).output();
    let checks: Vec<serde_json::Value> = serde_json::from_str(&out.stdout()).unwrap();
    checks
        .into_iter()
        .filter(|c| c["what"].as_str().unwrap().starts_with("cluster"))
        .collect()
}

pub fn doctor_on(address: &str) -> (Env, Vec<serde_json::Value>) {
    let env = Env::new();
    env.write_task_file(&format!(
        "[cluster]\nbackend = \"{address}\"\n\n[tasks.t]\nschedule = \"@daily\"\ncommand = \"true\"\n"
    ));
    let checks = doctor_cluster(&env);
    (env, checks)
}

pub fn find<'a>(checks: &'a [serde_json::Value], what: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["what"] == what)
        .unwrap_or_else(|| panic!("no {what} in {checks:#?}"))
}

/// A certificate authority and a server certificate it signed for `ip`,
/// made with openssl in `dir`: (ca.pem, server.pem, server.key), the key
/// the `postgres` user's when we are root.
fn certificates(dir: &Path, ip: &str) -> (PathBuf, PathBuf, PathBuf) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=kron test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=kron test server",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    std::fs::write(dir.join("san.ext"), format!("subjectAltName = IP:{ip}\n")).unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.pem",
    ]);
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    if nix::unistd::geteuid().is_root() {
        let status = std::process::Command::new("chown")
            .args(["postgres:postgres", key.to_str().unwrap()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    (dir.join("ca.pem"), dir.join("server.pem"), key)
}

/// `sslmode=require` connects over TLS (the server takes nothing else on
/// that address) and checks the server's certificate: against
/// SSL_CERT_FILE it connects, against the system's roots it is refused,
/// and saying so.
#[test]
fn postgres_over_tls_checks_the_servers_certificate() {
    let Some(mut pg) = Postgres::start() else {
        return;
    };
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("skipped: openssl is not installed (.ci/run installs it)");
        return;
    }
    let ip = format!("127.77.{}.1", std::process::id() % 250);
    // Readable by the server's user.
    let dir = tempfile::Builder::new()
        .prefix("kron-tls-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (ca, cert, key) = certificates(dir.path(), &ip);
    pg.serve_tls(&ip, &cert, &key);
    let status = |address: &str, ca: Option<&Path>| {
        let env = Env::new();
        env.write_task_file(&format!(
            "[cluster]\nbackend = \"{address}\"\nnode = \"tls\"\n\n\
             [tasks.t]\nschedule = \"@daily\"\ncommand = \"true\"\n"
        ));
        let mut run = env.kron(&["cluster", "status", "--json"]);
        if let Some(ca) = ca {
            run = run.env("SSL_CERT_FILE", ca);
        }
        let out = run.output();
        (out.output.status.code(), out.stdout(), out.stderr())
    };
    let tls = format!("host={ip} user=kron dbname=postgres sslmode=require");
    let (code, stdout, stderr) = status(&tls, Some(&ca));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("\"nodes\""), "{stdout}");
    // The same server, its certificate not trusted.
    let (code, _, stderr) = status(&tls, Some(&cert.with_file_name("san.ext")));
    assert_ne!(code, Some(0));
    assert!(stderr.contains("certificate"), "{stderr}");
    // Without TLS the server refuses: the success above was over TLS.
    let plain = format!("host={ip} user=kron dbname=postgres sslmode=disable");
    let (code, out, stderr) = status(&plain, Some(&ca));
    assert_ne!(code, Some(0), "{out}");
    assert!(stderr.contains("no encryption"), "{stderr}");
}

#[test]
fn doctor_checks_a_postgresql_backend() {
    let Some(pg) = Postgres::start() else { return };
    let (_, checks) = doctor_on(&pg.address());
    let backend = find(&checks, "cluster backend");
    assert_eq!(backend["status"], "ok", "{checks:#?}");
    let detail = backend["detail"].as_str().unwrap();
    assert!(detail.starts_with("PostgreSQL "), "{detail}");
    assert!(detail.contains("created at the first claim"), "{detail}");
    assert_eq!(find(&checks, "cluster clock")["status"], "ok");
    assert!(checks.iter().all(|c| c["what"] != "cluster durability"));
    // Once a host claimed, the schema is there, at this kron's version.
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let command = witness(&file, "true");
    let mut host = Host::new("node-1");
    host.write_tasks(
        &pg,
        "3s",
        &cluster_task("tick", "* * * * * *", &command, shared.path(), ""),
    );
    host.start();
    wait_until("an occurrence ran", || !witnesses(&file).is_empty());
    host.stop();
    let (_, checks) = doctor_on(&pg.address());
    let detail = find(&checks, "cluster backend")["detail"].clone();
    assert!(
        detail.as_str().unwrap().contains("schema at version 1"),
        "{detail}"
    );
    drop(pg);

    // Durability turned off is a warning with its fix.
    let Some(weak) = Postgres::start_with(&["fsync=off", "synchronous_commit=off"], false) else {
        return;
    };
    let (_, checks) = doctor_on(&weak.address());
    let warned: Vec<_> = checks
        .iter()
        .filter(|c| c["what"] == "cluster durability")
        .collect();
    assert_eq!(warned.len(), 2, "{checks:#?}");
    assert_eq!(warned[0]["status"], "warn");
    assert!(
        warned[0]["detail"].as_str().unwrap().starts_with(
            "fsync = off: a crash of the machine can lose or corrupt committed claims"
        ),
        "{warned:#?}"
    );
    assert_eq!(warned[0]["fix"], "set fsync = on on the backend");
    assert_eq!(
        warned[1]["fix"],
        "set synchronous_commit = on on the backend"
    );
    drop(weak);

    // A standby fails the check: claims cannot be written there.
    let Some(standby) = Postgres::start_with(&[], true) else {
        return;
    };
    let (env, checks) = doctor_on(&standby.address());
    let backend = find(&checks, "cluster backend");
    assert_eq!(backend["status"], "fail", "{checks:#?}");
    assert!(backend["detail"].as_str().unwrap().contains("is a standby"));
    env.kron(&["doctor"]).output().code(1);
    drop(standby);

    // Nothing there: a failure that says cluster tasks do not run.
    let gone = tempfile::tempdir().unwrap();
    let (_, checks) = doctor_on(&format!(
        "host={} user=kron dbname=postgres",
        gone.path().display()
    ));
    let backend = find(&checks, "cluster backend");
    assert_eq!(backend["status"], "fail", "{checks:#?}");
    assert!(
        backend["detail"]
            .as_str()
            .unwrap()
            .contains("cluster tasks do not run on this host"),
        "{backend:#}"
    );
    assert!(backend["fix"].as_str().unwrap().contains("backend_file"));
}

/// A command for the stop and partition faults: its first start appends
/// its token and the time to `ticks` every 0.1 s for a minute; a later
/// start appends one line and ends.
/// Waits for the ledger's newest row of `job` to be the new holder's
/// success, saying what the ledger, the hosts' records and logs show if it
/// never is.
fn new_holders_success_reaches_the_ledger(other: &Host, stale: &Host) {
    wait_until_else(
        "the new holder's run reached the ledger",
        || ledger(other, "job")[0]["state"] == "success",
        || {
            format!(
                "ledger: {:#?}\nits history: {:#?}\nits log:\n{}\nthe stale holder's log:\n{}",
                ledger(other, "job"),
                other.history("job"),
                other.log(),
                stale.log()
            )
        },
    );
}

fn ticking(shared: &Path) -> String {
    let first = shared.join("first");
    witness(
        &shared.join("witness"),
        &format!(
            "if [ ! -e {0} ]; then touch {0}; i=0; while [ $i -lt 600 ]; do \
             echo $KRON_FENCING_TOKEN $(date +%s%N) >> {1}; sleep 0.1; i=$((i+1)); done; \
             else echo $KRON_FENCING_TOKEN $(date +%s%N) >> {1}; fi",
            first.display(),
            shared.join("ticks").display()
        ),
    )
}

/// The times (ns since the epoch) at which the command of `token` ticked
/// (its first start) or started (a later one).
fn tick_times(shared: &Path, token: i64) -> Vec<i128> {
    std::fs::read_to_string(shared.join("ticks"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (t, at) = l.split_once(' ')?;
            (t.parse() == Ok(token)).then(|| at.parse().ok())?
        })
        .collect()
}

fn ticks(shared: &Path, token: i64) -> usize {
    tick_times(shared, token).len()
}

/// Waits until the command of `token` wrote nothing for two seconds.
fn wait_until_it_stops(shared: &Path, token: i64) {
    let mut last = ticks(shared, token);
    let mut quiet = 0;
    wait_until("the stale command stopped", || {
        std::thread::sleep(Duration::from_millis(500));
        let now = ticks(shared, token);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
        quiet >= 4
    });
}

fn a_holder_stopped_past_its_lease_stops_its_command_once_it_goes_on(db: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let command = ticking(shared.path());
    let task = |schedule: &str| {
        cluster_task(
            "job",
            schedule,
            &command,
            shared.path(),
            "cluster = \"retry\"",
        )
    };
    // A 4 s lease leaves the new holder 2 s between renewals before it
    // must stop (lease − kill_grace − 1 s): with 3 s, 1 s, which a loaded
    // 2-core machine running the whole suite can miss.
    let mut hosts = hosts(db, 2, "4s", shared.path(), |_| task("0 0 1 1 *"));
    reload(&hosts, db, "4s", &task(&once_in(3)));
    wait_until("the occurrence started", || !witnesses(&file).is_empty());
    let (holder, _, stale) = witnesses(&file)[0].clone();
    let index = hosts.iter().position(|h| h.node == holder).unwrap();
    hosts[index].freeze();
    let frozen = std::time::Instant::now();
    // The other host takes over once the lease ended, with a larger token.
    wait_until("the other host ran it again", || {
        witnesses(&file).len() >= 2
    });
    let (again, _, token) = witnesses(&file)[1].clone();
    assert_ne!(again, holder);
    assert!(token > stale, "{token} after {stale}");
    wait_until("twice the lease passed", || {
        frozen.elapsed() >= Duration::from_secs(8)
    });
    hosts[index].thaw();
    // Going on, the stale holder finds its lease gone, stops its command
    // and records why; the ledger keeps the new holder's outcome.
    wait_until("the stale holder recorded its run", || {
        !hosts[index].history("job").is_empty()
    });
    wait_until_it_stops(shared.path(), stale);
    let record = &hosts[index].history("job")[0];
    assert_ne!(record["outcome"], "success", "{record:#}");
    assert!(
        record["reason"].as_str().unwrap().contains("lease"),
        "{record:#}"
    );
    let other = &hosts[1 - index];
    new_holders_success_reaches_the_ledger(other, &hosts[index]);
    let row = &ledger(other, "job")[0];
    assert_eq!(row["node"], again.as_str(), "{row:#}");
    assert_eq!(row["token"].as_i64(), Some(token), "{row:#}");
    check_ledger(
        &ledger(other, "job"),
        &witnesses(&file),
        "job",
        "retry",
        jiff::Timestamp::MAX,
    );
    for host in &mut hosts {
        host.stop();
    }
}

fn a_partitioned_holder_stops_its_command_before_its_lease_ends(db: &mut dyn Server) {
    let Some(links) = [
        crate::util::netns::Link::new(),
        crate::util::netns::Link::new(),
    ]
    .into_iter()
    .collect::<Option<Vec<_>>>() else {
        return;
    };
    let outside: Vec<&str> = links.iter().map(|l| l.outside.as_str()).collect();
    db.listen_on(&outside);
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let beats = shared.path().join("beats");
    let command = ticking(shared.path());
    // `job` runs long on whichever host claims it; `beat` claims every
    // second, which the cut-off host must stop doing.
    let tasks = |schedule: &str| {
        cluster_task(
            "job",
            schedule,
            &command,
            shared.path(),
            "cluster = \"retry\"",
        ) + &cluster_task(
            "beat",
            "* * * * * *",
            &witness(&beats, "true"),
            shared.path(),
            "catch_up = \"skip\"",
        )
    };
    let lease = "6s";
    let mut hosts: Vec<Host> = links
        .iter()
        .enumerate()
        .map(|(i, link)| {
            let mut host = Host::behind(&format!("node-{}", i + 1), link, db);
            host.write_tasks(db, lease, &tasks("0 0 1 1 *"));
            host.start();
            host
        })
        .collect();
    reload(&hosts, db, lease, &tasks(&once_in(3)));
    wait_until("the occurrence started", || !witnesses(&file).is_empty());
    let (holder, _, stale) = witnesses(&file)[0].clone();
    let index = hosts.iter().position(|h| h.node == holder).unwrap();
    links[index].cut();
    let cut = jiff::Timestamp::now();
    // The cut-off holder stops its command on its own; the other host
    // takes the occurrence over once the lease ended, with a larger token.
    wait_until("the other host ran it again", || {
        witnesses(&file).len() >= 2
    });
    let (again, _, token) = witnesses(&file)[1].clone();
    assert_ne!(again, holder);
    assert!(token > stale, "{token} after {stale}");
    wait_until_it_stops(shared.path(), stale);
    let last_stale = *tick_times(shared.path(), stale).iter().max().unwrap();
    let first_new = *tick_times(shared.path(), token).iter().min().unwrap();
    assert!(
        last_stale < first_new,
        "the stale command ticked {} ms after the new holder started",
        (last_stale - first_new) / 1_000_000
    );
    wait_until("the cut-off holder recorded its run", || {
        !hosts[index].history("job").is_empty()
    });
    let record = &hosts[index].history("job")[0];
    assert!(
        record["reason"].as_str().unwrap().contains("lease"),
        "{record:#}"
    );
    // Nobody on the cut side claims: the cut-off host's beats stopped a
    // moment after the cut (a claim sent just before it may still land).
    let late = jiff::SignedDuration::from_secs(2);
    let cut_side: Vec<_> = witnesses(&beats)
        .into_iter()
        .filter(|(node, occurrence, _)| {
            let instant: jiff::Timestamp = occurrence["beat@".len()..].parse().unwrap();
            *node == holder && instant > cut + late
        })
        .collect();
    assert!(cut_side.is_empty(), "claimed while cut off: {cut_side:?}");
    let other = &hosts[1 - index];
    new_holders_success_reaches_the_ledger(other, &hosts[index]);
    check_ledger(
        &ledger(other, "job"),
        &witnesses(&file),
        "job",
        "retry",
        jiff::Timestamp::MAX,
    );
    // A beat the holder claimed as the link went is abandoned once its
    // lease ended; the checker waits for that.
    let until = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(3);
    wait_until("every beat before then is final", || {
        ledger(other, "beat").iter().all(|r| {
            r["state"] != "running"
                || r["instant"]
                    .as_str()
                    .unwrap()
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    >= until
        })
    });
    check_ledger(
        &ledger(other, "beat"),
        &witnesses(&beats),
        "beat",
        "once",
        until,
    );
    for host in &mut hosts {
        host.stop();
    }
}

fn what_one_host_missed_while_down_says_another_may_have_run_it(db: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let hooked = shared.path().join("hooked");
    let command = witness(&file, "true");
    let extra = format!(
        "catch_up = \"skip\"\non_missed = {:?}\n",
        format!("touch {}", hooked.display())
    );
    let mut hosts = hosts(db, 2, "3s", shared.path(), |dir| {
        cluster_task("tick", "* * * * * *", &command, dir, &extra)
    });
    wait_until("node-1 ran one", || {
        witnesses(&file).iter().any(|w| w.0 == "node-1")
    });
    hosts[0].stop();
    let stopped = jiff::Timestamp::now();
    wait_until("node-2 ran the instants node-1 was down for", || {
        witnesses(&file).iter().any(|(node, occurrence, _)| {
            let instant: jiff::Timestamp = occurrence["tick@".len()..].parse().unwrap();
            node == "node-2" && instant > stopped + jiff::SignedDuration::from_secs(2)
        })
    });
    hosts[0].start();
    let downtime = crate::util::missed_while_down;
    wait_until("node-1 recorded its downtime", || {
        hosts[0].history("tick").iter().any(downtime)
    });
    let record = hosts[0].history("tick").into_iter().find(downtime).unwrap();
    assert!(
        record["reason"]
            .as_str()
            .unwrap()
            .contains("another host of the cluster may have run them"),
        "{record:#}"
    );
    // No host's on_missed follows a miss the cluster may have run; a hook
    // would have started in the turn that wrote the record.
    std::thread::sleep(Duration::from_secs(2));
    assert!(!hooked.exists());
    for host in &mut hosts {
        host.stop();
    }
}

/// Every host down over some instants: the first host back applies
/// `catch_up = "once"` and claims the latest instant nobody ran, like any
/// other; the host back after it finds that one claimed and runs it no
/// second time.
fn with_every_host_down_the_first_back_catches_up_once_for_the_cluster(db: &mut dyn Server) {
    let shared = tempfile::tempdir().unwrap();
    let file = shared.path().join("witness");
    let command = witness(&file, "true");
    let mut hosts = hosts(db, 2, "3s", shared.path(), |dir| {
        cluster_task("tick", "* * * * * *", &command, dir, "catch_up = \"once\"")
    });
    wait_until("an occurrence ran", || !witnesses(&file).is_empty());
    for host in &mut hosts {
        host.stop();
    }
    let stopped = jiff::Timestamp::now();
    wait_until("three instants passed with every host down", || {
        jiff::Timestamp::now() > stopped + jiff::SignedDuration::from_secs(3)
    });
    hosts[0].start();
    let caught_up = |h: &Host| {
        h.history("tick")
            .into_iter()
            .find(|r| r["trigger"] == "catch-up" && r["outcome"] == "success")
    };
    wait_until("node-1 caught up", || caught_up(&hosts[0]).is_some());
    let record = caught_up(&hosts[0]).unwrap();
    let instant: jiff::Timestamp = record["scheduled"].as_str().unwrap().parse().unwrap();
    assert!(instant > stopped, "{record:#}");
    let key = format!("tick@{instant}");
    let row = ledger(&hosts[0], "tick")
        .into_iter()
        .find(|r| r["instant"].as_str().and_then(|i| i.parse().ok()) == Some(instant))
        .unwrap();
    assert_eq!(row["node"], "node-1", "{row:#}");
    hosts[1].start();
    wait_until("node-2 ran one after its return", || {
        witnesses(&file).iter().filter(|w| w.0 == "node-2").count() >= 1
            && hosts[1]
                .history("tick")
                .iter()
                .any(crate::util::missed_while_down)
    });
    // The occurrences still going on as the hosts stop are left out.
    let until = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2);
    for host in &mut hosts {
        host.stop();
    }
    let seen = witnesses(&file);
    assert_eq!(
        seen.iter().filter(|w| w.1 == key).count(),
        1,
        "{key} ran more than once: {seen:?}"
    );
    check_ledger(&ledger(&hosts[0], "tick"), &seen, "tick", "once", until);
}
