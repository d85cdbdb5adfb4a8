//! Running an external build tool (kustomize, kubectl, helm) on pull-request content, bounded.
//!
//! The tool runs with an environment we choose (nothing inherited but what the caller passes),
//! no stdin, a fresh private HOME that is removed afterwards, in its own process group, under
//! a deadline, and with its stdout read only up to a limit: a build that hangs or floods is
//! killed and reported, never waited for or buffered without end. stderr is kept up to
//! [`MAX_STDERR_BYTES`] for the error message (the rest is read and dropped, so a chatty tool
//! never blocks on a full pipe).

use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// stderr kept for messages.
pub const MAX_STDERR_BYTES: usize = 64 << 10;

/// Why a run did not give output.
#[derive(Debug)]
pub enum RunError {
    /// The program could not be started.
    Spawn(std::io::Error),
    /// It ran past the deadline and was killed.
    Timeout(Duration),
    /// It wrote more than the limit on stdout and was killed.
    TooMuchOutput(u64),
    /// It exited unsuccessfully (`None`: killed by a signal).
    Failed { code: Option<i32>, stderr: String },
    /// Its output is not UTF-8.
    NotUtf8,
}

/// A private scratch directory (mode 0700), removed on drop.
pub struct ScratchDir {
    pub path: PathBuf,
}

static SCRATCH: AtomicUsize = AtomicUsize::new(0);

impl ScratchDir {
    /// Creates `<tmp>/kubectl-gitops-<pid>-<n>-<nanos>`; never reuses an existing directory
    /// (several generates run at once in one sidecar).
    pub fn new(tmp: &Path) -> std::io::Result<ScratchDir> {
        let mut last = None;
        for _ in 0..16 {
            let n = SCRATCH.fetch_add(1, Ordering::Relaxed);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = tmp.join(format!(
                "kubectl-gitops-{}-{n}-{nanos:09}",
                std::process::id()
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(ScratchDir { path }),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("cannot create a scratch directory")))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Reads `r` to its end, keeping at most `keep` bytes; sets `over` when there was more.
fn read_bounded(mut r: impl Read, keep: usize, over: &AtomicBool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = keep.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
                if n > room {
                    over.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    out
}

/// Runs `cmd` (its environment, arguments and directory already set) with a deadline and a
/// stdout limit. Returns stdout as text.
pub fn run(mut cmd: Command, timeout: Duration, max_stdout: u64) -> Result<String, RunError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, as argocd-cmp-server does for us: a signal to our group (Argo
        // CD's deadline) does not reach it twice, and it cannot signal us.
        .process_group(0);
    let mut child = cmd.spawn().map_err(RunError::Spawn)?;
    let out_over = Arc::new(AtomicBool::new(false));
    let (tx_out, rx_out) = mpsc::channel();
    let (tx_err, rx_err) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        let over = Arc::clone(&out_over);
        let keep = usize::try_from(max_stdout).unwrap_or(usize::MAX);
        std::thread::spawn(move || {
            let _ = tx_out.send(read_bounded(stdout, keep, &over));
        });
    }
    if let Some(stderr) = child.stderr.take() {
        std::thread::spawn(move || {
            let _ = tx_err.send(read_bounded(
                stderr,
                MAX_STDERR_BYTES,
                &AtomicBool::new(false),
            ));
        });
    }
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(e) => return Err(RunError::Spawn(e)),
        }
        if out_over.load(Ordering::Relaxed) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::TooMuchOutput(max_stdout));
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::Timeout(timeout));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // The pipes close when the program exits, unless something it started still holds them:
    // do not wait for those.
    let grace = Duration::from_secs(2);
    let stdout = rx_out.recv_timeout(grace).unwrap_or_default();
    let stderr = rx_err.recv_timeout(grace).unwrap_or_default();
    if out_over.load(Ordering::Relaxed) {
        return Err(RunError::TooMuchOutput(max_stdout));
    }
    let status = status.ok_or(RunError::Timeout(timeout))?;
    if !status.success() {
        return Err(RunError::Failed {
            code: status.code(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        });
    }
    String::from_utf8(stdout).map_err(|_| RunError::NotUtf8)
}

/// Finds `name` on a `PATH` value like `exec.LookPath`: the first executable regular file.
pub fn look_path(name: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path?
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(script).env_clear();
        c
    }

    #[test]
    fn output_and_failure() {
        let out = run(sh("echo hello"), Duration::from_secs(10), 100);
        assert_eq!(out.ok().as_deref(), Some("hello\n"));
        match run(sh("echo oops >&2; exit 3"), Duration::from_secs(10), 100) {
            Err(RunError::Failed { code, stderr }) => {
                assert_eq!(code, Some(3));
                assert_eq!(stderr, "oops\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deadline_kills() {
        let start = Instant::now();
        let r = run(sh("exec sleep 30"), Duration::from_millis(200), 100);
        assert!(matches!(r, Err(RunError::Timeout(_))), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn flood_is_cut() {
        let r = run(sh("exec yes"), Duration::from_secs(20), 1 << 20);
        assert!(matches!(r, Err(RunError::TooMuchOutput(_))), "{r:?}");
    }

    #[test]
    fn scratch_dirs_are_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let d = ScratchDir::new(&std::env::temp_dir()).unwrap_or_else(|e| panic!("{e}"));
        let p = d.path.clone();
        let mode = std::fs::metadata(&p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o700);
        drop(d);
        assert!(!p.exists());
    }
}
