//! What kubectl-gitops reasons about is what an independent Kubernetes-like reader finds in its output (kinds, names, namespaces), pass-through and preview.
//! See `kubectl_gitops_fuzz::checks::one_reading`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = kubectl_gitops_fuzz::text(data) {
        kubectl_gitops_fuzz::checks::one_reading(text);
    }
});
