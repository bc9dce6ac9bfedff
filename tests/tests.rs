//! kron's integration tests: one binary, one module per area.

/// The schedule engine against a brute-force oracle (proptest).
mod schedule_props;
