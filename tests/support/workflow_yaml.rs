//! Rendered objects as flat maps, for `tests/workflows.rs`: every document of a YAML stream
//! becomes `path -> scalar`, read with saphyr-parser's event API (not kubectl-gitops's own
//! reader), so two renders compare field by field and what differs is named by its path.
//!
//! Paths join mapping keys with `.` and write sequence indices as `[i]`; a key that holds a
//! `.` or a `/` (label and annotation keys) is written `[key]`:
//! `metadata.labels[kubectl-gitops.io/env]`, `spec.template.spec.containers[0].image`.
//! Empty mappings and sequences are kept as `{}` and `[]`.

use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser};

/// One object: path -> scalar value.
pub type Flat = BTreeMap<String, String>;

enum Frame {
    Map {
        path: String,
        key: Option<String>,
        empty: bool,
    },
    Seq {
        path: String,
        next: usize,
    },
}

fn join(parent: &str, key: &str) -> String {
    if key.contains(['.', '/']) {
        format!("{parent}[{key}]")
    } else if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path of the next value in the innermost collection (taking its key or index).
fn next_path(stack: &mut [Frame]) -> String {
    match stack.last_mut() {
        None => String::new(),
        Some(Frame::Map { path, key, empty }) => {
            *empty = false;
            join(path, &key.take().unwrap())
        }
        Some(Frame::Seq { path, next }) => {
            *next += 1;
            format!("{path}[{}]", *next - 1)
        }
    }
}

/// The documents of a YAML stream, flattened; empty documents are dropped.
pub fn documents(text: &str) -> Vec<Flat> {
    let mut docs = Vec::new();
    let mut doc = Flat::new();
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, _) = event.unwrap_or_else(|e| panic!("not YAML: {e:?}\n{text}"));
        match event {
            Event::DocumentStart(_) => doc = Flat::new(),
            Event::DocumentEnd if !doc.is_empty() => docs.push(std::mem::take(&mut doc)),
            Event::Scalar(value, ..) => {
                if let Some(Frame::Map {
                    key: key @ None, ..
                }) = stack.last_mut()
                {
                    *key = Some(value.into_owned());
                    continue;
                }
                let path = next_path(&mut stack);
                doc.insert(path, value.into_owned());
            }
            Event::MappingStart(..) => {
                let path = next_path(&mut stack);
                stack.push(Frame::Map {
                    path,
                    key: None,
                    empty: true,
                });
            }
            Event::SequenceStart(..) => {
                let path = next_path(&mut stack);
                stack.push(Frame::Seq { path, next: 0 });
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    path, empty: true, ..
                }) = stack.pop()
                {
                    doc.insert(path, "{}".into());
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { path, next: 0 }) = stack.pop() {
                    doc.insert(path, "[]".into());
                }
            }
            Event::Alias(_) => panic!("unexpected alias in a render:\n{text}"),
            _ => {}
        }
    }
    docs
}

/// `Kind/name` of an object.
pub fn key(doc: &Flat) -> String {
    format!(
        "{}/{}",
        doc.get("kind").map_or("?", String::as_str),
        doc.get("metadata.name").map_or("?", String::as_str)
    )
}

/// The documents of a YAML stream by `Kind/name`; a repeated key fails the test.
pub fn objects(text: &str) -> BTreeMap<String, Flat> {
    let mut out = BTreeMap::new();
    for doc in documents(text) {
        let k = key(&doc);
        assert!(
            out.insert(k.clone(), doc).is_none(),
            "{k} twice in:\n{text}"
        );
    }
    out
}

/// One field that differs between two objects: `(object, path, before, after)`, `None`
/// where the field is absent.
pub type Change = (String, String, Option<String>, Option<String>);

/// Every field that differs between two sets of objects (an object on one side only counts
/// as one change at path `.`).
pub fn changes(a: &BTreeMap<String, Flat>, b: &BTreeMap<String, Flat>) -> Vec<Change> {
    let mut out = Vec::new();
    for (k, x) in a {
        let Some(y) = b.get(k) else {
            out.push((k.clone(), ".".into(), Some("(object)".into()), None));
            continue;
        };
        for (p, v) in x {
            if y.get(p) != Some(v) {
                out.push((k.clone(), p.clone(), Some(v.clone()), y.get(p).cloned()));
            }
        }
        for (p, v) in y {
            if !x.contains_key(p) {
                out.push((k.clone(), p.clone(), None, Some(v.clone())));
            }
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        out.push((k.clone(), ".".into(), None, Some("(object)".into())));
    }
    out.sort();
    out
}
