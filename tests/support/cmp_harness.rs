//! A stand-in for `argocd-cmp-server` (Argo CD's Config Management Plugin sidecar), shared by
//! `tests/argocd_cmp.rs` and `tests/examples.rs` (`#[path = "support/cmp_harness.rs"]`).
//!
//! What it reproduces, read from Argo CD's code at master `37ee0097cf85` (`cmpserver/plugin/`,
//! `reposerver/repository/repository.go`, `util/io/files/tar.go`):
//! - **The extracted repository** (§3 "Source shipping"): a fresh work root
//!   (`<tmp>/_cmp_server`, mode 0700) and under it a per-request `<uuid>/` (0755) holding the
//!   repository files an Application needs, copied the way `files.Untgz` writes them without
//!   `preserveFileMode`: directories 0755, regular files 0644, relative symlinks recreated as
//!   they are (a link leaving the extraction root is refused, like `illegal filepath in
//!   symlink`).
//! - **The environment** (§1): `env_clear()`, then the sidecar container's own variables
//!   (`PATH` with the binary's folder, `HOME`, optional per-cluster `GITOPS_*`), then the
//!   request's entries in Argo CD's order (`newEnv`, `getPluginEnvs`, `getPluginParamEnvs`):
//!   the nine `ARGOCD_APP_*` variables, `KUBE_VERSION`, `KUBE_API_VERSIONS`, one
//!   `ARGOCD_ENV_<name>` per plugin env entry (name verbatim, value through Argo CD's
//!   `Envsubst`), `ARGOCD_APP_PARAMETERS` as Go's `json.Marshal` writes it (sorted keys, `null`
//!   for a plugin block without parameters, `<>&` escaped) and the `PARAM_*` variables. The
//!   dynamic-parameter command gets the reduced set of `populatePluginAppDetails`. Later
//!   entries win, as with Go's `os/exec`. Stdin is empty; the application's name is
//!   `InstanceName` (`<namespace>_<name>` outside the control-plane namespace `argocd`).
//! - **The command** (§1, §2): argv is plugin.yaml's `command` + `args`, exec'd without a
//!   shell, `command[0]` looked up in the sidecar's `PATH`, working directory
//!   `<root>/<spec.source.path>`. A failure becomes Argo CD's message
//!   ``"`<argv>` failed exit status N: <stderr, trimmed>"``.
//! - **Output parsing** (§3): stdout with one trailing `\n` trimmed, split into documents the
//!   way apimachinery's `YAMLReader` does (lines starting with `---`, followed only by spaces
//!   or a comment), empty and `null` documents dropped, each document parsed with
//!   saphyr-parser's event API (not kubectl-gitops's own reader) into a small tree, every
//!   object required to have a `kind`, documents with an `items` list flattened (and
//!   `items: null` lists without spec/status dropped, `isNullList`). A JSON object stream
//!   (output starting with `{`) is read with serde_json.
//!
//! What it cannot reproduce: there is no real Argo CD, gRPC, tarball, socket or repo-server
//! here. Not modelled: discovery (`MatchRepository`) and `init`; `.argocd-source*.yaml`
//! overrides; the whole-repository tarball (only the needed subset is copied, without
//! `.git`), manifest-generate-paths narrowing and tar exclusions; git credentials; the gRPC
//! deadline and its SIGTERM/SIGKILL of the process group; the 100 MiB message limit; the
//! conversion of every document to JSON by sigs.k8s.io/yaml (YAML 1.1 typing, duplicate-key
//! rules) and tracking annotations added afterwards; the Redis manifest cache.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use saphyr_parser::{Event, Parser, ScalarStyle};
use tempfile::TempDir;

/// The namespace Argo CD itself runs in (Applications elsewhere get `<ns>_<name>`).
pub const CONTROL_PLANE_NAMESPACE: &str = "argocd";
/// The uid and gid of the sidecar user in Argo CD's manifests.
pub const ARGOCD_UID: u32 = 999;
/// A resolved commit (ARGOCD_APP_REVISION).
pub const REVISION: &str = "3f6c1e0b9a7d4c2e8f105b6a7c9d0e1f2a3b4c5d";
/// The destination cluster's version, as `k8sversion.ParseGeneric().String()` prints it.
pub const KUBE_VERSION: &str = "1.31.4";

/// The repository this crate lives in.
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-gitops"))
}

/// The API list a small cluster serves, sorted and comma-joined like `APIResourcesToStrings`.
pub fn kube_api_versions() -> String {
    let mut v = vec![
        "v1",
        "v1/ConfigMap",
        "v1/Namespace",
        "v1/PersistentVolumeClaim",
        "v1/Secret",
        "v1/Service",
        "v1/ServiceAccount",
        "apps/v1",
        "apps/v1/Deployment",
        "apps/v1/StatefulSet",
        "batch/v1",
        "batch/v1/CronJob",
        "batch/v1/Job",
        "networking.k8s.io/v1",
        "networking.k8s.io/v1/Ingress",
        "networking.k8s.io/v1/NetworkPolicy",
        "rbac.authorization.k8s.io/v1",
        "rbac.authorization.k8s.io/v1/Role",
        "rbac.authorization.k8s.io/v1/RoleBinding",
    ];
    v.sort_unstable();
    v.join(",")
}

// ---------------------------------------------------------------------------------------------
// The extracted repository
// ---------------------------------------------------------------------------------------------

/// The sidecar's scratch space for one request: `<tmp>/_cmp_server/<uuid>/` (the repository
/// root) and `<tmp>/home` (the sidecar's `HOME`). Everything is removed on drop.
pub struct Workdir {
    tmp: TempDir,
    /// `<tmp>/_cmp_server/<uuid>`: the repository root Argo CD extracts into.
    pub root: PathBuf,
    /// The sidecar's HOME.
    pub home: PathBuf,
}

static REQUESTS: AtomicUsize = AtomicUsize::new(0);

fn mkdir_0755(path: &Path) {
    fs::create_dir_all(path).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

impl Workdir {
    pub fn new() -> Workdir {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("_cmp_server");
        fs::create_dir(&work).unwrap();
        fs::set_permissions(&work, fs::Permissions::from_mode(0o700)).unwrap();
        // A uuid-shaped, unique name, like files.CreateTempDir.
        let n = REQUESTS.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let uuid = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            std::process::id(),
            n & 0xffff,
            nanos & 0xfff,
            (nanos >> 12) & 0xfff,
            n
        );
        let root = work.join(uuid);
        mkdir_0755(&root);
        let home = tmp.path().join("home");
        mkdir_0755(&home);
        Workdir { tmp, root, home }
    }

    /// The whole scratch space (work root and HOME).
    pub fn scratch(&self) -> &Path {
        self.tmp.path()
    }

    /// `<root>/<rel>`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Extracts `<project>/<rel>` as `<root>/<rel>`.
    pub fn extract(&self, rel: &str) -> &Self {
        self.extract_as(rel, rel)
    }

    /// Extracts `<project>/<src>` as `<root>/<dst>`: parent folders 0755, then the tree as
    /// `files.Untgz` writes it (folders 0755, files 0644, symlinks as they are).
    pub fn extract_as(&self, src: &str, dst: &str) -> &Self {
        let from = project_root().join(src);
        let to = self.root.join(dst);
        let mut parent = self.root.clone();
        for c in Path::new(dst)
            .parent()
            .into_iter()
            .flat_map(Path::components)
        {
            parent.push(c);
            mkdir_0755(&parent);
        }
        self.copy_tree(&from, &to);
        self
    }

    fn copy_tree(&self, from: &Path, to: &Path) {
        let meta = fs::symlink_metadata(from).unwrap();
        if meta.file_type().is_symlink() {
            let link = fs::read_link(from).unwrap();
            assert!(
                link.is_relative(),
                "{}: absolute symlinks are rewritten by the repo-server; keep test links relative",
                from.display()
            );
            self.check_inbound(to, &link);
            std::os::unix::fs::symlink(&link, to).unwrap();
        } else if meta.is_dir() {
            mkdir_0755(to);
            let mut entries: Vec<_> = fs::read_dir(from)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            entries.sort();
            for name in entries {
                self.copy_tree(&from.join(&name), &to.join(&name));
            }
        } else if meta.is_file() {
            fs::copy(from, to).unwrap();
            fs::set_permissions(to, fs::Permissions::from_mode(0o644)).unwrap();
        }
        // Other file types are not archived (only dirs, regular files and symlinks are).
    }

    /// Argo CD refuses a symlink whose target leaves the extraction root.
    fn check_inbound(&self, link_path: &Path, target: &Path) {
        let base = link_path
            .parent()
            .unwrap()
            .strip_prefix(&self.root)
            .unwrap();
        let mut depth: i64 = 0;
        for c in base.components().chain(target.components()) {
            match c {
                Component::ParentDir => depth -= 1,
                Component::Normal(_) => depth += 1,
                _ => {}
            }
            assert!(
                depth >= 0,
                "illegal filepath in symlink: {} -> {}",
                link_path.display(),
                target.display()
            );
        }
    }

    /// Writes a file (0644), creating folders (0755).
    pub fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.root.join(rel);
        let mut parent = self.root.clone();
        for c in Path::new(rel)
            .parent()
            .into_iter()
            .flat_map(Path::components)
        {
            parent.push(c);
            mkdir_0755(&parent);
        }
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        self
    }

    /// Creates an empty folder (0755).
    pub fn mkdir(&self, rel: &str) -> &Self {
        mkdir_0755(&self.root.join(rel));
        self
    }

    /// Rewrites a file's text.
    pub fn edit(&self, rel: &str, f: impl FnOnce(&str) -> String) -> &Self {
        let p = self.root.join(rel);
        let text = fs::read_to_string(&p).unwrap();
        fs::write(&p, f(&text)).unwrap();
        self
    }

    /// Every path under the scratch space with its type, size, mtime and link target.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = BTreeMap::new();
        snapshot_into(self.tmp.path(), self.tmp.path(), &mut out);
        Snapshot(out)
    }

    /// `chmod -R a-w` of the scratch space. When the tests run as root (whom modes do not
    /// stop), the tree is also handed to uid/gid 999, and the returned [`RunAs`] runs
    /// commands as that user, like the real sidecar.
    pub fn make_read_only(&self) -> RunAs {
        let privileged = fs::metadata(self.tmp.path()).unwrap().uid() == 0;
        walk_all(self.tmp.path(), &mut |p, meta| {
            if privileged {
                std::os::unix::fs::lchown(p, Some(ARGOCD_UID), Some(ARGOCD_UID)).unwrap();
            }
            if !meta.file_type().is_symlink() {
                let mode = meta.permissions().mode() & 0o7777 & !0o222;
                fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
            }
        });
        if privileged {
            // The TempDir itself is 0700 and root's: let the sidecar user in.
            fs::set_permissions(self.tmp.path(), fs::Permissions::from_mode(0o555)).unwrap();
            RunAs(Some((ARGOCD_UID, ARGOCD_UID)))
        } else {
            RunAs(None)
        }
    }

    /// Undoes [`Workdir::make_read_only`]'s modes (owners are left; root can delete anyway).
    pub fn make_writable(&self) {
        walk_all(self.tmp.path(), &mut |p, meta| {
            if !meta.file_type().is_symlink() {
                let mode = meta.permissions().mode() & 0o7777 | 0o200;
                fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
            }
        });
    }
}

impl Default for Workdir {
    fn default() -> Self {
        Workdir::new()
    }
}

/// Who commands run as (None: the test process's own user).
#[derive(Clone, Copy, Debug, Default)]
pub struct RunAs(pub Option<(u32, u32)>);

fn walk_all(root: &Path, f: &mut dyn FnMut(&Path, &fs::Metadata)) {
    let meta = fs::symlink_metadata(root).unwrap();
    if meta.is_dir() {
        for e in fs::read_dir(root).unwrap() {
            walk_all(&e.unwrap().path(), f);
        }
    }
    f(root, &meta);
}

fn snapshot_into(base: &Path, p: &Path, out: &mut BTreeMap<String, String>) {
    let meta = fs::symlink_metadata(p).unwrap();
    let rel = p.strip_prefix(base).unwrap().display().to_string();
    let mtime = format!("{}.{:09}", meta.mtime(), meta.mtime_nsec());
    let entry = if meta.file_type().is_symlink() {
        format!("link -> {}", fs::read_link(p).unwrap().display())
    } else if meta.is_dir() {
        format!("dir mtime={mtime}")
    } else {
        format!("file size={} mtime={mtime}", meta.len())
    };
    out.insert(rel, entry);
    if meta.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            snapshot_into(base, &e.unwrap().path(), out);
        }
    }
}

/// A tree listing for "wrote nothing" checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot(pub BTreeMap<String, String>);

impl Snapshot {
    /// Readable differences, empty when equal.
    pub fn diff(&self, after: &Snapshot) -> String {
        let mut d = String::new();
        for (k, v) in &self.0 {
            match after.0.get(k) {
                None => writeln!(d, "removed: {k} ({v})").unwrap(),
                Some(w) if w != v => writeln!(d, "changed: {k}: {v} -> {w}").unwrap(),
                _ => {}
            }
        }
        for (k, v) in &after.0 {
            if !self.0.contains_key(k) {
                writeln!(d, "added: {k} ({v})").unwrap();
            }
        }
        d
    }
}

// ---------------------------------------------------------------------------------------------
// The Application and the environment Argo CD builds from it
// ---------------------------------------------------------------------------------------------

/// One `spec.source.plugin.parameters` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub string: Option<String>,
    pub array: Option<Vec<String>>,
    pub map: Option<BTreeMap<String, String>>,
}

impl Param {
    pub fn string(name: &str, value: &str) -> Param {
        Param {
            name: name.into(),
            string: Some(value.into()),
            ..Param::default()
        }
    }

    /// `ApplicationSourcePluginParameter.MarshalJSON`: a Go map, so keys come out sorted
    /// (`array`, `map`, `name`, `string`).
    fn go_json(&self, out: &mut String) {
        out.push('{');
        let mut first = true;
        let mut key = |out: &mut String, k: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            go_json_string(k, out);
            out.push(':');
        };
        if let Some(a) = &self.array {
            key(out, "array");
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(v, out);
            }
            out.push(']');
        }
        if let Some(m) = &self.map {
            key(out, "map");
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                go_json_string(k, out);
                out.push(':');
                go_json_string(v, out);
            }
            out.push('}');
        }
        key(out, "name");
        go_json_string(&self.name, out);
        if let Some(s) = &self.string {
            key(out, "string");
            go_json_string(s, out);
        }
        out.push('}');
    }
}

/// A JSON string as Go's `encoding/json` writes it (HTML-safe: `<`, `>`, `&`, U+2028 and
/// U+2029 escaped; `\b`/`\f` short forms as in Go 1.22+; lowercase hex).
pub fn go_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                write!(out, "\\u{:04x}", c as u32).unwrap();
            }
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).unwrap(),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `ARGOCD_APP_PARAMETERS`: `json.Marshal` of the parameter list (`null` when there is none).
pub fn go_marshal_parameters(params: &[Param]) -> String {
    if params.is_empty() {
        // A nil slice. (An explicit `parameters: []` would give `[]`; the API server's
        // omitempty round trip turns it into nil.)
        return "null".into();
    }
    let mut out = String::from("[");
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        p.go_json(&mut out);
    }
    out.push(']');
    out
}

/// `escaped` in types.go: upper-case, then every rune outside `[A-Z0-9_]` becomes `_`.
fn param_env_name(name: &str) -> String {
    name.to_uppercase()
        .chars()
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Go's `os.Expand` with Argo CD's mapping (`Env.Envsubst`): `$$` is `$`, known names are
/// replaced, unknown ones become empty.
pub fn envsubst(s: &str, vars: &[(String, String)]) -> String {
    let lookup = |name: &str| -> String {
        if name == "$" {
            return "$".into();
        }
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let special = |b: u8| b"*#$@!?-0123456789".contains(&b);
    let alnum = |b: u8| b == b'_' || b.is_ascii_alphanumeric();
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0; // start of the pending literal
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.push_str(&s[i..j]);
            let rest = &b[j + 1..];
            // getShellName
            let (name, w): (Option<&str>, usize) = if rest[0] == b'{' {
                if rest.len() > 2 && special(rest[1]) && rest[2] == b'}' {
                    (Some(&s[j + 2..j + 3]), 3)
                } else {
                    match rest.iter().skip(1).position(|&c| c == b'}') {
                        Some(0) => (None, 2),
                        Some(p) => (Some(&s[j + 2..j + 2 + p]), p + 2),
                        None => (None, 1),
                    }
                }
            } else if special(rest[0]) {
                (Some(&s[j + 1..j + 2]), 1)
            } else {
                let n = rest.iter().take_while(|&&c| alnum(c)).count();
                if n == 0 {
                    (None, 0)
                } else {
                    (Some(&s[j + 1..j + 1 + n]), n)
                }
            };
            match name {
                Some(n) => out.push_str(&lookup(n)),
                None if w > 0 => {} // bad syntax: eaten
                None => out.push('$'),
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[i.min(s.len())..]);
    out
}

/// `spec.source.plugin`.
#[derive(Clone, Debug, Default)]
pub struct Plugin {
    pub name: Option<String>,
    pub env: Vec<(String, String)>,
    pub parameters: Vec<Param>,
}

/// What Argo CD knows about an Application when it asks the plugin for manifests.
#[derive(Clone, Debug)]
pub struct App {
    /// metadata.name
    pub name: String,
    /// metadata.namespace (the Application's own namespace)
    pub namespace: String,
    pub project: String,
    pub repo_url: String,
    /// spec.source.path, as written
    pub path: String,
    pub target_revision: String,
    /// The resolved commit.
    pub revision: String,
    /// spec.destination.namespace (may be empty)
    pub dest_namespace: String,
    /// None: no plugin block (discovery); Some: the block, possibly `{}`.
    pub plugin: Option<Plugin>,
    pub kube_version: String,
    pub kube_api_versions: String,
}

impl App {
    /// An Application in `argocd` named `name` for `path`, with an empty plugin block.
    pub fn new(name: &str, path: &str) -> App {
        App {
            name: name.into(),
            namespace: CONTROL_PLANE_NAMESPACE.into(),
            project: "default".into(),
            repo_url: "https://github.com/example/my-microservice.git".into(),
            path: path.into(),
            target_revision: "main".into(),
            revision: REVISION.into(),
            dest_namespace: String::new(),
            plugin: Some(Plugin::default()),
            kube_version: KUBE_VERSION.into(),
            kube_api_versions: kube_api_versions(),
        }
    }

    /// A plugin env entry (`spec.source.plugin.env`).
    pub fn env(mut self, name: &str, value: &str) -> App {
        self.plugin
            .get_or_insert_with(Plugin::default)
            .env
            .push((name.into(), value.into()));
        self
    }

    /// A string plugin parameter.
    pub fn param(mut self, name: &str, value: &str) -> App {
        self.plugin
            .get_or_insert_with(Plugin::default)
            .parameters
            .push(Param::string(name, value));
        self
    }

    pub fn dest(mut self, namespace: &str) -> App {
        self.dest_namespace = namespace.into();
        self
    }

    /// The Application lives in `namespace` (apps-in-any-namespace).
    pub fn in_namespace(mut self, namespace: &str) -> App {
        self.namespace = namespace.into();
        self
    }

    /// No plugin block at all (the plugin was discovered).
    pub fn without_plugin_block(mut self) -> App {
        self.plugin = None;
        self
    }

    /// `app.InstanceName(controlPlaneNamespace)`.
    pub fn instance_name(&self) -> String {
        if self.namespace.is_empty() || self.namespace == CONTROL_PLANE_NAMESPACE {
            self.name.clone()
        } else {
            format!("{}_{}", self.namespace, self.name)
        }
    }

    /// The request env entries for `init`/`generate`, in Argo CD's order.
    pub fn generate_env(&self) -> Vec<(String, String)> {
        let short = |n: usize| self.revision.chars().take(n).collect::<String>();
        let mut env: Vec<(String, String)> = [
            ("ARGOCD_APP_NAME", self.instance_name()),
            ("ARGOCD_APP_NAMESPACE", self.dest_namespace.clone()),
            ("ARGOCD_APP_PROJECT_NAME", self.project.clone()),
            ("ARGOCD_APP_REVISION", self.revision.clone()),
            ("ARGOCD_APP_REVISION_SHORT", short(7)),
            ("ARGOCD_APP_REVISION_SHORT_8", short(8)),
            ("ARGOCD_APP_SOURCE_REPO_URL", self.repo_url.clone()),
            ("ARGOCD_APP_SOURCE_PATH", self.path.clone()),
            (
                "ARGOCD_APP_SOURCE_TARGET_REVISION",
                self.target_revision.clone(),
            ),
            ("KUBE_VERSION", self.kube_version.clone()),
            ("KUBE_API_VERSIONS", self.kube_api_versions.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.push_plugin_env(&mut env);
        env
    }

    /// The request env entries for the dynamic-parameter command (`populatePluginAppDetails`).
    pub fn parameters_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = [
            ("ARGOCD_APP_NAME", self.instance_name()),
            ("ARGOCD_APP_SOURCE_REPO_URL", self.repo_url.clone()),
            ("ARGOCD_APP_SOURCE_PATH", self.path.clone()),
            (
                "ARGOCD_APP_SOURCE_TARGET_REVISION",
                self.target_revision.clone(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        self.push_plugin_env(&mut env);
        env
    }

    /// `getPluginParamEnvs`: `ARGOCD_ENV_*` (substituted against the variables so far), then
    /// `ARGOCD_APP_PARAMETERS` and `PARAM_*`.
    fn push_plugin_env(&self, env: &mut Vec<(String, String)>) {
        let Some(plugin) = &self.plugin else {
            return;
        };
        let base = env.clone();
        for (name, value) in &plugin.env {
            env.push((format!("ARGOCD_ENV_{name}"), envsubst(value, &base)));
        }
        env.push((
            "ARGOCD_APP_PARAMETERS".into(),
            go_marshal_parameters(&plugin.parameters),
        ));
        for p in &plugin.parameters {
            let base = format!("PARAM_{}", param_env_name(&p.name));
            if let Some(s) = &p.string {
                env.push((base.clone(), s.clone()));
            }
            if let Some(m) = &p.map {
                // Go iterates a map in random order; sorted here.
                for (k, v) in m {
                    env.push((format!("{base}_{}", param_env_name(k)), v.clone()));
                }
            }
            if let Some(a) = &p.array {
                for (i, v) in a.iter().enumerate() {
                    env.push((format!("{base}_{i}"), v.clone()));
                }
            }
        }
    }

    /// The `render` flags that mean the same identity, by the documented precedence
    /// (parameters > `ARGOCD_ENV_GITOPS_*`; empty values count as unset). Defaults that only
    /// `generate` has (ARGOCD_APP_NAME, the destination namespace, sidecar `GITOPS_*`) are not
    /// included.
    pub fn equivalent_render_flags(&self) -> Vec<(String, String)> {
        let Some(plugin) = &self.plugin else {
            return Vec::new();
        };
        let mut flags = Vec::new();
        for field in ["env", "pr", "namespace", "app"] {
            let from_param = plugin
                .parameters
                .iter()
                .find(|p| p.name == field)
                .and_then(|p| p.string.clone())
                .filter(|v| !v.is_empty());
            let env_name = format!("GITOPS_{}", field.to_uppercase());
            let from_env = plugin
                .env
                .iter()
                .find(|(k, _)| *k == env_name)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty());
            if let Some(v) = from_param.or(from_env) {
                flags.push((field.to_string(), v));
            }
        }
        flags
    }
}

// ---------------------------------------------------------------------------------------------
// The sidecar and running commands
// ---------------------------------------------------------------------------------------------

/// The sidecar container's own environment, inherited by every command.
#[derive(Clone, Debug)]
pub struct Sidecar {
    pub env: Vec<(String, String)>,
    pub run_as: RunAs,
}

impl Sidecar {
    /// PATH with the binary's folder first (the image puts `kubectl-gitops` on PATH), and HOME.
    pub fn new(wd: &Workdir) -> Sidecar {
        let bin_dir = bin().parent().unwrap().display().to_string();
        Sidecar {
            env: vec![
                (
                    "PATH".into(),
                    format!(
                        "{bin_dir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                    ),
                ),
                ("HOME".into(), wd.home.display().to_string()),
            ],
            run_as: RunAs::default(),
        }
    }

    /// A variable set on the sidecar container (`env:` in the deployment).
    pub fn with(mut self, name: &str, value: &str) -> Sidecar {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn run_as(mut self, run_as: RunAs) -> Sidecar {
        self.run_as = run_as;
        self
    }
}

/// One command run by the harness.
#[derive(Clone, Debug)]
pub struct Run {
    pub argv: Vec<String>,
    pub dir: PathBuf,
    /// The full environment the command got.
    pub env: Vec<(String, String)>,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n--- `{}` in {}\n--- exit code: {:?} ({:?})\n--- stdout:\n{}\n--- stderr:\n{}",
            self.argv.join(" "),
            self.dir.display(),
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

impl Run {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// What the sidecar keeps of stdout (`strings.TrimSuffix(output, "\n")`).
    pub fn argo_stdout(&self) -> &str {
        self.stdout.strip_suffix('\n').unwrap_or(&self.stdout)
    }

    pub fn first_stderr_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }

    /// The error Argo CD reports (and shows in the UI) when the command fails.
    pub fn argo_error(&self) -> Option<String> {
        if self.ok() {
            return None;
        }
        let cause = match self.code {
            Some(c) => format!("exit status {c}"),
            None => "signal: killed".into(),
        };
        let stderr = self.stderr.trim();
        let args = go_args_to_log(&self.argv);
        Some(if stderr.is_empty() {
            format!("`{args}` failed {cause}")
        } else {
            format!("`{args}` failed {cause}: {stderr}")
        })
    }

    /// The manifests Argo CD would apply, or the error it would report.
    pub fn manifests(&self) -> Result<Vec<Manifest>, String> {
        parse_manifests(self.argo_stdout())
    }

    /// The environment value the command saw.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GetCommandArgsToLog`: arguments with white space quoted, empty ones as `""`.
fn go_args_to_log(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() {
                "\"\"".to_string()
            } else if a.chars().any(char::is_whitespace) {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Resolves `command[0]` like Go's `exec.LookPath` against the sidecar's PATH.
pub fn look_path(name: &str, env: &[(String, String)]) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    let path = env.iter().rev().find(|(k, _)| k == "PATH")?.1.clone();
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Runs `argv` in `dir` with the sidecar env followed by the request env (later wins),
/// nothing else, and no stdin.
pub fn run_command(
    argv: &[String],
    dir: &Path,
    sidecar: &Sidecar,
    request_env: &[(String, String)],
) -> Run {
    let mut env = sidecar.env.clone();
    env.extend(request_env.iter().cloned());
    let program = look_path(&argv[0], &env)
        .unwrap_or_else(|| panic!("{:?} is not on the sidecar's PATH", argv[0]));
    let mut cmd = Command::new(&program);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    if let Some((uid, gid)) = sidecar.run_as.0 {
        cmd.uid(uid).gid(gid);
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let elapsed = start.elapsed();
    Run {
        argv: argv.to_vec(),
        dir: dir.to_path_buf(),
        env,
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        elapsed,
    }
}

/// `GenerateManifest`: plugin.yaml's generate command in `<root>/<path>`.
pub fn generate(wd: &Workdir, app: &App, sidecar: &Sidecar) -> Run {
    let cfg = PluginConfig::load("plugin.yaml");
    run_command(
        &cfg.generate,
        &wd.root.join(&app.path),
        sidecar,
        &app.generate_env(),
    )
}

/// `GetParametersAnnouncement`: plugin.yaml's dynamic command in `<root>/<path>`.
pub fn parameters(wd: &Workdir, app: &App, sidecar: &Sidecar) -> Run {
    let cfg = PluginConfig::load("plugin.yaml");
    run_command(
        &cfg.dynamic,
        &wd.root.join(&app.path),
        sidecar,
        &app.parameters_env(),
    )
}

/// Runs `kubectl-gitops <args>` from the project root with a clean environment (no `ARGOCD_*`
/// or `GITOPS_*`), as the golden files were made.
pub fn render_locally(args: &[String]) -> Run {
    let start = Instant::now();
    let out = Command::new(bin())
        .args(args)
        .current_dir(project_root())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        argv: std::iter::once("kubectl-gitops".to_string())
            .chain(args.iter().cloned())
            .collect(),
        dir: project_root(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        elapsed: start.elapsed(),
    }
}

/// `render <path> --<flag> <value>...`
pub fn render_args(path: &str, flags: &[(String, String)]) -> Vec<String> {
    let mut args = vec!["render".to_string(), path.to_string()];
    for (k, v) in flags {
        args.push(format!("--{k}"));
        args.push(v.clone());
    }
    args
}

// ---------------------------------------------------------------------------------------------
// plugin.yaml
// ---------------------------------------------------------------------------------------------

/// The parts of a `ConfigManagementPlugin` the harness uses.
#[derive(Clone, Debug)]
pub struct PluginConfig {
    pub doc: Node,
    /// `<metadata.name>-<spec.version>` (or the name alone): the socket and plugin name.
    pub plugin_name: String,
    /// generate.command + generate.args
    pub generate: Vec<String>,
    /// parameters.dynamic.command + args (empty when there is none)
    pub dynamic: Vec<String>,
}

impl PluginConfig {
    /// Reads `<project>/<rel>`, checking what `ValidatePluginConfig` checks.
    pub fn load(rel: &str) -> PluginConfig {
        let text = fs::read_to_string(project_root().join(rel)).unwrap();
        let docs = parse_yaml(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(docs.len(), 1, "{rel}: one document");
        let doc = docs.into_iter().next().unwrap();
        assert_eq!(
            doc.at("kind").and_then(Node::str),
            Some("ConfigManagementPlugin"),
            "{rel}: kind"
        );
        let name = doc
            .at("metadata.name")
            .and_then(Node::str)
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| panic!("{rel}: metadata.name must be set"));
        let plugin_name = match doc.at("spec.version").and_then(Node::str) {
            Some(v) if !v.is_empty() => format!("{name}-{v}"),
            _ => name.to_string(),
        };
        let argv = |path: &str| -> Vec<String> {
            let mut v = doc
                .at(&format!("{path}.command"))
                .map_or_else(Vec::new, |n| {
                    n.strings().unwrap_or_else(|| panic!("{rel}: {path}"))
                });
            if let Some(a) = doc.at(&format!("{path}.args")) {
                v.extend(a.strings().unwrap());
            }
            v
        };
        let generate = argv("spec.generate");
        assert!(
            !generate.is_empty(),
            "{rel}: spec.generate.command is empty"
        );
        let dynamic = argv("spec.parameters.dynamic");
        PluginConfig {
            plugin_name,
            generate,
            dynamic,
            doc,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A small YAML tree from saphyr-parser events
// ---------------------------------------------------------------------------------------------

/// A YAML node. Scalars keep their text and whether they were plain (untagged, unquoted).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Scalar { value: String, plain: bool },
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { value, plain: true } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// A scalar's text (None for null and collections).
    pub fn str(&self) -> Option<&str> {
        match self {
            Node::Scalar { value, .. } if !self.is_null() => Some(value),
            _ => None,
        }
    }

    /// A scalar that a Kubernetes API server reads as a string: quoted, or plain and not a
    /// YAML 1.1/1.2 null, boolean or number (`string: 123` would be refused as a number).
    pub fn string_typed(&self) -> Option<&str> {
        match self {
            Node::Scalar {
                value,
                plain: false,
            } => Some(value),
            Node::Scalar { value, plain: true } if !plain_is_typed(value) => Some(value),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A dotted path of map keys (`spec.source.plugin`).
    pub fn at(&self, path: &str) -> Option<&Node> {
        path.split('.').try_fold(self, |n, k| n.get(k))
    }

    pub fn seq(&self) -> Option<&[Node]> {
        match self {
            Node::Seq(v) => Some(v),
            _ => None,
        }
    }

    pub fn map(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Map(v) => Some(v),
            _ => None,
        }
    }

    /// A list of string scalars.
    pub fn strings(&self) -> Option<Vec<String>> {
        self.seq()?
            .iter()
            .map(|n| n.str().map(str::to_string))
            .collect()
    }

    /// Every string scalar below this node, with its dotted path.
    pub fn walk<'a>(&'a self, path: &str, f: &mut dyn FnMut(&str, &'a Node)) {
        f(path, self);
        match self {
            Node::Seq(items) => {
                for (i, n) in items.iter().enumerate() {
                    n.walk(&format!("{path}[{i}]"), f);
                }
            }
            Node::Map(entries) => {
                for (k, n) in entries {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    n.walk(&p, f);
                }
            }
            Node::Scalar { .. } => {}
        }
    }

    /// A copy with every scalar passed through `f` (map keys are left alone).
    pub fn map_scalars(
        &self,
        f: &mut dyn FnMut(&str) -> Result<String, String>,
    ) -> Result<Node, String> {
        Ok(match self {
            Node::Scalar { value, plain } => Node::Scalar {
                value: f(value)?,
                plain: *plain,
            },
            Node::Seq(items) => Node::Seq(
                items
                    .iter()
                    .map(|n| n.map_scalars(f))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Map(entries) => Node::Map(
                entries
                    .iter()
                    .map(|(k, n)| Ok((k.clone(), n.map_scalars(f)?)))
                    .collect::<Result<_, String>>()?,
            ),
        })
    }

    pub fn from_json(v: &serde_json::Value) -> Node {
        match v {
            serde_json::Value::Null => Node::Scalar {
                value: "null".into(),
                plain: true,
            },
            serde_json::Value::Bool(b) => Node::Scalar {
                value: b.to_string(),
                plain: true,
            },
            serde_json::Value::Number(n) => Node::Scalar {
                value: n.to_string(),
                plain: true,
            },
            serde_json::Value::String(s) => Node::Scalar {
                value: s.clone(),
                plain: false,
            },
            serde_json::Value::Array(a) => Node::Seq(a.iter().map(Node::from_json).collect()),
            serde_json::Value::Object(o) => Node::Map(
                o.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Whether a plain scalar resolves to something other than a string (null, YAML 1.1 or 1.2
/// boolean, integer or float).
fn plain_is_typed(v: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", "yes",
        "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N",
        ".inf", ".Inf", ".INF", "-.inf", "+.inf", ".nan", ".NaN", ".NAN",
    ];
    if WORDS.contains(&v) {
        return true;
    }
    let t = v.strip_prefix(['-', '+']).unwrap_or(v).replace('_', "");
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if digits(&t) {
        return true;
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0o")) {
        return !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    }
    // Floats: digits with one dot and an optional exponent.
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t.as_str(), None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (digits(a) || a.is_empty())
                && (digits(b) || b.is_empty())
                && !(a.is_empty() && b.is_empty())
        }
        None => exp.is_some() && digits(mantissa),
    };
    let exp_ok = exp.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exp_ok
}

/// Parses a YAML stream into one [`Node`] per document, with saphyr-parser's event API.
/// Aliases are expanded; map keys must be scalars and unique.
pub fn parse_yaml(text: &str) -> Result<Vec<Node>, String> {
    enum Frame {
        Seq(Vec<Node>, usize),
        Map(Vec<(String, Node)>, Option<String>, usize),
    }
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| format!("invalid YAML: {e}"))?;
        let at = || format!("{}:{}", span.start.line(), span.start.col() + 1);
        let (node, anchor) = match event {
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(Vec::new(), anchor));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(Vec::new(), None, anchor));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => (Node::Seq(items), anchor),
                _ => return Err(format!("{}: unbalanced sequence", at())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, None, anchor)) => (Node::Map(entries), anchor),
                _ => return Err(format!("{}: unbalanced mapping", at())),
            },
            Event::Scalar(value, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain && tag.is_none();
                (
                    Node::Scalar {
                        value: value.into_owned(),
                        plain,
                    },
                    anchor,
                )
            }
            Event::Alias(id) => (
                anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("{}: unknown alias", at()))?,
                0,
            ),
            _ => continue,
        };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, key, _)) => match key.take() {
                None => match node {
                    Node::Scalar { value, .. } => *key = Some(value),
                    _ => return Err(format!("{}: a map key that is not a scalar", at())),
                },
                Some(k) => {
                    if entries.iter().any(|(e, _)| *e == k) {
                        return Err(format!("{}: duplicate key {k:?}", at()));
                    }
                    entries.push((k, node));
                }
            },
        }
    }
    Ok(docs)
}

/// apimachinery's `YAMLReader.Read`: documents separated by lines that start with `---`; only
/// spaces or a comment may follow on that line.
pub fn split_yaml_documents(text: &str) -> Result<Vec<String>, String> {
    let mut docs = Vec::new();
    let mut buf = String::new();
    for line in text.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("---") {
            let trimmed = rest.trim();
            if !trimmed.is_empty() && !trimmed.starts_with('#') {
                return Err(format!("invalid Yaml document separator: {trimmed}"));
            }
            if !buf.is_empty() {
                docs.push(std::mem::take(&mut buf));
            }
            continue;
        }
        buf.push_str(line);
    }
    if !buf.is_empty() {
        docs.push(buf);
    }
    Ok(docs)
}

/// One object Argo CD would apply.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub doc: Node,
}

impl Manifest {
    pub fn kind(&self) -> &str {
        self.doc.at("kind").and_then(Node::str).unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.doc
            .at("metadata.name")
            .and_then(Node::str)
            .unwrap_or("")
    }

    pub fn namespace(&self) -> Option<&str> {
        self.doc.at("metadata.namespace").and_then(Node::str)
    }

    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}",
            self.kind(),
            self.namespace().unwrap_or("-"),
            self.name()
        )
    }
}

/// `kube.SplitYAMLToString` + the repo-server's `SplitYAML`/`IsList` handling.
pub fn parse_manifests(stdout: &str) -> Result<Vec<Manifest>, String> {
    let mut docs: Vec<Node> = Vec::new();
    if stdout.trim_start().starts_with('{') {
        // YAMLOrJSONDecoder: a JSON object stream.
        for v in serde_json::Deserializer::from_str(stdout).into_iter::<serde_json::Value>() {
            let v = v.map_err(|e| format!("failed to unmarshal manifest: {e}"))?;
            docs.push(Node::from_json(&v));
        }
    } else {
        for (i, chunk) in split_yaml_documents(stdout)
            .map_err(|e| format!("failed to unmarshal manifest: {e}"))?
            .iter()
            .enumerate()
        {
            let mut parsed = parse_yaml(chunk)
                .map_err(|e| format!("failed to unmarshal manifest: document {i}: {e}"))?;
            match parsed.len() {
                0 => {}
                1 => docs.push(parsed.remove(0)),
                n => return Err(format!("document {i} holds {n} YAML documents")),
            }
        }
    }
    let mut out = Vec::new();
    for (i, doc) in docs.into_iter().enumerate() {
        if doc.is_null() {
            continue; // empty, whitespace-only or comment-only
        }
        if doc.map().is_none() {
            return Err(format!(
                "document {i}: not an object (top-level arrays and scalars are refused)"
            ));
        }
        let kind = doc.get("kind").and_then(Node::string_typed).unwrap_or("");
        if kind.is_empty() {
            return Err(format!("document {i}: Object 'Kind' is missing"));
        }
        match doc.get("items") {
            Some(Node::Seq(items)) => {
                for (j, item) in items.iter().enumerate() {
                    if item.map().is_none() {
                        return Err(format!("document {i}: items[{j}] is not an object"));
                    }
                    if item
                        .get("kind")
                        .and_then(Node::str)
                        .is_none_or(str::is_empty)
                    {
                        return Err(format!(
                            "document {i}: items[{j}]: Object 'Kind' is missing"
                        ));
                    }
                    out.push(Manifest { doc: item.clone() });
                }
            }
            Some(items)
                if items.is_null() && doc.get("spec").is_none() && doc.get("status").is_none() => {}
            _ => out.push(Manifest { doc }),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Golden renders
// ---------------------------------------------------------------------------------------------

/// One `tests/fixtures/testdata-*/<variant>.args` whose flags are identity flags only.
#[derive(Clone, Debug)]
pub struct Golden {
    /// e.g. `testdata-my-microservice/env-dev`
    pub id: String,
    /// The rendered path, e.g. `testdata/my-microservice`.
    pub path: String,
    /// Identity flags without dashes, e.g. `[("env", "dev")]`, in file order.
    pub flags: Vec<(String, String)>,
    pub out: String,
    /// Expected stderr (warnings), empty when there is no `.err`.
    pub err: String,
}

impl Golden {
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The golden's warnings as `generate` prints them in the app folder: paths relative to
    /// the app instead of the project root.
    pub fn err_relative_to_app(&self) -> String {
        let prefix = format!("{}/", self.path);
        self.err
            .lines()
            .map(|l| format!("{}\n", l.strip_prefix(&prefix).unwrap_or(l)))
            .collect()
    }
}

/// Every golden render of a `testdata/` repository that uses identity flags only.
pub fn goldens() -> Vec<Golden> {
    let fixtures = project_root().join("tests/fixtures");
    let mut out = Vec::new();
    let mut cases: Vec<_> = fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("testdata-"))
        })
        .collect();
    cases.sort();
    for case in cases {
        let mut args: Vec<_> = fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "args"))
            .collect();
        args.sort();
        'variant: for a in args {
            let text = fs::read_to_string(&a).unwrap();
            let words: Vec<&str> = text.split_whitespace().collect();
            let ["render", path, rest @ ..] = words.as_slice() else {
                continue;
            };
            let mut flags = Vec::new();
            let mut it = rest.iter();
            while let Some(flag) = it.next() {
                let Some(name) = flag.strip_prefix("--") else {
                    continue 'variant;
                };
                if !["env", "pr", "namespace", "app"].contains(&name) {
                    continue 'variant;
                }
                flags.push((name.to_string(), it.next().unwrap().to_string()));
            }
            let read = |ext: &str| fs::read_to_string(a.with_extension(ext)).unwrap_or_default();
            out.push(Golden {
                id: format!(
                    "{}/{}",
                    case.file_name().unwrap().to_string_lossy(),
                    a.file_stem().unwrap().to_string_lossy()
                ),
                path: (*path).to_string(),
                flags,
                out: read("out"),
                err: read("err"),
            });
        }
    }
    out
}

/// The golden render of `path` with exactly these identity flags (in any order).
pub fn golden_for(path: &str, flags: &[(String, String)]) -> Option<Golden> {
    let mut want = flags.to_vec();
    want.sort();
    goldens().into_iter().find(|g| {
        let mut have = g.flags.clone();
        have.sort();
        g.path == path && have == want
    })
}

/// `golden_for` with borrowed flags.
pub fn golden(path: &str, flags: &[(&str, &str)]) -> Golden {
    let flags: Vec<(String, String)> = flags
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    golden_for(path, &flags).unwrap_or_else(|| panic!("no golden render of {path} with {flags:?}"))
}

/// The first differing line of two texts, for readable failures.
pub fn first_difference(want: &str, got: &str) -> String {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        if w != g {
            return format!("line {}:\n  want: {w}\n   got: {g}", i + 1);
        }
    }
    format!(
        "lengths differ: want {} lines ({} bytes), got {} lines ({} bytes)",
        want.lines().count(),
        want.len(),
        got.lines().count(),
        got.len()
    )
}

/// Asserts `run` succeeded and printed exactly `golden.out`, which Argo CD parses into as many
/// objects as the golden file.
pub fn assert_matches_golden(run: &Run, golden: &Golden) {
    assert_eq!(run.code, Some(0), "{} should succeed{run}", golden.id);
    assert!(
        run.stdout == golden.out,
        "{}: generate differs from the golden render: {}{run}",
        golden.id,
        first_difference(&golden.out, &run.stdout)
    );
    let got = run
        .manifests()
        .unwrap_or_else(|e| panic!("Argo CD would refuse the output: {e}{run}"));
    let want = parse_manifests(golden.out.strip_suffix('\n').unwrap_or(&golden.out)).unwrap();
    assert_eq!(got.len(), want.len(), "{}: object count{run}", golden.id);
    assert!(!got.is_empty(), "{}: no objects{run}", golden.id);
}
