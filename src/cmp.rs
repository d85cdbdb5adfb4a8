//! The Argo CD Config Management Plugin side: the only module that knows Argo CD's variable
//! names (`argocd-cmp-contract.md` §1). It is pure: it reads an environment *map*, so tests
//! never touch the process environment.
//!
//! Identity layers, highest first (DESIGN.md §2):
//! 1. `ARGOCD_APP_PARAMETERS`: `spec.source.plugin.parameters` as JSON (`[{"name": "env",
//!    "string": "dev"}]`); the literal `null` or an absent variable means none;
//! 2. `ARGOCD_ENV_GITOPS_ENV` / `_PR` / `_NAMESPACE` / `_APP` from `spec.source.plugin.env`
//!    (a doubled `ARGOCD_ENV_ARGOCD_ENV_GITOPS_*`, a common mistake, is honoured with a warning
//!    when the right one is absent);
//! 3. plain `GITOPS_*` in the sidecar's own environment (a per-cluster default);
//!
//! then `ARGOCD_APP_NAME` (without the `<namespace>_` prefix and, in a preview, a trailing
//! `-pr-<pr>`) as the app default and `ARGOCD_APP_NAMESPACE` (the destination namespace, may be
//! empty) as the namespace default. Empty values count as unset: Argo CD exports an empty
//! string for a plugin env entry with no value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{IdentityRequest, Sourced};
use crate::diag::Warning;
use crate::error::{Error, Result};

/// The identity fields, as named in parameters and (upper-cased) in `GITOPS_*` variables.
pub const FIELDS: [&str; 4] = ["env", "pr", "namespace", "app"];

/// What the Argo CD environment says, resolved into layers.
#[derive(Debug, Default)]
pub struct CmpEnv {
    pub identity: IdentityRequest,
    /// Where gitops.yaml lookup stops: the repository root Argo CD extracted.
    pub repo_root: Option<PathBuf>,
    pub warnings: Vec<Warning>,
}

/// Reads the Argo CD environment. `cwd` is the app directory Argo CD runs the plugin in.
pub fn from_vars(vars: &[(String, String)], cwd: &Path) -> Result<CmpEnv> {
    let map: BTreeMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let get = |k: &str| map.get(k).copied().filter(|v| !v.is_empty());
    let mut out = CmpEnv::default();

    let params = parse_parameters(get("ARGOCD_APP_PARAMETERS"))?;
    for (name, value) in &params {
        if !FIELDS.contains(&name.as_str()) {
            out.warnings.push(Warning::general(format!(
                "plugin parameter {name:?} is not one kubectl-gitops reads (it reads {}); ignored",
                FIELDS.join(", ")
            )));
        }
        let _ = value;
    }
    for field in FIELDS {
        let mut candidates = Vec::new();
        if let Some((_, v)) = params.iter().find(|(n, _)| n == field) {
            if !v.is_empty() {
                candidates.push(Sourced::new(v.clone(), format!("plugin parameter {field}")));
            }
        }
        let upper = field.to_ascii_uppercase();
        let env_name = format!("ARGOCD_ENV_GITOPS_{upper}");
        let doubled = format!("ARGOCD_ENV_ARGOCD_ENV_GITOPS_{upper}");
        match (get(&env_name), get(&doubled)) {
            (Some(v), _) => candidates.push(Sourced::new(v, env_name.clone())),
            (None, Some(v)) => {
                out.warnings.push(Warning::general(format!(
                    "{doubled} is set: Argo CD adds the ARGOCD_ENV_ prefix itself, so the plugin env entry should be named GITOPS_{upper}; honouring it"
                )));
                candidates.push(Sourced::new(v, doubled.clone()));
            }
            (None, None) => {}
        }
        let plain = format!("GITOPS_{upper}");
        if let Some(v) = get(&plain) {
            candidates.push(Sourced::new(v, format!("{plain} (sidecar environment)")));
        }
        match field {
            "env" => out.identity.env = candidates,
            "pr" => out.identity.pr = candidates,
            "namespace" => out.identity.namespace = candidates,
            _ => out.identity.app = candidates,
        }
    }
    out.identity.argocd_app_name = get("ARGOCD_APP_NAME").map(str::to_string);
    out.identity.argocd_app_namespace = map.get("ARGOCD_APP_NAMESPACE").map(|s| s.to_string());
    out.repo_root = get("ARGOCD_APP_SOURCE_PATH").and_then(|p| repo_root(cwd, p));
    Ok(out)
}

/// The string value of each plugin parameter, in order. Array and map parameters are kept as
/// empty strings so that a name kubectl-gitops reads, given the wrong type, is an error.
fn parse_parameters(raw: Option<&str>) -> Result<Vec<(String, String)>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let bad = |why: String| {
        Error::Usage(format!(
            "ARGOCD_APP_PARAMETERS is not Argo CD's plugin parameter list ({why}): {}",
            truncate(raw, 200)
        ))
    };
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
    let items = match value {
        serde_json::Value::Null => return Ok(Vec::new()),
        serde_json::Value::Array(items) => items,
        _ => return Err(bad("not a JSON array".into())),
    };
    let mut out = Vec::new();
    for item in items {
        let Some(obj) = item.as_object() else {
            return Err(bad("an entry is not an object".into()));
        };
        let Some(name) = obj.get("name").and_then(|n| n.as_str()) else {
            return Err(bad("an entry has no name".into()));
        };
        match obj.get("string") {
            Some(serde_json::Value::String(s)) => out.push((name.to_string(), s.clone())),
            _ if FIELDS.contains(&name)
                && (obj.contains_key("array") || obj.contains_key("map")) =>
            {
                return Err(Error::Usage(format!(
                    "plugin parameter {name:?} must be a string parameter (`string: ...`), not an array or a map"
                )));
            }
            _ => out.push((name.to_string(), String::new())),
        }
    }
    Ok(out)
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The repository root: the working directory with `ARGOCD_APP_SOURCE_PATH` removed from its
/// end. `None` when the path does not end that way (Argo CD's manifest-generate-paths
/// narrowing), and lookup falls back to the nearest `.git`.
pub fn repo_root(cwd: &Path, source_path: &str) -> Option<PathBuf> {
    let cwd = cwd.canonicalize().ok()?;
    let parts: Vec<&str> = source_path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut root = cwd.as_path();
    for part in parts.iter().rev() {
        if root.file_name().and_then(|n| n.to_str()) != Some(part) {
            return None;
        }
        root = root.parent()?;
    }
    Some(root.to_path_buf())
}

/// One entry of the parameter announcement (`ParameterAnnouncement` in Argo CD's
/// `repository.proto`). Keys are written in Argo CD's spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub name: &'static str,
    pub title: &'static str,
    pub tooltip: String,
    pub default: Option<String>,
}

impl Announcement {
    pub fn to_json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("name".into(), self.name.into());
        m.insert("title".into(), self.title.into());
        m.insert("tooltip".into(), self.tooltip.clone().into());
        m.insert("required".into(), false.into());
        m.insert("itemType".into(), "string".into());
        m.insert("collectionType".into(), "string".into());
        if let Some(d) = &self.default {
            m.insert("string".into(), d.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    fn env_of(pairs: &[(&str, &str)]) -> CmpEnv {
        from_vars(&vars(pairs), Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parameters_win_over_plugin_env_and_sidecar_env() {
        let e = env_of(&[
            (
                "ARGOCD_APP_PARAMETERS",
                r#"[{"name":"env","string":"prod"},{"name":"pr","string":""}]"#,
            ),
            ("ARGOCD_ENV_GITOPS_ENV", "staging"),
            ("GITOPS_ENV", "dev"),
        ]);
        let envs: Vec<_> = e.identity.env.iter().map(|s| s.value.as_str()).collect();
        assert_eq!(envs, ["prod", "staging", "dev"]);
        assert!(e.identity.pr.is_empty());
    }

    #[test]
    fn null_and_absent_parameters_are_none() {
        for raw in ["null", ""] {
            let e = env_of(&[
                ("ARGOCD_APP_PARAMETERS", raw),
                ("ARGOCD_ENV_GITOPS_PR", "5"),
            ]);
            assert_eq!(e.identity.pr.len(), 1);
        }
    }

    #[test]
    fn doubled_prefix_is_honoured_with_a_warning() {
        let e = env_of(&[("ARGOCD_ENV_ARGOCD_ENV_GITOPS_ENV", "dev")]);
        assert_eq!(e.identity.env[0].value, "dev");
        assert_eq!(e.warnings.len(), 1);
        let e = env_of(&[
            ("ARGOCD_ENV_ARGOCD_ENV_GITOPS_ENV", "dev"),
            ("ARGOCD_ENV_GITOPS_ENV", "prod"),
        ]);
        assert_eq!(e.identity.env.len(), 1);
        assert_eq!(e.identity.env[0].value, "prod");
    }

    #[test]
    fn bad_parameters_are_errors() {
        for raw in [
            "{",
            r#"{"name":"env"}"#,
            r#"[{"string":"x"}]"#,
            r#"[{"name":"env","array":["a"]}]"#,
        ] {
            assert!(
                from_vars(&vars(&[("ARGOCD_APP_PARAMETERS", raw)]), Path::new(".")).is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn unknown_parameters_warn() {
        let e = env_of(&[(
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"helm-values","map":{"a":"b"}}]"#,
        )]);
        assert_eq!(e.warnings.len(), 1);
    }

    #[test]
    fn repo_root_strips_the_source_path() {
        let dir = std::env::temp_dir().join(format!("kg-cmp-{}", std::process::id()));
        let app = dir.join("apps").join("shop");
        std::fs::create_dir_all(&app).unwrap_or_else(|e| panic!("{e}"));
        let canon = dir.canonicalize().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(repo_root(&app, "apps/shop"), Some(canon.clone()));
        assert_eq!(repo_root(&app, "./apps/shop/"), Some(canon));
        assert_eq!(repo_root(&app, "other/shop"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
