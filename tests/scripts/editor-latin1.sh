#!/bin/sh
# A user whose editor saves a comment in Latin-1: "café" with é as 0xe9.
. "$(dirname "$0")/common.sh"
printf '# caf\351\n' >> "$file"
