//! KG010 `collision`.
//!
//! ## What it finds
//! Two objects that, in some environment or preview, end with the same kind, namespace and
//! name: both written in different namespaces that the environment merges into one, or `web`
//! next to a `web-pr-7` that a preview's rename turns `web` into.
//!
//! ## Why
//! Kubernetes keeps one of them; the other's settings are silently lost, and Argo CD fights
//! over the object. A render refuses this; `check` shows every case at once.
//!
//! ## Example
//! Two Roles `prometheus-k8s` for the namespaces `default` and `kube-system`, rendered into
//! one preview namespace: `KG010 in preview pr-999999: Role/prometheus-k8s collides with ...`.

use super::{Facts, Finding, Rule};

pub const RULE: Rule = Rule {
    code: "KG010",
    name: "collision",
    summary: "two objects end with the same kind, namespace and name",
    run,
};

fn run(f: &Facts, out: &mut Vec<Finding>) {
    for r in &f.renderings {
        for c in &r.analysis.collisions {
            if c.first.produced || c.second.produced {
                continue; // KG002
            }
            out.push(Finding {
                loc: c.second.loc.clone(),
                code: RULE.code,
                msg: format!(
                    "in {}: {} collides with {} at {}: both end up as {}",
                    r.label, c.second.what, c.first.what, c.first.loc, c.id
                ),
            });
        }
    }
}
