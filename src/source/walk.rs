//! The rendered directory's files, in byte order of their relative paths (DESIGN.md §4.1).
//!
//! Only `*.yaml`, `*.yml` and `*.json`; hidden files and folders, gitops.yaml, kustomize build
//! files and `exclude:` globs are skipped. Symlinks are never followed out of the root: a
//! symlink whose target resolves outside it is an error, one inside it is read once (a linked
//! folder's files are already part of the walk). A gitops.yaml below the root is an error: it
//! belongs to another app, and rendering it here would mix two identities.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::config::gitops_yaml::FILE_NAME;
use crate::error::{Error, Result};
use crate::source::glob;

/// File names that are never manifests.
const SKIPPED_NAMES: &[&str] = &[
    FILE_NAME,
    "kustomization.yaml",
    "kustomization.yml",
    "Kustomization",
];

/// One file to read.
#[derive(Debug, Clone)]
pub struct Found {
    pub path: PathBuf,
    /// Relative to the root, with `/` separators.
    pub rel: String,
}

/// Lists the manifest files under `root`. `exclude_base` is the relative path from the
/// gitops.yaml folder to `root` (globs are relative to gitops.yaml).
pub fn walk(root: &Path, excludes: &[String], exclude_base: &str) -> Result<Vec<Found>> {
    let canon_root = root.canonicalize().map_err(|source| Error::Io {
        path: root.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    let mut links = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .follow_links(false)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = entry.map_err(|e| Error::Io {
            path: e
                .path()
                .map_or_else(|| root.to_path_buf(), Path::to_path_buf),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("cannot walk the directory")),
        })?;
        let rel = rel_string(entry.path().strip_prefix(root).unwrap_or(entry.path()));
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_dir() {
            continue;
        }
        let is_link = entry.path_is_symlink();
        if is_link {
            // Every symlink must stay inside the root, whatever it is called.
            let target = entry.path().canonicalize().map_err(|source| Error::Io {
                path: entry.path().to_path_buf(),
                source,
            })?;
            if !target.starts_with(&canon_root) {
                return Err(Error::Symlink {
                    link: entry.path().to_path_buf(),
                    target,
                });
            }
            if target.is_dir() {
                // Its files are part of the walk already.
                continue;
            }
        }
        if name == FILE_NAME && !is_link && entry.depth() > 1 {
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
        if SKIPPED_NAMES.contains(&name.as_ref()) || !is_manifest_name(&name) {
            continue;
        }
        let for_glob = if exclude_base.is_empty() {
            rel.clone()
        } else {
            format!("{exclude_base}/{rel}")
        };
        if excludes.iter().any(|p| glob::excludes(p, &for_glob)) {
            continue;
        }
        let found = Found {
            path: entry.path().to_path_buf(),
            rel,
        };
        if is_link {
            links.push(found);
        } else {
            files.push(found);
        }
    }
    // Symlinks: must resolve inside the root; read once.
    let direct: HashSet<String> = files.iter().map(|f| f.rel.clone()).collect();
    for link in links {
        let target = link.path.canonicalize().map_err(|source| Error::Io {
            path: link.path.clone(),
            source,
        })?;
        let inside = target.strip_prefix(&canon_root).unwrap_or(&target);
        if direct.contains(&rel_string(inside)) {
            continue;
        }
        files.push(link);
    }
    files.sort_by(|a, b| a.rel.as_bytes().cmp(b.rel.as_bytes()));
    files.dedup_by(|a, b| a.rel == b.rel);
    Ok(files)
}

fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
}

fn rel_string(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
