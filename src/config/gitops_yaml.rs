//! gitops.yaml: found, parsed through our YAML tree (so every error names file, line and key),
//! and validated once into an immutable [`GitopsConfig`] (DESIGN.md §3).
//!
//! Unknown keys and bad values are errors: a typo must never render a half-configured
//! environment. Every key is documented in the README; the keys of DESIGN.md §3 are normative,
//! the ones added here (`references` fields, `allowClusterScoped` notation) are documented too.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::references::RefSpec;
use crate::error::{Error, Result};
use crate::model::gvk::KindPattern;
use crate::model::scope::{Declarations, KindList, check_declaration};
use crate::model::{GroupKind, Loc};
use crate::naming;
use crate::yaml::parse::{Limits, parse_stream};
use crate::yaml::{Node, Value};

/// The file name looked for.
pub const FILE_NAME: &str = "gitops.yaml";

/// Default prefix of the identity labels (`kubectl-gitops.io/app`, `/env`, `/pr`).
pub const DEFAULT_LABEL_PREFIX: &str = "kubectl-gitops.io";

/// Label and annotation keys that Argo CD owns (its resource tracking): never written.
pub const ARGOCD_OWNED_KEYS: &[&str] = &[
    "argocd.argoproj.io/tracking-id",
    "argocd.argoproj.io/installation-id",
    "app.kubernetes.io/instance",
];

#[derive(Clone, Debug)]
pub struct GitopsConfig {
    /// Whether it was read from a file (false: the defaults of a repository without one).
    pub found: bool,
    /// The file, as displayed in messages.
    pub file: Arc<str>,
    /// The directory holding it: `exclude:` globs are relative to it.
    pub dir: PathBuf,
    pub app: Option<(String, Loc)>,
    pub label_prefix: String,
    pub environments: Vec<Environment>,
    pub preview: Preview,
    /// `references:`, in the schema of [`crate::config::references`].
    pub references: Vec<RefSpec>,
    /// `clusterScoped:`, `namespaced:` and `crossplane:` (claims, composite and managed
    /// resources, for when neither an XRD in the input nor the object's shape says so).
    pub kinds: Declarations,
    pub exclude: Vec<String>,
    pub allow_empty: bool,
    /// `generate` may run without env or pr although `environments:` are declared.
    pub pass_through: bool,
    /// How Helm chart folders are rendered (`helm:`).
    pub helm: Helm,
}

/// gitops.yaml `helm:`: the release name and value files of every Helm chart folder the app
/// holds. Placeholders `{app}`, `{env}` and `{pr}`.
#[derive(Clone, Debug)]
pub struct Helm {
    /// Default `{app}`.
    pub release_name: String,
    /// Relative to the chart folder; an entry naming `{env}` is skipped when the render has no
    /// environment, every other one must exist.
    pub value_files: Vec<String>,
}

impl Default for Helm {
    fn default() -> Self {
        Helm {
            release_name: "{app}".into(),
            value_files: Vec::new(),
        }
    }
}

/// Most `exclude:` globs accepted, and the longest one: their cost is globs × files.
pub const MAX_EXCLUDES: usize = 256;
pub const MAX_EXCLUDE_LEN: usize = 512;

#[derive(Clone, Debug, Default)]
pub struct Environment {
    pub name: String,
    pub loc: Option<Loc>,
    pub namespace: Option<String>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    /// Merged into every claim and composite resource (DESIGN.md §4.8).
    pub claims: Option<Node>,
    pub protect: bool,
}

/// What a preview renames (DESIGN.md §4.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenameMode {
    All,
    Claims,
}

#[derive(Clone, Debug)]
pub struct Preview {
    pub from: Option<String>,
    pub name_suffix: String,
    pub namespace: String,
    pub rename: RenameMode,
    pub hosts: String,
    /// Cluster-scoped kinds a preview may carry, each with where it is written; `None` when
    /// the key is absent (under a platform policy, absent keeps the policy's list and a list
    /// narrows it: [`crate::config::policy::sandbox`]).
    pub allow_cluster_scoped: Option<Vec<(GroupKind, Loc)>>,
    /// Where `namespace` is set, when gitops.yaml sets it.
    pub namespace_at: Option<Loc>,
    /// Where `hosts` is set, when gitops.yaml sets it.
    pub hosts_at: Option<Loc>,
    /// Namespaces no preview may target, besides Kubernetes' own and the policy's.
    pub protected_namespaces: Vec<(String, Loc)>,
}

impl Default for Preview {
    fn default() -> Self {
        Preview {
            from: None,
            name_suffix: "-pr-{pr}".into(),
            namespace: "{app}-pr-{pr}".into(),
            rename: RenameMode::All,
            hosts: "{label}-pr-{pr}.{rest}".into(),
            allow_cluster_scoped: None,
            namespace_at: None,
            hosts_at: None,
            protected_namespaces: Vec::new(),
        }
    }
}

impl Default for GitopsConfig {
    fn default() -> Self {
        GitopsConfig {
            found: false,
            file: Arc::from(FILE_NAME),
            dir: PathBuf::from("."),
            app: None,
            label_prefix: DEFAULT_LABEL_PREFIX.into(),
            environments: Vec::new(),
            preview: Preview::default(),
            references: Vec::new(),
            kinds: Declarations::default(),
            exclude: Vec::new(),
            allow_empty: false,
            pass_through: false,
            helm: Helm::default(),
        }
    }
}

impl GitopsConfig {
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn environment_names(&self) -> Vec<&str> {
        self.environments.iter().map(|e| e.name.as_str()).collect()
    }
}

/// Finds the nearest gitops.yaml from `start` upward, stopping at `root` (inclusive) when it
/// is given, else at the nearest directory holding `.git`, else at the filesystem root (a
/// `git archive` copy finds the same file as the checkout and as Argo CD).
///
/// A gitops.yaml that is a symlink must resolve inside the repository (`root`, the `.git`
/// folder's directory, or outside a checkout the folder holding the link): one leaving it is
/// an error that names the link and never shows what it points to.
pub fn find(start: &Path, root: Option<&Path>) -> Result<Option<PathBuf>> {
    let Ok(start) = start.canonicalize() else {
        return Ok(None);
    };
    let repo = match root {
        Some(r) => match r.canonicalize() {
            Ok(r) => Some(r),
            Err(_) => return Ok(None),
        },
        None => start
            .ancestors()
            .find(|d| d.join(".git").exists())
            .map(Path::to_path_buf),
    };
    for dir in start.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if let Ok(meta) = std::fs::symlink_metadata(&candidate) {
            if meta.file_type().is_symlink() {
                let inside = repo.as_deref().unwrap_or(dir);
                match candidate.canonicalize() {
                    Ok(target) if target.starts_with(inside) => {}
                    Ok(target) => {
                        return Err(Error::FileRefused {
                            path: candidate,
                            msg: format!(
                                "symlink to {} leaves the repository; kubectl-gitops reads no file outside it (nothing of it was read)",
                                target.display()
                            ),
                        });
                    }
                    Err(source) => {
                        return Err(Error::Io {
                            path: candidate,
                            source,
                        });
                    }
                }
            }
            if !candidate.is_dir() {
                return Ok(Some(candidate));
            }
        }
        if repo.as_deref() == Some(dir) {
            break;
        }
        if repo.as_deref().is_some_and(|r| !dir.starts_with(r)) {
            break;
        }
    }
    Ok(None)
}

/// Parses and validates a gitops.yaml text. `display` names the file in messages.
pub fn parse(text: &str, display: &str, dir: &Path) -> Result<GitopsConfig> {
    let file: Arc<str> = Arc::from(display);
    let stream = parse_stream(text, &Limits::default()).map_err(|e| Error::Yaml {
        loc: Loc::new(&file, e.pos()),
        source: e,
    })?;
    let r = Reader::new(&file);
    if let Some(w) = stream.warnings.first() {
        return Err(r.err_at(w.pos, &w.msg));
    }
    let Some(root) = stream.docs.first().map(|d| &d.root) else {
        return Ok(GitopsConfig {
            found: true,
            file: Arc::clone(&file),
            dir: dir.to_path_buf(),
            ..GitopsConfig::default()
        });
    };
    if stream.docs.len() > 1 {
        return Err(r.err(&stream.docs[1].root, "gitops.yaml must hold one document"));
    }
    from_node(root, &file, dir, &[])
}

/// Reads gitops.yaml's keys from a mapping that is not a file of its own (a KRM function's
/// typed functionConfig); the keys in `skip` belong to the container and are left alone.
pub fn from_node(root: &Node, file: &Arc<str>, dir: &Path, skip: &[&str]) -> Result<GitopsConfig> {
    let r = Reader::new(file);
    let mut cfg = GitopsConfig {
        found: true,
        file: Arc::clone(file),
        dir: dir.to_path_buf(),
        ..GitopsConfig::default()
    };
    for (k, v) in r.entries(root, "gitops.yaml")? {
        let key = r.key(k)?;
        if skip.contains(&key) {
            continue;
        }
        match key {
            "app" => {
                let app = r.string(v, "app")?;
                if !naming::is_dns1123_label(&app) {
                    return Err(r.err(v, &format!("app {app:?} must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)")));
                }
                cfg.app = Some((app, r.loc(v)));
            }
            "labelPrefix" => {
                let p = r.string(v, "labelPrefix")?;
                if !naming::is_dns1123_subdomain(&p) {
                    return Err(r.err(
                        v,
                        &format!(
                            "labelPrefix {p:?} must be a DNS-1123 subdomain, such as example.com"
                        ),
                    ));
                }
                cfg.label_prefix = p;
            }
            "environments" => {
                for (name, body) in r.entries(v, "environments")? {
                    cfg.environments.push(r.environment(name, body)?);
                }
            }
            "preview" => cfg.preview = r.preview(v)?,
            "references" => {
                for item in r.seq(v, "references")? {
                    let spec = r.reference(item, "references[]", false)?;
                    if let Some(why) = crate::packs::unknown_shape(&spec) {
                        return Err(r.err(item, &why));
                    }
                    cfg.references.push(spec);
                }
            }
            "clusterScoped" => {
                cfg.kinds.cluster_scoped =
                    r.kind_list(v, "clusterScoped", KindList::ClusterScoped)?;
            }
            "namespaced" => {
                cfg.kinds.namespaced = r.kind_list(v, "namespaced", KindList::Namespaced)?;
            }
            "crossplane" => {
                for (k2, v2) in r.entries(v, "crossplane")? {
                    let key2 = r.key(k2)?;
                    let list = match key2 {
                        "claims" => &mut cfg.kinds.claims,
                        "composites" => &mut cfg.kinds.composites,
                        "managed" => &mut cfg.kinds.managed,
                        other => {
                            return Err(r.unknown(
                                k2,
                                other,
                                "crossplane",
                                &["claims", "composites", "managed"],
                            ));
                        }
                    };
                    *list = r.kind_list(v2, &format!("crossplane.{key2}"), KindList::Crossplane)?;
                }
            }
            "exclude" => {
                let items = r.seq(v, "exclude")?;
                if items.len() > MAX_EXCLUDES {
                    return Err(r.err(
                        v,
                        &format!("exclude: at most {MAX_EXCLUDES} globs (each is matched against every file)"),
                    ));
                }
                for item in items {
                    let glob = r.string(item, "exclude")?;
                    if glob.len() > MAX_EXCLUDE_LEN {
                        return Err(r.err(
                            item,
                            &format!(
                                "exclude: a glob may be at most {MAX_EXCLUDE_LEN} characters long"
                            ),
                        ));
                    }
                    cfg.exclude.push(glob);
                }
            }
            "allowEmpty" => cfg.allow_empty = r.boolean(v, "allowEmpty")?,
            "passThrough" => cfg.pass_through = r.boolean(v, "passThrough")?,
            "helm" => cfg.helm = r.helm(v)?,
            other => {
                return Err(r.unknown(
                    k,
                    other,
                    "gitops.yaml",
                    &[
                        "app",
                        "labelPrefix",
                        "environments",
                        "preview",
                        "references",
                        "clusterScoped",
                        "namespaced",
                        "crossplane",
                        "exclude",
                        "allowEmpty",
                        "passThrough",
                        "helm",
                    ],
                ));
            }
        }
    }
    if let Some(from) = &cfg.preview.from {
        if cfg.environment(from).is_none() {
            return Err(r.err_at(
                root.get("preview").and_then(|p| p.get("from")).map_or(root.pos, |n| n.pos),
                &format!(
                    "preview.from names environment {from:?}, which is not under environments: ({})",
                    cfg.environment_names().join(", ")
                ),
            ));
        }
    }
    Ok(cfg)
}

/// Reads values out of the tree with located errors (gitops.yaml, the platform policy in
/// [`crate::config::policy`], and the packs, whose schema is gitops.yaml's `references:`).
pub(crate) struct Reader<'a> {
    pub(crate) file: &'a Arc<str>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(file: &'a Arc<str>) -> Self {
        Reader { file }
    }

    pub(crate) fn loc(&self, n: &Node) -> Loc {
        Loc::new(self.file, n.pos)
    }

    pub(crate) fn err(&self, n: &Node, msg: &str) -> Error {
        self.err_at(n.pos, msg)
    }

    pub(crate) fn err_at(&self, pos: crate::yaml::Pos, msg: &str) -> Error {
        Error::Config {
            loc: Loc::new(self.file, pos),
            msg: msg.to_string(),
        }
    }

    pub(crate) fn unknown(&self, k: &Node, key: &str, within: &str, known: &[&str]) -> Error {
        self.err(
            k,
            &format!(
                "unknown key {key:?} in {within} (known keys: {})",
                known.join(", ")
            ),
        )
    }

    pub(crate) fn entries<'n>(&self, n: &'n Node, what: &str) -> Result<&'n [(Node, Node)]> {
        match &n.value {
            Value::Map(m) => Ok(m),
            _ if n.is_null() => Ok(&[]),
            _ => Err(self.err(n, &format!("{what} must be a mapping"))),
        }
    }

    pub(crate) fn seq<'n>(&self, n: &'n Node, what: &str) -> Result<&'n [Node]> {
        match &n.value {
            Value::Seq(s) => Ok(s),
            _ if n.is_null() => Ok(&[]),
            _ => Err(self.err(n, &format!("{what} must be a list"))),
        }
    }

    pub(crate) fn key<'n>(&self, k: &'n Node) -> Result<&'n str> {
        k.scalar_text()
            .ok_or_else(|| self.err(k, "keys in gitops.yaml must be plain strings"))
    }

    /// A string value. Plain numbers and booleans are refused for names, where `yes` or
    /// `0755` as a value is almost certainly a mistake; `text` accepts them.
    pub(crate) fn string(&self, n: &Node, what: &str) -> Result<String> {
        n.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.err(n, &format!("{what} must be a string (quote it)")))
    }

    /// Any scalar's text, for label and annotation values (always written as strings).
    pub(crate) fn text(&self, n: &Node, what: &str) -> Result<String> {
        if n.is_null() {
            return Ok(String::new());
        }
        n.scalar_text()
            .map(str::to_string)
            .ok_or_else(|| self.err(n, &format!("{what} must be a string")))
    }

    pub(crate) fn boolean(&self, n: &Node, what: &str) -> Result<bool> {
        match n.as_scalar().map(|s| (s.style, s.value.as_str())) {
            Some((crate::yaml::Style::Plain, "true" | "True" | "TRUE")) => Ok(true),
            Some((crate::yaml::Style::Plain, "false" | "False" | "FALSE")) => Ok(false),
            _ => Err(self.err(n, &format!("{what} must be true or false"))),
        }
    }

    fn environment(&self, name_node: &Node, body: &Node) -> Result<Environment> {
        let name = self.key(name_node)?.to_string();
        if !naming::is_dns1123_label(&name) {
            return Err(self.err(name_node, &format!("environment name {name:?} must be a DNS-1123 label (lowercase letters, digits and '-')")));
        }
        let mut env = Environment {
            name: name.clone(),
            loc: Some(self.loc(name_node)),
            ..Environment::default()
        };
        let within = format!("environments.{name}");
        for (k, v) in self.entries(body, &within)? {
            match self.key(k)? {
                "namespace" => {
                    let ns = self.string(v, "namespace")?;
                    if !naming::is_dns1123_label(&ns) {
                        return Err(self.err(v, &format!("namespace {ns:?} must be a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters)")));
                    }
                    env.namespace = Some(ns);
                }
                "labels" => env.labels = self.labels(v, &format!("{within}.labels"))?,
                "annotations" => {
                    env.annotations = self.annotations(v, &format!("{within}.annotations"))?;
                }
                "claims" => {
                    self.entries(v, &format!("{within}.claims"))?;
                    env.claims = Some(v.clone());
                }
                "protect" => env.protect = self.boolean(v, "protect")?,
                other => {
                    return Err(self.unknown(
                        k,
                        other,
                        &within,
                        &["namespace", "labels", "annotations", "claims", "protect"],
                    ));
                }
            }
        }
        Ok(env)
    }

    fn labels(&self, n: &Node, within: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (k, v) in self.entries(n, within)? {
            let key = self.key(k)?;
            if let Some(why) = label_key_problem(key).or_else(|| argocd_key_problem(key)) {
                return Err(self.err(k, &format!("label key {key:?} in {within}: {why}")));
            }
            let value = self.text(v, "a label value")?;
            if let Some(why) = label_value_problem(&value) {
                return Err(self.err(v, &format!("label value {value:?} for {key:?}: {why}")));
            }
            out.push((key.to_string(), value));
        }
        Ok(out)
    }

    fn annotations(&self, n: &Node, within: &str) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        for (k, v) in self.entries(n, within)? {
            let key = self.key(k)?;
            if let Some(why) = label_key_problem(key).or_else(|| argocd_key_problem(key)) {
                return Err(self.err(k, &format!("annotation key {key:?} in {within}: {why}")));
            }
            out.push((key.to_string(), self.text(v, "an annotation value")?));
        }
        Ok(out)
    }

    fn preview(&self, n: &Node) -> Result<Preview> {
        let mut p = Preview::default();
        for (k, v) in self.entries(n, "preview")? {
            match self.key(k)? {
                "from" => p.from = Some(self.string(v, "preview.from")?),
                "nameSuffix" => {
                    let s = self.string(v, "preview.nameSuffix")?;
                    let sample = s
                        .replace("{pr}", "1")
                        .replace("{app}", "a")
                        .replace("{env}", "e");
                    if !s.contains("{pr}")
                        || !sample.starts_with('-')
                        || !naming::is_dns1123_label(&format!("a{sample}"))
                    {
                        return Err(self.err(v, &format!("preview.nameSuffix {s:?} must start with '-', contain {{pr}}, and otherwise hold only lowercase letters, digits and '-'")));
                    }
                    p.name_suffix = s;
                }
                "namespace" => {
                    let s = self.string(v, "preview.namespace")?;
                    if let Some(why) = crate::config::policy::namespace_template_problem(&s, true) {
                        return Err(self.err(v, &format!("preview.namespace {s:?} {why}")));
                    }
                    p.namespace = s;
                    p.namespace_at = Some(self.loc(v));
                }
                "rename" => {
                    p.rename = match self.string(v, "preview.rename")?.as_str() {
                        "all" => RenameMode::All,
                        "claims" => RenameMode::Claims,
                        other => {
                            return Err(self.err(
                                v,
                                &format!("preview.rename must be all or claims, not {other:?}"),
                            ));
                        }
                    }
                }
                "hosts" => {
                    let s = self.string(v, "preview.hosts")?;
                    if let Some(why) = crate::transform::hosts::template_problem(&s) {
                        return Err(self.err(v, &format!("preview.hosts {s:?} {why}")));
                    }
                    p.hosts = s;
                    p.hosts_at = Some(self.loc(v));
                }
                "allowClusterScoped" => {
                    let mut list = Vec::new();
                    for item in self.seq(v, "preview.allowClusterScoped")? {
                        list.push((
                            self.group_kind(item, "preview.allowClusterScoped")?,
                            self.loc(item),
                        ));
                    }
                    p.allow_cluster_scoped = Some(list);
                }
                "protectedNamespaces" => {
                    for item in self.seq(v, "preview.protectedNamespaces")? {
                        let ns = self.string(item, "preview.protectedNamespaces")?;
                        if !naming::is_dns1123_label(&ns) {
                            return Err(self.err(item, &format!("preview.protectedNamespaces: {ns:?} is not a namespace name (a DNS-1123 label)")));
                        }
                        p.protected_namespaces.push((ns, self.loc(item)));
                    }
                }
                other => {
                    return Err(self.unknown(
                        k,
                        other,
                        "preview",
                        &[
                            "from",
                            "nameSuffix",
                            "namespace",
                            "rename",
                            "hosts",
                            "allowClusterScoped",
                            "protectedNamespaces",
                        ],
                    ));
                }
            }
        }
        Ok(p)
    }

    fn helm(&self, n: &Node) -> Result<Helm> {
        let mut h = Helm::default();
        for (k, v) in self.entries(n, "helm")? {
            match self.key(k)? {
                "releaseName" => {
                    let s = self.string(v, "helm.releaseName")?;
                    let sample = s
                        .replace("{pr}", "1")
                        .replace("{app}", "a")
                        .replace("{env}", "e");
                    if !naming::is_dns1123_label(&sample) {
                        return Err(self.err(v, &format!("helm.releaseName {s:?} must give a DNS-1123 label (placeholders: {{app}}, {{env}}, {{pr}})")));
                    }
                    h.release_name = s;
                }
                "valueFiles" => {
                    for item in self.seq(v, "helm.valueFiles")? {
                        let f = self.string(item, "helm.valueFiles")?;
                        if f.is_empty()
                            || f.starts_with('/')
                            || f.split('/').any(|part| part == "..")
                        {
                            return Err(self.err(item, &format!("helm.valueFiles entry {f:?} must be a path inside the chart folder (no leading / and no ..)")));
                        }
                        h.value_files.push(f);
                    }
                }
                other => {
                    return Err(self.unknown(k, other, "helm", &["releaseName", "valueFiles"]));
                }
            }
        }
        Ok(h)
    }

    /// `Kind`, `Kind.group`, or `{group: ..., kind: ...}`.
    pub(crate) fn group_kind(&self, n: &Node, what: &str) -> Result<GroupKind> {
        let gk = self.group_kind_unchecked(n, what)?;
        if let Some(why) = kind_problem(&gk) {
            return Err(self.err(n, &format!("{what}: {gk} {why}")));
        }
        // An empty group is any group here: a bare kind naming table kinds of several groups
        // is refused (DESIGN.md §3).
        let p = if gk.group.is_empty() {
            KindPattern::any_group(&gk.kind)
        } else {
            KindPattern::exact(&gk.group, &gk.kind)
        };
        if let Some(why) = check_declaration(&p, KindList::AllowClusterScoped) {
            return Err(self.err(n, &format!("{what}: {why}")));
        }
        Ok(gk)
    }

    fn group_kind_unchecked(&self, n: &Node, what: &str) -> Result<GroupKind> {
        if let Some(s) = n.as_str() {
            return Ok(GroupKind::parse_dotted(s));
        }
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
            Some(kind) => Ok(GroupKind::new(group.as_deref().unwrap_or(""), &kind)),
            None => Err(self.err(
                n,
                &format!(
                    "{what} entries need a kind (\"Kind\", \"Kind.group\" or {{group, kind}})"
                ),
            )),
        }
    }

    /// A kind list (`clusterScoped:`, `preview.allowClusterScoped:`, ...): each entry a
    /// `Kind` (any group), `Kind.group` or `{group, kind}`, checked against the built-in
    /// table ([`check_declaration`]).
    pub(crate) fn kind_list(
        &self,
        n: &Node,
        what: &str,
        list: KindList,
    ) -> Result<Vec<(KindPattern, Loc)>> {
        let mut out = Vec::new();
        for item in self.seq(n, what)? {
            let p = self.kind_pattern(item, what)?;
            if let Some(why) = check_declaration(&p, list) {
                return Err(self.err(item, &format!("{what}: {why}")));
            }
            out.push((p, self.loc(item)));
        }
        Ok(out)
    }
}

/// Why a label or annotation key is invalid (Kubernetes' qualified-name rules), if it is.
pub fn label_key_problem(key: &str) -> Option<String> {
    if ARGOCD_OWNED_KEYS.contains(&key) {
        return Some(
            "Argo CD owns this key for its resource tracking; kubectl-gitops never writes it"
                .into(),
        );
    }
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        if !naming::is_dns1123_subdomain(p) {
            return Some("the prefix before '/' must be a DNS-1123 subdomain".into());
        }
    }
    if name.is_empty() || name.len() > 63 || !is_label_text(name) {
        return Some("the name must be at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit".into());
    }
    None
}

/// Why an environment may not set a label or annotation key that Argo CD reads as an
/// instruction (`argocd.argoproj.io/hook`, `sync-options`, `sync-wave`, ...), if it may not:
/// previews inherit their `from:` environment's keys, and a pull request writes gitops.yaml.
pub fn argocd_key_problem(key: &str) -> Option<String> {
    key.starts_with("argocd.argoproj.io/").then(|| {
        "argocd.argoproj.io/* keys are instructions to Argo CD (hooks, sync options, waves), which gitops.yaml may not give every object of an environment and its previews".into()
    })
}

/// Why a kind-list entry can never match an object, if it cannot: a kind is a name of
/// letters and digits starting with a letter (`*` or a pattern is not a kind), a group is
/// empty or a DNS-1123 subdomain.
pub fn kind_problem(gk: &GroupKind) -> Option<&'static str> {
    let b = gk.kind.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) || !b.iter().all(u8::is_ascii_alphanumeric) {
        return Some("is not a kind: use Kind, Kind.group or {group, kind} (no wildcards)");
    }
    if !gk.group.is_empty() && !naming::is_dns1123_subdomain(&gk.group) {
        return Some(
            "does not name an API group (a DNS-1123 subdomain such as apps or example.com)",
        );
    }
    None
}

/// Why a label value is invalid, if it is.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > 63 || !is_label_text(value) {
        return Some("a label value must be at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit".into());
    }
    None
}

fn is_label_text(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> GitopsConfig {
        parse(text, "gitops.yaml", Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> String {
        match parse(text, "gitops.yaml", Path::new(".")) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn full_example_parses() {
        let c = parse_ok(
            "app: my-microservice
labelPrefix: gitops.example.com
environments:
  dev:
    namespace: my-microservice-dev
    labels: {team: payments, tier: 1}
    annotations: {}
    claims:
      compositionSelector: {matchLabels: {tier: small}}
  staging: {namespace: my-microservice-staging}
  prod: {namespace: my-microservice, protect: true}
preview:
  from: dev
  nameSuffix: \"-pr-{pr}\"
  namespace: \"{app}-pr-{pr}\"
  rename: claims
  hosts: \"{label}-pr-{pr}.{rest}\"
  allowClusterScoped: [XBucket.s3.example.org, {group: ex.com, kind: Thing}]
references:
- {kind: XApp, path: spec.parameters.secretName, target: Secret, produces: true}
clusterScoped: [{group: ex.com, kind: Cluster}]
exclude: [\"charts/**\"]
allowEmpty: false
passThrough: true
helm: {releaseName: \"{app}-{env}\", valueFiles: [values.yaml, \"values-{env}.yaml\"]}
",
        );
        assert_eq!(c.app.map(|a| a.0).as_deref(), Some("my-microservice"));
        assert_eq!(c.environments.len(), 3);
        assert_eq!(c.environments[0].labels[1], ("tier".into(), "1".into()));
        assert!(c.environments[2].protect);
        assert_eq!(c.preview.rename, RenameMode::Claims);
        assert_eq!(
            c.preview
                .allow_cluster_scoped
                .as_ref()
                .map(|l| l[0].0.clone()),
            Some(GroupKind::new("s3.example.org", "XBucket"))
        );
        assert!(c.references[0].produces);
        assert!(c.pass_through);
        assert_eq!(c.helm.release_name, "{app}-{env}");
        assert_eq!(c.helm.value_files.len(), 2);
    }

    /// (gitops.yaml, expected start of the error)
    const BAD: &[(&str, &str)] = &[
        (
            "apps: x\n",
            "gitops.yaml:1:1: unknown key \"apps\" in gitops.yaml",
        ),
        (
            "environments:\n  dev:\n    namspace: x\n",
            "gitops.yaml:3:5: unknown key \"namspace\" in environments.dev",
        ),
        (
            "environments:\n  Prod_1: {}\n",
            "gitops.yaml:2:3: environment name \"Prod_1\"",
        ),
        (
            "environments:\n  dev: {namespace: Dev}\n",
            "gitops.yaml:2:20: namespace \"Dev\"",
        ),
        (
            "environments:\n  dev: {protect: yes}\n",
            "gitops.yaml:2:18: protect must be true or false",
        ),
        (
            "preview: {from: qa}\n",
            "gitops.yaml:1:17: preview.from names environment \"qa\"",
        ),
        (
            "preview: {rename: some}\n",
            "gitops.yaml:1:19: preview.rename must be all or claims",
        ),
        (
            "preview: {nameSuffix: \"-preview\"}\n",
            "gitops.yaml:1:23: preview.nameSuffix",
        ),
        (
            "environments:\n  dev: {labels: {app.kubernetes.io/instance: x}}\n",
            "gitops.yaml:2:18: label key \"app.kubernetes.io/instance\"",
        ),
        (
            "environments:\n  dev: {labels: {a: \"has space\"}}\n",
            "gitops.yaml:2:21: label value \"has space\"",
        ),
        ("app: My_App\n", "gitops.yaml:1:6: app \"My_App\""),
        ("a: 1\na: 2\n", "gitops.yaml:2:1: duplicate key"),
        (
            "references: [{kind: X}]\n",
            "gitops.yaml:1:14: references[] entries need",
        ),
        (
            "helm: {valueFiles: [../secrets.yaml]}\n",
            "gitops.yaml:1:21: helm.valueFiles entry \"../secrets.yaml\"",
        ),
        (
            "helm: {releaseName: My_Release}\n",
            "gitops.yaml:1:21: helm.releaseName",
        ),
        (
            "passThrough: yes\n",
            "gitops.yaml:1:14: passThrough must be true or false",
        ),
        (
            "preview: {allowClusterScoped: [\"*\"]}\n",
            "gitops.yaml:1:32: preview.allowClusterScoped: * is not a kind",
        ),
        (
            "namespaced: [ClusterRoleBinding]\n",
            "gitops.yaml:1:14: namespaced: ClusterRoleBinding.rbac.authorization.k8s.io is a Kubernetes kind",
        ),
        (
            "clusterScoped: [{group: \"\", kind: Secret}]\n",
            "gitops.yaml:1:17: clusterScoped: Secret is a Kubernetes kind",
        ),
        (
            "namespaced: [ClusterIssuer.cert-manager.io]\n",
            "gitops.yaml:1:14: namespaced: ClusterIssuer.cert-manager.io is cluster-scoped",
        ),
        (
            "crossplane: {managed: [Usage]}\n",
            "gitops.yaml:1:24: crossplane.managed: Usage names a kind of several API groups",
        ),
        (
            "references: [{kind: X, path: a, target: Secret, object: {kind: Secret}}]\n",
            "gitops.yaml:1:14: references[] entries need kind, path and one of",
        ),
        (
            "references: [{kind: X, path: a, target: Secret, format: url}]\n",
            "gitops.yaml:1:57: references[].format must be name, dns or namespace/name",
        ),
    ];

    #[test]
    fn exclude_is_bounded() {
        let long = format!("exclude: [\"{}\"]\n", "a".repeat(MAX_EXCLUDE_LEN + 1));
        assert!(parse_err(&long).starts_with("gitops.yaml:1:11: exclude: a glob may be at most"));
        let many = format!("exclude: [{}]\n", vec!["x"; MAX_EXCLUDES + 1].join(", "));
        assert!(parse_err(&many).starts_with("gitops.yaml:1:10: exclude: at most"));
    }

    #[test]
    fn errors_name_file_line_and_key() {
        for (text, want) in BAD {
            let got = parse_err(text);
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        }
    }
}
