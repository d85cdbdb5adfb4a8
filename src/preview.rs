//! `kubectl gitops preview up|down|list`: pattern 3 with an infra-pr repository. A pull
//! request's whole environment (claims, Deployments, everything, plus its Namespace) is
//! rendered into `<repo>/<app>-pr-<N>/`, one file per object, and committed; an
//! ApplicationSet with a git directory generator deploys every such directory, and removing
//! the directory when the pull request closes removes the environment.
//!
//! Both directions are idempotent: `up` on an unchanged pull request commits nothing, `down`
//! on a preview that is gone does nothing. Only the preview's own directory is committed, so
//! other work in the checkout is left alone.

use std::fmt::Write as _;
use std::path::Path;

use crate::config::IdentityRequest;
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::git::Repo;
use crate::output::{self, Format};
use crate::render::{self, Request};

/// Directory names of previews: `<app>-pr-<digits>`.
fn parse_dir(name: &str) -> Option<(&str, &str)> {
    let (app, pr) = name.rsplit_once("-pr-")?;
    (!app.is_empty() && !pr.is_empty() && pr.bytes().all(|b| b.is_ascii_digit()))
        .then_some((app, pr))
}

fn infra_repo(repo: &Path) -> Result<Repo> {
    let r = Repo::containing(repo)?;
    let top = r.dir.canonicalize().map_err(|source| Error::Io {
        path: r.dir.clone(),
        source,
    })?;
    let given = repo.canonicalize().map_err(|source| Error::Io {
        path: repo.to_path_buf(),
        source,
    })?;
    if top != given {
        return Err(Error::Usage(format!(
            "--repo {} must be the top of a git checkout ({})",
            repo.display(),
            top.display()
        )));
    }
    Ok(r)
}

/// Renders the preview of `dir` for pull request `identity.pr` into the infra-pr checkout.
pub fn up(
    dir: &str,
    identity: IdentityRequest,
    repo: &Path,
    warnings: &mut Vec<Warning>,
) -> Result<String> {
    let infra = infra_repo(repo)?;
    let req = Request {
        path: dir.to_string(),
        identity,
        repo_root: None,
    };
    let rendered = render::render(&req, &mut std::io::empty(), warnings)?;
    let (Some(app), Some(pr)) = (&rendered.ctx.identity.app, &rendered.ctx.identity.pr) else {
        return Err(Error::Usage("preview up needs --pr".into()));
    };
    if rendered.output.input_objects == 0 {
        return Err(Error::Usage(format!(
            "{dir}: no Kubernetes objects to render; refusing to write an empty preview"
        )));
    }
    let name = format!("{app}-pr-{pr}");
    let target = repo.join(&name);
    let written = output::write_dir(&rendered.output.docs, Format::Yaml, &target)?;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "rendered {} objects of {dir} into {}",
        written.len(),
        target.display()
    );
    infra.run(&["add", "-A", "--", &name])?;
    if infra.status(Some(&name))?.is_empty() {
        let _ = writeln!(report, "{name} is up to date: nothing to commit");
        return Ok(report);
    }
    let source = source_of(dir);
    let subject = format!("preview up: {name}");
    let body = match &source {
        Some((repo, sha)) => format!(
            "Rendered from {repo} at {sha}.\n\nPreview-of-repo: {repo}\nPreview-of-commit: {sha}"
        ),
        None => format!("Rendered from {dir}."),
    };
    infra.run(&[
        "commit", "--quiet", "-m", &subject, "-m", &body, "--", &name,
    ])?;
    let _ = writeln!(report, "committed {} ({subject})", infra.head()?);
    let _ = writeln!(report, "push it: git -C {} push", repo.display());
    Ok(report)
}

/// The source repository and commit of a rendered directory, when it is in one.
fn source_of(dir: &str) -> Option<(String, String)> {
    let r = Repo::containing(Path::new(dir)).ok()?;
    Some((r.describe(), r.head().ok()?))
}

/// Removes a preview: `app` names it; without one, the only `*-pr-<pr>` directory.
pub fn down(pr: &str, app: Option<String>, repo: &Path) -> Result<String> {
    let infra = infra_repo(repo)?;
    let name = match app {
        Some(app) => format!("{app}-pr-{pr}"),
        None => {
            let found: Vec<String> = previews(repo)?
                .into_iter()
                .filter(|(_, _, p)| p == pr)
                .map(|(n, _, _)| n)
                .collect();
            match found.as_slice() {
                [] => {
                    return Ok(format!(
                        "no preview for pull request {pr} in {}: nothing to remove\n",
                        repo.display()
                    ));
                }
                [one] => one.clone(),
                many => {
                    return Err(Error::Usage(format!(
                        "several previews for pull request {pr} in {}: {}; name one with --app or a directory",
                        repo.display(),
                        many.join(", ")
                    )));
                }
            }
        }
    };
    let target = repo.join(&name);
    if !target.exists() {
        return Ok(format!(
            "{} does not exist: nothing to remove\n",
            target.display()
        ));
    }
    let mut report = String::new();
    infra.run(&["rm", "-r", "-q", "--ignore-unmatch", "--", &name])?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|source| Error::Io {
            path: target.clone(),
            source,
        })?;
    }
    let _ = writeln!(report, "removed {}", target.display());
    if !infra.status(Some(&name))?.is_empty() {
        let subject = format!("preview down: {name}");
        infra.run(&["commit", "--quiet", "-m", &subject, "--", &name])?;
        let _ = writeln!(report, "committed {} ({subject})", infra.head()?);
        let _ = writeln!(report, "push it: git -C {} push", repo.display());
    }
    Ok(report)
}

/// (directory, app, pr) of every preview in the checkout, sorted.
fn previews(repo: &Path) -> Result<Vec<(String, String, String)>> {
    let entries = std::fs::read_dir(repo).map_err(|source| Error::Io {
        path: repo.to_path_buf(),
        source,
    })?;
    let mut out: Vec<(String, String, String)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let (app, pr) = parse_dir(&name)?;
            Some((name.clone(), app.to_string(), pr.to_string()))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The previews present, one per line: directory, app, pull request, objects.
pub fn list(repo: &Path) -> Result<String> {
    infra_repo(repo)?;
    let mut report = String::new();
    for (name, app, pr) in previews(repo)? {
        let objects = std::fs::read_dir(repo.join(&name))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        let n = e.file_name();
                        let n = n.to_string_lossy();
                        n.ends_with(".yaml") || n.ends_with(".json")
                    })
                    .count()
            })
            .unwrap_or(0);
        let _ = writeln!(report, "{name}\tapp={app}\tpr={pr}\tobjects={objects}");
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::parse_dir;

    #[test]
    fn preview_directory_names() {
        assert_eq!(parse_dir("my-app-pr-12"), Some(("my-app", "12")));
        assert_eq!(parse_dir("a-pr-b-pr-3"), Some(("a-pr-b", "3")));
        assert_eq!(parse_dir("my-app"), None);
        assert_eq!(parse_dir("my-app-pr-"), None);
        assert_eq!(parse_dir("-pr-3"), None);
    }
}
