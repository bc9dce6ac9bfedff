#!/usr/bin/env bash
# Writes link/daemon.order, the list of the functions the daemon runs, which
# build.rs hands the linker so that they lie side by side in the release
# binary (docs/architecture.md, "The daemon's memory"). Run it after a
# change that moves or renames what the daemon runs, then measure with
# `ONLY=memory benches/daemon.sh`: a stale list costs resident pages, never
# correctness.
#
# The daemon runs under callgrind (valgrind), which names every function it
# enters: a start with 1,000 tasks and a [cluster] table, a task firing
# each second, a status request, a reload on SIGHUP, one on an edit, and a
# stop. Its children (supervisors) are not traced.
#
# Usage: benches/link-order.sh (needs valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind > /dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --quiet
kron=$(realpath target/release/kron)

dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -TERM "$pid" 2> /dev/null; rm -rf "$dir"' EXIT
export XDG_CONFIG_HOME=$dir/config XDG_STATE_HOME=$dir/state XDG_RUNTIME_DIR=$dir/runtime
export HOME=$dir/home KRON_NO_AUTOSTART=1
mkdir -p "$XDG_CONFIG_HOME/kron" "$XDG_STATE_HOME" "$XDG_RUNTIME_DIR" "$HOME"
tasks=$XDG_CONFIG_HOME/kron/tasks.toml
write_tasks() { # $1: the tick's command
    python3 -c "
print('[defaults]\ntimezone = \"Europe/Berlin\"\n')
print('[cluster]\nbackend = \"host=/nonexistent dbname=x\"\nnode = \"order\"\n')
print('[tasks.tick]\nschedule = \"* * * * * *\"\ncommand = \"$1\"\ncluster = \"local\"\n')
for i in range(1000):
    print(f'[tasks.task-{i}]\nschedule = \"{i % 60} {i // 60 % 24} * * *\"\ncommand = \"echo {i}\"\n')
" > "$tasks"
    chmod 600 "$tasks"
}
write_tasks true

valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" --demangle=no \
    "$kron" daemon run 2> "$dir/daemon.log" &
pid=$!
for _ in $(seq 600); do
    "$kron" daemon status > /dev/null 2>&1 && break
    sleep 0.1
done
"$kron" daemon status > /dev/null || { cat "$dir/daemon.log" >&2; exit 1; }
sleep 5
"$kron" status > /dev/null
kill -HUP "$pid"
sleep 3
write_tasks "true; true"
sleep 5
kill -TERM "$pid"
wait "$pid" || true
pid=

python3 - "$dir/callgrind.out" "$kron" > link/daemon.order <<'PY'
import re, sys
out, binary = sys.argv[1], sys.argv[2]
text = open(out).read()
names = dict(re.findall(r'^c?fn=\((\d+)\) (.*)$', text, re.M))
objects = dict(re.findall(r'^c?ob=\((\d+)\) (.*)$', text, re.M))
print("# The functions the daemon runs, for the linker (build.rs); written by")
print("# benches/link-order.sh, do not edit.")
seen, current = set(), None
for line in text.splitlines():
    if m := re.match(r'^ob=\((\d+)\)', line):
        current = objects.get(m.group(1))
    elif (m := re.match(r'^fn=\((\d+)\)', line)) and current == binary:
        # Callgrind marks a recursive call's cycle ('2); only mangled
        # names are the linker's ("(below main)" and addresses are not).
        name = re.sub(r"'\d+$", "", names.get(m.group(1), ""))
        if name.startswith("_"):
            seen.add(name)
# Sorted: what matters is that they are together, and a sorted list
# changes by the functions that changed when it is written again.
print("\n".join(sorted(seen)))
PY
echo "link/daemon.order: $(grep -vc '^#' link/daemon.order) functions"
