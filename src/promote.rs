//! `kubectl gitops promote`: pattern 1, git-based promotion between environment repositories
//! (`infra-dev` -> `infra-staging` -> `infra-prod`).
//!
//! The files are environment-agnostic, so promotion is a copy of the exact commit: nothing is
//! edited. In the target repository a new branch carries the source's files at the source
//! commit, and a commit whose trailers are the audit trail:
//!
//! ```text
//! Promoted-from-repo: git@example.com:team/infra-dev.git
//! Promoted-from-commit: 4f0c…(40 hex digits)
//! Promoted-from-path: databases
//! ```
//!
//! When the two repositories share history and the commits since the target's HEAD touch
//! nothing outside the promoted path, the branch is the source commits themselves
//! (fast-forward), so the pull request contains the exact commits, with an empty commit on top
//! that carries the trailers. Otherwise the path is copied byte for byte (modes included) from
//! the source commit. The work happens in a temporary worktree: the user's checkout is never
//! switched or touched, and a dirty target is refused.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::config::{IdentityRequest, Sourced};
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::git::{Repo, Worktree};

#[derive(Clone, Debug, Default)]
pub struct PromoteRequest {
    pub from: PathBuf,
    pub to: PathBuf,
    pub path: Option<String>,
    pub branch: Option<String>,
    pub from_env: Option<String>,
    pub to_env: Option<String>,
}

/// What a promotion did, for the report and for callers.
#[derive(Debug)]
pub struct Promotion {
    pub report: String,
    pub branch: Option<String>,
    pub commit: Option<String>,
    /// Whether a diff between the environments shows more than identity.
    pub differs: bool,
}

impl Promotion {
    /// A promotion that found nothing to do, and says why.
    fn nothing(why: String) -> Promotion {
        Promotion {
            report: format!("nothing to promote: {why}\n"),
            branch: None,
            commit: None,
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
    path == "." || file == path || file.starts_with(&format!("{path}/"))
}

pub fn promote(req: &PromoteRequest, warnings: &mut Vec<Warning>) -> Result<Promotion> {
    let src = Repo::containing(&req.from)?;
    let src_root = canonical(&src.dir)?;
    let from_abs = canonical(&req.from)?;
    let path = match &req.path {
        Some(p) => p.trim_matches('/').to_string(),
        None => relative(&from_abs, &src_root),
    };
    let path = if path.is_empty() {
        ".".to_string()
    } else {
        path
    };
    if path.split('/').any(|c| c == "..") {
        return Err(Error::Usage(format!(
            "--path {path:?} must stay inside the repository"
        )));
    }
    let sha = src.head()?;
    if path != "." && !src.test(&["cat-file", "-e", &format!("{sha}:{path}")]) {
        return Err(Error::Usage(format!(
            "{path} does not exist in {} at {sha}",
            src_root.display()
        )));
    }
    let pathspec = if path == "." {
        None
    } else {
        Some(path.as_str())
    };
    if !src.status(pathspec)?.is_empty() {
        warnings.push(Warning::general(format!(
            "{} has uncommitted changes under {path}; promotion copies the commit {sha}, not them",
            src_root.display()
        )));
    }

    let dst = Repo::containing(&req.to)?;
    let dst_root = canonical(&dst.dir)?;
    if dst_root == src_root {
        return Err(Error::Usage(
            "--from and --to are the same repository; promotion goes from one environment repository to another".into(),
        ));
    }
    let dirty = dst.status(None)?;
    if !dirty.is_empty() {
        let first: Vec<&str> = dirty.lines().take(5).collect();
        return Err(Error::Usage(format!(
            "{} has uncommitted changes; commit or stash them before promoting into it ({})",
            dst_root.display(),
            first.join("; ")
        )));
    }
    let base_branch = dst.branch();
    let head = dst.head()?;
    let short = &sha[..12.min(sha.len())];
    let slug = if path == "." {
        src_root
            .file_name()
            .map_or_else(|| "repo".to_string(), |n| n.to_string_lossy().into_owned())
    } else {
        path.replace('/', "-")
    };
    let branch = req
        .branch
        .clone()
        .unwrap_or_else(|| format!("promote/{slug}-{short}"));
    if dst.branch_exists(&branch) {
        return Err(Error::Usage(format!(
            "branch {branch} already exists in {}; choose another with --branch",
            dst_root.display()
        )));
    }

    // Bring the source commit's objects into the target.
    let src_path = src_root.display().to_string();
    dst.run(&["fetch", "--quiet", "--no-tags", &src_path, "HEAD"])?;
    let fetched = dst.run(&["rev-parse", "FETCH_HEAD"])?;
    if fetched != sha {
        return Err(Error::Usage(format!(
            "the source moved while promoting ({sha} became {fetched}); run again"
        )));
    }

    let src_name = src.describe();
    let subject = format!("Promote {path} from {}@{short}", repo_name(&src_root));
    let trailers = format!(
        "Promoted-from-repo: {src_name}\nPromoted-from-commit: {sha}\nPromoted-from-path: {path}"
    );
    // The target already has the source commit and the same files at the path: nothing to do.
    let spec = if path == "." { ":/" } else { path.as_str() };
    if dst.test(&["merge-base", "--is-ancestor", &sha, &head])
        && dst.test(&["diff", "--quiet", &sha, &head, "--", spec])
    {
        return Ok(Promotion::nothing(format!(
            "{} already has {sha} and the same {path}",
            dst_root.display()
        )));
    }
    let fast_forward = dst.test(&["merge-base", "--is-ancestor", &head, &sha])
        && dst
            .changed_paths(&head, &sha)?
            .iter()
            .all(|f| is_under(f, &path));

    let mut report = String::new();
    let commit;
    if fast_forward {
        let wt = Worktree::new(&dst, &sha)?;
        wt.repo.run(&["checkout", "--quiet", "-b", &branch])?;
        let body = format!(
            "The branch carries the source commits themselves (the repositories share history and nothing outside {path} changed); this empty commit records where they came from."
        );
        wt.repo.run(&[
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            &subject,
            "-m",
            &body,
            "-m",
            &trailers,
        ])?;
        commit = wt.repo.head()?;
        let _ = writeln!(
            report,
            "promoted {path} from {} at {sha} into {} as the exact commits (fast-forward)",
            src_root.display(),
            dst_root.display()
        );
    } else {
        let wt = Worktree::new(&dst, &head)?;
        wt.repo.run(&["checkout", "--quiet", "-b", &branch])?;
        wt.repo
            .run(&["rm", "-r", "-q", "--ignore-unmatch", "--", spec])?;
        wt.repo.run(&["checkout", &sha, "--", spec])?;
        if wt.repo.status(None)?.is_empty() {
            drop(wt);
            let _ = dst.run(&["branch", "-D", "--quiet", &branch]);
            return Ok(Promotion::nothing(format!(
                "{path} in {} already matches {sha}",
                dst_root.display()
            )));
        }
        let body = format!(
            "Copies {path} exactly as it is at {sha}: the files are environment-agnostic, nothing is edited."
        );
        wt.repo.run(&[
            "commit", "--quiet", "-m", &subject, "-m", &body, "-m", &trailers,
        ])?;
        commit = wt.repo.head()?;
        let _ = writeln!(
            report,
            "promoted {path} from {} at {sha} into {} as a copy (the repositories do not share that history)",
            src_root.display(),
            dst_root.display()
        );
    }
    let _ = writeln!(report, "branch: {branch}");
    let _ = writeln!(report, "commit: {commit}");
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

    let mut differs = false;
    let shown = if path == "." {
        dst_root.display().to_string()
    } else {
        dst_root.join(&path).display().to_string()
    };
    match (&req.from_env, &req.to_env) {
        (Some(from_env), Some(to_env)) => {
            let wt = Worktree::new(&dst, &commit)?;
            let dir = if path == "." {
                wt.repo.dir.clone()
            } else {
                wt.repo.dir.join(&path)
            };
            let side = |env: &str, label: &str| crate::diff::Side {
                label: label.to_string(),
                identity: IdentityRequest {
                    env: vec![Sourced::new(env, "--from-env/--to-env")],
                    ..IdentityRequest::default()
                },
            };
            let d = crate::diff::diff(
                &dir.display().to_string(),
                &side(from_env, from_env),
                &side(to_env, to_env),
                warnings,
            )?;
            differs = d.differs;
            let _ = writeln!(
                report,
                "\nwhat the promotion changes, {from_env} -> {to_env}:"
            );
            report.push_str(&d.text);
        }
        _ => {
            let _ = writeln!(
                report,
                "\nto see what it changes between the environments: kubectl gitops diff {shown} --from-env <env> --to-env <env>"
            );
        }
    }
    Ok(Promotion {
        report,
        branch: Some(branch),
        commit: Some(commit),
        differs,
    })
}

fn repo_name(root: &Path) -> String {
    root.file_name().map_or_else(
        || root.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
