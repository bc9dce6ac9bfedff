#!/usr/bin/env bash
# The daemon's costs (issue 4's targets): with 1,000 tasks that are not due,
# its RSS, wake-ups per hour and CPU per hour while idle (from /proc); the
# firing latency from a scheduled instant to the command's first
# instruction; and how long a burst of 1,000 tasks due in the same second
# takes to start. Targets: idle RSS < 4 MiB, 0 wake-ups per hour, median
# latency < 5 ms and max < 50 ms, the burst started within 1 s.
#
# The burst runs twice: with a shell probe (`sh -c 'date +%s.%N >> FILE'`,
# two programs per run) and with an argv probe (`["touch", FILE]`, one
# program and no shell; the file's mtime is when it ran).
#
# The memory mode (issue 13) loads 1, 100, 1,000 and 10,000 tasks not due,
# one daemon each, and prints what it holds once idle: VmRSS, RssAnon and
# RssFile (/proc/PID/status), Private_Dirty (/proc/PID/smaps_rollup: the
# pages only this process can hold, heap and relocated data), and VmHWM, the
# peak RSS, reached while loading. Debian cron and busybox crond are
# measured beside it with 1,000 jobs when they are installed. With
# CLUSTER=1, each count is measured a second time with a `[cluster]` table
# in the file (issue 14: at most 0.5 MiB more idle RSS; the backend address
# is a dummy, as the daemon never connects: only supervisors do).
#
# Usage: benches/daemon.sh [path/to/kron]
# Environment: IDLE_SECONDS (default 180), FIRINGS (default 60),
# ONLY=idle, latency, burst or memory to measure one of them; PREFILL=N
# gives each burst task N history records first (1100: every record of the
# burst trims its file and archives 100 records, the worst case); TASKS (the
# memory mode's counts, default "1 100 1000 10000"); CLUSTER=1 (the memory
# mode measures each count with a `[cluster]` table too, the idle mode
# only with one).
set -euo pipefail
cd "$(dirname "$0")/.."
kron=${1:-target/release/kron}
[ -x "$kron" ] || cargo build --release --quiet
kron=$(realpath "$kron")
idle_seconds=${IDLE_SECONDS:-180}
firings=${FIRINGS:-60}

dir=$(mktemp -d)
daemon_pid=
stop_daemon() {
    if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
        kill -TERM "$daemon_pid"
        wait "$daemon_pid" 2>/dev/null || true
    fi
    daemon_pid=
}
trap 'stop_daemon; rm -rf "$dir"' EXIT
export XDG_CONFIG_HOME=$dir/config XDG_STATE_HOME=$dir/state XDG_RUNTIME_DIR=$dir/runtime
export HOME=$dir/home KRON_NO_AUTOSTART=1 TZ=UTC
mkdir -p "$XDG_CONFIG_HOME/kron" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR" "$HOME"
tasks=$XDG_CONFIG_HOME/kron/tasks.toml

# $1: a Python expression printing the task file.
write_tasks() {
    python3 -c "$1" > "$tasks"
    chmod 600 "$tasks"
}

start_daemon() {
    rm -f "$XDG_STATE_HOME/kron/state.json"
    "$kron" daemon run 2>> "$dir/daemon.log" &
    daemon_pid=$!
    for _ in $(seq 500); do
        "$kron" daemon status > /dev/null 2>&1 && return
        sleep 0.01
    done
    echo "the daemon did not start" >&2
    cat "$dir/daemon.log" >&2
    exit 1
}

field() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$daemon_pid/status"; }
switches() { echo $(( $(field voluntary_ctxt_switches) + $(field nonvoluntary_ctxt_switches) )); }
# utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$daemon_pid/stat"; }

echo "kron: $("$kron" --version), $(nproc) CPUs, $(uname -sr)"

want() { [ -z "${ONLY:-}" ] || [ "$ONLY" = "$1" ]; }
# The `[cluster]` table of CLUSTER=1 (tasks then default to cluster =
# "once"): a dummy address, as the daemon never connects.
cluster_table='[cluster]\nbackend = "host=/nonexistent dbname=x"\nnode = "bench"\n'

if want idle; then
# --- 1. Idle with 1,000 tasks not due (each once a year). ---
write_tasks "
print('$([ "${CLUSTER:-0}" = 1 ] && echo "$cluster_table")')
for i in range(1000):
    print(f'[tasks.task-{i}]\nschedule = \"0 0 1 1 *\"\ncommand = \"echo {i}\"\n')"
start_daemon
sleep 2
rss=$(field VmRSS)
hwm=$(field VmHWM)
s0=$(switches); c0=$(cpu_ticks)
sleep "$idle_seconds"
s1=$(switches); c1=$(cpu_ticks)
rss_after=$(field VmRSS)
hz=$(getconf CLK_TCK)
echo "idle, 1,000 tasks not due$([ "${CLUSTER:-0}" = 1 ] && echo ", [cluster]"), ${idle_seconds} s:"
echo "  RSS ${rss} kB at start, ${rss_after} kB after (peak ${hwm} kB while loading)"
echo "  wake-ups (context switches): $((s1 - s0)) in ${idle_seconds} s = $(( (s1 - s0) * 3600 / idle_seconds )) per hour"
echo "  CPU: $(( (c1 - c0) * 1000 / hz )) ms in ${idle_seconds} s = $(( (c1 - c0) * 1000 * 3600 / hz / idle_seconds )) ms per hour"
stop_daemon
fi

if want memory; then
# --- 1b. Memory held once idle, by the number of tasks loaded. ---
# Each task is a different daily time (so that nothing is shared), with a
# command line of about the length of a real one.
kb() { awk -v k="$1:" '$1 == k { print $2 }' "$2"; }
# Waits until process $1 sleeps in poll(2) (the daemon between turns; cron
# in its sleep), at most 30 s, then 1 s more.
settle() {
    for _ in $(seq 300); do
        [ "$(awk '{ print $3 }' "/proc/$1/stat")" = S ] && break
        sleep 0.1
    done
    sleep 1
}
memory_row() { # $1: label, $2: pid, $3: the peak's label (default VmHWM)
    local status=/proc/$2/status rollup=/proc/$2/smaps_rollup
    printf '  %-31s VmRSS %6s kB  RssAnon %6s kB  RssFile %5s kB  Private_Dirty %6s kB  %s %6s kB\n' \
        "$1" "$(kb VmRSS "$status")" "$(kb RssAnon "$status")" "$(kb RssFile "$status")" \
        "$(kb Private_Dirty "$rollup")" "${3:-VmHWM}" "$(kb VmHWM "$status")"
}
# Drops kron's binary from the page cache, as after a boot: the kernel
# maps a binary's code a page-cache folio at a time (64 KiB or more), and
# a binary just written by the linker or cp is cached in larger folios
# than one read back from disk, which makes RssFile and VmHWM depend on how
# the file came to be cached rather than on the daemon.
cold_binary() { # $1: the binary (default kron)
    python3 -c "import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)" "${1:-$kron}"
}
# $1: the number of tasks, $2: the label's suffix, $3: the file's first
# lines (a Python string's text). Leaves the idle VmRSS in $idle_rss.
memory_of() {
    write_tasks "
print('$3')
for i in range($1):
    print(f'[tasks.task-{i}]\nschedule = \"{i % 60} {i // 60 % 24} 1 1 *\"\ncommand = \"/usr/local/bin/backup --target /srv/backup/{i} --quiet\"\n')"
    cold_binary
    start_daemon
    settle "$daemon_pid"
    memory_row "kron, $1 task(s)$2" "$daemon_pid" "VmHWM (start)"
    idle_rss=$(kb VmRSS "/proc/$daemon_pid/status")
    if [ -n "$3" ] && ! grep -q '^\[cluster\]' "$XDG_RUNTIME_DIR/kron/loaded/task-0.toml"; then
        echo "the snapshots have no [cluster] table" >&2
        exit 1
    fi
    # The peak of a reload alone: clear_refs 5 sets VmHWM back to VmRSS.
    echo 5 > "/proc/$daemon_pid/clear_refs"
    reloads=$(grep -c '(SIGHUP)' "$dir/daemon.log" || true)
    kill -HUP "$daemon_pid"
    while [ "$(grep -c '(SIGHUP)' "$dir/daemon.log" || true)" -le "$reloads" ]; do sleep 0.1; done
    settle "$daemon_pid"
    memory_row "  after a reload" "$daemon_pid" "VmHWM (reload)"
    stop_daemon
}
# A binary just written by the linker has dirty page-cache pages, which
# smaps counts as Private_Dirty until they are written back.
sync "$kron"
echo "memory once idle (tasks not due), and the peak of starting and of a reload (SIGHUP):"
for n in ${TASKS:-1 100 1000 10000}; do
    memory_of "$n" "" ""
    if [ "${CLUSTER:-0}" = 1 ]; then
        without=$idle_rss
        memory_of "$n" ", [cluster]" "$cluster_table"
        echo "  [cluster] adds $((idle_rss - without)) kB of idle VmRSS (issue 14: at most 512 kB)"
    fi
done
# The crons it replaces, with 1,000 jobs, when installed (not by this script).
jobs=$dir/crontab
python3 -c "
for i in range(1000):
    print(f'{i % 60} {i // 60 % 24} 1 1 * /usr/local/bin/backup --target /srv/backup/{i} --quiet')" > "$jobs"
if command -v busybox > /dev/null && busybox --list | grep -qx crond; then
    mkdir -p "$dir/crontabs"
    cp "$jobs" "$dir/crontabs/$(id -un)"
    cold_binary "$(command -v busybox)"
    busybox crond -f -c "$dir/crontabs" &
    other=$!
    settle "$other"
    memory_row "busybox crond, 1000" "$other"
    kill "$other"; wait "$other" 2>/dev/null || true
fi
if [ -x /usr/sbin/cron ] && [ "$(id -u)" = 0 ] && ! pgrep -x cron > /dev/null; then
    # Debian cron reads only its spool: the jobs go in root's crontab for
    # the measure, and the crontab there before is put back.
    old=$(crontab -l 2>/dev/null || true)
    crontab "$jobs"
    cold_binary /usr/sbin/cron
    /usr/sbin/cron -f &
    other=$!
    settle "$other"
    memory_row "Debian cron, 1000" "$other"
    kill "$other"; wait "$other" 2>/dev/null || true
    if [ -n "$old" ]; then printf '%s\n' "$old" | crontab -; else crontab -r; fi
fi
fi

if want latency; then
# --- 2. Firing latency: a task due each second, among the 1,000. ---
out=$dir/latency
: > "$out"
write_tasks "
print('[tasks.probe]\nschedule = \"* * * * * *\"\ncommand = \"date +%s.%N >> $out\"\n')
for i in range(1000):
    print(f'[tasks.task-{i}]\nschedule = \"0 0 1 1 *\"\ncommand = \"echo {i}\"\n')"
start_daemon
while [ "$(wc -l < "$out")" -lt "$((firings + 1))" ]; do sleep 0.5; done
stop_daemon
echo "firing latency (scheduled second to the command's \`date\`), $firings firings:"
tail -n "$firings" "$out" | python3 -c '
import sys, statistics
ms = sorted((float(l) % 1) * 1000 for l in sys.stdin if l.strip())
print(f"  median {statistics.median(ms):.2f} ms, p90 {ms[int(len(ms) * 0.9) - 1]:.2f} ms, max {ms[-1]:.2f} ms, min {ms[0]:.2f} ms")'

fi

# --- 3. A burst: 1,000 tasks due in the same second. ---
# $1: shell or argv (the probe).
burst() {
    local out=$dir/burst-$1 probe=$1
    rm -rf "$out"
    mkdir -p "$out"
    # Each burst has tasks (and so files) of its own, and nothing is
    # deleted before it: on this VM's ext4 without a journal, creating
    # files just after thousands were deleted scans past their inodes
    # (`recently_deleted`), which made whichever burst came second look
    # twice as slow to record.
    if [ "${PREFILL:-0}" -gt 0 ]; then
        python3 - "$XDG_STATE_HOME/kron/history" "$PREFILL" "$1" <<'PY'
import os, sys
hist, n, probe = sys.argv[1], int(sys.argv[2]), sys.argv[3]
os.makedirs(hist, mode=0o700, exist_ok=True)
for i in range(1000):
    with open(f"{hist}/burst-{probe}-{i}.jsonl", "w") as f:
        for k in range(n):
            f.write(f'{{"run_id":"old-{k}","task":"burst-{probe}-{i}","trigger":"schedule","scheduled":"2026-01-01T00:00:00Z",'
                    f'"started":"2026-01-01T00:00:00Z","finished":"2026-01-01T00:00:01Z","attempts":1,"exit_code":0,'
                    f'"signal":null,"outcome":"success","duration_ms":1000}}\n')
PY
    fi
    due=$(( $(date +%s) + 8 ))
    write_tasks "
for i in range(1000):
    command = '\"date +%s.%N >> $out/times\"' if '$1' == 'shell' else f'[\"touch\", \"$out/{i}\"]'
    print(f'[tasks.burst-$1-{i}]\nschedule = \"{$due % 60} * * * * *\"\ncommand = {command}\n')"
    : > "$dir/daemon.log"
    start_daemon
    local deadline=$(( due + 60 ))
    count() { if [ "$1" = shell ]; then cat "$out/times" 2>/dev/null | wc -l; else ls "$out" | wc -l; fi; }
    while [ "$(count "$1")" -lt 1000 ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
    # Every run's record written (a trim may have archived prefilled ones).
    recorded() { cat "$XDG_STATE_HOME"/kron/history/burst-"$probe"-*.jsonl 2>/dev/null | grep -vc '"run_id":"old-'; }
    while [ "$(recorded)" -lt 1000 ] && [ "$(date +%s)" -lt "$deadline" ]; do
        sleep 0.2
    done
    stop_daemon
    echo "burst of 1,000 tasks due at the same second, $1 probe:"
    python3 - "$out" "$due" "$dir/daemon.log" "$1" <<'PY'
import sys, re, os, datetime
out, due, log, probe = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if probe == "shell":
    starts = sorted(float(l) for l in open(os.path.join(out, "times")) if l.strip())
else:
    starts = sorted(os.stat(os.path.join(out, f)).st_mtime_ns / 1e9 for f in os.listdir(out))
spawned = [datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
           for m in re.finditer(r"^(\S+) INFO started burst-\w+-\d+ \(schedule", open(log).read(), re.M)]
print(f"  commands started: {len(starts)} of 1000; the last {(starts[-1] - due) * 1000:.0f} ms after the instant, "
      f"half within {(starts[len(starts) // 2] - due) * 1000:.0f} ms")
hist = os.path.join(os.environ["XDG_STATE_HOME"], "kron/history")
files = [os.path.join(hist, f) for f in os.listdir(hist) if f.startswith(f"burst-{probe}-") and f.endswith(".jsonl")]
recorded = {l.split('"run_id":"')[1].split('"')[0] for f in files for l in open(f) if '"old-' not in l}
written = max(os.stat(f).st_mtime_ns for f in files) / 1e9
archived = sum(1 for root, _, fs in os.walk(os.path.join(hist, "archive")) for f in fs
               if f"burst-{probe}-" in os.path.join(root, f))
print(f"  records of the burst: {len(recorded)} of 1000 (archive files: {archived}); the last written "
      f"{(written - due) * 1000:.0f} ms after the instant, {(written - due) / (starts[-1] - due):.2f}x the last start")
if spawned:
    spawned.sort()
    print(f"  supervisors spawned by the daemon: {len(spawned)}; the first {(spawned[0] - due) * 1000:.0f} ms, "
          f"the last {(spawned[-1] - due) * 1000:.0f} ms after the instant")
PY
}
if want burst; then
    burst shell
    burst argv
fi
