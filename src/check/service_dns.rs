//! KG009 `service-dns-in-values`.
//!
//! ## What it finds
//! A string value (a container's env value, a ConfigMap's data) that reaches a Service of the
//! input by its plain DNS name: `http://shop-web`, `shop-web:8080`, `shop-web.<ns>.svc`, or
//! the bare name in a `*_HOST`/`*_URL`/`*_ADDR`-like key, while previews rename every object
//! (`preview.rename: all`, the default).
//!
//! ## Why
//! A render never rewrites text inside values, so in a preview, where the Service is now
//! `shop-web-pr-7`, the value still says `shop-web` and reaches nothing. With
//! `preview.rename: claims`, previews keep Service names (their namespace keeps them apart)
//! and rename only claims, composite resources and their Secrets.
//!
//! ## Example
//! ```yaml
//! kind: ConfigMap
//! data:
//!   API_URL: http://shop-web:8080
//! ```
//! `KG009 ConfigMap/shop-config: data.API_URL reaches Service shop-web by its DNS name ...`.

use std::collections::BTreeSet;

use super::{Facts, Finding, Rule};
use crate::config::RenameMode;
use crate::model::{Loc, Object, fieldspec};
use crate::yaml::Node;

pub const RULE: Rule = Rule {
    code: "KG009",
    name: "service-dns-in-values",
    summary: "a value reaches a Service by its plain DNS name while previews rename Services",
    run,
};

/// Where pod specs keep containers, per workload kind.
const CONTAINERS: &[(&str, &str, &[&str])] = &[
    ("", "Pod", &["spec"]),
    ("apps", "Deployment", &["spec", "template", "spec"]),
    ("apps", "StatefulSet", &["spec", "template", "spec"]),
    ("apps", "DaemonSet", &["spec", "template", "spec"]),
    ("apps", "ReplicaSet", &["spec", "template", "spec"]),
    ("batch", "Job", &["spec", "template", "spec"]),
    (
        "batch",
        "CronJob",
        &["spec", "jobTemplate", "spec", "template", "spec"],
    ),
];

const HOST_KEYS: &[&str] = &[
    "HOST", "ADDR", "URL", "URI", "ENDPOINT", "SERVER", "SERVICE",
];

fn run(f: &Facts, out: &mut Vec<Finding>) {
    if f.ctx.config.preview.rename != RenameMode::All {
        return;
    }
    let services: BTreeSet<&str> = f
        .input
        .objects
        .iter()
        .filter(|o| o.gk.is("", "Service"))
        .filter_map(|o| o.name.as_deref())
        .collect();
    if services.is_empty() {
        return;
    }
    for o in &f.input.objects {
        let mut values: Vec<(String, &Node)> = Vec::new();
        if o.gk.is("", "ConfigMap") {
            for (k, v) in o
                .node
                .get("data")
                .and_then(Node::as_map)
                .into_iter()
                .flatten()
            {
                if let Some(key) = k.scalar_text() {
                    values.push((format!("data.{key}"), v));
                }
            }
        }
        for (group, kind, root) in CONTAINERS {
            if !o.gk.is(group, kind) {
                continue;
            }
            for c in ["containers", "initContainers"] {
                let path: Vec<&str> = root.iter().copied().chain([c, "env"]).collect();
                fieldspec::visit(&o.node, &path, &mut |env| {
                    if let (Some(name), Some(v)) = (
                        env.get("name").and_then(Node::scalar_text),
                        env.get("value"),
                    ) {
                        values.push((format!("env {name}"), v));
                    }
                });
            }
        }
        for (key, v) in values {
            let Some(text) = v.as_str() else { continue };
            if let Some(svc) = reached_service(text, &key, &services) {
                report(o, &key, svc, text, Loc::new(&o.file, v.pos), out);
            }
        }
    }
}

fn report(o: &Object, key: &str, svc: &str, text: &str, loc: Loc, out: &mut Vec<Finding>) {
    let shown: String = text.chars().take(80).collect();
    out.push(Finding {
        loc,
        code: RULE.code,
        msg: format!(
            "{}: {key} reaches Service {svc} by its DNS name ({shown:?}); previews rename the Service ({svc}-pr-N) but never text inside values, so the preview would not reach it (set preview.rename: claims in gitops.yaml: previews then keep Service names, and their namespace keeps them apart)",
            o.label()
        ),
    });
}

/// The Service a value reaches by DNS name, if any.
fn reached_service<'s>(text: &str, key: &str, services: &BTreeSet<&'s str>) -> Option<&'s str> {
    let hostish = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if !hostish(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && hostish(bytes[i]) {
            i += 1;
        }
        let token: String = bytes[start..i].iter().collect();
        let before: String = bytes[..start].iter().collect();
        let after = bytes.get(i).copied();
        let (host, rest) = token.split_once('.').unwrap_or((token.as_str(), ""));
        let Some(svc) = services.get(host) else {
            continue;
        };
        let in_cluster_suffix = rest.ends_with(".svc")
            || rest.ends_with(".svc.cluster.local")
            || rest.split('.').count() == 1 && !rest.is_empty() && rest.ends_with("svc");
        let scheme = before.ends_with("://");
        let port = after == Some(':') && bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit());
        let exact = rest.is_empty()
            && start == 0
            && i == bytes.len()
            && HOST_KEYS
                .iter()
                .any(|h| key.to_ascii_uppercase().contains(h));
        if (rest.is_empty() && (scheme || port)) || in_cluster_suffix || exact {
            return Some(svc);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_service_dns_names() {
        let svcs: BTreeSet<&str> = ["shop-web", "redis"].into_iter().collect();
        for (text, key, want) in [
            ("http://shop-web", "data.API", Some("shop-web")),
            ("http://shop-web:8080/api", "data.API", Some("shop-web")),
            ("shop-web:8080", "data.X", Some("shop-web")),
            ("shop-web.team-a.svc", "data.X", Some("shop-web")),
            (
                "shop-web.team-a.svc.cluster.local:80",
                "data.X",
                Some("shop-web"),
            ),
            ("redis", "env REDIS_HOST", Some("redis")),
            ("redis", "env CACHE_MODE", None),
            ("http://shop-web.example.com", "data.X", None),
            ("shop-web-admin:80", "data.X", None),
            ("the shop-web team", "data.X", None),
        ] {
            assert_eq!(reached_service(text, key, &svcs), want, "{text}");
        }
    }
}
