#!/usr/bin/env bash
# Times `kron list` and `kron check` on generated task files of 1,000 and
# 10,000 tasks (issue 3's targets: list < 20 ms and check < 30 ms with 1,000
# tasks, check < 200 ms with 10,000). Needs hyperfine (Debian: apt install
# hyperfine). Usage: benches/taskfile.sh [path/to/kron]
set -euo pipefail
cd "$(dirname "$0")/.."
kron=${1:-target/release/kron}
[ -x "$kron" ] || cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir" <<'PY'
import sys
exprs = ["*/5 * * * *", "30 2 * * *", "0 9-17 * * mon-fri", "0 0 1 * *", "15 */2 * * *",
         "0 0 L * *", "0 12 * * 5L", "*/10 * * * * *", "@daily", "@every 90m"]
for n in (1000, 10000):
    with open(f"{sys.argv[1]}/tasks{n}.toml", "w") as f:
        f.write('[defaults]\ntimezone = "Europe/Berlin"\nretry = { attempts = 2, backoff = "30s" }\n\n')
        for i in range(n):
            f.write(f'[tasks.task-{i}]\ndescription = "task number {i}"\n'
                    f'schedule = "{exprs[i % len(exprs)]}"\ncommand = "echo {i} >> /tmp/out"\ntimeout = "5m"\n\n')
PY
chmod 600 "$dir"/*.toml
hyperfine -N --warmup 5 --runs 50 \
    "$kron --file $dir/tasks1000.toml list" \
    "$kron --file $dir/tasks1000.toml list --json" \
    "$kron check $dir/tasks1000.toml" \
    "$kron check $dir/tasks10000.toml"
