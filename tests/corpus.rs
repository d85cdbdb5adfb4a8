//! Fidelity and determinism of `kubectl-gitops render` over the corpus of real-world manifests
//! (`tests/corpus`, or `$KUBECTL_GITOPS_CORPUS`) and over the tricky-values fixture.
//!
//! Issue 2, item 5, and DESIGN.md §4.1 and §6 ask for four things, tested below in this order:
//!
//! 1. A render without identity is a lossless pass-through: every corpus file is rendered into a
//!    mirror tree and `tests/tools/yaml-equiv` must find mirror and corpus equal as the
//!    Kubernetes client libraries, YAML 1.1 and YAML 1.2 read them.
//! 2. Duplicate keys are reported with their location and the last value wins; YAML-1.1-only
//!    values keep their text.
//! 3. With `--pr 7 --app corpus` every file renders or is refused with a located error (exit 2,
//!    empty stdout, `path:line:col: ` first on stderr); renders are byte-for-byte deterministic
//!    and rendering an output again with the same identity changes nothing.
//! 4. The tricky-values fixture round-trips without identity, and with `--pr 123` nothing but the
//!    identity (names, namespace, identity labels, the preview Namespace) changes, as seen by the
//!    Kubernetes reader and by yaml-equiv's YAML 1.1 and 1.2 readers.
//!
//! The tests drive the real binary. The corpus and the comparison tools are in this repository
//! (`tests/corpus`, `tests/tools`); the readers need PyYAML and Go (Debian's golang-go and
//! golang-k8s-sigs-yaml-dev), which `scripts/test` installs and builds before `cargo test`. When
//! a reader cannot run, the test prints why it is skipped and passes, except under
//! `KUBECTL_GITOPS_REQUIRE_TOOLS=1` (set by `scripts/test`), where that fails. Renders run on a small
//! pool of threads (one per core), so the whole file takes seconds in release mode. Counts are
//! printed on stderr (visible with `cargo test --test corpus -- --nocapture`).

#![allow(clippy::unwrap_used)]
// Reporting counts and skip reasons on stderr is the point of these tests.
#![allow(clippy::print_stderr)]

use std::collections::BTreeMap;
use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-gitops");

// ---------------------------------------------------------------------------------------------
// Locations of the corpus and the comparison tools.
// ---------------------------------------------------------------------------------------------

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Says why a test cannot run. Under `KUBECTL_GITOPS_REQUIRE_TOOLS=1` (set by
/// `scripts/test`, which CI runs) that is a failure, so the fidelity tests can never be
/// skipped silently where they are supposed to run.
fn skip(why: String) {
    assert!(
        env::var_os("KUBECTL_GITOPS_REQUIRE_TOOLS").is_none(),
        "{why} (KUBECTL_GITOPS_REQUIRE_TOOLS is set, so this is a failure)"
    );
    eprintln!("{why}");
}

/// The corpus root, or `None` (after saying why on stderr) when it is not there.
fn corpus_root(test: &str) -> Option<PathBuf> {
    let root = match env::var_os("KUBECTL_GITOPS_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => manifest_dir().join("tests/corpus"),
    };
    if root.is_dir() {
        Some(root)
    } else {
        skip(format!(
            "{test}: SKIPPED: no corpus at {} (set KUBECTL_GITOPS_CORPUS to a corpus directory)",
            root.display()
        ));
        None
    }
}

/// The comparison tools (`yaml-equiv` and the Kubernetes reader `k8s-yaml`), in `tests/tools`.
struct Tools {
    yaml_equiv: PathBuf,
    k8s_yaml: PathBuf,
}

/// The tools, with the Kubernetes reader built (once, under a lock: `tests/tools/k8s-yaml/build`)
/// and PyYAML importable; `None` after saying why when either cannot run.
fn tools(test: &str) -> Option<Tools> {
    let dir = manifest_dir().join("tests/tools");
    let build = Command::new(dir.join("k8s-yaml/build")).output();
    let k8s_yaml = match build {
        Ok(out) if out.status.success() => PathBuf::from(text(&out.stdout).trim_end()),
        Ok(out) => {
            skip(format!(
                "{test}: SKIPPED: the Kubernetes reader cannot be built: {}",
                text(&out.stderr).trim_end()
            ));
            return None;
        }
        Err(e) => {
            skip(format!(
                "{test}: SKIPPED: cannot run tests/tools/k8s-yaml/build: {e}"
            ));
            return None;
        }
    };
    let pyyaml = Command::new("python3").args(["-c", "import yaml"]).output();
    if !pyyaml.is_ok_and(|o| o.status.success()) {
        skip(format!(
            "{test}: SKIPPED: python3 with PyYAML is needed by tests/tools/yaml-equiv"
        ));
        return None;
    }
    Some(Tools {
        yaml_equiv: dir.join("yaml-equiv"),
        k8s_yaml,
    })
}

/// Every `*.yaml` / `*.yml` (and `*.json`, which yaml-equiv reads as well, so that both sides of
/// a directory comparison hold the same files) below `root`, as relative paths in byte order.
/// Hidden folders are skipped, as yaml-equiv skips them.
fn manifest_files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !(e.file_type().is_dir() && is_hidden(e.file_name())))
        .map(Result::unwrap)
        .filter(|e| e.path().is_file())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.ends_with(".yaml") || name.ends_with(".yml") || name.ends_with(".json")
        })
        .map(|e| e.path().strip_prefix(root).unwrap().to_path_buf())
        .collect();
    files.sort_by(|a, b| {
        a.as_os_str()
            .as_encoded_bytes()
            .cmp(b.as_os_str().as_encoded_bytes())
    });
    files
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_string_lossy().starts_with('.')
}

// ---------------------------------------------------------------------------------------------
// Running things.
// ---------------------------------------------------------------------------------------------

/// `kubectl-gitops render PATH ARGS...`, with every `GITOPS_*` and `ARGOCD_*` variable removed
/// from the environment so that a developer's shell or a CI runner cannot add identity.
fn render(path: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("render").arg(path).args(args);
    for (key, _) in env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("GITOPS_") || key_text.starts_with("ARGOCD_") {
            cmd.env_remove(&key);
        }
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {BIN}: {e}"))
}

/// Applies `f` to every item on one thread per core; results come back in input order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(1, items.len().max(1));
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<R>> = items.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(i, item)));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            for (i, result) in worker.join().unwrap() {
                results[i] = Some(result);
            }
        }
    });
    results.into_iter().map(Option::unwrap).collect()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn first_line(bytes: &[u8]) -> String {
    text(bytes).lines().next().unwrap_or("").to_string()
}

/// Writes `bytes` to `path`, creating its parent folders.
fn write(path: &Path, bytes: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// The result of one yaml-equiv run: its full output (for assertion messages), its summary
/// line, and, when it found the two sides equal, the number of documents it compared.
struct Equiv {
    output: String,
    summary: String,
    equal_documents: Option<usize>,
}

/// `yaml-equiv --schema SCHEMA EXPECTED ACTUAL`. Equal means exit 0 and a last line
/// `equal: N documents compared`.
fn yaml_equiv(tools: &Tools, schema: &str, expected: &Path, actual: &Path) -> Equiv {
    let out = Command::new(&tools.yaml_equiv)
        .args(["--schema", schema, "--max", "40"])
        .arg(expected)
        .arg(actual)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tools.yaml_equiv.display()));
    let stdout = text(&out.stdout);
    let summary = stdout.lines().last().unwrap_or("").to_string();
    let equal_documents = summary
        .strip_prefix("equal: ")
        .and_then(|rest| rest.strip_suffix(" documents compared"))
        .and_then(|n| n.parse().ok())
        .filter(|_| out.status.success());
    Equiv {
        output: format!(
            "$ yaml-equiv --schema {schema} {} {}\n(exit {:?})\n{stdout}{}",
            expected.display(),
            actual.display(),
            out.status.code(),
            text(&out.stderr)
        ),
        summary,
        equal_documents,
    }
}

/// The non-empty documents of `files` as the Kubernetes client libraries read them: one JSON
/// text per document, from `tests/tools/k8s-yaml` (k8s.io/apimachinery's document splitting
/// and sigs.k8s.io/yaml's YAMLToJSON). Its stdout is split on "\n" only: a string may hold a raw
/// NEL (U+0085) or other characters that a general "lines" function would split on.
fn k8s_documents(tools: &Tools, files: &[PathBuf]) -> Vec<String> {
    let out = Command::new(&tools.k8s_yaml)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tools.k8s_yaml.display()));
    assert!(
        out.status.success(),
        "k8s-yaml failed on {files:?} (exit {:?}):\n{}",
        out.status.code(),
        text(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("k8s-yaml prints UTF-8");
    let mut docs = Vec::new();
    for line in stdout.split('\n').filter(|line| !line.is_empty()) {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("k8s-yaml printed a line that is not JSON ({e}): {line}"));
        if let Some(map) = value.as_object() {
            // `{"__file__": NAME}` separates files when several are given.
            if map.len() == 1 && map.contains_key("__file__") {
                continue;
            }
            if let Some(error) = map.get("__error__") {
                panic!("k8s-yaml could not read a document of {files:?}: {error}");
            }
        }
        // `null` is an empty document; yaml-equiv drops those too.
        if !value.is_null() {
            docs.push(line.to_string());
        }
    }
    docs
}

/// [`k8s_documents`] of several files at once (one reader run), grouped per file.
fn k8s_documents_per_file(tools: &Tools, files: &[PathBuf]) -> Vec<Vec<Value>> {
    let out = Command::new(&tools.k8s_yaml)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tools.k8s_yaml.display()));
    assert!(
        out.status.success(),
        "k8s-yaml failed: {}",
        text(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("k8s-yaml prints UTF-8");
    let mut per_file: Vec<Vec<Value>> = Vec::new();
    for line in stdout.split('\n').filter(|line| !line.is_empty()) {
        let value: Value = serde_json::from_str(line).unwrap();
        if let Some(map) = value.as_object() {
            if map.len() == 1 && map.contains_key("__file__") {
                per_file.push(Vec::new());
                continue;
            }
        }
        if !value.is_null() {
            if let Some(docs) = per_file.last_mut() {
                docs.push(value);
            }
        }
    }
    if files.len() == 1 && per_file.is_empty() {
        per_file.push(Vec::new());
    }
    per_file
}

/// The non-empty documents of `files` as yaml-equiv's YAML 1.1 or 1.2 reader reads them, through
/// `tests/support/yaml_views.py` (which imports yaml-equiv's own loaders).
fn pyyaml_documents(tools: &Tools, schema: &str, files: &[PathBuf]) -> Vec<Value> {
    let helper = manifest_dir().join("tests/support/yaml_views.py");
    let out = Command::new("python3")
        .arg(&helper)
        .arg(&tools.yaml_equiv)
        .arg(schema)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", helper.display()));
    assert!(
        out.status.success(),
        "{} failed on {files:?} (exit {:?}):\n{}",
        helper.display(),
        out.status.code(),
        text(&out.stderr)
    );
    text(&out.stdout)
        .split('\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Every difference between two JSON values, one line each, with its path (`.a.b[2]`).
fn json_diff(expected: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                match b.get(key) {
                    Some(other) => json_diff(value, other, &format!("{path}.{key}"), out),
                    None => out.push(format!("{path}.{key}: missing in actual")),
                }
            }
            for (key, value) in b {
                if !a.contains_key(key) {
                    out.push(format!("{path}.{key}: only in actual ({value})"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: {} items expected, {} actual",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                json_diff(x, y, &format!("{path}[{i}]"), out);
            }
        }
        _ if expected != actual => {
            out.push(format!("{path}: expected {expected}, actual {actual}"))
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Pass-through fidelity over the corpus.
// ---------------------------------------------------------------------------------------------

#[test]
fn corpus_pass_through_is_lossless() {
    const TEST: &str = "corpus_pass_through_is_lossless";
    let (Some(corpus), Some(tools)) = (corpus_root(TEST), tools(TEST)) else {
        return;
    };
    let started = Instant::now();
    let files = manifest_files(&corpus);
    assert!(!files.is_empty(), "no manifests below {}", corpus.display());

    // 1. Every file alone: the output is the file, byte for byte (DESIGN.md §6).
    let results = par_map(&files, |_, rel| {
        let source = corpus.join(rel);
        let out = render(&source, &[]);
        if !out.status.success() {
            return Some(format!(
                "{} (exit {:?}): {}",
                source.display(),
                out.status.code(),
                text(&out.stderr).trim_end()
            ));
        }
        // A file with no objects (only comments) renders to nothing, with a warning.
        let empty = text(&out.stderr).contains("no Kubernetes objects found");
        let bytes = if empty {
            Vec::new()
        } else {
            fs::read(&source).unwrap()
        };
        (out.stdout != bytes).then(|| {
            format!(
                "{}: pass-through differs from the file: {}",
                source.display(),
                first_difference(&bytes, &out.stdout)
            )
        })
    });
    let failures: Vec<&String> = results.iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus files are not rendered byte for byte without identity:\n{}",
        failures.len(),
        files.len(),
        failures
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let rendered_in = started.elapsed();

    // 2. One reading: what the tool believes of every file (`-o jsonl`, typed from its tree)
    // is what the Kubernetes reader reads from it, document for document.
    let believed = par_map(&files, |_, rel| {
        let out = render(&corpus.join(rel), &["-o", "jsonl"]);
        text(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>()
    });
    let paths: Vec<PathBuf> = files.iter().map(|f| corpus.join(f)).collect();
    let mut read = Vec::new();
    for chunk in paths.chunks(200) {
        read.extend(k8s_documents_per_file(&tools, chunk));
    }
    let misread: Vec<String> = files
        .iter()
        .zip(believed.iter().zip(&read))
        .filter(|(_, (ours, theirs))| ours != theirs)
        .map(|(f, _)| f.display().to_string())
        .collect();
    assert!(
        misread.is_empty(),
        "the tool reads these files differently from Kubernetes:\n{}",
        misread.join("\n")
    );
    let documents: usize = believed.iter().map(Vec::len).sum();

    // 3. Each repository as one directory: files joined as DESIGN.md §4.1 says (a line break
    // where one is missing, a `---` line unless the next file starts with one), read by
    // Kubernetes exactly as the files are read one by one. (YAML 1.1 and 1.2 readers would see
    // a final "\n" appear on a `|` block that ends a file without a line break: Kubernetes'
    // splitter already reads it with one, so only the Kubernetes reader is the judge here.)
    let scratch = tempfile::tempdir().unwrap();
    let repos: Vec<PathBuf> = fs::read_dir(&corpus)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    let mut repos = repos;
    repos.sort();
    let joined = par_map(&repos, |i, repo| {
        let out = render(repo, &[]);
        assert!(
            out.status.success(),
            "render {} failed: {}",
            repo.display(),
            text(&out.stderr)
        );
        let path = scratch.path().join(format!("repo-{i}.yaml"));
        write(&path, &out.stdout);
        let equiv = yaml_equiv(&tools, "k8s", repo, &path);
        (repo.clone(), equiv)
    });
    let differences: Vec<String> = joined
        .iter()
        .filter(|(_, equiv)| equiv.equal_documents.is_none_or(|n| n == 0))
        .map(|(repo, equiv)| format!("{}:\n{}", repo.display(), equiv.output))
        .collect();
    assert!(
        differences.is_empty(),
        "a repository rendered as one directory reads differently from its files:\n{}",
        differences.join("\n")
    );
    let joined_documents: usize = joined.iter().filter_map(|(_, e)| e.equal_documents).sum();
    eprintln!(
        "{TEST}: {} files byte for byte in {:.1?}, {documents} documents read as Kubernetes \
         reads them; {} repositories joined, {joined_documents} documents equal for \
         Kubernetes; total {:.1?}",
        files.len(),
        rendered_in,
        repos.len(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Duplicate keys and YAML-1.1-only values.
// ---------------------------------------------------------------------------------------------

/// A corpus file with a duplicate mapping key (SOURCES.md, "duplicate keys").
struct Duplicate {
    file: &'static str,
    key: &'static str,
    /// Line and column (1-based) of the second occurrence of the key in the pinned file: where
    /// the warning must point.
    line: usize,
    column: usize,
}

const DUPLICATES: &[Duplicate] = &[
    Duplicate {
        file: "argoproj__argo-workflows/examples/k8s-patch-json-workflow.yaml",
        key: "annotations",
        line: 13,
        column: 3,
    },
    Duplicate {
        file: "crossplane-contrib__provider-kubernetes/examples/cluster/in-composition/composition.yaml",
        key: "patches",
        line: 179,
        column: 7,
    },
    Duplicate {
        file: "crossplane__crossplane/test/e2e/manifests/apiextensions/composition/legacy-propagate-field-removals/setup/functions.yaml",
        key: "name",
        line: 7,
        column: 3,
    },
    Duplicate {
        file: "kubernetes__examples/_archived/openshift-origin/etcd-controller.yaml",
        key: "selector",
        line: 12,
        column: 3,
    },
    Duplicate {
        file: "kubernetes__examples/_archived/openshift-origin/etcd-discovery-controller.yaml",
        key: "selector",
        line: 12,
        column: 3,
    },
    Duplicate {
        file: "kubernetes__examples/_archived/openshift-origin/openshift-controller.yaml",
        key: "selector",
        line: 12,
        column: 3,
    },
    Duplicate {
        // The same value twice, once quoted and once plain: the last text must survive.
        file: "kubernetes__examples/_archived/persistent-volume-provisioning/quobyte/quobyte-admin-secret.yaml",
        key: "type",
        line: 9,
        column: 1,
    },
    Duplicate {
        file: "kubernetes__examples/_archived/volumes/scaleio/sc-pvc.yaml",
        key: "storageClassName",
        line: 12,
        column: 3,
    },
];

/// A line without its indentation and without a leading sequence indicator `- `.
fn content(line: &str) -> &str {
    let line = line.trim();
    line.strip_prefix("- ").unwrap_or(line).trim_start()
}

/// How many lines of `yaml` are exactly `wanted` once [`content`] is applied to both.
fn count_lines(yaml: &str, wanted: &str) -> usize {
    yaml.lines()
        .filter(|l| content(l) == content(wanted))
        .count()
}

/// How many lines of `yaml` start with the mapping key `key` (`key:` then a space or nothing).

// Test 1 proves these files render byte for byte. This test checks the warning and its
// location, and that what the tool believes (`-o jsonl`, typed from its tree) is what the
// Kubernetes reader reads: the last value.
#[test]
fn duplicate_keys_are_reported_and_the_last_value_wins() {
    const TEST: &str = "duplicate_keys_are_reported_and_the_last_value_wins";
    let (Some(corpus), Some(tools)) = (corpus_root(TEST), tools(TEST)) else {
        return;
    };
    let mut checked = 0;
    let mut missing = Vec::new();
    for dup in DUPLICATES {
        let path = corpus.join(dup.file);
        if !path.is_file() {
            missing.push(dup.file);
            continue;
        }
        let source = fs::read_to_string(&path).unwrap();
        // Guard the table itself: the location must point at the key in the source.
        let at = source.lines().nth(dup.line - 1).unwrap_or("");
        assert!(
            at.get(dup.column - 1..)
                .is_some_and(|rest| rest.starts_with(&format!("{}:", dup.key))),
            "test table out of date: {}:{}:{} is {at:?}, not the key {:?}",
            dup.file,
            dup.line,
            dup.column,
            dup.key
        );

        let out = render(&path, &[]);
        let stderr = text(&out.stderr);
        let output = text(&out.stdout);
        assert!(
            out.status.success(),
            "render {} failed (exit {:?}):\n{stderr}",
            path.display(),
            out.status.code()
        );
        let location = format!(
            "{}:{}:{}: warning: duplicate key",
            path.display(),
            dup.line,
            dup.column
        );
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&location) && l.contains(dup.key)),
            "render {}: no warning starting with {location:?} naming {:?} on stderr:\n{stderr}",
            path.display(),
            dup.key
        );
        // The output is the input: the earlier occurrence stays in the text, dead for every
        // reader; what Kubernetes reads is the last value.
        assert_eq!(
            output,
            source,
            "render {}: a pass-through must be the input byte for byte",
            path.display()
        );
        let json = render(&path, &["-o", "jsonl"]);
        let ours: Vec<Value> = text(&json.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let theirs: Vec<Value> = k8s_documents(&tools, std::slice::from_ref(&path))
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(
            ours,
            theirs,
            "render {} -o jsonl: the tool must believe what Kubernetes reads",
            path.display()
        );
        checked += 1;
    }
    eprintln!(
        "{TEST}: {checked} of {} files with duplicate keys checked",
        DUPLICATES.len()
    );
    if !missing.is_empty() {
        eprintln!(
            "{TEST}: SKIPPED, not in this corpus: {}",
            missing.join(", ")
        );
    }
}

// YAML-1.1-only values: all of them are covered by test 1's three-reader comparison. This one
// pins the best-known hazard by its text: a plain `0755` (octal 493 for YAML 1.1 and Kubernetes,
// decimal 755 for YAML 1.2) must be written back as the same plain `0755`, never quoted,
// converted or "normalized".
#[test]
fn yaml_1_1_plain_octal_keeps_its_text() {
    const TEST: &str = "yaml_1_1_plain_octal_keeps_its_text";
    let Some(corpus) = corpus_root(TEST) else {
        return;
    };
    let file = "argoproj__argo-workflows/examples/arguments-artifacts.yaml";
    let path = corpus.join(file);
    if !path.is_file() {
        eprintln!("{TEST}: SKIPPED: {file} is not in this corpus");
        return;
    }
    let source = fs::read_to_string(&path).unwrap();
    let out = render(&path, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let output = text(&out.stdout);
    let line = "mode: 0755";
    assert_eq!(count_lines(&source, line), 1, "test out of date: {file}");
    assert_eq!(
        count_lines(&output, line),
        1,
        "render {}: the plain `{line}` must stay as written; output:\n{output}",
        path.display()
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Previews over the corpus: rendered or refused with a location; deterministic; idempotent.
// ---------------------------------------------------------------------------------------------

enum Preview {
    /// Rendered: the output (in the scratch file), what the tool believed (`-o jsonl`, one
    /// document per line), and the input's comment lines missing from the output.
    Rendered {
        believed: String,
        comments_lost: Vec<String>,
        /// The kind of every warning the render printed ([`warning_kind`]).
        warnings: Vec<&'static str>,
    },
    /// The refusal message, without its location.
    Refused(String),
    /// A broken contract, described.
    Broken(String),
}

const PREVIEW_ARGS: &[&str] = &["--pr", "7", "--app", "corpus"];

/// Checks one corpus file under `PREVIEW_ARGS`; `scratch` is a file the output may be written to.
fn check_preview(path: &Path, scratch: &Path) -> Preview {
    let shown = path.display().to_string();
    let first = render(path, PREVIEW_ARGS);
    match first.status.code() {
        Some(0) => {}
        Some(2) => {
            if !first.stdout.is_empty() {
                return Preview::Broken(format!(
                    "{shown}: exit 2 with {} bytes on stdout (it must be empty)",
                    first.stdout.len()
                ));
            }
            let line = first_line(&first.stderr);
            return match located_message(&line, &shown) {
                Some(message) if !message.starts_with("warning:") => {
                    Preview::Refused(message.to_string())
                }
                _ => Preview::Broken(format!(
                    "{shown}: exit 2, but the first stderr line is not `{shown}:LINE:COL: ERROR`: \
                     {line:?}"
                )),
            };
        }
        code => {
            return Preview::Broken(format!(
                "{shown}: exit {code:?} (only 0 and 2 are allowed): {}",
                text(&first.stderr).trim_end()
            ));
        }
    }

    let second = render(path, PREVIEW_ARGS);
    if second.status.code() != Some(0) || second.stdout != first.stdout {
        return Preview::Broken(format!(
            "{shown}: a second render differs from the first (exit {:?}); {}",
            second.status.code(),
            first_difference(&first.stdout, &second.stdout)
        ));
    }

    let mut json_args = PREVIEW_ARGS.to_vec();
    json_args.extend(["-o", "jsonl"]);
    let json = render(path, &json_args);
    if json.status.code() != Some(0) {
        return Preview::Broken(format!(
            "{shown}: -o jsonl fails where -o yaml renders: {}",
            text(&json.stderr).trim_end()
        ));
    }
    // Every comment of the input is in the output, in order.
    let source = fs::read_to_string(path).unwrap();
    let output = text(&first.stdout);
    let mut out_lines = output.lines().map(str::trim);
    // (A file without objects renders to nothing: there is no text to keep its comments in.)
    let comments_lost: Vec<String> = source
        .lines()
        .filter(|_| !output.is_empty())
        .map(str::trim)
        .filter(|l| l.starts_with('#'))
        .filter(|c| !out_lines.any(|o| o == *c))
        .map(str::to_string)
        .collect();

    fs::write(scratch, &first.stdout).unwrap();
    let again = render(scratch, PREVIEW_ARGS);
    if again.status.code() != Some(0) || again.stdout != first.stdout {
        return Preview::Broken(format!(
            "{shown}: rendering the output again with the same identity changes it \
             (`{BIN} render {} {}`, exit {:?}): {}; stderr: {}",
            scratch.display(),
            PREVIEW_ARGS.join(" "),
            again.status.code(),
            first_difference(&first.stdout, &again.stdout),
            text(&again.stderr).trim_end()
        ));
    }
    Preview::Rendered {
        believed: text(&json.stdout),
        comments_lost,
        warnings: text(&first.stderr)
            .lines()
            .filter(|l| l.contains(": warning: "))
            .map(warning_kind)
            .collect(),
    }
}

/// What a preview's warning is about, to count them (DESIGN.md §4.2, §4.5).
fn warning_kind(line: &str) -> &'static str {
    if line.contains(", the old name of ") {
        "an old name left where a reference sits (the safety net)"
    } else if line.contains("which is not in the input, so it will not exist") {
        "a reference to something not in the input"
    } else if line.contains("does not know whether") {
        "a kind of unknown scope"
    } else if line.contains("wildcard host") {
        "a wildcard host"
    } else if line.contains("which the input holds in several API groups") {
        "an ambiguous reference"
    } else {
        "other"
    }
}

/// `message` when `line` is `<path>:<digits>:<digits>: message`.
fn located_message<'a>(line: &'a str, path: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(path)?.strip_prefix(':')?;
    let (row, rest) = rest.split_once(':')?;
    let (column, message) = rest.split_once(": ")?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(row) && digits(column)).then_some(message)
}

/// The first line at which two outputs differ, for a failure message.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let (a, b) = (text(a), text(b));
    let mut lines = a.split('\n').zip(b.split('\n')).enumerate();
    match lines.find(|(_, (x, y))| x != y) {
        Some((i, (x, y))) => format!("first at output line {}: {x:?} vs {y:?}", i + 1),
        None => format!(
            "one output is a prefix of the other ({} vs {} bytes)",
            a.len(),
            b.len()
        ),
    }
}

/// A short, object-independent form of a refusal message, to count refusals by reason:
/// its words up to the first one that names something (`Kind/name`) or ends a clause.
fn reason(message: &str) -> String {
    let mut words = Vec::new();
    for (i, word) in message.split_whitespace().enumerate() {
        if word.contains('/') {
            if i == 0 {
                continue; // the object the message is about
            }
            break;
        }
        let clause_ends = word.ends_with([',', ':', ';']);
        words.push(word.trim_end_matches([',', ':', ';']));
        if clause_ends || words.len() == 8 {
            break;
        }
    }
    words.join(" ")
}

#[test]
fn corpus_previews_render_or_refuse_with_a_location() {
    const TEST: &str = "corpus_previews_render_or_refuse_with_a_location";
    let (Some(corpus), Some(tools)) = (corpus_root(TEST), tools(TEST)) else {
        return;
    };
    let started = Instant::now();
    let files = manifest_files(&corpus);
    assert!(!files.is_empty(), "no manifests below {}", corpus.display());
    let tmp = tempfile::tempdir().unwrap();
    let scratch = |i: usize| tmp.path().join(format!("{i}.yaml"));
    let results = par_map(&files, |i, rel| {
        check_preview(&corpus.join(rel), &scratch(i))
    });

    let mut rendered = Vec::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut warning_kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut broken = Vec::new();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Preview::Rendered {
                believed,
                comments_lost,
                warnings,
            } => {
                for w in warnings {
                    *warning_kinds.entry(w).or_default() += 1;
                }
                for c in comments_lost {
                    broken.push(format!(
                        "{}: the comment {c:?} is missing from the preview",
                        files[i].display()
                    ));
                }
                rendered.push((i, believed));
            }
            Preview::Refused(message) => *reasons.entry(reason(&message)).or_default() += 1,
            Preview::Broken(problem) => broken.push(problem),
        }
    }
    // One reading: every rendered preview, read by the Kubernetes reader, holds exactly the
    // documents the tool believed it wrote (its `-o jsonl`).
    let outputs: Vec<PathBuf> = rendered.iter().map(|(i, _)| scratch(*i)).collect();
    let mut read = Vec::new();
    for chunk in outputs.chunks(200) {
        read.extend(k8s_documents_per_file(&tools, chunk));
    }
    let mut documents = 0;
    for ((i, believed), theirs) in rendered.iter().zip(&read) {
        let ours: Vec<Value> = believed
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        documents += ours.len();
        if &ours != theirs {
            broken.push(format!(
                "{}: the preview reads differently for Kubernetes than the tool believed",
                files[*i].display()
            ));
        }
    }
    let rendered = rendered.len();
    eprintln!(
        "{TEST}: {rendered} previews read by Kubernetes exactly as the tool believed \
         ({documents} documents), every input comment kept"
    );
    let refused: usize = reasons.values().sum();
    eprintln!(
        "{TEST}: `render FILE {}` over {} files: {rendered} rendered (each twice to the same \
         bytes, and unchanged by a second render of its output), {refused} refused with a \
         location, {} broken; {:.1?}",
        PREVIEW_ARGS.join(" "),
        files.len(),
        broken.len(),
        started.elapsed()
    );
    for (why, count) in &reasons {
        eprintln!("{TEST}:   refused {count:>4}: {why}");
    }
    for (kind, count) in &warning_kinds {
        eprintln!("{TEST}:   warned  {count:>4}: {kind}");
    }
    assert!(
        broken.is_empty(),
        "{} files broke the preview contract:\n{}",
        broken.len(),
        broken.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 4. The tricky-values fixture.
// ---------------------------------------------------------------------------------------------

const PR: &str = "123";
const APP: &str = "tricky";
const SUFFIX: &str = "-pr-123";
const PREVIEW_NAMESPACE: &str = "tricky-pr-123";
const IDENTITY_PREFIX: &str = "kubectl-gitops.io/";

fn fixture_input() -> PathBuf {
    manifest_dir().join("tests/fixtures/tricky-values/input")
}

// yaml-equiv checks YAML 1.1 and 1.2 (`--schema both`); the Kubernetes view is compared here
// from k8s-yaml's output, as JSON text, which also catches number formatting that equal values
// hide and reports differences by path.
#[test]
fn tricky_values_pass_through_unchanged() {
    const TEST: &str = "tricky_values_pass_through_unchanged";
    let Some(tools) = tools(TEST) else {
        return;
    };
    let input = fixture_input();
    let out = render(&input, &[]);
    assert!(
        out.status.success(),
        "render {} failed (exit {:?}):\n{}",
        input.display(),
        out.status.code(),
        text(&out.stderr)
    );
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("output.yaml");
    fs::write(&output, &out.stdout).unwrap();

    let both = yaml_equiv(&tools, "both", &input, &output);
    assert!(
        both.equal_documents.is_some_and(|n| n > 0),
        "pass-through render of the tricky values differs under YAML 1.1 or 1.2:\n{}",
        both.output
    );

    // The Kubernetes view: sigs.k8s.io/yaml marshals maps with sorted keys, so equal documents
    // have equal JSON text; comparing the text also catches number formatting that values hide.
    let inputs: Vec<PathBuf> = manifest_files(&input)
        .iter()
        .map(|r| input.join(r))
        .collect();
    let want = k8s_documents(&tools, &inputs);
    let got = k8s_documents(&tools, std::slice::from_ref(&output));
    let mut problems = Vec::new();
    if want.len() != got.len() {
        problems.push(format!(
            "{} documents expected, {} actual",
            want.len(),
            got.len()
        ));
    }
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        if w != g {
            let mut diff = Vec::new();
            json_diff(
                &serde_json::from_str(w).unwrap(),
                &serde_json::from_str(g).unwrap(),
                "",
                &mut diff,
            );
            if diff.is_empty() {
                diff.push(format!("same values, different JSON text: {w} vs {g}"));
            }
            problems.extend(diff.into_iter().map(|d| format!("document {i}: {d}")));
        }
    }
    assert!(
        problems.is_empty(),
        "pass-through render of the tricky values differs as Kubernetes reads it:\n{}",
        problems.join("\n")
    );
    eprintln!(
        "{TEST}: 1.1+1.2: {}; k8s: equal: {} documents compared",
        both.summary,
        want.len()
    );
}

// A preview may change names (the suffix), set the namespace, add identity labels to metadata,
// pod templates and selectors, and add its Namespace first (DESIGN.md §4.3, §4.6, §4.7); the
// fixture holds no references to rename, and its gitops.yaml only declares its made-up custom
// resource namespaced (a preview refuses kinds of unknown scope), so nothing else may change. The test
// checks each of those changes against its expected value, undoes it, and then requires every
// output document to equal its input document exactly -- under the Kubernetes reader and under
// yaml-equiv's YAML 1.1 and 1.2 readers, so a quoting change that any of them would read
// differently is caught.
#[test]
fn tricky_values_preview_changes_only_identity() {
    const TEST: &str = "tricky_values_preview_changes_only_identity";
    let Some(tools) = tools(TEST) else {
        return;
    };
    let input = fixture_input();
    let args = ["--pr", PR, "--app", APP];
    let out = render(&input, &args);
    assert!(
        out.status.success(),
        "render {} {} failed (exit {:?}):\n{}",
        input.display(),
        args.join(" "),
        out.status.code(),
        text(&out.stderr)
    );
    let tmp = tempfile::tempdir().unwrap();
    let output = tmp.path().join("output.yaml");
    fs::write(&output, &out.stdout).unwrap();
    // The fixture's gitops.yaml (it declares its made-up custom resource namespaced) applies to
    // the output as it did to the input.
    fs::copy(
        input.parent().unwrap().join("gitops.yaml"),
        tmp.path().join("gitops.yaml"),
    )
    .unwrap();

    // Determinism and idempotence, as over the corpus.
    assert_eq!(
        render(&input, &args).stdout,
        out.stdout,
        "a second render differs"
    );
    let again = render(&output, &args);
    assert!(
        again.status.success() && again.stdout == out.stdout,
        "rendering the output again changes it: {}\n{}",
        first_difference(&out.stdout, &again.stdout),
        text(&again.stderr)
    );

    let inputs: Vec<PathBuf> = manifest_files(&input)
        .iter()
        .map(|r| input.join(r))
        .collect();
    let parse = |docs: Vec<String>| -> Vec<Value> {
        docs.iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    };
    let views = [
        (
            "k8s",
            parse(k8s_documents(&tools, &inputs)),
            parse(k8s_documents(&tools, std::slice::from_ref(&output))),
        ),
        (
            "1.1",
            pyyaml_documents(&tools, "1.1", &inputs),
            pyyaml_documents(&tools, "1.1", std::slice::from_ref(&output)),
        ),
        (
            "1.2",
            pyyaml_documents(&tools, "1.2", &inputs),
            pyyaml_documents(&tools, "1.2", std::slice::from_ref(&output)),
        ),
    ];
    let mut problems = Vec::new();
    let mut compared = 0;
    for (view, want, got) in views {
        let mut report = |what: String| problems.push(format!("[{view}] {what}"));
        // The preview's own Namespace comes first; the input has none.
        let Some((namespace, got)) = got.split_first() else {
            report("the output is empty".into());
            continue;
        };
        if namespace["kind"] != "Namespace" || namespace["metadata"]["name"] != PREVIEW_NAMESPACE {
            report(format!(
                "the first document must be Namespace/{PREVIEW_NAMESPACE}, not {namespace}"
            ));
        }
        if want.iter().any(|d| d["kind"] == "Namespace") {
            report("test out of date: the fixture now holds a Namespace".into());
        }
        if want.len() != got.len() {
            report(format!(
                "{} documents expected after the Namespace, {} actual",
                want.len(),
                got.len()
            ));
        }
        for (i, (w, g)) in want.iter().zip(got).enumerate() {
            let mut g = g.clone();
            let mut found = Vec::new();
            undo_preview(w, &mut g, "", &mut found);
            json_diff(w, &g, "", &mut found);
            for problem in found {
                report(format!("document {i} ({}): {problem}", describe(w)));
            }
        }
        compared += want.len();
    }
    assert!(
        problems.is_empty(),
        "`render {} {}` changed more than the identity:\n{}",
        input.display(),
        args.join(" "),
        problems.join("\n")
    );
    eprintln!(
        "{TEST}: {compared} documents (3 readers) equal to the input once the identity is undone; \
         deterministic and idempotent"
    );
}

/// A JSON value for a message, or `nothing`.
fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "nothing".to_string(), Value::to_string)
}

fn describe(doc: &Value) -> String {
    format!(
        "{}/{}",
        doc["kind"].as_str().unwrap_or("?"),
        doc["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Identity labels, as (key without the prefix, value) pairs.
type IdentityLabels = &'static [(&'static str, &'static str)];

/// Checks what a `--pr 123 --app tricky` preview did to one output object `got` (the render of
/// `want`) and undoes it in place, so that what is left must equal `want`. Problems found on the
/// way are pushed to `out`. A `*List` wrapper gets nothing; its items are objects.
fn undo_preview(want: &Value, got: &mut Value, path: &str, out: &mut Vec<String>) {
    let is_list =
        want["kind"].as_str().is_some_and(|k| k.ends_with("List")) && want["items"].is_array();
    if is_list {
        let wanted = want["items"].as_array().unwrap();
        if let Some(items) = got.get_mut("items").and_then(Value::as_array_mut) {
            for (i, (w, g)) in wanted.iter().zip(items.iter_mut()).enumerate() {
                undo_preview(w, g, &format!("{path}.items[{i}]"), out);
            }
        }
        return; // the wrapper itself must be untouched: json_diff checks it
    }
    let Some(meta) = got.get_mut("metadata").and_then(Value::as_object_mut) else {
        out.push(format!("{path}.metadata: missing in actual"));
        return;
    };
    // The namespace: the preview's, on every (namespaced) object of the fixture.
    match meta.remove("namespace") {
        Some(ns) if ns == PREVIEW_NAMESPACE => {}
        other => out.push(format!(
            "{path}.metadata.namespace: expected {PREVIEW_NAMESPACE:?}, actual {}",
            shown(other.as_ref())
        )),
    }
    if want["metadata"].get("namespace").is_some() {
        out.push(format!(
            "{path}: test out of date: the fixture now sets a namespace"
        ));
    }
    // The name: suffixed once (§4.3).
    if let Some(name) = want["metadata"]["name"].as_str() {
        let expected = if name.ends_with(SUFFIX) {
            name.to_string()
        } else {
            format!("{name}{SUFFIX}")
        };
        if meta.get("name").and_then(Value::as_str) == Some(expected.as_str()) {
            meta.insert("name".into(), Value::from(name));
        } else {
            out.push(format!(
                "{path}.metadata.name: expected {expected:?}, actual {}",
                shown(meta.get("name"))
            ));
        }
    }
    // Identity labels: app and pr on metadata and pod templates, pr alone on selectors (§4.7).
    let both: IdentityLabels = &[("app", APP), ("pr", PR)];
    let pr_only: IdentityLabels = &[("pr", PR)];
    let label_maps: [(&[&str], IdentityLabels); 3] = [
        (&["metadata", "labels"], both),
        (&["spec", "template", "metadata", "labels"], both),
        (&["spec", "selector", "matchLabels"], pr_only),
    ];
    for (at, expected) in label_maps {
        let wanted = at.iter().try_fold(want, |v, k| v.get(*k));
        let parent_exists = at[..at.len() - 1]
            .iter()
            .try_fold(&*got, |v, k| v.get(*k))
            .is_some();
        if !parent_exists {
            continue;
        }
        undo_identity_labels(got, at, wanted, expected, path, out);
    }
}

/// Checks that the label map at `at` in `got` carries exactly the identity labels `expected`
/// (keys without their prefix) and removes them; drops the map if the input had none.
fn undo_identity_labels(
    got: &mut Value,
    at: &[&str],
    wanted: Option<&Value>,
    expected: &[(&str, &str)],
    path: &str,
    out: &mut Vec<String>,
) {
    let place = format!("{path}.{}", at.join("."));
    let (last, parents) = at.split_last().unwrap();
    let parent = parents.iter().try_fold(got, |v, k| v.get_mut(*k)).unwrap();
    let Some(labels) = parent.get_mut(*last).and_then(Value::as_object_mut) else {
        out.push(format!("{place}: missing (identity labels expected)"));
        return;
    };
    let identity: serde_json::Map<String, Value> = labels
        .iter()
        .filter(|(k, _)| k.starts_with(IDENTITY_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let expected: serde_json::Map<String, Value> = expected
        .iter()
        .map(|(k, v)| (format!("{IDENTITY_PREFIX}{k}"), Value::from(*v)))
        .collect();
    if identity != expected {
        out.push(format!(
            "{place}: identity labels expected {}, actual {}",
            Value::Object(expected),
            Value::Object(identity)
        ));
    }
    labels.retain(|k, _| !k.starts_with(IDENTITY_PREFIX));
    if labels.is_empty() && wanted.is_none() {
        parent.as_object_mut().unwrap().remove(*last);
    }
}

// ---------------------------------------------------------------------------------------------
// 5. The renderer of new text: parse -> render anew -> parse gives the same tree.
// ---------------------------------------------------------------------------------------------

/// What the program writes itself (new subtrees, expanded aliases, `--out-dir` List items) goes
/// through `yaml::emit`. Rendering every corpus document anew must read back as the same
/// document (typed as Kubernetes types it), in one document, and render the same again.
#[test]
fn fresh_rendering_round_trips_over_the_corpus() {
    use kubectl_gitops::yaml::{emit, json, parse};
    const TEST: &str = "fresh_rendering_round_trips_over_the_corpus";
    let Some(corpus) = corpus_root(TEST) else {
        return;
    };
    let files = manifest_files(&corpus);
    let limits = parse::Limits::default();
    let problems = par_map(&files, |_, rel| {
        let src = fs::read_to_string(corpus.join(rel)).unwrap();
        let stream = parse::parse_stream(&src, &limits).unwrap();
        let mut problems = Vec::new();
        for (d, doc) in stream.docs.iter().enumerate() {
            let mut once = String::new();
            emit::emit_document(&mut once, &doc.root);
            let back = match parse::parse_stream(&once, &limits) {
                Ok(s) if s.docs.len() == 1 => s.docs.into_iter().next().unwrap().root,
                other => {
                    problems.push(format!("{}#{d}: renders to {other:?}", rel.display()));
                    continue;
                }
            };
            if json::to_json(&back) != json::to_json(&doc.root) {
                problems.push(format!("{}#{d}: reads back differently", rel.display()));
            }
            let mut twice = String::new();
            emit::emit_document(&mut twice, &back);
            if twice != once {
                problems.push(format!("{}#{d}: not stable", rel.display()));
            }
        }
        problems
    });
    let problems: Vec<String> = problems.into_iter().flatten().collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
