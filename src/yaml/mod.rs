//! The YAML layer: a small document tree that remembers where every node came from.
//!
//! Manifests are split into documents the way Kubernetes splits them ([`split`]), parsed with
//! saphyr-parser's event API ([`parse`]) into [`Node`]s, and written back by splicing: the
//! output is the input text with local edits ([`splice`]); only what the program changed or
//! added is written by our own renderer ([`emit`]). `-o json` goes through [`json`], which
//! types scalars the way Kubernetes does (go-yaml v2 through sigs.k8s.io/yaml).
//!
//! Invariants:
//! - **One reading.** What this tree says is what the Kubernetes reader says: lookups follow
//!   go-yaml v2, where entries apply in document order and a merge (`<<`) sets the keys it
//!   brings at its place, so a later explicit key or merge overrides an earlier one
//!   ([`Node::get`]); keys compare as Kubernetes' JSON keys ([`key_text`]); a duplicate key
//!   keeps only its last occurrence.
//! - **Edits are tracked.** Every node keeps its byte extent in its file ([`Span`]). The
//!   mutating methods ([`Node::replace_str`], [`Node::set`], [`Node::set_str`],
//!   [`Node::ensure_map`], [`Node::remove`], [`Node::get_mut`]) record what they changed, so
//!   that [`splice`] can rewrite exactly that and copy everything else byte for byte. Code
//!   outside this module changes trees only through them.
//! - **Edits the text cannot carry are refused.** An edit that a merge would override, or
//!   that would remove a key a merge still supplies, marks the mapping; writing the document
//!   then fails with a located error instead of producing text that reads differently.
//! - Aliases are expanded at parse time into independent copies (so renaming an anchored
//!   value never changes the places that used its alias; [`splice`] expands an alias in the
//!   text where an edit reaches into it or into its anchor).
//! - Trees are at most [`MAX_DEPTH`] deep, aliases included, so the recursive code in this
//!   crate cannot overflow the stack.

pub mod emit;
pub mod json;
pub mod parse;
pub mod resolve;
pub mod splice;
pub mod split;

use std::borrow::Cow;

use compact_str::CompactString;

/// Deepest nesting of collections accepted in input, alias expansions included (DESIGN.md
/// §7, `yaml-libraries.md`).
pub const MAX_DEPTH: usize = 256;

/// Line and column of a node in its source file (line 1-based, column 1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A node's byte range in the text of the file it was read from: its properties (anchor,
/// tag) and content, for a block scalar up to the end of its last content line, for a block
/// collection up to the end of its last child.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The span of a node the program added: it replaces nothing.
    pub const NONE: Span = Span {
        start: u32::MAX,
        end: u32::MAX,
    };

    pub fn is_none(self) -> bool {
        self.start == u32::MAX
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl Default for Span {
    fn default() -> Self {
        Span::NONE
    }
}

/// How a scalar is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Plain as read: written back byte for byte.
    Plain,
    /// `'single quoted'`.
    Single,
    /// `"double quoted"`.
    Double,
    /// `|` literal block.
    Literal,
    /// `>` folded block.
    Folded,
    /// Written by the program: plain when no YAML 1.1 or 1.2 reader could take it for
    /// anything but a string, double-quoted otherwise.
    Auto,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The value as a reader sees it (escapes resolved, lines folded). Inline up to 24
    /// bytes: most keys and values need no allocation of their own.
    pub value: CompactString,
    pub style: Style,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// What the program did to a node, for [`splice`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Edit {
    /// Read from the source; a collection may hold changed nodes.
    #[default]
    Source,
    /// A scalar read from the source whose value (or style) the program changed: its text is
    /// rewritten in place, its anchor kept.
    Changed,
    /// Written by the program. With a span, it replaces the node that was there; without one,
    /// it is part of an insertion.
    Fresh,
}

/// A mapping entry or sequence item that the program removed from a collection read from
/// the source: [`splice`] deletes its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Removed {
    /// The key (mappings) or `Span::NONE` (sequences).
    pub key: Span,
    /// The value or item.
    pub value: Span,
    /// Anchors defined in the removed text: their aliases must be expanded.
    pub anchors: Vec<usize>,
}

/// What few nodes need, kept behind one pointer so that every node stays small (a render
/// holds millions of them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra {
    /// The tag, written the canonical way (`!!str`, `!local`, `!<verbatim>`), if any.
    pub tag: Option<Box<str>>,
    /// The parser's id of the anchor this node defines (0: none).
    pub anchor: usize,
    /// This node is the copy made for an alias of that anchor (0: not an alias).
    pub alias: usize,
    /// Entries or items removed from this collection.
    pub removed: Vec<Removed>,
    /// An edit that the text cannot carry faithfully: writing the document is refused.
    pub refusal: Option<String>,
    /// Anchors defined in the text this node replaced (their aliases must be expanded).
    pub gone_anchors: Vec<usize>,
    /// Keys of this mapping that occur more than once: the earlier occurrences stay in the
    /// text, dead for every reader while the last one is there.
    pub shadowed: Vec<Box<str>>,
}

/// One node of a document, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    pub span: Span,
    pub edit: Edit,
    /// A collection written in flow style (`{..}`, `[..]`) in the source. Its span cannot
    /// tell: `- {a: b}` is a block sequence whose span is its flow mapping's.
    pub flow: bool,
    pub extra: Option<Box<Extra>>,
}

/// Where the effective value of a key is, the way go-yaml v2 applies a mapping's entries.
enum Found {
    /// The entry at this index.
    Explicit(usize),
    /// The merge (`<<`) entry at this index supplies it.
    Merged(usize),
    Absent,
}

impl Node {
    fn new(value: Value) -> Node {
        Node {
            value,
            pos: Pos::default(),
            span: Span::NONE,
            edit: Edit::Fresh,
            flow: false,
            extra: None,
        }
    }

    /// A string scalar written by the program (quoted when it needs to be).
    pub fn string(value: impl Into<String>) -> Node {
        Node::new(Value::Scalar(Scalar {
            value: CompactString::from(value.into()),
            style: Style::Auto,
        }))
    }

    pub fn map(entries: Vec<(Node, Node)>) -> Node {
        Node::new(Value::Map(entries))
    }

    pub fn seq(items: Vec<Node>) -> Node {
        Node::new(Value::Seq(items))
    }

    /// The tag as written, canonically (`!!str`, `!foo`), if any.
    pub fn tag(&self) -> Option<&str> {
        self.extra.as_ref()?.tag.as_deref()
    }

    pub(crate) fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// The anchor this node defines, if any (parser id).
    pub fn anchor(&self) -> usize {
        self.extra.as_ref().map_or(0, |e| e.anchor)
    }

    /// The anchor this node is an alias copy of, if any (parser id).
    pub fn alias_of(&self) -> usize {
        self.extra.as_ref().map_or(0, |e| e.alias)
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar that Kubernetes reads as this very string: quoted, block, or
    /// plain text that is not null, a boolean or a number under YAML 1.1 rules, or text under
    /// a tag that keeps it a string (`!!str`, a local tag).
    pub fn as_str(&self) -> Option<&str> {
        let s = self.as_scalar()?;
        match self.tag() {
            None => {}
            Some(t) if tag_keeps_text(t) => return Some(&s.value),
            Some("!") => return Some(&s.value),
            Some(_) => return None,
        }
        match s.style {
            Style::Plain => match resolve::resolve_plain_11(&s.value) {
                resolve::Plain::Str => Some(&s.value),
                _ => None,
            },
            _ => Some(&s.value),
        }
    }

    /// The scalar's text whatever its type (`1`, `true`, `name`); `None` for collections.
    pub fn scalar_text(&self) -> Option<&str> {
        self.as_scalar().map(|s| s.value.as_str())
    }

    pub fn is_null(&self) -> bool {
        match &self.value {
            Value::Scalar(s) => match self.tag() {
                None => {
                    s.style == Style::Plain
                        && matches!(resolve::resolve_plain_11(&s.value), resolve::Plain::Null)
                }
                Some("!!null") => true,
                Some(_) => false,
            },
            _ => false,
        }
    }

    pub fn as_map(&self) -> Option<&Vec<(Node, Node)>> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping's entries for editing values in place. Adding or removing entries goes
    /// through [`Node::set`] and [`Node::remove`], which record it for the output.
    pub fn as_map_mut(&mut self) -> Option<&mut Vec<(Node, Node)>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The sequence's items for editing in place (see [`Node::as_map_mut`]).
    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this mapping holds a merge (`<<`) entry.
    pub fn has_merge(&self) -> bool {
        self.as_map()
            .is_some_and(|m| m.iter().any(|(k, _)| is_merge_key(k)))
    }

    /// The effective entries of a mapping, as Kubernetes reads it: merges applied, each key
    /// once, in the order a key was first set. Plain mappings give their entries as they are.
    pub fn entries(&self) -> Vec<(&Node, &Node)> {
        let Some(map) = self.as_map() else {
            return Vec::new();
        };
        if !map.iter().any(|(k, _)| is_merge_key(k)) {
            return map.iter().map(|(k, v)| (k, v)).collect();
        }
        let mut out: Vec<(&Node, &Node)> = Vec::new();
        apply_entries(map, &mut out);
        out
    }

    fn find(&self, key: &str) -> Found {
        let Some(map) = self.as_map() else {
            return Found::Absent;
        };
        // A merge key's text is `<<`: for any other key, a match is an explicit entry, and only
        // entries whose text starts with `<` need the merge test.
        let merge_possible = key == "<<";
        for (i, (k, v)) in map.iter().enumerate().rev() {
            let lt = k
                .scalar_text()
                .is_some_and(|t| t.as_bytes().first() == Some(&b'<'));
            if lt && is_merge_key(k) {
                if merged_get(v, key).is_some() {
                    return Found::Merged(i);
                }
                if merge_possible {
                    continue;
                }
            }
            if key_is(k, key) && !(merge_possible && is_merge_key(k)) {
                return Found::Explicit(i);
            }
        }
        Found::Absent
    }

    fn explicit_index(&self, key: &str) -> Option<usize> {
        self.as_map()?
            .iter()
            .position(|(k, _)| !is_merge_key(k) && key_is(k, key))
    }

    /// The value under `key` in a mapping, as Kubernetes reads it: the last explicit entry,
    /// unless a later merge (`<<`) supplies the key.
    pub fn get(&self, key: &str) -> Option<&Node> {
        let map = self.as_map()?;
        match self.find(key) {
            Found::Explicit(i) => Some(&map[i].1),
            Found::Merged(i) => merged_get(&map[i].1, key),
            Found::Absent => None,
        }
    }

    /// Mutable access to the value under `key`. When a merge supplies the key, a copy is
    /// written as an explicit key right after that merge (which overrides it for every
    /// reader and keeps the merge's other keys). When an explicit key is itself overridden by
    /// a later merge, the edit cannot be written faithfully: the mapping is marked refused.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match self.find(key) {
            Found::Explicit(i) => self.as_map_mut().map(|m| &mut m[i].1),
            Found::Merged(j) => {
                if let Some(i) = self.explicit_index(key) {
                    self.refuse_override(key, i, j);
                    return None;
                }
                let map = self.as_map()?;
                let mut copy = merged_get(&map[j].1, key)?.clone();
                make_fresh(&mut copy);
                let map = self.as_map_mut()?;
                map.insert(j + 1, (Node::string(key), copy));
                Some(&mut map[j + 1].1)
            }
            Found::Absent => None,
        }
    }

    fn refuse_override(&mut self, key: &str, explicit: usize, merge: usize) {
        let (e, m) = match self.as_map() {
            Some(map) => (map[explicit].0.pos, map[merge].0.pos),
            None => return,
        };
        self.refuse(format!(
            "cannot edit {key:?} (line {}): the merge (<<) at line {} overrides it; move the key after the merge",
            e.line, m.line
        ));
    }

    /// Marks this node: writing its document is refused with `msg`.
    pub fn refuse(&mut self, msg: String) {
        let extra = self.extra_mut();
        if extra.refusal.is_none() {
            extra.refusal = Some(msg);
        }
    }

    /// The first refusal recorded on this node or below, with its position.
    pub fn refusal(&self) -> Option<(Pos, &str)> {
        if let Some(r) = self.extra.as_ref().and_then(|e| e.refusal.as_deref()) {
            return Some((self.pos, r));
        }
        match &self.value {
            Value::Scalar(_) => None,
            Value::Seq(items) => items.iter().find_map(Node::refusal),
            Value::Map(entries) => entries.iter().find_map(|(_, v)| v.refusal()),
        }
    }

    /// A path of keys, e.g. `["spec", "template", "spec"]`.
    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        let mut node = self;
        for k in keys {
            node = node.get(k)?;
        }
        Some(node)
    }

    pub fn path_mut(&mut self, keys: &[&str]) -> Option<&mut Node> {
        let mut node = self;
        for k in keys {
            node = node.get_mut(k)?;
        }
        Some(node)
    }

    /// The string under `key`, if it is one.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// Returns the mapping under `key`, creating an empty one (inserted after the first of
    /// `after` that exists, else at the end) when the key is missing or null. Returns `None`
    /// when `self` is not a mapping or the key holds something that is not a mapping.
    pub fn ensure_map(&mut self, key: &str, after: &[&str]) -> Option<&mut Node> {
        match self.get(key) {
            // `labels:` with nothing, or `labels: null`: a mapping takes the null's place.
            Some(v) if v.is_null() => self.set(key, Node::map(Vec::new()), after)?,
            Some(v) if v.as_map().is_none() => return None,
            Some(_) => {}
            None => self.insert_after(key, Node::map(Vec::new()), after)?,
        }
        self.get_mut(key)
    }

    /// Sets `key` to `value`: replaces the value in place when the key exists (keeping the key
    /// where it is), otherwise inserts it after the first of `after` that exists, or at the end.
    pub fn set(&mut self, key: &str, mut value: Node, after: &[&str]) -> Option<()> {
        make_fresh(&mut value);
        match self.find(key) {
            Found::Explicit(i) => {
                let map = self.as_map_mut()?;
                map[i].1.replace_with(value);
                Some(())
            }
            Found::Merged(j) => {
                if let Some(i) = self.explicit_index(key) {
                    self.refuse_override(key, i, j);
                    return None;
                }
                let map = self.as_map_mut()?;
                map.insert(j + 1, (Node::string(key), value));
                Some(())
            }
            Found::Absent => self.insert_after(key, value, after),
        }
    }

    /// Puts `new` (a node the program wrote) in this node's place; the text this node had is
    /// what `new` replaces, and aliases of an anchor it defined keep their old value.
    pub fn replace_with(&mut self, mut new: Node) {
        make_fresh(&mut new);
        new.span = self.span;
        new.pos = self.pos;
        if !self.span.is_none() {
            let gone = anchors_in(self);
            if !gone.is_empty() {
                new.extra_mut().gone_anchors = gone;
            }
        }
        *self = new;
    }

    /// Sets a string value, keeping the existing scalar's quoting style where it can.
    pub fn set_str(&mut self, key: &str, value: &str, after: &[&str]) -> Option<()> {
        if let Some(existing) = self.get_mut(key) {
            if existing.as_scalar().is_some() {
                existing.replace_str(value);
                return Some(());
            }
        }
        self.set(key, Node::string(value), after)
    }

    /// Replaces a scalar's value by a string, keeping its quoting style when it has one. A
    /// plain scalar becomes [`Style::Auto`]: the output quotes it when a reader could take it
    /// for anything but a string. A tag other than `!!str` is dropped (the value is a string
    /// now). A collection is replaced by a new string scalar.
    pub fn replace_str(&mut self, value: &str) {
        if self.as_str() == Some(value) {
            return;
        }
        let Value::Scalar(s) = &mut self.value else {
            self.replace_with(Node::string(value));
            return;
        };
        s.value = CompactString::from(value);
        s.style = match s.style {
            Style::Single | Style::Double => s.style,
            _ => Style::Auto,
        };
        if let Some(extra) = &mut self.extra {
            if extra.tag.as_deref() != Some("!!str") {
                extra.tag = None;
            }
        }
        if self.edit == Edit::Source {
            self.edit = Edit::Changed;
        }
    }

    fn insert_after(&mut self, key: &str, mut value: Node, after: &[&str]) -> Option<()> {
        make_fresh(&mut value);
        let at = after
            .iter()
            .find_map(|a| self.explicit_index(a))
            .map(|i| i + 1);
        let map = self.as_map_mut()?;
        let at = at.unwrap_or(map.len());
        map.insert(at, (Node::string(key), value));
        Some(())
    }

    /// Removes `key` from a mapping, returning its value. Removing a key that a merge (`<<`)
    /// also supplies cannot be written (the merged value would take its place): the mapping
    /// is marked refused and nothing is removed.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let i = match self.find(key) {
            Found::Absent => return None,
            Found::Merged(j) => {
                self.refuse(format!(
                    "cannot remove {key:?}: the merge (<<) at line {} supplies it",
                    self.as_map().map_or(0, |m| m[j].0.pos.line)
                ));
                return None;
            }
            Found::Explicit(i) => i,
        };
        let shadowed = self
            .extra
            .as_ref()
            .is_some_and(|e| e.shadowed.iter().any(|s| &**s == key));
        if shadowed {
            self.refuse(format!(
                "cannot remove {key:?}: it occurs more than once in this mapping, and removing the last occurrence would bring an earlier one back"
            ));
            return None;
        }
        let supplied = self.as_map().is_some_and(|m| {
            m.iter()
                .any(|(k, v)| is_merge_key(k) && merged_get(v, key).is_some())
        });
        if supplied {
            self.refuse(format!(
                "cannot remove {key:?}: a merge (<<) in the same mapping supplies it too"
            ));
            return None;
        }
        let (k, v) = self.as_map_mut()?.remove(i);
        if !k.span.is_none() {
            let anchors = anchors_in(&v);
            self.extra_mut().removed.push(Removed {
                key: k.span,
                value: v.span,
                anchors,
            });
        }
        Some(v)
    }

    /// Records that an item read at `span` was taken out of this sequence (by code that moves
    /// items out and back, such as `List` handling).
    pub fn record_removed_item(&mut self, span: Span) {
        if !span.is_none() {
            self.extra_mut().removed.push(Removed {
                key: Span::NONE,
                value: span,
                anchors: Vec::new(),
            });
        }
    }

    /// Removes item `i` of a sequence, recording it for the output.
    pub fn remove_item(&mut self, i: usize) -> Option<Node> {
        let items = self.as_seq_mut()?;
        if i >= items.len() {
            return None;
        }
        let item = items.remove(i);
        if !item.span.is_none() {
            let anchors = anchors_in(&item);
            self.extra_mut().removed.push(Removed {
                key: Span::NONE,
                value: item.span,
                anchors,
            });
        }
        Some(item)
    }
}

/// The anchors a node's source text defines (not those of alias copies, which define none).
fn anchors_in(n: &Node) -> Vec<usize> {
    let mut out = Vec::new();
    let mut stack = vec![n];
    while let Some(x) = stack.pop() {
        if x.span.is_none() || x.alias_of() != 0 {
            continue;
        }
        if let Some(e) = &x.extra {
            if e.anchor != 0 {
                out.push(e.anchor);
            }
            out.extend(e.gone_anchors.iter().copied());
        }
        match &x.value {
            Value::Scalar(_) => {}
            Value::Seq(items) => stack.extend(items.iter()),
            Value::Map(entries) => stack.extend(entries.iter().flat_map(|(k, v)| [k, v])),
        }
    }
    out
}

/// Marks a node the program wrote, and everything below it, as written by the program: its
/// text is rendered from its values, never copied from wherever a part of it was read.
pub(crate) fn make_fresh(n: &mut Node) {
    n.edit = Edit::Fresh;
    n.span = Span::NONE;
    if let Some(extra) = &mut n.extra {
        extra.anchor = 0;
        extra.alias = 0;
        extra.removed.clear();
        extra.gone_anchors.clear();
    }
    match &mut n.value {
        Value::Scalar(_) => {}
        Value::Seq(items) => items.iter_mut().for_each(make_fresh),
        Value::Map(entries) => {
            for (k, v) in entries {
                make_fresh(k);
                make_fresh(v);
            }
        }
    }
}

/// Applies a mapping's entries in order the way go-yaml v2 does, merges included.
fn apply_entries<'a>(map: &'a [(Node, Node)], out: &mut Vec<(&'a Node, &'a Node)>) {
    for (k, v) in map {
        if is_merge_key(k) {
            match &v.value {
                Value::Map(m) => apply_entries(m, out),
                Value::Seq(items) => {
                    // Earlier mappings take precedence, so they are applied last.
                    for item in items.iter().rev() {
                        if let Value::Map(m) = &item.value {
                            apply_entries(m, out);
                        }
                    }
                }
                Value::Scalar(_) => {}
            }
            continue;
        }
        let text = key_text(k);
        match out.iter().position(|(ok, _)| key_text(ok) == text) {
            Some(i) => out[i].1 = v,
            None => out.push((k, v)),
        }
    }
}

/// The value a merge value (`<<: *x` or `<<: [*a, *b]`) supplies for `key`: earlier
/// mappings in a list win.
fn merged_get<'a>(merged: &'a Node, key: &str) -> Option<&'a Node> {
    match &merged.value {
        Value::Map(_) => merged.get(key),
        Value::Seq(items) => items.iter().find_map(|m| m.get(key)),
        Value::Scalar(_) => None,
    }
}

/// Tags under which go-yaml v2 keeps a scalar's text as a string.
fn tag_keeps_text(tag: &str) -> bool {
    tag == "!!str" || tag == "!!timestamp" || !tag.starts_with("!!") && tag != "!"
}

/// The first document of `src`, for table tests (panics on invalid YAML: a broken test).
#[cfg(test)]
pub(crate) fn test_doc(src: &str) -> Node {
    match parse::parse_stream(src, &parse::Limits::default()) {
        Ok(s) if !s.docs.is_empty() => s
            .docs
            .into_iter()
            .next()
            .map(|d| d.root)
            .unwrap_or_else(|| Node::map(Vec::new())),
        other => panic!("test YAML does not parse: {other:?}"),
    }
}

/// The JSON object key Kubernetes makes of a mapping key (sigs.k8s.io/yaml turns `true`,
/// `1` and `0x1F` keys into "true", "1" and "31"), or `None` for keys it cannot represent.
///
/// The parser gives every key that is not simply its text (tagged, or a plain scalar that
/// resolves to something other than a string) an [`Extra`]; a key without one is its text,
/// which keeps the lookups every step makes a plain comparison.
pub fn key_text(k: &Node) -> Option<Cow<'_, str>> {
    let Value::Scalar(s) = &k.value else {
        return None;
    };
    if k.extra.is_none() && (s.style != Style::Plain || plain_is_string(&s.value)) {
        return Some(Cow::Borrowed(&s.value));
    }
    json::key_string(k).ok().map(Cow::Owned)
}

/// Whether a mapping key is, for Kubernetes, the string `key`.
pub fn key_is(k: &Node, key: &str) -> bool {
    let Value::Scalar(s) = &k.value else {
        return false;
    };
    if k.extra.is_none() && (s.style != Style::Plain || s.value != key || plain_is_string(&s.value))
    {
        return s.value == key;
    }
    key_text(k).as_deref() == Some(key)
}

/// Whether plain text resolves to a string.
fn plain_is_string(text: &str) -> bool {
    matches!(resolve::resolve_plain_11(text), resolve::Plain::Str)
}

/// Marks a key read from the source whose JSON key is not simply its text, so that
/// [`key_is`] and [`key_text`] take the slow path for it only.
pub(crate) fn mark_typed_key(k: &mut Node) {
    if let Value::Scalar(s) = &k.value {
        if k.extra.is_none() && s.style == Style::Plain && !plain_is_string(&s.value) {
            k.extra = Some(Box::default());
        }
    }
}

/// Whether a key is the merge key `<<`, as go-yaml v2 decides it: the text `<<`, plain and
/// untagged or with the non-specific tag `!`, or tagged `tag:yaml.org,2002:merge` however
/// that is written (`!!merge`, `!<tag:yaml.org,2002:merge>`).
pub fn is_merge_key(k: &Node) -> bool {
    match &k.value {
        Value::Scalar(s) if s.value == "<<" => match k.tag() {
            None => s.style == Style::Plain,
            Some(t) => t == "!!merge" || t == "!",
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        test_doc(text)
    }

    fn keys(n: &Node) -> Vec<&str> {
        n.as_map()
            .map(|m| m.iter().filter_map(|(k, _)| k.scalar_text()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn lookups_follow_go_yaml_v2_merge_order() {
        // (document, key, value Kubernetes reads)
        const CASES: &[(&str, &str, Option<&str>)] = &[
            (
                "kind: RoleBinding\n<<: {kind: ClusterRoleBinding}\n",
                "kind",
                Some("ClusterRoleBinding"),
            ),
            (
                "<<: {kind: ClusterRoleBinding}\nkind: RoleBinding\n",
                "kind",
                Some("RoleBinding"),
            ),
            ("kind: A\n!!merge <<: {kind: B}\n", "kind", Some("B")),
            (
                "kind: A\n!<tag:yaml.org,2002:merge> <<: {kind: B}\n",
                "kind",
                Some("B"),
            ),
            ("kind: A\n! <<: {kind: B}\n", "kind", Some("B")),
            ("kind: A\n\"<<\": {kind: B}\n", "kind", Some("A")),
            ("<<: [{x: 1}, {x: 2, z: 3}]\n", "x", Some("1")),
            ("<<: [{x: 1}, {x: 2, z: 3}]\n", "z", Some("3")),
            // `y` and `n` are YAML 1.1 booleans: Kubernetes reads these keys as "true", "false".
            ("y: 1\n", "y", None),
            ("y: 1\n", "true", Some("1")),
            ("a: &a {<<: {x: 1}}\nb:\n  <<: *a\n", "x", None),
            ("0x1F: a\n", "31", Some("a")),
            ("true: a\n", "true", Some("a")),
            ("!!binary bmFtZQ==: a\n", "name", Some("a")),
        ];
        for (src, key, want) in CASES {
            let n = doc(src);
            assert_eq!(
                n.get(key).and_then(Node::scalar_text),
                *want,
                "{src:?} {key}"
            );
        }
        let n = doc("a: &a {<<: {x: 1}}\nb:\n  <<: *a\n");
        assert_eq!(n.path(&["b", "x"]).and_then(Node::scalar_text), Some("1"));
    }

    #[test]
    fn editing_a_merged_key_writes_it_after_the_merge() {
        let mut n = doc("base: &b {a: 1, b: 2}\nm:\n  <<: *b\n  c: 3\n");
        let m = n.get_mut("m").unwrap_or_else(|| panic!("m"));
        m.get_mut("b")
            .unwrap_or_else(|| panic!("b"))
            .replace_str("x");
        assert_eq!(keys(m), ["<<", "b", "c"]);
        assert_eq!(m.get("a").and_then(Node::scalar_text), Some("1"));
        assert_eq!(m.get("b").and_then(Node::scalar_text), Some("x"));
        assert!(m.refusal().is_none());
    }

    #[test]
    fn edits_a_merge_would_override_are_refused() {
        let mut n = doc("metadata:\n  namespace: x\n  <<: {namespace: kube-system}\n");
        let meta = n.get_mut("metadata").unwrap_or_else(|| panic!("metadata"));
        assert_eq!(meta.get_str("namespace"), Some("kube-system"));
        meta.set_str("namespace", "preview", &[]);
        assert!(meta.refusal().is_some());
        let mut n = doc("spec:\n  <<: {compositionRef: {name: x}}\n");
        let spec = n.get_mut("spec").unwrap_or_else(|| panic!("spec"));
        assert!(spec.remove("compositionRef").is_none());
        assert!(spec.refusal().is_some());
    }

    #[test]
    fn as_str_follows_kubernetes_typing() {
        let n = doc("a: yes\nb: 'yes'\nc: web\nd: 12\ne: !!str 12\nf: ~\ng: !foo x\nh: !!int 3\n");
        assert_eq!(n.get_str("a"), None);
        assert_eq!(n.get_str("b"), Some("yes"));
        assert_eq!(n.get_str("c"), Some("web"));
        assert_eq!(n.get_str("d"), None);
        assert_eq!(n.get_str("e"), Some("12"));
        assert!(n.get("f").is_some_and(Node::is_null));
        assert_eq!(n.get_str("g"), Some("x"));
        assert_eq!(n.get_str("h"), None);
    }

    #[test]
    fn set_keeps_positions_and_inserts_after() {
        let mut n = doc("name: a\nlabels: {x: y}\n");
        n.set("namespace", Node::string("ns"), &["name"]);
        n.set_str("name", "b", &[]);
        assert_eq!(keys(&n), ["name", "namespace", "labels"]);
        assert_eq!(n.get_str("name"), Some("b"));
    }

    #[test]
    fn entries_apply_merges() {
        let n = doc("a: 1\n<<: {a: 2, b: 3}\nc: 4\n");
        let e: Vec<_> = n
            .entries()
            .into_iter()
            .filter_map(|(k, v)| Some((k.scalar_text()?, v.scalar_text()?)))
            .collect();
        assert_eq!(e, [("a", "2"), ("b", "3"), ("c", "4")]);
    }
}
