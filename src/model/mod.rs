//! The objects a render works on, independent of where they came from.
//!
//! An [`Object`] is one Kubernetes object: its document tree, where it was read, and the
//! identity fields read once at load time (group, kind, original name and namespace), so that
//! no transformation has to re-read them and every one can name the object in its messages.
//! [`Input`] keeps the stream's shape: documents in order, `List` wrappers with their items.

pub mod fieldspec;
pub mod gvk;
pub mod scope;
pub mod scope_table;

use std::fmt;
use std::sync::Arc;

use crate::yaml::split::Piece;
use crate::yaml::{Node, Pos};
pub use gvk::GroupKind;

/// Where something was read: a file (as the user named it) and a position in it. Ordered by
/// file, then position.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Loc {
    pub file: Arc<str>,
    pub pos: Pos,
}

impl Loc {
    pub fn new(file: &Arc<str>, pos: Pos) -> Self {
        Loc {
            file: Arc::clone(file),
            pos,
        }
    }

    /// A location for something that has no position (a file as a whole, a flag).
    pub fn file(file: &Arc<str>) -> Self {
        Loc::new(file, Pos { line: 1, col: 1 })
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.pos.line, self.pos.col)
    }
}

/// Where a document's text is: a piece of a file as Kubernetes splits it. The output is this
/// text with the program's edits ([`crate::yaml::splice`]).
#[derive(Clone, Debug)]
pub struct SourceRef {
    /// The whole file's text.
    pub text: Arc<str>,
    pub piece: Piece,
}

/// One Kubernetes object.
#[derive(Clone, Debug)]
pub struct Object {
    pub node: Node,
    pub file: Arc<str>,
    /// The text the object was read from, when it is a document of its own (not a `List`
    /// item, not written by the program).
    pub source: Option<SourceRef>,
    pub gk: GroupKind,
    pub api_version: String,
    /// `metadata.name` as read (None for `generateName`-only objects).
    pub name: Option<String>,
    pub generate_name: Option<String>,
    /// `metadata.namespace` as read.
    pub namespace: Option<String>,
}

impl Object {
    /// Builds an object from a document, or explains why it is not one. What Kubernetes and
    /// Argo CD would read differently from a plain object is refused: a `metadata` that is not
    /// a mapping, and `items` on a kind that is not a `List` (Argo CD applies the items of any
    /// object whose `items` is a list).
    pub fn from_node(node: Node, file: &Arc<str>) -> Result<Object, String> {
        if node.as_map().is_none() {
            return Err("this document is not a mapping, so it is not a Kubernetes object".into());
        }
        let api_version = node.get_str("apiVersion").map(str::to_string);
        let kind = node.get_str("kind").map(str::to_string);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            let missing = match (node.get("apiVersion"), node.get("kind")) {
                (None, None) => "apiVersion and kind",
                (None, _) => "apiVersion",
                (_, None) => "kind",
                _ => "a string apiVersion and kind",
            };
            return Err(format!(
                "this document has no {missing}, so it is not a Kubernetes object"
            ));
        };
        if node.get("items").is_some_and(|i| i.as_seq().is_some()) {
            return Err(if kind.ends_with("List") {
                "a List inside a List: Argo CD applies only one level of items".into()
            } else {
                format!(
                    "`items` holds a list, so Argo CD would apply its items as objects instead of this {kind}; only kinds ending in List may hold items"
                )
            });
        }
        let meta = node.get("metadata");
        if meta.is_some_and(|m| m.as_map().is_none() && !m.is_null()) {
            return Err("`metadata` must be a mapping".into());
        }
        let (group, _) = gvk::split_api_version(&api_version);
        let gk = GroupKind::new(group, &kind);
        // A null (`name:`, `name: ~`) is no name for Kubernetes, and neither is "": never a
        // text to rename (it would become "-pr-7").
        let text = |k: &str| {
            meta.and_then(|m| m.get(k))
                .filter(|n| !n.is_null())
                .and_then(Node::scalar_text)
                .filter(|t| !t.is_empty())
        };
        let name = text("name").map(str::to_string);
        let generate_name = text("generateName").map(str::to_string);
        let namespace = text("namespace").map(str::to_string);

        Ok(Object {
            node,
            file: Arc::clone(file),
            source: None,
            gk,
            api_version,
            name,
            generate_name,
            namespace,
        })
    }

    pub fn loc(&self) -> Loc {
        Loc::new(&self.file, self.node.pos)
    }

    /// Location of a field path in this object, falling back to the nearest parent found.
    pub fn loc_of(&self, path: &[&str]) -> Loc {
        let mut node = &self.node;
        for k in path {
            match node.get(k) {
                Some(n) => node = n,
                None => break,
            }
        }
        Loc::new(&self.file, node.pos)
    }

    /// `Kind/name` for messages (`Deployment/web`, `Job/db-migrate-*`).
    pub fn label(&self) -> String {
        match (&self.name, &self.generate_name) {
            (Some(n), _) => format!("{}/{}", self.gk.kind, n),
            (None, Some(g)) => format!("{}/{}*", self.gk.kind, g),
            (None, None) => format!("{} without a name", self.gk.kind),
        }
    }

    /// The current `metadata.name` (after renaming).
    pub fn current_name(&self) -> Option<&str> {
        self.node
            .path(&["metadata", "name"])
            .and_then(Node::scalar_text)
    }

    pub fn current_namespace(&self) -> Option<&str> {
        self.node
            .path(&["metadata", "namespace"])
            .and_then(Node::scalar_text)
    }

    /// The `List`-style wrappers' test: a kind ending in `List` with an `items` sequence.
    pub fn is_list_document(node: &Node) -> bool {
        node.get_str("kind").is_some_and(|k| k.ends_with("List"))
            && node
                .get("items")
                .is_some_and(|i| i.as_seq().is_some() || i.is_null())
    }
}

/// How documents appear in the output.
#[derive(Clone, Debug)]
pub enum Doc {
    /// A document that is one object (index into [`Input::objects`]).
    Object(usize),
    /// A `List` document: the wrapper (with its `items` taken out) and the objects it held.
    List {
        wrapper: Node,
        file: Arc<str>,
        /// The items that are written back, in order.
        items: Vec<usize>,
        /// The items as read, with their extent (those not in `items` leave the text).
        read: Vec<(usize, crate::yaml::Span)>,
        source: Option<SourceRef>,
    },
    /// A piece of text that holds no object (comments, an empty document): written as it is.
    Text(SourceRef),
}

/// One output document and the file it came from (for located errors while writing it).
#[derive(Clone, Debug)]
pub struct OutDoc {
    pub node: Node,
    pub file: Arc<str>,
    /// The text it was read from; `None` for what the program wrote (a preview's Namespace).
    pub source: Option<SourceRef>,
    /// Text without objects written before it (comments, empty documents).
    pub lead: Vec<SourceRef>,
    /// Text without objects written after it (after the last document only).
    pub trail: Vec<SourceRef>,
}

/// Everything read for one render, in input order.
#[derive(Clone, Debug, Default)]
pub struct Input {
    pub objects: Vec<Object>,
    pub docs: Vec<Doc>,
}

impl Input {
    /// The output documents in order: each object's tree, and `List` wrappers with their
    /// items put back. Consumes the input, so no tree is copied.
    pub fn into_docs(self) -> Vec<OutDoc> {
        let meta: Vec<(Arc<str>, Option<SourceRef>)> = self
            .objects
            .iter()
            .map(|o| (Arc::clone(&o.file), o.source.clone()))
            .collect();
        let mut nodes: Vec<Option<Node>> = self.objects.into_iter().map(|o| Some(o.node)).collect();
        let mut out: Vec<OutDoc> = Vec::with_capacity(self.docs.len());
        let mut lead = Vec::new();
        for d in self.docs {
            match d {
                Doc::Text(t) => lead.push(t),
                Doc::Object(i) => {
                    if let Some(node) = nodes.get_mut(i).and_then(Option::take) {
                        out.push(OutDoc {
                            node,
                            file: Arc::clone(&meta[i].0),
                            source: meta[i].1.clone(),
                            lead: std::mem::take(&mut lead),
                            trail: Vec::new(),
                        });
                    }
                }
                Doc::List {
                    mut wrapper,
                    items,
                    read,
                    file,
                    source,
                } => {
                    let kept: Vec<Node> = items
                        .iter()
                        .filter_map(|&i| nodes.get_mut(i).and_then(Option::take))
                        .collect();
                    if let Some(slot) = wrapper.get_mut("items") {
                        if let Some(seq) = slot.as_seq_mut() {
                            *seq = kept;
                        }
                        // Items read but not written back (a target Namespace moved to the
                        // front, a duplicate dropped) leave the text.
                        for (i, span) in &read {
                            if !items.contains(i) {
                                slot.record_removed_item(*span);
                            }
                        }
                    }
                    out.push(OutDoc {
                        node: wrapper,
                        file,
                        source,
                        lead: std::mem::take(&mut lead),
                        trail: Vec::new(),
                    });
                }
            }
        }
        if let Some(last) = out.last_mut() {
            last.trail = lead;
        }
        out
    }
}
