//! `kubectl-gitops check`: every rule against a fixture that triggers it and a fixed variant
//! that must not, the flags, and the whole shared corpus.
//!
//! # Fixtures
//! Every directory `tests/check/<CODE>-<rule>/<case>/` (and `tests/check/flags/<case>/`)
//! holds `args`, one command line after `kubectl-gitops`, run from the repository root as
//! `tests/golden.rs` runs its cases; usually it checks the case directory itself, whose
//! `*.yaml` files (and gitops.yaml) are the input. Beside it: `expected.out` (stdout, possibly
//! empty), `expected.exit` (the exit code) and `expected.err` (stderr; absent means empty).
//! A case named `<what>-fixed` is `<what>` with the problem fixed, and must not report the
//! rule's code. `UPDATE_GOLDEN=1 cargo test --test check` rewrites the expectations; the
//! assertions written in the tests below (which codes, how many, where) still hold the
//! behaviour, so a wrong output cannot be blessed by accident.
//!
//! Every run must also be well formed: stdout only `path:line:col: KG0dd message` lines about
//! paths that exist, sorted and without duplicates; exit 1 exactly when there are findings;
//! exit 2 with an empty stdout.
//!
//! Cases listed in [`BUG_CASES`] would state behaviour the rule's documentation and issue 4
//! ask for that the program does not have yet (no golden files, `#[ignore = "bug: ..."]`
//! tests); the list is empty.
//!
//! # Corpus
//! Over `tests/corpus` (or `$KUBECTL_GITOPS_CORPUS`): `check` on every repository and on
//! every Crossplane file never fails to run, and its output is well formed (a per-code count
//! table goes to stderr: `cargo test --test check -- --nocapture`); and every claim and
//! composite resource of the Crossplane material renders in a preview with consistent names
//! and the right scope, alone and together with the XRD that defines it.

#![allow(clippy::unwrap_used)]
// Counts, tables and skip reasons on stderr are part of what these tests report.
#![allow(clippy::print_stderr)]

#[path = "support/check_crossplane.rs"]
mod check_crossplane;
#[path = "support/check_harness.rs"]
mod check_harness;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use check_crossplane::{Candidate, Role, Xrd};
use check_harness::{Finding, Run, root};

// ---------------------------------------------------------------------------------------------
// Fixture cases.
// ---------------------------------------------------------------------------------------------

const CASES_DIR: &str = "tests/check";

/// Every case directory, relative to `tests/check`. A directory with `args` that is not listed
/// here fails `every_case_directory_is_listed`.
const CASES: &[&str] = &[
    "KG001-name-too-long/long-preview-namespace",
    "KG001-name-too-long/long-preview-namespace-fixed",
    "KG001-name-too-long/long-preview-namespace-without-gitops-yaml",
    "KG001-name-too-long/long-service",
    "KG001-name-too-long/long-service-fixed",
    "KG001-name-too-long/long-service-max-pr-9",
    "KG001-name-too-long/placeholder-name",
    "KG001-name-too-long/placeholder-name-fixed",
    "KG001-name-too-long/rbac-colon-names",
    "KG001-name-too-long/subdomain-with-a-long-label",
    "KG002-shared-connection-secret/placeholder-secret",
    "KG002-shared-connection-secret/placeholder-secret-fixed",
    "KG002-shared-connection-secret/two-claims",
    "KG002-shared-connection-secret/two-claims-fixed",
    "KG003-connection-secret-other-namespace/hard-coded-namespaces",
    "KG003-connection-secret-other-namespace/hard-coded-namespaces-env-without-gitops-yaml",
    "KG003-connection-secret-other-namespace/hard-coded-namespaces-fixed",
    "KG003-connection-secret-other-namespace/hard-coded-namespaces-namespace-flag",
    "KG003-connection-secret-other-namespace/pattern-2",
    "KG003-connection-secret-other-namespace/pattern-2-fixed",
    "KG004-dangling-reference/app-wide-view",
    "KG004-dangling-reference/gateway-shim",
    "KG004-dangling-reference/gateway-tls",
    "KG004-dangling-reference/ingress-shim",
    "KG004-dangling-reference/ingress-tls",
    "KG004-dangling-reference/ingress-tls-annotated",
    "KG004-dangling-reference/ingress-tls-annotated-label-prefix",
    "KG004-dangling-reference/ingress-tls-annotated-other-codes",
    "KG004-dangling-reference/ingress-tls-fixed",
    "KG004-dangling-reference/ingress-tls-ignore-flag",
    "KG004-dangling-reference/job-creates-secret",
    "KG004-dangling-reference/job-reads-secret",
    "KG004-dangling-reference/produces-annotation",
    "KG005-hard-coded-environment/fixed-api-names",
    "KG005-hard-coded-environment/gitops-environment-names",
    "KG005-hard-coded-environment/written",
    "KG005-hard-coded-environment/written-fixed",
    "KG006-ambiguous-composition-selector/per-environment",
    "KG006-ambiguous-composition-selector/per-environment-all-environments",
    "KG006-ambiguous-composition-selector/per-environment-env-dev",
    "KG006-ambiguous-composition-selector/per-environment-fixed",
    "KG006-ambiguous-composition-selector/v2-composite",
    "KG006-ambiguous-composition-selector/without-xrd-other-type",
    "KG006-ambiguous-composition-selector/xrd-selector",
    "KG006-ambiguous-composition-selector/xrd-selector-fixed",
    "KG007-preview-cluster-scoped/cluster-role",
    "KG007-preview-cluster-scoped/cluster-role-fixed",
    "KG007-preview-cluster-scoped/namespace-always-refused",
    "KG008-label-tracking-with-claims/argocd-cm-annotation",
    "KG008-label-tracking-with-claims/argocd-cm-label",
    "KG008-label-tracking-with-claims/argocd-cm-label-tracking-flag-annotation",
    "KG008-label-tracking-with-claims/argocd-flag-label",
    "KG008-label-tracking-with-claims/tracking-flag-label",
    "KG009-service-dns-in-values/image-reference",
    "KG009-service-dns-in-values/plain-dns",
    "KG009-service-dns-in-values/plain-dns-fixed",
    "KG009-service-dns-in-values/telemetry-service-name",
    "KG010-collision/preview-suffix",
    "KG010-collision/preview-suffix-fixed",
    "KG010-collision/roles",
    "KG010-collision/roles-fixed",
    "KG011-application-fails/argocd-directory-with-other-files",
    "KG011-application-fails/deploys-nothing-under-path",
    "KG011-application-fails/matrix-pull-requests",
    "KG011-application-fails/matrix-pull-requests-fixed",
    "KG011-application-fails/seed-directory-sources",
    "KG011-application-fails/seed-directory-sources-fixed",
    "KG011-application-fails/source-folder-picked-up",
    "KG011-application-fails/source-folder-picked-up-fixed",
    "KG012-unfollowed-reference/widget-backend",
    "KG012-unfollowed-reference/widget-backend-fixed",
    "flags/env-not-in-gitops-yaml",
    "flags/ignore-lowercase-code",
    "flags/ignore-unknown-code",
    "flags/max-pr-not-a-number",
    "flags/missing-path",
    "flags/not-a-manifest",
    "flags/rules",
    "flags/stdin-path",
    "flags/tracking-method-unknown",
];

/// Cases that describe behaviour the program does not have yet: they keep their expectation
/// in their test and have no golden files. None at the moment.
const BUG_CASES: &[&str] = &[];

/// One case's run and its findings.
struct Outcome {
    case: String,
    run: Run,
    findings: Vec<Finding>,
}

impl Outcome {
    fn context(&self) -> String {
        format!(
            "case {} (exit {:?})\n--- stdout\n{}--- stderr\n{}",
            self.case, self.run.code, self.run.stdout, self.run.stderr
        )
    }

    fn exit(&self, code: i32) -> &Self {
        assert_eq!(self.run.code, Some(code), "{}", self.context());
        self
    }

    fn of(&self, code: &str) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.code == code).collect()
    }

    /// Exactly `n` findings of `code`.
    fn count(&self, code: &str, n: usize) -> &Self {
        assert_eq!(
            self.of(code).len(),
            n,
            "want {n} {code} findings\n{}",
            self.context()
        );
        self
    }

    /// No finding of another code than `codes`.
    fn only(&self, codes: &[&str]) -> &Self {
        for f in &self.findings {
            assert!(
                codes.contains(&f.code.as_str()),
                "unexpected {} at {}\n{}",
                f.code,
                f.at(),
                self.context()
            );
        }
        self
    }

    /// Every finding of `code` mentions `needle`.
    fn all_say(&self, code: &str, needle: &str) -> &Self {
        for f in self.of(code) {
            assert!(
                f.msg.contains(needle),
                "{code} at {} does not say {needle:?}\n{}",
                f.at(),
                self.context()
            );
        }
        self
    }

    /// Some finding of `code` is at `at` (`file-suffix:line:col`) and mentions `needle`.
    fn has(&self, code: &str, at: &str, needle: &str) -> &Self {
        assert!(
            self.of(code)
                .iter()
                .any(|f| f.at().ends_with(at) && f.msg.contains(needle)),
            "no {code} at ...{at} saying {needle:?}\n{}",
            self.context()
        );
        self
    }

    /// No finding mentions `needle`.
    fn never_says(&self, needle: &str) -> &Self {
        for f in &self.findings {
            assert!(
                !f.msg.contains(needle),
                "{} at {} mentions {needle:?}\n{}",
                f.code,
                f.at(),
                self.context()
            );
        }
        self
    }

    /// Exit 0 and nothing on stdout.
    fn clean(&self) -> &Self {
        self.exit(0);
        assert!(self.run.stdout.is_empty(), "{}", self.context());
        self
    }

    /// Exit 2, nothing on stdout, and a first stderr line that mentions `needle`.
    fn refused(&self, needle: &str) -> &Self {
        self.exit(2);
        let first = self.run.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains(needle),
            "first stderr line does not mention {needle:?}\n{}",
            self.context()
        );
        self
    }
}

fn read_args(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// What is wrong with a run's form, whatever the case: stdout holds only well-formed finding
/// lines about existing paths, sorted, without duplicates; exit 1 exactly when there are
/// findings; on exit 2 stdout is empty and stderr says why.
fn form_problems(args: &[String], r: &Run) -> (Vec<Finding>, Vec<String>) {
    let mut problems = Vec::new();
    let mut findings = Vec::new();
    if r.timed_out {
        problems.push(format!("timed out after {:?}", r.elapsed));
    }
    if args.iter().any(|a| a == "--rules") {
        return (findings, problems);
    }
    for line in r.stdout.lines() {
        match check_harness::parse_finding(line) {
            Some(f) => {
                let p = Path::new(&f.path);
                let p = if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    root().join(p)
                };
                if !p.is_file() {
                    problems.push(format!(
                        "finding located in a file that does not exist: {line}"
                    ));
                }
                if f.line == 0 || f.col == 0 {
                    problems.push(format!("line and column are 1-based: {line}"));
                }
                findings.push(f);
            }
            None => problems.push(format!("not a finding line: {line}")),
        }
    }
    let keys: Vec<(&str, u32, u32, &str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f.path.as_str(),
                f.line,
                f.col,
                f.code.as_str(),
                f.msg.as_str(),
            )
        })
        .collect();
    if keys.windows(2).any(|w| w[0] >= w[1]) {
        problems.push("findings are not sorted and unique".into());
    }
    match r.code {
        Some(0) if !findings.is_empty() => problems.push("exit 0 with findings".into()),
        Some(1) if findings.is_empty() => problems.push("exit 1 without findings".into()),
        Some(2) => {
            if !r.stdout.is_empty() {
                problems.push("exit 2 with something on stdout".into());
            }
            if r.stderr.lines().next().unwrap_or("").trim().is_empty() {
                problems.push("exit 2 without an error on stderr's first line".into());
            }
        }
        Some(0 | 1) => {}
        other => problems.push(format!("exit {other:?}: only 0, 1 and 2 are allowed")),
    }
    (findings, problems)
}

/// Runs the case `dir` (relative to `tests/check`), compares it with its golden files (unless
/// it is a bug case) and checks the form of its output.
fn case(dir: &str) -> Outcome {
    assert!(CASES.contains(&dir), "{dir} is not listed in CASES");
    let base = root().join(CASES_DIR).join(dir);
    let args = read_args(&base.join("args"));
    let r = check_harness::run(&args);
    let (findings, mut failures) = form_problems(&args, &r);
    if !BUG_CASES.contains(&dir) {
        let code = r.code.map_or("killed".to_string(), |c| c.to_string());
        check_harness::check_or_update(&base.join("expected.out"), &r.stdout, true, &mut failures);
        check_harness::check_or_update(&base.join("expected.err"), &r.stderr, false, &mut failures);
        check_harness::check_or_update(
            &base.join("expected.exit"),
            &format!("{code}\n"),
            true,
            &mut failures,
        );
    }
    let outcome = Outcome {
        case: dir.to_string(),
        run: r,
        findings,
    };
    assert!(
        failures.is_empty(),
        "{}\n\n{}",
        failures.join("\n"),
        outcome.context()
    );
    outcome
}

#[test]
fn every_case_directory_is_listed() {
    let mut on_disk = Vec::new();
    for e in walkdir::WalkDir::new(root().join(CASES_DIR)) {
        let e = e.unwrap();
        if e.file_name() == "args" {
            let dir = e.path().parent().unwrap();
            let rel = dir.strip_prefix(root().join(CASES_DIR)).unwrap();
            on_disk.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    on_disk.sort();
    let mut listed: Vec<String> = CASES.iter().map(|s| (*s).to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "tests/check/*/*/args and CASES differ");
    for b in BUG_CASES {
        assert!(CASES.contains(b), "bug case {b} is not in CASES");
        let dir = root().join(CASES_DIR).join(b);
        assert!(
            !dir.join("expected.out").exists(),
            "{b} is a bug case: its expectation is in its test, not in golden files"
        );
    }
    // Every rule has a fixture directory, named after its code.
    for n in 1..=12 {
        let code = format!("KG{n:03}-");
        assert!(
            listed.iter().any(|c| c.starts_with(&code)),
            "no fixture for {code}"
        );
    }
}

// KG001 -----------------------------------------------------------------------------------------

#[test]
fn kg001_placeholder_name_is_invalid_as_written() {
    case("KG001-name-too-long/placeholder-name")
        .exit(1)
        .count("KG001", 1)
        .has(
            "KG001",
            "placeholder-name/database.yaml:6:9",
            "Service/${APP}-db",
        )
        .all_say("KG001", "RFC 1035 label")
        // The StatefulSet's serviceName names the Service as it should be called.
        .only(&["KG001", "KG004"]);
    case("KG001-name-too-long/placeholder-name-fixed").clean();
}

/// The name a finding says previews shorten a name to.
fn shortened(f: &Finding) -> &str {
    let rest = f
        .msg
        .split("previews shorten it to ")
        .nth(1)
        .unwrap_or_else(|| panic!("no shortened name in {}", f.msg));
    rest.split([' ', ';', ',']).next().unwrap_or(rest)
}

#[test]
fn kg001_service_too_long_with_the_preview_suffix() {
    let o = case("KG001-name-too-long/long-service");
    o.exit(1)
        .count("KG001", 1)
        .only(&["KG001"])
        .has(
            "KG001",
            "long-service/settlement.yaml:6:9",
            "with the preview suffix -pr-999999 the name has 66 characters, over the 63 a Service allows",
        );
    let short = shortened(o.of("KG001")[0]);
    assert!(
        short.len() <= 63 && short.ends_with("-pr-999999"),
        "{short}"
    );
    // A smaller largest pull request number fits: 56 + "-pr-9".
    case("KG001-name-too-long/long-service-max-pr-9").clean();
    case("KG001-name-too-long/long-service-fixed").clean();
}

#[test]
fn kg001_preview_namespace_too_long() {
    let o = case("KG001-name-too-long/long-preview-namespace");
    o.exit(1)
        .count("KG001", 1)
        .only(&["KG001"])
        .has(
            "KG001",
            "long-preview-namespace/gitops.yaml:1:1",
            "the preview namespace payments-settlement-reconciliation-service-backend-api-pr-999999 has 64 characters",
        );
    let short = shortened(o.of("KG001")[0]);
    assert!(
        short.len() <= 63 && short.ends_with("-pr-999999"),
        "{short}"
    );
    case("KG001-name-too-long/long-preview-namespace-fixed").clean();
}

/// Without gitops.yaml (the app from `--app`), the preview namespace finding is located at
/// `gitops.yaml:1:1`, relative to the working directory: a file that does not exist. Its
/// location must be a real file (the checked path would do).
#[test]
fn kg001_preview_namespace_finding_without_gitops_yaml_is_located_in_a_real_file() {
    // `case` checks that every finding's file exists.
    case("KG001-name-too-long/long-preview-namespace-without-gitops-yaml")
        .exit(1)
        .count("KG001", 1)
        .all_say("KG001", "the preview namespace");
}

/// Kubernetes validates the names of Roles, ClusterRoles, RoleBindings and
/// ClusterRoleBindings as path segments (`ValidateRBACName` = `IsValidPathSegmentName`:
/// anything but `.`, `..`, `/` and `%`), so `system:aggregated-metrics-reader` is valid. KG001
/// says it is "not a DNS-1123 subdomain" (kube-prometheus: 2 findings).
#[test]
fn kg001_rbac_names_may_hold_colons() {
    case("KG001-name-too-long/rbac-colon-names").clean();
}

/// Kubernetes' `IsDNS1123Subdomain` checks the length (253) and the characters, not the length
/// of each dot-separated part (`isDNS1123LabelExceptMaxLength`), so an 86-character name
/// without dots is valid. KG001 says it is "not a DNS-1123 subdomain of at most 253
/// characters" (gateway-api's conformance test of a 253-character Gateway name, too).
#[test]
fn kg001_subdomain_parts_may_exceed_63_characters() {
    case("KG001-name-too-long/subdomain-with-a-long-label").clean();
}

// KG002 -----------------------------------------------------------------------------------------

#[test]
fn kg002_two_claims_write_one_connection_secret() {
    case("KG002-shared-connection-secret/two-claims")
        .exit(1)
        .only(&["KG002"])
        // dev, prod and the preview.
        .count("KG002", 3)
        .all_say(
            "KG002",
            "PostgreSQLInstance/orders-db-replica produces collides with",
        )
        .has("KG002", "two-claims/databases.yaml:26:11", "in env prod")
        .has(
            "KG002",
            "two-claims/databases.yaml:26:11",
            "both are Secret orders-pr-999999/orders-db-pr-999999",
        );
    case("KG002-shared-connection-secret/two-claims-fixed").clean();
}

#[test]
fn kg002_secret_in_the_input_named_like_a_connection_secret() {
    case("KG002-shared-connection-secret/placeholder-secret")
        .exit(1)
        .only(&["KG002"])
        .count("KG002", 3)
        .all_say(
            "KG002",
            "that RedisInstance/orders-cache produces collides with Secret/orders-cache-conn",
        )
        .has("KG002", "placeholder-secret/cache.yaml:9:11", "in env dev");
    case("KG002-shared-connection-secret/placeholder-secret-fixed").clean();
}

// KG003 -----------------------------------------------------------------------------------------

#[test]
fn kg003_claim_and_deployment_in_hard_coded_namespaces() {
    case("KG003-connection-secret-other-namespace/hard-coded-namespaces")
        .exit(1)
        .only(&["KG003", "KG005"])
        // secretKeyRef and envFrom; the same in dev and prod, reported once.
        .count("KG003", 2)
        .count("KG005", 2)
        .has(
            "KG003",
            "hard-coded-namespaces/checkout.yaml:35:21",
            "Deployment/checkout reads Secret \"checkout-cache-conn\" in namespace checkout, but RedisInstance/checkout-cache writes it in namespace checkout-infra",
        )
        .has("KG003", "hard-coded-namespaces/checkout.yaml:39:19", "")
        .all_say("KG003", "remove the namespaces written in the files");
    case("KG003-connection-secret-other-namespace/hard-coded-namespaces-fixed").clean();
    // A namespace decided on the command line puts both in one namespace.
    case("KG003-connection-secret-other-namespace/hard-coded-namespaces-namespace-flag")
        .exit(1)
        .only(&["KG005"]);
}

/// DESIGN.md §2: "Without gitops.yaml any valid environment name is accepted", and `render
/// DIR --env dev` does accept it; `check DIR --env dev` refuses it (exit 2, `--env "dev" is
/// not an environment of gitops.yaml (it lists none)`), so a repository without gitops.yaml
/// cannot be checked for an environment at all. Rendered for dev, the files keep their
/// namespaces and the Deployment reads the Secret from the wrong one.
#[test]
fn kg003_environment_check_without_gitops_yaml() {
    case("KG003-connection-secret-other-namespace/hard-coded-namespaces-env-without-gitops-yaml")
        .exit(1)
        .count("KG003", 2)
        .only(&["KG003", "KG005"]);
}

#[test]
fn kg003_pattern_2_applicationset_splits_the_app_across_namespaces() {
    case("KG003-connection-secret-other-namespace/pattern-2")
        .exit(1)
        .only(&["KG003"])
        // env valueFrom twice and envFrom once, all reading redis-connection.
        .count("KG003", 3)
        .all_say(
            "KG003",
            "Deployment/my-microservice reads Secret \"redis-connection\" in namespace my-microservice-kubernetes (Application my-microservice-kubernetes), but RedisInstance/my-microservice-redis writes it in namespace my-microservice-infrastructure (Application my-microservice-infrastructure)",
        )
        .all_say("KG003", "a pod reads Secrets only from its own namespace")
        .all_say("KG003", "drop the namespace parameter")
        .has("KG003", "testdata/my-microservice/kubernetes/deployment.yaml:49:25", "");
    case("KG003-connection-secret-other-namespace/pattern-2-fixed").clean();
}

// KG004 -----------------------------------------------------------------------------------------

#[test]
fn kg004_the_app_wide_view_sees_the_other_half_of_the_app() {
    // kubernetes/ alone reads redis-connection, which the claim in infrastructure/ (another
    // Application of the same app) produces: not dangling.
    case("KG004-dangling-reference/app-wide-view").clean();
}

#[test]
fn kg004_ingress_tls_secret_missing() {
    case("KG004-dangling-reference/ingress-tls")
        .exit(1)
        .only(&["KG004"])
        .count("KG004", 1)
        .has(
            "KG004",
            "ingress-tls/storefront.yaml:44:17",
            "Ingress/storefront: spec.tls.secretName refers to Secret \"storefront-tls\", which is not in the input",
        )
        // Not reported: the default ServiceAccount, typed references into other namespaces
        // (HTTPRoute parent and backend, RoleBinding subject), references the input satisfies.
        .never_says("ServiceAccount \"default\"")
        .never_says("\"catalog\"")
        .never_says("\"shared-gateway\"")
        .never_says("\"prometheus-k8s\"")
        .never_says("\"storefront-metrics\"");
    // A Certificate produces the Secret.
    case("KG004-dangling-reference/ingress-tls-fixed").clean();
}

#[test]
fn kg004_secrets_that_something_in_the_input_creates() {
    // cert-manager's ingress-shim creates the TLS Secret of an annotated Ingress.
    case("KG004-dangling-reference/ingress-shim").clean();
    // gateway-shim does the same for a Gateway listener's certificateRefs.
    case("KG004-dangling-reference/gateway-shim").clean();
    // Without the annotation, nothing creates it.
    case("KG004-dangling-reference/gateway-tls")
        .exit(1)
        .only(&["KG004"])
        .count("KG004", 1)
        .has(
            "KG004",
            "gateway-tls/gateway.yaml:17:15",
            "Gateway/storefront: spec.listeners.tls.certificateRefs refers to Secret \"storefront-tls\"",
        );
    // A Job whose ServiceAccount a Role of the input lets create the Secret.
    case("KG004-dangling-reference/job-creates-secret").clean();
    // The same Job may only read Secrets: nothing creates it.
    case("KG004-dangling-reference/job-reads-secret")
        .exit(1)
        .only(&["KG004"])
        .count("KG004", 1)
        .has(
            "KG004",
            "job-reads-secret/bootstrap.yaml:61:34",
            "Deployment/api: spec.template.spec.containers.env.valueFrom.secretKeyRef.name refers to Secret \"api-token\"",
        );
    // The documented escape hatch: `kubectl-gitops.io/produces: Secret/NAME`.
    case("KG004-dangling-reference/produces-annotation").clean();
}

#[test]
fn kg004_silenced_by_the_check_ignore_annotation() {
    case("KG004-dangling-reference/ingress-tls-annotated").clean();
    // The annotation's key follows gitops.yaml's labelPrefix.
    case("KG004-dangling-reference/ingress-tls-annotated-label-prefix").clean();
    // Other codes in the annotation leave KG004 alone.
    case("KG004-dangling-reference/ingress-tls-annotated-other-codes")
        .exit(1)
        .count("KG004", 1)
        .only(&["KG004"]);
}

#[test]
fn kg004_silenced_by_the_ignore_flag() {
    case("KG004-dangling-reference/ingress-tls-ignore-flag").clean();
}

// KG005 -----------------------------------------------------------------------------------------

#[test]
fn kg005_namespace_name_and_label_written_in_the_files() {
    case("KG005-hard-coded-environment/written")
        .exit(1)
        .only(&["KG005"])
        .count("KG005", 3)
        .has(
            "KG005",
            "written/invoices.yaml:6:14",
            "ConfigMap/invoices-config: the namespace \"invoices\" is written in the file",
        )
        .has(
            "KG005",
            "written/invoices.yaml:13:9",
            "PostgreSQLInstance/invoices-db-prod: the name contains the environment name \"prod\"",
        )
        .has(
            "KG005",
            "written/invoices.yaml:26:18",
            "Deployment/invoices: the label environment: staging names an environment",
        );
    case("KG005-hard-coded-environment/written-fixed").clean();
}

#[test]
fn kg005_uses_the_environments_of_gitops_yaml() {
    case("KG005-hard-coded-environment/gitops-environment-names")
        .exit(1)
        .only(&["KG005"])
        .count("KG005", 2)
        .has("KG005", "reports.yaml:4:9", "the environment name \"qa\"")
        .has("KG005", "reports.yaml:6:12", "the label stage: live")
        .never_says("prod");
}

#[test]
fn kg005_fixed_api_names_and_domains_are_not_environments() {
    case("KG005-hard-coded-environment/fixed-api-names").clean();
}

// KG006 -----------------------------------------------------------------------------------------

#[test]
fn kg006_selector_matches_two_compositions_of_the_xrd_type() {
    case("KG006-ambiguous-composition-selector/xrd-selector")
        .exit(1)
        .only(&["KG006"])
        // dev, prod and the preview; the MySQL Composition has the labels but another type.
        .count("KG006", 3)
        .all_say(
            "KG006",
            "compositionSelector {provider: aws} matches 2 Compositions (postgres-aws-ha, postgres-aws-small)",
        )
        .has("KG006", "xrd-selector/claim.yaml:10:5", "in env dev")
        .has("KG006", "xrd-selector/claim.yaml:10:5", "in env prod")
        .has("KG006", "xrd-selector/claim.yaml:10:5", "in preview pr-999999");
    case("KG006-ambiguous-composition-selector/xrd-selector-fixed").clean();
}

#[test]
fn kg006_ambiguous_only_in_the_environment_that_adds_nothing() {
    case("KG006-ambiguous-composition-selector/per-environment")
        .exit(1)
        .only(&["KG006"])
        .count("KG006", 1)
        .has("KG006", "per-environment/claim.yaml:9:5", "in env staging");
    case("KG006-ambiguous-composition-selector/per-environment-fixed").clean();
    // --env renders that environment only; --all-environments adds the others.
    case("KG006-ambiguous-composition-selector/per-environment-env-dev").clean();
    case("KG006-ambiguous-composition-selector/per-environment-all-environments")
        .exit(1)
        .count("KG006", 1)
        .all_say("KG006", "in env staging");
}

#[test]
fn kg006_v2_composite_resource_selector() {
    case("KG006-ambiguous-composition-selector/v2-composite")
        .exit(1)
        .only(&["KG006"])
        .count("KG006", 2)
        .all_say("KG006", "Bucket/uploads: in ")
        .all_say(
            "KG006",
            "matches 2 Compositions (bucket-s3, bucket-s3-versioned)",
        );
}

/// Without an XRD in the input, KG006 counts every Composition of the claim's API group, so a
/// MySQLInstance claim "matches" a Composition for XPostgreSQLInstance and the finding says
/// Crossplane picks at random between a MySQL and a PostgreSQL Composition. The rule's doc
/// speaks of Compositions "for its composite type": two Compositions for different composite
/// types are never a choice Crossplane makes.
#[test]
fn kg006_without_xrd_compositions_of_other_types_are_not_ambiguous() {
    case("KG006-ambiguous-composition-selector/without-xrd-other-type").clean();
}

// KG007 -----------------------------------------------------------------------------------------

#[test]
fn kg007_cluster_role_and_foreign_namespace() {
    case("KG007-preview-cluster-scoped/cluster-role")
        .exit(1)
        .only(&["KG007"])
        .count("KG007", 2)
        .has(
            "KG007",
            "cluster-role/rbac.yaml:2:1",
            "Namespace/metrics-system is refused in a preview",
        )
        .has(
            "KG007",
            "cluster-role/rbac.yaml:7:1",
            "list ClusterRole.rbac.authorization.k8s.io under preview.allowClusterScoped",
        );
    case("KG007-preview-cluster-scoped/cluster-role-fixed").clean();
    // Listing Namespace does not let a preview create another namespace.
    case("KG007-preview-cluster-scoped/namespace-always-refused")
        .exit(1)
        .count("KG007", 1)
        .all_say("KG007", "Namespace/metrics-system");
}

// KG008 -----------------------------------------------------------------------------------------

#[test]
fn kg008_label_tracking_in_argocd_cm_with_a_claim() {
    case("KG008-label-tracking-with-claims/argocd-cm-label")
        .exit(1)
        .only(&["KG008"])
        .count("KG008", 1)
        .has(
            "KG008",
            "argocd-cm-label/bucket.yaml:1:1",
            "Bucket/uploads: Argo CD tracks resources by label (label, at tests/check/KG008-label-tracking-with-claims/argocd-cm-label/argocd-cm.yaml:10:39)",
        );
    // The command line overrides argocd-cm.
    case("KG008-label-tracking-with-claims/argocd-cm-label-tracking-flag-annotation").clean();
    case("KG008-label-tracking-with-claims/argocd-cm-annotation").clean();
}

#[test]
fn kg008_tracking_method_from_the_flag_and_from_argocd_files() {
    case("KG008-label-tracking-with-claims/tracking-flag-label")
        .exit(1)
        .count("KG008", 1)
        .all_say("KG008", "(label, from --tracking-method)");
    case("KG008-label-tracking-with-claims/argocd-flag-label")
        .exit(1)
        .count("KG008", 1)
        .all_say("KG008", "argocd-flag-label/argocd-cm.yaml:10:39");
}

// KG009 -----------------------------------------------------------------------------------------

#[test]
fn kg009_configmap_url_and_host_env() {
    case("KG009-service-dns-in-values/plain-dns")
        .exit(1)
        .only(&["KG009"])
        .count("KG009", 2)
        .has(
            "KG009",
            "plain-dns/shop.yaml:6:12",
            "ConfigMap/shop-frontend: data.API_URL reaches Service web by its DNS name (\"http://web:8080\")",
        )
        .has(
            "KG009",
            "plain-dns/shop.yaml:50:18",
            "Deployment/web: env REDIS_HOST reaches Service redis",
        )
        .all_say("KG009", "set preview.rename: claims")
        .never_says("CACHE_MODE")
        .never_says("SUPPORT_URL");
    case("KG009-service-dns-in-values/plain-dns-fixed").clean();
}

/// `redis:7.2` and `ghcr.io/example/redis:7.2.4` are image references: `7.2` is no port, and
/// a name after `/` is a path segment, not a host. KG009 reports both as reaching Service
/// redis.
#[test]
fn kg009_image_references_are_not_dns_names() {
    case("KG009-service-dns-in-values/image-reference").clean();
}

/// The doc says "the bare name in a `*_HOST`/`*_URL`/`*_ADDR`-like key"; the code matches keys
/// that merely contain HOST, URL, SERVICE, ..., so `OTEL_SERVICE_NAME: web` (a telemetry
/// label) is reported. Seen in the corpus too: gateway-api's echo backends set
/// `SERVICE_NAME: <their own Service>` (21 findings).
#[test]
fn kg009_service_name_keys_are_not_hosts() {
    case("KG009-service-dns-in-values/telemetry-service-name").clean();
}

/// KG009 rebuilds the text before every token of a value (`reached_service` collects
/// `bytes[..start]` for each token), so its time grows with the square of a value's length:
/// in a debug build a 100 kB ConfigMap value next to a Service takes ~13 s, 200 kB ~51 s and
/// 400 kB ~205 s (Grafana dashboards in ConfigMaps are that size; the kube-prometheus corpus
/// repository spends 12 of its 13 s in this rule). Linear time would be well under a second.
#[test]
fn kg009_time_is_linear_in_the_length_of_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let value = "\"expr\": \"sum(rate(x[5m]))\", ".repeat(200_000 / 28);
    let doc = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: grafana\nspec:\n  ports:\n  - port: 3000\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dashboards\ndata:\n  big.json: '{value}'\n"
    );
    fs::write(dir.path().join("dashboards.yaml"), doc).unwrap();
    let path = dir.path().display().to_string();
    let r = check_harness::run_with_limit(
        &["check", path.as_str(), "--app", "grafana"],
        Duration::from_secs(60),
    );
    assert!(!r.timed_out, "check timed out");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.elapsed < Duration::from_secs(5),
        "check of a 200 kB value took {:?}",
        r.elapsed
    );
}

// KG010 -----------------------------------------------------------------------------------------

#[test]
fn kg010_two_roles_collapse_into_one_namespace() {
    case("KG010-collision/roles")
        .exit(1)
        .only(&["KG010", "KG005"])
        .count("KG010", 3)
        .count("KG005", 2)
        .has(
            "KG010",
            "roles/roles.yaml:13:1",
            "in env dev: Role/prometheus-k8s collides with Role/prometheus-k8s at tests/check/KG010-collision/roles/roles.yaml:3:1: both end up as Role.rbac.authorization.k8s.io monitoring-dev/prometheus-k8s",
        )
        .has("KG010", "roles/roles.yaml:13:1", "in env prod")
        .has("KG010", "roles/roles.yaml:13:1", "in preview pr-999999");
    case("KG010-collision/roles-fixed").clean();
}

#[test]
fn kg010_a_name_that_the_preview_suffix_produces() {
    case("KG010-collision/preview-suffix")
        .exit(1)
        .only(&["KG010"])
        .count("KG010", 1)
        .has(
            "KG010",
            "preview-suffix/services.yaml:13:1",
            "in preview pr-7: Service/web-pr-7 collides with Service/web",
        );
    case("KG010-collision/preview-suffix-fixed").clean();
}

// KG011 -----------------------------------------------------------------------------------------

#[test]
fn kg011_git_generator_picks_up_the_source_code_folder() {
    case("KG011-application-fails/source-folder-picked-up")
        .exit(1)
        .only(&["KG011"])
        .count("KG011", 1)
        .has(
            "KG011",
            "source-folder-picked-up/applicationset.yaml:4:1",
            "Application my-microservice-app (testdata/my-microservice/app) fails in Argo CD: testdata/my-microservice/app holds no Kubernetes objects, and generate refuses to print an empty set",
        )
        .all_say("KG011", "{path: testdata/my-microservice/app, exclude: true}");
    // The shipped example excludes it.
    case("KG011-application-fails/source-folder-picked-up-fixed").clean();
}

#[test]
fn kg011_matrix_of_pull_requests_and_directories() {
    // One Application per directory and pull request (numbered --max-pr).
    case("KG011-application-fails/matrix-pull-requests")
        .exit(1)
        .only(&["KG011"])
        .count("KG011", 1)
        .all_say(
            "KG011",
            "Application my-microservice-app-pr-999999 (testdata/my-microservice/app)",
        );
    // The shipped example: both halves of each preview agree on every name (app-wide
    // renames), so nothing is read across namespaces or left dangling.
    case("KG011-application-fails/matrix-pull-requests-fixed").clean();
}

#[test]
fn kg011_the_seeds_directory_sources_split_the_app_and_deploy_source_code() {
    // Plain directory sources, as Argo CD applies them: the destination namespace per folder.
    case("KG011-application-fails/seed-directory-sources")
        .exit(1)
        .only(&["KG003", "KG011"])
        .count("KG003", 3)
        .all_say(
            "KG003",
            "Deployment/my-microservice reads Secret \"redis-connection\" in namespace kubernetes (Application kubernetes), but RedisInstance/my-microservice-redis writes it in namespace infrastructure (Application infrastructure)",
        )
        .all_say("KG003", "give every Application of the app the same destination namespace")
        .never_says("drop the namespace parameter")
        .count("KG011", 1)
        .has(
            "KG011",
            "seed-directory-sources/applicationset.yaml:6:1",
            "Application app (testdata/my-microservice/app) fails in Argo CD: Argo CD reads every *.yaml, *.yml and *.json file of a directory source as a manifest, and testdata/my-microservice/app/package.json:1:1 is not one",
        );
    case("KG011-application-fails/seed-directory-sources-fixed").clean();
}

#[test]
fn kg011_a_directory_of_argocd_files_skips_what_is_not_argo_cd() {
    // examples/ also holds GitHub Actions workflows (YAML that is no Kubernetes object), and an
    // ApplicationSet of the infra-pr repository: skipped, the latter said.
    let o = case("KG011-application-fails/argocd-directory-with-other-files");
    o.clean();
    assert_eq!(
        o.run.stderr,
        "examples/github-actions/applicationset-infra-pr.yaml: warning: no Application here deploys testdata/my-microservice (what it generates has no source path in this repository)\n",
        "{}",
        o.context()
    );
}

#[test]
fn kg011_an_argocd_file_that_deploys_nothing_under_the_path_is_said() {
    let o = case("KG011-application-fails/deploys-nothing-under-path");
    o.clean();
    assert_eq!(
        o.run.stderr,
        "examples/applications/my-microservice-dev.yaml: warning: no Application here deploys testdata/infra-dev (they deploy testdata/my-microservice)\n",
        "{}",
        o.context()
    );
}

// KG012 -----------------------------------------------------------------------------------------

#[test]
fn kg012_an_old_name_left_where_a_reference_sits() {
    case("KG012-unfollowed-reference/widget-backend")
        .exit(1)
        .only(&["KG012"])
        .count("KG012", 1)
        .has(
            "KG012",
            "widget-backend/widgets.yaml:17:11",
            "Widget/frontpage: spec.backendRef.name is \"web\", the old name of Service/web, which this render renames to \"web-pr-999999\"",
        )
        // The finding carries the entry that fixes it.
        .all_say(
            "KG012",
            "references: [{kind: Widget, group: example.com, path: spec.backendRef.name, target: Service}]",
        );
    // With that entry in gitops.yaml, the preview follows the field.
    case("KG012-unfollowed-reference/widget-backend-fixed").clean();
}

// Flags -----------------------------------------------------------------------------------------

#[test]
fn rules_lists_every_code_in_order() {
    let o = case("flags/rules");
    o.exit(0);
    let codes: Vec<&str> = o
        .run
        .stdout
        .lines()
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    let want: Vec<String> = (1..=12).map(|n| format!("KG{n:03}")).collect();
    assert_eq!(codes, want, "{}", o.context());
    // Every code has a fixture directory named `<CODE>-<name>` after its rule name.
    for line in o.run.stdout.lines() {
        let mut words = line.split_whitespace();
        let (code, name) = (words.next().unwrap(), words.next().unwrap());
        let dir = root().join(CASES_DIR).join(format!("{code}-{name}"));
        assert!(dir.is_dir(), "no fixture directory {}", dir.display());
    }
}

#[test]
fn bad_flags_exit_2_with_nothing_on_stdout() {
    case("flags/ignore-unknown-code").refused("--ignore \"KG999\": no such rule");
    case("flags/ignore-lowercase-code").refused("--ignore \"kg004\": no such rule");
    case("flags/tracking-method-unknown")
        .refused("--tracking-method \"labels\": use label, annotation or annotation+label");
    case("flags/stdin-path").refused("not standard input");
    case("flags/max-pr-not-a-number").refused("'1e6'");
    case("flags/env-not-in-gitops-yaml").refused("--env \"production\" is not an environment");
}

#[test]
fn unreadable_input_exits_2_with_nothing_on_stdout() {
    case("flags/missing-path").refused("tests/check/flags/missing-path/manifests: ");
    // Not a Kubernetes object: located at the document.
    case("flags/not-a-manifest").refused("tests/check/flags/not-a-manifest/values.yaml:3:1: ");

    let dir = tempfile::tempdir().unwrap();
    let expect_2 = |path: &Path, what: &str| {
        let p = path.display().to_string();
        let r = check_harness::run(&["check", p.as_str()]);
        assert_eq!(r.code, Some(2), "{what}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{what}: {}", r.stdout);
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(first.starts_with(&p), "{what}: {first}");
    };
    // A dangling symlink.
    let broken = dir.path().join("broken");
    fs::create_dir(&broken).unwrap();
    std::os::unix::fs::symlink(dir.path().join("nowhere.yaml"), broken.join("app.yaml")).unwrap();
    expect_2(&broken, "dangling symlink");
    // Bytes that are not UTF-8.
    let binary = dir.path().join("binary");
    fs::create_dir(&binary).unwrap();
    fs::write(
        binary.join("app.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"\xff\xfe\"\n",
    )
    .unwrap();
    expect_2(&binary, "not UTF-8");
    // A file without read permission (meaningless as root, who reads it anyway).
    use std::os::unix::fs::PermissionsExt;
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    let file = locked.join("app.yaml");
    fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(&file).is_err() {
        expect_2(&locked, "no read permission");
    } else {
        eprintln!("unreadable_input: running as root, the permission case is not tested");
    }
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
}

/// Issue 4: "everything a render would refuse (a collision, produced Secrets included; ...; a
/// cluster-scoped object in a preview) is a finding here, not an abort". The render of each
/// input refuses at a location that `check` reports as a finding, with exit 1; the fixed
/// variant renders.
#[test]
fn what_render_refuses_is_a_finding_not_an_abort() {
    for (dir, identity, code) in [
        (
            "KG002-shared-connection-secret/two-claims",
            "--env=dev",
            "KG002",
        ),
        (
            "KG002-shared-connection-secret/placeholder-secret",
            "--env=prod",
            "KG002",
        ),
        (
            "KG007-preview-cluster-scoped/cluster-role",
            "--pr=12",
            "KG007",
        ),
        ("KG010-collision/roles", "--env=dev", "KG010"),
        ("KG010-collision/preview-suffix", "--pr=7", "KG010"),
    ] {
        let path = format!("{CASES_DIR}/{dir}");
        let r = check_harness::run(&["render", path.as_str(), identity]);
        assert_eq!(r.code, Some(2), "render {path} {identity}: {}", r.stderr);
        assert!(
            r.stdout.is_empty(),
            "render {path} {identity} printed output"
        );
        let first = r.stderr.lines().next().unwrap_or("");
        assert!(check_harness::is_located(first), "{first}");
        let at: String = first.splitn(4, ':').take(3).collect::<Vec<_>>().join(":");
        let o = case(dir);
        o.exit(1);
        assert!(
            o.of(code).iter().any(|f| f.at() == at),
            "render refuses at {at}; check has no {code} there\n{}",
            o.context()
        );
        let fixed = format!("{path}-fixed");
        let r = check_harness::run(&["render", fixed.as_str(), identity]);
        assert_eq!(r.code, Some(0), "render {fixed} {identity}: {}", r.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// Corpus: check runs everywhere.
// ---------------------------------------------------------------------------------------------

/// Generous: the largest repository takes ~13 s in a debug build.
const CORPUS_LIMIT: Duration = Duration::from_secs(300);

/// Whether a corpus file has an object whose apiVersion is a Crossplane one.
fn is_crossplane_file(path: &Path) -> bool {
    let Ok(text) = fs::read_to_string(path) else {
        return false;
    };
    text.lines().any(|l| {
        let t = l.trim_start().trim_start_matches("- ").trim_start();
        (t.starts_with("apiVersion:") || t.starts_with("\"apiVersion\":"))
            && t.contains("crossplane.io")
    })
}

/// One `check` run over a corpus path.
struct Checked {
    /// The repository directory's name.
    repo: String,
    path: PathBuf,
    whole_repo: bool,
    code: Option<i32>,
    counts: BTreeMap<String, usize>,
    problems: Vec<String>,
    elapsed: Duration,
}

fn check_corpus_path(repo: &str, path: &Path, whole_repo: bool) -> Checked {
    let p = path.display().to_string();
    let args = ["check", p.as_str(), "--app", "corpus"];
    let r = check_harness::run_with_limit(&args, CORPUS_LIMIT);
    let mut problems = Vec::new();
    let mut counts = BTreeMap::new();
    if r.timed_out {
        problems.push(format!("timed out after {:?}", r.elapsed));
    }
    if !matches!(r.code, Some(0 | 1)) {
        let first = r.stderr.lines().next().unwrap_or("");
        problems.push(format!("exit {:?}: {first}", r.code));
    }
    if (r.code == Some(1)) == r.stdout.is_empty() {
        problems.push(format!(
            "exit {:?} with {} lines on stdout",
            r.code,
            r.stdout.lines().count()
        ));
    }
    for line in r.stdout.lines() {
        // `^<path>:\d+:\d+: KG0\d\d `, the path being in what was checked.
        let ok = check_harness::parse_finding(line).filter(|f| {
            if whole_repo {
                f.path.starts_with(&format!("{p}/"))
            } else {
                f.path == p
            }
        });
        match ok {
            Some(f) => *counts.entry(f.code).or_insert(0) += 1,
            None => problems.push(format!("malformed or misplaced finding: {line:.300}")),
        }
    }
    Checked {
        repo: repo.to_string(),
        path: path.to_path_buf(),
        whole_repo,
        code: r.code,
        counts,
        problems,
        elapsed: r.elapsed,
    }
}

fn codes() -> Vec<String> {
    (1..=10).map(|n| format!("KG{n:03}")).collect()
}

fn table_row(label: &str, extra: &str, counts: &BTreeMap<String, usize>) -> String {
    let mut row = format!("{label:<50} {extra:>5}");
    let mut total = 0;
    for c in codes() {
        let n = counts.get(&c).copied().unwrap_or(0);
        total += n;
        row.push_str(&format!(" {n:>5}"));
    }
    row.push_str(&format!(" {total:>6}"));
    row
}

#[test]
fn corpus_check_runs_over_every_repository_and_crossplane_file() {
    let Some(corpus) = check_harness::corpus_root("corpus_check_runs_over_every_repository") else {
        return;
    };
    let started = Instant::now();
    let mut repos: Vec<PathBuf> = fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    repos.sort();
    assert!(!repos.is_empty(), "no repository in {}", corpus.display());
    let mut items: Vec<(String, PathBuf, bool)> = Vec::new();
    for repo in &repos {
        let name = repo.file_name().unwrap().to_string_lossy().into_owned();
        items.push((name.clone(), repo.clone(), true));
        for f in check_harness::manifest_files(repo) {
            if is_crossplane_file(&f) {
                items.push((name.clone(), f, false));
            }
        }
    }
    // The whole repositories first: they are the longest jobs.
    items.sort_by_key(|(_, _, whole)| !*whole);
    let results = check_harness::par_map(&items, |(repo, path, whole)| {
        check_corpus_path(repo, path, *whole)
    });

    let header = |first: &str, extra: &str| {
        let mut h = format!("{first:<50} {extra:>5}");
        for c in codes() {
            h.push_str(&format!(" {c:>5}"));
        }
        h.push_str(&format!(" {:>6}", "total"));
        h
    };
    eprintln!(
        "\nfindings per code, each repository checked as one directory:\n{}",
        header("check REPO --app corpus", "exit")
    );
    let mut all = BTreeMap::new();
    for r in results.iter().filter(|r| r.whole_repo) {
        let exit = r.code.map_or("-".to_string(), |c| c.to_string());
        eprintln!("{}", table_row(&r.repo, &exit, &r.counts));
        for (c, n) in &r.counts {
            *all.entry(c.clone()).or_insert(0) += n;
        }
    }
    eprintln!("{}", table_row("all repositories", "", &all));
    // repository -> (files, files with findings, findings per code)
    let mut per_repo: BTreeMap<&str, (usize, usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for r in results.iter().filter(|r| !r.whole_repo) {
        let e = per_repo.entry(r.repo.as_str()).or_default();
        e.0 += 1;
        e.1 += usize::from(r.code == Some(1));
        for (c, n) in &r.counts {
            *e.2.entry(c.clone()).or_insert(0) += n;
        }
    }
    let files: usize = per_repo.values().map(|(n, _, _)| n).sum();
    eprintln!(
        "\nfindings per code, each Crossplane file checked alone ({files} files):\n{}",
        header("check FILE --app corpus (files)", "exit1")
    );
    for (repo, (n, with_findings, counts)) in &per_repo {
        let row = table_row(&format!("{repo} ({n})"), &with_findings.to_string(), counts);
        eprintln!("{row}");
    }
    let slowest = results.iter().max_by_key(|r| r.elapsed).unwrap();
    eprintln!(
        "\n{} check runs in {:?}; slowest {:?} ({})",
        results.len(),
        started.elapsed(),
        slowest.elapsed,
        slowest.path.display()
    );

    let problems: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(move |p| format!("{}: {p}", r.path.display()))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(files > 0, "no Crossplane file in {}", corpus.display());
}

// ---------------------------------------------------------------------------------------------
// Corpus: every claim and XR of the Crossplane material renders in a preview.
// ---------------------------------------------------------------------------------------------

/// The Crossplane material: directories below the corpus root.
const CROSSPLANE_MATERIAL: &[&str] = &[
    "upbound__platform-ref-aws",
    "crossplane__crossplane/test/e2e/manifests",
    "crossplane-contrib__provider-kubernetes/examples",
];

const PR: &str = "7";
const SUFFIX: &str = "-pr-7";
const PREVIEW_NS: &str = "corpus-pr-7";

/// A corpus file read through the pass-through render.
struct Parsed {
    file: PathBuf,
    material: PathBuf,
    objects: Vec<Value>,
}

/// `render FILE -o jsonl` without identity: the file's objects as Kubernetes reads them.
fn parse(material: &Path, file: &Path) -> Result<Parsed, String> {
    let p = file.display().to_string();
    let r = check_harness::run_with_limit(&["render", p.as_str(), "-o", "jsonl"], CORPUS_LIMIT);
    if r.code != Some(0) {
        return Err(format!(
            "{p}: pass-through render failed (exit {:?}): {}",
            r.code,
            r.stderr.lines().next().unwrap_or("")
        ));
    }
    Ok(Parsed {
        file: file.to_path_buf(),
        material: material.to_path_buf(),
        objects: check_crossplane::objects(&r.stdout).map_err(|e| format!("{p}: {e}"))?,
    })
}

/// What rendering one input in a preview showed.
#[derive(Default)]
struct Rendered {
    /// Claims and XRs whose name and scope were checked, by role.
    checked: BTreeMap<&'static str, usize>,
    /// Cluster-scoped XRs (by their XRD) that, rendered without their XRD, were taken for
    /// namespaced objects: nothing in the file says otherwise.
    scope_unknowable: Vec<String>,
    /// The first stderr line of a refusal.
    refused: Option<String>,
    problems: Vec<String>,
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Claim => "claims",
        Role::Composite { cluster: false } => "namespaced XRs",
        Role::Composite { cluster: true } => "cluster-scoped XRs",
        Role::Managed => "managed resources",
    }
}

/// Renders `path --pr 7 --app corpus -o jsonl` and checks it against `input` (the objects of
/// the rendered files in walk order) and `candidates` (indices into `input`). `with_xrds` says
/// whether the XRDs of the candidates are part of the input, so their scope is knowable.
fn render_preview(
    path: &Path,
    input: &[Value],
    candidates: &[Candidate],
    with_xrds: bool,
) -> Rendered {
    let mut out = Rendered::default();
    let p = path.display().to_string();
    let r = check_harness::run_with_limit(
        &[
            "render",
            p.as_str(),
            "--pr",
            PR,
            "--app",
            "corpus",
            "-o",
            "jsonl",
        ],
        CORPUS_LIMIT,
    );
    if r.code != Some(0) {
        let first = r.stderr.lines().next().unwrap_or("").to_string();
        if r.code != Some(2) {
            out.problems
                .push(format!("{p}: exit {:?}: {first}", r.code));
        }
        if !r.stdout.is_empty() {
            out.problems
                .push(format!("{p}: refused, but printed on stdout"));
        }
        if !(check_harness::is_located(&first) && first.starts_with(&p)) {
            out.problems.push(format!(
                "{p}: refusal without a location in the input: {first}"
            ));
        }
        out.refused = Some(first);
        return out;
    }
    let rendered = match check_crossplane::objects(&r.stdout) {
        Ok(o) => o,
        Err(e) => {
            out.problems.push(format!("{p}: {e}"));
            return out;
        }
    };
    // The preview Namespace comes first; then the input, in order.
    let skip = usize::from(
        rendered.len() == input.len() + 1
            && rendered[0]["kind"] == "Namespace"
            && rendered[0]["metadata"]["name"] == PREVIEW_NS,
    );
    let rendered = &rendered[skip..];
    if rendered.len() != input.len()
        || rendered
            .iter()
            .zip(input)
            .any(|(a, b)| a["kind"] != b["kind"] || a["apiVersion"] != b["apiVersion"])
    {
        out.problems.push(format!(
            "{p}: the output's objects do not follow the input's ({} in, {} out)",
            input.len(),
            rendered.len()
        ));
        return out;
    }
    for c in candidates {
        let o = &rendered[c.index];
        let ns = check_crossplane::str_at(o, &["metadata", "namespace"]);
        let what = format!("{p}: {}", c.label());
        if c.role == Role::Managed {
            continue;
        }
        let cluster = c.role == (Role::Composite { cluster: true });
        if cluster && !with_xrds && ns.is_some() {
            out.scope_unknowable.push(what);
            continue;
        }
        let mut ok = true;
        if cluster {
            if ns.is_some() {
                out.problems.push(format!(
                    "{what}: cluster-scoped, rendered with namespace {ns:?}"
                ));
                ok = false;
            }
            let secret_ns =
                check_crossplane::str_at(o, &["spec", "writeConnectionSecretToRef", "namespace"]);
            if secret_ns.is_some_and(|n| n != PREVIEW_NS) {
                out.problems.push(format!(
                    "{what}: its connection Secret goes to namespace {secret_ns:?}, not {PREVIEW_NS}"
                ));
                ok = false;
            }
        } else if ns != Some(PREVIEW_NS) {
            out.problems.push(format!(
                "{what}: rendered with namespace {ns:?}, want {PREVIEW_NS}"
            ));
            ok = false;
        }
        if let Some(problem) = name_problem(c, o) {
            out.problems.push(format!("{what}: {problem}"));
            ok = false;
        }
        if ok {
            *out.checked.entry(role_name(c.role)).or_insert(0) += 1;
        }
    }
    for o in rendered {
        let group = check_crossplane::group_of(o["apiVersion"].as_str().unwrap_or(""));
        let kind = o["kind"].as_str().unwrap_or("");
        let name = check_crossplane::str_at(o, &["metadata", "name"]).unwrap_or("");
        if group == "apiextensions.crossplane.io"
            && matches!(kind, "Composition" | "CompositeResourceDefinition")
        {
            if o["metadata"].get("namespace").is_some() {
                out.problems.push(format!(
                    "{p}: {kind}/{name} is cluster-scoped but got a namespace"
                ));
            }
            if name.ends_with(SUFFIX) {
                out.problems.push(format!(
                    "{p}: {kind}/{name} is a shared definition but was renamed"
                ));
            }
        }
        for secret in check_crossplane::connection_secret_names(o) {
            if !secret.ends_with(SUFFIX) {
                out.problems.push(format!(
                    "{p}: {kind}/{name} writes connection Secret {secret:?}, without the preview suffix"
                ));
            }
        }
    }
    out
}

/// What is wrong with a claim's or XR's name in a preview, if anything.
fn name_problem(c: &Candidate, rendered: &Value) -> Option<String> {
    if let Some(orig) = &c.name {
        let got = check_crossplane::str_at(rendered, &["metadata", "name"]).unwrap_or("");
        let want = format!("{orig}{SUFFIX}");
        let fits = want.len() <= 63;
        let ok = if orig.ends_with(SUFFIX) {
            got == orig
        } else if fits {
            got == want
        } else {
            got.ends_with(SUFFIX) && got.len() <= 63
        };
        return (!ok).then(|| format!("named {got:?} in the preview, want {want:?}"));
    }
    if let Some(gen_name) = &c.generate_name {
        let got = check_crossplane::str_at(rendered, &["metadata", "generateName"]).unwrap_or("");
        let want = format!("{}{SUFFIX}-", gen_name.trim_end_matches('-'));
        return (got != want)
            .then(|| format!("generateName {got:?} in the preview, want {want:?}"));
    }
    Some("has neither name nor generateName".into())
}

/// Renders `file` together with the XRDs that define its candidates (as JSON files, a format
/// the loader reads), with a gitops.yaml that allows the definitions and the cluster-scoped
/// XR kinds in a preview.
fn render_with_xrds(parsed: &Parsed, candidates: &[Candidate], xrds: &[Xrd]) -> Rendered {
    let dir = tempfile::tempdir().unwrap();
    let name = parsed
        .file
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    fs::copy(&parsed.file, dir.path().join(format!("a-{name}"))).unwrap();
    let mut input = parsed.objects.clone();
    let mut used: Vec<usize> = candidates.iter().filter_map(|c| c.xrd).collect();
    used.sort_unstable();
    used.dedup();
    for (n, i) in used.iter().enumerate() {
        if xrds[*i].file == parsed.file {
            continue; // already in the input
        }
        let text = serde_json::to_string_pretty(&xrds[*i].doc).unwrap();
        fs::write(dir.path().join(format!("b-xrd-{n:03}.json")), text).unwrap();
        input.push(xrds[*i].doc.clone());
    }
    let mut allow = vec![
        "CompositeResourceDefinition.apiextensions.crossplane.io".to_string(),
        "Composition.apiextensions.crossplane.io".to_string(),
    ];
    for c in candidates {
        if c.role == (Role::Composite { cluster: true }) {
            let k = format!("{}.{}", c.kind, c.group);
            if !allow.contains(&k) {
                allow.push(k);
            }
        }
    }
    let mut gitops = String::from("preview:\n  allowClusterScoped:\n");
    for k in &allow {
        gitops.push_str(&format!("  - {k}\n"));
    }
    fs::write(dir.path().join("gitops.yaml"), gitops).unwrap();
    render_preview(dir.path(), &input, candidates, true)
}

#[test]
fn corpus_crossplane_claims_and_xrs_render_in_a_preview() {
    let Some(corpus) = check_harness::corpus_root("corpus_crossplane_claims_and_xrs") else {
        return;
    };
    let started = Instant::now();
    let mut jobs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for m in CROSSPLANE_MATERIAL {
        let material = corpus.join(m);
        if !material.is_dir() {
            eprintln!(
                "corpus_crossplane: {} is not in this corpus",
                material.display()
            );
            continue;
        }
        for f in check_harness::manifest_files(&material) {
            jobs.push((material.clone(), f));
        }
    }
    if jobs.is_empty() {
        check_harness::skip(format!(
            "corpus_crossplane: SKIPPED: none of {CROSSPLANE_MATERIAL:?} is in {}",
            corpus.display()
        ));
        return;
    }
    let parsed = check_harness::par_map(&jobs, |(m, f)| parse(m, f));
    let mut problems: Vec<String> = parsed
        .iter()
        .filter_map(|p| p.as_ref().err().cloned())
        .collect();
    let parsed: Vec<Parsed> = parsed.into_iter().filter_map(Result::ok).collect();
    let xrds: Vec<Xrd> = parsed
        .iter()
        .flat_map(|p| check_crossplane::xrds_of(&p.file, &p.objects))
        .collect();
    let with_candidates: Vec<(&Parsed, Vec<Candidate>)> = parsed
        .iter()
        .map(|p| {
            (
                p,
                check_crossplane::candidates(&p.file, &p.material, &p.objects, &xrds),
            )
        })
        .filter(|(_, c)| !c.is_empty())
        .collect();

    // Each file alone, as the brief of issue 4 puts it; then with its XRDs.
    let alone = check_harness::par_map(&with_candidates, |(p, c)| {
        render_preview(&p.file, &p.objects, c, false)
    });
    let with_xrd_jobs: Vec<&(&Parsed, Vec<Candidate>)> = with_candidates
        .iter()
        .filter(|(_, c)| c.iter().any(|c| c.xrd.is_some()))
        .collect();
    let together = check_harness::par_map(&with_xrd_jobs, |(p, c)| render_with_xrds(p, c, &xrds));

    let summarize = |label: &str, results: &[Rendered]| {
        let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
        let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
        for r in results {
            for (k, n) in &r.checked {
                *checked.entry(k).or_insert(0) += n;
            }
            if let Some(first) = &r.refused {
                // "path:l:c: Kind/name is cluster-scoped, ..." -> "Kind is cluster-scoped"
                let msg = first.splitn(4, ':').nth(3).unwrap_or("").trim();
                let kind = msg.split('/').next().unwrap_or("");
                let why = msg
                    .split_once(' ')
                    .map_or("", |(_, rest)| rest)
                    .split([',', ':', ';'])
                    .next()
                    .unwrap_or("");
                *refusals.entry(format!("{kind}: {why}")).or_insert(0) += 1;
            }
        }
        let rendered = results.iter().filter(|r| r.refused.is_none()).count();
        eprintln!(
            "\n{label}: {} renders, {rendered} rendered, {} refused with a location",
            results.len(),
            results.len() - rendered
        );
        for (k, n) in &checked {
            eprintln!("  checked {n:>3} {k}");
        }
        for (k, n) in &refusals {
            eprintln!("  refused {n:>3}x: {k}");
        }
        checked.values().sum::<usize>()
    };
    let candidates: usize = with_candidates.iter().map(|(_, c)| c.len()).sum();
    eprintln!(
        "\nCrossplane material: {} files, {} XRDs, {candidates} claims/XRs/connection-writing managed resources in {} files",
        parsed.len(),
        xrds.len(),
        with_candidates.len()
    );
    let n_alone = summarize("each file alone (render FILE --pr 7 --app corpus)", &alone);
    let unknowable: Vec<&String> = alone.iter().flat_map(|r| &r.scope_unknowable).collect();
    if !unknowable.is_empty() {
        eprintln!(
            "  {} cluster-scoped XRs rendered as namespaced objects: without their XRD nothing in the file says their scope (checked with the XRD below):",
            unknowable.len()
        );
        for u in &unknowable {
            eprintln!("    {u}");
        }
    }
    let n_together = summarize("each file with the XRDs that define its kinds", &together);
    eprintln!(
        "\nclaims/XRs checked: {n_alone} alone, {n_together} with their XRDs, in {:?}",
        started.elapsed()
    );

    for r in alone.iter().chain(&together) {
        problems.extend(r.problems.iter().cloned());
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert!(n_alone + n_together > 0, "no claim or XR was checked");
}
