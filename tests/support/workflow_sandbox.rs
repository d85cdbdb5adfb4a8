//! A sandbox for `tests/workflows.rs`: real git repositories in a temporary directory, the
//! real binary, and an environment that owes nothing to the developer's machine.
//!
//! Every command (git and kubectl-gitops) runs with a cleared environment: `PATH`, `HOME`
//! pointed at an empty directory of the sandbox, `TMPDIR` inside the sandbox (so the
//! temporary worktrees `promote` makes can be checked for leftovers), `LC_ALL=C`,
//! `GIT_CONFIG_NOSYSTEM=1` (no /etc/gitconfig) and `GIT_CEILING_DIRECTORIES` at the sandbox
//! (a directory of the sandbox that is not a repository is never taken for one above it).
//! The test's own git commands carry an identity with `-c user.name/user.email`; the binary
//! gets one through `GIT_AUTHOR_*`/`GIT_COMMITTER_*` ([`Identity::Env`]) or none at all
//! ([`Identity::None`]).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The identity the test's own commits carry.
pub const TEST_NAME: &str = "Workflow Test";
pub const TEST_EMAIL: &str = "workflow-test@example.com";
/// The identity the binary gets through the environment with [`Identity::Env`].
pub const BOT_NAME: &str = "Release Bot";
pub const BOT_EMAIL: &str = "release-bot@example.com";

/// How the binary's git finds an identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity {
    /// `GIT_AUTHOR_*` and `GIT_COMMITTER_*` name the release bot.
    Env,
    /// Nothing: no `GIT_*` identity, no `EMAIL`, `HOME` empty, no system config.
    None,
}

/// One run of the binary.
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n--- exit code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    pub fn first_stderr_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }

    /// Exit 0; the report is returned for further checks.
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success{self}");
        self
    }

    /// Exit 2, nothing on stdout, and a first stderr line that says `mentions`.
    pub fn refused(&self, mentions: &[&str]) {
        assert_eq!(self.code, Some(2), "expected exit 2{self}");
        assert_eq!(self.stdout, "", "a refusal prints nothing on stdout{self}");
        for m in mentions {
            assert!(
                self.first_stderr_line().contains(m),
                "the first stderr line should mention {m:?}{self}"
            );
        }
    }

    /// The value of the report line `<key>: <value>` (e.g. `branch: promote/...`).
    pub fn report_value(&self, key: &str) -> String {
        let prefix = format!("{key}: ");
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no `{key}:` line in the report{self}"))
            .to_string()
    }
}

/// A temporary directory holding repositories, an empty `HOME` and the binary's `TMPDIR`.
pub struct Sandbox {
    root: TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("kg-workflows-")
            .tempdir()
            .unwrap();
        fs::create_dir(root.path().join(".home")).unwrap();
        fs::create_dir(root.path().join(".tmp")).unwrap();
        Sandbox { root }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub fn home(&self) -> PathBuf {
        self.path(".home")
    }

    /// The binary's temporary directory: empty again once a command is done.
    pub fn tmp(&self) -> PathBuf {
        self.path(".tmp")
    }

    fn base_command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("TMPDIR", self.tmp())
            .env("LC_ALL", "C")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CEILING_DIRECTORIES", self.root.path())
            .current_dir(self.root.path());
        c
    }

    /// Runs kubectl-gitops in the sandbox (relative paths are the sandbox's).
    pub fn kg_as(&self, identity: Identity, args: &[&str]) -> Out {
        let mut c = self.base_command(Path::new(env!("CARGO_BIN_EXE_kubectl-gitops")));
        if identity == Identity::Env {
            c.env("GIT_AUTHOR_NAME", BOT_NAME)
                .env("GIT_AUTHOR_EMAIL", BOT_EMAIL)
                .env("GIT_COMMITTER_NAME", BOT_NAME)
                .env("GIT_COMMITTER_EMAIL", BOT_EMAIL);
        }
        let out = c.args(args).output().unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    /// Runs kubectl-gitops with the release bot's identity in the environment.
    pub fn kg(&self, args: &[&str]) -> Out {
        self.kg_as(Identity::Env, args)
    }

    /// Starts one kubectl-gitops per argument list at once (the release bot's identity),
    /// then waits for all of them: concurrent writers.
    pub fn kg_concurrently(&self, runs: &[Vec<String>]) -> Vec<Out> {
        let children: Vec<_> = runs
            .iter()
            .map(|args| {
                self.base_command(Path::new(env!("CARGO_BIN_EXE_kubectl-gitops")))
                    .env("GIT_AUTHOR_NAME", BOT_NAME)
                    .env("GIT_AUTHOR_EMAIL", BOT_EMAIL)
                    .env("GIT_COMMITTER_NAME", BOT_NAME)
                    .env("GIT_COMMITTER_EMAIL", BOT_EMAIL)
                    .args(args)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                Out {
                    code: out.status.code(),
                    stdout: String::from_utf8(out.stdout).unwrap(),
                    stderr: String::from_utf8(out.stderr).unwrap(),
                }
            })
            .collect()
    }

    fn git_command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut c = self.base_command(Path::new("git"));
        c.arg("-C")
            .arg(dir)
            .args(["-c", &format!("user.name={TEST_NAME}")])
            .args(["-c", &format!("user.email={TEST_EMAIL}")])
            .args(args);
        c
    }

    /// Runs git in `dir` and returns its trimmed stdout; fails the test when git fails.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_command(dir, args).output().unwrap();
        assert!(
            out.status.success(),
            "git {} (in {}) failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// git's stdout whether or not it succeeds (`git grep` exits 1 when nothing matches).
    pub fn git_out(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.git_command(dir, args).output().unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// Whether git succeeds (`merge-base --is-ancestor`, `rev-parse --verify`).
    pub fn git_ok(&self, dir: &Path, args: &[&str]) -> bool {
        self.git_command(dir, args)
            .output()
            .unwrap()
            .status
            .success()
    }

    /// A new repository `name` on branch `main` holding a copy of `files` (a directory),
    /// committed with `message`. Returns its path.
    pub fn init_repo(&self, name: &str, files: &Path, message: &str) -> PathBuf {
        let dir = self.path(name);
        copy_dir(files, &dir);
        self.git(&dir, &["init", "-q", "-b", "main"]);
        self.commit_all(&dir, message);
        dir
    }

    /// A clone of `from` named `name`, its `origin` pointed at `origin_url` as a real
    /// environment repository's would be.
    pub fn clone_repo(&self, from: &Path, name: &str, origin_url: &str) -> PathBuf {
        let dir = self.path(name);
        self.git(
            self.root.path(),
            &["clone", "-q", &from.display().to_string(), name],
        );
        self.git(&dir, &["remote", "set-url", "origin", origin_url]);
        dir
    }

    /// A bare repository `name` whose `main` holds one commit with `files` (name, text),
    /// the remote of the clones [`Sandbox::clone_shallow`] makes.
    pub fn bare_repo(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let bare = self.path(name);
        self.git(
            self.root.path(),
            &["init", "-q", "--bare", "-b", "main", name],
        );
        let seed = self.path(&format!("{name}.seed"));
        fs::create_dir(&seed).unwrap();
        for (f, text) in files {
            fs::write(seed.join(f), text).unwrap();
        }
        self.git(&seed, &["init", "-q", "-b", "main"]);
        self.commit_all(&seed, "seed");
        self.git(
            &seed,
            &["push", "-q", &bare.display().to_string(), "main:main"],
        );
        fs::remove_dir_all(&seed).unwrap();
        bare
    }

    /// A shallow clone (depth 1, as CI checks out) of a bare repository, over file://.
    pub fn clone_shallow(&self, bare: &Path, name: &str) -> PathBuf {
        self.git(
            self.root.path(),
            &[
                "clone",
                "-q",
                "--depth",
                "1",
                &format!("file://{}", bare.display()),
                name,
            ],
        );
        self.path(name)
    }

    /// Every object id and ref of a repository: what a command that only reads must leave
    /// exactly as it was.
    pub fn fingerprint(&self, repo: &Path) -> String {
        let objects = self.git(
            repo,
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check=%(objectname)",
            ],
        );
        let refs = self.git(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]);
        format!("{objects}\n{refs}")
    }

    /// Whether git, as the binary runs it (without the test's `-c user.*`), finds a
    /// `user.email` for `repo` in any configuration file.
    pub fn configured_email(&self, repo: &Path) -> Option<String> {
        let out = self
            .base_command(Path::new("git"))
            .arg("-C")
            .arg(repo)
            .args(["config", "user.email"])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8(out.stdout).unwrap().trim().to_string())
    }

    /// Stages everything and commits; returns the new HEAD.
    pub fn commit_all(&self, repo: &Path, message: &str) -> String {
        self.git(repo, &["add", "-A"]);
        self.git(repo, &["commit", "-q", "-m", message]);
        self.head(repo)
    }

    pub fn head(&self, repo: &Path) -> String {
        self.git(repo, &["rev-parse", "HEAD"])
    }

    /// Local branches, sorted.
    pub fn branches(&self, repo: &Path) -> Vec<String> {
        self.git(
            repo,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        )
        .lines()
        .map(str::to_string)
        .collect()
    }

    /// `git status --porcelain` (untracked files included).
    pub fn status(&self, repo: &Path) -> String {
        self.git(repo, &["status", "--porcelain", "--untracked-files=all"])
    }

    /// The number of worktrees of `repo` (1: only its own checkout).
    pub fn worktrees(&self, repo: &Path) -> usize {
        self.git(repo, &["worktree", "list", "--porcelain"])
            .lines()
            .filter(|l| l.starts_with("worktree "))
            .count()
    }

    /// `git ls-tree -r` of `rev` under `path` (`.` for everything): mode, type, blob id and
    /// path relative to `path`, one per line. Blob ids are content hashes, so listings from
    /// two repositories compare byte for byte.
    pub fn tree_listing(&self, repo: &Path, rev: &str, path: &str) -> String {
        let spec = if path == "." {
            format!("{rev}^{{tree}}")
        } else {
            format!("{rev}:{path}")
        };
        let listing = self.git(repo, &["ls-tree", "-r", &spec]);
        assert!(!listing.is_empty(), "{spec} is empty in {}", repo.display());
        listing
    }

    /// Files changed between two revisions (`A\tpath`, `D\tpath`, `M\tpath`), sorted.
    pub fn changes(&self, repo: &Path, from: &str, to: &str) -> Vec<String> {
        let mut changes: Vec<String> = self
            .git(
                repo,
                &["diff", "--name-status", "--no-renames", from, to, "--"],
            )
            .lines()
            .map(str::to_string)
            .collect();
        changes.sort();
        changes
    }
}

/// Copies a directory tree (regular files and folders).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}
