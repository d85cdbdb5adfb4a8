//! The YAML layer: a small document tree that remembers how every scalar was written.
//!
//! Manifests are parsed with saphyr-parser's event API ([`parse`]) into [`Node`]s and written
//! back by our own emitter ([`emit`]); `-o json` goes through [`json`], which types scalars
//! the way Kubernetes does (go-yaml v2 through sigs.k8s.io/yaml).
//!
//! Invariants:
//! - Every scalar keeps its parsed value, its style and its tag, and (for single-line quoted
//!   scalars) its exact source text, so a value the program does not touch is written back
//!   as it was read. Changing a value through [`Node::set_str`] drops the source text and lets
//!   the emitter decide the quoting (see `emit::plain_is_safe`).
//! - Mappings keep their key order. Lookups never reorder (a lesson from yaml-rust2's
//!   `LinkedHashMap`, see `yaml-libraries.md`); new keys are inserted at a chosen position.
//! - Aliases are expanded at parse time into independent copies, so renaming an anchored value
//!   never changes the places that used its alias.
//! - Trees are at most [`MAX_DEPTH`] deep, so the recursive code in this crate cannot overflow
//!   the stack.

pub mod emit;
pub mod json;
pub mod parse;
pub mod resolve;

/// Deepest nesting of collections accepted in input (DESIGN.md §7, `yaml-libraries.md`).
pub const MAX_DEPTH: usize = 256;

/// Line and column of a node in its source file (line 1-based, column 1-based).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
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
    /// The value as a reader sees it (escapes resolved, lines folded).
    pub value: String,
    pub style: Style,
    /// Tag and source text, rare enough to live behind one pointer: it keeps every node small
    /// (a render holds millions of them).
    pub extra: Option<Box<ScalarExtra>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScalarExtra {
    /// The tag as written (`!!str`, `!foo`, `!<tag:...>`), if any.
    pub tag: Option<Box<str>>,
    /// The exact source text of the scalar, kept for double-quoted scalars on one line whose
    /// escapes differ from ours, and for folded blocks; written verbatim while the value is
    /// unchanged.
    pub raw: Option<Box<str>>,
}

impl Scalar {
    pub fn tag(&self) -> Option<&str> {
        self.extra.as_ref()?.tag.as_deref()
    }

    pub fn raw(&self) -> Option<&str> {
        self.extra.as_ref()?.raw.as_deref()
    }

    /// Sets tag and raw text, keeping `extra` empty when both are absent.
    pub fn set_extra(&mut self, tag: Option<Box<str>>, raw: Option<Box<str>>) {
        self.extra = (tag.is_some() || raw.is_some()).then(|| Box::new(ScalarExtra { tag, raw }));
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// One node of a document, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// Tag on a collection (`!!map`, `!custom`); scalars keep theirs in [`Scalar::tag`].
    pub tag: Option<Box<str>>,
}

impl Node {
    /// A string scalar written by the program (quoted when it needs to be).
    pub fn string(value: impl Into<String>) -> Node {
        Node {
            value: Value::Scalar(Scalar {
                value: value.into(),
                style: Style::Auto,
                extra: None,
            }),
            pos: Pos::default(),
            tag: None,
        }
    }

    pub fn map(entries: Vec<(Node, Node)>) -> Node {
        Node {
            value: Value::Map(entries),
            pos: Pos::default(),
            tag: None,
        }
    }

    pub fn seq(items: Vec<Node>) -> Node {
        Node {
            value: Value::Seq(items),
            pos: Pos::default(),
            tag: None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar that a YAML reader takes for a string: quoted, block, or plain
    /// text that is not null, a boolean or a number under YAML 1.1 rules.
    pub fn as_str(&self) -> Option<&str> {
        let s = self.as_scalar()?;
        match s.tag() {
            Some("!!str") => return Some(&s.value),
            Some(_) => return None,
            None => {}
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
            Value::Scalar(s) => {
                s.tag().is_none()
                    && s.style == Style::Plain
                    && matches!(resolve::resolve_plain_11(&s.value), resolve::Plain::Null)
            }
            _ => false,
        }
    }

    pub fn as_map(&self) -> Option<&Vec<(Node, Node)>> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

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

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key` in a mapping. A key provided only through a merge (`<<: *x`)
    /// is found too, since Kubernetes reads it (DESIGN.md §6 keeps merges unresolved).
    pub fn get(&self, key: &str) -> Option<&Node> {
        let map = self.as_map()?;
        if let Some((_, v)) = map.iter().find(|(k, _)| key_is(k, key)) {
            return Some(v);
        }
        merged_lookup(map, key)
    }

    /// Mutable access to the value under `key`. When the key is provided only through a merge,
    /// a copy is materialized as an explicit key first, so that editing it keeps the other
    /// merged keys intact (an explicit key overrides the merge for every reader).
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        let idx = self.key_index(key);
        match idx {
            Some(i) => self.as_map_mut().map(|m| &mut m[i].1),
            None => {
                let copy = merged_lookup(self.as_map()?, key)?.clone();
                let map = self.as_map_mut()?;
                map.push((Node::string(key), copy));
                map.last_mut().map(|(_, v)| v)
            }
        }
    }

    fn key_index(&self, key: &str) -> Option<usize> {
        self.as_map()?.iter().position(|(k, _)| key_is(k, key))
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
            Some(v) if v.is_null() => *self.get_mut(key)? = Node::map(Vec::new()),
            Some(v) if v.as_map().is_none() => return None,
            Some(_) => {}
            None => self.insert_after(key, Node::map(Vec::new()), after)?,
        }
        self.get_mut(key)
    }

    /// Sets `key` to `value`: replaces the value in place when the key exists (keeping the key
    /// where it is), otherwise inserts it after the first of `after` that exists, or at the end.
    pub fn set(&mut self, key: &str, value: Node, after: &[&str]) -> Option<()> {
        if let Some(i) = self.key_index(key) {
            let map = self.as_map_mut()?;
            map[i].1 = value;
            return Some(());
        }
        self.insert_after(key, value, after)
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

    /// Replaces a scalar's value by a string, keeping its quoting style when it has one and
    /// dropping the source text. A plain scalar becomes [`Style::Auto`]: the emitter quotes it
    /// when a reader could take it for anything but a string.
    pub fn replace_str(&mut self, value: &str) {
        match &mut self.value {
            Value::Scalar(s) => {
                if s.value == value && s.tag().is_none_or(|t| t == "!!str") {
                    return;
                }
                s.value = value.to_string();
                let keep_tag = s.tag() == Some("!!str");
                let tag = s.extra.take().and_then(|e| e.tag).filter(|_| keep_tag);
                s.set_extra(tag, None);
                s.style = match s.style {
                    Style::Single | Style::Double => s.style,
                    _ => Style::Auto,
                };
            }
            _ => *self = Node::string(value),
        }
    }

    fn insert_after(&mut self, key: &str, value: Node, after: &[&str]) -> Option<()> {
        let at = after.iter().find_map(|a| self.key_index(a)).map(|i| i + 1);
        let map = self.as_map_mut()?;
        let at = at.unwrap_or(map.len());
        map.insert(at, (Node::string(key), value));
        Some(())
    }

    /// Removes `key` from a mapping, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let i = self.key_index(key)?;
        let map = self.as_map_mut()?;
        Some(map.remove(i).1)
    }
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

/// Whether a mapping key is the plain string `key` (quoted or not).
pub fn key_is(k: &Node, key: &str) -> bool {
    matches!(&k.value, Value::Scalar(s) if s.value == key)
}

/// Whether a key is the merge key `<<` (plain, untagged or `!!merge`).
pub fn is_merge_key(k: &Node) -> bool {
    matches!(&k.value, Value::Scalar(s) if s.value == "<<"
        && (s.style == Style::Plain && s.tag().is_none() || s.tag() == Some("!!merge")))
}

/// Looks `key` up in the mappings merged into `map` with `<<`, earlier ones first, the way
/// YAML 1.1 readers resolve a merge.
fn merged_lookup<'a>(map: &'a [(Node, Node)], key: &str) -> Option<&'a Node> {
    let (_, merged) = map.iter().find(|(k, _)| is_merge_key(k))?;
    match &merged.value {
        Value::Map(_) => merged.get(key),
        Value::Seq(items) => items.iter().find_map(|m| m.get(key)),
        Value::Scalar(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        let mut docs = parse::parse_stream(text, &parse::Limits::default())
            .map(|s| s.docs)
            .unwrap_or_default();
        docs.remove(0).root
    }

    #[test]
    fn lookups_see_merged_keys_and_editing_materializes_them() {
        let mut n = doc("base: &b {a: 1, b: 2}\nm:\n  <<: *b\n  c: 3\n");
        let m = n.get_mut("m").unwrap_or_else(|| panic!("m"));
        assert_eq!(m.get("a").and_then(Node::scalar_text), Some("1"));
        m.get_mut("b")
            .unwrap_or_else(|| panic!("b"))
            .replace_str("x");
        let keys: Vec<_> = m
            .as_map()
            .unwrap_or_else(|| panic!("map"))
            .iter()
            .filter_map(|(k, _)| k.scalar_text())
            .collect();
        assert_eq!(keys, ["<<", "c", "b"]);
        assert_eq!(m.get("a").and_then(Node::scalar_text), Some("1"));
    }

    #[test]
    fn as_str_follows_yaml_1_1_typing() {
        let n = doc("a: yes\nb: 'yes'\nc: web\nd: 12\ne: !!str 12\nf: ~\n");
        assert_eq!(n.get_str("a"), None);
        assert_eq!(n.get_str("b"), Some("yes"));
        assert_eq!(n.get_str("c"), Some("web"));
        assert_eq!(n.get_str("d"), None);
        assert_eq!(n.get_str("e"), Some("12"));
        assert!(n.get("f").is_some_and(Node::is_null));
    }

    #[test]
    fn set_keeps_positions_and_inserts_after() {
        let mut n = doc("name: a\nlabels: {x: y}\n");
        n.set("namespace", Node::string("ns"), &["name"]);
        n.set_str("name", "b", &[]);
        let keys: Vec<_> = n
            .as_map()
            .unwrap_or_else(|| panic!("map"))
            .iter()
            .filter_map(|(k, _)| k.scalar_text())
            .collect();
        assert_eq!(keys, ["name", "namespace", "labels"]);
        assert_eq!(n.get_str("name"), Some("b"));
    }
}
