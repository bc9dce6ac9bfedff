#!/bin/sh
# A user who adds a valid task.
. "$(dirname "$0")/common.sh"
cat >> "$file" <<'TOML'

[tasks.edited]
schedule = "0 9 * * mon-fri"
command = "echo edited"
TOML
