#!/bin/sh
# A user who makes a mistake, is asked to edit again, and fixes it: the
# first call writes an invalid task, the second finds the text kept and
# repairs it. $EDITOR_COUNT counts the calls.
. "$(dirname "$0")/common.sh"
echo call >> "$EDITOR_COUNT"
if [ "$(wc -l < "$EDITOR_COUNT")" -eq 1 ]; then
    printf '\n[tasks.retried]\nschedule = "@sometimes"\ncommand = "true"\n' >> "$file"
else
    grep -q '@sometimes' "$file" || exit 98
    sed -i 's/@sometimes/@daily/' "$file"
fi
