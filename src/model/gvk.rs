//! API group, version and kind of an object, parsed from `apiVersion` the way kube-core's
//! `GroupVersion::from_str` does it: `v1` is the core group, `apps/v1` is group `apps`.

use std::fmt;

/// A group and a kind: what scope tables, reference tables and the rename map key on.
/// The version never matters for naming (an object keeps its name across versions).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKind {
    pub group: String,
    pub kind: String,
}

impl GroupKind {
    pub fn new(group: &str, kind: &str) -> Self {
        GroupKind {
            group: group.to_string(),
            kind: kind.to_string(),
        }
    }

    /// Parses `Kind` or `Kind.group` (e.g. `Certificate.cert-manager.io`), the notation
    /// gitops.yaml uses for kinds.
    pub fn parse_dotted(s: &str) -> Self {
        match s.split_once('.') {
            Some((kind, group)) => GroupKind::new(group, kind),
            None => GroupKind::new("", s),
        }
    }

    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.group == group && self.kind == kind
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// Splits an `apiVersion` into group and version.
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((group, version)) => (group, version),
        // The core v1 case.
        None => ("", api_version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions() {
        assert_eq!(split_api_version("v1"), ("", "v1"));
        assert_eq!(split_api_version("apps/v1"), ("apps", "v1"));
        assert_eq!(
            split_api_version("apiextensions.crossplane.io/v1"),
            ("apiextensions.crossplane.io", "v1")
        );
    }

    #[test]
    fn dotted_kinds() {
        assert_eq!(
            GroupKind::parse_dotted("Secret"),
            GroupKind::new("", "Secret")
        );
        assert_eq!(
            GroupKind::parse_dotted("Certificate.cert-manager.io"),
            GroupKind::new("cert-manager.io", "Certificate")
        );
        assert_eq!(
            GroupKind::new("apps", "Deployment").to_string(),
            "Deployment.apps"
        );
    }
}
