//! Name rules and the deterministic shortening of names that would be too long
//! (DESIGN.md §4.4). Pure functions, shared by renaming and by `check`.
//!
//! Shortening: `<head>-<hash><suffix>`, where the hash is the first 8 hex characters of the
//! sha256 of the full intended name (`name + suffix`), the suffix stays whole at the end, and
//! the head is the original name cut to fit with trailing `-` and `.` trimmed. A name that
//! already ends with the suffix is kept, so shortening and renaming are idempotent.

use sha2::{Digest, Sha256};

use crate::model::GroupKind;
use crate::model::scope::Class;

/// What a kind's names must look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// DNS-1123 subdomain: lowercase alphanumerics, `-` and `.`, at most `max` characters.
    Subdomain { max: usize },
    /// DNS-1123 label: lowercase alphanumerics and `-`, at most 63 characters.
    Label,
    /// RFC 1035 label: a DNS-1123 label that starts with a letter (Service names).
    Rfc1035,
    /// A path segment: anything but `/` and `%`, not `.` or `..` (RBAC names such as
    /// `system:aggregated-metrics-reader`).
    PathSegment,
}

impl NameRule {
    pub fn max(self) -> usize {
        match self {
            NameRule::Subdomain { max } => max,
            NameRule::Label | NameRule::Rfc1035 => 63,
            NameRule::PathSegment => 253,
        }
    }

    pub fn describe(self) -> String {
        match self {
            NameRule::Subdomain { max: 253 } => {
                "a DNS-1123 subdomain of at most 253 characters".into()
            }
            NameRule::Subdomain { max } => {
                format!("a DNS-1123 subdomain of at most {max} characters")
            }
            NameRule::Label => "a DNS-1123 label of at most 63 characters".into(),
            NameRule::Rfc1035 => {
                "an RFC 1035 label (starting with a letter) of at most 63 characters".into()
            }
            NameRule::PathSegment => "a name without '/' or '%'".into(),
        }
    }

    pub fn allows(self, name: &str) -> bool {
        name.len() <= self.max()
            && match self {
                NameRule::Subdomain { .. } => is_dns1123_subdomain(name),
                NameRule::Label => is_dns1123_label(name),
                NameRule::Rfc1035 => {
                    is_dns1123_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())
                }
                NameRule::PathSegment => {
                    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '%'])
                }
            }
    }
}

/// The rule for names of a kind (DESIGN.md §4.4).
pub fn rule_for(gk: &GroupKind, class: &Class) -> NameRule {
    match (gk.group.as_str(), gk.kind.as_str()) {
        ("", "Namespace") | ("batch", "Job") => NameRule::Label,
        ("", "Service") => NameRule::Rfc1035,
        // Pods of a StatefulSet carry `controller-revision-hash: <name>-<10 chars>`, and a
        // CronJob's Jobs are named `<name>-<11 digits>`: both must stay within 63.
        ("apps", "StatefulSet") | ("batch", "CronJob") => NameRule::Subdomain { max: 52 },
        // Kubernetes validates RBAC names as path segments (ValidateRBACName).
        (
            "rbac.authorization.k8s.io",
            "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding",
        ) => NameRule::PathSegment,
        // Claim, composite and managed resource names become label values and, often, cloud
        // resource names.
        _ if class.is_instance() => NameRule::Label,
        _ => NameRule::Subdomain { max: 253 },
    }
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Kubernetes' `IsDNS1123Subdomain`: at most 253 characters, dot-separated parts of
/// lowercase alphanumerics and `-` that start and end alphanumeric. Unlike DNS itself,
/// Kubernetes does not cap the parts at 63.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

/// First 8 lowercase hex characters of sha256(`s`).
pub fn hash8(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// `name + suffix`, shortened to `max` characters when needed.
pub fn fit(name: &str, suffix: &str, max: usize) -> String {
    if !suffix.is_empty() && name.ends_with(suffix) {
        return name.to_string();
    }
    let full = format!("{name}{suffix}");
    if full.len() <= max {
        return full;
    }
    let hash = hash8(&full);
    let room = max.saturating_sub(suffix.len() + 1 + hash.len());
    let mut cut = room.min(name.len());
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = name[..cut].trim_end_matches(['-', '.']);
    if head.is_empty() {
        format!("{hash}{suffix}")
    } else {
        format!("{head}-{hash}{suffix}")
    }
}

/// `generateName` gets the suffix before its trailing `-` (`x-` -> `x-pr-7-`). The API server
/// appends 5 random characters and cuts the base at 58, so the base is fitted to that.
pub fn fit_generate_name(generate_name: &str, suffix: &str) -> String {
    let base = generate_name.strip_suffix('-').unwrap_or(generate_name);
    if !suffix.is_empty() && base.ends_with(suffix) {
        return generate_name.to_string();
    }
    format!("{}-", fit(base, suffix, 57))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_get_the_suffix() {
        assert_eq!(fit("web", "-pr-7", 63), "web-pr-7");
    }

    #[test]
    fn names_that_carry_the_suffix_are_kept() {
        assert_eq!(fit("web-pr-7", "-pr-7", 63), "web-pr-7");
        let long = "a".repeat(80);
        let once = fit(&long, "-pr-123", 63);
        assert_eq!(fit(&once, "-pr-123", 63), once);
    }

    #[test]
    fn long_names_are_shortened_deterministically() {
        let name = "a-really-long-service-name-for-the-payments-reconciler-api";
        let got = fit(name, "-pr-123", 63);
        assert_eq!(got.len(), 63);
        assert!(got.ends_with("-pr-123"));
        assert!(got.starts_with("a-really-long-service-name-for-the-payment"));
        let hash = hash8(&format!("{name}-pr-123"));
        assert!(got.contains(&format!("-{hash}-pr-123")));
        assert_eq!(got, fit(name, "-pr-123", 63));
        assert!(NameRule::Rfc1035.allows(&got));
    }

    #[test]
    fn heads_lose_trailing_dashes_and_dots() {
        // Cut falls right after a '-': it must not produce "--".
        let name = format!("{}-{}", "a".repeat(48), "b".repeat(30));
        let got = fit(&name, "-pr-1", 63);
        assert!(!got.contains("--"), "{got}");
        assert_eq!(got.len(), 48 + 1 + 8 + 5);
    }

    #[test]
    fn hash_is_stable() {
        // sha256("web-pr-7") starts with these bytes on every platform.
        assert_eq!(hash8("web-pr-7"), hash8("web-pr-7"));
        assert_eq!(hash8("abc"), "ba7816bf");
    }

    #[test]
    fn generate_names() {
        assert_eq!(fit_generate_name("x-", "-pr-7"), "x-pr-7-");
        assert_eq!(fit_generate_name("x-pr-7-", "-pr-7"), "x-pr-7-");
        let long = format!("{}-", "g".repeat(70));
        let got = fit_generate_name(&long, "-pr-7");
        assert!(got.len() <= 58 && got.ends_with("-pr-7-"), "{got}");
    }

    #[test]
    fn rules() {
        assert!(NameRule::Label.allows("web-1"));
        assert!(!NameRule::Label.allows("Web"));
        assert!(!NameRule::Label.allows("a.b"));
        assert!(NameRule::Subdomain { max: 253 }.allows("a.b-c"));
        assert!(!NameRule::Subdomain { max: 253 }.allows("${APP}-db"));
        assert!(!NameRule::Rfc1035.allows("1web"));
        assert!(!NameRule::Subdomain { max: 52 }.allows(&"a".repeat(53)));
        assert!(NameRule::Subdomain { max: 253 }.allows(&"a".repeat(86)));
        assert!(NameRule::PathSegment.allows("system:aggregated-metrics-reader"));
        assert!(!NameRule::PathSegment.allows("a/b"));
    }
}
