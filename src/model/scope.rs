//! Scope (namespaced or cluster-scoped) and Crossplane role of every object (DESIGN.md §4.2).
//!
//! Keyed on API group *and* kind, never on kind alone: a `Usage` is cluster-scoped in
//! `apiextensions.crossplane.io` and namespaced in `protection.crossplane.io`. The decision
//! order, first match wins:
//! 1. the built-in table of cluster-scoped Kubernetes and Crossplane kinds below;
//! 2. what the input declares: a CRD's `spec.scope`, an XRD's names, claim names and scope;
//! 3. gitops.yaml `clusterScoped:` (an explicit statement by the user beats a guess);
//! 4. Crossplane's shapes: `spec.forProvider` marks a managed resource (cluster-scoped unless
//!    its group has a `.m.` segment), a v1 composite resource (`spec.claimRef`,
//!    `spec.resourceRefs`, or a connection secret ref with a namespace) is cluster-scoped,
//!    provider configs outside `.m.` groups are cluster-scoped;
//! 5. everything else is namespaced, as the API server's default for custom resources.
//!
//! Crossplane roles come from the XRDs in the input, then gitops.yaml `crossplane:`, then shape:
//! `spec.crossplane` marks a v2 composite resource, `spec.forProvider` a managed resource,
//! `spec.claimRef` / `spec.resourceRefs` / a namespaced connection secret ref a v1 composite
//! resource, and a connection secret ref without namespace or a composition ref or selector
//! a claim.

use std::collections::HashMap;

use super::{GroupKind, Object};
use crate::yaml::Node;

/// What Crossplane makes of an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Not a Crossplane instance (built-in kinds, definitions, other custom resources).
    Plain,
    /// A claim: namespaced, bound to a composite resource.
    Claim,
    /// A composite resource (XR), v1 (cluster-scoped) or v2 (usually namespaced).
    Composite,
    /// A managed resource (`spec.forProvider`).
    Managed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class {
    pub namespaced: bool,
    pub role: Role,
    /// A v2 composite resource, whose Crossplane machinery lives under `spec.crossplane`.
    pub v2: bool,
}

impl Class {
    /// Claims, composite and managed resources: instances of infrastructure.
    pub fn is_instance(&self) -> bool {
        self.role != Role::Plain
    }
}

/// Kubernetes and Crossplane kinds that are cluster-scoped, sorted by (group, kind).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "ComponentStatus"),
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("apiextensions.crossplane.io", "CompositeResourceDefinition"),
    ("apiextensions.crossplane.io", "Composition"),
    ("apiextensions.crossplane.io", "CompositionRevision"),
    ("apiextensions.crossplane.io", "EnvironmentConfig"),
    (
        "apiextensions.crossplane.io",
        "ManagedResourceActivationPolicy",
    ),
    ("apiextensions.crossplane.io", "ManagedResourceDefinition"),
    ("apiextensions.crossplane.io", "Usage"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("apiserverinternal.k8s.io", "StorageVersion"),
    ("argoproj.io", "ClusterWorkflowTemplate"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authentication.k8s.io", "TokenReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("cert-manager.io", "ClusterIssuer"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("cilium.io", "CiliumClusterwideNetworkPolicy"),
    ("config.gatekeeper.sh", "Config"),
    ("external-secrets.io", "ClusterExternalSecret"),
    ("external-secrets.io", "ClusterSecretStore"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("gateway.networking.k8s.io", "GatewayClass"),
    ("karpenter.k8s.aws", "EC2NodeClass"),
    ("karpenter.sh", "NodeClaim"),
    ("karpenter.sh", "NodePool"),
    ("kyverno.io", "ClusterPolicy"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("pkg.crossplane.io", "Configuration"),
    ("pkg.crossplane.io", "ConfigurationRevision"),
    ("pkg.crossplane.io", "ControllerConfig"),
    ("pkg.crossplane.io", "DeploymentRuntimeConfig"),
    ("pkg.crossplane.io", "Function"),
    ("pkg.crossplane.io", "FunctionRevision"),
    ("pkg.crossplane.io", "ImageConfig"),
    ("pkg.crossplane.io", "Lock"),
    ("pkg.crossplane.io", "Provider"),
    ("pkg.crossplane.io", "ProviderRevision"),
    ("policy", "PodSecurityPolicy"),
    ("protection.crossplane.io", "ClusterUsage"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceSlice"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("secrets-store.csi.x-k8s.io", "SecretProviderClass"),
    ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
    ("snapshot.storage.k8s.io", "VolumeSnapshotContent"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("tekton.dev", "ClusterTask"),
    ("trust.cert-manager.io", "Bundle"),
];

/// Whether a kind is in the built-in cluster-scoped table.
pub fn builtin_cluster_scoped(gk: &GroupKind) -> bool {
    CLUSTER_SCOPED
        .binary_search_by(|(g, k)| (*g, *k).cmp(&(gk.group.as_str(), gk.kind.as_str())))
        .is_ok()
}

/// What the input (CRDs, XRDs) and gitops.yaml say about kinds.
#[derive(Clone, Copy, Debug, Default)]
struct Declared {
    namespaced: Option<bool>,
    role: Option<Role>,
    v2: bool,
}

/// What gitops.yaml says about kinds (`clusterScoped:` and `crossplane:`).
#[derive(Clone, Debug, Default)]
pub struct Declarations {
    pub cluster_scoped: Vec<GroupKind>,
    pub claims: Vec<GroupKind>,
    pub composites: Vec<GroupKind>,
    pub managed: Vec<GroupKind>,
}

/// Scope knowledge for one render.
#[derive(Debug, Default)]
pub struct Scopes {
    declared: HashMap<GroupKind, Declared>,
    config_cluster: Vec<GroupKind>,
    config_roles: HashMap<GroupKind, Role>,
}

impl Scopes {
    /// Learns from the CRDs and XRDs among `objects`, plus gitops.yaml's declarations.
    pub fn learn(objects: &[Object], decl: &Declarations) -> Scopes {
        let mut s = Scopes {
            config_cluster: decl.cluster_scoped.clone(),
            ..Scopes::default()
        };
        for (list, role) in [
            (&decl.claims, Role::Claim),
            (&decl.composites, Role::Composite),
            (&decl.managed, Role::Managed),
        ] {
            for gk in list {
                s.config_roles.insert(gk.clone(), role);
            }
        }
        for o in objects {
            if o.gk.is("apiextensions.k8s.io", "CustomResourceDefinition") {
                s.learn_crd(&o.node);
            } else if o
                .gk
                .is("apiextensions.crossplane.io", "CompositeResourceDefinition")
            {
                s.learn_xrd(o);
            }
        }
        s
    }

    fn learn_crd(&mut self, node: &Node) {
        let (Some(group), Some(kind)) = (
            node.path(&["spec", "group"]).and_then(Node::as_str),
            node.path(&["spec", "names", "kind"]).and_then(Node::as_str),
        ) else {
            return;
        };
        let namespaced = node.path(&["spec", "scope"]).and_then(Node::as_str) != Some("Cluster");
        let d = self
            .declared
            .entry(GroupKind::new(group, kind))
            .or_default();
        // An XRD's statement about its own kinds is more specific than a generated CRD's.
        d.namespaced.get_or_insert(namespaced);
    }

    fn learn_xrd(&mut self, o: &Object) {
        let node = &o.node;
        let Some(group) = node.path(&["spec", "group"]).and_then(Node::as_str) else {
            return;
        };
        let v2 = o.api_version.ends_with("/v2");
        let scope = node.path(&["spec", "scope"]).and_then(Node::as_str);
        // apiextensions.crossplane.io/v1 XRDs define cluster-scoped (legacy) composite
        // resources; v2 XRDs default to namespaced ones.
        let xr_namespaced = v2 && !matches!(scope, Some("Cluster" | "LegacyCluster"));
        if let Some(kind) = node.path(&["spec", "names", "kind"]).and_then(Node::as_str) {
            self.declared.insert(
                GroupKind::new(group, kind),
                Declared {
                    namespaced: Some(xr_namespaced),
                    role: Some(Role::Composite),
                    v2: v2 && scope != Some("LegacyCluster"),
                },
            );
        }
        if let Some(kind) = node
            .path(&["spec", "claimNames", "kind"])
            .and_then(Node::as_str)
        {
            self.declared.insert(
                GroupKind::new(group, kind),
                Declared {
                    namespaced: Some(true),
                    role: Some(Role::Claim),
                    v2: false,
                },
            );
        }
    }

    /// Whether objects of a kind are namespaced, judged without an object to look at (for
    /// the targets of references): built-in table, declarations, gitops.yaml, else namespaced.
    pub fn is_namespaced_kind(&self, gk: &GroupKind) -> bool {
        if builtin_cluster_scoped(gk) || self.config_cluster.contains(gk) {
            return false;
        }
        match self.declared.get(gk).and_then(|d| d.namespaced) {
            Some(n) => n,
            None => !is_cluster_provider_config(gk),
        }
    }

    /// Classifies one object.
    pub fn classify(&self, o: &Object) -> Class {
        if builtin_cluster_scoped(&o.gk) {
            return Class {
                namespaced: false,
                role: Role::Plain,
                v2: false,
            };
        }
        let declared = self.declared.get(&o.gk).copied().unwrap_or_default();
        let (shape_role, shape_v2) = role_from_shape(&o.node);
        // An XRD in the input decides; then gitops.yaml `crossplane:`; then the shape.
        let role = declared
            .role
            .or_else(|| self.config_roles.get(&o.gk).copied())
            .unwrap_or(shape_role);
        let v2 = if declared.role.is_some() {
            declared.v2
        } else {
            shape_v2
        };
        let namespaced = if let Some(n) = declared.namespaced {
            n
        } else if self.config_cluster.contains(&o.gk) {
            false
        } else {
            match role {
                Role::Managed => has_m_segment(&o.gk.group),
                Role::Composite => v2,
                Role::Claim => true,
                Role::Plain => !is_cluster_provider_config(&o.gk),
            }
        };
        Class {
            namespaced,
            role,
            v2,
        }
    }
}

/// Crossplane v2 namespaced managed resources live in groups with a `.m.` segment
/// (`s3.aws.m.upbound.io`).
fn has_m_segment(group: &str) -> bool {
    group.split('.').any(|label| label == "m")
}

/// Provider configs are cluster-scoped, except in v2 `.m.` groups where `ProviderConfig` is
/// namespaced and `ClusterProviderConfig` is the cluster-scoped one.
fn is_cluster_provider_config(gk: &GroupKind) -> bool {
    match gk.kind.as_str() {
        "ClusterProviderConfig" => true,
        "ProviderConfig" | "ProviderConfigUsage" => {
            !has_m_segment(&gk.group) && !gk.group.is_empty()
        }
        _ => false,
    }
}

/// The role an object's shape suggests, and whether it is a v2 composite resource.
fn role_from_shape(node: &Node) -> (Role, bool) {
    let Some(spec) = node.get("spec") else {
        return (Role::Plain, false);
    };
    if spec.get("crossplane").is_some_and(|c| c.as_map().is_some()) {
        return (Role::Composite, true);
    }
    if spec.get("forProvider").is_some() {
        return (Role::Managed, false);
    }
    let secret_ref = spec.get("writeConnectionSecretToRef");
    if spec.get("claimRef").is_some()
        || spec.get("resourceRefs").is_some()
        || secret_ref.is_some_and(|r| r.get("namespace").is_some())
    {
        return (Role::Composite, false);
    }
    if secret_ref.is_some()
        || spec.get("compositionRef").is_some()
        || spec.get("compositionSelector").is_some()
        || spec.get("compositionRevisionRef").is_some()
    {
        return (Role::Claim, false);
    }
    (Role::Plain, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::{Limits, parse_stream};
    use std::sync::Arc;

    fn objects(src: &str) -> Vec<Object> {
        let file: Arc<str> = Arc::from("t.yaml");
        parse_stream(src, &Limits::default())
            .map(|s| s.docs)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|d| Object::from_node(d.root, &file).ok())
            .collect()
    }

    #[test]
    fn table_is_sorted() {
        let mut sorted = CLUSTER_SCOPED.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, CLUSTER_SCOPED);
    }

    /// (documents, index of the object to classify, namespaced, role)
    const CASES: &[(&str, usize, bool, Role)] = &[
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            0,
            true,
            Role::Plain,
        ),
        (
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n",
            0,
            false,
            Role::Plain,
        ),
        (
            "apiVersion: example.com/v1\nkind: Namespace\nmetadata: {name: a}\n",
            0,
            true,
            Role::Plain,
        ),
        (
            "apiVersion: apiextensions.crossplane.io/v1\nkind: Composition\nmetadata: {name: a}\n",
            0,
            false,
            Role::Plain,
        ),
        (
            "apiVersion: protection.crossplane.io/v1beta1\nkind: Usage\nmetadata: {name: a}\n",
            0,
            true,
            Role::Plain,
        ),
        (
            "apiVersion: db.example.org/v1\nkind: PostgreSQLInstance\nspec:\n  writeConnectionSecretToRef: {name: db}\n",
            0,
            true,
            Role::Claim,
        ),
        (
            "apiVersion: db.example.org/v1\nkind: XPostgreSQLInstance\nspec:\n  writeConnectionSecretToRef: {name: db, namespace: x}\n",
            0,
            false,
            Role::Composite,
        ),
        (
            "apiVersion: db.example.org/v1\nkind: XApp\nspec:\n  crossplane: {compositionRef: {name: c}}\n",
            0,
            true,
            Role::Composite,
        ),
        (
            "apiVersion: s3.aws.upbound.io/v1beta1\nkind: Bucket\nspec:\n  forProvider: {region: x}\n",
            0,
            false,
            Role::Managed,
        ),
        (
            "apiVersion: s3.aws.m.upbound.io/v1beta1\nkind: Bucket\nspec:\n  forProvider: {region: x}\n",
            0,
            true,
            Role::Managed,
        ),
        (
            "apiVersion: aws.upbound.io/v1beta1\nkind: ProviderConfig\nspec: {}\n",
            0,
            false,
            Role::Plain,
        ),
        (
            "apiVersion: aws.m.upbound.io/v1beta1\nkind: ProviderConfig\nspec: {}\n",
            0,
            true,
            Role::Plain,
        ),
        (
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec:\n  group: ex.com\n  scope: Cluster\n  names: {kind: Thing}\n---\napiVersion: ex.com/v1\nkind: Thing\n",
            1,
            false,
            Role::Plain,
        ),
        (
            "apiVersion: apiextensions.crossplane.io/v2\nkind: CompositeResourceDefinition\nspec:\n  group: ex.com\n  names: {kind: App}\n---\napiVersion: ex.com/v1\nkind: App\nspec: {}\n",
            1,
            true,
            Role::Composite,
        ),
        (
            "apiVersion: apiextensions.crossplane.io/v2\nkind: CompositeResourceDefinition\nspec:\n  group: ex.com\n  scope: Cluster\n  names: {kind: App}\n---\napiVersion: ex.com/v1\nkind: App\nspec: {}\n",
            1,
            false,
            Role::Composite,
        ),
        (
            "apiVersion: apiextensions.crossplane.io/v1\nkind: CompositeResourceDefinition\nspec:\n  group: ex.com\n  names: {kind: XDb}\n  claimNames: {kind: Db}\n---\napiVersion: ex.com/v1\nkind: XDb\nspec: {}\n---\napiVersion: ex.com/v1\nkind: Db\nspec: {}\n",
            2,
            true,
            Role::Claim,
        ),
        (
            "apiVersion: apiextensions.crossplane.io/v1\nkind: CompositeResourceDefinition\nspec:\n  group: ex.com\n  names: {kind: XDb}\n  claimNames: {kind: Db}\n---\napiVersion: ex.com/v1\nkind: XDb\nspec: {}\n",
            1,
            false,
            Role::Composite,
        ),
    ];

    #[test]
    fn classifies() {
        for (src, i, namespaced, role) in CASES {
            let objs = objects(src);
            let scopes = Scopes::learn(&objs, &Declarations::default());
            let c = scopes.classify(&objs[*i]);
            assert_eq!((c.namespaced, c.role), (*namespaced, *role), "{src}");
        }
    }

    #[test]
    fn config_declares_cluster_scope() {
        let objs = objects("apiVersion: ex.com/v1\nkind: Thing\n");
        let decl = Declarations {
            cluster_scoped: vec![GroupKind::new("ex.com", "Thing")],
            ..Declarations::default()
        };
        let scopes = Scopes::learn(&objs, &decl);
        assert!(!scopes.classify(&objs[0]).namespaced);
    }
}
