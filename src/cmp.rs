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
//! then `ARGOCD_APP_NAMESPACE` (the destination namespace, may be empty) as the namespace
//! default. The app default does not come from Argo CD at all: it is gitops.yaml's `app:` or a
//! folder name from `ARGOCD_APP_SOURCE_PATH`, the same as a local render (see
//! [`crate::render`]). Empty values count as unset: Argo CD exports an empty string for a
//! plugin env entry with no value.
//!
//! **Fail closed** ([`Strictness::Refuse`], `generate`): a name that looks meant for
//! kubectl-gitops but is not one it reads is an error naming the known ones with a
//! did-you-mean: `GITOPS_ENVIRONMENT` in the sidecar, `ARGOCD_ENV_GITOPS_NAMESPACES`, a plugin
//! env entry `ENV` or `PR`, a plugin parameter `environment`. So are a parameter given twice
//! and one whose value is not a string (`"string": 12`, `null`, missing, an array or a map).
//! `ARGOCD_ENV_GITOPS_POLICY` is refused: the platform policy comes only from the sidecar.
//! `render` ([`Strictness::Warn`]) reads only the plain `GITOPS_*` layer and warns instead.
//! Messages never repeat a parameter's value: Argo CD shows them in its UI.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::{IdentityRequest, Sourced};
use crate::diag::Warning;
use crate::error::{Error, Result};

/// The identity fields, as named in parameters and (upper-cased) in `GITOPS_*` variables.
pub const FIELDS: [&str; 4] = ["env", "pr", "namespace", "app"];

/// `GITOPS_*` names kubectl-gitops reads besides the identity fields.
pub const OTHER_NAMES: [&str; 1] = ["POLICY"];

/// What an unknown name is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strictness {
    /// An error (`generate`: fail closed).
    Refuse,
    /// A warning (`render`).
    Warn,
}

/// What the Argo CD environment says, resolved into layers.
#[derive(Debug, Default)]
pub struct CmpEnv {
    pub identity: IdentityRequest,
    /// Where gitops.yaml lookup stops: the repository root Argo CD extracted.
    pub repo_root: Option<PathBuf>,
    /// `ARGOCD_APP_SOURCE_PATH`: the rendered directory's path inside the repository.
    pub source_path: Option<String>,
    /// `GITOPS_POLICY` from the sidecar: the platform policy file.
    pub policy: Option<PathBuf>,
    pub warnings: Vec<Warning>,
}

/// Reads the Argo CD environment (`generate`, and `check --argocd` playing it). `cwd` is the
/// app directory Argo CD runs the plugin in. Fails closed on names it does not know.
pub fn from_vars(vars: &[(String, String)], cwd: &Path) -> Result<CmpEnv> {
    let map: BTreeMap<&str, &str> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let get = |k: &str| map.get(k).copied().filter(|v| !v.is_empty());
    let mut out = CmpEnv::default();

    check_plugin_env_names(&map, &mut out.warnings)?;
    let sidecar = process_env_layer(vars, Strictness::Refuse, &mut out.warnings)?;
    let params = parse_parameters(get("ARGOCD_APP_PARAMETERS"))?;
    for field in FIELDS {
        let mut candidates = Vec::new();
        if let Some(v) = params.get(field).filter(|v| !v.is_empty()) {
            candidates.push(Sourced::new(v.clone(), format!("plugin parameter {field}")));
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
        candidates.extend(sidecar.field(field).cloned());
        *out.identity.field_mut(field) = candidates;
    }
    out.identity.argocd_app_namespace = map.get("ARGOCD_APP_NAMESPACE").map(|s| s.to_string());
    out.source_path = get("ARGOCD_APP_SOURCE_PATH").map(str::to_string);
    out.repo_root = out.source_path.as_deref().and_then(|p| repo_root(cwd, p));
    out.policy = sidecar.policy;
    Ok(out)
}

/// The plain `GITOPS_*` variables of a process environment: the sidecar-wide defaults in
/// `generate`, the shell's in `render`.
#[derive(Debug, Default)]
pub struct ProcessLayer {
    pub env: Option<Sourced>,
    pub pr: Option<Sourced>,
    pub namespace: Option<Sourced>,
    pub app: Option<Sourced>,
    /// `GITOPS_POLICY`.
    pub policy: Option<PathBuf>,
}

impl ProcessLayer {
    pub fn field(&self, field: &str) -> Option<&Sourced> {
        match field {
            "env" => self.env.as_ref(),
            "pr" => self.pr.as_ref(),
            "namespace" => self.namespace.as_ref(),
            _ => self.app.as_ref(),
        }
    }
}

/// Reads the plain `GITOPS_*` variables; an unknown `GITOPS_*` name is an error or a warning.
pub fn process_env_layer(
    vars: &[(String, String)],
    strictness: Strictness,
    warnings: &mut Vec<Warning>,
) -> Result<ProcessLayer> {
    let mut layer = ProcessLayer::default();
    let known: Vec<String> = FIELDS
        .iter()
        .map(|f| f.to_ascii_uppercase())
        .chain(OTHER_NAMES.iter().map(|s| (*s).to_string()))
        .map(|f| format!("GITOPS_{f}"))
        .collect();
    let mut names: Vec<&(String, String)> = vars.iter().collect();
    names.sort();
    for (name, value) in names {
        let Some(rest) = name.strip_prefix("GITOPS_") else {
            continue;
        };
        if !known.iter().any(|k| k == name) {
            let msg = format!(
                "{name} is set in the environment, but kubectl-gitops reads only {}{}",
                known.join(", "),
                did_you_mean(name, &known)
            );
            match strictness {
                Strictness::Refuse => {
                    return Err(Error::Usage(format!(
                        "{msg}; refusing to render with an identity that may not be the one intended"
                    )));
                }
                Strictness::Warn => {
                    warnings.push(Warning::general(format!("{msg}; ignored")));
                    continue;
                }
            }
        }
        if value.is_empty() {
            continue;
        }
        let sourced = Some(Sourced::new(
            value.clone(),
            match strictness {
                Strictness::Refuse => format!("{name} (sidecar environment)"),
                Strictness::Warn => format!("{name} (environment)"),
            },
        ));
        match rest {
            "ENV" => layer.env = sourced,
            "PR" => layer.pr = sourced,
            "NAMESPACE" => layer.namespace = sourced,
            "APP" => layer.app = sourced,
            _ => layer.policy = Some(PathBuf::from(value)),
        }
    }
    Ok(layer)
}

/// Plugin env entries (`ARGOCD_ENV_<name>`): an unknown `GITOPS_*` name, or one that looks
/// meant for an identity field (`ENV`, `PR`, `gitops_env`), is an error; any other is not
/// read (a warning).
fn check_plugin_env_names(map: &BTreeMap<&str, &str>, warnings: &mut Vec<Warning>) -> Result<()> {
    let known: Vec<String> = FIELDS
        .iter()
        .map(|f| format!("GITOPS_{}", f.to_ascii_uppercase()))
        .collect();
    for name in map.keys() {
        let Some(entry) = name.strip_prefix("ARGOCD_ENV_") else {
            continue;
        };
        let entry = entry.strip_prefix("ARGOCD_ENV_").unwrap_or(entry);
        if known.iter().any(|k| k == entry) {
            continue;
        }
        let shown = shown_name(entry);
        if entry == "GITOPS_POLICY" {
            return Err(Error::Usage(format!(
                "plugin env entry {shown} is refused: the platform policy comes only from the sidecar's own GITOPS_POLICY, never from an Application"
            )));
        }
        let upper = entry.to_ascii_uppercase().replace('-', "_");
        let looks_ours = upper.starts_with("GITOPS")
            || FIELDS.iter().any(|f| upper == f.to_ascii_uppercase())
            || did_you_mean_name(&upper, &known).is_some();
        if looks_ours {
            return Err(Error::Usage(format!(
                "plugin env entry {shown} is not one kubectl-gitops reads (it reads {}){}; refusing to render with an identity that may not be the one intended",
                known.join(", "),
                did_you_mean(&upper, &known)
            )));
        }
        warnings.push(Warning::general(format!(
            "plugin env entry {shown} is not one kubectl-gitops reads (it reads {}); ignored",
            known.join(", ")
        )));
    }
    Ok(())
}

/// A name as it may be shown: short printable names as they are, anything else described.
fn shown_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        name.to_string()
    } else {
        "(a name with unusual characters)".to_string()
    }
}

/// `; did you mean X?` when one known name is close to `name`, else nothing.
fn did_you_mean(name: &str, known: &[String]) -> String {
    did_you_mean_name(name, known).map_or_else(String::new, |k| format!("; did you mean {k}?"))
}

fn did_you_mean_name<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    let upper = name.to_ascii_uppercase();
    known
        .iter()
        .map(|k| {
            let ku = k.to_ascii_uppercase();
            let bare = |n: &str| n.strip_prefix("GITOPS_").unwrap_or(n).to_string();
            let score = if ku == upper {
                0
            } else if bare(&ku) == bare(&upper) || upper.starts_with(&ku) || ku.starts_with(&upper)
            {
                1
            } else {
                edit_distance(&upper, &ku) + 1
            };
            (score, k.as_str())
        })
        .filter(|(score, _)| *score <= 3)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance, for did-you-mean (short names only).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The string value of each plugin parameter kubectl-gitops reads. Fails closed: a parameter
/// it does not read, one given twice, or one whose value is not a string is an error. No
/// message repeats what the variable holds: Argo CD shows it in the Application's conditions.
fn parse_parameters(raw: Option<&str>) -> Result<BTreeMap<String, String>> {
    let Some(raw) = raw else {
        return Ok(BTreeMap::new());
    };
    let bad = |why: &str| {
        Error::Usage(format!(
            "ARGOCD_APP_PARAMETERS is not Argo CD's plugin parameter list: {why} (spec.source.plugin.parameters of the Application; its text is not shown)"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|_| bad("not valid JSON"))?;
    let items = match value {
        serde_json::Value::Null => return Ok(BTreeMap::new()),
        serde_json::Value::Array(items) => items,
        _ => return Err(bad("not a JSON array")),
    };
    let known: Vec<String> = FIELDS.iter().map(|f| (*f).to_string()).collect();
    let mut out = BTreeMap::new();
    for item in items {
        let Some(obj) = item.as_object() else {
            return Err(bad("an entry is not an object"));
        };
        let Some(name) = obj.get("name").and_then(|n| n.as_str()) else {
            return Err(bad("an entry has no name"));
        };
        let shown = shown_name(name);
        if !FIELDS.contains(&name) {
            return Err(Error::Usage(format!(
                "plugin parameter {shown} is not one kubectl-gitops reads (it reads {}){}; refusing to render with an identity that may not be the one intended",
                FIELDS.join(", "),
                did_you_mean(name, &known).to_ascii_lowercase()
            )));
        }
        let value = match obj.get("string") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None
                if obj.contains_key("array") || obj.contains_key("map") =>
            {
                return Err(Error::Usage(format!(
                    "plugin parameter {name} must be a string parameter (`string: ...`), not an array or a map"
                )));
            }
            Some(serde_json::Value::Null) | None => {
                return Err(Error::Usage(format!(
                    "plugin parameter {name} has no string value: give it as `string: ...` (an empty string means unset)"
                )));
            }
            Some(other) => {
                let what = match other {
                    serde_json::Value::Number(_) => "a number",
                    serde_json::Value::Bool(_) => "a boolean",
                    _ => "not a string",
                };
                return Err(Error::Usage(format!(
                    "plugin parameter {name} has {what} as its value: write it as a string (quote it)"
                )));
            }
        };
        if out.insert(name.to_string(), value).is_some() {
            return Err(Error::Usage(format!(
                "plugin parameter {name} is given twice: give it once"
            )));
        }
    }
    Ok(out)
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

    fn err_of(pairs: &[(&str, &str)]) -> String {
        match from_vars(&vars(pairs), Path::new(".")) {
            Ok(_) => panic!("accepted: {pairs:?}"),
            Err(e) => e.to_string(),
        }
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

    /// (variables, expected start of the error)
    const REFUSED: &[(&str, &str, &str)] = &[
        (
            "ARGOCD_APP_PARAMETERS",
            "{",
            "ARGOCD_APP_PARAMETERS is not Argo CD's plugin parameter list: not valid JSON",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"{"name":"env"}"#,
            "ARGOCD_APP_PARAMETERS is not Argo CD's plugin parameter list: not a JSON array",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"string":"x"}]"#,
            "ARGOCD_APP_PARAMETERS is not Argo CD's plugin parameter list: an entry has no name",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"env","array":["a"]}]"#,
            "plugin parameter env must be a string parameter",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"pr","string":12}]"#,
            "plugin parameter pr has a number as its value",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"pr","string":null}]"#,
            "plugin parameter pr has no string value",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"pr"}]"#,
            "plugin parameter pr has no string value",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"pr","string":"1"},{"name":"pr","string":"2"}]"#,
            "plugin parameter pr is given twice",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"environment","string":"prod"}]"#,
            "plugin parameter environment is not one kubectl-gitops reads (it reads env, pr, namespace, app); did you mean env?",
        ),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"helm-values","map":{"a":"b"}}]"#,
            "plugin parameter helm-values is not one kubectl-gitops reads",
        ),
        (
            "ARGOCD_ENV_GITOPS_ENVIRONMENT",
            "prod",
            "plugin env entry GITOPS_ENVIRONMENT is not one kubectl-gitops reads (it reads GITOPS_ENV, GITOPS_PR, GITOPS_NAMESPACE, GITOPS_APP); did you mean GITOPS_ENV?",
        ),
        (
            "ARGOCD_ENV_GITOPS_NAMESPACES",
            "x",
            "plugin env entry GITOPS_NAMESPACES is not one kubectl-gitops reads",
        ),
        (
            "ARGOCD_ENV_ARGOCD_ENV_GITOPS_NAMESPACES",
            "x",
            "plugin env entry GITOPS_NAMESPACES",
        ),
        (
            "ARGOCD_ENV_PR",
            "7",
            "plugin env entry PR is not one kubectl-gitops reads (it reads GITOPS_ENV, GITOPS_PR, GITOPS_NAMESPACE, GITOPS_APP); did you mean GITOPS_PR?",
        ),
        (
            "ARGOCD_ENV_gitops_env",
            "dev",
            "plugin env entry gitops_env is not one kubectl-gitops reads",
        ),
        (
            "ARGOCD_ENV_GITOPS_POLICY",
            "/x",
            "plugin env entry GITOPS_POLICY is refused",
        ),
        (
            "GITOPS_ENVIRONMENT",
            "dev",
            "GITOPS_ENVIRONMENT is set in the environment, but kubectl-gitops reads only GITOPS_ENV, GITOPS_PR, GITOPS_NAMESPACE, GITOPS_APP, GITOPS_POLICY; did you mean GITOPS_ENV?",
        ),
    ];

    #[test]
    fn fail_closed_on_names_and_types() {
        for (k, v, want) in REFUSED {
            let got = err_of(&[(k, v)]);
            assert!(got.starts_with(want), "{k}={v}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn malformed_values_are_never_echoed() {
        let secret = "s3cr3t-token\nline two";
        for raw in [
            format!(r#"[{{"name":"pr","string":{secret:?}]"#),
            format!(r#"[{{"name":{secret:?},"string":"1"}}]"#),
            format!(r#"{{"{secret}": 1}}"#),
            format!("not json {secret}"),
        ] {
            let got = err_of(&[("ARGOCD_APP_PARAMETERS", raw.as_str())]);
            assert!(!got.contains("s3cr3t"), "{got}");
            assert!(!got.contains('\n'), "{got}");
        }
    }

    #[test]
    fn other_plugin_env_entries_warn() {
        let e = env_of(&[("ARGOCD_ENV_HELM_ARGS", "--x")]);
        assert_eq!(e.warnings.len(), 1);
        assert!(e.warnings[0].msg.contains("HELM_ARGS"));
    }

    #[test]
    fn render_warns_on_unknown_gitops_names() {
        let mut w = Vec::new();
        let l = process_env_layer(
            &vars(&[("GITOPS_ENVIRONMENT", "dev"), ("GITOPS_PR", "5")]),
            Strictness::Warn,
            &mut w,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.pr.map(|s| s.value).as_deref(), Some("5"));
        assert_eq!(w.len(), 1);
        assert!(
            w[0].msg.contains("did you mean GITOPS_ENV?"),
            "{}",
            w[0].msg
        );
    }

    #[test]
    fn suggestions() {
        let known: Vec<String> = ["GITOPS_ENV", "GITOPS_NAMESPACE"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        assert_eq!(
            did_you_mean_name("GITOPS_NAMESPCE", &known),
            Some("GITOPS_NAMESPACE")
        );
        assert_eq!(
            did_you_mean_name("GITOPS_ENVIRONMENT", &known),
            Some("GITOPS_ENV")
        );
        assert_eq!(did_you_mean_name("SOMETHING_ELSE", &known), None);
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
