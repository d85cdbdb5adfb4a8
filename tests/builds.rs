//! Inputs teams already have (issue 11, item 1): directories holding a kustomization are built
//! with the real kustomize (`kubectl kustomize` here: kubectl 1.32 ships kustomize v5.5, and
//! `kubectl.1.33` beside it v5.6), Helm chart directories with `helm template`, then the
//! identity is applied to the result; and the sandbox around those builds in `generate`.
//!
//! The kustomize tests run the real tool on a base + overlay + patches + component +
//! configMapGenerator/secretGenerator + `crds:` repository written here. They are skipped
//! (with a message) when kubectl is not installed, and fail instead when
//! `KUBECTL_GITOPS_REQUIRE_TOOLS=1` (scripts/test) says it must be.
//!
//! Helm cannot be installed on these machines: its tests put a stand-in `helm` on PATH that
//! records the command line and environment it was given and prints a manifest made from
//! them, so the command kubectl-gitops builds is checked exactly, and the refusal when helm
//! is missing is checked with the real binary. Timeouts and the output limit use stand-in
//! `kustomize` scripts too (one that sleeps, one that floods).
//!
//! Sandboxed runs go through the Argo CD harness (`support/cmp_harness.rs`): `generate` in a
//! freshly extracted tree, with Argo CD's variables, the sidecar's PATH and `GITOPS_POLICY`.
//!
//! Also here (issue 8): only regular files are read (a FIFO named `*.yaml` is refused, never
//! waited on), and a gitops.yaml that is a symlink out of the repository is refused without
//! showing what it points to.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/cmp_harness.rs"]
mod cmp_harness;
#[path = "support/kubectl.rs"]
mod kubectl;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cmp_harness::{App, Run, Sidecar, Workdir, generate, parse_manifests};
use tempfile::TempDir;

/// The kustomize version the sidecar image ships (src/source/build.rs).
const PINNED: &str = kubectl_gitops::source::build::PINNED_KUSTOMIZE_VERSION;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A temporary repository (a folder holding `.git`).
struct Repo {
    dir: TempDir,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        Repo { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> &Self {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }
}

/// A folder of tools to put on PATH: links to real programs and stand-in scripts.
struct Tools {
    dir: TempDir,
}

impl Tools {
    fn new() -> Tools {
        Tools {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `name` on this PATH runs `target`.
    fn link(&self, name: &str, target: &Path) -> &Self {
        std::os::unix::fs::symlink(target, self.dir.path().join(name)).unwrap();
        self
    }

    /// `name` on this PATH is a shell script.
    fn script(&self, name: &str, body: &str) -> &Self {
        let p = self.dir.path().join(name);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        self
    }

    /// This folder, then only what the scripts need (`sh`, `cat`, `sleep`, ...).
    fn path_var(&self) -> String {
        format!("{}:/usr/bin:/bin", self.dir.path().display())
    }

    /// This folder alone: nothing else is found.
    fn only(&self) -> String {
        self.dir.path().display().to_string()
    }
}

/// One run of the binary.
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\n--- exit {:?} after {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// `kubectl-gitops <args>` in `cwd` with only PATH (and a HOME) set.
fn kg(cwd: &Path, path: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-gitops"));
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", path)
        .env("HOME", home.path())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    if let Some(text) = stdin {
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        elapsed: start.elapsed(),
    }
}

/// kubectl, or `None` after saying why (a failure when the tools are required).
fn kubectl(test: &str) -> Option<PathBuf> {
    match kubectl::find_on_path("kubectl") {
        Some(k) => Some(k),
        None if std::env::var_os("KUBECTL_GITOPS_REQUIRE_TOOLS").is_some() => {
            panic!("{test}: kubectl is required (KUBECTL_GITOPS_REQUIRE_TOOLS) and not on PATH")
        }
        None => {
            eprintln!("{test}: SKIPPED: kubectl is not on PATH");
            None
        }
    }
}

/// The kustomize version a kubectl embeds.
fn kustomize_version_of(kubectl: &Path) -> String {
    let out = Command::new(kubectl)
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["kustomizeVersion"].as_str().unwrap().to_string()
}

/// The version warning a render with this kubectl prints, if any.
fn version_warning(kubectl: &Path) -> Option<String> {
    let v = kustomize_version_of(kubectl);
    (v != PINNED).then(|| {
        format!(
            "warning: kubectl kustomize is kustomize {v}, but the kubectl-gitops sidecar image ships {PINNED}: Argo CD may build kustomizations differently than this render"
        )
    })
}

/// A shop written as kustomize users write it: a base with a Deployment, a Service, a
/// ConfigMap and a Secret generator, a component adding a PodDisruptionBudget, and overlays
/// for dev (a replicas patch, a merged ConfigMap literal, the component, a custom kind whose
/// reference to the ConfigMap is declared in `crds:`) and prod.
fn kustomize_shop(repo: &Repo) {
    repo.write(
        "shop/gitops.yaml",
        "app: shop\nenvironments:\n  dev: {namespace: shop-dev}\n  prod: {namespace: shop, protect: true}\npreview: {from: dev}\ncrossplane: {claims: [Widget.example.com]}\n",
    )
    .write(
        "shop/base/kustomization.yaml",
        "resources:\n- deployment.yaml\n- service.yaml\nconfigMapGenerator:\n- name: shop-config\n  literals: [MODE=base, LOG=info]\nsecretGenerator:\n- name: shop-secret\n  literals: [TOKEN=abc]\n",
    )
    .write(
        "shop/base/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  selector:\n    matchLabels: {app: shop}\n  template:\n    metadata:\n      labels: {app: shop}\n    spec:\n      containers:\n      - name: shop\n        image: shop:1\n        envFrom:\n        - configMapRef: {name: shop-config}\n        - secretRef: {name: shop-secret}\n",
    )
    .write(
        "shop/base/service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: shop\nspec:\n  selector: {app: shop}\n  ports: [{port: 80}]\n",
    )
    .write(
        "shop/components/pdb/kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n- pdb.yaml\n",
    )
    .write(
        "shop/components/pdb/pdb.yaml",
        "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: shop\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels: {app: shop}\n",
    )
    .write(
        "shop/overlays/dev/kustomization.yaml",
        "resources:\n- ../../base\n- widget.yaml\ncomponents:\n- ../../components/pdb\ncrds:\n- widget-openapi.yaml\npatches:\n- path: replicas.yaml\nconfigMapGenerator:\n- name: shop-config\n  behavior: merge\n  literals: [MODE=dev]\n",
    )
    .write(
        "shop/overlays/dev/replicas.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\nspec:\n  replicas: 5\n",
    )
    .write(
        "shop/overlays/dev/widget.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: shop-widget\nspec:\n  configRef:\n    name: shop-config\n",
    )
    .write(
        "shop/overlays/dev/widget-openapi.yaml",
        "github.com/example/widgets/api/v1.Widget:\n  Schema:\n    properties:\n      apiVersion: {type: string}\n      kind: {type: string}\n      metadata: {$ref: k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta}\n      spec: {$ref: github.com/example/widgets/api/v1.WidgetSpec}\ngithub.com/example/widgets/api/v1.WidgetSpec:\n  Schema:\n    properties:\n      configRef:\n        x-kubernetes-object-ref-api-version: v1\n        x-kubernetes-object-ref-kind: ConfigMap\n",
    )
    .write(
        "shop/overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\nreplicas:\n- {name: shop, count: 3}\n",
    );
}

// ---------------------------------------------------------------------------------------------
// kustomize, for real
// ---------------------------------------------------------------------------------------------

#[test]
fn kustomize_overlay_is_built_then_given_the_identity() {
    let Some(kubectl) = kubectl("kustomize_overlay_is_built_then_given_the_identity") else {
        return;
    };
    let repo = Repo::new();
    kustomize_shop(&repo);
    // Only kubectl on PATH: `kubectl kustomize` builds (no kustomize binary here).
    let tools = Tools::new();
    tools.link("kubectl", &kubectl);
    let out = kg(
        repo.dir.path(),
        &tools.only(),
        &["render", "shop/overlays/dev", "--pr", "7"],
        None,
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        out.stderr,
        version_warning(&kubectl).map_or(String::new(), |w| format!("{w}\n")),
        "{out}"
    );
    let objects = parse_manifests(&out.stdout).unwrap();
    let ids: Vec<String> = objects.iter().map(cmp_harness::Manifest::id).collect();
    // What kustomize built: the generated ConfigMap and Secret (hash-suffixed), the Service,
    // the Deployment, the Widget and the component's PDB; plus the preview's Namespace.
    assert_eq!(objects.len(), 7, "{ids:?}{out}");
    assert_eq!(ids[0], "Namespace/-/shop-pr-7");
    for m in &objects[1..] {
        assert_eq!(m.namespace(), Some("shop-pr-7"), "{}", m.id());
        assert!(m.name().ends_with("-pr-7"), "{}", m.id());
    }
    let config = objects
        .iter()
        .find(|m| m.kind() == "ConfigMap")
        .expect("the generated ConfigMap");
    assert!(
        config.name().starts_with("shop-config-"),
        "hash-suffixed by kustomize: {}",
        config.name()
    );
    assert_eq!(
        config.doc.at("data.MODE").and_then(cmp_harness::Node::str),
        Some("dev"),
        "merged"
    );
    let secret = objects.iter().find(|m| m.kind() == "Secret").unwrap();
    let deploy = objects.iter().find(|m| m.kind() == "Deployment").unwrap();
    assert_eq!(deploy.name(), "shop-pr-7");
    assert_eq!(
        deploy
            .doc
            .at("spec.replicas")
            .and_then(cmp_harness::Node::str),
        Some("5"),
        "the overlay's patch is applied"
    );
    // Every reference follows the names kustomize produced and the preview suffix.
    assert!(
        out.stdout.contains(&format!(
            "configMapRef:\n            name: {}\n",
            config.name()
        )),
        "{out}"
    );
    assert!(
        out.stdout.contains(&format!(
            "secretRef:\n            name: {}\n",
            secret.name()
        )),
        "{out}"
    );
    // A reference kustomize learns from crds: is renamed too.
    let widget = objects.iter().find(|m| m.kind() == "Widget").unwrap();
    assert_eq!(
        widget
            .doc
            .at("spec.configRef.name")
            .and_then(cmp_harness::Node::str),
        Some(config.name())
    );
    assert!(
        objects.iter().any(|m| m.kind() == "PodDisruptionBudget"),
        "the component"
    );

    // The same as piping kustomize's output in, byte for byte: the build is the input.
    let built = Command::new(&kubectl)
        .args(["kustomize", "shop/overlays/dev"])
        .current_dir(repo.dir.path())
        .output()
        .unwrap();
    assert!(built.status.success());
    let piped = kg(
        &repo.path("shop/overlays/dev"),
        &tools.only(),
        &["render", "-", "--pr", "7"],
        Some(&String::from_utf8(built.stdout).unwrap()),
    );
    assert_eq!(piped.code, Some(0), "{piped}");
    // (Without crds: knowledge the Widget's reference keeps kustomize's name: the only line
    // that differs.)
    let diff: Vec<(&str, &str)> = out
        .stdout
        .lines()
        .zip(piped.stdout.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(out.stdout.lines().count(), piped.stdout.lines().count());
    assert_eq!(diff.len(), 1, "{diff:?}");
    assert!(
        diff[0].0.ends_with("-pr-7") && !diff[0].1.ends_with("-pr-7"),
        "{diff:?}"
    );

    // An environment render of the prod overlay: namespace and protection, names as built.
    let prod = kg(
        repo.dir.path(),
        &tools.only(),
        &["render", "shop/overlays/prod", "--env", "prod"],
        None,
    );
    assert_eq!(prod.code, Some(0), "{prod}");
    let objects = parse_manifests(&prod.stdout).unwrap();
    assert_eq!(objects.len(), 4, "{prod}");
    assert!(
        objects.iter().all(|m| m.namespace() == Some("shop")),
        "{prod}"
    );
    assert!(prod.stdout.contains("replicas: 3"), "{prod}");
}

#[test]
fn kustomize_version_differing_from_the_image_warns() {
    let Some(kubectl) = kubectl("kustomize_version_differing_from_the_image_warns") else {
        return;
    };
    let repo = Repo::new();
    kustomize_shop(&repo);
    let mut checked = 0;
    for k in kubectl::kubectls("kustomize_version_differing_from_the_image_warns") {
        let tools = Tools::new();
        tools.link("kubectl", &k);
        let out = kg(
            repo.dir.path(),
            &tools.only(),
            &["render", "shop/overlays/prod"],
            None,
        );
        assert_eq!(out.code, Some(0), "{out}");
        let warned = out
            .stderr
            .contains("but the kubectl-gitops sidecar image ships");
        let version = kustomize_version_of(&k);
        eprintln!(
            "{}: kustomize {version}, pinned {PINNED}: warned {warned}",
            k.display()
        );
        assert_eq!(warned, version != PINNED, "{}{out}", k.display());
        checked += 1;
    }
    assert!(checked >= 1, "{}", kubectl.display());

    // A kustomize binary wins over kubectl; its own version output is understood.
    for (reported, warns) in [(PINNED, false), ("v5.4.3", true)] {
        let tools = Tools::new();
        tools.script(
            "kustomize",
            &format!(
                "case \"$1\" in version) echo {reported};; build) exec {} kustomize \"$2\";; esac",
                kubectl.display()
            ),
        );
        let out = kg(
            repo.dir.path(),
            &tools.path_var(),
            &["render", "shop/overlays/prod"],
            None,
        );
        assert_eq!(out.code, Some(0), "{out}");
        assert_eq!(
            out.stderr
                .contains(&format!("kustomize is kustomize {reported}, but")),
            warns,
            "{out}"
        );
    }
}

#[test]
fn sub_directories_with_a_kustomization_are_built_never_read_loose() {
    let Some(kubectl) = kubectl("sub_directories_with_a_kustomization_are_built_never_read_loose")
    else {
        return;
    };
    let repo = Repo::new();
    repo.write("app/gitops.yaml", "app: web\n")
        .write("app/namespace-free/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n")
        .write(
            "app/web/kustomization.yaml",
            "resources:\n- deployment.yaml\npatches:\n- path: patch.yaml\n",
        )
        .write(
            "app/web/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - {name: web, image: web:1}\n",
        )
        // A patch: read loose, it would be a second, broken Deployment.
        .write(
            "app/web/patch.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 4\n",
        );
    let tools = Tools::new();
    tools.link("kubectl", &kubectl);
    let out = kg(
        repo.dir.path(),
        &tools.only(),
        &["render", "app", "--namespace", "team"],
        None,
    );
    assert_eq!(out.code, Some(0), "{out}");
    let objects = parse_manifests(&out.stdout).unwrap();
    let ids: Vec<String> = objects.iter().map(cmp_harness::Manifest::id).collect();
    // Walk order: namespace-free/cm.yaml, then web/ (built) where its files would sort.
    assert_eq!(
        ids,
        ["ConfigMap/team/plain", "Deployment/team/web"],
        "{out}"
    );
    assert!(out.stdout.contains("replicas: 4"), "{out}");

    // Without kustomize or kubectl: refused, naming them, nothing on stdout.
    let empty = Tools::new();
    let out = kg(repo.dir.path(), &empty.only(), &["render", "app"], None);
    assert_eq!(out.code, Some(2), "{out}");
    assert_eq!(out.stdout, "");
    let first = out.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("app/web/kustomization.yaml: this folder is a kustomization, and neither kustomize nor kubectl is on PATH"),
        "{out}"
    );
    assert!(
        first.contains(&format!("install kustomize {PINNED}")),
        "{out}"
    );
    assert!(
        first.contains("| kubectl gitops render -"),
        "the escape hatch is named{out}"
    );
}

#[test]
fn the_preview_namespace_comes_from_one_overlay_not_from_its_base() {
    // Overlays of one base are variants, not two halves of an app: each emits the preview
    // Namespace (the app-wide view must not take the base or the other overlay for a sibling
    // Application).
    let Some(kubectl) = kubectl("the_preview_namespace_comes_from_one_overlay_not_from_its_base")
    else {
        return;
    };
    let repo = Repo::new();
    kustomize_shop(&repo);
    let tools = Tools::new();
    tools.link("kubectl", &kubectl);
    for overlay in ["shop/overlays/dev", "shop/overlays/prod"] {
        let out = kg(
            repo.dir.path(),
            &tools.only(),
            &["render", overlay, "--pr", "7"],
            None,
        );
        assert_eq!(out.code, Some(0), "{overlay}{out}");
        assert!(
            out.stdout
                .starts_with("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop-pr-7\n"),
            "{overlay}{out}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The sandbox in generate
// ---------------------------------------------------------------------------------------------

/// A kustomized app extracted for Argo CD, and the sidecar (kubectl on its PATH).
fn sidecar_with_kustomize(wd: &Workdir, kubectl: &Path) -> (Sidecar, Tools) {
    let tools = Tools::new();
    tools.link("kubectl", kubectl);
    let bin_dir = cmp_harness::bin().parent().unwrap().display().to_string();
    let mut sidecar = Sidecar::new(wd);
    sidecar.env[0].1 = format!("{bin_dir}:{}:/usr/bin:/bin", tools.dir.path().display());
    (sidecar, tools)
}

fn write_app(wd: &Workdir, kustomization: &str) {
    wd.write(
        "apps/web/gitops.yaml",
        "app: web\nenvironments:\n  dev: {namespace: web-dev}\n",
    )
    .write("apps/web/kustomization.yaml", kustomization)
    .write(
        "apps/web/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
    );
}

#[test]
fn generate_refuses_remote_and_outside_resources_unless_the_policy_allows() {
    let Some(kubectl) = kubectl("generate_refuses_remote_and_outside_resources") else {
        return;
    };
    let app = App::new("web-dev", "apps/web").env("GITOPS_ENV", "dev");

    // A plain kustomization: built in the sidecar.
    let wd = Workdir::new();
    write_app(&wd, "resources:\n- cm.yaml\n");
    let (sidecar, _tools) = sidecar_with_kustomize(&wd, &kubectl);
    let run = generate(&wd, &app, &sidecar);
    assert!(run.ok(), "{run}");
    assert!(run.stdout.contains("namespace: web-dev"), "{run}");

    // A remote base: refused before kustomize runs (no network is touched).
    for remote in [
        "https://github.com/example/platform//base?ref=v1",
        "github.com/example/platform/base?ref=v1",
    ] {
        let wd = Workdir::new();
        write_app(&wd, &format!("resources:\n- cm.yaml\n- {remote}\n"));
        let (sidecar, _tools) = sidecar_with_kustomize(&wd, &kubectl);
        let run = generate(&wd, &app, &sidecar);
        assert_refused(&run, "kustomization.yaml:3:3: resources entry");
        assert!(
            run.first_line().contains(
                "the platform policy does not allow remote resources (build.allowRemoteResources)"
            ),
            "{run}"
        );
    }

    // A base outside the repository (above the extracted root): refused; allowed by policy.
    let wd = Workdir::new();
    write_app(&wd, "resources:\n- cm.yaml\n- ../../../shared-base\n");
    let outside = wd.root.parent().unwrap().join("shared-base");
    fs::create_dir_all(&outside).unwrap();
    fs::write(
        outside.join("kustomization.yaml"),
        "resources:\n- extra.yaml\n",
    )
    .unwrap();
    fs::write(
        outside.join("extra.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n",
    )
    .unwrap();
    let (sidecar, tools) = sidecar_with_kustomize(&wd, &kubectl);
    let run = generate(&wd, &app, &sidecar);
    assert_refused(
        &run,
        "kustomization.yaml:3:3: resources entry \"../../../shared-base\" is outside the repository",
    );
    let policy = tools.dir.path().join("policy.yaml");
    fs::write(&policy, "build:\n  allowOutsideRepository: true\n").unwrap();
    let allowed = sidecar
        .clone()
        .with("GITOPS_POLICY", &policy.display().to_string());
    let run = generate(&wd, &app, &allowed);
    assert!(run.ok(), "{run}");
    assert!(run.stdout.contains("name: extra"), "{run}");

    // helmCharts needs --enable-helm: always refused, with the reason.
    let wd = Workdir::new();
    write_app(
        &wd,
        "helmCharts:\n- name: redis\n  repo: https://charts.example.com\n",
    );
    let (sidecar, _tools) = sidecar_with_kustomize(&wd, &kubectl);
    let run = generate(&wd, &app, &sidecar);
    assert_refused(
        &run,
        "kustomization.yaml:1:1: helmCharts needs kustomize --enable-helm",
    );
}

trait FirstLine {
    fn first_line(&self) -> &str;
}

impl FirstLine for Run {
    fn first_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }
}

fn assert_refused(run: &Run, prefix: &str) {
    assert_eq!(run.code, Some(2), "{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert!(run.first_line().starts_with(prefix), "want {prefix:?}{run}");
}

#[test]
fn a_build_that_hangs_or_floods_is_stopped() {
    let wd = Workdir::new();
    write_app(&wd, "resources:\n- cm.yaml\n");
    let app = App::new("web-dev", "apps/web").env("GITOPS_ENV", "dev");
    let tools = Tools::new();
    let bin_dir = cmp_harness::bin().parent().unwrap().display().to_string();
    let policy = tools.dir.path().join("policy.yaml");
    fs::write(&policy, "build:\n  timeoutSeconds: 1\n").unwrap();

    tools.script(
        "kustomize",
        "case \"$1\" in version) echo v5.6.0;; *) exec sleep 60;; esac",
    );
    let mut sidecar = Sidecar::new(&wd).with("GITOPS_POLICY", &policy.display().to_string());
    sidecar.env[0].1 = format!("{bin_dir}:{}", tools.path_var());
    let start = Instant::now();
    let run = generate(&wd, &app, &sidecar);
    assert!(start.elapsed() < Duration::from_secs(20), "{run}");
    assert_refused(&run, "kustomization.yaml: `kustomize build ");
    assert!(run.first_line().ends_with("did not finish within 1 s and was stopped (build.timeoutSeconds in the platform policy)"), "{run}");

    // More than the file size limit on stdout: stopped, not buffered.
    let tools = Tools::new();
    tools.script(
        "kustomize",
        "case \"$1\" in version) echo v5.6.0;; *) exec yes 'apiVersion: v1';; esac",
    );
    let mut sidecar = Sidecar::new(&wd);
    sidecar.env[0].1 = format!("{bin_dir}:{}", tools.path_var());
    let run = generate(&wd, &app, &sidecar);
    assert_refused(&run, "kustomization.yaml: `kustomize build ");
    assert!(
        run.first_line()
            .contains("printed more than 16777216 bytes (the file size limit) and was stopped"),
        "{run}"
    );

    // A failing build: its error is the message Argo CD shows.
    let tools = Tools::new();
    tools.script(
        "kustomize",
        "case \"$1\" in version) echo v5.6.0;; *) echo 'Error: accumulating resources: missing.yaml' >&2; exit 1;; esac",
    );
    let mut sidecar = Sidecar::new(&wd);
    sidecar.env[0].1 = format!("{bin_dir}:{}", tools.path_var());
    let run = generate(&wd, &app, &sidecar);
    assert_refused(&run, "kustomization.yaml: `kustomize build ");
    assert!(
        run.first_line()
            .ends_with("failed with exit status 1: Error: accumulating resources: missing.yaml"),
        "{run}"
    );
}

#[test]
fn kustomize_runs_with_its_defaults_in_a_clean_environment() {
    let wd = Workdir::new();
    write_app(&wd, "resources:\n- cm.yaml\n");
    let app = App::new("web-dev", "apps/web").env("GITOPS_ENV", "dev");
    let tools = Tools::new();
    let record = tools.dir.path().join("record");
    tools.script(
        "kustomize",
        &format!(
            "case \"$1\" in version) echo v5.6.0;; *) printf '%s\\n' \"$@\" > {r}.args; env | sort > {r}.env; printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: built\\n';; esac",
            r = record.display()
        ),
    );
    let bin_dir = cmp_harness::bin().parent().unwrap().display().to_string();
    let mut sidecar = Sidecar::new(&wd).with("SECRET_TOKEN", "s3cr3t");
    sidecar.env[0].1 = format!("{bin_dir}:{}", tools.path_var());
    let run = generate(&wd, &app, &sidecar);
    assert!(run.ok(), "{run}");
    assert!(run.stdout.contains("name: built"), "{run}");
    let args = fs::read_to_string(record.with_extension("args")).unwrap();
    // `kustomize build DIR`: no load restrictor override, no plugins, no exec, no helm.
    assert_eq!(args, "build\n.\n", "{args}");
    let env = fs::read_to_string(record.with_extension("env")).unwrap();
    assert!(
        !env.contains("s3cr3t"),
        "the sidecar's environment is not passed on: {env}"
    );
    assert!(!env.contains("ARGOCD_"), "{env}");
    let home = env.lines().find_map(|l| l.strip_prefix("HOME=")).unwrap();
    assert_ne!(home, wd.home.display().to_string(), "a private HOME");
    assert!(!Path::new(home).exists(), "removed after the build: {home}");
}

// ---------------------------------------------------------------------------------------------
// Helm (not installable here: a stand-in records the command line)
// ---------------------------------------------------------------------------------------------

fn write_chart(wd: &Workdir) {
    wd.write(
        "apps/cache/gitops.yaml",
        "app: cache\nenvironments:\n  dev: {namespace: cache-dev}\npreview: {from: dev}\nhelm:\n  releaseName: \"{app}-{env}\"\n  valueFiles: [values.yaml, \"values-{env}.yaml\"]\n",
    )
    .write("apps/cache/chart/Chart.yaml", "apiVersion: v2\nname: cache\nversion: 1.0.0\n")
    .write("apps/cache/chart/values.yaml", "replicas: 1\n")
    .write("apps/cache/chart/values-dev.yaml", "replicas: 2\n")
    .write("apps/cache/chart/templates/cm.yaml", "{{ .Release.Name }}\n");
}

#[test]
fn helm_template_gets_argo_cds_cluster_facts_and_private_homes() {
    let wd = Workdir::new();
    write_chart(&wd);
    let tools = Tools::new();
    let record = tools.dir.path().join("helm");
    tools.script(
        "helm",
        &format!(
            "printf '%s\\n' \"$@\" > {r}.args; env | sort > {r}.env; printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: %s-config\\n' \"$2\"",
            r = record.display()
        ),
    );
    let bin_dir = cmp_harness::bin().parent().unwrap().display().to_string();
    let mut sidecar = Sidecar::new(&wd);
    sidecar.env[0].1 = format!("{bin_dir}:{}", tools.path_var());
    let app = App::new("cache-pr-5", "apps/cache").env("GITOPS_PR", "5");
    let run = generate(&wd, &app, &sidecar);
    assert!(run.ok(), "{run}");
    // The release is gitops.yaml's, and the identity renames what helm rendered.
    assert!(
        run.stdout.contains("name: cache-dev-config-pr-5\n"),
        "{run}"
    );
    let args: Vec<String> = fs::read_to_string(record.with_extension("args"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut want: Vec<String> = [
        "template",
        "cache-dev",
        "chart",
        "--namespace",
        "cache-pr-5",
        "--kube-version",
        cmp_harness::KUBE_VERSION,
    ]
    .iter()
    .map(|s| (*s).to_string())
    .collect();
    for api in cmp_harness::kube_api_versions().split(',') {
        want.push("--api-versions".into());
        want.push(api.into());
    }
    want.extend(
        [
            "--include-crds",
            "--values",
            "chart/values.yaml",
            "--values",
            "chart/values-dev.yaml",
        ]
        .iter()
        .map(|s| (*s).to_string()),
    );
    assert_eq!(args, want);
    let env = fs::read_to_string(record.with_extension("env")).unwrap();
    let var = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} not set: {env}"))
            .to_string()
    };
    let home = var("HOME");
    for k in ["HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"] {
        assert!(
            var(k).starts_with(&home),
            "{k} under the private HOME: {env}"
        );
    }
    assert!(
        !Path::new(&home).exists(),
        "removed after the build: {home}"
    );
    assert!(!env.contains("ARGOCD_"), "{env}");

    // No helm on PATH: refused, naming it.
    let mut no_helm = Sidecar::new(&wd);
    no_helm.env[0].1 = format!("{bin_dir}:/usr/bin:/bin");
    let run = generate(&wd, &app, &no_helm);
    assert_refused(
        &run,
        "chart/Chart.yaml: this folder is a Helm chart, and helm is not on PATH",
    );
}

// ---------------------------------------------------------------------------------------------
// Reading only regular files inside the repository (issue 8)
// ---------------------------------------------------------------------------------------------

#[test]
fn a_fifo_named_yaml_is_refused_not_waited_on() {
    let repo = Repo::new();
    repo.write(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    let fifo = repo.path("app/pipe.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("a_fifo_named_yaml_is_refused_not_waited_on: SKIPPED: mkfifo failed");
        return;
    }
    for args in [vec!["render", "app"], vec!["render", "app/pipe.yaml"]] {
        let out = kg(repo.dir.path(), "/usr/bin:/bin", &args, None);
        assert_eq!(out.code, Some(2), "{args:?}{out}");
        assert!(out.elapsed < Duration::from_secs(10), "{out}");
        assert_eq!(
            out.stderr.lines().next().unwrap(),
            "app/pipe.yaml: not a regular file (a FIFO, socket or device): kubectl-gitops reads only regular files (use - to read standard input)",
            "{out}"
        );
    }
    // A device behind a symlink inside the repository is refused the same way... and one
    // outside it as leaving the repository.
    fs::remove_file(&fifo).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &fifo).unwrap();
    let out = kg(repo.dir.path(), "/usr/bin:/bin", &["render", "app"], None);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        out.stderr
            .starts_with("app/pipe.yaml: symlink to /dev/zero leaves the rendered directory"),
        "{out}"
    );
}

#[test]
fn a_gitops_yaml_symlink_out_of_the_repository_is_refused_unread() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("credentials");
    fs::write(&secret, "token: hunter2-very-secret\n[broken yaml\n").unwrap();
    let repo = Repo::new();
    repo.write(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    std::os::unix::fs::symlink(&secret, repo.path("app/gitops.yaml")).unwrap();
    let out = kg(
        repo.dir.path(),
        "/usr/bin:/bin",
        &["render", "app", "--env", "dev"],
        None,
    );
    assert_eq!(out.code, Some(2), "{out}");
    assert!(
        !out.stderr.contains("hunter2"),
        "nothing of the target is shown{out}"
    );
    assert!(
        out.stderr.starts_with(&format!(
            "{}: symlink to ",
            repo.dir
                .path()
                .canonicalize()
                .unwrap()
                .join("app/gitops.yaml")
                .display()
        )),
        "{out}"
    );
    assert!(out.stderr.lines().next().unwrap().ends_with("leaves the repository; kubectl-gitops reads no file outside it (nothing of it was read)"), "{out}");

    // The same in Argo CD, with the link one level up (the lookup stops at the repository).
    let wd = Workdir::new();
    wd.write(
        "apps/web/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    std::os::unix::fs::symlink(&secret, wd.path("apps/gitops.yaml")).unwrap();
    let run = generate(
        &wd,
        &App::new("web", "apps/web").env("GITOPS_ENV", "dev"),
        &Sidecar::new(&wd),
    );
    assert_eq!(run.code, Some(2), "{run}");
    assert!(!run.stderr.contains("hunter2"), "{run}");
    assert!(
        run.first_line().contains("gitops.yaml: symlink to "),
        "{run}"
    );

    // A manifest named directly that links out of the repository: refused, unread.
    let repo2 = Repo::new();
    std::os::unix::fs::symlink(&secret, repo2.path("stolen.yaml")).unwrap();
    let out = kg(
        repo2.dir.path(),
        "/usr/bin:/bin",
        &["render", "stolen.yaml"],
        None,
    );
    assert_eq!(out.code, Some(2), "{out}");
    assert!(!out.stderr.contains("hunter2"), "{out}");
    assert!(out.stderr.starts_with("stolen.yaml: symlink to "), "{out}");

    // A link inside the repository is fine.
    let repo = Repo::new();
    repo.write(
        "shared/gitops.yaml",
        "app: web\nenvironments: {dev: {namespace: web-dev}}\n",
    )
    .write(
        "app/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    std::os::unix::fs::symlink("../shared/gitops.yaml", repo.path("app/gitops.yaml")).unwrap();
    let out = kg(
        repo.dir.path(),
        "/usr/bin:/bin",
        &["render", "app", "--env", "dev"],
        None,
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert!(out.stdout.contains("namespace: web-dev"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// The image ships the pinned kustomize
// ---------------------------------------------------------------------------------------------

#[test]
fn dockerfile_ships_the_pinned_kustomize() {
    let text = fs::read_to_string(cmp_harness::project_root().join("Dockerfile")).unwrap();
    let pinned: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ARG KUSTOMIZE_VERSION="))
        .collect();
    assert_eq!(
        pinned,
        [PINNED],
        "the Dockerfile's KUSTOMIZE_VERSION and PINNED_KUSTOMIZE_VERSION (src/source/build.rs) must say the same"
    );
    // The final stage (after the last FROM) copies kustomize onto the sidecar's PATH, from the
    // stage that downloads that version and checks its checksum.
    let last_from = text.rfind("\nFROM ").unwrap();
    let (stages, last) = text.split_at(last_from);
    assert!(
        last.lines()
            .any(|l| l.starts_with("COPY --from=kustomize ")
                && l.ends_with(" /usr/local/bin/kustomize")),
        "{last}"
    );
    let stage = &stages[stages.find("AS kustomize").expect("a kustomize stage")..];
    assert!(
        stage.contains("checksums.txt") && stage.contains("sha256sum -c"),
        "{stage}"
    );
    assert!(
        stage.contains("kustomize_${KUSTOMIZE_VERSION}_linux_"),
        "{stage}"
    );
}
