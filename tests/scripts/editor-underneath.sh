#!/bin/sh
# A user who adds a task while, in another terminal, `kron add` changes the
# task file ($KRON is the kron binary).
. "$(dirname "$0")/common.sh"
"$KRON" add underneath --schedule @hourly -- echo underneath || exit 99
cat >> "$file" <<'TOML'

[tasks.edited]
schedule = "@daily"
command = "echo edited"
TOML
