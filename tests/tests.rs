//! kron's integration tests: one binary, one module per area.

/// The shared harness: isolated XDG directories and the real binary.
mod util;

/// `kron next --expr`: output formats and errors.
mod next;
/// The schedule engine against a brute-force oracle (proptest).
mod schedule_props;
