//! gitops.yaml and platform policy parsing, identity resolution and preview host templates.
//! See `kubectl_gitops_fuzz::checks::gitops_yaml`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = kubectl_gitops_fuzz::text(data) {
        kubectl_gitops_fuzz::checks::gitops_yaml(text);
    }
});
