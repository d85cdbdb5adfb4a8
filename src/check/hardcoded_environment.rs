//! KG005 `hard-coded-environment`.
//!
//! ## What it finds
//! A namespace written into a namespaced object (`metadata.namespace`), and an environment's
//! name inside an object's name or a label value (`orders-prod`, `env: staging`): the
//! environments of gitops.yaml, or common ones (dev, staging, prod, production, uat) without
//! one.
//!
//! ## Why
//! The files are promoted unchanged from dev to staging to prod: whatever is written in them
//! is the same everywhere. A render overrides the namespace, but a name that says `prod` still
//! says it in dev, and label selectors or dashboards that use it go wrong. The identity
//! carries the environment (the `<labelPrefix>/env` label, the namespace from gitops.yaml).
//!
//! Names of objects whose name is an API's fixed name (CustomResourceDefinitions
//! `<plural>.<group>`, APIServices, webhook configurations) are not the app's, and in a name
//! or label value only its first DNS label counts: `bjw-s.dev` or `serving.knative.dev` is a
//! domain, not an environment.
//!
//! ## Example
//! ```yaml
//! metadata:
//!   name: orders-db-prod
//!   namespace: orders
//! ```
//! `KG005 PostgreSQLInstance/orders-db-prod: the name contains the environment name "prod" ...`
//! and `KG005 ...: the namespace "orders" is written in the file ...`.

use super::{Facts, Finding, Rule};
use crate::yaml::Node;

pub const RULE: Rule = Rule {
    code: "KG005",
    name: "hard-coded-environment",
    summary: "a namespace or an environment name is written in the files",
    run,
};

const COMMON: &[&str] = &["dev", "staging", "prod", "production", "uat"];

fn run(f: &Facts, out: &mut Vec<Finding>) {
    let names: Vec<&str> = f.ctx.config.environment_names();
    let envs: Vec<&str> = if names.is_empty() {
        COMMON.to_vec()
    } else {
        names
    };
    for (i, o) in f.input.objects.iter().enumerate() {
        if f.classes[i].namespaced {
            if let Some(ns) = &o.namespace {
                out.push(Finding {
                    loc: o.loc_of(&["metadata", "namespace"]),
                    code: RULE.code,
                    msg: format!(
                        "{}: the namespace {ns:?} is written in the file, so promotion carries it to every environment; remove it and let the identity decide (gitops.yaml environments.<env>.namespace)",
                        o.label()
                    ),
                });
            }
        }
        if let Some(name) = o.name.as_ref().filter(|_| !fixed_api_name(&o.gk)) {
            if let Some(env) = first_label(name).split('-').find(|t| envs.contains(t)) {
                out.push(Finding {
                    loc: o.loc_of(&["metadata", "name"]),
                    code: RULE.code,
                    msg: format!(
                        "{}: the name contains the environment name {env:?}; promoted unchanged, it says {env} in every environment (the identity label {}/env carries the environment)",
                        o.label(),
                        f.ctx.config.label_prefix
                    ),
                });
            }
        }
        for (k, v) in o
            .node
            .path(&["metadata", "labels"])
            .and_then(Node::as_map)
            .into_iter()
            .flatten()
        {
            let (Some(key), Some(value)) = (k.scalar_text(), v.scalar_text()) else {
                continue;
            };
            if envs.contains(&first_label(value)) {
                out.push(Finding {
                    loc: crate::model::Loc::new(&o.file, v.pos),
                    code: RULE.code,
                    msg: format!(
                        "{}: the label {key}: {value} names an environment; promoted unchanged, every environment would carry it (the identity label {}/env is set by the render)",
                        o.label(),
                        f.ctx.config.label_prefix
                    ),
                });
            }
        }
    }
}

/// Kinds whose names are fixed by an API (`services.serving.knative.dev`), not chosen per app.
fn fixed_api_name(gk: &crate::model::GroupKind) -> bool {
    matches!(
        (gk.group.as_str(), gk.kind.as_str()),
        ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
            | ("admissionregistration.k8s.io", _)
            | ("apiextensions.crossplane.io", "CompositeResourceDefinition")
    )
}

/// The first DNS label of a name: what follows the first dot is a domain (`bjw-s.dev`).
fn first_label(name: &str) -> &str {
    name.split('.').next().unwrap_or(name)
}
