//! The Argo CD examples under `examples/` (issue 3, item 6), run through the same stand-in for
//! `argocd-cmp-server` as `tests/argocd_cmp.rs` (`support/cmp_harness.rs`).
//!
//! Reproduced from Argo CD: every example file is parsed (saphyr-parser events, not
//! kubectl-gitops's reader) and every plugin block must name the plugin that plugin.yaml
//! declares (`<metadata.name>-<spec.version>`, read from the file, not written here). For an
//! Application, the environment Argo CD builds from its spec (`plugin.env` -> `ARGOCD_ENV_<name>`
//! verbatim, `plugin.parameters` -> `ARGOCD_APP_PARAMETERS` as Go marshals them, `metadata.name`
//! -> `ARGOCD_APP_NAME` via `InstanceName`, `destination.namespace` -> `ARGOCD_APP_NAMESPACE`,
//! `source.path` -> `ARGOCD_APP_SOURCE_PATH`) drives `generate` in an extracted copy of the
//! source path, and the output must be byte for byte `kubectl-gitops render <path>` with the
//! equivalent flags (and the golden file, where one exists for that identity). For an
//! ApplicationSet, the generator's parameters are substituted into the template as the
//! ApplicationSet controller would (fasttemplate `{{number}}`, or Go templates
//! `{{.path.basename}}` with `missingkey=error`), the git directory generator's directories
//! are listed from this repository with Go `path.Match` semantics, and each generated
//! Application runs the same way.
//!
//! Not reproduced: the ApplicationSet controller itself (only the parameter names used here
//! and plain substitution, no Sprig functions or template pipelines), the GitHub API behind
//! the pull-request generator (one PR, number 123, is assumed), git history (directories come
//! from the working tree), the API server's validation of the resources beyond string typing,
//! and everything listed in `support/cmp_harness.rs` as not modelled.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

#[path = "support/cmp_harness.rs"]
mod cmp_harness;

use std::collections::BTreeMap;
use std::fs;

use cmp_harness::{
    App, Manifest, Node, Param, Plugin, PluginConfig, Run, Sidecar, Workdir, assert_matches_golden,
    first_difference, generate, golden, golden_for, project_root, render_args, render_locally,
};

const HEAD_SHA: &str = "9c1e4b7a2d5f8e0c3b6a9d2f5e8b1c4a7d0f3e6b";

/// Every example file, sorted, with its single document.
fn examples(folder: &str) -> Vec<(String, Node)> {
    let dir = project_root().join("examples").join(folder);
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(project_root())
                .unwrap()
                .display()
                .to_string();
            let text = fs::read_to_string(&p).unwrap();
            let mut docs = cmp_harness::parse_yaml(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(docs.len(), 1, "{rel}: one document");
            (rel, docs.remove(0))
        })
        .collect()
}

fn string_field<'a>(node: &'a Node, path: &str, file: &str) -> &'a str {
    node.at(path)
        .map(|n| {
            n.string_typed()
                .unwrap_or_else(|| panic!("{file}: {path} must be a string (quote it), got {n:?}"))
        })
        .unwrap_or_else(|| panic!("{file}: {path} is missing"))
}

fn optional_string<'a>(node: &'a Node, path: &str, file: &str) -> Option<&'a str> {
    node.at(path).filter(|n| !n.is_null()).map(|n| {
        n.string_typed()
            .unwrap_or_else(|| panic!("{file}: {path} must be a string (quote it), got {n:?}"))
    })
}

/// The Application Argo CD would see: `metadata` and `spec` of an Application (or of a
/// rendered ApplicationSet template), living in `namespace`.
fn app_from_spec(doc: &Node, default_namespace: &str, file: &str) -> App {
    let name = string_field(doc, "metadata.name", file);
    let spec = doc.get("spec").unwrap_or_else(|| panic!("{file}: no spec"));
    assert!(
        spec.get("sources").is_none(),
        "{file}: the harness models spec.source only"
    );
    let source = spec
        .get("source")
        .unwrap_or_else(|| panic!("{file}: no spec.source"));
    let path = string_field(source, "path", file);
    for other in ["helm", "kustomize", "directory"] {
        assert!(
            source.get(other).is_none(),
            "{file}: a plugin source cannot also have {other} (multiple application sources defined)"
        );
    }
    let plugin_node = source
        .get("plugin")
        .unwrap_or_else(|| panic!("{file}: no spec.source.plugin"));
    let mut plugin = Plugin {
        name: optional_string(plugin_node, "name", file).map(str::to_string),
        ..Plugin::default()
    };
    for (i, e) in plugin_node
        .get("env")
        .and_then(Node::seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let at = format!("plugin.env[{i}]");
        plugin.env.push((
            string_field(e, "name", &format!("{file}: {at}")).to_string(),
            optional_string(e, "value", &format!("{file}: {at}"))
                .unwrap_or("")
                .to_string(),
        ));
    }
    for (i, p) in plugin_node
        .get("parameters")
        .and_then(Node::seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let at = format!("{file}: plugin.parameters[{i}]");
        plugin.parameters.push(Param {
            name: string_field(p, "name", &at).to_string(),
            string: optional_string(p, "string", &at).map(str::to_string),
            array: p.get("array").map(|a| {
                a.seq()
                    .unwrap()
                    .iter()
                    .map(|v| v.string_typed().unwrap().to_string())
                    .collect()
            }),
            map: p.get("map").map(|m| {
                m.map()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.string_typed().unwrap().to_string()))
                    .collect()
            }),
        });
    }
    let mut app = App::new(name, path);
    app.namespace = optional_string(doc, "metadata.namespace", file)
        .unwrap_or(default_namespace)
        .to_string();
    app.project = optional_string(spec, "project", file)
        .unwrap_or("default")
        .to_string();
    app.repo_url = string_field(source, "repoURL", file).to_string();
    app.target_revision = optional_string(source, "targetRevision", file)
        .unwrap_or("HEAD")
        .to_string();
    if app.target_revision.len() == 40 && app.target_revision.bytes().all(|b| b.is_ascii_hexdigit())
    {
        app.revision = app.target_revision.clone();
    }
    app.dest_namespace = optional_string(spec, "destination.namespace", file)
        .unwrap_or("")
        .to_string();
    app.plugin = Some(plugin);
    app
}

/// The part of the repository an app at `path` needs: the folder of the nearest gitops.yaml
/// at or above it (Argo CD ships the whole repository; lookup stops at its root), else `path`.
fn subset_for(path: &str) -> String {
    let mut dir = std::path::Path::new(path);
    loop {
        if project_root().join(dir).join("gitops.yaml").is_file() {
            return dir.display().to_string();
        }
        match dir.parent() {
            Some(p) if !p.as_os_str().is_empty() => dir = p,
            _ => return path.to_string(),
        }
    }
}

/// Runs `generate` for `app` in a fresh extraction of its source path and checks that the
/// output is exactly `render <path> <equivalent flags>` (and the golden file when there is
/// one). Returns the run.
fn generate_like_render(app: &App, label: &str) -> Run {
    let wd = Workdir::new();
    wd.extract(&subset_for(&app.path));
    let sidecar = Sidecar::new(&wd);
    let run = generate(&wd, app, &sidecar);
    let flags = app.equivalent_render_flags();
    let local = render_locally(&render_args(&app.path, &flags));
    eprintln!(
        "[examples] {label}: generate {:?} (ARGOCD_APP_NAME={}, flags {flags:?}); render {:?}",
        run.elapsed,
        run.env_var("ARGOCD_APP_NAME").unwrap_or(""),
        local.elapsed
    );
    assert_eq!(local.code, Some(0), "{label}: local render{local}");
    assert_eq!(run.code, Some(0), "{label}: generate{run}");
    assert!(
        run.stdout == local.stdout,
        "{label}: generate differs from `{}`: {}{run}",
        local.argv.join(" "),
        first_difference(&local.stdout, &run.stdout)
    );
    let objects = run
        .manifests()
        .unwrap_or_else(|e| panic!("{label}: Argo CD would refuse the output: {e}{run}"));
    assert!(!objects.is_empty(), "{label}: no objects{run}");
    if let Some(g) = golden_for(&app.path, &flags) {
        eprintln!("[examples] {label}: also equals golden {}", g.id);
        assert_matches_golden(&run, &g);
    }
    run
}

/// The plugin blocks of a document: `plugin` under `source`, `sources[i]` (also inside an
/// ApplicationSet's template).
fn plugin_blocks(doc: &Node) -> Vec<(String, Node)> {
    let mut out = Vec::new();
    doc.walk("", &mut |path, node| {
        if path == "source.plugin"
            || path.ends_with(".source.plugin")
            || (path.ends_with(".plugin") && path.contains("sources["))
        {
            out.push((path.to_string(), node.clone()));
        }
    });
    out
}

#[test]
fn every_example_parses_and_names_the_plugin() {
    let plugin = PluginConfig::load("plugin.yaml").plugin_name;
    let mut files = 0;
    for (folder, kind) in [
        ("applications", "Application"),
        ("applicationsets", "ApplicationSet"),
    ] {
        for (file, doc) in examples(folder) {
            files += 1;
            assert_eq!(
                doc.at("apiVersion").and_then(Node::str),
                Some("argoproj.io/v1alpha1"),
                "{file}"
            );
            assert_eq!(doc.at("kind").and_then(Node::str), Some(kind), "{file}");
            let blocks = plugin_blocks(&doc);
            assert!(!blocks.is_empty(), "{file}: no plugin block");
            for (path, block) in blocks {
                assert_eq!(
                    block.get("name").and_then(Node::string_typed),
                    Some(plugin.as_str()),
                    "{file}: {path}.name must be the plugin.yaml name {plugin}"
                );
            }
        }
    }
    eprintln!("[examples] {files} example files parsed; plugin name {plugin}");
}

#[test]
fn applications_render_like_render_with_their_identity() {
    let mut matched_goldens = 0;
    for (file, doc) in examples("applications") {
        let app = app_from_spec(&doc, cmp_harness::CONTROL_PLANE_NAMESPACE, &file);
        assert_eq!(
            app.instance_name(),
            string_field(&doc, "metadata.name", &file)
        );
        let run = generate_like_render(&app, &file);
        assert_eq!(
            run.env_var("ARGOCD_APP_SOURCE_PATH"),
            Some(app.path.as_str())
        );
        assert_eq!(
            run.env_var("ARGOCD_APP_NAMESPACE"),
            Some(app.dest_namespace.as_str())
        );
        if golden_for(&app.path, &app.equivalent_render_flags()).is_some() {
            matched_goldens += 1;
        }
        // The identity really reached the render: an environment label or a preview.
        let flags = app.equivalent_render_flags();
        assert!(!flags.is_empty(), "{file}: the example passes no identity");
        // Argo CD applies objects without a namespace into the destination namespace; the
        // example's destination must agree with where the render puts them.
        for m in run.manifests().unwrap() {
            if let Some(ns) = m.namespace() {
                assert_eq!(
                    ns,
                    app.dest_namespace,
                    "{file}: {} vs destination.namespace",
                    m.id()
                );
            }
        }
    }
    assert!(
        matched_goldens >= 3,
        "dev, staging and prod have golden files"
    );
}

// ---------------------------------------------------------------------------------------------
// ApplicationSets
// ---------------------------------------------------------------------------------------------

/// ApplicationSet template substitution on every string value: fasttemplate (`{{number}}`,
/// inner spaces trimmed) or Go templates reduced to `{{.a.b}}` lookups with missingkey=error.
/// An unknown placeholder fails the test (fasttemplate would leave it in place).
fn substitute(
    s: &str,
    params: &BTreeMap<String, String>,
    go_template: bool,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let j = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in {s:?}"))?;
        let tag = after[..j].trim();
        let key = if go_template {
            tag.strip_prefix('.')
                .filter(|k| {
                    k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
                })
                .ok_or_else(|| {
                    format!("{{{{{tag}}}}} is more than a field lookup; the test models only those")
                })?
        } else {
            tag
        };
        let v = params
            .get(key)
            .ok_or_else(|| format!("no generator parameter {key:?} for {{{{{tag}}}}} in {s:?}"))?;
        out.push_str(v);
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The Applications an ApplicationSet's template gives for each parameter set.
fn generated_apps(appset: &Node, file: &str, param_sets: &[BTreeMap<String, String>]) -> Vec<App> {
    let go_template = appset.at("spec.goTemplate").and_then(Node::str) == Some("true");
    let template = appset.at("spec.template").unwrap();
    let namespace = optional_string(appset, "metadata.namespace", file)
        .unwrap_or(cmp_harness::CONTROL_PLANE_NAMESPACE);
    param_sets
        .iter()
        .map(|params| {
            let doc = template
                .map_scalars(&mut |s| substitute(s, params, go_template))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            // The controller writes the Application into the ApplicationSet's namespace.
            app_from_spec(&doc, namespace, file)
        })
        .collect()
}

/// Go `path.Match` for the patterns used here: `*` and `?` within one segment.
fn segment_match(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                rec(&p[1..], n) || (!n.is_empty() && n[0] != b'/' && rec(p, &n[1..]))
            }
            (Some(b'?'), Some(c)) if *c != b'/' => rec(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => rec(&p[1..], &n[1..]),
            _ => false,
        }
    }
    assert!(
        !pattern.contains(['[', '\\']),
        "pattern {pattern:?}: only * and ? are modelled"
    );
    rec(pattern.as_bytes(), name.as_bytes())
}

/// The git directory generator: directories of the repository matching `pattern`.
fn git_directories(pattern: &str) -> Vec<String> {
    let mut current = vec![String::new()];
    for seg in pattern.split('/').filter(|s| !s.is_empty()) {
        let mut next = Vec::new();
        for base in &current {
            let dir = project_root().join(base);
            let mut names: Vec<String> = fs::read_dir(&dir)
                .map(|rd| {
                    rd.map(|e| e.unwrap())
                        .filter(|e| e.file_type().unwrap().is_dir())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| !n.starts_with('.'))
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            for n in names.into_iter().filter(|n| segment_match(seg, n)) {
                next.push(if base.is_empty() {
                    n
                } else {
                    format!("{base}/{n}")
                });
            }
        }
        current = next;
    }
    current
}

/// `path.basenameNormalized`: lower-case, `[^-a-z0-9.]` -> `-`.
fn normalized(s: &str) -> String {
    s.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

fn appset(name: &str) -> (String, Node) {
    examples("applicationsets")
        .into_iter()
        .find(|(f, _)| f.ends_with(name))
        .unwrap_or_else(|| panic!("no examples/applicationsets/{name}"))
}

#[test]
fn every_applicationset_is_covered() {
    let covered = [
        "git-directories.yaml",
        "pull-requests.yaml",
        "pull-requests-per-directory.yaml",
    ];
    for (file, doc) in examples("applicationsets") {
        assert!(
            covered.iter().any(|c| file.ends_with(c)),
            "{file} has no test in tests/examples.rs"
        );
        assert_eq!(
            doc.at("spec.generators")
                .and_then(Node::seq)
                .map(<[Node]>::len),
            Some(1),
            "{file}"
        );
    }
}

#[test]
fn pull_request_applicationset_renders_the_pr_123_golden() {
    let (file, doc) = appset("pull-requests.yaml");
    assert!(
        doc.at("spec.generators").unwrap().seq().unwrap()[0]
            .get("pullRequest")
            .is_some()
    );
    let branch = "feature/Faster_cache";
    let slug = |b: &str| b.to_lowercase().replace(['/', '_'], "-");
    let params: BTreeMap<String, String> = [
        ("number", "123".to_string()),
        ("branch", branch.to_string()),
        ("branch_slug", slug(branch)),
        ("target_branch", "main".to_string()),
        ("target_branch_slug", "main".to_string()),
        ("head_sha", HEAD_SHA.to_string()),
        ("head_short_sha", HEAD_SHA[..8].to_string()),
        ("head_short_sha_7", HEAD_SHA[..7].to_string()),
        ("title", "Faster cache".to_string()),
        ("author", "octocat".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let apps = generated_apps(&doc, &file, &[params]);
    let app = &apps[0];
    assert_eq!(app.name, "my-microservice-pr-123");
    assert_eq!(app.revision, HEAD_SHA, "targetRevision is the head commit");
    let run = generate_like_render(app, &format!("{file} (PR 123)"));
    assert_eq!(run.env_var("ARGOCD_ENV_GITOPS_PR"), Some("123"));
    assert_eq!(run.env_var("ARGOCD_APP_PARAMETERS"), Some("null"));
    assert_matches_golden(&run, &golden(&app.path, &[("pr", "123")]));
    // The destination namespace the template names is the preview's namespace.
    let ns: Vec<_> = run
        .manifests()
        .unwrap()
        .iter()
        .filter_map(|m| m.namespace().map(str::to_string))
        .collect();
    assert!(
        ns.iter().all(|n| *n == app.dest_namespace),
        "{ns:?} vs {}",
        app.dest_namespace
    );
}

/// The secrets a workload reads, by name.
fn secret_refs(m: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    m.doc.walk("", &mut |path, node| {
        if path.ends_with("secretKeyRef.name")
            || path.ends_with("secretRef.name")
            || path.ends_with("secret.secretName")
        {
            out.push(node.str().unwrap_or("").to_string());
        }
    });
    out
}

/// (secret name, namespace) of every connection secret a claim asks Crossplane to write.
fn connection_secrets(objects: &[Manifest]) -> Vec<(String, String)> {
    objects
        .iter()
        .filter_map(|m| {
            let r = m.doc.at("spec.writeConnectionSecretToRef")?;
            let name = r.get("name")?.str()?.to_string();
            let ns = r
                .get("namespace")
                .and_then(Node::str)
                .or(m.namespace())
                .unwrap_or("")
                .to_string();
            Some((name, ns))
        })
        .collect()
}

/// The directories the git generator of `generator` yields (its `exclude` entries applied),
/// as parameter sets.
fn git_generator_params(
    generator: &Node,
    file: &str,
    go_template: bool,
) -> Vec<BTreeMap<String, String>> {
    let mut dirs = Vec::new();
    let mut excluded = Vec::new();
    for d in generator.get("directories").and_then(Node::seq).unwrap() {
        let pattern = string_field(d, "path", file);
        let found = git_directories(pattern);
        if d.get("exclude").and_then(Node::str) == Some("true") {
            excluded.extend(found);
        } else {
            dirs.extend(found);
        }
    }
    dirs.retain(|d| !excluded.contains(d));
    dirs.sort();
    dirs.dedup();
    assert_eq!(
        dirs,
        [
            "testdata/my-microservice/infrastructure",
            "testdata/my-microservice/kubernetes"
        ],
        "{file}: the source code folder app/ is excluded"
    );
    dirs.iter()
        .map(|d| {
            let base = d.rsplit('/').next().unwrap().to_string();
            let mut p = BTreeMap::new();
            if go_template {
                p.insert("path.path".to_string(), d.clone());
            } else {
                p.insert("path".to_string(), d.clone());
                for (i, seg) in d.split('/').enumerate() {
                    p.insert(format!("path[{i}]"), seg.to_string());
                }
            }
            p.insert("path.basenameNormalized".to_string(), normalized(&base));
            p.insert("path.basename".to_string(), base);
            p
        })
        .collect()
}

/// The Deployment's Secret references and the claim's connection Secret agree on name and
/// namespace across the two directories' renders.
fn assert_deployment_reads_the_claims_secret(
    rendered: &BTreeMap<String, Vec<Manifest>>,
    file: &str,
) {
    let (deploy_ns, refs) = rendered["kubernetes"]
        .iter()
        .find(|m| m.kind() == "Deployment")
        .map(|m| (m.namespace().unwrap().to_string(), secret_refs(m)))
        .expect("a Deployment in kubernetes/");
    let secrets = connection_secrets(&rendered["infrastructure"]);
    assert_eq!(secrets.len(), 1, "{file}: {secrets:?}");
    let (secret, secret_ns) = &secrets[0];
    assert!(
        refs.contains(secret),
        "{file}: the Deployment reads {refs:?}, the claim writes {secret}"
    );
    assert_eq!(
        &deploy_ns, secret_ns,
        "{file}: the Deployment and the claim's connection Secret share a namespace"
    );
    eprintln!(
        "[examples] {file}: Deployment in {deploy_ns} reads Secret {secret}, written in {secret_ns}"
    );
}

#[test]
fn git_directories_applicationset_renders_the_app_into_the_environments_namespace() {
    let (file, doc) = appset("git-directories.yaml");
    let generator = doc.at("spec.generators").unwrap().seq().unwrap()[0]
        .get("git")
        .unwrap();
    let go_template = doc.at("spec.goTemplate").and_then(Node::str) == Some("true");
    let param_sets = git_generator_params(generator, &file, go_template);
    let apps = generated_apps(&doc, &file, &param_sets);

    let mut rendered = BTreeMap::new();
    for app in &apps {
        let base = app.path.rsplit('/').next().unwrap().to_string();
        assert_eq!(app.name, format!("my-microservice-{base}"));
        assert_eq!(app.dest_namespace, "my-microservice-dev");
        let run = generate_like_render(app, &format!("{file} ({base})"));
        let objects = run.manifests().unwrap();
        for m in &objects {
            assert_eq!(
                m.namespace(),
                Some("my-microservice-dev"),
                "{file} ({base}): {} in the environment's namespace",
                m.id()
            );
        }
        rendered.insert(base, objects);
    }
    assert_deployment_reads_the_claims_secret(&rendered, &file);
}

#[test]
fn pull_requests_per_directory_renders_one_consistent_preview() {
    let (file, doc) = appset("pull-requests-per-directory.yaml");
    let matrix = doc.at("spec.generators").unwrap().seq().unwrap()[0]
        .get("matrix")
        .unwrap();
    let children = matrix.get("generators").and_then(Node::seq).unwrap();
    assert!(children[0].get("pullRequest").is_some(), "{file}");
    let go_template = doc.at("spec.goTemplate").and_then(Node::str) == Some("true");
    assert!(go_template, "{file}");
    let pr: BTreeMap<String, String> = [
        ("number", "123".to_string()),
        ("branch", "feature/cache".to_string()),
        ("branch_slug", "feature-cache".to_string()),
        ("target_branch", "main".to_string()),
        ("target_branch_slug", "main".to_string()),
        ("head_sha", HEAD_SHA.to_string()),
        ("head_short_sha", HEAD_SHA[..8].to_string()),
        ("head_short_sha_7", HEAD_SHA[..7].to_string()),
        ("title", "Cache".to_string()),
        ("author", "octocat".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // The matrix: every pull request times every directory.
    let git = children[1].get("git").unwrap();
    let param_sets: Vec<BTreeMap<String, String>> = git_generator_params(git, &file, true)
        .into_iter()
        .map(|mut p| {
            p.extend(pr.clone());
            p
        })
        .collect();
    let apps = generated_apps(&doc, &file, &param_sets);
    assert_eq!(apps.len(), 2);

    let mut rendered = BTreeMap::new();
    let mut ids = std::collections::BTreeSet::new();
    let mut namespaces = 0;
    for app in &apps {
        let base = app.path.rsplit('/').next().unwrap().to_string();
        assert_eq!(app.name, format!("my-microservice-{base}-pr-123"));
        assert_eq!(app.revision, HEAD_SHA);
        let run = generate_like_render(app, &format!("{file} ({base}, PR 123)"));
        let objects = run.manifests().unwrap();
        for m in &objects {
            if m.kind() == "Namespace" {
                namespaces += 1;
                assert_eq!(m.name(), "my-microservice-pr-123");
                assert_eq!(
                    base, "infrastructure",
                    "the first directory emits the Namespace"
                );
            } else {
                assert_eq!(m.namespace(), Some("my-microservice-pr-123"), "{}", m.id());
                assert!(m.name().ends_with("-pr-123"), "{}", m.id());
            }
            assert!(
                ids.insert(m.id()),
                "{} rendered by two Applications",
                m.id()
            );
        }
        rendered.insert(base, objects);
    }
    assert_eq!(
        namespaces, 1,
        "{file}: exactly one Application owns the preview Namespace"
    );
    assert_deployment_reads_the_claims_secret(&rendered, &file);
    // Together, the two Applications apply exactly what one Application of the whole app does.
    let whole = render_locally(&render_args(
        "testdata/my-microservice",
        &[("pr".to_string(), "123".to_string())],
    ));
    let whole_ids: std::collections::BTreeSet<String> = cmp_harness::parse_manifests(&whole.stdout)
        .unwrap()
        .iter()
        .map(Manifest::id)
        .collect();
    assert_eq!(
        ids, whole_ids,
        "{file}: the split preview is the whole preview"
    );
}
