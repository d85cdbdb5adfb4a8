//! KG012 `unfollowed-reference`.
//!
//! ## What it finds
//! In a preview, a value that still equals the old name of an object the preview renames,
//! where a reference usually sits: a key ending in `Ref`, `Refs` or `Name`, `name` under such
//! a key, `gateways`, `dependsOn`, a key that is the kind it names (`existingSecret`,
//! `existingClaim`, `secret`, `configMap`, `service.name`: Helm values), or a host key
//! holding a renamed Service's DNS name
//! (DESIGN.md §4.5, "right or loud"). Fields the packs or gitops.yaml `references:` cover are
//! decided there and never reported.
//!
//! ## Why
//! kubectl-gitops rewrites the references it knows (the packs, `references:`). A field of a
//! custom resource it does not know keeps the production name, and the preview silently talks
//! to the wrong object, or to none. Declaring the field makes every render follow it.
//!
//! ## Example
//! A `Widget` with `spec.backendRef.name: web` next to a Service `web` that the preview renames
//! to `web-pr-7`: `KG012 Widget/w: spec.backendRef.name is "web", the old name of Service/web,
//! which this render renames to "web-pr-7"; if this field refers to it, declare the field in
//! gitops.yaml so that renders follow it: references: [{kind: Widget, group: example.com,
//! path: spec.backendRef.name, target: Service}]`. Names that are not references (a value
//! that happens to equal a name) are silenced with `<labelPrefix>/check-ignore: KG012`.

use super::{Facts, Finding, Rule};

pub const RULE: Rule = Rule {
    code: "KG012",
    name: "unfollowed-reference",
    summary: "a value still naming a renamed object's old name where a reference usually sits",
    run,
};

fn run(f: &Facts, out: &mut Vec<Finding>) {
    for r in f.renderings.iter().filter(|r| r.ctx.identity.is_preview()) {
        for s in &r.analysis.stale {
            out.push(Finding {
                loc: s.loc.clone(),
                code: RULE.code,
                msg: s.message(),
            });
        }
    }
}
