//! A whole render, from a path and an identity request to documents: find and read
//! gitops.yaml, resolve the identity, read the manifests, run the steps. `render`, `generate`
//! (the Argo CD entry point), `check`, `diff` and `preview up` all come through [`prepare`],
//! so a developer gets byte for byte what Argo CD applies.
//!
//! **Names from the repository.** The `app` default (DESIGN.md §2) is a folder name: the one
//! holding gitops.yaml, else the rendered directory. Both are taken from the path *inside the
//! repository* (locally below the folder holding `.git`; in `generate` from
//! `ARGOCD_APP_SOURCE_PATH`, never from the temporary checkout Argo CD extracted into), so a
//! local render and Argo CD's agree.
//!
//! **The app-wide view** (DESIGN.md §4.3). With an identity (and always for `check`), the
//! directories of the app outside the rendered path (everything under the gitops.yaml folder,
//! each loaded as in §4.1) are read as context, leniently (what cannot be read is skipped with
//! a warning): the steps compute names over the whole app and output only the rendered path's
//! objects ([`crate::transform::AppView`]). So the seed's one-Application-per-directory layout
//! gets consistent names in a preview, and only the first directory holding manifests (in byte
//! order) emits the preview Namespace.

use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::config::gitops_yaml::{self, GitopsConfig};
use crate::config::policy::Policy;
use crate::config::{IdentityRequest, identity};
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::Input;
use crate::source::build::{Builder, HelmRequest, ToolEnv};
use crate::source::{self, Target, walk};
use crate::transform::{self, AppView, Ctx, Output};

/// What to render.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// A directory, a file, or `-`.
    pub path: String,
    pub identity: IdentityRequest,
    /// Where gitops.yaml lookup stops (Argo CD's repository root); `None`: the nearest
    /// folder holding `.git`, else the filesystem root.
    pub repo_root: Option<PathBuf>,
    /// `ARGOCD_APP_SOURCE_PATH` in `generate`: the rendered directory's path inside the
    /// repository, where folder names come from.
    pub source_path: Option<String>,
    /// What external builds need from the environment (PATH, `KUBE_VERSION`, ...).
    pub tools: ToolEnv,
    /// The platform policy: `Some` sandboxes the render (`generate`, `--policy`); `None`
    /// trusts the repository (a developer's own render).
    pub policy: Option<Policy>,
    /// Read the app's other directories even without an identity (`check`).
    pub app_view: bool,
}

/// The render's result and the context it used (callers need `allowEmpty`, for instance).
#[derive(Debug)]
pub struct Rendered {
    pub output: Output,
    pub ctx: Ctx,
}

/// Renders a request. Warnings are pushed to `warnings` even when the render fails, so the
/// caller can print them after the error.
pub fn render(
    req: &Request,
    stdin: &mut dyn Read,
    warnings: &mut Vec<Warning>,
) -> Result<Rendered> {
    render_explained(req, stdin, warnings, false)
}

/// [`render`], recording every edit in `output.explained` when `explain` is set (`--explain`).
pub fn render_explained(
    req: &Request,
    stdin: &mut dyn Read,
    warnings: &mut Vec<Warning>,
    explain: bool,
) -> Result<Rendered> {
    let (input, ctx) = prepare(req, stdin, warnings)?;
    let mut output = transform::run_explained(input, &ctx, explain)?;
    warnings.append(&mut output.warnings);
    Ok(Rendered { output, ctx })
}

/// Everything before the steps: gitops.yaml, the resolved identity, and the objects read (the
/// rendered path's first, then the app-wide context; `ctx.view` says which are which).
pub fn prepare(
    req: &Request,
    stdin: &mut dyn Read,
    warnings: &mut Vec<Warning>,
) -> Result<(Input, Ctx)> {
    let target = target(&req.path)?;
    let start = match &target {
        Target::Dir(d) => d.clone(),
        Target::File(f) => f
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        Target::Stdin => PathBuf::from("."),
    };
    let config = load_config(&start, req.repo_root.as_deref())?;
    let repo_root = repository_root(&start, req.repo_root.as_deref());
    if let Target::File(f) = &target {
        // A file named directly may be a symlink, but not one out of the repository (the
        // folder holding .git; outside a checkout, the file's own folder).
        if std::fs::symlink_metadata(f).is_ok_and(|m| m.file_type().is_symlink()) {
            let inside = match &repo_root {
                Some(r) => r.clone(),
                None => start.canonicalize().unwrap_or_else(|_| start.clone()),
            };
            let to = f.canonicalize().map_err(|source| Error::Io {
                path: f.clone(),
                source,
            })?;
            if !to.starts_with(&inside) {
                return Err(Error::FileRefused {
                    path: f.clone(),
                    msg: format!(
                        "symlink to {} leaves the repository; kubectl-gitops reads no file outside it",
                        to.display()
                    ),
                });
            }
        }
    }

    let mut id_req = req.identity.clone();
    // A sandboxed render judges gitops.yaml's preview keys by the policy (DESIGN.md §3).
    if id_req.policy.is_none() {
        id_req.policy = req.policy.clone().map(std::sync::Arc::new);
    }
    let names = FolderNames::of(
        &start,
        config.as_ref(),
        repo_root.as_deref(),
        req.source_path.as_deref(),
    );
    if id_req.dir_name.is_none() {
        id_req.dir_name = names.dir;
    }
    if id_req.app_dir_name.is_none() {
        id_req.app_dir_name = names.app_dir;
    }
    let mut resolved = identity::resolve(&id_req, config.as_ref())?;
    warnings.append(&mut resolved.warnings);
    if config.is_none() {
        if let Some(env) = &resolved.identity.env {
            let app = match (&resolved.identity.app, id_req.app.is_empty()) {
                (Some(a), true) => format!(", and app {a:?} is the directory's name"),
                _ => String::new(),
            };
            warnings.push(Warning::general(format!(
                "no gitops.yaml between {} and the repository root: environment {env:?} is taken as given (nothing lists the environments), with no namespace, labels or claim settings of its own{app}",
                display_dir(&start),
            )));
        }
    }

    let cfg = config.unwrap_or_default();
    let canon_start = start.canonicalize().map_err(|source| Error::Io {
        path: start.clone(),
        source,
    })?;
    // Tools are found on the PATH the caller gives (the process environment by default).
    let tools = if req.tools.path.is_some() {
        req.tools.clone()
    } else {
        ToolEnv::from_vars(&std::env::vars().collect::<Vec<_>>())
    };
    let builder = Builder::new(
        tools,
        req.policy.as_ref().map(|p| p.build.clone()),
        repo_root.clone().unwrap_or_else(|| canon_start.clone()),
        helm_request(&cfg, &resolved, id_req.dir_name.as_deref()),
    );
    // exclude: globs are relative to gitops.yaml's folder.
    let canon_cfg_dir = cfg.dir.canonicalize().ok();
    let exclude_base = match (&target, &canon_cfg_dir) {
        (Target::Dir(_), Some(c)) => canon_start
            .strip_prefix(c)
            .map(walk::rel_string)
            .unwrap_or_default(),
        _ => String::new(),
    };
    let opts = walk::Options {
        excludes: &cfg.exclude,
        exclude_base,
        ..walk::Options::default()
    };
    let loaded = source::read(&target, &opts, &builder, stdin, warnings)?;
    let mut extra_references = loaded.references;
    let (mut input, parse_warnings) = source::parse_files(&loaded.files)?;
    warnings.extend(parse_warnings);
    let own_keys = first_object_key(&input, &loaded.files);
    let own_kustomizations: Vec<PathBuf> = loaded
        .files
        .iter()
        .flat_map(|f| f.kustomizations.iter().cloned())
        .collect();
    drop(loaded.files);

    let mut view = AppView {
        own_objects: Some(input.objects.len()),
        own_docs: input.docs.len(),
        ..AppView::default()
    };
    // The app's other directories.
    let siblings_root = canon_cfg_dir.as_ref().filter(|c| {
        cfg.found
            && (req.app_view || resolved.identity.is_set())
            && match &target {
                Target::Dir(_) => canon_start != **c,
                Target::File(_) => true,
                Target::Stdin => false,
            }
    });
    let mut context_files = Vec::new();
    if let Some(app_root) = siblings_root {
        let own = match &target {
            Target::File(f) => f.canonicalize().ok(),
            _ => Some(canon_start.clone()),
        };
        let display = relative_to_cwd(app_root);
        let sibling_opts = walk::Options {
            excludes: &cfg.exclude,
            exclude_base: String::new(),
            skip: own.clone(),
            lenient: true,
        };
        let siblings = source::read_lenient(
            Path::new(&display),
            &sibling_opts,
            &builder,
            &own_kustomizations,
            warnings,
        )?;
        let (sibling_input, sibling_warnings) = source::parse_files_lenient(&siblings.files);
        warnings.extend(sibling_warnings);
        // The first directory holding manifests emits a preview's Namespace.
        let own_prefix = own
            .as_ref()
            .and_then(|o| o.strip_prefix(app_root).ok())
            .map(walk::rel_string)
            .unwrap_or_default();
        let own_first = own_keys.map(|k| match &target {
            Target::File(_) => own_prefix.clone(),
            _ if own_prefix.is_empty() => k,
            _ => format!("{own_prefix}/{k}"),
        });
        let sibling_first =
            first_sibling_key(&input, &own_kustomizations, &sibling_input, &siblings.files);
        view.emits_namespace = match (own_first, sibling_first) {
            (Some(o), Some(s)) => o.as_bytes() <= s.as_bytes(),
            _ => true,
        };
        context_files.extend(siblings.files.iter().map(|f| Arc::clone(&f.display)));
        source::append(&mut input, sibling_input);
        extra_references.extend(siblings.references);
    }
    // What kustomizations' crds: declare is known like gitops.yaml's references:.
    let mut cfg = cfg;
    for r in extra_references {
        if !cfg.references.contains(&r) {
            cfg.references.push(r);
        }
    }
    context_files.sort();
    context_files.dedup();
    view.context_files = context_files;
    let ctx = Ctx {
        identity: resolved.identity,
        environment: resolved.environment,
        sandbox: resolved.sandbox,
        config: cfg,
        view,
    };
    Ok((input, ctx))
}

/// The walk key (path relative to the walked root) of the first file that holds an object.
fn first_object_key(input: &Input, files: &[source::SourceFile]) -> Option<String> {
    let with_objects: std::collections::BTreeSet<&str> =
        input.objects.iter().map(|o| &*o.file).collect();
    files
        .iter()
        .find(|f| with_objects.contains(&*f.display))
        .map(|f| f.key.clone())
}

/// The walk key of the first sibling that is another part of the app, not another variant of
/// the rendered path: it holds an object the rendered path does not (by kind and name), it
/// shares no kustomization with it (an overlay of the same base, or the base itself, is a
/// variant: `overlays/dev` and `overlays/prod` are never two halves of one preview), and it is
/// not a base or component that another kustomization of the app uses.
fn first_sibling_key(
    own: &Input,
    own_kustomizations: &[PathBuf],
    siblings: &Input,
    files: &[source::SourceFile],
) -> Option<String> {
    let own_ids: std::collections::BTreeSet<(&crate::model::GroupKind, Option<&str>)> = own
        .objects
        .iter()
        .map(|o| (&o.gk, o.name.as_deref()))
        .collect();
    // Bases and components: used by another kustomization of the app, never Applications.
    let used_by_others: Vec<&PathBuf> = files
        .iter()
        .flat_map(|f| f.kustomizations.iter().skip(1))
        .chain(own_kustomizations.iter())
        .collect();
    files
        .iter()
        .filter(|f| {
            !f.kustomizations
                .iter()
                .any(|k| own_kustomizations.contains(k))
        })
        .filter(|f| {
            f.kustomizations
                .first()
                .is_none_or(|k| !used_by_others.contains(&k))
        })
        .find(|f| {
            siblings
                .objects
                .iter()
                .any(|o| o.file == f.display && !own_ids.contains(&(&o.gk, o.name.as_deref())))
        })
        .map(|f| f.key.clone())
}

/// gitops.yaml `helm:` for this render.
fn helm_request(
    cfg: &GitopsConfig,
    resolved: &identity::Resolved,
    dir_name: Option<&str>,
) -> HelmRequest {
    let id = &resolved.identity;
    let release = match &id.app {
        Some(_) => id.expand(&cfg.helm.release_name),
        None => dir_name.unwrap_or("release").to_string(),
    };
    HelmRequest {
        release,
        namespace: id.namespace.clone(),
        value_files: cfg
            .helm
            .value_files
            .iter()
            .filter(|f| id.env.is_some() || !f.contains("{env}"))
            .map(|f| id.expand(f))
            .collect(),
    }
}

/// The folder names `app` defaults to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FolderNames {
    /// The rendered directory's name (`None` at the repository root).
    pub dir: Option<String>,
    /// The name of the folder holding gitops.yaml (`None` at the repository root).
    pub app_dir: Option<String>,
}

impl FolderNames {
    /// Locally, names come from the path below `repo_root` (the folder holding `.git`; with
    /// none, the whole path). In `generate` they come from `ARGOCD_APP_SOURCE_PATH`: the
    /// rendered directory is its last segment, and the gitops.yaml folder, `k` levels above
    /// it, the segment `k` places earlier (none when that is above the path: the root).
    pub fn of(
        start: &Path,
        config: Option<&GitopsConfig>,
        repo_root: Option<&Path>,
        source_path: Option<&str>,
    ) -> FolderNames {
        let Ok(start) = start.canonicalize() else {
            return FolderNames::default();
        };
        let levels_up = config
            .and_then(|c| c.dir.canonicalize().ok())
            .and_then(|d| start.strip_prefix(&d).ok().map(|r| r.components().count()));
        let segments: Vec<String> = match source_path {
            Some(p) => p
                .split('/')
                .filter(|s| !s.is_empty() && *s != ".")
                .map(str::to_string)
                .collect(),
            None => {
                let rel = repo_root
                    .and_then(|r| start.strip_prefix(r).ok())
                    .unwrap_or(&start);
                rel.components()
                    .filter_map(|c| match c {
                        Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
                        _ => None,
                    })
                    .collect()
            }
        };
        let at = |up: usize| {
            segments
                .len()
                .checked_sub(up + 1)
                .map(|i| segments[i].clone())
        };
        FolderNames {
            dir: at(0),
            app_dir: levels_up.and_then(at),
        }
    }
}

/// The repository root: the given one (Argo CD's), else the nearest folder holding `.git`.
fn repository_root(start: &Path, given: Option<&Path>) -> Option<PathBuf> {
    if let Some(r) = given {
        return r.canonicalize().ok();
    }
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// The folder names a path's render defaults `app` to (a directory, a file's folder, or the
/// working directory for `-`), locally.
pub fn folder_names_of_path(path: &str, config: Option<&GitopsConfig>) -> FolderNames {
    let p = Path::new(path);
    let dir = if path == "-" || p.is_file() {
        p.parent()
            .filter(|d| !d.as_os_str().is_empty() && path != "-")
            .unwrap_or(Path::new("."))
    } else {
        p
    };
    FolderNames::of(dir, config, repository_root(dir, None).as_deref(), None)
}

fn target(path: &str) -> Result<Target> {
    if path == "-" {
        return Ok(Target::Stdin);
    }
    let p = PathBuf::from(path);
    let meta = std::fs::metadata(&p).map_err(|source| Error::Io {
        path: p.clone(),
        source,
    })?;
    Ok(if meta.is_dir() {
        Target::Dir(p)
    } else {
        Target::File(p)
    })
}

/// Finds and parses the nearest gitops.yaml (read like every file: regular, size-limited;
/// a symlink leaving the repository is refused before anything is read).
pub fn load_config(start: &Path, root: Option<&Path>) -> Result<Option<GitopsConfig>> {
    let Some(path) = gitops_yaml::find(start, root)? else {
        return Ok(None);
    };
    let bytes = source::read_regular(&path, source::MAX_FILE_BYTES)?;
    // `../gitops.yaml` when it is above the working directory (Argo CD runs generate in the
    // app folder of a temporary checkout whose path means nothing to the reader).
    let display = relative_to_cwd(&path);
    let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        loc: crate::model::Loc::file(&std::sync::Arc::from(display.as_str())),
    })?;
    let dir = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    gitops_yaml::parse(&text, &display, &dir).map(Some)
}

/// A path as short as it can be shown: relative to the working directory when it is below it.
pub fn display_relative(path: &Path) -> String {
    let cwd = std::env::current_dir()
        .ok()
        .and_then(|c| c.canonicalize().ok());
    match cwd.and_then(|c| path.strip_prefix(&c).ok().map(Path::to_path_buf)) {
        Some(rel) if rel.as_os_str().is_empty() => ".".into(),
        Some(rel) => rel.display().to_string(),
        None => path.display().to_string(),
    }
}

/// A directory relative to the working directory, with `..` when it is above it (Argo CD
/// runs `generate` in the app folder; the app's other folders are `../infrastructure`).
pub fn relative_to_cwd(path: &Path) -> String {
    let Some(cwd) = std::env::current_dir()
        .ok()
        .and_then(|c| c.canonicalize().ok())
    else {
        return path.display().to_string();
    };
    let Ok(path) = path.canonicalize() else {
        return path.display().to_string();
    };
    let common = cwd
        .ancestors()
        .find(|a| path.starts_with(a))
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let ups = cwd
        .strip_prefix(&common)
        .map_or(0, |r| r.components().count());
    let down = path
        .strip_prefix(&common)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    if ups > 8 {
        return path.display().to_string();
    }
    let mut out: Vec<String> = vec!["..".to_string(); ups];
    if !down.as_os_str().is_empty() {
        out.push(walk::rel_string(&down));
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

fn display_dir(dir: &Path) -> String {
    let s = dir.display().to_string();
    if s.is_empty() { ".".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_from_the_source_path() {
        let tmp = std::env::temp_dir().join(format!("kg-names-{}", std::process::id()));
        let app = tmp
            .join("uuid")
            .join("apps")
            .join("shop")
            .join("kubernetes");
        std::fs::create_dir_all(&app).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(tmp.join("uuid/apps/shop/gitops.yaml"), "")
            .unwrap_or_else(|e| panic!("{e}"));
        let cfg = GitopsConfig {
            found: true,
            dir: tmp.join("uuid/apps/shop"),
            ..GitopsConfig::default()
        };
        let n = FolderNames::of(&app, Some(&cfg), None, Some("apps/shop/kubernetes"));
        assert_eq!(n.dir.as_deref(), Some("kubernetes"));
        assert_eq!(n.app_dir.as_deref(), Some("shop"));
        // Locally, below the repository root.
        let n = FolderNames::of(
            &app,
            Some(&cfg),
            Some(&tmp.join("uuid").canonicalize().unwrap_or_default()),
            None,
        );
        assert_eq!(n.app_dir.as_deref(), Some("shop"));
        // gitops.yaml at the root of the repository: no folder names the app.
        let root_cfg = GitopsConfig {
            found: true,
            dir: tmp.join("uuid"),
            ..GitopsConfig::default()
        };
        let n = FolderNames::of(&app, Some(&root_cfg), None, Some("apps/shop/kubernetes"));
        assert_eq!(n.app_dir, None);
        let root = tmp.join("uuid");
        let n = FolderNames::of(&root, Some(&root_cfg), None, Some("."));
        assert_eq!(n, FolderNames::default());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
