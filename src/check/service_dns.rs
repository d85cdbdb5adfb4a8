//! KG009 `service-dns-in-values`.
//!
//! ## What it finds
//! A string value (a container's env value, a ConfigMap's data) that reaches a Service of the
//! input by its plain DNS name: `http://shop-web`, `shop-web:8080`, `shop-web.<ns>.svc`, or
//! the bare name under a key ending in `HOST`, `URL`, `ADDR`, `URI`, `ENDPOINT` or `SERVER`
//! (`REDIS_HOST`, `db.endpoint`), while previews rename every object
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

/// Key endings that name a host (`REDIS_HOST`, `API_URL`, `db.endpoint`).
const HOST_KEYS: &[&str] = &[
    "HOST", "HOSTNAME", "ADDR", "ADDRESS", "URL", "URI", "ENDPOINT", "SERVER",
];

/// Whether a key (an env name, a data key) names a host: it is, or ends with, one of
/// [`HOST_KEYS`] after `_`, `-` or `.`.
fn is_host_key(key: &str) -> bool {
    let key = key.rsplit(' ').next().unwrap_or(key).to_ascii_uppercase();
    let last = key.rsplit(['_', '-', '.']).next().unwrap_or(&key);
    HOST_KEYS.contains(&last)
}

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

/// The Service a value reaches by DNS name, if any. Linear in the value's length.
fn reached_service<'s>(text: &str, key: &str, services: &BTreeSet<&'s str>) -> Option<&'s str> {
    let hostish = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !hostish(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && hostish(chars[i]) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let (host, rest) = token.split_once('.').unwrap_or((token.as_str(), ""));
        let Some(svc) = services.get(host) else {
            continue;
        };
        let scheme = start >= 3 && chars[start - 3..start] == [':', '/', '/'];
        // After a `/` that is not a scheme's, the token is a path or an image name.
        if start >= 1 && chars[start - 1] == '/' && !scheme {
            continue;
        }
        let in_cluster = rest.ends_with(".svc") || rest.ends_with(".svc.cluster.local");
        // `host:8080`, but not `redis:7.2` (an image tag).
        let port = chars.get(i) == Some(&':') && {
            let digits = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            digits > 0 && !chars.get(i + 1 + digits).is_some_and(|c| hostish(*c))
        };
        let exact = rest.is_empty() && start == 0 && i == chars.len() && is_host_key(key);
        if (rest.is_empty() && (scheme || port)) || in_cluster || exact {
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
            ("redis:7.2", "env CACHE_IMAGE", None),
            ("ghcr.io/example/redis:7.2.4", "env IMAGE", None),
            ("ghcr.io/example/redis:6379", "env IMAGE", None),
            ("web", "env OTEL_SERVICE_NAME", None),
            ("redis", "data.cache.host", Some("redis")),
        ] {
            assert_eq!(reached_service(text, key, &svcs), want, "{text}");
        }
    }
}
