//! No two objects may end with the same kind, namespace and name (DESIGN.md §4.4): that
//! would be a silent merge in the cluster, one object overwriting the other. Names that
//! resources produce count too: two claims writing one connection Secret is the classic
//! "existing secret is not owned by UID" failure of two previews.

use std::collections::HashMap;

use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::{GroupKind, Loc, Object};
use crate::transform::names::RenameMap;
use crate::transform::policy::Placement;
use crate::transform::{Ctx, Plan};

/// The identity of an object in the cluster.
type Id = (GroupKind, Option<String>, String);

fn describe(id: &Id) -> String {
    match &id.1 {
        Some(ns) => format!("{} {}/{}", id.0, ns, id.2),
        None => format!("{} {}", id.0, id.2),
    }
}

/// Fails on the first collision, naming both objects.
pub fn check(objects: &[Object], plan: &Plan, renames: &RenameMap, ctx: &Ctx) -> Result<()> {
    let mut seen: HashMap<Id, (Loc, String)> = HashMap::new();
    let mut visit = |id: Id, loc: Loc, what: String| -> Result<()> {
        if let Some((first, first_what)) = seen.get(&id) {
            return Err(Error::Collision {
                loc,
                what,
                first: first.clone(),
                first_what: first_what.clone(),
                id: describe(&id),
            });
        }
        seen.insert(id, (loc, what));
        Ok(())
    };
    for (i, o) in objects.iter().enumerate() {
        if plan.placements[i] == Placement::DuplicateNamespace {
            continue;
        }
        let Some(name) = o.current_name() else {
            continue;
        };
        let ns = o.current_namespace().map(str::to_string);
        visit((o.gk.clone(), ns, name.to_string()), o.loc(), o.label())?;
    }
    for p in &renames.produced {
        let producer = &objects[p.producer];
        // A produced Secret lands next to its producer, or where its ref says.
        let ns = match (&p.namespace, ctx.identity.namespace.as_deref()) {
            (_, Some(target)) => Some(target.to_string()),
            (Some(ns), None) => Some(ns.clone()),
            (None, None) => producer.current_namespace().map(str::to_string),
        };
        let what = format!(
            "the {} {:?} that {} produces",
            p.gk.kind,
            p.final_name,
            producer.label()
        );
        visit(
            (p.gk.clone(), ns, p.final_name.clone()),
            p.loc.clone(),
            what,
        )?;
    }
    Ok(())
}

/// A render without identity passes duplicates through, with a warning: Argo CD would
/// report them as repeated resources.
pub fn warn_duplicates(objects: &[Object], warnings: &mut Vec<Warning>) {
    let mut seen: HashMap<Id, Loc> = HashMap::new();
    for o in objects {
        let Some(name) = &o.name else { continue };
        let id = (o.gk.clone(), o.namespace.clone(), name.clone());
        if let Some(first) = seen.get(&id) {
            warnings.push(Warning::at(
                o.loc(),
                format!("{} is defined twice (first at {first})", describe(&id)),
            ));
        } else {
            seen.insert(id, o.loc());
        }
    }
}
