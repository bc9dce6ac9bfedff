//! kron's integration tests: one binary, one module per area.

/// The shared harness: isolated directories, the real binary, deadlines, run records, the daemon.
mod util;

/// `kron add` and `kron remove`: byte-for-byte preservation, refusals, parallel adds.
mod add_remove;
/// Several hosts, one task file, a real PostgreSQL and a real Redis: the backend's contract, each occurrence once, failover, divergence.
mod cluster;
/// Redis's own faults and settings: kill -9 under appendfsync always, what doctor warns of, DEBUG SLEEP past a lease, the ledger's bounds, passwords and TLS.
mod cluster_redis;
/// Shell completion: task names through the committed scripts and every shell's protocol; file names.
mod completion;
/// The daemon's life: start/stop/status, single instance, reloads, signals, auto-start, its bounded log.
mod daemon;
/// kron's directories are its own: insecure or foreign ones refused, another user's client refused.
mod dirs;
/// The man pages and completions match the code.
mod docs;
/// `kron doctor`: each check's pass, failure and fix.
mod doctor;
/// `kron dst` in four zones (a 30-minute shift and one without daylight saving), and the notes of add, edit, import, check and list.
mod dst;
/// `kron edit` with editor scripts playing the user.
mod edit;
/// `kron export --format systemd` and `--format kubernetes`: units, manifests,
/// refusals, schedules against systemd-analyze and kron's engine.
mod export;
/// Faults of kron's own processes and files: the daemon killed at a boundary, its runtime directory removed, a lock held by a dead daemon.
mod faults;
/// Tasks fire on time: pause/resume, catch-up, @reboot, max_parallel, jitter, SIGKILL mid-run.
mod firing;
/// History retention: archives by count and by age, `--archive`, `--since` into archives, old files.
mod history_retention;
/// After a run: on_failure/on_success hooks (environment, once per outcome, no loops) and mail through a fake sendmail.
mod hooks;
/// `kron import` and `kron export --format crontab` on real crontab files.
mod import_export;
/// The modules' import graph has no cycle.
mod layers;
/// What a command leaves in its process group: kept and recorded, or stopped (`leftovers`).
mod leftovers;
/// `kron list`, `show`, `check` and `next TASK` on task files.
mod list_show_check;
/// `kron next --expr`: output formats and errors.
mod next;
/// Overlap policies, shared lock names, the lock file shared with flock(1), a killed supervisor's command keeping its lock.
mod overlap_locks;
/// `kron plan`: the timeline, conflicts predicted from crafted histories, and one that then happens under the daemon.
mod plan;
/// Retries and their backoff, timeouts stopping a process group, `kron kill`.
mod retry_timeout;
/// `kron run` and `__supervise`: environment, workdir, stdin, exit statuses, `--dry-run`, `--detach`.
mod run;
/// Run logs (rotation, raw bytes, `kron logs`) and history (`kron history`, `list`'s LAST).
mod runlog_history;
/// The schedule engine against a brute-force oracle (proptest).
mod schedule_props;
/// `kron daemon install` and `uninstall`: the systemd unit, verified, and its daemon.
mod service;
/// `kron stats` and the run chart on crafted histories, colour and --utc, the Prometheus textfile against the format.
mod stats_metrics;
/// One supervisor for several runs: side by side, stopped one by one, a waiting run handed off.
mod supervise;
/// `kron why`: what became of a task's instants, from the daemon's records.
mod why;
