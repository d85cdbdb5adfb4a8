//! Step 8 (DESIGN.md §4.8): the environment's `claims:` settings are deep-merged into every
//! claim and composite resource, gitops.yaml winning: mappings merge key by key, anything
//! else is replaced.
//!
//! `claims:` is written at the level of a claim's `spec`. For v2 composite resources the
//! Crossplane machinery lives under `spec.crossplane`, so [`CROSSPLANE_KEYS`] are merged there
//! and everything else (parameters) into `spec`. When gitops.yaml sets a selector and the file
//! has a ref, the ref is removed (Crossplane ignores a selector next to a ref), and the other
//! way round, so each environment gets the composition it asked for.

use crate::model::Object;
use crate::model::scope::Role;
use crate::transform::{Ctx, Plan};
use crate::yaml::{Node, Value, is_merge_key};

/// Keys that v2 composite resources keep under `spec.crossplane`.
pub const CROSSPLANE_KEYS: &[&str] = &[
    "compositionRef",
    "compositionSelector",
    "compositionRevisionRef",
    "compositionRevisionSelector",
    "compositionUpdatePolicy",
];

/// Pairs that exclude each other: setting one removes the other.
const EXCLUSIVE: &[(&str, &str)] = &[
    ("compositionSelector", "compositionRef"),
    ("compositionRevisionSelector", "compositionRevisionRef"),
];

pub fn apply(objects: &mut [Object], plan: &Plan, ctx: &Ctx) {
    let Some(settings) = ctx.environment.as_ref().and_then(|e| e.claims.as_ref()) else {
        return;
    };
    let Some(entries) = settings.as_map() else {
        return;
    };
    for (i, o) in objects.iter_mut().enumerate() {
        let class = plan.classes[i];
        if !matches!(class.role, Role::Claim | Role::Composite) {
            continue;
        }
        for (k, v) in entries {
            let Some(key) = k.scalar_text() else { continue };
            let under_crossplane = class.v2 && CROSSPLANE_KEYS.contains(&key);
            let Some(spec) = o.node.ensure_map("spec", &["metadata"]) else {
                continue;
            };
            let target = if under_crossplane {
                match spec.ensure_map("crossplane", &[]) {
                    Some(t) => t,
                    None => continue,
                }
            } else {
                spec
            };
            for (set, other) in EXCLUSIVE {
                if key == *set {
                    target.remove(other);
                } else if key == *other {
                    target.remove(set);
                }
            }
            merge_into(target, key, v);
        }
    }
}

/// Deep-merges `value` under `key` of the mapping `target`.
fn merge_into(target: &mut Node, key: &str, value: &Node) {
    let existing = target.get_mut(key);
    match (existing, &value.value) {
        (Some(e), Value::Map(entries)) if e.as_map().is_some() => {
            for (k, v) in entries {
                if is_merge_key(k) {
                    continue;
                }
                if let Some(sub) = k.scalar_text() {
                    merge_into(e, sub, v);
                }
            }
        }
        _ => {
            let mut v = value.clone();
            strip_positions(&mut v);
            target.set(key, v, &[]);
        }
    }
}

/// Values copied from gitops.yaml keep their text and style but not their source positions,
/// which belong to another file.
fn strip_positions(n: &mut Node) {
    n.pos = Default::default();
    match &mut n.value {
        Value::Map(m) => {
            for (k, v) in m {
                strip_positions(k);
                strip_positions(v);
            }
        }
        Value::Seq(s) => s.iter_mut().for_each(strip_positions),
        Value::Scalar(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::emit::emit_stream;

    use crate::yaml::test_doc as doc;

    #[test]
    fn deep_merge_gitops_wins() {
        let mut spec = doc(
            "compositionSelector:\n  matchLabels: {provider: aws, tier: small}\nparameters: {size: 1}\n",
        );
        let settings = doc(
            "compositionSelector:\n  matchLabels: {tier: ha}\nparameters: {size: 3, zones: [a, b]}\n",
        );
        for (k, v) in settings.as_map().unwrap_or_else(|| panic!()) {
            merge_into(&mut spec, k.scalar_text().unwrap_or_default(), v);
        }
        assert_eq!(
            emit_stream([&spec]),
            "compositionSelector:\n  matchLabels:\n    provider: aws\n    tier: ha\nparameters:\n  size: 3\n  zones:\n  - a\n  - b\n"
        );
    }
}
