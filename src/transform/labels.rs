//! Step 7 (DESIGN.md §4.7): identity labels, the environment's labels and annotations, and,
//! in a preview, the pr label on selectors.
//!
//! - `<prefix>/app`, `<prefix>/env`, `<prefix>/pr` (each only when known) and the
//!   environment's `labels` go on every object's metadata (not on `List` wrappers, and not on
//!   a preview's shared definitions), and on the pod templates of [`TEMPLATES`]; the
//!   environment's `annotations` go to the same places. Job pod templates and StatefulSet
//!   volumeClaimTemplates are immutable, so they are labelled only in a preview.
//! - Selectors are immutable: environment renders never touch them. In a preview, whose
//!   objects are all new, the pr label is added to the existing, non-empty selectors of
//!   [`SELECTORS`] that select at least one pod template this render labels (a selector is
//!   never created, `{}` is never narrowed, `namespaceSelector` and Job selectors are never
//!   touched), so a preview's Service can never select another preview's pods.
//! - Argo CD's own tracking keys are never written (gitops.yaml cannot name them), and label
//!   values are always written as strings.

use crate::collections::HashMap;

use crate::model::{Object, fieldspec};
use crate::transform::policy::Placement;
use crate::transform::{Ctx, Plan};
use crate::yaml::Node;

/// When a pod template is labelled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    /// Immutable after creation: only objects that are new (a preview) get labels.
    PreviewOnly,
}

/// (group, kind, path to a template's `metadata`, when)
const TEMPLATES: &[(&str, &str, &[&str], When)] = &[
    (
        "apps",
        "Deployment",
        &["spec", "template", "metadata"],
        When::Always,
    ),
    (
        "apps",
        "ReplicaSet",
        &["spec", "template", "metadata"],
        When::Always,
    ),
    (
        "apps",
        "DaemonSet",
        &["spec", "template", "metadata"],
        When::Always,
    ),
    (
        "apps",
        "StatefulSet",
        &["spec", "template", "metadata"],
        When::Always,
    ),
    (
        "apps",
        "StatefulSet",
        &["spec", "volumeClaimTemplates", "metadata"],
        When::PreviewOnly,
    ),
    (
        "",
        "ReplicationController",
        &["spec", "template", "metadata"],
        When::Always,
    ),
    (
        "batch",
        "CronJob",
        &["spec", "jobTemplate", "metadata"],
        When::Always,
    ),
    (
        "batch",
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "metadata"],
        When::Always,
    ),
    (
        "batch",
        "Job",
        &["spec", "template", "metadata"],
        When::PreviewOnly,
    ),
    // Argo Rollouts: a Rollout owns its pod template like a Deployment.
    (
        "argoproj.io",
        "Rollout",
        &["spec", "template", "metadata"],
        When::Always,
    ),
];

/// (group, kind, path to a selector's label map)
const SELECTORS: &[(&str, &str, &[&str])] = &[
    ("", "Service", &["spec", "selector"]),
    ("", "ReplicationController", &["spec", "selector"]),
    ("apps", "Deployment", &["spec", "selector", "matchLabels"]),
    ("apps", "ReplicaSet", &["spec", "selector", "matchLabels"]),
    ("apps", "DaemonSet", &["spec", "selector", "matchLabels"]),
    ("apps", "StatefulSet", &["spec", "selector", "matchLabels"]),
    (
        "argoproj.io",
        "Rollout",
        &["spec", "selector", "matchLabels"],
    ),
    (
        "policy",
        "PodDisruptionBudget",
        &["spec", "selector", "matchLabels"],
    ),
    (
        "networking.k8s.io",
        "NetworkPolicy",
        &["spec", "podSelector", "matchLabels"],
    ),
];

/// NetworkPolicy peers: a `podSelector` without a `namespaceSelector` selects pods in the
/// policy's own namespace, which in a preview are the preview's.
const PEERS: &[&[&str]] = &[&["spec", "ingress", "from"], &["spec", "egress", "to"]];

pub fn apply(objects: &mut [Object], plan: &Plan, ctx: &Ctx) {
    let preview = ctx.identity.is_preview();
    let mut labels: Vec<(String, String)> = Vec::new();
    for (key, value) in [
        ("app", &ctx.identity.app),
        ("env", &ctx.identity.env),
        ("pr", &ctx.identity.pr),
    ] {
        if let Some(v) = value {
            labels.push((ctx.label_key(key), v.clone()));
        }
    }
    if let Some(env) = &ctx.environment {
        labels.extend(env.labels.iter().cloned());
    }
    let annotations: &[(String, String)] = ctx
        .environment
        .as_ref()
        .map_or(&[], |e| e.annotations.as_slice());
    let pr_label = ctx
        .identity
        .pr
        .as_ref()
        .map(|pr| (ctx.label_key("pr"), pr.clone()));

    // Label sets of every pod template (and bare Pod) this render labels, as they will be:
    // a selector is narrowed only if it selects at least one of them.
    let mut pods = PodIndex::default();

    for (i, o) in objects.iter_mut().enumerate() {
        if matches!(
            plan.placements[i],
            Placement::SharedDefinition
                | Placement::OtherNamespace
                | Placement::DuplicateNamespace
                | Placement::Refused
                | Placement::BuildInput
        ) {
            continue;
        }
        if let Some(meta) = o.node.ensure_map("metadata", &["kind"]) {
            merge(
                meta,
                "labels",
                &labels,
                &["namespace", "generateName", "name"],
            );
            merge(
                meta,
                "annotations",
                annotations,
                &["labels", "namespace", "generateName", "name"],
            );
        }
        if o.gk.is("", "Pod") {
            pods.add(label_set(o.node.path(&["metadata", "labels"])));
        }
        for (group, kind, path, when) in TEMPLATES {
            if !o.gk.is(group, kind) || (*when == When::PreviewOnly && !preview) {
                continue;
            }
            let is_pod_template = path.last() == Some(&"metadata") && path.contains(&"template");
            fieldspec::visit_mut(
                &mut o.node,
                &path[..path.len() - 1],
                &|n| n.as_map().is_some(),
                &mut |t| {
                    if let Some(meta) = t.ensure_map("metadata", &[]) {
                        merge(meta, "labels", &labels, &[]);
                        merge(meta, "annotations", annotations, &["labels"]);
                    }
                    if is_pod_template {
                        pods.add(label_set(t.path(&["metadata", "labels"])));
                    }
                },
            );
        }
    }

    let Some(pr) = pr_label else {
        return;
    };
    for (i, o) in objects.iter_mut().enumerate() {
        if plan.placements[i] != Placement::Namespaced {
            continue;
        }
        for (group, kind, path) in SELECTORS {
            if o.gk.is(group, kind) {
                narrow(&mut o.node, path, &pr, &pods);
            }
        }
        if o.gk.is("networking.k8s.io", "NetworkPolicy") {
            for peers in PEERS {
                let wants = |peer: &Node| peer.get("namespaceSelector").is_none();
                fieldspec::visit_mut(&mut o.node, peers, &wants, &mut |peer| {
                    narrow(peer, &["podSelector", "matchLabels"], &pr, &pods);
                });
            }
        }
    }
}

/// Pod label sets, indexed by label pair, so that "does this selector select any pod?" looks
/// at the pods carrying its rarest pair only, never at every pod.
#[derive(Default)]
struct PodIndex {
    pods: Vec<Vec<(String, String)>>,
    by_pair: HashMap<(String, String), Vec<usize>>,
}

impl PodIndex {
    fn add(&mut self, labels: Vec<(String, String)>) {
        let id = self.pods.len();
        for pair in &labels {
            self.by_pair.entry(pair.clone()).or_default().push(id);
        }
        self.pods.push(labels);
    }

    fn selects_any(&self, wanted: &[(String, String)]) -> bool {
        let Some(candidates) = wanted
            .iter()
            .map(|w| self.by_pair.get(w).map_or(&[][..], Vec::as_slice))
            .min_by_key(|c| c.len())
        else {
            return false;
        };
        candidates
            .iter()
            .any(|&id| wanted.iter().all(|w| self.pods[id].contains(w)))
    }
}

/// Adds `pr` to the label map at `path` when it is a non-empty mapping that selects at least
/// one labelled pod template.
fn narrow(node: &mut Node, path: &[&str], pr: &(String, String), pods: &PodIndex) {
    let Some(selector) = node.path(path) else {
        return;
    };
    let wanted = label_set(Some(selector));
    if wanted.is_empty() || selector.as_map().is_none() || !pods.selects_any(&wanted) {
        return;
    }
    if let Some(sel) = node.path_mut(path) {
        sel.set_str(&pr.0, &pr.1, &[]);
    }
}

fn label_set(map: Option<&Node>) -> Vec<(String, String)> {
    map.and_then(Node::as_map)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.scalar_text()?.to_string(), v.scalar_text()?.to_string())))
        .collect()
}

/// Sets each pair in the mapping `key` of `meta` (created after the first of `after` when
/// missing), keeping existing keys where they are.
fn merge(meta: &mut Node, key: &str, pairs: &[(String, String)], after: &[&str]) {
    if pairs.is_empty() {
        return;
    }
    let Some(map) = meta.ensure_map(key, after) else {
        return;
    };
    for (k, v) in pairs {
        map.set_str(k, v, &[]);
    }
}
