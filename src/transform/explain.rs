//! `--explain` (DESIGN.md §4.10): every edit a render makes, located and attributed to the
//! step that made it, one line each:
//!
//! ```text
//! app/deploy.yaml:7:9: Deployment/web: metadata.name: web -> web-pr-7 (rename)
//! ```
//!
//! How: when asked, [`Recorder`] keeps a copy of every object before each step and, after
//! the step, compares it with the object; a difference is an edit of that step. The steps
//! stay as they are (they edit trees, and need no log of their own), and a render that does
//! not explain pays nothing. A few rules are told apart within a step by where they write
//! (a selector narrowed, an annotation) rather than by the step's name alone.

use std::fmt;

use crate::model::{Loc, Object};
use crate::yaml::{Node, Pos, Value, emit, key_text};

/// One edit, as `--explain` prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explained {
    pub loc: Loc,
    /// `Kind/name` of the object, as it was read.
    pub object: String,
    /// The field, `metadata.labels["app.kubernetes.io/name"]`, `spec.ports[0].name`.
    pub path: String,
    pub old: String,
    pub new: String,
    pub rule: &'static str,
}

impl fmt::Display for Explained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}: {} -> {} ({})",
            self.loc, self.object, self.path, self.old, self.new, self.rule
        )
    }
}

/// Copies of the objects taken before a step, when explaining.
pub struct Recorder {
    before: Option<Vec<Node>>,
    pub explained: Vec<Explained>,
}

impl Recorder {
    /// The edits, ordered by where they are (file, then position); the order of the steps
    /// within one place.
    pub fn finish(mut self) -> Vec<Explained> {
        self.explained.sort_by(|a, b| a.loc.cmp(&b.loc));
        self.explained
    }

    pub fn new(enabled: bool) -> Recorder {
        Recorder {
            before: enabled.then(Vec::new),
            explained: Vec::new(),
        }
    }

    /// Before a step: remembers the objects as they are.
    pub fn before(&mut self, objects: &[Object]) {
        if let Some(b) = &mut self.before {
            *b = objects.iter().map(|o| o.node.clone()).collect();
        }
    }

    /// After a step: records what it changed, attributed to `rule`.
    pub fn after(&mut self, objects: &[Object], rule: &'static str) {
        let Some(before) = self.before.take() else {
            return;
        };
        for (i, o) in objects.iter().enumerate() {
            match before.get(i) {
                Some(old) => diff(
                    o,
                    old,
                    &o.node,
                    &mut String::new(),
                    rule,
                    &mut self.explained,
                ),
                None => self.explained.push(Explained {
                    loc: Loc::file(&o.file),
                    object: o.label(),
                    path: "(object)".into(),
                    old: "(none)".into(),
                    new: format!("{} written by the render", o.label()),
                    rule,
                }),
            }
        }
        self.before = Some(Vec::new());
    }
}

fn diff(
    o: &Object,
    old: &Node,
    new: &Node,
    path: &mut String,
    rule: &'static str,
    out: &mut Vec<Explained>,
) {
    match (&old.value, &new.value) {
        (Value::Map(_), Value::Map(_)) => {
            let old_entries = old.entries();
            let new_entries = new.entries();
            for (k, v) in &new_entries {
                let key = key_text(k).map(|t| t.into_owned()).unwrap_or_default();
                let len = path.len();
                push_key(path, &key);
                match old_entries
                    .iter()
                    .find(|(ok, _)| key_text(ok).as_deref() == Some(key.as_str()))
                {
                    Some((_, ov)) => diff(o, ov, v, path, rule, out),
                    None => out.push(record(o, old.pos, path, "(absent)".into(), show(v), rule)),
                }
                path.truncate(len);
            }
            for (k, v) in &old_entries {
                let key = key_text(k).map(|t| t.into_owned()).unwrap_or_default();
                if !new_entries
                    .iter()
                    .any(|(nk, _)| key_text(nk).as_deref() == Some(key.as_str()))
                {
                    let len = path.len();
                    push_key(path, &key);
                    out.push(record(o, k.pos, path, show(v), "(removed)".into(), rule));
                    path.truncate(len);
                }
            }
        }
        (Value::Seq(a), Value::Seq(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                diff(o, x, y, path, rule, out);
                path.truncate(len);
            }
        }
        (Value::Scalar(a), Value::Scalar(b)) if a.value == b.value && old.tag() == new.tag() => {}
        _ => {
            if old.value != new.value || old.tag() != new.tag() {
                out.push(record(o, old.pos, path, show(old), show(new), rule));
            }
        }
    }
}

fn record(
    o: &Object,
    pos: Pos,
    path: &str,
    old: String,
    new: String,
    rule: &'static str,
) -> Explained {
    // An object the render wrote has no position of its own.
    let pos = if pos.line == 0 {
        Pos { line: 1, col: 1 }
    } else {
        pos
    };
    Explained {
        loc: Loc::new(&o.file, pos),
        object: o.label(),
        path: path.to_string(),
        old,
        new,
        rule: refine(rule, path),
    }
}

/// Tells rules apart within a step by the field they write.
fn refine(rule: &'static str, path: &str) -> &'static str {
    match rule {
        "labels" if path.contains("selector") || path.contains("Selector") => "selector narrowed",
        "labels" if path.contains(".annotations") => "annotations",
        "labels" if path.contains("template.metadata") || path.contains("volumeClaimTemplates") => {
            "template labels"
        }
        _ => rule,
    }
}

fn push_key(path: &mut String, key: &str) {
    let simple = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if simple {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push_str(&format!("[{}]", emit::double_quoted(key)));
    }
}

/// A value on one line, as flow YAML.
fn show(n: &Node) -> String {
    let mut s = String::new();
    emit::flow(&mut s, n, false);
    const MAX: usize = 120;
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}...")
    } else {
        s
    }
}
