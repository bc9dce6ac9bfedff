#!/bin/sh
# A user who adds a task with two mistakes: a bad minute and a typo.
. "$(dirname "$0")/common.sh"
cat >> "$file" <<'TOML'

[tasks.broken]
schedule = "61 * * * *"
command = "echo broken"
timout = "1m"
TOML
