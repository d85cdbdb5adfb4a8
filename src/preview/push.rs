//! `--push` for `preview up/down/prune`: publish a change to some preview directories of the
//! infra-pr checkout onto its upstream branch, surviving concurrent writers.
//!
//! Several pull requests update previews at the same time, each from its own CI job and
//! checkout; a plain `git push` of the second one is rejected. Each preview command changes
//! only its own directories, so its commit can always be replayed onto whatever the others
//! pushed. The loop, at most [`MAX_ATTEMPTS`] times:
//!
//! 1. fetch the upstream branch (`R`);
//! 2. if `R` already has the directories as wanted, there is nothing to push;
//! 3. build the commit on `R`: `R`'s tree with only those directories replaced (in a private
//!    index: the checkout is not touched), with the local commit's message;
//! 4. push it without force; a rejection because the branch moved (or a ref lock held by a
//!    concurrent push) starts the next round after a short pause, any other failure stops.
//!
//! This is a rebase of one commit that cannot conflict, done in plumbing: it never needs a
//! clean worktree, never pushes other local commits, and never writes conflict markers.
//! Afterwards the local branch is moved to the pushed commit when that loses nothing
//! (the checkout's own uncommitted changes are carried over, as `git checkout` does);
//! otherwise it is left alone with a warning.

use std::path::Path;
use std::time::Duration;

use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::git::{Entry, Output, Repo};

/// How many times the fetch-rebase-push round runs before giving up: every round at least
/// one of the concurrent writers succeeds, so this bounds the writers a job outlasts (12
/// writers started at once on a loaded 2-core machine needed at most 10 rounds).
pub const MAX_ATTEMPTS: u32 = 20;

/// The pause before round `attempt + 1`: growing with the round (up to 2 s) and spread
/// over that window so that writers that collided do not collide again in lockstep. Only
/// timing uses the clock; nothing written depends on it.
fn pause(attempt: u32) -> Duration {
    let window = (200 * u64::from(attempt)).min(2000);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let spread = (nanos ^ u64::from(std::process::id()).wrapping_mul(0x9E37_79B9)) % window;
    Duration::from_millis(window / 2 + spread / 2)
}

/// Where the checkout pushes.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub remote: String,
    /// The branch on the remote, `refs/heads/...`.
    pub merge: String,
    /// The checkout's branch.
    pub local: String,
}

impl Upstream {
    /// The checkout's upstream: `branch.<name>.remote` and `.merge`, else `origin` and the
    /// branch of the same name.
    pub fn of(repo: &Repo) -> Result<Upstream> {
        let local = repo.branch().ok_or_else(|| {
            Error::Usage(format!(
                "{}: HEAD is not on a branch; --push pushes the checkout's branch",
                repo.dir.display()
            ))
        })?;
        let config = |key: String| {
            repo.run(&["config", "--get", &key])
                .ok()
                .filter(|v| !v.is_empty())
        };
        let remote =
            config(format!("branch.{local}.remote")).unwrap_or_else(|| "origin".to_string());
        let merge = config(format!("branch.{local}.merge"))
            .unwrap_or_else(|| format!("refs/heads/{local}"));
        if remote == "." || !repo.test(&["remote", "get-url", &remote]) {
            return Err(Error::Usage(format!(
                "{}: branch {local} has no remote to push to (remote {remote:?}); clone the infra-pr repository or set its upstream",
                repo.dir.display()
            )));
        }
        Ok(Upstream {
            remote,
            merge,
            local,
        })
    }

    fn tracking(&self) -> String {
        let short = self
            .merge
            .strip_prefix("refs/heads/")
            .unwrap_or(&self.merge);
        format!("refs/remotes/{}/{short}", self.remote)
    }
}

/// What publishing did.
#[derive(Debug, PartialEq, Eq)]
pub enum Published {
    /// The upstream already had the directories as wanted.
    AlreadyThere { upstream: Option<String> },
    /// The commit pushed, the upstream commit it was built on (`None`: the branch was
    /// created) and how many rounds it took.
    Pushed {
        commit: String,
        onto: Option<String>,
        attempts: u32,
    },
}

/// What a push attempt's failure means.
#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The branch moved (or was being moved) under us: fetch and try again.
    Retry,
    /// Anything else (authentication, a hook, the network): stop.
    Fatal,
}

/// Classifies a failed `git push --porcelain`.
pub fn classify(out: &Output) -> Rejection {
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), out.stderr);
    let moved = text.contains("[rejected]")
        || text.contains("non-fast-forward")
        || text.contains("fetch first")
        || text.contains("stale info")
        || text.contains("incorrect old value")
        || text.contains("cannot lock ref")
        || text.contains("failed to lock")
        || text.contains("failed to update ref");
    if moved {
        Rejection::Retry
    } else {
        Rejection::Fatal
    }
}

/// A failed push's reason on one line: the ref's status, the remote's messages, git's own.
fn why(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut parts: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with('!'))
        .filter_map(|l| l.rsplit('\t').next())
        .map(|s| s.trim().to_string())
        .collect();
    for l in out.stderr.lines() {
        let l = l.trim();
        if let Some(m) = l.strip_prefix("remote:") {
            if !m.trim().is_empty() {
                parts.push(format!("remote: {}", m.trim()));
            }
        } else if l.starts_with("fatal:")
            || (l.starts_with("error:") && !l.contains("failed to push some refs"))
        {
            parts.push(l.to_string());
        }
    }
    if parts.is_empty() {
        parts.push(
            out.stderr
                .lines()
                .next()
                .unwrap_or("no reason given")
                .to_string(),
        );
    }
    parts.join("; ")
}

/// Runs `round` until it is done, at most `max` times; `pause(n)` runs between rounds.
/// `round` returns `Ok(Some(v))` when done, `Ok(None)` to go again.
pub fn bounded<T>(
    max: u32,
    mut round: impl FnMut(u32) -> Result<Option<T>>,
    mut pause: impl FnMut(u32),
) -> Result<Option<T>> {
    for attempt in 1..=max {
        if let Some(v) = round(attempt)? {
            return Ok(Some(v));
        }
        if attempt < max {
            pause(attempt);
        }
    }
    Ok(None)
}

/// Publishes `changes` (directory -> wanted entry, `None`: absent) onto the upstream
/// branch with `message`. `before` is the local HEAD before the command's own commit, to
/// decide whether the local branch can follow the pushed commit.
pub fn publish(
    repo: &Repo,
    scratch: &Path,
    changes: &[(String, Option<Entry>)],
    message: &str,
    before: Option<&str>,
    warnings: &mut Vec<Warning>,
) -> Result<Published> {
    let up = Upstream::of(repo)?;
    let tracking = up.tracking();
    let mut last_error = String::new();
    let mut pushed_onto = None;
    let result = bounded(
        MAX_ATTEMPTS,
        |attempt| {
            let fetch = repo.output(&[
                "fetch",
                "--quiet",
                "--no-tags",
                &up.remote,
                &format!("+{}:{tracking}", up.merge),
            ])?;
            let upstream = if fetch.success() {
                Some(repo.run(&["rev-parse", "--verify", &format!("{tracking}^{{commit}}")])?)
            } else if fetch.stderr.contains("couldn't find remote ref") {
                // A new, empty infra-pr repository: the first push creates the branch.
                None
            } else {
                return Err(Error::Usage(format!(
                    "git fetch {} {} (in {}) failed: {}",
                    up.remote,
                    up.merge,
                    repo.dir.display(),
                    fetch.stderr
                )));
            };
            let mut tree = match &upstream {
                Some(u) => repo.run(&["rev-parse", &format!("{u}^{{tree}}")])?,
                None => repo.empty_tree()?,
            };
            let start = tree.clone();
            for (dir, wanted) in changes {
                tree = repo.tree_with(scratch, &tree, dir, wanted.as_ref())?;
            }
            if tree == start {
                return Ok(Some(Published::AlreadyThere {
                    upstream: upstream.clone(),
                }));
            }
            let mut args = vec!["commit-tree", tree.as_str()];
            if let Some(u) = &upstream {
                args.extend(["-p", u.as_str()]);
            }
            args.extend(["-m", message]);
            let commit = repo.run(&args)?;
            let out = repo.output(&[
                "push",
                "--porcelain",
                "--quiet",
                &up.remote,
                &format!("{commit}:{}", up.merge),
            ])?;
            if out.success() {
                pushed_onto.clone_from(&upstream);
                return Ok(Some(Published::Pushed {
                    commit,
                    onto: upstream,
                    attempts: attempt,
                }));
            }
            last_error = why(&out);
            match classify(&out) {
                Rejection::Retry => Ok(None),
                Rejection::Fatal => Err(Error::Usage(format!(
                    "git push {} {} (in {}) was refused: {last_error}",
                    up.remote,
                    up.merge,
                    repo.dir.display()
                ))),
            }
        },
        |attempt| std::thread::sleep(pause(attempt)),
    )?;
    let Some(published) = result else {
        return Err(Error::Usage(format!(
            "could not push to {} {} in {MAX_ATTEMPTS} attempts: it kept moving under concurrent pushes (last: {last_error}); run again",
            up.remote, up.merge
        )));
    };
    if let Published::Pushed { commit, .. } = &published {
        follow(repo, &up, commit, before, pushed_onto.as_deref(), warnings);
    }
    Ok(published)
}

/// Moves the local branch to the pushed commit when nothing local is lost: the branch had
/// no commits besides the command's own that the upstream lacks.
fn follow(
    repo: &Repo,
    up: &Upstream,
    commit: &str,
    before: Option<&str>,
    upstream: Option<&str>,
    warnings: &mut Vec<Warning>,
) {
    let safe = match (before, upstream) {
        (Some(b), Some(u)) => b == u || repo.is_ancestor(b, u),
        (None, _) => true,
        (Some(_), None) => false,
    };
    let moved = safe && repo.test(&["checkout", "--quiet", "--no-guess", "-B", &up.local, commit]);
    if !moved {
        warnings.push(Warning::general(format!(
            "pushed {commit} to {} {}; the local branch {} was left where it was (it has commits or changes the push would overwrite)",
            up.remote, up.merge, up.local
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(stdout: &str, stderr: &str) -> Output {
        Output {
            code: Some(1),
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.to_string(),
        }
    }

    #[test]
    fn rejections_that_a_fetch_fixes_are_retried() {
        let retry = [
            out(
                "To /x\n!\tabc:refs/heads/main\t[rejected] (fetch first)\nDone",
                "error: failed to push some refs",
            ),
            out("!\tabc:refs/heads/main\t[rejected] (non-fast-forward)", ""),
            out(
                "!\tabc:refs/heads/main\t[remote rejected] (cannot lock ref 'refs/heads/main': is at x but expected y)",
                "",
            ),
            out(
                "!\tabc:refs/heads/main\t[remote rejected] (failed to update ref)",
                "",
            ),
        ];
        for o in &retry {
            assert_eq!(classify(o), Rejection::Retry, "{o:?}");
        }
        let fatal = [
            out(
                "!\tabc:refs/heads/main\t[remote rejected] (pre-receive hook declined)",
                "",
            ),
            out("", "fatal: Authentication failed for 'https://x/'"),
            out(
                "",
                "fatal: unable to access 'https://x/': Could not resolve host",
            ),
        ];
        for o in &fatal {
            assert_eq!(classify(o), Rejection::Fatal, "{o:?}");
        }
    }

    #[test]
    fn pauses_grow_and_stay_bounded() {
        for attempt in 1..=MAX_ATTEMPTS {
            let p = pause(attempt).as_millis();
            let window = (200 * u128::from(attempt)).min(2000);
            assert!(p >= window / 2 && p < window, "{attempt}: {p}");
        }
    }

    #[test]
    fn the_loop_is_bounded() {
        let mut rounds = 0;
        let mut pauses = Vec::new();
        let r: Option<()> = bounded(
            4,
            |_| {
                rounds += 1;
                Ok(None)
            },
            |n| pauses.push(n),
        )
        .expect("no error");
        assert_eq!(r, None);
        assert_eq!(rounds, 4);
        assert_eq!(pauses, [1, 2, 3], "no pause after the last round");

        let r = bounded(10, |n| Ok((n == 3).then_some(n)), |_| {}).expect("no error");
        assert_eq!(r, Some(3));

        let r: Result<Option<()>> = bounded(
            10,
            |_| Err(Error::Usage("fatal".into())),
            |_| panic!("no pause"),
        );
        assert!(r.is_err(), "a fatal failure stops at once");
    }
}
