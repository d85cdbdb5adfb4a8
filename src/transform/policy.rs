//! Step 9 (DESIGN.md §4.9): where objects may go, and what is protected.
//!
//! [`place`] decides, before anything is renamed, what each object is in this render. A
//! preview is a sandbox: every namespaced object lands in the preview namespace, and a
//! cluster-scoped object is refused unless the sandbox allows its kind
//! ([`crate::config::policy::Sandbox`]: gitops.yaml's `preview.allowClusterScoped`, as far as
//! the platform policy lets it); so is an object whose scope is unknown (an environment render
//! treats it as namespaced and warns), a namespaced object that makes a provider apply what it
//! holds (Crossplane's provider-kubernetes `Object`, provider-helm `Release`), and a build input (Crossplane package metadata, never
//! applied to a cluster). Of
//! the allowed ones, composite and managed resources are instances (suffixed like any other
//! object), everything else is a shared definition: it keeps its name, gets no identity
//! labels, and gets `Prune=false,Delete=false` so that closing a pull request never deletes
//! what the platform shares.
//!
//! [`protect`] applies `protect: true` of an environment: claims, composite and managed
//! resources, PersistentVolumeClaims and StatefulSets get `Prune=false` and `Delete=false` in
//! `argocd.argoproj.io/sync-options`, keeping every other option, and managed resources orphan
//! their external resources ([`orphan_managed`]). Previews add no protection and remove none
//! that the files carry.

use std::collections::BTreeSet;

use crate::diag::Warning;
use crate::error::Error;
use crate::model::gvk::is_kubernetes_group;
use crate::model::scope::{Class, Role};
use crate::model::{GroupKind, Object};
use crate::transform::{Ctx, Plan};
use crate::yaml::Node;

/// Argo CD's per-object sync options annotation.
pub const SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

/// What an object is in this render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Namespaced: lands in the target namespace, when one is decided.
    Namespaced,
    /// Cluster-scoped, in an environment render.
    Cluster,
    /// The `Namespace` object that is the target namespace.
    TargetNamespace,
    /// A second `Namespace` object for the target namespace: dropped ("kept once").
    DuplicateNamespace,
    /// Another `Namespace` object in an environment render: passed through unchanged.
    OtherNamespace,
    /// Preview: an allowed cluster-scoped composite or managed resource.
    ClusterInstance,
    /// Preview: an allowed cluster-scoped definition shared by every preview.
    SharedDefinition,
    /// Refused by a preview (reported; left alone by every step).
    Refused,
    /// An input of a build, never applied to a cluster (Crossplane package metadata): left
    /// alone by an environment render.
    BuildInput,
}

/// Decides every object's placement. What a preview may not carry is pushed to `refusals`
/// and placed as [`Placement::Refused`], which every later step leaves alone.
pub fn place(
    objects: &[Object],
    classes: &[Class],
    ctx: &Ctx,
    refusals: &mut Vec<Error>,
    warnings: &mut Vec<Warning>,
) -> Vec<Placement> {
    let preview = ctx.identity.is_preview();
    let target = ctx.identity.namespace.as_deref();
    let build_inputs = &crate::packs::builtin().build_inputs;
    let mut seen_target = false;
    let mut unknown_warned: BTreeSet<&GroupKind> = BTreeSet::new();
    let mut out = Vec::with_capacity(objects.len());
    for (o, class) in objects.iter().zip(classes) {
        let p = if build_inputs.iter().any(|b| b.matches(&o.gk)) {
            if preview {
                refusals.push(Error::Refused {
                    loc: o.loc(),
                    msg: format!(
                        "{} is {}, an input of a package build that is never applied to a cluster: a preview refuses it; list its file under exclude: in gitops.yaml",
                        o.label(),
                        o.gk
                    ),
                });
                Placement::Refused
            } else {
                Placement::BuildInput
            }
        } else if !class.known {
            if preview {
                refusals.push(Error::Refused {
                    loc: o.loc(),
                    msg: unknown_scope(o, true),
                });
                Placement::Refused
            } else {
                if unknown_warned.insert(&o.gk) {
                    warnings.push(Warning::at(o.loc(), unknown_scope(o, false)));
                }
                Placement::Namespaced
            }
        } else if o.gk.is("", "Namespace") {
            if target.is_some() && o.name.as_deref() == target {
                if seen_target {
                    Placement::DuplicateNamespace
                } else {
                    seen_target = true;
                    Placement::TargetNamespace
                }
            } else if preview {
                refusals.push(Error::Refused {
                    loc: o.loc(),
                    msg: format!(
                        "{} is refused in a preview: a preview renders into its own namespace {}, and may not create or change other namespaces",
                        o.label(),
                        target.unwrap_or("")
                    ),
                });
                Placement::Refused
            } else {
                Placement::OtherNamespace
            }
        } else if class.namespaced {
            if preview && applies_manifests(&o.gk) && !ctx.sandbox.allows(&o.gk) {
                refusals.push(Error::Refused {
                    loc: o.loc(),
                    msg: format!(
                        "{} makes its provider apply the manifest or chart it holds, with the provider's credentials, in any namespace and at cluster scope: a preview cannot keep what it creates in its sandbox; {}",
                        o.label(),
                        ctx.sandbox.how_to_allow(&o.gk)
                    ),
                });
                Placement::Refused
            } else {
                Placement::Namespaced
            }
        } else if !preview {
            Placement::Cluster
        } else if ctx.sandbox.allows(&o.gk) {
            if matches!(class.role, Role::Composite | Role::Managed) {
                Placement::ClusterInstance
            } else {
                Placement::SharedDefinition
            }
        } else {
            refusals.push(Error::Refused {
                loc: o.loc(),
                msg: format!(
                    "{} is cluster-scoped, and a preview may only carry namespaced objects (every preview would share it, and closing one would delete it for all); {}",
                    o.label(),
                    ctx.sandbox.how_to_allow(&o.gk)
                ),
            });
            Placement::Refused
        };
        out.push(p);
    }
    out
}

/// Namespaced kinds whose controller applies what the object holds: Crossplane
/// provider-kubernetes' `Object` (any manifest, `spec.forProvider.manifest`) and
/// provider-helm's `Release` (a chart), in their cluster-scoped (v1) and namespaced (v2, `.m.`)
/// groups. The object itself sits in the preview namespace, but what it creates does not have
/// to: a preview refuses them unless the sandbox allows the kind by name, like a
/// cluster-scoped kind.
fn applies_manifests(gk: &GroupKind) -> bool {
    matches!(
        (gk.group.as_str(), gk.kind.as_str()),
        (
            "kubernetes.crossplane.io" | "kubernetes.m.crossplane.io",
            "Object"
        ) | ("helm.crossplane.io" | "helm.m.crossplane.io", "Release")
    )
}

/// Why a kind whose scope is unknown is refused (a preview) or treated as namespaced.
fn unknown_scope(o: &Object, preview: bool) -> String {
    let gk = &o.gk;
    let consequence = if preview {
        "so a preview cannot tell whether its sandbox holds it and refuses it"
    } else {
        "so it is treated as namespaced"
    };
    let how = if is_kubernetes_group(&gk.group) {
        format!(
            "{gk} is in a Kubernetes API group the built-in table does not list: put its CustomResourceDefinition in the input"
        )
    } else {
        format!(
            "put its CustomResourceDefinition in the input, or declare it in gitops.yaml: `namespaced: [{gk}]` or `clusterScoped: [{gk}]`"
        )
    };
    format!(
        "{}: kubectl-gitops does not know whether {gk} is namespaced or cluster-scoped, {consequence}; {how}",
        o.label()
    )
}

/// Applies protection: `protect: true` environments, and shared definitions in previews.
pub fn protect(objects: &mut [Object], plan: &Plan, ctx: &Ctx) {
    let protect_env =
        !ctx.identity.is_preview() && ctx.environment.as_ref().is_some_and(|e| e.protect);
    for (i, o) in objects.iter_mut().enumerate() {
        let shared = plan.placements[i] == Placement::SharedDefinition;
        let stateful = plan.classes[i].role != Role::Plain
            || o.gk.is("", "PersistentVolumeClaim")
            || o.gk.is("apps", "StatefulSet");
        if shared || (protect_env && stateful) {
            add_no_prune_no_delete(&mut o.node);
        }
        if protect_env && plan.classes[i].role == Role::Managed {
            orphan_managed(&mut o.node, &o.gk.group);
        }
    }
}

/// Everything but `Delete`: Crossplane then leaves the external resource alone when the
/// managed resource is deleted.
pub const NO_DELETE_POLICIES: [&str; 4] = ["Observe", "Create", "Update", "LateInitialize"];

/// Makes a managed resource orphan its external resource, in its API's dialect: v2 namespaced
/// managed resources (`.m.` groups) dropped `deletionPolicy`, so they get `managementPolicies`
/// without `Delete`; v1 managed resources get `deletionPolicy: Orphan`, and lose `Delete` from
/// `managementPolicies` when they set them.
pub fn orphan_managed(node: &mut Node, group: &str) {
    let v2 = group.split('.').any(|l| l == "m");
    let Some(spec) = node.ensure_map("spec", &["metadata"]) else {
        return;
    };
    let has_policies = spec.get("managementPolicies").is_some();
    if v2 || has_policies {
        let current: Vec<String> = spec
            .get("managementPolicies")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .filter_map(|n| n.scalar_text().map(str::to_string))
            .collect();
        let wanted: Vec<String> = if current.is_empty() || current.iter().any(|p| p == "*") {
            NO_DELETE_POLICIES
                .iter()
                .map(|p| (*p).to_string())
                .collect()
        } else {
            current.into_iter().filter(|p| p != "Delete").collect()
        };
        let seq = Node::seq(wanted.iter().map(Node::string).collect());
        spec.set("managementPolicies", seq, &["forProvider"]);
    }
    if !v2 {
        spec.set_str("deletionPolicy", "Orphan", &[]);
    }
}

/// Sets `Prune=false` and `Delete=false` in the sync-options annotation, replacing other
/// `Prune=`/`Delete=` values and keeping every other option in its place.
pub fn add_no_prune_no_delete(node: &mut Node) {
    let Some(meta) = node.ensure_map("metadata", &["kind"]) else {
        return;
    };
    let Some(annotations) = meta.ensure_map("annotations", &["labels", "namespace", "name"]) else {
        return;
    };
    let current = annotations
        .get(SYNC_OPTIONS)
        .and_then(Node::scalar_text)
        .unwrap_or("");
    let value = merge_sync_options(current);
    annotations.set_str(SYNC_OPTIONS, &value, &[]);
}

pub fn merge_sync_options(current: &str) -> String {
    let mut opts: Vec<&str> = current
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty() && !o.starts_with("Prune=") && !o.starts_with("Delete="))
        .collect();
    opts.push("Prune=false");
    opts.push("Delete=false");
    opts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::yaml::test_doc as doc;

    #[test]
    fn managed_resources_orphan_in_their_dialect() {
        let cases = [
            // (group, spec, expected spec)
            (
                "s3.aws.upbound.io",
                "spec: {forProvider: {}}\n",
                "spec:\n  forProvider: {}\n  deletionPolicy: Orphan\n",
            ),
            (
                "s3.aws.upbound.io",
                "spec: {deletionPolicy: Delete, forProvider: {}}\n",
                "spec:\n  deletionPolicy: Orphan\n  forProvider: {}\n",
            ),
            (
                "s3.aws.m.upbound.io",
                "spec: {forProvider: {}}\n",
                "spec:\n  forProvider: {}\n  managementPolicies:\n  - Observe\n  - Create\n  - Update\n  - LateInitialize\n",
            ),
            (
                "s3.aws.m.upbound.io",
                "spec: {managementPolicies: [Observe, Delete]}\n",
                "spec:\n  managementPolicies:\n  - Observe\n",
            ),
            (
                "s3.aws.upbound.io",
                "spec: {managementPolicies: ['*']}\n",
                "spec:\n  managementPolicies:\n  - Observe\n  - Create\n  - Update\n  - LateInitialize\n  deletionPolicy: Orphan\n",
            ),
        ];
        for (group, src, want) in cases {
            let mut n = doc(src);
            orphan_managed(&mut n, group);
            assert_eq!(crate::yaml::emit::emit_stream([&n]), want, "{group} {src}");
        }
    }

    #[test]
    fn sync_options_merge() {
        for (current, want) in [
            ("", "Prune=false,Delete=false"),
            (
                "ServerSideApply=true",
                "ServerSideApply=true,Prune=false,Delete=false",
            ),
            (
                "Prune=confirm, Replace=true",
                "Replace=true,Prune=false,Delete=false",
            ),
            ("Prune=false,Delete=false", "Prune=false,Delete=false"),
        ] {
            assert_eq!(merge_sync_options(current), want, "{current}");
        }
    }
}
