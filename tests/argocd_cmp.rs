//! `kubectl-gitops generate` and `parameters` as Argo CD's CMP sidecar runs them (issue 3, items
//! 1, 2 and 7), through `support/cmp_harness.rs`, which plays `argocd-cmp-server`.
//!
//! Reproduced from Argo CD (read from its code, `cmpserver/plugin/plugin.go` and the repo-server): the
//! per-request extraction of the repository (a fresh `<work root>/<uuid>/`, files 0644,
//! folders 0755, relative symlinks kept); the command line from plugin.yaml exec'd without a
//! shell, found on the sidecar's PATH, in `<root>/<spec.source.path>`; an environment holding
//! only the sidecar's own variables and exactly the entries Argo CD sends (the nine
//! `ARGOCD_APP_*`, `KUBE_VERSION`, `KUBE_API_VERSIONS`, `ARGOCD_ENV_<name>` verbatim,
//! `ARGOCD_APP_PARAMETERS` as Go marshals it, `PARAM_*`; the reduced set for the dynamic
//! parameters command); the parsing of stdout (one trailing newline trimmed, `---` splitting
//! like apimachinery, empty documents dropped, `kind` required, lists flattened) with an
//! independent YAML reader (saphyr-parser events), and the error text Argo CD shows in its UI.
//! Plugin.yaml is read the way `ValidatePluginConfig` checks it, and the announcement JSON the
//! way Go's `encoding/json` reads it.
//!
//! Not reproduced (there is no Argo CD, gRPC, socket or tarball here): discovery calls, `init`,
//! `.argocd-source.yaml` overrides, the whole-repository tarball (only the app's subset is
//! copied), the gRPC deadline and process-group kill, the manifest cache, the JSON conversion
//! of documents by sigs.k8s.io/yaml and the tracking annotations added afterwards.
//!
//! Timings of each run are printed with `--nocapture`.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/cmp_harness.rs"]
mod cmp_harness;

use std::collections::BTreeMap;
use std::sync::Barrier;
use std::time::Instant;

use cmp_harness::{
    App, Golden, Node, PluginConfig, Run, Sidecar, Workdir, assert_matches_golden, bin, generate,
    golden, goldens, look_path, parameters, run_command,
};

const APP: &str = "testdata/my-microservice";

fn timing(case: &str, run: &Run) {
    eprintln!("[argocd_cmp] {case}: {:?}", run.elapsed);
}

/// A fresh request with `testdata/my-microservice` extracted.
fn request() -> (Workdir, Sidecar) {
    let wd = Workdir::new();
    wd.extract(APP);
    let sidecar = Sidecar::new(&wd);
    (wd, sidecar)
}

/// Where [`request_without_app_name`] puts the app.
const APP_WITHOUT_NAME: &str = "apps/my-microservice";

/// A copy of my-microservice at `apps/my-microservice` whose gitops.yaml has no `app:` line:
/// the app name can only come from the folder holding gitops.yaml (DESIGN.md §2), whatever
/// the Application is called.
fn request_without_app_name() -> (Workdir, Sidecar) {
    let wd = Workdir::new();
    wd.extract_as(APP, APP_WITHOUT_NAME);
    wd.edit(&format!("{APP_WITHOUT_NAME}/gitops.yaml"), |t| {
        let out: String = t
            .lines()
            .filter(|l| !l.starts_with("app:"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(out.len(), t.len(), "gitops.yaml had an app: line");
        out
    });
    let sidecar = Sidecar::new(&wd);
    (wd, sidecar)
}

fn names(run: &Run) -> Vec<&str> {
    run.env.iter().map(|(k, _)| k.as_str()).collect()
}

/// Exit non-zero, nothing on stdout, and a first stderr line starting with `prefix`.
fn assert_fails_closed(run: &Run, prefix: &str) {
    assert!(!run.ok(), "must fail{run}");
    assert_ne!(run.code, None, "must exit, not die of a signal{run}");
    assert_eq!(run.stdout, "", "nothing on stdout on failure{run}");
    assert!(
        run.first_stderr_line().starts_with(prefix),
        "first stderr line should start with {prefix:?}{run}"
    );
    let ui = run.argo_error().unwrap();
    assert!(
        ui.starts_with(&format!(
            "`kubectl-gitops generate` failed exit status {}: {prefix}",
            run.code.unwrap()
        )) || ui.starts_with("`kubectl-gitops parameters"),
        "Argo CD's message: {ui}"
    );
}

// ---------------------------------------------------------------------------------------------
// Identity from the Argo CD environment
// ---------------------------------------------------------------------------------------------

#[test]
fn env_only_identity_from_plugin_env() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-dev", APP)
        .env("GITOPS_ENV", "dev")
        .dest("my-microservice-dev");
    let run = generate(&wd, &app, &sidecar);
    timing("env-only", &run);
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));
    assert_eq!(run.stderr, "", "no warnings{run}");
    // Exactly what Argo CD sets, in its order, after the sidecar's own PATH and HOME.
    assert_eq!(
        names(&run),
        [
            "PATH",
            "HOME",
            "ARGOCD_APP_NAME",
            "ARGOCD_APP_NAMESPACE",
            "ARGOCD_APP_PROJECT_NAME",
            "ARGOCD_APP_REVISION",
            "ARGOCD_APP_REVISION_SHORT",
            "ARGOCD_APP_REVISION_SHORT_8",
            "ARGOCD_APP_SOURCE_REPO_URL",
            "ARGOCD_APP_SOURCE_PATH",
            "ARGOCD_APP_SOURCE_TARGET_REVISION",
            "KUBE_VERSION",
            "KUBE_API_VERSIONS",
            "ARGOCD_ENV_GITOPS_ENV",
            "ARGOCD_APP_PARAMETERS",
        ]
    );
    // A plugin block without parameters: Go marshals the nil slice as `null`.
    assert_eq!(run.env_var("ARGOCD_APP_PARAMETERS"), Some("null"));
    assert_eq!(
        run.env_var("ARGOCD_APP_REVISION_SHORT_8").map(str::len),
        Some(8)
    );
}

#[test]
fn parameters_only_identity() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-prod", APP)
        .param("env", "prod")
        .dest("my-microservice");
    let run = generate(&wd, &app, &sidecar);
    timing("parameters-only", &run);
    assert_eq!(
        run.env_var("ARGOCD_APP_PARAMETERS"),
        Some(r#"[{"name":"env","string":"prod"}]"#)
    );
    assert_eq!(run.env_var("PARAM_ENV"), Some("prod"));
    assert!(!names(&run).iter().any(|k| k.starts_with("ARGOCD_ENV_")));
    assert_matches_golden(&run, &golden(APP, &[("env", "prod")]));
    assert_eq!(run.stderr, "", "no warnings{run}");
}

#[test]
fn parameters_win_over_plugin_env_with_a_warning() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-prod", APP)
        .env("GITOPS_ENV", "staging")
        .param("env", "prod")
        .dest("my-microservice");
    let run = generate(&wd, &app, &sidecar);
    timing("parameters-and-env", &run);
    assert_matches_golden(&run, &golden(APP, &[("env", "prod")]));
    let warning = run.first_stderr_line();
    assert!(warning.starts_with("warning:"), "{run}");
    for needle in [
        "\"prod\"",
        "\"staging\"",
        "plugin parameter env",
        "ARGOCD_ENV_GITOPS_ENV",
    ] {
        assert!(
            warning.contains(needle),
            "warning should name {needle}{run}"
        );
    }
}

#[test]
fn parameters_null_or_absent() {
    // null next to a plugin env identity.
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-prod", APP)
        .env("GITOPS_ENV", "prod")
        .dest("my-microservice");
    let run = generate(&wd, &app, &sidecar);
    timing("parameters-null-with-env", &run);
    assert_eq!(run.env_var("ARGOCD_APP_PARAMETERS"), Some("null"));
    assert_matches_golden(&run, &golden(APP, &[("env", "prod")]));

    // `plugin: {}`: ARGOCD_APP_PARAMETERS=null and no identity at all, while gitops.yaml
    // declares environments: refused (fail closed), until gitops.yaml opts in.
    let app = App::new("my-microservice", APP).dest("my-microservice");
    let run = generate(&wd, &app, &sidecar);
    assert_eq!(run.env_var("ARGOCD_APP_PARAMETERS"), Some("null"));
    assert_fails_closed(
        &run,
        "error: gitops.yaml declares environments (dev, staging, prod), but no env or pr is given",
    );
    wd.edit(&format!("{APP}/gitops.yaml"), |t| {
        format!("passThrough: true\n{t}")
    });
    let run = generate(&wd, &app, &sidecar);
    timing("parameters-null-pass-through", &run);
    assert_matches_golden(&run, &golden(APP, &[]));

    // No plugin block (a discovered plugin): the variable is absent.
    let app = App::new("my-microservice", APP).without_plugin_block();
    let run = generate(&wd, &app, &sidecar);
    timing("parameters-absent", &run);
    assert_eq!(run.env_var("ARGOCD_APP_PARAMETERS"), None);
    assert_matches_golden(&run, &golden(APP, &[]));
}

#[test]
fn preview_via_parameters() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-pr-123", APP)
        .param("pr", "123")
        .dest("my-microservice-pr-123");
    let run = generate(&wd, &app, &sidecar);
    timing("preview-parameters", &run);
    assert_matches_golden(&run, &golden(APP, &[("pr", "123")]));
    // The preview brings its own Namespace; every other object lives in it.
    let objects = run.manifests().unwrap();
    let namespaces: Vec<_> = objects.iter().filter(|m| m.kind() == "Namespace").collect();
    assert_eq!(namespaces.len(), 1, "{run}");
    assert_eq!(namespaces[0].name(), "my-microservice-pr-123");
    for m in objects.iter().filter(|m| m.kind() != "Namespace") {
        assert_eq!(m.namespace(), Some("my-microservice-pr-123"), "{}", m.id());
    }
}

#[test]
fn app_outside_the_control_plane_namespace() {
    let (wd, sidecar) = request_without_app_name();
    let app = App::new("my-microservice", APP_WITHOUT_NAME)
        .in_namespace("team-a")
        .env("GITOPS_ENV", "dev")
        .dest("my-microservice-dev");
    let run = generate(&wd, &app, &sidecar);
    timing("app-in-team-a-namespace", &run);
    assert_eq!(
        run.env_var("ARGOCD_APP_NAME"),
        Some("team-a_my-microservice")
    );
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));

    // The app is the folder's name, never the Application's: an Application called
    // differently per environment renders the same labels as `kubectl gitops render`.
    let app = App::new("billing-dev", APP_WITHOUT_NAME)
        .in_namespace("team-a")
        .env("GITOPS_ENV", "dev")
        .dest("my-microservice-dev");
    let run = generate(&wd, &app, &sidecar);
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));
    assert!(!run.stdout.contains("billing"), "{run}");
    assert!(!run.stdout.contains("team-a"), "{run}");
}

#[test]
fn preview_application_named_after_the_pull_request() {
    let (wd, sidecar) = request_without_app_name();
    let want = golden(APP, &[("pr", "123")]);
    // Through parameters, and through plugin env as the pull-request ApplicationSet passes it.
    for app in [
        App::new("my-microservice-pr-123", APP_WITHOUT_NAME).param("pr", "123"),
        App::new("my-microservice-pr-123", APP_WITHOUT_NAME).env("GITOPS_PR", "123"),
        App::new("preview-123-of-something-else", APP_WITHOUT_NAME).env("GITOPS_PR", "123"),
    ] {
        let app = app.dest("my-microservice-pr-123");
        let run = generate(&wd, &app, &sidecar);
        timing("preview-named-after-the-pull-request", &run);
        assert_matches_golden(&run, &want);
    }
}

#[test]
fn app_default_agrees_between_render_and_generate() {
    // gitops.yaml without app: at apps/my-microservice; an Application per directory.
    let (wd, sidecar) = request_without_app_name();
    for (path, name) in [
        (APP_WITHOUT_NAME, "whatever-the-application-is-called"),
        ("apps/my-microservice/kubernetes", "web-dev"),
    ] {
        let app = App::new(name, path).env("GITOPS_ENV", "dev");
        let run = generate(&wd, &app, &sidecar);
        assert!(run.ok(), "{run}");
        assert!(
            run.stdout
                .contains("kubectl-gitops.io/app: my-microservice\n"),
            "the folder holding gitops.yaml names the app{run}"
        );
        // `kubectl gitops render` of the same folder, run inside the extracted tree.
        let local = render_in(&wd.path(path), &["render", ".", "--env", "dev"]);
        assert_eq!(
            local.stdout, run.stdout,
            "render and generate agree{local}{run}"
        );
    }

    // No gitops.yaml: the rendered directory's name from ARGOCD_APP_SOURCE_PATH, never the
    // temporary checkout's folder; at the repository root there is none.
    let wd = Workdir::new();
    wd.write(
        "web/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    wd.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: root\n",
    );
    let run = generate(
        &wd,
        &App::new("x", "web").env("GITOPS_ENV", "dev"),
        &sidecar,
    );
    assert!(run.stdout.contains("kubectl-gitops.io/app: web\n"), "{run}");
    let run = generate(&wd, &App::new("x", ".").env("GITOPS_ENV", "dev"), &sidecar);
    assert_fails_closed(
        &run,
        "error: no app name: the rendered directory is the repository root",
    );
    let run = generate(
        &wd,
        &App::new("x", ".")
            .env("GITOPS_ENV", "dev")
            .env("GITOPS_APP", "site"),
        &sidecar,
    );
    assert!(
        run.stdout.contains("kubectl-gitops.io/app: site\n"),
        "{run}"
    );

    // gitops.yaml at the repository root without app: refused in both.
    wd.write("gitops.yaml", "environments:\n  dev: {}\n");
    let run = generate(
        &wd,
        &App::new("x", "web").env("GITOPS_ENV", "dev"),
        &sidecar,
    );
    assert_fails_closed(
        &run,
        "error: no app name: ../gitops.yaml is at the repository root",
    );
}

#[test]
fn a_git_archive_copy_finds_the_gitops_yaml_argo_cd_finds() {
    // No .git anywhere: locally the lookup goes up to the filesystem root, in Argo CD up to the
    // extracted repository; both find apps/shop/gitops.yaml from apps/shop/kubernetes.
    let wd = Workdir::new();
    wd.write(
        "apps/shop/gitops.yaml",
        "environments:\n  dev: {namespace: shop-dev}\n",
    )
    .write(
        "apps/shop/kubernetes/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    assert!(!wd.root.join(".git").exists());
    let sidecar = Sidecar::new(&wd);
    let app = App::new("shop-dev", "apps/shop/kubernetes").env("GITOPS_ENV", "dev");
    let run = generate(&wd, &app, &sidecar);
    assert!(run.ok(), "{run}");
    assert!(run.stdout.contains("namespace: shop-dev"), "{run}");
    assert!(
        run.stdout.contains("kubectl-gitops.io/app: shop\n"),
        "{run}"
    );
    let local = render_in(
        &wd.path("apps/shop/kubernetes"),
        &["render", ".", "--env", "dev"],
    );
    assert_eq!(local.stdout, run.stdout, "{local}{run}");
}

/// `kubectl-gitops <args>` in `dir` with a clean environment (a developer's shell).
fn render_in(dir: &std::path::Path, args: &[&str]) -> Run {
    let wd_env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    let argv: Vec<String> = std::iter::once(bin().display().to_string())
        .chain(args.iter().map(|a| (*a).to_string()))
        .collect();
    let sidecar = Sidecar {
        env: wd_env,
        run_as: cmp_harness::RunAs::default(),
    };
    run_command(&argv, dir, &sidecar, &[])
}

#[test]
fn empty_destination_namespace() {
    let (wd, sidecar) = request();
    // Set but empty (Argo CD 3.x exports empty values).
    let app = App::new("my-microservice-dev", APP)
        .env("GITOPS_ENV", "dev")
        .dest("");
    let run = generate(&wd, &app, &sidecar);
    timing("empty-destination-namespace", &run);
    assert_eq!(run.env_var("ARGOCD_APP_NAMESPACE"), Some(""));
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));

    // Absent (Argo CD 2.x's cmp-server dropped empty values).
    let env: Vec<_> = app
        .generate_env()
        .into_iter()
        .filter(|(k, _)| k != "ARGOCD_APP_NAMESPACE")
        .collect();
    let cfg = PluginConfig::load("plugin.yaml");
    let run = run_command(&cfg.generate, &wd.path(APP), &sidecar, &env);
    assert_eq!(run.env_var("ARGOCD_APP_NAMESPACE"), None);
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));

    // An environment without its own namespace falls back to the destination namespace, and
    // with an empty destination leaves namespaces alone.
    wd.edit(&format!("{APP}/gitops.yaml"), |t| {
        t.replace("    namespace: my-microservice-staging\n", "")
    });
    let app = App::new("my-microservice-staging", APP)
        .env("GITOPS_ENV", "staging")
        .dest("my-microservice-staging");
    let run = generate(&wd, &app, &sidecar);
    assert_matches_golden(&run, &golden(APP, &[("env", "staging")]));
    let run = generate(&wd, &app.dest(""), &sidecar);
    assert!(run.ok(), "{run}");
    let objects = run.manifests().unwrap();
    assert!(!objects.is_empty());
    for m in &objects {
        assert_eq!(m.namespace(), None, "{} keeps no namespace{run}", m.id());
    }
}

#[test]
fn doubled_prefix_is_honoured_with_a_warning() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-dev", APP)
        .env("ARGOCD_ENV_GITOPS_ENV", "dev")
        .dest("my-microservice-dev");
    let run = generate(&wd, &app, &sidecar);
    timing("doubled-prefix", &run);
    assert_eq!(run.env_var("ARGOCD_ENV_ARGOCD_ENV_GITOPS_ENV"), Some("dev"));
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));
    assert!(
        run.first_stderr_line().starts_with("warning:")
            && run.stderr.contains("ARGOCD_ENV_ARGOCD_ENV_GITOPS_ENV")
            && run.stderr.contains("GITOPS_ENV"),
        "{run}"
    );
}

#[test]
fn sidecar_default_environment() {
    let (wd, sidecar) = request();
    let sidecar = sidecar.with("GITOPS_ENV", "dev");
    // Discovered plugin, no plugin block: only the sidecar's default.
    let app = App::new("my-microservice", APP)
        .without_plugin_block()
        .dest("my-microservice-dev");
    let run = generate(&wd, &app, &sidecar);
    timing("sidecar-default", &run);
    assert!(!names(&run).iter().any(|k| k.starts_with("ARGOCD_ENV_")));
    assert_eq!(run.env_var("ARGOCD_APP_PARAMETERS"), None);
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));
    assert_eq!(run.stderr, "", "{run}");

    // A plugin env entry overrides the sidecar default, with a warning naming both.
    let app = App::new("my-microservice-prod", APP)
        .env("GITOPS_ENV", "prod")
        .dest("my-microservice");
    let run = generate(&wd, &app, &sidecar);
    assert_matches_golden(&run, &golden(APP, &[("env", "prod")]));
    assert!(
        run.stderr.contains("ARGOCD_ENV_GITOPS_ENV") && run.stderr.contains("sidecar"),
        "{run}"
    );
}

// ---------------------------------------------------------------------------------------------
// Failing closed
// ---------------------------------------------------------------------------------------------

#[test]
fn broken_yaml_fails_closed_with_a_located_message() {
    let (wd, sidecar) = request();
    wd.write(
        &format!("{APP}/kubernetes/broken.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: broken\ndata:\n  key: [unclosed\n",
    );
    let app = App::new("my-microservice-dev", APP).env("GITOPS_ENV", "dev");
    let run = generate(&wd, &app, &sidecar);
    timing("broken-yaml", &run);
    assert_fails_closed(&run, "kubernetes/broken.yaml:");
    // `path:line:col: message`, relative to the app folder.
    let first = run.first_stderr_line();
    let mut parts = first.splitn(4, ':');
    let (path, line, col, msg) = (
        parts.next().unwrap(),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    assert_eq!(path, "kubernetes/broken.yaml");
    assert!(
        line.parse::<u32>().is_ok() && col.parse::<u32>().is_ok(),
        "{first}"
    );
    assert!(msg.starts_with(' ') && msg.len() > 1, "{first}");

    // A broken gitops.yaml is located too.
    let (wd, sidecar) = request();
    wd.edit(&format!("{APP}/gitops.yaml"), |t| format!("{t}  qa: [\n"));
    let run = generate(&wd, &app, &sidecar);
    timing("broken-gitops-yaml", &run);
    assert_fails_closed(&run, "gitops.yaml:");
}

#[test]
fn empty_app_is_refused_unless_allow_empty() {
    let wd = Workdir::new();
    let sidecar = Sidecar::new(&wd);
    wd.write(
        "apps/empty/gitops.yaml",
        "app: empty\nenvironments:\n  dev:\n    namespace: empty-dev\n",
    );
    wd.write("apps/empty/README.md", "Nothing to deploy yet.\n");
    let app = App::new("empty-dev", "apps/empty").env("GITOPS_ENV", "dev");
    let run = generate(&wd, &app, &sidecar);
    timing("empty-refused", &run);
    assert_fails_closed(&run, "");
    let first = run.first_stderr_line();
    assert!(
        first.contains("no Kubernetes objects") && first.contains("allowEmpty"),
        "{run}"
    );

    // A truly empty app folder (git cannot hold one, but a tree can), with gitops.yaml at the
    // repository root.
    wd.write(
        "gitops.yaml",
        "app: root\nenvironments:\n  dev:\n    namespace: root-dev\n",
    );
    wd.mkdir("apps/nothing");
    let bare = App::new("nothing", "apps/nothing").env("GITOPS_ENV", "dev");
    let run = generate(&wd, &bare, &sidecar);
    timing("empty-folder-refused", &run);
    assert_fails_closed(&run, "");
    assert!(run.first_stderr_line().contains("allowEmpty"), "{run}");

    wd.edit("apps/empty/gitops.yaml", |t| {
        format!("allowEmpty: true\n{t}")
    });
    let run = generate(&wd, &app, &sidecar);
    timing("empty-allowed", &run);
    assert_eq!(run.code, Some(0), "{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert_eq!(run.manifests().unwrap().len(), 0);
}

#[test]
fn misnamed_identity_variables_fail_closed() {
    // A prod Application whose plugin env entry is misnamed must not render a pass-through.
    let (wd, sidecar) = request();
    for (name, prefix) in [
        (
            "GITOPS_ENVIRONMENT",
            "error: plugin env entry GITOPS_ENVIRONMENT is not one kubectl-gitops reads (it reads GITOPS_ENV, GITOPS_PR, GITOPS_NAMESPACE, GITOPS_APP); did you mean GITOPS_ENV?",
        ),
        (
            "GITOPS_NAMESPACES",
            "error: plugin env entry GITOPS_NAMESPACES is not one kubectl-gitops reads (it reads GITOPS_ENV, GITOPS_PR, GITOPS_NAMESPACE, GITOPS_APP); did you mean GITOPS_NAMESPACE?",
        ),
        // The pull-request generator's usual spelling for other plugins.
        (
            "PR",
            "error: plugin env entry PR is not one kubectl-gitops reads",
        ),
    ] {
        let app = App::new("my-microservice-prod", APP)
            .env(name, "prod")
            .dest("my-microservice");
        let run = generate(&wd, &app, &sidecar);
        timing(&format!("misnamed {name}"), &run);
        assert_fails_closed(&run, prefix);
    }
    // A sidecar-wide default with a typo, too.
    let typo = sidecar.clone().with("GITOPS_ENVIRONMENT", "dev");
    let app = App::new("my-microservice-dev", APP).env("GITOPS_ENV", "dev");
    let run = generate(&wd, &app, &typo);
    assert_fails_closed(
        &run,
        "error: GITOPS_ENVIRONMENT is set in the environment, but kubectl-gitops reads only GITOPS_ENV, GITOPS_PR, GITOPS_NAMESPACE, GITOPS_APP, GITOPS_POLICY; did you mean GITOPS_ENV?",
    );
    // Other plugin env entries are not read: a warning in the sidecar's log, not a failure.
    let app = App::new("my-microservice-dev", APP)
        .env("GITOPS_ENV", "dev")
        .env("HELM_ARGS", "--debug");
    let run = generate(&wd, &app, &sidecar);
    assert_matches_golden(&run, &golden(APP, &[("env", "dev")]));
    assert!(
        run.stderr
            .contains("plugin env entry HELM_ARGS is not one kubectl-gitops reads"),
        "{run}"
    );
}

#[test]
fn plugin_parameters_must_be_single_strings_and_are_never_echoed() {
    let (wd, sidecar) = request();
    let cfg = PluginConfig::load("plugin.yaml");
    let with_params = |raw: &str| {
        let app = App::new("my-microservice-pr-123", APP).dest("my-microservice-pr-123");
        let env: Vec<_> = app
            .generate_env()
            .into_iter()
            .map(|(k, v)| {
                if k == "ARGOCD_APP_PARAMETERS" {
                    (k, raw.to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        run_command(&cfg.generate, &wd.path(APP), &sidecar, &env)
    };
    for (raw, prefix) in [
        (
            r#"[{"name":"pr","string":123}]"#,
            "error: plugin parameter pr has a number as its value: write it as a string",
        ),
        (
            r#"[{"name":"pr","string":null}]"#,
            "error: plugin parameter pr has no string value",
        ),
        (
            r#"[{"name":"pr"}]"#,
            "error: plugin parameter pr has no string value",
        ),
        (
            r#"[{"name":"pr","string":"123"},{"name":"pr","string":"124"}]"#,
            "error: plugin parameter pr is given twice",
        ),
        (
            r#"[{"name":"pull-request","string":"123"}]"#,
            "error: plugin parameter pull-request is not one kubectl-gitops reads",
        ),
    ] {
        let run = with_params(raw);
        timing(&format!("parameters {raw}"), &run);
        assert_fails_closed(&run, prefix);
    }
    // A malformed value never reaches the message Argo CD shows in its UI.
    for raw in [
        r#"[{"name":"pr","string":"123\nghp_s3cr3tT0ken"}]"#,
        r#"[{"name":"env","string":"ghp_s3cr3tT0ken"}]"#,
        r#"[{"name":"pr","string":"ghp_s3cr3tT0ken"}"#,
        "ghp_s3cr3tT0ken",
    ] {
        let run = with_params(raw);
        assert!(!run.ok(), "{run}");
        let ui = run.argo_error().unwrap();
        assert!(
            !ui.contains("s3cr3t"),
            "Argo CD's message repeats the value: {ui}"
        );
    }
}

#[test]
fn unknown_environment_is_refused_with_the_list() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-qa", APP).env("GITOPS_ENV", "qa");
    let run = generate(&wd, &app, &sidecar);
    timing("unknown-env", &run);
    assert_fails_closed(&run, "error: ARGOCD_ENV_GITOPS_ENV \"qa\"");
    assert!(
        run.first_stderr_line().contains("dev, staging, prod"),
        "the message lists the environments{run}"
    );
}

#[test]
fn gitops_yaml_lookup_stops_at_the_extracted_root() {
    // A gitops.yaml in the work root, above `<uuid>/`, is not part of the repository.
    let wd = Workdir::new();
    let sidecar = Sidecar::new(&wd);
    let decoy = wd.root.parent().unwrap().join("gitops.yaml");
    std::fs::write(&decoy, "environments:\n  qa: {}\n").unwrap();
    wd.write(
        "apps/plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n",
    );
    let app = App::new("plain", "apps/plain").env("GITOPS_ENV", "dev");
    let run = generate(&wd, &app, &sidecar);
    timing("lookup-stops-at-root", &run);
    assert!(run.ok(), "the decoy above the root must be ignored{run}");
    let objects = run.manifests().unwrap();
    assert_eq!(objects.len(), 1);
    assert!(run.stdout.contains("kubectl-gitops.io/env: dev"), "{run}");
}

// ---------------------------------------------------------------------------------------------
// Concurrency and purity
// ---------------------------------------------------------------------------------------------

/// An Application that asks for `g`'s identity: through parameters, plugin env, or both.
fn app_for_golden(g: &Golden, i: usize) -> App {
    let base = g.path.rsplit('/').next().unwrap();
    let name = match (g.flag("pr"), g.flag("env")) {
        (Some(pr), _) => format!("{base}-pr-{pr}"),
        (None, Some(env)) => format!("{base}-{env}"),
        (None, None) => base.to_string(),
    };
    let mut app = App::new(&name, &g.path).dest(g.flag("namespace").unwrap_or(""));
    for (k, v) in &g.flags {
        app = match (i % 3, k.as_str()) {
            (0, _) | (2, "pr" | "app") => app.param(k, v),
            _ => app.env(&format!("GITOPS_{}", k.to_uppercase()), v),
        };
    }
    app
}

#[test]
fn sixteen_concurrent_generates_on_sixteen_copies() {
    let mut all = goldens();
    // Pass-through renders of an app whose gitops.yaml declares environments are refused in
    // Argo CD (fail closed): every Application here has an identity.
    // Each identity once, then again given the other way (parameters or plugin env) up to 16.
    all.retain(|g| !g.out.is_empty() && !g.flags.is_empty());
    assert!(all.len() >= 12, "need 12 identities, have {}", all.len());
    let requests: Vec<(Workdir, Sidecar, App, &Golden)> = all
        .iter()
        .cycle()
        .take(16)
        .enumerate()
        .map(|(i, g)| {
            let wd = Workdir::new();
            wd.extract(&g.path);
            let sidecar = Sidecar::new(&wd);
            (wd, sidecar, app_for_golden(g, i), g)
        })
        .collect();
    let barrier = Barrier::new(requests.len());
    let start = Instant::now();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = requests
            .iter()
            .map(|(wd, sidecar, app, _)| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    generate(wd, app, sidecar)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = start.elapsed();
    let slowest = runs.iter().map(|r| r.elapsed).max().unwrap();
    eprintln!(
        "[argocd_cmp] 16 concurrent generates: wall {wall:?}, slowest {slowest:?}, sum {:?}",
        runs.iter().map(|r| r.elapsed).sum::<std::time::Duration>()
    );
    for (run, (_, _, _, g)) in runs.iter().zip(&requests) {
        assert_matches_golden(run, g);
        assert_eq!(
            run.stderr,
            g.err_relative_to_app(),
            "{}: warnings, located relative to the app{run}",
            g.id
        );
    }
}

#[test]
fn generate_writes_nothing_even_read_only() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-dev", APP).env("GITOPS_ENV", "dev");
    let want = golden(APP, &[("env", "dev")]);

    let before = wd.snapshot();
    let run = generate(&wd, &app, &sidecar);
    assert_matches_golden(&run, &want);
    let failing = App::new("my-microservice-qa", APP).env("GITOPS_ENV", "qa");
    assert!(!generate(&wd, &failing, &sidecar).ok());
    let diff = before.diff(&wd.snapshot());
    assert!(diff.is_empty(), "generate changed the tree:\n{diff}");

    // chmod -R a-w (and, as root, run as the sidecar's uid 999 so the modes bind).
    let run_as = wd.make_read_only();
    let sidecar = sidecar.run_as(run_as);
    let probe = run_command(
        &["sh".into(), "-c".into(), "echo x > probe".into()],
        &wd.path(APP),
        &sidecar,
        &[],
    );
    assert!(!probe.ok(), "the tree must really be read-only{probe}");
    let run = generate(&wd, &app, &sidecar);
    timing(&format!("read-only (run as {:?})", run_as.0), &run);
    let failed = generate(&wd, &failing, &sidecar);
    wd.make_writable();
    assert_matches_golden(&run, &want);
    assert!(!failed.ok() && failed.stdout.is_empty(), "{failed}");
    let diff = before.diff(&wd.snapshot());
    assert!(diff.is_empty(), "generate changed the tree:\n{diff}");
}

// ---------------------------------------------------------------------------------------------
// parameters
// ---------------------------------------------------------------------------------------------

const ANNOUNCEMENT_FIELDS: [&str; 9] = [
    "name",
    "title",
    "tooltip",
    "required",
    "itemType",
    "collectionType",
    "string",
    "array",
    "map",
];

/// The announcement as Go's `json.Unmarshal` into `[]*ParameterAnnouncement` reads it: keys
/// matched case-insensitively, unknown keys ignored, every known field of its Go type.
fn go_decode_announcements(
    stdout: &str,
) -> Result<Vec<BTreeMap<String, serde_json::Value>>, String> {
    use serde_json::Value;
    let v: Value = serde_json::from_str(stdout).map_err(|e| e.to_string())?;
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err("not a JSON array".into()),
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(obj) = item else {
            return Err(format!("not an object: {item}"));
        };
        let mut fields = BTreeMap::new();
        for (k, v) in obj {
            let Some(field) = ANNOUNCEMENT_FIELDS
                .iter()
                .find(|f| f.eq_ignore_ascii_case(&k))
            else {
                continue;
            };
            let ok = match *field {
                "required" => v.is_boolean() || v.is_null(),
                "array" => {
                    v.is_null() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                }
                "map" => {
                    v.is_null()
                        || v.as_object()
                            .is_some_and(|m| m.values().all(Value::is_string))
                }
                _ => v.is_string() || v.is_null(),
            };
            if !ok {
                return Err(format!("json: cannot unmarshal {v} into field {field}"));
            }
            fields.insert((*field).to_string(), v);
        }
        out.push(fields);
    }
    Ok(out)
}

fn announced_names(list: &[BTreeMap<String, serde_json::Value>]) -> Vec<String> {
    list.iter()
        .map(|a| {
            a.get("name")
                .and_then(|n| n.as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn announcement<'a>(
    list: &'a [BTreeMap<String, serde_json::Value>],
    name: &str,
) -> &'a BTreeMap<String, serde_json::Value> {
    list.iter()
        .find(|a| a.get("name").and_then(|n| n.as_str()) == Some(name))
        .unwrap_or_else(|| panic!("no announcement named {name}"))
}

fn kubectl_gitops_parameters(wd: &Workdir, app: &App, sidecar: &Sidecar, extra: &[&str]) -> Run {
    let mut argv = vec!["kubectl-gitops".to_string(), "parameters".to_string()];
    argv.extend(extra.iter().map(|s| (*s).to_string()));
    run_command(&argv, &wd.path(&app.path), sidecar, &app.parameters_env())
}

#[test]
fn parameters_announcement_with_the_reduced_environment() {
    let (wd, sidecar) = request();
    let app = App::new("my-microservice-prod", APP)
        .env("GITOPS_ENV", "prod")
        .dest("my-microservice");
    let run = kubectl_gitops_parameters(&wd, &app, &sidecar, &[]);
    timing("parameters", &run);
    assert!(run.ok(), "{run}");
    assert_eq!(
        names(&run),
        [
            "PATH",
            "HOME",
            "ARGOCD_APP_NAME",
            "ARGOCD_APP_SOURCE_REPO_URL",
            "ARGOCD_APP_SOURCE_PATH",
            "ARGOCD_APP_SOURCE_TARGET_REVISION",
            "ARGOCD_ENV_GITOPS_ENV",
            "ARGOCD_APP_PARAMETERS",
        ],
        "populatePluginAppDetails's variables only"
    );
    let list = go_decode_announcements(run.argo_stdout()).unwrap_or_else(|e| panic!("{e}{run}"));
    assert_eq!(announced_names(&list), ["env", "pr", "app", "namespace"]);
    // Our own shape, stricter than Go: exactly these keys, `string` only with a default.
    let raw: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(&run.stdout).unwrap();
    for a in &raw {
        let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
        keys.retain(|k| *k != "string");
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "collectionType",
                "itemType",
                "name",
                "required",
                "title",
                "tooltip"
            ],
            "{a:?}"
        );
        assert_eq!(a["required"], false);
        assert_eq!(a["itemType"], "string");
        assert_eq!(a["collectionType"], "string");
        assert!(a["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
    let env = announcement(&list, "env");
    let tooltip = env["tooltip"].as_str().unwrap();
    assert!(tooltip.contains("dev, staging, prod"), "{tooltip}");
    assert_eq!(env.get("string").and_then(|s| s.as_str()), Some("prod"));
    assert_eq!(
        announcement(&list, "app")
            .get("string")
            .and_then(|s| s.as_str()),
        Some("my-microservice")
    );
    assert_eq!(announcement(&list, "pr").get("string"), None);

    let run = kubectl_gitops_parameters(&wd, &app, &sidecar, &["--exclude", "pr,namespace"]);
    assert!(run.ok(), "{run}");
    let list = go_decode_announcements(run.argo_stdout()).unwrap();
    assert_eq!(announced_names(&list), ["env", "app"]);
}

#[test]
fn parameters_defaults_in_a_preview_without_app_in_gitops_yaml() {
    let (wd, sidecar) = request_without_app_name();
    let app = App::new("preview-of-pull-request-123", APP_WITHOUT_NAME).param("pr", "123");
    let run = kubectl_gitops_parameters(&wd, &app, &sidecar, &[]);
    assert!(run.ok(), "{run}");
    let list = go_decode_announcements(run.argo_stdout()).unwrap();
    assert_eq!(
        announcement(&list, "pr")
            .get("string")
            .and_then(|s| s.as_str()),
        Some("123")
    );
    assert_eq!(
        announcement(&list, "app")
            .get("string")
            .and_then(|s| s.as_str()),
        Some("my-microservice"),
        "the folder holding gitops.yaml, as a render defaults it"
    );
}

#[test]
fn parameters_with_a_broken_gitops_yaml_fail_closed() {
    // In Argo CD a failing dynamic command fails the whole announcement (getParametersAnnouncement
    // returns the error), so the static parameters are not shown either.
    let (wd, sidecar) = request();
    wd.edit(&format!("{APP}/gitops.yaml"), |t| format!("{t}  qa: [\n"));
    let app = App::new("my-microservice", APP);
    let run = parameters(&wd, &app, &sidecar);
    timing("parameters-broken-gitops-yaml", &run);
    assert!(!run.ok(), "{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert!(run.first_stderr_line().starts_with("gitops.yaml:"), "{run}");
}

#[test]
fn plugin_yaml_static_and_dynamic_announce_each_parameter_once() {
    let (wd, sidecar) = request();
    let cfg = PluginConfig::load("plugin.yaml");
    let app = App::new("my-microservice-dev", APP).env("GITOPS_ENV", "dev");
    // The dynamic command exactly as plugin.yaml writes it.
    let run = parameters(&wd, &app, &sidecar);
    timing("plugin.yaml dynamic parameters", &run);
    assert!(run.ok(), "{run}");
    let dynamic = go_decode_announcements(run.argo_stdout()).unwrap_or_else(|e| panic!("{e}{run}"));
    // Static announcements, read as JSON the way plugin.yaml is (YAML -> JSON -> Go struct).
    let statics: Vec<serde_json::Value> = cfg
        .doc
        .at("spec.parameters.static")
        .and_then(Node::seq)
        .unwrap_or(&[])
        .iter()
        .map(node_to_json)
        .collect();
    let statics = go_decode_announcements(&serde_json::Value::Array(statics).to_string()).unwrap();
    // dynamic ++ static
    let mut all = announced_names(&dynamic);
    all.extend(announced_names(&statics));
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["app", "env", "namespace", "pr"],
        "announced: {all:?}"
    );
    let env = announcement(&dynamic, "env");
    assert!(
        env["tooltip"]
            .as_str()
            .unwrap()
            .contains("dev, staging, prod")
    );
}

fn node_to_json(n: &Node) -> serde_json::Value {
    match n {
        Node::Scalar { value, plain } => {
            if n.is_null() {
                serde_json::Value::Null
            } else if *plain && (value == "true" || value == "false") {
                serde_json::Value::Bool(value == "true")
            } else {
                serde_json::Value::String(value.clone())
            }
        }
        Node::Seq(items) => serde_json::Value::Array(items.iter().map(node_to_json).collect()),
        Node::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), node_to_json(v)))
                .collect(),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// plugin.yaml and plugin-discovery.yaml
// ---------------------------------------------------------------------------------------------

#[test]
fn plugin_yaml_is_a_named_plugin_without_discovery() {
    let cfg = PluginConfig::load("plugin.yaml");
    assert_eq!(
        cfg.doc.at("apiVersion").and_then(Node::str),
        Some("argoproj.io/v1alpha1")
    );
    assert_eq!(cfg.plugin_name, "kubectl-gitops-v1");
    assert_eq!(cfg.generate, ["kubectl-gitops", "generate"]);
    let spec = cfg.doc.get("spec").unwrap();
    assert!(
        spec.get("discover").is_none(),
        "no discover: a named plugin must then also match"
    );
    for typo in ["discovery", "Discover"] {
        assert!(
            spec.get(typo).is_none(),
            "{typo:?} would be silently ignored"
        );
    }
    assert!(cfg.doc.get("discover").is_none());
    // The command resolves on the sidecar's PATH to the binary under test.
    let wd = Workdir::new();
    let sidecar = Sidecar::new(&wd);
    let found = look_path(&cfg.generate[0], &sidecar.env).unwrap();
    assert_eq!(found.canonicalize().unwrap(), bin().canonicalize().unwrap());
    assert_eq!(cfg.dynamic[..2], ["kubectl-gitops", "parameters"]);
    // Static announcements: a name each, string collections.
    for s in cfg
        .doc
        .at("spec.parameters.static")
        .and_then(Node::seq)
        .unwrap()
    {
        assert!(s.get("name").and_then(Node::str).is_some(), "{s:?}");
        let ct = s
            .get("collectionType")
            .and_then(Node::str)
            .unwrap_or("string");
        assert_eq!(ct, "string", "{s:?}");
    }
}

#[test]
fn plugin_discovery_yaml_discovers_by_gitops_yaml() {
    let named = PluginConfig::load("plugin.yaml");
    let cfg = PluginConfig::load("plugin-discovery.yaml");
    let file_name = cfg
        .doc
        .at("spec.discover.fileName")
        .and_then(Node::str)
        .unwrap();
    assert_eq!(file_name, "gitops.yaml");
    assert_ne!(
        cfg.plugin_name, named.plugin_name,
        "a different socket name"
    );
    assert_eq!(cfg.generate, named.generate);
    // MatchRepository with `fileName`: filepath.Glob(<app dir>/gitops.yaml), nothing upward.
    let (wd, _) = request();
    assert!(
        wd.path(APP).join(file_name).is_file(),
        "my-microservice is discovered"
    );
    assert!(
        !wd.path(APP).join("kubernetes").join(file_name).is_file(),
        "its kubernetes/ folder (pattern 2) is not"
    );
}

// ---------------------------------------------------------------------------------------------
// The harness itself (it is the oracle, so its Argo CD model is checked against the cases of
// Argo CD's own tests and the contract)
// ---------------------------------------------------------------------------------------------

#[test]
fn harness_models_argo_cd() {
    use cmp_harness::{Param, envsubst, go_marshal_parameters, parse_manifests};

    // types_test.go TestApplicationSourcePluginParameters_Environ_*: Go's key order.
    let mut m = BTreeMap::new();
    m.insert("image.tag".to_string(), "v1".to_string());
    let params = [
        Param::string("s", "v"),
        Param {
            name: "arr".into(),
            array: Some(vec!["a".into(), "b".into()]),
            ..Param::default()
        },
        Param {
            name: "helm-parameters".into(),
            map: Some(m),
            ..Param::default()
        },
        Param::string("html", "<a&b>\n"),
    ];
    assert_eq!(go_marshal_parameters(&[]), "null");
    assert_eq!(
        go_marshal_parameters(&params),
        r#"[{"name":"s","string":"v"},{"array":["a","b"],"name":"arr"},{"map":{"image.tag":"v1"},"name":"helm-parameters"},{"name":"html","string":"\u003ca\u0026b\u003e\n"}]"#
    );
    let mut app = App::new("x", "p");
    app.plugin.as_mut().unwrap().parameters = params.to_vec();
    let env = app.generate_env();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("PARAM_S"), Some("v"));
    assert_eq!(get("PARAM_ARR_1"), Some("b"));
    assert_eq!(get("PARAM_HELM_PARAMETERS_IMAGE_TAG"), Some("v1"));

    // Env.Envsubst (os.Expand): build variables only, `$$` is `$`, unknown is empty.
    let vars = vec![
        ("ARGOCD_APP_NAME".to_string(), "shop".to_string()),
        ("KUBE_VERSION".to_string(), "1.31.4".to_string()),
    ];
    for (input, want) in [
        ("$ARGOCD_APP_NAME-x", "shop-x"),
        ("${KUBE_VERSION}", "1.31.4"),
        ("$$5", "$5"),
        ("$UNKNOWN.", "."),
        ("a$", "a$"),
        ("${}b", "b"),
        ("${open", "open"),
        ("plain", "plain"),
    ] {
        assert_eq!(envsubst(input, &vars), want, "{input}");
    }
    let app = App::new("shop", "p").env("WHERE", "$ARGOCD_APP_NAME/$HOME");
    assert_eq!(
        app.generate_env()
            .iter()
            .find(|(k, _)| k == "ARGOCD_ENV_WHERE")
            .unwrap()
            .1,
        "shop/",
        "no sidecar variables in Envsubst"
    );

    // SplitYAMLToString + the repo-server's object checks.
    let count = |s: &str| parse_manifests(s).map(|v| v.len());
    assert_eq!(count(""), Ok(0));
    assert_eq!(
        count("---\n# only a comment\n---\n  \n---\nkind: A\n--- # c\nkind: B"),
        Ok(2)
    );
    assert_eq!(count("kind: List\nitems:\n- kind: A\n- kind: B\n"), Ok(2));
    assert_eq!(count("kind: ConfigMapList\nitems: null\n"), Ok(0));
    assert_eq!(count(r#"{"kind":"A"} {"kind":"B"}"#), Ok(2));
    assert_eq!(count("null\n"), Ok(0));
    for bad in [
        "a: 1\n",
        "kind: \"\"\n",
        "--- kind: A\n",
        "- kind: A\n",
        "kind: A\nx: [\n",
        "kind: List\nitems:\n- a: 1\n",
    ] {
        assert!(parse_manifests(bad).is_err(), "{bad:?} must be refused");
    }
}
