//! Steps 2–9 of a render (DESIGN.md §4), in their fixed order:
//!
//! | step | module        | what                                                          |
//! |------|---------------|---------------------------------------------------------------|
//! | 2    | model::scope  | namespaced or cluster-scoped; Crossplane role                  |
//! | 9a   | [`policy`]    | a preview's sandbox: which cluster-scoped objects it may carry (checked first: nothing is renamed for an object that is refused) |
//! | 3, 4 | [`names`]     | the rename map: final names, shortened to fit their kind        |
//! | 5    | [`refs`], [`hosts`] | every reference follows the rename map; preview hosts     |
//! | 6    | [`namespace`] | target namespace on objects and namespaced references          |
//! | –    | [`collide`]   | no two objects may end with the same kind, namespace and name  |
//! | 7    | [`labels`]    | identity labels, environment labels and annotations, selectors |
//! | 8    | [`claims`]    | the environment's claim settings                               |
//! | 9b   | [`policy`]    | protection of stateful objects; shared definitions in previews |
//!
//! `names` hands an explicit [`names::RenameMap`] to `refs`: names are computed once, and
//! nothing downstream recomputes a name or a hash. A render without identity runs none of
//! this: it is a faithful pass-through.

pub mod claims;
pub mod collide;
pub mod explain;
pub mod hosts;
pub mod labels;
pub mod names;
pub mod namespace;
pub mod policy;
pub mod refs;

use crate::config::{Environment, GitopsConfig, Identity};
use crate::diag::Warning;
use crate::error::Result;
use crate::model::scope::{Class, Scopes};
use crate::model::{Input, OutDoc};

/// Everything a render needs to know besides the objects.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub identity: Identity,
    /// The gitops.yaml environment whose settings apply (the named one, or a preview's
    /// `from:`).
    pub environment: Option<Environment>,
    /// gitops.yaml, or its defaults when there is none.
    pub config: GitopsConfig,
}

impl Ctx {
    /// The expanded preview name suffix (`-pr-123`), in a preview.
    pub fn suffix(&self) -> Option<String> {
        self.identity
            .is_preview()
            .then(|| self.identity.expand(&self.config.preview.name_suffix))
    }

    pub fn label_key(&self, name: &str) -> String {
        format!("{}/{name}", self.config.label_prefix)
    }
}

/// What a render produced: documents in output order, and warnings.
#[derive(Debug, Default)]
pub struct Output {
    pub docs: Vec<OutDoc>,
    /// How many objects the input held (List wrappers are not objects).
    pub input_objects: usize,
    pub warnings: Vec<Warning>,
    /// Every edit, when the render was asked to explain itself (`--explain`).
    pub explained: Vec<explain::Explained>,
}

/// Per-object facts computed once and shared by the steps.
#[derive(Debug)]
pub struct Plan {
    pub classes: Vec<Class>,
    pub placements: Vec<policy::Placement>,
}

/// Everything a render with identity computed, before its documents are emitted: the
/// transformed objects and what the render would refuse. `check` reads this directly; `run`
/// turns the first refusal or collision into an error.
#[derive(Debug)]
pub struct Analysis {
    /// The transformed objects and the stream's shape (a preview's Namespace included).
    pub input: Input,
    pub plan: Plan,
    pub renames: names::RenameMap,
    pub scopes: Scopes,
    pub warnings: Vec<Warning>,
    /// Objects a preview refuses (cluster-scoped or other Namespaces), in input order.
    pub refusals: Vec<crate::error::Error>,
    /// Objects (and produced names) that end with the same kind, namespace and name.
    pub collisions: Vec<collide::Collision>,
    pub input_objects: usize,
    /// Every edit, when asked for ([`analyze_explained`]).
    pub explained: Vec<explain::Explained>,
}

/// Runs steps 2–9 on `input` with an identity, collecting refusals and collisions instead of
/// stopping at the first.
pub fn analyze(input: Input, ctx: &Ctx) -> Analysis {
    analyze_explained(input, ctx, false)
}

/// [`analyze`], recording every edit of every step when `explain` is set.
pub fn analyze_explained(mut input: Input, ctx: &Ctx, explain: bool) -> Analysis {
    let mut rec = explain::Recorder::new(explain);
    let mut warnings = Vec::new();
    let input_objects = input.objects.len();
    let mut decl = ctx.config.crossplane.clone();
    decl.cluster_scoped = ctx.config.cluster_scoped.clone();
    let scopes = Scopes::learn(&input.objects, &decl);
    let classes: Vec<Class> = input.objects.iter().map(|o| scopes.classify(o)).collect();
    let mut refusals = Vec::new();
    let placements = policy::place(&input.objects, &classes, ctx, &mut refusals);
    let mut plan = Plan {
        classes,
        placements,
    };
    let renames = names::plan(&input.objects, &plan, ctx, &mut warnings);
    rec.before(&input.objects);
    names::apply(&mut input.objects, &renames, &plan, ctx);
    rec.after(&input.objects, "rename");
    rec.before(&input.objects);
    refs::apply(
        &mut input.objects,
        &plan,
        &renames,
        &scopes,
        ctx,
        &mut warnings,
    );
    rec.after(&input.objects, "reference");
    if ctx.identity.is_preview() {
        rec.before(&input.objects);
        hosts::apply(&mut input.objects, ctx, &mut warnings);
        rec.after(&input.objects, "preview host");
    }
    rec.before(&input.objects);
    namespace::apply(&mut input, &mut plan, ctx);
    rec.after(&input.objects, "namespace");
    let collisions = collide::find(&input.objects, &plan, &renames, ctx);
    rec.before(&input.objects);
    labels::apply(&mut input.objects, &plan, ctx);
    rec.after(&input.objects, "labels");
    rec.before(&input.objects);
    claims::apply(&mut input.objects, &plan, ctx);
    rec.after(&input.objects, "claims");
    rec.before(&input.objects);
    policy::protect(&mut input.objects, &plan, ctx);
    rec.after(&input.objects, "protect");
    Analysis {
        input,
        plan,
        renames,
        scopes,
        warnings,
        refusals,
        collisions,
        input_objects,
        explained: rec.finish(),
    }
}

/// Runs the steps on `input`: a pass-through without identity, otherwise [`analyze`] and the
/// documents in output order. The first refusal or collision is the error.
pub fn run(input: Input, ctx: &Ctx) -> Result<Output> {
    run_explained(input, ctx, false)
}

/// [`run`], with every edit recorded in [`Output::explained`] when `explain` is set.
pub fn run_explained(input: Input, ctx: &Ctx, explain: bool) -> Result<Output> {
    let input_objects = input.objects.len();
    if !ctx.identity.is_set() {
        let mut warnings = Vec::new();
        collide::warn_duplicates(&input.objects, &mut warnings);
        return Ok(Output {
            docs: input.into_docs(),
            input_objects,
            warnings,
            explained: Vec::new(),
        });
    }
    if input_objects == 0 {
        // Nothing to give an identity to: no preview Namespace for an empty render either.
        return Ok(Output::default());
    }
    let mut a = analyze_explained(input, ctx, explain);
    if !a.refusals.is_empty() {
        return Err(a.refusals.remove(0));
    }
    if let Some(c) = a.collisions.first() {
        return Err(c.to_error());
    }
    let docs = namespace::order(a.input, &a.plan);
    Ok(Output {
        docs,
        input_objects,
        warnings: a.warnings,
        explained: a.explained,
    })
}
