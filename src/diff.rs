//! `kubectl gitops diff`: what changes between two identities' renders of the same files,
//! with the changes that only the identity makes summarised on one line.
//!
//! Objects are matched by group, kind and the name written in the files (so `web` in dev
//! matches `web-pr-7` in a preview). Each side is normalised before comparing: its namespace
//! (in `namespace` fields) becomes `<namespace>`, its preview suffix is removed wherever it
//! appears (names, references, hosts), and the identity labels (`<prefix>/app`, `/env`,
//! `/pr`, in metadata, templates and selectors) are left out. What still differs is real: a parameter,
//! a composition, a protection annotation, an environment's extra label. The output is a
//! unified diff per object (3 lines of context), deterministic, on stdout.
//!
//! [`compare_renders`] is the other comparison: two renders with the *same* identity of two
//! versions of the files (what `promote` shows a reviewer: the target environment at the
//! target's main versus the promotion branch). Nothing is normalised there; objects are
//! matched by group, kind, namespace and name as rendered, and compared as the render
//! writes them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::config::IdentityRequest;
use crate::diag::Warning;
use crate::error::{Error, Result};
use crate::model::{GroupKind, OutDoc};
use crate::output::{self, Format};
use crate::render::{self, Request};
use crate::transform::{self, Ctx};
use crate::yaml::emit::emit_document;
use crate::yaml::{Node, Value};

/// One side of a diff.
#[derive(Clone, Debug)]
pub struct Side {
    /// How the side is named in the output (`dev`, `pr-7`).
    pub label: String,
    pub identity: IdentityRequest,
}

/// The diff's text and whether anything differs beyond identity.
#[derive(Debug)]
pub struct DiffResult {
    pub text: String,
    pub differs: bool,
}

/// A rendered object, normalised, keyed for matching.
struct Rendered {
    key: (GroupKind, String),
    label: String,
    text: String,
}

struct SideRender {
    label: String,
    ctx: Ctx,
    objects: Vec<Rendered>,
}

fn render_side(
    path: &str,
    repo_root: Option<&std::path::Path>,
    side: &Side,
    warnings: &mut Vec<Warning>,
) -> Result<SideRender> {
    let req = Request {
        path: path.to_string(),
        identity: side.identity.clone(),
        repo_root: repo_root.map(std::path::Path::to_path_buf),
        ..Request::default()
    };
    let (input, ctx) = render::prepare(&req, &mut std::io::empty(), warnings)?;
    if !ctx.identity.is_set() {
        return Err(Error::Usage(format!(
            "the {} side has no identity: give --env, --pr or --namespace for it",
            side.label
        )));
    }
    let mut analysis = transform::analyze(input, &ctx);
    if !analysis.refusals.is_empty() {
        return Err(analysis.refusals.remove(0));
    }
    if let Some(c) = analysis.collisions.first() {
        return Err(c.to_error());
    }
    let prefix = ctx.config.label_prefix.clone();
    let suffix = ctx.suffix();
    let ns = ctx.identity.namespace.clone();
    let objects = analysis
        .input
        .objects
        .iter()
        .map(|o| {
            let name = o
                .name
                .clone()
                .or_else(|| o.generate_name.clone())
                .unwrap_or_default();
            let mut node = o.node.clone();
            normalize(&mut node, ns.as_deref(), suffix.as_deref(), &prefix, 0);
            let mut text = String::new();
            emit_document(&mut text, &node);
            Rendered {
                key: (o.gk.clone(), name),
                label: o.label(),
                text,
            }
        })
        .collect();
    Ok(SideRender {
        label: side.label.clone(),
        ctx,
        objects,
    })
}

/// Replaces what only the identity makes, so that two sides compare on the rest.
fn normalize(n: &mut Node, ns: Option<&str>, suffix: Option<&str>, prefix: &str, depth: usize) {
    if depth > crate::yaml::MAX_DEPTH {
        return;
    }
    match &mut n.value {
        Value::Scalar(s) => {
            if let Some(sfx) = suffix.filter(|sfx| s.value.contains(*sfx)) {
                let v = s.value.replace(sfx, "");
                n.replace_str(&v);
            }
        }
        Value::Seq(items) => {
            for i in items {
                normalize(i, ns, suffix, prefix, depth + 1);
            }
        }
        Value::Map(entries) => {
            // Identity labels are identity: a preview has a pr label (also in its selectors)
            // that an environment does not.
            entries.retain(|(k, v)| {
                let key = k.scalar_text().unwrap_or("");
                let identity = key
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(|f| matches!(f, "app" | "env" | "pr"));
                !(identity && v.as_scalar().is_some())
            });
            for (k, v) in entries.iter_mut() {
                let key = k.scalar_text().unwrap_or("");
                match key {
                    // The target namespace, on objects and on references that carry one.
                    "namespace" if ns.is_some() && v.scalar_text() == ns => {
                        v.replace_str("<namespace>");
                    }
                    _ => normalize(v, ns, suffix, prefix, depth + 1),
                }
            }
        }
    }
}

/// Renders both sides and compares them.
pub fn diff(path: &str, from: &Side, to: &Side, warnings: &mut Vec<Warning>) -> Result<DiffResult> {
    diff_in(path, None, from, to, warnings)
}

/// [`diff`] of a path whose gitops.yaml lookup stops at `repo_root` (an exported tree
/// without `.git`).
pub fn diff_in(
    path: &str,
    repo_root: Option<&std::path::Path>,
    from: &Side,
    to: &Side,
    warnings: &mut Vec<Warning>,
) -> Result<DiffResult> {
    let a = render_side(path, repo_root, from, warnings)?;
    let b = render_side(path, repo_root, to, warnings)?;
    let mut out = String::new();
    out.push_str(&summary(&a, &b));
    let mut differs = false;
    let index = |s: &SideRender| -> BTreeMap<(GroupKind, String), usize> {
        s.objects
            .iter()
            .enumerate()
            .map(|(i, o)| (o.key.clone(), i))
            .collect()
    };
    let (ia, ib) = (index(&a), index(&b));
    let mut same = 0;
    // In the order of the `to` side, then what only `from` has.
    for o in &b.objects {
        match ia.get(&o.key) {
            Some(&i) => {
                let before = &a.objects[i];
                if before.text == o.text {
                    same += 1;
                    continue;
                }
                differs = true;
                let _ = writeln!(out, "--- {}: {}", a.label, before.label);
                let _ = writeln!(out, "+++ {}: {}", b.label, o.label);
                out.push_str(&unified(&before.text, &o.text));
            }
            None if is_identity_namespace(o, &b.ctx) => {}
            None => {
                differs = true;
                let _ = writeln!(out, "--- {}: (absent)", a.label);
                let _ = writeln!(out, "+++ {}: {}", b.label, o.label);
                out.push_str(&unified("", &o.text));
            }
        }
    }
    for o in &a.objects {
        if ib.contains_key(&o.key) || is_identity_namespace(o, &a.ctx) {
            continue;
        }
        differs = true;
        let _ = writeln!(out, "--- {}: {}", a.label, o.label);
        let _ = writeln!(out, "+++ {}: (absent)", b.label);
        out.push_str(&unified(&o.text, ""));
    }
    let _ = writeln!(
        out,
        "# {same} of {} objects differ only in identity{}",
        b.objects.len(),
        if differs {
            ""
        } else {
            "; nothing else differs"
        }
    );
    Ok(DiffResult { text: out, differs })
}

/// One object of a render, keyed for matching with the same object in another render.
#[derive(Clone, Debug)]
pub struct RenderedObject {
    /// (API group, kind, namespace, name, occurrence of that key so far).
    key: (String, String, String, String, usize),
    label: String,
    text: String,
}

/// The objects of a render's documents, each with its text as the render writes it.
pub fn rendered_objects(docs: &[OutDoc]) -> Result<Vec<RenderedObject>> {
    let mut seen: BTreeMap<(String, String, String, String), usize> = BTreeMap::new();
    let mut out = Vec::with_capacity(docs.len());
    for d in docs {
        let text = |n: &crate::yaml::Node, k: &str| {
            n.get(k)
                .and_then(crate::yaml::Node::scalar_text)
                .unwrap_or("")
                .to_string()
        };
        let api = text(&d.node, "apiVersion");
        let group = api.rsplit_once('/').map_or("", |(g, _)| g).to_string();
        let kind = text(&d.node, "kind");
        let (ns, name) = match d.node.get("metadata") {
            Some(m) => {
                let name = text(m, "name");
                let name = if name.is_empty() {
                    text(m, "generateName")
                } else {
                    name
                };
                (text(m, "namespace"), name)
            }
            None => (String::new(), String::new()),
        };
        let base = (group, kind.clone(), ns, name.clone());
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let bytes = output::to_bytes(std::slice::from_ref(d), Format::Yaml)?;
        out.push(RenderedObject {
            key: (base.0, base.1, base.2, base.3, *n),
            label: if name.is_empty() {
                kind
            } else {
                format!("{kind}/{name}")
            },
            text: String::from_utf8_lossy(&bytes).into_owned(),
        });
    }
    Ok(out)
}

/// Compares two renders with the same identity: a unified diff per object that was added,
/// removed or changed, in the order of the `after` render (then what only `before` has),
/// and a summary line.
pub fn compare_renders(
    before_label: &str,
    before: &[RenderedObject],
    after_label: &str,
    after: &[RenderedObject],
) -> DiffResult {
    let index: BTreeMap<_, usize> = before
        .iter()
        .enumerate()
        .map(|(i, o)| (o.key.clone(), i))
        .collect();
    let after_keys: std::collections::BTreeSet<_> = after.iter().map(|o| &o.key).collect();
    let mut out = String::new();
    let (mut added, mut removed, mut changed, mut same) = (0, 0, 0, 0);
    for o in after {
        match index.get(&o.key) {
            Some(&i) if before[i].text == o.text => same += 1,
            Some(&i) => {
                changed += 1;
                let _ = writeln!(out, "--- {before_label}: {}", before[i].label);
                let _ = writeln!(out, "+++ {after_label}: {}", o.label);
                out.push_str(&unified(&before[i].text, &o.text));
            }
            None => {
                added += 1;
                let _ = writeln!(out, "--- {before_label}: (absent)");
                let _ = writeln!(out, "+++ {after_label}: {}", o.label);
                out.push_str(&unified("", &o.text));
            }
        }
    }
    for o in before {
        if !after_keys.contains(&o.key) {
            removed += 1;
            let _ = writeln!(out, "--- {before_label}: {}", o.label);
            let _ = writeln!(out, "+++ {after_label}: (absent)");
            out.push_str(&unified(&o.text, ""));
        }
    }
    let _ = writeln!(
        out,
        "# {added} added, {removed} removed, {changed} changed, {same} unchanged"
    );
    DiffResult {
        text: out,
        differs: added + removed + changed > 0,
    }
}

/// A preview's own Namespace is part of its identity.
fn is_identity_namespace(o: &Rendered, ctx: &Ctx) -> bool {
    o.key.0.is("", "Namespace") && ctx.identity.namespace.as_deref() == Some(o.key.1.as_str())
}

/// The one-line summary of what the identity changes.
fn summary(a: &SideRender, b: &SideRender) -> String {
    let (x, y) = (&a.ctx.identity, &b.ctx.identity);
    let mut parts = Vec::new();
    let mut change = |what: &str, p: &Option<String>, q: &Option<String>| {
        if p != q {
            parts.push(format!(
                "{what} {} -> {}",
                p.as_deref().unwrap_or("(none)"),
                q.as_deref().unwrap_or("(none)")
            ));
        }
    };
    change("namespace", &x.namespace, &y.namespace);
    change("env", &x.env, &y.env);
    change("pr", &x.pr, &y.pr);
    change("app", &x.app, &y.app);
    if parts.is_empty() {
        "# identity: the same on both sides\n".into()
    } else {
        format!("# identity: {}\n", parts.join(", "))
    }
}

/// A unified diff of two texts, 3 lines of context.
pub fn unified(a: &str, b: &str) -> String {
    let x: Vec<&str> = a.lines().collect();
    let y: Vec<&str> = b.lines().collect();
    let ops = edit_script(&x, &y);
    let mut out = String::new();
    const CTX: usize = 3;
    // Group changes into hunks.
    let changes: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, o)| !matches!(o, Op::Same(..)))
        .map(|(i, _)| i)
        .collect();
    let mut k = 0;
    while k < changes.len() {
        let start = changes[k].saturating_sub(CTX);
        let mut end = changes[k] + CTX;
        while k + 1 < changes.len() && changes[k + 1] <= end + CTX {
            k += 1;
            end = changes[k] + CTX;
        }
        let end = end.min(ops.len() - 1);
        let (mut a0, mut b0) = (None, None);
        let (mut na, mut nb) = (0, 0);
        let mut body = String::new();
        for op in &ops[start..=end] {
            match op {
                Op::Same(i, j) => {
                    a0.get_or_insert(*i);
                    b0.get_or_insert(*j);
                    na += 1;
                    nb += 1;
                    let _ = writeln!(body, " {}", x[*i]);
                }
                Op::Del(i, j) => {
                    a0.get_or_insert(*i);
                    b0.get_or_insert(*j);
                    na += 1;
                    let _ = writeln!(body, "-{}", x[*i]);
                }
                Op::Ins(i, j) => {
                    a0.get_or_insert(*i);
                    b0.get_or_insert(*j);
                    nb += 1;
                    let _ = writeln!(body, "+{}", y[*j]);
                }
            }
        }
        let line = |first: Option<usize>, n: usize| match (first, n) {
            (_, 0) => format!("{},0", first.unwrap_or(0)),
            (Some(f), n) => format!("{},{n}", f + 1),
            (None, n) => format!("1,{n}"),
        };
        let _ = writeln!(out, "@@ -{} +{} @@", line(a0, na), line(b0, nb));
        out.push_str(&body);
        k += 1;
    }
    out
}

/// One step of an edit script, with the positions in both texts it stands at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Same(usize, usize),
    Del(usize, usize),
    Ins(usize, usize),
}

/// A shortest edit script by longest common subsequence. Objects are small; for very large
/// ones (over 4 million line pairs) the texts are treated as wholly replaced rather than
/// spending quadratic memory.
fn edit_script(x: &[&str], y: &[&str]) -> Vec<Op> {
    let (n, m) = (x.len(), y.len());
    if n.saturating_mul(m) > 4_000_000 {
        let mut ops: Vec<Op> = (0..n).map(|i| Op::Del(i, 0)).collect();
        ops.extend((0..m).map(|j| Op::Ins(n, j)));
        return ops;
    }
    // lcs[i][j]: length of the LCS of x[i..] and y[j..].
    let mut lcs = vec![0u32; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if x[i] == y[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            ops.push(Op::Same(i, j));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            // Deletions before insertions, as diff(1) writes them.
            ops.push(Op::Del(i, j));
            i += 1;
        } else {
            ops.push(Op::Ins(i, j));
            j += 1;
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::unified;

    #[test]
    fn unified_diff_hunks() {
        let a = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let b = "a\nb\nc\nD\ne\nf\ng\nh\n";
        assert_eq!(
            unified(a, b),
            "@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+D\n e\n f\n g\n"
        );
        assert_eq!(unified(a, a), "");
        assert_eq!(unified("", "x\n"), "@@ -0,0 +1,1 @@\n+x\n");
    }
}
