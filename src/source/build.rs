//! Directories that are built, not read (DESIGN.md §4.1): a kustomization with the real
//! kustomize, a Helm chart with `helm template`. Their output is then read like a file (the
//! file size limit, the alias budget) and gets the identity like any other input.
//!
//! The input is pull-request content, so the build is boxed in:
//! - kustomize runs as `kustomize build DIR`, else `kubectl kustomize DIR` (the first found on
//!   PATH), always with its default load restrictor (files only from inside the
//!   kustomization's folder) and never with `--enable-alpha-plugins`, `--enable-exec`,
//!   `--enable-helm` or `--load-restrictor LoadRestrictionsNone`. A kustomization using
//!   `helmCharts` is refused up front, with the reason.
//! - In a sandboxed render (`generate`, or a platform policy given) the kustomization tree is
//!   read first ([`scan_kustomization`]): a resource, base, component, generator or
//!   transformer that is not in the repository (a remote URL kustomize would fetch, or a
//!   folder outside the repository root) is refused unless the platform policy allows it
//!   (`build.allowRemoteResources`, `build.allowOutsideRepository`).
//! - `helm template` gets the release name and value files from gitops.yaml (`helm:`), the
//!   identity's namespace (`--namespace`), the cluster's version and APIs as Argo CD gives them
//!   (`--kube-version $KUBE_VERSION`, `--api-versions` from `KUBE_API_VERSIONS`) and
//!   `--include-crds`, as Argo CD's own Helm support does. It reads no repositories and
//!   fetches no dependencies (`helm template` never does without `--dependency-update`).
//! - Each tool runs with a cleared environment (PATH, a private HOME removed afterwards, and
//!   for Helm its cache, config and data homes in that HOME), under a deadline (policy
//!   `build.timeoutSeconds`, default 30 s) and an output limit (the file size limit, 16 MiB)
//!   ([`super::exec`]).
//! - A symlink in a built folder that leaves the repository is an error, as everywhere.
//!
//! A kustomization's `crds:` files (OpenAPI definitions of custom kinds, which kustomize learns
//! reference fields from and does not emit) are returned, so the render learns the same
//! reference fields ([`super::openapi`]).
//!
//! The sidecar image ships kustomize [`PINNED_KUSTOMIZE_VERSION`] (the Dockerfile's
//! `KUSTOMIZE_VERSION`, checked equal by a test): a local build with another version warns,
//! since kustomize's output differs between versions.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use crate::config::policy::BuildPolicy;
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::naming;
use crate::source::exec::{self, RunError, ScratchDir};
use crate::source::walk::{BuildDir, BuildKind, KUSTOMIZATION_FILES};
use crate::source::{MAX_FILE_BYTES, read_regular};
use crate::yaml::Node;
use crate::yaml::parse::{Limits, parse_stream};

/// The kustomize version the sidecar image ships (Dockerfile `ARG KUSTOMIZE_VERSION`).
pub const PINNED_KUSTOMIZE_VERSION: &str = "v5.6.0";

/// How deep kustomizations may refer to other kustomizations.
const MAX_KUSTOMIZATION_DEPTH: usize = 32;

/// What the environment tells builds.
#[derive(Clone, Debug, Default)]
pub struct ToolEnv {
    /// `PATH`, where the tools are looked for.
    pub path: Option<String>,
    /// `KUBE_VERSION` (Argo CD: the destination cluster's version).
    pub kube_version: Option<String>,
    /// `KUBE_API_VERSIONS` (Argo CD: every group/version and group/version/kind served).
    pub kube_api_versions: Option<String>,
    /// `TMPDIR`, where private scratch homes go.
    pub tmpdir: Option<PathBuf>,
}

impl ToolEnv {
    /// Reads the variables builds use from an environment.
    pub fn from_vars(vars: &[(String, String)]) -> ToolEnv {
        let get = |k: &str| {
            vars.iter()
                .rev()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        ToolEnv {
            path: get("PATH"),
            kube_version: get("KUBE_VERSION").filter(|v| !v.is_empty()),
            kube_api_versions: get("KUBE_API_VERSIONS").filter(|v| !v.is_empty()),
            tmpdir: get("TMPDIR").filter(|v| !v.is_empty()).map(PathBuf::from),
        }
    }
}

/// gitops.yaml `helm:`, expanded for this render.
#[derive(Clone, Debug, Default)]
pub struct HelmRequest {
    /// The release name.
    pub release: String,
    /// The namespace (`--namespace`), when the identity decides one.
    pub namespace: Option<String>,
    /// Value files, relative to the chart folder.
    pub value_files: Vec<String>,
}

/// How builds run in one render.
#[derive(Debug)]
pub struct Builder {
    pub env: ToolEnv,
    /// What the platform allows; `None`: a trusted render (no sandbox checks).
    pub policy: Option<BuildPolicy>,
    /// The repository root (canonical): nothing outside it is read.
    pub repo_root: PathBuf,
    pub helm: HelmRequest,
    /// Whether the local kustomize version was compared with the pinned one already.
    checked_version: RefCell<bool>,
}

/// A build's output.
#[derive(Debug)]
pub struct Built {
    /// How the output is named in messages: `<dir> (kustomize build)`.
    pub display: Arc<str>,
    pub text: String,
    /// The files the kustomization (and its bases) name under `crds:`.
    pub crds: Vec<PathBuf>,
    /// Every kustomization folder the build used (canonical): its own and its bases and
    /// components. Two builds sharing one are variants of the same app (overlays).
    pub kustomizations: Vec<PathBuf>,
}

impl Builder {
    pub fn new(
        env: ToolEnv,
        policy: Option<BuildPolicy>,
        repo_root: PathBuf,
        helm: HelmRequest,
    ) -> Builder {
        Builder {
            env,
            policy,
            repo_root,
            helm,
            checked_version: RefCell::new(false),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(
            self.policy
                .as_ref()
                .map_or(crate::config::policy::DEFAULT_BUILD_TIMEOUT_SECONDS, |p| {
                    p.timeout_seconds
                }),
        )
    }

    fn scratch(&self) -> Result<ScratchDir> {
        let tmp = self.env.tmpdir.clone().unwrap_or_else(std::env::temp_dir);
        ScratchDir::new(&tmp).map_err(|source| Error::Io { path: tmp, source })
    }

    /// Builds one directory. `display` names the directory in messages.
    pub fn build(
        &self,
        dir: &BuildDir,
        display: &str,
        warnings: &mut Vec<Warning>,
    ) -> Result<Built> {
        check_symlinks(&dir.path, &self.repo_root)?;
        match dir.kind {
            BuildKind::Kustomize(file) => self.kustomize(dir, file, display, warnings),
            BuildKind::Helm => self.helm(dir, display),
        }
    }

    fn kustomize(
        &self,
        dir: &BuildDir,
        file: &str,
        display: &str,
        warnings: &mut Vec<Warning>,
    ) -> Result<Built> {
        let mut crds = Vec::new();
        let mut kustomizations = Vec::new();
        scan_kustomization(&dir.path, file, self, &mut crds, &mut kustomizations, 0)?;
        let (program, mut argv) = self.kustomize_command().ok_or_else(|| {
            refused(
                &clean(&dir.path.join(file)),
                format!(
                    "this folder is a kustomization, and neither kustomize nor kubectl is on PATH: install kustomize {PINNED_KUSTOMIZE_VERSION} (or kubectl), or build it yourself and pipe it in (kustomize build {display} | kubectl gitops render -)"
                ),
            )
        })?;
        self.check_version(&program, warnings);
        argv.push(clean(&dir.path).display().to_string());
        let scratch = self.scratch()?;
        let mut cmd = Command::new(&program);
        cmd.args(&argv)
            .env_clear()
            .env("HOME", &scratch.path)
            .env("TMPDIR", &scratch.path);
        if let Some(p) = &self.env.path {
            cmd.env("PATH", p);
        }
        let what = format!("{} {}", tool_name(&program), argv.join(" "));
        let text = exec::run(cmd, self.timeout(), MAX_FILE_BYTES)
            .map_err(|e| run_error(&clean(&dir.path.join(file)), &what, e))?;
        Ok(Built {
            display: Arc::from(format!("{display} (kustomize build)")),
            text,
            crds,
            kustomizations,
        })
    }

    /// `kustomize build` when kustomize is on PATH, else `kubectl kustomize`.
    fn kustomize_command(&self) -> Option<(PathBuf, Vec<String>)> {
        let path = self.env.path.as_deref();
        if let Some(k) = exec::look_path("kustomize", path) {
            return Some((k, vec!["build".into()]));
        }
        exec::look_path("kubectl", path).map(|k| (k, vec!["kustomize".into()]))
    }

    /// Warns once when the local kustomize is not the version the image ships.
    fn check_version(&self, program: &Path, warnings: &mut Vec<Warning>) {
        if std::mem::replace(&mut *self.checked_version.borrow_mut(), true) {
            return;
        }
        let kubectl = tool_name(program) == "kubectl";
        let mut cmd = Command::new(program);
        if kubectl {
            cmd.args(["version", "--client", "-o", "json"]);
        } else {
            cmd.arg("version");
        }
        cmd.env_clear();
        if let Some(p) = &self.env.path {
            cmd.env("PATH", p);
        }
        let Ok(scratch) = self.scratch() else {
            return;
        };
        cmd.env("HOME", &scratch.path);
        let version = exec::run(cmd, Duration::from_secs(10), 1 << 20)
            .ok()
            .and_then(|out| parse_kustomize_version(&out, kubectl));
        let label = if kubectl {
            "kubectl kustomize"
        } else {
            "kustomize"
        };
        match version {
            Some(v) if v == PINNED_KUSTOMIZE_VERSION => {}
            Some(v) => warnings.push(Warning::general(format!(
                "{label} is kustomize {v}, but the kubectl-gitops sidecar image ships {PINNED_KUSTOMIZE_VERSION}: Argo CD may build kustomizations differently than this render"
            ))),
            None => warnings.push(Warning::general(format!(
                "cannot tell the version of {label}; the kubectl-gitops sidecar image ships kustomize {PINNED_KUSTOMIZE_VERSION}"
            ))),
        }
    }

    /// The `helm template` command line for a chart folder (without the program).
    pub fn helm_args(&self, chart: &Path) -> Vec<String> {
        let chart = clean(chart);
        let mut args = vec![
            "template".to_string(),
            self.helm.release.clone(),
            chart.display().to_string(),
        ];
        if let Some(ns) = &self.helm.namespace {
            args.push("--namespace".into());
            args.push(ns.clone());
        }
        if let Some(v) = &self.env.kube_version {
            args.push("--kube-version".into());
            args.push(v.clone());
        }
        for api in self
            .env
            .kube_api_versions
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            args.push("--api-versions".into());
            args.push(api.to_string());
        }
        args.push("--include-crds".into());
        for f in &self.helm.value_files {
            args.push("--values".into());
            args.push(chart.join(f).display().to_string());
        }
        args
    }

    fn helm(&self, dir: &BuildDir, display: &str) -> Result<Built> {
        let chart_file = clean(&dir.path.join(crate::source::walk::CHART_FILE));
        if !naming::is_dns1123_label(&self.helm.release) || self.helm.release.len() > 53 {
            return Err(refused(
                &chart_file,
                format!(
                    "the Helm release name {:?} must be a DNS-1123 label of at most 53 characters (helm.releaseName in gitops.yaml)",
                    self.helm.release
                ),
            ));
        }
        for f in &self.helm.value_files {
            let p = dir.path.join(f);
            let canon = p.canonicalize().map_err(|source| Error::Io {
                path: p.clone(),
                source,
            })?;
            if !canon.starts_with(&self.repo_root) {
                return Err(refused(
                    &p,
                    "a Helm value file must be inside the repository".into(),
                ));
            }
            if !std::fs::metadata(&canon).is_ok_and(|m| m.is_file()) {
                return Err(crate::source::walk::not_regular(&p));
            }
        }
        let program = exec::look_path("helm", self.env.path.as_deref()).ok_or_else(|| {
            refused(
                &chart_file,
                format!(
                    "this folder is a Helm chart, and helm is not on PATH: install helm, or render the chart yourself and pipe it in (helm template {display} | kubectl gitops render -)"
                ),
            )
        })?;
        let args = self.helm_args(&dir.path);
        let scratch = self.scratch()?;
        let mut cmd = Command::new(&program);
        cmd.args(&args)
            .env_clear()
            .env("HOME", &scratch.path)
            .env("TMPDIR", &scratch.path)
            .env("HELM_CACHE_HOME", scratch.path.join("cache"))
            .env("HELM_CONFIG_HOME", scratch.path.join("config"))
            .env("HELM_DATA_HOME", scratch.path.join("data"));
        if let Some(p) = &self.env.path {
            cmd.env("PATH", p);
        }
        let what = format!("helm {}", args.join(" "));
        let text = exec::run(cmd, self.timeout(), MAX_FILE_BYTES)
            .map_err(|e| run_error(&chart_file, &what, e))?;
        Ok(Built {
            display: Arc::from(format!("{display} (helm template)")),
            text,
            crds: Vec::new(),
            kustomizations: Vec::new(),
        })
    }

    /// The kustomization folders a build uses (itself first, then its bases and components),
    /// read without building; empty for a chart or what cannot be read.
    pub fn kustomizations_of(&self, dir: &BuildDir) -> Vec<PathBuf> {
        let BuildKind::Kustomize(file) = dir.kind else {
            return Vec::new();
        };
        let mut seen = Vec::new();
        let trusted = Builder::new(
            ToolEnv::default(),
            None,
            self.repo_root.clone(),
            HelmRequest::default(),
        );
        let _ = scan_kustomization(&dir.path, file, &trusted, &mut Vec::new(), &mut seen, 0);
        seen
    }

    /// Whether the sandbox applies.
    fn sandboxed(&self) -> Option<&BuildPolicy> {
        self.policy.as_ref()
    }
}

/// A path without a leading `./` (the walk of `.` yields `./chart`; tools and messages
/// read better with `chart`).
fn clean(p: &Path) -> PathBuf {
    match p.strip_prefix(".") {
        Ok(rest) if !rest.as_os_str().is_empty() => rest.to_path_buf(),
        _ => p.to_path_buf(),
    }
}

fn tool_name(program: &Path) -> String {
    program
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn refused(path: &Path, msg: String) -> Error {
    Error::FileRefused {
        path: path.to_path_buf(),
        msg,
    }
}

fn run_error(path: &Path, what: &str, e: RunError) -> Error {
    let msg = match e {
        RunError::Spawn(e) => format!("cannot run `{what}`: {e}"),
        RunError::Timeout(d) => format!(
            "`{what}` did not finish within {} s and was stopped (build.timeoutSeconds in the platform policy)",
            d.as_secs()
        ),
        RunError::TooMuchOutput(max) => {
            format!("`{what}` printed more than {max} bytes (the file size limit) and was stopped")
        }
        RunError::Failed { code, stderr } => {
            let status = code.map_or("was killed".to_string(), |c| {
                format!("failed with exit status {c}")
            });
            let stderr = stderr.trim();
            if stderr.is_empty() {
                format!("`{what}` {status}")
            } else {
                format!("`{what}` {status}: {stderr}")
            }
        }
        RunError::NotUtf8 => format!("`{what}` printed text that is not UTF-8"),
    };
    refused(path, msg)
}

/// The version in `kustomize version` (`v5.5.0`, or `{Version:kustomize/v4.5.7 ...}`) or in
/// `kubectl version --client -o json` (`kustomizeVersion`).
pub fn parse_kustomize_version(out: &str, kubectl: bool) -> Option<String> {
    if kubectl {
        let v: serde_json::Value = serde_json::from_str(out).ok()?;
        return v
            .get("kustomizeVersion")
            .and_then(|v| v.as_str())
            .map(str::to_string);
    }
    let start = out.find('v')?;
    let rest = &out[start..];
    let end = rest
        .find(|c: char| !(c == 'v' || c == '.' || c.is_ascii_digit()))
        .unwrap_or(rest.len());
    let v = &rest[..end];
    (v.len() > 1 && v[1..].split('.').count() == 3).then(|| v.to_string())
}

/// Refuses a symlink under `dir` whose target leaves the repository.
fn check_symlinks(dir: &Path, repo_root: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).follow_links(false).min_depth(1) {
        let Ok(entry) = entry else { continue };
        if !entry.path_is_symlink() {
            continue;
        }
        let target = entry.path().canonicalize().map_err(|source| Error::Io {
            path: entry.path().to_path_buf(),
            source,
        })?;
        if !target.starts_with(repo_root) {
            return Err(Error::Symlink {
                link: entry.path().to_path_buf(),
                target,
            });
        }
    }
    Ok(())
}

/// Whether a kustomization entry names something kustomize would fetch over the network.
fn looks_remote(entry: &str) -> bool {
    entry.contains("://")
        || entry.starts_with("git@")
        || entry.starts_with("github.com/")
        || entry.starts_with("gitlab.com/")
        || entry.starts_with("bitbucket.org/")
}

/// Reads a kustomization and the kustomizations it uses: `crds:` files are collected; in a
/// sandboxed render, what is not in the repository is refused unless the policy allows it;
/// `helmCharts` is always refused (it needs `--enable-helm`).
pub fn scan_kustomization(
    dir: &Path,
    file: &str,
    builder: &Builder,
    crds: &mut Vec<PathBuf>,
    seen: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<()> {
    let path = dir.join(file);
    let canon_dir = dir.canonicalize().map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if seen.contains(&canon_dir) {
        return Ok(());
    }
    if depth > MAX_KUSTOMIZATION_DEPTH {
        return Err(refused(
            &path,
            format!("kustomizations nest more than {MAX_KUSTOMIZATION_DEPTH} levels deep"),
        ));
    }
    seen.push(canon_dir.clone());
    let canon_file = path.canonicalize().map_err(|source| Error::Io {
        path: path.clone(),
        source,
    })?;
    if !canon_file.starts_with(&builder.repo_root) {
        return Err(Error::Symlink {
            link: path.clone(),
            target: canon_file,
        });
    }
    let bytes = read_regular(&path, MAX_FILE_BYTES)?;
    let display: Arc<str> = Arc::from(clean(&path).display().to_string());
    let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        loc: crate::model::Loc::file(&display),
    })?;
    let stream = parse_stream(&text, &Limits::default()).map_err(|e| Error::Yaml {
        loc: crate::model::Loc::new(&display, e.pos()),
        source: e,
    })?;
    let Some(root) = stream.docs.first().map(|d| &d.root) else {
        return Ok(());
    };
    for key in ["helmCharts", "helmChartInflationGenerator", "helmGlobals"] {
        let found = root
            .as_map()
            .and_then(|m| m.iter().find(|(k, _)| k.scalar_text() == Some(key)));
        if let Some((k, _)) = found {
            return Err(Error::Config {
                loc: crate::model::Loc::new(&display, k.pos),
                msg: format!(
                    "{key} needs kustomize --enable-helm, which kubectl-gitops never passes (it would run Helm on pull-request content inside kustomize): make the chart a folder with its Chart.yaml, which kubectl-gitops renders with helm template"
                ),
            });
        }
    }
    for c in strings(root.get("crds")) {
        let p = dir.join(c);
        match p.canonicalize() {
            Ok(canon) if canon.starts_with(&builder.repo_root) => crds.push(p),
            Ok(canon) => {
                return Err(Error::Symlink {
                    link: p,
                    target: canon,
                });
            }
            // kustomize reports a missing file itself.
            Err(_) => {}
        }
    }
    for key in [
        "resources",
        "bases",
        "components",
        "generators",
        "transformers",
        "validators",
    ] {
        for entry in strings(root.get(key)) {
            let loc = || {
                crate::model::Loc::new(
                    &display,
                    root.get(key)
                        .and_then(Node::as_seq)
                        .and_then(|s| s.iter().find(|n| n.as_str() == Some(entry)))
                        .map_or(root.pos, |n| n.pos),
                )
            };
            let local = dir.join(entry);
            let exists = !looks_remote(entry) && std::fs::symlink_metadata(&local).is_ok();
            if !exists {
                if let Some(p) = builder.sandboxed() {
                    if !p.allow_remote_resources {
                        return Err(Error::Config {
                            loc: loc(),
                            msg: format!(
                                "{key} entry {entry:?} is not in the repository, so kustomize would fetch it over the network: the platform policy does not allow remote resources (build.allowRemoteResources); vendor it into the repository"
                            ),
                        });
                    }
                }
                continue;
            }
            let canon = local.canonicalize().map_err(|source| Error::Io {
                path: local.clone(),
                source,
            })?;
            if !canon.starts_with(&builder.repo_root) {
                if let Some(p) = builder.sandboxed() {
                    if !p.allow_outside_repository {
                        return Err(Error::Config {
                            loc: loc(),
                            msg: format!(
                                "{key} entry {entry:?} is outside the repository: the platform policy does not allow kustomize bases outside it (build.allowOutsideRepository)"
                            ),
                        });
                    }
                }
                continue;
            }
            if canon.is_dir() {
                if let Some(name) = KUSTOMIZATION_FILES
                    .iter()
                    .find(|n| std::fs::symlink_metadata(canon.join(n)).is_ok())
                {
                    check_symlinks(&canon, &builder.repo_root)?;
                    scan_kustomization(&canon, name, builder, crds, seen, depth + 1)?;
                }
            }
        }
    }
    Ok(())
}

/// The strings of a sequence node (nothing for anything else).
fn strings(n: Option<&Node>) -> Vec<&str> {
    n.and_then(Node::as_seq)
        .map(|s| s.iter().filter_map(Node::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kustomize_versions() {
        assert_eq!(
            parse_kustomize_version("v5.5.0\n", false).as_deref(),
            Some("v5.5.0")
        );
        assert_eq!(
            parse_kustomize_version("{Version:kustomize/v4.5.7 GitCommit:abc}\n", false).as_deref(),
            Some("v4.5.7")
        );
        assert_eq!(
            parse_kustomize_version(
                r#"{"clientVersion":{"gitVersion":"v1.32.4"},"kustomizeVersion":"v5.5.0"}"#,
                true
            )
            .as_deref(),
            Some("v5.5.0")
        );
        assert_eq!(parse_kustomize_version("garbage", false), None);
    }

    #[test]
    fn remote_entries() {
        for remote in [
            "https://github.com/org/repo//base?ref=v1",
            "github.com/org/repo/base?ref=v1",
            "git@github.com:org/repo.git//base",
            "ssh://git@example.com/repo.git",
        ] {
            assert!(looks_remote(remote), "{remote}");
        }
        for local in ["../base", "deployment.yaml", "components/x"] {
            assert!(!looks_remote(local), "{local}");
        }
    }

    fn builder(env: ToolEnv) -> Builder {
        Builder::new(
            env,
            None,
            PathBuf::from("/repo"),
            HelmRequest {
                release: "shop".into(),
                namespace: Some("shop-pr-7".into()),
                value_files: vec!["values.yaml".into(), "values-dev.yaml".into()],
            },
        )
    }

    #[test]
    fn helm_command_line() {
        let b = builder(ToolEnv {
            kube_version: Some("1.31.4".into()),
            kube_api_versions: Some("apps/v1,apps/v1/Deployment,,v1".into()),
            ..ToolEnv::default()
        });
        assert_eq!(
            b.helm_args(Path::new("charts/shop")).join(" "),
            "template shop charts/shop --namespace shop-pr-7 --kube-version 1.31.4 \
             --api-versions apps/v1 --api-versions apps/v1/Deployment --api-versions v1 \
             --include-crds --values charts/shop/values.yaml --values charts/shop/values-dev.yaml"
        );
        // Without Argo CD's variables and a namespace: only what is known.
        let mut b = builder(ToolEnv::default());
        b.helm.namespace = None;
        b.helm.value_files.clear();
        assert_eq!(
            b.helm_args(Path::new("c")).join(" "),
            "template shop c --include-crds"
        );
    }
}
