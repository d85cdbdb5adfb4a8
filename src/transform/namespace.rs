//! Step 6 (DESIGN.md §4.6): the target namespace.
//!
//! When a namespace is decided, it is set on every namespaced object (never on cluster-scoped
//! ones), and on the connection secret ref of v1 composite and cluster-scoped managed
//! resources, whose Secret must land where the app can read it. References that carry a
//! namespace (RoleBinding subjects, webhook services) are handled with the other references
//! in [`super::refs`].
//!
//! A `Namespace` object named like the target *is* the target: kept once, first. A preview
//! emits its own `Namespace` when the input has none, annotated with sync wave -1, so that
//! Argo CD creates it first and deletes it with the Application (with the resources
//! finalizer on the Application, see README). Environment renders never add a Namespace.

use crate::model::scope::Role;
use crate::model::{Doc, GroupKind, Input, Object};
use crate::transform::policy::Placement;
use crate::transform::{Ctx, Plan};
use crate::yaml::Node;

pub const SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";

/// Sets the target namespace; in a preview, makes sure the target Namespace exists.
pub fn apply(input: &mut Input, plan: &mut Plan, ctx: &Ctx) {
    let Some(target) = ctx.identity.namespace.as_deref() else {
        return;
    };
    for (i, o) in input.objects.iter_mut().enumerate() {
        match plan.placements[i] {
            Placement::Namespaced => {
                if let Some(meta) = o.node.ensure_map("metadata", &["kind"]) {
                    meta.set_str("namespace", target, &["generateName", "name"]);
                }
            }
            Placement::TargetNamespace if ctx.identity.is_preview() => {
                set_sync_wave(&mut o.node);
            }
            _ => {}
        }
        let class = plan.classes[i];
        let cluster_instance =
            !class.namespaced && matches!(class.role, Role::Composite | Role::Managed);
        if cluster_instance && plan.placements[i] != Placement::SharedDefinition {
            if let Some(r) = o.node.path_mut(&["spec", "writeConnectionSecretToRef"]) {
                if r.as_map().is_some() && r.get_str("namespace") != Some(target) {
                    r.set_str("namespace", target, &["name"]);
                }
            }
        }
    }
    let has_target = plan.placements.contains(&Placement::TargetNamespace);
    if ctx.identity.is_preview() && !has_target {
        let mut ns = Node::map(vec![
            (Node::string("apiVersion"), Node::string("v1")),
            (Node::string("kind"), Node::string("Namespace")),
            (
                Node::string("metadata"),
                Node::map(vec![(Node::string("name"), Node::string(target))]),
            ),
        ]);
        set_sync_wave(&mut ns);
        let file: std::sync::Arc<str> = std::sync::Arc::from("<preview namespace>");
        input.objects.push(Object {
            node: ns,
            file,
            source: None,
            gk: GroupKind::new("", "Namespace"),
            api_version: "v1".into(),
            name: Some(target.to_string()),
            generate_name: None,
            namespace: None,
        });
        input.docs.push(Doc::Object(input.objects.len() - 1));
        plan.placements.push(Placement::TargetNamespace);
        plan.classes.push(crate::model::scope::Class::plain(false));
    }
}

fn set_sync_wave(node: &mut Node) {
    if let Some(meta) = node.ensure_map("metadata", &["kind"]) {
        if let Some(ann) = meta.ensure_map("annotations", &["labels", "namespace", "name"]) {
            if ann.get(SYNC_WAVE).is_none() {
                ann.set_str(SYNC_WAVE, "-1", &[]);
            }
        }
    }
}

/// The output documents: the target Namespace first, then everything in input order; a
/// duplicate target Namespace is dropped.
pub fn order(input: Input, plan: &Plan) -> Vec<crate::model::OutDoc> {
    let first = plan
        .placements
        .iter()
        .position(|p| *p == Placement::TargetNamespace);
    let mut input = input;
    let mut front = None;
    let docs = std::mem::take(&mut input.docs);
    let mut kept = Vec::with_capacity(docs.len());
    for d in docs {
        match d {
            Doc::Object(i) if Some(i) == first => front = Some(Doc::Object(i)),
            Doc::Object(i) if plan.placements[i] == Placement::DuplicateNamespace => {}
            Doc::List {
                wrapper,
                file,
                items,
                read,
                source,
            } => {
                // A target Namespace inside a List moves to the front too.
                let mut rest = Vec::with_capacity(items.len());
                for i in items {
                    if Some(i) == first {
                        front = Some(Doc::Object(i));
                    } else if plan.placements[i] != Placement::DuplicateNamespace {
                        rest.push(i);
                    }
                }
                kept.push(Doc::List {
                    wrapper,
                    file,
                    items: rest,
                    read,
                    source,
                });
            }
            other => kept.push(other),
        }
    }
    input.docs = front.into_iter().chain(kept).collect();
    input.into_docs()
}
