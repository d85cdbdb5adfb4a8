//! kubectl-gitops: per-environment and per-pull-request identity for Kubernetes manifests.
pub mod yaml;
