//! Shell completion, in the real shells: the scripts `kubectl-gitops completion bash|zsh|fish`
//! prints are loaded into bash, zsh and fish, which complete subcommands, flags, `-o` values
//! and gitops.yaml's environment names for `--env` by calling the binary's `__complete`.
//!
//! bash runs the completion function with `COMP_WORDS`/`COMP_CWORD` as readline sets them;
//! fish answers `complete -C`; zsh runs the function with `words`/`CURRENT` set and
//! `_describe`/`_files` replaced by stubs that print what they were given (the completion
//! system itself needs a terminal). A shell that is not installed skips its test, with a
//! message, except under `KUBECTL_GITOPS_REQUIRE_TOOLS=1` (`scripts/test` installs them).

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_kubectl-gitops")
}

fn shell(name: &str, test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("KUBECTL_GITOPS_REQUIRE_TOOLS").is_none(),
            "{test}: {name} is not installed (KUBECTL_GITOPS_REQUIRE_TOOLS is set, so this is a failure)"
        );
        eprintln!("{test}: SKIPPED: {name} is not installed");
    }
    found
}

fn script(shell: &str) -> String {
    let out = Command::new(bin())
        .args(["completion", shell])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// A directory holding `kubectl-gitops` (a symlink to the binary under test), for PATH.
fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(bin(), dir.path().join("kubectl-gitops")).unwrap();
    dir
}

fn path_with(dir: &Path) -> std::ffi::OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_path_buf()).chain(std::env::split_paths(&rest)))
        .unwrap()
}

/// Lines of a shell's output, sorted (shells order candidates their own way).
fn sorted_lines(bytes: &[u8]) -> Vec<String> {
    let mut v: Vec<String> = String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// (words typed after the program, expected candidates)
const CASES: &[(&[&str], &[&str])] = &[
    (&["ren"], &["render"]),
    (
        &["render", "testdata/my-microservice", "--env", ""],
        &["dev", "prod", "staging"],
    ),
    (
        &["render", "testdata/my-microservice", "--env", "st"],
        &["staging"],
    ),
    (&["check", ".", "-o", "s"], &["sarif"]),
    (&["render", ".", "--out-"], &["--out-dir"]),
];

#[test]
fn bash_completes_subcommands_flags_and_environments() {
    let Some(bash) = shell("bash", "bash_completes_subcommands_flags_and_environments") else {
        return;
    };
    let dir = bin_dir();
    for (words, want) in CASES {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let program = format!(
            "{}\nCOMP_WORDS=(kubectl-gitops {})\nCOMP_CWORD={}\n_kubectl_gitops\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            script("bash"),
            quoted.join(" "),
            words.len()
        );
        let out = Command::new(&bash)
            .args(["--norc", "-c", &program])
            .current_dir(root())
            .env("PATH", path_with(dir.path()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(sorted_lines(&out.stdout), *want, "bash: {words:?}");
    }
}

#[test]
fn fish_completes_subcommands_flags_and_environments() {
    let Some(fish) = shell("fish", "fish_completes_subcommands_flags_and_environments") else {
        return;
    };
    let dir = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("kubectl-gitops.fish");
    std::fs::write(&file, script("fish")).unwrap();
    for (words, want) in CASES {
        let line = format!("kubectl-gitops {}", words.join(" "));
        let program = format!(
            "source {}; complete -C '{}' | string replace -r '\\t.*' ''; true",
            file.display(),
            line
        );
        let out = Command::new(&fish)
            .args(["--no-config", "-c", &program])
            .current_dir(root())
            .env("PATH", path_with(dir.path()))
            .env("HOME", tmp.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(sorted_lines(&out.stdout), *want, "fish: {line:?}");
    }
}

#[test]
fn zsh_completes_subcommands_flags_and_environments() {
    let Some(zsh) = shell("zsh", "zsh_completes_subcommands_flags_and_environments") else {
        return;
    };
    let dir = bin_dir();
    for (words, want) in CASES {
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        // Stubs for the completion system's functions: print the candidates' values.
        let program = format!(
            "compdef() {{ :; }}\n\
             _describe() {{ local -a c; c=(\"${{(@P)2}}\"); for x in $c; do print -r -- \"${{x%%:*}}\"; done; }}\n\
             _files() {{ print -r -- FILES; }}\n\
             {}\n\
             words=(kubectl-gitops {})\nCURRENT={}\n_kubectl-gitops\n",
            script("zsh"),
            quoted.join(" "),
            words.len() + 1
        );
        let out = Command::new(&zsh)
            .args(["-f", "-c", &program])
            .current_dir(root())
            .env("PATH", path_with(dir.path()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(sorted_lines(&out.stdout), *want, "zsh: {words:?}");
    }
}
