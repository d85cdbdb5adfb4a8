//! saphyr-parser events to our [`Node`] tree.
//!
//! The builder is iterative (an explicit stack), so neither deep input nor the tree it builds
//! can overflow the call stack; depth is capped at [`Limits::max_depth`]. Aliases are expanded
//! here by copying the anchored node, and every copied node counts against
//! [`Limits::max_alias_nodes`], so a billion-laughs document fails in microseconds instead of
//! eating memory. Duplicate keys keep the first key's position and the last value, as
//! Kubernetes reads them, and are reported as warnings.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::{Node, Pos, Scalar, Style, Value};

/// Bounds on what one stream may cost.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Nodes that alias expansion may add to one stream.
    pub max_alias_nodes: usize,
    /// Deepest nesting of collections.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_alias_nodes: 250_000,
            max_depth: super::MAX_DEPTH,
        }
    }
}

/// Why a stream could not be read. Every variant carries the position it refers to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("invalid YAML: {msg}")]
    Syntax { pos: Pos, msg: String },
    #[error("nesting deeper than {max} levels")]
    TooDeep { pos: Pos, max: usize },
    #[error("alias expansion exceeds {max} nodes (a \"billion laughs\" document?)")]
    AliasBudget { pos: Pos, max: usize },
    #[error("alias refers to an anchor that encloses it (a recursive alias)")]
    RecursiveAlias { pos: Pos },
}

impl ParseError {
    pub fn pos(&self) -> Pos {
        match self {
            ParseError::Syntax { pos, .. }
            | ParseError::TooDeep { pos, .. }
            | ParseError::AliasBudget { pos, .. }
            | ParseError::RecursiveAlias { pos } => *pos,
        }
    }
}

/// A non-fatal finding while reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseWarning {
    pub pos: Pos,
    pub msg: String,
}

/// One non-empty document of a stream.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
}

#[derive(Debug, Default)]
pub struct Stream {
    pub docs: Vec<Document>,
    pub warnings: Vec<ParseWarning>,
}

/// Parses a whole stream. Empty documents (nothing, or only `null`) are dropped.
pub fn parse_stream(src: &str, limits: &Limits) -> Result<Stream, ParseError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let mut b = Builder {
        src,
        offsets: Offsets::new(src),
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        open_anchors: HashSet::new(),
        created: 0,
        alias_nodes: 0,
        out: Stream::default(),
    };
    let mut parser = Parser::new_from_str(src);
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let pos = Pos {
                line: e.marker().line() as u32,
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
    Ok(b.out)
}

enum Frame {
    Seq {
        node: Node,
        anchor: usize,
        created_at: usize,
    },
    Map {
        node: Node,
        anchor: usize,
        created_at: usize,
        key: Option<Node>,
        /// Index of scalar keys, built once a mapping grows past a few keys so that duplicate
        /// detection stays linear on hostile input.
        index: Option<HashMap<String, usize>>,
    },
}

struct Builder<'a> {
    src: &'a str,
    offsets: Offsets<'a>,
    limits: &'a Limits,
    stack: Vec<Frame>,
    /// Completed anchored nodes and their size in nodes.
    anchors: HashMap<usize, (Node, usize)>,
    /// Anchors whose node is still being built.
    open_anchors: HashSet<usize>,
    created: usize,
    alias_nodes: usize,
    out: Stream,
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line() as u32,
        col: span.start.col() as u32 + 1,
    }
}

/// Writes a tag the way it appeared (`!!str`, `!local`, `!<verbatim>`).
fn tag_text(tag: &Tag) -> Box<str> {
    let t = if tag.handle == "tag:yaml.org,2002:" {
        format!("!!{}", tag.suffix)
    } else if tag.handle == "!" || tag.handle == "!!" {
        format!("{}{}", tag.handle, tag.suffix)
    } else {
        format!("!<{}{}>", tag.handle, tag.suffix)
    };
    t.into_boxed_str()
}

impl<'a> Builder<'a> {
    fn event(&mut self, ev: Event<'a>, span: Span) -> Result<(), ParseError> {
        let pos = pos_of(&span);
        match ev {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            Event::DocumentStart(_) => {}
            Event::DocumentEnd => {
                // Anchors are scoped to their document.
                self.anchors.clear();
            }
            Event::Alias(id) => {
                if self.open_anchors.contains(&id) {
                    return Err(ParseError::RecursiveAlias { pos });
                }
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(ParseError::Syntax {
                        pos,
                        msg: "unknown anchor".into(),
                    });
                };
                self.alias_nodes = self.alias_nodes.saturating_add(*size);
                if self.alias_nodes > self.limits.max_alias_nodes {
                    return Err(ParseError::AliasBudget {
                        pos,
                        max: self.limits.max_alias_nodes,
                    });
                }
                self.created += size;
                let mut copy = node.clone();
                copy.pos = pos;
                self.push_value(copy)?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                let raw = self.raw_for(style, &span, &value);
                let mut scalar = Scalar {
                    value: value.into_owned(),
                    style: match style {
                        ScalarStyle::Plain => Style::Plain,
                        ScalarStyle::SingleQuoted => Style::Single,
                        ScalarStyle::DoubleQuoted => Style::Double,
                        ScalarStyle::Literal => Style::Literal,
                        ScalarStyle::Folded => Style::Folded,
                    },
                    extra: None,
                };
                scalar.set_extra(tag.as_deref().map(tag_text), raw);
                let node = Node {
                    value: Value::Scalar(scalar),
                    pos,
                    tag: None,
                };
                self.created += 1;
                if anchor != 0 {
                    self.anchors.insert(anchor, (node.clone(), 1));
                }
                self.push_value(node)?;
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
                let node = Node {
                    value: if is_map {
                        Value::Map(Vec::new())
                    } else {
                        Value::Seq(Vec::new())
                    },
                    pos,
                    tag: tag.as_deref().map(tag_text),
                };
                if anchor != 0 {
                    self.open_anchors.insert(anchor);
                }
                let created_at = self.created;
                self.created += 1;
                self.stack.push(if is_map {
                    Frame::Map {
                        node,
                        anchor,
                        created_at,
                        key: None,
                        index: None,
                    }
                } else {
                    Frame::Seq {
                        node,
                        anchor,
                        created_at,
                    }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, created_at) = match self.stack.pop() {
                    Some(Frame::Seq {
                        node,
                        anchor,
                        created_at,
                    })
                    | Some(Frame::Map {
                        node,
                        anchor,
                        created_at,
                        ..
                    }) => (node, anchor, created_at),
                    None => {
                        return Err(ParseError::Syntax {
                            pos,
                            msg: "unbalanced collection end".into(),
                        });
                    }
                };
                if anchor != 0 {
                    self.open_anchors.remove(&anchor);
                    self.anchors
                        .insert(anchor, (node.clone(), self.created - created_at));
                }
                self.push_value(node)?;
            }
        }
        Ok(())
    }

    fn push_value(&mut self, node: Node) -> Result<(), ParseError> {
        match self.stack.last_mut() {
            None => {
                if !is_empty_document(&node) {
                    self.out.docs.push(Document { root: node });
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
                None => *key = Some(node),
                Some(k) => {
                    let Value::Map(entries) = &mut map.value else {
                        return Ok(());
                    };
                    let text = match &k.value {
                        Value::Scalar(s) => Some(s.value.clone()),
                        _ => None,
                    };
                    let dup = text.as_ref().and_then(|t| {
                        if let Some(ix) = index {
                            ix.get(t).copied()
                        } else {
                            entries.iter().position(
                                |(ek, _)| matches!(&ek.value, Value::Scalar(s) if &s.value == t),
                            )
                        }
                    });
                    match dup {
                        Some(i) => {
                            let first = entries[i].0.pos;
                            self.out.warnings.push(ParseWarning {
                                pos: k.pos,
                                msg: format!(
                                    "duplicate key \"{}\" (first at line {}): the last value wins, as in Kubernetes",
                                    text.unwrap_or_default(),
                                    first.line
                                ),
                            });
                            entries[i].1 = node;
                        }
                        None => {
                            if let (Some(ix), Some(t)) = (index.as_mut(), text.clone()) {
                                ix.insert(t, entries.len());
                            }
                            entries.push((k, node));
                            if index.is_none() && entries.len() >= 16 {
                                let mut ix = HashMap::with_capacity(entries.len() * 2);
                                for (i, (ek, _)) in entries.iter().enumerate() {
                                    if let Value::Scalar(s) = &ek.value {
                                        ix.entry(s.value.clone()).or_insert(i);
                                    }
                                }
                                *index = Some(ix);
                            }
                        }
                    }
                }
            },
        }
        Ok(())
    }

    /// The exact source text to keep for a scalar: single-line double-quoted scalars whose
    /// escapes differ from the ones the emitter would write (so `"\u00e9"` stays as written),
    /// and folded blocks (so their line breaks stay where the author put them). Single-quoted
    /// scalars need none: their only escape is `''`, which the emitter writes the same way.
    fn raw_for(&mut self, style: ScalarStyle, span: &Span, value: &str) -> Option<Box<str>> {
        match style {
            ScalarStyle::DoubleQuoted => {
                if span.start.line() != span.end.line() {
                    return None;
                }
                let text = self.slice(span)?;
                // A tag or anchor in front of the scalar is part of the span; keep only
                // plain `"..."` source text.
                if !(text.starts_with('"') && text.ends_with('"') && text.len() >= 2) {
                    return None;
                }
                (super::emit::double_quoted(value) != text).then(|| text.into())
            }
            ScalarStyle::Folded => self.folded_raw(span, value),
            _ => None,
        }
    }

    fn slice(&mut self, span: &Span) -> Option<&'a str> {
        let a = self.offsets.byte(span.start.index())?;
        let b = self.offsets.byte(span.end.index())?;
        self.src.get(a..b)
    }

    /// The content lines of a folded block scalar, de-indented, kept only when writing them
    /// back under a `>` header gives exactly the same value.
    fn folded_raw(&mut self, span: &Span, value: &str) -> Option<Box<str>> {
        let start = self.offsets.byte(span.start.index())?;
        let end = self.offsets.byte(span.end.index())?;
        let line_start = self.src.get(..start)?.rfind('\n').map_or(0, |i| i + 1);
        let indent = start - line_start;
        let text = self.src.get(line_start..end)?;
        let mut lines = Vec::new();
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim_start_matches(' ').is_empty() {
                lines.push("");
            } else if line.len() >= indent && line.as_bytes()[..indent].iter().all(|&c| c == b' ') {
                lines.push(&line[indent..]);
            } else {
                return None;
            }
        }
        while lines.last() == Some(&"") {
            lines.pop();
        }
        if lines
            .first()
            .is_none_or(|l| l.starts_with(' ') || l.starts_with('\t'))
        {
            return None;
        }
        let body = lines.join("\n");
        (super::emit::folded_value(&body, value) == Some(value.to_string()))
            .then(|| body.into_boxed_str())
    }
}

fn is_empty_document(node: &Node) -> bool {
    matches!(&node.value, Value::Scalar(s) if s.tag().is_none() && s.style == Style::Plain
        && matches!(s.value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

/// Maps the parser's character offsets to byte offsets. The common all-ASCII case is the
/// identity; otherwise a forward cursor makes the mapping linear over a whole stream.
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

    #[test]
    fn offsets_map_characters_to_bytes() {
        let src = "é: \"\\u00fc\"\nb: \"日本\\t\"\n";
        let s = parse(src).unwrap_or_default();
        let root = &s.docs[0].root;
        let raw = |k: &str| {
            root.get(k)
                .and_then(|n| n.as_scalar())
                .and_then(|s| s.raw().map(str::to_string))
        };
        assert_eq!(raw("é").as_deref(), Some("\"\\u00fc\""));
        assert_eq!(raw("b").as_deref(), None);
    }

    #[test]
    fn empty_documents_are_dropped() {
        let s = parse("---\n---\na: 1\n---\n~\n---\n# only a comment\n").unwrap_or_default();
        assert_eq!(s.docs.len(), 1);
    }

    #[test]
    fn duplicate_keys_keep_first_position_and_last_value() {
        let s = parse("a: 1\nb: 2\na: 3\n").unwrap_or_default();
        let root = &s.docs[0].root;
        let entries = root.as_map().map(Vec::len);
        assert_eq!(entries, Some(2));
        assert_eq!(root.get("a").and_then(Node::scalar_text), Some("3"));
        assert_eq!(s.warnings.len(), 1);
        assert_eq!(s.warnings[0].pos, Pos { line: 3, col: 1 });
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
        let s = parse("a: &x {n: 1}\nb: *x\n").unwrap_or_default();
        let mut root = s.docs[0].root.clone();
        if let Some(n) = root.path_mut(&["a", "n"]) {
            n.replace_str("2");
        }
        assert_eq!(
            root.path(&["b", "n"]).and_then(Node::scalar_text),
            Some("1")
        );
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
    fn deep_block_nesting_is_refused_without_overflowing() {
        let mut src = String::new();
        for _ in 0..100_000 {
            src.push_str("- ");
        }
        src.push_str("x\n");
        assert!(matches!(parse(&src), Err(ParseError::TooDeep { .. })));
        let flow = "[".repeat(10_000);
        assert!(parse(&flow).is_err());
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let e = parse("a: b\n  c: d\n").err();
        assert!(matches!(e, Some(ParseError::Syntax { pos, .. }) if pos.line == 2));
    }

    #[test]
    fn tags_are_kept_as_written() {
        let s = parse("a: !!str 1\nb: !foo x\nc: !<tag:x.org,1:y> z\n").unwrap_or_default();
        let tag = |k: &str| {
            s.docs[0]
                .root
                .get(k)
                .and_then(|n| n.as_scalar())
                .and_then(|s| s.tag().map(str::to_string))
        };
        assert_eq!(tag("a").as_deref(), Some("!!str"));
        assert_eq!(tag("b").as_deref(), Some("!foo"));
        assert_eq!(tag("c").as_deref(), Some("!<tag:x.org,1:y>"));
    }
}
