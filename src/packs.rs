//! The built-in knowledge packs: what kubectl-gitops knows about references between kinds, as
//! data (`packs/*.yaml`, embedded in the binary), in the schema users write under gitops.yaml
//! `references:` ([`crate::config::references`]) and read by the same code. A reader finds
//! "what does kubectl-gitops know about KEDA?" in `packs/keda.yaml`; each pack names the
//! upstream versions it was read from. The README's reference table is generated from these
//! files, and a test fails when the two differ.
//!
//! A pack file has, besides its name, title and upstream sources:
//! - `references:`: entries of the `references:` schema;
//! - `shapes:`: named groups of entries relative to a node (`podSpec`, `container`,
//!   `volume`, ...), used by `shape:` entries; packs extend each other's shapes (the Secrets
//!   Store CSI pack adds a field to every `volume`);
//! - `hosts:`: fields holding host names that a preview rewrites with `preview.hosts`
//!   (`format: namespace/host` for `[ns/]host`; `external: true` skips names of Services in
//!   the cluster);
//! - `buildInputs:`: kinds that are inputs of a build, never applied to a cluster (Crossplane
//!   package metadata): a preview refuses them, an environment render leaves them alone;
//! - `notReferences:`: fields that look like references but name something else (a Grafana
//!   dashboard's `datasourceName` is a data source's name inside Grafana): the safety net
//!   ([`crate::transform::stale`]) leaves them alone.
//!
//! The scope of kinds is not here: it is the table generated from upstream CRDs
//! ([`crate::model::scope`], `packs/upstream/`).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use crate::config::gitops_yaml::Reader;
use crate::config::references::RefSpec;
use crate::error::{Error, Result};
use crate::model::GroupKind;
use crate::model::fieldspec::FieldPath;
use crate::yaml::Node;
use crate::yaml::parse::{Limits, parse_stream};

/// The pack files, in the order their tables appear in the README.
pub const FILES: &[(&str, &str)] = &[
    ("kubernetes.yaml", include_str!("../packs/kubernetes.yaml")),
    (
        "gateway-api.yaml",
        include_str!("../packs/gateway-api.yaml"),
    ),
    ("crossplane.yaml", include_str!("../packs/crossplane.yaml")),
    (
        "cert-manager.yaml",
        include_str!("../packs/cert-manager.yaml"),
    ),
    (
        "external-secrets.yaml",
        include_str!("../packs/external-secrets.yaml"),
    ),
    (
        "secrets-store-csi.yaml",
        include_str!("../packs/secrets-store-csi.yaml"),
    ),
    (
        "sealed-secrets.yaml",
        include_str!("../packs/sealed-secrets.yaml"),
    ),
    ("tekton.yaml", include_str!("../packs/tekton.yaml")),
    ("istio.yaml", include_str!("../packs/istio.yaml")),
    ("flux.yaml", include_str!("../packs/flux.yaml")),
    ("argo-cd.yaml", include_str!("../packs/argo-cd.yaml")),
    (
        "argo-rollouts.yaml",
        include_str!("../packs/argo-rollouts.yaml"),
    ),
    (
        "argo-workflows.yaml",
        include_str!("../packs/argo-workflows.yaml"),
    ),
    ("keda.yaml", include_str!("../packs/keda.yaml")),
    ("knative.yaml", include_str!("../packs/knative.yaml")),
    (
        "prometheus-operator.yaml",
        include_str!("../packs/prometheus-operator.yaml"),
    ),
    (
        "grafana-operator.yaml",
        include_str!("../packs/grafana-operator.yaml"),
    ),
    (
        "envoy-gateway.yaml",
        include_str!("../packs/envoy-gateway.yaml"),
    ),
];

/// An upstream source a pack was read from.
#[derive(Clone, Debug)]
pub struct Upstream {
    pub project: String,
    pub version: String,
    pub url: String,
}

/// How a host field holds its hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostFormat {
    Host,
    /// `[namespace/]host` (Istio Gateway servers).
    NamespaceHost,
}

/// A field holding host names that a preview rewrites.
#[derive(Clone, Debug)]
pub struct HostSpec {
    pub group: Option<String>,
    pub kind: String,
    pub path: FieldPath,
    pub format: HostFormat,
    /// Only hosts outside the cluster: names with a dot that are not Services' DNS names.
    pub external: bool,
}

/// A kind (or a whole group, `kind: None`) that is a build input, never a cluster object.
#[derive(Clone, Debug)]
pub struct BuildInput {
    pub group: String,
    pub kind: Option<String>,
}

impl BuildInput {
    pub fn matches(&self, gk: &GroupKind) -> bool {
        self.group == gk.group && self.kind.as_ref().is_none_or(|k| *k == gk.kind)
    }
}

/// One pack.
#[derive(Clone, Debug)]
pub struct Pack {
    pub name: String,
    pub title: String,
    pub file: &'static str,
    pub upstream: Vec<Upstream>,
    pub references: Vec<RefSpec>,
    pub shapes: Vec<(String, Vec<RefSpec>)>,
}

/// Everything the packs know, merged.
#[derive(Debug, Default)]
pub struct Knowledge {
    pub packs: Vec<Pack>,
    /// Every pack's references, with the pack's name.
    pub references: Vec<(String, RefSpec)>,
    /// Shapes by name, every pack's entries together.
    pub shapes: BTreeMap<String, Vec<RefSpec>>,
    pub hosts: Vec<HostSpec>,
    pub build_inputs: Vec<BuildInput>,
    /// Fields that are not references, for the safety net.
    pub not_references: Vec<FieldSpec>,
}

/// A field of a kind (`{kind, group?, path}`).
#[derive(Clone, Debug)]
pub struct FieldSpec {
    pub group: Option<String>,
    pub kind: Option<String>,
    pub path: FieldPath,
}

impl FieldSpec {
    pub fn applies(&self, gk: &GroupKind) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == gk.kind)
            && self.group.as_ref().is_none_or(|g| *g == gk.group)
    }
}

static BUILTIN: LazyLock<Knowledge> = LazyLock::new(|| match load(FILES) {
    Ok(k) => k,
    // The packs are part of the binary and a unit test parses them: this cannot happen in a
    // released build.
    Err(e) => panic!("a built-in pack is invalid: {e}"),
});

/// The built-in knowledge, parsed once per process.
pub fn builtin() -> &'static Knowledge {
    &BUILTIN
}

/// Why a `references:` entry of gitops.yaml names a shape no pack defines, if it does.
pub fn unknown_shape(spec: &RefSpec) -> Option<String> {
    match &spec.what {
        crate::config::references::What::Shape(s) if !builtin().shapes.contains_key(s) => {
            Some(format!(
                "references[]: no pack defines the shape {s:?} (shapes: {})",
                builtin()
                    .shapes
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
        _ => None,
    }
}

/// Parses and merges pack files.
pub fn load(files: &[(&'static str, &str)]) -> Result<Knowledge> {
    let mut k = Knowledge::default();
    for (file, text) in files {
        let pack = parse(file, text, &mut k)?;
        for r in &pack.references {
            k.references.push((pack.name.clone(), r.clone()));
        }
        for (name, entries) in &pack.shapes {
            k.shapes
                .entry(name.clone())
                .or_default()
                .extend(entries.iter().cloned());
        }
        k.packs.push(pack);
    }
    // Every shape used is defined.
    let used = k
        .references
        .iter()
        .map(|(_, r)| r)
        .chain(k.shapes.values().flatten());
    for r in used {
        if let crate::config::references::What::Shape(s) = &r.what {
            if !k.shapes.contains_key(s) {
                return Err(Error::Usage(format!(
                    "a built-in pack uses the shape {s:?}, which no pack defines"
                )));
            }
        }
    }
    Ok(k)
}

fn parse(file: &'static str, text: &str, k: &mut Knowledge) -> Result<Pack> {
    let display: Arc<str> = Arc::from(format!("packs/{file}"));
    let stream = parse_stream(text, &Limits::default()).map_err(|e| Error::Yaml {
        loc: crate::model::Loc::new(&display, e.pos()),
        source: e,
    })?;
    let r = Reader { file: &display };
    let Some(root) = stream.docs.first().map(|d| &d.root) else {
        return Err(Error::Usage(format!("packs/{file} is empty")));
    };
    let mut pack = Pack {
        name: String::new(),
        title: String::new(),
        file,
        upstream: Vec::new(),
        references: Vec::new(),
        shapes: Vec::new(),
    };
    for (key, v) in r.entries(root, "a pack")? {
        match r.key(key)? {
            "pack" => pack.name = r.string(v, "pack")?,
            "title" => pack.title = r.string(v, "title")?,
            "upstream" => {
                for u in r.seq(v, "upstream")? {
                    pack.upstream.push(upstream(&r, u)?);
                }
            }
            "references" => {
                for item in r.seq(v, "references")? {
                    pack.references
                        .push(r.reference(item, "references[]", false)?);
                }
            }
            "shapes" => {
                for (name, entries) in r.entries(v, "shapes")? {
                    let name = r.key(name)?.to_string();
                    let mut list = Vec::new();
                    for item in r.seq(entries, "shapes.*")? {
                        list.push(r.reference(item, &format!("shapes.{name}[]"), true)?);
                    }
                    pack.shapes.push((name, list));
                }
            }
            "hosts" => {
                for item in r.seq(v, "hosts")? {
                    k.hosts.push(host(&r, item)?);
                }
            }
            "notReferences" => {
                for item in r.seq(v, "notReferences")? {
                    let mut kind = None;
                    let mut group = None;
                    let mut path = None;
                    for (k2, v2) in r.entries(item, "notReferences[]")? {
                        match r.key(k2)? {
                            "kind" => {
                                let s = r.string(v2, "notReferences[].kind")?;
                                kind = (s != "*").then_some(s);
                            }
                            "group" => group = Some(r.text(v2, "notReferences[].group")?),
                            "path" => path = Some(r.field_path(v2, "notReferences[].path")?),
                            other => {
                                return Err(r.unknown(
                                    k2,
                                    other,
                                    "notReferences[]",
                                    &["kind", "group", "path"],
                                ));
                            }
                        }
                    }
                    let Some(path) = path else {
                        return Err(r.err(item, "notReferences[] entries need kind and path"));
                    };
                    k.not_references.push(FieldSpec { group, kind, path });
                }
            }
            "buildInputs" => {
                for item in r.seq(v, "buildInputs")? {
                    let mut group = None;
                    let mut kind = None;
                    for (k2, v2) in r.entries(item, "buildInputs[]")? {
                        match r.key(k2)? {
                            "group" => group = Some(r.text(v2, "buildInputs[].group")?),
                            "kind" => kind = Some(r.string(v2, "buildInputs[].kind")?),
                            other => {
                                return Err(r.unknown(
                                    k2,
                                    other,
                                    "buildInputs[]",
                                    &["group", "kind"],
                                ));
                            }
                        }
                    }
                    let Some(group) = group else {
                        return Err(r.err(item, "buildInputs[] entries need a group"));
                    };
                    k.build_inputs.push(BuildInput { group, kind });
                }
            }
            other => {
                return Err(r.unknown(
                    key,
                    other,
                    "a pack",
                    &[
                        "pack",
                        "title",
                        "upstream",
                        "references",
                        "shapes",
                        "hosts",
                        "buildInputs",
                        "notReferences",
                    ],
                ));
            }
        }
    }
    if pack.name.is_empty() || pack.title.is_empty() || pack.upstream.is_empty() {
        return Err(r.err(root, "a pack needs pack, title and upstream"));
    }
    Ok(pack)
}

fn upstream(r: &Reader<'_>, n: &Node) -> Result<Upstream> {
    let mut u = Upstream {
        project: String::new(),
        version: String::new(),
        url: String::new(),
    };
    for (k, v) in r.entries(n, "upstream[]")? {
        match r.key(k)? {
            "project" => u.project = r.text(v, "upstream[].project")?,
            "version" => u.version = r.text(v, "upstream[].version")?,
            "url" => u.url = r.text(v, "upstream[].url")?,
            other => {
                return Err(r.unknown(k, other, "upstream[]", &["project", "version", "url"]));
            }
        }
    }
    if u.project.is_empty() || u.version.is_empty() || !u.url.starts_with("https://") {
        return Err(r.err(
            n,
            "upstream[] entries need project, version and an https url",
        ));
    }
    Ok(u)
}

fn host(r: &Reader<'_>, n: &Node) -> Result<HostSpec> {
    let mut kind = None;
    let mut group = None;
    let mut path = None;
    let mut format = HostFormat::Host;
    let mut external = false;
    for (k, v) in r.entries(n, "hosts[]")? {
        match r.key(k)? {
            "kind" => kind = Some(r.string(v, "hosts[].kind")?),
            "group" => group = Some(r.text(v, "hosts[].group")?),
            "path" => path = Some(r.field_path(v, "hosts[].path")?),
            "format" => {
                format = match r.string(v, "hosts[].format")?.as_str() {
                    "host" => HostFormat::Host,
                    "namespace/host" => HostFormat::NamespaceHost,
                    other => {
                        return Err(r.err(
                            v,
                            &format!(
                                "hosts[].format must be host or namespace/host, not {other:?}"
                            ),
                        ));
                    }
                };
            }
            "external" => external = r.boolean(v, "hosts[].external")?,
            other => {
                return Err(r.unknown(
                    k,
                    other,
                    "hosts[]",
                    &["kind", "group", "path", "format", "external"],
                ));
            }
        }
    }
    match (kind, path) {
        (Some(kind), Some(path)) => Ok(HostSpec {
            group,
            kind,
            path,
            format,
            external,
        }),
        _ => Err(r.err(n, "hosts[] entries need kind and path")),
    }
}

/// The README's reference section: one table per pack (kind, field, target), the shapes, the
/// host fields and the build inputs, generated from the packs so that users see exactly what
/// is covered. `readme_table_matches_the_packs` keeps README.md equal to it.
pub fn readme_tables(k: &Knowledge) -> String {
    use crate::config::references::{Format, RefSpec, What};
    use std::fmt::Write as _;
    fn cell(s: &str) -> String {
        s.replace('|', "\\|")
    }
    fn target(r: &RefSpec) -> String {
        let mut t = match &r.what {
            What::Shape(s) => format!("{s} (shape)"),
            w => w.to_string(),
        };
        match r.format {
            Format::Name => {}
            Format::Dns => t.push_str(", by DNS name"),
            Format::NamespacedName => t.push_str(", as `namespace/name`"),
        }
        if let What::Object(o) = &r.what {
            if o.namespace != crate::config::references::NsRule::None {
                t.push_str(", with its namespace");
            }
        }
        if r.produces && r.adopts {
            t.push_str(" (produced, or an existing one written into)");
        } else if r.produces {
            t.push_str(" (produced)");
        }
        if !r.when.is_empty() {
            let conds: Vec<String> = r
                .when
                .iter()
                .map(|c| match (&c.equals, c.absent) {
                    (Some(v), _) => format!("`{}` is {v:?}", c.path),
                    (None, true) => format!("no `{}`", c.path),
                    (None, false) => format!("`{}` is set", c.path),
                })
                .collect();
            let _ = write!(t, ", when {}", conds.join(" or "));
        }
        cell(&t)
    }
    fn kind(r: &RefSpec) -> String {
        let k = match (&r.kind, &r.group) {
            (None, _) => "any kind".to_string(),
            (Some(k), Some(g)) if !g.is_empty() => format!("{k}.{g}"),
            (Some(k), _) => k.clone(),
        };
        if r.roles.is_empty() {
            k
        } else {
            let roles: Vec<&str> = r
                .roles
                .iter()
                .map(|r| match r {
                    crate::model::scope::Role::Claim => "claims",
                    crate::model::scope::Role::Composite => "composite resources",
                    crate::model::scope::Role::Managed => "managed resources",
                    crate::model::scope::Role::Plain => "plain objects",
                })
                .collect();
            format!("{k} ({})", roles.join(", "))
        }
    }
    let mut out = String::new();
    for p in &k.packs {
        let sources: Vec<String> = p
            .upstream
            .iter()
            .map(|u| format!("[{}]({}) {}", u.project, u.url, u.version))
            .collect();
        let _ = writeln!(out, "#### {} (`packs/{}`)\n", p.title, p.file);
        let _ = writeln!(out, "Read from {}.\n", sources.join("; "));
        if !p.references.is_empty() {
            out.push_str("| kind | field | target |\n|---|---|---|\n");
            for r in &p.references {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} |",
                    kind(r),
                    cell(&r.path.to_string()),
                    target(r)
                );
            }
            out.push('\n');
        }
        if !p.shapes.is_empty() {
            out.push_str("| shape | field | target |\n|---|---|---|\n");
            for (name, entries) in &p.shapes {
                for r in entries {
                    let _ = writeln!(
                        out,
                        "| {name} | `{}` | {} |",
                        cell(&r.path.to_string()),
                        target(r)
                    );
                }
            }
            out.push('\n');
        }
    }
    out.push_str("#### Preview hosts\n\nRewritten with `preview.hosts` in a preview.\n\n| kind | field | hosts |\n|---|---|---|\n");
    for h in &k.hosts {
        let kind = match &h.group {
            Some(g) if !g.is_empty() => format!("{}.{g}", h.kind),
            _ => h.kind.clone(),
        };
        let what = match (h.format, h.external) {
            (HostFormat::Host, false) => "every host",
            (HostFormat::Host, true) => "hosts outside the cluster",
            (HostFormat::NamespaceHost, false) => "`namespace/host`",
            (HostFormat::NamespaceHost, true) => "`namespace/host`, outside the cluster",
        };
        let _ = writeln!(out, "| {kind} | `{}` | {what} |", cell(&h.path.to_string()));
    }
    out.push_str("\n#### Not references\n\nFields that look like references but name something else; the safety net leaves them alone.\n\n| kind | field |\n|---|---|\n");
    for f in &k.not_references {
        let kind = match (&f.kind, &f.group) {
            (None, Some(g)) => format!("any kind of {g}"),
            (None, None) => "any kind".into(),
            (Some(k), Some(g)) if !g.is_empty() => format!("{k}.{g}"),
            (Some(k), _) => k.clone(),
        };
        let _ = writeln!(out, "| {kind} | `{}` |", cell(&f.path.to_string()));
    }
    out.push_str("\n#### Build inputs\n\nNever applied to a cluster: refused in a preview, left alone in an environment render.\n\n");
    for b in &k.build_inputs {
        let _ = writeln!(
            out,
            "- {}",
            match &b.kind {
                Some(kind) => format!("`{kind}.{}`", b.group),
                None => format!("every kind of `{}`", b.group),
            }
        );
    }
    out
}

/// The markers around the generated section in README.md.
pub const README_BEGIN: &str =
    "<!-- BEGIN generated from packs/*.yaml: UPDATE_README=1 cargo test --lib readme -->";
pub const README_END: &str = "<!-- END generated from packs/*.yaml -->";

#[cfg(test)]
mod tests {
    use super::*;

    /// README.md's reference tables are the packs': rewritten with `UPDATE_README=1`.
    #[test]
    fn readme_table_matches_the_packs() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
        let readme = std::fs::read_to_string(&path).expect("README.md");
        let (Some(b), Some(e)) = (readme.find(README_BEGIN), readme.find(README_END)) else {
            panic!("README.md has no generated packs section ({README_BEGIN} ... {README_END})");
        };
        let start = b + README_BEGIN.len();
        let want = format!("\n{}", readme_tables(builtin()));
        let got = &readme[start..e];
        if got != want {
            if std::env::var_os("UPDATE_README").is_some() {
                let new = format!("{}{want}{}", &readme[..start], &readme[e..]);
                std::fs::write(&path, new).expect("write README.md");
            } else {
                let line = got
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.lines().count().min(want.lines().count()));
                panic!(
                    "README.md's reference tables differ from the packs (first at line {} of the section); run UPDATE_README=1 cargo test --lib readme",
                    line + 1
                );
            }
        }
    }

    #[test]
    fn every_pack_parses_and_names_its_upstream() {
        let k = load(FILES).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(k.packs.len(), FILES.len());
        for p in &k.packs {
            assert!(p.file.starts_with(&p.name), "{}: pack {}", p.file, p.name);
            assert!(!p.upstream.is_empty(), "{}", p.name);
        }
        for shape in ["podSpec", "container", "volume"] {
            assert!(k.shapes.contains_key(shape), "{shape}");
        }
        assert!(k.references.len() > 200, "{}", k.references.len());
    }

    #[test]
    fn every_pack_file_is_embedded() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packs");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("packs/")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(f, _)| (*f).to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn a_bad_pack_is_refused_with_its_location() {
        let err = load(&[("x.yaml", "pack: x\ntitle: X\nupstream: [{project: a, version: b, url: \"https://x\"}]\nreferences:\n- {kind: A, path: spec.x, shape: nowhere}\n")])
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("nowhere")));
        let err = load(&[("x.yaml", "pack: x\ntitle: X\nupstream: []\nrefs: []\n")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.starts_with("packs/x.yaml:4:1: unknown key \"refs\""),
            "{err}"
        );
    }
}
