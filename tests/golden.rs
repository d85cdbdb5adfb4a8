//! Golden tests: the real binary against committed expected output.
//!
//! Every `tests/fixtures/<case>/<variant>.args` holds one command line (after
//! `kubectl-gitops`), run from the repository root. Its expected stdout is
//! `<variant>.out` and its expected stderr `<variant>.err` (absent means empty); the exit code
//! must be 0. Each successful render with an identity is also rendered again from its own
//! output (with the case's gitops.yaml beside it) and must not change: renders are
//! idempotent.
//!
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the expected files; review the diff
//! before committing it.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubectl-gitops"));
    c.current_dir(root());
    for (k, _) in std::env::vars() {
        if k.starts_with("ARGOCD_") || k.starts_with("GITOPS_") {
            c.env_remove(k);
        }
    }
    c
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[String]) -> Run {
    let out = bin().args(args).output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The first line where two texts differ, for readable failures.
fn first_difference(want: &str, got: &str) -> String {
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

fn variants() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut cases: Vec<_> = fs::read_dir(root().join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    for case in cases {
        let mut args: Vec<_> = fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "args"))
            .collect();
        args.sort();
        out.extend(args);
    }
    out
}

fn read_args(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn check_or_update(path: &Path, got: &str, failures: &mut Vec<String>) {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let want = fs::read_to_string(path).unwrap_or_default();
    if want == got {
        return;
    }
    if update {
        if got.is_empty() {
            let _ = fs::remove_file(path);
        } else {
            fs::write(path, got).unwrap();
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

#[test]
fn golden() {
    let mut failures = Vec::new();
    let all = variants();
    assert!(!all.is_empty(), "no golden cases found");
    for args_file in &all {
        let args = read_args(args_file);
        let r = run(&args);
        if r.code != Some(0) {
            failures.push(format!(
                "{}: exit {:?}\n{}",
                args_file.display(),
                r.code,
                r.stderr
            ));
            continue;
        }
        check_or_update(&args_file.with_extension("out"), &r.stdout, &mut failures);
        check_or_update(&args_file.with_extension("err"), &r.stderr, &mut failures);
        if let Some(f) = idempotence(&args, &r.stdout) {
            failures.push(format!("{}: {f}", args_file.display()));
        }
    }
    eprintln!("{} golden variants", all.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Renders `output` again with the same identity (next to the input's gitops.yaml) and
/// returns a description of the change, if anything changed.
fn idempotence(args: &[String], output: &str) -> Option<String> {
    let identity = ["--env", "--pr", "--namespace"];
    if !args.iter().any(|a| identity.contains(&a.as_str())) || output.is_empty() {
        return None;
    }
    if args.iter().any(|a| a == "-o" || a.starts_with("--out")) {
        return None;
    }
    // The input path is the first argument after `render` that is not a flag or a flag value.
    let mut input = None;
    let mut i = 1;
    while i < args.len() {
        if args[i].starts_with("--") {
            i += 2;
            continue;
        }
        input = Some(root().join(&args[i]));
        break;
    }
    let input = input?;
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("app");
    fs::create_dir_all(&work).unwrap();
    // The nearest gitops.yaml from the input upward, as the render finds it.
    let start = if input.is_dir() {
        input.clone()
    } else {
        input.parent().unwrap().to_path_buf()
    };
    let gitops = start
        .ancestors()
        .take_while(|d| d.starts_with(root()) && *d != root())
        .map(|d| d.join("gitops.yaml"))
        .find(|g| g.exists())
        .unwrap_or_else(|| start.join("gitops.yaml"));
    if gitops.exists() {
        fs::copy(&gitops, work.join("gitops.yaml")).unwrap();
    }
    fs::write(work.join("rendered.yaml"), output).unwrap();
    let mut again: Vec<String> = args.to_vec();
    again[i] = work.display().to_string();
    if !again.iter().any(|a| a == "--app") {
        // The directory's name would change the default app name.
        let app_from_dir = !gitops.exists();
        if app_from_dir {
            let name = input.file_name()?.to_string_lossy().into_owned();
            again.push("--app".into());
            again.push(name);
        }
    }
    let r = run(&again);
    if r.code != Some(0) {
        return Some(format!("re-render failed: {}", r.stderr));
    }
    (r.stdout != output).then(|| {
        format!(
            "re-render changed the output: {}",
            first_difference(output, &r.stdout)
        )
    })
}
