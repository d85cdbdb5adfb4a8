//! A whole render, from a path and an identity request to documents: find and read
//! gitops.yaml, resolve the identity, read the manifests, run the steps. `render` and
//! `generate` (the Argo CD entry point) both come through here, so a developer gets byte for
//! byte what Argo CD applies.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::config::gitops_yaml::{self, GitopsConfig};
use crate::config::{IdentityRequest, identity};
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::source::{self, Target};
use crate::transform::{self, Ctx, Output};

/// What to render.
#[derive(Clone, Debug)]
pub struct Request {
    /// A directory, a file, or `-`.
    pub path: String,
    pub identity: IdentityRequest,
    /// Where gitops.yaml lookup stops (Argo CD's repository root); `None`: the nearest
    /// folder holding `.git`.
    pub repo_root: Option<PathBuf>,
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

/// Everything before the steps: gitops.yaml, the resolved identity, and the objects read.
pub fn prepare(
    req: &Request,
    stdin: &mut dyn Read,
    warnings: &mut Vec<Warning>,
) -> Result<(crate::model::Input, Ctx)> {
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

    let mut id_req = req.identity.clone();
    if id_req.dir_name.is_none() {
        id_req.dir_name = dir_name_of(&start);
    }
    let resolved = identity::resolve(&id_req, config.as_ref())?;
    warnings.extend(resolved.warnings);

    let cfg = config.unwrap_or_default();
    // exclude: globs are relative to gitops.yaml's folder.
    let exclude_base = match (&target, start.canonicalize(), cfg.dir.canonicalize()) {
        (Target::Dir(_), Ok(s), Ok(c)) => s
            .strip_prefix(&c)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let files = source::read(&target, &cfg.exclude, &exclude_base, stdin)?;
    let (input, parse_warnings) = source::parse_files(&files)?;
    drop(files);
    warnings.extend(parse_warnings);
    let ctx = Ctx {
        identity: resolved.identity,
        environment: resolved.environment,
        config: cfg,
    };
    Ok((input, ctx))
}

fn dir_name_of(dir: &Path) -> Option<String> {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

/// The name of the directory a path renders (the directory itself, a file's folder, or the
/// working directory for `-`): the last default for `app`.
pub fn dir_name(path: &str) -> Option<String> {
    let p = Path::new(path);
    if path == "-" || p.is_file() {
        let parent = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && path != "-");
        dir_name_of(parent.unwrap_or(Path::new(".")))
    } else {
        dir_name_of(p)
    }
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

/// Finds and parses the nearest gitops.yaml.
pub fn load_config(start: &Path, root: Option<&Path>) -> Result<Option<GitopsConfig>> {
    let Some(path) = gitops_yaml::find(start, root) else {
        return Ok(None);
    };
    let bytes = std::fs::read(&path).map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    let display = display_relative(&path);
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
