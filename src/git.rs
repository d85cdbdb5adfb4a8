//! A thin, typed wrapper over the `git` command, for `promote` and `preview`.
//!
//! Why the command and not a library: git is on every machine that has a repository to
//! promote, it is what CI and people already trust with their repositories, and the handful
//! of operations needed (fetch between local repositories, ancestry, worktrees, commits with
//! trailers) are stable plumbing. gix would add a large dependency tree for no behaviour we
//! need. Every call runs with a fixed locale and no pager or prompt, and fails with the
//! command and git's own message.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// A repository (or a worktree of one).
#[derive(Clone, Debug)]
pub struct Repo {
    pub dir: PathBuf,
}

impl Repo {
    /// The repository containing `path` (a file or a folder).
    pub fn containing(path: &Path) -> Result<Repo> {
        let dir = if path.is_dir() {
            path.to_path_buf()
        } else {
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
        };
        let top = Repo { dir }
            .run(&["rev-parse", "--show-toplevel"])
            .map_err(|_| {
                Error::Usage(format!("{} is not inside a git repository", path.display()))
            })?;
        Ok(Repo {
            dir: PathBuf::from(top),
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.dir);
        // A commit needs an identity; machines without one (CI) get a neutral one rather
        // than an error. An identity that is configured wins.
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
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE");
        c
    }

    fn has_identity(&self) -> bool {
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

    /// Runs git and returns its trimmed stdout.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.command(args).output().map_err(|e| {
            Error::Usage(format!(
                "cannot run git: {e} (kubectl-gitops needs git on PATH)"
            ))
        })?;
        if !out.status.success() {
            return Err(Error::Usage(format!(
                "git {} (in {}) failed: {}",
                args.join(" "),
                self.dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    }

    /// Whether git succeeds (for questions such as "is A an ancestor of B?").
    pub fn test(&self, args: &[&str]) -> bool {
        self.command(args)
            .output()
            .is_ok_and(|o| o.status.success())
    }

    pub fn head(&self) -> Result<String> {
        self.run(&["rev-parse", "HEAD"])
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

    /// Paths changed between two commits.
    pub fn changed_paths(&self, from: &str, to: &str) -> Result<Vec<String>> {
        Ok(self
            .run(&["diff", "--name-only", "--no-renames", from, to])?
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect())
    }
}

/// A temporary worktree of a repository, removed when dropped: commits are made there, so
/// the user's own checkout is never switched or touched.
pub struct Worktree {
    pub repo: Repo,
    main: Repo,
    _dir: tempfile_dir::TempDir,
}

impl Worktree {
    /// A detached worktree of `main` at `commit`.
    pub fn new(main: &Repo, commit: &str) -> Result<Worktree> {
        let dir = tempfile_dir::TempDir::new()?;
        let path = dir.path().join("worktree");
        let p = path.display().to_string();
        main.run(&["worktree", "add", "--quiet", "--detach", &p, commit])?;
        Ok(Worktree {
            repo: Repo { dir: path },
            main: main.clone(),
            _dir: dir,
        })
    }
}

impl Drop for Worktree {
    fn drop(&mut self) {
        let p = self.repo.dir.display().to_string();
        let _ = self.main.run(&["worktree", "remove", "--force", &p]);
        let _ = self.main.run(&["worktree", "prune"]);
    }
}

/// A private temporary directory (std only: this is the one place the binary needs one).
mod tempfile_dir {
    use std::path::{Path, PathBuf};

    use crate::error::{Error, Result};

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
}
