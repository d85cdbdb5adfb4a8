//! Step 5, right or loud (DESIGN.md §4.5): after renaming, a value that still equals the old
//! name of a renamed object, where a reference usually sits, is reported: a warning in
//! `render`/`generate`, and KG012 in `check`, with the `references:` entry that would make
//! the render follow it.
//!
//! Where a reference usually sits: a key ending in `Ref`/`Refs` holding a name, `name` under
//! such a key (or under `*Reference(s)`), a key ending in `Name` (`secretName`,
//! `serviceName`), `gateways`, `dependsOn`; a key that is the kind it names, as Helm values
//! and many operators write them (`secret: creds`, `existingSecret: creds`,
//! `service: {name: web}`), outside label maps, selectors and ConfigMap/Secret data; and, for renamed Services, host
//! keys (`host`, `hosts`, `*Host`) holding the Service's DNS name. A key that names its kind
//! (`secretName`, `configMapRef`) only matches objects of that kind. Values a pack or
//! `references:` entry covers were decided there (rewritten, or deliberately left alone,
//! such as a reference into another namespace) and are not looked at again; nor are
//! `metadata` (names, labels) and `status`, names of things inside an object
//! (`containerName`, `portName`, Tekton's `pipelineTaskName`, Gateway API's `sectionName`),
//! or an object's own old name inside it (an external name, such as a key vault's).

use crate::collections::HashMap;

use crate::diag::Warning;
use crate::model::{GroupKind, Loc, Object};
use crate::transform::names::RenameMap;
use crate::transform::policy::Placement;
use crate::transform::refs::Outcome;
use crate::transform::{Ctx, Plan};
use crate::yaml::{Node, Value, is_merge_key};

/// `*Name` keys that name something inside an object or outside Kubernetes, not an object.
const NOT_REFERENCES: &[&str] = &[
    "containerName",
    "portName",
    "targetPortName",
    "pipelineTaskName",
    "taskName",
    "stepName",
    "sectionName",
    "listenerName",
    "fieldName",
    "paramName",
    "metricName",
    "nodeName",
    "schedulerName",
    "hostName",
    "clusterName",
    "contextName",
    "displayName",
    "userName",
    "jobName",
    "shortName",
    "singularName",
    "pluralName",
    "fullName",
    "columnName",
    "headerName",
    "cookieName",
    "fileName",
    "dirName",
    "keyName",
];

/// One old name left in place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    pub loc: Loc,
    /// `Kind/name` of the object holding the value.
    pub holder: String,
    pub holder_gk: GroupKind,
    /// The keys from the object's root to the value (sequences left out).
    pub keys: Vec<String>,
    pub value: String,
    /// The renamed object the value names.
    pub target: GroupKind,
    pub new_name: String,
    /// Whether the value is a DNS name of a Service (`web.shop.svc.cluster.local`).
    pub dns: bool,
}

impl Stale {
    /// The dotted field (`spec.backend.secretRef.name`).
    pub fn field(&self) -> String {
        self.keys.join(".")
    }

    /// The gitops.yaml `references:` entry that makes renders follow this field.
    pub fn snippet(&self) -> String {
        let path = if self.keys.iter().any(|k| k.contains('.') || k.contains(' ')) {
            format!(
                "[{}]",
                self.keys
                    .iter()
                    .map(|k| format!("{k:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            self.field()
        };
        let group = if self.holder_gk.group.is_empty() {
            "\"\"".to_string()
        } else {
            self.holder_gk.group.clone()
        };
        let target = if self.target.group.is_empty() {
            self.target.kind.clone()
        } else {
            self.target.to_string()
        };
        let format = if self.dns { ", format: dns" } else { "" };
        format!(
            "references: [{{kind: {}, group: {group}, path: {path}, target: {target}{format}}}]",
            self.holder_gk.kind
        )
    }

    pub fn message(&self) -> String {
        format!(
            "{}: {} is {:?}, the old name of {}/{}, which this render renames to {:?}; if this field refers to it, declare the field in gitops.yaml so that renders follow it: {}",
            self.holder,
            self.field(),
            self.value,
            self.target.kind,
            if self.dns {
                self.value.split('.').next().unwrap_or(&self.value)
            } else {
                &self.value
            },
            self.new_name,
            self.snippet()
        )
    }

    pub fn warning(&self) -> Warning {
        Warning::at(self.loc.clone(), self.message())
    }
}

/// The kind a key names, when it names one (`secretName`, `configMapRef`).
fn hinted_kind(key: &str) -> Option<&'static str> {
    let k = key.to_ascii_lowercase();
    if k.contains("role") {
        Some("Role")
    } else if k.contains("serviceaccount") {
        Some("ServiceAccount")
    } else if k.contains("secret") {
        Some("Secret")
    } else if k.contains("configmap") {
        Some("ConfigMap")
    } else if k.contains("claim") {
        Some("PersistentVolumeClaim")
    } else if k.starts_with("service") || k.ends_with("servicename") {
        Some("Service")
    } else {
        None
    }
}

/// A key that is the kind it names (`secret`, `configMap`, `existingSecret`,
/// `existingClaim`): only objects of that kind match it ([`hinted_kind`]).
fn is_kind_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    let k = k.strip_prefix("existing").unwrap_or(&k);
    matches!(
        k,
        "secret" | "service" | "configmap" | "serviceaccount" | "claim" | "persistentvolumeclaim"
    )
}

/// Whether a key holds label or annotation keys, or selector terms (`labels`, `podLabels`,
/// `matchLabels`, `podAnnotations`, `nodeSelector`): `service: web` there is a label, not a
/// reference.
fn is_label_map(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["labels", "annotations", "selector"]
        .iter()
        .any(|s| k.ends_with(s))
}

fn is_ref_key(key: &str) -> bool {
    ["Ref", "Refs", "Reference", "References"]
        .iter()
        .any(|s| key.ends_with(s) && key.len() > s.len())
        || matches!(key, "ref" | "refs")
}

/// How a value at `keys` may be a reference: by name (with the key that names it), as a host.
enum Position<'k> {
    Name(&'k str),
    Host,
}

fn position(keys: &[String]) -> Option<Position<'_>> {
    let (key, parents) = keys.split_last()?;
    let parent = parents.last().map(String::as_str).unwrap_or("");
    if NOT_REFERENCES.contains(&key.as_str()) {
        return None;
    }
    if is_ref_key(key) || matches!(key.as_str(), "gateways" | "dependsOn") {
        return Some(Position::Name(key));
    }
    if key.ends_with("Name") && key.len() > 4 {
        return Some(Position::Name(key));
    }
    if key == "name" && (is_ref_key(parent) || parent == "dependsOn") {
        return Some(Position::Name(parent));
    }
    // ConfigMap and Secret data are an application's settings, which KG009 looks at for
    // Service names; a `service:` key there is the application's word, not Kubernetes'.
    let in_labels = || {
        parents.iter().any(|p| is_label_map(p))
            || parents
                .first()
                .is_some_and(|p| matches!(p.as_str(), "data" | "stringData" | "binaryData"))
    };
    if is_kind_key(key) && !in_labels() {
        return Some(Position::Name(key));
    }
    if key == "name" && is_kind_key(parent) && !in_labels() {
        return Some(Position::Name(parent));
    }
    if matches!(key.as_str(), "host" | "hosts" | "hostname" | "hostnames")
        || (key.ends_with("Host") && key.len() > 4)
    {
        return Some(Position::Host);
    }
    None
}

/// Finds the old names left in place after a render's renames.
pub fn find(
    objects: &[Object],
    plan: &Plan,
    renames: &RenameMap,
    outcome: &Outcome,
    ctx: &Ctx,
) -> Vec<Stale> {
    let changes = renames.changes();
    if changes.is_empty() || !ctx.identity.is_preview() {
        return Vec::new();
    }
    let mut by_old: HashMap<&str, Vec<(&GroupKind, &str)>> = HashMap::default();
    for (gk, old, new) in &changes {
        by_old.entry(old).or_default().push((gk, new));
    }
    let service = GroupKind::new("", "Service");
    let mut out = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        if matches!(
            plan.placements[i],
            Placement::Refused | Placement::BuildInput
        ) {
            continue;
        }
        let Some(root) = o.node.as_map() else {
            continue;
        };
        for (k, v) in root {
            let Some(key) = k.scalar_text() else { continue };
            if matches!(key, "apiVersion" | "kind" | "metadata" | "status") || is_merge_key(k) {
                continue;
            }
            let mut keys = vec![key.to_string()];
            scan(v, &mut keys, 0, &mut |keys, n| {
                if outcome.covered.contains(&(i, n.pos)) {
                    return;
                }
                let Some(value) = n.as_str() else { return };
                let found = match position(keys) {
                    Some(Position::Name(key)) => {
                        let hint = hinted_kind(key);
                        // An object's own name inside it is an external name (a bucket's,
                        // a key vault's, a backup server's), not a reference.
                        let own = |_: &GroupKind| o.name.as_deref() == Some(value);
                        by_old.get(value).and_then(|cands| {
                            cands
                                .iter()
                                .find(|(gk, _)| {
                                    hint.is_none_or(|h| {
                                        gk.kind == h || (h == "Role" && gk.kind == "ClusterRole")
                                    }) && !own(gk)
                                })
                                .map(|(gk, new)| ((*gk).clone(), (*new).to_string(), false))
                        })
                    }
                    Some(Position::Host) => {
                        let name = value.split('.').next().unwrap_or(value);
                        let rest = &value[name.len()..];
                        let dns_form =
                            rest.is_empty() || rest.split('.').nth(2).is_none_or(|l| l == "svc");
                        by_old
                            .get(name)
                            .filter(|_| dns_form)
                            .and_then(|c| c.iter().find(|(gk, _)| **gk == service))
                            .map(|(gk, new)| ((*gk).clone(), (*new).to_string(), !rest.is_empty()))
                    }
                    None => None,
                };
                if let Some((target, new_name, dns)) = found {
                    out.push(Stale {
                        loc: Loc::new(&o.file, n.pos),
                        holder: o.label(),
                        holder_gk: o.gk.clone(),
                        keys: keys.to_vec(),
                        value: value.to_string(),
                        target,
                        new_name,
                        dns,
                    });
                }
            });
        }
    }
    out
}

/// Calls `f` with the key path of every scalar below `node` (sequences add no key).
fn scan(node: &Node, keys: &mut Vec<String>, depth: usize, f: &mut dyn FnMut(&[String], &Node)) {
    // The tree is depth-capped at parse time; this bound only keeps the walk obviously finite.
    if depth > crate::yaml::MAX_DEPTH {
        return;
    }
    match &node.value {
        Value::Scalar(_) => f(keys, node),
        Value::Seq(items) => {
            for item in items {
                scan(item, keys, depth + 1, f);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries {
                let Some(key) = k.scalar_text() else { continue };
                if is_merge_key(k) {
                    continue;
                }
                keys.push(key.to_string());
                scan(v, keys, depth + 1, f);
                keys.pop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(path: &str) -> Vec<String> {
        path.split('.').map(str::to_string).collect()
    }

    #[test]
    fn positions() {
        for (path, name, host) in [
            ("spec.backendRef.name", true, false),
            ("spec.fooRef", true, false),
            ("spec.secretName", true, false),
            ("spec.gateways", true, false),
            ("spec.dependsOn.name", true, false),
            ("spec.containers.name", false, false),
            ("spec.tasks.pipelineTaskName", false, false),
            ("spec.parentRefs.sectionName", false, false),
            (
                "spec.resourcePolicy.containerPolicies.containerName",
                false,
                false,
            ),
            ("spec.host", false, true),
            ("spec.upstreamHost", false, true),
            ("spec.labels.app", false, false),
            ("spec.secret", true, false),
            ("spec.values.existingSecret", true, false),
            ("spec.upstream.service.name", true, false),
            ("spec.volumes.configMap.name", true, false),
            ("spec.groups.rules.labels.service", false, false),
            ("spec.selector.matchLabels.service", false, false),
            ("spec.values.podLabels.secret", false, false),
            ("spec.values.podAnnotations.configMap", false, false),
            ("stringData.service", false, false),
            ("data.existingSecret", false, false),
            ("spec.secrets", false, false),
        ] {
            let k = keys(path);
            let p = position(&k);
            assert_eq!(
                (
                    matches!(p, Some(Position::Name(_))),
                    matches!(p, Some(Position::Host))
                ),
                (name, host),
                "{path}"
            );
        }
        assert_eq!(hinted_kind("secretName"), Some("Secret"));
        assert_eq!(hinted_kind("serviceAccountName"), Some("ServiceAccount"));
        assert_eq!(hinted_kind("serviceName"), Some("Service"));
        assert_eq!(hinted_kind("backendRef"), None);
        assert_eq!(hinted_kind("existingClaim"), Some("PersistentVolumeClaim"));
        assert_eq!(hinted_kind("configMap"), Some("ConfigMap"));
    }
}
