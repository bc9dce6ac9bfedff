#!/usr/bin/env bash
# Times `kron plan` (issue 12's target: 1,000 tasks over 7 days in under
# 200 ms), end to end: loading the task file, reading every task's
# history for its p95 duration, playing a week of runs (about 300,000:
# every 5 and 15 minutes, hourly, daily, monthly), drawing the timeline
# and writing it. Each task has a full history (1,000 records, what
# `kron` keeps), every tenth shares the lock `disk`, and `max_parallel`
# is 16, so the forecast has conflicts to find. Prints the median and the
# fastest wall time of RUNS runs, and the median CPU time (user + system:
# what the wall time is on an idle machine), for the timeline and for
# `--json` (every instant).
#
# Usage: benches/plan.sh [path/to/kron]
# Environment: RUNS (default 20), TASKS (default 1000).
set -euo pipefail
cd "$(dirname "$0")/.."
kron=${1:-target/release/kron}
[ -x "$kron" ] || cargo build --release --quiet
kron=$(realpath "$kron")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export XDG_CONFIG_HOME=$dir/config XDG_STATE_HOME=$dir/state XDG_RUNTIME_DIR=$dir/runtime
export HOME=$dir/home KRON_NO_AUTOSTART=1 TZ=Europe/Berlin COLUMNS=200
mkdir -p "$XDG_CONFIG_HOME/kron" "$XDG_STATE_HOME/kron/history" "$XDG_RUNTIME_DIR" "$HOME"
chmod 700 "$dir"/*

python3 - "$dir" "${TASKS:-1000}" <<'PY'
import json, sys, datetime
dir, n = sys.argv[1], int(sys.argv[2])
exprs = ["*/5 * * * *", "30 2 * * *", "0 9-17 * * mon-fri", "0 0 1 * *", "15 */2 * * *",
         "0 0 L * *", "0 12 * * 5L", "*/15 * * * *", "@daily", "@every 90m"]
with open(f"{dir}/config/kron/tasks.toml", "w") as f:
    f.write('[defaults]\ntimezone = "Europe/Berlin"\nmax_parallel = 16\n\n')
    for i in range(n):
        lock = 'lock = "disk"\n' if i % 10 == 1 else ""
        f.write(f'[tasks.task-{i}]\nschedule = "{exprs[i % len(exprs)]}"\n{lock}'
                f'command = "echo {i}"\n\n')
start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
for i in range(n):
    with open(f"{dir}/state/kron/history/task-{i}.jsonl", "w") as f:
        for r in range(1000):
            t = start + datetime.timedelta(minutes=5 * r)
            ms = 200 + (i * 7919 + r * 104729) % 20_000
            end = t + datetime.timedelta(milliseconds=ms)
            f.write(json.dumps({
                "run_id": f"20260101-{r:06d}-{i:08x}", "task": f"task-{i}", "trigger": "schedule",
                "scheduled": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "started": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "finished": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "attempts": 1, "exit_code": 0,
                "signal": None, "outcome": "success", "duration_ms": ms}, separators=(",", ":")) + "\n")
PY
chmod 600 "$XDG_CONFIG_HOME/kron/tasks.toml"

python3 - "$kron" "${RUNS:-20}" <<'PY'
import resource, statistics, subprocess, sys, time
kron, runs = sys.argv[1], int(sys.argv[2])

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

for args in (["plan"], ["plan", "--json"]):
    subprocess.run([kron, *args], check=True, stdout=subprocess.DEVNULL)  # warm the caches
    wall, used = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), cpu()
        subprocess.run([kron, *args], check=True, stdout=subprocess.DEVNULL)
        wall.append((time.perf_counter() - t) * 1000)
        used.append((cpu() - c) * 1000)
    out = subprocess.run([kron, *args], check=True, capture_output=True).stdout
    print(f"kron {' '.join(args):<12} wall median {statistics.median(wall):6.1f} ms, fastest "
          f"{min(wall):6.1f} ms; CPU median {statistics.median(used):6.1f} ms "
          f"({runs} runs, {len(out):,} bytes of output)")
PY
