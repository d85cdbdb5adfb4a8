//! saphyr-parser events to our [`Node`] tree, one Kubernetes document piece at a time.
//!
//! A file is first cut into the pieces Kubernetes reads ([`super::split`]); each piece is
//! parsed on its own and must hold at most one document, since go-yaml keeps only the first
//! document of a piece and the rest would be silently lost for the cluster while we reasoned
//! about it. Every node records its byte extent in the file ([`Span`]), so that the output
//! can be the input text with local edits ([`super::splice`]).
//!
//! The builder is iterative (an explicit stack), so neither deep input nor the tree it builds
//! can overflow the call stack. Hostile input is bounded by a [`Budget`] per input, not per
//! file: nodes built, nodes and bytes that alias expansion copies, and depth, aliases
//! included (an alias of a deep node placed deep is as deep as both together). Every budget
//! is checked *before* the memory is spent, so a billion-laughs document or a large anchored
//! scalar aliased a thousand times fails in microseconds.
//!
//! Duplicate keys: the last occurrence wins, at its own place, as for Kubernetes; the
//! earlier one is reported and stays in the text untouched (it is dead for every reader).

use crate::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as PSpan, Tag};

use super::split::{self, Piece};
use super::{Edit, Extra, Node, Pos, Scalar, Span, Style, Value, is_merge_key, key_is, key_text};

/// Bounds on what one input (all its files together) may cost.
///
/// Files of one input may be parsed on several threads at once: `shared_nodes`, when set,
/// counts the nodes of all of them as they are built, so that memory stays bounded by the
/// input's budget however the work is spread (each file's own count is checked too, and the
/// files' counts are added up in walk order afterwards for a message that names the same
/// file on every run).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Nodes that alias expansion may copy.
    pub max_alias_nodes: usize,
    /// Bytes of source text that alias expansion may copy.
    pub max_alias_bytes: usize,
    /// Nodes in all.
    pub max_nodes: usize,
    /// Deepest nesting of collections, alias expansions included.
    pub max_depth: usize,
    /// Nodes built so far by every parser of this input (see above).
    pub shared_nodes: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

/// Nodes alias expansion may add to one input.
pub const MAX_ALIAS_NODES: usize = 250_000;
/// Bytes of text alias expansion may copy in one input.
pub const MAX_ALIAS_BYTES: usize = 4 << 20;
/// Nodes (keys, values, items) in one input. A node costs about 64 bytes, so the tree of an
/// input stays under 200 MB, and a whole render under the sidecar's 512 MiB with the input,
/// the output and the strings that do not fit in a node (measured: DESIGN.md §7 and the
/// README's limits).
pub const MAX_NODES: usize = 3_000_000;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_alias_nodes: MAX_ALIAS_NODES,
            max_alias_bytes: MAX_ALIAS_BYTES,
            max_nodes: MAX_NODES,
            max_depth: super::MAX_DEPTH,
            shared_nodes: None,
        }
    }
}

/// What parsing has spent so far, to be checked against [`Limits`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    pub nodes: usize,
    pub alias_nodes: usize,
    pub alias_bytes: usize,
}

impl Budget {
    pub fn add(&mut self, other: Budget) {
        self.nodes += other.nodes;
        self.alias_nodes += other.alias_nodes;
        self.alias_bytes += other.alias_bytes;
    }

    /// The first limit this budget exceeds, as an error at `pos`.
    pub fn check(&self, limits: &Limits, pos: Pos) -> Result<(), ParseError> {
        if self.alias_nodes > limits.max_alias_nodes {
            return Err(ParseError::AliasBudget {
                pos,
                max: limits.max_alias_nodes,
            });
        }
        if self.alias_bytes > limits.max_alias_bytes {
            return Err(ParseError::AliasBytes {
                pos,
                max: limits.max_alias_bytes,
            });
        }
        if self.nodes > limits.max_nodes {
            return Err(ParseError::TooManyNodes {
                pos,
                max: limits.max_nodes,
            });
        }
        Ok(())
    }
}

/// Why a stream could not be read. Every variant carries the position it refers to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid YAML: {msg}")]
    Syntax { pos: Pos, msg: String },
    #[error("{msg}")]
    Split { pos: Pos, msg: String },
    #[error("nesting deeper than {max} levels (aliases included)")]
    TooDeep { pos: Pos, max: usize },
    #[error("alias expansion exceeds {max} nodes in this input (a \"billion laughs\" document?)")]
    AliasBudget { pos: Pos, max: usize },
    #[error(
        "alias expansion exceeds {max} bytes in this input (a large anchored value aliased many times?)"
    )]
    AliasBytes { pos: Pos, max: usize },
    #[error("more than {max} YAML nodes (keys, values, items) in this input")]
    TooManyNodes { pos: Pos, max: usize },
    #[error("alias refers to an anchor that encloses it (a recursive alias)")]
    RecursiveAlias { pos: Pos },
    #[error(
        "a second document without a \"---\" line before it: Kubernetes splits documents only at \"---\" lines and would silently drop this one"
    )]
    SecondDocument { pos: Pos },
    #[error("a merge (<<) needs a mapping or a list of mappings, as it does for Kubernetes")]
    BadMerge { pos: Pos },
}

impl ParseError {
    pub fn pos(&self) -> Pos {
        match self {
            ParseError::Syntax { pos, .. }
            | ParseError::Split { pos, .. }
            | ParseError::TooDeep { pos, .. }
            | ParseError::AliasBudget { pos, .. }
            | ParseError::AliasBytes { pos, .. }
            | ParseError::TooManyNodes { pos, .. }
            | ParseError::RecursiveAlias { pos }
            | ParseError::SecondDocument { pos }
            | ParseError::BadMerge { pos } => *pos,
        }
    }
}

impl From<split::SplitError> for ParseError {
    fn from(e: split::SplitError) -> Self {
        ParseError::Split {
            pos: e.pos,
            msg: e.msg,
        }
    }
}

/// A non-fatal finding while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    pub pos: Pos,
    pub msg: String,
}

/// One piece of a file and the document it holds, if any (a piece may be empty or hold
/// only comments).
#[derive(Debug, Clone)]
pub struct Document {
    pub piece: Piece,
    pub root: Node,
}

/// A file, parsed: its pieces in order, each with its document if it has one.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub pieces: Vec<(Piece, Option<Node>)>,
    pub warnings: Vec<ParseWarning>,
    /// What this file spent of the input's budget.
    pub spent: Budget,
}

/// Parses one file's text. `limits` bound this file alone; the caller adds the files'
/// [`ParsedFile::spent`] up to check the input as a whole.
pub fn parse_file(text: &str, limits: &Limits) -> Result<ParsedFile, ParseError> {
    let pieces = split::split(text)?;
    let mut out = ParsedFile::default();
    for piece in pieces {
        let root = parse_piece(text, piece, limits, &mut out)?;
        out.pieces.push((piece, root));
    }
    Ok(out)
}

/// The non-empty documents of a stream, for gitops.yaml, tests and tools.
#[derive(Debug, Default)]
pub struct Stream {
    pub docs: Vec<Document>,
    pub warnings: Vec<ParseWarning>,
}

/// Parses a whole stream and keeps its non-empty documents.
pub fn parse_stream(src: &str, limits: &Limits) -> Result<Stream, ParseError> {
    let f = parse_file(src, limits)?;
    Ok(Stream {
        docs: f
            .pieces
            .into_iter()
            .filter_map(|(piece, root)| Some(Document { piece, root: root? }))
            .collect(),
        warnings: f.warnings,
    })
}

fn parse_piece(
    text: &str,
    piece: Piece,
    limits: &Limits,
    out: &mut ParsedFile,
) -> Result<Option<Node>, ParseError> {
    let src = &text[piece.start..piece.end];
    if src.bytes().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    text_after_document_end(src, piece.line)?;
    let mut b = Builder {
        src,
        base: piece.start,
        line_base: piece.line - 1,
        offsets: Offsets::new(src),
        limits,
        stack: Vec::new(),
        anchors: HashMap::default(),
        open_anchors: Vec::new(),
        spent: out.spent,
        flow: Vec::new(),
        root: None,
        docs: 0,
        warnings: Vec::new(),
        unshared: 0,
    };
    // A byte order mark at the start of the file is not part of any node.
    let mut parser = Parser::new_from_str(src);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let pos = Pos {
                line: e.marker().line() as u32 + b.line_base,
                col: e.marker().col() as u32 + 1,
            };
            // saphyr-parser counts flow nesting in a u8 and stops at 255 levels with this
            // message; it is the same limit as ours, so report it the same way.
            if e.info() == "recursion limit exceeded" {
                ParseError::TooDeep {
                    pos,
                    max: limits.max_depth,
                }
            } else {
                ParseError::Syntax {
                    pos,
                    msg: e.info().to_string(),
                }
            }
        })?;
        b.event(ev, span)?;
    }
    out.spent = b.spent;
    out.warnings.append(&mut b.warnings);
    Ok(b.root)
}

enum Frame {
    Seq {
        node: Node,
        anchor: usize,
        created_at: usize,
        /// Collection levels in this node so far (1: only itself).
        height: usize,
    },
    Map {
        node: Node,
        anchor: usize,
        created_at: usize,
        height: usize,
        key: Option<Node>,
        /// Index of keys, built once a mapping grows past a few keys so that duplicate
        /// detection stays linear on hostile input.
        index: Option<HashMap<String, usize>>,
    },
}

/// A completed anchored node: a copy to hand out for each alias, its size in nodes and
/// source bytes, and its height.
struct Anchored {
    node: Node,
    nodes: usize,
    bytes: usize,
    height: usize,
}

struct Builder<'a, 'l> {
    src: &'a str,
    /// Byte offset of `src` in its file.
    base: usize,
    /// Lines of the file before `src`.
    line_base: u32,
    offsets: Offsets<'a>,
    limits: &'l Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Anchored>,
    /// Anchors whose node is still being built.
    open_anchors: Vec<usize>,
    spent: Budget,
    /// For each open collection, whether it is a flow one (`[..]`, `{..}`).
    flow: Vec<bool>,
    root: Option<Node>,
    docs: usize,
    warnings: Vec<ParseWarning>,
    /// Nodes counted here but not yet added to [`Limits::shared_nodes`].
    unshared: usize,
}

/// How many nodes a parser builds between two updates of the shared count.
const SHARE_EVERY: usize = 4096;

/// The canonical text of a tag: `!!suffix` for the YAML tags however they were written,
/// `!suffix` for local tags, `!<uri>` for the rest. The text is the tag's meaning, not its
/// spelling (saphyr-parser decodes `%xx` escapes); [`super::emit`] escapes it again where it
/// writes one.
fn tag_text(tag: &Tag) -> Box<str> {
    let full = format!("{}{}", tag.handle, tag.suffix);
    let t = if full == "!" {
        // The non-specific tag.
        full
    } else if let Some(rest) = full.strip_prefix("tag:yaml.org,2002:") {
        format!("!!{rest}")
    } else if tag.handle == "!" {
        format!("!{}", tag.suffix)
    } else {
        format!("!<{full}>")
    };
    t.into_boxed_str()
}

impl<'a> Builder<'a, '_> {
    fn pos(&self, span: &PSpan) -> Pos {
        Pos {
            line: span.start.line() as u32 + self.line_base,
            col: span.start.col() as u32 + 1,
        }
    }

    fn span(&mut self, span: &PSpan) -> Span {
        let a = self.offsets.byte(span.start.index()).unwrap_or(0);
        let b = self.offsets.byte(span.end.index()).unwrap_or(a).max(a);
        Span {
            start: (self.base + a) as u32,
            end: (self.base + b) as u32,
        }
    }

    fn count(&mut self, nodes: usize, pos: Pos) -> Result<(), ParseError> {
        self.spent.nodes += nodes;
        self.unshared += nodes;
        if self.unshared >= SHARE_EVERY {
            if let Some(shared) = &self.limits.shared_nodes {
                let total = shared.fetch_add(self.unshared, std::sync::atomic::Ordering::Relaxed)
                    + self.unshared;
                self.unshared = 0;
                if total > self.limits.max_nodes {
                    return Err(ParseError::TooManyNodes {
                        pos,
                        max: self.limits.max_nodes,
                    });
                }
            }
        }
        self.spent.check(self.limits, pos)
    }

    fn event(&mut self, ev: Event<'a>, pspan: PSpan) -> Result<(), ParseError> {
        let pos = self.pos(&pspan);
        match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {}
            Event::DocumentEnd => {
                // Anchors are scoped to their document.
                self.anchors.clear();
            }
            Event::Alias(id) => {
                let at = self.span(&pspan).start as usize - self.base;
                check_properties(self.src, at, pos)?;
                if self.open_anchors.contains(&id) {
                    return Err(ParseError::RecursiveAlias { pos });
                }
                let Some(a) = self.anchors.get(&id) else {
                    return Err(ParseError::Syntax {
                        pos,
                        msg: "unknown anchor".into(),
                    });
                };
                let (nodes, bytes, height) = (a.nodes, a.bytes, a.height);
                if self.stack.len() + height > self.limits.max_depth {
                    return Err(ParseError::TooDeep {
                        pos,
                        max: self.limits.max_depth,
                    });
                }
                self.spent.alias_nodes = self.spent.alias_nodes.saturating_add(nodes);
                self.spent.alias_bytes = self.spent.alias_bytes.saturating_add(bytes);
                self.count(nodes, pos)?;
                let mut copy =
                    self.anchors
                        .get(&id)
                        .map(|a| a.node.clone())
                        .ok_or(ParseError::Syntax {
                            pos,
                            msg: "unknown anchor".into(),
                        })?;
                copy.pos = pos;
                copy.span = self.span(&pspan);
                let extra = copy.extra_mut();
                extra.anchor = 0;
                extra.alias = id;
                self.push_value(copy, height)?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                self.count(1, pos)?;
                let mut span = self.span(&pspan);
                // Where the node's properties (anchor, tag) end, checked on the way.
                let props_end = if tag.is_some() || anchor != 0 {
                    Some(check_properties(
                        self.src,
                        span.start as usize - self.base,
                        pos,
                    )?)
                } else {
                    None
                };
                if matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) {
                    // saphyr-parser's span of a quoted scalar runs on over the blanks and the
                    // comment after it; the scalar ends at its closing quote.
                    if let Some(end) = quoted_end(self.src, span.start as usize - self.base) {
                        span.end = (self.base + end) as u32;
                    }
                }
                // go-yaml decodes `!!binary` while reading (standard, padded base64) and
                // refuses the document when the text is not that; a key or value we read could otherwise be one it never
                // reads.
                if tag.as_deref().map(tag_text).as_deref() == Some("!!binary")
                    && (super::json::decode_base64(&value).is_none()
                        || value.bytes().filter(|b| !b.is_ascii_whitespace()).count() % 4 != 0)
                {
                    return Err(ParseError::Syntax {
                        pos,
                        msg: "a !!binary value that is not base64: Kubernetes' reader refuses the document".into(),
                    });
                }
                if style == ScalarStyle::Plain
                    && is_inf_or_nan(&value)
                    && matches!(
                        tag.as_deref().map(tag_text).as_deref(),
                        None | Some("!!float")
                    )
                    && !matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
                {
                    return Err(ParseError::Syntax {
                        pos,
                        msg: format!(
                            "{value:?} is an infinite or not-a-number float, which has no JSON form: Kubernetes' reader refuses the document (quote it if it is text)"
                        ),
                    });
                }
                if style == ScalarStyle::Plain {
                    match value.chars().next() {
                        // saphyr-parser reads `[|k]` and `{>k: v}` as plain scalars; go-yaml
                        // (so Kubernetes) refuses them, and no YAML reader accepts a plain
                        // scalar that starts with a block indicator.
                        Some(c @ ('|' | '>')) => {
                            return Err(ParseError::Syntax {
                                pos,
                                msg: format!(
                                    "a plain scalar cannot start with {c:?} (Kubernetes' reader refuses it; quote the value)"
                                ),
                            });
                        }
                        // The null a key without a value means: saphyr-parser gives it the
                        // extent of the character after it (`}` in `{a, b}`); it has none.
                        // When it has a tag or an anchor, its span starts at them and must
                        // end after them: an edit appending after the value would otherwise
                        // land between `!tag` and the next `,` or `}`.
                        None => {
                            span.end = props_end.map_or(span.start, |e| (self.base + e) as u32);
                        }
                        _ => {}
                    }
                    if self.flow.last() == Some(&true) {
                        let after = &self.src.as_bytes()[span.end as usize - self.base..];
                        flow_plain_check(&value, after, pos)?;
                    }
                }
                let mut node = Node {
                    value: Value::Scalar(Scalar {
                        value: compact_str::CompactString::from(value),
                        style: match style {
                            ScalarStyle::Plain => Style::Plain,
                            ScalarStyle::SingleQuoted => Style::Single,
                            ScalarStyle::DoubleQuoted => Style::Double,
                            ScalarStyle::Literal => Style::Literal,
                            ScalarStyle::Folded => Style::Folded,
                        },
                    }),
                    pos,
                    span,
                    edit: Edit::Source,
                    flow: false,
                    extra: None,
                };
                if tag.is_some() || anchor != 0 {
                    node.extra = Some(Box::new(Extra {
                        tag: tag.as_deref().map(tag_text),
                        anchor,
                        ..Extra::default()
                    }));
                }
                if anchor != 0 {
                    let bytes = span.range().len().max(1);
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            node: node.clone(),
                            nodes: 1,
                            bytes,
                            height: 0,
                        },
                    );
                }
                self.push_value(node, 0)?;
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                let is_map = matches!(ev, Event::MappingStart(..));
                let (Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag)) = ev
                else {
                    return Ok(());
                };
                if self.stack.len() >= self.limits.max_depth {
                    return Err(ParseError::TooDeep {
                        pos,
                        max: self.limits.max_depth,
                    });
                }
                self.count(1, pos)?;
                let mut node = Node {
                    value: if is_map {
                        Value::Map(Vec::new())
                    } else {
                        Value::Seq(Vec::new())
                    },
                    pos,
                    span: self.span(&pspan),
                    edit: Edit::Source,
                    flow: false,
                    extra: None,
                };
                if tag.is_some() || anchor != 0 {
                    node.extra = Some(Box::new(Extra {
                        tag: tag.as_deref().map(tag_text),
                        anchor,
                        ..Extra::default()
                    }));
                }
                if anchor != 0 {
                    self.open_anchors.push(anchor);
                }
                if tag.is_some() || anchor != 0 {
                    check_properties(self.src, node.span.start as usize - self.base, pos)?;
                }
                let created_at = self.spent.nodes;
                // A collection is flow when its text starts with a bracket. A block collection
                // starts where its first item does, so `- {a: b}` gives a block sequence and
                // a flow mapping that both start at `{`: when a collection starts where its
                // still empty parent does, the parent is the block one.
                let start = node.span.start;
                if let (Some(parent), Some(flag)) = (self.stack.last(), self.flow.last_mut()) {
                    let (pnode, empty) = match parent {
                        Frame::Seq { node, .. } => (node, node.as_seq().is_some_and(Vec::is_empty)),
                        Frame::Map { node, key, .. } => (
                            node,
                            key.is_none() && node.as_map().is_some_and(Vec::is_empty),
                        ),
                    };
                    if *flag && empty && pnode.span.start == start {
                        *flag = false;
                    }
                }
                // Inside a flow collection everything is flow, including the single-pair
                // mappings of `[a: b]`, which have no bracket of their own.
                let in_flow = self.flow.last() == Some(&true);
                let bracket = matches!(
                    super::splice::first_content_byte(self.src, start as usize - self.base),
                    Some(b'{' | b'[')
                );
                self.flow.push(in_flow || bracket);
                self.stack.push(if is_map {
                    Frame::Map {
                        node,
                        anchor,
                        created_at,
                        height: 1,
                        key: None,
                        index: None,
                    }
                } else {
                    Frame::Seq {
                        node,
                        anchor,
                        created_at,
                        height: 1,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let flow = self.flow.pop().unwrap_or(false);
                let end = self.span(&pspan);
                let (mut node, anchor, created_at, height) = match self.stack.pop() {
                    Some(Frame::Seq {
                        node,
                        anchor,
                        created_at,
                        height,
                    })
                    | Some(Frame::Map {
                        node,
                        anchor,
                        created_at,
                        height,
                        ..
                    }) => (node, anchor, created_at, height),
                    None => {
                        return Err(ParseError::Syntax {
                            pos,
                            msg: "unbalanced collection end".into(),
                        });
                    }
                };
                node.span.end = content_end(&node, flow, end);
                node.flow = flow;
                // Children were pushed one by one; a tree holds millions of them, so no
                // collection keeps room it will never use.
                match &mut node.value {
                    Value::Seq(items) => items.shrink_to_fit(),
                    Value::Map(entries) => entries.shrink_to_fit(),
                    Value::Scalar(_) => {}
                }
                if anchor != 0 {
                    self.open_anchors.retain(|&a| a != anchor);
                    let bytes = node.span.range().len().max(1);
                    self.anchors.insert(
                        anchor,
                        Anchored {
                            node: node.clone(),
                            nodes: self.spent.nodes - created_at,
                            bytes,
                            height,
                        },
                    );
                }
                self.push_value(node, height)?;
            }
        }
        Ok(())
    }

    fn push_value(&mut self, node: Node, height: usize) -> Result<(), ParseError> {
        match self.stack.last_mut() {
            Some(Frame::Seq { height: h, .. } | Frame::Map { height: h, .. }) => {
                *h = (*h).max(height + 1);
            }
            None => {}
        }
        match self.stack.last_mut() {
            None => {
                self.docs += 1;
                if self.docs > 1 || self.root.is_some() {
                    return Err(ParseError::SecondDocument { pos: node.pos });
                }
                if !is_empty_document(&node) {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { node: seq, .. }) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map {
                node: map,
                key,
                index,
                ..
            }) => match key.take() {
                None => {
                    // A key written over several lines is an error for go-yaml unless it is
                    // explicit (`? key`); saphyr-parser reads `{a\nb: c}` as the key "a b".
                    if !node.span.is_none() && matches!(node.value, Value::Scalar(_)) {
                        let (start, end) = (
                            node.span.start as usize - self.base,
                            node.span.end as usize - self.base,
                        );
                        let explicit = self.src[..start]
                            .trim_end_matches([' ', '\t', '\n', '\r'])
                            .ends_with('?');
                        if self.src[start..end].contains('\n') && !explicit {
                            return Err(ParseError::Syntax {
                                pos: node.pos,
                                msg: "a mapping key written over several lines: Kubernetes' reader (go-yaml) refuses it (write the key on one line)".into(),
                            });
                        }
                    }
                    let mut node = node;
                    super::mark_typed_key(&mut node);
                    *key = Some(node);
                }
                Some(k) => {
                    let merge = is_merge_key(&k);
                    if merge && !valid_merge(&node) {
                        return Err(ParseError::BadMerge { pos: node.pos });
                    }
                    // sigs.k8s.io/yaml turns every key into a JSON object key, and refuses the
                    // document when it cannot (a collection, a null, a number beyond int64).
                    if !merge && key_text(&k).is_none() {
                        return Err(ParseError::Syntax {
                            pos: k.pos,
                            msg: "this mapping key cannot be a JSON object key, so Kubernetes' reader refuses the document (use a string key)".into(),
                        });
                    }
                    let Value::Map(entries) = &mut map.value else {
                        return Ok(());
                    };
                    // Duplicate detection compares Kubernetes' JSON keys (`a` and `"a"` are
                    // the same key), without allocating for the common plain key.
                    let dup = if merge {
                        None
                    } else {
                        let text = key_text(&k);
                        match (index.as_ref(), text.as_deref()) {
                            (Some(ix), Some(t)) => ix.get(t).copied(),
                            (None, Some(t)) => entries
                                .iter()
                                .position(|(ek, _)| !is_merge_key(ek) && key_is(ek, t)),
                            _ => None,
                        }
                    };
                    if let Some(i) = dup {
                        let t = key_text(&k).map(|t| t.into_owned()).unwrap_or_default();
                        let first = entries[i].0.pos;
                        self.warnings.push(ParseWarning {
                            pos: k.pos,
                            msg: format!(
                                "duplicate key \"{t}\" (first at line {}): the last value wins, as in Kubernetes",
                                first.line
                            ),
                        });
                        // The last occurrence wins at its own place: go-yaml applies entries
                        // in order, and a merge between the two must not be able to win.
                        entries.remove(i);
                        if let Some(ix) = index.as_mut() {
                            ix.clear();
                            for (j, (ek, _)) in entries.iter().enumerate() {
                                if let Some(et) = key_text(ek) {
                                    ix.entry(et.into_owned()).or_insert(j);
                                }
                            }
                        }
                        map.extra_mut().shadowed.push(t.into_boxed_str());
                    }
                    let Value::Map(entries) = &mut map.value else {
                        return Ok(());
                    };
                    if let Some(ix) = index.as_mut() {
                        if let (false, Some(t)) = (merge, key_text(&k)) {
                            ix.insert(t.into_owned(), entries.len());
                        }
                    }
                    entries.push((k, node));
                    if index.is_none() && entries.len() >= 16 {
                        let mut ix = HashMap::with_capacity_and_hasher(
                            entries.len() * 2,
                            Default::default(),
                        );
                        for (i, (ek, _)) in entries.iter().enumerate() {
                            if is_merge_key(ek) {
                                continue;
                            }
                            if let Some(t) = key_text(ek) {
                                ix.entry(t.into_owned()).or_insert(i);
                            }
                        }
                        *index = Some(ix);
                    }
                }
            },
        }
        Ok(())
    }
}

/// The end (after the closing quote) of the quoted scalar whose text, properties first,
/// starts at `start` of `src`.
fn quoted_end(src: &str, start: usize) -> Option<usize> {
    let text = src.get(start..)?;
    let (_, rest) = super::splice::props(text);
    let open = start + (text.len() - rest.len());
    let bytes = src.as_bytes();
    let quote = *bytes.get(open)?;
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quote == b'"' => i += 2,
            b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// go-yaml v2 accepts a mapping, or a sequence of mappings, as a merge's value.
fn valid_merge(v: &Node) -> bool {
    match &v.value {
        Value::Map(_) => true,
        Value::Seq(items) => items.iter().all(|i| i.as_map().is_some()),
        Value::Scalar(_) => false,
    }
}

/// The end of a collection's content: for a flow collection, its closing bracket (the end
/// event's span); for a block one, the end of its last child (the end event comes only at
/// the next token, after blank lines and comments that belong to what follows).
fn content_end(node: &Node, flow: bool, end_event: Span) -> u32 {
    if flow {
        return end_event.end;
    }
    let last = match &node.value {
        Value::Seq(items) => items.last(),
        Value::Map(entries) => entries.last().map(|(_, v)| v),
        Value::Scalar(_) => None,
    };
    match last {
        // A last value may be an empty scalar placed at its key's `:`; the key ends later.
        Some(v) => {
            let key_end = match &node.value {
                Value::Map(entries) => entries.last().map_or(0, |(k, _)| k.span.end),
                _ => 0,
            };
            v.span.end.max(key_end).max(node.span.start)
        }
        None => node.span.start,
    }
}

/// YAML 1.1's infinities and not-a-number (`.inf`, `-.Inf`, `.NaN`, ...), which go-yaml reads
/// as floats that sigs.k8s.io/yaml cannot turn into JSON.
fn is_inf_or_nan(v: &str) -> bool {
    let body = v.strip_prefix(['+', '-']).unwrap_or(v);
    matches!(body, ".inf" | ".Inf" | ".INF") || matches!(v, ".nan" | ".NaN" | ".NAN")
}

/// Refuses a plain scalar inside a flow collection that Kubernetes' reader would not read as
/// saphyr-parser does. go-yaml v2 scans YAML 1.1: in a flow collection `?` is a key indicator
/// wherever it appears and ends a plain scalar, and a `:` that starts a token is a value
/// indicator. saphyr-parser (YAML 1.2) reads `{?kind: X}` as the key `?kind` and `[:x]` as
/// the string `:x`; go-yaml reads the first as `kind: X` (a second `kind`, which wins) and
/// refuses the second. Refusing both keeps one reading.
///
/// `after` is the text right after the scalar. saphyr-parser ends a plain scalar at a `:`
/// followed by a flow indicator (`{name:, x}` and `{name :}` have the key `name`); go-yaml
/// ends it only at a `:` followed by a blank, and reads the keys `name:` and `name :`.
/// Refused as well.
fn flow_plain_check(value: &str, after: &[u8], pos: Pos) -> Result<(), ParseError> {
    let after = {
        let blanks = after
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count();
        &after[blanks..]
    };
    let msg = if !value.is_empty() && matches!(after, [b':', b',' | b'[' | b']' | b'{' | b'}', ..])
    {
        "in a flow collection ({..} or [..]), a `:` right before `,`, `[`, `]`, `{` or `}` is part of the text for Kubernetes' reader (YAML 1.1), not a value indicator (put a space after the `:`)"
    } else if value.contains('?') {
        "a plain scalar in a flow collection ({..} or [..]) cannot hold `?`: Kubernetes' reader (YAML 1.1) takes it for a key indicator (quote the text)"
    } else if value.starts_with(':') {
        "a plain scalar in a flow collection ({..} or [..]) cannot start with `:`: Kubernetes' reader (YAML 1.1) takes it for a value indicator (quote the text)"
    } else {
        return Ok(());
    };
    Err(ParseError::Syntax {
        pos,
        msg: msg.into(),
    })
}

/// Refuses node properties and aliases that Kubernetes' reader would delimit differently.
/// saphyr-parser reads YAML 1.2: an anchor or alias name runs to a blank or a flow indicator,
/// and so does a tag. go-yaml v2 (libyaml) reads anchor and alias names of letters, digits, `-`
/// and `_` only (`&a.b` is an error, `&x:` is the anchor `x` and a `:`), and a tag takes every
/// URI character, flow indicators included, and must end at a blank: `{a: !t}` and `!t,x` are
/// errors or other tags there. Both are refused here, so what we read is what it reads. `src`
/// holds the node's text from `start` (its properties, or the `*` of an alias); nothing is
/// checked when the text there is not a property (a block collection's span may start at its
/// first entry). Returns where the properties end (`start` when there are none): anchors and
/// shorthand tags end at a blank or a flow indicator, a verbatim tag at its `>`.
fn check_properties(src: &str, start: usize, pos: Pos) -> Result<usize, ParseError> {
    let b = src.as_bytes();
    let delimiter = |c: u8| {
        matches!(
            c,
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b'[' | b']' | b'{' | b'}'
        )
    };
    let refuse = |msg: &str| {
        Err(ParseError::Syntax {
            pos,
            msg: msg.into(),
        })
    };
    let mut i = start;
    let mut end = start;
    loop {
        match b.get(i) {
            Some(b'&' | b'*') => {
                let name_start = i + 1;
                i = name_start;
                while i < b.len() && !delimiter(b[i]) {
                    i += 1;
                }
                let name = &b[name_start..i];
                if name.is_empty()
                    || !name
                        .iter()
                        .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                {
                    return refuse(
                        "an anchor or alias name may hold only letters, digits, `-` and `_`: Kubernetes' reader (go-yaml) ends the name at any other character",
                    );
                }
                // go-yaml accepts after a name only a blank or one of `?:,]}%@` and a backquote.
                if matches!(b.get(i), Some(b'[' | b'{')) {
                    return refuse(
                        "an anchor or alias name must be followed by a space: Kubernetes' reader refuses the bracket after it",
                    );
                }
            }
            Some(b'!') => {
                if b[i..].starts_with(b"!<") {
                    match src[i..].find('>') {
                        Some(close) => i += close + 1,
                        None => return Ok(end),
                    }
                } else {
                    while i < b.len() && !delimiter(b[i]) {
                        i += 1;
                    }
                }
                if !matches!(b.get(i), None | Some(b' ' | b'\t' | b'\n' | b'\r')) {
                    return refuse(
                        "a tag must be followed by a space or a line break: Kubernetes' reader (go-yaml) reads the character after it as part of the tag or refuses it",
                    );
                }
            }
            _ => return Ok(end),
        }
        end = i;
        while matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
    }
}

/// Refuses content after a `...` line in one piece. A piece holds one document for
/// Kubernetes (sigs.k8s.io/yaml reads the first one); after a document, what follows `...` would
/// be dropped, and before any document go-yaml refuses the piece ("did not find expected node
/// content"), while saphyr-parser reads the text after it as the piece's only document. A
/// `...` at the start of a line is always a document end marker: inside a scalar it is an error
/// for every reader.
fn text_after_document_end(src: &str, first_line: u32) -> Result<(), ParseError> {
    if !(src.starts_with("...") || src.contains("\n...")) {
        return Ok(());
    }
    let mut marker = false;
    for (i, line) in src.split('\n').enumerate() {
        if let Some(rest) = line.strip_prefix("...") {
            if rest.is_empty() || rest.starts_with([' ', '\t', '\r', '#']) {
                marker = true;
                continue;
            }
        }
        let content = line.trim_start_matches([' ', '\t', '\r']);
        if marker && !content.is_empty() && !content.starts_with('#') {
            return Err(ParseError::SecondDocument {
                pos: Pos {
                    line: first_line + i as u32,
                    col: 1,
                },
            });
        }
    }
    Ok(())
}

fn is_empty_document(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(s) if node.extra.is_none() && s.style == Style::Plain
        && matches!(s.value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

/// Maps the parser's character offsets to byte offsets. The common all-ASCII case is the
/// identity; otherwise a forward cursor makes the mapping linear over a whole piece.
struct Offsets<'a> {
    src: &'a str,
    ascii: bool,
    chars: usize,
    bytes: usize,
}

impl<'a> Offsets<'a> {
    fn new(src: &'a str) -> Self {
        Offsets {
            src,
            ascii: src.is_ascii(),
            chars: 0,
            bytes: 0,
        }
    }

    fn byte(&mut self, char_index: usize) -> Option<usize> {
        if self.ascii {
            return (char_index <= self.src.len()).then_some(char_index);
        }
        if char_index < self.chars {
            self.chars = 0;
            self.bytes = 0;
        }
        let mut chars = self.src.get(self.bytes..)?.chars();
        while self.chars < char_index {
            let c = chars.next()?;
            self.bytes += c.len_utf8();
            self.chars += 1;
        }
        Some(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Stream, ParseError> {
        parse_stream(src, &Limits::default())
    }

    fn root(src: &str) -> Node {
        parse(src)
            .unwrap_or_else(|e| panic!("{e}: {src:?}"))
            .docs
            .remove(0)
            .root
    }

    #[test]
    fn spans_cover_each_node_exactly() {
        let src = "a: &x web\nb: |-\n  one\n  two\n\nc:\n  d: [1, 2]\n  e: {f: g}\nh: \"é\" # c\ni: 'it''s' # c\nj: \"a\\\"b\"\n";
        let n = root(src);
        let text = |path: &[&str]| {
            let node = n.path(path).unwrap_or_else(|| panic!("{path:?}"));
            src[node.span.range()].to_string()
        };
        assert_eq!(text(&["a"]), "&x web");
        assert_eq!(text(&["b"]), "|-\n  one\n  two");
        assert_eq!(text(&["c"]), "d: [1, 2]\n  e: {f: g}");
        assert_eq!(text(&["c", "d"]), "[1, 2]");
        assert_eq!(text(&["c", "e", "f"]), "g");
        assert_eq!(text(&["h"]), "\"é\"");
        assert_eq!(text(&["i"]), "'it''s'");
        assert_eq!(text(&["j"]), "\"a\\\"b\"");
        // Empty values: a bare key's null has no extent; tagged or anchored, it ends after
        // its properties (an edit appends after them).
        let src = "a:\nb: !t\nc: {d: !x , e: &y !<tag:z> , f: &w}\ng: [!v ]\n";
        let n = root(src);
        let text =
            |path: &[&str]| src[n.path(path).expect("a node at the path").span.range()].to_string();
        assert_eq!(text(&["a"]), "");
        assert_eq!(text(&["b"]), "!t");
        assert_eq!(text(&["c", "d"]), "!x");
        assert_eq!(text(&["c", "e"]), "&y !<tag:z>");
        assert_eq!(text(&["c", "f"]), "&w");
    }

    #[test]
    fn empty_pieces_hold_no_document() {
        let s = parse("---\n---\na: 1\n---\n~\n---\n# only a comment\n").unwrap_or_default();
        assert_eq!(s.docs.len(), 1);
    }

    #[test]
    fn a_second_document_in_one_piece_is_refused() {
        for src in ["a: 1\n...\nb: 2\n", "a: 1\n... # end\n--- \nb: 2\n"] {
            let e = parse(src);
            if src.contains("--- \n") {
                // A real separator line: two pieces, two documents.
                assert_eq!(e.map(|s| s.docs.len()).ok(), Some(2));
            } else {
                assert!(
                    matches!(e, Err(ParseError::SecondDocument { .. })),
                    "{src:?}"
                );
            }
        }
        assert!(parse("a: 1\n...\n# trailing comment\n").is_ok());
    }

    #[test]
    fn duplicate_keys_keep_the_last_occurrence_in_place() {
        let s = parse("a: 1\nb: 2\na: 3\n").unwrap_or_default();
        let first = &s.docs[0].root;
        let keys: Vec<_> = first
            .as_map()
            .map(|m| m.iter().filter_map(|(k, _)| k.scalar_text()).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(first.get("a").and_then(Node::scalar_text), Some("3"));
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.warnings[0].pos, Pos { line: 3, col: 1 });
        // The same key for Kubernetes, written differently.
        let s = parse("a: 1\n\"a\": 2\n").unwrap_or_default();
        assert_eq!(s.warnings.len(), 1);
        // A merge between two occurrences cannot win over the last one.
        let n = root("kind: A\n<<: {kind: B}\nkind: C\n");
        assert_eq!(n.get_str("kind"), Some("C"));
    }

    #[test]
    fn duplicate_keys_in_big_mappings_are_found_through_the_index() {
        let mut src = String::new();
        for i in 0..40 {
            src.push_str(&format!("k{i}: {i}\n"));
        }
        src.push_str("k3: again\n");
        let s = parse(&src).unwrap_or_default();
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(
            s.docs[0].root.get("k3").and_then(Node::scalar_text),
            Some("again")
        );
    }

    #[test]
    fn aliases_are_independent_copies() {
        let mut n = root("a: &x {k: 1}\nb: *x\n");
        if let Some(x) = n.path_mut(&["a", "k"]) {
            x.replace_str("2");
        }
        assert_eq!(n.path(&["b", "k"]).and_then(Node::scalar_text), Some("1"));
        assert_eq!(n.get("b").map(Node::alias_of), n.get("a").map(Node::anchor));
    }

    #[test]
    fn billion_laughs_fails_fast() {
        let src = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
";
        assert!(matches!(parse(src), Err(ParseError::AliasBudget { .. })));
    }

    #[test]
    fn a_large_anchored_scalar_aliased_many_times_fails_on_bytes() {
        let mut src = format!("a: &a \"{}\"\nb: [", "x".repeat(1 << 20));
        for _ in 0..100 {
            src.push_str("*a, ");
        }
        src.push_str("]\n");
        assert!(matches!(parse(&src), Err(ParseError::AliasBytes { .. })));
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let mut src = String::new();
        for _ in 0..100_000 {
            src.push_str("- ");
        }
        src.push_str("x\n");
        assert!(matches!(parse(&src), Err(ParseError::TooDeep { .. })));
        let flow = "[".repeat(10_000);
        assert!(parse(&flow).is_err());
        // Aliases nested through each other: each level is shallow, the expansion is deep.
        let mut src = String::from("a0: &a0 [x]\n");
        for i in 1..1000 {
            src.push_str(&format!("a{i}: &a{i} [*a{}]\n", i - 1));
        }
        assert!(matches!(parse(&src), Err(ParseError::TooDeep { .. })));
    }

    #[test]
    fn merges_must_be_mappings() {
        assert!(matches!(
            parse("a: 1\n<<: x\n"),
            Err(ParseError::BadMerge { .. })
        ));
        assert!(parse("<<: [{a: 1}]\n").is_ok());
    }

    /// Text saphyr-parser (YAML 1.2) and go-yaml v2 (YAML 1.1, what Kubernetes runs) scan
    /// differently: refused (with the message's key words), or read alike.
    #[test]
    fn what_kubernetes_scans_differently_is_refused() {
        const REFUSED: &[(&str, &str)] = &[
            // go-yaml: `?kind` in a flow mapping is an explicit key `kind`.
            ("{kind: A, ?kind: B}\n", "key indicator"),
            ("{a: x?y}\n", "key indicator"),
            ("[a, ?b]\n", "key indicator"),
            ("{a: :x}\n", "value indicator"),
            // go-yaml: a tag takes `,]}` and must end at a blank.
            ("{a: !t}\n", "tag must be followed"),
            ("[!t]\n", "tag must be followed"),
            ("{a: !!str}\n", "tag must be followed"),
            // go-yaml: anchor names are letters, digits, `-`, `_`.
            ("a: &x.y b\n", "anchor or alias name"),
            ("a: &x:y b\n", "anchor or alias name"),
            ("[&a{b: c}]\n", "followed by a space"),
            // go-yaml: `name:` before `,` is one plain scalar, the key `name:`.
            ("{name:, x}\n", "part of the text"),
            ("{a: b:}\n", "part of the text"),
            ("[a:]\n", "part of the text"),
            ("{k :}\n", "part of the text"),
            // go-yaml: implicit keys are one line.
            ("a: {b\nc: d}\n", "several lines"),
            // go-yaml reads a float sigs.k8s.io/yaml cannot write as JSON.
            ("a: .inf\n", "no JSON form"),
            ("a: [-.Inf]\n", "no JSON form"),
            ("a: !!float .NaN\n", "no JSON form"),
            ("{name: c,!!binary namespace}\n", "not base64"),
            // go-yaml refuses a `...` with no document before it; saphyr-parser reads on.
            ("# c\n...\na: 1\n", "second document"),
            ("a: 1\n...\nb: 2\n", "second document"),
        ];
        for (src, want) in REFUSED {
            match parse(src) {
                Err(e) if e.to_string().contains(want) => {}
                other => panic!("{src:?}: want a refusal with {want:?}, got {other:?}"),
            }
        }
        for src in [
            "{a: !t , b: c}\n",
            "[!t ]\n",
            "a: !t\n",
            "a: &x-1_b !t b\nc: *x-1_b\n",
            "{a: &x}\n",
            "a: b?c\n",
            "a: ?b\n",
            "{a: x:y}\n",
            "{a: , b: c}\n",
            "{\"a\":b}\n",
            "a: '.inf'\n",
            "? a\n  b\n: c\n",
            "a: {b: c,\nd: e}\n",
            "a: !t {b: c}\n",
        ] {
            assert!(parse(src).is_ok(), "{src:?}: {:?}", parse(src).err());
        }
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = parse("x: 1\n---\na: b\n  c: d\n").err();
        assert!(
            matches!(e, Some(ParseError::Syntax { pos, .. }) if pos.line == 4),
            "{e:?}"
        );
    }

    #[test]
    fn tags_are_kept_canonically() {
        let n = root("a: !!str 1\nb: !foo x\nc: !<tag:yaml.org,2002:merge> z\nd: !<urn:x> y\n");
        let tag = |k: &str| n.get(k).and_then(|s| s.tag().map(str::to_string));
        assert_eq!(tag("a").as_deref(), Some("!!str"));
        assert_eq!(tag("b").as_deref(), Some("!foo"));
        assert_eq!(tag("c").as_deref(), Some("!!merge"));
        assert_eq!(tag("d").as_deref(), Some("!<urn:x>"));
    }
}
