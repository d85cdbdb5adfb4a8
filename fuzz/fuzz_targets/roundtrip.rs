//! parse -> emit -> parse gives the same documents, typed as Kubernetes reads them; emit is stable.
//! See `kubectl_gitops_fuzz::checks::roundtrip`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = kubectl_gitops_fuzz::text(data) {
        kubectl_gitops_fuzz::checks::roundtrip(text);
    }
});
