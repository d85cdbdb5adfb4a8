//! How Argo CD deploys the checked directory, for `check --argocd FILE|DIR`: the Applications
//! and ApplicationSets in those files are expanded the way Argo CD expands them, and every
//! generated Application whose source path lies in (or holds) the checked directory is
//! rendered the way Argo CD would render it:
//!
//! - a **kubectl-gitops plugin** source (`plugin:` naming `kubectl-gitops*`, or no name) exactly
//!   as `generate` would in the sidecar: its plugin env and parameters become the `ARGOCD_*`
//!   variables that [`crate::cmp`] reads, sandboxed by the platform policy (`GITOPS_POLICY` in
//!   check's environment, else the defaults);
//! - a **plain directory** source as Argo CD's directory support applies it: the top-level
//!   `*.yaml`, `*.yml` and `*.json` files (every level with `directory.recurse`, filtered by
//!   `directory.include`/`exclude`), unchanged, with the destination namespace on namespaced
//!   objects that have none;
//! - a **kustomization** or **Helm chart** folder without a plugin through the same builds as a
//!   render, then the destination namespace likewise.
//!
//! Argo CD also puts the destination namespace on namespaced objects a plugin leaves without
//! one; that is applied to every rendering here, so rules compare namespaces as the cluster
//! will see them. An Application whose render would fail (an error, a refusal, a collision, no
//! objects from the plugin, a file that is not a Kubernetes object in a directory source) is a
//! [`Failure`] (rule KG011), and so is one that deploys nothing (a source-code folder the git
//! generator picked up). Sources of other plugins are not evaluated.
//!
//! ApplicationSet generators understood: `git` directories (with `exclude`), `list`,
//! `pullRequest` (one pull request numbered `--max-pr`), and `matrix` and `merge` of those
//! (a matrix's second generator sees the first one's parameters); templates in fasttemplate
//! (`{{path.basename}}`) and Go template (`{{.path.basename}}`) syntax. Other generators are
//! reported as not evaluated. Documents that are neither Applications nor ApplicationSets are
//! skipped, and a file none of whose Applications deploys the checked path is said to deploy
//! nothing under it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::policy::Policy;
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::{Input, Loc, Object};
use crate::render::{self, Request};
use crate::source::build::{Builder, HelmRequest, ToolEnv};
use crate::source::walk::{BuildDir, BuildKind};
use crate::source::{self, glob};
use crate::transform::{self, Analysis, Ctx};
use crate::yaml::parse::{Limits, parse_stream};
use crate::yaml::{Node, Value};

/// How Argo CD renders a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    Plugin,
    Directory,
    Kustomize,
    Helm,
}

/// One generated Application that deploys (part of) the checked directory, rendered.
pub struct Deployment {
    /// The Application's name.
    pub app: String,
    /// Where the Application or its ApplicationSet is written.
    pub defined_at: Loc,
    /// The source path, relative to the repository root.
    pub path: String,
    pub kind: SourceKind,
    pub ctx: Ctx,
    pub analysis: Analysis,
}

/// An Application predicted to fail, or to deploy nothing.
#[derive(Clone, Debug)]
pub struct Failure {
    pub app: String,
    pub defined_at: Loc,
    pub path: String,
    /// Why it fails; `None`: it deploys nothing.
    pub reason: Option<String>,
}

/// What the `--argocd` files say about the checked directory.
#[derive(Default)]
pub struct ArgoCd {
    pub deployments: Vec<Deployment>,
    pub failures: Vec<Failure>,
}

/// An Application or ApplicationSet read from an `--argocd` file.
struct ArgoObject {
    kind: String,
    name: String,
    node: Node,
    loc: Loc,
}

/// Reads the Applications and ApplicationSets of files or directories. Documents of other
/// kinds, and documents that are not Kubernetes objects at all, are skipped; a file that is
/// not YAML is skipped with a warning.
/// Each file with its Applications and ApplicationSets, whether it holds Argo CD's own
/// configuration (`argocd-cm`, read for the tracking method), and whether it was named on
/// the command line (not found in a directory named there).
type FileObjects = (PathBuf, Vec<ArgoObject>, bool, bool);

fn read_objects(paths: &[PathBuf], warnings: &mut Vec<Warning>) -> Result<Vec<FileObjects>> {
    let mut out = Vec::new();
    for p in paths {
        let mut files = Vec::new();
        let explicit = !p.is_dir();
        if p.is_dir() {
            for e in walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .filter_entry(|e| {
                    e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.')
                })
            {
                let e = e.map_err(|e| Error::Io {
                    path: p.clone(),
                    source: e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("cannot walk the directory")),
                })?;
                let name = e.file_name().to_string_lossy();
                if e.file_type().is_file()
                    && (name.ends_with(".yaml")
                        || name.ends_with(".yml")
                        || name.ends_with(".json"))
                {
                    files.push(e.path().to_path_buf());
                }
            }
        } else {
            files.push(p.clone());
        }
        for f in files {
            let (objects, config) = read_file_objects(&f, warnings)?;
            out.push((f, objects, config, explicit));
        }
    }
    Ok(out)
}

fn read_file_objects(path: &Path, warnings: &mut Vec<Warning>) -> Result<(Vec<ArgoObject>, bool)> {
    let bytes = source::read_regular(path, source::MAX_FILE_BYTES)?;
    let display: Arc<str> = Arc::from(render::display_relative(
        &path.canonicalize().unwrap_or_else(|_| path.to_path_buf()),
    ));
    let Ok(text) = String::from_utf8(bytes) else {
        warnings.push(Warning::file(
            display.to_string(),
            "not UTF-8 text; skipped",
        ));
        return Ok((Vec::new(), false));
    };
    let stream = match parse_stream(&text, &Limits::default()) {
        Ok(s) => s,
        Err(e) => {
            warnings.push(Warning::at(
                Loc::new(&display, e.pos()),
                format!("{e}; this file is skipped"),
            ));
            return Ok((Vec::new(), false));
        }
    };
    let mut out = Vec::new();
    let mut config = false;
    let mut nodes: Vec<Node> = Vec::new();
    for d in stream.docs {
        if Object::is_list_document(&d.root) {
            nodes.extend(
                d.root
                    .get("items")
                    .and_then(Node::as_seq)
                    .cloned()
                    .unwrap_or_default(),
            );
        } else {
            nodes.push(d.root);
        }
    }
    for n in nodes {
        let Ok(o) = Object::from_node(n, &display) else {
            continue;
        };
        config |= o.gk.is("", "ConfigMap") && o.name.as_deref() == Some("argocd-cm");
        if o.gk.group != "argoproj.io"
            || !matches!(o.gk.kind.as_str(), "Application" | "ApplicationSet")
        {
            continue;
        }
        out.push(ArgoObject {
            kind: o.gk.kind.clone(),
            name: o.name.clone().unwrap_or_default(),
            loc: o.loc(),
            node: o.node,
        });
    }
    Ok((out, config))
}

/// The repository root for a checked path: the nearest folder holding `.git`, else the
/// working directory.
fn repo_root(checked: &Path) -> PathBuf {
    let start = checked
        .canonicalize()
        .unwrap_or_else(|_| checked.to_path_buf());
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or(start)
}

/// What the Applications of `paths` do with `checked`.
pub fn analyze(
    paths: &[PathBuf],
    checked: &str,
    max_pr: u64,
    env: &[(String, String)],
    warnings: &mut Vec<Warning>,
) -> Result<ArgoCd> {
    let mut out = ArgoCd::default();
    if paths.is_empty() {
        return Ok(out);
    }
    let checked_path = PathBuf::from(checked);
    let root = repo_root(&checked_path);
    let checked_abs = checked_path.canonicalize().map_err(|source| Error::Io {
        path: checked_path.clone(),
        source,
    })?;
    let policy = match env.iter().rev().find(|(k, _)| k == "GITOPS_POLICY") {
        Some((_, p)) if !p.is_empty() => crate::config::policy::load(Path::new(p))?,
        _ => Policy::default(),
    };
    let tools = ToolEnv::from_vars(env);
    let mut deployed_anywhere = false;
    for (file, objects, config, explicit) in read_objects(paths, warnings)? {
        let holds_apps = !objects.is_empty();
        let mut deploys_here = false;
        let mut deployed: Vec<String> = Vec::new();
        for o in objects {
            let apps: Vec<(String, Node)> = match o.kind.as_str() {
                "Application" => vec![(o.name.clone(), o.node.clone())],
                _ => expand_appset(&o, &root, max_pr, warnings),
            };
            for (name, app) in apps {
                for source in sources(&app) {
                    let Some(path) = source.get("path").and_then(Node::as_str) else {
                        continue;
                    };
                    deployed.push(path.to_string());
                    let dir = root.join(path);
                    let Ok(dir_abs) = dir.canonicalize() else {
                        out.failures.push(Failure {
                            app: name.clone(),
                            defined_at: o.loc.clone(),
                            path: path.to_string(),
                            reason: Some(format!("its source path {path:?} does not exist (Argo CD: app path does not exist)")),
                        });
                        continue;
                    };
                    if !dir_abs.starts_with(&checked_abs) && !checked_abs.starts_with(&dir_abs) {
                        continue;
                    }
                    deploys_here = true;
                    let one = One {
                        name: &name,
                        app: &app,
                        source,
                        path,
                        dir: &dir_abs,
                        defined_at: &o.loc,
                        policy: &policy,
                        tools: &tools,
                    };
                    one.render(&mut out, warnings);
                }
            }
        }
        deployed_anywhere |= deploys_here;
        // Said for a file whose Applications all deploy elsewhere, and for a file named on the
        // command line that holds none (files of a directory that are not Argo CD's are
        // skipped quietly).
        if !deploys_here && (holds_apps || explicit && !config) {
            deployed.sort();
            deployed.dedup();
            warnings.push(Warning::file(
                render::display_relative(&file.canonicalize().unwrap_or(file.clone())),
                format!(
                    "no Application here deploys {checked}{}",
                    if !holds_apps {
                        " (it holds no Application or ApplicationSet)".to_string()
                    } else if deployed.is_empty() {
                        " (what it generates has no source path in this repository)".to_string()
                    } else {
                        format!(" (they deploy {})", deployed.join(", "))
                    }
                ),
            ));
        }
    }
    if !deployed_anywhere && paths.iter().any(|p| p.is_dir()) {
        warnings.push(Warning::general(format!(
            "no Application of {} deploys {checked}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

/// `spec.source`, or each of `spec.sources`.
fn sources(app: &Node) -> Vec<&Node> {
    match (
        app.path(&["spec", "source"]),
        app.path(&["spec", "sources"]).and_then(Node::as_seq),
    ) {
        (Some(s), _) => vec![s],
        (None, Some(list)) => list.iter().collect(),
        (None, None) => Vec::new(),
    }
}

/// One Application source to render.
struct One<'a> {
    name: &'a str,
    app: &'a Node,
    source: &'a Node,
    path: &'a str,
    dir: &'a Path,
    defined_at: &'a Loc,
    policy: &'a Policy,
    tools: &'a ToolEnv,
}

impl One<'_> {
    fn fail(&self, out: &mut ArgoCd, reason: Option<String>) {
        out.failures.push(Failure {
            app: self.name.to_string(),
            defined_at: self.defined_at.clone(),
            path: self.path.to_string(),
            reason,
        });
    }

    fn destination(&self) -> Option<String> {
        self.app
            .path(&["spec", "destination", "namespace"])
            .and_then(Node::scalar_text)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    fn render(&self, out: &mut ArgoCd, warnings: &mut Vec<Warning>) {
        let kind = if let Some(plugin) = self.source.get("plugin") {
            let named = plugin.get("name").and_then(Node::as_str);
            if named.is_some_and(|n| !n.starts_with("kubectl-gitops")) {
                return;
            }
            SourceKind::Plugin
        } else if self.source.get("kustomize").is_some()
            || crate::source::walk::build_kind(self.dir)
                .is_some_and(|k| matches!(k, BuildKind::Kustomize(_)))
        {
            SourceKind::Kustomize
        } else if self.source.get("helm").is_some()
            || crate::source::walk::build_kind(self.dir) == Some(BuildKind::Helm)
        {
            SourceKind::Helm
        } else {
            SourceKind::Directory
        };
        let result = match kind {
            SourceKind::Plugin => self.plugin(warnings),
            SourceKind::Directory => self.directory(),
            SourceKind::Kustomize | SourceKind::Helm => self.built(kind, warnings),
        };
        match result {
            Ok(Rendered::Ok(rendered)) => {
                let (ctx, mut analysis) = *rendered;
                if let Some(ns) = self.destination() {
                    apply_destination(&mut analysis, &ns);
                }
                if analysis.input_objects == 0 {
                    self.fail(out, None);
                    return;
                }
                out.deployments.push(Deployment {
                    app: self.name.to_string(),
                    defined_at: self.defined_at.clone(),
                    path: self.path.to_string(),
                    kind,
                    ctx,
                    analysis,
                });
            }
            Ok(Rendered::Fails(reason)) => self.fail(out, Some(reason)),
            Ok(Rendered::Unknown(why)) => warnings.push(Warning::at(
                self.defined_at.clone(),
                format!("Application {}: {why}; not checked", self.name),
            )),
            Err(e) => self.fail(out, Some(e.to_string())),
        }
    }

    /// As `generate` renders it in the sidecar.
    fn plugin(&self, warnings: &mut Vec<Warning>) -> Result<Rendered> {
        let vars = argocd_vars(self.name, self.app, self.source, self.path);
        let mut env = crate::cmp::from_vars(&vars, self.dir)?;
        warnings.append(&mut env.warnings);
        let req = Request {
            path: render::display_relative(self.dir),
            identity: env.identity,
            repo_root: env.repo_root,
            source_path: env.source_path,
            tools: self.tools.clone(),
            policy: Some(self.policy.clone()),
            app_view: false,
        };
        let (input, ctx) = render::prepare(&req, &mut std::io::empty(), warnings)?;
        let cfg = &ctx.config;
        if !ctx.identity.is_set() && cfg.found && !cfg.environments.is_empty() && !cfg.pass_through
        {
            return Ok(Rendered::Fails(format!(
                "it gives no env or pr while {} declares environments, so generate refuses (set GITOPS_ENV or GITOPS_PR in its plugin env)",
                cfg.file
            )));
        }
        let mut analysis = transform::analyze(input, &ctx);
        if !analysis.refusals.is_empty() {
            return Ok(Rendered::Fails(analysis.refusals.remove(0).to_string()));
        }
        if let Some(c) = analysis.collisions.first() {
            return Ok(Rendered::Fails(c.to_error().to_string()));
        }
        if analysis.input_objects == 0 && !ctx.config.allow_empty {
            return Ok(Rendered::Fails(format!(
                "{} holds no Kubernetes objects, and generate refuses to print an empty set (allowEmpty in gitops.yaml)",
                self.path
            )));
        }
        Ok(Rendered::Ok(Box::new((ctx, analysis))))
    }

    /// As Argo CD's directory support reads it.
    fn directory(&self) -> Result<Rendered> {
        let d = self.source.get("directory");
        if d.and_then(|d| d.get("jsonnet")).is_some() {
            return Ok(Rendered::Unknown(
                "jsonnet sources are not evaluated".into(),
            ));
        }
        let recurse = d.and_then(|d| d.get("recurse")).and_then(Node::scalar_text) == Some("true");
        let include = d
            .and_then(|d| d.get("include"))
            .and_then(Node::as_str)
            .unwrap_or("");
        let exclude = d
            .and_then(|d| d.get("exclude"))
            .and_then(Node::as_str)
            .unwrap_or("");
        let mut files = Vec::new();
        let walker = walkdir::WalkDir::new(self.dir)
            .min_depth(1)
            .max_depth(if recurse { usize::MAX } else { 1 })
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
        for e in walker.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !e.file_type().is_file() && !e.path_is_symlink() {
                continue;
            }
            if !(name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")) {
                if name.ends_with(".jsonnet") {
                    return Ok(Rendered::Unknown("jsonnet files are not evaluated".into()));
                }
                continue;
            }
            let rel = crate::source::walk::rel_string(
                e.path().strip_prefix(self.dir).unwrap_or(e.path()),
            );
            if !include.is_empty() && !glob_set(include, &rel) {
                continue;
            }
            if !exclude.is_empty() && glob_set(exclude, &rel) {
                continue;
            }
            let display = format!("{}/{rel}", render::display_relative(self.dir));
            let bytes = source::read_regular(e.path(), source::MAX_FILE_BYTES)?;
            let Ok(text) = String::from_utf8(bytes) else {
                return Ok(Rendered::Fails(format!("{display} is not UTF-8 text")));
            };
            files.push(source::SourceFile {
                display: Arc::from(display),
                text: Arc::from(text),
                key: rel,
                kustomizations: Vec::new(),
            });
        }
        let input = match source::parse_files(&files) {
            Ok((input, _)) => input,
            Err(Error::NotAnObject { loc, reason }) => {
                return Ok(Rendered::Fails(format!(
                    "Argo CD reads every *.yaml, *.yml and *.json file of a directory source as a manifest, and {loc} is not one: {reason}"
                )));
            }
            Err(e) => return Ok(Rendered::Fails(e.to_string())),
        };
        Ok(self.as_is(input))
    }

    /// A kustomization or a chart without the plugin: built as a render builds it.
    fn built(&self, kind: SourceKind, warnings: &mut Vec<Warning>) -> Result<Rendered> {
        if self
            .source
            .get("kustomize")
            .is_some_and(|k| k.as_map().is_some_and(|m| !m.is_empty()))
        {
            warnings.push(Warning::at(
                self.defined_at.clone(),
                format!("Application {}: its kustomize options (namePrefix, images, ...) are not applied by check", self.name),
            ));
        }
        let builder = Builder::new(
            self.tools.clone(),
            None,
            self.dir.to_path_buf(),
            HelmRequest {
                release: self.name.to_string(),
                namespace: self.destination(),
                value_files: Vec::new(),
            },
        );
        let build_kind = match (kind, crate::source::walk::build_kind(self.dir)) {
            (SourceKind::Helm, _) => BuildKind::Helm,
            (_, Some(k)) => k,
            _ => BuildKind::Kustomize("kustomization.yaml"),
        };
        let dir = BuildDir {
            path: self.dir.to_path_buf(),
            rel: String::new(),
            kind: build_kind,
        };
        let built = match builder.build(&dir, &render::display_relative(self.dir), warnings) {
            Ok(b) => b,
            Err(e) if e.to_string().contains("is not on PATH") => {
                return Ok(Rendered::Unknown(format!("cannot build it here: {e}")));
            }
            Err(e) => return Ok(Rendered::Fails(e.to_string())),
        };
        let file = source::SourceFile {
            display: built.display,
            text: Arc::from(built.text),
            key: String::new(),
            kustomizations: Vec::new(),
        };
        match source::parse_files(std::slice::from_ref(&file)) {
            Ok((input, _)) => Ok(self.as_is(input)),
            Err(e) => Ok(Rendered::Fails(e.to_string())),
        }
    }

    /// Objects applied as they are (no identity).
    fn as_is(&self, input: Input) -> Rendered {
        let ctx = Ctx::default();
        let analysis = transform::analyze(input, &ctx);
        Rendered::Ok(Box::new((ctx, analysis)))
    }
}

/// What rendering one source gave.
enum Rendered {
    Ok(Box<(Ctx, Analysis)>),
    /// Argo CD would fail to generate its manifests.
    Fails(String),
    /// Not evaluated (why).
    Unknown(String),
}

/// Argo CD puts the destination namespace on namespaced objects that have none.
fn apply_destination(a: &mut Analysis, ns: &str) {
    for (i, o) in a.input.objects.iter_mut().enumerate() {
        let namespaced = a.plan.classes.get(i).is_some_and(|c| c.namespaced);
        if namespaced && o.current_namespace().is_none_or(str::is_empty) {
            if let Some(meta) = o.node.ensure_map("metadata", &["kind"]) {
                meta.set_str("namespace", ns, &["generateName", "name"]);
            }
        }
    }
}

/// Argo CD's directory include/exclude: a glob, or `{a,b}` alternatives.
fn glob_set(pattern: &str, rel: &str) -> bool {
    let p = pattern.trim();
    let alternatives: Vec<&str> = match p.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        Some(inner) => inner.split(',').map(str::trim).collect(),
        None => vec![p],
    };
    alternatives.iter().any(|a| {
        if a.contains('/') {
            glob::excludes(a, rel)
        } else {
            // Without a folder, Argo CD matches the file name.
            glob::excludes(a, rel.rsplit('/').next().unwrap_or(rel))
        }
    })
}

/// The variables Argo CD gives `generate` for an Application (argocd-cmp-contract.md §1).
fn argocd_vars(name: &str, app: &Node, source: &Node, path: &str) -> Vec<(String, String)> {
    let mut vars = vec![
        ("ARGOCD_APP_NAME".to_string(), name.to_string()),
        (
            "ARGOCD_APP_NAMESPACE".to_string(),
            app.path(&["spec", "destination", "namespace"])
                .and_then(Node::scalar_text)
                .unwrap_or("")
                .to_string(),
        ),
        ("ARGOCD_APP_SOURCE_PATH".to_string(), path.to_string()),
    ];
    let plugin = source.get("plugin");
    for e in plugin
        .and_then(|p| p.get("env"))
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(v)) = (e.get("name").and_then(Node::scalar_text), e.get("value")) {
            vars.push((
                format!("ARGOCD_ENV_{n}"),
                v.scalar_text().unwrap_or("").to_string(),
            ));
        }
    }
    let params: Vec<serde_json::Value> = plugin
        .and_then(|p| p.get("parameters"))
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p.get("name").and_then(Node::scalar_text)?;
            let mut m = serde_json::Map::new();
            m.insert("name".into(), name.into());
            if let Some(s) = p.get("string").and_then(Node::scalar_text) {
                m.insert("string".into(), s.into());
            }
            if let Some(a) = p.get("array").and_then(Node::as_seq) {
                let items: Vec<serde_json::Value> = a
                    .iter()
                    .filter_map(Node::scalar_text)
                    .map(Into::into)
                    .collect();
                m.insert("array".into(), items.into());
            }
            if let Some(map) = p.get("map").and_then(Node::as_map) {
                let mut o = serde_json::Map::new();
                for (k, v) in map {
                    if let (Some(k), Some(v)) = (k.scalar_text(), v.scalar_text()) {
                        o.insert(k.to_string(), v.into());
                    }
                }
                m.insert("map".into(), o.into());
            }
            Some(serde_json::Value::Object(m))
        })
        .collect();
    if plugin.is_some() {
        let json = if params.is_empty() {
            "null".to_string()
        } else {
            serde_json::Value::Array(params).to_string()
        };
        vars.push(("ARGOCD_APP_PARAMETERS".to_string(), json));
    }
    vars
}

/// One generator's parameter sets.
type Params = Vec<BTreeMap<String, String>>;

/// How deep matrix and merge generators may nest.
const MAX_GENERATOR_DEPTH: usize = 4;

/// Expands an ApplicationSet into (name, Application-like node) pairs.
fn expand_appset(
    o: &ArgoObject,
    root: &Path,
    max_pr: u64,
    warnings: &mut Vec<Warning>,
) -> Vec<(String, Node)> {
    let go = o
        .node
        .path(&["spec", "goTemplate"])
        .and_then(Node::scalar_text)
        == Some("true");
    let Some(template) = o.node.path(&["spec", "template"]) else {
        return Vec::new();
    };
    let mut params: Params = Vec::new();
    for g in o
        .node
        .path(&["spec", "generators"])
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
    {
        let mut ex = Expander {
            root,
            max_pr,
            go,
            loc: &o.loc,
            warnings,
        };
        if let Some(p) = ex.generator(g, 0) {
            params.extend(p);
        }
    }
    params
        .into_iter()
        .map(|p| {
            let mut app = template.clone();
            substitute(&mut app, &p, go);
            let name = app
                .path(&["metadata", "name"])
                .and_then(Node::scalar_text)
                .unwrap_or("")
                .to_string();
            (name, app)
        })
        .collect()
}

/// Evaluates generators.
struct Expander<'a> {
    root: &'a Path,
    max_pr: u64,
    go: bool,
    loc: &'a Loc,
    warnings: &'a mut Vec<Warning>,
}

impl Expander<'_> {
    fn unsupported(&mut self, what: &str) {
        self.warnings.push(Warning::at(
            self.loc.clone(),
            format!("ApplicationSet {what} not evaluated by check (git directories, list, pullRequest, and matrix and merge of those are)"),
        ));
    }

    /// The parameter sets of one generator; `None` when it is not evaluated.
    fn generator(&mut self, g: &Node, depth: usize) -> Option<Params> {
        if depth > MAX_GENERATOR_DEPTH {
            self.unsupported("generators nested this deep are");
            return None;
        }
        if g.get("template").is_some() {
            self.warnings.push(Warning::at(
                self.loc.clone(),
                "a generator's own template: override is not applied by check",
            ));
        }
        if let Some(git) = g.get("git") {
            if git.get("files").is_some() {
                self.unsupported("git files generator is");
                return None;
            }
            return Some(git_directories(git, self.root));
        }
        if let Some(list) = g.get("list") {
            let mut out = Vec::new();
            for el in list
                .get("elements")
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
            {
                let mut m = BTreeMap::new();
                flatten_params("", el, &mut m);
                out.push(m);
            }
            return Some(out);
        }
        if g.get("pullRequest").is_some() {
            let mut m = BTreeMap::new();
            m.insert("number".into(), self.max_pr.to_string());
            m.insert("branch".into(), "preview".into());
            m.insert("branch_slug".into(), "preview".into());
            m.insert("head_sha".into(), "0".repeat(40));
            m.insert("head_short_sha".into(), "0".repeat(8));
            m.insert("head_short_sha_7".into(), "0".repeat(7));
            return Some(vec![m]);
        }
        if let Some(matrix) = g.get("matrix") {
            let children: Vec<&Node> = matrix
                .get("generators")
                .and_then(Node::as_seq)
                .map(|s| s.iter().collect())
                .unwrap_or_default();
            if children.len() != 2 {
                self.unsupported("matrix without exactly two generators is");
                return None;
            }
            let first = self.generator(children[0], depth + 1)?;
            let mut out = Vec::new();
            for p in first {
                // The second generator may use the first one's parameters.
                let mut second = children[1].clone();
                substitute(&mut second, &p, self.go);
                for q in self.generator(&second, depth + 1)? {
                    let mut m = p.clone();
                    m.extend(q);
                    out.push(m);
                }
            }
            return Some(out);
        }
        if let Some(merge) = g.get("merge") {
            let keys: Vec<String> = merge
                .get("mergeKeys")
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
                .filter_map(Node::scalar_text)
                .map(|k| k.trim_start_matches('.').to_string())
                .collect();
            let children: Vec<&Node> = merge
                .get("generators")
                .and_then(Node::as_seq)
                .map(|s| s.iter().collect())
                .unwrap_or_default();
            let Some((base, rest)) = children.split_first() else {
                self.unsupported("merge without generators is");
                return None;
            };
            let mut out = self.generator(base, depth + 1)?;
            for child in rest {
                for q in self.generator(child, depth + 1)? {
                    for p in &mut out {
                        if !keys.is_empty() && keys.iter().all(|k| p.get(k) == q.get(k)) {
                            p.extend(q.clone());
                        }
                    }
                }
            }
            return Some(out);
        }
        let kind = g
            .as_map()
            .and_then(|m| m.first())
            .and_then(|(k, _)| k.scalar_text())
            .unwrap_or("?")
            .to_string();
        self.unsupported(&format!("generator {kind:?} is"));
        None
    }
}

/// A list element's values as parameters: `a: {b: c}` is `a.b`.
fn flatten_params(prefix: &str, n: &Node, out: &mut BTreeMap<String, String>) {
    match &n.value {
        Value::Map(m) => {
            for (k, v) in m {
                if let Some(k) = k.scalar_text() {
                    let key = if prefix.is_empty() {
                        k.to_string()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    flatten_params(&key, v, out);
                }
            }
        }
        _ => {
            if let Some(v) = n.scalar_text() {
                out.insert(prefix.to_string(), v.to_string());
            }
        }
    }
}

/// Parameters of the git directory generator for every matching directory.
fn git_directories(git: &Node, root: &Path) -> Params {
    let mut include = Vec::new();
    let mut exclude = Vec::new();
    for d in git
        .get("directories")
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
    {
        let Some(p) = d.get("path").and_then(Node::scalar_text) else {
            continue;
        };
        if d.get("exclude").and_then(Node::scalar_text) == Some("true") {
            exclude.push(p.to_string());
        } else {
            include.push(p.to_string());
        }
    }
    let mut found = Vec::new();
    for pattern in &include {
        for dir in match_dirs(root, pattern) {
            if !exclude.iter().any(|e| path_match(e, &dir)) && !found.contains(&dir) {
                found.push(dir);
            }
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|dir| {
            let segments: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
            let basename = segments.last().copied().unwrap_or("").to_string();
            let mut m = BTreeMap::new();
            m.insert("path".into(), dir.clone());
            m.insert("path.path".into(), dir.clone());
            m.insert("path.basename".into(), basename.clone());
            m.insert("path.basenameNormalized".into(), normalize(&basename));
            for (i, s) in segments.iter().enumerate() {
                m.insert(format!("path[{i}]"), (*s).to_string());
            }
            m
        })
        .collect()
}

/// Argo CD's "normalized" names: lower case, anything outside `[-a-z0-9.]` becomes `-`.
fn normalize(s: &str) -> String {
    let lower = s.to_lowercase();
    let out: String = lower
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.trim_matches(['-', '.']).to_string()
}

/// Directories under `root` whose relative path matches `pattern` segment by segment, as Go's
/// `path.Match` does (`*` never crosses `/`).
fn match_dirs(root: &Path, pattern: &str) -> Vec<String> {
    let segments: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut current = vec![String::new()];
    for seg in segments {
        let mut next = Vec::new();
        for base in &current {
            let Ok(entries) = std::fs::read_dir(root.join(base)) else {
                continue;
            };
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            for n in names {
                if path_match(seg, &n) {
                    next.push(if base.is_empty() {
                        n
                    } else {
                        format!("{base}/{n}")
                    });
                }
            }
        }
        current = next;
    }
    current
}

fn path_match(pattern: &str, name: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let n: Vec<&str> = name.split('/').collect();
    p.len() == n.len()
        && p.iter()
            .zip(&n)
            .all(|(p, n)| segment_match(p.as_bytes(), n.as_bytes()))
}

/// Go's `path.Match` for one segment (`*`, `?`), iteratively (no recursion on hostile input).
fn segment_match(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) && p[pi] != b'*' {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi + 1, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Replaces `{{...}}` placeholders in every string of `node`.
fn substitute(node: &mut Node, params: &BTreeMap<String, String>, go: bool) {
    match &mut node.value {
        Value::Map(m) => {
            for (_, v) in m.iter_mut() {
                substitute(v, params, go);
            }
        }
        Value::Seq(items) => {
            for v in items {
                substitute(v, params, go);
            }
        }
        Value::Scalar(_) => {
            if let Some(text) = node.scalar_text().filter(|t| t.contains("{{")) {
                let new = expand(text, params, go);
                node.replace_str(&new);
            }
        }
    }
}

fn expand(text: &str, params: &BTreeMap<String, String>, go: bool) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = rest[start + 2..start + end].trim();
        let key = if go {
            if let Some(idx) = inner
                .strip_prefix("index .path.segments ")
                .and_then(|n| n.trim().parse::<usize>().ok())
            {
                format!("path[{idx}]")
            } else {
                inner.trim_start_matches('.').to_string()
            }
        } else {
            inner.to_string()
        };
        match params.get(&key) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + end + 2]),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

/// Argo CD's tracking method, from an `argocd-cm` ConfigMap in the input or the `--argocd`
/// files (`application.resourceTrackingMethod`).
pub fn tracking_method(input: &Input, paths: &[PathBuf]) -> Option<(String, Option<Loc>)> {
    let mut extra = Vec::new();
    for p in paths {
        let files: Vec<PathBuf> = if p.is_dir() {
            walkdir::WalkDir::new(p)
                .sort_by_file_name()
                .into_iter()
                .flatten()
                .filter(|e| e.file_type().is_file())
                .map(|e| e.path().to_path_buf())
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        } else {
            vec![p.clone()]
        };
        for f in files {
            let Ok(bytes) = source::read_regular(&f, source::MAX_FILE_BYTES) else {
                continue;
            };
            let Ok(text) = String::from_utf8(bytes) else {
                continue;
            };
            let Ok(stream) = parse_stream(&text, &Limits::default()) else {
                continue;
            };
            let display: Arc<str> = Arc::from(f.display().to_string());
            for d in stream.docs {
                if let Ok(o) = Object::from_node(d.root, &display) {
                    extra.push(o);
                }
            }
        }
    }
    input
        .objects
        .iter()
        .chain(&extra)
        .filter(|o| o.gk.is("", "ConfigMap") && o.name.as_deref() == Some("argocd-cm"))
        .find_map(|o| {
            let path = ["data", "application.resourceTrackingMethod"];
            let v = o.node.path(&path)?.scalar_text()?;
            Some((v.to_string(), Some(o.loc_of(&path))))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_in_both_syntaxes() {
        let mut p = BTreeMap::new();
        p.insert("path.basename".to_string(), "kubernetes".to_string());
        p.insert("path[1]".to_string(), "app".to_string());
        p.insert("number".to_string(), "7".to_string());
        assert_eq!(expand("ns-{{path.basename}}", &p, false), "ns-kubernetes");
        assert_eq!(expand("ns-{{ .path.basename }}", &p, true), "ns-kubernetes");
        assert_eq!(expand("{{index .path.segments 1}}", &p, true), "app");
        assert_eq!(
            expand("pr-{{number}}-{{unknown}}", &p, false),
            "pr-7-{{unknown}}"
        );
    }

    #[test]
    fn go_path_match() {
        assert!(path_match("apps/*", "apps/web"));
        assert!(!path_match("apps/*", "apps/web/x"));
        assert!(path_match("a?c", "abc"));
        assert!(path_match("*-api", "orders-api"));
        assert!(!path_match("*-api", "orders-db"));
        assert_eq!(normalize("My_App"), "my-app");
    }

    #[test]
    fn directory_include_exclude() {
        assert!(glob_set("*.yaml", "a/b.yaml"));
        assert!(glob_set("{*.yml,*.yaml}", "b.yml"));
        assert!(!glob_set("{*.yml,*.yaml}", "b.json"));
        assert!(glob_set("config/*.yaml", "config/x.yaml"));
    }

    fn node(text: &str) -> Node {
        parse_stream(text, &Limits::default())
            .ok()
            .and_then(|s| s.docs.into_iter().next())
            .map(|d| d.root)
            .unwrap_or_else(|| panic!("{text}"))
    }

    #[test]
    fn matrix_and_merge() {
        let loc = Loc::file(&Arc::from("appset.yaml"));
        let mut w = Vec::new();
        let mut ex = Expander {
            root: Path::new("/nonexistent"),
            max_pr: 42,
            go: true,
            loc: &loc,
            warnings: &mut w,
        };
        let m = node(
            "matrix:\n  generators:\n  - list: {elements: [{dir: a}, {dir: b}]}\n  - pullRequest: {github: {owner: o, repo: r}}\n",
        );
        let p = ex.generator(&m, 0).unwrap_or_default();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].get("dir").map(String::as_str), Some("b"));
        assert_eq!(p[1].get("number").map(String::as_str), Some("42"));
        let merge = node(
            "merge:\n  mergeKeys: [dir]\n  generators:\n  - list: {elements: [{dir: a, ns: x}, {dir: b, ns: y}]}\n  - list: {elements: [{dir: b, ns: z}, {dir: c, ns: w}]}\n",
        );
        let p = ex.generator(&merge, 0).unwrap_or_default();
        let ns: Vec<_> = p.iter().filter_map(|m| m.get("ns").cloned()).collect();
        assert_eq!(ns, ["x", "z"]);
        let unknown = node("scmProvider: {}\n");
        assert!(ex.generator(&unknown, 0).is_none());
        assert_eq!(w.len(), 1);
    }
}
