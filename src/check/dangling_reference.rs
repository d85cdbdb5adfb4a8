//! KG004 `dangling-reference`.
//!
//! ## What it finds
//! A reference by name (a Secret, ConfigMap, ServiceAccount, PVC, Service, ...) to a
//! namespaced object that is neither in the input nor created by something in it. Created
//! count: produced names (connection Secrets, Certificates' Secrets, the TLS Secrets of
//! cert-manager's ingress-shim and gateway-shim, `produces: true` entries), Secrets a Job may
//! create (its ServiceAccount is granted `create` or `patch` on secrets by a Role of the
//! input), claims of StatefulSets, and names an object declares with the annotation
//! `kubectl-gitops.io/produces: Secret/NAME` (the documented escape hatch for anything else
//! that creates objects). References into another namespace, the `default` ServiceAccount and
//! cluster-scoped targets (StorageClass, ClusterRole, Composition) are fine.
//!
//! ## Why
//! Such an object has to exist already in every namespace the app goes to. In a preview,
//! which renders into a brand-new namespace, it never does: pods wait on a missing Secret.
//! Create it with the app, or mark it as provided by the platform with the annotation
//! `<labelPrefix>/check-ignore: KG004` on the referring object.
//!
//! ## Example
//! An Ingress with `tls: [{secretName: web-tls}]` and no `web-tls` Secret or Certificate in
//! the input: `KG004 Ingress/web: spec.tls.secretName refers to Secret "web-tls", which is not
//! in the input ...`.

use std::collections::BTreeSet;

use super::{Facts, Finding, Rule};
use crate::model::GroupKind;
use crate::transform::produced::{produced_names, provided};
use crate::transform::refs;

pub const RULE: Rule = Rule {
    code: "KG004",
    name: "dangling-reference",
    summary: "a reference to a namespaced object that the input neither holds nor produces",
    run,
};

fn run(f: &Facts, out: &mut Vec<Finding>) {
    // What the whole app holds or produces: the app's other directories count (the Secret
    // the claim in infrastructure/ produces exists for the Deployment in kubernetes/).
    let mut known: BTreeSet<(GroupKind, String)> = BTreeSet::new();
    for o in &f.app.objects {
        if let Some(n) = &o.name {
            known.insert((o.gk.clone(), n.clone()));
        }
        for (gk, name, _, _, _) in produced_names(o, &f.scopes.classify(o), &f.ctx) {
            known.insert((gk, name));
        }
    }
    let provided = provided(&f.input.objects, &f.ctx);
    let rows = refs::rows(&f.ctx);
    for (i, o) in f.input.objects.iter().enumerate() {
        for r in refs::collect(o, f.classes[i].role, &rows) {
            if r.namespace.is_some()
                || known
                    .iter()
                    .any(|(gk, n)| *n == r.name && r.target.matches(gk))
                || provided.contains_pattern(&r.target, &r.name)
                || !f.scopes.is_namespaced_pattern(&r.target)
                || (r.target.kind == "ServiceAccount" && r.name == "default")
            {
                continue;
            }
            out.push(Finding {
                loc: r.loc,
                code: RULE.code,
                msg: format!(
                    "{}: {} refers to {} {:?}, which is not in the input: it must already exist in every namespace the app goes to, and a preview's new namespace will not have it",
                    o.label(),
                    r.field,
                    r.target.kind,
                    r.name
                ),
            });
        }
    }
}
