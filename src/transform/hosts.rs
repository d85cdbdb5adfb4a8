//! Step 5, hosts (DESIGN.md §4.5): in a preview, the host fields the packs list (`hosts:`:
//! Ingress rule and TLS hosts, Gateway API hostnames, cert-manager Certificate DNS names,
//! Istio VirtualService and Gateway hosts) are rewritten with `preview.hosts` (default
//! `{label}-pr-{pr}.{rest}`), so a preview never takes production's host: `shop.example.com`
//! -> `shop-pr-7.example.com`. Fields marked `external` skip names of Services in the
//! cluster (a VirtualService's `reviews`), which are references, not hosts; `namespace/host`
//! fields (an Istio Gateway's `*/shop.example.com`) keep their namespace part.
//!
//! `{label}` is the host's first DNS label and `{rest}` everything after it; `{pr}`, `{app}`
//! and `{env}` are the identity. A host that the template could have produced already is kept,
//! so re-rendering is idempotent. A wildcard host keeps its `*.` and rewrites the rest.
//!
//! Bounded for hostile input: a template is at most [`MAX_TEMPLATE_BYTES`] with `{label}`
//! and `{rest}` at most once each ([`template_problem`], checked when gitops.yaml is read),
//! hosts longer than a DNS name ([`MAX_HOST_BYTES`]) are left alone with a warning, and
//! "already rewritten" is decided by simulating the template as a small automaton over the
//! host, in time linear in the host for any template (no backtracking). A valid host whose
//! preview host would not be valid (a label over 63 characters) is refused, never emitted.

use crate::diag::Warning;
use crate::error::Error;
use crate::model::{Loc, Object};
use crate::packs::{self, HostFormat, HostSpec};
use crate::transform::Ctx;
use crate::yaml::Node;

/// Longest `preview.hosts` template: a host name's length.
pub const MAX_TEMPLATE_BYTES: usize = 253;

/// Longest host rewritten: the longest DNS name. No valid host is longer, so a longer one
/// cannot be production's host; it is left alone with a warning.
pub const MAX_HOST_BYTES: usize = 253;

pub fn apply(
    objects: &mut [Object],
    ctx: &Ctx,
    warnings: &mut Vec<Warning>,
    refusals: &mut Vec<Error>,
) {
    // The sandbox's template: gitops.yaml's, or the platform policy's when it sets one.
    let template = ctx.identity.expand(&ctx.sandbox.hosts_template);
    for o in objects.iter_mut() {
        for spec in &packs::builtin().hosts {
            if spec.kind != o.gk.kind || spec.group.as_ref().is_some_and(|g| *g != o.gk.group) {
                continue;
            }
            let file = o.file.clone();
            let label = o.label();
            let wants = |n: &Node| {
                n.as_str().is_some_and(|h| {
                    h.len() > MAX_HOST_BYTES
                        || split(spec, h).is_some_and(|(_, host)| rewrite(host, &template) != host)
                })
            };
            spec.path.visit_mut(&mut o.node, &wants, &mut |n| {
                let Some(value) = n.as_str().map(str::to_string) else {
                    return;
                };
                let loc = Loc::new(&file, n.pos);
                if value.len() > MAX_HOST_BYTES {
                    warnings.push(Warning::at(
                        loc,
                        format!("{label}: host of {} bytes is not a valid host name (at most {MAX_HOST_BYTES}); left as it is", value.len()),
                    ));
                    return;
                }
                let Some((prefix, host)) = split(spec, &value) else {
                    return;
                };
                let new = rewrite(host, &template);
                if new == host {
                    return;
                }
                if is_valid_host(host) && !is_valid_host(&new) {
                    refusals.push(Error::Refused {
                        loc,
                        msg: format!("{label}: the preview host for {host:?} would be {new:?}, which is not a valid host name (DNS labels of at most 63 characters, 253 in all); shorten the host or choose a shorter preview.hosts template"),
                    });
                    return;
                }
                if host.starts_with("*.") {
                    warnings.push(Warning::at(
                        loc,
                        format!("{label}: wildcard host {host:?} becomes {new:?} in this preview; check that DNS and certificates cover it"),
                    ));
                }
                n.replace_str(&format!("{prefix}{new}"));
            });
        }
    }
}

/// The part of a host field's value that is a host a preview rewrites, after what it keeps
/// (`istio-system/` of `istio-system/shop.example.com`); `None` when it rewrites nothing
/// (`*`, a Service's name in a field that also holds external hosts).
fn split<'v>(spec: &HostSpec, value: &'v str) -> Option<(&'v str, &'v str)> {
    let (prefix, host) = match spec.format {
        HostFormat::Host => ("", value),
        HostFormat::NamespaceHost => match value.split_once('/') {
            Some((ns, host)) => (&value[..=ns.len()], host),
            None => ("", value),
        },
    };
    (host != "*" && !host.is_empty() && (!spec.external || is_external(host)))
        .then_some((prefix, host))
}

/// A host outside the cluster: it has a dot and is not a Service's cluster DNS name
/// (`reviews.shop.svc`, `reviews.shop.svc.cluster.local`). A short name (`reviews`) is a
/// Service in the referrer's namespace; `name.namespace` is read as a host, as Istio
/// recommends fully qualified names for Services.
fn is_external(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2 && labels.get(2) != Some(&"svc") && !host.ends_with(".cluster.local")
}

/// Why a `preview.hosts` template is unusable, if it is: it must hold `{pr}` (or previews
/// would take the same hosts), only the placeholders `{label}`, `{rest}`, `{pr}`, `{app}` and
/// `{env}`, `{label}` and `{rest}` at most once each, fit in [`MAX_TEMPLATE_BYTES`], and give
/// a valid host name.
pub fn template_problem(t: &str) -> Option<String> {
    const HELP: &str = "(placeholders: {label}, {rest}, {pr}, {app}, {env})";
    if t.len() > MAX_TEMPLATE_BYTES {
        return Some(format!(
            "is longer than {MAX_TEMPLATE_BYTES} bytes, the longest host name"
        ));
    }
    if !t.contains("{pr}") {
        return Some(format!(
            "must contain {{pr}}, or previews would take the same hosts {HELP}"
        ));
    }
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else {
            return Some(format!("has an unclosed '{{' {HELP}"));
        };
        let name = &after[..=close];
        if !["{label}", "{rest}", "{pr}", "{app}", "{env}"].contains(&name) {
            return Some(format!("has an unknown placeholder {name} {HELP}"));
        }
        rest = &after[close + 1..];
    }
    for once in ["{label}", "{rest}"] {
        if t.matches(once).count() > 1 {
            return Some(format!("may hold {once} only once"));
        }
    }
    let sample = t
        .replace("{label}", "shop")
        .replace("{rest}", "example.com")
        .replace("{pr}", "1")
        .replace("{app}", "app")
        .replace("{env}", "env");
    if sample.contains('}') || !is_valid_host(&sample) {
        return Some(format!(
            "must give a host name (for shop.example.com it gives {sample:?}) {HELP}"
        ));
    }
    None
}

/// Whether `h` is a host name a preview may be given: DNS labels of lowercase letters, digits
/// and `-` (not at either end), at most 63 characters each and 253 in all, optionally behind
/// a `*.` wildcard.
pub fn is_valid_host(h: &str) -> bool {
    let h = h.strip_prefix("*.").unwrap_or(h);
    !h.is_empty()
        && h.len() <= MAX_HOST_BYTES
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The preview host for `host`, given the template with identity placeholders expanded.
pub fn rewrite(host: &str, template: &str) -> String {
    // A host with an empty first label (`.example.com`) is no host at all, and `{label}`
    // could not be matched back: it is left alone, like one over the length of a DNS name.
    if host.is_empty()
        || host.starts_with('.')
        || host.len() > MAX_HOST_BYTES
        || already(host, template)
    {
        return host.to_string();
    }
    if let Some(rest) = host.strip_prefix("*.") {
        return format!("*.{}", rewrite(rest, template));
    }
    let (label, rest) = host.split_once('.').unwrap_or((host, ""));
    let out = template.replace("{label}", label).replace("{rest}", rest);
    out.trim_end_matches('.').to_string()
}

/// Whether `host` is something [`rewrite`] produces: the template with `{label}` one
/// non-empty DNS label and `{rest}` any text, trailing dots trimmed. So `host` is in when
/// `host` followed by some dots matches the template; a host ending with a dot never is.
fn already(host: &str, template: &str) -> bool {
    let host = host.strip_prefix("*.").unwrap_or(host);
    if host.ends_with('.') {
        return false;
    }
    let nfa = Nfa::new(template);
    let mut states = nfa.start();
    for &c in host.as_bytes() {
        states = nfa.step(&states, c);
        if !states.iter().any(|&s| s) {
            return false;
        }
    }
    // Trailing dots the rewrite trimmed: the state set can only change so many times.
    for _ in 0..=nfa.toks.len() {
        if nfa.accepts(&states) {
            return true;
        }
        states = nfa.step(&states, b'.');
        if !states.iter().any(|&s| s) {
            return false;
        }
    }
    false
}

/// One element of a template as a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Lit(u8),
    /// The first character of `{label}`: anything but a dot.
    Label,
    /// The rest of `{label}`: any number of non-dots.
    LabelMore,
    /// `{rest}`: any number of any characters.
    Rest,
}

/// A template as a non-deterministic automaton (Thompson's construction): state `i` is
/// "about to match `toks[i]`", and a set of states is simulated over the host, so matching
/// is O(host × template) whatever the template holds.
struct Nfa {
    toks: Vec<Tok>,
}

impl Nfa {
    fn new(template: &str) -> Nfa {
        let mut toks = Vec::with_capacity(template.len());
        let mut t = template.as_bytes();
        while let Some(&c) = t.first() {
            if let Some(after) = t.strip_prefix(b"{label}") {
                toks.extend([Tok::Label, Tok::LabelMore]);
                t = after;
            } else if let Some(after) = t.strip_prefix(b"{rest}") {
                toks.push(Tok::Rest);
                t = after;
            } else {
                toks.push(Tok::Lit(c));
                t = &t[1..];
            }
        }
        Nfa { toks }
    }

    /// Adds the states reachable without consuming anything (past a star).
    fn close(&self, set: &mut [bool]) {
        for i in 0..self.toks.len() {
            if set[i] && matches!(self.toks[i], Tok::LabelMore | Tok::Rest) {
                set[i + 1] = true;
            }
        }
    }

    fn start(&self) -> Vec<bool> {
        let mut set = vec![false; self.toks.len() + 1];
        set[0] = true;
        self.close(&mut set);
        set
    }

    fn step(&self, set: &[bool], c: u8) -> Vec<bool> {
        let mut next = vec![false; set.len()];
        for (i, tok) in self.toks.iter().enumerate() {
            if !set[i] {
                continue;
            }
            match *tok {
                Tok::Lit(b) if b == c => next[i + 1] = true,
                Tok::Label if c != b'.' => next[i + 1] = true,
                Tok::LabelMore if c != b'.' => next[i] = true,
                Tok::Rest => next[i] = true,
                _ => {}
            }
        }
        self.close(&mut next);
        next
    }

    fn accepts(&self, set: &[bool]) -> bool {
        set[self.toks.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::{already, is_external, is_valid_host, rewrite, template_problem};

    #[test]
    fn external_hosts() {
        for (host, external) in [
            ("shop.example.com", true),
            ("reviews", false),
            ("reviews.shop", true),
            ("reviews.shop.svc", false),
            ("reviews.shop.svc.cluster.local", false),
            ("example.com", true),
        ] {
            assert_eq!(is_external(host), external, "{host}");
        }
    }

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

    /// Re-rendering keeps what a custom template produced, for every kind of host,
    /// including one-label hosts whose preview host has dots of the template's own.
    #[test]
    fn custom_templates_are_idempotent() {
        let templates = [
            "{label}-pr-7.{rest}",
            "pr-7.{label}.{rest}",
            "pr-7-{label}.{rest}",
            "{label}.pr-7.{rest}",
            "{label}.pr-7.previews.example.net",
            "pr-7.{rest}",
            "pr-7.previews.example.net",
            "{label}-shop-pr-7.{rest}",
        ];
        let hosts = [
            "shop.example.com",
            "localhost",
            "a.b",
            "api.shop.example.com",
            "*.apps.example.com",
            "shop-pr-7.example.com",
            "pr-7.example.com",
        ];
        for t in templates {
            assert_eq!(template_problem(&t.replace('7', "{pr}")), None, "{t}");
            for h in hosts {
                let once = rewrite(h, t);
                assert!(
                    already(&once, t),
                    "{t}: {h} -> {once} is not recognised as rewritten"
                );
                assert_eq!(rewrite(&once, t), once, "{t}: {h}");
                assert!(is_valid_host(&once), "{t}: {h} -> {once}");
            }
        }
        // A host the template could not have produced is rewritten.
        assert!(!already("shop.example.com", "{label}-pr-7.{rest}"));
        assert!(!already("shop-pr-7x.example.com", "{label}-pr-7.{rest}"));
        assert!(!already("pr-7.", "pr-7.{rest}"));
        // Hosts that are no hosts stay as they are, so rendering twice changes nothing.
        for h in [".example.com", "*..example.com", "."] {
            assert_eq!(rewrite(h, "{label}-pr-7.{rest}"), h);
        }
        // A template that drops the label makes a one-label host invalid: `apply` refuses it.
        assert_eq!(rewrite("localhost", "{rest}.pr-7"), ".pr-7");
        assert!(!is_valid_host(".pr-7"));
    }

    #[test]
    fn templates_are_checked() {
        for (t, want) in [
            ("{label}-pr-{pr}.{rest}", None),
            ("pr-{pr}.{label}.{rest}", None),
            ("{label}.{rest}", Some("must contain {pr}")),
            ("{rest}{rest}-{pr}", Some("may hold {rest} only once")),
            (
                "{label}{label}-{pr}.{rest}",
                Some("may hold {label} only once"),
            ),
            (
                "{label}-{pr}.{host}",
                Some("has an unknown placeholder {host}"),
            ),
            (
                "{label-{pr}",
                Some("has an unknown placeholder {label-{pr}"),
            ),
            ("{label}-pr-{pr}.{rest", Some("has an unclosed '{'")),
            ("{label}_pr_{pr}.{rest}", Some("must give a host name")),
            ("{label}-PR-{pr}.{rest}", Some("must give a host name")),
            ("-{pr}.{rest}", Some("must give a host name")),
        ] {
            let got = template_problem(t);
            match want {
                None => assert_eq!(got, None, "{t}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.starts_with(w)),
                    "{t}: {got:?}"
                ),
            }
        }
        let long = format!("{}-{{pr}}.{{rest}}", "a".repeat(250));
        assert!(template_problem(&long).is_some_and(|g| g.contains("longer than 253")));
    }

    /// Issue 8: `{rest}{rest}...{pr}x` against a long host took more than 5 s (backtracking).
    /// Unchecked templates now match in linear time, and hosts are bounded.
    #[test]
    fn hostile_templates_match_in_linear_time() {
        let template = format!("{}7x", "{rest}".repeat(200));
        let host = format!("{}.example.com", "a".repeat(240));
        assert!(!already(&host, &template));
        let long = "a.".repeat(10_000);
        assert_eq!(rewrite(&long, &template), long);
        let many = format!("{}7x", "{label}".repeat(200));
        assert!(!already(&host, &many));
    }

    #[test]
    fn valid_hosts() {
        assert!(is_valid_host("shop.example.com"));
        assert!(is_valid_host("*.example.com"));
        assert!(!is_valid_host(&format!("{}.example.com", "a".repeat(64))));
        assert!(!is_valid_host("Shop.example.com"));
        assert!(!is_valid_host("shop..example.com"));
        assert!(!is_valid_host("${HOST}"));
    }
}
