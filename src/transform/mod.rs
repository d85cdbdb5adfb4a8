//! Steps 2–9 of a render (DESIGN.md §4), in their fixed order:
//!
//! | step | module        | what                                                          |
//! |------|---------------|---------------------------------------------------------------|
//! | 2    | model::scope  | namespaced or cluster-scoped; Crossplane role                  |
//! | 9a   | [`policy`]    | a preview's sandbox: which cluster-scoped objects it may carry (checked first: nothing is renamed for an object that is refused) |
//! | 3, 4 | [`names`]     | the rename map: final names, shortened to fit their kind        |
//! | 5    | [`refs`], [`hosts`] | every reference follows the rename map; preview hosts     |
//! | 5    | [`stale`]     | right or loud: old names left where references usually sit      |
//! | 6    | [`namespace`] | target namespace on objects and namespaced references          |
//! | –    | [`collide`]   | no two objects may end with the same kind, namespace and name  |
//! | 7    | [`labels`]    | identity labels, environment labels and annotations, selectors |
//! | 8    | [`claims`]    | the environment's claim settings                               |
//! | 9b   | [`policy`]    | protection of stateful objects; shared definitions in previews |
//!
//! `names` hands an explicit [`names::RenameMap`] to `refs`: names are computed once, and
//! nothing downstream recomputes a name or a hash. A render without identity runs none of
//! this: it is a faithful pass-through.
//!
//! **The app-wide view** (DESIGN.md §4.3): the input may hold, after the rendered path's own
//! objects, *context* objects that are not output: the app's other directories (renames are a
//! property of the app, so a Deployment in `kubernetes/` reads the connection Secret that the
//! claim in `infrastructure/` writes, renamed the same way by both Applications) and the CRDs
//! a kustomization names under `crds:`. Every step sees them; [`AppView`] then keeps only the
//! rendered path's objects, and what is refused, colliding or warned about only in context
//! files is left to the render that outputs them.

pub mod claims;
pub mod collide;
pub mod explain;
pub mod hosts;
pub mod labels;
pub mod names;
pub mod namespace;
pub mod policy;
pub mod produced;
pub mod refs;
pub mod stale;

use std::sync::Arc;

use crate::config::{Environment, GitopsConfig, Identity, Sandbox};
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::scope::{Class, Scopes};
use crate::model::{Doc, Input, OutDoc};

/// Which objects of an input are the rendered path's own (output) and which are context.
#[derive(Clone, Debug)]
pub struct AppView {
    /// The own objects are the first `own_objects` (`None`: all of them).
    pub own_objects: Option<usize>,
    /// The own documents are the first `own_docs`.
    pub own_docs: usize,
    /// The files context objects were read from.
    pub context_files: Vec<Arc<str>>,
    /// Whether this render emits a preview's Namespace: only the first directory of the app
    /// holding manifests does, so sibling Applications do not fight over it.
    pub emits_namespace: bool,
}

impl Default for AppView {
    fn default() -> Self {
        AppView {
            own_objects: None,
            own_docs: 0,
            context_files: Vec::new(),
            emits_namespace: true,
        }
    }
}

impl AppView {
    /// Whether `file` is a context file (not output by this render).
    pub fn is_context(&self, file: &str) -> bool {
        self.context_files.iter().any(|f| &**f == file)
    }

    /// The input without its context objects.
    pub fn own_only(&self, mut input: Input) -> Input {
        if let Some(n) = self.own_objects {
            input.objects.truncate(n);
            input.docs.truncate(self.own_docs);
        }
        input
    }
}

/// The file an error is located in, when it has one.
fn error_file(e: &Error) -> Option<&str> {
    match e {
        Error::Yaml { loc, .. }
        | Error::NotUtf8 { loc }
        | Error::NotAnObject { loc, .. }
        | Error::Config { loc, .. }
        | Error::Collision { loc, .. }
        | Error::Refused { loc, .. } => Some(&loc.file),
        _ => None,
    }
}

/// Everything a render needs to know besides the objects.
#[derive(Clone, Debug, Default)]
pub struct Ctx {
    pub identity: Identity,
    /// The gitops.yaml environment whose settings apply (the named one, or a preview's
    /// `from:`).
    pub environment: Option<Environment>,
    /// gitops.yaml, or its defaults when there is none.
    pub config: GitopsConfig,
    /// Which objects are output (the rest is the app-wide context).
    pub view: AppView,
    /// A preview's sandbox: gitops.yaml's preview keys as the platform policy lets them
    /// apply. Steps read the sandbox, never gitops.yaml's `preview.allowClusterScoped`.
    pub sandbox: Sandbox,
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
    /// Old names of renamed objects left where references usually sit ([`stale`]).
    pub stale: Vec<stale::Stale>,
    /// Objects a preview refuses (cluster-scoped or other Namespaces), in input order.
    pub refusals: Vec<crate::error::Error>,
    /// Objects (and produced names) that end with the same kind, namespace and name.
    pub collisions: Vec<collide::Collision>,
    pub input_objects: usize,
    /// Every edit, when asked for ([`analyze_explained`]).
    pub explained: Vec<explain::Explained>,
    /// The index of the Namespace a preview added, when it added one.
    pub generated_namespace: Option<usize>,
}
impl Analysis {
    /// Keeps only what the render outputs (DESIGN.md §4.3): the own objects, in order, and the
    /// preview Namespace when this render emits it; refusals, collisions and warnings that
    /// concern only context files are dropped, since those files' own render reports them.
    /// The rename map stays whole: it is the app's.
    fn retain_own(&mut self, view: &AppView) {
        let Some(n) = view.own_objects else {
            if !view.emits_namespace {
                self.drop_generated_namespace();
            }
            return;
        };
        let generated = self.generated_namespace.filter(|_| view.emits_namespace);
        let total = self.input.objects.len();
        let keep = |i: usize| i < n || Some(i) == generated;
        let mut new_index = vec![None; total];
        let mut objects = Vec::with_capacity(n + 1);
        let mut classes = Vec::with_capacity(n + 1);
        let mut placements = Vec::with_capacity(n + 1);
        for (i, o) in std::mem::take(&mut self.input.objects)
            .into_iter()
            .enumerate()
        {
            if keep(i) {
                new_index[i] = Some(objects.len());
                objects.push(o);
                classes.push(self.plan.classes[i]);
                placements.push(self.plan.placements[i]);
            }
        }
        let docs = std::mem::take(&mut self.input.docs);
        let own_docs = view.own_docs.min(docs.len());
        let mut kept: Vec<Doc> = Vec::with_capacity(own_docs + 1);
        for (di, d) in docs.into_iter().enumerate() {
            match d {
                Doc::Object(i) if di < own_docs || Some(i) == generated => {
                    if let Some(j) = new_index[i] {
                        kept.push(Doc::Object(j));
                    }
                }
                Doc::List {
                    wrapper,
                    file,
                    items,
                    read,
                    source,
                } if di < own_docs => kept.push(Doc::List {
                    wrapper,
                    file,
                    items: items.into_iter().filter_map(|i| new_index[i]).collect(),
                    read: read
                        .into_iter()
                        .filter_map(|(i, span)| new_index[i].map(|j| (j, span)))
                        .collect(),
                    source,
                }),
                Doc::Text(t) if di < own_docs => kept.push(Doc::Text(t)),
                _ => {}
            }
        }
        self.input.objects = objects;
        self.input.docs = kept;
        self.plan.classes = classes;
        self.plan.placements = placements;
        self.generated_namespace = generated.and_then(|g| new_index[g]);
        self.renames.produced.retain(|p| p.producer < n);
        self.refusals
            .retain(|e| error_file(e).is_none_or(|f| !view.is_context(f)));
        self.collisions.retain(|c| {
            !view.is_context(&c.first.loc.file) && !view.is_context(&c.second.loc.file)
        });
        self.warnings
            .retain(|w| w.loc.as_ref().is_none_or(|l| !view.is_context(&l.file)));
        self.explained.retain(|e| !view.is_context(&e.loc.file));
        self.input_objects = n;
    }

    fn drop_generated_namespace(&mut self) {
        let Some(g) = self.generated_namespace.take() else {
            return;
        };
        self.input
            .docs
            .retain(|d| !matches!(d, Doc::Object(i) if *i == g));
        // The generated Namespace is always the last object: removing it shifts nothing.
        if g + 1 == self.input.objects.len() {
            self.input.objects.pop();
            self.plan.classes.pop();
            self.plan.placements.pop();
        }
    }
}

/// Runs steps 2–9 on `input` with an identity, collecting refusals and collisions instead of
/// stopping at the first.
pub fn analyze(input: Input, ctx: &Ctx) -> Analysis {
    analyze_explained(input, ctx, false)
}

/// [`analyze`], recording every edit of every step when `explain` is set, and keeping what the
/// render outputs ([`AppView`]).
pub fn analyze_explained(input: Input, ctx: &Ctx, explain: bool) -> Analysis {
    let mut a = analyze_all(input, ctx, explain);
    a.retain_own(&ctx.view);
    a
}

/// [`analyze_explained`] over every object, context included.
fn analyze_all(mut input: Input, ctx: &Ctx, explain: bool) -> Analysis {
    let mut rec = explain::Recorder::new(explain);
    let mut warnings = Vec::new();
    let input_objects = input.objects.len();
    let mut scopes = Scopes::learn(&input.objects, &ctx.config.kinds);
    let classes: Vec<Class> = input.objects.iter().map(|o| scopes.classify(o)).collect();
    let mut refusals = std::mem::take(&mut scopes.errors);
    let placements = policy::place(&input.objects, &classes, ctx, &mut refusals, &mut warnings);
    let mut plan = Plan {
        classes,
        placements,
    };
    let renames = names::plan(&input.objects, &plan, ctx, &mut warnings);
    let provided = produced::provided(&input.objects, ctx);
    rec.before(&input.objects);
    names::apply(&mut input.objects, &renames, &plan, ctx);
    rec.after(&input.objects, "rename");
    rec.before(&input.objects);
    let outcome = refs::apply(
        &mut input.objects,
        &plan,
        &renames,
        &scopes,
        provided,
        ctx,
        &mut warnings,
        &mut refusals,
    );
    rec.after(&input.objects, "reference");
    let stale = stale::find(&input.objects, &plan, &renames, &outcome, ctx);
    warnings.extend(stale.iter().map(stale::Stale::warning));
    if ctx.identity.is_preview() {
        rec.before(&input.objects);
        hosts::apply(&mut input.objects, ctx, &mut warnings, &mut refusals);
        rec.after(&input.objects, "preview host");
    }
    rec.before(&input.objects);
    let before_namespace = input.objects.len();
    namespace::apply(&mut input, &mut plan, ctx);
    let generated_namespace = (input.objects.len() > before_namespace).then_some(before_namespace);
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
        stale,
        refusals,
        collisions,
        input_objects,
        explained: rec.finish(),
        generated_namespace,
    }
}

/// Runs the steps on `input`: a pass-through without identity, otherwise [`analyze`] and the
/// documents in output order. The first refusal or collision is the error.
pub fn run(input: Input, ctx: &Ctx) -> Result<Output> {
    run_explained(input, ctx, false)
}

/// [`run`], with every edit recorded in [`Output::explained`] when `explain` is set.
pub fn run_explained(input: Input, ctx: &Ctx, explain: bool) -> Result<Output> {
    let input_objects = ctx.view.own_objects.unwrap_or(input.objects.len());
    if !ctx.identity.is_set() {
        let input = ctx.view.own_only(input);
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
