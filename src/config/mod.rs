//! Configuration: gitops.yaml ([`gitops_yaml`]) and the identity of a render ([`identity`]).
//! Everything here is validated once, before anything is rendered, and is immutable after.

pub mod gitops_yaml;
pub mod identity;
pub mod policy;

pub use gitops_yaml::{Environment, GitopsConfig, RenameMode};
pub use identity::{Identity, IdentityRequest, Resolved, Sourced};
