//! KG003 `connection-secret-other-namespace`.
//!
//! ## What it finds
//! A pod (or anything else) that reads a connection Secret which the claim, composite or
//! managed resource producing it writes into another namespace. It looks within each render
//! (objects whose namespaces are written in the files) and, with `--argocd`, across the
//! Applications that deploy the directory, such as an ApplicationSet git directory generator
//! that puts `kubernetes/` and `infrastructure/` in namespaces of their own.
//!
//! ## Why
//! A pod reads Secrets from its own namespace only. The claim becomes ready, the Secret
//! exists, and the Deployment still waits forever for `redis-connection`: one of the most
//! confusing ways a split app fails.
//!
//! ## Example
//! ```yaml
//! # ApplicationSet: directories kubernetes/ and infrastructure/, namespace per directory
//! parameters:
//! - {name: namespace, string: 'my-microservice-{{.path.basename}}'}
//! ```
//! `KG003 Deployment/my-microservice reads Secret "redis-connection" in namespace
//! my-microservice-kubernetes (Application my-microservice-kubernetes), but
//! RedisInstance/my-microservice-redis writes it in namespace my-microservice-infrastructure
//! (Application my-microservice-infrastructure) ...`

use std::collections::BTreeMap;

use super::{Facts, Finding, Rule};
use crate::model::GroupKind;
use crate::transform::Ctx;
use crate::transform::collide::produced_namespace;
use crate::transform::{Analysis, refs};

pub const RULE: Rule = Rule {
    code: "KG003",
    name: "connection-secret-other-namespace",
    summary: "a connection Secret is read from another namespace than the one it is written to",
    run,
};

/// One render and how to name where it comes from.
struct Part<'a> {
    what: String,
    ctx: &'a Ctx,
    analysis: &'a Analysis,
    /// An Application rendered by kubectl-gitops (its namespace parameter can be dropped),
    /// not a plain directory, kustomize or Helm source (whose destination decides).
    plugin: bool,
}

fn run(f: &Facts, out: &mut Vec<Finding>) {
    for r in &f.renderings {
        analyze(
            &[Part {
                what: String::new(),
                ctx: &r.ctx,
                analysis: &r.analysis,
                plugin: true,
            }],
            false,
            out,
        );
    }
    if !f.deployments.is_empty() {
        let parts: Vec<Part> = f
            .deployments
            .iter()
            .map(|d| Part {
                what: format!(" (Application {})", d.app),
                ctx: &d.ctx,
                analysis: &d.analysis,
                plugin: d.kind == super::argocd::SourceKind::Plugin,
            })
            .collect();
        analyze(&parts, true, out);
    }
}

fn analyze(parts: &[Part], across_apps: bool, out: &mut Vec<Finding>) {
    let secret = GroupKind::new("", "Secret");
    // Secret name -> (namespace, producer, part)
    let mut produced: BTreeMap<String, Vec<(Option<String>, String, usize)>> = BTreeMap::new();
    for (pi, p) in parts.iter().enumerate() {
        for prod in &p.analysis.renames.produced {
            if prod.gk != secret {
                continue;
            }
            let producer = &p.analysis.input.objects[prod.producer];
            let ns = produced_namespace(prod, producer, p.ctx);
            produced
                .entry(prod.final_name.clone())
                .or_default()
                .push((ns, producer.label(), pi));
        }
    }
    if produced.is_empty() {
        return;
    }
    for (pi, p) in parts.iter().enumerate() {
        let rows = refs::rows(p.ctx);
        for (oi, o) in p.analysis.input.objects.iter().enumerate() {
            let consumer_ns = o.current_namespace().map(str::to_string);
            let role = p.analysis.plan.classes[oi].role;
            for r in refs::collect(o, role, &rows) {
                if !r.target.matches(&secret) || r.namespace.is_some() {
                    continue;
                }
                // The producer's own writeConnectionSecretToRef is not a consumer.
                if r.field.contains("writeConnectionSecretToRef") {
                    continue;
                }
                let Some(producers) = produced.get(&r.name) else {
                    continue;
                };
                if producers.iter().any(|(ns, _, _)| *ns == consumer_ns) {
                    continue;
                }
                let (ns, producer, ppi) = &producers[0];
                if across_apps && *ppi == pi {
                    continue;
                }
                let hint = if across_apps && p.plugin && parts[*ppi].plugin {
                    "render them into one namespace: drop the namespace parameter so that gitops.yaml's environment namespace applies to every Application of the app, or deploy the directory as one Application"
                } else if across_apps {
                    "deploy them into one namespace: give every Application of the app the same destination namespace (the environment's, not one per directory), or deploy the directory as one Application"
                } else {
                    "let the identity decide the namespace of both (remove the namespaces written in the files)"
                };
                out.push(Finding {
                    loc: r.loc.clone(),
                    code: RULE.code,
                    msg: format!(
                        "{} reads Secret {:?} in namespace {}{}, but {} writes it in namespace {}{}: a pod reads Secrets only from its own namespace, so this one is never there; {hint}",
                        o.label(),
                        r.name,
                        consumer_ns.as_deref().unwrap_or("(the destination namespace)"),
                        p.what,
                        producer,
                        ns.as_deref().unwrap_or("(the destination namespace)"),
                        parts[*ppi].what,
                    ),
                });
            }
        }
    }
}
