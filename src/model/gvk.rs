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

/// A kind in a gitops.yaml or pack kind list: `Kind` (any API group, as kustomize's field
/// specs match it), `Kind.group`, or `{group, kind}` (`group: ""` is the core group).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindPattern {
    /// `None`: any group.
    pub group: Option<String>,
    pub kind: String,
}

impl KindPattern {
    pub fn exact(group: &str, kind: &str) -> Self {
        KindPattern {
            group: Some(group.to_string()),
            kind: kind.to_string(),
        }
    }

    pub fn any_group(kind: &str) -> Self {
        KindPattern {
            group: None,
            kind: kind.to_string(),
        }
    }

    /// `Kind` (any group) or `Kind.group`.
    pub fn parse_dotted(s: &str) -> Self {
        match s.split_once('.') {
            Some((kind, group)) => KindPattern::exact(group, kind),
            None => KindPattern::any_group(s),
        }
    }

    pub fn matches(&self, gk: &GroupKind) -> bool {
        self.kind == gk.kind && self.group.as_ref().is_none_or(|g| *g == gk.group)
    }

    /// The one kind this pattern names, when it names a group.
    pub fn group_kind(&self) -> Option<GroupKind> {
        self.group.as_ref().map(|g| GroupKind::new(g, &self.kind))
    }
}

impl fmt::Display for KindPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.group {
            None => write!(f, "{}", self.kind),
            Some(g) if g.is_empty() => write!(f, "{{group: \"\", kind: {}}}", self.kind),
            Some(g) => write!(f, "{}.{g}", self.kind),
        }
    }
}

/// Kubernetes' own API groups: the core group, the legacy unqualified ones, and every
/// `*.k8s.io` group. Nothing in the input or in gitops.yaml may change the scope of their
/// kinds (DESIGN.md §4.2).
pub fn is_kubernetes_group(group: &str) -> bool {
    matches!(
        group,
        "" | "apps" | "batch" | "autoscaling" | "policy" | "extensions"
    ) || group == "k8s.io"
        || group.ends_with(".k8s.io")
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
    fn kind_patterns() {
        let any = KindPattern::parse_dotted("CompositeResourceDefinition");
        assert!(any.matches(&GroupKind::new(
            "apiextensions.crossplane.io",
            "CompositeResourceDefinition"
        )));
        let exact = KindPattern::parse_dotted("Config.config.gatekeeper.sh");
        assert!(exact.matches(&GroupKind::new("config.gatekeeper.sh", "Config")));
        assert!(!exact.matches(&GroupKind::new("example.com", "Config")));
        assert_eq!(exact.to_string(), "Config.config.gatekeeper.sh");
        assert_eq!(
            KindPattern::exact("", "Secret").to_string(),
            "{group: \"\", kind: Secret}"
        );
        assert!(is_kubernetes_group("gateway.networking.k8s.io"));
        assert!(is_kubernetes_group(""));
        assert!(!is_kubernetes_group("secrets-store.csi.x-k8s.io"));
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
