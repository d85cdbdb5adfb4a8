//! The shared walker behind every field table: a path of mapping keys, with sequences walked
//! implicitly (kustomize's fieldspec idea), so `spec/containers/env/valueFrom` reaches every
//! container's every env entry.
//!
//! Reads see keys provided through merge keys (`<<`). Writes materialize such a key as an
//! explicit copy only when the edit below it will actually change something, so a render
//! never rewrites text it does not need to.
//!
//! [`FieldPath`] is the compiled form of a path written in a pack or in gitops.yaml
//! `references:`: keys (a list form holds keys with dots, such as annotation keys), `*` for
//! any one key, `**` for any depth (zero or more levels), and `*Suffix` / `Prefix*` for keys
//! ending or starting with a text (`**.*SecretRef`). Globs visit only keys written in the
//! mapping (not those provided by a merge).

use std::fmt;

use crate::yaml::{Node, is_merge_key, key_is};

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    /// `*`: any key.
    Any,
    /// `**`: any number of levels, none included.
    Deep,
    /// `*Ref`: a key ending with the text.
    Suffix(String),
    /// `spec*`: a key starting with the text.
    Prefix(String),
}

impl Seg {
    pub fn parse(s: &str) -> Seg {
        let s = s.strip_suffix("[]").unwrap_or(s);
        match s {
            "*" => Seg::Any,
            "**" => Seg::Deep,
            _ if s.len() > 1 && s.starts_with('*') => Seg::Suffix(s[1..].to_string()),
            _ if s.len() > 1 && s.ends_with('*') => Seg::Prefix(s[..s.len() - 1].to_string()),
            _ => Seg::Key(s.to_string()),
        }
    }

    fn matches(&self, key: &str) -> bool {
        match self {
            Seg::Key(k) => k == key,
            Seg::Any => true,
            Seg::Deep => false,
            Seg::Suffix(x) => key.ends_with(x.as_str()) && key.len() > x.len(),
            Seg::Prefix(x) => key.starts_with(x.as_str()) && key.len() > x.len(),
        }
    }
}

/// A compiled field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FieldPath {
    pub segs: Vec<Seg>,
}

impl FieldPath {
    /// A dotted path (`spec.template.spec`).
    pub fn dotted(s: &str) -> FieldPath {
        FieldPath {
            segs: s.split('.').map(Seg::parse).collect(),
        }
    }

    /// A path of literal keys, each of which may still be a glob.
    pub fn keys<S: AsRef<str>>(keys: &[S]) -> FieldPath {
        FieldPath {
            segs: keys.iter().map(|k| Seg::parse(k.as_ref())).collect(),
        }
    }

    /// The keys, when the path has no globs.
    pub fn plain(&self) -> Option<Vec<&str>> {
        self.segs
            .iter()
            .map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                _ => None,
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Joins two paths (a shape's entries below where the shape sits).
    pub fn join(&self, rest: &FieldPath) -> FieldPath {
        FieldPath {
            segs: self.segs.iter().chain(&rest.segs).cloned().collect(),
        }
    }

    /// Calls `f` on every node at this path below `node`.
    pub fn visit<'a>(&self, node: &'a Node, f: &mut dyn FnMut(&'a Node)) {
        visit_segs(node, &self.segs, f);
    }

    /// Calls `f` on every node at this path for which `wants` is true.
    pub fn visit_mut(
        &self,
        node: &mut Node,
        wants: &dyn Fn(&Node) -> bool,
        f: &mut dyn FnMut(&mut Node),
    ) {
        visit_segs_mut(node, &self.segs, wants, f);
    }

    /// Whether any node at this path satisfies `pred`.
    pub fn any(&self, node: &Node, pred: &dyn Fn(&Node) -> bool) -> bool {
        let mut found = false;
        self.visit(node, &mut |n| found = found || pred(n));
        found
    }
}

impl fmt::Display for FieldPath {
    /// The dotted form; a key holding a dot is written in brackets (`annotations[a.io/b]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segs.iter().enumerate() {
            let text = match s {
                Seg::Key(k) => k.clone(),
                Seg::Any => "*".into(),
                Seg::Deep => "**".into(),
                Seg::Suffix(x) => format!("*{x}"),
                Seg::Prefix(x) => format!("{x}*"),
            };
            if text.contains('.') {
                write!(f, "[{text}]")?;
            } else {
                if i > 0 {
                    f.write_str(".")?;
                }
                f.write_str(&text)?;
            }
        }
        Ok(())
    }
}

fn visit_segs<'a>(node: &'a Node, segs: &[Seg], f: &mut dyn FnMut(&'a Node)) {
    if let Some(items) = node.as_seq() {
        for item in items {
            visit_segs(item, segs, f);
        }
        return;
    }
    match segs.split_first() {
        None => f(node),
        Some((Seg::Key(key), rest)) => {
            if let Some(child) = node.get(key) {
                visit_segs(child, rest, f);
            }
        }
        Some((Seg::Deep, rest)) => {
            visit_segs(node, rest, f);
            for (k, v) in node.as_map().into_iter().flatten() {
                if !is_merge_key(k) {
                    visit_segs(v, segs, f);
                }
            }
        }
        Some((seg, rest)) => {
            for (k, v) in node.as_map().into_iter().flatten() {
                if k.scalar_text().is_some_and(|k| seg.matches(k)) {
                    visit_segs(v, rest, f);
                }
            }
        }
    }
}

fn visit_segs_mut(
    node: &mut Node,
    segs: &[Seg],
    wants: &dyn Fn(&Node) -> bool,
    f: &mut dyn FnMut(&mut Node),
) {
    if let Some(items) = node.as_seq_mut() {
        for item in items {
            visit_segs_mut(item, segs, wants, f);
        }
        return;
    }
    match segs.split_first() {
        None => {
            if wants(node) {
                f(node);
            }
        }
        Some((Seg::Key(key), rest)) => {
            let explicit = node
                .as_map()
                .is_some_and(|m| m.iter().any(|(k, _)| key_is(k, key)));
            if !explicit {
                // Present only through a merge: copy it out only if an edit below needs it.
                let mut needed = false;
                if let Some(child) = node.get(key) {
                    visit_segs(child, rest, &mut |n| needed = needed || wants(n));
                }
                if !needed {
                    return;
                }
            }
            if let Some(child) = node.get_mut(key) {
                visit_segs_mut(child, rest, wants, f);
            }
        }
        Some((Seg::Deep, rest)) => {
            visit_segs_mut(node, rest, wants, f);
            for (k, v) in node.as_map_mut().into_iter().flatten() {
                if !is_merge_key(k) {
                    visit_segs_mut(v, segs, wants, f);
                }
            }
        }
        Some((seg, rest)) => {
            for (k, v) in node.as_map_mut().into_iter().flatten() {
                if k.scalar_text().is_some_and(|k| seg.matches(k)) {
                    visit_segs_mut(v, rest, wants, f);
                }
            }
        }
    }
}

/// Calls `f` on every node at `path` below `node`.
pub fn visit<'a>(node: &'a Node, path: &[&str], f: &mut dyn FnMut(&'a Node)) {
    if let Some(items) = node.as_seq() {
        for item in items {
            visit(item, path, f);
        }
        return;
    }
    match path.split_first() {
        None => f(node),
        Some((key, rest)) => {
            if let Some(child) = node.get(key) {
                visit(child, rest, f);
            }
        }
    }
}

/// Whether any node at `path` satisfies `pred`.
pub fn any(node: &Node, path: &[&str], pred: &dyn Fn(&Node) -> bool) -> bool {
    let mut found = false;
    visit(node, path, &mut |n| found = found || pred(n));
    found
}

/// Calls `f` on every node at `path` for which `wants` is true.
pub fn visit_mut(
    node: &mut Node,
    path: &[&str],
    wants: &dyn Fn(&Node) -> bool,
    f: &mut dyn FnMut(&mut Node),
) {
    if let Some(items) = node.as_seq_mut() {
        for item in items {
            visit_mut(item, path, wants, f);
        }
        return;
    }
    let Some((key, rest)) = path.split_first() else {
        if wants(node) {
            f(node);
        }
        return;
    };
    let explicit = node
        .as_map()
        .is_some_and(|m| m.iter().any(|(k, _)| key_is(k, key)));
    if !explicit {
        // Present only through a merge: copy it out only if an edit below needs to happen.
        match node.get(key) {
            Some(child) if any(child, rest, wants) => {}
            _ => return,
        }
    }
    if let Some(child) = node.get_mut(key) {
        visit_mut(child, rest, wants, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::emit::emit_stream;

    use crate::yaml::test_doc as doc;

    #[test]
    fn walks_sequences_implicitly() {
        let n =
            doc("spec:\n  containers:\n  - env: [{name: a}, {name: b}]\n  - env: [{name: c}]\n");
        let mut seen = Vec::new();
        visit(&n, &["spec", "containers", "env", "name"], &mut |x| {
            seen.extend(x.scalar_text().map(str::to_string));
        });
        assert_eq!(seen, ["a", "b", "c"]);
    }

    #[test]
    fn globs() {
        let n = doc(
            "spec:\n  forProvider:\n    passwordSecretRef: {name: a}\n    nested:\n      tokenSecretRef: {name: b}\n    vpcIdRef: {name: c}\n  other: {fooSecretRef: {name: d}}\nmetadata:\n  annotations: {cert-manager.io/issuer: ca}\n",
        );
        let names = |p: &FieldPath| {
            let mut seen = Vec::new();
            p.visit(&n, &mut |x| {
                seen.extend(x.scalar_text().map(str::to_string))
            });
            seen
        };
        assert_eq!(
            names(&FieldPath::dotted("spec.forProvider.**.*SecretRef.name")),
            ["a", "b"]
        );
        assert_eq!(
            names(&FieldPath::dotted("spec.*.*Ref.name")),
            ["a", "c", "d"]
        );
        let ann = FieldPath::keys(&["metadata", "annotations", "cert-manager.io/issuer"]);
        assert_eq!(names(&ann), ["ca"]);
        assert_eq!(
            ann.to_string(),
            "metadata.annotations[cert-manager.io/issuer]"
        );
        assert_eq!(
            FieldPath::dotted("spec.volumes[].csi").to_string(),
            "spec.volumes.csi"
        );
        let mut m = n.clone();
        FieldPath::dotted("spec.**.*SecretRef.name").visit_mut(
            &mut m,
            &|x| x.scalar_text() == Some("b"),
            &mut |x| x.replace_str("B"),
        );
        assert_eq!(
            m.path(&["spec", "forProvider", "nested", "tokenSecretRef", "name"])
                .and_then(Node::scalar_text),
            Some("B")
        );
    }

    #[test]
    fn edits_under_merges_only_when_needed() {
        let src = "d: &d {name: x, other: y}\nv:\n  <<: *d\n";
        let mut n = doc(src);
        visit_mut(
            &mut n,
            &["v", "name"],
            &|x| x.scalar_text() == Some("zzz"),
            &mut |x| {
                x.replace_str("new");
            },
        );
        assert_eq!(
            emit_stream([&n]),
            "d:\n  name: x\n  other: y\nv:\n  <<:\n    name: x\n    other: y\n"
        );
        visit_mut(
            &mut n,
            &["v", "name"],
            &|x| x.scalar_text() == Some("x"),
            &mut |x| {
                x.replace_str("new");
            },
        );
        assert_eq!(
            emit_stream([&n]),
            "d:\n  name: x\n  other: y\nv:\n  <<:\n    name: x\n    other: y\n  name: new\n"
        );
    }
}
