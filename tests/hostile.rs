//! Hostile pull requests: every case renders in pass-through and in a preview, and either is
//! refused (exit 2, nothing on stdout, a located first line) or is read by the Kubernetes
//! reader exactly as the tool believed it (issue "A pull request cannot escape its preview",
//! DESIGN.md §4.1 "One reading", §6).
//!
//! "What the tool believed" is `-o jsonl` of the same render: the tree the tool reasoned about,
//! typed as sigs.k8s.io/yaml types it. "What the cluster reads" is the YAML output read by
//! `tests/tools/k8s-yaml` (apimachinery's document splitting + sigs.k8s.io/yaml over go-yaml
//! v2, the reader kubectl and Argo CD use). The two must hold the same documents, so the kinds,
//! names and namespaces the sandbox checked are the ones that would be applied.

// Tests panic on what they do not expect, and say on stderr why they skip.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-gitops");

/// What a render of a case must do.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Exit 0; the cluster reads what the tool believed.
    Same,
    /// Exit 2, nothing on stdout, a first stderr line `path:line:col: ...` containing this.
    Refused(&'static str),
}

use Expect::{Refused, Same};

struct Case {
    name: &'static str,
    files: &'static [(&'static str, &'static str)],
    pass: Expect,
    preview: Expect,
}

const CRB: &str = "ClusterRoleBinding";

const CASES: &[Case] = &[
    Case {
        name: "tag-escapes-that-decode-to-a-document",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: !x%0A---%0AapiVersion:%20rbac.authorization.k8s.io/v1%0Akind:%20ClusterRoleBinding%0Ametadata:%20%7Bname:%20pwn%7D v\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "tag-escapes-that-decode-to-a-key",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: !x%0Akind:%20ClusterRoleBinding v}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "merge-key-overrides-kind",
        files: &[(
            "rb.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n<<: {kind: ClusterRoleBinding}\nmetadata: {name: pwn}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: 'system:authenticated', apiGroup: rbac.authorization.k8s.io}]\n",
        )],
        pass: Same,
        preview: Refused(CRB),
    },
    Case {
        name: "merge-key-with-a-verbatim-tag",
        files: &[(
            "rb.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n!<tag:yaml.org,2002:merge> <<: {kind: ClusterRoleBinding}\nmetadata: {name: pwn}\n",
        )],
        pass: Same,
        preview: Refused(CRB),
    },
    Case {
        name: "merge-key-with-the-non-specific-tag",
        files: &[(
            "rb.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n! <<: {kind: ClusterRoleBinding}\nmetadata: {name: pwn}\n",
        )],
        pass: Same,
        preview: Refused(CRB),
    },
    Case {
        name: "quoted-merge-key-is-a-plain-key",
        files: &[(
            "rb.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\"<<\": {kind: ClusterRoleBinding}\nmetadata: {name: ok}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "merge-key-moves-the-namespace",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x, <<: {namespace: kube-system}}\n",
        )],
        pass: Same,
        preview: Refused("merge"),
    },
    Case {
        name: "merge-key-supplies-the-namespace",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {namespace: kube-system}\n  name: a\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "duplicate-kind-key",
        files: &[(
            "rb.yaml",
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: pwn}\nkind: ClusterRoleBinding\n",
        )],
        pass: Same,
        preview: Refused(CRB),
    },
    Case {
        name: "items-on-a-configmap",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRoleBinding\n  metadata: {name: pwn}\n",
        )],
        pass: Refused("items"),
        preview: Refused("items"),
    },
    Case {
        name: "a-list-inside-a-list",
        files: &[(
            "l.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n",
        )],
        pass: Refused("List inside a List"),
        preview: Refused("List inside a List"),
    },
    Case {
        name: "a-cluster-scoped-object-inside-a-list",
        files: &[(
            "l.yaml",
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: ClusterRoleBinding\n  metadata: {name: pwn}\n",
        )],
        pass: Same,
        preview: Refused(CRB),
    },
    Case {
        name: "key-that-looks-like-a-document-marker",
        files: &[(
            "cm.yaml",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}, --- x: 1}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "document-marker-at-column-0-inside-a-flow-mapping",
        files: &[(
            "cm.yaml",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: a},\n--- x: 1}\n",
        )],
        pass: Refused("---"),
        preview: Refused("---"),
    },
    Case {
        name: "metadata-that-is-a-sequence",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: [name, coredns]\n",
        )],
        pass: Refused("metadata"),
        preview: Refused("metadata"),
    },
    Case {
        name: "document-after-an-end-marker",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n...\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: pwn}\n",
        )],
        pass: Refused("second document"),
        preview: Refused("second document"),
    },
    Case {
        name: "document-marker-after-a-bare-carriage-return",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\r---\rkind: ClusterRoleBinding\n",
        )],
        pass: Refused("carriage return"),
        preview: Refused("carriage return"),
    },
    Case {
        name: "line-separator-hides-a-key",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: \"x\u{2028}namespace: kube-system\"}\n",
        )],
        pass: Refused("U+2028"),
        preview: Refused("U+2028"),
    },
    Case {
        name: "tag-directive",
        files: &[(
            "cm.yaml",
            "%TAG !e! tag:yaml.org,2002:\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        )],
        pass: Refused("directive"),
        preview: Refused("directive"),
    },
    Case {
        name: "byte-order-mark-inside",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n\u{feff}apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
        )],
        pass: Refused("byte order mark"),
        preview: Refused("byte order mark"),
    },
    Case {
        name: "anchored-name-aliased-elsewhere",
        files: &[(
            "d.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: &n web\n  labels: &l {app: *n}\ndata:\n  owner: *n\n  labels: *l\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "anchored-labels-aliased-into-the-pod-template",
        files: &[(
            "d.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels: &labels\n    app: web\nspec:\n  selector:\n    matchLabels: *labels\n  template:\n    metadata:\n      labels: *labels\n    spec:\n      containers: [{name: app, image: nginx}]\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "json-documents",
        files: &[(
            "all.json",
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"s\"}, \"spec\": {\"selector\": {\"app\": \"a\"}}}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "keep-chomped-annotation-before-an-insertion",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    note: |+\n      kept\n\n\n",
        )],
        pass: Same,
        preview: Same,
    },
    // Found by fuzzing (fuzz/, the one_reading target).
    Case {
        name: "key-without-a-value-last-in-a-flow-mapping",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, b}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "raw-control-character",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  na\u{1}b: s\n",
        )],
        pass: Refused("control character"),
        preview: Refused("control character"),
    },
    Case {
        name: "plain-scalar-starting-with-a-block-indicator-in-flow",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {b,>k: c}\n",
        )],
        pass: Refused("cannot start with"),
        preview: Refused("cannot start with"),
    },
    Case {
        name: "tab-after-a-colon",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name:\tweb\n  labels: # none yet\ndata: {a:\tb}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        // go-yaml (YAML 1.1) reads `?kind` in a flow mapping as an explicit key `kind`, a
        // second one that wins; saphyr-parser (YAML 1.2) reads the key `?kind`.
        name: "question-mark-key-in-a-flow-mapping",
        files: &[(
            "rb.yaml",
            "{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: a}, ?kind: ClusterRoleBinding, roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}, subjects: [{kind: Group, name: system:authenticated}]}\n",
        )],
        pass: Refused("key indicator"),
        preview: Refused("key indicator"),
    },
    Case {
        // An empty value in a flow mapping sits at its key's `:`: a preview replacing it
        // must write after the `:`.
        name: "empty-metadata-in-a-flow-mapping",
        files: &[(
            "cm.yaml",
            "{apiVersion: v1, kind: ConfigMap, metadata: {name: f}, metadata: , data: {k: v}}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        // Null and tagged empty values in flow mappings: a preview inserts entries after
        // them and must not glue a `,` to their `:` or tag (go-yaml reads `a:,` as the key
        // `a:` and `!!str,` as a tag); a null name is no name to rename.
        name: "empty-values-in-flow-mappings",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: , eb}\n---\napiVersion: v1\nkind: Secret\nmetadata: {\"name\":, \"eb\": 1}\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {a: b, name: !!str , eb}\n---\napiVersion: v1\nkind: Service\nmetadata: {a: b, name: &x }\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: ~, b}\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        // saphyr-parser ends `name:` at the `,` (the key `name`); go-yaml reads the key `name:`.
        name: "colon-glued-to-a-comma-in-a-flow-mapping",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name:, eb}\n",
        )],
        pass: Refused("part of the text"),
        preview: Refused("part of the text"),
    },
    Case {
        name: "tag-glued-to-a-brace",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: !t}\n",
        )],
        pass: Refused("tag must be followed"),
        preview: Refused("tag must be followed"),
    },
    Case {
        // A namespaced provider-kubernetes Object sits in the preview namespace, but the
        // provider applies its manifest wherever it says, cluster-wide included.
        name: "a-namespaced-crossplane-object-that-applies-a-clusterrolebinding",
        files: &[(
            "object.yaml",
            "apiVersion: kubernetes.m.crossplane.io/v1alpha1\nkind: Object\nmetadata: {name: pwn}\nspec:\n  forProvider:\n    manifest:\n      apiVersion: rbac.authorization.k8s.io/v1\n      kind: ClusterRoleBinding\n      metadata: {name: pwn}\n      roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\n      subjects: [{kind: Group, name: \"system:authenticated\", apiGroup: rbac.authorization.k8s.io}]\n",
        )],
        pass: Same,
        preview: Refused("cannot keep what it creates"),
    },
    Case {
        // A file starting with a byte order mark: its first keys are at column 0 (inserted
        // keys too), and the mark is dropped when the file is not the start of the output.
        name: "byte-order-mark-starting-a-file",
        files: &[(
            "cm.yaml",
            "\u{feff}apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\nmetadata:\n  name: a\n",
        )],
        pass: Same,
        preview: Same,
    },
    Case {
        name: "merge-list-and-crlf",
        files: &[(
            "cm.yaml",
            "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  <<: [{name: a}, {name: b, labels: {x: y}}]\r\n",
        )],
        pass: Same,
        preview: Same,
    },
];

fn tools_reader() -> Option<PathBuf> {
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/k8s-yaml/build");
    match Command::new(build).output() {
        Ok(out) if out.status.success() => Some(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim_end().to_string(),
        )),
        _ => {
            assert!(
                std::env::var_os("KUBECTL_GITOPS_REQUIRE_TOOLS").is_none(),
                "the Kubernetes reader cannot be built (KUBECTL_GITOPS_REQUIRE_TOOLS is set)"
            );
            eprintln!("SKIPPED: the Kubernetes reader cannot be built");
            None
        }
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .output()
        .expect("run kubectl-gitops")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The documents the Kubernetes reader reads from `yaml` (empty ones dropped), or its error.
fn k8s_read(reader: &Path, yaml: &[u8], scratch: &Path) -> Result<Vec<Value>, String> {
    let file = scratch.join("out.yaml");
    fs::write(&file, yaml).unwrap();
    let out = Command::new(reader).arg(&file).output().unwrap();
    let mut docs = Vec::new();
    for line in text(&out.stdout).split('\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if let Some(err) = v.get("__error__") {
            return Err(err.to_string());
        }
        if !v.is_null() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// Argo CD flattens Lists: what is applied is the items.
fn applied(docs: Vec<Value>) -> Vec<Value> {
    docs.into_iter()
        .flat_map(|d| match d.get("items").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None => vec![d],
        })
        .collect()
}

fn identity(v: &Value) -> String {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_string()
    };
    format!(
        "{}/{} ns={}",
        s("/kind"),
        s("/metadata/name"),
        s("/metadata/namespace")
    )
}

fn check(case: &Case, mode: &str, flags: &[&str], expect: Expect, reader: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    fs::create_dir_all(&app).unwrap();
    for (name, content) in case.files {
        fs::write(app.join(name), content).unwrap();
    }
    let app_arg = app.to_str().unwrap();
    let mut args = vec!["render", app_arg];
    args.extend_from_slice(flags);
    let out = run(&args);
    let stderr = text(&out.stderr);
    let what = format!("{} ({mode})", case.name);
    match expect {
        Refused(needle) => {
            assert_eq!(
                out.status.code(),
                Some(2),
                "{what}: must be refused:\n{stderr}"
            );
            assert!(
                out.stdout.is_empty(),
                "{what}: refused renders print nothing"
            );
            let first = stderr.lines().next().unwrap_or("");
            let located = first
                .split(':')
                .nth(2)
                .is_some_and(|col| col.chars().all(|c| c.is_ascii_digit()) && !col.is_empty());
            assert!(
                located && first.contains(app_arg),
                "{what}: the first line must be `path:line:col: message`: {first:?}"
            );
            assert!(
                first.contains(needle),
                "{what}: the refusal must say {needle:?}: {first:?}"
            );
        }
        Same => {
            assert_eq!(out.status.code(), Some(0), "{what}: must render:\n{stderr}");
            let mut json_args = args.clone();
            json_args.extend(["-o", "jsonl"]);
            let believed = run(&json_args);
            assert_eq!(believed.status.code(), Some(0), "{what} -o jsonl");
            let believed: Vec<Value> = text(&believed.stdout)
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            let read = k8s_read(reader, &out.stdout, dir.path()).unwrap_or_else(|e| {
                panic!(
                    "{what}: the Kubernetes reader cannot read the output: {e}\n{}",
                    text(&out.stdout)
                )
            });
            let ids = |docs: &[Value]| docs.iter().map(identity).collect::<Vec<_>>();
            assert_eq!(
                ids(&applied(read.clone())),
                ids(&applied(believed.clone())),
                "{what}: kinds, names and namespaces"
            );
            assert_eq!(
                read,
                believed,
                "{what}: the cluster must read exactly what the tool believed\n{}",
                text(&out.stdout)
            );
            // Rendering the output again with the same identity changes nothing.
            // Same directory name, so the same app.
            let again = dir.path().join("again").join("app");
            fs::create_dir_all(&again).unwrap();
            fs::write(again.join("out.yaml"), &out.stdout).unwrap();
            let mut args2 = vec!["render", again.to_str().unwrap()];
            args2.extend_from_slice(flags);
            let out2 = run(&args2);
            assert_eq!(
                text(&out2.stdout),
                text(&out.stdout),
                "{what}: not idempotent:\n{}",
                text(&out2.stderr)
            );
        }
    }
}

#[test]
fn hostile_inputs_are_refused_or_read_as_the_tool_believes() {
    let Some(reader) = tools_reader() else {
        return;
    };
    for case in CASES {
        check(case, "pass-through", &[], case.pass, &reader);
        check(case, "preview", &["--pr", "7"], case.preview, &reader);
    }
}

/// Resource bounds: each a located error with exit 2, never a signal, within the input's
/// budget (not each file's).
#[test]
fn budgets_hold_per_input() {
    let dir = tempfile::tempdir().unwrap();
    /// (what, files as (name, content), what the refusal says)
    type BudgetCase = (&'static str, Vec<(String, String)>, &'static str);
    let cases: Vec<BudgetCase> = vec![
        (
            "aliases nested a thousand deep",
            vec![("a.yaml".into(), {
                let mut s = String::from("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx0: &a0 [x]\n");
                for i in 1..1000 {
                    s.push_str(&format!("x{i}: &a{i} [*a{}]\n", i - 1));
                }
                s
            })],
            "nesting deeper",
        ),
        (
            "one large anchored scalar aliased a thousand times",
            vec![("a.yaml".into(), {
                let mut s = format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata:\n  big: &big \"{}\"\n",
                    "x".repeat(1 << 20)
                );
                for i in 0..1000 {
                    s.push_str(&format!("  k{i}: *big\n"));
                }
                s
            })],
            "alias expansion exceeds",
        ),
        (
            "sixty files each under the alias budget",
            (0..60)
                .map(|f| {
                    let mut s = format!(
                        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a{f}}}\ndata:\n  a: &a [{}]\n",
                        vec!["x"; 1000].join(", ")
                    );
                    for i in 0..10 {
                        s.push_str(&format!("  b{i}: *a\n"));
                    }
                    (format!("f{f:02}.yaml"), s)
                })
                .collect(),
            "alias expansion exceeds",
        ),
    ];
    for (what, files, needle) in cases {
        let app = dir.path().join(what.replace(' ', "-"));
        fs::create_dir_all(&app).unwrap();
        for (name, content) in &files {
            fs::write(app.join(name), content).unwrap();
        }
        for flags in [&[][..], &["--pr", "7"][..]] {
            let mut args = vec!["render", app.to_str().unwrap()];
            args.extend_from_slice(flags);
            let out = run(&args);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what} {flags:?}:\n{stderr}");
            assert!(out.stdout.is_empty());
            let first = stderr.lines().next().unwrap_or("");
            assert!(
                first.contains(needle) && first.contains(app.to_str().unwrap()),
                "{what}: {first:?}"
            );
        }
    }
}
