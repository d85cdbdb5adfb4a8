//! A preview render (pr 7) is deterministic, idempotent and stays in its namespace.
//! See `kubectl_gitops_fuzz::checks::render_preview`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = kubectl_gitops_fuzz::text(data) {
        kubectl_gitops_fuzz::checks::render_preview(text);
    }
});
