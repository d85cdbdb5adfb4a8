//! KG006 `ambiguous-composition-selector`.
//!
//! ## What it finds
//! A claim or composite resource whose `compositionSelector` (as written, or as an
//! environment's `claims:` settings make it) matches several Compositions of the input for
//! its composite type.
//!
//! ## Why
//! Crossplane then picks one of the matching Compositions at random: the same commit gets a
//! small database in one environment and an HA one in another, or changes on a re-create.
//! Add a label that tells them apart (`tier: ha`), or use `compositionRef`.
//!
//! ## Example
//! Compositions `postgres-small` and `postgres-ha` both labelled `provider: aws`, and a claim
//! selecting `{provider: aws}`: `KG006 PostgreSQLInstance/orders-db: in env dev,
//! compositionSelector {provider: aws} matches 2 Compositions (postgres-ha, postgres-small) ...`.

use super::{Facts, Finding, Rule};
use crate::model::scope::Role;
use crate::model::{GroupKind, Object, gvk};
use crate::yaml::Node;

pub const RULE: Rule = Rule {
    code: "KG006",
    name: "ambiguous-composition-selector",
    summary: "a compositionSelector matches several Compositions",
    run,
};

struct Composition<'a> {
    name: &'a str,
    type_gk: Option<GroupKind>,
    labels: Vec<(String, String)>,
}

fn labels(n: Option<&Node>) -> Vec<(String, String)> {
    n.and_then(Node::as_map)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.scalar_text()?.to_string(), v.scalar_text()?.to_string())))
        .collect()
}

fn run(f: &Facts, out: &mut Vec<Finding>) {
    let compositions: Vec<Composition> = f
        .input
        .objects
        .iter()
        .filter(|o| o.gk.is("apiextensions.crossplane.io", "Composition"))
        .map(|o| Composition {
            name: o.name.as_deref().unwrap_or(""),
            type_gk: o.node.path(&["spec", "compositeTypeRef"]).and_then(|r| {
                let api = r.get("apiVersion").and_then(Node::as_str)?;
                let kind = r.get("kind").and_then(Node::as_str)?;
                Some(GroupKind::new(gvk::split_api_version(api).0, kind))
            }),
            labels: labels(o.node.path(&["metadata", "labels"])),
        })
        .collect();
    if compositions.len() < 2 {
        return;
    }
    // Claim kind -> composite kind, from the XRDs of the input.
    let xr_of_claim = |claim: &Object| -> Option<GroupKind> {
        f.input
            .objects
            .iter()
            .filter(|o| {
                o.gk.is("apiextensions.crossplane.io", "CompositeResourceDefinition")
            })
            .find_map(|x| {
                let group = x.node.path(&["spec", "group"]).and_then(Node::as_str)?;
                let claim_kind = x
                    .node
                    .path(&["spec", "claimNames", "kind"])
                    .and_then(Node::as_str)?;
                let xr_kind = x
                    .node
                    .path(&["spec", "names", "kind"])
                    .and_then(Node::as_str)?;
                (claim.gk.is(group, claim_kind)).then(|| GroupKind::new(group, xr_kind))
            })
    };
    for r in &f.renderings {
        for (i, o) in r
            .analysis
            .input
            .objects
            .iter()
            .enumerate()
            .take(f.input.objects.len())
        {
            let class = r.analysis.plan.classes[i];
            if !matches!(class.role, Role::Claim | Role::Composite) {
                continue;
            }
            let path: &[&str] = if class.v2 {
                &["spec", "crossplane", "compositionSelector", "matchLabels"]
            } else {
                &["spec", "compositionSelector", "matchLabels"]
            };
            let wanted = labels(o.node.path(path));
            if wanted.is_empty() {
                continue;
            }
            let type_gk = if class.role == Role::Claim {
                xr_of_claim(o)
            } else {
                Some(o.gk.clone())
            };
            let mut matching: Vec<&str> = compositions
                .iter()
                .filter(|c| match (&type_gk, &c.type_gk) {
                    (Some(t), Some(ct)) => t == ct,
                    // Without an XRD, a claim's composite type is unknown; Crossplane's
                    // convention names it X<claim kind> in the same group.
                    (None, Some(ct)) => {
                        ct.group == o.gk.group && ct.kind == format!("X{}", o.gk.kind)
                    }
                    _ => false,
                })
                .filter(|c| wanted.iter().all(|w| c.labels.contains(w)))
                .map(|c| c.name)
                .collect();
            if matching.len() < 2 {
                continue;
            }
            matching.sort_unstable();
            let selector: Vec<String> = wanted.iter().map(|(k, v)| format!("{k}: {v}")).collect();
            let before = &f.input.objects[i];
            out.push(Finding {
                loc: before.loc_of(&path[..path.len() - 1]),
                code: RULE.code,
                msg: format!(
                    "{}: in {}, compositionSelector {{{}}} matches {} Compositions ({}); Crossplane picks one at random (add a label that tells them apart, or use compositionRef)",
                    before.label(),
                    r.label,
                    selector.join(", "),
                    matching.len(),
                    matching.join(", ")
                ),
            });
        }
    }
}
