//! Finding the installed kubectl binaries, shared by the tests that run them.

use std::env;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// An executable named `name` in a directory of `$PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file() && p.metadata().is_ok_and(|m| m.mode() & 0o111 != 0))
}

/// `kubectl` from PATH, then `kubectl.1.33` when it sits next to the resolved `kubectl`.
/// Empty (after saying why) when kubectl is absent.
pub fn kubectls(test: &str) -> Vec<PathBuf> {
    let Some(kubectl) = find_on_path("kubectl") else {
        eprintln!("{test}: SKIPPED: kubectl is not on PATH");
        return Vec::new();
    };
    let mut all = vec![kubectl.clone()];
    let Ok(resolved) = fs::canonicalize(&kubectl) else {
        return all;
    };
    let sibling = resolved
        .parent()
        .map(|d| d.join("kubectl.1.33"))
        .filter(|s| s.is_file());
    match sibling {
        Some(s) => all.push(s),
        None => eprintln!(
            "{test}: note: no kubectl.1.33 next to {}; only {} checked",
            resolved.display(),
            kubectl.display()
        ),
    }
    all
}
