//! `kubectl-gitops version`: the crate version, the commit and the build date recorded by
//! `build.rs` (from git or `$KUBECTL_GITOPS_COMMIT`, and `$SOURCE_DATE_EPOCH` or the commit's
//! date: never the clock, so builds stay reproducible), and the platform.

/// The crate version, `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The full commit hash, or `unknown`.
pub const COMMIT: &str = env!("KUBECTL_GITOPS_COMMIT");
/// RFC 3339 UTC, or `unknown`.
pub const BUILD_DATE: &str = env!("KUBECTL_GITOPS_BUILD_DATE");

/// `os/arch` in Go's spelling (`linux/amd64`, `darwin/arm64`), as kubectl and krew write it.
pub fn platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("{}/{arch}", std::env::consts::OS)
}

/// `kubectl-gitops 0.1.0 (commit 0123456789ab, built 2026-01-02T03:04:05Z)`.
pub fn text() -> String {
    let short = COMMIT.get(..12).unwrap_or(COMMIT);
    format!("kubectl-gitops {VERSION} (commit {short}, built {BUILD_DATE})\n")
}

/// One JSON object, keys as kubectl's `version -o json` names them.
pub fn json() -> String {
    let v = serde_json::json!({
        "version": VERSION,
        "gitCommit": COMMIT,
        "buildDate": BUILD_DATE,
        "platform": platform(),
    });
    format!("{v:#}\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_metadata_is_recorded() {
        assert!(super::COMMIT == "unknown" || super::COMMIT.len() == 40);
        let date = super::BUILD_DATE;
        assert!(
            date == "unknown"
                || (date.len() == 20 && date.ends_with('Z') && date.as_bytes()[10] == b'T'),
            "{date}"
        );
    }
}
