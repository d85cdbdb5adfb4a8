//! Steps 3 and 4 (DESIGN.md §4.3–4.4): the final name of every object, computed once into a
//! [`RenameMap`], and written to `metadata.name` / `metadata.generateName`.
//!
//! In a preview every namespaced object gets the name suffix (`rename: all`), or only claims,
//! composite resources and allowed cluster-scoped instances (`rename: claims`). Names that a
//! resource *produces* ([`super::produced`]: a claim's connection Secret, a Certificate's
//! Secret, ...) count as objects: they are renamed with their producer, so every consumer
//! follows. Environment renders rename nothing. Names that would be too long for their kind
//! are shortened by [`crate::naming::fit`]; a name left as it was is validated and warned
//! about.
//!
//! Three rules beyond the suffix:
//! - the ServiceAccount `default` is never renamed: pods without `serviceAccountName` use the
//!   namespace's `default`, with its image pull secrets;
//! - an object whose name is a reference (a pack entry at `metadata.name`: Endpoints are named
//!   like their Service) takes its target's final name, hash shortening included;
//! - the claims a StatefulSet's `volumeClaimTemplates` create (`<template>-<sts>-<n>`) follow
//!   the StatefulSet's new name, so a Pod or snapshot naming `data-db-0` follows too.

use crate::collections::HashMap;

use crate::config::RenameMode;
use crate::config::references::What;
use crate::diag::Warning;
use crate::model::scope::Role;
use crate::model::{GroupKind, Loc, Object, fieldspec};
use crate::naming::{self, NameRule};
use crate::transform::policy::Placement;
use crate::transform::produced::{is_claim_of, produced_names};
use crate::transform::refs;
use crate::transform::{Ctx, Plan};

/// Old name -> final name, per group and kind.
#[derive(Debug, Default)]
pub struct RenameMap {
    by_kind: HashMap<GroupKind, HashMap<String, String>>,
    /// Names produced by objects in the input, with their final names.
    pub produced: Vec<Produced>,
    /// StatefulSet claim templates: (template, StatefulSet's name, StatefulSet's index).
    pub claims: Vec<(String, String, usize)>,
}

impl RenameMap {
    pub fn get(&self, gk: &GroupKind, old: &str) -> Option<&str> {
        self.by_kind.get(gk)?.get(old).map(String::as_str)
    }

    /// The final name of `old`, including the claims of StatefulSets
    /// (`data-db-0` -> `data-db-pr-7-0` when `db` becomes `db-pr-7`).
    pub fn resolve(&self, gk: &GroupKind, old: &str) -> Option<String> {
        if let Some(new) = self.get(gk, old) {
            return Some(new.to_string());
        }
        if !gk.is("", "PersistentVolumeClaim") {
            return None;
        }
        let sts = GroupKind::new("apps", "StatefulSet");
        self.claims.iter().find_map(|(t, s, _)| {
            if !is_claim_of(old, t, s) {
                return None;
            }
            let ordinal = &old[t.len() + s.len() + 2..];
            self.get(&sts, s).map(|new| format!("{t}-{new}-{ordinal}"))
        })
    }

    /// Every (kind, old name, new name) that changes, sorted (for the safety net).
    pub fn changes(&self) -> Vec<(&GroupKind, &str, &str)> {
        let mut out: Vec<(&GroupKind, &str, &str)> = self
            .by_kind
            .iter()
            .flat_map(|(gk, m)| {
                m.iter()
                    .filter(|(o, n)| o != n)
                    .map(move |(o, n)| (gk, o.as_str(), n.as_str()))
            })
            .collect();
        out.sort_unstable();
        out
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
    let names_in_input: crate::collections::HashSet<(&GroupKind, &str)> = objects
        .iter()
        .filter_map(|o| o.name.as_deref().map(|n| (&o.gk, n)))
        .collect();
    for (i, o) in objects.iter().enumerate() {
        let class = &plan.classes[i];
        let rule = naming::rule_for(&o.gk, class);
        // Pods without serviceAccountName use their namespace's `default`: never renamed.
        let default_sa = o.gk.is("", "ServiceAccount") && o.name.as_deref() == Some("default");
        let renamed = suffix
            .as_deref()
            .filter(|_| !default_sa && is_renamed(plan, i, ctx.config.preview.rename));
        match (&o.name, &o.generate_name, renamed) {
            // `name:` with no value (`metadata: {name}`, `name: ~`, `name: ""`): the model
            // reads it as no name, so there is nothing to suffix, and a suffix alone
            // ("-pr-7") would be a name nobody wrote. Kubernetes refuses the object as it is;
            // say so and leave it.
            (None, None, _) if o.node.path(&["metadata", "name"]).is_some() => {
                warnings.push(Warning::at(
                    o.loc_of(&["metadata", "name"]),
                    format!(
                        "{}: metadata.name is empty: Kubernetes will refuse this object",
                        o.label()
                    ),
                ));
            }
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
        for (gk, name, namespace, loc, adopts) in produced_names(o, class, ctx) {
            // cert-manager writes into a Secret the input already holds: that Secret is the
            // object (renamed by its own rule), not a second one.
            if adopts && names_in_input.contains(&(&gk, name.as_str())) {
                continue;
            }
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
        if o.gk.is("apps", "StatefulSet") {
            if let Some(sts) = &o.name {
                fieldspec::visit(
                    &o.node,
                    &["spec", "volumeClaimTemplates", "metadata", "name"],
                    &mut |n| {
                        if let Some(t) = n.as_str() {
                            map.claims.push((t.to_string(), sts.clone(), i));
                        }
                    },
                );
            }
        }
    }
    follow_targets(objects, plan, ctx, &mut map);
    map
}

/// Objects whose name is a reference (a pack or gitops.yaml entry at `metadata.name`, such as
/// Endpoints named like their Service) take their target's final name, so a Service shortened
/// with a hash and its Endpoints stay one name.
fn follow_targets(objects: &[Object], plan: &Plan, ctx: &Ctx, map: &mut RenameMap) {
    let followers: Vec<_> = refs::rows(ctx)
        .into_iter()
        .filter(|r| refs::is_name_follower(r) && !r.produces)
        .collect();
    if followers.is_empty() || map.is_empty() {
        return;
    }
    for (i, o) in objects.iter().enumerate() {
        let Some(name) = &o.name else { continue };
        for spec in &followers {
            if !spec.applies(&o.gk.group, &o.gk.kind, plan.classes[i].role) {
                continue;
            }
            let What::Name(p) = &spec.what else { continue };
            let target = p
                .group_kind()
                .unwrap_or_else(|| GroupKind::new("", &p.kind));
            if let Some(new) = map.get(&target, name).map(str::to_string) {
                map.insert(&o.gk, name, new);
            }
        }
    }
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
        } else if o.name.as_deref().is_none_or(str::is_empty) {
            // generateName-only objects (Kubernetes reads an empty name as none): `x-`
            // becomes `x-pr-7-`.
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
