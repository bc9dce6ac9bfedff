//! kron's integration tests: one binary, one module per area.

/// The shared harness: isolated XDG directories and the real binary.
mod util;

/// `kron add` and `kron remove`: byte-for-byte preservation, refusals, parallel adds.
mod add_remove;
/// `kron edit` with editor scripts playing the user.
mod edit;
/// `kron import` and `kron export --format crontab` on real crontab files.
mod import_export;
/// The man pages and completions match the code.
mod docs;
/// `kron list`, `show`, `check` and `next TASK` on task files.
mod list_show_check;
/// `kron next --expr`: output formats and errors.
mod next;
/// The schedule engine against a brute-force oracle (proptest).
mod schedule_props;
