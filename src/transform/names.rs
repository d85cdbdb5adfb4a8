//! Steps 3 and 4 (DESIGN.md §4.3–4.4): the final name of every object, computed once into a
//! [`RenameMap`], and written to `metadata.name` / `metadata.generateName`.
//!
//! In a preview every namespaced object gets the name suffix (`rename: all`), or only claims,
//! composite resources and allowed cluster-scoped instances (`rename: claims`). Names that a
//! resource *produces* count as objects: a claim's connection Secret
//! (`spec.writeConnectionSecretToRef.name`), a cert-manager Certificate's `spec.secretName`,
//! an ExternalSecret's target, a SealedSecret's Secret, and gitops.yaml `references:` with
//! `produces: true`. They are renamed with their producer, so every consumer follows.
//! Environment renders rename nothing. Names that would be too long for their kind are
//! shortened by [`crate::naming::fit`]; a name left as it was is validated and warned about.

use std::collections::HashMap;

use crate::config::RenameMode;
use crate::diag::Warning;
use crate::model::scope::{Class, Role};
use crate::model::{GroupKind, Loc, Object, fieldspec};
use crate::naming::{self, NameRule};
use crate::transform::policy::Placement;
use crate::transform::{Ctx, Plan};
use crate::yaml::Node;

/// Old name -> final name, per group and kind.
#[derive(Debug, Default)]
pub struct RenameMap {
    by_kind: HashMap<GroupKind, HashMap<String, String>>,
    /// Names produced by objects in the input, with their final names.
    pub produced: Vec<Produced>,
}

impl RenameMap {
    pub fn get(&self, gk: &GroupKind, old: &str) -> Option<&str> {
        self.by_kind.get(gk)?.get(old).map(String::as_str)
    }

    fn insert(&mut self, gk: &GroupKind, old: &str, new: String) {
        self.by_kind
            .entry(gk.clone())
            .or_default()
            .insert(old.to_string(), new);
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty()
    }
}

/// A name an object will make exist.
#[derive(Clone, Debug)]
pub struct Produced {
    pub producer: usize,
    pub gk: GroupKind,
    /// As written in the input.
    pub name: String,
    /// After renaming.
    pub final_name: String,
    /// The namespace written next to the name, when there is one.
    pub namespace: Option<String>,
    pub loc: Loc,
}

/// The names `o` produces, as (kind, name, explicit namespace, location).
pub fn produced_names(
    o: &Object,
    class: &Class,
    ctx: &Ctx,
) -> Vec<(GroupKind, String, Option<String>, Loc)> {
    let mut out = Vec::new();
    let secret = GroupKind::new("", "Secret");
    let at = |path: &[&str], gk: &GroupKind, out: &mut Vec<_>| {
        fieldspec::visit(&o.node, path, &mut |n| {
            if let Some(name) = n.as_str().filter(|s| !s.is_empty()) {
                out.push((gk.clone(), name.to_string(), None, Loc::new(&o.file, n.pos)));
            }
        });
    };
    if class.role != Role::Plain {
        let refs: &[&str] = &["spec", "writeConnectionSecretToRef"];
        fieldspec::visit(&o.node, refs, &mut |r| {
            if let Some(name) = r
                .get("name")
                .and_then(Node::as_str)
                .filter(|s| !s.is_empty())
            {
                let ns = r
                    .get("namespace")
                    .and_then(Node::as_str)
                    .map(str::to_string);
                let pos = r.get("name").map_or(r.pos, |n| n.pos);
                out.push((secret.clone(), name.to_string(), ns, Loc::new(&o.file, pos)));
            }
        });
    }
    match (o.gk.group.as_str(), o.gk.kind.as_str()) {
        ("cert-manager.io", "Certificate") => at(&["spec", "secretName"], &secret, &mut out),
        ("external-secrets.io", "ExternalSecret") => {
            let target = o
                .node
                .path(&["spec", "target", "name"])
                .and_then(Node::as_str);
            match target {
                Some(_) => at(&["spec", "target", "name"], &secret, &mut out),
                // Without a target name, the Secret is named like the ExternalSecret.
                None => {
                    if let Some(n) = &o.name {
                        out.push((secret.clone(), n.clone(), None, o.loc()));
                    }
                }
            }
        }
        ("bitnami.com", "SealedSecret") => {
            if let Some(n) = &o.name {
                out.push((secret.clone(), n.clone(), None, o.loc()));
            }
        }
        _ => {}
    }
    for r in &ctx.config.references {
        if r.produces && r.kind == o.gk.kind && r.group.as_ref().is_none_or(|g| *g == o.gk.group) {
            let path: Vec<&str> = r.path.iter().map(String::as_str).collect();
            at(&path, &r.target, &mut out);
        }
    }
    out
}

/// Whether object `i` gets the preview suffix.
fn is_renamed(plan: &Plan, i: usize, mode: RenameMode) -> bool {
    match plan.placements[i] {
        Placement::ClusterInstance => true,
        Placement::Namespaced => match mode {
            RenameMode::All => true,
            RenameMode::Claims => matches!(plan.classes[i].role, Role::Claim | Role::Composite),
        },
        _ => false,
    }
}

/// Computes the rename map, and warns about names left as they were that are not valid.
pub fn plan(objects: &[Object], plan: &Plan, ctx: &Ctx, warnings: &mut Vec<Warning>) -> RenameMap {
    let mut map = RenameMap::default();
    let suffix = ctx.suffix();
    let secret_rule = NameRule::Subdomain { max: 253 };
    for (i, o) in objects.iter().enumerate() {
        let class = &plan.classes[i];
        let rule = naming::rule_for(&o.gk, class);
        let renamed = suffix
            .as_deref()
            .filter(|_| is_renamed(plan, i, ctx.config.preview.rename));
        match (&o.name, &o.generate_name, renamed) {
            (Some(name), _, Some(sfx)) => {
                let new = naming::fit(name, sfx, rule.max());
                if !rule.allows(&new) {
                    warnings.push(Warning::at(
                        o.loc_of(&["metadata", "name"]),
                        format!("{}: {new:?} is not {}", o.label(), rule.describe()),
                    ));
                }
                map.insert(&o.gk, name, new);
            }
            (Some(name), _, None)
                if !rule.allows(name) && plan.placements[i] != Placement::OtherNamespace =>
            {
                warnings.push(Warning::at(
                    o.loc_of(&["metadata", "name"]),
                    format!("{}: the name is not {}", o.label(), rule.describe()),
                ));
            }
            _ => {}
        }
        for (gk, name, namespace, loc) in produced_names(o, class, ctx) {
            let final_name = match renamed {
                Some(sfx) => {
                    let new = naming::fit(&name, sfx, secret_rule.max());
                    map.insert(&gk, &name, new.clone());
                    new
                }
                None => name.clone(),
            };
            map.produced.push(Produced {
                producer: i,
                gk,
                name,
                final_name,
                namespace,
                loc,
            });
        }
    }
    map
}

/// Writes the new names into `metadata.name` and `metadata.generateName`.
pub fn apply(objects: &mut [Object], map: &RenameMap, plan: &Plan, ctx: &Ctx) {
    let Some(suffix) = ctx.suffix() else {
        return;
    };
    for (i, o) in objects.iter_mut().enumerate() {
        if let Some(new) = o.name.as_deref().and_then(|n| map.get(&o.gk, n)) {
            let new = new.to_string();
            if let Some(meta) = o.node.get_mut("metadata") {
                meta.set_str("name", &new, &[]);
            }
        } else if o.name.is_none() {
            // generateName-only objects: `x-` becomes `x-pr-7-`.
            let Some(g) = o.generate_name.clone() else {
                continue;
            };
            if !is_renamed(plan, i, ctx.config.preview.rename) {
                continue;
            }
            let new = naming::fit_generate_name(&g, &suffix);
            if let Some(meta) = o.node.get_mut("metadata") {
                meta.set_str("generateName", &new, &[]);
            }
        }
    }
}
