//! KG008 `label-tracking-with-claims`.
//!
//! ## What it finds
//! Claims deployed by an Argo CD that tracks resources by label
//! (`application.resourceTrackingMethod: label` in `argocd-cm`, found in the input or the
//! `--argocd` files, or given with `--tracking-method`). With `annotation+label` Argo CD
//! tracks by annotation and the label is only informational, so that is fine.
//!
//! ## Why
//! Crossplane copies a claim's labels to its composite resource, the tracking label
//! `app.kubernetes.io/instance` included. Argo CD then takes the XR for one of its own
//! resources, finds it missing from git, and prunes it: the database goes with it
//! (crossplane/crossplane#2121). Use `annotation` tracking, Argo CD's default since 3.0.
//!
//! ## Example
//! `KG008 PostgreSQLInstance/orders-db: Argo CD tracks resources by label (label, at
//! argocd-cm.yaml:7:3) ...`.

use super::{Facts, Finding, Rule};
use crate::model::scope::Role;

pub const RULE: Rule = Rule {
    code: "KG008",
    name: "label-tracking-with-claims",
    summary: "Argo CD tracks resources by label while the input holds claims",
    run,
};

fn run(f: &Facts, out: &mut Vec<Finding>) {
    let Some((method, at)) = &f.tracking else {
        return;
    };
    // With `annotation+label`, Argo CD tracks by annotation; the label is informational.
    if method.trim() != "label" {
        return;
    }
    let source = match at {
        Some(loc) => format!("{method}, at {loc}"),
        None => format!("{method}, from --tracking-method"),
    };
    for (i, o) in f.input.objects.iter().enumerate() {
        if f.classes[i].role != Role::Claim {
            continue;
        }
        out.push(Finding {
            loc: o.loc(),
            code: RULE.code,
            msg: format!(
                "{}: Argo CD tracks resources by label ({source}); Crossplane copies the claim's labels, the tracking label included, to its composite resource, which Argo CD then prunes as an extraneous resource of its own (use annotation tracking)",
                o.label()
            ),
        });
    }
}
