//! ARGOCD_APP_PARAMETERS parsing and the identity it gives.
//! See `kubectl_gitops_fuzz::checks::parameters`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = kubectl_gitops_fuzz::text(data) {
        kubectl_gitops_fuzz::checks::parameters(text);
    }
});
