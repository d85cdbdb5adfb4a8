//! Names that exist although no object in the input is named so (DESIGN.md §4.3, §4.5).
//!
//! - **Produced** names ([`produced_names`]): a resource creates an object whose name a field
//!   of it holds: a claim's connection Secret, a Certificate's Secret, an ExternalSecret's
//!   target, a SealedSecret's Secret, the TLS Secrets of cert-manager's ingress-shim, ...
//!   (pack and gitops.yaml entries with `produces: true`). They are renamed with their
//!   producer, and every consumer follows.
//! - **Provided** names ([`provided`]): something in the input creates them at run time
//!   under a name it decides, so they are not renamed but are not missing either: a Job whose
//!   ServiceAccount a Role of the input lets create or patch Secrets (the names the Role's
//!   `resourceNames` hold, or any Secret when it holds none), the names an object declares
//!   with the annotation `<labelPrefix>/produces: Secret/NAME[, Kind.group/NAME...]`, and the
//!   claims a StatefulSet's `volumeClaimTemplates` create (`<template>-<statefulset>-<n>`).

use crate::collections::HashMap;
use std::collections::BTreeSet;

use crate::config::references::{RefSpec, What};
use crate::model::gvk::KindPattern;
use crate::model::scope::Class;
use crate::model::{GroupKind, Loc, Object};
use crate::packs;
use crate::transform::Ctx;
use crate::transform::refs::{Site, read_object_ref, walk};
use crate::yaml::Node;

/// The annotation (after the label prefix) that declares provided names.
pub const PRODUCES_ANNOTATION: &str = "produces";

/// The default label prefix's produces annotation, honoured whatever the configured prefix.
pub const DEFAULT_PRODUCES_ANNOTATION: &str = "kubectl-gitops.io/produces";

/// The kind a produced entry makes: a bare kind is the core group's (`Secret`).
fn produced_kind(p: &KindPattern) -> GroupKind {
    GroupKind::new(p.group.as_deref().unwrap_or(""), &p.kind)
}

/// Every `produces: true` entry: the packs' and gitops.yaml's.
fn producing_rows(ctx: &Ctx) -> impl Iterator<Item = &RefSpec> {
    packs::builtin()
        .references
        .iter()
        .map(|(_, r)| r)
        .chain(&ctx.config.references)
        .filter(|r| r.produces)
}

/// A name an object produces: kind, name, the namespace written next to it, where, and
/// whether the producer adopts an input object of that name instead of creating a second one.
pub type ProducedName = (GroupKind, String, Option<String>, Loc, bool);

/// The names `o` produces.
pub fn produced_names(o: &Object, class: &Class, ctx: &Ctx) -> Vec<ProducedName> {
    let mut out: Vec<ProducedName> = Vec::new();
    for spec in producing_rows(ctx) {
        if !spec.applies(&o.gk.group, &o.gk.kind, class.role) || !spec.enabled(&o.node) {
            continue;
        }
        let mut found = false;
        let adopts = spec.adopts;
        if spec.path.plain().as_deref() == Some(&["metadata", "name"][..]) {
            // Named like its producer (SealedSecret).
            if let (What::Name(p), Some(n)) = (&spec.what, &o.name) {
                out.push((produced_kind(p), n.clone(), None, o.loc(), adopts));
            }
            continue;
        }
        walk(
            packs::builtin(),
            spec,
            &o.node,
            &mut |site: Site<'_>| match &site.spec.what {
                What::Name(p) => {
                    if let Some(v) = site.node.as_str().filter(|s| !s.is_empty()) {
                        found = true;
                        out.push((
                            produced_kind(p),
                            v.to_string(),
                            None,
                            Loc::new(&o.file, site.node.pos),
                            adopts,
                        ));
                    }
                }
                What::Object(r) => {
                    if let Some(v) = read_object_ref(r, site.node) {
                        found = true;
                        let gk = v
                            .kind
                            .group_kind()
                            .unwrap_or_else(|| produced_kind(&v.kind));
                        out.push((gk, v.name, v.namespace, Loc::new(&o.file, v.pos), adopts));
                    }
                }
                What::Shape(_) => {}
            },
        );
        if !found {
            if let (Some(fallback), What::Name(p)) = (&spec.when_absent, &spec.what) {
                let mut names = Vec::new();
                fallback.visit(&o.node, &mut |n| {
                    if let Some(v) = n.as_str().filter(|s| !s.is_empty()) {
                        names.push((v.to_string(), n.pos));
                    }
                });
                for (v, pos) in names {
                    out.push((produced_kind(p), v, None, Loc::new(&o.file, pos), adopts));
                }
            }
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1, &a.3).cmp(&(&b.0, &b.1, &b.3)));
    out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
    out
}

/// Names something in the input creates at run time, which are not renamed.
#[derive(Debug, Default)]
pub struct Provided {
    /// (kind, name) pairs.
    pub names: BTreeSet<(GroupKind, String)>,
    /// Kinds of which any name may be created (a Role without `resourceNames`).
    pub any: BTreeSet<GroupKind>,
    /// StatefulSet claim templates: (template name, StatefulSet name).
    pub claim_templates: Vec<(String, String)>,
}

impl Provided {
    pub fn contains(&self, gk: &GroupKind, name: &str) -> bool {
        self.any.contains(gk)
            || self.names.contains(&(gk.clone(), name.to_string()))
            || (gk.is("", "PersistentVolumeClaim")
                && self
                    .claim_templates
                    .iter()
                    .any(|(t, s)| is_claim_of(name, t, s)))
    }

    /// Whether a kind pattern and name is provided, in whatever group it matches.
    pub fn contains_pattern(&self, p: &KindPattern, name: &str) -> bool {
        match p.group_kind() {
            Some(gk) => self.contains(&gk, name),
            None => {
                self.contains(&GroupKind::new("", &p.kind), name)
                    || self.any.iter().any(|g| g.kind == p.kind)
                    || self
                        .names
                        .iter()
                        .any(|(g, n)| g.kind == p.kind && n == name)
            }
        }
    }
}

/// Whether `name` is `<template>-<statefulset>-<ordinal>`.
pub fn is_claim_of(name: &str, template: &str, sts: &str) -> bool {
    name.strip_prefix(template)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_prefix(sts))
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// What the input provides (see the module documentation).
pub fn provided(objects: &[Object], ctx: &Ctx) -> Provided {
    let mut p = Provided::default();
    let keys = [
        format!("{}/{PRODUCES_ANNOTATION}", ctx.config.label_prefix),
        DEFAULT_PRODUCES_ANNOTATION.to_string(),
    ];
    for o in objects {
        for key in &keys {
            if let Some(list) = o
                .node
                .path(&["metadata", "annotations", key.as_str()])
                .and_then(Node::as_str)
            {
                for item in list.split([',', ' ', '\n']).filter(|s| !s.is_empty()) {
                    if let Some((kind, name)) = item.split_once('/') {
                        let k = KindPattern::parse_dotted(kind);
                        p.names.insert((produced_kind(&k), name.to_string()));
                    }
                }
            }
        }
        if o.gk.is("apps", "StatefulSet") {
            if let Some(sts) = &o.name {
                crate::model::fieldspec::visit(
                    &o.node,
                    &["spec", "volumeClaimTemplates", "metadata", "name"],
                    &mut |n| {
                        if let Some(t) = n.as_str() {
                            p.claim_templates.push((t.to_string(), sts.clone()));
                        }
                    },
                );
            }
        }
    }
    jobs_with_secret_rights(objects, &mut p);
    p
}

/// Secrets a Job (or CronJob) may create: its ServiceAccount is bound (RoleBinding or
/// ClusterRoleBinding in the input) to a Role or ClusterRole of the input that grants
/// `create` or `patch` on `secrets`.
fn jobs_with_secret_rights(objects: &[Object], p: &mut Provided) {
    let secret = GroupKind::new("", "Secret");
    // Roles: name -> (kind, names they allow, or None for any).
    let mut grants: HashMap<(String, String), Option<Vec<String>>> = HashMap::default();
    for o in objects {
        if o.gk.group != "rbac.authorization.k8s.io"
            || !matches!(o.gk.kind.as_str(), "Role" | "ClusterRole")
        {
            continue;
        }
        let Some(name) = &o.name else { continue };
        for rule in o
            .node
            .get("rules")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
        {
            let list = |k: &str| -> Vec<&str> {
                rule.get(k)
                    .and_then(Node::as_seq)
                    .into_iter()
                    .flatten()
                    .filter_map(Node::as_str)
                    .collect()
            };
            let groups = list("apiGroups");
            let resources = list("resources");
            let verbs = list("verbs");
            if !groups.iter().any(|g| g.is_empty() || *g == "*")
                || !resources.iter().any(|r| *r == "secrets" || *r == "*")
                || !verbs.iter().any(|v| matches!(*v, "create" | "patch" | "*"))
            {
                continue;
            }
            let names: Vec<String> = list("resourceNames")
                .iter()
                .map(|s| s.to_string())
                .collect();
            let e = grants
                .entry((o.gk.kind.clone(), name.clone()))
                .or_insert_with(|| Some(Vec::new()));
            match (e.as_mut(), names.is_empty()) {
                (_, true) => *e = None,
                (Some(v), false) => v.extend(names),
                (None, false) => {}
            }
        }
    }
    if grants.is_empty() {
        return;
    }
    // ServiceAccounts -> what their bindings grant.
    let mut by_sa: HashMap<String, Vec<Option<Vec<String>>>> = HashMap::default();
    for o in objects {
        if o.gk.group != "rbac.authorization.k8s.io"
            || !matches!(o.gk.kind.as_str(), "RoleBinding" | "ClusterRoleBinding")
        {
            continue;
        }
        let (Some(kind), Some(role)) = (
            o.node.path(&["roleRef", "kind"]).and_then(Node::as_str),
            o.node.path(&["roleRef", "name"]).and_then(Node::as_str),
        ) else {
            continue;
        };
        let Some(g) = grants.get(&(kind.to_string(), role.to_string())) else {
            continue;
        };
        for s in o
            .node
            .get("subjects")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
        {
            if s.get_str("kind") == Some("ServiceAccount") {
                if let Some(sa) = s.get_str("name") {
                    by_sa.entry(sa.to_string()).or_default().push(g.clone());
                }
            }
        }
    }
    for o in objects {
        let path: &[&str] = match (o.gk.group.as_str(), o.gk.kind.as_str()) {
            ("batch", "Job") => &["spec", "template", "spec", "serviceAccountName"],
            ("batch", "CronJob") => &[
                "spec",
                "jobTemplate",
                "spec",
                "template",
                "spec",
                "serviceAccountName",
            ],
            _ => continue,
        };
        let Some(sa) = o.node.path(path).and_then(Node::as_str) else {
            continue;
        };
        for g in by_sa.get(sa).into_iter().flatten() {
            match g {
                None => {
                    p.any.insert(secret.clone());
                }
                Some(names) => {
                    for n in names {
                        p.names.insert((secret.clone(), n.clone()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::scope::{Declarations, Scopes};
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

    fn produced(src: &str) -> Vec<(String, String)> {
        let objs = objects(src);
        let scopes = Scopes::learn(&objs, &Declarations::default());
        let ctx = Ctx::default();
        objs.iter()
            .flat_map(|o| produced_names(o, &scopes.classify(o), &ctx))
            .map(|(gk, n, _, _, _)| (gk.to_string(), n))
            .collect()
    }

    #[test]
    fn produced_names_from_the_packs() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (
                "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\nspec: {secretName: web-tls}\n",
                &[("Secret", "web-tls")],
            ),
            (
                "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: db}\nspec: {secretStoreRef: {name: s}}\n",
                &[("Secret", "db")],
            ),
            (
                "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: db}\nspec: {target: {name: db-creds}}\n",
                &[("Secret", "db-creds")],
            ),
            (
                "apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: s}\n",
                &[("Secret", "s")],
            ),
            (
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  annotations: {cert-manager.io/cluster-issuer: le}\nspec:\n  tls: [{secretName: web-tls}]\n",
                &[("Secret", "web-tls")],
            ),
            (
                "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  tls: [{secretName: web-tls}]\n",
                &[],
            ),
            (
                "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\n  annotations: {cert-manager.io/issuer: ca}\nspec:\n  listeners:\n  - tls: {certificateRefs: [{name: gw-tls}]}\n",
                &[("Secret", "gw-tls")],
            ),
            (
                "apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\nmetadata: {name: v}\nspec:\n  secretObjects: [{secretName: synced}]\n",
                &[("Secret", "synced")],
            ),
            (
                "apiVersion: db.example.org/v1\nkind: Db\nmetadata: {name: d}\nspec: {writeConnectionSecretToRef: {name: db-conn}}\n",
                &[("Secret", "db-conn")],
            ),
        ];
        for (src, want) in cases {
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, n)| ((*k).to_string(), (*n).to_string()))
                .collect();
            assert_eq!(produced(src), want, "{src}");
        }
    }

    #[test]
    fn jobs_with_secret_rights_provide_secrets() {
        let src = "apiVersion: batch/v1\nkind: Job\nmetadata: {name: gen}\nspec:\n  template:\n    spec: {serviceAccountName: gen}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: w}\nrules:\n- {apiGroups: [\"\"], resources: [secrets], verbs: [create, patch], resourceNames: [generated]}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: w}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: w}\nsubjects: [{kind: ServiceAccount, name: gen}]\n";
        let p = provided(&objects(src), &Ctx::default());
        let secret = GroupKind::new("", "Secret");
        assert!(p.contains(&secret, "generated"));
        assert!(!p.contains(&secret, "other"));
        let any = src.replace(", resourceNames: [generated]", "");
        let p = provided(&objects(&any), &Ctx::default());
        assert!(p.contains(&secret, "other"));
        let read_only = src.replace("verbs: [create, patch]", "verbs: [get]");
        assert!(!provided(&objects(&read_only), &Ctx::default()).contains(&secret, "generated"));
    }

    #[test]
    fn annotations_and_claim_templates() {
        let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  annotations: {kubectl-gitops.io/produces: \"Secret/a, Widget.example.com/b\"}\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  volumeClaimTemplates: [{metadata: {name: data}}]\n";
        let p = provided(&objects(src), &Ctx::default());
        assert!(p.contains(&GroupKind::new("", "Secret"), "a"));
        assert!(p.contains(&GroupKind::new("example.com", "Widget"), "b"));
        let pvc = GroupKind::new("", "PersistentVolumeClaim");
        assert!(p.contains(&pvc, "data-db-0"));
        assert!(p.contains(&pvc, "data-db-12"));
        assert!(!p.contains(&pvc, "data-db-x"));
        assert!(!p.contains(&pvc, "data-db"));
    }
}
