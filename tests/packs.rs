//! Issue 9 end to end through the real binary: scope decided from upstream knowledge and
//! refused when unknown in a preview, nothing re-scoping a Kubernetes kind or a table entry,
//! kind lists, references into other namespaces, namespace references, shared definitions,
//! build inputs, gitops.yaml `references:` in the extended schema, and the safety net.
//!
//! Each case writes its files into a fresh temporary repository (a directory holding `.git`,
//! so gitops.yaml lookup stops there) and runs `kubectl-gitops render app ...` in it, with
//! `ARGOCD_*`/`GITOPS_*` removed from the environment. The golden previews of one realistic
//! app per ecosystem are in `tests/fixtures/<ecosystem>/` (`tests/golden.rs`).

#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::Command;

use tempfile::TempDir;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn context(&self) -> String {
        format!(
            "\n--- exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Exit 0, and stderr mentions every one of `mentions` (warnings).
    fn ok(&self, mentions: &[&str]) -> &Self {
        assert_eq!(self.code, Some(0), "{}", self.context());
        for m in mentions {
            assert!(
                self.stderr.contains(m),
                "stderr lacks {m:?}{}",
                self.context()
            );
        }
        self
    }

    /// Exit 2, nothing on stdout, and a first stderr line mentioning every one of `mentions`.
    fn refused(&self, mentions: &[&str]) -> &Self {
        assert_eq!(self.code, Some(2), "{}", self.context());
        assert!(self.stdout.is_empty(), "{}", self.context());
        let first = self.stderr.lines().next().unwrap_or("");
        for m in mentions {
            assert!(
                first.contains(m),
                "first stderr line lacks {m:?}{}",
                self.context()
            );
        }
        self
    }

    fn out_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}{}",
            self.context()
        );
        self
    }

    fn out_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle),
            "stdout has {needle:?}{}",
            self.context()
        );
        self
    }

    fn err_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stderr.contains(needle),
            "stderr has {needle:?}{}",
            self.context()
        );
        self
    }
}

/// A repository with `app/gitops.yaml` and `app/m.yaml`.
fn repo(gitops: &str, manifests: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join(".git")).unwrap();
    fs::create_dir_all(dir.path().join("app")).unwrap();
    if !gitops.is_empty() {
        fs::write(dir.path().join("app/gitops.yaml"), gitops).unwrap();
    }
    fs::write(dir.path().join("app/m.yaml"), manifests).unwrap();
    dir
}

fn render(dir: &TempDir, args: &[&str]) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-gitops"));
    cmd.current_dir(dir.path())
        .arg("render")
        .arg("app")
        .args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("ARGOCD_") || k.starts_with("GITOPS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The objects a render printed, as Kubernetes reads them (`-o jsonl`).
fn objects(dir: &TempDir, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = args.to_vec();
    all.extend(["-o", "jsonl"]);
    let out = render(dir, &all);
    assert_eq!(out.code, Some(0), "{}", out.context());
    out.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The object of this kind and name.
fn find<'a>(objs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} in {objs:#?}"))
}

const ENVS: &str = "app: shop\nenvironments:\n  dev: {namespace: shop-dev}\n  prod: {namespace: shop}\npreview: {from: dev}\n";

fn gitops(extra: &str) -> String {
    format!("{ENVS}{extra}")
}

const WIDGET: &str =
    "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n";

// Scope -----------------------------------------------------------------------------------------

#[test]
fn a_kind_of_unknown_scope_is_refused_in_a_preview_and_warned_about_in_an_environment() {
    let r = repo(ENVS, WIDGET);
    render(&r, &["--pr", "7"]).refused(&[
        "app/m.yaml:1:1: Widget/w: kubectl-gitops does not know whether Widget.example.com is namespaced or cluster-scoped",
        "`namespaced: [Widget.example.com]` or `clusterScoped: [Widget.example.com]`",
    ]);
    render(&r, &["--env", "prod"])
        .ok(&[
            "warning: Widget/w: kubectl-gitops does not know whether Widget.example.com",
            "treated as namespaced",
        ])
        .out_has("namespace: shop");
    // Declared, it renders; a CRD in the input says so as well.
    let declared = repo(&gitops("namespaced: [Widget.example.com]\n"), WIDGET);
    render(&declared, &["--pr", "7"])
        .ok(&[])
        .out_has("name: w-pr-7");
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets}\n---\n";
    let with_crd = repo(ENVS, &format!("{crd}{WIDGET}"));
    render(&with_crd, &["--env", "prod"])
        .ok(&[])
        .err_lacks("does not know");
}

#[test]
fn the_table_knows_the_ecosystems_kinds() {
    // Namespaced kinds the old table had as cluster-scoped, cluster-scoped kinds it did not know.
    let namespaced = "apiVersion: secrets-store.csi.x-k8s.io/v1\nkind: SecretProviderClass\nmetadata: {name: kv}\nspec: {provider: azure}\n---\napiVersion: config.gatekeeper.sh/v1alpha1\nkind: Config\nmetadata: {name: config}\nspec: {}\n";
    render(&repo(ENVS, namespaced), &["--pr", "7"])
        .ok(&[])
        .out_has("name: kv-pr-7")
        .out_has("name: config-pr-7");
    for (doc, what) in [
        (
            "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata: {name: k8srequiredlabels}\n",
            "ConstraintTemplate/k8srequiredlabels is cluster-scoped",
        ),
        (
            "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata: {name: must-have-owner}\n",
            "K8sRequiredLabels/must-have-owner is cluster-scoped",
        ),
        (
            "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata: {name: pool}\n",
            "CiliumLoadBalancerIPPool/pool is cluster-scoped",
        ),
        (
            "apiVersion: groupsnapshot.storage.k8s.io/v1beta1\nkind: VolumeGroupSnapshotClass\nmetadata: {name: c}\n",
            "VolumeGroupSnapshotClass/c is cluster-scoped",
        ),
        (
            "apiVersion: spire.spiffe.io/v1alpha1\nkind: ClusterSPIFFEID\nmetadata: {name: id}\n",
            "ClusterSPIFFEID/id is cluster-scoped",
        ),
        (
            "apiVersion: certmanager.k8s.io/v1alpha1\nkind: ClusterIssuer\nmetadata: {name: ca}\n",
            "ClusterIssuer/ca is cluster-scoped",
        ),
        (
            "apiVersion: security.openshift.io/v1\nkind: SecurityContextConstraints\nmetadata: {name: scc}\n",
            "SecurityContextConstraints/scc is cluster-scoped",
        ),
    ] {
        render(&repo(ENVS, doc), &["--pr", "7"]).refused(&[what]);
    }
}

#[test]
fn nothing_rescopes_a_kubernetes_kind_or_a_table_entry() {
    let crb = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: pwn}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: \"system:authenticated\", apiGroup: rbac.authorization.k8s.io}]\n";
    for (line, what) in [
        (
            "namespaced: [ClusterRoleBinding]\n",
            "ClusterRoleBinding.rbac.authorization.k8s.io is a Kubernetes kind",
        ),
        (
            "namespaced: [ClusterRoleBinding.rbac.authorization.k8s.io]\n",
            "ClusterRoleBinding.rbac.authorization.k8s.io is a Kubernetes kind",
        ),
        (
            "crossplane: {claims: [ClusterRoleBinding.rbac.authorization.k8s.io]}\n",
            "is a Kubernetes kind",
        ),
        (
            "clusterScoped: [{group: \"\", kind: Secret}]\n",
            "Secret is a Kubernetes kind",
        ),
        (
            "namespaced: [ClusterIssuer.cert-manager.io]\n",
            "ClusterIssuer.cert-manager.io is cluster-scoped (built-in table",
        ),
        (
            "preview: {from: dev, allowClusterScoped: [\"*\"]}\n",
            "* is not a kind",
        ),
    ] {
        let g = gitops(line).replace("preview: {from: dev}\npreview:", "preview:");
        render(&repo(&g, crb), &["--pr", "7"]).refused(&["app/gitops.yaml:", what]);
    }
    // A CRD in the input that says otherwise is an error, in every render.
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: clusterrolebindings.rbac.authorization.k8s.io}\nspec:\n  group: rbac.authorization.k8s.io\n  scope: Namespaced\n  names: {kind: ClusterRoleBinding, plural: clusterrolebindings}\n---\n";
    for args in [&["--env", "prod"][..], &["--pr", "7"]] {
        render(&repo(ENVS, &format!("{crd}{crb}")), args).refused(&[
            "app/m.yaml:6:10: CustomResourceDefinition/clusterrolebindings.rbac.authorization.k8s.io declares ClusterRoleBinding.rbac.authorization.k8s.io namespaced, but it is cluster-scoped",
        ]);
    }
}

#[test]
fn a_bare_kind_matches_any_group_and_is_refused_when_ambiguous() {
    let xrd = "apiVersion: apiextensions.crossplane.io/v2\nkind: CompositeResourceDefinition\nmetadata: {name: xapps.example.org}\nspec:\n  group: example.org\n  names: {kind: XApp, plural: xapps}\n  versions: [{name: v1, served: true, referenceable: true}]\n";
    let objs = objects(
        &repo(
            &gitops("").replace(
                "preview: {from: dev}",
                "preview: {from: dev, allowClusterScoped: [CompositeResourceDefinition]}",
            ),
            xrd,
        ),
        &["--pr", "7"],
    );
    // A shared definition: its name kept, never pruned.
    let d = find(&objs, "CompositeResourceDefinition", "xapps.example.org");
    assert_eq!(
        d["metadata"]["annotations"]["argocd.argoproj.io/sync-options"],
        "Prune=false,Delete=false"
    );
    let two = "apiVersion: a.example.com/v1\nkind: Thing\nmetadata: {name: a}\n---\napiVersion: b.example.com/v1\nkind: Thing\nmetadata: {name: b}\n";
    render(&repo(&gitops("namespaced: [Thing]\n"), two), &["--env", "prod"]).refused(&[
        "app/gitops.yaml:6:14: namespaced: Thing names a kind of several API groups of the input (a.example.com, b.example.com); write Kind.group",
    ]);
}

#[test]
fn package_metadata_is_refused_in_a_preview_and_left_alone_otherwise() {
    let meta = "apiVersion: meta.pkg.crossplane.io/v1\nkind: Configuration\nmetadata: {name: platform}\nspec:\n  dependsOn: [{provider: xpkg.upbound.io/upbound/provider-aws-s3, version: \">=v1.0.0\"}]\n";
    render(&repo(ENVS, meta), &["--pr", "7"])
        .refused(&["Configuration/platform is Configuration.meta.pkg.crossplane.io, an input of a package build"]);
    render(&repo(ENVS, meta), &["--env", "prod"])
        .ok(&[])
        .out_lacks("namespace:")
        .out_lacks("kubectl-gitops.io/env");
}

// References ------------------------------------------------------------------------------------

#[test]
fn references_into_other_namespaces_are_somebody_elses() {
    let docs = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: web}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: web-view}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\nsubjects:\n- {kind: ServiceAccount, name: web, namespace: monitoring}\n- {kind: ServiceAccount, name: web, namespace: shop-dev}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web}\nspec:\n  rules:\n  - backendRefs: [{name: web, namespace: legacy, port: 80}]\n  - backendRefs: [{name: web, port: 80}]\n";
    let g = gitops("").replace(
        "preview: {from: dev}",
        "preview: {from: dev, allowClusterScoped: [ClusterRoleBinding.rbac.authorization.k8s.io]}",
    );
    let subjects = |objs: &[serde_json::Value], kind: &str, name: &str| {
        find(objs, kind, name)["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                format!(
                    "{}/{}",
                    s["namespace"].as_str().unwrap(),
                    s["name"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    let backends = |objs: &[serde_json::Value], route: &str| {
        find(objs, "HTTPRoute", route)["spec"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let b = &r["backendRefs"][0];
                format!(
                    "{}/{}",
                    b["namespace"].as_str().unwrap_or("-"),
                    b["name"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    // monitoring's `web` and legacy's are not the app's; shop-dev is dev's, not prod's.
    let objs = objects(&repo(&g, docs), &["--env", "prod"]);
    assert_eq!(
        subjects(&objs, "ClusterRoleBinding", "web-view"),
        ["monitoring/web", "shop-dev/web"]
    );
    assert_eq!(backends(&objs, "web"), ["legacy/web", "-/web"]);
    // In a preview from dev, shop-dev is the environment's namespace: that subject is the
    // app's ServiceAccount, and the shared ClusterRoleBinding may not name it.
    render(&repo(&g, docs), &["--pr", "7"]).refused(&[
        "ClusterRoleBinding/web-view is a shared definition of every preview",
        "ServiceAccount \"web\"",
    ]);
    let ns = docs.replace(
        "kind: ClusterRoleBinding\nmetadata: {name: web-view}",
        "kind: RoleBinding\nmetadata: {name: web-view}",
    );
    let objs = objects(&repo(ENVS, &ns), &["--pr", "7"]);
    assert_eq!(
        subjects(&objs, "RoleBinding", "web-view-pr-7"),
        ["monitoring/web", "shop-pr-7/web-pr-7"]
    );
    assert_eq!(backends(&objs, "web-pr-7"), ["legacy/web", "-/web-pr-7"]);
}

#[test]
fn namespace_references_follow_a_preview_or_are_refused() {
    let ks = |ns: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {{name: apps}}\nspec:\n  interval: 5m\n  path: ./apps\n  prune: true\n  sourceRef: {{kind: GitRepository, name: flux-system}}\n  targetNamespace: {ns}\n"
        )
    };
    render(&repo(ENVS, &ks("shop-dev")), &["--pr", "7"])
        .ok(&[])
        .out_has("targetNamespace: shop-pr-7");
    render(&repo(ENVS, &ks("shop")), &["--env", "prod"])
        .ok(&[])
        .out_has("targetNamespace: shop\n");
    // Another environment's namespace, in an environment render: left, and said.
    render(&repo(ENVS, &ks("shop-dev")), &["--env", "prod"])
        .ok(&["spec.targetNamespace names \"shop-dev\", the namespace of environment dev"])
        .out_has("targetNamespace: shop-dev");
    render(&repo(ENVS, &ks("production")), &["--pr", "7"]).refused(&[
        "Kustomization/apps: spec.targetNamespace names the namespace \"production\", outside the preview's namespace shop-pr-7",
    ]);
    render(&repo(ENVS, &ks("production")), &["--env", "prod"])
        .ok(&[])
        .out_has("targetNamespace: production");
    let app = "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: redis}\nspec:\n  project: default\n  destination: {server: https://kubernetes.default.svc, namespace: kube-system}\n  source: {repoURL: https://charts.bitnami.com/bitnami, chart: redis, targetRevision: 20.1.0}\n";
    render(&repo(ENVS, app), &["--pr", "7"])
        .refused(&["spec.destination.namespace names the namespace \"kube-system\""]);
}

#[test]
fn an_application_sets_template_is_sandboxed_like_an_application() {
    // The template and a nested generator's own template are the Applications it creates.
    let set = |ns: &str| {
        format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {{name: set}}\nspec:\n  generators:\n  - matrix:\n      generators:\n      - list:\n          elements: [{{x: b}}]\n          template:\n            metadata: {{}}\n            spec: {{project: default, destination: {{namespace: shop-dev}}}}\n  template:\n    metadata: {{name: '{{{{x}}}}'}}\n    spec:\n      project: default\n      destination: {{server: https://kubernetes.default.svc, namespace: {ns}}}\n      source: {{repoURL: https://example.com/repo.git, path: a}}\n"
        )
    };
    let objs = objects(&repo(ENVS, &set("shop-dev")), &["--pr", "7"]);
    let s = find(&objs, "ApplicationSet", "set-pr-7");
    assert_eq!(
        s["spec"]["template"]["spec"]["destination"]["namespace"],
        "shop-pr-7"
    );
    assert_eq!(
        s["spec"]["generators"][0]["matrix"]["generators"][0]["list"]["template"]["spec"]["destination"]
            ["namespace"],
        "shop-pr-7"
    );
    // Production's namespace, or one only known once Argo CD expands the template: refused.
    render(&repo(ENVS, &set("shop")), &["--pr", "7"]).refused(&[
        "app/m.yaml:17:72: ApplicationSet/set: spec.template.spec.destination.namespace names the namespace \"shop\", outside the preview's namespace shop-pr-7",
    ]);
    render(&repo(ENVS, &set("'{{.namespace}}'")), &["--pr", "7"]).refused(&[
        "spec.template.spec.destination.namespace is the template \"{{.namespace}}\", a namespace only known once Argo CD expands it",
    ]);
    // An environment render keeps what the file says, and says when it is another
    // environment's namespace (the generator's template names dev's).
    let out = render(&repo(ENVS, &set("shop")), &["--env", "prod"]);
    out.ok(&["app/m.yaml:12:63: warning: ApplicationSet/set: spec.generators.**.template.spec.destination.namespace names \"shop-dev\", the namespace of environment dev"])
        .out_has("namespace: shop}");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.context());
}

#[test]
fn a_shared_definition_may_not_refer_to_a_preview_object() {
    let webhook = "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\nmetadata: {name: shop-validator}\nwebhooks:\n- name: validate.shop.example.com\n  clientConfig:\n    service: {name: validator, namespace: shop-dev, path: /validate}\n  admissionReviewVersions: [v1]\n  sideEffects: None\n---\napiVersion: v1\nkind: Service\nmetadata: {name: validator}\nspec: {ports: [{port: 443}]}\n";
    let g = gitops("").replace(
        "preview: {from: dev}",
        "preview: {from: dev, allowClusterScoped: [ValidatingWebhookConfiguration.admissionregistration.k8s.io, StorageClass.storage.k8s.io]}",
    );
    render(&repo(&g, webhook), &["--pr", "7"]).refused(&[
        "ValidatingWebhookConfiguration/shop-validator is a shared definition of every preview",
        "refers to Service \"validator\", which belongs to one preview",
    ]);
    // An environment render rewrites it as usual; dev's namespace written in the file is
    // dev's, not prod's: left, and said.
    let objs = objects(
        &repo(&g, &webhook.replace("shop-dev", "shop")),
        &["--env", "prod"],
    );
    let w = find(&objs, "ValidatingWebhookConfiguration", "shop-validator");
    assert_eq!(
        w["webhooks"][0]["clientConfig"]["service"]["namespace"],
        "shop"
    );
    render(&repo(&g, webhook), &["--env", "prod"]).ok(&[
        "webhooks.clientConfig.service names \"shop-dev\", the namespace of environment dev",
    ]);
    let sc = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: ceph}\nprovisioner: kubernetes.io/rbd\nparameters: {adminSecretName: ceph-admin, monitors: \"10.0.0.1:6789\"}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: ceph-admin}\n";
    render(&repo(&g, sc), &["--pr", "7"]).refused(&[
        "StorageClass/ceph is a shared definition",
        "Secret \"ceph-admin\"",
    ]);
}

#[test]
fn cert_manager_adopts_a_secret_the_input_holds() {
    // ingress-shim writes into an existing Secret of the TLS name: that Secret is the one
    // (no second, colliding Secret), and the Ingress follows its rename.
    let docs = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: web\n  annotations: {cert-manager.io/cluster-issuer: letsencrypt}\nspec:\n  tls: [{hosts: [shop.example.com], secretName: web-tls}]\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: web-tls}\ntype: kubernetes.io/tls\n";
    let objs = objects(&repo(ENVS, docs), &["--pr", "7"]);
    find(&objs, "Secret", "web-tls-pr-7");
    assert_eq!(
        find(&objs, "Ingress", "web-pr-7")["spec"]["tls"][0]["secretName"],
        "web-tls-pr-7"
    );
    // Without the Secret, the shim's Secret is produced: renamed, and not missing.
    let alone = docs.split("---").next().unwrap();
    let out = render(&repo(ENVS, alone), &["--pr", "7"]);
    out.ok(&[]).err_lacks("not in the input");
    assert!(
        out.stdout.contains("secretName: web-tls-pr-7"),
        "{}",
        out.context()
    );
}

#[test]
fn gitops_references_use_the_extended_schema() {
    let g = gitops(
        "namespaced: [Widget.example.com]\nreferences:\n- {kind: Widget, group: example.com, path: spec.pod, shape: podSpec}\n- {kind: Widget, group: example.com, path: [metadata, annotations, example.com/backend], target: Service, format: dns}\n- {kind: Widget, group: example.com, path: spec.output, target: Secret, produces: true}\n",
    );
    let docs = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  annotations: {example.com/backend: web.shop-dev.svc.cluster.local}\nspec:\n  output: w-out\n  pod:\n    serviceAccountName: runner\n    containers: [{name: c, image: x, envFrom: [{secretRef: {name: w-out}}]}]\n---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: runner}\n";
    render(&repo(&g, docs), &["--pr", "7"])
        .ok(&[])
        .err_lacks("warning")
        .out_has("example.com/backend: web-pr-7.shop-pr-7.svc.cluster.local")
        .out_has("serviceAccountName: runner-pr-7")
        .out_has("output: w-out-pr-7")
        .out_has("name: w-out-pr-7");
    // An unknown shape is an error at its line.
    let bad = gitops(
        "references:\n- {kind: Widget, group: example.com, path: spec.pod, shape: podspec}\n",
    );
    render(&repo(&bad, WIDGET), &["--env", "prod"])
        .refused(&["app/gitops.yaml:7:3:", "shape \"podspec\""]);
}

#[test]
fn old_names_left_where_references_sit_are_warned_about() {
    let g = gitops("namespaced: [Widget.example.com]\n");
    let docs = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec:\n  upstreamRef: {name: web}\n  containerName: web\n  upstreamHost: web.shop-dev.svc.cluster.local\n  note: web\n";
    let out = render(&repo(&g, docs), &["--pr", "7"]);
    out.ok(&[
        "app/m.yaml:10:23: warning: Widget/w: spec.upstreamRef.name is \"web\", the old name of Service/web",
        "references: [{kind: Widget, group: example.com, path: spec.upstreamRef.name, target: Service}]",
        "app/m.yaml:12:17: warning: Widget/w: spec.upstreamHost is \"web.shop-dev.svc.cluster.local\"",
        "target: Service, format: dns}]",
    ]);
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.context());
    // Keys that are the kind they name, as Helm values write them; label values are not.
    let helm = "apiVersion: v1\nkind: Secret\nmetadata: {name: app-secret}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: cache}\nspec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: app}\nspec:\n  interval: 5m\n  chart: {spec: {chart: app, sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}}}\n  values:\n    secret: {existingSecret: app-secret}\n    persistence: {cache: {existingClaim: cache}}\n    podLabels: {secret: app-secret}\n";
    let out = render(&repo(ENVS, helm), &["--pr", "7"]);
    out.ok(&[
        "app/m.yaml:17:30: warning: HelmRelease/app: spec.values.secret.existingSecret is \"app-secret\", the old name of Secret/app-secret",
        "path: spec.values.secret.existingSecret, target: Secret}]",
        "app/m.yaml:18:42: warning: HelmRelease/app: spec.values.persistence.cache.existingClaim is \"cache\", the old name of PersistentVolumeClaim/cache",
    ]);
    assert_eq!(out.stderr.lines().count(), 2, "{}", out.context());
    // Environment renders rename nothing: nothing to warn about.
    render(&repo(&g, docs), &["--env", "prod"])
        .ok(&[])
        .err_lacks("warning");
}

#[test]
fn an_empty_name_is_not_suffixed() {
    // `metadata: {name}` is a name with no value: Kubernetes reads no name, so a preview
    // writing "-pr-7" there would invent one (found by fuzzing one_reading).
    let docs = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: \"\", generateName: job-}\nspec: {containers: [{name: c, image: x}]}\n";
    render(&repo(ENVS, docs), &["--pr", "7"])
        .ok(&["app/m.yaml:3:16: warning: ConfigMap without a name: metadata.name is empty: Kubernetes will refuse this object"])
        .out_lacks("\"-pr-7\"")
        .out_has("generateName: job-pr-7-");
}
