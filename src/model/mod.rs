//! The objects a render works on, independent of where they came from.
//!
//! An [`Object`] is one Kubernetes object: its document tree, where it was read, and the
//! identity fields read once at load time (group, kind, original name and namespace), so that
//! no transformation has to re-read them and every one can name the object in its messages.
//! [`Input`] keeps the stream's shape: documents in order, `List` wrappers with their items.

pub mod fieldspec;
pub mod gvk;
pub mod scope;

use std::fmt;
use std::sync::Arc;

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

/// One Kubernetes object.
#[derive(Clone, Debug)]
pub struct Object {
    pub node: Node,
    pub file: Arc<str>,
    pub gk: GroupKind,
    pub api_version: String,
    /// `metadata.name` as read (None for `generateName`-only objects).
    pub name: Option<String>,
    pub generate_name: Option<String>,
    /// `metadata.namespace` as read.
    pub namespace: Option<String>,
}

impl Object {
    /// Builds an object from a document, or explains why it is not one.
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
        let (group, _) = gvk::split_api_version(&api_version);
        let gk = GroupKind::new(group, &kind);
        let meta = node.get("metadata");
        let text = |k: &str| meta.and_then(|m| m.get(k)).and_then(Node::scalar_text);
        let name = text("name").map(str::to_string);
        let generate_name = text("generateName").map(str::to_string);
        let namespace = text("namespace").map(str::to_string);
        Ok(Object {
            node,
            file: Arc::clone(file),
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
    /// A `List` document: the wrapper (with `items` emptied) and the objects it held.
    List {
        wrapper: Node,
        file: Arc<str>,
        items: Vec<usize>,
    },
}

/// One output document and the file it came from (for located errors while writing it).
#[derive(Clone, Debug)]
pub struct OutDoc {
    pub node: Node,
    pub file: Arc<str>,
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
        let files: Vec<Arc<str>> = self.objects.iter().map(|o| Arc::clone(&o.file)).collect();
        let mut nodes: Vec<Option<Node>> = self.objects.into_iter().map(|o| Some(o.node)).collect();
        let mut out = Vec::with_capacity(self.docs.len());
        for d in self.docs {
            match d {
                Doc::Object(i) => {
                    if let Some(node) = nodes.get_mut(i).and_then(Option::take) {
                        out.push(OutDoc {
                            node,
                            file: Arc::clone(&files[i]),
                        });
                    }
                }
                Doc::List {
                    mut wrapper,
                    items,
                    file,
                } => {
                    let items: Vec<Node> = items
                        .into_iter()
                        .filter_map(|i| nodes.get_mut(i).and_then(Option::take))
                        .collect();
                    // `items: null` with nothing in it stays as it was written.
                    if !items.is_empty() {
                        if let Some(slot) = wrapper.get_mut("items") {
                            *slot = Node::seq(items);
                        }
                    }
                    out.push(OutDoc {
                        node: wrapper,
                        file,
                    });
                }
            }
        }
        out
    }
}
