//! Configuration: gitops.yaml ([`gitops_yaml`]), the platform policy and a preview's sandbox
//! ([`policy`]), and the identity of a render ([`identity`]). Everything here is validated
//! once, before anything is rendered, and is immutable after.

pub mod gitops_yaml;
pub mod identity;
pub mod policy;
pub mod references;

pub use gitops_yaml::{Environment, GitopsConfig, RenameMode};
pub use identity::{Identity, IdentityRequest, Resolved, Sourced};
pub use policy::{Policy, Sandbox};
