//! No two objects may end with the same kind, namespace and name (DESIGN.md §4.4): that
//! would be a silent merge in the cluster, one object overwriting the other. Names that
//! resources produce count too: two claims writing one connection Secret is the classic
//! "existing secret is not owned by UID" failure of two previews.

use crate::collections::HashMap;

use crate::diag::Warning;
use crate::error::Error;
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

/// One side of a collision.
#[derive(Clone, Debug)]
pub struct Party {
    pub loc: Loc,
    pub what: String,
    /// A name a resource produces (a connection Secret), not an object in the input.
    pub produced: bool,
}

/// Two things that end with the same kind, namespace and name.
#[derive(Clone, Debug)]
pub struct Collision {
    pub id: String,
    pub first: Party,
    pub second: Party,
}

impl Collision {
    pub fn to_error(&self) -> Error {
        Error::Collision {
            loc: self.second.loc.clone(),
            what: self.second.what.clone(),
            first: self.first.loc.clone(),
            first_what: self.first.what.clone(),
            id: self.id.clone(),
        }
    }
}

/// Every collision, in input order (objects first, then produced names).
pub fn find(objects: &[Object], plan: &Plan, renames: &RenameMap, ctx: &Ctx) -> Vec<Collision> {
    let mut seen: HashMap<Id, Party> = HashMap::default();
    let mut out = Vec::new();
    let mut visit = |id: Id, party: Party| {
        if let Some(first) = seen.get(&id) {
            out.push(Collision {
                id: describe(&id),
                first: first.clone(),
                second: party,
            });
        } else {
            seen.insert(id, party);
        }
    };
    for (i, o) in objects.iter().enumerate() {
        if matches!(
            plan.placements[i],
            Placement::DuplicateNamespace | Placement::Refused
        ) {
            continue;
        }
        let Some(name) = o.current_name() else {
            continue;
        };
        let ns = o.current_namespace().map(str::to_string);
        visit(
            (o.gk.clone(), ns, name.to_string()),
            Party {
                loc: o.loc(),
                what: o.label(),
                produced: false,
            },
        );
    }
    for p in &renames.produced {
        if plan.placements[p.producer] == Placement::Refused {
            continue;
        }
        let producer = &objects[p.producer];
        // A produced Secret lands next to its producer, or where its ref says.
        let ns = produced_namespace(p, producer, ctx);
        let what = format!(
            "the {} {:?} that {} produces",
            p.gk.kind,
            p.final_name,
            producer.label()
        );
        visit(
            (p.gk.clone(), ns, p.final_name.clone()),
            Party {
                loc: p.loc.clone(),
                what,
                produced: true,
            },
        );
    }
    out
}

/// Where a produced name lands: the target namespace when one is decided, else the
/// namespace written next to it, else the producer's.
pub fn produced_namespace(
    p: &crate::transform::names::Produced,
    producer: &Object,
    ctx: &Ctx,
) -> Option<String> {
    match (&p.namespace, ctx.identity.namespace.as_deref()) {
        (_, Some(target)) => Some(target.to_string()),
        (Some(ns), None) => Some(ns.clone()),
        (None, None) => producer.current_namespace().map(str::to_string),
    }
}

/// A render without identity passes duplicates through, with a warning: Argo CD would
/// report them as repeated resources.
pub fn warn_duplicates(objects: &[Object], warnings: &mut Vec<Warning>) {
    let mut seen: HashMap<Id, Loc> = HashMap::default();
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
