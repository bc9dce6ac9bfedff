# Sourced by the editor scripts, which play a user in `kron edit` tests.
# Sets $file to the last argument (the file to edit). When the test sets
# them, appends the arguments and the modes of the file and its directory
# to $EDITOR_LOG, and copies the text the editor was given to $EDITOR_COPY.
for file; do :; done
if [ -n "$EDITOR_LOG" ]; then
    {
        printf 'args: %s\n' "$*"
        printf 'modes: %s %s\n' "$(stat -c %a "$file")" "$(stat -c %a "$(dirname "$file")")"
        printf 'file: %s\n' "$file"
    } >> "$EDITOR_LOG"
fi
if [ -n "$EDITOR_COPY" ]; then
    cp "$file" "$EDITOR_COPY"
fi
