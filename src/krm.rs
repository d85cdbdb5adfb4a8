//! `kubectl-gitops fn`: the render as a KRM function, for kpt (`kpt fn eval --exec`,
//! Kptfile pipelines) and kustomize (`transformers:`), so a kustomize user can add identity
//! to an existing overlay.
//!
//! Two protocols, one render:
//!
//! - **KRM functions** (the KRM Functions Specification, `config.kubernetes.io/v1`): a
//!   `ResourceList` on stdin, the same `ResourceList` on stdout with its `items` rendered and
//!   `results` for warnings and errors. The identity comes from `functionConfig` only; no
//!   gitops.yaml is read from disk (the orchestrator decides what the function sees).
//! - **kustomize exec plugins** (`fn CONFIG`, what `kubectl kustomize --enable-alpha-plugins`
//!   runs for a `transformers:` entry): the plugin's configuration file as the argument and a
//!   plain YAML stream on stdin and stdout.
//!
//! The functionConfig is either a `ConfigMap` whose `data` keys are the Argo CD plugin
//! parameters' names (`env`, `pr`, `namespace`, `app`: what `kpt fn eval ... -- env=dev
//! app=web` builds), or a typed `kubectl-gitops.io/v1alpha1` `KubectlGitops` object that
//! holds gitops.yaml's keys and an `identity:` mapping with the same four keys.
//!
//! Invariants: the items are the input text with the render's edits (the same splicing
//! emitter as `render`, so comments and layout survive); every annotation is kept, the
//! orchestrator's `config.kubernetes.io/*` and `internal.config.kubernetes.io/*` ones
//! included, so each object goes back to its file; objects marked
//! `config.kubernetes.io/local-config: "true"` (a Kptfile, function configs) are not
//! deployed and pass through untouched. A failed render prints the input `ResourceList`
//! unchanged with an error result (what orchestrators show) and exits 2; the error is also
//! the first line of stderr.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::gitops_yaml::{self, GitopsConfig};
use crate::config::{IdentityRequest, Sourced, identity};
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::{Doc, Input, Loc, Object, OutDoc};
use crate::source::{self, MAX_TOTAL_BYTES, SourceFile};
use crate::transform::{self, Ctx};
use crate::yaml::Node;

/// The typed functionConfig's apiVersion and kind.
pub const CONFIG_API_VERSION: &str = "kubectl-gitops.io/v1alpha1";
pub const CONFIG_KIND: &str = "KubectlGitops";
/// The identity keys of a functionConfig (the Argo CD plugin parameters' names).
const IDENTITY_KEYS: [&str; 4] = ["env", "pr", "namespace", "app"];
const LOCAL_CONFIG: &str = "config.kubernetes.io/local-config";

/// The outcome of `fn`: what to print on stdout, and whether the render failed (then the
/// error is also returned, for stderr and the exit code).
pub struct FnOutput {
    pub stdout: Vec<u8>,
    pub error: Option<Error>,
}

/// Reads stdin, bounded like a render's whole input.
pub fn read_input(stdin: &mut dyn Read) -> Result<String> {
    let mut bytes = Vec::new();
    let io = |source| Error::Io {
        path: PathBuf::from("<stdin>"),
        source,
    };
    stdin
        .take(MAX_TOTAL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_TOTAL_BYTES {
        return Err(Error::TooLarge {
            path: PathBuf::from("<stdin>"),
            size: bytes.len() as u64,
            limit: MAX_TOTAL_BYTES,
        });
    }
    String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        loc: Loc::file(&Arc::from("<stdin>")),
    })
}

fn parse(text: &str, display: &str) -> Result<(Input, Vec<Warning>)> {
    source::parse_files(&[SourceFile::new(display, text)])
}

/// The KRM function: a ResourceList in, a ResourceList out.
pub fn resource_list(text: &str, warnings: &mut Vec<Warning>) -> FnOutput {
    match render_resource_list(text, warnings) {
        Ok(stdout) => FnOutput {
            stdout,
            error: None,
        },
        Err(e) => {
            // The input as it was, with the error as a result, when it can be read at all.
            let stdout = failed_resource_list(text, &e, warnings).unwrap_or_default();
            FnOutput {
                stdout,
                error: Some(e),
            }
        }
    }
}

/// The ResourceList document of a parsed input: its index in `input.docs`.
fn list_doc(input: &Input) -> Result<usize> {
    let mut found = None;
    for (i, d) in input.docs.iter().enumerate() {
        match d {
            Doc::Text(_) => {}
            Doc::List { wrapper, .. } if wrapper.get_str("kind") == Some("ResourceList") => {
                if found.is_some() {
                    return Err(Error::Usage(
                        "fn reads one ResourceList on standard input; this stream holds more"
                            .into(),
                    ));
                }
                found = Some(i);
            }
            _ => {
                return Err(Error::Usage(
                    "fn reads a ResourceList (config.kubernetes.io/v1) on standard input; to render a plain stream use `render -`, or `fn CONFIG` as a kustomize exec plugin".into(),
                ));
            }
        }
    }
    found.ok_or_else(|| {
        Error::Usage(
            "fn reads a ResourceList (config.kubernetes.io/v1) on standard input, which was empty"
                .into(),
        )
    })
}

fn render_resource_list(text: &str, warnings: &mut Vec<Warning>) -> Result<Vec<u8>> {
    let (mut input, parse_warnings) = parse(text, "<stdin>")?;
    warnings.extend(parse_warnings);
    let at = list_doc(&input)?;
    let Doc::List { wrapper, .. } = &input.docs[at] else {
        return Err(Error::Usage("fn: no ResourceList".into()));
    };
    let file: Arc<str> = Arc::from("functionConfig");
    let (req, config) = function_config(wrapper.get("functionConfig"), &file)?;
    let items_meta = item_refs(&input, at);

    // Local configuration (a Kptfile, function configs) is not deployed: set it aside.
    let local = take_local_config(&mut input, at);
    let mut docs = render_input(input, &req, config, warnings)?;

    // The ResourceList document, and what the render put before it (a preview Namespace, a
    // target Namespace moved to the front): those belong to the items, first.
    let Some(list_at) = docs
        .iter()
        .position(|d| d.node.get_str("kind") == Some("ResourceList"))
    else {
        return Err(Error::Usage("fn: the render lost the ResourceList".into()));
    };
    let front: Vec<OutDoc> = docs
        .drain(..list_at)
        .filter(|d| d.source.is_none())
        .collect();
    let list = &mut docs[0];
    if let Some(items) = list.node.get_mut("items").and_then(Node::as_seq_mut) {
        let shift = front.len();
        for (k, d) in front.into_iter().enumerate() {
            items.insert(k, d.node);
        }
        // Back where they were read, so every item keeps its place in the text.
        for (position, node) in local {
            let at = (position + shift).min(items.len());
            items.insert(at, node);
        }
    }
    add_results(&mut list.node, warnings, None, &items_meta);
    crate::output::to_bytes(&docs, crate::output::Format::Yaml)
}

/// The input ResourceList unchanged but for an error result (and the warnings so far).
fn failed_resource_list(text: &str, e: &Error, warnings: &[Warning]) -> Option<Vec<u8>> {
    let (input, _) = parse(text, "<stdin>").ok()?;
    let at = list_doc(&input).ok()?;
    let items_meta = item_refs(&input, at);
    let mut docs = input.into_docs();
    let list = docs
        .iter_mut()
        .find(|d| d.node.get_str("kind") == Some("ResourceList"))?;
    add_results(&mut list.node, warnings, Some(e), &items_meta);
    crate::output::to_bytes(&docs, crate::output::Format::Yaml).ok()
}

/// The kustomize exec plugin: `fn CONFIG`, a YAML stream in and out.
pub fn stream(text: &str, config_path: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<u8>> {
    let config_text = std::fs::read_to_string(config_path).map_err(|source| Error::Io {
        path: config_path.to_path_buf(),
        source,
    })?;
    let display = config_path.display().to_string();
    let (config_input, _) = parse(&config_text, &display)?;
    let file: Arc<str> = Arc::from(display.as_str());
    let node = config_input
        .objects
        .first()
        .map(|o| &o.node)
        .ok_or_else(|| Error::FileRefused {
            path: config_path.to_path_buf(),
            msg: "no functionConfig object in this file".into(),
        })?;
    let (req, config) = function_config(Some(node), &file)?;
    let (input, parse_warnings) = parse(text, "<stdin>")?;
    warnings.extend(parse_warnings);
    let docs = render_input(input, &req, config, warnings)?;
    crate::output::to_bytes(&docs, crate::output::Format::Yaml)
}

/// Resolves the identity and runs the steps.
fn render_input(
    input: Input,
    req: &IdentityRequest,
    config: Option<GitopsConfig>,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<OutDoc>> {
    let resolved = identity::resolve(req, config.as_ref())?;
    warnings.extend(resolved.warnings);
    let ctx = Ctx {
        identity: resolved.identity,
        environment: resolved.environment,
        sandbox: resolved.sandbox,
        config: config.unwrap_or_default(),
        view: transform::AppView::default(),
    };
    if input.objects.is_empty() {
        // Nothing to render (a package of local configuration only): as it is.
        return Ok(input.into_docs());
    }
    let mut output = transform::run(input, &ctx)?;
    warnings.append(&mut output.warnings);
    Ok(output.docs)
}

/// The identity request and the configuration a functionConfig describes.
fn function_config(
    node: Option<&Node>,
    file: &Arc<str>,
) -> Result<(IdentityRequest, Option<GitopsConfig>)> {
    let Some(node) = node.filter(|n| !n.is_null()) else {
        return Ok((IdentityRequest::default(), None));
    };
    let loc = |n: &Node| Loc::new(file, n.pos);
    let config_err = |n: &Node, msg: String| Error::Config { loc: loc(n), msg };
    let api_version = node.get_str("apiVersion").unwrap_or("");
    let kind = node.get_str("kind").unwrap_or("");
    let (values, config, where_) = match (api_version, kind) {
        ("v1", "ConfigMap") => {
            let data = node.get("data").filter(|d| !d.is_null());
            (data, None, "data")
        }
        (CONFIG_API_VERSION, CONFIG_KIND) => {
            let cfg = gitops_yaml::from_node(
                node,
                file,
                Path::new("."),
                &["apiVersion", "kind", "metadata", "identity"],
            )?;
            (
                node.get("identity").filter(|d| !d.is_null()),
                Some(cfg),
                "identity",
            )
        }
        _ => {
            return Err(config_err(
                node,
                format!(
                    "functionConfig {api_version}/{kind} is not one kubectl-gitops reads: use a ConfigMap (data: env, pr, namespace, app) or {CONFIG_API_VERSION} {CONFIG_KIND}"
                ),
            ));
        }
    };
    let mut req = IdentityRequest::default();
    if let Some(values) = values {
        let entries = values.as_map().ok_or_else(|| {
            config_err(values, format!("functionConfig {where_} must be a mapping"))
        })?;
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or("");
            let value = match v.scalar_text() {
                Some(t) if v.as_scalar().is_some() => t.to_string(),
                _ => {
                    return Err(config_err(
                        v,
                        format!("functionConfig {where_}.{key} must be a string"),
                    ));
                }
            };
            if v.is_null() || value.is_empty() {
                continue;
            }
            let source = format!("functionConfig {where_}.{key}");
            let slot = match key {
                "env" => &mut req.env,
                "pr" => &mut req.pr,
                "namespace" => &mut req.namespace,
                "app" => &mut req.app,
                other => {
                    return Err(config_err(
                        k,
                        format!(
                            "unknown key {other:?} in functionConfig {where_}: the keys are {}",
                            IDENTITY_KEYS.join(", ")
                        ),
                    ));
                }
            };
            slot.push(Sourced::new(value, source));
        }
    }
    let has_identity = !req.env.is_empty() || !req.pr.is_empty() || !req.namespace.is_empty();
    let has_app = !req.app.is_empty() || config.as_ref().is_some_and(|c| c.app.is_some());
    if has_identity && !has_app {
        return Err(config_err(
            node,
            format!(
                "no app name: set app in functionConfig {where_} (fn reads no gitops.yaml and has no directory to name the app after)"
            ),
        ));
    }
    Ok((req, config))
}

/// For every item of the ResourceList (in order): what a result names it by.
struct ItemRef {
    line: u32,
    api_version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    path: Option<String>,
}

fn item_refs(input: &Input, at: usize) -> Vec<ItemRef> {
    let Some(Doc::List { items, .. }) = input.docs.get(at) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|&i| input.objects.get(i))
        .map(|o| {
            let ann = |k: &str| {
                o.node
                    .path(&["metadata", "annotations", k])
                    .and_then(Node::scalar_text)
                    .map(str::to_string)
            };
            ItemRef {
                line: o.node.pos.line,
                api_version: Some(o.api_version.clone()),
                kind: Some(o.gk.kind.to_string()),
                name: o.name.clone().or_else(|| o.generate_name.clone()),
                namespace: o.namespace.clone(),
                path: ann("config.kubernetes.io/path")
                    .or_else(|| ann("internal.config.kubernetes.io/path")),
            }
        })
        .collect()
}

/// Takes the local-config items out of the ResourceList document; returns them with their
/// positions among the items.
fn take_local_config(input: &mut Input, at: usize) -> Vec<(usize, Node)> {
    let Some(Doc::List { items, .. }) = input.docs.get(at) else {
        return Vec::new();
    };
    let is_local = |o: &Object| {
        o.node
            .path(&["metadata", "annotations", LOCAL_CONFIG])
            .and_then(Node::scalar_text)
            == Some("true")
            || (o.gk.kind.as_str() == "Kptfile" && o.api_version.starts_with("kpt.dev/"))
    };
    let local: Vec<(usize, usize)> = items
        .iter()
        .enumerate()
        .filter(|(_, i)| input.objects.get(**i).is_some_and(is_local))
        .map(|(pos, &i)| (pos, i))
        .collect();
    if local.is_empty() {
        return Vec::new();
    }
    let local_objects: Vec<usize> = local.iter().map(|(_, i)| *i).collect();
    // Rebuild the objects without the local ones; indexes are renumbered.
    let old = std::mem::take(&mut input.objects);
    let mut new_index = vec![None; old.len()];
    let mut taken = Vec::new();
    for (i, o) in old.into_iter().enumerate() {
        if local_objects.contains(&i) {
            taken.push((i, o.node));
        } else {
            new_index[i] = Some(input.objects.len());
            input.objects.push(o);
        }
    }
    for d in &mut input.docs {
        match d {
            Doc::Object(i) => {
                if let Some(n) = new_index[*i] {
                    *i = n;
                }
            }
            Doc::List { items, read, .. } => {
                items.retain(|i| !local_objects.contains(i));
                for i in items.iter_mut() {
                    *i = new_index[*i].unwrap_or(*i);
                }
                // The local items go back as they were read: not "removed" from the text.
                read.retain(|(i, _)| !local_objects.contains(i));
                for (i, _) in read.iter_mut() {
                    *i = new_index[*i].unwrap_or(*i);
                }
            }
            Doc::Text(_) => {}
        }
    }
    local
        .into_iter()
        .zip(taken)
        .map(|((pos, _), (_, node))| (pos, node))
        .collect()
}

/// Adds `results` (after the existing ones) for the warnings and the error.
fn add_results(list: &mut Node, warnings: &[Warning], error: Option<&Error>, items: &[ItemRef]) {
    let mut results = Vec::new();
    if let Some(e) = error {
        results.push(result(&e.to_string(), error_loc(e), "error", items));
    }
    for w in warnings {
        results.push(result(&w.msg, w.loc.as_ref(), "warning", items));
    }
    if results.is_empty() {
        return;
    }
    match list.get_mut("results").and_then(Node::as_seq_mut) {
        Some(existing) => existing.extend(results),
        None => {
            list.set("results", Node::seq(results), &["functionConfig", "items"]);
        }
    }
}

/// One result: the message, its severity, and the resource and file it is about.
fn result(message: &str, loc: Option<&Loc>, severity: &str, items: &[ItemRef]) -> Node {
    let mut message = message.to_string();
    let mut entries = Vec::new();
    // A line and column in the serialized ResourceList mean nothing to the user: the result
    // names the resource and its file instead (or the functionConfig).
    if let Some(rest) = loc.and_then(|l| message.strip_prefix(&format!("{l}: "))) {
        message = match loc {
            Some(l) if &*l.file != "<stdin>" => format!("{}: {rest}", l.file),
            _ => rest.to_string(),
        };
    }
    let item = loc
        .filter(|l| &*l.file == "<stdin>")
        .and_then(|l| items.iter().rev().find(|i| i.line <= l.pos.line));
    entries.push((Node::string("message"), Node::string(message)));
    entries.push((Node::string("severity"), Node::string(severity)));
    if let Some(i) = item {
        let mut r = Vec::new();
        for (k, v) in [
            ("apiVersion", &i.api_version),
            ("kind", &i.kind),
            ("name", &i.name),
            ("namespace", &i.namespace),
        ] {
            if let Some(v) = v {
                r.push((Node::string(k), Node::string(v.clone())));
            }
        }
        entries.push((Node::string("resourceRef"), Node::map(r)));
        if let Some(path) = &i.path {
            let f = vec![(Node::string("path"), Node::string(path.clone()))];
            entries.push((Node::string("file"), Node::map(f)));
        }
    }
    Node::map(entries)
}

/// Where an error happened, when it says.
fn error_loc(e: &Error) -> Option<&Loc> {
    match e {
        Error::Yaml { loc, .. }
        | Error::NotUtf8 { loc }
        | Error::NotAnObject { loc, .. }
        | Error::Config { loc, .. }
        | Error::Collision { loc, .. }
        | Error::Refused { loc, .. } => Some(loc),
        _ => None,
    }
}
