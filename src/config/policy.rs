//! The platform policy (DESIGN.md §3): what the platform team allows pull-request content to
//! do, in a YAML file the rendered revision cannot change (`GITOPS_POLICY` in the sidecar's
//! environment, a mounted file; `--policy` on the command line).
//!
//! A render is **sandboxed** when a policy applies (`generate`, `render --policy`); without
//! one (`render` on a developer's machine) it trusts the repository. This module holds the
//! keys for external builds (kustomize and Helm directories, issue 11); the preview keys
//! (`preview.allowClusterScoped`, `preview.namespace`, `preview.protectedNamespaces`) join
//! it as further sections.
//!
//! ```yaml
//! build:
//!   allowRemoteResources: false     # kustomize resources, bases and components fetched over the network
//!   allowOutsideRepository: false   # kustomize bases and components outside the repository
//!   timeoutSeconds: 30              # how long one kustomize build or helm template may run
//! ```
//!
//! Unknown keys are errors (a typo must not silently leave the sandbox open or closed).

use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::Loc;
use crate::yaml::parse::{Limits, parse_stream};
use crate::yaml::{Node, Value};

/// How long an external build may run unless the policy says otherwise.
pub const DEFAULT_BUILD_TIMEOUT_SECONDS: u64 = 30;

/// The platform policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    pub build: BuildPolicy,
}

/// What external builds may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildPolicy {
    /// Kustomize may fetch remote resources, bases and components.
    pub allow_remote_resources: bool,
    /// Kustomize may use bases and components outside the repository.
    pub allow_outside_repository: bool,
    /// The deadline of one build.
    pub timeout_seconds: u64,
}

impl Default for BuildPolicy {
    fn default() -> Self {
        BuildPolicy {
            allow_remote_resources: false,
            allow_outside_repository: false,
            timeout_seconds: DEFAULT_BUILD_TIMEOUT_SECONDS,
        }
    }
}

impl BuildPolicy {
    /// What a trusted render (a developer's machine, no policy) may do: everything the tools
    /// do by themselves.
    pub fn trusted() -> BuildPolicy {
        BuildPolicy {
            allow_remote_resources: true,
            allow_outside_repository: true,
            timeout_seconds: DEFAULT_BUILD_TIMEOUT_SECONDS,
        }
    }
}

/// Reads a policy file (regular, size-limited, like every file the tool opens).
pub fn load(path: &Path) -> Result<Policy> {
    let bytes = crate::source::read_regular(path, crate::source::MAX_FILE_BYTES)?;
    let display = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        loc: Loc::file(&Arc::from(display.as_str())),
    })?;
    parse(&text, &display)
}

/// Parses a policy's text; `display` names the file in messages.
pub fn parse(text: &str, display: &str) -> Result<Policy> {
    let file: Arc<str> = Arc::from(display);
    let err = |n: &Node, msg: String| Error::Config {
        loc: Loc::new(&file, n.pos),
        msg,
    };
    let stream = parse_stream(text, &Limits::default()).map_err(|e| Error::Yaml {
        loc: Loc::new(&file, e.pos()),
        source: e,
    })?;
    let mut policy = Policy::default();
    let Some(root) = stream.docs.first().map(|d| &d.root) else {
        return Ok(policy);
    };
    let entries = |n: &Node, what: &str| -> Result<Vec<(Node, Node)>> {
        match &n.value {
            Value::Map(m) => Ok(m.clone()),
            _ if n.is_null() => Ok(Vec::new()),
            _ => Err(err(n, format!("{what} must be a mapping"))),
        }
    };
    let key = |k: &Node| -> Result<String> {
        k.scalar_text()
            .map(str::to_string)
            .ok_or_else(|| err(k, "keys must be plain strings".into()))
    };
    let boolean = |n: &Node, what: &str| -> Result<bool> {
        // A plain boolean: `as_str` is None for what YAML reads as a boolean, not a string.
        match (n.scalar_text(), n.as_str()) {
            (Some("true" | "True" | "TRUE"), None) => Ok(true),
            (Some("false" | "False" | "FALSE"), None) => Ok(false),
            _ => Err(err(n, format!("{what} must be true or false"))),
        }
    };
    for (k, v) in entries(root, "the policy")? {
        match key(&k)?.as_str() {
            "build" => {
                for (k2, v2) in entries(&v, "build")? {
                    match key(&k2)?.as_str() {
                        "allowRemoteResources" => {
                            policy.build.allow_remote_resources =
                                boolean(&v2, "build.allowRemoteResources")?;
                        }
                        "allowOutsideRepository" => {
                            policy.build.allow_outside_repository =
                                boolean(&v2, "build.allowOutsideRepository")?;
                        }
                        "timeoutSeconds" => {
                            let n = v2
                                .scalar_text()
                                .and_then(|s| s.parse::<u64>().ok())
                                .filter(|n| (1..=3600).contains(n))
                                .ok_or_else(|| {
                                    err(&v2, "build.timeoutSeconds must be a number of seconds from 1 to 3600".into())
                                })?;
                            policy.build.timeout_seconds = n;
                        }
                        other => {
                            return Err(err(
                                &k2,
                                format!(
                                    "unknown key {other:?} in build (known keys: allowRemoteResources, allowOutsideRepository, timeoutSeconds)"
                                ),
                            ));
                        }
                    }
                }
            }
            other => {
                return Err(err(
                    &k,
                    format!("unknown key {other:?} in the platform policy (known keys: build)"),
                ));
            }
        }
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_keys() {
        assert_eq!(parse("", "p.yaml").ok(), Some(Policy::default()));
        let p = parse(
            "build:\n  allowRemoteResources: true\n  timeoutSeconds: 5\n",
            "p.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(p.build.allow_remote_resources);
        assert!(!p.build.allow_outside_repository);
        assert_eq!(p.build.timeout_seconds, 5);
    }

    #[test]
    fn errors_are_located() {
        for (text, want) in [
            ("bild: {}\n", "p.yaml:1:1: unknown key \"bild\""),
            (
                "build: {allowRemote: true}\n",
                "p.yaml:1:9: unknown key \"allowRemote\"",
            ),
            (
                "build: {allowRemoteResources: \"yes\"}\n",
                "p.yaml:1:31: build.allowRemoteResources must be true or false",
            ),
            (
                "build: {timeoutSeconds: 0}\n",
                "p.yaml:1:25: build.timeoutSeconds",
            ),
        ] {
            let got = parse(text, "p.yaml").err().map(|e| e.to_string());
            assert!(
                got.as_deref().is_some_and(|g| g.starts_with(want)),
                "{text}: {got:?}"
            );
        }
    }
}
