//! `kubectl-gitops fn`, the KRM function, driven by the real orchestrators and directly.
//!
//! - **kpt** (`kpt fn eval DIR --exec 'kubectl-gitops fn' -- env=dev app=web`): kpt reads the
//!   package, runs the function on a ResourceList and writes every object back to its file.
//!   The package afterwards must read, as Kubernetes reads YAML, exactly as `render` renders
//!   the original package with the same identity (a preview's Namespace lands in a file of
//!   its own); comments survive; the Kptfile is untouched; and an error fails the run with an
//!   `[error]` result and leaves every file as it was.
//! - **kustomize** (`kubectl kustomize --enable-alpha-plugins` with a `transformers:` entry of
//!   kind `KubectlGitops`, the binary linked under `KUSTOMIZE_PLUGIN_HOME` as kustomize's exec
//!   plugin layout requires): a base and an overlay with patches and a generator build to
//!   what `render -` makes of the overlay's plain build, with each kubectl (1.32 and, when
//!   present, 1.33).
//! - **Directly**: no identity is a byte-for-byte pass-through; warnings and errors become
//!   results naming the resource and its file; local configuration is left alone; the typed
//!   functionConfig carries gitops.yaml's settings; a bad functionConfig is refused.
//!
//! kpt and kubectl skip their tests with a message when missing, except under
//! `KUBECTL_GITOPS_REQUIRE_TOOLS=1` (`scripts/test`), where that fails.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/kubectl.rs"]
mod kubectl;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-gitops"))
}

fn show(what: &str, out: &Output) -> String {
    format!(
        "{what}\n--- status: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn required(test: &str, tool: &str) {
    assert!(
        std::env::var_os("KUBECTL_GITOPS_REQUIRE_TOOLS").is_none(),
        "{test}: {tool} is not installed (KUBECTL_GITOPS_REQUIRE_TOOLS is set, so this is a failure)"
    );
    eprintln!("{test}: SKIPPED: {tool} is not installed");
}

/// A command with no identity from the test's own environment.
fn clean(program: &Path) -> Command {
    let mut c = Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("GITOPS_") || k.starts_with("ARGOCD_") {
            c.env_remove(k);
        }
    }
    c
}

fn run_fn(args: &[&str], stdin: &str) -> Output {
    let mut child = clean(&bin())
        .arg("fn")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `render ARGS -o jsonl`: the objects as Kubernetes reads them, keyed by kind/namespace/name.
fn objects_of(output: &[u8]) -> BTreeMap<String, Value> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| {
            let key = format!(
                "{}/{}/{}",
                v["kind"].as_str().unwrap_or(""),
                v["metadata"]["namespace"].as_str().unwrap_or(""),
                v["metadata"]["name"].as_str().unwrap_or("")
            );
            (key, v)
        })
        .collect()
}

fn render_jsonl(path: &Path, args: &[&str], stdin: Option<&[u8]>) -> BTreeMap<String, Value> {
    let mut child = clean(&bin())
        .arg("render")
        .arg(path)
        .args(args)
        .args(["-o", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show("render", &out));
    objects_of(&out.stdout)
}

// ---------------------------------------------------------------------------------------------
// kpt
// ---------------------------------------------------------------------------------------------

const APP: &str = "\
# The web app: a comment kpt and kubectl-gitops must keep.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web # the Deployment
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        envFrom:
        - configMapRef:
            name: web-settings
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
";

const SETTINGS: &str = "\
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-settings
data:
  mode: \"yes\"
";

const KPTFILE: &str = "\
apiVersion: kpt.dev/v1
kind: Kptfile
metadata:
  name: web
  annotations:
    config.kubernetes.io/local-config: \"true\"
info:
  description: the web app
";

fn package(dir: &Path) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("app.yaml"), APP).unwrap();
    fs::write(dir.join("settings.yaml"), SETTINGS).unwrap();
    fs::write(dir.join("Kptfile"), KPTFILE).unwrap();
}

fn kpt() -> Option<PathBuf> {
    kubectl::find_on_path("kpt")
}

fn kpt_eval(dir: &Path, params: &[&str]) -> Output {
    let mut c = clean(&kpt().unwrap());
    c.args(["fn", "eval"])
        .arg(dir)
        .arg("--exec")
        .arg(format!("{} fn", bin().display()))
        .arg("--")
        .args(params)
        .env("HOME", dir.parent().unwrap());
    c.output().unwrap()
}

/// The package's manifests (not the Kptfile) as Kubernetes reads them, through `render`.
fn package_objects(dir: &Path) -> BTreeMap<String, Value> {
    let copy = tempfile::tempdir().unwrap();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "yaml") {
            fs::copy(&p, copy.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    render_jsonl(copy.path(), &[], None)
}

#[test]
fn kpt_fn_eval_renders_the_package_as_render_does() {
    const TEST: &str = "kpt_fn_eval_renders_the_package_as_render_does";
    if kpt().is_none() {
        return required(TEST, "kpt");
    }
    for (params, flags) in [
        (
            &["env=dev", "app=web"][..],
            &["--env", "dev", "--app", "web"][..],
        ),
        (
            &["pr=123", "app=web"][..],
            &["--pr", "123", "--app", "web"][..],
        ),
        (
            &["env=prod", "app=web", "namespace=web-prod"][..],
            &["--env", "prod", "--app", "web", "-n", "web-prod"][..],
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let original = tmp.path().join("original");
        fs::create_dir(&original).unwrap();
        fs::write(original.join("app.yaml"), APP).unwrap();
        fs::write(original.join("settings.yaml"), SETTINGS).unwrap();
        let pkg = tmp.path().join("web");
        package(&pkg);

        let out = kpt_eval(&pkg, params);
        assert!(
            out.status.success(),
            "{}",
            show(&format!("kpt fn eval {params:?}"), &out)
        );
        let want = render_jsonl(&original, flags, None);
        let got = package_objects(&pkg);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "kpt {params:?}: the package's objects"
        );
        for (k, w) in &want {
            assert_eq!(&got[k], w, "kpt {params:?}: {k}");
        }
        // Each object went back to its file, with its comments; the Kptfile is untouched;
        // no orchestrator annotation is left in the files.
        let app = fs::read_to_string(pkg.join("app.yaml")).unwrap();
        assert!(app.starts_with("# The web app: a comment"), "{app}");
        assert!(app.contains("# the Deployment"), "{app}");
        assert!(app.contains("kind: Service"), "{app}");
        assert!(!app.contains("config.kubernetes.io"), "{app}");
        assert_eq!(fs::read_to_string(pkg.join("Kptfile")).unwrap(), KPTFILE);
        let files: Vec<String> = fs::read_dir(&pkg)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let preview = params.contains(&"pr=123");
        assert_eq!(files.len(), if preview { 4 } else { 3 }, "{files:?}");
    }
}

#[test]
fn kpt_fn_render_runs_it_from_a_kptfile_pipeline() {
    const TEST: &str = "kpt_fn_render_runs_it_from_a_kptfile_pipeline";
    if kpt().is_none() {
        return required(TEST, "kpt");
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = fs::canonicalize(tmp.path()).unwrap();
    let original = root.join("original");
    fs::create_dir(&original).unwrap();
    fs::write(original.join("app.yaml"), APP).unwrap();
    fs::write(original.join("settings.yaml"), SETTINGS).unwrap();
    // `exec:` takes no arguments: the binary answers to kubectl-gitops-fn as `fn`.
    let exec = root.join("kubectl-gitops-fn");
    std::os::unix::fs::symlink(bin(), &exec).unwrap();
    let pkg = root.join("web");
    package(&pkg);
    let kptfile = format!(
        "{KPTFILE}pipeline:\n  mutators:\n  - exec: {}\n    configMap:\n      env: staging\n      app: web\n",
        exec.display()
    );
    fs::write(pkg.join("Kptfile"), &kptfile).unwrap();
    let out = clean(&kpt().unwrap())
        .args(["fn", "render"])
        .arg(&pkg)
        .arg("--allow-exec")
        .env("HOME", &root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show("kpt fn render", &out));
    let want = render_jsonl(&original, &["--env", "staging", "--app", "web"], None);
    assert_eq!(package_objects(&pkg), want);
    assert_eq!(fs::read_to_string(pkg.join("Kptfile")).unwrap(), kptfile);
}

#[test]
fn kpt_fn_eval_fails_with_an_error_result_and_changes_nothing() {
    const TEST: &str = "kpt_fn_eval_fails_with_an_error_result_and_changes_nothing";
    if kpt().is_none() {
        return required(TEST, "kpt");
    }
    for (params, message) in [
        (&["pr=12a", "app=web"][..], "is not a pull request number"),
        (&["evn=dev", "app=web"][..], "unknown key \"evn\""),
        (&["env=dev"][..], "no app name"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let pkg = tmp.path().join("web");
        package(&pkg);
        let out = kpt_eval(&pkg, params);
        let what = format!("kpt fn eval {params:?}");
        assert!(!out.status.success(), "{}", show(&what, &out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("[error]"), "{}", show(&what, &out));
        assert!(stderr.contains(message), "{}", show(&what, &out));
        assert_eq!(fs::read_to_string(pkg.join("app.yaml")).unwrap(), APP);
        assert_eq!(
            fs::read_to_string(pkg.join("settings.yaml")).unwrap(),
            SETTINGS
        );
    }
}

// ---------------------------------------------------------------------------------------------
// kustomize
// ---------------------------------------------------------------------------------------------

/// base/ (resources), overlay/ (the base, a patch, a configMapGenerator, a namePrefix) and
/// overlay-gitops/ (the same plus the kubectl-gitops transformer).
fn kustomizations(root: &Path, identity: &str) {
    let base = root.join("base");
    fs::create_dir_all(&base).unwrap();
    fs::write(base.join("app.yaml"), APP).unwrap();
    fs::write(base.join("kustomization.yaml"), "resources:\n- app.yaml\n").unwrap();
    let overlay = "\
resources:
- ../base
namePrefix: shop-
patches:
- patch: |-
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 3
configMapGenerator:
- name: web-settings
  literals:
  - mode=fast
generatorOptions:
  # kustomize appends the hash after every transformer, so with it the plugin's renamed
  # ConfigMap would read shop-web-settings-pr-7-<hash> and render's shop-web-settings-<hash>-pr-7.
  disableNameSuffixHash: true
";
    for (dir, extra) in [
        ("overlay", ""),
        ("overlay-gitops", "transformers:\n- gitops.yaml\n"),
    ] {
        let d = root.join(dir);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("kustomization.yaml"), format!("{overlay}{extra}")).unwrap();
    }
    fs::write(
        root.join("overlay-gitops/gitops.yaml"),
        format!(
            "apiVersion: kubectl-gitops.io/v1alpha1\nkind: KubectlGitops\nmetadata:\n  name: gitops\nidentity:\n{identity}app: shop\nenvironments:\n  dev: {{namespace: shop-dev}}\n  prod: {{namespace: shop, labels: {{team: payments}}}}\npreview:\n  from: dev\n"
        ),
    )
    .unwrap();
    fs::write(
        root.join("gitops.yaml"),
        "app: shop\nenvironments:\n  dev: {namespace: shop-dev}\n  prod: {namespace: shop, labels: {team: payments}}\npreview:\n  from: dev\n",
    )
    .unwrap();
}

/// `KUSTOMIZE_PLUGIN_HOME` with the binary linked where kustomize looks for the exec plugin
/// of `kubectl-gitops.io/v1alpha1` `KubectlGitops`.
fn plugin_home(root: &Path) -> PathBuf {
    let home = root.join("plugins");
    let dir = home.join("kubectl-gitops.io/v1alpha1/kubectlgitops");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(bin(), dir.join("KubectlGitops")).unwrap();
    home
}

fn kustomize(kubectl: &Path, dir: &Path, home: &Path) -> Output {
    clean(kubectl)
        .args(["kustomize", "--enable-alpha-plugins"])
        .arg(dir)
        .env("KUSTOMIZE_PLUGIN_HOME", home)
        .env("KUBECONFIG", home.join("no-kubeconfig"))
        .output()
        .unwrap()
}

#[test]
fn kustomize_transformer_renders_an_overlay_as_render_does() {
    const TEST: &str = "kustomize_transformer_renders_an_overlay_as_render_does";
    let kubectls = kubectl::kubectls(TEST);
    if kubectls.is_empty() {
        return required(TEST, "kubectl");
    }
    for kubectl in &kubectls {
        for (identity, flags) in [
            ("  env: prod\n", &["--env", "prod"][..]),
            ("  pr: \"7\"\n", &["--pr", "7"][..]),
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let root = fs::canonicalize(tmp.path()).unwrap();
            kustomizations(&root, identity);
            let home = plugin_home(&root);
            let what = format!("{} kustomize ({identity:?})", kubectl.display());

            let plain = kustomize(kubectl, &root.join("overlay"), &home);
            assert!(plain.status.success(), "{}", show(&what, &plain));
            // render - reads gitops.yaml from the working directory upward: run it in root.
            let mut render = clean(&bin());
            render
                .current_dir(&root)
                .args(["render", "-"])
                .args(flags)
                .args(["-o", "jsonl"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = render.spawn().unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(&plain.stdout)
                .unwrap();
            let want_out = child.wait_with_output().unwrap();
            assert!(want_out.status.success(), "{}", show("render -", &want_out));
            let want = objects_of(&want_out.stdout);

            let built = kustomize(kubectl, &root.join("overlay-gitops"), &home);
            assert!(built.status.success(), "{}", show(&what, &built));
            let json = clean(&bin())
                .current_dir(&root)
                .args(["render", "-", "-o", "jsonl"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut json = json;
            json.stdin.take().unwrap().write_all(&built.stdout).unwrap();
            let got = objects_of(&json.wait_with_output().unwrap().stdout);
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{what}"
            );
            for (k, w) in &want {
                assert_eq!(&got[k], w, "{what}: {k}");
            }
            // The overlay's own work is there: prefix, patch, generated ConfigMap.
            let deployment = got.values().find(|v| v["kind"] == "Deployment").unwrap();
            assert_eq!(deployment["spec"]["replicas"], 3, "{what}");
            assert!(
                deployment["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("shop-web"),
                "{what}"
            );
        }
    }
}

#[test]
fn kustomize_transformer_errors_fail_the_build() {
    const TEST: &str = "kustomize_transformer_errors_fail_the_build";
    let kubectls = kubectl::kubectls(TEST);
    if kubectls.is_empty() {
        return required(TEST, "kubectl");
    }
    for kubectl in &kubectls {
        let tmp = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        kustomizations(&root, "  env: qa\n");
        let home = plugin_home(&root);
        let out = kustomize(kubectl, &root.join("overlay-gitops"), &home);
        let what = format!("{} kustomize", kubectl.display());
        assert!(!out.status.success(), "{}", show(&what, &out));
        assert!(out.stdout.is_empty(), "{}", show(&what, &out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("\"qa\" is not an environment"),
            "{}",
            show(&what, &out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The function directly
// ---------------------------------------------------------------------------------------------

const LIST: &str = "\
apiVersion: config.kubernetes.io/v1
kind: ResourceList
items:
- # kept
  apiVersion: v1
  kind: ConfigMap
  metadata:
    name: settings # kept too
    annotations:
      config.kubernetes.io/index: '0'
      config.kubernetes.io/path: 'settings.yaml'
      internal.config.kubernetes.io/index: '0'
      internal.config.kubernetes.io/path: 'settings.yaml'
      internal.config.kubernetes.io/id: '1'
  data:
    mode: yes
- apiVersion: kpt.dev/v1
  kind: Kptfile
  metadata:
    name: pkg
    annotations:
      config.kubernetes.io/local-config: \"true\"
      config.kubernetes.io/path: 'Kptfile'
- apiVersion: example.com/v1
  kind: Widget
  metadata:
    name: w
    annotations:
      config.kubernetes.io/path: 'widget.yaml'
  spec:
    size: 1
    size: 2
";

fn with_config(config: &str) -> String {
    format!("{LIST}functionConfig:\n{config}")
}

fn yaml_value(text: &str) -> Value {
    // The Kubernetes view of a one-document stream, through render -o jsonl.
    let mut child = clean(&bin())
        .args(["render", "-", "-o", "jsonl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show("render -", &out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn without_identity_the_resource_list_is_returned_byte_for_byte() {
    // (Without the duplicate key, whose warning would be a result.)
    let list = LIST.replace("    size: 1\n", "");
    let input = format!(
        "{list}functionConfig:\n  apiVersion: v1\n  kind: ConfigMap\n  metadata: {{name: fn}}\n  data: {{}}\n"
    );
    let out = run_fn(&[], &input);
    assert!(out.status.success(), "{}", show("fn", &out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), input);
    let bare = run_fn(&[], &list);
    assert!(bare.status.success(), "{}", show("fn", &bare));
    assert_eq!(String::from_utf8_lossy(&bare.stdout), list);
}

#[test]
fn an_environment_render_keeps_annotations_comments_and_local_config() {
    let input = with_config(
        "  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fn}\n  data: {env: dev, app: web, namespace: web-dev}\n",
    );
    let out = run_fn(&[], &input);
    assert!(out.status.success(), "{}", show("fn", &out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("- # kept\n"), "{text}");
    assert!(text.contains("name: settings # kept too"), "{text}");
    let list = yaml_value(&text);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{text}");
    let cm = &items[0];
    for key in [
        "config.kubernetes.io/index",
        "config.kubernetes.io/path",
        "internal.config.kubernetes.io/index",
        "internal.config.kubernetes.io/path",
        "internal.config.kubernetes.io/id",
    ] {
        assert!(
            cm["metadata"]["annotations"][key].is_string(),
            "{key}: {text}"
        );
    }
    assert_eq!(cm["metadata"]["namespace"], "web-dev", "{text}");
    assert_eq!(
        cm["metadata"]["labels"]["kubectl-gitops.io/env"], "dev",
        "{text}"
    );
    assert_eq!(
        cm["data"]["mode"], true,
        "values are kept as written: {text}"
    );
    // The Kptfile is local configuration: untouched (no namespace, no labels).
    assert_eq!(items[1]["kind"], "Kptfile");
    assert!(items[1]["metadata"].get("namespace").is_none(), "{text}");
    assert!(items[1]["metadata"].get("labels").is_none(), "{text}");
    // The Widget's duplicate key is a warning, as a result that names it and its file.
    assert_eq!(items[2]["metadata"]["namespace"], "web-dev", "{text}");
    assert_eq!(items[2]["spec"]["size"], 2, "the last value wins: {text}");
    let results = list["results"].as_array().unwrap();
    let widget = results
        .iter()
        .find(|r| r["resourceRef"]["kind"] == "Widget")
        .unwrap_or_else(|| panic!("no result for the Widget: {text}"));
    assert_eq!(widget["severity"], "warning", "{text}");
    assert_eq!(widget["resourceRef"]["name"], "w", "{text}");
    assert_eq!(widget["file"]["path"], "widget.yaml", "{text}");
    let message = widget["message"].as_str().unwrap();
    assert!(message.contains("duplicate key \"size\""), "{text}");
    assert!(!message.starts_with("<stdin>"), "{text}");
}

#[test]
fn a_preview_puts_its_namespace_first_among_the_items() {
    let input = with_config(
        "  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fn}\n  data: {pr: \"42\", app: web}\n",
    )
    .replace("kind: Widget", "kind: Secret")
    .replace("apiVersion: example.com/v1", "apiVersion: v1");
    let out = run_fn(&[], &input);
    assert!(out.status.success(), "{}", show("fn", &out));
    let list = yaml_value(&String::from_utf8_lossy(&out.stdout));
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["kind"], "Namespace");
    assert_eq!(items[0]["metadata"]["name"], "web-pr-42");
    let names: Vec<&str> = items
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web-pr-42", "settings-pr-42", "pkg", "w-pr-42"]);
}

#[test]
fn the_typed_function_config_carries_gitops_yaml() {
    let input = with_config(
        "  apiVersion: kubectl-gitops.io/v1alpha1\n  kind: KubectlGitops\n  metadata: {name: fn}\n  identity: {env: prod}\n  app: web\n  labelPrefix: example.com\n  environments:\n    prod: {namespace: web, labels: {team: payments}}\n  clusterScoped: [Widget.example.com]\n",
    );
    let out = run_fn(&[], &input);
    assert!(out.status.success(), "{}", show("fn", &out));
    let text = String::from_utf8_lossy(&out.stdout);
    let list = yaml_value(&text);
    let cm = &list["items"][0];
    assert_eq!(cm["metadata"]["namespace"], "web", "{text}");
    assert_eq!(cm["metadata"]["labels"]["team"], "payments", "{text}");
    assert_eq!(
        cm["metadata"]["labels"]["example.com/env"], "prod",
        "{text}"
    );
    assert_eq!(cm["metadata"]["labels"]["example.com/app"], "web", "{text}");
    // clusterScoped: from the typed config: the Widget gets no namespace.
    assert!(
        list["items"][2]["metadata"].get("namespace").is_none(),
        "{text}"
    );
}

#[test]
fn a_bad_function_config_is_an_error_result_with_the_input_unchanged() {
    for (config, message) in [
        (
            "  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fn}\n  data: {env: dev, app: web, evn: x}\n",
            "unknown key \"evn\"",
        ),
        (
            "  apiVersion: v1\n  kind: Secret\n  metadata: {name: fn}\n",
            "is not one kubectl-gitops reads",
        ),
        (
            "  apiVersion: kubectl-gitops.io/v1alpha1\n  kind: KubectlGitops\n  metadata: {name: fn}\n  identity: {env: qa}\n  app: web\n  environments: {dev: {}}\n",
            "\"qa\" is not an environment",
        ),
        (
            "  apiVersion: kubectl-gitops.io/v1alpha1\n  kind: KubectlGitops\n  metadata: {name: fn}\n  enviroments: {}\n",
            "enviroments",
        ),
    ] {
        let input = with_config(config);
        let out = run_fn(&[], &input);
        assert_eq!(out.status.code(), Some(2), "{}", show("fn", &out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.lines().next().unwrap().contains(message),
            "{}",
            show("fn", &out)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.starts_with(&input),
            "the input, then the results: {text}"
        );
        let list = yaml_value(&text);
        let results = list["results"].as_array().unwrap();
        assert_eq!(results[0]["severity"], "error", "{text}");
        assert!(
            results[0]["message"].as_str().unwrap().contains(message),
            "{text}"
        );
    }
}

#[test]
fn fn_refuses_what_is_not_a_resource_list() {
    let out = run_fn(
        &[],
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    );
    assert_eq!(out.status.code(), Some(2), "{}", show("fn", &out));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: fn reads a ResourceList"),
        "{}",
        show("fn", &out)
    );
}

#[test]
fn the_binary_answers_to_the_names_exec_plugins_run_it_by() {
    let tmp = tempfile::tempdir().unwrap();
    // kubectl-gitops-fn: a KRM exec function (kustomize's `exec: path:` takes no arguments).
    let krm = tmp.path().join("kubectl-gitops-fn");
    std::os::unix::fs::symlink(bin(), &krm).unwrap();
    let input = with_config(
        "  apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: fn}\n  data: {env: dev, app: web}\n",
    );
    let mut child = clean(&krm)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show("kubectl-gitops-fn", &out));
    assert_eq!(out.stdout, run_fn(&[], &input).stdout);

    // KubectlGitops CONFIG: kustomize's exec plugin, a plain stream.
    let plugin = tmp.path().join("KubectlGitops");
    std::os::unix::fs::symlink(bin(), &plugin).unwrap();
    let config = tmp.path().join("config.yaml");
    fs::write(
        &config,
        "apiVersion: kubectl-gitops.io/v1alpha1\nkind: KubectlGitops\nmetadata: {name: g}\nidentity: {pr: \"5\", app: web}\n",
    )
    .unwrap();
    let mut child = clean(&plugin)
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(SETTINGS.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", show("KubectlGitops", &out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("name: web-settings-pr-5"), "{text}");
    assert!(text.contains("kind: Namespace"), "{text}");
}
