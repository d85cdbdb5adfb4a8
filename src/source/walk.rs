//! The rendered directory's files, in byte order of their relative paths (DESIGN.md §4.1).
//!
//! Only `*.yaml`, `*.yml` and `*.json`; hidden files and folders, gitops.yaml, kustomize build
//! files and `exclude:` globs are skipped. A sub-directory holding a kustomize build file or a
//! Helm `Chart.yaml` is a [`BuildDir`]: it is built as a whole ([`super::build`]), and its files
//! are never read loose. Symlinks are never followed out of the root: a symlink whose target
//! resolves outside it is an error, one inside it is read once (a linked folder's files are
//! already part of the walk). Only regular files are listed: a FIFO, socket or device named
//! `*.yaml` is an error, since reading it could block forever or never end.
//!
//! A gitops.yaml below the root is an error in the rendered directory (it belongs to another
//! app, and rendering it here would mix two identities); in the app-wide walk of the siblings
//! ([`Options::lenient`]) that sub-tree is another app's and is skipped.
//!
//! The cost of `exclude:` is bounded: every glob is tested against every path, so a hostile
//! gitops.yaml could otherwise ask for billions of comparisons ([`MAX_GLOB_WORK`]).

use crate::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::config::gitops_yaml::FILE_NAME;
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::source::glob;

/// Kustomize's build file names, in the order kustomize looks for them.
pub const KUSTOMIZATION_FILES: &[&str] =
    &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A Helm chart's marker file.
pub const CHART_FILE: &str = "Chart.yaml";

/// File names that are never manifests.
const SKIPPED_NAMES: &[&str] = &[
    FILE_NAME,
    "kustomization.yaml",
    "kustomization.yml",
    "Kustomization",
];

/// Glob comparisons (pattern bytes × path bytes, summed) one walk may spend on `exclude:`:
/// about a second of work in the worst case. Real repositories use a few thousandths of it.
pub const MAX_GLOB_WORK: u64 = 1 << 30;

/// One file to read.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    /// Relative to the root, with `/` separators.
    pub rel: String,
}

/// How a directory is built into manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildKind {
    /// `kustomize build` (the build file's name).
    Kustomize(&'static str),
    /// `helm template`.
    Helm,
}

/// A directory that is built as a whole.
#[derive(Debug, Clone)]
pub struct BuildDir {
    pub path: PathBuf,
    /// Relative to the root (`""` for the root itself), with `/` separators.
    pub rel: String,
    pub kind: BuildKind,
}

/// What a walk lists, in walk order.
#[derive(Debug, Clone)]
pub enum Entry {
    File(Found),
    Build(BuildDir),
}

impl Entry {
    /// The relative path this entry sorts by (a built directory sorts where its files would).
    fn sort_key(&self) -> String {
        match self {
            Entry::File(f) => f.rel.clone(),
            Entry::Build(b) => format!("{}/", b.rel),
        }
    }
}

/// How to walk.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    /// gitops.yaml `exclude:` globs.
    pub excludes: &'a [String],
    /// The relative path from the gitops.yaml folder to the root (globs are relative to
    /// gitops.yaml).
    pub exclude_base: String,
    /// A canonical directory below the root that is not listed (the rendered directory, in the
    /// app-wide walk of its siblings).
    pub skip: Option<PathBuf>,
    /// The app-wide walk: a sub-tree holding its own gitops.yaml is another app's and is
    /// skipped instead of refused.
    pub lenient: bool,
}

/// Whether `dir` is built rather than read, and how.
pub fn build_kind(dir: &Path) -> Option<BuildKind> {
    for name in KUSTOMIZATION_FILES {
        if std::fs::symlink_metadata(dir.join(name)).is_ok() {
            return Some(BuildKind::Kustomize(name));
        }
    }
    if std::fs::symlink_metadata(dir.join(CHART_FILE)).is_ok() {
        return Some(BuildKind::Helm);
    }
    None
}

/// Lists what to read under `root`: manifest files and directories to build. In a lenient
/// walk, a symlink leaving the root or a special file is skipped with a warning pushed to
/// `warnings` instead of failing the walk.
pub fn walk(root: &Path, opts: &Options<'_>, warnings: &mut Vec<Warning>) -> Result<Vec<Entry>> {
    let canon_root = root.canonicalize().map_err(|source| Error::Io {
        path: root.to_path_buf(),
        source,
    })?;
    if let Some(kind) = build_kind(root) {
        return Ok(vec![Entry::Build(BuildDir {
            path: root.to_path_buf(),
            rel: String::new(),
            kind,
        })]);
    }
    let mut budget = glob::Budget::new(MAX_GLOB_WORK);
    let mut entries = Vec::new();
    let mut links = Vec::new();
    let mut walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
    while let Some(entry) = walker.next() {
        let entry = entry.map_err(|e| Error::Io {
            path: e
                .path()
                .map_or_else(|| root.to_path_buf(), Path::to_path_buf),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("cannot walk the directory")),
        })?;
        let rel = rel_string(entry.path().strip_prefix(root).unwrap_or(entry.path()));
        let for_glob = if opts.exclude_base.is_empty() {
            rel.clone()
        } else {
            format!("{}/{rel}", opts.exclude_base)
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let file_type = entry.file_type();
        if file_type.is_dir() {
            let skipped = opts
                .skip
                .as_ref()
                .is_some_and(|s| entry.path().canonicalize().is_ok_and(|p| p == *s));
            if skipped || opts.lenient && entry.path().join(FILE_NAME).exists() {
                walker.skip_current_dir();
                continue;
            }
            if let Some(kind) = build_kind(entry.path()) {
                walker.skip_current_dir();
                // Excluded with its folder, or by its build file's path (`docs/**`).
                let build_file = match kind {
                    BuildKind::Kustomize(f) => f,
                    BuildKind::Helm => CHART_FILE,
                };
                if !excluded(opts.excludes, &for_glob, &mut budget)?
                    && !excluded(
                        opts.excludes,
                        &format!("{for_glob}/{build_file}"),
                        &mut budget,
                    )?
                {
                    entries.push(Entry::Build(BuildDir {
                        path: entry.path().to_path_buf(),
                        rel,
                        kind,
                    }));
                }
            }
            continue;
        }
        if let Some(skip) = &opts.skip {
            if entry.path().canonicalize().is_ok_and(|p| p == *skip) {
                continue;
            }
        }
        let is_link = entry.path_is_symlink();
        if name == FILE_NAME && !is_link && entry.depth() > 1 && !opts.lenient {
            return Err(Error::FileRefused {
                path: entry
                    .path()
                    .strip_prefix("./")
                    .unwrap_or(entry.path())
                    .to_path_buf(),
                msg: format!(
                    "a {FILE_NAME} below the rendered directory belongs to another app; render that folder on its own"
                ),
            });
        }
        // Files that are never read: gitops.yaml (read by its own lookup, with its own rule for
        // symlinks), kustomize build files, anything not named like a manifest.
        let read = !SKIPPED_NAMES.contains(&name.as_str()) && is_manifest_name(&name);
        let linked_dir = is_link && std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir());
        if !read && !linked_dir {
            continue;
        }
        if is_link {
            // Every symlink followed must stay inside the root, a linked folder too.
            let target = entry.path().canonicalize().map_err(|source| Error::Io {
                path: entry.path().to_path_buf(),
                source,
            })?;
            if !target.starts_with(&canon_root) {
                let e = Error::Symlink {
                    link: entry.path().to_path_buf(),
                    target,
                };
                if opts.lenient {
                    warnings.push(Warning::general(format!("{e}; skipped")));
                    continue;
                }
                return Err(e);
            }
            if target.is_dir() {
                // Its files are part of the walk already.
                continue;
            }
        }
        if excluded(opts.excludes, &for_glob, &mut budget)? {
            continue;
        }
        let found = Found {
            path: entry.path().to_path_buf(),
            rel,
        };
        if is_link {
            links.push(found);
        } else if file_type.is_file() {
            entries.push(Entry::File(found));
        } else if opts.lenient {
            warnings.push(Warning::general(format!(
                "{}; skipped",
                not_regular(entry.path())
            )));
        } else {
            return Err(not_regular(entry.path()));
        }
    }
    // Symlinks: must resolve inside the root; read once.
    let direct: HashSet<String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::File(f) => Some(f.rel.clone()),
            Entry::Build(_) => None,
        })
        .collect();
    for link in links {
        let target = link.path.canonicalize().map_err(|source| Error::Io {
            path: link.path.clone(),
            source,
        })?;
        let inside = target.strip_prefix(&canon_root).unwrap_or(&target);
        if direct.contains(&rel_string(inside)) {
            continue;
        }
        entries.push(Entry::File(link));
    }
    entries.sort_by_key(Entry::sort_key);
    entries.dedup_by(|a, b| a.sort_key() == b.sort_key());
    Ok(entries)
}

fn excluded(excludes: &[String], rel: &str, budget: &mut glob::Budget) -> Result<bool> {
    for p in excludes {
        budget.spend(p.len(), rel.len()).map_err(|spent| {
            Error::Usage(format!(
                "exclude: {} globs against the files of this directory exceed the work budget ({spent} comparisons): use fewer or shorter globs",
                excludes.len()
            ))
        })?;
        if glob::excludes(p, rel) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The error for a FIFO, socket or device where a file was expected.
pub fn not_regular(path: &Path) -> Error {
    Error::FileRefused {
        path: path.to_path_buf(),
        msg: "not a regular file (a FIFO, socket or device): kubectl-gitops reads only regular files (use - to read standard input)".into(),
    }
}

fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
}

pub fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
