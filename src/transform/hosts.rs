//! Step 5, hosts (DESIGN.md §4.5): in a preview, Ingress rule and TLS hosts, Gateway API
//! hostnames and cert-manager Certificate DNS names are rewritten with `preview.hosts` (default `{label}-pr-{pr}.{rest}`), so a
//! preview never takes production's host: `shop.example.com` -> `shop-pr-7.example.com`.
//!
//! `{label}` is the host's first DNS label and `{rest}` everything after it; `{pr}`, `{app}`
//! and `{env}` are the identity. A host that the template could have produced already is kept,
//! so re-rendering is idempotent. A wildcard host keeps its `*.` and rewrites the rest.

use crate::diag::Warning;
use crate::model::{Loc, Object, fieldspec};
use crate::transform::Ctx;
use crate::yaml::Node;

/// (group, kind, path to host strings)
const HOST_FIELDS: &[(&str, &str, &[&str])] = &[
    ("networking.k8s.io", "Ingress", &["spec", "rules", "host"]),
    ("networking.k8s.io", "Ingress", &["spec", "tls", "hosts"]),
    ("extensions", "Ingress", &["spec", "rules", "host"]),
    ("extensions", "Ingress", &["spec", "tls", "hosts"]),
    (
        "gateway.networking.k8s.io",
        "Gateway",
        &["spec", "listeners", "hostname"],
    ),
    (
        "gateway.networking.k8s.io",
        "HTTPRoute",
        &["spec", "hostnames"],
    ),
    (
        "gateway.networking.k8s.io",
        "GRPCRoute",
        &["spec", "hostnames"],
    ),
    (
        "gateway.networking.k8s.io",
        "TLSRoute",
        &["spec", "hostnames"],
    ),
    // A preview's certificate must be for the preview's hosts.
    ("cert-manager.io", "Certificate", &["spec", "dnsNames"]),
    ("cert-manager.io", "Certificate", &["spec", "commonName"]),
];

pub fn apply(objects: &mut [Object], ctx: &Ctx, warnings: &mut Vec<Warning>) {
    let template = ctx.identity.expand(&ctx.config.preview.hosts);
    for o in objects.iter_mut() {
        for (group, kind, path) in HOST_FIELDS {
            if !o.gk.is(group, kind) {
                continue;
            }
            let file = o.file.clone();
            let label = o.label();
            let wants = |n: &Node| n.as_str().is_some_and(|h| rewrite(h, &template) != h);
            fieldspec::visit_mut(&mut o.node, path, &wants, &mut |n| {
                let Some(host) = n.as_str().map(str::to_string) else {
                    return;
                };
                let new = rewrite(&host, &template);
                if host.starts_with("*.") {
                    warnings.push(Warning::at(
                        Loc::new(&file, n.pos),
                        format!("{label}: wildcard host {host:?} becomes {new:?} in this preview; check that DNS and certificates cover it"),
                    ));
                }
                n.replace_str(&new);
            });
        }
    }
}

/// The preview host for `host`, given the template with identity placeholders expanded.
pub fn rewrite(host: &str, template: &str) -> String {
    if host.is_empty() || already(host, template) {
        return host.to_string();
    }
    if let Some(rest) = host.strip_prefix("*.") {
        return format!("*.{}", rewrite(rest, template));
    }
    let (label, rest) = host.split_once('.').unwrap_or((host, ""));
    let out = template.replace("{label}", label).replace("{rest}", rest);
    out.trim_end_matches('.').to_string()
}

/// Whether `host` is something the template produces (`{label}` one DNS label, `{rest}` any
/// text).
fn already(host: &str, template: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    let (label_free, rest_free) = (template.contains("{label}"), template.contains("{rest}"));
    if !label_free && !rest_free {
        return host == template;
    }
    matches(template.as_bytes(), host.as_bytes())
        || (!host.contains('.')
            && matches(template.replace(".{rest}", "").as_bytes(), host.as_bytes()))
}

/// Matches `{label}` against one non-empty DNS label and `{rest}` against anything.
fn matches(t: &[u8], h: &[u8]) -> bool {
    if let Some(after) = t.strip_prefix(b"{label}") {
        return (1..=h.len())
            .take_while(|&i| h[i - 1] != b'.')
            .any(|i| matches(after, &h[i..]));
    }
    if let Some(after) = t.strip_prefix(b"{rest}") {
        return (0..=h.len()).any(|i| matches(after, &h[i..]));
    }
    match (t.first(), h.first()) {
        (None, None) => true,
        (Some(a), Some(b)) if a == b => matches(&t[1..], &h[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::rewrite;

    const T: &str = "{label}-pr-7.{rest}";

    #[test]
    fn table() {
        for (host, want) in [
            ("shop.example.com", "shop-pr-7.example.com"),
            ("shop-pr-7.example.com", "shop-pr-7.example.com"),
            ("api.shop.example.com", "api-pr-7.shop.example.com"),
            ("localhost", "localhost-pr-7"),
            ("localhost-pr-7", "localhost-pr-7"),
            ("*.apps.example.com", "*.apps-pr-7.example.com"),
            ("*.apps-pr-7.example.com", "*.apps-pr-7.example.com"),
        ] {
            assert_eq!(rewrite(host, T), want, "{host}");
            assert_eq!(rewrite(&rewrite(host, T), T), want, "idempotent: {host}");
        }
        assert_eq!(
            rewrite("shop.example.com", "pr-7.{label}.{rest}"),
            "pr-7.shop.example.com"
        );
        assert_eq!(
            rewrite("pr-7.shop.example.com", "pr-7.{label}.{rest}"),
            "pr-7.shop.example.com"
        );
    }
}
