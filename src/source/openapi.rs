//! A kustomization's `crds:` files: what kustomize learns from them, kubectl-gitops learns too.
//!
//! kustomize reads each file as a map of OpenAPI definitions (the Go `openapi-gen` form:
//! `<package>.<Kind>: {Schema: {properties: ...}, Dependencies: [...]}`), takes every
//! definition whose properties look like a Kubernetes object (`apiVersion`, `kind`,
//! `metadata`) as a custom kind named after the last `.` segment, and walks its properties,
//! following `$ref`s into the other definitions of the file. A property carrying
//! `x-kubernetes-object-ref-api-version` and `x-kubernetes-object-ref-kind` refers by name to
//! an object of that kind (the name in its `x-kubernetes-object-ref-name-key` field, default
//! `name`): kustomize then renames that field with the object (`namePrefix`, hashes). This
//! module reads the same files into [`RefSpec`]s, so a preview renames those references with
//! the objects too, exactly as if gitops.yaml listed them under `references:`
//! (kustomize's own code: `api/internal/accumulator/loadconfigfromcrds.go`).
//!
//! The definitions carry no API group and no scope: the reference applies to the kind in any
//! group, and the kind's scope comes from elsewhere (a CRD in the input, gitops.yaml).

use std::collections::BTreeMap;

use crate::config::references::RefSpec;
use crate::model::fieldspec::FieldPath;
use crate::model::gvk::KindPattern;
use crate::yaml::{Node, Value};

const API_VERSION: &str = "x-kubernetes-object-ref-api-version";
const KIND: &str = "x-kubernetes-object-ref-kind";
const NAME_KEY: &str = "x-kubernetes-object-ref-name-key";

/// How deep `$ref`s are followed.
const MAX_DEPTH: usize = 16;

/// The reference fields a `crds:` file declares. `root` is the file's parsed document.
pub fn references(root: &Node) -> Vec<RefSpec> {
    let Some(defs) = root.as_map() else {
        return Vec::new();
    };
    let by_name: BTreeMap<&str, &Node> = defs
        .iter()
        .filter_map(|(k, v)| Some((k.scalar_text()?, v)))
        .collect();
    let mut out = Vec::new();
    for (name, def) in &by_name {
        let Some(props) = properties(def) else {
            continue;
        };
        let looks_like_object = ["apiVersion", "kind", "metadata"]
            .iter()
            .all(|k| props.get(k).is_some());
        if !looks_like_object {
            continue;
        }
        let kind = name.rsplit('.').next().unwrap_or(name);
        walk(
            &by_name,
            def,
            kind,
            &mut Vec::new(),
            &mut vec![*name],
            &mut out,
        );
    }
    out.sort_by(|a, b| (&a.kind, &a.path).cmp(&(&b.kind, &b.path)));
    out.dedup();
    out
}

fn properties(def: &Node) -> Option<&Node> {
    def.get("Schema")
        .or_else(|| def.get("schema"))
        .and_then(|s| s.get("properties"))
        .filter(|p| p.as_map().is_some())
}

/// Walks `def`'s properties; `stack` holds the definitions being walked (a `$ref` back into
/// one of them is not followed again).
fn walk<'a>(
    defs: &BTreeMap<&'a str, &'a Node>,
    def: &'a Node,
    kind: &str,
    path: &mut Vec<String>,
    stack: &mut Vec<&'a str>,
    out: &mut Vec<RefSpec>,
) {
    if stack.len() > MAX_DEPTH {
        return;
    }
    let Some(props) = properties(def) else {
        return;
    };
    let Value::Map(entries) = &props.value else {
        return;
    };
    for (k, prop) in entries {
        let Some(prop_name) = k.scalar_text() else {
            continue;
        };
        path.push(prop_name.to_string());
        if let (Some(version), Some(target)) = (
            prop.get(API_VERSION).and_then(Node::scalar_text),
            prop.get(KIND).and_then(Node::scalar_text),
        ) {
            let key = prop
                .get(NAME_KEY)
                .and_then(Node::scalar_text)
                .unwrap_or("name");
            let group = version.rsplit_once('/').map_or("", |(g, _)| g);
            let mut field = path.clone();
            field.push(key.to_string());
            out.push(RefSpec::name(
                kind,
                FieldPath::keys(&field),
                KindPattern::exact(group, target),
            ));
        }
        if let Some(r) = prop.get("$ref").and_then(Node::scalar_text) {
            let r = r.trim_start_matches("#/definitions/");
            if let Some((name, next)) = defs.get_key_value(r) {
                if !stack.contains(name) {
                    stack.push(name);
                    walk(defs, next, kind, path, stack, out);
                    stack.pop();
                }
            }
        }
        path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::{Limits, parse_stream};

    #[test]
    fn reference_fields_of_an_openapi_definition() {
        let text = r#"
github.com/example/pkg/apis/v1beta1.Bee:
  Schema:
    properties:
      apiVersion: {type: string}
      kind: {type: string}
      metadata: {$ref: k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta}
      spec: {$ref: github.com/example/pkg/apis/v1beta1.BeeSpec}
github.com/example/pkg/apis/v1beta1.BeeSpec:
  Schema:
    properties:
      secretRef:
        x-kubernetes-object-ref-api-version: v1
        x-kubernetes-object-ref-kind: Secret
      hive:
        x-kubernetes-object-ref-api-version: example.com/v1
        x-kubernetes-object-ref-kind: Hive
        x-kubernetes-object-ref-name-key: hiveName
      loop: {$ref: github.com/example/pkg/apis/v1beta1.BeeSpec}
github.com/example/pkg/apis/v1beta1.NotAnObject:
  Schema:
    properties:
      x:
        x-kubernetes-object-ref-api-version: v1
        x-kubernetes-object-ref-kind: ConfigMap
"#;
        let root = parse_stream(text, &Limits::default())
            .ok()
            .and_then(|s| s.docs.into_iter().next())
            .map(|d| d.root)
            .unwrap_or_else(|| Node::seq(Vec::new()));
        let refs = references(&root);
        let got: Vec<String> = refs
            .iter()
            .map(|r| {
                let target = match &r.what {
                    crate::config::references::What::Name(p) => match p.group.as_deref() {
                        Some("") | None => p.kind.clone(),
                        Some(g) => format!("{}.{g}", p.kind),
                    },
                    other => other.to_string(),
                };
                let kind = r.kind.as_deref().unwrap_or("*");
                format!("{kind} {} -> {target}", r.path)
            })
            .collect();
        assert_eq!(
            got.len(),
            2,
            "the self-referencing $ref is not followed again: {got:?}"
        );
        assert!(
            got.contains(&"Bee spec.secretRef.name -> Secret".to_string()),
            "{got:?}"
        );
        assert!(
            got.contains(&"Bee spec.hive.hiveName -> Hive.example.com".to_string()),
            "{got:?}"
        );
        assert!(got.iter().all(|g| g.starts_with("Bee ")), "{got:?}");
    }
}
