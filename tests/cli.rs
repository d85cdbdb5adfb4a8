//! CLI tests of the real binary: exit codes, the first line of stderr, and stdout.
//!
//! The contract under test (DESIGN.md §5, issue 2): exit 0 on success; exit 2 on every error
//! and refusal, with nothing on stdout and the error as the first line of stderr
//! (`path:line:col: message` when a file is involved), warnings after it. An input with no
//! objects prints nothing, warns, and exits 0.
//!
//! Every input is written inline into a fresh temporary "repository" (a directory holding
//! `.git`, so gitops.yaml lookup stops there), the binary runs with that directory as its
//! working directory, and `ARGOCD_*`/`GITOPS_*` variables are removed from its environment,
//! so nothing depends on the developer's machine. Paths in messages are therefore relative
//! (`app/m.yaml:6:1: ...`) and can be matched exactly.

#![allow(clippy::unwrap_used)]

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use saphyr_parser::{Event, Parser};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// One run of the binary.
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
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    fn first_stderr_line(&self) -> &str {
        self.stderr.lines().next().unwrap_or("")
    }

    /// Exit 2, nothing on stdout, and this exact first line of stderr.
    fn assert_error(&self, first_line: &str) {
        assert_eq!(self.code, Some(2), "exit code{self}");
        assert_eq!(self.stdout, "", "stdout must be empty on error{self}");
        assert_eq!(
            self.first_stderr_line(),
            first_line,
            "first line of stderr{self}"
        );
    }

    /// Exit 2, nothing on stdout, and a first line of stderr that starts with `prefix` and
    /// contains every one of `mentions`.
    fn assert_error_like(&self, prefix: &str, mentions: &[&str]) {
        assert_eq!(self.code, Some(2), "exit code{self}");
        assert_eq!(self.stdout, "", "stdout must be empty on error{self}");
        let first = self.first_stderr_line();
        assert!(
            first.starts_with(prefix),
            "first line of stderr should start with {prefix:?}{self}"
        );
        for m in mentions {
            assert!(
                first.contains(m),
                "first line of stderr should mention {m:?}{self}"
            );
        }
    }

    /// Exit 0 and nothing on stderr.
    fn assert_clean_success(&self) {
        assert_eq!(self.code, Some(0), "exit code{self}");
        assert_eq!(self.stderr, "", "stderr{self}");
    }

    /// The YAML documents of stdout, checked to parse as YAML.
    fn yaml_docs(&self) -> usize {
        yaml_document_count(&self.stdout)
    }

    /// Top-level `kind:` lines of a YAML stream on stdout.
    fn kinds(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|l| l.strip_prefix("kind: "))
            .collect()
    }
}

/// Counts the documents of a YAML stream with an independent event parser, failing the test
/// when the text is not YAML.
fn yaml_document_count(text: &str) -> usize {
    let mut docs = 0;
    for event in Parser::new_from_str(text) {
        match event {
            Ok((Event::DocumentStart(_), _)) => docs += 1,
            Ok(_) => {}
            Err(e) => panic!("stdout is not valid YAML: {e:?}\n{text}"),
        }
    }
    docs
}

/// A fresh temporary repository: a directory with `.git`, so gitops.yaml lookup stops here.
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

    /// Writes `text` (dedented: see [`dedent`]) to `rel`, creating folders.
    fn write(&self, rel: &str, text: &str) {
        self.write_bytes(rel, dedent(text).as_bytes());
    }

    fn write_bytes(&self, rel: &str, bytes: &[u8]) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }

    fn mkdir(&self, rel: &str) {
        fs::create_dir_all(self.path(rel)).unwrap();
    }

    /// `kubectl-gitops <args>` with the repository as working directory.
    fn run(&self, args: &[&str]) -> Out {
        run_in(self.dir.path(), args, None)
    }

    /// `kubectl-gitops render <args>`.
    fn render(&self, args: &[&str]) -> Out {
        let mut all = vec!["render"];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// `kubectl-gitops render <args>` with `input` on standard input.
    fn render_stdin(&self, args: &[&str], input: &str) -> Out {
        let mut all = vec!["render"];
        all.extend_from_slice(args);
        run_in(self.dir.path(), &all, Some(dedent(input).as_bytes()))
    }
}

/// The binary, with `ARGOCD_*` and `GITOPS_*` removed from its environment.
fn command(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-gitops"));
    cmd.current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("ARGOCD_") || k.starts_with("GITOPS_") {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn run_in(cwd: &Path, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut cmd = command(cwd);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    if let Some(input) = stdin {
        // The binary reads all of stdin before it writes anything, so this cannot deadlock.
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The repository's own root (for `testdata/`).
fn project_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Removes one leading newline and the common indentation of the non-blank lines, so YAML
/// can be written indented inside a test; ends the text with exactly one newline.
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
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

/// A ConfigMap named `name`: the smallest object.
fn configmap(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}

const MIB: u64 = 1 << 20;

// ---------------------------------------------------------------------------------------------
// version and help
// ---------------------------------------------------------------------------------------------

/// What `version` must report for this checkout: the HEAD commit and its committer date in
/// UTC (build.rs reads both from git; never the clock), unless the build was given
/// `KUBECTL_GITOPS_COMMIT` / `SOURCE_DATE_EPOCH`, or is not a git checkout.
fn expected_build_metadata() -> Option<(String, String)> {
    if std::env::var_os("KUBECTL_GITOPS_COMMIT").is_some()
        || std::env::var_os("SOURCE_DATE_EPOCH").is_some()
    {
        return None;
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(project_root())
            .env("TZ", "UTC")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    let top = git(&["rev-parse", "--show-toplevel"])?;
    if fs::canonicalize(top).ok()? != fs::canonicalize(project_root()).ok()? {
        return None;
    }
    let commit = git(&["rev-parse", "HEAD"])?;
    let date = git(&[
        "log",
        "-1",
        "--format=%cd",
        "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
    ])?;
    Some((commit, date))
}

#[test]
fn version_subcommand_prints_the_version_commit_and_build_date() {
    let out = Repo::new().run(&["version"]);
    out.assert_clean_success();
    let prefix = format!("kubectl-gitops {} (commit ", env!("CARGO_PKG_VERSION"));
    assert!(out.stdout.starts_with(&prefix), "{out}");
    assert!(out.stdout.ends_with(")\n"), "{out}");
    if let Some((commit, date)) = expected_build_metadata() {
        assert_eq!(
            out.stdout,
            format!("{prefix}{}, built {date})\n", &commit[..12]),
            "{out}"
        );
    }

    let json = Repo::new().run(&["version", "-o", "json"]);
    json.assert_clean_success();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{json}");
    assert!(v["platform"].as_str().unwrap().contains('/'), "{json}");
    if let Some((commit, date)) = expected_build_metadata() {
        assert_eq!(v["gitCommit"], commit.as_str(), "{json}");
        assert_eq!(v["buildDate"], date.as_str(), "{json}");
    }
    // Deterministic: the build date is not the time of the run.
    let again = Repo::new().run(&["version", "-o", "json"]);
    assert_eq!(again.stdout, json.stdout);
}

#[test]
fn version_flag_prints_the_version() {
    let out = Repo::new().run(&["--version"]);
    out.assert_clean_success();
    assert_eq!(
        out.stdout,
        format!("kubectl-gitops {}\n", env!("CARGO_PKG_VERSION")),
        "{out}"
    );
}

#[test]
fn help_lists_the_commands_and_global_flags() {
    let out = Repo::new().run(&["--help"]);
    out.assert_clean_success();
    for word in ["render", "version", "--help", "--version"] {
        assert!(
            out.stdout.contains(word),
            "--help should mention {word:?}{out}"
        );
    }
}

#[test]
fn render_help_mentions_every_flag() {
    let out = Repo::new().run(&["render", "--help"]);
    out.assert_clean_success();
    for word in [
        "[PATH]",
        "--app",
        "--env",
        "--pr",
        "--namespace",
        "-o",
        "--output",
        "yaml",
        "json",
        "jsonl",
        "--out-dir",
        "standard input",
    ] {
        assert!(
            out.stdout.contains(word),
            "render --help should mention {word:?}{out}"
        );
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "--bogus"]);
    out.assert_error_like("error: unexpected argument '--bogus'", &[]);
}

#[test]
fn unknown_output_format_is_a_usage_error() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "-o", "xml"]);
    out.assert_error_like("error: invalid value 'xml'", &["--output"]);
}

// ---------------------------------------------------------------------------------------------
// A real example
// ---------------------------------------------------------------------------------------------

#[test]
fn render_my_microservice_as_a_preview() {
    let out = run_in(
        project_root(),
        &["render", "testdata/my-microservice", "--pr", "123"],
        None,
    );
    out.assert_clean_success();
    assert_eq!(
        out.kinds(),
        [
            "Namespace",
            "RedisInstance",
            "ConfigMap",
            "Deployment",
            "Service",
            "ServiceAccount"
        ],
        "{out}"
    );
    assert_eq!(out.yaml_docs(), 6, "{out}");
    assert!(
        out.stdout.starts_with(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: my-microservice-pr-123\n"
        ),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("writeConnectionSecretToRef:\n    name: redis-connection-pr-123\n"),
        "the claim's connection secret is renamed{out}"
    );
}

#[test]
fn render_without_identity_passes_objects_through() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: web
          namespace: somewhere
        data:
          on: yes
          mode: 0755
          quoted: "0755"
        "#,
    );
    let out = repo.render(&["app"]);
    out.assert_clean_success();
    assert_eq!(
        out.stdout,
        dedent(&fs::read_to_string(repo.path("app/m.yaml")).unwrap()),
        "{out}"
    );
}

/// DESIGN.md §4.3: the rename map is the app's. Rendering one directory of the app (one
/// Application per directory) reads its siblings for names only: the Deployment follows the
/// claim's renamed Secret, only the rendered directory's objects are printed, the first
/// directory with manifests owns the preview Namespace, and a sibling file that is not a
/// manifest is skipped with a warning (while the same file in the rendered path is an error).
#[test]
fn one_directory_of_an_app_renders_with_the_apps_names() {
    let repo = Repo::new();
    repo.write(
        "shop/gitops.yaml",
        "
        app: shop
        environments:
          dev: {namespace: shop-dev}
        ",
    );
    repo.write(
        "shop/infrastructure/claim.yaml",
        "
        apiVersion: cache.example.org/v1alpha1
        kind: RedisInstance
        metadata:
          name: cache
        spec:
          compositionSelector: {matchLabels: {tier: small}}
          writeConnectionSecretToRef:
            name: redis-connection
        ",
    );
    repo.write(
        "shop/kubernetes/deployment.yaml",
        "
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: nginx
                envFrom:
                - secretRef: {name: redis-connection}
        ",
    );
    repo.write("shop/ci/pipeline.yaml", "steps:\n- run: make test\n");
    let skipped = "shop/ci/pipeline.yaml:1:1: this document has no apiVersion and kind";

    let web = repo.render(&["shop/kubernetes", "--pr", "9"]);
    assert_eq!(web.code, Some(0), "{web}");
    assert_eq!(
        web.kinds(),
        ["Deployment"],
        "only the rendered directory{web}"
    );
    assert!(
        web.stdout
            .contains("- secretRef: {name: redis-connection-pr-9}"),
        "the Deployment reads the Secret the other directory's claim writes{web}"
    );
    assert!(web.stdout.contains("name: web-pr-9\n"), "{web}");
    assert!(
        web.stderr
            .lines()
            .any(|l| l.contains(skipped) && l.ends_with("(outside the rendered path: skipped)")),
        "a sibling that is not a manifest is a warning{web}"
    );

    let infra = repo.render(&["shop/infrastructure", "--pr", "9"]);
    assert_eq!(infra.code, Some(0), "{infra}");
    assert_eq!(
        infra.kinds(),
        ["Namespace", "RedisInstance"],
        "the first directory with manifests emits the preview Namespace{infra}"
    );
    assert!(
        infra.stdout.contains("name: redis-connection-pr-9\n"),
        "{infra}"
    );

    // An environment render renames nothing, and reads the siblings the same way.
    let dev = repo.render(&["shop/kubernetes", "--env", "dev"]);
    assert_eq!(dev.code, Some(0), "{dev}");
    assert!(dev.stdout.contains("{name: redis-connection}"), "{dev}");
    assert!(dev.stderr.contains(skipped), "{dev}");

    // In the rendered path the same file is an error, not a warning.
    let ci = repo.render(&["shop/ci", "--pr", "9"]);
    ci.assert_error_like(skipped, &["exclude:"]);
}

// ---------------------------------------------------------------------------------------------
// Bad input: located errors
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_yaml_is_a_located_error() {
    let repo = Repo::new();
    repo.write(
        "app/bad.yaml",
        "
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: x
        data: {a: [1, 2}
        ",
    );
    let out = repo.render(&["app"]);
    out.assert_error_like("app/bad.yaml:5:", &["invalid YAML"]);
}

#[test]
fn document_without_api_version_and_kind_is_a_located_error_with_an_exclude_hint() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        "
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: x
        ---
        replicas: 3
        image: nginx
        ",
    );
    let out = repo.render(&["app"]);
    out.assert_error_like("app/m.yaml:6:1: ", &["apiVersion", "kind", "exclude:"]);
}

#[test]
fn top_level_scalar_document_is_a_located_error() {
    let repo = Repo::new();
    repo.write("app/notes.yaml", "just some text\n");
    let out = repo.render(&["app"]);
    out.assert_error_like("app/notes.yaml:1:1: ", &["not a mapping", "exclude:"]);
}

#[test]
fn list_item_that_is_not_an_object_is_a_located_error() {
    let repo = Repo::new();
    repo.write(
        "app/list.yaml",
        "
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: a
        - just text
        ",
    );
    let out = repo.render(&["app"]);
    out.assert_error_like("app/list.yaml:8:3: ", &["exclude:"]);
}

#[test]
fn file_that_is_not_utf8_is_a_located_error() {
    let repo = Repo::new();
    repo.write_bytes(
        "app/m.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: \"\xff\"\n",
    );
    let out = repo.render(&["app"]);
    out.assert_error("app/m.yaml:6:7: the file is not UTF-8 text");
}

#[test]
fn missing_path_is_an_error() {
    let out = Repo::new().render(&["nowhere", "--pr", "1"]);
    out.assert_error_like("nowhere: ", &[]);
}

// ---------------------------------------------------------------------------------------------
// Identity values
// ---------------------------------------------------------------------------------------------

#[test]
fn pr_with_a_letter_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "--pr", "12a"]);
    out.assert_error_like("error: --pr \"12a\" ", &["pull request number"]);
}

#[test]
fn pr_with_leading_zeros_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "--pr", "0012"]);
    out.assert_error_like("error: --pr \"0012\" ", &["pull request number"]);
}

#[test]
fn env_that_is_not_a_dns_label_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "--env", "Prod_1"]);
    out.assert_error_like("error: --env \"Prod_1\" ", &["DNS-1123"]);
}

#[test]
fn namespace_that_is_not_a_dns_label_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "--namespace", "Bad_NS"]);
    out.assert_error_like("error: --namespace \"Bad_NS\" ", &["DNS-1123"]);
}

#[test]
fn app_that_is_not_a_dns_label_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "--pr", "1", "--app", "Bad_App"]);
    out.assert_error_like("error: app \"Bad_App\" (from --app) ", &["DNS-1123"]);
}

#[test]
fn app_from_a_directory_name_that_is_not_a_dns_label_is_refused() {
    let repo = Repo::new();
    repo.write("My_App/m.yaml", &configmap("c"));
    let out = repo.render(&["My_App", "--pr", "1"]);
    out.assert_error_like("error: app \"My_App\" ", &["directory", "--app"]);
}

#[test]
fn identity_is_validated_before_the_manifests_are_read() {
    let repo = Repo::new();
    repo.write("app/bad.yaml", "a: [1\n");
    let out = repo.render(&["app", "--pr", "12a"]);
    out.assert_error_like("error: --pr \"12a\" ", &[]);
}

#[test]
fn env_not_listed_in_gitops_yaml_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write(
        "app/gitops.yaml",
        "
        app: shop
        environments:
          dev: {namespace: shop-dev}
          prod: {namespace: shop}
        ",
    );
    let out = repo.render(&["app", "--env", "qa"]);
    out.assert_error_like("error: --env \"qa\" ", &["app/gitops.yaml", "dev", "prod"]);
}

#[test]
fn env_without_gitops_yaml_is_accepted() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    let out = repo.render(&["app", "--env", "qa"]);
    assert_eq!(out.code, Some(0), "{out}");
    // Nothing lists the environments: said, not silent (issue 10).
    assert_eq!(
        out.stderr,
        "warning: no gitops.yaml between app and the repository root: environment \"qa\" is taken as given (nothing lists the environments), with no namespace, labels or claim settings of its own, and app \"app\" is the directory's name\n",
        "{out}"
    );
    assert!(
        out.stdout.contains("\n    kubectl-gitops.io/env: qa\n"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("namespace:"),
        "no namespace is decided{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// gitops.yaml
// ---------------------------------------------------------------------------------------------

#[test]
fn gitops_yaml_unknown_top_level_key_is_located_and_named() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write(
        "app/gitops.yaml",
        "
        app: shop
        enviroments:
          dev: {}
        ",
    );
    let out = repo.render(&["app"]);
    out.assert_error_like("app/gitops.yaml:2:1: ", &["unknown key", "\"enviroments\""]);
}

#[test]
fn gitops_yaml_unknown_nested_key_is_located_and_named() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write(
        "app/gitops.yaml",
        "
        app: shop
        environments:
          dev:
            namespace: shop-dev
            lables: {team: a}
        ",
    );
    let out = repo.render(&["app", "--env", "dev"]);
    out.assert_error_like(
        "app/gitops.yaml:5:5: ",
        &["unknown key", "\"lables\"", "environments.dev"],
    );
}

#[test]
fn gitops_yaml_bad_value_is_located() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write(
        "app/gitops.yaml",
        "
        app: shop
        preview:
          rename: some
        ",
    );
    let out = repo.render(&["app", "--pr", "1"]);
    out.assert_error_like("app/gitops.yaml:3:11: ", &["rename"]);
}

#[test]
fn gitops_yaml_below_the_rendered_directory_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write("app/other/gitops.yaml", "app: other\n");
    let out = repo.render(&["app"]);
    out.assert_error_like("app/other/gitops.yaml", &["below the rendered directory"]);
}

#[test]
fn gitops_yaml_is_found_upward_to_the_repository_root() {
    let repo = Repo::new();
    repo.write("gitops.yaml", "app: shop\n");
    repo.write("deploy/app/m.yaml", &configmap("c"));
    let out = repo.render(&["deploy/app", "--pr", "4"]);
    out.assert_clean_success();
    assert!(
        out.stdout.contains("\n  name: shop-pr-4\n"),
        "preview namespace from app: shop{out}"
    );
    assert!(
        out.stdout
            .contains("\n  name: c-pr-4\n  namespace: shop-pr-4\n"),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Collisions and the preview sandbox
// ---------------------------------------------------------------------------------------------

#[test]
fn objects_colliding_after_a_preview_rename_are_refused() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        "
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web-pr-7
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_error(
        "app/m.yaml:6:1: Service/web-pr-7 collides with Service/web at app/m.yaml:1:1: both end up as Service app-pr-7/web-pr-7",
    );
}

#[test]
fn identical_objects_in_an_environment_render_with_a_namespace_are_refused() {
    let repo = Repo::new();
    repo.write("app/a.yaml", &configmap("settings"));
    repo.write(
        "app/b.yaml",
        "
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
          namespace: elsewhere
        ",
    );
    let out = repo.render(&["app", "--env", "dev", "--namespace", "team"]);
    out.assert_error_like(
        "app/b.yaml:1:1: ConfigMap/settings collides with ConfigMap/settings at app/a.yaml:1:1",
        &["team/settings"],
    );
}

#[test]
fn cluster_role_in_a_preview_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write(
        "app/rbac.yaml",
        "
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: reader
        rules: []
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_error_like(
        "app/rbac.yaml:1:1: ClusterRole/reader ",
        &[
            "allowClusterScoped",
            "ClusterRole.rbac.authorization.k8s.io",
        ],
    );
}

#[test]
fn cluster_role_allowed_in_a_preview_keeps_its_name_and_is_protected() {
    let repo = Repo::new();
    repo.write(
        "app/gitops.yaml",
        "
        app: shop
        preview:
          allowClusterScoped: [ClusterRole.rbac.authorization.k8s.io]
        ",
    );
    repo.write(
        "app/rbac.yaml",
        "
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: reader
        rules: []
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_clean_success();
    assert_eq!(out.kinds(), ["Namespace", "ClusterRole"], "{out}");
    let role = out.stdout.split("---\n").nth(1).unwrap();
    assert_eq!(
        role,
        dedent(
            r#"
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRole
            metadata:
              name: reader
              annotations:
                argocd.argoproj.io/sync-options: Prune=false,Delete=false
            rules: []
            "#
        ),
        "a shared definition keeps its name, gets no identity labels, and is never pruned or deleted{out}"
    );
}

#[test]
fn other_namespace_in_a_preview_is_refused() {
    let repo = Repo::new();
    repo.write(
        "app/ns.yaml",
        "
        apiVersion: v1
        kind: Namespace
        metadata:
          name: payments
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_error_like(
        "app/ns.yaml:1:1: Namespace/payments ",
        &["preview", "app-pr-7"],
    );
}

#[test]
fn other_namespace_in_an_environment_render_passes_through() {
    let repo = Repo::new();
    repo.write(
        "app/ns.yaml",
        "
        apiVersion: v1
        kind: Namespace
        metadata:
          name: payments
        ",
    );
    let out = repo.render(&["app", "--namespace", "team"]);
    out.assert_clean_success();
    assert_eq!(
        out.stdout,
        fs::read_to_string(repo.path("app/ns.yaml")).unwrap(),
        "{out}"
    );
}

#[test]
fn target_namespace_in_a_preview_input_is_kept_once_and_first() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        "
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: c
        ---
        apiVersion: v1
        kind: Namespace
        metadata:
          name: app-pr-7
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_clean_success();
    assert_eq!(out.kinds(), ["Namespace", "ConfigMap"], "{out}");
    assert!(
        out.stdout
            .starts_with("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app-pr-7\n"),
        "{out}"
    );
}

#[test]
fn long_names_are_shortened_with_a_hash_and_keep_the_suffix() {
    let repo = Repo::new();
    let long = "a".repeat(60);
    repo.write(
        "app/svc.yaml",
        &format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: {long}\n"),
    );
    let out = repo.render(&["app", "--pr", "123"]);
    out.assert_clean_success();
    let hash = Sha256::digest(format!("{long}-pr-123").as_bytes());
    let hex: String = hash.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let want = format!("{}-{hex}-pr-123", "a".repeat(47));
    assert_eq!(want.len(), 63);
    assert!(
        out.stdout.contains(&format!("\n  name: {want}\n")),
        "expected {want}{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// No objects
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_directory_prints_nothing_and_warns() {
    let repo = Repo::new();
    repo.mkdir("app");
    let out = repo.render(&["app"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("warning:")
            && lines[0].contains("app")
            && lines[0].contains("no Kubernetes objects"),
        "{out}"
    );
}

#[test]
fn file_with_only_separators_and_comments_prints_nothing_and_warns() {
    let repo = Repo::new();
    repo.write(
        "app/empty.yaml",
        "
        # nothing here yet
        ---
        # still nothing
        ---
        ",
    );
    let out = repo.render(&["app"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("warning:") && lines[0].contains("no Kubernetes objects"),
        "{out}"
    );
}

#[test]
fn empty_input_in_a_preview_prints_nothing_and_warns() {
    let repo = Repo::new();
    repo.mkdir("app");
    let out = repo.render(&["app", "--pr", "3"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert!(out.first_stderr_line().contains("warning:"), "{out}");
    assert!(
        out.first_stderr_line().contains("no Kubernetes objects"),
        "{out}"
    );
}

#[test]
fn empty_standard_input_prints_nothing_and_warns() {
    let out = Repo::new().render_stdin(&["-"], "");
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert!(out.first_stderr_line().contains("warning:"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

/// Ten levels of nine aliases each: 9^10 (3.4 billion) nodes once expanded.
fn billion_laughs() -> String {
    let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n");
    s.push_str(
        "  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in b'b'..=b'j' {
        let (cur, prev) = (level as char, (level - 1) as char);
        let refs = vec![format!("*{prev}"); 9].join(",");
        s.push_str(&format!("  {cur}: &{cur} [{refs}]\n"));
    }
    s
}

#[test]
fn billion_laughs_fails_fast() {
    let repo = Repo::new();
    repo.write("app/lol.yaml", &billion_laughs());
    let start = Instant::now();
    let out = repo.render(&["app"]);
    let took = start.elapsed();
    out.assert_error_like("app/lol.yaml:", &["alias"]);
    assert!(took < Duration::from_secs(10), "took {took:?}{out}");
}

#[test]
fn recursive_alias_is_refused() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        "
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: c
        data: &a
          x: *a
        ",
    );
    let out = repo.render(&["app"]);
    out.assert_error_like("app/m.yaml:6:6: ", &["alias"]);
}

#[test]
fn deep_block_nesting_is_refused() {
    let repo = Repo::new();
    let mut s =
        String::from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  a:\n");
    for depth in 0..300 {
        s.push_str(&format!("{}k{depth}:\n", "  ".repeat(depth + 2)));
    }
    s.push_str(&format!("{}v\n", "  ".repeat(302)));
    repo.write_bytes("app/deep.yaml", s.as_bytes());
    let out = repo.render(&["app"]);
    out.assert_error_like("app/deep.yaml:", &["nesting"]);
}

#[test]
fn deep_sequence_nesting_is_refused() {
    let repo = Repo::new();
    repo.write_bytes(
        "app/deep.yaml",
        format!("{}x\n", "- ".repeat(300)).as_bytes(),
    );
    let out = repo.render(&["app"]);
    out.assert_error_like("app/deep.yaml:1:", &["nesting"]);
}

#[test]
fn deep_flow_nesting_is_refused_with_a_nesting_message() {
    let repo = Repo::new();
    let s = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  a: {}{}\n",
        "[".repeat(300),
        "]".repeat(300)
    );
    repo.write_bytes("app/deep.yaml", s.as_bytes());
    let out = repo.render(&["app"]);
    out.assert_error_like("app/deep.yaml:6:", &["nesting"]);
}

#[cfg(unix)]
#[test]
fn symlink_to_a_file_outside_the_rendered_directory_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write("secrets/token.yaml", &configmap("token"));
    std::os::unix::fs::symlink("../secrets/token.yaml", repo.path("app/token.yaml")).unwrap();
    let out = repo.render(&["app"]);
    out.assert_error_like(
        "app/token.yaml: ",
        &["symlink", "leaves the rendered directory"],
    );
}

#[cfg(unix)]
#[test]
fn symlink_to_a_directory_outside_the_rendered_directory_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write("secrets/token.yaml", &configmap("token"));
    std::os::unix::fs::symlink("../secrets", repo.path("app/more")).unwrap();
    let out = repo.render(&["app"]);
    out.assert_error_like("app/more: ", &["symlink", "leaves the rendered directory"]);
}

#[cfg(unix)]
#[test]
fn symlinks_inside_the_rendered_directory_are_read_once() {
    let repo = Repo::new();
    repo.write("app/base/real.yaml", &configmap("once"));
    std::os::unix::fs::symlink("base/real.yaml", repo.path("app/link.yaml")).unwrap();
    std::os::unix::fs::symlink("base", repo.path("app/linked-dir")).unwrap();
    let out = repo.render(&["app"]);
    out.assert_clean_success();
    assert_eq!(out.stdout, configmap("once"), "{out}");
}

#[test]
fn file_over_16_mib_is_refused() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write("app/big.yaml", &configmap("big"));
    // Sparse: the size is set, not written.
    fs::OpenOptions::new()
        .write(true)
        .open(repo.path("app/big.yaml"))
        .unwrap()
        .set_len(16 * MIB + 1)
        .unwrap();
    let out = repo.render(&["app"]);
    out.assert_error_like("app/big.yaml: ", &["limit"]);
    let first = out.first_stderr_line();
    assert!(
        first.contains("16777216") || first.contains("16 MiB"),
        "the limit is named{out}"
    );
}

#[test]
fn file_of_exactly_16_mib_is_not_refused_for_its_size() {
    let repo = Repo::new();
    repo.write("app/big.yaml", &configmap("big"));
    fs::OpenOptions::new()
        .write(true)
        .open(repo.path("app/big.yaml"))
        .unwrap()
        .set_len(16 * MIB)
        .unwrap();
    let out = repo.render(&["app"]);
    // The file is read; it then fails for its content (NUL bytes after the header).
    out.assert_error_like("app/big.yaml:5:1: ", &[]);
    assert!(!out.first_stderr_line().contains("limit"), "{out}");
}

#[test]
fn standard_input_over_16_mib_is_refused() {
    let repo = Repo::new();
    let mut input = configmap("big");
    input.push_str("data:\n  filler: \"");
    input.push_str(&"x".repeat((16 * MIB) as usize));
    input.push_str("\"\n");
    let out = run_in(repo.dir.path(), &["render", "-"], Some(input.as_bytes()));
    out.assert_error_like("<stdin>: ", &["limit"]);
}

// ---------------------------------------------------------------------------------------------
// Standard input and output formats
// ---------------------------------------------------------------------------------------------

#[test]
fn standard_input_renders_a_preview() {
    let repo = Repo::new();
    let out = repo.render_stdin(
        &["-", "--pr", "5", "--app", "demo"],
        "
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web
        ",
    );
    out.assert_clean_success();
    assert_eq!(out.kinds(), ["Namespace", "ConfigMap", "Service"], "{out}");
    assert_eq!(out.yaml_docs(), 3, "{out}");
    assert!(
        out.stdout
            .contains("\n  name: settings-pr-5\n  namespace: demo-pr-5\n"),
        "{out}"
    );
    assert!(
        out.stdout
            .contains("\n  name: web-pr-5\n  namespace: demo-pr-5\n"),
        "{out}"
    );
}

#[test]
fn standard_input_errors_are_located_as_stdin() {
    let out = Repo::new().render_stdin(&["-"], "a: [1\n");
    out.assert_error_like("<stdin>:2:1: ", &["invalid YAML"]);
}

#[test]
fn jsonl_output_is_one_object_per_line_typed_as_kubernetes_reads_yaml() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: "0755"
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: w
        spec:
          mode: 0755
          quoted: "0755"
          enabled: yes
          ratio: 1.5
          nothing: null
        "#,
    );
    let out = repo.render(&["app", "-o", "jsonl"]);
    out.assert_clean_success();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let docs: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs[0]["kind"], "ConfigMap", "{out}");
    assert_eq!(docs[0]["data"]["mode"], "0755", "{out}");
    assert_eq!(docs[1]["spec"]["mode"], 493, "YAML 1.1 octal{out}");
    assert_eq!(docs[1]["spec"]["quoted"], "0755", "{out}");
    assert_eq!(docs[1]["spec"]["enabled"], true, "YAML 1.1 boolean{out}");
    assert_eq!(docs[1]["spec"]["ratio"], 1.5, "{out}");
    assert!(docs[1]["spec"]["nothing"].is_null(), "{out}");
}

#[test]
fn json_output_is_one_v1_list_with_list_documents_flattened() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          mode: "0755"
        ---
        apiVersion: v1
        kind: ConfigMapList
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: a
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: b
        ---
        apiVersion: example.com/v1
        kind: Widget
        metadata:
          name: w
        spec:
          mode: 0755
        "#,
    );
    let out = repo.render(&["app", "-o", "json"]);
    out.assert_clean_success();
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list["apiVersion"], "v1", "{out}");
    assert_eq!(list["kind"], "List", "{out}");
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["settings", "a", "b", "w"], "{out}");
    assert_eq!(list["items"][3]["spec"]["mode"], 493, "YAML 1.1 octal{out}");
    // kubectl's layout: four-space indentation, one final line break.
    assert!(
        out.stdout.starts_with("{\n    \"apiVersion\": \"v1\",\n"),
        "{out}"
    );
    assert!(out.stdout.ends_with("}\n"), "{out}");
    // The same objects as -o jsonl, which keeps the List document whole.
    let jsonl = repo.render(&["app", "-o", "jsonl"]);
    let docs: Vec<serde_json::Value> = jsonl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3, "{jsonl}");
    assert_eq!(docs[1]["kind"], "ConfigMapList", "{jsonl}");
    assert_eq!(list["items"][1], docs[1]["items"][0], "{out}");
}

#[test]
fn json_output_of_a_preview_parses_and_carries_string_labels() {
    let out = run_in(
        project_root(),
        &[
            "render",
            "testdata/my-microservice",
            "--pr",
            "123",
            "-o",
            "json",
        ],
        None,
    );
    out.assert_clean_success();
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let docs = list["items"].as_array().unwrap();
    assert_eq!(docs.len(), 6, "{out}");
    for d in docs {
        assert_eq!(
            d["metadata"]["labels"]["kubectl-gitops.io/pr"], "123",
            "{out}"
        );
    }
}

/// `check -o text|json|sarif|github` and `--color` through the real binary (issue 11 item 4;
/// the formatters have unit tests in src/check/report.rs and src/color.rs): every format
/// carries the same finding at the same location, findings go to stdout, exit 1 stays exit 1,
/// and colour is only ever written when asked for or on a terminal.
#[test]
fn check_findings_in_every_output_format() {
    let repo = Repo::new();
    repo.write(
        "app/web.yaml",
        "
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: web
                image: nginx
                envFrom:
                - secretRef: {name: missing}
        ",
    );
    let check = |args: &[&str]| {
        let mut all = vec!["check", "app", "--pr", "7"];
        all.extend_from_slice(args);
        repo.run(&all)
    };
    let text = check(&[]);
    assert_eq!(text.code, Some(1), "{text}");
    assert!(
        text.stdout
            .starts_with("app/web.yaml:14:29: KG004 Deployment/web: "),
        "{text}"
    );
    assert!(
        !text.stdout.contains('\u{1b}'),
        "no colour into a pipe{text}"
    );
    let n = text.stdout.lines().count();
    assert!(n >= 1, "{text}");

    let github = check(&["-o", "github"]);
    assert_eq!(github.code, Some(1), "{github}");
    assert_eq!(github.stdout.lines().count(), n, "{github}");
    assert!(
        github.stdout.lines().all(|l| l.starts_with(
            "::error file=app/web.yaml,line=14,col=29,title=KG004 dangling-reference::"
        )),
        "{github}"
    );

    let json = check(&["-o", "json"]);
    assert_eq!(json.code, Some(1), "{json}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let findings = v["findings"].as_array().unwrap();
    assert_eq!(findings.len(), n, "{json}");
    assert_eq!(findings[0]["code"], "KG004");
    assert_eq!(findings[0]["rule"], "dangling-reference");
    assert_eq!(findings[0]["file"], "app/web.yaml");
    assert_eq!(findings[0]["line"], 14);
    assert_eq!(findings[0]["column"], 29);

    let sarif = check(&["-o", "sarif"]);
    assert_eq!(sarif.code, Some(1), "{sarif}");
    let v: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), n, "{sarif}");
    assert_eq!(results[0]["ruleId"], "KG004");
    let loc = &results[0]["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "app/web.yaml");
    assert_eq!(loc["region"]["startLine"], 14);

    // --color always paints, and painting changes nothing but the escape sequences.
    let painted = check(&["--color", "always"]);
    assert_eq!(painted.code, Some(1), "{painted}");
    assert!(painted.stdout.contains("\u{1b}["), "{painted}");
    let mut plain = String::new();
    let mut chars = painted.stdout.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    assert_eq!(plain, text.stdout, "{painted}");
    // A clean check is exit 0 in every format: nothing in text and annotations, an empty
    // list in JSON and SARIF.
    repo.write("ok/cm.yaml", &configmap("settings"));
    for (format, findings) in [
        ("text", None),
        ("github", None),
        ("json", Some("/findings")),
        ("sarif", Some("/runs/0/results")),
    ] {
        let clean = repo.run(&["check", "ok", "--pr", "7", "-o", format]);
        assert_eq!(clean.code, Some(0), "{format}{clean}");
        match findings {
            None => assert_eq!(clean.stdout, "", "{format}{clean}"),
            Some(pointer) => {
                let v: serde_json::Value = serde_json::from_str(&clean.stdout).unwrap();
                assert_eq!(v.pointer(pointer), Some(&serde_json::json!([])), "{clean}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// --out-dir
// ---------------------------------------------------------------------------------------------

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn out_dir_writes_one_file_per_object_with_readable_names() {
    let repo = Repo::new();
    let out_dir = repo.path("out");
    let out = run_in(
        project_root(),
        &[
            "render",
            "testdata/my-microservice",
            "--pr",
            "123",
            "--out-dir",
            out_dir.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(
        file_names(&out_dir),
        [
            ".kubectl-gitops-out",
            "configmap-my-microservice-config-pr-123.yaml",
            "deployment-my-microservice-pr-123.yaml",
            "namespace-my-microservice-pr-123.yaml",
            "redisinstance-my-microservice-redis-pr-123.yaml",
            "service-my-microservice-pr-123.yaml",
            "serviceaccount-my-microservice-pr-123.yaml",
        ],
        "{out}"
    );
    let deployment =
        fs::read_to_string(out_dir.join("deployment-my-microservice-pr-123.yaml")).unwrap();
    assert_eq!(yaml_document_count(&deployment), 1);
    assert!(deployment.contains("\nkind: Deployment\n"), "{deployment}");
}

#[test]
fn out_dir_refuses_to_replace_a_directory_it_did_not_write() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("c"));
    repo.write("out/notes.txt", "mine\n");
    let out = repo.render(&["app", "--out-dir", "out"]);
    out.assert_error_like("out: ", &["did not write"]);
    assert_eq!(file_names(&repo.path("out")), ["notes.txt"]);
    assert_eq!(
        fs::read_to_string(repo.path("out/notes.txt")).unwrap(),
        "mine\n"
    );
}

#[test]
fn out_dir_replaces_a_directory_it_wrote() {
    let repo = Repo::new();
    repo.write("app/m.yaml", &configmap("settings"));
    let first = repo.render(&["app", "--pr", "7", "--out-dir", "out"]);
    assert_eq!(first.code, Some(0), "{first}");
    assert_eq!(
        file_names(&repo.path("out")),
        [
            ".kubectl-gitops-out",
            "configmap-settings-pr-7.yaml",
            "namespace-app-pr-7.yaml"
        ]
    );
    let second = repo.render(&["app", "--env", "dev", "--out-dir", "out"]);
    assert_eq!(second.code, Some(0), "{second}");
    assert_eq!(second.stdout, "", "{second}");
    assert_eq!(
        file_names(&repo.path("out")),
        [".kubectl-gitops-out", "configmap-settings.yaml"],
        "stale files are gone"
    );
}

#[test]
fn out_dir_writes_list_items_as_separate_files() {
    let repo = Repo::new();
    repo.write(
        "app/list.yaml",
        "
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: a
        - apiVersion: v1
          kind: Service
          metadata:
            name: b
        ",
    );
    let out = repo.render(&["app", "--pr", "7", "-o", "json", "--out-dir", "out"]);
    assert_eq!(out.code, Some(0), "{out}");
    assert_eq!(
        file_names(&repo.path("out")),
        [
            ".kubectl-gitops-out",
            "configmap-a-pr-7.json",
            "namespace-app-pr-7.json",
            "service-b-pr-7.json"
        ]
    );
    let svc: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(repo.path("out/service-b-pr-7.json")).unwrap())
            .unwrap();
    assert_eq!(svc["metadata"]["namespace"], "app-pr-7");
}

// ---------------------------------------------------------------------------------------------
// Load rules
// ---------------------------------------------------------------------------------------------

#[test]
fn duplicate_keys_give_a_located_warning_and_the_last_value_wins() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        r#"
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: dup
        data:
          a: "1"
          a: "2"
        "#,
    );
    let out = repo.render(&["app"]);
    assert_eq!(out.code, Some(0), "{out}");
    // The output is the input: the first `a` stays in the text, dead for every reader.
    assert_eq!(
        out.stdout,
        configmap("dup") + "data:\n  a: \"1\"\n  a: \"2\"\n",
        "{out}"
    );
    let json = repo.render(&["app", "-o", "jsonl"]);
    assert!(json.stdout.contains(r#""data":{"a":"2"}"#), "{json}");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].starts_with("app/m.yaml:7:3: warning: "), "{out}");
    assert!(lines[0].contains("duplicate key \"a\""), "{out}");
}

#[test]
fn generate_name_gets_the_suffix_and_rerendering_keeps_it() {
    let repo = Repo::new();
    repo.write(
        "app/job.yaml",
        "
        apiVersion: batch/v1
        kind: Job
        metadata:
          generateName: x-
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: c, image: busybox}]
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_clean_success();
    assert!(
        out.stdout
            .contains("\n  generateName: x-pr-7-\n  namespace: app-pr-7\n"),
        "{out}"
    );
    assert!(
        !out.stdout.contains("\n  name: x"),
        "no name is invented{out}"
    );

    repo.write_bytes("again/job.yaml", out.stdout.as_bytes());
    let again = repo.render(&["again", "--pr", "7", "--app", "app"]);
    again.assert_clean_success();
    assert_eq!(
        again.stdout, out.stdout,
        "re-rendering with the same identity changes nothing"
    );
}

#[test]
fn list_keeps_its_wrapper_and_its_items_are_renamed() {
    let repo = Repo::new();
    repo.write(
        "app/list.yaml",
        "
        apiVersion: v1
        kind: List
        items:
        - apiVersion: v1
          kind: ConfigMap
          metadata:
            name: a
        - apiVersion: v1
          kind: Service
          metadata:
            name: b
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_clean_success();
    assert_eq!(out.yaml_docs(), 2, "{out}");
    let list = out.stdout.split("---\n").nth(1).unwrap();
    assert_eq!(
        list,
        dedent(
            r#"
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: ConfigMap
              metadata:
                name: a-pr-7
                namespace: app-pr-7
                labels:
                  kubectl-gitops.io/app: app
                  kubectl-gitops.io/pr: "7"
            - apiVersion: v1
              kind: Service
              metadata:
                name: b-pr-7
                namespace: app-pr-7
                labels:
                  kubectl-gitops.io/app: app
                  kubectl-gitops.io/pr: "7"
            "#
        ),
        "{out}"
    );
}

#[test]
fn hidden_files_non_manifests_and_excluded_globs_are_skipped() {
    let repo = Repo::new();
    let broken = "this: [is not: valid\n";
    repo.write(
        "app/gitops.yaml",
        r#"
        app: shop
        exclude: ["docs/**", "*.values.yaml"]
        "#,
    );
    repo.write("app/k8s/web.yaml", &configmap("shown"));
    repo.write("app/.hidden.yaml", broken);
    repo.write("app/.github/workflows/ci.yaml", broken);
    repo.write("app/.argocd-source-shop.yaml", broken);
    // A kustomization in an excluded folder is not built.
    repo.write("app/docs/kustomization.yaml", broken);
    repo.write("app/docs/example.yaml", broken);
    repo.write("app/prod.values.yaml", broken);
    repo.write("app/README.md", broken);
    let out = repo.render(&["app"]);
    out.assert_clean_success();
    assert_eq!(out.stdout, configmap("shown"), "{out}");
}

#[test]
fn directory_files_are_read_in_byte_order_of_their_paths() {
    let repo = Repo::new();
    repo.write("app/b.yaml", &configmap("second"));
    repo.write("app/a/z.yaml", &configmap("first"));
    repo.write("app/B.yml", &configmap("zeroth"));
    repo.write(
        "app/c.json",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "third"}}"#,
    );
    let out = repo.render(&["app", "-o", "jsonl"]);
    out.assert_clean_success();
    let names: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["zeroth", "first", "second", "third"], "{out}");
}

#[test]
fn warnings_come_after_the_error_line() {
    let repo = Repo::new();
    repo.write(
        "app/m.yaml",
        "
        apiVersion: v1
        kind: Service
        metadata:
          name: web
          name: web
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: web-pr-7
        ",
    );
    let out = repo.render(&["app", "--pr", "7"]);
    out.assert_error_like(
        "app/m.yaml:7:1: Service/web-pr-7 collides with Service/web",
        &[],
    );
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[1].starts_with("app/m.yaml:5:3: warning: duplicate key \"name\""),
        "{out}"
    );
}
