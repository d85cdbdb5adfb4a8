//! `kubectl gitops promote`: pattern 1, git-based promotion between environment repositories
//! (`infra-dev` -> `infra-staging` -> `infra-prod`).
//!
//! The files are environment-agnostic, so promotion carries the source commit's files at one
//! path into the target, on a new branch, with a commit whose trailers are the audit trail:
//!
//! ```text
//! Promoted-from-repo: git@example.com:team/infra-dev.git
//! Promoted-from-commit: 4f0c…(40 hex digits)
//! Promoted-from-path: databases
//! ```
//!
//! What it guarantees (issue 10):
//! - **Nothing outside `--path` changes.** The path is validated ([`history::repo_path`])
//!   and given to git literally; the new tree is the target's HEAD with only that path
//!   replaced or merged.
//! - **The target's own changes are never silently reverted.** The base is the source commit
//!   last promoted ([`history`]); when the target changed the path since (it has
//!   *diverged*), the source's changes are merged three-way into the target's and the report
//!   lists what was kept. A conflict refuses (exit 2) and lists the files; no conflict marker
//!   is ever written. `--force` mirrors the source exactly, dropping the target's changes.
//!   Without a base (no trailer, no shared history) the promotion is refused unless
//!   `--force`.
//! - When the repositories share history and the commits since the target's HEAD touch
//!   nothing outside the path, the branch is the source commits themselves (fast-forward)
//!   with an empty commit on top that carries the trailers.
//! - "Nothing to promote" (exit 0, no branch) is decided before anything else can refuse.
//! - The user's checkouts are never switched, and the target's index and files are never
//!   touched: trees are built in private indexes and the branch is created with one atomic
//!   `update-ref`. The promotion is decided first in a private object store that reads both
//!   repositories, so a refusal, "nothing to promote" and `--dry-run` write nothing into the
//!   target, not even objects; only then are the source commits fetched into the target and
//!   the same plan made there.
//! - With `--to-env`, the report ends with what the promotion changes in the target
//!   environment: the render of the target's HEAD versus the same render of the branch, and
//!   (with `--from-env`) the configuration difference between the two environments under a
//!   heading of its own. A branch that does not render is refused before it is created.

pub mod history;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{IdentityRequest, Sourced};
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::git::{self, Repo, TempDir};
use history::{BaseSource, Divergence, Merged, listed, short};

#[derive(Clone, Debug, Default)]
pub struct PromoteRequest {
    pub from: PathBuf,
    pub to: PathBuf,
    pub path: Option<String>,
    pub branch: Option<String>,
    /// The source commit to promote (a revision of the source repository); HEAD by default.
    pub commit: Option<String>,
    pub from_env: Option<String>,
    pub to_env: Option<String>,
    /// Mirror the source's path exactly, whatever the target changed.
    pub force: bool,
    /// Report what would happen; create nothing.
    pub dry_run: bool,
}

/// How the branch carries the source's files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// The exact source commits, and an empty commit with the trailers.
    FastForward,
    /// The path replaced by the source's: the target had no changes of its own.
    Copy,
    /// The source's changes merged into the target's own (it has diverged).
    Merge,
    /// `--force`: the path replaced by the source's, whatever the target changed.
    Mirror,
}

/// What a promotion did, for the report and for callers.
#[derive(Debug)]
pub struct Promotion {
    pub report: String,
    /// The branch created (or, with `--dry-run`, that would be).
    pub branch: Option<String>,
    /// The commit the branch points at (none with `--dry-run` or when nothing is promoted).
    pub commit: Option<String>,
    pub method: Option<Method>,
    /// Whether the target had changes of its own under the path.
    pub diverged: bool,
    /// Whether the target environment's render changes.
    pub differs: bool,
}

impl Promotion {
    /// A promotion that found nothing to do, and says why.
    fn nothing(why: String, diverged: bool) -> Promotion {
        Promotion {
            report: format!("nothing to promote: {why}\n"),
            branch: None,
            commit: None,
            method: None,
            diverged,
            differs: false,
        }
    }
}

fn canonical(p: &Path) -> Result<PathBuf> {
    p.canonicalize().map_err(|source| Error::Io {
        path: p.to_path_buf(),
        source,
    })
}

/// `a/b` relative to `root`, with `/` separators; `.` for the root itself.
fn relative(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/");
    if s.is_empty() { ".".into() } else { s }
}

fn is_under(file: &str, path: &str) -> bool {
    history::covers(path, file)
}

fn repo_name(root: &Path) -> String {
    root.file_name().map_or_else(
        || root.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `promote/<path>-<commit>`. A branch of that name that the target's HEAD already
/// contains is an earlier promotion of the same commit, merged since (promoting it again is
/// a rollback): the name gets a number. One that is not merged is a promotion waiting for
/// review: refused.
fn default_branch(
    dst: &Repo,
    dst_root: &Path,
    head: &str,
    path: &str,
    src_name: &str,
    short_sha: &str,
) -> Result<String> {
    let stem = format!(
        "promote/{}-{short_sha}",
        slug(if path == "." { src_name } else { path })
    );
    let mut name = stem.clone();
    for n in 2..1000 {
        if !dst.branch_exists(&name) {
            git::check_branch_name(dst, &name)?;
            return Ok(name);
        }
        let tip = dst.run(&["rev-parse", &format!("refs/heads/{name}")])?;
        if !dst.is_ancestor(&tip, head) {
            return Err(Error::Usage(format!(
                "branch {name} already exists in {} and is not merged: a promotion of {short_sha} may be waiting for review; choose another name with --branch",
                dst_root.display()
            )));
        }
        name = format!("{stem}-{n}");
    }
    Err(Error::Usage(format!(
        "too many branches named {stem}-<n> in {}; choose a name with --branch",
        dst_root.display()
    )))
}

/// A branch-name-safe form of a path: `databases/orders` -> `databases-orders`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let ok = c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
        if ok {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "repo".into() } else { out }
}

pub fn promote(req: &PromoteRequest, warnings: &mut Vec<Warning>) -> Result<Promotion> {
    // The source, its path and commit.
    let src = Repo::containing(&req.from)?;
    let src_root = canonical(&src.dir)?;
    let path = match &req.path {
        Some(p) => history::repo_path(p, "--path")?,
        None => history::repo_path(&relative(&canonical(&req.from)?, &src_root), "--from")?,
    };
    let sha = match &req.commit {
        Some(rev) => src.commit_of(rev)?,
        None => src.head()?,
    };
    if req.commit.is_none() && !src.status(Some(&path))?.is_empty() {
        warnings.push(Warning::general(format!(
            "{} has uncommitted changes under {path}; promotion copies the commit {sha}, not them",
            src_root.display()
        )));
    }

    // The target.
    let dst = Repo::containing(&req.to)?;
    let dst_root = canonical(&dst.dir)?;
    if dst_root == src_root {
        return Err(Error::Usage(
            "--from and --to are the same repository; promotion goes from one environment repository to another".into(),
        ));
    }
    if let Some(b) = &req.branch {
        git::check_branch_name(&dst, b)?;
    }
    let dirty = dst.status(None)?;
    if !dirty.is_empty() {
        let first: Vec<&str> = dirty.lines().take(5).collect();
        let msg = format!(
            "{} has uncommitted changes; commit or stash them before promoting into it ({})",
            dst_root.display(),
            first.join("; ")
        );
        if !req.dry_run {
            return Err(Error::Usage(msg));
        }
        warnings.push(Warning::general(msg));
    }
    let head = dst.head()?;
    let base_branch = dst.branch();
    let src_name = repo_name(&src_root);
    let dst_name = repo_name(&dst_root);

    // The promotions the target records, and the source commits they name.
    let recorded = history::recorded(&dst, &head)?;
    let sel = history::select(&src, &recorded, &path);
    for r in &sel.skipped {
        warnings.push(Warning::general(format!(
            "{dst_name} commit {} records a promotion of {} from {}, which {} does not have; it is not the base",
            short(&r.target_commit),
            r.path,
            r.source_commit,
            src_root.display()
        )));
    }

    // Decide in a private object store that reads both repositories: a refusal, "nothing
    // to promote" and a dry run leave the target's object store as it was.
    let tmp = TempDir::new()?;
    let scratch = tmp.path();
    let ctx = Context {
        scratch,
        sha: &sha,
        head: &head,
        path: &path,
        force: req.force,
        src_root: &src_root,
        dst_root: &dst_root,
        dst_name: &dst_name,
    };
    let scratch_view = dst.scratch_view(&src, &scratch.join("objects"))?;
    let mut planned = match plan(&scratch_view, &ctx, &sel, &recorded)? {
        Planned::Nothing { why, diverged } => return Ok(Promotion::nothing(why, diverged)),
        Planned::Promote(p) => p,
    };
    // The branch: checked only now, so that "nothing to promote" comes first.
    let short_sha = short(&sha);
    let branch = match &req.branch {
        Some(b) => {
            if dst.branch_exists(b) {
                return Err(Error::Usage(format!(
                    "branch {b} already exists in {}; choose another with --branch",
                    dst_root.display()
                )));
            }
            b.clone()
        }
        None => default_branch(&dst, &dst_root, &head, &path, &src_name, short_sha)?,
    };

    // A real run: the source commits into the target, and the same plan made there, so
    // that the branch's objects are the target's own.
    let view = if req.dry_run {
        scratch_view
    } else {
        let mut wants = vec![sha.clone()];
        wants.extend(sel.covering.iter().map(|r| r.source_commit.clone()));
        wants.extend(sel.inside.iter().map(|r| r.source_commit.clone()));
        wants.sort();
        wants.dedup();
        let src_path = src_root.display().to_string();
        let mut args = vec![
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            src_path.as_str(),
            sha.as_str(),
        ];
        dst.run(&args)?;
        let missing: Vec<&str> = wants
            .iter()
            .map(String::as_str)
            .filter(|w| !dst.has_commit(w))
            .collect();
        if !missing.is_empty() {
            args.truncate(5);
            args.extend(missing);
            dst.run(&args)?;
        }
        match plan(&dst, &ctx, &sel, &recorded)? {
            Planned::Promote(p) if p.tree == planned.tree && p.method == planned.method => {
                planned = p;
            }
            _ => {
                return Err(Error::Usage(format!(
                    "{} changed while promoting; run again",
                    dst_root.display()
                )));
            }
        }
        dst.clone()
    };
    let Plan {
        method,
        tree,
        base,
        divergence,
        fast_forward,
    } = planned;
    let diverged = divergence.diverged();

    // The commit.
    let subject = format!("Promote {path} from {src_name}@{short_sha}");
    let trailers = format!(
        "{}: {}\n{}: {sha}\n{}: {path}",
        history::TRAILER_REPO,
        src.describe(),
        history::TRAILER_COMMIT,
        history::TRAILER_PATH
    );
    let body = match method {
        Method::FastForward => format!(
            "The branch carries the source commits themselves (the repositories share history and nothing outside {path} changed); this empty commit records where they came from."
        ),
        Method::Copy => format!(
            "Copies {path} exactly as it is at {sha}: the files are environment-agnostic, nothing is edited."
        ),
        Method::Merge => format!(
            "Merges the changes {src_name} made to {path} since {} into {dst_name}'s, which has diverged: its own changes to {} are kept (three-way merge).",
            base.as_ref().map_or("", |b| b.source_commit.as_str()),
            listed(&divergence.files, 20)
        ),
        Method::Mirror => format!(
            "Makes {path} exactly what it is at {sha} (--force){}.",
            if diverged {
                format!(
                    ", dropping {dst_name}'s own changes to {}",
                    listed(&divergence.files, 20)
                )
            } else {
                String::new()
            }
        ),
    };
    let commit = match method {
        Method::FastForward => view.run(&[
            "commit-tree",
            &format!("{sha}^{{tree}}"),
            "-p",
            &sha,
            "-m",
            &subject,
            "-m",
            &body,
            "-m",
            &trailers,
        ])?,
        _ => view.run(&[
            "commit-tree",
            &tree,
            "-p",
            &head,
            "-m",
            &subject,
            "-m",
            &body,
            "-m",
            &trailers,
        ])?,
    };

    // What the target environment will see, rendered before the branch exists so that a
    // branch that does not render is never created.
    let mut shown = String::new();
    let mut differs = false;
    if let Some(to_env) = &req.to_env {
        let (text, d) = environment_diff(
            &view,
            scratch,
            &head,
            &commit,
            &path,
            &dst_name,
            base_branch.as_deref().unwrap_or("HEAD"),
            &branch,
            req.from_env.as_deref(),
            to_env,
            warnings,
        )?;
        shown = text;
        differs = d;
    }

    if !req.dry_run {
        // Atomic, and only if the branch still does not exist (the empty old value).
        dst.run(&[
            "update-ref",
            "-m",
            "kubectl-gitops promote",
            &format!("refs/heads/{branch}"),
            &commit,
            "",
        ])?;
    }

    // The report.
    let mut report = String::new();
    let how = match method {
        Method::FastForward => "as the exact commits (fast-forward)".to_string(),
        Method::Copy => "as a copy".to_string(),
        Method::Merge => {
            format!("as a three-way merge: {dst_name} has diverged and its own changes are kept")
        }
        Method::Mirror if diverged => format!(
            "as an exact mirror (--force): {dst_name} has diverged and its own changes are dropped"
        ),
        Method::Mirror => {
            "as an exact mirror (--force): no promotion is recorded and the histories are unrelated"
                .to_string()
        }
    };
    let verb = if req.dry_run {
        "dry run: would promote"
    } else {
        "promoted"
    };
    let _ = writeln!(
        report,
        "{verb} {path} from {} at {sha} into {} {how}",
        src_root.display(),
        dst_root.display()
    );
    let _ = writeln!(report, "branch: {branch}");
    if !req.dry_run {
        let _ = writeln!(report, "commit: {commit}");
    }
    match &base {
        Some(b) => {
            let from = match &b.how {
                BaseSource::Trailer { target_commit } => {
                    format!(
                        "its {} trailer in {dst_name}@{}",
                        history::TRAILER_COMMIT,
                        short(target_commit)
                    )
                }
                BaseSource::MergeBase => "the merge base: no promotion recorded".into(),
            };
            let _ = writeln!(
                report,
                "last promoted: {} ({from})",
                short(&b.source_commit)
            );
        }
        None if fast_forward => {}
        None => {
            let _ = writeln!(report, "last promoted: never");
        }
    }
    let pending_from = if fast_forward {
        Some(head.as_str())
    } else {
        base.as_ref().map(|b| b.source_commit.as_str())
    };
    if let Some(from) = pending_from {
        let commits = view.log(&[&format!("{from}..{sha}")], &path)?;
        let _ = writeln!(report, "source commits ({}):", commits.len());
        for (c, s) in commits.iter().take(50) {
            let _ = writeln!(report, "  {} {s}", short(c));
        }
        if commits.len() > 50 {
            let _ = writeln!(report, "  ... and {} more", commits.len() - 50);
        }
    }
    if diverged {
        let b = base.as_ref().map_or("", |b| b.source_commit.as_str());
        let _ = writeln!(
            report,
            "diverged: {dst_name} changed {path} since it was last promoted (from {}):",
            short(b)
        );
        let _ = writeln!(report, "  files: {}", listed(&divergence.files, 50));
        let _ = writeln!(report, "  commits: {}", own_commits_list(&divergence));
        let _ = writeln!(
            report,
            "  {}",
            if method == Method::Merge {
                "kept (three-way merge); --force would mirror the source and drop them"
            } else {
                "dropped (--force)"
            }
        );
    }
    let _ = writeln!(report, "\nopen the pull request:");
    let _ = writeln!(
        report,
        "  git -C {} push origin {branch}",
        dst_root.display()
    );
    let _ = writeln!(
        report,
        "  gh pr create --repo {} --head {branch}{} --title {:?} --body {:?}",
        dst.describe(),
        base_branch
            .as_deref()
            .map(|b| format!(" --base {b}"))
            .unwrap_or_default(),
        subject,
        trailers.replace('\n', ", ")
    );
    if req.to_env.is_some() {
        report.push_str(&shown);
    } else {
        let shown_path = if path == "." {
            dst_root.display().to_string()
        } else {
            dst_root.join(&path).display().to_string()
        };
        let _ = writeln!(
            report,
            "\nto see what it changes in an environment: kubectl gitops promote ... --to-env <env> --dry-run, or kubectl gitops diff {shown_path} --from-env <env> --to-env <env>"
        );
    }
    Ok(Promotion {
        report,
        branch: Some(branch),
        commit: (!req.dry_run).then_some(commit),
        method: Some(method),
        diverged,
        differs,
    })
}

/// What every plan needs to know.
struct Context<'a> {
    scratch: &'a Path,
    sha: &'a str,
    head: &'a str,
    path: &'a str,
    force: bool,
    src_root: &'a Path,
    dst_root: &'a Path,
    dst_name: &'a str,
}

/// How the promotion will be made.
#[derive(Debug)]
struct Plan {
    method: Method,
    /// The target's tree after the promotion.
    tree: String,
    base: Option<history::Base>,
    divergence: Divergence,
    fast_forward: bool,
}

#[derive(Debug)]
enum Planned {
    Nothing { why: String, diverged: bool },
    Promote(Plan),
}

/// Decides the promotion in `view`, which must see the source commit, the recorded base
/// commits and the target: the base, the target's own changes, the method and the new tree;
/// or nothing to promote; or a refusal (no base without --force, a conflict).
fn plan(
    view: &Repo,
    ctx: &Context<'_>,
    sel: &history::Selection,
    recorded: &[history::Recorded],
) -> Result<Planned> {
    let Context {
        scratch,
        sha,
        head,
        path,
        src_root,
        dst_root,
        dst_name,
        ..
    } = *ctx;
    let theirs_entry = view.entry(sha, path)?;
    let ours_entry = view.entry(head, path)?;
    if theirs_entry.is_none() && ours_entry.is_none() {
        return Err(Error::Usage(format!(
            "{path} does not exist in {} at {sha} (nor in {})",
            src_root.display(),
            dst_root.display()
        )));
    }
    if theirs_entry == ours_entry {
        return Ok(Planned::Nothing {
            why: format!(
                "{} already has {path} as it is in {} at {sha}",
                dst_root.display(),
                src_root.display()
            ),
            diverged: false,
        });
    }
    let target_tree = view.run(&["rev-parse", &format!("{head}^{{tree}}")])?;
    let theirs_tree = view.tree_with(scratch, head, path, theirs_entry.as_ref())?;

    // How to carry the source's path over.
    let fast_forward = view.is_ancestor(head, sha)
        && view
            .changed_paths(head, sha, ".")?
            .iter()
            .all(|f| is_under(f, path));
    let base = history::base(view, sel, sha, head);
    let mut divergence = Divergence::default();
    let (method, tree) = if fast_forward {
        (Method::FastForward, theirs_tree)
    } else {
        match &base {
            None if !ctx.force => {
                return Err(Error::Usage(format!(
                    "cannot promote {path} into {}: it records no promotion from {} (no {} trailer for {path} whose commit the source has) and the two share no history, so its own changes cannot be told from the source's; run again with --force to make {path} exactly the source's (the first promotion between independent repositories needs it)",
                    dst_root.display(),
                    src_root.display(),
                    history::TRAILER_COMMIT
                )));
            }
            None => (Method::Mirror, theirs_tree),
            Some(b) => {
                let base_tree = history::base_tree(view, scratch, head, path, b)?;
                divergence = history::own_changes(view, &base_tree, head, sha, path, b, recorded)?;
                if !divergence.diverged() {
                    (Method::Copy, theirs_tree)
                } else if ctx.force {
                    (Method::Mirror, theirs_tree)
                } else {
                    match history::merge(view, &base_tree, &target_tree, &theirs_tree)? {
                        Merged::Clean(t) => (Method::Merge, t),
                        Merged::Conflicts(files) => {
                            return Err(Error::Usage(format!(
                                "cannot promote {path} into {}: it has diverged since it was last promoted from {} and its own changes conflict with the source's in {} ({}); bring the target's change into the source first, or run again with --force to make {path} exactly the source's (dropping the target's changes); no conflict markers were written and nothing was created",
                                dst_root.display(),
                                short(&b.source_commit),
                                listed(&files, 10),
                                own_commits_phrase(&divergence, dst_name),
                            )));
                        }
                    }
                }
            }
        }
    };
    let diverged = divergence.diverged();
    if tree == target_tree {
        let since = base.as_ref().map_or_else(String::new, |b| {
            format!(" since {}", short(&b.source_commit))
        });
        let mut why = format!(
            "the changes {} made to {path}{since} are already in {}",
            src_root.display(),
            dst_root.display()
        );
        if diverged {
            let _ = write!(
                why,
                "; {dst_name} has diverged: its own changes to {} are kept",
                listed(&divergence.files, 10)
            );
        }
        return Ok(Planned::Nothing { why, diverged });
    }
    Ok(Planned::Promote(Plan {
        method,
        tree,
        base,
        divergence,
        fast_forward,
    }))
}

fn own_commits_list(d: &Divergence) -> String {
    if d.commits.is_empty() {
        return "none found (the changes came with promotions)".into();
    }
    let items: Vec<String> = d
        .commits
        .iter()
        .map(|(c, s)| format!("{} {s}", short(c)))
        .collect();
    listed(&items, 20)
}

fn own_commits_phrase(d: &Divergence, dst_name: &str) -> String {
    format!("{dst_name}'s own commits: {}", own_commits_list(d))
}

/// The target environment's render at the target's HEAD versus the same render of the
/// promotion commit, and with `from_env` the configuration difference between the two
/// environments, each under its heading.
#[allow(clippy::too_many_arguments)]
fn environment_diff(
    view: &Repo,
    scratch: &Path,
    head: &str,
    commit: &str,
    path: &str,
    dst_name: &str,
    base_label: &str,
    branch: &str,
    from_env: Option<&str>,
    to_env: &str,
    warnings: &mut Vec<Warning>,
) -> Result<(String, bool)> {
    let identity = |env: &str, flag: &str| IdentityRequest {
        env: vec![Sourced::new(env, flag)],
        ..IdentityRequest::default()
    };
    // Each side exported as a folder named like the repository, so that a default app name
    // taken from it is what a render of the checkout gives.
    let export = |side: &str, rev: &str| -> Result<PathBuf> {
        let root = scratch.join(side).join(dst_name);
        view.export(scratch, &format!("{rev}^{{tree}}"), &root)?;
        Ok(root)
    };
    let render =
        |root: &Path, warnings: &mut Vec<Warning>| -> Result<Vec<crate::diff::RenderedObject>> {
            let dir = if path == "." {
                root.to_path_buf()
            } else {
                root.join(path)
            };
            if !dir.exists() {
                return Ok(Vec::new());
            }
            let req = crate::render::Request {
                path: dir.display().to_string(),
                identity: identity(to_env, "--to-env"),
                repo_root: Some(root.to_path_buf()),
                ..crate::render::Request::default()
            };
            let rendered = crate::render::render(&req, &mut std::io::empty(), warnings)?;
            crate::diff::rendered_objects(&rendered.output.docs)
        };
    let before_root = export("before", head)?;
    let after_root = export("after", commit)?;
    let shown = |root: &Path, label: &str, w: Warning| -> Warning {
        let rewrite = |s: &str| s.replace(&root.display().to_string(), label);
        Warning {
            loc: w.loc.map(|l| crate::model::Loc {
                file: rewrite(&l.file).into(),
                pos: l.pos,
            }),
            path: w.path.map(|p| rewrite(&p)),
            msg: rewrite(&w.msg),
        }
    };
    let mut quiet = Vec::new();
    let before = match render(&before_root, &mut quiet) {
        Ok(objects) => objects,
        Err(e) => {
            warnings.push(Warning::general(format!(
                "{dst_name}@{base_label} does not render as {to_env} ({}); the diff shows every object of the branch as new",
                e.to_string().replace(&before_root.display().to_string(), base_label)
            )));
            Vec::new()
        }
    };
    let mut branch_warnings = Vec::new();
    let after = render(&after_root, &mut branch_warnings).map_err(|e| {
        Error::Usage(format!(
            "the promotion does not render as {to_env}, so no branch was created: {}",
            e.to_string()
                .replace(&after_root.display().to_string(), branch)
        ))
    })?;
    warnings.extend(
        branch_warnings
            .into_iter()
            .map(|w| shown(&after_root, branch, w)),
    );
    let d = crate::diff::compare_renders(base_label, &before, branch, &after);
    let mut text = format!(
        "\nwhat the promotion changes in {to_env} ({dst_name} {base_label} -> {branch}):\n"
    );
    text.push_str(&d.text);
    if let Some(from_env) = from_env {
        let dir = if path == "." {
            after_root.clone()
        } else {
            after_root.join(path)
        };
        if dir.exists() {
            let side = |env: &str, flag: &str| crate::diff::Side {
                label: env.to_string(),
                identity: identity(env, flag),
            };
            let mut w = Vec::new();
            let c = crate::diff::diff_in(
                &dir.display().to_string(),
                Some(&after_root),
                &side(from_env, "--from-env"),
                &side(to_env, "--to-env"),
                &mut w,
            )?;
            let _ = writeln!(
                text,
                "\nconfiguration difference between {from_env} and {to_env} (the promoted files rendered as each):"
            );
            text.push_str(&c.text);
        }
    }
    Ok((text, d.differs))
}
