//! The Argo CD sidecar, checked without a cluster and without Docker: the `deploy/` kustomize
//! Component, the `Dockerfile`, `plugin.yaml`, and the runtime behaviour the image relies on.
//!
//! Argo CD only runs a Config Management Plugin if the sidecar is wired exactly as its code
//! expects (Argo CD's `cmpserver/` and its repo-server manifests): `argocd-cmp-server` (copied into the
//! `var-files` volume by the repo-server's init container) as the entrypoint, uid 999 so the
//! repo-server can reach the socket, the `plugins` volume shared with the repo-server, and its
//! own `cmp-tmp` volume at `/tmp`, never the repo-server's `tmp`. A mistake there is only seen
//! after a rollout, as a plugin that never registers, so these tests check it here:
//!
//! - **deploy/**: a temporary kustomization takes Argo CD's real `argocd-repo-server`
//!   Deployment (`tests/fixtures/argocd-repo-server/deployment.yaml`, verbatim from upstream) as
//!   its resource and `deploy/` as a component, and the installed `kubectl kustomize` renders it
//!   (also `kubectl.1.33` when it sits next to `kubectl`). The sidecar must match the contract
//!   and the patch must add only the sidecar and the `cmp-tmp` volume: the repo-server
//!   container, its init container and every existing volume stay exactly as in the input.
//!   The sidecar's image tag must be `v<crate version>`, so a release bump cannot leave the
//!   manifests pointing at the previous image.
//!   Kustomize refuses an absolute path as a component (`new root '/…/deploy' cannot be
//!   absolute`), so the kustomization names `deploy/` by a relative path.
//! - **Dockerfile**: parsed as text. A build stage and a separate final stage; the final stage
//!   runs as the numeric uid 999 (numeric so the kubelet can enforce `runAsNonRoot`), copies the
//!   binary that the build stage's `cargo build` produces to a directory on the image's PATH as
//!   `kubectl-gitops`, copies `plugin.yaml` to where argocd-cmp-server reads it, and has
//!   `/var/run/argocd/argocd-cmp-server` as its entrypoint. Every file the build needs (the
//!   manifest, the lock file, each `path =` of Cargo.toml) is copied and not excluded by
//!   `.dockerignore`. `plugin.yaml`'s commands start with the binary name the image installs.
//! - **Runtime**: the image runs `generate` as uid 999 with a read-only root filesystem, HOME=/tmp
//!   and the source extracted by argocd-cmp-server (files 0644, dirs 0755). So the real binary
//!   runs `generate` on such a copy of `testdata/my-microservice` as uid 999 (as root, through
//!   `setpriv`), and with the tree and HOME read-only and TMPDIR an empty directory: it must
//!   succeed, print the golden `env-dev` render, and leave all three trees unchanged (listings,
//!   sizes, contents, modes, mtimes and ctimes). Root ignores missing write bits, so as root
//!   the read-only run is repeated as uid 999, where they are enforced; the snapshots catch a
//!   write either way, even a file created and removed again (the directory's mtime moves).
//!
//! The kubectl tests skip, with a printed reason, only when `kubectl` is not on PATH; the uid-999
//! run skips unless the test runs as root with `setpriv` available.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Output};

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

#[path = "support/kubectl.rs"]
mod kubectl;
use kubectl::{find_on_path, kubectls};

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn show(out: &Output) -> String {
    format!(
        "\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------------------------
// A small YAML reader (independent of the crate under test): documents as JSON values, scalars
// resolved as YAML 1.2's core schema does, which is all kubectl's output and plugin.yaml need.
// ---------------------------------------------------------------------------------------------

enum Frame {
    Seq(Vec<Value>),
    Map(Map<String, Value>, Option<String>),
}

fn yaml_documents(text: &str, what: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, _) = event.unwrap_or_else(|e| panic!("{what}: not YAML: {e:?}"));
        let value = match event {
            Event::Scalar(s, style, _, tag) => {
                if let Some(Frame::Map(_, key @ None)) = stack.last_mut() {
                    *key = Some(s.into_owned());
                    continue;
                }
                scalar(&s, style, tag.is_some())
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(Vec::new()));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map(Map::new(), None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop().unwrap() {
                Frame::Seq(items) => Value::Array(items),
                Frame::Map(map, _) => Value::Object(map),
            },
            Event::Alias(_) => panic!("{what}: unexpected alias"),
            _ => continue,
        };
        match stack.last_mut() {
            None => docs.push(value),
            Some(Frame::Seq(items)) => items.push(value),
            Some(Frame::Map(map, key)) => {
                let key = key.take().unwrap();
                assert!(
                    map.insert(key.clone(), value).is_none(),
                    "{what}: duplicate key {key}"
                );
            }
        }
    }
    docs.retain(|d| !d.is_null());
    docs
}

fn scalar(s: &str, style: ScalarStyle, tagged: bool) -> Value {
    if style != ScalarStyle::Plain || tagged {
        return Value::String(s.to_owned());
    }
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(s.to_owned())),
    }
}

fn only_document(text: &str, what: &str) -> Value {
    let mut docs = yaml_documents(text, what);
    assert_eq!(docs.len(), 1, "{what}: expected exactly one document");
    docs.pop().unwrap()
}

/// The element of `list` whose `name` is `name`, with a message naming `what` if absent.
fn named<'a>(list: &'a Value, name: &str, what: &str) -> &'a Value {
    let items = list
        .as_array()
        .unwrap_or_else(|| panic!("{what} is not a list"));
    let found: Vec<_> = items.iter().filter(|v| v["name"] == name).collect();
    assert_eq!(found.len(), 1, "{what}: expected one entry named {name}");
    found[0]
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// deploy/ rendered with kubectl kustomize
// ---------------------------------------------------------------------------------------------

const FIXTURE: &str = "tests/fixtures/argocd-repo-server/deployment.yaml";
const SIDECAR: &str = "kubectl-gitops";
const REPO_SERVER: &str = "argocd-repo-server";

/// `to` relative to the directory `from` (both absolute, canonical).
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..from.len() {
        rel.push("..");
    }
    for c in &to[common..] {
        rel.push(c);
    }
    rel
}

/// Renders the fixture Deployment with `deploy/` as a component; returns (input, rendered).
fn render_deploy(kubectl: &Path) -> (Value, Value) {
    render_kustomization(kubectl, |component| {
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             resources:\n- deployment.yaml\ncomponents:\n- {component}\n"
        )
    })
}

/// Builds, with `kubectl kustomize`, the kustomization `text(component)` in a directory
/// holding the fixture as `deployment.yaml`, where `component` is the relative path to
/// `deploy/`; returns (the fixture, the rendered repo-server Deployment).
fn render_kustomization(kubectl: &Path, text: impl Fn(&str) -> String) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let kdir = fs::canonicalize(dir.path()).unwrap();
    fs::copy(root().join(FIXTURE), kdir.join("deployment.yaml")).unwrap();
    let deploy = fs::canonicalize(root().join("deploy")).unwrap();
    let component = relative_path(&kdir, &deploy);
    fs::write(
        kdir.join("kustomization.yaml"),
        text(&component.display().to_string()),
    )
    .unwrap();
    let out = Command::new(kubectl)
        .args(["kustomize", "--load-restrictor", "LoadRestrictionsNone"])
        .arg(&kdir)
        // Nothing here needs a cluster; keep the developer's kubeconfig out of it.
        .env("KUBECONFIG", kdir.join("no-kubeconfig"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} kustomize failed{}",
        kubectl.display(),
        show(&out)
    );
    let rendered = String::from_utf8(out.stdout).unwrap();
    let input = only_document(&read(FIXTURE), FIXTURE);
    let output = yaml_documents(&rendered, "kubectl kustomize output")
        .into_iter()
        .find(|d| d["kind"] == "Deployment" && d["metadata"]["name"] == REPO_SERVER)
        .expect("the rendered repo-server Deployment");
    (input, output)
}

fn check_deploy(kubectl: &Path) {
    let (input, output) = render_deploy(kubectl);
    check_sidecar(&kubectl.display().to_string(), &input, &output);
}

/// The repo-server Deployment `output` is `input` plus the sidecar, as the contract says.
fn check_sidecar(k: &str, input: &Value, output: &Value) {
    assert_eq!(output["kind"], "Deployment", "{k}");
    assert_eq!(output["metadata"]["name"], REPO_SERVER, "{k}");
    let pod = &output["spec"]["template"]["spec"];
    let pod_in = &input["spec"]["template"]["spec"];

    // The sidecar, as the contract (§4) describes it.
    let sidecar = named(&pod["containers"], SIDECAR, "containers");
    assert_eq!(
        sidecar["command"],
        json!(["/var/run/argocd/argocd-cmp-server"]),
        "{k}: the sidecar must run argocd-cmp-server from var-files, not the image's default"
    );
    let sc = &sidecar["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true, "{k}: runAsNonRoot");
    assert_eq!(
        sc["runAsUser"], 999,
        "{k}: runAsUser (the repo-server's uid)"
    );
    assert_eq!(
        sc["readOnlyRootFilesystem"], true,
        "{k}: readOnlyRootFilesystem"
    );
    let image = sidecar["image"].as_str().unwrap_or("");
    assert!(
        image.ends_with(&format!(":v{}", env!("CARGO_PKG_VERSION"))),
        "{k}: the sidecar image {image:?} is not this release (v{})",
        env!("CARGO_PKG_VERSION")
    );

    let mounts: BTreeMap<&str, &str> = sidecar["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap(),
                m["name"].as_str().unwrap(),
            )
        })
        .collect();
    for (path, volume) in [
        ("/var/run/argocd", "var-files"),
        ("/home/argocd/cmp-server/plugins", "plugins"),
        ("/tmp", "cmp-tmp"),
    ] {
        assert_eq!(
            mounts.get(path),
            Some(&volume),
            "{k}: the sidecar must mount volume {volume} at {path}; mounts: {mounts:?}"
        );
    }
    assert!(
        !mounts
            .keys()
            .any(|p| p.starts_with("/home/argocd/cmp-server/config")),
        "{k}: a mount under /home/argocd/cmp-server/config would hide the plugin.yaml baked into \
         the image; mounts: {mounts:?}"
    );

    // cmp-tmp is the sidecar's own emptyDir, not the repo-server's tmp.
    let cmp_tmp = named(&pod["volumes"], "cmp-tmp", "volumes");
    assert_eq!(
        cmp_tmp["emptyDir"],
        json!({}),
        "{k}: cmp-tmp must be an emptyDir"
    );
    let repo_server = named(&pod["containers"], REPO_SERVER, "containers");
    let repo_server_tmp = repo_server["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/tmp")
        .map(|m| m["name"].as_str().unwrap())
        .unwrap();
    assert_ne!(
        repo_server_tmp, "cmp-tmp",
        "{k}: the repo-server's /tmp volume"
    );
    assert!(
        !mounts.values().any(|v| *v == repo_server_tmp),
        "{k}: the sidecar must not mount the repo-server's tmp volume ({repo_server_tmp})"
    );
    let volume_names = names(&pod["volumes"]);
    for m in mounts.values() {
        assert!(
            volume_names.contains(m),
            "{k}: the sidecar mounts {m}, which is not a volume of the pod"
        );
    }

    // var-files and plugins are still Argo CD's, and every other existing volume is untouched.
    for name in ["var-files", "plugins"] {
        assert_eq!(
            named(&pod["volumes"], name, "volumes"),
            named(&pod_in["volumes"], name, "input volumes"),
            "{k}: volume {name} changed"
        );
    }
    let mut volumes_in = names(&pod_in["volumes"]);
    volumes_in.push("cmp-tmp");
    volumes_in.sort_unstable();
    let mut volumes_out = volume_names.clone();
    volumes_out.sort_unstable();
    assert_eq!(
        volumes_out, volumes_in,
        "{k}: the patch must add exactly the cmp-tmp volume"
    );
    for name in names(&pod_in["volumes"]) {
        assert_eq!(
            named(&pod["volumes"], name, "volumes"),
            named(&pod_in["volumes"], name, "input volumes"),
            "{k}: volume {name} changed"
        );
    }

    // The repo-server container is unchanged, and so is everything else but the two additions.
    assert_eq!(
        repo_server,
        named(&pod_in["containers"], REPO_SERVER, "input containers"),
        "{k}: the repo-server container changed"
    );
    let mut stripped = output.clone();
    let spec = &mut stripped["spec"]["template"]["spec"];
    spec["containers"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["name"] != SIDECAR);
    spec["volumes"]
        .as_array_mut()
        .unwrap()
        .retain(|v| v["name"] != "cmp-tmp");
    assert_eq!(
        &stripped, input,
        "{k}: without the sidecar and cmp-tmp, the rendered Deployment must equal the input"
    );
}

const INSTALL_URL: &str =
    "https://raw.githubusercontent.com/argoproj/argo-cd/v3.2.0/manifests/install.yaml";
const COMPONENT_URL: &str = "https://github.com/kubectl-gitops/kubectl-gitops//deploy?ref=v";

/// The README's install snippet, built as a user builds it: the only changes are the two URLs
/// (no network here), Argo CD's install.yaml replaced by its repo-server Deployment and the
/// Component's URL by this checkout's deploy/.
#[test]
fn the_readme_install_snippet_builds() {
    let readme = read("README.md");
    let snippet = readme
        .split("```yaml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains(INSTALL_URL) && b.contains(COMPONENT_URL))
        .expect("README.md has a yaml block with Argo CD's install.yaml and the deploy Component")
        .to_string();
    let version_ref = format!("{COMPONENT_URL}{}", env!("CARGO_PKG_VERSION"));
    assert!(
        snippet.contains(&version_ref),
        "the README's Component URL must name this release (v{}):\n{snippet}",
        env!("CARGO_PKG_VERSION")
    );
    for kubectl in kubectls("the_readme_install_snippet_builds") {
        let (input, output) = render_kustomization(&kubectl, |component| {
            snippet
                .replace(INSTALL_URL, "deployment.yaml")
                .replace(&version_ref, component)
        });
        check_sidecar(&format!("{} (README)", kubectl.display()), &input, &output);
    }
}

/// examples/argocd-install builds (its Component is ../../deploy, not a cycle), with only
/// install.yaml's URL replaced.
#[test]
fn the_argocd_install_example_builds() {
    let example = read("examples/argocd-install/kustomization.yaml");
    assert!(example.contains(INSTALL_URL), "{example}");
    for kubectl in kubectls("the_argocd_install_example_builds") {
        let dir = tempfile::tempdir().unwrap();
        // The example's own place in the tree, so ../../deploy resolves as it does for users.
        let at = dir.path().join("examples/argocd-install");
        fs::create_dir_all(&at).unwrap();
        std::os::unix::fs::symlink(root().join("deploy"), dir.path().join("deploy")).unwrap();
        fs::copy(root().join(FIXTURE), at.join("deployment.yaml")).unwrap();
        fs::write(
            at.join("kustomization.yaml"),
            example.replace(INSTALL_URL, "deployment.yaml"),
        )
        .unwrap();
        let out = Command::new(&kubectl)
            .arg("kustomize")
            .arg(&at)
            .env("KUBECONFIG", at.join("no-kubeconfig"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{} kustomize{}",
            kubectl.display(),
            show(&out)
        );
        let output = yaml_documents(&String::from_utf8(out.stdout).unwrap(), "example")
            .into_iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap();
        let mut input = only_document(&read(FIXTURE), FIXTURE);
        input["metadata"]["namespace"] = json!("argocd");
        check_sidecar(&format!("{} (example)", kubectl.display()), &input, &output);
    }
}

/// deploy/argo-helm-values.yaml, rendered as the argo-helm chart's repo-server template
/// (charts/argo-cd/templates/argocd-repo-server/deployment.yaml) uses these documented
/// values: `repoServer.extraContainers` is appended to the pod's containers
/// (`{{- with .Values.repoServer.extraContainers }} {{- tpl (toYaml .) $ | nindent 6 }}`),
/// `repoServer.volumes` is put first among its volumes, before the chart's own plugins,
/// var-files and tmp. The chart is not installable here (no helm, no network), so the template
/// is applied to Argo CD's own repo-server Deployment, whose containers and volumes carry the
/// same names; the result must satisfy the same contract as the kustomize Component, and the
/// container must be exactly the Component's.
#[test]
fn argo_helm_values_give_the_same_sidecar() {
    let values = only_document(&read("deploy/argo-helm-values.yaml"), "argo-helm values");
    // Only keys the chart documents (values.yaml of argo/argo-cd).
    let top: Vec<&String> = values.as_object().unwrap().keys().collect();
    assert_eq!(top, ["repoServer"], "top-level keys");
    let repo_server = values["repoServer"].as_object().unwrap();
    for key in repo_server.keys() {
        assert!(
            ["extraContainers", "volumes"].contains(&key.as_str()),
            "repoServer.{key} is not one of the chart keys this snippet relies on"
        );
    }
    let containers = values["repoServer"]["extraContainers"].as_array().unwrap();
    let volumes = values["repoServer"]["volumes"].as_array().unwrap();
    // `tpl` would evaluate template markup: there must be none.
    assert!(!read("deploy/argo-helm-values.yaml").contains("{{"));

    let input = only_document(&read(FIXTURE), FIXTURE);
    let mut output = input.clone();
    let pod = &mut output["spec"]["template"]["spec"];
    pod["containers"]
        .as_array_mut()
        .unwrap()
        .extend(containers.iter().cloned());
    let mut all_volumes = volumes.clone();
    all_volumes.extend(pod["volumes"].as_array().unwrap().iter().cloned());
    pod["volumes"] = Value::Array(all_volumes);
    // The chart puts the user's volumes first: compare as the kustomize render orders them.
    let mut sorted = output.clone();
    sorted["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
        .sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut sorted_input = input.clone();
    sorted_input["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
        .sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    check_sidecar("argo-helm values", &sorted_input, &sorted);

    // The same container as the kustomize Component's patch.
    let patch = only_document(&read("deploy/repo-server-sidecar.yaml"), "sidecar patch");
    let component = named(
        &patch["spec"]["template"]["spec"]["containers"],
        SIDECAR,
        "patch containers",
    );
    assert_eq!(
        &containers[0], component,
        "the chart's sidecar and the Component's differ"
    );
    assert_eq!(
        volumes,
        patch["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap(),
        "the chart's volumes and the Component's differ"
    );
}

#[test]
fn deploy_component_adds_the_sidecar_as_the_contract_says() {
    for kubectl in kubectls("deploy_component_adds_the_sidecar_as_the_contract_says") {
        check_deploy(&kubectl);
    }
}

// ---------------------------------------------------------------------------------------------
// Dockerfile and plugin.yaml, as text
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Instruction {
    line: usize,
    keyword: String,
    args: String,
}

/// Instructions with line continuations joined and comment lines dropped.
fn dockerfile_instructions(text: &str) -> Vec<Instruction> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (body, continues) = match line.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (line, false),
        };
        let (_, joined) = pending.get_or_insert_with(|| (i + 1, String::new()));
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(body);
        if !continues {
            let (line, joined) = pending.take().unwrap();
            let (keyword, args) = joined
                .split_once(char::is_whitespace)
                .unwrap_or((&joined, ""));
            out.push(Instruction {
                line,
                keyword: keyword.to_ascii_uppercase(),
                args: args.trim().to_owned(),
            });
        }
    }
    assert!(pending.is_none(), "Dockerfile ends inside a continuation");
    out
}

#[derive(Debug)]
struct Stage {
    base: String,
    name: Option<String>,
    instructions: Vec<Instruction>,
}

impl Stage {
    fn all(&self, keyword: &str) -> impl Iterator<Item = &Instruction> {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
    }

    fn last(&self, keyword: &str) -> Option<&Instruction> {
        self.all(keyword).last()
    }
}

fn stages(instructions: &[Instruction]) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for i in instructions {
        if i.keyword == "FROM" {
            let words: Vec<&str> = i
                .args
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => Some((*name).to_owned()),
                [_] => None,
                _ => panic!("Dockerfile:{}: cannot read FROM {}", i.line, i.args),
            };
            stages.push(Stage {
                base: words[0].to_owned(),
                name,
                instructions: Vec::new(),
            });
        } else {
            stages
                .last_mut()
                .unwrap_or_else(|| panic!("Dockerfile:{}: {} before FROM", i.line, i.keyword))
                .instructions
                .push(i.clone());
        }
    }
    stages
}

/// A COPY/ADD: its `--from`, sources and destination (shell or JSON form).
struct Copy {
    from: Option<String>,
    sources: Vec<String>,
    dest: String,
}

fn parse_copy(i: &Instruction) -> Copy {
    let mut words: Vec<String> = i.args.split_whitespace().map(str::to_owned).collect();
    let mut from = None;
    while words.first().is_some_and(|w| w.starts_with("--")) {
        let flag = words.remove(0);
        if let Some(stage) = flag.strip_prefix("--from=") {
            from = Some(stage.to_owned());
        }
    }
    let rest = words.join(" ");
    let mut paths: Vec<String> = if rest.starts_with('[') {
        serde_json::from_str(&rest).unwrap()
    } else {
        words
    };
    assert!(
        paths.len() >= 2,
        "Dockerfile:{}: COPY needs a destination",
        i.line
    );
    let dest = paths.pop().unwrap();
    Copy {
        from,
        sources: paths,
        dest,
    }
}

/// Absolute destination of one source copied to `dest` from the directory `workdir`.
fn landed(workdir: &str, source: &str, dest: &str) -> String {
    let dest = if dest.starts_with('/') {
        dest.to_owned()
    } else {
        format!(
            "{}/{}",
            workdir.trim_end_matches('/'),
            dest.trim_start_matches("./")
        )
    };
    if dest.ends_with('/') || dest.ends_with("/.") {
        let base = Path::new(source).file_name().unwrap().to_str().unwrap();
        format!(
            "{}/{base}",
            dest.trim_end_matches('.').trim_end_matches('/')
        )
    } else {
        dest
    }
}

/// `.dockerignore` matching: `*` and `?` within a path segment, `**` across segments; a pattern
/// also excludes everything below what it matches; `!` re-includes; the last match wins.
fn dockerignored(path: &str, ignore: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) if p.get(1) == Some(&b'*') => {
                (0..=s.len()).any(|k| glob(&p[2..], &s[k..]))
            }
            (Some(b'*'), _) => (0..=s.len())
                .take_while(|&k| k == 0 || s[k - 1] != b'/')
                .any(|k| glob(&p[1..], &s[k..])),
            (Some(b'?'), Some(c)) if *c != b'/' => glob(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let path = path.trim_start_matches("./").trim_end_matches('/');
    let mut excluded = false;
    for line in ignore.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (negated, pattern) = match line.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, line),
        };
        let pattern = pattern
            .trim_start_matches('/')
            .trim_start_matches("./")
            .trim_end_matches('/');
        let matches = path
            .match_indices('/')
            .map(|(i, _)| &path[..i])
            .chain([path])
            .any(|prefix| glob(pattern.as_bytes(), prefix.as_bytes()));
        if matches {
            excluded = !negated;
        }
    }
    excluded
}

/// The PATH of an image whose Dockerfile sets none: what Debian-based and distroless base
/// images declare (and Docker's own default).
const DEFAULT_IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The Dockerfile's stages, at least two of them.
fn dockerfile() -> Vec<Stage> {
    let stages = stages(&dockerfile_instructions(&read("Dockerfile")));
    assert!(
        stages.len() >= 2,
        "the Dockerfile must be multi-stage (a build stage and a final stage); it has {}",
        stages.len()
    );
    stages
}

/// The final stage's `COPY --from=<build> … /…/kubectl-gitops`, checked against the build.
/// Returns the installed path.
fn installed_binary(stages: &[Stage]) -> String {
    let last = stages.last().unwrap();
    let copies: Vec<Copy> = last
        .all("COPY")
        .map(parse_copy)
        // (Other tools the image ships, such as the pinned kustomize, come from other stages.)
        .filter(|c| c.from.is_some() && c.dest.ends_with("/kubectl-gitops"))
        .collect();
    assert_eq!(
        copies.len(),
        1,
        "the final stage must copy exactly one artefact from the build stage"
    );
    let copy = &copies[0];
    let from = copy.from.as_deref().unwrap();
    let build = stages[..stages.len() - 1]
        .iter()
        .find(|s| s.name.as_deref() == Some(from))
        .unwrap_or_else(|| panic!("COPY --from={from}: no earlier stage of that name"));
    assert_ne!(
        build.base, last.base,
        "the final stage must not be the build image"
    );
    assert!(
        last.all("RUN").all(|r| !r.args.contains("cargo")),
        "the final stage must not build"
    );

    // What the build stage's cargo build produces.
    let cargo = build
        .all("RUN")
        .find(|r| r.args.contains("cargo build"))
        .expect("the build stage runs cargo build");
    let words: Vec<&str> = cargo.args.split_whitespace().collect();
    assert!(
        words.contains(&"--release"),
        "Dockerfile:{}: build with --release",
        cargo.line
    );
    assert!(
        words.contains(&"--locked"),
        "Dockerfile:{}: build with --locked (Cargo.lock pins the dependencies)",
        cargo.line
    );
    if let Some(i) = words.iter().position(|w| *w == "--bin") {
        assert_eq!(words[i + 1], "kubectl-gitops", "Dockerfile:{}", cargo.line);
    }
    let triple = words
        .iter()
        .position(|w| *w == "--target")
        .map(|i| format!("{}/", words[i + 1]));
    let workdir = build
        .last("WORKDIR")
        .map_or("/".to_owned(), |w| w.args.clone());
    let built = format!(
        "{}/target/{}release/kubectl-gitops",
        workdir.trim_end_matches('/'),
        triple.unwrap_or_default()
    );
    assert_eq!(
        copy.sources,
        [built.as_str()],
        "the final stage must copy what cargo build produced ({built})"
    );
    let workdir = last
        .last("WORKDIR")
        .map_or("/".to_owned(), |w| w.args.clone());
    landed(&workdir, &copy.sources[0], &copy.dest)
}

#[test]
fn dockerfile_is_multi_stage_and_runs_as_uid_999() {
    let stages = dockerfile();
    // A named build stage runs cargo build; the final stage, on another base, only copies.
    installed_binary(&stages);
    let last = stages.last().unwrap();
    let user = last
        .last("USER")
        .expect("the final stage must set USER 999");
    let (uid, gid) = user
        .args
        .split_once(':')
        .map_or((user.args.as_str(), None), |(u, g)| (u, Some(g)));
    assert_eq!(
        uid, "999",
        "Dockerfile:{}: the final stage must run as the numeric uid 999 (the repo-server's uid; \
         numeric so the kubelet can check runAsNonRoot)",
        user.line
    );
    if let Some(gid) = gid {
        assert!(
            gid.parse::<u32>().is_ok(),
            "Dockerfile:{}: numeric gid",
            user.line
        );
    }
}

#[test]
fn dockerfile_installs_the_binary_on_path_and_plugin_yaml() {
    let stages = dockerfile();
    let last = stages.last().unwrap();

    let binary = installed_binary(&stages);
    let (dir, file) = binary.rsplit_once('/').unwrap();
    assert_eq!(
        file, "kubectl-gitops",
        "the binary must be installed as kubectl-gitops"
    );
    let path = last
        .all("ENV")
        .filter_map(|e| {
            let rest = e.args.strip_prefix("PATH")?;
            Some(
                rest.trim_start_matches(['=', ' '])
                    .trim_matches('"')
                    .to_owned(),
            )
        })
        .last()
        .unwrap_or_else(|| DEFAULT_IMAGE_PATH.to_owned());
    assert!(
        path.split(':').any(|p| p.trim_end_matches('/') == dir),
        "{binary} is not on the image's PATH ({path})"
    );

    let workdir = last
        .last("WORKDIR")
        .map_or("/".to_owned(), |w| w.args.clone());
    let plugin_copies: Vec<(Copy, String)> = last
        .all("COPY")
        .map(parse_copy)
        .filter(|c| c.from.is_none())
        .filter_map(|c| {
            let to = landed(&workdir, &c.sources[0], &c.dest);
            (to == "/home/argocd/cmp-server/config/plugin.yaml").then_some((c, to))
        })
        .collect();
    assert_eq!(
        plugin_copies.len(),
        1,
        "the final stage must copy plugin.yaml to /home/argocd/cmp-server/config/plugin.yaml"
    );
    assert_eq!(plugin_copies[0].0.sources, ["plugin.yaml"]);
}

#[test]
fn dockerfile_entrypoint_is_argocd_cmp_server() {
    let stages = dockerfile();
    let entrypoint = stages
        .last()
        .unwrap()
        .last("ENTRYPOINT")
        .expect("the final stage must have an ENTRYPOINT");
    let argv: Vec<String> = serde_json::from_str(&entrypoint.args).unwrap_or_else(|_| {
        panic!(
            "Dockerfile:{}: ENTRYPOINT must be the exec (JSON) form",
            entrypoint.line
        )
    });
    assert_eq!(argv, ["/var/run/argocd/argocd-cmp-server"]);
}

/// The files and directories Cargo.toml points at: every `path = "…"` (targets, path
/// dependencies, patches) and the default path of a `[[bench]]`, `[[test]]` or `[[example]]`
/// target that has a `name` but no `path` (cargo refuses to load a manifest whose target file
/// is missing, even when building something else).
fn cargo_paths(manifest: &str) -> Vec<String> {
    /// The value of `key = "…"` on this line (also inside an inline table).
    fn quoted(line: &str, key: &str) -> Option<String> {
        let at = line.find(&format!("{key} = \""))?;
        let before = line[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-') {
            return None;
        }
        let rest = &line[at + key.len() + 4..];
        Some(rest.split('"').next()?.trim_start_matches("./").to_owned())
    }
    // (section header, its lines)
    let mut sections: Vec<(&str, Vec<&str>)> = vec![("", Vec::new())];
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            sections.push((line, Vec::new()));
        } else {
            sections.last_mut().unwrap().1.push(line);
        }
    }
    let mut paths = Vec::new();
    for (header, lines) in sections {
        let explicit: Vec<String> = lines.iter().filter_map(|l| quoted(l, "path")).collect();
        let default_dir = match header {
            "[[bench]]" => Some("benches"),
            "[[test]]" => Some("tests"),
            "[[example]]" => Some("examples"),
            _ => None,
        };
        if let (Some(dir), true) = (default_dir, explicit.is_empty()) {
            let name = lines.iter().find_map(|l| quoted(l, "name")).unwrap();
            paths.push(format!("{dir}/{name}.rs"));
        }
        paths.extend(explicit);
    }
    paths
}

#[test]
fn dockerfile_build_context_has_what_cargo_needs() {
    let stages = dockerfile();
    let ignore = fs::read_to_string(root().join(".dockerignore")).unwrap_or_default();
    // Every source copied from the build context exists and is not excluded.
    for stage in &stages {
        for copy in stage.all("COPY").chain(stage.all("ADD")).map(parse_copy) {
            if copy.from.is_some() {
                continue;
            }
            for source in &copy.sources {
                assert!(
                    root().join(source).exists(),
                    "COPY {source}: not in the repository"
                );
                assert!(
                    !dockerignored(source, &ignore),
                    "COPY {source}: excluded by .dockerignore"
                );
            }
        }
    }
    // The build stage copies each file cargo reads to the same place under its WORKDIR.
    let binary_copy = stages
        .last()
        .unwrap()
        .all("COPY")
        .map(parse_copy)
        .find(|c| c.from.is_some() && c.dest.ends_with("/kubectl-gitops"))
        .unwrap();
    let from = binary_copy.from.unwrap();
    let build = stages
        .iter()
        .find(|s| s.name.as_deref() == Some(&from))
        .unwrap();
    let workdir = build.last("WORKDIR").expect("the build stage sets WORKDIR");
    let workdir = workdir.args.trim_end_matches('/');
    let mut available = Vec::new();
    for copy in build.all("COPY").map(parse_copy) {
        for source in &copy.sources {
            let to = landed(workdir, source, &copy.dest);
            let rel = to
                .strip_prefix(&format!("{workdir}/"))
                .unwrap_or_else(|| panic!("COPY {source}: lands outside {workdir}"));
            assert_eq!(
                rel,
                source.trim_end_matches('/'),
                "COPY {source}: the build needs the repository layout"
            );
            available.push(rel.to_owned());
        }
    }
    let mut needed = vec!["Cargo.toml".to_owned(), "Cargo.lock".to_owned()];
    if root().join("build.rs").exists() {
        needed.push("build.rs".to_owned());
    }
    needed.extend(cargo_paths(&read("Cargo.toml")));
    for need in &needed {
        assert!(
            available
                .iter()
                .any(|a| need == a || need.starts_with(&format!("{a}/"))),
            "cargo needs {need}, which the build stage does not copy (copied: {available:?})"
        );
    }
}

#[test]
fn plugin_yaml_commands_call_the_installed_binary() {
    let binary = installed_binary(&dockerfile());
    let name = binary.rsplit('/').next().unwrap();
    let plugin = only_document(&read("plugin.yaml"), "plugin.yaml");
    assert_eq!(plugin["kind"], "ConfigManagementPlugin");
    for (what, command) in [
        (
            "spec.generate.command",
            &plugin["spec"]["generate"]["command"],
        ),
        (
            "spec.parameters.dynamic.command",
            &plugin["spec"]["parameters"]["dynamic"]["command"],
        ),
    ] {
        let first = command[0]
            .as_str()
            .unwrap_or_else(|| panic!("plugin.yaml: {what} is missing"));
        assert!(
            first == name || first == binary,
            "plugin.yaml: {what} starts with {first:?}, but the image installs {binary}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Runtime: generate as the image runs it
// ---------------------------------------------------------------------------------------------

const APP: &str = "testdata/my-microservice";
const GOLDEN: &str = "tests/fixtures/testdata-my-microservice/env-dev.out";

/// A working directory laid out like the sidecar's: `repo/` (the source as argocd-cmp-server
/// extracts it: files 0644, dirs 0755), `home/`, `tmp/`, and `bin/kubectl-gitops` (a copy of
/// the built binary). The directory itself is 0755 so that uid 999 can reach everything.
struct Sandbox {
    dir: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let s = Sandbox { dir };
        copy_extracted(&root().join(APP), &s.app());
        fs::set_permissions(s.path("repo"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(s.path("repo/testdata"), fs::Permissions::from_mode(0o755)).unwrap();
        for d in ["home", "tmp", "bin"] {
            fs::create_dir(s.path(d)).unwrap();
            fs::set_permissions(s.path(d), fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::copy(env!("CARGO_BIN_EXE_kubectl-gitops"), s.bin()).unwrap();
        fs::set_permissions(s.bin(), fs::Permissions::from_mode(0o755)).unwrap();
        s
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn app(&self) -> PathBuf {
        self.path("repo").join(APP)
    }

    fn bin(&self) -> PathBuf {
        self.path("bin/kubectl-gitops")
    }

    /// `generate` in the app directory with only the variables Argo CD would set for this test,
    /// plus `extra`; through `setpriv` as uid 999 when `as_999` holds the path of setpriv.
    fn generate(&self, as_999: Option<&Path>, extra: &[(&str, &Path)]) -> Output {
        let mut cmd = match as_999 {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--reuid=999", "--regid=999", "--clear-groups", "--"])
                    .arg(self.bin());
                c
            }
            None => Command::new(self.bin()),
        };
        cmd.arg("generate")
            .current_dir(self.app())
            .env_clear()
            .env("ARGOCD_APP_SOURCE_PATH", APP)
            .env("ARGOCD_ENV_GITOPS_ENV", "dev");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }
}

impl Drop for Sandbox {
    /// Makes everything writable again so that the temporary directory can be removed.
    fn drop(&mut self) {
        fn writable(p: &Path) {
            let Ok(meta) = fs::symlink_metadata(p) else {
                return;
            };
            if meta.is_dir() {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
                for entry in fs::read_dir(p).into_iter().flatten().flatten() {
                    writable(&entry.path());
                }
            } else if meta.is_file() {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o644));
            }
        }
        writable(self.dir.path());
    }
}

/// Copies `src` to `dst` as argocd-cmp-server extracts a tarball without preserveFileMode.
fn copy_extracted(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755)).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let to = dst.join(entry.file_name());
        if kind.is_dir() {
            copy_extracted(&entry.path(), &to);
        } else if kind.is_file() {
            fs::copy(entry.path(), &to).unwrap();
            fs::set_permissions(&to, fs::Permissions::from_mode(0o644)).unwrap();
        } else {
            panic!(
                "{}: only files and directories expected",
                entry.path().display()
            );
        }
    }
}

/// Makes a tree read-only for everyone (`chmod -R a-w`).
fn read_only(p: &Path) {
    let meta = fs::symlink_metadata(p).unwrap();
    if meta.is_dir() {
        for entry in fs::read_dir(p).unwrap() {
            read_only(&entry.unwrap().path());
        }
    }
    let mode = meta.mode() & 0o7777 & !0o222;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Everything observable about a tree except access times.
#[derive(PartialEq)]
struct Entry {
    kind: &'static str,
    mode: u32,
    uid: u32,
    gid: u32,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    sha256: Option<Vec<u8>>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} mode {:o} owner {}:{} size {} mtime {}.{:09} ctime {}.{:09}",
            self.kind,
            self.mode & 0o7777,
            self.uid,
            self.gid,
            self.len,
            self.mtime.0,
            self.mtime.1,
            self.ctime.0,
            self.ctime.1
        )?;
        if let Some(sum) = &self.sha256 {
            write!(f, " sha256 ")?;
            for b in sum {
                write!(f, "{b:02x}")?;
            }
        }
        Ok(())
    }
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Entry> {
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
        let m = fs::symlink_metadata(p).unwrap();
        let kind = if m.is_dir() {
            "dir"
        } else if m.is_file() {
            "file"
        } else {
            "other"
        };
        let sha256 = m
            .is_file()
            .then(|| Sha256::digest(fs::read(p).unwrap()).to_vec());
        out.insert(
            p.strip_prefix(root).unwrap().to_owned(),
            Entry {
                kind,
                mode: m.mode(),
                uid: m.uid(),
                gid: m.gid(),
                len: m.len(),
                mtime: (m.mtime(), m.mtime_nsec()),
                ctime: (m.ctime(), m.ctime_nsec()),
                sha256,
            },
        );
        if m.is_dir() {
            for entry in fs::read_dir(p).unwrap() {
                walk(root, &entry.unwrap().path(), out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// A snapshot key for messages: `.` for the root itself.
fn shown(p: &Path) -> String {
    if p.as_os_str().is_empty() {
        ".".to_owned()
    } else {
        p.display().to_string()
    }
}

fn assert_unchanged(
    what: &str,
    before: &BTreeMap<PathBuf, Entry>,
    after: &BTreeMap<PathBuf, Entry>,
) {
    let mut problems = Vec::new();
    for (p, e) in after {
        match before.get(p) {
            None => problems.push(format!("created {}: {e:?}", shown(p))),
            Some(b) if b != e => problems.push(format!("changed {}: {b:?} -> {e:?}", shown(p))),
            Some(_) => {}
        }
    }
    for p in before.keys().filter(|p| !after.contains_key(*p)) {
        problems.push(format!("removed {}", shown(p)));
    }
    assert!(
        problems.is_empty(),
        "generate modified {what}:\n{}",
        problems.join("\n")
    );
}

fn assert_golden(out: &Output, how: &str) {
    assert!(out.status.success(), "generate {how} failed{}", show(out));
    assert!(
        String::from_utf8_lossy(&out.stdout) == read(GOLDEN),
        "generate {how}: stdout differs from {GOLDEN}{}",
        show(out)
    );
}

/// setpriv, when this test runs as root and uid 999 can reach the sandbox; else the reason.
fn setpriv_for_999(sandbox: &Sandbox) -> Result<PathBuf, String> {
    if fs::metadata(sandbox.dir.path()).unwrap().uid() != 0 {
        return Err("the test does not run as root, so it cannot switch to uid 999".into());
    }
    let Some(setpriv) = find_on_path("setpriv") else {
        return Err("setpriv is not on PATH".into());
    };
    for dir in sandbox.dir.path().ancestors().skip(1) {
        if fs::metadata(dir).unwrap().mode() & 0o001 == 0 {
            return Err(format!(
                "uid 999 cannot traverse {} (the temporary directory's parent)",
                dir.display()
            ));
        }
    }
    Ok(setpriv)
}

#[test]
fn generate_runs_as_uid_999() {
    let sandbox = Sandbox::new();
    let setpriv = match setpriv_for_999(&sandbox) {
        Ok(p) => p,
        Err(reason) => {
            eprintln!("generate_runs_as_uid_999: SKIPPED: {reason}");
            return;
        }
    };
    let normal = sandbox.generate(None, &[]);
    assert_golden(&normal, "as the test user");
    let as_999 = sandbox.generate(Some(&setpriv), &[]);
    assert!(
        as_999.status.success(),
        "generate as uid 999 failed{}",
        show(&as_999)
    );
    assert!(
        as_999.stdout == normal.stdout,
        "generate as uid 999 printed other bytes than as the test user{}",
        show(&as_999)
    );
}

#[test]
fn generate_writes_nothing_with_a_read_only_tree_and_home() {
    let sandbox = Sandbox::new();
    let (home, tmp, repo) = (
        sandbox.path("home"),
        sandbox.path("tmp"),
        sandbox.path("repo"),
    );
    read_only(&repo);
    read_only(&home);
    let before = [snapshot(&repo), snapshot(&home), snapshot(&tmp)];
    let env: [(&str, &Path); 2] = [("HOME", &home), ("TMPDIR", &tmp)];

    assert_golden(
        &sandbox.generate(None, &env),
        "with a read-only tree and HOME",
    );
    // Root ignores the missing write bits; the snapshots below still catch any write. As uid
    // 999 the read-only tree is enforced as well.
    match setpriv_for_999(&sandbox) {
        Ok(setpriv) => assert_golden(
            &sandbox.generate(Some(&setpriv), &env),
            "as uid 999 with a read-only tree and HOME",
        ),
        Err(reason) => eprintln!(
            "generate_writes_nothing_with_a_read_only_tree_and_home: note: not repeated as uid \
             999: {reason}"
        ),
    }

    let after = [snapshot(&repo), snapshot(&home), snapshot(&tmp)];
    for (i, what) in ["the app tree", "HOME", "TMPDIR"].iter().enumerate() {
        assert_unchanged(what, &before[i], &after[i]);
    }
}
