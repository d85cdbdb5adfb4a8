//! Running `kubectl-gitops` for `tests/check.rs`: the binary with a clean environment and a
//! time limit, findings parsed from its output, the golden files of `tests/check/<case>/`,
//! a small thread pool and the location of the corpus.
//!
//! Included with `#[path = "support/check_harness.rs"]`; only `tests/check.rs` uses it.

use std::env;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_kubectl-gitops");

/// The repository root: every command runs there, as `tests/golden.rs` runs them.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run from the repository root, with every `GITOPS_*` and `ARGOCD_*` variable
/// removed so that a developer's shell or a CI runner cannot add identity.
pub fn bin() -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(root());
    for (key, _) in env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("GITOPS_") || k.starts_with("ARGOCD_") {
            c.env_remove(&key);
        }
    }
    c
}

/// What one run did.
pub struct Run {
    /// `None` when killed by a signal or by the time limit.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

/// Runs the binary with `args`, killing it after `limit`. Stdin is empty.
pub fn run_with_limit<S: AsRef<std::ffi::OsStr>>(args: &[S], limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"));
    let mut out_pipe = child.stdout.take().expect("stdout is piped");
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let out_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out_pipe.read_to_end(&mut b);
        b
    });
    let err_reader = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err_pipe.read_to_end(&mut b);
        b
    });
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if start.elapsed() > limit {
            timed_out = true;
            let _ = child.kill();
            break child.wait().expect("waiting for the killed child");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out_reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    Run {
        code: if timed_out { None } else { status.code() },
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        elapsed: start.elapsed(),
        timed_out,
    }
}

/// Runs the binary with `args` and a generous limit for fixtures.
pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    run_with_limit(args, Duration::from_secs(120))
}

/// One finding line, `path:line:col: CODE message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub path: String,
    pub line: u32,
    pub col: u32,
    pub code: String,
    pub msg: String,
}

impl Finding {
    /// `path:line:col`.
    pub fn at(&self) -> String {
        format!("{}:{}:{}", self.path, self.line, self.col)
    }
}

/// Parses `path:line:col: KG0dd message`, the only shape `check` may print on stdout.
/// The path may itself hold `:`; the location is the last `:<digits>:<digits>: KG0dd `.
pub fn parse_finding(line: &str) -> Option<Finding> {
    let bytes = line.as_bytes();
    let mut search = 0;
    while let Some(off) = line[search..].find(": KG0") {
        let sep = search + off; // index of ':' before " KG0"
        search = sep + 1;
        let code = line.get(sep + 2..sep + 7)?;
        if !(code.len() == 5 && code[3..].bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        if bytes.get(sep + 7) != Some(&b' ') {
            continue;
        }
        let head = &line[..sep];
        let Some((rest, col)) = head.rsplit_once(':') else {
            continue;
        };
        let Some((path, row)) = rest.rsplit_once(':') else {
            continue;
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if path.is_empty() || !digits(row) || !digits(col) {
            continue;
        }
        return Some(Finding {
            path: path.to_string(),
            line: row.parse().ok()?,
            col: col.parse().ok()?,
            code: code.to_string(),
            msg: line[sep + 8..].to_string(),
        });
    }
    None
}

/// Whether `line` is exactly the message of an error located in a file:
/// `path:line:col: message`.
pub fn is_located(line: &str) -> bool {
    let mut parts = line.splitn(4, ':');
    let (Some(path), Some(row), Some(col), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    !path.is_empty() && digits(row) && digits(col) && rest.starts_with(' ')
}

/// The first line where two texts differ, for readable failures.
pub fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  want: {w}\n   got: {g}", i + 1);
        }
    }
    format!(
        "lengths differ: want {} lines, got {} lines",
        want.lines().count(),
        got.lines().count()
    )
}

/// Whether `UPDATE_GOLDEN` asks to rewrite expectations.
pub fn updating() -> bool {
    env::var_os("UPDATE_GOLDEN").is_some()
}

/// Compares `got` with the file at `path` (absent reads as empty). With `UPDATE_GOLDEN` the
/// file is rewritten instead; `keep_empty` says whether an empty expectation is written as an
/// empty file (`expected.out`) or removed (`expected.err`).
pub fn check_or_update(path: &Path, got: &str, keep_empty: bool, failures: &mut Vec<String>) {
    let want = fs::read_to_string(path).unwrap_or_default();
    if want == got && (path.exists() || !keep_empty) {
        return;
    }
    if updating() {
        if got.is_empty() && !keep_empty {
            let _ = fs::remove_file(path);
        } else {
            fs::write(path, got).expect("writing an expectation");
        }
        eprintln!("updated {}", path.display());
    } else {
        failures.push(format!(
            "{}: {}",
            path.strip_prefix(root()).unwrap_or(path).display(),
            first_difference(&want, got)
        ));
    }
}

/// Applies `f` to every item on one thread per core; results come back in input order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            for (i, r) in worker.join().expect("a worker panicked") {
                results[i] = Some(r);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// The corpus root, or `None` after saying on stderr why the test is skipped. Under
/// `KUBECTL_GITOPS_REQUIRE_TOOLS` a missing corpus is a failure, as in `tests/corpus.rs`.
pub fn corpus_root(test: &str) -> Option<PathBuf> {
    let dir = match env::var_os("KUBECTL_GITOPS_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => root().join("tests/corpus"),
    };
    if dir.is_dir() {
        // Canonical, so that paths in messages read `/.../corpus/<repo>/...`.
        return Some(dir.canonicalize().unwrap_or(dir));
    }
    skip(format!(
        "{test}: SKIPPED: no corpus at {} (set KUBECTL_GITOPS_CORPUS to a corpus directory)",
        dir.display()
    ));
    None
}

/// Says why a test cannot run; under `KUBECTL_GITOPS_REQUIRE_TOOLS` (set by `scripts/test`,
/// which CI runs) that is a failure instead.
pub fn skip(why: String) {
    assert!(
        env::var_os("KUBECTL_GITOPS_REQUIRE_TOOLS").is_none(),
        "{why} (KUBECTL_GITOPS_REQUIRE_TOOLS is set, so this is a failure)"
    );
    eprintln!("{why}");
}

/// Every `*.yaml`, `*.yml` and `*.json` below `dir`, hidden folders skipped, in byte order.
pub fn manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let n = e.file_name().to_string_lossy();
            n.ends_with(".yaml") || n.ends_with(".yml") || n.ends_with(".json")
        })
        .map(walkdir::DirEntry::into_path)
        .collect();
    files.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    files
}
