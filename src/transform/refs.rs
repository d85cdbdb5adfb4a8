//! Step 5 (DESIGN.md §4.5): every field that refers to an object by name follows the
//! [`RenameMap`], and references that carry a namespace follow the target namespace.
//!
//! *Where* references are is data: [`TABLE`], one row per field, covering at least
//! kustomize's whole name-reference table, plus Gateway API routes, policy attachment
//! `targetRef(s)`, Crossplane connection secrets and composition refs, cert-manager and
//! External Secrets, and gitops.yaml `references:`. Two shapes exist:
//! - a scalar holding a name ([`Target::Name`]), e.g. `secretKeyRef.name`;
//! - a typed mapping ([`Target::Typed`]) holding `name` and, optionally, kind, group (or
//!   `apiGroup`, or `apiVersion`) and namespace, e.g. RoleBinding subjects, Gateway API
//!   `backendRefs`, HPA `scaleTargetRef`. A typed reference matches an input object only when
//!   its kind and group match and its namespace (if any) is the object's; when it matches and
//!   the object is namespaced, its namespace follows the target namespace.
//!
//! A reference to something not in the input is left alone; in a preview it is a warning,
//! since that object will not exist in the preview namespace. Strings inside values (env
//! values, ConfigMap data) are never rewritten. Role `rules[].resourceNames` are special: the
//! kind comes from the rule's `resources` ([`rewrite_resource_names`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::diag::Warning;
use crate::model::scope::{Role, Scopes};
use crate::model::{GroupKind, Loc, Object, fieldspec, gvk};
use crate::transform::names::RenameMap;
use crate::transform::policy::Placement;
use crate::transform::{Ctx, Plan};
use crate::yaml::Node;

/// What a reference field holds.
#[derive(Clone, Debug)]
pub enum Target {
    /// A scalar naming an object of this kind.
    Name(GroupKind),
    Typed(Typed),
    /// A mapping with `apiVersion` and `kind` whose name sits below it, at this path
    /// (Crossplane `Usage`: `spec.of: {apiVersion, kind, resourceRef: {name}}`).
    Nested(&'static [&'static str]),
}

/// A mapping reference: `{name, kind?, group?|apiGroup?|apiVersion?, namespace?}`.
#[derive(Clone, Debug)]
pub struct Typed {
    /// Kind when the mapping has no kind key (or has none at all).
    pub default_kind: Option<&'static str>,
    /// Group when the mapping has no group key. `None`: match the kind in any group.
    pub default_group: Option<&'static str>,
    /// Key holding the kind (`kind`), if the mapping has one.
    pub kind_key: Option<&'static str>,
    /// Keys that may hold the group: `group`, `apiGroup`, or `apiVersion` (group/version).
    pub group_keys: &'static [&'static str],
    /// Key holding the namespace, if the reference can carry one.
    pub ns_key: Option<&'static str>,
    /// Write the namespace even when the reference has none (RoleBinding subjects and
    /// webhook services require it).
    pub ns_required: bool,
    /// Only these kinds are references to objects (RoleBinding subjects may also name Users
    /// and Groups); empty: any kind.
    pub kinds: &'static [&'static str],
}

impl Typed {
    /// A mapping reference whose kind sits under `kind` (else `default_kind`) and whose group
    /// under one of `group_keys` (else `default_group`); no namespace, any kind.
    const fn new(
        default_kind: Option<&'static str>,
        default_group: Option<&'static str>,
        group_keys: &'static [&'static str],
    ) -> Typed {
        Typed {
            default_kind,
            default_group,
            kind_key: Some("kind"),
            group_keys,
            ns_key: None,
            ns_required: false,
            kinds: &[],
        }
    }

    /// The reference carries its target's namespace under `namespace`.
    const fn namespaced(mut self) -> Typed {
        self.ns_key = Some("namespace");
        self
    }

    /// ... and the namespace must be written even when the reference has none.
    const fn namespace_required(mut self) -> Typed {
        self.ns_key = Some("namespace");
        self.ns_required = true;
        self
    }

    /// Only these kinds are references to objects.
    const fn only(mut self, kinds: &'static [&'static str]) -> Typed {
        self.kinds = kinds;
        self
    }
}

/// One reference field: which objects hold it, where, and what it refers to.
#[derive(Clone, Debug)]
pub struct RefField {
    /// Referrer group; `None` matches any group.
    pub group: Option<String>,
    /// Referrer kind; `None` matches any kind.
    pub kind: Option<String>,
    pub path: Vec<String>,
    pub target: Target,
}

fn gk(group: &str, kind: &str) -> GroupKind {
    GroupKind::new(group, kind)
}

const NO_GROUP: &[&str] = &[];
const GROUP: &[&str] = &["group"];
const API_GROUP: &[&str] = &["apiGroup"];
const API_VERSION: &[&str] = &["apiVersion"];
const ANY_GROUP_KEY: &[&str] = &["group", "apiGroup", "apiVersion"];

/// The built-in reference table.
pub static TABLE: LazyLock<Vec<RefField>> = LazyLock::new(build_table);

fn build_table() -> Vec<RefField> {
    let mut t = Vec::new();
    let mut add = |group: Option<&str>, kinds: &[&str], path: &[&str], target: Target| {
        for k in kinds {
            t.push(RefField {
                group: group.map(str::to_string),
                kind: Some((*k).to_string()),
                path: path.iter().map(|s| (*s).to_string()).collect(),
                target: target.clone(),
            });
        }
        if kinds.is_empty() {
            t.push(RefField {
                group: group.map(str::to_string),
                kind: None,
                path: path.iter().map(|s| (*s).to_string()).collect(),
                target,
            });
        }
    };
    let name = |g: &str, k: &str| Target::Name(gk(g, k));

    // Pod specs, wherever a workload keeps one.
    let pod_roots: &[(&str, &[&str], &[&str])] = &[
        ("", &["Pod"], &["spec"]),
        ("", &["PodTemplate"], &["template", "spec"]),
        (
            "",
            &["ReplicationController"],
            &["spec", "template", "spec"],
        ),
        (
            "apps",
            &["Deployment", "ReplicaSet", "DaemonSet", "StatefulSet"],
            &["spec", "template", "spec"],
        ),
        ("batch", &["Job"], &["spec", "template", "spec"]),
        (
            "batch",
            &["CronJob"],
            &["spec", "jobTemplate", "spec", "template", "spec"],
        ),
        ("argoproj.io", &["Rollout"], &["spec", "template", "spec"]),
    ];
    let containers = ["containers", "initContainers", "ephemeralContainers"];
    for (group, kinds, root) in pod_roots {
        let mut pod = |sub: &[&str], target: Target| {
            let path: Vec<&str> = root.iter().chain(sub).copied().collect();
            add(Some(group), kinds, &path, target);
        };
        pod(&["volumes", "configMap", "name"], name("", "ConfigMap"));
        pod(
            &["volumes", "projected", "sources", "configMap", "name"],
            name("", "ConfigMap"),
        );
        pod(&["volumes", "secret", "secretName"], name("", "Secret"));
        pod(
            &["volumes", "projected", "sources", "secret", "name"],
            name("", "Secret"),
        );
        pod(
            &["volumes", "persistentVolumeClaim", "claimName"],
            name("", "PersistentVolumeClaim"),
        );
        pod(
            &["volumes", "csi", "nodePublishSecretRef", "name"],
            name("", "Secret"),
        );
        pod(&["volumes", "azureFile", "secretName"], name("", "Secret"));
        for v in [
            "cephfs",
            "cinder",
            "flexVolume",
            "iscsi",
            "rbd",
            "scaleIO",
            "storageos",
        ] {
            pod(&["volumes", v, "secretRef", "name"], name("", "Secret"));
        }
        for c in containers {
            pod(
                &[c, "env", "valueFrom", "configMapKeyRef", "name"],
                name("", "ConfigMap"),
            );
            pod(
                &[c, "env", "valueFrom", "secretKeyRef", "name"],
                name("", "Secret"),
            );
            pod(
                &[c, "envFrom", "configMapRef", "name"],
                name("", "ConfigMap"),
            );
            pod(&[c, "envFrom", "secretRef", "name"], name("", "Secret"));
        }
        pod(&["imagePullSecrets", "name"], name("", "Secret"));
        pod(&["serviceAccountName"], name("", "ServiceAccount"));
        pod(&["serviceAccount"], name("", "ServiceAccount"));
        pod(&["subdomain"], name("", "Service"));
        pod(
            &["priorityClassName"],
            name("scheduling.k8s.io", "PriorityClass"),
        );
        pod(&["runtimeClassName"], name("node.k8s.io", "RuntimeClass"));
        pod(
            &["resourceClaims", "resourceClaimName"],
            name("resource.k8s.io", "ResourceClaim"),
        );
        pod(
            &["resourceClaims", "resourceClaimTemplateName"],
            name("resource.k8s.io", "ResourceClaimTemplate"),
        );
    }

    // Workloads and storage.
    add(
        Some("apps"),
        &["StatefulSet"],
        &["spec", "serviceName"],
        name("", "Service"),
    );
    add(
        Some("apps"),
        &["StatefulSet"],
        &["spec", "volumeClaimTemplates", "spec", "storageClassName"],
        name("storage.k8s.io", "StorageClass"),
    );
    add(
        Some(""),
        &["PersistentVolumeClaim"],
        &["spec", "volumeName"],
        name("", "PersistentVolume"),
    );
    add(
        Some(""),
        &["PersistentVolumeClaim", "PersistentVolume"],
        &["spec", "storageClassName"],
        name("storage.k8s.io", "StorageClass"),
    );
    add(
        Some(""),
        &["PersistentVolumeClaim"],
        &["spec", "volumeAttributesClassName"],
        name("storage.k8s.io", "VolumeAttributesClass"),
    );
    let data_source = Target::Typed(Typed::new(None, Some(""), API_GROUP).namespaced());
    add(
        Some(""),
        &["PersistentVolumeClaim"],
        &["spec", "dataSource"],
        data_source.clone(),
    );
    add(
        Some(""),
        &["PersistentVolumeClaim"],
        &["spec", "dataSourceRef"],
        data_source,
    );
    add(
        Some(""),
        &["PersistentVolume"],
        &["spec", "claimRef"],
        Target::Typed(
            Typed::new(Some("PersistentVolumeClaim"), Some(""), API_VERSION).namespaced(),
        ),
    );
    add(
        Some(""),
        &["PersistentVolume"],
        &["spec", "azureFile", "secretName"],
        name("", "Secret"),
    );
    add(
        Some("snapshot.storage.k8s.io"),
        &["VolumeSnapshot"],
        &["spec", "source", "persistentVolumeClaimName"],
        name("", "PersistentVolumeClaim"),
    );
    add(
        Some("snapshot.storage.k8s.io"),
        &["VolumeSnapshot"],
        &["spec", "volumeSnapshotClassName"],
        name("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
    );

    // Scaling: HPA, VPA, KEDA.
    let scale_target = Target::Typed(Typed::new(None, Some(""), API_VERSION));
    add(
        Some("autoscaling"),
        &["HorizontalPodAutoscaler"],
        &["spec", "scaleTargetRef"],
        scale_target,
    );
    add(
        Some("keda.sh"),
        &["ScaledObject"],
        &["spec", "scaleTargetRef"],
        Target::Typed(Typed::new(Some("Deployment"), Some("apps"), API_VERSION)),
    );

    // Networking: Service backends, TLS secrets, classes.
    for group in ["networking.k8s.io", "extensions"] {
        let g = Some(group);
        add(
            g,
            &["Ingress"],
            &[
                "spec", "rules", "http", "paths", "backend", "service", "name",
            ],
            name("", "Service"),
        );
        add(
            g,
            &["Ingress"],
            &["spec", "defaultBackend", "service", "name"],
            name("", "Service"),
        );
        add(
            g,
            &["Ingress"],
            &["spec", "rules", "http", "paths", "backend", "serviceName"],
            name("", "Service"),
        );
        add(
            g,
            &["Ingress"],
            &["spec", "backend", "serviceName"],
            name("", "Service"),
        );
        add(
            g,
            &["Ingress"],
            &["spec", "tls", "secretName"],
            name("", "Secret"),
        );
        add(
            g,
            &["Ingress"],
            &["spec", "ingressClassName"],
            name("networking.k8s.io", "IngressClass"),
        );
        let resource = Target::Typed(Typed::new(None, Some(""), API_GROUP));
        add(
            g,
            &["Ingress"],
            &["spec", "defaultBackend", "resource"],
            resource.clone(),
        );
        add(
            g,
            &["Ingress"],
            &["spec", "rules", "http", "paths", "backend", "resource"],
            resource,
        );
        for a in [
            "nginx.ingress.kubernetes.io/auth-secret",
            "nginx.ingress.kubernetes.io/auth-tls-secret",
            "nginx.ingress.kubernetes.io/proxy-ssl-secret",
            "ingress.kubernetes.io/auth-secret",
        ] {
            add(
                g,
                &["Ingress"],
                &["metadata", "annotations", a],
                name("", "Secret"),
            );
        }
        add(
            g,
            &["Ingress"],
            &[
                "metadata",
                "annotations",
                "nginx.ingress.kubernetes.io/fastcgi-params-configmap",
            ],
            name("", "ConfigMap"),
        );
    }

    // RBAC.
    add(
        Some("rbac.authorization.k8s.io"),
        &["RoleBinding", "ClusterRoleBinding"],
        &["roleRef"],
        Target::Typed(
            Typed::new(None, Some("rbac.authorization.k8s.io"), API_GROUP)
                .only(&["Role", "ClusterRole"]),
        ),
    );
    add(
        Some("rbac.authorization.k8s.io"),
        &["RoleBinding", "ClusterRoleBinding"],
        &["subjects"],
        Target::Typed(
            Typed::new(None, Some(""), API_GROUP)
                .namespace_required()
                .only(&["ServiceAccount"]),
        ),
    );
    add(
        Some(""),
        &["ServiceAccount"],
        &["imagePullSecrets", "name"],
        name("", "Secret"),
    );
    add(
        Some(""),
        &["ServiceAccount"],
        &["secrets", "name"],
        name("", "Secret"),
    );

    // Services behind API machinery.
    // A `{name, namespace}` mapping that is always a Service (it has no kind key).
    let service = Target::Typed(Typed {
        kind_key: None,
        ..Typed::new(Some("Service"), Some(""), NO_GROUP).namespace_required()
    });
    add(
        Some("admissionregistration.k8s.io"),
        &[
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ],
        &["webhooks", "clientConfig", "service"],
        service.clone(),
    );
    add(
        Some("apiregistration.k8s.io"),
        &["APIService"],
        &["spec", "service"],
        service.clone(),
    );
    add(
        Some("apiextensions.k8s.io"),
        &["CustomResourceDefinition"],
        &["spec", "conversion", "webhook", "clientConfig", "service"],
        service.clone(),
    );
    add(
        Some("apiextensions.k8s.io"),
        &["CustomResourceDefinition"],
        &["spec", "conversion", "webhookClientConfig", "service"],
        service,
    );
    add(
        Some("admissionregistration.k8s.io"),
        &["ValidatingAdmissionPolicyBinding"],
        &["spec", "policyName"],
        name("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    );
    add(
        Some("admissionregistration.k8s.io"),
        &["MutatingAdmissionPolicyBinding"],
        &["spec", "policyName"],
        name("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    );

    // Gateway API.
    let gw = Some("gateway.networking.k8s.io");
    let routes = ["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"];
    let parent = Target::Typed(
        Typed::new(Some("Gateway"), Some("gateway.networking.k8s.io"), GROUP).namespaced(),
    );
    let backend = |default_kind: &'static str| {
        Target::Typed(Typed::new(Some(default_kind), Some(""), GROUP).namespaced())
    };
    add(gw, &routes, &["spec", "parentRefs"], parent);
    add(
        gw,
        &routes,
        &["spec", "rules", "backendRefs"],
        backend("Service"),
    );
    add(
        gw,
        &routes,
        &["spec", "rules", "filters", "requestMirror", "backendRef"],
        backend("Service"),
    );
    add(
        gw,
        &routes,
        &[
            "spec",
            "rules",
            "backendRefs",
            "filters",
            "requestMirror",
            "backendRef",
        ],
        backend("Service"),
    );
    let extension = Target::Typed(Typed::new(None, Some(""), GROUP));
    add(
        gw,
        &routes,
        &["spec", "rules", "filters", "extensionRef"],
        extension.clone(),
    );
    add(
        gw,
        &["Gateway"],
        &["spec", "gatewayClassName"],
        name("gateway.networking.k8s.io", "GatewayClass"),
    );
    add(
        gw,
        &["Gateway"],
        &["spec", "listeners", "tls", "certificateRefs"],
        backend("Secret"),
    );
    add(
        gw,
        &["Gateway"],
        &["spec", "infrastructure", "parametersRef"],
        extension.clone(),
    );
    add(
        gw,
        &["BackendTLSPolicy"],
        &["spec", "validation", "caCertificateRefs"],
        backend("ConfigMap"),
    );
    // Policy attachment (Gateway API, Envoy Gateway, Istio, Kuadrant, ...) and the
    // VerticalPodAutoscaler: `targetRef(s)` with kind, name and a group (or apiVersion), on
    // any kind.
    let target_ref = Target::Typed(Typed::new(None, Some(""), ANY_GROUP_KEY).namespaced());
    add(None, &[], &["spec", "targetRef"], target_ref.clone());
    add(None, &[], &["spec", "targetRefs"], target_ref);

    // Crossplane: connection secrets (claims and v1 XRs), composition refs, provider configs.
    add(
        None,
        &[],
        &["spec", "writeConnectionSecretToRef", "name"],
        name("", "Secret"),
    );
    add(
        None,
        &[],
        &["spec", "compositionRef", "name"],
        name("apiextensions.crossplane.io", "Composition"),
    );
    add(
        None,
        &[],
        &["spec", "crossplane", "compositionRef", "name"],
        name("apiextensions.crossplane.io", "Composition"),
    );
    add(
        None,
        &[],
        &["spec", "compositionRevisionRef", "name"],
        name("apiextensions.crossplane.io", "CompositionRevision"),
    );
    add(
        None,
        &[],
        &["spec", "crossplane", "compositionRevisionRef", "name"],
        name("apiextensions.crossplane.io", "CompositionRevision"),
    );
    let object_ref = Typed::new(None, Some(""), API_VERSION);
    // A claim bound to a composite resource, a v1 composite resource's claim and composed
    // resources (rarely in git, but then they must follow renames).
    add(
        None,
        &[],
        &["spec", "resourceRef"],
        Target::Typed(object_ref.clone()),
    );
    add(
        None,
        &[],
        &["spec", "claimRef"],
        Target::Typed(object_ref.clone().namespaced()),
    );
    add(
        None,
        &[],
        &["spec", "resourceRefs"],
        Target::Typed(object_ref.clone()),
    );
    add(
        None,
        &[],
        &["spec", "crossplane", "resourceRefs"],
        Target::Typed(object_ref.clone()),
    );
    // Usages protect one object from deletion while another uses it.
    for group in ["apiextensions.crossplane.io", "protection.crossplane.io"] {
        for side in ["of", "by"] {
            add(
                Some(group),
                &["Usage", "ClusterUsage"],
                &["spec", side],
                Target::Nested(&["resourceRef", "name"]),
            );
        }
    }
    add(
        None,
        &[],
        &["spec", "providerConfigRef"],
        Target::Typed(Typed::new(Some("ProviderConfig"), None, NO_GROUP)),
    );

    // cert-manager and External Secrets.
    add(
        Some("cert-manager.io"),
        &["Certificate"],
        &["spec", "secretName"],
        name("", "Secret"),
    );
    add(
        Some("cert-manager.io"),
        &["Certificate"],
        &["spec", "issuerRef"],
        Target::Typed(Typed::new(Some("Issuer"), Some("cert-manager.io"), GROUP)),
    );
    add(
        Some("external-secrets.io"),
        &["ExternalSecret"],
        &["spec", "target", "name"],
        name("", "Secret"),
    );
    add(
        Some("external-secrets.io"),
        &["ExternalSecret"],
        &["spec", "secretStoreRef"],
        Target::Typed(Typed::new(
            Some("SecretStore"),
            Some("external-secrets.io"),
            NO_GROUP,
        )),
    );

    t
}

/// Index of what exists in this render: objects and produced names, by group, kind and
/// original name, with their original namespace and whether they are namespaced. Built once
/// per render; every lookup is a hash lookup.
#[derive(Default)]
struct Known {
    by_name: HashMap<GroupKind, HashMap<String, Vec<Candidate>>>,
    /// For references that may designate a kind in any group (`providerConfigRef`).
    by_kind: HashMap<String, HashMap<String, Vec<Candidate>>>,
}

#[derive(Clone, Debug)]
struct Candidate {
    gk: GroupKind,
    namespace: Option<String>,
    namespaced: bool,
}

impl Known {
    fn build(objects: &[Object], plan: &Plan, renames: &RenameMap) -> Self {
        let mut k = Known::default();
        for (i, o) in objects.iter().enumerate() {
            if let Some(name) = &o.name {
                k.add(
                    Candidate {
                        gk: o.gk.clone(),
                        namespace: o.namespace.clone(),
                        namespaced: plan.placements[i] == Placement::Namespaced,
                    },
                    name,
                );
            }
        }
        for p in &renames.produced {
            k.add(
                Candidate {
                    gk: p.gk.clone(),
                    namespace: p
                        .namespace
                        .clone()
                        .or_else(|| objects[p.producer].namespace.clone()),
                    namespaced: true,
                },
                &p.name,
            );
        }
        k
    }

    fn add(&mut self, c: Candidate, name: &str) {
        self.by_kind
            .entry(c.gk.kind.clone())
            .or_default()
            .entry(name.to_string())
            .or_default()
            .push(c.clone());
        self.by_name
            .entry(c.gk.clone())
            .or_default()
            .entry(name.to_string())
            .or_default()
            .push(c);
    }

    fn contains(&self, gk: &GroupKind, name: &str) -> bool {
        self.by_name.get(gk).is_some_and(|m| m.contains_key(name))
    }
}

/// gitops.yaml `references:` as table rows: (references, produced-name fields). The
/// produced-name fields are references too: the producer's own field follows the rename of
/// what it produces.
pub fn config_fields(config: &crate::config::GitopsConfig) -> (Vec<RefField>, Vec<RefField>) {
    let row = |r: &crate::config::gitops_yaml::RefSpec| RefField {
        group: r.group.clone(),
        kind: Some(r.kind.clone()),
        path: r.path.clone(),
        target: Target::Name(r.target.clone()),
    };
    (
        config
            .references
            .iter()
            .filter(|r| !r.produces)
            .map(row)
            .collect(),
        config
            .references
            .iter()
            .filter(|r| r.produces)
            .map(row)
            .collect(),
    )
}

/// A reference found in an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundRef {
    pub target: GroupKind,
    pub name: String,
    /// The namespace the reference names, when it names one.
    pub namespace: Option<String>,
    pub loc: Loc,
    /// The field, as a dotted path (`spec.template.spec.volumes.secret.secretName`).
    pub field: String,
}

/// Every reference in `o` that names its target's kind (read-only; for `check`). `extra` are
/// gitops.yaml's reference rows ([`config_fields`]).
pub fn collect(o: &Object, extra: &[RefField]) -> Vec<FoundRef> {
    let mut out = Vec::new();
    for f in TABLE.iter().chain(extra) {
        if f.kind.as_ref().is_some_and(|k| *k != o.gk.kind)
            || f.group.as_ref().is_some_and(|g| *g != o.gk.group)
        {
            continue;
        }
        let path: Vec<&str> = f.path.iter().map(String::as_str).collect();
        let field = f.path.join(".");
        fieldspec::visit(&o.node, &path, &mut |n| {
            let found = match &f.target {
                Target::Name(gk) => n.as_str().map(|v| (gk.clone(), v.to_string(), None)),
                Target::Typed(t) => typed_parts(t, n).and_then(|(gk, name, ns)| {
                    gk.map(|gk| (gk, name.to_string(), ns.map(str::to_string)))
                }),
                Target::Nested(name_path) => (|| {
                    let api = n.get("apiVersion").and_then(Node::as_str)?;
                    let kind = n.get("kind").and_then(Node::as_str)?;
                    let name = n.path(name_path).and_then(Node::as_str)?;
                    Some((
                        GroupKind::new(gvk::split_api_version(api).0, kind),
                        name.to_string(),
                        None,
                    ))
                })(),
            };
            if let Some((target, name, namespace)) = found.filter(|f| !f.1.is_empty()) {
                out.push(FoundRef {
                    target,
                    name,
                    namespace,
                    loc: Loc::new(&o.file, n.pos),
                    field: field.clone(),
                });
            }
        });
    }
    out
}

/// Applies the table, gitops.yaml `references:` and the Role special case to every object.
pub fn apply(
    objects: &mut [Object],
    plan: &Plan,
    renames: &RenameMap,
    scopes: &Scopes,
    ctx: &Ctx,
    warnings: &mut Vec<Warning>,
) {
    let (extra, produced_fields) = config_fields(&ctx.config);
    let known = Known::build(objects, plan, renames);
    let r = Rewriter {
        renames,
        known: &known,
        scopes,
        target_ns: ctx.identity.namespace.as_deref(),
        preview: ctx.identity.is_preview(),
    };
    // Fields with their paths, indexed by the referrer's kind once per render.
    let fields: Vec<(&RefField, Vec<&str>)> = TABLE
        .iter()
        .chain(&extra)
        .chain(&produced_fields)
        .map(|f| (f, f.path.iter().map(String::as_str).collect()))
        .collect();
    let mut by_kind: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut any_kind = Vec::new();
    for (i, (f, _)) in fields.iter().enumerate() {
        match &f.kind {
            Some(k) => by_kind.entry(k.as_str()).or_default().push(i),
            None => any_kind.push(i),
        }
    }
    for o in objects.iter_mut() {
        let specific = by_kind
            .get(o.gk.kind.as_str())
            .map_or(&[][..], Vec::as_slice);
        for &i in specific.iter().chain(&any_kind) {
            let (f, path) = &fields[i];
            if f.group.as_ref().is_some_and(|g| *g != o.gk.group) {
                continue;
            }
            r.rewrite(o, path, &f.target, warnings);
        }
        if o.gk.group == "rbac.authorization.k8s.io"
            && matches!(o.gk.kind.as_str(), "Role" | "ClusterRole")
        {
            rewrite_resource_names(o, renames);
        }
    }
    rewrite_managed_refs(objects, plan, renames);
}

/// Crossplane managed resources refer to each other by name from `spec.forProvider` and
/// `spec.initProvider`: `vpcIdRef: {name: main}`, `subnetIdRefs: [{name: a}]`. The field does
/// not say which kind it means, so the name is rewritten when exactly one new name exists for
/// it among the renamed managed resources of the input (two kinds with the same name and
/// different new names would be ambiguous, and are left alone).
fn rewrite_managed_refs(objects: &mut [Object], plan: &Plan, renames: &RenameMap) {
    if renames.is_empty() {
        return;
    }
    let mut by_name: HashMap<String, Vec<String>> = HashMap::new();
    for (i, o) in objects.iter().enumerate() {
        if plan.classes[i].role != Role::Managed {
            continue;
        }
        let Some(name) = o.name.as_deref() else {
            continue;
        };
        if let Some(new) = renames.get(&o.gk, name) {
            let e = by_name.entry(name.to_string()).or_default();
            if !e.iter().any(|x| x == new) {
                e.push(new.to_string());
            }
        }
    }
    if by_name.is_empty() {
        return;
    }
    for (i, o) in objects.iter_mut().enumerate() {
        if plan.classes[i].role != Role::Managed {
            continue;
        }
        for root in ["forProvider", "initProvider"] {
            if let Some(params) = o.node.path_mut(&["spec", root]) {
                rewrite_ref_keys(params, &by_name, 0);
            }
        }
    }
}

fn rewrite_ref_keys(node: &mut Node, by_name: &HashMap<String, Vec<String>>, depth: usize) {
    // Parameters nest a few levels; the tree is depth-capped anyway.
    if depth > 32 {
        return;
    }
    match &mut node.value {
        crate::yaml::Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                let key = k.scalar_text().unwrap_or("");
                if !(key.ends_with("Ref") || key.ends_with("Refs")) {
                    rewrite_ref_keys(v, by_name, depth + 1);
                    continue;
                }
                let refs: Vec<&mut Node> = match &mut v.value {
                    crate::yaml::Value::Seq(items) => items.iter_mut().collect(),
                    _ => vec![v],
                };
                for r in refs {
                    let new = r
                        .get("name")
                        .and_then(Node::as_str)
                        .and_then(|n| by_name.get(n))
                        .filter(|news| news.len() == 1)
                        .map(|news| news[0].clone());
                    if let Some(new) = new {
                        r.set_str("name", &new, &[]);
                    }
                }
            }
        }
        crate::yaml::Value::Seq(items) => {
            for item in items {
                rewrite_ref_keys(item, by_name, depth + 1);
            }
        }
        crate::yaml::Value::Scalar(_) => {}
    }
}

struct Rewriter<'a> {
    renames: &'a RenameMap,
    known: &'a Known,
    scopes: &'a Scopes,
    target_ns: Option<&'a str>,
    preview: bool,
}

impl Rewriter<'_> {
    fn rewrite(&self, o: &mut Object, path: &[&str], target: &Target, warnings: &mut Vec<Warning>) {
        match target {
            Target::Name(gk) => {
                // Dangling references are reported once per field, before editing.
                if self.preview {
                    fieldspec::visit(&o.node, path, &mut |n| {
                        if let Some(v) = n.as_str() {
                            self.check_dangling(gk, v, None, o, n, path, warnings);
                        }
                    });
                }
                if self.renames.is_empty() {
                    return;
                }
                let wants = |n: &Node| {
                    n.as_str()
                        .is_some_and(|v| self.renames.get(gk, v).is_some())
                };
                fieldspec::visit_mut(&mut o.node, path, &wants, &mut |n| {
                    if let Some(new) = n.as_str().and_then(|v| self.renames.get(gk, v)) {
                        let new = new.to_string();
                        n.replace_str(&new);
                    }
                });
            }
            Target::Nested(name_path) => {
                let edit = |n: &Node| -> Option<String> {
                    let api = n.get("apiVersion").and_then(Node::as_str)?;
                    let kind = n.get("kind").and_then(Node::as_str)?;
                    let name = n.path(name_path).and_then(Node::as_str)?;
                    let gk = GroupKind::new(gvk::split_api_version(api).0, kind);
                    self.renames.get(&gk, name).map(str::to_string)
                };
                let wants = |n: &Node| edit(n).is_some();
                fieldspec::visit_mut(&mut o.node, path, &wants, &mut |n| {
                    if let Some(new) = edit(n) {
                        if let Some(slot) = n.path_mut(name_path) {
                            slot.replace_str(&new);
                        }
                    }
                });
            }
            Target::Typed(t) => {
                if self.preview {
                    fieldspec::visit(&o.node, path, &mut |n| {
                        if let Some((Some(gk), name, ns)) = typed_parts(t, n) {
                            self.check_dangling(&gk, name, ns, o, n, path, warnings);
                        }
                    });
                }
                let wants = |n: &Node| self.typed_edit(t, n).is_some();
                fieldspec::visit_mut(&mut o.node, path, &wants, &mut |n| {
                    if let Some((name, ns)) = self.typed_edit(t, n) {
                        if let Some(name) = name {
                            n.set_str("name", &name, &[]);
                        }
                        if let (Some(key), Some(ns)) = (t.ns_key, ns) {
                            n.set_str(key, &ns, &["name"]);
                        }
                    }
                });
            }
        }
    }

    /// The edit a typed reference needs: (new name, new namespace), or None.
    fn typed_edit(&self, t: &Typed, n: &Node) -> Option<(Option<String>, Option<String>)> {
        let (gk, name, ns) = typed_parts(t, n)?;
        let candidate = self.find(gk.as_ref(), t, name, ns)?;
        let new_name = self
            .renames
            .get(&candidate.gk, name)
            .filter(|new| *new != name)
            .map(str::to_string);
        let new_ns = match (t.ns_key, self.target_ns) {
            (Some(_), Some(target)) if candidate.namespaced && (ns.is_some() || t.ns_required) => {
                (ns != Some(target)).then(|| target.to_string())
            }
            _ => None,
        };
        (new_name.is_some() || new_ns.is_some()).then_some((new_name, new_ns))
    }

    /// The input object (or produced name) a typed reference designates.
    fn find(
        &self,
        gk: Option<&GroupKind>,
        t: &Typed,
        name: &str,
        ns: Option<&str>,
    ) -> Option<&Candidate> {
        let candidates = match gk {
            Some(gk) => self.known.by_name.get(gk)?.get(name)?,
            None => self.known.by_kind.get(t.default_kind?)?.get(name)?,
        };
        candidates
            .iter()
            .find(|c| ns.is_none() || c.namespace.is_none() || c.namespace.as_deref() == ns)
    }

    #[allow(clippy::too_many_arguments)]
    fn check_dangling(
        &self,
        gk: &GroupKind,
        name: &str,
        ns: Option<&str>,
        o: &Object,
        at: &Node,
        path: &[&str],
        warnings: &mut Vec<Warning>,
    ) {
        if name.is_empty() || self.known.contains(gk, name) {
            return;
        }
        // Every namespace has its `default` ServiceAccount.
        if gk.is("", "ServiceAccount") && name == "default" {
            return;
        }
        // A reference into another namespace is deliberate.
        if ns.is_some_and(|ns| Some(ns) != self.target_ns) {
            return;
        }
        // Cluster-scoped targets (StorageClass, ClusterRole, Composition, ...) are shared.
        if !self.scopes.is_namespaced_kind(gk) {
            return;
        }
        warnings.push(Warning::at(
            Loc::new(&o.file, at.pos),
            format!(
                "{}: {} refers to {} {name:?}, which is not in the input, so it will not exist in the preview namespace {}",
                o.label(),
                path.join("."),
                gk.kind,
                self.target_ns.unwrap_or("")
            ),
        ));
    }
}

/// Reads a typed reference: (group and kind if known, name, namespace).
fn typed_parts<'n>(
    t: &Typed,
    n: &'n Node,
) -> Option<(Option<GroupKind>, &'n str, Option<&'n str>)> {
    let name = n.get("name").and_then(Node::as_str)?;
    let kind = t
        .kind_key
        .and_then(|k| n.get(k))
        .and_then(Node::as_str)
        .or(t.default_kind)?;
    if !t.kinds.is_empty() && !t.kinds.contains(&kind) {
        return None;
    }
    let mut group = None;
    for key in t.group_keys {
        if let Some(v) = n.get(key).and_then(Node::as_str) {
            group = Some(if *key == "apiVersion" {
                gvk::split_api_version(v).0
            } else {
                v
            });
            break;
        }
    }
    let group = group.or(t.default_group);
    let ns = t.ns_key.and_then(|k| n.get(k)).and_then(Node::as_str);
    Some((group.map(|g| GroupKind::new(g, kind)), name, ns))
}

/// Role and ClusterRole `rules[].resourceNames`: the kind comes from the rule's `resources`
/// (`secrets`, `configmaps`, ...), so a name is rewritten only when it designates a renamed
/// object of one of those kinds, and only when that gives one new name.
fn rewrite_resource_names(o: &mut Object, renames: &RenameMap) {
    if renames.is_empty() {
        return;
    }
    let Some(rules) = o.node.get_mut("rules").and_then(Node::as_seq_mut) else {
        return;
    };
    for rule in rules {
        let kinds: Vec<GroupKind> = rule
            .get("resources")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .filter_map(Node::as_str)
            .filter_map(|r| kind_of_resource(r.split('/').next().unwrap_or(r)))
            .collect();
        let Some(names) = rule.get_mut("resourceNames").and_then(Node::as_seq_mut) else {
            continue;
        };
        for n in names {
            let Some(v) = n.as_str() else { continue };
            let mut news: Vec<&str> = kinds.iter().filter_map(|k| renames.get(k, v)).collect();
            news.dedup();
            if let [new] = news.as_slice() {
                let new = (*new).to_string();
                n.replace_str(&new);
            }
        }
    }
}

/// Kinds of the built-in resources Roles commonly name.
fn kind_of_resource(resource: &str) -> Option<GroupKind> {
    let (group, kind) = match resource {
        "secrets" => ("", "Secret"),
        "configmaps" => ("", "ConfigMap"),
        "services" => ("", "Service"),
        "serviceaccounts" => ("", "ServiceAccount"),
        "persistentvolumeclaims" => ("", "PersistentVolumeClaim"),
        "pods" => ("", "Pod"),
        "deployments" => ("apps", "Deployment"),
        "statefulsets" => ("apps", "StatefulSet"),
        "daemonsets" => ("apps", "DaemonSet"),
        "replicasets" => ("apps", "ReplicaSet"),
        "jobs" => ("batch", "Job"),
        "cronjobs" => ("batch", "CronJob"),
        "ingresses" => ("networking.k8s.io", "Ingress"),
        "leases" => ("coordination.k8s.io", "Lease"),
        _ => return None,
    };
    Some(GroupKind::new(group, kind))
}
