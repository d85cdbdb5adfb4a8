//! `kubectl gitops check`: finds, before Argo CD does, what would break a render or a
//! deployment in some environment or preview. Read-only; every rule lives in its own module
//! with its documentation (what it finds, why it matters, an example) and is registered in
//! [`RULES`].
//!
//! How: the input is read once, then rendered (steps 2–9, [`transform::analyze`]) for every
//! identity worth checking: the one given on the command line, or every environment of
//! gitops.yaml plus a preview with the largest pull request number (`--max-pr`). Refusals and
//! collisions that would abort a render are findings here. With `--argocd`, the Applications
//! and ApplicationSets that deploy the directory are expanded ([`argocd`]) and each generated
//! Application is rendered the way Argo CD would, so rules can see what splits across them.
//!
//! Findings print as `path:line:col: CODE message`, sorted and without duplicates. An object
//! can silence a rule with the annotation `<labelPrefix>/check-ignore: "KG004,KG009"`.

mod ambiguous_selector;
mod application_fails;
pub mod argocd;
mod collision;
mod dangling_reference;
mod hardcoded_environment;
mod label_tracking;
mod name_length;
mod preview_cluster_scoped;
pub mod report;
mod secret_namespace;
mod service_dns;
mod shared_secret;
mod unfollowed_reference;

use std::fmt;
use std::io::Read;
use std::path::PathBuf;

use crate::config::{IdentityRequest, Sourced, identity};
use crate::diag::Warning;
use crate::error::Result;
use crate::model::scope::{Class, Scopes};
use crate::model::{Input, Loc};
use crate::render::{self, Request};
use crate::transform::{self, Analysis, Ctx};

/// `--max-pr`'s default: pull request numbers up to six digits.
pub const DEFAULT_MAX_PR: u64 = 999_999;

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub loc: Loc,
    pub code: &'static str,
    pub msg: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} {}", self.loc, self.code, self.msg)
    }
}

/// A rule: a stable code, a short name, and the function that finds.
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub summary: &'static str,
    pub run: fn(&Facts, &mut Vec<Finding>),
}

/// Every rule, in code order.
pub const RULES: &[Rule] = &[
    name_length::RULE,
    shared_secret::RULE,
    secret_namespace::RULE,
    dangling_reference::RULE,
    hardcoded_environment::RULE,
    ambiguous_selector::RULE,
    preview_cluster_scoped::RULE,
    label_tracking::RULE,
    service_dns::RULE,
    collision::RULE,
    application_fails::RULE,
    unfollowed_reference::RULE,
];

/// One render a rule can look at.
pub struct Rendering {
    /// How to name it in messages: `env prod`, `preview pr-999999 (from dev)`.
    pub label: String,
    pub ctx: Ctx,
    pub analysis: Analysis,
}

/// Everything the rules read.
pub struct Facts {
    /// The objects as written (the checked path's).
    pub input: Input,
    /// Every object of the app as written: the checked path's, then the app's other
    /// directories (what exists when the whole app is deployed).
    pub app: Input,
    pub classes: Vec<Class>,
    pub scopes: Scopes,
    pub ctx: Ctx,
    pub renderings: Vec<Rendering>,
    /// Renders of the Applications that `--argocd` says deploy this directory.
    pub deployments: Vec<argocd::Deployment>,
    /// Applications of `--argocd` that would fail, or deploy nothing.
    pub failures: Vec<argocd::Failure>,
    pub max_pr: u64,
    /// Argo CD's resource tracking method, when known, and where it was read.
    pub tracking: Option<(String, Option<Loc>)>,
}

impl Facts {
    /// The preview rendering, when there is one.
    pub fn preview(&self) -> Option<&Rendering> {
        self.renderings.iter().find(|r| r.ctx.identity.is_preview())
    }
}

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckRequest {
    pub path: String,
    pub identity: IdentityRequest,
    pub all_environments: bool,
    pub max_pr: u64,
    pub argocd: Vec<PathBuf>,
    pub tracking_method: Option<String>,
    pub ignore: Vec<String>,
    /// The process environment (PATH for builds, GITOPS_POLICY for `--argocd`).
    pub env: Vec<(String, String)>,
}

/// Runs every rule. Errors are only for input that cannot be read and bad flags.
pub fn check(
    req: &CheckRequest,
    stdin: &mut dyn Read,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Finding>> {
    // The input as written (with the app's other directories as context), and gitops.yaml.
    let base_req = Request {
        path: req.path.clone(),
        identity: IdentityRequest::default(),
        app_view: true,
        ..Request::default()
    };
    let (input, base_ctx) = render::prepare(&base_req, stdin, warnings)?;
    let scopes = Scopes::learn(&input.objects, &base_ctx.config.kinds);
    // What the rules read as written: the checked path's own objects (the app's other
    // directories are context for the renders).
    let own = base_ctx.view.own_only(input.clone());
    let classes = own.objects.iter().map(|o| scopes.classify(o)).collect();

    let mut req = req.clone();
    let names = render::folder_names_of_path(&req.path, Some(&base_ctx.config).filter(|c| c.found));
    if req.identity.dir_name.is_none() {
        req.identity.dir_name = names.dir;
    }
    if req.identity.app_dir_name.is_none() {
        req.identity.app_dir_name = names.app_dir;
    }
    let req = &req;
    let mut renderings = Vec::new();
    for (label, id_req) in identities(req, &base_ctx) {
        let config = Some(&base_ctx.config).filter(|c| c.found);
        let resolved = identity::resolve(&id_req, config)?;
        let ctx = Ctx {
            identity: resolved.identity,
            environment: resolved.environment,
            sandbox: resolved.sandbox,
            config: base_ctx.config.clone(),
            view: base_ctx.view.clone(),
        };
        let analysis = transform::analyze(input.clone(), &ctx);
        renderings.push(Rendering {
            label,
            ctx,
            analysis,
        });
    }
    let argo = argocd::analyze(&req.argocd, &req.path, req.max_pr, &req.env, warnings)?;
    let tracking = req
        .tracking_method
        .clone()
        .map(|m| (m, None))
        .or_else(|| argocd::tracking_method(&own, &req.argocd));

    let facts = Facts {
        input: own,
        app: input,
        classes,
        scopes,
        ctx: base_ctx,
        renderings,
        deployments: argo.deployments,
        failures: argo.failures,
        max_pr: req.max_pr,
        tracking,
    };
    let mut findings = Vec::new();
    for rule in RULES {
        if req.ignore.iter().any(|c| c == rule.code) {
            continue;
        }
        (rule.run)(&facts, &mut findings);
    }
    let ignored = ignored_by_annotation(&facts);
    findings.retain(|f| {
        !ignored.iter().any(|(loc_file, range, codes)| {
            f.loc.file == *loc_file
                && range.contains(&f.loc.pos.line)
                && codes.iter().any(|c| c == f.code)
        })
    });
    // The app's other directories are context: their own check reports what is in them.
    findings.retain(|f| !facts.ctx.view.is_context(&f.loc.file));
    findings.sort();
    findings.dedup();
    Ok(findings)
}

/// The identities to render: the command line's, or every environment plus a preview.
fn identities(req: &CheckRequest, base: &Ctx) -> Vec<(String, IdentityRequest)> {
    let mut out = Vec::new();
    let given = !req.identity.env.is_empty()
        || !req.identity.pr.is_empty()
        || !req.identity.namespace.is_empty();
    if given {
        let label = describe(&req.identity);
        out.push((label, req.identity.clone()));
    }
    if given && !req.all_environments {
        return out;
    }
    let flag = |v: String, f: &str| vec![Sourced::new(v, f.to_string())];
    for env in base.config.environment_names() {
        out.push((
            format!("env {env}"),
            IdentityRequest {
                env: flag(env.to_string(), "gitops.yaml environment"),
                app: req.identity.app.clone(),
                dir_name: req.identity.dir_name.clone(),
                app_dir_name: req.identity.app_dir_name.clone(),
                policy: req.identity.policy.clone(),
                ..IdentityRequest::default()
            },
        ));
    }
    let pr = req.max_pr.to_string();
    let from = base.config.preview.from.clone();
    out.push((
        match &from {
            Some(f) => format!("preview pr-{pr} (from {f})"),
            None => format!("preview pr-{pr}"),
        },
        IdentityRequest {
            pr: flag(pr, "--max-pr"),
            app: req.identity.app.clone(),
            dir_name: req.identity.dir_name.clone(),
            app_dir_name: req.identity.app_dir_name.clone(),
            policy: req.identity.policy.clone(),
            ..IdentityRequest::default()
        },
    ));
    out
}

fn describe(id: &IdentityRequest) -> String {
    let mut parts = Vec::new();
    if let Some(e) = id.env.first() {
        parts.push(format!("env {}", e.value));
    }
    if let Some(p) = id.pr.first() {
        parts.push(format!("preview pr-{}", p.value));
    }
    if let Some(n) = id.namespace.first() {
        parts.push(format!("namespace {}", n.value));
    }
    parts.join(", ")
}

/// (file, line range, codes) of objects annotated `<prefix>/check-ignore`.
fn ignored_by_annotation(
    facts: &Facts,
) -> Vec<(
    std::sync::Arc<str>,
    std::ops::RangeInclusive<u32>,
    Vec<String>,
)> {
    let key = format!("{}/check-ignore", facts.ctx.config.label_prefix);
    let mut out = Vec::new();
    let objects = &facts.input.objects;
    for (i, o) in objects.iter().enumerate() {
        let Some(codes) = o
            .node
            .path(&["metadata", "annotations", key.as_str()])
            .and_then(crate::yaml::Node::as_str)
        else {
            continue;
        };
        let start = o.node.pos.line;
        // The object's lines: up to the next object of the same file.
        let end = objects
            .iter()
            .skip(i + 1)
            .find(|n| n.file == o.file && n.node.pos.line > start)
            .map_or(u32::MAX, |n| n.node.pos.line.saturating_sub(1));
        let codes = codes
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        out.push((o.file.clone(), start..=end, codes));
    }
    out
}
