//! A thin, typed wrapper over the `git` command, for `promote`, `status` and `preview`.
//!
//! Why the command and not a library: git is on every machine that has a repository to
//! promote, it is what CI and people already trust with their repositories, and the handful
//! of operations needed (fetch between local repositories, ancestry, three-way merges of
//! trees, commits with trailers, pushes) are stable plumbing. gix would add a large
//! dependency tree for no behaviour we need.
//!
//! Invariants of every call:
//! - a fixed locale, no pager, no prompt, and none of the caller's `GIT_DIR`-like variables;
//! - **pathspecs are literal** (`GIT_LITERAL_PATHSPECS=1`): a path the user gives (`--path
//!   'x*'`, a preview directory) is a path, never a glob or a `:(magic)` pattern, so no
//!   command can touch a file outside it;
//! - a commit needs an identity: machines without one (CI) get a neutral one rather than an
//!   error; an identity that is configured wins;
//! - failures carry the command and git's own message.
//!
//! Besides a checkout ([`Repo::containing`]), a [`Repo`] can be a *view*: the same
//! repository with a private index ([`Repo::with_index`]) or a private object store that
//! also reads another repository's objects ([`Repo::scratch_view`]). Views are how `status`
//! and `promote --dry-run` compare two repositories without writing anything into either.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};

/// A repository (or a worktree of one), possibly seen through a private index or object
/// store.
#[derive(Clone, Debug)]
pub struct Repo {
    pub dir: PathBuf,
    /// Extra environment for every command (`GIT_INDEX_FILE`, `GIT_OBJECT_DIRECTORY`, ...).
    env: Vec<(&'static str, OsString)>,
    /// Whether git finds a committer identity, asked once (two `git config` runs).
    identity: Arc<OnceLock<bool>>,
}

/// What a git command printed and how it ended, for commands whose failure is an answer
/// (`merge-tree` exits 1 on conflicts, `push` on a rejected update).
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// One entry of a tree: what a path is at a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `100644`, `100755`, `120000`, `040000`, `160000`.
    pub mode: String,
    /// `blob`, `tree` or `commit`.
    pub kind: String,
    pub oid: String,
}

impl Repo {
    /// The repository at `dir` (its top level or a worktree's).
    pub fn at(dir: impl Into<PathBuf>) -> Repo {
        Repo {
            dir: dir.into(),
            env: Vec::new(),
            identity: Arc::new(OnceLock::new()),
        }
    }

    /// The repository containing `path` (a file or a folder).
    pub fn containing(path: &Path) -> Result<Repo> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        };
        let top = Repo::at(dir)
            .run(&["rev-parse", "--show-toplevel"])
            .map_err(|_| {
                Error::Usage(format!("{} is not inside a git repository", path.display()))
            })?;
        if top.is_empty() {
            return Err(Error::Usage(format!(
                "{} is a bare repository; give a checkout",
                path.display()
            )));
        }
        Ok(Repo::at(top))
    }

    /// The same repository with `GIT_INDEX_FILE` pointing at `index` (a file that need not
    /// exist yet): index operations never touch the checkout's own index.
    pub fn with_index(&self, index: &Path) -> Repo {
        let mut r = self.clone();
        r.env.retain(|(k, _)| *k != "GIT_INDEX_FILE");
        r.env
            .push(("GIT_INDEX_FILE", index.as_os_str().to_os_string()));
        r
    }

    /// A read-mostly view of this repository that also sees `other`'s objects, and writes
    /// new objects (merged trees, commits) into `store`, a private directory: neither
    /// repository's object store is written. Refs are this repository's.
    pub fn scratch_view(&self, other: &Repo, store: &Path) -> Result<Repo> {
        let own = self.objects_dir()?;
        let theirs = other.objects_dir()?;
        std::fs::create_dir_all(store).map_err(|source| Error::Io {
            path: store.to_path_buf(),
            source,
        })?;
        let sep = if cfg!(windows) { ";" } else { ":" };
        let mut alternates = OsString::from(own.as_os_str());
        alternates.push(sep);
        alternates.push(theirs.as_os_str());
        let mut r = self.clone();
        r.env
            .push(("GIT_OBJECT_DIRECTORY", store.as_os_str().to_os_string()));
        r.env.push(("GIT_ALTERNATE_OBJECT_DIRECTORIES", alternates));
        Ok(r)
    }

    /// The absolute path of the object store (shared by all worktrees).
    pub fn objects_dir(&self) -> Result<PathBuf> {
        let p = self.run(&[
            "rev-parse",
            "--path-format=absolute",
            "--git-path",
            "objects",
        ])?;
        Ok(PathBuf::from(p))
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.dir);
        if !self.has_identity() {
            c.args([
                "-c",
                "user.name=kubectl-gitops",
                "-c",
                "user.email=kubectl-gitops@localhost",
            ]);
        }
        c.args(args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_PAGER", "cat")
            .env("GIT_LITERAL_PATHSPECS", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_OBJECT_DIRECTORY")
            .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
            .env_remove("GIT_NAMESPACE")
            .env_remove("GIT_GLOB_PATHSPECS")
            .env_remove("GIT_ICASE_PATHSPECS")
            .env_remove("GIT_NOGLOB_PATHSPECS");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn has_identity(&self) -> bool {
        *self.identity.get_or_init(|| self.find_identity())
    }

    fn find_identity(&self) -> bool {
        let ok = |key: &str| {
            Command::new("git")
                .arg("-C")
                .arg(&self.dir)
                .args(["config", key])
                .env("LC_ALL", "C")
                .output()
                .is_ok_and(|o| o.status.success() && !o.stdout.trim_ascii().is_empty())
        };
        ok("user.email") && ok("user.name")
            || std::env::var_os("GIT_AUTHOR_EMAIL").is_some()
                && std::env::var_os("GIT_COMMITTER_EMAIL").is_some()
    }

    /// Runs git and returns how it ended, whatever that was.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        let out = self.command(args).output().map_err(|e| {
            Error::Usage(format!(
                "cannot run git: {e} (kubectl-gitops needs git on PATH)"
            ))
        })?;
        Ok(Output {
            code: out.status.code(),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }

    fn failed(&self, args: &[&str], out: &Output) -> Error {
        Error::Usage(format!(
            "git {} (in {}) failed: {}",
            args.join(" "),
            self.dir.display(),
            out.stderr
        ))
    }

    /// Runs git and returns its stdout, failing when git does.
    pub fn run_bytes(&self, args: &[&str]) -> Result<Vec<u8>> {
        let out = self.output(args)?;
        if !out.success() {
            return Err(self.failed(args, &out));
        }
        Ok(out.stdout)
    }

    /// Runs git and returns its trimmed stdout.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.run_bytes(args)?;
        Ok(String::from_utf8_lossy(&out).trim_end().to_string())
    }

    /// Whether git succeeds (for questions such as "is A an ancestor of B?").
    pub fn test(&self, args: &[&str]) -> bool {
        self.command(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub fn head(&self) -> Result<String> {
        self.run(&["rev-parse", "--verify", "-q", "HEAD^{commit}"])
            .map_err(|_| {
                Error::Usage(format!(
                    "{} has no commit yet (HEAD does not point at a commit)",
                    self.dir.display()
                ))
            })
    }

    /// The commit `rev` names, as 40 (or 64) hex digits. `rev` never reads as an option.
    pub fn commit_of(&self, rev: &str) -> Result<String> {
        if rev.is_empty() || rev.starts_with('-') {
            return Err(Error::Usage(format!("{rev:?} is not a revision")));
        }
        self.run(&[
            "rev-parse",
            "--verify",
            "-q",
            "--end-of-options",
            &format!("{rev}^{{commit}}"),
        ])
        .map_err(|_| Error::Usage(format!("{rev:?} is not a commit of {}", self.dir.display())))
    }

    /// Whether `oid` is a commit this repository has.
    pub fn has_commit(&self, oid: &str) -> bool {
        is_hex(oid) && self.test(&["cat-file", "-e", &format!("{oid}^{{commit}}")])
    }

    pub fn is_ancestor(&self, a: &str, b: &str) -> bool {
        self.test(&["merge-base", "--is-ancestor", a, b])
    }

    /// A common ancestor of two commits, if they share history.
    pub fn merge_base(&self, a: &str, b: &str) -> Option<String> {
        self.run(&["merge-base", a, b])
            .ok()
            .filter(|s| !s.is_empty())
    }

    /// The current branch, if HEAD is on one.
    pub fn branch(&self) -> Option<String> {
        self.run(&["symbolic-ref", "--short", "-q", "HEAD"])
            .ok()
            .filter(|b| !b.is_empty())
    }

    /// Uncommitted changes (tracked or untracked), limited to `path` when given.
    pub fn status(&self, path: Option<&str>) -> Result<String> {
        match path {
            Some(p) => self.run(&["status", "--porcelain", "--", p]),
            None => self.run(&["status", "--porcelain"]),
        }
    }

    /// The remote URL of `origin`, else the repository's path: how to name it in trailers.
    pub fn describe(&self) -> String {
        self.run(&["remote", "get-url", "origin"])
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| self.dir.display().to_string())
    }

    pub fn branch_exists(&self, name: &str) -> bool {
        self.test(&["rev-parse", "--verify", "-q", &format!("refs/heads/{name}")])
    }

    /// Paths changed between two commits or trees, limited to `path` (`.`: everywhere).
    pub fn changed_paths(&self, from: &str, to: &str, path: &str) -> Result<Vec<String>> {
        let mut args = vec![
            "diff-tree",
            "-r",
            "-z",
            "--name-only",
            "--no-renames",
            from,
            to,
        ];
        if path != "." {
            args.extend(["--", path]);
        }
        Ok(split_z(&self.run_bytes(&args)?))
    }

    /// What `path` is at `rev` (a commit or a tree), if anything. `.` is the root tree.
    pub fn entry(&self, rev: &str, path: &str) -> Result<Option<Entry>> {
        if path == "." {
            let oid = self.run(&["rev-parse", "--verify", &format!("{rev}^{{tree}}")])?;
            return Ok(Some(Entry {
                mode: "040000".into(),
                kind: "tree".into(),
                oid,
            }));
        }
        let out = self.run_bytes(&["ls-tree", "-z", "--full-tree", rev, "--", path])?;
        for rec in split_z(&out) {
            let Some((meta, name)) = rec.split_once('\t') else {
                continue;
            };
            if name != path {
                continue;
            }
            let mut f = meta.split(' ');
            if let (Some(mode), Some(kind), Some(oid)) = (f.next(), f.next(), f.next()) {
                return Ok(Some(Entry {
                    mode: mode.into(),
                    kind: kind.into(),
                    oid: oid.into(),
                }));
            }
        }
        Ok(None)
    }

    /// The tree of `root` (a commit or tree) with `path` replaced by `with` (removed when
    /// `None`). Works in a private index inside `scratch`; nothing else is touched.
    pub fn tree_with(
        &self,
        scratch: &Path,
        root: &str,
        path: &str,
        with: Option<&Entry>,
    ) -> Result<String> {
        if path == "." {
            return match with {
                Some(e) if e.kind == "tree" => Ok(e.oid.clone()),
                Some(_) => Err(Error::Usage("the repository root is not a tree".into())),
                None => self.empty_tree(),
            };
        }
        let index = self.with_index(&scratch.join("tree-with.index"));
        index.run(&["read-tree", root])?;
        index.run(&[
            "rm",
            "--cached",
            "-r",
            "-f",
            "-q",
            "--ignore-unmatch",
            "--",
            path,
        ])?;
        match with {
            Some(e) if e.kind == "tree" => {
                index.run(&["read-tree", &format!("--prefix={path}/"), &e.oid])?;
            }
            Some(e) => {
                index.run(&[
                    "update-index",
                    "--add",
                    "--cacheinfo",
                    &format!("{},{},{path}", e.mode, e.oid),
                ])?;
            }
            None => {}
        }
        index.run(&["write-tree"])
    }

    pub fn empty_tree(&self) -> Result<String> {
        self.run(&["hash-object", "-t", "tree", "-w", "/dev/null"])
    }

    /// Writes the files of `tree` under `dest` (created), as a checkout would (filters and
    /// modes applied), through a private index: the repository's own checkout and index are
    /// untouched.
    pub fn export(&self, scratch: &Path, tree: &str, dest: &Path) -> Result<()> {
        std::fs::create_dir_all(dest).map_err(|source| Error::Io {
            path: dest.to_path_buf(),
            source,
        })?;
        let index = self.with_index(&scratch.join("export.index"));
        index.run(&["read-tree", tree])?;
        let mut prefix = dest.display().to_string();
        if !prefix.ends_with('/') {
            prefix.push('/');
        }
        index.run(&["checkout-index", "-a", "-f", &format!("--prefix={prefix}")])?;
        Ok(())
    }

    /// The commits in `range` (e.g. `A..B`) that changed something under `path` (`.`:
    /// anywhere; empty commits and merges that bring nothing new are left out), newest
    /// first, as (commit, subject).
    pub fn log(&self, range: &[&str], path: &str) -> Result<Vec<(String, String)>> {
        let mut args = vec!["log", "--topo-order", "-z", "--format=%H %s"];
        args.extend_from_slice(range);
        args.extend(["--", path]);
        Ok(split_z(&self.run_bytes(&args)?)
            .into_iter()
            .filter_map(|l| {
                let (h, s) = l.split_once(' ').unwrap_or((l.as_str(), ""));
                (!h.is_empty()).then(|| (h.to_string(), s.to_string()))
            })
            .collect())
    }

    /// The subject line of a commit.
    pub fn subject(&self, commit: &str) -> Result<String> {
        self.run(&["log", "-1", "--format=%s", commit, "--"])
    }
}

/// Splits NUL-terminated records, dropping empty ones.
pub fn split_z(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// Whether `s` is a full object id (SHA-1 or SHA-256), lowercase hex.
pub fn is_hex(s: &str) -> bool {
    matches!(s.len(), 40 | 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a branch name as `git check-ref-format --branch` would, without its expansion of
/// `@{-1}` and the like, and refuses what is a ref rather than a branch name (`refs/...`,
/// `HEAD`), so that `--branch refs/heads/main` can never name (or print a push of) another
/// ref than the branch the user sees.
pub fn check_branch_name(repo: &Repo, name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("it is empty")
    } else if name.starts_with("refs/") {
        Some("it is a ref, not a branch name (leave out refs/heads/)")
    } else if name.starts_with('-') {
        Some("it starts with '-'")
    } else if name == "HEAD" || name == "@" {
        Some("it names HEAD")
    } else if name.contains("@{") {
        Some("it contains '@{'")
    } else if !repo.test(&["check-ref-format", &format!("refs/heads/{name}")]) {
        Some("git refuses it (see git check-ref-format)")
    } else {
        None
    };
    match problem {
        Some(why) => Err(Error::Usage(format!(
            "--branch {name:?} is not a valid branch name: {why}"
        ))),
        None => Ok(()),
    }
}

/// A private temporary directory, removed when dropped (std only: the binary needs one for
/// private indexes, object stores and exported trees).
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir> {
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let p = base.join(format!(
                "kubectl-gitops-{}-{nanos}-{attempt}",
                std::process::id()
            ));
            if std::fs::create_dir(&p).is_ok() {
                return Ok(TempDir(p));
            }
        }
        Err(Error::Usage(format!(
            "cannot create a temporary directory in {}",
            base.display()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::{is_hex, split_z};

    #[test]
    fn nul_separated_records() {
        assert_eq!(split_z(b"a\0b c\0\0"), ["a", "b c"]);
        assert!(split_z(b"").is_empty());
    }

    #[test]
    fn object_ids() {
        assert!(is_hex(&"a".repeat(40)));
        assert!(is_hex(&"0".repeat(64)));
        assert!(!is_hex(&"A".repeat(40)));
        assert!(!is_hex("abc"));
    }
}
