//! The shared walker behind every field table: a path of mapping keys, with sequences walked
//! implicitly (kustomize's fieldspec idea), so `spec/containers/env/valueFrom` reaches every
//! container's every env entry.
//!
//! Reads see keys provided through merge keys (`<<`). Writes materialize such a key as an
//! explicit copy only when the edit below it will actually change something, so a render
//! never rewrites text it does not need to.

use crate::yaml::{Node, key_is};

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
