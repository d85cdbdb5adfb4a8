//! Step 5 (DESIGN.md §4.5): every field that refers to an object by name follows the
//! [`RenameMap`], and references that carry a namespace follow the target namespace.
//!
//! *Where* references are is data: the built-in packs ([`crate::packs`], `packs/*.yaml`) and
//! gitops.yaml `references:`, in one schema ([`crate::config::references`]); this module is
//! their interpreter. What a field holds:
//! - a name ([`What::Name`]), written as a plain name, as a Service's DNS name
//!   (`reviews.shop.svc.cluster.local`) or as `namespace/name`;
//! - a mapping ([`What::Object`]) holding the name and, optionally, kind, group (or
//!   `apiGroup`, or `apiVersion`) and namespace (RoleBinding subjects, Gateway API refs, HPA
//!   targets, ...);
//! - a shape ([`What::Shape`]): a structure with references of its own (a pod spec).
//!
//! A reference designates an input object (or a produced name) of its kind and name. One
//! that names a namespace designates it only when that namespace is the object's own, the
//! environment's or the target namespace: `subjects: [{name: web, namespace: monitoring}]`
//! is somebody else's `web`, and is left alone. When it designates a namespaced object, its
//! namespace follows the target namespace. A reference to a `Namespace`
//! (`targetNamespace`, an Application's destination) follows the target namespace when it
//! names the object's own, the environment's or the target namespace; in a preview, naming
//! another one is refused, since the preview would deploy outside its sandbox.
//!
//! A reference to something not in the input is left alone; in a preview it is a warning,
//! since that object will not exist in the preview namespace, unless something in the input
//! creates it ([`super::produced`]). A shared definition of a preview (an allowed
//! cluster-scoped object, shared by every preview) may not refer to a per-preview object:
//! each preview would rewrite it to its own, so that is refused. Strings inside values (env
//! values, ConfigMap data) are never rewritten.
//!
//! Two special cases the schema cannot express are named functions: Role `resourceNames`
//! ([`rewrite_resource_names`]: the kind comes from the rule's `resources`) and references
//! between Crossplane managed resources ([`rewrite_managed_refs`]: the field does not say
//! which kind it means).

use crate::collections::{HashMap, HashSet};

use crate::config::references::{Format, NsRule, ObjectRef, RefSpec, What};
use crate::diag::Warning;
use crate::error::Error;
use crate::model::gvk::{self, KindPattern};
use crate::model::scope::{Role, Scopes};
use crate::model::{GroupKind, Loc, Object};
use crate::packs::{self, Knowledge};
use crate::transform::names::RenameMap;
use crate::transform::policy::Placement;
use crate::transform::produced::{Provided, is_claim_of};
use crate::transform::{Ctx, Plan};
use crate::yaml::{Node, Pos};

/// One place a reference sits: the leaf entry and the node it designates (a scalar for
/// [`What::Name`], a mapping for [`What::Object`]), with the field's dotted path.
pub struct Site<'a> {
    pub spec: &'a RefSpec,
    pub node: &'a Node,
    pub field: String,
}

/// Calls `f` on every reference site of `spec` below `node` (shapes expanded).
pub fn walk<'a>(k: &'a Knowledge, spec: &'a RefSpec, node: &'a Node, f: &mut dyn FnMut(Site<'a>)) {
    walk_at(k, spec, node, "", 0, f);
}

fn walk_at<'a>(
    k: &'a Knowledge,
    spec: &'a RefSpec,
    node: &'a Node,
    prefix: &str,
    depth: usize,
    f: &mut dyn FnMut(Site<'a>),
) {
    // Shapes nest a few levels (a pipeline's tasks' task specs); packs cannot loop forever.
    if depth > 16 || !spec.enabled(node) {
        return;
    }
    let field = if prefix.is_empty() {
        spec.path.to_string()
    } else {
        format!("{prefix}.{}", spec.path)
    };
    match &spec.what {
        What::Shape(name) => {
            let entries = k.shapes.get(name).map_or(&[][..], Vec::as_slice);
            spec.path.visit(node, &mut |n| {
                for e in entries {
                    walk_at(k, e, n, &field, depth + 1, f);
                }
            });
        }
        _ => spec.path.visit(node, &mut |n| {
            f(Site {
                spec,
                node: n,
                field: field.clone(),
            });
        }),
    }
}

/// Like [`walk`], with mutable access to the sites for which `wants` holds (nothing is
/// touched, merged keys included, where no edit is wanted).
fn walk_mut(
    k: &Knowledge,
    spec: &RefSpec,
    node: &mut Node,
    depth: usize,
    wants: &dyn Fn(&RefSpec, &Node) -> bool,
    f: &mut dyn FnMut(&RefSpec, &mut Node),
) {
    if depth > 16 || !spec.enabled(node) {
        return;
    }
    match &spec.what {
        What::Shape(name) => {
            let entries = k.shapes.get(name).map_or(&[][..], Vec::as_slice);
            let needed = |n: &Node| {
                let mut any = false;
                for e in entries {
                    walk(k, e, n, &mut |s| any = any || wants(s.spec, s.node));
                }
                any
            };
            spec.path.visit_mut(node, &needed, &mut |n| {
                for e in entries {
                    walk_mut(k, e, n, depth + 1, wants, f);
                }
            });
        }
        _ => spec
            .path
            .visit_mut(node, &|n| wants(spec, n), &mut |n| f(spec, n)),
    }
}

/// A reference as read: what it designates.
#[derive(Clone, Debug)]
pub struct RefValue {
    pub kind: KindPattern,
    pub name: String,
    /// The namespace the reference names, when it names one.
    pub namespace: Option<String>,
    /// Where the name is written.
    pub pos: Pos,
}

/// Reads a mapping reference.
pub fn read_object_ref(o: &ObjectRef, n: &Node) -> Option<RefValue> {
    let keys: Vec<&str> = o.name.iter().map(String::as_str).collect();
    let name_node = n.path(&keys)?;
    let name = name_node.as_str().filter(|s| !s.is_empty())?;
    let kind = o
        .kind_key
        .as_deref()
        .and_then(|k| n.get(k))
        .and_then(Node::as_str)
        .or(o.kind.as_deref())?;
    if !o.kinds.is_empty() && !o.kinds.iter().any(|k| k == kind) {
        return None;
    }
    let mut group = None;
    for key in &o.group_keys {
        if let Some(v) = n.get(key).and_then(Node::as_str) {
            group = Some(if key == "apiVersion" {
                gvk::split_api_version(v).0
            } else {
                v
            });
            break;
        }
    }
    let group = group.or(o.group.as_deref());
    let namespace = match o.namespace {
        NsRule::None => None,
        _ => n
            .get("namespace")
            .and_then(Node::as_str)
            .map(str::to_string),
    };
    Some(RefValue {
        kind: KindPattern {
            group: group.map(str::to_string),
            kind: kind.to_string(),
        },
        name: name.to_string(),
        namespace,
        pos: name_node.pos,
    })
}

/// A name as written in a [`What::Name`] field, split by its format.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Written {
    name: String,
    namespace: Option<String>,
    /// DNS names: what follows the namespace (`svc.cluster.local`), kept as written.
    rest: Option<String>,
}

fn split_written(format: Format, v: &str) -> Option<Written> {
    match format {
        Format::Name => Some(Written {
            name: v.to_string(),
            namespace: None,
            rest: None,
        }),
        Format::NamespacedName => Some(match v.split_once('/') {
            Some((ns, name)) => Written {
                name: name.to_string(),
                namespace: Some(ns.to_string()),
                rest: None,
            },
            None => Written {
                name: v.to_string(),
                namespace: None,
                rest: None,
            },
        }),
        Format::Dns => {
            let mut labels = v.splitn(3, '.');
            let name = labels.next()?.to_string();
            let namespace = labels.next().map(str::to_string);
            let rest = labels.next().map(str::to_string);
            // `name.ns.svc[.domain]`: anything else with three labels or more is a host
            // outside the cluster, not a Service.
            if rest
                .as_deref()
                .is_some_and(|r| r != "svc" && !r.starts_with("svc."))
            {
                return None;
            }
            Some(Written {
                name,
                namespace,
                rest,
            })
        }
    }
}

fn join_written(format: Format, w: &Written) -> String {
    match (format, &w.namespace) {
        (Format::NamespacedName, Some(ns)) => format!("{ns}/{}", w.name),
        (Format::Dns, Some(ns)) => match &w.rest {
            Some(rest) => format!("{}.{ns}.{rest}", w.name),
            None => format!("{}.{ns}", w.name),
        },
        _ => w.name.clone(),
    }
}

/// Reads a reference site: what it designates (`None` for empty or excepted values, and
/// DNS names outside the cluster).
pub fn read_site(spec: &RefSpec, n: &Node) -> Option<RefValue> {
    match &spec.what {
        What::Name(p) => {
            let v = n.as_str().filter(|s| !s.is_empty())?;
            if spec.except.iter().any(|e| e == v) {
                return None;
            }
            let w = split_written(spec.format, v)?;
            Some(RefValue {
                kind: p.clone(),
                name: w.name,
                namespace: w.namespace,
                pos: n.pos,
            })
        }
        What::Object(o) => read_object_ref(o, n).filter(|v| !spec.except.contains(&v.name)),
        What::Shape(_) => None,
    }
}

/// Whether a pattern designates core `Namespace` objects.
fn is_namespace_ref(p: &KindPattern) -> bool {
    p.kind == "Namespace" && p.group.as_deref().is_none_or(str::is_empty)
}

/// Whether a reference entry sits at `metadata.name`: the object's name follows its target's
/// (Endpoints), handled by [`super::names`].
pub fn is_name_follower(spec: &RefSpec) -> bool {
    spec.path.plain().as_deref() == Some(&["metadata", "name"][..])
}

/// Every reference row of a render: the packs', then gitops.yaml's.
pub fn rows(ctx: &Ctx) -> Vec<&RefSpec> {
    packs::builtin()
        .references
        .iter()
        .map(|(_, r)| r)
        .chain(&ctx.config.references)
        .collect()
}

/// Index of what exists in this render: objects and produced names, by kind and original
/// name, with their original namespace and whether they are namespaced. Built once per
/// render; every lookup is a hash lookup.
#[derive(Default)]
pub struct Known {
    by_kind: HashMap<String, HashMap<String, Vec<Candidate>>>,
    /// StatefulSet claim templates: (template, StatefulSet name, the claims' candidate).
    claims: Vec<(String, String, Candidate)>,
    provided: Provided,
}

#[derive(Clone, Debug)]
pub struct Candidate {
    pub gk: GroupKind,
    pub namespace: Option<String>,
    pub namespaced: bool,
    /// Index of the object (or of a produced name's producer).
    pub object: usize,
    /// Lands in the preview's namespace or gets the preview's suffix.
    pub per_preview: bool,
}

/// The outcome of resolving a reference.
enum Lookup<'k> {
    One(&'k Candidate),
    Missing,
    Ambiguous(Vec<GroupKind>),
}

impl Known {
    pub fn build(objects: &[Object], plan: &Plan, renames: &RenameMap, provided: Provided) -> Self {
        let mut k = Known {
            provided,
            ..Known::default()
        };
        for (i, o) in objects.iter().enumerate() {
            if let Some(name) = &o.name {
                let placement = plan.placements[i];
                let c = Candidate {
                    gk: o.gk.clone(),
                    namespace: o.namespace.clone(),
                    namespaced: placement == Placement::Namespaced,
                    object: i,
                    per_preview: matches!(
                        placement,
                        Placement::Namespaced | Placement::ClusterInstance
                    ),
                };
                // A field an earlier row already rewrote holds the final name.
                if let Some(new) = renames.get(&o.gk, name).filter(|n| n != name) {
                    k.add(c.clone(), new);
                }
                k.add(c, name);
            }
        }
        for (template, sts, object) in &renames.claims {
            let o = &objects[*object];
            k.claims.push((
                template.clone(),
                sts.clone(),
                Candidate {
                    gk: GroupKind::new("", "PersistentVolumeClaim"),
                    namespace: o.namespace.clone(),
                    namespaced: true,
                    object: *object,
                    per_preview: plan.placements[*object] == Placement::Namespaced,
                },
            ));
        }
        for p in &renames.produced {
            let c = Candidate {
                gk: p.gk.clone(),
                namespace: p
                    .namespace
                    .clone()
                    .or_else(|| objects[p.producer].namespace.clone()),
                namespaced: true,
                object: p.producer,
                per_preview: true,
            };
            if p.final_name != p.name {
                k.add(c.clone(), &p.final_name);
            }
            k.add(c, &p.name);
        }
        k
    }

    fn add(&mut self, c: Candidate, name: &str) {
        self.by_kind
            .entry(c.gk.kind.clone())
            .or_default()
            .entry(name.to_string())
            .or_default()
            .push(c);
    }

    /// Whether something of the pattern's kind and this name exists or will be created.
    pub fn contains(&self, p: &KindPattern, name: &str) -> bool {
        self.by_kind
            .get(&p.kind)
            .and_then(|m| m.get(name))
            .is_some_and(|cs| cs.iter().any(|c| p.matches(&c.gk)))
            || self.provided.contains_pattern(p, name)
    }
}

/// The namespaces a reference may name and still designate an input object: the object's
/// own (as written), the environment's, and the target namespace.
struct Namespaces<'a> {
    env: Option<&'a str>,
    target: Option<&'a str>,
}

impl Namespaces<'_> {
    fn designates(&self, ns: &str, c: &Candidate) -> bool {
        !c.namespaced
            || c.namespace.as_deref() == Some(ns)
            || self.env == Some(ns)
            || self.target == Some(ns)
    }
}

/// What a render did to references that later steps read.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Positions (object index, position) of every reference a row covers, rewritten or
    /// deliberately left alone: the safety net ([`super::stale`]) looks elsewhere.
    pub covered: HashSet<(usize, Pos)>,
}

/// Applies the packs, gitops.yaml `references:` and the special cases to every object.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    objects: &mut [Object],
    plan: &Plan,
    renames: &RenameMap,
    scopes: &Scopes,
    provided: Provided,
    ctx: &Ctx,
    warnings: &mut Vec<Warning>,
    refusals: &mut Vec<Error>,
) -> Outcome {
    let knowledge = packs::builtin();
    let known = Known::build(objects, plan, renames, provided);
    let r = Rewriter {
        knowledge,
        environments: ctx
            .config
            .environments
            .iter()
            .filter_map(|e| e.namespace.as_deref().map(|ns| (e.name.as_str(), ns)))
            .collect(),
        renames,
        known: &known,
        scopes,
        ns: Namespaces {
            env: ctx
                .environment
                .as_ref()
                .and_then(|e| e.namespace.as_deref()),
            target: ctx.identity.namespace.as_deref(),
        },
        preview: ctx.identity.is_preview(),
    };
    let rows = rows(ctx);
    // Rows indexed by the referrer's kind once per render.
    let mut by_kind: HashMap<&str, Vec<&RefSpec>> = HashMap::default();
    let mut any_kind = Vec::new();
    for spec in &rows {
        if is_name_follower(spec) {
            continue;
        }
        match &spec.kind {
            Some(k) => by_kind.entry(k.as_str()).or_default().push(*spec),
            None => any_kind.push(*spec),
        }
    }
    let mut outcome = Outcome::default();
    for (i, o) in objects.iter_mut().enumerate() {
        if plan.placements[i] == Placement::Refused {
            continue;
        }
        let role = plan.classes[i].role;
        let specific = by_kind
            .get(o.gk.kind.as_str())
            .map_or(&[][..], Vec::as_slice);
        for spec in specific.iter().chain(&any_kind) {
            if !spec.applies(&o.gk.group, &o.gk.kind, role) {
                continue;
            }
            r.rewrite(
                i,
                o,
                plan.placements[i],
                spec,
                &mut outcome,
                warnings,
                refusals,
            );
        }
        if o.gk.group == "rbac.authorization.k8s.io"
            && matches!(o.gk.kind.as_str(), "Role" | "ClusterRole")
        {
            rewrite_resource_names(o, renames);
        }
        // Fields the packs know are not references are decided too.
        for f in knowledge.not_references.iter().filter(|f| f.applies(&o.gk)) {
            f.path.visit(&o.node, &mut |n| {
                outcome.covered.insert((i, n.pos));
            });
        }
    }
    rewrite_managed_refs(objects, plan, renames);
    outcome
}

struct Rewriter<'a> {
    knowledge: &'a Knowledge,
    /// (environment, namespace) of gitops.yaml's environments.
    environments: Vec<(&'a str, &'a str)>,
    renames: &'a RenameMap,
    known: &'a Known,
    scopes: &'a Scopes,
    ns: Namespaces<'a>,
    preview: bool,
}

/// What [`Rewriter::decide`] needs to know of the referrer (read while its tree is edited).
struct Referrer {
    label: String,
    namespace: Option<String>,
}

impl Referrer {
    fn of(o: &Object) -> Referrer {
        Referrer {
            label: o.label(),
            namespace: o.namespace.clone(),
        }
    }
}

/// The edit a site needs.
enum Edit {
    /// A new scalar value.
    Scalar(String),
    /// A new name and/or namespace in a mapping reference.
    Object {
        name: Option<String>,
        namespace: Option<String>,
    },
}

impl Rewriter<'_> {
    /// Resolves a reference to the input object (or produced name) it designates.
    fn lookup(&self, v: &RefValue, referrer_ns: Option<&str>) -> Lookup<'_> {
        let Some(cands) = self
            .known
            .by_kind
            .get(&v.kind.kind)
            .and_then(|m| m.get(&v.name))
        else {
            return self.claim_of_statefulset(v);
        };
        let matching: Vec<&Candidate> = cands
            .iter()
            .filter(|c| v.kind.matches(&c.gk))
            .filter(|c| match &v.namespace {
                Some(ns) => self.ns.designates(ns, c),
                // Without a target namespace, objects keep their namespaces: a reference
                // without one means its referrer's.
                None => {
                    self.ns.target.is_some()
                        || !c.namespaced
                        || c.namespace.is_none()
                        || referrer_ns.is_none()
                        || c.namespace.as_deref() == referrer_ns
                }
            })
            .collect();
        let mut groups: Vec<GroupKind> = matching.iter().map(|c| c.gk.clone()).collect();
        groups.sort();
        groups.dedup();
        match (matching.first(), groups.len()) {
            (None, _) => Lookup::Missing,
            (Some(c), 1) => Lookup::One(c),
            _ => Lookup::Ambiguous(groups),
        }
    }

    /// A claim of a StatefulSet's volumeClaimTemplates (`<template>-<sts>-<n>`).
    fn claim_of_statefulset(&self, v: &RefValue) -> Lookup<'_> {
        if !v.kind.matches(&GroupKind::new("", "PersistentVolumeClaim")) {
            return Lookup::Missing;
        }
        match self
            .known
            .claims
            .iter()
            .find(|(t, s, _)| is_claim_of(&v.name, t, s))
        {
            Some((_, _, c)) => Lookup::One(c),
            None => Lookup::Missing,
        }
    }

    /// The new name of what a reference designates, when it has one.
    fn new_name(&self, c: &Candidate, name: &str) -> Option<String> {
        self.renames.resolve(&c.gk, name).filter(|new| new != name)
    }

    /// The namespace a namespaced reference should name.
    fn new_namespace(&self, c: &Candidate, ns: Option<&str>, required: bool) -> Option<String> {
        let target = self.ns.target?;
        (c.namespaced && (ns.is_some() || required) && ns != Some(target))
            .then(|| target.to_string())
    }

    /// What a site needs, or why it must be refused.
    fn decide(
        &self,
        spec: &RefSpec,
        n: &Node,
        referrer: &Referrer,
        placement: Placement,
    ) -> Result<Option<Edit>, String> {
        let Some(v) = read_site(spec, n) else {
            return Ok(None);
        };
        if let What::Name(p) = &spec.what {
            if is_namespace_ref(p) {
                return self.namespace_edit(&v.name, referrer, spec);
            }
        }
        let Lookup::One(c) = self.lookup(&v, referrer.namespace.as_deref()) else {
            return Ok(None);
        };
        let new_name = self.new_name(c, &v.name);
        let required = matches!(&spec.what, What::Object(o) if o.namespace == NsRule::Required);
        let new_ns = self.new_namespace(c, v.namespace.as_deref(), required);
        if placement == Placement::SharedDefinition && c.per_preview {
            return Err(format!(
                "{} is a shared definition of every preview (allowed by preview.allowClusterScoped), but it refers to {} {:?}, which belongs to one preview: each preview would rewrite it to its own. Keep this object out of the preview's input, or let it refer to something every preview shares",
                referrer.label, c.gk.kind, v.name
            ));
        }
        if new_name.is_none() && new_ns.is_none() {
            return Ok(None);
        }
        Ok(Some(match &spec.what {
            What::Name(_) => {
                let mut w =
                    split_written(spec.format, n.as_str().unwrap_or_default()).unwrap_or(Written {
                        name: v.name.clone(),
                        namespace: None,
                        rest: None,
                    });
                if let Some(name) = new_name {
                    w.name = name;
                }
                if let (Some(ns), Some(_)) = (new_ns, &w.namespace) {
                    w.namespace = Some(ns);
                }
                Edit::Scalar(join_written(spec.format, &w))
            }
            _ => Edit::Object {
                name: new_name,
                namespace: new_ns,
            },
        }))
    }

    /// A reference to a namespace: it follows the target when it names the object's own,
    /// the environment's or the target namespace; a preview refuses any other.
    fn namespace_edit(
        &self,
        ns: &str,
        referrer: &Referrer,
        field: &RefSpec,
    ) -> Result<Option<Edit>, String> {
        let Some(target) = self.ns.target else {
            return Ok(None);
        };
        let ours =
            referrer.namespace.as_deref() == Some(ns) || self.ns.env == Some(ns) || target == ns;
        if ours {
            return Ok((ns != target).then(|| Edit::Scalar(target.to_string())));
        }
        if self.preview && ns.contains("{{") {
            // An ApplicationSet's template: the namespace is only known when Argo CD
            // generates the Application, too late for the sandbox.
            return Err(format!(
                "{}: {} is the template {ns:?}, a namespace only known once Argo CD expands it: a preview may only deploy into its own namespace {target} (name the environment's namespace there, or leave the field out)",
                referrer.label, field.path
            ));
        }
        if self.preview {
            return Err(format!(
                "{}: {} names the namespace {ns:?}, outside the preview's namespace {target}: a preview may only deploy into its own namespace (name the environment's namespace there, or leave the field out)",
                referrer.label, field.path
            ));
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    fn rewrite(
        &self,
        index: usize,
        o: &mut Object,
        placement: Placement,
        spec: &RefSpec,
        outcome: &mut Outcome,
        warnings: &mut Vec<Warning>,
        refusals: &mut Vec<Error>,
    ) {
        // Read first: every site is covered, dangling references are reported, refusals
        // collected; then edit only where an edit is wanted.
        let mut refused = Vec::new();
        walk(self.knowledge, spec, &o.node, &mut |site| {
            let Some(v) = read_site(site.spec, site.node) else {
                return;
            };
            outcome.covered.insert((index, v.pos));
            outcome.covered.insert((index, site.node.pos));
            if let Err(msg) = self.decide(site.spec, site.node, &Referrer::of(o), placement) {
                refused.push(Error::Refused {
                    loc: Loc::new(&o.file, site.node.pos),
                    msg,
                });
                return;
            }
            if let What::Name(p) = &site.spec.what {
                if is_namespace_ref(p) {
                    self.check_other_environment(&v.name, &v, o, &site.field, warnings);
                    return;
                }
            }
            if let Some(ns) = &v.namespace {
                self.check_other_environment(ns, &v, o, &site.field, warnings);
            }
            match self.lookup(&v, o.namespace.as_deref()) {
                Lookup::Ambiguous(groups) => warnings.push(Warning::at(
                    Loc::new(&o.file, v.pos),
                    format!(
                        "{}: {} refers to {} {:?}, which the input holds in several API groups ({}); it is left as it is",
                        o.label(),
                        site.field,
                        v.kind.kind,
                        v.name,
                        groups.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                    ),
                )),
                Lookup::Missing if self.preview => {
                    self.check_dangling(&v, o, &site.field, warnings);
                }
                _ => {}
            }
        });
        let refused_any = !refused.is_empty();
        refusals.extend(refused);
        if refused_any || (self.renames.is_empty() && self.ns.target.is_none()) {
            return;
        }
        let referrer = Referrer::of(o);
        let decide = |s: &RefSpec, n: &Node| match self.decide(s, n, &referrer, placement) {
            Ok(Some(e)) => Some(e),
            _ => None,
        };
        walk_mut(
            self.knowledge,
            spec,
            &mut o.node,
            0,
            &|s, n| decide(s, n).is_some(),
            &mut |s, n| match decide(s, n) {
                Some(Edit::Scalar(v)) => n.replace_str(&v),
                Some(Edit::Object { name, namespace }) => {
                    if let (Some(name), What::Object(r)) = (name, &s.what) {
                        let keys: Vec<&str> = r.name.iter().map(String::as_str).collect();
                        if let Some(slot) = n.path_mut(&keys) {
                            slot.replace_str(&name);
                        }
                    }
                    if let Some(ns) = namespace {
                        n.set_str("namespace", &ns, &["name"]);
                    }
                }
                None => {}
            },
        );
    }

    /// An environment render leaves a reference naming another environment's namespace alone
    /// (it designates that environment's objects), but it is almost certainly a namespace
    /// written for one environment and promoted to the others: say so.
    fn check_other_environment(
        &self,
        ns: &str,
        v: &RefValue,
        o: &Object,
        field: &str,
        warnings: &mut Vec<Warning>,
    ) {
        if self.preview || self.ns.target == Some(ns) || self.ns.target.is_none() {
            return;
        }
        if o.namespace.as_deref() == Some(ns) {
            return;
        }
        if let Some((env, _)) = self.environments.iter().find(|(_, n)| *n == ns) {
            warnings.push(Warning::at(
                Loc::new(&o.file, v.pos),
                format!(
                    "{}: {field} names {ns:?}, the namespace of environment {env}, and is left as it is in this render into {}; name this render's namespace or leave it out",
                    o.label(),
                    self.ns.target.unwrap_or("")
                ),
            ));
        }
    }

    fn check_dangling(&self, v: &RefValue, o: &Object, field: &str, warnings: &mut Vec<Warning>) {
        if self.known.contains(&v.kind, &v.name) || is_namespace_ref(&v.kind) {
            return;
        }
        // Every namespace has its `default` ServiceAccount.
        if v.kind.kind == "ServiceAccount" && v.name == "default" {
            return;
        }
        // A reference into another namespace is deliberate.
        if v.namespace
            .as_deref()
            .is_some_and(|ns| Some(ns) != self.ns.target)
        {
            return;
        }
        // Cluster-scoped targets (StorageClass, ClusterRole, Composition, ...) are shared.
        if !self.scopes.is_namespaced_pattern(&v.kind) {
            return;
        }
        warnings.push(Warning::at(
            Loc::new(&o.file, v.pos),
            format!(
                "{}: {field} refers to {} {:?}, which is not in the input, so it will not exist in the preview namespace {}",
                o.label(),
                v.kind.kind,
                v.name,
                self.ns.target.unwrap_or("")
            ),
        ));
    }
}

/// A reference found in an object, for `check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundRef {
    pub target: KindPattern,
    pub name: String,
    /// The namespace the reference names, when it names one.
    pub namespace: Option<String>,
    pub loc: Loc,
    /// The field, as a dotted path (`spec.template.spec.volumes.secret.secretName`).
    pub field: String,
}

/// Every reference in `o` (read-only; for `check`), under the rows of [`rows`].
pub fn collect(o: &Object, role: Role, rows: &[&RefSpec]) -> Vec<FoundRef> {
    let knowledge = packs::builtin();
    let mut out = Vec::new();
    for spec in rows {
        if is_name_follower(spec) || !spec.applies(&o.gk.group, &o.gk.kind, role) {
            continue;
        }
        walk(knowledge, spec, &o.node, &mut |site| {
            if let Some(v) = read_site(site.spec, site.node) {
                if is_namespace_ref(&v.kind) {
                    return;
                }
                out.push(FoundRef {
                    target: v.kind,
                    name: v.name,
                    namespace: v.namespace,
                    loc: Loc::new(&o.file, v.pos),
                    field: site.field,
                });
            }
        });
    }
    out.sort_by(|a, b| (&a.loc, &a.field).cmp(&(&b.loc, &b.field)));
    out.dedup_by(|a, b| a.loc == b.loc && a.target == b.target);
    out
}

/// Crossplane managed resources refer to each other by name from `spec.forProvider` and
/// `spec.initProvider`: `vpcIdRef: {name: main}`, `subnetIdRefs: [{name: a}]`. The field does
/// not say which kind it means, so the name is rewritten when exactly one new name exists for
/// it among the renamed managed resources of the input (two kinds with the same name and
/// different new names would be ambiguous, and are left alone). Secret and ConfigMap refs
/// (`passwordSecretRef`) are ordinary pack entries.
fn rewrite_managed_refs(objects: &mut [Object], plan: &Plan, renames: &RenameMap) {
    if renames.is_empty() {
        return;
    }
    let mut by_name: HashMap<String, Vec<String>> = HashMap::default();
    for (i, o) in objects.iter().enumerate() {
        if plan.classes[i].role != Role::Managed {
            continue;
        }
        let Some(name) = o.name.as_deref() else {
            continue;
        };
        if let Some(new) = renames.get(&o.gk, name) {
            let e = by_name.entry(name.to_string()).or_default();
            if !e.iter().any(|x| x == new) {
                e.push(new.to_string());
            }
        }
    }
    if by_name.is_empty() {
        return;
    }
    for (i, o) in objects.iter_mut().enumerate() {
        if plan.classes[i].role != Role::Managed {
            continue;
        }
        for root in ["forProvider", "initProvider"] {
            if let Some(params) = o.node.path_mut(&["spec", root]) {
                rewrite_ref_keys(params, &by_name, 0);
            }
        }
    }
}

/// Whether a `*Ref` key names a Secret or ConfigMap rather than a managed resource.
fn is_secret_or_config_ref(key: &str) -> bool {
    ["SecretRef", "SecretRefs", "ConfigMapRef", "ConfigMapRefs"]
        .iter()
        .any(|s| key.ends_with(s))
        || matches!(key, "secretRef" | "configMapRef")
}

fn rewrite_ref_keys(node: &mut Node, by_name: &HashMap<String, Vec<String>>, depth: usize) {
    // Parameters nest a few levels; the tree is depth-capped anyway.
    if depth > 32 {
        return;
    }
    if let Some(entries) = node.as_map_mut() {
        for (k, v) in entries.iter_mut() {
            let key = k.scalar_text().unwrap_or("");
            if !(key.ends_with("Ref") || key.ends_with("Refs")) || is_secret_or_config_ref(key) {
                rewrite_ref_keys(v, by_name, depth + 1);
                continue;
            }
            let mut one = |r: &mut Node| {
                let new = r
                    .get("name")
                    .and_then(Node::as_str)
                    .and_then(|n| by_name.get(n))
                    .filter(|news| news.len() == 1)
                    .map(|news| news[0].clone());
                if let Some(new) = new {
                    r.set_str("name", &new, &[]);
                }
            };
            match v.as_seq_mut() {
                Some(items) => items.iter_mut().for_each(&mut one),
                None => one(v),
            }
        }
    } else if let Some(items) = node.as_seq_mut() {
        for item in items {
            rewrite_ref_keys(item, by_name, depth + 1);
        }
    }
}

/// Role and ClusterRole `rules[].resourceNames`: the kind comes from the rule's `resources`
/// (`secrets`, `configmaps`, ...), so a name is rewritten only when it designates a renamed
/// object of one of those kinds, and only when that gives one new name.
fn rewrite_resource_names(o: &mut Object, renames: &RenameMap) {
    if renames.is_empty() {
        return;
    }
    let Some(rules) = o.node.get_mut("rules").and_then(Node::as_seq_mut) else {
        return;
    };
    for rule in rules {
        let kinds: Vec<GroupKind> = rule
            .get("resources")
            .and_then(Node::as_seq)
            .into_iter()
            .flatten()
            .filter_map(Node::as_str)
            .filter_map(|r| kind_of_resource(r.split('/').next().unwrap_or(r)))
            .collect();
        let Some(names) = rule.get_mut("resourceNames").and_then(Node::as_seq_mut) else {
            continue;
        };
        for n in names {
            let Some(v) = n.as_str() else { continue };
            let mut news: Vec<&str> = kinds.iter().filter_map(|k| renames.get(k, v)).collect();
            news.dedup();
            if let [new] = news.as_slice() {
                let new = (*new).to_string();
                n.replace_str(&new);
            }
        }
    }
}

/// Kinds of the built-in resources Roles commonly name.
pub fn kind_of_resource(resource: &str) -> Option<GroupKind> {
    let (group, kind) = match resource {
        "secrets" => ("", "Secret"),
        "configmaps" => ("", "ConfigMap"),
        "services" => ("", "Service"),
        "serviceaccounts" => ("", "ServiceAccount"),
        "persistentvolumeclaims" => ("", "PersistentVolumeClaim"),
        "pods" => ("", "Pod"),
        "deployments" => ("apps", "Deployment"),
        "statefulsets" => ("apps", "StatefulSet"),
        "daemonsets" => ("apps", "DaemonSet"),
        "replicasets" => ("apps", "ReplicaSet"),
        "jobs" => ("batch", "Job"),
        "cronjobs" => ("batch", "CronJob"),
        "ingresses" => ("networking.k8s.io", "Ingress"),
        "leases" => ("coordination.k8s.io", "Lease"),
        _ => return None,
    };
    Some(GroupKind::new(group, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_forms() {
        type Case<'a> = (Format, &'a str, Option<(&'a str, Option<&'a str>)>);
        let cases: &[Case] = &[
            (Format::Name, "web", Some(("web", None))),
            (Format::Dns, "reviews", Some(("reviews", None))),
            (Format::Dns, "reviews.shop", Some(("reviews", Some("shop")))),
            (
                Format::Dns,
                "reviews.shop.svc",
                Some(("reviews", Some("shop"))),
            ),
            (
                Format::Dns,
                "reviews.shop.svc.cluster.local",
                Some(("reviews", Some("shop"))),
            ),
            (Format::Dns, "shop.example.com", None),
            (
                Format::NamespacedName,
                "istio-system/gw",
                Some(("gw", Some("istio-system"))),
            ),
            (Format::NamespacedName, "gw", Some(("gw", None))),
        ];
        for (format, text, want) in cases {
            let got = split_written(*format, text);
            assert_eq!(
                got.as_ref()
                    .map(|w| (w.name.as_str(), w.namespace.as_deref())),
                *want,
                "{text}"
            );
            if let Some(w) = got {
                assert_eq!(join_written(*format, &w), *text, "round trip");
            }
        }
    }
}
