//! Build metadata for `kubectl-gitops version`: the commit the binary was built from and the
//! build date. Both come from the build's inputs, never from the clock, so two builds of the
//! same commit are the same bytes (reproducible builds):
//!
//! - commit: `$KUBECTL_GITOPS_COMMIT` (the release workflow and the Dockerfile pass it, since a
//!   Docker build context has no `.git`), else `git rev-parse HEAD` when this crate is the top
//!   of its git checkout, else `unknown`;
//! - date: `$SOURCE_DATE_EPOCH` (the reproducible-builds convention), else the commit's
//!   committer date, else `unknown`; written as RFC 3339 UTC.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn rfc3339(epoch: i64) -> String {
    let (y, mo, d) = civil_from_days(epoch.div_euclid(86_400));
    let s = epoch.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn main() {
    println!("cargo:rerun-if-env-changed=KUBECTL_GITOPS_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");

    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    // Only our own checkout counts: a crate unpacked inside some other repository must not
    // report that repository's commit.
    let in_own_checkout = git(&["rev-parse", "--show-toplevel"])
        .and_then(|top| Path::new(&top).canonicalize().ok())
        .zip(Path::new(&manifest_dir).canonicalize().ok())
        .is_some_and(|(top, dir)| top == dir);
    if in_own_checkout {
        // Rebuild when HEAD moves: HEAD itself, the branch it points at, packed refs. Only
        // files that exist are named: cargo takes a missing one as changed on every build, so
        // a checkout without packed-refs (a fresh `git init`, most worktrees) would rebuild
        // the whole crate each time. When a loose ref is packed later, its file goes missing,
        // this script runs once more and names packed-refs instead.
        let mut watched = Vec::new();
        for rel in ["HEAD", "packed-refs"] {
            watched.extend(git(&["rev-parse", "--git-path", rel]));
        }
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.extend(git(&["rev-parse", "--git-path", &branch]));
        }
        for p in watched.iter().filter(|p| Path::new(p).is_file()) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let commit = from_env("KUBECTL_GITOPS_COMMIT")
        .or_else(|| {
            in_own_checkout
                .then(|| git(&["rev-parse", "HEAD"]))
                .flatten()
        })
        .unwrap_or_else(|| "unknown".into());
    let epoch = match from_env("SOURCE_DATE_EPOCH") {
        Some(v) => match v.trim().parse::<i64>() {
            Ok(e) => Some(e),
            Err(_) => panic!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds"),
        },
        None if in_own_checkout => {
            git(&["log", "-1", "--format=%ct", "HEAD"]).and_then(|t| t.parse().ok())
        }
        None => None,
    };
    let date = epoch.map_or_else(|| "unknown".into(), rfc3339);
    println!("cargo:rustc-env=KUBECTL_GITOPS_COMMIT={commit}");
    println!("cargo:rustc-env=KUBECTL_GITOPS_BUILD_DATE={date}");
}
