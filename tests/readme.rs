//! The README states the limits the code enforces (issue 8: it once said 1,000,000 alias nodes
//! while the code used 250,000). Each row of the README's limits table is compared with the
//! constant it documents, formatted the way the README writes it, so changing a limit without
//! the README (or the other way round) fails here.

#![allow(clippy::unwrap_used)]

use kubectl_gitops::config::gitops_yaml::{MAX_EXCLUDE_LEN, MAX_EXCLUDES};
use kubectl_gitops::config::policy::{DEFAULT_BUILD_TIMEOUT_SECONDS, MAX_POLICY_BYTES};
use kubectl_gitops::source::{MAX_FILE_BYTES, MAX_TOTAL_BYTES};
use kubectl_gitops::transform::hosts::{MAX_HOST_BYTES, MAX_TEMPLATE_BYTES};
use kubectl_gitops::yaml::parse::Limits;

/// `16 MiB` for whole mebibytes, else `N bytes`.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

/// `250,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The README's limits table: (first cell, second cell) of every row.
fn table() -> Vec<(String, String)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("| limit | value |")
        .expect("README has a `| limit | value |` table");
    readme[start..]
        .lines()
        .skip(2)
        .map(str::trim)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 2, "a row of two cells: {l}");
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect()
}

#[test]
fn the_readme_limits_are_the_codes() {
    let limits = Limits::default();
    let want: Vec<(&str, String)> = vec![
        ("one manifest file, or standard input", size(MAX_FILE_BYTES)),
        ("one input, all files together", size(MAX_TOTAL_BYTES)),
        (
            "nodes copied by alias expansion",
            format!("{} per input", thousands(limits.max_alias_nodes)),
        ),
        (
            "text copied by alias expansion",
            format!("{} per input", size(limits.max_alias_bytes as u64)),
        ),
        (
            "nodes (keys, values, items)",
            format!("{} per input", thousands(limits.max_nodes)),
        ),
        (
            "nesting of collections, aliases included",
            format!("{} levels", limits.max_depth),
        ),
        ("the platform policy file", size(MAX_POLICY_BYTES)),
        (
            "a `preview.hosts` template",
            size(MAX_TEMPLATE_BYTES as u64),
        ),
        (
            "a host rewritten in a preview (longer ones are left alone, with a warning)",
            size(MAX_HOST_BYTES as u64),
        ),
        ("`exclude:` globs in gitops.yaml", thousands(MAX_EXCLUDES)),
        ("one `exclude:` glob", size(MAX_EXCLUDE_LEN as u64)),
        (
            "a kustomize or Helm build (the policy's `build.timeoutSeconds`)",
            format!("{DEFAULT_BUILD_TIMEOUT_SECONDS} s"),
        ),
    ];
    let got = table();
    for (what, value) in &want {
        let row = got.iter().find(|(w, _)| w == what);
        assert_eq!(
            row.map(|(_, v)| v.as_str()),
            Some(value.as_str()),
            "README limits table, row {what:?}"
        );
    }
    assert_eq!(
        got.len(),
        want.len(),
        "every row of the README's limits table is checked here: {got:?}"
    );
}

#[test]
fn formatting() {
    assert_eq!(size(16 << 20), "16 MiB");
    assert_eq!(size(253), "253 bytes");
    assert_eq!(thousands(250_000), "250,000");
    assert_eq!(thousands(1_000_000), "1,000,000");
    assert_eq!(thousands(999), "999");
}
