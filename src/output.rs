//! Step 10 (DESIGN.md §4.10): the rendered documents as bytes.
//!
//! Everything is rendered into memory first; the caller writes it with one `write_all`, and
//! only when the whole render succeeded, so a failure never leaves a partial stream.
//! `--out-dir` builds the directory next to its destination and swaps it in at the end, and
//! refuses to replace a directory it did not make.

use crate::collections::HashSet;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::{Loc, Object, OutDoc, SourceRef};
use crate::yaml::Node;
use crate::yaml::emit::emit_document;
use crate::yaml::json::{Json, to_json};
use crate::yaml::splice::write_piece;
use crate::yaml::split::Piece;

/// Output formats of `-o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One YAML stream, documents separated by `---`.
    Yaml,
    /// One `v1 List` document holding every object (List documents' items in their place),
    /// typed as Kubernetes reads the YAML, indented as kubectl prints it.
    Json,
    /// One JSON object per line: each input document, typed as Kubernetes reads the YAML.
    Jsonl,
}

/// A marker that `--out-dir` leaves in directories it writes, so that it replaces only
/// directories it made.
pub const OUT_DIR_MARKER: &str = ".kubectl-gitops-out";

pub fn to_bytes(docs: &[OutDoc], format: Format) -> Result<Vec<u8>> {
    match format {
        Format::Yaml => Ok(yaml_stream(docs)?.into_bytes()),
        Format::Jsonl => {
            let mut out = String::new();
            for d in docs {
                json_line(d, &mut out)?;
            }
            Ok(out.into_bytes())
        }
        Format::Json => {
            let mut items = Vec::new();
            for d in docs {
                match json_of(&d.node, &d.file)? {
                    // A List document's items are objects of the List, as kubectl flattens them.
                    Json::Obj(mut o) if Object::is_list_document(&d.node) => {
                        if let Some(Json::Arr(inner)) = o.remove("items") {
                            items.extend(inner);
                        }
                    }
                    j => items.push(j),
                }
            }
            let list = Json::Obj(BTreeMap::from([
                ("apiVersion".to_string(), Json::Str("v1".into())),
                ("items".to_string(), Json::Arr(items)),
                ("kind".to_string(), Json::Str("List".into())),
                (
                    "metadata".to_string(),
                    Json::Obj(BTreeMap::from([(
                        "resourceVersion".to_string(),
                        Json::Str(String::new()),
                    )])),
                ),
            ]));
            let mut out = String::new();
            write_indented(&list, 0, &mut out);
            out.push('\n');
            Ok(out.into_bytes())
        }
    }
}

/// JSON with 4-space indentation, as kubectl's `-o json` prints it; scalars are written by
/// [`Json::write`], so numbers and escapes are exactly those of the one-line form.
fn write_indented(j: &Json, depth: usize, out: &mut String) {
    let pad = |out: &mut String, depth: usize| out.extend(std::iter::repeat_n(' ', depth * 4));
    match j {
        Json::Arr(items) if !items.is_empty() => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                pad(out, depth + 1);
                write_indented(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push(']');
        }
        Json::Obj(entries) if !entries.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in entries.iter().enumerate() {
                pad(out, depth + 1);
                Json::Str(k.clone()).write(out);
                out.push_str(": ");
                write_indented(v, depth + 1, out);
                out.push_str(if i + 1 < entries.len() { ",\n" } else { "\n" });
            }
            pad(out, depth);
            out.push('}');
        }
        scalar_or_empty => scalar_or_empty.write(out),
    }
}

/// The YAML stream: each document's source text with the render's edits, in output order.
///
/// Pieces of text that follow each other in a file are written as they are, so a render
/// without identity is the input byte for byte. Elsewhere (files joined, a document moved to
/// the front, one written by the program) a line break is added where one is missing, and a
/// `---` line unless the next piece starts with one (DESIGN.md §4.1). A stream that would
/// start with `{` and hold more than one document starts with `---`: Argo CD would otherwise
/// take it for a stream of JSON objects.
pub fn yaml_stream(docs: &[OutDoc]) -> Result<String> {
    let mut out = String::new();
    let mut prev: Option<&SourceRef> = None;
    let mut count = 0;
    for d in docs {
        for t in &d.lead {
            join(&mut out, prev, Some(t));
            let p = without_bom(&out, &t.text, t.piece);
            out.push_str(&t.text[p.start..p.end]);
            prev = Some(t);
        }
        join(&mut out, prev, d.source.as_ref());
        match &d.source {
            Some(src) => {
                // A document moved to the front of the stream needs no separator line.
                let piece = if out.is_empty() && src.piece.start > 0 {
                    Piece {
                        start: src.piece.body,
                        ..src.piece
                    }
                } else {
                    src.piece
                };
                let piece = without_bom(&out, &src.text, piece);
                write_piece(&mut out, &src.text, piece, Some(&d.node)).map_err(|e| {
                    Error::Refused {
                        loc: Loc::new(&d.file, e.pos),
                        msg: e.msg,
                    }
                })?
            }
            None => emit_document(&mut out, &d.node),
        }
        count += 1;
        prev = d.source.as_ref();
        for t in &d.trail {
            join(&mut out, prev, Some(t));
            let p = without_bom(&out, &t.text, t.piece);
            out.push_str(&t.text[p.start..p.end]);
            prev = Some(t);
        }
    }
    if count > 1 && out.trim_start().starts_with('{') {
        out.insert_str(0, "---\n");
    }
    Ok(out)
}

/// The piece without the byte order mark that starts its file, unless it starts the output:
/// inside a stream a BOM is refused by our own reader (and a second render of the output would
/// fail), so only the output's first byte may carry one.
fn without_bom(out: &str, text: &str, piece: Piece) -> Piece {
    const BOM: usize = '\u{feff}'.len_utf8();
    if !out.is_empty() && piece.start == 0 && text.starts_with('\u{feff}') {
        Piece {
            start: BOM.min(piece.end),
            body: piece.body.max(BOM).min(piece.end),
            ..piece
        }
    } else {
        piece
    }
}

/// What goes between two pieces of output (see [`yaml_stream`]).
fn join(out: &mut String, prev: Option<&SourceRef>, next: Option<&SourceRef>) {
    if out.is_empty() {
        return;
    }
    if let (Some(p), Some(n)) = (prev, next) {
        if std::sync::Arc::ptr_eq(&p.text, &n.text) && p.piece.end == n.piece.start {
            return;
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    if next.is_none_or(|n| n.piece.body == n.piece.start) {
        out.push_str("---\n");
    }
}

fn json_line(d: &OutDoc, out: &mut String) -> Result<()> {
    json_node(&d.node, &d.file, out)
}

fn json_of(node: &Node, file: &std::sync::Arc<str>) -> Result<Json> {
    to_json(node).map_err(|e| Error::Refused {
        loc: Loc::new(file, e.pos),
        msg: e.msg,
    })
}

fn json_node(node: &Node, file: &std::sync::Arc<str>, out: &mut String) -> Result<()> {
    json_of(node, file)?.write(out);
    out.push('\n');
    Ok(())
}

/// One file per object (List items apart), named `<kind>-<name>.yaml`, in a fresh directory
/// swapped in for `dir`.
pub fn write_dir(docs: &[OutDoc], format: Format, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut used = HashSet::default();
    for d in docs {
        let items: Vec<&Node> = if Object::is_list_document(&d.node) {
            d.node
                .get("items")
                .and_then(Node::as_seq)
                .map(|s| s.iter().collect())
                .unwrap_or_default()
        } else {
            vec![&d.node]
        };
        for node in items {
            let base = file_stem(node);
            let mut name = base.clone();
            let mut n = 2;
            while !used.insert(name.clone()) {
                name = format!("{base}-{n}");
                n += 1;
            }
            let mut text = String::new();
            let ext = match format {
                Format::Yaml => {
                    match (&d.source, std::ptr::eq(node, &d.node)) {
                        // A document of its own: its text, edits applied, without the
                        // separator line.
                        (Some(src), true) => {
                            let piece = Piece {
                                start: src.piece.body,
                                ..src.piece
                            };
                            write_piece(&mut text, &src.text, piece, Some(node)).map_err(|e| {
                                Error::Refused {
                                    loc: Loc::new(&d.file, e.pos),
                                    msg: e.msg,
                                }
                            })?;
                            if !text.ends_with('\n') {
                                text.push('\n');
                            }
                        }
                        // A List item or a document the program wrote.
                        _ => emit_document(&mut text, node),
                    }
                    "yaml"
                }
                Format::Json | Format::Jsonl => {
                    json_node(node, &d.file, &mut text)?;
                    "json"
                }
            };
            files.push((format!("{name}.{ext}"), text.into_bytes()));
        }
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    if dir.exists() {
        let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
        if !empty && !dir.join(OUT_DIR_MARKER).exists() {
            return Err(Error::FileRefused {
                path: dir.to_path_buf(),
                msg: format!(
                    "refusing to replace a directory that kubectl-gitops did not write (it has no {OUT_DIR_MARKER}); choose an empty or new directory"
                ),
            });
        }
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let base = dir
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = parent.join(format!(".{base}.tmp-{}", std::process::id()));
    let old = parent.join(format!(".{base}.old-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut written = Vec::new();
    for (name, bytes) in &files {
        let p = tmp.join(name);
        std::fs::write(&p, bytes).map_err(io(&p))?;
        written.push(dir.join(name));
    }
    std::fs::write(tmp.join(OUT_DIR_MARKER), b"written by kubectl-gitops render --out-dir; the whole directory is replaced on the next run\n")
        .map_err(io(&tmp))?;
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(dir))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(written)
}

/// `<kind>-<name>`, lowercase, with anything outside `[a-z0-9.-]` replaced by `_`.
fn file_stem(node: &Node) -> String {
    let kind = node
        .get("kind")
        .and_then(Node::scalar_text)
        .unwrap_or("object");
    let meta = node.get("metadata");
    let name = meta
        .and_then(|m| m.get("name"))
        .and_then(Node::scalar_text)
        .or_else(|| {
            meta.and_then(|m| m.get("generateName"))
                .and_then(Node::scalar_text)
                .map(|g| g.trim_end_matches('-'))
        })
        .unwrap_or("unnamed");
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    format!("{}-{}", clean(kind), clean(name))
}
