//! The fuzz targets' properties (`fuzz/src/checks.rs`) on the stable toolchain: every seed of
//! `fuzz/seeds/` and every input that once failed (`fuzz/regressions/<target>/`) runs
//! through the check of its target, so `scripts/test` keeps every fuzzing finding fixed
//! without the nightly toolchain.
//!
//! Regression inputs whose cause is in the YAML layer (`src/yaml`) live in
//! `fuzz/regressions/<target>/yaml-*`. While such a bug is open, the checks skip inputs of its
//! shape (`checks::KNOWN_ISSUES`, empty today); [`yaml_layer_findings`] runs the YAML layer's
//! findings without the filter.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "../fuzz/src/checks.rs"]
#[allow(dead_code)]
mod checks;

use std::fs;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Every file of `dirs` (under fuzz/), sorted; missing folders hold nothing.
fn inputs(dirs: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in dirs {
        let Ok(entries) = fs::read_dir(fuzz_dir().join(d)) else {
            continue;
        };
        out.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()));
    }
    out.sort();
    out
}

/// Runs `check` on every input, reporting all failures at once.
fn run(dirs: &[&str], check: fn(&str)) -> usize {
    let files = inputs(dirs);
    let mut failures = Vec::new();
    for f in &files {
        let bytes = fs::read(f).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let text = text.to_string();
        if let Err(e) = std::panic::catch_unwind(move || check(&text)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {msg}", f.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    files.len()
}

#[test]
fn roundtrip() {
    assert!(
        run(
            &["seeds/manifests", "regressions/roundtrip"],
            checks::roundtrip
        ) > 10
    );
}

#[test]
fn render_preview() {
    let dirs = [
        "seeds/manifests",
        "seeds/with_gitops",
        "regressions/render_preview",
    ];
    assert!(run(&dirs, checks::render_preview) > 10);
}

#[test]
fn one_reading() {
    let dirs = [
        "seeds/manifests",
        "seeds/with_gitops",
        "regressions/one_reading",
    ];
    assert!(run(&dirs, checks::one_reading) > 10);
}

#[test]
fn gitops_yaml() {
    assert!(
        run(
            &["seeds/gitops_yaml", "regressions/gitops_yaml"],
            checks::gitops_yaml
        ) > 5
    );
}

#[test]
fn parameters() {
    assert!(
        run(
            &["seeds/parameters", "regressions/parameters"],
            checks::parameters
        ) > 5
    );
}

/// The independent reader agrees with kubectl-gitops on inputs whose reading is known.
#[test]
fn the_independent_reader_reads_like_kubernetes() {
    use checks::k8s::{ReadError, Seen, read_stream};
    let seen = |k: &str, n: &str, ns: Option<&str>| Seen {
        api_version: Some("v1".into()),
        kind: Some(k.into()),
        name: Some(n.into()),
        namespace: ns.map(str::to_string),
    };
    let cases: &[(&str, Vec<Seen>)] = &[
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b, namespace: x}\n",
            vec![seen("ConfigMap", "a", None), seen("Secret", "b", Some("x"))],
        ),
        // go-yaml v2: a merge applies where it stands; a later merge overrides.
        (
            "apiVersion: v1\nkind: ConfigMap\n<<: {kind: Secret}\nmetadata: {name: a}\n",
            vec![seen("Secret", "a", None)],
        ),
        (
            "apiVersion: v1\n<<: {kind: Secret}\nkind: ConfigMap\nmetadata: {name: a}\n",
            vec![seen("ConfigMap", "a", None)],
        ),
        // Earlier sources of a merge list win.
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, <<: [{namespace: one}, {namespace: two}]}\n",
            vec![seen("ConfigMap", "a", Some("one"))],
        ),
        // A quoted "<<" is a plain key; a tagged one is a merge.
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, \"<<\": {namespace: x}}\n",
            vec![seen("ConfigMap", "a", None)],
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, !!merge <<: {namespace: x}}\n",
            vec![seen("ConfigMap", "a", Some("x"))],
        ),
        // Any object whose items is a list stands for its items (Argo CD).
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nitems:\n- {apiVersion: v1, kind: Secret, metadata: {name: s}}\n",
            vec![seen("Secret", "s", None)],
        ),
        // Only the first document of a piece; the last duplicate key.
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, name: b}\n...\nkind: Secret\n",
            vec![seen("ConfigMap", "b", None)],
        ),
    ];
    for (text, want) in cases {
        let got = read_stream(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        assert_eq!(&got, want, "{text}");
    }
    for refused in [
        "apiVersion: v1\n--- kind: Secret\n",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: a\u{1}b}\n",
    ] {
        assert!(
            matches!(read_stream(refused), Err(ReadError::Refused(_))),
            "{refused:?}"
        );
    }
}

/// The harness is not vacuous: most seeds render, as a pass-through and as a preview, so the
/// properties above are checked on real output.
#[test]
fn most_seeds_render() {
    let files = inputs(&["seeds/manifests"]);
    let (mut plain, mut preview) = (0, 0);
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        let (gitops, manifests) = checks::split_input(&text);
        assert!(gitops.is_none());
        plain += usize::from(checks::render(None, manifests, false).is_some());
        preview += usize::from(checks::render(None, manifests, true).is_some());
    }
    eprintln!(
        "{} seeds: {plain} pass-throughs and {preview} previews rendered",
        files.len()
    );
    assert!(plain * 10 >= files.len() * 8, "{plain} of {}", files.len());
    assert!(preview * 2 >= files.len(), "{preview} of {}", files.len());
}

/// The YAML-layer bugs the fuzzers found (control characters, a key appended after a flow
/// mapping's last bare key, `|`/`>` starting a plain scalar in flow context, a tagged empty key,
/// a collection as a key), each input through its target's check *without* the known-issue
/// filter: they stay fixed.
#[test]
fn yaml_layer_findings() {
    let mut failures = Vec::new();
    let mut count = 0;
    for (target, check) in [
        ("roundtrip", checks::roundtrip_checked as fn(&str, bool)),
        ("render_preview", checks::render_preview_checked),
        ("one_reading", checks::one_reading_checked),
    ] {
        for f in inputs(&[&format!("regressions/{target}")]) {
            if !f
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("yaml-"))
            {
                continue;
            }
            count += 1;
            let text = fs::read_to_string(&f).unwrap();
            if std::panic::catch_unwind(move || check(&text, false)).is_err() {
                failures.push(f.display().to_string());
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {count} still fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// No fuzzing finding is open: no input is skipped as a known issue.
#[test]
fn no_known_issue_is_open() {
    assert!(checks::KNOWN_ISSUES.is_empty());
    assert_eq!(checks::known_issue("metadata: {b}\n"), None);
}
