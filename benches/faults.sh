#!/usr/bin/env bash
# Crash faults of kron's own processes, made real (issue 10's figures):
#
# 1. The daemon-crash loop. Two every-second tasks with catch_up = "all",
#    each appending the instant it ran for ($KRON_SCHEDULED_AT) to a file
#    of its own (one at once, one after a short sleep, so that runs are in
#    progress at the kills). The daemon is SIGKILLed KILLS times, at a
#    random moment, just after a second boundary, or just as a run's
#    command has run, and started again at once (a start right after a
#    SIGKILL waits for the dead daemon), or now and then after a gap of
#    2.5 s, whose instants are caught up. Then: instants run, instants run
#    twice (target 0), lost outcomes (a run whose line is there but whose
#    history record is not; target 0), and leftover processes once the
#    last daemon is stopped and its runs are done (target 0).
# 2. The supervisor-crash loop. A task of three processes (`sh` and two
#    `sleep`s; a second task's one ignores SIGTERM, so that only the
#    SIGKILL after kill_grace stops it) is handed to the daemon with `kron
#    run --detach`; once registered with its process group, its
#    supervisor is SIGKILLed. Then: how long any process of that group
#    lives on unsupervised (target: within kill_grace plus about a second),
#    whether the run is recorded `interrupted` (lost outcomes, target 0),
#    and whether the task's lock could be taken while a process of the run
#    still lived (issue 10, item 3), and leftovers after the final stop.
#
# Everything runs in a temporary directory (XDG_CONFIG_HOME, XDG_STATE_HOME,
# XDG_RUNTIME_DIR, HOME) and is stopped and removed on exit. Every process
# kron starts here carries KRON_BENCH=<token> in its environment (set on
# each kron command and in the task file's [defaults] env), which is how
# leftovers are found and how the exit trap cleans up.
#
# Usage: benches/faults.sh [path/to/kron]
# Environment: KILLS (default 200), GAP_EVERY (default 20: every 20th
# restart comes 2.5 s late, so that catch-up runs are under way at the next
# kill; 0 for none), SUPERVISOR_KILLS (default 30 per task),
# ONLY=daemon or supervisor for one loop, KEEP=1 to keep the evidence
# (logs, seen files, histories; kept anyway when a figure is off target),
# KRON_LOG (default debug: the daemons' stderr is the evidence).
set -euo pipefail

# Orphans (supervisors of a killed daemon, commands of a killed supervisor)
# are re-parented to the nearest child subreaper, else PID 1, which in some
# sandboxes reaps no one. Make this shell that subreaper (it survives exec,
# and bash reaps any child), so the bench leaves no zombies behind. No
# figure depends on it: kron counts zombies as dead, and so does this
# script.
if [ -z "${KRON_FAULTS_REAPER:-}" ]; then
    export KRON_FAULTS_REAPER=1
    exec python3 -c '
import ctypes, os, sys
PR_SET_CHILD_SUBREAPER = 36
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
os.execvp("bash", ["bash"] + sys.argv[1:])' "$0" "$@"
fi

cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    # cargo decides whether the binary is stale; a no-op when it is not.
    cargo build --release --quiet
fi
kron=$(realpath "${1:-target/release/kron}")
kills=${KILLS:-200}
supervisor_kills=${SUPERVISOR_KILLS:-30}
gap_every=${GAP_EVERY:-20}
export KRON_LOG=${KRON_LOG:-debug}

dir=$(mktemp -d)
mark=faults-$$-$RANDOM
daemon_pid=
export XDG_CONFIG_HOME=$dir/config XDG_STATE_HOME=$dir/state XDG_RUNTIME_DIR=$dir/runtime
export HOME=$dir/home KRON_NO_AUTOSTART=1 TZ=UTC
mkdir -p "$XDG_CONFIG_HOME/kron" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR" "$HOME" "$dir/out"
tasks=$XDG_CONFIG_HOME/kron/tasks.toml
running=$XDG_RUNTIME_DIR/kron/running
history=$XDG_STATE_HOME/kron/history
# The daemons' stderr (and so their supervisors'), all daemons of a loop
# appended, with this script's own lines (BENCH) at each kill and start;
# one file per loop.
log=
off_target=0

# kron, marked as this bench's.
k() { KRON_BENCH=$mark "$kron" "$@"; }

now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
note() { echo "$(now) BENCH $*" >> "$log"; }

# The processes (zombies aside) that carry this bench's mark: daemons,
# supervisors, commands, kron __recover. Prints "pid pgid state cmdline".
marked() {
    python3 - "$mark" <<'PY'
import os, sys
mark = b"KRON_BENCH=" + sys.argv[1].encode()
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
        env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        cmd = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    fields = stat.rsplit(") ", 1)[1].split()
    if fields[0] in "ZX" or mark not in env:
        continue
    print(pid, fields[2], fields[0], cmd.replace(b"\0", b" ").decode(errors="replace").strip())
PY
}

# SIGKILLs what is left: each marked process's group (commands and
# supervisors lead their own), or the process alone when it shares this
# script's group (a daemon started with &).
kill_marked() {
    local own pid pgid _
    own=$(ps -o pgid= -p $$ | tr -d ' ')
    for _ in 1 2 3; do
        while read -r pid pgid _; do
            if [ "$pgid" = "$own" ]; then kill -9 "$pid"; else kill -9 -- "-$pgid"; fi 2>/dev/null || true
        done < <(marked)
        sleep 0.1
    done
}

stop_daemon() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null || true
    fi
    daemon_pid=
}

keep_evidence() {
    local to
    to=target/faults-$(date -u +%Y%m%d-%H%M%S)
    mkdir -p "$to"
    cp -r "$dir/out" "$XDG_STATE_HOME" "$tasks" "$to/" 2>/dev/null || true
    echo "evidence kept in $to"
}

cleanup() {
    set +e
    stop_daemon
    kill_marked
    if [ "$off_target" != 0 ] || [ -n "${KEEP:-}" ]; then keep_evidence; fi
    rm -rf "$dir"
}
trap cleanup EXIT

# $1: the task file's text. [defaults] marks every command.
write_tasks() {
    printf '[defaults]\nenv = { KRON_BENCH = "%s" }\n\n%s' "$mark" "$1" > "$tasks"
    chmod 600 "$tasks"
}

# Starts `kron daemon run` in the background and returns at once. Not
# through k: a function run with & is a subshell, whose pid $! would be.
spawn_daemon() {
    KRON_BENCH=$mark "$kron" daemon run >> "$log" 2>&1 &
    daemon_pid=$!
    note "started daemon pid $daemon_pid"
}

# Starts the daemon and waits until it answers.
start_daemon() {
    spawn_daemon
    for _ in $(seq 500); do
        k daemon status > /dev/null 2>&1 && return
        sleep 0.01
    done
    echo "the daemon did not start" >&2
    tail -n 20 "$log" >&2
    exit 1
}

# After the final stop: waits (up to 30 s) until no run is registered and
# no marked process lives, then prints how many marked processes are left.
settle_and_count_leftovers() {
    for _ in $(seq 300); do
        if [ -z "$(ls -A "$running" 2>/dev/null)" ] && [ -z "$(marked)" ]; then break; fi
        sleep 0.1
    done
    sleep 0.5
    marked > "$dir/out/leftovers-$1"
    if [ -s "$dir/out/leftovers-$1" ]; then
        echo "leftover processes after the $1 loop:" >&2
        cat "$dir/out/leftovers-$1" >&2
    fi
    wc -l < "$dir/out/leftovers-$1"
}

# Sleeps $1 milliseconds.
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# The size of file $1 in bytes, 0 if it does not exist yet.
size() { stat -c %s "$1" 2>/dev/null || echo 0; }

echo "kron: $("$kron" --version), $(nproc) CPUs, $(uname -sr)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }

# --- 1. The daemon-crash loop. ---

# KILLS times: waits for a moment, SIGKILLs the daemon, starts another at
# once. $1: the directory of the seen files.
kill_loop() {
    local seen=$1 i mode before deadline us
    for i in $(seq "$kills"); do
        # Three kinds of moment, in turn. Each counts from the previous
        # restart, so some kills find the new daemon still starting.
        case $((i % 3)) in
        0)  mode=random
            sleep_ms $((RANDOM % 1500)) ;;
        1)  # Just after the next second boundary, when the daemon wakes
            # to mark and start that second's runs (0-20 ms after it).
            mode=boundary
            us=${EPOCHREALTIME/./}
            sleep_ms $(( (1000000 - us % 1000000) / 1000 + RANDOM % 20 )) ;;
        2)  # Just as a run's command has run: its supervisor is started,
            # the daemon may be logging or saving its memory.
            mode=appended
            before=$(size "$seen/t")
            deadline=$((SECONDS + 3))
            while [ "$(size "$seen/t")" = "$before" ] && [ $SECONDS -lt $deadline ]; do
                sleep 0.005
            done ;;
        esac
        local killed=$daemon_pid status=0
        note "kill $i ($mode): SIGKILL daemon pid $killed"
        kill -9 "$killed" 2>/dev/null || true
        if [ "$gap_every" -gt 0 ] && [ $((i % gap_every)) = 0 ]; then
            # Now and then a restart after a gap: its instants are caught
            # up one after another, and the next kill may land among them.
            sleep 2.5
        fi
        spawn_daemon
        # Reaped only once its successor is on its way. It should have
        # died of the SIGKILL (status 137); any other status is a start
        # that failed (refused, say) before it was killed.
        wait "$killed" 2>/dev/null || status=$?
        echo "$killed $status" >> "$dir/out/daemon-status"
    done
}

daemon_loop() {
    local seen=$dir/out/seen
    log=$dir/out/daemon-loop.log
    mkdir -p "$seen"
    write_tasks "[tasks.t]
schedule = \"* * * * * *\"
catch_up = \"all\"
command = 'echo \"\$KRON_SCHEDULED_AT\" >> $seen/t'

[tasks.s]
schedule = \"* * * * * *\"
catch_up = \"all\"
command = 'sleep 0.5; echo \"\$KRON_SCHEDULED_AT\" >> $seen/s'
"
    start_daemon
    # A first run, so that both tasks have a handled mark to catch up from.
    while [ "$(size "$seen/t")" = 0 ]; do sleep 0.05; done
    local started=$SECONDS
    # bash reports each job killed by a signal ("Killed") on its stderr,
    # when it reaps it: 200 such lines say nothing, anything else is shown.
    kill_loop "$seen" 2> "$dir/out/loop-stderr"
    local elapsed=$((SECONDS - started))
    # Let the last daemon catch up the last gap, then stop it.
    sleep 3
    note "final stop of daemon pid $daemon_pid"
    stop_daemon 2>> "$dir/out/loop-stderr"
    grep -v ' Killed ' "$dir/out/loop-stderr" >&2 || true
    local leftovers failed
    leftovers=$(settle_and_count_leftovers daemon)
    failed=$(awk '$2 != 137 { print "daemon pid " $1 " exited with " $2 ", not by its SIGKILL" > "/dev/stderr"; n++ }
                  END { print n + 0 }' "$dir/out/daemon-status")
    echo "load average after the daemon loop: $(cut -d' ' -f1-3 /proc/loadavg)"
    python3 - "$seen" "$history" "$log" "$kills" "$elapsed" "$leftovers" "$failed" <<'PY' || off_target=1
import collections, datetime, json, os, re, sys
seen, history, log, kills, elapsed, leftovers, failed = sys.argv[1:]
SECOND = datetime.timedelta(seconds=1)

def instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

def stamp(line):
    """The time at the start of a log line, if it has one."""
    try:
        return instant(line.split(" ", 1)[0])
    except ValueError:
        return None

def records(task):
    out = []
    try:
        for line in open(os.path.join(history, f"{task}.jsonl")):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line a killed writer left unfinished
    except FileNotFoundError:
        pass
    return out

log_lines = open(log, errors="replace").read().splitlines()
daemons_up = sum(" daemon started (pid " in l for l in log_lines)
kills_at = [(stamp(l), l.split("BENCH ", 1)[1]) for l in log_lines if " BENCH kill " in l]

def next_kill(after):
    return next(((t, k) for t, k in kills_at if t >= after), (None, None))

problems = []  # (what, task, instant, its records, the kill that came next)
fatal_kills = set()  # the kills after which an instant was never run
rows = []
for task in ("t", "s"):
    try:
        lines = [l.strip() for l in open(os.path.join(seen, task)) if l.strip()]
    except FileNotFoundError:
        lines = []
    ran = collections.Counter(instant(l) for l in lines)
    recs = records(task)
    by_instant = collections.defaultdict(list)
    for r in recs:
        if r.get("scheduled"):
            by_instant[instant(r["scheduled"])].append(r)
    # The history keeps the last 1,000 records: older instants cannot be
    # checked against it.
    oldest = min(by_instant) if len(recs) >= 1000 and by_instant else None
    doubles = sorted(i for i, n in ran.items() if n > 1)
    lost = sorted(i for i in ran if (oldest is None or i >= oldest)
                  and not any(r["outcome"] != "skipped" for r in by_instant[i]))
    phantom = sorted(i for i, rs in by_instant.items()
                     if i not in ran and any(r["outcome"] == "success" for r in rs))
    skipped = sum(r["outcome"] == "skipped" for r in recs)
    handled = set(ran) | set(by_instant)
    first, last = min(handled), max(handled)
    span = int((last - first) / SECOND) + 1
    never = [first + n * SECOND for n in range(span) if first + n * SECOND not in handled]
    # Why an instant was never run. A daemon handles a task's instants in
    # order and marks each (one instant per task) just before starting it.
    # If the next kill came within the second after the instant, no later
    # instant of the task was due yet: the daemon had marked this one and
    # died before its supervisor started. If it came later, a later
    # instant was due (and marked) while this one waited as a catch-up
    # run behind the one before it; the mark moved past it, and the
    # waiting run died with the daemon.
    kinds = collections.Counter()
    for i in never:
        at, kill = next_kill(i)
        later_due = at is not None and at - i >= SECOND
        kind = ("waited as a catch-up run; a later instant was marked" if later_due
                else "marked, killed before its start")
        kinds[kind] += 1
        if kill:
            fatal_kills.add(kill)
        problems.append((f"not run ({kind})", task, i, [], (at, kill)))
    triggers = collections.Counter(r["trigger"] for r in recs if r["outcome"] != "skipped")
    rows.append((task, len(ran), len(doubles), len(lost), skipped, len(never), kinds, span,
                 ", ".join(f"{n} {t}" for t, n in sorted(triggers.items()))))
    for what, found in (("ran twice", doubles), ("no record", lost), ("recorded, never ran", phantom)):
        for i in found:
            starts = [instant(r["started"]) for r in by_instant[i]]
            problems.append((what, task, i, by_instant[i], next_kill(min(starts, default=i))))

print(f"daemon-crash loop: {kills} SIGKILLs in {elapsed} s; "
      f"{daemons_up} daemons got as far as running, {failed} starts failed")
print(f"  {'task':<5} {'instants run':>12} {'ran twice':>9} {'lost outcomes':>13} "
      f"{'skipped':>7} {'not run':>7} {'span (s)':>8}  runs by trigger")
for task, ran, doubles, lost, skipped, never, kinds, span, triggers in rows:
    print(f"  {task:<5} {ran:>12} {doubles:>9} {lost:>13} {skipped:>7} {never:>7} {span:>8}  {triggers}")
    for kind, n in sorted(kinds.items()):
        print(f"        not run, {kind}: {n}")
if fatal_kills:
    modes = collections.Counter(re.search(r"\((\w+)\)", k).group(1) for _, k in kills_at)
    fatal = collections.Counter(re.search(r"\((\w+)\)", k).group(1) for k in fatal_kills)
    print("  kills after which some instant was never run: "
          + ", ".join(f"{fatal[m]} of {n} {m}" for m, n in sorted(modes.items())))
print(f"  leftover processes after the final stop: {leftovers}")
# What the daemons said that was not routine: WARN and ERROR lines, and a
# start that failed (its message is not in the log format).
unusual = collections.Counter(re.sub(r"\d+", "N", l.split(" ", 1)[1] if l[:1].isdigit() else l)
                              for l in log_lines
                              if re.match(r"^\S+ (WARN|ERROR) ", l) or l.startswith("kron: "))
for line, count in unusual.most_common(10):
    print(f"  in the daemons' stderr {count} times: {line}")

# Each instant off target, with its records, the kill that came next and
# the lines the daemons logged in the second before it (at most 3 of each
# kind and task here; the evidence directory has them all).
shown = collections.Counter()
for what, task, i, recs, (at, kill) in problems:
    shown[what, task] += 1
    if shown[what, task] > 3:
        continue
    print(f"\n{what}: {task} at {i.isoformat()}"
          + (f"; the next kill {(at - i).total_seconds() * 1000:.0f} ms after it: {kill}" if at else ""))
    for r in recs:
        print(f"  record {r['run_id']}: {r['trigger']}, started {r['started']}, {r['outcome']}"
              + (f" ({r['reason']})" if r.get("reason") else ""))
    lo = (at or i) - SECOND
    hi = (at or i) + datetime.timedelta(milliseconds=150)
    for line in log_lines:
        t = stamp(line)
        if t and lo <= t <= hi and (" BENCH " in line or " INFO " in line or f" {task}: " in line):
            print("  | " + line)
bad = any(r[2] or r[3] or r[5] for r in rows) or int(leftovers) or int(failed)
sys.exit(1 if bad else 0)
PY
}

# --- 2. The supervisor-crash loop. ---

# Measures one orphaned run: waits until run $2 of task $1 is registered
# with its group and the group's three processes live, SIGKILLs its
# supervisor, then polls /proc until no live process of the group is left
# and the history until the run's record appears. Prints one TSV line:
# task, run id, processes at the kill, unsupervised seconds, lock taken
# while a process lived (0/1), seconds to the record, outcome, reason.
orphan_one() {
    python3 - "$1" "$2" "$running" "$history" "$XDG_RUNTIME_DIR/kron/locks" <<'PY'
import fcntl, json, os, signal, sys, time
task, run_id, running, history, locks = sys.argv[1:]

def live(pgid):
    """The group's processes that are neither zombies nor dead."""
    n = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            n += 1
    return n

def wait(what, check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.005)
    sys.exit(f"timed out waiting for {what} ({task} {run_id})")

def registered():
    try:
        run = json.load(open(os.path.join(running, f"{run_id}.json")))
    except (OSError, ValueError):
        return None
    return run if run.get("pgid") else None

run = wait("its registry entry with a group", registered, 10)
pgid, supervisor = run["pgid"], run["supervisor_pid"]
wait("three processes in its group", lambda: live(pgid) >= 3, 5)
at_kill = live(pgid)
lock = open(os.path.join(locks, f"{run['lock']}.lock"))

t0 = time.monotonic()
os.kill(supervisor, signal.SIGKILL)
lock_free = 0
while live(pgid):
    # The lock taken (and let go at once) while a process of the run
    # still lives after: a second copy could have started beside it.
    if not lock_free:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock_free = 1 if live(pgid) else 0
        except BlockingIOError:
            pass
    if time.monotonic() - t0 > 120:
        break
    time.sleep(0.01)
unsupervised = time.monotonic() - t0

def record():
    try:
        for line in open(os.path.join(history, f"{task}.jsonl")):
            if f'"run_id":"{run_id}"' in line:
                return json.loads(line)
    except (OSError, ValueError):
        pass
    return None

deadline = t0 + 20
rec = None
while rec is None and time.monotonic() < deadline:
    rec = record()
    if rec is None:
        time.sleep(0.01)
recorded = f"{time.monotonic() - t0:.3f}" if rec else "-"
outcome = rec["outcome"] if rec else "none"
reason = (rec.get("reason") or "") if rec else ""
print(f"{task}\t{run_id}\t{at_kill}\t{unsupervised:.3f}\t{lock_free}\t{recorded}\t{outcome}\t{reason}")
PY
}

supervisor_loop() {
    log=$dir/out/supervisor-loop.log
    # z: three processes that all stop at SIGTERM. zi: one of them
    # ignores SIGTERM (inherited by the sleep), so only the SIGKILL after
    # kill_grace stops it. Sleeps of 30 s, so that a run left alone shows
    # as 30 unsupervised seconds, not as a command that happened to end.
    write_tasks "[tasks.z]
schedule = \"0 0 1 1 *\"
command = 'sleep 30 & sleep 30 & wait'
timeout = \"1m\"
kill_grace = \"2s\"

[tasks.zi]
schedule = \"0 0 1 1 *\"
command = 'sleep 30 & (trap \"\" TERM; sleep 30) & wait'
timeout = \"1m\"
kill_grace = \"2s\"
"
    start_daemon
    local results=$dir/out/orphans.tsv i task run_id
    : > "$results"
    for i in $(seq "$supervisor_kills"); do
        for task in z zi; do
            # Its stdout is the run id; its "handed to the daemon" goes
            # to the log.
            run_id=$(k run --detach "$task" 2>> "$log")
            note "supervisor kill $i: $task run $run_id"
            # A run that never got going is missing from the figures
            # (and says why on stderr); the loop goes on.
            orphan_one "$task" "$run_id" >> "$results" || off_target=1
        done
    done
    echo "load average after the supervisor loop: $(cut -d' ' -f1-3 /proc/loadavg)"
    note "final stop of daemon pid $daemon_pid"
    stop_daemon
    local leftovers
    leftovers=$(settle_and_count_leftovers supervisor)
    python3 - "$results" "$leftovers" "$supervisor_kills" <<'PY' || off_target=1
import collections, re, statistics, sys
results, leftovers, n = sys.argv[1:]
rows = [l.rstrip("\n").split("\t") for l in open(results) if l.strip()]
print(f"supervisor-crash loop: {n} SIGKILLs of a supervisor mid-run per task "
      "(kill_grace = 2s; each group of 3 processes)")
print(f"  {'task':<5} {'kills':>5} {'unsupervised s: median':>22} {'max':>6} "
      f"{'to the record s: median':>23} {'max':>6} {'lost outcomes':>13} {'lock free early':>15}")
bad = int(leftovers) > 0
for task in ("z", "zi"):
    mine = [r for r in rows if r[0] == task]
    if not mine:
        continue
    unsup = [float(r[3]) for r in mine]
    rec = [float(r[5]) for r in mine if r[5] != "-"]
    lost = [r for r in mine if r[6] != "interrupted"]
    early = sum(int(r[4]) for r in mine)
    print(f"  {task:<5} {len(mine):>5} {statistics.median(unsup):>22.3f} {max(unsup):>6.3f} "
          f"{statistics.median(rec) if rec else float('nan'):>23.3f} {max(rec) if rec else float('nan'):>6.3f} "
          f"{len(lost):>13} {early:>15}")
    for r in lost:
        print(f"    {r[1]}: outcome {r[6]} {r[7]}")
    # The targets: stopped within kill_grace (2 s) plus about a second,
    # recorded, and the lock held while any process of the run lives.
    bad |= bool(lost) or max(unsup) > 3.5 or early > 0
reasons = collections.Counter(re.sub(r"pid \d+", "pid N", r[7]) for r in rows)
for reason, count in reasons.most_common():
    print(f"  reason recorded {count} times: {reason}")
print(f"  leftover processes after the final stop: {leftovers}")
sys.exit(1 if bad else 0)
PY
}

if want daemon; then daemon_loop; fi
if want supervisor; then supervisor_loop; fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$off_target" != 0 ]; then echo "some figures are off target (above)"; exit 1; fi
