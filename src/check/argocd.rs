//! How Argo CD deploys the checked directory, for `check --argocd FILE|DIR`: the Applications
//! and ApplicationSets in those files are expanded the way Argo CD expands them, and every
//! generated Application whose source path lies in the checked directory is rendered exactly
//! as `generate` would render it in the sidecar (its plugin env and parameters become the
//! `ARGOCD_*` variables that [`crate::cmp`] reads).
//!
//! ApplicationSet generators understood: `git` directories (with `exclude`), `list`, and
//! `pullRequest` (one pull request numbered `--max-pr`); templates in fasttemplate
//! (`{{path.basename}}`) and Go template (`{{.path.basename}}`) syntax. Other generators are
//! reported as not evaluated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::{Input, Loc, Object};
use crate::render::{self, Request};
use crate::source::{self, Target};
use crate::transform::{self, Analysis, Ctx};
use crate::yaml::{Node, Value};

/// One generated Application that deploys (part of) the checked directory, rendered.
pub struct Deployment {
    /// The Application's name.
    pub app: String,
    /// Where the Application or its ApplicationSet is written.
    pub defined_at: Loc,
    /// The source path, relative to the repository root.
    pub path: String,
    pub ctx: Ctx,
    pub analysis: Analysis,
}

/// Reads Argo CD objects from files or directories.
fn read_objects(paths: &[PathBuf]) -> Result<Vec<Object>> {
    let mut out = Vec::new();
    for p in paths {
        let target = if p.is_dir() {
            Target::Dir(p.clone())
        } else {
            Target::File(p.clone())
        };
        let files = source::read(&target, &[], "", &mut std::io::empty())?;
        let (input, _) = source::parse_files(&files)?;
        out.extend(input.objects);
    }
    Ok(out)
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

/// Expands and renders the Applications of `paths` that deploy `checked`.
pub fn deployments(
    paths: &[PathBuf],
    checked: &str,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<Deployment>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let checked_path = PathBuf::from(checked);
    let root = repo_root(&checked_path);
    let checked_abs = checked_path.canonicalize().map_err(|source| Error::Io {
        path: checked_path.clone(),
        source,
    })?;
    let mut out = Vec::new();
    for o in read_objects(paths)? {
        if o.gk.group != "argoproj.io" {
            continue;
        }
        let apps: Vec<(String, Node)> = match o.gk.kind.as_str() {
            "Application" => vec![(o.name.clone().unwrap_or_default(), o.node.clone())],
            "ApplicationSet" => expand_appset(&o, &root, warnings),
            _ => continue,
        };
        for (name, app) in apps {
            let Some(source) = app.path(&["spec", "source"]) else {
                continue;
            };
            let Some(plugin) = source.get("plugin") else {
                continue;
            };
            if plugin
                .get("name")
                .and_then(Node::as_str)
                .is_some_and(|n| !n.starts_with("kubectl-gitops"))
            {
                continue;
            }
            let Some(path) = source.get("path").and_then(Node::as_str) else {
                continue;
            };
            let dir = root.join(path);
            let Ok(dir_abs) = dir.canonicalize() else {
                warnings.push(Warning::at(
                    o.loc(),
                    format!(
                        "Application {name}: source path {path:?} does not exist here; not checked"
                    ),
                ));
                continue;
            };
            if !dir_abs.starts_with(&checked_abs) && !checked_abs.starts_with(&dir_abs) {
                continue;
            }
            let vars = argocd_vars(&name, &app, path);
            let env = crate::cmp::from_vars(&vars, &dir_abs)?;
            warnings.extend(env.warnings);
            let display = render::display_relative(&dir_abs);
            let req = Request {
                path: display,
                identity: env.identity,
                repo_root: env.repo_root,
            };
            let (input, ctx) = render::prepare(&req, &mut std::io::empty(), warnings)?;
            let analysis = transform::analyze(input, &ctx);
            out.push(Deployment {
                app: name,
                defined_at: o.loc(),
                path: path.to_string(),
                ctx,
                analysis,
            });
        }
    }
    Ok(out)
}

/// The variables Argo CD gives `generate` for an Application (argocd-cmp-contract.md §1).
fn argocd_vars(name: &str, app: &Node, path: &str) -> Vec<(String, String)> {
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
    let plugin = app.path(&["spec", "source", "plugin"]);
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

/// Expands an ApplicationSet into (name, Application-like node) pairs.
fn expand_appset(o: &Object, root: &Path, warnings: &mut Vec<Warning>) -> Vec<(String, Node)> {
    let go = o
        .node
        .path(&["spec", "goTemplate"])
        .and_then(Node::scalar_text)
        == Some("true");
    let Some(template) = o.node.path(&["spec", "template"]) else {
        return Vec::new();
    };
    let mut params: Vec<BTreeMap<String, String>> = Vec::new();
    for g in o
        .node
        .path(&["spec", "generators"])
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
    {
        if let Some(git) = g.get("git") {
            params.extend(git_directories(git, root));
        } else if let Some(list) = g.get("list") {
            for el in list
                .get("elements")
                .and_then(Node::as_seq)
                .into_iter()
                .flatten()
            {
                let mut m = BTreeMap::new();
                for (k, v) in el.as_map().into_iter().flatten() {
                    if let (Some(k), Some(v)) = (k.scalar_text(), v.scalar_text()) {
                        m.insert(k.to_string(), v.to_string());
                    }
                }
                params.push(m);
            }
        } else if g.get("pullRequest").is_some() {
            let mut m = BTreeMap::new();
            m.insert("number".into(), crate::check::DEFAULT_MAX_PR.to_string());
            m.insert("branch".into(), "preview".into());
            m.insert("branch_slug".into(), "preview".into());
            m.insert("head_sha".into(), "0".repeat(40));
            m.insert("head_short_sha".into(), "0".repeat(8));
            m.insert("head_short_sha_7".into(), "0".repeat(7));
            params.push(m);
        } else {
            warnings.push(Warning::at(
                o.loc(),
                "ApplicationSet generator not evaluated by check (only git directories, list and pullRequest are)",
            ));
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

/// Parameters of the git directory generator for every matching directory.
fn git_directories(git: &Node, root: &Path) -> Vec<BTreeMap<String, String>> {
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

fn segment_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => (0..=s.len()).any(|i| segment_match(&p[1..], &s[i..])),
        (Some(b'?'), Some(_)) => segment_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => segment_match(&p[1..], &s[1..]),
        _ => false,
    }
}

/// Replaces `{{...}}` placeholders in every string of `node`.
fn substitute(node: &mut Node, params: &BTreeMap<String, String>, go: bool) {
    match &mut node.value {
        Value::Scalar(s) if s.value.contains("{{") => {
            let new = expand(&s.value, params, go);
            node.replace_str(&new);
        }
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
        Value::Scalar(_) => {}
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
    let extra = read_objects(paths).unwrap_or_default();
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
        assert_eq!(normalize("My_App"), "my-app");
    }
}
