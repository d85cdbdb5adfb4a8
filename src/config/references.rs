//! The `references:` schema: where objects name other objects, as data. Users write it in
//! gitops.yaml; the built-in packs (`packs/*.yaml`, [`crate::packs`]) are written in it too,
//! and read by this same code, so a user can say anything a pack says.
//!
//! One entry:
//!
//! ```yaml
//! - kind: Rollout                  # the referrer's kind ("*": any kind)
//!   group: argoproj.io             # its API group (absent: any group)
//!   role: managed                  # only Crossplane claims | composites | managed resources
//!   path: spec.strategy.canary.canaryService   # dotted, or a list of keys: [metadata,
//!                                  # annotations, cert-manager.io/issuer]; globs *, **,
//!                                  # *Suffix, Prefix*; sequences are walked implicitly
//!   # what the field holds, one of:
//!   target: Service                # the name of an object of this kind (Kind, Kind.group,
//!                                  # {group, kind}; a bare Kind matches any group)
//!   object: {kind: Service, group: "", namespace: optional}
//!                                  # a mapping {name, kind?, group|apiGroup|apiVersion?,
//!                                  # namespace?}; `kind`/`group` are defaults when the mapping
//!                                  # has none; `kinds` limits the kinds that count; `name`,
//!                                  # `kindKey`, `groupKeys` rename the keys; `namespace`:
//!                                  # optional | required (written even when absent)
//!   shape: podSpec                 # a structure with references of its own (a pack's shapes:
//!                                  # podSpec, container, volume, ...)
//!   # modifiers:
//!   format: dns                    # name (default) | dns (`name[.ns[.svc[.cluster.local]]]`)
//!                                  # | namespace/name (`[ns/]name`)
//!   produces: true                 # the object creates what the field names: renamed with
//!                                  # it, and every consumer follows
//!   adopts: true                   # (produces) an object of that name in the input is the
//!                                  # one it writes into (cert-manager and an existing Secret)
//!   whenAbsent: metadata.name      # (produces) the name when the field is absent
//!   when: {path: [metadata, annotations, cert-manager.io/issuer]}   # only when present
//!                                  # (or `equals: text`, or `absent: true`), relative to the
//!                                  # object (or to the shape's node); a list: any of them
//!   except: [mesh]                 # values that are not names of objects
//! ```
//!
//! A reference with an explicit namespace designates an input object only when that
//! namespace is the object's own, the environment's or the target namespace (DESIGN.md §4.5).

use std::fmt;

use crate::config::gitops_yaml::Reader;
use crate::error::Result;
use crate::model::fieldspec::FieldPath;
use crate::model::gvk::KindPattern;
use crate::model::scope::Role;
use crate::yaml::Node;

/// What a reference field holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    /// A scalar naming an object of this kind.
    Name(KindPattern),
    /// A mapping reference.
    Object(ObjectRef),
    /// A structure described by a named shape.
    Shape(String),
}

/// How a namespace sits in a mapping reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NsRule {
    /// The reference cannot name a namespace.
    None,
    /// `namespace` may name one; when it names the input object's, it follows the target.
    Optional,
    /// ... and it is written even when absent (RoleBinding subjects, webhook services).
    Required,
}

/// A mapping reference: `{name, kind?, group?|apiGroup?|apiVersion?, namespace?}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectRef {
    /// Kind when the mapping has no kind key.
    pub kind: Option<String>,
    /// Group when the mapping has no group key; `None`: any group.
    pub group: Option<String>,
    /// Only these kinds are references to objects (subjects may also name Users).
    pub kinds: Vec<String>,
    /// Where the name sits in the mapping (`name`, or `resourceRef.name`).
    pub name: Vec<String>,
    /// Key holding the kind; `None`: the mapping never says.
    pub kind_key: Option<String>,
    /// Keys that may hold the group: `group`, `apiGroup`, or `apiVersion` (group/version).
    pub group_keys: Vec<String>,
    pub namespace: NsRule,
}

impl Default for ObjectRef {
    fn default() -> Self {
        ObjectRef {
            kind: None,
            group: None,
            kinds: Vec::new(),
            name: vec!["name".into()],
            kind_key: Some("kind".into()),
            group_keys: vec!["group".into(), "apiGroup".into(), "apiVersion".into()],
            namespace: NsRule::None,
        }
    }
}

/// How a name is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Name,
    /// A Service by DNS name: `name`, `name.ns`, `name.ns.svc`, `name.ns.svc.<domain>`.
    Dns,
    /// `name` or `namespace/name`.
    NamespacedName,
}

/// A condition on the referrer (or on the shape's node): the field exists (and equals a
/// text), or is absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub path: FieldPath,
    pub equals: Option<String>,
    pub absent: bool,
}

impl Condition {
    pub fn holds(&self, node: &Node) -> bool {
        let present = self.path.any(node, &|n| match &self.equals {
            Some(v) => n.scalar_text() == Some(v.as_str()),
            None => !n.is_null(),
        });
        present != self.absent
    }
}

/// One entry of `references:` (or of a pack's shape, with no kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefSpec {
    /// Referrer kind; `None`: any kind (and in shapes).
    pub kind: Option<String>,
    /// Referrer group; `None`: any group.
    pub group: Option<String>,
    /// Only referrers with this Crossplane role.
    pub roles: Vec<Role>,
    pub path: FieldPath,
    pub what: What,
    pub format: Format,
    pub produces: bool,
    /// (produces) The producer writes into the object when the input already holds it
    /// (cert-manager fills an existing TLS Secret): then the input's object is the one, and
    /// the produced name is not a second object.
    pub adopts: bool,
    pub when_absent: Option<FieldPath>,
    /// Any of these must hold (none: always).
    pub when: Vec<Condition>,
    pub except: Vec<String>,
}

impl RefSpec {
    /// A plain entry: `kind` (any group) holds at `path` the name of a `target`.
    pub fn name(kind: &str, path: FieldPath, target: KindPattern) -> RefSpec {
        RefSpec {
            kind: Some(kind.to_string()),
            group: None,
            roles: Vec::new(),
            path,
            what: What::Name(target),
            format: Format::Name,
            produces: false,
            adopts: false,
            when_absent: None,
            when: Vec::new(),
            except: Vec::new(),
        }
    }

    /// Whether the entry applies to objects of this group and kind with this role.
    pub fn applies(&self, group: &str, kind: &str, role: Role) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind)
            && self.group.as_deref().is_none_or(|g| g == group)
            && (self.roles.is_empty() || self.roles.contains(&role))
    }

    /// Whether the conditions hold on `node` (the object, or the shape's node).
    pub fn enabled(&self, node: &Node) -> bool {
        self.when.is_empty() || self.when.iter().any(|c| c.holds(node))
    }
}

impl fmt::Display for What {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            What::Name(p) => write!(f, "{p}"),
            What::Object(o) => {
                let kinds = if !o.kinds.is_empty() {
                    o.kinds.join(" | ")
                } else {
                    o.kind.clone().unwrap_or_else(|| "any kind".into())
                };
                match o.group.as_deref() {
                    Some(g) if !g.is_empty() && !o.kinds.is_empty() => write!(f, "{kinds} ({g})"),
                    Some(g) if !g.is_empty() => write!(f, "{kinds}.{g}"),
                    _ => write!(f, "{kinds}"),
                }
            }
            What::Shape(s) => write!(f, "{s} (shape)"),
        }
    }
}

/// The keys an entry may have.
const KEYS: &[&str] = &[
    "kind",
    "group",
    "role",
    "path",
    "target",
    "object",
    "shape",
    "format",
    "produces",
    "adopts",
    "whenAbsent",
    "when",
    "except",
];

impl Reader<'_> {
    /// A path: dotted text, or a list of keys.
    pub(crate) fn field_path(&self, n: &Node, what: &str) -> Result<FieldPath> {
        let path = if let Some(s) = n.as_str() {
            FieldPath::dotted(s)
        } else if n.as_seq().is_some() {
            let mut keys = Vec::new();
            for k in self.seq(n, what)? {
                keys.push(self.text(k, what)?);
            }
            FieldPath::keys(&keys)
        } else {
            return Err(self.err(
                n,
                &format!("{what} must be a dotted path such as spec.parameters.secretName, or a list of keys"),
            ));
        };
        if path
            .segs
            .iter()
            .any(|s| *s == crate::model::fieldspec::Seg::Key(String::new()))
        {
            return Err(self.err(
                n,
                &format!("{what} has an empty key; write keys holding dots as a list: [metadata, annotations, example.com/key]"),
            ));
        }
        Ok(path)
    }

    /// `Kind`, `Kind.group`, or `{group, kind}`, refusing `*`.
    pub(crate) fn kind_pattern(&self, n: &Node, what: &str) -> Result<KindPattern> {
        let p = if let Some(s) = n.as_str() {
            KindPattern::parse_dotted(s)
        } else {
            let mut group = None;
            let mut kind = None;
            for (k, v) in self.entries(n, what)? {
                match self.key(k)? {
                    "group" => group = Some(self.text(v, "group")?),
                    "kind" => kind = Some(self.string(v, "kind")?),
                    other => return Err(self.unknown(k, other, what, &["group", "kind"])),
                }
            }
            match kind {
                Some(kind) => KindPattern { group, kind },
                None => {
                    return Err(self.err(
                        n,
                        &format!(
                            "{what} entries need a kind (\"Kind\", \"Kind.group\" or {{group, kind}})"
                        ),
                    ));
                }
            }
        };
        if p.kind == "*" || p.kind.is_empty() {
            return Err(self.err(
                n,
                &format!("{what}: {:?} is not a kind; name kinds one by one", p.kind),
            ));
        }
        Ok(p)
    }

    fn object_ref(&self, n: &Node, what: &str) -> Result<ObjectRef> {
        let mut o = ObjectRef::default();
        for (k, v) in self.entries(n, what)? {
            match self.key(k)? {
                "kind" => o.kind = Some(self.string(v, "object.kind")?),
                "group" => o.group = Some(self.text(v, "object.group")?),
                "kinds" => {
                    for item in self.seq(v, "object.kinds")? {
                        o.kinds.push(self.string(item, "object.kinds")?);
                    }
                }
                "name" => {
                    o.name = self
                        .string(v, "object.name")?
                        .split('.')
                        .map(str::to_string)
                        .collect();
                }
                "kindKey" => {
                    o.kind_key = if v.is_null() {
                        None
                    } else {
                        Some(self.string(v, "object.kindKey")?)
                    };
                }
                "groupKeys" => {
                    o.group_keys.clear();
                    for item in self.seq(v, "object.groupKeys")? {
                        o.group_keys.push(self.string(item, "object.groupKeys")?);
                    }
                }
                "namespace" => {
                    o.namespace = match self.string(v, "object.namespace")?.as_str() {
                        "optional" => NsRule::Optional,
                        "required" => NsRule::Required,
                        "none" => NsRule::None,
                        other => {
                            return Err(self.err(
                                v,
                                &format!("object.namespace must be optional, required or none, not {other:?}"),
                            ));
                        }
                    };
                }
                other => {
                    return Err(self.unknown(
                        k,
                        other,
                        what,
                        &[
                            "kind",
                            "group",
                            "kinds",
                            "name",
                            "kindKey",
                            "groupKeys",
                            "namespace",
                        ],
                    ));
                }
            }
        }
        if o.kind.is_none() && o.kind_key.is_none() {
            return Err(self.err(n, &format!("{what}: without a kind key, say its kind")));
        }
        Ok(o)
    }

    fn conditions(&self, n: &Node, what: &str) -> Result<Vec<Condition>> {
        let items: Vec<&Node> = match n.as_seq() {
            Some(s) => s.iter().collect(),
            None => vec![n],
        };
        let mut out = Vec::new();
        for item in items {
            let mut path = None;
            let mut equals = None;
            let mut absent = false;
            for (k, v) in self.entries(item, what)? {
                match self.key(k)? {
                    "path" => path = Some(self.field_path(v, &format!("{what}.path"))?),
                    "equals" => equals = Some(self.text(v, &format!("{what}.equals"))?),
                    "absent" => absent = self.boolean(v, &format!("{what}.absent"))?,
                    other => {
                        return Err(self.unknown(k, other, what, &["path", "equals", "absent"]));
                    }
                }
            }
            if absent && equals.is_some() {
                return Err(self.err(
                    item,
                    &format!("{what}: absent and equals exclude each other"),
                ));
            }
            match path {
                Some(path) => out.push(Condition {
                    path,
                    equals,
                    absent,
                }),
                None => return Err(self.err(item, &format!("{what} needs a path"))),
            }
        }
        Ok(out)
    }

    /// One `references:` entry. In a shape (`in_shape`), entries have no kind or group.
    pub(crate) fn reference(&self, n: &Node, within: &str, in_shape: bool) -> Result<RefSpec> {
        let mut spec = RefSpec {
            kind: None,
            group: None,
            roles: Vec::new(),
            path: FieldPath { segs: Vec::new() },
            what: What::Shape(String::new()),
            format: Format::Name,
            produces: false,
            adopts: false,
            when_absent: None,
            when: Vec::new(),
            except: Vec::new(),
        };
        let mut has_kind = false;
        let mut has_path = false;
        let mut whats = 0;
        for (k, v) in self.entries(n, within)? {
            let key = self.key(k)?;
            let what = format!("{within}.{key}");
            match key {
                "kind" if !in_shape => {
                    let kind = self.string(v, &what)?;
                    has_kind = true;
                    spec.kind = (kind != "*").then_some(kind);
                }
                "group" if !in_shape => spec.group = Some(self.text(v, &what)?),
                "role" if !in_shape => {
                    let items: Vec<&Node> = match v.as_seq() {
                        Some(s) => s.iter().collect(),
                        None => vec![v],
                    };
                    for item in items {
                        spec.roles.push(match self.string(item, &what)?.as_str() {
                            "claims" | "claim" => Role::Claim,
                            "composites" | "composite" => Role::Composite,
                            "managed" => Role::Managed,
                            other => {
                                return Err(self.err(
                                    item,
                                    &format!("{what} must be claims, composites or managed, not {other:?}"),
                                ));
                            }
                        });
                    }
                }
                "path" => {
                    spec.path = self.field_path(v, &what)?;
                    has_path = true;
                }
                "target" => {
                    spec.what = What::Name(self.kind_pattern(v, &what)?);
                    whats += 1;
                }
                "object" => {
                    spec.what = What::Object(self.object_ref(v, &what)?);
                    whats += 1;
                }
                "shape" => {
                    spec.what = What::Shape(self.string(v, &what)?);
                    whats += 1;
                }
                "format" => {
                    spec.format = match self.string(v, &what)?.as_str() {
                        "name" => Format::Name,
                        "dns" => Format::Dns,
                        "namespace/name" => Format::NamespacedName,
                        other => {
                            return Err(self.err(
                                v,
                                &format!(
                                    "{what} must be name, dns or namespace/name, not {other:?}"
                                ),
                            ));
                        }
                    };
                }
                "produces" => spec.produces = self.boolean(v, &what)?,
                "adopts" => spec.adopts = self.boolean(v, &what)?,
                "whenAbsent" => spec.when_absent = Some(self.field_path(v, &what)?),
                "when" => spec.when = self.conditions(v, &what)?,
                "except" => {
                    for item in self.seq(v, &what)? {
                        spec.except.push(self.text(item, &what)?);
                    }
                }
                other => {
                    let known: Vec<&str> = KEYS
                        .iter()
                        .copied()
                        .filter(|k| !in_shape || !matches!(*k, "kind" | "group" | "role"))
                        .collect();
                    return Err(self.unknown(k, other, within, &known));
                }
            }
        }
        if (!in_shape && !has_kind) || !has_path || whats != 1 {
            return Err(self.err(
                n,
                &format!(
                    "{within} entries need {}path and one of target, object or shape",
                    if in_shape { "" } else { "kind, " }
                ),
            ));
        }
        if spec.path.is_empty() {
            return Err(self.err(n, &format!("{within}: the path is empty")));
        }
        if spec.produces && matches!(spec.what, What::Shape(_)) {
            return Err(self.err(n, &format!("{within}: a shape cannot be produced")));
        }
        if spec.format != Format::Name && !matches!(spec.what, What::Name(_)) {
            return Err(self.err(n, &format!("{within}: format applies to target entries")));
        }
        if spec.adopts && !spec.produces {
            return Err(self.err(n, &format!("{within}: adopts applies to produces entries")));
        }
        if spec.when_absent.is_some() && !spec.produces {
            return Err(self.err(
                n,
                &format!("{within}: whenAbsent applies to produces entries"),
            ));
        }
        Ok(spec)
    }
}
