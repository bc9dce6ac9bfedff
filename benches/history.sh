#!/usr/bin/env bash
# Times kron's history queries (issue 13's targets: under 50 ms and 20 MB
# at 200 tasks x 1,000 records, under 200 ms at 200 x 10,000). Builds the
# two data sets in kron's history format (one JSON line per run, as
# history::append writes it; every task runs on its own interval ending
# now, about 2% of runs fail, a quarter of the tasks never fail, some
# records carry a reason), then runs each query RUNS times and prints the
# median wall time and the largest peak RSS (getrusage of the child:
# ru_maxrss). `kron history` is asked as a user does (a table; COLUMNS is
# pinned); the first run of each query is a warm-up and is not counted,
# except for the very first query, which builds the indexes of files
# written without them (as after an upgrade) and is shown apart.
#
# Usage: benches/history.sh [path/to/kron]
# Environment: RUNS (default 7), SIZES (default "1000 10000"),
# TASKS (default 200); KEEP_KEY=0 leaves `history = { keep }` out of the
# task file (for a kron from before the key).
set -euo pipefail
cd "$(dirname "$0")/.."
kron=${1:-target/release/kron}
[ -x "$kron" ] || cargo build --release --quiet
kron=$(realpath "$kron")
runs=${RUNS:-7}
tasks=${TASKS:-200}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export HOME=$dir/home KRON_NO_AUTOSTART=1 TZ=UTC COLUMNS=160 NO_COLOR=1
echo "kron: $("$kron" --version), $(nproc) CPUs, $(uname -sr)"

# $1: the state directory, $2: records per task.
generate() {
    python3 - "$1" "$tasks" "$2" <<'PY'
import json, os, random, sys, datetime
state, ntasks, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hist = f"{state}/kron/history"
os.makedirs(hist, mode=0o700, exist_ok=True)
random.seed(13)
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
intervals = [10, 60, 300, 900, 3600]
def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{t.microsecond // 1000:03d}Z" if t.microsecond else "Z")
for i in range(ntasks):
    name = f"task-{i:03d}"
    every = intervals[i % len(intervals)]
    fail_rate = 0.0 if i % 4 == 3 else 0.02
    lines = []
    for k in range(n):
        due = now - datetime.timedelta(seconds=every * (n - k))
        started = due + datetime.timedelta(milliseconds=random.randint(1, 40))
        ms = int(random.lognormvariate(6.5, 1.0))
        finished = started + datetime.timedelta(milliseconds=ms)
        failed = random.random() < fail_rate
        r = {
            "run_id": started.strftime("%Y%m%d-%H%M%S") + f"-{random.getrandbits(32):08x}",
            "task": name,
            "trigger": "schedule",
            "scheduled": ts(due),
            "started": ts(started),
            "finished": ts(finished),
            "attempts": 1 + (failed and random.random() < 0.5),
            "exit_code": 1 if failed else 0,
            "signal": None,
            "outcome": "failure" if failed else "success",
            "duration_ms": ms,
        }
        if random.random() < 0.01:
            r["reason"] = "the lock `backup` was held by task-007 (run 20261101-020000-1a2b3c4d)"
        lines.append(json.dumps(r, separators=(",", ":")))
    path = f"{hist}/{name}.jsonl"
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
PY
}

# Prints "median_ms max_rss_kb" of RUNS runs of the command after a warm-up
# (with WARM=0: of one run, not warmed up).
measure() {
    python3 - "$runs" "${WARM:-1}" "$@" <<'PY'
import os, resource, subprocess, sys, time
runs, warm, argv = int(sys.argv[1]), sys.argv[2] == "1", sys.argv[3:]
if not warm:
    runs = 0
times, rss = [], 0
for i in range(runs + 1):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"{' '.join(argv)} failed: {status}")
    if i or not warm:
        times.append(elapsed * 1000)
        rss = max(rss, usage.ru_maxrss)
times.sort()
print(f"{times[len(times) // 2]:.1f} {rss}")
PY
}

for size in ${SIZES:-1000 10000}; do
    export XDG_CONFIG_HOME=$dir/config-$size XDG_STATE_HOME=$dir/state-$size
    export XDG_RUNTIME_DIR=$dir/runtime-$size
    mkdir -p "$XDG_CONFIG_HOME/kron" "$XDG_RUNTIME_DIR"
    chmod 700 "$XDG_RUNTIME_DIR"
    generate "$XDG_STATE_HOME" "$size"
    python3 - "$XDG_CONFIG_HOME/kron/tasks.toml" "$tasks" "$size" "${KEEP_KEY:-1}" <<'PY'
import os, sys
path, ntasks, n, keep_key = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
with open(path, "w") as f:
    if keep_key:
        f.write(f"[defaults]\nhistory = {{ keep = {n} }}\n\n")
    for i in range(ntasks):
        f.write(f'[tasks.task-{i:03d}]\nschedule = "@every 10s"\ncommand = "true"\n\n')
os.chmod(path, 0o600)
PY
    bytes=$(du -sb "$XDG_STATE_HOME/kron/history" | cut -f1)
    echo
    echo "$tasks tasks x $size records ($((bytes / 1000000)) MB), median of $runs runs:"
    printf '  %-46s %9s %9s\n' query "wall ms" "peak kB"
    # The first query after an upgrade indexes every file (once).
    read -r ms kb < <(WARM=0 measure "$kron" history -n 20)
    printf '  %-46s %9s %9s\n' "kron history -n 20 (first: builds the indexes)" "$ms" "$kb"
    while IFS= read -r query; do
        # shellcheck disable=SC2086
        read -r ms kb < <(measure "$kron" $query)
        printf '  %-46s %9s %9s\n' "kron $query" "$ms" "$kb"
    done <<'QUERIES'
history -n 20
history task-042 -n 20
history --outcome failure -n 5
history task-042 --outcome failure -n 5
history --since 1h
history task-042 --since 1h
stats
stats task-042
QUERIES
done
