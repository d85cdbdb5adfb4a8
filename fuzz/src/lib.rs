//! Helpers of the cargo-fuzz targets: the properties live in [`checks`] (also compiled into
//! the main crate's `tests/fuzz.rs`), the targets in `fuzz_targets/` only feed them.

pub mod checks;

/// The input as text; fuzzers produce bytes, and kubectl-gitops refuses what is not UTF-8
/// before any of the checked code runs.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
