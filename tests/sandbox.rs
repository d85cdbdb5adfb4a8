//! A pull request cannot escape its preview (issue 8, DESIGN.md §3 "Who may widen a preview's
//! sandbox", §4.6, §4.9): the real binary against hostile gitops.yaml files, identities and
//! platform policies.
//!
//! Each case writes a fresh repository (a directory holding `.git`), runs `render`,
//! `generate` (with the variables Argo CD's sidecar sets) or `preview up`, and asserts the
//! contract: exit 2, nothing on stdout, and a first line of stderr that says where and why.
//! `ARGOCD_*` and `GITOPS_*` are removed from the environment of every run.

#![allow(clippy::unwrap_used)]

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n--- exit code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Out {
    fn first_stderr_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }

    /// Exit 2, nothing on stdout, a first stderr line starting with `prefix` and mentioning
    /// every one of `mentions`.
    fn refused(&self, prefix: &str, mentions: &[&str]) {
        assert_eq!(self.code, Some(2), "exit code{self}");
        assert_eq!(self.stdout, "", "stdout must be empty on error{self}");
        let first = self.first_stderr_line();
        assert!(
            first.starts_with(prefix),
            "first line should start with {prefix:?}{self}"
        );
        for m in mentions {
            assert!(first.contains(m), "first line should mention {m:?}{self}");
        }
    }

    fn ok(&self) {
        assert_eq!(self.code, Some(0), "exit code{self}");
    }

    fn kinds(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("kind: "))
            .collect()
    }
}

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

    fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, dedent(text)).unwrap();
    }

    /// `kubectl-gitops <args>` in the repository.
    fn run(&self, args: &[&str]) -> Out {
        run(self.dir.path(), args, &[])
    }

    /// `kubectl-gitops generate` as Argo CD's sidecar runs it for the Application of `app`
    /// (a folder of the repository), with `env` added (plugin env, parameters, sidecar).
    fn generate(&self, app: &str, env: &[(&str, &str)]) -> Out {
        let mut all = vec![
            ("ARGOCD_APP_NAME", "shop"),
            ("ARGOCD_APP_NAMESPACE", ""),
            ("ARGOCD_APP_SOURCE_PATH", app),
            (
                "ARGOCD_APP_REVISION",
                "0123456789abcdef0123456789abcdef01234567",
            ),
        ];
        all.extend_from_slice(env);
        run(&self.path(app), &["generate"], &all)
    }
}

fn run(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-gitops"));
    cmd.current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("ARGOCD_") || k.starts_with("GITOPS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.args(args).stdin(Stdio::null()).output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Removes one leading newline and the common indentation, so YAML can be written indented.
fn dedent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.get(indent..).unwrap_or("").trim_end());
        out.push('\n');
    }
    out
}

const CONFIGMAP: &str = "
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: settings
    data: {a: b}
";

const CLUSTER_ROLE_BINDING: &str = "
    apiVersion: rbac.authorization.k8s.io/v1
    kind: ClusterRoleBinding
    metadata:
      name: everyone-admin
    roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
    subjects:
    - {apiGroup: rbac.authorization.k8s.io, kind: Group, name: 'system:authenticated'}
";

/// The app a hostile pull request edits: its gitops.yaml now allows ClusterRoleBindings,
/// and it adds one granting cluster-admin to every authenticated user.
fn hostile_pull_request() -> Repo {
    let repo = Repo::new();
    repo.write(
        "shop/gitops.yaml",
        "
        app: shop
        environments:
          dev: {namespace: shop-dev}
        preview:
          from: dev
          allowClusterScoped: [ClusterRoleBinding.rbac.authorization.k8s.io]
        ",
    );
    repo.write("shop/cm.yaml", CONFIGMAP);
    repo.write("shop/crb.yaml", CLUSTER_ROLE_BINDING);
    repo
}

/// The refusal, as `render` and `preview up` (run at the repository root) show it;
/// `generate` runs in the app's folder, so its path is `gitops.yaml`.
const WIDENS: &str = "shop/gitops.yaml:6:24: preview.allowClusterScoped lists ClusterRoleBinding.rbac.authorization.k8s.io, which the platform policy";

fn widens_in_generate() -> &'static str {
    WIDENS.strip_prefix("shop/").unwrap()
}

/// A policy file outside the repository (as a mounted ConfigMap is).
fn policy_file(text: &str) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    fs::write(&path, dedent(text)).unwrap();
    (dir, path)
}

// ---------------------------------------------------------------------------------------------
// Who may widen a preview's sandbox
// ---------------------------------------------------------------------------------------------

#[test]
fn generate_refuses_a_pull_request_that_allows_itself_cluster_scoped_kinds() {
    let repo = hostile_pull_request();
    // No policy on the sidecar: nothing widens a preview.
    repo.generate("shop", &[("ARGOCD_ENV_GITOPS_PR", "7")])
        .refused(widens_in_generate(), &["GITOPS_POLICY", "may only narrow"]);
    // As a plugin parameter, the same.
    repo.generate(
        "shop",
        &[("ARGOCD_APP_PARAMETERS", r#"[{"name":"pr","string":"7"}]"#)],
    )
    .refused(widens_in_generate(), &[]);
    // A policy that allows other kinds does not help.
    let (_dir, policy) =
        policy_file("preview:\n  allowClusterScoped: [ClusterRole.rbac.authorization.k8s.io]\n");
    repo.generate(
        "shop",
        &[
            ("ARGOCD_ENV_GITOPS_PR", "7"),
            ("GITOPS_POLICY", policy.to_str().unwrap()),
        ],
    )
    .refused(widens_in_generate(), &[policy.to_str().unwrap()]);
    // The environments' renders are not previews: the preview keys do not apply.
    repo.generate("shop", &[("ARGOCD_ENV_GITOPS_ENV", "dev")])
        .ok();
}

#[test]
fn preview_up_refuses_a_pull_request_that_allows_itself_cluster_scoped_kinds() {
    let repo = hostile_pull_request();
    let infra = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(infra.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    let infra_dir = infra.path().to_str().unwrap();
    repo.run(&["preview", "up", "shop", "--pr", "7", "--repo", infra_dir])
        .refused(WIDENS, &["may only narrow"]);
    // GITOPS_POLICY is read too; a policy that allows the kind lets it through.
    let policy = repo.path("policy.yaml");
    fs::write(
        &policy,
        "preview:\n  allowClusterScoped: [ClusterRoleBinding.rbac.authorization.k8s.io]\n",
    )
    .unwrap();
    let out = run(
        repo.dir.path(),
        &["preview", "up", "shop", "--pr", "7", "--repo", infra_dir],
        &[
            ("GITOPS_POLICY", policy.to_str().unwrap()),
            ("GIT_AUTHOR_NAME", "t"),
            ("GIT_AUTHOR_EMAIL", "t@example.com"),
            ("GIT_COMMITTER_NAME", "t"),
            ("GIT_COMMITTER_EMAIL", "t@example.com"),
        ],
    );
    out.ok();
    assert!(
        infra.path().join("shop-pr-7").is_dir(),
        "the preview was rendered{out}"
    );
    // --policy wins over GITOPS_POLICY.
    fs::write(repo.path("narrow.yaml"), "preview: {}\n").unwrap();
    run(
        repo.dir.path(),
        &[
            "preview",
            "up",
            "shop",
            "--pr",
            "8",
            "--repo",
            infra_dir,
            "--policy",
            "narrow.yaml",
        ],
        &[("GITOPS_POLICY", policy.to_str().unwrap())],
    )
    .refused(WIDENS, &["narrow.yaml"]);
}

#[test]
fn render_trusts_gitops_yaml_unless_a_policy_is_given() {
    let repo = hostile_pull_request();
    let out = repo.run(&["render", "shop", "--pr", "7"]);
    out.ok();
    assert_eq!(
        out.kinds(),
        ["Namespace", "ConfigMap", "ClusterRoleBinding"],
        "{out}"
    );
    repo.write("policy.yaml", "preview: {}\n");
    repo.run(&["render", "shop", "--pr", "7", "--policy", "policy.yaml"])
        .refused(WIDENS, &["the platform policy policy.yaml"]);
    // An environment render does not use the preview keys.
    repo.run(&["render", "shop", "--env", "dev", "--policy", "policy.yaml"])
        .ok();
    // check under the policy says the same.
    repo.run(&["check", "shop", "--pr", "7", "--policy", "policy.yaml"])
        .refused(WIDENS, &[]);
}

#[test]
fn the_policy_widens_and_gitops_yaml_narrows() {
    let repo = Repo::new();
    let (_dir, policy) = policy_file(
        "
        preview:
          allowClusterScoped: [ClusterRole.rbac.authorization.k8s.io, XBucket]
        ",
    );
    repo.write("shop/cm.yaml", CONFIGMAP);
    repo.write(
        "shop/role.yaml",
        "
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: reader
        rules: []
        ",
    );
    repo.write("shop/crb.yaml", CLUSTER_ROLE_BINDING);
    let policy = policy.to_str().unwrap();
    // Without gitops.yaml, the policy's list applies: the ClusterRole passes, the binding not.
    repo.generate(
        "shop",
        &[("ARGOCD_ENV_GITOPS_PR", "7"), ("GITOPS_POLICY", policy)],
    )
    .refused(
        "crb.yaml:1:1: ClusterRoleBinding/everyone-admin is cluster-scoped",
        &["does not allow it", "preview.allowClusterScoped"],
    );
    fs::remove_file(repo.path("shop/crb.yaml")).unwrap();
    let out = repo.generate(
        "shop",
        &[("ARGOCD_ENV_GITOPS_PR", "7"), ("GITOPS_POLICY", policy)],
    );
    out.ok();
    assert_eq!(
        out.kinds(),
        ["Namespace", "ConfigMap", "ClusterRole"],
        "{out}"
    );
    // gitops.yaml narrows the policy's list to nothing.
    repo.write(
        "shop/gitops.yaml",
        "app: shop\npreview:\n  allowClusterScoped: []\n",
    );
    repo.generate(
        "shop",
        &[("ARGOCD_ENV_GITOPS_PR", "7"), ("GITOPS_POLICY", policy)],
    )
    .refused("role.yaml:1:1: ClusterRole/reader is cluster-scoped", &[]);
    // A bare kind in the policy covers a grouped one in gitops.yaml.
    repo.write(
        "shop/gitops.yaml",
        "app: shop\npreview:\n  allowClusterScoped: [ClusterRole.rbac.authorization.k8s.io, XBucket.s3.example.org]\n",
    );
    repo.generate(
        "shop",
        &[("ARGOCD_ENV_GITOPS_PR", "7"), ("GITOPS_POLICY", policy)],
    )
    .ok();
}

#[test]
fn the_policy_sets_the_preview_namespace() {
    let repo = Repo::new();
    let (_dir, policy) = policy_file("preview:\n  namespace: 'previews-{app}-{pr}'\n");
    repo.write("shop/cm.yaml", CONFIGMAP);
    let policy = policy.to_str().unwrap();
    let out = repo.generate(
        "shop",
        &[("ARGOCD_ENV_GITOPS_PR", "7"), ("GITOPS_POLICY", policy)],
    );
    out.ok();
    assert!(out.stdout.contains("namespace: previews-shop-7\n"), "{out}");
    // gitops.yaml may not change it.
    repo.write(
        "shop/gitops.yaml",
        "app: shop\npreview:\n  namespace: 'mine-{pr}'\n",
    );
    repo.generate(
        "shop",
        &[("ARGOCD_ENV_GITOPS_PR", "7"), ("GITOPS_POLICY", policy)],
    )
    .refused(
        "gitops.yaml:3:14: preview.namespace is \"mine-{pr}\" here, but the platform policy",
        &["may not change it"],
    );
    // A namespace template without {pr} comes only from the platform.
    repo.write(
        "shop/gitops.yaml",
        "app: shop\npreview:\n  namespace: previews\n",
    );
    repo.run(&["render", "shop", "--pr", "7"]).refused(
        "shop/gitops.yaml:3:14: preview.namespace \"previews\" must contain {pr}",
        &[],
    );
}

#[test]
fn the_policy_is_named_only_by_the_sidecar_and_read_with_care() {
    let repo = Repo::new();
    repo.write("shop/cm.yaml", CONFIGMAP);
    repo.write(
        "shop/policy.yaml",
        "preview: {allowClusterScoped: [ClusterRoleBinding]}\n",
    );
    let pr = ("ARGOCD_ENV_GITOPS_PR", "7");
    // An Application may not name it.
    for name in [
        "ARGOCD_ENV_GITOPS_POLICY",
        "ARGOCD_ENV_ARGOCD_ENV_GITOPS_POLICY",
    ] {
        repo.generate("shop", &[pr, (name, "/etc/policy.yaml")])
            .refused("error: plugin env entry ", &["sidecar's own GITOPS_POLICY"]);
    }
    // Relative paths would be read from the checkout; so would a path inside it.
    repo.generate("shop", &[pr, ("GITOPS_POLICY", "policy.yaml")])
        .refused(
            "error: GITOPS_POLICY \"policy.yaml\" must be an absolute path",
            &[],
        );
    let inside = repo.path("shop/policy.yaml");
    repo.generate("shop", &[pr, ("GITOPS_POLICY", inside.to_str().unwrap())])
        .refused(
            "error: GITOPS_POLICY",
            &["inside the repository being rendered"],
        );
    // Not a regular file, too large, unknown keys: refused, located.
    let outside = tempfile::tempdir().unwrap();
    let fifo = outside.path().join("fifo.yaml");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success();
    assert!(made);
    let started = Instant::now();
    repo.generate("shop", &[pr, ("GITOPS_POLICY", fifo.to_str().unwrap())])
        .refused(fifo.to_str().unwrap(), &["not a regular file"]);
    assert!(started.elapsed() < Duration::from_secs(30));
    let big = outside.path().join("big.yaml");
    fs::write(&big, format!("# {}\n", "x".repeat(1 << 20))).unwrap();
    repo.generate("shop", &[pr, ("GITOPS_POLICY", big.to_str().unwrap())])
        .refused(big.to_str().unwrap(), &["over the limit of 1048576 bytes"]);
    let typo = outside.path().join("typo.yaml");
    fs::write(&typo, "preview:\n  allowClusterScope: [X]\n").unwrap();
    repo.generate("shop", &[pr, ("GITOPS_POLICY", typo.to_str().unwrap())])
        .refused(
            &format!(
                "{}:2:3: unknown key \"allowClusterScope\" in preview",
                typo.display()
            ),
            &[],
        );
    let star = outside.path().join("star.yaml");
    fs::write(&star, "preview:\n  allowClusterScoped: ['*']\n").unwrap();
    repo.generate("shop", &[pr, ("GITOPS_POLICY", star.to_str().unwrap())])
        .refused(
            &format!(
                "{}:2:24: preview.allowClusterScoped: * is not a kind",
                star.display()
            ),
            &[],
        );
    // A missing policy file is an error, not "no policy".
    repo.generate("shop", &[pr, ("GITOPS_POLICY", "/nonexistent/policy.yaml")])
        .refused("/nonexistent/policy.yaml: ", &[]);
}

// ---------------------------------------------------------------------------------------------
// Protected namespaces
// ---------------------------------------------------------------------------------------------

#[test]
fn previews_never_target_system_namespaces() {
    let repo = Repo::new();
    repo.write("shop/cm.yaml", CONFIGMAP);
    for ns in ["kube-system", "kube-public", "kube-node-lease", "default"] {
        let want =
            format!("error: a preview may not render into namespace {ns} (from --namespace)");
        repo.run(&["render", "shop", "--pr", "3", "--namespace", ns])
            .refused(&want, &["a Kubernetes system namespace"]);
        let want = format!(
            "error: a preview may not render into namespace {ns} (from ARGOCD_ENV_GITOPS_NAMESPACE)"
        );
        repo.generate(
            "shop",
            &[
                ("ARGOCD_ENV_GITOPS_PR", "3"),
                ("ARGOCD_ENV_GITOPS_NAMESPACE", ns),
            ],
        )
        .refused(&want, &[]);
        let params =
            format!(r#"[{{"name":"namespace","string":"{ns}"}},{{"name":"pr","string":"3"}}]"#);
        repo.generate("shop", &[("ARGOCD_APP_PARAMETERS", &params)])
            .refused(
                &format!(
                    "error: a preview may not render into namespace {ns} (from plugin parameter namespace)"
                ),
                &[],
            );
        let want = format!(
            "error: a preview may not render into namespace {ns} (from GITOPS_NAMESPACE (sidecar environment))"
        );
        repo.generate(
            "shop",
            &[("ARGOCD_ENV_GITOPS_PR", "3"), ("GITOPS_NAMESPACE", ns)],
        )
        .refused(&want, &[]);
    }
    // An environment render into kube-system is the platform's business.
    repo.run(&[
        "render",
        "shop",
        "--env",
        "dev",
        "--namespace",
        "kube-system",
    ])
    .ok();
}

#[test]
fn previews_never_target_protected_or_environment_namespaces() {
    let repo = Repo::new();
    repo.write("shop/cm.yaml", CONFIGMAP);
    repo.write(
        "shop/gitops.yaml",
        "
        app: shop
        environments:
          dev: {namespace: shop-dev}
          prod: {namespace: shop}
        preview:
          from: dev
          protectedNamespaces: [argocd, shop-pr-13]
        ",
    );
    repo.run(&["render", "shop", "--pr", "3", "--namespace", "argocd"])
        .refused(
            "error: a preview may not render into namespace argocd (from --namespace)",
            &["preview.protectedNamespaces in shop/gitops.yaml"],
        );
    // From the template.
    repo.run(&["render", "shop", "--pr", "13"]).refused(
        "error: a preview may not render into namespace shop-pr-13 (from the preview namespace template \"{app}-pr-{pr}\")",
        &[],
    );
    // An environment's namespace: the preview's Namespace would be deleted with the PR.
    for ns in ["shop", "shop-dev"] {
        repo.run(&["render", "shop", "--pr", "3", "--namespace", ns])
            .refused(
                &format!("error: a preview may not render into namespace {ns} (from --namespace)"),
                &["'s namespace in shop/gitops.yaml"],
            );
    }
    // The policy's list, and its template.
    repo.write("policy.yaml", "preview:\n  protectedNamespaces: [vault]\n");
    repo.run(&[
        "render",
        "shop",
        "--pr",
        "3",
        "--namespace",
        "vault",
        "--policy",
        "policy.yaml",
    ])
    .refused(
        "error: a preview may not render into namespace vault (from --namespace)",
        &["protected by the platform policy policy.yaml"],
    );
    let other = Repo::new();
    other.write("shop/cm.yaml", CONFIGMAP);
    other.write("policy.yaml", "preview:\n  namespace: default\n");
    other
        .run(&["render", "shop", "--pr", "3", "--policy", "policy.yaml"])
        .refused(
            "error: a preview may not render into namespace default (from the preview namespace template \"default\")",
            &[],
        );
    // gitops.yaml's list adds to the built-in one, never replaces it.
    repo.run(&["render", "shop", "--pr", "3", "--namespace", "kube-system"])
        .refused(
            "error: a preview may not render into namespace kube-system",
            &[],
        );
}

// ---------------------------------------------------------------------------------------------
// gitops.yaml may not instruct Argo CD, nor name what matches nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn environments_may_not_set_argocd_keys() {
    let repo = Repo::new();
    repo.write("shop/cm.yaml", CONFIGMAP);
    for (key, what, col) in [
        ("argocd.argoproj.io/hook", "annotations", 37),
        ("argocd.argoproj.io/sync-options", "annotations", 37),
        ("argocd.argoproj.io/sync-wave", "labels", 32),
        ("argocd.argoproj.io/compare-options", "annotations", 37),
    ] {
        repo.write(
            "shop/gitops.yaml",
            &format!("environments:\n  dev: {{namespace: d, {what}: {{{key}: x}}}}\n"),
        );
        let singular = what.trim_end_matches('s');
        repo.run(&["render", "shop", "--env", "dev"]).refused(
            &format!("shop/gitops.yaml:2:{col}: {singular} key {key:?} in environments.dev.{what}"),
            &["instructions to Argo CD"],
        );
    }
}

#[test]
fn kind_lists_refuse_what_matches_nothing() {
    let repo = Repo::new();
    repo.write("shop/cm.yaml", CONFIGMAP);
    for (list, want) in [
        (
            "['*']",
            "shop/gitops.yaml:1:32: preview.allowClusterScoped: * is not a kind",
        ),
        (
            "['*.rbac.authorization.k8s.io']",
            "shop/gitops.yaml:1:32: preview.allowClusterScoped: *.rbac.authorization.k8s.io is not a kind",
        ),
        (
            "['ClusterRole.Bad_Group']",
            "shop/gitops.yaml:1:32: preview.allowClusterScoped: ClusterRole.Bad_Group does not name an API group",
        ),
    ] {
        repo.write(
            "shop/gitops.yaml",
            &format!("preview: {{allowClusterScoped: {list}}}\n"),
        );
        repo.run(&["render", "shop", "--pr", "3"])
            .refused(want, &[]);
    }
}

// ---------------------------------------------------------------------------------------------
// Preview hosts
// ---------------------------------------------------------------------------------------------

fn ingress(host: &str) -> String {
    format!(
        "
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata:
          name: web
        spec:
          rules:
          - host: {host}
        "
    )
}

#[test]
fn a_hostile_hosts_template_is_refused_quickly() {
    let repo = Repo::new();
    let template = format!("{}{{pr}}x", "{rest}".repeat(30));
    repo.write(
        "shop/gitops.yaml",
        &format!("preview:\n  hosts: '{template}'\n"),
    );
    repo.write(
        "shop/ingress.yaml",
        &ingress(&format!("{}.example.com", "a".repeat(60))),
    );
    let started = Instant::now();
    repo.run(&["render", "shop", "--pr", "3"]).refused(
        "shop/gitops.yaml:2:10: preview.hosts",
        &["may hold {rest} only once"],
    );
    // No timing assertion beyond "it finished": a hang would stop the test suite.
    let _ = started.elapsed();
    let long = format!("'{}-{{pr}}.{{rest}}'", "a".repeat(300));
    repo.write("shop/gitops.yaml", &format!("preview:\n  hosts: {long}\n"));
    repo.run(&["render", "shop", "--pr", "3"]).refused(
        "shop/gitops.yaml:2:10: preview.hosts",
        &["longer than 253 bytes"],
    );
    repo.write(
        "shop/gitops.yaml",
        "preview:\n  hosts: '{label}_pr_{pr}.{rest}'\n",
    );
    repo.run(&["render", "shop", "--pr", "3"]).refused(
        "shop/gitops.yaml:2:10: preview.hosts",
        &["must give a host name"],
    );
}

#[test]
fn a_preview_host_that_would_be_invalid_is_refused() {
    let repo = Repo::new();
    let label = "a".repeat(60);
    repo.write(
        "shop/ingress.yaml",
        &ingress(&format!("{label}.example.com")),
    );
    repo.run(&["render", "shop", "--pr", "12345"]).refused(
        "shop/ingress.yaml:7:11: Ingress/web: the preview host for",
        &["not a valid host name"],
    );
    // A custom template keeps it valid, and the render is idempotent.
    repo.write(
        "shop/gitops.yaml",
        "app: shop\npreview:\n  hosts: 'pr-{pr}.{label}.{rest}'\n",
    );
    let out = repo.run(&["render", "shop", "--pr", "12345"]);
    out.ok();
    let want = format!("- host: pr-12345.{label}.example.com\n");
    assert!(out.stdout.contains(&want), "{out}");
    repo.write("shop/ingress.yaml", &out.stdout);
    let again = repo.run(&["render", "shop", "--pr", "12345"]);
    again.ok();
    assert_eq!(again.stdout, out.stdout);
    // One-label hosts too.
    repo.write("shop/ingress.yaml", &ingress("localhost"));
    let out = repo.run(&["render", "shop", "--pr", "7"]);
    assert!(out.stdout.contains("- host: pr-7.localhost\n"), "{out}");
    repo.write("shop/ingress.yaml", &out.stdout);
    assert_eq!(
        repo.run(&["render", "shop", "--pr", "7"]).stdout,
        out.stdout
    );
}

#[test]
fn hosts_longer_than_a_dns_name_are_left_alone_with_a_warning() {
    let repo = Repo::new();
    let host = format!("{}.example.com", "a.".repeat(200));
    repo.write("shop/ingress.yaml", &ingress(&host));
    let out = repo.run(&["render", "shop", "--pr", "7"]);
    out.ok();
    assert!(out.stdout.contains(&host), "{out}");
    assert!(
        out.stderr
            .contains("is not a valid host name (at most 253); left as it is"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// The examples the README points to
// ---------------------------------------------------------------------------------------------

#[test]
fn the_example_policy_renders_the_example_preview() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = run(
        root,
        &[
            "render",
            "testdata/my-microservice",
            "--pr",
            "123",
            "--policy",
            "examples/policy/policy.yaml",
        ],
        &[],
    );
    out.ok();
    assert!(
        out.stdout.contains("namespace: my-microservice-pr-123\n"),
        "{out}"
    );
    // The same bytes as a trusted render: the example gitops.yaml widens nothing.
    let trusted = run(
        root,
        &["render", "testdata/my-microservice", "--pr", "123"],
        &[],
    );
    assert_eq!(out.stdout, trusted.stdout);
}

#[test]
fn the_example_appproject_admits_the_example_previews_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let project = fs::read_to_string(root.join("examples/appprojects/previews.yaml")).unwrap();
    let out = run(root, &["render", "examples/appprojects/previews.yaml"], &[]);
    out.ok();
    assert_eq!(out.kinds(), ["AppProject"]);
    assert!(project.contains("    namespace: '*-pr-*'\n"));
    // Argo CD matches destinations with glob patterns: `*-pr-*` admits the previews'
    // namespaces and none of the system or environment namespaces.
    let glob = |name: &str| {
        name.split_once("-pr-")
            .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
    };
    for ns in ["my-microservice-pr-123", "shop-pr-7"] {
        assert!(glob(ns), "{ns}");
    }
    for ns in [
        "kube-system",
        "argocd",
        "default",
        "my-microservice",
        "my-microservice-dev",
    ] {
        assert!(!glob(ns), "{ns}");
    }
    let appset =
        fs::read_to_string(root.join("examples/applicationsets/pull-requests.yaml")).unwrap();
    assert!(
        appset.contains("      project: previews\n"),
        "the preview ApplicationSet uses it"
    );
}

#[test]
fn the_policy_can_fix_the_preview_hosts() {
    let repo = Repo::new();
    let (_dir, policy) = policy_file("preview:\n  hosts: 'pr-{pr}-{label}.previews.example.net'\n");
    let policy = policy.to_str().unwrap();
    repo.write("shop/ingress.yaml", &ingress("shop.example.com"));
    let pr = ("ARGOCD_ENV_GITOPS_PR", "7");
    let out = repo.generate("shop", &[pr, ("GITOPS_POLICY", policy)]);
    out.ok();
    assert!(
        out.stdout
            .contains("- host: pr-7-shop.previews.example.net\n"),
        "{out}"
    );
    // A pull request's gitops.yaml may not move its hosts elsewhere.
    repo.write(
        "shop/gitops.yaml",
        "app: shop\npreview:\n  hosts: 'www{pr}.{rest}'\n",
    );
    repo.generate("shop", &[pr, ("GITOPS_POLICY", policy)])
        .refused(
            "gitops.yaml:3:10: preview.hosts is \"www{pr}.{rest}\" here, but the platform policy",
            &["may not change it"],
        );
    // Without the policy key, gitops.yaml's template applies.
    let (_dir2, plain) = policy_file("preview: {}\n");
    let out = repo.generate("shop", &[pr, ("GITOPS_POLICY", plain.to_str().unwrap())]);
    out.ok();
    assert!(out.stdout.contains("- host: www7.example.com\n"), "{out}");
}
