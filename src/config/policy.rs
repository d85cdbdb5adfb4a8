//! The platform policy and a preview's sandbox (DESIGN.md §3, "Who may widen a preview's
//! sandbox"; §4.6; §4.9): what the platform team allows pull-request content to do, in a YAML
//! file the rendered revision cannot change (`GITOPS_POLICY` in the sidecar's environment, a
//! mounted file; `--policy` on the command line).
//!
//! ```yaml
//! preview:
//!   allowClusterScoped: []          # cluster-scoped kinds a preview may carry
//!   namespace: "{app}-pr-{pr}"      # the preview namespace template (may omit {pr})
//!   protectedNamespaces: [argocd]   # never a preview's namespace
//! build:
//!   allowRemoteResources: false     # kustomize resources, bases and components fetched over the network
//!   allowOutsideRepository: false   # kustomize bases and components outside the repository
//!   timeoutSeconds: 30              # how long one kustomize build or helm template may run
//! ```
//!
//! A render is **sandboxed** when a policy applies (`generate`, `preview up`, `--policy`):
//! `render::Request::policy` is `Some`; without one (`render` on a developer's machine) it
//! trusts the repository.
//!
//! A preview renders a pull request's own revision, so its gitops.yaml is written by whoever
//! opened the pull request. What *widens* a preview's sandbox — cluster-scoped kinds it may
//! carry (`preview.allowClusterScoped`), a namespace template without `{pr}` — therefore comes
//! only from what the platform team controls: the **platform policy** ([`Policy`], a YAML file
//! named by the sidecar's `GITOPS_POLICY` or by `--policy`) and the plugin parameters the
//! ApplicationSet sets (an explicit `namespace`). gitops.yaml may only *narrow* it: its
//! `allowClusterScoped` must be covered by the policy's, and its `protectedNamespaces` add to
//! the list, never replace it.
//!
//! Who applies the rule: `generate` (Argo CD) and `preview up` (CI rendering pull-request
//! content) always do, with an empty policy when none is named; `render` on a developer's
//! machine trusts gitops.yaml unless `--policy` is given. The render request carries the
//! policy ([`crate::config::IdentityRequest::policy`]): `None` means "trust gitops.yaml".
//!
//! [`sandbox`] turns gitops.yaml and the policy into the one [`Sandbox`] every later step
//! reads, so no step looks at gitops.yaml's preview keys directly. Whatever the trust, a
//! preview never targets `kube-system`, `kube-public`, `kube-node-lease`, `default`, a
//! protected namespace of the policy or of gitops.yaml, or an environment's namespace (closing
//! the pull request would delete the Namespace the preview emits).
//!
//! The policy file is read like every file the tool opens that it does not own: a regular
//! file only (a FIFO or a device would hang the render), at most [`MAX_POLICY_BYTES`], UTF-8,
//! one YAML document, unknown keys refused with their line (a typo must not silently leave the
//! sandbox open or closed). Its path is the platform's (a mounted ConfigMap is a symlink into
//! `..data/`, which is followed), but in `generate` it must be absolute and outside the
//! checkout being rendered ([`load_for_generate`]).

use std::path::Path;
use std::sync::Arc;

use crate::config::gitops_yaml::{GitopsConfig, Reader};
use crate::error::{Error, Result};
use crate::model::{GroupKind, Loc};
use crate::naming;
use crate::yaml::Node;
use crate::yaml::parse::{Limits, parse_stream};

/// The sidecar variable naming the policy file.
pub const POLICY_ENV: &str = "GITOPS_POLICY";

/// Largest policy file accepted: 1 MiB (a policy is a few lines).
pub const MAX_POLICY_BYTES: u64 = 1 << 20;

/// Namespaces no preview may ever target: Kubernetes' own.
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["kube-system", "kube-public", "kube-node-lease", "default"];

/// The default preview namespace template (DESIGN.md §2).
pub const DEFAULT_NAMESPACE_TEMPLATE: &str = "{app}-pr-{pr}";

/// The default preview host template (DESIGN.md §3).
pub const DEFAULT_HOSTS_TEMPLATE: &str = "{label}-pr-{pr}.{rest}";

/// How long an external build may run unless the policy says otherwise.
pub const DEFAULT_BUILD_TIMEOUT_SECONDS: u64 = 30;

/// A platform policy, as read from its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The file, as shown in messages; `None`: no file was named (the defaults: nothing
    /// widens a preview, builds stay in the repository).
    pub file: Option<Arc<str>>,
    pub preview: PreviewPolicy,
    pub build: BuildPolicy,
}

/// What may widen a preview's sandbox.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreviewPolicy {
    /// Cluster-scoped kinds a preview may carry (`Kind`, `Kind.group` or `{group, kind}`).
    pub allow_cluster_scoped: Vec<GroupKind>,
    /// The preview namespace template, replacing the default `{app}-pr-{pr}`; it may omit
    /// `{pr}` (the platform's choice), and gitops.yaml may not change it.
    pub namespace: Option<String>,
    /// Namespaces no preview may target, besides [`SYSTEM_NAMESPACES`].
    pub protected_namespaces: Vec<String>,
    /// The preview host template (`{label}-pr-{pr}.{rest}` by default), so that previews
    /// stay in a domain the platform chooses; gitops.yaml may not change it.
    pub hosts: Option<String>,
}

/// What external builds may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildPolicy {
    /// Kustomize may fetch remote resources, bases and components.
    pub allow_remote_resources: bool,
    /// Kustomize may use bases and components outside the repository.
    pub allow_outside_repository: bool,
    /// The deadline of one build.
    pub timeout_seconds: u64,
}

impl Default for BuildPolicy {
    fn default() -> Self {
        BuildPolicy {
            allow_remote_resources: false,
            allow_outside_repository: false,
            timeout_seconds: DEFAULT_BUILD_TIMEOUT_SECONDS,
        }
    }
}

impl BuildPolicy {
    /// What a trusted render (a developer's machine, no policy) may do: everything the tools
    /// do by themselves.
    pub fn trusted() -> BuildPolicy {
        BuildPolicy {
            allow_remote_resources: true,
            allow_outside_repository: true,
            timeout_seconds: DEFAULT_BUILD_TIMEOUT_SECONDS,
        }
    }
}

impl Policy {
    /// How messages name this policy.
    pub fn describe(&self) -> String {
        match &self.file {
            Some(f) => format!("the platform policy {f}"),
            None => format!(
                "the platform policy (none is named by {POLICY_ENV} or --policy, so previews carry namespaced objects only)"
            ),
        }
    }
}

/// Reads a policy file (`--policy`, or `GITOPS_POLICY` once checked): regular, size-limited,
/// like every file the tool opens.
pub fn load(path: &Path) -> Result<Policy> {
    let bytes = crate::source::read_regular(path, MAX_POLICY_BYTES)?;
    let display = path.display().to_string();
    let text = String::from_utf8(bytes).map_err(|_| Error::NotUtf8 {
        loc: Loc::file(&Arc::from(display.as_str())),
    })?;
    parse(&text, &display)
}

/// Reads the policy `generate` applies: `GITOPS_POLICY` when set (an absolute path outside
/// the checkout `repo_root`, so that nothing in the rendered revision can name it), else the
/// empty policy.
pub fn load_for_generate(path: Option<&Path>, repo_root: &Path) -> Result<Policy> {
    let Some(path) = path.filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(Policy::default());
    };
    let value = path.display().to_string();
    if !path.is_absolute() {
        return Err(Error::Usage(format!(
            "{POLICY_ENV} {value:?} must be an absolute path (a relative one would be read from the repository being rendered)"
        )));
    }
    let inside = match (path.canonicalize(), repo_root.canonicalize()) {
        (Ok(p), Ok(r)) => p.starts_with(&r),
        _ => false,
    };
    if inside {
        return Err(Error::Usage(format!(
            "{POLICY_ENV} {value:?} is inside the repository being rendered: the platform policy must come from the sidecar (a mounted file), never from the revision it judges"
        )));
    }
    load(path)
}

/// Parses a policy's text; `display` names the file in messages.
pub fn parse(text: &str, display: &str) -> Result<Policy> {
    let file: Arc<str> = Arc::from(display);
    let r = Reader::new(&file);
    let stream = parse_stream(text, &Limits::default()).map_err(|e| Error::Yaml {
        loc: Loc::new(&file, e.pos()),
        source: e,
    })?;
    if let Some(w) = stream.warnings.first() {
        return Err(r.err_at(w.pos, &w.msg));
    }
    let mut policy = Policy {
        file: Some(Arc::clone(&file)),
        ..Policy::default()
    };
    let Some(root) = stream.docs.first().map(|d| &d.root) else {
        return Ok(policy);
    };
    if stream.docs.len() > 1 {
        return Err(r.err(&stream.docs[1].root, "a platform policy holds one document"));
    }
    for (k, v) in r.entries(root, "the platform policy")? {
        match r.key(k)? {
            "preview" => policy.preview = preview(&r, v)?,
            "build" => policy.build = build(&r, v)?,
            other => {
                return Err(r.unknown(k, other, "the platform policy", &["preview", "build"]));
            }
        }
    }
    Ok(policy)
}

fn preview(r: &Reader<'_>, v: &Node) -> Result<PreviewPolicy> {
    let mut p = PreviewPolicy::default();
    for (k, v) in r.entries(v, "preview")? {
        match r.key(k)? {
            "allowClusterScoped" => {
                for item in r.seq(v, "preview.allowClusterScoped")? {
                    p.allow_cluster_scoped
                        .push(r.group_kind(item, "preview.allowClusterScoped")?);
                }
            }
            "namespace" => {
                let t = r.string(v, "preview.namespace")?;
                if let Some(why) = namespace_template_problem(&t, false) {
                    return Err(r.err(v, &format!("preview.namespace {t:?}: {why}")));
                }
                p.namespace = Some(t);
            }
            "protectedNamespaces" => {
                for item in r.seq(v, "preview.protectedNamespaces")? {
                    let ns = r.string(item, "preview.protectedNamespaces")?;
                    if !naming::is_dns1123_label(&ns) {
                        return Err(r.err(item, &format!("preview.protectedNamespaces: {ns:?} is not a namespace name (a DNS-1123 label)")));
                    }
                    p.protected_namespaces.push(ns);
                }
            }
            "hosts" => {
                let t = r.string(v, "preview.hosts")?;
                if let Some(why) = crate::transform::hosts::template_problem(&t) {
                    return Err(r.err(v, &format!("preview.hosts {t:?} {why}")));
                }
                p.hosts = Some(t);
            }
            other => {
                return Err(r.unknown(
                    k,
                    other,
                    "preview",
                    &[
                        "allowClusterScoped",
                        "namespace",
                        "protectedNamespaces",
                        "hosts",
                    ],
                ));
            }
        }
    }
    Ok(p)
}

fn build(r: &Reader<'_>, v: &Node) -> Result<BuildPolicy> {
    let mut b = BuildPolicy::default();
    for (k, v) in r.entries(v, "build")? {
        match r.key(k)? {
            "allowRemoteResources" => {
                b.allow_remote_resources = r.boolean(v, "build.allowRemoteResources")?;
            }
            "allowOutsideRepository" => {
                b.allow_outside_repository = r.boolean(v, "build.allowOutsideRepository")?;
            }
            "timeoutSeconds" => {
                b.timeout_seconds = v
                    .as_scalar()
                    .filter(|s| s.style == crate::yaml::Style::Plain)
                    .and_then(|s| s.value.parse::<u64>().ok())
                    .filter(|n| (1..=3600).contains(n))
                    .ok_or_else(|| {
                        r.err(
                            v,
                            "build.timeoutSeconds must be a number of seconds from 1 to 3600",
                        )
                    })?;
            }
            other => {
                return Err(r.unknown(
                    k,
                    other,
                    "build",
                    &[
                        "allowRemoteResources",
                        "allowOutsideRepository",
                        "timeoutSeconds",
                    ],
                ));
            }
        }
    }
    Ok(b)
}

/// Why a preview namespace template is unusable, if it is. Only `{app}`, `{env}` and `{pr}`
/// are placeholders; the result must be a DNS-1123 label. `{pr}` is required unless the
/// template comes from the platform (`need_pr` false).
pub fn namespace_template_problem(t: &str, need_pr: bool) -> Option<String> {
    if need_pr && !t.contains("{pr}") {
        return Some("must contain {pr}, so that every pull request gets its own namespace (a namespace shared by previews comes only from the platform policy)".into());
    }
    let sample = t
        .replace("{pr}", "1")
        .replace("{app}", "a")
        .replace("{env}", "e");
    if !naming::is_dns1123_label(&sample) {
        return Some("must give a DNS-1123 label (lowercase letters, digits and '-'; placeholders {app}, {env}, {pr})".into());
    }
    None
}

/// Whether kind-list entry `entry` matches `gk`: a bare `Kind` matches that kind in any API
/// group, `Kind.group` names one (DESIGN.md §3).
pub fn kind_matches(entry: &GroupKind, gk: &GroupKind) -> bool {
    entry.kind == gk.kind && (entry.group.is_empty() || entry.group == gk.group)
}

/// Whether `wide` matches everything `narrow` matches.
fn covers(wide: &GroupKind, narrow: &GroupKind) -> bool {
    wide.kind == narrow.kind && (wide.group.is_empty() || wide.group == narrow.group)
}

/// Why a namespace is protected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protected {
    pub namespace: String,
    pub why: String,
}

/// The rules of a preview's sandbox, decided once per render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sandbox {
    /// Cluster-scoped kinds a preview may carry.
    pub allow_cluster_scoped: Vec<GroupKind>,
    /// The preview namespace template (identity placeholders not yet expanded).
    pub namespace_template: String,
    /// The preview host template (identity placeholders not yet expanded).
    pub hosts_template: String,
    /// Namespaces no preview may target.
    pub protected: Vec<Protected>,
    /// The policy applied, when the render applies one (`None`: gitops.yaml is trusted).
    pub policy: Option<Arc<Policy>>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            allow_cluster_scoped: Vec::new(),
            namespace_template: DEFAULT_NAMESPACE_TEMPLATE.into(),
            hosts_template: DEFAULT_HOSTS_TEMPLATE.into(),
            protected: system_protected(),
            policy: None,
        }
    }
}

fn system_protected() -> Vec<Protected> {
    SYSTEM_NAMESPACES
        .iter()
        .map(|ns| Protected {
            namespace: (*ns).to_string(),
            why: "a Kubernetes system namespace".into(),
        })
        .collect()
}

impl Sandbox {
    /// Whether a preview may carry a cluster-scoped object of kind `gk`.
    pub fn allows(&self, gk: &GroupKind) -> bool {
        self.allow_cluster_scoped
            .iter()
            .any(|e| kind_matches(e, gk))
    }

    /// Why `namespace` may not be a preview's, if it may not.
    pub fn protection(&self, namespace: &str) -> Option<&Protected> {
        self.protected.iter().find(|p| p.namespace == namespace)
    }

    /// What to do to let a preview carry `gk`, for refusal messages.
    pub fn how_to_allow(&self, gk: &GroupKind) -> String {
        match &self.policy {
            None => {
                format!("list {gk} under preview.allowClusterScoped in gitops.yaml to allow it")
            }
            Some(p) => format!(
                "{} does not allow it: the platform team can list {gk} under preview.allowClusterScoped there (a pull request's gitops.yaml may only narrow the sandbox)",
                p.describe()
            ),
        }
    }
}

/// Decides the sandbox of a render from gitops.yaml (`config`, when there is one) and the
/// platform policy (`policy`, when the render applies one). In a preview (`preview`) under a
/// policy, a gitops.yaml that tries to widen the sandbox is an error located at its entry.
pub fn sandbox(
    config: Option<&GitopsConfig>,
    policy: Option<&Arc<Policy>>,
    preview: bool,
) -> Result<Sandbox> {
    let mut sb = Sandbox {
        policy: policy.cloned(),
        ..Sandbox::default()
    };
    let p = config.map(|c| &c.preview);
    match policy {
        None => {
            if let Some(p) = p {
                sb.allow_cluster_scoped = p
                    .allow_cluster_scoped
                    .iter()
                    .flatten()
                    .map(|(gk, _)| gk.clone())
                    .collect();
                sb.namespace_template.clone_from(&p.namespace);
                sb.hosts_template.clone_from(&p.hosts);
            }
        }
        Some(policy) => {
            sb.allow_cluster_scoped
                .clone_from(&policy.preview.allow_cluster_scoped);
            if let Some(t) = &policy.preview.namespace {
                sb.namespace_template.clone_from(t);
            }
            if let Some(t) = &policy.preview.hosts {
                sb.hosts_template.clone_from(t);
            }
            if let (Some(p), Some(cfg)) = (p, config) {
                if let Some(own) = &p.allow_cluster_scoped {
                    // gitops.yaml narrows: its own list, each entry covered by the policy's.
                    if preview {
                        for (gk, loc) in own {
                            if !policy
                                .preview
                                .allow_cluster_scoped
                                .iter()
                                .any(|w| covers(w, gk))
                            {
                                return Err(Error::Config {
                                    loc: loc.clone(),
                                    msg: format!(
                                        "preview.allowClusterScoped lists {gk}, which {} does not allow: a pull request's gitops.yaml may only narrow a preview's sandbox; the platform team can list {gk} under preview.allowClusterScoped in the policy",
                                        policy.describe()
                                    ),
                                });
                            }
                        }
                    }
                    sb.allow_cluster_scoped = own.iter().map(|(gk, _)| gk.clone()).collect();
                }
                // A template the policy sets is the platform's: gitops.yaml may repeat it,
                // not change it; one the policy leaves alone is gitops.yaml's.
                let templates = [
                    (
                        "namespace",
                        &policy.preview.namespace,
                        &p.namespace,
                        &p.namespace_at,
                        &mut sb.namespace_template,
                    ),
                    (
                        "hosts",
                        &policy.preview.hosts,
                        &p.hosts,
                        &p.hosts_at,
                        &mut sb.hosts_template,
                    ),
                ];
                for (key, platform, own, own_at, into) in templates {
                    match (platform, own_at) {
                        (Some(t), Some(loc)) if preview && t != own => {
                            return Err(Error::Config {
                                loc: loc.clone(),
                                msg: format!(
                                    "preview.{key} is {own:?} here, but {} sets it to {t:?}, and gitops.yaml may not change it: remove preview.{key} from {}",
                                    policy.describe(),
                                    cfg.file
                                ),
                            });
                        }
                        (None, Some(_)) => into.clone_from(own),
                        _ => {}
                    }
                }
            }
            for ns in &policy.preview.protected_namespaces {
                sb.protected.push(Protected {
                    namespace: ns.clone(),
                    why: format!("protected by {}", policy.describe()),
                });
            }
        }
    }
    if let Some(cfg) = config {
        for (ns, _) in &cfg.preview.protected_namespaces {
            sb.protected.push(Protected {
                namespace: ns.clone(),
                why: format!("listed under preview.protectedNamespaces in {}", cfg.file),
            });
        }
        for env in &cfg.environments {
            if let Some(ns) = &env.namespace {
                sb.protected.push(Protected {
                    namespace: ns.clone(),
                    why: format!(
                        "environment {}'s namespace in {} (the preview's Namespace would be deleted with the pull request)",
                        env.name, cfg.file
                    ),
                });
            }
        }
    }
    Ok(sb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::gitops_yaml;

    fn policy(text: &str) -> Arc<Policy> {
        Arc::new(parse(text, "policy.yaml").unwrap_or_else(|e| panic!("{e}")))
    }

    fn gitops(text: &str) -> GitopsConfig {
        gitops_yaml::parse(text, "gitops.yaml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Ok(v) => panic!("accepted: {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn policy_file_parses() {
        let p = policy(
            "preview:\n  allowClusterScoped: [XBucket.s3.example.org, {group: ex.com, kind: Thing}, ClusterRole]\n  namespace: previews-{app}\n  protectedNamespaces: [argocd, crossplane-system]\n",
        );
        assert_eq!(p.preview.allow_cluster_scoped.len(), 3);
        assert_eq!(p.preview.namespace.as_deref(), Some("previews-{app}"));
        assert_eq!(
            p.preview.protected_namespaces,
            ["argocd", "crossplane-system"]
        );
        assert_eq!(p.build, BuildPolicy::default());
        let p = policy("build:\n  allowRemoteResources: true\n  timeoutSeconds: 5\n");
        assert!(p.build.allow_remote_resources);
        assert!(!p.build.allow_outside_repository);
        assert_eq!(p.build.timeout_seconds, 5);
        assert_eq!(
            *policy(""),
            Policy {
                file: Some(Arc::from("policy.yaml")),
                ..Policy::default()
            }
        );
    }

    /// (policy text, expected start of the error)
    const BAD: &[(&str, &str)] = &[
        (
            "previews: {}\n",
            "policy.yaml:1:1: unknown key \"previews\" in the platform policy",
        ),
        (
            "preview: {allowClusterScope: []}\n",
            "policy.yaml:1:11: unknown key \"allowClusterScope\" in preview",
        ),
        (
            "preview: {allowClusterScoped: ['*']}\n",
            "policy.yaml:1:32: preview.allowClusterScoped",
        ),
        (
            "preview: {allowClusterScoped: Foo}\n",
            "policy.yaml:1:31: preview.allowClusterScoped must be a list",
        ),
        (
            "preview: {namespace: 'Pr-{pr}'}\n",
            "policy.yaml:1:22: preview.namespace \"Pr-{pr}\": must give a DNS-1123 label",
        ),
        (
            "preview: {protectedNamespaces: [Argo_CD]}\n",
            "policy.yaml:1:33: preview.protectedNamespaces: \"Argo_CD\"",
        ),
        (
            "preview: {}\n---\npreview: {}\n",
            "policy.yaml:3:1: a platform policy holds one document",
        ),
        (
            "preview: {}\npreview: {}\n",
            "policy.yaml:2:1: duplicate key",
        ),
        (
            "[a]\n",
            "policy.yaml:1:1: the platform policy must be a mapping",
        ),
    ];

    #[test]
    fn policy_errors_are_located() {
        for (text, want) in BAD {
            let got = err(parse(text, "policy.yaml"));
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn trusted_gitops_yaml_decides_alone() {
        let c = gitops(
            "preview:\n  allowClusterScoped: [ClusterRoleBinding.rbac.authorization.k8s.io]\n  namespace: x-{pr}\n",
        );
        let sb = sandbox(Some(&c), None, true).unwrap_or_else(|e| panic!("{e}"));
        assert!(sb.allows(&GroupKind::new(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding"
        )));
        assert_eq!(sb.namespace_template, "x-{pr}");
    }

    #[test]
    fn under_a_policy_gitops_yaml_may_only_narrow() {
        let c = gitops(
            "preview:\n  allowClusterScoped: [ClusterRoleBinding.rbac.authorization.k8s.io]\n",
        );
        for p in [
            policy(""),
            Arc::new(Policy::default()),
            policy("preview: {allowClusterScoped: [ClusterRole.rbac.authorization.k8s.io]}\n"),
        ] {
            let got = err(sandbox(Some(&c), Some(&p), true));
            assert!(got.starts_with("gitops.yaml:2:24: preview.allowClusterScoped lists ClusterRoleBinding.rbac.authorization.k8s.io, which the platform policy"), "{got}");
        }
        // Not a preview: the preview keys do not apply.
        assert!(sandbox(Some(&c), Some(&policy("")), false).is_ok());

        // Covered entries narrow: a bare kind in the policy covers every group.
        let p = policy("preview: {allowClusterScoped: [XBucket, Thing.ex.com]}\n");
        let c = gitops("preview: {allowClusterScoped: [XBucket.s3.example.org]}\n");
        let sb = sandbox(Some(&c), Some(&p), true).unwrap_or_else(|e| panic!("{e}"));
        assert!(sb.allows(&GroupKind::new("s3.example.org", "XBucket")));
        assert!(!sb.allows(&GroupKind::new("other.org", "XBucket")));
        assert!(!sb.allows(&GroupKind::new("ex.com", "Thing")));
        // An empty list narrows to nothing; no list keeps the policy's.
        let c = gitops("preview: {allowClusterScoped: []}\n");
        let sb = sandbox(Some(&c), Some(&p), true).unwrap_or_else(|e| panic!("{e}"));
        assert!(sb.allow_cluster_scoped.is_empty());
        let c = gitops("app: a\n");
        let sb = sandbox(Some(&c), Some(&p), true).unwrap_or_else(|e| panic!("{e}"));
        assert!(sb.allows(&GroupKind::new("ex.com", "Thing")));
        // A bare kind in gitops.yaml is wider than a grouped one in the policy.
        let p = policy("preview: {allowClusterScoped: [XBucket.s3.example.org]}\n");
        let c = gitops("preview: {allowClusterScoped: [XBucket]}\n");
        assert!(err(sandbox(Some(&c), Some(&p), true)).contains("lists XBucket, which"));
    }

    #[test]
    fn the_namespace_template_is_the_policys() {
        let p = policy("preview: {namespace: 'previews-{app}'}\n");
        let sb = sandbox(None, Some(&p), true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sb.namespace_template, "previews-{app}");
        let c = gitops("preview: {namespace: 'mine-{pr}'}\n");
        let got = err(sandbox(Some(&c), Some(&p), true));
        assert!(got.starts_with("gitops.yaml:1:22: preview.namespace is \"mine-{pr}\" here, but the platform policy policy.yaml sets it to \"previews-{app}\""), "{got}");
        // Without a policy template, gitops.yaml's (which always holds {pr}) applies.
        let sb = sandbox(Some(&c), Some(&policy("")), true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sb.namespace_template, "mine-{pr}");
    }

    #[test]
    fn the_hosts_template_is_the_policys_when_it_sets_one() {
        let p = policy("preview: {hosts: 'pr-{pr}-{label}.previews.example.net'}\n");
        let sb = sandbox(None, Some(&p), true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sb.hosts_template, "pr-{pr}-{label}.previews.example.net");
        let c = gitops("preview: {hosts: '{label}-{pr}.{rest}'}\n");
        let got = err(sandbox(Some(&c), Some(&p), true));
        assert!(
            got.starts_with("gitops.yaml:1:18: preview.hosts is \"{label}-{pr}.{rest}\" here"),
            "{got}"
        );
        let sb = sandbox(Some(&c), Some(&policy("")), true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sb.hosts_template, "{label}-{pr}.{rest}");
        let sb = sandbox(Some(&c), None, true).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sb.hosts_template, "{label}-{pr}.{rest}");
        assert!(
            err(parse("preview: {hosts: '{rest}{rest}-{pr}'}\n", "p.yaml")).contains("only once")
        );
    }

    #[test]
    fn protected_namespaces_add_up() {
        let p = policy("preview: {protectedNamespaces: [argocd]}\n");
        let c = gitops(
            "environments:\n  prod: {namespace: shop}\npreview: {protectedNamespaces: [vault]}\n",
        );
        let sb = sandbox(Some(&c), Some(&p), true).unwrap_or_else(|e| panic!("{e}"));
        for ns in [
            "kube-system",
            "kube-public",
            "kube-node-lease",
            "default",
            "argocd",
            "vault",
            "shop",
        ] {
            assert!(sb.protection(ns).is_some(), "{ns}");
        }
        assert!(sb.protection("shop-pr-1").is_none());
        let sb = sandbox(Some(&c), None, true).unwrap_or_else(|e| panic!("{e}"));
        assert!(sb.protection("argocd").is_none());
        assert!(sb.protection("vault").is_some());
    }

    #[test]
    fn namespace_templates() {
        assert!(namespace_template_problem("{app}-pr-{pr}", true).is_none());
        assert!(namespace_template_problem("previews", true).is_some());
        assert!(namespace_template_problem("previews", false).is_none());
        assert!(namespace_template_problem("{app}_{pr}", false).is_some());
    }
}
