//! Identity: which app, environment, pull request and namespace a render is for
//! (DESIGN.md §2), resolved once from layered sources and validated before anything renders.
//!
//! | field     | precedence (first set wins)                                                      |
//! |-----------|----------------------------------------------------------------------------------|
//! | every one | command line > plugin parameters > `ARGOCD_ENV_GITOPS_*` > `GITOPS_*` (sidecar) |
//! | env       | then nothing (a preview without `--env` inherits `preview.from`)                 |
//! | pr        | then nothing: not a preview                                                      |
//! | namespace | preview: `preview.namespace` (default `{app}-pr-{pr}`); otherwise the environment's `namespace:`, else `ARGOCD_APP_NAMESPACE`, else namespaces are left alone |
//! | app       | `app:` in gitops.yaml, else the name of the folder holding gitops.yaml, else the rendered directory's name: folder names as they are in the repository (in Argo CD from `ARGOCD_APP_SOURCE_PATH`), so a local render and Argo CD agree; at the repository root there is none |
//!
//! A render *has identity* when env, pr or namespace comes from a layer; only then is `app`
//! resolved and validated. Two layers that disagree produce a warning naming both.
//!
//! A preview's namespace is checked against its sandbox ([`crate::config::policy`]) whatever
//! layer or template it comes from: never a system namespace, a protected one, or an
//! environment's.

use std::sync::Arc;

use crate::config::gitops_yaml::{Environment, GitopsConfig};
use crate::config::policy::{self, Policy, Sandbox};
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::naming;

/// One value and where it came from (`--env`, `ARGOCD_ENV_GITOPS_ENV`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sourced {
    pub value: String,
    pub source: String,
}

impl Sourced {
    pub fn new(value: impl Into<String>, source: impl Into<String>) -> Self {
        Sourced {
            value: value.into(),
            source: source.into(),
        }
    }
}

/// Candidates for each identity field, highest precedence first.
#[derive(Clone, Debug, Default)]
pub struct IdentityRequest {
    pub app: Vec<Sourced>,
    pub env: Vec<Sourced>,
    pub pr: Vec<Sourced>,
    pub namespace: Vec<Sourced>,
    /// `ARGOCD_APP_NAMESPACE`: the destination namespace, possibly empty.
    pub argocd_app_namespace: Option<String>,
    /// The name of the folder holding gitops.yaml, inside the repository (`None` at the
    /// repository root): the default for `app` after gitops.yaml's `app:`.
    pub app_dir_name: Option<String>,
    /// The rendered directory's name inside the repository (`None` at the root), the last
    /// default for `app`.
    pub dir_name: Option<String>,
    /// The platform policy, when the render applies one (`generate`, `preview up`,
    /// `render --policy`); `None`: gitops.yaml is trusted to set a preview's sandbox
    /// (DESIGN.md §3).
    pub policy: Option<Arc<Policy>>,
}

impl IdentityRequest {
    /// The candidates of a field (`env`, `pr`, `namespace`, `app`).
    pub fn field_mut(&mut self, field: &str) -> &mut Vec<Sourced> {
        match field {
            "env" => &mut self.env,
            "pr" => &mut self.pr,
            "namespace" => &mut self.namespace,
            _ => &mut self.app,
        }
    }

    /// Whether any layer gives env, pr or namespace (the render has identity).
    pub fn has_identity(&self) -> bool {
        !self.env.is_empty() || !self.pr.is_empty() || !self.namespace.is_empty()
    }
}

/// A value as a message may show it: not at all when it came from a plugin parameter
/// (Argo CD shows error messages in its UI; a malformed parameter is not repeated there),
/// otherwise quoted and cut to a readable length.
pub fn shown(s: &Sourced) -> String {
    if s.source.starts_with("plugin parameter") {
        return "(its value is not shown)".into();
    }
    let cut: String = s.value.chars().take(80).collect();
    if cut.len() < s.value.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

/// A resolved, validated identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    pub app: Option<String>,
    /// The environment label (`--env`, or `preview.from` in a preview).
    pub env: Option<String>,
    pub pr: Option<String>,
    /// The target namespace, when one is decided.
    pub namespace: Option<String>,
}

impl Identity {
    /// Whether this render changes anything at all.
    pub fn is_set(&self) -> bool {
        self.env.is_some() || self.pr.is_some() || self.namespace.is_some()
    }

    pub fn is_preview(&self) -> bool {
        self.pr.is_some()
    }

    /// Expands `{app}`, `{env}` and `{pr}` in a gitops.yaml template.
    pub fn expand(&self, template: &str) -> String {
        template
            .replace("{app}", self.app.as_deref().unwrap_or(""))
            .replace("{env}", self.env.as_deref().unwrap_or(""))
            .replace("{pr}", self.pr.as_deref().unwrap_or(""))
    }
}

/// The identity plus the gitops.yaml environment whose settings apply.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub identity: Identity,
    pub environment: Option<Environment>,
    /// What a preview may carry and where it may go.
    pub sandbox: Sandbox,
    pub warnings: Vec<Warning>,
}

/// Picks the first candidate, warning when a lower layer disagrees.
fn pick(field: &str, candidates: &[Sourced], warnings: &mut Vec<Warning>) -> Option<Sourced> {
    let first = candidates.first()?.clone();
    for other in &candidates[1..] {
        if other.value != first.value {
            warnings.push(Warning::general(format!(
                "{field} is {:?} from {} and {:?} from {}; using {}",
                first.value, first.source, other.value, other.source, first.source
            )));
        }
    }
    Some(first)
}

/// Resolves and validates an identity.
pub fn resolve(req: &IdentityRequest, config: Option<&GitopsConfig>) -> Result<Resolved> {
    let mut warnings = Vec::new();
    let env = pick("env", &req.env, &mut warnings);
    let pr = pick("pr", &req.pr, &mut warnings);
    let namespace = pick("namespace", &req.namespace, &mut warnings);
    let app = pick("app", &req.app, &mut warnings);

    if let Some(e) = &env {
        if !naming::is_dns1123_label(&e.value) {
            return Err(Error::Usage(format!(
                "{} {} is not a valid environment name: use a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)",
                e.source,
                shown(e)
            )));
        }
    }
    if let Some(p) = &pr {
        let v = &p.value;
        if v.is_empty()
            || v.len() > 10
            || !v.bytes().all(|b| b.is_ascii_digit())
            || v.starts_with('0')
        {
            return Err(Error::Usage(format!(
                "{} {} is not a pull request number: use 1 to 10 digits without a leading zero",
                p.source,
                shown(p)
            )));
        }
    }
    if let Some(n) = &namespace {
        if !naming::is_dns1123_label(&n.value) {
            return Err(Error::Usage(format!(
                "{} {} is not a valid namespace: use a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)",
                n.source,
                shown(n)
            )));
        }
    }

    let mut identity = Identity {
        env: env.as_ref().map(|e| e.value.clone()),
        pr: pr.as_ref().map(|p| p.value.clone()),
        namespace: namespace.as_ref().map(|n| n.value.clone()),
        app: None,
    };
    if !identity.is_set() {
        // A faithful pass-through: nothing else is resolved.
        return Ok(Resolved {
            identity,
            environment: None,
            sandbox: Sandbox::default(),
            warnings,
        });
    }
    let sandbox = policy::sandbox(config, req.policy.as_ref(), identity.is_preview())?;

    // The environment whose settings apply: the named one, or a preview's `from:`.
    let mut environment = None;
    if let Some(cfg) = config {
        if let Some(e) = &env {
            match cfg.environment(&e.value) {
                Some(found) => environment = Some(found.clone()),
                None => {
                    return Err(Error::Usage(format!(
                        "{} {} is not an environment of {} ({}): a typo must not render a half-configured environment",
                        e.source,
                        shown(e),
                        cfg.file,
                        listed(cfg)
                    )));
                }
            }
        } else if identity.is_preview() {
            if let Some(from) = &cfg.preview.from {
                environment = cfg.environment(from).cloned();
                identity.env = Some(from.clone());
            }
        }
    }

    // app: layers > gitops.yaml's app: > the folder holding gitops.yaml > the rendered
    // directory. Folder names are the repository's, never a temporary checkout's.
    let app = match app {
        Some(a) => a,
        None => match config.and_then(|c| c.app.as_ref()) {
            Some((a, loc)) => Sourced::new(a.clone(), format!("app in {}", loc.file)),
            None => match (config, &req.app_dir_name, &req.dir_name) {
                (Some(c), Some(d), _) => Sourced::new(
                    d.clone(),
                    format!("the name of the folder holding {}", c.file),
                ),
                (Some(c), None, _) => {
                    return Err(Error::Usage(format!(
                        "no app name: {} is at the repository root, so no folder names the app; set app: in it (or --app)",
                        c.file
                    )));
                }
                (None, _, Some(d)) => Sourced::new(d.clone(), "the rendered directory's name"),
                (None, _, None) => {
                    return Err(Error::Usage(
                        "no app name: the rendered directory is the repository root, so no folder names the app; set --app, or app: in a gitops.yaml".into(),
                    ));
                }
            },
        },
    };
    if !naming::is_dns1123_label(&app.value) {
        return Err(Error::Usage(format!(
            "app {} (from {}) is not a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters): set --app or app: in gitops.yaml",
            shown(&app),
            app.source
        )));
    }
    identity.app = Some(app.value);

    if identity.namespace.is_none() {
        identity.namespace = if identity.is_preview() {
            let suffix_template = config.map_or("-pr-{pr}", |c| c.preview.name_suffix.as_str());
            Some(preview_namespace(
                &identity,
                &sandbox.namespace_template,
                suffix_template,
            ))
        } else {
            environment
                .as_ref()
                .and_then(|e| e.namespace.clone())
                .or_else(|| req.argocd_app_namespace.clone().filter(|n| !n.is_empty()))
        };
    }
    if let (true, Some(ns)) = (identity.is_preview(), &identity.namespace) {
        if let Some(p) = sandbox.protection(ns) {
            let from = match &namespace {
                Some(n) => n.source.clone(),
                None => format!(
                    "the preview namespace template {:?}",
                    sandbox.namespace_template
                ),
            };
            return Err(Error::Usage(format!(
                "a preview may not render into namespace {ns} (from {from}): it is {}; a preview owns its namespace, and closing the pull request deletes it",
                p.why
            )));
        }
    }
    Ok(Resolved {
        identity,
        environment,
        sandbox,
        warnings,
    })
}

fn listed(cfg: &GitopsConfig) -> String {
    let names = cfg.environment_names();
    if names.is_empty() {
        "it lists none".into()
    } else {
        format!("it lists {}", names.join(", "))
    }
}

/// The preview namespace from its template, shortened to 63 characters with the same rule as
/// names, keeping the expanded name suffix whole when the template ends with it.
fn preview_namespace(identity: &Identity, template: &str, suffix_template: &str) -> String {
    let full = identity.expand(template);
    let suffix = identity.expand(suffix_template);
    match full.strip_suffix(&suffix) {
        Some(head) if !head.is_empty() => naming::fit(head, &suffix, 63),
        _ => naming::fit(&full, "", 63),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::gitops_yaml;
    use std::path::Path;

    fn cfg() -> GitopsConfig {
        gitops_yaml::parse(
            "app: shop\nenvironments:\n  dev: {namespace: shop-dev, labels: {team: a}}\n  prod: {namespace: shop}\npreview: {from: dev}\n",
            "gitops.yaml",
            Path::new("."),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn req(env: &[&str], pr: &[&str], ns: &[&str]) -> IdentityRequest {
        let s = |v: &[&str], src: &str| {
            v.iter()
                .enumerate()
                .map(|(i, x)| Sourced::new(*x, format!("{src}#{i}")))
                .collect()
        };
        IdentityRequest {
            env: s(env, "env"),
            pr: s(pr, "pr"),
            namespace: s(ns, "ns"),
            dir_name: Some("dir".into()),
            ..IdentityRequest::default()
        }
    }

    #[test]
    fn environment_render() {
        let r = resolve(&req(&["prod"], &[], &[]), Some(&cfg())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.identity.namespace.as_deref(), Some("shop"));
        assert_eq!(r.identity.app.as_deref(), Some("shop"));
    }

    #[test]
    fn preview_inherits_from() {
        let r = resolve(&req(&[], &["123"], &[]), Some(&cfg())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.identity.env.as_deref(), Some("dev"));
        assert_eq!(r.identity.namespace.as_deref(), Some("shop-pr-123"));
        assert_eq!(r.environment.map(|e| e.labels.len()), Some(1));
    }

    #[test]
    fn no_identity_is_pass_through() {
        let r = resolve(&req(&[], &[], &[]), Some(&cfg())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.identity, Identity::default());
    }

    #[test]
    fn bad_values_are_refused() {
        for (env, pr, want) in [
            (
                "Prod_1",
                "",
                "env#0 \"Prod_1\" is not a valid environment name",
            ),
            ("", "12a", "pr#0 \"12a\" is not a pull request number"),
            ("", "012", "pr#0 \"012\" is not a pull request number"),
            (
                "qa",
                "",
                "env#0 \"qa\" is not an environment of gitops.yaml (it lists dev, prod)",
            ),
        ] {
            let e: Vec<&str> = if env.is_empty() { vec![] } else { vec![env] };
            let p: Vec<&str> = if pr.is_empty() { vec![] } else { vec![pr] };
            let got = resolve(&req(&e, &p, &[]), Some(&cfg()))
                .err()
                .map(|e| e.to_string());
            assert!(
                got.as_deref().is_some_and(|g| g.starts_with(want)),
                "{got:?}"
            );
        }
    }

    #[test]
    fn disagreeing_layers_warn() {
        let r = resolve(&req(&["dev", "prod"], &[], &[]), Some(&cfg()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.identity.env.as_deref(), Some("dev"));
        assert_eq!(r.warnings.len(), 1);
    }

    #[test]
    fn long_preview_namespaces_keep_their_suffix() {
        let id = Identity {
            app: Some("a".repeat(60)),
            pr: Some("123".into()),
            ..Identity::default()
        };
        let ns = preview_namespace(&id, "{app}-pr-{pr}", "-pr-{pr}");
        assert_eq!(ns.len(), 63);
        assert!(ns.ends_with("-pr-123"));
    }

    #[test]
    fn app_defaults() {
        let no_app = gitops_yaml::parse(
            "environments: {dev: {}}\n",
            "apps/shop/gitops.yaml",
            Path::new("."),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut r = req(&["dev"], &[], &[]);
        r.app_dir_name = Some("shop".into());
        let got = resolve(&r, Some(&no_app)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.identity.app.as_deref(), Some("shop"));
        // gitops.yaml at the repository root: no folder names the app.
        r.app_dir_name = None;
        let e = resolve(&r, Some(&no_app)).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("repository root")),
            "{e:?}"
        );
        // No gitops.yaml: the rendered directory, unless it is the root.
        let got = resolve(&r, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.identity.app.as_deref(), Some("dir"));
        r.dir_name = None;
        assert!(resolve(&r, None).is_err());
    }

    #[test]
    fn parameter_values_are_not_echoed() {
        let r = IdentityRequest {
            pr: vec![Sourced::new("12\nsecret", "plugin parameter pr")],
            ..IdentityRequest::default()
        };
        let e = resolve(&r, None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.starts_with(
                "plugin parameter pr (its value is not shown) is not a pull request number"
            ),
            "{e}"
        );
    }
}
