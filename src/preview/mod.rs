//! `kubectl gitops preview up|down|list|prune`: pattern 3 with an infra-pr repository. A pull
//! request's whole environment (claims, Deployments, everything, plus its Namespace) is
//! rendered into `<repo>/<app>-pr-<N>/`, one file per object, and committed; an
//! ApplicationSet with a git directory generator deploys every such directory, and removing
//! the directory when the pull request closes removes the environment.
//!
//! Invariants:
//! - Every command touches only its previews' directories, each named `<app>-pr-<N>` from
//!   a validated app (a DNS-1123 label) and pull request number, so no argument can reach
//!   another directory (`--app 'keep/../other-app'` is refused).
//! - Both directions are idempotent: `up` on an unchanged pull request commits nothing,
//!   `down` on a preview that is gone does nothing. Only the previews' own directories are
//!   committed, so other work in the checkout is left alone.
//! - `--push` publishes the change with a bounded fetch-rebase-retry loop ([`push`]), so
//!   pull requests updating previews at the same time all land.
//! - `prune` removes the previews of one app whose pull request is not in `--keep`.

pub mod push;

use std::fmt::Write as _;
use std::path::Path;

use crate::config::IdentityRequest;
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::git::{Repo, TempDir};
use crate::naming;
use crate::output::{self, Format};
use crate::render::{self, Request};

/// The trailers of a `preview up` commit.
const TRAILER_REPO: &str = "Preview-of-repo";
const TRAILER_COMMIT: &str = "Preview-of-commit";

/// Directory names of previews: `<app>-pr-<digits>`, the app a DNS-1123 label.
fn parse_dir(name: &str) -> Option<(&str, &str)> {
    let (app, pr) = name.rsplit_once("-pr-")?;
    (naming::is_dns1123_label(app)
        && !pr.is_empty()
        && !pr.starts_with('0')
        && pr.len() <= 10
        && pr.bytes().all(|b| b.is_ascii_digit()))
    .then_some((app, pr))
}

/// Checks an app name given on the command line, as every identity value is checked.
pub fn check_app(app: &str) -> Result<()> {
    if naming::is_dns1123_label(app) {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "--app {app:?} is not a valid app name: use a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)"
        )))
    }
}

/// Checks a pull request number.
pub fn check_pr(pr: &str, flag: &str) -> Result<()> {
    if !pr.is_empty()
        && pr.len() <= 10
        && !pr.starts_with('0')
        && pr.bytes().all(|b| b.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{flag} {pr:?} is not a pull request number: use 1 to 10 digits without a leading zero"
        )))
    }
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

/// The local HEAD, if the checkout has a commit yet.
fn head_of(repo: &Repo) -> Option<String> {
    repo.head().ok()
}

/// Commits `names` (already changed in the working tree) with `message`, if they changed;
/// returns the commit.
fn commit_dirs(infra: &Repo, names: &[String], message: &str) -> Result<Option<String>> {
    // Removed directories are already staged (`git rm`); a path that does not exist is no
    // pathspec `git add` accepts.
    let present: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| infra.dir.join(n).exists())
        .collect();
    if !present.is_empty() {
        let mut args = vec!["add", "-A", "--"];
        args.extend(present);
        infra.run(&args)?;
    }
    let mut changed = false;
    for n in names {
        changed |= !infra.status(Some(n))?.is_empty();
    }
    if !changed {
        return Ok(None);
    }
    let mut args = vec!["commit", "--quiet", "--no-verify", "-m", message, "--"];
    args.extend(names.iter().map(String::as_str));
    infra.run(&args)?;
    Ok(Some(infra.head()?))
}

/// With `--push`: publishes the directories as they are at HEAD (absent when removed) and
/// reports it.
fn push_dirs(
    infra: &Repo,
    names: &[String],
    message: &str,
    before: Option<&str>,
    report: &mut String,
    warnings: &mut Vec<Warning>,
) -> Result<()> {
    let tmp = TempDir::new()?;
    let mut changes = Vec::new();
    for n in names {
        let wanted = match infra.head() {
            Ok(h) => infra.entry(&h, n)?,
            Err(_) => None,
        };
        changes.push((n.clone(), wanted));
    }
    let published = push::publish(infra, tmp.path(), &changes, message, before, warnings)?;
    let upstream = match &published {
        push::Published::AlreadyThere { upstream } => upstream.clone(),
        push::Published::Pushed { commit, .. } => Some(commit.clone()),
    };
    match published {
        push::Published::AlreadyThere { .. } => {
            let _ = writeln!(report, "the upstream already has it: nothing to push");
        }
        push::Published::Pushed {
            commit,
            onto,
            attempts,
        } => {
            let mut notes = Vec::new();
            if let Some(onto) = onto.as_deref().filter(|o| Some(*o) != before) {
                notes.push(format!(
                    "rebased onto {}, which others pushed meanwhile",
                    &onto[..12.min(onto.len())]
                ));
            }
            if attempts > 1 {
                notes.push(format!(
                    "{} push{} rejected by concurrent updates first",
                    attempts - 1,
                    if attempts == 2 { " was" } else { "es were" }
                ));
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!(" ({})", notes.join("; "))
            };
            let _ = writeln!(report, "pushed {commit}{notes}");
        }
    }
    // For scripts (waiting until Argo CD has synced a revision that contains it).
    if let Some(u) = upstream {
        let _ = writeln!(report, "upstream: {u}");
    }
    Ok(())
}

/// Renders the preview of `dir` for pull request `identity.pr` into the infra-pr checkout.
pub fn up(
    dir: &str,
    identity: IdentityRequest,
    policy: crate::config::policy::Policy,
    repo: &Path,
    push: bool,
    warnings: &mut Vec<Warning>,
) -> Result<String> {
    let infra = infra_repo(repo)?;
    if push {
        push::Upstream::of(&infra)?;
    }
    let req = Request {
        path: dir.to_string(),
        identity,
        // Pull-request content rendered in CI: sandboxed like Argo CD's generate.
        policy: Some(policy),
        ..Request::default()
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
    let subject = format!("preview up: {name}");
    let message = match source_of(dir) {
        Some((repo, sha)) => format!(
            "{subject}\n\nRendered from {repo} at {sha}.\n\n{TRAILER_REPO}: {repo}\n{TRAILER_COMMIT}: {sha}"
        ),
        None => format!("{subject}\n\nRendered from {dir}."),
    };
    let before = head_of(&infra);
    let names = [name.clone()];
    match commit_dirs(&infra, &names, &message)? {
        None => {
            let _ = writeln!(report, "{name} is up to date: nothing to commit");
        }
        Some(c) => {
            let _ = writeln!(report, "committed {c} ({subject})");
        }
    }
    if push {
        push_dirs(
            &infra,
            &names,
            &message,
            before.as_deref(),
            &mut report,
            warnings,
        )?;
    } else if head_of(&infra) != before {
        let _ = writeln!(report, "push it: git -C {} push", repo.display());
    }
    Ok(report)
}

/// The source repository and commit of a rendered directory, when it is in one.
fn source_of(dir: &str) -> Option<(String, String)> {
    let r = Repo::containing(Path::new(dir)).ok()?;
    Some((r.describe(), r.head().ok()?))
}

/// Removes a preview: `app` names it; without one, the only `*-pr-<pr>` directory.
pub fn down(
    pr: &str,
    app: Option<String>,
    repo: &Path,
    push: bool,
    warnings: &mut Vec<Warning>,
) -> Result<String> {
    check_pr(pr, "--pr")?;
    if let Some(a) = &app {
        check_app(a)?;
    }
    let infra = infra_repo(repo)?;
    if push {
        push::Upstream::of(&infra)?;
    }
    let name = match app {
        Some(app) => format!("{app}-pr-{pr}"),
        None => {
            let found: Vec<String> = previews(repo)?
                .into_iter()
                .filter(|p| p.pr == pr)
                .map(|p| p.name)
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
    let mut report = String::new();
    let before = head_of(&infra);
    let subject = format!("preview down: {name}");
    remove_dir(&infra, repo, &name)?;
    match commit_dirs(&infra, std::slice::from_ref(&name), &subject)? {
        Some(c) => {
            let _ = writeln!(report, "removed {}", repo.join(&name).display());
            let _ = writeln!(report, "committed {c} ({subject})");
        }
        None => {
            let _ = writeln!(
                report,
                "{} does not exist: nothing to remove",
                repo.join(&name).display()
            );
        }
    }
    if push {
        push_dirs(
            &infra,
            &[name],
            &subject,
            before.as_deref(),
            &mut report,
            warnings,
        )?;
    } else if head_of(&infra) != before {
        let _ = writeln!(report, "push it: git -C {} push", repo.display());
    }
    Ok(report)
}

/// Removes a preview directory from the index and the working tree.
fn remove_dir(infra: &Repo, repo: &Path, name: &str) -> Result<()> {
    infra.run(&["rm", "-r", "-q", "--ignore-unmatch", "--", name])?;
    let target = repo.join(name);
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(|source| Error::Io {
            path: target.clone(),
            source,
        })?;
    }
    Ok(())
}

/// One preview directory of the checkout.
#[derive(Clone, Debug)]
struct Preview {
    name: String,
    app: String,
    pr: String,
}

impl Preview {
    fn number(&self) -> u64 {
        self.pr.parse().unwrap_or(u64::MAX)
    }
}

/// Every preview in the checkout, by app and then pull request number.
fn previews(repo: &Path) -> Result<Vec<Preview>> {
    let entries = std::fs::read_dir(repo).map_err(|source| Error::Io {
        path: repo.to_path_buf(),
        source,
    })?;
    let mut out: Vec<Preview> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let (app, pr) = parse_dir(&name)?;
            Some(Preview {
                app: app.to_string(),
                pr: pr.to_string(),
                name: name.clone(),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.app, a.number()).cmp(&(&b.app, b.number())));
    Ok(out)
}

/// The previews present: a table with a header, or `-o json`.
pub fn list(repo: &Path, json: bool, warnings: &mut Vec<Warning>) -> Result<String> {
    let infra = infra_repo(repo)?;
    let mut rows = Vec::new();
    for p in previews(repo)? {
        let objects = std::fs::read_dir(repo.join(&p.name))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        let n = e.file_name();
                        let n = n.to_string_lossy();
                        !n.starts_with('.')
                            && (n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".json"))
                    })
                    .count()
            })
            .unwrap_or(0);
        let (source_repo, source_commit) = rendered_from(&infra, &p.name);
        rows.push((p, objects, source_repo, source_commit));
    }
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(p, objects, repo, commit)| {
                serde_json::json!({
                    "name": p.name,
                    "app": p.app,
                    "pr": p.number(),
                    "objects": objects,
                    "sourceRepo": repo,
                    "sourceCommit": commit,
                })
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&serde_json::json!({ "previews": list }))
            .map_err(|e| Error::Usage(format!("cannot write JSON: {e}")))?;
        text.push('\n');
        return Ok(text);
    }
    if rows.is_empty() {
        warnings.push(Warning::general(format!(
            "no previews in {}",
            repo.display()
        )));
        return Ok(String::new());
    }
    let table: Vec<[String; 5]> = rows
        .iter()
        .map(|(p, objects, _, commit)| {
            [
                p.name.clone(),
                p.app.clone(),
                p.pr.clone(),
                objects.to_string(),
                commit
                    .as_deref()
                    .map_or("-", |c| &c[..12.min(c.len())])
                    .to_string(),
            ]
        })
        .collect();
    Ok(format_table(
        ["PREVIEW", "APP", "PR", "OBJECTS", "SOURCE COMMIT"],
        &table,
    ))
}

/// Aligned columns, two spaces apart, no trailing spaces.
fn format_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == N {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

/// The source repository and commit the last commit touching a preview names.
fn rendered_from(infra: &Repo, name: &str) -> (Option<String>, Option<String>) {
    let Ok(body) = infra.run(&["log", "-1", "--format=%B", "HEAD", "--", name]) else {
        return (None, None);
    };
    let value = |key: &str| {
        body.lines().rev().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|r| r.strip_prefix(':'))
                .map(|v| v.trim().to_string())
        })
    };
    (value(TRAILER_REPO), value(TRAILER_COMMIT))
}

/// Removes the previews of one app whose pull request is not in `keep`.
pub fn prune(
    keep: &[String],
    app: Option<String>,
    repo: &Path,
    dry_run: bool,
    push: bool,
    warnings: &mut Vec<Warning>,
) -> Result<String> {
    let keep: Vec<&str> = keep
        .iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .collect();
    for k in &keep {
        check_pr(k, "--keep")?;
    }
    if let Some(a) = &app {
        check_app(a)?;
    }
    let infra = infra_repo(repo)?;
    if push {
        push::Upstream::of(&infra)?;
    }
    let all = previews(repo)?;
    let app = match app {
        Some(a) => a,
        None => {
            let mut apps: Vec<&str> = all.iter().map(|p| p.app.as_str()).collect();
            apps.dedup();
            match apps.as_slice() {
                [] => {
                    return Ok(format!(
                        "no previews in {}: nothing to prune\n",
                        repo.display()
                    ));
                }
                [one] => (*one).to_string(),
                many => {
                    return Err(Error::Usage(format!(
                        "{} holds previews of several apps ({}); pull request numbers belong to one app's repository, so name it with --app or a directory",
                        repo.display(),
                        many.join(", ")
                    )));
                }
            }
        }
    };
    let stale: Vec<String> = all
        .iter()
        .filter(|p| p.app == app && !keep.contains(&p.pr.as_str()))
        .map(|p| p.name.clone())
        .collect();
    let kept: Vec<&str> = all
        .iter()
        .filter(|p| p.app == app && keep.contains(&p.pr.as_str()))
        .map(|p| p.name.as_str())
        .collect();
    let mut report = String::new();
    if stale.is_empty() {
        let _ = writeln!(
            report,
            "every preview of {app} belongs to an open pull request: nothing to prune"
        );
        return Ok(report);
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for s in &stale {
        let _ = writeln!(report, "{verb} {}", repo.join(s).display());
    }
    if dry_run {
        return Ok(report);
    }
    let before = head_of(&infra);
    for s in &stale {
        remove_dir(&infra, repo, s)?;
    }
    let subject = format!("preview prune: {}", stale.join(" "));
    let message = format!(
        "{subject}\n\nTheir pull requests are no longer open. Kept: {}.",
        if kept.is_empty() {
            "none".to_string()
        } else {
            kept.join(", ")
        }
    );
    if let Some(c) = commit_dirs(&infra, &stale, &message)? {
        let _ = writeln!(report, "committed {c} ({subject})");
    }
    if push {
        push_dirs(
            &infra,
            &stale,
            &message,
            before.as_deref(),
            &mut report,
            warnings,
        )?;
    } else if head_of(&infra) != before {
        let _ = writeln!(report, "push it: git -C {} push", repo.display());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_directory_names() {
        assert_eq!(parse_dir("my-app-pr-12"), Some(("my-app", "12")));
        assert_eq!(parse_dir("a-pr-b-pr-3"), Some(("a-pr-b", "3")));
        assert_eq!(parse_dir("my-app"), None);
        assert_eq!(parse_dir("my-app-pr-"), None);
        assert_eq!(parse_dir("-pr-3"), None);
        assert_eq!(parse_dir("My_App-pr-3"), None);
        assert_eq!(parse_dir("app-pr-012"), None);
    }

    #[test]
    fn app_and_pr_arguments() {
        assert!(check_app("my-app").is_ok());
        for bad in [
            "keep/../other-app",
            "..",
            "a/b",
            "",
            "A",
            "-a",
            &"a".repeat(64),
        ] {
            assert!(check_app(bad).is_err(), "{bad:?}");
        }
        assert!(check_pr("12", "--pr").is_ok());
        for bad in ["", "0", "012", "1a", "12345678901", "../1"] {
            assert!(check_pr(bad, "--pr").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tables_align_without_trailing_spaces() {
        let t = format_table(
            ["NAME", "PR"],
            &[
                ["a-pr-9".to_string(), "9".to_string()],
                ["a-pr-10".to_string(), "10".to_string()],
            ],
        );
        assert_eq!(t, "NAME     PR\na-pr-9   9\na-pr-10  10\n");
    }
}
