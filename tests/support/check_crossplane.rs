//! The Crossplane material of the shared corpus, for `tests/check.rs`: which objects are
//! claims and composite resources (XRs), and what scope each must have.
//!
//! Documents are read through `kubectl-gitops render FILE -o json` without identity, a
//! lossless pass-through (DESIGN.md §2, tested against PyYAML and the Kubernetes reader by
//! `tests/corpus.rs`), so no second YAML library is needed here.
//!
//! An object is a claim or XR when its kind is a claim or composite kind of an XRD in the same
//! directory tree (the XRD nearest to the file wins: the tree of the file's own folder first,
//! then of each parent up to the material root), or, without such an XRD, when it has
//! `spec.compositionRef`, `spec.compositionSelector`, `spec.writeConnectionSecretToRef` or
//! `spec.crossplane`. Its scope comes from the XRD (v1 XRDs: cluster-scoped XRs, namespaced
//! claims; v2: `spec.scope`, `Namespaced` by default), else from its shape, in the order of
//! issue 4 item 1.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A CompositeResourceDefinition read from the corpus.
#[derive(Clone, Debug)]
pub struct Xrd {
    pub file: PathBuf,
    pub group: String,
    pub xr_kind: String,
    pub claim_kind: Option<String>,
    /// Whether its composite resources are cluster-scoped.
    pub xr_cluster: bool,
    pub doc: Value,
}

/// What a candidate object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Claim,
    Composite {
        cluster: bool,
    },
    /// A managed resource (`spec.forProvider`) that writes a connection Secret.
    Managed,
}

/// A claim, XR or connection-writing managed resource in a corpus file.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Index among the file's objects (List items flattened).
    pub index: usize,
    pub group: String,
    pub kind: String,
    pub name: Option<String>,
    pub generate_name: Option<String>,
    pub role: Role,
    /// The XRD that decided the role, if one did.
    pub xrd: Option<usize>,
}

impl Candidate {
    pub fn label(&self) -> String {
        let name = self
            .name
            .clone()
            .or_else(|| self.generate_name.clone().map(|g| format!("{g}*")))
            .unwrap_or_default();
        format!("{}/{name}", self.kind)
    }
}

/// The API group of an apiVersion (`""` for the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(g, _)| g)
}

pub fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str()
}

/// Objects of a JSON-lines stream, List items flattened, in order.
pub fn objects(json_lines: &str) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    for line in json_lines.split('\n').filter(|l| !l.is_empty()) {
        let v: Value =
            serde_json::from_str(line).map_err(|e| format!("not JSON ({e}): {line:.200}"))?;
        let is_list = v
            .get("kind")
            .and_then(Value::as_str)
            .is_some_and(|k| k.ends_with("List"))
            && v.get("items").is_some_and(Value::is_array);
        if is_list {
            out.extend(v["items"].as_array().into_iter().flatten().cloned());
        } else {
            out.push(v);
        }
    }
    Ok(out)
}

/// The XRDs among `objects` of `file`.
pub fn xrds_of(file: &Path, objects: &[Value]) -> Vec<Xrd> {
    objects
        .iter()
        .filter(|o| {
            o.get("kind").and_then(Value::as_str) == Some("CompositeResourceDefinition")
                && group_of(str_at(o, &["apiVersion"]).unwrap_or(""))
                    == "apiextensions.crossplane.io"
        })
        .filter_map(|o| {
            let group = str_at(o, &["spec", "group"])?.to_string();
            let xr_kind = str_at(o, &["spec", "names", "kind"])?.to_string();
            let claim_kind = str_at(o, &["spec", "claimNames", "kind"]).map(str::to_string);
            let v1 = str_at(o, &["apiVersion"]) == Some("apiextensions.crossplane.io/v1");
            let scope = str_at(o, &["spec", "scope"]).unwrap_or(if v1 {
                "LegacyCluster"
            } else {
                "Namespaced"
            });
            Some(Xrd {
                file: file.to_path_buf(),
                group,
                xr_kind,
                claim_kind,
                xr_cluster: scope != "Namespaced",
                doc: o.clone(),
            })
        })
        .collect()
}

/// The XRD nearest to `file` (within `material_root`) that defines `group`/`kind`, and
/// whether the kind is its claim kind.
fn nearest_xrd(
    file: &Path,
    material_root: &Path,
    group: &str,
    kind: &str,
    xrds: &[Xrd],
) -> Option<(usize, bool)> {
    let mut dir = file.parent();
    while let Some(d) = dir {
        let found = xrds
            .iter()
            .enumerate()
            .filter(|(_, x)| x.file.starts_with(d) && x.group == group)
            .find_map(|(i, x)| {
                if x.xr_kind == kind {
                    Some((i, false))
                } else if x.claim_kind.as_deref() == Some(kind) {
                    Some((i, true))
                } else {
                    None
                }
            });
        if found.is_some() || d == material_root {
            return found;
        }
        dir = d.parent();
    }
    None
}

/// The claims, XRs and connection-writing managed resources of one file.
pub fn candidates(
    file: &Path,
    material_root: &Path,
    objects: &[Value],
    xrds: &[Xrd],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (index, o) in objects.iter().enumerate() {
        let api = str_at(o, &["apiVersion"]).unwrap_or("");
        let group = group_of(api).to_string();
        let kind = str_at(o, &["kind"]).unwrap_or("").to_string();
        if group == "apiextensions.crossplane.io" {
            continue; // Compositions, XRDs, revisions: definitions, not instances.
        }
        let spec = o.get("spec").filter(|s| s.is_object());
        let has = |k: &str| spec.is_some_and(|s| s.get(k).is_some());
        let role = if let Some((i, claim)) = nearest_xrd(file, material_root, &group, &kind, xrds) {
            let role = if claim {
                Role::Claim
            } else {
                Role::Composite {
                    cluster: xrds[i].xr_cluster,
                }
            };
            Some((role, Some(i)))
        } else if !(has("compositionRef")
            || has("compositionSelector")
            || has("writeConnectionSecretToRef")
            || has("crossplane"))
        {
            None
        } else if has("crossplane") {
            Some((Role::Composite { cluster: false }, None))
        } else if has("forProvider") {
            Some((Role::Managed, None))
        } else if has("claimRef")
            || has("resourceRefs")
            || str_at(o, &["spec", "writeConnectionSecretToRef", "namespace"]).is_some()
        {
            Some((Role::Composite { cluster: true }, None))
        } else {
            Some((Role::Claim, None))
        };
        let Some((role, xrd)) = role else { continue };
        out.push(Candidate {
            index,
            group,
            kind,
            name: str_at(o, &["metadata", "name"]).map(str::to_string),
            generate_name: str_at(o, &["metadata", "generateName"]).map(str::to_string),
            role,
            xrd,
        });
    }
    out
}

/// The connection Secret names an object writes (`spec.writeConnectionSecretToRef.name` and
/// the v2 `spec.crossplane.writeConnectionSecretToRef.name`).
pub fn connection_secret_names(o: &Value) -> Vec<&str> {
    [
        &["spec", "writeConnectionSecretToRef", "name"][..],
        &["spec", "crossplane", "writeConnectionSecretToRef", "name"][..],
    ]
    .iter()
    .filter_map(|p| str_at(o, p))
    .collect()
}
