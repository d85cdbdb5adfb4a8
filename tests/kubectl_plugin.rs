//! The kubectl plugin path, for real: the installed `kubectl` finds the built binary on PATH and
//! runs it as `kubectl gitops`.
//!
//! kubectl turns `kubectl gitops ARGS` into an exec of the first `kubectl-gitops` on PATH, so
//! what a developer gets through kubectl must be byte-for-byte what the binary prints (the same
//! render Argo CD produces with `generate`). These tests put the directory of the binary cargo
//! built (`CARGO_BIN_EXE_kubectl-gitops`, already named `kubectl-gitops`) first on PATH and check:
//!
//! - `kubectl gitops version` prints what `kubectl-gitops version` prints;
//! - `kubectl gitops render --help` says `Usage: kubectl gitops render` (kubectl execs the
//!   plugin by its absolute path; the shell that started kubectl set `$_` to kubectl's path);
//! - `kubectl gitops <TAB>`: kubectl runs `kubectl_complete-gitops` (the script
//!   `completion kubectl-plugin` prints) and shows the environments of gitops.yaml for --env;
//! - `kubectl gitops render testdata/my-microservice --env dev`, run from the repository root,
//!   prints exactly `tests/fixtures/testdata-my-microservice/env-dev.out` with nothing on stderr;
//! - an error keeps its exit code, its empty stdout and its stderr through kubectl;
//! - `kubectl plugin list` lists the binary. Cargo's build directory also holds
//!   `kubectl-gitops.d` (dependency info), which kubectl lists as a non-executable plugin and
//!   then exits 1; so the listing is checked twice: with the build directory on PATH (the
//!   binary's line must be there, whatever the exit code), and with PATH holding only a
//!   directory with a `kubectl-gitops` symlink (exit 0, exactly that one plugin).
//!
//! Each check runs with `kubectl` from PATH and, when present, with `kubectl.1.33` next to the
//! resolved `kubectl`. `ARGOCD_*` and `GITOPS_*` variables of the test process are removed, and
//! KUBECONFIG points at a missing file: nothing here needs a cluster. The tests skip, with a
//! printed reason, only when `kubectl` is not on PATH.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::env;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

#[path = "support/kubectl.rs"]
mod kubectl;
use kubectl::kubectls;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-gitops"))
}

/// PATH with `first` in front of the test process's PATH.
fn path_with(first: &Path) -> OsString {
    let rest = env::var_os("PATH").unwrap_or_default();
    env::join_paths(
        [first.to_owned()]
            .into_iter()
            .chain(env::split_paths(&rest)),
    )
    .unwrap()
}

/// `program args` from the repository root with `path` as PATH and a clean identity.
fn run(program: &Path, args: &[&str], path: &OsString, scratch: &TempDir) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(root())
        .env("PATH", path)
        .env("KUBECONFIG", scratch.path().join("no-kubeconfig"));
    for (k, _) in env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("ARGOCD_") || k.starts_with("GITOPS_") {
            cmd.env_remove(&*k);
        }
    }
    cmd.output().unwrap()
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn bin_dir() -> PathBuf {
    bin().parent().unwrap().to_owned()
}

#[test]
fn kubectl_gitops_version() {
    let scratch = tempfile::tempdir().unwrap();
    let path = path_with(&bin_dir());
    let direct = run(&bin(), &["version"], &path, &scratch);
    assert!(direct.status.success(), "{}", show("direct", &direct));
    assert!(
        String::from_utf8_lossy(&direct.stdout).starts_with(&format!(
            "kubectl-gitops {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        show("direct", &direct)
    );
    for kubectl in kubectls("kubectl_gitops_version") {
        let what = format!("{} gitops version", kubectl.display());
        let out = run(&kubectl, &["gitops", "version"], &path, &scratch);
        assert!(out.status.success(), "{}", show(&what, &out));
        assert_eq!(out.stdout, direct.stdout, "{}", show(&what, &out));
        assert!(out.stderr.is_empty(), "{}", show(&what, &out));
    }
}

#[test]
fn usage_lines_say_kubectl_gitops_when_kubectl_runs_it() {
    let scratch = tempfile::tempdir().unwrap();
    let path = path_with(&bin_dir());
    let direct = run(&bin(), &["render", "--help"], &path, &scratch);
    let direct_text = String::from_utf8_lossy(&direct.stdout);
    assert!(
        direct_text.contains("Usage: kubectl-gitops render [OPTIONS] [PATH]"),
        "{}",
        show("direct", &direct)
    );
    for kubectl in kubectls("usage_lines_say_kubectl_gitops_when_kubectl_runs_it") {
        let what = format!("{} gitops render --help", kubectl.display());
        // What a shell does when it starts kubectl: `$_` is the program's path.
        let out = Command::new(&kubectl)
            .args(["gitops", "render", "--help"])
            .env("PATH", &path)
            .env("_", &kubectl)
            .env("KUBECONFIG", scratch.path().join("no-kubeconfig"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", show(&what, &out));
        assert!(
            text.contains("Usage: kubectl gitops render [OPTIONS] [PATH]"),
            "{}",
            show(&what, &out)
        );
        assert!(
            text.contains("\n  kubectl gitops render testdata/my-microservice --env prod\n"),
            "examples name the program as it was run{}",
            show(&what, &out)
        );
        // An error's usage line too.
        let out = Command::new(&kubectl)
            .args(["gitops", "render", "--evn", "dev"])
            .env("PATH", &path)
            .env("_", &kubectl)
            .env("KUBECONFIG", scratch.path().join("no-kubeconfig"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", show(&what, &out));
        assert!(
            text.contains("Usage: kubectl gitops render"),
            "{}",
            show(&what, &out)
        );
        assert!(
            text.contains("a similar argument exists: '--env'"),
            "{}",
            show(&what, &out)
        );
    }
}

#[test]
fn kubectl_completes_the_plugin_through_kubectl_complete_gitops() {
    let scratch = tempfile::tempdir().unwrap();
    // The script exactly as `completion kubectl-plugin` prints it, next to the binary.
    let plugins = scratch.path().join("plugins");
    fs::create_dir(&plugins).unwrap();
    symlink(bin(), plugins.join("kubectl-gitops")).unwrap();
    let script = run(
        &bin(),
        &["completion", "kubectl-plugin"],
        &path_with(&plugins),
        &scratch,
    );
    assert!(script.status.success(), "{}", show("completion", &script));
    let complete = plugins.join("kubectl_complete-gitops");
    fs::write(&complete, &script.stdout).unwrap();
    fs::set_permissions(
        &complete,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = path_with(&plugins);
    for kubectl in kubectls("kubectl_completes_the_plugin_through_kubectl_complete_gitops") {
        for (args, want) in [
            (
                &[
                    "__complete",
                    "gitops",
                    "render",
                    "testdata/my-microservice",
                    "--env",
                    "",
                ][..],
                &["dev", "staging", "prod"][..],
            ),
            (&["__complete", "gitops", "ren"][..], &["render"][..]),
            (
                &["__complete", "gitops", "check", ".", "-o", ""][..],
                &["text", "json", "sarif", "github"][..],
            ),
        ] {
            let what = format!("{} {}", kubectl.display(), args.join(" "));
            let out = run(&kubectl, args, &path, &scratch);
            assert!(out.status.success(), "{}", show(&what, &out));
            let text = String::from_utf8_lossy(&out.stdout);
            let values: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with(':'))
                .map(|l| l.split('\t').next().unwrap())
                .collect();
            assert_eq!(values, want, "{}", show(&what, &out));
            assert!(text.lines().any(|l| l == ":4"), "{}", show(&what, &out));
        }
    }
}

#[test]
fn kubectl_gitops_render_matches_the_golden_render() {
    let scratch = tempfile::tempdir().unwrap();
    let path = path_with(&bin_dir());
    let golden_path = "tests/fixtures/testdata-my-microservice/env-dev.out";
    let golden = fs::read_to_string(root().join(golden_path)).unwrap();
    let args = [
        "gitops",
        "render",
        "testdata/my-microservice",
        "--env",
        "dev",
    ];
    for kubectl in kubectls("kubectl_gitops_render_matches_the_golden_render") {
        let what = format!("{} {}", kubectl.display(), args.join(" "));
        let out = run(&kubectl, &args, &path, &scratch);
        assert!(out.status.success(), "{}", show(&what, &out));
        assert!(
            String::from_utf8_lossy(&out.stdout) == golden,
            "stdout differs from {golden_path}: {}",
            show(&what, &out)
        );
        assert!(out.stderr.is_empty(), "{}", show(&what, &out));
    }
}

#[test]
fn kubectl_gitops_keeps_the_exit_code_and_stderr_of_an_error() {
    let scratch = tempfile::tempdir().unwrap();
    let path = path_with(&bin_dir());
    let args = ["render", "testdata/does-not-exist", "--env", "dev"];
    let direct = run(&bin(), &args, &path, &scratch);
    assert_eq!(direct.status.code(), Some(2), "{}", show("direct", &direct));
    for kubectl in kubectls("kubectl_gitops_keeps_the_exit_code_and_stderr_of_an_error") {
        let what = format!("{} gitops {}", kubectl.display(), args.join(" "));
        let mut through = vec!["gitops"];
        through.extend(args);
        let out = run(&kubectl, &through, &path, &scratch);
        assert_eq!(out.status.code(), Some(2), "{}", show(&what, &out));
        assert!(out.stdout.is_empty(), "{}", show(&what, &out));
        assert_eq!(out.stderr, direct.stderr, "{}", show(&what, &out));
    }
}

#[test]
fn kubectl_plugin_list_finds_kubectl_gitops() {
    let scratch = tempfile::tempdir().unwrap();
    // PATH with the build directory in front, as in the other tests: the binary is listed.
    // (kubectl also flags cargo's kubectl-gitops.d there and may exit 1; not checked.)
    let listed = bin_dir().join("kubectl-gitops");
    let path = path_with(&bin_dir());
    // PATH with nothing but a symlink named kubectl-gitops: a clean listing, exit 0.
    let alone = scratch.path().join("plugins");
    fs::create_dir(&alone).unwrap();
    symlink(bin(), alone.join("kubectl-gitops")).unwrap();
    let alone_path = OsString::from(&alone);
    for kubectl in kubectls("kubectl_plugin_list_finds_kubectl_gitops") {
        let what = format!("{} plugin list", kubectl.display());
        let out = run(&kubectl, &["plugin", "list"], &path, &scratch);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.lines().any(|l| Path::new(l.trim()) == listed),
            "{} is not listed: {}",
            listed.display(),
            show(&what, &out)
        );

        let out = run(&kubectl, &["plugin", "list"], &alone_path, &scratch);
        assert!(out.status.success(), "{}", show(&what, &out));
        let plugins: Vec<&str> = std::str::from_utf8(&out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with('/'))
            .collect();
        assert_eq!(
            plugins,
            [alone.join("kubectl-gitops").to_str().unwrap()],
            "{}",
            show(&what, &out)
        );
    }
}
