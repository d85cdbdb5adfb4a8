//! The properties the fuzz targets check, as plain functions: each takes one input and panics
//! when a property fails. The targets (`fuzz_targets/`) are one-line wrappers around them, and
//! `tests/fuzz.rs` in the main crate runs them over the seed corpus and every regression
//! input on the stable toolchain, so a crash found once stays fixed.
//!
//! They use only the crate's public API (`yaml::parse`, `yaml::emit`, `yaml::json`, `source`,
//! `transform`, `output`, `config`, `cmp`), so when the YAML layer changes shape only the few
//! functions below that call it need re-pointing.
//!
//! | check            | property |
//! |------------------|----------|
//! | [`roundtrip`]    | parse → emit → parse gives the same documents, typed as Kubernetes reads them; emitting again gives the same text |
//! | [`render_preview`] | a preview render is deterministic and idempotent, and everything in its output stays in its sandbox |
//! | [`gitops_yaml`]  | any gitops.yaml or policy is accepted or refused without panicking; every preview host template it accepts is idempotent and gives valid hosts |
//! | [`parameters`]   | any `ARGOCD_APP_PARAMETERS` is accepted or refused without panicking |
//! | [`one_reading`]  | the objects kubectl-gitops reasons about are the objects an independent Kubernetes-like reader finds in its output (kinds, names, namespaces), in pass-through and in a preview; a pass-through is the input byte for byte |
//!
//! Inputs may carry a gitops.yaml before a line `#--- manifests` (see [`split_input`]).

use std::path::Path;
use std::sync::Arc;

use kubectl_gitops::cmp;
use kubectl_gitops::config::gitops_yaml::{self, GitopsConfig};
use kubectl_gitops::config::identity::{self, IdentityRequest, Sourced};
use kubectl_gitops::config::policy::{self, Policy};
use kubectl_gitops::model::OutDoc;
use kubectl_gitops::output::{self, Format};
use kubectl_gitops::source::{self, SourceFile};
use kubectl_gitops::transform::{self, Ctx, hosts};
use kubectl_gitops::yaml::Node;
use kubectl_gitops::yaml::emit::emit_stream;
use kubectl_gitops::yaml::json::to_json;
use kubectl_gitops::yaml::parse::{Limits, parse_stream};

/// The line that separates an optional gitops.yaml from the manifests in an input.
pub const MANIFESTS_MARKER: &str = "#--- manifests\n";

/// The pull request number and app name of every preview render here.
const PR: &str = "7";
const APP: &str = "fuzz";

/// Splits an input into (gitops.yaml, manifests).
pub fn split_input(text: &str) -> (Option<&str>, &str) {
    match text.find(MANIFESTS_MARKER) {
        Some(i) => (Some(&text[..i]), &text[i + MANIFESTS_MARKER.len()..]),
        None => (None, text),
    }
}

// -------------------------------------------------------------------------------------------
// Known open issues
// -------------------------------------------------------------------------------------------

/// Bugs the fuzzers found that are not fixed yet: while one is open, inputs of its shape are
/// skipped here, so that the fuzzers (and CI's short run) look for new bugs instead of finding
/// the same one again; its inputs live in `fuzz/regressions/<target>/` and the test
/// `yaml_layer_findings` in `tests/fuzz.rs` runs them unfiltered. Delete an entry with its fix.
/// None is open: the YAML-layer findings so far (control characters, a key appended after a
/// flow mapping's last bare key, `|`/`>` starting a plain scalar in flow context, a tagged
/// empty key, a collection as a key) are fixed, and their inputs are regression tests.
/// A known issue: what it is, and whether an input has its shape.
pub type KnownIssue = (&'static str, fn(&str) -> bool);

pub const KNOWN_ISSUES: &[KnownIssue] = &[];

/// The first known issue an input has the shape of, if any.
pub fn known_issue(text: &str) -> Option<&'static str> {
    KNOWN_ISSUES
        .iter()
        .find(|(_, shape)| shape(text))
        .map(|(what, _)| *what)
}

// -------------------------------------------------------------------------------------------
// roundtrip
// -------------------------------------------------------------------------------------------

/// parse → emit → parse: the same documents, the same Kubernetes reading; emit is stable.
pub fn roundtrip(text: &str) {
    roundtrip_checked(text, true);
}

/// [`roundtrip`]; `skip_known` false also runs inputs of a known issue's shape.
pub fn roundtrip_checked(text: &str, skip_known: bool) {
    if skip_known && known_issue(text).is_some() {
        return;
    }
    let limits = Limits::default();
    let Ok(first) = parse_stream(text, &limits) else {
        return;
    };
    // A null document (an anchor alone) is no document for any reader: not compared.
    let docs = |s: &kubectl_gitops::yaml::parse::Stream| -> Vec<Node> {
        s.docs
            .iter()
            .filter(|d| !d.root.is_null())
            .map(|d| d.root.clone())
            .collect()
    };
    let first = docs(&first);
    let emitted = emit_stream(first.iter());
    let second = parse_stream(&emitted, &limits).unwrap_or_else(|e| {
        panic!("our emitter wrote text we cannot read back: {e}\n--- input:\n{text}\n--- emitted:\n{emitted}")
    });
    let second = docs(&second);
    assert_eq!(
        first.len(),
        second.len(),
        "the number of documents changed\n--- input:\n{text}\n--- emitted:\n{emitted}"
    );
    for (a, b) in first.iter().zip(&second) {
        // Compared as values: an error's position may differ between the two texts.
        assert_eq!(
            to_json(a).ok(),
            to_json(b).ok(),
            "a document reads differently for Kubernetes after emitting\n--- input:\n{text}\n--- emitted:\n{emitted}"
        );
    }
    let again = emit_stream(second.iter());
    assert_eq!(emitted, again, "emitting is not stable\n--- input:\n{text}");
}

// -------------------------------------------------------------------------------------------
// Rendering, as `render -` does it, without touching the filesystem
// -------------------------------------------------------------------------------------------

/// A render's output: the documents, their bytes, and the preview namespace when it is one.
pub struct Rendered {
    pub docs: Vec<OutDoc>,
    pub bytes: String,
    pub namespace: Option<String>,
}

/// Renders `manifests` (one file) with gitops.yaml `config`, as a preview when `preview`,
/// else as a pass-through. `None` when kubectl-gitops refuses the input (a refusal is an
/// answer, not a failure).
pub fn render(config: Option<&GitopsConfig>, manifests: &str, preview: bool) -> Option<Rendered> {
    let files = [SourceFile::new("fuzz.yaml", manifests)];
    let (input, _) = source::parse_files(&files).ok()?;
    let mut req = IdentityRequest {
        dir_name: Some(APP.into()),
        policy: Some(Arc::new(Policy::default())),
        ..IdentityRequest::default()
    };
    if preview {
        req.pr = vec![Sourced::new(PR, "--pr")];
        req.app = vec![Sourced::new(APP, "--app")];
    }
    let resolved = identity::resolve(&req, config).ok()?;
    let namespace = resolved.identity.namespace.clone();
    let ctx = Ctx {
        identity: resolved.identity,
        environment: resolved.environment,
        sandbox: resolved.sandbox,
        config: config.cloned().unwrap_or_default(),
        ..Ctx::default()
    };
    let out = transform::run(input, &ctx).ok()?;
    let bytes = output::to_bytes(&out.docs, Format::Yaml).ok()?;
    let bytes = String::from_utf8(bytes).expect("the output is UTF-8");
    Some(Rendered {
        docs: out.docs,
        bytes,
        namespace,
    })
}

fn config_of(text: Option<&str>) -> Result<Option<GitopsConfig>, ()> {
    match text {
        None => Ok(None),
        Some(t) => gitops_yaml::parse(t, "gitops.yaml", Path::new("."))
            .map(Some)
            .map_err(|_| ()),
    }
}

/// A preview render is deterministic, idempotent, and sandboxed.
pub fn render_preview(text: &str) {
    render_preview_checked(text, true);
}

/// [`render_preview`]; `skip_known` false also runs inputs of a known issue's shape.
pub fn render_preview_checked(text: &str, skip_known: bool) {
    if skip_known && known_issue(text).is_some() {
        return;
    }
    let (gitops, manifests) = split_input(text);
    let Ok(config) = config_of(gitops) else {
        return;
    };
    let Some(once) = render(config.as_ref(), manifests, true) else {
        return;
    };
    let twice = render(config.as_ref(), manifests, true).map(|r| r.bytes);
    assert_eq!(
        Some(&once.bytes),
        twice.as_ref(),
        "two renders of the same input differ\n--- input:\n{text}"
    );
    sandboxed(&once, text);
    if once.bytes.is_empty() {
        return;
    }
    let again = render(config.as_ref(), &once.bytes, true).map(|r| r.bytes);
    assert_eq!(
        Some(&once.bytes),
        again.as_ref(),
        "rendering the output again with the same identity changed it\n--- input:\n{text}\n--- output:\n{}",
        once.bytes
    );
}

/// Everything a preview emits, read back as Kubernetes reads it, is in the preview's namespace
/// or is the preview's Namespace (no cluster-scoped kind is allowed here).
fn sandboxed(r: &Rendered, input: &str) {
    let Some(ns) = r.namespace.as_deref() else {
        panic!("a preview without a namespace\n--- input:\n{input}");
    };
    let Ok(seen) = k8s::read_stream(&r.bytes) else {
        return;
    };
    for o in &seen {
        let is_target = o.kind.as_deref() == Some("Namespace") && o.name.as_deref() == Some(ns);
        assert!(
            is_target || o.namespace.as_deref() == Some(ns),
            "a preview emitted {o:?} outside its namespace {ns}\n--- input:\n{input}\n--- output:\n{}",
            r.bytes
        );
    }
}

// -------------------------------------------------------------------------------------------
// gitops.yaml, the platform policy, host templates
// -------------------------------------------------------------------------------------------

const SAMPLE_HOSTS: &[&str] = &[
    "shop.example.com",
    "localhost",
    "a.b",
    "*.apps.example.com",
    "api.shop.example.com",
    "shop-pr-7.example.com",
];

/// Any text is a gitops.yaml or a policy or neither, without panicking; accepted host
/// templates are idempotent and give valid hosts.
pub fn gitops_yaml(text: &str) {
    let policy = policy::parse(text, "policy.yaml").ok().map(Arc::new);
    let Ok(cfg) = gitops_yaml::parse(text, "gitops.yaml", Path::new(".")) else {
        return;
    };
    for preview in [false, true] {
        for p in [None, policy.clone(), Some(Arc::new(Policy::default()))] {
            let _ = policy::sandbox(Some(&cfg), p.as_ref(), preview);
            let req = IdentityRequest {
                pr: if preview {
                    vec![Sourced::new(PR, "--pr")]
                } else {
                    Vec::new()
                },
                env: cfg
                    .environments
                    .first()
                    .filter(|_| !preview)
                    .map(|e| vec![Sourced::new(e.name.clone(), "--env")])
                    .unwrap_or_default(),
                app: vec![Sourced::new(APP, "--app")],
                policy: p,
                ..IdentityRequest::default()
            };
            let _ = identity::resolve(&req, Some(&cfg));
        }
    }
    let template = cfg
        .preview
        .hosts
        .replace("{pr}", PR)
        .replace("{app}", APP)
        .replace("{env}", "dev");
    for host in SAMPLE_HOSTS {
        let once = hosts::rewrite(host, &template);
        assert_eq!(
            hosts::rewrite(&once, &template),
            once,
            "preview.hosts {:?} is not idempotent on {host}",
            cfg.preview.hosts
        );
        if hosts::is_valid_host(host) && !hosts::is_valid_host(&once) {
            // `apply` refuses this host (a located error); only a one-label host or a
            // long label can get there with a template that passed the check.
            assert!(
                !host.contains('.') || once.split('.').any(|l| l.len() > 63),
                "preview.hosts {:?} made {host} into the invalid host {once}",
                cfg.preview.hosts
            );
        }
    }
}

/// Any `ARGOCD_APP_PARAMETERS` value is read or refused without panicking, and an accepted
/// one resolves (or is refused) as an identity.
pub fn parameters(text: &str) {
    let vars = vec![
        ("ARGOCD_APP_PARAMETERS".to_string(), text.to_string()),
        ("ARGOCD_APP_NAME".to_string(), "fuzz".to_string()),
    ];
    if let Ok(env) = cmp::from_vars(&vars, Path::new(".")) {
        let _ = identity::resolve(&env.identity, None);
    }
}

// -------------------------------------------------------------------------------------------
// one reading
// -------------------------------------------------------------------------------------------

/// What the tool believed it emitted: apiVersion, kind, name and namespace of every object,
/// a document with an `items` list standing for its items.
pub fn believed(docs: &[OutDoc]) -> Vec<k8s::Seen> {
    fn text(n: Option<&Node>) -> Option<String> {
        let n = n?;
        if n.is_null() {
            return None;
        }
        Some(
            n.scalar_text()
                .map_or_else(|| k8s::COLLECTION.to_string(), str::to_string),
        )
    }
    fn seen(n: &Node) -> k8s::Seen {
        let meta = n.get("metadata");
        k8s::Seen {
            api_version: text(n.get("apiVersion")),
            kind: text(n.get("kind")),
            name: text(meta.and_then(|m| m.get("name"))),
            namespace: text(meta.and_then(|m| m.get("namespace"))),
        }
    }
    let mut out = Vec::new();
    for d in docs {
        match d.node.get("items").and_then(Node::as_seq) {
            Some(items) => out.extend(items.iter().map(seen)),
            None => out.push(seen(&d.node)),
        }
    }
    out
}

/// Pass-through and preview: what we reasoned about is what the cluster reads.
pub fn one_reading(text: &str) {
    one_reading_checked(text, true);
}

/// [`one_reading`]; `skip_known` false also runs inputs of a known issue's shape.
pub fn one_reading_checked(text: &str, skip_known: bool) {
    if skip_known && known_issue(text).is_some() {
        return;
    }
    let (gitops, manifests) = split_input(text);
    let Ok(config) = config_of(gitops) else {
        return;
    };
    if let Some(r) = render(config.as_ref(), manifests, false) {
        if !r.docs.is_empty() {
            let trimmed = r.bytes.strip_suffix('\n').unwrap_or(&r.bytes);
            assert!(
                r.bytes == manifests || trimmed == manifests,
                "a pass-through is not the input byte for byte\n--- input:\n{manifests:?}\n--- output:\n{:?}",
                r.bytes
            );
        }
        same_reading(&r, text);
    }
    if let Some(r) = render(config.as_ref(), manifests, true) {
        same_reading(&r, text);
        sandboxed(&r, text);
    }
}

fn same_reading(r: &Rendered, input: &str) {
    let ours = believed(&r.docs);
    match k8s::read_stream(&r.bytes) {
        Ok(theirs) => assert_eq!(
            ours, theirs,
            "kubectl-gitops reasoned about other objects than Kubernetes reads in its output\n--- input:\n{input}\n--- output:\n{}",
            r.bytes
        ),
        // The reader's own budget: inconclusive, never a finding.
        Err(k8s::ReadError::Budget) => {}
        Err(k8s::ReadError::Refused(why)) => panic!(
            "Kubernetes would not read the output ({why})\n--- input:\n{input}\n--- output:\n{}",
            r.bytes
        ),
    }
}

/// An independent reader of a YAML stream the way Argo CD and kubectl read it: apimachinery's
/// splitting at `---` lines, then each piece as sigs.k8s.io/yaml over go-yaml v2 reads it
/// (only the first document of a piece; merge keys applied in document order, earlier sources
/// winning inside a `<<: [..]` list; the last of duplicate keys winning; plain `~`, `null`
/// and empty as null), and Argo CD's flattening of any object whose `items` is a list.
///
/// It shares only the event parser with kubectl-gitops (the same patched saphyr-parser, which
/// accepts what libyaml accepts); splitting, merging and flattening are written here again,
/// from the Go sources' behaviour, so that a mistake in one is not repeated in the other.
pub mod k8s {
    use saphyr_parser::{Event, Parser, ScalarStyle};

    /// Stands for a value that is a mapping or a sequence where a string was expected.
    pub const COLLECTION: &str = "<collection>";

    /// One object as a reader sees it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Seen {
        pub api_version: Option<String>,
        pub kind: Option<String>,
        pub name: Option<String>,
        pub namespace: Option<String>,
    }

    #[derive(Debug)]
    pub enum ReadError {
        /// The reader's alias budget ran out: no conclusion.
        Budget,
        /// Kubernetes would refuse the stream (syntax, a key it cannot use, a separator line
        /// with text after it).
        Refused(String),
    }

    #[derive(Clone, Debug)]
    enum V {
        Null,
        Str(String),
        Seq(Vec<V>),
        /// Entries in document order; merge keys already applied.
        Map(Vec<(String, V)>),
    }

    /// Nodes alias expansion may produce before the reader gives up.
    const BUDGET: usize = 2_000_000;

    pub fn read_stream(text: &str) -> Result<Vec<Seen>, ReadError> {
        // go-yaml's reader refuses these anywhere in a document (`yaml_parser_update_buffer`);
        // saphyr-parser reads them in plain scalars.
        if text.chars().any(|c| {
            (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
                || c == '\u{7f}'
                || (('\u{80}'..='\u{9f}').contains(&c) && c != '\u{85}')
                || matches!(c, '\u{fffe}' | '\u{ffff}')
        }) {
            return Err(ReadError::Refused(
                "yaml: control characters are not allowed".into(),
            ));
        }
        let mut out = Vec::new();
        for piece in split(text)? {
            // A piece that reads as null (empty, a comment, `null`, `~`) is no object: kubectl's
            // StreamVisitor and Argo CD's SplitYAML both skip it.
            let Some(v) = read_piece(piece)? else {
                continue;
            };
            if matches!(v, V::Null) {
                continue;
            }
            let V::Map(entries) = &v else {
                return Err(ReadError::Refused(
                    "a document is not a mapping (Argo CD: Object 'Kind' is missing)".into(),
                ));
            };
            match get(entries, "items") {
                Some(V::Seq(items)) => {
                    for item in items {
                        match item {
                            V::Map(e) => out.push(seen(e)),
                            _ => {
                                return Err(ReadError::Refused(
                                    "a list item is not an object".into(),
                                ));
                            }
                        }
                    }
                }
                _ => out.push(seen(entries)),
            }
        }
        Ok(out)
    }

    fn seen(entries: &[(String, V)]) -> Seen {
        let meta = match get(entries, "metadata") {
            Some(V::Map(m)) => Some(m.as_slice()),
            _ => None,
        };
        Seen {
            api_version: text(get(entries, "apiVersion")),
            kind: text(get(entries, "kind")),
            name: text(meta.and_then(|m| get(m, "name"))),
            namespace: text(meta.and_then(|m| get(m, "namespace"))),
        }
    }

    fn text(v: Option<&V>) -> Option<String> {
        match v? {
            V::Null => None,
            V::Str(s) => Some(s.clone()),
            V::Seq(_) | V::Map(_) => Some(COLLECTION.into()),
        }
    }

    /// The value of `key`: the last entry with that key (merges are already applied).
    fn get<'a>(entries: &'a [(String, V)], key: &str) -> Option<&'a V> {
        entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// apimachinery's YAMLReader: a line starting with `---` ends a document; only spaces and
    /// a comment may follow it on that line. A stream starting with `{` is JSON for Argo CD.
    fn split(text: &str) -> Result<Vec<&str>, ReadError> {
        if text.trim_start().starts_with('{') {
            return Ok(vec![text]);
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            if let Some(rest) = line.strip_prefix("---") {
                let rest = rest.trim();
                if !rest.is_empty() && !rest.starts_with('#') {
                    return Err(ReadError::Refused(format!(
                        "a line starts with --- and goes on: {line:?}"
                    )));
                }
                pieces.push(&text[start..pos]);
                start = pos + line.len();
            }
            pos += line.len();
        }
        pieces.push(&text[start..]);
        Ok(pieces)
    }

    /// Raw events of one piece's first document, as a tree (aliases expanded).
    #[derive(Clone, Debug)]
    enum Raw {
        Scalar {
            value: String,
            plain: bool,
            tag: Option<String>,
        },
        Seq(Vec<Raw>),
        Map(Vec<(Raw, Raw)>),
    }

    fn read_piece(piece: &str) -> Result<Option<V>, ReadError> {
        let Some(raw) = raw_first_document(piece)? else {
            return Ok(None);
        };
        value(&raw).map(Some)
    }

    fn raw_first_document(piece: &str) -> Result<Option<Raw>, ReadError> {
        let mut parser = Parser::new_from_str(piece);
        let mut anchors: std::collections::BTreeMap<usize, Raw> = std::collections::BTreeMap::new();
        // (node under construction, its anchor id, a pending key for maps)
        enum Frame {
            Seq(Vec<Raw>, usize),
            Map(Vec<(Raw, Raw)>, Option<Raw>, usize),
        }
        let mut stack: Vec<Frame> = Vec::new();
        let mut budget = 0usize;
        let mut root = None;
        let mut in_doc = false;
        while let Some(ev) = parser.next_event() {
            let (ev, _) = ev.map_err(|e| ReadError::Refused(format!("invalid YAML: {e}")))?;
            let done: Option<(Raw, usize)> = match ev {
                Event::DocumentStart(_) => {
                    in_doc = true;
                    None
                }
                Event::DocumentEnd => {
                    // go-yaml v2 keeps the first document of a piece only.
                    if root.is_some() {
                        return Ok(root);
                    }
                    in_doc = false;
                    None
                }
                Event::Scalar(v, style, anchor, tag) => {
                    // libyaml never starts a plain scalar with an indicator; saphyr-parser
                    // does in flow collections.
                    if style == ScalarStyle::Plain && (v.starts_with('>') || v.starts_with('|')) {
                        return Err(ReadError::Refused(
                            "yaml: found character that cannot start any token".into(),
                        ));
                    }
                    budget += 1;
                    let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                    Some((
                        Raw::Scalar {
                            value: v.into_owned(),
                            plain: style == ScalarStyle::Plain,
                            tag,
                        },
                        anchor,
                    ))
                }
                Event::SequenceStart(anchor, _) => {
                    stack.push(Frame::Seq(Vec::new(), anchor));
                    None
                }
                Event::MappingStart(anchor, _) => {
                    stack.push(Frame::Map(Vec::new(), None, anchor));
                    None
                }
                Event::SequenceEnd => match stack.pop() {
                    Some(Frame::Seq(items, anchor)) => Some((Raw::Seq(items), anchor)),
                    _ => return Err(ReadError::Refused("unbalanced sequence".into())),
                },
                Event::MappingEnd => match stack.pop() {
                    Some(Frame::Map(entries, _, anchor)) => Some((Raw::Map(entries), anchor)),
                    _ => return Err(ReadError::Refused("unbalanced mapping".into())),
                },
                Event::Alias(id) => {
                    let Some(node) = anchors.get(&id) else {
                        return Err(ReadError::Refused("unknown anchor".into()));
                    };
                    budget += size(node);
                    if budget > BUDGET {
                        return Err(ReadError::Budget);
                    }
                    Some((node.clone(), 0))
                }
                _ => None,
            };
            if budget > BUDGET {
                return Err(ReadError::Budget);
            }
            let Some((node, anchor)) = done else {
                continue;
            };
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                Some(Frame::Seq(items, _)) => items.push(node),
                Some(Frame::Map(entries, key, _)) => match key.take() {
                    Some(k) => entries.push((k, node)),
                    None => *key = Some(node),
                },
                None => {
                    if in_doc && root.is_none() {
                        root = Some(node);
                    }
                }
            }
        }
        Ok(root)
    }

    fn size(r: &Raw) -> usize {
        match r {
            Raw::Scalar { .. } => 1,
            Raw::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
            Raw::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| size(k) + size(v))
                    .sum::<usize>()
            }
        }
    }

    fn is_merge(k: &Raw) -> bool {
        match k {
            Raw::Scalar { value, plain, tag } => {
                value == "<<"
                    && match tag {
                        None => *plain,
                        Some(t) => t == "tag:yaml.org,2002:merge" || t == "!!merge",
                    }
            }
            _ => false,
        }
    }

    fn value(r: &Raw) -> Result<V, ReadError> {
        Ok(match r {
            Raw::Scalar { value, plain, tag } => {
                let null_tag = matches!(tag.as_deref(), Some("tag:yaml.org,2002:null" | "!!null"));
                if null_tag
                    || (*plain
                        && tag.is_none()
                        && matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
                {
                    V::Null
                } else {
                    V::Str(value.clone())
                }
            }
            Raw::Seq(items) => V::Seq(items.iter().map(value).collect::<Result<_, _>>()?),
            Raw::Map(entries) => {
                let mut out: Vec<(String, V)> = Vec::new();
                apply(entries, &mut out)?;
                V::Map(out)
            }
        })
    }

    /// Sets `key` in `out` the way a Go map assignment does: replacing an existing key in
    /// place of its last value.
    fn set(out: &mut Vec<(String, V)>, key: String, v: V) {
        out.retain(|(k, _)| *k != key);
        out.push((key, v));
    }

    fn apply(entries: &[(Raw, Raw)], out: &mut Vec<(String, V)>) -> Result<(), ReadError> {
        for (k, v) in entries {
            if is_merge(k) {
                match v {
                    Raw::Map(m) => apply(m, out)?,
                    // Earlier sources take precedence: go-yaml applies them backwards.
                    Raw::Seq(items) => {
                        for item in items.iter().rev() {
                            match item {
                                Raw::Map(m) => apply(m, out)?,
                                _ => {
                                    return Err(ReadError::Refused(
                                        "a merge list holds something that is not a mapping".into(),
                                    ));
                                }
                            }
                        }
                    }
                    _ => {
                        return Err(ReadError::Refused(
                            "a merge key's value is not a mapping".into(),
                        ));
                    }
                }
                continue;
            }
            let key = match k {
                Raw::Scalar { value, .. } => value.clone(),
                _ => {
                    return Err(ReadError::Refused(
                        "a mapping key is a collection (invalid map key)".into(),
                    ));
                }
            };
            set(out, key, value(v)?);
        }
        Ok(())
    }
}
