//! Lossless output: a document's text with exactly the program's edits applied.
//!
//! The transformation steps edit the tree ([`super::Node`]); every node remembers its byte
//! extent in its file, and the mutating methods record what changed ([`Edit`], removed
//! entries). This module walks a document's tree once and turns that into text edits:
//!
//! - a **changed scalar** is rewritten in place, in its own style where the new value allows
//!   it, its anchor kept;
//! - a **node the program wrote in place of another** (a `null` that became a mapping, a
//!   value replaced whole) is rendered by [`super::emit`] into the old node's place;
//! - **new entries and items** are inserted after the entry or item they follow, in the
//!   surrounding style: block entries on their own lines at the mapping's column, with the
//!   document's indentation step and line endings; flow entries after a `, `, JSON-quoted in
//!   a JSON document;
//! - **removed entries** are deleted with their lines; a collection whose every original
//!   entry went away is rendered anew;
//! - an **alias** is expanded into the text (the value rendered in its place) when an edit
//!   reaches into it, or into the anchor it refers to, so that no other place changes.
//!
//! Everything else — comments, blank lines, key order, quoting, flow collections, anchors,
//! line endings — is the input's, byte for byte, and a document without edits is copied
//! whole. No edit may start a line with `---`, `...` or `%` (text another reader would
//! split or reparse): [`write_piece`] refuses, rather than write, such text.

use super::emit::{self, Ctx, Layout};
use super::split::Piece;
use super::{Edit, Node, Pos, Span, Style, Value};

/// An edit the text cannot carry: the document is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct EditError {
    pub pos: Pos,
    pub msg: String,
}

/// Writes piece `piece` of `text` (its separator line and its body) with the edits recorded
/// in `root`, the document read from it.
pub fn write_piece(
    out: &mut String,
    text: &str,
    piece: Piece,
    root: Option<&Node>,
) -> Result<(), EditError> {
    let Some(root) = root else {
        out.push_str(&text[piece.start..piece.end]);
        return Ok(());
    };
    let body = &text[piece.start..piece.end];
    let mut s = Splicer {
        src: text,
        piece,
        edits: Vec::new(),
        dirty_anchors: Vec::new(),
        crlf: body.contains("\r\n"),
        layout: None,
    };
    let at = At {
        region: root.span.start as usize,
        key_end: None,
        flow: false,
        json: false,
        indent_at: root.span.start as usize,
        in_seq: false,
        root: true,
    };
    s.walk(root, at, true)?;
    if s.edits.is_empty() {
        out.push_str(body);
        return Ok(());
    }
    s.edits.sort_by_key(|e| (e.start, e.end));
    let mut at = piece.start;
    for e in &s.edits {
        if e.start < at || e.end > piece.end || e.start > e.end {
            return Err(EditError {
                pos: root.pos,
                msg: "internal error: overlapping edits; refusing to write this document".into(),
            });
        }
        check_markers(text, e.start, &e.text).map_err(|msg| EditError { pos: root.pos, msg })?;
        out.push_str(&text[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&text[at..piece.end]);
    Ok(())
}

/// Refuses inserted text that would put `---`, `...` or `%` at the start of a line.
fn check_markers(src: &str, at: usize, text: &str) -> Result<(), String> {
    let at_line_start = at == 0 || src.as_bytes().get(at - 1) == Some(&b'\n');
    let starts = std::iter::once(at_line_start.then_some(0))
        .flatten()
        .chain(text.match_indices('\n').map(|(i, _)| i + 1));
    for i in starts {
        let rest = &text[i..];
        if rest.starts_with("---") || rest.starts_with("...") || rest.starts_with('%') {
            return Err(format!(
                "refusing to write {:?} at the start of a line: Kubernetes would read it as a document marker or directive",
                rest.lines().next().unwrap_or("")
            ));
        }
    }
    Ok(())
}

struct TextEdit {
    start: usize,
    end: usize,
    text: String,
}

/// Where a node sits. Positions that take a scan of the text to find (the `:` after a key,
/// a column) are found only when an edit needs them.
#[derive(Clone, Copy, Debug)]
struct At {
    /// Byte right after the indicator that introduces the node (`-` of its item), or the
    /// node's start for keys, flow items and the document root; for a mapping value,
    /// [`Splicer::region`] finds the `:` after `key_end`.
    region: usize,
    key_end: Option<usize>,
    /// Inside a flow collection.
    flow: bool,
    /// Inside a flow collection whose keys are JSON strings.
    json: bool,
    /// Block context: a byte in the column of the key or dash that introduces the node.
    indent_at: usize,
    /// Introduced by `-` (a sequence item).
    in_seq: bool,
    /// The document's root.
    root: bool,
}

struct Splicer<'s> {
    src: &'s str,
    piece: Piece,
    edits: Vec<TextEdit>,
    /// Anchors whose definition changed in the text: every alias of them is expanded.
    dirty_anchors: Vec<usize>,
    crlf: bool,
    layout: Option<Layout>,
}

impl Splicer<'_> {
    fn err(&self, n: &Node, msg: impl Into<String>) -> EditError {
        EditError {
            pos: n.pos,
            msg: msg.into(),
        }
    }

    fn push(&mut self, start: usize, end: usize, mut text: String) {
        if self.crlf {
            text = text.replace("\r\n", "\n").replace('\n', "\r\n");
        }
        self.edits.push(TextEdit { start, end, text });
    }

    /// The document's indentation habits, for text that nests; found once per document, and
    /// only when such text is written.
    fn layout_for<'n>(&mut self, nodes: impl IntoIterator<Item = &'n Node>) -> Layout {
        let nests = nodes.into_iter().any(|n| match &n.value {
            Value::Scalar(_) => false,
            Value::Seq(items) => !items.is_empty(),
            Value::Map(entries) => !entries.is_empty(),
        });
        if nests {
            self.layout()
        } else {
            Layout::default()
        }
    }

    fn layout(&mut self) -> Layout {
        if let Some(l) = self.layout {
            return l;
        }
        let l = detect_layout(&self.src[self.piece.body..self.piece.end]);
        self.layout = Some(l);
        l
    }

    fn mark_anchors(&mut self, n: &Node) {
        if let Some(extra) = &n.extra {
            if extra.anchor != 0 {
                self.dirty_anchors.push(extra.anchor);
            }
            self.dirty_anchors
                .extend(extra.removed.iter().flat_map(|r| r.anchors.iter()));
            self.dirty_anchors.extend(extra.gone_anchors.iter());
        }
    }

    /// Records the edits of `n` and below (when `emit`); returns whether anything changed.
    fn walk(&mut self, n: &Node, at: At, emit: bool) -> Result<bool, EditError> {
        if let Some(r) = n.extra.as_ref().and_then(|e| e.refusal.as_deref()) {
            return Err(self.err(n, r));
        }
        match n.edit {
            Edit::Fresh => {
                if emit && !n.span.is_none() {
                    self.replace_fresh(n, at);
                }
                self.mark_anchors(n);
                return Ok(true);
            }
            Edit::Changed => {
                if emit {
                    self.replace_changed(n, at);
                }
                self.mark_anchors(n);
                return Ok(true);
            }
            Edit::Source => {}
        }
        let alias = n.alias_of();
        if alias != 0 {
            // The copy's children point into the anchor's text: look, do not edit there.
            let inner = self.children(n, at, false)?;
            let dirty = inner || self.dirty_anchors.contains(&alias);
            if dirty && emit {
                self.replace_fresh(n, at);
            }
            return Ok(dirty);
        }
        let dirty = self.children(n, at, emit)?;
        if dirty {
            self.mark_anchors(n);
        }
        Ok(dirty)
    }

    fn children(&mut self, n: &Node, at: At, emit: bool) -> Result<bool, EditError> {
        match &n.value {
            Value::Scalar(_) => Ok(false),
            Value::Map(entries) => self.map(n, entries, at, emit),
            Value::Seq(items) => self.seq(n, items, at, emit),
        }
    }

    fn removed(n: &Node) -> bool {
        n.extra.as_ref().is_some_and(|e| !e.removed.is_empty())
    }

    fn is_flow(&self, n: &Node) -> bool {
        !n.span.is_none() && n.flow
    }

    fn map(
        &mut self,
        n: &Node,
        entries: &[(Node, Node)],
        at: At,
        emit: bool,
    ) -> Result<bool, EditError> {
        let removed = Self::removed(n);
        let first_source = entries.iter().position(|(k, _)| !k.span.is_none());
        let Some(first) = first_source else {
            // No entry of the source is left (or there never was one, `{}`): the mapping is
            // written anew, whole.
            let dirty = removed || !entries.is_empty();
            if dirty && emit {
                self.replace_fresh(n, at);
            }
            if dirty {
                self.mark_anchors(n);
            }
            return Ok(dirty);
        };
        let flow = self.is_flow(n);
        let json = flow
            && self
                .src
                .as_bytes()
                .get(entries[first].0.span.start as usize)
                == Some(&b'"');
        // The column of the mapping's entries: where its first key starts, or the `?` before
        // it when that key is explicit (`? x` starts the entry at the `?`).
        let indent_at = {
            let key = entries[first].0.span.start as usize;
            let before = self.src[..key].trim_end_matches([' ', '\t']);
            if !flow && before.ends_with('?') {
                before.len() - 1
            } else {
                key
            }
        };
        if removed && emit && !self.removals_are_lines(n, entries, flow) {
            // Removals the text cannot lose cleanly (a first key after `- `, flow mappings):
            // the mapping is written anew.
            self.replace_fresh(n, at);
            self.mark_anchors(n);
            return Ok(true);
        }
        let mut dirty = removed;
        let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
        let mut pending = Vec::new();
        let mut prev = None;
        for (i, (k, v)) in entries.iter().enumerate() {
            if k.span.is_none() {
                pending.push(i);
                continue;
            }
            if !pending.is_empty() {
                groups.push((prev, std::mem::take(&mut pending)));
            }
            prev = Some(i);
            // Keys are rarely anything but plain text the program never touches.
            if k.edit != Edit::Source || k.extra.is_some() {
                let key_at = At {
                    region: k.span.start as usize,
                    key_end: None,
                    flow,
                    json,
                    indent_at,
                    in_seq: false,
                    root: false,
                };
                dirty |= self.walk(k, key_at, emit)?;
            }
            if is_clean_leaf(v) {
                continue;
            }
            let value_at = At {
                region: k.span.end as usize,
                key_end: Some(k.span.end as usize),
                flow,
                json,
                indent_at,
                in_seq: false,
                root: false,
            };
            dirty |= self.walk(v, value_at, emit)?;
        }
        if !pending.is_empty() {
            groups.push((prev, pending));
        }
        if !groups.is_empty() {
            dirty = true;
        }
        if emit {
            for (after, new) in groups {
                let new: Vec<(&Node, &Node)> = new
                    .iter()
                    .map(|&i| (&entries[i].0, &entries[i].1))
                    .collect();
                if flow {
                    self.insert_flow_entries(entries, first, after, &new, json);
                } else {
                    let col = self.column(indent_at);
                    self.insert_block_entries(entries, first, after, &new, col);
                }
            }
            if removed {
                self.delete_block_entries(n);
            }
        }
        Ok(dirty)
    }

    fn seq(&mut self, n: &Node, items: &[Node], at: At, emit: bool) -> Result<bool, EditError> {
        let removed = Self::removed(n);
        let Some(first) = items.iter().position(|i| !i.span.is_none()) else {
            let dirty = removed || !items.is_empty();
            if dirty && emit {
                self.replace_fresh(n, at);
            }
            if dirty {
                self.mark_anchors(n);
            }
            return Ok(dirty);
        };
        let flow = self.is_flow(n);
        let dash = if flow {
            None
        } else {
            dash_before(self.src, items[first].span.start as usize)
        };
        let lines_ok = flow || dash.is_some_and(|d| self.first_on_line(d));
        if emit && (removed || items.iter().any(|i| i.span.is_none())) && !lines_ok
            || emit && removed && flow
        {
            self.replace_fresh(n, at);
            self.mark_anchors(n);
            return Ok(true);
        }
        let col = dash.map_or(0, |d| self.column(d));
        let mut dirty = removed;
        let mut prev: Option<usize> = None;
        let mut pending: Vec<usize> = Vec::new();
        let mut groups: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if item.span.is_none() {
                pending.push(i);
                continue;
            }
            if !pending.is_empty() {
                groups.push((prev, std::mem::take(&mut pending)));
            }
            prev = Some(i);
            if is_clean_leaf(item) {
                continue;
            }
            let region = if flow || !emit {
                item.span.start as usize
            } else {
                dash_before(self.src, item.span.start as usize)
                    .map_or(item.span.start as usize, |d| d + 1)
            };
            let item_at = At {
                region,
                key_end: None,
                flow,
                json: false,
                indent_at: dash.unwrap_or(item.span.start as usize),
                in_seq: !flow,
                root: false,
            };
            dirty |= self.walk(item, item_at, emit)?;
        }
        if !pending.is_empty() {
            groups.push((prev, pending));
        }
        if !groups.is_empty() {
            dirty = true;
        }
        if emit {
            let layout = self.layout();
            for (after, new) in groups {
                let anchor_item = after.unwrap_or(first);
                let mut text = String::new();
                if flow {
                    for &i in &new {
                        let mut t = String::new();
                        emit::flow(&mut t, &items[i], false);
                        if after.is_some() {
                            text.push_str(", ");
                            text.push_str(&t);
                        } else {
                            text.push_str(&t);
                            text.push_str(", ");
                        }
                    }
                    let pos = if after.is_some() {
                        items[anchor_item].span.end as usize
                    } else {
                        items[anchor_item].span.start as usize
                    };
                    self.push(pos, pos, text);
                } else {
                    for &i in &new {
                        text.push_str(&" ".repeat(col));
                        text.push('-');
                        emit::block_value(&mut text, &items[i], col, true, layout);
                    }
                    let pos = match after {
                        Some(p) => self.after_line(end_of(self.src, &items[p])),
                        None => self.line_start(dash.unwrap_or(items[first].span.start as usize)),
                    };
                    let text = self.prefix_newline_at_eof(pos, text);
                    self.push(pos, pos, text);
                }
            }
            if removed {
                let removals = n
                    .extra
                    .as_ref()
                    .map(|e| e.removed.clone())
                    .unwrap_or_default();
                for r in removals {
                    let start = dash_before(self.src, r.value.start as usize)
                        .map_or(r.value.start as usize, |d| self.line_start(d));
                    let end = self.after_line(end_of_span(self.src, r.value));
                    self.push(start, end, String::new());
                }
            }
        }
        Ok(dirty)
    }

    /// Whether every removed entry of a block mapping starts its line, so that deleting its
    /// lines removes exactly it.
    fn removals_are_lines(&self, n: &Node, _entries: &[(Node, Node)], flow: bool) -> bool {
        if flow {
            return false;
        }
        n.extra.as_ref().is_none_or(|e| {
            e.removed
                .iter()
                .all(|r| self.first_on_line(r.key.start as usize))
        })
    }

    fn delete_block_entries(&mut self, n: &Node) {
        let removals = n
            .extra
            .as_ref()
            .map(|e| e.removed.clone())
            .unwrap_or_default();
        for r in removals {
            let start = self.line_start(r.key.start as usize);
            let end = self.after_line(end_of_span(
                self.src,
                Span {
                    start: r.key.start,
                    end: r.value.end.max(r.key.end),
                },
            ));
            self.push(start, end, String::new());
        }
    }

    fn insert_block_entries(
        &mut self,
        entries: &[(Node, Node)],
        first: usize,
        after: Option<usize>,
        new: &[(&Node, &Node)],
        col: usize,
    ) {
        let layout = self.layout_for(new.iter().map(|(_, v)| *v));
        let mut text = String::new();
        emit::block_entries(&mut text, new, col, layout);
        match after {
            Some(p) => {
                let (k, v) = &entries[p];
                let end = end_of(self.src, v).max(k.span.end as usize);
                let pos = self.after_line(end);
                let text = self.prefix_newline_at_eof(pos, text);
                self.push(pos, pos, text);
            }
            None => {
                // Before the first key: the new lines go in front of it, and the first key
                // keeps its column.
                let pos = entries[first].0.span.start as usize;
                let text = format!("{}{}", &text[col.min(text.len())..], " ".repeat(col));
                self.push(pos, pos, text);
            }
        }
    }

    fn insert_flow_entries(
        &mut self,
        entries: &[(Node, Node)],
        first: usize,
        after: Option<usize>,
        new: &[(&Node, &Node)],
        json: bool,
    ) {
        let mut parts = Vec::new();
        for (k, v) in new {
            let mut t = String::new();
            emit::flow_key(&mut t, k, json);
            t.push_str(": ");
            emit::flow(&mut t, v, json);
            parts.push(t);
        }
        match after {
            Some(p) => {
                let (k, v) = &entries[p];
                let pos = (v.span.end as usize).max(colon_end(self.src, k.span.end as usize));
                let mut text: String = parts.iter().map(|p| format!(", {p}")).collect();
                // After an empty value (`{a: , b}`, `{a: !!str , b}`), the `,` may not touch
                // the `:` or the tag: go-yaml would read `a:,` as the key `a:`, and `!!str,`
                // as a tag.
                let empty = v
                    .as_scalar()
                    .is_some_and(|s| s.value.is_empty() && s.style == Style::Plain)
                    && (v.tag().is_some() || v.extra.as_ref().is_some_and(|e| e.anchor != 0));
                if pos > 0
                    && (empty || self.src.as_bytes()[pos - 1] == b':')
                    && !matches!(self.src.as_bytes()[pos - 1], b' ' | b'\t' | b'\n')
                {
                    text.insert(0, ' ');
                }
                self.push(pos, pos, text);
            }
            None => {
                let pos = entries[first].0.span.start as usize;
                let text: String = parts.iter().map(|p| format!("{p}, ")).collect();
                self.push(pos, pos, text);
            }
        }
    }

    /// Rewrites a changed scalar in place: its anchor (and a `!!str` tag) kept, its value in
    /// its own style where the value allows it.
    fn replace_changed(&mut self, n: &Node, at: At) {
        let Value::Scalar(s) = &n.value else {
            self.replace_fresh(n, at);
            return;
        };
        let start = n.span.start as usize;
        let end = (n.span.end as usize).max(start);
        let (anchor, content) = props(&self.src[start..end]);
        let mut text = String::new();
        let region = self.region(at);
        // An empty value in a flow mapping sits at its key's `:` (`{a: , b}`), or after a bare
        // key (`{a, b}`): like a block value, its new text goes after the `:`, which a bare
        // key needs written first.
        let empty_in_flow = at.flow && start == end;
        let bare_key = empty_in_flow && at.key_end.is_some_and(|k| k == region);
        let region_start = if bare_key || start < region && (!at.flow || empty_in_flow) {
            region
        } else {
            start
        };
        let region_end = end.max(region_start);
        if bare_key {
            text.push_str(": ");
        } else if region_start == region && !at.root && needs_space_before(self.src, region_start) {
            text.push(' ');
        }
        if let Some(a) = anchor {
            text.push_str(a);
            text.push(' ');
        }
        if let Some(tag) = n.tag() {
            emit::write_tag(&mut text, tag);
            text.push(' ');
        }
        let ctx = if at.flow {
            Ctx::Flow { json: at.json }
        } else {
            Ctx::Block
        };
        let style_of_content = content;
        let _ = style_of_content;
        text.push_str(&emit::inline_scalar(s, n.tag(), ctx));
        if matches!(s.style, Style::Plain | Style::Auto)
            && s.value.is_empty()
            && text.trim().is_empty()
        {
            text = String::new();
        }
        self.push(region_start, region_end, text);
    }

    /// Renders `n` anew into the place of the text it replaces.
    fn replace_fresh(&mut self, n: &Node, at: At) {
        let start = n.span.start as usize;
        let end = (n.span.end as usize).max(start);
        self.mark_subtree_anchors_gone(n);
        let mut text = String::new();
        if at.flow {
            emit::flow(&mut text, n, at.json);
            // An empty value has no text of its own: it sits at its key's `:` (`{a: , b: c}`)
            // or, for a bare key (`{a, b}`), at what follows the key. The new text goes after
            // the `:`, or after the key with a `:` of its own.
            if let (true, Some(key_end)) = (start == end, at.key_end) {
                let colon = colon_end(self.src, key_end);
                if colon > key_end {
                    self.push(colon, colon, format!(" {text}"));
                } else {
                    self.push(key_end, key_end, format!(": {text}"));
                }
                return;
            }
            self.push(start, end, text);
            return;
        }
        let layout = self.layout_for([n]);
        if at.root {
            emit::block_value(&mut text, n, 0, false, layout);
            let text = text.strip_prefix(' ').unwrap_or(&text);
            let text = text.strip_prefix('\n').unwrap_or(text);
            let text = text.strip_suffix('\n').unwrap_or(text).to_string();
            self.push(start, end, text);
            return;
        }
        // The text after the indicator is replaced; an empty value sits at its key's `:`.
        let region = self.region(at);
        let indent = self.column(at.indent_at);
        emit::block_value(&mut text, n, indent, at.in_seq, layout);
        if text.ends_with('\n') {
            text.pop();
        }
        if !needs_space_before(self.src, region) {
            if let Some(t) = text.strip_prefix(' ') {
                text = t.to_string();
            }
        }
        let end = end.max(region);
        // A block that replaces a value written on its key's line (`labels:`, `labels: ~`,
        // `labels: {} # none yet`) starts after that line's comment, which stays where it was.
        if text.starts_with('\n') && !self.src[region..end].contains('\n') {
            let line_end = self.src[end..self.piece.end]
                .find('\n')
                .map_or(self.piece.end, |i| end + i);
            let line_end = if self.src[..line_end].ends_with('\r') {
                line_end - 1
            } else {
                line_end
            };
            if end > region {
                self.push(region, end, String::new());
            }
            self.push(line_end, line_end, text);
            return;
        }
        self.push(region, end, text);
    }

    /// Anchors defined in the source text of an alias copy are not definitions; anchors
    /// defined inside a node whose text is replaced disappear with it.
    fn mark_subtree_anchors_gone(&mut self, n: &Node) {
        if n.alias_of() != 0 {
            return;
        }
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            if let Some(e) = &x.extra {
                if e.anchor != 0 {
                    self.dirty_anchors.push(e.anchor);
                }
                self.dirty_anchors.extend(e.gone_anchors.iter());
            }
            if x.alias_of() != 0 || x.edit == Edit::Fresh && x.span.is_none() {
                continue;
            }
            match &x.value {
                Value::Scalar(_) => {}
                Value::Seq(items) => stack.extend(items.iter()),
                Value::Map(entries) => stack.extend(entries.iter().flat_map(|(k, v)| [k, v])),
            }
        }
    }

    /// The byte right after the indicator that introduces the node at `at`.
    fn region(&self, at: At) -> usize {
        match at.key_end {
            Some(k) => colon_end(self.src, k),
            None => at.region,
        }
    }

    fn column(&self, at: usize) -> usize {
        let line = self.line_start(at);
        self.src[line..at].chars().count()
    }

    /// Where the line holding `at` starts. A byte order mark starting the file is not part of
    /// the first line's text: its keys are at column 0 for every reader.
    fn line_start(&self, at: usize) -> usize {
        match self.src[..at].rfind('\n') {
            Some(i) => i + 1,
            None if self.src.starts_with('\u{feff}') => '\u{feff}'.len_utf8().min(at),
            None => 0,
        }
    }

    /// Whether only spaces precede `at` on its line.
    fn first_on_line(&self, at: usize) -> bool {
        self.src[self.line_start(at)..at].bytes().all(|b| b == b' ')
    }

    /// The byte after the line break of the line holding `at` (or the end of the piece).
    fn after_line(&self, at: usize) -> usize {
        let end = self.piece.end;
        match self.src[at.min(end)..end].find('\n') {
            Some(i) => at + i + 1,
            None => end,
        }
    }

    /// New lines at the very end of a piece whose last line has no line break need one first.
    fn prefix_newline_at_eof(&self, pos: usize, text: String) -> String {
        if pos == self.piece.end && pos > 0 && self.src.as_bytes().get(pos - 1) != Some(&b'\n') {
            format!("\n{text}")
        } else {
            text
        }
    }
}

/// A scalar read from the source and left alone: nothing to look at (most nodes are these).
#[inline]
fn is_clean_leaf(n: &Node) -> bool {
    n.edit == Edit::Source && n.extra.is_none() && matches!(n.value, Value::Scalar(_))
}

/// Where a node's text really ends: a block scalar that keeps its trailing line breaks
/// (`|+`) owns the blank lines after its last content line.
fn end_of(src: &str, n: &Node) -> usize {
    let mut last = n;
    loop {
        let next = match &last.value {
            Value::Seq(items) => items.last(),
            Value::Map(entries) => entries.last().map(|(_, v)| v),
            Value::Scalar(_) => None,
        };
        match next {
            Some(x) if !x.span.is_none() && last.alias_of() == 0 => last = x,
            _ => break,
        }
    }
    let end = (n.span.end as usize).max(n.span.start as usize);
    match &last.value {
        Value::Scalar(s)
            if matches!(s.style, Style::Literal | Style::Folded) && keeps(src, last) =>
        {
            skip_blank_lines(src, end)
        }
        _ => end,
    }
}

fn end_of_span(src: &str, span: Span) -> usize {
    let _ = src;
    span.end as usize
}

/// Whether a block scalar's header says `+` (keep trailing line breaks).
fn keeps(src: &str, n: &Node) -> bool {
    let start = n.span.start as usize;
    let end = (n.span.end as usize).max(start);
    let text = &src[start..end];
    let header = text.lines().next().unwrap_or("");
    header
        .split('#')
        .next()
        .is_some_and(|h| h.trim_end().ends_with('+') || h.contains("+"))
}

/// Past the whitespace-only lines that follow the line holding `at`.
fn skip_blank_lines(src: &str, at: usize) -> usize {
    let Some(nl) = src[at..].find('\n') else {
        return src.len();
    };
    let mut pos = at + nl + 1;
    let mut last_break = at + nl;
    while pos < src.len() {
        let line_end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
        if !src[pos..line_end]
            .trim_matches([' ', '\t', '\r'])
            .is_empty()
        {
            break;
        }
        if line_end == src.len() {
            break;
        }
        last_break = line_end;
        pos = line_end + 1;
    }
    last_break
}

/// The byte after the `:` that follows a mapping key ending at `key_end`.
fn colon_end(src: &str, key_end: usize) -> usize {
    let bytes = src.as_bytes();
    let mut i = key_end;
    while i < bytes.len() {
        match bytes[i] {
            b':' => return i + 1,
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                // A comment between an explicit key and its `:`.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            _ => return key_end,
        }
    }
    key_end
}

/// The `-` that introduces the block sequence item starting at `item`.
fn dash_before(src: &str, item: usize) -> Option<usize> {
    let mut i = item;
    let bytes = src.as_bytes();
    loop {
        let line_start = src[..i].rfind('\n').map_or(0, |p| p + 1);
        let before = &src[line_start..i];
        let before = strip_comment(before).trim_end_matches([' ', '\t', '\r']);
        if let Some(stripped) = before.strip_suffix('-') {
            let _ = stripped;
            return Some(line_start + before.len() - 1);
        }
        if !before.trim().is_empty() || line_start == 0 {
            return None;
        }
        i = line_start - 1;
        if bytes.get(i) != Some(&b'\n') {
            return None;
        }
    }
}

fn strip_comment(line: &str) -> &str {
    match line.find(" #") {
        Some(i) => &line[..i],
        None if line.starts_with('#') => "",
        None => line,
    }
}

/// The first byte of a node's content, past its properties (`&anchor`, `!tag`).
pub(crate) fn first_content_byte(src: &str, start: usize) -> Option<u8> {
    let (_, rest) = props(src.get(start..)?);
    rest.bytes().next()
}

/// Splits a node's text into its anchor (`&a`) and the rest (tags are rewritten from the
/// node, not copied).
pub(crate) fn props(text: &str) -> (Option<&str>, &str) {
    let mut rest = text;
    let mut anchor = None;
    loop {
        let t = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        if let Some(after) = t.strip_prefix('&') {
            let len = after
                .find(|c: char| c.is_whitespace() || matches!(c, ',' | '[' | ']' | '{' | '}'))
                .unwrap_or(after.len());
            anchor = Some(&t[..len + 1]);
            rest = &after[len..];
        } else if t.starts_with('!') {
            let len = t.find(char::is_whitespace).unwrap_or(t.len());
            rest = &t[len..];
        } else {
            return (anchor, t);
        }
    }
}

/// Whether text inserted at `at` must start with a space to be separated from an indicator.
fn needs_space_before(src: &str, at: usize) -> bool {
    at > 0 && matches!(src.as_bytes().get(at - 1), Some(b':' | b'-' | b'?'))
}

/// The indentation habits of a document: how far a nested mapping is indented, and whether
/// sequences under a key are indented.
pub(crate) fn detect_layout(text: &str) -> Layout {
    let mut step = None;
    let mut seq = None;
    let mut prev: Option<(usize, bool)> = None; // (key column, line ends with a bare `key:`)
    // The first hundred lines that say something are plenty to learn a document's habits.
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(100) {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if let Some((key_col, opens)) = prev {
            if opens {
                if content.starts_with("- ") || content == "-" {
                    seq.get_or_insert(indent.saturating_sub(key_col));
                } else if indent > key_col {
                    step.get_or_insert(indent - key_col);
                }
            }
        }
        if step.is_some() && seq.is_some() {
            break;
        }
        let mut key_col = indent;
        let mut c = content;
        while let Some(rest) = c.strip_prefix("- ") {
            let r = rest.trim_start_matches(' ');
            key_col += c.len() - r.len();
            c = r;
        }
        let bare = strip_comment(c).trim_end();
        prev = Some((key_col, bare.ends_with(':') && !bare.starts_with('-')));
    }
    Layout {
        step: step.filter(|s| (1..=8).contains(s)).unwrap_or(2),
        seq: seq.filter(|s| *s <= 8).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse::{Limits, parse_file};

    /// Parses `src`, applies `edit` to its first document, writes it back.
    fn spliced(src: &str, edit: impl Fn(&mut Node)) -> String {
        let f = parse_file(src, &Limits::default()).unwrap_or_else(|e| panic!("{e}: {src}"));
        let mut out = String::new();
        for (piece, root) in f.pieces {
            let mut root = root;
            if let Some(r) = root.as_mut() {
                edit(r);
            }
            write_piece(&mut out, src, piece, root.as_ref()).unwrap_or_else(|e| panic!("{e}"));
        }
        out
    }

    fn set_ns(n: &mut Node) {
        if let Some(m) = n.ensure_map("metadata", &["kind"]) {
            m.set_str("namespace", "pr-7", &["generateName", "name"]);
        }
    }

    fn label(n: &mut Node) {
        if let Some(m) = n.ensure_map("metadata", &["kind"]) {
            if let Some(l) = m.ensure_map("labels", &["namespace", "name"]) {
                l.set_str("gitops.io/pr", "7", &[]);
            }
        }
    }

    fn rename(n: &mut Node) {
        if let Some(x) = n.path_mut(&["metadata", "name"]) {
            let new = format!("{}-pr-7", x.scalar_text().unwrap_or(""));
            x.replace_str(&new);
        }
    }

    #[test]
    fn untouched_documents_are_copied_byte_for_byte() {
        for src in [
            "# c\napiVersion: v1 # x\nkind: A\n\n\nmetadata: {name: a}\n",
            "a: 1\r\n---\r\nb: &x [1, 2]\r\nc: *x\r\n",
            "---\n# only\n---\n",
            "a: 1",
        ] {
            assert_eq!(spliced(src, |_| {}), src);
        }
    }

    #[test]
    fn edits_are_local() {
        // (input, edit, expected output)
        type Case = (&'static str, fn(&mut Node), &'static str);
        let cases: &[Case] = &[
            (
                "kind: A\nmetadata:\n  name: web # the app\n  labels:\n    a: b\nspec: {}\n",
                set_ns,
                "kind: A\nmetadata:\n  name: web # the app\n  namespace: pr-7\n  labels:\n    a: b\nspec: {}\n",
            ),
            (
                "kind: A\nmetadata:\n    name: web\n",
                label,
                "kind: A\nmetadata:\n    name: web\n    labels:\n        gitops.io/pr: \"7\"\n",
            ),
            (
                "kind: A\nmetadata:\n  name: 'web'\n",
                rename,
                "kind: A\nmetadata:\n  name: 'web-pr-7'\n",
            ),
            (
                "kind: A\nmetadata: {name: web, labels: {}}\n",
                label,
                "kind: A\nmetadata: {name: web, labels: {gitops.io/pr: \"7\"}}\n",
            ),
            (
                "kind: A\nmetadata: {x: 1, b}\n",
                set_ns,
                "kind: A\nmetadata: {x: 1, b, namespace: pr-7}\n",
            ),
            // An explicit first key (`? x`) starts its entry at the `?`: a new key goes there.
            (
                "? x\nkind: A\n",
                set_ns,
                "? x\nkind: A\nmetadata:\n  namespace: pr-7\n",
            ),
            (
                "{\"kind\": \"A\", \"metadata\": {\"name\": \"web\"}}\n",
                set_ns,
                "{\"kind\": \"A\", \"metadata\": {\"name\": \"web\", \"namespace\": \"pr-7\"}}\n",
            ),
            (
                "kind: A\nmetadata:\n  labels:\n  name: web\n",
                label,
                "kind: A\nmetadata:\n  labels:\n    gitops.io/pr: \"7\"\n  name: web\n",
            ),
            (
                "kind: A\nmetadata:\n  name: web\n  labels: ~ # none yet\n",
                label,
                "kind: A\nmetadata:\n  name: web\n  labels: # none yet\n    gitops.io/pr: \"7\"\n",
            ),
            (
                "kind: A\nmetadata:\n  name: \"web\" # quoted\n",
                rename,
                "kind: A\nmetadata:\n  name: \"web-pr-7\" # quoted\n",
            ),
            (
                "kind: A\n",
                set_ns,
                "kind: A\nmetadata:\n  namespace: pr-7\n",
            ),
            (
                "kind: A\nmetadata:\n  name: web",
                set_ns,
                "kind: A\nmetadata:\n  name: web\n  namespace: pr-7\n",
            ),
            (
                "kind: A\r\nmetadata:\r\n  name: web\r\n",
                set_ns,
                "kind: A\r\nmetadata:\r\n  name: web\r\n  namespace: pr-7\r\n",
            ),
            (
                "kind: A\nmetadata:\n  name: &n web\nspec:\n  x: *n\n",
                rename,
                "kind: A\nmetadata:\n  name: &n web-pr-7\nspec:\n  x: web\n",
            ),
            (
                "kind: A\nmetadata:\n  annotations:\n    a: |+\n      keep\n\n  name: web\n",
                set_ns,
                "kind: A\nmetadata:\n  annotations:\n    a: |+\n      keep\n\n  name: web\n  namespace: pr-7\n",
            ),
            (
                "items:\n- kind: A\n  metadata:\n    name: web\n",
                |n| {
                    if let Some(i) = n
                        .get_mut("items")
                        .and_then(|s| s.as_seq_mut())
                        .and_then(|s| s.first_mut())
                    {
                        set_ns(i);
                    }
                },
                "items:\n- kind: A\n  metadata:\n    name: web\n    namespace: pr-7\n",
            ),
        ];
        for (src, edit, want) in cases {
            let got = spliced(src, edit);
            assert_eq!(&got, want, "input {src:?}");
            // The output reads back as the edited tree.
            let mut expected = crate::yaml::test_doc(src);
            edit(&mut expected);
            let back = crate::yaml::test_doc(&got);
            assert_eq!(
                crate::yaml::json::to_json(&back),
                crate::yaml::json::to_json(&expected),
                "{got}"
            );
        }
    }

    #[test]
    fn removals_delete_their_lines() {
        let src =
            "spec:\n  compositionRef:\n    name: x # old\n  compositionSelector: {}\n  size: 1\n";
        let got = spliced(src, |n| {
            if let Some(s) = n.get_mut("spec") {
                s.remove("compositionRef");
            }
        });
        assert_eq!(got, "spec:\n  compositionSelector: {}\n  size: 1\n");
        let got = spliced("spec:\n  a: 1\n", |n| {
            if let Some(s) = n.get_mut("spec") {
                s.remove("a");
            }
        });
        assert_eq!(got, "spec: {}\n");
    }

    #[test]
    fn layout_is_detected() {
        assert_eq!(
            detect_layout("a:\n  b: 1\nc:\n- x\n"),
            Layout { step: 2, seq: 0 }
        );
        assert_eq!(
            detect_layout("a:\n    b:\n      - x\n"),
            Layout { step: 4, seq: 2 }
        );
        assert_eq!(
            detect_layout("- name: a\n  env:\n  - x\n"),
            Layout { step: 2, seq: 0 }
        );
    }
}
