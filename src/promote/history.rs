//! Where a target repository's path stands relative to its source: the promotion history
//! that `promote` and `status` both read.
//!
//! The model (issue 10, DESIGN.md §5):
//! - Every promotion commit carries `Promoted-from-commit` and `Promoted-from-path`
//!   trailers. The **base** of a path is the source commit it was last promoted from: the
//!   newest trailer in the target's history whose path covers it (the same path, or a folder
//!   holding it, `.` included) and whose commit the source repository has. Without one, the
//!   repositories' merge base (shared history). Without either there is no base.
//! - Promotions of folders *inside* the path that are newer than the base are its files'
//!   base ([`Base::overlays`]): the base tree is the base commit's path with those folders
//!   replaced by what they were promoted from.
//! - The **target's own changes** are the differences between the base tree and the
//!   target's HEAD under the path: a staging-only hotfix, a target-only file such as
//!   `.github/CODEOWNERS`. A target with own changes has **diverged**.
//!
//! Paths are validated once ([`repo_path`]) and then handed to git as literal paths (see
//! `git.rs`), never as pathspecs.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::git::{self, Repo};

/// The trailer keys of a promotion commit.
pub const TRAILER_REPO: &str = "Promoted-from-repo";
pub const TRAILER_COMMIT: &str = "Promoted-from-commit";
pub const TRAILER_PATH: &str = "Promoted-from-path";

/// Validates a path inside a repository as `--path` (or a folder given as `--from`) names
/// it, and normalises it: relative, `/`-separated, no empty or `.` components (`./a//b/` is
/// `a/b`), `.` for the whole repository. Refused: absolute paths, `..`, `.git`, control
/// characters (a line break would forge a trailer).
pub fn repo_path(raw: &str, flag: &str) -> Result<String> {
    let refuse = |why: &str| {
        Err(Error::Usage(format!(
            "{flag} {raw:?}: {why}; give a path relative to the repository's root"
        )))
    };
    if raw.starts_with('/') || raw.starts_with('\\') {
        return refuse("an absolute path");
    }
    if raw.chars().any(char::is_control) {
        return refuse("it contains a control character");
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return refuse("it leaves the repository (..)"),
            c if c.eq_ignore_ascii_case(".git") => return refuse("it names git's own directory"),
            c => parts.push(c),
        }
    }
    Ok(if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    })
}

/// Whether `outer` (a promoted path) covers `inner`: the same path, a folder holding it, or
/// the whole repository.
pub fn covers(outer: &str, inner: &str) -> bool {
    outer == "." || outer == inner || inner.starts_with(&format!("{outer}/"))
}

/// A promotion recorded in the target's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// The target commit whose message carries the trailers.
    pub target_commit: String,
    pub source_repo: Option<String>,
    pub source_commit: String,
    pub path: String,
}

/// Every promotion recorded in the history of `rev`, newest first (topological order, so a
/// promotion merged after another comes first). A message may hold several (a squash
/// merge of several promotion commits, where git indents them); the last one written is
/// the newest.
pub fn recorded(target: &Repo, rev: &str) -> Result<Vec<Recorded>> {
    let out = target.run_bytes(&[
        "log",
        "--topo-order",
        "-z",
        "--format=%H%n%B",
        &format!("--grep={TRAILER_COMMIT}: "),
        rev,
        "--",
    ])?;
    let mut all = Vec::new();
    for record in git::split_z(&out) {
        let mut lines = record.lines();
        let Some(commit) = lines.next().map(str::trim).filter(|c| git::is_hex(c)) else {
            continue;
        };
        all.extend(parse_message(commit, lines).into_iter().rev());
    }
    Ok(all)
}

/// The promotions one commit message records, in the order written.
fn parse_message<'a>(commit: &str, lines: impl Iterator<Item = &'a str>) -> Vec<Recorded> {
    let mut found: Vec<Recorded> = Vec::new();
    let mut repo = None;
    // Whether the last group already has its path (a later path line starts no group).
    let mut open = false;
    for line in lines {
        let line = line.trim();
        let value = |key: &str| {
            line.strip_prefix(key)
                .and_then(|r| r.strip_prefix(':'))
                .map(str::trim)
        };
        if let Some(v) = value(TRAILER_REPO) {
            repo = Some(v.to_string());
        } else if let Some(v) = value(TRAILER_COMMIT) {
            if git::is_hex(v) {
                found.push(Recorded {
                    target_commit: commit.to_string(),
                    source_repo: repo.take(),
                    source_commit: v.to_string(),
                    path: ".".into(),
                });
                open = true;
            } else {
                open = false;
            }
        } else if let Some(v) = value(TRAILER_PATH) {
            if open {
                if let (Some(last), Ok(p)) = (found.last_mut(), repo_path(v, TRAILER_PATH)) {
                    last.path = p;
                } else {
                    // A path that is not a valid one: the record cannot be trusted.
                    found.pop();
                }
                open = false;
            }
        }
    }
    found
}

/// How the base was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BaseSource {
    /// A `Promoted-from-commit` trailer in this target commit.
    Trailer { target_commit: String },
    /// The merge base of the two repositories' histories.
    MergeBase,
}

/// The source commit a target's path was last promoted from.
#[derive(Clone, Debug)]
pub struct Base {
    pub source_commit: String,
    pub how: BaseSource,
    /// Promotions of folders inside the path newer than the base, oldest first.
    pub overlays: Vec<Recorded>,
}

impl Base {
    /// The target commit from which on changes are the target's own: the promotion
    /// commit, or the merge base.
    pub fn since(&self) -> &str {
        match &self.how {
            BaseSource::Trailer { target_commit } => target_commit,
            BaseSource::MergeBase => &self.source_commit,
        }
    }
}

/// The recorded promotions that matter for `path`: the newest one covering it whose commit
/// the source has, the newer ones inside it (oldest first), and the covering ones skipped
/// because the source does not have their commit (another repository's, or rewritten).
#[derive(Debug, Default)]
pub struct Selection {
    pub covering: Option<Recorded>,
    pub inside: Vec<Recorded>,
    pub skipped: Vec<Recorded>,
}

pub fn select(source: &Repo, recorded: &[Recorded], path: &str) -> Selection {
    let mut sel = Selection::default();
    let mut seen = BTreeSet::new();
    let mut in_source = |c: &str| {
        // One lookup per commit, however many records name it.
        if seen.contains(c) {
            return true;
        }
        let ok = source.has_commit(c);
        if ok {
            seen.insert(c.to_string());
        }
        ok
    };
    for r in recorded {
        if covers(&r.path, path) {
            if in_source(&r.source_commit) {
                sel.covering = Some(r.clone());
                break;
            }
            sel.skipped.push(r.clone());
        } else if covers(path, &r.path) && in_source(&r.source_commit) {
            sel.inside.push(r.clone());
        }
    }
    sel.inside.reverse();
    sel
}

/// The base of `path`: the covering promotion, else the merge base of `source_head` and
/// `target_head` (`view` must see both repositories' objects).
pub fn base(view: &Repo, sel: &Selection, source_head: &str, target_head: &str) -> Option<Base> {
    if let Some(c) = &sel.covering {
        return Some(Base {
            source_commit: c.source_commit.clone(),
            how: BaseSource::Trailer {
                target_commit: c.target_commit.clone(),
            },
            overlays: sel.inside.clone(),
        });
    }
    let mb = view.merge_base(source_head, target_head)?;
    // Promotions inside the path made since the shared history still count.
    let overlays = sel
        .inside
        .iter()
        .filter(|r| view.is_ancestor(&mb, &r.target_commit))
        .cloned()
        .collect();
    Some(Base {
        source_commit: mb,
        how: BaseSource::MergeBase,
        overlays,
    })
}

/// The target's tree with `path` as it was last promoted: the base commit's path with the
/// newer promotions inside it laid over. Outside `path` it is the target's tree, so a
/// three-way merge with it never touches anything else.
pub fn base_tree(
    view: &Repo,
    scratch: &Path,
    target_head: &str,
    path: &str,
    base: &Base,
) -> Result<String> {
    let entry = view.entry(&base.source_commit, path)?;
    let mut tree = view.tree_with(scratch, target_head, path, entry.as_ref())?;
    for o in &base.overlays {
        let entry = view.entry(&o.source_commit, &o.path)?;
        tree = view.tree_with(scratch, &tree, &o.path, entry.as_ref())?;
    }
    Ok(tree)
}

/// What the target changed under its path since the base.
#[derive(Clone, Debug, Default)]
pub struct Divergence {
    pub files: Vec<String>,
    /// The target's own commits that changed those files (not promotions, not merges, not
    /// commits the source has), newest first, as (commit, subject); at most
    /// [`MAX_COMMITS`].
    pub commits: Vec<(String, String)>,
}

/// How many of the target's own commits are looked up and listed.
pub const MAX_COMMITS: usize = 20;

impl Divergence {
    pub fn diverged(&self) -> bool {
        !self.files.is_empty()
    }
}

/// The target's own changes under `path`: the files where its HEAD differs from the base
/// tree, and the commits that made them: those since the base's promotion, else (the
/// changes were carried over by an earlier promotion) any before it. `view` sees both
/// repositories.
pub fn own_changes(
    view: &Repo,
    base_tree: &str,
    target_head: &str,
    source_head: &str,
    path: &str,
    base: &Base,
    recorded: &[Recorded],
) -> Result<Divergence> {
    let files = view.changed_paths(base_tree, target_head, path)?;
    if files.is_empty() {
        return Ok(Divergence::default());
    }
    let promotions: BTreeSet<&str> = recorded.iter().map(|r| r.target_commit.as_str()).collect();
    let commits = |exclude: Option<&str>| -> Result<Vec<(String, String)>> {
        // Looked up by file, so a large divergence is bounded here too.
        let mut args = vec![
            "log".to_string(),
            "--topo-order".into(),
            "--no-merges".into(),
            "-z".into(),
            "--format=%H %s".into(),
            format!("-n{}", MAX_COMMITS + promotions.len().min(1000)),
            target_head.into(),
            format!("^{source_head}"),
        ];
        args.extend(exclude.map(|e| format!("^{e}")));
        args.push("--".into());
        args.extend(files.iter().take(200).cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(git::split_z(&view.run_bytes(&args)?)
            .into_iter()
            .filter_map(|l| {
                let (h, s) = l.split_once(' ').unwrap_or((l.as_str(), ""));
                (!promotions.contains(h)).then(|| (h.to_string(), s.to_string()))
            })
            .take(MAX_COMMITS)
            .collect())
    };
    let mut list = commits(Some(base.since()))?;
    if list.is_empty() {
        list = commits(None)?;
    }
    Ok(Divergence {
        files,
        commits: list,
    })
}

/// The result of a three-way merge of trees.
#[derive(Debug)]
pub enum Merged {
    Clean(String),
    /// The files that conflict; nothing was written anywhere the user sees.
    Conflicts(Vec<String>),
}

/// Merges `theirs` into `ours` with `base` as the common ancestor (`git merge-tree`), all
/// three trees: the result is a tree object, never a checkout with conflict markers.
pub fn merge(view: &Repo, base: &str, ours: &str, theirs: &str) -> Result<Merged> {
    let args = [
        "merge-tree",
        "--write-tree",
        "-z",
        "--name-only",
        "--no-messages",
        &format!("--merge-base={base}"),
        ours,
        theirs,
    ];
    let out = view.output(&args)?;
    let mut records = git::split_z(&out.stdout).into_iter();
    match out.code {
        Some(0) => records
            .next()
            .map(Merged::Clean)
            .ok_or_else(|| Error::Usage("git merge-tree printed no tree".into())),
        Some(1) => {
            let files: BTreeSet<String> = records.skip(1).collect();
            Ok(Merged::Conflicts(files.into_iter().collect()))
        }
        _ => Err(Error::Usage(format!(
            "git {} (in {}) failed: {}",
            args.join(" "),
            view.dir.display(),
            out.stderr
        ))),
    }
}

/// Short commit ids for messages.
pub fn short(c: &str) -> &str {
    &c[..12.min(c.len())]
}

/// `items` joined with ", ", the first `max` of them and how many more.
pub fn listed<T: AsRef<str>>(items: &[T], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised_or_refused() {
        let ok = [
            ("databases", "databases"),
            ("./databases/", "databases"),
            ("a//b/./c", "a/b/c"),
            (".", "."),
            ("", "."),
            ("x*", "x*"),
            (":(glob)x", ":(glob)x"),
            ("apps/.github", "apps/.github"),
        ];
        for (raw, want) in ok {
            assert_eq!(
                repo_path(raw, "--path").ok().as_deref(),
                Some(want),
                "{raw}"
            );
        }
        for raw in [
            "/etc",
            "../other",
            "a/../../b",
            "a/..",
            ".git",
            "a/.GIT/config",
            "a\nPromoted-from-commit: x",
            "\\\\server\\share",
        ] {
            assert!(repo_path(raw, "--path").is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn covering_paths() {
        assert!(covers(".", "a"));
        assert!(covers("a", "a"));
        assert!(covers("a", "a/b"));
        assert!(!covers("a", "ab"));
        assert!(!covers("a/b", "a"));
    }

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn trailers_in_a_message() {
        let msg = format!(
            "Promote apps\n\nbody\n\nPromoted-from-repo: git@x:dev.git\nPromoted-from-commit: {A}\nPromoted-from-path: apps"
        );
        let r = parse_message("c", msg.lines());
        assert_eq!(
            r,
            [Recorded {
                target_commit: "c".into(),
                source_repo: Some("git@x:dev.git".into()),
                source_commit: A.into(),
                path: "apps".into(),
            }]
        );
        // A squash of two promotions: both, in the order written; no path means the whole
        // repository; a forged path is dropped with its record.
        let msg = format!(
            "Squash\n\n* one\n\nPromoted-from-commit: {A}\n\n* two\n\n  Promoted-from-commit: {B}\n  Promoted-from-path: ../x\n\nPromoted-from-commit: {B}\n"
        );
        let r = parse_message("c", msg.lines());
        let got: Vec<(&str, &str)> = r
            .iter()
            .map(|r| (r.source_commit.as_str(), r.path.as_str()))
            .collect();
        assert_eq!(got, [(A, "."), (B, ".")]);
        // Not a commit id: ignored, and its path line with it.
        let msg = "Promoted-from-commit: HEAD\nPromoted-from-path: apps\n";
        assert!(parse_message("c", msg.lines()).is_empty());
    }

    #[test]
    fn lists_are_bounded() {
        assert_eq!(listed(&["a", "b", "c"], 2), "a, b and 1 more");
        assert_eq!(listed(&["a"], 2), "a");
    }
}
