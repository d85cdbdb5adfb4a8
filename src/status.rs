//! `kubectl gitops status REPO...`: where each environment repository of a promotion chain
//! stands (DESIGN.md §5, issue 10 item 9). For each adjacent pair (`infra-dev ->
//! infra-staging`, `infra-staging -> infra-prod`):
//!
//! - the source commit the target was last promoted from (its newest `Promoted-from-commit`
//!   trailer for the path, else the merge base; [`crate::promote::history`]);
//! - the source commits pending since then that touched the path, with their subjects;
//! - whether the target has diverged (changed the path itself since), with the files and
//!   commits; and whether the path is identical in both.
//!
//! It reads only: both repositories are compared through a private object store that sees
//! both ([`Repo::scratch_view`]); nothing is fetched or written into either, so it is safe
//! to run on any checkout, at any time. The checkouts' HEADs are compared, as they are.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::git::{Repo, TempDir};
use crate::promote::history::{self, BaseSource, listed, short};

/// One repository of the chain.
#[derive(Clone, Debug)]
pub struct RepoState {
    pub name: String,
    pub dir: PathBuf,
    pub head: String,
    pub branch: Option<String>,
}

/// The last promotion of the path.
#[derive(Clone, Debug)]
pub struct Last {
    pub commit: String,
    pub subject: String,
    /// The target commit holding the trailer (`None`: the merge base).
    pub recorded_in: Option<String>,
    /// Whether the source's HEAD still contains it.
    pub in_source_history: bool,
}

/// One adjacent pair.
#[derive(Clone, Debug)]
pub struct PairStatus {
    pub source: RepoState,
    pub target: RepoState,
    pub last: Option<Last>,
    /// Source commits since the last promotion touching the path (`None`: unknown).
    pub pending: Option<Vec<(String, String)>>,
    /// The path is identical in both HEADs.
    pub in_sync: bool,
    /// The target's own changes (`None`: unknown, there is no base).
    pub diverged: Option<history::Divergence>,
    /// Promotions of folders inside the path newer than its base, newest first: with
    /// per-app promotions, where each app stands.
    pub inside: Vec<history::Recorded>,
}

fn state(given: &Path) -> Result<(Repo, RepoState)> {
    let repo = Repo::containing(given)?;
    let dir = repo.dir.canonicalize().map_err(|source| Error::Io {
        path: repo.dir.clone(),
        source,
    })?;
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let head = repo.head()?;
    let branch = repo.branch();
    Ok((
        repo,
        RepoState {
            name,
            dir,
            head,
            branch,
        },
    ))
}

/// The status of every adjacent pair of `repos` for `path` (`None`: the whole repository).
pub fn status(repos: &[PathBuf], path: Option<&str>) -> Result<(String, Vec<PairStatus>)> {
    if repos.len() < 2 {
        return Err(Error::Usage(
            "status needs at least two repositories, in promotion order (e.g. infra-dev infra-staging infra-prod)".into(),
        ));
    }
    let path = match path {
        Some(p) => history::repo_path(p, "--path")?,
        None => ".".into(),
    };
    let states = repos.iter().map(|r| state(r)).collect::<Result<Vec<_>>>()?;
    for w in states.windows(2) {
        if w[0].1.dir == w[1].1.dir {
            return Err(Error::Usage(format!(
                "{} is given twice in a row; name each environment repository once, in promotion order",
                w[0].1.dir.display()
            )));
        }
    }
    let mut pairs = Vec::new();
    for w in states.windows(2) {
        pairs.push(pair(&w[0], &w[1], &path)?);
    }
    Ok((path, pairs))
}

fn pair(
    (src, source): &(Repo, RepoState),
    (dst, target): &(Repo, RepoState),
    path: &str,
) -> Result<PairStatus> {
    let tmp = TempDir::new()?;
    let view = dst.scratch_view(src, &tmp.path().join("objects"))?;
    let (s, t) = (&source.head, &target.head);
    let recorded = history::recorded(dst, t)?;
    let sel = history::select(src, &recorded, path);
    let in_sync = view.entry(s, path)? == view.entry(t, path)?;
    // Newest first, each folder once; a folder promoted later as part of a larger one is
    // that one's.
    let mut inside: Vec<history::Recorded> = Vec::new();
    for r in sel.inside.iter().rev() {
        if !inside.iter().any(|k| history::covers(&k.path, &r.path)) {
            inside.push(r.clone());
        }
    }
    let Some(base) = history::base(&view, &sel, s, t) else {
        return Ok(PairStatus {
            source: source.clone(),
            target: target.clone(),
            last: None,
            pending: None,
            in_sync,
            diverged: None,
            inside,
        });
    };
    let base_tree = history::base_tree(&view, tmp.path(), t, path, &base)?;
    let diverged = history::own_changes(&view, &base_tree, t, s, path, &base, &recorded)?;
    let pending = view.log(&[&format!("{}..{s}", base.source_commit)], path)?;
    let last = Last {
        subject: view.subject(&base.source_commit)?,
        recorded_in: match &base.how {
            BaseSource::Trailer { target_commit } => Some(target_commit.clone()),
            BaseSource::MergeBase => None,
        },
        in_source_history: view.is_ancestor(&base.source_commit, s),
        commit: base.source_commit,
    };
    Ok(PairStatus {
        source: source.clone(),
        target: target.clone(),
        last: Some(last),
        pending: Some(pending),
        in_sync,
        diverged: Some(diverged),
        inside,
    })
}

/// The report for people.
pub fn text(path: &str, pairs: &[PairStatus]) -> String {
    let mut out = String::new();
    for (i, p) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{} -> {}", p.source.name, p.target.name);
        let _ = writeln!(out, "  path: {path}");
        match &p.last {
            Some(l) => {
                let how = match &l.recorded_in {
                    Some(c) => format!(
                        "{} in {}@{}",
                        history::TRAILER_COMMIT,
                        p.target.name,
                        short(c)
                    ),
                    None => "no promotion recorded; the merge base of their histories".into(),
                };
                let gone = if l.in_source_history {
                    ""
                } else {
                    "; not in the source's HEAD history any more"
                };
                let _ = writeln!(
                    out,
                    "  last promoted: {} {} ({how}{gone})",
                    short(&l.commit),
                    l.subject
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "  last promoted: never (no {} trailer and no shared history; the first promotion needs --force)",
                    history::TRAILER_COMMIT
                );
            }
        }
        if !p.inside.is_empty() {
            let items: Vec<String> = p
                .inside
                .iter()
                .map(|r| format!("{} at {}", r.path, short(&r.source_commit)))
                .collect();
            let _ = writeln!(out, "  promoted on their own since: {}", listed(&items, 10));
        }
        match &p.pending {
            Some(list) => {
                let _ = writeln!(
                    out,
                    "  pending: {} source commit{}",
                    list.len(),
                    plural(list.len())
                );
                for (c, s) in list.iter().take(20) {
                    let _ = writeln!(out, "    {} {s}", short(c));
                }
                if list.len() > 20 {
                    let _ = writeln!(out, "    ... and {} more", list.len() - 20);
                }
            }
            None => {
                let _ = writeln!(out, "  pending: unknown");
            }
        }
        match &p.diverged {
            Some(d) if d.diverged() => {
                let commits: Vec<String> = d
                    .commits
                    .iter()
                    .map(|(c, s)| format!("{} {s}", short(c)))
                    .collect();
                let _ = writeln!(
                    out,
                    "  diverged: yes, {} changed {} file{} since: {}",
                    p.target.name,
                    d.files.len(),
                    plural(d.files.len()),
                    listed(&d.files, 10)
                );
                if !commits.is_empty() {
                    let _ = writeln!(out, "    commits: {}", listed(&commits, 10));
                }
            }
            Some(_) => {
                let _ = writeln!(out, "  diverged: no");
            }
            None => {
                let _ = writeln!(out, "  diverged: unknown");
            }
        }
        let _ = writeln!(
            out,
            "  in sync: {}",
            if p.in_sync {
                "yes, the path is identical"
            } else {
                "no"
            }
        );
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn commits_json(list: &[(String, String)]) -> Value {
    Value::Array(
        list.iter()
            .map(|(c, s)| json!({"commit": c, "subject": s}))
            .collect(),
    )
}

fn repo_json(r: &RepoState) -> Value {
    json!({
        "name": r.name,
        "dir": r.dir.display().to_string(),
        "head": r.head,
        "branch": r.branch,
    })
}

/// The report for scripts.
pub fn json(path: &str, pairs: &[PairStatus]) -> Result<String> {
    let list: Vec<Value> = pairs
        .iter()
        .map(|p| {
            json!({
                "source": repo_json(&p.source),
                "target": repo_json(&p.target),
                "lastPromoted": p.last.as_ref().map(|l| json!({
                    "commit": l.commit,
                    "subject": l.subject,
                    "recordedIn": l.recorded_in,
                    "from": if l.recorded_in.is_some() { "trailer" } else { "merge-base" },
                    "inSourceHistory": l.in_source_history,
                })),
                "pending": p.pending.as_deref().map(commits_json),
                "diverged": p.diverged.as_ref().map(history::Divergence::diverged),
                "targetChanges": p.diverged.as_ref().map(|d| json!({
                    "files": d.files,
                    "commits": commits_json(&d.commits),
                })),
                "inSync": p.in_sync,
                "promotedInside": p.inside.iter().map(|r| json!({
                    "path": r.path,
                    "commit": r.source_commit,
                    "recordedIn": r.target_commit,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&json!({"path": path, "pairs": list}))
        .map_err(|e| Error::Usage(format!("cannot write JSON: {e}")))?;
    s.push('\n');
    Ok(s)
}
